-- Which data key this database's values are encrypted under: its id (as in each ciphertext,
-- `v1.<key id>.…`) and its fingerprint, an HMAC of a fixed label under a key derived from the
-- master key — never the key itself. Every command that opens the database checks the key it
-- was given against this row and refuses another (see `store::datakey`). While `gongjian key
-- rotate` moves the values to a new key, `next_…` names that key; the row switches to it only
-- when every value has been re-encrypted and every keyed hash recomputed.

CREATE TABLE data_key (
    id               INTEGER PRIMARY KEY CHECK (id = 1),
    key_id           TEXT NOT NULL,
    fingerprint      TEXT NOT NULL,
    next_key_id      TEXT,
    next_fingerprint TEXT,
    updated_at       TEXT NOT NULL
);
