//! The sandboxed WebAssembly step executor.
//!
//! It owns everything wasmtime: the process-wide [`Engine`](wasmtime::Engine),
//! the linker with the host side of the `baton:plugin` world, the compiled
//! artifact cache, and the limits of one invocation. It knows nothing of
//! workflows, runs or storage: callers hand it component bytes and JSON input
//! and get back JSON output or a classified [`StepFailure`].

mod access;
mod artifact;
mod bindings;
mod compile;
mod config;
pub mod egress;
mod engine;
mod epoch;
mod error;
mod executor;
mod host;
mod info;
mod invoke;
mod logbook;
mod state;
mod stdio;

pub use access::{Access, CapabilityProvider, Emitted, KvReply, KvRequest, Refusal};
pub use artifact::digest;
pub use compile::{COMPILE_SUBCOMMAND, CompileRequest, run_compile_child};
pub use config::*;
pub use egress::{EgressLimits, EgressPolicy, EgressRule, TlsTrust, TrustError};
pub use error::{ExecutorError, FailureKind, LoadError, StepFailure};
pub use executor::{Executor, Plugin};
pub use info::*;
pub use invoke::{Invocation, InvocationReport, LogLevel, LogLine, LogSource};
