//! The party-organisation tree. An organisation is visible to an actor when the territory it
//! covers lies inside the actor's scope; structure rules come from `gongjian_domain::party`.

use chrono::NaiveDate;
use gongjian_domain::Validation;
use gongjian_domain::access::{Actor, Right};
use gongjian_domain::party::{OrgCategory, OrgKind, check_parent, check_territory};
use gongjian_domain::tree::Name;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::Page;
use crate::db::{Store, Tx};
use crate::error::{StoreError, StoreResult};
use crate::scope;
use crate::sql::Sql;
use crate::tree::{STATUS_ACTIVE, STATUS_ARCHIVED};

/// A party organisation with the territory it covers.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct PartyOrg {
    pub id: i64,
    pub parent_id: Option<i64>,
    /// `working_committee`, `committee`, `general_branch`, `branch` or `group`.
    pub kind: String,
    /// The domain key, e.g. `community`, `estate`, `grid`, `private_enterprise`.
    pub category: String,
    pub name: String,
    pub territory_node_id: i64,
    pub territory_code: String,
    pub territory_name: String,
    /// Path of the territory node in the governance tree.
    pub territory_path: String,
    /// Materialised id path in the party tree.
    pub path: String,
    pub founded_on: Option<String>,
    pub status: String,
    pub created_at: String,
    pub updated_at: String,
}

impl PartyOrg {
    pub fn kind_label(&self) -> &'static str {
        OrgKind::from_key(&self.kind).map(|k| k.label_zh()).unwrap_or("")
    }

    pub fn category_label(&self) -> &'static str {
        OrgCategory::from_key(&self.category)
            .map(|k| k.label_zh())
            .unwrap_or("")
    }

    pub fn is_active(&self) -> bool {
        self.status == STATUS_ACTIVE
    }

    pub fn ancestor_ids(&self) -> Vec<i64> {
        let mut ids: Vec<i64> = self.path.split('/').filter_map(|s| s.parse().ok()).collect();
        ids.pop();
        ids
    }
}

const ORG_SELECT: &str = "SELECT o.id, o.parent_id, o.kind, o.category, o.name, o.territory_node_id, \
     t.code AS territory_code, t.name AS territory_name, t.path AS territory_path, o.path, o.founded_on, \
     o.status, o.created_at, o.updated_at FROM party_orgs o JOIN nodes t ON t.id = o.territory_node_id";

/// Active organisations per kind in an organisation's subtree, itself excluded.
#[derive(Debug, Clone, Copy, Default, Serialize, ToSchema)]
pub struct OrgCounts {
    pub committees: i64,
    pub general_branches: i64,
    pub branches: i64,
    pub groups: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PartyOrgWithCounts {
    #[serde(flatten)]
    pub org: PartyOrg,
    pub counts: OrgCounts,
}

/// Input to create or edit an organisation.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
pub struct PartyOrgInput {
    #[serde(default)]
    pub parent_id: Option<i64>,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub category: String,
    #[serde(default)]
    pub name: String,
    /// Id of the governance node the organisation covers.
    #[serde(default)]
    pub territory_node_id: Option<i64>,
    /// Alternatively the territory's code.
    #[serde(default)]
    pub territory_code: Option<String>,
    /// Founding date, `YYYY-MM-DD`.
    #[serde(default)]
    pub founded_on: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
pub struct PartyMoveInput {
    pub new_parent_id: Option<i64>,
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct PartyHistoryEntry {
    pub id: i64,
    pub at: String,
    pub action: String,
    pub actor_id: Option<i64>,
    pub old_name: Option<String>,
    pub new_name: Option<String>,
    pub old_parent_id: Option<i64>,
    pub new_parent_id: Option<i64>,
    pub note: Option<String>,
}

async fn fetch_org(tx: &mut Tx, id: i64) -> StoreResult<Option<PartyOrg>> {
    Ok(
        sqlx::query_as(sqlx::AssertSqlSafe(format!("{ORG_SELECT} WHERE o.id = $1")))
            .bind(id)
            .fetch_optional(&mut **tx)
            .await?,
    )
}

#[allow(clippy::too_many_arguments)]
async fn record(
    tx: &mut Tx,
    at: &str,
    org_id: i64,
    action: &str,
    actor: &Actor,
    old_name: Option<&str>,
    new_name: Option<&str>,
    old_parent: Option<i64>,
    new_parent: Option<i64>,
    note: Option<&str>,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO party_org_history (org_id, at, action, actor_id, old_name, new_name, old_parent_id, \
         new_parent_id, note) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(org_id)
    .bind(at)
    .bind(action)
    .bind(actor.user_id)
    .bind(old_name.map(str::to_string))
    .bind(new_name.map(str::to_string))
    .bind(old_parent)
    .bind(new_parent)
    .bind(note.map(str::to_string))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

struct ParsedOrg {
    kind: OrgKind,
    category: OrgCategory,
    name: Name,
    founded_on: Option<String>,
}

fn parse_org(v: &mut Validation, input: &PartyOrgInput, today: chrono::NaiveDate) -> Option<ParsedOrg> {
    let kind = OrgKind::from_key(input.kind.trim());
    if kind.is_none() {
        v.push("kind", "请选择组织类别（党工委、党委、党总支、党支部或党小组）");
    }
    let category = OrgCategory::from_key(input.category.trim());
    if category.is_none() {
        v.push("category", "请选择所属领域");
    }
    let name = v.check("name", Name::parse(&input.name));
    let founded_on = match input.founded_on.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => Some(None),
        Some(s) => match NaiveDate::parse_from_str(s, "%Y-%m-%d") {
            Ok(d) if d <= today => Some(Some(d.format("%Y-%m-%d").to_string())),
            Ok(_) => {
                v.push("founded_on", "成立日期不能晚于今天");
                None
            }
            Err(_) => {
                v.push("founded_on", format!("“{s}”不是有效日期，格式为 2024-07-01"));
                None
            }
        },
    };
    Some(ParsedOrg {
        kind: kind?,
        category: category?,
        name: name?,
        founded_on: founded_on?,
    })
}

impl Store {
    pub async fn party_org(&self, actor: &Actor, id: i64) -> StoreResult<PartyOrg> {
        let org: PartyOrg = sqlx::query_as(sqlx::AssertSqlSafe(format!("{ORG_SELECT} WHERE o.id = $1")))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        scope::require(actor, Right::ReadTree, &org.territory_path)?;
        Ok(org)
    }

    /// Organisations at the top of what the actor sees: those without a parent, or whose
    /// parent covers a territory outside the actor's scope.
    pub async fn party_roots(&self, actor: &Actor) -> StoreResult<Vec<PartyOrg>> {
        let mut sql = Sql::new(&format!(
            "{ORG_SELECT} LEFT JOIN party_orgs po ON po.id = o.parent_id LEFT JOIN nodes pt ON pt.id = po.territory_node_id WHERE "
        ));
        scope::push_filter(&mut sql, actor, Right::ReadTree, "t.path");
        sql.push(" AND (o.parent_id IS NULL OR NOT ");
        scope::push_filter(&mut sql, actor, Right::ReadTree, "pt.path");
        sql.push(") ORDER BY o.status, t.code, o.name LIMIT 500");
        Ok(sql.query_as().fetch_all(&self.pool).await?)
    }

    pub async fn party_ancestors(&self, actor: &Actor, org: &PartyOrg) -> StoreResult<Vec<PartyOrg>> {
        scope::require(actor, Right::ReadTree, &org.territory_path)?;
        let mut sql = Sql::new(&format!("{ORG_SELECT} WHERE o.id IN "));
        sql.bind_list(&org.ancestor_ids()).push(" ORDER BY length(o.path)");
        Ok(sql.query_as().fetch_all(&self.pool).await?)
    }

    /// A page of an organisation's children (by name), each with counts of its subtree.
    pub async fn party_children(
        &self,
        actor: &Actor,
        id: i64,
        include_archived: bool,
        cursor: Option<i64>,
        limit: i64,
    ) -> StoreResult<Page<PartyOrgWithCounts>> {
        let parent = self.party_org(actor, id).await?;
        let limit = limit.clamp(1, 500);
        let mut sql = Sql::new(&format!("{ORG_SELECT} WHERE o.parent_id = "));
        sql.bind(parent.id).push(" AND ");
        scope::push_filter(&mut sql, actor, Right::ReadTree, "t.path");
        if !include_archived {
            sql.push(" AND o.status = ").bind(STATUS_ACTIVE);
        }
        if let Some(c) = cursor {
            sql.push(" AND o.id > ").bind(c);
        }
        sql.push(" ORDER BY o.id LIMIT ").bind(limit + 1);
        let mut orgs: Vec<PartyOrg> = sql.query_as().fetch_all(&self.pool).await?;
        let next_cursor = if orgs.len() as i64 > limit {
            orgs.truncate(limit as usize);
            orgs.last().map(|o| o.id.to_string())
        } else {
            None
        };
        let ids: Vec<i64> = orgs.iter().map(|o| o.id).collect();
        let mut csql = Sql::new(
            "SELECT c.id, d.kind, COUNT(*) FROM party_orgs c JOIN party_orgs d \
             ON d.path > c.path AND d.path < substr(c.path, 1, length(c.path) - 1) || '0' AND d.status = ",
        );
        csql.bind(STATUS_ACTIVE)
            .push(" WHERE c.id IN ")
            .bind_list(&ids)
            .push(" GROUP BY c.id, d.kind");
        let rows: Vec<(i64, String, i64)> = csql.query_as().fetch_all(&self.pool).await?;
        let items = orgs
            .into_iter()
            .map(|org| {
                let mut counts = OrgCounts::default();
                for (_, kind, n) in rows.iter().filter(|(i, _, _)| *i == org.id) {
                    match OrgKind::from_key(kind) {
                        Some(OrgKind::Committee | OrgKind::WorkingCommittee) => counts.committees += n,
                        Some(OrgKind::GeneralBranch) => counts.general_branches += n,
                        Some(OrgKind::Branch) => counts.branches += n,
                        Some(OrgKind::Group) => counts.groups += n,
                        None => {}
                    }
                }
                PartyOrgWithCounts { org, counts }
            })
            .collect();
        Ok(Page { items, next_cursor })
    }

    /// Active organisations covering a governance node.
    pub async fn party_orgs_at(&self, actor: &Actor, node_id: i64) -> StoreResult<Vec<PartyOrg>> {
        self.node(actor, node_id).await?;
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "{ORG_SELECT} WHERE o.territory_node_id = $1 AND o.status = $2 ORDER BY length(o.path), o.name"
        )))
        .bind(node_id)
        .bind(STATUS_ACTIVE)
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn party_history(&self, actor: &Actor, id: i64) -> StoreResult<Vec<PartyHistoryEntry>> {
        self.party_org(actor, id).await?;
        Ok(sqlx::query_as(
            "SELECT id, at, action, actor_id, old_name, new_name, old_parent_id, new_parent_id, note \
             FROM party_org_history WHERE org_id = $1 ORDER BY id DESC LIMIT 200",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn resolve_territory(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        v: &mut Validation,
        input: &PartyOrgInput,
    ) -> StoreResult<Option<crate::tree::Node>> {
        let id = match (
            input.territory_node_id,
            input.territory_code.as_deref().map(str::trim).filter(|s| !s.is_empty()),
        ) {
            (Some(id), _) => Some(id),
            // No code contains NUL (and PostgreSQL text cannot hold it).
            (None, Some(code)) if code.contains('\0') => None,
            (None, Some(code)) => {
                sqlx::query_scalar("SELECT id FROM nodes WHERE code = $1")
                    .bind(code)
                    .fetch_optional(&mut **tx)
                    .await?
            }
            (None, None) => {
                v.push("territory_node_id", "请选择所属区域");
                return Ok(None);
            }
        };
        let node = match id {
            Some(id) => self.node(actor, id).await.ok(),
            None => None,
        };
        match node {
            None => {
                v.push("territory_node_id", "所属区域不存在");
                Ok(None)
            }
            Some(n) if !n.is_active() => {
                v.push("territory_node_id", format!("所属区域“{}”已撤销", n.name));
                Ok(None)
            }
            Some(n) => {
                if scope::require(actor, Right::ManageTree, &n.path).is_err() {
                    v.push("territory_node_id", "无权在该区域设立党组织");
                    return Ok(None);
                }
                Ok(Some(n))
            }
        }
    }

    pub async fn create_party_org(&self, actor: &Actor, input: &PartyOrgInput) -> StoreResult<PartyOrg> {
        let mut v = Validation::new();
        let parsed = parse_org(&mut v, input, self.today());
        let mut tx = self.begin_write().await?;
        let territory = self.resolve_territory(&mut tx, actor, &mut v, input).await?;
        let parent = match input.parent_id {
            None => None,
            Some(pid) => match fetch_org(&mut tx, pid).await? {
                Some(p) if actor.scope(Right::ReadTree).contains_path(&p.territory_path) && p.is_active() => Some(p),
                Some(p) if p.is_active() || !actor.scope(Right::ReadTree).contains_path(&p.territory_path) => {
                    v.push("parent_id", "上级党组织不存在");
                    None
                }
                Some(p) => {
                    v.push("parent_id", format!("上级党组织“{}”已撤销", p.name));
                    None
                }
                None => {
                    v.push("parent_id", "上级党组织不存在");
                    None
                }
            },
        };
        if let Some(p) = &parsed {
            if input.parent_id.is_none() || parent.is_some() {
                let pk = parent.as_ref().and_then(|p| OrgKind::from_key(&p.kind));
                if let Err(m) = check_parent(p.kind, pk) {
                    v.push("parent_id", m);
                }
            }
            if let Some(t) = &territory
                && let Err(m) = check_territory(p.category, t.level)
            {
                v.push("territory_node_id", m);
            }
        }
        v.clone().into_result()?;
        let (Some(p), Some(t)) = (parsed, territory) else {
            return Err(v.into());
        };
        let now = self.now_text();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO party_orgs (parent_id, kind, category, name, territory_node_id, path, founded_on, status, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, '', $6, $7, $8, $8) RETURNING id",
        )
        .bind(parent.as_ref().map(|p| p.id))
        .bind(p.kind.key())
        .bind(p.category.key())
        .bind(p.name.as_str().to_string())
        .bind(t.id)
        .bind(p.founded_on.clone())
        .bind(STATUS_ACTIVE)
        .bind(&now)
        .fetch_one(&mut *tx)
        .await?;
        let path = format!("{}{id}/", parent.as_ref().map(|p| p.path.as_str()).unwrap_or("/"));
        sqlx::query("UPDATE party_orgs SET path = $1 WHERE id = $2")
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
            Some(p.name.as_str()),
            None,
            parent.as_ref().map(|p| p.id),
            None,
        )
        .await?;
        let org = fetch_org(&mut tx, id).await?.ok_or(StoreError::NotFound)?;
        tx.commit().await?;
        Ok(org)
    }

    /// Edits name, category, territory and founding date (kind and parent change by moving).
    pub async fn edit_party_org(&self, actor: &Actor, id: i64, input: &PartyOrgInput) -> StoreResult<PartyOrg> {
        let mut v = Validation::new();
        let mut tx = self.begin_write().await?;
        let org = fetch_org(&mut tx, id).await?.ok_or(StoreError::NotFound)?;
        scope::require(actor, Right::ManageTree, &org.territory_path)?;
        if !org.is_active() {
            return Err(StoreError::field("name", "已撤销的党组织不能修改，请先恢复"));
        }
        let mut input = input.clone();
        if input.kind.trim().is_empty() {
            input.kind = org.kind.clone();
        }
        let parsed = parse_org(&mut v, &input, self.today());
        let territory = self.resolve_territory(&mut tx, actor, &mut v, &input).await?;
        if let (Some(p), Some(t)) = (&parsed, &territory)
            && let Err(m) = check_territory(p.category, t.level)
        {
            v.push("territory_node_id", m);
        }
        if let Some(p) = &parsed
            && p.kind.key() != org.kind
        {
            v.push("kind", "组织类别不能在此修改");
        }
        v.clone().into_result()?;
        let (Some(p), Some(t)) = (parsed, territory) else {
            return Err(v.into());
        };
        sqlx::query(
            "UPDATE party_orgs SET name = $1, category = $2, territory_node_id = $3, founded_on = $4, updated_at = $5 \
             WHERE id = $6",
        )
        .bind(p.name.as_str().to_string())
        .bind(p.category.key())
        .bind(t.id)
        .bind(p.founded_on)
        .bind(self.now_text())
        .bind(id)
        .execute(&mut *tx)
        .await?;
        record(
            &mut tx,
            &self.now_text(),
            id,
            "edited",
            actor,
            Some(&org.name),
            Some(p.name.as_str()),
            None,
            None,
            None,
        )
        .await?;
        let org = fetch_org(&mut tx, id).await?.ok_or(StoreError::NotFound)?;
        tx.commit().await?;
        Ok(org)
    }

    /// Moves an organisation with its subtree under another organisation (隶属关系调整).
    pub async fn move_party_org(&self, actor: &Actor, id: i64, input: &PartyMoveInput) -> StoreResult<PartyOrg> {
        let note = crate::tree::clean_note(input.note.as_deref())?;
        let mut tx = self.begin_write().await?;
        let org = fetch_org(&mut tx, id).await?.ok_or(StoreError::NotFound)?;
        scope::require(actor, Right::ManageTree, &org.territory_path)?;
        let Some(pid) = input.new_parent_id else {
            return Err(StoreError::field("new_parent_id", "请选择新的上级党组织"));
        };
        let parent = fetch_org(&mut tx, pid)
            .await?
            .filter(|p| actor.scope(Right::ReadTree).contains_path(&p.territory_path))
            .ok_or_else(|| StoreError::field("new_parent_id", "新的上级党组织不存在"))?;
        if scope::require(actor, Right::ManageTree, &parent.territory_path).is_err() {
            return Err(StoreError::field("new_parent_id", "无权把党组织调整到该上级之下"));
        }
        if parent.path.starts_with(&org.path) {
            return Err(StoreError::field(
                "new_parent_id",
                "不能把党组织调整到它自身或它的下级之下",
            ));
        }
        if !parent.is_active() {
            return Err(StoreError::field(
                "new_parent_id",
                format!("上级党组织“{}”已撤销", parent.name),
            ));
        }
        if Some(parent.id) == org.parent_id {
            return Err(StoreError::field("new_parent_id", "已隶属于该党组织"));
        }
        let kind = OrgKind::from_key(&org.kind).ok_or(StoreError::NotFound)?;
        check_parent(kind, OrgKind::from_key(&parent.kind)).map_err(|m| StoreError::field("new_parent_id", m))?;
        let new_path = format!("{}{}/", parent.path, org.id);
        let mut upd = Sql::new("UPDATE party_orgs SET path = ");
        upd.bind(&new_path)
            .push(" || substr(path, CAST(")
            .bind(org.path.len() as i64 + 1)
            .push(" AS INTEGER)), updated_at = ")
            .bind(self.now_text())
            .push(" WHERE ");
        scope::push_subtree(&mut upd, "path", &org.path);
        upd.query().execute(&mut *tx).await?;
        sqlx::query("UPDATE party_orgs SET parent_id = $1 WHERE id = $2")
            .bind(parent.id)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        record(
            &mut tx,
            &self.now_text(),
            id,
            "moved",
            actor,
            None,
            None,
            org.parent_id,
            Some(parent.id),
            note.as_deref(),
        )
        .await?;
        let org = fetch_org(&mut tx, id).await?.ok_or(StoreError::NotFound)?;
        tx.commit().await?;
        Ok(org)
    }

    pub async fn archive_party_org(&self, actor: &Actor, id: i64, note: Option<&str>) -> StoreResult<PartyOrg> {
        let note = crate::tree::clean_note(note)?;
        let mut tx = self.begin_write().await?;
        let org = fetch_org(&mut tx, id).await?.ok_or(StoreError::NotFound)?;
        scope::require(actor, Right::ManageTree, &org.territory_path)?;
        if !org.is_active() {
            return Err(StoreError::field("status", "该党组织已撤销"));
        }
        let children: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM party_orgs WHERE parent_id = $1 AND status = $2")
            .bind(id)
            .bind(STATUS_ACTIVE)
            .fetch_one(&mut *tx)
            .await?;
        if children > 0 {
            return Err(StoreError::field(
                "status",
                format!("还有 {children} 个下级党组织未撤销"),
            ));
        }
        let now = self.now_text();
        sqlx::query("UPDATE party_orgs SET status = $1, archived_at = $2, updated_at = $2 WHERE id = $3")
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
            note.as_deref(),
        )
        .await?;
        let org = fetch_org(&mut tx, id).await?.ok_or(StoreError::NotFound)?;
        tx.commit().await?;
        Ok(org)
    }

    pub async fn restore_party_org(&self, actor: &Actor, id: i64) -> StoreResult<PartyOrg> {
        let mut tx = self.begin_write().await?;
        let org = fetch_org(&mut tx, id).await?.ok_or(StoreError::NotFound)?;
        scope::require(actor, Right::ManageTree, &org.territory_path)?;
        if org.is_active() {
            return Err(StoreError::field("status", "该党组织未撤销"));
        }
        if let Some(pid) = org.parent_id {
            let p = fetch_org(&mut tx, pid).await?.ok_or(StoreError::NotFound)?;
            if !p.is_active() {
                return Err(StoreError::field(
                    "status",
                    format!("上级党组织“{}”已撤销，请先恢复上级", p.name),
                ));
            }
        }
        sqlx::query("UPDATE party_orgs SET status = $1, archived_at = NULL, updated_at = $2 WHERE id = $3")
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
        )
        .await?;
        let org = fetch_org(&mut tx, id).await?.ok_or(StoreError::NotFound)?;
        tx.commit().await?;
        Ok(org)
    }
}
