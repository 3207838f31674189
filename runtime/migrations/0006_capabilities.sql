-- Plugin capabilities: grants, secrets and key-value state.

-- What an administrator lets a plugin reach. `version` is '' for the grant
-- of every version; a row for one version replaces it for that version.
-- `grant_json` is the normalised grant document.
CREATE TABLE grants (
    plugin      TEXT NOT NULL,
    version     TEXT NOT NULL,
    grant_json  TEXT NOT NULL,
    updated_at  INTEGER NOT NULL,
    updated_by  TEXT NOT NULL,
    PRIMARY KEY (plugin, version)
);

-- Named secrets. `sealed` is the value encrypted under the master key with
-- an authenticated cipher, the name as associated data (see
-- `runtime/src/secrets`); the plaintext is never stored.
CREATE TABLE secrets (
    name        TEXT PRIMARY KEY,
    sealed      BLOB NOT NULL,
    description TEXT,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    updated_by  TEXT NOT NULL
);

-- Settings of this database, such as the fingerprint of the master key
-- that sealed the secrets.
CREATE TABLE settings (
    name   TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);

-- Durable key-value state, one namespace per plugin name.
CREATE TABLE kv (
    plugin      TEXT NOT NULL,
    key         TEXT NOT NULL,
    value       BLOB NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (plugin, key)
) WITHOUT ROWID;

-- Bytes of keys and values each plugin keeps, for its quota.
CREATE TABLE kv_usage (
    plugin  TEXT PRIMARY KEY,
    bytes   INTEGER NOT NULL
);
