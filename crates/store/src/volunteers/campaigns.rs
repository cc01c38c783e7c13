//! Campaigns with targets (e.g. the five "hundreds": 百堂思政课、百个主题党日、百部红色电影、
//! 百名志愿者、百场群众活动) and their progress. A campaign counts either the activities held
//! under it (not cancelled, ended) within its dates, or the distinct volunteers with hours on
//! those activities. The same derived table feeds `center.campaign.progress`.

use chrono::NaiveDate;
use gongjian_domain::Validation;
use gongjian_domain::access::{Actor, Right};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::audit::AuditEvent;
use crate::db::Store;
use crate::error::{StoreError, StoreResult};
use crate::scope;
use crate::sql::Sql;
use crate::stats::campaign_progress_table;

/// The measures a campaign may count.
pub const MEASURES: [(&str, &str); 2] = [("activities", "举办活动场次"), ("volunteers", "参与服务的志愿者人数")];

/// A campaign as submitted.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
pub struct CampaignForm {
    #[serde(default)]
    pub name: String,
    /// `activities` or `volunteers`.
    #[serde(default)]
    pub measure: String,
    /// A whole number above zero (a number, or text from forms).
    #[serde(default, deserialize_with = "number_or_text")]
    #[schema(value_type = i64)]
    pub target: String,
    /// `YYYY-MM-DD`.
    #[serde(default)]
    pub starts_on: String,
    /// `YYYY-MM-DD`.
    #[serde(default)]
    pub ends_on: String,
}

/// A campaign with its progress as of today.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct Campaign {
    pub id: i64,
    pub node_id: i64,
    pub node_name: String,
    pub name: String,
    pub measure: String,
    pub target: i64,
    pub starts_on: String,
    pub ends_on: String,
    pub done: i64,
    pub created_at: String,
}

impl Campaign {
    pub fn measure_label(&self) -> &'static str {
        MEASURES
            .iter()
            .find(|(k, _)| *k == self.measure)
            .map(|(_, l)| *l)
            .unwrap_or("其他")
    }

    /// Done over target as a whole percentage, capped at 100.
    pub fn percent(&self) -> i64 {
        if self.target <= 0 {
            return 0;
        }
        (self.done.min(self.target) * 100) / self.target
    }
}

/// Accepts `100` or `"100"`.
fn number_or_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        Number(i64),
        Text(String),
    }
    Ok(match Either::deserialize(d)? {
        Either::Number(n) => n.to_string(),
        Either::Text(s) => s,
    })
}

fn parse_day(v: &mut Validation, field: &str, raw: &str) -> Option<NaiveDate> {
    let t = raw.trim();
    if t.is_empty() {
        v.push(field, "请填写日期");
        return None;
    }
    match NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        Ok(d) => Some(d),
        Err(_) => {
            let shown: String = t.chars().filter(|c| !c.is_control()).take(20).collect();
            v.push(field, format!("“{shown}”不是有效日期，格式为 2024-07-01"));
            None
        }
    }
}

impl Store {
    /// Creates a campaign at a node (staff who manage people there); audited.
    pub async fn create_campaign(
        &self,
        actor: &Actor,
        node_id: i64,
        form: &CampaignForm,
        client: &str,
    ) -> StoreResult<Campaign> {
        let node = self.node(actor, node_id).await?;
        scope::require(actor, Right::ManagePeople, &node.path)?;
        let mut v = Validation::new();
        let name = form.name.trim().to_string();
        if name.is_empty() {
            v.push("name", "请填写活动目标名称，如“百场群众活动”");
        } else if name.chars().count() > 40 {
            v.push("name", "名称不能超过 40 个字");
        }
        if !MEASURES.iter().any(|(k, _)| *k == form.measure) {
            v.push("measure", "请选择统计口径：举办活动场次或参与服务的志愿者人数");
        }
        let target = match form.target.trim().parse::<i64>() {
            Ok(t) if (1..=1_000_000).contains(&t) => Some(t),
            _ => {
                v.push("target", "目标应为 1 到 1000000 之间的整数");
                None
            }
        };
        let starts = parse_day(&mut v, "starts_on", &form.starts_on);
        let ends = parse_day(&mut v, "ends_on", &form.ends_on);
        if let (Some(s), Some(e)) = (starts, ends)
            && e < s
        {
            v.push("ends_on", "结束日期不能早于开始日期");
        }
        v.clone().into_result()?;
        let (Some(target), Some(starts), Some(ends)) = (target, starts, ends) else {
            return Err(v.into());
        };
        let now = self.now_text();
        let mut tx = self.begin_write().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO campaigns (node_id, name, measure, target, starts_on, ends_on, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(node.id)
        .bind(&name)
        .bind(&form.measure)
        .bind(target)
        .bind(starts.to_string())
        .bind(ends.to_string())
        .bind(&now)
        .fetch_one(&mut *tx)
        .await?;
        self.append_audit(
            &mut tx,
            &AuditEvent::by(actor, "volunteer.campaign.create", format!("campaign:{id}"), client)
                .with_detail(format!("{name} {} {target} {starts}..{ends}", form.measure)),
        )
        .await?;
        tx.commit().await?;
        self.campaign(actor, id).await
    }

    /// One campaign with its progress, for readers of its node.
    pub async fn campaign(&self, actor: &Actor, id: i64) -> StoreResult<Campaign> {
        let mut sql = campaign_select(self.today());
        sql.push(" WHERE k.id = ").bind(id);
        let c: Campaign = sql
            .query_as()
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        self.node(actor, c.node_id).await?;
        Ok(c)
    }

    /// The campaigns of the node's subtree, newest first.
    pub async fn campaigns_under(&self, actor: &Actor, node_id: i64) -> StoreResult<Vec<Campaign>> {
        let node = self.node(actor, node_id).await?;
        let mut sql = campaign_select(self.today());
        sql.push(" WHERE ");
        scope::push_subtree(&mut sql, "n.path", &node.path);
        sql.push(" ORDER BY k.starts_on DESC, k.id");
        Ok(sql.query_as().fetch_all(&self.pool).await?)
    }
}

fn campaign_select(today: chrono::NaiveDate) -> Sql {
    let (_, end) = crate::stats::day_instants(today);
    Sql::new(&format!(
        "SELECT k.id, k.node_id, n.name AS node_name, c0.name, c0.measure, k.target, k.starts_on, c0.ends_on, \
         CAST(k.done AS BIGINT) AS done, c0.created_at FROM {} k JOIN campaigns c0 ON c0.id = k.id \
         JOIN nodes n ON n.id = k.node_id",
        campaign_progress_table(&end, &today.to_string())
    ))
}
