//! `baton plugin grant|revoke|grants` against a server: building a grant
//! document from flags or a JSON/YAML file, and sending it. The server
//! checks every grant and says what is wrong; this module only checks
//! that the flags fit together.

use std::collections::BTreeMap;
use std::process::ExitCode;

use serde_json::{Map, Value, json};

use super::super::args::{GrantFlags, PluginGrantArgs, PluginGrantsArgs, PluginRevokeArgs};
use super::super::input::read_text;
use super::capabilities::{print_entries, print_entry};
use super::{Failed, client, finish, print_json};

pub(crate) async fn grant(args: PluginGrantArgs) -> ExitCode {
    finish(async {
        let document = match (&args.file, args.nothing) {
            (Some(path), _) => from_file(path)?,
            (None, true) => json!({}),
            (None, false) => from_flags(&args.grant)?,
        };
        let entry = client(&args.remote)?
            .put_grant(&args.name, args.version.as_deref(), &document)
            .await?;
        if args.remote.json {
            print_json(&entry);
        } else {
            print_entry(&entry);
        }
        Ok(())
    })
    .await
}

pub(crate) async fn revoke(args: PluginRevokeArgs) -> ExitCode {
    finish(async {
        client(&args.remote)?
            .delete_grant(&args.name, args.version.as_deref())
            .await?;
        if !args.remote.json {
            match &args.version {
                Some(version) => println!(
                    "removed the grant of {}@{version}; it follows the plugin-wide grant, if any",
                    args.name
                ),
                None => println!("removed the plugin-wide grant of {}", args.name),
            }
        }
        Ok(())
    })
    .await
}

pub(crate) async fn list(args: PluginGrantsArgs) -> ExitCode {
    finish(async {
        let entries = client(&args.remote)?.grants(&args.name).await?;
        if args.remote.json {
            print_json(&entries);
        } else {
            print_entries(&entries);
        }
        Ok(())
    })
    .await
}

/// A grant document from a JSON or YAML file ('-' for stdin).
fn from_file(path: &std::path::Path) -> Result<Value, Failed> {
    let source = read_text(path).map_err(Failed::usage)?;
    serde_yaml_ng::from_str(&source)
        .map_err(|e| Failed::usage(format!("the grant is not YAML or JSON: {e}")))
}

/// The grant document the flags describe. Only how the flags fit together
/// is checked here: origins, names and limits are the server's to judge.
fn from_flags(flags: &GrantFlags) -> Result<Value, Failed> {
    let given = |origin: &str, flag: &str| {
        if flags.outbound.iter().any(|o| o == origin) {
            Ok(())
        } else {
            Err(Failed::usage(format!(
                "{flag} names {origin}, which no --outbound gives (write the same origin in both)"
            )))
        }
    };
    let mut methods: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for spec in &flags.methods {
        let Some((origin, list)) = spec.rsplit_once('=') else {
            return Err(Failed::usage(format!(
                "--methods {spec}: write ORIGIN=GET,POST"
            )));
        };
        given(origin, "--methods")?;
        let list: Vec<String> = list
            .split(',')
            .map(str::trim)
            .filter(|m| !m.is_empty())
            .map(str::to_string)
            .collect();
        if list.is_empty() {
            return Err(Failed::usage(format!(
                "--methods {spec}: name at least one method"
            )));
        }
        methods.entry(origin).or_default().extend(list);
    }
    for origin in &flags.private_network {
        given(origin, "--private-network")?;
    }

    let mut grant = Map::new();
    let outbound: Vec<Value> = flags
        .outbound
        .iter()
        .map(|origin| {
            let private = flags.private_network.contains(origin);
            match methods.get(origin.as_str()) {
                None if !private => json!(origin),
                methods => {
                    let mut rule = json!({"origin": origin, "private_network": private});
                    if let Some(methods) = methods {
                        rule["methods"] = json!(methods);
                    }
                    rule
                }
            }
        })
        .collect();
    if !outbound.is_empty() {
        grant.insert("outbound".into(), Value::Array(outbound));
    }
    if !flags.secrets.is_empty() {
        grant.insert("secrets".into(), json!(flags.secrets));
    }
    if let Some(quota) = flags.kv_quota {
        grant.insert("kv".into(), json!({"quota_bytes": quota}));
    } else if flags.kv {
        grant.insert("kv".into(), Value::Bool(true));
    }
    if !flags.events.is_empty() {
        grant.insert("events".into(), json!(flags.events));
    }
    let limits: Map<String, Value> = [
        ("memory_bytes", flags.memory),
        ("cpu_ms", flags.cpu_ms),
        ("timeout_ms", flags.timeout_ms),
        ("max_output_bytes", flags.max_output),
    ]
    .into_iter()
    .filter_map(|(field, value)| Some((field.to_string(), json!(value?))))
    .collect();
    if !limits.is_empty() {
        grant.insert("limits".into(), Value::Object(limits));
    }
    if grant.is_empty() {
        return Err(Failed::usage(
            "say what to grant: flags such as --outbound, --secret or --kv, a document with \
             --file, or --nothing for an empty grant (`baton plugin revoke` removes a grant)",
        ));
    }
    Ok(Value::Object(grant))
}

#[cfg(test)]
mod tests {
    use clap::Parser;
    use serde_json::json;

    use super::super::super::args::{Cli, Command, PluginCommand};

    /// The document `baton plugin grant NAME ARGS...` would send, or the
    /// usage message.
    fn document(args: &[&str]) -> Result<serde_json::Value, String> {
        let argv = ["baton", "plugin", "grant", "p"].iter().chain(args);
        let cli = Cli::try_parse_from(argv).map_err(|e| e.to_string())?;
        let Command::Plugin(PluginCommand::Grant(grant)) = cli.command else {
            return Err("not a grant".into());
        };
        super::from_flags(&grant.grant).map_err(|super::Failed(_, message)| message)
    }

    #[test]
    fn flags_make_the_document() {
        let grant = document(&[
            "--outbound",
            "https://api.example.com",
            "--outbound",
            "https://*.example.com:8443",
            "--methods",
            "https://*.example.com:8443=GET, post",
            "--private-network",
            "https://*.example.com:8443",
            "--secret",
            "rt-token",
            "--kv-quota",
            "2MiB",
            "--event",
            "ticket.*",
            "--memory",
            "64MiB",
            "--cpu-ms",
            "500",
        ])
        .unwrap();
        assert_eq!(
            grant,
            json!({
                "outbound": ["https://api.example.com",
                    {"origin": "https://*.example.com:8443", "methods": ["GET", "post"],
                     "private_network": true}],
                "secrets": ["rt-token"],
                "kv": {"quota_bytes": 2_097_152},
                "events": ["ticket.*"],
                "limits": {"memory_bytes": 67_108_864, "cpu_ms": 500},
            })
        );
        assert_eq!(document(&["--kv"]).unwrap(), json!({"kv": true}));
    }

    #[test]
    fn flags_that_do_not_fit_are_refused() {
        for (args, needle) in [
            (
                &["--methods", "https://a.example.com=GET"][..],
                "no --outbound gives",
            ),
            (
                &["--outbound", "https://a.example.com", "--methods", "GET"][..],
                "ORIGIN=GET,POST",
            ),
            (
                &[
                    "--outbound",
                    "https://a.example.com",
                    "--methods",
                    "https://a.example.com=",
                ][..],
                "at least one method",
            ),
            (
                &["--private-network", "http://10.0.0.1"][..],
                "no --outbound",
            ),
            (&[][..], "say what to grant"),
            (&["--nothing", "--kv"][..], "cannot be used with"),
            (
                &["--file", "g.yaml", "--secret", "x"][..],
                "cannot be used with",
            ),
        ] {
            let message = document(args).unwrap_err();
            assert!(message.contains(needle), "{args:?}: {message}");
        }
    }
}
