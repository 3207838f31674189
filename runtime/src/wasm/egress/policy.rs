//! [`EgressPolicy`] (the allowlist and limits of one invocation) and the
//! decisions taken on it: whether a request's origin and method are granted,
//! and whether the addresses its host resolves to may be reached.
//!
//! Rules add up: a request is allowed when any rule matching its origin
//! allows its method, and non-public addresses are allowed when any such rule
//! allows private networks. Resolving names and connecting live elsewhere.

use std::net::SocketAddr;
use std::time::Duration;

use super::address::special_use;
use super::error::{EgressError, Result};
use super::origin::{Host, Origin};
use super::rule::EgressRule;
use super::trust::TlsTrust;

/// Default bound on name resolution, TCP connection and TLS handshake of
/// one request.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default bound on one whole request, from the call to the last byte of
/// the response body.
pub const DEFAULT_TOTAL_TIMEOUT: Duration = Duration::from_secs(60);
/// Default cap on the bytes of one response body (16 MiB).
pub const DEFAULT_MAX_RESPONSE_BYTES: u64 = 16 << 20;
/// Default cap on the requests of one invocation in progress at once.
pub const DEFAULT_MAX_CONCURRENT_REQUESTS: usize = 16;

/// Bounds on every outbound request of an invocation. The step's deadline
/// bounds both timeouts again, and a guest's own request options can only
/// shorten them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EgressLimits {
    /// Name resolution, TCP connection and TLS handshake together.
    pub connect_timeout: Duration,
    /// The whole request, until the last byte of the response body.
    pub total_timeout: Duration,
    /// Most bytes of one response body; past it the body fails.
    pub max_response_bytes: u64,
    /// Most requests in progress at once (from the call until the body is
    /// read or dropped); one more waits for a free slot until its connect
    /// timeout, so a plugin cannot open connections without bound.
    pub max_concurrent_requests: usize,
}

impl Default for EgressLimits {
    fn default() -> Self {
        Self {
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            total_timeout: DEFAULT_TOTAL_TIMEOUT,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            max_concurrent_requests: DEFAULT_MAX_CONCURRENT_REQUESTS,
        }
    }
}

/// What one invocation may reach over HTTP. The default has no rules and
/// refuses every request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EgressPolicy {
    /// The allowlist; empty refuses everything.
    pub rules: Vec<EgressRule>,
    /// Timeouts and the response size cap.
    pub limits: EgressLimits,
    /// The certificate authorities `https` servers must chain to.
    pub trust: TlsTrust,
}

/// A request that the allowlist lets through, pending the address check.
#[derive(Debug)]
pub(crate) struct Grant<'a> {
    /// The first rule that allows the request, named in messages.
    rule: &'a EgressRule,
    /// Whether any rule that allows the request allows private networks.
    private_network: bool,
}

impl EgressPolicy {
    /// Decides on a request's origin and method, before any lookup.
    pub(crate) fn authorize(&self, method: &http::Method, origin: &Origin) -> Result<Grant<'_>> {
        let matching: Vec<&EgressRule> = self
            .rules
            .iter()
            .filter(|rule| rule.matches_origin(origin))
            .collect();
        let Some(first) = matching.first() else {
            return Err(EgressError::NotAllowed {
                origin: origin.clone(),
            });
        };
        let allowing: Vec<&EgressRule> = matching
            .iter()
            .copied()
            .filter(|rule| rule.allows_method(method))
            .collect();
        match allowing.first().copied() {
            Some(rule) => Ok(Grant {
                rule,
                private_network: allowing.iter().any(|rule| rule.private_network()),
            }),
            None => Err(EgressError::MethodNotAllowed {
                method: method.clone(),
                rule: first.to_string(),
                allowed: allowed_methods(&matching),
            }),
        }
    }
}

/// The union of the methods the rules allow, in rule order.
fn allowed_methods(rules: &[&EgressRule]) -> String {
    let mut methods: Vec<String> = Vec::new();
    for list in rules.iter().filter_map(|rule| rule.method_list()) {
        for method in list.split(", ") {
            if !methods.iter().any(|m| m == method) {
                methods.push(method.to_owned());
            }
        }
    }
    methods.join(", ")
}

impl Grant<'_> {
    /// Refuses the request if any address of `host` is not public and the
    /// grant does not allow private networks. Every address is checked, not
    /// only the first: the connection may go to any of them.
    pub(crate) fn check_addresses(&self, host: &Host, addresses: &[SocketAddr]) -> Result<()> {
        if self.private_network {
            return Ok(());
        }
        for address in addresses {
            if let Some(class) = special_use(address.ip()) {
                return Err(EgressError::PrivateAddress {
                    host: host.clone(),
                    address: address.ip(),
                    class,
                    rule: self.rule.to_string(),
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(rules: &[(&str, Option<&[&str]>, bool)]) -> EgressPolicy {
        let rules = rules
            .iter()
            .map(|(origin, methods, private)| {
                let methods: Option<Vec<String>> =
                    methods.map(|m| m.iter().map(|s| (*s).to_owned()).collect());
                EgressRule::parse(origin, methods.as_deref(), *private).unwrap()
            })
            .collect();
        EgressPolicy {
            rules,
            ..EgressPolicy::default()
        }
    }

    fn origin(uri: &str) -> Origin {
        Origin::of_uri(&uri.parse().unwrap()).unwrap()
    }

    fn addresses(list: &[&str]) -> Vec<SocketAddr> {
        list.iter()
            .map(|ip| SocketAddr::new(ip.parse().unwrap(), 443))
            .collect()
    }

    #[test]
    fn the_default_policy_refuses_everything() {
        let error = EgressPolicy::default()
            .authorize(&http::Method::GET, &origin("https://api.example.com/"))
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "origin https://api.example.com:443 is not in this plugin's outbound allowlist"
        );
        assert_eq!(EgressLimits::default().max_response_bytes, 16 << 20);
    }

    #[test]
    fn methods_add_up_over_matching_rules() {
        let policy = policy(&[
            ("https://api.example.com", Some(&["GET"]), false),
            ("https://*.example.com", Some(&["POST", "GET"]), false),
            ("https://other.example.net", Some(&["PUT"]), false),
        ]);
        let api = origin("https://api.example.com/x");
        assert!(policy.authorize(&http::Method::GET, &api).is_ok());
        assert!(policy.authorize(&http::Method::POST, &api).is_ok());
        let error = policy
            .authorize(&http::Method::DELETE, &api)
            .unwrap_err()
            .to_string();
        assert_eq!(
            error,
            "method DELETE is not allowed for https://api.example.com (allowed: GET, POST)"
        );
        assert!(
            policy
                .authorize(&http::Method::GET, &origin("http://api.example.com/"))
                .is_err()
        );
    }

    #[test]
    fn every_resolved_address_must_be_public_without_private_network() {
        let policy = policy(&[("https://api.example.com", None, false)]);
        let api = origin("https://api.example.com/");
        let grant = policy.authorize(&http::Method::GET, &api).unwrap();
        assert!(
            grant
                .check_addresses(&api.host, &addresses(&["93.184.216.34", "2606:2800::1"]))
                .is_ok()
        );
        let error = grant
            .check_addresses(&api.host, &addresses(&["93.184.216.34", "127.0.0.1"]))
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "api.example.com resolves to 127.0.0.1, a loopback address; \
             the grant for https://api.example.com does not allow private networks"
        );
        let error = grant
            .check_addresses(&api.host, &addresses(&["::ffff:169.254.169.254"]))
            .unwrap_err();
        assert!(
            error.to_string().contains("a link-local address"),
            "{error}"
        );
    }

    #[test]
    fn private_network_is_granted_by_any_allowing_rule() {
        let policy = policy(&[
            ("http://10.0.0.1", Some(&["GET"]), false),
            ("http://10.0.0.1", Some(&["POST"]), true),
        ]);
        let target = origin("http://10.0.0.1/");
        let ten = addresses(&["10.0.0.1"]);
        let get = policy.authorize(&http::Method::GET, &target).unwrap();
        let error = get.check_addresses(&target.host, &ten).unwrap_err();
        assert_eq!(
            error.to_string(),
            "10.0.0.1 is a private address; the grant for http://10.0.0.1 does not allow private networks"
        );
        let post = policy.authorize(&http::Method::POST, &target).unwrap();
        assert!(post.check_addresses(&target.host, &ten).is_ok());
    }
}
