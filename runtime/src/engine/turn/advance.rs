//! Advancing a run: deciding each step whose needs are done (skip, fail,
//! start), rendering inputs, fanning out `for_each` elements, starting child
//! runs, and computing the outputs when every step has ended.

use super::*;

impl<'s, S: Store> Turn<'s, S> {
    // ---- advancing a run ----------------------------------------------

    pub(super) async fn advance(&mut self, run_id: &str) -> Result<()> {
        let Some(mut run) = self.db.run(run_id).await? else {
            return Ok(());
        };
        if run.status.is_terminal() {
            return Ok(());
        }
        let plan = self.plan(&run).await?;
        let mut rows = self.rows_by_step(run_id).await?;
        // A run behind a policy's approval gate starts nothing yet.
        if rows
            .get(RUN_GATE)
            .is_some_and(|gate| gate.status != StepStatus::Succeeded)
        {
            return Ok(());
        }
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
                rows = self.rows_by_step(run_id).await?;
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
    /// The step-level rows of a run, by step id.
    pub(super) async fn rows_by_step(
        &mut self,
        run_id: &str,
    ) -> Result<HashMap<String, StepRecord>> {
        Ok(self
            .db
            .step_rows(run_id)
            .await?
            .into_iter()
            .map(|row| (row.step_id.clone(), row))
            .collect())
    }

    pub(super) async fn progress(
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
                let view = RunView::new(plan, rows, run);
                let scope = view.scope(input, plan, error);
                self.start_step(run, step, &mut row, &scope).await?;
            }
            self.put(&row).await?;
            rows.insert(step.id.clone(), row);
        }
        Ok(())
    }

    pub(super) fn end_row(
        &self,
        row: &mut StepRecord,
        status: StepStatus,
        kind: &str,
        message: &str,
    ) {
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
    pub(super) async fn start_step(
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
            if element.status == StepStatus::Waiting && element.kind == "plugin" {
                // Held by a policy's approval gate: it becomes ready (or
                // fails) when the gate is decided.
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
    pub(super) async fn prepare(
        &mut self,
        run: &RunRecord,
        step: &StepPlan,
        row: &mut StepRecord,
        scope: &Scope<'_>,
    ) -> Result<()> {
        row.timeout_ms = step.timeout.map(millis);
        match &step.action {
            StepAction::Plugin {
                name, digest, with, ..
            } => {
                row.plugin = Some(name.clone());
                row.digest = Some(digest.clone());
                let Some(input) = self.render(row, with, scope) else {
                    return Ok(());
                };
                let gate = self.step_gate(run, step, row, &input);
                row.input = Some(input);
                match gate {
                    gates::Gate::Open(_) => {
                        row.status = StepStatus::Ready;
                        row.due_at = Some(self.now);
                    }
                    gates::Gate::Denied(decision) => {
                        let message = format!(
                            "denied by policy `{}`: {}",
                            decision.policy, decision.message
                        );
                        self.end_row(row, StepStatus::Failed, "policy-denied", &message);
                    }
                    gates::Gate::Approval(decision) => {
                        self.policy_gate(run, row, "policy", &decision).await?;
                    }
                }
            }
            StepAction::WaitFor {
                pattern,
                condition,
                timeout,
            } => {
                self.start_wait(run, row, pattern, condition.as_ref(), *timeout, scope)
                    .await?;
            }
            StepAction::Approval {
                approvers,
                message,
                timeout,
                on_timeout,
            } => {
                let text = match message.as_ref().map(|m| m.render(scope)) {
                    Some(Ok(Value::String(text))) => text,
                    Some(Ok(other)) => other.to_string(),
                    Some(Err(e)) => {
                        self.end_row(
                            row,
                            StepStatus::Failed,
                            "expression",
                            &format!("message: {e}"),
                        );
                        return Ok(());
                    }
                    None => format!(
                        "approve step `{}` of run {} ({})",
                        step.id, run.id, run.workflow
                    ),
                };
                let request = gates::ApprovalRequest {
                    gate: "step",
                    policy: None,
                    approvers,
                    message: text,
                    timeout: *timeout,
                    on_timeout: *on_timeout,
                };
                self.open_approval(run, row, request).await?;
            }
            StepAction::Sleep(duration) => {
                row.status = StepStatus::Waiting;
                row.due_at = Some(self.now.saturating_add(millis(*duration)));
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

    pub(super) fn render(
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
    pub(super) async fn start_child(
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
    pub(super) async fn release_items(
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
    pub(super) async fn aggregate(&mut self, parent: &mut StepRecord) -> Result<()> {
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

    pub(super) async fn succeed_run(
        &mut self,
        run: &mut RunRecord,
        plan: &WorkflowPlan,
        rows: &HashMap<String, StepRecord>,
        input: &Value,
    ) -> Result<()> {
        let Some(outputs) = &plan.outputs else {
            return self.finish_run(run, RunStatus::Succeeded, None).await;
        };
        let view = RunView::new(plan, rows, run);
        let scope = view.scope(input, plan, None);
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
}
