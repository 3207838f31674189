//! The certificate authorities outbound TLS trusts: the Mozilla roots
//! (webpki-roots, as wasmtime-wasi-http uses) and, when a deployment adds
//! them, its own (a PEM bundle, for an internal ServiceNow or Request
//! Tracker whose certificate a private CA signed).
//!
//! One [`TlsTrust`] is built at start and shared by every invocation's
//! policy; its TLS client configuration is built once, on first use.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use super::error::{EgressError, Result};

/// The only protocol offered in ALPN: hyper speaks HTTP/1.1 here.
const ALPN_HTTP_1_1: &[u8] = b"http/1.1";

/// Why extra certificate authorities cannot be trusted.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    /// The file cannot be read.
    #[error("cannot read the CA file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A PEM section is malformed.
    #[error("{origin}: a PEM section is malformed: {reason}")]
    Pem {
        /// The file, or where the text came from.
        origin: String,
        /// What the parser said.
        reason: String,
    },
    /// No `CERTIFICATE` section at all (a key file, say).
    #[error("{0} holds no PEM certificate (`-----BEGIN CERTIFICATE-----`)")]
    Empty(String),
    /// A certificate that cannot serve as a trust anchor.
    #[error("{origin}: certificate {index} cannot be trusted as a CA: {reason}")]
    Anchor {
        /// The file, or where the text came from.
        origin: String,
        /// Its position in the bundle, from 1.
        index: usize,
        /// What rustls said.
        reason: String,
    },
}

/// The authorities a TLS server's certificate must chain to. The default
/// trusts the Mozilla roots only; cloning shares one configuration.
#[derive(Clone, Default)]
pub struct TlsTrust(Arc<Inner>);

#[derive(Default)]
struct Inner {
    /// The deployment's own authorities, added to the Mozilla roots.
    extra: Vec<CertificateDer<'static>>,
    /// Built on first use.
    config: OnceLock<std::result::Result<Arc<rustls::ClientConfig>, String>>,
}

impl TlsTrust {
    /// The Mozilla roots plus every certificate of a PEM bundle; `origin`
    /// names the text in errors. Each certificate is checked now, so a bad
    /// bundle is refused at start rather than on a plugin's first request.
    pub fn with_pem(pem: &[u8], origin: &str) -> std::result::Result<TlsTrust, TrustError> {
        let extra = CertificateDer::pem_slice_iter(pem)
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| TrustError::Pem {
                origin: origin.to_string(),
                reason: e.to_string(),
            })?;
        if extra.is_empty() {
            return Err(TrustError::Empty(origin.to_string()));
        }
        let mut roots = rustls::RootCertStore::empty();
        for (index, certificate) in extra.iter().enumerate() {
            roots
                .add(certificate.clone())
                .map_err(|e| TrustError::Anchor {
                    origin: origin.to_string(),
                    index: index + 1,
                    reason: e.to_string(),
                })?;
        }
        Ok(TlsTrust(Arc::new(Inner {
            extra,
            config: OnceLock::new(),
        })))
    }

    /// [`TlsTrust::with_pem`] on a file.
    pub fn from_pem_file(path: &Path) -> std::result::Result<TlsTrust, TrustError> {
        let origin = path.display().to_string();
        let pem = std::fs::read(path).map_err(|source| TrustError::Read {
            path: origin.clone(),
            source,
        })?;
        TlsTrust::with_pem(&pem, &origin)
    }

    /// How many authorities the deployment added.
    pub fn extra_authorities(&self) -> usize {
        self.0.extra.len()
    }

    /// The client configuration: these roots, safe protocol versions, no
    /// client certificate, HTTP/1.1 in ALPN.
    pub(crate) fn client_config(&self) -> Result<Arc<rustls::ClientConfig>> {
        self.0
            .config
            .get_or_init(|| build(&self.0.extra))
            .clone()
            .map_err(EgressError::TlsSetup)
    }
}

fn build(
    extra: &[CertificateDer<'static>],
) -> std::result::Result<Arc<rustls::ClientConfig>, String> {
    let mut roots: rustls::RootCertStore = webpki_roots::TLS_SERVER_ROOTS.iter().cloned().collect();
    for certificate in extra {
        roots.add(certificate.clone()).map_err(|e| e.to_string())?;
    }
    // ring, as wasmtime-wasi-http uses; its provider lacks the
    // post-quantum key exchange, which only aws-lc-rs (a much heavier C
    // build) offers in rustls 0.23.
    #[expect(deprecated, reason = "ring has no post-quantum key exchange")]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![ALPN_HTTP_1_1.to_vec()];
    Ok(Arc::new(config))
}

impl PartialEq for TlsTrust {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.0.extra == other.0.extra
    }
}

impl Eq for TlsTrust {}

impl std::fmt::Debug for TlsTrust {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsTrust")
            .field("extra_authorities", &self.extra_authorities())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A self-signed CA from the test fixtures.
    const CA: &str = include_str!("../../../../tests/fixtures/tls/ca.pem");
    const KEY: &str = include_str!("../../../../tests/fixtures/tls/server.key");

    #[test]
    fn the_default_trusts_the_mozilla_roots_only() {
        let trust = TlsTrust::default();
        assert_eq!(trust.extra_authorities(), 0);
        assert!(trust.client_config().is_ok());
        assert_eq!(trust, trust.clone());
    }

    #[test]
    fn a_bundle_adds_its_authorities() {
        let trust = TlsTrust::with_pem(CA.as_bytes(), "ca.pem").unwrap();
        assert_eq!(trust.extra_authorities(), 1);
        let config = trust.client_config().unwrap();
        assert_eq!(config.alpn_protocols, vec![b"http/1.1".to_vec()]);
        let twice = format!("{CA}\n{CA}");
        let both = TlsTrust::with_pem(twice.as_bytes(), "twice.pem").unwrap();
        assert_eq!(both.extra_authorities(), 2);
        assert_ne!(both, TlsTrust::default());
    }

    #[test]
    fn bad_bundles_are_refused_with_the_reason() {
        let error = TlsTrust::with_pem(KEY.as_bytes(), "server.key").unwrap_err();
        assert_eq!(
            error.to_string(),
            "server.key holds no PEM certificate (`-----BEGIN CERTIFICATE-----`)"
        );
        let error = TlsTrust::with_pem(b"not pem at all", "junk.pem").unwrap_err();
        assert!(matches!(error, TrustError::Empty(_)), "{error}");
        let broken = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        let error = TlsTrust::with_pem(broken.as_bytes(), "broken.pem").unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("broken.pem: certificate 1 cannot be trusted as a CA"),
            "{error}"
        );
        let unterminated = "-----BEGIN CERTIFICATE-----\nMIIB\n";
        let error = TlsTrust::with_pem(unterminated.as_bytes(), "cut.pem").unwrap_err();
        assert!(error.to_string().starts_with("cut.pem: "), "{error}");
        let error = TlsTrust::from_pem_file(Path::new("/nonexistent/ca.pem")).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("cannot read the CA file /nonexistent/ca.pem: "),
            "{error}"
        );
    }
}
