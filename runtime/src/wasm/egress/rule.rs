//! [`EgressRule`]: one entry of a plugin's outbound allowlist, its parsing,
//! its canonical text and whether it matches a request's origin and method.
//!
//! An entry names an origin, `https://api.example.com` or
//! `https://*.example.com:8443`: scheme, host and port must all match a
//! request (the port defaults from the scheme). A `*` may only stand as the
//! whole first label and matches one or more labels, never the bare parent
//! domain. Optional: the methods allowed, and whether the origin may resolve
//! to private, loopback or link-local addresses. Reading entries from
//! configuration lives in `entry.rs`; addresses are checked elsewhere.

use std::fmt;

use super::origin::{Host, Origin, Scheme, check_name};

/// Methods of a rule, uppercase, as shown in messages.
fn method_list(methods: &[http::Method]) -> String {
    methods
        .iter()
        .map(http::Method::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The host part of a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    /// Exactly this host.
    Exact(Host),
    /// Any name with one or more labels before `.{0}`.
    Subdomains(String),
}

impl HostPattern {
    fn parse(text: &str) -> Result<Self, String> {
        if let Some(parent) = text.strip_prefix("*.") {
            if parent.contains('*') {
                return Err(wildcard_misplaced());
            }
            let parent = parent.to_ascii_lowercase();
            check_name(&parent)?;
            return Ok(Self::Subdomains(parent));
        }
        if text.contains('*') {
            return Err(wildcard_misplaced());
        }
        if text.ends_with('.') {
            return Err(format!("write the host {text:?} without its trailing dot"));
        }
        Host::parse(text).map(Self::Exact)
    }

    fn matches(&self, host: &Host) -> bool {
        match (self, host) {
            (Self::Exact(exact), host) => exact == host,
            (Self::Subdomains(parent), Host::Name(name)) => name
                .strip_suffix(parent.as_str())
                .and_then(|prefix| prefix.strip_suffix('.'))
                .is_some_and(|labels| !labels.is_empty()),
            (Self::Subdomains(_), Host::Ip(_)) => false,
        }
    }
}

impl fmt::Display for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Exact(host) => write!(f, "{host}"),
            Self::Subdomains(parent) => write!(f, "*.{parent}"),
        }
    }
}

fn wildcard_misplaced() -> String {
    "a `*` may only stand as the whole first label of the host, as in https://*.example.com".into()
}

/// One entry of a plugin's outbound allowlist.
///
/// Built by [`EgressRule::parse`] (or deserialised, see the `serde`
/// implementation), so every rule is valid; [`Display`](fmt::Display)
/// gives its canonical origin text (lowercase, default port left out).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EgressRule {
    scheme: Scheme,
    host: HostPattern,
    port: u16,
    /// `None`: every method.
    methods: Option<Vec<http::Method>>,
    private_network: bool,
}

impl EgressRule {
    /// Parses an allowlist entry: `origin` such as `https://api.example.com`
    /// or `https://*.example.com:8443`, optionally the methods allowed (any
    /// case, kept uppercase; `None` allows every method), and whether the
    /// origin may resolve to non-public addresses (loopback, private,
    /// link-local, ...).
    ///
    /// The error says what is wrong with the entry, for people.
    pub fn parse(
        origin: &str,
        methods: Option<&[String]>,
        private_network: bool,
    ) -> Result<EgressRule, String> {
        let (scheme, host, port) = parse_origin(origin)
            .map_err(|reason| format!("outbound origin {origin:?}: {reason}"))?;
        let methods = methods
            .map(parse_methods)
            .transpose()
            .map_err(|reason| format!("outbound origin {origin:?}: {reason}"))?;
        Ok(Self {
            scheme,
            host,
            port,
            methods,
            private_network,
        })
    }

    /// The methods allowed, uppercase; `None` when every method is.
    pub fn methods(&self) -> Option<Vec<String>> {
        self.methods
            .as_ref()
            .map(|methods| methods.iter().map(|m| m.as_str().to_owned()).collect())
    }

    /// Whether the origin may resolve to loopback, private, link-local and
    /// other non-public addresses.
    pub fn private_network(&self) -> bool {
        self.private_network
    }

    /// Whether scheme, host and port of `origin` match this rule.
    pub(crate) fn matches_origin(&self, origin: &Origin) -> bool {
        self.scheme == origin.scheme && self.port == origin.port && self.host.matches(&origin.host)
    }

    /// Whether this rule allows `method`.
    pub(crate) fn allows_method(&self, method: &http::Method) -> bool {
        self.methods
            .as_ref()
            .is_none_or(|methods| methods.contains(method))
    }

    /// The allowed methods as shown in messages (`GET, POST`), if limited.
    pub(crate) fn method_list(&self) -> Option<String> {
        self.methods.as_deref().map(method_list)
    }
}

impl fmt::Display for EgressRule {
    /// The canonical origin text: `https://api.example.com`,
    /// `http://*.internal:8080`, `http://[::1]:3000`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.scheme.as_str(), self.host)?;
        if self.port != self.scheme.default_port() {
            write!(f, ":{}", self.port)?;
        }
        Ok(())
    }
}

fn parse_origin(text: &str) -> Result<(Scheme, HostPattern, u16), String> {
    if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("it contains whitespace".into());
    }
    let (scheme, rest) = text
        .split_once("://")
        .ok_or("write it as scheme://host[:port], such as https://api.example.com")?;
    let scheme = Scheme::parse(scheme)
        .ok_or_else(|| format!("the scheme must be http or https, not {scheme:?}"))?;
    // A lone trailing slash is how people often write an origin.
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    if authority.contains(['/', '\\']) {
        return Err("an allowlist entry is an origin; remove the path".into());
    }
    if authority.contains('?') {
        return Err("an allowlist entry is an origin; remove the query".into());
    }
    if authority.contains('#') {
        return Err("an allowlist entry is an origin; remove the fragment".into());
    }
    if authority.contains('@') {
        return Err("user info (user@host) is not allowed in an allowlist entry".into());
    }
    let (host, port) = split_port(authority)?;
    let host = HostPattern::parse(host)?;
    let port = match port {
        None => scheme.default_port(),
        Some(port) => parse_port(port)?,
    };
    Ok((scheme, host, port))
}

/// Splits `host[:port]`, where an IPv6 host is bracketed.
fn split_port(authority: &str) -> Result<(&str, Option<&str>), String> {
    if authority.is_empty() {
        return Err("the host is missing".into());
    }
    if authority.starts_with('[') {
        let end = authority
            .find(']')
            .ok_or("the IPv6 address lacks its closing `]`")?;
        let (host, rest) = authority.split_at(end + 1);
        return match rest {
            "" => Ok((host, None)),
            _ => rest
                .strip_prefix(':')
                .map(|port| (host, Some(port)))
                .ok_or_else(|| format!("unexpected {rest:?} after the IPv6 address")),
        };
    }
    match authority.split_once(':') {
        None => Ok((authority, None)),
        Some((_, port)) if port.contains(':') => {
            Err("too many `:`; write IPv6 addresses in brackets, as in http://[::1]:8080".into())
        }
        Some((host, port)) => Ok((host, Some(port))),
    }
}

fn parse_port(text: &str) -> Result<u16, String> {
    let bad = || format!("the port {text:?} is not a number from 1 to 65535");
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    match text.parse::<u16>() {
        Ok(0) | Err(_) => Err(bad()),
        Ok(port) => Ok(port),
    }
}

fn parse_methods(methods: &[String]) -> Result<Vec<http::Method>, String> {
    if methods.is_empty() {
        return Err(
            "the method list is empty, which allows nothing; leave it out to allow every method"
                .into(),
        );
    }
    let mut parsed: Vec<http::Method> = Vec::with_capacity(methods.len());
    for method in methods {
        let upper = method.to_ascii_uppercase();
        let valid = !upper.is_empty()
            && upper
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        let method = valid
            .then(|| http::Method::from_bytes(upper.as_bytes()).ok())
            .flatten()
            .ok_or_else(|| format!("{method:?} is not an HTTP method"))?;
        if !parsed.contains(&method) {
            parsed.push(method);
        }
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(origin: &str) -> EgressRule {
        EgressRule::parse(origin, None, false).unwrap()
    }

    fn error(origin: &str) -> String {
        EgressRule::parse(origin, None, false).unwrap_err()
    }

    fn request(uri: &str) -> Origin {
        Origin::of_uri(&uri.parse().unwrap()).unwrap()
    }

    #[test]
    fn good_entries_have_a_canonical_text() {
        let cases = [
            ("https://api.example.com", "https://api.example.com"),
            ("HTTPS://API.Example.COM/", "https://api.example.com"),
            ("https://api.example.com:443", "https://api.example.com"),
            ("http://api.example.com:443", "http://api.example.com:443"),
            ("https://*.example.com:8443", "https://*.example.com:8443"),
            ("http://10.0.0.1", "http://10.0.0.1"),
            ("http://[::1]:3000", "http://[::1]:3000"),
            ("http://[0:0:0:0:0:0:0:1]", "http://[::1]"),
            ("http://localhost:65535", "http://localhost:65535"),
            ("https://*.localhost", "https://*.localhost"),
        ];
        for (input, canonical) in cases {
            assert_eq!(rule(input).to_string(), canonical, "{input}");
        }
    }

    #[test]
    fn bad_entries_say_what_is_wrong() {
        let cases = [
            ("api.example.com", "scheme://host"),
            ("ftp://example.com", "http or https"),
            ("https://", "host is missing"),
            ("https://api.example.com/v1", "remove the path"),
            ("https://api.example.com?x=1", "remove the query"),
            ("https://api.example.com#top", "remove the fragment"),
            ("https://user:pw@api.example.com", "user info"),
            ("https://api.example.com:0", "port \"0\""),
            ("https://api.example.com:65536", "1 to 65535"),
            ("https://api.example.com:", "port \"\""),
            ("https://api.example.com:+80", "port \"+80\""),
            ("https://api.example.com:8o", "port \"8o\""),
            ("https://*", "whole first label"),
            ("https://*example.com", "whole first label"),
            ("https://api.*.example.com", "whole first label"),
            ("https://*.*.example.com", "whole first label"),
            ("https://**.example.com", "whole first label"),
            ("https://*.", "host is empty"),
            ("https://api.example.com.", "trailing dot"),
            ("https://api..example.com", "not a valid host name"),
            ("https://bad_host.example.com", "not a valid host name"),
            ("https://bücher.de", "punycode"),
            ("https://127.1", "neither a valid IPv4"),
            ("http://::1", "too many `:`"),
            ("http://[::1", "closing `]`"),
            ("http://[::1]x", "after the IPv6 address"),
            ("http://[fe80::1%eth0]", "not a valid IPv6"),
            ("http://[1.2.3.4]", "not a valid IPv6"),
            (" https://api.example.com", "whitespace"),
        ];
        for (input, expected) in cases {
            let message = error(input);
            assert!(
                message.contains(expected),
                "{input}: {message:?} lacks {expected:?}"
            );
            assert!(message.contains(input.trim()), "{input}: {message:?}");
        }
    }

    #[test]
    fn methods_are_uppercased_deduplicated_and_checked() {
        let methods = ["get".to_owned(), "POST".to_owned(), "Get".to_owned()];
        let rule = EgressRule::parse("https://api.example.com", Some(&methods), false).unwrap();
        assert_eq!(
            rule.methods(),
            Some(vec!["GET".to_owned(), "POST".to_owned()])
        );
        assert_eq!(rule.method_list().as_deref(), Some("GET, POST"));
        assert!(rule.allows_method(&http::Method::GET));
        assert!(!rule.allows_method(&http::Method::DELETE));

        assert!(rule_with_methods(&[]).contains("allows nothing"));
        assert!(rule_with_methods(&["GE T"]).contains("not an HTTP method"));
        assert!(rule_with_methods(&[""]).contains("not an HTTP method"));
        assert!(EgressRule::parse("https://a.example", Some(&["PURGE".to_owned()]), false).is_ok());
    }

    fn rule_with_methods(methods: &[&str]) -> String {
        let methods: Vec<String> = methods.iter().map(|m| (*m).to_owned()).collect();
        EgressRule::parse("https://api.example.com", Some(&methods), false).unwrap_err()
    }

    #[test]
    fn scheme_host_and_port_must_all_match() {
        let exact = rule("https://api.example.com");
        assert!(exact.matches_origin(&request("https://api.example.com/x?y")));
        assert!(exact.matches_origin(&request("https://API.EXAMPLE.COM:443/")));
        assert!(exact.matches_origin(&request("https://api.example.com./")));
        assert!(!exact.matches_origin(&request("http://api.example.com/")));
        assert!(!exact.matches_origin(&request("https://api.example.com:8443/")));
        assert!(!exact.matches_origin(&request("https://example.com/")));
        assert!(!exact.matches_origin(&request("https://x.api.example.com/")));
        assert!(!exact.matches_origin(&request("https://api.example.com.evil.net/")));

        let with_port = rule("http://127.0.0.1:8080");
        assert!(with_port.matches_origin(&request("http://127.0.0.1:8080/")));
        assert!(!with_port.matches_origin(&request("http://127.0.0.1/")));
        assert!(!with_port.matches_origin(&request("http://localhost:8080/")));

        let v6 = rule("http://[::1]:3000");
        assert!(v6.matches_origin(&request("http://[0::1]:3000/")));
        assert!(!v6.matches_origin(&request("http://[::2]:3000/")));
    }

    #[test]
    fn wildcards_match_one_or_more_labels_never_the_parent() {
        let wildcard = rule("https://*.example.com:8443");
        assert!(wildcard.matches_origin(&request("https://a.example.com:8443/")));
        assert!(wildcard.matches_origin(&request("https://a.b.Example.com:8443/")));
        assert!(!wildcard.matches_origin(&request("https://example.com:8443/")));
        assert!(!wildcard.matches_origin(&request("https://badexample.com:8443/")));
        assert!(!wildcard.matches_origin(&request("https://a.example.com/")));
        assert!(!wildcard.matches_origin(&request("http://a.example.com:8443/")));
        assert!(!wildcard.matches_origin(&request("https://a.example.com.evil:8443/")));
        assert!(!rule("http://*.in-addr.arpa").matches_origin(&request("http://10.0.0.1/")));
    }
}
