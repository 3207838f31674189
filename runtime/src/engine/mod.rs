//! The durable workflow engine.
//!
//! An [`Engine`] owns one writer task that applies every change to runs in
//! batched transactions (group commit), claims ready steps under leases, and
//! hands them to workers on the [executor](crate::wasm::Executor). Results
//! come back to the writer, which commits them together with the steps they
//! make ready. Requests (start, cancel, retry) go through the same writer, so
//! there is exactly one place where run state changes, and every
//! acknowledgement means the change is durable.
//!
//! The engine is generic over its [`Store`]; time comes from a [`Clock`].

mod access;
mod apply;
mod catalog;
pub mod clock;
mod config;
mod error;
mod events;
mod grants;
mod plans;
mod secrets;
mod state;
mod turn;
mod unit;
mod worker;
mod writer;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use serde_json::Value;
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::store::{RunRecord, Store};
use crate::wasm::Executor;

pub use apply::{Applied, AppliedResource};
pub use catalog::SavedWorkflow;
pub use clock::{Clock, SystemClock, TestClock};
pub use config::*;
pub use error::{EngineError, Result};
pub use events::EngineEvent;
pub use grants::GrantEntry;
pub use secrets::{SecretInfo, rekey_secrets};
pub use state::{AttemptState, RunState, StepState};

use plans::PlanCache;
use worker::TaskKey;
use writer::Command;

/// Events kept for slow subscribers before they start missing some.
const EVENT_BUFFER: usize = 65_536;
/// Requests waiting for the writer before callers wait too.
const COMMAND_BUFFER: usize = 65_536;

/// A request to start a run.
#[derive(Debug, Clone)]
pub struct StartRun {
    /// Workflow name.
    pub workflow: String,
    /// A version, or the newest.
    pub version: Option<i64>,
    /// The input.
    pub input: Value,
    /// Starting again with the same key returns the same run.
    pub idempotency_key: Option<String>,
    /// Who starts it: `token:<name>`, `local`, ... (rules and schedules
    /// set their own).
    pub started_by: String,
}

impl StartRun {
    /// Starts the newest version of `workflow` with `input`.
    pub fn new(workflow: impl Into<String>, input: Value) -> StartRun {
        StartRun {
            workflow: workflow.into(),
            version: None,
            input,
            idempotency_key: None,
            started_by: "local".into(),
        }
    }
}

/// A human decision on an approval.
#[derive(Debug, Clone)]
pub struct Decide {
    /// The approval.
    pub approval: String,
    /// Approve or reject.
    pub verdict: crate::workflow::Verdict,
    /// Why.
    pub comment: Option<String>,
    /// The deciding token's name.
    pub by: String,
    /// Its role: `operator` or `admin`.
    pub role: String,
}

/// What the writer and the workers share.
pub(crate) struct Shared<S: Store> {
    pub store: S,
    pub executor: Executor,
    pub clock: Arc<dyn Clock>,
    pub config: EngineConfig,
    /// This engine instance's lease-owner id.
    pub owner: String,
    pub plans: PlanCache,
    pub events: broadcast::Sender<EngineEvent>,
    /// The runtime plugin attempts run on (the one the engine started on).
    pub workers: tokio::runtime::Handle,
    /// Cancellation of the attempts running in this process.
    pub running: Mutex<HashMap<TaskKey, CancellationToken>>,
    /// The last queue position given to a ready row.
    pub queue_seq: Arc<std::sync::atomic::AtomicI64>,
    /// Callers waiting for runs to end.
    pub waiters: Mutex<HashMap<String, Vec<oneshot::Sender<()>>>>,
    /// Set when running attempts are interrupted because the process stops.
    pub releasing: std::sync::atomic::AtomicBool,
    /// The rules, schedules, policies and webhooks in force.
    pub resources: std::sync::RwLock<Arc<crate::resources::ResourceSet>>,
    /// Whether `wait_for` steps may be waiting: read at start, set when a
    /// wait starts (ingestion always looks when another process may write
    /// the database).
    pub waits: std::sync::atomic::AtomicBool,
    /// The plugin grants in force.
    pub grants: std::sync::RwLock<Arc<crate::grants::GrantSet>>,
    /// Registered plugin versions by `name@digest`, learnt as needed.
    pub registered: Mutex<HashMap<String, String>>,
}

impl<S: Store> Shared<S> {
    pub(crate) fn waiters(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<String, Vec<oneshot::Sender<()>>>> {
        self.waiters.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn registered(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        self.registered
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn running(&self) -> std::sync::MutexGuard<'_, HashMap<TaskKey, CancellationToken>> {
        self.running.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The resources in force.
    pub(crate) fn resources(&self) -> Arc<crate::resources::ResourceSet> {
        self.resources
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// A running engine. Cheap to clone; the writer stops with
/// [`shutdown`](Engine::shutdown) or when the last clone is dropped.
pub struct Engine<S: Store> {
    shared: Arc<Shared<S>>,
    commands: mpsc::Sender<Command>,
    writer: Arc<Mutex<Option<oneshot::Receiver<()>>>>,
}

impl<S: Store> Clone for Engine<S> {
    fn clone(&self) -> Self {
        Engine {
            shared: self.shared.clone(),
            commands: self.commands.clone(),
            writer: self.writer.clone(),
        }
    }
}

impl<S: Store> Engine<S> {
    /// Starts the engine: takes over work left by a stopped process and
    /// begins running ready steps.
    pub async fn start(
        store: S,
        executor: Executor,
        clock: Arc<dyn Clock>,
        config: EngineConfig,
    ) -> Result<Engine<S>> {
        config.validate()?;
        let (events, _) = broadcast::channel(EVENT_BUFFER);
        let shared = Arc::new(Shared {
            store,
            executor,
            clock,
            config,
            owner: format!("engine-{}", uuid::Uuid::now_v7()),
            plans: PlanCache::default(),
            events,
            workers: tokio::runtime::Handle::current(),
            running: Mutex::new(HashMap::new()),
            waiters: Mutex::new(HashMap::new()),
            queue_seq: Arc::new(std::sync::atomic::AtomicI64::new(0)),
            releasing: std::sync::atomic::AtomicBool::new(false),
            resources: std::sync::RwLock::new(Arc::default()),
            waits: std::sync::atomic::AtomicBool::new(true),
            grants: std::sync::RwLock::new(Arc::default()),
            registered: Mutex::new(HashMap::new()),
        });
        apply::reload(&shared).await?;
        grants::reload(&shared).await?;
        secrets::check_key(&shared).await?;
        let (commands, receiver) = mpsc::channel(COMMAND_BUFFER);
        let handle = writer::spawn(shared.clone(), receiver, commands.downgrade()).await?;
        Ok(Engine {
            shared,
            commands,
            writer: Arc::new(Mutex::new(Some(handle))),
        })
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.shared.store
    }

    /// The executor.
    pub fn executor(&self) -> &Executor {
        &self.shared.executor
    }

    /// The engine clock's time (ms since the epoch).
    pub fn now(&self) -> i64 {
        self.shared.clock.now()
    }

    /// Plugin attempts running in this process.
    pub fn running_attempts(&self) -> usize {
        self.shared.running().len()
    }

    /// State changes, from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<EngineEvent> {
        self.shared.events.subscribe()
    }

    async fn request<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T>>) -> Command,
    ) -> Result<T> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(make(reply))
            .await
            .map_err(|_| EngineError::ShuttingDown)?;
        answer.await.map_err(|_| EngineError::ShuttingDown)?
    }

    /// Starts a run; returns once it is durably recorded.
    pub async fn start_run(&self, request: StartRun) -> Result<RunRecord> {
        self.request(|reply| Command::Start(request, reply)).await
    }

    /// Cancels a run (audited as done by `local`).
    pub async fn cancel_run(&self, run_id: &str) -> Result<RunRecord> {
        self.cancel_run_as(run_id, crate::store::actor::LOCAL).await
    }

    /// Cancels a run, audited as done by `actor`.
    pub async fn cancel_run_as(&self, run_id: &str, actor: &str) -> Result<RunRecord> {
        let (run_id, actor) = (run_id.to_string(), actor.to_string());
        self.request(|reply| Command::Cancel(run_id, actor, reply))
            .await
    }

    /// Retries a failed or cancelled run from the steps that did not succeed
    /// (audited as done by `local`).
    pub async fn retry_run(&self, run_id: &str) -> Result<RunRecord> {
        self.retry_run_as(run_id, crate::store::actor::LOCAL).await
    }

    /// Retries a run, audited as done by `actor`.
    pub async fn retry_run_as(&self, run_id: &str, actor: &str) -> Result<RunRecord> {
        let (run_id, actor) = (run_id.to_string(), actor.to_string());
        self.request(|reply| Command::Retry(run_id, actor, reply))
            .await
    }

    /// Decides a pending approval (approvers, separation of duties and
    /// approval policies are checked); returns it as decided.
    pub async fn decide(&self, decision: Decide) -> Result<crate::store::ApprovalRecord> {
        self.request(|reply| Command::Decide(decision, reply)).await
    }

    /// Stores events durably, in one transaction with whatever else the
    /// writer is doing; for each, its `seq`, or `None` when the same
    /// `source` and `id` was stored before (a redelivery).
    pub async fn ingest(
        &self,
        mut events: Vec<crate::store::EventRecord>,
    ) -> Result<Vec<Option<i64>>> {
        let now = self.shared.clock.now();
        for event in &mut events {
            event.received_at = now;
        }
        self.request(|reply| Command::Ingest(events, reply)).await
    }

    /// Waits until a run has ended and returns it.
    pub async fn wait_for_run(&self, run_id: &str) -> Result<RunRecord> {
        loop {
            // Register first, then look: an end committed in between is
            // either seen by the read or signalled to the registration.
            let (signal, ended) = oneshot::channel();
            {
                let mut waiters = self.shared.waiters();
                let waiting = waiters.entry(run_id.to_string()).or_default();
                // Callers that gave up leave closed channels behind.
                waiting.retain(|waiter| !waiter.is_closed());
                waiting.push(signal);
            }
            let run = self
                .shared
                .store
                .run(run_id)
                .await?
                .ok_or_else(|| EngineError::NotFound(format!("no run `{run_id}`")))?;
            if run.status.is_terminal() {
                return Ok(run);
            }
            ended.await.map_err(|_| EngineError::ShuttingDown)?;
        }
    }

    /// Stops claiming work, waits for running attempts to finish and be
    /// committed, then stops the writer.
    pub async fn shutdown(&self) {
        self.shutdown_within(None).await;
    }

    /// Like [`shutdown`](Engine::shutdown), but attempts still running after
    /// `grace` are interrupted and their steps put back in the queue (the
    /// attempt is recorded as abandoned, not failed), to run again when an
    /// engine starts on the database. Returns how many were put back.
    pub async fn shutdown_within(&self, grace: Option<std::time::Duration>) -> usize {
        let mut released = 0;
        let (reply, mut done) = oneshot::channel();
        if self.commands.send(Command::Shutdown(reply)).await.is_ok() {
            let finished = match grace {
                Some(grace) => tokio::time::timeout(grace, &mut done).await.is_ok(),
                None => false,
            };
            if !finished {
                if grace.is_some() {
                    self.shared
                        .releasing
                        .store(true, std::sync::atomic::Ordering::Relaxed);
                    let running = self.shared.running();
                    released = running.len();
                    for token in running.values() {
                        token.cancel();
                    }
                }
                let _ = done.await;
            }
        }
        let handle = self
            .writer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(handle) = handle {
            let _ = handle.await;
        }
        released
    }
}
