-- The points ledger and the points shop (积分超市).
--
-- Double entry: every transaction is a set of entries summing to zero; entries are only ever
-- inserted. Each account keeps its balance in the same transaction as its entries; a holder's
-- balance may not go below zero (the conditional UPDATE of the writer, and the CHECK here).

-- The account of a person, set by staff, so a resident's login reaches the resident's record.
ALTER TABLE users ADD COLUMN person_id INTEGER REFERENCES persons(id);
CREATE UNIQUE INDEX users_person ON users(person_id) WHERE person_id IS NOT NULL;

CREATE TABLE point_schemes (
    id         INTEGER PRIMARY KEY,
    node_id    INTEGER NOT NULL REFERENCES nodes(id),
    name       TEXT NOT NULL,
    -- 'volunteer' | 'party_member' | 'time_bank'
    kind       TEXT NOT NULL,
    -- The scheme's rules as JSON (domain::points::SchemeRules).
    rules      TEXT NOT NULL,
    status     TEXT NOT NULL DEFAULT 'active',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX point_schemes_node ON point_schemes(node_id);

CREATE TABLE point_accounts (
    id         INTEGER PRIMARY KEY,
    scheme_id  INTEGER NOT NULL REFERENCES point_schemes(id),
    -- 'person:ID' for a holder; 'system:issuance' | 'system:shop' | 'system:expiry'.
    holder     TEXT NOT NULL,
    person_id  INTEGER REFERENCES persons(id),
    node_id    INTEGER NOT NULL REFERENCES nodes(id),
    balance    INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    CHECK (person_id IS NULL OR balance >= 0)
);
CREATE UNIQUE INDEX point_accounts_holder ON point_accounts(scheme_id, holder);
CREATE INDEX point_accounts_person ON point_accounts(person_id);

CREATE TABLE point_transactions (
    id              INTEGER PRIMARY KEY,
    idempotency_key TEXT NOT NULL,
    scheme_id       INTEGER NOT NULL REFERENCES point_schemes(id),
    -- 'credit' | 'deduct' | 'redeem' | 'cancel' | 'transfer' | 'donate' | 'reset'
    kind            TEXT NOT NULL,
    -- The source or rule item (per-item yearly caps), e.g. 'hours:12', 'order:7', '先锋作用'.
    source          TEXT NOT NULL DEFAULT '',
    item            TEXT NOT NULL DEFAULT '',
    memo            TEXT NOT NULL DEFAULT '',
    actor_id        INTEGER,
    created_at      TEXT NOT NULL
);
CREATE UNIQUE INDEX point_transactions_key ON point_transactions(idempotency_key);
CREATE INDEX point_transactions_scheme ON point_transactions(scheme_id, created_at);

CREATE TABLE point_entries (
    id             INTEGER PRIMARY KEY,
    transaction_id INTEGER NOT NULL REFERENCES point_transactions(id),
    account_id     INTEGER NOT NULL REFERENCES point_accounts(id),
    amount         INTEGER NOT NULL
);
CREATE INDEX point_entries_tx ON point_entries(transaction_id);
CREATE INDEX point_entries_account ON point_entries(account_id, id);

CREATE TABLE shop_items (
    id         INTEGER PRIMARY KEY,
    node_id    INTEGER NOT NULL REFERENCES nodes(id),
    scheme_id  INTEGER NOT NULL REFERENCES point_schemes(id),
    name       TEXT NOT NULL,
    price      INTEGER NOT NULL CHECK (price > 0),
    stock      INTEGER NOT NULL CHECK (stock >= 0),
    status     TEXT NOT NULL DEFAULT 'active',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX shop_items_node ON shop_items(node_id, status);

CREATE TABLE redemptions (
    id             INTEGER PRIMARY KEY,
    item_id        INTEGER NOT NULL REFERENCES shop_items(id),
    person_id      INTEGER NOT NULL REFERENCES persons(id),
    node_id        INTEGER NOT NULL REFERENCES nodes(id),
    quantity       INTEGER NOT NULL CHECK (quantity > 0),
    points         INTEGER NOT NULL CHECK (points > 0),
    -- 'reserved' → 'picked_up' | 'cancelled'
    status         TEXT NOT NULL,
    reserve_tx_id  INTEGER NOT NULL REFERENCES point_transactions(id),
    cancel_tx_id   INTEGER REFERENCES point_transactions(id),
    created_at     TEXT NOT NULL,
    closed_at      TEXT,
    closed_by      INTEGER
);
CREATE UNIQUE INDEX redemptions_reserve_tx ON redemptions(reserve_tx_id);
CREATE INDEX redemptions_node ON redemptions(node_id, created_at);
CREATE INDEX redemptions_person ON redemptions(person_id, created_at);

-- The bare single-row insert of the benchmark (`gongjian bench --points`), its baseline.
CREATE TABLE bench_rows (
    id INTEGER PRIMARY KEY,
    n  INTEGER NOT NULL,
    at TEXT NOT NULL
);
