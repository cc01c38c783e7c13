//! Writes that check, then write: lock, re-read, check, write, in one transaction.
//!
//! A state change decided on a read made before its transaction began can act on a state that
//! another request has changed meanwhile (two 转正 of one member, two transfers from the same
//! organisation), writing duplicate or wrong history. [`Store::write_locked`] makes the safe
//! order the easy one: [`Store::begin_locked`] begins the write transaction and locks the row the
//! change is about; the change then reads what it checks through that transaction. On SQLite the write transaction (`BEGIN IMMEDIATE`) already holds the whole
//! database; on PostgreSQL the row is locked with `SELECT … FOR UPDATE` until the commit.

use sqlx::AssertSqlSafe;

use crate::db::{Store, Tx};
use crate::error::{StoreError, StoreResult};

/// A table whose rows a state change locks. A closed list, so no table name comes from input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Locked {
    PartyMember,
}

impl Locked {
    fn table(self) -> &'static str {
        match self {
            Locked::PartyMember => "party_members",
        }
    }
}

impl Store {
    /// Begins a write transaction and locks row `id` of `what` in it (not found:
    /// [`StoreError::NotFound`]). The caller then re-reads what it checks through the
    /// transaction, writes, and commits; an error before the commit drops the transaction
    /// unfinished, which rolls everything back.
    pub(crate) async fn begin_locked(&self, what: Locked, id: i64) -> StoreResult<Tx> {
        let mut tx = self.begin_write().await?;
        let lock = format!(
            "SELECT id FROM {} WHERE id = $1{}",
            what.table(),
            self.engine.row_lock_suffix()
        );
        let found: Option<i64> = sqlx::query_scalar(AssertSqlSafe(lock))
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        match found {
            Some(_) => Ok(tx),
            None => Err(StoreError::NotFound),
        }
    }
}
