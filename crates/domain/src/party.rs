//! The party-organisation tree: 党工委 / 党委 / 党总支 / 党支部 / 党小组, each attached to the
//! territory (a governance-tree node) it covers.

use serde::Serialize;

use crate::tree::Level;

/// The rank of a party organisation. Stored as its key; never rename a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OrgKind {
    /// 党工委 (e.g. a street's party working committee)
    WorkingCommittee,
    /// 党委
    Committee,
    /// 党总支
    GeneralBranch,
    /// 党支部
    Branch,
    /// 党小组
    Group,
}

impl OrgKind {
    pub const ALL: [OrgKind; 5] = [
        OrgKind::WorkingCommittee,
        OrgKind::Committee,
        OrgKind::GeneralBranch,
        OrgKind::Branch,
        OrgKind::Group,
    ];

    pub fn key(self) -> &'static str {
        match self {
            OrgKind::WorkingCommittee => "working_committee",
            OrgKind::Committee => "committee",
            OrgKind::GeneralBranch => "general_branch",
            OrgKind::Branch => "branch",
            OrgKind::Group => "group",
        }
    }

    pub fn from_key(s: &str) -> Option<OrgKind> {
        OrgKind::ALL.into_iter().find(|k| k.key() == s)
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            OrgKind::WorkingCommittee => "党工委",
            OrgKind::Committee => "党委",
            OrgKind::GeneralBranch => "党总支",
            OrgKind::Branch => "党支部",
            OrgKind::Group => "党小组",
        }
    }

    /// The kinds an organisation of this kind may be placed under.
    pub fn allowed_parents(self) -> &'static [OrgKind] {
        match self {
            OrgKind::WorkingCommittee => &[OrgKind::Committee],
            OrgKind::Committee => &[OrgKind::WorkingCommittee, OrgKind::Committee],
            OrgKind::GeneralBranch => &[OrgKind::WorkingCommittee, OrgKind::Committee],
            OrgKind::Branch => &[OrgKind::WorkingCommittee, OrgKind::Committee, OrgKind::GeneralBranch],
            OrgKind::Group => &[OrgKind::Branch],
        }
    }

    /// Whether this kind may stand at the top of the tree (its superior is outside the platform).
    pub fn may_be_root(self) -> bool {
        matches!(self, OrgKind::WorkingCommittee | OrgKind::Committee)
    }
}

/// The domain an organisation works in (领域).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OrgCategory {
    /// 街道
    Street,
    /// 社区
    Community,
    /// 小区（物业住宅小区）
    Estate,
    /// 网格
    Grid,
    /// 机关
    Agency,
    /// 事业单位
    PublicInstitution,
    /// 国有企业
    StateEnterprise,
    /// 非公企业
    PrivateEnterprise,
    /// 社会组织
    SocialOrganisation,
    /// 行业
    Industry,
    /// 商圈楼宇
    Business,
    /// 物业服务企业
    PropertyCompany,
}

impl OrgCategory {
    pub const ALL: [OrgCategory; 12] = [
        OrgCategory::Street,
        OrgCategory::Community,
        OrgCategory::Estate,
        OrgCategory::Grid,
        OrgCategory::Agency,
        OrgCategory::PublicInstitution,
        OrgCategory::StateEnterprise,
        OrgCategory::PrivateEnterprise,
        OrgCategory::SocialOrganisation,
        OrgCategory::Industry,
        OrgCategory::Business,
        OrgCategory::PropertyCompany,
    ];

    pub fn key(self) -> &'static str {
        match self {
            OrgCategory::Street => "street",
            OrgCategory::Community => "community",
            OrgCategory::Estate => "estate",
            OrgCategory::Grid => "grid",
            OrgCategory::Agency => "agency",
            OrgCategory::PublicInstitution => "public_institution",
            OrgCategory::StateEnterprise => "state_enterprise",
            OrgCategory::PrivateEnterprise => "private_enterprise",
            OrgCategory::SocialOrganisation => "social_organisation",
            OrgCategory::Industry => "industry",
            OrgCategory::Business => "business",
            OrgCategory::PropertyCompany => "property_company",
        }
    }

    pub fn from_key(s: &str) -> Option<OrgCategory> {
        OrgCategory::ALL.into_iter().find(|k| k.key() == s)
    }

    /// On the public directory: the party organisations of agencies, public institutions and
    /// state enterprises (机关、事业单位、国有企业党组织), which pair with communities across the
    /// city and whose names are public, so a record anywhere may name them.
    pub fn is_public(self) -> bool {
        matches!(
            self,
            OrgCategory::Agency | OrgCategory::PublicInstitution | OrgCategory::StateEnterprise
        )
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            OrgCategory::Street => "街道",
            OrgCategory::Community => "社区",
            OrgCategory::Estate => "小区",
            OrgCategory::Grid => "网格",
            OrgCategory::Agency => "机关",
            OrgCategory::PublicInstitution => "事业单位",
            OrgCategory::StateEnterprise => "国有企业",
            OrgCategory::PrivateEnterprise => "非公企业",
            OrgCategory::SocialOrganisation => "社会组织",
            OrgCategory::Industry => "行业",
            OrgCategory::Business => "商圈楼宇",
            OrgCategory::PropertyCompany => "物业服务企业",
        }
    }

    /// The territory levels an organisation of this category may be attached to.
    pub fn territory_levels(self) -> &'static [Level] {
        match self {
            OrgCategory::Street => &[Level::Street],
            OrgCategory::Community => &[Level::Community],
            OrgCategory::Estate => &[Level::GridL2],
            OrgCategory::Grid => &[Level::GridL2, Level::GridL3],
            OrgCategory::Industry => &[Level::City, Level::District],
            _ => &[
                Level::City,
                Level::District,
                Level::Street,
                Level::Community,
                Level::GridL2,
                Level::GridL3,
            ],
        }
    }
}

/// Checks that an organisation of `kind` may sit under a parent of `parent` kind.
pub fn check_parent(kind: OrgKind, parent: Option<OrgKind>) -> Result<(), String> {
    match parent {
        None if kind.may_be_root() => Ok(()),
        None => Err(format!("{}必须有上级党组织", kind.label_zh())),
        Some(p) if kind.allowed_parents().contains(&p) => Ok(()),
        Some(p) => {
            let allowed: Vec<&str> = kind.allowed_parents().iter().map(|k| k.label_zh()).collect();
            Err(format!(
                "{}只能隶属于{}，所选上级是{}",
                kind.label_zh(),
                allowed.join("、"),
                p.label_zh()
            ))
        }
    }
}

/// Checks that an organisation of `category` may cover a territory node of `level`.
pub fn check_territory(category: OrgCategory, level: Level) -> Result<(), String> {
    if category.territory_levels().contains(&level) {
        Ok(())
    } else {
        let allowed: Vec<&str> = category.territory_levels().iter().map(|l| l.label_zh()).collect();
        Err(format!(
            "{}党组织的所属区域应为{}，所选的是{}",
            category.label_zh(),
            allowed.join("或"),
            level.label_zh()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rank_rules() {
        assert!(check_parent(OrgKind::Group, Some(OrgKind::Branch)).is_ok());
        assert_eq!(
            check_parent(OrgKind::Group, Some(OrgKind::Committee)),
            Err("党小组只能隶属于党支部，所选上级是党委".to_string())
        );
        assert!(check_parent(OrgKind::WorkingCommittee, None).is_ok());
        assert!(check_parent(OrgKind::Branch, None).is_err());
        assert!(check_parent(OrgKind::Branch, Some(OrgKind::GeneralBranch)).is_ok());
    }

    #[test]
    fn territory_rules() {
        assert!(check_territory(OrgCategory::Estate, Level::GridL2).is_ok());
        assert_eq!(
            check_territory(OrgCategory::Estate, Level::Street),
            Err("小区党组织的所属区域应为二级网格，所选的是街道（镇）".to_string())
        );
        assert!(check_territory(OrgCategory::PrivateEnterprise, Level::Community).is_ok());
    }

    #[test]
    fn keys_round_trip() {
        for k in OrgKind::ALL {
            assert_eq!(OrgKind::from_key(k.key()), Some(k));
        }
        for c in OrgCategory::ALL {
            assert_eq!(OrgCategory::from_key(c.key()), Some(c));
        }
    }
}
