//! Declarative resources besides workflows: [rules](rule) (event ->
//! condition -> workflow), [schedules](schedule) (cron -> workflow),
//! [policies](policy) (what may run) and [webhooks](webhook) (generic JSON
//! hooks turned into events).
//!
//! Each kind has a document shape (the `*Spec` types, what authors write
//! and what is stored) and a compiled form the engine uses, built only by
//! its `compile` function, which reports every problem with its path.
//! [`parse_documents`] reads a multi-document YAML (or JSON) file of any
//! kinds, workflows included, for `apply`. Nothing here stores or runs
//! anything.

mod document;
pub mod policy;
pub mod rule;
pub mod schedule;
mod set;
pub mod webhook;

pub use document::{Document, Kind, parse_documents};
pub use set::ResourceSet;

use serde_json::Value;

use crate::workflow::expr::{Expr, Template};
use crate::workflow::{Problem, join_problem_path};

/// A resource of any kind but `Workflow`, compiled.
#[derive(Debug, Clone)]
pub enum Resource {
    /// A rule.
    Rule(rule::Rule),
    /// A schedule.
    Schedule(schedule::Schedule),
    /// A policy.
    Policy(policy::Policy),
    /// A webhook.
    Webhook(webhook::Webhook),
}

impl Resource {
    /// Compiles a stored or submitted document of `kind` (not `Workflow`).
    /// `path` prefixes problem paths.
    pub fn compile(kind: Kind, body: &Value, path: &str) -> Result<Resource, Vec<Problem>> {
        match kind {
            Kind::Rule => rule::compile(body, path).map(Resource::Rule),
            Kind::Schedule => schedule::compile(body, path).map(Resource::Schedule),
            Kind::Policy => policy::compile(body, path).map(Resource::Policy),
            Kind::Webhook => webhook::compile(body, path).map(Resource::Webhook),
            Kind::Workflow => Err(vec![Problem::new(path, "workflows are not compiled here")]),
        }
    }

    /// Its kind.
    pub fn kind(&self) -> Kind {
        match self {
            Resource::Rule(_) => Kind::Rule,
            Resource::Schedule(_) => Kind::Schedule,
            Resource::Policy(_) => Kind::Policy,
            Resource::Webhook(_) => Kind::Webhook,
        }
    }

    /// Its name.
    pub fn name(&self) -> &str {
        match self {
            Resource::Rule(r) => &r.name,
            Resource::Schedule(s) => &s.name,
            Resource::Policy(p) => &p.name,
            Resource::Webhook(w) => &w.name,
        }
    }

    /// The workflow it starts, if any (name, pinned version).
    pub fn workflow(&self) -> Option<(&str, Option<i64>)> {
        match self {
            Resource::Rule(r) => Some((&r.workflow, r.version)),
            Resource::Schedule(s) => Some((&s.workflow, s.version)),
            _ => None,
        }
    }
}

/// Reads a spec from JSON with serde, each problem with its path.
pub(crate) fn read_spec<T: serde::de::DeserializeOwned>(
    body: &Value,
    path: &str,
) -> Result<T, Vec<Problem>> {
    serde_path_to_error::deserialize(body).map_err(|error| {
        let inner = error.path().to_string();
        let inner = if inner == "." { String::new() } else { inner };
        vec![Problem::new(
            join_problem_path(path, &inner),
            error.inner().to_string(),
        )]
    })
}

/// Parses a bare or `${{ }}` CEL expression and checks that it uses only
/// `allowed` variables.
pub(crate) fn expression(
    path: &str,
    source: &str,
    allowed: &[&str],
    problems: &mut Vec<Problem>,
) -> Option<Expr> {
    match Expr::parse_bare_or_wrapped(source) {
        Ok(expr) => {
            check_variables(path, &expr, allowed, problems);
            Some(expr)
        }
        Err(message) => {
            problems.push(Problem::new(path, message));
            None
        }
    }
}

/// Parses a template and checks that it uses only `allowed` variables.
pub(crate) fn template(
    path: &str,
    value: &Value,
    allowed: &[&str],
    problems: &mut Vec<Problem>,
) -> Option<Template> {
    match Template::parse(value) {
        Ok(template) => {
            for (inner, expr) in template.expressions() {
                check_variables(&join_problem_path(path, &inner), expr, allowed, problems);
            }
            Some(template)
        }
        Err(found) => {
            problems.extend(
                found
                    .into_iter()
                    .map(|(inner, message)| Problem::new(join_problem_path(path, &inner), message)),
            );
            None
        }
    }
}

fn check_variables(path: &str, expr: &Expr, allowed: &[&str], problems: &mut Vec<Problem>) {
    for variable in &expr.references().variables {
        if !allowed.contains(&variable.as_str()) {
            problems.push(Problem::new(
                path,
                format!(
                    "unknown variable `{variable}` (available here: {})",
                    allowed.join(", ")
                ),
            ));
        }
    }
}

/// `name` or `name@<version number>` of a workflow.
pub(crate) fn workflow_reference(
    path: &str,
    reference: &str,
    problems: &mut Vec<Problem>,
) -> Option<(String, Option<i64>)> {
    let (name, version) = match reference.split_once('@') {
        Some((name, version)) => {
            match version.parse::<i64>() {
                Ok(number) if number >= 1 => (name, Some(number)),
                _ => {
                    problems.push(Problem::new(
                    path,
                    format!("`{reference}`: a workflow version is a number from 1, such as `{name}@3`"),
                ));
                    return None;
                }
            }
        }
        None => (reference, None),
    };
    let before = problems.len();
    crate::workflow::check_name(path, "workflow name", name, problems);
    (problems.len() == before).then(|| (name.to_string(), version))
}

/// A duration at `path`, longer than zero and at most `max`.
pub(crate) fn duration(
    path: &str,
    text: &str,
    max: std::time::Duration,
    limit: &str,
    problems: &mut Vec<Problem>,
) -> Option<std::time::Duration> {
    crate::workflow::parse_duration(path, text, Some((max, limit)), problems)
}
