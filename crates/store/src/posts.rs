//! Posts over time: appointing a person to a post at a node or in a party organisation, ending
//! it, and listing who holds what. One holder at a time for 书记 and 居委会主任.

use chrono::NaiveDate;
use gongjian_domain::Validation;
use gongjian_domain::access::{Actor, Right};
use gongjian_domain::posts::PostKind;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::audit::AuditEvent;
use crate::db::{Store, Tx};
use crate::error::{StoreError, StoreResult};
use crate::scope;

/// A post as listed.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct Post {
    pub id: i64,
    pub person_id: i64,
    pub person_name: String,
    pub kind: String,
    pub node_id: Option<i64>,
    pub org_id: Option<i64>,
    /// Where: the node's or the organisation's name.
    pub place: String,
    pub grade: Option<String>,
    pub started_on: String,
    pub ended_on: Option<String>,
}

impl Post {
    pub fn kind_label(&self) -> &'static str {
        PostKind::from_key(&self.kind).map(|k| k.label_zh()).unwrap_or("")
    }
}

const POST_SELECT: &str = "SELECT p.id, p.person_id, pe.name AS person_name, p.kind, p.node_id, p.org_id, \
     COALESCE(n.name, o.name, '') AS place, p.grade, p.started_on, p.ended_on FROM posts p \
     JOIN persons pe ON pe.id = p.person_id LEFT JOIN nodes n ON n.id = p.node_id \
     LEFT JOIN party_orgs o ON o.id = p.org_id";

/// An appointment as typed.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
pub struct PostInput {
    pub person_id: Option<i64>,
    /// Post kind key, e.g. `secretary`, `rc_director`, `grid_worker`.
    #[serde(default)]
    pub kind: String,
    /// For posts at a node.
    #[serde(default)]
    pub node_id: Option<i64>,
    /// For posts in a party organisation.
    #[serde(default)]
    pub org_id: Option<i64>,
    /// Grade of a community worker, e.g. 一级.
    #[serde(default)]
    pub grade: Option<String>,
    /// `YYYY-MM-DD`; today when blank.
    #[serde(default)]
    pub started_on: Option<String>,
}

fn parse_date(v: &mut Validation, field: &str, raw: Option<&str>, today: NaiveDate) -> Option<NaiveDate> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => Some(today),
        Some(s) => match NaiveDate::parse_from_str(s, "%Y-%m-%d") {
            Ok(d) if d <= today => Some(d),
            Ok(_) => {
                v.push(field, "日期不能晚于今天");
                None
            }
            Err(_) => {
                v.push(field, format!("“{s}”不是有效日期，格式为 2024-07-01"));
                None
            }
        },
    }
}

/// Where a post is held: a node for node posts, an organisation for party posts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct PostPlace {
    pub kind: PostKind,
    pub node_id: Option<i64>,
    pub org_id: Option<i64>,
}

/// Who holds a single-holder post (书记, 居委会主任) at a place now, if anyone.
pub(crate) async fn current_holder(tx: &mut Tx, place: &PostPlace) -> StoreResult<Option<String>> {
    if !place.kind.is_single() {
        return Ok(None);
    }
    Ok(sqlx::query_scalar(
        "SELECT pe.name FROM posts p JOIN persons pe ON pe.id = p.person_id WHERE p.kind = $1 \
         AND p.ended_on IS NULL AND (p.node_id = $2 OR p.org_id = $3)",
    )
    .bind(place.kind.key())
    .bind(place.node_id.unwrap_or(-1))
    .bind(place.org_id.unwrap_or(-1))
    .fetch_optional(&mut **tx)
    .await?)
}

/// The refusal when a single-holder post is taken.
pub(crate) fn held_by(kind: PostKind, name: &str) -> String {
    format!("{}现由{}担任，请先结束其任期", kind.label_zh(), name)
}

/// Writes an appointment; the caller has checked it.
pub(crate) async fn insert_post(
    tx: &mut Tx,
    person_id: i64,
    place: &PostPlace,
    grade: Option<String>,
    started: NaiveDate,
    now: &str,
) -> StoreResult<i64> {
    Ok(sqlx::query_scalar(
        "INSERT INTO posts (person_id, kind, node_id, org_id, grade, started_on, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(person_id)
    .bind(place.kind.key())
    .bind(place.node_id)
    .bind(place.org_id)
    .bind(grade)
    .bind(started.format("%Y-%m-%d").to_string())
    .bind(now)
    .fetch_one(&mut **tx)
    .await?)
}

impl Store {
    /// Appoints a person to a post. The place must be one the actor manages; the person must
    /// be one the actor can see.
    pub async fn assign_post(&self, actor: &Actor, input: &PostInput, client: &str) -> StoreResult<Post> {
        let mut v = Validation::new();
        let kind = PostKind::from_key(input.kind.trim());
        if kind.is_none() {
            v.push("kind", "请选择职务");
        }
        let started = parse_date(&mut v, "started_on", input.started_on.as_deref(), self.today());
        let person = match input.person_id {
            Some(id) => self.person(actor, id).await.ok(),
            None => None,
        };
        if person.is_none() {
            v.push("person_id", "请选择担任职务的人员（须先登记为居民）");
        }
        let grade = v
            .check("grade", PostKind::parse_grade(input.grade.as_deref().unwrap_or("")))
            .flatten();
        // Where the post is held, and the path that decides who may appoint.
        let mut place_path = None;
        if let Some(k) = kind {
            if k.in_party_org() {
                match input.org_id {
                    Some(id) => match self.party_org(actor, id).await {
                        Ok(o) if o.is_active() => place_path = Some(o.territory_path),
                        _ => v.push("org_id", "所选党组织不存在或已撤销"),
                    },
                    None => v.push("org_id", format!("“{}”是党组织的职务，请选择党组织", k.label_zh())),
                }
            } else {
                match input.node_id {
                    Some(id) => match self.node(actor, id).await {
                        Ok(n) if !k.node_levels().contains(&n.level) => {
                            v.push("node_id", format!("“{}”不设在{}", k.label_zh(), n.level.label_zh()))
                        }
                        Ok(n) if n.is_active() => place_path = Some(n.path),
                        _ => v.push("node_id", "所选节点不存在或已撤销"),
                    },
                    None => v.push("node_id", "请选择任职的节点"),
                }
            }
        }
        if let Some(path) = &place_path
            && scope::require(actor, Right::ManagePeople, path).is_err()
        {
            v.push(
                if kind.is_some_and(|k| k.in_party_org()) {
                    "org_id"
                } else {
                    "node_id"
                },
                "无权在此任命",
            );
        }
        v.clone().into_result()?;
        let (Some(kind), Some(started), Some(person)) = (kind, started, person) else {
            return Err(v.into());
        };
        let (node_id, org_id) = if kind.in_party_org() {
            (None, input.org_id)
        } else {
            (input.node_id, None)
        };
        let mut tx = self.begin_write().await?;
        let place = PostPlace { kind, node_id, org_id };
        if let Some(name) = current_holder(&mut tx, &place).await? {
            return Err(StoreError::field("kind", held_by(kind, &name)));
        }
        let id = insert_post(&mut tx, person.id, &place, grade, started, &self.now_text()).await?;
        self.append_audit(
            &mut tx,
            &AuditEvent::by(actor, "post.assign", format!("post:{id}"), client).with_detail(format!(
                "{} person:{}",
                kind.key(),
                person.id
            )),
        )
        .await?;
        tx.commit().await?;
        self.post(actor, id).await
    }

    pub async fn post(&self, actor: &Actor, id: i64) -> StoreResult<Post> {
        let post: Post = sqlx::query_as(sqlx::AssertSqlSafe(format!("{POST_SELECT} WHERE p.id = $1")))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        self.person(actor, post.person_id).await?;
        Ok(post)
    }

    /// Ends a post on a date (today when blank).
    pub async fn end_post(&self, actor: &Actor, id: i64, ended_on: Option<&str>, client: &str) -> StoreResult<Post> {
        let post = self.post(actor, id).await?;
        let path = match (post.node_id, post.org_id) {
            (Some(n), _) => self.node(actor, n).await?.path,
            (_, Some(o)) => self.party_org(actor, o).await?.territory_path,
            _ => return Err(StoreError::NotFound),
        };
        scope::require(actor, Right::ManagePeople, &path)?;
        if post.ended_on.is_some() {
            return Err(StoreError::field("ended_on", "该任职已结束"));
        }
        let mut v = Validation::new();
        let Some(ended) = parse_date(&mut v, "ended_on", ended_on, self.today()) else {
            return Err(v.into());
        };
        if ended.format("%Y-%m-%d").to_string() < post.started_on {
            return Err(StoreError::field("ended_on", "结束日期不能早于开始日期"));
        }
        let mut tx = self.begin_write().await?;
        sqlx::query("UPDATE posts SET ended_on = $1 WHERE id = $2")
            .bind(ended.format("%Y-%m-%d").to_string())
            .bind(id)
            .execute(&mut *tx)
            .await?;
        self.append_audit(
            &mut tx,
            &AuditEvent::by(actor, "post.end", format!("post:{id}"), client),
        )
        .await?;
        tx.commit().await?;
        self.post(actor, id).await
    }

    /// Current posts at a node and in the party organisations covering it.
    pub async fn posts_at(&self, actor: &Actor, node_id: i64) -> StoreResult<Vec<Post>> {
        let node = self.node(actor, node_id).await?;
        if scope::require(actor, Right::ReadPeople, &node.path).is_err() {
            return Ok(Vec::new());
        }
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "{POST_SELECT} WHERE p.ended_on IS NULL AND (p.node_id = $1 OR p.org_id IN \
             (SELECT id FROM party_orgs WHERE territory_node_id = $1)) ORDER BY p.kind, p.started_on"
        )))
        .bind(node_id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// A person's posts, current and past, newest first.
    pub async fn posts_of(&self, actor: &Actor, person_id: i64) -> StoreResult<Vec<Post>> {
        self.person(actor, person_id).await?;
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "{POST_SELECT} WHERE p.person_id = $1 ORDER BY p.started_on DESC, p.id DESC"
        )))
        .bind(person_id)
        .fetch_all(&self.pool)
        .await?)
    }
}
