//! `/v1/tokens`: access tokens (admin only).

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;

use crate::store::{ApiStore, Role};

use super::super::auth::{Caller, check_token_name, new_token};
use super::super::problem::{ApiError, ApiResult, Kind, Problem};
use super::super::state::AppState;
use super::super::views::{CreateToken, CreatedToken, TokenView};

/// Create a token. Its secret is in this answer and nowhere else.
#[utoipa::path(
    post, operation_id = "tokens_create", path = "/v1/tokens", tag = "tokens",
    request_body(content = CreateToken, content_type = "application/json"),
    responses(
        (status = 201, description = "Created; store the token now", body = CreatedToken),
        (status = 400, description = "Bad name or role", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A live token has this name", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Json<CreateToken>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<CreatedToken>)> {
    caller.require(Role::Admin)?;
    let Json(request) = body?;
    check_token_name(&request.name).map_err(|m| ApiError::new(Kind::BadRequest, m))?;
    let role: Role = request
        .role
        .parse()
        .map_err(|m: String| ApiError::new(Kind::BadRequest, m))?;
    let token = new_token(&request.name, role, &caller.name, state.engine.now());
    state
        .engine
        .store()
        .insert_token(&token.record, &caller.actor())
        .await?;
    tracing::info!(token = %request.name, role = role.as_str(), by = %caller.name, "token created");
    Ok((
        StatusCode::CREATED,
        Json(CreatedToken {
            name: token.record.name,
            role: role.as_str().into(),
            token: token.secret,
        }),
    ))
}

/// List tokens (never their secrets).
#[utoipa::path(
    get, operation_id = "tokens_list", path = "/v1/tokens", tag = "tokens",
    responses(
        (status = 200, description = "Every token, live and revoked", body = Vec<TokenView>),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<Vec<TokenView>>> {
    caller.require(Role::Admin)?;
    let tokens = state.engine.store().tokens().await?;
    Ok(Json(tokens.iter().map(TokenView::from).collect()))
}

/// Revoke a token; it stops working at once.
#[utoipa::path(
    delete, operation_id = "tokens_revoke", path = "/v1/tokens/{name}", tag = "tokens",
    params(("name" = String, Path, description = "Token name")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No live token has this name", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    caller.require(Role::Admin)?;
    if !state
        .engine
        .store()
        .revoke_token(&name, &caller.actor(), state.engine.now())
        .await?
    {
        return Err(ApiError::new(
            Kind::NotFound,
            format!("no live token `{name}`"),
        ));
    }
    state.tokens.forget(&name);
    tracing::info!(token = %name, by = %caller.name, "token revoked");
    Ok(StatusCode::NO_CONTENT)
}
