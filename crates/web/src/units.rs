//! Units in the area (驻区单位): lists under a node with export, registration and editing with
//! the credit code checked (a doubtful check character is kept and flagged), and liaison
//! contacts whose numbers are masked and revealed only with rights, each reveal audited.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Form, Json};
use gongjian_domain::Validation;
use gongjian_domain::units::{ContactForm, UnitForm, UnitKind};
use gongjian_store::Page;
use gongjian_store::StoreError;
use gongjian_store::tree::Node;
use gongjian_store::units::{Contact, Unit, UnitFilter};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::{ApiUser, Client, CurrentUser};
use crate::error::{ApiResult, PageError};
use crate::ui::Chrome;
use crate::{AppState, Route, export, get, patch, post};

pub fn routes() -> Vec<Route> {
    vec![
        get("/tree/{id}/units", list),
        get("/tree/{id}/units/export", export_list),
        get("/tree/{id}/units/new", new_page),
        post("/tree/{id}/units/new", create),
        get("/units/{id}", detail),
        get("/units/{id}/edit", edit_page),
        post("/units/{id}/edit", update),
        post("/units/{id}/contacts", add_contact),
        post("/units/{id}/contacts/{contact}/end", end_contact),
        post("/units/{id}/contacts/{contact}/reveal", reveal_contact),
        get("/api/v1/nodes/{id}/units", api_list),
        post("/api/v1/units", api_create),
        get("/api/v1/units/{id}", api_get),
        patch("/api/v1/units/{id}", api_update),
        get("/api/v1/units/{id}/contacts", api_contacts),
        post("/api/v1/units/{id}/contacts", api_add_contact),
    ]
}

#[derive(Deserialize, Default, IntoParams)]
pub struct UnitQuery {
    /// Part of a name, or a whole credit code.
    #[serde(default)]
    q: String,
    /// A kind key: `agency`, `public_institution`, `state_owned`, `private`, `social_organisation`, `individual_business`.
    #[serde(default)]
    kind: String,
    cursor: Option<i64>,
    limit: Option<i64>,
}

impl UnitQuery {
    fn filter(&self) -> UnitFilter {
        UnitFilter {
            q: self.q.clone(),
            kind: self.kind.clone(),
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "units/list.html")]
struct ListPage {
    chrome: Chrome,
    node: Node,
    q: String,
    kind: String,
    kinds: [UnitKind; 6],
    page: Page<Unit>,
    can_add: bool,
    next_href: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    Query(q): Query<UnitQuery>,
) -> Result<ListPage, PageError> {
    let node = state.store.node(&user.actor, id).await?;
    let page = state
        .store
        .units_under(&user.actor, id, &q.filter(), q.cursor, 50)
        .await?;
    let next_href = export::next_href(
        &format!("/tree/{id}/units"),
        &[("q", &q.q), ("kind", &q.kind)],
        page.next_cursor.as_ref(),
    );
    let can_add = state.store.may_manage_people_at(&user.actor, &node);
    Ok(ListPage {
        chrome: user.chrome("tree"),
        node,
        q: q.q,
        kind: q.kind,
        kinds: UnitKind::ALL,
        page,
        can_add,
        next_href,
    })
}

async fn export_list(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    Query(q): Query<UnitQuery>,
) -> Result<Response, PageError> {
    let node = state.store.node(&user.actor, id).await?;
    let filter = q.filter();
    let rows = export::all_pages(|c| state.store.units_under(&user.actor, id, &filter, c, 500)).await?;
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|u| {
            vec![
                u.name.clone(),
                u.credit_code.clone().unwrap_or_default(),
                u.kind_label().to_string(),
                u.node_name.clone(),
                u.address.clone().unwrap_or_default(),
                u.credit_code_warning.clone().unwrap_or_default(),
            ]
        })
        .collect();
    let headers = ["单位名称", "统一社会信用代码", "单位类型", "所在", "地址", "代码提示"];
    let bytes = export::workbook("驻区单位", &headers, &[], &cells)?;
    Ok(export::download(&format!("units-{}.xlsx", node.code), bytes))
}

#[derive(Deserialize, Default, Clone)]
struct UnitValues {
    #[serde(default)]
    name: String,
    #[serde(default)]
    credit_code: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    address: String,
}

impl UnitValues {
    fn form(&self, node_id: i64) -> UnitForm {
        UnitForm {
            name: self.name.clone(),
            credit_code: self.credit_code.clone(),
            kind: self.kind.clone(),
            node_id: Some(node_id),
            address: self.address.clone(),
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "units/form.html")]
struct FormPage {
    chrome: Chrome,
    node: Node,
    /// The unit being edited, if any.
    unit_id: Option<i64>,
    kinds: [UnitKind; 6],
    form: UnitValues,
    errors: Validation,
}

impl FormPage {
    fn action(&self) -> String {
        match self.unit_id {
            Some(u) => format!("/units/{u}/edit"),
            None => format!("/tree/{}/units/new", self.node.id),
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
        unit_id: None,
        kinds: UnitKind::ALL,
        form: UnitValues::default(),
        errors: Validation::new(),
    })
}

async fn saved_or_form(
    state: &AppState,
    user: &CurrentUser,
    node_id: i64,
    unit_id: Option<i64>,
    values: UnitValues,
    result: Result<Unit, StoreError>,
) -> Result<Response, PageError> {
    match result {
        Ok(u) => Ok(Redirect::to(&format!("/units/{}?notice=saved", u.id)).into_response()),
        Err(StoreError::Invalid(errors)) => {
            let node = state.store.node(&user.actor, node_id).await?;
            let page = FormPage {
                chrome: user.chrome("tree"),
                node,
                unit_id,
                kinds: UnitKind::ALL,
                form: values,
                errors,
            };
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

async fn create(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    Form(values): Form<UnitValues>,
) -> Result<Response, PageError> {
    let result = state
        .store
        .create_unit(&user.actor, &values.form(id), &user.client)
        .await;
    saved_or_form(&state, &user, id, None, values, result).await
}

async fn edit_page(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<FormPage, PageError> {
    let unit = state.store.unit(&user.actor, id).await?;
    let node = state.store.node(&user.actor, unit.node_id).await?;
    Ok(FormPage {
        chrome: user.chrome("tree"),
        node,
        unit_id: Some(id),
        kinds: UnitKind::ALL,
        form: UnitValues {
            name: unit.name,
            credit_code: unit.credit_code.unwrap_or_default(),
            kind: unit.kind,
            address: unit.address.unwrap_or_default(),
        },
        errors: Validation::new(),
    })
}

async fn update(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    Form(values): Form<UnitValues>,
) -> Result<Response, PageError> {
    let unit = state.store.unit(&user.actor, id).await?;
    let result = state
        .store
        .update_unit(&user.actor, id, &values.form(unit.node_id), &user.client)
        .await;
    saved_or_form(&state, &user, unit.node_id, Some(id), values, result).await
}

#[derive(Template, WebTemplate)]
#[template(path = "units/detail.html")]
struct DetailPage {
    chrome: Chrome,
    unit: Unit,
    contacts: Vec<Contact>,
    can_manage: bool,
    can_reveal: bool,
    revealed: Option<(String, String)>,
    contact_form: ContactForm,
    errors: Validation,
    notice: Option<&'static str>,
}

#[derive(Deserialize, Default)]
struct NoticeQuery {
    notice: Option<String>,
}

async fn detail_page(
    state: &AppState,
    user: &CurrentUser,
    id: i64,
    contact_form: ContactForm,
    errors: Validation,
) -> Result<DetailPage, PageError> {
    let unit = state.store.unit(&user.actor, id).await?;
    let contacts = state.store.unit_contacts(&user.actor, id).await?;
    let node = state.store.node(&user.actor, unit.node_id).await.ok();
    let can_manage = node
        .as_ref()
        .is_some_and(|n| state.store.may_manage_people_at(&user.actor, n));
    let can_reveal = user
        .actor
        .scope(gongjian_domain::access::Right::RevealPersonal)
        .contains_path(&unit.node_path);
    Ok(DetailPage {
        chrome: user.chrome("tree"),
        unit,
        contacts,
        can_manage,
        can_reveal,
        revealed: None,
        contact_form,
        errors,
        notice: None,
    })
}

async fn detail(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    Query(q): Query<NoticeQuery>,
) -> Result<DetailPage, PageError> {
    let mut page = detail_page(&state, &user, id, ContactForm::default(), Validation::new()).await?;
    page.notice = match q.notice.as_deref() {
        Some("saved") => Some("已保存。"),
        Some("contact") => Some("已添加联系人。"),
        Some("ended") => Some("已移除联系人。"),
        _ => None,
    };
    Ok(page)
}

async fn add_contact(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    Form(form): Form<ContactForm>,
) -> Result<Response, PageError> {
    match state.store.add_contact(&user.actor, id, &form, &user.client).await {
        Ok(_) => Ok(Redirect::to(&format!("/units/{id}?notice=contact")).into_response()),
        Err(StoreError::Invalid(errors)) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            detail_page(&state, &user, id, form, errors).await?,
        )
            .into_response()),
        Err(e) => Err(e.into()),
    }
}

async fn end_contact(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((id, contact)): Path<(i64, i64)>,
) -> Result<Redirect, PageError> {
    state.store.end_contact(&user.actor, id, contact, &user.client).await?;
    Ok(Redirect::to(&format!("/units/{id}?notice=ended")))
}

async fn reveal_contact(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((id, contact)): Path<(i64, i64)>,
) -> Result<DetailPage, PageError> {
    let value = state
        .store
        .reveal_contact(&user.actor, id, contact, &user.client)
        .await?;
    let mut page = detail_page(&state, &user, id, ContactForm::default(), Validation::new()).await?;
    let name = page
        .contacts
        .iter()
        .find(|c| c.id == contact)
        .map(|c| c.name.clone())
        .unwrap_or_default();
    page.revealed = Some((name, value.unwrap_or_else(|| "未登记".into())));
    Ok(page)
}

/// A page of units (OpenAPI schema of `Page<Unit>`).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct UnitPage {
    items: Vec<Unit>,
    next_cursor: Option<String>,
}

/// Units located under a node.
#[utoipa::path(get, path = "/api/v1/nodes/{id}/units", tag = "units", params(("id" = i64, Path), UnitQuery),
    responses((status = 200, body = UnitPage), (status = 404, body = crate::error::Problem)))]
pub async fn api_list(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Path(id): Path<i64>,
    Query(q): Query<UnitQuery>,
) -> ApiResult<Json<Page<Unit>>> {
    let page = state
        .store
        .units_under(&actor, id, &q.filter(), q.cursor, q.limit.unwrap_or(50))
        .await?;
    Ok(Json(page))
}

/// A unit as sent to the API.
#[derive(Deserialize, Serialize, ToSchema)]
pub struct UnitInput {
    pub name: String,
    #[serde(default)]
    pub credit_code: String,
    /// A kind key or its Chinese label.
    pub kind: String,
    pub node_id: i64,
    #[serde(default)]
    pub address: String,
}

impl UnitInput {
    fn form(&self) -> UnitForm {
        UnitForm {
            name: self.name.clone(),
            credit_code: self.credit_code.clone(),
            kind: self.kind.clone(),
            node_id: Some(self.node_id),
            address: self.address.clone(),
        }
    }
}

/// Registers a unit; a credit code with a wrong check character is kept and flagged in
/// `credit_code_warning`.
#[utoipa::path(post, path = "/api/v1/units", tag = "units", request_body = UnitInput,
    responses((status = 201, body = Unit), (status = 422, body = crate::error::Problem)))]
pub async fn api_create(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Client(client): Client,
    Json(input): Json<UnitInput>,
) -> ApiResult<(StatusCode, Json<Unit>)> {
    Ok((
        StatusCode::CREATED,
        Json(state.store.create_unit(&actor, &input.form(), &client).await?),
    ))
}

#[utoipa::path(get, path = "/api/v1/units/{id}", tag = "units", params(("id" = i64, Path)),
    responses((status = 200, body = Unit), (status = 404, body = crate::error::Problem)))]
pub async fn api_get(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<Unit>> {
    Ok(Json(state.store.unit(&actor, id).await?))
}

/// Changes a unit (all fields are replaced).
#[utoipa::path(patch, path = "/api/v1/units/{id}", tag = "units", params(("id" = i64, Path)), request_body = UnitInput,
    responses((status = 200, body = Unit), (status = 422, body = crate::error::Problem)))]
pub async fn api_update(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Client(client): Client,
    Path(id): Path<i64>,
    Json(input): Json<UnitInput>,
) -> ApiResult<Json<Unit>> {
    Ok(Json(state.store.update_unit(&actor, id, &input.form(), &client).await?))
}

/// A unit's current liaison contacts (numbers masked).
#[utoipa::path(get, path = "/api/v1/units/{id}/contacts", tag = "units", params(("id" = i64, Path)),
    responses((status = 200, body = Vec<Contact>), (status = 404, body = crate::error::Problem)))]
pub async fn api_contacts(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<Vec<Contact>>> {
    Ok(Json(state.store.unit_contacts(&actor, id).await?))
}

/// A liaison contact as sent to the API.
#[derive(Deserialize, ToSchema)]
pub struct ContactInput {
    pub name: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub mobile: String,
}

#[utoipa::path(post, path = "/api/v1/units/{id}/contacts", tag = "units", params(("id" = i64, Path)),
    request_body = ContactInput, responses((status = 201, body = Contact), (status = 422, body = crate::error::Problem)))]
pub async fn api_add_contact(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Client(client): Client,
    Path(id): Path<i64>,
    Json(input): Json<ContactInput>,
) -> ApiResult<(StatusCode, Json<Contact>)> {
    let form = ContactForm {
        name: input.name,
        title: input.title,
        mobile: input.mobile,
    };
    Ok((
        StatusCode::CREATED,
        Json(state.store.add_contact(&actor, id, &form, &client).await?),
    ))
}
