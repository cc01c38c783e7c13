//! Reading the ledger: a holder's own points, ledger pages inside the reader's scope, the
//! monthly statement of a shop, and the check that the books balance.

use chrono::TimeZone;
use gongjian_domain::access::{Actor, Right};
use serde::Serialize;
use utoipa::ToSchema;

use super::shop::{REDEMPTION_SELECT, Redemption};
use crate::db::Store;
use crate::error::{StoreError, StoreResult};
use crate::sql::Sql;
use crate::{Page, scope};

#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct AccountView {
    pub account_id: i64,
    pub scheme_id: i64,
    pub scheme_name: String,
    pub balance: i64,
}

/// One entry with its transaction, as ledger pages and exports show it.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct LedgerLine {
    pub entry_id: i64,
    pub transaction_id: i64,
    pub created_at: String,
    pub kind: String,
    pub source: String,
    pub item: String,
    pub memo: String,
    pub scheme_name: String,
    pub holder: String,
    pub person_name: Option<String>,
    pub node_name: String,
    pub amount: i64,
}

impl LedgerLine {
    pub fn kind_label(&self) -> &'static str {
        match self.kind.as_str() {
            "credit" => "发放",
            "deduct" => "扣减",
            "redeem" => "兑换",
            "cancel" => "取消兑换",
            "transfer" => "转让",
            "donate" => "捐赠",
            "reset" => "年度清零",
            _ => "其他",
        }
    }

    pub fn holder_label(&self) -> String {
        match (&self.person_name, self.holder.as_str()) {
            (Some(n), _) => n.clone(),
            (None, "system:issuance") => "发放账户".into(),
            (None, "system:shop") => "积分超市账户".into(),
            (None, "system:expiry") => "清零账户".into(),
            (None, h) => h.to_string(),
        }
    }
}

const LINE_SELECT: &str = "SELECT e.id AS entry_id, t.id AS transaction_id, t.created_at, t.kind, t.source, t.item, \
     t.memo, s.name AS scheme_name, a.holder, p.name AS person_name, n.name AS node_name, e.amount \
     FROM point_entries e JOIN point_transactions t ON t.id = e.transaction_id \
     JOIN point_accounts a ON a.id = e.account_id JOIN point_schemes s ON s.id = a.scheme_id \
     JOIN nodes n ON n.id = a.node_id LEFT JOIN persons p ON p.id = a.person_id";

/// A holder's own view: balances per scheme, recent entries, redemptions.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MyPoints {
    pub person_id: Option<i64>,
    pub person_name: Option<String>,
    pub accounts: Vec<AccountView>,
    pub entries: Vec<LedgerLine>,
    pub redemptions: Vec<Redemption>,
}

/// One item's month in a shop.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct StatementLine {
    pub item_id: i64,
    pub item_name: String,
    pub node_name: String,
    pub price: i64,
    pub stock: i64,
    pub redemptions: i64,
    pub reserved: i64,
    pub picked_up: i64,
    pub cancelled: i64,
    /// Points taken by the redemptions that were not cancelled.
    pub points: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Statement {
    pub node_id: i64,
    pub node_name: String,
    /// `YYYY-MM`, China time.
    pub month: String,
    pub lines: Vec<StatementLine>,
    pub total_points: i64,
}

/// Whether the books balance: every figure should be zero.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct LedgerCheck {
    /// The sum of every entry ever written.
    pub entries_total: i64,
    /// The sum of every account's balance.
    pub balances_total: i64,
    /// Transactions whose entries do not sum to zero.
    pub unbalanced_transactions: i64,
    /// Accounts whose balance differs from the sum of their entries.
    pub mismatched_accounts: i64,
    /// Holders' accounts below zero.
    pub negative_holders: i64,
    /// Items with stock below zero.
    pub negative_stock: i64,
}

impl LedgerCheck {
    pub fn is_sound(&self) -> bool {
        *self
            == LedgerCheck {
                entries_total: 0,
                balances_total: 0,
                unbalanced_transactions: 0,
                mismatched_accounts: 0,
                negative_holders: 0,
                negative_stock: 0,
            }
    }
}

/// `[start, end)` of a month in China time, as stored UTC text.
fn month_range(month: &str) -> Option<(String, String)> {
    let (y, m) = month.split_once('-')?;
    let (y, m): (i32, u32) = (y.parse().ok()?, m.parse().ok()?);
    let cn = chrono::FixedOffset::east_opt(8 * 3600)?;
    let start = cn.with_ymd_and_hms(y, m, 1, 0, 0, 0).single()?;
    let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    let end = cn.with_ymd_and_hms(ny, nm, 1, 0, 0, 0).single()?;
    Some((
        crate::time_text(start.with_timezone(&chrono::Utc)),
        crate::time_text(end.with_timezone(&chrono::Utc)),
    ))
}

impl Store {
    /// The signed-in holder's points; empty when the account is linked to no person.
    pub async fn my_points(&self, actor: &Actor) -> StoreResult<MyPoints> {
        let Some(p) = self.own_person(actor).await? else {
            return Ok(MyPoints {
                person_id: None,
                person_name: None,
                accounts: Vec::new(),
                entries: Vec::new(),
                redemptions: Vec::new(),
            });
        };
        let accounts: Vec<AccountView> = sqlx::query_as(
            "SELECT a.id AS account_id, a.scheme_id, s.name AS scheme_name, a.balance FROM point_accounts a \
             JOIN point_schemes s ON s.id = a.scheme_id WHERE a.person_id = $1 ORDER BY a.scheme_id",
        )
        .bind(p.id)
        .fetch_all(&self.pool)
        .await?;
        let entries: Vec<LedgerLine> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "{LINE_SELECT} WHERE a.person_id = $1 ORDER BY e.id DESC LIMIT 50"
        )))
        .bind(p.id)
        .fetch_all(&self.pool)
        .await?;
        let redemptions: Vec<Redemption> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "{REDEMPTION_SELECT} WHERE r.person_id = $1 ORDER BY r.id DESC LIMIT 50"
        )))
        .bind(p.id)
        .fetch_all(&self.pool)
        .await?;
        Ok(MyPoints {
            person_id: Some(p.id),
            person_name: Some(p.name),
            accounts,
            entries,
            redemptions,
        })
    }

    /// A holder's balance in a scheme (staff inside their scope, or the holder).
    pub async fn balance(&self, actor: &Actor, scheme_id: i64, person_id: i64) -> StoreResult<i64> {
        let own = self.own_person(actor).await?.is_some_and(|p| p.id == person_id);
        if !own {
            let h = self.holder(person_id).await?;
            scope::require(actor, Right::ReadPeople, &h.home_path)?;
        }
        let b: Option<i64> =
            sqlx::query_scalar("SELECT balance FROM point_accounts WHERE scheme_id = $1 AND holder = $2")
                .bind(scheme_id)
                .bind(format!("person:{person_id}"))
                .fetch_optional(&self.pool)
                .await?;
        Ok(b.unwrap_or(0))
    }

    /// The entries of a scheme on accounts inside the reader's scope (system accounts sit at
    /// the scheme's node, so only readers of the whole area see them), oldest first.
    pub async fn ledger(
        &self,
        actor: &Actor,
        scheme_id: i64,
        cursor: Option<i64>,
        limit: i64,
    ) -> StoreResult<Page<LedgerLine>> {
        let scheme = self.scheme(actor, scheme_id).await?;
        if actor.scope(Right::ReadPeople).is_none() {
            return Err(StoreError::Forbidden);
        }
        let mut sql = Sql::new(&format!("{LINE_SELECT} WHERE a.scheme_id = "));
        sql.bind(scheme.id).push(" AND ");
        scope::push_filter(&mut sql, actor, Right::ReadPeople, "n.path");
        crate::sql::fetch_page(&self.pool, sql, "e.id", cursor, limit, |l: &LedgerLine| l.entry_id).await
    }

    /// A shop's month: per item at the node's subtree, what was redeemed, picked up and cancelled.
    pub async fn monthly_statement(&self, actor: &Actor, node_id: i64, month: &str) -> StoreResult<Statement> {
        let node = self.node(actor, node_id).await?;
        scope::require(actor, Right::ReadPeople, &node.path)?;
        let (start, end) = month_range(month).ok_or_else(|| StoreError::field("month", "月份格式应为 YYYY-MM"))?;
        let mut sql = Sql::new(
            "SELECT i.id AS item_id, i.name AS item_name, n.name AS node_name, i.price, i.stock, \
             COUNT(r.id) AS redemptions, \
             CAST(COALESCE(SUM(CASE WHEN r.status = 'reserved' THEN r.quantity ELSE 0 END), 0) AS BIGINT) AS reserved, \
             CAST(COALESCE(SUM(CASE WHEN r.status = 'picked_up' THEN r.quantity ELSE 0 END), 0) AS BIGINT) AS picked_up, \
             CAST(COALESCE(SUM(CASE WHEN r.status = 'cancelled' THEN r.quantity ELSE 0 END), 0) AS BIGINT) AS cancelled, \
             CAST(COALESCE(SUM(CASE WHEN r.status <> 'cancelled' THEN r.points ELSE 0 END), 0) AS BIGINT) AS points \
             FROM shop_items i JOIN nodes n ON n.id = i.node_id \
             LEFT JOIN redemptions r ON r.item_id = i.id AND r.created_at >= ",
        );
        sql.bind(start).push(" AND r.created_at < ").bind(end).push(" WHERE ");
        scope::push_subtree(&mut sql, "n.path", &node.path);
        sql.push(" GROUP BY i.id, i.name, n.name, i.price, i.stock ORDER BY i.id");
        let lines: Vec<StatementLine> = sql.query_as().fetch_all(&self.pool).await?;
        let total_points = lines.iter().map(|l| l.points).sum();
        Ok(Statement {
            node_id: node.id,
            node_name: node.name,
            month: month.to_string(),
            lines,
            total_points,
        })
    }

    /// Checks the whole ledger: every transaction sums to zero, every balance equals its
    /// entries, the system total is zero, and no holder or stock is negative.
    pub async fn verify_ledger(&self) -> StoreResult<LedgerCheck> {
        let one = |sql: &'static str| {
            let pool = self.pool.clone();
            async move { sqlx::query_scalar::<_, i64>(sql).fetch_one(&pool).await }
        };
        Ok(LedgerCheck {
            entries_total: one("SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM point_entries").await?,
            balances_total: one("SELECT CAST(COALESCE(SUM(balance), 0) AS BIGINT) FROM point_accounts").await?,
            unbalanced_transactions: one(
                "SELECT COUNT(*) FROM (SELECT transaction_id FROM point_entries GROUP BY transaction_id \
                 HAVING SUM(amount) <> 0) u",
            )
            .await?,
            mismatched_accounts: one("SELECT COUNT(*) FROM point_accounts a WHERE a.balance <> \
                 (SELECT CAST(COALESCE(SUM(e.amount), 0) AS BIGINT) FROM point_entries e WHERE e.account_id = a.id)")
            .await?,
            negative_holders: one("SELECT COUNT(*) FROM point_accounts WHERE person_id IS NOT NULL AND balance < 0")
                .await?,
            negative_stock: one("SELECT COUNT(*) FROM shop_items WHERE stock < 0").await?,
        })
    }
}
