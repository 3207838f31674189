//! Saving and removing plugin grants, each with its audit entry, and the
//! [`GrantSet`] in force, rebuilt from the store after every change.

use std::sync::{Arc, PoisonError};

use serde::Serialize;
use serde_json::json;

use crate::grants::{Grant, GrantSet};
use crate::store::{AuditEntry, AuditLog, CapabilityTx, GrantRecord, Store, StoreTx, action};
use crate::wasm::check_plugin_name;

use super::{Engine, EngineError, Result, Shared};

/// A saved grant.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct GrantEntry {
    /// The plugin name.
    pub plugin: String,
    /// The version it is for, or `null` for every version without a grant
    /// of its own.
    pub version: Option<String>,
    /// What it grants.
    pub grant: Grant,
    /// When it was saved (RFC 3339).
    pub updated_at: String,
    /// Who saved it.
    pub updated_by: String,
}

impl GrantEntry {
    fn from_record(record: GrantRecord) -> Option<GrantEntry> {
        let grant = match serde_json::from_str(&record.grant) {
            Ok(grant) => grant,
            Err(error) => {
                tracing::error!(plugin = %record.plugin, %error, "a stored grant does not parse; ignored");
                return None;
            }
        };
        Some(GrantEntry {
            plugin: record.plugin,
            version: record.version,
            grant,
            updated_at: super::clock::rfc3339(record.updated_at),
            updated_by: record.updated_by,
        })
    }
}

fn target(plugin: &str, version: Option<&str>) -> String {
    match version {
        Some(version) => format!("plugin/{plugin}@{version}"),
        None => format!("plugin/{plugin}"),
    }
}

fn check_version(version: Option<&str>) -> Result<()> {
    if let Some(version) = version
        && semver::Version::parse(version).is_err()
    {
        return Err(EngineError::BadRequest(format!(
            "version {version:?} is not a semantic version such as 1.2.0"
        )));
    }
    Ok(())
}

impl<S: Store> Engine<S> {
    /// Saves the grant of `plugin` (one `version`, or every one), audited
    /// as done by `actor`. The plugin need not be uploaded yet.
    pub async fn put_grant(
        &self,
        plugin: &str,
        version: Option<&str>,
        grant: Grant,
        actor: &str,
    ) -> Result<GrantEntry> {
        check_plugin_name(plugin).map_err(EngineError::BadRequest)?;
        check_version(version)?;
        grant
            .check(&self.shared.executor.config().pool)
            .map_err(|problems| EngineError::BadRequest(problems.join("; ")))?;
        let now = self.shared.clock.now();
        let document = serde_json::to_string(&grant)
            .map_err(|e| EngineError::BadRequest(format!("the grant cannot be saved: {e}")))?;
        let record = GrantRecord {
            plugin: plugin.to_string(),
            version: version.map(str::to_string),
            grant: document,
            updated_at: now,
            updated_by: actor.to_string(),
        };
        let mut tx = self.shared.store.begin().await?;
        tx.put_grant(&record).await?;
        let detail = serde_json::to_value(&grant).unwrap_or_else(|_| json!({}));
        tx.append_audit(&[AuditEntry::new(
            actor,
            action::GRANT_SAVE,
            target(plugin, version),
            detail,
        )
        .at(now)])
            .await?;
        tx.commit().await?;
        reload(&self.shared).await?;
        Ok(GrantEntry {
            plugin: record.plugin,
            version: record.version,
            grant,
            updated_at: super::clock::rfc3339(now),
            updated_by: record.updated_by,
        })
    }

    /// Removes the grant of `plugin` (one `version`, or the plugin-wide
    /// one), audited as done by `actor`.
    pub async fn delete_grant(
        &self,
        plugin: &str,
        version: Option<&str>,
        actor: &str,
    ) -> Result<()> {
        check_version(version)?;
        let now = self.shared.clock.now();
        let mut tx = self.shared.store.begin().await?;
        if !tx.delete_grant(plugin, version).await? {
            return Err(EngineError::NotFound(format!(
                "no grant for {}",
                target(plugin, version)
            )));
        }
        tx.append_audit(&[AuditEntry::new(
            actor,
            action::GRANT_DELETE,
            target(plugin, version),
            json!({}),
        )
        .at(now)])
            .await?;
        tx.commit().await?;
        reload(&self.shared).await?;
        Ok(())
    }

    /// The saved grants of a plugin (of every plugin when `None`).
    pub async fn grants(&self, plugin: Option<&str>) -> Result<Vec<GrantEntry>> {
        let records = self.shared.store.grants(plugin).await?;
        Ok(records
            .into_iter()
            .filter_map(GrantEntry::from_record)
            .collect())
    }

    /// What `plugin` at `version` may reach, if anything, and whether it
    /// is that version's own grant.
    pub fn grant_of(&self, plugin: &str, version: &str) -> Option<(Arc<Grant>, bool)> {
        let grants = self.shared.grants();
        let grant = grants.effective(plugin, version)?;
        Some((grant, grants.has_version(plugin, version)))
    }
}

impl<S: Store> Shared<S> {
    /// The grants in force.
    pub(crate) fn grants(&self) -> Arc<GrantSet> {
        self.grants
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// Rebuilds the grants in force from the store.
pub(crate) async fn reload<S: Store>(shared: &Shared<S>) -> Result<()> {
    let mut set = GrantSet::default();
    for record in shared.store.grants(None).await? {
        let plugin = record.plugin.clone();
        let version = record.version.clone();
        if let Some(entry) = GrantEntry::from_record(record) {
            set.insert(&plugin, version.as_deref(), entry.grant);
        }
    }
    *shared
        .grants
        .write()
        .unwrap_or_else(PoisonError::into_inner) = Arc::new(set);
    Ok(())
}
