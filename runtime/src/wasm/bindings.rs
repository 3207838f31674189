//! The one place that runs `bindgen!` over `wit/plugin.wit`.
//!
//! Only the generated items the rest of the executor needs are re-exported;
//! everything WASI comes from `wasmtime-wasi` and `wasmtime-wasi-http` so that
//! their host implementations line up with our world. Host imports are
//! `trappable` (a host-side failure becomes a deliberate trap, never a panic)
//! and async, so capabilities that touch the database or the network later
//! need no change of signature.

mod generated {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "step",
        imports: {
            // Log lines, secret values, key-value data and event data may
            // carry what the host operator must not see, so calls into the
            // host are not traced.
            default: async | trappable,
        },
        exports: { default: async },
        with: {
            "wasi:io": wasmtime_wasi::p2::bindings::io,
            "wasi:cli": wasmtime_wasi::p2::bindings::cli,
            "wasi:clocks": wasmtime_wasi::p2::bindings::clocks,
            "wasi:random": wasmtime_wasi::p2::bindings::random,
            "wasi:filesystem": wasmtime_wasi::p2::bindings::filesystem,
            "wasi:sockets": wasmtime_wasi::p2::bindings::sockets,
            "wasi:http": wasmtime_wasi_http::p2::bindings::http,
        },
    });
}

pub(crate) use generated::StepPre;
pub(crate) use generated::baton::plugin::{events, kv, log, secrets, types};
