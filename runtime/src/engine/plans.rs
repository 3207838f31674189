//! The cache of compiled workflow versions.
//!
//! Versions are immutable, so a compiled [`WorkflowPlan`] never goes stale:
//! each is compiled from its stored, normalised definition once per process.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use crate::store::{Store, StoreError};
use crate::workflow::{Definition, StaticCatalog, WorkflowPlan, compile};

use super::{EngineError, Result};

/// Compiled plans by (workflow, version).
#[derive(Debug, Default)]
pub(crate) struct PlanCache {
    plans: Mutex<HashMap<(String, i64), Arc<WorkflowPlan>>>,
    /// The newest version of each workflow saved or read by this process.
    latest: Mutex<HashMap<String, i64>>,
}

impl PlanCache {
    /// The plan of a stored version, compiling it on first use.
    pub async fn get<S: Store>(
        &self,
        store: &S,
        workflow: &str,
        version: i64,
    ) -> Result<Arc<WorkflowPlan>> {
        let key = (workflow.to_string(), version);
        if let Some(plan) = self.lock().get(&key) {
            return Ok(plan.clone());
        }
        let record = store
            .workflow_version(workflow, Some(version))
            .await?
            .ok_or_else(|| {
                EngineError::NotFound(format!("no workflow `{workflow}` version {version}"))
            })?;
        let definition: Definition = serde_json::from_str(&record.definition).map_err(|e| {
            StoreError::Corrupt(format!("workflow `{workflow}` version {version}: {e}"))
        })?;
        let catalog = catalog(store).await?;
        let plan = compile(definition, &catalog).map_err(|problems| {
            StoreError::Corrupt(format!(
                "stored workflow `{workflow}` version {version} no longer compiles:\n{problems}"
            ))
        })?;
        let plan = Arc::new(plan);
        self.lock().insert(key, plan.clone());
        Ok(plan)
    }

    /// Remembers a plan that was just compiled and saved.
    pub fn insert(&self, workflow: &str, version: i64, plan: Arc<WorkflowPlan>) {
        self.lock().insert((workflow.to_string(), version), plan);
        let mut latest = self.latest.lock().unwrap_or_else(PoisonError::into_inner);
        let newest = latest.entry(workflow.to_string()).or_insert(version);
        *newest = (*newest).max(version);
    }

    /// The version to run (`version`, or the newest) and its plan, or
    /// `None` when there is no such workflow or version. With
    /// `trust_latest`, the newest version this process saved is used
    /// without asking the store (only when no other process saves
    /// workflows).
    pub async fn resolve<S: Store>(
        &self,
        store: &S,
        workflow: &str,
        version: Option<i64>,
        trust_latest: bool,
    ) -> Result<Option<(i64, Arc<WorkflowPlan>)>> {
        let cached = trust_latest
            .then(|| {
                self.latest
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .get(workflow)
                    .copied()
            })
            .flatten();
        let version = match (version, cached) {
            (Some(version), _) => version,
            (None, Some(latest)) => latest,
            (None, None) => match store.workflow_version(workflow, None).await? {
                Some(record) => {
                    let mut latest = self.latest.lock().unwrap_or_else(PoisonError::into_inner);
                    let newest = latest.entry(workflow.to_string()).or_insert(record.version);
                    *newest = (*newest).max(record.version);
                    record.version
                }
                None => return Ok(None),
            },
        };
        match self.get(store, workflow, version).await {
            Ok(plan) => Ok(Some((version, plan))),
            Err(EngineError::NotFound(_)) => Ok(None),
            Err(other) => Err(other),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, i64), Arc<WorkflowPlan>>> {
        self.plans.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A snapshot of every plugin and workflow version, for compiling.
pub(crate) async fn catalog<S: Store>(store: &S) -> Result<StaticCatalog> {
    let plugins = store
        .plugins()
        .await?
        .into_iter()
        .map(|p| (p.name, p.version, p.digest))
        .collect();
    let workflows = store.workflow_versions().await?;
    Ok(StaticCatalog { plugins, workflows })
}
