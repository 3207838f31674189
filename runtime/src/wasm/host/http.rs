//! `wasi:http/outgoing-handler`: outbound HTTP. No plugin is granted an
//! outbound host yet, so every request is refused with `http-request-denied`
//! before any connection is made, and the refusal is written to the step's
//! log.

use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

use crate::wasm::logbook::{LogBook, LogLevel, LogSource};

type ResponseFuture = Box<
    dyn Future<
            Output = Result<
                (
                    http::Response<WasiBody>,
                    Box<dyn Future<Output = Result<(), Error>> + Send>,
                ),
                Error,
            >,
        > + Send,
>;

/// The outbound-HTTP policy of one invocation.
pub(crate) struct OutboundHttp {
    log: LogBook,
}

impl OutboundHttp {
    pub(crate) fn new(log: LogBook) -> Self {
        Self { log }
    }
}

impl WasiHttpHooks for OutboundHttp {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        _options: Option<RequestOptions>,
        _fut: Box<dyn Future<Output = Result<(), Error>> + Send>,
    ) -> ResponseFuture {
        // Only scheme, host and port are logged: user info, paths, queries
        // and headers may carry credentials.
        let uri = request.uri();
        let port = uri.port_u16().map(|p| format!(":{p}")).unwrap_or_default();
        let origin = format!(
            "{}://{}{port}",
            uri.scheme_str().unwrap_or("https"),
            uri.host().unwrap_or("")
        );
        self.log.push(
            LogLevel::Warn,
            LogSource::Plugin,
            &format!(
                "outbound HTTP {} {origin} refused: no outbound host is granted to this plugin",
                request.method()
            ),
        );
        Box::new(async { Err(Error::HttpRequestDenied) })
    }
}
