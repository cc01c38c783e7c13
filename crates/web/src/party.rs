//! The party-organisation tree: console pages and the `/api/v1/party-orgs` API.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Form, Json};
use gongjian_domain::Validation;
use gongjian_domain::party::{OrgCategory, OrgKind};
use gongjian_store::party::{PartyHistoryEntry, PartyMoveInput, PartyOrg, PartyOrgInput, PartyOrgWithCounts};
use gongjian_store::{Page, StoreError};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::auth::{ApiUser, CurrentUser};
use crate::error::{ApiResult, PageError};
use crate::tree::NoteForm;
use crate::ui::Chrome;
use crate::{AppState, Route, get, patch, post};

pub fn routes() -> Vec<Route> {
    vec![
        get("/party", roots_page),
        get("/party/new", new_page),
        post("/party/new", create),
        get("/party/{id}", org_page),
        get("/party/{id}/edit", edit_page),
        post("/party/{id}/edit", edit),
        post("/party/{id}/move", move_org),
        post("/party/{id}/archive", archive),
        post("/party/{id}/restore", restore),
        get("/api/v1/party-orgs", api_roots),
        post("/api/v1/party-orgs", api_create),
        get("/api/v1/party-orgs/{id}", api_get),
        patch("/api/v1/party-orgs/{id}", api_edit),
        get("/api/v1/party-orgs/{id}/children", api_children),
        post("/api/v1/party-orgs/{id}/move", api_move),
        post("/api/v1/party-orgs/{id}/archive", api_archive),
        post("/api/v1/party-orgs/{id}/restore", api_restore),
        get("/api/v1/party-orgs/{id}/history", api_history),
        get("/api/v1/nodes/{id}/party-orgs", api_at_node),
    ]
}

#[derive(Template, WebTemplate)]
#[template(path = "party/roots.html")]
struct RootsPage {
    chrome: Chrome,
    orgs: Vec<PartyOrg>,
}

async fn roots_page(State(state): State<AppState>, user: CurrentUser) -> Result<RootsPage, PageError> {
    let orgs = state.store.party_roots(&user.actor).await?;
    Ok(RootsPage {
        chrome: user.chrome("party"),
        orgs,
    })
}

#[derive(Template, WebTemplate)]
#[template(path = "party/org.html")]
struct OrgPage {
    chrome: Chrome,
    org: PartyOrg,
    ancestors: Vec<PartyOrg>,
    children: Page<PartyOrgWithCounts>,
    history: Vec<PartyHistoryEntry>,
    move_targets: Vec<PartyOrg>,
    child_kinds: Vec<OrgKind>,
    notice: Option<String>,
    errors: Validation,
}

#[derive(Deserialize, Default)]
struct NoticeQuery {
    notice: Option<String>,
}

async fn render_org(
    state: &AppState,
    user: &CurrentUser,
    id: i64,
    notice: Option<String>,
    errors: Validation,
) -> Result<OrgPage, PageError> {
    let store = &state.store;
    let org = store.party_org(&user.actor, id).await?;
    let ancestors = store.party_ancestors(&user.actor, &org).await?;
    let children = store.party_children(&user.actor, id, true, None, 200).await?;
    let history = store.party_history(&user.actor, id).await?;
    // Organisations this one could be placed under: its ancestors' other children of a fitting kind.
    let kind = OrgKind::from_key(&org.kind);
    let mut move_targets = Vec::new();
    if let Some(grand) = ancestors.iter().rev().nth(1) {
        let siblings = match store.party_children(&user.actor, grand.id, false, None, 200).await {
            Ok(page) => page.items,
            // The grandparent covers a territory above the viewer's scope (a community worker
            // looking at a branch of their committee): nothing to offer, but the page opens.
            Err(StoreError::NotFound) => Vec::new(),
            Err(e) => return Err(e.into()),
        };
        for c in siblings {
            if Some(c.org.id) != org.parent_id
                && kind
                    .is_some_and(|k| OrgKind::from_key(&c.org.kind).is_some_and(|p| k.allowed_parents().contains(&p)))
            {
                move_targets.push(c.org);
            }
        }
    }
    let child_kinds = OrgKind::ALL
        .into_iter()
        .filter(|c| kind.is_some_and(|k| c.allowed_parents().contains(&k)))
        .collect();
    let notice = notice.map(|n| match n.as_str() {
        "created" => "已设立。".to_string(),
        "saved" => "已保存。".to_string(),
        "moved" => "隶属关系已调整。".to_string(),
        "archived" => "已撤销。".to_string(),
        "restored" => "已恢复。".to_string(),
        other => other.to_string(),
    });
    Ok(OrgPage {
        chrome: user.chrome("party"),
        org,
        ancestors,
        children,
        history,
        move_targets,
        child_kinds,
        notice,
        errors,
    })
}

async fn org_page(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    Query(q): Query<NoticeQuery>,
) -> Result<OrgPage, PageError> {
    render_org(&state, &user, id, q.notice, Validation::new()).await
}

#[derive(Deserialize, Default, Clone)]
struct OrgForm {
    #[serde(default)]
    parent_id: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    territory_code: String,
    #[serde(default)]
    founded_on: String,
}

impl OrgForm {
    fn input(&self) -> PartyOrgInput {
        let opt = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
        PartyOrgInput {
            parent_id: self.parent_id.trim().parse().ok(),
            kind: self.kind.clone(),
            category: self.category.clone(),
            name: self.name.clone(),
            territory_node_id: None,
            territory_code: opt(&self.territory_code),
            founded_on: opt(&self.founded_on),
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "party/form.html")]
struct OrgFormPage {
    chrome: Chrome,
    editing: Option<PartyOrg>,
    parent: Option<PartyOrg>,
    form: OrgForm,
    errors: Validation,
    kinds: Vec<OrgKind>,
    categories: Vec<OrgCategory>,
}

impl OrgFormPage {
    fn action(&self) -> String {
        match &self.editing {
            Some(o) => format!("/party/{}/edit", o.id),
            None => "/party/new".to_string(),
        }
    }
}

#[derive(Deserialize, Default)]
struct NewQuery {
    parent: Option<i64>,
    territory: Option<String>,
    kind: Option<String>,
}

async fn new_page(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(q): Query<NewQuery>,
) -> Result<OrgFormPage, PageError> {
    let parent = match q.parent {
        Some(id) => Some(state.store.party_org(&user.actor, id).await?),
        None => None,
    };
    let form = OrgForm {
        parent_id: parent.as_ref().map(|p| p.id.to_string()).unwrap_or_default(),
        kind: q.kind.unwrap_or_default(),
        territory_code: q
            .territory
            .or_else(|| parent.as_ref().map(|p| p.territory_code.clone()))
            .unwrap_or_default(),
        ..OrgForm::default()
    };
    Ok(OrgFormPage {
        chrome: user.chrome("party"),
        editing: None,
        parent,
        form,
        errors: Validation::new(),
        kinds: OrgKind::ALL.to_vec(),
        categories: OrgCategory::ALL.to_vec(),
    })
}

async fn create(
    State(state): State<AppState>,
    user: CurrentUser,
    Form(form): Form<OrgForm>,
) -> Result<Response, PageError> {
    match state.store.create_party_org(&user.actor, &form.input()).await {
        Ok(org) => Ok(Redirect::to(&format!("/party/{}?notice=created", org.id)).into_response()),
        Err(StoreError::Invalid(errors)) => {
            let parent = match form.parent_id.trim().parse::<i64>() {
                Ok(id) => state.store.party_org(&user.actor, id).await.ok(),
                Err(_) => None,
            };
            Ok((
                StatusCode::UNPROCESSABLE_ENTITY,
                OrgFormPage {
                    chrome: user.chrome("party"),
                    editing: None,
                    parent,
                    form,
                    errors,
                    kinds: OrgKind::ALL.to_vec(),
                    categories: OrgCategory::ALL.to_vec(),
                },
            )
                .into_response())
        }
        Err(e) => Err(e.into()),
    }
}

async fn edit_page(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<OrgFormPage, PageError> {
    let org = state.store.party_org(&user.actor, id).await?;
    let form = OrgForm {
        parent_id: org.parent_id.map(|p| p.to_string()).unwrap_or_default(),
        kind: org.kind.clone(),
        category: org.category.clone(),
        name: org.name.clone(),
        territory_code: org.territory_code.clone(),
        founded_on: org.founded_on.clone().unwrap_or_default(),
    };
    Ok(OrgFormPage {
        chrome: user.chrome("party"),
        editing: Some(org),
        parent: None,
        form,
        errors: Validation::new(),
        kinds: OrgKind::ALL.to_vec(),
        categories: OrgCategory::ALL.to_vec(),
    })
}

async fn edit(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    Form(form): Form<OrgForm>,
) -> Result<Response, PageError> {
    match state.store.edit_party_org(&user.actor, id, &form.input()).await {
        Ok(org) => Ok(Redirect::to(&format!("/party/{}?notice=saved", org.id)).into_response()),
        Err(StoreError::Invalid(errors)) => {
            let org = state.store.party_org(&user.actor, id).await?;
            Ok((
                StatusCode::UNPROCESSABLE_ENTITY,
                OrgFormPage {
                    chrome: user.chrome("party"),
                    editing: Some(org),
                    parent: None,
                    form,
                    errors,
                    kinds: OrgKind::ALL.to_vec(),
                    categories: OrgCategory::ALL.to_vec(),
                },
            )
                .into_response())
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
struct MoveForm {
    #[serde(default)]
    new_parent_id: String,
    #[serde(default)]
    note: String,
}

async fn move_org(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    Form(form): Form<MoveForm>,
) -> Result<Response, PageError> {
    let input = PartyMoveInput {
        new_parent_id: form.new_parent_id.trim().parse().ok(),
        note: Some(form.note),
    };
    match state.store.move_party_org(&user.actor, id, &input).await {
        Ok(org) => Ok(Redirect::to(&format!("/party/{}?notice=moved", org.id)).into_response()),
        Err(StoreError::Invalid(errors)) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            render_org(&state, &user, id, None, errors).await?,
        )
            .into_response()),
        Err(e) => Err(e.into()),
    }
}

async fn archive(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    Form(form): Form<NoteForm>,
) -> Result<Response, PageError> {
    match state
        .store
        .archive_party_org(&user.actor, id, form.note.as_deref())
        .await
    {
        Ok(org) => Ok(Redirect::to(&format!("/party/{}?notice=archived", org.id)).into_response()),
        Err(StoreError::Invalid(errors)) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            render_org(&state, &user, id, None, errors).await?,
        )
            .into_response()),
        Err(e) => Err(e.into()),
    }
}

async fn restore(State(state): State<AppState>, user: CurrentUser, Path(id): Path<i64>) -> Result<Response, PageError> {
    match state.store.restore_party_org(&user.actor, id).await {
        Ok(org) => Ok(Redirect::to(&format!("/party/{}?notice=restored", org.id)).into_response()),
        Err(StoreError::Invalid(errors)) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            render_org(&state, &user, id, None, errors).await?,
        )
            .into_response()),
        Err(e) => Err(e.into()),
    }
}

// ---------------------------------------------------------------- API

/// A page of organisations with counts (OpenAPI schema of `Page<PartyOrgWithCounts>`).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct PartyOrgPage {
    items: Vec<PartyOrgWithCounts>,
    next_cursor: Option<String>,
}

#[derive(Deserialize, IntoParams)]
pub struct PartyChildrenQuery {
    cursor: Option<i64>,
    limit: Option<i64>,
    #[serde(default)]
    include_archived: bool,
}

/// The top organisations of the caller's scope.
#[utoipa::path(get, path = "/api/v1/party-orgs", tag = "party",
    responses((status = 200, body = Vec<PartyOrg>), (status = 401, body = crate::error::Problem)))]
pub async fn api_roots(State(state): State<AppState>, ApiUser(actor): ApiUser) -> ApiResult<Json<Vec<PartyOrg>>> {
    Ok(Json(state.store.party_roots(&actor).await?))
}

#[utoipa::path(post, path = "/api/v1/party-orgs", tag = "party", request_body = PartyOrgInput,
    responses((status = 201, body = PartyOrg), (status = 422, body = crate::error::Problem)))]
pub async fn api_create(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Json(input): Json<PartyOrgInput>,
) -> ApiResult<(StatusCode, Json<PartyOrg>)> {
    Ok((
        StatusCode::CREATED,
        Json(state.store.create_party_org(&actor, &input).await?),
    ))
}

#[utoipa::path(get, path = "/api/v1/party-orgs/{id}", tag = "party", params(("id" = i64, Path)),
    responses((status = 200, body = PartyOrg), (status = 404, body = crate::error::Problem)))]
pub async fn api_get(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<PartyOrg>> {
    Ok(Json(state.store.party_org(&actor, id).await?))
}

#[utoipa::path(patch, path = "/api/v1/party-orgs/{id}", tag = "party", params(("id" = i64, Path)), request_body = PartyOrgInput,
    responses((status = 200, body = PartyOrg), (status = 422, body = crate::error::Problem)))]
pub async fn api_edit(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Path(id): Path<i64>,
    Json(input): Json<PartyOrgInput>,
) -> ApiResult<Json<PartyOrg>> {
    Ok(Json(state.store.edit_party_org(&actor, id, &input).await?))
}

#[utoipa::path(get, path = "/api/v1/party-orgs/{id}/children", tag = "party", params(("id" = i64, Path), PartyChildrenQuery),
    responses((status = 200, body = PartyOrgPage), (status = 404, body = crate::error::Problem)))]
pub async fn api_children(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Path(id): Path<i64>,
    Query(q): Query<PartyChildrenQuery>,
) -> ApiResult<Json<Page<PartyOrgWithCounts>>> {
    Ok(Json(
        state
            .store
            .party_children(&actor, id, q.include_archived, q.cursor, q.limit.unwrap_or(100))
            .await?,
    ))
}

#[utoipa::path(post, path = "/api/v1/party-orgs/{id}/move", tag = "party", params(("id" = i64, Path)), request_body = PartyMoveInput,
    responses((status = 200, body = PartyOrg), (status = 422, body = crate::error::Problem)))]
pub async fn api_move(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Path(id): Path<i64>,
    Json(input): Json<PartyMoveInput>,
) -> ApiResult<Json<PartyOrg>> {
    Ok(Json(state.store.move_party_org(&actor, id, &input).await?))
}

#[utoipa::path(post, path = "/api/v1/party-orgs/{id}/archive", tag = "party", params(("id" = i64, Path)), request_body = NoteForm,
    responses((status = 200, body = PartyOrg), (status = 422, body = crate::error::Problem)))]
pub async fn api_archive(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Path(id): Path<i64>,
    body: Option<Json<NoteForm>>,
) -> ApiResult<Json<PartyOrg>> {
    let note = body.and_then(|b| b.0.note);
    Ok(Json(state.store.archive_party_org(&actor, id, note.as_deref()).await?))
}

#[utoipa::path(post, path = "/api/v1/party-orgs/{id}/restore", tag = "party", params(("id" = i64, Path)),
    responses((status = 200, body = PartyOrg), (status = 422, body = crate::error::Problem)))]
pub async fn api_restore(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<PartyOrg>> {
    Ok(Json(state.store.restore_party_org(&actor, id).await?))
}

#[utoipa::path(get, path = "/api/v1/party-orgs/{id}/history", tag = "party", params(("id" = i64, Path)),
    responses((status = 200, body = Vec<PartyHistoryEntry>), (status = 404, body = crate::error::Problem)))]
pub async fn api_history(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<Vec<PartyHistoryEntry>>> {
    Ok(Json(state.store.party_history(&actor, id).await?))
}

/// Organisations covering a governance node.
#[utoipa::path(get, path = "/api/v1/nodes/{id}/party-orgs", tag = "party", params(("id" = i64, Path)),
    responses((status = 200, body = Vec<PartyOrg>), (status = 404, body = crate::error::Problem)))]
pub async fn api_at_node(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<Vec<PartyOrg>>> {
    Ok(Json(state.store.party_orgs_at(&actor, id).await?))
}
