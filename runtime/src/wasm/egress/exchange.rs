//! One outbound request from start to response head: authorize the origin
//! and method, resolve, check every address, connect to a checked address,
//! send, and hand back the response with a [`MeteredBody`].
//!
//! This is the whole of `wasi:http/outgoing-handler` for Baton; the hook in
//! `host/http.rs` only forwards here. Redirects are never followed: a 3xx
//! goes to the guest like any other response, and the guest's next request
//! is checked from the start.

use std::pin::pin;
use std::sync::Arc;

use http::uri::PathAndQuery;
use http_body_util::BodyExt;
use tokio::sync::Semaphore;
use tokio::time::{Instant, timeout_at};
use wasmtime_wasi_http::{Error as WasiError, RequestOptions, WasiBody};

use crate::wasm::logbook::LogBook;

use super::body::MeteredBody;
use super::connect;
use super::deadlines::Deadlines;
use super::error::{EgressError, Result};
use super::origin::Origin;
use super::policy::EgressPolicy;
use super::report::ExchangeLog;
use super::resolve::resolve;

/// What wasi-http waits on: the response, and a future that drives the
/// connection while the body is read.
pub(crate) type Sent = (
    http::Response<WasiBody>,
    Box<dyn Future<Output = Result<(), WasiError>> + Send>,
);

/// The text logged when a request has no origin to show.
const NO_ORIGIN: &str = "(no valid origin)";

/// Sends `request` under `policy`, logging one line to `log`, and
/// finishing before `step_deadline`. It takes one of the invocation's
/// `slots` (see [`EgressLimits::max_concurrent_requests`]) and holds it
/// until the connection ends.
///
/// [`EgressLimits::max_concurrent_requests`]: super::EgressLimits::max_concurrent_requests
pub(crate) async fn send(
    policy: Arc<EgressPolicy>,
    log: LogBook,
    step_deadline: std::time::Instant,
    slots: Arc<Semaphore>,
    request: http::Request<WasiBody>,
    options: Option<RequestOptions>,
) -> Result<Sent, WasiError> {
    let started = Instant::now();
    let origin = match Origin::of_uri(request.uri()) {
        Ok(origin) => origin,
        Err(reason) => {
            let error = EgressError::InvalidTarget(reason);
            ExchangeLog::new(log, request.method(), NO_ORIGIN, started.into_std()).refused(&error);
            return Err(error.to_wasi());
        }
    };
    let report = ExchangeLog::new(
        log,
        request.method(),
        &origin.to_string(),
        started.into_std(),
    );
    let deadlines = Deadlines::new(
        &policy.limits,
        options.as_ref(),
        Instant::from_std(step_deadline),
        started,
    );
    match exchange(&policy, &origin, request, &deadlines, slots).await {
        Ok((response, connection)) => {
            let status = response.status();
            let body = |incoming| {
                MeteredBody::new(
                    incoming,
                    policy.limits.max_response_bytes,
                    deadlines.total,
                    deadlines.between_bytes,
                    report,
                    status,
                )
                .boxed_unsync()
            };
            Ok((response.map(body), Box::new(connection)))
        }
        Err(error) => {
            if error.is_refusal() {
                report.refused(&error);
            } else {
                report.failed(&error);
            }
            Err(error.to_wasi())
        }
    }
}

/// Everything up to the response head. A granted request waits for a free
/// slot (until its connect deadline) and holds it until the connection
/// ends.
async fn exchange(
    policy: &EgressPolicy,
    origin: &Origin,
    mut request: http::Request<WasiBody>,
    deadlines: &Deadlines,
    slots: Arc<Semaphore>,
) -> Result<(
    http::Response<hyper::body::Incoming>,
    impl Future<Output = Result<(), WasiError>> + Send + use<>,
)> {
    let grant = policy.authorize(request.method(), origin)?;
    let slot = timeout_at(deadlines.connect, slots.acquire_owned())
        .await
        .ok()
        .and_then(Result::ok)
        .ok_or(EgressError::TooManyRequests(
            policy.limits.max_concurrent_requests,
        ))?;
    let open = async {
        let addresses = resolve(&origin.host, origin.port).await?;
        grant.check_addresses(&origin.host, &addresses)?;
        connect::open(origin, &addresses, &policy.trust).await
    };
    let (mut sender, connection) = timeout_at(deadlines.connect, open)
        .await
        .map_err(|_| EgressError::ConnectTimeout(deadlines.budget(deadlines.connect)))??;

    // On the wire the request line carries only the path and query; the
    // authority travels in the `Host` header wasi-http has set.
    let path = request
        .uri()
        .path_and_query()
        .cloned()
        .unwrap_or_else(|| PathAndQuery::from_static("/"));
    *request.uri_mut() = http::Uri::from(path);

    let sent_at = Instant::now();
    let head_deadline = deadlines.response_head(sent_at);
    let mut connection = Box::pin(connection);
    let mut ended = None;
    let response = timeout_at(head_deadline, async {
        let mut response = pin!(sender.send_request(request));
        tokio::select! {
            response = &mut response => response,
            result = &mut connection => {
                // The connection closed first; the request fails with the
                // reason unless the response was already complete.
                ended = Some(result);
                response.await
            }
        }
    })
    .await
    .map_err(|_| EgressError::ResponseTimeout(deadlines.budget(head_deadline)))?
    .map_err(EgressError::Http)?;
    // Without a sender, the connection closes once the body is read.
    drop(sender);

    let total = deadlines.total;
    let driver = async move {
        let result = match ended {
            Some(result) => result,
            None => match timeout_at(total, connection).await {
                Ok(result) => result,
                Err(_) => return Err(WasiError::HttpResponseTimeout),
            },
        };
        drop(slot);
        result.map_err(WasiError::Hyper)
    };
    Ok((response, driver))
}

#[cfg(test)]
mod tests;
