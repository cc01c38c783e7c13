//! Accounts, role grants and sessions.
//!
//! Passwords are hashed with argon2id; session tokens are random, handed to the browser once
//! and stored only as their SHA-256, so a copy of the database cannot be used to log in.

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
pub use chrono::Duration;
use chrono::Utc;
use gongjian_domain::access::{Actor, Grant, Reach, Role, check_password};
use rand::RngCore;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::db::Store;
use crate::error::{StoreError, StoreResult};
use crate::{now_text, time_text};

/// How long a session lives without use, and at most.
#[derive(Debug, Clone, Copy)]
pub struct SessionPolicy {
    pub idle: Duration,
    pub absolute: Duration,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        SessionPolicy {
            idle: Duration::minutes(30),
            absolute: Duration::hours(12),
        }
    }
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub must_change_password: i64,
    pub status: String,
    pub created_at: String,
}

/// A live session, as found from the cookie's token.
#[derive(Debug, Clone)]
pub struct SessionInfo {
    pub actor: Actor,
    pub display_name: String,
    pub must_change_password: bool,
    pub csrf_token: String,
}

#[derive(sqlx::FromRow)]
struct SessionRow {
    id: i64,
    user_id: i64,
    csrf_token: String,
    last_seen_at: String,
    expires_at: String,
    display_name: String,
    must_change_password: i64,
    status: String,
}

/// A freshly created session: the token goes into the cookie and is not kept in clear.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub token: String,
    pub csrf_token: String,
    pub must_change_password: bool,
}

pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    hex::encode(buf)
}

pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A one-time password that satisfies the password rules, without look-alike characters.
pub fn one_time_password() -> String {
    const SETS: [&[u8]; 4] = [
        b"abcdefghjkmnpqrstuvwxyz",
        b"ABCDEFGHJKLMNPQRSTUVWXYZ",
        b"23456789",
        b"-_.!",
    ];
    let mut rng = rand::rng();
    let mut out = String::new();
    for i in 0..16 {
        let set = SETS[if i < 4 {
            i
        } else {
            (rng.next_u32() % 3) as usize
        }];
        out.push(set[(rng.next_u32() as usize) % set.len()] as char);
    }
    out
}

fn hash_password(password: &str) -> StoreResult<String> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| StoreError::Config(format!("password hashing failed: {e}")))
}

fn verify_password(password: &str, hash: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// A hash to verify against when the user does not exist, so timing does not tell.
fn dummy_hash() -> &'static str {
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$0hEJWYBv9g5oU5oGQ6jr3K+yO/9bP1LVb3Sf0Fnw0uE"
}

fn valid_username(name: &str) -> Result<(), String> {
    let ok = (3..=32).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && name.chars().next().is_some_and(|c| c.is_ascii_alphabetic());
    if ok {
        Ok(())
    } else {
        Err("用户名为 3–32 个字母、数字、下划线、连字符或点，以字母开头".to_string())
    }
}

impl Store {
    /// Creates an account with a role. Used by the CLI and at first start; staff-facing user
    /// management goes through the accounts capability.
    pub async fn add_user(
        &self,
        username: &str,
        display_name: &str,
        password: &str,
        must_change_password: bool,
        role: Role,
        node_id: Option<i64>,
    ) -> StoreResult<User> {
        let username = username.trim();
        valid_username(username).map_err(|m| StoreError::field("username", m))?;
        check_password(username, password).map_err(|m| StoreError::field("password", m))?;
        let hash = {
            let pw = password.to_string();
            tokio::task::spawn_blocking(move || hash_password(&pw))
                .await
                .map_err(|e| StoreError::Config(format!("hashing task failed: {e}")))??
        };
        let mut tx = self.begin_write().await?;
        let taken: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE username = $1")
            .bind(username)
            .fetch_one(&mut *tx)
            .await?;
        if taken > 0 {
            return Err(StoreError::field(
                "username",
                format!("用户名“{username}”已存在"),
            ));
        }
        let now = now_text();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO users (username, display_name, password_hash, must_change_password, status, created_at, \
             updated_at) VALUES ($1, $2, $3, $4, 'active', $5, $5) RETURNING id",
        )
        .bind(username)
        .bind(display_name.trim())
        .bind(hash)
        .bind(i64::from(must_change_password))
        .bind(&now)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO role_grants (user_id, role, node_id, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(id)
        .bind(role.key())
        .bind(node_id)
        .bind(&now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.user(id).await
    }

    pub async fn user(&self, id: i64) -> StoreResult<User> {
        sqlx::query_as(
            "SELECT id, username, display_name, must_change_password, status, created_at FROM users WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)
    }

    pub async fn user_count(&self) -> StoreResult<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(&self.pool)
            .await?)
    }

    /// On a database without accounts, creates the administrator `admin` with a one-time
    /// password that must be changed at first login, and returns that password.
    pub async fn ensure_admin(&self) -> StoreResult<Option<String>> {
        if self.user_count().await? > 0 {
            return Ok(None);
        }
        let password = one_time_password();
        self.add_user(
            "admin",
            "系统管理员",
            &password,
            true,
            Role::SystemAdmin,
            None,
        )
        .await?;
        Ok(Some(password))
    }

    /// Resolves an account's grants into an [`Actor`].
    pub async fn actor(&self, user_id: i64) -> StoreResult<Actor> {
        let user = self.user(user_id).await?;
        let rows: Vec<(String, Option<i64>, Option<String>)> = sqlx::query_as(
            "SELECT g.role, g.node_id, n.path FROM role_grants g LEFT JOIN nodes n ON n.id = g.node_id \
             WHERE g.user_id = $1 AND g.revoked_at IS NULL",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        let grants = rows
            .into_iter()
            .filter_map(|(role, node_id, path)| {
                let role = Role::from_key(&role)?;
                let reach = match (node_id, path) {
                    (None, _) => Reach::All,
                    (Some(node_id), Some(path)) => Reach::Subtree { node_id, path },
                    (Some(_), None) => return None,
                };
                Some(Grant { role, reach })
            })
            .collect();
        Ok(Actor {
            user_id: user.id,
            username: user.username,
            grants,
        })
    }

    /// Checks a user name and password and opens a session. A wrong name and a wrong
    /// password give the same answer and take the same time.
    pub async fn login(&self, username: &str, password: &str) -> StoreResult<Option<NewSession>> {
        let row: Option<(i64, String, i64, String)> = sqlx::query_as(
            "SELECT id, password_hash, must_change_password, status FROM users WHERE username = $1",
        )
        .bind(username.trim())
        .fetch_optional(&self.pool)
        .await?;
        let hash = row
            .as_ref()
            .map(|r| r.1.clone())
            .unwrap_or_else(|| dummy_hash().to_string());
        let pw = password.to_string();
        let ok = tokio::task::spawn_blocking(move || verify_password(&pw, &hash))
            .await
            .map_err(|e| StoreError::Config(format!("verification task failed: {e}")))?;
        let Some((user_id, _, must_change, status)) = row else {
            return Ok(None);
        };
        if !ok || status != "active" {
            return Ok(None);
        }
        let token = random_token(32);
        let csrf_token = random_token(16);
        let now = Utc::now();
        let policy = SessionPolicy::default();
        sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, last_seen_at, expires_at) \
             VALUES ($1, $2, $3, $4, $4, $5)",
        )
        .bind(token_hash(&token))
        .bind(user_id)
        .bind(&csrf_token)
        .bind(time_text(now))
        .bind(time_text(now + policy.absolute))
        .execute(&self.pool)
        .await?;
        Ok(Some(NewSession {
            token,
            csrf_token,
            must_change_password: must_change != 0,
        }))
    }

    /// The session behind a cookie token, if it is live; refreshes its idle clock.
    pub async fn session(
        &self,
        token: &str,
        policy: SessionPolicy,
    ) -> StoreResult<Option<SessionInfo>> {
        let row: Option<SessionRow> = sqlx::query_as(
            "SELECT s.id, s.user_id, s.csrf_token, s.last_seen_at, s.expires_at, u.display_name, \
             u.must_change_password, u.status FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.token_hash = $1 AND s.ended_at IS NULL",
        )
        .bind(token_hash(token))
        .fetch_optional(&self.pool)
        .await?;
        let Some(SessionRow {
            id: sid,
            user_id,
            csrf_token,
            last_seen_at: last_seen,
            expires_at: expires,
            display_name,
            must_change_password: must_change,
            status,
        }) = row
        else {
            return Ok(None);
        };
        let now = Utc::now();
        let idle_limit = time_text(now - policy.idle);
        let now_s = time_text(now);
        if status != "active" || last_seen < idle_limit || expires < now_s {
            sqlx::query("UPDATE sessions SET ended_at = $1 WHERE id = $2")
                .bind(&now_s)
                .bind(sid)
                .execute(&self.pool)
                .await?;
            return Ok(None);
        }
        // Refresh at most once a minute, so reads do not turn into writes on every request.
        if last_seen < time_text(now - Duration::seconds(60)) {
            sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE id = $2")
                .bind(&now_s)
                .bind(sid)
                .execute(&self.pool)
                .await?;
        }
        let actor = self.actor(user_id).await?;
        Ok(Some(SessionInfo {
            actor,
            display_name,
            must_change_password: must_change != 0,
            csrf_token,
        }))
    }

    pub async fn logout(&self, token: &str) -> StoreResult<()> {
        sqlx::query("UPDATE sessions SET ended_at = $1 WHERE token_hash = $2 AND ended_at IS NULL")
            .bind(now_text())
            .bind(token_hash(token))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Changes a password after checking the current one and the password rules.
    pub async fn change_password(
        &self,
        actor: &Actor,
        current: &str,
        new: &str,
        confirm: &str,
    ) -> StoreResult<()> {
        let hash: String = sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1")
            .bind(actor.user_id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        let (cur, h) = (current.to_string(), hash.clone());
        let ok = tokio::task::spawn_blocking(move || verify_password(&cur, &h))
            .await
            .map_err(|e| StoreError::Config(format!("verification task failed: {e}")))?;
        let mut v = gongjian_domain::Validation::new();
        if !ok {
            v.push("current", "当前密码不正确");
        }
        if let Err(m) = check_password(&actor.username, new) {
            v.push("new_password", m);
        } else if new == current {
            v.push("new_password", "新密码不能与当前密码相同");
        }
        if new != confirm {
            v.push("confirm", "两次输入的新密码不一致");
        }
        v.into_result()?;
        let pw = new.to_string();
        let new_hash = tokio::task::spawn_blocking(move || hash_password(&pw))
            .await
            .map_err(|e| StoreError::Config(format!("hashing task failed: {e}")))??;
        sqlx::query("UPDATE users SET password_hash = $1, must_change_password = 0, updated_at = $2 WHERE id = $3")
            .bind(new_hash)
            .bind(now_text())
            .bind(actor.user_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Sets a new one-time password (for an operator who lost the first one), ends the user's
    /// sessions and returns the password.
    pub async fn reset_password(&self, username: &str) -> StoreResult<String> {
        let password = one_time_password();
        let pw = password.clone();
        let hash = tokio::task::spawn_blocking(move || hash_password(&pw))
            .await
            .map_err(|e| StoreError::Config(format!("hashing task failed: {e}")))??;
        let mut tx = self.begin_write().await?;
        let id: i64 = sqlx::query_scalar("SELECT id FROM users WHERE username = $1")
            .bind(username.trim())
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::field("username", format!("用户“{username}”不存在")))?;
        let now = now_text();
        sqlx::query("UPDATE users SET password_hash = $1, must_change_password = 1, updated_at = $2 WHERE id = $3")
            .bind(hash)
            .bind(&now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE sessions SET ended_at = $1 WHERE user_id = $2 AND ended_at IS NULL")
            .bind(&now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(password)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_time_passwords_follow_the_rules() {
        for _ in 0..50 {
            let p = one_time_password();
            assert_eq!(check_password("admin", &p), Ok(()), "{p}");
        }
    }

    #[test]
    fn hashes_verify() {
        let h = hash_password("Correct-horse-1").unwrap();
        assert!(verify_password("Correct-horse-1", &h));
        assert!(!verify_password("Correct-horse-2", &h));
        assert!(!verify_password("x", dummy_hash()));
    }
}
