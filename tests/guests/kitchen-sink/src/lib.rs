//! A plugin that touches every SDK feature: context, all log levels, stdout,
//! kv, secrets, events, outbound HTTP, and each kind of step error. Without a
//! grant every capability call reports how it was refused.

use baton_sdk::http::Request;
use baton_sdk::{Capabilities, Context, Step, StepError, events, kv, log, secrets};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Deserialize, JsonSchema)]
struct Input {
    /// Which failure to report instead of succeeding, if any.
    #[serde(default)]
    fail: Option<String>,
}

#[derive(Serialize, JsonSchema)]
struct Output {
    run_id: String,
    step_id: String,
    attempt: u32,
    idempotency_key: String,
    deadline_in_future: bool,
    kv_get: String,
    kv_set: String,
    kv_delete: String,
    kv_cas: String,
    secret: String,
    event: String,
    http: String,
}

fn outcome<T: std::fmt::Debug, E: std::fmt::Display>(result: Result<T, E>) -> String {
    match result {
        Ok(value) => format!("ok: {value:?}"),
        Err(e) => e.to_string(),
    }
}

struct KitchenSink;

impl Step for KitchenSink {
    type Input = Input;
    type Output = Output;

    fn capabilities() -> Capabilities {
        Capabilities::default()
            .outbound_host("https://api.example.com")
            .secret("api-token")
            .kv()
            .event("kitchen.done")
    }

    fn run(ctx: &Context, input: Input) -> Result<Output, StepError> {
        match input.fail.as_deref() {
            Some("invalid-input") => return Err(StepError::invalid_input("fail was asked for")),
            Some("permanent") => return Err(StepError::permanent("the remote said no")),
            Some("retryable") => {
                return Err(StepError::Retryable {
                    message: "the remote is busy".into(),
                    retry_after: Some(std::time::Duration::from_millis(1500)),
                });
            }
            Some("secret") => secrets::get("api-token")?,
            _ => String::new(),
        };
        log::trace("trace line");
        log::debug("debug line");
        log::info("info line");
        log::warn("warn line");
        log::error("error line");
        println!("hello from stdout");
        Ok(Output {
            run_id: ctx.run_id().to_owned(),
            step_id: ctx.step_id().to_owned(),
            attempt: ctx.attempt(),
            idempotency_key: ctx.idempotency_key().to_owned(),
            deadline_in_future: !ctx.time_left().is_zero(),
            kv_get: outcome(kv::get("counter")),
            kv_set: outcome(kv::set("counter", b"1")),
            kv_delete: outcome(kv::delete("counter")),
            kv_cas: outcome(kv::compare_and_swap("counter", None, b"2")),
            secret: outcome(secrets::get("api-token")),
            event: outcome(events::emit(
                "kitchen.done",
                Some("subject-1"),
                &serde_json::json!({"ok": true}),
            )),
            http: outcome(
                Request::get("https://api.example.com/v1/ping?x=1")
                    .send()
                    .map(|r| r.status),
            ),
        })
    }
}

baton_sdk::export_step!(KitchenSink);
