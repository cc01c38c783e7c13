//! Attendance: the claims a check-in code carries, and hours from check-in and check-out
//! clipped to the activity's own time (travel is not service, DOMAIN_RULES "Volunteer
//! service"). The code's signature is made by the store, which holds the key.

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use super::activities::{lenient, parse_opt_id};
use crate::Validation;
use crate::dates::parse_past_day;
use crate::ids::normalize_cell;
use crate::registration::Minutes;

/// How long a shown code stays valid, in seconds. Codes are cut on a grid of half this length,
/// so a code is accepted for at least half of it after it is shown.
pub const CODE_SECONDS: i64 = 60;

/// What a code is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    In,
    Out,
}

impl Purpose {
    pub fn key(self) -> &'static str {
        match self {
            Purpose::In => "in",
            Purpose::Out => "out",
        }
    }

    pub fn parse(s: &str) -> Option<Purpose> {
        match s {
            "in" => Some(Purpose::In),
            "out" => Some(Purpose::Out),
            _ => None,
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Purpose::In => "签到",
            Purpose::Out => "签退",
        }
    }
}

/// What a code says: this activity, this purpose, valid until then (Unix seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeClaim {
    pub activity_id: i64,
    pub purpose: Purpose,
    pub expires: i64,
}

impl CodeClaim {
    /// The claim of the code shown at `now`: expiry on a grid of `CODE_SECONDS / 2`, so codes
    /// shown by several screens (or nodes) at the same moment are the same code.
    pub fn current(activity_id: i64, purpose: Purpose, now: DateTime<Utc>) -> CodeClaim {
        let half = CODE_SECONDS / 2;
        let t = now.timestamp();
        CodeClaim {
            activity_id,
            purpose,
            expires: (t / half) * half + CODE_SECONDS,
        }
    }

    /// The signed text: `ACTIVITY.PURPOSE.EXPIRES`.
    pub fn payload(&self) -> String {
        format!("{}.{}.{}", self.activity_id, self.purpose.key(), self.expires)
    }

    /// Splits a code `ACTIVITY.PURPOSE.EXPIRES.SIGNATURE` into its claim and signature.
    pub fn parse(code: &str) -> Option<(CodeClaim, String)> {
        let mut parts = code.trim().split('.');
        let activity_id = parts.next()?.parse().ok()?;
        let purpose = Purpose::parse(parts.next()?)?;
        let expires = parts.next()?.parse().ok()?;
        let sig = parts.next()?.to_string();
        if parts.next().is_some() || sig.is_empty() || sig.len() > 128 {
            return None;
        }
        Some((
            CodeClaim {
                activity_id,
                purpose,
                expires,
            },
            sig,
        ))
    }

    pub fn expired_at(&self, now: DateTime<Utc>) -> bool {
        now.timestamp() > self.expires
    }
}

/// Minutes served: the overlap of [checked in, checked out] with [start, end], never more
/// than the activity lasts and never negative.
pub fn clipped_minutes(
    checked_in: DateTime<Utc>,
    checked_out: DateTime<Utc>,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
) -> i64 {
    let from = checked_in.max(starts_at);
    let to = checked_out.min(ends_at);
    if to <= from {
        return 0;
    }
    (to - from).num_minutes()
}

/// How long after an activity's end a volunteer may still check out, even when that passes
/// midnight (an evening patrol ending at 23:50 is checked out at 00:10).
pub const CHECK_OUT_GRACE_HOURS: i64 = 2;

/// Whether `now` lies in the activity's attendance window: from 00:00 of its first day (China
/// time) to 24:00 of its last day, or to [`CHECK_OUT_GRACE_HOURS`] after its end when that is
/// later (an activity crossing or ending near midnight). Check-in and check-out outside that are
/// refused; hours are clipped to the activity's own times anyway.
pub fn on_activity_day(now: DateTime<Utc>, starts_at: DateTime<Utc>, ends_at: DateTime<Utc>) -> bool {
    let midnight_before = |t: DateTime<Utc>| {
        let day = crate::clock::china_date(t);
        day.and_hms_opt(0, 0, 0).map(|m| m.and_utc() - TimeDelta::hours(8))
    };
    let (Some(opens), Some(last_day)) = (midnight_before(starts_at), midnight_before(ends_at)) else {
        return false;
    };
    let closes = (last_day + TimeDelta::days(1)).max(ends_at + TimeDelta::hours(CHECK_OUT_GRACE_HOURS));
    now >= opens && now < closes
}

/// A service record entered by hand (service done without check-in); a second person confirms it.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct ManualForm {
    #[serde(default, deserialize_with = "lenient")]
    pub person_id: String,
    /// Where the service was done (a community or street); the activity's node when one is named.
    #[serde(default, deserialize_with = "lenient")]
    pub node_id: String,
    #[serde(default, deserialize_with = "lenient")]
    pub activity_id: String,
    #[serde(default, deserialize_with = "lenient")]
    pub served_on: String,
    /// Hours, e.g. `1.5` (travel excluded).
    #[serde(default, deserialize_with = "lenient")]
    pub hours: String,
    #[serde(default, deserialize_with = "lenient")]
    pub content: String,
    #[serde(default, deserialize_with = "lenient")]
    pub place: String,
    #[serde(default, deserialize_with = "lenient")]
    pub organiser_name: String,
    /// Why there was no check-in.
    #[serde(default, deserialize_with = "lenient")]
    pub reason: String,
}

/// A valid manual record.
#[derive(Debug, Clone)]
pub struct ManualDraft {
    pub person_id: i64,
    pub node_id: Option<i64>,
    pub activity_id: Option<i64>,
    pub served_on: NaiveDate,
    pub minutes: i64,
    pub content: String,
    pub place: String,
    pub organiser_name: Option<String>,
    pub reason: String,
}

fn short(v: &mut Validation, field: &str, raw: &str, max: usize, required: Option<&str>) -> String {
    let s = normalize_cell(raw);
    if s.is_empty() {
        if let Some(m) = required {
            v.push(field, m);
        }
    } else if s.chars().count() > max || s.chars().any(char::is_control) {
        v.push(field, format!("最多 {max} 个字符"));
    }
    s
}

impl TryFrom<&ManualForm> for ManualDraft {
    type Error = Validation;
    fn try_from(f: &ManualForm) -> Result<ManualDraft, Validation> {
        let mut v = Validation::new();
        let person = parse_opt_id(&mut v, "person_id", &f.person_id);
        if matches!(person, Some(None)) {
            v.push("person_id", "请选择志愿者");
        }
        let node = parse_opt_id(&mut v, "node_id", &f.node_id);
        let activity = parse_opt_id(&mut v, "activity_id", &f.activity_id);
        if matches!((node, activity), (Some(None), Some(None))) {
            v.push("node_id", "请选择服务所在的社区，或所属活动");
        }
        let served_on = v.check("served_on", parse_past_day(&f.served_on));
        let minutes = v.check("hours", Minutes::from_hours_text(&f.hours));
        let content = short(&mut v, "content", &f.content, 200, Some("请填写服务内容"));
        let place = short(&mut v, "place", &f.place, 100, None);
        let organiser_name = short(&mut v, "organiser_name", &f.organiser_name, 40, None);
        let reason = short(&mut v, "reason", &f.reason, 200, Some("请说明未签到的原因"));
        match (person, node, activity, served_on, minutes) {
            (Some(Some(person_id)), Some(node_id), Some(activity_id), Some(served_on), Some(m)) if v.is_empty() => {
                Ok(ManualDraft {
                    person_id,
                    node_id,
                    activity_id,
                    served_on,
                    minutes: m.get(),
                    content,
                    place,
                    organiser_name: Some(organiser_name).filter(|n| !n.is_empty()),
                    reason,
                })
            }
            _ => Err(v),
        }
    }
}

/// A correction of a service record: the right hours and why.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct CorrectionForm {
    /// The corrected hours (0 when the service did not happen).
    #[serde(default, deserialize_with = "lenient")]
    pub hours: String,
    #[serde(default, deserialize_with = "lenient")]
    pub reason: String,
}

impl CorrectionForm {
    /// The corrected minutes and the reason.
    pub fn parse(&self) -> Result<(i64, String), Validation> {
        let mut v = Validation::new();
        let minutes = match normalize_cell(&self.hours).as_str() {
            "0" => Some(0),
            raw => v.check("hours", Minutes::from_hours_text(raw)).map(Minutes::get),
        };
        let reason = short(&mut v, "reason", &self.reason, 200, Some("请说明更正原因"));
        match minutes {
            Some(m) if v.is_empty() => Ok((m, reason)),
            _ => Err(v),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn hours_are_clipped_to_the_activity() {
        let (s, e) = (t("2026-05-01T01:00:00Z"), t("2026-05-01T03:00:00Z"));
        assert_eq!(
            clipped_minutes(t("2026-05-01T00:10:00Z"), t("2026-05-01T04:00:00Z"), s, e),
            120
        );
        assert_eq!(
            clipped_minutes(t("2026-05-01T01:30:00Z"), t("2026-05-01T02:00:00Z"), s, e),
            30
        );
        assert_eq!(
            clipped_minutes(t("2026-05-01T04:00:00Z"), t("2026-05-01T05:00:00Z"), s, e),
            0
        );
    }

    #[test]
    fn codes_round_trip_and_expire() {
        let now = t("2026-05-01T01:00:10Z");
        let c = CodeClaim::current(7, Purpose::In, now);
        assert!(c.expires - now.timestamp() >= CODE_SECONDS / 2);
        assert!(!c.expired_at(now));
        assert!(c.expired_at(now + TimeDelta::seconds(CODE_SECONDS + 1)));
        let (back, sig) = CodeClaim::parse(&format!("{}.abc", c.payload())).unwrap();
        assert_eq!((back, sig.as_str()), (c, "abc"));
        assert!(CodeClaim::parse("7.in.1").is_none());
        assert!(CodeClaim::parse("7.up.1.x").is_none());
    }

    #[test]
    fn the_activity_day_is_china_time() {
        let (s, e) = (t("2026-05-01T01:00:00Z"), t("2026-05-01T03:00:00Z"));
        assert!(on_activity_day(t("2026-04-30T16:30:00Z"), s, e));
        assert!(!on_activity_day(t("2026-04-30T15:30:00Z"), s, e));
        // 23:59 China time on the day is in; 00:00 the next day is out.
        assert!(on_activity_day(t("2026-05-01T15:59:00Z"), s, e));
        assert!(!on_activity_day(t("2026-05-01T16:00:00Z"), s, e));
    }

    #[test]
    fn an_activity_crossing_midnight_accepts_check_out_after_it() {
        // 22:30–23:50 China time on 1 May: check-out at 00:10 on 2 May is in, 01:51 is out.
        let (s, e) = (t("2026-05-01T14:30:00Z"), t("2026-05-01T15:50:00Z"));
        assert!(on_activity_day(t("2026-05-01T16:10:00Z"), s, e));
        assert!(on_activity_day(t("2026-05-01T17:49:00Z"), s, e));
        assert!(!on_activity_day(t("2026-05-01T17:51:00Z"), s, e));
        // 23:30 to 00:30: the whole of the second day is an activity day.
        let (s, e) = (t("2026-05-01T15:30:00Z"), t("2026-05-01T16:30:00Z"));
        assert!(on_activity_day(t("2026-05-02T15:00:00Z"), s, e));
        assert!(!on_activity_day(t("2026-05-02T16:00:00Z"), s, e));
    }
}
