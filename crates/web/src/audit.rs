//! The audit trail's web side: the layer that records every state-changing request (and every
//! look at the audit log itself), the audit administrator's pages with filters, export and
//! chain verification, and `/api/v1/audit`.

use askama::Template;
use askama_web::WebTemplate;
use axum::Json;
use axum::extract::{MatchedPath, Query, Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use gongjian_store::audit::{AuditEntry, AuditEvent, AuditFilter, AuditVerdict, require_audit};
use gongjian_store::{Page, StoreError};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::auth::{ApiUser, Bearer, ClientAddr, CurrentUser, Session};
use crate::error::{ApiResult, PageError};
use crate::ui::Chrome;
use crate::{AppState, Route, get, post};

pub fn routes() -> Vec<Route> {
    vec![
        get("/audit", list),
        get("/audit/export", export),
        post("/audit/verify", verify),
        get("/api/v1/audit", api_list),
    ]
}

/// Routes whose outcomes the store records itself, inside the writing transaction and with
/// more detail than this layer could (logins, passwords, second factor, tokens, accounts).
const SELF_AUDITED: [&str; 7] = [
    "/login",
    "/logout",
    "/account/password",
    "/account/totp",
    "/account/tokens",
    "/api/v1/tokens",
    "/admin/users",
];

/// Routes whose successful writes the store records inside the writing transaction (points and
/// the shop: one audit entry in the same transaction as the ledger entries); their refusals and
/// failures are still recorded here.
const AUDITED_WHEN_SUCCESSFUL: [&str; 13] = [
    "/api/v1/points",
    "/api/v1/shop",
    "/m/points",
    "/shop",
    // Volunteer service: every successful write appends its entry in its own transaction.
    "/api/v1/volunteers",
    "/api/v1/teams",
    "/api/v1/activities",
    "/api/v1/service-records",
    "/m/activities",
    "/activities",
    "/volunteers",
    "/teams",
    "/service-records",
];

fn store_audits_success(method: &Method, route: &str) -> bool {
    *method == Method::POST
        && AUDITED_WHEN_SUCCESSFUL
            .iter()
            .any(|p| route.starts_with(&format!("{p}/")))
}

fn audited(method: &Method, route: &str) -> bool {
    if SELF_AUDITED
        .iter()
        .any(|p| route == *p || route.starts_with(&format!("{p}/")))
    {
        return false;
    }
    let path = route;
    let reads_audit = path.starts_with("/audit") || path.starts_with("/api/v1/audit");
    // Exports carry personal data out of the platform: each one is recorded.
    let exports = path.ends_with("/export") || path.ends_with(".xlsx");
    reads_audit || exports || !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Records the request's actor, route, target and outcome after the handler ran.
pub async fn audit_layer(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let route = req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_string());
    let path = req.uri().path().to_string();
    let Some(route) = route.filter(|r| audited(&method, r)) else {
        return next.run(req).await;
    };
    let (actor_id, actor_name, roles) = match (req.extensions().get::<Session>(), req.extensions().get::<Bearer>()) {
        (_, Some(Bearer(Some(t)))) => (Some(t.actor.user_id), t.actor.username.clone(), t.actor.role_keys()),
        (Some(Session(info, _)), _) => (
            Some(info.actor.user_id),
            info.actor.username.clone(),
            info.actor.role_keys(),
        ),
        _ => (None, "anonymous".to_string(), String::new()),
    };
    let client = req
        .extensions()
        .get::<ClientAddr>()
        .map(|c| c.0.clone())
        .unwrap_or_default();
    // The upload forms carry the session's CSRF token in their address: it is not recorded.
    let query = req
        .uri()
        .query()
        .map(|q| {
            q.split('&')
                .filter(|kv| kv.split('=').next() != Some("_csrf"))
                .collect::<Vec<_>>()
                .join("&")
                .chars()
                .take(300)
                .collect::<String>()
        })
        .unwrap_or_default();
    let store_audited = store_audits_success(&method, &route);
    let response = next.run(req).await;
    let status = response.status();
    if store_audited && (status.is_success() || status.is_redirection()) {
        return response;
    }
    let result = if status.is_success() || status.is_redirection() {
        "success"
    } else if status.is_client_error() {
        "refused"
    } else {
        "error"
    };
    let event = AuditEvent {
        actor_id,
        actor_name,
        roles,
        action: format!("{method} {route}"),
        object: path,
        result: result.to_string(),
        client_addr: client,
        operation_id: uuid::Uuid::new_v4().simple().to_string()[..12].to_string(),
        detail: if query.is_empty() {
            format!("HTTP {}", status.as_u16())
        } else {
            format!("HTTP {} ?{query}", status.as_u16())
        },
    };
    if let Err(e) = state.store.audit(&event).await {
        // The action is done (or refused); losing its audit entry is an operator alarm, not a
        // user error. The entry is logged instead, with the cause when the database could not
        // write at all (a full disk, a read-only file system): its next write succeeds once
        // the cause is gone.
        tracing::error!(
            error = %e,
            cause = e.storage_fault().unwrap_or("other"),
            action = %event.action,
            object = %event.object,
            result = %event.result,
            actor = %event.actor_name,
            client = %event.client_addr,
            detail = %event.detail,
            "audit entry could not be written"
        );
    }
    response
}

#[derive(Deserialize, Default, IntoParams)]
pub struct AuditQuery {
    /// Exact user name.
    #[serde(default)]
    actor: String,
    /// Part of the action, e.g. `move` or `login`.
    #[serde(default)]
    action: String,
    /// `success`, `refused`, `failed`, `locked`, `error`…
    #[serde(default)]
    result: String,
    /// From this date (YYYY-MM-DD, UTC), inclusive.
    #[serde(default)]
    from: String,
    /// Up to this date (YYYY-MM-DD, UTC), inclusive.
    #[serde(default)]
    to: String,
    cursor: Option<i64>,
}

impl AuditQuery {
    fn filter(&self) -> AuditFilter {
        let day_after = |d: &str| {
            chrono::NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d")
                .ok()
                .and_then(|d| d.succ_opt())
                .map(|d| d.format("%Y-%m-%d").to_string())
        };
        AuditFilter {
            actor: Some(self.actor.trim().to_string()),
            action: Some(self.action.trim().to_string()),
            result: Some(self.result.trim().to_string()),
            from: Some(self.from.trim().to_string()),
            to: day_after(&self.to),
        }
    }

    fn query_string(&self) -> String {
        serde_urlencoded::to_string([
            ("actor", &self.actor),
            ("action", &self.action),
            ("result", &self.result),
            ("from", &self.from),
            ("to", &self.to),
        ])
        .unwrap_or_default()
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "audit/list.html")]
struct ListPage {
    chrome: Chrome,
    q: AuditQuery,
    qs: String,
    page: Page<AuditEntry>,
    verdict: Option<AuditVerdict>,
}

async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(q): Query<AuditQuery>,
) -> Result<ListPage, PageError> {
    let page = state
        .store
        .audit_entries(&user.actor, &q.filter(), q.cursor, 100)
        .await?;
    let qs = q.query_string();
    Ok(ListPage {
        chrome: user.chrome("audit"),
        q,
        qs,
        page,
        verdict: None,
    })
}

async fn verify(State(state): State<AppState>, user: CurrentUser) -> Result<ListPage, PageError> {
    require_audit(&user.actor)?;
    let verdict = state.store.verify_audit().await?;
    let q = AuditQuery::default();
    let page = state.store.audit_entries(&user.actor, &q.filter(), None, 100).await?;
    Ok(ListPage {
        chrome: user.chrome("audit"),
        qs: q.query_string(),
        q,
        page,
        verdict: Some(verdict),
    })
}

/// The filtered entries as an xlsx workbook (at most 100,000 rows).
async fn export(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(q): Query<AuditQuery>,
) -> Result<Response, PageError> {
    let filter = q.filter();
    let mut rows = Vec::new();
    let mut cursor = None;
    loop {
        let page = state.store.audit_entries(&user.actor, &filter, cursor, 10_000).await?;
        rows.extend(page.items);
        match page.next_cursor.and_then(|c| c.parse().ok()) {
            Some(c) if rows.len() < 100_000 => cursor = Some(c),
            _ => break,
        }
    }
    let bytes = workbook(&rows).map_err(|e| PageError::Store(StoreError::Config(format!("xlsx: {e}"))))?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet".to_string(),
            ),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"audit-log.xlsx\"".to_string(),
            ),
        ],
        bytes,
    )
        .into_response())
}

fn workbook(rows: &[AuditEntry]) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("审计日志")?;
    let bold = rust_xlsxwriter::Format::new().set_bold();
    let headers = [
        "序号",
        "时间（UTC）",
        "用户",
        "角色",
        "操作",
        "对象",
        "结果",
        "客户端地址",
        "操作编号",
        "详情",
        "哈希",
    ];
    for (c, h) in headers.iter().enumerate() {
        sheet.write_with_format(0, c as u16, *h, &bold)?;
    }
    for (i, e) in rows.iter().enumerate() {
        let r = (i + 1) as u32;
        sheet.write(r, 0, e.seq as f64)?;
        let cells = [
            &e.at,
            &e.actor_name,
            &e.roles,
            &e.action,
            &e.object,
            &e.result,
            &e.client_addr,
            &e.operation_id,
            &e.detail,
            &e.hash,
        ];
        for (c, v) in cells.iter().enumerate() {
            sheet.write(r, (c + 1) as u16, v.as_str())?;
        }
    }
    sheet.autofit();
    book.save_to_buffer()
}

/// Audit entries, newest first (audit administrator only).
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", params(AuditQuery),
    responses((status = 200, description = "A page of entries"), (status = 403, body = crate::error::Problem)))]
pub async fn api_list(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Query(q): Query<AuditQuery>,
) -> ApiResult<Json<Page<AuditEntry>>> {
    Ok(Json(
        state.store.audit_entries(&actor, &q.filter(), q.cursor, 200).await?,
    ))
}
