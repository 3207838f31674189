//! Reads outside any transaction, on the read pool.

use super::rows::*;
use super::*;

impl Store for SqliteStore {
    type Tx = SqliteTx;

    async fn begin(&self) -> Result<SqliteTx> {
        if self.checkpointer.restart_wanted() {
            // Between transactions the writer connection waits for nobody:
            // this copies what the checkpointer left, so the log starts
            // over at this transaction's first write.
            sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                .execute(&self.writer)
                .await?;
        }
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
        row.as_ref().map(version_from_row).transpose()
    }
}
