//! Encryption of personal data at rest (AES-256-GCM) and keyed look-up hashes (HMAC-SHA256).
//!
//! A 32-byte master key is kept outside the database: in `data.key` in the data directory
//! (created on first start, mode 0600) or in the `GONGJIAN_DATA_KEY` environment variable
//! (64 hex characters), which several nodes on one PostgreSQL database must share. From the
//! master key three keys are derived: one to encrypt, one to hash, one to seal the audit chain
//! (`store::audit`). Stored ciphertexts name the key that made them (`v1.<key id>.<base64>`),
//! so after a rotation old values still decrypt until `gongjian key rotate` has re-encrypted
//! them. The field name is bound into each ciphertext as associated data, so a value cannot be
//! moved to another column unnoticed. A fourth derived key makes the key's fingerprint, which
//! the database records (table `data_key`) so a missing or different key is refused at start
//! ([`crate::datakey`]).

use std::path::Path;

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::error::{StoreError, StoreResult};

pub const KEY_FILE: &str = "data.key";
pub const KEY_ENV: &str = "GONGJIAN_DATA_KEY";

/// One master key with its derived keys.
#[derive(Clone)]
struct DataKey {
    id: String,
    master: [u8; 32],
    cipher: Aes256Gcm,
    mac: [u8; 32],
    fingerprint: String,
    /// Seals the audit chain's entries and witness lines (`store::audit`).
    audit: [u8; 32],
}

impl DataKey {
    fn new(master: [u8; 32]) -> StoreResult<DataKey> {
        let derive = |label: &[u8]| -> StoreResult<[u8; 32]> {
            let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(&master)
                .map_err(|_| StoreError::Config("invalid data key".into()))?;
            m.update(label);
            let out = m.finalize().into_bytes();
            let mut k = [0u8; 32];
            k.copy_from_slice(&out);
            Ok(k)
        };
        let enc = derive(b"gongjian/encrypt/v1")?;
        let cipher = Aes256Gcm::new_from_slice(&enc).map_err(|_| StoreError::Config("invalid data key".into()))?;
        let id = hex::encode(&Sha256::digest(master)[..4]);
        let mut check = <Hmac<Sha256> as KeyInit>::new_from_slice(&derive(b"gongjian/fingerprint/v1")?)
            .map_err(|_| StoreError::Config("invalid data key".into()))?;
        check.update(b"gongjian data key fingerprint");
        Ok(DataKey {
            id,
            master,
            cipher,
            mac: derive(b"gongjian/lookup/v1")?,
            fingerprint: hex::encode(check.finalize().into_bytes()),
            audit: derive(b"gongjian/audit-mac/v1")?,
        })
    }
}

/// The current key and any older ones still needed to read values not yet re-encrypted.
#[derive(Clone)]
pub struct Keyring {
    current: DataKey,
    older: Vec<DataKey>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Keyring(current {}, {} older)", self.current.id, self.older.len())
    }
}

fn parse_hex_key(text: &str) -> StoreResult<[u8; 32]> {
    let bytes =
        hex::decode(text.trim()).map_err(|_| StoreError::Config("a data key must be 64 hex characters".into()))?;
    bytes
        .try_into()
        .map_err(|_| StoreError::Config("a data key must be 32 bytes (64 hex characters)".into()))
}

fn random_key() -> [u8; 32] {
    let mut k = [0u8; 32];
    rand::rng().fill_bytes(&mut k);
    k
}

/// Where a keyring was read from, for messages that tell the operator what to restore.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyOrigin {
    /// The `GONGJIAN_DATA_KEY` environment variable.
    Env,
    /// The key file at this path.
    File(std::path::PathBuf),
}

impl std::fmt::Display for KeyOrigin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyOrigin::Env => write!(f, "the variable {KEY_ENV}"),
            KeyOrigin::File(path) => write!(f, "the file {}", path.display()),
        }
    }
}

impl Keyring {
    /// A keyring with a fresh random key that lives only in memory (tests, scratch databases).
    pub fn ephemeral() -> StoreResult<Keyring> {
        Ok(Keyring {
            current: DataKey::new(random_key())?,
            older: Vec::new(),
        })
    }

    /// Parses the key file format: one 64-hex-character key per line, the current key first;
    /// blank lines and lines starting with `#` are ignored.
    pub fn parse(text: &str) -> StoreResult<Keyring> {
        let mut keys = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|l| parse_hex_key(l).and_then(DataKey::new));
        let current = keys
            .next()
            .ok_or_else(|| StoreError::Config("the data key file holds no key".into()))??;
        let older = keys.collect::<StoreResult<Vec<_>>>()?;
        Ok(Keyring { current, older })
    }

    /// The key from `GONGJIAN_DATA_KEY` when set, else from `data.key` in `dir`, which is
    /// created with a new random key (mode 0600) when missing. A program that opens a database
    /// checks the key against it instead ([`crate::Store::unlock`]).
    pub fn load_or_create(dir: &Path) -> StoreResult<Keyring> {
        match Keyring::find(dir)? {
            Some((keys, _)) => Ok(keys),
            None => Keyring::create_file(dir),
        }
    }

    /// The key from `GONGJIAN_DATA_KEY` when set, else from `data.key` in `dir`, with where it
    /// came from; `None` when there is neither.
    pub fn find(dir: &Path) -> StoreResult<Option<(Keyring, KeyOrigin)>> {
        if let Ok(v) = std::env::var(KEY_ENV)
            && !v.trim().is_empty()
        {
            return Ok(Some((Keyring::parse(&v.replace(',', "\n"))?, KeyOrigin::Env)));
        }
        let path = dir.join(KEY_FILE);
        if path.exists() {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| StoreError::Config(format!("cannot read {}: {e}", path.display())))?;
            let keys = Keyring::parse(&text).map_err(|e| StoreError::Config(format!("{}: {e}", path.display())))?;
            return Ok(Some((keys, KeyOrigin::File(path))));
        }
        Ok(None)
    }

    /// Writes `data.key` in `dir` with a new random key (mode 0600) and returns it.
    pub fn create_file(dir: &Path) -> StoreResult<Keyring> {
        let path = dir.join(KEY_FILE);
        std::fs::create_dir_all(dir)
            .map_err(|e| StoreError::Config(format!("cannot create {}: {e}", dir.display())))?;
        let text = format!(
            "# Gongjian data key: encrypts ID and phone numbers at rest. Back it up apart from the\n\
             # database; without it the encrypted values cannot be read. First line = current key.\n{}\n",
            hex::encode(random_key())
        );
        write_private(&path, &text)?;
        Keyring::parse(&text)
    }

    /// Writes a new key file whose current key is fresh and whose older keys are this
    /// keyring's keys; returns the new keyring. Values are re-encrypted separately.
    pub fn rotate_file(&self, dir: &Path) -> StoreResult<Keyring> {
        let rotated = self.with_new_current()?;
        rotated.write_file(dir)?;
        Ok(rotated)
    }

    /// This keyring with a fresh random key first and its own keys after it (in memory).
    pub fn with_new_current(&self) -> StoreResult<Keyring> {
        let mut older = vec![self.current.clone()];
        older.extend(self.older.iter().cloned());
        Ok(Keyring {
            current: DataKey::new(random_key())?,
            older,
        })
    }

    /// Writes this keyring to `data.key` in `dir` (mode 0600), the current key first.
    pub fn write_file(&self, dir: &Path) -> StoreResult<()> {
        let lines: Vec<String> = std::iter::once(&self.current)
            .chain(self.older.iter())
            .map(|k| hex::encode(k.master))
            .collect();
        let text = format!(
            "# Gongjian data key: first line = current key; the others decrypt older values.\n{}\n",
            lines.join("\n")
        );
        write_private(&dir.join(KEY_FILE), &text)
    }

    pub fn current_id(&self) -> &str {
        &self.current.id
    }

    /// The current key's fingerprint: an HMAC of a fixed label under a key derived from the
    /// master key, safe to store (it reveals nothing of the key).
    pub fn fingerprint(&self) -> &str {
        &self.current.fingerprint
    }

    /// The id of the key (current or older) whose fingerprint is `fingerprint`, if held.
    pub fn id_of_fingerprint(&self, fingerprint: &str) -> Option<&str> {
        std::iter::once(&self.current)
            .chain(self.older.iter())
            .find(|k| k.fingerprint == fingerprint)
            .map(|k| k.id.as_str())
    }

    /// The fingerprint of the held key (current or older) with id `id`.
    pub fn fingerprint_of_id(&self, id: &str) -> Option<&str> {
        std::iter::once(&self.current)
            .chain(self.older.iter())
            .find(|k| k.id == id)
            .map(|k| k.fingerprint.as_str())
    }

    /// The id of the key a stored value names (`v1.<key id>.…`), without decrypting it.
    pub fn key_id_of(stored: &str) -> Option<&str> {
        let mut parts = stored.splitn(3, '.');
        match (parts.next(), parts.next(), parts.next()) {
            (Some("v1"), Some(id), Some(_)) => Some(id),
            _ => None,
        }
    }

    /// The prefix every value encrypted under the current key starts with.
    pub fn current_prefix(&self) -> String {
        format!("v1.{}.", self.current.id)
    }

    /// The key that seals new entries of the audit chain (HMAC-SHA256), derived from the
    /// current master key, with that key's id.
    pub fn audit_mac_key(&self) -> (&str, &[u8; 32]) {
        (&self.current.id, &self.current.audit)
    }

    /// The audit key derived from the master key `id` (current or older), to check entries
    /// sealed before a rotation; `None` when the keyring holds no such key.
    pub fn audit_mac_key_of(&self, id: &str) -> Option<&[u8; 32]> {
        std::iter::once(&self.current)
            .chain(self.older.iter())
            .find(|k| k.id == id)
            .map(|k| &k.audit)
    }

    /// Encrypts `plaintext` for the column `field`.
    pub fn encrypt(&self, field: &str, plaintext: &str) -> StoreResult<String> {
        let mut nonce = [0u8; 12];
        rand::rng().fill_bytes(&mut nonce);
        let n = aes_gcm::aead::Nonce::<Aes256Gcm>::try_from(&nonce[..])
            .map_err(|_| StoreError::Config("nonce size".into()))?;
        let ct = self
            .current
            .cipher
            .encrypt(
                &n,
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: field.as_bytes(),
                },
            )
            .map_err(|_| StoreError::Config("encryption failed".into()))?;
        let mut blob = nonce.to_vec();
        blob.extend(ct);
        Ok(format!(
            "v1.{}.{}",
            self.current.id,
            base64::engine::general_purpose::STANDARD_NO_PAD.encode(blob)
        ))
    }

    /// Decrypts a value stored by [`Keyring::encrypt`] for the same `field`.
    pub fn decrypt(&self, field: &str, stored: &str) -> StoreResult<String> {
        let bad = || {
            StoreError::Config(format!(
                "an encrypted {field} value cannot be read (wrong key or altered)"
            ))
        };
        let mut parts = stored.splitn(3, '.');
        let (Some("v1"), Some(id), Some(body)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad());
        };
        let key = std::iter::once(&self.current)
            .chain(self.older.iter())
            .find(|k| k.id == id)
            .ok_or_else(bad)?;
        let blob = base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(body)
            .map_err(|_| bad())?;
        if blob.len() < 12 + 16 {
            return Err(bad());
        }
        let n = aes_gcm::aead::Nonce::<Aes256Gcm>::try_from(&blob[..12]).map_err(|_| bad())?;
        let pt = key
            .cipher
            .decrypt(
                &n,
                Payload {
                    msg: &blob[12..],
                    aad: field.as_bytes(),
                },
            )
            .map_err(|_| bad())?;
        String::from_utf8(pt).map_err(|_| bad())
    }

    /// Whether a stored value was made with an older key (and so needs re-encryption).
    pub fn is_stale(&self, stored: &str) -> bool {
        !stored.starts_with(&self.current_prefix())
    }

    /// The keyed look-up hash of a normalised value, for finding and de-duplicating records
    /// without decrypting them.
    pub fn lookup_hash(&self, field: &str, value: &str) -> String {
        let Ok(mut m) = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.current.mac) else {
            return String::new();
        };
        m.update(field.as_bytes());
        m.update(&[0]);
        m.update(value.as_bytes());
        hex::encode(m.finalize().into_bytes())
    }
}

fn write_private(path: &Path, text: &str) -> StoreResult<()> {
    let err = |e: std::io::Error| StoreError::Config(format!("cannot write {}: {e}", path.display()));
    #[cfg(unix)]
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let tmp = path.with_extension("key.new");
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(err)?;
        f.write_all(text.as_bytes()).map_err(err)?;
        f.sync_all().map_err(err)?;
        std::fs::rename(&tmp, path).map_err(err)?;
    }
    #[cfg(not(unix))]
    std::fs::write(path, text).map_err(err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_binds_field_and_key() {
        let k = Keyring::ephemeral().unwrap();
        let c = k.encrypt("id_number", "11010519491231002X").unwrap();
        assert!(!c.contains("1101051949"));
        assert_eq!(k.decrypt("id_number", &c).unwrap(), "11010519491231002X");
        assert!(k.decrypt("mobile", &c).is_err(), "moved to another column");
        let other = Keyring::ephemeral().unwrap();
        assert!(other.decrypt("id_number", &c).is_err(), "another key");
        let mut altered = c.clone();
        altered.pop();
        altered.push(if c.ends_with('A') { 'B' } else { 'A' });
        assert!(k.decrypt("id_number", &altered).is_err());
    }

    #[test]
    fn hashes_are_keyed_and_stable() {
        let k = Keyring::parse(&"ab".repeat(32)).unwrap();
        let h1 = k.lookup_hash("mobile", "13812345678");
        assert_eq!(h1, k.lookup_hash("mobile", "13812345678"));
        assert_ne!(h1, k.lookup_hash("id_number", "13812345678"));
        assert_ne!(
            h1,
            Keyring::parse(&"cd".repeat(32))
                .unwrap()
                .lookup_hash("mobile", "13812345678")
        );
        assert_eq!(h1.len(), 64);
    }

    #[test]
    fn key_file_is_private_and_rotation_keeps_old_values_readable() {
        let dir = std::env::temp_dir().join(format!("gj-key-{}", random_token_hex()));
        let k = Keyring::load_or_create(&dir).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.join(KEY_FILE)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let again = Keyring::load_or_create(&dir).unwrap();
        assert_eq!(k.current_id(), again.current_id());
        let old = k.encrypt("mobile", "13812345678").unwrap();
        let rotated = k.rotate_file(&dir).unwrap();
        assert_ne!(rotated.current_id(), k.current_id());
        assert!(rotated.is_stale(&old));
        assert_eq!(rotated.decrypt("mobile", &old).unwrap(), "13812345678");
        assert_eq!(
            Keyring::load_or_create(&dir).unwrap().current_id(),
            rotated.current_id()
        );
        std::fs::remove_dir_all(&dir).ok();
    }

    fn random_token_hex() -> String {
        hex::encode(random_key())[..12].to_string()
    }

    #[test]
    fn malformed_keys_are_refused() {
        assert!(Keyring::parse("").is_err());
        assert!(Keyring::parse("abcd").is_err());
        assert!(Keyring::parse(&"zz".repeat(32)).is_err());
    }
}

// Binary values (an upload kept between its preview and its commit): the same cipher and key
// choice as the text values above, stored as raw bytes `v1.<key id>.` + nonce + ciphertext.

/// What a binary ciphertext starts with: the format's version.
const BYTES_PREFIX: &[u8] = b"v1.";

impl Keyring {
    /// Encrypts `plaintext` bytes for the column `field` (bound in as associated data).
    pub fn encrypt_bytes(&self, field: &str, plaintext: &[u8]) -> StoreResult<Vec<u8>> {
        let mut nonce = [0u8; 12];
        rand::rng().fill_bytes(&mut nonce);
        let n = aes_gcm::aead::Nonce::<Aes256Gcm>::try_from(&nonce[..])
            .map_err(|_| StoreError::Config("nonce size".into()))?;
        let payload = Payload {
            msg: plaintext,
            aad: field.as_bytes(),
        };
        let ct = self
            .current
            .cipher
            .encrypt(&n, payload)
            .map_err(|_| StoreError::Config("encryption failed".into()))?;
        let mut out = Vec::with_capacity(BYTES_PREFIX.len() + self.current.id.len() + 1 + nonce.len() + ct.len());
        out.extend_from_slice(BYTES_PREFIX);
        out.extend_from_slice(self.current.id.as_bytes());
        out.push(b'.');
        out.extend_from_slice(&nonce);
        out.extend(ct);
        Ok(out)
    }

    /// Whether `stored` has the form [`Keyring::encrypt_bytes`] gives (it may still not decrypt).
    pub fn is_encrypted_bytes(stored: &[u8]) -> bool {
        stored.starts_with(BYTES_PREFIX)
    }

    /// Decrypts bytes stored by [`Keyring::encrypt_bytes`] for the same `field`.
    pub fn decrypt_bytes(&self, field: &str, stored: &[u8]) -> StoreResult<Vec<u8>> {
        let bad = || {
            StoreError::Config(format!(
                "an encrypted {field} value cannot be read (wrong key or altered)"
            ))
        };
        let rest = stored.strip_prefix(BYTES_PREFIX).ok_or_else(bad)?;
        let dot = rest.iter().position(|b| *b == b'.').ok_or_else(bad)?;
        let (id, blob) = (&rest[..dot], &rest[dot + 1..]);
        let key = std::iter::once(&self.current)
            .chain(self.older.iter())
            .find(|k| k.id.as_bytes() == id)
            .ok_or_else(bad)?;
        if blob.len() < 12 + 16 {
            return Err(bad());
        }
        let n = aes_gcm::aead::Nonce::<Aes256Gcm>::try_from(&blob[..12]).map_err(|_| bad())?;
        let payload = Payload {
            msg: &blob[12..],
            aad: field.as_bytes(),
        };
        key.cipher.decrypt(&n, payload).map_err(|_| bad())
    }
}

#[cfg(test)]
mod bytes_tests {
    use super::*;

    #[test]
    fn bytes_round_trip_binds_field_and_key() {
        let k = Keyring::ephemeral().unwrap();
        let plain = "姓名,身份证号\n林志明,11010519491231002X\n".as_bytes();
        let c = k.encrypt_bytes("imports.payload", plain).unwrap();
        assert!(Keyring::is_encrypted_bytes(&c));
        assert!(!c.windows(10).any(|w| w == b"1101051949"));
        assert_eq!(k.decrypt_bytes("imports.payload", &c).unwrap(), plain);
        assert!(
            k.decrypt_bytes("imports.report", &c).is_err(),
            "moved to another column"
        );
        assert!(
            Keyring::ephemeral()
                .unwrap()
                .decrypt_bytes("imports.payload", &c)
                .is_err(),
            "another key"
        );
        let mut altered = c.clone();
        let last = altered.len() - 1;
        altered[last] ^= 1;
        assert!(k.decrypt_bytes("imports.payload", &altered).is_err());
        assert!(
            k.decrypt_bytes("imports.payload", plain).is_err(),
            "plaintext is not a ciphertext"
        );
        assert!(!Keyring::is_encrypted_bytes(plain));
    }
}
