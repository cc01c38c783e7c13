-- Uploaded spreadsheets awaiting confirmation: kept in the database (not in a node's memory),
-- so the preview and the commit may reach different nodes. Removed once committed or stale.

CREATE TABLE imports (
    id           INTEGER PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users(id),
    kind         TEXT NOT NULL,
    filename     TEXT NOT NULL,
    payload      BLOB,
    created_at   TEXT NOT NULL,
    committed_at TEXT,
    report       TEXT
);
CREATE INDEX imports_user ON imports(user_id, id);
