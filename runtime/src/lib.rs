//! Baton: a service-orchestration runtime whose workflow steps are sandboxed
//! WebAssembly components.
//!
//! This release holds the foundation, the [`wasm`] executor: it loads plugin
//! components of the `baton:plugin` world (see `wit/plugin.wit`) and runs one
//! step invocation at a time, safely and fast. The durable workflow engine,
//! the HTTP API and the event pipeline are built on it.
//!
//! # Running a plugin
//!
//! ```no_run
//! use baton::wasm::{Executor, ExecutorConfig, Invocation};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! // Artifacts are cached under the first path; untrusted components are
//! // compiled by re-invoking the `baton` binary named by the second.
//! let executor = Executor::new(ExecutorConfig::new("/var/cache/baton", "/usr/bin/baton"))?;
//!
//! // Check, compile (once, in a sandboxed child process), link, describe.
//! let plugin = executor.load(&std::fs::read("echo.wasm")?).await?;
//! println!("loaded {} {}", plugin.info().name, plugin.info().version);
//!
//! // One attempt of one step: a fresh sandbox, the default limits.
//! let invocation = Invocation {
//!     run_id: "run-1".into(),
//!     step_id: "diagnose".into(),
//!     attempt: 1,
//!     idempotency_key: "run-1/diagnose".into(),
//! };
//! let report = executor.invoke(&plugin, &invocation, r#"{"host":"db-1"}"#).await;
//! match report.outcome {
//!     Ok(output) => println!("output: {output}"),
//!     // Classified: timeout, cpu-budget-exceeded, memory-limit-exceeded,
//!     // stack-overflow, trap, invalid-output, or the plugin's own
//!     // invalid-input / permanent / retryable.
//!     Err(failure) => println!("{} (retryable: {})", failure, failure.kind().is_retryable()),
//! }
//! for line in &report.logs {
//!     println!("[{}] {}", line.level.as_str(), line.message);
//! }
//! # Ok(())
//! # }
//! ```

pub mod client;
pub mod engine;
pub mod events;
pub mod grants;
pub mod resources;
pub mod secrets;
pub mod server;
pub mod store;
pub mod wasm;
pub mod workflow;
