//! Schedules inside a turn: starting the runs of due occurrences.
//!
//! Each schedule's state (its next occurrence, last run, a queued
//! occurrence) is stored, so a restart continues where the last process
//! stopped. Occurrences missed while nothing ran are run once, for the
//! latest of them, or skipped (`catch_up: skip`). An occurrence that comes
//! while the schedule's last run is still going is skipped, allowed, or
//! queued until that run ends (`overlap`).

use crate::resources::schedule::{CatchUp, Overlap, Schedule};
use crate::store::{OrchestrationTx, ScheduleStateRecord, actor as audit_actor};

use super::*;

/// An occurrence later than this is a missed one (Baton was down).
const LATE_AFTER_MS: i64 = 60_000;

impl<'s, S: Store> Turn<'s, S> {
    /// Starts the runs of due occurrences; returns when the next one is due.
    pub(crate) async fn fire_schedules(&mut self) -> Result<Option<i64>> {
        let resources = self.shared.resources();
        if resources.schedules().is_empty() {
            return Ok(None);
        }
        let states = self.db.tx.schedule_states().await?;
        let mut next_due: Option<i64> = None;
        for (name, schedule) in resources.schedules() {
            let state = match states.iter().find(|s| &s.name == name) {
                Some(state) => state.clone(),
                None => ScheduleStateRecord {
                    name: name.clone(),
                    next_at: schedule.next_after(self.now).unwrap_or(i64::MAX),
                    last_at: None,
                    last_run: None,
                    queued_at: None,
                },
            };
            let state = self.fire_schedule(schedule, state).await?;
            if states.iter().find(|s| &s.name == name) != Some(&state) {
                self.db.tx.put_schedule_state(&state).await?;
            }
            let mut due = state.next_at;
            if state.queued_at.is_some() {
                // Checked again when the last run ends.
                due = due.min(self.now.saturating_add(LATE_AFTER_MS));
            }
            next_due = Some(next_due.map_or(due, |n| n.min(due)));
        }
        Ok(next_due)
    }

    async fn fire_schedule(
        &mut self,
        schedule: &Schedule,
        mut state: ScheduleStateRecord,
    ) -> Result<ScheduleStateRecord> {
        let running = match &state.last_run {
            Some(id) => self
                .db
                .run(id)
                .await?
                .is_some_and(|run| !run.status.is_terminal()),
            None => false,
        };
        if let Some(queued) = state.queued_at
            && !running
        {
            state.queued_at = None;
            if schedule.enabled {
                state.last_run = self.start_scheduled(schedule, queued).await?;
            }
        }
        if state.next_at > self.now {
            return Ok(state);
        }
        let due = state.next_at;
        // The latest occurrence now, at or after the one that was due.
        let occurrence = schedule.last_at_or_before(self.now, due).unwrap_or(due);
        state.next_at = schedule.next_after(self.now).unwrap_or(i64::MAX);
        state.last_at = Some(occurrence);
        let missed = self.now - due > LATE_AFTER_MS;
        if !schedule.enabled || (missed && schedule.catch_up == CatchUp::Skip) {
            return Ok(state);
        }
        let still_running = match &state.last_run {
            Some(id) => self
                .db
                .run(id)
                .await?
                .is_some_and(|run| !run.status.is_terminal()),
            None => false,
        };
        match (still_running, schedule.overlap) {
            (true, Overlap::Skip) => {}
            (true, Overlap::Queue) => state.queued_at = Some(occurrence),
            _ => {
                if let Some(run) = self.start_scheduled(schedule, occurrence).await? {
                    state.last_run = Some(run);
                }
            }
        }
        Ok(state)
    }

    /// Starts a schedule's run for an occurrence; a run that cannot start
    /// (no such workflow, input refused, denied by a policy) is logged.
    async fn start_scheduled(&mut self, schedule: &Schedule, at: i64) -> Result<Option<String>> {
        let view = json!({"name": schedule.name, "time": rfc3339(at)});
        let extra = [("schedule", &view)];
        let scope = Scope {
            extra: &extra,
            ..Scope::default()
        };
        let input = match schedule.input.render(&scope) {
            Ok(input) => input,
            Err(error) => {
                tracing::warn!(schedule = %schedule.name, %error, "the schedule's input cannot be rendered; no run");
                return Ok(None);
            }
        };
        let request = StartRun {
            workflow: schedule.workflow.clone(),
            version: schedule.version,
            input,
            idempotency_key: Some(format!("schedule:{}:{at}", schedule.name)),
            started_by: audit_actor::schedule(&schedule.name),
        };
        match self.start_run(&request).await {
            Ok(run) => Ok(Some(run.id)),
            Err(EngineError::Store(error)) => Err(error.into()),
            Err(error) => {
                tracing::warn!(schedule = %schedule.name, %error, "the schedule's run did not start");
                Ok(None)
            }
        }
    }
}
