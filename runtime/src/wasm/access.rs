//! What one invocation may reach outside its sandbox: the outbound-HTTP
//! policy and the [`CapabilityProvider`] behind `kv`, `secrets` and
//! `events`.
//!
//! The executor knows nothing of grants, storage or the event pipeline: the
//! caller builds an [`Access`] per invocation (the engine from the plugin's
//! grant) and the host side of the world only forwards calls to it. Without
//! a provider every such call answers `not-granted`, and without egress
//! rules every request is refused: [`Access::default`] grants nothing.

use std::sync::Arc;

use futures_util::future::BoxFuture;

use super::egress::EgressPolicy;

/// Why a capability call did not do what was asked; the guest sees it as
/// the WIT `capability-error` of the same name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Not granted to this plugin; the text names what was refused.
    NotGranted(String),
    /// The request itself is wrong (an empty key, a value too large).
    Invalid(String),
    /// Over the plugin's granted quota.
    QuotaExceeded(String),
    /// The host cannot serve the call right now.
    Unavailable(String),
}

/// One key-value operation, in the plugin's own namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KvRequest {
    /// The value under a key.
    Get(String),
    /// Stores a value.
    Set(String, Vec<u8>),
    /// Removes a key.
    Delete(String),
    /// Stores a value if the current one is `expected` (`None`: absent).
    CompareAndSwap {
        /// The key.
        key: String,
        /// The value it must hold now.
        expected: Option<Vec<u8>>,
        /// The new value.
        value: Vec<u8>,
    },
}

/// The answer to a [`KvRequest`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KvReply {
    /// For `Get`.
    Value(Option<Vec<u8>>),
    /// For `Set`.
    Stored,
    /// For `Delete` (existed) and `CompareAndSwap` (stored).
    Done(bool),
}

/// An event a plugin emits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Emitted {
    /// Its type.
    pub kind: String,
    /// Its subject.
    pub subject: Option<String>,
    /// Its data, a JSON document.
    pub data: String,
}

/// Serves the capabilities of one invocation. Implementations check the
/// plugin's grant themselves and refuse the rest.
pub trait CapabilityProvider: Send + Sync {
    /// The value of a secret.
    fn secret(&self, name: String) -> BoxFuture<'_, Result<String, Refusal>>;
    /// A key-value operation.
    fn kv(&self, request: KvRequest) -> BoxFuture<'_, Result<KvReply, Refusal>>;
    /// Emits an event.
    fn emit(&self, event: Emitted) -> BoxFuture<'_, Result<(), Refusal>>;
}

/// Everything one invocation may reach.
#[derive(Clone, Default)]
pub struct Access {
    /// Where outbound HTTP may go.
    pub egress: Arc<EgressPolicy>,
    /// Who serves `kv`, `secrets` and `events`; `None` refuses them all.
    pub provider: Option<Arc<dyn CapabilityProvider>>,
}

impl std::fmt::Debug for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Access")
            .field("egress", &self.egress)
            .field("provider", &self.provider.is_some())
            .finish()
    }
}
