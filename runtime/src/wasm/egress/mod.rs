//! Outbound HTTP for plugins: the allowlist ([`EgressRule`]), the policy of
//! one invocation ([`EgressPolicy`], [`EgressLimits`]) and the client that
//! enforces it behind `wasi:http/outgoing-handler`.
//!
//! A request goes out only when a rule matches its scheme, host and port
//! and allows its method. Baton then resolves the host itself, refuses it if
//! any address is loopback, private, link-local or otherwise not public
//! (unless the rule allows private networks), and connects to one of the
//! addresses it checked, so a DNS answer that changes in between cannot
//! redirect the connection. TLS checks the certificate against the URL's
//! host and the Mozilla roots, plus the deployment's own authorities
//! ([`TlsTrust`]). Timeouts and a response size cap bound every request, and each one
//! leaves a line in the step's log with its method, origin, status, size and
//! duration, never its path, query or headers.
//!
//! ```
//! use baton::wasm::{EgressPolicy, EgressRule};
//!
//! let rules = vec![
//!     EgressRule::parse("https://api.example.com", Some(&["GET".to_owned()]), false)?,
//!     serde_json::from_str(r#"{"origin": "http://*.internal:8080", "private_network": true}"#)?,
//! ];
//! let policy = EgressPolicy { rules, ..EgressPolicy::default() };
//! assert_eq!(policy.rules[1].to_string(), "http://*.internal:8080");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Module map: `rule.rs` and `entry.rs` (rules and their configuration
//! form), `origin.rs` (scheme, host, port), `policy.rs` (decisions),
//! `address.rs` (what is not public), `resolve.rs`, `connect.rs` (TCP, TLS,
//! HTTP/1.1 handshake), `deadlines.rs`, `exchange.rs` (one request),
//! `body.rs` (the bounded response body), `report.rs` (the log line),
//! `trust.rs` (the certificate authorities TLS trusts), `error.rs`.

mod address;
mod body;
mod connect;
mod deadlines;
mod entry;
mod error;
mod exchange;
mod origin;
mod policy;
mod report;
mod resolve;
mod rule;
mod trust;

pub(crate) use exchange::{Sent, send};
pub use policy::{
    DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_CONCURRENT_REQUESTS, DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_TOTAL_TIMEOUT, EgressLimits, EgressPolicy,
};
pub use rule::EgressRule;
pub use trust::{TlsTrust, TrustError};
