//! Writing many residents at once: the rows as the demo generates them, multi-row inserts that
//! take the values over without cloning them, and indexes set aside during the load and built
//! again at its end, inside the same transaction.

use std::sync::Arc;

use super::Progress;
use crate::db::{Engine, Tx};
use crate::error::StoreResult;

/// A resident ready to write: ID and mobile numbers only as ciphertext, keyed hash and masked
/// form, as [`crate::people`] stores them.
pub(super) struct PersonRow {
    pub id: i64,
    pub name: String,
    pub id_number_enc: String,
    pub id_number_hash: String,
    pub id_number_masked: String,
    pub birth_date: String,
    pub sex: &'static str,
    pub mobile_enc: String,
    pub mobile_hash: String,
    pub mobile_masked: String,
    pub home_node_id: i64,
    pub household: String,
    pub registered_elsewhere: i64,
}

/// Values bound per row.
const PARAMS_PER_ROW: usize = 15;

/// `INSERT INTO persons … VALUES (…), (…)` for `rows` rows.
fn insert_text(engine: Engine, rows: usize) -> String {
    let mut text = String::from(
        "INSERT INTO persons (id, name, id_number_enc, id_number_hash, id_number_masked, birth_date, sex, \
         mobile_enc, mobile_hash, mobile_masked, home_node_id, household, registered_elsewhere, created_at, \
         updated_at, status) VALUES ",
    );
    for r in 0..rows {
        text.push_str(if r > 0 { ", (" } else { "(" });
        for c in 0..PARAMS_PER_ROW {
            text.push_str(&engine.placeholder(1 + r * PARAMS_PER_ROW + c));
            text.push_str(", ");
        }
        text.push_str("'active')");
    }
    text
}

/// Writes residents in statements of `per_statement` rows; the statement text is built once.
pub(super) struct PersonWriter {
    engine: Engine,
    per_statement: usize,
    full: Arc<String>,
    now: String,
}

impl PersonWriter {
    pub fn new(engine: Engine, per_statement: usize, now: &str) -> PersonWriter {
        PersonWriter {
            engine,
            per_statement,
            full: Arc::new(insert_text(engine, per_statement)),
            now: now.to_string(),
        }
    }

    pub async fn write(&self, tx: &mut Tx, rows: Vec<PersonRow>) -> StoreResult<()> {
        let mut rows = rows.into_iter().peekable();
        while rows.peek().is_some() {
            let chunk: Vec<PersonRow> = rows.by_ref().take(self.per_statement).collect();
            let text = if chunk.len() == self.per_statement {
                self.full.clone()
            } else {
                Arc::new(insert_text(self.engine, chunk.len()))
            };
            let mut q = sqlx::query(sqlx::AssertSqlSafe(text));
            for r in chunk {
                q = q
                    .bind(r.id)
                    .bind(r.name)
                    .bind(r.id_number_enc)
                    .bind(r.id_number_hash)
                    .bind(r.id_number_masked)
                    .bind(r.birth_date)
                    .bind(r.sex)
                    .bind(r.mobile_enc)
                    .bind(r.mobile_hash)
                    .bind(r.mobile_masked)
                    .bind(r.home_node_id)
                    .bind(r.household)
                    .bind(r.registered_elsewhere)
                    .bind(self.now.as_str())
                    .bind(self.now.as_str());
            }
            q.execute(&mut **tx).await?;
        }
        Ok(())
    }
}

/// Indexes dropped for a bulk load and built again at its end. They are dropped and built
/// inside the loader's transaction, so a load that fails or is interrupted rolls back to the
/// table with all its indexes.
pub(super) struct SetAside {
    /// Name and the statement that creates it, as the database reports it.
    indexes: Vec<(String, String)>,
}

impl SetAside {
    /// Drops those of `names` that are secondary indexes of `table`.
    pub async fn drop(tx: &mut Tx, engine: Engine, table: &str, names: &[&str]) -> StoreResult<SetAside> {
        let indexes: Vec<(String, String)> = sqlx::query_as(engine.index_definitions_sql())
            .bind(table)
            .fetch_all(&mut **tx)
            .await?;
        let indexes: Vec<(String, String)> = indexes
            .into_iter()
            .filter(|(name, _)| names.contains(&name.as_str()))
            .collect();
        for (name, _) in &indexes {
            sqlx::query(sqlx::AssertSqlSafe(format!("DROP INDEX {name}")))
                .execute(&mut **tx)
                .await?;
        }
        Ok(SetAside { indexes })
    }

    /// Builds the indexes again, each with one sort of the table, under the engine's settings
    /// for index builds; the connection's own settings are restored whether or not that worked.
    pub async fn restore(self, tx: &mut Tx, engine: Engine, progress: Progress<'_>) -> StoreResult<()> {
        for sql in engine.before_index_build_sql() {
            sqlx::query(*sql).execute(&mut **tx).await?;
        }
        let built = self.build(tx, progress).await;
        let mut restored = Ok(());
        for sql in engine.after_index_build_sql() {
            if let Err(e) = sqlx::query(*sql).execute(&mut **tx).await {
                restored = Err(e.into());
            }
        }
        built.and(restored)
    }

    async fn build(self, tx: &mut Tx, progress: Progress<'_>) -> StoreResult<()> {
        let total = self.indexes.len() as u64;
        for (i, (_, create)) in self.indexes.into_iter().enumerate() {
            progress("建立索引", i as u64, total);
            sqlx::query(sqlx::AssertSqlSafe(create)).execute(&mut **tx).await?;
        }
        progress("建立索引", total, total);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_text_has_a_placeholder_per_value() {
        let t = insert_text(Engine::Postgres, 2);
        let second: Vec<String> = (16..=30).map(|n| format!("${n}")).collect();
        assert!(t.ends_with(&format!("({}, 'active')", second.join(", "))), "{t}");
        let t = insert_text(Engine::Sqlite, 2);
        assert_eq!(t.matches('?').count(), 30);
        assert!(!t.contains('$'));
    }
}
