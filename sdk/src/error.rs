//! [`StepError`]: how a step tells the host why it failed, and so whether the
//! host may retry it.

use std::time::Duration;

use crate::bindings::baton::plugin::types::{self as wit, CapabilityError};

/// Why a step failed. The variant decides retries: only
/// [`StepError::Retryable`] is retried (if the step's retry policy allows).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepError {
    /// The input is wrong; retrying with the same input cannot help.
    InvalidInput(String),
    /// The work failed for good (for example the remote system said 403).
    Permanent(String),
    /// The work failed for a reason that may pass.
    Retryable {
        /// What went wrong.
        message: String,
        /// The earliest moment worth retrying, if the remote system said.
        retry_after: Option<Duration>,
    },
}

impl StepError {
    /// An invalid-input failure.
    pub fn invalid_input(message: impl Into<String>) -> Self {
        Self::InvalidInput(message.into())
    }

    /// A permanent failure.
    pub fn permanent(message: impl Into<String>) -> Self {
        Self::Permanent(message.into())
    }

    /// A retryable failure with no hint of when to retry.
    pub fn retryable(message: impl Into<String>) -> Self {
        Self::Retryable {
            message: message.into(),
            retry_after: None,
        }
    }
}

impl std::fmt::Display for StepError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::InvalidInput(m) => write!(f, "invalid input: {m}"),
            Self::Permanent(m) => write!(f, "permanent failure: {m}"),
            Self::Retryable { message, .. } => write!(f, "retryable failure: {message}"),
        }
    }
}

impl std::error::Error for StepError {}

impl From<StepError> for wit::StepError {
    fn from(error: StepError) -> Self {
        match error {
            StepError::InvalidInput(m) => Self::InvalidInput(m),
            StepError::Permanent(m) => Self::Permanent(m),
            StepError::Retryable {
                message,
                retry_after,
            } => Self::Retryable(wit::RetryableFailure {
                message,
                retry_after_ms: retry_after
                    .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            }),
        }
    }
}

/// Why a capability call (kv, secrets, events) did not do what was asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denied {
    /// The capability, or this name within it, is not granted.
    NotGranted(String),
    /// The request itself is wrong.
    Invalid(String),
    /// Over the granted quota.
    QuotaExceeded(String),
    /// The host cannot serve it right now.
    Unavailable(String),
}

impl From<CapabilityError> for Denied {
    fn from(error: CapabilityError) -> Self {
        match error {
            CapabilityError::NotGranted(m) => Self::NotGranted(m),
            CapabilityError::Invalid(m) => Self::Invalid(m),
            CapabilityError::QuotaExceeded(m) => Self::QuotaExceeded(m),
            CapabilityError::Unavailable(m) => Self::Unavailable(m),
        }
    }
}

impl std::fmt::Display for Denied {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotGranted(m) => write!(f, "not granted: {m}"),
            Self::Invalid(m) => write!(f, "invalid request: {m}"),
            Self::QuotaExceeded(m) => write!(f, "quota exceeded: {m}"),
            Self::Unavailable(m) => write!(f, "unavailable: {m}"),
        }
    }
}

impl std::error::Error for Denied {}

/// `?` on a capability call inside `run`: a host that is only temporarily
/// unavailable makes the step retryable; anything else is permanent.
impl From<Denied> for StepError {
    fn from(error: Denied) -> Self {
        match error {
            Denied::Unavailable(_) => Self::retryable(error.to_string()),
            _ => Self::permanent(error.to_string()),
        }
    }
}
