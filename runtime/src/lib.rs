//! Baton: a service-orchestration runtime.
//!
//! This release holds the foundation: the [`wasm`] executor that runs one
//! plugin step, an untrusted WebAssembly component of the `baton:plugin`
//! world, safely and fast.

pub mod wasm;
