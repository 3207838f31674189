//! Shared helpers of the executor tests: an executor on a fresh cache
//! directory that compiles with the real `baton` binary, and the guest
//! components built from source by `baton-test-programs`.

#![allow(dead_code, reason = "each test binary uses a different subset")]

use std::time::Duration;

use baton::wasm::{
    Executor, ExecutorConfig, Invocation, InvocationLimits, InvocationReport, Plugin,
};
use std::sync::Arc;

/// The `baton` binary cargo built for these tests.
pub const BATON: &str = env!("CARGO_BIN_EXE_baton");

/// Tight limits so that hostile cases end quickly.
pub fn tight_limits() -> InvocationLimits {
    InvocationLimits {
        memory_bytes: 32 << 20,
        cpu_budget: Duration::from_millis(300),
        wall_timeout: Duration::from_secs(2),
        max_output_bytes: 256 << 10,
        max_log_lines: 100,
        ..InvocationLimits::default()
    }
}

/// An executor with its own cache directory (kept alive by the returned
/// guard) and the given default limits.
pub fn executor_with(limits: InvocationLimits) -> (Executor, tempfile::TempDir) {
    let cache = tempfile::tempdir().expect("temp dir");
    let mut config = ExecutorConfig::new(cache.path(), BATON);
    config.pool.max_concurrent_invocations = 16;
    config.default_limits = limits;
    (Executor::new(config).expect("executor"), cache)
}

pub fn executor() -> (Executor, tempfile::TempDir) {
    executor_with(tight_limits())
}

pub fn read(path: &str) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("read {path}: {e}"))
}

pub async fn load(executor: &Executor, path: &str) -> Arc<Plugin> {
    executor
        .load(&read(path))
        .await
        .unwrap_or_else(|e| panic!("load {path}: {e}"))
}

pub fn invocation(step: &str) -> Invocation {
    Invocation {
        run_id: "run-1".into(),
        step_id: step.into(),
        attempt: 1,
        idempotency_key: format!("run-1/{step}"),
    }
}

pub async fn run(executor: &Executor, plugin: &Plugin, input: &str) -> InvocationReport {
    executor.invoke(plugin, &invocation("s"), input).await
}
pub mod engine;
pub mod server;
