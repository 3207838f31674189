//! Grants: what an administrator lets one plugin reach beyond its sandbox.
//!
//! A plugin asks for capabilities in `describe`; asking grants nothing. An
//! administrator saves a [`Grant`] per plugin name, optionally per version:
//! outbound HTTP origins, secret names, key-value state with a quota, event
//! types it may emit, and limit overrides. A grant for one version replaces
//! the plugin-wide grant for that version whole (no merging), so what a
//! version may do is always one document. Without any grant a plugin gets
//! nothing but logging.

mod set;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::events::EventPattern;
use crate::wasm::{EgressRule, InvocationLimits, PoolConfig};

pub use set::GrantSet;

/// The key-value quota when a grant says `kv: true`: 1 MiB.
pub const DEFAULT_KV_QUOTA_BYTES: u64 = 1 << 20;
/// The largest key-value quota a grant may give: 1 GiB.
pub const MAX_KV_QUOTA_BYTES: u64 = 1 << 30;
/// Most entries in each list of a grant.
pub const MAX_ENTRIES: usize = 256;

/// What one plugin (or one version of it) may reach.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Grant {
    /// Outbound HTTP origins: `"https://api.example.com"`, or
    /// `{"origin": "https://*.example.com:8443", "methods": ["GET"],
    /// "private_network": false}`.
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    pub outbound: Vec<EgressRule>,
    /// Names of the secrets it may read.
    #[serde(default)]
    pub secrets: Vec<String>,
    /// Key-value state: `true` (the default quota) or
    /// `{"quota_bytes": N}`; absent or `false` for none.
    #[serde(default, with = "kv_grant")]
    #[schema(value_type = Option<KvGrant>)]
    pub kv: Option<KvGrant>,
    /// Event types it may emit; `*` matches any run of characters.
    #[serde(default)]
    pub events: Vec<String>,
    /// Limits of its invocations, in place of the defaults.
    #[serde(default)]
    pub limits: LimitOverrides,
}

/// Key-value state granted to a plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KvGrant {
    /// Most bytes of keys and values it may keep.
    pub quota_bytes: u64,
}

/// Per-plugin limits; each one left out keeps the default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LimitOverrides {
    /// Linear memory, in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_bytes: Option<u64>,
    /// Guest CPU time, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_ms: Option<u64>,
    /// Wall-clock time of an attempt, in milliseconds, when the step sets
    /// no `timeout` of its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// Largest JSON output, in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_output_bytes: Option<u64>,
}

/// `kv` as `true`/`false`/`null` or an object.
mod kv_grant {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::{DEFAULT_KV_QUOTA_BYTES, KvGrant};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Form {
        Flag(bool),
        Object(KvGrant),
    }

    pub fn serialize<S: Serializer>(kv: &Option<KvGrant>, s: S) -> Result<S::Ok, S::Error> {
        kv.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<KvGrant>, D::Error> {
        match Option::<Form>::deserialize(d).map_err(|_| {
            serde::de::Error::custom("kv must be true, false or {\"quota_bytes\": N}")
        })? {
            None | Some(Form::Flag(false)) => Ok(None),
            Some(Form::Flag(true)) => Ok(Some(KvGrant {
                quota_bytes: DEFAULT_KV_QUOTA_BYTES,
            })),
            Some(Form::Object(grant)) => Ok(Some(grant)),
        }
    }
}

impl Grant {
    /// Parses and checks a grant document (JSON).
    pub fn from_json(text: &str, pool: &PoolConfig) -> Result<Grant, Vec<String>> {
        // Serde would also take a struct from an array of its fields.
        if !text.trim_start().starts_with('{') {
            return Err(vec!["a grant is a JSON object".into()]);
        }
        let mut deserializer = serde_json::Deserializer::from_str(text);
        let grant: Grant = serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
            let path = e.path().to_string();
            let message = e.into_inner().to_string();
            vec![if path == "." {
                message
            } else {
                format!("{path}: {message}")
            }]
        })?;
        deserializer
            .end()
            .map_err(|e| vec![format!("after the grant: {e}")])?;
        grant.check(pool)?;
        Ok(grant)
    }

    /// Every problem of a grant, or nothing.
    pub fn check(&self, pool: &PoolConfig) -> Result<(), Vec<String>> {
        let mut problems = Vec::new();
        for (list, len) in [
            ("outbound", self.outbound.len()),
            ("secrets", self.secrets.len()),
            ("events", self.events.len()),
        ] {
            if len > MAX_ENTRIES {
                problems.push(format!("{list}: at most {MAX_ENTRIES} entries"));
            }
        }
        for (i, name) in self.secrets.iter().enumerate() {
            if let Err(message) = crate::secrets::validate_name(name) {
                problems.push(format!("secrets[{i}]: {message}"));
            }
        }
        for (i, pattern) in self.events.iter().enumerate() {
            if let Err(message) = EventPattern::parse(pattern) {
                problems.push(format!("events[{i}]: {message}"));
            }
        }
        if let Some(kv) = self.kv
            && (kv.quota_bytes == 0 || kv.quota_bytes > MAX_KV_QUOTA_BYTES)
        {
            problems.push(format!(
                "kv.quota_bytes: must be between 1 and {MAX_KV_QUOTA_BYTES}"
            ));
        }
        let limits = &self.limits;
        if let Some(memory) = limits.memory_bytes
            && (memory == 0 || memory > pool.max_memory_bytes)
        {
            problems.push(format!(
                "limits.memory_bytes: must be between 1 and {} (the pool's largest memory)",
                pool.max_memory_bytes
            ));
        }
        for (name, value) in [
            ("cpu_ms", limits.cpu_ms),
            ("timeout_ms", limits.timeout_ms),
            ("max_output_bytes", limits.max_output_bytes),
        ] {
            if value == Some(0) {
                problems.push(format!("limits.{name}: must be above zero"));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }

    /// Whether the secret `name` is granted.
    pub fn allows_secret(&self, name: &str) -> bool {
        self.secrets.iter().any(|s| s == name)
    }

    /// Whether events of type `kind` may be emitted.
    pub fn allows_event(&self, kind: &str) -> bool {
        self.events
            .iter()
            .filter_map(|p| EventPattern::parse(p).ok())
            .any(|p| p.matches(kind))
    }

    /// Puts the overrides into `limits`; a step's own `timeout` (given as
    /// `step_timeout`) wins over the grant's.
    pub fn apply_limits(
        &self,
        limits: &mut InvocationLimits,
        step_timeout: Option<std::time::Duration>,
    ) {
        let o = &self.limits;
        if let Some(memory) = o.memory_bytes {
            limits.memory_bytes = memory;
        }
        if let Some(ms) = o.cpu_ms {
            limits.cpu_budget = std::time::Duration::from_millis(ms);
        }
        if let Some(ms) = o.timeout_ms {
            limits.wall_timeout = std::time::Duration::from_millis(ms);
        }
        if let Some(bytes) = o.max_output_bytes {
            limits.max_output_bytes = usize::try_from(bytes).unwrap_or(usize::MAX);
        }
        if let Some(timeout) = step_timeout {
            limits.wall_timeout = timeout;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Grant, Vec<String>> {
        Grant::from_json(text, &PoolConfig::default())
    }

    #[test]
    fn nothing_is_granted_by_default() {
        let grant = parse("{}").unwrap();
        assert_eq!(grant, Grant::default());
        assert!(!grant.allows_secret("x"));
        assert!(!grant.allows_event("x"));
        assert!(grant.kv.is_none());
    }

    #[test]
    fn every_part_parses() {
        let grant = parse(
            r#"{"outbound": ["https://api.example.com",
                 {"origin": "https://*.example.com:8443", "methods": ["GET"], "private_network": true}],
                "secrets": ["rt-token"], "kv": true, "events": ["ticket.*"],
                "limits": {"memory_bytes": 1048576, "timeout_ms": 5000}}"#,
        )
        .unwrap();
        assert_eq!(grant.outbound.len(), 2);
        assert!(grant.allows_secret("rt-token"));
        assert!(!grant.allows_secret("rt-token2"));
        assert!(grant.allows_event("ticket.created"));
        assert!(!grant.allows_event("change.created"));
        assert_eq!(grant.kv.unwrap().quota_bytes, DEFAULT_KV_QUOTA_BYTES);
        let again = parse(&serde_json::to_string(&grant).unwrap()).unwrap();
        assert_eq!(again, grant);
        let mut limits = InvocationLimits::default();
        grant.apply_limits(&mut limits, None);
        assert_eq!(limits.memory_bytes, 1 << 20);
        assert_eq!(limits.wall_timeout, std::time::Duration::from_secs(5));
        grant.apply_limits(&mut limits, Some(std::time::Duration::from_secs(9)));
        assert_eq!(limits.wall_timeout, std::time::Duration::from_secs(9));
    }

    #[test]
    fn bad_grants_say_what_is_wrong() {
        for (text, needle) in [
            (r#"{"outbound": ["ftp://x.example.com"]}"#, "outbound[0]"),
            (r#"{"secrets": ["bad name"]}"#, "secrets[0]"),
            (r#"{"kv": {"quota_bytes": 0}}"#, "kv.quota_bytes"),
            (r#"{"kv": "yes"}"#, "kv"),
            (
                r#"{"limits": {"memory_bytes": 99999999999999}}"#,
                "memory_bytes",
            ),
            (r#"{"limits": {"cpu_ms": 0}}"#, "cpu_ms"),
            (r#"{"limits": {"gpu": 1}}"#, "gpu"),
            (r#"{"everything": true}"#, "everything"),
            (r#"[]"#, "JSON object"),
            (r#"{"secrets": ["a"]} trailing"#, "after the grant"),
        ] {
            let problems = parse(text).unwrap_err();
            assert!(
                problems.iter().any(|p| p.contains(needle)),
                "{text}: {problems:?}"
            );
        }
    }
}
