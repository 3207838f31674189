//! Applying resource files: every document of every kind is validated
//! first (workflows against the plugins and workflows that exist or come
//! in the same file; rules and schedules against the workflows), then all
//! changes are saved in one transaction with their audit entries, or none
//! is. A document equal to what is stored is left alone, so applying the
//! same file twice changes nothing.
//!
//! The resources in force (rules, schedules, policies, webhooks) are
//! compiled into a [`ResourceSet`] that the writer reads; it is rebuilt
//! from the store after each change.

use std::sync::{Arc, PoisonError};

use serde::Serialize;
use serde_json::{Value, json};

use crate::resources::{Document, Kind, Resource, ResourceSet, parse_documents};
use crate::store::{
    AuditEntry, AuditLog, NewWorkflowVersion, OrchestrationTx, ResourceRecord, ScheduleStateRecord,
    Store, StoreTx, action,
};
use crate::workflow::{
    Catalog, Definition, Problem, Problems, StaticCatalog, StepAction, WorkflowPlan, compile,
};

use super::{Engine, EngineError, Result, Shared, plans};

/// What `apply` did (or would do, in a dry run) to one document.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AppliedResource {
    /// Its kind.
    pub kind: Kind,
    /// Its name.
    pub name: String,
    /// `created`, `updated` or `unchanged`.
    pub action: String,
    /// The workflow version, or the resource's revision, after the apply.
    pub version: i64,
}

/// What `apply` did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Applied {
    /// Whether nothing was saved (a dry run).
    pub dry_run: bool,
    /// Each document, in file order.
    pub resources: Vec<AppliedResource>,
}

/// One validated document, ready to save.
enum Ready {
    Workflow {
        plan: Box<WorkflowPlan>,
        definition: String,
        source: String,
    },
    Resource {
        resource: Box<Resource>,
        spec: String,
    },
}

/// The plugin versions a plan pins, sorted and without duplicates.
pub(crate) fn pinned_plugins(plan: &WorkflowPlan) -> Vec<(String, String, String)> {
    let mut plugins: Vec<(String, String, String)> = plan
        .steps
        .iter()
        .chain(plan.on_failure.iter())
        .filter_map(|step| match &step.action {
            StepAction::Plugin {
                name,
                version,
                digest,
                ..
            } => Some((name.clone(), version.clone(), digest.clone())),
            _ => None,
        })
        .collect();
    plugins.sort();
    plugins.dedup();
    plugins
}

impl<S: Store> Engine<S> {
    /// Validates every document of `text` (multi-document YAML, or JSON)
    /// and saves the changed ones in one transaction, audited as done by
    /// `actor`; with `dry_run`, only validates and reports.
    pub async fn apply(&self, text: &str, actor: &str, dry_run: bool) -> Result<Applied> {
        let documents = parse_documents(text).map_err(EngineError::InvalidResources)?;
        let mut catalog = plans::catalog(&self.shared.store).await?;
        // Workflows of this file exist for the others (children, rules).
        for document in documents.iter().filter(|d| d.kind == Kind::Workflow) {
            catalog.workflows.push((document.name.clone(), i64::MAX));
        }
        let mut problems = Vec::new();
        let mut ready = Vec::new();
        for document in &documents {
            if let Some(item) = validate(document, &catalog, &mut problems) {
                ready.push((document, item));
            }
        }
        if !problems.is_empty() {
            return Err(EngineError::InvalidResources(Problems(problems)));
        }
        let now = self.shared.clock.now();
        let mut tx = self.shared.store.begin().await?;
        let mut report = Vec::new();
        let mut audit = Vec::new();
        let mut saved_plans = Vec::new();
        for (document, item) in ready {
            let (action_done, version) = match item {
                Ready::Workflow {
                    plan,
                    definition,
                    source,
                } => {
                    let latest = self
                        .shared
                        .store
                        .workflow_version(&document.name, None)
                        .await?;
                    match latest {
                        Some(latest) if latest.definition == definition => {
                            ("unchanged", latest.version)
                        }
                        latest => {
                            let version = if dry_run {
                                latest.map_or(1, |l| l.version + 1)
                            } else {
                                let version = tx
                                    .insert_workflow_version(&NewWorkflowVersion {
                                        name: document.name.clone(),
                                        definition,
                                        source,
                                        plugins: pinned_plugins(&plan),
                                        now,
                                    })
                                    .await?;
                                audit.push(
                                    AuditEntry::new(
                                        actor,
                                        action::WORKFLOW_SAVE,
                                        format!("workflow/{}", document.name),
                                        json!({ "version": version }),
                                    )
                                    .at(now),
                                );
                                saved_plans.push((document.name.clone(), version, plan));
                                version
                            };
                            (if version == 1 { "created" } else { "updated" }, version)
                        }
                    }
                }
                Ready::Resource { resource, spec } => {
                    let kind = document.kind.as_str();
                    let existing = tx.resource(kind, &document.name).await?;
                    match existing {
                        Some(existing) if existing.spec == spec => ("unchanged", existing.revision),
                        existing => {
                            let revision = existing.as_ref().map_or(1, |e| e.revision + 1);
                            if !dry_run {
                                tx.put_resource(&ResourceRecord {
                                    kind: kind.to_string(),
                                    name: document.name.clone(),
                                    spec: spec.clone(),
                                    revision,
                                    created_at: existing.as_ref().map_or(now, |e| e.created_at),
                                    updated_at: now,
                                })
                                .await?;
                                if let Resource::Schedule(schedule) = resource.as_ref() {
                                    start_schedule(&mut tx, schedule, existing.as_ref(), now)
                                        .await?;
                                }
                                audit.push(
                                    AuditEntry::new(
                                        actor,
                                        action::RESOURCE_SAVE,
                                        format!("{}/{}", kind.to_ascii_lowercase(), document.name),
                                        json!({ "revision": revision }),
                                    )
                                    .at(now),
                                );
                            }
                            (if revision == 1 { "created" } else { "updated" }, revision)
                        }
                    }
                }
            };
            report.push(AppliedResource {
                kind: document.kind,
                name: document.name.clone(),
                action: action_done.into(),
                version,
            });
        }
        if dry_run {
            return Ok(Applied {
                dry_run,
                resources: report,
            });
        }
        tx.append_audit(&audit).await?;
        tx.commit().await?;
        for (name, version, plan) in saved_plans {
            self.shared.plans.insert(&name, version, Arc::new(*plan));
        }
        reload(&self.shared).await?;
        let _ = self.commands.send(super::writer::Command::Reschedule).await;
        Ok(Applied {
            dry_run,
            resources: report,
        })
    }

    /// Deletes a rule, schedule, policy or webhook, audited as done by
    /// `actor`. Workflows are versioned and are not deleted.
    pub async fn delete_resource(&self, kind: Kind, name: &str, actor: &str) -> Result<()> {
        if kind == Kind::Workflow {
            return Err(EngineError::BadRequest(
                "workflows keep their versions and cannot be deleted".into(),
            ));
        }
        let now = self.shared.clock.now();
        let mut tx = self.shared.store.begin().await?;
        if !tx.delete_resource(kind.as_str(), name).await? {
            return Err(EngineError::NotFound(format!("no {kind} `{name}`")));
        }
        if kind == Kind::Schedule {
            tx.delete_schedule_state(name).await?;
        }
        let entry = AuditEntry::new(
            actor,
            action::RESOURCE_DELETE,
            format!("{}/{name}", kind.as_str().to_ascii_lowercase()),
            json!({}),
        );
        tx.append_audit(&[entry.at(now)]).await?;
        tx.commit().await?;
        reload(&self.shared).await?;
        let _ = self.commands.send(super::writer::Command::Reschedule).await;
        Ok(())
    }

    /// Stored resources of one kind (or all but workflows), by kind and
    /// name.
    pub async fn resources(&self, kind: Option<Kind>) -> Result<Vec<ResourceRecord>> {
        Ok(self.shared.store.resources(kind.map(Kind::as_str)).await?)
    }

    /// A webhook in force.
    pub fn webhook(&self, name: &str) -> Option<crate::resources::webhook::Webhook> {
        self.shared.resources().webhook(name).cloned()
    }
}

/// Validates one document; its problems are pushed with the document's
/// path.
fn validate(
    document: &Document,
    catalog: &StaticCatalog,
    problems: &mut Vec<Problem>,
) -> Option<Ready> {
    let prefix = |problem: Problem| {
        let path = crate::workflow::join_problem_path(&document.path, &problem.path);
        Problem::new(path, problem.message)
    };
    match document.kind {
        Kind::Workflow => {
            let definition: Definition = match crate::resources::read_spec(&document.body, "") {
                Ok(definition) => definition,
                Err(found) => {
                    problems.extend(found.into_iter().map(prefix));
                    return None;
                }
            };
            match compile(definition, catalog) {
                Ok(plan) => {
                    let definition = serde_json::to_string(&plan.definition).ok()?;
                    let source = serde_yaml_ng::to_string(&document.body)
                        .unwrap_or_else(|_| document.body.to_string());
                    Some(Ready::Workflow {
                        plan: Box::new(plan),
                        definition,
                        source,
                    })
                }
                Err(found) => {
                    problems.extend(found.0.into_iter().map(prefix));
                    None
                }
            }
        }
        kind => match Resource::compile(kind, &document.body, &document.path) {
            Ok(resource) => {
                if let Some((workflow, version)) = resource.workflow()
                    && !catalog.workflow(workflow, version)
                    && !catalog.workflow(workflow, Some(i64::MAX))
                {
                    let what = match version {
                        Some(v) => format!("no workflow `{workflow}` (version {v})"),
                        None => format!("no workflow `{workflow}`"),
                    };
                    problems.push(Problem::new(format!("{}.workflow", document.path), what));
                    return None;
                }
                Some(Ready::Resource {
                    resource: Box::new(resource),
                    spec: canonical(&document.body),
                })
            }
            Err(found) => {
                problems.extend(found);
                None
            }
        },
    }
}

/// A document as stored: JSON with sorted keys, so equal documents compare
/// equal whatever their layout.
fn canonical(body: &Value) -> String {
    // serde_json's maps are sorted by key.
    body.to_string()
}

/// Sets a new or changed schedule's next occurrence (kept when only its
/// input or policies changed).
async fn start_schedule<T: StoreTx>(
    tx: &mut T,
    schedule: &crate::resources::schedule::Schedule,
    existing: Option<&ResourceRecord>,
    now: i64,
) -> Result<()> {
    let same_timing = existing
        .and_then(|e| serde_json::from_str::<Value>(&e.spec).ok())
        .and_then(|spec| {
            crate::resources::schedule::compile(&spec, "")
                .ok()
                .map(|old| old.timing == schedule.timing)
        })
        .unwrap_or(false);
    let states = tx.schedule_states().await?;
    if same_timing && states.iter().any(|s| s.name == schedule.name) {
        return Ok(());
    }
    let previous = states.into_iter().find(|s| s.name == schedule.name);
    tx.put_schedule_state(&ScheduleStateRecord {
        name: schedule.name.clone(),
        next_at: schedule.next_after(now).unwrap_or(i64::MAX),
        last_at: previous.as_ref().and_then(|p| p.last_at),
        last_run: previous.and_then(|p| p.last_run),
        queued_at: None,
    })
    .await?;
    Ok(())
}

/// Rebuilds the resources in force from the store. A stored document that
/// no longer compiles (it did when saved) is skipped with an error in the
/// log rather than stopping the engine.
pub(crate) async fn reload<S: Store>(shared: &Shared<S>) -> Result<()> {
    let records = shared.store.resources(None).await?;
    let mut compiled = Vec::new();
    for record in records {
        let Some(kind) = Kind::parse(&record.kind) else {
            continue;
        };
        let spec: Value = match serde_json::from_str(&record.spec) {
            Ok(spec) => spec,
            Err(error) => {
                tracing::error!(kind = %record.kind, name = %record.name, %error, "a stored resource is not JSON; skipped");
                continue;
            }
        };
        match Resource::compile(kind, &spec, "") {
            Ok(resource) => compiled.push(resource),
            Err(problems) => {
                let problems = Problems(problems);
                tracing::error!(kind = %record.kind, name = %record.name, %problems, "a stored resource no longer compiles; skipped");
            }
        }
    }
    let set = Arc::new(ResourceSet::new(compiled));
    *shared
        .resources
        .write()
        .unwrap_or_else(PoisonError::into_inner) = set;
    Ok(())
}
