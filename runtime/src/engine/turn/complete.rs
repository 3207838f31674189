//! Recording results: a worker's outcome (exactly once), retries with
//! backoff, a for_each element's end, and due sleep timers.

use super::*;

impl<'s, S: Store> Turn<'s, S> {
    // ---- completing rows -----------------------------------------------

    /// Records a worker's result, exactly once: a result for a row this
    /// process no longer leases (cancelled, or taken over) only closes its
    /// attempt.
    pub(crate) async fn complete(&mut self, task: &Task, outcome: Outcome) -> Result<()> {
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
        let outcome_elapsed = outcome.elapsed_ms;
        let mut result = outcome.result;
        if let Ok(value) = &result {
            let text = json_text(value);
            if let Err(e) =
                self.check_payload(format!("the output of step `{}`", key.step_id), &text)
            {
                result = Err(Failure::permanent("payload-too-large", e.to_string()));
            }
        }
        // Released at shutdown: not a failure; the step runs again later.
        let released = ours
            && result
                .as_ref()
                .is_err_and(|f| f.kind == super::super::worker::RELEASED);
        let (status, output, kind, message) = match (&result, ours) {
            (Err(f), true) if released => (
                "abandoned",
                None,
                Some(f.kind.clone()),
                Some(f.message.clone()),
            ),
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
        if released && let Some(row) = current {
            return self.requeue(row).await;
        }
        if let Some(row) = current.as_ref().filter(|_| ours) {
            self.effects.events.push(EngineEvent::Attempt {
                run_id: key.run_id.clone(),
                step_id: key.step_id.clone(),
                item: (key.item >= 0).then_some(key.item),
                attempt: task.attempt,
                plugin: row.plugin.clone().unwrap_or_default(),
                status: status.into(),
                error_kind: result.as_ref().err().map(|f| f.kind.clone()),
                duration_ms: outcome_elapsed,
            });
        }
        match current {
            Some(row) if ours => self.finish_row(row, result, true).await,
            _ => Ok(()),
        }
    }

    /// Ends a row with a result, or schedules its retry.
    pub(super) async fn finish_row(
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
                        row.due_at = Some(self.now.saturating_add(millis(delay)));
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
    pub(super) async fn after_row(&mut self, row: &StepRecord) -> Result<()> {
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

    /// Fires due timers: sleeps end, waits time out, approvals and gates
    /// get their timeout decision.
    pub(crate) async fn fire_timers(&mut self, limit: i64) -> Result<usize> {
        let due = self.db.tx.due_timers(self.now, limit).await?;
        let due = self.db.adopt(due);
        let fired = due.len();
        for row in due {
            if row.status != StepStatus::Waiting || row.due_at.is_none_or(|d| d > self.now) {
                continue;
            }
            match row.kind.as_str() {
                "sleep" => self.finish_row(row, Ok(Value::Null), false).await?,
                "wait_for" => {
                    let output = json!({"timed_out": true, "event": null});
                    self.finish_row(row, Ok(output), false).await?;
                }
                // Approval steps, and gates before a plugin step or a run.
                "approval" | "plugin" | "gate" => self.approval_expired(&row).await?,
                _ => {}
            }
        }
        Ok(fired)
    }
}
