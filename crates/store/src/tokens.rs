//! Personal access tokens for API clients: shown once, stored as their SHA-256, with scopes
//! and an expiry, revocable. Sent as `Authorization: Bearer gjt_…`.

use chrono::Duration;
use gongjian_domain::access::Actor;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::accounts::{random_token, token_hash};
use crate::audit::AuditEvent;
use crate::db::Store;
use crate::error::{StoreError, StoreResult};
use crate::time_text;

pub const TOKEN_PREFIX: &str = "gjt_";
pub const MAX_DAYS: i64 = 366;

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TokenScope {
    /// Read records (GET).
    Read,
    /// Read and change records.
    Write,
}

impl TokenScope {
    pub fn key(self) -> &'static str {
        match self {
            TokenScope::Read => "read",
            TokenScope::Write => "write",
        }
    }

    pub fn from_key(s: &str) -> Option<TokenScope> {
        match s.trim() {
            "read" => Some(TokenScope::Read),
            "write" => Some(TokenScope::Write),
            _ => None,
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            TokenScope::Read => "只读",
            TokenScope::Write => "读写",
        }
    }
}

/// A token as listed (never its secret).
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct TokenInfo {
    pub id: i64,
    pub name: String,
    pub scopes: String,
    pub created_at: String,
    pub expires_at: String,
    pub revoked_at: Option<String>,
    pub last_used_at: Option<String>,
}

impl TokenInfo {
    /// Whether the token is neither revoked nor expired at `now` (as stored).
    pub fn is_live(&self, now: &str) -> bool {
        self.revoked_at.is_none() && self.expires_at.as_str() > now
    }

    pub fn scope(&self) -> TokenScope {
        TokenScope::from_key(&self.scopes).unwrap_or(TokenScope::Read)
    }
}

/// Input to create a token.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct NewToken {
    pub name: String,
    /// `read` or `write`.
    pub scope: String,
    /// Days until it expires, 1–366.
    pub expires_in_days: i64,
}

#[derive(sqlx::FromRow)]
struct TokenRow {
    id: i64,
    user_id: i64,
    scopes: String,
    expires_at: String,
    revoked_at: Option<String>,
    last_used_at: Option<String>,
    status: String,
    username: String,
    role: Option<String>,
    node_id: Option<i64>,
    path: Option<String>,
}

/// A live token's owner and what it may do.
#[derive(Debug, Clone)]
pub struct TokenActor {
    pub actor: Actor,
    pub scope: TokenScope,
    pub token_id: i64,
}

impl Store {
    /// Creates a token for the actor's own account; returns the secret once.
    pub async fn create_token(
        &self,
        actor: &Actor,
        input: &NewToken,
        client_addr: &str,
    ) -> StoreResult<(String, TokenInfo)> {
        let mut v = gongjian_domain::Validation::new();
        let name = v.check("name", gongjian_domain::tree::Name::parse(&input.name));
        let scope = TokenScope::from_key(&input.scope);
        if scope.is_none() {
            v.push("scope", "权限应为 read（只读）或 write（读写）");
        }
        if !(1..=MAX_DAYS).contains(&input.expires_in_days) {
            v.push("expires_in_days", format!("有效期应为 1 到 {MAX_DAYS} 天"));
        }
        v.clone().into_result()?;
        let (Some(name), Some(scope)) = (name, scope) else {
            return Err(v.into());
        };
        let token = format!("{TOKEN_PREFIX}{}", random_token(20));
        let now = self.now();
        let mut tx = self.begin_write().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO api_tokens (user_id, name, token_hash, scopes, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(actor.user_id)
        .bind(name.as_str().to_string())
        .bind(token_hash(&token))
        .bind(scope.key())
        .bind(time_text(now))
        .bind(time_text(now + Duration::days(input.expires_in_days)))
        .fetch_one(&mut *tx)
        .await?;
        self.append_audit(
            &mut tx,
            &AuditEvent::by(actor, "token.create", format!("token:{id}"), client_addr).with_detail(format!(
                "scope {}, {} days",
                scope.key(),
                input.expires_in_days
            )),
        )
        .await?;
        let info = sqlx::query_as(
            "SELECT id, name, scopes, created_at, expires_at, revoked_at, last_used_at FROM api_tokens WHERE id = $1",
        )
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok((token, info))
    }

    /// The actor's own tokens, newest first.
    pub async fn tokens(&self, actor: &Actor) -> StoreResult<Vec<TokenInfo>> {
        Ok(sqlx::query_as(
            "SELECT id, name, scopes, created_at, expires_at, revoked_at, last_used_at FROM api_tokens \
             WHERE user_id = $1 ORDER BY id DESC",
        )
        .bind(actor.user_id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Revokes one of the actor's own tokens.
    pub async fn revoke_token(&self, actor: &Actor, id: i64, client_addr: &str) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        let n =
            sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND user_id = $3 AND revoked_at IS NULL")
                .bind(self.now_text())
                .bind(id)
                .bind(actor.user_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        self.append_audit(
            &mut tx,
            &AuditEvent::by(actor, "token.revoke", format!("token:{id}"), client_addr),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The owner of a live token. Expired, revoked and unknown tokens give `None`.
    pub async fn token_actor(&self, token: &str) -> StoreResult<Option<TokenActor>> {
        if !token.starts_with(TOKEN_PREFIX) {
            return Ok(None);
        }
        // The token, its owner and the owner's live grants in one statement: one row per grant
        // (one row with no grant when there is none).
        let rows: Vec<TokenRow> = sqlx::query_as(
            "SELECT t.id, t.user_id, t.scopes, t.expires_at, t.revoked_at, t.last_used_at, u.status, u.username, \
             g.role, g.node_id, n.path FROM api_tokens t JOIN users u ON u.id = t.user_id \
             LEFT JOIN role_grants g ON g.user_id = t.user_id AND g.revoked_at IS NULL \
             LEFT JOIN nodes n ON n.id = g.node_id WHERE t.token_hash = $1",
        )
        .bind(token_hash(token))
        .fetch_all(&self.pool)
        .await?;
        let Some(first) = rows.first() else {
            return Ok(None);
        };
        let (id, user_id, username) = (first.id, first.user_id, first.username.clone());
        let now = self.now_text();
        if first.revoked_at.is_some() || first.expires_at <= now || first.status != "active" {
            return Ok(None);
        }
        if first
            .last_used_at
            .as_ref()
            .is_none_or(|l| *l < time_text(self.now() - Duration::seconds(60)))
        {
            sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2")
                .bind(&now)
                .bind(id)
                .execute(&self.pool)
                .await?;
        }
        let scope = TokenScope::from_key(&first.scopes).unwrap_or(TokenScope::Read);
        let grants = rows
            .into_iter()
            .filter_map(|r| crate::accounts::grant(r.role.as_deref()?, r.node_id, r.path))
            .collect();
        Ok(Some(TokenActor {
            actor: Actor {
                user_id,
                username,
                grants,
            },
            scope,
            token_id: id,
        }))
    }

    /// Creates a token for a named account, for operators' automation (CLI).
    pub async fn create_token_for(&self, username: &str, input: &NewToken) -> StoreResult<String> {
        let id: i64 = sqlx::query_scalar("SELECT id FROM users WHERE username = $1")
            .bind(username.trim())
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::field("user", format!("用户“{username}”不存在")))?;
        let actor = self.actor(id).await?;
        Ok(self.create_token(&actor, input, "cli").await?.0)
    }
}
