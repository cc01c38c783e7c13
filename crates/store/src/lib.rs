//! Storage of Gongjian behind use-case functions.
//!
//! One set of queries serves SQLite and PostgreSQL through sqlx's `Any` driver; the few places
//! where SQL must differ go through [`db::Engine`]. Every function that reads or writes records
//! of the trees takes the [`Actor`](gongjian_domain::access::Actor) and applies its scope here
//! (see [`scope`]), never in a handler.

pub mod accounts;
pub mod audit;
pub mod crypto;
pub mod datakey;
pub mod db;
pub mod demo;
pub mod divisions;
pub mod error;
pub mod imports;
pub(crate) mod locked;
pub mod members;
pub mod party;
pub mod people;
pub mod points;
pub mod posts;
pub mod registrations;
pub mod scope;
pub mod sessions;
pub(crate) mod sql;
pub mod stats;
pub mod tokens;
pub mod totp;
pub mod tree;
pub mod units;
pub mod volunteers;

pub use db::{Engine, Store};
pub use error::{StoreError, StoreResult};

/// A time as stored: RFC 3339 UTC with microseconds, so text order is time order. The current
/// time comes from the store's clock ([`Store::now_text`]).
pub fn time_text(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// A cursor page: the items and, when more follow, the cursor that fetches them.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}
