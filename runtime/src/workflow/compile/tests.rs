//! Tests of [`compile`](super::compile): one per rule, written as small YAML
//! documents, plus a complete workflow that compiles.

use std::time::Duration;

use serde_json::json;

use super::*;
use crate::workflow::{NeedsSkipped, OnError, RetryPolicy};

fn catalog() -> StaticCatalog {
    let plugin = |name: &str, version: &str| {
        (
            name.to_string(),
            version.to_string(),
            format!("sha-{name}-{version}"),
        )
    };
    StaticCatalog {
        plugins: vec![
            plugin("echo", "1.0.0"),
            plugin("diagnose", "1.2.0"),
            plugin("diagnose", "1.10.0"),
            plugin("ticket", "2.0.0"),
            plugin("provision", "0.3.0"),
            plugin("notify", "1.0.0"),
            plugin("rollback", "1.0.0"),
        ],
        workflows: vec![("escalate".into(), 1), ("escalate".into(), 2)],
    }
}

fn try_compile(yaml: &str) -> Result<WorkflowPlan, Vec<Problem>> {
    let definition = parse_definition(yaml).map_err(|problems| problems.0)?;
    compile(definition, &catalog()).map_err(|problems| problems.0)
}

fn compiles(yaml: &str) -> WorkflowPlan {
    match try_compile(yaml) {
        Ok(plan) => plan,
        Err(problems) => panic!("{}", Problems(problems)),
    }
}

/// Asserts that compiling `yaml` reports a problem at exactly `path` whose
/// message contains `message`.
#[track_caller]
fn rejects(yaml: &str, path: &str, message: &str) {
    let problems = match try_compile(yaml) {
        Ok(_) => panic!("compiled, expected `{path}: {message}`"),
        Err(problems) => problems,
    };
    assert!(
        problems
            .iter()
            .any(|p| p.path == path && p.message.contains(message)),
        "expected `{path}: ...{message}...`, got:\n{}",
        Problems(problems)
    );
}

/// A workflow whose only step is `step` (YAML lines of one list item,
/// without the leading `- `), after a step `a` that echoes.
fn with_step(step: &str) -> String {
    let step = step.replace('\n', "\n    ");
    format!("name: wf\nsteps:\n  - id: a\n    uses: echo\n  - {step}\n")
}

// Names and ids.

#[test]
fn workflow_names_and_step_ids_are_checked() {
    rejects(
        "name: Incident Response\nsteps: [{id: a, sleep: 1s}]",
        "name",
        "`Incident Response` is not a valid workflow name",
    );
    rejects(
        &with_step("id: 2nd\nsleep: 1s"),
        "steps[1].id",
        "`2nd` is not a valid step id",
    );
}

#[test]
fn step_ids_are_unique_across_both_dags() {
    let yaml = "name: wf\nsteps: [{id: a, sleep: 1s}]\non_failure: [{id: a, uses: rollback}]";
    rejects(
        yaml,
        "on_failure[0].id",
        "duplicate step id `a` (also `steps[0].id`)",
    );
}

#[test]
fn a_workflow_needs_steps() {
    rejects(
        "name: wf\nsteps: []",
        "steps",
        "a workflow needs at least one step",
    );
}

// Step kinds.

#[test]
fn a_step_does_exactly_one_thing() {
    rejects(
        &with_step("id: b"),
        "steps[1]",
        "needs one of `uses`, `sleep`, `workflow`, `wait_for` or `approval`",
    );
    rejects(
        &with_step("id: b\nuses: echo\nsleep: 1s"),
        "steps[1]",
        "has `uses` and `sleep`",
    );
}

#[test]
fn wait_for_and_approval_steps_are_checked() {
    rejects(
        &with_step("id: b\nwait_for: {event: 'a b', timeout: 1h}"),
        "steps[1].wait_for.event",
        "cannot appear in an event type pattern",
    );
    rejects(
        &with_step("id: b\nwait_for: {event: deploy.done, timeout: 0s}"),
        "steps[1].wait_for.timeout",
        "longer than zero",
    );
    rejects(
        &with_step("id: b\nwait_for: {event: deploy.done, timeout: 1h, if: 'steps.b.output == 1'}"),
        "steps[1].wait_for.if",
        "a step cannot read its own result",
    );
    rejects(
        &with_step("id: b\nwait_for: {event: deploy.done, timeout: 1h}\nfor_each: '[1]'"),
        "steps[1].for_each",
        "not available on `wait_for` steps",
    );
    rejects(
        &with_step("id: b\napproval: {timeout: 1h, approvers: {roles: [viewer]}}"),
        "steps[1].approval.approvers.roles[0]",
        "cannot approve",
    );
    rejects(
        &with_step("id: b\napproval: {timeout: 1h}\ntimeout: 5m"),
        "steps[1].timeout",
        "use its own `timeout`",
    );
    rejects(
        &with_step("id: b\nuses: echo\nwith: {x: '${{ event.type }}'}"),
        "steps[1].with.x",
        "`event` only exists in `wait_for.if`",
    );
}

#[test]
fn with_is_only_for_plugins_and_workflows() {
    rejects(
        &with_step("id: b\nsleep: 1s\nwith: {x: 1}"),
        "steps[1].with",
        "`with` is only for `uses` and `workflow` steps",
    );
}

#[test]
fn concurrency_needs_for_each_and_is_positive() {
    rejects(
        &with_step("id: b\nuses: echo\nconcurrency: 2"),
        "steps[1].concurrency",
        "only applies to `for_each` steps",
    );
    rejects(
        &with_step("id: b\nuses: echo\nfor_each: '[1]'\nconcurrency: 0"),
        "steps[1].concurrency",
        "must be at least 1",
    );
}

#[test]
fn sleep_steps_cannot_fan_out() {
    rejects(
        &with_step("id: b\nsleep: 1s\nfor_each: '[1, 2]'"),
        "steps[1].for_each",
        "`for_each` is not available on `sleep` steps",
    );
}

// Needs.

#[test]
fn needs_must_name_a_step() {
    rejects(
        &with_step("id: b\nsleep: 1s\nneeds: [a, zz]"),
        "steps[1].needs[1]",
        "step `b` needs `zz`, which is not a step of this workflow",
    );
}

#[test]
fn needs_stay_inside_their_dag() {
    let yaml = "name: wf\nsteps: [{id: a, sleep: 1s, needs: [undo]}]\non_failure: [{id: undo, uses: rollback, needs: [a]}]";
    rejects(yaml, "steps[0].needs[0]", "`undo`, a compensation step");
    rejects(yaml, "on_failure[0].needs[0]", "`a`, a main step");
}

#[test]
fn a_step_cannot_need_itself_or_the_same_step_twice() {
    rejects(
        &with_step("id: b\nsleep: 1s\nneeds: [b]"),
        "steps[1].needs[0]",
        "step `b` needs itself",
    );
    rejects(
        &with_step("id: b\nsleep: 1s\nneeds: [a, a]"),
        "steps[1].needs[1]",
        "lists `a` in `needs` twice",
    );
}

#[test]
fn cycles_are_reported_with_their_path() {
    let yaml = "name: wf\nsteps:\n  - {id: a, sleep: 1s, needs: [c]}\n  - {id: b, sleep: 1s, needs: [a]}\n  - {id: c, sleep: 1s, needs: [b]}\n";
    rejects(yaml, "steps[0].needs[0]", "cycle: a -> c -> b -> a");
}

#[test]
fn steps_written_before_their_needs_are_reordered_stably() {
    let plan = compiles(
        "name: wf\nsteps:\n  - {id: late, uses: echo, needs: [early]}\n  - {id: free, uses: echo}\n  - {id: early, uses: echo}\n  - {id: last, uses: echo, needs: [late, free]}\n",
    );
    let order: Vec<&str> = plan.steps.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(order, ["free", "early", "late", "last"]);
    let needs: Vec<&[usize]> = plan.steps.iter().map(|s| s.needs.as_slice()).collect();
    assert_eq!(needs, [&[][..], &[], &[1], &[2, 0]]);
}

// Durations and retry.

#[test]
fn durations_must_parse_and_be_positive() {
    rejects(
        &with_step("id: b\nsleep: 5 parsecs"),
        "steps[1].sleep",
        "`5 parsecs` is not a duration (examples: 30s, 10m, 1h 30m)",
    );
    rejects(
        &with_step("id: b\nsleep: 0s"),
        "steps[1].sleep",
        "must be longer than zero",
    );
    rejects(
        &with_step("id: b\nuses: echo\nretry: {max_attempts: 3, max: soon}"),
        "steps[1].retry.max",
        "`soon` is not a duration",
    );
    rejects(
        &with_step("id: b\nuses: echo\nretry: {max_attempts: 3, initial: 0ms}"),
        "steps[1].retry.initial",
        "must be longer than zero",
    );
}

#[test]
fn sleeps_and_timeouts_have_upper_limits() {
    rejects(
        &with_step("id: b\nsleep: 400days"),
        "steps[1].sleep",
        "at most 366 days",
    );
    rejects(
        &with_step("id: b\nuses: echo\ntimeout: 2days"),
        "steps[1].timeout",
        "a timeout can be at most 24h",
    );
}

#[test]
fn retry_policies_are_bounded() {
    rejects(
        &with_step("id: b\nuses: echo\nretry: {max_attempts: 0}"),
        "steps[1].retry.max_attempts",
        "must be from 1 to 100",
    );
    rejects(
        &with_step("id: b\nuses: echo\nretry: {max_attempts: 101}"),
        "steps[1].retry.max_attempts",
        "got 101",
    );
    rejects(
        &with_step("id: b\nuses: echo\nretry: {max_attempts: 3, jitter: 1.5}"),
        "steps[1].retry.jitter",
        "`jitter` must be from 0 to 1, got 1.5",
    );
    rejects(
        &with_step("id: b\nuses: echo\nretry: {max_attempts: 3, initial: 1m, max: 10s}"),
        "steps[1].retry.initial",
        "`initial` (1m) is longer than `max` (10s)",
    );
}

// Expressions.

#[test]
fn syntax_errors_are_reported_at_their_field() {
    rejects(
        &with_step("id: b\nuses: echo\nif: 'input.n +'"),
        "steps[1].if",
        "syntax error at 1:",
    );
    rejects(
        &with_step("id: b\nuses: echo\nfor_each: '${{ [1, }}'"),
        "steps[1].for_each",
        "syntax error",
    );
    rejects(
        &with_step("id: b\nuses: echo\nwith:\n  host: '${{ input.host + }}'"),
        "steps[1].with.host",
        "syntax error",
    );
    rejects(
        "name: wf\nsteps: [{id: a, uses: echo}]\noutputs:\n  ticket: ['${{ steps.a.output ']",
        "outputs.ticket[0]",
        "never closed",
    );
}

#[test]
fn only_known_variables_may_be_used() {
    rejects(
        &with_step("id: b\nuses: echo\nif: foo > 1"),
        "steps[1].if",
        "unknown variable `foo` (available here: input, steps, run, env)",
    );
    rejects(
        &with_step("id: b\nuses: echo\nwith: {x: '${{ item }}'}"),
        "steps[1].with.x",
        "`item` only exists in `with` of a `for_each` step",
    );
    rejects(
        &with_step("id: b\nuses: echo\nfor_each: '[1, 2]'\nif: index > 0"),
        "steps[1].if",
        "`index` only exists in `with` of a `for_each` step",
    );
    rejects(
        &with_step("id: b\nuses: echo\nwith: {x: '${{ error.message }}'}"),
        "steps[1].with.x",
        "`error` only exists in `on_failure` steps",
    );
    compiles(&with_step(
        "id: b\nuses: echo\nfor_each: input.hosts\nwith: {host: '${{ item }}', n: '${{ index + 1 }}'}",
    ));
}

#[test]
fn steps_may_only_read_their_upstream() {
    let yaml = "name: wf\nsteps:\n  - {id: a, uses: echo}\n  - {id: b, uses: echo, needs: [a], with: {x: '${{ steps.c.output }}'}}\n  - {id: c, uses: echo, needs: [a]}\n";
    rejects(
        yaml,
        "steps[1].with.x",
        "`steps.c` is not upstream of step `b`: add `c` to `needs`",
    );
    rejects(
        &with_step("id: b\nuses: echo\nif: steps.zz.status == 'failed'"),
        "steps[1].if",
        "no step `zz`",
    );
    rejects(
        &with_step("id: b\nuses: echo\nneeds: [a]\nif: steps.a.outptu == 1"),
        "steps[1].if",
        "a step has `output`, `status` and `error`, not `outptu`",
    );
    rejects(
        &with_step("id: b\nuses: echo\nwith: '${{ steps.b.output }}'"),
        "steps[1].with",
        "cannot read its own result",
    );
    // Transitive needs are upstream too; dynamic access is not checked.
    compiles(
        "name: wf\nsteps:\n  - {id: a, uses: echo}\n  - {id: b, uses: echo, needs: [a]}\n  - {id: c, uses: echo, needs: [b], if: \"steps.a.status == 'succeeded' && steps['b'].output != null\"}\n",
    );
}

#[test]
fn compensation_and_outputs_see_main_steps() {
    let base = "name: wf\nsteps:\n  - {id: a, uses: echo}\n  - {id: b, uses: echo}\n";
    compiles(&format!(
        "{base}outputs: {{a: '${{{{ steps.a.output }}}}', b: '${{{{ steps.b.status }}}}'}}\non_failure:\n  - {{id: undo, uses: rollback, if: \"error.step == 'b'\", with: {{x: '${{{{ steps.a.output }}}}'}}}}\n  - {{id: tell, uses: notify, needs: [undo], with: {{x: '${{{{ steps.undo.output }}}}'}}}}\n"
    ));
    rejects(
        &format!(
            "{base}outputs: {{x: '${{{{ steps.undo.output }}}}'}}\non_failure: [{{id: undo, uses: rollback}}]"
        ),
        "outputs.x",
        "`steps.undo` is a compensation step",
    );
    rejects(
        &format!(
            "{base}on_failure:\n  - {{id: undo, uses: rollback}}\n  - {{id: tell, uses: notify, with: {{x: '${{{{ steps.undo.output }}}}'}}}}\n"
        ),
        "on_failure[1].with.x",
        "`steps.undo` is not upstream of step `tell`",
    );
    rejects(
        &format!(
            "{base}  - {{id: c, uses: echo, needs: [a], if: \"steps.undo.status == 'x'\"}}\non_failure: [{{id: undo, uses: rollback}}]"
        ),
        "steps[2].if",
        "`steps.undo` is a compensation step",
    );
}

#[test]
fn env_references_must_be_defined() {
    rejects(
        "name: wf\nenv: {region: eu}\nsteps: [{id: a, uses: echo, with: {x: '${{ env.zone }}'}}]",
        "steps[0].with.x",
        "`env.zone` is not defined (env has: region)",
    );
}

#[test]
fn constant_expressions_are_type_checked() {
    rejects(
        &with_step("id: b\nuses: echo\nif: '1 + 2'"),
        "steps[1].if",
        "expected a boolean, got a number",
    );
    rejects(
        &with_step("id: b\nuses: echo\nfor_each: \"'abc'\""),
        "steps[1].for_each",
        "expected a list, got a string",
    );
    let problems = try_compile(&with_step("id: b\nuses: echo\nif: 1 / 0 == 1")).unwrap_err();
    assert_eq!(problems[0].path, "steps[1].if");
    compiles(&with_step(
        "id: b\nuses: echo\nif: ${{ false }}\nfor_each: '[1, 2].map(x, x * 2)'",
    ));
}

// Plugins and child workflows.

#[test]
fn plugins_resolve_to_a_pinned_version() {
    rejects(
        &with_step("id: b\nuses: nope"),
        "steps[1].uses",
        "no plugin `nope`",
    );
    rejects(
        &with_step("id: b\nuses: echo@9.9.9"),
        "steps[1].uses",
        "no plugin `echo` (version 9.9.9)",
    );
    rejects(
        &with_step("id: b\nuses: echo@"),
        "steps[1].uses",
        "is not a plugin reference",
    );
    let plan = compiles(&with_step("id: b\nuses: diagnose"));
    match &plan.steps[1].action {
        StepAction::Plugin {
            name,
            version,
            digest,
            ..
        } => {
            assert_eq!((name.as_str(), version.as_str()), ("diagnose", "1.10.0"));
            assert_eq!(digest, "sha-diagnose-1.10.0");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_normalised_definition_recompiles_to_the_same_digests() {
    let plan = compiles(&with_step("id: b\nuses: diagnose"));
    assert_eq!(plan.definition.steps[0].uses.as_deref(), Some("echo@1.0.0"));
    assert_eq!(
        plan.definition.steps[1].uses.as_deref(),
        Some("diagnose@1.10.0")
    );
    let mut newer = catalog();
    newer
        .plugins
        .push(("diagnose".into(), "2.0.0".into(), "sha-new".into()));
    let again = compile(plan.definition.clone(), &newer).unwrap();
    assert!(matches!(
        &again.steps[1].action,
        StepAction::Plugin { digest, .. } if digest == "sha-diagnose-1.10.0"
    ));
}

#[test]
fn child_workflows_must_exist_and_not_be_the_caller() {
    rejects(
        &with_step("id: b\nworkflow: nope"),
        "steps[1].workflow",
        "no workflow `nope`",
    );
    rejects(
        &with_step("id: b\nworkflow: escalate@3"),
        "steps[1].workflow",
        "no workflow `escalate` (version 3)",
    );
    rejects(
        &with_step("id: b\nworkflow: escalate@latest"),
        "steps[1].workflow",
        "a workflow version is a number",
    );
    rejects(
        &with_step("id: b\nworkflow: wf"),
        "steps[1].workflow",
        "cannot run itself",
    );
}

// The input schema.

#[test]
fn the_input_schema_must_be_valid() {
    rejects(
        "name: wf\ninput: {type: object, properties: {n: {type: integr}}}\nsteps: [{id: a, uses: echo}]",
        "input",
        "not a valid JSON Schema",
    );
    let plan =
        compiles("name: wf\ninput: {type: object, required: [host]}\nsteps: [{id: a, uses: echo}]");
    let schema = plan.input_schema.unwrap();
    assert!(schema.check(&json!({"host": "db-1"})).is_ok());
    assert!(schema.check(&json!({})).is_err());
}

// Everything together.

#[test]
fn every_problem_is_reported_at_once() {
    let problems = try_compile(
        "name: Bad\nsteps:\n  - {id: a, sleep: forever}\n  - {id: b, uses: nope, needs: [zz], if: 'foo'}\n  - {id: b, uses: echo, retry: {max_attempts: 0}}\n",
    )
    .unwrap_err();
    let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "name",
            "steps[2].id",
            "steps[1].needs[0]",
            "steps[0].sleep",
            "steps[1].uses",
            "steps[1].if",
            "steps[2].retry.max_attempts",
        ]
    );
}

const INCIDENT: &str = r##"
name: incident
input:
  type: object
  required: [host]
env:
  channel: "#ops"
steps:
  - id: diagnose
    uses: diagnose@1.2.0
    with: {host: "${{ input.host }}"}
    timeout: 30s
    retry: {max_attempts: 3, backoff: constant, initial: 2s, jitter: 0.5}
  - id: ticket
    uses: ticket
    needs: [diagnose]
    with:
      title: "${{ input.host }} is down"
      findings: "${{ steps.diagnose.output }}"
  - id: provision
    uses: provision
    needs: [diagnose]
    for_each: steps.diagnose.output.replacements
    concurrency: 2
    with: {host: "${{ item }}", slot: "${{ index }}"}
    on_error: continue
  - id: settle
    sleep: 10m
    needs: [provision]
    if_needs_skipped: run
  - id: escalate
    workflow: escalate@2
    needs: [settle, ticket]
    if: steps.provision.status == 'failed'
    with: {ticket: "${{ steps.ticket.output.id }}"}
  - id: notify
    uses: notify
    needs: [ticket, settle]
    with: {channel: "${{ env.channel }}", text: "ticket ${{ steps.ticket.output.id }}"}
outputs:
  ticket: "${{ steps.ticket.output.id }}"
on_failure:
  - id: rollback
    uses: rollback
    if: error.step == 'provision'
    with: {hosts: "${{ steps.provision.output }}"}
  - id: tell
    uses: notify
    needs: [rollback]
    with: {text: "${{ error.message }}"}
"##;

#[test]
fn a_complete_workflow_compiles() {
    let plan = compiles(INCIDENT);
    let ids: Vec<&str> = plan.steps.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "diagnose",
            "ticket",
            "provision",
            "settle",
            "escalate",
            "notify"
        ]
    );
    assert_eq!(plan.steps[4].needs, [3, 1]);
    assert_eq!(plan.env, json!({"channel": "#ops"}));

    let diagnose = &plan.steps[0];
    assert_eq!(diagnose.timeout, Some(Duration::from_secs(30)));
    assert_eq!(
        diagnose.retry,
        RetryPolicy {
            max_attempts: 3,
            exponential: false,
            initial: Duration::from_secs(2),
            max: Duration::from_secs(300),
            jitter: 0.5,
        }
    );
    assert!(matches!(&diagnose.action, StepAction::Plugin { version, .. } if version == "1.2.0"));

    let provision = &plan.steps[2];
    let for_each = provision.for_each.as_ref().unwrap();
    assert_eq!(
        for_each.items.source(),
        "steps.diagnose.output.replacements"
    );
    assert_eq!(for_each.concurrency, 2);
    assert_eq!(provision.on_error, OnError::Continue);
    assert_eq!(provision.retry, RetryPolicy::default());

    assert!(matches!(plan.steps[3].action, StepAction::Sleep(d) if d == Duration::from_secs(600)));
    assert_eq!(plan.steps[3].if_needs_skipped, NeedsSkipped::Run);
    assert_eq!(plan.steps[1].if_needs_skipped, NeedsSkipped::Skip);
    assert!(matches!(
        &plan.steps[4].action,
        StepAction::Workflow { name, version: Some(2), .. } if name == "escalate"
    ));
    assert_eq!(
        plan.steps[4].condition.as_ref().unwrap().source(),
        "steps.provision.status == 'failed'"
    );

    let compensation: Vec<(&str, &[usize])> = plan
        .on_failure
        .iter()
        .map(|s| (s.id.as_str(), s.needs.as_slice()))
        .collect();
    assert_eq!(compensation, [("rollback", &[][..]), ("tell", &[0][..])]);
    assert!(plan.outputs.is_some());
    assert_eq!(plan.step("tell").unwrap().action.kind(), "plugin");
    assert_eq!(
        plan.definition.steps[1].uses.as_deref(),
        Some("ticket@2.0.0")
    );
}

/// The complete workflows shown in `docs/workflows.md` compile, so the
/// reference cannot drift from the rules.
#[test]
fn the_documented_examples_compile() {
    let docs = include_str!("../../../../docs/workflows.md");
    let plugin = |name: &str, version: &str| (name.into(), version.into(), format!("sha-{name}"));
    let catalog = StaticCatalog {
        plugins: vec![
            plugin("greet", "0.1.0"),
            plugin("diagnostics", "1.4.0"),
            plugin("ticketing", "3.0.0"),
            plugin("provisioner", "2.1.0"),
            plugin("slack-notify", "1.0.0"),
        ],
        workflows: vec![("page-oncall".into(), 3)],
    };
    let documents: Vec<&str> = docs
        .split("```yaml\n")
        .skip(1)
        .filter_map(|block| block.split("```").next())
        .filter(|block| block.lines().any(|line| line.starts_with("name: ")))
        .collect();
    assert_eq!(documents.len(), 2, "hello and incident-response");
    for document in documents {
        let definition = parse_definition(document).unwrap();
        if let Err(problems) = compile(definition, &catalog) {
            panic!("{problems}\n\n{document}");
        }
    }
}
