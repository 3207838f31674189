//! The SQLite backend: one embedded database file.
//!
//! The file is opened in WAL mode with `synchronous=FULL` (a committed
//! transaction survives power loss), foreign keys on and a busy timeout, and
//! the migrations in `runtime/migrations` run on open. Writes go through a
//! single connection (the engine has one writer, which batches its work into
//! few transactions); reads use a small pool of their own, and the
//! write-ahead log is copied back by a checkpointer of its own.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Row, Sqlite, Transaction};

use super::{
    AttemptRecord, EventRecord, NewWorkflowVersion, NextDue, PluginRecord, Result, RunRecord,
    RunStatus, StepRecord, Store, StoreError, StoreTx, WorkflowVersionRecord,
};

/// How long a connection waits for a lock held by another process.
pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Read connections.
pub const DEFAULT_READERS: u32 = 4;
/// Bytes the write-ahead log file is cut back to once fully copied.
///
/// Above what sustained load fills between two restarts of the log (about
/// 100 MiB a second on the ingestion benchmark): when the limit was lower
/// (64 MiB), every restart cut the file back and the next commits grew it
/// again, and those size changes made each restart's commits take 15 to 30
/// ms. Under this size the file is overwritten in place.
const JOURNAL_SIZE_LIMIT: i64 = 256 * 1024 * 1024;

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
    checkpointer: std::sync::Arc<checkpoint::Checkpointer>,
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
            // The one writer connection is only used by this process;
            // pinging it before every transaction would cost a round trip.
            .test_before_acquire(false)
            .acquire_timeout(Duration::from_secs(60))
            // The checkpointer copies the log back instead (see
            // `checkpoint`), and the log file is cut back after it.
            .connect_with(
                connect
                    .clone()
                    .pragma("wal_autocheckpoint", "0")
                    .pragma("journal_size_limit", JOURNAL_SIZE_LIMIT.to_string()),
            )
            .await?;
        sqlx::migrate!("./migrations").run(&writer).await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(options.readers.max(1))
            .connect_with(connect.clone().read_only(true))
            .await?;
        let checkpointer = checkpoint::Checkpointer::start(connect).await?;
        Ok(SqliteStore {
            writer,
            reader,
            path: options.path.clone(),
            checkpointer,
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
        self.checkpointer.stop();
        self.reader.close().await;
        self.writer.close().await;
    }
}

/// A write transaction on the SQLite store.
pub struct SqliteTx(Transaction<'static, Sqlite>);

macro_rules! run_columns {
    () => {
        "id, workflow, version, status, input, output, error, idempotency_key, \
     parent_run, parent_step, parent_item, depth, created_at, updated_at, finished_at, \
     started_by, event_seq"
    };
}
macro_rules! step_columns {
    () => {
        "run_id, step_id, item, status, kind, plugin, digest, timeout_ms, input, \
     output, error_kind, error_message, attempts, failures, items_total, items_done, child_run, \
     due_at, lease_owner, lease_until, created_at, started_at, finished_at, queue_seq"
    };
}
macro_rules! attempt_columns {
    () => {
        "run_id, step_id, item, attempt, status, worker, output, error_kind, \
     error_message, logs, logs_dropped, started_at, finished_at"
    };
}

mod api;
mod audit;
mod capabilities;
mod checkpoint;
mod orchestration;
mod reads;
mod rows;
mod tx;
