//! The command-line grammar, as clap types. Parsing only: no behaviour.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

mod capabilities;

pub(crate) use capabilities::*;

/// Baton: service orchestration with sandboxed WebAssembly steps.
#[derive(Debug, Parser)]
#[command(name = "baton", version, about, propagate_version = true)]
pub(crate) struct Cli {
    /// Write Baton's own diagnostics as JSON lines (filter with BATON_LOG).
    #[arg(long, global = true)]
    pub log_json: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Work with plugin components locally.
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// Validate and run workflows in an embedded database.
    #[command(subcommand)]
    Workflow(WorkflowCommand),
    /// Run the Baton server: the HTTP API on a data directory.
    ///
    /// Everything is kept under the data directory (default
    /// `./baton-data`). On first start it creates an admin token, prints it
    /// once and writes it to `<data-dir>/admin-token` (mode 0600).
    Serve(ServeArgs),
    /// Start, list, follow and manage runs on a server.
    #[command(subcommand)]
    Run(RunCommand),
    /// Manage access tokens on a server (admin).
    #[command(subcommand)]
    Token(TokenCommand),
    /// Read and verify the audit trail on a server (admin).
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Save a file of workflows, rules, schedules, policies and webhooks on
    /// a server: every document is checked, then all changes are saved at
    /// once, or none.
    ///
    /// Prints what happened to each document (created, updated or
    /// unchanged). Exit status: 0 saved (or checked, with --dry-run), 2 bad
    /// usage, 3 refused (each problem is printed with its path), 4 the
    /// server could not be reached.
    Apply(ResourceApplyArgs),
    /// List the resources of a kind on a server, or show one.
    Get(GetArgs),
    /// Delete a rule, schedule, policy or webhook on a server.
    Delete(DeleteArgs),
    /// List, show, approve and reject approvals on a server.
    #[command(subcommand)]
    Approval(ApprovalCommand),
    /// Save, list and remove the secrets plugins may read, on a server.
    ///
    /// Values go in and never come out: no command prints one. A plugin
    /// reads only the secrets its grant names (`baton plugin grant
    /// --secret`).
    #[command(subcommand)]
    Secret(SecretCommand),
}

/// How to reach a server.
#[derive(Debug, Args)]
pub(crate) struct Remote {
    /// The server's URL.
    #[arg(long, env = "BATON_URL", default_value = "http://127.0.0.1:8080")]
    pub url: String,

    /// An API token.
    #[arg(long, env = "BATON_TOKEN", hide_env_values = true)]
    pub token: Option<String>,

    /// Print the server's JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum RunCommand {
    /// Start a run of a workflow and print it (with --watch, follow it).
    Start(RunStartArgs),
    /// List runs, newest first.
    List(RunListArgs),
    /// Show a run with its steps.
    Show(RunIdArgs),
    /// Print a run's log lines.
    Logs(RunLogsArgs),
    /// Cancel a run.
    Cancel(RunIdArgs),
    /// Retry a failed or cancelled run from the steps that did not succeed.
    Retry(RunIdArgs),
    /// Follow a run's steps live until it ends.
    ///
    /// Exit status: 0 it succeeded, 1 it failed or was cancelled.
    Watch(RunIdArgs),
}

#[derive(Debug, Args)]
pub(crate) struct RunStartArgs {
    /// Workflow name.
    pub workflow: String,

    /// The run's input, as JSON.
    #[arg(long, default_value = "{}", conflicts_with = "input_file")]
    pub input: String,

    /// Read the input from this file ('-' for stdin).
    #[arg(long)]
    pub input_file: Option<PathBuf>,

    /// Start this version of the workflow instead of the newest.
    #[arg(long, value_name = "N")]
    pub workflow_version: Option<i64>,

    /// Starting again with the same key returns the same run.
    #[arg(long)]
    pub idempotency_key: Option<String>,

    /// Follow the run until it ends (exit status as for `run watch`).
    #[arg(long)]
    pub watch: bool,

    #[command(flatten)]
    pub remote: Remote,
}

#[derive(Debug, Args)]
pub(crate) struct RunListArgs {
    /// Only runs of this workflow.
    #[arg(long)]
    pub workflow: Option<String>,

    /// Only runs with this status.
    #[arg(long)]
    pub status: Option<String>,

    /// At most this many runs.
    #[arg(long, default_value_t = 50)]
    pub limit: u32,

    /// Continue after a previous listing (its `next_cursor`).
    #[arg(long)]
    pub cursor: Option<String>,

    #[command(flatten)]
    pub remote: Remote,
}

#[derive(Debug, Args)]
pub(crate) struct RunIdArgs {
    /// Run id.
    pub id: String,

    #[command(flatten)]
    pub remote: Remote,
}

#[derive(Debug, Args)]
pub(crate) struct RunLogsArgs {
    /// Run id.
    pub id: String,

    /// Only this step's lines.
    #[arg(long)]
    pub step: Option<String>,

    #[command(flatten)]
    pub remote: Remote,
}

#[derive(Debug, Subcommand)]
pub(crate) enum TokenCommand {
    /// Create a token and print it (shown only once).
    Create(TokenCreateArgs),
    /// List tokens (never their secrets).
    List(RemoteOnly),
    /// Revoke a token; it stops working at once.
    Revoke(TokenRevokeArgs),
}

#[derive(Debug, Args)]
pub(crate) struct TokenCreateArgs {
    /// Unique among live tokens.
    #[arg(long)]
    pub name: String,

    /// admin, operator or viewer.
    #[arg(long)]
    pub role: String,

    #[command(flatten)]
    pub remote: Remote,
}

#[derive(Debug, Args)]
pub(crate) struct TokenRevokeArgs {
    /// The token's name.
    pub name: String,

    #[command(flatten)]
    pub remote: Remote,
}

#[derive(Debug, Subcommand)]
pub(crate) enum AuditCommand {
    /// List audit entries, oldest first.
    List(AuditListArgs),
    /// Check the whole trail's hash chain and name the first broken entry.
    ///
    /// Exit status: 0 intact, 1 broken.
    Verify(RemoteOnly),
}

#[derive(Debug, Args)]
pub(crate) struct AuditListArgs {
    /// Only entries of this actor, such as `token:ci`.
    #[arg(long)]
    pub actor: Option<String>,

    /// Only entries whose action starts with this, such as `plugin.`.
    #[arg(long)]
    pub action: Option<String>,

    /// Only entries whose target starts with this, such as `token/`.
    #[arg(long)]
    pub target: Option<String>,

    /// Only entries at or after this time (RFC 3339).
    #[arg(long)]
    pub since: Option<String>,

    /// Only entries before this time (RFC 3339).
    #[arg(long)]
    pub until: Option<String>,

    /// At most this many entries.
    #[arg(long, default_value_t = 50)]
    pub limit: u32,

    /// Continue after a previous listing (its `next_cursor`).
    #[arg(long)]
    pub cursor: Option<String>,

    #[command(flatten)]
    pub remote: Remote,
}

#[derive(Debug, Args)]
pub(crate) struct ResourceApplyArgs {
    /// The file (YAML documents separated by `---`, or JSON); '-' for
    /// stdin.
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub file: PathBuf,

    /// Only check the file and print what would change.
    #[arg(long)]
    pub dry_run: bool,

    #[command(flatten)]
    pub remote: Remote,
}

/// A kind of resource on the command line (singular or plural).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum ResourceKindArg {
    /// Workflows.
    #[value(name = "workflows", alias = "workflow")]
    Workflows,
    /// Rules.
    #[value(name = "rules", alias = "rule")]
    Rules,
    /// Schedules.
    #[value(name = "schedules", alias = "schedule")]
    Schedules,
    /// Policies.
    #[value(name = "policies", alias = "policy")]
    Policies,
    /// Webhooks.
    #[value(name = "webhooks", alias = "webhook")]
    Webhooks,
}

#[derive(Debug, Args)]
pub(crate) struct GetArgs {
    /// The kind: workflows, rules, schedules, policies or webhooks
    /// (singular works too).
    #[arg(value_enum)]
    pub kind: ResourceKindArg,

    /// Show this one instead of listing them all.
    pub name: Option<String>,

    #[command(flatten)]
    pub remote: Remote,
}

#[derive(Debug, Args)]
pub(crate) struct DeleteArgs {
    /// The kind: rules, schedules, policies or webhooks (workflows keep
    /// their versions and are not deleted).
    #[arg(value_enum)]
    pub kind: ResourceKindArg,

    /// Its name.
    pub name: String,

    #[command(flatten)]
    pub remote: Remote,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ApprovalCommand {
    /// List approvals, oldest first.
    List(ApprovalListArgs),
    /// Show one approval.
    Show(ApprovalIdArgs),
    /// Approve: the run goes on.
    Approve(DecisionArgs),
    /// Reject: the step (or the run) does not go ahead.
    Reject(DecisionArgs),
}

#[derive(Debug, Args)]
pub(crate) struct ApprovalListArgs {
    /// Only approvals with this status: pending, approved, rejected,
    /// expired or cancelled.
    #[arg(long)]
    pub status: Option<String>,

    /// Only approvals of this run.
    #[arg(long, value_name = "ID")]
    pub run: Option<String>,

    /// Continue after a previous listing (its `next_cursor`).
    #[arg(long)]
    pub cursor: Option<String>,

    #[command(flatten)]
    pub remote: Remote,
}

#[derive(Debug, Args)]
pub(crate) struct ApprovalIdArgs {
    /// Approval id.
    pub id: String,

    #[command(flatten)]
    pub remote: Remote,
}

#[derive(Debug, Args)]
pub(crate) struct DecisionArgs {
    /// Approval id.
    pub id: String,

    /// Why, kept with the decision.
    #[arg(long, value_name = "TEXT")]
    pub comment: Option<String>,

    #[command(flatten)]
    pub remote: Remote,
}

#[derive(Debug, Args)]
pub(crate) struct RemoteOnly {
    #[command(flatten)]
    pub remote: Remote,
}

#[derive(Debug, Args)]
pub(crate) struct PushArgs {
    /// The component (.wasm).
    pub file: PathBuf,

    /// Register under this name instead of the one it describes.
    #[arg(long)]
    pub name: Option<String>,

    /// Register as this version instead of the one it describes.
    #[arg(long = "as-version", value_name = "VERSION")]
    pub as_version: Option<String>,

    #[command(flatten)]
    pub remote: Remote,
}

#[derive(Debug, Args)]
pub(crate) struct PluginShowArgs {
    /// `name` (every version) or `name@version`.
    pub plugin: String,

    /// One version, the same as `name@version`: shows what it requests
    /// next to what it is granted.
    #[arg(value_name = "VERSION")]
    pub plugin_version: Option<String>,

    #[command(flatten)]
    pub remote: Remote,
}

#[derive(Debug, Args)]
pub(crate) struct ApplyArgs {
    /// The workflow file (YAML or JSON); saved under the name it gives.
    pub file: PathBuf,

    #[command(flatten)]
    pub remote: Remote,
}

#[derive(Debug, Args)]
pub(crate) struct WorkflowShowArgs {
    /// Workflow name.
    pub name: String,

    /// A version; the newest without it.
    #[arg(long, value_name = "N")]
    pub workflow_version: Option<i64>,

    #[command(flatten)]
    pub remote: Remote,
}

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Address to listen on (loopback by default; port 0 picks a free one).
    #[arg(long, env = "BATON_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: std::net::SocketAddr,

    /// Database URL; reserved for PostgreSQL, which is not supported yet.
    /// Without it the database is `<data-dir>/baton.db`.
    #[arg(long, env = "BATON_DATABASE_URL")]
    pub database_url: Option<String>,

    /// Largest JSON or YAML request body, such as 1MiB.
    #[arg(long, env = "BATON_MAX_BODY", default_value = "1MiB", value_parser = parse_size)]
    pub max_body: u64,

    /// Largest plugin upload, such as 32MiB.
    #[arg(long, env = "BATON_MAX_PLUGIN", default_value = "32MiB", value_parser = parse_size)]
    pub max_plugin: u64,

    /// At shutdown, how long running steps may take to finish.
    #[arg(long, env = "BATON_GRACE", default_value = "30s", value_parser = parse_duration)]
    pub grace: Duration,

    #[command(flatten)]
    pub engine: EngineArgs,
}

#[derive(Debug, Subcommand)]
pub(crate) enum WorkflowCommand {
    /// Run a workflow to completion in an embedded database, showing each
    /// step's state as it changes, then print the run's output.
    ///
    /// Exit status: 0 every run succeeded, 1 a run failed or was cancelled,
    /// 2 bad usage, 3 the workflow, an input or a plugin was refused.
    Run(WorkflowRunArgs),
    /// Finish the runs a stopped process left in a data directory.
    Resume(ResumeArgs),
    /// Check a workflow file against the given plugins, without running it.
    Validate(ValidateArgs),
    /// Save a workflow file on a server as a new version.
    Apply(ApplyArgs),
    /// List the workflows on a server.
    List(RemoteOnly),
    /// Show a workflow version on a server.
    Show(WorkflowShowArgs),
}

#[derive(Debug, Args)]
pub(crate) struct EngineArgs {
    /// Keep the database here (created if missing) instead of in a
    /// temporary directory removed at exit.
    #[arg(long, env = "BATON_DATA_DIR")]
    pub data_dir: Option<PathBuf>,

    /// Directory for compiled artifacts [default: <data-dir>/cache, or
    /// $XDG_CACHE_HOME/baton without a data dir].
    #[arg(long, env = "BATON_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,

    /// Plugin steps running at once.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=4096))]
    pub concurrency: u64,

    /// How long a step stays leased without renewal before another process
    /// may take it over.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub lease: Duration,

    /// Largest run input, step input or step output stored, such as 1MiB;
    /// a larger one fails with `payload-too-large` instead of being cut.
    #[arg(long, default_value = "1MiB", value_parser = parse_size)]
    pub max_payload: u64,

    /// PEM file of certificate authorities that plugins' `https` requests
    /// trust besides the Mozilla roots (a private CA of internal services).
    #[arg(long, env = "BATON_CA_FILE")]
    pub ca_file: Option<PathBuf>,

    /// Do not print step progress on stderr.
    #[arg(long, short)]
    pub quiet: bool,

    /// Print results as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct PluginFiles {
    /// A plugin the workflow uses, as `name=file.wasm` (or just the file);
    /// repeat for each plugin.
    #[arg(long = "plugin", value_name = "NAME=FILE")]
    pub plugins: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct WorkflowRunArgs {
    /// The workflow file (YAML or JSON).
    pub file: PathBuf,

    /// The run's input, as JSON.
    #[arg(long, default_value = "{}", conflicts_with_all = ["input_file", "inputs"])]
    pub input: String,

    /// Read the input from this file ('-' for stdin).
    #[arg(long, conflicts_with = "inputs")]
    pub input_file: Option<PathBuf>,

    /// Start one run per line of this JSON Lines file; run ids are printed
    /// on stdout as each start is durably recorded.
    #[arg(long)]
    pub inputs: Option<PathBuf>,

    #[command(flatten)]
    pub plugins: PluginFiles,

    #[command(flatten)]
    pub engine: EngineArgs,
}

#[derive(Debug, Args)]
pub(crate) struct ResumeArgs {
    #[command(flatten)]
    pub engine: EngineArgs,
}

#[derive(Debug, Args)]
pub(crate) struct ValidateArgs {
    /// The workflow file (YAML or JSON).
    pub file: PathBuf,

    #[command(flatten)]
    pub plugins: PluginFiles,

    /// Directory for compiled artifacts.
    #[arg(long, env = "BATON_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum PluginCommand {
    /// Run one invocation of a plugin component and print its JSON output.
    ///
    /// The output goes to stdout; the plugin's log lines and any failure go to
    /// stderr. Exit status: 0 success, 1 the step failed, 2 bad usage, 3 the
    /// component was refused.
    Run(RunArgs),
    /// Print what a plugin component says about itself (`describe`).
    Inspect(InspectArgs),
    /// Upload a plugin component to a server.
    Push(PushArgs),
    /// List the plugins on a server.
    List(RemoteOnly),
    /// Show a plugin's versions, or one version, on a server.
    ///
    /// For one version (`name@version` or `name version`): what it
    /// requests next to what it is granted, and whether the grant is the
    /// version's own, the plugin-wide one or none.
    Show(PluginShowArgs),
    /// Grant a plugin what it may reach on a server (admin); the grant
    /// REPLACES the previous one whole.
    ///
    /// A plugin gets nothing it asks for until it is granted. Give the
    /// grant with flags, or as a JSON or YAML document with --file (the
    /// same fields as `PUT /v1/plugins/{name}/grants`). Whatever the new
    /// grant leaves out is no longer granted. With --version the grant is
    /// for that version only, which then ignores the plugin-wide grant.
    /// The plugin need not be uploaded yet. Prints the saved grant.
    ///
    /// Example: `baton plugin grant rt --outbound https://rt.example.com
    /// --methods https://rt.example.com=GET,POST --secret rt-token --kv`.
    /// To remove a grant, use `baton plugin revoke`.
    Grant(PluginGrantArgs),
    /// Remove a plugin's grant on a server (admin): the plugin-wide one, or
    /// with --version that version's own (it then follows the plugin-wide
    /// grant, if any).
    Revoke(PluginRevokeArgs),
    /// List a plugin's grants on a server: the plugin-wide one and those of
    /// single versions.
    Grants(PluginGrantsArgs),
}

#[derive(Debug, Args)]
pub(crate) struct ComponentArgs {
    /// Path to the plugin component (.wasm).
    pub component: PathBuf,

    /// Directory for compiled artifacts [default: $XDG_CACHE_HOME/baton or
    /// ~/.cache/baton].
    #[arg(long, env = "BATON_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    #[command(flatten)]
    pub component: ComponentArgs,

    /// Input document, as JSON.
    #[arg(long, default_value = "{}", conflicts_with = "input_file")]
    pub input: String,

    /// Read the input document from this file ('-' for stdin).
    #[arg(long)]
    pub input_file: Option<PathBuf>,

    /// Linear memory limit, such as 64MiB.
    #[arg(long, default_value = "64MiB", value_parser = parse_size)]
    pub memory: u64,

    /// CPU budget, such as 5s or 500ms.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub cpu: Duration,

    /// Wall-clock timeout, such as 30s.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub timeout: Duration,

    /// WebAssembly stack size, such as 512KiB.
    #[arg(long, default_value = "512KiB", value_parser = parse_size)]
    pub stack: u64,

    /// Largest accepted output, such as 1MiB.
    #[arg(long, default_value = "1MiB", value_parser = parse_size)]
    pub max_output: u64,

    /// Run identifier passed to the plugin.
    #[arg(long, default_value = "local")]
    pub run_id: String,

    /// Step identifier passed to the plugin.
    #[arg(long, default_value = "step")]
    pub step_id: String,

    /// Attempt number passed to the plugin.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub attempt: u32,

    /// Print the full report (output, failure, logs, timing) as JSON on
    /// stdout instead.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct InspectArgs {
    #[command(flatten)]
    pub component: ComponentArgs,
}

pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let duration = humantime::parse_duration(text).map_err(|e| format!("{e} (try 5s or 500ms)"))?;
    if duration.is_zero() {
        return Err("must be above zero".into());
    }
    Ok(duration)
}

fn parse_size(text: &str) -> Result<u64, String> {
    let size: bytesize::ByteSize = text.parse().map_err(|e| format!("{e} (try 64MiB)"))?;
    if size.as_u64() == 0 {
        return Err("must be above zero".into());
    }
    Ok(size.as_u64())
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn the_grammar_holds_together() {
        super::Cli::command().debug_assert();
    }
}
