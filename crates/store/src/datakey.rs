//! The data key's place in the database: which key the encrypted values are under, the one
//! check every command makes before it touches personal data ([`Store::unlock`]), and key
//! rotation ([`Store::rotate_data_key`]).
//!
//! The table `data_key` (one row) records the current key's id and fingerprint (never the key).
//! A key that is missing, or is not that key, is refused with what to restore and where: a new
//! key would leave every stored number unreadable and let an ID number already on file register
//! again (its keyed hash would differ). A new key is made only for a database that holds no
//! encrypted value; a database with encrypted values but no recorded key (one made before the
//! table existed) adopts the key it is given when that key decrypts its values.
//!
//! A rotation records the new key as `next_…` before the key file is rewritten, re-encrypts
//! every column of [`ENCRYPTED_COLUMNS`] and recomputes its keyed hash in batches (each its own
//! transaction), and switches the row to the new key only when no value under another key is
//! left. Interrupted, it is run again and carries on; meanwhile the older keys stay in the key
//! file, so every value still decrypts, but other commands refuse to start until it is done
//! (a look-up by keyed hash would miss the rows not yet moved).

use std::path::Path;

use crate::audit::AuditEvent;
use crate::crypto::{KEY_ENV, KEY_FILE, KeyOrigin, Keyring};
use crate::db::Store;
use crate::error::{StoreError, StoreResult};
use crate::people::{ID_FIELD, MOBILE_FIELD};
use crate::sessions::TOTP_FIELD;

/// One encrypted column: where it is, the field label bound into each ciphertext as
/// associated data, and the keyed look-up hash kept beside it, if any. The hash is of the same
/// canonical text that is encrypted (`IdNumber::as_str`, `Mobile::as_str`), so a rotation
/// hashes the decrypted value as it is.
#[derive(Debug, Clone, Copy)]
pub struct EncryptedColumn {
    pub table: &'static str,
    /// The table's integer primary key.
    pub id: &'static str,
    pub ciphertext: &'static str,
    pub field: &'static str,
    pub hash: Option<&'static str>,
}

/// Every column that holds values encrypted with the data key. A new encrypted column is one
/// more entry here: the start-up check samples it and a rotation re-encrypts it.
pub const ENCRYPTED_COLUMNS: &[EncryptedColumn] = &[
    EncryptedColumn {
        table: "persons",
        id: "id",
        ciphertext: "id_number_enc",
        field: ID_FIELD,
        hash: Some("id_number_hash"),
    },
    EncryptedColumn {
        table: "persons",
        id: "id",
        ciphertext: "mobile_enc",
        field: MOBILE_FIELD,
        hash: Some("mobile_hash"),
    },
    EncryptedColumn {
        table: "unit_contacts",
        id: "id",
        ciphertext: "mobile_enc",
        field: MOBILE_FIELD,
        hash: Some("mobile_hash"),
    },
    EncryptedColumn {
        table: "users",
        id: "id",
        ciphertext: "totp_secret",
        field: TOTP_FIELD,
        hash: None,
    },
    // An upload's preview (its refused rows carry cells as given); reports stored as JSON
    // before previews were encrypted are not values of this column (see `LIKE 'v1.%'` below).
    EncryptedColumn {
        table: "imports",
        id: "id",
        ciphertext: "report",
        field: crate::imports::REPORT_FIELD,
        hash: None,
    },
];

/// The binary column of uploaded files waiting between preview and commit
/// (`Keyring::encrypt_bytes`); a rotation re-encrypts it with the text columns.
const UPLOADS: (&str, &str) = ("imports", crate::imports::PAYLOAD_FIELD);

impl EncryptedColumn {
    /// `table.column`, for progress and messages.
    pub fn label(&self) -> String {
        format!("{}.{}", self.table, self.ciphertext)
    }
}

/// Rows re-encrypted per transaction by default.
pub const ROTATION_BATCH: i64 = 500;

/// How a rotation proceeds.
#[derive(Debug, Clone, Copy)]
pub struct RotateOptions {
    /// Rows per transaction.
    pub batch: i64,
    /// Stop (unfinished) after this many batches: a rotation cut short, to be run again.
    pub max_batches: Option<u64>,
}

impl Default for RotateOptions {
    fn default() -> Self {
        RotateOptions {
            batch: ROTATION_BATCH,
            max_batches: None,
        }
    }
}

/// What a run of [`Store::rotate_data_key`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotationReport {
    /// The key the database was under.
    pub from: String,
    /// The key it is (or, unfinished, is being) moved to.
    pub to: String,
    /// Values re-encrypted by this run.
    pub reencrypted: u64,
    /// Whether the database is now recorded under `to`.
    pub finished: bool,
}

/// The row of `data_key`.
#[derive(Debug, Clone, sqlx::FromRow)]
struct Recorded {
    key_id: String,
    fingerprint: String,
    next_key_id: Option<String>,
    next_fingerprint: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    /// Any command that reads or writes data.
    Use,
    /// `key rotate`: also accepts an unfinished rotation and a key given to rotate to.
    Rotate,
}

/// What to restore and where, for the refusals.
fn restore_hint(dir: &Path) -> String {
    format!(
        "restore it: put the file {KEY_FILE} back at {} (from your backup), or set {KEY_ENV} to it \
         (64 hex characters; older keys after it, comma-separated)",
        dir.join(KEY_FILE).display()
    )
}

fn refuse(message: String) -> StoreError {
    StoreError::Config(message)
}

impl Store {
    /// Loads the data key (`GONGJIAN_DATA_KEY`, else `data.key` in `dir`) and checks it against
    /// the key the database records; the one check every command makes before it reads or
    /// writes personal data. Returns the store using that key. Refused, with what to restore
    /// and where: a missing key for a database that holds encrypted values, another key than
    /// the recorded one, and an unfinished rotation. A fresh database gets a new key file
    /// (unless a key is given) and records it.
    pub async fn unlock(self, dir: &Path) -> StoreResult<Store> {
        let found = Keyring::find(dir)?;
        self.unlock_with(found, dir).await
    }

    /// [`Store::unlock`] with the key already read (`None`: none was found); `dir` is where the
    /// key file is (or would be created).
    pub async fn unlock_with(self, found: Option<(Keyring, KeyOrigin)>, dir: &Path) -> StoreResult<Store> {
        let (store, recorded) = self.settle(found, dir, Purpose::Use).await?;
        if let Some(next) = &recorded.next_key_id {
            return Err(refuse(format!(
                "a rotation of the data key (key id {} to key id {next}) is unfinished: run \
                 `gongjian key rotate` again to finish it before anything else uses this database",
                recorded.key_id
            )));
        }
        Ok(store)
    }

    /// The data key recorded for this database, `(key id, rotating to key id)`; `None` before
    /// any key was recorded.
    pub async fn recorded_data_key(&self) -> StoreResult<Option<(String, Option<String>)>> {
        Ok(self.recorded().await?.map(|r| (r.key_id, r.next_key_id)))
    }

    async fn recorded(&self) -> StoreResult<Option<Recorded>> {
        Ok(sqlx::query_as::<_, Recorded>(
            "SELECT key_id, fingerprint, next_key_id, next_fingerprint FROM data_key WHERE id = 1",
        )
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Records `keys`' current key as the database's (when none is yet), or `from` with a
    /// rotation to the current key under way. Returns what is recorded afterwards (another
    /// process may have been first).
    async fn record(&self, keys: &Keyring, from: Option<(&str, &str)>) -> StoreResult<Recorded> {
        let (id, fp, next_id, next_fp) = match from {
            None => (keys.current_id(), keys.fingerprint(), None, None),
            Some((id, fp)) => (id, fp, Some(keys.current_id()), Some(keys.fingerprint())),
        };
        sqlx::query(
            "INSERT INTO data_key (id, key_id, fingerprint, next_key_id, next_fingerprint, updated_at) \
             VALUES (1, $1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING",
        )
        .bind(id)
        .bind(fp)
        .bind(next_id)
        .bind(next_fp)
        .bind(self.now_text())
        .execute(&self.pool)
        .await?;
        self.recorded()
            .await?
            .ok_or_else(|| refuse("the data key could not be recorded".into()))
    }

    /// One stored value of each encrypted column that holds any.
    async fn samples(&self) -> StoreResult<Vec<(EncryptedColumn, String)>> {
        let mut out = Vec::new();
        for c in ENCRYPTED_COLUMNS {
            let sql = format!(
                "SELECT {ct} FROM {t} WHERE {ct} LIKE 'v1.%' ORDER BY {id} LIMIT 1",
                ct = c.ciphertext,
                t = c.table,
                id = c.id
            );
            let v: Option<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .fetch_optional(&self.pool)
                .await?;
            if let Some(v) = v {
                out.push((*c, v));
            }
        }
        Ok(out)
    }

    /// Values stored under the key `key_id`, over every encrypted column.
    async fn count_under(&self, key_id: &str) -> StoreResult<i64> {
        let mut n = 0;
        for c in ENCRYPTED_COLUMNS {
            let sql = format!("SELECT COUNT(*) FROM {} WHERE {} LIKE $1", c.table, c.ciphertext);
            let k: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .bind(format!("v1.{key_id}.%"))
                .fetch_one(&self.pool)
                .await?;
            n += k;
        }
        Ok(n)
    }

    /// Reads or makes the record of the data key and checks `found` against it; returns the
    /// store using the key and the record. An unfinished rotation is not refused here.
    async fn settle(
        self,
        found: Option<(Keyring, KeyOrigin)>,
        dir: &Path,
        purpose: Purpose,
    ) -> StoreResult<(Store, Recorded)> {
        let mut found = found;
        let recorded = match self.recorded().await? {
            Some(r) => r,
            None => {
                let samples = self.samples().await?;
                match (found.as_ref(), samples.first()) {
                    // A fresh database: the key given, or a new one.
                    (_, None) => {
                        if found.is_none() {
                            if self.engine == crate::db::Engine::Postgres {
                                tracing::warn!(
                                    "creating a new data key in {}: every node on this database must use \
                                     the same key (copy the file or set {KEY_ENV})",
                                    dir.join(KEY_FILE).display()
                                );
                            }
                            found = Some((Keyring::create_file(dir)?, KeyOrigin::File(dir.join(KEY_FILE))));
                        }
                        match &found {
                            Some((keys, _)) => self.record(keys, None).await?,
                            None => return Err(refuse("no data key".into())),
                        }
                    }
                    (None, Some((_, stored))) => {
                        let expected = Keyring::key_id_of(stored).unwrap_or("?");
                        return Err(refuse(format!(
                            "the data key is missing: this database holds values encrypted under key id \
                             {expected}, and no key was found (key id expected {expected}, found none); {}",
                            restore_hint(dir)
                        )));
                    }
                    // A database from before the key was recorded: adopt the key if it reads it.
                    (Some((keys, origin)), Some(_)) => {
                        let mut stale = None;
                        for (c, stored) in &samples {
                            let under = Keyring::key_id_of(stored).unwrap_or("?");
                            if keys.decrypt(c.field, stored).is_err() {
                                return Err(refuse(format!(
                                    "the data key from {origin} does not decrypt the values in this database \
                                     ({} is encrypted under key id {under}): key id expected {under}, found {}; {}",
                                    c.label(),
                                    keys.current_id(),
                                    restore_hint(dir)
                                )));
                            }
                            if stale.is_none() && under != keys.current_id() {
                                stale = keys
                                    .fingerprint_of_id(under)
                                    .map(|fp| (under.to_string(), fp.to_string()));
                            }
                        }
                        // Values under an older key of the ring: recorded as a rotation under way,
                        // which `key rotate` finishes (their keyed hashes are the older key's).
                        let from = stale.as_ref().map(|(id, fp)| (id.as_str(), fp.as_str()));
                        self.record(keys, from).await?
                    }
                }
            }
        };
        let Some((keys, origin)) = found else {
            return Err(refuse(format!(
                "the data key is missing: this database is encrypted under key id {} and no key was found \
                 (key id expected {}, found none); {}",
                recorded.key_id,
                recorded.key_id,
                restore_hint(dir)
            )));
        };
        let current = keys.fingerprint();
        let holds_recorded = keys.id_of_fingerprint(&recorded.fingerprint).is_some();
        let ok = current == recorded.fingerprint
            || (holds_recorded && recorded.next_fingerprint.as_deref() == Some(current))
            || (holds_recorded && purpose == Purpose::Rotate);
        if !ok {
            let rotate = if holds_recorded {
                " (to move the database to the new key, run `gongjian key rotate`)"
            } else {
                ""
            };
            let expected = match &recorded.next_key_id {
                Some(next) => format!("{} or, with {} after it, {next}", recorded.key_id, recorded.key_id),
                None => recorded.key_id.clone(),
            };
            return Err(refuse(format!(
                "the data key from {origin} is not this database's key: key id expected {expected}, found {}{rotate}; \
                 {}. Starting with another key would leave the stored ID and mobile numbers unreadable.",
                keys.current_id(),
                restore_hint(dir)
            )));
        }
        Ok((self.with_keyring(keys), recorded))
    }

    /// `gongjian key rotate`: moves every encrypted value to a new data key and recomputes every
    /// keyed hash, in batches of `options.batch` rows (one transaction each), reporting progress
    /// as `(column, done, total)`. The new key is made here and written first in the key file
    /// (older keys after it) — or, when the key comes from `GONGJIAN_DATA_KEY`, is the one the
    /// operator put first there. Run again after an interruption, it carries on with the same
    /// new key. Returns the store using the new key.
    pub async fn rotate_data_key(
        self,
        found: Option<(Keyring, KeyOrigin)>,
        dir: &Path,
        options: RotateOptions,
        progress: &dyn Fn(&str, u64, u64),
    ) -> StoreResult<(Store, RotationReport)> {
        let from_env = matches!(found, Some((_, KeyOrigin::Env)));
        let (store, recorded) = self.settle(found, dir, Purpose::Rotate).await?;
        let current = store.keys.fingerprint().to_string();
        if let Some(next_id) = &recorded.next_key_id
            && recorded.next_fingerprint.as_deref() != Some(current.as_str())
            && store.keys.fingerprint_of_id(next_id).is_none()
        {
            // A rotation to a key that did not reach the key file (or was lost since): it can
            // start over only when nothing was encrypted under it.
            let under = store.count_under(next_id).await?;
            if under > 0 {
                return Err(refuse(format!(
                    "{under} values are encrypted under key id {next_id}, which the data key does not hold \
                     (key id expected {next_id}, found {}); {}",
                    store.keys.current_id(),
                    restore_hint(dir)
                )));
            }
        }
        let store = if current == recorded.fingerprint {
            // A new key, written first in the key file once the database names it.
            if from_env {
                return Err(refuse(format!(
                    "the data key comes from {KEY_ENV}: put a new key (64 hex characters) first in that \
                     variable, the current key after it (comma-separated), and run `gongjian key rotate` \
                     again"
                )));
            }
            let rotated = store.keys.with_new_current()?;
            store.set_next(&rotated).await?;
            rotated.write_file(dir)?;
            store.with_keyring(rotated)
        } else {
            // Carrying on with the key recorded as next, or moving to the key the operator put
            // first.
            if recorded.next_fingerprint.as_deref() != Some(current.as_str()) {
                store.set_next(&store.keys.clone()).await?;
            }
            store
        };
        let mut report = RotationReport {
            from: recorded.key_id.clone(),
            to: store.keys.current_id().to_string(),
            reencrypted: 0,
            finished: false,
        };
        let mut batches = 0u64;
        // A pass that moves nothing leaves nothing stale; a few passes catch values a process
        // still running with the old key wrote meanwhile.
        for _ in 0..3 {
            let moved = store
                .reencrypt_pass(options, &mut batches, &mut report.reencrypted, progress)
                .await?;
            if moved.is_none() {
                return Ok((store, report));
            }
            if store.finish_rotation(&recorded.key_id, report.reencrypted).await? {
                report.finished = true;
                return Ok((store, report));
            }
        }
        Err(refuse(
            "values are still being written under the old data key: stop every server on this database \
             and run `gongjian key rotate` again"
                .into(),
        ))
    }

    async fn set_next(&self, keys: &Keyring) -> StoreResult<()> {
        sqlx::query("UPDATE data_key SET next_key_id = $1, next_fingerprint = $2, updated_at = $3 WHERE id = 1")
            .bind(keys.current_id())
            .bind(keys.fingerprint())
            .bind(self.now_text())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Re-encrypts, column by column, every value not under the current key. Returns `None`
    /// when stopped by `options.max_batches`, else the number of values moved.
    async fn reencrypt_pass(
        &self,
        options: RotateOptions,
        batches: &mut u64,
        total_moved: &mut u64,
        progress: &dyn Fn(&str, u64, u64),
    ) -> StoreResult<Option<u64>> {
        let prefix = format!("{}%", self.keys.current_prefix());
        let mut moved = 0u64;
        for c in ENCRYPTED_COLUMNS {
            let label = c.label();
            let count = format!(
                "SELECT COUNT(*) FROM {t} WHERE {ct} LIKE 'v1.%' AND {ct} NOT LIKE $1",
                t = c.table,
                ct = c.ciphertext
            );
            let total: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(count))
                .bind(&prefix)
                .fetch_one(&self.pool)
                .await?;
            if total == 0 {
                continue;
            }
            let total = total as u64;
            let mut done = 0u64;
            progress(&label, done, total);
            let select = format!(
                "SELECT {id}, {ct} FROM {t} WHERE {ct} LIKE 'v1.%' AND {ct} NOT LIKE $1 AND {id} > $2 \
                 ORDER BY {id} LIMIT $3",
                id = c.id,
                t = c.table,
                ct = c.ciphertext
            );
            let update = match c.hash {
                Some(h) => format!(
                    "UPDATE {} SET {} = $1, {h} = $2 WHERE {} = $3",
                    c.table, c.ciphertext, c.id
                ),
                None => format!("UPDATE {} SET {} = $1 WHERE {} = $2", c.table, c.ciphertext, c.id),
            };
            let mut after = 0i64;
            loop {
                if options.max_batches.is_some_and(|m| *batches >= m) {
                    return Ok(None);
                }
                let mut tx = self.begin_write().await?;
                let rows: Vec<(i64, String)> = sqlx::query_as(sqlx::AssertSqlSafe(select.clone()))
                    .bind(&prefix)
                    .bind(after)
                    .bind(options.batch.max(1))
                    .fetch_all(&mut *tx)
                    .await?;
                let Some(&(last, _)) = rows.last() else {
                    tx.rollback().await?;
                    break;
                };
                for (id, stored) in &rows {
                    let plain = self.keys.decrypt(c.field, stored).map_err(|e| {
                        refuse(format!(
                            "{label}, row {id}: {e}; the key that encrypted it is not in the key file"
                        ))
                    })?;
                    let sealed = self.keys.encrypt(c.field, &plain)?;
                    let q = sqlx::query(sqlx::AssertSqlSafe(update.clone())).bind(sealed);
                    let q = match c.hash {
                        Some(_) => q.bind(self.keys.lookup_hash(c.field, &plain)),
                        None => q,
                    };
                    q.bind(id).execute(&mut *tx).await.map_err(|e| {
                        let e = StoreError::from(e);
                        if e.is_unique_violation() {
                            refuse(format!(
                                "{label}, row {id}: another row holds the same value (a duplicate registered \
                                 while the keyed hashes were out of date); merge the two records and run \
                                 `gongjian key rotate` again"
                            ))
                        } else {
                            e
                        }
                    })?;
                }
                tx.commit().await?;
                *batches += 1;
                after = last;
                done += rows.len() as u64;
                moved += rows.len() as u64;
                *total_moved += rows.len() as u64;
                progress(&label, done.min(total), total);
            }
        }
        let uploads = self.reencrypt_uploads(progress).await?;
        moved += uploads;
        *total_moved += uploads;
        Ok(Some(moved))
    }

    /// Uploaded files not under the current key (a day's uploads at most: they are removed at
    /// commit or after 24 hours), re-encrypted one row per transaction. Returns how many.
    async fn reencrypt_uploads(&self, progress: &dyn Fn(&str, u64, u64)) -> StoreResult<u64> {
        let current = self.keys.current_prefix();
        let stale = self.stale_uploads(&current).await?;
        let total = stale.len() as u64;
        let label = format!("{}.payload", UPLOADS.0);
        for (done, id) in stale.into_iter().enumerate() {
            let mut tx = self.begin_write().await?;
            let stored: Option<Vec<u8>> = sqlx::query_scalar("SELECT payload FROM imports WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?
                .flatten();
            if let Some(stored) = stored.filter(|b| !b.starts_with(current.as_bytes())) {
                let plain = self.keys.decrypt_bytes(UPLOADS.1, &stored).map_err(|e| {
                    refuse(format!(
                        "{label}, row {id}: {e}; the key that encrypted it is not in the key file"
                    ))
                })?;
                sqlx::query("UPDATE imports SET payload = $1 WHERE id = $2")
                    .bind(self.keys.encrypt_bytes(UPLOADS.1, &plain)?)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            progress(&label, done as u64 + 1, total);
        }
        Ok(total)
    }

    /// The uploads whose file is encrypted under a key other than the one `current` names.
    async fn stale_uploads(&self, current: &str) -> StoreResult<Vec<i64>> {
        let rows: Vec<(i64, Vec<u8>)> =
            sqlx::query_as("SELECT id, payload FROM imports WHERE payload IS NOT NULL ORDER BY id")
                .fetch_all(&self.pool)
                .await?;
        Ok(rows
            .into_iter()
            .filter(|(_, p)| Keyring::is_encrypted_bytes(p) && !p.starts_with(current.as_bytes()))
            .map(|(id, _)| id)
            .collect())
    }

    /// Switches the record to the current key when no value under another key is left, with
    /// the audit entry, in one transaction. Returns whether it did.
    async fn finish_rotation(&self, from: &str, moved: u64) -> StoreResult<bool> {
        let prefix = format!("{}%", self.keys.current_prefix());
        let mut tx = self.begin_write().await?;
        for c in ENCRYPTED_COLUMNS {
            let sql = format!(
                "SELECT COUNT(*) FROM {t} WHERE {ct} LIKE 'v1.%' AND {ct} NOT LIKE $1",
                t = c.table,
                ct = c.ciphertext
            );
            let left: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .bind(&prefix)
                .fetch_one(&mut *tx)
                .await?;
            if left > 0 {
                tx.rollback().await?;
                return Ok(false);
            }
        }
        if !self.stale_uploads(&self.keys.current_prefix()).await?.is_empty() {
            tx.rollback().await?;
            return Ok(false);
        }
        sqlx::query(
            "UPDATE data_key SET key_id = $1, fingerprint = $2, next_key_id = NULL, next_fingerprint = NULL, \
             updated_at = $3 WHERE id = 1",
        )
        .bind(self.keys.current_id())
        .bind(self.keys.fingerprint())
        .bind(self.now_text())
        .execute(&mut *tx)
        .await?;
        self.append_audit(
            &mut tx,
            &AuditEvent {
                actor_name: "cli".into(),
                action: "key.rotate".into(),
                object: "data_key".into(),
                result: "success".into(),
                client_addr: "cli".into(),
                detail: format!(
                    "data key {from} replaced by {}; re-encrypted {moved} values in this run",
                    self.keys.current_id()
                ),
                ..AuditEvent::default()
            },
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }
}
