//! Structural changes of the governance tree: create, edit, move (区划调整), archive and
//! restore. Each refuses bad input per field without writing, and writes its history rows in
//! the same transaction as the change.

use gongjian_domain::Validation;
use gongjian_domain::access::{Actor, Right};
use gongjian_domain::tree::{GridKind, Level, Name, NodeCode, check_parent, parse_count};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{NODE_COLUMNS, Node, NodeRow, STATUS_ACTIVE, STATUS_ARCHIVED, map_unique, push_code_prefix};
use crate::db::{Store, Tx};
use crate::error::{StoreError, StoreResult};
use crate::scope;
use crate::sql::Sql;

/// Input to create a node, as typed into a form or sent as JSON. Converted once by
/// [`NodeDraft::try_from`].
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
pub struct NodeInput {
    /// Parent node id; absent for a city.
    #[serde(default)]
    pub parent_id: Option<i64>,
    /// Optional level key (`city`, `district`, `street`, `community`, `grid_l2`, `grid_l3`);
    /// when given it must fit the parent.
    #[serde(default)]
    pub level: Option<String>,
    /// Division code for administrative levels (required); for grids optional, derived when blank.
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub name: String,
    /// Grid kind key, for grids.
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub households: Option<String>,
    #[serde(default)]
    pub population: Option<String>,
}

/// Editable attributes of a node.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
pub struct NodeEdit {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub households: Option<String>,
    #[serde(default)]
    pub population: Option<String>,
}

/// A move of a node with its subtree to a new parent (区划调整).
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
pub struct MoveInput {
    pub new_parent_id: Option<i64>,
    /// The node's new code: required for administrative levels; for grids derived when blank.
    #[serde(default)]
    pub new_code: Option<String>,
    #[serde(default)]
    pub note: Option<String>,
}

/// The parent-independent part of a node input, parsed.
struct Attributes {
    name: Name,
    kind: Option<GridKind>,
    households: Option<i64>,
    population: Option<i64>,
}

fn parse_attributes(
    v: &mut Validation,
    name: &str,
    kind: Option<&str>,
    households: Option<&str>,
    population: Option<&str>,
) -> Option<Attributes> {
    let name = v.check("name", Name::parse(name));
    let kind = match kind.map(str::trim).filter(|s| !s.is_empty()) {
        None => Some(None),
        Some(k) => match GridKind::from_key(k) {
            Some(g) => Some(Some(g)),
            None => {
                v.push("kind", format!("未知的网格类型“{k}”"));
                None
            }
        },
    };
    let households = v.check("households", parse_count(households.unwrap_or("")));
    let population = v.check("population", parse_count(population.unwrap_or("")));
    Some(Attributes {
        name: name?,
        kind: kind?,
        households: households?,
        population: population?,
    })
}

fn check_kind(v: &mut Validation, level: Level, kind: Option<GridKind>) {
    match kind {
        Some(k) if k.level() != level => {
            v.push("kind", format!("{}不能用于{}", k.label_zh(), level.label_zh()));
        }
        None if level.is_grid() => v.push("kind", "请选择网格类型"),
        _ => {}
    }
}

async fn fetch_node(tx: &mut Tx, id: i64) -> StoreResult<Option<Node>> {
    let row: Option<NodeRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {NODE_COLUMNS} FROM nodes n WHERE n.id = $1"
    )))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.map(Node::from))
}

async fn code_taken(tx: &mut Tx, code: &str) -> StoreResult<bool> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM nodes WHERE code = $1")
        .bind(code)
        .fetch_one(&mut **tx)
        .await?;
    Ok(n > 0)
}

/// The next free grid sequence under `parent`.
async fn next_grid_code(tx: &mut Tx, parent: &Node) -> StoreResult<NodeCode> {
    let codes: Vec<String> = sqlx::query_scalar("SELECT code FROM nodes WHERE parent_id = $1")
        .bind(parent.id)
        .fetch_all(&mut **tx)
        .await?;
    let max = codes
        .iter()
        .filter_map(|c| NodeCode::from_stored(c.clone()).grid_seq())
        .max()
        .unwrap_or(0);
    NodeCode::grid(&parent.code(), max + 1)
        .ok_or_else(|| StoreError::field("code", format!("{}下的网格编号已用完（最多 999 个）", parent.name)))
}

#[allow(clippy::too_many_arguments)]
async fn record(
    tx: &mut Tx,
    at: &str,
    node_id: i64,
    action: &str,
    actor: &Actor,
    old_code: Option<&str>,
    new_code: Option<&str>,
    old_name: Option<&str>,
    new_name: Option<&str>,
    old_parent: Option<i64>,
    new_parent: Option<i64>,
    note: Option<&str>,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO node_history (node_id, at, action, actor_id, old_code, new_code, old_name, new_name, \
         old_parent_id, new_parent_id, note) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(node_id)
    .bind(at)
    .bind(action)
    .bind(actor.user_id)
    .bind(old_code.map(str::to_string))
    .bind(new_code.map(str::to_string))
    .bind(old_name.map(str::to_string))
    .bind(new_name.map(str::to_string))
    .bind(old_parent)
    .bind(new_parent)
    .bind(note.map(str::to_string))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub(crate) fn clean_note(note: Option<&str>) -> StoreResult<Option<String>> {
    let n = note.map(str::trim).filter(|s| !s.is_empty());
    match n {
        Some(s) if s.chars().count() > 500 => Err(StoreError::field("note", "说明最多 500 个字符")),
        Some(s) if s.contains('\0') => Err(StoreError::field("note", "说明不能包含空字符")),
        other => Ok(other.map(str::to_string)),
    }
}

impl Store {
    /// Creates a node under `input.parent_id` (or a city at the top). Every problem is
    /// reported per field and nothing is written.
    pub async fn create_node(&self, actor: &Actor, input: &NodeInput) -> StoreResult<Node> {
        let mut v = Validation::new();
        let attrs = parse_attributes(
            &mut v,
            &input.name,
            input.kind.as_deref(),
            input.households.as_deref(),
            input.population.as_deref(),
        );
        let asked_level = match input.level.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => None,
            Some(k) => match Level::from_key(k) {
                Some(l) => Some(l),
                None => {
                    v.push("level", format!("未知的层级“{k}”"));
                    None
                }
            },
        };
        let mut tx = self.begin_write().await?;
        let parent = match input.parent_id {
            None => None,
            Some(pid) => {
                let p = fetch_node(&mut tx, pid)
                    .await?
                    .filter(|p| actor.scope(Right::ReadTree).contains_path(&p.path));
                match p {
                    None => {
                        v.push("parent_id", "上级节点不存在");
                        None
                    }
                    Some(p) if !p.is_active() => {
                        v.push("parent_id", format!("上级“{}”已撤销，不能在其下新建", p.name));
                        None
                    }
                    Some(p) => Some(p),
                }
            }
        };
        if input.parent_id.is_some() && parent.is_none() {
            return Err(v.into());
        }
        match &parent {
            Some(p) => scope::require(actor, Right::ManageTree, &p.path)?,
            None => {
                if actor.scope(Right::ManageTree) != gongjian_domain::access::Scope::Everything {
                    return Err(StoreError::Forbidden);
                }
            }
        }
        let level = match (&parent, asked_level) {
            (Some(p), None) => match p.level.child_level() {
                Some(l) => l,
                None => return Err(StoreError::field("parent_id", "三级网格下不能再建下级")),
            },
            (_, Some(l)) => l,
            (None, None) => Level::City,
        };
        if let Err(msg) = check_parent(level, parent.as_ref().map(|p| p.level)) {
            v.push(if parent.is_some() { "parent_id" } else { "level" }, msg);
            return Err(v.into());
        }
        if let Some(a) = &attrs {
            check_kind(&mut v, level, a.kind);
        }
        let raw_code = input.code.as_deref().map(str::trim).filter(|s| !s.is_empty());
        let parent_code = parent.as_ref().map(|p| p.code());
        let code = match (raw_code, level.is_grid(), &parent) {
            (None, true, Some(p)) => Some(next_grid_code(&mut tx, p).await?),
            (None, false, _) => {
                v.push(
                    "code",
                    format!("请填写{}的 {} 位统计用区划代码", level.label_zh(), level.code_len()),
                );
                None
            }
            (Some(raw), _, _) => v.check("code", NodeCode::parse(raw, level, parent_code.as_ref())),
            (None, true, None) => None,
        };
        if let Some(c) = &code
            && code_taken(&mut tx, c.as_str()).await?
        {
            v.push("code", format!("代码 {c} 已被使用"));
        }
        v.clone().into_result()?;
        let (Some(attrs), Some(code)) = (attrs, code) else {
            return Err(v.into());
        };
        let now = self.now_text();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO nodes (parent_id, level, code, name, kind, path, households, population, status, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, '', $6, $7, $8, $9, $9) RETURNING id",
        )
        .bind(parent.as_ref().map(|p| p.id))
        .bind(level.as_i64())
        .bind(code.as_str().to_string())
        .bind(attrs.name.as_str().to_string())
        .bind(attrs.kind.map(|k| k.key().to_string()))
        .bind(attrs.households)
        .bind(attrs.population)
        .bind(STATUS_ACTIVE)
        .bind(&now)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| map_unique(e.into(), "code", &format!("代码 {code} 已被使用")))?;
        let path = format!("{}{id}/", parent.as_ref().map(|p| p.path.as_str()).unwrap_or("/"));
        sqlx::query("UPDATE nodes SET path = $1 WHERE id = $2")
            .bind(&path)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        record(
            &mut tx,
            &self.now_text(),
            id,
            "created",
            actor,
            None,
            Some(code.as_str()),
            None,
            Some(attrs.name.as_str()),
            None,
            parent.as_ref().map(|p| p.id),
            None,
        )
        .await?;
        let node = fetch_node(&mut tx, id).await?.ok_or(StoreError::NotFound)?;
        tx.commit().await?;
        Ok(node)
    }

    /// Changes a node's name, grid kind, households and population.
    pub async fn edit_node(&self, actor: &Actor, id: i64, input: &NodeEdit) -> StoreResult<Node> {
        let mut v = Validation::new();
        let attrs = parse_attributes(
            &mut v,
            &input.name,
            input.kind.as_deref(),
            input.households.as_deref(),
            input.population.as_deref(),
        );
        let mut tx = self.begin_write().await?;
        let node = fetch_node(&mut tx, id).await?.ok_or(StoreError::NotFound)?;
        scope::require(actor, Right::ManageTree, &node.path)?;
        if !node.is_active() {
            return Err(StoreError::field("name", "已撤销的节点不能修改，请先恢复"));
        }
        if let Some(a) = &attrs {
            check_kind(&mut v, node.level, a.kind);
        }
        v.clone().into_result()?;
        let Some(attrs) = attrs else {
            return Err(v.into());
        };
        sqlx::query(
            "UPDATE nodes SET name = $1, kind = $2, households = $3, population = $4, updated_at = $5 WHERE id = $6",
        )
        .bind(attrs.name.as_str().to_string())
        .bind(attrs.kind.map(|k| k.key().to_string()))
        .bind(attrs.households)
        .bind(attrs.population)
        .bind(self.now_text())
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let renamed = attrs.name.as_str() != node.name;
        record(
            &mut tx,
            &self.now_text(),
            id,
            if renamed { "renamed" } else { "edited" },
            actor,
            None,
            None,
            Some(&node.name),
            Some(attrs.name.as_str()),
            None,
            None,
            None,
        )
        .await?;
        let node = fetch_node(&mut tx, id).await?.ok_or(StoreError::NotFound)?;
        tx.commit().await?;
        Ok(node)
    }

    /// Moves a node and its whole subtree under a new parent (区划调整). The node takes the new
    /// code given (or, for a grid, the next free grid code), every descendant's code is
    /// re-derived from it, every changed code is kept in the history, and the paths of the
    /// subtree are rewritten — all in one transaction.
    pub async fn move_node(&self, actor: &Actor, id: i64, input: &MoveInput) -> StoreResult<Node> {
        let note = clean_note(input.note.as_deref())?;
        let mut tx = self.begin_write().await?;
        let node = fetch_node(&mut tx, id).await?.ok_or(StoreError::NotFound)?;
        scope::require(actor, Right::ManageTree, &node.path)?;
        if !node.is_active() {
            return Err(StoreError::field("new_parent_id", "已撤销的节点不能迁移，请先恢复"));
        }
        let Some(new_parent_id) = input.new_parent_id else {
            return Err(StoreError::field("new_parent_id", "请选择新的上级"));
        };
        let parent = fetch_node(&mut tx, new_parent_id)
            .await?
            .filter(|p| actor.scope(Right::ReadTree).contains_path(&p.path))
            .ok_or_else(|| StoreError::field("new_parent_id", "新的上级不存在"))?;
        if let Err(StoreError::Forbidden | StoreError::NotFound) =
            scope::require(actor, Right::ManageTree, &parent.path)
        {
            return Err(StoreError::field("new_parent_id", "无权把节点迁移到该上级之下"));
        }
        if parent.path.starts_with(&node.path) {
            return Err(StoreError::field(
                "new_parent_id",
                "不能把节点迁移到它自身或它的下级之下",
            ));
        }
        if !parent.is_active() {
            return Err(StoreError::field(
                "new_parent_id",
                format!("上级“{}”已撤销", parent.name),
            ));
        }
        check_parent(node.level, Some(parent.level)).map_err(|m| StoreError::field("new_parent_id", m))?;
        let raw_code = input.new_code.as_deref().map(str::trim).filter(|s| !s.is_empty());
        let new_code = match raw_code {
            Some(raw) => NodeCode::parse(raw, node.level, Some(&parent.code()))
                .map_err(|e| StoreError::field("new_code", e.to_string()))?,
            None if node.level.is_grid() => next_grid_code(&mut tx, &parent).await?,
            None => {
                return Err(StoreError::field(
                    "new_code",
                    format!(
                        "请填写调整后的 {} 位区划代码（应以“{}”开头）",
                        node.level.code_len(),
                        &parent.code[..node.level.parent_level().map(|l| l.prefix_len()).unwrap_or(0)]
                    ),
                ));
            }
        };
        if Some(parent.id) == node.parent_id && new_code.as_str() == node.code {
            return Err(StoreError::field("new_parent_id", "节点已在该上级之下，代码也未变化"));
        }
        if new_code.as_str() != node.code && code_taken(&mut tx, new_code.as_str()).await? {
            return Err(StoreError::field("new_code", format!("代码 {new_code} 已被使用")));
        }
        let plen = node.level.prefix_len();
        let old_prefix = node.code[..plen.min(node.code.len())].to_string();
        let new_prefix = new_code.as_str()[..plen.min(new_code.as_str().len())].to_string();
        // A code range owned by the new prefix must be free outside the moved subtree.
        let mut clash = Sql::new("SELECT COUNT(*) FROM nodes WHERE ");
        push_code_prefix(&mut clash, "code", &new_prefix);
        clash.push(" AND NOT ");
        scope::push_subtree(&mut clash, "path", &node.path);
        let clashes: i64 = clash.query_as::<(i64,)>().fetch_one(&mut *tx).await?.0;
        if old_prefix != new_prefix && clashes > 0 {
            return Err(StoreError::field(
                "new_code",
                format!("已有 {clashes} 个节点的代码以“{new_prefix}”开头"),
            ));
        }
        let now = self.now_text();
        let new_path = format!("{}{}/", parent.path, node.id);
        // History first, while the old codes are still in place.
        let mut hist = Sql::new(
            "INSERT INTO node_history (node_id, at, action, actor_id, old_code, new_code, old_parent_id, \
             new_parent_id, note) SELECT id, ",
        );
        hist.bind(&now)
            .push(", 'recoded', ")
            .bind(actor.user_id)
            .push(", code, ")
            .bind(&new_prefix)
            .push(" || substr(code, CAST(")
            .bind(plen as i64 + 1)
            .push(" AS INTEGER)), parent_id, parent_id, ")
            .bind(note.clone())
            .push(" FROM nodes WHERE ");
        scope::push_subtree(&mut hist, "path", &node.path);
        hist.push(" AND id <> ").bind(node.id);
        if old_prefix != new_prefix {
            hist.query().execute(&mut *tx).await?;
        }
        record(
            &mut tx,
            &self.now_text(),
            node.id,
            "moved",
            actor,
            Some(&node.code),
            Some(new_code.as_str()),
            None,
            None,
            node.parent_id,
            Some(parent.id),
            note.as_deref(),
        )
        .await?;
        let mut upd = Sql::new("UPDATE nodes SET path = ");
        upd.bind(&new_path)
            .push(" || substr(path, CAST(")
            .bind(node.path.len() as i64 + 1)
            .push(" AS INTEGER)), code = ")
            .bind(&new_prefix)
            .push(" || substr(code, CAST(")
            .bind(plen as i64 + 1)
            .push(" AS INTEGER)), updated_at = ")
            .bind(&now)
            .push(" WHERE ");
        scope::push_subtree(&mut upd, "path", &node.path);
        upd.query()
            .execute(&mut *tx)
            .await
            .map_err(|e| map_unique(e.into(), "new_code", "调整后的代码与已有节点重复"))?;
        sqlx::query("UPDATE nodes SET parent_id = $1, code = $2 WHERE id = $3")
            .bind(parent.id)
            .bind(new_code.as_str().to_string())
            .bind(node.id)
            .execute(&mut *tx)
            .await
            .map_err(|e| map_unique(e.into(), "new_code", "调整后的代码与已有节点重复"))?;
        // Party organisations keep their territory (by id) and need no change; nothing else
        // stores paths of the governance tree.
        let moved = fetch_node(&mut tx, node.id).await?.ok_or(StoreError::NotFound)?;
        tx.commit().await?;
        Ok(moved)
    }

    /// Archives a node that has no active children and no active party organisation attached.
    pub async fn archive_node(&self, actor: &Actor, id: i64, note: Option<&str>) -> StoreResult<Node> {
        let note = clean_note(note)?;
        let mut tx = self.begin_write().await?;
        let node = fetch_node(&mut tx, id).await?.ok_or(StoreError::NotFound)?;
        scope::require(actor, Right::ManageTree, &node.path)?;
        if !node.is_active() {
            return Err(StoreError::field("status", "该节点已撤销"));
        }
        let children: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM nodes WHERE parent_id = $1 AND status = $2")
            .bind(id)
            .bind(STATUS_ACTIVE)
            .fetch_one(&mut *tx)
            .await?;
        if children > 0 {
            return Err(StoreError::field(
                "status",
                format!("还有 {children} 个下级未撤销，请先迁移或撤销下级"),
            ));
        }
        let orgs: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM party_orgs WHERE territory_node_id = $1 AND status = $2")
                .bind(id)
                .bind(STATUS_ACTIVE)
                .fetch_one(&mut *tx)
                .await?;
        if orgs > 0 {
            return Err(StoreError::field(
                "status",
                format!("还有 {orgs} 个党组织以此为所属区域，请先调整党组织"),
            ));
        }
        let now = self.now_text();
        sqlx::query("UPDATE nodes SET status = $1, archived_at = $2, updated_at = $2 WHERE id = $3")
            .bind(STATUS_ARCHIVED)
            .bind(&now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        record(
            &mut tx,
            &self.now_text(),
            id,
            "archived",
            actor,
            None,
            None,
            None,
            None,
            None,
            None,
            note.as_deref(),
        )
        .await?;
        let node = fetch_node(&mut tx, id).await?.ok_or(StoreError::NotFound)?;
        tx.commit().await?;
        Ok(node)
    }

    /// Restores an archived node whose parent is active.
    pub async fn restore_node(&self, actor: &Actor, id: i64) -> StoreResult<Node> {
        let mut tx = self.begin_write().await?;
        let node = fetch_node(&mut tx, id).await?.ok_or(StoreError::NotFound)?;
        scope::require(actor, Right::ManageTree, &node.path)?;
        if node.is_active() {
            return Err(StoreError::field("status", "该节点未撤销"));
        }
        if let Some(pid) = node.parent_id {
            let parent = fetch_node(&mut tx, pid).await?.ok_or(StoreError::NotFound)?;
            if !parent.is_active() {
                return Err(StoreError::field(
                    "status",
                    format!("上级“{}”已撤销，请先恢复上级", parent.name),
                ));
            }
        }
        sqlx::query("UPDATE nodes SET status = $1, archived_at = NULL, updated_at = $2 WHERE id = $3")
            .bind(STATUS_ACTIVE)
            .bind(self.now_text())
            .bind(id)
            .execute(&mut *tx)
            .await?;
        record(
            &mut tx,
            &self.now_text(),
            id,
            "restored",
            actor,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
        )
        .await?;
        let node = fetch_node(&mut tx, id).await?.ok_or(StoreError::NotFound)?;
        tx.commit().await?;
        Ok(node)
    }
}
