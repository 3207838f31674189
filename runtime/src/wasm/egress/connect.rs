//! Opening the connection of one outbound request: TCP to an address that
//! was already checked (never a name, so nothing is resolved twice), TLS
//! for `https` with the server name and certificate checked against the
//! URL's host, then an HTTP/1.1 handshake.
//!
//! Timeouts are the caller's: it wraps [`open`] in the connect deadline.

use std::net::SocketAddr;

use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use wasmtime_wasi_http::WasiBody;
use wasmtime_wasi_http::io::TokioIo;

use super::error::{EgressError, Result};
use super::origin::{Host, Origin, Scheme};
use super::trust::TlsTrust;

/// A byte stream to the server, plain or TLS.
pub(crate) trait Transport: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Transport for T {}

/// The sending half of an open HTTP/1.1 connection.
pub(crate) type Sender = hyper::client::conn::http1::SendRequest<WasiBody>;
/// The connection itself, a future that must be polled for any I/O.
pub(crate) type Connection =
    hyper::client::conn::http1::Connection<TokioIo<Box<dyn Transport>>, WasiBody>;

/// Connects to the first of `addresses` that answers, then TLS (for
/// `https`, against the authorities of `trust`) and the HTTP/1.1
/// handshake.
pub(crate) async fn open(
    origin: &Origin,
    addresses: &[SocketAddr],
    trust: &TlsTrust,
) -> Result<(Sender, Connection)> {
    let tcp = connect_tcp(addresses).await?;
    let transport: Box<dyn Transport> = match origin.scheme {
        Scheme::Http => Box::new(tcp),
        Scheme::Https => Box::new(handshake_tls(&origin.host, tcp, trust).await?),
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
    trust: &TlsTrust,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let connector = TlsConnector::from(trust.client_config()?);
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
