//! Events inside a turn: once the writer has stored a batch (one
//! statement for every request of the turn), in the same transaction,
//! matching rules (start a run, or deliver to the run a correlation window
//! holds), and waking the `wait_for` steps they satisfy. Every consequence
//! is recorded against the event.

use crate::events::{EventPattern, event_view};
use crate::resources::rule::Rule;
use crate::store::{
    CorrelationRecord, EventMatchRecord, EventRecord, OrchestrationTx, actor as audit_actor,
};

use super::*;

/// Most stored events a `wait_for` step looks back at when it starts.
const LOOK_BACK_EVENTS: i64 = 1000;

impl<'s, S: Store> Turn<'s, S> {
    /// Acts on events the writer just stored (with one statement for the
    /// whole batch) at these `seq`s (`None`: a redelivery, left alone):
    /// rules, correlation, waking `wait_for` steps.
    pub(crate) async fn act_on(
        &mut self,
        events: &[EventRecord],
        seqs: &[Option<i64>],
    ) -> Result<()> {
        let resources = self.shared.resources();
        let check_waits = !self.shared.config.exclusive
            || self.shared.waits.load(std::sync::atomic::Ordering::Relaxed);
        if !resources.has_rules() && !check_waits {
            return Ok(());
        }
        let stored: Vec<EventRecord> = events
            .iter()
            .zip(seqs)
            .filter_map(|(event, seq)| {
                let mut event = event.clone();
                event.seq = (*seq)?;
                Some(event)
            })
            .collect();
        if stored.is_empty() {
            return Ok(());
        }
        let waits = if check_waits {
            // Rows this turn changed must be in the database for the query.
            self.db.flush().await?;
            let mut kinds: Vec<String> = stored.iter().map(|e| e.kind.clone()).collect();
            kinds.sort();
            kinds.dedup();
            let rows = self.db.tx.waits_for(&kinds).await?;
            self.db.adopt(rows)
        } else {
            Vec::new()
        };
        for event in &stored {
            let rules = resources.rules_for(&event.kind);
            let woken: Vec<&StepRecord> = waits
                .iter()
                .filter(|row| {
                    row.plugin
                        .as_deref()
                        .and_then(|p| EventPattern::parse(p).ok())
                        .is_some_and(|p| p.matches(&event.kind))
                })
                .collect();
            if rules.is_empty() && woken.is_empty() {
                continue;
            }
            let view = event_view(event);
            for rule in rules {
                self.apply_rule(rule, event, &view).await?;
            }
            for row in woken {
                self.offer(row, event.seq, &view).await?;
            }
        }
        Ok(())
    }

    fn record(
        &mut self,
        seq: i64,
        rule: Option<&str>,
        outcome: &str,
        run: Option<&str>,
        detail: Option<String>,
    ) {
        self.db.event_match(EventMatchRecord {
            seq,
            rule: rule.map(str::to_string),
            outcome: outcome.into(),
            run_id: run.map(str::to_string),
            step_id: None,
            detail,
            at: self.now,
        });
    }

    /// One rule whose type pattern matched an event.
    async fn apply_rule(&mut self, rule: &Rule, event: &EventRecord, view: &Value) -> Result<()> {
        let seq = event.seq;
        let name = rule.name.as_str();
        let converted = crate::workflow::expr::Converted::new(view);
        let scope = Scope {
            event: Some(view),
            converted_event: Some(&converted),
            ..Scope::default()
        };
        match rule.matches(&scope) {
            Ok(true) => {}
            Ok(false) => return Ok(()),
            Err(error) => {
                self.record(seq, Some(name), "error", None, Some(format!("if: {error}")));
                return Ok(());
            }
        }
        let correlation = match &rule.correlate {
            Some((key, window)) => match key.evaluate(&scope) {
                Ok(Value::String(key)) => Some((key, millis(*window))),
                Ok(Value::Null) => None,
                Ok(other) => Some((other.to_string(), millis(*window))),
                Err(error) => {
                    let detail = format!("correlate.key: {error}");
                    self.record(seq, Some(name), "error", None, Some(detail));
                    return Ok(());
                }
            },
            None => None,
        };
        if let Some((key, window)) = &correlation
            && let Some(existing) = self.db.tx.correlation(name, key).await?
            && existing.expires_at > self.now
            && let Some(run) = self.db.run(&existing.run_id).await?
            && !run.status.is_terminal()
        {
            self.db
                .tx
                .put_correlation(&CorrelationRecord {
                    expires_at: self.now.saturating_add(*window),
                    ..existing
                })
                .await?;
            self.record(
                seq,
                Some(name),
                "delivered",
                Some(&run.id),
                Some(format!("correlation key {key}")),
            );
            return Ok(());
        }
        let input = match rule.input.render(&scope) {
            Ok(input) => input,
            Err(error) => {
                self.record(
                    seq,
                    Some(name),
                    "error",
                    None,
                    Some(format!("input: {error}")),
                );
                return Ok(());
            }
        };
        let request = StartRun {
            workflow: rule.workflow.clone(),
            version: rule.version,
            input,
            idempotency_key: None,
            started_by: audit_actor::rule(name),
        };
        match self.start_run_for(&request, Some(seq)).await {
            Ok(run) => {
                if let Some((key, window)) = correlation {
                    self.db
                        .tx
                        .put_correlation(&CorrelationRecord {
                            rule: name.to_string(),
                            key,
                            run_id: run.id.clone(),
                            expires_at: self.now.saturating_add(window),
                        })
                        .await?;
                }
                self.record(seq, Some(name), "started", Some(&run.id), None);
            }
            Err(EngineError::Store(error)) => return Err(error.into()),
            Err(error @ EngineError::PolicyDenied { .. }) => {
                self.record(seq, Some(name), "denied", None, Some(error.to_string()));
            }
            Err(error) => {
                self.record(seq, Some(name), "failed", None, Some(error.to_string()));
            }
        }
        Ok(())
    }

    /// Offers an event to a waiting `wait_for` row; wakes it when its
    /// condition holds.
    async fn offer(&mut self, row: &StepRecord, seq: i64, view: &Value) -> Result<()> {
        let Some(current) = self
            .db
            .step_row(&row.run_id, &row.step_id, row.item)
            .await?
        else {
            return Ok(());
        };
        if current.status != StepStatus::Waiting || current.kind != "wait_for" {
            return Ok(());
        }
        let Some(run) = self.db.run(&current.run_id).await? else {
            return Ok(());
        };
        let plan = self.plan(&run).await?;
        let condition = match plan.step(&current.step_id).map(|s| &s.action) {
            Some(StepAction::WaitFor { condition, .. }) => condition.clone(),
            _ => return Ok(()),
        };
        if let Some(condition) = condition {
            let rows = self.rows_by_step(&run.id).await?;
            let input = parse(Some(&run.input));
            let run_view = RunView::new(&plan, &rows, &run);
            let scope = Scope {
                event: Some(view),
                ..run_view.scope(&input, &plan, None)
            };
            // A condition that cannot be evaluated on this event (a field
            // it reads is missing) does not match it.
            if condition.evaluate_bool(&scope) != Ok(true) {
                return Ok(());
            }
        }
        self.wake(current, seq, view).await
    }

    /// Ends a `wait_for` row with the event.
    pub(super) async fn wake(&mut self, row: StepRecord, seq: i64, view: &Value) -> Result<()> {
        self.db.event_match(EventMatchRecord {
            seq,
            rule: None,
            outcome: "woke".into(),
            run_id: Some(row.run_id.clone()),
            step_id: Some(row.step_id.clone()),
            detail: None,
            at: self.now,
        });
        let output = json!({"timed_out": false, "event": view});
        self.finish_row(row, Ok(output), false).await
    }

    /// Starts a `wait_for` row: it waits (its timer is the timeout), unless
    /// an event that arrived since the run started already satisfies it.
    pub(super) async fn start_wait(
        &mut self,
        run: &RunRecord,
        row: &mut StepRecord,
        pattern: &EventPattern,
        condition: Option<&crate::workflow::expr::Expr>,
        timeout: std::time::Duration,
        scope: &Scope<'_>,
    ) -> Result<()> {
        row.plugin = Some(pattern.as_str().to_string());
        row.status = StepStatus::Waiting;
        row.due_at = Some(self.now.saturating_add(millis(timeout)));
        self.shared
            .waits
            .store(true, std::sync::atomic::Ordering::Relaxed);
        let earlier = self
            .db
            .tx
            .events_matching(pattern.as_str(), run.created_at, LOOK_BACK_EVENTS)
            .await?;
        for event in earlier {
            let view = event_view(&event);
            let matched = match condition {
                Some(condition) => {
                    let scope = Scope {
                        event: Some(&view),
                        ..*scope
                    };
                    condition.evaluate_bool(&scope) == Ok(true)
                }
                None => true,
            };
            if matched {
                self.db.event_match(EventMatchRecord {
                    seq: event.seq,
                    rule: None,
                    outcome: "woke".into(),
                    run_id: Some(row.run_id.clone()),
                    step_id: Some(row.step_id.clone()),
                    detail: Some("the event arrived before the step started waiting".into()),
                    at: self.now,
                });
                row.output = Some(json_text(&json!({"timed_out": false, "event": view})));
                self.end_row(row, StepStatus::Succeeded, "", "");
                return Ok(());
            }
        }
        Ok(())
    }
}
