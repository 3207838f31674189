-- The HTTP API: access tokens, and indexes for run listings.

-- Tokens are stored only as the sha256 of their secret. A name is unique
-- among live tokens; revoked ones stay for the record.
CREATE TABLE tokens (
    name        TEXT NOT NULL,
    role        TEXT NOT NULL CHECK (role IN ('admin', 'operator', 'viewer')),
    hash        TEXT NOT NULL UNIQUE,
    created_by  TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
);
CREATE UNIQUE INDEX tokens_live_name ON tokens (name) WHERE revoked_at IS NULL;

-- Run listings: newest first, optionally by workflow.
CREATE INDEX runs_created ON runs (created_at, id);
CREATE INDEX runs_workflow ON runs (workflow, created_at, id);
