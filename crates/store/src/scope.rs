//! The one place where an actor's rights become SQL.
//!
//! Subtrees are materialised id paths (`/1/5/23/`). A subtree is the half-open text range
//! `[path, upper(path))` where `upper` replaces the final `/` with `0`, the next character in
//! byte order; both engines answer it from the path index (PostgreSQL's path columns use the
//! "C" collation for that reason).

use gongjian_domain::access::{Actor, Right, Scope};

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
