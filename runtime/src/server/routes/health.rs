//! Liveness, readiness and metrics: unauthenticated, outside `/v1`.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;

use crate::store::ApiStore;

use super::super::state::AppState;
use super::super::views::Health;

/// The process is up.
#[utoipa::path(
    get, operation_id = "health_healthz", path = "/healthz", tag = "health",
    responses((status = 200, description = "Up", body = Health))
)]
pub async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
        detail: None,
    })
}

/// The database answers and its schema is current.
#[utoipa::path(
    get, operation_id = "health_readyz", path = "/readyz", tag = "health",
    responses(
        (status = 200, description = "Ready", body = Health),
        (status = 503, description = "Not ready", body = Health),
    )
)]
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    match state.engine.store().ready().await {
        Ok(()) => (
            StatusCode::OK,
            Json(Health {
                status: "ok".into(),
                detail: None,
            }),
        ),
        Err(error) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(Health {
                status: "unavailable".into(),
                detail: Some(error.to_string()),
            }),
        ),
    }
}

/// Metrics in the Prometheus text format.
#[utoipa::path(
    get, operation_id = "health_metrics", path = "/metrics", tag = "health",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain", body = String))
)]
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let now = state.engine.now();
    let depth = state.engine.store().queue_depth(now).await.unwrap_or(-1);
    let text = state.metrics.render(depth, state.engine.running_attempts());
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
}
