//! Logging in and staying logged in: lockout and throttling kept in the database (so several
//! nodes agree), sessions, the TOTP second factor with recovery codes, and password changes
//! with history. Every outcome is written to the audit log in the same transaction.

use chrono::Duration;
use gongjian_domain::access::{Actor, check_password};
use serde::Serialize;

use crate::accounts::{SessionPolicy, dummy_hash, hash_password, random_token, token_hash, verify_password};
use crate::audit::AuditEvent;
use crate::db::{Store, Tx};
use crate::error::{StoreError, StoreResult};
use crate::{time_text, totp};

/// Failed logins of one account within [`WINDOW_MINUTES`] that lock it.
pub const LOCKOUT_FAILURES: i64 = 5;
/// Failed logins from one client address within [`WINDOW_MINUTES`] that throttle it.
pub const THROTTLE_FAILURES: i64 = 20;
pub const WINDOW_MINUTES: i64 = 15;
/// Passwords that may not be reused: the current one and this many before it.
pub const PASSWORD_HISTORY: i64 = 5;
const RECOVERY_CODES: usize = 10;
/// The column name bound into encrypted TOTP secrets.
pub(crate) const TOTP_FIELD: &str = "totp_secret";

/// A live session, as found from the cookie's token.
#[derive(Debug, Clone)]
pub struct SessionInfo {
    pub actor: Actor,
    pub display_name: String,
    pub must_change_password: bool,
    /// The account has a second factor and this session has not passed it yet.
    pub second_factor_pending: bool,
    /// The account holds an administrator role but has not set up its second factor.
    pub must_enrol_second_factor: bool,
    pub csrf_token: String,
}

impl SessionInfo {
    /// Whether the session may be used for ordinary work.
    pub fn is_complete(&self) -> bool {
        !self.must_change_password && !self.second_factor_pending && !self.must_enrol_second_factor
    }
}

/// A freshly created session: the token goes into the cookie and is not kept in clear.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub token: String,
    pub csrf_token: String,
    pub must_change_password: bool,
    pub second_factor_pending: bool,
}

/// How a login attempt ended.
#[derive(Debug, Clone)]
pub enum LoginOutcome {
    Success(NewSession),
    /// Wrong user name or password (not told apart).
    Invalid,
    /// Too many failures for this account; try again after the window.
    Locked,
    /// Too many failures from this address.
    Throttled,
}

#[derive(sqlx::FromRow)]
struct SessionRow {
    id: i64,
    user_id: i64,
    csrf_token: String,
    last_seen_at: String,
    expires_at: String,
    second_factor_at: Option<String>,
    display_name: String,
    must_change_password: i64,
    status: String,
    totp_enabled_at: Option<String>,
}

/// A TOTP set-up in progress: the secret to show and the URI to scan.
#[derive(Debug, Clone, Serialize)]
pub struct TotpSetup {
    pub secret: String,
    pub uri: String,
}

fn event(actor_id: Option<i64>, name: &str, action: &str, result: &str, client: &str) -> AuditEvent {
    AuditEvent {
        actor_id,
        actor_name: name.to_string(),
        action: action.to_string(),
        object: format!("user:{name}"),
        result: result.to_string(),
        client_addr: client.to_string(),
        ..AuditEvent::default()
    }
}

async fn record_attempt(tx: &mut Tx, at: &str, username: &str, client: &str, success: i64) -> StoreResult<()> {
    sqlx::query("INSERT INTO login_attempts (username, client_addr, at, success) VALUES ($1, $2, $3, $4)")
        .bind(username)
        .bind(client)
        .bind(at)
        .bind(success)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> StoreResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::Config(format!("background task failed: {e}")))
}

impl Store {
    async fn recent_failures(&self, column: &str, value: &str) -> StoreResult<i64> {
        let since = time_text(self.now() - Duration::minutes(WINDOW_MINUTES));
        let sql = match column {
            "username" => "SELECT COUNT(*) FROM login_attempts WHERE username = $1 AND at >= $2 AND success = 0",
            _ => "SELECT COUNT(*) FROM login_attempts WHERE client_addr = $1 AND at >= $2 AND success = 0",
        };
        Ok(sqlx::query_scalar(sql)
            .bind(value)
            .bind(since)
            .fetch_one(&self.pool)
            .await?)
    }

    /// Checks a user name and password and opens a session. A wrong name and a wrong password
    /// give the same answer and take the same time. The sixth attempt after five failures
    /// within 15 minutes is refused as locked, whichever node it reaches.
    pub async fn login(&self, username: &str, password: &str, client: &str) -> StoreResult<LoginOutcome> {
        // PostgreSQL text cannot hold NUL: such a name matches no account and is recorded marked.
        let username = username.trim().replace('\0', "\u{FFFD}");
        let username = username.as_str();
        if self.recent_failures("client_addr", client).await? >= THROTTLE_FAILURES {
            let mut tx = self.begin_write().await?;
            self.append_audit(&mut tx, &event(None, username, "login", "throttled", client))
                .await?;
            tx.commit().await?;
            return Ok(LoginOutcome::Throttled);
        }
        if self.recent_failures("username", username).await? >= LOCKOUT_FAILURES {
            let mut tx = self.begin_write().await?;
            record_attempt(&mut tx, &self.now_text(), username, client, 2).await?;
            self.append_audit(&mut tx, &event(None, username, "login", "locked", client))
                .await?;
            tx.commit().await?;
            return Ok(LoginOutcome::Locked);
        }
        let row: Option<(i64, String, i64, String, Option<String>)> = sqlx::query_as(
            "SELECT id, password_hash, must_change_password, status, totp_enabled_at FROM users WHERE username = $1",
        )
        .bind(username)
        .fetch_optional(&self.pool)
        .await?;
        let hash = row
            .as_ref()
            .map(|r| r.1.clone())
            .unwrap_or_else(|| dummy_hash().to_string());
        let pw = password.to_string();
        let ok = blocking(move || verify_password(&pw, &hash)).await?;
        let mut tx = self.begin_write().await?;
        // Count again inside the writing transaction, with the account's row locked, so
        // simultaneous attempts on several nodes cannot slip past the limit together.
        if let Some(r) = &row {
            let lock = format!("SELECT id FROM users WHERE id = $1{}", self.engine.row_lock_suffix());
            sqlx::query(sqlx::AssertSqlSafe(lock))
                .bind(r.0)
                .fetch_optional(&mut *tx)
                .await?;
        }
        let since = time_text(self.now() - Duration::minutes(WINDOW_MINUTES));
        let failures: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM login_attempts WHERE username = $1 AND at >= $2 AND success = 0")
                .bind(username)
                .bind(since)
                .fetch_one(&mut *tx)
                .await?;
        if failures >= LOCKOUT_FAILURES {
            record_attempt(&mut tx, &self.now_text(), username, client, 2).await?;
            self.append_audit(
                &mut tx,
                &event(row.as_ref().map(|r| r.0), username, "login", "locked", client),
            )
            .await?;
            tx.commit().await?;
            return Ok(LoginOutcome::Locked);
        }
        let outcome = match row {
            Some((user_id, _, must_change, status, totp_enabled)) if ok && status == "active" => {
                record_attempt(&mut tx, &self.now_text(), username, client, 1).await?;
                let token = random_token(32);
                let csrf_token = random_token(16);
                let now = self.now();
                sqlx::query(
                    "INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, last_seen_at, expires_at, \
                     client_addr) VALUES ($1, $2, $3, $4, $4, $5, $6)",
                )
                .bind(token_hash(&token))
                .bind(user_id)
                .bind(&csrf_token)
                .bind(time_text(now))
                .bind(time_text(now + SessionPolicy::default().absolute))
                .bind(client)
                .execute(&mut *tx)
                .await?;
                self.append_audit(&mut tx, &event(Some(user_id), username, "login", "success", client))
                    .await?;
                LoginOutcome::Success(NewSession {
                    token,
                    csrf_token,
                    must_change_password: must_change != 0,
                    second_factor_pending: totp_enabled.is_some(),
                })
            }
            other => {
                record_attempt(&mut tx, &self.now_text(), username, client, 0).await?;
                let result = if other.is_some() && ok { "disabled" } else { "failed" };
                self.append_audit(&mut tx, &event(other.map(|r| r.0), username, "login", result, client))
                    .await?;
                LoginOutcome::Invalid
            }
        };
        tx.commit().await?;
        Ok(outcome)
    }

    /// The session behind a cookie token, if it is live; refreshes its idle clock.
    pub async fn session(&self, token: &str, policy: SessionPolicy) -> StoreResult<Option<SessionInfo>> {
        let row: Option<SessionRow> = sqlx::query_as(
            "SELECT s.id, s.user_id, s.csrf_token, s.last_seen_at, s.expires_at, s.second_factor_at, u.display_name, \
             u.must_change_password, u.status, u.totp_enabled_at FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.token_hash = $1 AND s.ended_at IS NULL",
        )
        .bind(token_hash(token))
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let now = self.now();
        let now_s = time_text(now);
        if row.status != "active" || row.last_seen_at < time_text(now - policy.idle) || row.expires_at < now_s {
            sqlx::query("UPDATE sessions SET ended_at = $1 WHERE id = $2")
                .bind(&now_s)
                .bind(row.id)
                .execute(&self.pool)
                .await?;
            return Ok(None);
        }
        // Refresh at most once a minute, so reads do not turn into writes on every request.
        if row.last_seen_at < time_text(now - Duration::seconds(60)) {
            sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE id = $2")
                .bind(&now_s)
                .bind(row.id)
                .execute(&self.pool)
                .await?;
        }
        let actor = self.actor(row.user_id).await?;
        let is_admin = actor.grants.iter().any(|g| g.role.is_administrator());
        Ok(Some(SessionInfo {
            must_enrol_second_factor: is_admin && row.totp_enabled_at.is_none(),
            second_factor_pending: row.totp_enabled_at.is_some() && row.second_factor_at.is_none(),
            actor,
            display_name: row.display_name,
            must_change_password: row.must_change_password != 0,
            csrf_token: row.csrf_token,
        }))
    }

    pub async fn logout(&self, token: &str, client: &str) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        let user: Option<(i64, String)> = sqlx::query_as(
            "SELECT u.id, u.username FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = $1 \
             AND s.ended_at IS NULL",
        )
        .bind(token_hash(token))
        .fetch_optional(&mut *tx)
        .await?;
        if let Some((id, name)) = user {
            sqlx::query("UPDATE sessions SET ended_at = $1 WHERE token_hash = $2")
                .bind(self.now_text())
                .bind(token_hash(token))
                .execute(&mut *tx)
                .await?;
            self.append_audit(&mut tx, &event(Some(id), &name, "logout", "success", client))
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Changes a password after checking the current one, the password rules and the last
    /// [`PASSWORD_HISTORY`] passwords.
    pub async fn change_password(
        &self,
        actor: &Actor,
        current: &str,
        new: &str,
        confirm: &str,
        client: &str,
    ) -> StoreResult<()> {
        let hash: String = sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1")
            .bind(actor.user_id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        let old: Vec<String> = sqlx::query_scalar(
            "SELECT password_hash FROM password_history WHERE user_id = $1 ORDER BY id DESC LIMIT $2",
        )
        .bind(actor.user_id)
        .bind(PASSWORD_HISTORY)
        .fetch_all(&self.pool)
        .await?;
        let (cur, new_pw, h) = (current.to_string(), new.to_string(), hash.clone());
        let (current_ok, reused) = blocking(move || {
            let current_ok = verify_password(&cur, &h);
            let reused = verify_password(&new_pw, &h) || old.iter().any(|o| verify_password(&new_pw, o));
            (current_ok, reused)
        })
        .await?;
        let mut v = gongjian_domain::Validation::new();
        if !current_ok {
            v.push("current", "当前密码不正确");
        }
        if let Err(m) = check_password(&actor.username, new) {
            v.push("new_password", m);
        } else if reused {
            v.push(
                "new_password",
                format!("新密码不能与当前密码或最近 {PASSWORD_HISTORY} 次用过的密码相同"),
            );
        }
        if new != confirm {
            v.push("confirm", "两次输入的新密码不一致");
        }
        if !v.is_empty() {
            let mut tx = self.begin_write().await?;
            let mut ev = event(
                Some(actor.user_id),
                &actor.username,
                "password.change",
                "refused",
                client,
            );
            ev.detail = v.0.iter().map(|e| e.field.as_str()).collect::<Vec<_>>().join(",");
            self.append_audit(&mut tx, &ev).await?;
            tx.commit().await?;
            return Err(v.into());
        }
        let pw = new.to_string();
        let new_hash = blocking(move || hash_password(&pw)).await??;
        let mut tx = self.begin_write().await?;
        let now = self.now_text();
        sqlx::query("INSERT INTO password_history (user_id, password_hash, created_at) VALUES ($1, $2, $3)")
            .bind(actor.user_id)
            .bind(&hash)
            .bind(&now)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE users SET password_hash = $1, must_change_password = 0, updated_at = $2 WHERE id = $3")
            .bind(new_hash)
            .bind(&now)
            .bind(actor.user_id)
            .execute(&mut *tx)
            .await?;
        self.append_audit(
            &mut tx,
            &event(
                Some(actor.user_id),
                &actor.username,
                "password.change",
                "success",
                client,
            ),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Starts (or restarts) setting up TOTP: a new secret, not yet in force.
    pub async fn begin_totp(&self, actor: &Actor) -> StoreResult<TotpSetup> {
        let enabled: Option<String> = sqlx::query_scalar("SELECT totp_enabled_at FROM users WHERE id = $1")
            .bind(actor.user_id)
            .fetch_one(&self.pool)
            .await?;
        if enabled.is_some() {
            return Err(StoreError::field("code", "已启用动态口令"));
        }
        let secret = totp::new_secret();
        sqlx::query("UPDATE users SET totp_secret = $1 WHERE id = $2")
            .bind(self.keys.encrypt(TOTP_FIELD, &secret)?)
            .bind(actor.user_id)
            .execute(&self.pool)
            .await?;
        let uri = totp::otpauth_uri("共建", &actor.username, &secret);
        Ok(TotpSetup { secret, uri })
    }

    /// The pending TOTP set-up, if one was started.
    pub async fn pending_totp(&self, actor: &Actor) -> StoreResult<Option<TotpSetup>> {
        let row: (Option<String>, Option<String>) =
            sqlx::query_as("SELECT totp_secret, totp_enabled_at FROM users WHERE id = $1")
                .bind(actor.user_id)
                .fetch_one(&self.pool)
                .await?;
        Ok(match row {
            (Some(stored), None) => {
                let secret = self.keys.decrypt(TOTP_FIELD, &stored)?;
                Some(TotpSetup {
                    uri: totp::otpauth_uri("共建", &actor.username, &secret),
                    secret,
                })
            }
            _ => None,
        })
    }

    /// Whether the account has a second factor in force.
    pub async fn totp_enabled(&self, user_id: i64) -> StoreResult<bool> {
        let enabled: Option<String> = sqlx::query_scalar("SELECT totp_enabled_at FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_one(&self.pool)
            .await?;
        Ok(enabled.is_some())
    }

    /// Confirms the set-up with a code from the app: TOTP comes into force, the session counts
    /// as having passed it, and ten recovery codes are returned — shown once, stored hashed.
    pub async fn confirm_totp(
        &self,
        actor: &Actor,
        session_token: &str,
        code: &str,
        client: &str,
    ) -> StoreResult<Vec<String>> {
        let mut tx = self.begin_write().await?;
        let (secret, enabled): (Option<String>, Option<String>) =
            sqlx::query_as("SELECT totp_secret, totp_enabled_at FROM users WHERE id = $1")
                .bind(actor.user_id)
                .fetch_one(&mut *tx)
                .await?;
        let (Some(stored), None) = (secret, enabled) else {
            return Err(StoreError::field("code", "请先生成密钥"));
        };
        let secret = self.keys.decrypt(TOTP_FIELD, &stored)?;
        let Some(step) = totp::verify(&secret, code, self.now().timestamp(), None) else {
            return Err(StoreError::field("code", "动态口令不正确，请核对手机时间后重试"));
        };
        let now = self.now_text();
        sqlx::query("UPDATE users SET totp_enabled_at = $1, totp_last_step = $2 WHERE id = $3")
            .bind(&now)
            .bind(step)
            .bind(actor.user_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE sessions SET second_factor_at = $1 WHERE token_hash = $2")
            .bind(&now)
            .bind(token_hash(session_token))
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
            .bind(actor.user_id)
            .execute(&mut *tx)
            .await?;
        let mut codes = Vec::with_capacity(RECOVERY_CODES);
        for _ in 0..RECOVERY_CODES {
            let raw = random_token(5);
            let code = format!("{}-{}", &raw[..5], &raw[5..]);
            sqlx::query("INSERT INTO recovery_codes (user_id, code_hash) VALUES ($1, $2)")
                .bind(actor.user_id)
                .bind(token_hash(&code))
                .execute(&mut *tx)
                .await?;
            codes.push(code);
        }
        self.append_audit(
            &mut tx,
            &event(Some(actor.user_id), &actor.username, "totp.enable", "success", client),
        )
        .await?;
        tx.commit().await?;
        Ok(codes)
    }

    /// Passes the second factor for a session with a TOTP code or an unused recovery code. A
    /// wrong code counts as a failed login towards the lockout.
    pub async fn pass_second_factor(
        &self,
        actor: &Actor,
        session_token: &str,
        code: &str,
        client: &str,
    ) -> StoreResult<bool> {
        if self.recent_failures("username", &actor.username).await? >= LOCKOUT_FAILURES {
            return Err(StoreError::field(
                "code",
                format!("失败次数过多，账户已锁定，请 {WINDOW_MINUTES} 分钟后再试"),
            ));
        }
        let mut tx = self.begin_write().await?;
        let (secret, last_step): (Option<String>, Option<i64>) =
            sqlx::query_as("SELECT totp_secret, totp_last_step FROM users WHERE id = $1")
                .bind(actor.user_id)
                .fetch_one(&mut *tx)
                .await?;
        let code = code.trim();
        let mut ok = false;
        let secret = secret.map(|s| self.keys.decrypt(TOTP_FIELD, &s)).transpose()?;
        if let Some(step) = secret
            .as_deref()
            .and_then(|s| totp::verify(s, code, self.now().timestamp(), last_step))
        {
            sqlx::query("UPDATE users SET totp_last_step = $1 WHERE id = $2")
                .bind(step)
                .bind(actor.user_id)
                .execute(&mut *tx)
                .await?;
            ok = true;
        } else if code.len() == 11 {
            let used = sqlx::query(
                "UPDATE recovery_codes SET used_at = $1 WHERE user_id = $2 AND code_hash = $3 AND used_at IS NULL",
            )
            .bind(self.now_text())
            .bind(actor.user_id)
            .bind(token_hash(&code.to_lowercase()))
            .execute(&mut *tx)
            .await?
            .rows_affected();
            ok = used == 1;
        }
        if ok {
            sqlx::query("UPDATE sessions SET second_factor_at = $1 WHERE token_hash = $2")
                .bind(self.now_text())
                .bind(token_hash(session_token))
                .execute(&mut *tx)
                .await?;
            self.append_audit(
                &mut tx,
                &event(
                    Some(actor.user_id),
                    &actor.username,
                    "login.second_factor",
                    "success",
                    client,
                ),
            )
            .await?;
        } else {
            record_attempt(&mut tx, &self.now_text(), &actor.username, client, 0).await?;
            self.append_audit(
                &mut tx,
                &event(
                    Some(actor.user_id),
                    &actor.username,
                    "login.second_factor",
                    "failed",
                    client,
                ),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(ok)
    }
}
