//! Layered configuration: defaults < file < `GONGJIAN__…` environment variables < flags.

use std::path::{Path, PathBuf};

use anyhow::Result;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Config {
    pub listen: String,
    pub data_dir: PathBuf,
    pub database_url: Option<String>,
    pub secure_cookies: bool,
    pub session_idle_minutes: i64,
    pub session_absolute_minutes: i64,
    /// Minutes between refreshes of the statistics roll-ups (0: never, on this node).
    pub stats_rollup_minutes: u64,
    /// The audit chain's witness file (default: `audit.witness` in the data directory).
    pub audit_witness: Option<PathBuf>,
    /// Seconds between records of the audit chain's head while serving (0: at start and
    /// shutdown only).
    pub audit_witness_seconds: u64,
    pub log: String,
    /// Run as if it were this instant (RFC 3339), the clock running on from there; unset: the
    /// system's clock. For rehearsals on a copy of the data and for tests, never a live city.
    pub clock_start: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:8080".into(),
            data_dir: PathBuf::from("./data"),
            database_url: None,
            secure_cookies: false,
            session_idle_minutes: 30,
            session_absolute_minutes: 720,
            stats_rollup_minutes: 10,
            audit_witness: None,
            audit_witness_seconds: 60,
            log: "info,sqlx=warn,tower_http=warn".into(),
            clock_start: None,
        }
    }
}

pub const ANNOTATED_DEFAULTS: &str = r#"# Gongjian configuration. Every key can also be set as an environment variable
# GONGJIAN__<KEY> (for example GONGJIAN__LISTEN=0.0.0.0:8080); flags override both.

# Address the HTTP server listens on.
listen = "127.0.0.1:8080"

# Directory of the embedded SQLite database (gongjian.db) and other local files.
data_dir = "./data"

# Use PostgreSQL instead of the embedded database, e.g. "postgres://user@host/gongjian".
# Several nodes may share one PostgreSQL database. Unknown schemes are refused.
# database_url = "postgres://postgres@127.0.0.1:5432/gongjian"

# Mark cookies Secure; set to true when served behind TLS.
secure_cookies = false

# Sessions end after this many idle minutes, and after this many minutes in any case.
session_idle_minutes = 30
session_absolute_minutes = 720

# Minutes between refreshes of the statistics roll-ups (the residents count of a city or a
# district at large scale, shown with its time). 0 turns the refresh off on this node.
stats_rollup_minutes = 10

# The audit log's witness: the chain's head (and where the log starts) is appended to this file,
# each line sealed with the data key, every audit_witness_seconds while serving, at shutdown and
# after `gongjian audit prune`; `gongjian audit verify` then finds entries cut off the end or
# removed from the start. Default: audit.witness in data_dir. Keep it apart from the database:
# on PostgreSQL name a file on this node (each node may keep its own), ideally on storage the
# database's administrators cannot write.
# audit_witness = "/var/lib/gongjian/audit.witness"
audit_witness_seconds = 60

# Log filter (tracing EnvFilter syntax); RUST_LOG overrides it.
log = "info,sqlx=warn,tower_http=warn"

# Run as if it were this instant, the clock running on from there (rehearsals on a copy of
# the data, training, tests). Leave unset on a live deployment: the system's clock is used.
# clock_start = "2026-11-16T10:00:00+08:00"
"#;

impl Config {
    /// The clock every command reads: the system's, or one started at `clock_start`.
    pub fn clock(&self) -> Result<gongjian_domain::clock::Clock> {
        match self.clock_start.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => Ok(gongjian_domain::clock::Clock::system()),
            Some(raw) => {
                let at = chrono::DateTime::parse_from_rfc3339(raw).map_err(|e| {
                    anyhow::anyhow!("clock_start '{raw}' is not an RFC 3339 instant (2026-11-16T10:00:00+08:00): {e}")
                })?;
                tracing::warn!("the clock starts at {raw}, not at the system's time (clock_start)");
                Ok(gongjian_domain::clock::Clock::starting_at(
                    at.with_timezone(&chrono::Utc),
                ))
            }
        }
    }

    pub fn load(file: Option<&Path>) -> Result<Config> {
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        match file {
            Some(f) => {
                if !f.exists() {
                    anyhow::bail!("configuration file {} not found", f.display());
                }
                fig = fig.merge(Toml::file(f));
            }
            None => fig = fig.merge(Toml::file("gongjian.toml")),
        }
        Ok(fig.merge(Env::prefixed("GONGJIAN__").lowercase(true)).extract()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annotated_defaults_parse_to_the_defaults() {
        let parsed: Config = Figment::from(Toml::string(ANNOTATED_DEFAULTS)).extract().unwrap();
        let d = Config::default();
        assert_eq!(parsed.listen, d.listen);
        assert_eq!(parsed.data_dir, d.data_dir);
        assert_eq!(parsed.session_idle_minutes, d.session_idle_minutes);
        assert_eq!(parsed.stats_rollup_minutes, d.stats_rollup_minutes);
        assert_eq!(parsed.audit_witness, d.audit_witness);
        assert_eq!(parsed.audit_witness_seconds, d.audit_witness_seconds);
        assert_eq!(parsed.log, d.log);
    }
}
