//! `/v1/workflows`: saving versions and reading them back.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};

use crate::store::{ApiStore, Role, Store};
use crate::workflow::{Problem as FieldProblem, Problems, parse_definition};

use super::super::auth::Caller;
use super::super::problem::{ApiError, ApiResult, Kind, Problem, body_error};
use super::super::state::AppState;
use super::super::views::{VersionQuery, VersionSummary, WorkflowVersionView, WorkflowView};

/// Content types a workflow document may come in.
const DOCUMENT_TYPES: &[&str] = &[
    "application/yaml",
    "application/x-yaml",
    "text/yaml",
    "text/x-yaml",
    "application/json",
    "text/plain",
];

/// Save a new version of a workflow.
///
/// The body is the workflow document, YAML or JSON; its `name` must be the
/// one in the path. Every problem is reported at once, each with the path
/// of the offending field.
#[utoipa::path(
    put, operation_id = "workflows_save", path = "/v1/workflows/{name}", tag = "workflows",
    params(("name" = String, Path, description = "Workflow name")),
    request_body(content = String, content_type = "application/yaml", description = "The workflow document (YAML, or JSON as application/json)"),
    responses(
        (status = 201, description = "The new version", body = WorkflowVersionView),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Viewer token", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Over the size limit", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not YAML or JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not valid; `errors` lists every problem", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn save(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<(StatusCode, Json<WorkflowVersionView>)> {
    caller.require(Role::Operator)?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = content_type.split(';').next().unwrap_or("").trim();
    if !DOCUMENT_TYPES
        .iter()
        .any(|t| t.eq_ignore_ascii_case(essence))
    {
        return Err(ApiError::new(
            Kind::UnsupportedMediaType,
            format!(
                "send the workflow as YAML (`Content-Type: application/yaml`) or JSON \
                 (`application/json`), not `{content_type}`"
            ),
        ));
    }
    let body = body.map_err(|e| body_error(&e.body_text()))?;
    let source = std::str::from_utf8(&body)
        .map_err(|e| ApiError::new(Kind::BadRequest, format!("the body is not UTF-8: {e}")))?;
    // The name must match before anything is saved.
    let definition = parse_definition(source).map_err(crate::engine::EngineError::Invalid)?;
    if definition.name != name {
        return Err(
            crate::engine::EngineError::Invalid(Problems(vec![FieldProblem::new(
                "name",
                format!(
                    "the document is named `{}` but was sent to /v1/workflows/{name}",
                    definition.name
                ),
            )]))
            .into(),
        );
    }
    let saved = state
        .engine
        .save_workflow_as(source, &caller.actor())
        .await?;
    let record = state
        .engine
        .store()
        .workflow_version(&saved.name, Some(saved.version))
        .await?
        .ok_or_else(|| ApiError::new(Kind::Internal, "the saved version cannot be read back"))?;
    tracing::info!(workflow = %saved.name, version = saved.version, by = %caller.name, "workflow saved");
    Ok((
        StatusCode::CREATED,
        Json(WorkflowVersionView::from(&record)),
    ))
}

/// List workflows.
#[utoipa::path(
    get, operation_id = "workflows_list", path = "/v1/workflows", tag = "workflows",
    responses(
        (status = 200, description = "Every workflow, by name", body = Vec<WorkflowView>),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<Vec<WorkflowView>>> {
    caller.require(Role::Viewer)?;
    let workflows = state.engine.store().workflows().await?;
    Ok(Json(workflows.iter().map(WorkflowView::from).collect()))
}

/// Show a workflow version (the newest without `version`).
#[utoipa::path(
    get, operation_id = "workflows_show", path = "/v1/workflows/{name}", tag = "workflows",
    params(("name" = String, Path, description = "Workflow name"), VersionQuery),
    responses(
        (status = 200, description = "The version", body = WorkflowVersionView),
        (status = 400, description = "Bad query", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such workflow or version", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    Query(query): Query<VersionQuery>,
) -> ApiResult<Json<WorkflowVersionView>> {
    caller.require(Role::Viewer)?;
    let record = state
        .engine
        .store()
        .workflow_version(&name, query.version)
        .await?
        .ok_or_else(|| match query.version {
            Some(v) => ApiError::new(
                Kind::NotFound,
                format!("no version {v} of workflow `{name}`"),
            ),
            None => ApiError::new(Kind::NotFound, format!("no workflow `{name}`")),
        })?;
    Ok(Json(WorkflowVersionView::from(&record)))
}

/// List a workflow's versions.
#[utoipa::path(
    get, operation_id = "workflows_versions", path = "/v1/workflows/{name}/versions", tag = "workflows",
    params(("name" = String, Path, description = "Workflow name")),
    responses(
        (status = 200, description = "Its versions, oldest first", body = Vec<VersionSummary>),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such workflow", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn versions(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<Json<Vec<VersionSummary>>> {
    caller.require(Role::Viewer)?;
    let history = state.engine.store().workflow_history(&name).await?;
    if history.is_empty() {
        return Err(ApiError::new(
            Kind::NotFound,
            format!("no workflow `{name}`"),
        ));
    }
    Ok(Json(
        history
            .iter()
            .map(|v| VersionSummary {
                version: v.version,
                created_at: crate::engine::clock::rfc3339(v.created_at),
            })
            .collect(),
    ))
}
