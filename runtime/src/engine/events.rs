//! State changes the engine publishes after each commit.
//!
//! Subscribers (the CLI progress display, later the HTTP event stream) get
//! them on a broadcast channel. An event is only sent once the change it
//! describes is durable; a slow subscriber may miss events (it is told how
//! many) and should re-read the run's state.

use serde::Serialize;

use crate::store::{RunStatus, StepStatus};

/// One durable state change.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EngineEvent {
    /// A run changed status.
    Run {
        /// The run.
        run_id: String,
        /// Its workflow.
        workflow: String,
        /// The new status.
        status: RunStatus,
        /// The error that failed it, if any.
        error: Option<String>,
    },
    /// A step (or for_each element) changed status.
    Step {
        /// The run.
        run_id: String,
        /// The step.
        step_id: String,
        /// The for_each element, if it is one.
        item: Option<i64>,
        /// The new status.
        status: StepStatus,
        /// Attempts so far.
        attempt: i64,
        /// The failure, if it failed or will be retried.
        error: Option<String>,
    },
    /// A plugin attempt ended and its result was recorded.
    Attempt {
        /// The run.
        run_id: String,
        /// The step.
        step_id: String,
        /// The for_each element, if it is one.
        item: Option<i64>,
        /// The attempt's number.
        attempt: i64,
        /// The plugin's name.
        plugin: String,
        /// `succeeded` or `failed`.
        status: String,
        /// The failure's kind, if it failed.
        error_kind: Option<String>,
        /// How long it ran, in milliseconds.
        duration_ms: i64,
    },
}

impl EngineEvent {
    /// The run the event belongs to.
    pub fn run_id(&self) -> &str {
        match self {
            EngineEvent::Run { run_id, .. }
            | EngineEvent::Step { run_id, .. }
            | EngineEvent::Attempt { run_id, .. } => run_id,
        }
    }
}
