//! Units in the area (驻区单位): agencies, institutions, companies and organisations, known by
//! their 统一社会信用代码 where they have one.

use serde::{Deserialize, Serialize};

use crate::Validation;
use crate::ids::{CreditCode, CreditCodeWarning, Mobile, normalize_cell};
use crate::tree::Name;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnitKind {
    /// 机关
    Agency,
    /// 事业单位
    PublicInstitution,
    /// 国有企业
    StateOwned,
    /// 民营企业
    Private,
    /// 社会组织
    SocialOrganisation,
    /// 个体工商户
    IndividualBusiness,
}

impl UnitKind {
    pub const ALL: [UnitKind; 6] = [
        UnitKind::Agency,
        UnitKind::PublicInstitution,
        UnitKind::StateOwned,
        UnitKind::Private,
        UnitKind::SocialOrganisation,
        UnitKind::IndividualBusiness,
    ];

    pub fn key(self) -> &'static str {
        match self {
            UnitKind::Agency => "agency",
            UnitKind::PublicInstitution => "public_institution",
            UnitKind::StateOwned => "state_owned",
            UnitKind::Private => "private",
            UnitKind::SocialOrganisation => "social_organisation",
            UnitKind::IndividualBusiness => "individual_business",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            UnitKind::Agency => "机关",
            UnitKind::PublicInstitution => "事业单位",
            UnitKind::StateOwned => "国有企业",
            UnitKind::Private => "民营企业",
            UnitKind::SocialOrganisation => "社会组织",
            UnitKind::IndividualBusiness => "个体工商户",
        }
    }

    /// On the public directory of agencies and employers (机关、事业单位、国有企业): the
    /// employers of in-service party members and the agencies that pair with communities, whose
    /// names are public, so a record anywhere may name them.
    pub fn is_public(self) -> bool {
        matches!(
            self,
            UnitKind::Agency | UnitKind::PublicInstitution | UnitKind::StateOwned
        )
    }

    /// From a key or its Chinese label (as a spreadsheet has it).
    pub fn parse(raw: &str) -> Option<UnitKind> {
        let s = normalize_cell(raw);
        UnitKind::ALL
            .into_iter()
            .find(|k| k.key() == s || k.label_zh() == s || (s == "国企" && *k == UnitKind::StateOwned))
    }
}

/// A unit as typed.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct UnitForm {
    #[serde(default)]
    pub name: String,
    /// 统一社会信用代码; optional (some agencies and individual businesses have none at hand).
    #[serde(default)]
    pub credit_code: String,
    #[serde(default)]
    pub kind: String,
    /// The node where the unit is located (a street, community or grid).
    #[serde(default)]
    pub node_id: Option<i64>,
    #[serde(default)]
    pub address: String,
}

/// A unit with its fields valid; a credit code whose check character fails is kept with a
/// warning.
#[derive(Debug, Clone)]
pub struct UnitDraft {
    pub name: Name,
    pub credit_code: Option<CreditCode>,
    pub warning: Option<CreditCodeWarning>,
    pub kind: UnitKind,
    pub node_id: i64,
    pub address: Option<String>,
}

impl TryFrom<&UnitForm> for UnitDraft {
    type Error = Validation;

    fn try_from(f: &UnitForm) -> Result<Self, Validation> {
        let mut v = Validation::new();
        let name = v.check("name", Name::parse(&normalize_cell(&f.name)));
        let code = match f.credit_code.trim() {
            "" => Some((None, None)),
            raw => v
                .check("credit_code", CreditCode::parse(raw))
                .map(|(c, w)| (Some(c), w)),
        };
        let kind = UnitKind::parse(&f.kind);
        if kind.is_none() {
            v.push(
                "kind",
                "请选择单位类型（机关、事业单位、国有企业、民营企业、社会组织、个体工商户）",
            );
        }
        if f.node_id.is_none() {
            v.push("node_id", "请选择单位所在的街道、社区或网格");
        }
        let address = normalize_cell(&f.address);
        if address.chars().count() > 100 || address.chars().any(char::is_control) {
            v.push("address", "地址最多 100 个字符，且不能含控制字符");
        }
        match (name, code, kind, f.node_id) {
            (Some(name), Some((credit_code, warning)), Some(kind), Some(node_id)) if v.is_empty() => Ok(UnitDraft {
                name,
                credit_code,
                warning,
                kind,
                node_id,
                address: Some(address).filter(|a| !a.is_empty()),
            }),
            _ => Err(v),
        }
    }
}

/// A liaison contact of a unit as typed.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct ContactForm {
    #[serde(default)]
    pub name: String,
    /// e.g. 党委书记, 办公室主任.
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub mobile: String,
}

#[derive(Debug, Clone)]
pub struct ContactDraft {
    pub name: Name,
    pub title: Option<String>,
    pub mobile: Option<Mobile>,
}

impl TryFrom<&ContactForm> for ContactDraft {
    type Error = Validation;

    fn try_from(f: &ContactForm) -> Result<Self, Validation> {
        let mut v = Validation::new();
        let name = v.check("name", Name::parse(&normalize_cell(&f.name)));
        let title = normalize_cell(&f.title);
        if title.chars().count() > 30 || title.chars().any(char::is_control) {
            v.push("title", "职务最多 30 个字符");
        }
        let mobile = match f.mobile.trim() {
            "" => Some(None),
            raw => v.check("mobile", Mobile::parse(raw)).map(Some),
        };
        match (name, mobile) {
            (Some(name), Some(mobile)) if v.is_empty() => Ok(ContactDraft {
                name,
                title: Some(title).filter(|t| !t.is_empty()),
                mobile,
            }),
            _ => Err(v),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_check_character_is_a_warning() {
        let f = UnitForm {
            name: "佛山市某科技有限公司".into(),
            credit_code: "91440604MA4UJ5XX7C".into(),
            kind: "民营企业".into(),
            node_id: Some(3),
            address: "".into(),
        };
        let d = UnitDraft::try_from(&f).unwrap();
        assert!(d.warning.is_some());
        assert_eq!(d.kind, UnitKind::Private);
    }

    #[test]
    fn bad_fields_are_named() {
        let f = UnitForm {
            name: " ".into(),
            credit_code: "123".into(),
            kind: "公司".into(),
            node_id: None,
            address: "".into(),
        };
        let v = UnitDraft::try_from(&f).unwrap_err();
        for field in ["name", "credit_code", "kind", "node_id"] {
            assert!(v.message_for(field).is_some(), "{field}");
        }
        let c = ContactDraft::try_from(&ContactForm {
            name: "王五".into(),
            title: "".into(),
            mobile: "123".into(),
        })
        .unwrap_err();
        assert!(c.message_for("mobile").is_some());
    }
}
