//! What plugin capabilities keep: grants, sealed secrets, settings and
//! key-value state. Writes happen in a [`StoreTx`](super::StoreTx) with the
//! audit entry of the change; [`CapabilityReads`] serve the API and the
//! invocations.

use std::future::Future;

use super::Result;

/// A saved grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantRecord {
    /// The plugin name.
    pub plugin: String,
    /// One version, or `None` for every version.
    pub version: Option<String>,
    /// The grant document (JSON).
    pub grant: String,
    /// When it was saved (ms).
    pub updated_at: i64,
    /// Who saved it.
    pub updated_by: String,
}

/// A stored secret, its value sealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretRecord {
    /// Its name.
    pub name: String,
    /// The value, encrypted (see `crate::secrets`).
    pub sealed: Vec<u8>,
    /// What it is for.
    pub description: Option<String>,
    /// When it was first saved (ms).
    pub created_at: i64,
    /// When its value last changed (ms).
    pub updated_at: i64,
    /// Who saved it last.
    pub updated_by: String,
}

/// Writes, inside the transaction.
pub trait CapabilityTx: Send {
    /// Saves a grant (replacing the one for the same plugin and version).
    fn put_grant(&mut self, record: &GrantRecord) -> impl Future<Output = Result<()>> + Send;
    /// Removes a grant; whether it existed.
    fn delete_grant(
        &mut self,
        plugin: &str,
        version: Option<&str>,
    ) -> impl Future<Output = Result<bool>> + Send;
    /// A secret, inside the transaction.
    fn secret_tx(
        &mut self,
        name: &str,
    ) -> impl Future<Output = Result<Option<SecretRecord>>> + Send;
    /// Saves a secret.
    fn put_secret(&mut self, record: &SecretRecord) -> impl Future<Output = Result<()>> + Send;
    /// Removes a secret; whether it existed.
    fn delete_secret(&mut self, name: &str) -> impl Future<Output = Result<bool>> + Send;
    /// A setting.
    fn setting(&mut self, name: &str) -> impl Future<Output = Result<Option<String>>> + Send;
    /// Saves a setting.
    fn put_setting(&mut self, name: &str, value: &str) -> impl Future<Output = Result<()>> + Send;
    /// The value under a plugin's key.
    fn kv_get(
        &mut self,
        plugin: &str,
        key: &str,
    ) -> impl Future<Output = Result<Option<Vec<u8>>>> + Send;
    /// Stores a value (`None` removes the key) and keeps the plugin's usage
    /// in step; returns the usage after the change and by how much the
    /// change grew it, in bytes.
    fn kv_put(
        &mut self,
        plugin: &str,
        key: &str,
        value: Option<&[u8]>,
        now: i64,
    ) -> impl Future<Output = Result<(i64, i64)>> + Send;
}

/// Reads, outside any transaction.
pub trait CapabilityReads: Send + Sync {
    /// Every grant of a plugin (every plugin when `None`).
    fn grants(&self, plugin: Option<&str>)
    -> impl Future<Output = Result<Vec<GrantRecord>>> + Send;
    /// Every secret, by name (sealed values included: callers must not
    /// show them).
    fn secrets(&self) -> impl Future<Output = Result<Vec<SecretRecord>>> + Send;
    /// One secret.
    fn secret(&self, name: &str) -> impl Future<Output = Result<Option<SecretRecord>>> + Send;
}
