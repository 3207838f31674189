//! Errors of the engine layer.

use crate::store::StoreError;
use crate::wasm::{ExecutorError, LoadError};
use crate::workflow::Problems;

/// What went wrong in an engine operation.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The executor could not be set up.
    #[error(transparent)]
    Executor(#[from] ExecutorError),
    /// A plugin component was refused.
    #[error("the plugin was refused: {0}")]
    Plugin(#[from] LoadError),
    /// A workflow document is not valid.
    #[error("the workflow is not valid:\n{0}")]
    Invalid(Problems),
    /// Resource documents (`apply`) are not valid.
    #[error("the resources are not valid:\n{0}")]
    InvalidResources(Problems),
    /// A run's input does not satisfy the workflow's input schema.
    #[error("the input does not match the workflow's input schema:\n{}", .0.join("\n"))]
    InputRejected(Vec<String>),
    /// A payload is over the configured size.
    #[error("{what} is {size} bytes, over the limit of {limit} bytes")]
    PayloadTooLarge {
        /// What it is.
        what: String,
        /// Its size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// A request argument is not acceptable.
    #[error("{0}")]
    BadRequest(String),
    /// Something named does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The operation does not fit the current state.
    #[error("{0}")]
    Conflict(String),
    /// A policy refused the action.
    #[error("denied by policy `{policy}`: {message}")]
    PolicyDenied {
        /// The policy.
        policy: String,
        /// Its message.
        message: String,
    },
    /// The caller may not do this (not an approver, separation of duties).
    #[error("{0}")]
    Forbidden(String),
    /// A setting is not acceptable.
    #[error("invalid engine configuration: {0}")]
    Config(String),
    /// The engine has stopped.
    #[error("the engine is shutting down")]
    ShuttingDown,
}

/// Result of the engine layer.
pub type Result<T, E = EngineError> = std::result::Result<T, E>;
