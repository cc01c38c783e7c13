//! Party members: the list under a node (with export), recording a person's membership,
//! 转正 and transfers (组织关系转接) with their history.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Form, Json};
use gongjian_domain::Validation;
use gongjian_domain::members::{MemberForm, MemberStatus};
use gongjian_domain::tree::Level;
use gongjian_store::members::{Member, MemberFilter, OrgChoice, Transfer, TransferInput};
use gongjian_store::people::Person;
use gongjian_store::tree::Node;
use gongjian_store::{Page, StoreError};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::auth::{ApiUser, Client, CurrentUser};
use crate::error::{ApiResult, PageError};
use crate::ui::Chrome;
use crate::{AppState, Route, export, get, post};

pub fn routes() -> Vec<Route> {
    vec![
        get("/tree/{id}/members", list),
        get("/tree/{id}/members/export", export_list),
        get("/people/{id}/membership", new_page),
        post("/people/{id}/membership", create),
        get("/members/{id}/transfer", transfer_page),
        post("/members/{id}/transfer", transfer),
        post("/members/{id}/full", make_full),
        get("/api/v1/nodes/{id}/members", api_list),
        post("/api/v1/members", api_create),
        get("/api/v1/members/{id}", api_get),
        post("/api/v1/members/{id}/transfer", api_transfer),
        get("/api/v1/members/{id}/transfers", api_transfers),
    ]
}

#[derive(Deserialize, Default, IntoParams)]
pub struct MemberQuery {
    /// Part of a name.
    #[serde(default)]
    q: String,
    /// `full` or `probationary`.
    #[serde(default)]
    status: String,
    cursor: Option<i64>,
    limit: Option<i64>,
}

impl MemberQuery {
    fn filter(&self) -> MemberFilter {
        MemberFilter {
            q: self.q.clone(),
            status: self.status.clone(),
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "members/list.html")]
struct ListPage {
    chrome: Chrome,
    node: Node,
    q: String,
    status: String,
    page: Page<Member>,
    next_href: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    Query(q): Query<MemberQuery>,
) -> Result<ListPage, PageError> {
    let node = state.store.node(&user.actor, id).await?;
    let page = state
        .store
        .members_under(&user.actor, id, &q.filter(), q.cursor, 50)
        .await?;
    let next_href = export::next_href(
        &format!("/tree/{id}/members"),
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
    Query(q): Query<MemberQuery>,
) -> Result<Response, PageError> {
    let node = state.store.node(&user.actor, id).await?;
    let filter = q.filter();
    let rows = export::all_pages(|c| state.store.members_under(&user.actor, id, &filter, c, 500)).await?;
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|m| {
            vec![
                m.person_name.clone(),
                m.id_number_masked.clone().unwrap_or_default(),
                m.mobile_masked.clone().unwrap_or_default(),
                m.org_name.clone(),
                m.status_label().to_string(),
                m.joined_on.clone(),
                m.full_on.clone().unwrap_or_default(),
            ]
        })
        .collect();
    let headers = [
        "姓名",
        "身份证号（脱敏）",
        "手机号码（脱敏）",
        "所在党组织",
        "类别",
        "入党日期",
        "转正日期",
    ];
    let bytes = export::workbook("党员", &headers, &[], &cells)?;
    Ok(export::download(&format!("members-{}.xlsx", node.code), bytes))
}

#[derive(Deserialize, Default, Clone)]
struct MemberValues {
    #[serde(default)]
    org_id: Option<i64>,
    #[serde(default)]
    status: String,
    #[serde(default)]
    joined_on: String,
    #[serde(default)]
    full_on: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "members/form.html")]
struct FormPage {
    chrome: Chrome,
    person: Person,
    orgs: Vec<OrgChoice>,
    statuses: [MemberStatus; 2],
    form: MemberValues,
    errors: Validation,
}

async fn form_page(
    state: &AppState,
    user: &CurrentUser,
    person_id: i64,
    form: MemberValues,
    errors: Validation,
) -> Result<FormPage, PageError> {
    let person = state.store.person(&user.actor, person_id).await?;
    let home = state.store.node(&user.actor, person.home_node_id).await?;
    let orgs = state.store.org_choices(&user.actor, &home, Level::Street).await?;
    Ok(FormPage {
        chrome: user.chrome("tree"),
        person,
        orgs,
        statuses: MemberStatus::ALL,
        form,
        errors,
    })
}

async fn new_page(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<FormPage, PageError> {
    let form = MemberValues {
        status: "full".into(),
        ..Default::default()
    };
    form_page(&state, &user, id, form, Validation::new()).await
}

async fn create(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    Form(values): Form<MemberValues>,
) -> Result<Response, PageError> {
    let form = MemberForm {
        person_id: Some(id),
        org_id: values.org_id,
        status: values.status.clone(),
        joined_on: values.joined_on.clone(),
        full_on: values.full_on.clone(),
    };
    match state.store.add_member(&user.actor, &form, &user.client).await {
        Ok(_) => Ok(Redirect::to(&format!("/people/{id}?notice=member")).into_response()),
        Err(StoreError::Invalid(errors)) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            form_page(&state, &user, id, values, errors).await?,
        )
            .into_response()),
        Err(e) => Err(e.into()),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "members/transfer.html")]
struct TransferPage {
    chrome: Chrome,
    member: Member,
    orgs: Vec<OrgChoice>,
    history: Vec<Transfer>,
    form: TransferValues,
    errors: Validation,
}

#[derive(Deserialize, Default, Clone)]
struct TransferValues {
    #[serde(default)]
    to_org_id: Option<i64>,
    #[serde(default)]
    transferred_on: String,
    #[serde(default)]
    note: String,
}

async fn transfer_form(
    state: &AppState,
    user: &CurrentUser,
    id: i64,
    form: TransferValues,
    errors: Validation,
) -> Result<TransferPage, PageError> {
    let member = state.store.member(&user.actor, id).await?;
    let person = state.store.person(&user.actor, member.person_id).await?;
    let home = state.store.node(&user.actor, person.home_node_id).await?;
    let orgs = state.store.org_choices(&user.actor, &home, Level::District).await?;
    let history = state.store.member_transfers(&user.actor, id).await?;
    Ok(TransferPage {
        chrome: user.chrome("tree"),
        member,
        orgs,
        history,
        form,
        errors,
    })
}

async fn transfer_page(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<TransferPage, PageError> {
    transfer_form(&state, &user, id, TransferValues::default(), Validation::new()).await
}

async fn transfer(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    Form(values): Form<TransferValues>,
) -> Result<Response, PageError> {
    let input = TransferInput {
        to_org_id: values.to_org_id,
        transferred_on: values.transferred_on.clone(),
        note: values.note.clone(),
    };
    match state.store.transfer_member(&user.actor, id, &input, &user.client).await {
        Ok(m) => Ok(Redirect::to(&format!("/people/{}?notice=transferred", m.person_id)).into_response()),
        Err(StoreError::Invalid(errors)) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            transfer_form(&state, &user, id, values, errors).await?,
        )
            .into_response()),
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
struct FullValues {
    #[serde(default)]
    full_on: String,
}

async fn make_full(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    Form(values): Form<FullValues>,
) -> Result<Response, PageError> {
    match state
        .store
        .make_member_full(&user.actor, id, &values.full_on, &user.client)
        .await
    {
        Ok(m) => Ok(Redirect::to(&format!("/people/{}?notice=full", m.person_id)).into_response()),
        Err(StoreError::Invalid(errors)) => Err(PageError::BadRequest(errors.to_string())),
        Err(e) => Err(e.into()),
    }
}

/// A page of members (OpenAPI schema of `Page<Member>`).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct MemberPage {
    items: Vec<Member>,
    next_cursor: Option<String>,
}

/// Party members of the organisations under a node (numbers masked).
#[utoipa::path(get, path = "/api/v1/nodes/{id}/members", tag = "people", params(("id" = i64, Path), MemberQuery),
    responses((status = 200, body = MemberPage), (status = 404, body = crate::error::Problem)))]
pub async fn api_list(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Path(id): Path<i64>,
    Query(q): Query<MemberQuery>,
) -> ApiResult<Json<Page<Member>>> {
    let page = state
        .store
        .members_under(&actor, id, &q.filter(), q.cursor, q.limit.unwrap_or(50))
        .await?;
    Ok(Json(page))
}

/// Input to record a membership.
#[derive(Deserialize, ToSchema)]
pub struct MemberInput {
    pub person_id: i64,
    pub org_id: i64,
    /// `full` or `probationary`.
    pub status: String,
    /// `YYYY-MM-DD`.
    pub joined_on: String,
    #[serde(default)]
    pub full_on: String,
}

/// Records a person's membership of a party organisation.
#[utoipa::path(post, path = "/api/v1/members", tag = "people", request_body = MemberInput,
    responses((status = 201, body = Member), (status = 422, body = crate::error::Problem)))]
pub async fn api_create(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Client(client): Client,
    Json(input): Json<MemberInput>,
) -> ApiResult<(StatusCode, Json<Member>)> {
    let form = MemberForm {
        person_id: Some(input.person_id),
        org_id: Some(input.org_id),
        status: input.status,
        joined_on: input.joined_on,
        full_on: input.full_on,
    };
    Ok((
        StatusCode::CREATED,
        Json(state.store.add_member(&actor, &form, &client).await?),
    ))
}

#[utoipa::path(get, path = "/api/v1/members/{id}", tag = "people", params(("id" = i64, Path)),
    responses((status = 200, body = Member), (status = 404, body = crate::error::Problem)))]
pub async fn api_get(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<Member>> {
    Ok(Json(state.store.member(&actor, id).await?))
}

/// Moves a membership to another organisation, keeping the history.
#[utoipa::path(post, path = "/api/v1/members/{id}/transfer", tag = "people", params(("id" = i64, Path)),
    request_body = TransferInput, responses((status = 200, body = Member), (status = 422, body = crate::error::Problem)))]
pub async fn api_transfer(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Client(client): Client,
    Path(id): Path<i64>,
    Json(input): Json<TransferInput>,
) -> ApiResult<Json<Member>> {
    Ok(Json(state.store.transfer_member(&actor, id, &input, &client).await?))
}

#[utoipa::path(get, path = "/api/v1/members/{id}/transfers", tag = "people", params(("id" = i64, Path)),
    responses((status = 200, body = Vec<Transfer>), (status = 404, body = crate::error::Problem)))]
pub async fn api_transfers(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<Vec<Transfer>>> {
    Ok(Json(state.store.member_transfers(&actor, id).await?))
}
