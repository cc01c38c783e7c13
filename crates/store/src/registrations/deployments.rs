//! Cadres sent down (干部下基层): a secondment into a post (an agency cadre as community
//! secretary, 选派任职) or a deployment to serve at a community or street for a period (下沉).

use gongjian_domain::Validation;
use gongjian_domain::access::{Actor, Right};
use gongjian_domain::dates::{day_text, parse_span};
use gongjian_domain::ids::free_text;
use gongjian_domain::registration::DeploymentKind;
use gongjian_domain::tree::Level;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::audit::AuditEvent;
use crate::db::Store;
use crate::error::{StoreError, StoreResult};
use crate::scope;
use crate::sql::Sql;

#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct Deployment {
    pub id: i64,
    pub person_id: i64,
    pub person_name: String,
    /// `secondment` or `deployment`.
    pub kind: String,
    pub from_unit_id: Option<i64>,
    pub from_unit: Option<String>,
    pub node_id: i64,
    pub node_name: String,
    #[serde(skip)]
    pub node_path: String,
    pub post_id: Option<i64>,
    pub started_on: String,
    pub ended_on: Option<String>,
    pub note: Option<String>,
}

impl Deployment {
    pub fn kind_label(&self) -> &'static str {
        DeploymentKind::parse(&self.kind).map(|k| k.label_zh()).unwrap_or("")
    }
}

const DEPLOYMENT_SELECT: &str = "SELECT d.id, d.person_id, pe.name AS person_name, d.kind, d.from_unit_id, \
     u.name AS from_unit, d.node_id, n.name AS node_name, n.path AS node_path, d.post_id, d.started_on, d.ended_on, \
     d.note FROM deployments d JOIN persons pe ON pe.id = d.person_id JOIN nodes n ON n.id = d.node_id \
     LEFT JOIN units u ON u.id = d.from_unit_id";

#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
pub struct DeploymentInput {
    pub person_id: Option<i64>,
    /// `secondment` (选派任职) or `deployment` (下沉).
    #[serde(default)]
    pub kind: String,
    /// The unit the cadre comes from.
    #[serde(default)]
    pub from_unit_id: Option<i64>,
    /// Where the cadre serves: a street or community.
    pub node_id: Option<i64>,
    /// For a secondment: the post held there (e.g. the community's secretary post).
    #[serde(default)]
    pub post_id: Option<i64>,
    #[serde(default)]
    pub started_on: String,
    #[serde(default)]
    pub ended_on: String,
    #[serde(default)]
    pub note: String,
}

impl Store {
    pub async fn create_deployment(
        &self,
        actor: &Actor,
        input: &DeploymentInput,
        client: &str,
    ) -> StoreResult<Deployment> {
        let mut v = Validation::new();
        let kind = DeploymentKind::parse(&input.kind);
        if kind.is_none() {
            v.push("kind", "请选择选派任职或下沉基层");
        }
        let person = match input.person_id {
            Some(id) => self.person(actor, id).await.ok(),
            None => None,
        };
        if person.is_none() {
            v.push("person_id", "请选择干部（须先登记为居民）");
        }
        match input.node_id {
            None => v.push("node_id", "请选择服务的街道或社区"),
            Some(id) => match self.node(actor, id).await {
                Ok(n) if !matches!(n.level, Level::Street | Level::Community) => {
                    v.push("node_id", "服务地点应是街道或社区")
                }
                Ok(n) if scope::require(actor, Right::ManagePeople, &n.path).is_err() => {
                    v.push("node_id", "无权在该节点登记")
                }
                Ok(_) => {}
                Err(_) => v.push("node_id", "所选节点不存在"),
            },
        }
        // Another area's unit only when it is on the public directory (`scope::referable_unit`).
        if let Some(u) = input.from_unit_id
            && self.referable_unit(actor, u).await?.is_none()
        {
            v.push("from_unit_id", "所选派出单位不存在");
        }
        if let Some(post) = input.post_id {
            match self.post(actor, post).await {
                Ok(p) if Some(p.person_id) == input.person_id => {}
                _ => v.push("post_id", "所选职务不是该干部担任的职务"),
            }
        } else if kind == Some(DeploymentKind::Secondment) {
            v.push("post_id", "选派任职须选择所任职务（请先任命）");
        }
        let (start, end) = parse_span(&mut v, &input.started_on, &input.ended_on);
        let note = v.check("note", free_text(&input.note, 200, false));
        v.clone().into_result()?;
        let (Some(kind), Some(person), Some(node_id), Some(start), Some(end), Some(note)) =
            (kind, person, input.node_id, start, end, note)
        else {
            return Err(v.into());
        };
        let mut tx = self.begin_write().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO deployments (person_id, kind, from_unit_id, node_id, post_id, started_on, ended_on, note, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        )
        .bind(person.id)
        .bind(kind.key())
        .bind(input.from_unit_id)
        .bind(node_id)
        .bind(input.post_id)
        .bind(day_text(start))
        .bind(end.map(day_text))
        .bind(note)
        .bind(self.now_text())
        .fetch_one(&mut *tx)
        .await?;
        super::mark_repeated(&mut tx, super::PersonRows::Deployments, Some(person.id)).await?;
        self.append_audit(
            &mut tx,
            &AuditEvent::by(actor, "deployment.create", format!("deployment:{id}"), client).with_detail(format!(
                "{} person:{}",
                kind.key(),
                person.id
            )),
        )
        .await?;
        tx.commit().await?;
        self.deployment(actor, id).await
    }

    pub async fn deployment(&self, actor: &Actor, id: i64) -> StoreResult<Deployment> {
        let d: Deployment = sqlx::query_as(sqlx::AssertSqlSafe(format!("{DEPLOYMENT_SELECT} WHERE d.id = $1")))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        scope::require(actor, Right::ReadPeople, &d.node_path)?;
        Ok(d)
    }

    /// Deployments to nodes under `node_id`, newest first (at most 500).
    pub async fn deployments_under(&self, actor: &Actor, node_id: i64) -> StoreResult<Vec<Deployment>> {
        let node = self.node(actor, node_id).await?;
        scope::require(actor, Right::ReadPeople, &node.path)?;
        let mut sql = Sql::new(&format!("{DEPLOYMENT_SELECT} WHERE "));
        scope::push_subtree(&mut sql, "n.path", &node.path);
        sql.push(" ORDER BY d.started_on DESC, d.id DESC LIMIT 500");
        Ok(sql.query_as().fetch_all(&self.pool).await?)
    }
}
