//! The storage boundary's error type, and what a database's refusal means, told by its code.

use gongjian_domain::Validation;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The input is invalid; each entry names a field. Nothing was written.
    #[error("invalid input: {0}")]
    Invalid(Validation),
    /// The record does not exist, or lies outside the actor's scope (the two are not told apart).
    #[error("not found")]
    NotFound,
    /// The actor may see the record but not do this to it.
    #[error("forbidden")]
    Forbidden,
    /// The request conflicts with one made before (an idempotency key used for another
    /// request). Nothing was written; the message is for the user.
    #[error("conflict: {0}")]
    Conflict(String),
    /// A configuration or connection problem with a message for the operator.
    #[error("{0}")]
    Config(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl StoreError {
    pub fn field(field: &str, message: impl Into<String>) -> StoreError {
        StoreError::Invalid(Validation::single(field, message))
    }

    /// When the database could not write at all — its disk or its size limit is full, its file
    /// or file system is read-only, an I/O error — what that is, for the operator's log. Such a
    /// write changed nothing, and the same write succeeds once the cause is gone.
    pub fn storage_fault(&self) -> Option<&'static str> {
        let StoreError::Database(sqlx::Error::Database(e)) = self else {
            return None;
        };
        let code = e.code()?;
        match classify_db_code(&code) {
            DbFailure::Full => Some("the database or its disk is full"),
            DbFailure::ReadOnly => Some("the database is read-only"),
            DbFailure::Io => Some("the database could not read or write its files"),
            _ => None,
        }
    }

    /// What the database refused, when this is the database's refusal (see [`DbFailure`]).
    pub fn db_failure(&self) -> Option<DbFailure> {
        match self {
            StoreError::Database(e) => db_failure(e),
            _ => None,
        }
    }

    /// A unique index or a primary key refused a duplicate.
    pub fn is_unique_violation(&self) -> bool {
        matches!(self.db_failure(), Some(DbFailure::Unique | DbFailure::PrimaryKey))
    }
}

/// What a database refused, by the code it answered — SQLite's extended result code,
/// PostgreSQL's SQLSTATE — never by the wording of its message, which names tables and columns
/// and may change between versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbFailure {
    /// A unique index refused a duplicate: SQLite `SQLITE_CONSTRAINT_UNIQUE` (2067);
    /// PostgreSQL `unique_violation` (23505), which also covers primary keys.
    Unique,
    /// SQLite's primary key refused a duplicate: `SQLITE_CONSTRAINT_PRIMARYKEY` (1555), also
    /// for an `INTEGER PRIMARY KEY`, and `SQLITE_CONSTRAINT_ROWID` (2579).
    PrimaryKey,
    /// A `CHECK` constraint: SQLite 275, PostgreSQL 23514.
    Check,
    /// A foreign key: SQLite 787, PostgreSQL 23503.
    ForeignKey,
    /// A `NOT NULL` column given no value: SQLite 1299, PostgreSQL 23502.
    NotNull,
    /// Another writer holds the database or the rows: SQLite `SQLITE_BUSY` (5) and its
    /// extended codes, `SQLITE_LOCKED` (6) and its extended codes; PostgreSQL
    /// `serialization_failure` (40001), `deadlock_detected` (40P01), `lock_not_available` (55P03).
    Busy,
    /// The disk or the database is full: SQLite `SQLITE_FULL` (13), PostgreSQL `disk_full`
    /// (53100) and `insufficient_resources` (53000).
    Full,
    /// The database or its file system is read-only: SQLite `SQLITE_READONLY` (8) and its
    /// extended codes, PostgreSQL `read_only_sql_transaction` (25006).
    ReadOnly,
    /// The database could not read or write its files: SQLite `SQLITE_IOERR` (10) and its
    /// extended codes, PostgreSQL `io_error` (58030).
    Io,
    /// SQLite's generic `SQLITE_ERROR` (1): the statement itself was refused — from a bare
    /// `ROLLBACK`, that no transaction was active.
    Generic,
    /// Any other code.
    Other,
}

/// The one place a database error's code is read: what `code` — a SQLite (extended) result
/// code or a PostgreSQL SQLSTATE; the two never look alike, SQLite's being at most four digits
/// and SQLSTATEs five characters — says was refused.
pub fn classify_db_code(code: &str) -> DbFailure {
    match code {
        // SQLite's extended result codes, in decimal.
        "2067" => DbFailure::Unique,
        "1555" | "2579" => DbFailure::PrimaryKey,
        "275" => DbFailure::Check,
        "787" => DbFailure::ForeignKey,
        "1299" => DbFailure::NotNull,
        // SQLITE_BUSY, _RECOVERY, _SNAPSHOT, _TIMEOUT; SQLITE_LOCKED, _SHAREDCACHE, _VTAB.
        "5" | "261" | "517" | "773" | "6" | "262" | "518" => DbFailure::Busy,
        "13" => DbFailure::Full,
        "1" => DbFailure::Generic,
        // PostgreSQL's SQLSTATE.
        "23505" => DbFailure::Unique,
        "23514" => DbFailure::Check,
        "23503" => DbFailure::ForeignKey,
        "23502" => DbFailure::NotNull,
        "40001" | "40P01" | "55P03" => DbFailure::Busy,
        "53100" | "53000" => DbFailure::Full,
        "25006" => DbFailure::ReadOnly,
        "58030" => DbFailure::Io,
        // SQLite's extended codes of a read-only database and of an I/O error (the primary code
        // in the low byte).
        other => match other.parse::<i64>().map(|c| c & 0xff) {
            Ok(8) => DbFailure::ReadOnly,
            Ok(10) => DbFailure::Io,
            Ok(13) => DbFailure::Full,
            _ => DbFailure::Other,
        },
    }
}

/// What the database refused in `e`, when `e` is a database's answer with a code.
pub fn db_failure(e: &sqlx::Error) -> Option<DbFailure> {
    match e {
        sqlx::Error::Database(d) => d.code().map(|c| classify_db_code(&c)),
        _ => None,
    }
}

impl From<Validation> for StoreError {
    fn from(v: Validation) -> Self {
        StoreError::Invalid(v)
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_codes_are_classified() {
        for (code, failure) in [
            ("2067", DbFailure::Unique),
            ("1555", DbFailure::PrimaryKey),
            ("2579", DbFailure::PrimaryKey),
            ("275", DbFailure::Check),
            ("787", DbFailure::ForeignKey),
            ("1299", DbFailure::NotNull),
            ("5", DbFailure::Busy),
            ("517", DbFailure::Busy),
            ("6", DbFailure::Busy),
            ("13", DbFailure::Full),
            ("1", DbFailure::Generic),
            // SQLITE_FULL, SQLITE_READONLY and SQLITE_IOERR with their extended codes.
            ("8", DbFailure::ReadOnly),
            ("1032", DbFailure::ReadOnly),
            ("10", DbFailure::Io),
            ("266", DbFailure::Io),
            // SQLITE_CONSTRAINT without an extended code, SQLITE_CORRUPT.
            ("19", DbFailure::Other),
            ("11", DbFailure::Other),
        ] {
            assert_eq!(classify_db_code(code), failure, "SQLite code {code}");
        }
    }

    #[test]
    fn postgres_sqlstates_are_classified() {
        for (code, failure) in [
            ("23505", DbFailure::Unique),
            ("23514", DbFailure::Check),
            ("23503", DbFailure::ForeignKey),
            ("23502", DbFailure::NotNull),
            ("40001", DbFailure::Busy),
            ("40P01", DbFailure::Busy),
            ("55P03", DbFailure::Busy),
            ("53100", DbFailure::Full),
            ("25006", DbFailure::ReadOnly),
            ("58030", DbFailure::Io),
            ("42601", DbFailure::Other),
            ("25P01", DbFailure::Other),
        ] {
            assert_eq!(classify_db_code(code), failure, "SQLSTATE {code}");
        }
    }

    /// The codes SQLite itself answers, whatever its messages say.
    #[tokio::test]
    async fn sqlite_refusals_are_told_by_their_code() {
        use sqlx::Connection;
        sqlx::any::install_default_drivers();
        let mut conn = sqlx::AnyConnection::connect("sqlite::memory:").await.expect("sqlite");
        sqlx::raw_sql(
            "PRAGMA foreign_keys = ON; \
             CREATE TABLE p (id INTEGER PRIMARY KEY); INSERT INTO p (id) VALUES (1); \
             CREATE TABLE t (id INTEGER PRIMARY KEY, k TEXT NOT NULL UNIQUE, n INTEGER CHECK (n >= 0), \
             p INTEGER REFERENCES p(id)); INSERT INTO t (id, k, n) VALUES (1, 'a', 0)",
        )
        .execute(&mut conn)
        .await
        .expect("schema");
        for (sql, failure) in [
            ("INSERT INTO t (id, k) VALUES (2, 'a')", DbFailure::Unique),
            ("INSERT INTO t (id, k) VALUES (1, 'b')", DbFailure::PrimaryKey),
            ("UPDATE t SET n = -1", DbFailure::Check),
            ("INSERT INTO t (id, k, p) VALUES (3, 'c', 9)", DbFailure::ForeignKey),
            ("INSERT INTO t (id, k) VALUES (4, NULL)", DbFailure::NotNull),
            ("ROLLBACK", DbFailure::Generic),
        ] {
            let e = sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(&mut conn)
                .await
                .expect_err(sql);
            assert_eq!(db_failure(&e), Some(failure), "{sql}: {e}");
            assert_eq!(StoreError::from(e).db_failure(), Some(failure), "{sql}");
        }
        assert!(db_failure(&sqlx::Error::RowNotFound).is_none());
    }
}
