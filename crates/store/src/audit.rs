//! The append-only, hash-chained audit log.
//!
//! Each entry carries a sequence number, the hash of the entry before it and its own hash over
//! all its fields. Appending locks the single `audit_head` row (an `UPDATE` in the writing
//! transaction), so appends are serialised on both engines and the head always names the newest
//! entry. [`Store::verify_audit`] walks the chain and names the first entry that was altered,
//! inserted or removed. Pruning (entries older than the retention, at least 180 days) moves the
//! chain's anchor forward and is itself audited.

use serde::Serialize;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use gongjian_domain::access::{Actor, Right, Scope};

use crate::db::{Store, Tx};
use crate::error::{StoreError, StoreResult};
use crate::sql::Sql;

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
    pub hash: String,
}

impl AuditEntry {
    fn computed_hash(&self) -> String {
        entry_hash(
            self.seq,
            &self.at,
            self.actor_id,
            &self.actor_name,
            &self.roles,
            &self.action,
            &self.object,
            &self.result,
            &self.client_addr,
            &self.operation_id,
            &self.detail,
            &self.prev_hash,
        )
    }
}

#[allow(clippy::too_many_arguments)]
fn entry_hash(
    seq: i64,
    at: &str,
    actor_id: Option<i64>,
    actor_name: &str,
    roles: &str,
    action: &str,
    object: &str,
    result: &str,
    client_addr: &str,
    operation_id: &str,
    detail: &str,
    prev_hash: &str,
) -> String {
    // A JSON array is an unambiguous encoding of the fields.
    let canonical = serde_json::json!([
        seq,
        at,
        actor_id,
        actor_name,
        roles,
        action,
        object,
        result,
        client_addr,
        operation_id,
        detail,
        prev_hash
    ])
    .to_string();
    hex::encode(Sha256::digest(canonical.as_bytes()))
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
        Ok(append_entry(tx, ev, self.now_text()).await?.seq)
    }

    /// [`Store::append_audit`], answering the entry written.
    pub(crate) async fn append_audit_entry(&self, tx: &mut Tx, ev: &AuditEvent) -> StoreResult<AuditEntry> {
        append_entry(tx, ev, self.now_text()).await
    }
}

/// Appends the entry made at `at` (the store's clock) inside the caller's write transaction.
async fn append_entry(tx: &mut Tx, ev: &AuditEvent, at: String) -> StoreResult<AuditEntry> {
    let (seq, prev): (i64, String) = sqlx::query_as(BUMP_HEAD_SQL).fetch_one(&mut **tx).await?;
    let entry = chained(seq, prev, ev, at);
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
        .execute(&mut **tx)
        .await?;
    // SQLite counts the rows of both statements, PostgreSQL those of the outer update.
    if written.rows_affected() == 0 {
        return Err(StoreError::Config("the audit head was not moved".into()));
    }
    Ok(entry)
}

/// The entry numbered `seq` after the entry whose hash is `prev`, with its own hash.
pub(crate) fn chained(seq: i64, prev: String, ev: &AuditEvent, at: String) -> AuditEntry {
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
    };
    entry.hash = entry.computed_hash();
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
         operation_id, detail, prev_hash, hash) VALUES (",
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
    sql.push(", ").bind(&entry.hash).push(")");
}

/// The outcome of walking the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum AuditVerdict {
    /// Every entry from the anchor to the head is intact.
    Intact {
        entries: i64,
        first_seq: i64,
        last_seq: i64,
    },
    /// The chain is broken at `seq`; `problem` says how.
    Broken { seq: i64, problem: String },
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
     operation_id, detail, prev_hash, hash";

impl Store {
    /// Appends an entry in a transaction of its own.
    pub async fn audit(&self, ev: &AuditEvent) -> StoreResult<i64> {
        let mut tx = self.begin_write().await?;
        let seq = self.append_audit(&mut tx, ev).await?;
        tx.commit().await?;
        Ok(seq)
    }

    /// Walks the whole chain from the anchor to the head.
    pub async fn verify_audit(&self) -> StoreResult<AuditVerdict> {
        let (head_seq, head_hash, pruned_to, pruned_hash): (i64, String, i64, String) =
            sqlx::query_as("SELECT seq, last_hash, pruned_to_seq, pruned_hash FROM audit_head WHERE id = 1")
                .fetch_one(&self.pool)
                .await?;
        let mut expected = pruned_to + 1;
        let mut prev = pruned_hash;
        let mut count = 0i64;
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
                if row.seq != expected {
                    return Ok(AuditVerdict::Broken {
                        seq: expected,
                        problem: format!("entry {expected} is missing (the next entry present is {})", row.seq),
                    });
                }
                if row.computed_hash() != row.hash {
                    return Ok(AuditVerdict::Broken {
                        seq: row.seq,
                        problem: format!("entry {} was altered: its content no longer matches its hash", row.seq),
                    });
                }
                if row.prev_hash != prev {
                    return Ok(AuditVerdict::Broken {
                        seq: row.seq,
                        problem: format!(
                            "entry {} does not follow entry {}: an entry was altered, inserted or replaced there",
                            row.seq,
                            row.seq - 1
                        ),
                    });
                }
                prev = row.hash.clone();
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
            return Ok(AuditVerdict::Broken {
                seq,
                problem: format!("entry {seq} lies outside the chain (inserted)"),
            });
        }
        if expected - 1 != head_seq {
            return Ok(AuditVerdict::Broken {
                seq: expected,
                problem: format!("entries {expected}–{head_seq} are missing from the end of the log"),
            });
        }
        if head_seq > pruned_to && prev != head_hash {
            return Ok(AuditVerdict::Broken {
                seq: head_seq,
                problem: format!("entry {head_seq} does not match the recorded head of the log"),
            });
        }
        Ok(AuditVerdict::Intact {
            entries: count,
            first_seq: pruned_to + 1,
            last_seq: head_seq,
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
    /// the newest removed entry, and records the pruning as a new entry — one transaction.
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
        let removed = match last {
            None => 0,
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
                n as i64
            }
        };
        let mut ev = by.clone();
        ev.action = "audit.prune".into();
        ev.object = "audit_log".into();
        ev.result = "success".into();
        ev.detail = format!("removed {removed} entries older than {cutoff} (retention {retention_days} days)");
        self.append_audit(&mut tx, &ev).await?;
        tx.commit().await?;
        Ok(removed)
    }
}
