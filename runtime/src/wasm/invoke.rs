//! One invocation: a fresh store, instantiate from the cached `InstancePre`,
//! call, classify, drop.
//!
//! The store is never reused: whatever a guest did to its memory, tables or
//! resources disappears with it, even after a trap or a timeout.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use wasmtime::{Engine, Store, Trap, UpdateDeadline, WasmBacktrace};

use super::access::Access;
use super::bindings::{StepPre, types as wit};
use super::config::InvocationLimits;
use super::error::StepFailure;
pub use super::logbook::{LogLevel, LogLine, LogSource};
use super::state::StepState;

/// Most bytes kept of a message the guest puts in a `step-error`.
const MAX_GUEST_MESSAGE: usize = 8 << 10;
/// Most backtrace frames kept with a trap.
const MAX_BACKTRACE_FRAMES: usize = 64;
/// What wasmtime says when a guest hands the host more data than the
/// hostcall fuel allows (the error type itself is private to wasmtime).
const HOSTCALL_FUEL_EXHAUSTED: &str = "fuel allocated for hostcalls has been exhausted";
/// Most bytes of the guest's stderr quoted in a trap message.
const MAX_TRAP_STDERR: usize = 2 << 10;

/// Which attempt of which step is being run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invocation {
    /// The workflow run.
    pub run_id: String,
    /// The step inside the workflow.
    pub step_id: String,
    /// Attempt number, from 1.
    pub attempt: u32,
    /// Stable across the attempts of one step of one run.
    pub idempotency_key: String,
}

/// Everything one invocation produced.
#[derive(Debug, Clone, PartialEq)]
pub struct InvocationReport {
    /// The JSON output, or why there is none.
    pub outcome: Result<serde_json::Value, StepFailure>,
    /// Log lines kept, in the order written.
    pub logs: Vec<LogLine>,
    /// Log lines dropped because the log limits were reached.
    pub logs_dropped: u64,
    /// Wall-clock time of the invocation.
    pub duration: Duration,
}

impl InvocationReport {
    fn refused(failure: StepFailure) -> Self {
        Self {
            outcome: Err(failure),
            logs: Vec::new(),
            logs_dropped: 0,
            duration: Duration::ZERO,
        }
    }
}

/// A fresh store with every per-invocation limit in place.
pub(crate) fn new_store(
    engine: &Engine,
    limits: &InvocationLimits,
    access: Access,
) -> Store<StepState> {
    let deadline = Instant::now() + limits.wall_timeout;
    let mut store = Store::new(engine, StepState::new(limits, access, deadline));
    store.limiter(|state| &mut state.memory);
    // The result of `run` is lifted under the same fuel; keeping the fuel
    // above the output cap lets an oversize output be told apart.
    store.set_hostcall_fuel(limits.hostcall_fuel.max(limits.max_output_bytes + 1));
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(|mut ctx| {
        if ctx.data_mut().cpu.charge_tick() {
            Ok(UpdateDeadline::Yield(1))
        } else {
            Ok(UpdateDeadline::Interrupt)
        }
    });
    store
}

/// Runs `run` once.
pub(crate) async fn run(
    engine: &Engine,
    pre: &StepPre<StepState>,
    invocation: &Invocation,
    input: &str,
    limits: &InvocationLimits,
    access: Access,
) -> InvocationReport {
    if let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(input) {
        return InvocationReport::refused(StepFailure::InvalidInput {
            message: format!("the input is not JSON: {e}"),
        });
    }
    let started = Instant::now();
    let deadline = SystemTime::now() + limits.wall_timeout;
    let call = wit::Invocation {
        run_id: invocation.run_id.clone(),
        step_id: invocation.step_id.clone(),
        attempt: invocation.attempt,
        idempotency_key: invocation.idempotency_key.clone(),
        deadline_unix_ms: deadline
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
    };
    let mut store = new_store(engine, limits, access);
    let result = tokio::time::timeout(limits.wall_timeout, async {
        let step = pre.instantiate_async(&mut store).await?;
        step.call_run(&mut store, &call, input).await
    })
    .await;
    let outcome = match result {
        Err(_elapsed) => Err(timeout(limits)),
        Ok(Err(error)) => Err(classify_trap(&error, store.data(), limits)),
        Ok(Ok(Err(step_error))) => Err(from_step_error(step_error)),
        Ok(Ok(Ok(output))) => check_output(&output, limits),
    };
    finish(store, outcome, started)
}

/// Calls `describe` once.
pub(crate) async fn describe(
    engine: &Engine,
    pre: &StepPre<StepState>,
    limits: &InvocationLimits,
) -> Result<wit::PluginInfo, StepFailure> {
    // `describe` is granted nothing.
    let mut store = new_store(engine, limits, Access::default());
    let result = tokio::time::timeout(limits.wall_timeout, async {
        let step = pre.instantiate_async(&mut store).await?;
        step.call_describe(&mut store).await
    })
    .await;
    match result {
        Err(_elapsed) => Err(timeout(limits)),
        Ok(Err(error)) => Err(classify_trap(&error, store.data(), limits)),
        Ok(Ok(info)) => Ok(info),
    }
}

fn finish(
    store: Store<StepState>,
    outcome: Result<serde_json::Value, StepFailure>,
    started: Instant,
) -> InvocationReport {
    let (logs, logs_dropped) = store.into_data().into_log().take();
    InvocationReport {
        outcome,
        logs,
        logs_dropped,
        duration: started.elapsed(),
    }
}

fn timeout(limits: &InvocationLimits) -> StepFailure {
    StepFailure::Timeout {
        after_ms: millis(limits.wall_timeout),
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// Names the limit a failed call ran into, or describes the trap.
fn classify_trap(
    error: &wasmtime::Error,
    state: &StepState,
    limits: &InvocationLimits,
) -> StepFailure {
    // A panic message may still sit in a partial stderr line.
    state.finish_output();
    let trap = error.downcast_ref::<Trap>();
    if state.cpu.exhausted || trap == Some(&Trap::Interrupt) {
        return StepFailure::CpuBudgetExceeded {
            budget_ms: millis(limits.cpu_budget),
        };
    }
    if trap == Some(&Trap::StackOverflow) {
        return StepFailure::StackOverflow;
    }
    if state.memory.refused {
        return StepFailure::MemoryLimitExceeded {
            limit_bytes: state.memory.limit(),
        };
    }
    let backtrace = backtrace_of(error);
    let mut message = error.root_cause().to_string();
    if message.contains(HOSTCALL_FUEL_EXHAUSTED) && backtrace.is_empty() {
        // No guest frame on the stack: the host was lifting the result of
        // `run`, and the fuel is never below the output cap.
        return StepFailure::InvalidOutput {
            reason: format!(
                "the output is over the limit of {} bytes",
                limits.max_output_bytes
            ),
        };
    }
    if let Some(stderr) = stderr_tail(state) {
        message.push_str("; guest stderr: ");
        message.push_str(&stderr);
    }
    StepFailure::Trap { message, backtrace }
}

/// The guest frames of a failure, innermost first, with demangled names.
fn backtrace_of(error: &wasmtime::Error) -> Vec<String> {
    let Some(trace) = error.downcast_ref::<WasmBacktrace>() else {
        return Vec::new();
    };
    trace
        .frames()
        .iter()
        .take(MAX_BACKTRACE_FRAMES)
        .map(|frame| match frame.func_name() {
            Some(name) => format!(
                "{:#} (wasm function {})",
                rustc_demangle::demangle(name),
                frame.func_index()
            ),
            None => format!("wasm function {}", frame.func_index()),
        })
        .collect()
}

/// The end of what the guest wrote to stderr (a Rust panic message lands
/// there), without Rust's hint about `RUST_BACKTRACE`.
fn stderr_tail(state: &StepState) -> Option<String> {
    let lines = state.log.stderr_lines();
    let text = lines
        .iter()
        .filter(|l| !l.is_empty() && !l.starts_with("note: run with `RUST_BACKTRACE"))
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(" ");
    if text.is_empty() {
        return None;
    }
    let start = text.len().saturating_sub(MAX_TRAP_STDERR);
    let start = (start..text.len())
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(0);
    Some(text[start..].to_owned())
}

fn from_step_error(error: wit::StepError) -> StepFailure {
    match error {
        wit::StepError::InvalidInput(message) => StepFailure::InvalidInput {
            message: bounded(message),
        },
        wit::StepError::Permanent(message) => StepFailure::Permanent {
            message: bounded(message),
        },
        wit::StepError::Retryable(failure) => StepFailure::Retryable {
            message: bounded(failure.message),
            retry_after_ms: failure.retry_after_ms,
        },
    }
}

fn bounded(mut message: String) -> String {
    if message.len() > MAX_GUEST_MESSAGE {
        let mut end = MAX_GUEST_MESSAGE;
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        message.truncate(end);
        message.push_str(" [cut]");
    }
    message
}

fn check_output(output: &str, limits: &InvocationLimits) -> Result<serde_json::Value, StepFailure> {
    if output.len() > limits.max_output_bytes {
        return Err(StepFailure::InvalidOutput {
            reason: format!(
                "the output is {} bytes, over the limit of {} bytes",
                output.len(),
                limits.max_output_bytes
            ),
        });
    }
    serde_json::from_str(output).map_err(|e| StepFailure::InvalidOutput {
        reason: format!("the output is not JSON: {e}"),
    })
}
