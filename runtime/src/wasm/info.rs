//! What a plugin says about itself through `describe`, checked and turned
//! into plain Rust types that the rest of Baton (registry, API) can store and
//! show without knowing about the generated bindings.

use serde::{Deserialize, Serialize};

use super::bindings::types as wit;
use super::error::LoadError;

/// Longest plugin name.
pub const MAX_NAME_LEN: usize = 64;
/// Longest description.
pub const MAX_DESCRIPTION_LEN: usize = 2_000;
/// Most entries in one capability list.
pub const MAX_CAPABILITY_ENTRIES: usize = 100;
/// Longest capability entry (a host, a secret name, an event type).
pub const MAX_CAPABILITY_ENTRY_LEN: usize = 256;

/// What a plugin asks to be granted. Asking grants nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capabilities {
    /// Outbound HTTP origins.
    pub outbound_hosts: Vec<String>,
    /// Names of secrets.
    pub secrets: Vec<String>,
    /// Whether it keeps key-value state.
    pub kv: bool,
    /// Event types it emits.
    pub events: Vec<String>,
}

/// A plugin's description of itself, validated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PluginInfo {
    /// Plugin name (`[a-z][a-z0-9-]*`, at most [`MAX_NAME_LEN`]).
    pub name: String,
    /// Semantic version.
    pub version: String,
    /// What it does.
    pub description: String,
    /// JSON Schema of its input.
    pub input_schema: serde_json::Value,
    /// JSON Schema of its output.
    pub output_schema: serde_json::Value,
    /// What it asks for.
    pub capabilities: Capabilities,
}

/// Checks a plugin name: a lowercase letter, then lowercase letters, digits
/// and `-`, at most [`MAX_NAME_LEN`] characters.
pub fn check_plugin_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let starts_well = chars.next().is_some_and(|c| c.is_ascii_lowercase());
    let rest_well = chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !starts_well || !rest_well || name.len() > MAX_NAME_LEN {
        return Err(format!(
            "plugin name {name:?} must start with a lowercase letter and contain only \
             lowercase letters, digits and '-', at most {MAX_NAME_LEN} characters"
        ));
    }
    Ok(())
}

impl TryFrom<wit::PluginInfo> for PluginInfo {
    type Error = LoadError;

    fn try_from(info: wit::PluginInfo) -> Result<Self, LoadError> {
        let invalid = LoadError::InvalidInfo;
        check_plugin_name(&info.name).map_err(invalid)?;
        semver::Version::parse(&info.version).map_err(|e| {
            invalid(format!(
                "version {:?} is not a semantic version: {e}",
                info.version
            ))
        })?;
        if info.description.len() > MAX_DESCRIPTION_LEN {
            return Err(invalid(format!(
                "the description is {} bytes, over {MAX_DESCRIPTION_LEN}",
                info.description.len()
            )));
        }
        let input_schema = parse_schema("input-schema", &info.input_schema)?;
        let output_schema = parse_schema("output-schema", &info.output_schema)?;
        let caps = info.capabilities;
        for (what, list) in [
            ("outbound-hosts", &caps.outbound_hosts),
            ("secrets", &caps.secrets),
            ("events", &caps.events),
        ] {
            check_entries(what, list)?;
        }
        Ok(Self {
            name: info.name,
            version: info.version,
            description: info.description,
            input_schema,
            output_schema,
            capabilities: Capabilities {
                outbound_hosts: caps.outbound_hosts,
                secrets: caps.secrets,
                kv: caps.kv,
                events: caps.events,
            },
        })
    }
}

/// A JSON Schema is an object or a boolean.
fn parse_schema(field: &str, text: &str) -> Result<serde_json::Value, LoadError> {
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| LoadError::InvalidInfo(format!("{field} is not JSON: {e}")))?;
    if !(value.is_object() || value.is_boolean()) {
        return Err(LoadError::InvalidInfo(format!(
            "{field} must be a JSON Schema (an object or a boolean)"
        )));
    }
    Ok(value)
}

fn check_entries(field: &str, list: &[String]) -> Result<(), LoadError> {
    if list.len() > MAX_CAPABILITY_ENTRIES {
        return Err(LoadError::InvalidInfo(format!(
            "capabilities.{field} has {} entries, over {MAX_CAPABILITY_ENTRIES}",
            list.len()
        )));
    }
    if let Some(entry) = list
        .iter()
        .find(|e| e.is_empty() || e.len() > MAX_CAPABILITY_ENTRY_LEN)
    {
        return Err(LoadError::InvalidInfo(format!(
            "capabilities.{field} entry {entry:?} must be 1 to {MAX_CAPABILITY_ENTRY_LEN} bytes"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_plugin_name;

    #[test]
    fn plugin_names() {
        for good in ["echo", "rt-ticket", "a1", "x"] {
            assert!(check_plugin_name(good).is_ok(), "{good}");
        }
        let long = "a".repeat(65);
        for bad in ["", "Echo", "1abc", "-a", "a_b", "a b", "é", long.as_str()] {
            assert!(check_plugin_name(bad).is_err(), "{bad}");
        }
    }
}
