//! The witness: the audit chain's head recorded outside the database.
//!
//! Someone who can write to the database can cut entries off the end of the log and move the
//! `audit_head` row back, or remove entries from the start and move the anchor on; the chain
//! itself stays consistent. The witness remembers where the head and the start were: a tracing
//! line each time, and, when the store has a witness file, a line appended to it:
//!
//! `v1 SEQ HASH PRUNED_TO PRUNED_HASH AT KEY_ID MAC`
//!
//! where `MAC` is the HMAC-SHA256 of everything before it under the audit key of the data key
//! `KEY_ID`, so a line cannot be added or changed without the key. A line is written only when
//! the head moved since the last line.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use hmac::{KeyInit, Mac};
use serde::Serialize;

use super::HmacSha256;
use crate::crypto::Keyring;
use crate::db::Store;
use crate::error::{StoreError, StoreResult};

/// What a witness line's MAC covers before the line.
const LINE_LABEL: &[u8] = b"gongjian/audit-witness/v1\0";

/// Where the store records the chain's head.
#[derive(Debug, Default)]
pub struct Witness {
    /// The witness file; `None`: the head goes to the log only.
    path: Option<PathBuf>,
    /// The head recorded last: sequence number, hash and start.
    last: Mutex<Option<(i64, String, i64)>>,
}

/// One line of the witness file, its MAC checked.
#[derive(Debug, Clone)]
pub(crate) struct Line {
    /// The line's number in the file, from 1.
    pub number: usize,
    pub seq: i64,
    pub hash: String,
    pub pruned_to: i64,
    pub at: String,
}

/// The chain's head as [`Store::witness_audit_head`] found it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditHead {
    pub seq: i64,
    pub hash: String,
    /// The chain starts after this entry.
    pub pruned_to: i64,
    /// Whether it was recorded now (it had moved since it was last recorded).
    pub recorded: bool,
}

/// The MAC of a line's text under `key`, in hex.
fn seal(key: &[u8; 32], body: &str) -> Option<HmacSha256> {
    let mut m = <HmacSha256 as KeyInit>::new_from_slice(key).ok()?;
    m.update(LINE_LABEL);
    m.update(body.as_bytes());
    Some(m)
}

impl Witness {
    pub(crate) fn at(path: PathBuf) -> Witness {
        Witness {
            path: Some(path),
            last: Mutex::new(None),
        }
    }

    /// The witness file, when there is one.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The lines of the witness file (none without a file, or before the first is written);
    /// `Err((seq, problem))` names a line that is not as written.
    pub(crate) fn read(&self, keys: &Keyring) -> StoreResult<Result<Vec<Line>, (i64, String)>> {
        let Some(path) = &self.path else {
            return Ok(Ok(Vec::new()));
        };
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Ok(Vec::new())),
            Err(e) => {
                return Err(StoreError::Config(format!(
                    "cannot read the audit witness {}: {e}",
                    path.display()
                )));
            }
        };
        let mut lines = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let number = i + 1;
            if raw.trim().is_empty() {
                continue;
            }
            let fields: Vec<&str> = raw.split(' ').collect();
            let seq = fields.get(1).and_then(|s| s.parse().ok()).unwrap_or(0);
            let altered = |why: &str| {
                Ok(Err((
                    seq,
                    format!("line {number} of the witness {} was altered: {why}", path.display()),
                )))
            };
            let [version, _, hash, pruned_to, _, at, key_id, mac] = fields[..] else {
                return altered("it is not a witness line");
            };
            let (Ok(pruned_to), "v1") = (pruned_to.parse::<i64>(), version) else {
                return altered("it is not a witness line");
            };
            let Some(key) = keys.audit_mac_key_of(key_id) else {
                return Ok(Err((
                    seq,
                    format!(
                        "line {number} of the witness {} is sealed with data key {key_id}, which the key file \
                         does not hold",
                        path.display()
                    ),
                )));
            };
            let body = &raw[..raw.len() - mac.len() - 1];
            let good = hex::decode(mac).is_ok_and(|tag| seal(key, body).is_some_and(|m| m.verify_slice(&tag).is_ok()));
            if !good {
                return altered("its MAC does not verify");
            }
            lines.push(Line {
                number,
                seq,
                hash: hash.to_string(),
                pruned_to,
                at: at.to_string(),
            });
        }
        Ok(Ok(lines))
    }

    /// The head the file's last line names (its MAC unchecked: it only spares a repeated line).
    fn last_line(&self) -> Option<(i64, String, i64)> {
        let text = std::fs::read_to_string(self.path.as_ref()?).ok()?;
        let line = text.lines().rev().find(|l| !l.trim().is_empty())?;
        let f: Vec<&str> = line.split(' ').collect();
        Some((f.get(1)?.parse().ok()?, f.get(2)?.to_string(), f.get(3)?.parse().ok()?))
    }

    /// Appends a sealed line to the witness file (created mode 0600 when missing) and syncs it.
    fn append(&self, keys: &Keyring, head: (i64, &str, i64, &str), at: &str) -> StoreResult<()> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let (seq, hash, pruned_to, pruned_hash) = head;
        let (id, key) = keys.audit_mac_key();
        let body = format!("v1 {seq} {hash} {pruned_to} {pruned_hash} {at} {id}");
        let mac = seal(key, &body)
            .map(|m| hex::encode(m.finalize().into_bytes()))
            .unwrap_or_default();
        let err =
            |e: std::io::Error| StoreError::Config(format!("cannot write the audit witness {}: {e}", path.display()));
        let mut options = std::fs::OpenOptions::new();
        options.append(true).create(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(path).map_err(err)?;
        std::io::Write::write_all(&mut file, format!("{body} {mac}\n").as_bytes()).map_err(err)?;
        file.sync_data().map_err(err)
    }
}

impl Store {
    /// Records the chain's head outside the database, when it moved since it was last
    /// recorded: a tracing line, and a sealed line appended to the witness file when the store
    /// has one ([`Store::with_audit_witness`]). Answers the head.
    pub async fn witness_audit_head(&self) -> StoreResult<AuditHead> {
        let (seq, hash, pruned_to, pruned_hash): (i64, String, i64, String) =
            sqlx::query_as("SELECT seq, last_hash, pruned_to_seq, pruned_hash FROM audit_head WHERE id = 1")
                .fetch_one(&self.pool)
                .await?;
        let head = (seq, hash.clone(), pruned_to);
        let mut last = self.witness.last.lock().unwrap_or_else(|e| e.into_inner());
        if last.is_none() {
            *last = self.witness.last_line();
        }
        let recorded = last.as_ref() != Some(&head);
        if recorded {
            self.witness
                .append(&self.keys, (seq, &hash, pruned_to, &pruned_hash), &self.now_text())?;
            tracing::info!(
                seq,
                hash = %hash,
                pruned_to,
                witness = %self.witness.path().map(|p| p.display().to_string()).unwrap_or_default(),
                "audit chain head"
            );
            *last = Some(head);
        }
        Ok(AuditHead {
            seq,
            hash,
            pruned_to,
            recorded,
        })
    }
}
