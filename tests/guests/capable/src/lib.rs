//! A step that runs a list of capability calls its input gives (read a
//! secret, key-value operations, emit an event, log, fail) and returns what
//! each call answered, so tests can check grants, quotas, isolation and
//! redaction from the outside.

use baton_sdk::{Capabilities, Context, Step, StepError, events, kv, log, secrets};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// One capability call.
#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum Action {
    /// Reads a secret and returns its value.
    Secret(String),
    /// Reads a secret and writes it to the log.
    LogSecret(String),
    /// Reads a secret and fails with it in the message.
    FailWithSecret(String),
    /// Reads a key (value as UTF-8 text).
    KvGet(String),
    /// Stores `[key, value]`.
    KvSet(Vec<String>),
    /// Stores `value` of `size` bytes of `x` under `key`.
    KvFill { key: String, size: usize },
    /// Removes a key.
    KvDelete(String),
    /// `[key, expected or null, value]`.
    KvCas(Vec<Option<String>>),
    /// Emits an event.
    Emit {
        #[serde(rename = "type")]
        kind: String,
        #[serde(default)]
        subject: Option<String>,
        #[serde(default)]
        data: Value,
    },
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Input {
    /// The calls, in order.
    actions: Vec<Action>,
}

#[derive(Serialize, JsonSchema)]
struct Output {
    /// What each call answered: `{"ok": ...}` or `{"error": "..."}`.
    results: Vec<Value>,
}

fn answer<T: Serialize, E: std::fmt::Display>(result: Result<T, E>) -> Value {
    match result {
        Ok(value) => json!({ "ok": value }),
        Err(error) => json!({ "error": error.to_string() }),
    }
}

fn text(value: Option<Vec<u8>>) -> Option<String> {
    value.map(|v| String::from_utf8_lossy(&v).into_owned())
}

struct Capable;

impl Step for Capable {
    type Input = Input;
    type Output = Output;

    fn capabilities() -> Capabilities {
        Capabilities::default()
            .secret("api-token")
            .kv()
            .event("capable.*")
    }

    fn run(_ctx: &Context, input: Input) -> Result<Output, StepError> {
        let mut results = Vec::new();
        for action in input.actions {
            let result = match action {
                Action::Secret(name) => answer(secrets::get(&name)),
                Action::LogSecret(name) => {
                    let value = secrets::get(&name).unwrap_or_default();
                    log::info(&format!("the token is {value}"));
                    println!("stdout sees {value}");
                    json!({ "ok": null })
                }
                Action::FailWithSecret(name) => {
                    let value = secrets::get(&name).unwrap_or_default();
                    return Err(StepError::permanent(format!("refused with {value}")));
                }
                Action::KvGet(key) => answer(kv::get(&key).map(text)),
                Action::KvSet(pair) => match pair.as_slice() {
                    [key, value] => answer(kv::set(key, value.as_bytes())),
                    _ => return Err(StepError::invalid_input("kv_set takes [key, value]")),
                },
                Action::KvFill { key, size } => answer(kv::set(&key, &vec![b'x'; size])),
                Action::KvDelete(key) => answer(kv::delete(&key)),
                Action::KvCas(parts) => match parts.as_slice() {
                    [Some(key), expected, Some(value)] => answer(kv::compare_and_swap(
                        key,
                        expected.as_deref().map(str::as_bytes),
                        value.as_bytes(),
                    )),
                    _ => {
                        return Err(StepError::invalid_input(
                            "kv_cas takes [key, expected or null, value]",
                        ));
                    }
                },
                Action::Emit {
                    kind,
                    subject,
                    data,
                } => answer(events::emit(&kind, subject.as_deref(), &data)),
            };
            results.push(result);
        }
        Ok(Output { results })
    }
}

baton_sdk::export_step!(Capable);
