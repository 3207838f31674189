//! The writer: the one task that changes run state.
//!
//! It waits for requests, worker results and due timers, takes everything
//! that is queued (up to `max_batch`), applies it in one [`Turn`], claims
//! ready steps up to the free concurrency in the same transaction, commits
//! once, and only then answers callers, publishes events, interrupts
//! cancelled attempts and starts workers. If a batch fails in the store, its
//! operations are applied again one by one, so one bad operation cannot
//! block the others.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::store::{EventRecord, RunRecord, Store};

use super::turn::{Effects, Turn};
use super::unit::RunCache;
use super::worker::{self, Outcome, Task};
use super::{Decide, EngineError, Result, Shared, StartRun};
use crate::store::ApprovalRecord;
use crate::store::{OrchestrationTx, StoreTx};

/// With at least this many attempts running, the writer waits
/// [`GATHER_WINDOW`] for more results before a turn.
const GATHER_ABOVE_IN_FLIGHT: usize = 8;
/// How long the writer waits to gather results into one turn.
const GATHER_WINDOW: std::time::Duration = std::time::Duration::from_micros(500);
/// Most sleep timers fired per batch.
const TIMERS_PER_BATCH: i64 = 1024;

/// A message to the writer.
pub(crate) enum Command {
    Start(StartRun, oneshot::Sender<Result<RunRecord>>),
    Cancel(String, String, oneshot::Sender<Result<RunRecord>>),
    Retry(String, String, oneshot::Sender<Result<RunRecord>>),
    Ingest(Vec<EventRecord>, oneshot::Sender<Result<Vec<Option<i64>>>>),
    Decide(Decide, oneshot::Sender<Result<ApprovalRecord>>),
    Completed(Task, Outcome),
    /// Schedules changed: look at them in the next turn.
    Reschedule,
    Shutdown(oneshot::Sender<()>),
}

/// What one operation of a batch is, without its reply channel.
enum Op {
    Start(StartRun),
    Cancel(String, String),
    Retry(String, String),
    Ingest(Vec<EventRecord>),
    Decide(Decide),
    Completed(Task, Outcome),
}

/// Where an operation's answer goes.
enum ReplyTo {
    Run(oneshot::Sender<Result<RunRecord>>),
    Ingest(oneshot::Sender<Result<Vec<Option<i64>>>>),
    Approval(oneshot::Sender<Result<ApprovalRecord>>),
}

/// An operation's answer.
#[allow(
    clippy::large_enum_variant,
    reason = "one short-lived answer per operation of a batch"
)]
enum Answer {
    Run(Result<RunRecord>),
    Ingest(Result<Vec<Option<i64>>>),
    Approval(Result<ApprovalRecord>),
}

impl ReplyTo {
    fn send(self, answer: Answer) {
        match (self, answer) {
            (ReplyTo::Run(reply), Answer::Run(result)) => {
                let _ = reply.send(result);
            }
            (ReplyTo::Ingest(reply), Answer::Ingest(result)) => {
                let _ = reply.send(result);
            }
            (ReplyTo::Approval(reply), Answer::Approval(result)) => {
                let _ = reply.send(result);
            }
            // Each operation answers in its own kind.
            _ => {}
        }
    }

    fn fail(self, error: EngineError) {
        match self {
            ReplyTo::Run(reply) => {
                let _ = reply.send(Err(error));
            }
            ReplyTo::Ingest(reply) => {
                let _ = reply.send(Err(error));
            }
            ReplyTo::Approval(reply) => {
                let _ = reply.send(Err(error));
            }
        }
    }
}

type Reply = Option<ReplyTo>;

struct Writer<S: Store> {
    shared: Arc<Shared<S>>,
    commands: mpsc::WeakSender<Command>,
    in_flight: usize,
    next_scan: i64,
    next_renewal: i64,
    next_due: crate::store::NextDue,
    draining: Option<oneshot::Sender<()>>,
    /// Runs kept between turns (only when this process is the only writer).
    cache: RunCache,
    /// When schedules must be looked at next.
    next_schedule: Option<i64>,
}

/// Takes over what an earlier process left, then starts the writer loop.
pub(crate) async fn spawn<S: Store>(
    shared: Arc<Shared<S>>,
    receiver: mpsc::Receiver<Command>,
    commands: mpsc::WeakSender<Command>,
) -> Result<oneshot::Receiver<()>> {
    let mut turn = Turn::begin(&shared).await?;
    let last_queued = turn.db.tx.max_queue_seq().await?;
    shared
        .queue_seq
        .store(last_queued, std::sync::atomic::Ordering::Relaxed);
    let taken = turn.take_over(shared.config.exclusive).await?;
    // Ingestion looks for waiting steps only when some may exist.
    let waits = turn.db.tx.any_waits().await?;
    shared
        .waits
        .store(waits, std::sync::atomic::Ordering::Relaxed);
    turn.drain().await?;
    turn.db.flush().await?;
    let next_due = turn.db.tx.next_due().await?;
    turn.db.tx.commit().await?;
    if taken > 0 {
        tracing::info!(
            steps = taken,
            "took over steps left running by a stopped process"
        );
    }
    let now = shared.clock.now();
    let writer = Writer {
        next_scan: now + shared.config.lease_ms() / 2,
        next_renewal: now + shared.config.lease_ms() / 3,
        next_due,
        shared,
        commands,
        in_flight: 0,
        draining: None,
        cache: RunCache::default(),
        // Occurrences missed while no engine ran are due at once.
        next_schedule: Some(now),
    };
    // The writer runs on a thread of its own: each of its many awaits on
    // the database must resume at once, not queue behind plugin attempts
    // on the shared runtime.
    let (stopped, on_stop) = oneshot::channel();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| EngineError::Config(format!("cannot start the writer's runtime: {e}")))?;
    std::thread::Builder::new()
        .name("baton-writer".into())
        .spawn(move || {
            runtime.block_on(writer.run(receiver));
            let _ = stopped.send(());
        })
        .map_err(|e| EngineError::Config(format!("cannot start the writer thread: {e}")))?;
    Ok(on_stop)
}

impl<S: Store> Writer<S> {
    async fn run(mut self, mut receiver: mpsc::Receiver<Command>) {
        let mut first = true;
        loop {
            let mut batch: Vec<(Op, Reply)> = Vec::new();
            if !first {
                let wake = self.wake_at();
                let clock = self.shared.clock.clone();
                tokio::select! {
                    command = receiver.recv() => match command {
                        Some(command) => self.accept(command, &mut batch),
                        // Every engine handle is gone: nobody can see results.
                        None => return,
                    },
                    () = clock.sleep_until(wake) => {}
                }
            }
            first = false;
            // Group commit: with many attempts in flight, results arrive in
            // a stream; waiting a moment lets one transaction take many.
            if self.in_flight >= GATHER_ABOVE_IN_FLIGHT && batch.len() < self.in_flight / 2 {
                tokio::time::sleep(GATHER_WINDOW).await;
            }
            while batch.len() < self.shared.config.max_batch {
                match receiver.try_recv() {
                    Ok(command) => self.accept(command, &mut batch),
                    Err(_) => break,
                }
            }
            self.process(batch).await;
            if let Some(done) = self.draining.take_if(|_| self.in_flight == 0) {
                let _ = done.send(());
                return;
            }
        }
    }

    fn accept(&mut self, command: Command, batch: &mut Vec<(Op, Reply)>) {
        match command {
            Command::Start(request, reply) => {
                batch.push((Op::Start(request), Some(ReplyTo::Run(reply))));
            }
            Command::Cancel(id, actor, reply) => {
                batch.push((Op::Cancel(id, actor), Some(ReplyTo::Run(reply))));
            }
            Command::Retry(id, actor, reply) => {
                batch.push((Op::Retry(id, actor), Some(ReplyTo::Run(reply))));
            }
            Command::Ingest(events, reply) => {
                batch.push((Op::Ingest(events), Some(ReplyTo::Ingest(reply))));
            }
            Command::Decide(decision, reply) => {
                batch.push((Op::Decide(decision), Some(ReplyTo::Approval(reply))));
            }
            Command::Reschedule => self.next_schedule = Some(self.shared.clock.now()),
            Command::Completed(task, outcome) => {
                self.in_flight = self.in_flight.saturating_sub(1);
                self.shared.running().remove(&task.key);
                batch.push((Op::Completed(task, outcome), None));
            }
            Command::Shutdown(done) => self.draining = Some(done),
        }
    }

    /// When the loop must wake without a message.
    fn wake_at(&self) -> i64 {
        let mut wake = self.next_scan;
        if self.in_flight > 0 {
            wake = wake.min(self.next_renewal);
        }
        if self.draining.is_none() {
            if let Some(timer) = self.next_due.timer {
                wake = wake.min(timer);
            }
            if let Some(schedule) = self.next_schedule {
                wake = wake.min(schedule);
            }
            // Ready rows only matter when a worker is free; otherwise the
            // next completion wakes the loop.
            if self.in_flight < self.shared.config.max_in_flight
                && let Some(ready) = self.next_due.ready
            {
                wake = wake.min(ready);
            }
        }
        wake
    }

    async fn process(&mut self, batch: Vec<(Op, Reply)>) {
        let outcome = {
            let ops: Vec<&Op> = batch.iter().map(|(op, _)| op).collect();
            self.turn(&ops).await
        };
        let count = batch.len();
        match outcome {
            Ok((results, effects)) => {
                for ((_, reply), result) in batch.into_iter().zip(results) {
                    if let (Some(reply), Some(result)) = (reply, result) {
                        reply.send(result);
                    }
                }
                self.apply(effects);
            }
            Err(error) if count > 1 => {
                self.cache.clear();
                tracing::warn!(%error, ops = count, "a batch failed; applying its operations one by one");
                for (op, reply) in batch {
                    match self.turn(&[&op]).await {
                        Ok((mut results, effects)) => {
                            if let (Some(reply), Some(Some(result))) = (reply, results.pop()) {
                                reply.send(result);
                            }
                            self.apply(effects);
                        }
                        Err(error) => Self::refuse(op, reply, error),
                    }
                }
            }
            Err(error) => {
                self.cache.clear();
                if let Some((op, reply)) = batch.into_iter().next() {
                    Self::refuse(op, reply, error);
                }
            }
        }
    }

    fn refuse(op: Op, reply: Reply, error: super::EngineError) {
        tracing::error!(%error, "an engine operation failed in the store");
        if let Op::Completed(task, _) = op {
            // The row stays leased; when the lease expires the step runs
            // again (at least once), and its completion is recorded then.
            tracing::warn!(run = %task.key.run_id, step = %task.key.step_id, "result not recorded; the step will run again");
        }
        if let Some(reply) = reply {
            reply.fail(error);
        }
    }

    /// Applies operations in one transaction. Store errors abort the whole
    /// transaction; other errors are per-operation results.
    async fn turn(&mut self, ops: &[&Op]) -> Result<(Vec<Option<Answer>>, Effects)> {
        let shared = self.shared.clone();
        let mut turn = Turn::begin(&shared).await?;
        let now = turn.now;
        // Everything the operations touch, loaded up front.
        let mut runs = Vec::new();
        let mut elements = Vec::new();
        for op in ops {
            match op {
                Op::Completed(task, _) => {
                    runs.push(task.key.run_id.clone());
                    if task.key.item >= 0 {
                        elements.push((
                            task.key.run_id.clone(),
                            task.key.step_id.clone(),
                            task.key.item,
                        ));
                    }
                }
                Op::Cancel(id, _) | Op::Retry(id, _) => runs.push(id.clone()),
                Op::Start(_) | Op::Ingest(_) | Op::Decide(_) => {}
            }
        }
        if shared.config.exclusive {
            turn.db.seed(&self.cache, &runs);
        }
        turn.db.preload(&runs).await?;
        turn.db.preload_rows(&elements).await?;

        let mut rescheduled = false;
        if self.draining.is_none() && self.next_due.timer.is_some_and(|t| t <= now) {
            turn.fire_timers(TIMERS_PER_BATCH).await?;
            turn.drain().await?;
            rescheduled = true;
        }
        if self.draining.is_none() && self.next_schedule.is_some_and(|t| t <= now) {
            self.next_schedule = turn.fire_schedules().await?;
            turn.drain().await?;
            rescheduled = true;
        }
        if now >= self.next_scan {
            rescheduled |= turn.take_over(false).await? > 0;
            turn.drain().await?;
            self.next_scan = now + shared.config.lease_ms() / 2;
        }
        // Every event of the batch goes in with one statement; each request
        // then gets its own events' places.
        let arriving: Vec<EventRecord> = ops
            .iter()
            .filter_map(|op| match op {
                Op::Ingest(events) => Some(events.iter().cloned()),
                _ => None,
            })
            .flatten()
            .collect();
        let mut places = if arriving.is_empty() {
            Vec::new()
        } else {
            turn.db.tx.insert_events(&arriving).await?
        }
        .into_iter();
        let mut results = Vec::with_capacity(ops.len());
        for op in ops {
            let result = match op {
                Op::Start(request) => Some(Answer::Run(turn.start_run(request).await)),
                Op::Cancel(id, actor) => Some(Answer::Run(turn.cancel_run(id, actor).await)),
                Op::Retry(id, actor) => Some(Answer::Run(turn.retry_run(id, actor).await)),
                Op::Ingest(events) => {
                    let seqs: Vec<Option<i64>> = places.by_ref().take(events.len()).collect();
                    let acted = turn.act_on(events, &seqs).await;
                    Some(Answer::Ingest(acted.map(|()| seqs)))
                }
                Op::Decide(decision) => Some(Answer::Approval(turn.decide(decision).await)),
                Op::Completed(task, outcome) => {
                    turn.complete(task, outcome.clone()).await?;
                    None
                }
            };
            match result {
                Some(Answer::Run(Err(EngineError::Store(e))))
                | Some(Answer::Ingest(Err(EngineError::Store(e))))
                | Some(Answer::Approval(Err(EngineError::Store(e)))) => return Err(e.into()),
                other => results.push(other),
            }
            turn.drain().await?;
        }
        if self.in_flight > 0 && now >= self.next_renewal {
            turn.db
                .tx
                .renew_leases(&shared.owner, now + shared.config.lease_ms())
                .await?;
            self.next_renewal = now + shared.config.lease_ms() / 3;
        }
        if self.draining.is_none() {
            let capacity = shared.config.max_in_flight.saturating_sub(self.in_flight);
            let backlog = self.next_due.ready.is_some_and(|due| due <= now);
            rescheduled |= turn.claim(capacity, backlog).await?;
        }
        rescheduled |= turn.db.schedules_later(now);
        turn.db.flush().await?;
        if rescheduled {
            self.next_due = turn.db.tx.next_due().await?;
        }
        let effects = std::mem::take(&mut turn.effects);
        let snapshot = turn.db.commit().await?;
        if shared.config.exclusive {
            self.cache.keep(snapshot);
        }
        Ok((results, effects))
    }

    /// After a commit: interrupt, start workers, publish.
    fn apply(&mut self, effects: Effects) {
        if effects.schedules_changed {
            self.next_schedule = Some(self.shared.clock.now());
        }
        {
            let running = self.shared.running();
            for key in &effects.interrupts {
                if let Some(token) = running.get(key) {
                    token.cancel();
                }
            }
        }
        for task in effects.tasks {
            self.in_flight += 1;
            let token = CancellationToken::new();
            self.shared
                .running()
                .insert(task.key.clone(), token.clone());
            let shared = self.shared.clone();
            let commands = self.commands.clone();
            self.shared.workers.spawn(async move {
                let outcome = worker::execute(shared, commands.clone(), task.clone(), token).await;
                if let Some(commands) = commands.upgrade() {
                    let _ = commands.send(Command::Completed(task, outcome)).await;
                }
            });
        }
        for event in effects.events {
            // Published before the waiters hear of the end, so a waiter's
            // subscriber already has every event of the run.
            let ended = match &event {
                super::EngineEvent::Run { run_id, status, .. } if status.is_terminal() => {
                    Some(run_id.clone())
                }
                _ => None,
            };
            let _ = self.shared.events.send(event);
            if let Some(run_id) = ended {
                let waiting = self.shared.waiters().remove(&run_id);
                for waiter in waiting.into_iter().flatten() {
                    let _ = waiter.send(());
                }
            }
        }
    }
}
