//! Spreadsheet imports in the browser — residents, party members, units and posts: upload
//! (with its progress) → preview with every row checked → download of the refused rows →
//! commit of the valid rows in one transaction, leaving or updating what is already recorded.

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use gongjian_store::StoreError;
use gongjian_store::imports::{
    ImportKind, ImportOptions, ImportReport, OnDuplicate, RowIssue, Stashed, rejected_workbook,
};
use gongjian_store::tree::Node;
use serde::Deserialize;

use crate::auth::CurrentUser;
use crate::error::PageError;
use crate::ui::Chrome;
use crate::{AppState, Route, get, post};

pub fn routes() -> Vec<Route> {
    vec![
        get("/tree/{id}/import", upload_page),
        post("/tree/{id}/import", upload),
        post("/imports/{id}/commit", commit),
        get("/imports/{id}/rejected.xlsx", rejected),
    ]
}

/// Refused rows (and warnings) shown on the page; all of them are in the download.
const SHOWN: usize = 200;

#[derive(Template, WebTemplate)]
#[template(path = "imports/upload.html")]
struct UploadPage {
    chrome: Chrome,
    node: Node,
    kind: ImportKind,
    kinds: [ImportKind; 4],
    error: Option<String>,
}

impl UploadPage {
    fn new(user: &CurrentUser, node: Node, kind: ImportKind, error: Option<String>) -> UploadPage {
        UploadPage {
            chrome: user.chrome("tree"),
            node,
            kind,
            kinds: ImportKind::ALL,
            error,
        }
    }
}

#[derive(Deserialize)]
struct KindQuery {
    #[serde(default)]
    kind: String,
}

fn kind_of(key: &str) -> ImportKind {
    ImportKind::from_key(key).unwrap_or(ImportKind::Residents)
}

async fn upload_page(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    Query(q): Query<KindQuery>,
) -> Result<UploadPage, PageError> {
    let node = state.store.node(&user.actor, id).await?;
    Ok(UploadPage::new(&user, node, kind_of(&q.kind), None))
}

#[derive(Template, WebTemplate)]
#[template(path = "imports/report.html")]
struct ReportPage {
    chrome: Chrome,
    node_id: i64,
    import_id: i64,
    kind: ImportKind,
    filename: String,
    report: ImportReport,
    shown: Vec<RowIssue>,
    warnings: Vec<RowIssue>,
}

impl ReportPage {
    fn new(chrome: Chrome, node_id: i64, import_id: i64, filename: String, report: ImportReport) -> ReportPage {
        let shown = report.rejected.iter().take(SHOWN).cloned().collect();
        let warnings = report.warnings.iter().take(SHOWN).cloned().collect();
        ReportPage {
            chrome,
            node_id,
            import_id,
            kind: kind_of(&report.kind),
            filename,
            report,
            shown,
            warnings,
        }
    }

    /// Where to look at the imported records afterwards.
    fn records_href(&self) -> String {
        match self.kind {
            ImportKind::Residents => format!("/tree/{}/residents", self.node_id),
            _ => format!("/tree/{}", self.node_id),
        }
    }
}

/// Checks every row of an upload without writing (the preview).
fn preview(kind: ImportKind, node_id: i64) -> ImportOptions {
    ImportOptions {
        kind,
        on_duplicate: OnDuplicate::Skip,
        commit: false,
        at: Some(node_id),
    }
}

fn silent(_: &str, _: u64, _: u64) {}

async fn upload(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    mut multipart: Multipart,
) -> Result<Response, PageError> {
    let node = state.store.node(&user.actor, id).await?;
    let mut file: Option<(String, Vec<u8>)> = None;
    let mut kind = ImportKind::Residents;
    while let Ok(Some(field)) = multipart.next_field().await {
        match field.name() {
            Some("file") => {
                let name = field.file_name().unwrap_or("upload.xlsx").to_string();
                let bytes = field
                    .bytes()
                    .await
                    .map_err(|e| PageError::BadRequest(format!("上传中断：{e}")))?;
                file = Some((name, bytes.to_vec()));
            }
            Some("kind") => kind = kind_of(field.text().await.unwrap_or_default().trim()),
            _ => {}
        }
    }
    let refuse = |message: String| {
        let page = UploadPage::new(&user, node.clone(), kind, Some(message));
        (StatusCode::UNPROCESSABLE_ENTITY, page).into_response()
    };
    let Some((filename, bytes)) = file.filter(|(_, b)| !b.is_empty()) else {
        return Ok(refuse("请选择要导入的文件".into()));
    };
    let options = preview(kind, node.id);
    let report = match state
        .store
        .import(&user.actor, &filename, &bytes, options, &user.client, &silent)
        .await
    {
        Ok(r) => r,
        Err(StoreError::Invalid(v)) => return Ok(refuse(v.to_string())),
        Err(e) => return Err(e.into()),
    };
    let import_id = state
        .store
        .stash_import(&user.actor, &filename, &bytes, &report)
        .await?;
    Ok(ReportPage::new(user.chrome("tree"), node.id, import_id, filename, report).into_response())
}

/// What a preview answers once its upload is gone: uploads not imported within 24 hours are
/// deleted.
const EXPIRED: &str = "该上传已超过 24 小时未导入，文件已删除，请重新上传。";

/// The user's own upload; one left uncommitted for 24 hours (or already purged) answers that
/// it has expired and must be uploaded again.
async fn stashed(state: &AppState, user: &CurrentUser, id: i64) -> Result<Stashed, PageError> {
    match state.store.stashed_import(&user.actor, id).await {
        Ok(s) if s.expired => Err(PageError::Gone(EXPIRED.into())),
        Ok(s) => Ok(s),
        Err(StoreError::NotFound) => Err(PageError::Missing(
            "未找到该上传：它不存在，或已超过 24 小时未导入而被删除。请重新上传。".into(),
        )),
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
struct CommitForm {
    #[serde(default)]
    on_duplicate: String,
    #[serde(default)]
    node_id: i64,
}

async fn commit(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    Form(form): Form<CommitForm>,
) -> Result<Response, PageError> {
    let stashed = stashed(&state, &user, id).await?;
    let Some(bytes) = stashed.payload else {
        return Err(PageError::BadRequest("该文件已导入，不能重复提交".into()));
    };
    let options = ImportOptions {
        on_duplicate: if form.on_duplicate == "update" {
            OnDuplicate::Update
        } else {
            OnDuplicate::Skip
        },
        commit: true,
        ..preview(stashed.kind, form.node_id)
    };
    let report = state
        .store
        .import(&user.actor, &stashed.filename, &bytes, options, &user.client, &silent)
        .await?;
    state.store.finish_import(&user.actor, id, &report).await?;
    Ok(ReportPage::new(user.chrome("tree"), form.node_id, id, stashed.filename, report).into_response())
}

/// The refused rows of an upload as a workbook: row, column, value as given, reason.
async fn rejected(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let stashed = stashed(&state, &user, id).await?;
    let report = stashed.report.ok_or(PageError::NotFound)?;
    let bytes = rejected_workbook(&report).map_err(|e| PageError::Store(StoreError::Config(format!("xlsx: {e}"))))?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet".to_string(),
            ),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"rejected-rows.xlsx\"".to_string(),
            ),
        ],
        bytes,
    )
        .into_response())
}
