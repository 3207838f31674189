//! `baton serve`: the HTTP API on a data directory, until SIGTERM or
//! SIGINT.

use std::path::PathBuf;
use std::process::ExitCode;

use baton::server::{self, Limits, ServerConfig};

use super::args::ServeArgs;
use super::embedded::{EXIT_USAGE, Failed, open, refused};

/// The data directory when none is given.
const DEFAULT_DATA_DIR: &str = "baton-data";

pub(crate) async fn run(args: ServeArgs) -> ExitCode {
    serve(args).await.map_or_else(
        |(code, message)| {
            eprintln!("error: {message}");
            ExitCode::from(code)
        },
        |()| ExitCode::SUCCESS,
    )
}

async fn serve(mut args: ServeArgs) -> Result<(), Failed> {
    if args.database_url.is_some() {
        return Err((
            EXIT_USAGE,
            "--database-url is reserved for PostgreSQL, which is not supported yet; \
             leave it out to use the embedded SQLite database in <data-dir>/baton.db"
                .into(),
        ));
    }
    let data_dir = args
        .engine
        .data_dir
        .get_or_insert_with(|| PathBuf::from(DEFAULT_DATA_DIR))
        .clone();
    let embedded = open(&args.engine, false).await?;
    let engine = embedded.engine.clone();
    if let Some(token) = server::bootstrap_admin(&engine, &data_dir)
        .await
        .map_err(refused)?
    {
        eprintln!(
            "created the first admin token (shown once; also written to {}):\n{token}",
            data_dir.join(server::ADMIN_TOKEN_FILE).display()
        );
    }
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| refused(format!("cannot listen on {}: {e}", args.listen)))?;
    let address = listener.local_addr().map_err(refused)?;
    // The one line on stdout: scripts and tests read the address from it.
    println!("baton listening on http://{address}");
    tracing::info!(%address, data_dir = %data_dir.display(), "serving");
    let config = ServerConfig {
        limits: Limits {
            max_body: usize::try_from(args.max_body).unwrap_or(usize::MAX),
            max_plugin: usize::try_from(args.max_plugin).unwrap_or(usize::MAX),
        },
        grace: args.grace,
    };
    let result = server::serve(engine, listener, config, shutdown_signal()).await;
    drop(embedded);
    result.map_err(refused)
}

/// Resolves on SIGTERM or SIGINT.
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!("cannot install signal handlers; stop the server with SIGKILL");
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    tracing::info!("shutdown signal received");
}
