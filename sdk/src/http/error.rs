//! [`HttpError`] and how `wasi:http` error codes become messages a plugin
//! author (and the person reading the step's output) can act on.

use crate::bindings::wasi::http::types::{ErrorCode, IoError, http_error_code};

/// Why a request did not produce a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpError {
    /// The host refused the request: the origin is not granted, the method
    /// is not allowed, or the host resolves to an address the plugin may
    /// not reach. The step log says which.
    Denied(String),
    /// The request could not be built (bad URL, header or method).
    InvalidRequest(String),
    /// No connection or no answer in time.
    Timeout(String),
    /// The response (body or headers) is over the host's size limit.
    TooLarge(String),
    /// A redirect could not be followed (too many hops, a bad `Location`).
    Redirect(String),
    /// The request was sent but failed (DNS, connection, TLS, protocol).
    Transport(String),
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Denied(m) => write!(f, "outbound HTTP refused: {m}"),
            Self::InvalidRequest(m) => write!(f, "invalid HTTP request: {m}"),
            Self::Timeout(m) => write!(f, "HTTP request timed out: {m}"),
            Self::TooLarge(m) => write!(f, "HTTP response too large: {m}"),
            Self::Redirect(m) => write!(f, "HTTP redirect not followed: {m}"),
            Self::Transport(m) => write!(f, "HTTP request failed: {m}"),
        }
    }
}

impl std::error::Error for HttpError {}

/// `?` inside `run`: timeouts and transport failures may pass, the rest
/// will not.
impl From<HttpError> for crate::StepError {
    fn from(error: HttpError) -> Self {
        match error {
            HttpError::Transport(_) | HttpError::Timeout(_) => Self::retryable(error.to_string()),
            _ => Self::permanent(error.to_string()),
        }
    }
}

/// The error for a request the host refused because no entry of the
/// plugin's outbound allowlist allows `method` to `origin`.
pub(crate) fn not_granted(method: &str, origin: &str) -> HttpError {
    HttpError::Denied(format!(
        "{method} {origin} is not granted to this plugin: no entry of its outbound allowlist \
         allows this origin with this method"
    ))
}

/// The error for `code`, from a request to `origin` (`scheme://host[:port]`).
pub(crate) fn from_code(origin: &str, code: ErrorCode) -> HttpError {
    use HttpError::{Denied, InvalidRequest, Timeout, TooLarge, Transport};
    match code {
        ErrorCode::HttpRequestDenied => Denied(format!("{origin} is not granted to this plugin")),
        ErrorCode::DestinationIpProhibited => Denied(format!(
            "{origin} resolves to an address this plugin may not reach (loopback, private, link-local or reserved)"
        )),
        ErrorCode::DnsTimeout => Timeout(format!("looking up the host of {origin} timed out")),
        ErrorCode::DnsError(payload) => Transport(format!(
            "looking up the host of {origin} failed{}",
            payload.rcode.map(|r| format!(": {r}")).unwrap_or_default()
        )),
        ErrorCode::DestinationNotFound => Transport(format!("the host of {origin} has no address")),
        ErrorCode::DestinationUnavailable | ErrorCode::DestinationIpUnroutable => {
            Transport(format!("{origin} is unreachable"))
        }
        ErrorCode::ConnectionRefused => Transport(format!("{origin} refused the connection")),
        ErrorCode::ConnectionTerminated => {
            Transport(format!("the connection to {origin} was closed"))
        }
        ErrorCode::ConnectionLimitReached => Transport(format!("too many connections to {origin}")),
        ErrorCode::ConnectionTimeout => Timeout(format!("no connection to {origin} in time")),
        ErrorCode::ConnectionReadTimeout | ErrorCode::HttpResponseTimeout => {
            Timeout(format!("{origin} did not answer in time"))
        }
        ErrorCode::ConnectionWriteTimeout => {
            Timeout(format!("sending the request to {origin} took too long"))
        }
        ErrorCode::TlsCertificateError => Transport(format!(
            "the TLS certificate of {origin} is not valid for it"
        )),
        ErrorCode::TlsProtocolError => Transport(format!("the TLS handshake with {origin} failed")),
        ErrorCode::TlsAlertReceived(alert) => Transport(format!(
            "{origin} ended TLS with alert {}",
            alert.alert_message.unwrap_or_else(|| "(unnamed)".into())
        )),
        ErrorCode::HttpResponseBodySize(limit) => TooLarge(format!(
            "the response body of {origin} is over the limit{}",
            limit.map(|n| format!(" of {n} bytes")).unwrap_or_default()
        )),
        ErrorCode::HttpResponseHeaderSectionSize(_)
        | ErrorCode::HttpResponseHeaderSize(_)
        | ErrorCode::HttpResponseTrailerSectionSize(_)
        | ErrorCode::HttpResponseTrailerSize(_) => TooLarge(format!(
            "the response headers of {origin} are over the limit"
        )),
        ErrorCode::HttpRequestBodySize(_) => {
            InvalidRequest("the body does not match its content-length".into())
        }
        ErrorCode::HttpRequestUriInvalid => {
            InvalidRequest(format!("the URL for {origin} is invalid"))
        }
        ErrorCode::HttpRequestUriTooLong => InvalidRequest("the URL is too long".into()),
        ErrorCode::HttpRequestMethodInvalid => InvalidRequest("the method is invalid".into()),
        ErrorCode::HttpRequestHeaderSectionSize(_)
        | ErrorCode::HttpRequestHeaderSize(_)
        | ErrorCode::HttpRequestTrailerSectionSize(_)
        | ErrorCode::HttpRequestTrailerSize(_) => {
            InvalidRequest("the request headers are too large".into())
        }
        ErrorCode::HttpResponseIncomplete => {
            Transport(format!("the response of {origin} ended early"))
        }
        ErrorCode::HttpProtocolError => Transport(format!("HTTP protocol error with {origin}")),
        ErrorCode::InternalError(message) => Transport(format!(
            "host error{}",
            message.map(|m| format!(": {m}")).unwrap_or_default()
        )),
        other => Transport(format!("{other:?} from {origin}")),
    }
}

/// The error for a failed read of the response body of `origin`.
pub(crate) fn from_stream(origin: &str, error: &IoError) -> HttpError {
    if let Some(code) = http_error_code(error) {
        return from_code(origin, code);
    }
    // The host reports body errors as text only (its first line; a host
    // may append a backtrace). Its wording for the limits is stable enough
    // to sort them.
    let text = error.to_debug_string();
    let first = text.lines().next().unwrap_or_default().trim();
    let lower = first.to_ascii_lowercase();
    if let Some(rest) = lower.strip_prefix("http response body size exceeds limit") {
        let limit = rest
            .trim_start_matches(':')
            .trim()
            .trim_end_matches("bytes")
            .trim()
            .parse::<u64>()
            .ok();
        from_code(origin, ErrorCode::HttpResponseBodySize(limit))
    } else if lower.contains("timeout") || lower.contains("timed out") {
        HttpError::Timeout(format!(
            "the response body of {origin} did not arrive in time"
        ))
    } else {
        HttpError::Transport(format!(
            "reading the response body of {origin} failed: {first}"
        ))
    }
}
