//! Leases: claiming ready rows for this process's workers (in memory for
//! the rows a turn made ready, from the database for the backlog) and taking
//! over rows whose worker stopped.

use super::*;

impl<'s, S: Store> Turn<'s, S> {
    // ---- leases --------------------------------------------------------

    /// Leases ready rows to this process, in queue order, and records their
    /// attempts. When the database holds due rows from earlier turns
    /// (`backlog`), the turn's changes are written first and the database
    /// picks, so newer rows never pass older ones; otherwise the rows this
    /// turn made ready are the only candidates and are leased in memory.
    /// Returns whether the database was asked.
    pub(crate) async fn claim(&mut self, capacity: usize, backlog: bool) -> Result<bool> {
        if capacity == 0 {
            return Ok(false);
        }
        let owner = self.shared.owner.clone();
        let until = self.now + self.shared.config.lease_ms();
        if backlog {
            self.db.flush().await?;
            let rows = self
                .db
                .tx
                .claim(&owner, self.now, until, capacity as i64)
                .await?;
            self.db.replace(&rows);
            for row in rows {
                self.leased(row);
            }
            return Ok(true);
        }
        let mut ready = self.db.ready_rows(self.now);
        ready.sort_by_key(|row| (row.due_at, row.queue_seq));
        for mut row in ready.into_iter().take(capacity) {
            row.status = StepStatus::Running;
            row.lease_owner = Some(owner.clone());
            row.lease_until = Some(until);
            row.attempts += 1;
            row.started_at = row.started_at.or(Some(self.now));
            self.db.put_step(&row);
            self.leased(row);
        }
        Ok(false)
    }

    /// Records the attempt of a freshly leased row and hands it to a worker
    /// once the turn commits.
    pub(super) fn leased(&mut self, row: StepRecord) {
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
            plugin: row.plugin.clone().unwrap_or_default(),
            digest: row.digest.clone().unwrap_or_default(),
            input: row.input.clone().unwrap_or_else(|| "null".into()),
            timeout: row
                .timeout_ms
                .map(|ms| std::time::Duration::from_millis(ms.max(0).unsigned_abs())),
        });
    }

    /// Puts rows whose lease expired (or, with `everything`, every row left
    /// running by an earlier process) back in the queue.
    pub(crate) async fn take_over(&mut self, everything: bool) -> Result<usize> {
        let horizon = if everything { i64::MAX } else { self.now };
        let rows = self.db.tx.expired_leases(horizon).await?;
        let rows = self.db.adopt(rows);
        let mut count = 0;
        for row in rows {
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
            self.requeue(row).await?;
        }
        Ok(count)
    }

    /// Puts a row whose attempt was abandoned back in the queue, due now;
    /// the abandoned attempt does not count as a failure.
    pub(super) async fn requeue(&mut self, mut row: StepRecord) -> Result<()> {
        row.status = StepStatus::Ready;
        row.due_at = Some(self.now);
        row.lease_owner = None;
        row.lease_until = None;
        self.put(&row).await
    }
}
