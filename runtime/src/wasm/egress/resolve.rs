//! Name resolution for outbound HTTP, done by Baton itself so that the
//! addresses it checks are the addresses it connects to.
//!
//! IP literals need no lookup. `localhost` and every name under
//! `.localhost` are the loopback addresses without asking DNS (RFC 6761,
//! section 6.3, as browsers do), so such a name can never be pointed
//! elsewhere. Any other name goes to the system resolver once; the caller
//! checks every address found and connects only to those.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::error::{EgressError, Result};
use super::origin::Host;

/// The special name whose subdomains are loopback too.
const LOCALHOST: &str = "localhost";

/// The addresses to try for `host`, in the resolver's order, without
/// duplicates.
pub(crate) async fn resolve(host: &Host, port: u16) -> Result<Vec<SocketAddr>> {
    let name = match host {
        Host::Ip(ip) => return Ok(vec![SocketAddr::new(*ip, port)]),
        Host::Name(name) => name,
    };
    if is_localhost(name) {
        return Ok([
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(Ipv6Addr::LOCALHOST),
        ]
        .into_iter()
        .map(|ip| SocketAddr::new(ip, port))
        .collect());
    }
    let found = tokio::net::lookup_host((name.as_str(), port))
        .await
        .map_err(|source| EgressError::Dns {
            host: name.clone(),
            source,
        })?;
    let mut addresses: Vec<SocketAddr> = Vec::new();
    for address in found {
        if !addresses.contains(&address) {
            addresses.push(address);
        }
    }
    if addresses.is_empty() {
        return Err(EgressError::NoAddress { host: name.clone() });
    }
    Ok(addresses)
}

fn is_localhost(name: &str) -> bool {
    name == LOCALHOST
        || name
            .strip_suffix(LOCALHOST)
            .is_some_and(|prefix| prefix.ends_with('.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn literals_and_localhost_names_need_no_lookup() {
        let ip = Host::Ip("10.0.0.1".parse().unwrap());
        assert_eq!(
            resolve(&ip, 80).await.unwrap(),
            ["10.0.0.1:80".parse::<SocketAddr>().unwrap()]
        );
        for name in ["localhost", "api.localhost", "a.b.localhost"] {
            let addresses = resolve(&Host::Name(name.into()), 8080).await.unwrap();
            assert_eq!(
                addresses,
                [
                    "127.0.0.1:8080".parse::<SocketAddr>().unwrap(),
                    "[::1]:8080".parse().unwrap()
                ],
                "{name}"
            );
        }
        assert!(!is_localhost("notlocalhost"));
        assert!(!is_localhost("localhost.example.com"));
    }
}
