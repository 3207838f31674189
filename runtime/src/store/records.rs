//! The rows the store keeps, as plain data.
//!
//! JSON payloads stay text here; the engine parses them. Times are
//! milliseconds since the Unix epoch.

use serde::Serialize;

use super::StoreError;

macro_rules! status_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, utoipa::ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            /// The stored and displayed name.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl std::str::FromStr for $name {
            type Err = StoreError;
            fn from_str(text: &str) -> Result<Self, StoreError> {
                match text {
                    $($text => Ok($name::$variant),)+
                    other => Err(StoreError::Corrupt(format!(
                        concat!("unknown ", stringify!($name), " `{}`"), other))),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

status_enum! {
    /// Where a run is.
    RunStatus {
        /// Steps are running or waiting.
        Running = "running",
        /// A step failed; compensation steps are running.
        Compensating = "compensating",
        /// Every step finished and the outputs were computed.
        Succeeded = "succeeded",
        /// A step failed (compensation, if any, has finished).
        Failed = "failed",
        /// Cancelled by a user.
        Cancelled = "cancelled",
    }
}

impl RunStatus {
    /// Whether the run has ended.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            RunStatus::Succeeded | RunStatus::Failed | RunStatus::Cancelled
        )
    }
}

status_enum! {
    /// Where a step (or a for_each element) is.
    StepStatus {
        /// Waiting for its needs (elements: for a concurrency slot).
        Pending = "pending",
        /// Queued for a worker, possibly after a retry delay.
        Ready = "ready",
        /// Leased by a worker.
        Running = "running",
        /// Sleeping or awaiting a child run or its elements.
        Waiting = "waiting",
        /// Finished with an output.
        Succeeded = "succeeded",
        /// Finished with an error.
        Failed = "failed",
        /// Not run: its condition was false or a need was skipped.
        Skipped = "skipped",
        /// Stopped or never started because the run was cancelled or failed.
        Cancelled = "cancelled",
    }
}

impl StepStatus {
    /// Whether the step has ended.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            StepStatus::Succeeded
                | StepStatus::Failed
                | StepStatus::Skipped
                | StepStatus::Cancelled
        )
    }
}

/// A plugin version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PluginRecord {
    /// Name from its `describe`.
    pub name: String,
    /// Version from its `describe`.
    pub version: String,
    /// sha256 of the component.
    pub digest: String,
    /// Its `describe` output as JSON.
    pub info: String,
    /// When it was added.
    pub created_at: i64,
}

/// A workflow version to save.
#[derive(Debug, Clone)]
pub struct NewWorkflowVersion {
    /// Workflow name.
    pub name: String,
    /// The normalised definition (JSON).
    pub definition: String,
    /// The text as submitted.
    pub source: String,
    /// Plugins it pins: (name, version, digest).
    pub plugins: Vec<(String, String, String)>,
    /// When.
    pub now: i64,
}

/// A saved workflow version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WorkflowVersionRecord {
    /// Workflow name.
    pub workflow: String,
    /// Version number, from 1.
    pub version: i64,
    /// The normalised definition (JSON).
    pub definition: String,
    /// The text as submitted.
    pub source: String,
    /// When it was saved.
    pub created_at: i64,
}

/// A run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunRecord {
    /// Its id (a UUIDv7).
    pub id: String,
    /// Workflow name.
    pub workflow: String,
    /// The workflow version it is pinned to.
    pub version: i64,
    /// Where it is.
    pub status: RunStatus,
    /// Its input (JSON).
    pub input: String,
    /// Its output (JSON) once succeeded.
    pub output: Option<String>,
    /// What failed it (JSON `{step, kind, message}`).
    pub error: Option<String>,
    /// The key it was started with, if any.
    pub idempotency_key: Option<String>,
    /// The run whose step started it.
    pub parent_run: Option<String>,
    /// That step.
    pub parent_step: Option<String>,
    /// That step's element (-1 for a plain step).
    pub parent_item: Option<i64>,
    /// Nesting depth (0 for a top-level run).
    pub depth: i64,
    /// When it was started.
    pub created_at: i64,
    /// When it last changed.
    pub updated_at: i64,
    /// When it ended.
    pub finished_at: Option<i64>,
    /// Who or what started it: `token:<name>`, `rule:<name>`,
    /// `schedule:<name>`, `run:<parent id>` or `local`.
    pub started_by: String,
    /// The event that started it, when a rule did.
    pub event_seq: Option<i64>,
}

/// A step of a run (`item = -1`) or one element of a for_each step.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepRecord {
    /// The run.
    pub run_id: String,
    /// The step id.
    pub step_id: String,
    /// -1 for the step itself, else the for_each element index.
    pub item: i64,
    /// Where it is.
    pub status: StepStatus,
    /// `plugin`, `sleep`, `workflow`, `for_each`.
    pub kind: String,
    /// Plugin name (plugin steps).
    pub plugin: Option<String>,
    /// Component digest (plugin steps).
    pub digest: Option<String>,
    /// Wall-clock limit of one attempt.
    pub timeout_ms: Option<i64>,
    /// Rendered input (JSON).
    pub input: Option<String>,
    /// Output (JSON).
    pub output: Option<String>,
    /// Failure kind.
    pub error_kind: Option<String>,
    /// Failure message.
    pub error_message: Option<String>,
    /// Attempts started.
    pub attempts: i64,
    /// Attempts that failed (counted against the retry policy).
    pub failures: i64,
    /// for_each: number of elements.
    pub items_total: Option<i64>,
    /// for_each: elements finished.
    pub items_done: i64,
    /// The child run of a workflow step.
    pub child_run: Option<String>,
    /// When a ready row may be claimed or a timer fires.
    pub due_at: Option<i64>,
    /// The worker holding the lease.
    pub lease_owner: Option<String>,
    /// When the lease ends.
    pub lease_until: Option<i64>,
    /// When the row was created.
    pub created_at: i64,
    /// When the first attempt started.
    pub started_at: Option<i64>,
    /// When it ended.
    pub finished_at: Option<i64>,
    /// Order in the queue among rows due at the same time (set when the row
    /// becomes ready).
    pub queue_seq: i64,
}

impl StepRecord {
    /// A fresh row.
    pub fn new(run_id: &str, step_id: &str, item: i64, kind: &str, now: i64) -> StepRecord {
        StepRecord {
            run_id: run_id.to_string(),
            step_id: step_id.to_string(),
            item,
            status: StepStatus::Pending,
            kind: kind.to_string(),
            plugin: None,
            digest: None,
            timeout_ms: None,
            input: None,
            output: None,
            error_kind: None,
            error_message: None,
            attempts: 0,
            failures: 0,
            items_total: None,
            items_done: 0,
            child_run: None,
            due_at: None,
            lease_owner: None,
            lease_until: None,
            created_at: now,
            started_at: None,
            finished_at: None,
            queue_seq: 0,
        }
    }
}

/// One execution of a step or element.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttemptRecord {
    /// The run.
    pub run_id: String,
    /// The step.
    pub step_id: String,
    /// The element (-1 for a plain step).
    pub item: i64,
    /// Its number, from 1.
    pub attempt: i64,
    /// `running`, `succeeded`, `failed`, `abandoned` (lease expired) or
    /// `cancelled`.
    pub status: String,
    /// The engine instance that ran it.
    pub worker: String,
    /// Output (JSON).
    pub output: Option<String>,
    /// Failure kind.
    pub error_kind: Option<String>,
    /// Failure message.
    pub error_message: Option<String>,
    /// Log lines (JSON array).
    pub logs: Option<String>,
    /// Log lines dropped over the cap.
    pub logs_dropped: i64,
    /// When it started.
    pub started_at: i64,
    /// When it ended.
    pub finished_at: Option<i64>,
}

/// When the queue next has work.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NextDue {
    /// The earliest ready row (possibly already due).
    pub ready: Option<i64>,
    /// The earliest sleep timer.
    pub timer: Option<i64>,
}

/// An ingested event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRecord {
    /// Order of arrival (0 before it is stored).
    pub seq: i64,
    /// CloudEvents `id`.
    pub id: String,
    /// `source`.
    pub source: String,
    /// `type`.
    pub kind: String,
    /// `subject`.
    pub subject: Option<String>,
    /// `time`, as given.
    pub time: Option<String>,
    /// `datacontenttype`.
    pub datacontenttype: Option<String>,
    /// `dataschema`.
    pub dataschema: Option<String>,
    /// `data` as JSON text.
    pub data: Option<String>,
    /// `data_base64`.
    pub data_base64: Option<String>,
    /// Extension attributes, a JSON object of strings.
    pub extensions: String,
    /// When it was stored.
    pub received_at: i64,
    /// Who sent it (a token name, or `alertmanager:<token>`).
    pub received_by: String,
}
