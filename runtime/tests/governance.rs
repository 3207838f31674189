//! Time-driven orchestration on a real engine and SQLite file, with the
//! test clock: `wait_for` and approval timeouts, and schedules across a
//! simulated downtime (missed occurrences run once, or are skipped), with
//! their overlap policies.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on anything unexpected"
)]

mod support;

use std::time::Duration;

use baton::store::{OrchestrationReads, Store};
use serde_json::json;

use support::engine::Harness;

const WAITS: &str = r#"
kind: Workflow
name: waits
steps:
  - id: resolved
    wait_for:
      event: alert.resolved
      if: event.subject == 'db01'
      timeout: 10m
  - id: ok
    approval:
      timeout: 1h
      on_timeout: approve
  - id: never
    needs: [ok]
    approval:
      timeout: 30m
outputs:
  timed_out: "${{ steps.resolved.output.timed_out }}"
  auto: "${{ steps.ok.output }}"
  rejected: "${{ steps.never.output.approved }}"
"#;

#[tokio::test]
async fn waits_and_approvals_time_out_with_their_default_decision() {
    let mut harness = Harness::new().await;
    harness
        .engine
        .apply(WAITS, "local", false)
        .await
        .expect("apply");
    let run = harness.start("waits", json!({})).await;
    harness.step_reaches(&run.id, "resolved", "waiting").await;
    harness.clock.advance(Duration::from_secs(10 * 60));
    harness.step_reaches(&run.id, "ok", "waiting").await;
    harness.clock.advance(Duration::from_secs(60 * 60));
    harness.step_reaches(&run.id, "never", "waiting").await;
    harness.clock.advance(Duration::from_secs(30 * 60));
    let state = harness.finish(&run.id).await;
    let output = state.output.expect("an output");
    assert_eq!(output["timed_out"], true);
    assert_eq!(output["auto"]["approved"], true);
    assert_eq!(output["auto"]["timed_out"], true);
    assert_eq!(output["auto"]["by"], json!(null));
    assert_eq!(output["rejected"], false);
    let approvals = harness
        .engine
        .store()
        .approvals(&baton::store::ApprovalQuery {
            limit: 10,
            ..Default::default()
        })
        .await
        .expect("approvals");
    let statuses: Vec<&str> = approvals.iter().map(|a| a.status.as_str()).collect();
    assert_eq!(statuses, ["expired", "expired"]);
}

fn schedule(catch_up: &str, overlap: &str) -> String {
    format!(
        r#"
kind: Workflow
name: hourly
steps:
  - id: hold
    sleep: 90m
---
kind: Schedule
name: hourly
cron: "0 * * * *"
timezone: Europe/Paris
workflow: hourly
input: {{at: "${{{{ schedule.time }}}}"}}
catch_up: {catch_up}
overlap: {overlap}
"#
    )
}

async fn runs(harness: &Harness) -> Vec<baton::store::RunRecord> {
    let mut runs = harness.engine.store().runs(None, 100).await.expect("runs");
    runs.sort_by_key(|r| r.created_at);
    runs
}

/// Waits (a guard against hangs) until `count` runs exist.
async fn runs_reach(harness: &Harness, count: usize) -> Vec<baton::store::RunRecord> {
    let deadline = std::time::Instant::now() + support::engine::PATIENCE;
    loop {
        let runs = runs(harness).await;
        if runs.len() >= count {
            return runs;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{} runs, not {count}",
            runs.len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_schedule_runs_each_occurrence_and_a_missed_one_once_after_downtime() {
    let harness = Harness::new().await;
    // The clock stands at 2026-01-01T00:00:00Z; the first occurrence is
    // 01:00 UTC.
    harness
        .engine
        .apply(&schedule("once", "allow"), "local", false)
        .await
        .expect("apply");
    assert!(runs(&harness).await.is_empty());
    harness.clock.advance(Duration::from_secs(3600));
    let first = runs_reach(&harness, 1).await;
    assert_eq!(first[0].started_by, "schedule:hourly");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&first[0].input).expect("json")["at"],
        "2026-01-01T01:00:00.000Z"
    );
    // Down from 01:30 to 06:10: five occurrences were missed; one run
    // catches up, for the latest.
    harness.clock.advance(Duration::from_secs(30 * 60));
    let harness = harness
        .restart_after(Duration::from_secs(4 * 3600 + 40 * 60))
        .await;
    let after = runs_reach(&harness, 2).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let after_settle = runs(&harness).await;
    assert_eq!(after_settle.len(), 2, "one run for all missed occurrences");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&after[1].input).expect("json")["at"],
        "2026-01-01T06:00:00.000Z"
    );
    // The next occurrence runs on time again.
    harness.clock.advance(Duration::from_secs(50 * 60));
    runs_reach(&harness, 3).await;
}

#[tokio::test]
async fn missed_occurrences_can_be_skipped_and_overlaps_skipped_or_queued() {
    let harness = Harness::new().await;
    harness
        .engine
        .apply(&schedule("skip", "skip"), "local", false)
        .await
        .expect("apply");
    let harness = harness
        .restart_after(Duration::from_secs(3 * 3600 + 10 * 60))
        .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        runs(&harness).await.is_empty(),
        "missed occurrences skipped"
    );
    // 03:10 -> 04:00: on time, a run; it holds 90 minutes, so 05:00 is
    // skipped (overlap skip) and 06:00 runs.
    harness.clock.advance(Duration::from_secs(50 * 60));
    runs_reach(&harness, 1).await;
    harness.clock.advance(Duration::from_secs(3600));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        runs(&harness).await.len(),
        1,
        "05:00 overlaps and is skipped"
    );
    harness.clock.advance(Duration::from_secs(3600));
    runs_reach(&harness, 2).await;

    // Queue: the overlapping occurrence starts when the last run ends.
    harness
        .engine
        .apply(&schedule("skip", "queue"), "local", false)
        .await
        .expect("apply");
    // 06:00 run holds until 07:30; 07:00 is queued.
    harness.clock.advance(Duration::from_secs(3600));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        runs(&harness).await.len(),
        2,
        "07:00 waits for the 06:00 run"
    );
    harness.clock.advance(Duration::from_secs(31 * 60));
    let queued = runs_reach(&harness, 3).await;
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&queued[2].input).expect("json")["at"],
        "2026-01-01T07:00:00.000Z"
    );
}

const CORRELATED: &str = r#"
kind: Workflow
name: incident
steps:
  - id: resolved
    wait_for: {event: alert.resolved, timeout: 1d}
---
kind: Rule
name: alerts
on: alert.firing
workflow: incident
input: {fingerprint: "${{ event.subject }}"}
correlate: {key: event.subject, window: 10m}
"#;

fn firing(id: &str) -> baton::store::EventRecord {
    baton::store::EventRecord {
        seq: 0,
        id: id.into(),
        source: "test".into(),
        kind: "alert.firing".into(),
        subject: Some("db01".into()),
        time: None,
        datacontenttype: None,
        dataschema: None,
        data: None,
        data_base64: None,
        extensions: "{}".into(),
        received_at: 0,
        received_by: "test".into(),
    }
}

async fn outcome(harness: &Harness, seq: i64) -> (String, Option<String>) {
    let matches = harness
        .engine
        .store()
        .event_matches(seq)
        .await
        .expect("matches");
    assert_eq!(matches.len(), 1, "{matches:?}");
    (matches[0].outcome.clone(), matches[0].run_id.clone())
}

#[tokio::test]
async fn a_repeated_event_goes_to_the_running_run_inside_the_window_only() {
    let harness = Harness::new().await;
    harness
        .engine
        .apply(CORRELATED, "local", false)
        .await
        .expect("apply");
    let seq = |seqs: Vec<Option<i64>>| seqs[0].expect("stored");
    let first = seq(harness
        .engine
        .ingest(vec![firing("a")])
        .await
        .expect("ingest"));
    let (started, run) = outcome(&harness, first).await;
    assert_eq!(started, "started");
    // Inside the window (each delivery moves it on): delivered.
    harness.clock.advance(Duration::from_secs(8 * 60));
    let second = seq(harness
        .engine
        .ingest(vec![firing("b")])
        .await
        .expect("ingest"));
    assert_eq!(
        outcome(&harness, second).await,
        ("delivered".into(), run.clone())
    );
    harness.clock.advance(Duration::from_secs(8 * 60));
    let third = seq(harness
        .engine
        .ingest(vec![firing("c")])
        .await
        .expect("ingest"));
    assert_eq!(
        outcome(&harness, third).await,
        ("delivered".into(), run.clone())
    );
    // Past the window: a new run, although the first is still waiting.
    harness.clock.advance(Duration::from_secs(11 * 60));
    let fourth = seq(harness
        .engine
        .ingest(vec![firing("d")])
        .await
        .expect("ingest"));
    let (outcome_after, new_run) = outcome(&harness, fourth).await;
    assert_eq!(outcome_after, "started");
    assert_ne!(new_run, run);
    assert_eq!(runs(&harness).await.len(), 2);
}
