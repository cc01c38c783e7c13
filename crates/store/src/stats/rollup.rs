//! Periodic roll-ups: aggregates too large to count on every request at city scale, computed
//! now and then (by `gongjian serve` on a timer, after a demo load, by `gongjian stats
//! refresh`) and shown with the time they were computed.
//!
//! Residents are the one such figure today: 8.15 million rows under the city take ≈ 0.3 s to
//! count, a sum over ≈ 11,000 per-grid rows a few milliseconds. The roll-up is read only for a
//! subtree it says holds at least [`ROLLUP_THRESHOLD`] residents (a city, a district, a street
//! at full scale); smaller subtrees (a community, the test fixtures) are counted exactly, so
//! their figures are always current. Counting 20,000 rows costs ≈ 5–10 ms.

use crate::db::Store;
use crate::error::StoreResult;
use crate::scope;
use crate::sql::Sql;
use crate::tree::Node;

/// The name of the residents roll-up in `stat_rollups`.
pub const RESIDENTS_ROLLUP: &str = "residents";

/// Subtrees with at least this many rolled-up residents read the roll-up; smaller ones count.
pub const ROLLUP_THRESHOLD: i64 = 20_000;

impl Store {
    /// Recomputes every roll-up and returns the time they hold (RFC 3339 UTC). The counting
    /// reads outside any write transaction; only the replacement of the rows takes the lock.
    pub async fn refresh_rollups(&self) -> StoreResult<String> {
        let as_of = self.now_text();
        let rows: Vec<(i64, i64, i64)> = sqlx::query_as(
            "SELECT home_node_id, COUNT(*), CAST(COALESCE(SUM(registered_elsewhere), 0) AS BIGINT) \
             FROM persons WHERE status = 'active' GROUP BY home_node_id",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM resident_rollup").execute(&mut *tx).await?;
        for batch in rows.chunks(crate::sql::ROWS_PER_INSERT) {
            let mut sql = Sql::new("INSERT INTO resident_rollup (node_id, residents, elsewhere) VALUES ");
            for (i, (node, n, away)) in batch.iter().enumerate() {
                if i > 0 {
                    sql.push(", ");
                }
                sql.push("(")
                    .bind(*node)
                    .push(", ")
                    .bind(*n)
                    .push(", ")
                    .bind(*away)
                    .push(")");
            }
            sql.query().execute(&mut *tx).await?;
        }
        sqlx::query(
            "INSERT INTO stat_rollups (name, as_of) VALUES ($1, $2) \
             ON CONFLICT (name) DO UPDATE SET as_of = excluded.as_of",
        )
        .bind(RESIDENTS_ROLLUP)
        .bind(&as_of)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(as_of)
    }

    /// When a roll-up was last computed, if ever.
    pub async fn rollup_time(&self, name: &str) -> StoreResult<Option<String>> {
        Ok(sqlx::query_scalar("SELECT as_of FROM stat_rollups WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Active residents living under `node` and those registered elsewhere, with the roll-up
    /// time when the figures come from the roll-up.
    pub(super) async fn residents(&self, node: &Node) -> StoreResult<(i64, i64, Option<String>)> {
        if let Some(at) = self.rollup_time(RESIDENTS_ROLLUP).await? {
            let mut sql = Sql::new(
                "SELECT CAST(COALESCE(SUM(r.residents), 0) AS BIGINT), CAST(COALESCE(SUM(r.elsewhere), 0) AS BIGINT) \
                 FROM resident_rollup r JOIN nodes h ON h.id = r.node_id WHERE ",
            );
            scope::push_subtree(&mut sql, "h.path", &node.path);
            let (total, away): (i64, i64) = sql.query_as().fetch_one(&self.pool).await?;
            if total >= ROLLUP_THRESHOLD {
                return Ok((total, away, Some(at)));
            }
        }
        let mut sql = Sql::new(
            "SELECT COUNT(*), CAST(COALESCE(SUM(p.registered_elsewhere), 0) AS BIGINT) FROM persons p \
             JOIN nodes h ON h.id = p.home_node_id WHERE p.status = 'active' AND ",
        );
        scope::push_subtree(&mut sql, "h.path", &node.path);
        let (total, away): (i64, i64) = sql.query_as().fetch_one(&self.pool).await?;
        Ok((total, away, None))
    }
}
