//! Double registration (双报到): in-service party members registering at their residence
//! community, claiming posts (领岗), and the services the community records for the report back
//! to their employer; agency–community pairings; cadres sent down.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::Validation;
use crate::dates::parse_past_day;
use crate::ids::normalize_cell;

/// The posts a registered member can claim at a community (领岗).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Duty {
    /// 政策宣传岗
    Publicity,
    /// 环境整治岗
    Environment,
    /// 治安巡防岗
    Patrol,
    /// 文明劝导岗
    Civility,
    /// 关爱帮扶岗
    Care,
    /// 矛盾调解岗
    Mediation,
    /// 志愿服务岗
    Volunteering,
    /// 网格协管岗
    GridAssist,
}

impl Duty {
    pub const ALL: [Duty; 8] = [
        Duty::Publicity,
        Duty::Environment,
        Duty::Patrol,
        Duty::Civility,
        Duty::Care,
        Duty::Mediation,
        Duty::Volunteering,
        Duty::GridAssist,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Duty::Publicity => "publicity",
            Duty::Environment => "environment",
            Duty::Patrol => "patrol",
            Duty::Civility => "civility",
            Duty::Care => "care",
            Duty::Mediation => "mediation",
            Duty::Volunteering => "volunteering",
            Duty::GridAssist => "grid_assist",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Duty::Publicity => "政策宣传岗",
            Duty::Environment => "环境整治岗",
            Duty::Patrol => "治安巡防岗",
            Duty::Civility => "文明劝导岗",
            Duty::Care => "关爱帮扶岗",
            Duty::Mediation => "矛盾调解岗",
            Duty::Volunteering => "志愿服务岗",
            Duty::GridAssist => "网格协管岗",
        }
    }

    pub fn parse(raw: &str) -> Option<Duty> {
        let s = normalize_cell(raw);
        Duty::ALL.into_iter().find(|d| d.key() == s || d.label_zh() == s)
    }
}

/// Where a registration stands. `pending` → `active` (confirmed by the community) → `ended`;
/// `pending` → `rejected`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegStatus {
    Pending,
    Active,
    Ended,
    Rejected,
}

impl RegStatus {
    pub fn key(self) -> &'static str {
        match self {
            RegStatus::Pending => "pending",
            RegStatus::Active => "active",
            RegStatus::Ended => "ended",
            RegStatus::Rejected => "rejected",
        }
    }

    pub fn from_key(s: &str) -> Option<RegStatus> {
        [
            RegStatus::Pending,
            RegStatus::Active,
            RegStatus::Ended,
            RegStatus::Rejected,
        ]
        .into_iter()
        .find(|r| r.key() == s)
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            RegStatus::Pending => "待确认",
            RegStatus::Active => "已报到",
            RegStatus::Ended => "已结束",
            RegStatus::Rejected => "未通过",
        }
    }

    /// Whether a registration may move from `self` to `to`; the message says why not.
    pub fn transition(self, to: RegStatus) -> Result<(), String> {
        match (self, to) {
            (RegStatus::Pending, RegStatus::Active | RegStatus::Rejected) | (RegStatus::Active, RegStatus::Ended) => {
                Ok(())
            }
            _ => Err(format!("报到状态为“{}”，不能改为“{}”", self.label_zh(), to.label_zh())),
        }
    }
}

/// Kinds of cadres sent down to the grassroots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeploymentKind {
    /// 选派任职: serving in a post, e.g. an agency cadre as community party secretary.
    Secondment,
    /// 下沉: serving at a community or street for a period.
    Deployment,
}

impl DeploymentKind {
    pub fn key(self) -> &'static str {
        match self {
            DeploymentKind::Secondment => "secondment",
            DeploymentKind::Deployment => "deployment",
        }
    }

    pub fn parse(raw: &str) -> Option<DeploymentKind> {
        match normalize_cell(raw).as_str() {
            "secondment" | "选派" | "选派任职" => Some(DeploymentKind::Secondment),
            "deployment" | "下沉" | "下基层" => Some(DeploymentKind::Deployment),
            _ => None,
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            DeploymentKind::Secondment => "选派任职",
            DeploymentKind::Deployment => "下沉基层",
        }
    }
}

/// A length of service in whole minutes: more than zero, at most one day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Minutes(i64);

impl Minutes {
    /// From hours as typed (`2`, `1.5`, `0.5`); rounded to the minute.
    pub fn from_hours_text(raw: &str) -> Result<Minutes, String> {
        let s = normalize_cell(raw);
        let h: f64 = s
            .parse()
            .map_err(|_| format!("“{s}”不是有效的时长，请填小时数，如 1.5"))?;
        if !h.is_finite() || h <= 0.0 {
            return Err("时长应大于 0".into());
        }
        if h > 24.0 {
            return Err("一次服务时长不能超过 24 小时".into());
        }
        Ok(Minutes((h * 60.0).round() as i64))
    }

    pub fn get(self) -> i64 {
        self.0
    }

    /// As hours for people: `1.5`.
    pub fn hours_text(minutes: i64) -> String {
        let h = minutes as f64 / 60.0;
        let s = format!("{h:.2}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// A service the community records for a registered member.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct ServiceForm {
    #[serde(default)]
    pub served_on: String,
    /// Hours, e.g. `2` or `1.5`.
    #[serde(default)]
    pub hours: String,
    #[serde(default)]
    pub description: String,
    /// 1–5, optional.
    #[serde(default)]
    pub rating: String,
}

#[derive(Debug, Clone)]
pub struct ServiceDraft {
    pub served_on: NaiveDate,
    pub minutes: Minutes,
    pub description: String,
    pub rating: Option<i64>,
}

impl TryFrom<&ServiceForm> for ServiceDraft {
    type Error = Validation;

    fn try_from(f: &ServiceForm) -> Result<Self, Validation> {
        let mut v = Validation::new();
        let served_on = v.check("served_on", parse_past_day(&f.served_on));
        let minutes = v.check("hours", Minutes::from_hours_text(&f.hours));
        let description = normalize_cell(&f.description);
        if description.is_empty() {
            v.push("description", "请填写服务内容");
        } else if description.chars().count() > 200 || description.chars().any(char::is_control) {
            v.push("description", "服务内容最多 200 个字符");
        }
        let rating = match normalize_cell(&f.rating).as_str() {
            "" => Some(None),
            s => match s.parse::<i64>() {
                Ok(r) if (1..=5).contains(&r) => Some(Some(r)),
                _ => {
                    v.push("rating", "评价为 1 到 5 星");
                    None
                }
            },
        };
        match (served_on, minutes, rating) {
            (Some(served_on), Some(minutes), Some(rating)) if v.is_empty() => Ok(ServiceDraft {
                served_on,
                minutes,
                description,
                rating,
            }),
            _ => Err(v),
        }
    }
}

/// Skills as stated: comma- or space-separated words, at most 100 characters in all.
pub fn parse_skills(raw: &str) -> Result<Option<String>, String> {
    let s = normalize_cell(raw);
    let words: Vec<&str> = s
        .split([',', '，', '、', ';', '；', ' '])
        .map(str::trim)
        .filter(|w| !w.is_empty())
        .collect();
    let joined = words.join("、");
    if joined.chars().count() > 100 || joined.chars().any(char::is_control) {
        return Err("特长最多 100 个字符".into());
    }
    Ok(Some(joined).filter(|j| !j.is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registration_transitions() {
        assert!(RegStatus::Pending.transition(RegStatus::Active).is_ok());
        assert!(RegStatus::Active.transition(RegStatus::Ended).is_ok());
        assert!(RegStatus::Pending.transition(RegStatus::Rejected).is_ok());
        assert!(RegStatus::Ended.transition(RegStatus::Active).is_err());
        assert!(RegStatus::Rejected.transition(RegStatus::Active).is_err());
        assert!(RegStatus::Active.transition(RegStatus::Rejected).is_err());
    }

    #[test]
    fn minutes_and_services() {
        assert_eq!(Minutes::from_hours_text("1.5").unwrap().get(), 90);
        assert_eq!(Minutes::from_hours_text("２").unwrap().get(), 120);
        assert!(Minutes::from_hours_text("0").is_err());
        assert!(Minutes::from_hours_text("25").is_err());
        assert!(Minutes::from_hours_text("两小时").is_err());
        assert_eq!(Minutes::hours_text(90), "1.5");
        assert_eq!(Minutes::hours_text(120), "2");
        let v = ServiceDraft::try_from(&ServiceForm {
            served_on: "2999-01-01".into(),
            hours: "-1".into(),
            description: "".into(),
            rating: "6".into(),
        })
        .unwrap_err();
        for f in ["served_on", "hours", "description", "rating"] {
            assert!(v.message_for(f).is_some(), "{f}");
        }
    }

    #[test]
    fn duties_and_skills() {
        assert_eq!(Duty::parse("治安巡防岗"), Some(Duty::Patrol));
        assert_eq!(Duty::parse("patrol"), Some(Duty::Patrol));
        assert_eq!(
            parse_skills(" 法律咨询，维修  摄影 ").unwrap().as_deref(),
            Some("法律咨询、维修、摄影")
        );
        assert_eq!(parse_skills("").unwrap(), None);
    }
}
