//! What events, rules, schedules, approvals and policies keep: declarative
//! resources, each event's consequences, correlation windows, approvals
//! and schedule state. [`OrchestrationTx`] is the writer's side (inside its
//! transaction), [`OrchestrationReads`] the readers'.

use std::future::Future;

use serde::Serialize;

use super::{EventRecord, Result, StepRecord};

/// A stored rule, schedule, policy or webhook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResourceRecord {
    /// `Rule`, `Schedule`, `Policy` or `Webhook`.
    pub kind: String,
    /// Its name.
    pub name: String,
    /// The normalised document (JSON).
    pub spec: String,
    /// Saves that changed it, from 1.
    pub revision: i64,
    /// When it was first saved.
    pub created_at: i64,
    /// When it last changed.
    pub updated_at: i64,
}

/// One consequence of an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventMatchRecord {
    /// The event.
    pub seq: i64,
    /// The rule, for rule matches.
    pub rule: Option<String>,
    /// `started`, `delivered`, `woke`, `denied`, `failed` or `error`.
    pub outcome: String,
    /// The run started, delivered to or woken.
    pub run_id: Option<String>,
    /// The step woken.
    pub step_id: Option<String>,
    /// Why, for `denied`, `failed` and `error`.
    pub detail: Option<String>,
    /// When (ms).
    pub at: i64,
}

/// The run a rule started for a correlation key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorrelationRecord {
    /// The rule.
    pub rule: String,
    /// The key.
    pub key: String,
    /// The run.
    pub run_id: String,
    /// Until when further events go to it.
    pub expires_at: i64,
}

/// A request for a human decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApprovalRecord {
    /// Its id.
    pub id: String,
    /// The run.
    pub run_id: String,
    /// The step it holds (`$run` for a gate before the run).
    pub step_id: String,
    /// The for_each element, or -1.
    pub item: i64,
    /// `step` (an approval step), `policy` (a gate before a step) or `run`
    /// (a gate before the run).
    pub gate: String,
    /// The policy that asked for it, for gates.
    pub policy: Option<String>,
    /// `pending`, `approved`, `rejected`, `expired` or `cancelled`.
    pub status: String,
    /// Who may decide (JSON `{roles, tokens}`).
    pub approvers: String,
    /// What approvers are asked.
    pub message: String,
    /// Who started the run.
    pub requested_by: String,
    /// The decision on timeout: `approve` or `reject`.
    pub on_timeout: String,
    /// When it times out.
    pub deadline: i64,
    /// Who decided (`token:<name>`, or `timeout`).
    pub decided_by: Option<String>,
    /// Why.
    pub comment: Option<String>,
    /// When it was asked.
    pub created_at: i64,
    /// When it was decided.
    pub decided_at: Option<i64>,
}

/// Where a schedule is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleStateRecord {
    /// The schedule.
    pub name: String,
    /// Its next occurrence (ms).
    pub next_at: i64,
    /// Its last occurrence that started (or skipped) a run.
    pub last_at: Option<i64>,
    /// The last run it started.
    pub last_run: Option<String>,
    /// An occurrence waiting for the last run to end (overlap `queue`).
    pub queued_at: Option<i64>,
}

/// A filter over approvals, oldest first.
#[derive(Debug, Clone, Default)]
pub struct ApprovalQuery {
    /// Only these statuses.
    pub status: Option<String>,
    /// Only for this run.
    pub run_id: Option<String>,
    /// Only created after this (created_at, id) (a page's cursor).
    pub after: Option<(i64, String)>,
    /// Page size.
    pub limit: u32,
}

/// The writer's orchestration statements, inside its transaction.
pub trait OrchestrationTx: Send {
    /// One resource.
    fn resource(
        &mut self,
        kind: &str,
        name: &str,
    ) -> impl Future<Output = Result<Option<ResourceRecord>>> + Send;
    /// Inserts or replaces a resource.
    fn put_resource(&mut self, record: &ResourceRecord) -> impl Future<Output = Result<()>> + Send;
    /// Deletes a resource; whether it existed.
    fn delete_resource(
        &mut self,
        kind: &str,
        name: &str,
    ) -> impl Future<Output = Result<bool>> + Send;
    /// Records consequences of events.
    fn insert_event_matches(
        &mut self,
        matches: &[EventMatchRecord],
    ) -> impl Future<Output = Result<()>> + Send;
    /// The run a rule started for a key.
    fn correlation(
        &mut self,
        rule: &str,
        key: &str,
    ) -> impl Future<Output = Result<Option<CorrelationRecord>>> + Send;
    /// Inserts or replaces a correlation.
    fn put_correlation(
        &mut self,
        record: &CorrelationRecord,
    ) -> impl Future<Output = Result<()>> + Send;
    /// Waiting `wait_for` rows whose pattern is one of `kinds` or has a `*`.
    fn waits_for(
        &mut self,
        kinds: &[String],
    ) -> impl Future<Output = Result<Vec<StepRecord>>> + Send;
    /// Whether any `wait_for` row is waiting.
    fn any_waits(&mut self) -> impl Future<Output = Result<bool>> + Send;
    /// Events whose type matches `pattern` (`*` = any run) received at or
    /// after `since`, oldest first.
    fn events_matching(
        &mut self,
        pattern: &str,
        since: i64,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<EventRecord>>> + Send;
    /// Inserts or replaces an approval.
    fn put_approval(&mut self, record: &ApprovalRecord) -> impl Future<Output = Result<()>> + Send;
    /// One approval.
    fn approval(&mut self, id: &str)
    -> impl Future<Output = Result<Option<ApprovalRecord>>> + Send;
    /// The pending approval holding a row.
    fn pending_approval_of(
        &mut self,
        run_id: &str,
        step_id: &str,
        item: i64,
    ) -> impl Future<Output = Result<Option<ApprovalRecord>>> + Send;
    /// Every schedule's state.
    fn schedule_states(&mut self) -> impl Future<Output = Result<Vec<ScheduleStateRecord>>> + Send;
    /// Inserts or replaces a schedule's state.
    fn put_schedule_state(
        &mut self,
        record: &ScheduleStateRecord,
    ) -> impl Future<Output = Result<()>> + Send;
    /// Forgets a schedule's state.
    fn delete_schedule_state(&mut self, name: &str) -> impl Future<Output = Result<()>> + Send;
}

/// Reads of orchestration state, outside any transaction.
pub trait OrchestrationReads: Send + Sync {
    /// Resources of one kind (or all), by kind and name.
    fn resources(
        &self,
        kind: Option<&str>,
    ) -> impl Future<Output = Result<Vec<ResourceRecord>>> + Send;
    /// An event's consequences, in order.
    fn event_matches(&self, seq: i64)
    -> impl Future<Output = Result<Vec<EventMatchRecord>>> + Send;
    /// Approvals, oldest first.
    fn approvals(
        &self,
        query: &ApprovalQuery,
    ) -> impl Future<Output = Result<Vec<ApprovalRecord>>> + Send;
    /// One approval.
    fn approval_by_id(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<ApprovalRecord>>> + Send;
}
