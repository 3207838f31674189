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

use crate::store::{RunRecord, Store};

use super::turn::{Effects, Turn};
use super::worker::{self, Outcome, Task};
use super::{Result, Shared, StartRun};
use crate::store::StoreTx;

/// Most sleep timers fired per batch.
const TIMERS_PER_BATCH: i64 = 1024;

/// A message to the writer.
pub(crate) enum Command {
    Start(StartRun, oneshot::Sender<Result<RunRecord>>),
    Cancel(String, oneshot::Sender<Result<RunRecord>>),
    Retry(String, oneshot::Sender<Result<RunRecord>>),
    Completed(Task, Outcome),
    Shutdown(oneshot::Sender<()>),
}

/// What one operation of a batch is, without its reply channel.
#[derive(Clone)]
enum Op {
    Start(StartRun),
    Cancel(String),
    Retry(String),
    Completed(Task, Outcome),
}

type Reply = Option<oneshot::Sender<Result<RunRecord>>>;

struct Writer<S: Store> {
    shared: Arc<Shared<S>>,
    commands: mpsc::WeakSender<Command>,
    in_flight: usize,
    next_scan: i64,
    next_renewal: i64,
    next_due: Option<i64>,
    draining: Option<oneshot::Sender<()>>,
}

/// Takes over what an earlier process left, then starts the writer loop.
pub(crate) async fn spawn<S: Store>(
    shared: Arc<Shared<S>>,
    receiver: mpsc::Receiver<Command>,
    commands: mpsc::WeakSender<Command>,
) -> Result<tokio::task::JoinHandle<()>> {
    let mut turn = Turn::begin(&shared).await?;
    let taken = turn.take_over(shared.config.exclusive).await?;
    turn.drain().await?;
    let next_due = { turn.tx.next_due().await? };
    let effects = std::mem::take(&mut turn.effects);
    turn.tx.commit().await?;
    if taken > 0 {
        tracing::info!(
            steps = taken,
            "took over steps left running by a stopped process"
        );
    }
    drop(effects);
    let now = shared.clock.now();
    let writer = Writer {
        next_scan: now + shared.config.lease_ms() / 2,
        next_renewal: now + shared.config.lease_ms() / 3,
        next_due,
        shared,
        commands,
        in_flight: 0,
        draining: None,
    };
    Ok(tokio::spawn(writer.run(receiver)))
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
            Command::Start(request, reply) => batch.push((Op::Start(request), Some(reply))),
            Command::Cancel(id, reply) => batch.push((Op::Cancel(id), Some(reply))),
            Command::Retry(id, reply) => batch.push((Op::Retry(id), Some(reply))),
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
        if self.draining.is_none()
            && let Some(due) = self.next_due
        {
            wake = wake.min(due);
        }
        wake
    }

    async fn process(&mut self, batch: Vec<(Op, Reply)>) {
        let ops: Vec<Op> = batch.iter().map(|(op, _)| op.clone()).collect();
        match self.turn(&ops).await {
            Ok((results, effects)) => {
                for ((_, reply), result) in batch.into_iter().zip(results) {
                    if let (Some(reply), Some(result)) = (reply, result) {
                        let _ = reply.send(result);
                    }
                }
                self.apply(effects);
            }
            Err(error) if ops.len() > 1 => {
                tracing::warn!(%error, ops = ops.len(), "a batch failed; applying its operations one by one");
                for (op, reply) in batch {
                    match self.turn(std::slice::from_ref(&op)).await {
                        Ok((mut results, effects)) => {
                            if let (Some(reply), Some(Some(result))) = (reply, results.pop()) {
                                let _ = reply.send(result);
                            }
                            self.apply(effects);
                        }
                        Err(error) => Self::refuse(op, reply, error),
                    }
                }
            }
            Err(error) => {
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
            let _ = reply.send(Err(error));
        }
    }

    /// Applies operations in one transaction. Store errors abort the whole
    /// transaction; other errors are per-operation results.
    async fn turn(&mut self, ops: &[Op]) -> Result<(Vec<Option<Result<RunRecord>>>, Effects)> {
        let shared = self.shared.clone();
        let mut turn = Turn::begin(&shared).await?;
        let mut results = Vec::with_capacity(ops.len());
        for op in ops {
            let result = match op {
                Op::Start(request) => Some(turn.start_run(request).await),
                Op::Cancel(id) => Some(turn.cancel_run(id).await),
                Op::Retry(id) => Some(turn.retry_run(id).await),
                Op::Completed(task, outcome) => {
                    turn.complete(task, outcome.clone()).await?;
                    None
                }
            };
            match result {
                Some(Err(super::EngineError::Store(e))) => return Err(e.into()),
                other => results.push(other),
            }
            turn.drain().await?;
        }
        let now = turn.now;
        if now >= self.next_scan {
            turn.take_over(false).await?;
            turn.drain().await?;
            self.next_scan = now + shared.config.lease_ms() / 2;
        }
        if self.in_flight > 0 && now >= self.next_renewal {
            turn.tx
                .renew_leases(&shared.owner, now + shared.config.lease_ms())
                .await?;
            self.next_renewal = now + shared.config.lease_ms() / 3;
        }
        if self.draining.is_none() {
            turn.fire_timers(TIMERS_PER_BATCH).await?;
            turn.drain().await?;
            let capacity = shared.config.max_in_flight.saturating_sub(self.in_flight);
            turn.claim(capacity).await?;
        }
        let next_due = turn.tx.next_due().await?;
        let effects = std::mem::take(&mut turn.effects);
        turn.tx.commit().await?;
        self.next_due = next_due;
        Ok((results, effects))
    }

    /// After a commit: interrupt, start workers, publish.
    fn apply(&mut self, effects: Effects) {
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
            tokio::spawn(async move {
                let outcome = worker::execute(shared, task.clone(), token).await;
                if let Some(commands) = commands.upgrade() {
                    let _ = commands.send(Command::Completed(task, outcome)).await;
                }
            });
        }
        for event in effects.events {
            let _ = self.shared.events.send(event);
        }
    }
}
