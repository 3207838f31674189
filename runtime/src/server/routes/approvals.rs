//! `/v1/approvals`: human decisions that runs wait for (approval steps and
//! the gates policies put before steps and runs).

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use crate::engine::Decide;
use crate::engine::clock::rfc3339;
use crate::store::{ApprovalQuery, ApprovalRecord, OrchestrationReads, Role};
use crate::workflow::Verdict;

use super::super::auth::Caller;
use super::super::paging;
use super::super::problem::{ApiError, ApiResult, Kind, Problem};
use super::super::state::AppState;
use super::runs::{decode_cursor, encode_cursor};

/// Statuses of approvals.
const STATUSES: &[&str] = &["pending", "approved", "rejected", "expired", "cancelled"];
/// Longest comment.
const MAX_COMMENT: usize = 4096;

/// An approval.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApprovalView {
    /// Its id.
    pub id: String,
    /// The run waiting for it.
    pub run_id: String,
    /// The step it holds (`$run` for a gate before the whole run).
    pub step_id: String,
    /// The for_each element, if it holds one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item: Option<i64>,
    /// `step` (an approval step), `policy` (a gate before a step) or `run`
    /// (a gate before the run).
    pub gate: String,
    /// The policy that asked for it.
    pub policy: Option<String>,
    /// `pending`, `approved`, `rejected`, `expired` or `cancelled`.
    pub status: String,
    /// Who may decide: `{roles, tokens}`; empty for any operator or admin.
    #[schema(value_type = Object)]
    pub approvers: Value,
    /// What approvers are asked.
    pub message: String,
    /// Who started the run (and so may not decide, unless a policy allows).
    pub requested_by: String,
    /// The decision if nobody decides by the deadline.
    pub on_timeout: String,
    /// The deadline.
    pub deadline: String,
    /// Who decided.
    pub decided_by: Option<String>,
    /// Why.
    pub comment: Option<String>,
    /// When it was asked.
    pub created_at: String,
    /// When it was decided.
    pub decided_at: Option<String>,
}

impl From<&ApprovalRecord> for ApprovalView {
    fn from(r: &ApprovalRecord) -> ApprovalView {
        ApprovalView {
            id: r.id.clone(),
            run_id: r.run_id.clone(),
            step_id: r.step_id.clone(),
            item: (r.item >= 0).then_some(r.item),
            gate: r.gate.clone(),
            policy: r.policy.clone(),
            status: r.status.clone(),
            approvers: serde_json::from_str(&r.approvers).unwrap_or(Value::Null),
            message: r.message.clone(),
            requested_by: r.requested_by.clone(),
            on_timeout: r.on_timeout.clone(),
            deadline: rfc3339(r.deadline),
            decided_by: r.decided_by.clone(),
            comment: r.comment.clone(),
            created_at: rfc3339(r.created_at),
            decided_at: r.decided_at.map(rfc3339),
        }
    }
}

/// Filters of an approval listing, oldest first.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ApprovalsQuery {
    /// Only this status (`pending`, `approved`, `rejected`, `expired`,
    /// `cancelled`).
    pub status: Option<String>,
    /// Only for this run.
    pub run: Option<String>,
    /// Page size (1 to 500, default 50).
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// A page of approvals.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApprovalPage {
    /// The approvals, oldest first.
    pub approvals: Vec<ApprovalView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// A decision.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionRequest {
    /// `approve` or `reject`.
    #[schema(value_type = String)]
    pub decision: Verdict,
    /// Why (at most 4096 characters).
    pub comment: Option<String>,
}

/// List approvals.
#[utoipa::path(
    get, operation_id = "approvals_list", path = "/v1/approvals", tag = "approvals",
    params(ApprovalsQuery),
    responses(
        (status = 200, description = "A page of approvals", body = ApprovalPage),
        (status = 400, description = "Bad filter or cursor", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<ApprovalsQuery>, QueryRejection>,
) -> ApiResult<Json<ApprovalPage>> {
    caller.require(Role::Viewer)?;
    let Query(query) = query?;
    let limit = paging::page_size(query.limit)?;
    if let Some(status) = &query.status
        && !STATUSES.contains(&status.as_str())
    {
        return Err(ApiError::new(
            Kind::BadRequest,
            format!(
                "unknown status `{status}` (statuses: {})",
                STATUSES.join(", ")
            ),
        ));
    }
    let records = state
        .engine
        .store()
        .approvals(&ApprovalQuery {
            status: query.status,
            run_id: query.run,
            after: query.cursor.as_deref().map(decode_cursor).transpose()?,
            limit: limit + 1,
        })
        .await?;
    let (records, next_cursor) =
        paging::cut(records, limit, |r| encode_cursor(r.created_at, &r.id));
    Ok(Json(ApprovalPage {
        approvals: records.iter().map(ApprovalView::from).collect(),
        next_cursor,
    }))
}

/// One approval.
#[utoipa::path(
    get, operation_id = "approvals_show", path = "/v1/approvals/{id}", tag = "approvals",
    params(("id" = String, Path, description = "Approval id")),
    responses(
        (status = 200, description = "The approval", body = ApprovalView),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such approval", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<ApprovalView>> {
    caller.require(Role::Viewer)?;
    let record = state
        .engine
        .store()
        .approval_by_id(&id)
        .await?
        .ok_or_else(|| ApiError::new(Kind::NotFound, format!("no approval `{id}`")))?;
    Ok(Json(ApprovalView::from(&record)))
}

/// Approve or reject. Only the approval's approvers may decide, and not
/// whoever started the run unless a policy `on: approval` allows it.
#[utoipa::path(
    post, operation_id = "approvals_decide", path = "/v1/approvals/{id}", tag = "approvals",
    params(("id" = String, Path, description = "Approval id")),
    request_body(content = DecisionRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Decided; the run moves on", body = ApprovalView),
        (status = 400, description = "Bad body", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Viewer token, not an approver, separation of duties, or denied by a policy", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such approval", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already decided", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn decide(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Result<Json<DecisionRequest>, JsonRejection>,
) -> ApiResult<Json<ApprovalView>> {
    caller.require(Role::Operator)?;
    let Json(request) = body?;
    if request
        .comment
        .as_ref()
        .is_some_and(|c| c.len() > MAX_COMMENT)
    {
        return Err(ApiError::new(
            Kind::BadRequest,
            format!("a comment is at most {MAX_COMMENT} bytes"),
        ));
    }
    let record = state
        .engine
        .decide(Decide {
            approval: id,
            verdict: request.decision,
            comment: request.comment,
            by: caller.name.clone(),
            role: caller.role.as_str().to_string(),
        })
        .await?;
    tracing::info!(approval = %record.id, decision = request.decision.as_str(), by = %caller.name, "approval decided");
    Ok(Json(ApprovalView::from(&record)))
}
