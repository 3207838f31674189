-- Ingested events (CloudEvents 1.0 attributes). `seq` is the order of
-- arrival; (source, id) is unique, so a redelivered event is stored once.
CREATE TABLE events (
    seq              INTEGER PRIMARY KEY AUTOINCREMENT,
    id               TEXT NOT NULL,
    source           TEXT NOT NULL,
    type             TEXT NOT NULL,
    subject          TEXT,
    time             TEXT,
    datacontenttype  TEXT,
    dataschema       TEXT,
    data             TEXT,
    data_base64      TEXT,
    extensions       TEXT NOT NULL,
    received_at      INTEGER NOT NULL,
    received_by      TEXT NOT NULL,
    UNIQUE (source, id)
);
CREATE INDEX events_type ON events (type, seq);
CREATE INDEX events_subject ON events (subject, seq) WHERE subject IS NOT NULL;
