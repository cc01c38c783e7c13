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
