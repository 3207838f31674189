//! `/v1/audit`: reading the audit trail (admin only). Entries are written
//! by the actions they record, never through this route.

use axum::Json;
use axum::extract::{Query, State};

use crate::store::{ApiStore, AuditQuery, Role};

use super::super::auth::Caller;
use super::super::paging;
use super::super::problem::{ApiResult, Problem};
use super::super::state::AppState;
use super::super::views::{AuditPage, AuditParams};

/// List audit entries, oldest first.
///
/// Each entry carries the hash of the one before it; `baton audit verify`
/// pages through the whole trail and checks the chain.
#[utoipa::path(
    get, operation_id = "audit_list", path = "/v1/audit", tag = "audit",
    params(AuditParams),
    responses(
        (status = 200, description = "A page of entries", body = AuditPage),
        (status = 400, description = "Bad filter or cursor", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<AuditParams>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<AuditPage>> {
    caller.require(Role::Admin)?;
    let Query(query) = query?;
    let limit = paging::page_size(query.limit)?;
    let filter = AuditQuery {
        actor: query.actor,
        action: query.action,
        target: query.target,
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
        after: query
            .cursor
            .as_deref()
            .map(paging::decode_seq)
            .transpose()?,
        limit: limit + 1,
    };
    let entries = state.engine.store().query_audit(&filter).await?;
    let (entries, next_cursor) = paging::cut(entries, limit, |e| e.seq.to_string());
    Ok(Json(AuditPage {
        entries,
        next_cursor,
    }))
}
