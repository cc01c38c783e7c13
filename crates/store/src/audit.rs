//! The append-only audit log, chained and sealed.
//!
//! Each entry carries a sequence number, the hash of the entry before it and its own seal over
//! all its fields: an HMAC-SHA256 under the audit key, which is derived from the data key
//! ([`crate::crypto::Keyring::audit_mac_key`]) and so is not in the database; the entry names
//! the data key (`key_id`), so entries sealed before a key rotation still verify with the older
//! key. Entries made before entries were sealed have no `key_id` and a plain SHA-256; they still
//! verify as before, up to the first sealed entry, and are reported as unkeyed. Appending locks
//! the single `audit_head` row (an `UPDATE` in the writing transaction), so appends are
//! serialised on both engines and the head always names the newest entry.
//!
//! The head is also written, from time to time, to a witness outside the database
//! ([`Store::witness_audit_head`]: a tracing line, and a line sealed with the audit key appended
//! to the witness file when the store has one, [`Store::with_audit_witness`]). The store owns the
//! chain, the witness's format and its checks; the program that runs it chooses the file and
//! when to write (`gongjian serve` every `audit_witness_seconds` and at shutdown, `audit prune`
//! and an intact `audit verify` once).
//!
//! [`Store::verify_audit`] walks the chain and names the first entry that was altered, forged,
//! inserted or removed, a tail cut off below the head the witness recorded, and a start moved
//! past what the last prune (a sealed entry naming the new start) or the witness recorded.
//! Pruning (entries older than the retention, at least 180 days) moves the chain's anchor
//! forward and is itself audited.

use hmac::{Hmac, KeyInit, Mac};
use serde::Serialize;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use gongjian_domain::access::{Actor, Right, Scope};

use crate::crypto::Keyring;
use crate::db::{Store, Tx};
use crate::error::{StoreError, StoreResult};
use crate::sql::Sql;

mod witness;
pub use witness::{AuditHead, Witness};

/// The shortest retention the law allows (等保 2.0: at least 180 days).
pub const MIN_RETENTION_DAYS: i64 = 180;

/// What happened, as the caller describes it.
#[derive(Debug, Clone, Default)]
pub struct AuditEvent {
    pub actor_id: Option<i64>,
    pub actor_name: String,
    /// Role keys of the actor, comma-separated.
    pub roles: String,
    /// What was done, e.g. `login`, `POST /api/v1/nodes/{id}/move`.
    pub action: String,
    /// What it was done to, e.g. `node:42`.
    pub object: String,
    /// `success`, `refused`, `failed` or an HTTP status.
    pub result: String,
    pub client_addr: String,
    pub operation_id: String,
    /// Further detail (never a password or a token).
    pub detail: String,
}

impl AuditEvent {
    /// A successful action of `actor` on `object`.
    pub fn by(actor: &Actor, action: &str, object: impl Into<String>, client: &str) -> AuditEvent {
        AuditEvent {
            actor_id: Some(actor.user_id),
            actor_name: actor.username.clone(),
            roles: actor.role_keys(),
            action: action.to_string(),
            object: object.into(),
            result: "success".into(),
            client_addr: client.to_string(),
            ..AuditEvent::default()
        }
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> AuditEvent {
        self.detail = detail.into();
        self
    }
}

/// One stored entry.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct AuditEntry {
    pub seq: i64,
    pub at: String,
    pub actor_id: Option<i64>,
    pub actor_name: String,
    pub roles: String,
    pub action: String,
    pub object: String,
    pub result: String,
    pub client_addr: String,
    pub operation_id: String,
    pub detail: String,
    pub prev_hash: String,
    /// The entry's seal: an HMAC-SHA256 in hex, or for an entry without `key_id` (made before
    /// entries were sealed) the SHA-256 of its fields.
    pub hash: String,
    /// The id of the data key whose audit key sealed the entry; `None` for an unkeyed entry.
    pub key_id: Option<String>,
}

/// How an entry's seal checks out.
#[derive(Debug, PartialEq, Eq)]
enum Seal {
    Good,
    /// The fields do not match the seal.
    Bad,
    /// A sealed entry whose hash is the plain SHA-256 of its fields: made without the key.
    Recomputed,
    /// The entry names a data key the keyring does not hold.
    UnknownKey,
}

pub(crate) type HmacSha256 = Hmac<Sha256>;

/// What an entry's seal covers before its fields, with the key's id.
const SEAL_LABEL: &[u8] = b"gongjian/audit/v2\0";

impl AuditEntry {
    /// An unambiguous encoding of the fields (a JSON array), as hashed since the first version.
    fn canonical(&self) -> String {
        serde_json::json!([
            self.seq,
            self.at,
            self.actor_id,
            self.actor_name,
            self.roles,
            self.action,
            self.object,
            self.result,
            self.client_addr,
            self.operation_id,
            self.detail,
            self.prev_hash
        ])
        .to_string()
    }

    /// The SHA-256 of an unkeyed entry.
    fn sha256(&self) -> String {
        hex::encode(Sha256::digest(self.canonical().as_bytes()))
    }

    /// The MAC of the fields and `key_id` under `key`, unfinished (HMAC takes a key of any
    /// length, so it is always there).
    fn mac(&self, key_id: &str, key: &[u8; 32]) -> Option<HmacSha256> {
        let mut m = <HmacSha256 as KeyInit>::new_from_slice(key).ok()?;
        m.update(SEAL_LABEL);
        m.update(key_id.as_bytes());
        m.update(b"\0");
        m.update(self.canonical().as_bytes());
        Some(m)
    }

    fn check(&self, keys: &Keyring) -> Seal {
        let Some(id) = &self.key_id else {
            return if self.sha256() == self.hash {
                Seal::Good
            } else {
                Seal::Bad
            };
        };
        let Some(key) = keys.audit_mac_key_of(id) else {
            return Seal::UnknownKey;
        };
        let good =
            hex::decode(&self.hash).is_ok_and(|tag| self.mac(id, key).is_some_and(|m| m.verify_slice(&tag).is_ok()));
        if good {
            Seal::Good
        } else if self.sha256() == self.hash {
            Seal::Recomputed
        } else {
            Seal::Bad
        }
    }
}

/// Only the audit administrator reads the log.
pub fn require_audit(actor: &Actor) -> StoreResult<()> {
    match actor.scope(Right::ReadAudit) {
        Scope::Paths(p) if p.is_empty() => Err(StoreError::Forbidden),
        _ => Ok(()),
    }
}

/// Moves the chain's head on and answers the new entry's number and the hash before it. The
/// row stays locked (the first write of the transaction on SQLite) until the transaction ends.
pub(crate) const BUMP_HEAD_SQL: &str = "UPDATE audit_head SET seq = seq + 1 WHERE id = 1 RETURNING seq, last_hash";

impl Store {
    /// Appends an entry inside the caller's write transaction.
    pub async fn append_audit(&self, tx: &mut Tx, ev: &AuditEvent) -> StoreResult<i64> {
        Ok(append_entry(tx, ev, self.now_text(), &self.keys).await?.seq)
    }

    /// [`Store::append_audit`], answering the entry written.
    pub(crate) async fn append_audit_entry(&self, tx: &mut Tx, ev: &AuditEvent) -> StoreResult<AuditEntry> {
        append_entry(tx, ev, self.now_text(), &self.keys).await
    }
}

/// Appends the entry made at `at` (the store's clock) inside the caller's write transaction.
async fn append_entry(tx: &mut Tx, ev: &AuditEvent, at: String, keys: &Keyring) -> StoreResult<AuditEntry> {
    let (seq, prev): (i64, String) = sqlx::query_as(BUMP_HEAD_SQL).fetch_one(&mut **tx).await?;
    let entry = chained(seq, prev, ev, at, keys);
    // The entry and the head's new hash in one round trip: every write holds the head's lock
    // from the first statement here to its commit.
    let engine = crate::db::Engine::of(tx);
    let written = sqlx::query(engine.audit_write_sql())
        .bind(entry.seq)
        .bind(&entry.at)
        .bind(entry.actor_id)
        .bind(&entry.actor_name)
        .bind(&entry.roles)
        .bind(&entry.action)
        .bind(&entry.object)
        .bind(&entry.result)
        .bind(&entry.client_addr)
        .bind(&entry.operation_id)
        .bind(&entry.detail)
        .bind(&entry.prev_hash)
        .bind(&entry.hash)
        .bind(&entry.key_id)
        .execute(&mut **tx)
        .await?;
    // SQLite counts the rows of both statements, PostgreSQL those of the outer update.
    if written.rows_affected() == 0 {
        return Err(StoreError::Config("the audit head was not moved".into()));
    }
    Ok(entry)
}

/// The entry numbered `seq` after the entry whose hash is `prev`, sealed with the current audit
/// key of `keys`.
pub(crate) fn chained(seq: i64, prev: String, ev: &AuditEvent, at: String, keys: &Keyring) -> AuditEntry {
    let clip = |s: &str, n: usize| s.chars().filter(|c| *c != '\0').take(n).collect::<String>();
    let mut entry = AuditEntry {
        seq,
        at,
        actor_id: ev.actor_id,
        actor_name: clip(&ev.actor_name, 64),
        roles: clip(&ev.roles, 200),
        action: clip(&ev.action, 200),
        object: clip(&ev.object, 200),
        result: clip(&ev.result, 40),
        client_addr: clip(&ev.client_addr, 64),
        operation_id: clip(&ev.operation_id, 64),
        detail: clip(&ev.detail, 2000),
        prev_hash: prev,
        hash: String::new(),
        key_id: None,
    };
    let (id, key) = keys.audit_mac_key();
    entry.hash = entry
        .mac(id, key)
        .map(|m| hex::encode(m.finalize().into_bytes()))
        .unwrap_or_default();
    entry.key_id = Some(id.to_string());
    entry
}

/// Appends to a SQLite script the statements that store `entry` and make it the chain's head,
/// in a transaction that has not read the head: the entry's `prev_hash` is read from the head
/// only while the head is still the entry before it, else it is `NULL`, which `audit_log`
/// refuses, and the script stops there.
///
/// With `after_one_change`, the head is read only when the statement before changed exactly
/// one row, so a write that changed nothing stops there too.
pub(crate) fn push_sqlite_append(sql: &mut Sql, entry: &AuditEntry, after_one_change: bool) {
    push_entry_values(sql, entry, Some(after_one_change));
    sql.push("; UPDATE audit_head SET seq = ")
        .bind(entry.seq)
        .push(", last_hash = ")
        .bind(&entry.hash)
        .push(" WHERE id = 1; ");
}

/// Appends to a SQLite script the statements that store `entry` and make it the chain's head
/// (the head was moved on with [`BUMP_HEAD_SQL`] earlier in the same transaction).
pub(crate) fn push_sqlite_write(sql: &mut Sql, entry: &AuditEntry) {
    push_entry_values(sql, entry, None);
    sql.push("; UPDATE audit_head SET last_hash = ")
        .bind(&entry.hash)
        .push(" WHERE id = 1; ");
}

/// `INSERT INTO audit_log … VALUES (…)` for `entry`; with `checked`, its `prev_hash` is read
/// from the head (see [`push_sqlite_append`]).
fn push_entry_values(sql: &mut Sql, entry: &AuditEntry, checked: Option<bool>) {
    sql.push(
        "INSERT INTO audit_log (seq, at, actor_id, actor_name, roles, action, object, result, client_addr, \
         operation_id, detail, prev_hash, hash, key_id) VALUES (",
    )
    .bind(entry.seq)
    .push(", ")
    .bind(&entry.at)
    .push(", ")
    .bind(entry.actor_id)
    .push(", ")
    .bind(&entry.actor_name)
    .push(", ")
    .bind(&entry.roles)
    .push(", ")
    .bind(&entry.action)
    .push(", ")
    .bind(&entry.object)
    .push(", ")
    .bind(&entry.result)
    .push(", ")
    .bind(&entry.client_addr)
    .push(", ")
    .bind(&entry.operation_id)
    .push(", ")
    .bind(&entry.detail)
    .push(", ");
    if let Some(after_one_change) = checked {
        sql.push("(SELECT last_hash FROM audit_head WHERE id = 1 AND seq = ")
            .bind(entry.seq - 1)
            .push(" AND last_hash = ")
            .bind(&entry.prev_hash);
        if after_one_change {
            sql.push(" AND changes() = 1");
        }
        sql.push(")");
    } else {
        sql.bind(&entry.prev_hash);
    }
    sql.push(", ")
        .bind(&entry.hash)
        .push(", ")
        .bind(entry.key_id.clone())
        .push(")");
}

/// The outcome of walking the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum AuditVerdict {
    /// Every entry from the anchor to the head is intact.
    Intact {
        entries: i64,
        first_seq: i64,
        last_seq: i64,
        /// The last entry made before entries were sealed (`first_seq` up to it are unkeyed: a
        /// plain SHA-256, which anyone who can write to the database can recompute).
        unkeyed_to: Option<i64>,
        /// The newest head the witness recorded; `None` without a witness file or line.
        witnessed_to: Option<i64>,
    },
    /// The chain is broken at `seq`; `problem` says how.
    Broken { seq: i64, kind: Tamper, problem: String },
}

/// What [`Store::verify_audit`] found wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Tamper {
    /// An entry's content no longer matches its seal.
    Altered,
    /// An entry not made with the audit key: a recomputed SHA-256, or an unkeyed entry after
    /// sealed ones.
    Forged,
    /// An entry names a data key the keyring does not hold.
    UnknownKey,
    /// An entry is missing between the start and the head.
    Missing,
    /// An entry lies outside the chain or does not follow the one before it.
    Inserted,
    /// Entries were cut off the end: below the `audit_head` row, or below the head the witness
    /// recorded.
    Truncated,
    /// Entries were removed from the start and the anchor moved, without a recorded prune.
    MovedStart,
    /// The witness file itself was altered.
    Witness,
}

impl Tamper {
    pub fn key(self) -> &'static str {
        match self {
            Tamper::Altered => "altered",
            Tamper::Forged => "forged",
            Tamper::UnknownKey => "unknown key",
            Tamper::Missing => "missing",
            Tamper::Inserted => "inserted",
            Tamper::Truncated => "truncated",
            Tamper::MovedStart => "moved start",
            Tamper::Witness => "witness altered",
        }
    }
}

/// The detail of a prune's entry ends with the entry the log then starts after, which the
/// entry's seal protects.
const PRUNE_ANCHOR: &str = "; the log now starts after entry ";

/// The start a sealed prune entry recorded.
fn prune_anchor(entry: &AuditEntry) -> Option<i64> {
    if entry.key_id.is_none() || entry.action != "audit.prune" || entry.result != "success" {
        return None;
    }
    entry.detail.rsplit_once(PRUNE_ANCHOR)?.1.parse().ok()
}

/// Filters of the audit list.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub result: Option<String>,
    /// Inclusive lower bound, RFC 3339 or a date.
    pub from: Option<String>,
    /// Exclusive upper bound, RFC 3339 or a date.
    pub to: Option<String>,
}

const AUDIT_COLUMNS: &str = "seq, at, actor_id, actor_name, roles, action, object, result, client_addr, \
     operation_id, detail, prev_hash, hash, key_id";

impl Store {
    /// Appends an entry in a transaction of its own.
    pub async fn audit(&self, ev: &AuditEvent) -> StoreResult<i64> {
        let mut tx = self.begin_write().await?;
        let seq = self.append_audit(&mut tx, ev).await?;
        tx.commit().await?;
        Ok(seq)
    }

    /// Walks the whole chain from the anchor to the head and checks it against the witness.
    pub async fn verify_audit(&self) -> StoreResult<AuditVerdict> {
        let broken = |seq: i64, kind: Tamper, problem: String| Ok(AuditVerdict::Broken { seq, kind, problem });
        let lines = match self.witness.read(&self.keys)? {
            Ok(lines) => lines,
            Err((seq, problem)) => return broken(seq, Tamper::Witness, problem),
        };
        // What the witness recorded of each entry, and its newest line.
        let recorded: std::collections::HashMap<i64, &witness::Line> = lines.iter().map(|l| (l.seq, l)).collect();
        let newest = lines.iter().max_by_key(|l| (l.seq, l.number));
        let (head_seq, head_hash, pruned_to, pruned_hash): (i64, String, i64, String) =
            sqlx::query_as("SELECT seq, last_hash, pruned_to_seq, pruned_hash FROM audit_head WHERE id = 1")
                .fetch_one(&self.pool)
                .await?;
        let mut expected = pruned_to + 1;
        let mut prev = pruned_hash;
        let mut count = 0i64;
        let mut unkeyed_to = None;
        let mut first_keyed = None;
        let mut sealed_seen = false;
        let mut last_prune: Option<(i64, i64)> = None;
        loop {
            let rows: Vec<AuditEntry> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {AUDIT_COLUMNS} FROM audit_log WHERE seq >= $1 ORDER BY seq LIMIT 5000"
            )))
            .bind(expected)
            .fetch_all(&self.pool)
            .await?;
            if rows.is_empty() {
                break;
            }
            for row in rows {
                let seq = row.seq;
                if seq != expected {
                    return broken(
                        expected,
                        Tamper::Missing,
                        format!("entry {expected} is missing (the next entry present is {seq})"),
                    );
                }
                first_keyed.get_or_insert(row.key_id.is_some());
                match (row.check(&self.keys), &row.key_id) {
                    (_, None) if sealed_seen => {
                        return broken(
                            seq,
                            Tamper::Forged,
                            format!(
                                "entry {seq} is forged: it is unkeyed (a plain SHA-256) but follows sealed entries"
                            ),
                        );
                    }
                    (Seal::Good, Some(_)) => sealed_seen = true,
                    (Seal::Good, None) => unkeyed_to = Some(seq),
                    (Seal::Recomputed, _) => {
                        return broken(
                            seq,
                            Tamper::Forged,
                            format!("entry {seq} is forged: it carries a recomputed SHA-256, not the audit key's MAC"),
                        );
                    }
                    (Seal::UnknownKey, id) => {
                        return broken(
                            seq,
                            Tamper::UnknownKey,
                            format!(
                                "entry {seq} is sealed with data key {}, which the key file does not hold \
                                 (an older key removed from it, or a forged entry)",
                                id.as_deref().unwrap_or_default()
                            ),
                        );
                    }
                    (Seal::Bad, Some(_)) => {
                        return broken(
                            seq,
                            Tamper::Altered,
                            format!("entry {seq} was altered or forged: its content does not match its MAC"),
                        );
                    }
                    (Seal::Bad, None) => {
                        return broken(
                            seq,
                            Tamper::Altered,
                            format!("entry {seq} was altered: its content no longer matches its hash"),
                        );
                    }
                }
                if row.prev_hash != prev {
                    return broken(
                        seq,
                        Tamper::Inserted,
                        format!(
                            "entry {seq} does not follow entry {}: an entry was altered, inserted or replaced there",
                            seq - 1
                        ),
                    );
                }
                if let Some(line) = recorded.get(&seq)
                    && line.hash != row.hash
                {
                    return broken(
                        seq,
                        Tamper::Altered,
                        format!(
                            "entry {seq} is not the entry the witness recorded at {}: the log was rewritten from there",
                            line.at
                        ),
                    );
                }
                if let Some(anchor) = prune_anchor(&row) {
                    last_prune = Some((seq, anchor));
                }
                prev = row.hash;
                expected += 1;
                count += 1;
            }
        }
        // Entries before the anchor must be gone; entries after the head must not exist.
        let stray: Option<i64> = sqlx::query_scalar("SELECT MIN(seq) FROM audit_log WHERE seq <= $1 OR seq > $2")
            .bind(pruned_to)
            .bind(head_seq)
            .fetch_one(&self.pool)
            .await?;
        if let Some(seq) = stray {
            return broken(
                seq,
                Tamper::Inserted,
                format!("entry {seq} lies outside the chain (inserted)"),
            );
        }
        if expected - 1 != head_seq {
            return broken(
                expected,
                Tamper::Truncated,
                format!(
                    "entries {expected}–{head_seq} are missing from the end of the log (the audit_head row names \
                     entry {head_seq})"
                ),
            );
        }
        if head_seq > pruned_to && prev != head_hash {
            return broken(
                head_seq,
                Tamper::Truncated,
                format!("entry {head_seq} does not match the audit_head row: the end of the log was replaced"),
            );
        }
        if let Some(w) = newest
            && w.seq > head_seq
        {
            return broken(
                head_seq + 1,
                Tamper::Truncated,
                format!(
                    "the log was cut off after entry {head_seq}: the witness recorded entry {} as its head at {}, \
                     so entries {}–{} were removed",
                    w.seq,
                    w.at,
                    head_seq + 1,
                    w.seq
                ),
            );
        }
        // The start: where the last sealed prune left it, and where the witness last saw it.
        let moved = |from: i64, by: String| {
            let (low, high) = (from.min(pruned_to), from.max(pruned_to));
            broken(
                low + 1,
                Tamper::MovedStart,
                format!(
                    "the log starts after entry {pruned_to}, but {by} left it starting after entry {from}: \
                     entries {}–{high} were removed from the start",
                    low + 1
                ),
            )
        };
        match last_prune {
            Some((seq, anchor)) if anchor != pruned_to => {
                return moved(anchor, format!("the last prune (entry {seq})"));
            }
            // Only a prune moves the start, and a prune since entries were sealed leaves a sealed
            // entry naming it; a start after an older prune lies in the unkeyed part.
            None if pruned_to > 0 && first_keyed != Some(false) => {
                return broken(
                    1,
                    Tamper::MovedStart,
                    format!(
                        "the log starts after entry {pruned_to}, but no recorded prune moved its start there: \
                         entries up to {pruned_to} were removed from the start"
                    ),
                );
            }
            _ => {}
        }
        if let Some(w) = newest
            && w.pruned_to != pruned_to
            && last_prune.is_none_or(|(seq, _)| seq <= w.seq)
        {
            return moved(w.pruned_to, format!("the witness at {}", w.at));
        }
        Ok(AuditVerdict::Intact {
            entries: count,
            first_seq: pruned_to + 1,
            last_seq: head_seq,
            unkeyed_to,
            witnessed_to: newest.map(|w| w.seq),
        })
    }

    /// A page of entries, newest first, for the audit administrator. `cursor` is the last
    /// `seq` of the previous page.
    pub async fn audit_entries(
        &self,
        actor: &Actor,
        filter: &AuditFilter,
        cursor: Option<i64>,
        limit: i64,
    ) -> StoreResult<crate::Page<AuditEntry>> {
        require_audit(actor)?;
        let limit = limit.clamp(1, 10_000);
        let mut sql = Sql::new(&format!("SELECT {AUDIT_COLUMNS} FROM audit_log WHERE 1 = 1"));
        // A NUL matches nothing (and PostgreSQL text cannot hold it).
        let clean = |s: &Option<String>| s.as_deref().map(|s| s.replace('\0', "\u{FFFD}"));
        let filter = AuditFilter {
            actor: clean(&filter.actor),
            action: clean(&filter.action),
            result: clean(&filter.result),
            from: clean(&filter.from),
            to: clean(&filter.to),
        };
        if let Some(a) = filter.actor.as_deref().filter(|s| !s.is_empty()) {
            sql.push(" AND actor_name = ").bind(a);
        }
        if let Some(a) = filter.action.as_deref().filter(|s| !s.is_empty()) {
            let escaped = a.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
            sql.push(" AND action LIKE ")
                .bind(format!("%{escaped}%"))
                .push(" ESCAPE '\\'");
        }
        if let Some(r) = filter.result.as_deref().filter(|s| !s.is_empty()) {
            sql.push(" AND result = ").bind(r);
        }
        if let Some(f) = filter.from.as_deref().filter(|s| !s.is_empty()) {
            sql.push(" AND at >= ").bind(f);
        }
        if let Some(t) = filter.to.as_deref().filter(|s| !s.is_empty()) {
            sql.push(" AND at < ").bind(t);
        }
        if let Some(c) = cursor {
            sql.push(" AND seq < ").bind(c);
        }
        sql.push(" ORDER BY seq DESC LIMIT ").bind(limit + 1);
        let mut items: Vec<AuditEntry> = sql.query_as().fetch_all(&self.pool).await?;
        let next_cursor = if items.len() as i64 > limit {
            items.truncate(limit as usize);
            items.last().map(|e| e.seq.to_string())
        } else {
            None
        };
        Ok(crate::Page { items, next_cursor })
    }

    /// Removes entries older than `retention_days` (at least 180), moving the chain's anchor to
    /// the newest removed entry, and records the pruning as a new entry naming the new start —
    /// one transaction — then writes the head to the witness.
    pub async fn prune_audit(&self, by: &AuditEvent, retention_days: i64) -> StoreResult<i64> {
        if retention_days < MIN_RETENTION_DAYS {
            return Err(StoreError::field(
                "retention_days",
                format!("审计记录至少保留 {MIN_RETENTION_DAYS} 天"),
            ));
        }
        let cutoff = crate::time_text(self.now() - chrono::Duration::days(retention_days));
        let mut tx = self.begin_write().await?;
        let last: Option<(i64, String)> =
            sqlx::query_as("SELECT seq, hash FROM audit_log WHERE at < $1 ORDER BY seq DESC LIMIT 1")
                .bind(&cutoff)
                .fetch_optional(&mut *tx)
                .await?;
        let (removed, anchor) = match last {
            None => {
                let anchor: i64 = sqlx::query_scalar("SELECT pruned_to_seq FROM audit_head WHERE id = 1")
                    .fetch_one(&mut *tx)
                    .await?;
                (0, anchor)
            }
            Some((seq, hash)) => {
                let n = sqlx::query("DELETE FROM audit_log WHERE seq <= $1")
                    .bind(seq)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                sqlx::query("UPDATE audit_head SET pruned_to_seq = $1, pruned_hash = $2 WHERE id = 1")
                    .bind(seq)
                    .bind(hash)
                    .execute(&mut *tx)
                    .await?;
                (n as i64, seq)
            }
        };
        let mut ev = by.clone();
        ev.action = "audit.prune".into();
        ev.object = "audit_log".into();
        ev.result = "success".into();
        ev.detail = format!(
            "removed {removed} entries older than {cutoff} (retention {retention_days} days){PRUNE_ANCHOR}{anchor}"
        );
        self.append_audit(&mut tx, &ev).await?;
        tx.commit().await?;
        // The new start goes to the witness at once; the prune is done even if that fails.
        if let Err(e) = self.witness_audit_head().await {
            tracing::warn!(error = %e, "the audit witness was not written after the prune");
        }
        Ok(removed)
    }
}
