//! `baton plugin push|list|show` and `baton workflow apply|list|show`
//! against a server. (`plugin grant|revoke|grants` live in `grants`.)

use std::process::ExitCode;

use reqwest::Method;
use serde_json::Value;

use super::super::args::{ApplyArgs, PluginShowArgs, PushArgs, RemoteOnly, WorkflowShowArgs};
use super::{Failed, client, finish, print_json, segment, table, text};

fn read(path: &std::path::Path) -> Result<Vec<u8>, Failed> {
    std::fs::read(path).map_err(|e| Failed::usage(format!("cannot read {}: {e}", path.display())))
}

fn plugin_rows(plugins: &Value) -> Vec<Vec<String>> {
    plugins
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            vec![
                text(p, "name"),
                text(p, "version"),
                text(p, "digest").chars().take(12).collect(),
                text(p, "created_at"),
                text(p, "description"),
            ]
        })
        .collect()
}

const PLUGIN_HEADER: &[&str] = &["NAME", "VERSION", "DIGEST", "UPLOADED", "DESCRIPTION"];

pub(crate) async fn push(args: PushArgs) -> ExitCode {
    finish(async {
        let client = client(&args.remote)?;
        let bytes = read(&args.file)?;
        let mut query = Vec::new();
        if let Some(name) = &args.name {
            query.push(format!("name={}", segment(name)));
        }
        if let Some(version) = &args.as_version {
            query.push(format!("version={}", segment(version)));
        }
        let path = if query.is_empty() {
            "/v1/plugins".to_string()
        } else {
            format!("/v1/plugins?{}", query.join("&"))
        };
        let plugin = client
            .send_bytes(Method::POST, &path, "application/wasm", bytes)
            .await?;
        if args.remote.json {
            print_json(&plugin);
        } else {
            println!(
                "pushed {}@{} ({})",
                text(&plugin, "name"),
                text(&plugin, "version"),
                text(&plugin, "digest")
            );
            let caps = &plugin["capabilities"];
            if caps.as_object().is_some_and(|c| {
                c.values()
                    .any(|v| v.as_array().is_some_and(|a| !a.is_empty()) || v == &Value::Bool(true))
            }) {
                println!("requests (nothing is granted by asking): {caps}");
            }
        }
        Ok(())
    })
    .await
}

pub(crate) async fn list_plugins(args: RemoteOnly) -> ExitCode {
    finish(async {
        let plugins = client(&args.remote)?.get("/v1/plugins").await?;
        if args.remote.json {
            print_json(&plugins);
        } else {
            table::print(PLUGIN_HEADER, &plugin_rows(&plugins));
        }
        Ok(())
    })
    .await
}

pub(crate) async fn show_plugin(args: PluginShowArgs) -> ExitCode {
    finish(async {
        let client = client(&args.remote)?;
        let path = match (args.plugin.split_once('@'), &args.plugin_version) {
            (Some(_), Some(_)) => {
                return Err(Failed::usage(
                    "give the version once: `name@version` or `name version`",
                ));
            }
            (Some((name, version)), None) => {
                format!("/v1/plugins/{}/{}", segment(name), segment(version))
            }
            (None, Some(version)) => {
                format!("/v1/plugins/{}/{}", segment(&args.plugin), segment(version))
            }
            (None, None) => format!("/v1/plugins/{}", segment(&args.plugin)),
        };
        let shown = client.get(&path).await?;
        if args.remote.json {
            print_json(&shown);
        } else if shown.is_object() {
            super::capabilities::print_plugin(&shown);
        } else {
            table::print(PLUGIN_HEADER, &plugin_rows(&shown));
        }
        Ok(())
    })
    .await
}

/// The `name` a workflow document gives, without validating the rest (the
/// server reports every problem).
fn document_name(source: &str) -> Result<String, Failed> {
    let value: serde_yaml_ng::Value = serde_yaml_ng::from_str(source)
        .map_err(|e| Failed::usage(format!("the file is not YAML or JSON: {e}")))?;
    value
        .get("name")
        .and_then(serde_yaml_ng::Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| Failed::usage("the workflow has no `name`"))
}

pub(crate) async fn apply(args: ApplyArgs) -> ExitCode {
    finish(async {
        let client = client(&args.remote)?;
        let bytes = read(&args.file)?;
        let source = String::from_utf8(bytes)
            .map_err(|_| Failed::usage(format!("{} is not UTF-8", args.file.display())))?;
        let name = document_name(&source)?;
        let content_type = if source.trim_start().starts_with('{') {
            "application/json"
        } else {
            "application/yaml"
        };
        let saved = client
            .send_bytes(
                Method::PUT,
                &format!("/v1/workflows/{}", segment(&name)),
                content_type,
                source.into_bytes(),
            )
            .await?;
        if args.remote.json {
            print_json(&saved);
        } else {
            println!(
                "saved {} version {}",
                text(&saved, "name"),
                text(&saved, "version")
            );
        }
        Ok(())
    })
    .await
}

/// Prints a `GET /v1/workflows` answer as a table.
pub(crate) fn print_workflows(workflows: &Value) {
    let rows: Vec<Vec<String>> = workflows
        .as_array()
        .into_iter()
        .flatten()
        .map(|w| {
            vec![
                text(w, "name"),
                text(w, "latest_version"),
                text(w, "updated_at"),
            ]
        })
        .collect();
    table::print(&["NAME", "VERSION", "UPDATED"], &rows);
}

/// Prints a `GET /v1/workflows/{name}` answer: a comment line, then the
/// document as it was saved.
pub(crate) fn print_workflow(shown: &Value) {
    println!(
        "# {} version {}, saved {}",
        text(shown, "name"),
        text(shown, "version"),
        text(shown, "created_at")
    );
    print!("{}", text(shown, "source"));
}

pub(crate) async fn list_workflows(args: RemoteOnly) -> ExitCode {
    finish(async {
        let workflows = client(&args.remote)?.get("/v1/workflows").await?;
        if args.remote.json {
            print_json(&workflows);
        } else {
            print_workflows(&workflows);
        }
        Ok(())
    })
    .await
}

pub(crate) async fn show_workflow(args: WorkflowShowArgs) -> ExitCode {
    finish(async {
        let mut path = format!("/v1/workflows/{}", segment(&args.name));
        if let Some(version) = args.workflow_version {
            path.push_str(&format!("?version={version}"));
        }
        let shown = client(&args.remote)?.get(&path).await?;
        if args.remote.json {
            print_json(&shown);
        } else {
            print_workflow(&shown);
        }
        Ok(())
    })
    .await
}
