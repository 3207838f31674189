//! The SQLite statements of resources, event consequences, correlations,
//! approvals and schedule state.

use super::rows::*;
use super::*;
use crate::store::{
    ApprovalQuery, ApprovalRecord, CorrelationRecord, EventMatchRecord, OrchestrationReads,
    OrchestrationTx, ResourceRecord, ScheduleStateRecord,
};

use super::api::event_from_row;

macro_rules! event_columns {
    () => {
        "seq, id, source, type, subject, time, datacontenttype, dataschema, data, data_base64, \
         extensions, received_at, received_by"
    };
}
macro_rules! resource_columns {
    () => {
        "kind, name, spec, revision, created_at, updated_at"
    };
}
macro_rules! approval_columns {
    () => {
        "id, run_id, step_id, item, gate, policy, status, approvers, message, requested_by, \
         on_timeout, deadline, decided_by, comment, created_at, decided_at"
    };
}

fn resource_from_row(row: &SqliteRow) -> Result<ResourceRecord> {
    Ok(ResourceRecord {
        kind: row.try_get(0)?,
        name: row.try_get(1)?,
        spec: row.try_get(2)?,
        revision: row.try_get(3)?,
        created_at: row.try_get(4)?,
        updated_at: row.try_get(5)?,
    })
}

fn approval_from_row(row: &SqliteRow) -> Result<ApprovalRecord> {
    Ok(ApprovalRecord {
        id: row.try_get(0)?,
        run_id: row.try_get(1)?,
        step_id: row.try_get(2)?,
        item: row.try_get(3)?,
        gate: row.try_get(4)?,
        policy: row.try_get(5)?,
        status: row.try_get(6)?,
        approvers: row.try_get(7)?,
        message: row.try_get(8)?,
        requested_by: row.try_get(9)?,
        on_timeout: row.try_get(10)?,
        deadline: row.try_get(11)?,
        decided_by: row.try_get(12)?,
        comment: row.try_get(13)?,
        created_at: row.try_get(14)?,
        decided_at: row.try_get(15)?,
    })
}

fn match_from_row(row: &SqliteRow) -> Result<EventMatchRecord> {
    Ok(EventMatchRecord {
        seq: row.try_get(0)?,
        rule: row.try_get(1)?,
        outcome: row.try_get(2)?,
        run_id: row.try_get(3)?,
        step_id: row.try_get(4)?,
        detail: row.try_get(5)?,
        at: row.try_get(6)?,
    })
}

fn schedule_from_row(row: &SqliteRow) -> Result<ScheduleStateRecord> {
    Ok(ScheduleStateRecord {
        name: row.try_get(0)?,
        next_at: row.try_get(1)?,
        last_at: row.try_get(2)?,
        last_run: row.try_get(3)?,
        queued_at: row.try_get(4)?,
    })
}

impl OrchestrationTx for SqliteTx {
    async fn resource(&mut self, kind: &str, name: &str) -> Result<Option<ResourceRecord>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            resource_columns!(),
            " FROM resources WHERE kind = ? AND name = ?"
        ))
        .bind(kind)
        .bind(name)
        .fetch_optional(&mut *self.0)
        .await?;
        row.as_ref().map(resource_from_row).transpose()
    }

    async fn put_resource(&mut self, record: &ResourceRecord) -> Result<()> {
        sqlx::query(concat!(
            "INSERT INTO resources (",
            resource_columns!(),
            ") VALUES (?, ?, ?, ?, ?, ?) \
             ON CONFLICT (kind, name) DO UPDATE SET spec = excluded.spec, \
             revision = excluded.revision, updated_at = excluded.updated_at"
        ))
        .bind(&record.kind)
        .bind(&record.name)
        .bind(&record.spec)
        .bind(record.revision)
        .bind(record.created_at)
        .bind(record.updated_at)
        .execute(&mut *self.0)
        .await?;
        Ok(())
    }

    async fn delete_resource(&mut self, kind: &str, name: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM resources WHERE kind = ? AND name = ?")
            .bind(kind)
            .bind(name)
            .execute(&mut *self.0)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn insert_event_matches(&mut self, matches: &[EventMatchRecord]) -> Result<()> {
        if matches.is_empty() {
            return Ok(());
        }
        let rows: Vec<serde_json::Value> = matches
            .iter()
            .map(|m| {
                serde_json::json!([
                    m.seq, m.rule, m.outcome, m.run_id, m.step_id, m.detail, m.at
                ])
            })
            .collect();
        sqlx::query(
            "INSERT INTO event_matches (seq, rule, outcome, run_id, step_id, detail, at) \
             SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, \
             value ->> 5, value ->> 6 FROM json_each(?) ORDER BY key",
        )
        .bind(serde_json::Value::Array(rows).to_string())
        .execute(&mut *self.0)
        .await?;
        Ok(())
    }

    async fn correlation(&mut self, rule: &str, key: &str) -> Result<Option<CorrelationRecord>> {
        let row = sqlx::query(
            "SELECT rule, key, run_id, expires_at FROM correlations WHERE rule = ? AND key = ?",
        )
        .bind(rule)
        .bind(key)
        .fetch_optional(&mut *self.0)
        .await?;
        Ok(match row {
            Some(row) => Some(CorrelationRecord {
                rule: row.try_get(0)?,
                key: row.try_get(1)?,
                run_id: row.try_get(2)?,
                expires_at: row.try_get(3)?,
            }),
            None => None,
        })
    }

    async fn put_correlation(&mut self, record: &CorrelationRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO correlations (rule, key, run_id, expires_at) VALUES (?, ?, ?, ?) \
             ON CONFLICT (rule, key) DO UPDATE SET run_id = excluded.run_id, \
             expires_at = excluded.expires_at",
        )
        .bind(&record.rule)
        .bind(&record.key)
        .bind(&record.run_id)
        .bind(record.expires_at)
        .execute(&mut *self.0)
        .await?;
        Ok(())
    }

    async fn waits_for(&mut self, kinds: &[String]) -> Result<Vec<StepRecord>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            step_columns!(),
            " FROM steps WHERE status = 'waiting' AND kind = 'wait_for' \
             AND (plugin IN (SELECT value FROM json_each(?)) OR instr(plugin, '*') > 0)"
        ))
        .bind(json_list(kinds))
        .fetch_all(&mut *self.0)
        .await?;
        collect(rows, step_from_row)
    }

    async fn any_waits(&mut self) -> Result<bool> {
        Ok(sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM steps WHERE status = 'waiting' AND kind = 'wait_for')",
        )
        .fetch_one(&mut *self.0)
        .await?)
    }

    async fn events_matching(
        &mut self,
        pattern: &str,
        since: i64,
        limit: i64,
    ) -> Result<Vec<EventRecord>> {
        // Patterns hold only letters, digits, `.-_:/` and `*`, so GLOB reads
        // them exactly as `*`-patterns.
        let rows = sqlx::query(concat!(
            "SELECT ",
            event_columns!(),
            " FROM events WHERE type GLOB ? AND received_at >= ? \
             ORDER BY seq LIMIT ?"
        ))
        .bind(pattern)
        .bind(since)
        .bind(limit)
        .fetch_all(&mut *self.0)
        .await?;
        collect(rows, event_from_row)
    }

    async fn put_approval(&mut self, r: &ApprovalRecord) -> Result<()> {
        sqlx::query(concat!(
            "INSERT INTO approvals (",
            approval_columns!(),
            ") \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT (id) DO UPDATE SET status = excluded.status, \
             decided_by = excluded.decided_by, comment = excluded.comment, \
             decided_at = excluded.decided_at"
        ))
        .bind(&r.id)
        .bind(&r.run_id)
        .bind(&r.step_id)
        .bind(r.item)
        .bind(&r.gate)
        .bind(&r.policy)
        .bind(&r.status)
        .bind(&r.approvers)
        .bind(&r.message)
        .bind(&r.requested_by)
        .bind(&r.on_timeout)
        .bind(r.deadline)
        .bind(&r.decided_by)
        .bind(&r.comment)
        .bind(r.created_at)
        .bind(r.decided_at)
        .execute(&mut *self.0)
        .await?;
        Ok(())
    }

    async fn approval(&mut self, id: &str) -> Result<Option<ApprovalRecord>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            approval_columns!(),
            " FROM approvals WHERE id = ?"
        ))
        .bind(id)
        .fetch_optional(&mut *self.0)
        .await?;
        row.as_ref().map(approval_from_row).transpose()
    }

    async fn pending_approval_of(
        &mut self,
        run_id: &str,
        step_id: &str,
        item: i64,
    ) -> Result<Option<ApprovalRecord>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            approval_columns!(),
            " FROM approvals \
             WHERE run_id = ? AND step_id = ? AND item = ? AND status = 'pending'"
        ))
        .bind(run_id)
        .bind(step_id)
        .bind(item)
        .fetch_optional(&mut *self.0)
        .await?;
        row.as_ref().map(approval_from_row).transpose()
    }

    async fn schedule_states(&mut self) -> Result<Vec<ScheduleStateRecord>> {
        let rows = sqlx::query(
            "SELECT name, next_at, last_at, last_run, queued_at FROM schedule_state ORDER BY name",
        )
        .fetch_all(&mut *self.0)
        .await?;
        collect(rows, schedule_from_row)
    }

    async fn put_schedule_state(&mut self, r: &ScheduleStateRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO schedule_state (name, next_at, last_at, last_run, queued_at) \
             VALUES (?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET next_at = excluded.next_at, \
             last_at = excluded.last_at, last_run = excluded.last_run, \
             queued_at = excluded.queued_at",
        )
        .bind(&r.name)
        .bind(r.next_at)
        .bind(r.last_at)
        .bind(&r.last_run)
        .bind(r.queued_at)
        .execute(&mut *self.0)
        .await?;
        Ok(())
    }

    async fn delete_schedule_state(&mut self, name: &str) -> Result<()> {
        sqlx::query("DELETE FROM schedule_state WHERE name = ?")
            .bind(name)
            .execute(&mut *self.0)
            .await?;
        Ok(())
    }
}

impl OrchestrationReads for SqliteStore {
    async fn resources(&self, kind: Option<&str>) -> Result<Vec<ResourceRecord>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            resource_columns!(),
            " FROM resources WHERE ?1 IS NULL OR kind = ?1 \
             ORDER BY kind, name"
        ))
        .bind(kind)
        .fetch_all(&self.reader)
        .await?;
        collect(rows, resource_from_row)
    }

    async fn event_matches(&self, seq: i64) -> Result<Vec<EventMatchRecord>> {
        let rows = sqlx::query(
            "SELECT seq, rule, outcome, run_id, step_id, detail, at FROM event_matches \
             WHERE seq = ? ORDER BY id",
        )
        .bind(seq)
        .fetch_all(&self.reader)
        .await?;
        collect(rows, match_from_row)
    }

    async fn approvals(&self, query: &ApprovalQuery) -> Result<Vec<ApprovalRecord>> {
        let (after_at, after_id) = query
            .after
            .clone()
            .map_or((None, None), |(at, id)| (Some(at), Some(id)));
        let rows = sqlx::query(concat!(
            "SELECT ",
            approval_columns!(),
            " FROM approvals \
             WHERE (?1 IS NULL OR status = ?1) AND (?2 IS NULL OR run_id = ?2) \
             AND (?3 IS NULL OR (created_at, id) > (?3, ?4)) \
             ORDER BY created_at, id LIMIT ?5"
        ))
        .bind(&query.status)
        .bind(&query.run_id)
        .bind(after_at)
        .bind(after_id)
        .bind(i64::from(query.limit))
        .fetch_all(&self.reader)
        .await?;
        collect(rows, approval_from_row)
    }

    async fn approval_by_id(&self, id: &str) -> Result<Option<ApprovalRecord>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            approval_columns!(),
            " FROM approvals WHERE id = ?"
        ))
        .bind(id)
        .fetch_optional(&self.reader)
        .await?;
        row.as_ref().map(approval_from_row).transpose()
    }
}
