//! The metric registry: every figure the source reports cite, by a stable id, computed from
//! records for any node of the governance tree and any period — or answered "not available"
//! while its capability does not exist yet. Never a typed-in number, never a silent zero.
//!
//! Adding a metric is a line in [`METRICS`] and a match arm in `compute::Store::compute`;
//! the breakdown by child nodes, trends by month, the API and the dashboards follow from those.
//! How each metric is kept fast is written in `ARCHITECTURE.md` ("Statistics").

mod compute;
mod registration;
mod rollup;
mod volunteers;

use chrono::{Datelike, NaiveDate};
use gongjian_domain::Validation;
use gongjian_domain::access::Actor;
use serde::Serialize;
use utoipa::ToSchema;

pub use rollup::{RESIDENTS_ROLLUP, ROLLUP_THRESHOLD};
pub use volunteers::{campaign_progress_table, day_instants};

use crate::db::Store;
use crate::error::{StoreError, StoreResult};
use crate::tree::Node;

/// How a metric reads the period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Basis {
    /// A stock, as of the period's end (`to`, today when absent): posts held on that day.
    Stock,
    /// A flow: what happened between `from` and `to`, both included.
    Flow,
    /// The records as they are now; the period does not apply.
    Current,
}

impl Basis {
    pub fn label_zh(self) -> &'static str {
        match self {
            Basis::Stock => "截至期末",
            Basis::Flow => "期间内",
            Basis::Current => "当前",
        }
    }
}

/// One metric of the registry.
#[derive(Debug, Clone, Copy)]
pub struct MetricDef {
    pub id: &'static str,
    /// A short Chinese title.
    pub title: &'static str,
    /// How the period applies; `None` while the capability that records it does not exist.
    pub basis: Option<Basis>,
}

const fn m(id: &'static str, title: &'static str, basis: Option<Basis>) -> MetricDef {
    MetricDef { id, title, basis }
}

const STOCK: Option<Basis> = Some(Basis::Stock);
const FLOW: Option<Basis> = Some(Basis::Flow);
const NOW: Option<Basis> = Some(Basis::Current);
const NA: Option<Basis> = None;

/// Every metric id of the seed reports, then a few everyday figures of the same records.
pub const METRICS: [MetricDef; 70] = [
    m("grid.count.l1", "一级网格（社区）数", NOW),
    m("grid.count.l2", "二级网格数", NOW),
    m("grid.count.l3", "三级网格数", NOW),
    m("org.street.posts_filled", "镇街书记、组织委员配齐率", STOCK),
    m("org.street.instructors_min", "每个镇街党建指导员数", STOCK),
    m("org.community.one_shoulder", "社区书记、主任“一肩挑”比例", STOCK),
    m("org.community.cross_appointment", "班子成员交叉任职率", STOCK),
    m("org.community.reserve_cadres", "每个社区后备干部数", STOCK),
    m("org.estate_branch.count", "小区党支部数", NOW),
    m("org.estate_branch.coverage", "物业小区党支部覆盖率", NA),
    m("org.grid_branch.count", "网格党支部数", NOW),
    m("org.big_committee.part_time_members", "大工委、大党委兼职委员数", STOCK),
    m("org.industry_committee.count", "行业党委数", NA),
    m("org.industry_committee.instructors_min", "每个行业党委党建指导员数", NA),
    m("org.industry_committee.contact_points", "行业联系点数", NA),
    m("org.demo_site.count", "党建示范点数", NA),
    m("people.residents", "常住人口（外来人口占比）", NOW),
    m("people.in_service_reported", "在职党员到居住社区报到数", STOCK),
    m("people.org_pairings", "机关党组织结对社区数", STOCK),
    m("people.cadres_deployed", "党员干部下基层人数", FLOW),
    m("people.agency_secretaries", "机关干部担任社区书记数", STOCK),
    m("people.workers_professional", "纳入职业化管理的社区工作者数", STOCK),
    m("people.workers_recruited", "新补充社区工作者数", FLOW),
    m("people.trained_secretaries", "参加培训的社区书记数", NA),
    m("volunteer.count", "志愿者数", NOW),
    m("volunteer.teams", "志愿服务队数", NOW),
    m("volunteer.beneficiaries", "受益居民数", FLOW),
    m("volunteer.hours", "志愿服务时长", FLOW),
    m("points.redemptions", "积分兑换", FLOW),
    m("letters.thanks_sent", "感谢函", FLOW),
    m("center.campaign.progress", "“五个一百”进度", STOCK),
    m("orders.self_service", "群众自助点单", NA),
    m("eldercare.served", "享受居家养老服务的老年人数", NA),
    m("meeting.joint.coverage", "党建联席会议建立率", NA),
    m("meeting.joint.held", "联席会议召开次数", NA),
    m("meeting.joint.structure", "“1+7+9”联席会议结构", NA),
    m("cobuild.agreements", "签订共建协议的驻区单位数", NA),
    m("cobuild.list_items", "“需求、资源、项目”清单数", NA),
    m("cobuild.pairings", "机关与企业党组织结对数", NA),
    m("cases.resolved", "协调解决的民生事项", NA),
    m("disputes.resolved_on_site", "现场解决矛盾纠纷数", NA),
    m("property.cross_appointed", "物业公司交叉任职人数", NA),
    m("property.party_orgs", "物业服务企业党组织数", NA),
    m("center.count_by_level", "各级党群服务中心数", NA),
    m("center.area_buckets", "党群服务中心面积分布", NA),
    m("center.area_compliance", "社区阵地面积达标率", NA),
    m("center.standards", "“五大功能”“八有标准”达标", NA),
    m("eval.stars_distribution", "星级评定分布", NA),
    m("eval.rectification", "软弱涣散整顿", NA),
    m("eval.assessment_weight", "党建考核权重", NA),
    m("eval.demo_site_standards", "示范点创建标准", NA),
    m("matters.key_list", "重要事权先知先议先做", NA),
    m("funds.per_community", "每个社区经费", NA),
    m("enterprise.private_share", "民营企业占比", NA),
    m("enterprise.single_build_rate", "单独组建率", NA),
    m("enterprise.new_orgs", "新建党组织数", NA),
    m("enterprise.liaison_coverage", "规上企业专人联系覆盖率", NA),
    m("enterprise.resumed", "规上企业复工率", NA),
    m("enterprise.problems_solved", "解决企业难题", NA),
    m("enterprise.loans_assisted", "协助贷款", NA),
    m("parking.shared_spaces", "错时共享停车位", NA),
    m("org.branch.count", "党支部数", NOW),
    m("org.committee.count", "党委（党工委）数", NOW),
    m("people.party_members", "党员数", NOW),
    m("people.reserve_cadres", "后备干部数", STOCK),
    m("people.instructors", "党建指导员数", STOCK),
    m("people.grid_workers", "网格员数", STOCK),
    m("people.community_workers", "社区工作者数", STOCK),
    m("people.secretaries", "书记数", STOCK),
    m("people.rc_directors", "居委会主任数", STOCK),
];

pub fn def(id: &str) -> Option<&'static MetricDef> {
    METRICS.iter().find(|d| d.id == id)
}

/// A metric in the list.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MetricInfo {
    pub id: String,
    pub title: String,
    pub available: bool,
    /// `stock`, `flow` or `current` for available metrics.
    pub basis: Option<Basis>,
}

pub fn metric_list() -> Vec<MetricInfo> {
    METRICS
        .iter()
        .map(|d| MetricInfo {
            id: d.id.to_string(),
            title: d.title.to_string(),
            available: d.basis.is_some(),
            basis: d.basis,
        })
        .collect()
}

/// The period of a query: both ends optional, dates in Asia/Shanghai.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Period {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    /// The day an open period ends on: today by the store's clock, set by the store when it
    /// computes ([`Period::with_today`]).
    today: Option<NaiveDate>,
}

impl Period {
    /// Parses `YYYY-MM-DD` ends (blank = open), naming the field of each problem.
    pub fn parse(from: Option<&str>, to: Option<&str>) -> Result<Period, Validation> {
        let mut v = Validation::new();
        let mut date = |field: &str, raw: Option<&str>| match raw.map(str::trim).filter(|s| !s.is_empty()) {
            None => None,
            Some(s) => v.check(
                field,
                NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| {
                    let shown: String = s.chars().filter(|c| !c.is_control()).take(20).collect();
                    format!("“{shown}”不是有效日期，格式为 2024-07-01")
                }),
            ),
        };
        let p = Period {
            from: date("from", from),
            to: date("to", to),
            today: None,
        };
        if let (Some(f), Some(t)) = (p.from, p.to)
            && f > t
        {
            v.push("from", "开始日期不能晚于结束日期");
        }
        v.into_result().map(|_| p)
    }

    /// The period whose open end is `today`.
    pub fn with_today(mut self, today: NaiveDate) -> Period {
        self.today = Some(today);
        self
    }

    /// The day stocks are read on: `to`, or today (the latest date when the store has not said
    /// which day today is).
    pub fn as_of(&self) -> NaiveDate {
        self.to.or(self.today).unwrap_or(NaiveDate::MAX)
    }

    pub(super) fn as_of_text(&self) -> String {
        self.as_of().format("%Y-%m-%d").to_string()
    }

    pub(super) fn start_text(&self) -> Option<String> {
        self.from.map(|d| d.format("%Y-%m-%d").to_string())
    }

    /// The twelve calendar months ending with the month of [`Period::as_of`], each as a period
    /// of its own (the current month ends on the as-of day).
    pub fn months(&self, count: u32) -> Vec<(String, Period)> {
        let end = self.as_of();
        let mut out = Vec::new();
        let (mut y, mut mo) = (end.year(), end.month());
        for _ in 0..count.max(1) {
            let first = NaiveDate::from_ymd_opt(y, mo, 1);
            let next = if mo == 12 {
                NaiveDate::from_ymd_opt(y + 1, 1, 1)
            } else {
                NaiveDate::from_ymd_opt(y, mo + 1, 1)
            };
            if let (Some(first), Some(next)) = (first, next) {
                let last = next.pred_opt().unwrap_or(first).min(end);
                out.push((
                    format!("{y:04}-{mo:02}"),
                    Period {
                        from: Some(first),
                        to: Some(last),
                        today: self.today,
                    },
                ));
            }
            if mo == 1 {
                (y, mo) = (y - 1, 12);
            } else {
                mo -= 1;
            }
        }
        out.reverse();
        out
    }
}

/// A node below target, for lists such as "communities with fewer than two reserve cadres".
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Shortfall {
    pub node_id: i64,
    pub code: String,
    pub name: String,
    pub value: i64,
}

/// A metric's value for one child of the node asked about.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChildValue {
    pub node_id: i64,
    pub code: String,
    pub name: String,
    pub value: Option<f64>,
    pub numerator: Option<i64>,
    pub denominator: Option<i64>,
    pub min: Option<i64>,
    pub mean: Option<f64>,
}

/// A metric's value for a node and a period.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MetricValue {
    pub id: String,
    pub title: String,
    pub node_code: String,
    pub node_name: String,
    pub available: bool,
    /// How the period was read: `stock` (as of `to`), `flow` (from `from` to `to`) or
    /// `current` (the records as they are now).
    pub basis: Option<Basis>,
    /// The period's start, for flows.
    pub from: Option<String>,
    /// The as-of day (`YYYY-MM-DD`): the period's end, or today.
    pub to: String,
    /// A count, or for ratios numerator / denominator.
    pub value: Option<f64>,
    pub numerator: Option<i64>,
    pub denominator: Option<i64>,
    /// For per-node minimums (instructors per street, reserve cadres per community).
    pub min: Option<i64>,
    pub mean: Option<f64>,
    /// The target from the settings (`metric_targets`): a share for ratios, a count per node
    /// for per-node minimums.
    pub target: Option<f64>,
    /// Nodes below the target, for per-node minimums and filled-post ratios.
    pub below: Vec<Shortfall>,
    /// The same metric for each active child node, in code order.
    pub breakdown: Vec<ChildValue>,
    /// When the value comes from a periodic roll-up: the time it was computed (RFC 3339 UTC).
    pub rolled_up_at: Option<String>,
    /// What the value counts, in words.
    pub note: String,
}

impl MetricValue {
    fn new(def: &MetricDef, node: &Node, period: &Period) -> MetricValue {
        MetricValue {
            id: def.id.to_string(),
            title: def.title.to_string(),
            node_code: node.code.clone(),
            node_name: node.name.clone(),
            available: def.basis.is_some(),
            basis: def.basis,
            from: if def.basis == Some(Basis::Flow) {
                period.start_text()
            } else {
                None
            },
            to: period.as_of_text(),
            value: None,
            numerator: None,
            denominator: None,
            min: None,
            mean: None,
            target: None,
            below: Vec::new(),
            breakdown: Vec::new(),
            rolled_up_at: None,
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

    /// Whether the value is a share (numerator over denominator) rather than a count.
    pub fn is_ratio(&self) -> bool {
        self.numerator.is_some() && self.denominator.is_some() && self.id != "people.residents"
    }

    /// The value as shown: a percentage for shares, the number otherwise, "—" for none.
    pub fn shown(&self) -> String {
        shown(self.is_ratio(), self.value)
    }
}

impl ChildValue {
    pub fn shown(&self, ratio: bool) -> String {
        shown(ratio, self.value)
    }
}

fn shown(ratio: bool, value: Option<f64>) -> String {
    match value {
        None => "—".into(),
        Some(v) if ratio => format!("{:.1}%", v * 100.0),
        Some(v) if v.fract() == 0.0 => format!("{v:.0}"),
        Some(v) => format!("{v:.2}"),
    }
}

/// One month of a trend.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TrendPoint {
    /// `YYYY-MM`.
    pub month: String,
    pub value: Option<f64>,
}

impl Store {
    /// One metric for the subtree of the node with `code` and the period, with its value for
    /// each child node.
    pub async fn metric(&self, actor: &Actor, id: &str, code: &str, period: &Period) -> StoreResult<MetricValue> {
        let def = def(id).ok_or(StoreError::NotFound)?;
        let node = self.node_by_code(actor, code).await?;
        self.metric_at(actor, def, &node, period, true).await
    }

    /// One metric for a node already read (scope checked), with or without the breakdown.
    pub async fn metric_at(
        &self,
        actor: &Actor,
        def: &MetricDef,
        node: &Node,
        period: &Period,
        breakdown: bool,
    ) -> StoreResult<MetricValue> {
        let period = &period.with_today(self.today());
        let mut out = MetricValue::new(def, node, period);
        if def.basis.is_none() {
            out.note = "该能力尚未上线，暂无记录可统计".into();
            return Ok(out);
        }
        let target = self.metric_target(def.id).await?;
        let kids = if breakdown {
            self.active_children(node).await?
        } else {
            Vec::new()
        };
        let (mut out, per) = self.compute(actor, def, node, period, target, out, &kids).await?;
        out.target = target;
        out.breakdown = kids
            .into_iter()
            .zip(per)
            .map(|(child, v)| ChildValue {
                node_id: child.id,
                code: child.code,
                name: child.name,
                value: v.value,
                numerator: v.numerator,
                denominator: v.denominator,
                min: v.min,
                mean: v.mean,
            })
            .collect();
        Ok(out)
    }

    /// The metric for each of the twelve months ending with the period's end: stocks as of
    /// each month's last day, flows within each month. Empty for current-state metrics.
    pub async fn metric_trend(
        &self,
        actor: &Actor,
        def: &MetricDef,
        node: &Node,
        period: &Period,
    ) -> StoreResult<Vec<TrendPoint>> {
        if !matches!(def.basis, Some(Basis::Stock | Basis::Flow)) {
            return Ok(Vec::new());
        }
        let target = self.metric_target(def.id).await?;
        let mut out = Vec::new();
        for (month, p) in period.with_today(self.today()).months(12) {
            let blank = MetricValue::new(def, node, &p);
            let (v, _) = self.compute(actor, def, node, &p, target, blank, &[]).await?;
            out.push(TrendPoint { month, value: v.value });
        }
        Ok(out)
    }

    /// The target of a metric from the settings, if it has one.
    pub async fn metric_target(&self, id: &str) -> StoreResult<Option<f64>> {
        Ok(
            sqlx::query_scalar("SELECT target FROM metric_targets WHERE metric_id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_parse_with_field_errors() {
        let p = Period::parse(Some("2024-01-01"), Some(" 2024-06-30 ")).expect("valid");
        assert_eq!(p.as_of_text(), "2024-06-30");
        let e = Period::parse(Some("2024-13-01"), Some("")).expect_err("bad month");
        assert_eq!(
            e.message_for("from"),
            Some("“2024-13-01”不是有效日期，格式为 2024-07-01")
        );
        let e = Period::parse(Some("2024-07-01"), Some("2024-06-30")).expect_err("reversed");
        assert_eq!(e.message_for("from"), Some("开始日期不能晚于结束日期"));
        assert_eq!(Period::parse(None, None).expect("open"), Period::default());
    }

    #[test]
    fn twelve_months_end_on_the_as_of_day() {
        let p = Period::parse(None, Some("2024-03-15")).expect("valid");
        let months = p.months(12);
        assert_eq!(months.len(), 12);
        assert_eq!(months[0].0, "2023-04");
        assert_eq!(months[0].1.to.map(|d| d.to_string()).as_deref(), Some("2023-04-30"));
        assert_eq!(months[10].1.to.map(|d| d.to_string()).as_deref(), Some("2024-02-29"));
        assert_eq!(months[11].1.to.map(|d| d.to_string()).as_deref(), Some("2024-03-15"));
        assert_eq!(months[11].1.from.map(|d| d.to_string()).as_deref(), Some("2024-03-01"));
    }

    #[test]
    fn every_metric_id_is_unique() {
        let mut ids: Vec<&str> = METRICS.iter().map(|d| d.id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), METRICS.len());
    }
}
