//! The points shop (积分超市): items with stock at a community or service centre's node;
//! a redemption takes the points and the stock in one transaction (the stock by a conditional
//! `UPDATE … WHERE stock >= quantity`, the points through the ledger), is picked up at the
//! counter, or is cancelled, which returns both.

use gongjian_domain::access::{Actor, Right};
use gongjian_domain::points::{RedemptionStatus, SchemeRules};
use gongjian_domain::tree::Name;
use serde::{Deserialize, Serialize};
use sqlx::AnyConnection;
use utoipa::ToSchema;

use super::holder_account;
use super::ledger::{Leg, Opened, Opening, balanced, open, post, push_sqlite_postings, request_digest};
use super::sqlite_write::{LedgerWrite, Written, refused_by_check};
use crate::audit::AuditEvent;
use crate::db::Store;
use crate::error::{StoreError, StoreResult};
use crate::sql::Sql;
use crate::{Page, scope};

#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct ShopItem {
    pub id: i64,
    pub node_id: i64,
    pub node_name: String,
    #[serde(skip)]
    pub node_path: String,
    pub scheme_id: i64,
    pub scheme_name: String,
    pub name: String,
    pub price: i64,
    pub stock: i64,
    pub status: String,
    pub created_at: String,
}

const ITEM_SELECT: &str = "SELECT i.id, i.node_id, n.name AS node_name, n.path AS node_path, i.scheme_id, \
     s.name AS scheme_name, i.name, i.price, i.stock, i.status, i.created_at FROM shop_items i \
     JOIN nodes n ON n.id = i.node_id JOIN point_schemes s ON s.id = i.scheme_id";

#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
pub struct ItemForm {
    #[serde(default)]
    pub name: String,
    pub scheme_id: Option<i64>,
    pub price: Option<i64>,
    pub stock: Option<i64>,
}

#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct Redemption {
    pub id: i64,
    pub item_id: i64,
    pub item_name: String,
    pub person_id: i64,
    pub person_name: String,
    pub node_id: i64,
    pub node_name: String,
    #[serde(skip)]
    pub node_path: String,
    pub quantity: i64,
    pub points: i64,
    /// `reserved`, `picked_up` or `cancelled`.
    pub status: String,
    pub reserve_tx_id: i64,
    pub cancel_tx_id: Option<i64>,
    pub created_at: String,
    pub closed_at: Option<String>,
}

impl Redemption {
    pub fn status_label(&self) -> &'static str {
        RedemptionStatus::from_key(&self.status)
            .map(RedemptionStatus::label_zh)
            .unwrap_or("")
    }

    pub fn is_reserved(&self) -> bool {
        self.status == "reserved"
    }
}

pub(crate) const REDEMPTION_SELECT: &str = "SELECT r.id, r.item_id, i.name AS item_name, r.person_id, \
     p.name AS person_name, r.node_id, n.name AS node_name, n.path AS node_path, r.quantity, r.points, r.status, \
     r.reserve_tx_id, r.cancel_tx_id, r.created_at, r.closed_at FROM redemptions r \
     JOIN shop_items i ON i.id = r.item_id JOIN persons p ON p.id = r.person_id JOIN nodes n ON n.id = r.node_id";

/// A redemption as asked for: the item, how many, and for whom (staff at the counter; a
/// resident leaves it out and redeems for themselves).
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
pub struct RedeemInput {
    pub item_id: i64,
    #[serde(default = "one")]
    pub quantity: i64,
    #[serde(default)]
    pub person_id: Option<i64>,
}

fn one() -> i64 {
    1
}

struct ItemForRedemption {
    item: ShopItem,
    rules: String,
    scheme_status: String,
    account_id: Option<i64>,
    shop_id: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct ItemForRedemptionRow {
    id: i64,
    node_id: i64,
    node_name: String,
    node_path: String,
    scheme_id: i64,
    scheme_name: String,
    name: String,
    price: i64,
    stock: i64,
    status: String,
    created_at: String,
    rules: String,
    scheme_status: String,
    account_id: Option<i64>,
    shop_id: Option<i64>,
}

impl Store {
    /// Puts an item on a node's shelf, priced in the points of a redeemable scheme of that area.
    pub async fn create_item(
        &self,
        actor: &Actor,
        node_id: i64,
        form: &ItemForm,
        client: &str,
    ) -> StoreResult<ShopItem> {
        let node = self.node(actor, node_id).await?;
        scope::require(actor, Right::ManagePeople, &node.path)?;
        let mut v = gongjian_domain::Validation::new();
        let name = v.check("name", Name::parse(&form.name));
        match form.price {
            Some(p) if (1..=100_000).contains(&p) => {}
            _ => v.push("price", "兑换所需积分应为 1 到 100000 的整数"),
        }
        match form.stock {
            Some(s) if (0..=1_000_000).contains(&s) => {}
            _ => v.push("stock", "库存应为 0 到 1000000 的整数"),
        }
        match form.scheme_id {
            Some(id) => match self.scheme(actor, id).await {
                Ok(s) if !s.rules.redeemable => v.push("scheme_id", "该积分不能在积分超市兑换"),
                Ok(s) if !node.path.starts_with(&s.node_path) => v.push("scheme_id", "该积分不适用于此节点"),
                Ok(_) => {}
                Err(_) => v.push("scheme_id", "积分方案不存在"),
            },
            None => v.push("scheme_id", "请选择积分方案"),
        }
        v.clone().into_result()?;
        let (Some(name), Some(scheme_id), Some(price), Some(stock)) = (name, form.scheme_id, form.price, form.stock)
        else {
            return Err(v.into());
        };
        let now = self.now_text();
        let (gate, mut tx) = self.begin_ledger_write().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO shop_items (node_id, scheme_id, name, price, stock, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id",
        )
        .bind(node.id)
        .bind(scheme_id)
        .bind(name.as_str().to_string())
        .bind(price)
        .bind(stock)
        .bind(&now)
        .fetch_one(&mut *tx)
        .await?;
        self.append_audit(
            &mut tx,
            &AuditEvent::by(actor, "shop.item.create", format!("shop_item:{id}"), client)
                .with_detail(format!("{} price {price} stock {stock}", name.as_str())),
        )
        .await?;
        tx.commit().await?;
        drop(gate);
        self.shop_item(actor, id).await
    }

    /// Adds to (or, with a negative change, takes from) an item's stock; it never goes below zero.
    pub async fn restock(&self, actor: &Actor, item_id: i64, change: i64, client: &str) -> StoreResult<ShopItem> {
        let item = self.shop_item(actor, item_id).await?;
        scope::require(actor, Right::ManagePeople, &item.node_path)?;
        if change == 0 || change.abs() > 1_000_000 {
            return Err(StoreError::field("change", "库存变动应为非零整数（最多 1000000）"));
        }
        let (gate, mut tx) = self.begin_ledger_write().await?;
        let done =
            sqlx::query("UPDATE shop_items SET stock = stock + $1, updated_at = $2 WHERE id = $3 AND stock + $1 >= 0")
                .bind(change)
                .bind(self.now_text())
                .bind(item_id)
                .execute(&mut *tx)
                .await?;
        if done.rows_affected() != 1 {
            return Err(StoreError::field("change", "库存不足，不能减少这么多"));
        }
        self.append_audit(
            &mut tx,
            &AuditEvent::by(actor, "shop.item.restock", format!("shop_item:{item_id}"), client)
                .with_detail(change.to_string()),
        )
        .await?;
        tx.commit().await?;
        drop(gate);
        self.shop_item(actor, item_id).await
    }

    /// One item: staff reading its node, or a holder whose home lies under its node.
    pub async fn shop_item(&self, actor: &Actor, id: i64) -> StoreResult<ShopItem> {
        let item = self.item_unchecked(id).await?;
        if actor.scope(Right::ReadPeople).contains_path(&item.node_path) {
            return Ok(item);
        }
        match self.own_person(actor).await? {
            Some(p) if p.home_path.starts_with(&item.node_path) => Ok(item),
            _ => Err(StoreError::NotFound),
        }
    }

    async fn item_unchecked(&self, id: i64) -> StoreResult<ShopItem> {
        sqlx::query_as(sqlx::AssertSqlSafe(format!("{ITEM_SELECT} WHERE i.id = $1")))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)
    }

    /// The items on the shelves of a node's subtree (the back office).
    pub async fn items_under(&self, actor: &Actor, node_id: i64) -> StoreResult<Vec<ShopItem>> {
        let node = self.node(actor, node_id).await?;
        scope::require(actor, Right::ReadPeople, &node.path)?;
        let mut sql = Sql::new(&format!("{ITEM_SELECT} WHERE i.status = 'active' AND "));
        scope::push_subtree(&mut sql, "n.path", &node.path);
        sql.push(" ORDER BY i.id LIMIT 1000");
        Ok(sql.query_as().fetch_all(&self.pool).await?)
    }

    /// The items a holder may redeem: those at the nodes above the holder's home.
    pub async fn my_shop(&self, actor: &Actor) -> StoreResult<Vec<ShopItem>> {
        let Some(p) = self.own_person(actor).await? else {
            return Ok(Vec::new());
        };
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "{ITEM_SELECT} WHERE i.status = 'active' AND s.status = 'active' \
             AND substr($1, 1, length(n.path)) = n.path ORDER BY i.id LIMIT 1000"
        )))
        .bind(&p.home_path)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Redeems an item: its stock and the holder's points are taken in one transaction, or
    /// neither is. A repeated `key` answers with the first redemption and writes nothing.
    ///
    /// The item, its scheme and both accounts are read in one statement before the write; the
    /// answer is built from what was written, not read back.
    pub async fn redeem(&self, actor: &Actor, input: &RedeemInput, key: &str, client: &str) -> StoreResult<Redemption> {
        let mut conn = self.pool.acquire().await?;
        let (holder, _) = self.acting_holder(&mut conn, actor, input.person_id).await?;
        let found = self
            .item_for_redemption(&mut conn, input.item_id, holder.id)
            .await?
            .filter(|f| holder.home_path.starts_with(&f.item.node_path))
            .ok_or_else(|| StoreError::field("item_id", "商品不存在"))?;
        let item = found.item;
        if !(1..=100).contains(&input.quantity) {
            return Err(StoreError::field("quantity", "数量应为 1 到 100"));
        }
        let rules = SchemeRules::parse(&found.rules)
            .map_err(|_| StoreError::Config(format!("scheme {} has unreadable rules", item.scheme_id)))?;
        if !rules.redeemable || found.scheme_status != "active" || item.status != "active" {
            return Err(StoreError::field("item_id", "该商品暂不可兑换"));
        }
        if let Some(min) = rules.redeem_min_age {
            let age = holder
                .birth_date
                .as_deref()
                .and_then(|b| chrono::NaiveDate::parse_from_str(b, "%Y-%m-%d").ok())
                .and_then(|b| self.now().date_naive().years_since(b));
            if age.is_none_or(|a| a < min) {
                return Err(StoreError::field("person_id", format!("年满 {min} 周岁方可兑换")));
            }
        }
        let shop = found
            .shop_id
            .ok_or_else(|| StoreError::Config(format!("scheme {} has no shop account", item.scheme_id)))?;
        let points = item.price * input.quantity;
        let opening = Opening {
            key,
            scheme_id: item.scheme_id,
            kind: "redeem",
            source: format!("shop_item:{}", item.id),
            item: String::new(),
            memo: format!("{} × {}", item.name, input.quantity),
            at: self.now_text(),
            // Whom for: the holder, also when a resident leaves `person_id` out.
            digest: request_digest(serde_json::json!({
                "item": item.id,
                "quantity": input.quantity,
                "person": holder.id,
            })),
        };
        let audit = |id: i64| {
            AuditEvent::by(actor, "shop.redeem", format!("redemption:{id}"), client).with_detail(format!(
                "person:{} item:{} ×{} -{points}",
                holder.id, item.id, input.quantity
            ))
        };
        let spend = |account: i64| {
            vec![
                Leg {
                    account,
                    amount: -points,
                    holder: true,
                },
                Leg {
                    account: shop,
                    amount: points,
                    holder: false,
                },
            ]
        };
        let now = opening.at.clone();
        let mut conn = Some(conn);
        let mut fast = None;
        if self.one_script()
            && let Some(account) = found.account_id
        {
            // Nothing to read under the lock: one round trip (see `sqlite_write`).
            drop(conn.take());
            let legs = balanced(0, spend(account))?;
            let body = |sql: &mut Sql, tx_id: i64, id: i64| {
                // A withdrawn item gives no stock: its stock would go below zero, which is refused.
                sql.push("UPDATE shop_items SET stock = CASE WHEN status = 'active' THEN stock - ")
                    .bind(input.quantity)
                    .push(" ELSE -1 END, updated_at = ")
                    .bind(&now)
                    .push(" WHERE id = ")
                    .bind(item.id)
                    .push("; ");
                push_sqlite_postings(sql, tx_id, &legs);
                sql.push(
                    "INSERT INTO redemptions (id, item_id, person_id, node_id, quantity, points, status, \
                     reserve_tx_id, created_at) VALUES (",
                )
                .bind(id)
                .push(", ")
                .bind(item.id)
                .push(", ")
                .bind(holder.id)
                .push(", ")
                .bind(item.node_id)
                .push(", ")
                .bind(input.quantity)
                .push(", ")
                .bind(points)
                .push(", 'reserved', ")
                .bind(tx_id)
                .push(", ")
                .bind(&now)
                .push("); ");
            };
            let write = LedgerWrite {
                opening: &opening,
                event: &|_, id| audit(id),
                body: &body,
                redemption: true,
            };
            match self.sqlite_ledger_write(actor, &write).await {
                Ok(Written::Replay(id)) => return self.redemption_by_tx(id).await,
                Ok(Written::New { tx_id, redemption_id }) => fast = Some((redemption_id, tx_id)),
                // The stock or the holder's balance would go below zero, and nothing was
                // written: the general way tells which (or writes, if another writer gave).
                Err(e) if refused_by_check(&e) => {}
                Err(e) => return Err(e),
            }
        }
        let (id, tx_id) = if let Some(ids) = fast {
            ids
        } else {
            let conn = match conn {
                Some(conn) => conn,
                None => self.pool.acquire().await?,
            };
            let (gate, mut tx) = self.begin_ledger_write_on(conn).await?;
            let tx_id = match open(&mut tx, actor, &opening).await? {
                Opened::Replay(id) => {
                    drop(tx);
                    drop(gate);
                    return self.redemption_by_tx(id).await;
                }
                Opened::New(id) => id,
            };
            let taken = sqlx::query(
                "UPDATE shop_items SET stock = stock - $1, updated_at = $2 WHERE id = $3 AND stock >= $1 AND status = 'active'",
            )
            .bind(input.quantity)
            .bind(&now)
            .bind(item.id)
            .execute(&mut *tx)
            .await?;
            if taken.rows_affected() != 1 {
                return Err(StoreError::field("quantity", "库存不足"));
            }
            let account = match found.account_id {
                Some(a) => a,
                None => holder_account(&mut tx, &self.now_text(), item.scheme_id, &holder).await?,
            };
            post(&mut tx, self.engine, tx_id, spend(account)).await?;
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO redemptions (item_id, person_id, node_id, quantity, points, status, reserve_tx_id, created_at) \
                 VALUES ($1, $2, $3, $4, $5, 'reserved', $6, $7) RETURNING id",
            )
            .bind(item.id)
            .bind(holder.id)
            .bind(item.node_id)
            .bind(input.quantity)
            .bind(points)
            .bind(tx_id)
            .bind(&now)
            .fetch_one(&mut *tx)
            .await?;
            self.append_audit(&mut tx, &audit(id)).await?;
            tx.commit().await?;
            drop(gate);
            (id, tx_id)
        };
        Ok(Redemption {
            id,
            item_id: item.id,
            item_name: item.name,
            person_id: holder.id,
            person_name: holder.name,
            node_id: item.node_id,
            node_name: item.node_name,
            node_path: item.node_path,
            quantity: input.quantity,
            points,
            status: RedemptionStatus::Reserved.key().to_string(),
            reserve_tx_id: tx_id,
            cancel_tx_id: None,
            created_at: now,
            closed_at: None,
        })
    }

    /// An item with what a redemption of it needs, in one statement: its scheme's rules and
    /// status, the account of person `person_id` in that scheme (`None` until opened) and the
    /// scheme's shop account.
    async fn item_for_redemption(
        &self,
        conn: &mut AnyConnection,
        item_id: i64,
        person_id: i64,
    ) -> StoreResult<Option<ItemForRedemption>> {
        let row: Option<ItemForRedemptionRow> = sqlx::query_as(
            "SELECT i.id, i.node_id, n.name AS node_name, n.path AS node_path, i.scheme_id, s.name AS scheme_name, \
             i.name, i.price, i.stock, i.status, i.created_at, s.rules, s.status AS scheme_status, \
             (SELECT a.id FROM point_accounts a WHERE a.scheme_id = i.scheme_id AND a.holder = $2) AS account_id, \
             (SELECT a.id FROM point_accounts a WHERE a.scheme_id = i.scheme_id AND a.holder = 'system:shop') \
             AS shop_id \
             FROM shop_items i JOIN nodes n ON n.id = i.node_id JOIN point_schemes s ON s.id = i.scheme_id \
             WHERE i.id = $1",
        )
        .bind(item_id)
        .bind(format!("person:{person_id}"))
        .fetch_optional(conn)
        .await?;
        Ok(row.map(|r| ItemForRedemption {
            item: ShopItem {
                id: r.id,
                node_id: r.node_id,
                node_name: r.node_name,
                node_path: r.node_path,
                scheme_id: r.scheme_id,
                scheme_name: r.scheme_name,
                name: r.name,
                price: r.price,
                stock: r.stock,
                status: r.status,
                created_at: r.created_at,
            },
            rules: r.rules,
            scheme_status: r.scheme_status,
            account_id: r.account_id,
            shop_id: r.shop_id,
        }))
    }

    /// The counter hands the item over.
    pub async fn pick_up(&self, actor: &Actor, id: i64, client: &str) -> StoreResult<Redemption> {
        let r = self.redemption(actor, id).await?;
        scope::require(actor, Right::ManagePeople, &r.node_path)?;
        let (gate, mut tx) = self.begin_ledger_write().await?;
        let done = sqlx::query(
            "UPDATE redemptions SET status = 'picked_up', closed_at = $1, closed_by = $2 WHERE id = $3 AND status = 'reserved'",
        )
        .bind(self.now_text())
        .bind(actor.user_id)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            // The transaction and the gate are let go before the state is read again.
            drop(tx);
            drop(gate);
            return Err(self.refused_transition(id, RedemptionStatus::PickedUp).await);
        }
        self.append_audit(
            &mut tx,
            &AuditEvent::by(actor, "shop.pick_up", format!("redemption:{id}"), client),
        )
        .await?;
        tx.commit().await?;
        drop(gate);
        self.redemption_unchecked(id).await
    }

    /// Cancels a reserved redemption (the holder, or staff of its node): the stock and the
    /// points go back in one transaction.
    pub async fn cancel_redemption(&self, actor: &Actor, id: i64, client: &str) -> StoreResult<Redemption> {
        let r = self.redemption(actor, id).await?;
        let own = self.own_person(actor).await?.is_some_and(|p| p.id == r.person_id);
        if !own {
            scope::require(actor, Right::ManagePeople, &r.node_path)?;
        }
        let item = self.item_unchecked(r.item_id).await?;
        let holder = self.holder(r.person_id).await?;
        let key = format!("cancel:redemption:{id}");
        let account = self.account_of(item.scheme_id, &holder).await?;
        let shop = self.system_account_of(item.scheme_id, "shop").await?;
        let (gate, mut tx) = self.begin_ledger_write().await?;
        let tx_id = match open(
            &mut tx,
            actor,
            &Opening {
                key: &key,
                scheme_id: item.scheme_id,
                kind: "cancel",
                source: format!("redemption:{id}"),
                item: String::new(),
                memo: format!("{} × {}", item.name, r.quantity),
                at: self.now_text(),
                digest: request_digest(serde_json::json!({"redemption": id})),
            },
        )
        .await
        {
            Ok(Opened::New(t)) => t,
            // Cancelled before (by anyone): the redemption's state says so.
            Ok(Opened::Replay(_)) | Err(StoreError::Invalid(_) | StoreError::Conflict(_)) => {
                drop(tx);
                drop(gate);
                return Err(self.refused_transition(id, RedemptionStatus::Cancelled).await);
            }
            Err(e) => return Err(e),
        };
        let now = self.now_text();
        let done = sqlx::query(
            "UPDATE redemptions SET status = 'cancelled', cancel_tx_id = $1, closed_at = $2, closed_by = $3 \
             WHERE id = $4 AND status = 'reserved'",
        )
        .bind(tx_id)
        .bind(&now)
        .bind(actor.user_id)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            // The transaction and the gate are let go before the state is read again.
            drop(tx);
            drop(gate);
            return Err(self.refused_transition(id, RedemptionStatus::Cancelled).await);
        }
        sqlx::query("UPDATE shop_items SET stock = stock + $1, updated_at = $2 WHERE id = $3")
            .bind(r.quantity)
            .bind(&now)
            .bind(r.item_id)
            .execute(&mut *tx)
            .await?;
        post(
            &mut tx,
            self.engine,
            tx_id,
            vec![
                Leg {
                    account,
                    amount: r.points,
                    holder: true,
                },
                Leg {
                    account: shop,
                    amount: -r.points,
                    holder: false,
                },
            ],
        )
        .await?;
        self.append_audit(
            &mut tx,
            &AuditEvent::by(actor, "shop.cancel", format!("redemption:{id}"), client),
        )
        .await?;
        tx.commit().await?;
        drop(gate);
        self.redemption_unchecked(id).await
    }

    async fn refused_transition(&self, id: i64, to: RedemptionStatus) -> StoreError {
        match self.redemption_unchecked(id).await {
            Ok(r) => match RedemptionStatus::from_key(&r.status).map(|s| s.transition(to)) {
                Some(Err(m)) => StoreError::field("status", m),
                _ => StoreError::field("status", "兑换单状态已变化，请刷新"),
            },
            Err(e) => e,
        }
    }

    /// One redemption: its holder, or staff reading its node.
    pub async fn redemption(&self, actor: &Actor, id: i64) -> StoreResult<Redemption> {
        let r = self.redemption_unchecked(id).await?;
        if actor.scope(Right::ReadPeople).contains_path(&r.node_path) {
            return Ok(r);
        }
        match self.own_person(actor).await? {
            Some(p) if p.id == r.person_id => Ok(r),
            _ => Err(StoreError::NotFound),
        }
    }

    pub(crate) async fn redemption_unchecked(&self, id: i64) -> StoreResult<Redemption> {
        sqlx::query_as(sqlx::AssertSqlSafe(format!("{REDEMPTION_SELECT} WHERE r.id = $1")))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)
    }

    async fn redemption_by_tx(&self, tx_id: i64) -> StoreResult<Redemption> {
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "{REDEMPTION_SELECT} WHERE r.reserve_tx_id = $1"
        )))
        .bind(tx_id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)
    }

    /// Redemptions at the shelves of a node's subtree, optionally of one status.
    pub async fn redemptions_under(
        &self,
        actor: &Actor,
        node_id: i64,
        status: Option<RedemptionStatus>,
        cursor: Option<i64>,
        limit: i64,
    ) -> StoreResult<Page<Redemption>> {
        let node = self.node(actor, node_id).await?;
        scope::require(actor, Right::ReadPeople, &node.path)?;
        let mut sql = Sql::new(&format!("{REDEMPTION_SELECT} WHERE "));
        scope::push_subtree(&mut sql, "n.path", &node.path);
        if let Some(s) = status {
            sql.push(" AND r.status = ").bind(s.key());
        }
        crate::sql::fetch_page(&self.pool, sql, "r.id", cursor, limit, |r: &Redemption| r.id).await
    }
}
