//! The capability provider of one plugin attempt: serves `secrets`, `kv`
//! and `events` within the plugin's grant, and remembers the secret values
//! it handed out so the worker can redact them from what the attempt
//! produced.
//!
//! Key-value state lives in the store under the plugin's name, so two
//! plugins never see each other's keys and every version of one plugin
//! shares its state. Emitted events go through the writer like ingested
//! ones (rules match them), with the run and step as their source.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};

use crate::grants::Grant;
use crate::secrets::Redactor;
use crate::store::{CapabilityTx, Store, StoreTx};
use crate::wasm::{CapabilityProvider, Emitted, KvReply, KvRequest, Refusal};

use super::Shared;
use super::worker::TaskKey;
use super::writer::Command;

/// Longest key-value key, in bytes.
pub const MAX_KV_KEY_BYTES: usize = 512;
/// Largest key-value value, in bytes.
pub const MAX_KV_VALUE_BYTES: usize = 1 << 20;
/// Most events one attempt may emit.
pub const MAX_EVENTS_PER_ATTEMPT: u32 = 1000;

/// What one attempt of one plugin may reach.
pub(crate) struct StepAccess<S: Store> {
    shared: Arc<Shared<S>>,
    commands: mpsc::WeakSender<Command>,
    grant: Arc<Grant>,
    plugin: String,
    key: TaskKey,
    attempt: i64,
    /// Secret values handed out or looked up for redaction, by name.
    read: Mutex<Vec<(String, zeroize::Zeroizing<String>)>>,
    emitted: AtomicU32,
}

impl<S: Store> StepAccess<S> {
    pub(crate) fn new(
        shared: Arc<Shared<S>>,
        commands: mpsc::WeakSender<Command>,
        grant: Arc<Grant>,
        plugin: &str,
        key: TaskKey,
        attempt: i64,
    ) -> StepAccess<S> {
        StepAccess {
            shared,
            commands,
            grant,
            plugin: plugin.to_string(),
            key,
            attempt,
            read: Mutex::new(Vec::new()),
            emitted: AtomicU32::new(0),
        }
    }

    /// Redacts the value of every secret granted to the plugin: those this
    /// attempt read, and the others too, since an earlier attempt may have
    /// kept one (in key-value state, say) for this one to repeat.
    pub(crate) async fn redactor(&self) -> Redactor {
        for name in &self.grant.secrets {
            let known = {
                let read = self.read.lock().unwrap_or_else(PoisonError::into_inner);
                read.iter().any(|(n, _)| n == name)
            };
            if known {
                continue;
            }
            match self.shared.open_secret(name).await {
                Ok(Some(value)) => {
                    if let Ok(text) = String::from_utf8(value.to_vec()) {
                        self.remember(name, text);
                    }
                }
                Ok(None) => {}
                Err(error) => {
                    tracing::error!(secret = %name, %error, "cannot open a secret to redact it");
                }
            }
        }
        let read = self.read.lock().unwrap_or_else(PoisonError::into_inner);
        Redactor::new(
            read.iter()
                .map(|(name, value)| (name.as_str(), value.as_bytes())),
        )
        .unwrap_or_else(|error| {
            tracing::error!(%error, "cannot build the secret redactor");
            Redactor::empty()
        })
    }

    fn not_granted(&self, what: &str) -> Refusal {
        Refusal::NotGranted(format!(
            "{what} is not granted to plugin `{}`; an administrator grants it with \
             `baton plugin grant`",
            self.plugin
        ))
    }

    async fn secret_value(&self, name: String) -> Result<String, Refusal> {
        if !self.grant.allows_secret(&name) {
            return Err(self.not_granted(&format!("secret {name:?}")));
        }
        let value = match self.shared.open_secret(&name).await {
            Ok(Some(value)) => value,
            Ok(None) => {
                return Err(Refusal::Unavailable(format!(
                    "secret {name:?} is granted but has no value; an administrator sets it \
                     with `baton secret set {name}`"
                )));
            }
            Err(error) => {
                tracing::error!(secret = %name, %error, "cannot open a secret");
                return Err(Refusal::Unavailable(format!(
                    "secret {name:?} cannot be read right now"
                )));
            }
        };
        let text = String::from_utf8(value.to_vec())
            .map_err(|_| Refusal::Unavailable(format!("secret {name:?} is not UTF-8 text")))?;
        self.remember(&name, text.clone());
        Ok(text)
    }

    /// Keeps a secret value handed out (or looked up) for redaction.
    fn remember(&self, name: &str, value: String) {
        let mut read = self.read.lock().unwrap_or_else(PoisonError::into_inner);
        if !read.iter().any(|(n, _)| n == name) {
            read.push((name.to_string(), zeroize::Zeroizing::new(value)));
        }
    }

    async fn kv_op(&self, request: KvRequest) -> Result<KvReply, Refusal> {
        let Some(kv) = self.grant.kv else {
            return Err(self.not_granted("key-value state (kv)"));
        };
        let key = match &request {
            KvRequest::Get(key) | KvRequest::Set(key, _) | KvRequest::Delete(key) => key,
            KvRequest::CompareAndSwap { key, .. } => key,
        };
        if key.is_empty() || key.len() > MAX_KV_KEY_BYTES {
            return Err(Refusal::Invalid(format!(
                "a key must be 1 to {MAX_KV_KEY_BYTES} bytes long"
            )));
        }
        if let KvRequest::Set(_, value) | KvRequest::CompareAndSwap { value, .. } = &request
            && value.len() > MAX_KV_VALUE_BYTES
        {
            return Err(Refusal::Invalid(format!(
                "a value may be at most {MAX_KV_VALUE_BYTES} bytes"
            )));
        }
        let quota = i64::try_from(kv.quota_bytes).unwrap_or(i64::MAX);
        self.kv_in_store(request, quota)
            .await
            .map_err(|error| match error {
                KvError::Refused(refusal) => refusal,
                KvError::Store(error) => {
                    tracing::error!(plugin = %self.plugin, %error, "a key-value operation failed");
                    Refusal::Unavailable("the key-value store is unavailable; try again".into())
                }
            })
    }

    async fn kv_in_store(&self, request: KvRequest, quota: i64) -> Result<KvReply, KvError> {
        let plugin = self.plugin.as_str();
        let now = self.shared.clock.now();
        let mut tx = self.shared.store.begin().await?;
        let reply = match request {
            KvRequest::Get(key) => KvReply::Value(tx.kv_get(plugin, &key).await?),
            KvRequest::Delete(key) => {
                // Keys are never empty, so removing one always shrinks the
                // usage.
                let (_, grew) = tx.kv_put(plugin, &key, None, now).await?;
                KvReply::Done(grew < 0)
            }
            KvRequest::Set(key, value) => {
                put_within(&mut tx, plugin, &key, &value, now, quota).await?;
                KvReply::Stored
            }
            KvRequest::CompareAndSwap {
                key,
                expected,
                value,
            } => {
                let current = tx.kv_get(plugin, &key).await?;
                if current != expected {
                    return Ok(KvReply::Done(false));
                }
                put_within(&mut tx, plugin, &key, &value, now, quota).await?;
                KvReply::Done(true)
            }
        };
        tx.commit().await?;
        Ok(reply)
    }

    async fn emit_event(&self, event: Emitted) -> Result<(), Refusal> {
        if !self.grant.allows_event(&event.kind) {
            return Err(self.not_granted(&format!("emitting events of type {:?}", event.kind)));
        }
        let limit = self.shared.config.max_payload_bytes;
        if event.data.len() > limit {
            return Err(Refusal::Invalid(format!(
                "the event data is {} bytes, over the limit of {limit} bytes",
                event.data.len()
            )));
        }
        let mut data: Value = serde_json::from_str(&event.data)
            .map_err(|e| Refusal::Invalid(format!("the event data is not JSON: {e}")))?;
        let n = self.emitted.fetch_add(1, Ordering::Relaxed) + 1;
        if n > MAX_EVENTS_PER_ATTEMPT {
            return Err(Refusal::QuotaExceeded(format!(
                "an attempt may emit at most {MAX_EVENTS_PER_ATTEMPT} events"
            )));
        }
        let redactor = self.redactor().await;
        redactor.redact_json(&mut data);
        let subject = event.subject.map(|s| redactor.redact_str(&s).into_owned());
        let mut source = format!("/runs/{}/steps/{}", self.key.run_id, self.key.step_id);
        if self.key.item >= 0 {
            source.push_str(&format!("/items/{}", self.key.item));
        }
        let mut document = json!({
            "specversion": "1.0",
            // Stable across a replay of the same attempt, so a redelivery
            // is recognised as one.
            "id": format!("{}.{n}", self.attempt),
            "source": source,
            "type": event.kind,
            "datacontenttype": "application/json",
            "data": data,
        });
        if let Some(subject) = subject {
            document["subject"] = Value::String(subject);
        }
        let parsed = crate::events::cloudevents::from_json(document, "")
            .map_err(|problem| Refusal::Invalid(problem.to_string()))?;
        let mut record = parsed.into_record(&format!("plugin:{}", self.plugin));
        record.received_at = self.shared.clock.now();
        let Some(commands) = self.commands.upgrade() else {
            return Err(Refusal::Unavailable("the engine is shutting down".into()));
        };
        let (reply, answer) = oneshot::channel();
        if commands
            .send(Command::Ingest(vec![record], reply))
            .await
            .is_err()
        {
            return Err(Refusal::Unavailable("the engine is shutting down".into()));
        }
        match answer.await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(error)) => {
                tracing::error!(plugin = %self.plugin, %error, "an emitted event was not stored");
                Err(Refusal::Unavailable(format!(
                    "the event was not stored: {error}"
                )))
            }
            Err(_) => Err(Refusal::Unavailable("the engine is shutting down".into())),
        }
    }
}

/// Why a key-value operation did not complete.
enum KvError {
    Refused(Refusal),
    Store(crate::store::StoreError),
}

impl From<crate::store::StoreError> for KvError {
    fn from(error: crate::store::StoreError) -> Self {
        KvError::Store(error)
    }
}

/// Stores a value unless that takes the plugin over its quota (the
/// transaction is then dropped, which undoes the write).
async fn put_within<T: StoreTx>(
    tx: &mut T,
    plugin: &str,
    key: &str,
    value: &[u8],
    now: i64,
    quota: i64,
) -> Result<(), KvError> {
    let (after, grew) = tx.kv_put(plugin, key, Some(value), now).await?;
    if after > quota && grew > 0 {
        return Err(KvError::Refused(Refusal::QuotaExceeded(format!(
            "storing {} bytes under this key would take the plugin's key-value state to \
             {after} bytes, over its quota of {quota} bytes",
            key.len() + value.len()
        ))));
    }
    Ok(())
}

impl<S: Store> CapabilityProvider for StepAccess<S> {
    fn secret(&self, name: String) -> BoxFuture<'_, Result<String, Refusal>> {
        self.secret_value(name).boxed()
    }

    fn kv(&self, request: KvRequest) -> BoxFuture<'_, Result<KvReply, Refusal>> {
        self.kv_op(request).boxed()
    }

    fn emit(&self, event: Emitted) -> BoxFuture<'_, Result<(), Refusal>> {
        self.emit_event(event).boxed()
    }
}
