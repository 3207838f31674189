//! The durable engine end to end: real SQLite files, the `toolbox` guest
//! built from source, a test clock for every delay.

#![allow(clippy::unwrap_used, reason = "tests")]

mod support;

use std::time::Duration;

use baton::engine::{EngineError, EngineEvent, StartRun};
use baton::store::{RunStatus, StepStatus, Store};
use serde_json::json;
use support::engine::{Harness, step};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dag_runs_in_order_with_independent_steps_in_parallel() {
    let h = Harness::new().await;
    let state = h
        .run(
            r#"
name: diamond
steps:
  - id: a
    uses: toolbox
    with: { value: "${{ input.n }}" }
  - id: b
    needs: [a]
    uses: toolbox
    with: { value: "${{ steps.a.output.value * 2 }}", spin_ms: 300 }
  - id: c
    needs: [a]
    uses: toolbox
    with: { value: "${{ steps.a.output.value * 3 }}", spin_ms: 300 }
  - id: d
    needs: [b, c]
    uses: toolbox
    with: { value: "${{ steps.b.output.value + steps.c.output.value }}" }
outputs: "${{ steps.d.output.value }}"
"#,
            json!({"n": 7}),
        )
        .await;
    assert_eq!(state.status, RunStatus::Succeeded);
    assert_eq!(state.output, Some(json!(35)));
    let attempt = |id: &str| step(&state, id).attempts[0].clone();
    let (a, b, c, d) = (attempt("a"), attempt("b"), attempt("c"), attempt("d"));
    // Order: a before b and c, both before d.
    assert!(
        a.finished_at.clone().unwrap() <= b.started_at
            && a.finished_at.clone().unwrap() <= c.started_at
    );
    assert!(
        b.finished_at.clone().unwrap() <= d.started_at
            && c.finished_at.clone().unwrap() <= d.started_at
    );
    // Parallel: b and c were claimed in the same transaction, at the same
    // (test clock) instant, before either finished.
    assert_eq!(b.started_at, c.started_at);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn false_conditions_skip_and_skips_propagate_unless_told_otherwise() {
    let h = Harness::new().await;
    let state = h
        .run(
            r#"
name: conditions
steps:
  - id: check
    uses: toolbox
    with: { value: "${{ input.severity }}" }
  - id: page
    needs: [check]
    if: steps.check.output.value == 'critical'
    uses: toolbox
  - id: after-page
    needs: [page]
    uses: toolbox
  - id: report
    needs: [page]
    if_needs_skipped: run
    uses: toolbox
    with: { value: "${{ steps.page.status }}" }
  - id: ticket
    needs: [check]
    if: "${{ steps.check.output.value != 'critical' }}"
    uses: toolbox
outputs:
  report: "${{ steps.report.output.value }}"
"#,
            json!({"severity": "warning"}),
        )
        .await;
    assert_eq!(state.status, RunStatus::Succeeded, "{state:#?}");
    assert_eq!(step(&state, "page").status, StepStatus::Skipped);
    assert_eq!(step(&state, "after-page").status, StepStatus::Skipped);
    assert_eq!(
        step(&state, "after-page").error.as_ref().unwrap()["message"],
        "a need was skipped"
    );
    assert_eq!(step(&state, "report").status, StepStatus::Succeeded);
    assert_eq!(step(&state, "ticket").status, StepStatus::Succeeded);
    assert_eq!(state.output, Some(json!({"report": "skipped"})));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn for_each_maps_a_list_in_order_with_bounded_concurrency() {
    let mut h = Harness::new().await;
    h.save(
        r#"
name: fan
steps:
  - id: each
    for_each: input.hosts
    concurrency: 2
    uses: toolbox
    with: { value: "${{ item + '#' + string(index) }}", spin_ms: 20 }
outputs: "${{ steps.each.output.map(o, o.value) }}"
"#,
    )
    .await;
    let hosts: Vec<String> = (0..7).map(|i| format!("h{i}")).collect();
    let run = h.start("fan", json!({"hosts": hosts})).await;
    let mut running = 0i32;
    let mut most = 0;
    loop {
        match h.event(|e| e.run_id() == run.id).await {
            EngineEvent::Step {
                item: Some(_),
                status: StepStatus::Running,
                ..
            } => running += 1,
            EngineEvent::Step {
                item: Some(_),
                status: StepStatus::Succeeded,
                ..
            } => running -= 1,
            EngineEvent::Run { status, .. } if status.is_terminal() => break,
            _ => {}
        }
        most = most.max(running);
    }
    assert_eq!(most, 2, "at most `concurrency` elements run at once");
    let state = h.finish(&run.id).await;
    let expected: Vec<String> = (0..7).map(|i| format!("h{i}#{i}")).collect();
    assert_eq!(state.output, Some(json!(expected)));
    assert_eq!(step(&state, "each").items.len(), 7);
    // Each element has its own idempotency key.
    let keys: Vec<String> = step(&state, "each")
        .output
        .as_ref()
        .map(|_| (0..7).map(|i| format!("{}/each/{i}", run.id)).collect())
        .unwrap();
    assert_eq!(keys.len(), 7);

    // An empty list succeeds with an empty list.
    let empty = h.start("fan", json!({"hosts": []})).await;
    assert_eq!(h.finish(&empty.id).await.output, Some(json!([])));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retryable_failures_are_retried_with_exponential_backoff_on_the_clock() {
    let mut h = Harness::new().await;
    h.save(
        r#"
name: flaky
steps:
  - id: call
    uses: toolbox
    with: { fail_until_attempt: 3, value: ok }
    retry: { max_attempts: 5, backoff: exponential, initial: 10s, max: 1m }
"#,
    )
    .await;
    let run = h.start("flaky", json!({})).await;
    retry_scheduled(&mut h, &run.id).await;
    let state = h.engine.run_state(&run.id).await.unwrap();
    let call = step(&state, "call");
    assert_eq!(call.attempts.len(), 1);
    assert_eq!(
        call.due_at.as_deref(),
        Some("2026-01-01T00:00:10.000Z"),
        "first delay: initial"
    );
    h.clock.advance(Duration::from_secs(9));
    tokio::task::yield_now().await;
    assert_eq!(
        h.engine.run_state(&run.id).await.unwrap().steps[0]
            .attempts
            .len(),
        1,
        "not before its time"
    );
    h.clock.advance(Duration::from_secs(1));
    retry_scheduled(&mut h, &run.id).await;
    let state = h.engine.run_state(&run.id).await.unwrap();
    assert_eq!(step(&state, "call").attempts.len(), 2);
    assert_eq!(
        step(&state, "call").due_at.as_deref(),
        Some("2026-01-01T00:00:30.000Z"),
        "second delay doubles"
    );
    h.clock.advance(Duration::from_secs(20));
    let state = h.finish(&run.id).await;
    assert_eq!(state.status, RunStatus::Succeeded);
    let call = step(&state, "call");
    assert_eq!(call.output.as_ref().unwrap()["attempt"], 3);
    let statuses: Vec<&str> = call.attempts.iter().map(|a| a.status.as_str()).collect();
    assert_eq!(statuses, ["failed", "failed", "succeeded"]);
    assert_eq!(call.attempts[0].error_kind.as_deref(), Some("retryable"));
}

async fn retry_scheduled(h: &mut Harness, run: &str) {
    h.event(|e| {
        matches!(e, EngineEvent::Step { run_id, status: StepStatus::Ready, error: Some(_), .. } if run_id == run)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permanent_failures_are_not_retried_and_fail_the_run() {
    let h = Harness::new().await;
    let state = h
        .run(
            r#"
name: broken
steps:
  - id: call
    uses: toolbox
    with: { fail: permanent }
    retry: { max_attempts: 5, initial: 1s }
  - id: never
    needs: [call]
    uses: toolbox
"#,
            json!({}),
        )
        .await;
    assert_eq!(state.status, RunStatus::Failed);
    assert_eq!(step(&state, "call").attempts.len(), 1);
    assert_eq!(
        state.error,
        Some(json!({"step": "call", "kind": "permanent", "message": "asked to fail"}))
    );
    assert_eq!(step(&state, "never").status, StepStatus::Pending);
    assert!(step(&state, "never").attempts.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeouts_stop_an_attempt_and_are_retried() {
    let mut h = Harness::new().await;
    h.save(
        r#"
name: slow
steps:
  - id: spin
    uses: toolbox
    with: { spin_ms: 60000 }
    timeout: 200ms
    retry: { max_attempts: 2, initial: 5s }
"#,
    )
    .await;
    let run = h.start("slow", json!({})).await;
    retry_scheduled(&mut h, &run.id).await;
    h.clock.advance(Duration::from_secs(5));
    let state = h.finish(&run.id).await;
    assert_eq!(state.status, RunStatus::Failed);
    let spin = step(&state, "spin");
    assert_eq!(spin.attempts.len(), 2, "a timeout is retried");
    for attempt in &spin.attempts {
        assert_eq!(attempt.error_kind.as_deref(), Some("timeout"));
    }
    assert_eq!(spin.error.as_ref().unwrap()["kind"], "timeout");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_error_continue_lets_dependents_branch_on_the_failure() {
    let h = Harness::new().await;
    let state = h
        .run(
            r#"
name: tolerant
steps:
  - id: optional
    uses: toolbox
    with: { fail: permanent }
    on_error: continue
  - id: next
    needs: [optional]
    uses: toolbox
    with: { value: "${{ steps.optional.status + ': ' + steps.optional.error.message }}" }
outputs: "${{ steps.next.output.value }}"
"#,
            json!({}),
        )
        .await;
    assert_eq!(state.status, RunStatus::Succeeded);
    assert_eq!(state.output, Some(json!("failed: asked to fail")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_run_runs_its_compensation_steps() {
    let h = Harness::new().await;
    let state = h
        .run(
            r#"
name: provision
steps:
  - id: allocate
    uses: toolbox
    with: { value: vm-42 }
  - id: configure
    needs: [allocate]
    uses: toolbox
    with: { fail: permanent }
on_failure:
  - id: release
    uses: toolbox
    with: { value: "${{ 'release ' + steps.allocate.output.value + ' after ' + error.step }}" }
  - id: notify
    needs: [release]
    uses: toolbox
    with: { value: "${{ steps.release.output.value }}" }
"#,
            json!({}),
        )
        .await;
    assert_eq!(state.status, RunStatus::Failed);
    assert_eq!(state.error.as_ref().unwrap()["step"], "configure");
    let release = step(&state, "release");
    assert!(release.compensation);
    assert_eq!(release.status, StepStatus::Succeeded);
    assert_eq!(
        release.output.as_ref().unwrap()["value"],
        "release vm-42 after configure"
    );
    assert_eq!(step(&state, "notify").status, StepStatus::Succeeded);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn child_workflows_are_awaited_and_their_failure_fails_the_step() {
    let h = Harness::new().await;
    h.save(
        r#"
name: child
input: { type: object, required: [x] }
steps:
  - id: work
    uses: toolbox
    with: { value: "${{ input.x * 10 }}", fail: "${{ input.x < 0 ? 'permanent' : null }}" }
outputs: { result: "${{ steps.work.output.value }}" }
"#,
    )
    .await;
    let state = h
        .run(
            r#"
name: parent
steps:
  - id: call
    workflow: child
    with: { x: "${{ input.x }}" }
  - id: each
    for_each: "[1, 2]"
    workflow: child
    with: { x: "${{ item }}" }
outputs: { call: "${{ steps.call.output.result }}", each: "${{ steps.each.output.map(o, o.result) }}" }
"#,
            json!({"x": 4}),
        )
        .await;
    assert_eq!(state.status, RunStatus::Succeeded, "{state:#?}");
    assert_eq!(state.output, Some(json!({"call": 40, "each": [10, 20]})));
    let child_id = step(&state, "call").child_run.clone().unwrap();
    let child = h.engine.run_state(&child_id).await.unwrap();
    assert_eq!(child.parent_run.as_deref(), Some(state.id.as_str()));

    let failed = h.start("parent", json!({"x": -1})).await;
    let failed = h.finish(&failed.id).await;
    assert_eq!(failed.status, RunStatus::Failed);
    let call = step(&failed, "call");
    assert_eq!(call.error.as_ref().unwrap()["kind"], "child-failed");
    assert!(
        call.error.as_ref().unwrap()["message"]
            .as_str()
            .unwrap()
            .contains("step `work`: asked to fail")
    );

    // A child input that breaks the child's schema fails the step.
    let state = h
        .run(
            r#"
name: bad-parent
steps:
  - id: call
    workflow: child
    with: { y: 1 }
"#,
            json!({}),
        )
        .await;
    assert_eq!(
        step(&state, "call").error.as_ref().unwrap()["kind"],
        "invalid-input"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_interrupts_running_steps_and_starts_nothing_more() {
    let mut h = Harness::new().await;
    h.save(
        r#"
name: long
steps:
  - id: spin
    uses: toolbox
    with: { spin_ms: 60000 }
  - id: nap
    sleep: 1h
  - id: after
    needs: [spin, nap]
    uses: toolbox
"#,
    )
    .await;
    let run = h.start("long", json!({})).await;
    h.step_reaches(&run.id, "spin", "running").await;
    let started = std::time::Instant::now();
    let cancelled = h.engine.cancel_run(&run.id).await.unwrap();
    assert_eq!(cancelled.status, RunStatus::Cancelled);
    // The interrupted attempt is closed promptly (not after its 60 s spin).
    let state = loop {
        let state = h.engine.run_state(&run.id).await.unwrap();
        if step(&state, "spin").attempts[0].status != "running" {
            break state;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the attempt was not interrupted"
        );
        tokio::task::yield_now().await;
    };
    assert_eq!(step(&state, "spin").attempts[0].status, "cancelled");
    assert_eq!(step(&state, "spin").status, StepStatus::Cancelled);
    assert_eq!(step(&state, "nap").status, StepStatus::Cancelled);
    h.clock.advance(Duration::from_secs(7200));
    let state = h.engine.run_state(&run.id).await.unwrap();
    assert_eq!(step(&state, "after").status, StepStatus::Pending);
    assert!(matches!(
        h.engine.cancel_run(&run.id).await,
        Err(EngineError::Conflict(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retrying_a_failed_run_reruns_only_what_did_not_succeed() {
    let h = Harness::new().await;
    let state = h
        .run(
            r#"
name: second-chance
steps:
  - id: first
    uses: toolbox
    with: { value: 1 }
  - id: flaky
    needs: [first]
    uses: toolbox
    with: { fail_until_attempt: 2, value: 2 }
  - id: last
    needs: [flaky]
    uses: toolbox
    with: { value: "${{ steps.first.output.value + steps.flaky.output.value }}" }
outputs: "${{ steps.last.output.value }}"
"#,
            json!({}),
        )
        .await;
    assert_eq!(state.status, RunStatus::Failed);
    let retried = h.engine.retry_run(&state.id).await.unwrap();
    assert_eq!(retried.status, RunStatus::Running);
    let state = h.finish(&state.id).await;
    assert_eq!(state.status, RunStatus::Succeeded);
    assert_eq!(state.output, Some(json!(3)));
    assert_eq!(
        step(&state, "first").attempts.len(),
        1,
        "a completed step is not run again"
    );
    assert_eq!(step(&state, "flaky").attempts.len(), 2);
    assert!(matches!(
        h.engine.retry_run(&state.id).await,
        Err(EngineError::Conflict(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_idempotency_key_returns_the_same_run() {
    let h = Harness::new().await;
    h.save("name: once\nsteps:\n  - id: a\n    uses: toolbox\n")
        .await;
    let request = StartRun {
        idempotency_key: Some("alert-123".into()),
        ..StartRun::new("once", json!({}))
    };
    let first = h.engine.start_run(request.clone()).await.unwrap();
    let second = h.engine.start_run(request).await.unwrap();
    assert_eq!(first.id, second.id);
    let other = h.start("once", json!({})).await;
    assert_ne!(other.id, first.id);
    assert_eq!(h.engine.store().runs(None, 100).await.unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_stays_on_the_version_it_started_with() {
    let h = Harness::new().await;
    let v1 = h
        .save("name: pinned\nsteps:\n  - id: nap\n    sleep: 1m\n  - id: say\n    needs: [nap]\n    uses: toolbox\n    with: { value: one }\noutputs: \"${{ steps.say.output.value }}\"\n")
        .await;
    let old = h.start("pinned", json!({})).await;
    let v2 = h
        .save("name: pinned\nsteps:\n  - id: nap\n    sleep: 1m\n  - id: say\n    needs: [nap]\n    uses: toolbox\n    with: { value: two }\noutputs: \"${{ steps.say.output.value }}\"\n")
        .await;
    assert_eq!((v1, v2), (1, 2));
    let new = h.start("pinned", json!({})).await;
    h.clock.advance(Duration::from_secs(60));
    assert_eq!(h.finish(&old.id).await.output, Some(json!("one")));
    assert_eq!(h.finish(&new.id).await.output, Some(json!("two")));
    assert_eq!(h.finish(&old.id).await.version, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timers_survive_a_restart() {
    let mut h = Harness::new().await;
    h.save("name: later\nsteps:\n  - id: nap\n    sleep: 2h\n  - id: wake\n    needs: [nap]\n    uses: toolbox\n    with: { value: awake }\n").await;
    let run = h.start("later", json!({})).await;
    h.step_reaches(&run.id, "nap", "waiting").await;
    let h = h.restart().await;
    h.clock.advance(Duration::from_secs(2 * 3600));
    let state = h.finish(&run.id).await;
    assert_eq!(state.status, RunStatus::Succeeded);
    assert_eq!(
        step(&state, "wake").output.as_ref().unwrap()["value"],
        "awake"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inputs_are_checked_and_payloads_capped() {
    let h = Harness::with_config(baton::engine::EngineConfig {
        max_payload_bytes: 4096,
        ..Default::default()
    })
    .await;
    h.save("name: checked\ninput: { type: object, required: [n], properties: { n: { type: integer } } }\nsteps:\n  - id: a\n    uses: toolbox\n    with: { value: \"${{ input.n }}\" }\n").await;
    match h
        .engine
        .start_run(StartRun::new("checked", json!({"n": "x"})))
        .await
    {
        Err(EngineError::InputRejected(problems)) => {
            assert_eq!(problems, ["/n: \"x\" is not of type \"integer\""])
        }
        other => panic!("{other:?}"),
    }
    match h
        .engine
        .start_run(StartRun::new(
            "checked",
            json!({"n": 1, "pad": "x".repeat(5000)}),
        ))
        .await
    {
        Err(EngineError::PayloadTooLarge {
            size, limit: 4096, ..
        }) => assert!(size > 5000),
        other => panic!("{other:?}"),
    }
    assert!(
        h.engine.store().runs(None, 10).await.unwrap().is_empty(),
        "nothing was stored"
    );
    let state = h
        .run(
            "name: big-output\nsteps:\n  - id: a\n    uses: toolbox\n    with: { value: \"${{ input.text + input.text }}\" }\n",
            json!({"text": "y".repeat(3000)}),
        )
        .await;
    assert_eq!(
        step(&state, "a").error.as_ref().unwrap()["kind"],
        "payload-too-large"
    );
    match h.engine.start_run(StartRun::new("nope", json!({}))).await {
        Err(EngineError::NotFound(message)) => assert_eq!(message, "no workflow `nope`"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saving_reports_every_problem_with_its_path() {
    let h = Harness::new().await;
    let error = h
        .engine
        .save_workflow(
            r#"
name: bad
steps:
  - id: a
    uses: nothing-like-this
  - id: a
    uses: toolbox
    needs: [ghost]
  - id: c
    sleep: 5 parsecs
    if: "steps.a.output ==="
"#,
        )
        .await
        .unwrap_err();
    let EngineError::Invalid(problems) = error else {
        panic!("{error}")
    };
    let paths: Vec<&str> = problems.0.iter().map(|p| p.path.as_str()).collect();
    for expected in [
        "steps[0].uses",
        "steps[1].id",
        "steps[1].needs[0]",
        "steps[2].sleep",
        "steps[2].if",
    ] {
        assert!(
            paths.contains(&expected),
            "{expected} missing from {problems}"
        );
    }
    assert!(
        h.engine
            .store()
            .workflow_versions()
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugin_versions_are_immutable() {
    let h = Harness::new().await;
    let again = h
        .engine
        .add_plugin(&support::read(baton_test_programs::GUESTS_TOOLBOX))
        .await
        .unwrap();
    assert_eq!(again.name, "toolbox");
    assert_eq!(h.engine.store().plugins().await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compensation_is_best_effort_when_a_compensation_step_fails() {
    let h = Harness::new().await;
    let state = h
        .run(
            r#"
name: messy-rollback
steps:
  - id: work
    uses: toolbox
    with: { fail: permanent }
on_failure:
  - id: undo
    uses: toolbox
    with: { fail: permanent }
  - id: after-undo
    needs: [undo]
    uses: toolbox
  - id: tell
    uses: toolbox
    with: { value: "${{ error.kind }}" }
"#,
            json!({}),
        )
        .await;
    assert_eq!(state.status, RunStatus::Failed);
    assert_eq!(
        state.error.as_ref().unwrap()["step"],
        "work",
        "the run keeps its first error"
    );
    assert_eq!(step(&state, "undo").status, StepStatus::Failed);
    assert_eq!(step(&state, "after-undo").status, StepStatus::Cancelled);
    assert_eq!(
        step(&state, "tell").output.as_ref().unwrap()["value"],
        "permanent"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_for_each_does_not_starve_other_runs() {
    let mut h = Harness::with_config(baton::engine::EngineConfig {
        max_in_flight: 4,
        exclusive: true,
        ..Default::default()
    })
    .await;
    h.save(
        r#"
name: huge
steps:
  - id: each
    for_each: input.items
    concurrency: 50
    uses: toolbox
    with: { value: "${{ item }}", spin_ms: 2 }
"#,
    )
    .await;
    h.save("name: small\nsteps:\n  - id: one\n    uses: toolbox\n  - id: two\n    needs: [one]\n    uses: toolbox\n").await;
    let items: Vec<i64> = (0..300).collect();
    let huge = h.start("huge", json!({"items": items})).await;
    h.event(|e| matches!(e, EngineEvent::Step { run_id, item: Some(_), status: StepStatus::Succeeded, .. } if *run_id == huge.id))
        .await;
    let small = h.start("small", json!({})).await;
    let finished_first = h
        .event(|e| matches!(e, EngineEvent::Run { status, .. } if status.is_terminal()))
        .await;
    assert_eq!(
        finished_first.run_id(),
        small.id,
        "the small run waited for the whole fan-out"
    );
    let state = h.finish(&huge.id).await;
    assert_eq!(state.status, RunStatus::Succeeded);
    let each = step(&state, "each");
    let done = each
        .items
        .iter()
        .filter(|i| i.status == StepStatus::Succeeded)
        .count();
    assert_eq!(done, 300);
}
