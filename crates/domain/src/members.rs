//! Party members: which organisation a person belongs to, as what (正式 / 预备), since when.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::Validation;
use crate::dates::parse_past_day;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MemberStatus {
    /// 正式党员
    Full,
    /// 预备党员
    Probationary,
}

impl MemberStatus {
    pub const ALL: [MemberStatus; 2] = [MemberStatus::Full, MemberStatus::Probationary];

    pub fn key(self) -> &'static str {
        match self {
            MemberStatus::Full => "full",
            MemberStatus::Probationary => "probationary",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            MemberStatus::Full => "正式党员",
            MemberStatus::Probationary => "预备党员",
        }
    }

    /// From a key or the Chinese words a spreadsheet uses (正式, 正式党员, 预备, …).
    pub fn parse(raw: &str) -> Option<MemberStatus> {
        match crate::ids::normalize_cell(raw).as_str() {
            "full" | "正式" | "正式党员" => Some(MemberStatus::Full),
            "probationary" | "预备" | "预备党员" => Some(MemberStatus::Probationary),
            _ => None,
        }
    }
}

/// A membership as typed.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct MemberForm {
    #[serde(default)]
    pub person_id: Option<i64>,
    #[serde(default)]
    pub org_id: Option<i64>,
    /// `full` or `probationary` (正式 / 预备 also accepted).
    #[serde(default)]
    pub status: String,
    /// 入党日期.
    #[serde(default)]
    pub joined_on: String,
    /// 转正日期, for full members.
    #[serde(default)]
    pub full_on: String,
}

/// A membership with its fields valid.
#[derive(Debug, Clone)]
pub struct MemberDraft {
    pub person_id: i64,
    pub org_id: i64,
    pub status: MemberStatus,
    pub joined_on: NaiveDate,
    pub full_on: Option<NaiveDate>,
}

impl TryFrom<&MemberForm> for MemberDraft {
    type Error = Validation;

    fn try_from(f: &MemberForm) -> Result<Self, Validation> {
        let mut v = Validation::new();
        if f.person_id.is_none() {
            v.push("person_id", "请选择党员本人（须先登记为居民）");
        }
        if f.org_id.is_none() {
            v.push("org_id", "请选择所在党组织");
        }
        let status = MemberStatus::parse(&f.status);
        if status.is_none() {
            v.push("status", "党员类别应为“正式党员”或“预备党员”");
        }
        let joined_on = v.check("joined_on", parse_past_day(&f.joined_on));
        let full_on = match f.full_on.trim() {
            "" => Some(None),
            raw => v.check("full_on", parse_past_day(raw)).map(Some),
        };
        if let (Some(Some(full)), Some(joined)) = (full_on, joined_on)
            && full < joined
        {
            v.push("full_on", "转正日期不能早于入党日期");
        }
        if status == Some(MemberStatus::Probationary) && matches!(full_on, Some(Some(_))) {
            v.push("full_on", "预备党员没有转正日期");
        }
        match (f.person_id, f.org_id, status, joined_on, full_on) {
            (Some(person_id), Some(org_id), Some(status), Some(joined_on), Some(full_on)) if v.is_empty() => {
                Ok(MemberDraft {
                    person_id,
                    org_id,
                    status,
                    joined_on,
                    full_on,
                })
            }
            _ => Err(v),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form() -> MemberForm {
        MemberForm {
            person_id: Some(1),
            org_id: Some(2),
            status: "正式".into(),
            joined_on: "2001/7/1".into(),
            full_on: "2002-07-01".into(),
        }
    }

    #[test]
    fn converts_with_chinese_status() {
        let d = MemberDraft::try_from(&form()).unwrap();
        assert_eq!(d.status, MemberStatus::Full);
        assert_eq!(d.joined_on.to_string(), "2001-07-01");
    }

    #[test]
    fn names_each_bad_field() {
        let mut f = form();
        f.status = "群众".into();
        f.full_on = "2000-01-01".into();
        f.org_id = None;
        let v = MemberDraft::try_from(&f).unwrap_err();
        assert!(v.message_for("status").is_some());
        assert!(v.message_for("full_on").unwrap().contains("早于"));
        assert!(v.message_for("org_id").is_some());
        let mut f = form();
        f.status = "预备".into();
        assert!(MemberDraft::try_from(&f).unwrap_err().message_for("full_on").is_some());
    }
}
