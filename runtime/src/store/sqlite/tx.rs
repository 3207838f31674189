//! The writer's transaction: every statement the engine's turns run.

use super::rows::*;
use super::*;

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

    async fn runs_by_ids(&mut self, ids: &[String]) -> Result<Vec<RunRecord>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows = sqlx::query(concat!(
            "SELECT ",
            run_columns!(),
            " FROM runs WHERE id IN (SELECT value FROM json_each(?))"
        ))
        .bind(json_list(ids))
        .fetch_all(&mut *self.0)
        .await?;
        collect(rows, run_from_row)
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

    async fn put_runs(&mut self, runs: &[RunRecord]) -> Result<()> {
        if runs.is_empty() {
            return Ok(());
        }
        let rows: Vec<serde_json::Value> = runs
            .iter()
            .map(|r| {
                serde_json::json!([
                    r.id,
                    r.workflow,
                    r.version,
                    r.status.as_str(),
                    r.input,
                    r.output,
                    r.error,
                    r.idempotency_key,
                    r.parent_run,
                    r.parent_step,
                    r.parent_item,
                    r.depth,
                    r.created_at,
                    r.updated_at,
                    r.finished_at,
                    r.started_by,
                    r.event_seq
                ])
            })
            .collect();
        sqlx::query(concat!(
            "INSERT INTO runs (",
            run_columns!(),
            ") SELECT value->>0, value->>1, value->>2, value->>3, value->>4, value->>5, \
             value->>6, value->>7, value->>8, value->>9, value->>10, value->>11, value->>12, \
             value->>13, value->>14, value->>15, value->>16 FROM jsonb_each(?) WHERE true \
             ON CONFLICT (id) DO UPDATE SET status = excluded.status, output = excluded.output, \
             error = excluded.error, updated_at = excluded.updated_at, \
             finished_at = excluded.finished_at"
        ))
        .bind(serde_json::Value::Array(rows).to_string())
        .execute(&mut *self.0)
        .await
        .map_err(|e| match e {
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(
                "a run with this idempotency key was started at the same time".into(),
            ),
            other => other.into(),
        })?;
        Ok(())
    }

    async fn rows_of_runs(
        &mut self,
        run_ids: &[String],
        elements: bool,
    ) -> Result<Vec<StepRecord>> {
        if run_ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows = sqlx::query(concat!(
            "SELECT ",
            step_columns!(),
            " FROM steps WHERE run_id IN (SELECT value FROM json_each(?1)) AND (?2 OR item = -1)"
        ))
        .bind(json_list(run_ids))
        .bind(elements)
        .fetch_all(&mut *self.0)
        .await?;
        collect(rows, step_from_row)
    }

    async fn rows_by_keys(&mut self, keys: &[(String, String, i64)]) -> Result<Vec<StepRecord>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<serde_json::Value> = keys
            .iter()
            .map(|(run, step, item)| serde_json::json!([run, step, item]))
            .collect();
        let rows = sqlx::query(concat!(
            "SELECT ",
            step_columns!(),
            " FROM steps WHERE (run_id, step_id, item) IN \
             (SELECT value->>0, value->>1, value->>2 FROM json_each(?))"
        ))
        .bind(serde_json::Value::Array(keys).to_string())
        .fetch_all(&mut *self.0)
        .await?;
        collect(rows, step_from_row)
    }

    async fn item_rows(&mut self, run_id: &str, step_id: &str) -> Result<Vec<StepRecord>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            step_columns!(),
            " FROM steps WHERE run_id = ? AND step_id = ? AND item >= 0 ORDER BY item"
        ))
        .bind(run_id)
        .bind(step_id)
        .fetch_all(&mut *self.0)
        .await?;
        collect(rows, step_from_row)
    }

    async fn put_steps(&mut self, steps: &[StepRecord]) -> Result<()> {
        if steps.is_empty() {
            return Ok(());
        }
        let rows: Vec<serde_json::Value> = steps
            .iter()
            .map(|s| {
                serde_json::json!([
                    s.run_id,
                    s.step_id,
                    s.item,
                    s.status.as_str(),
                    s.kind,
                    s.plugin,
                    s.digest,
                    s.timeout_ms,
                    s.input,
                    s.output,
                    s.error_kind,
                    s.error_message,
                    s.attempts,
                    s.failures,
                    s.items_total,
                    s.items_done,
                    s.child_run,
                    s.due_at,
                    s.lease_owner,
                    s.lease_until,
                    s.created_at,
                    s.started_at,
                    s.finished_at,
                    s.queue_seq
                ])
            })
            .collect();
        sqlx::query(concat!(
            "INSERT INTO steps (",
            step_columns!(),
            ") SELECT value->>0, value->>1, value->>2, value->>3, value->>4, value->>5, \
             value->>6, value->>7, value->>8, value->>9, value->>10, value->>11, value->>12, \
             value->>13, value->>14, value->>15, value->>16, value->>17, value->>18, \
             value->>19, value->>20, value->>21, value->>22, value->>23 \
             FROM jsonb_each(?) WHERE true \
             ON CONFLICT (run_id, step_id, item) DO UPDATE SET \
             status = excluded.status, kind = excluded.kind, plugin = excluded.plugin, \
             digest = excluded.digest, timeout_ms = excluded.timeout_ms, input = excluded.input, \
             output = excluded.output, error_kind = excluded.error_kind, \
             error_message = excluded.error_message, attempts = excluded.attempts, \
             failures = excluded.failures, items_total = excluded.items_total, \
             items_done = excluded.items_done, child_run = excluded.child_run, \
             due_at = excluded.due_at, lease_owner = excluded.lease_owner, \
             lease_until = excluded.lease_until, started_at = excluded.started_at, \
             finished_at = excluded.finished_at, queue_seq = excluded.queue_seq"
        ))
        .bind(serde_json::Value::Array(rows).to_string())
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
        // Oldest due first, in the order rows were queued. Fairness between runs comes from how rows
        // become ready: a for_each step releases at most `concurrency`
        // elements at a time, each new wave queued behind what is already
        // waiting, so no run can hold more than that ahead of the others.
        let rows = sqlx::query(concat!(
            "UPDATE steps SET status = 'running', lease_owner = ?1, lease_until = ?2, \
               attempts = attempts + 1, started_at = COALESCE(started_at, ?3) \
             WHERE (run_id, step_id, item) IN ( \
               SELECT run_id, step_id, item FROM steps \
               WHERE status = 'ready' AND due_at <= ?3 ORDER BY due_at, queue_seq LIMIT ?4) \
             RETURNING ",
            step_columns!()
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

    async fn max_queue_seq(&mut self) -> Result<i64> {
        let row = sqlx::query(
            "SELECT COALESCE(MAX(queue_seq), 0) AS seq FROM steps WHERE status = 'ready'",
        )
        .fetch_one(&mut *self.0)
        .await?;
        Ok(row.try_get("seq")?)
    }

    async fn next_due(&mut self) -> Result<NextDue> {
        let row = sqlx::query(
            "SELECT (SELECT MIN(due_at) FROM steps WHERE status = 'ready') AS ready, \
                    (SELECT MIN(due_at) FROM steps WHERE status = 'waiting') AS timer",
        )
        .fetch_one(&mut *self.0)
        .await?;
        Ok(NextDue {
            ready: row.try_get("ready")?,
            timer: row.try_get("timer")?,
        })
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

    async fn insert_attempts(&mut self, attempts: &[AttemptRecord]) -> Result<()> {
        if attempts.is_empty() {
            return Ok(());
        }
        sqlx::query(concat!(
            "INSERT INTO attempts (",
            attempt_columns!(),
            ") SELECT value->>0, value->>1, value->>2, value->>3, value->>4, value->>5, \
             value->>6, value->>7, value->>8, value->>9, value->>10, value->>11, value->>12 \
             FROM jsonb_each(?)"
        ))
        .bind(attempts_json(attempts))
        .execute(&mut *self.0)
        .await
        .map_err(|e| match e {
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                StoreError::Conflict("an attempt is already recorded".into())
            }
            other => other.into(),
        })?;
        Ok(())
    }

    async fn finish_attempts(&mut self, attempts: &[AttemptRecord]) -> Result<()> {
        if attempts.is_empty() {
            return Ok(());
        }
        sqlx::query(
            "UPDATE attempts SET status = u.status, output = u.output, error_kind = u.error_kind, \
             error_message = u.error_message, logs = u.logs, logs_dropped = u.logs_dropped, \
             finished_at = u.finished_at \
             FROM (SELECT value->>0 AS run_id, value->>1 AS step_id, value->>2 AS item, \
               value->>3 AS attempt, value->>4 AS status, value->>6 AS output, \
               value->>7 AS error_kind, value->>8 AS error_message, value->>9 AS logs, \
               value->>10 AS logs_dropped, value->>12 AS finished_at FROM jsonb_each(?)) AS u \
             WHERE attempts.run_id = u.run_id AND attempts.step_id = u.step_id \
               AND attempts.item = u.item AND attempts.attempt = u.attempt",
        )
        .bind(attempts_json(attempts))
        .execute(&mut *self.0)
        .await?;
        Ok(())
    }

    async fn insert_events(&mut self, events: &[EventRecord]) -> Result<Vec<Option<i64>>> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let rows: Vec<serde_json::Value> = events
            .iter()
            .map(|e| {
                serde_json::json!([
                    e.id,
                    e.source,
                    e.kind,
                    e.subject,
                    e.time,
                    e.datacontenttype,
                    e.dataschema,
                    e.data,
                    e.data_base64,
                    e.extensions,
                    e.received_at,
                    e.received_by
                ])
            })
            .collect();
        // One statement for the batch, in order; `WHERE true` keeps SQLite
        // from reading ON CONFLICT as a join constraint.
        let inserted = sqlx::query(
            "INSERT INTO events (id, source, type, subject, time, datacontenttype, dataschema, \
             data, data_base64, extensions, received_at, received_by) \
             SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, \
             value ->> 6, value ->> 7, value ->> 8, value ->> 9, value ->> 10, value ->> 11 \
             FROM json_each(?) WHERE true ORDER BY key \
             ON CONFLICT (source, id) DO NOTHING RETURNING seq, source, id",
        )
        .bind(serde_json::Value::Array(rows).to_string())
        .fetch_all(&mut *self.0)
        .await?;
        let mut seqs = std::collections::HashMap::new();
        for row in &inserted {
            let key: (String, String) = (row.try_get("source")?, row.try_get("id")?);
            seqs.insert(key, row.try_get::<i64, _>("seq")?);
        }
        // A second copy of an event in the same batch is a duplicate.
        Ok(events
            .iter()
            .map(|e| seqs.remove(&(e.source.clone(), e.id.clone())))
            .collect())
    }
}
