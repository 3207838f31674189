-- The durable workflow engine: plugins, workflows, runs, steps, attempts.
-- Timestamps are milliseconds since the Unix epoch (UTC). JSON is stored as
-- text. Written to be portable to PostgreSQL where SQLite allows.

-- Component bytes, content-addressed.
CREATE TABLE components (
    digest      TEXT PRIMARY KEY,
    bytes       BLOB NOT NULL,
    created_at  INTEGER NOT NULL
);

-- Plugin versions: immutable name@version -> component.
CREATE TABLE plugins (
    name        TEXT NOT NULL,
    version     TEXT NOT NULL,
    digest      TEXT NOT NULL REFERENCES components (digest),
    info        TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (name, version)
);

CREATE TABLE workflows (
    name            TEXT PRIMARY KEY,
    latest_version  INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);

-- Immutable versions. `definition` is the normalised document (every
-- plugin pinned to a version), `source` the text as submitted.
CREATE TABLE workflow_versions (
    workflow    TEXT NOT NULL REFERENCES workflows (name),
    version     INTEGER NOT NULL,
    definition  TEXT NOT NULL,
    source      TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (workflow, version)
);

-- Which plugin versions each workflow version uses (pinned digests).
CREATE TABLE workflow_plugins (
    workflow        TEXT NOT NULL,
    version         INTEGER NOT NULL,
    plugin          TEXT NOT NULL,
    plugin_version  TEXT NOT NULL,
    digest          TEXT NOT NULL,
    PRIMARY KEY (workflow, version, plugin, plugin_version),
    FOREIGN KEY (workflow, version) REFERENCES workflow_versions (workflow, version),
    FOREIGN KEY (plugin, plugin_version) REFERENCES plugins (name, version)
);

CREATE TABLE runs (
    id               TEXT PRIMARY KEY,
    workflow         TEXT NOT NULL,
    version          INTEGER NOT NULL,
    status           TEXT NOT NULL,
    input            TEXT NOT NULL,
    output           TEXT,
    error            TEXT,
    idempotency_key  TEXT,
    parent_run       TEXT REFERENCES runs (id),
    parent_step      TEXT,
    parent_item      INTEGER,
    depth            INTEGER NOT NULL,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    finished_at      INTEGER,
    FOREIGN KEY (workflow, version) REFERENCES workflow_versions (workflow, version)
);
CREATE UNIQUE INDEX runs_idempotency ON runs (workflow, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX runs_status ON runs (status, created_at);
CREATE INDEX runs_parent ON runs (parent_run) WHERE parent_run IS NOT NULL;

-- One row per step of a run that has left `pending` (item = -1), plus one
-- row per element of a for_each step (item >= 0). A row whose status is
-- `ready` or `waiting` with `due_at` set is the durable queue and the timer
-- table: it is claimable from `due_at` on. A `running` row holds a lease.
CREATE TABLE steps (
    run_id         TEXT NOT NULL REFERENCES runs (id),
    step_id        TEXT NOT NULL,
    item           INTEGER NOT NULL,
    status         TEXT NOT NULL,
    kind           TEXT NOT NULL,
    plugin         TEXT,
    digest         TEXT,
    timeout_ms     INTEGER,
    input          TEXT,
    output         TEXT,
    error_kind     TEXT,
    error_message  TEXT,
    attempts       INTEGER NOT NULL DEFAULT 0,
    failures       INTEGER NOT NULL DEFAULT 0,
    items_total    INTEGER,
    items_done     INTEGER NOT NULL DEFAULT 0,
    child_run      TEXT,
    due_at         INTEGER,
    lease_owner    TEXT,
    lease_until    INTEGER,
    created_at     INTEGER NOT NULL,
    started_at     INTEGER,
    finished_at    INTEGER,
    -- Queue order among rows due at the same time.
    queue_seq      INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (run_id, step_id, item)
);
CREATE INDEX steps_ready ON steps (due_at, queue_seq) WHERE status = 'ready';
CREATE INDEX steps_timers ON steps (due_at) WHERE status = 'waiting';
CREATE INDEX steps_leases ON steps (lease_until) WHERE status = 'running';

-- Every execution of a step (or for_each element): started durably before
-- the plugin runs, finished when its result is committed.
CREATE TABLE attempts (
    run_id         TEXT NOT NULL,
    step_id        TEXT NOT NULL,
    item           INTEGER NOT NULL,
    attempt        INTEGER NOT NULL,
    status         TEXT NOT NULL,
    worker         TEXT NOT NULL,
    output         TEXT,
    error_kind     TEXT,
    error_message  TEXT,
    logs           TEXT,
    logs_dropped   INTEGER NOT NULL DEFAULT 0,
    started_at     INTEGER NOT NULL,
    finished_at    INTEGER,
    PRIMARY KEY (run_id, step_id, item, attempt),
    FOREIGN KEY (run_id, step_id, item) REFERENCES steps (run_id, step_id, item)
);
