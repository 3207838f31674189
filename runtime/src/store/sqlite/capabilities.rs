//! Grants, secrets, settings and key-value state in SQLite.

use super::rows::collect;
use super::*;
use crate::store::{CapabilityReads, CapabilityTx, GrantRecord, SecretRecord};

fn grant_from_row(row: &SqliteRow) -> Result<GrantRecord> {
    let version: String = row.try_get("version")?;
    Ok(GrantRecord {
        plugin: row.try_get("plugin")?,
        version: (!version.is_empty()).then_some(version),
        grant: row.try_get("grant_json")?,
        updated_at: row.try_get("updated_at")?,
        updated_by: row.try_get("updated_by")?,
    })
}

fn secret_from_row(row: &SqliteRow) -> Result<SecretRecord> {
    Ok(SecretRecord {
        name: row.try_get("name")?,
        sealed: row.try_get("sealed")?,
        description: row.try_get("description")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        updated_by: row.try_get("updated_by")?,
    })
}

/// Key and value bytes, as the quota counts them.
fn size(key: &str, value: &[u8]) -> i64 {
    i64::try_from(key.len() + value.len()).unwrap_or(i64::MAX)
}

impl CapabilityTx for SqliteTx {
    async fn put_grant(&mut self, record: &GrantRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO grants (plugin, version, grant_json, updated_at, updated_by) \
             VALUES (?, ?, ?, ?, ?) ON CONFLICT (plugin, version) DO UPDATE SET \
             grant_json = excluded.grant_json, updated_at = excluded.updated_at, \
             updated_by = excluded.updated_by",
        )
        .bind(&record.plugin)
        .bind(record.version.as_deref().unwrap_or(""))
        .bind(&record.grant)
        .bind(record.updated_at)
        .bind(&record.updated_by)
        .execute(&mut *self.0)
        .await?;
        Ok(())
    }

    async fn delete_grant(&mut self, plugin: &str, version: Option<&str>) -> Result<bool> {
        let done = sqlx::query("DELETE FROM grants WHERE plugin = ? AND version = ?")
            .bind(plugin)
            .bind(version.unwrap_or(""))
            .execute(&mut *self.0)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn secret_tx(&mut self, name: &str) -> Result<Option<SecretRecord>> {
        let row = sqlx::query(
            "SELECT name, sealed, description, created_at, updated_at, updated_by \
             FROM secrets WHERE name = ?",
        )
        .bind(name)
        .fetch_optional(&mut *self.0)
        .await?;
        row.as_ref().map(secret_from_row).transpose()
    }

    async fn put_secret(&mut self, record: &SecretRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO secrets (name, sealed, description, created_at, updated_at, updated_by) \
             VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET \
             sealed = excluded.sealed, description = excluded.description, \
             updated_at = excluded.updated_at, updated_by = excluded.updated_by",
        )
        .bind(&record.name)
        .bind(&record.sealed)
        .bind(&record.description)
        .bind(record.created_at)
        .bind(record.updated_at)
        .bind(&record.updated_by)
        .execute(&mut *self.0)
        .await?;
        Ok(())
    }

    async fn delete_secret(&mut self, name: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM secrets WHERE name = ?")
            .bind(name)
            .execute(&mut *self.0)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn setting(&mut self, name: &str) -> Result<Option<String>> {
        let row = sqlx::query("SELECT value FROM settings WHERE name = ?")
            .bind(name)
            .fetch_optional(&mut *self.0)
            .await?;
        Ok(row.map(|r| r.try_get(0)).transpose()?)
    }

    async fn put_setting(&mut self, name: &str, value: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO settings (name, value) VALUES (?, ?) \
             ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        )
        .bind(name)
        .bind(value)
        .execute(&mut *self.0)
        .await?;
        Ok(())
    }

    async fn kv_get(&mut self, plugin: &str, key: &str) -> Result<Option<Vec<u8>>> {
        let row = sqlx::query("SELECT value FROM kv WHERE plugin = ? AND key = ?")
            .bind(plugin)
            .bind(key)
            .fetch_optional(&mut *self.0)
            .await?;
        Ok(row.map(|r| r.try_get(0)).transpose()?)
    }

    async fn kv_put(
        &mut self,
        plugin: &str,
        key: &str,
        value: Option<&[u8]>,
        now: i64,
    ) -> Result<(i64, i64)> {
        let old = self.kv_get(plugin, key).await?;
        let mut delta = -old.as_deref().map_or(0, |old| size(key, old));
        match value {
            Some(value) => {
                sqlx::query(
                    "INSERT INTO kv (plugin, key, value, updated_at) VALUES (?, ?, ?, ?) \
                     ON CONFLICT (plugin, key) DO UPDATE SET value = excluded.value, \
                     updated_at = excluded.updated_at",
                )
                .bind(plugin)
                .bind(key)
                .bind(value)
                .bind(now)
                .execute(&mut *self.0)
                .await?;
                delta += size(key, value);
            }
            None => {
                sqlx::query("DELETE FROM kv WHERE plugin = ? AND key = ?")
                    .bind(plugin)
                    .bind(key)
                    .execute(&mut *self.0)
                    .await?;
            }
        }
        let row = sqlx::query(
            "INSERT INTO kv_usage (plugin, bytes) VALUES (?, ?) \
             ON CONFLICT (plugin) DO UPDATE SET bytes = bytes + excluded.bytes \
             RETURNING bytes",
        )
        .bind(plugin)
        .bind(delta)
        .fetch_one(&mut *self.0)
        .await?;
        Ok((row.try_get(0)?, delta))
    }
}

impl CapabilityReads for SqliteStore {
    async fn grants(&self, plugin: Option<&str>) -> Result<Vec<GrantRecord>> {
        let rows = sqlx::query(
            "SELECT plugin, version, grant_json, updated_at, updated_by FROM grants \
             WHERE ?1 IS NULL OR plugin = ?1 ORDER BY plugin, version",
        )
        .bind(plugin)
        .fetch_all(&self.reader)
        .await?;
        collect(rows, grant_from_row)
    }

    async fn secrets(&self) -> Result<Vec<SecretRecord>> {
        let rows = sqlx::query(
            "SELECT name, sealed, description, created_at, updated_at, updated_by \
             FROM secrets ORDER BY name",
        )
        .fetch_all(&self.reader)
        .await?;
        collect(rows, secret_from_row)
    }

    async fn secret(&self, name: &str) -> Result<Option<SecretRecord>> {
        let row = sqlx::query(
            "SELECT name, sealed, description, created_at, updated_at, updated_by \
             FROM secrets WHERE name = ?",
        )
        .bind(name)
        .fetch_optional(&self.reader)
        .await?;
        row.as_ref().map(secret_from_row).transpose()
    }
}
