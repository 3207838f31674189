//! The deadlines of one outbound request, from the policy's limits, the
//! step's own deadline and the guest's `request-options`.
//!
//! The step deadline caps everything; the limits cap the guest; the guest's
//! timeouts can only make things shorter.

use std::time::Duration;

use tokio::time::Instant;
use wasmtime_wasi_http::RequestOptions;

use super::policy::EgressLimits;

/// When each phase of one request must be over.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadlines {
    /// When the request began.
    pub(crate) started: Instant,
    /// Resolution, TCP, TLS and the HTTP handshake.
    pub(crate) connect: Instant,
    /// The whole request, to the last byte of the body.
    pub(crate) total: Instant,
    /// The guest's bound from sending to the response head.
    first_byte: Option<Duration>,
    /// The guest's bound between two frames of the body.
    pub(crate) between_bytes: Option<Duration>,
}

impl Deadlines {
    /// The deadlines of a request starting `now`.
    pub(crate) fn new(
        limits: &EgressLimits,
        options: Option<&RequestOptions>,
        step_deadline: Instant,
        now: Instant,
    ) -> Self {
        let total = after(now, limits.total_timeout, step_deadline);
        let connect_timeout = shorter(
            limits.connect_timeout,
            options.and_then(|o| o.connect_timeout),
        );
        Self {
            started: now,
            connect: after(now, connect_timeout, total),
            total,
            first_byte: options.and_then(|o| o.first_byte_timeout),
            between_bytes: options.and_then(|o| o.between_bytes_timeout),
        }
    }

    /// How long the request may have run by `deadline`, for messages.
    pub(crate) fn budget(&self, deadline: Instant) -> std::time::Duration {
        deadline.saturating_duration_since(self.started)
    }

    /// When the response head must have arrived, for a request sent `now`.
    pub(crate) fn response_head(&self, now: Instant) -> Instant {
        self.first_byte
            .map_or(self.total, |timeout| after(now, timeout, self.total))
    }
}

/// `now + timeout`, but never past `cap` (nor overflowing).
fn after(now: Instant, timeout: Duration, cap: Instant) -> Instant {
    now.checked_add(timeout).map_or(cap, |at| at.min(cap))
}

fn shorter(limit: Duration, asked: Option<Duration>) -> Duration {
    asked.map_or(limit, |asked| asked.min(limit))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    fn limits() -> EgressLimits {
        EgressLimits {
            connect_timeout: 10 * SECOND,
            total_timeout: 60 * SECOND,
            max_response_bytes: 1,
            max_concurrent_requests: 1,
        }
    }

    #[test]
    fn the_step_deadline_caps_everything() {
        let now = Instant::now();
        let deadlines = Deadlines::new(&limits(), None, now + 3 * SECOND, now);
        assert_eq!(deadlines.total, now + 3 * SECOND);
        assert_eq!(deadlines.connect, now + 3 * SECOND);
        assert_eq!(deadlines.response_head(now + SECOND), now + 3 * SECOND);

        let deadlines = Deadlines::new(&limits(), None, now + 600 * SECOND, now);
        assert_eq!(deadlines.total, now + 60 * SECOND);
        assert_eq!(deadlines.connect, now + 10 * SECOND);
    }

    #[test]
    fn guest_options_only_shorten() {
        let now = Instant::now();
        let long = RequestOptions {
            connect_timeout: Some(3600 * SECOND),
            first_byte_timeout: Some(Duration::MAX),
            between_bytes_timeout: None,
        };
        let deadlines = Deadlines::new(&limits(), Some(&long), now + 600 * SECOND, now);
        assert_eq!(deadlines.connect, now + 10 * SECOND);
        assert_eq!(deadlines.response_head(now), now + 60 * SECOND);

        let short = RequestOptions {
            connect_timeout: Some(SECOND),
            first_byte_timeout: Some(2 * SECOND),
            between_bytes_timeout: Some(SECOND),
        };
        let deadlines = Deadlines::new(&limits(), Some(&short), now + 600 * SECOND, now);
        assert_eq!(deadlines.connect, now + SECOND);
        assert_eq!(deadlines.response_head(now + SECOND), now + 3 * SECOND);
        assert_eq!(deadlines.between_bytes, Some(SECOND));
    }
}
