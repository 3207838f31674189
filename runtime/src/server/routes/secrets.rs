//! `/v1/secrets`: named secrets for plugins. Values go in and never come
//! out: the API shows names and metadata only.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;

use crate::engine::SecretInfo;
use crate::store::Role;

use super::super::auth::Caller;
use super::super::problem::{ApiResult, Problem};
use super::super::state::AppState;
use super::super::views::PutSecret;

/// Save a secret.
///
/// The value is encrypted at rest under the master key and never returned
/// by any route; plugins read only the secrets granted to them. Audited
/// (without the value).
#[utoipa::path(
    put, operation_id = "secrets_put", path = "/v1/secrets/{name}", tag = "secrets",
    params(("name" = String, Path, description = "Secret name")),
    request_body(content = PutSecret, content_type = "application/json"),
    responses(
        (status = 200, description = "Replaced", body = SecretInfo),
        (status = 201, description = "Created", body = SecretInfo),
        (status = 400, description = "Bad name or value", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Value too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn put(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    body: Result<Json<PutSecret>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<SecretInfo>)> {
    caller.require(Role::Admin)?;
    let Json(request) = body?;
    let (info, created) = state
        .engine
        .put_secret(
            &name,
            request.value.as_bytes(),
            request.description,
            &caller.actor(),
        )
        .await?;
    tracing::info!(secret = %name, created, by = %caller.name, "secret saved");
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(info)))
}

/// List secrets: names and metadata, never values.
#[utoipa::path(
    get, operation_id = "secrets_list", path = "/v1/secrets", tag = "secrets",
    responses(
        (status = 200, description = "Every secret, by name", body = Vec<SecretInfo>),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an operator", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<Vec<SecretInfo>>> {
    caller.require(Role::Operator)?;
    Ok(Json(state.engine.secrets().await?))
}

/// Remove a secret. Plugins granted it get `unavailable` from then on.
/// Audited.
#[utoipa::path(
    delete, operation_id = "secrets_delete", path = "/v1/secrets/{name}", tag = "secrets",
    params(("name" = String, Path, description = "Secret name")),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such secret", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    caller.require(Role::Admin)?;
    state.engine.delete_secret(&name, &caller.actor()).await?;
    tracing::info!(secret = %name, by = %caller.name, "secret removed");
    Ok(StatusCode::NO_CONTENT)
}
