//! The step-log line of each outbound request: method, origin, status,
//! response bytes and duration, or why it was refused or failed.
//!
//! Only an [`Origin`](super::origin::Origin)'s text is ever written: never
//! the path or query (webhook URLs carry their secret there) and never a
//! header. Exactly one line is written per request.

use std::time::{Duration, Instant};

use crate::wasm::logbook::{LogBook, LogLevel, LogSource};

use super::error::EgressError;

/// How a response body ended.
#[derive(Debug)]
pub(crate) enum BodyEnd {
    /// Read to its end.
    Complete,
    /// The plugin dropped it before its end.
    Dropped,
    /// Cut at the size limit.
    Cut {
        /// The limit, in bytes.
        limit: u64,
    },
    /// The total deadline or the guest's between-bytes timeout passed.
    TimedOut,
    /// The connection failed mid-body.
    Failed(String),
}

/// Writes the line of one request to the step log.
#[derive(Debug)]
pub(crate) struct ExchangeLog {
    log: LogBook,
    /// `METHOD scheme://host:port`.
    target: String,
    started: Instant,
}

impl ExchangeLog {
    /// For a request to `origin` (already reduced to its text) begun at
    /// `started`.
    pub(crate) fn new(log: LogBook, method: &http::Method, origin: &str, started: Instant) -> Self {
        Self {
            log,
            target: format!("{method} {origin}"),
            started,
        }
    }

    /// The policy refused the request; nothing was sent.
    pub(crate) fn refused(&self, error: &EgressError) {
        self.write(
            LogLevel::Warn,
            &format!("outbound HTTP {} refused: {error}", self.target),
        );
    }

    /// No response arrived.
    pub(crate) fn failed(&self, error: &EgressError) {
        self.write(
            LogLevel::Warn,
            &format!(
                "outbound HTTP {} failed after {} ms: {error}",
                self.target,
                millis(self.started.elapsed())
            ),
        );
    }

    /// A response arrived and its body ended as `end` after `bytes`.
    pub(crate) fn finished(&self, status: http::StatusCode, bytes: u64, end: &BodyEnd) {
        let head = format!(
            "outbound HTTP {}: status {}, {bytes} bytes in {} ms",
            self.target,
            status.as_u16(),
            millis(self.started.elapsed())
        );
        let (level, line) = match end {
            BodyEnd::Complete => (LogLevel::Info, head),
            BodyEnd::Dropped => (
                LogLevel::Info,
                format!("{head}; the plugin did not read the whole body"),
            ),
            BodyEnd::Cut { limit } => (
                LogLevel::Warn,
                format!("{head}; the response body was cut at the limit of {limit} bytes"),
            ),
            BodyEnd::TimedOut => (
                LogLevel::Warn,
                format!("{head}; the response body timed out"),
            ),
            BodyEnd::Failed(reason) => (
                LogLevel::Warn,
                format!("{head}; the response body failed: {reason}"),
            ),
        };
        self.write(level, &line);
    }

    fn write(&self, level: LogLevel, line: &str) {
        tracing::debug!(target: "baton::egress", "{line}");
        self.log.push(level, LogSource::Host, line);
    }
}

fn millis(duration: Duration) -> u128 {
    duration.as_millis()
}
