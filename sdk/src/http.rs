//! A small blocking HTTP client over `wasi:http/outgoing-handler`.
//!
//! The host allows only the origins granted to the plugin; a refused request
//! fails with [`HttpError::Denied`], and the step log says why. GET and HEAD
//! requests follow redirects (up to five hops, each one a new request the
//! host checks again; credentials are not carried to another origin).
//! Bodies are read whole into memory, so keep responses small (the host caps
//! them too, failing with [`HttpError::TooLarge`]).
//!
//! ```no_run
//! use baton_sdk::http::Request;
//!
//! # fn demo() -> Result<(), baton_sdk::http::HttpError> {
//! let response = Request::get("https://api.example.com/v1/status")
//!     .header("accept", "application/json")
//!     .send()?;
//! println!("{} {}", response.status, response.text());
//! # Ok(())
//! # }
//! ```

mod error;
mod url;

use std::time::Duration;

pub use error::HttpError;

use crate::bindings::wasi::http::outgoing_handler;
use crate::bindings::wasi::http::types::{
    ErrorCode, Fields, IncomingResponse, Method, OutgoingBody, OutgoingRequest, RequestOptions,
};
use crate::bindings::wasi::io::streams::StreamError;
use url::Target;

/// Bytes written to the request body stream per call.
const WRITE_CHUNK: usize = 4096;
/// Bytes asked for per read of the response body.
const READ_CHUNK: u64 = 64 * 1024;
/// Most redirects followed for one request.
pub const MAX_REDIRECTS: usize = 5;
/// Headers not carried to another origin when following a redirect.
const CREDENTIAL_HEADERS: [&str; 3] = ["authorization", "cookie", "proxy-authorization"];

/// An outgoing request, built step by step and sent with [`Request::send`].
#[derive(Debug, Clone)]
pub struct Request {
    method: Method,
    url: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
    timeout: Option<Duration>,
    follow_redirects: bool,
}

/// A response with its whole body.
#[derive(Debug, Clone)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Headers, in order.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The body.
    pub body: Vec<u8>,
    /// The URL that answered, after any redirects.
    pub url: String,
}

impl Response {
    /// The body parsed as JSON.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The first value of the header `name` (any case), if present.
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }
}

impl Request {
    fn new(method: Method, url: &str) -> Self {
        let follow_redirects = matches!(method, Method::Get | Method::Head);
        Self {
            method,
            url: url.to_owned(),
            headers: Vec::new(),
            body: Vec::new(),
            timeout: None,
            follow_redirects,
        }
    }

    /// A GET request.
    pub fn get(url: &str) -> Self {
        Self::new(Method::Get, url)
    }
    /// A HEAD request.
    pub fn head(url: &str) -> Self {
        Self::new(Method::Head, url)
    }
    /// A POST request.
    pub fn post(url: &str) -> Self {
        Self::new(Method::Post, url)
    }
    /// A PUT request.
    pub fn put(url: &str) -> Self {
        Self::new(Method::Put, url)
    }
    /// A PATCH request.
    pub fn patch(url: &str) -> Self {
        Self::new(Method::Patch, url)
    }
    /// A DELETE request.
    pub fn delete(url: &str) -> Self {
        Self::new(Method::Delete, url)
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers
            .push((name.to_owned(), value.as_bytes().to_vec()));
        self
    }

    /// Sets a raw body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// Sets a JSON body and the matching content type.
    pub fn json(self, value: &impl serde::Serialize) -> Result<Self, HttpError> {
        let body = serde_json::to_vec(value)
            .map_err(|e| HttpError::InvalidRequest(format!("body cannot be serialised: {e}")))?;
        Ok(self.header("content-type", "application/json").body(body))
    }

    /// Bounds the whole exchange (the host's own limits still apply).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Whether to follow redirects (GET and HEAD only; on by default for
    /// them). When off, a 3xx response is returned as it is.
    pub fn follow_redirects(mut self, follow: bool) -> Self {
        self.follow_redirects = follow;
        self
    }

    /// Sends the request, follows redirects when asked, and reads the whole
    /// response.
    pub fn send(self) -> Result<Response, HttpError> {
        let follow = self.follow_redirects && matches!(self.method, Method::Get | Method::Head);
        let mut target = Target::parse(&self.url)?;
        let mut headers = self.headers.clone();
        let mut hops = 0;
        loop {
            let response = self.send_once(&target, &headers).map_err(|error| {
                if hops == 0 {
                    error
                } else {
                    after_redirect(error, hops)
                }
            })?;
            let location = response
                .header("location")
                .map(|l| String::from_utf8_lossy(l).into_owned());
            let location = match location {
                Some(location) if follow && is_redirect(response.status) => location,
                _ => return Ok(response),
            };
            if hops == MAX_REDIRECTS {
                return Err(HttpError::Redirect(format!(
                    "more than {MAX_REDIRECTS} redirects (the last from {})",
                    target.origin()
                )));
            }
            let next = target.join(&location)?;
            if next.origin() != target.origin() {
                headers.retain(|(name, _)| {
                    !CREDENTIAL_HEADERS
                        .iter()
                        .any(|c| name.eq_ignore_ascii_case(c))
                });
            }
            target = next;
            hops += 1;
        }
    }

    /// The error for `code` from a request of this method to `origin`.
    fn refused(&self, origin: &str, code: ErrorCode) -> HttpError {
        match code {
            ErrorCode::HttpRequestDenied => error::not_granted(method_name(&self.method), origin),
            code => error::from_code(origin, code),
        }
    }

    /// One request to `target`, without following anything.
    fn send_once(
        &self,
        target: &Target,
        headers: &[(String, Vec<u8>)],
    ) -> Result<Response, HttpError> {
        let origin = target.origin();
        let invalid = |what: &str| HttpError::InvalidRequest(what.to_owned());
        let fields = Fields::from_list(headers)
            .map_err(|e| HttpError::InvalidRequest(format!("bad header: {e:?}")))?;
        let request = OutgoingRequest::new(fields);
        request
            .set_method(&self.method)
            .map_err(|()| invalid("bad method"))?;
        request
            .set_scheme(Some(&target.scheme))
            .map_err(|()| invalid("bad scheme"))?;
        request
            .set_authority(Some(&target.authority))
            .map_err(|()| invalid("bad host"))?;
        request
            .set_path_with_query(Some(&target.path))
            .map_err(|()| invalid("bad path"))?;
        let options = self.timeout.map(|timeout| {
            let options = RequestOptions::new();
            let nanos = u64::try_from(timeout.as_nanos()).unwrap_or(u64::MAX);
            // A host may not support timeouts; it still enforces its own.
            let _ = options.set_connect_timeout(Some(nanos));
            let _ = options.set_first_byte_timeout(Some(nanos));
            let _ = options.set_between_bytes_timeout(Some(nanos));
            options
        });
        let body = request.body().map_err(|()| invalid("body already taken"))?;
        let pending = outgoing_handler::handle(request, options)
            .map_err(|code| self.refused(&origin, code))?;
        // A failed write shows up as the response error below.
        let _ = write_body(&body, &self.body);
        let _ = OutgoingBody::finish(body, None);
        pending.subscribe().block();
        let response = match pending.get() {
            Some(Ok(Ok(response))) => response,
            Some(Ok(Err(code))) => return Err(self.refused(&origin, code)),
            Some(Err(())) | None => return Err(HttpError::Transport("response lost".into())),
        };
        let status = response.status();
        let headers = response.headers().entries();
        let body = read_body(&origin, response)?;
        Ok(Response {
            status,
            headers,
            body,
            url: target.url(),
        })
    }
}

/// Whether a status asks the client to go elsewhere.
fn is_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

/// Says that the failing request was a redirect hop.
fn after_redirect(error: HttpError, hops: usize) -> HttpError {
    let note = |m: String| {
        format!(
            "{m} (after {hops} redirect{})",
            if hops == 1 { "" } else { "s" }
        )
    };
    match error {
        HttpError::Denied(m) => HttpError::Denied(note(m)),
        HttpError::InvalidRequest(m) => HttpError::InvalidRequest(note(m)),
        HttpError::Timeout(m) => HttpError::Timeout(note(m)),
        HttpError::TooLarge(m) => HttpError::TooLarge(note(m)),
        HttpError::Redirect(m) => HttpError::Redirect(note(m)),
        HttpError::Transport(m) => HttpError::Transport(note(m)),
    }
}

fn write_body(body: &OutgoingBody, bytes: &[u8]) -> Result<(), StreamError> {
    if bytes.is_empty() {
        return Ok(());
    }
    let stream = body.write().map_err(|()| StreamError::Closed)?;
    for chunk in bytes.chunks(WRITE_CHUNK) {
        stream.blocking_write_and_flush(chunk)?;
    }
    Ok(())
}

fn read_body(origin: &str, response: IncomingResponse) -> Result<Vec<u8>, HttpError> {
    let incoming = response
        .consume()
        .map_err(|()| HttpError::Transport("no body".into()))?;
    let stream = incoming
        .stream()
        .map_err(|()| HttpError::Transport("no body stream".into()))?;
    let mut body = Vec::new();
    loop {
        match stream.blocking_read(READ_CHUNK) {
            Ok(chunk) => body.extend_from_slice(&chunk),
            Err(StreamError::Closed) => break,
            Err(StreamError::LastOperationFailed(e)) => {
                return Err(error::from_stream(origin, &e));
            }
        }
    }
    Ok(body)
}

/// The method as it goes on the wire.
fn method_name(method: &Method) -> &str {
    match method {
        Method::Get => "GET",
        Method::Head => "HEAD",
        Method::Post => "POST",
        Method::Put => "PUT",
        Method::Delete => "DELETE",
        Method::Connect => "CONNECT",
        Method::Options => "OPTIONS",
        Method::Trace => "TRACE",
        Method::Patch => "PATCH",
        Method::Other(name) => name,
    }
}
