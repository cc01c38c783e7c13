-- Audit entries are sealed with a keyed MAC (HMAC-SHA256 under a key derived from the data key,
-- which is not in the database) instead of a plain SHA-256. key_id names the data key whose
-- audit key sealed the entry; NULL marks an entry made before this change, whose hash is the
-- plain SHA-256 it always was (verification reports that older part as unkeyed).
ALTER TABLE audit_log ADD COLUMN key_id TEXT;
