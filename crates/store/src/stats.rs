//! The metric registry: every figure the source reports cite, by a stable id, computed from
//! records for any node of the governance tree — or answered "not available" while its
//! capability does not exist yet. Never a typed-in number, never a silent zero.
//!
//! Each metric is computed on the fly with indexed subtree queries (`ARCHITECTURE.md`,
//! "Subtree queries"); adding one is a line in [`METRICS`] and a match arm in
//! [`Store::metric`].

use gongjian_domain::access::{Actor, Right};
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::Store;
use crate::error::{StoreError, StoreResult};
use crate::scope;
use crate::sql::Sql;
use crate::tree::Node;

/// Every metric id of the seed reports, with a short Chinese title.
pub const METRICS: [(&str, &str); 70] = [
    ("grid.count.l1", "一级网格（社区）数"),
    ("grid.count.l2", "二级网格数"),
    ("grid.count.l3", "三级网格数"),
    ("org.street.posts_filled", "镇街书记、组织委员配齐率"),
    ("org.street.instructors_min", "每个镇街党建指导员数"),
    ("org.community.one_shoulder", "社区书记、主任“一肩挑”比例"),
    ("org.community.cross_appointment", "班子成员交叉任职率"),
    ("org.community.reserve_cadres", "每个社区后备干部数"),
    ("org.estate_branch.count", "小区党支部数"),
    ("org.estate_branch.coverage", "物业小区党支部覆盖率"),
    ("org.grid_branch.count", "网格党支部数"),
    ("org.big_committee.part_time_members", "大工委、大党委兼职委员数"),
    ("org.industry_committee.count", "行业党委数"),
    ("org.industry_committee.instructors_min", "每个行业党委党建指导员数"),
    ("org.industry_committee.contact_points", "行业联系点数"),
    ("org.demo_site.count", "党建示范点数"),
    ("people.residents", "常住人口（外来人口占比）"),
    ("people.in_service_reported", "在职党员到居住社区报到数"),
    ("people.org_pairings", "机关党组织结对社区数"),
    ("people.cadres_deployed", "党员干部下基层人数"),
    ("people.agency_secretaries", "机关干部担任社区书记数"),
    ("people.workers_professional", "纳入职业化管理的社区工作者数"),
    ("people.workers_recruited", "新补充社区工作者数"),
    ("people.trained_secretaries", "参加培训的社区书记数"),
    ("volunteer.count", "志愿者数"),
    ("volunteer.teams", "志愿服务队数"),
    ("volunteer.beneficiaries", "受益居民数"),
    ("volunteer.hours", "志愿服务时长"),
    ("points.redemptions", "积分兑换"),
    ("letters.thanks_sent", "感谢函"),
    ("center.campaign.progress", "“五个一百”进度"),
    ("orders.self_service", "群众自助点单"),
    ("eldercare.served", "享受居家养老服务的老年人数"),
    ("meeting.joint.coverage", "党建联席会议建立率"),
    ("meeting.joint.held", "联席会议召开次数"),
    ("meeting.joint.structure", "“1+7+9”联席会议结构"),
    ("cobuild.agreements", "签订共建协议的驻区单位数"),
    ("cobuild.list_items", "“需求、资源、项目”清单数"),
    ("cobuild.pairings", "机关与企业党组织结对数"),
    ("cases.resolved", "协调解决的民生事项"),
    ("disputes.resolved_on_site", "现场解决矛盾纠纷数"),
    ("property.cross_appointed", "物业公司交叉任职人数"),
    ("property.party_orgs", "物业服务企业党组织数"),
    ("center.count_by_level", "各级党群服务中心数"),
    ("center.area_buckets", "党群服务中心面积分布"),
    ("center.area_compliance", "社区阵地面积达标率"),
    ("center.standards", "“五大功能”“八有标准”达标"),
    ("eval.stars_distribution", "星级评定分布"),
    ("eval.rectification", "软弱涣散整顿"),
    ("eval.assessment_weight", "党建考核权重"),
    ("eval.demo_site_standards", "示范点创建标准"),
    ("matters.key_list", "重要事权先知先议先做"),
    ("funds.per_community", "每个社区经费"),
    ("enterprise.private_share", "民营企业占比"),
    ("enterprise.single_build_rate", "单独组建率"),
    ("enterprise.new_orgs", "新建党组织数"),
    ("enterprise.liaison_coverage", "规上企业专人联系覆盖率"),
    ("enterprise.resumed", "规上企业复工率"),
    ("enterprise.problems_solved", "解决企业难题"),
    ("enterprise.loans_assisted", "协助贷款"),
    ("parking.shared_spaces", "错时共享停车位"),
    ("org.branch.count", "党支部数"),
    ("org.committee.count", "党委（党工委）数"),
    ("people.party_members", "党员数"),
    ("people.reserve_cadres", "后备干部数"),
    ("people.instructors", "党建指导员数"),
    ("people.grid_workers", "网格员数"),
    ("people.community_workers", "社区工作者数"),
    ("people.secretaries", "书记数"),
    ("people.rc_directors", "居委会主任数"),
];

/// Metrics computed from records today; the others answer "not available".
const AVAILABLE: [&str; 19] = [
    "grid.count.l1",
    "grid.count.l2",
    "grid.count.l3",
    "org.street.posts_filled",
    "org.street.instructors_min",
    "org.community.one_shoulder",
    "org.community.cross_appointment",
    "org.community.reserve_cadres",
    "org.estate_branch.count",
    "org.grid_branch.count",
    "people.residents",
    "people.workers_professional",
    "org.branch.count",
    "org.committee.count",
    "people.reserve_cadres",
    "people.instructors",
    "people.grid_workers",
    "people.community_workers",
    "people.secretaries",
];

/// A metric in the list.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MetricInfo {
    pub id: String,
    pub title: String,
    pub available: bool,
}

/// A node below target, for lists such as "communities with fewer than two reserve cadres".
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Shortfall {
    pub node_id: i64,
    pub code: String,
    pub name: String,
    pub value: i64,
}

/// A metric's value for a node.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MetricValue {
    pub id: String,
    pub title: String,
    pub node_code: String,
    pub available: bool,
    /// A count, or for ratios numerator / denominator.
    pub value: Option<f64>,
    pub numerator: Option<i64>,
    pub denominator: Option<i64>,
    /// For per-node minimums (instructors per street, reserve cadres per community).
    pub min: Option<i64>,
    pub mean: Option<f64>,
    /// Nodes below the target, for per-node minimums.
    pub below: Vec<Shortfall>,
    /// What the value counts, in words.
    pub note: String,
}

impl MetricValue {
    fn new(id: &str, node: &Node) -> MetricValue {
        MetricValue {
            id: id.to_string(),
            title: title(id).to_string(),
            node_code: node.code.clone(),
            available: true,
            value: None,
            numerator: None,
            denominator: None,
            min: None,
            mean: None,
            below: Vec::new(),
            note: String::new(),
        }
    }

    fn count(mut self, n: i64, note: &str) -> MetricValue {
        self.value = Some(n as f64);
        self.note = note.into();
        self
    }

    fn ratio(mut self, num: i64, den: i64, note: &str) -> MetricValue {
        self.numerator = Some(num);
        self.denominator = Some(den);
        self.value = if den > 0 { Some(num as f64 / den as f64) } else { None };
        self.note = note.into();
        self
    }
}

fn title(id: &str) -> &'static str {
    METRICS.iter().find(|(m, _)| *m == id).map(|(_, t)| *t).unwrap_or("")
}

pub fn metric_list() -> Vec<MetricInfo> {
    METRICS
        .iter()
        .map(|(id, t)| MetricInfo {
            id: id.to_string(),
            title: t.to_string(),
            available: AVAILABLE.contains(id),
        })
        .collect()
}

impl Store {
    async fn count(&self, sql: &Sql) -> StoreResult<i64> {
        Ok(sql.query_as::<(i64,)>().fetch_one(&self.pool).await?.0)
    }

    /// Per-node counts of current posts of `kind` at nodes of `level` under `node`: held at
    /// the node itself, or (`in_org`) in a party organisation covering it.
    async fn posts_per_node(&self, node: &Node, level: i64, kind: &str, in_org: bool) -> StoreResult<Vec<Shortfall>> {
        let held = if in_org {
            "FROM posts p JOIN party_orgs o ON o.id = p.org_id WHERE o.territory_node_id = n.id"
        } else {
            "FROM posts p WHERE p.node_id = n.id"
        };
        let mut sql = Sql::new(&format!(
            "SELECT n.id, n.code, n.name, (SELECT COUNT(*) {held} AND p.kind = "
        ));
        sql.bind(kind)
            .push(" AND p.ended_on IS NULL) FROM nodes n WHERE n.level = ")
            .bind(level);
        sql.push(" AND n.status = 'active' AND ");
        scope::push_subtree(&mut sql, "n.path", &node.path);
        sql.push(" ORDER BY n.code");
        let rows: Vec<(i64, String, String, i64)> = sql.query_as().fetch_all(&self.pool).await?;
        Ok(rows
            .into_iter()
            .map(|(node_id, code, name, value)| Shortfall {
                node_id,
                code,
                name,
                value,
            })
            .collect())
    }

    /// One metric for the subtree of the node with `code`.
    pub async fn metric(&self, actor: &Actor, id: &str, code: &str) -> StoreResult<MetricValue> {
        if !METRICS.iter().any(|(m, _)| *m == id) {
            return Err(StoreError::NotFound);
        }
        let node = self.node_by_code(actor, code).await?;
        let mut out = MetricValue::new(id, &node);
        if !AVAILABLE.contains(&id) {
            out.available = false;
            out.note = "该能力尚未上线，暂无记录可统计".into();
            return Ok(out);
        }
        let sub = |sql: &mut Sql, col: &str| scope::push_subtree(sql, col, &node.path);
        let current = |kind: &str| {
            let mut sql = Sql::new(
                "SELECT COUNT(*) FROM posts p LEFT JOIN nodes n ON n.id = p.node_id LEFT JOIN party_orgs o ON o.id = p.org_id \
                 LEFT JOIN nodes t ON t.id = o.territory_node_id WHERE p.ended_on IS NULL AND p.kind = ",
            );
            sql.bind(kind).push(" AND (");
            scope::push_subtree(&mut sql, "n.path", &node.path);
            sql.push(" OR ");
            scope::push_subtree(&mut sql, "t.path", &node.path);
            sql.push(")");
            sql
        };
        Ok(match id {
            "grid.count.l1" | "grid.count.l2" | "grid.count.l3" => {
                let c = self.subtree_counts(actor, node.id).await?;
                let n = match id {
                    "grid.count.l1" => c.communities,
                    "grid.count.l2" => c.grids_l2,
                    _ => c.grids_l3,
                };
                out.count(n, "节点下的网格数（含本级）")
            }
            "people.residents" => {
                scope::require(actor, Right::ReadPeople, &node.path)?;
                let mut all = Sql::new(
                    "SELECT COUNT(*) FROM persons p JOIN nodes h ON h.id = p.home_node_id WHERE p.status = 'active' AND ",
                );
                sub(&mut all, "h.path");
                let total = self.count(&all).await?;
                let mut away = Sql::new(
                    "SELECT COUNT(*) FROM persons p JOIN nodes h ON h.id = p.home_node_id WHERE p.status = 'active' AND p.registered_elsewhere = 1 AND ",
                );
                sub(&mut away, "h.path");
                let elsewhere = self.count(&away).await?;
                let mut v = out.ratio(elsewhere, total, "登记居民中户籍在外地的比例；分母为登记居民总数");
                v.value = Some(total as f64);
                v
            }
            "org.estate_branch.count" | "org.grid_branch.count" | "org.branch.count" | "org.committee.count" => {
                let mut sql = Sql::new(
                    "SELECT COUNT(*) FROM party_orgs o JOIN nodes t ON t.id = o.territory_node_id WHERE o.status = 'active' AND ",
                );
                match id {
                    "org.estate_branch.count" => sql.push("o.kind = 'branch' AND o.category = 'estate' AND "),
                    "org.grid_branch.count" => sql.push("o.kind = 'branch' AND o.category = 'grid' AND "),
                    "org.branch.count" => sql.push("o.kind = 'branch' AND "),
                    _ => sql.push("o.kind IN ('committee', 'working_committee') AND "),
                };
                sub(&mut sql, "t.path");
                out.count(self.count(&sql).await?, "所属区域在节点下的在册党组织数")
            }
            "people.reserve_cadres"
            | "people.instructors"
            | "people.grid_workers"
            | "people.community_workers"
            | "people.secretaries" => {
                let kind = match id {
                    "people.reserve_cadres" => "reserve_cadre",
                    "people.instructors" => "instructor",
                    "people.grid_workers" => "grid_worker",
                    "people.community_workers" => "community_worker",
                    _ => "secretary",
                };
                out.count(self.count(&current(kind)).await?, "在任人数")
            }
            "people.workers_professional" => {
                let mut sql = current("community_worker");
                sql.push(" AND p.grade IS NOT NULL");
                out.count(self.count(&sql).await?, "有职业等级的在任社区工作者")
            }
            "org.street.instructors_min" | "org.community.reserve_cadres" => {
                let (level, kind, target) = if id == "org.street.instructors_min" {
                    (3, "instructor", 5)
                } else {
                    (4, "reserve_cadre", 2)
                };
                let per = self.posts_per_node(&node, level, kind, false).await?;
                out.min = per.iter().map(|s| s.value).min();
                out.mean =
                    (!per.is_empty()).then(|| per.iter().map(|s| s.value).sum::<i64>() as f64 / per.len() as f64);
                out.value = out.min.map(|m| m as f64);
                out.below = per.into_iter().filter(|s| s.value < target).collect();
                out.note = format!("最少值；低于 {target} 的节点列在 below 中");
                out
            }
            "org.street.posts_filled" => {
                let per_sec = self.posts_per_node(&node, 3, "secretary", true).await?;
                let per_org = self.posts_per_node(&node, 3, "organising_member", true).await?;
                let filled = per_sec
                    .iter()
                    .filter(|s| s.value > 0 && per_org.iter().any(|o| o.node_id == s.node_id && o.value > 0))
                    .count();
                out.below = per_sec
                    .iter()
                    .filter(|s| s.value == 0 || per_org.iter().any(|o| o.node_id == s.node_id && o.value == 0))
                    .cloned()
                    .collect();
                out.ratio(filled as i64, per_sec.len() as i64, "书记和组织委员都在任的镇街 / 镇街")
            }
            "org.community.one_shoulder" => {
                let mut sql = Sql::new("SELECT COUNT(*) FROM nodes c WHERE c.level = 4 AND c.status = 'active' AND ");
                sub(&mut sql, "c.path");
                let total = self.count(&sql).await?;
                sql.push(
                    " AND EXISTS (SELECT 1 FROM posts d JOIN posts s ON s.person_id = d.person_id \
                     JOIN party_orgs o ON o.id = s.org_id WHERE d.node_id = c.id AND d.kind = 'rc_director' \
                     AND d.ended_on IS NULL AND s.kind = 'secretary' AND s.ended_on IS NULL AND o.territory_node_id = c.id)",
                );
                let both = self.count(&sql).await?;
                out.ratio(both, total, "书记同时担任居委会主任的社区 / 社区")
            }
            "org.community.cross_appointment" => {
                // Members of a community's two committees; cross-appointed when in both.
                let mut party = Sql::new(
                    "SELECT p.person_id, t.id FROM posts p JOIN party_orgs o ON o.id = p.org_id JOIN nodes t ON t.id = o.territory_node_id \
                     WHERE p.ended_on IS NULL AND t.level = 4 AND p.kind IN ('secretary', 'deputy_secretary', 'organising_member', 'committee_member') AND ",
                );
                sub(&mut party, "t.path");
                let mut rc = Sql::new(
                    "SELECT p.person_id, n.id FROM posts p JOIN nodes n ON n.id = p.node_id \
                     WHERE p.ended_on IS NULL AND n.level = 4 AND p.kind IN ('rc_director', 'rc_member') AND ",
                );
                sub(&mut rc, "n.path");
                let party: std::collections::HashSet<(i64, i64)> =
                    party.query_as().fetch_all(&self.pool).await?.into_iter().collect();
                let rc: std::collections::HashSet<(i64, i64)> =
                    rc.query_as().fetch_all(&self.pool).await?.into_iter().collect();
                let all = party.union(&rc).count() as i64;
                let both = party.intersection(&rc).count() as i64;
                out.ratio(both, all, "同时在社区党组织委员会和居委会任职的班子成员 / 班子成员")
            }
            _ => {
                out.available = false;
                out
            }
        })
    }
}
