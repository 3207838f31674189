//! An engine on a data directory, shared by `baton workflow run|resume` and
//! `baton serve`.
//!
//! A data directory is used by one process at a time (an exclusive lock on
//! `engine.lock`), so a process that starts on it takes over at once the
//! steps an earlier, crashed process left running.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use baton::engine::{Engine, EngineConfig, SystemClock};
use baton::secrets::{KeySource, MASTER_KEY_ENV, MasterKey};
use baton::store::{SqliteOptions, SqliteStore};
use baton::wasm::{Executor, ExecutorConfig, TlsTrust};

use super::EXIT_REFUSED;
use super::args::EngineArgs;

/// Exit code for bad usage (as clap uses).
pub(crate) const EXIT_USAGE: u8 = 2;
/// The database file inside a data directory.
pub(crate) const DATABASE_FILE: &str = "baton.db";

pub(crate) type Failed = (u8, String);

pub(crate) fn refused(error: impl std::fmt::Display) -> Failed {
    (EXIT_REFUSED, error.to_string())
}

/// An engine on a data directory, and what keeps it alive.
pub(crate) struct Embedded {
    pub engine: Engine<SqliteStore>,
    // Held for the lock and, when temporary, removed on drop.
    _lock: std::fs::File,
    _temp: Option<tempfile::TempDir>,
}

pub(crate) async fn open(args: &EngineArgs, must_exist: bool) -> Result<Embedded, Failed> {
    // Settings first: a bad one creates nothing.
    let tls_trust = tls_trust(args.ca_file.as_deref())?;
    let (dir, temp) = match &args.data_dir {
        Some(dir) => (dir.clone(), None),
        None => {
            let temp = tempfile::tempdir()
                .map_err(|e| refused(format!("cannot create a temporary directory: {e}")))?;
            (temp.path().to_path_buf(), Some(temp))
        }
    };
    if must_exist && !dir.join(DATABASE_FILE).exists() {
        return Err((
            EXIT_USAGE,
            format!("{} holds no Baton database", dir.display()),
        ));
    }
    std::fs::create_dir_all(&dir)
        .map_err(|e| refused(format!("cannot create {}: {e}", dir.display())))?;
    let lock = lock(&dir)?;
    let store = open_store(&dir).await?;
    let cache_dir = match (&args.cache_dir, &args.data_dir) {
        (Some(cache), _) => cache.clone(),
        (None, Some(data)) => data.join("cache"),
        (None, None) => super::plugin::default_cache_dir(),
    };
    let executor = executor(cache_dir, args.concurrency)?;
    let master_key = master_key(&dir, temp.is_some())?;
    let config = EngineConfig {
        max_in_flight: usize::try_from(args.concurrency).unwrap_or(usize::MAX),
        lease: args.lease,
        max_payload_bytes: usize::try_from(args.max_payload).unwrap_or(usize::MAX),
        exclusive: true,
        master_key: Some(Arc::new(master_key)),
        tls_trust,
        ..EngineConfig::default()
    };
    let engine = Engine::start(store, executor, Arc::new(SystemClock), config)
        .await
        .map_err(refused)?;
    Ok(Embedded {
        engine,
        _lock: lock,
        _temp: temp,
    })
}

/// The key that seals secrets: from `BATON_MASTER_KEY`, else the data
/// directory's key file (created on first start).
fn master_key(dir: &Path, temporary: bool) -> Result<MasterKey, Failed> {
    let env = master_key_env()?;
    let (key, source) = MasterKey::load(dir, env.as_deref()).map_err(refused)?;
    match source {
        KeySource::Created(_) if !temporary => {
            tracing::warn!(source = %source, "created a master key for secrets; back it up with the database")
        }
        _ => tracing::debug!(source = %source, "master key loaded"),
    }
    Ok(key)
}

/// The Mozilla roots, plus the authorities of `--ca-file`.
fn tls_trust(ca_file: Option<&Path>) -> Result<TlsTrust, Failed> {
    let Some(path) = ca_file else {
        return Ok(TlsTrust::default());
    };
    let trust = TlsTrust::from_pem_file(path).map_err(|e| (EXIT_USAGE, e.to_string()))?;
    tracing::info!(
        file = %path.display(),
        authorities = trust.extra_authorities(),
        "outbound TLS trusts extra certificate authorities"
    );
    Ok(trust)
}

/// The database of a data directory (created if missing).
pub(crate) async fn open_store(dir: &Path) -> Result<SqliteStore, Failed> {
    SqliteStore::open(&SqliteOptions::new(dir.join(DATABASE_FILE)))
        .await
        .map_err(|e| {
            refused(format!(
                "cannot open the database in {}: {e}",
                dir.display()
            ))
        })
}

/// The value of `BATON_MASTER_KEY`, when set.
pub(crate) fn master_key_env() -> Result<Option<String>, Failed> {
    match std::env::var(MASTER_KEY_ENV) {
        Ok(value) => Ok(Some(value)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => {
            Err(refused(format!("{MASTER_KEY_ENV} is not valid UTF-8")))
        }
    }
}

fn executor(cache_dir: PathBuf, concurrency: u64) -> Result<Executor, Failed> {
    let program = std::env::current_exe()
        .map_err(|e| refused(format!("cannot find the baton executable: {e}")))?;
    let mut config = ExecutorConfig::new(cache_dir, program);
    config.pool.max_concurrent_invocations = u32::try_from(concurrency).unwrap_or(u32::MAX);
    Executor::new(config).map_err(refused)
}

/// Takes the data directory's exclusive lock, or says who holds it.
pub(crate) fn lock(dir: &Path) -> Result<std::fs::File, Failed> {
    use std::os::fd::AsRawFd;
    let path = dir.join("engine.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| refused(format!("cannot open {}: {e}", path.display())))?;
    // SAFETY: flock on a descriptor this function owns; no memory involved.
    let locked = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0;
    if !locked {
        return Err(refused(format!(
            "another baton process is using {} (it holds {})",
            dir.display(),
            path.display()
        )));
    }
    Ok(file)
}
