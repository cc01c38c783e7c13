//! The governance tree: city → district → street → community (level-1 grid) → level-2 grid →
//! level-3 grid, with 12-digit statistical division codes for the administrative levels and
//! grid codes derived from the community code.

use serde::Serialize;

/// A level of the governance tree. The numbers are stored; never renumber them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    City = 1,
    District = 2,
    Street = 3,
    /// A community (社区/村居) is also the level-1 grid.
    Community = 4,
    GridL2 = 5,
    GridL3 = 6,
}

impl Level {
    pub const ALL: [Level; 6] = [
        Level::City,
        Level::District,
        Level::Street,
        Level::Community,
        Level::GridL2,
        Level::GridL3,
    ];

    pub fn as_i64(self) -> i64 {
        self as i64
    }

    pub fn from_i64(n: i64) -> Option<Level> {
        Level::ALL.into_iter().find(|l| l.as_i64() == n)
    }

    /// The stable name used in the API and in URLs.
    pub fn key(self) -> &'static str {
        match self {
            Level::City => "city",
            Level::District => "district",
            Level::Street => "street",
            Level::Community => "community",
            Level::GridL2 => "grid_l2",
            Level::GridL3 => "grid_l3",
        }
    }

    pub fn from_key(s: &str) -> Option<Level> {
        Level::ALL.into_iter().find(|l| l.key() == s)
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Level::City => "市",
            Level::District => "区（县）",
            Level::Street => "街道（镇）",
            Level::Community => "社区（一级网格）",
            Level::GridL2 => "二级网格",
            Level::GridL3 => "三级网格",
        }
    }

    /// The level a parent of this level must have; `None` for the root level.
    pub fn parent_level(self) -> Option<Level> {
        Level::from_i64(self.as_i64() - 1)
    }

    pub fn child_level(self) -> Option<Level> {
        Level::from_i64(self.as_i64() + 1)
    }

    pub fn is_grid(self) -> bool {
        matches!(self, Level::GridL2 | Level::GridL3)
    }

    /// Administrative levels carry a statistical division code typed by the user.
    pub fn is_administrative(self) -> bool {
        !self.is_grid()
    }

    /// How many leading characters of a node's code its descendants' codes share.
    pub fn prefix_len(self) -> usize {
        match self {
            Level::City => 4,
            Level::District => 6,
            Level::Street => 9,
            Level::Community => 12,
            Level::GridL2 => 15,
            Level::GridL3 => 18,
        }
    }

    /// Total length of a code at this level.
    pub fn code_len(self) -> usize {
        match self {
            Level::GridL2 => 15,
            Level::GridL3 => 18,
            _ => 12,
        }
    }
}

/// A node code: a 12-digit statistical division code for the administrative levels, or a
/// grid code (community code + 3-digit sequence per grid level). Built only through
/// [`NodeCode::parse`], which checks the level's shape and the parent's prefix.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct NodeCode(String);

/// Why a code was refused. Messages are shown beside the `code` field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    #[error("代码不能为空")]
    Blank,
    #[error("代码只能包含数字，第 {position} 位是“{found}”")]
    NotDigits { position: usize, found: char },
    #[error("{level}代码应为 {expected} 位数字，实际为 {actual} 位")]
    WrongLength {
        level: &'static str,
        expected: usize,
        actual: usize,
    },
    #[error("{level}代码第 {from}–{to} 位应为 {expected}，实际为 {actual}")]
    WrongSegment {
        level: &'static str,
        from: usize,
        to: usize,
        expected: &'static str,
        actual: String,
    },
    #[error("代码必须以上级代码的前 {len} 位“{prefix}”开头")]
    WrongPrefix { len: usize, prefix: String },
}

fn segment(code: &str, from: usize, to: usize) -> &str {
    code.get(from..to).unwrap_or("")
}

impl NodeCode {
    /// Parses `raw` as the code of a node at `level` whose parent has `parent` as code
    /// (`None` for a root). Full-width digits and surrounding spaces are tolerated.
    pub fn parse(raw: &str, level: Level, parent: Option<&NodeCode>) -> Result<NodeCode, CodeError> {
        let code: String = raw
            .trim()
            .chars()
            .map(|c| match c {
                '０'..='９' => char::from_u32(c as u32 - '０' as u32 + '0' as u32).unwrap_or(c),
                _ => c,
            })
            .collect();
        if code.is_empty() {
            return Err(CodeError::Blank);
        }
        if let Some((i, c)) = code.chars().enumerate().find(|(_, c)| !c.is_ascii_digit()) {
            return Err(CodeError::NotDigits {
                position: i + 1,
                found: c,
            });
        }
        let label = level.label_zh();
        if code.len() != level.code_len() {
            return Err(CodeError::WrongLength {
                level: label,
                expected: level.code_len(),
                actual: code.len(),
            });
        }
        let zeros = |from: usize, to: usize| -> Result<(), CodeError> {
            let s = segment(&code, from, to);
            if s.bytes().all(|b| b == b'0') {
                Ok(())
            } else {
                Err(CodeError::WrongSegment {
                    level: label,
                    from: from + 1,
                    to,
                    expected: "全 0",
                    actual: s.to_string(),
                })
            }
        };
        let nonzero = |from: usize, to: usize| -> Result<(), CodeError> {
            let s = segment(&code, from, to);
            if s.bytes().any(|b| b != b'0') {
                Ok(())
            } else {
                Err(CodeError::WrongSegment {
                    level: label,
                    from: from + 1,
                    to,
                    expected: "非 0",
                    actual: s.to_string(),
                })
            }
        };
        let in_range = |from: usize, to: usize, what: &'static str| -> Result<(), CodeError> {
            let s = segment(&code, from, to);
            match s.parse::<u32>() {
                Ok(n) if (1..=599).contains(&n) => Ok(()),
                _ => Err(CodeError::WrongSegment {
                    level: label,
                    from: from + 1,
                    to,
                    expected: what,
                    actual: s.to_string(),
                }),
            }
        };
        match level {
            Level::City => {
                nonzero(0, 2)?;
                nonzero(2, 4)?;
                zeros(4, 12)?;
            }
            Level::District => {
                nonzero(4, 6)?;
                zeros(6, 12)?;
            }
            Level::Street => {
                in_range(6, 9, "001–599（街道、镇、乡或特殊单位）")?;
                zeros(9, 12)?;
            }
            Level::Community => in_range(9, 12, "001–599（居委会、村委会或类似单位）")?,
            Level::GridL2 | Level::GridL3 => {
                let end = level.code_len();
                nonzero(end - 3, end)?;
            }
        }
        if let Some(parent) = parent {
            let len = level.parent_level().map(|p| p.prefix_len()).unwrap_or(0);
            let prefix = segment(&parent.0, 0, len);
            if !code.starts_with(prefix) {
                return Err(CodeError::WrongPrefix {
                    len,
                    prefix: prefix.to_string(),
                });
            }
        }
        Ok(NodeCode(code))
    }

    /// The code of the `seq`-th grid under a parent (community or level-2 grid).
    pub fn grid(parent: &NodeCode, seq: u32) -> Option<NodeCode> {
        if !(1..=999).contains(&seq) || !matches!(parent.0.len(), 12 | 15) {
            return None;
        }
        Some(NodeCode(format!("{}{:03}", parent.0, seq)))
    }

    /// Trusts a code read back from storage, where it was stored only after parsing.
    pub fn from_stored(s: String) -> NodeCode {
        NodeCode(s)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The last three digits of a grid code.
    pub fn grid_seq(&self) -> Option<u32> {
        if matches!(self.0.len(), 15 | 18) {
            self.0[self.0.len() - 3..].parse().ok()
        } else {
            None
        }
    }

    /// What kind of township (street level) or village (community level) the code denotes.
    pub fn division_kind_zh(&self, level: Level) -> Option<&'static str> {
        let n: u32 = match level {
            Level::Street => segment(&self.0, 6, 9).parse().ok()?,
            Level::Community => segment(&self.0, 9, 12).parse().ok()?,
            _ => return None,
        };
        Some(match (level, n) {
            (Level::Street, 1..=99) => "街道",
            (Level::Street, 100..=199) => "镇",
            (Level::Street, 200..=399) => "乡",
            (Level::Community, 1..=199) => "居委会",
            (Level::Community, 200..=399) => "村委会",
            _ => "特殊单位",
        })
    }
}

impl std::fmt::Display for NodeCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Pads a short division code of the national table (2, 4, 6 or 9 digits) to 12 digits.
pub fn pad_division_code(short: &str) -> String {
    format!("{short:0<12}")
}

/// The level a code of the national division table denotes, by its unpadded length.
pub fn level_of_short_code(short: &str) -> Option<Level> {
    match short.len() {
        4 => Some(Level::City),
        6 => Some(Level::District),
        9 => Some(Level::Street),
        12 => Some(Level::Community),
        _ => None,
    }
}

/// A name of a node or organisation: trimmed, 1–60 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Name(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("名称不能为空")]
    Blank,
    #[error("名称最多 {max} 个字符，现有 {actual} 个")]
    TooLong { max: usize, actual: usize },
    #[error("名称不能包含控制字符（如换行、制表符或空字符）")]
    ControlChar,
}

impl Name {
    pub const MAX: usize = 60;

    pub fn parse(raw: &str) -> Result<Name, NameError> {
        let s = raw.trim_matches(|c: char| c.is_whitespace() || c == '\u{3000}');
        if s.is_empty() {
            return Err(NameError::Blank);
        }
        if s.chars().any(|c| c.is_control()) {
            return Err(NameError::ControlChar);
        }
        let n = s.chars().count();
        if n > Self::MAX {
            return Err(NameError::TooLong {
                max: Self::MAX,
                actual: n,
            });
        }
        Ok(Name(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// The kind of a level-2 or level-3 grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GridKind {
    /// 居民小组
    ResidentGroup,
    /// 物业小区
    Estate,
    /// 商圈楼宇
    Business,
    /// 党小组长责任区
    PartyGroupArea,
    /// 党员楼长责任区
    BuildingLeaderArea,
    /// 无职领岗党员责任区
    PostHolderArea,
    /// 党群志愿服务队责任区
    VolunteerTeamArea,
}

impl GridKind {
    pub const ALL: [GridKind; 7] = [
        GridKind::ResidentGroup,
        GridKind::Estate,
        GridKind::Business,
        GridKind::PartyGroupArea,
        GridKind::BuildingLeaderArea,
        GridKind::PostHolderArea,
        GridKind::VolunteerTeamArea,
    ];

    pub fn key(self) -> &'static str {
        match self {
            GridKind::ResidentGroup => "resident_group",
            GridKind::Estate => "estate",
            GridKind::Business => "business",
            GridKind::PartyGroupArea => "party_group_area",
            GridKind::BuildingLeaderArea => "building_leader_area",
            GridKind::PostHolderArea => "post_holder_area",
            GridKind::VolunteerTeamArea => "volunteer_team_area",
        }
    }

    pub fn from_key(s: &str) -> Option<GridKind> {
        GridKind::ALL.into_iter().find(|k| k.key() == s)
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            GridKind::ResidentGroup => "居民小组",
            GridKind::Estate => "物业小区",
            GridKind::Business => "商圈楼宇",
            GridKind::PartyGroupArea => "党小组长责任区",
            GridKind::BuildingLeaderArea => "党员楼长责任区",
            GridKind::PostHolderArea => "无职领岗党员责任区",
            GridKind::VolunteerTeamArea => "党群志愿服务队责任区",
        }
    }

    /// The grid level this kind belongs to.
    pub fn level(self) -> Level {
        match self {
            GridKind::ResidentGroup | GridKind::Estate | GridKind::Business => Level::GridL2,
            _ => Level::GridL3,
        }
    }

    pub fn for_level(level: Level) -> Vec<GridKind> {
        GridKind::ALL.into_iter().filter(|k| k.level() == level).collect()
    }
}

/// A non-negative count typed into a form (households, population).
pub fn parse_count(raw: &str) -> Result<Option<i64>, String> {
    let s = raw.trim();
    if s.is_empty() {
        return Ok(None);
    }
    match s.parse::<i64>() {
        Ok(n) if (0..=100_000_000).contains(&n) => Ok(Some(n)),
        Ok(_) => Err("应为 0 到 1 亿之间的整数".to_string()),
        Err(_) => Err(format!("“{s}”不是整数")),
    }
}

/// Why a node cannot be placed under a parent.
pub fn check_parent(child: Level, parent: Option<Level>) -> Result<(), String> {
    match (child.parent_level(), parent) {
        (None, None) => Ok(()),
        (None, Some(_)) => Err(format!("{}是最高一级，不能有上级", child.label_zh())),
        (Some(need), None) => Err(format!("{}必须有上级{}", child.label_zh(), need.label_zh())),
        (Some(need), Some(got)) if need == got => Ok(()),
        (Some(need), Some(got)) => Err(format!(
            "{}只能建在{}下，所选上级是{}",
            child.label_zh(),
            need.label_zh(),
            got.label_zh()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(raw: &str, level: Level, parent: Option<&NodeCode>) -> NodeCode {
        NodeCode::parse(raw, level, parent).unwrap()
    }

    #[test]
    fn parses_each_admin_level_with_parent_prefix() {
        let city = code("440600000000", Level::City, None);
        let district = code("440604000000", Level::District, Some(&city));
        let street = code("440604001000", Level::Street, Some(&district));
        let community = code("440604001001", Level::Community, Some(&street));
        assert_eq!(community.as_str(), "440604001001");
        assert_eq!(street.division_kind_zh(Level::Street), Some("街道"));
        assert_eq!(community.division_kind_zh(Level::Community), Some("居委会"));
        assert_eq!(
            code("440604101201", Level::Community, None).division_kind_zh(Level::Community),
            Some("村委会")
        );
    }

    #[test]
    fn refuses_wrong_prefix_length_digits_and_segments() {
        let street = code("440604001000", Level::Street, None);
        assert_eq!(
            NodeCode::parse("440605001001", Level::Community, Some(&street)),
            Err(CodeError::WrongPrefix {
                len: 9,
                prefix: "440604001".into()
            })
        );
        assert_eq!(
            NodeCode::parse("44060400100", Level::Community, None),
            Err(CodeError::WrongLength {
                level: "社区（一级网格）",
                expected: 12,
                actual: 11
            })
        );
        assert_eq!(
            NodeCode::parse("4406040010a1", Level::Community, None),
            Err(CodeError::NotDigits {
                position: 11,
                found: 'a'
            })
        );
        assert!(matches!(
            NodeCode::parse("440604001000", Level::Community, None),
            Err(CodeError::WrongSegment { .. })
        ));
        assert!(matches!(
            NodeCode::parse("440604600000", Level::Street, None),
            Err(CodeError::WrongSegment { .. })
        ));
        assert!(matches!(
            NodeCode::parse("440604001001", Level::Street, None),
            Err(CodeError::WrongSegment { .. })
        ));
        assert_eq!(NodeCode::parse("  ", Level::City, None), Err(CodeError::Blank));
    }

    #[test]
    fn full_width_digits_are_normalised() {
        assert_eq!(
            code(" ４４０６００００００００ ", Level::City, None).as_str(),
            "440600000000"
        );
    }

    #[test]
    fn grid_codes_derive_from_parent() {
        let community = code("440604001001", Level::Community, None);
        let g2 = NodeCode::grid(&community, 7).unwrap();
        assert_eq!(g2.as_str(), "440604001001007");
        let g3 = NodeCode::grid(&g2, 12).unwrap();
        assert_eq!(g3.as_str(), "440604001001007012");
        assert_eq!(g3.grid_seq(), Some(12));
        assert_eq!(NodeCode::grid(&g3, 1), None);
        assert_eq!(NodeCode::grid(&community, 1000), None);
        assert!(NodeCode::parse("440604001001007", Level::GridL2, Some(&community)).is_ok());
        assert!(NodeCode::parse("440604001002007", Level::GridL2, Some(&community)).is_err());
        assert!(NodeCode::parse("440604001001000", Level::GridL2, Some(&community)).is_err());
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(Name::parse("  祖庙街道 ").unwrap().as_str(), "祖庙街道");
        assert_eq!(Name::parse(" \u{3000} "), Err(NameError::Blank));
        assert_eq!(Name::parse("a\0b"), Err(NameError::ControlChar));
        assert_eq!(
            Name::parse(&"网".repeat(61)),
            Err(NameError::TooLong { max: 60, actual: 61 })
        );
        assert!(Name::parse(&"网".repeat(60)).is_ok());
    }

    #[test]
    fn parent_levels_are_enforced() {
        assert!(check_parent(Level::GridL3, Some(Level::GridL2)).is_ok());
        assert_eq!(
            check_parent(Level::GridL3, Some(Level::Street)),
            Err("三级网格只能建在二级网格下，所选上级是街道（镇）".to_string())
        );
        assert!(check_parent(Level::City, None).is_ok());
        assert!(check_parent(Level::District, None).is_err());
    }

    #[test]
    fn short_codes_pad_to_twelve() {
        assert_eq!(pad_division_code("4406"), "440600000000");
        assert_eq!(level_of_short_code("440604001"), Some(Level::Street));
        assert_eq!(parse_count(" 12 "), Ok(Some(12)));
        assert_eq!(parse_count(""), Ok(None));
        assert!(parse_count("-1").is_err());
    }
}
