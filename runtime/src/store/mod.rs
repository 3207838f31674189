//! Durable state: the storage boundary of the engine.
//!
//! [`Store`] (reads outside any transaction) and [`StoreTx`] (everything the
//! engine's single writer does inside one transaction) are the traits the
//! engine is written against; [`SqliteStore`] implements them on an embedded
//! SQLite file, and a PostgreSQL backend can implement the same traits later.
//! Only this module writes SQL. It holds no workflow logic: it stores and
//! returns [`records`](RunRecord) and never interprets them.

mod api;
mod audit;
mod capabilities;
mod error;
mod orchestration;
mod records;
mod sqlite;

use std::future::Future;

pub use api::*;
pub use audit::*;
pub use capabilities::*;
pub use error::{Result, StoreError};
pub use orchestration::*;
pub use records::*;
pub use sqlite::{SqliteOptions, SqliteStore};

/// Reads that need no transaction, for queries and workers.
pub trait Store: OrchestrationReads + CapabilityReads + Send + Sync + 'static {
    /// The write transaction type.
    type Tx: StoreTx;

    /// Opens a write transaction.
    fn begin(&self) -> impl Future<Output = Result<Self::Tx>> + Send;
    /// One run.
    fn run(&self, id: &str) -> impl Future<Output = Result<Option<RunRecord>>> + Send;
    /// Runs, newest first, optionally only those with this status.
    fn runs(
        &self,
        status: Option<RunStatus>,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<RunRecord>>> + Send;
    /// Every step row of a run (steps and for_each elements).
    fn steps(&self, run_id: &str) -> impl Future<Output = Result<Vec<StepRecord>>> + Send;
    /// Every attempt of a run, in order.
    fn attempts(&self, run_id: &str) -> impl Future<Output = Result<Vec<AttemptRecord>>> + Send;
    /// The bytes of a component.
    fn component(&self, digest: &str) -> impl Future<Output = Result<Option<Vec<u8>>>> + Send;
    /// Every plugin version.
    fn plugins(&self) -> impl Future<Output = Result<Vec<PluginRecord>>> + Send;
    /// Every saved workflow version (name, version).
    fn workflow_versions(&self) -> impl Future<Output = Result<Vec<(String, i64)>>> + Send;
    /// One workflow version, or the newest with `version: None`.
    fn workflow_version(
        &self,
        name: &str,
        version: Option<i64>,
    ) -> impl Future<Output = Result<Option<WorkflowVersionRecord>>> + Send;
}

/// One write transaction of the engine's writer. Nothing is visible to
/// others, or durable, before [`commit`](StoreTx::commit).
pub trait StoreTx: AuditLog + OrchestrationTx + CapabilityTx + Send + Sync {
    /// Makes every change durable at once.
    fn commit(self) -> impl Future<Output = Result<()>> + Send;

    /// Stores component bytes under their digest (idempotent).
    fn put_component(
        &mut self,
        digest: &str,
        bytes: &[u8],
        now: i64,
    ) -> impl Future<Output = Result<()>> + Send;
    /// One plugin version.
    fn plugin(
        &mut self,
        name: &str,
        version: &str,
    ) -> impl Future<Output = Result<Option<PluginRecord>>> + Send;
    /// Adds a plugin version.
    fn insert_plugin(&mut self, plugin: &PluginRecord) -> impl Future<Output = Result<()>> + Send;
    /// Saves a new version of a workflow and returns its number.
    fn insert_workflow_version(
        &mut self,
        version: &NewWorkflowVersion,
    ) -> impl Future<Output = Result<i64>> + Send;

    /// These runs (those that exist).
    fn runs_by_ids(
        &mut self,
        ids: &[String],
    ) -> impl Future<Output = Result<Vec<RunRecord>>> + Send;
    /// The run started with this idempotency key.
    fn run_by_key(
        &mut self,
        workflow: &str,
        key: &str,
    ) -> impl Future<Output = Result<Option<RunRecord>>> + Send;
    /// Inserts runs, or overwrites the mutable fields (status, output,
    /// error, timestamps) of those that exist.
    fn put_runs(&mut self, runs: &[RunRecord]) -> impl Future<Output = Result<()>> + Send;

    /// The rows of these runs: only the step-level ones (`item = -1`), or
    /// with `elements` every row.
    fn rows_of_runs(
        &mut self,
        run_ids: &[String],
        elements: bool,
    ) -> impl Future<Output = Result<Vec<StepRecord>>> + Send;
    /// These rows (those that exist), by (run, step, item).
    fn rows_by_keys(
        &mut self,
        keys: &[(String, String, i64)],
    ) -> impl Future<Output = Result<Vec<StepRecord>>> + Send;
    /// The element rows of a for_each step, in order.
    fn item_rows(
        &mut self,
        run_id: &str,
        step_id: &str,
    ) -> impl Future<Output = Result<Vec<StepRecord>>> + Send;
    /// Inserts or overwrites rows.
    fn put_steps(&mut self, steps: &[StepRecord]) -> impl Future<Output = Result<()>> + Send;

    /// Leases up to `limit` ready rows due by `now` to `owner`, fairly
    /// between runs, and counts the attempt.
    fn claim(
        &mut self,
        owner: &str,
        now: i64,
        lease_until: i64,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<StepRecord>>> + Send;
    /// Waiting rows whose timer is due by `now`.
    fn due_timers(
        &mut self,
        now: i64,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<StepRecord>>> + Send;
    /// The highest queue position among ready rows (0 when none).
    fn max_queue_seq(&mut self) -> impl Future<Output = Result<i64>> + Send;
    /// When the next ready row and the next timer are due.
    fn next_due(&mut self) -> impl Future<Output = Result<NextDue>> + Send;
    /// Running rows whose lease ended before `now` (their worker died).
    fn expired_leases(&mut self, now: i64) -> impl Future<Output = Result<Vec<StepRecord>>> + Send;
    /// Extends every lease `owner` holds.
    fn renew_leases(&mut self, owner: &str, until: i64) -> impl Future<Output = Result<()>> + Send;

    /// Records the start of attempts.
    fn insert_attempts(
        &mut self,
        attempts: &[AttemptRecord],
    ) -> impl Future<Output = Result<()>> + Send;
    /// Stores events; for each, its `seq`, or `None` when an event with the
    /// same `source` and `id` is already stored (a redelivery).
    fn insert_events(
        &mut self,
        events: &[EventRecord],
    ) -> impl Future<Output = Result<Vec<Option<i64>>>> + Send;

    /// Records the end of attempts (status, output, error, logs, end time).
    fn finish_attempts(
        &mut self,
        attempts: &[AttemptRecord],
    ) -> impl Future<Output = Result<()>> + Send;
}
