//! Engine benchmarks (a bench binary: each figure is one end-to-end
//! measurement, repeated, on a real SQLite file with `synchronous=FULL`).
//!
//! - throughput: 1,000 runs of a 5-step DAG of trivial steps; step
//!   completions per second from the first start to the last run's end;
//! - latency: one run of 40 sequential steps each computing fibo(10), from
//!   start to end;
//! - memory: resident memory of the process with 10,000 runs parked in a
//!   `sleep` step.
//!
//! `cargo bench -p baton --bench engine` (add `-- throughput`, `latency` or
//! `memory` to run one).

#![allow(
    clippy::unwrap_used,
    clippy::print_stdout,
    reason = "a benchmark binary"
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use baton::engine::{Engine, EngineConfig, StartRun, SystemClock};
use baton::store::{SqliteOptions, SqliteStore};
use baton::wasm::{Executor, ExecutorConfig};
use serde_json::json;

/// The allocator of the `baton` binary, so the figures are the binary's.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const BATON: &str = env!("CARGO_BIN_EXE_baton");
const IN_FLIGHT: usize = 256;

async fn engine(dir: &std::path::Path) -> Engine<SqliteStore> {
    let store = SqliteStore::open(&SqliteOptions::new(dir.join("baton.db")))
        .await
        .unwrap();
    let mut config = ExecutorConfig::new(dir.join("cache"), BATON);
    config.pool.max_concurrent_invocations = IN_FLIGHT as u32;
    let executor = Executor::new(config).unwrap();
    let engine = Engine::start(
        store,
        executor,
        Arc::new(SystemClock),
        // The embedded case: this process is the database's only writer.
        EngineConfig {
            max_in_flight: IN_FLIGHT,
            exclusive: true,
            ..EngineConfig::default()
        },
    )
    .await
    .unwrap();
    let toolbox = std::fs::read(baton_test_programs::GUESTS_TOOLBOX).unwrap();
    engine.add_plugin(&toolbox).await.unwrap();
    engine
}

const DAG: &str = r#"
name: dag
steps:
  - id: a
    uses: toolbox
  - id: b
    needs: [a]
    uses: toolbox
  - id: c
    needs: [a]
    uses: toolbox
  - id: d
    needs: [a]
    uses: toolbox
  - id: e
    needs: [b, c, d]
    uses: toolbox
"#;

async fn start_many(engine: &Engine<SqliteStore>, workflow: &str, count: usize) -> Vec<String> {
    let mut starts = tokio::task::JoinSet::new();
    for n in 0..count {
        let engine = engine.clone();
        let workflow = workflow.to_string();
        starts.spawn(async move {
            engine
                .start_run(StartRun::new(workflow, json!({"n": n})))
                .await
        });
    }
    let mut ids = Vec::with_capacity(count);
    while let Some(run) = starts.join_next().await {
        ids.push(run.unwrap().unwrap().id);
    }
    ids
}

async fn throughput() {
    const RUNS: usize = 1000;
    let mut rates = Vec::new();
    for _ in 0..3 {
        let dir = tempfile::tempdir().unwrap();
        let engine = engine(dir.path()).await;
        engine.save_workflow(DAG).await.unwrap();
        let started = Instant::now();
        let ids = start_many(&engine, "dag", RUNS).await;
        for id in &ids {
            engine.wait_for_run(id).await.unwrap();
        }
        let elapsed = started.elapsed();
        let rate = (RUNS * 5) as f64 / elapsed.as_secs_f64();
        println!(
            "throughput: {RUNS} runs x 5 steps in {elapsed:.2?}: {rate:.0} step completions/s"
        );
        rates.push(rate);
        engine.shutdown().await;
    }
    rates.sort_by(f64::total_cmp);
    println!(
        "throughput: median {:.0} step completions/s (target >= 10000)",
        rates[1]
    );
}

async fn latency() {
    let mut yaml = String::from("name: chain\nsteps:\n");
    for i in 0..40 {
        yaml.push_str(&format!(
            "  - id: s{i}\n    uses: toolbox\n    with: {{ fibo: 10 }}\n"
        ));
        if i > 0 {
            yaml.push_str(&format!("    needs: [s{}]\n", i - 1));
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path()).await;
    engine.save_workflow(&yaml).await.unwrap();
    let mut times = Vec::new();
    for round in 0..21 {
        let started = Instant::now();
        let run = engine
            .start_run(StartRun::new("chain", json!({})))
            .await
            .unwrap();
        let run = engine.wait_for_run(&run.id).await.unwrap();
        let elapsed = started.elapsed();
        assert_eq!(run.status, baton::store::RunStatus::Succeeded);
        if round > 0 {
            times.push(elapsed);
        }
    }
    times.sort();
    println!(
        "latency: 40 sequential fibo(10) steps: median {:.1?}, min {:.1?}, max {:.1?} (target <= 50 ms)",
        times[times.len() / 2],
        times[0],
        times[times.len() - 1]
    );
    engine.shutdown().await;
}

fn resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().strip_suffix("kB"))
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap()
        * 1024
}

async fn memory() {
    const RUNS: usize = 10_000;
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path()).await;
    engine
        .save_workflow("name: parked\nsteps:\n  - id: first\n    uses: toolbox\n  - id: nap\n    needs: [first]\n    sleep: 1h\n  - id: after\n    needs: [nap]\n    uses: toolbox\n")
        .await
        .unwrap();
    let before = resident_bytes();
    let ids = start_many(&engine, "parked", RUNS).await;
    // Wait until every run is parked in its sleep.
    for id in &ids {
        loop {
            let state = engine.run_state(id).await.unwrap();
            if state.steps[1].status == baton::store::StepStatus::Waiting {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let after = resident_bytes();
    println!(
        "memory: {RUNS} runs parked in sleep: process resident {:.1} MB (before starting them {:.1} MB) (target < 200 MB)",
        after as f64 / 1e6,
        before as f64 / 1e6
    );
    engine.shutdown().await;
}

fn main() {
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let wanted = |name: &str| filter.is_empty() || filter.iter().any(|f| name.contains(f.as_str()));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        if wanted("throughput") {
            throughput().await;
        }
        if wanted("latency") {
            latency().await;
        }
        if wanted("memory") {
            memory().await;
        }
    });
}
