//! Double entry. A transaction row is inserted first, under its unique idempotency key; a key
//! seen before answers with the stored transaction and writes nothing. Then every account's
//! balance moves with its entry in the same database transaction: holders' accounts first, then
//! system accounts, each group in id order (one lock order for every kind of transaction, so
//! PostgreSQL never deadlocks), and a holder's debit is the conditional
//! `UPDATE … SET balance = balance + amount WHERE id = $ AND balance >= -amount`, whose row
//! count says whether the holder had enough — on SQLite inside `BEGIN IMMEDIATE`, on PostgreSQL
//! with the row locked by the update itself. Entries are never updated or deleted.

use chrono::{Datelike, TimeZone};
use gongjian_domain::access::{Actor, Right};
use gongjian_domain::points::{CreditSource, Points, check_idempotency_key};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use sqlx::AnyConnection;

use super::sqlite_write::{LedgerWrite, Written};
use super::{Holder, holder_account, own_person_on, resolve, system_account};
use crate::audit::AuditEvent;
use crate::db::{Engine, Store, Tx};
use crate::error::{StoreError, StoreResult};
use crate::scope;
use crate::sql::Sql;

/// One stored transaction with its entries.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PointTx {
    pub id: i64,
    pub idempotency_key: String,
    pub scheme_id: i64,
    /// `credit`, `deduct`, `redeem`, `cancel`, `transfer`, `donate`, `reset`.
    pub kind: String,
    pub source: String,
    pub item: String,
    pub memo: String,
    pub actor_id: Option<i64>,
    pub created_at: String,
    pub entries: Vec<Entry>,
}

#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct Entry {
    pub account_id: i64,
    /// `person:ID` or `system:issuance|shop|expiry`.
    pub holder: String,
    pub person_name: Option<String>,
    pub amount: i64,
}

#[derive(sqlx::FromRow)]
struct TxRow {
    id: i64,
    idempotency_key: String,
    scheme_id: i64,
    kind: String,
    source: String,
    item: String,
    memo: String,
    actor_id: Option<i64>,
    created_at: String,
}

/// A holder giving points to another person (a relative, or a donation).
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
pub struct TransferInput {
    pub scheme_id: i64,
    pub to_person_id: i64,
    pub amount: i64,
    /// A donation (to anyone in the scheme) rather than a transfer to a relative.
    #[serde(default)]
    pub donation: bool,
    #[serde(default)]
    pub memo: String,
}

/// What a transaction is, before its key is claimed.
pub(crate) struct Opening<'a> {
    pub key: &'a str,
    pub scheme_id: i64,
    pub kind: &'a str,
    pub source: String,
    pub item: String,
    pub memo: String,
    /// The transaction's instant, as stored (`created_at`).
    pub at: String,
    /// What the request asked for ([`request_digest`]), stored with the key: a later request
    /// under the key replays this one only when it asked for the same.
    pub digest: String,
}

/// The digest of what a request asks for: SHA-256 over the parsed write's meaningful fields —
/// whom, which scheme, how much, from what source, which item — given as a JSON object (its
/// keys sorted), never over the request's bytes, so the same request sent with its fields in
/// another order or with other spacing is the same request.
pub(crate) fn request_digest(content: serde_json::Value) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(content.to_string().as_bytes()))
}

/// The answer to a used idempotency key sent with a request other than the one it was first
/// used for (another content, kind or actor).
pub(crate) fn key_conflict() -> StoreError {
    StoreError::Conflict("该 Idempotency-Key 已用于另一请求，本次请求未执行；新的请求请使用新的 Idempotency-Key".into())
}

impl Opening<'_> {
    /// The transaction as [`Store::point_tx`] reads it back, from what was written: its row and
    /// its entries as [`post`] wrote them, each with its holder's label and name.
    pub fn written(&self, id: i64, actor: &Actor, legs: &[Leg], names: &[(i64, String, Option<String>)]) -> PointTx {
        PointTx {
            id,
            idempotency_key: self.key.to_string(),
            scheme_id: self.scheme_id,
            kind: self.kind.to_string(),
            source: self.source.clone(),
            item: self.item.clone(),
            memo: self.memo.clone(),
            actor_id: Some(actor.user_id),
            created_at: self.at.clone(),
            entries: legs
                .iter()
                .map(|l| {
                    let (holder, person_name) = names
                        .iter()
                        .find(|n| n.0 == l.account)
                        .map(|n| (n.1.clone(), n.2.clone()))
                        .unwrap_or_default();
                    Entry {
                        account_id: l.account,
                        holder,
                        person_name,
                        amount: l.amount,
                    }
                })
                .collect(),
        }
    }
}

/// How a holder's entry is labelled: `person:ID` and the person's name.
pub(crate) fn person_label(account: i64, h: &Holder) -> (i64, String, Option<String>) {
    (account, format!("person:{}", h.id), Some(h.name.clone()))
}

/// How a system account's entry is labelled: `system:NAME`.
pub(crate) fn system_label(account: i64, name: &str) -> (i64, String, Option<String>) {
    (account, format!("system:{name}"), None)
}

pub(crate) enum Opened {
    New(i64),
    /// The key was used before by the same actor for the same kind: the stored transaction.
    Replay(i64),
}

/// One entry to post.
pub(crate) struct Leg {
    pub account: i64,
    pub amount: i64,
    /// A person's account, which may not go below zero.
    pub holder: bool,
}

/// Claims the idempotency key by inserting the transaction row.
pub(crate) async fn open(tx: &mut Tx, actor: &Actor, o: &Opening<'_>) -> StoreResult<Opened> {
    check_idempotency_key(o.key).map_err(|m| StoreError::field("idempotency_key", m))?;
    let id: Option<i64> = sqlx::query_scalar(
        "INSERT INTO point_transactions (idempotency_key, scheme_id, kind, source, item, memo, actor_id, created_at, \
         request_digest) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
    )
    .bind(o.key)
    .bind(o.scheme_id)
    .bind(o.kind)
    .bind(&o.source)
    .bind(&o.item)
    .bind(&o.memo)
    .bind(actor.user_id)
    .bind(&o.at)
    .bind(&o.digest)
    .fetch_optional(&mut **tx)
    .await?;
    if let Some(id) = id {
        return Ok(Opened::New(id));
    }
    replayed(tx, actor, o).await.map(Opened::Replay)
}

/// The transaction stored under `o.key`, when it was the same actor's, of the same kind and
/// asked for the same (its digest; a row from before digests were kept has none and is not
/// compared on it): a repeated request answers with it. Any other request under the key is a
/// [`StoreError::Conflict`].
pub(crate) async fn replayed(conn: &mut AnyConnection, actor: &Actor, o: &Opening<'_>) -> StoreResult<i64> {
    let (id, kind, by, digest): (i64, String, Option<i64>, String) =
        sqlx::query_as("SELECT id, kind, actor_id, request_digest FROM point_transactions WHERE idempotency_key = $1")
            .bind(o.key)
            .fetch_one(&mut *conn)
            .await?;
    if kind != o.kind || by != Some(actor.user_id) || (!digest.is_empty() && digest != o.digest) {
        return Err(key_conflict());
    }
    Ok(id)
}

/// Posts balanced entries and moves the balances (see the module's comment for the order).
/// Returns the entries in the order they were inserted (that of their ids), zero legs left out.
pub(crate) async fn post(tx: &mut Tx, engine: Engine, tx_id: i64, legs: Vec<Leg>) -> StoreResult<Vec<Leg>> {
    let legs = balanced(tx_id, legs)?;
    if engine == Engine::Sqlite {
        let mut sql = Sql::new("");
        push_sqlite_postings(&mut sql, tx_id, &legs);
        sql.query()
            .execute(&mut **tx)
            .await
            .map_err(|e| short_of_points(e.into()))?;
        return Ok(legs);
    }
    for l in &legs {
        let done = if l.holder && l.amount < 0 {
            sqlx::query("UPDATE point_accounts SET balance = balance + $1 WHERE id = $2 AND balance >= $3")
                .bind(l.amount)
                .bind(l.account)
                .bind(-l.amount)
                .execute(&mut **tx)
                .await?
        } else {
            sqlx::query("UPDATE point_accounts SET balance = balance + $1 WHERE id = $2")
                .bind(l.amount)
                .bind(l.account)
                .execute(&mut **tx)
                .await?
        };
        if done.rows_affected() != 1 {
            return Err(StoreError::field("points", "积分不足"));
        }
    }
    let mut sql = Sql::new("");
    push_entries(&mut sql, tx_id, &legs);
    sql.query().execute(&mut **tx).await?;
    Ok(legs)
}

/// The legs to post, once they are seen to sum to zero: zero legs left out, holders' accounts
/// first, then system accounts, each group in id order.
pub(crate) fn balanced(tx_id: i64, mut legs: Vec<Leg>) -> StoreResult<Vec<Leg>> {
    if legs.iter().map(|l| l.amount).sum::<i64>() != 0 {
        return Err(StoreError::Config(format!("transaction {tx_id} does not balance")));
    }
    legs.retain(|l| l.amount != 0);
    legs.sort_by_key(|l| (!l.holder, l.account));
    Ok(legs)
}

/// [`post`]'s statements for SQLite, as part of one script (its numbered parameters shared by
/// all its statements). The writer holds SQLite's write lock (`BEGIN IMMEDIATE`), so nothing
/// runs between them. A holder's debit needs no condition: `point_accounts` refuses a
/// holder's balance below zero (`CHECK (person_id IS NULL OR balance >= 0)`), which stops the
/// script, and every entry's foreign key names an account that exists.
pub(crate) fn push_sqlite_postings(sql: &mut Sql, tx_id: i64, legs: &[Leg]) {
    for l in legs {
        sql.push("UPDATE point_accounts SET balance = balance + ")
            .bind(l.amount)
            .push(" WHERE id = ")
            .bind(l.account)
            .push("; ");
    }
    push_entries(sql, tx_id, legs);
    sql.push("; ");
}

/// A holder's balance refused below zero, as the field error it is.
pub(crate) fn short_of_points(e: StoreError) -> StoreError {
    if super::sqlite_write::refused_by_check(&e) {
        StoreError::field("points", "积分不足")
    } else {
        e
    }
}

fn push_entries(sql: &mut Sql, tx_id: i64, legs: &[Leg]) {
    sql.push("INSERT INTO point_entries (transaction_id, account_id, amount) VALUES ");
    for (i, l) in legs.iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.push("(")
            .bind(tx_id)
            .push(", ")
            .bind(l.account)
            .push(", ")
            .bind(l.amount)
            .push(")");
    }
}

/// The first instant of the current year in China (UTC+8), as stored text.
fn year_start(now: chrono::DateTime<chrono::Utc>) -> String {
    let Some(cn) = chrono::FixedOffset::east_opt(8 * 3600) else {
        return crate::time_text(now);
    };
    let now = now.with_timezone(&cn);
    let start = cn
        .with_ymd_and_hms(now.year(), 1, 1, 0, 0, 0)
        .single()
        .map(|t| t.with_timezone(&chrono::Utc))
        .unwrap_or_else(chrono::Utc::now);
    crate::time_text(start)
}

impl Store {
    /// Issues points to a person: the only way points come into being. Hours, orders and awards
    /// all come through here; `key` makes a repeated call (the same hours, the same order)
    /// answer with the first transaction and write nothing. The scheme's storage cap and the
    /// item's yearly cap are checked with the holder's account locked.
    ///
    /// The scheme, the person and both accounts are read in one statement before the write;
    /// the answer is built from what was written, not read back.
    #[allow(clippy::too_many_arguments)]
    pub async fn credit_points(
        &self,
        actor: &Actor,
        source: &CreditSource,
        person_id: i64,
        scheme_id: i64,
        amount: Points,
        key: &str,
        client: &str,
    ) -> StoreResult<PointTx> {
        let mut conn = self.pool.acquire().await?;
        let (scheme, h, account, issuance) = self
            .staff_write(&mut conn, actor, scheme_id, person_id, "issuance")
            .await?;
        let amount = amount.get();
        let capped = scheme.rules.storage_cap.is_some() || scheme.rules.cap_of(source.item()).is_some();
        let opening = Opening {
            key,
            scheme_id,
            kind: "credit",
            source: source.reference(),
            item: source.item().to_string(),
            memo: String::new(),
            at: self.now_text(),
            digest: request_digest(serde_json::json!({
                "person": h.id,
                "scheme": scheme_id,
                "amount": amount,
                "source": source.reference(),
                "item": source.item(),
            })),
        };
        let audit = |id: i64| {
            AuditEvent::by(actor, "points.credit", format!("point_tx:{id}"), client).with_detail(format!(
                "person:{} +{amount} {}",
                h.id,
                source.reference()
            ))
        };
        let issue = |account: i64| {
            vec![
                Leg {
                    account,
                    amount,
                    holder: true,
                },
                Leg {
                    account: issuance,
                    amount: -amount,
                    holder: false,
                },
            ]
        };
        let labels = |account: i64| [person_label(account, &h), system_label(issuance, "issuance")];
        if self.one_script()
            && !capped
            && let Some(account) = account
        {
            // Nothing to read under the lock: one round trip (see `sqlite_write`).
            drop(conn);
            let legs = balanced(0, issue(account))?;
            let write = LedgerWrite {
                opening: &opening,
                event: &|id, _| audit(id),
                body: &|sql, id, _| push_sqlite_postings(sql, id, &legs),
                redemption: false,
            };
            let id = match self.sqlite_ledger_write(actor, &write).await.map_err(short_of_points)? {
                Written::Replay(id) => return self.point_tx(id).await,
                Written::New { tx_id, .. } => tx_id,
            };
            return Ok(opening.written(id, actor, &legs, &labels(account)));
        }
        let (gate, mut tx) = self.begin_ledger_write_on(conn).await?;
        let id = match open(&mut tx, actor, &opening).await? {
            Opened::Replay(id) => {
                drop(tx);
                drop(gate);
                return self.point_tx(id).await;
            }
            Opened::New(id) => id,
        };
        let account = match account {
            Some(a) => a,
            None => holder_account(&mut tx, &self.now_text(), scheme_id, &h).await?,
        };
        // Caps are checked with the holder's row locked; without caps nothing needs reading.
        let balance = if capped {
            self.lock_balance(&mut tx, account).await?
        } else {
            0
        };
        if let Some(cap) = scheme.rules.storage_cap
            && balance + amount > cap
        {
            return Err(StoreError::field(
                "amount",
                format!("超过存储上限 {cap}（现有 {balance}）"),
            ));
        }
        if let Some(cap) = scheme.rules.cap_of(source.item()) {
            let used: i64 = sqlx::query_scalar(
                "SELECT CAST(COALESCE(SUM(e.amount), 0) AS BIGINT) FROM point_entries e \
                 JOIN point_transactions t ON t.id = e.transaction_id \
                 WHERE e.account_id = $1 AND t.kind = 'credit' AND t.item = $2 AND t.created_at >= $3",
            )
            .bind(account)
            .bind(source.item())
            .bind(year_start(self.now()))
            .fetch_one(&mut *tx)
            .await?;
            if used + amount > cap {
                return Err(StoreError::field(
                    "amount",
                    format!("“{}”本年度封顶 {cap} 分，已得 {used} 分", source.item()),
                ));
            }
        }
        let legs = post(&mut tx, self.engine, id, issue(account)).await?;
        self.append_audit(&mut tx, &audit(id)).await?;
        tx.commit().await?;
        drop(gate);
        Ok(opening.written(id, actor, &legs, &labels(account)))
    }

    /// Deducts points from a person (party-member points' 扣分). The balance stops at zero: a
    /// deduction larger than the balance takes what there is.
    #[allow(clippy::too_many_arguments)]
    pub async fn deduct_points(
        &self,
        actor: &Actor,
        person_id: i64,
        scheme_id: i64,
        amount: Points,
        item: &str,
        key: &str,
        client: &str,
    ) -> StoreResult<PointTx> {
        let mut conn = self.pool.acquire().await?;
        let (_, h, account, issuance) = self
            .staff_write(&mut conn, actor, scheme_id, person_id, "issuance")
            .await?;
        let item = gongjian_domain::ids::normalize_cell(item);
        if item.is_empty() || item.chars().count() > 40 {
            return Err(StoreError::field("item", "请填写扣分事项（最多 40 个字符）"));
        }
        let opening = Opening {
            key,
            scheme_id,
            kind: "deduct",
            source: String::new(),
            item: item.clone(),
            memo: String::new(),
            at: self.now_text(),
            // The amount asked for, not the amount taken (which the balance decides).
            digest: request_digest(serde_json::json!({
                "person": h.id,
                "scheme": scheme_id,
                "amount": amount.get(),
                "item": item,
            })),
        };
        let (gate, mut tx) = self.begin_ledger_write_on(conn).await?;
        let id = match open(&mut tx, actor, &opening).await? {
            Opened::Replay(id) => {
                drop(tx);
                drop(gate);
                return self.point_tx(id).await;
            }
            Opened::New(id) => id,
        };
        let account = match account {
            Some(a) => a,
            None => holder_account(&mut tx, &self.now_text(), scheme_id, &h).await?,
        };
        let balance = self.lock_balance(&mut tx, account).await?;
        let take = amount.get().min(balance);
        if take == 0 {
            return Err(StoreError::field("amount", "积分已为 0，不能再扣减"));
        }
        let legs = post(
            &mut tx,
            self.engine,
            id,
            vec![
                Leg {
                    account,
                    amount: -take,
                    holder: true,
                },
                Leg {
                    account: issuance,
                    amount: take,
                    holder: false,
                },
            ],
        )
        .await?;
        self.append_audit(
            &mut tx,
            &AuditEvent::by(actor, "points.deduct", format!("point_tx:{id}"), client)
                .with_detail(format!("person:{} -{take} {item}", h.id)),
        )
        .await?;
        tx.commit().await?;
        drop(gate);
        Ok(opening.written(
            id,
            actor,
            &legs,
            &[person_label(account, &h), system_label(issuance, "issuance")],
        ))
    }

    /// A holder gives points to a relative (same household) or donates them, as the scheme allows.
    pub async fn transfer_points(
        &self,
        actor: &Actor,
        input: &TransferInput,
        key: &str,
        client: &str,
    ) -> StoreResult<PointTx> {
        let from = self
            .own_person(actor)
            .await?
            .ok_or_else(|| StoreError::field("person_id", "账号尚未关联居民信息，请联系社区工作人员"))?;
        let scheme = self.scheme(actor, input.scheme_id).await?;
        let amount = Points::new(input.amount)
            .map_err(|m| StoreError::field("amount", m))?
            .get();
        let to = self
            .holder(input.to_person_id)
            .await
            .map_err(|_| StoreError::field("to_person_id", "受让人不存在"))?;
        if to.id == from.id || !to.home_path.starts_with(&scheme.node_path) || to.status != "active" {
            return Err(StoreError::field("to_person_id", "受让人须为本积分范围内的其他居民"));
        }
        let kind = if input.donation {
            if !scheme.rules.donation {
                return Err(StoreError::field("donation", "本积分不允许捐赠"));
            }
            "donate"
        } else {
            let relatives = from
                .household
                .as_deref()
                .is_some_and(|f| !f.is_empty() && Some(f) == to.household.as_deref());
            if !scheme.rules.transfer_to_relatives {
                return Err(StoreError::field("to_person_id", "本积分不允许转让"));
            }
            if !relatives {
                return Err(StoreError::field("to_person_id", "只能转让给同户亲属"));
            }
            "transfer"
        };
        let memo: String = gongjian_domain::ids::normalize_cell(&input.memo)
            .chars()
            .take(200)
            .collect();
        let a = self.account_of(scheme.id, &from).await?;
        let b = self.account_of(scheme.id, &to).await?;
        let (gate, mut tx) = self.begin_ledger_write().await?;
        let id = match open(
            &mut tx,
            actor,
            &Opening {
                key,
                scheme_id: scheme.id,
                kind,
                source: format!("person:{}", to.id),
                item: String::new(),
                digest: request_digest(serde_json::json!({
                    "scheme": scheme.id,
                    "to": to.id,
                    "amount": amount,
                    "donation": input.donation,
                    "memo": memo,
                })),
                memo,
                at: self.now_text(),
            },
        )
        .await?
        {
            Opened::Replay(id) => {
                drop(tx);
                drop(gate);
                return self.point_tx(id).await;
            }
            Opened::New(id) => id,
        };
        // Both rows locked in id order, as `post` would take them.
        let (first, second) = if a < b { (a, b) } else { (b, a) };
        let x = self.lock_balance(&mut tx, first).await?;
        let y = self.lock_balance(&mut tx, second).await?;
        let to_balance = if b == second { y } else { x };
        if let Some(cap) = scheme.rules.storage_cap
            && to_balance + amount > cap
        {
            return Err(StoreError::field("amount", format!("受让人将超过存储上限 {cap}")));
        }
        post(
            &mut tx,
            self.engine,
            id,
            vec![
                Leg {
                    account: a,
                    amount: -amount,
                    holder: true,
                },
                Leg {
                    account: b,
                    amount,
                    holder: true,
                },
            ],
        )
        .await?;
        self.append_audit(
            &mut tx,
            &AuditEvent::by(actor, &format!("points.{kind}"), format!("point_tx:{id}"), client)
                .with_detail(format!("person:{} -> person:{} {amount}", from.id, to.id)),
        )
        .await?;
        tx.commit().await?;
        drop(gate);
        self.point_tx(id).await
    }

    /// Moves every holder's balance of a scheme with a yearly reset to its expiry account, once
    /// per year (the key is the scheme and year).
    pub async fn reset_points_year(
        &self,
        actor: &Actor,
        scheme_id: i64,
        year: i32,
        client: &str,
    ) -> StoreResult<PointTx> {
        let scheme = self.scheme(actor, scheme_id).await?;
        scope::require(actor, Right::ManagePeople, &scheme.node_path)?;
        if !scheme.rules.yearly_reset {
            return Err(StoreError::field("year", "本积分不按年清零"));
        }
        let key = format!("reset:{scheme_id}:{year}");
        let (gate, mut tx) = self.begin_ledger_write().await?;
        let id = match open(
            &mut tx,
            actor,
            &Opening {
                key: &key,
                scheme_id,
                kind: "reset",
                source: String::new(),
                item: year.to_string(),
                memo: String::new(),
                at: self.now_text(),
                digest: request_digest(serde_json::json!({"scheme": scheme_id, "year": year})),
            },
        )
        .await?
        {
            Opened::Replay(id) => {
                drop(tx);
                drop(gate);
                return self.point_tx(id).await;
            }
            Opened::New(id) => id,
        };
        let rows: Vec<(i64, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT id, balance FROM point_accounts WHERE scheme_id = $1 AND person_id IS NOT NULL AND balance > 0 \
             ORDER BY id{}",
            self.engine.row_lock_suffix()
        )))
        .bind(scheme_id)
        .fetch_all(&mut *tx)
        .await?;
        let total: i64 = rows.iter().map(|r| r.1).sum();
        let expiry = system_account(&mut tx, scheme_id, "expiry").await?;
        let mut legs: Vec<Leg> = rows
            .iter()
            .map(|(a, b)| Leg {
                account: *a,
                amount: -b,
                holder: true,
            })
            .collect();
        legs.push(Leg {
            account: expiry,
            amount: total,
            holder: false,
        });
        post(&mut tx, self.engine, id, legs).await?;
        self.append_audit(
            &mut tx,
            &AuditEvent::by(actor, "points.reset", format!("point_tx:{id}"), client).with_detail(format!(
                "scheme:{scheme_id} year {year}: {} accounts, {total}",
                rows.len()
            )),
        )
        .await?;
        tx.commit().await?;
        drop(gate);
        self.point_tx(id).await
    }

    /// Checks common to staff writes on a person's points: the scheme is active, the person is
    /// an active resident in the scheme's area, and the actor manages that person's residents.
    /// Returns the scheme, the person, the person's account (`None` until opened) and the
    /// scheme's system account `system`, all read in one statement on `conn`, the connection
    /// the write then goes on.
    async fn staff_write(
        &self,
        conn: &mut AnyConnection,
        actor: &Actor,
        scheme_id: i64,
        person_id: i64,
        system: &str,
    ) -> StoreResult<(super::Scheme, Holder, Option<i64>, i64)> {
        let r = resolve(&mut *conn, scheme_id, person_id, system).await?;
        // As `sees_scheme`, on this connection (the writer holds no second one).
        let sees = actor.scope(Right::ReadPeople).touches_path(&r.scheme.node_path)
            || own_person_on(&mut *conn, actor)
                .await?
                .is_some_and(|p| p.home_path.starts_with(&r.scheme.node_path));
        if !sees {
            return Err(StoreError::NotFound);
        }
        let scheme = r.scheme;
        if scheme.status != "active" {
            return Err(StoreError::field("scheme_id", "积分方案已停用"));
        }
        let h = r.holder.ok_or_else(|| StoreError::field("person_id", "居民不存在"))?;
        scope::require(actor, Right::ReadPeople, &h.home_path)
            .map_err(|_| StoreError::field("person_id", "居民不存在"))?;
        scope::require(actor, Right::ManagePeople, &h.home_path)?;
        if !h.home_path.starts_with(&scheme.node_path) {
            return Err(StoreError::field("person_id", "该居民不在此积分的适用范围内"));
        }
        if h.status != "active" {
            return Err(StoreError::field("person_id", "该居民尚未确认登记"));
        }
        let system = r
            .system
            .ok_or_else(|| StoreError::Config(format!("scheme {scheme_id} has no {system} account")))?;
        Ok((scheme, h, r.account, system))
    }

    /// Reads an account's balance, locking the row on PostgreSQL until the transaction ends.
    async fn lock_balance(&self, tx: &mut Tx, account: i64) -> StoreResult<i64> {
        Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT balance FROM point_accounts WHERE id = $1{}",
            self.engine.row_lock_suffix()
        )))
        .bind(account)
        .fetch_one(&mut **tx)
        .await?)
    }

    /// One transaction with its entries (no scope check: callers have checked).
    pub(crate) async fn point_tx(&self, id: i64) -> StoreResult<PointTx> {
        let t: TxRow = sqlx::query_as(
            "SELECT id, idempotency_key, scheme_id, kind, source, item, memo, actor_id, created_at \
             FROM point_transactions WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?;
        let entries: Vec<Entry> = sqlx::query_as(
            "SELECT e.account_id, a.holder, p.name AS person_name, e.amount FROM point_entries e \
             JOIN point_accounts a ON a.id = e.account_id LEFT JOIN persons p ON p.id = a.person_id \
             WHERE e.transaction_id = $1 ORDER BY e.id",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        Ok(PointTx {
            id: t.id,
            idempotency_key: t.idempotency_key,
            scheme_id: t.scheme_id,
            kind: t.kind,
            source: t.source,
            item: t.item,
            memo: t.memo,
            actor_id: t.actor_id,
            created_at: t.created_at,
            entries,
        })
    }
}
