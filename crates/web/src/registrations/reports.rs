//! The report back to employers (双报告): per community and employer over a period, as a page,
//! an xlsx workbook and a printable thank-you letter (感谢函).

use askama::Template;
use askama_web::WebTemplate;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::{Redirect, Response};
use chrono::{Datelike, NaiveDate};
use gongjian_domain::dates::{day_text, parse_day};
use gongjian_domain::registration::Minutes;
use gongjian_store::StoreError;
use gongjian_store::registrations::{EmployerReport, EmployerSummary, ThanksLetter};
use gongjian_store::tree::Node;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::auth::{ApiUser, CurrentUser};
use crate::error::{ApiResult, PageError};
use crate::ui::Chrome;
use crate::{AppState, Route, export, get, post};

pub fn routes() -> Vec<Route> {
    vec![
        get("/tree/{id}/reports", index),
        get("/tree/{id}/reports/{unit}", report),
        get("/tree/{id}/reports/{unit}/export", export_report),
        post("/tree/{id}/reports/{unit}/letter", issue_letter),
        get("/letters/{id}", letter),
        get("/api/v1/nodes/{id}/reports/{unit}", api_report),
    ]
}

/// A report period; from the first of January to today when not given.
#[derive(Deserialize, Default, IntoParams)]
pub struct PeriodQuery {
    /// First day, `YYYY-MM-DD`.
    #[serde(default)]
    from: String,
    /// Last day, `YYYY-MM-DD`.
    #[serde(default)]
    to: String,
}

impl PeriodQuery {
    fn period(&self, today: NaiveDate) -> Result<(NaiveDate, NaiveDate), StoreError> {
        let from = match self.from.trim() {
            "" => NaiveDate::from_ymd_opt(today.year(), 1, 1).unwrap_or(today),
            raw => parse_day(raw).map_err(|e| StoreError::field("from", e.to_string()))?,
        };
        let to = match self.to.trim() {
            "" => today,
            raw => parse_day(raw).map_err(|e| StoreError::field("to", e.to_string()))?,
        };
        Ok((from, to))
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "registrations/reports.html")]
struct IndexPage {
    chrome: Chrome,
    node: Node,
    employers: Vec<EmployerSummary>,
    letters: Vec<ThanksLetter>,
    from: String,
    to: String,
}

async fn index(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    Query(q): Query<PeriodQuery>,
) -> Result<IndexPage, PageError> {
    let node = state.store.node(&user.actor, id).await?;
    let (from, to) = q.period(state.store.today())?;
    Ok(IndexPage {
        chrome: user.chrome("tree"),
        employers: state.store.community_employers(&user.actor, id).await?,
        letters: state.store.thanks_letters(&user.actor, id).await?,
        node,
        from: day_text(from),
        to: day_text(to),
    })
}

#[derive(Template, WebTemplate)]
#[template(path = "registrations/report.html")]
struct ReportPage {
    chrome: Chrome,
    node: Node,
    report: EmployerReport,
    can_issue: bool,
}

impl ReportPage {
    fn hours(&self, minutes: &i64) -> String {
        Minutes::hours_text(*minutes)
    }
}

fn rating_text(r: Option<f64>) -> String {
    r.map(|r| format!("{r:.1}")).unwrap_or_default()
}

async fn report(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((id, unit)): Path<(i64, i64)>,
    Query(q): Query<PeriodQuery>,
) -> Result<ReportPage, PageError> {
    let node = state.store.node(&user.actor, id).await?;
    let (from, to) = q.period(state.store.today())?;
    let report = state.store.employer_report(&user.actor, id, unit, from, to).await?;
    let can_issue = state.store.may_manage_people_at(&user.actor, &node);
    Ok(ReportPage {
        chrome: user.chrome("tree"),
        node,
        report,
        can_issue,
    })
}

async fn export_report(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((id, unit)): Path<(i64, i64)>,
    Query(q): Query<PeriodQuery>,
) -> Result<Response, PageError> {
    let (from, to) = q.period(state.store.today())?;
    let r = state.store.employer_report(&user.actor, id, unit, from, to).await?;
    let mut cells: Vec<Vec<String>> = r
        .lines
        .iter()
        .map(|l| {
            vec![
                l.person_name.clone(),
                l.registered_on.clone(),
                l.duties.clone(),
                l.services.to_string(),
                Minutes::hours_text(l.minutes),
                rating_text(l.rating),
            ]
        })
        .collect();
    cells.push(vec![
        "合计".into(),
        String::new(),
        String::new(),
        r.services.to_string(),
        Minutes::hours_text(r.minutes),
        String::new(),
    ]);
    let headers = [
        "姓名",
        "报到日期",
        "认领岗位",
        "服务次数",
        "服务时长（小时）",
        "平均评价（星）",
    ];
    let bytes = export::workbook("报到情况", &headers, &[3, 4, 5], &cells)?;
    Ok(export::download(
        &format!("report-{}-{}-{}.xlsx", unit, r.from, r.to),
        bytes,
    ))
}

async fn issue_letter(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((id, unit)): Path<(i64, i64)>,
    Query(q): Query<PeriodQuery>,
) -> Result<Redirect, PageError> {
    let (from, to) = q.period(state.store.today())?;
    let (letter, _) = state
        .store
        .issue_thanks_letter(&user.actor, id, unit, from, to, &user.client)
        .await?;
    Ok(Redirect::to(&format!("/letters/{}", letter.id)))
}

#[derive(Template, WebTemplate)]
#[template(path = "registrations/letter.html")]
struct LetterPage {
    chrome: Chrome,
    letter: ThanksLetter,
    report: EmployerReport,
    issued_on: String,
}

impl LetterPage {
    fn hours(&self) -> String {
        Minutes::hours_text(self.report.minutes)
    }

    fn names(&self) -> String {
        self.report
            .lines
            .iter()
            .map(|l| l.person_name.as_str())
            .collect::<Vec<_>>()
            .join("、")
    }
}

async fn letter(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<LetterPage, PageError> {
    let letter = state.store.thanks_letter(&user.actor, id).await?;
    let day = |s: &str| parse_day(s).map_err(|e| PageError::BadRequest(e.to_string()));
    let report = state
        .store
        .employer_report(
            &user.actor,
            letter.community_id,
            letter.employer_unit_id,
            day(&letter.period_from)?,
            day(&letter.period_to)?,
        )
        .await?;
    let issued_on = letter.created_at.get(..10).unwrap_or_default().to_string();
    Ok(LetterPage {
        chrome: user.chrome("tree"),
        letter,
        report,
        issued_on,
    })
}

/// The report of one employer's members at a community over a period.
#[utoipa::path(get, path = "/api/v1/nodes/{id}/reports/{unit}", tag = "registration",
    params(("id" = i64, Path, description = "The community"), ("unit" = i64, Path, description = "The employer unit"), PeriodQuery),
    responses((status = 200, body = EmployerReport), (status = 404, body = crate::error::Problem)))]
pub async fn api_report(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Path((id, unit)): Path<(i64, i64)>,
    Query(q): Query<PeriodQuery>,
) -> ApiResult<Json<EmployerReport>> {
    let (from, to) = q.period(state.store.today())?;
    Ok(Json(state.store.employer_report(&actor, id, unit, from, to).await?))
}
