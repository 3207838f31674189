-- Event-driven orchestration and governance: who started a run, the
-- declarative resources (rules, schedules, policies, webhooks), what each
-- event did, correlation windows, approvals and schedule state.

-- Who or what started a run: `token:<name>`, `rule:<name>`,
-- `schedule:<name>`, `run:<parent id>` or `local` (the embedded CLI).
ALTER TABLE runs ADD COLUMN started_by TEXT NOT NULL DEFAULT 'local';
-- The event that started it, when a rule did.
ALTER TABLE runs ADD COLUMN event_seq INTEGER;

-- Rules, schedules, policies and webhooks. `spec` is the normalised
-- document (JSON), `source` the text as submitted; `revision` counts saves
-- that changed it.
CREATE TABLE resources (
    kind        TEXT NOT NULL CHECK (kind IN ('Rule', 'Schedule', 'Policy', 'Webhook')),
    name        TEXT NOT NULL,
    spec        TEXT NOT NULL,
    revision    INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (kind, name)
);

-- What each stored event did: every rule whose type pattern and condition
-- matched (or whose condition failed), and every waiting step it woke.
CREATE TABLE event_matches (
    id          INTEGER PRIMARY KEY,
    seq         INTEGER NOT NULL REFERENCES events (seq),
    rule        TEXT,
    outcome     TEXT NOT NULL,
    run_id      TEXT,
    step_id     TEXT,
    detail      TEXT,
    at          INTEGER NOT NULL
);
CREATE INDEX event_matches_seq ON event_matches (seq, id);
CREATE INDEX event_matches_run ON event_matches (run_id) WHERE run_id IS NOT NULL;

-- Correlation: the run a rule started for a key, until `expires_at`
-- (each delivered event moves it forward by the rule's window).
CREATE TABLE correlations (
    rule        TEXT NOT NULL,
    key         TEXT NOT NULL,
    run_id      TEXT NOT NULL,
    expires_at  INTEGER NOT NULL,
    PRIMARY KEY (rule, key)
);

-- Human decisions: approval steps, gates a policy put before a step or a
-- run. The waiting step row holds the deadline (its timer).
CREATE TABLE approvals (
    id            TEXT PRIMARY KEY,
    run_id        TEXT NOT NULL,
    step_id       TEXT NOT NULL,
    item          INTEGER NOT NULL,
    gate          TEXT NOT NULL CHECK (gate IN ('step', 'policy', 'run')),
    policy        TEXT,
    status        TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected', 'expired', 'cancelled')),
    approvers     TEXT NOT NULL,
    message       TEXT NOT NULL,
    requested_by  TEXT NOT NULL,
    on_timeout    TEXT NOT NULL,
    deadline      INTEGER NOT NULL,
    decided_by    TEXT,
    comment       TEXT,
    created_at    INTEGER NOT NULL,
    decided_at    INTEGER
);
CREATE INDEX approvals_status ON approvals (status, created_at);
CREATE INDEX approvals_step ON approvals (run_id, step_id, item);

-- Schedule state: the next occurrence, the last run, a queued occurrence.
CREATE TABLE schedule_state (
    name        TEXT PRIMARY KEY,
    next_at     INTEGER NOT NULL,
    last_at     INTEGER,
    last_run    TEXT,
    queued_at   INTEGER
);

-- Waiting `wait_for` steps by the event type they wait for (kept in
-- `plugin`).
CREATE INDEX steps_waits ON steps (plugin) WHERE status = 'waiting' AND kind = 'wait_for';
