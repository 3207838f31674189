//! Registering plugins and saving workflow versions.
//!
//! Both are immutable once stored: a plugin is `name@version` bound to one
//! component digest, and every save of a workflow is a new numbered version
//! whose plugin references are pinned to digests. These writes go straight
//! to the store (they touch no run), in their own transactions, each with
//! its audit entry.

use std::sync::Arc;

use serde_json::json;

use crate::store::{
    AuditEntry, AuditLog, NewWorkflowVersion, PluginRecord, Store, StoreTx, action, actor,
};
use crate::wasm::check_plugin_name;
use crate::workflow::{WorkflowPlan, compile, parse_definition};

use super::{Engine, EngineError, Result, plans};

/// A workflow version that was just saved.
#[derive(Debug, Clone)]
pub struct SavedWorkflow {
    /// Workflow name.
    pub name: String,
    /// The new version number.
    pub version: i64,
    /// Its compiled plan.
    pub plan: Arc<WorkflowPlan>,
}

impl<S: Store> Engine<S> {
    /// Checks, compiles and describes a component, and registers it as
    /// `name@version` from its own description. Adding the same bytes again
    /// is a no-op; the same name and version with other bytes is refused.
    /// Audited as done by `local` (the embedded CLI).
    pub async fn add_plugin(&self, wasm: &[u8]) -> Result<PluginRecord> {
        self.add_plugin_as(wasm, None, None, actor::LOCAL).await
    }

    /// Like [`add_plugin`](Engine::add_plugin), registering it under
    /// another name or version than its description gives, audited as
    /// `plugin.upload` by `actor` when it is stored (not when the same bytes
    /// were there already).
    pub async fn add_plugin_as(
        &self,
        wasm: &[u8],
        name: Option<&str>,
        version: Option<&str>,
        actor: &str,
    ) -> Result<PluginRecord> {
        if let Some(name) = name {
            check_plugin_name(name).map_err(EngineError::BadRequest)?;
        }
        if let Some(version) = version {
            semver::Version::parse(version).map_err(|e| {
                EngineError::BadRequest(format!(
                    "plugin version {version:?} is not a semantic version (such as 1.2.0): {e}"
                ))
            })?;
        }
        let plugin = self.shared.executor.load(wasm).await?;
        let info = plugin.info();
        let now = self.shared.clock.now();
        let record = PluginRecord {
            name: name.unwrap_or(&info.name).to_string(),
            version: version.unwrap_or(&info.version).to_string(),
            digest: plugin.digest().to_string(),
            info: serde_json::to_string(info).map_err(|e| EngineError::Conflict(e.to_string()))?,
            created_at: now,
        };
        let mut tx = self.shared.store.begin().await?;
        if let Some(existing) = tx.plugin(&record.name, &record.version).await? {
            if existing.digest == record.digest {
                return Ok(existing);
            }
            return Err(EngineError::Conflict(format!(
                "plugin {}@{} already exists with other content (digest {}); versions are immutable, publish a new version",
                record.name, record.version, existing.digest
            )));
        }
        tx.put_component(&record.digest, wasm, now).await?;
        tx.insert_plugin(&record).await?;
        let entry = AuditEntry::new(
            actor,
            action::PLUGIN_UPLOAD,
            format!("plugin/{}@{}", record.name, record.version),
            json!({ "digest": record.digest }),
        );
        tx.append_audit(&[entry.at(now)]).await?;
        tx.commit().await?;
        Ok(record)
    }

    /// Validates a workflow document (YAML or JSON) against the plugins and
    /// workflows that exist and saves it as a new version, audited as done
    /// by `local` (the embedded CLI).
    pub async fn save_workflow(&self, source: &str) -> Result<SavedWorkflow> {
        self.save_workflow_as(source, actor::LOCAL).await
    }

    /// Like [`save_workflow`](Engine::save_workflow), audited as
    /// `workflow.save` by `actor`.
    pub async fn save_workflow_as(&self, source: &str, actor: &str) -> Result<SavedWorkflow> {
        let definition = parse_definition(source).map_err(EngineError::Invalid)?;
        let catalog = plans::catalog(&self.shared.store).await?;
        let plan = compile(definition, &catalog).map_err(EngineError::Invalid)?;
        let definition = serde_json::to_string(&plan.definition)
            .map_err(|e| EngineError::Conflict(e.to_string()))?;
        let plugins = super::apply::pinned_plugins(&plan);
        let name = plan.definition.name.clone();
        let now = self.shared.clock.now();
        let mut tx = self.shared.store.begin().await?;
        let version = tx
            .insert_workflow_version(&NewWorkflowVersion {
                name: name.clone(),
                definition,
                source: source.to_string(),
                plugins,
                now,
            })
            .await?;
        let entry = AuditEntry::new(
            actor,
            action::WORKFLOW_SAVE,
            format!("workflow/{name}"),
            json!({ "version": version }),
        );
        tx.append_audit(&[entry.at(now)]).await?;
        tx.commit().await?;
        let plan = Arc::new(plan);
        self.shared.plans.insert(&name, version, plan.clone());
        Ok(SavedWorkflow {
            name,
            version,
            plan,
        })
    }
}
