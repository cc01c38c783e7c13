//! Posts held by people over time, at a governance node or in a party organisation, from which
//! 一肩挑 (one person as party secretary and residents'-committee director) and 交叉任职 are
//! computed.

use serde::Serialize;

use crate::tree::Level;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PostKind {
    /// 书记 (of a party organisation)
    Secretary,
    /// 副书记
    DeputySecretary,
    /// 组织委员
    OrganisingMember,
    /// 委员 (party committee member)
    CommitteeMember,
    /// 兼职委员 of a 大工委 / 大党委, drawn from a unit in the area
    PartTimeMember,
    /// 居委会主任
    RcDirector,
    /// 居委会委员
    RcMember,
    /// 党建工作指导员
    Instructor,
    /// 后备干部
    ReserveCadre,
    /// 社区工作者 (with a grade)
    CommunityWorker,
    /// 网格员
    GridWorker,
    /// 楼长
    BuildingLeader,
}

impl PostKind {
    pub const ALL: [PostKind; 12] = [
        PostKind::Secretary,
        PostKind::DeputySecretary,
        PostKind::OrganisingMember,
        PostKind::CommitteeMember,
        PostKind::PartTimeMember,
        PostKind::RcDirector,
        PostKind::RcMember,
        PostKind::Instructor,
        PostKind::ReserveCadre,
        PostKind::CommunityWorker,
        PostKind::GridWorker,
        PostKind::BuildingLeader,
    ];

    pub fn key(self) -> &'static str {
        match self {
            PostKind::Secretary => "secretary",
            PostKind::DeputySecretary => "deputy_secretary",
            PostKind::OrganisingMember => "organising_member",
            PostKind::CommitteeMember => "committee_member",
            PostKind::PartTimeMember => "part_time_member",
            PostKind::RcDirector => "rc_director",
            PostKind::RcMember => "rc_member",
            PostKind::Instructor => "instructor",
            PostKind::ReserveCadre => "reserve_cadre",
            PostKind::CommunityWorker => "community_worker",
            PostKind::GridWorker => "grid_worker",
            PostKind::BuildingLeader => "building_leader",
        }
    }

    pub fn from_key(s: &str) -> Option<PostKind> {
        PostKind::ALL.into_iter().find(|k| k.key() == s)
    }

    /// From a key, its Chinese label, or a usual variant of it (as a spreadsheet has it).
    pub fn parse(raw: &str) -> Option<PostKind> {
        let s = crate::ids::normalize_cell(raw);
        let s = match s.as_str() {
            "党建指导员" | "党建工作指导员" => "instructor",
            "党组织书记" | "支部书记" | "党委书记" | "党支部书记" | "党总支书记" => "secretary",
            "社工" | "专职社区工作者" => "community_worker",
            "网格长" | "专职网格员" => "grid_worker",
            other => other,
        };
        PostKind::ALL.into_iter().find(|k| k.key() == s || k.label_zh() == s)
    }

    /// A grade as typed (社区工作者的等级, e.g. 一级): at most 20 characters.
    pub fn parse_grade(raw: &str) -> Result<Option<String>, &'static str> {
        let g = crate::ids::normalize_cell(raw);
        if g.chars().count() > 20 || g.chars().any(char::is_control) {
            return Err("等级最多 20 个字符");
        }
        Ok(Some(g).filter(|g| !g.is_empty()))
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            PostKind::Secretary => "书记",
            PostKind::DeputySecretary => "副书记",
            PostKind::OrganisingMember => "组织委员",
            PostKind::CommitteeMember => "委员",
            PostKind::PartTimeMember => "兼职委员",
            PostKind::RcDirector => "居委会主任",
            PostKind::RcMember => "居委会委员",
            PostKind::Instructor => "党建工作指导员",
            PostKind::ReserveCadre => "后备干部",
            PostKind::CommunityWorker => "社区工作者",
            PostKind::GridWorker => "网格员",
            PostKind::BuildingLeader => "楼长",
        }
    }

    /// Held in a party organisation (otherwise at a governance node).
    pub fn in_party_org(self) -> bool {
        matches!(
            self,
            PostKind::Secretary
                | PostKind::DeputySecretary
                | PostKind::OrganisingMember
                | PostKind::CommitteeMember
                | PostKind::PartTimeMember
        )
    }

    /// The node levels a node post is held at.
    pub fn node_levels(self) -> &'static [Level] {
        match self {
            PostKind::RcDirector | PostKind::RcMember | PostKind::ReserveCadre | PostKind::CommunityWorker => {
                &[Level::Community]
            }
            PostKind::Instructor => &[Level::Street],
            PostKind::GridWorker | PostKind::BuildingLeader => &[Level::GridL2, Level::GridL3],
            _ => &[],
        }
    }

    /// Posts one person holds at a time in one place.
    pub fn is_single(self) -> bool {
        matches!(self, PostKind::Secretary | PostKind::RcDirector)
    }

    /// Posts of the residents' committee (for 交叉任职).
    pub fn in_residents_committee(self) -> bool {
        matches!(self, PostKind::RcDirector | PostKind::RcMember)
    }

    /// Posts of the party committee (for 交叉任职).
    pub fn in_party_committee(self) -> bool {
        matches!(
            self,
            PostKind::Secretary | PostKind::DeputySecretary | PostKind::OrganisingMember | PostKind::CommitteeMember
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_places_are_consistent() {
        for k in PostKind::ALL {
            assert_eq!(PostKind::from_key(k.key()), Some(k));
            assert_eq!(k.in_party_org(), k.node_levels().is_empty(), "{k:?}");
        }
        assert!(PostKind::Secretary.is_single());
        assert_eq!(PostKind::Instructor.node_levels(), &[Level::Street]);
        assert_eq!(PostKind::parse(" 居委会主任 "), Some(PostKind::RcDirector));
        assert_eq!(PostKind::parse("党支部书记"), Some(PostKind::Secretary));
        assert_eq!(PostKind::parse("grid_worker"), Some(PostKind::GridWorker));
        assert_eq!(PostKind::parse("主任"), None);
        assert_eq!(PostKind::parse_grade("一级"), Ok(Some("一级".into())));
        assert!(PostKind::parse_grade(&"级".repeat(21)).is_err());
    }
}
