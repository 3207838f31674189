//! The WAL checkpointer: copies committed pages from the write-ahead log
//! into the database file on a connection of its own, so the writer's
//! commits never pay for it.
//!
//! SQLite's automatic checkpoint runs inside the commit that crosses its
//! threshold, with the `fsync`s of the database file, which stalls every
//! caller waiting on that commit (tens of milliseconds under load). The
//! writer connection turns it off and this task runs a `PASSIVE`
//! checkpoint every [`INTERVAL`] instead: it never blocks the writer or the
//! readers, and SQLite restarts the log from its beginning once every frame
//! has been copied. `journal_size_limit` keeps the file from staying large.

use std::sync::Arc;
use std::time::Duration;

use sqlx::ConnectOptions;
use sqlx::sqlite::SqliteConnectOptions;
use tokio_util::sync::CancellationToken;

/// How often the log is copied back.
pub const INTERVAL: Duration = Duration::from_millis(200);

/// Stops the task when the last handle of the store is dropped.
#[derive(Debug)]
pub struct Checkpointer(CancellationToken);

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

impl Checkpointer {
    /// Opens the checkpointer's connection and starts its task.
    pub async fn start(options: SqliteConnectOptions) -> super::Result<Arc<Checkpointer>> {
        let mut connection = options.connect().await?;
        let stop = CancellationToken::new();
        let token = stop.clone();
        tokio::spawn(async move {
            let mut failures = 0_u32;
            loop {
                tokio::select! {
                    () = token.cancelled() => break,
                    () = tokio::time::sleep(INTERVAL) => {}
                }
                match sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                    .execute(&mut connection)
                    .await
                {
                    Ok(_) => failures = 0,
                    Err(error) => {
                        failures += 1;
                        // A busy database is normal now and then; say so
                        // once it persists.
                        if failures == 10 {
                            tracing::warn!(%error, "the WAL checkpoint keeps failing");
                        }
                    }
                }
            }
        });
        Ok(Arc::new(Checkpointer(stop)))
    }

    /// Stops the task.
    pub fn stop(&self) {
        self.0.cancel();
    }
}
