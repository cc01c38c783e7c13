//! Metrics of party members and double registration (双报到): registrations, pairings,
//! deployments, seconded secretaries, thank-you letters and part-time committee members.
//! Each is one indexed subtree query run when asked.

use super::{MetricDef, MetricValue, Period};
use crate::db::Store;
use crate::error::StoreResult;
use crate::scope;
use crate::sql::Sql;
use crate::tree::Node;

/// The metrics computed here.
pub(super) const IDS: [&str; 7] = [
    "org.big_committee.part_time_members",
    "people.in_service_reported",
    "people.org_pairings",
    "people.cadres_deployed",
    "people.agency_secretaries",
    "people.party_members",
    "letters.thanks_sent",
];

/// Appends `(alias.started_on <= day AND (alias.ended_on IS NULL OR alias.ended_on > day))`:
/// a record with a start and an optional end that covers `day` (ending on a day means gone by it).
fn push_covers(sql: &mut Sql, started: &str, ended: &str, day: &str) {
    sql.push(&format!("({started} <= "))
        .bind(day)
        .push(&format!(" AND ({ended} IS NULL OR {ended} > "))
        .bind(day)
        .push("))");
}

impl Store {
    pub(super) async fn registration_metric(
        &self,
        def: &MetricDef,
        node: &Node,
        period: &Period,
        out: MetricValue,
    ) -> StoreResult<MetricValue> {
        let day = period.as_of_text();
        let count =
            async |sql: Sql| -> StoreResult<i64> { Ok(sql.query_as::<(i64,)>().fetch_one(&self.pool).await?.0) };
        Ok(match def.id {
            "org.big_committee.part_time_members" => {
                // 兼职委员 of a street's 大工委 or a community's 大党委.
                let mut sql = Sql::new(
                    "SELECT COUNT(DISTINCT p.person_id) FROM posts p JOIN party_orgs o ON o.id = p.org_id \
                     JOIN nodes t ON t.id = o.territory_node_id WHERE p.kind = 'part_time_member' \
                     AND o.kind IN ('working_committee', 'committee') AND t.level IN (3, 4) AND ",
                );
                push_covers(&mut sql, "p.started_on", "p.ended_on", &day);
                sql.push(" AND ");
                scope::push_subtree(&mut sql, "t.path", &node.path);
                out.count(count(sql).await?, "期末在任的街道大工委、社区大党委兼职委员（人）")
            }
            "people.in_service_reported" => {
                let mut sql = Sql::new(
                    "SELECT COUNT(DISTINCT r.person_id) FROM registrations r JOIN nodes c ON c.id = r.community_id \
                     WHERE r.status IN ('active', 'ended') AND ",
                );
                push_covers(&mut sql, "r.registered_on", "r.ended_on", &day);
                sql.push(" AND ");
                scope::push_subtree(&mut sql, "c.path", &node.path);
                out.count(count(sql).await?, "期末已在居住社区报到（社区已确认）的在职党员（人）")
            }
            "people.org_pairings" => {
                let mut sql = Sql::new(
                    "SELECT COUNT(DISTINCT p.org_id) FROM org_pairings p JOIN nodes c ON c.id = p.community_id WHERE ",
                );
                push_covers(&mut sql, "p.started_on", "p.ended_on", &day);
                sql.push(" AND ");
                scope::push_subtree(&mut sql, "c.path", &node.path);
                out.count(count(sql).await?, "期末与节点下社区结对的党组织数")
            }
            "people.cadres_deployed" => {
                // Serving at some time in the period: started by its end, not ended before its start.
                let mut sql = Sql::new(
                    "SELECT COUNT(DISTINCT d.person_id) FROM deployments d JOIN nodes n ON n.id = d.node_id WHERE d.started_on <= ",
                );
                sql.bind(day.clone());
                if let Some(from) = period.start_text() {
                    sql.push(" AND (d.ended_on IS NULL OR d.ended_on >= ")
                        .bind(from)
                        .push(")");
                }
                sql.push(" AND ");
                scope::push_subtree(&mut sql, "n.path", &node.path);
                out.count(count(sql).await?, "期间内在节点下街道、社区选派任职或下沉的干部（人）")
            }
            "people.agency_secretaries" => {
                // Community secretaries in office on the day whose post came with a secondment
                // from an agency.
                let mut sql = Sql::new(
                    "SELECT COUNT(DISTINCT p.person_id) FROM deployments d JOIN posts p ON p.id = d.post_id \
                     JOIN units u ON u.id = d.from_unit_id JOIN nodes c ON c.id = d.node_id \
                     WHERE d.kind = 'secondment' AND p.kind = 'secretary' AND u.kind = 'agency' AND c.level = 4 AND ",
                );
                push_covers(&mut sql, "p.started_on", "p.ended_on", &day);
                sql.push(" AND ");
                push_covers(&mut sql, "d.started_on", "d.ended_on", &day);
                sql.push(" AND ");
                scope::push_subtree(&mut sql, "c.path", &node.path);
                out.count(count(sql).await?, "期末由机关选派担任社区书记的干部（人）")
            }
            "people.party_members" => {
                let mut sql = Sql::new(
                    "SELECT COUNT(*) FROM party_members m JOIN party_orgs o ON o.id = m.org_id \
                     JOIN nodes t ON t.id = o.territory_node_id WHERE ",
                );
                scope::push_subtree(&mut sql, "t.path", &node.path);
                out.count(count(sql).await?, "组织关系在节点下党组织的党员（人）")
            }
            _ => {
                // letters.thanks_sent: letters issued by communities under the node in the period.
                // Issue times are UTC instants; the period's days are Shanghai days (UTC+8), which
                // begin at 16:00 UTC of the day before.
                let start_of = |d: chrono::NaiveDate| format!("{}T16:00:00", d.pred_opt().unwrap_or(d));
                let mut sql = Sql::new(
                    "SELECT COUNT(*) FROM thanks_letters l JOIN nodes c ON c.id = l.community_id WHERE l.created_at < ",
                );
                sql.bind(start_of(period.as_of().succ_opt().unwrap_or(period.as_of())));
                if let Some(from) = period.from {
                    sql.push(" AND l.created_at >= ").bind(start_of(from));
                }
                sql.push(" AND ");
                scope::push_subtree(&mut sql, "c.path", &node.path);
                out.count(count(sql).await?, "期间内节点下社区向工作单位出具的感谢函（份）")
            }
        })
    }
}
