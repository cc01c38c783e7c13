//! Residents: the form as typed, converted once into a [`ResidentDraft`] whose identifiers
//! are valid (身份证号 with its check character and birth date, mobile number).

use serde::{Deserialize, Serialize};

use crate::Validation;
use crate::ids::{IdNumber, Mobile, normalize_cell};
use crate::tree::Name;

/// A resident as typed into a form or sent as JSON.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct ResidentForm {
    #[serde(default)]
    pub name: String,
    /// 身份证号 (18 characters; optional for residents without one, e.g. foreigners).
    #[serde(default)]
    pub id_number: String,
    #[serde(default)]
    pub mobile: String,
    /// The home grid's id (a level-3 or level-2 grid).
    #[serde(default)]
    pub home_node_id: Option<i64>,
    /// Building and room, e.g. 3栋502.
    #[serde(default)]
    pub household: String,
    /// Household registration (户籍) elsewhere: 外来人口.
    #[serde(default)]
    pub registered_elsewhere: bool,
}

/// A resident's validated attributes.
#[derive(Debug, Clone)]
pub struct ResidentDraft {
    pub name: Name,
    pub id_number: Option<IdNumber>,
    pub mobile: Option<Mobile>,
    pub home_node_id: i64,
    pub household: Option<String>,
    pub registered_elsewhere: bool,
}

impl TryFrom<&ResidentForm> for ResidentDraft {
    type Error = Validation;

    fn try_from(form: &ResidentForm) -> Result<Self, Validation> {
        let mut v = Validation::new();
        let name = v.check("name", Name::parse(&normalize_cell(&form.name)));
        let id_number = match form.id_number.trim() {
            "" => Some(None),
            raw => v.check("id_number", IdNumber::parse_today(raw, false)).map(Some),
        };
        let mobile = match form.mobile.trim() {
            "" => Some(None),
            raw => v.check("mobile", Mobile::parse(raw)).map(Some),
        };
        if form.home_node_id.is_none() {
            v.push("home_node_id", "请选择居住的网格");
        }
        let household = normalize_cell(&form.household);
        if household.chars().count() > 40 || household.contains('\0') {
            v.push("household", "门牌最多 40 个字符");
        }
        if !v.is_empty() {
            return Err(v);
        }
        match (name, id_number, mobile, form.home_node_id) {
            (Some(name), Some(id_number), Some(mobile), Some(home_node_id)) => Ok(ResidentDraft {
                name,
                id_number,
                mobile,
                home_node_id,
                household: Some(household).filter(|h| !h.is_empty()),
                registered_elsewhere: form.registered_elsewhere,
            }),
            _ => Err(v),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form() -> ResidentForm {
        ResidentForm {
            name: " 张三 ".into(),
            id_number: "11010519491231002x".into(),
            mobile: "+86 138-1234-5678".into(),
            home_node_id: Some(7),
            household: "３栋502".into(),
            registered_elsewhere: true,
        }
    }

    #[test]
    fn a_good_form_converts_once() {
        let d = ResidentDraft::try_from(&form()).unwrap();
        assert_eq!(d.name.as_str(), "张三");
        assert_eq!(d.id_number.unwrap().as_str(), "11010519491231002X");
        assert_eq!(d.mobile.unwrap().as_str(), "13812345678");
        assert_eq!(d.household.as_deref(), Some("3栋502"));
    }

    #[test]
    fn each_bad_field_is_named() {
        let mut f = form();
        f.id_number = "110105194912310021".into();
        f.mobile = "12812345678".into();
        f.name = "".into();
        f.home_node_id = None;
        let v = ResidentDraft::try_from(&f).unwrap_err();
        assert!(v.message_for("id_number").unwrap().contains("校验位"));
        assert!(v.message_for("mobile").is_some());
        assert!(v.message_for("name").is_some());
        assert!(v.message_for("home_node_id").is_some());
    }
}
