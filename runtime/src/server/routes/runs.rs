//! `/v1/runs` and `/v1/workflows/{name}/runs`: starting, listing, reading,
//! cancelling and retrying runs.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};

use crate::engine::{RunState, StartRun};
use crate::store::{ApiStore, Role, RunQuery, RunStatus, Store};
use crate::wasm::LogSource;

use super::super::auth::Caller;
use super::super::paging;
use super::super::problem::{ApiError, ApiResult, Kind, Problem};
use super::super::state::AppState;
use super::super::views::{
    LogLineView, LogsQuery, RunLogs, RunPage, RunView, RunsQuery, StartRequest,
};

/// Longest idempotency key.
const MAX_KEY_LEN: usize = 255;

/// Start a run of a workflow.
///
/// Answers once the run is durably recorded. With an `Idempotency-Key`
/// header, repeating the request returns the run the first one started
/// (the same key with another input is a conflict).
#[utoipa::path(
    post, operation_id = "runs_start", path = "/v1/workflows/{name}/runs", tag = "runs",
    params(
        ("name" = String, Path, description = "Workflow name"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes retries of this request return the same run"),
    ),
    request_body(content = StartRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "Started (or started before with this key)", body = RunView),
        (status = 400, description = "Malformed body or key", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Viewer token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such workflow or version", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Key reused with another input", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Over the size limit", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The input does not match the workflow's input schema", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn start(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Result<Json<StartRequest>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<RunView>)> {
    caller.require(Role::Operator)?;
    let Json(request) = body?;
    let key = match headers.get("idempotency-key") {
        None => None,
        Some(value) => {
            let key = value
                .to_str()
                .ok()
                .map(str::trim)
                .filter(|k| !k.is_empty() && k.len() <= MAX_KEY_LEN)
                .ok_or_else(|| {
                    ApiError::new(
                        Kind::BadRequest,
                        format!("the Idempotency-Key must be 1 to {MAX_KEY_LEN} visible ASCII characters"),
                    )
                })?;
            Some(key.to_string())
        }
    };
    let input = request.input.clone();
    let run = state
        .engine
        .start_run(StartRun {
            workflow: name,
            version: request.version,
            input: request.input,
            idempotency_key: key.clone(),
            started_by: crate::store::actor::token(&caller.name),
        })
        .await?;
    let view = RunView::from(&run);
    if key.is_some() && view.input != input {
        return Err(ApiError::new(
            Kind::Conflict,
            format!(
                "the Idempotency-Key was used for run {} with another input; use a new key",
                run.id
            ),
        ));
    }
    Ok((StatusCode::CREATED, Json(view)))
}

/// A cursor is `<created_at>.<run id>` of the last run of a page.
pub(super) fn encode_cursor(created_at: i64, id: &str) -> String {
    format!("{created_at}.{id}")
}

pub(super) fn decode_cursor(cursor: &str) -> ApiResult<(i64, String)> {
    let (at, id) = cursor.split_once('.').ok_or_else(paging::invalid_cursor)?;
    let at: i64 = at.parse().map_err(|_| paging::invalid_cursor())?;
    uuid::Uuid::parse_str(id).map_err(|_| paging::invalid_cursor())?;
    Ok((at, id.to_string()))
}

/// List runs, newest first.
#[utoipa::path(
    get, operation_id = "runs_list", path = "/v1/runs", tag = "runs",
    params(RunsQuery),
    responses(
        (status = 200, description = "A page of runs", body = RunPage),
        (status = 400, description = "Bad filter or cursor", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<RunsQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<RunPage>> {
    caller.require(Role::Viewer)?;
    let Query(query) = query?;
    let status = query
        .status
        .as_deref()
        .map(|s| {
            s.parse::<RunStatus>().map_err(|_| {
                ApiError::new(
                    Kind::BadRequest,
                    format!("unknown status `{s}` (running, compensating, succeeded, failed or cancelled)"),
                )
            })
        })
        .transpose()?;
    let limit = paging::page_size(query.limit)?;
    let filter = RunQuery {
        workflow: query.workflow,
        status,
        since: query
            .since
            .as_deref()
            .map(|t| paging::parse_time("since", t))
            .transpose()?,
        until: query
            .until
            .as_deref()
            .map(|t| paging::parse_time("until", t))
            .transpose()?,
        before: query.cursor.as_deref().map(decode_cursor).transpose()?,
        limit: limit + 1,
    };
    let runs = state.engine.store().query_runs(&filter).await?;
    let (runs, next_cursor) = paging::cut(runs, limit, |r| encode_cursor(r.created_at, &r.id));
    Ok(Json(RunPage {
        runs: runs.iter().map(RunView::from).collect(),
        next_cursor,
    }))
}

/// Show a run with every step, attempt, output, error and timing.
#[utoipa::path(
    get, operation_id = "runs_show", path = "/v1/runs/{id}", tag = "runs",
    params(("id" = String, Path, description = "Run id")),
    responses(
        (status = 200, description = "The run", body = RunState),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such run", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<RunState>> {
    caller.require(Role::Viewer)?;
    Ok(Json(state.engine.run_state(&id).await?))
}

/// The log lines of a run's attempts.
#[utoipa::path(
    get, operation_id = "runs_logs", path = "/v1/runs/{id}/logs", tag = "runs",
    params(("id" = String, Path, description = "Run id"), LogsQuery),
    responses(
        (status = 200, description = "The lines", body = RunLogs),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such run", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn logs(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    query: Result<Query<LogsQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<RunLogs>> {
    caller.require(Role::Viewer)?;
    let Query(query) = query?;
    let store = state.engine.store();
    if store.run(&id).await?.is_none() {
        return Err(ApiError::new(Kind::NotFound, format!("no run `{id}`")));
    }
    let mut lines = Vec::new();
    let mut dropped = 0;
    for attempt in store.attempts(&id).await? {
        if query.step.as_ref().is_some_and(|s| *s != attempt.step_id) {
            continue;
        }
        dropped += attempt.logs_dropped;
        let logged: Vec<crate::wasm::LogLine> = attempt
            .logs
            .as_deref()
            .and_then(|text| serde_json::from_str(text).ok())
            .unwrap_or_default();
        for line in logged {
            lines.push(LogLineView {
                step: attempt.step_id.clone(),
                item: (attempt.item >= 0).then_some(attempt.item),
                attempt: attempt.attempt,
                elapsed_us: line.elapsed_us,
                level: line.level.as_str().into(),
                source: match line.source {
                    LogSource::Plugin => "plugin",
                    LogSource::Stdout => "stdout",
                    LogSource::Stderr => "stderr",
                    LogSource::Host => "host",
                }
                .into(),
                message: line.message,
            });
        }
    }
    Ok(Json(RunLogs {
        run_id: id,
        lines,
        dropped,
    }))
}

/// Cancel a run: running steps are interrupted, pending ones never start.
#[utoipa::path(
    post, operation_id = "runs_cancel", path = "/v1/runs/{id}/cancel", tag = "runs",
    params(("id" = String, Path, description = "Run id")),
    responses(
        (status = 200, description = "The run, cancelled (or already ended)", body = RunView),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Viewer token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such run", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The run cannot be cancelled now", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn cancel(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<RunView>> {
    caller.require(Role::Operator)?;
    let run = state
        .engine
        .cancel_run_as(&id, &crate::store::actor::token(&caller.name))
        .await?;
    tracing::info!(run = %id, by = %caller.name, "run cancelled");
    Ok(Json(RunView::from(&run)))
}

/// Retry a failed or cancelled run from the steps that did not succeed.
#[utoipa::path(
    post, operation_id = "runs_retry", path = "/v1/runs/{id}/retry", tag = "runs",
    params(("id" = String, Path, description = "Run id")),
    responses(
        (status = 200, description = "The run, running again", body = RunView),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Viewer token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such run", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The run has not failed", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn retry(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<RunView>> {
    caller.require(Role::Operator)?;
    let run = state
        .engine
        .retry_run_as(&id, &crate::store::actor::token(&caller.name))
        .await?;
    tracing::info!(run = %id, by = %caller.name, "run retried");
    Ok(Json(RunView::from(&run)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_garbage() {
        let id = "0190b6c8-8f4e-7cc4-9a51-0a3c6e2b9f10";
        let cursor = encode_cursor(1_700_000_000_000, id);
        assert_eq!(
            decode_cursor(&cursor).unwrap(),
            (1_700_000_000_000, id.to_string())
        );
        for bad in [
            "",
            "x",
            "12",
            "12.",
            "a.0190b6c8-8f4e-7cc4-9a51-0a3c6e2b9f10",
            "12.not-a-uuid",
        ] {
            assert_eq!(
                decode_cursor(bad).unwrap_err().kind,
                Kind::InvalidCursor,
                "{bad}"
            );
        }
    }
}
