//! One computation per metric, for one node's subtree and one period. Everything here is an
//! indexed subtree query run when asked (`ARCHITECTURE.md`, "Statistics"), except the
//! city- and district-wide residents figure, which reads a roll-up (`rollup.rs`).

use std::collections::HashSet;

use gongjian_domain::access::{Actor, Right};
use gongjian_domain::posts::PostKind;

use super::{MetricDef, MetricValue, Period, Shortfall};
use crate::db::Store;
use crate::error::StoreResult;
use crate::scope;
use crate::sql::Sql;
use crate::tree::Node;

/// Appends `(post alias held on the day)`: started on or before it, not ended by it.
fn push_held(sql: &mut Sql, alias: &str, day: &str) {
    sql.push(&format!("({alias}.started_on <= "))
        .bind(day)
        .push(&format!(" AND ({alias}.ended_on IS NULL OR {alias}.ended_on > "))
        .bind(day)
        .push("))");
}

/// Appends `(post alias started within the period)`.
fn push_started_in(sql: &mut Sql, alias: &str, period: &Period) {
    sql.push(&format!("({alias}.started_on <= ")).bind(period.as_of_text());
    if let Some(from) = period.start_text() {
        sql.push(&format!(" AND {alias}.started_on >= ")).bind(from);
    }
    sql.push(")");
}

/// `SELECT COUNT(…) FROM posts p` joined to the place of posts of `kind` (a node for node
/// posts, the organisation's territory for party posts) inside the subtree at `path`.
fn posts_in_subtree(select: &str, kind: &str, path: &str) -> Sql {
    let in_org = PostKind::from_key(kind).is_some_and(|k| k.in_party_org());
    let join = if in_org {
        "JOIN party_orgs o ON o.id = p.org_id JOIN nodes t ON t.id = o.territory_node_id"
    } else {
        "JOIN nodes t ON t.id = p.node_id"
    };
    let mut sql = Sql::new(&format!("SELECT {select} FROM posts p {join} WHERE p.kind = "));
    sql.bind(kind).push(" AND ");
    scope::push_subtree(&mut sql, "t.path", path);
    sql
}

impl Store {
    async fn count(&self, sql: &Sql) -> StoreResult<i64> {
        Ok(sql.query_as::<(i64,)>().fetch_one(&self.pool).await?.0)
    }

    /// Posts of `kind` held on the as-of day under `node`.
    async fn held_posts(&self, node: &Node, kind: &str, period: &Period) -> StoreResult<i64> {
        let mut sql = posts_in_subtree("COUNT(*)", kind, &node.path);
        sql.push(" AND ");
        push_held(&mut sql, "p", &period.as_of_text());
        self.count(&sql).await
    }

    /// Per-node counts of posts of `kind` held on the as-of day at active nodes of `level`
    /// under `node`: held at the node itself, or (`in_org`) in a party organisation covering it.
    async fn posts_per_node(
        &self,
        node: &Node,
        level: i64,
        kind: &str,
        in_org: bool,
        period: &Period,
    ) -> StoreResult<Vec<Shortfall>> {
        let held = if in_org {
            "FROM posts p JOIN party_orgs o ON o.id = p.org_id WHERE o.territory_node_id = n.id"
        } else {
            "FROM posts p WHERE p.node_id = n.id"
        };
        let mut sql = Sql::new(&format!(
            "SELECT n.id, n.code, n.name, (SELECT COUNT(*) {held} AND p.kind = "
        ));
        sql.bind(kind).push(" AND ");
        push_held(&mut sql, "p", &period.as_of_text());
        sql.push(") FROM nodes n WHERE n.level = ").bind(level);
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

    /// Computes an available metric into `out` (made by `MetricValue::new`).
    pub(super) async fn compute(
        &self,
        actor: &Actor,
        def: &MetricDef,
        node: &Node,
        period: &Period,
        target: Option<f64>,
        out: MetricValue,
    ) -> StoreResult<MetricValue> {
        let sub = |sql: &mut Sql, col: &str| scope::push_subtree(sql, col, &node.path);
        let day = period.as_of_text();
        Ok(match def.id {
            "grid.count.l1" | "grid.count.l2" | "grid.count.l3" => {
                let level = match def.id {
                    "grid.count.l1" => 4,
                    "grid.count.l2" => 5,
                    _ => 6,
                };
                let mut sql = Sql::new("SELECT COUNT(*) FROM nodes n WHERE n.level = ");
                sql.bind(level).push(" AND n.status = 'active' AND ");
                sub(&mut sql, "n.path");
                out.count(self.count(&sql).await?, "节点下的在册网格数（含本级）")
            }
            "people.residents" => {
                scope::require(actor, Right::ReadPeople, &node.path)?;
                let (total, elsewhere, at) = self.residents(node).await?;
                let mut v = out.ratio(elsewhere, total, "登记居民数；分子 / 分母为户籍在外地的居民 / 登记居民");
                v.value = Some(total as f64);
                v.rolled_up_at = at;
                v
            }
            "org.estate_branch.count" | "org.grid_branch.count" | "org.branch.count" | "org.committee.count" => {
                let mut sql = Sql::new(
                    "SELECT COUNT(*) FROM party_orgs o JOIN nodes t ON t.id = o.territory_node_id WHERE o.status = 'active' AND ",
                );
                match def.id {
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
            | "people.secretaries"
            | "people.rc_directors" => {
                let kind = match def.id {
                    "people.reserve_cadres" => "reserve_cadre",
                    "people.instructors" => "instructor",
                    "people.grid_workers" => "grid_worker",
                    "people.community_workers" => "community_worker",
                    "people.rc_directors" => "rc_director",
                    _ => "secretary",
                };
                out.count(self.held_posts(node, kind, period).await?, "期末在任人数")
            }
            "people.workers_professional" => {
                let mut sql = posts_in_subtree("COUNT(*)", "community_worker", &node.path);
                sql.push(" AND p.grade IS NOT NULL AND ");
                push_held(&mut sql, "p", &day);
                out.count(self.count(&sql).await?, "期末在任、有职业等级的社区工作者")
            }
            "people.workers_recruited" => {
                let mut sql = posts_in_subtree("COUNT(DISTINCT p.person_id)", "community_worker", &node.path);
                sql.push(" AND ");
                push_started_in(&mut sql, "p", period);
                out.count(self.count(&sql).await?, "期间内开始任职的社区工作者（人）")
            }
            "org.street.instructors_min" | "org.community.reserve_cadres" => {
                let (level, kind) = if def.id == "org.street.instructors_min" {
                    (3, "instructor")
                } else {
                    (4, "reserve_cadre")
                };
                let target = target.unwrap_or(1.0);
                let per = self.posts_per_node(node, level, kind, false, period).await?;
                let mut out = out;
                out.min = per.iter().map(|s| s.value).min();
                out.mean =
                    (!per.is_empty()).then(|| per.iter().map(|s| s.value).sum::<i64>() as f64 / per.len() as f64);
                out.value = out.min.map(|m| m as f64);
                out.below = per.into_iter().filter(|s| (s.value as f64) < target).collect();
                out.note = format!("期末最少值；低于 {target} 的节点列在 below 中");
                out
            }
            "org.street.posts_filled" => {
                let per_sec = self.posts_per_node(node, 3, "secretary", true, period).await?;
                let per_org = self.posts_per_node(node, 3, "organising_member", true, period).await?;
                let has_org = |id: i64| per_org.iter().any(|o| o.node_id == id && o.value > 0);
                let filled = per_sec.iter().filter(|s| s.value > 0 && has_org(s.node_id)).count();
                let mut out = out;
                out.below = per_sec
                    .iter()
                    .filter(|s| s.value == 0 || !has_org(s.node_id))
                    .cloned()
                    .collect();
                out.ratio(
                    filled as i64,
                    per_sec.len() as i64,
                    "期末书记和组织委员都在任的镇街 / 镇街",
                )
            }
            "org.community.one_shoulder" => {
                let mut sql = Sql::new("SELECT COUNT(*) FROM nodes c WHERE c.level = 4 AND c.status = 'active' AND ");
                sub(&mut sql, "c.path");
                let total = self.count(&sql).await?;
                sql.push(
                    " AND EXISTS (SELECT 1 FROM posts d JOIN posts s ON s.person_id = d.person_id \
                     JOIN party_orgs o ON o.id = s.org_id WHERE d.node_id = c.id AND d.kind = 'rc_director' \
                     AND s.kind = 'secretary' AND o.territory_node_id = c.id AND ",
                );
                push_held(&mut sql, "d", &day);
                sql.push(" AND ");
                push_held(&mut sql, "s", &day);
                sql.push(")");
                let both = self.count(&sql).await?;
                out.ratio(both, total, "期末书记同时担任居委会主任的社区 / 社区")
            }
            "org.community.cross_appointment" => {
                // Members of a community's two committees; cross-appointed when in both.
                let mut party = Sql::new(
                    "SELECT p.person_id, t.id FROM posts p JOIN party_orgs o ON o.id = p.org_id JOIN nodes t ON t.id = o.territory_node_id \
                     WHERE t.level = 4 AND p.kind IN ('secretary', 'deputy_secretary', 'organising_member', 'committee_member') AND ",
                );
                push_held(&mut party, "p", &day);
                party.push(" AND ");
                sub(&mut party, "t.path");
                let mut rc = Sql::new(
                    "SELECT p.person_id, n.id FROM posts p JOIN nodes n ON n.id = p.node_id \
                     WHERE n.level = 4 AND p.kind IN ('rc_director', 'rc_member') AND ",
                );
                push_held(&mut rc, "p", &day);
                rc.push(" AND ");
                sub(&mut rc, "n.path");
                let party: HashSet<(i64, i64)> = party.query_as().fetch_all(&self.pool).await?.into_iter().collect();
                let rc: HashSet<(i64, i64)> = rc.query_as().fetch_all(&self.pool).await?.into_iter().collect();
                let all = party.union(&rc).count() as i64;
                let both = party.intersection(&rc).count() as i64;
                out.ratio(both, all, "期末同时在社区党组织委员会和居委会任职的班子成员 / 班子成员")
            }
            id if super::registration::IDS.contains(&id) => {
                scope::require(actor, Right::ReadPeople, &node.path)?;
                self.registration_metric(def, node, period, out).await?
            }
            _ => {
                let mut out = out;
                out.available = false;
                out.basis = None;
                out.note = "该能力尚未上线，暂无记录可统计".into();
                out
            }
        })
    }
}
