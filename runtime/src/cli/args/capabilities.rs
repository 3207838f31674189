//! The grammar of `plugin grant|revoke|grants` and `secret set|list|rm`.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::{Remote, RemoteOnly, parse_size};

#[derive(Debug, Args)]
#[command(disable_version_flag = true)]
pub(crate) struct PluginGrantArgs {
    /// The plugin's name.
    pub name: String,

    /// Grant this version only (it then ignores the plugin-wide grant).
    #[arg(long, value_name = "V")]
    pub version: Option<String>,

    /// Read the grant from this JSON or YAML file ('-' for stdin) instead
    /// of flags.
    #[arg(short = 'f', long, value_name = "FILE", conflicts_with_all = ["grant_flags", "nothing"])]
    pub file: Option<PathBuf>,

    /// Save an empty grant: nothing is granted (for a version, whatever the
    /// plugin-wide grant says).
    #[arg(long, conflicts_with = "grant_flags")]
    pub nothing: bool,

    #[command(flatten)]
    pub grant: GrantFlags,

    #[command(flatten)]
    pub remote: Remote,
}

/// A grant given as flags.
#[derive(Debug, Args)]
#[group(id = "grant_flags", multiple = true)]
pub(crate) struct GrantFlags {
    /// An outbound HTTP origin it may call, such as https://api.example.com
    /// or https://*.example.com:8443 (repeatable). Every method is allowed,
    /// and only public addresses, unless --methods or --private-network say
    /// otherwise.
    #[arg(long, value_name = "ORIGIN")]
    pub outbound: Vec<String>,

    /// Only these methods for an --outbound origin, as
    /// ORIGIN=GET,POST (repeatable).
    #[arg(long, value_name = "ORIGIN=METHODS")]
    pub methods: Vec<String>,

    /// Let an --outbound origin resolve to private, loopback or link-local
    /// addresses (repeatable).
    #[arg(long, value_name = "ORIGIN")]
    pub private_network: Vec<String>,

    /// A secret it may read (repeatable).
    #[arg(long = "secret", value_name = "NAME")]
    pub secrets: Vec<String>,

    /// Key-value state, with the default quota.
    #[arg(long)]
    pub kv: bool,

    /// Key-value state with this quota, such as 10MiB.
    #[arg(long, value_name = "BYTES", value_parser = parse_size)]
    pub kv_quota: Option<u64>,

    /// An event type it may emit; `*` matches any run of characters, as in
    /// ticket.* (repeatable).
    #[arg(long = "event", value_name = "TYPE")]
    pub events: Vec<String>,

    /// Linear memory limit, such as 128MiB, in place of the default.
    #[arg(long, value_name = "BYTES", value_parser = parse_size)]
    pub memory: Option<u64>,

    /// CPU budget of an invocation, in milliseconds.
    #[arg(long, value_name = "N")]
    pub cpu_ms: Option<u64>,

    /// Wall-clock timeout of an attempt, in milliseconds, when the step
    /// sets no `timeout` of its own.
    #[arg(long, value_name = "N")]
    pub timeout_ms: Option<u64>,

    /// Largest JSON output, such as 1MiB.
    #[arg(long, value_name = "BYTES", value_parser = parse_size)]
    pub max_output: Option<u64>,
}

#[derive(Debug, Args)]
#[command(disable_version_flag = true)]
pub(crate) struct PluginRevokeArgs {
    /// The plugin's name.
    pub name: String,

    /// Remove this version's own grant instead of the plugin-wide one.
    #[arg(long, value_name = "V")]
    pub version: Option<String>,

    #[command(flatten)]
    pub remote: Remote,
}

#[derive(Debug, Args)]
pub(crate) struct PluginGrantsArgs {
    /// The plugin's name.
    pub name: String,

    #[command(flatten)]
    pub remote: Remote,
}

#[derive(Debug, Subcommand)]
pub(crate) enum SecretCommand {
    /// Save a secret (admin), creating or replacing it; prints `created` or
    /// `replaced` and its metadata, never the value.
    ///
    /// The value is read from stdin, or from --file, never from the command
    /// line (where it would end up in shell history and process lists).
    /// One trailing newline is removed, so `echo "$TOKEN" | baton secret
    /// set rt-token` saves the token alone; an empty value is refused.
    Set(SecretSetArgs),
    /// List secrets: names and metadata, never values (operator).
    List(RemoteOnly),
    /// Remove a secret (admin); plugins granted it get `unavailable` from
    /// then on.
    Rm(SecretRmArgs),
    /// Seal every secret again under a new master key, on a data directory
    /// no server is using (run it with the server stopped).
    ///
    /// The current key is BATON_MASTER_KEY or <data-dir>/master.key. With
    /// the key file, a new random key (or the one of --new-key-file)
    /// replaces it once the secrets are sealed again; with the variable,
    /// give the new key with --new-key-file and set BATON_MASTER_KEY to it
    /// before the next start. Back the new key up: the old one no longer
    /// opens the secrets.
    Rekey(SecretRekeyArgs),
}

#[derive(Debug, Args)]
pub(crate) struct SecretRekeyArgs {
    /// The server's data directory.
    #[arg(long, env = "BATON_DATA_DIR", value_name = "DIR")]
    pub data_dir: PathBuf,

    /// The new key: a file like master.key (32 raw bytes, readable by its
    /// owner only) [default: a new random key].
    #[arg(long, value_name = "PATH")]
    pub new_key_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct SecretSetArgs {
    /// The secret's name.
    pub name: String,

    /// Read the value from this file instead of stdin (one trailing newline
    /// is removed here too).
    #[arg(long, value_name = "PATH")]
    pub file: Option<PathBuf>,

    /// What it is for (replacing a secret without it leaves it with no
    /// description).
    #[arg(long, value_name = "TEXT")]
    pub description: Option<String>,

    #[command(flatten)]
    pub remote: Remote,
}

#[derive(Debug, Args)]
pub(crate) struct SecretRmArgs {
    /// The secret's name.
    pub name: String,

    #[command(flatten)]
    pub remote: Remote,
}
