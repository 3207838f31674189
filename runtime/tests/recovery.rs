//! Crash recovery with a real process: `baton workflow run` is killed with
//! SIGKILL in the middle of hundreds of runs, `baton workflow resume`
//! finishes them, and the database proves that every acknowledged run
//! completed with the right output and that no completed step ran again.

#![allow(clippy::unwrap_used, reason = "tests")]

mod support;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use baton::store::{RunStatus, SqliteOptions, SqliteStore, Store};
use baton_test_programs::GUESTS_TOOLBOX;
use support::BATON;

const RUNS: usize = 300;
const KILL_AFTER_STEPS: usize = 450;

const FLOW: &str = r#"
name: chain
steps:
  - id: a
    uses: toolbox
    with: { value: "${{ input.n }}", spin_ms: 2 }
  - id: b
    needs: [a]
    uses: toolbox
    with: { value: "${{ steps.a.output.value + 1 }}", spin_ms: 2 }
  - id: c
    needs: [b]
    uses: toolbox
    # Fails once, then waits for a durable retry timer: however fast the
    # first process is, no run can end before the kill (which comes after
    # 450 of the 600 `a` and `b` steps).
    with: { value: "${{ steps.b.output.value * 2 }}", spin_ms: 2, fail_until_attempt: 2 }
    retry: { max_attempts: 3, initial: 2s }
outputs: "${{ steps.c.output.value }}"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_process_loses_nothing_and_repeats_no_completed_step() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let flow = dir.path().join("flow.yaml");
    std::fs::write(&flow, FLOW).unwrap();
    let inputs = dir.path().join("inputs.jsonl");
    let lines: Vec<String> = (0..RUNS).map(|n| format!("{{\"n\": {n}}}")).collect();
    std::fs::write(&inputs, lines.join("\n")).unwrap();
    let plugin = format!("toolbox={GUESTS_TOOLBOX}");

    // First process: start every run, get killed mid-way.
    let mut child = Command::new(BATON)
        .args(["workflow", "run"])
        .arg(&flow)
        .arg("--inputs")
        .arg(&inputs)
        .arg("--data-dir")
        .arg(&data)
        .args(["--plugin", &plugin, "--concurrency", "16"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let acknowledged = std::thread::spawn(move || {
        stdout
            .lines()
            .map_while(Result::ok)
            .collect::<Vec<String>>()
    });
    let mut completed_steps = 0;
    for line in stderr.lines().map_while(Result::ok) {
        if line.ends_with(": succeeded") && !line.contains(" run ") {
            completed_steps += 1;
            if completed_steps == KILL_AFTER_STEPS {
                child.kill().unwrap(); // SIGKILL
                break;
            }
        }
    }
    assert_eq!(
        completed_steps, KILL_AFTER_STEPS,
        "the first process ended before it was killed"
    );
    child.wait().unwrap();
    let acknowledged = acknowledged.join().unwrap();
    assert!(
        !acknowledged.is_empty(),
        "no start was acknowledged before the kill"
    );

    // Second process: finish what was left.
    let resumed = Command::new(BATON)
        .args(["workflow", "resume", "--quiet", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    let summary = String::from_utf8_lossy(&resumed.stderr);
    assert!(resumed.status.success(), "resume failed: {summary}");
    let resumed_runs: usize = summary
        .lines()
        .find_map(|l| {
            l.strip_suffix(" did not")
                .and_then(|l| l.split(" runs:").next())
        })
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no summary in {summary}"));
    assert!(
        resumed_runs > 0,
        "the kill left no run unfinished: {summary}"
    );

    // The database: every acknowledged run succeeded with its own output,
    // and every step has exactly one successful attempt, its last.
    let store = SqliteStore::open(&SqliteOptions::new(data.join("baton.db")))
        .await
        .unwrap();
    let runs = store.runs(None, 10_000).await.unwrap();
    assert!(runs.len() >= acknowledged.len() && runs.len() <= RUNS);
    assert!(
        runs.iter().all(|r| r.status == RunStatus::Succeeded),
        "a stored run did not finish"
    );
    let by_id: HashMap<&str, _> = runs.iter().map(|r| (r.id.as_str(), r)).collect();
    let mut abandoned = 0;
    for id in &acknowledged {
        let run = by_id
            .get(id.as_str())
            .unwrap_or_else(|| panic!("run {id} was lost"));
        assert_eq!(run.status, RunStatus::Succeeded, "run {id}");
        let n: i64 = serde_json::from_str::<serde_json::Value>(&run.input).unwrap()["n"]
            .as_i64()
            .unwrap();
        assert_eq!(
            run.output.as_deref(),
            Some(((n + 1) * 2).to_string().as_str()),
            "run {id}"
        );
        let attempts = store.attempts(id).await.unwrap();
        for step in ["a", "b", "c"] {
            let mut mine: Vec<_> = attempts.iter().filter(|a| a.step_id == step).collect();
            mine.sort_by_key(|a| a.attempt);
            let succeeded: Vec<_> = mine.iter().filter(|a| a.status == "succeeded").collect();
            assert_eq!(succeeded.len(), 1, "run {id} step {step}: {mine:?}");
            assert_eq!(
                mine.last().unwrap().status,
                "succeeded",
                "run {id} step {step} ran after completing: {mine:?}"
            );
            abandoned += mine.iter().filter(|a| a.status == "abandoned").count();
        }
    }
    eprintln!("{resumed_runs} runs resumed, {abandoned} attempts abandoned by the killed process");
}

/// Without `exclusive` (several processes may share a database), a row
/// leased by a process that died is taken over once its lease has expired,
/// and not before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_lease_of_a_dead_process_is_taken_over() {
    use baton::engine::{Engine, EngineConfig, TestClock};
    use baton::wasm::{Executor, ExecutorConfig};

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let flow = dir.path().join("flow.yaml");
    std::fs::write(
        &flow,
        "name: stuck\nsteps:\n  - id: spin\n    uses: toolbox\n    with: { spin_ms: 600000, spin_before_attempt: 2, value: done }\n",
    )
    .unwrap();
    let plugin = format!("toolbox={GUESTS_TOOLBOX}");
    let mut child = Command::new(BATON)
        .args(["workflow", "run"])
        .arg(&flow)
        .arg("--data-dir")
        .arg(&data)
        .args(["--plugin", &plugin, "--lease", "10s"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    for line in stderr.lines().map_while(Result::ok) {
        if line.ends_with("spin: running") {
            break;
        }
    }
    child.kill().unwrap(); // SIGKILL, mid-attempt
    child.wait().unwrap();

    let store = SqliteStore::open(&SqliteOptions::new(data.join("baton.db")))
        .await
        .unwrap();
    let run = store.runs(None, 10).await.unwrap().pop().unwrap();
    let mut config = ExecutorConfig::new(dir.path().join("cache"), BATON);
    config.pool.max_concurrent_invocations = 4;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let clock = TestClock::new(now);
    let engine = Engine::start(
        store,
        Executor::new(config).unwrap(),
        std::sync::Arc::new(clock.clone()),
        EngineConfig {
            exclusive: false,
            ..EngineConfig::default()
        },
    )
    .await
    .unwrap();
    // The lease (10 s) has not expired yet: nothing is taken over.
    let state = engine.run_state(&run.id).await.unwrap();
    assert_eq!(state.steps[0].attempts.len(), 1);
    assert_eq!(state.steps[0].attempts[0].status, "running");
    // Past the lease (and the next scan), the row is taken over and runs.
    clock.advance(std::time::Duration::from_secs(60));
    let ended = tokio::time::timeout(support::engine::PATIENCE, engine.wait_for_run(&run.id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ended.status, RunStatus::Succeeded);
    let state = engine.run_state(&run.id).await.unwrap();
    let attempts = &state.steps[0].attempts;
    assert_eq!(attempts.len(), 2);
    assert_eq!(attempts[0].status, "abandoned");
    assert_eq!(attempts[0].error_kind.as_deref(), Some("lease-expired"));
    assert_eq!(attempts[1].status, "succeeded");
    engine.shutdown().await;
}
