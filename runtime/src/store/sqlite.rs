//! The SQLite backend: one embedded database file.
//!
//! The file is opened in WAL mode with `synchronous=FULL` (a committed
//! transaction survives power loss), foreign keys on and a busy timeout, and
//! the migrations in `runtime/migrations` run on open. Writes go through a
//! single connection (the engine has one writer, which batches its work into
//! few transactions); reads use a small pool of their own.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Row, Sqlite, Transaction};

use super::{
    AttemptRecord, NewWorkflowVersion, PluginRecord, Result, RunRecord, RunStatus, StepRecord,
    Store, StoreError, StoreTx, WorkflowVersionRecord,
};

/// How long a connection waits for a lock held by another process.
pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Read connections.
pub const DEFAULT_READERS: u32 = 4;

/// How to open the database.
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// The database file (created if missing).
    pub path: PathBuf,
    /// Lock wait.
    pub busy_timeout: Duration,
    /// Read connections.
    pub readers: u32,
}

impl SqliteOptions {
    /// Defaults for the file at `path`.
    pub fn new(path: impl Into<PathBuf>) -> SqliteOptions {
        SqliteOptions {
            path: path.into(),
            busy_timeout: DEFAULT_BUSY_TIMEOUT,
            readers: DEFAULT_READERS,
        }
    }
}

/// The SQLite store.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
    path: PathBuf,
}

impl SqliteStore {
    /// Opens (or creates) the database and applies pending migrations.
    pub async fn open(options: &SqliteOptions) -> Result<SqliteStore> {
        let connect = SqliteConnectOptions::new()
            .filename(&options.path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(options.busy_timeout);
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(60))
            .connect_with(connect.clone())
            .await?;
        sqlx::migrate!("./migrations").run(&writer).await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(options.readers.max(1))
            .connect_with(connect.read_only(true))
            .await?;
        Ok(SqliteStore {
            writer,
            reader,
            path: options.path.clone(),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the database answers and its schema is current.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.reader).await?;
        Ok(())
    }

    /// Closes every connection (checkpointing the WAL).
    pub async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }
}

/// A write transaction on the SQLite store.
pub struct SqliteTx(Transaction<'static, Sqlite>);

macro_rules! run_columns {
    () => {
        "id, workflow, version, status, input, output, error, idempotency_key, \
     parent_run, parent_step, parent_item, depth, created_at, updated_at, finished_at"
    };
}
macro_rules! step_columns {
    () => {
        "run_id, step_id, item, status, kind, plugin, digest, timeout_ms, input, \
     output, error_kind, error_message, attempts, failures, items_total, items_done, child_run, \
     due_at, lease_owner, lease_until, created_at, started_at, finished_at"
    };
}
macro_rules! attempt_columns {
    () => {
        "run_id, step_id, item, attempt, status, worker, output, error_kind, \
     error_message, logs, logs_dropped, started_at, finished_at"
    };
}

fn run_from_row(row: &SqliteRow) -> Result<RunRecord> {
    Ok(RunRecord {
        id: row.try_get("id")?,
        workflow: row.try_get("workflow")?,
        version: row.try_get("version")?,
        status: RunStatus::from_str(row.try_get("status")?)?,
        input: row.try_get("input")?,
        output: row.try_get("output")?,
        error: row.try_get("error")?,
        idempotency_key: row.try_get("idempotency_key")?,
        parent_run: row.try_get("parent_run")?,
        parent_step: row.try_get("parent_step")?,
        parent_item: row.try_get("parent_item")?,
        depth: row.try_get("depth")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        finished_at: row.try_get("finished_at")?,
    })
}

fn step_from_row(row: &SqliteRow) -> Result<StepRecord> {
    Ok(StepRecord {
        run_id: row.try_get("run_id")?,
        step_id: row.try_get("step_id")?,
        item: row.try_get("item")?,
        status: super::StepStatus::from_str(row.try_get("status")?)?,
        kind: row.try_get("kind")?,
        plugin: row.try_get("plugin")?,
        digest: row.try_get("digest")?,
        timeout_ms: row.try_get("timeout_ms")?,
        input: row.try_get("input")?,
        output: row.try_get("output")?,
        error_kind: row.try_get("error_kind")?,
        error_message: row.try_get("error_message")?,
        attempts: row.try_get("attempts")?,
        failures: row.try_get("failures")?,
        items_total: row.try_get("items_total")?,
        items_done: row.try_get("items_done")?,
        child_run: row.try_get("child_run")?,
        due_at: row.try_get("due_at")?,
        lease_owner: row.try_get("lease_owner")?,
        lease_until: row.try_get("lease_until")?,
        created_at: row.try_get("created_at")?,
        started_at: row.try_get("started_at")?,
        finished_at: row.try_get("finished_at")?,
    })
}

fn attempt_from_row(row: &SqliteRow) -> Result<AttemptRecord> {
    Ok(AttemptRecord {
        run_id: row.try_get("run_id")?,
        step_id: row.try_get("step_id")?,
        item: row.try_get("item")?,
        attempt: row.try_get("attempt")?,
        status: row.try_get("status")?,
        worker: row.try_get("worker")?,
        output: row.try_get("output")?,
        error_kind: row.try_get("error_kind")?,
        error_message: row.try_get("error_message")?,
        logs: row.try_get("logs")?,
        logs_dropped: row.try_get("logs_dropped")?,
        started_at: row.try_get("started_at")?,
        finished_at: row.try_get("finished_at")?,
    })
}

fn plugin_from_row(row: &SqliteRow) -> Result<PluginRecord> {
    Ok(PluginRecord {
        name: row.try_get("name")?,
        version: row.try_get("version")?,
        digest: row.try_get("digest")?,
        info: row.try_get("info")?,
        created_at: row.try_get("created_at")?,
    })
}

fn collect<T>(rows: Vec<SqliteRow>, map: fn(&SqliteRow) -> Result<T>) -> Result<Vec<T>> {
    rows.iter().map(map).collect()
}

impl Store for SqliteStore {
    type Tx = SqliteTx;

    async fn begin(&self) -> Result<SqliteTx> {
        // IMMEDIATE: take the write lock now, not on the first write, so a
        // transaction never fails half-way on a lock upgrade.
        Ok(SqliteTx(self.writer.begin_with("BEGIN IMMEDIATE").await?))
    }

    async fn run(&self, id: &str) -> Result<Option<RunRecord>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            run_columns!(),
            " FROM runs WHERE id = ?"
        ))
        .bind(id)
        .fetch_optional(&self.reader)
        .await?;
        row.as_ref().map(run_from_row).transpose()
    }

    async fn runs(&self, status: Option<RunStatus>, limit: u32) -> Result<Vec<RunRecord>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            run_columns!(),
            " FROM runs WHERE (?1 IS NULL OR status = ?1) \
             ORDER BY created_at DESC, id DESC LIMIT ?2"
        ))
        .bind(status.map(RunStatus::as_str))
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await?;
        collect(rows, run_from_row)
    }

    async fn steps(&self, run_id: &str) -> Result<Vec<StepRecord>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            step_columns!(),
            " FROM steps WHERE run_id = ? ORDER BY created_at, step_id, item"
        ))
        .bind(run_id)
        .fetch_all(&self.reader)
        .await?;
        collect(rows, step_from_row)
    }

    async fn attempts(&self, run_id: &str) -> Result<Vec<AttemptRecord>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            attempt_columns!(),
            " FROM attempts WHERE run_id = ? \
             ORDER BY started_at, step_id, item, attempt"
        ))
        .bind(run_id)
        .fetch_all(&self.reader)
        .await?;
        collect(rows, attempt_from_row)
    }

    async fn component(&self, digest: &str) -> Result<Option<Vec<u8>>> {
        let row = sqlx::query("SELECT bytes FROM components WHERE digest = ?")
            .bind(digest)
            .fetch_optional(&self.reader)
            .await?;
        Ok(row.map(|row| row.try_get("bytes")).transpose()?)
    }

    async fn plugins(&self) -> Result<Vec<PluginRecord>> {
        let rows = sqlx::query(
            "SELECT name, version, digest, info, created_at FROM plugins ORDER BY name, created_at",
        )
        .fetch_all(&self.reader)
        .await?;
        collect(rows, plugin_from_row)
    }

    async fn workflow_versions(&self) -> Result<Vec<(String, i64)>> {
        let rows = sqlx::query("SELECT workflow, version FROM workflow_versions")
            .fetch_all(&self.reader)
            .await?;
        rows.iter()
            .map(|row| Ok((row.try_get("workflow")?, row.try_get("version")?)))
            .collect()
    }

    async fn workflow_version(
        &self,
        name: &str,
        version: Option<i64>,
    ) -> Result<Option<WorkflowVersionRecord>> {
        let row = sqlx::query(
            "SELECT workflow, version, definition, source, created_at FROM workflow_versions \
             WHERE workflow = ?1 AND version = COALESCE(?2, \
               (SELECT latest_version FROM workflows WHERE name = ?1))",
        )
        .bind(name)
        .bind(version)
        .fetch_optional(&self.reader)
        .await?;
        row.map(|row| {
            Ok(WorkflowVersionRecord {
                workflow: row.try_get("workflow")?,
                version: row.try_get("version")?,
                definition: row.try_get("definition")?,
                source: row.try_get("source")?,
                created_at: row.try_get("created_at")?,
            })
        })
        .transpose()
    }
}

impl StoreTx for SqliteTx {
    async fn commit(self) -> Result<()> {
        Ok(self.0.commit().await?)
    }

    async fn put_component(&mut self, digest: &str, bytes: &[u8], now: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO components (digest, bytes, created_at) VALUES (?, ?, ?) \
             ON CONFLICT (digest) DO NOTHING",
        )
        .bind(digest)
        .bind(bytes)
        .bind(now)
        .execute(&mut *self.0)
        .await?;
        Ok(())
    }

    async fn plugin(&mut self, name: &str, version: &str) -> Result<Option<PluginRecord>> {
        let row = sqlx::query(
            "SELECT name, version, digest, info, created_at FROM plugins \
             WHERE name = ? AND version = ?",
        )
        .bind(name)
        .bind(version)
        .fetch_optional(&mut *self.0)
        .await?;
        row.as_ref().map(plugin_from_row).transpose()
    }

    async fn insert_plugin(&mut self, plugin: &PluginRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO plugins (name, version, digest, info, created_at) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(&plugin.name)
        .bind(&plugin.version)
        .bind(&plugin.digest)
        .bind(&plugin.info)
        .bind(plugin.created_at)
        .execute(&mut *self.0)
        .await?;
        Ok(())
    }

    async fn insert_workflow_version(&mut self, new: &NewWorkflowVersion) -> Result<i64> {
        let row = sqlx::query(
            "INSERT INTO workflows (name, latest_version, created_at, updated_at) \
             VALUES (?1, 1, ?2, ?2) \
             ON CONFLICT (name) DO UPDATE SET latest_version = latest_version + 1, updated_at = ?2 \
             RETURNING latest_version",
        )
        .bind(&new.name)
        .bind(new.now)
        .fetch_one(&mut *self.0)
        .await?;
        let version: i64 = row.try_get("latest_version")?;
        sqlx::query(
            "INSERT INTO workflow_versions (workflow, version, definition, source, created_at) \
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(&new.name)
        .bind(version)
        .bind(&new.definition)
        .bind(&new.source)
        .bind(new.now)
        .execute(&mut *self.0)
        .await?;
        for (plugin, plugin_version, digest) in &new.plugins {
            sqlx::query(
                "INSERT INTO workflow_plugins (workflow, version, plugin, plugin_version, digest) \
                 VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            )
            .bind(&new.name)
            .bind(version)
            .bind(plugin)
            .bind(plugin_version)
            .bind(digest)
            .execute(&mut *self.0)
            .await?;
        }
        Ok(version)
    }

    async fn run(&mut self, id: &str) -> Result<Option<RunRecord>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            run_columns!(),
            " FROM runs WHERE id = ?"
        ))
        .bind(id)
        .fetch_optional(&mut *self.0)
        .await?;
        row.as_ref().map(run_from_row).transpose()
    }

    async fn run_by_key(&mut self, workflow: &str, key: &str) -> Result<Option<RunRecord>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            run_columns!(),
            " FROM runs WHERE workflow = ? AND idempotency_key = ?"
        ))
        .bind(workflow)
        .bind(key)
        .fetch_optional(&mut *self.0)
        .await?;
        row.as_ref().map(run_from_row).transpose()
    }

    async fn insert_run(&mut self, run: &RunRecord) -> Result<()> {
        sqlx::query(concat!(
            "INSERT INTO runs (",
            run_columns!(),
            ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        ))
        .bind(&run.id)
        .bind(&run.workflow)
        .bind(run.version)
        .bind(run.status.as_str())
        .bind(&run.input)
        .bind(&run.output)
        .bind(&run.error)
        .bind(&run.idempotency_key)
        .bind(&run.parent_run)
        .bind(&run.parent_step)
        .bind(run.parent_item)
        .bind(run.depth)
        .bind(run.created_at)
        .bind(run.updated_at)
        .bind(run.finished_at)
        .execute(&mut *self.0)
        .await?;
        Ok(())
    }

    async fn update_run(&mut self, run: &RunRecord) -> Result<()> {
        sqlx::query(
            "UPDATE runs SET status = ?, output = ?, error = ?, updated_at = ?, finished_at = ? \
             WHERE id = ?",
        )
        .bind(run.status.as_str())
        .bind(&run.output)
        .bind(&run.error)
        .bind(run.updated_at)
        .bind(run.finished_at)
        .bind(&run.id)
        .execute(&mut *self.0)
        .await?;
        Ok(())
    }

    async fn child_runs(&mut self, parent: &str) -> Result<Vec<RunRecord>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            run_columns!(),
            " FROM runs WHERE parent_run = ?"
        ))
        .bind(parent)
        .fetch_all(&mut *self.0)
        .await?;
        collect(rows, run_from_row)
    }

    async fn active_runs(&mut self) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT id FROM runs WHERE status IN ('running', 'compensating') ORDER BY created_at",
        )
        .fetch_all(&mut *self.0)
        .await?;
        rows.iter().map(|row| Ok(row.try_get("id")?)).collect()
    }

    async fn step_rows(&mut self, run_id: &str) -> Result<Vec<StepRecord>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            step_columns!(),
            " FROM steps WHERE run_id = ? AND item = -1"
        ))
        .bind(run_id)
        .fetch_all(&mut *self.0)
        .await?;
        collect(rows, step_from_row)
    }

    async fn item_rows(&mut self, run_id: &str, step_id: &str) -> Result<Vec<StepRecord>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            step_columns!(),
            " FROM steps WHERE run_id = ? AND step_id = ? AND item >= 0 \
             ORDER BY item"
        ))
        .bind(run_id)
        .bind(step_id)
        .fetch_all(&mut *self.0)
        .await?;
        collect(rows, step_from_row)
    }

    async fn step_row(
        &mut self,
        run_id: &str,
        step_id: &str,
        item: i64,
    ) -> Result<Option<StepRecord>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            step_columns!(),
            " FROM steps WHERE run_id = ? AND step_id = ? AND item = ?"
        ))
        .bind(run_id)
        .bind(step_id)
        .bind(item)
        .fetch_optional(&mut *self.0)
        .await?;
        row.as_ref().map(step_from_row).transpose()
    }

    async fn pending_items(
        &mut self,
        run_id: &str,
        step_id: &str,
        limit: i64,
    ) -> Result<Vec<StepRecord>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            step_columns!(),
            " FROM steps WHERE run_id = ? AND step_id = ? AND item >= 0 \
             AND status = 'pending' ORDER BY item LIMIT ?"
        ))
        .bind(run_id)
        .bind(step_id)
        .bind(limit)
        .fetch_all(&mut *self.0)
        .await?;
        collect(rows, step_from_row)
    }

    async fn unfinished_rows(&mut self, run_id: &str) -> Result<Vec<StepRecord>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            step_columns!(),
            " FROM steps WHERE run_id = ? \
             AND status IN ('pending', 'ready', 'running', 'waiting')"
        ))
        .bind(run_id)
        .fetch_all(&mut *self.0)
        .await?;
        collect(rows, step_from_row)
    }

    async fn put_step(&mut self, step: &StepRecord) -> Result<()> {
        sqlx::query(concat!(
            "INSERT INTO steps (",
            step_columns!(),
            ") VALUES \
             (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT (run_id, step_id, item) DO UPDATE SET \
             status = excluded.status, kind = excluded.kind, plugin = excluded.plugin, \
             digest = excluded.digest, timeout_ms = excluded.timeout_ms, input = excluded.input, \
             output = excluded.output, error_kind = excluded.error_kind, \
             error_message = excluded.error_message, attempts = excluded.attempts, \
             failures = excluded.failures, items_total = excluded.items_total, \
             items_done = excluded.items_done, child_run = excluded.child_run, \
             due_at = excluded.due_at, lease_owner = excluded.lease_owner, \
             lease_until = excluded.lease_until, started_at = excluded.started_at, \
             finished_at = excluded.finished_at"
        ))
        .bind(&step.run_id)
        .bind(&step.step_id)
        .bind(step.item)
        .bind(step.status.as_str())
        .bind(&step.kind)
        .bind(&step.plugin)
        .bind(&step.digest)
        .bind(step.timeout_ms)
        .bind(&step.input)
        .bind(&step.output)
        .bind(&step.error_kind)
        .bind(&step.error_message)
        .bind(step.attempts)
        .bind(step.failures)
        .bind(step.items_total)
        .bind(step.items_done)
        .bind(&step.child_run)
        .bind(step.due_at)
        .bind(&step.lease_owner)
        .bind(step.lease_until)
        .bind(step.created_at)
        .bind(step.started_at)
        .bind(step.finished_at)
        .execute(&mut *self.0)
        .await?;
        Ok(())
    }

    async fn claim(
        &mut self,
        owner: &str,
        now: i64,
        lease_until: i64,
        limit: i64,
    ) -> Result<Vec<StepRecord>> {
        // Fair between runs: each run's due rows are numbered by age, and the
        // first of every run is taken before the second of any.
        let rows = sqlx::query(concat!(
            "UPDATE steps SET status = 'running', lease_owner = ?1, lease_until = ?2, \
               attempts = attempts + 1, started_at = COALESCE(started_at, ?3) \
             WHERE (run_id, step_id, item) IN ( \
               SELECT run_id, step_id, item FROM ( \
                 SELECT run_id, step_id, item, due_at, ROW_NUMBER() OVER \
                   (PARTITION BY run_id ORDER BY due_at, created_at, step_id, item) AS turn \
                 FROM steps WHERE status = 'ready' AND due_at <= ?3) \
               ORDER BY turn, due_at LIMIT ?4) \
             RETURNING ",
            step_columns!(),
            ""
        ))
        .bind(owner)
        .bind(lease_until)
        .bind(now)
        .bind(limit)
        .fetch_all(&mut *self.0)
        .await?;
        collect(rows, step_from_row)
    }

    async fn due_timers(&mut self, now: i64, limit: i64) -> Result<Vec<StepRecord>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            step_columns!(),
            " FROM steps WHERE status = 'waiting' AND due_at <= ? \
             ORDER BY due_at LIMIT ?"
        ))
        .bind(now)
        .bind(limit)
        .fetch_all(&mut *self.0)
        .await?;
        collect(rows, step_from_row)
    }

    async fn next_due(&mut self) -> Result<Option<i64>> {
        let row = sqlx::query(
            "SELECT MIN(due) AS due FROM ( \
               SELECT MIN(due_at) AS due FROM steps WHERE status = 'ready' \
               UNION ALL SELECT MIN(due_at) FROM steps WHERE status = 'waiting' \
               UNION ALL SELECT MIN(lease_until) FROM steps WHERE status = 'running')",
        )
        .fetch_one(&mut *self.0)
        .await?;
        Ok(row.try_get("due")?)
    }

    async fn expired_leases(&mut self, now: i64) -> Result<Vec<StepRecord>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            step_columns!(),
            " FROM steps WHERE status = 'running' AND lease_until < ?"
        ))
        .bind(now)
        .fetch_all(&mut *self.0)
        .await?;
        collect(rows, step_from_row)
    }

    async fn renew_leases(&mut self, owner: &str, until: i64) -> Result<()> {
        sqlx::query(
            "UPDATE steps SET lease_until = ? WHERE status = 'running' AND lease_owner = ?",
        )
        .bind(until)
        .bind(owner)
        .execute(&mut *self.0)
        .await?;
        Ok(())
    }

    async fn insert_attempt(&mut self, attempt: &AttemptRecord) -> Result<()> {
        sqlx::query(concat!(
            "INSERT INTO attempts (",
            attempt_columns!(),
            ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        ))
        .bind(&attempt.run_id)
        .bind(&attempt.step_id)
        .bind(attempt.item)
        .bind(attempt.attempt)
        .bind(&attempt.status)
        .bind(&attempt.worker)
        .bind(&attempt.output)
        .bind(&attempt.error_kind)
        .bind(&attempt.error_message)
        .bind(&attempt.logs)
        .bind(attempt.logs_dropped)
        .bind(attempt.started_at)
        .bind(attempt.finished_at)
        .execute(&mut *self.0)
        .await
        .map_err(|e| match e {
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(format!(
                "attempt {} of {}/{} is already recorded",
                attempt.attempt, attempt.run_id, attempt.step_id
            )),
            other => other.into(),
        })?;
        Ok(())
    }

    async fn finish_attempt(&mut self, attempt: &AttemptRecord) -> Result<()> {
        sqlx::query(
            "UPDATE attempts SET status = ?, output = ?, error_kind = ?, error_message = ?, \
             logs = ?, logs_dropped = ?, finished_at = ? \
             WHERE run_id = ? AND step_id = ? AND item = ? AND attempt = ?",
        )
        .bind(&attempt.status)
        .bind(&attempt.output)
        .bind(&attempt.error_kind)
        .bind(&attempt.error_message)
        .bind(&attempt.logs)
        .bind(attempt.logs_dropped)
        .bind(attempt.finished_at)
        .bind(&attempt.run_id)
        .bind(&attempt.step_id)
        .bind(attempt.item)
        .bind(attempt.attempt)
        .execute(&mut *self.0)
        .await?;
        Ok(())
    }
}
