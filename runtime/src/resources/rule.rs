//! Rules: when an event of some type arrives and a condition holds, start
//! a workflow with an input mapped from the event. With `correlate`, events
//! with the same key inside the window go to the run already started
//! instead of starting another (one incident per alert, however often it
//! fires).

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::events::EventPattern;
use crate::workflow::expr::{Expr, Template};
use crate::workflow::{Problem, join_problem_path};

/// What rule expressions may use.
pub const VARIABLES: &[&str] = &["event"];
/// Longest correlation window.
pub const MAX_WINDOW: Duration = Duration::from_secs(366 * 24 * 3600);

/// A rule document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    /// The rule's name.
    pub name: String,
    /// What it is for, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The event type it reacts to: exact, or with `*` for any run of
    /// characters.
    pub on: String,
    /// A CEL condition over `event`.
    #[serde(default, rename = "if", skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
    /// The workflow to start: `name` (its newest version when the event
    /// arrives) or `name@version`.
    pub workflow: String,
    /// The run's input: JSON whose strings may hold `${{ }}` expressions
    /// over `event`. Absent: `{"event": <the event>}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<Value>,
    /// De-duplication of repeated events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlate: Option<CorrelateSpec>,
    /// `false` keeps the rule without acting on events.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

fn is_true(value: &bool) -> bool {
    *value
}

/// Correlation of events into one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CorrelateSpec {
    /// A CEL expression over `event` giving the key, such as
    /// `event.subject` (the alert fingerprint).
    pub key: String,
    /// How long after the last matching event another one with the same
    /// key still goes to the same run, such as `1h`.
    pub window: String,
}

/// A compiled rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Its name.
    pub name: String,
    /// The event types it reacts to.
    pub pattern: EventPattern,
    /// Its condition.
    pub condition: Option<Expr>,
    /// The workflow it starts.
    pub workflow: String,
    /// A pinned version, or the newest.
    pub version: Option<i64>,
    /// The input template.
    pub input: Template,
    /// The correlation key and window.
    pub correlate: Option<(Expr, Duration)>,
    /// Whether it acts on events.
    pub enabled: bool,
}

impl Rule {
    /// Whether the rule's condition holds for the event seen in `scope`
    /// (no condition: it does).
    pub fn matches(
        &self,
        scope: &crate::workflow::expr::Scope<'_>,
    ) -> Result<bool, crate::workflow::expr::EvalError> {
        match &self.condition {
            Some(condition) => condition.evaluate_bool(scope),
            None => Ok(true),
        }
    }
}

/// Compiles a rule document.
pub fn compile(body: &Value, path: &str) -> Result<Rule, Vec<Problem>> {
    let spec: RuleSpec = super::read_spec(body, path)?;
    let at = |field: &str| join_problem_path(path, field);
    let mut problems = Vec::new();
    crate::workflow::check_name(&at("name"), "rule name", &spec.name, &mut problems);
    let pattern = EventPattern::parse(&spec.on)
        .map_err(|message| problems.push(Problem::new(at("on"), message)))
        .ok();
    let condition = spec
        .condition
        .as_deref()
        .map(|source| super::expression(&at("if"), source, VARIABLES, &mut problems));
    let workflow = super::workflow_reference(&at("workflow"), &spec.workflow, &mut problems);
    let default_input = json!({"event": "${{ event }}"});
    let input = super::template(
        &at("input"),
        spec.input.as_ref().unwrap_or(&default_input),
        VARIABLES,
        &mut problems,
    );
    let correlate = spec.correlate.as_ref().map(|c| {
        let key = super::expression(&at("correlate.key"), &c.key, VARIABLES, &mut problems);
        let window = super::duration(
            &at("correlate.window"),
            &c.window,
            MAX_WINDOW,
            "a window is at most 366 days",
            &mut problems,
        );
        key.zip(window)
    });
    if !problems.is_empty() {
        return Err(problems);
    }
    let (Some(pattern), Some((workflow, version)), Some(input)) = (pattern, workflow, input) else {
        return Err(vec![Problem::new(path, "the rule is incomplete")]);
    };
    Ok(Rule {
        name: spec.name,
        pattern,
        condition: condition.flatten(),
        workflow,
        version,
        input,
        correlate: correlate.flatten(),
        enabled: spec.enabled,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rule_compiles_with_its_defaults() {
        let rule = compile(
            &json!({"name": "cpu", "on": "alertmanager.alert.firing", "workflow": "incident",
                    "if": "event.data.labels.severity == 'critical'",
                    "correlate": {"key": "event.subject", "window": "1h"}}),
            "[0]",
        )
        .expect("compiles");
        assert_eq!(rule.workflow, "incident");
        assert_eq!(
            rule.correlate.as_ref().map(|c| c.1),
            Some(Duration::from_secs(3600))
        );
        assert!(rule.enabled);
    }

    #[test]
    fn every_problem_is_reported_with_its_path() {
        let problems = compile(
            &json!({"name": "Bad Name", "on": "a b", "workflow": "x@0",
                    "if": "input.n > 1", "input": {"a": "${{ event"},
                    "correlate": {"key": "event.subject", "window": "forever"}}),
            "[3]",
        )
        .expect_err("problems");
        let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "[3].name",
                "[3].on",
                "[3].if",
                "[3].workflow",
                "[3].input.a",
                "[3].correlate.window"
            ]
        );
        let unknown = compile(
            &json!({"name": "x", "on": "a", "workflow": "w", "what": 1}),
            "[0]",
        )
        .expect_err("unknown field");
        assert_eq!(unknown[0].path, "[0].what");
    }
}
