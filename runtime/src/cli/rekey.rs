//! `baton secret rekey`: seals every secret again under a new master key,
//! on a data directory no server is using.
//!
//! The order keeps the secrets readable whatever happens: the new key is
//! first written next to the old one (`master.key.new`), then the secrets
//! are sealed again in one transaction, then the new key file replaces the
//! old. If the process dies before the commit, nothing changed; between
//! the commit and the rename, `master.key.new` holds the key that opens
//! them, and this command says so when it finds that file.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use baton::engine::{Clock, SystemClock, rekey_secrets};
use baton::secrets::{KeySource, MASTER_KEY_ENV, MASTER_KEY_FILE, MasterKey, replace_key_file};

use super::args::SecretRekeyArgs;
use super::embedded::{
    DATABASE_FILE, EXIT_USAGE, Failed, lock, master_key_env, open_store, refused,
};

/// Where the new key waits while the secrets are sealed again.
const NEW_KEY_FILE: &str = "master.key.new";

pub(crate) async fn run(args: SecretRekeyArgs) -> ExitCode {
    match rekey(args).await {
        Ok(message) => {
            println!("{message}");
            ExitCode::SUCCESS
        }
        Err((code, message)) => {
            eprintln!("error: {message}");
            ExitCode::from(code)
        }
    }
}

async fn rekey(args: SecretRekeyArgs) -> Result<String, Failed> {
    let dir = &args.data_dir;
    if !dir.join(DATABASE_FILE).exists() {
        return Err((
            EXIT_USAGE,
            format!("{} holds no Baton database", dir.display()),
        ));
    }
    let _lock = lock(dir)?;
    let staged = dir.join(NEW_KEY_FILE);
    if staged.exists() {
        return Err(refused(format!(
            "{} is left from an earlier rekey that did not finish. If the server refuses \
             to start with its master key, that file holds the key the secrets are sealed \
             with: move it over {}. Otherwise remove it, then run this again.",
            staged.display(),
            dir.join(MASTER_KEY_FILE).display()
        )));
    }
    let env = master_key_env()?;
    let (old, source) = MasterKey::load_existing(dir, env.as_deref()).map_err(refused)?;
    let new = match &args.new_key_file {
        Some(path) => MasterKey::read_file(path).map_err(refused)?,
        None if source == KeySource::Environment => {
            return Err((
                EXIT_USAGE,
                format!(
                    "the master key comes from {MASTER_KEY_ENV}: give the new one with \
                     --new-key-file, then set {MASTER_KEY_ENV} to it"
                ),
            ));
        }
        None => MasterKey::generate(),
    };
    if new.fingerprint() == old.fingerprint() {
        return Err((EXIT_USAGE, "the new key is the current one".into()));
    }
    let in_file = matches!(source, KeySource::File(_));
    if in_file {
        new.write_new_file(&staged).map_err(refused)?;
    }
    let sealed = reseal(dir, &old, &new).await;
    let count = match sealed {
        Ok(count) => count,
        Err(failure) => {
            if in_file {
                let _ = std::fs::remove_file(&staged);
            }
            return Err(failure);
        }
    };
    let fingerprint = new.fingerprint();
    if in_file {
        let key_file = dir.join(MASTER_KEY_FILE);
        replace_key_file(&staged, &key_file).map_err(|e| {
            refused(format!(
                "the secrets are sealed with the key in {} (fingerprint {fingerprint}), but it \
                 could not replace {}: {e}; move it there by hand",
                staged.display(),
                key_file.display()
            ))
        })?;
        Ok(format!(
            "sealed {count} secret(s) again; {} now holds the new key (fingerprint \
             {fingerprint}). Back it up: the old key no longer opens them.",
            key_file.display()
        ))
    } else {
        Ok(format!(
            "sealed {count} secret(s) again under the key of {} (fingerprint {fingerprint}). \
             Set {MASTER_KEY_ENV} to it before the next start: the old key no longer opens \
             them.",
            args.new_key_file
                .as_deref()
                .map_or_else(|| PathBuf::from("--new-key-file"), Path::to_path_buf)
                .display()
        ))
    }
}

async fn reseal(dir: &Path, old: &MasterKey, new: &MasterKey) -> Result<usize, Failed> {
    let store = open_store(dir).await?;
    let actor = format!("cli:{}", whoami());
    let result = rekey_secrets(&store, old, new, &actor, SystemClock.now()).await;
    store.close().await;
    result.map_err(refused)
}

/// The local user, for the audit trail.
fn whoami() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into())
}
