//! The JSON bodies of the API, as documented in the OpenAPI document, and
//! their conversion from store records. Times are RFC 3339 strings.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use crate::engine::clock::rfc3339;
use crate::store::{
    AuditRecord, PluginRecord, RunRecord, TokenRecord, WorkflowRecord, WorkflowVersionRecord,
};

fn parse(text: Option<&str>) -> Option<Value> {
    text.and_then(|t| serde_json::from_str(t).ok())
}

/// A plugin version.
#[derive(Debug, Serialize, ToSchema)]
pub struct PluginView {
    /// Name.
    pub name: String,
    /// Version (semver).
    pub version: String,
    /// sha256 of the component, hex.
    pub digest: String,
    /// From its description.
    pub description: String,
    /// What the plugin asks for in its description (hosts, secrets, kv,
    /// events). Nothing is granted by asking.
    #[schema(value_type = Object)]
    pub capabilities: Value,
    /// What an administrator granted this version (its own grant, else the
    /// plugin-wide one); `null` when nothing is granted.
    pub granted: Option<crate::grants::Grant>,
    /// Whether `granted` is this version's own grant (`version`), the
    /// plugin-wide one (`plugin`) or absent (`none`).
    pub grant_scope: String,
    /// JSON Schema of its input.
    #[schema(value_type = Object)]
    pub input_schema: Value,
    /// JSON Schema of its output.
    #[schema(value_type = Object)]
    pub output_schema: Value,
    /// When it was uploaded.
    pub created_at: String,
}

impl From<&PluginRecord> for PluginView {
    fn from(record: &PluginRecord) -> PluginView {
        let info = parse(Some(&record.info)).unwrap_or(Value::Null);
        let field = |name: &str| info.get(name).cloned().unwrap_or(Value::Null);
        PluginView {
            name: record.name.clone(),
            version: record.version.clone(),
            digest: record.digest.clone(),
            description: info
                .get("description")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            capabilities: field("capabilities"),
            granted: None,
            grant_scope: "none".into(),
            input_schema: field("input_schema"),
            output_schema: field("output_schema"),
            created_at: rfc3339(record.created_at),
        }
    }
}

/// Which grant of a plugin.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GrantQuery {
    /// One version's grant instead of the plugin-wide one.
    pub version: Option<String>,
}

/// The body of `PUT /v1/secrets/{name}`. Its `Debug` hides the value.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutSecret {
    /// The value (UTF-8 text, at most 64 KiB). Never returned.
    pub value: String,
    /// What it is for.
    #[serde(default)]
    pub description: Option<String>,
}

impl std::fmt::Debug for PutSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PutSecret")
            .field("value", &"[secret]")
            .field("description", &self.description)
            .finish()
    }
}

impl PluginView {
    /// With the grant in force for this version.
    pub fn with_grant<S: crate::store::Store>(mut self, engine: &crate::engine::Engine<S>) -> Self {
        if let Some((grant, own)) = engine.grant_of(&self.name, &self.version) {
            self.granted = Some((*grant).clone());
            self.grant_scope = if own { "version" } else { "plugin" }.into();
        }
        self
    }
}

/// Query of a plugin upload.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UploadQuery {
    /// Register under this name instead of the one the plugin describes.
    pub name: Option<String>,
    /// Register as this version instead of the one the plugin describes.
    pub version: Option<String>,
}

/// A workflow.
#[derive(Debug, Serialize, ToSchema)]
pub struct WorkflowView {
    /// Name.
    pub name: String,
    /// Its newest version.
    pub latest_version: i64,
    /// When the first version was saved.
    pub created_at: String,
    /// When the newest version was saved.
    pub updated_at: String,
}

impl From<&WorkflowRecord> for WorkflowView {
    fn from(record: &WorkflowRecord) -> WorkflowView {
        WorkflowView {
            name: record.name.clone(),
            latest_version: record.latest_version,
            created_at: rfc3339(record.created_at),
            updated_at: rfc3339(record.updated_at),
        }
    }
}

/// One saved version of a workflow.
#[derive(Debug, Serialize, ToSchema)]
pub struct WorkflowVersionView {
    /// Workflow name.
    pub name: String,
    /// Version number, from 1.
    pub version: i64,
    /// The normalised definition (every plugin pinned to a version).
    #[schema(value_type = Object)]
    pub definition: Value,
    /// The document as it was submitted.
    pub source: String,
    /// When it was saved.
    pub created_at: String,
}

impl From<&WorkflowVersionRecord> for WorkflowVersionView {
    fn from(record: &WorkflowVersionRecord) -> WorkflowVersionView {
        WorkflowVersionView {
            name: record.workflow.clone(),
            version: record.version,
            definition: parse(Some(&record.definition)).unwrap_or(Value::Null),
            source: record.source.clone(),
            created_at: rfc3339(record.created_at),
        }
    }
}

/// A version in a workflow's history (without its document).
#[derive(Debug, Serialize, ToSchema)]
pub struct VersionSummary {
    /// Version number.
    pub version: i64,
    /// When it was saved.
    pub created_at: String,
}

/// Query of a workflow read.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct VersionQuery {
    /// A version number; the newest without it.
    pub version: Option<i64>,
}

/// The body of a run start.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartRequest {
    /// The run's input, checked against the workflow's input schema.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub input: Value,
    /// Start this version instead of the newest.
    pub version: Option<i64>,
}

/// A run without its steps.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunView {
    /// Run id (a UUIDv7).
    pub id: String,
    /// Workflow name.
    pub workflow: String,
    /// The version it is pinned to.
    pub version: i64,
    /// `running`, `compensating`, `succeeded`, `failed` or `cancelled`.
    pub status: String,
    /// Its input.
    #[schema(value_type = Object)]
    pub input: Value,
    /// Its output, once succeeded.
    #[schema(value_type = Object)]
    pub output: Option<Value>,
    /// What failed or cancelled it.
    #[schema(value_type = Object)]
    pub error: Option<Value>,
    /// The idempotency key it was started with.
    pub idempotency_key: Option<String>,
    /// The run that started it, for child runs.
    pub parent_run: Option<String>,
    /// Who or what started it: `token:<name>`, `rule:<name>`,
    /// `schedule:<name>`, `run:<parent id>` or `local`.
    pub started_by: String,
    /// The event that started it, when a rule did.
    pub event_seq: Option<i64>,
    /// When it started.
    pub created_at: String,
    /// When it ended.
    pub finished_at: Option<String>,
}

impl From<&RunRecord> for RunView {
    fn from(run: &RunRecord) -> RunView {
        RunView {
            id: run.id.clone(),
            workflow: run.workflow.clone(),
            version: run.version,
            status: run.status.as_str().into(),
            input: parse(Some(&run.input)).unwrap_or(Value::Null),
            output: parse(run.output.as_deref()),
            error: parse(run.error.as_deref()),
            idempotency_key: run.idempotency_key.clone(),
            parent_run: run.parent_run.clone(),
            started_by: run.started_by.clone(),
            event_seq: run.event_seq,
            created_at: rfc3339(run.created_at),
            finished_at: run.finished_at.map(rfc3339),
        }
    }
}

/// Filters of a run listing.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RunsQuery {
    /// Only runs of this workflow.
    pub workflow: Option<String>,
    /// Only runs with this status.
    pub status: Option<String>,
    /// Only runs started at or after this time (RFC 3339).
    pub since: Option<String>,
    /// Only runs started before this time (RFC 3339).
    pub until: Option<String>,
    /// Page size, 1 to 500 (default 50).
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// A page of runs, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunPage {
    /// The runs.
    pub runs: Vec<RunView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// Filter of a run's logs.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct LogsQuery {
    /// Only this step's lines.
    pub step: Option<String>,
}

/// One log line of one attempt.
#[derive(Debug, Serialize, ToSchema)]
pub struct LogLineView {
    /// Step id.
    pub step: String,
    /// for_each element.
    pub item: Option<i64>,
    /// Attempt number.
    pub attempt: i64,
    /// Microseconds since the attempt started.
    pub elapsed_us: u64,
    /// `trace`, `debug`, `info`, `warn` or `error`.
    pub level: String,
    /// `plugin` (the log import), `stdout` or `stderr`.
    pub source: String,
    /// The text.
    pub message: String,
}

/// Log lines of a run, in the order its attempts started.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunLogs {
    /// Run id.
    pub run_id: String,
    /// The lines.
    pub lines: Vec<LogLineView>,
    /// Lines attempts dropped over the per-attempt cap.
    pub dropped: i64,
}

/// The body of a token creation.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    /// Unique among live tokens.
    pub name: String,
    /// `admin`, `operator` or `viewer`.
    pub role: String,
}

/// A token (never its secret).
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenView {
    /// Name.
    pub name: String,
    /// Role.
    pub role: String,
    /// The token that created it.
    pub created_by: String,
    /// When.
    pub created_at: String,
    /// When it was revoked.
    pub revoked_at: Option<String>,
}

impl From<&TokenRecord> for TokenView {
    fn from(token: &TokenRecord) -> TokenView {
        TokenView {
            name: token.name.clone(),
            role: token.role.as_str().into(),
            created_by: token.created_by.clone(),
            created_at: rfc3339(token.created_at),
            revoked_at: token.revoked_at.map(rfc3339),
        }
    }
}

/// A new token: the only time its secret is shown.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedToken {
    /// Name.
    pub name: String,
    /// Role.
    pub role: String,
    /// The secret; store it now, it cannot be shown again.
    pub token: String,
}

/// Liveness or readiness.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`, or `unavailable` with a reason.
    pub status: String,
    /// Why it is not ready.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// Filters of an audit listing (also what the client sends).
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditParams {
    /// Only entries of this actor, such as `token:ci`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// Only entries whose action starts with this, such as `plugin.`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// Only entries whose target starts with this, such as `token/`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Only entries at or after this time (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    /// Only entries before this time (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
    /// Page size, 1 to 500 (default 50).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

/// A page of the audit trail, oldest first. Entries are as stored (`at` in
/// ms since the epoch), so their hashes can be checked again.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AuditPage {
    /// The entries.
    pub entries: Vec<AuditRecord>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}
