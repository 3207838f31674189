//! `wasi:http/outgoing-handler`: outbound HTTP under the invocation's
//! [`EgressPolicy`]. The hook only hands each request to
//! [`egress::send`](crate::wasm::egress), which decides, connects, bounds
//! the response and writes the request's line to the step's log. With the
//! default policy every request is refused before any lookup.

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::Semaphore;

use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

use crate::wasm::egress::{self, EgressPolicy, Sent};
use crate::wasm::logbook::LogBook;

type ResponseFuture = Box<dyn Future<Output = Result<Sent, Error>> + Send>;

/// The outbound-HTTP side of one invocation.
pub(crate) struct OutboundHttp {
    log: LogBook,
    policy: Arc<EgressPolicy>,
    deadline: Instant,
    /// The requests that may be in progress at once.
    slots: Arc<Semaphore>,
}

impl OutboundHttp {
    /// Requests go where `policy` allows, end by `deadline` (the step's),
    /// and are logged to `log`.
    pub(crate) fn new(log: LogBook, policy: Arc<EgressPolicy>, deadline: Instant) -> Self {
        let slots = Arc::new(Semaphore::new(policy.limits.max_concurrent_requests));
        Self {
            log,
            policy,
            deadline,
            slots,
        }
    }
}

impl WasiHttpHooks for OutboundHttp {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: Box<dyn Future<Output = Result<(), Error>> + Send>,
    ) -> ResponseFuture {
        Box::new(egress::send(
            Arc::clone(&self.policy),
            self.log.clone(),
            self.deadline,
            Arc::clone(&self.slots),
            request,
            options,
        ))
    }
}
