//! A small blocking HTTP client over `wasi:http/outgoing-handler`.
//!
//! The host allows only the origins granted to the plugin; a refused request
//! fails with [`HttpError::Denied`]. Bodies are read whole into memory, so
//! keep responses small (the host caps them too).

use std::time::Duration;

use crate::bindings::wasi::http::outgoing_handler;
use crate::bindings::wasi::http::types::{
    ErrorCode, Fields, Method, OutgoingBody, OutgoingRequest, RequestOptions, Scheme,
};
use crate::bindings::wasi::io::streams::StreamError;

/// Bytes written to the request body stream per call.
const WRITE_CHUNK: usize = 4096;
/// Bytes asked for per read of the response body.
const READ_CHUNK: u64 = 64 * 1024;

/// Why a request did not produce a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpError {
    /// The host refused the request: the origin is not granted.
    Denied(String),
    /// The request could not be built (bad URL, header or method).
    InvalidRequest(String),
    /// The request was sent but failed (connection, TLS, timeout, ...).
    Transport(String),
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Denied(m) => write!(f, "outbound HTTP refused: {m}"),
            Self::InvalidRequest(m) => write!(f, "invalid HTTP request: {m}"),
            Self::Transport(m) => write!(f, "HTTP request failed: {m}"),
        }
    }
}

impl std::error::Error for HttpError {}

/// `?` inside `run`: transport failures may pass, the rest will not.
impl From<HttpError> for crate::StepError {
    fn from(error: HttpError) -> Self {
        match error {
            HttpError::Transport(_) => Self::retryable(error.to_string()),
            _ => Self::permanent(error.to_string()),
        }
    }
}

/// An outgoing request, built step by step and sent with [`Request::send`].
#[derive(Debug, Clone)]
pub struct Request {
    method: Method,
    url: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
    timeout: Option<Duration>,
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
}

impl Request {
    fn new(method: Method, url: &str) -> Self {
        Self {
            method,
            url: url.to_owned(),
            headers: Vec::new(),
            body: Vec::new(),
            timeout: None,
        }
    }

    /// A GET request.
    pub fn get(url: &str) -> Self {
        Self::new(Method::Get, url)
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

    /// Sends the request and reads the whole response.
    pub fn send(self) -> Result<Response, HttpError> {
        let target = Target::parse(&self.url)?;
        let invalid = |what: &str| HttpError::InvalidRequest(what.to_owned());
        let headers = Fields::from_list(&self.headers)
            .map_err(|e| HttpError::InvalidRequest(format!("bad header: {e:?}")))?;
        let request = OutgoingRequest::new(headers);
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
        let pending =
            outgoing_handler::handle(request, options).map_err(|e| error_of(&target, e))?;
        // A failed write shows up as the response error below.
        let _ = write_body(&body, &self.body);
        let _ = OutgoingBody::finish(body, None);
        pending.subscribe().block();
        let response = match pending.get() {
            Some(Ok(Ok(response))) => response,
            Some(Ok(Err(code))) => return Err(error_of(&target, code)),
            Some(Err(())) | None => return Err(HttpError::Transport("response lost".into())),
        };
        let status = response.status();
        let headers = response.headers().entries();
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
                    return Err(HttpError::Transport(e.to_debug_string()));
                }
            }
        }
        Ok(Response {
            status,
            headers,
            body,
        })
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

fn error_of(target: &Target, code: ErrorCode) -> HttpError {
    match code {
        ErrorCode::HttpRequestDenied => {
            HttpError::Denied(format!("{} is not granted to this plugin", target.origin()))
        }
        other => HttpError::Transport(format!("{other:?}")),
    }
}

/// The parts of a URL that `wasi:http` wants separately.
#[derive(Debug)]
struct Target {
    scheme: Scheme,
    authority: String,
    path: String,
}

impl Target {
    fn parse(url: &str) -> Result<Self, HttpError> {
        let bad =
            || HttpError::InvalidRequest(format!("{url:?} is not an http:// or https:// URL"));
        let (scheme, rest) = url.split_once("://").ok_or_else(bad)?;
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "https" => Scheme::Https,
            "http" => Scheme::Http,
            _ => return Err(bad()),
        };
        let split = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(split);
        if authority.is_empty() || authority.contains('@') {
            return Err(bad());
        }
        let path = match path {
            "" => "/".to_owned(),
            p if p.starts_with('?') => format!("/{p}"),
            p => p.to_owned(),
        };
        Ok(Self {
            scheme,
            authority: authority.to_owned(),
            path,
        })
    }

    fn origin(&self) -> String {
        let scheme = match &self.scheme {
            Scheme::Http => "http",
            Scheme::Https => "https",
            Scheme::Other(s) => s.as_str(),
        };
        format!("{scheme}://{}", self.authority)
    }
}
