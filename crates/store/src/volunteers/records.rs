//! Service records (hours). "谁组织谁记录": the organiser of an activity confirms its
//! attendance, which writes one `attendance` record per person who attended — minutes from
//! check-in and check-out clipped to the activity's start and end (a missing check-out counts
//! to the end: the organiser's confirmation certifies the person stayed, and a correction
//! records otherwise) — and closes the activity,
//! all in one transaction. Points (points per hour × hours, whole points, rounded down) are then
//! issued through [`Store::credit_points`], the ledger's one issuing function, under the key
//! `service-record-ID`: it runs in its own transaction, so a record whose points failed keeps
//! `points_tx_id` empty and the job [`Store::retry_pending_points`] (run by the server every
//! minute) or staff through [`Store::credit_record_points`] issue them later, at most once.
//!
//! A manual record (service without check-in) is entered by staff into
//! `service_record_drafts` and becomes a record only when another user with the right over
//! the node confirms it (the one who entered it cannot). Records are never changed: a
//! correction is a new record pointing at the one it corrects, with `delta_minutes` = new −
//! old, so summing `delta_minutes` gives the hours now; a record is corrected at most once (a
//! unique index), so a second change corrects the correction. Corrections do not move points.

use gongjian_domain::access::{Actor, Right};
use gongjian_domain::dates::day_text;
use gongjian_domain::points::{CreditSource, Points};
use gongjian_domain::registration::Minutes;
use gongjian_domain::volunteers::attendance::{CorrectionForm, ManualDraft, ManualForm, clipped_minutes};
use serde::Serialize;
use utoipa::ToSchema;

use super::activities::{Access, lock_activity, parse_time};
use crate::audit::AuditEvent;
use crate::db::Store;
use crate::error::{StoreError, StoreResult};
use crate::sql::Sql;
use crate::{scope, time_text};

/// A service record.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct ServiceRecord {
    pub id: i64,
    pub person_id: i64,
    pub person_name: String,
    pub node_id: i64,
    #[serde(skip)]
    pub node_path: String,
    pub activity_id: Option<i64>,
    pub activity_title: Option<String>,
    pub served_on: String,
    pub started_at: Option<String>,
    pub ended_at: Option<String>,
    pub minutes: i64,
    pub delta_minutes: i64,
    pub content: String,
    pub place: String,
    /// `attendance`, `manual` or `correction`.
    pub source: String,
    pub corrects_id: Option<i64>,
    pub reason: String,
    pub organiser_name: String,
    pub recorded_by: i64,
    pub confirmed_by: i64,
    pub confirmer_name: Option<String>,
    pub confirmed_at: String,
    pub points_tx_id: Option<i64>,
    /// Whether a later record corrects this one.
    pub corrected: i64,
}

impl ServiceRecord {
    pub fn hours_text(&self) -> String {
        Minutes::hours_text(self.minutes)
    }
    pub fn source_label(&self) -> &'static str {
        match self.source.as_str() {
            "attendance" => "签到考勤",
            "manual" => "补录",
            _ => "更正",
        }
    }
}

const REC_SELECT: &str = "SELECT r.id, r.person_id, p.name AS person_name, r.node_id, n.path AS node_path, \
     r.activity_id, a.title AS activity_title, r.served_on, r.started_at, r.ended_at, r.minutes, r.delta_minutes, \
     r.content, r.place, r.source, r.corrects_id, r.reason, r.organiser_name, r.recorded_by, r.confirmed_by, \
     u.display_name AS confirmer_name, r.confirmed_at, r.points_tx_id, \
     (SELECT COUNT(*) FROM service_records x WHERE x.corrects_id = r.id) AS corrected \
     FROM service_records r JOIN persons p ON p.id = r.person_id JOIN nodes n ON n.id = r.node_id \
     LEFT JOIN activities a ON a.id = r.activity_id LEFT JOIN users u ON u.id = r.confirmed_by";

/// A manual record waiting for its confirmer.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct ManualRecord {
    pub id: i64,
    pub person_id: i64,
    pub person_name: String,
    pub node_id: i64,
    #[serde(skip)]
    pub node_path: String,
    pub activity_id: Option<i64>,
    pub served_on: String,
    pub minutes: i64,
    pub content: String,
    pub place: String,
    pub organiser_name: String,
    pub reason: String,
    pub entered_by: i64,
    pub entered_at: String,
    /// `pending`, `confirmed` or `rejected`.
    pub status: String,
    pub record_id: Option<i64>,
}

impl ManualRecord {
    pub fn hours_text(&self) -> String {
        Minutes::hours_text(self.minutes)
    }
}

const DRAFT_SELECT: &str = "SELECT d.id, d.person_id, p.name AS person_name, d.node_id, n.path AS node_path, \
     d.activity_id, d.served_on, d.minutes, d.content, d.place, d.organiser_name, d.reason, d.entered_by, \
     d.entered_at, d.status, d.record_id FROM service_record_drafts d JOIN persons p ON p.id = d.person_id \
     JOIN nodes n ON n.id = d.node_id";

/// What a run of [`Store::retry_pending_points`] did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PointsRetry {
    /// Records whose points were issued in this run.
    pub credited: Vec<i64>,
    /// Records whose points still could not be issued.
    pub pending: Vec<i64>,
}

/// What confirming an activity's attendance wrote.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AttendanceOutcome {
    pub records: Vec<ServiceRecord>,
    /// Records whose points could not be issued yet (retry with the record's points call).
    pub points_pending: Vec<i64>,
}

impl Store {
    /// The organiser confirms attendance: records for everyone who attended, the activity
    /// closed, then the points issued.
    pub async fn confirm_attendance(
        &self,
        actor: &Actor,
        activity_id: i64,
        client: &str,
    ) -> StoreResult<AttendanceOutcome> {
        let (a, access) = self.activity_access(actor, activity_id).await?;
        if !matches!(access, Access::Manage) || a.organiser_id != actor.user_id {
            return Err(StoreError::Forbidden);
        }
        let now = self.now();
        let (start, end) = (a.start(), a.end());
        if now < start {
            return Err(StoreError::field("activity_id", "活动尚未开始，不能确认考勤"));
        }
        let served_on = day_text((start + chrono::TimeDelta::hours(8)).date_naive());
        let confirmed_at = self.now_text();
        let mut tx = self.begin_write().await?;
        let (status, _) = lock_activity(self, &mut tx, activity_id).await?;
        if status != "open" {
            return Err(StoreError::field("activity_id", "活动已取消或考勤已确认"));
        }
        let rows: Vec<(i64, String, Option<String>)> = sqlx::query_as(
            "SELECT person_id, checked_in_at, checked_out_at FROM activity_signups \
             WHERE activity_id = $1 AND status = 'confirmed' AND checked_in_at IS NOT NULL ORDER BY id",
        )
        .bind(activity_id)
        .fetch_all(&mut *tx)
        .await?;
        let mut ids = Vec::new();
        for (person_id, cin, cout) in rows {
            let cin = parse_time(&cin);
            let cout = cout.as_deref().map(parse_time).unwrap_or(end);
            let minutes = clipped_minutes(cin, cout, start, end);
            if minutes <= 0 {
                continue;
            }
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO service_records (person_id, node_id, activity_id, served_on, started_at, ended_at, \
                 minutes, delta_minutes, content, place, source, organiser_name, recorded_by, confirmed_by, \
                 confirmed_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8, $9, 'attendance', $10, $11, \
                 $11, $12, $12) RETURNING id",
            )
            .bind(person_id)
            .bind(a.node_id)
            .bind(activity_id)
            .bind(&served_on)
            .bind(time_text(cin.max(start)))
            .bind(time_text(cout.min(end)))
            .bind(minutes)
            .bind(&a.title)
            .bind(&a.place)
            .bind(&a.organiser_name)
            .bind(actor.user_id)
            .bind(&confirmed_at)
            .fetch_one(&mut *tx)
            .await?;
            ids.push(id);
        }
        sqlx::query("UPDATE activities SET status = 'closed', updated_at = $1 WHERE id = $2")
            .bind(&confirmed_at)
            .bind(activity_id)
            .execute(&mut *tx)
            .await?;
        self.append_audit(
            &mut tx,
            &AuditEvent::by(actor, "activity.attendance", format!("activity:{activity_id}"), client)
                .with_detail(format!("records:{}", ids.len())),
        )
        .await?;
        tx.commit().await?;
        let mut pending = Vec::new();
        for id in &ids {
            if self.credit_record_points(actor, *id, client).await.is_err() {
                pending.push(*id);
            }
        }
        let records = self.records_of_activity(actor, activity_id).await?;
        Ok(AttendanceOutcome {
            records,
            points_pending: pending,
        })
    }

    /// The job that issues points left pending: every record (oldest first, at most `limit`)
    /// of an activity with a points rule whose points were not issued — the scheme was paused,
    /// the database refused the write — is credited again on behalf of the user who confirmed
    /// it, under the same key, so a record is never paid twice. A record that still cannot be
    /// paid stays pending for the next run and is logged.
    pub async fn retry_pending_points(&self, limit: i64) -> StoreResult<PointsRetry> {
        let rows: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT r.id, r.confirmed_by FROM service_records r JOIN activities a ON a.id = r.activity_id \
             WHERE r.points_tx_id IS NULL AND a.scheme_id IS NOT NULL AND a.points_per_hour > 0 \
             AND (r.corrects_id IS NOT NULL OR a.points_per_hour * r.minutes / 60 > 0) \
             ORDER BY r.id LIMIT $1",
        )
        .bind(limit.clamp(1, 10_000))
        .fetch_all(&self.pool)
        .await?;
        let mut out = PointsRetry::default();
        for (record, confirmer) in rows {
            let paid = match self.actor(confirmer).await {
                Ok(actor) => self.credit_record_points(&actor, record, "job:points-retry").await,
                Err(e) => Err(e),
            };
            match paid {
                Ok(Some(_)) => out.credited.push(record),
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(record, error = %e, "pending points not issued; retried on the next run");
                    out.pending.push(record);
                }
            }
        }
        Ok(out)
    }

    /// Issues the points a record earns under its activity's rule, once (the key is the
    /// record's); answers the transaction id, or none when the rule gives no points.
    pub async fn credit_record_points(&self, actor: &Actor, record_id: i64, client: &str) -> StoreResult<Option<i64>> {
        let r = self.service_record(actor, record_id).await?;
        if let Some(tx) = r.points_tx_id {
            return Ok(Some(tx));
        }
        let Some(activity_id) = r.activity_id else {
            return Ok(None);
        };
        let (scheme, per_hour): (Option<i64>, i64) =
            sqlx::query_as("SELECT scheme_id, points_per_hour FROM activities WHERE id = $1")
                .bind(activity_id)
                .fetch_one(&self.pool)
                .await?;
        let Some(scheme) = scheme else {
            return Ok(None);
        };
        let earned = |minutes: i64| per_hour * minutes / 60;
        // A correction moves the difference between what the corrected record earned and what
        // the correction earns, once the corrected record's points were issued.
        let amount = match r.corrects_id {
            None => earned(r.minutes),
            Some(prev_id) => {
                let prev = self.service_record(actor, prev_id).await?;
                if prev.points_tx_id.is_none() && earned(prev.minutes) != 0 {
                    return Err(StoreError::field("record_id", "被更正记录的积分尚未发放，请先发放"));
                }
                earned(r.minutes) - earned(prev.minutes)
            }
        };
        let key = format!("service-record-{record_id}");
        let tx = if amount > 0 {
            let points = Points::new(amount).map_err(|e| StoreError::field("points", e))?;
            let source = CreditSource::Hours { record_id };
            self.credit_points(actor, &source, r.person_id, scheme, points, &key, client)
                .await?
        } else if amount < 0 {
            let points = Points::new(-amount).map_err(|e| StoreError::field("points", e))?;
            self.deduct_points(actor, r.person_id, scheme, points, "志愿服务时长更正", &key, client)
                .await?
        } else {
            return Ok(None);
        };
        sqlx::query("UPDATE service_records SET points_tx_id = $1 WHERE id = $2 AND points_tx_id IS NULL")
            .bind(tx.id)
            .bind(record_id)
            .execute(&self.pool)
            .await?;
        Ok(Some(tx.id))
    }

    pub async fn service_record(&self, actor: &Actor, id: i64) -> StoreResult<ServiceRecord> {
        let r: ServiceRecord = sqlx::query_as(sqlx::AssertSqlSafe(format!("{REC_SELECT} WHERE r.id = $1")))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        if actor.scope(Right::ReadPeople).contains_path(&r.node_path) {
            return Ok(r);
        }
        match self.own_person(actor).await? {
            Some(h) if h.id == r.person_id => Ok(r),
            _ => Err(StoreError::NotFound),
        }
    }

    /// The records of an activity.
    pub async fn records_of_activity(&self, actor: &Actor, activity_id: i64) -> StoreResult<Vec<ServiceRecord>> {
        let (_, access) = self.activity_access(actor, activity_id).await?;
        let rows: Vec<ServiceRecord> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "{REC_SELECT} WHERE r.activity_id = $1 ORDER BY r.id"
        )))
        .bind(activity_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(match access {
            Access::Resident(h) => rows.into_iter().filter(|r| r.person_id == h.id).collect(),
            _ => rows,
        })
    }

    /// A person's records, newest first, and their minutes now (corrections applied). Staff
    /// who read the person, or the person's own account.
    pub async fn records_of_person(&self, actor: &Actor, person_id: i64) -> StoreResult<(Vec<ServiceRecord>, i64)> {
        let own = self.own_person(actor).await?.is_some_and(|h| h.id == person_id);
        if !own {
            let h = self.holder(person_id).await?;
            scope::require(actor, Right::ReadPeople, &h.home_path).map_err(|_| StoreError::NotFound)?;
        }
        let rows: Vec<ServiceRecord> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "{REC_SELECT} WHERE r.person_id = $1 ORDER BY r.served_on DESC, r.id DESC LIMIT 1000"
        )))
        .bind(person_id)
        .fetch_all(&self.pool)
        .await?;
        let total: i64 = sqlx::query_scalar(
            "SELECT CAST(COALESCE(SUM(delta_minutes), 0) AS BIGINT) FROM service_records WHERE person_id = $1",
        )
        .bind(person_id)
        .fetch_one(&self.pool)
        .await?;
        Ok((rows, total))
    }

    /// Corrects a record with a new one; the original stays as it was.
    pub async fn correct_record(
        &self,
        actor: &Actor,
        record_id: i64,
        f: &CorrectionForm,
        client: &str,
    ) -> StoreResult<ServiceRecord> {
        let old = self.service_record(actor, record_id).await?;
        scope::require(actor, Right::ManagePeople, &old.node_path)?;
        let (minutes, reason) = f.parse()?;
        if old.corrected > 0 {
            return Err(StoreError::field("hours", "该记录已被更正，请更正最新的记录"));
        }
        if minutes == old.minutes {
            return Err(StoreError::field("hours", "时长与原记录相同，无需更正"));
        }
        let now = self.now_text();
        let mut tx = self.begin_write().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO service_records (person_id, node_id, activity_id, served_on, started_at, ended_at, minutes, \
             delta_minutes, content, place, source, corrects_id, reason, organiser_name, recorded_by, confirmed_by, \
             confirmed_at, created_at) SELECT person_id, node_id, activity_id, served_on, started_at, ended_at, $1, \
             $2, content, place, 'correction', id, $3, organiser_name, $4, $4, $5, $5 FROM service_records WHERE id = $6 \
             RETURNING id",
        )
        .bind(minutes)
        .bind(minutes - old.minutes)
        .bind(&reason)
        .bind(actor.user_id)
        .bind(&now)
        .bind(record_id)
        .fetch_one(&mut *tx)
        .await
        .map_err(StoreError::from)
        .map_err(|e| crate::tree::map_unique(e, "hours", "该记录已被更正，请更正最新的记录"))?;
        self.append_audit(
            &mut tx,
            &AuditEvent::by(
                actor,
                "service_record.correct",
                format!("service_record:{record_id}"),
                client,
            )
            .with_detail(format!("by:{id} minutes:{} -> {minutes}", old.minutes)),
        )
        .await?;
        tx.commit().await?;
        // The points follow the hours; when they cannot (the holder has spent them), the
        // correction stands and `credit_record_points` may be asked again.
        if let Err(e) = self.credit_record_points(actor, id, client).await {
            tracing::warn!(record = id, error = %e, "the points of a correction were not moved");
        }
        self.service_record(actor, id).await
    }

    /// Enters a manual record; it waits for another user's confirmation.
    pub async fn enter_manual_record(&self, actor: &Actor, f: &ManualForm, client: &str) -> StoreResult<ManualRecord> {
        let d = ManualDraft::try_from(f)?;
        let h = self
            .holder(d.person_id)
            .await
            .map_err(|_| StoreError::field("person_id", "居民不存在"))?;
        scope::require(actor, Right::ReadPeople, &h.home_path)
            .map_err(|_| StoreError::field("person_id", "居民不存在"))?;
        let (node_id, node_path, organiser) = match d.activity_id {
            Some(aid) => {
                let a = self
                    .activity(actor, aid)
                    .await
                    .map_err(|_| StoreError::field("activity_id", "所选活动不存在"))?;
                (a.node_id, a.node_path, a.organiser_name)
            }
            None => {
                let id = d
                    .node_id
                    .ok_or_else(|| StoreError::field("node_id", "请选择服务所在的社区"))?;
                let n = self
                    .node(actor, id)
                    .await
                    .map_err(|_| StoreError::field("node_id", "所选社区不存在"))?;
                let name = self
                    .user(actor.user_id)
                    .await
                    .map(|u| u.display_name)
                    .unwrap_or_default();
                (n.id, n.path, name)
            }
        };
        scope::require(actor, Right::ManagePeople, &node_path)?;
        let organiser = d.organiser_name.clone().unwrap_or(organiser);
        let mut tx = self.begin_write().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO service_record_drafts (person_id, node_id, activity_id, served_on, minutes, content, place, \
             organiser_name, reason, entered_by, entered_at, status) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, \
             $11, 'pending') RETURNING id",
        )
        .bind(h.id)
        .bind(node_id)
        .bind(d.activity_id)
        .bind(day_text(d.served_on))
        .bind(d.minutes)
        .bind(&d.content)
        .bind(&d.place)
        .bind(&organiser)
        .bind(&d.reason)
        .bind(actor.user_id)
        .bind(self.now_text())
        .fetch_one(&mut *tx)
        .await?;
        self.append_audit(
            &mut tx,
            &AuditEvent::by(
                actor,
                "service_record.manual",
                format!("service_record_draft:{id}"),
                client,
            )
            .with_detail(format!("person:{} minutes:{}", h.id, d.minutes)),
        )
        .await?;
        tx.commit().await?;
        self.manual_record(actor, id).await
    }

    pub async fn manual_record(&self, actor: &Actor, id: i64) -> StoreResult<ManualRecord> {
        let d: ManualRecord = sqlx::query_as(sqlx::AssertSqlSafe(format!("{DRAFT_SELECT} WHERE d.id = $1")))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        scope::require(actor, Right::ReadPeople, &d.node_path).map_err(|_| StoreError::NotFound)?;
        Ok(d)
    }

    /// Manual records under a node waiting for confirmation.
    pub async fn pending_manual_records(&self, actor: &Actor, node_id: i64) -> StoreResult<Vec<ManualRecord>> {
        let node = self.node(actor, node_id).await?;
        scope::require(actor, Right::ReadPeople, &node.path)?;
        let mut sql = Sql::new(&format!("{DRAFT_SELECT} WHERE d.status = 'pending' AND "));
        scope::push_subtree(&mut sql, "n.path", &node.path);
        sql.push(" ORDER BY d.id LIMIT 500");
        Ok(sql.query_as().fetch_all(&self.pool).await?)
    }

    /// Confirms (or, with `approve` false, rejects) a manual record. The confirmer must be
    /// someone other than the one who entered it.
    pub async fn decide_manual_record(
        &self,
        actor: &Actor,
        id: i64,
        approve: bool,
        note: &str,
        client: &str,
    ) -> StoreResult<ManualRecord> {
        let d = self.manual_record(actor, id).await?;
        scope::require(actor, Right::ManagePeople, &d.node_path)?;
        if d.entered_by == actor.user_id {
            return Err(StoreError::field(
                "confirmed_by",
                "补录的记录须由录入人以外的工作人员确认",
            ));
        }
        let note = gongjian_domain::ids::free_text(note, 200, false).map_err(|m| StoreError::field("note", m))?;
        if !approve && note.is_none() {
            return Err(StoreError::field("note", "请说明不予确认的原因"));
        }
        let now = self.now_text();
        let mut tx = self.begin_write().await?;
        let status: String = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT status FROM service_record_drafts WHERE id = $1{}",
            self.engine.row_lock_suffix()
        )))
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
        if status != "pending" {
            return Err(StoreError::field("status", "该记录已处理"));
        }
        let record_id: Option<i64> = if approve {
            Some(
                sqlx::query_scalar(
                    "INSERT INTO service_records (person_id, node_id, activity_id, served_on, minutes, delta_minutes, \
                     content, place, source, reason, organiser_name, recorded_by, confirmed_by, confirmed_at, created_at) \
                     SELECT person_id, node_id, activity_id, served_on, minutes, minutes, content, place, 'manual', reason, \
                     organiser_name, entered_by, $1, $2, $2 FROM service_record_drafts WHERE id = $3 RETURNING id",
                )
                .bind(actor.user_id)
                .bind(&now)
                .bind(id)
                .fetch_one(&mut *tx)
                .await?,
            )
        } else {
            None
        };
        sqlx::query(
            "UPDATE service_record_drafts SET status = $1, decided_by = $2, decided_at = $3, decision_note = $4, \
             record_id = $5 WHERE id = $6",
        )
        .bind(if approve { "confirmed" } else { "rejected" })
        .bind(actor.user_id)
        .bind(&now)
        .bind(note.unwrap_or_default())
        .bind(record_id)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        self.append_audit(
            &mut tx,
            &AuditEvent::by(
                actor,
                "service_record.manual.decide",
                format!("service_record_draft:{id}"),
                client,
            )
            .with_detail(format!("approve:{approve} record:{record_id:?}")),
        )
        .await?;
        tx.commit().await?;
        if let Some(r) = record_id
            && let Err(e) = self.credit_record_points(actor, r, client).await
        {
            // The record stands; `retry_pending_points` issues its points later.
            tracing::warn!(record = r, error = %e, "the points of a manual record were not issued yet");
        }
        self.manual_record(actor, id).await
    }
}
