//! Policies: governance over what runs. A policy applies at one point (a
//! plugin step about to start, a run about to start, or an approval being
//! decided), has a CEL condition and an effect:
//!
//! - `deny`: the step fails (or the run does not start, or the decision is
//!   refused) with a policy error naming the policy;
//! - `require_approval`: an approval gate, with the policy's approvers, is
//!   put before the step (or the run);
//! - `allow`: an explicit exception. It overrides `require_approval`, and at
//!   the approval point it lets whoever started a run approve it
//!   (separation of duties is otherwise enforced).
//!
//! Of all policies whose condition holds, `deny` wins over `allow`, which
//! wins over `require_approval`; with none, the action goes ahead. A
//! condition that cannot be evaluated counts as matched for `deny` and
//! `require_approval` (fail closed) and as not matched for `allow`.

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::workflow::expr::{Expr, Scope};
use crate::workflow::{Approvers, Problem, join_problem_path};

/// Default time an approval gate waits.
pub const DEFAULT_GATE_TIMEOUT: Duration = Duration::from_secs(24 * 3600);
/// Longest time an approval gate waits.
pub const MAX_GATE_TIMEOUT: Duration = Duration::from_secs(366 * 24 * 3600);

/// A policy document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicySpec {
    /// The policy's name.
    pub name: String,
    /// What it is for, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Where it applies: `step` (default), `run` or `approval`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on: Option<Point>,
    /// A CEL condition. At `step`: `workflow` ({name, version}), `step`
    /// ({id, kind}), `plugin` ({name, version, digest}), `input` (the
    /// rendered step input), `run` ({id, workflow, version, input,
    /// started_by}), `actor` (who started the run) and `now` (a timestamp;
    /// `in_window(now, 'Mon-Fri 09:00-17:00', 'Europe/Paris')`). At `run`:
    /// the same without `step` and `plugin`; `input` is the run's. At
    /// `approval`: `workflow`, `step`, `run`, `approval` ({id, gate,
    /// policy, requested_by}), `actor` (who decides) and `now`.
    #[serde(rename = "if")]
    pub condition: String,
    /// `deny`, `require_approval` or `allow`.
    pub effect: Effect,
    /// With `require_approval`: who may approve (empty: any operator or
    /// admin).
    #[serde(default, skip_serializing_if = "Approvers::is_empty")]
    pub approvers: Approvers,
    /// With `require_approval`: how long the gate waits (default 24h);
    /// then it is rejected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    /// Told to whoever is refused or asked to approve.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Where a policy applies.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Point {
    /// Before every plugin step (each for_each element included).
    #[default]
    Step,
    /// When a run starts.
    Run,
    /// When an approval is decided.
    Approval,
}

impl Point {
    /// The variables a condition may use here.
    pub fn variables(self) -> &'static [&'static str] {
        match self {
            Point::Step => &["workflow", "step", "plugin", "input", "run", "actor", "now"],
            Point::Run => &["workflow", "input", "run", "actor", "now"],
            Point::Approval => &["workflow", "step", "run", "approval", "actor", "now"],
        }
    }

    /// `step`, `run` or `approval`.
    pub fn as_str(self) -> &'static str {
        match self {
            Point::Step => "step",
            Point::Run => "run",
            Point::Approval => "approval",
        }
    }
}

/// What a policy does when its condition holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    /// Refuse.
    Deny,
    /// Ask a human first.
    RequireApproval,
    /// Go ahead (an exception to `require_approval`).
    Allow,
}

impl Effect {
    /// `deny`, `require_approval` or `allow`.
    pub fn as_str(self) -> &'static str {
        match self {
            Effect::Deny => "deny",
            Effect::RequireApproval => "require_approval",
            Effect::Allow => "allow",
        }
    }
}

/// A compiled policy.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Its name.
    pub name: String,
    /// Where it applies.
    pub point: Point,
    /// Its condition.
    pub condition: Expr,
    /// Its effect.
    pub effect: Effect,
    /// Approvers of its gates.
    pub approvers: Approvers,
    /// How long its gates wait.
    pub timeout: Duration,
    /// Its message.
    pub message: Option<String>,
}

/// The outcome of evaluating the policies of one point.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// The effect that wins.
    pub effect: Effect,
    /// The policy that decided.
    pub policy: String,
    /// Its message, or why its condition failed.
    pub message: String,
    /// Approvers, for `require_approval`.
    pub approvers: Approvers,
    /// Gate timeout, for `require_approval`.
    pub timeout: Duration,
    /// Every policy whose condition held, with its effect.
    pub matched: Vec<(String, Effect)>,
}

/// Evaluates `policies` (of one point, in name order) in `scope`; `None`
/// when none matched.
pub fn decide<'a>(
    policies: impl Iterator<Item = &'a Policy>,
    scope: &Scope<'_>,
) -> Option<Decision> {
    let mut matched: Vec<(&Policy, Option<String>)> = Vec::new();
    for policy in policies {
        match policy.condition.evaluate_bool(scope) {
            Ok(true) => matched.push((policy, None)),
            Ok(false) => {}
            Err(error) if policy.effect != Effect::Allow => {
                matched.push((
                    policy,
                    Some(format!("its condition failed, so it applies: {error}")),
                ));
            }
            Err(_) => {}
        }
    }
    let winner = [Effect::Deny, Effect::Allow, Effect::RequireApproval]
        .into_iter()
        .find_map(|effect| matched.iter().find(|(p, _)| p.effect == effect))?;
    let (policy, failure) = winner;
    Some(Decision {
        effect: policy.effect,
        policy: policy.name.clone(),
        message: failure
            .clone()
            .or_else(|| policy.message.clone())
            .unwrap_or_else(|| format!("policy `{}` applies", policy.name)),
        approvers: policy.approvers.clone(),
        timeout: policy.timeout,
        matched: matched
            .iter()
            .map(|(p, _)| (p.name.clone(), p.effect))
            .collect(),
    })
}

/// Compiles a policy document.
pub fn compile(body: &Value, path: &str) -> Result<Policy, Vec<Problem>> {
    let spec: PolicySpec = super::read_spec(body, path)?;
    let at = |field: &str| join_problem_path(path, field);
    let mut problems = Vec::new();
    crate::workflow::check_name(&at("name"), "policy name", &spec.name, &mut problems);
    let point = spec.on.unwrap_or_default();
    let condition = super::expression(&at("if"), &spec.condition, point.variables(), &mut problems);
    let gate = spec.effect == Effect::RequireApproval;
    if !gate && !spec.approvers.is_empty() {
        problems.push(Problem::new(
            at("approvers"),
            "`approvers` only applies to `require_approval` policies",
        ));
    }
    if !gate && spec.timeout.is_some() {
        problems.push(Problem::new(
            at("timeout"),
            "`timeout` only applies to `require_approval` policies",
        ));
    }
    if gate && point == Point::Approval {
        problems.push(Problem::new(
            at("effect"),
            "`require_approval` cannot apply to approvals themselves (use `deny` or `allow`)",
        ));
    }
    crate::workflow::check_approvers_at(&at("approvers"), &spec.approvers, &mut problems);
    let timeout = match &spec.timeout {
        Some(text) => super::duration(
            &at("timeout"),
            text,
            MAX_GATE_TIMEOUT,
            "a gate waits at most 366 days",
            &mut problems,
        ),
        None => Some(DEFAULT_GATE_TIMEOUT),
    };
    if !problems.is_empty() {
        return Err(problems);
    }
    let (Some(condition), Some(timeout)) = (condition, timeout) else {
        return Err(vec![Problem::new(path, "the policy is incomplete")]);
    };
    Ok(Policy {
        name: spec.name,
        point,
        condition,
        effect: spec.effect,
        approvers: spec.approvers,
        timeout,
        message: spec.message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn policy(name: &str, condition: &str, effect: &str) -> Policy {
        compile(
            &json!({"name": name, "if": condition, "effect": effect}),
            "[0]",
        )
        .expect(name)
    }

    #[test]
    fn deny_beats_allow_beats_require_approval() {
        let plugin = json!({"name": "compute"});
        let extra = [("plugin", &plugin)];
        let scope = Scope {
            extra: &extra,
            ..Scope::default()
        };
        let gate = policy("a-gate", "plugin.name == 'compute'", "require_approval");
        let allow = policy("b-allow", "plugin.name.startsWith('comp')", "allow");
        let deny = policy("c-deny", "plugin.name == 'other'", "deny");
        let decision = decide([&gate, &allow, &deny].into_iter(), &scope).expect("a decision");
        assert_eq!(
            (decision.effect, decision.policy.as_str()),
            (Effect::Allow, "b-allow")
        );
        let decision = decide([&gate, &deny].into_iter(), &scope).expect("a decision");
        assert_eq!(decision.effect, Effect::RequireApproval);
        assert_eq!(decide([&deny].into_iter(), &scope), None);
    }

    #[test]
    fn failing_conditions_fail_closed_except_for_allow() {
        let scope = Scope::default();
        let deny = policy("deny", "plugin.name == 'x'", "deny");
        let decision = decide([&deny].into_iter(), &scope).expect("denied");
        assert!(
            decision.message.contains("condition failed"),
            "{}",
            decision.message
        );
        let allow = policy("allow", "plugin.name == 'x'", "allow");
        assert_eq!(decide([&allow].into_iter(), &scope), None);
    }

    #[test]
    fn conditions_may_only_use_their_point_variables() {
        let problems = compile(
            &json!({"name": "p", "on": "run", "if": "plugin.name == 'x'", "effect": "deny",
                    "approvers": {"roles": ["admin"]}}),
            "[2]",
        )
        .expect_err("problems");
        let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(paths, ["[2].if", "[2].approvers"]);
    }
}
