//! Domain types and rules of Gongjian.
//!
//! This crate knows nothing of HTTP or SQL: it holds the values that can only be built valid
//! (division codes, names, identifiers), the shape rules of the two trees, and the
//! per-field validation errors that every boundary turns into its own error format.

pub mod access;
pub mod clock;
pub mod dates;
pub mod error;
pub mod ids;
pub mod members;
pub mod party;
pub mod people;
pub mod points;
pub mod posts;
pub mod registration;
pub mod tree;
pub mod units;
pub mod volunteers;

pub use error::{FieldError, Validation};
