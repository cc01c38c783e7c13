//! The signed-in user's own pages: profile, second factor (set-up and the login step) and
//! personal API tokens, with the `/api/v1/tokens` API.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Form, Json};
use gongjian_domain::Validation;
use gongjian_store::StoreError;
use gongjian_store::accounts::UserSummary;
use gongjian_store::sessions::TotpSetup;
use gongjian_store::tokens::{NewToken, TokenInfo};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::{ApiSessionUser, ApiUser, Client, CurrentUser};
use crate::error::{ApiResult, PageError};
use crate::ui::Chrome;
use crate::{AppState, Route, get, post};

pub fn routes() -> Vec<Route> {
    vec![
        get("/account", profile),
        get("/login/totp", second_factor_page),
        post("/login/totp", second_factor),
        get("/account/totp", totp_page),
        post("/account/totp", confirm_totp),
        get("/account/tokens", tokens_page),
        post("/account/tokens", create_token),
        post("/account/tokens/{id}/revoke", revoke_token),
        get("/api/v1/tokens", api_tokens),
        post("/api/v1/tokens", api_create_token),
        post("/api/v1/tokens/{id}/revoke", api_revoke_token),
    ]
}

#[derive(Template, WebTemplate)]
#[template(path = "account/profile.html")]
struct ProfilePage {
    chrome: Chrome,
    me: UserSummary,
}

async fn profile(State(state): State<AppState>, user: CurrentUser) -> Result<ProfilePage, PageError> {
    let me = state.store.user_summary(&user.actor, user.actor.user_id).await?;
    Ok(ProfilePage {
        chrome: user.chrome("account"),
        me,
    })
}

#[derive(Template, WebTemplate)]
#[template(path = "account/second_factor.html")]
struct SecondFactorPage {
    chrome: Chrome,
    error: Option<String>,
}

#[derive(Deserialize)]
struct CodeForm {
    #[serde(default)]
    code: String,
}

async fn second_factor_page(user: CurrentUser) -> SecondFactorPage {
    SecondFactorPage {
        chrome: user.chrome("account"),
        error: None,
    }
}

async fn second_factor(
    State(state): State<AppState>,
    user: CurrentUser,
    Form(form): Form<CodeForm>,
) -> Result<Response, PageError> {
    match state
        .store
        .pass_second_factor(&user.actor, &user.session_token, &form.code, &user.client)
        .await
    {
        Ok(true) => Ok(Redirect::to("/").into_response()),
        Ok(false) => Ok((
            StatusCode::UNAUTHORIZED,
            SecondFactorPage {
                chrome: user.chrome("account"),
                error: Some("动态口令或恢复码不正确".into()),
            },
        )
            .into_response()),
        Err(StoreError::Invalid(v)) => Ok((
            StatusCode::LOCKED,
            SecondFactorPage {
                chrome: user.chrome("account"),
                error: Some(v.to_string()),
            },
        )
            .into_response()),
        Err(e) => Err(e.into()),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "account/totp.html")]
struct TotpPage {
    chrome: Chrome,
    enabled: bool,
    setup: Option<TotpSetup>,
    qr_svg: String,
    recovery_codes: Vec<String>,
    errors: Validation,
}

async fn totp_page(State(state): State<AppState>, user: CurrentUser) -> Result<TotpPage, PageError> {
    let enabled = state.store.totp_enabled(user.actor.user_id).await?;
    let setup = if enabled {
        None
    } else {
        match state.store.pending_totp(&user.actor).await? {
            Some(s) => Some(s),
            None => Some(state.store.begin_totp(&user.actor).await?),
        }
    };
    let qr_svg = setup.as_ref().map(|s| crate::ui::qr_svg(&s.uri)).unwrap_or_default();
    Ok(TotpPage {
        chrome: user.chrome("account"),
        enabled,
        setup,
        qr_svg,
        recovery_codes: Vec::new(),
        errors: Validation::new(),
    })
}

async fn confirm_totp(
    State(state): State<AppState>,
    user: CurrentUser,
    Form(form): Form<CodeForm>,
) -> Result<Response, PageError> {
    match state
        .store
        .confirm_totp(&user.actor, &user.session_token, &form.code, &user.client)
        .await
    {
        Ok(codes) => Ok(TotpPage {
            chrome: user.chrome("account"),
            enabled: true,
            setup: None,
            qr_svg: String::new(),
            recovery_codes: codes,
            errors: Validation::new(),
        }
        .into_response()),
        Err(StoreError::Invalid(errors)) => {
            let setup = state.store.pending_totp(&user.actor).await?;
            let qr_svg = setup.as_ref().map(|s| crate::ui::qr_svg(&s.uri)).unwrap_or_default();
            Ok((
                StatusCode::UNPROCESSABLE_ENTITY,
                TotpPage {
                    chrome: user.chrome("account"),
                    enabled: false,
                    setup,
                    qr_svg,
                    recovery_codes: Vec::new(),
                    errors,
                },
            )
                .into_response())
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "account/tokens.html")]
struct TokensPage {
    chrome: Chrome,
    tokens: Vec<TokenInfo>,
    /// The current time as stored, against which a token is live or expired.
    now: String,
    new_token: Option<String>,
    form: TokenForm,
    errors: Validation,
}

#[derive(Deserialize, Default, Clone)]
struct TokenForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    scope: String,
    #[serde(default)]
    expires_in_days: String,
}

impl TokenForm {
    fn input(&self) -> NewToken {
        NewToken {
            name: self.name.clone(),
            scope: self.scope.clone(),
            expires_in_days: self.expires_in_days.trim().parse().unwrap_or(0),
        }
    }
}

async fn tokens_page(State(state): State<AppState>, user: CurrentUser) -> Result<TokensPage, PageError> {
    let tokens = state.store.tokens(&user.actor).await?;
    Ok(TokensPage {
        chrome: user.chrome("tokens"),
        tokens,
        now: state.store.now_text(),
        new_token: None,
        form: TokenForm {
            scope: "read".into(),
            expires_in_days: "90".into(),
            ..TokenForm::default()
        },
        errors: Validation::new(),
    })
}

async fn create_token(
    State(state): State<AppState>,
    user: CurrentUser,
    Form(form): Form<TokenForm>,
) -> Result<Response, PageError> {
    let result = state.store.create_token(&user.actor, &form.input(), &user.client).await;
    let tokens = state.store.tokens(&user.actor).await?;
    match result {
        Ok((secret, _)) => Ok(TokensPage {
            chrome: user.chrome("tokens"),
            tokens,
            now: state.store.now_text(),
            new_token: Some(secret),
            form: TokenForm {
                scope: "read".into(),
                expires_in_days: "90".into(),
                ..TokenForm::default()
            },
            errors: Validation::new(),
        }
        .into_response()),
        Err(StoreError::Invalid(errors)) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            TokensPage {
                chrome: user.chrome("tokens"),
                tokens,
                now: state.store.now_text(),
                new_token: None,
                form,
                errors,
            },
        )
            .into_response()),
        Err(e) => Err(e.into()),
    }
}

async fn revoke_token(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<Redirect, PageError> {
    state.store.revoke_token(&user.actor, id, &user.client).await?;
    Ok(Redirect::to("/account/tokens"))
}

/// A newly created token: the secret is shown this once.
#[derive(Serialize, ToSchema)]
pub struct CreatedToken {
    /// Send as `Authorization: Bearer <token>`.
    pub token: String,
    pub info: TokenInfo,
}

/// The caller's own tokens (never their secrets).
#[utoipa::path(get, path = "/api/v1/tokens", tag = "account",
    responses((status = 200, body = Vec<TokenInfo>), (status = 401, body = crate::error::Problem)))]
pub async fn api_tokens(State(state): State<AppState>, ApiUser(actor): ApiUser) -> ApiResult<Json<Vec<TokenInfo>>> {
    Ok(Json(state.store.tokens(&actor).await?))
}

/// Creates a personal access token for the caller.
#[utoipa::path(post, path = "/api/v1/tokens", tag = "account", request_body = NewToken,
    responses((status = 201, body = CreatedToken), (status = 422, body = crate::error::Problem)))]
pub async fn api_create_token(
    State(state): State<AppState>,
    ApiSessionUser(actor): ApiSessionUser,
    Client(client): Client,
    Json(input): Json<NewToken>,
) -> ApiResult<(StatusCode, Json<CreatedToken>)> {
    let (token, info) = state.store.create_token(&actor, &input, &client).await?;
    Ok((StatusCode::CREATED, Json(CreatedToken { token, info })))
}

/// Revokes one of the caller's tokens.
#[utoipa::path(post, path = "/api/v1/tokens/{id}/revoke", tag = "account", params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = crate::error::Problem)))]
pub async fn api_revoke_token(
    State(state): State<AppState>,
    ApiSessionUser(actor): ApiSessionUser,
    Client(client): Client,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    state.store.revoke_token(&actor, id, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}
