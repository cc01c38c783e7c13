//! The web boundary's errors: an HTML error page for people, `application/problem+json` for
//! API clients. Internal causes are logged with an operation id; the response shows only that
//! id, so a user can quote it and an operator can find the cause.

use askama::Template;
use axum::Json;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use gongjian_domain::FieldError;
use gongjian_store::StoreError;
use serde::Serialize;
use utoipa::ToSchema;

fn operation_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_string()
}

/// Logs an internal error and returns the operation id shown to the user.
pub fn log_internal(e: &dyn std::fmt::Display) -> String {
    let op = operation_id();
    tracing::error!(operation_id = %op, error = %e, "internal error");
    op
}

/// An error on an HTML page.
#[derive(Debug)]
pub enum PageError {
    Store(StoreError),
    NotFound,
    /// Not found, with a message of its own (404).
    Missing(String),
    /// Gone for good, with what to do instead (410).
    Gone(String),
    BadRequest(String),
}

impl From<StoreError> for PageError {
    fn from(e: StoreError) -> Self {
        PageError::Store(e)
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    title: &'static str,
    message: String,
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let (status, title, message) = match self {
            PageError::NotFound | PageError::Store(StoreError::NotFound) => (
                StatusCode::NOT_FOUND,
                "未找到",
                "该记录不存在，或不在您的管理范围内。".to_string(),
            ),
            PageError::Store(StoreError::Forbidden) => (
                StatusCode::FORBIDDEN,
                "无权操作",
                "您可以查看该记录，但无权进行此操作。".to_string(),
            ),
            PageError::Store(StoreError::Invalid(v)) => (StatusCode::UNPROCESSABLE_ENTITY, "输入有误", v.to_string()),
            PageError::Store(StoreError::Conflict(m)) => (StatusCode::CONFLICT, "请求冲突", m),
            PageError::Missing(m) => (StatusCode::NOT_FOUND, "未找到", m),
            PageError::Gone(m) => (StatusCode::GONE, "已过期", m),
            PageError::BadRequest(m) => (StatusCode::BAD_REQUEST, "请求有误", m),
            PageError::Store(e) => {
                let op = log_internal(&e);
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "系统内部错误",
                    format!("请稍后重试。如仍有问题，请告知管理员操作编号 {op}。"),
                )
            }
        };
        let body = ErrorPage { title, message }
            .render()
            .unwrap_or_else(|_| "<h1>error</h1>".to_string());
        (status, Html(body)).into_response()
    }
}

/// An RFC 9457 problem document, with per-field details for validation errors.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the problem type.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// For internal errors: the id under which the cause was logged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation_id: Option<String>,
    /// For validation errors: one entry per field.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<Object>)]
    pub errors: Vec<FieldError>,
}

/// An error of the JSON API.
#[derive(Debug)]
pub enum ApiError {
    Store(StoreError),
    Unauthorized,
    MustChangePassword,
    BadRequest(String),
    CsrfFailed,
    SecondFactorRequired,
    TokenScope,
    SessionRequired,
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::Store(e)
    }
}

impl ApiError {
    fn problem(&self) -> (StatusCode, Problem) {
        let mk = |status: StatusCode, kind: &str, title: &str, detail: String| Problem {
            kind: format!("/api/problems/{kind}"),
            title: title.to_string(),
            status: status.as_u16(),
            detail,
            operation_id: None,
            errors: Vec::new(),
        };
        match self {
            ApiError::Store(StoreError::Invalid(v)) => {
                let mut p = mk(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "validation",
                    "输入有误",
                    v.to_string(),
                );
                p.errors = v.0.clone();
                (StatusCode::UNPROCESSABLE_ENTITY, p)
            }
            ApiError::Store(StoreError::NotFound) => (
                StatusCode::NOT_FOUND,
                mk(
                    StatusCode::NOT_FOUND,
                    "not-found",
                    "未找到",
                    "该记录不存在，或不在您的管理范围内".into(),
                ),
            ),
            ApiError::Store(StoreError::Forbidden) => (
                StatusCode::FORBIDDEN,
                mk(
                    StatusCode::FORBIDDEN,
                    "forbidden",
                    "无权操作",
                    "您无权对该记录进行此操作".into(),
                ),
            ),
            ApiError::Store(StoreError::Conflict(m)) => (
                StatusCode::CONFLICT,
                mk(StatusCode::CONFLICT, "conflict", "请求冲突", m.clone()),
            ),
            ApiError::Store(e) => {
                let op = log_internal(e);
                let mut p = mk(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "系统内部错误",
                    format!("请稍后重试，操作编号 {op}"),
                );
                p.operation_id = Some(op);
                (StatusCode::INTERNAL_SERVER_ERROR, p)
            }
            ApiError::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                mk(
                    StatusCode::UNAUTHORIZED,
                    "unauthorized",
                    "未登录",
                    "请先登录或提供有效的访问令牌".into(),
                ),
            ),
            ApiError::MustChangePassword => (
                StatusCode::FORBIDDEN,
                mk(
                    StatusCode::FORBIDDEN,
                    "password-change-required",
                    "需要修改密码",
                    "请先修改初始密码".into(),
                ),
            ),
            ApiError::BadRequest(m) => (
                StatusCode::BAD_REQUEST,
                mk(StatusCode::BAD_REQUEST, "bad-request", "请求有误", m.clone()),
            ),
            ApiError::SecondFactorRequired => (
                StatusCode::FORBIDDEN,
                mk(
                    StatusCode::FORBIDDEN,
                    "second-factor-required",
                    "需要动态口令",
                    "请先完成或设置动态口令验证".into(),
                ),
            ),
            ApiError::TokenScope => (
                StatusCode::FORBIDDEN,
                mk(
                    StatusCode::FORBIDDEN,
                    "token-scope",
                    "令牌权限不足",
                    "只读令牌不能修改数据".into(),
                ),
            ),
            ApiError::SessionRequired => (
                StatusCode::FORBIDDEN,
                mk(
                    StatusCode::FORBIDDEN,
                    "session-required",
                    "需要登录会话",
                    "访问令牌不能创建或吊销令牌，请登录后操作".into(),
                ),
            ),
            ApiError::CsrfFailed => (
                StatusCode::FORBIDDEN,
                mk(
                    StatusCode::FORBIDDEN,
                    "csrf",
                    "请求校验失败",
                    "缺少或错误的 CSRF 令牌，请刷新页面后重试".into(),
                ),
            ),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, problem) = self.problem();
        (
            status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            Json(problem),
        )
            .into_response()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
