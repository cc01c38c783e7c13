//! Metrics of party members and double registration (双报到): registrations, pairings,
//! deployments, seconded secretaries, thank-you letters and part-time committee members. Each is
//! a [`Count`] over rows placed in the tree, so the node and its children come from the same two
//! statements as every other count.

use super::Period;
use super::compute::{ByChild, Count};
use crate::sql::Sql;

/// The metrics defined here.
pub(super) const IDS: [&str; 7] = [
    "org.big_committee.part_time_members",
    "people.in_service_reported",
    "people.org_pairings",
    "people.cadres_deployed",
    "people.agency_secretaries",
    "people.party_members",
    "letters.thanks_sent",
];

/// The count of people over rows of `alias` (registrations or deployments) that carry
/// `person_repeat` (migration 0012): the rows of people with one row each, plus the distinct
/// people with several. Equal to `COUNT(DISTINCT alias.person_id)`, with the DISTINCT over the
/// repeated people only.
macro_rules! people_of {
    ($alias:literal) => {
        concat!(
            "CAST(COALESCE(SUM(CASE WHEN ",
            $alias,
            ".person_repeat = 0 THEN 1 ELSE 0 END), 0) + COUNT(DISTINCT CASE WHEN ",
            $alias,
            ".person_repeat = 1 THEN ",
            $alias,
            ".person_id END) AS BIGINT), CAST(0 AS BIGINT)"
        )
    };
}

/// Appends `(started <= day AND (ended IS NULL OR ended > day))`: a record with a start and an
/// optional end that covers `day` (ending on a day means gone by it).
fn push_covers(sql: &mut Sql, started: &str, ended: &str, day: &str) {
    sql.push(&format!("({started} <= "))
        .bind(day)
        .push(&format!(" AND ({ended} IS NULL OR {ended} > "))
        .bind(day)
        .push("))");
}

/// The count behind metric `id` for `period`, with what it counts in words.
pub(super) fn count(id: &str, period: &Period) -> Option<(Count<'static>, &'static str)> {
    let day = period.as_of_text();
    let from = period.start_text();
    let q = |select: &'static str,
             from_: &'static str,
             place: &'static str,
             conds: Box<dyn Fn(&mut Sql) + Send + Sync>| Count {
        select,
        from: from_,
        place,
        conds,
        by_child: ByChild::Join,
    };
    let (mut count, note) = match id {
        "org.big_committee.part_time_members" => (
            // 兼职委员 of a street's 大工委 or a community's 大党委.
            q(
                "COUNT(DISTINCT p.person_id), CAST(0 AS BIGINT)",
                "posts p JOIN party_orgs o ON o.id = p.org_id JOIN nodes t ON t.id = o.territory_node_id",
                "t.path",
                Box::new(move |sql: &mut Sql| {
                    sql.push(
                        "p.kind = 'part_time_member' AND o.kind IN ('working_committee', 'committee') \
                         AND t.level IN (3, 4) AND ",
                    );
                    push_covers(sql, "p.started_on", "p.ended_on", &day);
                }),
            ),
            "期末在任的街道大工委、社区大党委兼职委员（人）",
        ),
        "people.in_service_reported" => (
            q(
                people_of!("r"),
                "registrations r JOIN nodes t ON t.id = r.community_id",
                "t.path",
                Box::new(move |sql: &mut Sql| {
                    sql.push("r.status IN ('active', 'ended') AND ");
                    push_covers(sql, "r.registered_on", "r.ended_on", &day);
                }),
            ),
            "期末已在居住社区报到（社区已确认）的在职党员（人）",
        ),
        "people.org_pairings" => (
            q(
                "COUNT(DISTINCT g.org_id), CAST(0 AS BIGINT)",
                "org_pairings g JOIN nodes t ON t.id = g.community_id",
                "t.path",
                Box::new(move |sql: &mut Sql| push_covers(sql, "g.started_on", "g.ended_on", &day)),
            ),
            "期末与节点下社区结对的党组织数",
        ),
        "people.cadres_deployed" => (
            // Serving at some time in the period: started by its end, not ended before its start.
            q(
                people_of!("d"),
                "deployments d JOIN nodes t ON t.id = d.node_id",
                "t.path",
                Box::new(move |sql: &mut Sql| {
                    sql.push("d.started_on <= ").bind(day.clone());
                    if let Some(f) = &from {
                        sql.push(" AND (d.ended_on IS NULL OR d.ended_on >= ")
                            .bind(f.clone())
                            .push(")");
                    }
                }),
            ),
            "期间内在节点下街道、社区选派任职或下沉的干部（人）",
        ),
        "people.agency_secretaries" => (
            // Community secretaries in office on the day whose post came with a secondment from an
            // agency.
            q(
                "COUNT(DISTINCT p.person_id), CAST(0 AS BIGINT)",
                "deployments d JOIN posts p ON p.id = d.post_id JOIN units u ON u.id = d.from_unit_id \
                 JOIN nodes t ON t.id = d.node_id",
                "t.path",
                Box::new(move |sql: &mut Sql| {
                    sql.push(
                        "d.kind = 'secondment' AND p.kind = 'secretary' AND u.kind = 'agency' AND t.level = 4 AND ",
                    );
                    push_covers(sql, "p.started_on", "p.ended_on", &day);
                    sql.push(" AND ");
                    push_covers(sql, "d.started_on", "d.ended_on", &day);
                }),
            ),
            "期末由机关选派担任社区书记的干部（人）",
        ),
        "people.party_members" => (
            q(
                "COUNT(*), CAST(0 AS BIGINT)",
                "party_members m JOIN party_orgs o ON o.id = m.org_id JOIN nodes t ON t.id = o.territory_node_id",
                "t.path",
                Box::new(|sql: &mut Sql| {
                    sql.push("1 = 1");
                }),
            ),
            "组织关系在节点下党组织的党员（人）",
        ),
        "letters.thanks_sent" => {
            // Issue times are UTC instants; the period's days are Shanghai days (UTC+8), which
            // begin at 16:00 UTC of the day before.
            let start_of = |d: chrono::NaiveDate| format!("{}T16:00:00", d.pred_opt().unwrap_or(d));
            let end = start_of(period.as_of().succ_opt().unwrap_or(period.as_of()));
            let start = period.from.map(start_of);
            (
                q(
                    "COUNT(*), CAST(0 AS BIGINT)",
                    "thanks_letters l JOIN nodes t ON t.id = l.community_id",
                    "t.path",
                    Box::new(move |sql: &mut Sql| {
                        sql.push("l.created_at < ").bind(end.clone());
                        if let Some(s) = &start {
                            sql.push(" AND l.created_at >= ").bind(s.clone());
                        }
                    }),
                ),
                "期间内节点下社区向工作单位出具的感谢函（份）",
            )
        }
        _ => return None,
    };
    // Rows placed straight on a community or node through a covering index: each child's
    // range counted on its own keeps the plan of the subtree count.
    if matches!(id, "people.in_service_reported" | "people.cadres_deployed") {
        count.by_child = ByChild::Union;
    }
    // Few posts reached through their kind: one pass grouped by child.
    if id == "org.big_committee.part_time_members" {
        count.by_child = ByChild::Prefix;
    }
    Some((count, note))
}
