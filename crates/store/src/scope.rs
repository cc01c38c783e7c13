//! The one place where an actor's rights become SQL.
//!
//! Subtrees are materialised id paths (`/1/5/23/`). A subtree is the half-open text range
//! `[path, upper(path))` where `upper` replaces the final `/` with `0`, the next character in
//! byte order; both engines answer it from the path index (PostgreSQL's path columns use the
//! "C" collation for that reason).

use gongjian_domain::access::{Actor, Right, Scope};
use gongjian_domain::party::OrgCategory;
use gongjian_domain::units::UnitKind;

use crate::db::Store;
use crate::error::{StoreError, StoreResult};
use crate::sql::Sql;

/// The exclusive upper bound of the subtree rooted at `path`.
pub fn path_upper(path: &str) -> String {
    let trimmed = path.strip_suffix('/').unwrap_or(path);
    format!("{trimmed}0")
}

/// Appends `(column in subtree at path)`.
pub fn push_subtree(sql: &mut Sql, column: &str, path: &str) {
    sql.push("(")
        .push(column)
        .push(" >= ")
        .bind(path)
        .push(" AND ")
        .push(column)
        .push(" < ")
        .bind(path_upper(path))
        .push(")");
}

/// Appends a predicate that holds for rows whose `column` (a node path) lies inside the
/// actor's scope for `right`.
pub fn push_filter(sql: &mut Sql, actor: &Actor, right: Right, column: &str) {
    match actor.scope(right) {
        Scope::Everything => {
            sql.push("(1 = 1)");
        }
        Scope::Paths(paths) if paths.is_empty() => {
            sql.push("(1 = 0)");
        }
        Scope::Paths(paths) => {
            sql.push("(");
            for (i, p) in paths.iter().enumerate() {
                if i > 0 {
                    sql.push(" OR ");
                }
                push_subtree(sql, column, p);
            }
            sql.push(")");
        }
    }
}

/// Refuses when a node at `path` lies outside the actor's scope for `right`. Records outside
/// the read scope are reported as not found, so their existence is not disclosed; records that
/// can be read but not managed are forbidden.
pub fn require(actor: &Actor, right: Right, path: &str) -> StoreResult<()> {
    if actor.scope(right).contains_path(path) {
        return Ok(());
    }
    if right != Right::ReadTree && actor.scope(Right::ReadTree).contains_path(path) {
        return Err(StoreError::Forbidden);
    }
    Err(StoreError::NotFound)
}

/// Whether a record the actor writes or reads may name a unit of `kind` located at `path`:
/// inside the actor's read scope, or on the public directory of agencies and employers
/// ([`UnitKind::is_public`]). The rule of [`Store::referable_unit`], for units already fetched.
pub fn unit_referable(actor: &Actor, kind: &str, path: &str) -> bool {
    actor.scope(Right::ReadTree).contains_path(path) || UnitKind::parse(kind).is_some_and(UnitKind::is_public)
}

/// The same rule for a party organisation of `category` whose territory is at `path`
/// ([`OrgCategory::is_public`]).
pub fn org_referable(actor: &Actor, category: &str, path: &str) -> bool {
    actor.scope(Right::ReadTree).contains_path(path)
        || OrgCategory::from_key(category).is_some_and(OrgCategory::is_public)
}

impl Store {
    /// The name of unit `id`, when a record the actor writes (or a report the actor reads) may
    /// name it: the unit is active and lies inside the actor's read scope or is on the public
    /// directory ([`unit_referable`]). `None` when it does not exist, is archived or is out of
    /// reach — the caller cannot tell which, and answers "not found" for all three. Every unit
    /// id that arrives in a request goes through here.
    pub async fn referable_unit(&self, actor: &Actor, id: i64) -> StoreResult<Option<String>> {
        let found: Option<(String, String, String)> = sqlx::query_as(
            "SELECT u.name, u.kind, n.path FROM units u JOIN nodes n ON n.id = u.node_id \
             WHERE u.id = $1 AND u.status = 'active'",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(found
            .filter(|(_, kind, path)| unit_referable(actor, kind, path))
            .map(|(name, _, _)| name))
    }

    /// The name of party organisation `id` under the same rule as [`Store::referable_unit`]:
    /// active, and with its territory inside the actor's read scope or on the public directory
    /// ([`org_referable`]).
    pub async fn referable_org(&self, actor: &Actor, id: i64) -> StoreResult<Option<String>> {
        let found: Option<(String, String, String)> = sqlx::query_as(
            "SELECT o.name, o.category, t.path FROM party_orgs o JOIN nodes t ON t.id = o.territory_node_id \
             WHERE o.id = $1 AND o.status = 'active'",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(found
            .filter(|(_, category, path)| org_referable(actor, category, path))
            .map(|(name, _, _)| name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upper_bound_excludes_siblings_with_longer_ids() {
        assert_eq!(path_upper("/1/5/"), "/1/50");
        assert!("/1/5/23/" >= "/1/5/" && "/1/5/23/" < "/1/50");
        assert!("/1/50/" >= "/1/50");
        assert!("/1/6/" >= "/1/50");
    }
}
