//! The ledger's common writes on SQLite in one round trip under the write lock.
//!
//! SQLite runs each connection's statements on a thread of its own, so every statement a
//! writer awaits costs two thread wake-ups, and while one writer holds the write lock every
//! other writer waits: under many clients the round trips inside the lock, not the work, set
//! the rate. A credit that checks no cap, and a redemption, whose holder already has an
//! account, are therefore written by one script, [`Store::sqlite_ledger_write`]:
//!
//! `BEGIN IMMEDIATE`, the transaction row, the writer's statements (balances, entries, its
//! own rows), the audit entry, `COMMIT`.
//!
//! A QR check-in (`volunteers::attendance`), which queues on the same gate, takes the same
//! kind of script without a transaction row: [`Store::sqlite_audited_write`].
//!
//! The ids the script gives its rows and the audit entry's number and hash (which the entry's
//! hash covers, so they must be known before the script is sent) come from what the last write
//! through here left ([`Known`]). Nothing is checked between the statements; the tables refuse
//! what may not be stored, and a refused statement stops the script before its `COMMIT`, after
//! which the transaction is rolled back:
//!
//! - a used idempotency key is refused by its unique index — the request is a repeat, answered
//!   as the general path answers it (the first answer when the request is the same, by the
//!   digest stored with the key; a conflict when it is not);
//! - a holder's balance and an item's stock below zero are refused by `CHECK` constraints (a
//!   refused redemption is then written the general way, which says which of the two it was);
//! - every entry and redemption names its account and item by a foreign key;
//! - a transaction or redemption id already taken, or an audit head that moved on since, is
//!   refused (the ids are primary keys; the entry's `prev_hash` is read from the head only
//!   when the head is still where it was, and is `NOT NULL`) — another writer wrote (a
//!   non-ledger write appends to the audit log; another process may write). The write then
//!   goes in two round trips instead: the first begins and reads what the script needs under
//!   the lock, the second is the rest of the script.
//!
//! A refusal is told by the database's code ([`crate::error::classify_db_code`]), never by its
//! message: the idempotency key's index is the only unique index the script can meet (a
//! redemption's unique `reserve_tx_id` is the id of the transaction row inserted just before,
//! under its primary key), so a unique violation is a repeat; a primary key (a transaction,
//! redemption or audit entry's id taken) or a `NOT NULL` (the audit entry's `prev_hash` read
//! from a head that moved on) is what was known gone out of date; a `CHECK` is a balance or a
//! stock.
//!
//! [`Store::with_general_path_only`] turns the path off, for comparing what both paths write;
//! [`Store::fast_path_writes`] counts what went through it.
//!
//! The other writers (transfers, deductions, cancellations, capped credits) and every write on
//! PostgreSQL take the general path in `ledger.rs`; they forget what this path knew.
//!
//! All of them run on one connection, kept in the ledger's gate ([`crate::db::LedgerGate`]):
//! a SQLite connection discards its page cache whenever another connection wrote since its
//! last transaction, so writes that always go through the same connection find their pages
//! still cached.
//!
//! The transaction is begun by a script, outside sqlx's own bookkeeping, so [`Raw`] closes the
//! connection (and the next writer opens another) unless the transaction was seen to end: a
//! request dropped half-way, or a failed rollback, cannot leave the writer's connection inside
//! a transaction.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use gongjian_domain::access::Actor;
use gongjian_domain::points::check_idempotency_key;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::ledger::{Opening, replayed};
use crate::audit::{self, AuditEntry, AuditEvent};
use crate::db::{Engine, LedgerGate, Store};
use crate::error::{DbFailure, StoreError, StoreResult};
use crate::sql::Sql;

/// Whether a store writes through the one-script path, and what went through it. Clones of a
/// store share the counts.
#[derive(Debug, Clone, Default)]
pub(crate) struct ScriptPath {
    /// Every write takes the general path ([`Store::with_general_path_only`]).
    general_only: bool,
    counts: Arc<ScriptCounts>,
}

#[derive(Debug, Default)]
struct ScriptCounts {
    one_trip: AtomicU64,
    two_trips: AtomicU64,
    audited: AtomicU64,
}

/// The writes a store committed through SQLite's one-script path ([`Store::fast_path_writes`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FastPathWrites {
    /// Ledger writes in one round trip, built from what the last write left.
    pub one_trip: u64,
    /// Ledger writes in two round trips (nothing known yet, or what was known was out of date).
    pub two_trips: u64,
    /// Audited writes without a ledger transaction (QR check-ins) in one round trip.
    pub audited: u64,
}

impl FastPathWrites {
    pub fn total(&self) -> u64 {
        self.one_trip + self.two_trips + self.audited
    }
}

/// The SQLite ledger writer: its connection and what it knows of the database.
#[derive(Debug, Default)]
pub struct LedgerWriter {
    conn: Option<AnyConnection>,
    known: Option<Known>,
}

impl LedgerWriter {
    /// Takes the connection out, to close it.
    pub(crate) fn take_connection(&mut self) -> Option<AnyConnection> {
        self.known = None;
        self.conn.take()
    }

    /// The writer's connection, when it has one.
    pub(crate) fn connection(&mut self) -> Option<&mut AnyConnection> {
        self.conn.as_mut()
    }

    /// Another ledger writer is about to write: what was known may no longer hold.
    pub(crate) fn forget(&mut self) {
        self.known = None;
    }

    /// The audit head a general-path write through the gate left: `entry`, just committed.
    pub(crate) fn learn_audit_head(&mut self, entry: &AuditEntry) {
        self.known = Some(Known {
            audit_seq: entry.seq,
            audit_hash: entry.hash.clone(),
            next_ids: None,
        });
    }
}

/// What the last write through here left: the audit head and, after a points write, the next
/// free ids.
#[derive(Debug, Clone)]
struct Known {
    audit_seq: i64,
    audit_hash: String,
    next_ids: Option<(i64, i64)>,
}

/// The ledger's gate, held, with its connection, which may be inside a transaction begun by a
/// script.
struct Raw {
    gate: LedgerGate,
    /// When this write happens, by the store's clock.
    at: String,
    /// The store's keys, whose audit key seals the entry.
    keys: std::sync::Arc<crate::crypto::Keyring>,
    /// Whether a transaction may be open on the connection.
    open: bool,
}

impl Drop for Raw {
    fn drop(&mut self) {
        if self.open {
            // Closing the connection ends whatever it had begun.
            self.gate.take_connection();
        }
    }
}

/// A write for [`Store::sqlite_ledger_write`].
pub(crate) struct LedgerWrite<'a> {
    pub opening: &'a Opening<'a>,
    /// The audit event, given the transaction's id and the redemption id the write may use.
    pub event: &'a (dyn Fn(i64, i64) -> AuditEvent + Sync),
    /// Appends the statements after the transaction row, given the same two ids.
    pub body: &'a (dyn Fn(&mut Sql, i64, i64) + Sync),
    /// Whether the body inserts a redemption under the id it is given.
    pub redemption: bool,
}

/// What [`Store::sqlite_ledger_write`] did.
pub(crate) enum Written {
    /// Written: the transaction's id and the redemption id it was given to use.
    New { tx_id: i64, redemption_id: i64 },
    /// The key was used before by the same actor for the same kind: that transaction's id.
    Replay(i64),
}

/// How a script failed.
enum Failure {
    /// The idempotency key is taken.
    Replay,
    /// What the writer knew was out of date.
    Stale,
    Other(StoreError),
}

impl Store {
    /// Whether the common writes go as one script: on SQLite, unless turned off.
    pub(crate) fn one_script(&self) -> bool {
        self.engine == Engine::Sqlite && !self.script_path.general_only
    }

    /// The same store with SQLite's one-script writes turned off: every ledger write and every
    /// check-in takes the general path, as on PostgreSQL. For comparing what the two paths
    /// write; the store's clones made before keep their own setting.
    #[doc(hidden)]
    pub fn with_general_path_only(mut self) -> Store {
        self.script_path.general_only = true;
        self
    }

    /// The writes this store and its clones committed through SQLite's one-script path.
    #[doc(hidden)]
    pub fn fast_path_writes(&self) -> FastPathWrites {
        let c = &self.script_path.counts;
        FastPathWrites {
            one_trip: c.one_trip.load(Ordering::Relaxed),
            two_trips: c.two_trips.load(Ordering::Relaxed),
            audited: c.audited.load(Ordering::Relaxed),
        }
    }

    /// Writes `w` (see the module's comment). A refused balance or stock comes back as the
    /// database's error, for the caller to answer ([`refused_by_check`]).
    pub(crate) async fn sqlite_ledger_write(&self, actor: &Actor, w: &LedgerWrite<'_>) -> StoreResult<Written> {
        check_idempotency_key(w.opening.key).map_err(|m| StoreError::field("idempotency_key", m))?;
        let mut raw = self.ledger_writer().await?;
        let counts = &self.script_path.counts;
        let outcome = match raw.gate.known.clone() {
            Some(known) if known.next_ids.is_some() => match raw.in_one_trip(actor, w, known).await {
                // Unless the rollback failed, when the connection is closed as `raw` is dropped.
                Err(Failure::Stale) if !raw.open => {
                    raw.gate.forget();
                    raw.in_two_trips(actor, w).await.inspect(|_| {
                        counts.two_trips.fetch_add(1, Ordering::Relaxed);
                    })
                }
                other => other.inspect(|_| {
                    counts.one_trip.fetch_add(1, Ordering::Relaxed);
                }),
            },
            _ => raw.in_two_trips(actor, w).await.inspect(|_| {
                counts.two_trips.fetch_add(1, Ordering::Relaxed);
            }),
        };
        drop(raw);
        match outcome {
            Ok(written) => Ok(written),
            Err(Failure::Replay) => Ok(Written::Replay(
                replayed(&mut *self.pool.acquire().await?, actor, w.opening).await?,
            )),
            Err(Failure::Stale) => Err(StoreError::Config(
                "the ledger write was refused twice as out of date".into(),
            )),
            Err(Failure::Other(e)) => Err(e),
        }
    }

    /// An audited write on SQLite in one round trip: `BEGIN IMMEDIATE`, `body` (whose last
    /// statement must change exactly one row), the audit entry for `event`, `COMMIT`, on the
    /// gate's connection, with the audit head the last write through the gate left. Answers the
    /// rows the body returned, or `None` when it could not be done so — nothing known, another
    /// writer moved the head, or the body's last statement changed no row — and nothing was
    /// written: the caller then writes the general way, which also says why a row was not
    /// changed. (The entry's `prev_hash` is read from the head only after one changed row.)
    pub(crate) async fn sqlite_audited_write(
        &self,
        event: &AuditEvent,
        body: &(dyn Fn(&mut Sql) + Sync),
    ) -> StoreResult<Option<Vec<AnyRow>>> {
        let mut raw = self.ledger_writer().await?;
        let Some(known) = raw.gate.known.clone() else {
            return Ok(None);
        };
        let entry = audit::chained(
            known.audit_seq + 1,
            known.audit_hash.clone(),
            event,
            self.now_text(),
            &self.keys,
        );
        let mut sql = Sql::new("BEGIN IMMEDIATE; ");
        body(&mut sql);
        sql.push("; ");
        audit::push_sqlite_append(&mut sql, &entry, true);
        sql.push("COMMIT");
        raw.open = true;
        let conn = match raw.conn() {
            Ok(conn) => conn,
            Err(_) => return Ok(None),
        };
        match sql.query().fetch_all(conn).await {
            Ok(rows) => {
                raw.open = false;
                raw.gate.known = Some(Known {
                    audit_seq: entry.seq,
                    audit_hash: entry.hash,
                    next_ids: known.next_ids,
                });
                self.script_path.counts.audited.fetch_add(1, Ordering::Relaxed);
                Ok(Some(rows))
            }
            Err(e) => match raw.abandon(e.into()).await {
                Failure::Other(e) if !matches!(&e, StoreError::Database(sqlx::Error::Database(_))) => Err(e),
                _ => {
                    raw.gate.forget();
                    Ok(None)
                }
            },
        }
    }

    /// Queues for the ledger's gate and answers it with the writer's connection, opened when
    /// there is none yet (or the last one was closed).
    ///
    /// The connection is taken from the pool while the gate is *not* held: writers of the
    /// general path hold a pool connection while they queue for the gate, so a gate holder
    /// waiting for the pool could wait for ever.
    async fn ledger_writer(&self) -> StoreResult<Raw> {
        loop {
            let mut gate = self.ledger_gate.clone().lock_owned().await;
            if gate.conn.is_some() {
                return Ok(Raw {
                    gate,
                    at: self.now_text(),
                    keys: self.keys.clone(),
                    open: false,
                });
            }
            drop(gate);
            let conn = self.pool.acquire().await?.detach();
            gate = self.ledger_gate.clone().lock_owned().await;
            if gate.conn.is_none() {
                gate.known = None;
                gate.conn = Some(conn);
                return Ok(Raw {
                    gate,
                    at: self.now_text(),
                    keys: self.keys.clone(),
                    open: false,
                });
            }
            // Another writer opened one meanwhile; this one is closed as it is dropped.
            drop(conn);
        }
    }
}

impl Raw {
    fn conn(&mut self) -> Result<&mut AnyConnection, Failure> {
        self.gate
            .conn
            .as_mut()
            .ok_or_else(|| Failure::Other(StoreError::Config("the ledger writer has no connection".into())))
    }

    /// The whole write as one script, with the ids and the audit head `known`.
    async fn in_one_trip(&mut self, actor: &Actor, w: &LedgerWrite<'_>, known: Known) -> Result<Written, Failure> {
        let (tx_id, redemption_id) = known.next_ids.unwrap_or_default();
        let entry = audit::chained(
            known.audit_seq + 1,
            known.audit_hash.clone(),
            &(w.event)(tx_id, redemption_id),
            self.at.clone(),
            &self.keys,
        );
        let mut sql = Sql::new("BEGIN IMMEDIATE; ");
        push_transaction(&mut sql, Some(tx_id), actor, w.opening);
        sql.push("; ");
        (w.body)(&mut sql, tx_id, redemption_id);
        audit::push_sqlite_append(&mut sql, &entry, false);
        sql.push("COMMIT");
        self.open = true;
        let run = sql.query().execute(self.conn()?).await;
        match run {
            Ok(_) => Ok(self.committed(w, entry, tx_id, redemption_id)),
            Err(e) => Err(self.abandon(e.into()).await),
        }
    }

    /// The write in two scripts: `BEGIN IMMEDIATE`, the transaction row, the audit head moved
    /// on and the next redemption id, read back; then the rest.
    async fn in_two_trips(&mut self, actor: &Actor, w: &LedgerWrite<'_>) -> Result<Written, Failure> {
        let mut sql = Sql::new("BEGIN IMMEDIATE; ");
        push_transaction(&mut sql, None, actor, w.opening);
        sql.push(" RETURNING id AS tx_id; ")
            .push(audit::BUMP_HEAD_SQL)
            .push("; SELECT COALESCE(MAX(id), 0) + 1 AS next_id FROM redemptions");
        self.open = true;
        let read = sql.query().fetch_all(self.conn()?).await;
        let rows = match read {
            Ok(rows) => rows,
            Err(e) => return Err(self.abandon(e.into()).await),
        };
        let (mut tx_id, mut head, mut redemption_id) = (None, None, None);
        for row in &rows {
            if let Ok(id) = row.try_get::<i64, _>("tx_id") {
                tx_id = Some(id);
            } else if let Ok(next) = row.try_get::<i64, _>("next_id") {
                redemption_id = Some(next);
            } else if let (Ok(seq), Ok(hash)) = (row.try_get::<i64, _>("seq"), row.try_get::<String, _>("last_hash")) {
                head = Some((seq, hash));
            }
        }
        let (Some(tx_id), Some((seq, prev)), Some(redemption_id)) = (tx_id, head, redemption_id) else {
            let what = StoreError::Config("the ledger write's first statements answered nothing".into());
            return Err(self.abandon(what).await);
        };
        let entry = audit::chained(seq, prev, &(w.event)(tx_id, redemption_id), self.at.clone(), &self.keys);
        let mut body = Sql::new("");
        (w.body)(&mut body, tx_id, redemption_id);
        audit::push_sqlite_write(&mut body, &entry);
        body.push("COMMIT");
        let run = body.query().execute(self.conn()?).await;
        match run {
            Ok(_) => Ok(self.committed(w, entry, tx_id, redemption_id)),
            Err(e) => Err(self.abandon(e.into()).await),
        }
    }

    /// Notes what a committed points write leaves for the next one.
    fn committed(&mut self, w: &LedgerWrite<'_>, entry: AuditEntry, tx_id: i64, redemption_id: i64) -> Written {
        self.open = false;
        self.gate.known = Some(Known {
            audit_seq: entry.seq,
            audit_hash: entry.hash,
            next_ids: Some((tx_id + 1, redemption_id + i64::from(w.redemption))),
        });
        Written::New { tx_id, redemption_id }
    }

    /// Rolls back after `cause` and says what it was. When the transaction never began
    /// (`BEGIN` itself failed) SQLite says there is nothing to roll back, which is as good.
    async fn abandon(&mut self, cause: StoreError) -> Failure {
        let failure = classify(cause);
        // A repeat and a refused balance or stock say nothing about the ids or the head.
        let still_known = match &failure {
            Failure::Replay => true,
            Failure::Other(e) => refused_by_check(e),
            Failure::Stale => false,
        };
        if !still_known {
            self.gate.forget();
        }
        let rolled = match self.conn() {
            Ok(conn) => sqlx::query("ROLLBACK").execute(conn).await,
            Err(_) => return failure,
        };
        match rolled {
            Ok(_) => self.open = false,
            // A bare `ROLLBACK` refused as a plain SQLITE_ERROR: no transaction was active.
            Err(e) if crate::error::db_failure(&e) == Some(DbFailure::Generic) => self.open = false,
            Err(e) => tracing::error!(error = %e, "rolling back a ledger write failed; the connection is closed"),
        }
        failure
    }
}

/// `INSERT INTO point_transactions …` for `o`, with the id `id` when given. No conflict
/// clause: a used key stops the script.
fn push_transaction(sql: &mut Sql, id: Option<i64>, actor: &Actor, o: &Opening<'_>) {
    sql.push("INSERT INTO point_transactions (");
    if id.is_some() {
        sql.push("id, ");
    }
    sql.push("idempotency_key, scheme_id, kind, source, item, memo, actor_id, created_at, request_digest) VALUES (");
    if let Some(id) = id {
        sql.bind(id).push(", ");
    }
    sql.bind(o.key)
        .push(", ")
        .bind(o.scheme_id)
        .push(", ")
        .bind(o.kind)
        .push(", ")
        .bind(&o.source)
        .push(", ")
        .bind(&o.item)
        .push(", ")
        .bind(&o.memo)
        .push(", ")
        .bind(actor.user_id)
        .push(", ")
        .bind(&o.at)
        .push(", ")
        .bind(&o.digest)
        .push(")");
}

/// What a refused statement of the script means, by the database's code (see the module's
/// comment).
fn classify(e: StoreError) -> Failure {
    match e.db_failure() {
        Some(DbFailure::Unique) => Failure::Replay,
        Some(DbFailure::PrimaryKey | DbFailure::NotNull) => Failure::Stale,
        _ => Failure::Other(e),
    }
}

/// Whether `e` is SQLite refusing a row by a `CHECK` constraint: in the ledger's writes, a
/// holder's balance or an item's stock below zero.
pub(crate) fn refused_by_check(e: &StoreError) -> bool {
    e.db_failure() == Some(DbFailure::Check)
}
