//! Errors of the HTTP layer, answered as RFC 9457 `application/problem+json`.
//!
//! Every failure a handler can meet becomes an [`ApiError`] with a stable
//! [`Kind`]: its `type` URI (`urn:baton:problem:<kind>`) never changes, so
//! clients branch on it, while `detail` is for people. Engine and store
//! errors are mapped here, once; axum's own rejections (bad JSON, bad path,
//! oversized body) too, so no answer escapes in another format.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::engine::EngineError;
use crate::store::StoreError;
use crate::workflow::Problem as FieldProblem;

/// The stable kinds of problems, each with its status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The request is malformed (JSON, query string, path, header).
    BadRequest,
    /// A pagination cursor is not one this server gave out.
    InvalidCursor,
    /// No valid bearer token.
    Unauthorized,
    /// The token's role may not do this.
    Forbidden,
    /// No such resource.
    NotFound,
    /// The route exists but not with this method.
    MethodNotAllowed,
    /// The request conflicts with what is stored (immutable versions,
    /// reused idempotency keys, a run in the wrong state).
    Conflict,
    /// The resource is still used by others and cannot be deleted.
    InUse,
    /// The body is over the limit.
    PayloadTooLarge,
    /// The body's content type is not accepted here.
    UnsupportedMediaType,
    /// A workflow document is not valid; `errors` lists every problem.
    InvalidWorkflow,
    /// An event (or a webhook payload) is not valid; `errors` says where.
    InvalidEvent,
    /// Resource documents (`apply`) are not valid; `errors` lists every
    /// problem, with the document's index in its path.
    InvalidResources,
    /// A plugin grant is not valid; the detail lists every problem.
    InvalidGrant,
    /// A policy refused the action; the detail names it.
    PolicyDenied,
    /// A run input does not satisfy the workflow's input schema.
    InvalidInput,
    /// An uploaded component was refused.
    PluginRefused,
    /// The server is shutting down or its database is unavailable.
    Unavailable,
    /// A fault of the server itself.
    Internal,
}

impl Kind {
    /// The stable name, the last part of the `type` URI.
    pub fn name(self) -> &'static str {
        match self {
            Kind::BadRequest => "bad-request",
            Kind::InvalidCursor => "invalid-cursor",
            Kind::Unauthorized => "unauthorized",
            Kind::Forbidden => "forbidden",
            Kind::NotFound => "not-found",
            Kind::MethodNotAllowed => "method-not-allowed",
            Kind::Conflict => "conflict",
            Kind::InUse => "in-use",
            Kind::PayloadTooLarge => "payload-too-large",
            Kind::UnsupportedMediaType => "unsupported-media-type",
            Kind::InvalidWorkflow => "invalid-workflow",
            Kind::InvalidEvent => "invalid-event",
            Kind::InvalidResources => "invalid-resources",
            Kind::InvalidGrant => "invalid-grant",
            Kind::PolicyDenied => "policy-denied",
            Kind::InvalidInput => "invalid-input",
            Kind::PluginRefused => "plugin-refused",
            Kind::Unavailable => "unavailable",
            Kind::Internal => "internal",
        }
    }

    /// The HTTP status.
    pub fn status(self) -> StatusCode {
        match self {
            Kind::BadRequest | Kind::InvalidCursor | Kind::InvalidEvent => StatusCode::BAD_REQUEST,
            Kind::Unauthorized => StatusCode::UNAUTHORIZED,
            Kind::Forbidden | Kind::PolicyDenied => StatusCode::FORBIDDEN,
            Kind::NotFound => StatusCode::NOT_FOUND,
            Kind::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Kind::Conflict | Kind::InUse => StatusCode::CONFLICT,
            Kind::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Kind::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Kind::InvalidWorkflow
            | Kind::InvalidResources
            | Kind::InvalidGrant
            | Kind::InvalidInput
            | Kind::PluginRefused => StatusCode::UNPROCESSABLE_ENTITY,
            Kind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Kind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A short summary of the kind.
    pub fn title(self) -> &'static str {
        match self {
            Kind::BadRequest => "Bad request",
            Kind::InvalidCursor => "Invalid cursor",
            Kind::Unauthorized => "Unauthorized",
            Kind::Forbidden => "Forbidden",
            Kind::NotFound => "Not found",
            Kind::MethodNotAllowed => "Method not allowed",
            Kind::Conflict => "Conflict",
            Kind::InUse => "In use",
            Kind::PayloadTooLarge => "Payload too large",
            Kind::UnsupportedMediaType => "Unsupported media type",
            Kind::InvalidWorkflow => "Invalid workflow",
            Kind::InvalidEvent => "Invalid event",
            Kind::InvalidResources => "Invalid resources",
            Kind::InvalidGrant => "Invalid grant",
            Kind::PolicyDenied => "Denied by policy",
            Kind::InvalidInput => "Invalid input",
            Kind::PluginRefused => "Plugin refused",
            Kind::Unavailable => "Service unavailable",
            Kind::Internal => "Internal error",
        }
    }
}

/// The body of every error answer (RFC 9457).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// `urn:baton:problem:<kind>`; stable.
    #[serde(rename = "type")]
    pub kind: String,
    /// A short summary of the kind.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What went wrong in this case, for people.
    pub detail: String,
    /// For `invalid-workflow`: every problem, with the path of the field.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldError>>,
}

/// One problem in a document, at the path of the offending field.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FieldError {
    /// Path of the field, such as `steps[2].needs[0]` (empty: the document).
    pub path: String,
    /// What is wrong.
    pub message: String,
}

/// A failed request.
#[derive(Debug)]
pub struct ApiError {
    /// The kind.
    pub kind: Kind,
    /// For people.
    pub detail: String,
    /// Field problems, for documents.
    pub errors: Option<Vec<FieldError>>,
}

/// Result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    /// A problem of this kind.
    pub fn new(kind: Kind, detail: impl Into<String>) -> ApiError {
        ApiError {
            kind,
            detail: detail.into(),
            errors: None,
        }
    }

    /// The problem body.
    pub fn problem(&self) -> Problem {
        Problem {
            kind: format!("urn:baton:problem:{}", self.kind.name()),
            title: self.kind.title().into(),
            status: self.kind.status().as_u16(),
            detail: self.detail.clone(),
            errors: self.errors.clone(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.kind.status().is_server_error() {
            tracing::error!(kind = self.kind.name(), detail = %self.detail, "request failed");
        }
        let mut response = (self.kind.status(), Json(self.problem())).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if self.kind == Kind::Unauthorized {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"baton\""),
            );
        }
        response
    }
}

fn field_errors(problems: &[FieldProblem]) -> Vec<FieldError> {
    problems
        .iter()
        .map(|p| FieldError {
            path: p.path.clone(),
            message: p.message.clone(),
        })
        .collect()
}

impl From<crate::events::EventProblem> for ApiError {
    fn from(problem: crate::events::EventProblem) -> ApiError {
        ApiError {
            kind: Kind::InvalidEvent,
            detail: format!("the event is not valid: {problem}; nothing was stored"),
            errors: Some(vec![FieldError {
                path: problem.at,
                message: problem.message,
            }]),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> ApiError {
        match error {
            StoreError::Conflict(message) => ApiError::new(Kind::Conflict, message),
            StoreError::Database(_) | StoreError::Migrate(_) => {
                ApiError::new(Kind::Unavailable, error.to_string())
            }
            StoreError::Corrupt(_) => ApiError::new(Kind::Internal, error.to_string()),
        }
    }
}

impl From<EngineError> for ApiError {
    fn from(error: EngineError) -> ApiError {
        match error {
            EngineError::Store(error) => error.into(),
            EngineError::Invalid(problems) => ApiError {
                kind: Kind::InvalidWorkflow,
                detail: format!(
                    "the workflow is not valid ({} problem{})",
                    problems.0.len(),
                    if problems.0.len() == 1 { "" } else { "s" }
                ),
                errors: Some(field_errors(&problems.0)),
            },
            EngineError::InvalidResources(problems) => ApiError {
                kind: Kind::InvalidResources,
                detail: format!(
                    "nothing was saved: the documents have {} problem{}",
                    problems.0.len(),
                    if problems.0.len() == 1 { "" } else { "s" }
                ),
                errors: Some(field_errors(&problems.0)),
            },
            EngineError::PolicyDenied { .. } => {
                ApiError::new(Kind::PolicyDenied, error.to_string())
            }
            EngineError::Forbidden(message) => ApiError::new(Kind::Forbidden, message),
            EngineError::InputRejected(reasons) => ApiError {
                kind: Kind::InvalidInput,
                detail: format!(
                    "the input does not match the workflow's input schema: {}",
                    reasons.join("; ")
                ),
                errors: None,
            },
            EngineError::Plugin(load) if load.is_host_fault() => ApiError::new(
                Kind::Internal,
                format!("the plugin could not be loaded: {load}"),
            ),
            EngineError::Plugin(load) => ApiError::new(Kind::PluginRefused, load.to_string()),
            EngineError::PayloadTooLarge { .. } => {
                ApiError::new(Kind::PayloadTooLarge, error.to_string())
            }
            EngineError::BadRequest(message) => ApiError::new(Kind::BadRequest, message),
            EngineError::NotFound(message) => ApiError::new(Kind::NotFound, message),
            EngineError::Conflict(message) => ApiError::new(Kind::Conflict, message),
            EngineError::ShuttingDown => ApiError::new(Kind::Unavailable, error.to_string()),
            EngineError::Executor(_) | EngineError::Config(_) => {
                ApiError::new(Kind::Internal, error.to_string())
            }
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> ApiError {
        match rejection {
            JsonRejection::MissingJsonContentType(_) => ApiError::new(
                Kind::UnsupportedMediaType,
                "send the body as JSON with `Content-Type: application/json`",
            ),
            JsonRejection::BytesRejection(bytes) => body_error(&bytes.body_text()),
            other => ApiError::new(Kind::BadRequest, other.body_text()),
        }
    }
}

/// A body that could not be read: over the limit, or cut off.
pub fn body_error(text: &str) -> ApiError {
    if text.contains("length limit") {
        ApiError::new(Kind::PayloadTooLarge, text)
    } else {
        ApiError::new(Kind::BadRequest, text)
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> ApiError {
        ApiError::new(Kind::BadRequest, rejection.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> ApiError {
        ApiError::new(Kind::BadRequest, rejection.body_text())
    }
}
