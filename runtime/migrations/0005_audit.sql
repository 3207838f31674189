-- The audit trail: who did what and when. Append-only and tamper-evident:
-- each entry's `hash` is the sha256 of its fields and of the previous
-- entry's hash (`prev_hash`; 64 zeros for the first; the encoding is in
-- `runtime/src/store/audit.rs`), so an entry edited or deleted behind
-- Baton's back breaks the chain from there on. `seq` is the previous
-- entry's seq + 1, starting at 1, assigned by the writer: no gaps.
-- `detail` is JSON text. Entries are appended in the transaction of the
-- action they record.
CREATE TABLE audit (
    seq        INTEGER PRIMARY KEY,
    at         INTEGER NOT NULL,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    target     TEXT NOT NULL,
    detail     TEXT NOT NULL,
    prev_hash  TEXT NOT NULL,
    hash       TEXT NOT NULL
);
-- Listing filters, oldest first.
CREATE INDEX audit_actor ON audit (actor, seq);
CREATE INDEX audit_action ON audit (action, seq);
CREATE INDEX audit_at ON audit (at, seq);

-- Nothing changes or removes an entry. (Someone with the file can drop
-- these triggers; the hash chain is what shows it then.)
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN
    SELECT RAISE(ABORT, 'audit entries are append-only');
END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN
    SELECT RAISE(ABORT, 'audit entries are append-only');
END;
