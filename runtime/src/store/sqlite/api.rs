//! The HTTP API's reads and writes on SQLite: listings, plugin deletion,
//! tokens, the audit trail. Each write is a short transaction of its own on
//! the writer connection, with its audit entry.

use serde_json::json;

use super::rows::*;
use super::*;
use crate::store::{
    ApiStore, AuditEntry, AuditQuery, AuditRecord, EventQuery, EventRecord, PluginDeletion, Role,
    RunQuery, TokenRecord, WorkflowRecord, action,
};

macro_rules! event_columns {
    () => {
        "seq, id, source, type, subject, time, datacontenttype, dataschema, \
         data, data_base64, extensions, received_at, received_by"
    };
}

pub(super) fn event_from_row(row: &SqliteRow) -> Result<EventRecord> {
    Ok(EventRecord {
        seq: row.try_get("seq")?,
        id: row.try_get("id")?,
        source: row.try_get("source")?,
        kind: row.try_get("type")?,
        subject: row.try_get("subject")?,
        time: row.try_get("time")?,
        datacontenttype: row.try_get("datacontenttype")?,
        dataschema: row.try_get("dataschema")?,
        data: row.try_get("data")?,
        data_base64: row.try_get("data_base64")?,
        extensions: row.try_get("extensions")?,
        received_at: row.try_get("received_at")?,
        received_by: row.try_get("received_by")?,
    })
}

fn token_from_row(row: &SqliteRow) -> Result<TokenRecord> {
    let role: String = row.try_get("role")?;
    Ok(TokenRecord {
        name: row.try_get("name")?,
        role: Role::from_str(&role).map_err(StoreError::Corrupt)?,
        hash: row.try_get("hash")?,
        created_by: row.try_get("created_by")?,
        created_at: row.try_get("created_at")?,
        revoked_at: row.try_get("revoked_at")?,
    })
}

/// A unique-constraint violation (the only expected write conflict here).
fn is_unique_violation(error: &sqlx::Error) -> bool {
    error
        .as_database_error()
        .is_some_and(|e| e.is_unique_violation())
}

impl ApiStore for SqliteStore {
    async fn ready(&self) -> Result<()> {
        let expected = sqlx::migrate!("./migrations")
            .iter()
            .map(|m| m.version)
            .max()
            .unwrap_or(0);
        let applied: Option<i64> =
            sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success = 1")
                .fetch_one(&self.reader)
                .await?;
        if applied.unwrap_or(0) < expected {
            return Err(StoreError::Corrupt(format!(
                "the database schema is at migration {}, this build needs {expected}",
                applied.unwrap_or(0)
            )));
        }
        Ok(())
    }

    async fn workflows(&self) -> Result<Vec<WorkflowRecord>> {
        let rows = sqlx::query(
            "SELECT name, latest_version, created_at, updated_at FROM workflows ORDER BY name",
        )
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(WorkflowRecord {
                    name: row.try_get("name")?,
                    latest_version: row.try_get("latest_version")?,
                    created_at: row.try_get("created_at")?,
                    updated_at: row.try_get("updated_at")?,
                })
            })
            .collect()
    }

    async fn workflow_history(&self, name: &str) -> Result<Vec<WorkflowVersionRecord>> {
        let rows = sqlx::query(
            "SELECT workflow, version, definition, source, created_at FROM workflow_versions \
             WHERE workflow = ? ORDER BY version",
        )
        .bind(name)
        .fetch_all(&self.reader)
        .await?;
        collect(rows, version_from_row)
    }

    async fn query_runs(&self, query: &RunQuery) -> Result<Vec<RunRecord>> {
        let (before_at, before_id) = match &query.before {
            Some((at, id)) => (Some(*at), Some(id.as_str())),
            None => (None, None),
        };
        let rows = sqlx::query(concat!(
            "SELECT ",
            run_columns!(),
            " FROM runs WHERE (?1 IS NULL OR workflow = ?1) AND (?2 IS NULL OR status = ?2) \
             AND (?3 IS NULL OR created_at >= ?3) AND (?4 IS NULL OR created_at < ?4) \
             AND (?5 IS NULL OR created_at < ?5 OR (created_at = ?5 AND id < ?6)) \
             ORDER BY created_at DESC, id DESC LIMIT ?7"
        ))
        .bind(query.workflow.as_deref())
        .bind(query.status.map(RunStatus::as_str))
        .bind(query.since)
        .bind(query.until)
        .bind(before_at)
        .bind(before_id)
        .bind(i64::from(query.limit))
        .fetch_all(&self.reader)
        .await?;
        collect(rows, run_from_row)
    }

    async fn plugin_versions(&self, name: &str) -> Result<Vec<PluginRecord>> {
        let rows = sqlx::query(
            "SELECT name, version, digest, info, created_at FROM plugins \
             WHERE name = ? ORDER BY created_at, version",
        )
        .bind(name)
        .fetch_all(&self.reader)
        .await?;
        collect(rows, plugin_from_row)
    }

    async fn delete_plugin(
        &self,
        name: &str,
        version: &str,
        actor: &str,
        now: i64,
    ) -> Result<PluginDeletion> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let digest: Option<String> =
            sqlx::query_scalar("SELECT digest FROM plugins WHERE name = ? AND version = ?")
                .bind(name)
                .bind(version)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(digest) = digest else {
            return Ok(PluginDeletion::NotFound);
        };
        let users = sqlx::query(
            "SELECT workflow, version FROM workflow_plugins \
             WHERE plugin = ? AND plugin_version = ? ORDER BY workflow, version",
        )
        .bind(name)
        .bind(version)
        .fetch_all(&mut *tx)
        .await?;
        if !users.is_empty() {
            let users = users
                .iter()
                .map(|row| Ok((row.try_get("workflow")?, row.try_get("version")?)))
                .collect::<Result<Vec<(String, i64)>>>()?;
            return Ok(PluginDeletion::InUse(users));
        }
        sqlx::query("DELETE FROM plugins WHERE name = ? AND version = ?")
            .bind(name)
            .bind(version)
            .execute(&mut *tx)
            .await?;
        // The bytes stay while another plugin version or a step row of a
        // run (an old run pinned before a delete) still names them.
        sqlx::query(
            "DELETE FROM components WHERE digest = ?1 \
             AND NOT EXISTS (SELECT 1 FROM plugins WHERE digest = ?1) \
             AND NOT EXISTS (SELECT 1 FROM workflow_plugins WHERE digest = ?1) \
             AND NOT EXISTS (SELECT 1 FROM steps WHERE digest = ?1)",
        )
        .bind(&digest)
        .execute(&mut *tx)
        .await?;
        let entry = AuditEntry::new(
            actor,
            action::PLUGIN_DELETE,
            format!("plugin/{name}@{version}"),
            json!({ "digest": digest }),
        );
        super::audit::append(&mut tx, &[entry.at(now)]).await?;
        tx.commit().await?;
        Ok(PluginDeletion::Deleted)
    }

    async fn query_events(&self, query: &EventQuery) -> Result<Vec<EventRecord>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            event_columns!(),
            " FROM events WHERE (?1 IS NULL OR type = ?1) \
             AND (?2 IS NULL OR source = ?2) AND (?3 IS NULL OR subject = ?3) \
             AND (?4 IS NULL OR seq < ?4) ORDER BY seq DESC LIMIT ?5"
        ))
        .bind(query.kind.as_deref())
        .bind(query.source.as_deref())
        .bind(query.subject.as_deref())
        .bind(query.before)
        .bind(i64::from(query.limit))
        .fetch_all(&self.reader)
        .await?;
        collect(rows, event_from_row)
    }

    async fn event(&self, seq: i64) -> Result<Option<EventRecord>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            event_columns!(),
            " FROM events WHERE seq = ?"
        ))
        .bind(seq)
        .fetch_optional(&self.reader)
        .await?;
        row.as_ref().map(event_from_row).transpose()
    }

    async fn queue_depth(&self, now: i64) -> Result<i64> {
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM steps WHERE status = 'ready' AND due_at <= ?")
                .bind(now)
                .fetch_one(&self.reader)
                .await?,
        )
    }

    async fn has_tokens(&self) -> Result<bool> {
        Ok(sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM tokens)")
            .fetch_one(&self.reader)
            .await?)
    }

    async fn insert_token(&self, token: &TokenRecord, actor: &str) -> Result<()> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let inserted = sqlx::query(
            "INSERT INTO tokens (name, role, hash, created_by, created_at, revoked_at) \
             VALUES (?, ?, ?, ?, ?, NULL)",
        )
        .bind(&token.name)
        .bind(token.role.as_str())
        .bind(&token.hash)
        .bind(&token.created_by)
        .bind(token.created_at)
        .execute(&mut *tx)
        .await;
        match inserted {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => {
                return Err(StoreError::Conflict(format!(
                    "a token named `{}` already exists; revoke it first or pick another name",
                    token.name
                )));
            }
            Err(e) => return Err(e.into()),
        }
        let entry = AuditEntry::new(
            actor,
            action::TOKEN_CREATE,
            format!("token/{}", token.name),
            json!({ "role": token.role.as_str() }),
        );
        super::audit::append(&mut tx, &[entry.at(token.created_at)]).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn token_by_hash(&self, hash: &str) -> Result<Option<TokenRecord>> {
        let row = sqlx::query(
            "SELECT name, role, hash, created_by, created_at, revoked_at FROM tokens \
             WHERE hash = ? AND revoked_at IS NULL",
        )
        .bind(hash)
        .fetch_optional(&self.reader)
        .await?;
        row.as_ref().map(token_from_row).transpose()
    }

    async fn tokens(&self) -> Result<Vec<TokenRecord>> {
        let rows = sqlx::query(
            "SELECT name, role, hash, created_by, created_at, revoked_at FROM tokens \
             ORDER BY created_at, name",
        )
        .fetch_all(&self.reader)
        .await?;
        collect(rows, token_from_row)
    }

    async fn revoke_token(&self, name: &str, actor: &str, now: i64) -> Result<bool> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let done =
            sqlx::query("UPDATE tokens SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL")
                .bind(now)
                .bind(name)
                .execute(&mut *tx)
                .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        let entry = AuditEntry::new(
            actor,
            action::TOKEN_REVOKE,
            format!("token/{name}"),
            json!({}),
        );
        super::audit::append(&mut tx, &[entry.at(now)]).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn query_audit(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>> {
        super::audit::query(self, query).await
    }
}
