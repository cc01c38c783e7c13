//! Demo cities built from the real division list, with synthetic grids and party
//! organisations whose counts land on the seed's figures (Foshan: 5302 level-2 and 10721
//! level-3 grids, 300 estate branches). Everything is written in one transaction.

use std::time::Instant;

use gongjian_domain::party::{OrgCategory, OrgKind};
use gongjian_domain::tree::{GridKind, Level, NodeCode};

use crate::db::{Store, Tx};
use crate::divisions::{Division, embedded};
use crate::error::{StoreError, StoreResult};
use crate::sql::Sql;
use crate::tree::STATUS_ACTIVE;

mod bulk;
mod people;
mod registration;
mod volunteers;

pub use registration::RegistrationCounts;
pub use volunteers::{SHOWCASE_VOLUNTEERS, VolunteerCounts};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DemoCity {
    /// 佛山市, all five districts.
    Foshan,
    /// 呼和浩特市玉泉区.
    Yuquan,
    /// 乌鲁木齐市头屯河区 (with the 经济技术开发区).
    Toutunhe,
}

impl DemoCity {
    pub const ALL: [DemoCity; 3] = [DemoCity::Foshan, DemoCity::Yuquan, DemoCity::Toutunhe];

    pub fn key(self) -> &'static str {
        match self {
            DemoCity::Foshan => "foshan",
            DemoCity::Yuquan => "yuquan",
            DemoCity::Toutunhe => "toutunhe",
        }
    }

    pub fn from_key(s: &str) -> Option<DemoCity> {
        DemoCity::ALL.into_iter().find(|c| c.key() == s)
    }

    fn city_code(self) -> &'static str {
        match self {
            DemoCity::Foshan => "4406",
            DemoCity::Yuquan => "1501",
            DemoCity::Toutunhe => "6501",
        }
    }

    /// The district the demo is limited to, when it covers one district of its city.
    fn district_code(self) -> Option<&'static str> {
        match self {
            DemoCity::Foshan => None,
            DemoCity::Yuquan => Some("150104"),
            DemoCity::Toutunhe => Some("650106"),
        }
    }

    /// Level-2 and level-3 grid totals: the seed's figures for Foshan, the Foshan ratios
    /// elsewhere.
    fn grid_targets(self, communities: usize) -> (usize, usize) {
        match self {
            DemoCity::Foshan => (5302, 10721),
            _ => {
                let l2 = communities * 5302 / 809;
                (l2, l2 * 10721 / 5302)
            }
        }
    }

    /// Estate (小区) and grid (网格) party branches to found.
    fn branch_targets(self, l2: usize) -> (usize, usize) {
        match self {
            DemoCity::Foshan => (300, l2 / 20),
            DemoCity::Yuquan => (l2 / 10, 223),
            DemoCity::Toutunhe => (l2 / 10, l2 / 8),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    /// The whole tree with the seed's grid counts; people and activity in small numbers.
    Small,
    /// The whole tree with the seed's grid counts; people and activity at the seed's volumes.
    Full,
}

impl Scale {
    pub fn from_key(s: &str) -> Option<Scale> {
        match s {
            "small" => Some(Scale::Small),
            "full" => Some(Scale::Full),
            _ => None,
        }
    }
}

/// What a demo load wrote.
#[derive(Debug, Clone, Default)]
pub struct DemoReport {
    pub city_id: i64,
    pub city_name: String,
    pub districts: usize,
    pub streets: usize,
    pub communities: usize,
    pub grids_l2: usize,
    pub grids_l3: usize,
    pub party_orgs: usize,
    pub residents: usize,
    pub posts: usize,
    /// Units, members, registrations and deployments of double registration.
    pub registration: RegistrationCounts,
    /// Volunteers, teams, activities, hours, points and campaigns.
    pub volunteers: VolunteerCounts,
    pub seconds: f64,
}

/// Progress of a long job: a stage label, units done and units in all.
pub type Progress<'a> = &'a (dyn Fn(&str, u64, u64) + Sync);

/// A level-2 grid as generated: id, code, path, kind, name, community id.
type L2Grid = (i64, String, String, GridKind, String, i64);

struct NodeIns {
    id: i64,
    parent_id: Option<i64>,
    level: Level,
    code: String,
    name: String,
    kind: Option<GridKind>,
    path: String,
    households: Option<i64>,
    population: Option<i64>,
}

struct OrgIns {
    id: i64,
    parent_id: Option<i64>,
    kind: OrgKind,
    category: OrgCategory,
    name: String,
    territory: i64,
    path: String,
}

const ESTATE_NAMES: [&str; 24] = [
    "锦绣",
    "翠湖",
    "碧水",
    "金沙",
    "华庭",
    "明珠",
    "怡景",
    "丽苑",
    "榕树",
    "南海明",
    "东方",
    "绿茵",
    "新城",
    "御景",
    "海伦",
    "荔湾",
    "凤鸣",
    "紫荆",
    "金域",
    "润园",
    "星河",
    "岭南",
    "云山",
    "晴川",
];
const BUSINESS_NAMES: [&str; 8] = ["商贸", "金融", "科技", "创意", "总部", "电商", "物流", "文旅"];

/// Spreads `extra` units over `n` slots evenly: whether slot `i` gets one.
fn gets_extra(i: usize, n: usize, extra: usize) -> bool {
    n > 0 && (i + 1) * extra / n != i * extra / n
}

/// A small deterministic mixer, so the demo is the same on every run.
fn mix(a: usize, b: usize) -> usize {
    let mut x = (a as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (b as u64).wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
    x ^= x >> 29;
    (x % 1_000_003) as usize
}

async fn insert_nodes(tx: &mut Tx, rows: &[NodeIns], now: &str) -> StoreResult<()> {
    for chunk in rows.chunks(crate::sql::ROWS_PER_INSERT) {
        let mut sql = Sql::new(
            "INSERT INTO nodes (id, parent_id, level, code, name, kind, path, households, population, status, \
             created_at, updated_at) VALUES ",
        );
        for (i, r) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.push("(")
                .bind(r.id)
                .push(", ")
                .bind(r.parent_id)
                .push(", ")
                .bind(r.level.as_i64())
                .push(", ")
                .bind(&r.code)
                .push(", ")
                .bind(&r.name)
                .push(", ")
                .bind(r.kind.map(|k| k.key().to_string()))
                .push(", ")
                .bind(&r.path)
                .push(", ")
                .bind(r.households)
                .push(", ")
                .bind(r.population)
                .push(", ")
                .bind(STATUS_ACTIVE)
                .push(", ")
                .bind(now)
                .push(", ")
                .bind(now)
                .push(")");
        }
        sql.query().execute(&mut **tx).await?;
    }
    Ok(())
}

async fn insert_orgs(tx: &mut Tx, rows: &[OrgIns], now: &str) -> StoreResult<()> {
    for chunk in rows.chunks(crate::sql::ROWS_PER_INSERT) {
        let mut sql = Sql::new(
            "INSERT INTO party_orgs (id, parent_id, kind, category, name, territory_node_id, path, status, \
             created_at, updated_at) VALUES ",
        );
        for (i, r) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.push("(")
                .bind(r.id)
                .push(", ")
                .bind(r.parent_id)
                .push(", ")
                .bind(r.kind.key())
                .push(", ")
                .bind(r.category.key())
                .push(", ")
                .bind(&r.name)
                .push(", ")
                .bind(r.territory)
                .push(", ")
                .bind(&r.path)
                .push(", ")
                .bind(STATUS_ACTIVE)
                .push(", ")
                .bind(now)
                .push(", ")
                .bind(now)
                .push(")");
        }
        sql.query().execute(&mut **tx).await?;
    }
    Ok(())
}

fn short_name(name: &str) -> String {
    for suffix in [
        "社区居民委员会",
        "居民委员会",
        "村民委员会",
        "社区居委会",
        "居委会",
        "村委会",
    ] {
        if let Some(s) = name.strip_suffix(suffix) {
            return s.to_string();
        }
    }
    name.to_string()
}

impl Store {
    /// Builds a demo city. Refuses when the city is already there.
    pub async fn load_demo(&self, city: DemoCity, scale: Scale, progress: Progress<'_>) -> StoreResult<DemoReport> {
        let started = Instant::now();
        let all = embedded()?;
        let in_city = |d: &&Division| match city.district_code() {
            None => d.short_code.starts_with(city.city_code()),
            Some(dc) => d.short_code == city.city_code() || d.short_code.starts_with(dc),
        };
        // Ordinary streets only (001–399); farms, prisons and similar units (400–599) are
        // left out of the demo.
        let ordinary = |d: &&Division| d.level != "street" || d.short_code[6..9].parse::<u32>().unwrap_or(999) < 400;
        let rows: Vec<&Division> = all.iter().filter(in_city).filter(ordinary).collect();
        let city_row = rows
            .iter()
            .find(|d| d.level == "city")
            .ok_or_else(|| StoreError::Config(format!("no city {} in the division table", city.city_code())))?;

        let mut tx = self.begin_write().await?;
        let exists: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM nodes WHERE code = $1")
            .bind(&city_row.code)
            .fetch_one(&mut *tx)
            .await?;
        if exists > 0 {
            return Err(StoreError::field(
                "city",
                format!("演示城市“{}”已经存在", city_row.name),
            ));
        }
        let mut next_id: i64 = sqlx::query_scalar::<_, i64>("SELECT COALESCE(MAX(id), 0) FROM nodes")
            .fetch_one(&mut *tx)
            .await?
            + 1;
        let mut next_org: i64 = sqlx::query_scalar::<_, i64>("SELECT COALESCE(MAX(id), 0) FROM party_orgs")
            .fetch_one(&mut *tx)
            .await?
            + 1;
        let now = self.now_text();
        let mut nodes: Vec<NodeIns> = Vec::new();
        let mut orgs: Vec<OrgIns> = Vec::new();
        let mut report = DemoReport {
            city_name: city_row.name.clone(),
            ..DemoReport::default()
        };

        // Administrative levels, parents before children.
        let mut by_short: std::collections::HashMap<String, (i64, String)> = std::collections::HashMap::new();
        for level in ["city", "district", "street", "community"] {
            for d in rows.iter().filter(|d| d.level == level) {
                let parent = d.parent_short_code.as_ref().and_then(|p| by_short.get(p)).cloned();
                if level != "city" && parent.is_none() {
                    continue; // under a left-out special unit
                }
                let id = next_id;
                next_id += 1;
                let path = format!("{}{id}/", parent.as_ref().map(|p| p.1.as_str()).unwrap_or("/"));
                let lvl = match level {
                    "city" => Level::City,
                    "district" => Level::District,
                    "street" => Level::Street,
                    _ => Level::Community,
                };
                match lvl {
                    Level::City => report.city_id = id,
                    Level::District => report.districts += 1,
                    Level::Street => report.streets += 1,
                    _ => report.communities += 1,
                }
                nodes.push(NodeIns {
                    id,
                    parent_id: parent.as_ref().map(|p| p.0),
                    level: lvl,
                    code: d.code.clone(),
                    name: d.name.clone(),
                    kind: None,
                    path: path.clone(),
                    households: None,
                    population: None,
                });
                by_short.insert(d.short_code.clone(), (id, path));
            }
        }

        // Party working committees of the streets and committees of the communities.
        let mut org_of_node: std::collections::HashMap<i64, (i64, String)> = std::collections::HashMap::new();
        for n in nodes
            .iter()
            .filter(|n| matches!(n.level, Level::Street | Level::Community))
        {
            let (kind, category, name, parent) = if n.level == Level::Street {
                (
                    OrgKind::WorkingCommittee,
                    OrgCategory::Street,
                    format!("中共{}工作委员会", n.name),
                    None,
                )
            } else {
                let parent = n.parent_id.and_then(|p| org_of_node.get(&p)).cloned();
                (
                    OrgKind::Committee,
                    OrgCategory::Community,
                    format!("中共{}委员会", short_name(&n.name)),
                    parent,
                )
            };
            let id = next_org;
            next_org += 1;
            let path = format!("{}{id}/", parent.as_ref().map(|p| p.1.as_str()).unwrap_or("/"));
            orgs.push(OrgIns {
                id,
                parent_id: parent.map(|p| p.0),
                kind,
                category,
                name,
                territory: n.id,
                path: path.clone(),
            });
            org_of_node.insert(n.id, (id, path));
        }

        // Grids.
        let communities: Vec<(i64, String, String, String)> = nodes
            .iter()
            .filter(|n| n.level == Level::Community)
            .map(|n| (n.id, n.code.clone(), n.path.clone(), short_name(&n.name)))
            .collect();
        let (l2_total, l3_total) = city.grid_targets(communities.len());
        let (l2_base, l2_extra) = (l2_total / communities.len().max(1), l2_total % communities.len().max(1));
        let mut l2_nodes: Vec<L2Grid> = Vec::new();
        for (ci, (cid, ccode, cpath, cname)) in communities.iter().enumerate() {
            let count = l2_base + usize::from(gets_extra(ci, communities.len(), l2_extra));
            for s in 1..=count {
                let kind = match mix(ci, s) % 7 {
                    0 | 3 | 5 => GridKind::Estate,
                    6 => GridKind::Business,
                    _ => GridKind::ResidentGroup,
                };
                let name = match kind {
                    GridKind::Estate => format!("{}{}小区", ESTATE_NAMES[mix(ci, s + 99) % ESTATE_NAMES.len()], s),
                    GridKind::Business => {
                        format!("{}{}商务楼宇", cname, BUSINESS_NAMES[mix(ci, s) % BUSINESS_NAMES.len()])
                    }
                    _ => format!("第{s}居民小组"),
                };
                let code = NodeCode::grid(&NodeCode::from_stored(ccode.clone()), s as u32)
                    .ok_or_else(|| StoreError::Config("too many grids".into()))?;
                let id = next_id;
                next_id += 1;
                let path = format!("{cpath}{id}/");
                l2_nodes.push((id, code.as_str().to_string(), path.clone(), kind, name.clone(), *cid));
                nodes.push(NodeIns {
                    id,
                    parent_id: Some(*cid),
                    level: Level::GridL2,
                    code: code.as_str().to_string(),
                    name,
                    kind: Some(kind),
                    path,
                    households: Some(0),
                    population: Some(0),
                });
            }
        }
        report.grids_l2 = l2_nodes.len();
        let (l3_base, l3_extra) = (l3_total / l2_nodes.len().max(1), l3_total % l2_nodes.len().max(1));
        let l3_kinds = GridKind::for_level(Level::GridL3);
        let mut l3_of: std::collections::HashMap<i64, Vec<i64>> = std::collections::HashMap::new();
        let mut totals: std::collections::HashMap<i64, (i64, i64)> = std::collections::HashMap::new();
        for (gi, (gid, gcode, gpath, _, _, cid)) in l2_nodes.iter().enumerate() {
            let count = l3_base + usize::from(gets_extra(gi, l2_nodes.len(), l3_extra));
            for s in 1..=count {
                let kind = l3_kinds[mix(gi, s) % l3_kinds.len()];
                let households = 240 + (mix(gi, s + 7) % 120) as i64;
                let population = households * (250 + (mix(gi, s + 13) % 40) as i64) / 100;
                let code = NodeCode::grid(&NodeCode::from_stored(gcode.clone()), s as u32)
                    .ok_or_else(|| StoreError::Config("too many grids".into()))?;
                let id = next_id;
                next_id += 1;
                nodes.push(NodeIns {
                    id,
                    parent_id: Some(*gid),
                    level: Level::GridL3,
                    code: code.as_str().to_string(),
                    name: format!("{}号楼片区（{}）", s, kind.label_zh()),
                    kind: Some(kind),
                    path: format!("{gpath}{id}/"),
                    households: Some(households),
                    population: Some(population),
                });
                l3_of.entry(*gid).or_default().push(id);
                for key in [*gid, *cid] {
                    let t = totals.entry(key).or_default();
                    t.0 += households;
                    t.1 += population;
                }
            }
        }
        report.grids_l3 = nodes.iter().filter(|n| n.level == Level::GridL3).count();
        for n in nodes.iter_mut() {
            if let Some((h, p)) = totals.get(&n.id) {
                n.households = Some(*h);
                n.population = Some(*p);
            }
        }

        // Estate and grid party branches, each with a party group per level-3 grid.
        let (estate_target, grid_target) = city.branch_targets(l2_nodes.len());
        let estates: Vec<_> = l2_nodes.iter().filter(|g| g.3 == GridKind::Estate).collect();
        let others: Vec<_> = l2_nodes.iter().filter(|g| g.3 != GridKind::Estate).collect();
        let mut branch_sites: Vec<(&L2Grid, OrgCategory)> = Vec::new();
        for (i, g) in estates.iter().enumerate() {
            if gets_extra(i, estates.len(), estate_target.min(estates.len())) {
                branch_sites.push((g, OrgCategory::Estate));
            }
        }
        for (i, g) in others.iter().enumerate() {
            if gets_extra(i, others.len(), grid_target.min(others.len())) {
                branch_sites.push((g, OrgCategory::Grid));
            }
        }
        for ((gid, _, _, _, gname, cid), category) in branch_sites {
            let Some(parent) = org_of_node.get(cid).cloned() else {
                continue;
            };
            let id = next_org;
            next_org += 1;
            let path = format!("{}{id}/", parent.1);
            let name = match category {
                OrgCategory::Estate => format!("中共{gname}支部委员会"),
                _ => format!("{gname}网格党支部"),
            };
            orgs.push(OrgIns {
                id,
                parent_id: Some(parent.0),
                kind: OrgKind::Branch,
                category,
                name,
                territory: *gid,
                path: path.clone(),
            });
            for (k, l3) in l3_of.get(gid).into_iter().flatten().enumerate() {
                let gid2 = next_org;
                next_org += 1;
                orgs.push(OrgIns {
                    id: gid2,
                    parent_id: Some(id),
                    kind: OrgKind::Group,
                    category: OrgCategory::Grid,
                    name: format!("第{}党小组", k + 1),
                    territory: *l3,
                    path: format!("{path}{gid2}/"),
                });
            }
        }
        report.party_orgs = orgs.len();

        let total = (nodes.len() + orgs.len()) as u64;
        progress("写入区划与网格", 0, total);
        for (i, chunk) in nodes.chunks(2000).enumerate() {
            insert_nodes(&mut tx, chunk, &now).await?;
            progress("写入区划与网格", ((i + 1) * 2000).min(nodes.len()) as u64, total);
        }
        for (i, chunk) in orgs.chunks(2000).enumerate() {
            insert_orgs(&mut tx, chunk, &now).await?;
            progress(
                "写入党组织",
                (nodes.len() + ((i + 1) * 2000).min(orgs.len())) as u64,
                total,
            );
        }
        for table in ["nodes", "party_orgs"] {
            if let Some(sql) = self.engine.advance_identity_sql(table) {
                sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut *tx).await?;
            }
        }
        let (residents, posts) = self.load_demo_people(&mut tx, report.city_id, scale, progress).await?;
        report.residents = residents;
        report.posts = posts;
        progress("提交", 0, 1);
        tx.commit().await?;
        // Fresh statistics, so the planner uses the path index for subtree ranges at once
        // instead of waiting for autovacuum (PostgreSQL) or never (SQLite).
        let tables = ["nodes", "party_orgs", "persons", "posts"];
        for (i, table) in tables.iter().enumerate() {
            progress("统计", i as u64, tables.len() as u64);
            sqlx::query(sqlx::AssertSqlSafe(format!("ANALYZE {table}")))
                .execute(&self.pool)
                .await?;
        }
        let reg = self.load_demo_registration(report.city_id, scale, progress).await?;
        report.party_orgs += reg.agency_orgs;
        report.posts += reg.part_time_posts;
        report.registration = reg;
        report.volunteers = self.load_demo_volunteers(report.city_id, scale, progress).await?;
        report.seconds = started.elapsed().as_secs_f64();
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extras_spread_exactly() {
        assert_eq!((0..809).filter(|i| gets_extra(*i, 809, 448)).count(), 448);
        assert_eq!((0..5302).filter(|i| gets_extra(*i, 5302, 117)).count(), 117);
        assert_eq!((0..10).filter(|i| gets_extra(*i, 10, 0)).count(), 0);
    }

    #[test]
    fn names_shorten() {
        assert_eq!(short_name("升平社区居民委员会"), "升平");
        assert_eq!(short_name("石湾村委会"), "石湾");
    }
}
