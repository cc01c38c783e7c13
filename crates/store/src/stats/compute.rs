//! One computation per metric, for one node's subtree and one period, and in the same pass for
//! each of its children (the breakdown), never one query per child:
//!
//! - counts are one query for the subtree and one for the children: a `UNION ALL` of the count
//!   of each child's subtree, each over the index range of its own path;
//! - per-unit figures (per street, per community) fetch the units once, each with its path, and
//!   are reduced in memory for the node and for each child by path prefix.
//!
//! Everything is an indexed query run when asked (`ARCHITECTURE.md`, "Statistics"), except the
//! residents of a large subtree, which come from a roll-up (`rollup.rs`).

use std::collections::HashSet;

use gongjian_domain::access::{Actor, Right};
use gongjian_domain::posts::PostKind;

use super::{MetricDef, MetricValue, Period, Shortfall};
use crate::db::Store;
use crate::error::StoreResult;
use crate::scope;
use crate::sql::Sql;
use crate::tree::Node;

/// Children counted in one statement of a breakdown (SQLite allows 500 terms in a compound
/// `SELECT`).
const KIDS_PER_STATEMENT: usize = 200;

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

/// A count over rows placed in the tree: `SELECT select FROM from WHERE conds AND place in
/// subtree`. `select` gives two integer columns (the second 0 when unused).
pub(super) struct Count<'a> {
    pub(super) select: &'a str,
    pub(super) from: &'a str,
    /// The path column that places a row in the tree.
    pub(super) place: &'a str,
    pub(super) conds: Box<dyn Fn(&mut Sql) + Send + Sync + 'a>,
    pub(super) by_child: ByChild,
}

/// How a breakdown counts each child's subtree.
#[derive(Clone, Copy)]
pub(super) enum ByChild {
    /// One grouped statement joining each child with the index range of its subtree; the
    /// planner picks the order (grids, organisations, members, residents counted exactly).
    Join,
    /// A `UNION ALL` of each child's own subtree count, which keeps the plan of the subtree
    /// count (the path range first, then the rows' place index). For many rows placed by a
    /// covering index on their node, where a join at city scale may start from the rows and
    /// probe the children once per row (registrations, deployments).
    Union,
    /// One pass over the rows of the node's subtree, with the plan of the subtree count,
    /// grouped by the child whose path prefixes the row's place. For counts of few rows reached
    /// through a kind index (posts), where a join probes every child for each row of the city.
    Prefix,
}

/// The `FROM` and place of posts of `kind`: a node for node posts, the organisation's
/// territory for party posts.
fn posts_from(kind: &str) -> &'static str {
    if PostKind::from_key(kind).is_some_and(|k| k.in_party_org()) {
        "posts p JOIN party_orgs o ON o.id = p.org_id JOIN nodes t ON t.id = o.territory_node_id"
    } else {
        "posts p JOIN nodes t ON t.id = p.node_id"
    }
}

/// A unit of a per-unit figure (a street, a community) with its path.
struct Unit {
    path: String,
    row: Shortfall,
    /// For shares: whether the unit meets the condition.
    ok: bool,
}

/// How units reduce to a value.
#[derive(Clone, Copy)]
enum UnitKind {
    /// Minimum and mean of the per-unit counts; units below the target listed.
    Minimum,
    /// Units meeting the condition / units; the others listed.
    Share,
}

fn reduce_units(mut out: MetricValue, units: &[&Unit], kind: UnitKind, target: f64, note: &str) -> MetricValue {
    match kind {
        UnitKind::Minimum => {
            out.min = units.iter().map(|u| u.row.value).min();
            out.mean =
                (!units.is_empty()).then(|| units.iter().map(|u| u.row.value).sum::<i64>() as f64 / units.len() as f64);
            out.value = out.min.map(|m| m as f64);
            out.below = units
                .iter()
                .filter(|u| (u.row.value as f64) < target)
                .map(|u| u.row.clone())
                .collect();
            out.note = note.into();
            out
        }
        UnitKind::Share => {
            out.below = units.iter().filter(|u| !u.ok).map(|u| u.row.clone()).collect();
            let ok = units.iter().filter(|u| u.ok).count() as i64;
            out.ratio(ok, units.len() as i64, note)
        }
    }
}

/// The blank values of the children, to be filled.
fn blanks(def: &MetricDef, kids: &[Node], period: &Period) -> Vec<MetricValue> {
    kids.iter().map(|k| MetricValue::new(def, k, period)).collect()
}

impl Store {
    async fn count_pair(&self, sql: &Sql) -> StoreResult<(i64, i64)> {
        Ok(sql.query_as::<(i64, i64)>().fetch_one(&self.pool).await?)
    }

    /// The count for the subtree of `node`, and for each of `kids` (in their order).
    pub(super) async fn counts(
        &self,
        q: &Count<'_>,
        node: &Node,
        kids: &[Node],
    ) -> StoreResult<((i64, i64), Vec<(i64, i64)>)> {
        let mut sql = Sql::new(&format!("SELECT {} FROM {} WHERE ", q.select, q.from));
        (q.conds)(&mut sql);
        sql.push(" AND ");
        scope::push_subtree(&mut sql, q.place, &node.path);
        let total = self.count_pair(&sql).await?;
        Ok((total, self.per_child(q, node, kids).await?))
    }

    /// The count for each of `kids` (children of `node`, in their order), by the count's
    /// [`ByChild`].
    async fn per_child(&self, q: &Count<'_>, node: &Node, kids: &[Node]) -> StoreResult<Vec<(i64, i64)>> {
        match q.by_child {
            ByChild::Join => self.per_child_joined(q, node, kids).await,
            ByChild::Union => self.per_child_union(q, kids).await,
            ByChild::Prefix => self.per_child_prefix(q, node, kids).await,
        }
    }

    /// [`ByChild::Prefix`]: the count for each of `kids` (children of `node`, in their order), in
    /// one statement grouped by the path of the child each row lies under: the place's prefix up
    /// to the first `/` after the node's own path.
    async fn per_child_prefix(&self, q: &Count<'_>, node: &Node, kids: &[Node]) -> StoreResult<Vec<(i64, i64)>> {
        let mut per = vec![(0, 0); kids.len()];
        if kids.is_empty() {
            return Ok(per);
        }
        // Paths are ASCII (digits and '/'), so characters and bytes agree on both engines.
        let len = node.path.len();
        let slash = self
            .engine()
            .position(&format!("substr({}, {})", q.place, len + 1), "'/'");
        let mut sql = Sql::new(&format!(
            "SELECT substr({p}, 1, {len} + {slash}), {} FROM {} WHERE ",
            q.select,
            q.from,
            p = q.place
        ));
        (q.conds)(&mut sql);
        sql.push(" AND ");
        scope::push_subtree(&mut sql, q.place, &node.path);
        sql.push(" GROUP BY 1");
        let rows: Vec<(String, i64, i64)> = sql.query_as().fetch_all(&self.pool).await?;
        for (path, a, b) in rows {
            if let Some(i) = kids.iter().position(|k| k.path == path) {
                per[i] = (a, b);
            }
        }
        Ok(per)
    }

    /// [`ByChild::Join`]: the count for each of `kids` (children of `node`, in their order), in
    /// one statement: a join of each child with the index range of its own subtree.
    async fn per_child_joined(&self, q: &Count<'_>, node: &Node, kids: &[Node]) -> StoreResult<Vec<(i64, i64)>> {
        let mut per = vec![(0, 0); kids.len()];
        if kids.is_empty() {
            return Ok(per);
        }
        let mut sql = Sql::new(&format!(
            "SELECT c.id, {} FROM nodes c, {} WHERE c.parent_id = ",
            q.select, q.from
        ));
        sql.bind(node.id).push(&format!(
            " AND c.status = 'active' AND {p} >= c.path AND {p} < substr(c.path, 1, length(c.path) - 1) || '0' AND ",
            p = q.place
        ));
        (q.conds)(&mut sql);
        sql.push(" GROUP BY c.id");
        let rows: Vec<(i64, i64, i64)> = sql.query_as().fetch_all(&self.pool).await?;
        for (id, a, b) in rows {
            if let Some(i) = kids.iter().position(|k| k.id == id) {
                per[i] = (a, b);
            }
        }
        Ok(per)
    }

    /// [`ByChild::Union`]: the count for each of `kids` (children of `node`, in their order), in one statement per
    /// [`KIDS_PER_STATEMENT`] children: a `UNION ALL` of the subtree count of each child, so each
    /// branch walks the path index of its own child's range into the rows' place index, the plan
    /// of the subtree count itself. (A join of the children with their ranges leaves the order to
    /// the planner, which at city scale may start from the rows and probe each child per row.)
    async fn per_child_union(&self, q: &Count<'_>, kids: &[Node]) -> StoreResult<Vec<(i64, i64)>> {
        let mut per = vec![(0, 0); kids.len()];
        for (chunk, some) in kids.chunks(KIDS_PER_STATEMENT).enumerate() {
            let mut sql = Sql::new("");
            for (i, kid) in some.iter().enumerate() {
                if i > 0 {
                    sql.push(" UNION ALL ");
                }
                let at = chunk * KIDS_PER_STATEMENT + i;
                sql.push(&format!(
                    "SELECT CAST({at} AS BIGINT), {} FROM {} WHERE ",
                    q.select, q.from
                ));
                (q.conds)(&mut sql);
                sql.push(" AND ");
                scope::push_subtree(&mut sql, q.place, &kid.path);
            }
            let rows: Vec<(i64, i64, i64)> = sql.query_as().fetch_all(&self.pool).await?;
            for (at, a, b) in rows {
                if let Some(slot) = usize::try_from(at).ok().and_then(|at| per.get_mut(at)) {
                    *slot = (a, b);
                }
            }
        }
        Ok(per)
    }

    /// Per-unit counts of posts of `kind` held on the as-of day at active nodes of `level`
    /// under `node`: held at the node itself, or (`in_org`) in a party organisation covering it.
    async fn posts_per_unit(
        &self,
        node: &Node,
        level: i64,
        kind: &str,
        in_org: bool,
        period: &Period,
    ) -> StoreResult<Vec<Unit>> {
        let held = if in_org {
            "FROM posts p JOIN party_orgs o ON o.id = p.org_id WHERE o.territory_node_id = n.id"
        } else {
            "FROM posts p WHERE p.node_id = n.id"
        };
        let mut sql = Sql::new(&format!(
            "SELECT n.id, n.code, n.name, n.path, (SELECT COUNT(*) {held} AND p.kind = "
        ));
        sql.bind(kind).push(" AND ");
        push_held(&mut sql, "p", &period.as_of_text());
        sql.push(") FROM nodes n WHERE n.level = ").bind(level);
        sql.push(" AND n.status = 'active' AND ");
        scope::push_subtree(&mut sql, "n.path", &node.path);
        sql.push(" ORDER BY n.code");
        let rows: Vec<(i64, String, String, String, i64)> = sql.query_as().fetch_all(&self.pool).await?;
        Ok(rows
            .into_iter()
            .map(|(node_id, code, name, path, value)| Unit {
                path,
                ok: value > 0,
                row: Shortfall {
                    node_id,
                    code,
                    name,
                    value,
                },
            })
            .collect())
    }

    /// Computes an available metric into `out` (made by `MetricValue::new`) for `node`, and the
    /// same for each of `kids` (none when no breakdown is wanted).
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn compute(
        &self,
        actor: &Actor,
        def: &MetricDef,
        node: &Node,
        period: &Period,
        target: Option<f64>,
        out: MetricValue,
        kids: &[Node],
    ) -> StoreResult<(MetricValue, Vec<MetricValue>)> {
        let day = period.as_of_text();
        let mut each = blanks(def, kids, period);
        let posts = |kind: &'static str, select: &'static str, conds: Box<dyn Fn(&mut Sql) + Send + Sync>| Count {
            select,
            from: posts_from(kind),
            place: "t.path",
            conds,
            by_child: ByChild::Prefix,
        };
        const ONE: &str = "COUNT(*), CAST(0 AS BIGINT)";
        Ok(match def.id {
            "grid.count.l1" | "grid.count.l2" | "grid.count.l3" => {
                let level: i64 = match def.id {
                    "grid.count.l1" => 4,
                    "grid.count.l2" => 5,
                    _ => 6,
                };
                let q = Count {
                    select: "COUNT(*), CAST(0 AS BIGINT)",
                    from: "nodes n",
                    place: "n.path",
                    conds: Box::new(move |sql: &mut Sql| {
                        sql.push("n.level = ").bind(level).push(" AND n.status = 'active'");
                    }),
                    by_child: ByChild::Join,
                };
                self.counted(&q, node, kids, out, each, "节点下的在册网格数（含本级）")
                    .await?
            }
            "org.estate_branch.count" | "org.grid_branch.count" | "org.branch.count" | "org.committee.count" => {
                let cond = match def.id {
                    "org.estate_branch.count" => "o.kind = 'branch' AND o.category = 'estate'",
                    "org.grid_branch.count" => "o.kind = 'branch' AND o.category = 'grid'",
                    "org.branch.count" => "o.kind = 'branch'",
                    _ => "o.kind IN ('committee', 'working_committee')",
                };
                let q = Count {
                    select: "COUNT(*), CAST(0 AS BIGINT)",
                    from: "party_orgs o JOIN nodes t ON t.id = o.territory_node_id",
                    place: "t.path",
                    conds: Box::new(move |sql: &mut Sql| {
                        sql.push("o.status = 'active' AND ").push(cond);
                    }),
                    by_child: ByChild::Join,
                };
                self.counted(&q, node, kids, out, each, "所属区域在节点下的在册党组织数")
                    .await?
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
                let d = day.clone();
                let q = posts(
                    kind,
                    ONE,
                    Box::new(move |sql: &mut Sql| {
                        sql.push("p.kind = ").bind(kind).push(" AND ");
                        push_held(sql, "p", &d);
                    }),
                );
                self.counted(&q, node, kids, out, each, "期末在任人数").await?
            }
            "people.workers_professional" => {
                let d = day.clone();
                let q = posts(
                    "community_worker",
                    ONE,
                    Box::new(move |sql: &mut Sql| {
                        sql.push("p.kind = 'community_worker' AND p.grade IS NOT NULL AND ");
                        push_held(sql, "p", &d);
                    }),
                );
                self.counted(&q, node, kids, out, each, "期末在任、有职业等级的社区工作者")
                    .await?
            }
            "people.workers_recruited" => {
                let p = *period;
                let q = posts(
                    "community_worker",
                    "COUNT(DISTINCT p.person_id), CAST(0 AS BIGINT)",
                    Box::new(move |sql: &mut Sql| {
                        sql.push("p.kind = 'community_worker' AND ");
                        push_started_in(sql, "p", &p);
                    }),
                );
                self.counted(&q, node, kids, out, each, "期间内开始任职的社区工作者（人）")
                    .await?
            }
            "people.residents" => {
                scope::require(actor, Right::ReadPeople, &node.path)?;
                let note = "登记居民数；分子 / 分母为户籍在外地的居民 / 登记居民";
                let shaped = |v: MetricValue, (total, away): (i64, i64), at: Option<String>| {
                    let mut v = v.ratio(away, total, note);
                    v.value = Some(total as f64);
                    v.rolled_up_at = at;
                    v
                };
                let (total, away, at) = self.residents(node).await?;
                let exact = Count {
                    select: "COUNT(*), CAST(COALESCE(SUM(p.registered_elsewhere), 0) AS BIGINT)",
                    from: "persons p JOIN nodes h ON h.id = p.home_node_id",
                    place: "h.path",
                    conds: Box::new(|sql: &mut Sql| {
                        sql.push("p.status = 'active'");
                    }),
                    by_child: ByChild::Join,
                };
                let mut per = Vec::new();
                match &at {
                    // Counted exactly: so is every child, in one statement.
                    None => {
                        let counts = self.per_child(&exact, node, kids).await?;
                        per.extend(each.into_iter().zip(counts).map(|(v, n)| shaped(v, n, None)));
                    }
                    // From the roll-up: so are the children, which then add up to the node.
                    Some(time) => {
                        let rolled = Count {
                            select: "CAST(COALESCE(SUM(r.residents), 0) AS BIGINT), CAST(COALESCE(SUM(r.elsewhere), 0) AS BIGINT)",
                            from: "resident_rollup r JOIN nodes h ON h.id = r.node_id",
                            place: "h.path",
                            conds: Box::new(|sql: &mut Sql| {
                                sql.push("1 = 1");
                            }),
                            by_child: ByChild::Join,
                        };
                        let counts = self.per_child(&rolled, node, kids).await?;
                        per.extend(
                            each.into_iter()
                                .zip(counts)
                                .map(|(v, n)| shaped(v, n, Some(time.clone()))),
                        );
                    }
                }
                (shaped(out, (total, away), at), per)
            }
            "org.street.instructors_min" | "org.community.reserve_cadres" => {
                let (level, kind) = if def.id == "org.street.instructors_min" {
                    (3, "instructor")
                } else {
                    (4, "reserve_cadre")
                };
                let target = target.unwrap_or(1.0);
                let note = format!("期末最少值；低于 {target} 的节点列在 below 中");
                let units = self.posts_per_unit(node, level, kind, false, period).await?;
                self.reduce(&units, out, &mut each, kids, UnitKind::Minimum, target, &note)
            }
            "org.street.posts_filled" => {
                let mut units = self.posts_per_unit(node, 3, "secretary", true, period).await?;
                let orgs = self.posts_per_unit(node, 3, "organising_member", true, period).await?;
                for u in &mut units {
                    u.ok = u.row.value > 0 && orgs.iter().any(|o| o.row.node_id == u.row.node_id && o.row.value > 0);
                }
                let note = "期末书记和组织委员都在任的镇街 / 镇街";
                self.reduce(&units, out, &mut each, kids, UnitKind::Share, 1.0, note)
            }
            "org.community.one_shoulder" => {
                let mut sql = Sql::new(
                    "SELECT c.id, c.code, c.name, c.path, CASE WHEN EXISTS (SELECT 1 FROM posts d JOIN posts s ON s.person_id = d.person_id \
                     JOIN party_orgs o ON o.id = s.org_id WHERE d.node_id = c.id AND d.kind = 'rc_director' \
                     AND s.kind = 'secretary' AND o.territory_node_id = c.id AND ",
                );
                push_held(&mut sql, "d", &day);
                sql.push(" AND ");
                push_held(&mut sql, "s", &day);
                sql.push(") THEN 1 ELSE 0 END FROM nodes c WHERE c.level = 4 AND c.status = 'active' AND ");
                scope::push_subtree(&mut sql, "c.path", &node.path);
                sql.push(" ORDER BY c.code");
                let rows: Vec<(i64, String, String, String, i64)> = sql.query_as().fetch_all(&self.pool).await?;
                let units: Vec<Unit> = rows
                    .into_iter()
                    .map(|(node_id, code, name, path, both)| Unit {
                        path,
                        ok: both == 1,
                        row: Shortfall {
                            node_id,
                            code,
                            name,
                            value: both,
                        },
                    })
                    .collect();
                let note = "期末书记同时担任居委会主任的社区 / 社区";
                self.reduce(&units, out, &mut each, kids, UnitKind::Share, 1.0, note)
            }
            "org.community.cross_appointment" => {
                // Members of a community's two committees; cross-appointed when in both.
                let mut party = Sql::new(
                    "SELECT p.person_id, t.id, t.path FROM posts p JOIN party_orgs o ON o.id = p.org_id JOIN nodes t ON t.id = o.territory_node_id \
                     WHERE t.level = 4 AND p.kind IN ('secretary', 'deputy_secretary', 'organising_member', 'committee_member') AND ",
                );
                push_held(&mut party, "p", &day);
                party.push(" AND ");
                scope::push_subtree(&mut party, "t.path", &node.path);
                let mut rc = Sql::new(
                    "SELECT p.person_id, n.id, n.path FROM posts p JOIN nodes n ON n.id = p.node_id \
                     WHERE n.level = 4 AND p.kind IN ('rc_director', 'rc_member') AND ",
                );
                push_held(&mut rc, "p", &day);
                rc.push(" AND ");
                scope::push_subtree(&mut rc, "n.path", &node.path);
                let party: Vec<(i64, i64, String)> = party.query_as().fetch_all(&self.pool).await?;
                let rc: Vec<(i64, i64, String)> = rc.query_as().fetch_all(&self.pool).await?;
                let note = "期末同时在社区党组织委员会和居委会任职的班子成员 / 班子成员";
                let share = |v: MetricValue, prefix: &str| {
                    let within = |rows: &[(i64, i64, String)]| -> HashSet<(i64, i64)> {
                        rows.iter()
                            .filter(|r| r.2.starts_with(prefix))
                            .map(|r| (r.0, r.1))
                            .collect()
                    };
                    let (party, rc) = (within(&party), within(&rc));
                    let all = party.union(&rc).count() as i64;
                    let both = party.intersection(&rc).count() as i64;
                    v.ratio(both, all, note)
                };
                let whole = share(out, &node.path);
                let per = each.into_iter().zip(kids).map(|(v, k)| share(v, &k.path)).collect();
                (whole, per)
            }
            id if super::registration::IDS.contains(&id) => {
                scope::require(actor, Right::ReadPeople, &node.path)?;
                match super::registration::count(id, period) {
                    Some((q, note)) => self.counted(&q, node, kids, out, each, note).await?,
                    None => (out, each),
                }
            }
            id if super::volunteers::IDS.contains(&id) => {
                self.volunteer_metric(id, period, node, kids, out, each).await?
            }
            _ => {
                let mut out = out;
                out.available = false;
                out.basis = None;
                out.note = "该能力尚未上线，暂无记录可统计".into();
                (out, each)
            }
        })
    }

    /// A count for the node and for each child.
    async fn counted(
        &self,
        q: &Count<'_>,
        node: &Node,
        kids: &[Node],
        out: MetricValue,
        each: Vec<MetricValue>,
        note: &str,
    ) -> StoreResult<(MetricValue, Vec<MetricValue>)> {
        let (total, per) = self.counts(q, node, kids).await?;
        let each = each
            .into_iter()
            .zip(&per)
            .map(|(v, (n, _))| v.count(*n, note))
            .collect();
        Ok((out.count(total.0, note), each))
    }

    /// Per-unit figures for the node and for each child, by path prefix.
    #[allow(clippy::too_many_arguments)]
    fn reduce(
        &self,
        units: &[Unit],
        out: MetricValue,
        each: &mut Vec<MetricValue>,
        kids: &[Node],
        kind: UnitKind,
        target: f64,
        note: &str,
    ) -> (MetricValue, Vec<MetricValue>) {
        let all: Vec<&Unit> = units.iter().collect();
        let whole = reduce_units(out, &all, kind, target, note);
        let per = std::mem::take(each)
            .into_iter()
            .zip(kids)
            .map(|(v, k)| {
                let mine: Vec<&Unit> = units.iter().filter(|u| u.path.starts_with(&k.path)).collect();
                reduce_units(v, &mine, kind, target, note)
            })
            .collect();
        (whole, per)
    }
}
