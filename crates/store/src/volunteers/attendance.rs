//! Attendance. The organiser's screen shows a code `ACTIVITY.PURPOSE.EXPIRES.SIGNATURE` whose
//! signature is HMAC-SHA256 (the data key's MAC key, under the label `activity.checkin`) over
//! the rest; it is cut on a 30-second grid and accepted until it expires 60 seconds later, so
//! every node shows and accepts the same code and nothing is kept in memory. A volunteer who
//! scans it checks in (or out) as their own person.
//!
//! Refused: a code whose signature does not verify, an expired code (no replay after expiry),
//! a code of another activity or purpose, a second check-in, a check-out without check-in,
//! someone who has no confirmed sign-up (no walk-ins: staff sign a walk-in up on their behalf
//! while places remain, then confirm their attendance on the batch page), and any check-in
//! outside the activity's day(s), China time. Staff may instead tick attendees in a batch.

use chrono::{DateTime, Utc};
use gongjian_domain::access::{Actor, Right};
use gongjian_domain::volunteers::attendance::{CodeClaim, Purpose, on_activity_day};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::activities::{Access, Signup, lock_activity, parse_time};
use crate::audit::AuditEvent;
use crate::db::Store;
use crate::error::{StoreError, StoreResult};
use crate::sql::{Arg, Sql};
use crate::time_text;
use sqlx::FromRow;

const CODE_LABEL: &str = "activity.checkin";

/// A code to show, with when it stops being accepted.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ShownCode {
    pub activity_id: i64,
    /// `in` or `out`.
    pub purpose: String,
    pub code: String,
    /// Unix seconds.
    pub expires: i64,
}

/// One attendee in a staff batch confirmation.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
pub struct BatchAttendance {
    /// Sign-up ids of those present.
    #[serde(default)]
    pub present: Vec<i64>,
}

#[derive(sqlx::FromRow)]
struct SignupRow {
    id: i64,
    status: String,
    signed_up_at: String,
    checked_in_at: Option<String>,
    checked_out_at: Option<String>,
    attendance_by: Option<String>,
}

fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Store {
    fn sign(&self, claim: &CodeClaim) -> String {
        let full = self.keys.lookup_hash(CODE_LABEL, &claim.payload());
        full.chars().take(32).collect()
    }

    /// The code for `purpose` valid now. Only those who manage the activity see it.
    pub async fn checkin_code(&self, actor: &Actor, activity_id: i64, purpose: Purpose) -> StoreResult<ShownCode> {
        let (a, access) = self.activity_access(actor, activity_id).await?;
        if !matches!(access, Access::Manage) {
            return Err(StoreError::Forbidden);
        }
        if a.status != "open" {
            return Err(StoreError::field("status", "活动已结束或已取消"));
        }
        Ok(self.code_at(activity_id, purpose, self.now()))
    }

    /// The code of an activity and purpose at a moment (also for tests and the benchmark).
    pub fn code_at(&self, activity_id: i64, purpose: Purpose, now: DateTime<Utc>) -> ShownCode {
        let claim = CodeClaim::current(activity_id, purpose, now);
        ShownCode {
            activity_id,
            purpose: purpose.key().to_string(),
            code: format!("{}.{}", claim.payload(), self.sign(&claim)),
            expires: claim.expires,
        }
    }

    /// Checks the actor's own person in or out of an activity with a scanned code.
    pub async fn check_with_code(
        &self,
        actor: &Actor,
        activity_id: i64,
        purpose: Purpose,
        code: &str,
        client: &str,
    ) -> StoreResult<Signup> {
        self.check_with_code_at(actor, activity_id, purpose, code, self.now(), client)
            .await
    }

    /// [`Store::check_with_code`] at a given moment.
    pub async fn check_with_code_at(
        &self,
        actor: &Actor,
        activity_id: i64,
        purpose: Purpose,
        code: &str,
        now: DateTime<Utc>,
        client: &str,
    ) -> StoreResult<Signup> {
        let bad = |m: &str| StoreError::field("code", m);
        let Some((claim, sig)) = CodeClaim::parse(code) else {
            return Err(bad("签到码无效，请扫描活动现场的二维码"));
        };
        if !same(&sig, &self.sign(&claim)) {
            return Err(bad("签到码无效，请扫描活动现场的二维码"));
        }
        if claim.activity_id != activity_id {
            return Err(bad("该二维码属于另一个活动"));
        }
        if claim.purpose != purpose {
            return Err(bad(if purpose == Purpose::In {
                "这是签退码，请扫描签到码"
            } else {
                "这是签到码，请扫描签退码"
            }));
        }
        if claim.expired_at(now) {
            return Err(bad("二维码已过期，请重新扫描现场屏幕上的二维码"));
        }
        // The actor's own person and the activity in one read (this is the hot path); when it
        // finds nothing, which of the two is missing decides the answer.
        type Both = (i64, String, String, String, String, String, String);
        let both: Option<Both> = sqlx::query_as(
            "SELECT p.id, p.name, pn.path, a.status, a.starts_at, a.ends_at, an.path FROM users u \
             JOIN persons p ON p.id = u.person_id JOIN nodes pn ON pn.id = p.home_node_id \
             JOIN activities a ON a.id = $2 JOIN nodes an ON an.id = a.node_id WHERE u.id = $1",
        )
        .bind(actor.user_id)
        .bind(activity_id)
        .fetch_optional(&self.pool)
        .await?;
        let Some((pid, pname, home, status, starts_at, ends_at, node_path)) = both else {
            let linked: Option<Option<i64>> = sqlx::query_scalar("SELECT person_id FROM users WHERE id = $1")
                .bind(actor.user_id)
                .fetch_optional(&self.pool)
                .await?;
            if linked.flatten().is_none() {
                return Err(StoreError::field(
                    "person_id",
                    "账号尚未关联居民信息，请联系社区工作人员",
                ));
            }
            return Err(StoreError::NotFound);
        };
        let me = (pid, pname, home);
        if !me.2.starts_with(&node_path) && !actor.scope(Right::ReadPeople).contains_path(&node_path) {
            return Err(StoreError::NotFound);
        }
        if status != "open" {
            return Err(bad("活动已取消或考勤已确认"));
        }
        if !on_activity_day(now, parse_time(&starts_at), parse_time(&ends_at)) {
            return Err(bad("不在活动当天或结束后的签退时限内，不能签到签退"));
        }
        let at = time_text(now);
        let event = AuditEvent::by(actor, "activity.check", format!("activity:{activity_id}"), client)
            .with_detail(format!("person:{} {}", me.0, purpose.key()));
        let check = match purpose {
            Purpose::In => {
                "UPDATE activity_signups SET checked_in_at = $1, attendance_by = 'code', updated_at = $1 \
                 WHERE activity_id = $2 AND person_id = $3 AND status = 'confirmed' AND checked_in_at IS NULL \
                 RETURNING id, status, signed_up_at, checked_in_at, checked_out_at, attendance_by"
            }
            Purpose::Out => {
                "UPDATE activity_signups SET checked_out_at = $1, updated_at = $1 \
                 WHERE activity_id = $2 AND person_id = $3 AND status = 'confirmed' \
                 AND checked_in_at IS NOT NULL AND checked_out_at IS NULL \
                 RETURNING id, status, signed_up_at, checked_in_at, checked_out_at, attendance_by"
            }
        };
        let signup = |row: SignupRow| Signup {
            id: row.id,
            activity_id,
            person_id: me.0,
            person_name: me.1.clone(),
            status: row.status,
            signed_up_at: row.signed_up_at,
            checked_in_at: row.checked_in_at,
            checked_out_at: row.checked_out_at,
            attendance_by: row.attendance_by,
        };
        if self.one_script() {
            // The common case in one round trip (see `points::sqlite_write`); a refusal, or a
            // head another writer moved, comes back as `None` and is written the general way.
            let body = |sql: &mut Sql| {
                sql.push_bound(check, [Arg::from(at.as_str()), Arg::from(activity_id), Arg::from(me.0)]);
            };
            if let Some(rows) = self.sqlite_audited_write(&event, &body).await?
                && let Some(row) = rows.first()
            {
                return Ok(signup(SignupRow::from_row(row)?));
            }
        }
        // One writer at a time on SQLite, queued in process rather than in the busy handler.
        let (mut gate, mut tx) = self.begin_ledger_write().await?;
        let row: Option<SignupRow> = sqlx::query_as(check)
            .bind(&at)
            .bind(activity_id)
            .bind(me.0)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(row) = row else {
            let row: Option<(String, Option<String>, Option<String>)> = sqlx::query_as(
                "SELECT status, checked_in_at, checked_out_at FROM activity_signups \
                 WHERE activity_id = $1 AND person_id = $2",
            )
            .bind(activity_id)
            .bind(me.0)
            .fetch_optional(&mut *tx)
            .await?;
            return Err(bad(match (purpose, row) {
                (_, None) => "您未报名本活动，请联系组织者",
                (_, Some((s, _, _))) if s == "waitlisted" => "您在候补名单中，尚未获得名额",
                (_, Some((s, _, _))) if s != "confirmed" => "您已取消报名",
                (Purpose::In, Some(_)) => "您已签到，不能重复签到",
                (Purpose::Out, Some((_, None, _))) => "尚未签到，不能签退",
                (Purpose::Out, Some(_)) => "您已签退",
            }));
        };
        let entry = self.append_audit_entry(&mut tx, &event).await?;
        tx.commit().await?;
        if let Some(gate) = gate.as_mut() {
            gate.learn_audit_head(&entry);
        }
        drop(gate);
        Ok(signup(row))
    }

    /// Staff tick who was present when phones were not at hand: those ticked without a
    /// check-in are checked in at the start and out at the end (the activity's own time);
    /// those with a check-in but no check-out are checked out at the end.
    pub async fn confirm_presence(
        &self,
        actor: &Actor,
        activity_id: i64,
        input: &BatchAttendance,
        client: &str,
    ) -> StoreResult<Vec<Signup>> {
        let (a, access) = self.activity_access(actor, activity_id).await?;
        if !matches!(access, Access::Manage) {
            return Err(StoreError::Forbidden);
        }
        if self.now() < a.start() {
            return Err(StoreError::field("present", "活动尚未开始"));
        }
        let mut tx = self.begin_write().await?;
        let (status, _) = lock_activity(self, &mut tx, activity_id).await?;
        if status != "open" {
            return Err(StoreError::field("present", "活动已取消或考勤已确认"));
        }
        let now = self.now_text();
        let mut n = 0;
        for id in &input.present {
            let done = sqlx::query(
                "UPDATE activity_signups SET checked_in_at = COALESCE(checked_in_at, $1), \
                 checked_out_at = COALESCE(checked_out_at, $2), \
                 attendance_by = COALESCE(attendance_by, 'staff'), updated_at = $3 \
                 WHERE id = $4 AND activity_id = $5 AND status = 'confirmed'",
            )
            .bind(&a.starts_at)
            .bind(&a.ends_at)
            .bind(&now)
            .bind(id)
            .bind(activity_id)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::field(
                    "present",
                    format!("报名记录 {id} 不属于本活动的已报名人员"),
                ));
            }
            n += 1;
        }
        self.append_audit(
            &mut tx,
            &AuditEvent::by(actor, "activity.presence", format!("activity:{activity_id}"), client)
                .with_detail(format!("present:{n}")),
        )
        .await?;
        tx.commit().await?;
        self.signups(actor, activity_id).await
    }
}

/// The instant a stored text names (for callers outside the store).
pub fn instant(s: &str) -> DateTime<Utc> {
    parse_time(s)
}
