//! How runs end and change course: failing (then compensating),
//! cancelling with their children, finishing, starting, retrying, and a
//! child run's end reaching its parent step.

use super::*;

impl<'s, S: Store> Turn<'s, S> {
    // ---- starting runs ------------------------------------------------

    /// Starts a run (or returns the one started with the same key).
    pub(crate) async fn start_run(&mut self, request: &StartRun) -> Result<RunRecord> {
        self.start_run_for(request, None).await
    }

    /// Starts a run, for the event `event_seq` when a rule starts it: the
    /// policies of the `run` point decide whether it starts, starts behind
    /// an approval gate, or is refused.
    pub(crate) async fn start_run_for(
        &mut self,
        request: &StartRun,
        event_seq: Option<i64>,
    ) -> Result<RunRecord> {
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
            started_by: request.started_by.clone(),
            event_seq,
            ..run
        };
        let gate = self.run_gate(&run);
        if let gates::Gate::Denied(decision) = gate {
            return Err(EngineError::PolicyDenied {
                policy: decision.policy,
                message: decision.message,
            });
        }
        self.db.new_run(&run);
        self.run_event(&run);
        self.db.audit(
            crate::store::AuditEntry::new(
                run.started_by.clone(),
                crate::store::action::RUN_START,
                format!("run/{}", run.id),
                json!({"workflow": run.workflow, "version": run.version, "event": event_seq}),
            )
            .at(self.now),
        );
        if let gates::Gate::Approval(decision) = gate {
            let mut row = StepRecord::new(&run.id, RUN_GATE, -1, "gate", self.now);
            row.started_at = Some(self.now);
            self.policy_gate(&run, &mut row, "run", &decision).await?;
            self.put(&row).await?;
        } else {
            self.work.push_back(Work::Advance(run.id.clone()));
        }
        Ok(run)
    }

    /// Checks the input and builds a run record (not yet stored).
    pub(super) fn new_run(
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
            started_by: parent
                .map_or_else(|| "local".to_string(), |(p, _, _)| format!("run:{}", p.id)),
            event_seq: None,
        })
    }

    fn audit_run(&mut self, actor: &str, action: &str, run_id: &str) {
        self.db.audit(
            crate::store::AuditEntry::new(actor, action, format!("run/{run_id}"), json!({}))
                .at(self.now),
        );
    }

    /// A step failed the run: stop everything, then compensate or end.
    pub(super) async fn fail_run(
        &mut self,
        run: &mut RunRecord,
        plan: &WorkflowPlan,
        error: String,
    ) -> Result<()> {
        for child in self.stop_rows(&run.id, "the run failed").await? {
            self.cancel_tree(&child, "the parent run failed").await?;
        }
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

    /// Cancels every unfinished row of a run and interrupts the running
    /// ones; returns the child runs its steps were waiting for.
    pub(super) async fn stop_rows(&mut self, run_id: &str, why: &str) -> Result<Vec<String>> {
        let mut children = Vec::new();
        for mut row in self.db.unfinished_rows(run_id).await? {
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
                children.push(child);
            }
            if row.status == StepStatus::Waiting
                && matches!(row.kind.as_str(), "approval" | "plugin" | "gate")
            {
                self.withdraw_approval(&row).await?;
            }
            self.end_row(&mut row, StepStatus::Cancelled, "cancelled", why);
            self.put(&row).await?;
        }
        Ok(children)
    }

    /// Cancels a run and, depth first, its children.
    pub(super) async fn cancel_tree(&mut self, run_id: &str, why: &str) -> Result<()> {
        let mut stack = vec![run_id.to_string()];
        while let Some(id) = stack.pop() {
            let Some(mut run) = self.db.run(&id).await? else {
                continue;
            };
            if run.status.is_terminal() {
                continue;
            }
            stack.extend(self.stop_rows(&run.id, why).await?);
            run.error = Some(error_value("", "cancelled", why));
            self.finish_run(&mut run, RunStatus::Cancelled, None)
                .await?;
        }
        Ok(())
    }

    pub(super) async fn finish_run(
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
        if run.started_by.starts_with("schedule:") {
            self.effects.schedules_changed = true;
        }
        if run.parent_run.is_some() {
            self.work.push_back(Work::ChildFinished(run.id.clone()));
        }
        Ok(())
    }

    pub(super) async fn child_finished(&mut self, child_id: &str) -> Result<()> {
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

    // ---- user operations -------------------------------------------------

    /// Cancels a run: pending steps never start, running ones are
    /// interrupted, child runs are cancelled too.
    pub(crate) async fn cancel_run(&mut self, run_id: &str, actor: &str) -> Result<RunRecord> {
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
        self.audit_run(actor, crate::store::action::RUN_CANCEL, run_id);
        self.db
            .run(run_id)
            .await?
            .ok_or_else(|| EngineError::NotFound(format!("no run `{run_id}`")))
    }

    /// Runs a failed or cancelled run again from the steps that did not
    /// succeed, keeping the outputs of those that did.
    pub(crate) async fn retry_run(&mut self, run_id: &str, actor: &str) -> Result<RunRecord> {
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
        let rows = self.db.step_rows(run_id).await?;
        if rows
            .iter()
            .any(|r| r.step_id == RUN_GATE && r.status != StepStatus::Succeeded)
        {
            return Err(EngineError::Conflict(format!(
                "run {run_id} never passed its approval gate; start a new run instead"
            )));
        }
        let plan = self.plan(&run).await?;
        for mut row in rows {
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
        self.audit_run(actor, crate::store::action::RUN_RETRY, run_id);
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
