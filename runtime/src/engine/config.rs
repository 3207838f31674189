//! Engine settings, validated in one place.

use std::time::Duration;

use super::EngineError;

/// Plugin invocations running at once, by default.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 64;
/// How long a claimed step stays leased without a renewal.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(30);
/// Most operations committed in one transaction.
pub const DEFAULT_MAX_BATCH: usize = 1024;
/// Largest JSON payload (run input, step input or output), by default.
pub const DEFAULT_MAX_PAYLOAD_BYTES: usize = 1024 * 1024;
/// Deepest nesting of child workflows.
pub const DEFAULT_MAX_DEPTH: i64 = 8;
/// Largest for_each list.
pub const DEFAULT_MAX_ITEMS: usize = 100_000;

/// How the engine runs.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Plugin invocations running at once.
    pub max_in_flight: usize,
    /// Lease length; a step whose worker stops renewing it is taken over
    /// after this long.
    pub lease: Duration,
    /// Most operations per transaction.
    pub max_batch: usize,
    /// Largest JSON payload stored.
    pub max_payload_bytes: usize,
    /// Deepest child-workflow nesting.
    pub max_depth: i64,
    /// Largest for_each list.
    pub max_items: usize,
    /// This process is the only engine on the database (the embedded
    /// case): leases left by an earlier process are taken over at start
    /// instead of after they expire.
    pub exclusive: bool,
    /// The key that seals secrets; without one, secrets can be neither
    /// saved nor read.
    pub master_key: Option<std::sync::Arc<crate::secrets::MasterKey>>,
    /// The certificate authorities plugins' `https` requests trust: the
    /// Mozilla roots, plus the deployment's own when it adds them.
    pub tls_trust: crate::wasm::TlsTrust,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            lease: DEFAULT_LEASE,
            max_batch: DEFAULT_MAX_BATCH,
            max_payload_bytes: DEFAULT_MAX_PAYLOAD_BYTES,
            max_depth: DEFAULT_MAX_DEPTH,
            max_items: DEFAULT_MAX_ITEMS,
            exclusive: false,
            master_key: None,
            tls_trust: crate::wasm::TlsTrust::default(),
        }
    }
}

impl EngineConfig {
    /// Refuses settings the engine cannot run with.
    pub fn validate(&self) -> Result<(), EngineError> {
        let problem = if self.max_in_flight == 0 {
            Some("max_in_flight must be at least 1")
        } else if self.lease < Duration::from_millis(100) {
            Some("the lease must be at least 100 ms")
        } else if self.max_batch == 0 {
            Some("max_batch must be at least 1")
        } else if self.max_payload_bytes < 1024 {
            Some("max_payload_bytes must be at least 1024")
        } else {
            None
        };
        match problem {
            Some(message) => Err(EngineError::Config(message.into())),
            None => Ok(()),
        }
    }

    pub(crate) fn lease_ms(&self) -> i64 {
        super::clock::millis(self.lease)
    }
}
