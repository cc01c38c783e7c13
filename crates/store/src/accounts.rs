//! Accounts, role grants and sessions.
//!
//! Passwords are hashed with argon2id; session tokens are random, handed to the browser once
//! and stored only as their SHA-256, so a copy of the database cannot be used to log in.

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
pub use chrono::Duration;

use gongjian_domain::access::{Actor, Grant, Reach, Right, Role, Scope, check_password};
use rand::RngCore;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::Page;
use crate::audit::AuditEvent;
use crate::db::Store;
use crate::error::{StoreError, StoreResult};
use crate::scope;
use crate::sql::Sql;

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
        let set = SETS[if i < 4 { i } else { (rng.next_u32() % 3) as usize }];
        out.push(set[(rng.next_u32() as usize) % set.len()] as char);
    }
    out
}

pub(crate) fn hash_password(password: &str) -> StoreResult<String> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| StoreError::Config(format!("password hashing failed: {e}")))
}

pub(crate) fn verify_password(password: &str, hash: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(parsed) => Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    }
}

/// A hash to verify against when the user does not exist, so timing does not tell.
pub(crate) fn dummy_hash() -> &'static str {
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
            return Err(StoreError::field("username", format!("用户名“{username}”已存在")));
        }
        let now = self.now_text();
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
        sqlx::query("INSERT INTO role_grants (user_id, role, node_id, created_at) VALUES ($1, $2, $3, $4)")
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

    /// On a database where nobody can sign in — no active account, and no `admin` yet (the demo's
    /// activity organisers are disabled records, not accounts) — creates the administrator
    /// `admin` with a one-time password that must be changed at first login, and returns that
    /// password.
    pub async fn ensure_admin(&self) -> StoreResult<Option<String>> {
        let (active, admin): (i64, i64) = sqlx::query_as(
            "SELECT COALESCE(SUM(CASE WHEN status = 'active' THEN 1 ELSE 0 END), 0), \
             COALESCE(SUM(CASE WHEN username = 'admin' THEN 1 ELSE 0 END), 0) FROM users",
        )
        .fetch_one(&self.pool)
        .await?;
        if active > 0 || admin > 0 {
            return Ok(None);
        }
        let password = one_time_password();
        self.add_user("admin", "系统管理员", &password, true, Role::SystemAdmin, None)
            .await?;
        self.audit(&AuditEvent {
            actor_name: "system".into(),
            action: "user.create".into(),
            object: "user:admin".into(),
            result: "success".into(),
            client_addr: "local".into(),
            detail: "bootstrap administrator with a one-time password".into(),
            ..AuditEvent::default()
        })
        .await?;
        Ok(Some(password))
    }

    /// The actor of a named, active account (for operators' commands).
    pub async fn actor_by_name(&self, username: &str) -> StoreResult<Actor> {
        let id: i64 = sqlx::query_scalar("SELECT id FROM users WHERE username = $1 AND status = 'active'")
            .bind(username.trim())
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::field("user", format!("用户“{username}”不存在或已停用")))?;
        self.actor(id).await
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
            .filter_map(|(role, node_id, path)| grant(&role, node_id, path))
            .collect();
        Ok(Actor {
            user_id: user.id,
            username: user.username,
            grants,
        })
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
        let now = self.now_text();
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

/// A grant as listed.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct GrantView {
    pub id: i64,
    pub user_id: i64,
    pub role: String,
    pub node_id: Option<i64>,
    pub node_name: Option<String>,
    pub node_code: Option<String>,
    pub node_path: Option<String>,
    pub created_at: String,
}

impl GrantView {
    pub fn role_label(&self) -> &'static str {
        Role::from_key(&self.role).map(|r| r.label_zh()).unwrap_or("")
    }

    pub fn scope_label(&self) -> String {
        match (&self.node_name, &self.node_code) {
            (Some(n), Some(c)) => format!("{n}（{c}）"),
            _ => "全部".to_string(),
        }
    }
}

/// An account with its live grants.
#[derive(Debug, Clone, Serialize)]
pub struct UserSummary {
    pub user: User,
    pub totp_enabled: bool,
    pub grants: Vec<GrantView>,
}

/// Input to create an account.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct NewAccount {
    pub username: String,
    pub display_name: String,
    pub role: String,
    /// Code of the node the role applies to; blank for everywhere (administrators).
    pub node_code: String,
}

const GRANT_SELECT: &str = "SELECT g.id, g.user_id, g.role, g.node_id, n.name AS node_name, n.code AS node_code, \
     n.path AS node_path, g.created_at FROM role_grants g LEFT JOIN nodes n ON n.id = g.node_id";

fn audit_event(actor: &Actor, action: &str, object: String, client: &str, detail: String) -> AuditEvent {
    AuditEvent::by(actor, action, object, client).with_detail(detail)
}

impl Store {
    /// Accounts the actor manages: those with a grant inside the actor's account scope, by
    /// user name. `cursor` is the last user name of the previous page.
    pub async fn users_page(
        &self,
        actor: &Actor,
        q: &str,
        cursor: Option<&str>,
        limit: i64,
    ) -> StoreResult<Page<UserSummary>> {
        let limit = limit.clamp(1, 200);
        let mut sql = Sql::new(
            "SELECT u.id, u.username, u.display_name, u.must_change_password, u.status, u.created_at FROM users u WHERE ",
        );
        match actor.scope(Right::ManageAccounts) {
            Scope::Everything => {
                sql.push("1 = 1");
            }
            _ => {
                sql.push(
                    "EXISTS (SELECT 1 FROM role_grants g JOIN nodes n ON n.id = g.node_id WHERE g.user_id = u.id AND ",
                );
                scope::push_filter(&mut sql, actor, Right::ManageAccounts, "n.path");
                sql.push(")");
            }
        }
        // A NUL matches nothing (and PostgreSQL text cannot hold it).
        let q = q.trim().replace('\0', "\u{FFFD}");
        let q = q.as_str();
        if !q.is_empty() {
            let escaped = q.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
            sql.push(" AND (u.username LIKE ")
                .bind(format!("%{escaped}%"))
                .push(" ESCAPE '\\' OR u.display_name LIKE ")
                .bind(format!("%{escaped}%"))
                .push(" ESCAPE '\\')");
        }
        if let Some(c) = cursor {
            sql.push(" AND u.username > ").bind(c.replace('\0', "\u{FFFD}"));
        }
        sql.push(" ORDER BY u.username LIMIT ").bind(limit + 1);
        let mut users: Vec<User> = sql.query_as().fetch_all(&self.pool).await?;
        let next_cursor = if users.len() as i64 > limit {
            users.truncate(limit as usize);
            users.last().map(|u| u.username.clone())
        } else {
            None
        };
        let ids: Vec<i64> = users.iter().map(|u| u.id).collect();
        let mut gsql = Sql::new(&format!("{GRANT_SELECT} WHERE g.revoked_at IS NULL AND g.user_id IN "));
        gsql.bind_list(&ids).push(" ORDER BY g.id");
        let grants: Vec<GrantView> = gsql.query_as().fetch_all(&self.pool).await?;
        let mut tsql = Sql::new("SELECT id FROM users WHERE totp_enabled_at IS NOT NULL AND id IN ");
        tsql.bind_list(&ids);
        let totp: Vec<(i64,)> = tsql.query_as().fetch_all(&self.pool).await?;
        let items = users
            .into_iter()
            .map(|user| UserSummary {
                totp_enabled: totp.iter().any(|(id,)| *id == user.id),
                grants: grants.iter().filter(|g| g.user_id == user.id).cloned().collect(),
                user,
            })
            .collect();
        Ok(Page { items, next_cursor })
    }

    /// One account, if the actor manages it (or it is the actor's own).
    pub async fn user_summary(&self, actor: &Actor, id: i64) -> StoreResult<UserSummary> {
        let user = self.user(id).await?;
        let grants: Vec<GrantView> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "{GRANT_SELECT} WHERE g.revoked_at IS NULL AND g.user_id = $1 ORDER BY g.id"
        )))
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        let visible = id == actor.user_id
            || match actor.scope(Right::ManageAccounts) {
                Scope::Everything => true,
                scope => grants
                    .iter()
                    .any(|g| g.node_path.as_deref().is_some_and(|p| scope.contains_path(p))),
            };
        if !visible {
            return Err(StoreError::NotFound);
        }
        let totp_enabled = self.totp_enabled(id).await?;
        Ok(UserSummary {
            user,
            totp_enabled,
            grants,
        })
    }

    /// Whether the actor may act on the account: not the actor's own, and every role it holds
    /// is one the actor may grant where it is held.
    fn may_manage(actor: &Actor, target: &UserSummary) -> bool {
        target.user.id != actor.user_id
            && target
                .grants
                .iter()
                .all(|g| Role::from_key(&g.role).is_some_and(|r| actor.may_grant(r, g.node_path.as_deref())))
    }

    async fn check_grant(
        &self,
        actor: &Actor,
        target: Option<&UserSummary>,
        role: &str,
        node_code: &str,
    ) -> StoreResult<(Role, Option<i64>)> {
        let Some(role) = Role::from_key(role.trim()) else {
            return Err(StoreError::field("role", "请选择角色"));
        };
        let node = match node_code.trim() {
            "" => None,
            code => Some(
                self.node_by_code(actor, code)
                    .await
                    .map_err(|_| StoreError::field("node_code", "该区域不存在或不在您的管理范围内"))?,
            ),
        };
        if role.is_administrator() && node.is_some() {
            return Err(StoreError::field("node_code", "管理员角色适用于全部区域，范围请留空"));
        }
        if !role.is_administrator() && node.is_none() && !actor.may_grant(role, None) {
            return Err(StoreError::field("node_code", "请填写该角色适用的区域代码"));
        }
        if !actor.may_grant(role, node.as_ref().map(|n| n.path.as_str())) {
            return Err(StoreError::field(
                "role",
                format!("您无权在该范围授予“{}”角色", role.label_zh()),
            ));
        }
        if let Some(t) = target {
            if t.user.id == actor.user_id {
                return Err(StoreError::field("role", "不能给自己授予角色"));
            }
            let holds_admin = t
                .grants
                .iter()
                .filter_map(|g| Role::from_key(&g.role))
                .find(|r| r.is_administrator());
            if let Some(held) = holds_admin
                && (role.is_administrator() || held == role)
            {
                return Err(StoreError::field(
                    "role",
                    format!("该账户已是{}，三类管理员角色不能兼任", held.label_zh()),
                ));
            }
            if role.is_administrator() && !t.grants.is_empty() {
                return Err(StoreError::field("role", "管理员账户应专用，请为其新建账户"));
            }
        }
        Ok((role, node.map(|n| n.id)))
    }

    /// Creates an account with one grant; returns it and its one-time password.
    pub async fn create_account(
        &self,
        actor: &Actor,
        input: &NewAccount,
        client: &str,
    ) -> StoreResult<(UserSummary, String)> {
        let (role, node_id) = self.check_grant(actor, None, &input.role, &input.node_code).await?;
        let display = input.display_name.trim();
        if display.is_empty() || display.chars().count() > 40 || display.contains('\0') {
            return Err(StoreError::field("display_name", "请填写 1–40 个字符的姓名"));
        }
        let password = one_time_password();
        let user = self
            .add_user(&input.username, display, &password, true, role, node_id)
            .await?;
        self.audit(&audit_event(
            actor,
            "user.create",
            format!("user:{}", user.username),
            client,
            format!("role {}", role.key()),
        ))
        .await?;
        Ok((self.user_summary(actor, user.id).await?, password))
    }

    /// Grants another role to an account.
    pub async fn grant_role(
        &self,
        actor: &Actor,
        user_id: i64,
        role: &str,
        node_code: &str,
        client: &str,
    ) -> StoreResult<()> {
        let target = self.user_summary(actor, user_id).await?;
        let (role, node_id) = self.check_grant(actor, Some(&target), role, node_code).await?;
        let mut tx = self.begin_write().await?;
        sqlx::query("INSERT INTO role_grants (user_id, role, node_id, created_at) VALUES ($1, $2, $3, $4)")
            .bind(user_id)
            .bind(role.key())
            .bind(node_id)
            .bind(self.now_text())
            .execute(&mut *tx)
            .await?;
        self.append_audit(
            &mut tx,
            &audit_event(
                actor,
                "grant.add",
                format!("user:{}", target.user.username),
                client,
                format!("role {} node {:?}", role.key(), node_id),
            ),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Revokes a grant the actor could have given.
    pub async fn revoke_grant(&self, actor: &Actor, grant_id: i64, client: &str) -> StoreResult<()> {
        let grant: GrantView = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "{GRANT_SELECT} WHERE g.id = $1 AND g.revoked_at IS NULL"
        )))
        .bind(grant_id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?;
        let target = self.user_summary(actor, grant.user_id).await?;
        let role = Role::from_key(&grant.role).ok_or(StoreError::NotFound)?;
        if target.user.id == actor.user_id || !actor.may_grant(role, grant.node_path.as_deref()) {
            return Err(StoreError::Forbidden);
        }
        let mut tx = self.begin_write().await?;
        sqlx::query("UPDATE role_grants SET revoked_at = $1 WHERE id = $2")
            .bind(self.now_text())
            .bind(grant_id)
            .execute(&mut *tx)
            .await?;
        self.append_audit(
            &mut tx,
            &audit_event(
                actor,
                "grant.revoke",
                format!("user:{}", target.user.username),
                client,
                format!("role {}", role.key()),
            ),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Disables or re-enables an account; disabling ends its sessions.
    pub async fn set_user_status(&self, actor: &Actor, user_id: i64, active: bool, client: &str) -> StoreResult<()> {
        let target = self.user_summary(actor, user_id).await?;
        if !Self::may_manage(actor, &target) {
            return Err(StoreError::Forbidden);
        }
        let mut tx = self.begin_write().await?;
        let now = self.now_text();
        sqlx::query("UPDATE users SET status = $1, updated_at = $2 WHERE id = $3")
            .bind(if active { "active" } else { "disabled" })
            .bind(&now)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        if !active {
            sqlx::query("UPDATE sessions SET ended_at = $1 WHERE user_id = $2 AND ended_at IS NULL")
                .bind(&now)
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
        }
        let action = if active { "user.enable" } else { "user.disable" };
        self.append_audit(
            &mut tx,
            &audit_event(
                actor,
                action,
                format!("user:{}", target.user.username),
                client,
                String::new(),
            ),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Gives a managed account a new one-time password.
    pub async fn reset_password_for(&self, actor: &Actor, user_id: i64, client: &str) -> StoreResult<String> {
        let target = self.user_summary(actor, user_id).await?;
        if !Self::may_manage(actor, &target) {
            return Err(StoreError::Forbidden);
        }
        let password = self.reset_password(&target.user.username).await?;
        self.audit(&audit_event(
            actor,
            "password.reset",
            format!("user:{}", target.user.username),
            client,
            String::new(),
        ))
        .await?;
        Ok(password)
    }
}

/// A live grant as stored (role, node, the node's path) as the actor holds it; `None` for a
/// role this build does not know or a grant whose node is gone.
pub(crate) fn grant(role: &str, node_id: Option<i64>, path: Option<String>) -> Option<Grant> {
    let role = Role::from_key(role)?;
    let reach = match (node_id, path) {
        (None, _) => Reach::All,
        (Some(node_id), Some(path)) => Reach::Subtree { node_id, path },
        (Some(_), None) => return None,
    };
    Some(Grant { role, reach })
}
