//! Spreadsheet imports in the browser: upload → preview with every row checked → download of
//! the refused rows → commit of the valid rows in one transaction.

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::{Multipart, Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use gongjian_store::StoreError;
use gongjian_store::imports::{ImportOptions, ImportReport, OnDuplicate, RowIssue, rejected_workbook};
use gongjian_store::tree::Node;
use serde::Deserialize;

use crate::auth::CurrentUser;
use crate::error::PageError;
use crate::ui::Chrome;
use crate::{AppState, Route, get, post};

pub fn routes() -> Vec<Route> {
    vec![
        get("/tree/{id}/residents/import", upload_page),
        post("/tree/{id}/residents/import", upload),
        post("/imports/{id}/commit", commit),
        get("/imports/{id}/rejected.xlsx", rejected),
    ]
}

const KIND: &str = "residents";
/// Refused rows shown on the page; all of them are in the download.
const SHOWN: usize = 200;

#[derive(Template, WebTemplate)]
#[template(path = "imports/upload.html")]
struct UploadPage {
    chrome: Chrome,
    node: Node,
    error: Option<String>,
}

async fn upload_page(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<UploadPage, PageError> {
    let node = state.store.node(&user.actor, id).await?;
    Ok(UploadPage {
        chrome: user.chrome("tree"),
        node,
        error: None,
    })
}

#[derive(Template, WebTemplate)]
#[template(path = "imports/report.html")]
struct ReportPage {
    chrome: Chrome,
    node_id: i64,
    import_id: i64,
    filename: String,
    report: ImportReport,
    shown: Vec<RowIssue>,
}

impl ReportPage {
    fn new(chrome: Chrome, node_id: i64, import_id: i64, filename: String, report: ImportReport) -> ReportPage {
        let shown = report.rejected.iter().take(SHOWN).cloned().collect();
        ReportPage {
            chrome,
            node_id,
            import_id,
            filename,
            report,
            shown,
        }
    }
}

async fn upload(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    mut multipart: Multipart,
) -> Result<Response, PageError> {
    let node = state.store.node(&user.actor, id).await?;
    let mut file: Option<(String, Vec<u8>)> = None;
    while let Ok(Some(field)) = multipart.next_field().await {
        if field.name() == Some("file") {
            let name = field.file_name().unwrap_or("upload.xlsx").to_string();
            let bytes = field
                .bytes()
                .await
                .map_err(|e| PageError::BadRequest(format!("上传中断：{e}")))?;
            file = Some((name, bytes.to_vec()));
        }
    }
    let refuse = |message: String| {
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            UploadPage {
                chrome: user.chrome("tree"),
                node: node.clone(),
                error: Some(message),
            },
        )
            .into_response()
    };
    let Some((filename, bytes)) = file.filter(|(_, b)| !b.is_empty()) else {
        return Ok(refuse("请选择要导入的文件".into()));
    };
    let options = ImportOptions {
        on_duplicate: OnDuplicate::Skip,
        commit: false,
    };
    let none = |_: &str, _: u64, _: u64| {};
    let report = match state
        .store
        .import_residents(&user.actor, &filename, &bytes, options, &user.client, &none)
        .await
    {
        Ok(r) => r,
        Err(StoreError::Invalid(v)) => return Ok(refuse(v.to_string())),
        Err(e) => return Err(e.into()),
    };
    let import_id = state.store.stash_import(&user.actor, KIND, &filename, &bytes).await?;
    Ok(ReportPage::new(user.chrome("tree"), node.id, import_id, filename, report).into_response())
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
    let (filename, payload, _) = state.store.stashed_import(&user.actor, id).await?;
    let Some(bytes) = payload else {
        return Err(PageError::BadRequest("该文件已导入，不能重复提交".into()));
    };
    let on_duplicate = if form.on_duplicate == "update" {
        OnDuplicate::Update
    } else {
        OnDuplicate::Skip
    };
    let options = ImportOptions {
        on_duplicate,
        commit: true,
    };
    let none = |_: &str, _: u64, _: u64| {};
    let report = state
        .store
        .import_residents(&user.actor, &filename, &bytes, options, &user.client, &none)
        .await?;
    state.store.finish_import(&user.actor, id, &report).await?;
    Ok(ReportPage::new(user.chrome("tree"), form.node_id, id, filename, report).into_response())
}

/// The refused rows of an upload as a workbook: row, column, value as given, reason.
async fn rejected(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let (filename, payload, stored) = state.store.stashed_import(&user.actor, id).await?;
    let report: ImportReport = match (stored, payload) {
        (Some(json), _) => {
            serde_json::from_str(&json).map_err(|e| PageError::BadRequest(format!("报告无法读取：{e}")))?
        }
        (None, Some(bytes)) => {
            let options = ImportOptions {
                on_duplicate: OnDuplicate::Skip,
                commit: false,
            };
            let none = |_: &str, _: u64, _: u64| {};
            state
                .store
                .import_residents(&user.actor, &filename, &bytes, options, &user.client, &none)
                .await?
        }
        (None, None) => return Err(PageError::NotFound),
    };
    let bytes =
        rejected_workbook(&report.rejected).map_err(|e| PageError::Store(StoreError::Config(format!("xlsx: {e}"))))?;
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
