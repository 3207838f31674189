//! Opening the connection of one outbound request: TCP to an address that
//! was already checked (never a name, so nothing is resolved twice), TLS
//! for `https` with the server name and certificate checked against the
//! URL's host, then an HTTP/1.1 handshake.
//!
//! Timeouts are the caller's: it wraps [`open`] in the connect deadline.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use wasmtime_wasi_http::WasiBody;
use wasmtime_wasi_http::io::TokioIo;

use super::error::{EgressError, Result};
use super::origin::{Host, Origin, Scheme};

/// The only protocol offered in ALPN: hyper speaks HTTP/1.1 here.
const ALPN_HTTP_1_1: &[u8] = b"http/1.1";

/// A byte stream to the server, plain or TLS.
pub(crate) trait Transport: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Transport for T {}

/// The sending half of an open HTTP/1.1 connection.
pub(crate) type Sender = hyper::client::conn::http1::SendRequest<WasiBody>;
/// The connection itself, a future that must be polled for any I/O.
pub(crate) type Connection =
    hyper::client::conn::http1::Connection<TokioIo<Box<dyn Transport>>, WasiBody>;

/// Connects to the first of `addresses` that answers, then TLS (for
/// `https`) and the HTTP/1.1 handshake.
pub(crate) async fn open(
    origin: &Origin,
    addresses: &[SocketAddr],
) -> Result<(Sender, Connection)> {
    let tcp = connect_tcp(addresses).await?;
    let transport: Box<dyn Transport> = match origin.scheme {
        Scheme::Http => Box::new(tcp),
        Scheme::Https => Box::new(handshake_tls(&origin.host, tcp).await?),
    };
    hyper::client::conn::http1::Builder::new()
        .handshake(TokioIo::new(transport))
        .await
        .map_err(EgressError::Http)
}

/// Tries the addresses in order; the error is the last one's.
async fn connect_tcp(addresses: &[SocketAddr]) -> Result<TcpStream> {
    let mut last = None;
    for address in addresses {
        match TcpStream::connect(address).await {
            Ok(stream) => {
                // Requests are written whole by hyper; no reason to delay.
                let _ = stream.set_nodelay(true);
                return Ok(stream);
            }
            Err(source) => {
                last = Some(EgressError::Connect {
                    address: *address,
                    source,
                });
            }
        }
    }
    Err(last.unwrap_or_else(|| EgressError::InvalidTarget("no address to connect to".into())))
}

async fn handshake_tls(
    host: &Host,
    tcp: TcpStream,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let connector = TlsConnector::from(client_config()?);
    connector
        .connect(server_name(host)?, tcp)
        .await
        .map_err(|source| EgressError::Tls {
            host: host.clone(),
            source,
        })
}

/// The name the certificate must carry: the URL's host name, or its IP
/// address for an IP literal.
fn server_name(host: &Host) -> Result<ServerName<'static>> {
    match host {
        Host::Ip(ip) => Ok(ServerName::IpAddress((*ip).into())),
        Host::Name(name) => ServerName::try_from(name.clone()).map_err(|e| {
            EgressError::InvalidTarget(format!("{name} is not a valid TLS server name: {e}"))
        }),
    }
}

/// One TLS client configuration for the process: the Mozilla roots
/// (webpki-roots, as wasmtime-wasi-http uses), safe protocol versions,
/// no client certificate.
fn client_config() -> Result<Arc<rustls::ClientConfig>> {
    static CONFIG: OnceLock<std::result::Result<Arc<rustls::ClientConfig>, String>> =
        OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let roots: rustls::RootCertStore =
                webpki_roots::TLS_SERVER_ROOTS.iter().cloned().collect();
            // ring, as wasmtime-wasi-http uses; its provider lacks the
            // post-quantum key exchange, which only aws-lc-rs (a much
            // heavier C build) offers in rustls 0.23.
            #[expect(deprecated, reason = "ring has no post-quantum key exchange")]
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let mut config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|e| e.to_string())?
                .with_root_certificates(roots)
                .with_no_client_auth();
            config.alpn_protocols = vec![ALPN_HTTP_1_1.to_vec()];
            Ok(Arc::new(config))
        })
        .clone()
        .map_err(EgressError::TlsSetup)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificates_are_checked_against_the_url_host() {
        assert_eq!(
            server_name(&Host::Name("api.example.com".into())).unwrap(),
            ServerName::try_from("api.example.com").unwrap()
        );
        let ip: std::net::IpAddr = "::1".parse().unwrap();
        assert_eq!(
            server_name(&Host::Ip(ip)).unwrap(),
            ServerName::IpAddress(ip.into())
        );
        assert!(client_config().is_ok());
    }

    #[tokio::test]
    async fn the_last_connection_error_is_reported() {
        // A port just released by a listener refuses connections.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        drop(listener);
        let error = connect_tcp(&[address]).await.unwrap_err();
        assert!(
            matches!(&error, EgressError::Connect { address: a, .. } if *a == address),
            "{error}"
        );
    }
}
