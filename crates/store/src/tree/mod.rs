//! The governance tree: reads and counts here; the structural changes (create, edit, move,
//! archive, restore), each with its history in the same transaction, in [`changes`].

mod changes;

pub(crate) use changes::clean_note;
pub use changes::{MoveInput, NodeEdit, NodeInput};

use gongjian_domain::access::{Actor, Right};
use gongjian_domain::tree::{GridKind, Level, NodeCode};
use serde::Serialize;
use utoipa::ToSchema;

use crate::Page;
use crate::db::Store;
use crate::error::{StoreError, StoreResult};
use crate::scope::{self, path_upper};
use crate::sql::Sql;

pub const STATUS_ACTIVE: &str = "active";
pub const STATUS_ARCHIVED: &str = "archived";

/// A node of the governance tree.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Node {
    pub id: i64,
    pub parent_id: Option<i64>,
    #[schema(value_type = String, example = "community")]
    pub level: Level,
    /// 12-digit division code, or a 15/18-digit grid code.
    pub code: String,
    pub name: String,
    /// Grid kind key for level-2 and level-3 grids.
    pub kind: Option<String>,
    /// Materialised id path, e.g. `/1/5/23/`.
    pub path: String,
    pub households: Option<i64>,
    pub population: Option<i64>,
    /// `active` or `archived`.
    pub status: String,
    pub created_at: String,
    pub updated_at: String,
    pub archived_at: Option<String>,
}

impl Node {
    pub fn is_active(&self) -> bool {
        self.status == STATUS_ACTIVE
    }

    pub fn code(&self) -> NodeCode {
        NodeCode::from_stored(self.code.clone())
    }

    pub fn kind_label(&self) -> Option<&'static str> {
        self.kind.as_deref().and_then(GridKind::from_key).map(|k| k.label_zh())
    }

    /// Division kind (街道/镇/乡, 居委会/村委会) or grid kind, for display.
    pub fn type_label(&self) -> &'static str {
        self.kind_label()
            .or_else(|| self.code().division_kind_zh(self.level))
            .unwrap_or(self.level.label_zh())
    }

    /// Ids of the ancestors, root first, without the node itself.
    pub fn ancestor_ids(&self) -> Vec<i64> {
        let mut ids: Vec<i64> = self.path.split('/').filter_map(|s| s.parse().ok()).collect();
        ids.pop();
        ids
    }
}

#[derive(sqlx::FromRow)]
struct NodeRow {
    id: i64,
    parent_id: Option<i64>,
    level: i64,
    code: String,
    name: String,
    kind: Option<String>,
    path: String,
    households: Option<i64>,
    population: Option<i64>,
    status: String,
    created_at: String,
    updated_at: String,
    archived_at: Option<String>,
}

impl From<NodeRow> for Node {
    fn from(r: NodeRow) -> Node {
        Node {
            id: r.id,
            parent_id: r.parent_id,
            level: Level::from_i64(r.level).unwrap_or(Level::GridL3),
            code: r.code,
            name: r.name,
            kind: r.kind,
            path: r.path,
            households: r.households,
            population: r.population,
            status: r.status,
            created_at: r.created_at,
            updated_at: r.updated_at,
            archived_at: r.archived_at,
        }
    }
}

const NODE_COLUMNS: &str = "n.id, n.parent_id, n.level, n.code, n.name, n.kind, n.path, n.households, \
     n.population, n.status, n.created_at, n.updated_at, n.archived_at";

/// Active nodes per level in a subtree, the subtree's root included.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct LevelCounts {
    pub districts: i64,
    pub streets: i64,
    /// Communities, which are the level-1 grids.
    pub communities: i64,
    pub grids_l2: i64,
    pub grids_l3: i64,
}

impl LevelCounts {
    fn add(&mut self, level: Level, n: i64) {
        match level {
            Level::City => {}
            Level::District => self.districts += n,
            Level::Street => self.streets += n,
            Level::Community => self.communities += n,
            Level::GridL2 => self.grids_l2 += n,
            Level::GridL3 => self.grids_l3 += n,
        }
    }

    pub fn get(&self, level: Level) -> i64 {
        match level {
            Level::City => 0,
            Level::District => self.districts,
            Level::Street => self.streets,
            Level::Community => self.communities,
            Level::GridL2 => self.grids_l2,
            Level::GridL3 => self.grids_l3,
        }
    }
}

/// A child in a listing, with the counts of its own subtree.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NodeWithCounts {
    #[serde(flatten)]
    pub node: Node,
    pub counts: LevelCounts,
}

/// One change in a node's history.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct HistoryEntry {
    pub id: i64,
    pub at: String,
    /// `created`, `renamed`, `edited`, `moved`, `recoded`, `archived` or `restored`.
    pub action: String,
    pub actor_id: Option<i64>,
    pub old_code: Option<String>,
    pub new_code: Option<String>,
    pub old_name: Option<String>,
    pub new_name: Option<String>,
    pub old_parent_id: Option<i64>,
    pub new_parent_id: Option<i64>,
    pub note: Option<String>,
}

impl Store {
    /// One node, if the actor may read it.
    pub async fn node(&self, actor: &Actor, id: i64) -> StoreResult<Node> {
        let row: Option<NodeRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {NODE_COLUMNS} FROM nodes n WHERE n.id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        let node = Node::from(row.ok_or(StoreError::NotFound)?);
        scope::require(actor, Right::ReadTree, &node.path)?;
        Ok(node)
    }

    /// A node by its current code, or by a former code kept in its history.
    pub async fn node_by_code(&self, actor: &Actor, code: &str) -> StoreResult<Node> {
        let code = code.trim();
        if code.contains('\0') {
            return Err(StoreError::NotFound);
        }
        let id: Option<i64> = sqlx::query_scalar("SELECT id FROM nodes WHERE code = $1")
            .bind(code)
            .fetch_optional(&self.pool)
            .await?;
        let id = match id {
            Some(id) => id,
            None => sqlx::query_scalar("SELECT node_id FROM node_history WHERE old_code = $1 ORDER BY id DESC LIMIT 1")
                .bind(code)
                .fetch_optional(&self.pool)
                .await?
                .ok_or(StoreError::NotFound)?,
        };
        self.node(actor, id).await
    }

    /// The top nodes the actor sees: the cities for a city-wide actor, otherwise the roots of
    /// the actor's granted subtrees.
    pub async fn roots(&self, actor: &Actor) -> StoreResult<Vec<Node>> {
        let mut sql = Sql::new(&format!("SELECT {NODE_COLUMNS} FROM nodes n WHERE "));
        match actor.scope(Right::ReadTree) {
            gongjian_domain::access::Scope::Everything => {
                sql.push("n.parent_id IS NULL");
            }
            gongjian_domain::access::Scope::Paths(paths) => {
                sql.push("n.path IN ").bind_list(&paths);
            }
        }
        sql.push(" ORDER BY n.status, n.code");
        let rows: Vec<NodeRow> = sql.query_as().fetch_all(&self.pool).await?;
        Ok(rows.into_iter().map(Node::from).collect())
    }

    /// The ancestors of a node, root first, for breadcrumbs. Ancestors above the actor's scope
    /// are included: their names are the way down to what the actor may see.
    pub async fn ancestors(&self, actor: &Actor, node: &Node) -> StoreResult<Vec<Node>> {
        scope::require(actor, Right::ReadTree, &node.path)?;
        let ids = node.ancestor_ids();
        let mut sql = Sql::new(&format!("SELECT {NODE_COLUMNS} FROM nodes n WHERE n.id IN "));
        sql.bind_list(&ids).push(" ORDER BY n.level");
        let rows: Vec<NodeRow> = sql.query_as().fetch_all(&self.pool).await?;
        Ok(rows.into_iter().map(Node::from).collect())
    }

    /// Active nodes per level in the subtree of `id` (one indexed range scan).
    pub async fn subtree_counts(&self, actor: &Actor, id: i64) -> StoreResult<LevelCounts> {
        let node = self.node(actor, id).await?;
        let mut sql = Sql::new("SELECT level, COUNT(*) FROM nodes WHERE ");
        scope::push_subtree(&mut sql, "path", &node.path);
        sql.push(" AND status = ").bind(STATUS_ACTIVE).push(" GROUP BY level");
        let rows: Vec<(i64, i64)> = sql.query_as().fetch_all(&self.pool).await?;
        let mut counts = LevelCounts::default();
        for (level, n) in rows {
            if let Some(l) = Level::from_i64(level) {
                counts.add(l, n);
            }
        }
        Ok(counts)
    }

    /// A page of a node's children in code order, each with its subtree counts. `cursor` is
    /// the last code of the previous page.
    pub async fn children(
        &self,
        actor: &Actor,
        id: i64,
        include_archived: bool,
        cursor: Option<&str>,
        limit: i64,
    ) -> StoreResult<Page<NodeWithCounts>> {
        let parent = self.node(actor, id).await?;
        let limit = limit.clamp(1, 500);
        let mut sql = Sql::new(&format!("SELECT {NODE_COLUMNS} FROM nodes n WHERE n.parent_id = "));
        sql.bind(parent.id);
        if !include_archived {
            sql.push(" AND n.status = ").bind(STATUS_ACTIVE);
        }
        if let Some(c) = cursor {
            sql.push(" AND n.code > ").bind(c.replace('\0', "\u{FFFD}"));
        }
        sql.push(" ORDER BY n.code LIMIT ").bind(limit + 1);
        let rows: Vec<NodeRow> = sql.query_as().fetch_all(&self.pool).await?;
        let mut nodes: Vec<Node> = rows.into_iter().map(Node::from).collect();
        let next_cursor = if nodes.len() as i64 > limit {
            nodes.truncate(limit as usize);
            nodes.last().map(|n| n.code.clone())
        } else {
            None
        };
        let counts = self.counts_for(&nodes).await?;
        let items = nodes
            .into_iter()
            .map(|node| {
                let counts = counts
                    .iter()
                    .find(|(id, _)| *id == node.id)
                    .map(|(_, c)| *c)
                    .unwrap_or_default();
                NodeWithCounts { node, counts }
            })
            .collect();
        Ok(Page { items, next_cursor })
    }

    /// The active children of a node in code order, without counts (the caller has read the
    /// parent, so the children lie in its scope).
    pub(crate) async fn active_children(&self, parent: &Node) -> StoreResult<Vec<Node>> {
        let rows: Vec<NodeRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {NODE_COLUMNS} FROM nodes n WHERE n.parent_id = $1 AND n.status = $2 ORDER BY n.code"
        )))
        .bind(parent.id)
        .bind(STATUS_ACTIVE)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(Node::from).collect())
    }

    /// Subtree counts for several nodes in one statement: a join of each node with the index
    /// range of its own subtree.
    async fn counts_for(&self, nodes: &[Node]) -> StoreResult<Vec<(i64, LevelCounts)>> {
        let ids: Vec<i64> = nodes.iter().map(|n| n.id).collect();
        let mut sql = Sql::new(
            "SELECT c.id, d.level, COUNT(*) FROM nodes c JOIN nodes d \
             ON d.path >= c.path AND d.path < substr(c.path, 1, length(c.path) - 1) || '0' \
             AND d.status = ",
        );
        sql.bind(STATUS_ACTIVE)
            .push(" WHERE c.id IN ")
            .bind_list(&ids)
            .push(" GROUP BY c.id, d.level");
        let rows: Vec<(i64, i64, i64)> = sql.query_as().fetch_all(&self.pool).await?;
        let mut out: Vec<(i64, LevelCounts)> = ids.iter().map(|id| (*id, LevelCounts::default())).collect();
        for (id, level, n) in rows {
            if let (Some(slot), Some(l)) = (out.iter_mut().find(|(i, _)| *i == id), Level::from_i64(level)) {
                slot.1.add(l, n);
            }
        }
        Ok(out)
    }

    /// Nodes whose name contains `q` or whose code starts with it, inside the actor's scope.
    pub async fn search_nodes(
        &self,
        actor: &Actor,
        q: &str,
        level: Option<Level>,
        cursor: Option<&str>,
        limit: i64,
    ) -> StoreResult<Page<Node>> {
        // A NUL matches nothing (and PostgreSQL text cannot hold it).
        let q = q.trim().replace('\0', "\u{FFFD}");
        let q = q.as_str();
        let limit = limit.clamp(1, 200);
        let mut sql = Sql::new(&format!("SELECT {NODE_COLUMNS} FROM nodes n WHERE "));
        scope::push_filter(&mut sql, actor, Right::ReadTree, "n.path");
        if !q.is_empty() {
            let escaped = q.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
            sql.push(" AND (n.name LIKE ")
                .bind(format!("%{escaped}%"))
                .push(" ESCAPE '\\' OR ");
            push_code_prefix(&mut sql, "n.code", q);
            sql.push(")");
        }
        if let Some(l) = level {
            sql.push(" AND n.level = ").bind(l.as_i64());
        }
        if let Some(c) = cursor {
            sql.push(" AND n.code > ").bind(c.replace('\0', "\u{FFFD}"));
        }
        sql.push(" ORDER BY n.code LIMIT ").bind(limit + 1);
        let rows: Vec<NodeRow> = sql.query_as().fetch_all(&self.pool).await?;
        let mut items: Vec<Node> = rows.into_iter().map(Node::from).collect();
        let next_cursor = if items.len() as i64 > limit {
            items.truncate(limit as usize);
            items.last().map(|n| n.code.clone())
        } else {
            None
        };
        Ok(Page { items, next_cursor })
    }

    /// Where a node may be moved: active nodes of its parent's level in the surrounding part
    /// of the tree (the city for streets and communities, the district for level-2 grids, the
    /// street for level-3 grids) that the actor manages.
    pub async fn move_candidates(&self, actor: &Actor, node: &Node) -> StoreResult<Vec<Node>> {
        let Some(parent_level) = node.level.parent_level() else {
            return Ok(Vec::new());
        };
        let anchor_level = (parent_level.as_i64() - 2).max(1);
        let ids = node.ancestor_ids();
        let Some(anchor) = ids.get((anchor_level - 1) as usize) else {
            return Ok(Vec::new());
        };
        let anchor = self
            .node(actor, *anchor)
            .await
            .or_else(|_| Ok::<_, StoreError>(node.clone()))?;
        let mut sql = Sql::new(&format!("SELECT {NODE_COLUMNS} FROM nodes n WHERE n.level = "));
        sql.bind(parent_level.as_i64())
            .push(" AND n.status = ")
            .bind(STATUS_ACTIVE)
            .push(" AND ");
        scope::push_subtree(&mut sql, "n.path", &anchor.path);
        sql.push(" AND ");
        scope::push_filter(&mut sql, actor, Right::ManageTree, "n.path");
        sql.push(" ORDER BY n.code LIMIT 2000");
        let rows: Vec<NodeRow> = sql.query_as().fetch_all(&self.pool).await?;
        Ok(rows.into_iter().map(Node::from).collect())
    }

    /// Whether the actor may change the node (for showing or hiding actions).
    pub fn can_manage(&self, actor: &Actor, node: &Node) -> bool {
        actor.scope(Right::ManageTree).contains_path(&node.path)
    }

    pub async fn node_history(&self, actor: &Actor, id: i64) -> StoreResult<Vec<HistoryEntry>> {
        self.node(actor, id).await?;
        Ok(sqlx::query_as(
            "SELECT id, at, action, actor_id, old_code, new_code, old_name, new_name, old_parent_id, \
             new_parent_id, note FROM node_history WHERE node_id = $1 ORDER BY id DESC LIMIT 200",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?)
    }
}

/// Appends `(column starts with prefix)` as a range the code index answers. Codes are digit
/// strings, so the upper bound is one too (`4406` → `4407`, `44069` → `4407`): digit strings
/// sort alike under every collation, whereas a bound ending in U+007F is ignored by ICU and
/// glibc locales, so on a PostgreSQL database whose default collation is such a locale (the
/// `code` column has no `COLLATE "C"`) the range would match nothing.
fn push_code_prefix(sql: &mut Sql, column: &str, prefix: &str) {
    if !prefix.bytes().all(|b| b.is_ascii_digit()) {
        sql.push("(1 = 0)");
        return;
    }
    sql.push("(").push(column).push(" >= ").bind(prefix);
    let kept = prefix.trim_end_matches('9');
    if let Some(last) = kept.bytes().last() {
        let upper = format!("{}{}", &kept[..kept.len() - 1], char::from(last + 1));
        sql.push(" AND ").push(column).push(" < ").bind(upper);
    }
    sql.push(")");
}

/// Turns a unique-constraint violation (a race with another writer) into a field error.
pub(crate) fn map_unique(e: StoreError, field: &str, message: &str) -> StoreError {
    if e.is_unique_violation() {
        StoreError::field(field, message)
    } else {
        e
    }
}

/// The subtree range of a path, for other modules' queries.
pub fn subtree_bounds(path: &str) -> (String, String) {
    (path.to_string(), path_upper(path))
}
