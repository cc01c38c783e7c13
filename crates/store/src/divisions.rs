//! The national statistical division list (NBS 2023 edition) for the demo cities, embedded in
//! the binary and loaded into the `divisions` reference table. See `divisions/README.md`.

use gongjian_domain::tree::pad_division_code;
use serde::Serialize;

use crate::db::Store;
use crate::error::{StoreError, StoreResult};

pub const EDITION: i64 = 2023;
const CSV: &str = include_str!("../divisions/divisions-2023.csv");

/// One row of the national division table, with its code padded to 12 digits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Division {
    pub code: String,
    pub short_code: String,
    pub name: String,
    /// `province`, `city`, `district`, `street` or `community`.
    pub level: String,
    pub parent_short_code: Option<String>,
}

/// Parses the embedded table.
pub fn embedded() -> StoreResult<Vec<Division>> {
    let mut reader = csv::Reader::from_reader(CSV.as_bytes());
    let mut out = Vec::new();
    for (i, rec) in reader.records().enumerate() {
        let rec = rec.map_err(|e| StoreError::Config(format!("division table row {}: {e}", i + 2)))?;
        let short = rec.get(0).unwrap_or("").to_string();
        out.push(Division {
            code: pad_division_code(&short),
            short_code: short,
            name: rec.get(1).unwrap_or("").to_string(),
            level: rec.get(2).unwrap_or("").to_string(),
            parent_short_code: rec.get(3).filter(|s| !s.is_empty()).map(str::to_string),
        });
    }
    Ok(out)
}

/// Loads the embedded table into `divisions` when it is not there yet (one transaction).
pub async fn load_reference(store: &Store) -> StoreResult<()> {
    let have: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM divisions WHERE edition = $1")
        .bind(EDITION)
        .fetch_one(&store.pool)
        .await?;
    let rows = embedded()?;
    if have as usize >= rows.len() {
        return Ok(());
    }
    let mut tx = store.begin_write().await?;
    sqlx::query("DELETE FROM divisions WHERE edition = $1")
        .bind(EDITION)
        .execute(&mut *tx)
        .await?;
    for chunk in rows.chunks(crate::sql::ROWS_PER_INSERT) {
        let mut sql = crate::sql::Sql::new("INSERT INTO divisions (code, name, level, parent_code, edition) VALUES ");
        for (i, d) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.push("(")
                .bind(&d.code)
                .push(", ")
                .bind(&d.name)
                .push(", ")
                .bind(&d.level)
                .push(", ")
                .bind(d.parent_short_code.as_deref().map(pad_division_code))
                .push(", ")
                .bind(EDITION)
                .push(")");
        }
        sql.query().execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

impl Store {
    /// Looks a 12-digit code up in the national table, for suggesting names in forms.
    pub async fn division(&self, code: &str) -> StoreResult<Option<(String, String)>> {
        Ok(sqlx::query_as("SELECT name, level FROM divisions WHERE code = $1")
            .bind(code.trim())
            .fetch_optional(&self.pool)
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_table_has_the_demo_cities() {
        let rows = embedded().unwrap();
        assert_eq!(rows.len(), 1154);
        let foshan_streets = rows
            .iter()
            .filter(|d| d.level == "street" && d.short_code.starts_with("4406"))
            .filter(|d| d.short_code[6..9].parse::<u32>().unwrap() < 400)
            .count();
        assert_eq!(foshan_streets, 32);
        assert!(rows.iter().any(|d| d.code == "440604000000" && d.name == "禅城区"));
    }
}
