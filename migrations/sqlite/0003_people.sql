-- Residents. ID and mobile numbers are stored encrypted (AES-256-GCM, `…_enc`), with a keyed
-- hash for look-up and de-duplication (`…_hash`) and the masked form for lists (`…_masked`).
-- No plaintext number is ever written.

CREATE TABLE persons (
    id                   INTEGER PRIMARY KEY,
    name                 TEXT NOT NULL,
    id_number_enc        TEXT,
    id_number_hash       TEXT,
    id_number_masked     TEXT,
    birth_date           TEXT,
    sex                  TEXT,
    mobile_enc           TEXT,
    mobile_hash          TEXT,
    mobile_masked        TEXT,
    home_node_id         INTEGER NOT NULL REFERENCES nodes(id),
    household            TEXT,
    registered_elsewhere INTEGER NOT NULL DEFAULT 0,
    status               TEXT NOT NULL DEFAULT 'active',
    created_at           TEXT NOT NULL,
    updated_at           TEXT NOT NULL
);
CREATE UNIQUE INDEX persons_id_hash ON persons(id_number_hash);
CREATE INDEX persons_mobile_hash ON persons(mobile_hash);
CREATE INDEX persons_home ON persons(home_node_id, status, name);
CREATE INDEX persons_name ON persons(name);

CREATE TABLE person_history (
    id        INTEGER PRIMARY KEY,
    person_id INTEGER NOT NULL REFERENCES persons(id),
    at        TEXT NOT NULL,
    action    TEXT NOT NULL,
    actor_id  INTEGER,
    detail    TEXT
);
CREATE INDEX person_history_person ON person_history(person_id, id);
