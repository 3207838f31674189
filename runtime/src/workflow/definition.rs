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
    /// Reserved: waits for a matching event (not available yet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_for: Option<Value>,
    /// Reserved: waits for a human decision (not available yet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<Value>,
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
