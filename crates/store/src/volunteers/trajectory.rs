//! A person's service trajectory (服务轨迹): their activities (sign-ups and attendance), service
//! records with corrections shown as such, cumulative hours with their star level, points
//! entries and redemptions, double registrations, and the same month by month.
//!
//! Readable by staff with `ReadPeople` over the person's home node and by the person themself
//! (the account linked to the person); anyone else is told it does not exist. Also here: the
//! star-level setting (`volunteer_settings.star_hours`), read by everyone and changed by a
//! system administrator or the organisation department, audited.

use std::collections::BTreeMap;

use gongjian_domain::access::{Actor, Role};
use gongjian_domain::volunteers::levels::{StarLevels, hours_text};
use serde::Serialize;
use utoipa::ToSchema;

use crate::audit::AuditEvent;
use crate::db::Store;
use crate::error::{StoreError, StoreResult};
use crate::people::Person;

/// The person's volunteer registration, when they are one.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct VolunteerInfo {
    pub id: i64,
    pub volunteer_no: String,
    pub node_id: i64,
    pub node_name: String,
    pub skills: String,
    pub consent_at: String,
    pub status: String,
}

/// A sign-up with its attendance.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct SignupLine {
    pub activity_id: i64,
    pub title: String,
    pub kind: String,
    pub place: String,
    pub starts_at: String,
    pub ends_at: String,
    pub organiser_name: String,
    /// `confirmed`, `waitlisted` or `cancelled`.
    pub status: String,
    pub checked_in_at: Option<String>,
    pub checked_out_at: Option<String>,
}

impl SignupLine {
    pub fn status_label(&self) -> &'static str {
        match (self.status.as_str(), &self.checked_in_at) {
            ("confirmed", Some(_)) => "已签到",
            ("confirmed", None) => "已报名",
            ("waitlisted", _) => "候补",
            ("cancelled", _) => "已取消",
            _ => "其他",
        }
    }
}

/// A service record as kept: corrections are rows of their own pointing at what they correct.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct RecordLine {
    pub id: i64,
    pub served_on: String,
    pub activity_id: Option<i64>,
    pub activity_title: Option<String>,
    pub content: String,
    pub place: String,
    /// The record's minutes (for a correction: the corrected minutes).
    pub minutes: i64,
    /// Minutes this row adds to the total (a correction: new minus old).
    pub delta_minutes: i64,
    /// `attendance`, `manual` or `correction`.
    pub source: String,
    pub corrects_id: Option<i64>,
    /// The correction that replaced this record, if any.
    pub corrected_by: Option<i64>,
    pub reason: String,
    pub organiser_name: String,
    pub confirmed_by_name: Option<String>,
    pub confirmed_at: String,
}

impl RecordLine {
    pub fn hours(&self) -> String {
        hours_text(self.minutes)
    }

    pub fn source_label(&self) -> &'static str {
        match self.source.as_str() {
            "attendance" => "签到签退",
            "manual" => "手工登记",
            "correction" => "更正",
            _ => "其他",
        }
    }

    /// Whether the record counts as it stands (nothing corrected it).
    pub fn is_effective(&self) -> bool {
        self.corrected_by.is_none()
    }
}

/// One points entry of an account of the person.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct PointsLine {
    pub transaction_id: i64,
    pub created_at: String,
    pub kind: String,
    pub source: String,
    pub memo: String,
    pub scheme_name: String,
    pub amount: i64,
}

/// One redemption in the points shop.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct RedemptionLine {
    pub id: i64,
    pub item_name: String,
    pub node_name: String,
    pub quantity: i64,
    pub points: i64,
    pub status: String,
    pub created_at: String,
}

impl RedemptionLine {
    pub fn status_label(&self) -> &'static str {
        match self.status.as_str() {
            "reserved" => "待领取",
            "picked_up" => "已领取",
            "cancelled" => "已取消",
            _ => "其他",
        }
    }
}

/// A double registration (双报到) at a residence community.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct RegistrationLine {
    pub id: i64,
    pub community_name: String,
    pub status: String,
    pub registered_on: String,
    pub ended_on: Option<String>,
}

/// One month of the trajectory.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct MonthLine {
    /// `YYYY-MM`.
    pub month: String,
    pub minutes: i64,
    pub hours: f64,
    pub points: i64,
    pub activities: i64,
}

/// The whole trajectory of one person.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Trajectory {
    pub person: Person,
    pub volunteer: Option<VolunteerInfo>,
    pub teams: Vec<String>,
    /// Cumulative minutes: the sum of every record's `delta_minutes`.
    pub total_minutes: i64,
    pub total_hours: String,
    pub stars: usize,
    pub star_label: String,
    pub next_star_hours: Option<i64>,
    pub hours_to_next: Option<String>,
    pub signups: Vec<SignupLine>,
    pub records: Vec<RecordLine>,
    pub points: Vec<PointsLine>,
    pub points_balance: i64,
    pub redemptions: Vec<RedemptionLine>,
    pub registrations: Vec<RegistrationLine>,
    pub months: Vec<MonthLine>,
}

/// Who reads a trajectory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reader {
    Staff,
    Themself,
}

impl Store {
    /// The star levels now in force.
    pub async fn star_levels(&self) -> StoreResult<StarLevels> {
        let raw: Option<String> = sqlx::query_scalar("SELECT value FROM volunteer_settings WHERE name = 'star_hours'")
            .fetch_optional(&self.pool)
            .await?;
        match raw {
            Some(r) => StarLevels::parse(&r)
                .map_err(|_| StoreError::Config("volunteer_settings.star_hours is unreadable".into())),
            None => Ok(StarLevels::default()),
        }
    }

    /// Whether the actor may change the volunteer settings.
    pub fn may_edit_volunteer_settings(&self, actor: &Actor) -> bool {
        actor.has_role(Role::SystemAdmin) || actor.has_role(Role::OrgDepartment)
    }

    /// Changes the star levels: thresholds strictly increasing positive hours; audited.
    pub async fn set_star_hours(&self, actor: &Actor, raw: &str, client: &str) -> StoreResult<StarLevels> {
        if !self.may_edit_volunteer_settings(actor) {
            return Err(StoreError::Forbidden);
        }
        let levels = StarLevels::parse(raw)?;
        let before = self.star_levels().await?;
        let mut tx = self.begin_write().await?;
        sqlx::query("UPDATE volunteer_settings SET value = $1 WHERE name = 'star_hours'")
            .bind(levels.to_setting())
            .execute(&mut *tx)
            .await?;
        self.append_audit(
            &mut tx,
            &AuditEvent::by(
                actor,
                "volunteer.settings.star_hours",
                "volunteer_settings:star_hours",
                client,
            )
            .with_detail(format!("{} -> {}", before.to_setting(), levels.to_setting())),
        )
        .await?;
        tx.commit().await?;
        Ok(levels)
    }

    /// Reads the person for a trajectory: staff with `ReadPeople` over where the person lives,
    /// or the person themself. Everyone else: not found.
    pub async fn trajectory_person(&self, actor: &Actor, person_id: i64) -> StoreResult<(Person, Reader)> {
        if let Some(own) = self.own_person(actor).await?
            && own.id == person_id
        {
            let p = self.person_unchecked(person_id).await?;
            return Ok((p, Reader::Themself));
        }
        let p = self.person(actor, person_id).await.map_err(|e| match e {
            StoreError::Forbidden => StoreError::NotFound,
            e => e,
        })?;
        Ok((p, Reader::Staff))
    }

    /// The person linked to the actor's account, for "my service" on the phone.
    pub async fn own_person_id(&self, actor: &Actor) -> StoreResult<Option<i64>> {
        Ok(self.own_person(actor).await?.map(|h| h.id))
    }

    /// The service trajectory of a person (see the module's notes for who may read it).
    pub async fn trajectory(&self, actor: &Actor, person_id: i64) -> StoreResult<Trajectory> {
        let (person, _) = self.trajectory_person(actor, person_id).await?;
        let volunteer: Option<VolunteerInfo> = sqlx::query_as(
            "SELECT v.id, v.volunteer_no, v.node_id, n.name AS node_name, v.skills, v.consent_at, v.status \
             FROM volunteers v JOIN nodes n ON n.id = v.node_id WHERE v.person_id = $1",
        )
        .bind(person_id)
        .fetch_optional(&self.pool)
        .await?;
        let teams: Vec<String> = match &volunteer {
            Some(v) => {
                sqlx::query_scalar(
                    "SELECT g.name FROM team_members m JOIN volunteer_teams g ON g.id = m.team_id \
                 WHERE m.volunteer_id = $1 AND m.left_on IS NULL ORDER BY g.name",
                )
                .bind(v.id)
                .fetch_all(&self.pool)
                .await?
            }
            None => Vec::new(),
        };
        let signups: Vec<SignupLine> = sqlx::query_as(
            "SELECT a.id AS activity_id, a.title, a.kind, a.place, a.starts_at, a.ends_at, a.organiser_name, \
             s.status, s.checked_in_at, s.checked_out_at FROM activity_signups s \
             JOIN activities a ON a.id = s.activity_id WHERE s.person_id = $1 ORDER BY a.starts_at DESC, a.id DESC",
        )
        .bind(person_id)
        .fetch_all(&self.pool)
        .await?;
        let records = self.record_lines(person_id, None, None).await?;
        let points: Vec<PointsLine> = sqlx::query_as(
            "SELECT t.id AS transaction_id, t.created_at, t.kind, t.source, t.memo, s.name AS scheme_name, e.amount \
             FROM point_accounts a JOIN point_entries e ON e.account_id = a.id \
             JOIN point_transactions t ON t.id = e.transaction_id JOIN point_schemes s ON s.id = a.scheme_id \
             WHERE a.person_id = $1 ORDER BY t.created_at DESC, e.id DESC",
        )
        .bind(person_id)
        .fetch_all(&self.pool)
        .await?;
        let points_balance: i64 = sqlx::query_scalar(
            "SELECT CAST(COALESCE(SUM(balance), 0) AS BIGINT) FROM point_accounts WHERE person_id = $1",
        )
        .bind(person_id)
        .fetch_one(&self.pool)
        .await?;
        let redemptions: Vec<RedemptionLine> = sqlx::query_as(
            "SELECT r.id, i.name AS item_name, n.name AS node_name, r.quantity, r.points, r.status, r.created_at \
             FROM redemptions r JOIN shop_items i ON i.id = r.item_id JOIN nodes n ON n.id = r.node_id \
             WHERE r.person_id = $1 ORDER BY r.created_at DESC, r.id DESC",
        )
        .bind(person_id)
        .fetch_all(&self.pool)
        .await?;
        let registrations: Vec<RegistrationLine> = sqlx::query_as(
            "SELECT r.id, n.name AS community_name, r.status, r.registered_on, r.ended_on FROM registrations r \
             JOIN nodes n ON n.id = r.community_id WHERE r.person_id = $1 ORDER BY r.registered_on DESC, r.id DESC",
        )
        .bind(person_id)
        .fetch_all(&self.pool)
        .await?;
        let total_minutes: i64 = records.iter().map(|r| r.delta_minutes).sum();
        let standing = self.star_levels().await?.standing(total_minutes);
        let months = months_of(&records, &points, &signups);
        Ok(Trajectory {
            person,
            volunteer,
            teams,
            total_minutes,
            total_hours: hours_text(total_minutes),
            stars: standing.stars,
            star_label: standing.label_zh(),
            next_star_hours: standing.next_hours,
            hours_to_next: standing.minutes_to_next.map(hours_text),
            signups,
            records,
            points,
            points_balance,
            redemptions,
            registrations,
            months,
        })
    }

    /// Every service record of a person (served within `[from, to]` when given), newest first,
    /// each with the correction that replaced it.
    pub(crate) async fn record_lines(
        &self,
        person_id: i64,
        from: Option<&str>,
        to: Option<&str>,
    ) -> StoreResult<Vec<RecordLine>> {
        let rows: Vec<RecordLine> = sqlx::query_as(
            "SELECT r.id, r.served_on, r.activity_id, a.title AS activity_title, r.content, r.place, r.minutes, \
             r.delta_minutes, r.source, r.corrects_id, (SELECT c.id FROM service_records c WHERE c.corrects_id = r.id) \
             AS corrected_by, r.reason, r.organiser_name, u.display_name AS confirmed_by_name, r.confirmed_at \
             FROM service_records r LEFT JOIN activities a ON a.id = r.activity_id \
             LEFT JOIN users u ON u.id = r.confirmed_by WHERE r.person_id = $1 \
             AND r.served_on >= $2 AND r.served_on <= $3 ORDER BY r.served_on DESC, r.id DESC",
        )
        .bind(person_id)
        .bind(from.unwrap_or("0000-00-00"))
        .bind(to.unwrap_or("9999-99-99"))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }
}

/// Minutes, points and activities attended per month (`YYYY-MM`), oldest first, over the
/// months that have any.
fn months_of(records: &[RecordLine], points: &[PointsLine], signups: &[SignupLine]) -> Vec<MonthLine> {
    let mut by: BTreeMap<String, MonthLine> = BTreeMap::new();
    let month = |s: &str| s.chars().take(7).collect::<String>();
    for r in records {
        by.entry(month(&r.served_on)).or_default().minutes += r.delta_minutes;
    }
    for p in points {
        by.entry(month(&shanghai_day(&p.created_at))).or_default().points += p.amount;
    }
    for s in signups.iter().filter(|s| s.checked_in_at.is_some()) {
        by.entry(month(&shanghai_day(&s.starts_at))).or_default().activities += 1;
    }
    by.into_iter()
        .map(|(m, mut line)| {
            line.month = m;
            line.hours = (line.minutes as f64 / 60.0 * 100.0).round() / 100.0;
            line
        })
        .collect()
}

/// The Shanghai day (`YYYY-MM-DD`) of a stored UTC instant.
pub(crate) fn shanghai_day(instant: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(instant)
        .map(|t| {
            (t.with_timezone(&chrono::Utc) + chrono::Duration::hours(8))
                .format("%Y-%m-%d")
                .to_string()
        })
        .unwrap_or_else(|_| instant.chars().take(10).collect())
}
