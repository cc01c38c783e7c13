//! Activities: the API (`/api/v1/nodes/{id}/activities`, `/api/v1/activities/…`), the month
//! calendar and list under a node, the activity page with sign-ups and waitlist, the
//! full-screen check-in code that refreshes itself, and "my activities" on the phone with the
//! page a scanned code opens (`/m/activities/{id}/check/{in|out}?c=CODE`: the resident confirms
//! with one tap, a POST carrying the session's CSRF token).

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Redirect;
use axum::{Form, Json};
use chrono::{Datelike, NaiveDate, TimeDelta};
use gongjian_domain::volunteers::activities::ActivityForm;
use gongjian_domain::volunteers::attendance::Purpose;
use gongjian_store::StoreError;
use gongjian_store::tree::Node;
use gongjian_store::volunteers::{Activity, ShownCode, Signup};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::{ApiUser, Client, CurrentUser};
use crate::error::{ApiResult, PageError};
use crate::ui::{Chrome, qr_svg};
use crate::{AppState, Route, get, post};

pub(super) fn routes() -> Vec<Route> {
    vec![
        get("/api/v1/nodes/{id}/activities", api_list),
        post("/api/v1/nodes/{id}/activities", api_create),
        get("/api/v1/activities/{id}", api_get),
        post("/api/v1/activities/{id}", api_update),
        post("/api/v1/activities/{id}/cancel", api_cancel),
        get("/api/v1/activities/{id}/signups", api_signups),
        post("/api/v1/activities/{id}/signups", api_sign_up),
        post("/api/v1/activities/{id}/signups/cancel", api_cancel_signup),
        get("/api/v1/activities/{id}/code", api_code),
        post("/api/v1/activities/{id}/check", api_check),
        get("/api/v1/me/activities", api_mine),
        get("/tree/{id}/activities", calendar),
        get("/activities/{id}", detail),
        post("/activities/{id}/cancel", cancel),
        post("/activities/{id}/signups", staff_sign_up),
        get("/activities/{id}/qr", qr_page),
        get("/m/activities", mine),
        post("/m/activities/{id}/signup", my_sign_up),
        post("/m/activities/{id}/cancel", my_cancel),
        get("/m/activities/{id}/check/{purpose}", scan_page),
        post("/m/activities/{id}/check/{purpose}", scan_submit),
    ]
}

/// An activity as submitted (documentation of the body; every field may be text).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ActivityBody {
    title: String,
    /// `volunteer`, `theme_day`, `lecture`, `film` or `mass`.
    kind: String,
    team_id: Option<i64>,
    campaign_id: Option<i64>,
    place: String,
    content: String,
    /// `YYYY-MM-DDTHH:MM` (China time) or RFC 3339.
    starts_at: String,
    ends_at: String,
    capacity: i64,
    /// Blank: now.
    signup_opens_at: String,
    /// Blank: when the activity starts. Not after its end.
    signup_closes_at: String,
    /// Blank: the creating user's name.
    organiser_name: String,
    scheme_id: Option<i64>,
    points_per_hour: i64,
}

#[derive(Deserialize, Default, IntoParams)]
pub struct MonthQuery {
    /// `YYYY-MM` (China time); this month when left out.
    #[serde(default)]
    month: String,
}

/// The first day of the month asked for and of the next, China time.
fn month_bounds(raw: &str, today: NaiveDate) -> (NaiveDate, NaiveDate) {
    let first = NaiveDate::parse_from_str(&format!("{}-01", raw.trim()), "%Y-%m-%d")
        .ok()
        .filter(|d| (2000..=2100).contains(&d.year()))
        .unwrap_or_else(|| today.with_day(1).unwrap_or(today));
    let next = first
        .checked_add_months(chrono::Months::new(1))
        .unwrap_or(first + TimeDelta::days(31));
    (first, next)
}

/// A China-time midnight as stored text.
fn stored(d: NaiveDate) -> String {
    gongjian_store::time_text(d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc() - TimeDelta::hours(8))
}

#[utoipa::path(get, path = "/api/v1/nodes/{id}/activities", tag = "volunteers", params(("id" = i64, Path), MonthQuery),
    responses((status = 200, body = [Activity]), (status = 404, body = crate::error::Problem)))]
pub async fn api_list(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Path(id): Path<i64>,
    Query(q): Query<MonthQuery>,
) -> ApiResult<Json<Vec<Activity>>> {
    let (from, to) = month_bounds(&q.month, state.store.today());
    Ok(Json(
        state
            .store
            .activities_under(&actor, id, &stored(from), &stored(to))
            .await?,
    ))
}

#[utoipa::path(post, path = "/api/v1/nodes/{id}/activities", tag = "volunteers", params(("id" = i64, Path)),
    request_body = ActivityBody,
    responses((status = 201, body = Activity), (status = 422, body = crate::error::Problem)))]
pub async fn api_create(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Client(client): Client,
    Path(id): Path<i64>,
    Json(f): Json<ActivityForm>,
) -> ApiResult<(StatusCode, Json<Activity>)> {
    Ok((
        StatusCode::CREATED,
        Json(state.store.create_activity(&actor, id, &f, &client).await?),
    ))
}

#[utoipa::path(get, path = "/api/v1/activities/{id}", tag = "volunteers", params(("id" = i64, Path)),
    responses((status = 200, body = Activity), (status = 404, body = crate::error::Problem)))]
pub async fn api_get(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<Activity>> {
    Ok(Json(state.store.activity(&actor, id).await?))
}

#[utoipa::path(post, path = "/api/v1/activities/{id}", tag = "volunteers", params(("id" = i64, Path)),
    request_body = ActivityBody,
    responses((status = 200, body = Activity), (status = 422, body = crate::error::Problem)))]
pub async fn api_update(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Client(client): Client,
    Path(id): Path<i64>,
    Json(f): Json<ActivityForm>,
) -> ApiResult<Json<Activity>> {
    Ok(Json(state.store.update_activity(&actor, id, &f, &client).await?))
}

#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
pub struct ReasonInput {
    #[serde(default)]
    pub reason: String,
}

#[utoipa::path(post, path = "/api/v1/activities/{id}/cancel", tag = "volunteers", params(("id" = i64, Path)),
    request_body = ReasonInput,
    responses((status = 200, body = Activity), (status = 422, body = crate::error::Problem)))]
pub async fn api_cancel(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Client(client): Client,
    Path(id): Path<i64>,
    Json(r): Json<ReasonInput>,
) -> ApiResult<Json<Activity>> {
    Ok(Json(state.store.cancel_activity(&actor, id, &r.reason, &client).await?))
}

#[utoipa::path(get, path = "/api/v1/activities/{id}/signups", tag = "volunteers", params(("id" = i64, Path)),
    responses((status = 200, body = [Signup]), (status = 404, body = crate::error::Problem)))]
pub async fn api_signups(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<Vec<Signup>>> {
    Ok(Json(state.store.signups(&actor, id).await?))
}

/// Whom a sign-up is for: left out, the caller's own person.
#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
pub struct SignupInput {
    #[serde(default)]
    pub person_id: Option<i64>,
}

#[utoipa::path(post, path = "/api/v1/activities/{id}/signups", tag = "volunteers", params(("id" = i64, Path)),
    request_body = SignupInput,
    responses((status = 201, body = Signup), (status = 422, body = crate::error::Problem)))]
pub async fn api_sign_up(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Client(client): Client,
    Path(id): Path<i64>,
    Json(s): Json<SignupInput>,
) -> ApiResult<(StatusCode, Json<Signup>)> {
    let r = state.store.sign_up(&actor, id, s.person_id, &client).await?;
    Ok((StatusCode::CREATED, Json(r)))
}

#[utoipa::path(post, path = "/api/v1/activities/{id}/signups/cancel", tag = "volunteers", params(("id" = i64, Path)),
    request_body = SignupInput,
    responses((status = 200, body = Signup), (status = 422, body = crate::error::Problem)))]
pub async fn api_cancel_signup(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Client(client): Client,
    Path(id): Path<i64>,
    Json(s): Json<SignupInput>,
) -> ApiResult<Json<Signup>> {
    Ok(Json(state.store.cancel_signup(&actor, id, s.person_id, &client).await?))
}

#[derive(Deserialize, Default, IntoParams)]
pub struct PurposeQuery {
    /// `in` (default) or `out`.
    #[serde(default)]
    purpose: String,
}

fn purpose(raw: &str) -> Purpose {
    Purpose::parse(raw.trim()).unwrap_or(Purpose::In)
}

#[utoipa::path(get, path = "/api/v1/activities/{id}/code", tag = "volunteers", params(("id" = i64, Path), PurposeQuery),
    responses((status = 200, body = ShownCode), (status = 403, body = crate::error::Problem)))]
pub async fn api_code(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Path(id): Path<i64>,
    Query(q): Query<PurposeQuery>,
) -> ApiResult<Json<ShownCode>> {
    Ok(Json(state.store.checkin_code(&actor, id, purpose(&q.purpose)).await?))
}

/// A scanned code.
#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
pub struct CheckInput {
    /// `in` or `out`.
    #[serde(default)]
    pub purpose: String,
    #[serde(default)]
    pub code: String,
}

#[utoipa::path(post, path = "/api/v1/activities/{id}/check", tag = "volunteers", params(("id" = i64, Path)),
    request_body = CheckInput,
    responses((status = 200, body = Signup), (status = 422, body = crate::error::Problem)))]
pub async fn api_check(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Client(client): Client,
    Path(id): Path<i64>,
    Json(c): Json<CheckInput>,
) -> ApiResult<Json<Signup>> {
    let p = Purpose::parse(c.purpose.trim()).ok_or_else(|| StoreError::field("purpose", "应为 in 或 out"))?;
    Ok(Json(
        state.store.check_with_code(&actor, id, p, &c.code, &client).await?,
    ))
}

/// An activity with the caller's sign-up.
#[derive(Serialize, ToSchema)]
pub struct MyActivity {
    pub activity: Activity,
    pub signup: Option<Signup>,
}

#[utoipa::path(get, path = "/api/v1/me/activities", tag = "volunteers",
    responses((status = 200, body = [MyActivity]), (status = 422, body = crate::error::Problem)))]
pub async fn api_mine(State(state): State<AppState>, ApiUser(actor): ApiUser) -> ApiResult<Json<Vec<MyActivity>>> {
    let rows = state.store.my_activities(&actor).await?;
    Ok(Json(
        rows.into_iter()
            .map(|(activity, signup)| MyActivity { activity, signup })
            .collect(),
    ))
}

// ---------------------------------------------------------------------------------------------
// Pages

/// One day cell of the month view.
pub struct Day {
    pub day: u32,
    pub in_month: bool,
    pub activities: Vec<Activity>,
}

#[derive(Template, WebTemplate)]
#[template(path = "volunteers/calendar.html")]
struct CalendarPage {
    chrome: Chrome,
    node: Node,
    month: String,
    prev: String,
    next: String,
    weeks: Vec<Vec<Day>>,
    activities: Vec<Activity>,
}

async fn calendar(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    Query(q): Query<MonthQuery>,
) -> Result<CalendarPage, PageError> {
    let node = state.store.node(&user.actor, id).await?;
    let (first, next) = month_bounds(&q.month, state.store.today());
    let activities = state
        .store
        .activities_under(&user.actor, id, &stored(first), &stored(next))
        .await?;
    // Weeks start on Monday; cells before the 1st and after the last day are blank.
    let lead = first.weekday().num_days_from_monday() as i64;
    let mut weeks = Vec::new();
    let mut week = Vec::new();
    let mut d = first - TimeDelta::days(lead);
    while d < next || week.len() % 7 != 0 {
        let key = d.format("%Y-%m-%d").to_string();
        week.push(Day {
            day: d.day(),
            in_month: d >= first && d < next,
            activities: activities.iter().filter(|a| a.day() == key).cloned().collect(),
        });
        if week.len() == 7 {
            weeks.push(std::mem::take(&mut week));
        }
        d += TimeDelta::days(1);
    }
    let prev = first
        .checked_sub_months(chrono::Months::new(1))
        .unwrap_or(first)
        .format("%Y-%m")
        .to_string();
    Ok(CalendarPage {
        chrome: user.chrome("tree"),
        node,
        month: first.format("%Y-%m").to_string(),
        prev,
        next: next.format("%Y-%m").to_string(),
        weeks,
        activities,
    })
}

#[derive(Template, WebTemplate)]
#[template(path = "volunteers/activity.html")]
struct DetailPage {
    chrome: Chrome,
    activity: Activity,
    signups: Vec<Signup>,
    records: Vec<gongjian_store::volunteers::ServiceRecord>,
    manages: bool,
}

async fn detail(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<DetailPage, PageError> {
    let activity = state.store.activity(&user.actor, id).await?;
    let signups = state.store.signups(&user.actor, id).await?;
    let records = state.store.records_of_activity(&user.actor, id).await?;
    let manages = state.store.may_manage_activity(&user.actor, &activity).await;
    Ok(DetailPage {
        chrome: user.chrome("tree"),
        activity,
        signups,
        records,
        manages,
    })
}

async fn cancel(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    Form(r): Form<ReasonInput>,
) -> Result<Redirect, PageError> {
    state
        .store
        .cancel_activity(&user.actor, id, &r.reason, &user.client)
        .await?;
    Ok(Redirect::to(&format!("/activities/{id}")))
}

#[derive(Deserialize)]
struct PersonValues {
    #[serde(default)]
    person_id: String,
}

async fn staff_sign_up(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    Form(f): Form<PersonValues>,
) -> Result<Redirect, PageError> {
    let pid = f
        .person_id
        .trim()
        .parse::<i64>()
        .map_err(|_| StoreError::field("person_id", "请填写居民编号（数字 ID）"))?;
    state.store.sign_up(&user.actor, id, Some(pid), &user.client).await?;
    Ok(Redirect::to(&format!("/activities/{id}")))
}

#[derive(Template, WebTemplate)]
#[template(path = "volunteers/qr.html")]
struct QrPage {
    activity: Activity,
    purpose: &'static str,
    other: &'static str,
    svg: String,
    url: String,
}

async fn qr_page(
    State(state): State<AppState>,
    user: CurrentUser,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Query(q): Query<PurposeQuery>,
) -> Result<QrPage, PageError> {
    let p = purpose(&q.purpose);
    let activity = state.store.activity(&user.actor, id).await?;
    let code = state.store.checkin_code(&user.actor, id, p).await?;
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| h.chars().all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c)))
        .unwrap_or("127.0.0.1");
    let scheme = if state.config.secure_cookies { "https" } else { "http" };
    let url = format!("{scheme}://{host}/m/activities/{id}/check/{}?c={}", p.key(), code.code);
    Ok(QrPage {
        activity,
        purpose: p.label_zh(),
        other: if p == Purpose::In { "out" } else { "in" },
        svg: qr_svg(&url),
        url,
    })
}

#[derive(Template, WebTemplate)]
#[template(path = "volunteers/mine.html")]
struct MinePage {
    chrome: Chrome,
    rows: Vec<(Activity, Option<Signup>)>,
    linked: bool,
}

async fn mine(State(state): State<AppState>, user: CurrentUser) -> Result<MinePage, PageError> {
    let (rows, linked) = match state.store.my_activities(&user.actor).await {
        Ok(rows) => (rows, true),
        Err(StoreError::Invalid(_)) => (Vec::new(), false),
        Err(e) => return Err(e.into()),
    };
    Ok(MinePage {
        chrome: user.chrome("activities"),
        rows,
        linked,
    })
}

async fn my_sign_up(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<Redirect, PageError> {
    state.store.sign_up(&user.actor, id, None, &user.client).await?;
    Ok(Redirect::to("/m/activities"))
}

async fn my_cancel(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<Redirect, PageError> {
    state.store.cancel_signup(&user.actor, id, None, &user.client).await?;
    Ok(Redirect::to("/m/activities"))
}

#[derive(Deserialize, Default)]
struct CodeQuery {
    #[serde(default)]
    c: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "volunteers/scan.html")]
struct ScanPage {
    chrome: Chrome,
    activity_id: i64,
    title: String,
    purpose: &'static str,
    purpose_key: &'static str,
    code: String,
    outcome: Option<Result<Signup, String>>,
}

async fn scan_page(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((id, p)): Path<(i64, String)>,
    Query(q): Query<CodeQuery>,
) -> Result<ScanPage, PageError> {
    let p = Purpose::parse(&p).ok_or(PageError::NotFound)?;
    let title = state.store.activity(&user.actor, id).await?.title;
    Ok(ScanPage {
        chrome: user.chrome("activities"),
        activity_id: id,
        title,
        purpose: p.label_zh(),
        purpose_key: p.key(),
        code: q.c,
        outcome: None,
    })
}

async fn scan_submit(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((id, p)): Path<(i64, String)>,
    Form(q): Form<CodeQuery>,
) -> Result<(StatusCode, ScanPage), PageError> {
    let p = Purpose::parse(&p).ok_or(PageError::NotFound)?;
    let title = state.store.activity(&user.actor, id).await?.title;
    let (status, outcome) = match state
        .store
        .check_with_code(&user.actor, id, p, &q.c, &user.client)
        .await
    {
        Ok(s) => (StatusCode::OK, Ok(s)),
        Err(StoreError::Invalid(v)) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Err(v.0.iter().map(|e| e.message.clone()).collect::<Vec<_>>().join("；")),
        ),
        Err(e) => return Err(e.into()),
    };
    Ok((
        status,
        ScanPage {
            chrome: user.chrome("activities"),
            activity_id: id,
            title,
            purpose: p.label_zh(),
            purpose_key: p.key(),
            code: q.c,
            outcome: Some(outcome),
        },
    ))
}
