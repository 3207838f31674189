//! The unit of work of one turn: the rows a turn reads and writes, kept in
//! memory and written back in a few set-based statements.
//!
//! Every statement costs a round trip to the database connection's thread,
//! which on a small machine costs far more than the statement itself. So a
//! turn loads what its operations will touch in one go ([`Unit::preload`]),
//! reads and changes rows in memory (reads see the turn's own writes), and
//! [`Unit::flush`] writes every changed run, row and attempt with one
//! statement each. Rows the turn did not load are fetched on first use.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use crate::store::{
    AttemptRecord, AuditEntry, EventMatchRecord, RunRecord, StepRecord, StepStatus, StoreTx,
};

use super::Result;

type RowKey = (String, String, i64);

/// Most runs the writer keeps in memory between turns.
const RUN_CACHE_CAPACITY: usize = 10_000;

/// What a committed turn knew about one run.
#[derive(Debug, Clone)]
struct CachedRun {
    run: RunRecord,
    rows: HashMap<(String, i64), StepRecord>,
    /// Every row of the run (elements included) is here.
    all: bool,
    /// Steps whose elements are all here.
    items: HashSet<String>,
    /// The writer's turn counter when the run was last used.
    used: u64,
}

/// Runs as the last committed turns left them, so that a turn does not read
/// back what the previous one wrote. Only valid while this process is the
/// only writer of the database (`EngineConfig::exclusive`); the writer does
/// not use it otherwise.
#[derive(Debug, Default)]
pub(crate) struct RunCache {
    runs: HashMap<String, CachedRun>,
    turn: u64,
}

impl RunCache {
    /// Keeps what a committed unit read and wrote; ended runs are dropped.
    pub fn keep(&mut self, unit: Snapshot) {
        self.turn += 1;
        let Snapshot {
            runs,
            mut rows,
            steps_loaded,
            all_loaded,
            items_loaded,
        } = unit;
        // A run the unit touched without loading it whole (a row claimed or
        // a timer fired by a statement of its own) is no longer known: drop
        // it rather than keep a stale copy.
        for id in rows.keys().chain(runs.keys()) {
            if !steps_loaded.contains(id) {
                self.runs.remove(id);
            }
        }
        for (id, run) in runs {
            if run.status.is_terminal() || !steps_loaded.contains(&id) {
                self.runs.remove(&id);
                continue;
            }
            let items = items_loaded
                .iter()
                .filter(|(run_id, _)| *run_id == id)
                .map(|(_, step)| step.clone())
                .collect();
            self.runs.insert(
                id.clone(),
                CachedRun {
                    rows: rows.remove(&id).unwrap_or_default(),
                    all: all_loaded.contains(&id),
                    items,
                    run,
                    used: self.turn,
                },
            );
        }
        if self.runs.len() > RUN_CACHE_CAPACITY {
            let mut ages: Vec<u64> = self.runs.values().map(|r| r.used).collect();
            ages.sort_unstable();
            let cutoff = ages[ages.len() / 2];
            self.runs.retain(|_, r| r.used > cutoff);
        }
    }

    /// Forgets everything (after a failed turn).
    pub fn clear(&mut self) {
        self.runs.clear();
    }
}

/// The state a unit ends with, for the cache.
pub(crate) struct Snapshot {
    runs: HashMap<String, RunRecord>,
    rows: HashMap<String, HashMap<(String, i64), StepRecord>>,
    steps_loaded: HashSet<String>,
    all_loaded: HashSet<String>,
    items_loaded: HashSet<(String, String)>,
}

/// Runs, rows and attempts of one transaction.
pub(crate) struct Unit<T: StoreTx> {
    /// The transaction (for statements the unit does not wrap).
    pub tx: T,
    runs: HashMap<String, RunRecord>,
    dirty_runs: BTreeSet<String>,
    rows: HashMap<String, HashMap<(String, i64), StepRecord>>,
    dirty_rows: BTreeSet<RowKey>,
    steps_loaded: HashSet<String>,
    all_loaded: HashSet<String>,
    items_loaded: HashSet<(String, String)>,
    new_attempts: Vec<AttemptRecord>,
    finished_attempts: Vec<AttemptRecord>,
    audit: Vec<AuditEntry>,
    matches: Vec<EventMatchRecord>,
    /// The last queue position handed out (shared by every turn).
    queue_seq: Arc<AtomicI64>,
}

impl<T: StoreTx> Unit<T> {
    pub fn new(tx: T, queue_seq: Arc<AtomicI64>) -> Unit<T> {
        Unit {
            tx,
            queue_seq,
            runs: HashMap::new(),
            dirty_runs: BTreeSet::new(),
            rows: HashMap::new(),
            dirty_rows: BTreeSet::new(),
            steps_loaded: HashSet::new(),
            all_loaded: HashSet::new(),
            items_loaded: HashSet::new(),
            new_attempts: Vec::new(),
            finished_attempts: Vec::new(),
            audit: Vec::new(),
            matches: Vec::new(),
        }
    }

    /// Takes these runs from the cache, where it has them.
    pub fn seed(&mut self, cache: &RunCache, run_ids: &[String]) {
        for id in run_ids {
            if self.steps_loaded.contains(id) {
                continue;
            }
            let Some(cached) = cache.runs.get(id) else {
                continue;
            };
            self.runs.insert(id.clone(), cached.run.clone());
            self.rows.insert(id.clone(), cached.rows.clone());
            self.steps_loaded.insert(id.clone());
            if cached.all {
                self.all_loaded.insert(id.clone());
            }
            for step in &cached.items {
                self.items_loaded.insert((id.clone(), step.clone()));
            }
        }
    }

    /// Commits the transaction and returns what the unit knew.
    pub async fn commit(self) -> Result<Snapshot> {
        self.tx.commit().await?;
        Ok(Snapshot {
            runs: self.runs,
            rows: self.rows,
            steps_loaded: self.steps_loaded,
            all_loaded: self.all_loaded,
            items_loaded: self.items_loaded,
        })
    }

    /// Loads these runs and their step-level rows, in two statements.
    pub async fn preload(&mut self, run_ids: &[String]) -> Result<()> {
        let wanted: Vec<String> = run_ids
            .iter()
            .filter(|id| !self.steps_loaded.contains(*id))
            .cloned()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if wanted.is_empty() {
            return Ok(());
        }
        for run in self.tx.runs_by_ids(&wanted).await? {
            self.runs.entry(run.id.clone()).or_insert(run);
        }
        let rows = self.tx.rows_of_runs(&wanted, false).await?;
        self.absorb(rows);
        self.steps_loaded.extend(wanted);
        Ok(())
    }

    /// Loads these rows (for_each elements being completed), in one
    /// statement.
    pub async fn preload_rows(&mut self, keys: &[RowKey]) -> Result<()> {
        let missing: Vec<RowKey> = keys
            .iter()
            .filter(|(run, step, item)| self.cached(run, step, *item).is_none())
            .cloned()
            .collect();
        if !missing.is_empty() {
            let rows = self.tx.rows_by_keys(&missing).await?;
            self.absorb(rows);
        }
        Ok(())
    }

    /// Takes rows read from the database, unless the unit has them already
    /// (its copy is newer).
    fn absorb(&mut self, rows: Vec<StepRecord>) {
        for row in rows {
            self.rows
                .entry(row.run_id.clone())
                .or_default()
                .entry((row.step_id.clone(), row.item))
                .or_insert(row);
        }
    }

    /// Takes rows the database just changed itself (claims): they replace
    /// the unit's copies.
    pub fn replace(&mut self, rows: &[StepRecord]) {
        for row in rows {
            self.rows
                .entry(row.run_id.clone())
                .or_default()
                .insert((row.step_id.clone(), row.item), row.clone());
        }
    }

    /// Takes rows read from the database by a statement the unit does not
    /// wrap (timers, expired leases), and returns the unit's view of them.
    pub fn adopt(&mut self, rows: Vec<StepRecord>) -> Vec<StepRecord> {
        let keys: Vec<RowKey> = rows
            .iter()
            .map(|r| (r.run_id.clone(), r.step_id.clone(), r.item))
            .collect();
        self.absorb(rows);
        keys.iter()
            .filter_map(|(run, step, item)| self.cached(run, step, *item).cloned())
            .collect()
    }

    fn cached(&self, run: &str, step: &str, item: i64) -> Option<&StepRecord> {
        self.rows.get(run)?.get(&(step.to_string(), item))
    }

    pub async fn run(&mut self, id: &str) -> Result<Option<RunRecord>> {
        if !self.runs.contains_key(id) {
            for run in self.tx.runs_by_ids(&[id.to_string()]).await? {
                self.runs.insert(run.id.clone(), run);
            }
        }
        Ok(self.runs.get(id).cloned())
    }

    pub async fn run_by_key(&mut self, workflow: &str, key: &str) -> Result<Option<RunRecord>> {
        let here = self
            .runs
            .values()
            .find(|r| r.workflow == workflow && r.idempotency_key.as_deref() == Some(key));
        if let Some(run) = here {
            return Ok(Some(run.clone()));
        }
        Ok(self.tx.run_by_key(workflow, key).await?)
    }

    /// Adds a run that is not in the database yet (so it has no rows there).
    pub fn new_run(&mut self, run: &RunRecord) {
        self.put_run(run);
        self.steps_loaded.insert(run.id.clone());
        self.all_loaded.insert(run.id.clone());
    }

    pub fn put_run(&mut self, run: &RunRecord) {
        self.runs.insert(run.id.clone(), run.clone());
        self.dirty_runs.insert(run.id.clone());
    }

    /// The step-level rows of a run.
    pub async fn step_rows(&mut self, run_id: &str) -> Result<Vec<StepRecord>> {
        self.preload(&[run_id.to_string()]).await?;
        Ok(self
            .rows
            .get(run_id)
            .map(|rows| rows.values().filter(|r| r.item < 0).cloned().collect())
            .unwrap_or_default())
    }

    pub async fn step_row(
        &mut self,
        run: &str,
        step: &str,
        item: i64,
    ) -> Result<Option<StepRecord>> {
        if self.cached(run, step, item).is_none()
            && !(item < 0 && self.steps_loaded.contains(run))
            && !self.all_loaded.contains(run)
        {
            let rows = self
                .tx
                .rows_by_keys(&[(run.to_string(), step.to_string(), item)])
                .await?;
            self.absorb(rows);
        }
        Ok(self.cached(run, step, item).cloned())
    }

    /// The elements of a for_each step, in order.
    pub async fn item_rows(&mut self, run: &str, step: &str) -> Result<Vec<StepRecord>> {
        let key = (run.to_string(), step.to_string());
        if !self.items_loaded.contains(&key) && !self.all_loaded.contains(run) {
            let rows = self.tx.item_rows(run, step).await?;
            self.absorb(rows);
            self.items_loaded.insert(key);
        }
        let mut items: Vec<StepRecord> = self
            .rows
            .get(run)
            .map(|rows| {
                rows.values()
                    .filter(|r| r.step_id == step && r.item >= 0)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        items.sort_by_key(|r| r.item);
        Ok(items)
    }

    /// The first `limit` pending elements of a for_each step.
    pub async fn pending_items(
        &mut self,
        run: &str,
        step: &str,
        limit: i64,
    ) -> Result<Vec<StepRecord>> {
        let items = self.item_rows(run, step).await?;
        Ok(items
            .into_iter()
            .filter(|r| r.status == StepStatus::Pending)
            .take(usize::try_from(limit).unwrap_or(0))
            .collect())
    }

    /// Every unfinished row of a run, elements included.
    pub async fn unfinished_rows(&mut self, run_id: &str) -> Result<Vec<StepRecord>> {
        if !self.all_loaded.contains(run_id) {
            let rows = self.tx.rows_of_runs(&[run_id.to_string()], true).await?;
            self.absorb(rows);
            self.all_loaded.insert(run_id.to_string());
            self.steps_loaded.insert(run_id.to_string());
        }
        Ok(self
            .rows
            .get(run_id)
            .map(|rows| {
                rows.values()
                    .filter(|r| !r.status.is_terminal())
                    .cloned()
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Stores a row; a row that (again) becomes ready, or is queued for a
    /// new time, goes to the back of the queue.
    pub fn put_step(&mut self, row: &StepRecord) {
        let mut row = row.clone();
        if row.status == StepStatus::Ready {
            let queued = self
                .cached(&row.run_id, &row.step_id, row.item)
                .is_some_and(|old| old.status == StepStatus::Ready && old.due_at == row.due_at);
            if !queued {
                row.queue_seq = self.queue_seq.fetch_add(1, Ordering::Relaxed) + 1;
            }
        }
        self.dirty_rows
            .insert((row.run_id.clone(), row.step_id.clone(), row.item));
        self.rows
            .entry(row.run_id.clone())
            .or_default()
            .insert((row.step_id.clone(), row.item), row);
    }

    /// Rows this unit made ready and that are due by `now`.
    pub fn ready_rows(&self, now: i64) -> Vec<StepRecord> {
        self.dirty_rows
            .iter()
            .filter_map(|(run, step, item)| self.cached(run, step, *item))
            .filter(|r| r.status == StepStatus::Ready && r.due_at.is_some_and(|d| d <= now))
            .cloned()
            .collect()
    }

    /// Whether a changed row is queued or a timer for later (so the next
    /// due time must be read again).
    pub fn schedules_later(&self, now: i64) -> bool {
        self.dirty_rows
            .iter()
            .filter_map(|(run, step, item)| self.cached(run, step, *item))
            .any(|r| {
                matches!(r.status, StepStatus::Ready | StepStatus::Waiting)
                    && r.due_at.is_some_and(|d| d > now)
                    || r.status == StepStatus::Ready
            })
    }

    pub fn insert_attempt(&mut self, attempt: AttemptRecord) {
        self.new_attempts.push(attempt);
    }

    pub fn finish_attempt(&mut self, attempt: AttemptRecord) {
        self.finished_attempts.push(attempt);
    }

    /// Appends an audit entry (written with the turn).
    pub fn audit(&mut self, entry: AuditEntry) {
        self.audit.push(entry);
    }

    /// Records a consequence of an event (written with the turn).
    pub fn event_match(&mut self, record: EventMatchRecord) {
        self.matches.push(record);
    }

    /// Writes every change, one statement per table.
    pub async fn flush(&mut self) -> Result<()> {
        let runs: Vec<RunRecord> = std::mem::take(&mut self.dirty_runs)
            .iter()
            .filter_map(|id| self.runs.get(id).cloned())
            .collect();
        self.tx.put_runs(&runs).await?;
        let rows: Vec<StepRecord> = std::mem::take(&mut self.dirty_rows)
            .iter()
            .filter_map(|(run, step, item)| self.cached(run, step, *item).cloned())
            .collect();
        self.tx.put_steps(&rows).await?;
        self.tx
            .insert_attempts(&std::mem::take(&mut self.new_attempts))
            .await?;
        self.tx
            .finish_attempts(&std::mem::take(&mut self.finished_attempts))
            .await?;
        self.tx
            .insert_event_matches(&std::mem::take(&mut self.matches))
            .await?;
        self.tx
            .append_audit(&std::mem::take(&mut self.audit))
            .await?;
        Ok(())
    }
}
