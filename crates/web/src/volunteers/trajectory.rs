//! A person's service trajectory (staff page, the person's own phone page and the API), the
//! printable service record (志愿服务记录 / 服务时长记录单), the national-system workbook of hours,
//! the star-level setting, and (in `campaigns`) campaigns with their progress.
//!
//! Who may read what is decided in the store: outside the reader's scope a person, a print or
//! a node does not exist (404); readable but not changeable is 403.

pub(crate) mod campaigns;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Form, Json};
use gongjian_store::stats::Period;
use gongjian_store::volunteers::export::{NATIONAL_COLUMNS, NationalRow, PrintForm, PrintSheet, ServicePrint};
use gongjian_store::volunteers::trajectory::Trajectory;
use gongjian_store::{StoreError, StoreResult};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::{ApiUser, Client, CurrentUser};
use crate::error::{ApiResult, PageError};
use crate::ui::Chrome;
use crate::{AppState, Route, export, get, post};

pub(super) fn routes() -> Vec<Route> {
    let mut r = vec![
        get("/people/{id}/service", staff_page),
        post("/people/{id}/service/prints", issue_print),
        get("/m/service", my_page),
        get("/service-prints/{id}", print_page),
        get("/tree/{id}/volunteers/national.xlsx", national_xlsx),
        get("/volunteers/settings", settings_page),
        post("/volunteers/settings", save_settings),
        get("/api/v1/people/{id}/service", api_trajectory),
        get("/api/v1/me/service", api_my_trajectory),
        post("/api/v1/people/{id}/service/prints", api_issue_print),
        get("/api/v1/service-prints/{id}", api_print),
        get("/api/v1/nodes/{id}/volunteers/national-export", api_national),
        get("/api/v1/volunteers/settings", api_settings),
        post("/api/v1/volunteers/settings", api_save_settings),
    ];
    r.extend(campaigns::routes());
    r
}

#[derive(Template, WebTemplate)]
#[template(path = "volunteers/trajectory.html")]
struct StaffPage {
    chrome: Chrome,
    t: Trajectory,
    prints: Vec<ServicePrint>,
    today: String,
}

async fn staff_page(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<StaffPage, PageError> {
    let t = state.store.trajectory(&user.actor, id).await?;
    let prints = state.store.service_prints_of(&user.actor, id).await?;
    Ok(StaffPage {
        chrome: user.chrome("people"),
        t,
        prints,
        today: state.store.today().to_string(),
    })
}

#[derive(Template, WebTemplate)]
#[template(path = "volunteers/my_service.html")]
struct MinePage {
    chrome: Chrome,
    t: Option<Trajectory>,
}

async fn my_page(State(state): State<AppState>, user: CurrentUser) -> Result<MinePage, PageError> {
    let t = match state.store.own_person_id(&user.actor).await? {
        Some(id) => Some(state.store.trajectory(&user.actor, id).await?),
        None => None,
    };
    Ok(MinePage {
        chrome: user.chrome("service"),
        t,
    })
}

async fn issue_print(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    Form(form): Form<PrintForm>,
) -> Result<Redirect, PageError> {
    let print = state
        .store
        .issue_service_print(&user.actor, id, &form, &user.client)
        .await?;
    Ok(Redirect::to(&format!("/service-prints/{}", print.id)))
}

#[derive(Template, WebTemplate)]
#[template(path = "volunteers/print.html")]
struct PrintPage {
    s: PrintSheet,
}

async fn print_page(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<PrintPage, PageError> {
    Ok(PrintPage {
        s: state.store.service_print(&user.actor, id).await?,
    })
}

/// The period of an export and whether whole ID numbers are wanted.
#[derive(Debug, Deserialize, Default, IntoParams)]
pub struct ExportQuery {
    /// `YYYY-MM-DD`.
    from: Option<String>,
    /// `YYYY-MM-DD`, today when absent.
    to: Option<String>,
    /// `1` for whole ID numbers (needs the right to see them; audited).
    full: Option<String>,
}

impl ExportQuery {
    fn period(&self) -> StoreResult<Period> {
        Ok(Period::parse(self.from.as_deref(), self.to.as_deref())?)
    }

    fn full(&self) -> bool {
        matches!(self.full.as_deref(), Some("1" | "true" | "on"))
    }
}

async fn national_rows(
    state: &AppState,
    actor: &gongjian_domain::access::Actor,
    id: i64,
    q: &ExportQuery,
    client: &str,
) -> StoreResult<Vec<NationalRow>> {
    let period = q.period()?;
    state.store.national_export(actor, id, &period, q.full(), client).await
}

async fn national_xlsx(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    Query(q): Query<ExportQuery>,
) -> Result<Response, PageError> {
    let rows = national_rows(&state, &user.actor, id, &q, &user.client).await?;
    let cells: Vec<Vec<String>> = rows.iter().map(NationalRow::cells).collect();
    let bytes = export::workbook("志愿服务时长", &NATIONAL_COLUMNS, &[5], &cells)?;
    let name = format!(
        "volunteer-hours-{id}-{}-{}.xlsx",
        q.from.as_deref().unwrap_or("all"),
        q.to.as_deref().unwrap_or("today")
    );
    let safe: String = name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
        .collect();
    Ok(export::download(&safe, bytes))
}

#[derive(Template, WebTemplate)]
#[template(path = "volunteers/settings.html")]
struct SettingsPage {
    chrome: Chrome,
    star_hours: String,
    may_edit: bool,
    error: Option<String>,
}

async fn settings_page(State(state): State<AppState>, user: CurrentUser) -> Result<SettingsPage, PageError> {
    Ok(SettingsPage {
        star_hours: state.store.star_levels().await?.to_setting(),
        may_edit: state.store.may_edit_volunteer_settings(&user.actor),
        chrome: user.chrome("volunteer-settings"),
        error: None,
    })
}

/// The star-level setting: cumulative hours per star, e.g. `100,300,600,1000,1500`.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
pub struct StarSetting {
    #[serde(default)]
    pub star_hours: String,
}

async fn save_settings(
    State(state): State<AppState>,
    user: CurrentUser,
    Form(f): Form<StarSetting>,
) -> Result<Response, PageError> {
    match state
        .store
        .set_star_hours(&user.actor, &f.star_hours, &user.client)
        .await
    {
        Ok(_) => Ok(Redirect::to("/volunteers/settings").into_response()),
        Err(StoreError::Invalid(v)) => {
            let page = SettingsPage {
                star_hours: f.star_hours.clone(),
                may_edit: true,
                error: v.message_for("star_hours").map(str::to_string),
                chrome: user.chrome("volunteer-settings"),
            };
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

#[utoipa::path(get, path = "/api/v1/people/{id}/service", tag = "volunteers", params(("id" = i64, Path)),
    responses((status = 200, body = Trajectory), (status = 404, body = crate::error::Problem)))]
pub async fn api_trajectory(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<Trajectory>> {
    Ok(Json(state.store.trajectory(&actor, id).await?))
}

#[utoipa::path(get, path = "/api/v1/me/service", tag = "volunteers",
    responses((status = 200, body = Trajectory), (status = 404, body = crate::error::Problem)))]
pub async fn api_my_trajectory(State(state): State<AppState>, ApiUser(actor): ApiUser) -> ApiResult<Json<Trajectory>> {
    let id = state.store.own_person_id(&actor).await?.ok_or(StoreError::NotFound)?;
    Ok(Json(state.store.trajectory(&actor, id).await?))
}

#[utoipa::path(post, path = "/api/v1/people/{id}/service/prints", tag = "volunteers", params(("id" = i64, Path)),
    request_body = PrintForm,
    responses((status = 201, body = ServicePrint), (status = 404, body = crate::error::Problem),
              (status = 422, body = crate::error::Problem)))]
pub async fn api_issue_print(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Client(client): Client,
    Path(id): Path<i64>,
    Json(form): Json<PrintForm>,
) -> ApiResult<(StatusCode, Json<ServicePrint>)> {
    Ok((
        StatusCode::CREATED,
        Json(state.store.issue_service_print(&actor, id, &form, &client).await?),
    ))
}

#[utoipa::path(get, path = "/api/v1/service-prints/{id}", tag = "volunteers", params(("id" = i64, Path)),
    responses((status = 200, body = PrintSheet), (status = 404, body = crate::error::Problem)))]
pub async fn api_print(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<PrintSheet>> {
    Ok(Json(state.store.service_print(&actor, id).await?))
}

#[utoipa::path(get, path = "/api/v1/nodes/{id}/volunteers/national-export", tag = "volunteers",
    params(("id" = i64, Path), ExportQuery),
    responses((status = 200, body = [NationalRow]), (status = 403, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn api_national(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Client(client): Client,
    Path(id): Path<i64>,
    Query(q): Query<ExportQuery>,
) -> ApiResult<Json<Vec<NationalRow>>> {
    Ok(Json(national_rows(&state, &actor, id, &q, &client).await?))
}

#[utoipa::path(get, path = "/api/v1/volunteers/settings", tag = "volunteers",
    responses((status = 200, body = StarSetting)))]
pub async fn api_settings(State(state): State<AppState>, ApiUser(_actor): ApiUser) -> ApiResult<Json<StarSetting>> {
    Ok(Json(StarSetting {
        star_hours: state.store.star_levels().await?.to_setting(),
    }))
}

#[utoipa::path(post, path = "/api/v1/volunteers/settings", tag = "volunteers", request_body = StarSetting,
    responses((status = 200, body = StarSetting), (status = 403, body = crate::error::Problem),
              (status = 422, body = crate::error::Problem)))]
pub async fn api_save_settings(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Client(client): Client,
    Json(f): Json<StarSetting>,
) -> ApiResult<Json<StarSetting>> {
    let levels = state.store.set_star_hours(&actor, &f.star_hours, &client).await?;
    Ok(Json(StarSetting {
        star_hours: levels.to_setting(),
    }))
}
