//! `/v1/apply` and `/v1/resources`: saving files of resources of every
//! kind at once, and listing, reading and deleting rules, schedules,
//! policies and webhooks. Policies govern everything else, so documents and
//! deletions of kind `Policy` need an admin; the rest needs an operator.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use crate::engine::clock::rfc3339;
use crate::engine::{Applied, EngineError};
use crate::resources::{Kind as ResourceKind, parse_documents, webhook};
use crate::store::{ResourceRecord, Role};

use super::super::auth::Caller;
use super::super::problem::{ApiError, ApiResult, Kind, Problem, body_error};
use super::super::state::AppState;

/// Options of an apply.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ApplyQuery {
    /// Only validate and report what would change.
    pub dry_run: Option<bool>,
}

/// A stored rule, schedule, policy or webhook.
#[derive(Debug, Serialize, ToSchema)]
pub struct ResourceView {
    /// `Rule`, `Schedule`, `Policy` or `Webhook`.
    pub kind: String,
    /// Its name.
    pub name: String,
    /// Saves that changed it.
    pub revision: i64,
    /// The document (webhook secrets redacted).
    #[schema(value_type = Object)]
    pub spec: Value,
    /// When it was first saved.
    pub created_at: String,
    /// When it last changed.
    pub updated_at: String,
}

impl From<&ResourceRecord> for ResourceView {
    fn from(record: &ResourceRecord) -> ResourceView {
        let mut spec: Value = serde_json::from_str(&record.spec).unwrap_or(Value::Null);
        if record.kind == ResourceKind::Webhook.as_str() {
            webhook::redact(&mut spec);
        }
        ResourceView {
            kind: record.kind.clone(),
            name: record.name.clone(),
            revision: record.revision,
            spec,
            created_at: rfc3339(record.created_at),
            updated_at: rfc3339(record.updated_at),
        }
    }
}

fn kind(text: &str) -> ApiResult<ResourceKind> {
    ResourceKind::parse(text)
        .filter(|k| *k != ResourceKind::Workflow)
        .ok_or_else(|| {
            ApiError::new(
                Kind::NotFound,
                format!("no resource kind `{text}` (kinds: rules, schedules, policies, webhooks; workflows are under /v1/workflows)"),
            )
        })
}

/// The role a change to `kind` needs.
fn role_for(kind: ResourceKind) -> Role {
    if kind == ResourceKind::Policy {
        Role::Admin
    } else {
        Role::Operator
    }
}

/// Apply a file of resources: validate every document, then save all
/// changes at once, or none.
#[utoipa::path(
    post, operation_id = "apply", path = "/v1/apply", tag = "resources",
    params(ApplyQuery),
    request_body(content = String, content_type = "application/yaml", description = "Documents of kind Workflow, Rule, Schedule, Policy and Webhook, separated by `---` (or JSON: one object or a list)"),
    responses(
        (status = 200, description = "Saved (or, with dry_run, checked); what happened to each document", body = Applied),
        (status = 400, description = "Not UTF-8, or a bad query", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Viewer token, or policies without an admin token", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not valid; `errors` lists every problem; nothing was saved", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn apply(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<ApplyQuery>, QueryRejection>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Applied>> {
    caller.require(Role::Operator)?;
    let Query(query) = query?;
    let body = body.map_err(|e| body_error(&e.body_text()))?;
    let text = std::str::from_utf8(&body)
        .map_err(|e| ApiError::new(Kind::BadRequest, format!("the body is not UTF-8: {e}")))?;
    let documents = parse_documents(text).map_err(EngineError::InvalidResources)?;
    if documents.iter().any(|d| d.kind == ResourceKind::Policy) {
        caller.require(Role::Admin)?;
    }
    let applied = state
        .engine
        .apply(text, &caller.actor(), query.dry_run.unwrap_or(false))
        .await?;
    tracing::info!(documents = applied.resources.len(), dry_run = applied.dry_run, by = %caller.name, "resources applied");
    Ok(Json(applied))
}

/// List the resources of one kind.
#[utoipa::path(
    get, operation_id = "resources_list", path = "/v1/resources/{kind}", tag = "resources",
    params(("kind" = String, Path, description = "`rules`, `schedules`, `policies` or `webhooks`")),
    responses(
        (status = 200, description = "By name", body = Vec<ResourceView>),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such kind", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(kind_text): Path<String>,
) -> ApiResult<Json<Vec<ResourceView>>> {
    caller.require(Role::Viewer)?;
    let kind = kind(&kind_text)?;
    let records = state.engine.resources(Some(kind)).await?;
    Ok(Json(records.iter().map(ResourceView::from).collect()))
}

/// One resource.
#[utoipa::path(
    get, operation_id = "resources_show", path = "/v1/resources/{kind}/{name}", tag = "resources",
    params(("kind" = String, Path, description = "`rules`, `schedules`, `policies` or `webhooks`"),
           ("name" = String, Path, description = "Its name")),
    responses(
        (status = 200, description = "The resource", body = ResourceView),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such kind or resource", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path((kind_text, name)): Path<(String, String)>,
) -> ApiResult<Json<ResourceView>> {
    caller.require(Role::Viewer)?;
    let kind = kind(&kind_text)?;
    let records = state.engine.resources(Some(kind)).await?;
    let record = records
        .iter()
        .find(|r| r.name == name)
        .ok_or_else(|| ApiError::new(Kind::NotFound, format!("no {kind} `{name}`")))?;
    Ok(Json(ResourceView::from(record)))
}

/// Delete a resource.
#[utoipa::path(
    delete, operation_id = "resources_delete", path = "/v1/resources/{kind}/{name}", tag = "resources",
    params(("kind" = String, Path, description = "`rules`, `schedules`, `policies` or `webhooks`"),
           ("name" = String, Path, description = "Its name")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Viewer token, or a policy without an admin token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such kind or resource", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path((kind_text, name)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    caller.require(Role::Operator)?;
    let kind = kind(&kind_text)?;
    caller.require(role_for(kind))?;
    state
        .engine
        .delete_resource(kind, &name, &caller.actor())
        .await?;
    tracing::info!(%kind, %name, by = %caller.name, "resource deleted");
    Ok(StatusCode::NO_CONTENT)
}
