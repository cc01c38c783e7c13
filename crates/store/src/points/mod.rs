//! The points ledger and the points shop (积分超市).
//!
//! - `mod.rs`: schemes (their rules are settings, `domain::points::SchemeRules`), the link from
//!   a user account to a person, the people a ledger writer looks up.
//! - `ledger.rs`: double entry. Every transaction is a set of entries summing to zero, written
//!   with its idempotency key first; entries are only inserted; each account's balance is
//!   changed in the same transaction; no holder goes below zero on either engine (a
//!   conditional `UPDATE … WHERE balance >=` on PostgreSQL, the accounts' `CHECK` on SQLite).
//!   [`Store::credit_points`] is the only way points are issued.
//! - `sqlite_write.rs`: on SQLite, the common writes (an uncapped credit, a redemption) as one
//!   script on the ledger gate's own connection, guarded by the schema's constraints.
//! - `shop.rs`: items with stock at a node, redemption (points and stock taken together),
//!   pick-up, cancellation (both returned).
//! - `views.rs`: a holder's own points, ledger pages, monthly statements, the ledger check.

mod ledger;
mod shop;
mod sqlite_write;
mod views;

use gongjian_domain::access::{Actor, Right};
use gongjian_domain::points::{SchemeKind, SchemeRules};
use gongjian_domain::tree::Name;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use ledger::{Entry, PointTx, TransferInput};
pub use shop::{ItemForm, RedeemInput, Redemption, ShopItem};
pub use sqlite_write::FastPathWrites;
pub(crate) use sqlite_write::{LedgerWriter, ScriptPath};
pub use views::{AccountView, LedgerCheck, LedgerLine, MyPoints, Statement, StatementLine};

use crate::audit::AuditEvent;
use sqlx::AnyConnection;

use crate::db::{Store, Tx};
use crate::error::{StoreError, StoreResult};
use crate::scope;

/// The system accounts every scheme has: points are issued from `issuance`, spent into `shop`
/// and reset into `expiry`. Their balances are the negative of what holders hold.
pub const SYSTEM_ACCOUNTS: [&str; 3] = ["issuance", "shop", "expiry"];

/// A points scheme: where it applies (a node's subtree), its kind and its rules.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Scheme {
    pub id: i64,
    pub node_id: i64,
    pub node_name: String,
    #[serde(skip)]
    pub node_path: String,
    pub name: String,
    pub kind: String,
    #[schema(value_type = Object)]
    pub rules: SchemeRules,
    pub status: String,
    pub created_at: String,
}

impl Scheme {
    pub fn kind_label(&self) -> &'static str {
        SchemeKind::from_key(&self.kind)
            .map(SchemeKind::label_zh)
            .unwrap_or("积分")
    }
}

#[derive(sqlx::FromRow)]
struct SchemeRow {
    id: i64,
    node_id: i64,
    node_name: String,
    node_path: String,
    name: String,
    kind: String,
    rules: String,
    status: String,
    created_at: String,
}

impl TryFrom<SchemeRow> for Scheme {
    type Error = StoreError;
    fn try_from(r: SchemeRow) -> StoreResult<Scheme> {
        let rules = SchemeRules::parse(&r.rules)
            .map_err(|_| StoreError::Config(format!("scheme {} has unreadable rules", r.id)))?;
        Ok(Scheme {
            id: r.id,
            node_id: r.node_id,
            node_name: r.node_name,
            node_path: r.node_path,
            name: r.name,
            kind: r.kind,
            rules,
            status: r.status,
            created_at: r.created_at,
        })
    }
}

const SCHEME_SELECT: &str = "SELECT s.id, s.node_id, n.name AS node_name, n.path AS node_path, s.name, s.kind, \
     s.rules, s.status, s.created_at FROM point_schemes s JOIN nodes n ON n.id = s.node_id";

/// A new scheme as submitted; rules left out take the kind's defaults.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
pub struct SchemeForm {
    #[serde(default)]
    pub name: String,
    /// `volunteer`, `party_member` or `time_bank`.
    #[serde(default)]
    pub kind: String,
    pub node_id: Option<i64>,
    #[schema(value_type = Option<Object>)]
    pub rules: Option<SchemeRules>,
}

/// A person as the ledger sees them: where they live (for scope) and what the rules ask.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct Holder {
    pub id: i64,
    pub name: String,
    pub birth_date: Option<String>,
    pub household: Option<String>,
    pub status: String,
    pub home_node_id: i64,
    pub home_path: String,
}

impl Store {
    /// Creates a scheme at a node with its three system accounts.
    pub async fn create_scheme(&self, actor: &Actor, form: &SchemeForm, client: &str) -> StoreResult<Scheme> {
        let mut v = gongjian_domain::Validation::new();
        let name = v.check("name", Name::parse(&form.name));
        let kind = SchemeKind::from_key(&form.kind);
        if kind.is_none() {
            v.push("kind", "请选择积分类型：居民志愿积分、党员积分或时间银行");
        }
        let node = match form.node_id {
            Some(id) => match self.node(actor, id).await {
                Ok(n) => Some(n),
                Err(_) => {
                    v.push("node_id", "所选节点不存在");
                    None
                }
            },
            None => {
                v.push("node_id", "请选择适用范围");
                None
            }
        };
        let rules = kind.map(|k| form.rules.clone().unwrap_or_else(|| k.default_rules()));
        if let Some(Err(e)) = rules.as_ref().map(SchemeRules::check) {
            for f in e.0 {
                v.push(f.field, f.message);
            }
        }
        v.clone().into_result()?;
        let (Some(name), Some(kind), Some(node), Some(rules)) = (name, kind, node, rules) else {
            return Err(v.into());
        };
        scope::require(actor, Right::ManagePeople, &node.path)?;
        let now = self.now_text();
        let (gate, mut tx) = self.begin_ledger_write().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO point_schemes (node_id, name, kind, rules, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $5) RETURNING id",
        )
        .bind(node.id)
        .bind(name.as_str().to_string())
        .bind(kind.key())
        .bind(rules.to_json())
        .bind(&now)
        .fetch_one(&mut *tx)
        .await?;
        for system in SYSTEM_ACCOUNTS {
            sqlx::query(
                "INSERT INTO point_accounts (scheme_id, holder, node_id, balance, created_at) VALUES ($1, $2, $3, 0, $4)",
            )
            .bind(id)
            .bind(format!("system:{system}"))
            .bind(node.id)
            .bind(&now)
            .execute(&mut *tx)
            .await?;
        }
        self.append_audit(
            &mut tx,
            &AuditEvent::by(actor, "points.scheme.create", format!("point_scheme:{id}"), client)
                .with_detail(rules.to_json()),
        )
        .await?;
        tx.commit().await?;
        drop(gate);
        self.scheme_unchecked(id).await
    }

    pub(crate) async fn scheme_unchecked(&self, id: i64) -> StoreResult<Scheme> {
        let row: SchemeRow = sqlx::query_as(sqlx::AssertSqlSafe(format!("{SCHEME_SELECT} WHERE s.id = $1")))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        row.try_into()
    }

    /// A scheme the actor may see: staff whose scope touches its area, or a holder living in it.
    pub async fn scheme(&self, actor: &Actor, id: i64) -> StoreResult<Scheme> {
        let s = self.scheme_unchecked(id).await?;
        if self.sees_scheme(actor, &s).await? {
            Ok(s)
        } else {
            Err(StoreError::NotFound)
        }
    }

    async fn sees_scheme(&self, actor: &Actor, s: &Scheme) -> StoreResult<bool> {
        if actor.scope(Right::ReadPeople).touches_path(&s.node_path) {
            return Ok(true);
        }
        Ok(match self.own_person(actor).await? {
            Some(p) => p.home_path.starts_with(&s.node_path),
            None => false,
        })
    }

    /// The active schemes the actor may see.
    pub async fn schemes(&self, actor: &Actor) -> StoreResult<Vec<Scheme>> {
        let rows: Vec<SchemeRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "{SCHEME_SELECT} WHERE s.status = 'active' ORDER BY s.id"
        )))
        .fetch_all(&self.pool)
        .await?;
        let own = self.own_person(actor).await?;
        let read = actor.scope(Right::ReadPeople);
        let mut out = Vec::new();
        for r in rows {
            let s = Scheme::try_from(r)?;
            if read.touches_path(&s.node_path) || own.as_ref().is_some_and(|p| p.home_path.starts_with(&s.node_path)) {
                out.push(s);
            }
        }
        Ok(out)
    }

    /// Links a user account to a person's record (a resident redeems and sees points as that
    /// person). Staff who manage the person's residents do it; one account per person.
    pub async fn link_person(&self, actor: &Actor, user_id: i64, person_id: i64, client: &str) -> StoreResult<()> {
        let person = self.holder(person_id).await?;
        scope::require(actor, Right::ReadPeople, &person.home_path)?;
        scope::require(actor, Right::ManagePeople, &person.home_path)?;
        let user = self
            .user(user_id)
            .await
            .map_err(|_| StoreError::field("user_id", "账号不存在"))?;
        let (gate, mut tx) = self.begin_ledger_write().await?;
        sqlx::query("UPDATE users SET person_id = $1, updated_at = $2 WHERE id = $3")
            .bind(person_id)
            .bind(self.now_text())
            .bind(user.id)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::from)
            .map_err(|e| crate::tree::map_unique(e, "person_id", "该居民已关联其他账号"))?;
        self.append_audit(
            &mut tx,
            &AuditEvent::by(actor, "points.link_person", format!("user:{}", user.id), client)
                .with_detail(format!("person:{person_id}")),
        )
        .await?;
        tx.commit().await?;
        drop(gate);
        Ok(())
    }

    /// The person record linked to the actor's account, if any.
    pub(crate) async fn own_person(&self, actor: &Actor) -> StoreResult<Option<Holder>> {
        own_person_on(&mut *self.pool.acquire().await?, actor).await
    }

    pub(crate) async fn holder(&self, person_id: i64) -> StoreResult<Holder> {
        holder_on(&mut *self.pool.acquire().await?, person_id).await
    }

    /// Whom a write acts for: the person given (staff, inside their scope) or the actor's own
    /// linked person. Read on `conn`, the connection the write goes on with.
    pub(crate) async fn acting_holder(
        &self,
        conn: &mut AnyConnection,
        actor: &Actor,
        person_id: Option<i64>,
    ) -> StoreResult<(Holder, bool)> {
        match person_id {
            Some(p) => {
                let h = holder_on(&mut *conn, p)
                    .await
                    .map_err(|_| StoreError::field("person_id", "居民不存在"))?;
                if actor.scope(Right::ManagePeople).contains_path(&h.home_path) {
                    return Ok((h, true));
                }
                if own_person_on(&mut *conn, actor).await?.is_some_and(|o| o.id == p) {
                    return Ok((h, false));
                }
                scope::require(actor, Right::ReadPeople, &h.home_path)
                    .map_err(|_| StoreError::field("person_id", "居民不存在"))?;
                scope::require(actor, Right::ManagePeople, &h.home_path)?;
                Ok((h, true))
            }
            None => match own_person_on(&mut *conn, actor).await? {
                Some(h) => Ok((h, false)),
                None => Err(StoreError::field(
                    "person_id",
                    "账号尚未关联居民信息，请联系社区工作人员",
                )),
            },
        }
    }
}

/// The person record linked to the actor's account, if any.
pub(crate) async fn own_person_on(conn: &mut AnyConnection, actor: &Actor) -> StoreResult<Option<Holder>> {
    Ok(sqlx::query_as(
        "SELECT p.id, p.name, p.birth_date, p.household, p.status, p.home_node_id, n.path AS home_path \
         FROM users u JOIN persons p ON p.id = u.person_id JOIN nodes n ON n.id = p.home_node_id WHERE u.id = $1",
    )
    .bind(actor.user_id)
    .fetch_optional(conn)
    .await?)
}

pub(crate) async fn holder_on(conn: &mut AnyConnection, person_id: i64) -> StoreResult<Holder> {
    sqlx::query_as(
        "SELECT p.id, p.name, p.birth_date, p.household, p.status, p.home_node_id, n.path AS home_path \
         FROM persons p JOIN nodes n ON n.id = p.home_node_id WHERE p.id = $1",
    )
    .bind(person_id)
    .fetch_optional(conn)
    .await?
    .ok_or(StoreError::NotFound)
}

/// What a staff write on a person's points reads before its transaction, in one statement:
/// the scheme, the person (when there is one), the person's account in the scheme and one of
/// the scheme's system accounts (`None` when missing: a holder's account is opened inside the
/// write, [`holder_account`]).
pub(crate) struct Resolved {
    pub scheme: Scheme,
    pub holder: Option<Holder>,
    pub account: Option<i64>,
    pub system: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct ResolvedRow {
    id: i64,
    node_id: i64,
    node_name: String,
    node_path: String,
    name: String,
    kind: String,
    rules: String,
    status: String,
    created_at: String,
    p_id: Option<i64>,
    p_name: Option<String>,
    p_birth_date: Option<String>,
    p_household: Option<String>,
    p_status: Option<String>,
    p_home_node_id: Option<i64>,
    p_home_path: Option<String>,
    account_id: Option<i64>,
    system_id: Option<i64>,
}

/// Reads a scheme, a person, the person's account and the scheme's system account `system` in
/// one statement (no scope check: callers check). A scheme that does not exist is
/// [`StoreError::NotFound`]; a person who does not exist is `holder: None`.
pub(crate) async fn resolve(
    conn: &mut AnyConnection,
    scheme_id: i64,
    person_id: i64,
    system: &str,
) -> StoreResult<Resolved> {
    let r: ResolvedRow = sqlx::query_as(
        "SELECT s.id, s.node_id, n.name AS node_name, n.path AS node_path, s.name, s.kind, s.rules, s.status, \
         s.created_at, p.id AS p_id, p.name AS p_name, p.birth_date AS p_birth_date, p.household AS p_household, \
         p.status AS p_status, p.home_node_id AS p_home_node_id, pn.path AS p_home_path, \
         (SELECT a.id FROM point_accounts a WHERE a.scheme_id = s.id AND a.holder = $3) AS account_id, \
         (SELECT a.id FROM point_accounts a WHERE a.scheme_id = s.id AND a.holder = $4) AS system_id \
         FROM point_schemes s JOIN nodes n ON n.id = s.node_id \
         LEFT JOIN persons p ON p.id = $2 LEFT JOIN nodes pn ON pn.id = p.home_node_id \
         WHERE s.id = $1",
    )
    .bind(scheme_id)
    .bind(person_id)
    .bind(format!("person:{person_id}"))
    .bind(format!("system:{system}"))
    .fetch_optional(conn)
    .await?
    .ok_or(StoreError::NotFound)?;
    let holder = match (r.p_id, r.p_name, r.p_status, r.p_home_node_id, r.p_home_path) {
        (Some(id), Some(name), Some(status), Some(home_node_id), Some(home_path)) => Some(Holder {
            id,
            name,
            birth_date: r.p_birth_date,
            household: r.p_household,
            status,
            home_node_id,
            home_path,
        }),
        _ => None,
    };
    let scheme = Scheme::try_from(SchemeRow {
        id: r.id,
        node_id: r.node_id,
        node_name: r.node_name,
        node_path: r.node_path,
        name: r.name,
        kind: r.kind,
        rules: r.rules,
        status: r.status,
        created_at: r.created_at,
    })?;
    Ok(Resolved {
        scheme,
        holder,
        account: r.account_id,
        system: r.system_id,
    })
}

impl Store {
    /// The id of a person's account in a scheme, opened when missing. Accounts are never
    /// removed nor moved, so writers look them up before their transaction starts.
    pub(crate) async fn account_of(&self, scheme_id: i64, h: &Holder) -> StoreResult<i64> {
        let found: Option<i64> =
            sqlx::query_scalar("SELECT id FROM point_accounts WHERE scheme_id = $1 AND holder = $2")
                .bind(scheme_id)
                .bind(format!("person:{}", h.id))
                .fetch_optional(&self.pool)
                .await?;
        if let Some(id) = found {
            return Ok(id);
        }
        let (gate, mut tx) = self.begin_ledger_write().await?;
        let id = holder_account(&mut tx, &self.now_text(), scheme_id, h).await?;
        tx.commit().await?;
        drop(gate);
        Ok(id)
    }

    /// The id of a scheme's system account (see [`Store::account_of`]).
    pub(crate) async fn system_account_of(&self, scheme_id: i64, name: &str) -> StoreResult<i64> {
        sqlx::query_scalar("SELECT id FROM point_accounts WHERE scheme_id = $1 AND holder = $2")
            .bind(scheme_id)
            .bind(format!("system:{name}"))
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::Config(format!("scheme {scheme_id} has no {name} account")))
    }
}

/// The id of a scheme's system account.
pub(crate) async fn system_account(tx: &mut Tx, scheme_id: i64, name: &str) -> StoreResult<i64> {
    sqlx::query_scalar("SELECT id FROM point_accounts WHERE scheme_id = $1 AND holder = $2")
        .bind(scheme_id)
        .bind(format!("system:{name}"))
        .fetch_optional(&mut **tx)
        .await?
        .ok_or_else(|| StoreError::Config(format!("scheme {scheme_id} has no {name} account")))
}

/// The id of a person's account in a scheme, opened at the person's home node when missing.
pub(crate) async fn holder_account(tx: &mut Tx, at: &str, scheme_id: i64, h: &Holder) -> StoreResult<i64> {
    let holder = format!("person:{}", h.id);
    let found: Option<i64> = sqlx::query_scalar("SELECT id FROM point_accounts WHERE scheme_id = $1 AND holder = $2")
        .bind(scheme_id)
        .bind(&holder)
        .fetch_optional(&mut **tx)
        .await?;
    if let Some(id) = found {
        return Ok(id);
    }
    sqlx::query(
        "INSERT INTO point_accounts (scheme_id, holder, person_id, node_id, balance, created_at) \
         VALUES ($1, $2, $3, $4, 0, $5) ON CONFLICT (scheme_id, holder) DO NOTHING",
    )
    .bind(scheme_id)
    .bind(&holder)
    .bind(h.id)
    .bind(h.home_node_id)
    .bind(at)
    .execute(&mut **tx)
    .await?;
    Ok(
        sqlx::query_scalar("SELECT id FROM point_accounts WHERE scheme_id = $1 AND holder = $2")
            .bind(scheme_id)
            .bind(&holder)
            .fetch_one(&mut **tx)
            .await?,
    )
}
