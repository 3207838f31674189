//! One write transaction of the engine, and everything it can do to runs.
//!
//! A [`Turn`] wraps a store transaction and the time it happens at. The
//! writer feeds it a batch of operations (start, complete, cancel, retry,
//! timers, claims); each operation changes rows and queues follow-up
//! [`Work`] (advance this run, a child run finished), which the turn drains
//! without recursion. Side effects that must wait for the commit (events,
//! interrupts of running steps, tasks for workers) are collected in
//! [`Effects`]; nothing leaves the turn before the transaction is durable.

mod advance;
mod complete;
mod events;
mod gates;
mod leases;
mod lifecycle;
mod schedules;

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use serde_json::{Value, json};

use crate::store::{AttemptRecord, RunRecord, RunStatus, StepRecord, StepStatus, Store, StoreTx};
use crate::workflow::expr::Scope;
use crate::workflow::{OnError, StepAction, StepPlan, WorkflowPlan};

use super::clock::{millis, rfc3339};
use super::unit::Unit;
use super::worker::{Failure, Outcome, Task, TaskKey};
use super::{EngineError, EngineEvent, Result, Shared, StartRun};

pub(crate) use gates::RUN_GATE;

/// Follow-up work inside a turn.
#[derive(Debug)]
pub(crate) enum Work {
    /// Start whatever became ready in this run, or finish it.
    Advance(String),
    /// This child run ended: complete its parent's step.
    ChildFinished(String),
}

/// What the turn does once committed.
#[derive(Debug, Default)]
pub(crate) struct Effects {
    pub events: Vec<EngineEvent>,
    pub interrupts: Vec<TaskKey>,
    pub tasks: Vec<Task>,
    /// A run a schedule started ended (a queued occurrence may start).
    pub schedules_changed: bool,
}

/// One transaction's worth of engine work.
pub(crate) struct Turn<'s, S: Store> {
    pub db: Unit<S::Tx>,
    pub now: i64,
    pub shared: &'s Shared<S>,
    pub effects: Effects,
    work: VecDeque<Work>,
}

fn json_text(value: &Value) -> String {
    value.to_string()
}

fn parse(text: Option<&str>) -> Value {
    text.and_then(|t| serde_json::from_str(t).ok())
        .unwrap_or(Value::Null)
}

fn error_value(step: &str, kind: &str, message: &str) -> String {
    json!({"step": step, "kind": kind, "message": message}).to_string()
}

impl<'s, S: Store> Turn<'s, S> {
    pub async fn begin(shared: &'s Shared<S>) -> Result<Turn<'s, S>> {
        Ok(Turn {
            db: Unit::new(shared.store.begin().await?, shared.queue_seq.clone()),
            now: shared.clock.now(),
            shared,
            effects: Effects::default(),
            work: VecDeque::new(),
        })
    }

    /// Runs queued follow-up work until none is left.
    pub async fn drain(&mut self) -> Result<()> {
        while let Some(work) = self.work.pop_front() {
            match work {
                Work::Advance(run_id) => self.advance(&run_id).await?,
                Work::ChildFinished(child) => self.child_finished(&child).await?,
            }
        }
        Ok(())
    }

    fn check_payload(&self, what: impl Into<String>, text: &str) -> Result<()> {
        let limit = self.shared.config.max_payload_bytes;
        if text.len() > limit {
            return Err(EngineError::PayloadTooLarge {
                what: what.into(),
                size: text.len(),
                limit,
            });
        }
        Ok(())
    }

    fn step_event(&mut self, row: &StepRecord) {
        self.effects.events.push(EngineEvent::Step {
            run_id: row.run_id.clone(),
            step_id: row.step_id.clone(),
            item: (row.item >= 0).then_some(row.item),
            status: row.status,
            attempt: row.attempts,
            error: row
                .error_message
                .as_ref()
                .map(|m| format!("{}: {m}", row.error_kind.as_deref().unwrap_or("error"))),
        });
    }

    fn run_event(&mut self, run: &RunRecord) {
        self.effects.events.push(EngineEvent::Run {
            run_id: run.id.clone(),
            workflow: run.workflow.clone(),
            status: run.status,
            error: run.error.clone(),
        });
    }

    async fn put(&mut self, row: &StepRecord) -> Result<()> {
        self.db.put_step(row);
        self.step_event(row);
        Ok(())
    }

    async fn plan(&self, run: &RunRecord) -> Result<Arc<WorkflowPlan>> {
        self.shared
            .plans
            .get(&self.shared.store, &run.workflow, run.version)
            .await
    }
}

fn reset(row: &mut StepRecord) {
    row.status = StepStatus::Pending;
    row.output = None;
    row.error_kind = None;
    row.error_message = None;
    row.failures = 0;
    row.child_run = None;
    row.due_at = None;
    row.lease_owner = None;
    row.lease_until = None;
    row.finished_at = None;
}

fn is_done(row: Option<&StepRecord>) -> bool {
    row.is_some_and(|r| r.status.is_terminal())
}

/// The parts of an expression scope computed from a run's rows.
struct RunView {
    steps: Value,
    run: Value,
}

impl RunView {
    fn new(plan: &WorkflowPlan, rows: &HashMap<String, StepRecord>, run: &RunRecord) -> RunView {
        RunView {
            steps: steps_view(plan, rows),
            run: run_view(run),
        }
    }

    /// The scope of a step of the run (no `item`/`index`; `error` in
    /// compensation steps).
    fn scope<'a>(
        &'a self,
        input: &'a Value,
        plan: &'a WorkflowPlan,
        error: Option<&'a Value>,
    ) -> Scope<'a> {
        Scope {
            input: Some(input),
            steps: Some(&self.steps),
            run: Some(&self.run),
            env: Some(&plan.env),
            error,
            ..Scope::default()
        }
    }
}

/// `steps` as expressions see it: every step of the plan, with its status,
/// output and error.
fn steps_view(plan: &WorkflowPlan, rows: &HashMap<String, StepRecord>) -> Value {
    let mut map = serde_json::Map::new();
    for step in plan.steps.iter().chain(plan.on_failure.iter()) {
        let view = match rows.get(&step.id) {
            Some(row) => json!({
                "status": row.status.as_str(),
                "output": parse(row.output.as_deref()),
                "error": row.error_message.as_ref().filter(|_| row.status == StepStatus::Failed).map(|m| json!({
                    "kind": row.error_kind, "message": m
                })),
            }),
            None => json!({"status": "pending", "output": null, "error": null}),
        };
        map.insert(step.id.clone(), view);
    }
    Value::Object(map)
}

fn run_view(run: &RunRecord) -> Value {
    json!({
        "id": run.id,
        "workflow": run.workflow,
        "version": run.version,
        "started_at": rfc3339(run.created_at),
    })
}
