//! `/v1/plugins/{name}/grants`: what an administrator lets a plugin reach
//! (outbound hosts, secrets, key-value state, event types, limits), for
//! every version or for one.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde_json::Value;

use crate::engine::GrantEntry;
use crate::grants::Grant;
use crate::store::Role;

use super::super::auth::Caller;
use super::super::problem::{ApiError, ApiResult, Kind, Problem};
use super::super::state::AppState;
use super::super::views::GrantQuery;

/// Save a plugin's grant.
///
/// Replaces the grant for the plugin (or, with `?version=`, for that
/// version only, which then ignores the plugin-wide grant). Nothing is
/// granted that is not in the document. The plugin need not be uploaded
/// yet. Audited.
#[utoipa::path(
    put, operation_id = "grants_put", path = "/v1/plugins/{name}/grants", tag = "plugins",
    params(("name" = String, Path, description = "Plugin name"), GrantQuery),
    request_body(content = Grant, content_type = "application/json"),
    responses(
        (status = 200, description = "Saved", body = GrantEntry),
        (status = 400, description = "Bad name or version", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The grant is not valid", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn put(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    Query(query): Query<GrantQuery>,
    body: Result<Json<Value>, JsonRejection>,
) -> ApiResult<Json<GrantEntry>> {
    caller.require(Role::Admin)?;
    let Json(document) = body?;
    let pool = &state.engine.executor().config().pool;
    let grant = Grant::from_json(&document.to_string(), pool).map_err(|problems| {
        ApiError::new(
            Kind::InvalidGrant,
            format!("nothing was saved: {}", problems.join("; ")),
        )
    })?;
    let entry = state
        .engine
        .put_grant(&name, query.version.as_deref(), grant, &caller.actor())
        .await?;
    tracing::info!(plugin = %name, version = ?query.version, by = %caller.name, "grant saved");
    Ok(Json(entry))
}

/// List a plugin's grants: the plugin-wide one and those of single
/// versions.
#[utoipa::path(
    get, operation_id = "grants_list", path = "/v1/plugins/{name}/grants", tag = "plugins",
    params(("name" = String, Path, description = "Plugin name")),
    responses(
        (status = 200, description = "Its grants (empty when nothing is granted)", body = Vec<GrantEntry>),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<Json<Vec<GrantEntry>>> {
    caller.require(Role::Viewer)?;
    Ok(Json(state.engine.grants(Some(&name)).await?))
}

/// Remove a plugin's grant (the plugin-wide one, or with `?version=` that
/// version's). Audited.
#[utoipa::path(
    delete, operation_id = "grants_delete", path = "/v1/plugins/{name}/grants", tag = "plugins",
    params(("name" = String, Path, description = "Plugin name"), GrantQuery),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such grant", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    Query(query): Query<GrantQuery>,
) -> ApiResult<StatusCode> {
    caller.require(Role::Admin)?;
    state
        .engine
        .delete_grant(&name, query.version.as_deref(), &caller.actor())
        .await?;
    tracing::info!(plugin = %name, version = ?query.version, by = %caller.name, "grant removed");
    Ok(StatusCode::NO_CONTENT)
}
