//! The workflow file format, exactly as authors write it (YAML or JSON).
//!
//! These types only describe the shape of a document: every field is here,
//! unknown fields are refused, and the JSON Schema published in
//! `docs/workflow.schema.json` is generated from them. Whether a document
//! makes sense (ids, needs, cycles, durations, expressions, plugins) is
//! decided by [`compile`](super::compile), which turns a [`Definition`] into a
//! [`WorkflowPlan`](super::WorkflowPlan).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A workflow document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "Baton workflow")]
pub struct Definition {
    /// The workflow's name: lowercase letters, digits, `-` and `_`, starting
    /// with a letter, at most 64 characters. Saving a document under a name
    /// creates a new version of that workflow.
    pub name: String,
    /// What the workflow does, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// A JSON Schema (draft 2020-12) that a run's input must satisfy; checked
    /// when the run starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<Value>,
    /// Constants available to expressions as `env.<name>`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, Value>,
    /// The steps: a DAG through `needs`.
    pub steps: Vec<StepDefinition>,
    /// The run's output: any JSON value; strings may hold `${{ }}`
    /// expressions over `input`, `steps`, `run` and `env`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outputs: Option<Value>,
    /// Compensation: steps that run when the run fails, after every other
    /// step has stopped. They see `error` (the step, kind and message that
    /// failed the run) besides the usual context.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub on_failure: Vec<StepDefinition>,
}

/// One step. Exactly one of `uses`, `sleep`, `workflow`, `wait_for` and
/// `approval` says what it does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StepDefinition {
    /// Unique in the workflow (compensation steps included): lowercase
    /// letters, digits, `-` and `_`, starting with a letter.
    pub id: String,
    /// Runs a plugin: `name` (its newest version when saved) or
    /// `name@version`. Resolved to an exact component digest when the
    /// workflow is saved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uses: Option<String>,
    /// The input of a plugin step or child workflow: any JSON value; strings
    /// may hold `${{ }}` expressions. Absent, the input is `{}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub with: Option<Value>,
    /// A durable timer, such as `30s`, `10m` or `1h 30m`. Nothing is held in
    /// memory while it runs and it survives restarts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sleep: Option<String>,
    /// Starts a run of another workflow (`name` or `name@version`) with
    /// `with` as its input and waits for it; its output is the child's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow: Option<String>,
    /// Waits durably for an ingested event; its output is
    /// `{timed_out, event}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_for: Option<WaitForDefinition>,
    /// Waits for a human decision; its output is `{approved, decision, by,
    /// comment, decided_at, timed_out}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<ApprovalDefinition>,
    /// Steps that must finish first. Steps that do not depend on each other
    /// run in parallel.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub needs: Vec<String>,
    /// A CEL condition (with or without `${{ }}`); when false the step is
    /// `skipped`.
    #[serde(default, rename = "if", skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
    /// What to do when one of `needs` was skipped: `skip` this step too (the
    /// default) or `run` it anyway.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub if_needs_skipped: Option<NeedsSkipped>,
    /// A CEL expression giving a list; the step runs once per element with
    /// `item` and `index` set, and its output is the list of outputs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub for_each: Option<String>,
    /// With `for_each`: how many elements run at once (default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<u32>,
    /// Wall-clock limit of one attempt, such as `30s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    /// Retries of retryable failures and timeouts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetryDefinition>,
    /// `fail` (the default) fails the run when the step fails; `continue`
    /// records the failure and lets dependents run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_error: Option<OnError>,
}

/// A `wait_for` step: the event it waits for and how long.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WaitForDefinition {
    /// The event type: exact, or a pattern where `*` is any run of
    /// characters (`alertmanager.alert.*`).
    pub event: String,
    /// A CEL condition over `event` (and `input`, `steps`, `run`, `env`),
    /// such as `event.subject == input.fingerprint`.
    #[serde(default, rename = "if", skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
    /// How long to wait, such as `30m` (at most 366 days). Then the step
    /// succeeds with `timed_out: true` and `event: null`.
    pub timeout: String,
}

/// An `approval` step: who decides, what they are told, and how long they
/// have.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApprovalDefinition {
    /// Who may decide. Empty: any operator or admin.
    #[serde(default, skip_serializing_if = "Approvers::is_empty")]
    pub approvers: Approvers,
    /// What approvers are asked: text that may hold `${{ }}` expressions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// How long to wait for a decision, such as `4h` (at most 366 days).
    pub timeout: String,
    /// The decision when nobody decides in time (`reject` by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_timeout: Option<Verdict>,
}

/// Who may decide an approval: token names or roles (`operator` includes
/// admins). Either matches.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Approvers {
    /// Roles: `operator` or `admin`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    /// Token names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tokens: Vec<String>,
}

impl Approvers {
    /// Whether no approver is named.
    pub fn is_empty(&self) -> bool {
        self.roles.is_empty() && self.tokens.is_empty()
    }
}

/// A decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Go ahead.
    Approve,
    /// Do not.
    Reject,
}

impl Verdict {
    /// `approve` or `reject`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Approve => "approve",
            Verdict::Reject => "reject",
        }
    }
}

/// How a step is retried.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RetryDefinition {
    /// Attempts in total, the first included (at least 1, at most 100).
    pub max_attempts: u32,
    /// `constant` or `exponential` (the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff: Option<BackoffKind>,
    /// The first delay (default `1s`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial: Option<String>,
    /// The longest delay (default `5m`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<String>,
    /// A fraction from 0 to 1: each delay is drawn uniformly from
    /// `delay * (1 - jitter)` to `delay` (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jitter: Option<f64>,
}

/// The shape of the delays between attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BackoffKind {
    /// The same delay every time.
    Constant,
    /// The delay doubles after each attempt, up to the maximum.
    Exponential,
}

/// What a step's failure does to the run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OnError {
    /// The run fails (and its compensation runs).
    #[default]
    Fail,
    /// The step is recorded as failed and its dependents run.
    Continue,
}

/// What a step does when one of its `needs` was skipped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum NeedsSkipped {
    /// It is skipped too.
    #[default]
    Skip,
    /// It runs (its `if:` still applies).
    Run,
}
