//! The executable form of a workflow version: what the engine runs.
//!
//! A [`WorkflowPlan`] is built only by [`compile`](super::compile), so every
//! plan is valid: ids are unique, `needs` point backwards in a DAG, every
//! expression parsed and refers only to what it may see, every plugin is
//! pinned to a digest. The engine never re-validates.

use std::time::Duration;

use serde_json::Value;

use super::definition::{Approvers, Definition, NeedsSkipped, OnError, Verdict};
use super::expr::{Expr, Template};

/// Default `concurrency` of a `for_each` step.
pub const DEFAULT_FOR_EACH_CONCURRENCY: u32 = 10;
/// Highest `retry.max_attempts` accepted.
pub const MAX_RETRY_ATTEMPTS: u32 = 100;
/// Default first delay between attempts.
pub const DEFAULT_RETRY_INITIAL: Duration = Duration::from_secs(1);
/// Default longest delay between attempts.
pub const DEFAULT_RETRY_MAX: Duration = Duration::from_secs(300);

/// A validated workflow version, ready to run.
#[derive(Debug, Clone)]
pub struct WorkflowPlan {
    /// The document it was compiled from (normalised: plugin references
    /// carry the version they resolved to).
    pub definition: Definition,
    /// The compiled input schema, if any.
    pub input_schema: Option<InputSchema>,
    /// `env` constants as one JSON object.
    pub env: Value,
    /// The main DAG in document order, except that a step written before a
    /// step it needs is moved after it (stably): `needs` always come first.
    pub steps: Vec<StepPlan>,
    /// The run's output template.
    pub outputs: Option<Template>,
    /// Compensation DAG, run when the run fails.
    pub on_failure: Vec<StepPlan>,
}

impl WorkflowPlan {
    /// The step with this id, in either DAG.
    pub fn step(&self, id: &str) -> Option<&StepPlan> {
        self.steps
            .iter()
            .chain(self.on_failure.iter())
            .find(|step| step.id == id)
    }
}

/// A compiled JSON Schema for run inputs.
#[derive(Clone)]
pub struct InputSchema(pub std::sync::Arc<jsonschema::Validator>);

impl std::fmt::Debug for InputSchema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InputSchema")
    }
}

impl InputSchema {
    /// Every way `input` breaks the schema, as `path: message` lines.
    pub fn check(&self, input: &Value) -> Result<(), Vec<String>> {
        let problems: Vec<String> = self
            .0
            .iter_errors(input)
            .map(|error| {
                let path = error.instance_path().to_string();
                let path = if path.is_empty() { "/".into() } else { path };
                format!("{path}: {error}")
            })
            .collect();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }
}

/// One compiled step.
#[derive(Debug, Clone)]
pub struct StepPlan {
    /// The step id.
    pub id: String,
    /// What it does.
    pub action: StepAction,
    /// Indexes of the steps it needs, in the same DAG.
    pub needs: Vec<usize>,
    /// The `if:` condition.
    pub condition: Option<Expr>,
    /// Behaviour when a need was skipped.
    pub if_needs_skipped: NeedsSkipped,
    /// The `for_each:` list expression and its concurrency.
    pub for_each: Option<ForEach>,
    /// Wall-clock limit of one attempt.
    pub timeout: Option<Duration>,
    /// Retry policy (one attempt when absent from the document).
    pub retry: RetryPolicy,
    /// What a failure does to the run.
    pub on_error: OnError,
}

/// A `for_each` fan-out.
#[derive(Debug, Clone)]
pub struct ForEach {
    /// Evaluates to the list of items.
    pub items: Expr,
    /// Items running at once.
    pub concurrency: u32,
}

/// What a step does.
#[derive(Debug, Clone)]
pub enum StepAction {
    /// Runs a plugin component.
    Plugin {
        /// Plugin name.
        name: String,
        /// The exact version resolved at save time.
        version: String,
        /// sha256 of the component, resolved at save time.
        digest: String,
        /// The input template.
        with: Template,
    },
    /// A durable timer.
    Sleep(Duration),
    /// Waits for a matching event.
    WaitFor {
        /// The event type pattern.
        pattern: crate::events::EventPattern,
        /// The condition over `event` and the run.
        condition: Option<Expr>,
        /// How long to wait.
        timeout: Duration,
    },
    /// Waits for a human decision.
    Approval {
        /// Who may decide.
        approvers: Approvers,
        /// The message template.
        message: Option<Template>,
        /// How long to wait.
        timeout: Duration,
        /// The decision on timeout.
        on_timeout: Verdict,
    },
    /// A child workflow run, awaited.
    Workflow {
        /// Workflow name.
        name: String,
        /// A pinned version, or `None` for the newest when the child starts.
        version: Option<i64>,
        /// The child's input template.
        with: Template,
    },
}

impl StepAction {
    /// A short name of the kind, as shown in run state.
    pub fn kind(&self) -> &'static str {
        match self {
            StepAction::Plugin { .. } => "plugin",
            StepAction::Sleep(_) => "sleep",
            StepAction::Workflow { .. } => "workflow",
            StepAction::WaitFor { .. } => "wait_for",
            StepAction::Approval { .. } => "approval",
        }
    }
}

/// When and how often a failed attempt is tried again.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in total, the first included.
    pub max_attempts: u32,
    /// Whether delays double.
    pub exponential: bool,
    /// The first delay.
    pub initial: Duration,
    /// The longest delay.
    pub max: Duration,
    /// Fraction of each delay that is randomised away (0 to 1).
    pub jitter: f64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 1,
            exponential: true,
            initial: DEFAULT_RETRY_INITIAL,
            max: DEFAULT_RETRY_MAX,
            jitter: 0.0,
        }
    }
}

impl RetryPolicy {
    /// The delay before attempt `failures + 1`, after `failures` failures
    /// (at least 1); `unit` is a random number in `[0, 1)` for the jitter.
    pub fn delay(&self, failures: u32, unit: f64) -> Duration {
        let base = if self.exponential {
            let factor = 2f64.powi(failures.saturating_sub(1).min(62) as i32);
            self.initial.as_secs_f64() * factor
        } else {
            self.initial.as_secs_f64()
        };
        let capped = base.min(self.max.as_secs_f64());
        let jittered = capped * (1.0 - self.jitter * unit.clamp(0.0, 1.0));
        Duration::from_secs_f64(jittered.max(0.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exponential_backoff_doubles_up_to_the_maximum() {
        let policy = RetryPolicy {
            max_attempts: 10,
            exponential: true,
            initial: Duration::from_secs(1),
            max: Duration::from_secs(5),
            jitter: 0.0,
        };
        let delays: Vec<u64> = (1..=5).map(|n| policy.delay(n, 0.5).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 5, 5]);
    }

    #[test]
    fn jitter_only_shortens_delays() {
        let policy = RetryPolicy {
            jitter: 0.5,
            exponential: false,
            initial: Duration::from_secs(10),
            ..RetryPolicy::default()
        };
        assert_eq!(policy.delay(3, 0.0), Duration::from_secs(10));
        assert_eq!(policy.delay(3, 1.0), Duration::from_secs(5));
    }
}
