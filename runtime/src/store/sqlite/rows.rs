//! Reading rows back into records, and writing records as JSON for the
//! set-based statements.

use super::*;

pub(super) fn run_from_row(row: &SqliteRow) -> Result<RunRecord> {
    Ok(RunRecord {
        id: row.try_get(0)?,
        workflow: row.try_get(1)?,
        version: row.try_get(2)?,
        status: RunStatus::from_str(row.try_get(3)?)?,
        input: row.try_get(4)?,
        output: row.try_get(5)?,
        error: row.try_get(6)?,
        idempotency_key: row.try_get(7)?,
        parent_run: row.try_get(8)?,
        parent_step: row.try_get(9)?,
        parent_item: row.try_get(10)?,
        depth: row.try_get(11)?,
        created_at: row.try_get(12)?,
        updated_at: row.try_get(13)?,
        finished_at: row.try_get(14)?,
        started_by: row.try_get(15)?,
        event_seq: row.try_get(16)?,
    })
}

pub(super) fn step_from_row(row: &SqliteRow) -> Result<StepRecord> {
    Ok(StepRecord {
        run_id: row.try_get(0)?,
        step_id: row.try_get(1)?,
        item: row.try_get(2)?,
        status: crate::store::StepStatus::from_str(row.try_get(3)?)?,
        kind: row.try_get(4)?,
        plugin: row.try_get(5)?,
        digest: row.try_get(6)?,
        timeout_ms: row.try_get(7)?,
        input: row.try_get(8)?,
        output: row.try_get(9)?,
        error_kind: row.try_get(10)?,
        error_message: row.try_get(11)?,
        attempts: row.try_get(12)?,
        failures: row.try_get(13)?,
        items_total: row.try_get(14)?,
        items_done: row.try_get(15)?,
        child_run: row.try_get(16)?,
        due_at: row.try_get(17)?,
        lease_owner: row.try_get(18)?,
        lease_until: row.try_get(19)?,
        created_at: row.try_get(20)?,
        started_at: row.try_get(21)?,
        finished_at: row.try_get(22)?,
        queue_seq: row.try_get(23)?,
    })
}

pub(super) fn attempt_from_row(row: &SqliteRow) -> Result<AttemptRecord> {
    Ok(AttemptRecord {
        run_id: row.try_get(0)?,
        step_id: row.try_get(1)?,
        item: row.try_get(2)?,
        attempt: row.try_get(3)?,
        status: row.try_get(4)?,
        worker: row.try_get(5)?,
        output: row.try_get(6)?,
        error_kind: row.try_get(7)?,
        error_message: row.try_get(8)?,
        logs: row.try_get(9)?,
        logs_dropped: row.try_get(10)?,
        started_at: row.try_get(11)?,
        finished_at: row.try_get(12)?,
    })
}

pub(super) fn version_from_row(row: &SqliteRow) -> Result<WorkflowVersionRecord> {
    Ok(WorkflowVersionRecord {
        workflow: row.try_get("workflow")?,
        version: row.try_get("version")?,
        definition: row.try_get("definition")?,
        source: row.try_get("source")?,
        created_at: row.try_get("created_at")?,
    })
}

pub(super) fn plugin_from_row(row: &SqliteRow) -> Result<PluginRecord> {
    Ok(PluginRecord {
        name: row.try_get("name")?,
        version: row.try_get("version")?,
        digest: row.try_get("digest")?,
        info: row.try_get("info")?,
        created_at: row.try_get("created_at")?,
    })
}

/// A JSON array of strings, for `json_each`.
pub(super) fn json_list(items: &[String]) -> String {
    serde_json::to_string(items).unwrap_or_else(|_| "[]".into())
}

pub(super) fn attempts_json(attempts: &[AttemptRecord]) -> String {
    let rows: Vec<serde_json::Value> = attempts
        .iter()
        .map(|a| {
            serde_json::json!([
                a.run_id,
                a.step_id,
                a.item,
                a.attempt,
                a.status,
                a.worker,
                a.output,
                a.error_kind,
                a.error_message,
                a.logs,
                a.logs_dropped,
                a.started_at,
                a.finished_at
            ])
        })
        .collect();
    serde_json::Value::Array(rows).to_string()
}

pub(super) fn collect<T>(rows: Vec<SqliteRow>, map: fn(&SqliteRow) -> Result<T>) -> Result<Vec<T>> {
    rows.iter().map(map).collect()
}
