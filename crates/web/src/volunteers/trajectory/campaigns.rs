//! Campaigns with targets under a node (e.g. the five "hundreds") and their progress: a page
//! with the list and a form, and the API.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Redirect;
use axum::{Form, Json};
use gongjian_store::tree::Node;
use gongjian_store::volunteers::campaigns::{Campaign, CampaignForm, MEASURES};

use crate::auth::{ApiUser, Client, CurrentUser};
use crate::error::{ApiResult, PageError};
use crate::ui::Chrome;
use crate::{AppState, Route, get, post};

pub(super) fn routes() -> Vec<Route> {
    vec![
        get("/tree/{id}/campaigns", page),
        post("/tree/{id}/campaigns", create),
        get("/api/v1/nodes/{id}/campaigns", api_list),
        post("/api/v1/nodes/{id}/campaigns", api_create),
        get("/api/v1/campaigns/{id}", api_get),
    ]
}

#[derive(Template, WebTemplate)]
#[template(path = "volunteers/campaigns.html")]
struct CampaignsPage {
    chrome: Chrome,
    node: Node,
    campaigns: Vec<Campaign>,
    measures: Vec<(&'static str, &'static str)>,
    may_create: bool,
}

async fn page(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<CampaignsPage, PageError> {
    let node = state.store.node(&user.actor, id).await?;
    let campaigns = state.store.campaigns_under(&user.actor, id).await?;
    Ok(CampaignsPage {
        may_create: state.store.may_manage_people_at(&user.actor, &node),
        chrome: user.chrome("tree"),
        node,
        campaigns,
        measures: MEASURES.to_vec(),
    })
}

async fn create(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    Form(form): Form<CampaignForm>,
) -> Result<Redirect, PageError> {
    state
        .store
        .create_campaign(&user.actor, id, &form, &user.client)
        .await?;
    Ok(Redirect::to(&format!("/tree/{id}/campaigns")))
}

#[utoipa::path(get, path = "/api/v1/nodes/{id}/campaigns", tag = "volunteers", params(("id" = i64, Path)),
    responses((status = 200, body = [Campaign]), (status = 404, body = crate::error::Problem)))]
pub async fn api_list(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<Vec<Campaign>>> {
    Ok(Json(state.store.campaigns_under(&actor, id).await?))
}

#[utoipa::path(post, path = "/api/v1/nodes/{id}/campaigns", tag = "volunteers", params(("id" = i64, Path)),
    request_body = CampaignForm,
    responses((status = 201, body = Campaign), (status = 403, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn api_create(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Client(client): Client,
    Path(id): Path<i64>,
    Json(form): Json<CampaignForm>,
) -> ApiResult<(StatusCode, Json<Campaign>)> {
    Ok((
        StatusCode::CREATED,
        Json(state.store.create_campaign(&actor, id, &form, &client).await?),
    ))
}

#[utoipa::path(get, path = "/api/v1/campaigns/{id}", tag = "volunteers", params(("id" = i64, Path)),
    responses((status = 200, body = Campaign), (status = 404, body = crate::error::Problem)))]
pub async fn api_get(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<Campaign>> {
    Ok(Json(state.store.campaign(&actor, id).await?))
}
