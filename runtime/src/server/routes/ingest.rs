//! `/v1/events` and `/v1/hooks/alertmanager`: durable event ingestion (a
//! 2xx answer means stored), and reading events back.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, header};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use crate::engine::clock::rfc3339;
use crate::events::{Event, alertmanager, cloudevents};
use crate::store::{ApiStore, EventQuery, EventRecord, OrchestrationReads, Role};

use super::super::auth::Caller;
use super::super::paging;
use super::super::problem::{ApiError, ApiResult, Kind, Problem, body_error};
use super::super::state::AppState;

/// What an ingestion stored.
#[derive(Debug, Serialize, ToSchema)]
pub struct Ingested {
    /// Events stored now.
    pub accepted: usize,
    /// Events stored before (same `source` and `id`), not stored again.
    pub duplicates: usize,
    /// Each event, in the order sent.
    pub events: Vec<IngestedEvent>,
}

/// One event of an ingestion.
#[derive(Debug, Serialize, ToSchema)]
pub struct IngestedEvent {
    /// CloudEvents `id`.
    pub id: String,
    /// `source`.
    pub source: String,
    /// Its place in the event log; absent for a duplicate.
    pub seq: Option<i64>,
    /// Whether it was stored before.
    pub duplicate: bool,
}

/// A stored event: its CloudEvents attributes and data, and when and from
/// whom it arrived.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventView {
    /// Its place in the event log.
    pub seq: i64,
    /// The event in CloudEvents structured mode.
    #[schema(value_type = Object)]
    pub event: Value,
    /// When it was stored.
    pub received_at: String,
    /// The token (or hook) it came through.
    pub received_by: String,
    /// What it did: rules that matched (and started a run, delivered it to
    /// a run, were denied by a policy or failed) and steps it woke. Only in
    /// answers about one event.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consequences: Option<Vec<Consequence>>,
}

/// One consequence of an event.
#[derive(Debug, Serialize, ToSchema)]
pub struct Consequence {
    /// The rule, for rule matches.
    pub rule: Option<String>,
    /// `started`, `delivered`, `woke`, `denied`, `failed` or `error`.
    pub outcome: String,
    /// The run it started, was delivered to, or woke.
    pub run_id: Option<String>,
    /// The step it woke.
    pub step_id: Option<String>,
    /// Why (denied, failed, error), or how (delivered).
    pub detail: Option<String>,
    /// When.
    pub at: String,
}

/// A page of events, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventPage {
    /// The events.
    pub events: Vec<EventView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// Filters of an event listing.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    /// Only events of this type.
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub kind: Option<String>,
    /// Only events from this source.
    pub source: Option<String>,
    /// Only events about this subject.
    pub subject: Option<String>,
    /// Page size, 1 to 500 (default 50).
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

fn view(record: &EventRecord) -> EventView {
    let event = Event {
        id: record.id.clone(),
        source: record.source.clone(),
        kind: record.kind.clone(),
        subject: record.subject.clone(),
        time: record.time.clone(),
        datacontenttype: record.datacontenttype.clone(),
        dataschema: record.dataschema.clone(),
        data: record
            .data
            .as_deref()
            .and_then(|d| serde_json::from_str(d).ok()),
        data_base64: record.data_base64.clone(),
        extensions: serde_json::from_str(&record.extensions).unwrap_or_default(),
    };
    EventView {
        seq: record.seq,
        event: cloudevents::to_json(&event),
        received_at: rfc3339(record.received_at),
        received_by: record.received_by.clone(),
        consequences: None,
    }
}

async fn store(state: &AppState, events: Vec<Event>, by: &str) -> ApiResult<Json<Ingested>> {
    let records: Vec<EventRecord> = events.into_iter().map(|e| e.into_record(by)).collect();
    let names: Vec<(String, String)> = records
        .iter()
        .map(|r| (r.id.clone(), r.source.clone()))
        .collect();
    let seqs = state.engine.ingest(records).await?;
    let events: Vec<IngestedEvent> = names
        .into_iter()
        .zip(seqs)
        .map(|((id, source), seq)| IngestedEvent {
            id,
            source,
            seq,
            duplicate: seq.is_none(),
        })
        .collect();
    let duplicates = events.iter().filter(|e| e.duplicate).count();
    Ok(Json(Ingested {
        accepted: events.len() - duplicates,
        duplicates,
        events,
    }))
}

fn content_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// Ingest CloudEvents.
///
/// Structured mode (`application/cloudevents+json`), batch mode
/// (`application/cloudevents-batch+json`, all or nothing) or binary mode
/// (`ce-specversion`, `ce-id`, `ce-source`, `ce-type` headers; the body is
/// the data). An event with the `source` and `id` of a stored one is a
/// duplicate and is not stored again. A 200 answer means stored durably.
#[utoipa::path(
    post, operation_id = "events_ingest", path = "/v1/events", tag = "events",
    request_body(content = Object, content_type = "application/cloudevents+json", description = "A CloudEvent; or a JSON array of them as application/cloudevents-batch+json; or binary mode"),
    responses(
        (status = 200, description = "Stored", body = Ingested),
        (status = 400, description = "An event is not valid; nothing was stored", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Viewer token", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not a CloudEvents content type, and no ce- headers", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn ingest(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Ingested>> {
    caller.require(Role::Operator)?;
    let body = body.map_err(|e| body_error(&e.body_text()))?;
    let kind = content_type(&headers);
    let events = if kind == "application/cloudevents+json" {
        vec![cloudevents::structured(&body)?]
    } else if kind == "application/cloudevents-batch+json" {
        cloudevents::batch(&body)?
    } else if headers.contains_key("ce-specversion") {
        vec![cloudevents::binary(&headers, &body)?]
    } else {
        return Err(ApiError::new(
            Kind::UnsupportedMediaType,
            format!(
                "send application/cloudevents+json, application/cloudevents-batch+json, or \
                 binary mode with ce-* headers (got `{kind}` without ce-specversion)"
            ),
        ));
    };
    store(&state, events, &caller.name).await
}

/// Ingest a Prometheus Alertmanager webhook (payload version 4).
///
/// Each alert becomes an event of type `alertmanager.alert.firing` or
/// `alertmanager.alert.resolved` whose subject is the alert's fingerprint.
#[utoipa::path(
    post, operation_id = "events_alertmanager", path = "/v1/hooks/alertmanager", tag = "events",
    request_body(content = Object, content_type = "application/json", description = "The Alertmanager webhook body"),
    responses(
        (status = 200, description = "Stored", body = Ingested),
        (status = 400, description = "Not a version 4 payload; nothing was stored", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Viewer token", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn alertmanager_hook(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Ingested>> {
    caller.require(Role::Operator)?;
    let body = body.map_err(|e| body_error(&e.body_text()))?;
    if !cloudevents::is_json(&content_type(&headers)) {
        return Err(ApiError::new(
            Kind::UnsupportedMediaType,
            "Alertmanager sends `Content-Type: application/json`",
        ));
    }
    let events = alertmanager::events(&body)?;
    store(&state, events, &format!("alertmanager:{}", caller.name)).await
}

/// List events, newest first.
#[utoipa::path(
    get, operation_id = "events_list", path = "/v1/events", tag = "events",
    params(EventsQuery),
    responses(
        (status = 200, description = "A page of events", body = EventPage),
        (status = 400, description = "Bad filter or cursor", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<EventsQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<EventPage>> {
    caller.require(Role::Viewer)?;
    let Query(query) = query?;
    let limit = paging::page_size(query.limit)?;
    let before = query
        .cursor
        .as_deref()
        .map(paging::decode_seq)
        .transpose()?;
    let events = state
        .engine
        .store()
        .query_events(&EventQuery {
            kind: query.kind,
            source: query.source,
            subject: query.subject,
            before,
            limit: limit + 1,
        })
        .await?;
    let (events, next_cursor) = paging::cut(events, limit, |e| e.seq.to_string());
    Ok(Json(EventPage {
        events: events.iter().map(view).collect(),
        next_cursor,
    }))
}

/// Show one event.
#[utoipa::path(
    get, operation_id = "events_show", path = "/v1/events/{seq}", tag = "events",
    params(("seq" = i64, Path, description = "The event's place in the log")),
    responses(
        (status = 200, description = "The event", body = EventView),
        (status = 400, description = "Not a number", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such event", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(seq): Path<String>,
) -> ApiResult<Json<EventView>> {
    caller.require(Role::Viewer)?;
    let seq: i64 = seq
        .parse()
        .map_err(|_| ApiError::new(Kind::BadRequest, format!("`{seq}` is not an event number")))?;
    let event = state
        .engine
        .store()
        .event(seq)
        .await?
        .ok_or_else(|| ApiError::new(Kind::NotFound, format!("no event {seq}")))?;
    let matches = state.engine.store().event_matches(seq).await?;
    let mut view = view(&event);
    view.consequences = Some(
        matches
            .into_iter()
            .map(|m| Consequence {
                rule: m.rule,
                outcome: m.outcome,
                run_id: m.run_id,
                step_id: m.step_id,
                detail: m.detail,
                at: rfc3339(m.at),
            })
            .collect(),
    );
    Ok(Json(view))
}

/// Ingest a generic JSON webhook declared as a `Webhook` resource.
///
/// No bearer token: the caller proves itself with the webhook's ingest
/// token (`Authorization: Bearer <token>`) or an HMAC-SHA256 signature of
/// the raw body, as the webhook declares. The body becomes one event
/// through the webhook's mapping.
#[utoipa::path(
    post, operation_id = "events_webhook", path = "/v1/hooks/{name}", tag = "events",
    params(("name" = String, Path, description = "Webhook name")),
    request_body(content = Object, content_type = "application/json", description = "Any JSON body"),
    responses(
        (status = 200, description = "Stored", body = Ingested),
        (status = 400, description = "Not JSON, or the mapping gives no valid event; nothing was stored", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Wrong or missing ingest token or signature", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such webhook", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
    ),
    security(())
)]
pub async fn webhook(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Ingested>> {
    use crate::resources::webhook::HookError;
    let hook = state
        .engine
        .webhook(&name)
        .ok_or_else(|| ApiError::new(Kind::NotFound, format!("no webhook `{name}`")))?;
    let body = body.map_err(|e| body_error(&e.body_text()))?;
    let headers: std::collections::BTreeMap<String, String> = headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
        .collect();
    // A key kept as a secret is read for each request, so setting it
    // anew takes effect at once.
    let stored = match hook.secret() {
        Some(secret) => match state.engine.reveal_secret(secret).await {
            Ok(Some(value)) => Some(value),
            Ok(None) => {
                tracing::warn!(webhook = %name, %secret, "the webhook's secret is not set; its callers are refused");
                None
            }
            Err(error) => {
                tracing::error!(webhook = %name, %secret, %error, "cannot read the webhook's secret; its callers are refused");
                None
            }
        },
        None => None,
    };
    let check = hook
        .check(&headers, &body, stored.as_deref().map(Vec::as_slice))
        .and_then(|()| {
            if !cloudevents::is_json(headers.get("content-type").map_or("", String::as_str)) {
                return Err(HookError::Invalid(crate::events::EventProblem {
                    at: String::new(),
                    message: "send the body as `Content-Type: application/json`".into(),
                }));
            }
            hook.event(&headers, &body)
        });
    let event = match check {
        Ok(event) => event,
        Err(HookError::Unauthorized(message)) => {
            return Err(ApiError::new(Kind::Unauthorized, message));
        }
        Err(HookError::Invalid(problem)) if problem.message.contains("Content-Type") => {
            return Err(ApiError::new(Kind::UnsupportedMediaType, problem.message));
        }
        Err(HookError::Invalid(problem)) => return Err(problem.into()),
    };
    store(&state, vec![event], &format!("webhook:{name}")).await
}
