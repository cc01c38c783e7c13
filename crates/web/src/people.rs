//! Residents: lists under a node (numbers masked), registration with identifiers checked
//! beside each field, the resident page and the audited reveal of a full number.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Form, Json};
use gongjian_domain::Validation;
use gongjian_domain::people::ResidentForm;
use gongjian_store::people::{Person, Sensitive};
use gongjian_store::tree::Node;
use gongjian_store::{Page, StoreError};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::{ApiUser, Client, CurrentUser};
use crate::error::{ApiError, ApiResult, PageError};
use crate::ui::Chrome;
use crate::{AppState, Route, export, get, post};

pub fn routes() -> Vec<Route> {
    vec![
        get("/tree/{id}/residents", list),
        get("/tree/{id}/residents/new", new_page),
        get("/tree/{id}/residents/export", export),
        post("/tree/{id}/residents/new", create),
        get("/people", search),
        get("/people/{id}", detail),
        post("/people/{id}/reveal", reveal),
        get("/api/v1/nodes/{id}/people", api_list),
        get("/api/v1/people", api_search),
        post("/api/v1/people", api_create),
        get("/api/v1/people/{id}", api_get),
        post("/api/v1/people/{id}/reveal", api_reveal),
    ]
}

#[derive(Deserialize, Default, IntoParams)]
pub struct PeopleQuery {
    /// Part of a name, the last 4 digits of a phone number, or a whole ID or phone number.
    #[serde(default)]
    q: String,
    cursor: Option<i64>,
    limit: Option<i64>,
}

#[derive(Template, WebTemplate)]
#[template(path = "people/list.html")]
struct ListPage {
    chrome: Chrome,
    node: Node,
    total: i64,
    q: String,
    page: Page<Person>,
    can_add: bool,
    next_href: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    Query(q): Query<PeopleQuery>,
) -> Result<ListPage, PageError> {
    let node = state.store.node(&user.actor, id).await?;
    let page = state.store.people_under(&user.actor, id, &q.q, q.cursor, 50).await?;
    let total = state.store.count_people_under(&user.actor, id).await?;
    let can_add = state.store.may_manage_people(&user.actor, &node);
    let next_href = page.next_cursor.as_ref().map(|c| {
        let query = serde_urlencoded::to_string([("q", q.q.as_str()), ("cursor", c.as_str())]).unwrap_or_default();
        format!("/tree/{}/residents?{query}", node.id)
    });
    Ok(ListPage {
        chrome: user.chrome("tree"),
        node,
        total,
        q: q.q,
        page,
        can_add,
        next_href,
    })
}

/// All residents under a node as an xlsx workbook, numbers masked.
async fn export(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    Query(q): Query<PeopleQuery>,
) -> Result<Response, PageError> {
    let node = state.store.node(&user.actor, id).await?;
    let rows = export::all_pages(|c| state.store.people_under(&user.actor, id, &q.q, c, 500)).await?;
    let headers = [
        "姓名",
        "身份证号（脱敏）",
        "性别",
        "出生日期",
        "手机号码（脱敏）",
        "网格",
        "网格编码",
        "门牌",
        "户籍",
    ];
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|p| {
            vec![
                p.name.clone(),
                p.id_number_masked.clone().unwrap_or_default(),
                p.sex_label().to_string(),
                p.birth_date.clone().unwrap_or_default(),
                p.mobile_masked.clone().unwrap_or_default(),
                p.home_name.clone(),
                p.home_code.clone(),
                p.household.clone().unwrap_or_default(),
                if p.registered_elsewhere == 1 {
                    "外地"
                } else {
                    "本地"
                }
                .to_string(),
            ]
        })
        .collect();
    let bytes = export::workbook("居民", &headers, &[], &cells)?;
    Ok(export::download(&format!("residents-{}.xlsx", node.code), bytes))
}

#[derive(Template, WebTemplate)]
#[template(path = "people/form.html")]
struct FormPage {
    chrome: Chrome,
    node: Node,
    form: ResidentFormValues,
    errors: Validation,
}

#[derive(Deserialize, Default, Clone)]
struct ResidentFormValues {
    #[serde(default)]
    name: String,
    #[serde(default)]
    id_number: String,
    #[serde(default)]
    mobile: String,
    #[serde(default)]
    household: String,
    #[serde(default)]
    registered_elsewhere: Option<String>,
}

impl ResidentFormValues {
    fn form(&self, home: i64) -> ResidentForm {
        ResidentForm {
            name: self.name.clone(),
            id_number: self.id_number.clone(),
            mobile: self.mobile.clone(),
            home_node_id: Some(home),
            household: self.household.clone(),
            registered_elsewhere: self.registered_elsewhere.is_some(),
        }
    }
}

async fn new_page(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<FormPage, PageError> {
    let node = state.store.node(&user.actor, id).await?;
    Ok(FormPage {
        chrome: user.chrome("tree"),
        node,
        form: ResidentFormValues::default(),
        errors: Validation::new(),
    })
}

async fn create(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    Form(values): Form<ResidentFormValues>,
) -> Result<Response, PageError> {
    match state
        .store
        .create_person(&user.actor, &values.form(id), &user.client)
        .await
    {
        Ok(p) => Ok(Redirect::to(&format!("/people/{}?notice=created", p.id)).into_response()),
        Err(StoreError::Invalid(errors)) => {
            let node = state.store.node(&user.actor, id).await?;
            Ok((
                StatusCode::UNPROCESSABLE_ENTITY,
                FormPage {
                    chrome: user.chrome("tree"),
                    node,
                    form: values,
                    errors,
                },
            )
                .into_response())
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "people/detail.html")]
struct DetailPage {
    chrome: Chrome,
    person: Person,
    posts: Vec<gongjian_store::posts::Post>,
    member: Option<gongjian_store::members::Member>,
    registrations: Vec<gongjian_store::registrations::Registration>,
    history: Vec<gongjian_store::people::PersonEvent>,
    can_reveal: bool,
    can_manage: bool,
    revealed: Option<(&'static str, String)>,
    notice: Option<&'static str>,
}

impl DetailPage {
    fn action_label(&self, action: &str) -> &'static str {
        match action {
            "created" => "登记",
            "updated" => "修改",
            "imported" => "导入",
            "self_registered" => "扫码报到时登记",
            _ => "其他",
        }
    }
}

#[derive(Deserialize, Default)]
struct NoticeQuery {
    notice: Option<String>,
}

async fn detail_page(
    state: &AppState,
    user: &CurrentUser,
    id: i64,
    revealed: Option<(&'static str, String)>,
) -> Result<DetailPage, PageError> {
    let person = state.store.person(&user.actor, id).await?;
    let home = state.store.node(&user.actor, person.home_node_id).await?;
    Ok(DetailPage {
        chrome: user.chrome("people"),
        can_reveal: state.store.may_reveal(&user.actor, &person),
        can_manage: state.store.may_manage_people_at(&user.actor, &home),
        posts: state.store.posts_of(&user.actor, id).await?,
        member: state.store.member_of_person(&user.actor, id).await?,
        registrations: state.store.registrations_of_person(&user.actor, id).await?,
        history: state.store.person_history(&user.actor, id).await?,
        person,
        revealed,
        notice: None,
    })
}

async fn detail(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    Query(q): Query<NoticeQuery>,
) -> Result<DetailPage, PageError> {
    let mut page = detail_page(&state, &user, id, None).await?;
    page.notice = match q.notice.as_deref() {
        Some("created") => Some("已登记。"),
        Some("member") => Some("已登记党员身份。"),
        Some("transferred") => Some("已办理组织关系转接。"),
        Some("full") => Some("已转为正式党员。"),
        _ => None,
    };
    Ok(page)
}

#[derive(Deserialize, ToSchema)]
pub struct RevealForm {
    /// `id_number` or `mobile`.
    pub field: String,
}

async fn reveal(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    Form(form): Form<RevealForm>,
) -> Result<DetailPage, PageError> {
    let what = Sensitive::from_key(&form.field).ok_or_else(|| PageError::BadRequest("未知的字段".into()))?;
    let value = state.store.reveal(&user.actor, id, what, &user.client).await?;
    let label = if what == Sensitive::IdNumber {
        "身份证号"
    } else {
        "手机号码"
    };
    detail_page(
        &state,
        &user,
        id,
        Some((label, value.unwrap_or_else(|| "未登记".into()))),
    )
    .await
}

#[derive(Deserialize, Default, IntoParams)]
pub struct SearchQuery {
    /// A name (its beginning), the last 4 digits of a phone or ID number, a masked number as
    /// lists show it, or a whole ID or phone number.
    #[serde(default)]
    q: String,
    /// Only under the node with this code (a grid, community, street …).
    #[serde(default)]
    node: String,
    cursor: Option<i64>,
    limit: Option<i64>,
}

#[derive(Template, WebTemplate)]
#[template(path = "people/search.html")]
struct SearchPage {
    chrome: Chrome,
    q: String,
    node: String,
    page: Option<Page<Person>>,
    problem: Option<String>,
    next_href: Option<String>,
}

async fn search_in(
    state: &AppState,
    actor: &gongjian_domain::access::Actor,
    q: &SearchQuery,
    limit: i64,
) -> Result<Page<Person>, StoreError> {
    let within = match q.node.trim() {
        "" => None,
        code => Some(
            state
                .store
                .node_by_code(actor, code)
                .await
                .map_err(|_| StoreError::field("node", format!("没有找到代码为 {code} 的节点")))?
                .id,
        ),
    };
    state.store.search_people(actor, &q.q, within, q.cursor, limit).await
}

/// Finds people across the viewer's scope.
async fn search(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(q): Query<SearchQuery>,
) -> Result<SearchPage, PageError> {
    let (page, problem) = if q.q.trim().is_empty() && q.node.trim().is_empty() {
        (None, None)
    } else {
        match search_in(&state, &user.actor, &q, 50).await {
            Ok(p) => (Some(p), None),
            Err(StoreError::Invalid(v)) => (None, Some(v.to_string())),
            Err(e) => return Err(e.into()),
        }
    };
    let next_href = page
        .as_ref()
        .and_then(|p| export::next_href("/people", &[("q", &q.q), ("node", &q.node)], p.next_cursor.as_ref()));
    Ok(SearchPage {
        chrome: user.chrome("people"),
        q: q.q,
        node: q.node,
        page,
        problem,
        next_href,
    })
}

/// People across the caller's scope (numbers masked).
#[utoipa::path(get, path = "/api/v1/people", tag = "people", params(SearchQuery),
    responses((status = 200, body = PersonPage), (status = 422, body = crate::error::Problem)))]
pub async fn api_search(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Query(q): Query<SearchQuery>,
) -> ApiResult<Json<Page<Person>>> {
    let limit = q.limit.unwrap_or(50);
    Ok(Json(search_in(&state, &actor, &q, limit).await?))
}

/// A page of residents (OpenAPI schema of `Page<Person>`).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct PersonPage {
    items: Vec<Person>,
    next_cursor: Option<String>,
}

/// Residents living under a node (numbers masked).
#[utoipa::path(get, path = "/api/v1/nodes/{id}/people", tag = "people", params(("id" = i64, Path), PeopleQuery),
    responses((status = 200, body = PersonPage), (status = 404, body = crate::error::Problem)))]
pub async fn api_list(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Path(id): Path<i64>,
    Query(q): Query<PeopleQuery>,
) -> ApiResult<Json<Page<Person>>> {
    Ok(Json(
        state
            .store
            .people_under(&actor, id, &q.q, q.cursor, q.limit.unwrap_or(50))
            .await?,
    ))
}

/// Input to register a resident.
#[derive(Deserialize, ToSchema)]
pub struct ResidentInput {
    pub name: String,
    /// 身份证号; optional.
    #[serde(default)]
    pub id_number: String,
    #[serde(default)]
    pub mobile: String,
    /// A level-2 or level-3 grid.
    pub home_node_id: i64,
    #[serde(default)]
    pub household: String,
    #[serde(default)]
    pub registered_elsewhere: bool,
}

/// Registers a resident; identifiers are checked and stored encrypted.
#[utoipa::path(post, path = "/api/v1/people", tag = "people", request_body = ResidentInput,
    responses((status = 201, body = Person), (status = 422, body = crate::error::Problem)))]
pub async fn api_create(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Client(client): Client,
    Json(input): Json<ResidentInput>,
) -> ApiResult<(StatusCode, Json<Person>)> {
    let form = ResidentForm {
        name: input.name,
        id_number: input.id_number,
        mobile: input.mobile,
        home_node_id: Some(input.home_node_id),
        household: input.household,
        registered_elsewhere: input.registered_elsewhere,
    };
    Ok((
        StatusCode::CREATED,
        Json(state.store.create_person(&actor, &form, &client).await?),
    ))
}

#[utoipa::path(get, path = "/api/v1/people/{id}", tag = "people", params(("id" = i64, Path)),
    responses((status = 200, body = Person), (status = 404, body = crate::error::Problem)))]
pub async fn api_get(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<Person>> {
    Ok(Json(state.store.person(&actor, id).await?))
}

#[derive(Serialize, ToSchema)]
pub struct Revealed {
    pub field: String,
    pub value: Option<String>,
}

/// The full ID or mobile number, for permitted roles; every reveal is audited.
#[utoipa::path(post, path = "/api/v1/people/{id}/reveal", tag = "people", params(("id" = i64, Path)), request_body = RevealForm,
    responses((status = 200, body = Revealed), (status = 403, body = crate::error::Problem)))]
pub async fn api_reveal(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Client(client): Client,
    Path(id): Path<i64>,
    Json(form): Json<RevealForm>,
) -> ApiResult<Json<Revealed>> {
    let what = Sensitive::from_key(&form.field)
        .ok_or_else(|| ApiError::BadRequest("field 应为 id_number 或 mobile".into()))?;
    let value = state.store.reveal(&actor, id, what, &client).await?;
    Ok(Json(Revealed {
        field: form.field,
        value,
    }))
}
