//! A real engine for workflow tests: a SQLite file in a temporary
//! directory, the executor compiling with the real `baton` binary, the
//! `toolbox` guest built from source, and a test clock.

use std::sync::Arc;
use std::time::Duration;

use baton::engine::{Engine, EngineConfig, EngineEvent, RunState, StartRun, TestClock};
use baton::store::{RunRecord, SqliteOptions, SqliteStore};
use baton::wasm::{ExecutorConfig, InvocationLimits};
use baton_test_programs::GUESTS_TOOLBOX;
use serde_json::Value;
use tokio::sync::broadcast;

/// How long a test waits for something before it fails (a guard against
/// hangs, not a timing assertion).
pub const PATIENCE: Duration = Duration::from_secs(60);
/// Where every test clock starts: 2026-01-01T00:00:00Z.
pub const EPOCH: i64 = 1_767_225_600_000;

/// An engine on its own database.
pub struct Harness {
    pub engine: Engine<SqliteStore>,
    pub clock: TestClock,
    pub events: broadcast::Receiver<EngineEvent>,
    pub config: EngineConfig,
    pub dir: tempfile::TempDir,
}

impl Harness {
    pub async fn new() -> Harness {
        Harness::with_config(EngineConfig {
            exclusive: true,
            ..EngineConfig::default()
        })
        .await
    }

    pub async fn with_config(config: EngineConfig) -> Harness {
        let dir = tempfile::tempdir().expect("temp dir");
        let harness = Harness::open(dir, TestClock::new(EPOCH), config).await;
        harness
            .engine
            .add_plugin(&super::read(GUESTS_TOOLBOX))
            .await
            .expect("add toolbox");
        harness
    }

    async fn open(dir: tempfile::TempDir, clock: TestClock, config: EngineConfig) -> Harness {
        let store = SqliteStore::open(&SqliteOptions::new(dir.path().join("baton.db")))
            .await
            .expect("open store");
        let mut executor = ExecutorConfig::new(dir.path().join("cache"), super::BATON);
        executor.pool.max_concurrent_invocations = 16;
        executor.default_limits = InvocationLimits {
            wall_timeout: Duration::from_secs(20),
            ..InvocationLimits::default()
        };
        let executor = baton::wasm::Executor::new(executor).expect("executor");
        let engine = Engine::start(store, executor, Arc::new(clock.clone()), config.clone())
            .await
            .expect("engine");
        let events = engine.subscribe();
        Harness {
            engine,
            clock,
            events,
            config,
            dir,
        }
    }

    /// Stops this engine and starts a new one on the same database and
    /// clock, as a restart would.
    pub async fn restart(self) -> Harness {
        self.engine.shutdown().await;
        self.engine.store().close().await;
        let Harness {
            dir, clock, config, ..
        } = self;
        Harness::open(dir, clock, config).await
    }

    /// Stops this engine, lets `down` pass on the clock, and starts a new
    /// one on the same database: a downtime.
    pub async fn restart_after(self, down: Duration) -> Harness {
        self.engine.shutdown().await;
        self.engine.store().close().await;
        let Harness {
            dir, clock, config, ..
        } = self;
        clock.advance(down);
        Harness::open(dir, clock, config).await
    }

    pub async fn save(&self, yaml: &str) -> i64 {
        match self.engine.save_workflow(yaml).await {
            Ok(saved) => saved.version,
            Err(e) => panic!("save failed: {e}"),
        }
    }

    pub async fn start(&self, workflow: &str, input: Value) -> RunRecord {
        self.engine
            .start_run(StartRun::new(workflow, input))
            .await
            .expect("start run")
    }

    /// Waits for the run to end and returns its full state.
    pub async fn finish(&self, run_id: &str) -> RunState {
        tokio::time::timeout(PATIENCE, self.engine.wait_for_run(run_id))
            .await
            .expect("the run ends in time")
            .expect("wait for run");
        self.engine.run_state(run_id).await.expect("run state")
    }

    /// Saves, starts and finishes a run.
    pub async fn run(&self, yaml: &str, input: Value) -> RunState {
        self.save(yaml).await;
        let name = yaml
            .lines()
            .find_map(|l| l.strip_prefix("name: "))
            .expect("a name line")
            .trim();
        let run = self.start(name, input).await;
        self.finish(&run.id).await
    }

    /// Waits for the first event (from now on, or already queued) that
    /// matches.
    pub async fn event(&mut self, mut matches: impl FnMut(&EngineEvent) -> bool) -> EngineEvent {
        tokio::time::timeout(PATIENCE, async {
            loop {
                match self.events.recv().await {
                    Ok(event) if matches(&event) => return event,
                    Ok(_) => {}
                    Err(e) => panic!("event stream: {e}"),
                }
            }
        })
        .await
        .expect("the event comes in time")
    }

    /// Waits until this step has the status (as an event).
    pub async fn step_reaches(&mut self, run: &str, step: &str, status: &str) -> EngineEvent {
        self.event(|e| {
            matches!(e, EngineEvent::Step { run_id, step_id, status: s, item: None, .. }
                if run_id == run && step_id == step && s.as_str() == status)
        })
        .await
    }
}

/// The state of one step of a run.
pub fn step<'a>(state: &'a RunState, id: &str) -> &'a baton::engine::StepState {
    state
        .steps
        .iter()
        .find(|s| s.id == id)
        .unwrap_or_else(|| panic!("no step {id}"))
}
