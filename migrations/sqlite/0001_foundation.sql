-- Foundation: the governance tree, the party-organisation tree, the national division list,
-- accounts and sessions. Times are RFC 3339 UTC text. Paths are materialised id paths
-- such as '/1/5/23/' (see ARCHITECTURE.md, "Subtree queries").

CREATE TABLE nodes (
    id          INTEGER PRIMARY KEY,
    parent_id   INTEGER REFERENCES nodes(id),
    level       INTEGER NOT NULL,
    code        TEXT NOT NULL,
    name        TEXT NOT NULL,
    kind        TEXT,
    path        TEXT NOT NULL,
    households  INTEGER,
    population  INTEGER,
    status      TEXT NOT NULL DEFAULT 'active',
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    archived_at TEXT
);
CREATE UNIQUE INDEX nodes_code ON nodes(code);
CREATE INDEX nodes_parent ON nodes(parent_id, status, code);
CREATE INDEX nodes_path ON nodes(path, level, status);
CREATE INDEX nodes_name ON nodes(name);

CREATE TABLE node_history (
    id            INTEGER PRIMARY KEY,
    node_id       INTEGER NOT NULL REFERENCES nodes(id),
    at            TEXT NOT NULL,
    action        TEXT NOT NULL,
    actor_id      INTEGER,
    old_code      TEXT,
    new_code      TEXT,
    old_name      TEXT,
    new_name      TEXT,
    old_parent_id INTEGER,
    new_parent_id INTEGER,
    note          TEXT
);
CREATE INDEX node_history_node ON node_history(node_id, id);
CREATE INDEX node_history_old_code ON node_history(old_code);

CREATE TABLE party_orgs (
    id                INTEGER PRIMARY KEY,
    parent_id         INTEGER REFERENCES party_orgs(id),
    kind              TEXT NOT NULL,
    category          TEXT NOT NULL,
    name              TEXT NOT NULL,
    territory_node_id INTEGER NOT NULL REFERENCES nodes(id),
    path              TEXT NOT NULL,
    founded_on        TEXT,
    status            TEXT NOT NULL DEFAULT 'active',
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    archived_at       TEXT
);
CREATE INDEX party_orgs_parent ON party_orgs(parent_id, status, name);
CREATE INDEX party_orgs_path ON party_orgs(path, status);
CREATE INDEX party_orgs_territory ON party_orgs(territory_node_id, status);

CREATE TABLE party_org_history (
    id            INTEGER PRIMARY KEY,
    org_id        INTEGER NOT NULL REFERENCES party_orgs(id),
    at            TEXT NOT NULL,
    action        TEXT NOT NULL,
    actor_id      INTEGER,
    old_name      TEXT,
    new_name      TEXT,
    old_parent_id INTEGER,
    new_parent_id INTEGER,
    note          TEXT
);
CREATE INDEX party_org_history_org ON party_org_history(org_id, id);

CREATE TABLE divisions (
    code        TEXT NOT NULL PRIMARY KEY,
    name        TEXT NOT NULL,
    level       TEXT NOT NULL,
    parent_code TEXT,
    edition     INTEGER NOT NULL
);
CREATE INDEX divisions_parent ON divisions(parent_code);

CREATE TABLE users (
    id                   INTEGER PRIMARY KEY,
    username             TEXT NOT NULL,
    display_name         TEXT NOT NULL,
    password_hash        TEXT NOT NULL,
    must_change_password INTEGER NOT NULL DEFAULT 1,
    status               TEXT NOT NULL DEFAULT 'active',
    created_at           TEXT NOT NULL,
    updated_at           TEXT NOT NULL
);
CREATE UNIQUE INDEX users_username ON users(username);

CREATE TABLE role_grants (
    id         INTEGER PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users(id),
    role       TEXT NOT NULL,
    node_id    INTEGER REFERENCES nodes(id),
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
CREATE INDEX role_grants_user ON role_grants(user_id);

CREATE TABLE sessions (
    id           INTEGER PRIMARY KEY,
    token_hash   TEXT NOT NULL,
    user_id      INTEGER NOT NULL REFERENCES users(id),
    csrf_token   TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    ended_at     TEXT
);
CREATE UNIQUE INDEX sessions_token ON sessions(token_hash);
CREATE INDEX sessions_user ON sessions(user_id);
