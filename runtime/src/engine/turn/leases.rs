//! Leases: claiming ready rows for this process's workers (in memory for
//! the rows a turn made ready, from the database for the backlog) and taking
//! over rows whose worker stopped.

use super::*;

impl<'s, S: Store> Turn<'s, S> {
    // ---- leases --------------------------------------------------------

    /// Leases ready rows to this process and records their attempts: first
    /// the rows this turn made ready (no statement needed), then, if there
    /// is room and `backlog` says the database holds due rows, those (after
    /// writing the turn's changes, so that the database sees them). Returns
    /// whether the database was asked.
    pub(crate) async fn claim(&mut self, capacity: usize, backlog: bool) -> Result<bool> {
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
}
