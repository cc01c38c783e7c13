//! Double registration (双报到): the list of registrations under a node with export, staff
//! registering a member from the person's page, the registration's page (confirm, reject, end,
//! claimed posts, services, history), and their API. Reports to employers, the phone page and
//! pairings/deployments are in the sub-modules.

pub mod cadres;
pub mod mobile;
pub mod reports;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Form, Json};
use gongjian_domain::Validation;
use gongjian_domain::registration::{Duty, RegStatus, ServiceForm};
use gongjian_store::people::Person;
use gongjian_store::registrations::{Claim, RegEvent, Registration, RegistrationFilter, RegistrationInput, Service};
use gongjian_store::tree::Node;
use gongjian_store::{Page, StoreError};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::auth::{ApiUser, Client, CurrentUser};
use crate::error::{ApiError, ApiResult, PageError};
use crate::ui::Chrome;
use crate::{AppState, Route, export, get, post};

pub fn routes() -> Vec<Route> {
    let mut r = vec![
        get("/tree/{id}/registrations", list),
        get("/tree/{id}/registrations/export", export_list),
        get("/people/{id}/registration", new_page),
        post("/people/{id}/registration", create),
        get("/registrations/{id}", detail),
        post("/registrations/{id}/status", decide),
        post("/registrations/{id}/claims", claim),
        post("/registrations/{id}/services", record_service),
        get("/api/v1/nodes/{id}/registrations", api_list),
        post("/api/v1/registrations", api_create),
        get("/api/v1/registrations/{id}", api_get),
        post("/api/v1/registrations/{id}/status", api_decide),
        post("/api/v1/registrations/{id}/claims", api_claim),
        post("/api/v1/registrations/{id}/services", api_record_service),
    ];
    r.extend(reports::routes());
    r.extend(mobile::routes());
    r.extend(cadres::routes());
    r
}

#[derive(Deserialize, Default, IntoParams)]
pub struct RegistrationQuery {
    /// `pending`, `active`, `ended` or `rejected`.
    #[serde(default)]
    status: String,
    #[serde(default)]
    employer_unit_id: Option<i64>,
    /// Part of a name.
    #[serde(default)]
    q: String,
    cursor: Option<i64>,
    limit: Option<i64>,
}

impl RegistrationQuery {
    fn filter(&self) -> RegistrationFilter {
        RegistrationFilter {
            status: self.status.clone(),
            employer_unit_id: self.employer_unit_id,
            q: self.q.clone(),
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "registrations/list.html")]
struct ListPage {
    chrome: Chrome,
    node: Node,
    q: String,
    status: String,
    page: Page<Registration>,
    next_href: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    Query(q): Query<RegistrationQuery>,
) -> Result<ListPage, PageError> {
    let node = state.store.node(&user.actor, id).await?;
    let page = state
        .store
        .registrations_under(&user.actor, id, &q.filter(), q.cursor, 50)
        .await?;
    let next_href = export::next_href(
        &format!("/tree/{id}/registrations"),
        &[("q", &q.q), ("status", &q.status)],
        page.next_cursor.as_ref(),
    );
    Ok(ListPage {
        chrome: user.chrome("tree"),
        node,
        q: q.q,
        status: q.status,
        page,
        next_href,
    })
}

async fn export_list(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    Query(q): Query<RegistrationQuery>,
) -> Result<Response, PageError> {
    let node = state.store.node(&user.actor, id).await?;
    let filter = q.filter();
    let rows = export::all_pages(|c| state.store.registrations_under(&user.actor, id, &filter, c, 500)).await?;
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.person_name.clone(),
                r.id_number_masked.clone().unwrap_or_default(),
                r.mobile_masked.clone().unwrap_or_default(),
                r.community_name.clone(),
                r.employer_name.clone().unwrap_or_default(),
                r.skills.clone().unwrap_or_default(),
                r.status_label().to_string(),
                r.registered_on.clone(),
                r.ended_on.clone().unwrap_or_default(),
            ]
        })
        .collect();
    let headers = [
        "姓名",
        "身份证号（脱敏）",
        "手机号码（脱敏）",
        "报到社区",
        "工作单位",
        "特长",
        "状态",
        "报到日期",
        "结束日期",
    ];
    let bytes = export::workbook("在职党员报到", &headers, &[], &cells)?;
    Ok(export::download(&format!("registrations-{}.xlsx", node.code), bytes))
}

#[derive(Default, Clone)]
struct RegistrationValues {
    community_id: Option<i64>,
    /// The employer's full name or credit code.
    employer: String,
    skills: String,
    duties: Vec<String>,
    registered_on: String,
}

impl RegistrationValues {
    /// From the posted pairs: the duty checkboxes repeat one name, which a struct cannot take.
    fn from_pairs(pairs: Vec<(String, String)>) -> RegistrationValues {
        let mut v = RegistrationValues::default();
        for (k, val) in pairs {
            match k.as_str() {
                "community_id" => v.community_id = val.trim().parse().ok(),
                "employer" => v.employer = val,
                "skills" => v.skills = val,
                "duties" => v.duties.push(val),
                "registered_on" => v.registered_on = val,
                _ => {}
            }
        }
        v
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "registrations/form.html")]
struct FormPage {
    chrome: Chrome,
    person: Person,
    communities: Vec<Node>,
    duties: [Duty; 8],
    form: RegistrationValues,
    errors: Validation,
}

impl FormPage {
    fn checked(&self, d: &Duty) -> bool {
        self.form.duties.iter().any(|x| x == d.key())
    }
}

async fn form_page(
    state: &AppState,
    user: &CurrentUser,
    person_id: i64,
    form: RegistrationValues,
    errors: Validation,
) -> Result<FormPage, PageError> {
    let person = state.store.person(&user.actor, person_id).await?;
    let home = state.store.node(&user.actor, person.home_node_id).await?;
    let communities = state
        .store
        .ancestors(&user.actor, &home)
        .await?
        .into_iter()
        .filter(|n| n.level == gongjian_domain::tree::Level::Community)
        .collect();
    Ok(FormPage {
        chrome: user.chrome("tree"),
        person,
        communities,
        duties: Duty::ALL,
        form,
        errors,
    })
}

async fn new_page(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<FormPage, PageError> {
    form_page(&state, &user, id, RegistrationValues::default(), Validation::new()).await
}

async fn create(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let values = RegistrationValues::from_pairs(pairs);
    let employer = match values.employer.trim() {
        "" => None,
        e => match state.store.unit_by_name_or_code(&user.actor, e).await? {
            Some(u) => Some(u.id),
            None => {
                let errors =
                    Validation::single("employer", format!("未找到单位“{e}”，请填写单位全称或统一社会信用代码"));
                let page = form_page(&state, &user, id, values, errors).await?;
                return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
            }
        },
    };
    let input = RegistrationInput {
        person_id: Some(id),
        community_id: values.community_id,
        employer_unit_id: employer,
        skills: values.skills.clone(),
        duties: values.duties.clone(),
        registered_on: values.registered_on.clone(),
    };
    match state.store.register(&user.actor, &input, &user.client).await {
        Ok(r) => Ok(Redirect::to(&format!("/registrations/{}?notice=created", r.id)).into_response()),
        Err(StoreError::Invalid(errors)) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            form_page(&state, &user, id, values, errors).await?,
        )
            .into_response()),
        Err(e) => Err(e.into()),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "registrations/detail.html")]
struct DetailPage {
    chrome: Chrome,
    r: Registration,
    claims: Vec<Claim>,
    services: Vec<Service>,
    history: Vec<RegEvent>,
    can_manage: bool,
    duties: [Duty; 8],
    service_form: ServiceForm,
    errors: Validation,
    notice: Option<&'static str>,
}

impl DetailPage {
    fn hours(&self, minutes: &i64) -> String {
        gongjian_domain::registration::Minutes::hours_text(*minutes)
    }

    fn total_hours(&self) -> String {
        gongjian_domain::registration::Minutes::hours_text(self.services.iter().map(|s| s.minutes).sum())
    }

    fn action_label(&self, action: &str) -> &'static str {
        match action {
            "registered" => "登记报到",
            "submitted" => "扫码提交",
            "active" => "确认报到",
            "rejected" => "未通过",
            "ended" => "结束报到",
            "claimed" => "认领岗位",
            _ => "其他",
        }
    }
}

async fn detail_page(
    state: &AppState,
    user: &CurrentUser,
    id: i64,
    service_form: ServiceForm,
    errors: Validation,
) -> Result<DetailPage, PageError> {
    let r = state.store.registration(&user.actor, id).await?;
    let can_manage = state.store.may_manage_registration(&user.actor, &r);
    Ok(DetailPage {
        chrome: user.chrome("tree"),
        claims: state.store.registration_claims(&user.actor, id).await?,
        services: state.store.registration_services(&user.actor, id).await?,
        history: state.store.registration_history(&user.actor, id).await?,
        r,
        can_manage,
        duties: Duty::ALL,
        service_form,
        errors,
        notice: None,
    })
}

#[derive(Deserialize, Default)]
struct NoticeQuery {
    notice: Option<String>,
}

async fn detail(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    Query(q): Query<NoticeQuery>,
) -> Result<DetailPage, PageError> {
    let mut page = detail_page(&state, &user, id, ServiceForm::default(), Validation::new()).await?;
    page.notice = match q.notice.as_deref() {
        Some("created") => Some("已登记报到。"),
        Some("status") => Some("已更新报到状态。"),
        Some("claimed") => Some("已认领岗位。"),
        Some("service") => Some("已记录服务。"),
        _ => None,
    };
    Ok(page)
}

/// A status change as posted.
#[derive(Deserialize, ToSchema)]
pub struct DecideForm {
    /// `active` (confirm), `rejected` or `ended`.
    pub status: String,
    /// Required when rejecting.
    #[serde(default)]
    pub note: String,
}

fn parse_status(s: &str) -> Result<RegStatus, StoreError> {
    RegStatus::from_key(s.trim()).ok_or_else(|| StoreError::field("status", "状态应为 active、rejected 或 ended"))
}

/// Re-renders the registration page with errors beside the failing form.
async fn with_errors(
    state: &AppState,
    user: &CurrentUser,
    id: i64,
    form: ServiceForm,
    result: Result<&'static str, StoreError>,
) -> Result<Response, PageError> {
    match result {
        Ok(notice) => Ok(Redirect::to(&format!("/registrations/{id}?notice={notice}")).into_response()),
        Err(StoreError::Invalid(errors)) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            detail_page(state, user, id, form, errors).await?,
        )
            .into_response()),
        Err(e) => Err(e.into()),
    }
}

async fn decide(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    Form(form): Form<DecideForm>,
) -> Result<Response, PageError> {
    let result = match parse_status(&form.status) {
        Ok(to) => state
            .store
            .decide_registration(&user.actor, id, to, &form.note, &user.client)
            .await
            .map(|_| "status"),
        Err(e) => Err(e),
    };
    with_errors(&state, &user, id, ServiceForm::default(), result).await
}

/// A post to claim.
#[derive(Deserialize, ToSchema)]
pub struct ClaimForm {
    /// A duty key, e.g. `patrol`, or its label 治安巡防岗.
    pub duty: String,
}

async fn claim(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    Form(form): Form<ClaimForm>,
) -> Result<Response, PageError> {
    let result = state
        .store
        .claim_duty(&user.actor, id, &form.duty, &user.client)
        .await
        .map(|_| "claimed");
    with_errors(&state, &user, id, ServiceForm::default(), result).await
}

async fn record_service(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    Form(form): Form<ServiceForm>,
) -> Result<Response, PageError> {
    let result = state
        .store
        .record_service(&user.actor, id, &form, &user.client)
        .await
        .map(|_| "service");
    with_errors(&state, &user, id, form, result).await
}

/// A page of registrations (OpenAPI schema of `Page<Registration>`).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct RegistrationPage {
    items: Vec<Registration>,
    next_cursor: Option<String>,
}

/// Registrations at communities under a node (numbers masked).
#[utoipa::path(get, path = "/api/v1/nodes/{id}/registrations", tag = "registration", params(("id" = i64, Path), RegistrationQuery),
    responses((status = 200, body = RegistrationPage), (status = 404, body = crate::error::Problem)))]
pub async fn api_list(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Path(id): Path<i64>,
    Query(q): Query<RegistrationQuery>,
) -> ApiResult<Json<Page<Registration>>> {
    let page = state
        .store
        .registrations_under(&actor, id, &q.filter(), q.cursor, q.limit.unwrap_or(50))
        .await?;
    Ok(Json(page))
}

/// Registers an in-service member at a community (confirmed at once).
#[utoipa::path(post, path = "/api/v1/registrations", tag = "registration", request_body = RegistrationInput,
    responses((status = 201, body = Registration), (status = 422, body = crate::error::Problem)))]
pub async fn api_create(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Client(client): Client,
    Json(input): Json<RegistrationInput>,
) -> ApiResult<(StatusCode, Json<Registration>)> {
    Ok((
        StatusCode::CREATED,
        Json(state.store.register(&actor, &input, &client).await?),
    ))
}

#[utoipa::path(get, path = "/api/v1/registrations/{id}", tag = "registration", params(("id" = i64, Path)),
    responses((status = 200, body = Registration), (status = 404, body = crate::error::Problem)))]
pub async fn api_get(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<Registration>> {
    Ok(Json(state.store.registration(&actor, id).await?))
}

/// Confirms, rejects or ends a registration.
#[utoipa::path(post, path = "/api/v1/registrations/{id}/status", tag = "registration", params(("id" = i64, Path)),
    request_body = DecideForm, responses((status = 200, body = Registration), (status = 422, body = crate::error::Problem)))]
pub async fn api_decide(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Client(client): Client,
    Path(id): Path<i64>,
    Json(form): Json<DecideForm>,
) -> ApiResult<Json<Registration>> {
    let to = parse_status(&form.status).map_err(ApiError::Store)?;
    Ok(Json(
        state
            .store
            .decide_registration(&actor, id, to, &form.note, &client)
            .await?,
    ))
}

/// Claims a post (领岗) for a registration.
#[utoipa::path(post, path = "/api/v1/registrations/{id}/claims", tag = "registration", params(("id" = i64, Path)),
    request_body = ClaimForm, responses((status = 200, body = Vec<Claim>), (status = 422, body = crate::error::Problem)))]
pub async fn api_claim(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Client(client): Client,
    Path(id): Path<i64>,
    Json(form): Json<ClaimForm>,
) -> ApiResult<Json<Vec<Claim>>> {
    Ok(Json(state.store.claim_duty(&actor, id, &form.duty, &client).await?))
}

/// Records a service the member performed.
#[utoipa::path(post, path = "/api/v1/registrations/{id}/services", tag = "registration", params(("id" = i64, Path)),
    request_body = ServiceInput, responses((status = 201, body = Service), (status = 422, body = crate::error::Problem)))]
pub async fn api_record_service(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Client(client): Client,
    Path(id): Path<i64>,
    Json(input): Json<ServiceInput>,
) -> ApiResult<(StatusCode, Json<Service>)> {
    let form = ServiceForm {
        served_on: input.served_on,
        hours: input.hours,
        description: input.description,
        rating: input.rating.map(|r| r.to_string()).unwrap_or_default(),
    };
    Ok((
        StatusCode::CREATED,
        Json(state.store.record_service(&actor, id, &form, &client).await?),
    ))
}

/// A service as sent to the API.
#[derive(Deserialize, ToSchema)]
pub struct ServiceInput {
    /// `YYYY-MM-DD`.
    pub served_on: String,
    /// Hours, e.g. `1.5`.
    pub hours: String,
    pub description: String,
    /// 1–5.
    #[serde(default)]
    pub rating: Option<i64>,
}
