//! One write transaction of the engine, and everything it can do to runs.
//!
//! A [`Turn`] wraps a store transaction and the time it happens at. The
//! writer feeds it a batch of operations (start, complete, cancel, retry,
//! timers, claims); each operation changes rows and queues follow-up
//! [`Work`] (advance this run, a child run finished), which the turn drains
//! without recursion. Side effects that must wait for the commit (events,
//! interrupts of running steps, tasks for workers) are collected in
//! [`Effects`]; nothing leaves the turn before the transaction is durable.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use serde_json::{Value, json};

use crate::store::{AttemptRecord, RunRecord, RunStatus, StepRecord, StepStatus, Store, StoreTx};
use crate::workflow::expr::Scope;
use crate::workflow::{OnError, StepAction, StepPlan, WorkflowPlan};

use super::clock::rfc3339;
use super::unit::Unit;
use super::worker::{Failure, Outcome, Task, TaskKey};
use super::{EngineError, EngineEvent, Result, Shared, StartRun};

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
            db: Unit::new(shared.store.begin().await?),
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

    // ---- starting runs ------------------------------------------------

    /// Starts a run (or returns the one started with the same key).
    pub async fn start_run(&mut self, request: &StartRun) -> Result<RunRecord> {
        if let Some(key) = &request.idempotency_key
            && let Some(existing) = self.db.run_by_key(&request.workflow, key).await?
        {
            return Ok(existing);
        }
        let (version, plan) = self
            .shared
            .plans
            .resolve(
                &self.shared.store,
                &request.workflow,
                request.version,
                self.shared.config.exclusive,
            )
            .await?
            .ok_or_else(|| match request.version {
                Some(v) => {
                    EngineError::NotFound(format!("no workflow `{}` version {v}", request.workflow))
                }
                None => EngineError::NotFound(format!("no workflow `{}`", request.workflow)),
            })?;
        let run = self.new_run(&plan, &request.workflow, version, &request.input, None)?;
        let run = RunRecord {
            idempotency_key: request.idempotency_key.clone(),
            ..run
        };
        self.db.new_run(&run);
        self.run_event(&run);
        self.work.push_back(Work::Advance(run.id.clone()));
        Ok(run)
    }

    /// Checks the input and builds a run record (not yet stored).
    fn new_run(
        &self,
        plan: &WorkflowPlan,
        workflow: &str,
        version: i64,
        input: &Value,
        parent: Option<(&RunRecord, &str, i64)>,
    ) -> Result<RunRecord> {
        if let Some(schema) = &plan.input_schema {
            schema.check(input).map_err(EngineError::InputRejected)?;
        }
        let text = json_text(input);
        self.check_payload("the run input", &text)?;
        Ok(RunRecord {
            id: uuid::Uuid::now_v7().to_string(),
            workflow: workflow.to_string(),
            version,
            status: RunStatus::Running,
            input: text,
            output: None,
            error: None,
            idempotency_key: None,
            parent_run: parent.map(|(p, _, _)| p.id.clone()),
            parent_step: parent.map(|(_, s, _)| s.to_string()),
            parent_item: parent.map(|(_, _, i)| i),
            depth: parent.map_or(0, |(p, _, _)| p.depth + 1),
            created_at: self.now,
            updated_at: self.now,
            finished_at: None,
        })
    }

    // ---- advancing a run ----------------------------------------------

    async fn advance(&mut self, run_id: &str) -> Result<()> {
        let Some(mut run) = self.db.run(run_id).await? else {
            return Ok(());
        };
        if run.status.is_terminal() {
            return Ok(());
        }
        let plan = self.plan(&run).await?;
        let mut rows: HashMap<String, StepRecord> = self
            .db
            .step_rows(run_id)
            .await?
            .into_iter()
            .map(|row| (row.step_id.clone(), row))
            .collect();
        let input = parse(Some(&run.input));

        if run.status == RunStatus::Running {
            self.progress(&run, &plan, &plan.steps, &mut rows, &input, None)
                .await?;
            let failed = plan.steps.iter().find_map(|step| {
                let row = rows.get(&step.id)?;
                (row.status == StepStatus::Failed && step.on_error == OnError::Fail)
                    .then(|| row.clone())
            });
            if let Some(row) = failed {
                let error = error_value(
                    &row.step_id,
                    row.error_kind.as_deref().unwrap_or("failed"),
                    row.error_message.as_deref().unwrap_or(""),
                );
                self.fail_run(&mut run, &plan, error).await?;
                if run.status != RunStatus::Compensating {
                    return Ok(());
                }
                rows = self
                    .db
                    .step_rows(run_id)
                    .await?
                    .into_iter()
                    .map(|row| (row.step_id.clone(), row))
                    .collect();
            } else if plan.steps.iter().all(|step| is_done(rows.get(&step.id))) {
                return self.succeed_run(&mut run, &plan, &rows, &input).await;
            } else {
                return Ok(());
            }
        }

        // Compensating.
        let error = parse(run.error.as_deref());
        self.progress(
            &run,
            &plan,
            &plan.on_failure,
            &mut rows,
            &input,
            Some(&error),
        )
        .await?;
        if plan
            .on_failure
            .iter()
            .all(|step| is_done(rows.get(&step.id)))
        {
            self.finish_run(&mut run, RunStatus::Failed, None).await?;
        }
        Ok(())
    }

    /// Starts every step of `dag` whose needs are done, in order.
    async fn progress(
        &mut self,
        run: &RunRecord,
        plan: &WorkflowPlan,
        dag: &[StepPlan],
        rows: &mut HashMap<String, StepRecord>,
        input: &Value,
        error: Option<&Value>,
    ) -> Result<()> {
        for step in dag {
            let previous = rows.get(&step.id);
            if previous.is_some_and(|row| row.status != StepStatus::Pending) {
                continue;
            }
            let needs: Vec<&StepRecord> = step
                .needs
                .iter()
                .filter_map(|&i| rows.get(&dag[i].id))
                .collect();
            if needs.len() < step.needs.len() || !needs.iter().all(|r| r.status.is_terminal()) {
                continue;
            }
            // A need that failed the run: nothing after it starts.
            let run_failing = step.needs.iter().any(|&i| {
                dag[i].on_error == OnError::Fail
                    && rows
                        .get(&dag[i].id)
                        .is_some_and(|r| r.status == StepStatus::Failed)
            });
            if run_failing {
                if error.is_some() {
                    // Compensation is best effort: what depends on a failed
                    // compensation step is cancelled, the rest runs.
                    let mut row =
                        StepRecord::new(&run.id, &step.id, -1, step.action.kind(), self.now);
                    self.end_row(
                        &mut row,
                        StepStatus::Cancelled,
                        "cancelled",
                        "a need failed",
                    );
                    self.put(&row).await?;
                    rows.insert(step.id.clone(), row);
                }
                continue;
            }
            let attempts = previous.map_or(0, |row| row.attempts);
            let mut row = StepRecord::new(&run.id, &step.id, -1, step.action.kind(), self.now);
            row.attempts = attempts;
            if let Some(previous) = previous {
                row.created_at = previous.created_at;
            }
            let skipped_need = needs.iter().any(|r| r.status == StepStatus::Skipped);
            let cancelled_need = needs.iter().any(|r| r.status == StepStatus::Cancelled);
            if cancelled_need {
                self.end_row(
                    &mut row,
                    StepStatus::Cancelled,
                    "cancelled",
                    "a need was cancelled",
                );
            } else if skipped_need && step.if_needs_skipped == crate::workflow::NeedsSkipped::Skip {
                self.end_row(
                    &mut row,
                    StepStatus::Skipped,
                    "skipped",
                    "a need was skipped",
                );
            } else {
                let steps_view = steps_view(plan, rows);
                let run_view = run_view(run);
                let scope = Scope {
                    input: Some(input),
                    steps: Some(&steps_view),
                    run: Some(&run_view),
                    env: Some(&plan.env),
                    item: None,
                    index: None,
                    error,
                };
                self.start_step(run, step, &mut row, &scope).await?;
            }
            self.put(&row).await?;
            rows.insert(step.id.clone(), row);
        }
        Ok(())
    }

    fn end_row(&self, row: &mut StepRecord, status: StepStatus, kind: &str, message: &str) {
        row.status = status;
        row.finished_at = Some(self.now);
        row.due_at = None;
        row.lease_owner = None;
        row.lease_until = None;
        if status == StepStatus::Succeeded {
            row.error_kind = None;
            row.error_message = None;
        } else {
            row.error_kind = Some(kind.into());
            row.error_message = Some(message.into());
        }
    }

    /// Decides a step whose needs are done: skip, fail, or start it.
    async fn start_step(
        &mut self,
        run: &RunRecord,
        step: &StepPlan,
        row: &mut StepRecord,
        scope: &Scope<'_>,
    ) -> Result<()> {
        if let Some(condition) = &step.condition {
            match condition.evaluate_bool(scope) {
                Ok(true) => {}
                Ok(false) => {
                    self.end_row(
                        row,
                        StepStatus::Skipped,
                        "skipped",
                        "its condition was false",
                    );
                    return Ok(());
                }
                Err(e) => {
                    self.end_row(row, StepStatus::Failed, "expression", &format!("if: {e}"));
                    return Ok(());
                }
            }
        }
        row.started_at = Some(self.now);
        let Some(for_each) = &step.for_each else {
            return self.prepare(run, step, row, scope).await;
        };
        let items = match for_each.items.evaluate(scope) {
            Ok(Value::Array(items)) => items,
            Ok(other) => {
                let message = format!(
                    "for_each: expected a list, got {}",
                    crate::workflow::expr::type_name(&other)
                );
                self.end_row(row, StepStatus::Failed, "expression", &message);
                return Ok(());
            }
            Err(e) => {
                self.end_row(
                    row,
                    StepStatus::Failed,
                    "expression",
                    &format!("for_each: {e}"),
                );
                return Ok(());
            }
        };
        if items.len() > self.shared.config.max_items {
            let message = format!(
                "for_each: {} elements, over the limit of {}",
                items.len(),
                self.shared.config.max_items
            );
            self.end_row(row, StepStatus::Failed, "too-many-items", &message);
            return Ok(());
        }
        row.items_total = Some(items.len() as i64);
        row.items_done = 0;
        if items.is_empty() {
            row.output = Some("[]".into());
            self.end_row(row, StepStatus::Succeeded, "", "");
            return Ok(());
        }
        row.status = StepStatus::Waiting;
        for (index, item) in items.iter().enumerate() {
            let index_value = json!(index);
            let item_scope = Scope {
                item: Some(item),
                index: Some(&index_value),
                ..*scope
            };
            let mut element = StepRecord::new(
                &run.id,
                &step.id,
                index as i64,
                step.action.kind(),
                self.now,
            );
            if let Some(existing) = self.db.step_row(&run.id, &step.id, index as i64).await? {
                element.attempts = existing.attempts;
                element.created_at = existing.created_at;
            }
            self.prepare(run, step, &mut element, &item_scope).await?;
            if element.status.is_terminal() {
                // Could not even be prepared: it is done (failed).
                row.items_done += 1;
                self.put(&element).await?;
                continue;
            }
            element.status = StepStatus::Pending;
            element.due_at = None;
            self.db.put_step(&element);
        }
        self.release_items(run, row, i64::from(for_each.concurrency))
            .await?;
        if row.items_done == items.len() as i64 {
            self.aggregate(row).await?;
        }
        Ok(())
    }

    /// Renders a row's input and makes it ready (or waiting, for timers and
    /// child runs), or fails it with the reason.
    async fn prepare(
        &mut self,
        run: &RunRecord,
        step: &StepPlan,
        row: &mut StepRecord,
        scope: &Scope<'_>,
    ) -> Result<()> {
        row.timeout_ms = step
            .timeout
            .map(|t| i64::try_from(t.as_millis()).unwrap_or(i64::MAX));
        match &step.action {
            StepAction::Plugin {
                name, digest, with, ..
            } => {
                row.plugin = Some(name.clone());
                row.digest = Some(digest.clone());
                match self.render(row, with, scope) {
                    Some(input) => {
                        row.input = Some(input);
                        row.status = StepStatus::Ready;
                        row.due_at = Some(self.now);
                    }
                    None => return Ok(()),
                }
            }
            StepAction::Sleep(duration) => {
                row.status = StepStatus::Waiting;
                row.due_at =
                    Some(self.now + i64::try_from(duration.as_millis()).unwrap_or(i64::MAX / 2));
            }
            StepAction::Workflow {
                name,
                version,
                with,
            } => {
                let Some(input) = self.render(row, with, scope) else {
                    return Ok(());
                };
                row.plugin = Some(name.clone());
                row.input = Some(input);
                row.status = StepStatus::Waiting;
                if row.item < 0 {
                    // Elements start their child when released.
                    self.start_child(run, row, name, *version).await?;
                }
            }
        }
        Ok(())
    }

    fn render(
        &self,
        row: &mut StepRecord,
        with: &crate::workflow::expr::Template,
        scope: &Scope<'_>,
    ) -> Option<String> {
        match with.render(scope) {
            Ok(value) => {
                let text = json_text(&value);
                if let Err(e) =
                    self.check_payload(format!("the input of step `{}`", row.step_id), &text)
                {
                    self.end_row(row, StepStatus::Failed, "payload-too-large", &e.to_string());
                    return None;
                }
                Some(text)
            }
            Err(e) => {
                self.end_row(row, StepStatus::Failed, "expression", &format!("with: {e}"));
                None
            }
        }
    }

    /// Starts the child run of a workflow step row (already `waiting`).
    async fn start_child(
        &mut self,
        parent: &RunRecord,
        row: &mut StepRecord,
        name: &str,
        version: Option<i64>,
    ) -> Result<()> {
        if parent.depth + 1 > self.shared.config.max_depth {
            let message = format!(
                "child workflows nest deeper than {} levels",
                self.shared.config.max_depth
            );
            self.end_row(row, StepStatus::Failed, "too-deep", &message);
            return Ok(());
        }
        let resolved = self
            .shared
            .plans
            .resolve(
                &self.shared.store,
                name,
                version,
                self.shared.config.exclusive,
            )
            .await?;
        let Some((version, plan)) = resolved else {
            self.end_row(
                row,
                StepStatus::Failed,
                "not-found",
                &format!("no workflow `{name}`"),
            );
            return Ok(());
        };
        let input = parse(row.input.as_deref());
        match self.new_run(
            &plan,
            name,
            version,
            &input,
            Some((parent, &row.step_id, row.item)),
        ) {
            Ok(child) => {
                self.db.new_run(&child);
                self.run_event(&child);
                row.child_run = Some(child.id.clone());
                row.attempts += 1;
                self.work.push_back(Work::Advance(child.id));
            }
            Err(EngineError::Store(e)) => return Err(e.into()),
            Err(e) => self.end_row(row, StepStatus::Failed, "invalid-input", &e.to_string()),
        }
        Ok(())
    }

    /// Moves up to `slots` pending elements of a for_each step forward.
    async fn release_items(
        &mut self,
        run: &RunRecord,
        parent: &mut StepRecord,
        slots: i64,
    ) -> Result<()> {
        if slots <= 0 {
            return Ok(());
        }
        for mut element in self
            .db
            .pending_items(&run.id, &parent.step_id, slots)
            .await?
        {
            if element.kind == "workflow" {
                element.status = StepStatus::Waiting;
                let name = element.plugin.clone().unwrap_or_default();
                let plan = self.plan(run).await?;
                let version = match plan.step(&parent.step_id).map(|s| &s.action) {
                    Some(StepAction::Workflow { version, .. }) => *version,
                    _ => None,
                };
                self.start_child(run, &mut element, &name, version).await?;
                if element.status.is_terminal() {
                    parent.items_done += 1;
                }
            } else {
                element.status = StepStatus::Ready;
                element.due_at = Some(self.now);
            }
            self.put(&element).await?;
        }
        Ok(())
    }

    /// Every element of `parent` is done: compute its list output.
    async fn aggregate(&mut self, parent: &mut StepRecord) -> Result<()> {
        let elements = self.db.item_rows(&parent.run_id, &parent.step_id).await?;
        let mut outputs = Vec::with_capacity(elements.len());
        let mut failed = Vec::new();
        for element in &elements {
            if element.status == StepStatus::Succeeded {
                outputs.push(parse(element.output.as_deref()));
            } else {
                outputs.push(Value::Null);
                failed.push(element);
            }
        }
        parent.output = Some(Value::Array(outputs).to_string());
        if let Some(first) = failed.first() {
            let message = format!(
                "{} of {} elements failed; element {}: {}: {}",
                failed.len(),
                elements.len(),
                first.item,
                first.error_kind.as_deref().unwrap_or("failed"),
                first.error_message.as_deref().unwrap_or("")
            );
            self.end_row(parent, StepStatus::Failed, "elements-failed", &message);
        } else {
            self.end_row(parent, StepStatus::Succeeded, "", "");
        }
        Ok(())
    }

    async fn succeed_run(
        &mut self,
        run: &mut RunRecord,
        plan: &WorkflowPlan,
        rows: &HashMap<String, StepRecord>,
        input: &Value,
    ) -> Result<()> {
        let Some(outputs) = &plan.outputs else {
            return self.finish_run(run, RunStatus::Succeeded, None).await;
        };
        let steps_view = steps_view(plan, rows);
        let run_view = run_view(run);
        let scope = Scope {
            input: Some(input),
            steps: Some(&steps_view),
            run: Some(&run_view),
            env: Some(&plan.env),
            ..Scope::default()
        };
        let rendered = outputs
            .render(&scope)
            .map_err(|e| ("expression", format!("outputs: {e}")))
            .and_then(|value| {
                let text = json_text(&value);
                self.check_payload("the run output", &text)
                    .map(|()| text)
                    .map_err(|e| ("payload-too-large", e.to_string()))
            });
        match rendered {
            Ok(text) => self.finish_run(run, RunStatus::Succeeded, Some(text)).await,
            Err((kind, message)) => {
                let error = error_value("outputs", kind, &message);
                self.fail_run(run, plan, error).await
            }
        }
    }

    /// A step failed the run: stop everything, then compensate or end.
    async fn fail_run(
        &mut self,
        run: &mut RunRecord,
        plan: &WorkflowPlan,
        error: String,
    ) -> Result<()> {
        self.stop_rows(run, "the run failed").await?;
        run.error = Some(error);
        if plan.on_failure.is_empty() {
            self.finish_run(run, RunStatus::Failed, None).await
        } else {
            run.status = RunStatus::Compensating;
            run.updated_at = self.now;
            self.db.put_run(run);
            self.run_event(run);
            Ok(())
        }
    }

    /// Cancels every unfinished row of a run (and its child runs), and
    /// interrupts the ones running.
    async fn stop_rows(&mut self, run: &RunRecord, why: &str) -> Result<()> {
        for mut row in self.db.unfinished_rows(&run.id).await? {
            if row.status == StepStatus::Running {
                self.effects.interrupts.push(TaskKey {
                    run_id: row.run_id.clone(),
                    step_id: row.step_id.clone(),
                    item: row.item,
                });
            }
            if let Some(child) = row.child_run.clone()
                && row.status == StepStatus::Waiting
            {
                self.cancel_tree(&child, why).await?;
            }
            self.end_row(&mut row, StepStatus::Cancelled, "cancelled", why);
            self.put(&row).await?;
        }
        Ok(())
    }

    /// Cancels a run and, depth first, its children.
    async fn cancel_tree(&mut self, run_id: &str, why: &str) -> Result<()> {
        let mut stack = vec![run_id.to_string()];
        while let Some(id) = stack.pop() {
            let Some(mut run) = self.db.run(&id).await? else {
                continue;
            };
            if run.status.is_terminal() {
                continue;
            }
            for mut row in self.db.unfinished_rows(&run.id).await? {
                if row.status == StepStatus::Running {
                    self.effects.interrupts.push(TaskKey {
                        run_id: row.run_id.clone(),
                        step_id: row.step_id.clone(),
                        item: row.item,
                    });
                }
                if let Some(child) = row.child_run.clone()
                    && row.status == StepStatus::Waiting
                {
                    stack.push(child);
                }
                self.end_row(&mut row, StepStatus::Cancelled, "cancelled", why);
                self.put(&row).await?;
            }
            run.error = Some(error_value("", "cancelled", why));
            self.finish_run(&mut run, RunStatus::Cancelled, None)
                .await?;
        }
        Ok(())
    }

    async fn finish_run(
        &mut self,
        run: &mut RunRecord,
        status: RunStatus,
        output: Option<String>,
    ) -> Result<()> {
        run.status = status;
        run.output = output;
        if status == RunStatus::Succeeded {
            run.error = None;
        }
        run.updated_at = self.now;
        run.finished_at = Some(self.now);
        self.db.put_run(run);
        self.run_event(run);
        if run.parent_run.is_some() {
            self.work.push_back(Work::ChildFinished(run.id.clone()));
        }
        Ok(())
    }

    async fn child_finished(&mut self, child_id: &str) -> Result<()> {
        let Some(child) = self.db.run(child_id).await? else {
            return Ok(());
        };
        let (Some(parent), Some(step), Some(item)) =
            (&child.parent_run, &child.parent_step, child.parent_item)
        else {
            return Ok(());
        };
        let Some(row) = self.db.step_row(parent, step, item).await? else {
            return Ok(());
        };
        if row.status != StepStatus::Waiting || row.child_run.as_deref() != Some(child_id) {
            return Ok(());
        }
        let result = match child.status {
            RunStatus::Succeeded => Ok(parse(child.output.as_deref())),
            RunStatus::Cancelled => Err(Failure::permanent(
                "child-cancelled",
                format!("child run {child_id} was cancelled"),
            )),
            _ => {
                let error = parse(child.error.as_deref());
                let detail = match (
                    error.get("step").and_then(Value::as_str),
                    error.get("message").and_then(Value::as_str),
                ) {
                    (Some(step), Some(message)) if !step.is_empty() => {
                        format!(": step `{step}`: {message}")
                    }
                    (_, Some(message)) => format!(": {message}"),
                    _ => String::new(),
                };
                Err(Failure::permanent(
                    "child-failed",
                    format!("child run {child_id} failed{detail}"),
                ))
            }
        };
        self.finish_row(row, result, false).await
    }

    // ---- completing rows -----------------------------------------------

    /// Records a worker's result, exactly once: a result for a row this
    /// process no longer leases (cancelled, or taken over) only closes its
    /// attempt.
    pub async fn complete(&mut self, task: &Task, outcome: Outcome) -> Result<()> {
        let key = &task.key;
        let current = self
            .db
            .step_row(&key.run_id, &key.step_id, key.item)
            .await?;
        let ours = current.as_ref().is_some_and(|row| {
            row.status == StepStatus::Running
                && row.lease_owner.as_deref() == Some(self.shared.owner.as_str())
                && row.attempts == task.attempt
        });
        let mut result = outcome.result;
        if let Ok(value) = &result {
            let text = json_text(value);
            if let Err(e) =
                self.check_payload(format!("the output of step `{}`", key.step_id), &text)
            {
                result = Err(Failure::permanent("payload-too-large", e.to_string()));
            }
        }
        let (status, output, kind, message) = match (&result, ours) {
            (_, false) => (
                "cancelled",
                None,
                Some("superseded".to_string()),
                Some(
                    "the step was cancelled or taken over before this attempt finished".to_string(),
                ),
            ),
            (Ok(value), true) => ("succeeded", Some(json_text(value)), None, None),
            (Err(f), true) => (
                "failed",
                None,
                Some(f.kind.clone()),
                Some(f.message.clone()),
            ),
        };
        self.db.finish_attempt(AttemptRecord {
            run_id: key.run_id.clone(),
            step_id: key.step_id.clone(),
            item: key.item,
            attempt: task.attempt,
            status: status.into(),
            worker: self.shared.owner.clone(),
            output,
            error_kind: kind,
            error_message: message,
            logs: outcome.logs,
            logs_dropped: outcome.logs_dropped,
            started_at: 0,
            finished_at: Some(self.now),
        });
        match current {
            Some(row) if ours => self.finish_row(row, result, true).await,
            _ => Ok(()),
        }
    }

    /// Ends a row with a result, or schedules its retry.
    async fn finish_row(
        &mut self,
        mut row: StepRecord,
        result: Result<Value, Failure>,
        may_retry: bool,
    ) -> Result<()> {
        match result {
            Ok(value) => {
                row.output = Some(json_text(&value));
                self.end_row(&mut row, StepStatus::Succeeded, "", "");
            }
            Err(failure) => {
                row.failures += 1;
                let policy = if may_retry && failure.retryable {
                    let run = self.db.run(&row.run_id).await?;
                    match run {
                        Some(run) => self
                            .plan(&run)
                            .await?
                            .step(&row.step_id)
                            .map(|s| s.retry.clone()),
                        None => None,
                    }
                } else {
                    None
                };
                match policy {
                    Some(policy) if row.failures < i64::from(policy.max_attempts) => {
                        let failures = u32::try_from(row.failures).unwrap_or(u32::MAX);
                        let mut delay = policy.delay(failures, rand::random::<f64>());
                        if let Some(hint) = failure.retry_after {
                            delay = delay.max(hint.min(policy.max));
                        }
                        row.status = StepStatus::Ready;
                        row.due_at = Some(
                            self.now + i64::try_from(delay.as_millis()).unwrap_or(i64::MAX / 2),
                        );
                        row.lease_owner = None;
                        row.lease_until = None;
                        row.error_kind = Some(failure.kind);
                        row.error_message = Some(failure.message);
                        return self.put(&row).await;
                    }
                    _ => self.end_row(
                        &mut row,
                        StepStatus::Failed,
                        &failure.kind,
                        &failure.message,
                    ),
                }
            }
        }
        self.put(&row).await?;
        self.after_row(&row).await
    }

    /// A row ended: let its for_each parent or its run move on.
    async fn after_row(&mut self, row: &StepRecord) -> Result<()> {
        if row.item < 0 {
            self.work.push_back(Work::Advance(row.run_id.clone()));
            return Ok(());
        }
        let Some(mut parent) = self.db.step_row(&row.run_id, &row.step_id, -1).await? else {
            return Ok(());
        };
        if parent.status != StepStatus::Waiting {
            return Ok(());
        }
        parent.items_done += 1;
        if let Some(run) = self.db.run(&row.run_id).await? {
            self.release_items(&run, &mut parent, 1).await?;
        }
        if Some(parent.items_done) >= parent.items_total {
            self.aggregate(&mut parent).await?;
            self.put(&parent).await?;
            self.work.push_back(Work::Advance(row.run_id.clone()));
        } else {
            self.db.put_step(&parent);
        }
        Ok(())
    }

    /// Completes due sleep timers.
    pub async fn fire_timers(&mut self, limit: i64) -> Result<usize> {
        let due = self.db.tx.due_timers(self.now, limit).await?;
        let due = self.db.adopt(due);
        let fired = due.len();
        for row in due {
            if row.kind == "sleep" && row.status == StepStatus::Waiting {
                self.finish_row(row, Ok(Value::Null), false).await?;
            }
        }
        Ok(fired)
    }

    // ---- leases --------------------------------------------------------

    /// Leases ready rows to this process and records their attempts: first
    /// the rows this turn made ready (no statement needed), then, if there
    /// is room and `backlog` says the database holds due rows, those (after
    /// writing the turn's changes, so that the database sees them). Returns
    /// whether the database was asked.
    pub async fn claim(&mut self, capacity: usize, backlog: bool) -> Result<bool> {
        let owner = self.shared.owner.clone();
        let until = self.now + self.shared.config.lease_ms();
        let mut taken = 0;
        let mut ready = self.db.ready_rows(self.now);
        // Fair between runs: the first ready row of every run, then the
        // second, and so on.
        let mut turn_of: HashMap<String, usize> = HashMap::new();
        let mut ranked: Vec<(usize, StepRecord)> = ready
            .drain(..)
            .map(|row| {
                let turn = turn_of.entry(row.run_id.clone()).or_insert(0);
                *turn += 1;
                (*turn, row)
            })
            .collect();
        ranked.sort_by_key(|(turn, row)| (*turn, row.due_at));
        for (_, mut row) in ranked.into_iter().take(capacity) {
            row.status = StepStatus::Running;
            row.lease_owner = Some(owner.clone());
            row.lease_until = Some(until);
            row.attempts += 1;
            row.started_at = row.started_at.or(Some(self.now));
            self.db.put_step(&row);
            self.leased(row);
            taken += 1;
        }
        let asked = backlog && taken < capacity;
        if asked {
            self.db.flush().await?;
            let rows = self
                .db
                .tx
                .claim(&owner, self.now, until, (capacity - taken) as i64)
                .await?;
            self.db.replace(&rows);
            for row in rows {
                self.leased(row);
            }
        }
        Ok(asked)
    }

    /// Records the attempt of a freshly leased row and hands it to a worker
    /// once the turn commits.
    fn leased(&mut self, row: StepRecord) {
        self.db.insert_attempt(AttemptRecord {
            run_id: row.run_id.clone(),
            step_id: row.step_id.clone(),
            item: row.item,
            attempt: row.attempts,
            status: "running".into(),
            worker: self.shared.owner.clone(),
            output: None,
            error_kind: None,
            error_message: None,
            logs: None,
            logs_dropped: 0,
            started_at: self.now,
            finished_at: None,
        });
        self.step_event(&row);
        self.effects.tasks.push(Task {
            key: TaskKey {
                run_id: row.run_id.clone(),
                step_id: row.step_id.clone(),
                item: row.item,
            },
            attempt: row.attempts,
            digest: row.digest.clone().unwrap_or_default(),
            input: row.input.clone().unwrap_or_else(|| "null".into()),
            timeout: row
                .timeout_ms
                .map(|ms| std::time::Duration::from_millis(ms.max(0).unsigned_abs())),
        });
    }

    /// Puts rows whose lease expired (or, with `everything`, every row left
    /// running by an earlier process) back in the queue.
    pub async fn take_over(&mut self, everything: bool) -> Result<usize> {
        let horizon = if everything { i64::MAX } else { self.now };
        let rows = self.db.tx.expired_leases(horizon).await?;
        let rows = self.db.adopt(rows);
        let mut count = 0;
        for mut row in rows {
            if row.status != StepStatus::Running
                || row.lease_owner.as_deref() == Some(self.shared.owner.as_str())
            {
                continue;
            }
            count += 1;
            self.db.finish_attempt(AttemptRecord {
                run_id: row.run_id.clone(),
                step_id: row.step_id.clone(),
                item: row.item,
                attempt: row.attempts,
                status: "abandoned".into(),
                worker: row.lease_owner.clone().unwrap_or_default(),
                output: None,
                error_kind: Some("lease-expired".into()),
                error_message: Some(
                    "the process running this attempt stopped before finishing it".into(),
                ),
                logs: None,
                logs_dropped: 0,
                started_at: 0,
                finished_at: Some(self.now),
            });
            row.status = StepStatus::Ready;
            row.due_at = Some(self.now);
            row.lease_owner = None;
            row.lease_until = None;
            self.put(&row).await?;
        }
        Ok(count)
    }

    // ---- user operations -------------------------------------------------

    /// Cancels a run: pending steps never start, running ones are
    /// interrupted, child runs are cancelled too.
    pub async fn cancel_run(&mut self, run_id: &str) -> Result<RunRecord> {
        let run = self
            .db
            .run(run_id)
            .await?
            .ok_or_else(|| EngineError::NotFound(format!("no run `{run_id}`")))?;
        if run.status.is_terminal() {
            return Err(EngineError::Conflict(format!(
                "run {run_id} has already ended ({})",
                run.status
            )));
        }
        self.cancel_tree(run_id, "cancelled by request").await?;
        self.db
            .run(run_id)
            .await?
            .ok_or_else(|| EngineError::NotFound(format!("no run `{run_id}`")))
    }

    /// Runs a failed or cancelled run again from the steps that did not
    /// succeed, keeping the outputs of those that did.
    pub async fn retry_run(&mut self, run_id: &str) -> Result<RunRecord> {
        let mut run = self
            .db
            .run(run_id)
            .await?
            .ok_or_else(|| EngineError::NotFound(format!("no run `{run_id}`")))?;
        if !matches!(run.status, RunStatus::Failed | RunStatus::Cancelled) {
            return Err(EngineError::Conflict(format!(
                "run {run_id} is {}; only failed or cancelled runs can be retried",
                run.status
            )));
        }
        if run.parent_run.is_some() {
            return Err(EngineError::Conflict(format!(
                "run {run_id} is a child run; retry its parent run instead"
            )));
        }
        let plan = self.plan(&run).await?;
        for mut row in self.db.step_rows(run_id).await? {
            let compensation = plan.on_failure.iter().any(|s| s.id == row.step_id);
            if !compensation && !matches!(row.status, StepStatus::Failed | StepStatus::Cancelled) {
                continue;
            }
            if row.items_total.is_some() && !compensation {
                // Keep the elements that succeeded; run the others again.
                let mut done = 0;
                for mut element in self.db.item_rows(run_id, &row.step_id).await? {
                    if element.status == StepStatus::Succeeded {
                        done += 1;
                        continue;
                    }
                    reset(&mut element);
                    self.db.put_step(&element);
                }
                reset(&mut row);
                row.status = StepStatus::Waiting;
                row.items_done = done;
                row.started_at = Some(self.now);
                let concurrency = plan
                    .step(&row.step_id)
                    .and_then(|s| s.for_each.as_ref())
                    .map_or(1, |f| i64::from(f.concurrency));
                self.release_items(&run, &mut row, concurrency).await?;
                if Some(row.items_done) >= row.items_total {
                    self.aggregate(&mut row).await?;
                }
                self.put(&row).await?;
                continue;
            }
            reset(&mut row);
            self.put(&row).await?;
        }
        run.status = RunStatus::Running;
        run.error = None;
        run.output = None;
        run.finished_at = None;
        run.updated_at = self.now;
        self.db.put_run(&run);
        self.run_event(&run);
        self.work.push_back(Work::Advance(run.id.clone()));
        Ok(run)
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
