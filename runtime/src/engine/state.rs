//! The state of one run, as callers see it: every step of its plan (also
//! those not started), with attempts, outputs, errors and timings.

use serde::Serialize;
use serde_json::Value;

use crate::store::{AttemptRecord, RunRecord, StepRecord, StepStatus, Store};

use super::clock::rfc3339;
use super::{Engine, EngineError, Result};

/// A run and its steps.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RunState {
    /// Run id.
    pub id: String,
    /// Workflow name.
    pub workflow: String,
    /// Workflow version.
    pub version: i64,
    /// Status.
    pub status: crate::store::RunStatus,
    /// Input.
    #[schema(value_type = Object)]
    pub input: Value,
    /// Output, once succeeded.
    #[schema(value_type = Object)]
    pub output: Option<Value>,
    /// What failed or cancelled it.
    #[schema(value_type = Object)]
    pub error: Option<Value>,
    /// The run that started it, if a child.
    pub parent_run: Option<String>,
    /// Who or what started it: `token:<name>`, `rule:<name>`,
    /// `schedule:<name>`, `run:<parent id>` or `local`.
    pub started_by: String,
    /// The event that started it, when a rule did.
    pub event_seq: Option<i64>,
    /// When it started (RFC 3339).
    pub started_at: String,
    /// When it ended (RFC 3339).
    pub finished_at: Option<String>,
    /// Steps in plan order, then compensation steps.
    pub steps: Vec<StepState>,
}

/// One step (or for_each element).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct StepState {
    /// Step id.
    pub id: String,
    /// The element index, for elements.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item: Option<i64>,
    /// `plugin`, `sleep` or `workflow`.
    pub kind: String,
    /// Status.
    pub status: StepStatus,
    /// Whether it is a compensation step.
    pub compensation: bool,
    /// Rendered input.
    #[schema(value_type = Object)]
    pub input: Option<Value>,
    /// Output.
    #[schema(value_type = Object)]
    pub output: Option<Value>,
    /// Failure (or the last failure, while retrying) as `{kind, message}`.
    #[schema(value_type = Object)]
    pub error: Option<Value>,
    /// The child run of a workflow step.
    pub child_run: Option<String>,
    /// When a waiting or retrying step is next due.
    pub due_at: Option<String>,
    /// When it started.
    pub started_at: Option<String>,
    /// When it ended.
    pub finished_at: Option<String>,
    /// Its attempts.
    pub attempts: Vec<AttemptState>,
    /// for_each elements.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(no_recursion)]
    pub items: Vec<StepState>,
}

/// One attempt.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AttemptState {
    /// Number, from 1.
    pub attempt: i64,
    /// `running`, `succeeded`, `failed`, `abandoned` or `cancelled`.
    pub status: String,
    /// Failure kind.
    pub error_kind: Option<String>,
    /// Failure message.
    pub error_message: Option<String>,
    /// Log lines.
    #[schema(value_type = Object)]
    pub logs: Value,
    /// Lines dropped over the cap.
    pub logs_dropped: i64,
    /// When it started.
    pub started_at: String,
    /// When it ended.
    pub finished_at: Option<String>,
    /// Milliseconds it took.
    pub duration_ms: Option<i64>,
}

fn parse(text: Option<&str>) -> Option<Value> {
    text.and_then(|t| serde_json::from_str(t).ok())
}

impl<S: Store> Engine<S> {
    /// The run's record.
    pub async fn run(&self, run_id: &str) -> Result<RunRecord> {
        self.shared
            .store
            .run(run_id)
            .await?
            .ok_or_else(|| EngineError::NotFound(format!("no run `{run_id}`")))
    }

    /// The run with every step, attempt, output and error.
    pub async fn run_state(&self, run_id: &str) -> Result<RunState> {
        let run = self.run(run_id).await?;
        let plan = self
            .shared
            .plans
            .get(&self.shared.store, &run.workflow, run.version)
            .await?;
        let rows = self.shared.store.steps(run_id).await?;
        let attempts = self.shared.store.attempts(run_id).await?;
        let mut steps = Vec::new();
        for (step, compensation) in plan
            .steps
            .iter()
            .map(|s| (s, false))
            .chain(plan.on_failure.iter().map(|s| (s, true)))
        {
            let row = rows.iter().find(|r| r.step_id == step.id && r.item < 0);
            let mut state = match row {
                Some(row) => step_state(row, &attempts),
                None => StepState {
                    id: step.id.clone(),
                    item: None,
                    kind: step.action.kind().into(),
                    status: StepStatus::Pending,
                    compensation,
                    input: None,
                    output: None,
                    error: None,
                    child_run: None,
                    due_at: None,
                    started_at: None,
                    finished_at: None,
                    attempts: Vec::new(),
                    items: Vec::new(),
                },
            };
            state.compensation = compensation;
            state.items = rows
                .iter()
                .filter(|r| r.step_id == step.id && r.item >= 0)
                .map(|r| step_state(r, &attempts))
                .collect();
            steps.push(state);
        }
        Ok(RunState {
            id: run.id,
            workflow: run.workflow,
            version: run.version,
            status: run.status,
            input: parse(Some(&run.input)).unwrap_or(Value::Null),
            output: parse(run.output.as_deref()),
            error: parse(run.error.as_deref()),
            parent_run: run.parent_run,
            started_by: run.started_by,
            event_seq: run.event_seq,
            started_at: rfc3339(run.created_at),
            finished_at: run.finished_at.map(rfc3339),
            steps,
        })
    }
}

fn step_state(row: &StepRecord, attempts: &[AttemptRecord]) -> StepState {
    StepState {
        id: row.step_id.clone(),
        item: (row.item >= 0).then_some(row.item),
        kind: row.kind.clone(),
        status: row.status,
        compensation: false,
        input: parse(row.input.as_deref()),
        output: parse(row.output.as_deref()),
        error: row
            .error_message
            .as_ref()
            .map(|message| serde_json::json!({"kind": row.error_kind, "message": message})),
        child_run: row.child_run.clone(),
        due_at: row
            .due_at
            .filter(|_| !row.status.is_terminal())
            .map(rfc3339),
        started_at: row.started_at.map(rfc3339),
        finished_at: row.finished_at.map(rfc3339),
        attempts: attempts
            .iter()
            .filter(|a| a.step_id == row.step_id && a.item == row.item)
            .map(|a| AttemptState {
                attempt: a.attempt,
                status: a.status.clone(),
                error_kind: a.error_kind.clone(),
                error_message: a.error_message.clone(),
                logs: parse(a.logs.as_deref()).unwrap_or(Value::Array(Vec::new())),
                logs_dropped: a.logs_dropped,
                started_at: rfc3339(a.started_at),
                finished_at: a.finished_at.map(rfc3339),
                duration_ms: a.finished_at.map(|f| f - a.started_at),
            })
            .collect(),
        items: Vec::new(),
    }
}
