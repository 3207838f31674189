//! [`EgressError`]: why an outbound request was refused or failed before a
//! response arrived.
//!
//! The `Display` text is what the step log says, so it names origins and
//! addresses but never a path, a query or a header. [`EgressError::to_wasi`]
//! gives the much coarser `wasi:http` error code the guest sees.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use wasmtime_wasi_http::Error as WasiError;

use super::address::SpecialUse;
use super::origin::{Host, Origin};

/// Result of the egress steps.
pub(crate) type Result<T, E = EgressError> = std::result::Result<T, E>;

/// Why an outbound request got no response.
#[derive(Debug, thiserror::Error)]
pub(crate) enum EgressError {
    /// The request's URI cannot be sent (no host, user info, odd scheme).
    #[error("{0}")]
    InvalidTarget(String),
    /// No rule of the allowlist matches scheme, host and port.
    #[error("origin {origin} is not in this plugin's outbound allowlist")]
    NotAllowed {
        /// Where the request went.
        origin: Origin,
    },
    /// Rules match the origin, but none allows the method.
    #[error("method {method} is not allowed for {rule} (allowed: {allowed})")]
    MethodNotAllowed {
        /// The request's method.
        method: http::Method,
        /// The first rule that matched the origin, canonical text.
        rule: String,
        /// The methods the matching rules allow.
        allowed: String,
    },
    /// The host is, or resolves to, a non-public address and no matching
    /// rule allows private networks.
    #[error("{}; the grant for {rule} does not allow private networks", describe_address(host, *address, *class))]
    PrivateAddress {
        /// The host of the request.
        host: Host,
        /// The first refused address.
        address: IpAddr,
        /// What kind of address it is.
        class: SpecialUse,
        /// The rule that granted the origin, canonical text.
        rule: String,
    },
    /// Name resolution failed.
    #[error("looking up {host} failed: {source}")]
    Dns {
        /// The name looked up.
        host: String,
        /// Why.
        source: io::Error,
    },
    /// Name resolution found nothing.
    #[error("{host} has no address")]
    NoAddress {
        /// The name looked up.
        host: String,
    },
    /// The invocation already has as many requests in progress as it may,
    /// and none ended before this one's connect timeout.
    #[error(
        "{0} outbound requests of this step are already in progress and none ended in time; \
         wait for responses before sending more"
    )]
    TooManyRequests(usize),
    /// Resolution, connection and TLS handshake took too long.
    #[error("no connection within {} ms", .0.as_millis())]
    ConnectTimeout(Duration),
    /// Every address refused the connection or was unreachable.
    #[error("connecting to {address} failed: {source}")]
    Connect {
        /// The last address tried.
        address: SocketAddr,
        /// Why.
        source: io::Error,
    },
    /// The TLS handshake failed (certificate, protocol, alert).
    #[error("TLS handshake with {host} failed: {source}")]
    Tls {
        /// The server name checked.
        host: Host,
        /// Why (a `rustls::Error` inside when rustls refused).
        source: io::Error,
    },
    /// The TLS client could not be set up.
    #[error("TLS is unavailable: {0}")]
    TlsSetup(String),
    /// HTTP failed on an open connection.
    #[error("HTTP exchange failed: {0}")]
    Http(#[source] hyper::Error),
    /// No response head before the deadline (total or the guest's
    /// first-byte timeout, whichever came first).
    #[error("no response within {} ms", .0.as_millis())]
    ResponseTimeout(Duration),
}

fn describe_address(host: &Host, address: IpAddr, class: SpecialUse) -> String {
    match host {
        Host::Ip(_) => format!("{address} is {class}"),
        Host::Name(name) => format!("{name} resolves to {address}, {class}"),
    }
}

impl EgressError {
    /// Whether the policy refused the request (as opposed to a failure of
    /// the network or the server).
    pub(crate) fn is_refusal(&self) -> bool {
        matches!(
            self,
            Self::NotAllowed { .. } | Self::MethodNotAllowed { .. } | Self::PrivateAddress { .. }
        )
    }

    /// The `wasi:http` error code the guest sees.
    pub(crate) fn to_wasi(&self) -> WasiError {
        match self {
            Self::InvalidTarget(_) => WasiError::HttpRequestUriInvalid,
            Self::NotAllowed { .. } | Self::MethodNotAllowed { .. } => WasiError::HttpRequestDenied,
            Self::PrivateAddress { .. } => WasiError::DestinationIpProhibited,
            Self::Dns { source, .. } => WasiError::DnsError {
                rcode: Some(source.to_string()),
                info_code: None,
            },
            Self::NoAddress { .. } => WasiError::DestinationNotFound,
            Self::ConnectTimeout(_) => WasiError::ConnectionTimeout,
            Self::TooManyRequests(_) => WasiError::ConnectionLimitReached,
            Self::Connect { source, .. } => match source.kind() {
                io::ErrorKind::ConnectionRefused => WasiError::ConnectionRefused,
                io::ErrorKind::TimedOut => WasiError::ConnectionTimeout,
                _ => WasiError::DestinationUnavailable,
            },
            Self::Tls { source, .. } => tls_error(source),
            Self::TlsSetup(message) => WasiError::InternalError(Some(message.clone())),
            Self::Http(error) if error.is_incomplete_message() => WasiError::HttpResponseIncomplete,
            Self::Http(error) if error.is_timeout() => WasiError::HttpResponseTimeout,
            Self::Http(_) => WasiError::HttpProtocolError,
            Self::ResponseTimeout(_) => WasiError::HttpResponseTimeout,
        }
    }
}

/// Sorts a failed handshake into the TLS codes of `wasi:http`.
fn tls_error(error: &io::Error) -> WasiError {
    let rustls = error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>());
    match rustls {
        Some(rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented) => {
            WasiError::TlsCertificateError
        }
        Some(rustls::Error::AlertReceived(alert)) => WasiError::TlsAlertReceived {
            alert_id: Some(u8::from(*alert)),
            alert_message: Some(format!("{alert:?}")),
        },
        _ => WasiError::TlsProtocolError,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_explain_themselves() {
        let origin = Origin::of_uri(&"http://10.0.0.1/hook/s3cret".parse().unwrap()).unwrap();
        let not_allowed = EgressError::NotAllowed { origin };
        assert_eq!(
            not_allowed.to_string(),
            "origin http://10.0.0.1:80 is not in this plugin's outbound allowlist"
        );
        assert!(not_allowed.is_refusal());
        assert!(matches!(
            not_allowed.to_wasi(),
            WasiError::HttpRequestDenied
        ));

        let private = EgressError::PrivateAddress {
            host: Host::Name("api.example.com".into()),
            address: "127.0.0.1".parse().unwrap(),
            class: SpecialUse::Loopback,
            rule: "https://api.example.com".into(),
        };
        assert_eq!(
            private.to_string(),
            "api.example.com resolves to 127.0.0.1, a loopback address; \
             the grant for https://api.example.com does not allow private networks"
        );
        assert!(matches!(
            private.to_wasi(),
            WasiError::DestinationIpProhibited
        ));

        let method = EgressError::MethodNotAllowed {
            method: http::Method::DELETE,
            rule: "https://api.example.com".into(),
            allowed: "GET, POST".into(),
        };
        assert_eq!(
            method.to_string(),
            "method DELETE is not allowed for https://api.example.com (allowed: GET, POST)"
        );
        assert!(!EgressError::ResponseTimeout(Duration::from_secs(1)).is_refusal());
    }

    #[test]
    fn certificate_problems_are_told_apart() {
        let bad_cert = io::Error::new(
            io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
        );
        assert!(matches!(
            tls_error(&bad_cert),
            WasiError::TlsCertificateError
        ));
        let other = io::Error::new(io::ErrorKind::InvalidData, "garbage");
        assert!(matches!(tls_error(&other), WasiError::TlsProtocolError));
    }
}
