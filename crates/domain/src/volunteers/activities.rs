//! Activities as a form gives them: parsed once into an [`ActivityDraft`] whose times are in
//! order, or refused with an error per field. Volunteers as registered (consent, skills).

use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use serde::{Deserialize, Deserializer, Serialize};

use crate::Validation;
use crate::ids::normalize_cell;

/// What kind of activity it is; the campaigns of the five "hundreds" count some of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActivityKind {
    /// 志愿服务
    Volunteer,
    /// 主题党日
    ThemeDay,
    /// 思政课、讲座
    Lecture,
    /// 红色电影
    Film,
    /// 群众活动
    Mass,
}

impl ActivityKind {
    pub const ALL: [ActivityKind; 5] = [
        ActivityKind::Volunteer,
        ActivityKind::ThemeDay,
        ActivityKind::Lecture,
        ActivityKind::Film,
        ActivityKind::Mass,
    ];

    pub fn key(self) -> &'static str {
        match self {
            ActivityKind::Volunteer => "volunteer",
            ActivityKind::ThemeDay => "theme_day",
            ActivityKind::Lecture => "lecture",
            ActivityKind::Film => "film",
            ActivityKind::Mass => "mass",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            ActivityKind::Volunteer => "志愿服务",
            ActivityKind::ThemeDay => "主题党日",
            ActivityKind::Lecture => "思政课",
            ActivityKind::Film => "红色电影",
            ActivityKind::Mass => "群众活动",
        }
    }

    pub fn parse(raw: &str) -> Option<ActivityKind> {
        let s = normalize_cell(raw);
        ActivityKind::ALL
            .into_iter()
            .find(|k| k.key() == s || k.label_zh() == s)
    }
}

/// Accepts a JSON number, a string or null for a form field kept as text, so one form type
/// serves the HTML forms (always text) and the API (numbers).
pub fn lenient<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Text(String),
        Int(i64),
        Float(f64),
        Bool(bool),
    }
    Ok(match Option::<Raw>::deserialize(d)? {
        None => String::new(),
        Some(Raw::Text(s)) => s,
        Some(Raw::Int(n)) => n.to_string(),
        Some(Raw::Float(f)) => f.to_string(),
        Some(Raw::Bool(b)) => b.to_string(),
    })
}

/// An optional record id typed into a form: blank is none.
pub fn parse_opt_id(v: &mut Validation, field: &str, raw: &str) -> Option<Option<i64>> {
    let s = normalize_cell(raw);
    if s.is_empty() {
        return Some(None);
    }
    match s.parse::<i64>() {
        Ok(n) if n > 0 => Some(Some(n)),
        _ => {
            v.push(field, "请从列表中选择");
            None
        }
    }
}

/// An instant as typed: `YYYY-MM-DDTHH:MM` (a `datetime-local` field, China time) or RFC 3339.
pub fn parse_instant(raw: &str) -> Result<DateTime<Utc>, String> {
    let s = normalize_cell(raw);
    if s.is_empty() {
        return Err("请填写时间".into());
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(&s) {
        return Ok(t.with_timezone(&Utc));
    }
    let s2 = s.replace(' ', "T");
    for fmt in ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(&s2, fmt) {
            return Ok((t - TimeDelta::hours(8)).and_utc());
        }
    }
    Err(format!("“{s}”不是有效的时间，格式如 2026-05-01T09:00"))
}

/// An instant as a `datetime-local` field shows it (China time).
pub fn local_input(t: &DateTime<Utc>) -> String {
    (t.naive_utc() + TimeDelta::hours(8))
        .format("%Y-%m-%dT%H:%M")
        .to_string()
}

/// An activity as submitted (every field text, so nothing a browser sends fails to parse).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct ActivityForm {
    #[serde(default, deserialize_with = "lenient")]
    pub title: String,
    /// A kind key or label, e.g. `volunteer` or 志愿服务.
    #[serde(default, deserialize_with = "lenient")]
    pub kind: String,
    #[serde(default, deserialize_with = "lenient")]
    pub team_id: String,
    #[serde(default, deserialize_with = "lenient")]
    pub campaign_id: String,
    #[serde(default, deserialize_with = "lenient")]
    pub place: String,
    #[serde(default, deserialize_with = "lenient")]
    pub content: String,
    #[serde(default, deserialize_with = "lenient")]
    pub starts_at: String,
    #[serde(default, deserialize_with = "lenient")]
    pub ends_at: String,
    #[serde(default, deserialize_with = "lenient")]
    pub capacity: String,
    /// Blank: sign-up opens at once.
    #[serde(default, deserialize_with = "lenient")]
    pub signup_opens_at: String,
    /// Blank: sign-up closes when the activity starts.
    #[serde(default, deserialize_with = "lenient")]
    pub signup_closes_at: String,
    /// Blank: the creating user's name.
    #[serde(default, deserialize_with = "lenient")]
    pub organiser_name: String,
    #[serde(default, deserialize_with = "lenient")]
    pub scheme_id: String,
    #[serde(default, deserialize_with = "lenient")]
    pub points_per_hour: String,
}

/// A valid activity: times in order, capacity at least one.
#[derive(Debug, Clone)]
pub struct ActivityDraft {
    pub title: String,
    pub kind: ActivityKind,
    pub team_id: Option<i64>,
    pub campaign_id: Option<i64>,
    pub place: String,
    pub content: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub capacity: i64,
    pub signup_opens_at: DateTime<Utc>,
    pub signup_closes_at: DateTime<Utc>,
    pub organiser_name: Option<String>,
    pub scheme_id: Option<i64>,
    pub points_per_hour: i64,
}

fn text(v: &mut Validation, field: &str, raw: &str, max: usize, required: Option<&str>) -> String {
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

impl ActivityDraft {
    /// Parses a form; `now` is when sign-up opens if the form leaves it blank.
    pub fn parse(f: &ActivityForm, now: DateTime<Utc>) -> Result<ActivityDraft, Validation> {
        let mut v = Validation::new();
        let title = text(&mut v, "title", &f.title, 60, Some("请填写活动名称"));
        let kind = ActivityKind::parse(&f.kind);
        if kind.is_none() {
            v.push("kind", "请选择活动类型");
        }
        let team_id = parse_opt_id(&mut v, "team_id", &f.team_id);
        let campaign_id = parse_opt_id(&mut v, "campaign_id", &f.campaign_id);
        let scheme_id = parse_opt_id(&mut v, "scheme_id", &f.scheme_id);
        let place = text(&mut v, "place", &f.place, 100, Some("请填写活动地点"));
        let content = {
            let s = f.content.trim().to_string();
            if s.chars().count() > 1000 || s.chars().any(|c| c.is_control() && c != '\n' && c != '\r') {
                v.push("content", "活动内容最多 1000 个字符");
            }
            s
        };
        let organiser_name = text(&mut v, "organiser_name", &f.organiser_name, 40, None);
        let starts_at = v.check("starts_at", parse_instant(&f.starts_at));
        let ends_at = v.check("ends_at", parse_instant(&f.ends_at));
        let capacity = match normalize_cell(&f.capacity).parse::<i64>() {
            Ok(n) if (1..=100_000).contains(&n) => Some(n),
            _ => {
                v.push("capacity", "名额应为 1 到 100000 的整数");
                None
            }
        };
        let points_per_hour = match normalize_cell(&f.points_per_hour).as_str() {
            "" => Some(0),
            s => match s.parse::<i64>() {
                Ok(n) if (0..=1000).contains(&n) => Some(n),
                _ => {
                    v.push("points_per_hour", "每小时积分应为 0 到 1000 的整数");
                    None
                }
            },
        };
        let opens = match normalize_cell(&f.signup_opens_at).as_str() {
            "" => Some(now),
            raw => v.check("signup_opens_at", parse_instant(raw)),
        };
        let closes = match normalize_cell(&f.signup_closes_at).as_str() {
            "" => starts_at,
            raw => v.check("signup_closes_at", parse_instant(raw)),
        };
        if let (Some(s), Some(e)) = (starts_at, ends_at) {
            if e <= s {
                v.push("ends_at", "结束时间应晚于开始时间");
            } else if e - s > TimeDelta::days(7) {
                v.push("ends_at", "一次活动不超过 7 天");
            }
        }
        if let (Some(o), Some(c)) = (opens, closes)
            && c <= o
        {
            v.push("signup_closes_at", "报名截止应晚于报名开始");
        }
        if let (Some(c), Some(e)) = (closes, ends_at)
            && c > e
        {
            v.push("signup_closes_at", "报名截止不能晚于活动结束");
        }
        if matches!(points_per_hour, Some(p) if p > 0) && matches!(scheme_id, Some(None)) {
            v.push("scheme_id", "设置了每小时积分，请选择积分方案");
        }
        match (
            kind,
            team_id,
            campaign_id,
            scheme_id,
            starts_at,
            ends_at,
            capacity,
            points_per_hour,
            opens,
            closes,
        ) {
            (
                Some(kind),
                Some(team_id),
                Some(campaign_id),
                Some(scheme_id),
                Some(s),
                Some(e),
                Some(c),
                Some(p),
                Some(o),
                Some(cl),
            ) if v.is_empty() => Ok(ActivityDraft {
                title,
                kind,
                team_id,
                campaign_id,
                place,
                content,
                starts_at: s,
                ends_at: e,
                capacity: c,
                signup_opens_at: o,
                signup_closes_at: cl,
                organiser_name: Some(organiser_name).filter(|n| !n.is_empty()),
                scheme_id,
                points_per_hour: p,
            }),
            _ => Err(v),
        }
    }
}

/// A person registered as a volunteer, as staff type it.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct VolunteerForm {
    #[serde(default, deserialize_with = "lenient")]
    pub person_id: String,
    /// The community (or street) the volunteer registers with.
    #[serde(default, deserialize_with = "lenient")]
    pub node_id: String,
    #[serde(default, deserialize_with = "lenient")]
    pub skills: String,
    /// Must be ticked: the person agreed to volunteer and to their record being kept.
    #[serde(default, deserialize_with = "lenient")]
    pub consent: String,
    /// Whether the name may be shown on team pages and honour lists.
    #[serde(default, deserialize_with = "lenient")]
    pub public_name: String,
}

/// A ticked box as forms and JSON send it.
pub fn ticked(raw: &str) -> bool {
    matches!(normalize_cell(raw).as_str(), "on" | "true" | "1" | "yes" | "是")
}

/// A team as typed.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct TeamForm {
    #[serde(default, deserialize_with = "lenient")]
    pub name: String,
    #[serde(default, deserialize_with = "lenient")]
    pub focus: String,
    #[serde(default, deserialize_with = "lenient")]
    pub node_id: String,
    #[serde(default, deserialize_with = "lenient")]
    pub unit_id: String,
}

/// A valid team.
#[derive(Debug, Clone)]
pub struct TeamDraft {
    pub name: String,
    pub focus: String,
    pub node_id: i64,
    pub unit_id: Option<i64>,
}

impl TryFrom<&TeamForm> for TeamDraft {
    type Error = Validation;
    fn try_from(f: &TeamForm) -> Result<TeamDraft, Validation> {
        let mut v = Validation::new();
        let name = text(&mut v, "name", &f.name, 40, Some("请填写服务队名称"));
        let focus = text(&mut v, "focus", &f.focus, 40, None);
        let node = parse_opt_id(&mut v, "node_id", &f.node_id);
        if matches!(node, Some(None)) {
            v.push("node_id", "请选择所属社区或街道");
        }
        let unit = parse_opt_id(&mut v, "unit_id", &f.unit_id);
        match (node, unit) {
            (Some(Some(node_id)), Some(unit_id)) if v.is_empty() => Ok(TeamDraft {
                name,
                focus,
                node_id,
                unit_id,
            }),
            _ => Err(v),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form() -> ActivityForm {
        ActivityForm {
            title: "清洁家园".into(),
            kind: "志愿服务".into(),
            place: "社区广场".into(),
            starts_at: "2026-05-01T09:00".into(),
            ends_at: "2026-05-01T11:00".into(),
            capacity: "10".into(),
            ..ActivityForm::default()
        }
    }

    #[test]
    fn a_valid_activity_is_in_order() {
        let now = parse_instant("2026-04-01T08:00").unwrap();
        let d = ActivityDraft::parse(&form(), now).unwrap();
        assert_eq!(d.starts_at.to_rfc3339(), "2026-05-01T01:00:00+00:00");
        assert_eq!(d.signup_closes_at, d.starts_at);
        assert_eq!(local_input(&d.starts_at), "2026-05-01T09:00");
    }

    #[test]
    fn every_field_names_its_problem() {
        let f = ActivityForm {
            title: "".into(),
            kind: "x".into(),
            starts_at: "2026-05-01T09:00".into(),
            ends_at: "2026-05-01T08:00".into(),
            capacity: "0".into(),
            points_per_hour: "-1".into(),
            team_id: "abc".into(),
            ..ActivityForm::default()
        };
        let v = ActivityDraft::parse(&f, Utc::now()).unwrap_err();
        for field in [
            "title",
            "kind",
            "ends_at",
            "capacity",
            "points_per_hour",
            "team_id",
            "place",
        ] {
            assert!(v.message_for(field).is_some(), "{field}: {v:?}");
        }
        let mut late = form();
        late.signup_closes_at = "2026-05-01T12:00".into();
        let v = ActivityDraft::parse(&late, parse_instant("2026-04-01T08:00").unwrap()).unwrap_err();
        assert!(v.message_for("signup_closes_at").is_some());
        let mut pts = form();
        pts.points_per_hour = "5".into();
        assert!(
            ActivityDraft::parse(&pts, Utc::now())
                .unwrap_err()
                .message_for("scheme_id")
                .is_some()
        );
    }
}
