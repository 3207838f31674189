//! The audit trail on SQLite: appending entries inside a write transaction
//! (chained after the last stored entry) and reading them back for the
//! listing. The hash and its checks are in `store/audit.rs`.

use serde_json::Value;
use sqlx::SqliteConnection;

use super::*;
use crate::store::{AuditEntry, AuditLog, AuditQuery, AuditRecord, ChainHead, chain_entries};

impl AuditLog for SqliteTx {
    async fn append_audit(&mut self, entries: &[AuditEntry]) -> Result<()> {
        append(&mut self.0, entries).await
    }
}

/// Appends entries after the last stored one, in one statement, on a
/// connection inside a write transaction (which serialises appenders: the
/// last entry cannot change under it).
pub(super) async fn append(conn: &mut SqliteConnection, entries: &[AuditEntry]) -> Result<()> {
    if entries.is_empty() {
        return Ok(());
    }
    let last = sqlx::query("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1")
        .fetch_optional(&mut *conn)
        .await?;
    let mut head = match last {
        Some(row) => ChainHead {
            seq: row.try_get("seq")?,
            hash: row.try_get("hash")?,
        },
        None => ChainHead::default(),
    };
    let rows: Vec<Value> = chain_entries(&mut head, entries)
        .into_iter()
        .map(|r| {
            serde_json::json!([
                r.seq,
                r.at,
                r.actor,
                r.action,
                r.target,
                crate::store::detail_text(&r.detail),
                r.prev_hash,
                r.hash
            ])
        })
        .collect();
    sqlx::query(
        "INSERT INTO audit (seq, at, actor, action, target, detail, prev_hash, hash) \
         SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, \
         value ->> 6, value ->> 7 FROM json_each(?) ORDER BY key",
    )
    .bind(Value::Array(rows).to_string())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

fn audit_from_row(row: &SqliteRow) -> Result<AuditRecord> {
    let detail: String = row.try_get("detail")?;
    Ok(AuditRecord {
        seq: row.try_get("seq")?,
        at: row.try_get("at")?,
        actor: row.try_get("actor")?,
        action: row.try_get("action")?,
        target: row.try_get("target")?,
        // A detail that is not JSON was written behind Baton's back: it
        // is shown as the text it is, so that verification names the entry
        // instead of the listing failing.
        detail: serde_json::from_str(&detail).unwrap_or(Value::String(detail)),
        prev_hash: row.try_get("prev_hash")?,
        hash: row.try_get("hash")?,
    })
}

/// Entries matching a query, oldest first.
pub(super) async fn query(store: &SqliteStore, query: &AuditQuery) -> Result<Vec<AuditRecord>> {
    let rows = sqlx::query(
        "SELECT seq, at, actor, action, target, detail, prev_hash, hash FROM audit \
         WHERE (?1 IS NULL OR actor = ?1) \
         AND (?2 IS NULL OR substr(action, 1, length(?2)) = ?2) \
         AND (?3 IS NULL OR substr(target, 1, length(?3)) = ?3) \
         AND (?4 IS NULL OR at >= ?4) AND (?5 IS NULL OR at < ?5) \
         AND (?6 IS NULL OR seq > ?6) ORDER BY seq LIMIT ?7",
    )
    .bind(query.actor.as_deref())
    .bind(query.action.as_deref())
    .bind(query.target.as_deref())
    .bind(query.since)
    .bind(query.until)
    .bind(query.after)
    .bind(i64::from(query.limit))
    .fetch_all(&store.reader)
    .await?;
    rows.iter().map(audit_from_row).collect()
}
