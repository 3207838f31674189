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
//! has been copied; when sustained writes keep that from happening, the
//! writer finishes the copy past [`RESTART_ABOVE_FRAMES`].
//! `journal_size_limit` (256 MiB) keeps the file from staying larger.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sqlx::ConnectOptions;
use sqlx::sqlite::SqliteConnectOptions;
use tokio_util::sync::CancellationToken;

/// How often the log is copied back. Each copy ends with an `fsync` of the
/// database file, which the filesystem lets delay the writer's commits a
/// little, so rarer is better as long as the log stays modest: on the HTTP
/// benchmarks (2 cores), every 20 to 200 ms gave p99 spikes of 20 to 60 ms,
/// every second keeps p99 under 10 ms, and SQLite's own checkpoint inside
/// a commit gave spikes of 80 ms.
pub const INTERVAL: Duration = Duration::from_secs(1);

/// Log frames (pages) above which the writer is asked to finish the copy.
///
/// Under sustained writes a `PASSIVE` checkpoint from this connection never
/// finds the log fully copied (the writer appends meanwhile), so SQLite
/// never starts it over and it would grow without end. Past this size
/// (about 32 MiB) the checkpointer raises [`Checkpointer::restart_wanted`];
/// the writer's next transaction first copies the few frames left, on its
/// own connection between transactions (nothing to wait for: it is the only
/// writer), and the log starts over at that transaction's first write.
pub const RESTART_ABOVE_FRAMES: i64 = 8192;

/// One round: a passive copy; whether the log is long.
async fn checkpoint(connection: &mut sqlx::SqliteConnection) -> Result<bool, sqlx::Error> {
    use sqlx::Row;
    let row = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
        .fetch_one(&mut *connection)
        .await?;
    let frames: i64 = row.try_get(1)?;
    Ok(frames > RESTART_ABOVE_FRAMES)
}

/// Stops the task when the last handle of the store is dropped.
#[derive(Debug)]
pub struct Checkpointer {
    stop: CancellationToken,
    restart: Arc<AtomicBool>,
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl Checkpointer {
    /// Opens the checkpointer's connection and starts its task.
    pub async fn start(options: SqliteConnectOptions) -> super::Result<Arc<Checkpointer>> {
        let mut connection = options.connect().await?;
        let stop = CancellationToken::new();
        let token = stop.clone();
        let restart = Arc::new(AtomicBool::new(false));
        let wanted = restart.clone();
        tokio::spawn(async move {
            let mut failures = 0_u32;
            loop {
                tokio::select! {
                    () = token.cancelled() => break,
                    () = tokio::time::sleep(INTERVAL) => {}
                }
                match checkpoint(&mut connection).await {
                    Ok(long) => {
                        failures = 0;
                        if long {
                            wanted.store(true, Ordering::Relaxed);
                        }
                    }
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
        Ok(Arc::new(Checkpointer { stop, restart }))
    }

    /// Whether the writer should finish copying the log before its next
    /// transaction (asked once: the flag is cleared).
    pub fn restart_wanted(&self) -> bool {
        self.restart.swap(false, Ordering::Relaxed)
    }

    /// Stops the task.
    pub fn stop(&self) {
        self.stop.cancel();
    }
}
