//! `baton apply -f FILE`, `baton get KIND [NAME]` and `baton delete KIND
//! NAME` against a server: files of resources of every kind, and the rules,
//! schedules, policies and webhooks they hold. Workflows are listed and
//! shown through `/v1/workflows` (as `baton workflow list|show` does); they
//! keep their versions and are never deleted. What is valid is for the
//! server to say: nothing here reads the documents.

use std::process::ExitCode;

use baton::resources::Kind;
use serde_json::Value;

use super::super::args::{DeleteArgs, GetArgs, ResourceApplyArgs, ResourceKindArg};
use super::registry::{print_workflow, print_workflows};
use super::{Failed, client, finish, print_json, segment, table, text};

/// The kind a command-line word names.
fn kind(arg: ResourceKindArg) -> Kind {
    match arg {
        ResourceKindArg::Workflows => Kind::Workflow,
        ResourceKindArg::Rules => Kind::Rule,
        ResourceKindArg::Schedules => Kind::Schedule,
        ResourceKindArg::Policies => Kind::Policy,
        ResourceKindArg::Webhooks => Kind::Webhook,
    }
}

/// Where a kind is listed in `/v1/resources`; workflows have their own
/// routes.
fn collection(kind: Kind) -> Option<&'static str> {
    match kind {
        Kind::Workflow => None,
        Kind::Rule => Some("rules"),
        Kind::Schedule => Some("schedules"),
        Kind::Policy => Some("policies"),
        Kind::Webhook => Some("webhooks"),
    }
}

/// `Rule/high-cpu created (revision 1)`: one document of an apply answer.
fn applied_line(resource: &Value) -> String {
    let kind = text(resource, "kind");
    let counter = if kind == Kind::Workflow.as_str() {
        "version"
    } else {
        "revision"
    };
    format!(
        "{kind}/{} {} ({counter} {})",
        text(resource, "name"),
        text(resource, "action"),
        text(resource, "version")
    )
}

pub(crate) async fn apply(args: ResourceApplyArgs) -> ExitCode {
    finish(async {
        let source = crate::cli::input::read_text(&args.file).map_err(Failed::usage)?;
        let applied = client(&args.remote)?.apply(&source, args.dry_run).await?;
        if args.remote.json {
            print_json(&applied);
            return Ok(());
        }
        for resource in applied["resources"].as_array().into_iter().flatten() {
            println!("{}", applied_line(resource));
        }
        if args.dry_run {
            eprintln!("dry run: nothing was saved");
        }
        Ok(())
    })
    .await
}

pub(crate) async fn get(args: GetArgs) -> ExitCode {
    finish(async {
        let client = client(&args.remote)?;
        let collection = collection(kind(args.kind));
        let shown = match (collection, &args.name) {
            (None, None) => client.get("/v1/workflows").await?,
            (None, Some(name)) => {
                client
                    .get(&format!("/v1/workflows/{}", segment(name)))
                    .await?
            }
            (Some(collection), None) => client.resources(collection).await?,
            (Some(collection), Some(name)) => client.resource(collection, name).await?,
        };
        if args.remote.json {
            print_json(&shown);
            return Ok(());
        }
        match (collection, &args.name) {
            (None, None) => print_workflows(&shown),
            (None, Some(_)) => print_workflow(&shown),
            (Some(_), None) => print_resources(&shown),
            (Some(_), Some(_)) => print_resource(&shown),
        }
        Ok(())
    })
    .await
}

pub(crate) async fn delete(args: DeleteArgs) -> ExitCode {
    finish(async {
        let kind = kind(args.kind);
        let Some(collection) = collection(kind) else {
            return Err(Failed::usage(
                "workflows keep their versions and cannot be deleted (delete takes rules, \
                 schedules, policies or webhooks)",
            ));
        };
        client(&args.remote)?
            .delete_resource(collection, &args.name)
            .await?;
        if !args.remote.json {
            println!("{kind}/{} deleted", args.name);
        }
        Ok(())
    })
    .await
}

/// A `/v1/resources/{kind}` answer as a table.
fn print_resources(resources: &Value) {
    let rows: Vec<Vec<String>> = resources
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| vec![text(r, "name"), text(r, "revision"), text(r, "updated_at")])
        .collect();
    table::print(&["NAME", "REVISION", "UPDATED"], &rows);
}

/// One resource as the YAML document that saved it (webhook secrets
/// redacted), under a comment line with its revision.
fn print_resource(resource: &Value) {
    println!(
        "# {} {} revision {}, updated {}",
        text(resource, "kind"),
        text(resource, "name"),
        text(resource, "revision"),
        text(resource, "updated_at")
    );
    print!("{}", document(resource));
}

/// `kind`, then the spec in the order its kind declares its fields (`name`
/// first), as YAML; JSON if it cannot be written as YAML.
fn document(resource: &Value) -> String {
    use baton::resources::{
        policy::PolicySpec, rule::RuleSpec, schedule::ScheduleSpec, webhook::WebhookSpec,
    };
    use serde_yaml_ng::{Mapping, Value as Yaml};
    let kind = text(resource, "kind");
    let spec = &resource["spec"];
    let body = match Kind::parse(&kind) {
        Some(Kind::Rule) => in_field_order::<RuleSpec>(spec),
        Some(Kind::Schedule) => in_field_order::<ScheduleSpec>(spec),
        Some(Kind::Policy) => in_field_order::<PolicySpec>(spec),
        Some(Kind::Webhook) => in_field_order::<WebhookSpec>(spec),
        _ => None,
    }
    .or_else(|| serde_yaml_ng::to_value(spec).ok());
    let Some(Yaml::Mapping(fields)) = body else {
        return format!("{spec}\n");
    };
    let mut mapping = Mapping::new();
    mapping.insert("kind".into(), Yaml::String(kind));
    mapping.extend(fields);
    serde_yaml_ng::to_string(&mapping).unwrap_or_else(|_| format!("{spec}\n"))
}

/// A spec as its document type writes it, or `None` when it is not one
/// (a server newer than this client).
fn in_field_order<T>(spec: &Value) -> Option<serde_yaml_ng::Value>
where
    T: serde::de::DeserializeOwned + serde::Serialize,
{
    let typed: T = serde_json::from_value(spec.clone()).ok()?;
    serde_yaml_ng::to_value(typed).ok()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn apply_lines_name_versions_and_revisions() {
        let workflow =
            json!({"kind": "Workflow", "name": "incident", "action": "unchanged", "version": 3});
        let rule = json!({"kind": "Rule", "name": "high-cpu", "action": "created", "version": 1});
        assert_eq!(
            super::applied_line(&workflow),
            "Workflow/incident unchanged (version 3)"
        );
        assert_eq!(
            super::applied_line(&rule),
            "Rule/high-cpu created (revision 1)"
        );
    }

    #[test]
    fn a_resource_prints_as_the_document_that_saved_it() {
        let shown = json!({"kind": "Rule", "name": "high-cpu", "revision": 2,
            "spec": {"name": "high-cpu", "on": "alertmanager.alert.firing", "workflow": "incident",
                     "correlate": {"key": "event.subject", "window": "1h"}}});
        let text = super::document(&shown);
        assert!(
            text.starts_with(
                "kind: Rule\nname: high-cpu\non: alertmanager.alert.firing\nworkflow: incident\n"
            ),
            "{text}"
        );
        assert!(
            text.ends_with("correlate:\n  key: event.subject\n  window: 1h\n"),
            "{text}"
        );
        let unknown = json!({"kind": "Ticket", "name": "t", "spec": {"name": "t", "b": 1, "a": 2}});
        assert_eq!(
            super::document(&unknown),
            "kind: Ticket\na: 2\nb: 1\nname: t\n"
        );
    }
}
