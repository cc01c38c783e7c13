//! Activities at a node and sign-up with a waitlist. Capacity is enforced inside the writing
//! transaction: the activity's row is locked first (SQLite: `BEGIN IMMEDIATE`; PostgreSQL:
//! `SELECT … FOR UPDATE`), then the confirmed sign-ups are counted and the new one is confirmed
//! or waitlisted — so concurrent sign-ups queue on the activity and never exceed it. A cancelled
//! confirmed sign-up promotes the first waitlisted one in the same transaction.
//!
//! Staff with `ReadPeople` over the activity's node see it, with `ManagePeople` change it; a
//! resident (an account linked to a person) sees the activities of the nodes above their home
//! and signs up as that person.

use chrono::{DateTime, Utc};
use gongjian_domain::access::{Actor, Right};
use gongjian_domain::volunteers::activities::{ActivityDraft, ActivityForm, ActivityKind};
use serde::Serialize;
use utoipa::ToSchema;

use crate::audit::AuditEvent;
use crate::db::{Store, Tx};
use crate::error::{StoreError, StoreResult};
use crate::points::Holder;
use crate::sql::Sql;
use crate::tree::Node;
use crate::{scope, time_text};

/// An activity with its sign-up counts.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct Activity {
    pub id: i64,
    pub node_id: i64,
    pub node_name: String,
    #[serde(skip)]
    pub node_path: String,
    pub team_id: Option<i64>,
    pub team_name: Option<String>,
    pub campaign_id: Option<i64>,
    pub campaign_name: Option<String>,
    pub title: String,
    pub kind: String,
    pub place: String,
    pub content: String,
    pub starts_at: String,
    pub ends_at: String,
    pub capacity: i64,
    pub signup_opens_at: String,
    pub signup_closes_at: String,
    pub organiser_id: i64,
    pub organiser_name: String,
    pub scheme_id: Option<i64>,
    pub points_per_hour: i64,
    /// `open`, `closed` (attendance confirmed) or `cancelled`.
    pub status: String,
    pub confirmed: i64,
    pub waitlisted: i64,
    pub created_at: String,
}

impl Activity {
    pub fn kind_label(&self) -> &'static str {
        ActivityKind::parse(&self.kind)
            .map(ActivityKind::label_zh)
            .unwrap_or("活动")
    }
    pub fn status_label(&self) -> &'static str {
        match self.status.as_str() {
            "open" => "进行中",
            "closed" => "已确认考勤",
            _ => "已取消",
        }
    }
    pub(crate) fn start(&self) -> DateTime<Utc> {
        parse_time(&self.starts_at)
    }
    pub(crate) fn end(&self) -> DateTime<Utc> {
        parse_time(&self.ends_at)
    }
    /// The start as shown (China time), `YYYY-MM-DD HH:MM`.
    pub fn starts_local(&self) -> String {
        local(&self.starts_at)
    }
    pub fn ends_local(&self) -> String {
        local(&self.ends_at)
    }
    pub fn day(&self) -> String {
        local(&self.starts_at).chars().take(10).collect()
    }
    pub fn places_left(&self) -> i64 {
        (self.capacity - self.confirmed).max(0)
    }
}

/// Stored text to an instant (the epoch when unreadable, which no check passes).
pub(crate) fn parse_time(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

/// Stored text as China time, `YYYY-MM-DD HH:MM`.
pub fn local(s: &str) -> String {
    match DateTime::parse_from_rfc3339(s) {
        Ok(t) => (t.with_timezone(&Utc) + chrono::TimeDelta::hours(8))
            .format("%Y-%m-%d %H:%M")
            .to_string(),
        Err(_) => s.to_string(),
    }
}

pub(crate) const ACT_SELECT: &str = "SELECT a.id, a.node_id, n.name AS node_name, n.path AS node_path, a.team_id, \
     t.name AS team_name, a.campaign_id, c.name AS campaign_name, a.title, a.kind, a.place, a.content, a.starts_at, \
     a.ends_at, a.capacity, a.signup_opens_at, a.signup_closes_at, a.organiser_id, a.organiser_name, a.scheme_id, \
     a.points_per_hour, a.status, \
     (SELECT COUNT(*) FROM activity_signups s WHERE s.activity_id = a.id AND s.status = 'confirmed') AS confirmed, \
     (SELECT COUNT(*) FROM activity_signups s WHERE s.activity_id = a.id AND s.status = 'waitlisted') AS waitlisted, \
     a.created_at FROM activities a JOIN nodes n ON n.id = a.node_id \
     LEFT JOIN volunteer_teams t ON t.id = a.team_id LEFT JOIN campaigns c ON c.id = a.campaign_id";

/// A sign-up with its attendance.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct Signup {
    pub id: i64,
    pub activity_id: i64,
    pub person_id: i64,
    pub person_name: String,
    /// `confirmed`, `waitlisted` or `cancelled`.
    pub status: String,
    pub signed_up_at: String,
    pub checked_in_at: Option<String>,
    pub checked_out_at: Option<String>,
    /// `code` or `staff`.
    pub attendance_by: Option<String>,
}

impl Signup {
    pub fn status_label(&self) -> &'static str {
        match self.status.as_str() {
            "confirmed" => "已报名",
            "waitlisted" => "候补",
            _ => "已取消",
        }
    }
    pub fn checked_in_local(&self) -> String {
        self.checked_in_at.as_deref().map(local).unwrap_or_default()
    }
    pub fn checked_out_local(&self) -> String {
        self.checked_out_at.as_deref().map(local).unwrap_or_default()
    }
}

pub(crate) const SIGNUP_SELECT: &str = "SELECT s.id, s.activity_id, s.person_id, p.name AS person_name, s.status, \
     s.signed_up_at, s.checked_in_at, s.checked_out_at, s.attendance_by FROM activity_signups s \
     JOIN persons p ON p.id = s.person_id";

/// How the actor stands to an activity.
pub(crate) enum Access {
    /// Staff managing the node.
    Manage,
    /// Staff reading the node.
    Read,
    /// A resident living under the node (their own person).
    Resident(Holder),
}

/// Locks an activity's row until the transaction ends (PostgreSQL; SQLite's writer is alone).
pub(crate) async fn lock_activity(store: &Store, tx: &mut Tx, id: i64) -> StoreResult<(String, i64)> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT status, capacity FROM activities WHERE id = $1{}",
        store.engine.row_lock_suffix()
    )))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(StoreError::NotFound)
}

/// Promotes the first waitlisted sign-ups while places are free; returns how many moved up.
async fn promote(tx: &mut Tx, at: &str, activity_id: i64, capacity: i64) -> StoreResult<i64> {
    let confirmed: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM activity_signups WHERE activity_id = $1 AND status = 'confirmed'")
            .bind(activity_id)
            .fetch_one(&mut **tx)
            .await?;
    let free = capacity - confirmed;
    if free <= 0 {
        return Ok(0);
    }
    let ids: Vec<i64> = sqlx::query_scalar(
        "SELECT id FROM activity_signups WHERE activity_id = $1 AND status = 'waitlisted' \
         ORDER BY signed_up_at, id LIMIT $2",
    )
    .bind(activity_id)
    .bind(free)
    .fetch_all(&mut **tx)
    .await?;
    for id in &ids {
        sqlx::query("UPDATE activity_signups SET status = 'confirmed', updated_at = $1 WHERE id = $2")
            .bind(at)
            .bind(id)
            .execute(&mut **tx)
            .await?;
    }
    Ok(ids.len() as i64)
}

impl Store {
    pub(crate) async fn activity_access(&self, actor: &Actor, id: i64) -> StoreResult<(Activity, Access)> {
        let a: Activity = sqlx::query_as(sqlx::AssertSqlSafe(format!("{ACT_SELECT} WHERE a.id = $1")))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        if actor.scope(Right::ManagePeople).contains_path(&a.node_path) {
            return Ok((a, Access::Manage));
        }
        if actor.scope(Right::ReadPeople).contains_path(&a.node_path) {
            return Ok((a, Access::Read));
        }
        match self.own_person(actor).await? {
            Some(h) if h.home_path.starts_with(&a.node_path) => Ok((a, Access::Resident(h))),
            _ => Err(StoreError::NotFound),
        }
    }

    /// One activity the actor may see.
    pub async fn activity(&self, actor: &Actor, id: i64) -> StoreResult<Activity> {
        Ok(self.activity_access(actor, id).await?.0)
    }

    /// Whether the actor may change the activity (and show its check-in codes).
    pub async fn may_manage_activity(&self, actor: &Actor, a: &Activity) -> bool {
        actor.scope(Right::ManagePeople).contains_path(&a.node_path)
    }

    async fn check_links(&self, actor: &Actor, node: &Node, d: &ActivityDraft) -> StoreResult<()> {
        let mut v = gongjian_domain::Validation::new();
        if let Some(t) = d.team_id {
            match self.team(actor, t).await {
                Ok(team) if team.status == "active" => {}
                Ok(_) => v.push("team_id", "该服务队已解散"),
                Err(_) => v.push("team_id", "所选服务队不存在"),
            }
        }
        if let Some(c) = d.campaign_id {
            let path: Option<String> =
                sqlx::query_scalar("SELECT n.path FROM campaigns c JOIN nodes n ON n.id = c.node_id WHERE c.id = $1")
                    .bind(c)
                    .fetch_optional(&self.pool)
                    .await?;
            if !path.is_some_and(|p| node.path.starts_with(&p) || p.starts_with(&node.path)) {
                v.push("campaign_id", "所选主题活动不存在");
            }
        }
        if let Some(s) = d.scheme_id {
            match self.scheme(actor, s).await {
                Ok(s) if s.status == "active" && node.path.starts_with(&s.node_path) => {}
                Ok(_) => v.push("scheme_id", "该积分方案不适用于此活动的范围"),
                Err(_) => v.push("scheme_id", "所选积分方案不存在"),
            }
        }
        Ok(v.into_result()?)
    }

    /// Creates an activity at a node; the creating user is its organiser.
    pub async fn create_activity(
        &self,
        actor: &Actor,
        node_id: i64,
        f: &ActivityForm,
        client: &str,
    ) -> StoreResult<Activity> {
        let node = self.node(actor, node_id).await?;
        scope::require(actor, Right::ManagePeople, &node.path)?;
        let d = ActivityDraft::parse(f, self.now())?;
        if !node.is_active() {
            return Err(StoreError::field("node_id", "该节点已撤销"));
        }
        self.check_links(actor, &node, &d).await?;
        let organiser_name = match &d.organiser_name {
            Some(n) => n.clone(),
            None => self
                .user(actor.user_id)
                .await
                .map(|u| u.display_name)
                .unwrap_or_default(),
        };
        let now = self.now_text();
        let mut tx = self.begin_write().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO activities (node_id, team_id, campaign_id, title, kind, place, content, starts_at, ends_at, \
             capacity, signup_opens_at, signup_closes_at, organiser_id, organiser_name, scheme_id, points_per_hour, \
             status, created_by, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, \
             $13, $14, $15, $16, 'open', $13, $17, $17) RETURNING id",
        )
        .bind(node.id)
        .bind(d.team_id)
        .bind(d.campaign_id)
        .bind(&d.title)
        .bind(d.kind.key())
        .bind(&d.place)
        .bind(&d.content)
        .bind(time_text(d.starts_at))
        .bind(time_text(d.ends_at))
        .bind(d.capacity)
        .bind(time_text(d.signup_opens_at))
        .bind(time_text(d.signup_closes_at))
        .bind(actor.user_id)
        .bind(&organiser_name)
        .bind(d.scheme_id)
        .bind(d.points_per_hour)
        .bind(&now)
        .fetch_one(&mut *tx)
        .await?;
        self.append_audit(
            &mut tx,
            &AuditEvent::by(actor, "activity.create", format!("activity:{id}"), client).with_detail(d.title.clone()),
        )
        .await?;
        tx.commit().await?;
        self.activity(actor, id).await
    }

    /// Changes an open activity. The capacity cannot fall below the confirmed sign-ups; a
    /// larger capacity promotes waitlisted sign-ups at once.
    pub async fn update_activity(
        &self,
        actor: &Actor,
        id: i64,
        f: &ActivityForm,
        client: &str,
    ) -> StoreResult<Activity> {
        let (a, access) = self.activity_access(actor, id).await?;
        if !matches!(access, Access::Manage) {
            return Err(StoreError::Forbidden);
        }
        let d = ActivityDraft::parse(f, parse_time(&a.signup_opens_at))?;
        let node = self.node(actor, a.node_id).await?;
        self.check_links(actor, &node, &d).await?;
        let mut tx = self.begin_write().await?;
        let (status, _) = lock_activity(self, &mut tx, id).await?;
        if status != "open" {
            return Err(StoreError::field("status", "活动已结束或已取消，不能修改"));
        }
        let confirmed: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM activity_signups WHERE activity_id = $1 AND status = 'confirmed'")
                .bind(id)
                .fetch_one(&mut *tx)
                .await?;
        if d.capacity < confirmed {
            return Err(StoreError::field(
                "capacity",
                format!("已有 {confirmed} 人报名成功，名额不能少于此数"),
            ));
        }
        sqlx::query(
            "UPDATE activities SET team_id = $1, campaign_id = $2, title = $3, kind = $4, place = $5, content = $6, \
             starts_at = $7, ends_at = $8, capacity = $9, signup_opens_at = $10, signup_closes_at = $11, \
             organiser_name = COALESCE($12, organiser_name), scheme_id = $13, points_per_hour = $14, updated_at = $15 \
             WHERE id = $16",
        )
        .bind(d.team_id)
        .bind(d.campaign_id)
        .bind(&d.title)
        .bind(d.kind.key())
        .bind(&d.place)
        .bind(&d.content)
        .bind(time_text(d.starts_at))
        .bind(time_text(d.ends_at))
        .bind(d.capacity)
        .bind(time_text(d.signup_opens_at))
        .bind(time_text(d.signup_closes_at))
        .bind(d.organiser_name.clone())
        .bind(d.scheme_id)
        .bind(d.points_per_hour)
        .bind(self.now_text())
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let moved = promote(&mut tx, &self.now_text(), id, d.capacity).await?;
        self.append_audit(
            &mut tx,
            &AuditEvent::by(actor, "activity.update", format!("activity:{id}"), client)
                .with_detail(format!("promoted:{moved}")),
        )
        .await?;
        tx.commit().await?;
        self.activity(actor, id).await
    }

    /// Cancels an activity whose attendance is not confirmed yet.
    pub async fn cancel_activity(&self, actor: &Actor, id: i64, reason: &str, client: &str) -> StoreResult<Activity> {
        let (_, access) = self.activity_access(actor, id).await?;
        if !matches!(access, Access::Manage) {
            return Err(StoreError::Forbidden);
        }
        let reason = gongjian_domain::ids::free_text(reason, 200, false)
            .map_err(|m| StoreError::field("reason", m))?
            .ok_or_else(|| StoreError::field("reason", "请说明取消原因"))?;
        let mut tx = self.begin_write().await?;
        let (status, _) = lock_activity(self, &mut tx, id).await?;
        if status != "open" {
            return Err(StoreError::field("status", "活动已确认考勤或已取消"));
        }
        sqlx::query("UPDATE activities SET status = 'cancelled', updated_at = $1 WHERE id = $2")
            .bind(self.now_text())
            .bind(id)
            .execute(&mut *tx)
            .await?;
        self.append_audit(
            &mut tx,
            &AuditEvent::by(actor, "activity.cancel", format!("activity:{id}"), client).with_detail(reason),
        )
        .await?;
        tx.commit().await?;
        self.activity(actor, id).await
    }

    /// Activities under a node starting in `[from, to)` (stored instants), in start order.
    pub async fn activities_under(
        &self,
        actor: &Actor,
        node_id: i64,
        from: &str,
        to: &str,
    ) -> StoreResult<Vec<Activity>> {
        let node = self.node(actor, node_id).await?;
        scope::require(actor, Right::ReadPeople, &node.path)?;
        let mut sql = Sql::new(&format!("{ACT_SELECT} WHERE "));
        scope::push_subtree(&mut sql, "n.path", &node.path);
        sql.push(" AND a.starts_at >= ")
            .bind(from.to_string())
            .push(" AND a.starts_at < ")
            .bind(to.to_string())
            .push(" ORDER BY a.starts_at, a.id LIMIT 2000");
        Ok(sql.query_as().fetch_all(&self.pool).await?)
    }

    /// A resident's activities: those of the nodes above their home that have not ended, and
    /// every one they signed up for, with their sign-up.
    pub async fn my_activities(&self, actor: &Actor) -> StoreResult<Vec<(Activity, Option<Signup>)>> {
        let Some(me) = self.own_person(actor).await? else {
            return Err(StoreError::field(
                "person_id",
                "账号尚未关联居民信息，请联系社区工作人员",
            ));
        };
        let ids: Vec<i64> = me.home_path.split('/').filter_map(|s| s.parse::<i64>().ok()).collect();
        let mut sql = Sql::new(&format!("{ACT_SELECT} WHERE ((a.node_id IN ("));
        for (i, id) in ids.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.bind(*id);
        }
        if ids.is_empty() {
            sql.push("0");
        }
        sql.push(") AND a.ends_at >= ")
            .bind(self.now_text())
            .push(" AND a.status = 'open') OR a.id IN (SELECT activity_id FROM activity_signups WHERE person_id = ")
            .bind(me.id)
            .push(")) ORDER BY a.starts_at DESC, a.id DESC LIMIT 200");
        let acts: Vec<Activity> = sql.query_as().fetch_all(&self.pool).await?;
        let mine: Vec<Signup> = sqlx::query_as(sqlx::AssertSqlSafe(format!("{SIGNUP_SELECT} WHERE s.person_id = $1")))
            .bind(me.id)
            .fetch_all(&self.pool)
            .await?;
        Ok(acts
            .into_iter()
            .map(|a| {
                let s = mine.iter().find(|s| s.activity_id == a.id).cloned();
                (a, s)
            })
            .collect())
    }

    /// The sign-ups of an activity: confirmed and waitlisted in queue order, then cancelled.
    /// Staff see all; a resident sees their own.
    pub async fn signups(&self, actor: &Actor, activity_id: i64) -> StoreResult<Vec<Signup>> {
        let (_, access) = self.activity_access(actor, activity_id).await?;
        let rows: Vec<Signup> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "{SIGNUP_SELECT} WHERE s.activity_id = $1 ORDER BY CASE s.status WHEN 'confirmed' THEN 0 \
             WHEN 'waitlisted' THEN 1 ELSE 2 END, s.signed_up_at, s.id"
        )))
        .bind(activity_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(match access {
            Access::Resident(h) => rows.into_iter().filter(|s| s.person_id == h.id).collect(),
            _ => rows,
        })
    }

    /// Whom a sign-up is for: the actor's own person, or a person given by staff who manage
    /// the activity and the person.
    async fn signup_person(
        &self,
        actor: &Actor,
        a: &Activity,
        access: &Access,
        person_id: Option<i64>,
    ) -> StoreResult<Holder> {
        match (access, person_id) {
            (Access::Resident(h), None) => Ok(h.clone()),
            (Access::Resident(h), Some(p)) if p == h.id => Ok(h.clone()),
            (Access::Resident(_), Some(_)) | (Access::Read, _) => Err(StoreError::Forbidden),
            (Access::Manage, None) => self
                .own_person(actor)
                .await?
                .filter(|h| h.home_path.starts_with(&a.node_path))
                .ok_or_else(|| StoreError::field("person_id", "请选择报名的居民")),
            (Access::Manage, Some(p)) => {
                let h = self
                    .holder(p)
                    .await
                    .map_err(|_| StoreError::field("person_id", "居民不存在"))?;
                if !actor.scope(Right::ManagePeople).contains_path(&h.home_path) {
                    return Err(StoreError::field("person_id", "居民不存在"));
                }
                if !h.home_path.starts_with(&a.node_path) {
                    return Err(StoreError::field("person_id", "该居民不在本活动的范围内"));
                }
                Ok(h)
            }
        }
    }

    /// Signs a person up inside the sign-up window: confirmed while places are free, then
    /// waitlisted in order. Signing up again after cancelling joins the end of the queue.
    pub async fn sign_up(
        &self,
        actor: &Actor,
        activity_id: i64,
        person_id: Option<i64>,
        client: &str,
    ) -> StoreResult<Signup> {
        let (a, access) = self.activity_access(actor, activity_id).await?;
        let person = self.signup_person(actor, &a, &access, person_id).await?;
        let now = self.now();
        if now < parse_time(&a.signup_opens_at) {
            return Err(StoreError::field(
                "activity_id",
                format!("报名将于 {} 开始", local(&a.signup_opens_at)),
            ));
        }
        if now > parse_time(&a.signup_closes_at) {
            return Err(StoreError::field("activity_id", "报名已截止"));
        }
        let now = self.now_text();
        let mut tx = self.begin_write().await?;
        let (status, capacity) = lock_activity(self, &mut tx, activity_id).await?;
        if status != "open" {
            return Err(StoreError::field("activity_id", "活动已取消或已结束"));
        }
        let existing: Option<(i64, String)> =
            sqlx::query_as("SELECT id, status FROM activity_signups WHERE activity_id = $1 AND person_id = $2")
                .bind(activity_id)
                .bind(person.id)
                .fetch_optional(&mut *tx)
                .await?;
        if let Some((_, s)) = &existing
            && s != "cancelled"
        {
            return Err(StoreError::field("activity_id", "已报名，无需重复报名"));
        }
        let confirmed: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM activity_signups WHERE activity_id = $1 AND status = 'confirmed'")
                .bind(activity_id)
                .fetch_one(&mut *tx)
                .await?;
        let new_status = if confirmed < capacity {
            "confirmed"
        } else {
            "waitlisted"
        };
        let id: i64 = match existing {
            Some((id, _)) => {
                sqlx::query(
                    "UPDATE activity_signups SET status = $1, signed_up_at = $2, updated_at = $2 WHERE id = $3",
                )
                .bind(new_status)
                .bind(&now)
                .bind(id)
                .execute(&mut *tx)
                .await?;
                id
            }
            None => {
                sqlx::query_scalar(
                    "INSERT INTO activity_signups (activity_id, person_id, status, signed_up_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $4) RETURNING id",
                )
                .bind(activity_id)
                .bind(person.id)
                .bind(new_status)
                .bind(&now)
                .fetch_one(&mut *tx)
                .await?
            }
        };
        self.append_audit(
            &mut tx,
            &AuditEvent::by(actor, "activity.signup", format!("activity:{activity_id}"), client)
                .with_detail(format!("person:{} {new_status}", person.id)),
        )
        .await?;
        tx.commit().await?;
        self.signup_row(id).await
    }

    pub(crate) async fn signup_row(&self, id: i64) -> StoreResult<Signup> {
        sqlx::query_as(sqlx::AssertSqlSafe(format!("{SIGNUP_SELECT} WHERE s.id = $1")))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)
    }

    /// Cancels a sign-up that has not checked in; a freed place goes to the first waitlisted
    /// sign-up in the same transaction.
    pub async fn cancel_signup(
        &self,
        actor: &Actor,
        activity_id: i64,
        person_id: Option<i64>,
        client: &str,
    ) -> StoreResult<Signup> {
        let (a, access) = self.activity_access(actor, activity_id).await?;
        let person = self.signup_person(actor, &a, &access, person_id).await?;
        let mut tx = self.begin_write().await?;
        let (status, capacity) = lock_activity(self, &mut tx, activity_id).await?;
        if status != "open" {
            return Err(StoreError::field("activity_id", "活动已取消或已结束"));
        }
        let row: Option<(i64, String, Option<String>)> = sqlx::query_as(
            "SELECT id, status, checked_in_at FROM activity_signups WHERE activity_id = $1 AND person_id = $2",
        )
        .bind(activity_id)
        .bind(person.id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((id, s, checked_in)) = row.filter(|r| r.1 != "cancelled") else {
            return Err(StoreError::field("activity_id", "未报名本活动"));
        };
        if checked_in.is_some() {
            return Err(StoreError::field("activity_id", "已签到，不能取消报名"));
        }
        sqlx::query("UPDATE activity_signups SET status = 'cancelled', updated_at = $1 WHERE id = $2")
            .bind(self.now_text())
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let moved = if s == "confirmed" {
            promote(&mut tx, &self.now_text(), activity_id, capacity).await?
        } else {
            0
        };
        self.append_audit(
            &mut tx,
            &AuditEvent::by(
                actor,
                "activity.signup.cancel",
                format!("activity:{activity_id}"),
                client,
            )
            .with_detail(format!("person:{} promoted:{moved}", person.id)),
        )
        .await?;
        tx.commit().await?;
        self.signup_row(id).await
    }
}
