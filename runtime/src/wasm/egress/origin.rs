//! Origins: scheme, host and port, the only parts of a URL that outbound
//! HTTP decides on and logs.
//!
//! [`Origin`] is where one request goes, taken from its URI; [`Host`] and the
//! host-name syntax check are shared with the allowlist rules. Paths,
//! queries, user info and fragments never get into an `Origin`, so nothing
//! built from one can leak them into a log line (webhook URLs carry their
//! secret in the path).

use std::fmt;
use std::net::IpAddr;

/// Longest host name DNS can carry, in bytes (RFC 1035).
const MAX_NAME_LEN: usize = 253;
/// Longest label of a host name, in bytes (RFC 1035).
const MAX_LABEL_LEN: usize = 63;

/// The URL schemes outbound HTTP speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Scheme {
    /// Plain HTTP.
    Http,
    /// HTTP over TLS.
    Https,
}

impl Scheme {
    /// `http` or `https`, case-insensitively; anything else is refused.
    pub(crate) fn parse(text: &str) -> Option<Self> {
        if text.eq_ignore_ascii_case("http") {
            Some(Self::Http)
        } else if text.eq_ignore_ascii_case("https") {
            Some(Self::Https)
        } else {
            None
        }
    }

    /// The port used when a URL names none.
    pub(crate) fn default_port(self) -> u16 {
        match self {
            Self::Http => 80,
            Self::Https => 443,
        }
    }

    /// The scheme in lowercase.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Https => "https",
        }
    }
}

/// A host: a lowercase DNS name or an IP literal.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Host {
    /// A host name, lowercase, without a trailing dot.
    Name(String),
    /// An IP literal (`10.0.0.1`, `[::1]`).
    Ip(IpAddr),
}

impl Host {
    /// Parses a host as it appears in a URL: an IPv4 literal, a bracketed
    /// IPv6 literal, or a host name (compared case-insensitively, so kept in
    /// lowercase). One trailing dot is dropped, since `example.com.` and
    /// `example.com` name the same host.
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        if let Some(inner) = text.strip_prefix('[') {
            let inner = inner
                .strip_suffix(']')
                .ok_or_else(|| format!("the IPv6 address in {text:?} lacks its closing `]`"))?;
            return inner
                .parse::<std::net::Ipv6Addr>()
                .map(|ip| Self::Ip(IpAddr::V6(ip)))
                .map_err(|_| format!("{text:?} is not a valid IPv6 address"));
        }
        if let Ok(ip) = text.parse::<std::net::Ipv4Addr>() {
            return Ok(Self::Ip(IpAddr::V4(ip)));
        }
        let name = text.strip_suffix('.').unwrap_or(text).to_ascii_lowercase();
        check_name(&name)?;
        Ok(Self::Name(name))
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Name(name) => f.write_str(name),
            Self::Ip(IpAddr::V4(ip)) => write!(f, "{ip}"),
            Self::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]"),
        }
    }
}

/// Checks the syntax of a lowercase host name: dot-separated labels of
/// letters, digits and inner hyphens, within DNS lengths. A name whose last
/// label is numeric is refused: URL parsers read such a name as an IPv4
/// address in some shorthand (`127.1`, `0x7f.1`), which is never what an
/// allowlist means.
pub(crate) fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("the host is empty".into());
    }
    if !name.is_ascii() {
        return Err(format!(
            "the host {name:?} is not ASCII; write internationalised names in their punycode (xn--) form"
        ));
    }
    if name.len() > MAX_NAME_LEN {
        return Err(format!(
            "the host name is longer than {MAX_NAME_LEN} characters"
        ));
    }
    for label in name.split('.') {
        let valid = !label.is_empty()
            && label.len() <= MAX_LABEL_LEN
            && label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !valid {
            return Err(format!(
                "{name:?} is not a valid host name (labels are letters, digits and inner hyphens, 1 to {MAX_LABEL_LEN} characters)"
            ));
        }
    }
    let last = name.rsplit('.').next().unwrap_or(name);
    if last.bytes().all(|b| b.is_ascii_digit()) || last.starts_with("0x") {
        return Err(format!(
            "{name:?} is neither a valid IPv4 address nor a host name"
        ));
    }
    Ok(())
}

/// Where one request goes: scheme, host and port (the scheme's default port
/// when the URL names none).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Origin {
    pub(crate) scheme: Scheme,
    pub(crate) host: Host,
    pub(crate) port: u16,
}

impl Origin {
    /// The origin of a request URI as wasi-http builds it (scheme and
    /// authority always present). User info is refused: it would travel in
    /// the `Host` header.
    pub(crate) fn of_uri(uri: &http::Uri) -> Result<Self, String> {
        let scheme = uri
            .scheme_str()
            .ok_or_else(|| "the URL has no scheme".to_owned())?;
        let scheme = Scheme::parse(scheme)
            .ok_or_else(|| format!("scheme {scheme:?} is not supported (only http and https)"))?;
        let authority = uri
            .authority()
            .ok_or_else(|| "the URL has no host".to_owned())?;
        if authority.as_str().contains('@') {
            return Err(
                "user info in the URL is not supported; send credentials in a header".into(),
            );
        }
        let host = Host::parse(authority.host())?;
        let port = authority.port_u16().unwrap_or(scheme.default_port());
        Ok(Self { scheme, host, port })
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}:{}", self.scheme.as_str(), self.host, self.port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(uri: &str) -> Result<String, String> {
        Origin::of_uri(&uri.parse().unwrap()).map(|o| o.to_string())
    }

    #[test]
    fn origins_of_request_uris_always_carry_the_port() {
        assert_eq!(
            origin("https://API.Example.com/hooks/secret?x=1").unwrap(),
            "https://api.example.com:443"
        );
        assert_eq!(origin("http://10.0.0.1/").unwrap(), "http://10.0.0.1:80");
        assert_eq!(origin("http://[::1]:8080/").unwrap(), "http://[::1]:8080");
        assert_eq!(
            origin("https://example.com.:8443").unwrap(),
            "https://example.com:8443"
        );
    }

    #[test]
    fn request_uris_with_user_info_or_odd_hosts_are_refused() {
        assert!(origin("https://user:pw@api.example.com/").is_err());
        assert!(origin("ftp://example.com/").is_err());
        assert!(origin("http://127.1/").is_err());
        assert!(origin("http://0x7f.1/").is_err());
        assert!(origin("http://a_b.example.com/").is_err());
        assert!(origin("/relative").is_err());
    }

    #[test]
    fn host_names_are_checked() {
        assert!(check_name("api.example.com").is_ok());
        assert!(check_name("xn--bcher-kva.example").is_ok());
        assert!(check_name("localhost").is_ok());
        assert!(check_name("a-b.c").is_ok());
        for bad in [
            "",
            "-a.com",
            "a-.com",
            "a..b",
            "bücher.de",
            "a b",
            "1.2.3.4.5",
        ] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        assert!(check_name(&format!("{}.com", "a".repeat(64))).is_err());
        assert!(check_name("a.".repeat(127).trim_end_matches('.')).is_ok());
        assert!(check_name(&format!("{}a", "a.".repeat(127))).is_err());
    }
}
