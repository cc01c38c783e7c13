//! Login, logout, the forced password change, and the two request layers that every route
//! passes: the session layer (who is asking) and the CSRF layer (was it asked from our pages).

use askama::Template;
use askama_web::WebTemplate;
use axum::body::Body;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Form, Json};
use gongjian_domain::Validation;
use gongjian_domain::access::Actor;
use gongjian_store::StoreError;
use gongjian_store::sessions::{LoginOutcome, SessionInfo, WINDOW_MINUTES};
use gongjian_store::tokens::{TokenActor, TokenScope};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{ApiError, PageError};
use crate::ui::Chrome;
use crate::{AppState, Route, get, post};

pub const SESSION_COOKIE: &str = "gj_session";

pub fn routes() -> Vec<Route> {
    vec![
        get("/login", login_page),
        post("/login", login),
        post("/logout", logout),
        get("/account/password", password_page),
        post("/account/password", change_password),
        get("/api/v1/me", me),
    ]
}

/// The session found for a request, with its token, put into its extensions by
/// [`session_layer`].
#[derive(Clone)]
pub struct Session(pub SessionInfo, pub String);

/// An API token presented as `Authorization: Bearer …`, put into the extensions by
/// [`session_layer`]. `None` inside means a token was presented but is not live.
#[derive(Clone)]
pub struct Bearer(pub Option<TokenActor>);

/// The client's address as the server sees it (the peer address; `X-Forwarded-For` is
/// not trusted).
#[derive(Clone)]
pub struct ClientAddr(pub String);

pub fn client_addr(req: &Request) -> String {
    req.extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_else(|| "unknown".to_string())
}

fn bearer_token(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim().to_string())
}

fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// Looks the session cookie up and attaches the live session to the request.
pub async fn session_layer(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let addr = client_addr(&req);
    req.extensions_mut().insert(ClientAddr(addr));
    if let Some(token) = bearer_token(req.headers()) {
        match state.store.token_actor(&token).await {
            Ok(found) => {
                req.extensions_mut().insert(Bearer(found));
            }
            Err(e) => {
                let op = crate::error::log_internal(&e);
                return (StatusCode::SERVICE_UNAVAILABLE, format!("服务暂不可用，操作编号 {op}")).into_response();
            }
        }
        return next.run(req).await;
    }
    if let Some(token) = cookie_value(req.headers(), SESSION_COOKIE) {
        match state.store.session(&token, state.config.session).await {
            Ok(Some(info)) => {
                req.extensions_mut().insert(Session(info, token));
            }
            Ok(None) => {}
            Err(e) => {
                let op = crate::error::log_internal(&e);
                return (StatusCode::SERVICE_UNAVAILABLE, format!("服务暂不可用，操作编号 {op}")).into_response();
            }
        }
    }
    next.run(req).await
}

fn is_api(path: &str) -> bool {
    path.starts_with("/api/")
}

/// Refuses a state-changing request that comes from another site, or that rides on a session
/// cookie without the session's CSRF token (header `X-CSRF-Token` or form field `_csrf`).
pub async fn csrf_layer(req: Request, next: Next) -> Response {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(req).await;
    }
    let cross_site = req
        .headers()
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == "cross-site");
    let origin_mismatch = match (
        req.headers().get(header::ORIGIN).and_then(|v| v.to_str().ok()),
        req.headers().get(header::HOST).and_then(|v| v.to_str().ok()),
    ) {
        (Some(origin), Some(host)) => origin != "null" && origin.split("://").nth(1).is_some_and(|o| o != host),
        _ => false,
    };
    let api = is_api(req.uri().path());
    let refuse = |api: bool| -> Response {
        if api {
            ApiError::CsrfFailed.into_response()
        } else {
            (
                StatusCode::FORBIDDEN,
                axum::response::Html("<h1>请求校验失败</h1><p>请刷新页面后重试。</p>"),
            )
                .into_response()
        }
    };
    if cross_site || origin_mismatch {
        return refuse(api);
    }
    // A bearer token is not sent by browsers on their own: nothing rides on it.
    if req.extensions().get::<Bearer>().is_some() {
        return next.run(req).await;
    }
    let Some(Session(info, _)) = req.extensions().get::<Session>().cloned() else {
        // No session: nothing to ride on (login itself, or a request that will be refused
        // as unauthenticated).
        return next.run(req).await;
    };
    let expected = info.csrf_token;
    if req.headers().get("x-csrf-token").and_then(|v| v.to_str().ok()) == Some(expected.as_str()) {
        return next.run(req).await;
    }
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        // A multipart upload form carries the token in its action's query string, since the
        // body is not read here.
        let multipart = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("multipart/form-data"));
        let in_query = req
            .uri()
            .query()
            .and_then(|q| form_urlencoded_value(q.as_bytes(), "_csrf"));
        if multipart && in_query.as_deref() == Some(expected.as_str()) {
            return next.run(req).await;
        }
        return refuse(api);
    }
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 2 * 1024 * 1024).await else {
        return (StatusCode::PAYLOAD_TOO_LARGE, "表单过大").into_response();
    };
    let token = form_urlencoded_value(&bytes, "_csrf");
    if token.as_deref() != Some(expected.as_str()) {
        return refuse(api);
    }
    next.run(Request::from_parts(parts, Body::from(bytes))).await
}

fn form_urlencoded_value(body: &[u8], key: &str) -> Option<String> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
        .ok()?
        .into_iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
}

/// The signed-in account of a page request. Without a session the page redirects to the
/// login; a session that still has a gate to pass (an initial password to change, a second
/// factor to give or to set up) is sent to that gate's page first.
pub struct CurrentUser {
    pub actor: Actor,
    pub display_name: String,
    pub csrf_token: String,
    pub session_token: String,
    pub client: String,
}

impl CurrentUser {
    pub fn chrome(&self, active: &'static str) -> Chrome {
        Chrome::new(self, active)
    }
}

/// The gates a session passes before ordinary use, in order, with their pages.
pub fn pending_gate(info: &SessionInfo) -> Option<&'static str> {
    if info.must_change_password {
        Some("/account/password")
    } else if info.second_factor_pending {
        Some("/login/totp")
    } else if info.must_enrol_second_factor {
        Some("/account/totp")
    } else {
        None
    }
}

pub enum AuthRedirect {
    Login(String),
    Gate(&'static str),
}

impl IntoResponse for AuthRedirect {
    fn into_response(self) -> Response {
        match self {
            AuthRedirect::Login(next) => {
                let next: String = url_escape(&next);
                Redirect::to(&format!("/login?next={next}")).into_response()
            }
            AuthRedirect::Gate(to) => Redirect::to(to).into_response(),
        }
    }
}

fn url_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'/' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn client_of(parts: &Parts) -> String {
    parts
        .extensions
        .get::<ClientAddr>()
        .map(|c| c.0.clone())
        .unwrap_or_default()
}

impl<S: Send + Sync> FromRequestParts<S> for CurrentUser {
    type Rejection = AuthRedirect;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let Some(Session(info, token)) = parts.extensions.get::<Session>().cloned() else {
            let next = parts
                .uri
                .path_and_query()
                .map(|p| p.as_str().to_string())
                .unwrap_or_default();
            return Err(AuthRedirect::Login(next));
        };
        if let Some(gate) = pending_gate(&info)
            && parts.uri.path() != gate
        {
            return Err(AuthRedirect::Gate(gate));
        }
        Ok(CurrentUser {
            actor: info.actor,
            display_name: info.display_name,
            csrf_token: info.csrf_token,
            session_token: token,
            client: client_of(parts),
        })
    }
}

/// The caller of an API request: a complete session, or a live token whose scope allows the
/// method (a read-only token may only read).
pub struct ApiUser(pub Actor);

impl<S: Send + Sync> FromRequestParts<S> for ApiUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        if let Some(Bearer(found)) = parts.extensions.get::<Bearer>() {
            let Some(t) = found else {
                return Err(ApiError::Unauthorized);
            };
            let reading = matches!(parts.method, Method::GET | Method::HEAD);
            if !reading && t.scope != TokenScope::Write {
                return Err(ApiError::TokenScope);
            }
            return Ok(ApiUser(t.actor.clone()));
        }
        match parts.extensions.get::<Session>() {
            None => Err(ApiError::Unauthorized),
            Some(Session(info, _)) if info.must_change_password => Err(ApiError::MustChangePassword),
            Some(Session(info, _)) if !info.is_complete() => Err(ApiError::SecondFactorRequired),
            Some(Session(info, _)) => Ok(ApiUser(info.actor.clone())),
        }
    }
}

/// The caller of an API request that only a signed-in person may make (managing tokens): a
/// bearer token cannot create or revoke tokens, so a leaked token cannot renew itself.
pub struct ApiSessionUser(pub Actor);

impl<S: Send + Sync> FromRequestParts<S> for ApiSessionUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if parts.extensions.get::<Bearer>().is_some() {
            return Err(ApiError::SessionRequired);
        }
        ApiUser::from_request_parts(parts, state)
            .await
            .map(|ApiUser(a)| ApiSessionUser(a))
    }
}

/// The client address of an API request, for the audit log.
pub struct Client(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Client(client_of(parts)))
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "login.html")]
struct LoginPage {
    next: String,
    username: String,
    error: Option<String>,
}

#[derive(Deserialize)]
struct LoginQuery {
    next: Option<String>,
}

#[derive(Deserialize)]
struct LoginForm {
    username: String,
    password: String,
    #[serde(default)]
    next: String,
}

/// Only local paths are followed after login, never another site.
fn safe_next(next: &str) -> String {
    if next.starts_with('/') && !next.starts_with("//") && !next.contains('\\') {
        next.to_string()
    } else {
        "/".to_string()
    }
}

async fn login_page(axum::extract::Query(q): axum::extract::Query<LoginQuery>) -> LoginPage {
    LoginPage {
        next: safe_next(q.next.as_deref().unwrap_or("/")),
        username: String::new(),
        error: None,
    }
}

async fn login(
    State(state): State<AppState>,
    axum::extract::Extension(ClientAddr(client)): axum::extract::Extension<ClientAddr>,
    Form(form): Form<LoginForm>,
) -> Result<Response, PageError> {
    let refuse = |status: StatusCode, message: String| {
        (
            status,
            LoginPage {
                next: safe_next(&form.next),
                username: form.username.clone(),
                error: Some(message),
            },
        )
            .into_response()
    };
    Ok(
        match state.store.login(&form.username, &form.password, &client).await? {
            LoginOutcome::Success(session) => {
                let secure = if state.config.secure_cookies { "; Secure" } else { "" };
                let cookie = format!(
                    "{SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Lax{secure}",
                    session.token
                );
                let to = if session.must_change_password {
                    "/account/password".to_string()
                } else if session.second_factor_pending {
                    "/login/totp".to_string()
                } else {
                    safe_next(&form.next)
                };
                ([(header::SET_COOKIE, cookie)], Redirect::to(&to)).into_response()
            }
            LoginOutcome::Invalid => refuse(StatusCode::UNAUTHORIZED, "用户名或密码不正确".into()),
            LoginOutcome::Locked => refuse(
                StatusCode::LOCKED,
                format!("连续登录失败次数过多，账户已锁定，请 {WINDOW_MINUTES} 分钟后再试，或联系管理员"),
            ),
            LoginOutcome::Throttled => refuse(
                StatusCode::TOO_MANY_REQUESTS,
                format!("该地址登录失败次数过多，请 {WINDOW_MINUTES} 分钟后再试"),
            ),
        },
    )
}

async fn logout(
    State(state): State<AppState>,
    axum::extract::Extension(ClientAddr(client)): axum::extract::Extension<ClientAddr>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    if let Some(token) = cookie_value(&headers, SESSION_COOKIE) {
        state.store.logout(&token, &client).await?;
    }
    let cookie = format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0");
    Ok(([(header::SET_COOKIE, cookie)], Redirect::to("/login")).into_response())
}

#[derive(Template, WebTemplate)]
#[template(path = "password.html")]
struct PasswordPage {
    chrome: Chrome,
    forced: bool,
    errors: Validation,
    done: bool,
}

#[derive(Deserialize)]
struct PasswordForm {
    current: String,
    new_password: String,
    confirm: String,
}

async fn password_page(State(state): State<AppState>, user: CurrentUser) -> Result<PasswordPage, PageError> {
    let forced = state.store.user(user.actor.user_id).await?.must_change_password != 0;
    Ok(PasswordPage {
        chrome: user.chrome("password"),
        forced,
        errors: Validation::new(),
        done: false,
    })
}

async fn change_password(
    State(state): State<AppState>,
    user: CurrentUser,
    Form(form): Form<PasswordForm>,
) -> Result<Response, PageError> {
    let forced = state.store.user(user.actor.user_id).await?.must_change_password != 0;
    match state
        .store
        .change_password(
            &user.actor,
            &form.current,
            &form.new_password,
            &form.confirm,
            &user.client,
        )
        .await
    {
        Ok(()) if forced => Ok(Redirect::to("/").into_response()),
        Ok(()) => Ok(PasswordPage {
            chrome: user.chrome("password"),
            forced,
            errors: Validation::new(),
            done: true,
        }
        .into_response()),
        Err(StoreError::Invalid(errors)) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            PasswordPage {
                chrome: user.chrome("password"),
                forced,
                errors,
                done: false,
            },
        )
            .into_response()),
        Err(e) => Err(e.into()),
    }
}

/// The caller's account and the CSRF token to send with state-changing requests.
#[derive(Serialize, ToSchema)]
pub struct Me {
    pub user_id: i64,
    pub username: String,
    pub display_name: String,
    pub roles: Vec<String>,
    pub csrf_token: String,
}

#[utoipa::path(get, path = "/api/v1/me", tag = "account",
    responses((status = 200, body = Me), (status = 401, body = crate::error::Problem)))]
pub async fn me(req: Request) -> Result<Json<Me>, ApiError> {
    let Some(Session(info, _)) = req.extensions().get::<Session>().cloned() else {
        return Err(ApiError::Unauthorized);
    };
    Ok(Json(Me {
        user_id: info.actor.user_id,
        username: info.actor.username.clone(),
        display_name: info.display_name,
        roles: info.actor.grants.iter().map(|g| g.role.key().to_string()).collect(),
        csrf_token: info.csrf_token,
    }))
}
