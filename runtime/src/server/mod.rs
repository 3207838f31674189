//! The HTTP server: Baton's versioned REST API (`/v1`), its OpenAPI
//! document, health checks and metrics, on top of an [`Engine`].
//!
//! - `routes`: one module per resource, each handler documented for the
//!   OpenAPI document (utoipa);
//! - [`auth`]: bearer tokens and roles; [`problem`]: every error as an RFC
//!   9457 problem with a stable type; [`metrics`]: Prometheus;
//! - [`serve`] runs the server until a shutdown signal, then lets running
//!   steps finish within a grace period.

pub mod auth;
pub mod metrics;
mod paging;
pub mod problem;
mod routes;
pub mod state;
pub mod views;

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;

use crate::engine::Engine;
use crate::store::{ApiStore, Role, SqliteStore, actor};

pub use routes::router;
pub use state::{AppState, Limits};

/// Default largest JSON or YAML request body.
pub const DEFAULT_MAX_BODY: usize = 1024 * 1024;
/// The file the first admin token is written to, in the data directory.
pub const ADMIN_TOKEN_FILE: &str = "admin-token";

/// What can stop the server.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The listening socket failed.
    #[error("the server failed: {0}")]
    Io(#[from] std::io::Error),
    /// The store failed while setting up.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// How the server runs.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Body limits.
    pub limits: Limits,
    /// How long running steps may take to finish at shutdown.
    pub grace: Duration,
}

/// Builds the handlers' state for an engine.
pub fn state(engine: Engine<SqliteStore>, limits: Limits) -> AppState {
    AppState {
        engine,
        tokens: Arc::new(auth::TokenCache::default()),
        metrics: Arc::new(metrics::Metrics::new()),
        limits,
        stopping: tokio_util::sync::CancellationToken::new(),
    }
}

/// On a database without any token, creates the first admin token, writes
/// it to `admin-token` (mode 0600) in `data_dir` and returns it, to be
/// shown once. Returns `None` when tokens exist.
pub async fn bootstrap_admin(
    engine: &Engine<SqliteStore>,
    data_dir: &Path,
) -> Result<Option<String>, ServerError> {
    if engine.store().has_tokens().await? {
        return Ok(None);
    }
    let token = auth::new_token("admin", Role::Admin, "baton", engine.now());
    let path = data_dir.join(ADMIN_TOKEN_FILE);
    write_private(&path, &format!("{}\n", token.secret))?;
    engine
        .store()
        .insert_token(&token.record, actor::SYSTEM)
        .await?;
    Ok(Some(token.secret))
}

/// Writes a file only its owner can read.
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    // An existing file keeps its mode on open: set it.
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

/// Serves the API on `listener` until `shutdown` resolves, then stops
/// accepting, lets running steps finish for up to `config.grace`, and stops
/// the engine.
pub async fn serve(
    engine: Engine<SqliteStore>,
    listener: TcpListener,
    config: ServerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let state = state(engine.clone(), config.limits);
    let follower = tokio::spawn(metrics::follow_engine(state.clone()));
    let stopping = state.stopping.clone();
    let (app, _) = router(state);
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown.await;
            stopping.cancel();
        })
        .await?;
    tracing::info!("stopped accepting requests; waiting for running steps");
    let released = engine.shutdown_within(Some(config.grace)).await;
    if released > 0 {
        tracing::warn!(
            steps = released,
            grace = ?config.grace,
            "steps still running after the grace period were put back in the queue; \
             they run again when Baton restarts"
        );
    }
    follower.abort();
    Ok(())
}
