//! Pairings of party organisations (usually agencies') with communities (机关党组织结对社区):
//! a period and the agreement's text. Kept at the community; ended, never deleted.

use gongjian_domain::Validation;
use gongjian_domain::access::{Actor, Right};
use gongjian_domain::dates::{day_text, parse_day, parse_span};
use gongjian_domain::ids::free_text;
use gongjian_domain::party::OrgCategory;
use gongjian_domain::tree::Level;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::audit::AuditEvent;
use crate::db::Store;
use crate::error::{StoreError, StoreResult};
use crate::scope;
use crate::sql::Sql;

#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct Pairing {
    pub id: i64,
    pub org_id: i64,
    pub org_name: String,
    pub org_category: String,
    pub community_id: i64,
    pub community_name: String,
    #[serde(skip)]
    pub community_path: String,
    pub started_on: String,
    pub ended_on: Option<String>,
    pub agreement: Option<String>,
}

const PAIRING_SELECT: &str = "SELECT p.id, p.org_id, o.name AS org_name, o.category AS org_category, p.community_id, \
     c.name AS community_name, c.path AS community_path, p.started_on, p.ended_on, p.agreement \
     FROM org_pairings p JOIN party_orgs o ON o.id = p.org_id JOIN nodes c ON c.id = p.community_id";

#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
pub struct PairingInput {
    pub org_id: Option<i64>,
    pub community_id: Option<i64>,
    /// `YYYY-MM-DD`.
    #[serde(default)]
    pub started_on: String,
    /// The planned end, if the agreement has one.
    #[serde(default)]
    pub ended_on: String,
    /// The agreement's text (共建协议).
    #[serde(default)]
    pub agreement: String,
}

/// Categories of the organisations that pair with communities (机关、事业单位、国企): those on
/// the public directory (`OrgCategory::is_public`).
fn pairing_categories() -> Vec<&'static str> {
    OrgCategory::ALL
        .into_iter()
        .filter(|c| c.is_public())
        .map(OrgCategory::key)
        .collect()
}

impl Store {
    /// Active organisations of agencies, public institutions and state enterprises in the city
    /// of `node`, wherever they are (their names are public), for choosing a pairing partner.
    pub async fn pairing_org_choices(&self, node: &crate::tree::Node) -> StoreResult<Vec<crate::members::OrgChoice>> {
        let city = node.path.trim_matches('/').split('/').next().unwrap_or_default();
        let mut sql = Sql::new(
            "SELECT o.id, o.name, t.name AS territory_name FROM party_orgs o JOIN nodes t ON t.id = o.territory_node_id \
             WHERE o.status = 'active' AND o.kind <> 'group' AND o.category IN ",
        );
        sql.bind_list(&pairing_categories()).push(" AND ");
        scope::push_subtree(&mut sql, "t.path", &format!("/{city}/"));
        sql.push(" ORDER BY o.name, o.id LIMIT 1000");
        Ok(sql.query_as().fetch_all(&self.pool).await?)
    }

    /// Pairs an organisation with a community; one open pairing per pair.
    pub async fn create_pairing(&self, actor: &Actor, input: &PairingInput, client: &str) -> StoreResult<Pairing> {
        let mut v = Validation::new();
        match input.community_id {
            None => v.push("community_id", "请选择结对社区"),
            Some(id) => match self.node(actor, id).await {
                Ok(n) if n.level != Level::Community || !n.is_active() => v.push("community_id", "结对的应是在册社区"),
                Ok(n) if scope::require(actor, Right::ManagePeople, &n.path).is_err() => {
                    v.push("community_id", "无权为该社区登记结对")
                }
                Ok(_) => {}
                Err(_) => v.push("community_id", "所选社区不存在"),
            },
        }
        // The paired organisation is usually an agency's, outside the community's scope: it must
        // be one a record of the actor's may name (`scope::referable_org`: in scope, or an
        // agency's, public institution's or state enterprise's), and the pairing shows its name.
        match input.org_id {
            None => v.push("org_id", "请选择结对的党组织"),
            Some(id) => {
                if self.referable_org(actor, id).await?.is_none() {
                    v.push("org_id", "所选党组织不存在或已撤销");
                }
            }
        }
        let (start, end) = parse_span(&mut v, &input.started_on, &input.ended_on);
        let agreement = v.check("agreement", free_text(&input.agreement, 2000, true));
        v.clone().into_result()?;
        let (Some(org_id), Some(community_id), Some(start), Some(end), Some(agreement)) =
            (input.org_id, input.community_id, start, end, agreement)
        else {
            return Err(v.into());
        };
        let mut tx = self.begin_write().await?;
        let open: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM org_pairings WHERE org_id = $1 AND community_id = $2 AND (ended_on IS NULL OR ended_on >= $3)",
        )
        .bind(org_id)
        .bind(community_id)
        .bind(day_text(start))
        .fetch_one(&mut *tx)
        .await?;
        if open > 0 {
            return Err(StoreError::field("org_id", "该党组织与该社区已有结对"));
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO org_pairings (org_id, community_id, started_on, ended_on, agreement, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(org_id)
        .bind(community_id)
        .bind(day_text(start))
        .bind(end.map(day_text))
        .bind(agreement)
        .bind(self.now_text())
        .fetch_one(&mut *tx)
        .await?;
        self.append_audit(
            &mut tx,
            &AuditEvent::by(actor, "pairing.create", format!("pairing:{id}"), client)
                .with_detail(format!("org:{org_id} community:{community_id}")),
        )
        .await?;
        tx.commit().await?;
        self.pairing(actor, id).await
    }

    pub async fn pairing(&self, actor: &Actor, id: i64) -> StoreResult<Pairing> {
        let p: Pairing = sqlx::query_as(sqlx::AssertSqlSafe(format!("{PAIRING_SELECT} WHERE p.id = $1")))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        scope::require(actor, Right::ReadTree, &p.community_path)?;
        Ok(p)
    }

    /// Ends a pairing on a date (today when blank).
    pub async fn end_pairing(&self, actor: &Actor, id: i64, on: &str, client: &str) -> StoreResult<Pairing> {
        let p = self.pairing(actor, id).await?;
        scope::require(actor, Right::ManagePeople, &p.community_path)?;
        let day = match on.trim() {
            "" => self.today(),
            raw => parse_day(raw).map_err(|e| StoreError::field("ended_on", e.to_string()))?,
        };
        if day_text(day) < p.started_on {
            return Err(StoreError::field("ended_on", "结束日期不能早于开始日期"));
        }
        let mut tx = self.begin_write().await?;
        sqlx::query("UPDATE org_pairings SET ended_on = $1 WHERE id = $2")
            .bind(day_text(day))
            .bind(id)
            .execute(&mut *tx)
            .await?;
        self.append_audit(
            &mut tx,
            &AuditEvent::by(actor, "pairing.end", format!("pairing:{id}"), client),
        )
        .await?;
        tx.commit().await?;
        self.pairing(actor, id).await
    }

    /// Pairings of communities under `node_id`, newest first (at most 500).
    pub async fn pairings_under(&self, actor: &Actor, node_id: i64) -> StoreResult<Vec<Pairing>> {
        let node = self.node(actor, node_id).await?;
        let mut sql = Sql::new(&format!("{PAIRING_SELECT} WHERE "));
        scope::push_subtree(&mut sql, "c.path", &node.path);
        sql.push(" ORDER BY p.started_on DESC, p.id DESC LIMIT 500");
        Ok(sql.query_as().fetch_all(&self.pool).await?)
    }
}
