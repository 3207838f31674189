//! What the HTTP API reads and writes beyond the engine's own records:
//! listings with filters and cursors, plugin deletion, access tokens and
//! the audit trail.
//!
//! These operations never touch run state, so they do not go through the
//! engine's writer; each is one short transaction (or one read) of its own,
//! and each write appends its audit entry in that transaction.

use std::future::Future;

use serde::Serialize;

use super::{
    AuditQuery, AuditRecord, EventRecord, PluginRecord, Result, RunRecord, RunStatus, Store,
    WorkflowVersionRecord,
};

/// A workflow and its newest version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WorkflowRecord {
    /// Name.
    pub name: String,
    /// The newest version.
    pub latest_version: i64,
    /// When the first version was saved.
    pub created_at: i64,
    /// When the newest version was saved.
    pub updated_at: i64,
}

/// A filter over runs, newest first.
#[derive(Debug, Clone, Default)]
pub struct RunQuery {
    /// Only runs of this workflow.
    pub workflow: Option<String>,
    /// Only runs with this status.
    pub status: Option<RunStatus>,
    /// Only runs created at or after this time (ms).
    pub since: Option<i64>,
    /// Only runs created before this time (ms).
    pub until: Option<i64>,
    /// Only runs older than this one (a page's cursor): (created_at, id).
    pub before: Option<(i64, String)>,
    /// Page size.
    pub limit: u32,
}

/// A filter over events, newest first.
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    /// Only events of this type.
    pub kind: Option<String>,
    /// Only events from this source.
    pub source: Option<String>,
    /// Only events about this subject.
    pub subject: Option<String>,
    /// Only events stored before this one (a page's cursor).
    pub before: Option<i64>,
    /// Page size.
    pub limit: u32,
}

/// Why a plugin version could not be deleted, or that it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PluginDeletion {
    /// Gone.
    Deleted,
    /// There is no such version.
    NotFound,
    /// Saved workflow versions pin it: (workflow, version).
    InUse(Vec<(String, i64)>),
}

/// The role a token grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Read only.
    Viewer,
    /// Workflows and runs.
    Operator,
    /// Everything: plugins, tokens.
    Admin,
}

impl Role {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = String;

    fn from_str(text: &str) -> std::result::Result<Role, String> {
        match text {
            "viewer" => Ok(Role::Viewer),
            "operator" => Ok(Role::Operator),
            "admin" => Ok(Role::Admin),
            other => Err(format!(
                "unknown role `{other}` (expected admin, operator or viewer)"
            )),
        }
    }
}

/// An access token, as stored: its secret part only as a hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    /// Unique among tokens that are not revoked.
    pub name: String,
    /// What it may do.
    pub role: Role,
    /// sha256 of the token, hex.
    pub hash: String,
    /// Who created it (a token name; `baton` for the first admin token).
    pub created_by: String,
    /// When.
    pub created_at: i64,
    /// When it was revoked.
    pub revoked_at: Option<i64>,
}

/// Registry and access reads and writes for the HTTP API.
pub trait ApiStore: Store {
    /// Checks that the database answers and its schema is current.
    fn ready(&self) -> impl Future<Output = Result<()>> + Send;
    /// Every workflow, by name.
    fn workflows(&self) -> impl Future<Output = Result<Vec<WorkflowRecord>>> + Send;
    /// Every version of a workflow, oldest first.
    fn workflow_history(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Vec<WorkflowVersionRecord>>> + Send;
    /// Runs matching a query, newest first.
    fn query_runs(&self, query: &RunQuery) -> impl Future<Output = Result<Vec<RunRecord>>> + Send;
    /// Every version of a plugin, oldest first.
    fn plugin_versions(&self, name: &str)
    -> impl Future<Output = Result<Vec<PluginRecord>>> + Send;
    /// Deletes a plugin version (and its component, if nothing else uses
    /// it) unless a saved workflow version pins it; audited as
    /// `plugin.delete` by `actor` at `now`.
    fn delete_plugin(
        &self,
        name: &str,
        version: &str,
        actor: &str,
        now: i64,
    ) -> impl Future<Output = Result<PluginDeletion>> + Send;
    /// Events matching a query, newest first.
    fn query_events(
        &self,
        query: &EventQuery,
    ) -> impl Future<Output = Result<Vec<EventRecord>>> + Send;
    /// One event by its `seq`.
    fn event(&self, seq: i64) -> impl Future<Output = Result<Option<EventRecord>>> + Send;
    /// Ready rows due by `now`: the queue's depth.
    fn queue_depth(&self, now: i64) -> impl Future<Output = Result<i64>> + Send;

    /// Whether any token was ever created.
    fn has_tokens(&self) -> impl Future<Output = Result<bool>> + Send;
    /// Adds a token; a live token with the same name is a conflict.
    /// Audited as `token.create` by `actor` at the token's `created_at`.
    fn insert_token(
        &self,
        token: &TokenRecord,
        actor: &str,
    ) -> impl Future<Output = Result<()>> + Send;
    /// The live token with this hash.
    fn token_by_hash(&self, hash: &str)
    -> impl Future<Output = Result<Option<TokenRecord>>> + Send;
    /// Every token, live and revoked.
    fn tokens(&self) -> impl Future<Output = Result<Vec<TokenRecord>>> + Send;
    /// Revokes the live token with this name; false if there is none.
    /// Audited as `token.revoke` by `actor` at `now`.
    fn revoke_token(
        &self,
        name: &str,
        actor: &str,
        now: i64,
    ) -> impl Future<Output = Result<bool>> + Send;

    /// Audit entries matching a query, oldest first.
    fn query_audit(
        &self,
        query: &AuditQuery,
    ) -> impl Future<Output = Result<Vec<AuditRecord>>> + Send;
}
