//! What every handler shares: the engine, the token cache, the metrics and
//! the request limits.

use std::sync::Arc;

use crate::engine::Engine;
use crate::store::SqliteStore;

use super::auth::TokenCache;
use super::metrics::Metrics;

/// Limits on request bodies.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest JSON or YAML body.
    pub max_body: usize,
    /// Largest plugin upload.
    pub max_plugin: usize,
}

/// The handlers' shared state.
#[derive(Clone)]
pub struct AppState {
    /// The engine (and through it the store and executor).
    pub engine: Engine<SqliteStore>,
    /// Verified tokens.
    pub tokens: Arc<TokenCache>,
    /// Prometheus metrics.
    pub metrics: Arc<Metrics>,
    /// Body limits.
    pub limits: Limits,
    /// Fires when the server stops accepting requests; open event streams
    /// end then.
    pub stopping: tokio_util::sync::CancellationToken,
}
