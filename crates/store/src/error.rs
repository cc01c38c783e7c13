//! The storage boundary's error type.

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
        let sqlite = |primary: i64| code.parse::<i64>().is_ok_and(|c| c & 0xff == primary);
        if sqlite(13) || code == "53100" {
            Some("the database or its disk is full")
        } else if sqlite(8) || code == "25006" {
            Some("the database is read-only")
        } else if sqlite(10) || code == "58030" {
            Some("the database could not read or write its files")
        } else {
            None
        }
    }

    pub fn is_unique_violation(&self) -> bool {
        match self {
            StoreError::Database(sqlx::Error::Database(e)) => e.is_unique_violation(),
            _ => false,
        }
    }
}

impl From<Validation> for StoreError {
    fn from(v: Validation) -> Self {
        StoreError::Invalid(v)
    }
}

pub type StoreResult<T> = Result<T, StoreError>;
