//! Metrics of volunteer service, the points shop and campaigns. Each is a [`Count`] over rows
//! placed in the tree (the volunteer's, team's, record's, activity's, redemption's or
//! campaign's node), so the node and its children come from the same two statements as every
//! other count, answered from the `(node_id, …)` indexes of those tables.
//!
//! - `volunteer.count`: active volunteers registered under the node (now).
//! - `volunteer.teams`: active teams owned by nodes under the node (now).
//! - `volunteer.hours`: the sum of `delta_minutes` of service records served in the period,
//!   in hours. A correction carries the served day of the record it corrects, so the sum is the
//!   hours as corrected.
//! - `volunteer.beneficiaries`: the sum of `activities.beneficiaries` (people served, entered
//!   when an activity is closed) over closed activities that ended in the period. Residents
//!   served twice are counted twice: the seed's "8000余居民从中受益" counts people served.
//! - `points.redemptions`: redemptions not cancelled, made in the period; the value is their
//!   number, `numerator` the points they took.
//! - `center.campaign.progress`: campaigns under the node started by the period's end; done /
//!   target summed over them, each campaign's done capped at its target. Done is the number of
//!   activities of the campaign held (not cancelled, ended by the day) within the campaign's
//!   dates, or the distinct volunteers with hours on those activities, by the campaign's measure.

use super::compute::{ByChild, Count};
use super::{MetricValue, Period};
use crate::db::Store;
use crate::error::StoreResult;
use crate::sql::Sql;
use crate::tree::Node;

/// The metrics defined here.
pub(super) const IDS: [&str; 6] = [
    "volunteer.count",
    "volunteer.teams",
    "volunteer.hours",
    "volunteer.beneficiaries",
    "points.redemptions",
    "center.campaign.progress",
];

/// The UTC instant (stored text) at which Shanghai day `d` begins: 16:00 UTC the day before.
fn day_start(d: chrono::NaiveDate) -> String {
    format!("{}T16:00:00", d.pred_opt().unwrap_or(d))
}

/// `[start, end)` UTC instants of the period's Shanghai days (no start when open).
fn instants(period: &Period) -> (Option<String>, String) {
    let end_day = period.as_of();
    (
        period.from.map(day_start),
        day_start(end_day.succ_opt().unwrap_or(end_day)),
    )
}

/// `[start, end)` UTC instants of Shanghai day `d`.
pub fn day_instants(d: chrono::NaiveDate) -> (String, String) {
    (day_start(d), day_start(d.succ_opt().unwrap_or(d)))
}

/// How a count's two columns become a value.
#[derive(Clone, Copy)]
enum Shape {
    /// The first column.
    Count,
    /// The second column, minutes, shown as hours.
    Hours,
    /// The first column, with the second as `numerator` (points of redemptions).
    CountWithPoints,
    /// First / second.
    Ratio,
}

fn shaped(v: MetricValue, (a, b): (i64, i64), shape: Shape, note: &str) -> MetricValue {
    match shape {
        Shape::Count => v.count(a, note),
        Shape::Hours => {
            let mut v = v.count(0, note);
            v.value = Some((b as f64 / 60.0 * 100.0).round() / 100.0);
            v
        }
        Shape::CountWithPoints => {
            let mut v = v.count(a, note);
            v.numerator = Some(b);
            v
        }
        Shape::Ratio => v.ratio(a, b, note),
    }
}

/// The count behind metric `id` for `period`, how it reads, and what it counts in words.
fn count(id: &str, period: &Period) -> Option<(Count<'static>, Shape, &'static str)> {
    let (start, end) = instants(period);
    let day = period.as_of_text();
    let from_day = period.start_text();
    Some(match id {
        "volunteer.count" => (
            Count {
                select: "COUNT(*), CAST(0 AS BIGINT)",
                from: "volunteers v JOIN nodes t ON t.id = v.node_id",
                place: "t.path",
                conds: Box::new(|sql: &mut Sql| {
                    sql.push("v.status = 'active'");
                }),
                by_child: ByChild::Join,
            },
            Shape::Count,
            "在节点下登记、当前在册的志愿者（人）",
        ),
        "volunteer.teams" => (
            Count {
                select: "COUNT(*), CAST(0 AS BIGINT)",
                from: "volunteer_teams g JOIN nodes t ON t.id = g.node_id",
                place: "t.path",
                conds: Box::new(|sql: &mut Sql| {
                    sql.push("g.status = 'active'");
                }),
                by_child: ByChild::Join,
            },
            Shape::Count,
            "节点下在册的志愿服务队（支）",
        ),
        "volunteer.hours" => (
            Count {
                select: "COUNT(DISTINCT r.person_id), CAST(COALESCE(SUM(r.delta_minutes), 0) AS BIGINT)",
                from: "service_records r JOIN nodes t ON t.id = r.node_id",
                place: "t.path",
                conds: Box::new(move |sql: &mut Sql| {
                    sql.push("r.served_on <= ").bind(day.clone());
                    if let Some(f) = &from_day {
                        sql.push(" AND r.served_on >= ").bind(f.clone());
                    }
                }),
                by_child: ByChild::Join,
            },
            Shape::Hours,
            "期间内记录的志愿服务时长（小时，更正后）",
        ),
        "volunteer.beneficiaries" => (
            Count {
                select: "CAST(COALESCE(SUM(a.beneficiaries), 0) AS BIGINT), CAST(0 AS BIGINT)",
                from: "activities a JOIN nodes t ON t.id = a.node_id",
                place: "t.path",
                conds: Box::new(move |sql: &mut Sql| {
                    sql.push("a.status = 'closed' AND a.ends_at < ").bind(end.clone());
                    if let Some(s) = &start {
                        sql.push(" AND a.ends_at >= ").bind(s.clone());
                    }
                }),
                by_child: ByChild::Join,
            },
            Shape::Count,
            "期间内结束并结项的活动登记的受益人次",
        ),
        "points.redemptions" => {
            let (start, end) = instants(period);
            (
                Count {
                    select: "COUNT(*), CAST(COALESCE(SUM(d.points), 0) AS BIGINT)",
                    from: "redemptions d JOIN nodes t ON t.id = d.node_id",
                    place: "t.path",
                    conds: Box::new(move |sql: &mut Sql| {
                        sql.push("d.status <> 'cancelled' AND d.created_at < ")
                            .bind(end.clone());
                        if let Some(s) = &start {
                            sql.push(" AND d.created_at >= ").bind(s.clone());
                        }
                    }),
                    by_child: ByChild::Join,
                },
                Shape::CountWithPoints,
                "期间内未取消的积分兑换（笔）；numerator 为兑换所用积分",
            )
        }
        _ => return None,
    })
}

/// The derived table of campaigns with what each has done by the instant `end` (exclusive)
/// and the day `day` (column `done`), as the campaign metric and the campaign pages read it.
pub fn campaign_progress_table(end: &str, day: &str) -> String {
    let q = |s: &str| s.replace('\'', "''");
    let (end, day) = (q(end), q(day));
    format!(
        "(SELECT k0.id, k0.node_id, k0.target, k0.starts_on, CASE WHEN k0.measure = 'volunteers' THEN \
         (SELECT COUNT(*) FROM (SELECT r.person_id FROM service_records r JOIN activities a ON a.id = r.activity_id \
         WHERE a.campaign_id = k0.id AND r.served_on >= k0.starts_on AND r.served_on <= k0.ends_on \
         AND r.served_on <= '{day}' GROUP BY r.person_id HAVING SUM(r.delta_minutes) > 0) x) \
         ELSE (SELECT COUNT(*) FROM activities a WHERE a.campaign_id = k0.id AND a.status <> 'cancelled' \
         AND a.ends_at < '{end}' AND substr(a.starts_at, 1, 10) >= k0.starts_on \
         AND substr(a.starts_at, 1, 10) <= k0.ends_on) END AS done FROM campaigns k0)"
    )
}

impl Store {
    /// A metric of this module for the node and each child.
    pub(super) async fn volunteer_metric(
        &self,
        id: &str,
        period: &Period,
        node: &Node,
        kids: &[Node],
        out: MetricValue,
        each: Vec<MetricValue>,
    ) -> StoreResult<(MetricValue, Vec<MetricValue>)> {
        if id == "center.campaign.progress" {
            // A derived table built for the period's end; the dates in it are ours
            // (`YYYY-MM-DD` and RFC 3339 text), never user text.
            let (_, end) = instants(period);
            let day = period.as_of_text();
            let from = format!(
                "{} k JOIN nodes t ON t.id = k.node_id",
                campaign_progress_table(&end, &day)
            );
            let q = Count {
                select: "CAST(COALESCE(SUM(CASE WHEN k.done > k.target THEN k.target ELSE k.done END), 0) AS BIGINT), \
                         CAST(COALESCE(SUM(k.target), 0) AS BIGINT)",
                from: &from,
                place: "t.path",
                conds: Box::new(move |sql: &mut Sql| {
                    sql.push("k.starts_on <= ").bind(day.clone());
                }),
                by_child: ByChild::Join,
            };
            let note = "节点下各项活动目标的完成数 / 目标数（每项完成数以目标为上限）";
            return self.shaped_counts(&q, node, kids, out, each, Shape::Ratio, note).await;
        }
        let Some((q, shape, note)) = count(id, period) else {
            return Ok((out, each));
        };
        self.shaped_counts(&q, node, kids, out, each, shape, note).await
    }

    #[allow(clippy::too_many_arguments)]
    async fn shaped_counts(
        &self,
        q: &Count<'_>,
        node: &Node,
        kids: &[Node],
        out: MetricValue,
        each: Vec<MetricValue>,
        shape: Shape,
        note: &str,
    ) -> StoreResult<(MetricValue, Vec<MetricValue>)> {
        let (total, per) = self.counts(q, node, kids).await?;
        let each = each
            .into_iter()
            .zip(per)
            .map(|(v, n)| shaped(v, n, shape, note))
            .collect();
        Ok((shaped(out, total, shape, note), each))
    }
}
