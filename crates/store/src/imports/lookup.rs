//! Finding what a row names — a registered person by ID number (keyed hash), a party
//! organisation by its exact name, a node by code or exact name — only inside the actor's
//! scope, a chunk of values per query.

use std::collections::HashMap;

use gongjian_domain::access::{Actor, Right};
use gongjian_domain::tree::Level;

use super::sheet::{Col, Row};
use crate::db::Store;
use crate::error::StoreResult;
use crate::people::ID_FIELD;
use crate::scope;
use crate::sql::Sql;

/// Values per `IN (…)` list.
const CHUNK: usize = 500;

/// A registered person a row names.
#[derive(Debug, Clone)]
pub(crate) struct Known {
    pub id: i64,
    pub name: String,
}

/// A node a row names.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Place {
    pub id: i64,
    pub level: Level,
}

/// The single match of `value` in `found`, or why there is none.
pub(crate) fn single<'a, T>(found: &'a HashMap<String, Vec<T>>, value: &str, what: &str) -> Result<&'a T, String> {
    match found.get(value).map(Vec::as_slice) {
        Some([one]) => Ok(one),
        Some(many) if many.len() > 1 => Err(format!(
            "管理范围内有 {} 个名为“{value}”的{what}，无法确定是哪一个，请填写全称或编码",
            many.len()
        )),
        _ => Err(format!("{what}“{value}”不存在、已撤销或不在管理范围内")),
    }
}

impl Store {
    /// The keyed hash of a row's ID number, when it is a valid one (for a look-up).
    pub(crate) fn row_id_hash(&self, row: &mut Row<'_>) -> Option<String> {
        let raw = row.text(Col::IdNumber);
        let id = gongjian_domain::ids::IdNumber::parse_today(&raw, false).ok()?;
        Some(self.keys.lookup_hash(ID_FIELD, id.as_str()))
    }

    /// The registered person a row names by ID number (and, when given, by the same name), or
    /// `None` with the reason recorded on the row.
    pub(crate) fn row_person(&self, row: &mut Row<'_>, people: &HashMap<String, Known>) -> Option<(String, Known)> {
        let raw = row.text(Col::IdNumber);
        if raw.is_empty() {
            if !row.refused(Col::IdNumber) {
                row.reject(Col::IdNumber, "身份证号不能为空：用它找到已登记的居民");
            }
            return None;
        }
        let id = match gongjian_domain::ids::IdNumber::parse_today(&raw, false) {
            Ok(id) => id,
            Err(e) => {
                row.reject(Col::IdNumber, e.to_string());
                return None;
            }
        };
        let hash = self.keys.lookup_hash(ID_FIELD, id.as_str());
        let Some(known) = people.get(&hash) else {
            row.reject(
                Col::IdNumber,
                "未找到该身份证号的居民：须先登记为居民，且在您的管理范围内",
            );
            return None;
        };
        let name = row.text(Col::Name);
        if !name.is_empty() && name != known.name {
            row.reject(Col::Name, "与该身份证号登记的居民姓名不一致");
            return None;
        }
        Some((hash, known.clone()))
    }

    /// Active residents with these ID-number hashes whom the actor may read.
    pub(crate) async fn people_by_hash(&self, actor: &Actor, hashes: &[String]) -> StoreResult<HashMap<String, Known>> {
        let mut out = HashMap::new();
        for chunk in hashes.chunks(CHUNK) {
            let mut sql = Sql::new(
                "SELECT p.id_number_hash, p.id, p.name FROM persons p JOIN nodes h ON h.id = p.home_node_id \
                 WHERE p.status = 'active' AND p.id_number_hash IN ",
            );
            sql.bind_list(chunk).push(" AND ");
            scope::push_filter(&mut sql, actor, Right::ReadPeople, "h.path");
            for (hash, id, name) in sql.query_as::<(String, i64, String)>().fetch_all(&self.pool).await? {
                out.insert(hash, Known { id, name });
            }
        }
        Ok(out)
    }

    /// Active party organisations with these exact names whose members the actor manages.
    pub(crate) async fn orgs_named(&self, actor: &Actor, names: &[String]) -> StoreResult<HashMap<String, Vec<i64>>> {
        let mut out: HashMap<String, Vec<i64>> = HashMap::new();
        for chunk in names.chunks(CHUNK) {
            let mut sql = Sql::new(
                "SELECT o.name, o.id FROM party_orgs o JOIN nodes t ON t.id = o.territory_node_id \
                 WHERE o.status = 'active' AND o.name IN ",
            );
            sql.bind_list(chunk).push(" AND ");
            scope::push_filter(&mut sql, actor, Right::ManagePeople, "t.path");
            sql.push(" ORDER BY o.id");
            for (name, id) in sql.query_as::<(String, i64)>().fetch_all(&self.pool).await? {
                out.entry(name).or_default().push(id);
            }
        }
        Ok(out)
    }

    /// Active nodes whose code or exact name is one of `values`, where the actor manages
    /// people; keyed by the value that matched.
    pub(crate) async fn nodes_named(
        &self,
        actor: &Actor,
        values: &[String],
    ) -> StoreResult<HashMap<String, Vec<Place>>> {
        let mut out: HashMap<String, Vec<Place>> = HashMap::new();
        for chunk in values.chunks(CHUNK) {
            let mut sql =
                Sql::new("SELECT n.code, n.name, n.id, n.level FROM nodes n WHERE n.status = 'active' AND (n.code IN ");
            sql.bind_list(chunk)
                .push(" OR n.name IN ")
                .bind_list(chunk)
                .push(") AND ");
            scope::push_filter(&mut sql, actor, Right::ManagePeople, "n.path");
            sql.push(" ORDER BY n.id");
            let rows = sql
                .query_as::<(String, String, i64, i64)>()
                .fetch_all(&self.pool)
                .await?;
            for (code, name, id, level) in rows {
                let Some(level) = Level::from_i64(level) else { continue };
                let place = Place { id, level };
                for value in [code, name] {
                    if chunk.contains(&value) {
                        out.entry(value).or_default().push(place);
                    }
                }
            }
        }
        Ok(out)
    }
}

/// The distinct non-empty values, for a look-up.
pub(crate) fn distinct(values: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut v: Vec<String> = values.into_iter().filter(|s| !s.is_empty()).collect();
    v.sort();
    v.dedup();
    v
}
