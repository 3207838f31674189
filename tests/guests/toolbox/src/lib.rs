//! A step whose behaviour the input chooses, for workflow tests and
//! benchmarks: it echoes `value`, computes `fibo(n)`, fails with a given
//! kind (always, or only before a given attempt), or spins for a while.

use std::time::{Duration, Instant};

use baton_sdk::{Context, Step, StepError, log};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Input {
    /// Echoed back as `value`.
    #[serde(default)]
    value: serde_json::Value,
    /// Computes the n-th Fibonacci number, recursively.
    #[serde(default)]
    fibo: Option<u32>,
    /// Fails with this kind: `permanent`, `retryable` or `invalid-input`.
    #[serde(default)]
    fail: Option<String>,
    /// Fails (retryable) while the attempt number is below this.
    #[serde(default)]
    fail_until_attempt: Option<u32>,
    /// Suggested retry delay for retryable failures, in milliseconds.
    #[serde(default)]
    retry_after_ms: Option<u64>,
    /// Busy-loops this long before answering.
    #[serde(default)]
    spin_ms: Option<u64>,
    /// Only spins while the attempt number is below this.
    #[serde(default)]
    spin_before_attempt: Option<u32>,
    /// Writes this line to the step log.
    #[serde(default)]
    log: Option<String>,
}

#[derive(Serialize, JsonSchema)]
struct Output {
    value: serde_json::Value,
    attempt: u32,
    idempotency_key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    fibo: Option<u64>,
}

fn fibo(n: u32) -> u64 {
    if n < 2 {
        u64::from(n)
    } else {
        fibo(n - 1) + fibo(n - 2)
    }
}

struct Toolbox;

impl Step for Toolbox {
    type Input = Input;
    type Output = Output;

    fn run(ctx: &Context, input: Input) -> Result<Output, StepError> {
        if let Some(line) = &input.log {
            log::info(line);
        }
        let spin = input
            .spin_before_attempt
            .is_none_or(|before| ctx.attempt() < before);
        if let Some(ms) = input.spin_ms.filter(|_| spin) {
            let start = Instant::now();
            while start.elapsed() < Duration::from_millis(ms) {
                std::hint::spin_loop();
            }
        }
        if let Some(until) = input.fail_until_attempt
            && ctx.attempt() < until
        {
            return Err(StepError::Retryable {
                message: format!("attempt {} is before {until}", ctx.attempt()),
                retry_after: input.retry_after_ms.map(Duration::from_millis),
            });
        }
        match input.fail.as_deref() {
            Some("permanent") => return Err(StepError::permanent("asked to fail")),
            Some("retryable") => {
                return Err(StepError::Retryable {
                    message: "asked to fail, retryably".into(),
                    retry_after: input.retry_after_ms.map(Duration::from_millis),
                });
            }
            Some("invalid-input") => return Err(StepError::invalid_input("asked to refuse")),
            Some(other) => {
                return Err(StepError::invalid_input(format!(
                    "unknown failure `{other}`"
                )));
            }
            None => {}
        }
        Ok(Output {
            value: input.value,
            attempt: ctx.attempt(),
            idempotency_key: ctx.idempotency_key().to_string(),
            fibo: input.fibo.map(fibo),
        })
    }
}

baton_sdk::export_step!(Toolbox);
