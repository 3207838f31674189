//! What an expression may refer to where it is written: which variables,
//! which steps (only upstream ones) and which `env` constants.
//!
//! Checking is static, on [`References`](crate::workflow::expr::References);
//! nothing is evaluated here.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::names::{Dag, StepIds};
use super::problems::{Problem, join_path};
use crate::workflow::expr::{Expr, Template};

/// Variables every expression may use.
const EVERYWHERE: &[&str] = &["input", "steps", "run", "env"];
/// The attributes of `steps.<id>`.
const STEP_ATTRIBUTES: &[&str] = &["output", "status", "error"];

/// Where an expression sits, within its reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Field {
    /// A step's `if` or `for_each`, or `outputs`.
    Plain,
    /// A step's `with`; `item` and `index` exist when the step has
    /// `for_each`.
    With {
        /// Whether the step has `for_each`.
        for_each: bool,
    },
    /// A `wait_for` condition, which also sees `event`.
    WaitFor,
}

/// Who reads: a step of one of the DAGs, or the workflow's `outputs`.
#[derive(Debug)]
pub(super) struct Reader<'a> {
    /// The reading step's id; `None` for `outputs`.
    pub(super) step: Option<&'a str>,
    /// The reader's DAG (`Main` for `outputs`).
    pub(super) dag: Dag,
    /// Ids of the steps it may read.
    pub(super) visible: BTreeSet<&'a str>,
    /// Every step id.
    pub(super) ids: &'a StepIds<'a>,
    /// The workflow's constants.
    pub(super) env: &'a BTreeMap<String, Value>,
}

impl Reader<'_> {
    /// Checks every expression of `template`, written at `path`.
    pub(super) fn check_template(
        &self,
        template: &Template,
        path: &str,
        field: Field,
        problems: &mut Vec<Problem>,
    ) {
        for (inner, expr) in template.expressions() {
            self.check(expr, &join_path(path, &inner), field, problems);
        }
    }

    /// Checks one expression written at `path`.
    pub(super) fn check(&self, expr: &Expr, path: &str, field: Field, problems: &mut Vec<Problem>) {
        let references = expr.references();
        let allowed = self.variables(field);
        for variable in &references.variables {
            if !allowed.contains(&variable.as_str()) {
                problems.push(Problem::new(path, unknown_variable(variable, &allowed)));
            }
        }
        for (id, attribute) in &references.steps {
            if let Some(message) = self.step_problem(id, attribute.as_deref()) {
                problems.push(Problem::new(path, message));
            }
        }
        for name in &references.env {
            if !self.env.contains_key(name) {
                problems.push(Problem::new(path, self.unknown_env(name)));
            }
        }
    }

    fn variables(&self, field: Field) -> Vec<&'static str> {
        let mut allowed = EVERYWHERE.to_vec();
        if field == (Field::With { for_each: true }) {
            allowed.extend(["item", "index"]);
        }
        if field == Field::WaitFor {
            allowed.push("event");
        }
        if self.step.is_some() && self.dag == Dag::Compensation {
            allowed.push("error");
        }
        allowed
    }

    fn step_problem(&self, id: &str, attribute: Option<&str>) -> Option<String> {
        let reader = match self.step {
            Some(step) => format!("step `{step}`"),
            None => "`outputs`".to_string(),
        };
        let problem = match self.ids.get(id) {
            None => format!("`steps.{id}`: no step `{id}` in this workflow"),
            Some((Dag::Compensation, _)) if self.dag == Dag::Main => format!(
                "`steps.{id}` is a compensation step, which only runs after the run failed: \
                 {reader} cannot read it"
            ),
            Some(_) if self.step == Some(id) => {
                format!("`steps.{id}` is {reader} itself: a step cannot read its own result")
            }
            Some(_) if !self.visible.contains(id) => {
                format!("`steps.{id}` is not upstream of {reader}: add `{id}` to `needs`")
            }
            Some(_) => match attribute {
                Some(attribute) if !STEP_ATTRIBUTES.contains(&attribute) => format!(
                    "`steps.{id}.{attribute}`: a step has `output`, `status` and `error`, not \
                     `{attribute}`"
                ),
                _ => return None,
            },
        };
        Some(problem)
    }

    fn unknown_env(&self, name: &str) -> String {
        if self.env.is_empty() {
            format!("`env.{name}` is not defined: this workflow has no `env`")
        } else {
            let names: Vec<&str> = self.env.keys().map(String::as_str).collect();
            format!(
                "`env.{name}` is not defined (env has: {})",
                names.join(", ")
            )
        }
    }
}

fn unknown_variable(variable: &str, allowed: &[&str]) -> String {
    let available = format!("(available here: {})", allowed.join(", "));
    match variable {
        "item" | "index" => {
            format!("`{variable}` only exists in `with` of a `for_each` step {available}")
        }
        "error" => format!("`error` only exists in `on_failure` steps {available}"),
        "event" => format!("`event` only exists in `wait_for.if` {available}"),
        _ => format!("unknown variable `{variable}` {available}"),
    }
}
