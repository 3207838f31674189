//! Secrets: sealing values under the master key and saving them with their
//! audit entry (never the value), listing their metadata, and opening one
//! for a plugin invocation.
//!
//! The fingerprint of the master key is stored with the secrets; starting
//! with another key while secrets exist is refused with a clear error
//! instead of failing later at the first read.

use serde::Serialize;
use serde_json::json;
use zeroize::Zeroizing;

use crate::secrets::{MAX_SECRET_BYTES, MasterKey, Sealed, open, seal, validate_name};
use crate::store::{AuditEntry, AuditLog, CapabilityTx, SecretRecord, Store, StoreTx, action};

use super::{Engine, EngineError, Result, Shared};

/// The setting that holds the master key's fingerprint.
const KEY_FINGERPRINT: &str = "master_key_fingerprint";
/// Longest description of a secret.
const MAX_DESCRIPTION: usize = 1024;

/// What is shown of a secret: never its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct SecretInfo {
    /// Its name.
    pub name: String,
    /// What it is for.
    pub description: Option<String>,
    /// When it was first saved (RFC 3339).
    pub created_at: String,
    /// When its value last changed (RFC 3339).
    pub updated_at: String,
    /// Who saved it last.
    pub updated_by: String,
}

impl From<&SecretRecord> for SecretInfo {
    fn from(record: &SecretRecord) -> SecretInfo {
        SecretInfo {
            name: record.name.clone(),
            description: record.description.clone(),
            created_at: super::clock::rfc3339(record.created_at),
            updated_at: super::clock::rfc3339(record.updated_at),
            updated_by: record.updated_by.clone(),
        }
    }
}

fn no_key() -> EngineError {
    EngineError::Config(
        "no master key is configured, so secrets can be neither saved nor read".into(),
    )
}

impl<S: Store> Shared<S> {
    fn master_key(&self) -> Result<&MasterKey> {
        self.config.master_key.as_deref().ok_or_else(no_key)
    }

    /// The value of a stored secret, or `None` when there is no such
    /// secret.
    pub(crate) async fn open_secret(&self, name: &str) -> Result<Option<Zeroizing<Vec<u8>>>> {
        let Some(record) = self.store.secret(name).await? else {
            return Ok(None);
        };
        let key = self.master_key()?;
        let sealed =
            Sealed::from_bytes(&record.sealed).map_err(|e| EngineError::Config(e.to_string()))?;
        let value = open(key, name, &sealed).map_err(|e| EngineError::Config(e.to_string()))?;
        Ok(Some(value))
    }
}

impl<S: Store> Engine<S> {
    /// A secret's value, for the host's own use (a webhook's key); `None`
    /// when it is not set. Never served over the API.
    pub async fn reveal_secret(&self, name: &str) -> Result<Option<Zeroizing<Vec<u8>>>> {
        self.shared.open_secret(name).await
    }

    /// Seals and saves a secret, audited as done by `actor`; returns its
    /// metadata and whether it was new.
    pub async fn put_secret(
        &self,
        name: &str,
        value: &[u8],
        description: Option<String>,
        actor: &str,
    ) -> Result<(SecretInfo, bool)> {
        validate_name(name).map_err(EngineError::BadRequest)?;
        if value.is_empty() {
            return Err(EngineError::BadRequest(
                "a secret value cannot be empty".into(),
            ));
        }
        if value.len() > MAX_SECRET_BYTES {
            return Err(EngineError::PayloadTooLarge {
                what: "the secret value".into(),
                size: value.len(),
                limit: MAX_SECRET_BYTES,
            });
        }
        if std::str::from_utf8(value).is_err() {
            return Err(EngineError::BadRequest(
                "a secret value must be UTF-8 text (encode binary values, e.g. as base64)".into(),
            ));
        }
        if let Some(description) = &description
            && description.len() > MAX_DESCRIPTION
        {
            return Err(EngineError::BadRequest(format!(
                "the description is over {MAX_DESCRIPTION} bytes"
            )));
        }
        let key = self.shared.master_key()?;
        let sealed = seal(key, name, value)
            .map_err(|e| EngineError::Config(e.to_string()))?
            .to_bytes();
        let now = self.shared.clock.now();
        let mut tx = self.shared.store.begin().await?;
        let existing = tx.secret_tx(name).await?;
        let created = existing.is_none();
        let record = SecretRecord {
            name: name.to_string(),
            sealed,
            description,
            created_at: existing.as_ref().map_or(now, |e| e.created_at),
            updated_at: now,
            updated_by: actor.to_string(),
        };
        tx.put_secret(&record).await?;
        tx.put_setting(KEY_FINGERPRINT, &key.fingerprint()).await?;
        tx.append_audit(&[AuditEntry::new(
            actor,
            action::SECRET_SET,
            format!("secret/{name}"),
            json!({ "created": created }),
        )
        .at(now)])
            .await?;
        tx.commit().await?;
        Ok((SecretInfo::from(&record), created))
    }

    /// Removes a secret, audited as done by `actor`.
    pub async fn delete_secret(&self, name: &str, actor: &str) -> Result<()> {
        let now = self.shared.clock.now();
        let mut tx = self.shared.store.begin().await?;
        if !tx.delete_secret(name).await? {
            return Err(EngineError::NotFound(format!("no secret `{name}`")));
        }
        tx.append_audit(&[AuditEntry::new(
            actor,
            action::SECRET_DELETE,
            format!("secret/{name}"),
            json!({}),
        )
        .at(now)])
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Every secret's metadata, by name.
    pub async fn secrets(&self) -> Result<Vec<SecretInfo>> {
        let records = self.shared.store.secrets().await?;
        Ok(records.iter().map(SecretInfo::from).collect())
    }
}

/// Seals every stored secret again under `new`, in one transaction, and
/// records `new`'s fingerprint: afterwards only `new` opens them. `old`
/// must be the key that sealed them. For a database no engine is running
/// on (`baton secret rekey` holds the data directory's lock). Returns how
/// many secrets were sealed again.
pub async fn rekey_secrets<S: Store>(
    store: &S,
    old: &MasterKey,
    new: &MasterKey,
    actor: &str,
    now: i64,
) -> Result<usize> {
    let config = |e: crate::secrets::SecretsError| EngineError::Config(e.to_string());
    let mut tx = store.begin().await?;
    if let Some(expected) = tx.setting(KEY_FINGERPRINT).await? {
        old.check_fingerprint(&expected).map_err(config)?;
    }
    let records = store.secrets().await?;
    for record in &records {
        let sealed = Sealed::from_bytes(&record.sealed).map_err(config)?;
        let value = open(old, &record.name, &sealed).map_err(config)?;
        let resealed = seal(new, &record.name, &value).map_err(config)?;
        tx.put_secret(&SecretRecord {
            sealed: resealed.to_bytes(),
            ..record.clone()
        })
        .await?;
    }
    tx.put_setting(KEY_FINGERPRINT, &new.fingerprint()).await?;
    tx.append_audit(&[AuditEntry::new(
        actor,
        action::SECRET_REKEY,
        "secrets".to_string(),
        json!({ "secrets": records.len(), "fingerprint": new.fingerprint() }),
    )
    .at(now)])
        .await?;
    tx.commit().await?;
    Ok(records.len())
}

/// Refuses to start with a master key other than the one that sealed the
/// stored secrets.
pub(crate) async fn check_key<S: Store>(shared: &Shared<S>) -> Result<()> {
    let Some(key) = shared.config.master_key.as_deref() else {
        return Ok(());
    };
    let mut tx = shared.store.begin().await?;
    let stored = tx.setting(KEY_FINGERPRINT).await?;
    drop(tx);
    match stored {
        Some(expected) => key
            .check_fingerprint(&expected)
            .map_err(|e| EngineError::Config(e.to_string())),
        None => Ok(()),
    }
}
