//! How grants read for people: one grant as `field: value` lines, a
//! plugin's grants as a table, and one plugin version's requested
//! capabilities next to what it is granted. `plugin grant|grants|show`
//! share these. Only formatting: the server's JSON is the source, and
//! nothing here decides what a plugin may reach.

use serde_json::Value;

use super::{table, text};

/// Shown for a part that is not asked for or not granted.
const NONE: &str = "-";

/// The parts of a grant, in the order they are shown.
const PARTS: &[&str] = &["outbound", "secrets", "kv", "events", "limits"];

/// A number of bytes for people (`1.0 MiB`).
fn bytes(value: &Value) -> String {
    match value.as_u64() {
        Some(n) => bytesize::ByteSize(n).to_string(),
        None => value.to_string(),
    }
}

/// Items joined with `, `, or [`NONE`].
fn joined(items: Vec<String>) -> String {
    if items.is_empty() {
        NONE.to_string()
    } else {
        items.join(", ")
    }
}

/// The strings of a JSON array.
fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .into_iter()
        .flatten()
        .map(|item| {
            item.as_str()
                .map_or_else(|| item.to_string(), str::to_string)
        })
        .collect()
}

/// One outbound entry: `https://api.example.com`, or with its details,
/// `https://*.example.com:8443 (GET, POST; private network)`.
fn outbound_entry(rule: &Value) -> String {
    if let Some(origin) = rule.as_str() {
        return origin.to_string();
    }
    let mut details = Vec::new();
    let methods = strings(&rule["methods"]);
    if !methods.is_empty() {
        details.push(methods.join(", "));
    }
    if rule["private_network"] == Value::Bool(true) {
        details.push("private network".to_string());
    }
    let origin = text(rule, "origin");
    if details.is_empty() {
        origin
    } else {
        format!("{origin} ({})", details.join("; "))
    }
}

fn kv_granted(kv: &Value) -> String {
    match kv {
        Value::Null | Value::Bool(false) => NONE.to_string(),
        Value::Bool(true) => "yes".to_string(),
        other => format!("yes, quota {}", bytes(&other["quota_bytes"])),
    }
}

fn limits_granted(limits: &Value) -> String {
    let parts: Vec<String> = [
        ("memory", "memory_bytes", true),
        ("cpu", "cpu_ms", false),
        ("timeout", "timeout_ms", false),
        ("output", "max_output_bytes", true),
    ]
    .into_iter()
    .filter(|(_, field, _)| !limits[field].is_null())
    .map(|(label, field, is_bytes)| {
        let value = &limits[field];
        if is_bytes {
            format!("{label} {}", bytes(value))
        } else {
            format!("{label} {value} ms")
        }
    })
    .collect();
    if parts.is_empty() {
        "defaults".to_string()
    } else {
        parts.join(", ")
    }
}

/// One part of a grant (`outbound`, `secrets`, `kv`, `events` or
/// `limits`) as text; `grant` may be `null` (nothing granted).
fn granted(grant: &Value, part: &str) -> String {
    let value = &grant[part];
    match part {
        "outbound" => joined(
            value
                .as_array()
                .into_iter()
                .flatten()
                .map(outbound_entry)
                .collect(),
        ),
        "kv" => kv_granted(value),
        "limits" => limits_granted(value),
        _ => joined(strings(value)),
    }
}

/// One part of what a plugin asks for in its description.
fn requested(capabilities: &Value, part: &str) -> String {
    match part {
        "outbound" => joined(strings(&capabilities["outbound_hosts"])),
        "kv" if capabilities["kv"] == Value::Bool(true) => "yes".to_string(),
        "secrets" | "events" => joined(strings(&capabilities[part])),
        _ => NONE.to_string(),
    }
}

/// Which versions a grant entry is for.
fn applies_to(entry: &Value) -> String {
    match entry["version"].as_str() {
        Some(version) => format!("version {version} (its own grant)"),
        None => "every version without a grant of its own".to_string(),
    }
}

/// Prints a saved grant entry (`GrantEntry`).
pub(crate) fn print_entry(entry: &Value) {
    let mut lines = vec![
        ("plugin", text(entry, "plugin")),
        ("applies to", applies_to(entry)),
    ];
    for part in PARTS {
        lines.push((part, granted(&entry["grant"], part)));
    }
    lines.push((
        "updated",
        format!(
            "{} by {}",
            text(entry, "updated_at"),
            text(entry, "updated_by")
        ),
    ));
    table::print_fields(&lines);
}

/// Prints a plugin's grant entries as a table.
pub(crate) fn print_entries(entries: &Value) {
    let rows: Vec<Vec<String>> = entries
        .as_array()
        .into_iter()
        .flatten()
        .map(|entry| {
            let mut row = vec![
                entry["version"]
                    .as_str()
                    .unwrap_or("all versions")
                    .to_string(),
            ];
            row.extend(PARTS.iter().map(|part| granted(&entry["grant"], part)));
            row.push(text(entry, "updated_at"));
            row.push(text(entry, "updated_by"));
            row
        })
        .collect();
    table::print(
        &[
            "VERSION", "OUTBOUND", "SECRETS", "KV", "EVENTS", "LIMITS", "UPDATED", "BY",
        ],
        &rows,
    );
}

/// Where the grant in force for a version comes from, for people.
fn scope(plugin: &Value) -> String {
    match plugin["grant_scope"].as_str() {
        Some("version") => "this version's own grant".to_string(),
        Some("plugin") => "the plugin-wide grant".to_string(),
        _ => "nothing granted (it may only log)".to_string(),
    }
}

/// Prints one plugin version (`PluginView`): what it is, then what it
/// requests next to what it is granted.
pub(crate) fn print_plugin(plugin: &Value) {
    table::print_fields(&[
        (
            "plugin",
            format!("{}@{}", text(plugin, "name"), text(plugin, "version")),
        ),
        ("description", text(plugin, "description")),
        ("digest", text(plugin, "digest")),
        ("uploaded", text(plugin, "created_at")),
        ("granted", scope(plugin)),
    ]);
    println!();
    let rows: Vec<Vec<String>> = PARTS
        .iter()
        .map(|part| {
            vec![
                part.to_string(),
                requested(&plugin["capabilities"], part),
                granted(&plugin["granted"], part),
            ]
        })
        .collect();
    table::print(&["CAPABILITY", "REQUESTED", "GRANTED"], &rows);
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{granted, requested};

    #[test]
    fn parts_read_as_people_write_them() {
        let grant = json!({
            "outbound": [
                {"origin": "https://api.example.com", "private_network": false},
                {"origin": "https://*.example.com:8443", "methods": ["GET", "POST"],
                 "private_network": true},
            ],
            "secrets": ["a", "b"],
            "kv": {"quota_bytes": 1_048_576},
            "events": [],
            "limits": {"memory_bytes": 67_108_864, "timeout_ms": 5000},
        });
        assert_eq!(
            granted(&grant, "outbound"),
            "https://api.example.com, https://*.example.com:8443 (GET, POST; private network)"
        );
        assert_eq!(granted(&grant, "secrets"), "a, b");
        assert_eq!(granted(&grant, "kv"), "yes, quota 1.0 MiB");
        assert_eq!(granted(&grant, "events"), "-");
        assert_eq!(
            granted(&grant, "limits"),
            "memory 64.0 MiB, timeout 5000 ms"
        );
        assert_eq!(granted(&json!(null), "limits"), "defaults");
        assert_eq!(granted(&json!(null), "kv"), "-");

        let asked = json!({"outbound_hosts": ["https://x.example.com"], "secrets": [],
            "kv": true, "events": ["done"]});
        assert_eq!(requested(&asked, "outbound"), "https://x.example.com");
        assert_eq!(requested(&asked, "secrets"), "-");
        assert_eq!(requested(&asked, "kv"), "yes");
        assert_eq!(requested(&asked, "limits"), "-");
    }
}
