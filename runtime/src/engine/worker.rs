//! Runs one claimed plugin step attempt on the executor.
//!
//! A worker gets everything it needs in its [`Task`] (the row was rendered
//! when it became ready), runs the component with the step's limits, and
//! hands an [`Outcome`] back to the writer. It never touches the store
//! except to fetch component bytes it has not loaded yet.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio_util::sync::CancellationToken;

use tokio::sync::mpsc;

use crate::store::Store;
use crate::wasm::{Access, EgressLimits, EgressPolicy, Invocation, Plugin, StepFailure};

use super::Shared;
use super::access::StepAccess;
use super::writer::Command;

/// Identifies a step row.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct TaskKey {
    pub run_id: String,
    pub step_id: String,
    pub item: i64,
}

/// One claimed attempt.
#[derive(Debug, Clone)]
pub(crate) struct Task {
    pub key: TaskKey,
    pub attempt: i64,
    /// The plugin name the workflow uses (its grants are by this name).
    pub plugin: String,
    pub digest: String,
    pub input: String,
    pub timeout: Option<Duration>,
}

/// Why an attempt did not produce an output.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Failure {
    pub kind: String,
    pub message: String,
    pub retryable: bool,
    pub retry_after: Option<Duration>,
}

impl Failure {
    pub fn permanent(kind: &str, message: impl Into<String>) -> Failure {
        Failure {
            kind: kind.into(),
            message: message.into(),
            retryable: false,
            retry_after: None,
        }
    }

    fn from_step(failure: &StepFailure) -> Failure {
        let retry_after = match failure {
            StepFailure::Retryable {
                retry_after_ms: Some(ms),
                ..
            } => Some(Duration::from_millis(*ms)),
            _ => None,
        };
        let message = failure.to_string();
        let kind = failure.kind();
        let message = message
            .strip_prefix(&format!("{}: ", kind.as_str()))
            .unwrap_or(&message)
            .to_string();
        Failure {
            kind: kind.as_str().into(),
            message,
            retryable: kind.is_retryable(),
            retry_after,
        }
    }
}

/// What an attempt produced.
#[derive(Debug, Clone)]
pub(crate) struct Outcome {
    pub result: Result<Value, Failure>,
    pub logs: Option<String>,
    pub logs_dropped: i64,
    /// Wall-clock time of the attempt, in milliseconds.
    pub elapsed_ms: i64,
}

/// The failure kind of an attempt interrupted because the process stops:
/// its row goes back to the queue instead of failing.
pub(crate) const RELEASED: &str = "released";

/// Runs the attempt unless `cancel` fires first.
pub(crate) async fn execute<S: Store>(
    shared: Arc<Shared<S>>,
    commands: mpsc::WeakSender<Command>,
    task: Task,
    cancel: CancellationToken,
) -> Outcome {
    let started = std::time::Instant::now();
    let mut outcome = tokio::select! {
        outcome = invoke(&shared, commands, &task) => outcome,
        () = cancel.cancelled() => Outcome {
            result: Err(if shared.releasing.load(std::sync::atomic::Ordering::Relaxed) {
                Failure::permanent(RELEASED, "the process stopped before this attempt finished; the step runs again when it restarts")
            } else {
                Failure::permanent("cancelled", "the run was cancelled or failed while the step ran")
            }),
            logs: None,
            logs_dropped: 0,
            elapsed_ms: 0,
        },
    };
    outcome.elapsed_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    outcome
}

async fn invoke<S: Store>(
    shared: &Arc<Shared<S>>,
    commands: mpsc::WeakSender<Command>,
    task: &Task,
) -> Outcome {
    let plugin = match plugin(shared, &task.digest).await {
        Ok(plugin) => plugin,
        Err(message) => {
            return Outcome {
                result: Err(Failure {
                    kind: "plugin-unavailable".into(),
                    message,
                    retryable: true,
                    retry_after: None,
                }),
                logs: None,
                logs_dropped: 0,
                elapsed_ms: 0,
            };
        }
    };
    let mut limits = shared.executor.config().default_limits.clone();
    let info = plugin.info();
    // Grants go by the name and version the plugin was registered under,
    // which an upload may have chosen instead of the described ones.
    let name = if task.plugin.is_empty() {
        info.name.clone()
    } else {
        task.plugin.clone()
    };
    let grants = shared.grants();
    let version = if grants.has_versions(&name) {
        registered_version(shared, &name, &task.digest)
            .await
            .unwrap_or_else(|| info.version.clone())
    } else {
        info.version.clone()
    };
    let grant = grants.effective(&name, &version);
    match &grant {
        Some(grant) => grant.apply_limits(&mut limits, task.timeout),
        None => {
            if let Some(timeout) = task.timeout {
                limits.wall_timeout = timeout;
            }
        }
    }
    let idempotency_key = if task.key.item < 0 {
        format!("{}/{}", task.key.run_id, task.key.step_id)
    } else {
        format!("{}/{}/{}", task.key.run_id, task.key.step_id, task.key.item)
    };
    let invocation = Invocation {
        run_id: task.key.run_id.clone(),
        step_id: task.key.step_id.clone(),
        attempt: u32::try_from(task.attempt).unwrap_or(u32::MAX),
        idempotency_key,
    };
    let (access, provider) = match grant {
        Some(grant) => {
            let provider = Arc::new(StepAccess::new(
                shared.clone(),
                commands,
                grant.clone(),
                &name,
                task.key.clone(),
                task.attempt,
            ));
            let egress = EgressPolicy {
                rules: grant.outbound.clone(),
                limits: EgressLimits::default(),
                trust: shared.config.tls_trust.clone(),
            };
            let access = Access {
                egress: Arc::new(egress),
                provider: Some(provider.clone()),
            };
            (access, Some(provider))
        }
        None => (Access::default(), None),
    };
    let report = match shared
        .executor
        .invoke_with_access(&plugin, &invocation, &task.input, &limits, access)
        .await
    {
        Ok(report) => report,
        Err(error) => {
            return Outcome {
                result: Err(Failure::permanent("invalid-limits", error.to_string())),
                logs: None,
                logs_dropped: 0,
                elapsed_ms: 0,
            };
        }
    };
    let mut report = report;
    let mut result = report.outcome.map_err(|f| Failure::from_step(&f));
    // The values of the plugin's secrets never leave an attempt verbatim.
    let redactor = match &provider {
        Some(provider) => Some(provider.redactor().await),
        None => None,
    };
    if let Some(redactor) = redactor
        && !redactor.is_empty()
    {
        for line in &mut report.logs {
            if let std::borrow::Cow::Owned(text) = redactor.redact_str(&line.message) {
                line.message = text;
            }
        }
        match &mut result {
            Ok(output) => {
                redactor.redact_json(output);
            }
            Err(failure) => {
                if let std::borrow::Cow::Owned(text) = redactor.redact_str(&failure.message) {
                    failure.message = text;
                }
            }
        }
    }
    let logs = if report.logs.is_empty() {
        None
    } else {
        serde_json::to_string(&report.logs).ok()
    };
    Outcome {
        result,
        logs,
        logs_dropped: i64::try_from(report.logs_dropped).unwrap_or(i64::MAX),
        elapsed_ms: 0,
    }
}

/// The version `name` with this digest was registered as (remembered, as
/// registrations never change).
async fn registered_version<S: Store>(
    shared: &Shared<S>,
    name: &str,
    digest: &str,
) -> Option<String> {
    let key = format!("{name}@{digest}");
    if let Some(version) = shared.registered().get(&key) {
        return Some(version.clone());
    }
    let plugins = shared.store.plugins().await.ok()?;
    let version = plugins
        .into_iter()
        .find(|p| p.name == name && p.digest == digest)?
        .version;
    shared.registered().insert(key, version.clone());
    Some(version)
}

async fn plugin<S: Store>(shared: &Shared<S>, digest: &str) -> Result<Arc<Plugin>, String> {
    if let Some(plugin) = shared.executor.loaded(digest) {
        return Ok(plugin);
    }
    let bytes = shared
        .store
        .component(digest)
        .await
        .map_err(|e| format!("reading component {digest}: {e}"))?
        .ok_or_else(|| format!("component {digest} is not in the store"))?;
    shared
        .executor
        .load(&bytes)
        .await
        .map_err(|e| format!("loading component {digest}: {e}"))
}
