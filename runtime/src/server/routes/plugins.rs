//! `/v1/plugins`: the content-addressed plugin registry, fed by uploads.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};

use crate::store::{ApiStore, PluginDeletion, Role, Store};

use super::super::auth::Caller;
use super::super::problem::{ApiError, ApiResult, Kind, Problem, body_error};
use super::super::state::AppState;
use super::super::views::{PluginView, UploadQuery};

/// Upload a plugin component.
///
/// The body is the component (`Content-Type: application/wasm`). It is
/// checked, compiled in a sandboxed child process, described and stored by
/// its sha256. Name and version come from its description unless the query
/// overrides them. Uploading the same bytes again is a no-op; the same name
/// and version with other bytes is a conflict.
#[utoipa::path(
    post, operation_id = "plugins_upload", path = "/v1/plugins", tag = "plugins",
    params(UploadQuery),
    request_body(content = Vec<u8>, content_type = "application/wasm"),
    responses(
        (status = 201, description = "Stored", body = PluginView),
        (status = 400, description = "Bad name or version", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "This version exists with other bytes", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Over the size limit", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not application/wasm", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a valid plugin component", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn upload(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<UploadQuery>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<(StatusCode, Json<PluginView>)> {
    caller.require(Role::Admin)?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type
        .split(';')
        .next()
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/wasm"))
    {
        return Err(ApiError::new(
            Kind::UnsupportedMediaType,
            format!(
                "upload the component with `Content-Type: application/wasm` (got `{content_type}`)"
            ),
        ));
    }
    // Plugins have their own limit, above the one for JSON bodies.
    let limit = state.limits.max_plugin;
    let body = axum::body::to_bytes(body, limit).await.map_err(|e| {
        let error = body_error(&e.to_string());
        if error.kind == Kind::PayloadTooLarge {
            ApiError::new(
                Kind::PayloadTooLarge,
                format!("the component is over the upload limit of {limit} bytes"),
            )
        } else {
            error
        }
    })?;
    let record = state
        .engine
        .add_plugin_as(
            &body,
            query.name.as_deref(),
            query.version.as_deref(),
            &caller.actor(),
        )
        .await?;
    tracing::info!(plugin = %record.name, version = %record.version, digest = %record.digest, by = %caller.name, "plugin uploaded");
    Ok((
        StatusCode::CREATED,
        Json(PluginView::from(&record).with_grant(&state.engine)),
    ))
}

/// List every plugin version.
#[utoipa::path(
    get, operation_id = "plugins_list", path = "/v1/plugins", tag = "plugins",
    responses(
        (status = 200, description = "Every plugin version, by name", body = Vec<PluginView>),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<Vec<PluginView>>> {
    caller.require(Role::Viewer)?;
    let plugins = state.engine.store().plugins().await?;
    Ok(Json(
        plugins
            .iter()
            .map(|p| PluginView::from(p).with_grant(&state.engine))
            .collect(),
    ))
}

/// List the versions of one plugin.
#[utoipa::path(
    get, operation_id = "plugins_versions", path = "/v1/plugins/{name}", tag = "plugins",
    params(("name" = String, Path, description = "Plugin name")),
    responses(
        (status = 200, description = "Its versions, oldest first", body = Vec<PluginView>),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such plugin", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn versions(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<Json<Vec<PluginView>>> {
    caller.require(Role::Viewer)?;
    let versions = state.engine.store().plugin_versions(&name).await?;
    if versions.is_empty() {
        return Err(ApiError::new(Kind::NotFound, format!("no plugin `{name}`")));
    }
    Ok(Json(
        versions
            .iter()
            .map(|p| PluginView::from(p).with_grant(&state.engine))
            .collect(),
    ))
}

/// Show one plugin version.
#[utoipa::path(
    get, operation_id = "plugins_show", path = "/v1/plugins/{name}/{version}", tag = "plugins",
    params(
        ("name" = String, Path, description = "Plugin name"),
        ("version" = String, Path, description = "Plugin version"),
    ),
    responses(
        (status = 200, description = "The version", body = PluginView),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such version", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path((name, version)): Path<(String, String)>,
) -> ApiResult<Json<PluginView>> {
    caller.require(Role::Viewer)?;
    let versions = state.engine.store().plugin_versions(&name).await?;
    let record = versions
        .iter()
        .find(|p| p.version == version)
        .ok_or_else(|| ApiError::new(Kind::NotFound, format!("no plugin `{name}@{version}`")))?;
    Ok(Json(PluginView::from(record).with_grant(&state.engine)))
}

/// Delete a plugin version that no saved workflow version uses.
#[utoipa::path(
    delete, operation_id = "plugins_delete", path = "/v1/plugins/{name}/{version}", tag = "plugins",
    params(
        ("name" = String, Path, description = "Plugin name"),
        ("version" = String, Path, description = "Plugin version"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such version", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Workflow versions use it", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path((name, version)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    caller.require(Role::Admin)?;
    let deletion = state
        .engine
        .store()
        .delete_plugin(&name, &version, &caller.actor(), state.engine.now())
        .await?;
    match deletion {
        PluginDeletion::Deleted => {
            tracing::info!(plugin = %name, %version, by = %caller.name, "plugin deleted");
            Ok(StatusCode::NO_CONTENT)
        }
        PluginDeletion::NotFound => Err(ApiError::new(
            Kind::NotFound,
            format!("no plugin `{name}@{version}`"),
        )),
        PluginDeletion::InUse(users) => {
            let users: Vec<String> = users.iter().map(|(w, v)| format!("{w}@{v}")).collect();
            Err(ApiError::new(
                Kind::InUse,
                format!(
                    "plugin `{name}@{version}` is used by saved workflow versions: {}",
                    users.join(", ")
                ),
            ))
        }
    }
}
