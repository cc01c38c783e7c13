-- An idempotency key is kept with a digest of the request it was first used for (SHA-256 over
-- the parsed write: whom, which scheme, how much, from what, which item), written in the same
-- transaction as the key. A later request under the key replays the first answer only when its
-- digest is the same; another request under a used key is refused. Rows written before this
-- column existed have an empty digest and are compared by kind and actor alone.
ALTER TABLE point_transactions ADD COLUMN request_digest TEXT NOT NULL DEFAULT '';
