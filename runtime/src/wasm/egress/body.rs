//! [`MeteredBody`]: a response body as the guest reads it, counted and
//! bounded.
//!
//! Bytes are counted as frames arrive; the frame that crosses the size
//! limit is not handed on and the body fails instead, so the host never
//! holds more than one frame. The total deadline (and the guest's
//! between-bytes timeout) fail the body too. When the body ends, in any
//! way, including being dropped unread, the request's log line is written.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use tokio::time::{Instant, Sleep};
use wasmtime_wasi_http::Error as WasiError;

use super::report::{BodyEnd, ExchangeLog};

/// A timer restarted by every frame.
#[derive(Debug)]
struct Idle {
    timeout: Duration,
    sleep: Pin<Box<Sleep>>,
}

/// The line still to write when the body ends.
#[derive(Debug)]
struct Pending {
    log: ExchangeLog,
    status: http::StatusCode,
}

/// A response body bounded in size and time.
#[derive(Debug)]
pub(crate) struct MeteredBody {
    inner: Incoming,
    limit: u64,
    received: u64,
    total: Pin<Box<Sleep>>,
    idle: Option<Idle>,
    /// `None` once the body has ended and its line is written.
    pending: Option<Pending>,
}

impl MeteredBody {
    /// Wraps the body of a response with `status`.
    pub(crate) fn new(
        inner: Incoming,
        limit: u64,
        total: Instant,
        between_bytes: Option<Duration>,
        log: ExchangeLog,
        status: http::StatusCode,
    ) -> Self {
        let idle = between_bytes.map(|timeout| Idle {
            timeout,
            sleep: Box::pin(tokio::time::sleep_until(after(timeout, total))),
        });
        Self {
            inner,
            limit,
            received: 0,
            total: Box::pin(tokio::time::sleep_until(total)),
            idle,
            pending: Some(Pending { log, status }),
        }
    }

    /// Writes the line, once.
    fn end(&mut self, end: BodyEnd) {
        if let Some(pending) = self.pending.take() {
            pending.log.finished(pending.status, self.received, &end);
        }
    }

    fn fail(
        &mut self,
        end: BodyEnd,
        error: WasiError,
    ) -> Poll<Option<Result<Frame<Bytes>, WasiError>>> {
        self.end(end);
        Poll::Ready(Some(Err(error)))
    }

    fn over_limit(&self, bytes: u64) -> bool {
        bytes > self.limit
    }
}

fn after(timeout: Duration, cap: Instant) -> Instant {
    Instant::now()
        .checked_add(timeout)
        .map_or(cap, |at| at.min(cap))
}

impl Body for MeteredBody {
    type Data = Bytes;
    type Error = WasiError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, WasiError>>> {
        let this = self.get_mut();
        if this.pending.is_none() {
            return Poll::Ready(None);
        }
        let limit = this.limit;
        // A declared length over the limit fails before any byte is read.
        if this.over_limit(this.inner.size_hint().lower()) {
            return this.fail(
                BodyEnd::Cut { limit },
                WasiError::HttpResponseBodySize(Some(limit)),
            );
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    let len = u64::try_from(data.len()).unwrap_or(u64::MAX);
                    this.received = this.received.saturating_add(len);
                    if this.over_limit(this.received) {
                        return this.fail(
                            BodyEnd::Cut { limit },
                            WasiError::HttpResponseBodySize(Some(limit)),
                        );
                    }
                }
                if let Some(idle) = &mut this.idle {
                    let next = after(idle.timeout, this.total.deadline());
                    idle.sleep.as_mut().reset(next);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(error))) => {
                let code = if error.is_timeout() {
                    WasiError::HttpResponseTimeout
                } else if error.is_incomplete_message() {
                    WasiError::HttpResponseIncomplete
                } else {
                    WasiError::HttpProtocolError
                };
                this.fail(BodyEnd::Failed(error.to_string()), code)
            }
            Poll::Ready(None) => {
                this.end(BodyEnd::Complete);
                Poll::Ready(None)
            }
            Poll::Pending => {
                if this.total.as_mut().poll(cx).is_ready() {
                    return this.fail(BodyEnd::TimedOut, WasiError::HttpResponseTimeout);
                }
                let idle_over = this
                    .idle
                    .as_mut()
                    .is_some_and(|idle| idle.sleep.as_mut().poll(cx).is_ready());
                if idle_over {
                    return this.fail(BodyEnd::TimedOut, WasiError::ConnectionReadTimeout);
                }
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        // Never claim the end early: reading to the end writes the log line.
        self.pending.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for MeteredBody {
    fn drop(&mut self) {
        // A body known to be empty (HEAD, 204) was read whole even unread.
        let end = if self.inner.is_end_stream() {
            BodyEnd::Complete
        } else {
            BodyEnd::Dropped
        };
        self.end(end);
    }
}
