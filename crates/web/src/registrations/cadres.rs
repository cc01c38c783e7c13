//! Pairings of organisations with communities (结对共建) and cadres sent down (选派任职、下沉),
//! listed under a node with a form to add one.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Form, Json};
use gongjian_domain::Validation;
use gongjian_domain::tree::Level;
use gongjian_store::StoreError;
use gongjian_store::members::OrgChoice;
use gongjian_store::posts::Post;
use gongjian_store::registrations::{Deployment, DeploymentInput, Pairing, PairingInput};
use gongjian_store::tree::Node;
use serde::Deserialize;

use crate::auth::{ApiUser, Client, CurrentUser};
use crate::error::{ApiResult, PageError};
use crate::ui::Chrome;
use crate::{AppState, Route, export, get, post};

pub fn routes() -> Vec<Route> {
    vec![
        get("/tree/{id}/pairings", pairings_page),
        get("/tree/{id}/pairings/export", export_pairings),
        post("/tree/{id}/pairings", create_pairing),
        post("/pairings/{id}/end", end_pairing),
        get("/tree/{id}/deployments", deployments_page),
        get("/tree/{id}/deployments/export", export_deployments),
        post("/tree/{id}/deployments", create_deployment),
        get("/api/v1/nodes/{id}/pairings", api_pairings),
        post("/api/v1/pairings", api_create_pairing),
        get("/api/v1/nodes/{id}/deployments", api_deployments),
        post("/api/v1/deployments", api_create_deployment),
    ]
}

#[derive(Template, WebTemplate)]
#[template(path = "registrations/pairings.html")]
struct PairingsPage {
    chrome: Chrome,
    node: Node,
    items: Vec<Pairing>,
    orgs: Vec<OrgChoice>,
    communities: Vec<Node>,
    can_add: bool,
    form: PairingValues,
    errors: Validation,
}

#[derive(Deserialize, Default, Clone)]
struct PairingValues {
    #[serde(default)]
    org_id: Option<i64>,
    #[serde(default)]
    community_id: Option<i64>,
    #[serde(default)]
    started_on: String,
    #[serde(default)]
    ended_on: String,
    #[serde(default)]
    agreement: String,
}

/// The communities at or under `node` that a form can offer (at most 500).
async fn communities_at(state: &AppState, user: &CurrentUser, node: &Node) -> Result<Vec<Node>, PageError> {
    Ok(match node.level {
        Level::Community => vec![node.clone()],
        Level::Street => state
            .store
            .children(&user.actor, node.id, false, None, 500)
            .await?
            .items
            .into_iter()
            .map(|c| c.node)
            .collect(),
        _ => Vec::new(),
    })
}

async fn pairings_view(
    state: &AppState,
    user: &CurrentUser,
    id: i64,
    form: PairingValues,
    errors: Validation,
) -> Result<PairingsPage, PageError> {
    let node = state.store.node(&user.actor, id).await?;
    let can_add = state.store.may_manage_people_at(&user.actor, &node);
    let (orgs, communities) = if can_add {
        (
            state.store.pairing_org_choices(&node).await?,
            communities_at(state, user, &node).await?,
        )
    } else {
        (Vec::new(), Vec::new())
    };
    Ok(PairingsPage {
        chrome: user.chrome("tree"),
        items: state.store.pairings_under(&user.actor, id).await?,
        node,
        orgs,
        communities,
        can_add,
        form,
        errors,
    })
}

async fn pairings_page(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<PairingsPage, PageError> {
    pairings_view(&state, &user, id, PairingValues::default(), Validation::new()).await
}

async fn create_pairing(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    Form(values): Form<PairingValues>,
) -> Result<Response, PageError> {
    let input = PairingInput {
        org_id: values.org_id,
        community_id: values.community_id,
        started_on: values.started_on.clone(),
        ended_on: values.ended_on.clone(),
        agreement: values.agreement.clone(),
    };
    match state.store.create_pairing(&user.actor, &input, &user.client).await {
        Ok(_) => Ok(Redirect::to(&format!("/tree/{id}/pairings")).into_response()),
        Err(StoreError::Invalid(errors)) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            pairings_view(&state, &user, id, values, errors).await?,
        )
            .into_response()),
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
struct EndValues {
    #[serde(default)]
    ended_on: String,
}

async fn end_pairing(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    Form(values): Form<EndValues>,
) -> Result<Redirect, PageError> {
    let p = state
        .store
        .end_pairing(&user.actor, id, &values.ended_on, &user.client)
        .await?;
    Ok(Redirect::to(&format!("/tree/{}/pairings", p.community_id)))
}

async fn export_pairings(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let node = state.store.node(&user.actor, id).await?;
    let cells: Vec<Vec<String>> = state
        .store
        .pairings_under(&user.actor, id)
        .await?
        .into_iter()
        .map(|p| {
            vec![
                p.org_name,
                p.community_name,
                p.started_on,
                p.ended_on.unwrap_or_default(),
                p.agreement.unwrap_or_default(),
            ]
        })
        .collect();
    let bytes = export::workbook(
        "结对共建",
        &["党组织", "社区", "开始日期", "结束日期", "共建协议"],
        &[],
        &cells,
    )?;
    Ok(export::download(&format!("pairings-{}.xlsx", node.code), bytes))
}

async fn export_deployments(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let node = state.store.node(&user.actor, id).await?;
    let cells: Vec<Vec<String>> = state
        .store
        .deployments_under(&user.actor, id)
        .await?
        .into_iter()
        .map(|d| {
            vec![
                d.person_name.clone(),
                d.kind_label().to_string(),
                d.from_unit.clone().unwrap_or_default(),
                d.node_name.clone(),
                d.started_on.clone(),
                d.ended_on.clone().unwrap_or_default(),
                d.note.clone().unwrap_or_default(),
            ]
        })
        .collect();
    let headers = ["姓名", "方式", "派出单位", "服务地点", "开始日期", "结束日期", "备注"];
    let bytes = export::workbook("干部下基层", &headers, &[], &cells)?;
    Ok(export::download(&format!("deployments-{}.xlsx", node.code), bytes))
}

#[derive(Template, WebTemplate)]
#[template(path = "registrations/deployments.html")]
struct DeploymentsPage {
    chrome: Chrome,
    node: Node,
    items: Vec<Deployment>,
    posts: Vec<Post>,
    can_add: bool,
    form: DeploymentValues,
    errors: Validation,
}

#[derive(Deserialize, Default, Clone)]
struct DeploymentValues {
    /// The cadre's 身份证号 (found by keyed hash in the viewer's scope).
    #[serde(default)]
    id_number: String,
    #[serde(default)]
    kind: String,
    /// The sending unit's full name or credit code.
    #[serde(default)]
    from_unit: String,
    #[serde(default)]
    post_id: Option<i64>,
    #[serde(default)]
    started_on: String,
    #[serde(default)]
    ended_on: String,
    #[serde(default)]
    note: String,
}

async fn deployments_view(
    state: &AppState,
    user: &CurrentUser,
    id: i64,
    form: DeploymentValues,
    errors: Validation,
) -> Result<DeploymentsPage, PageError> {
    let node = state.store.node(&user.actor, id).await?;
    let can_add =
        matches!(node.level, Level::Street | Level::Community) && state.store.may_manage_people_at(&user.actor, &node);
    Ok(DeploymentsPage {
        chrome: user.chrome("tree"),
        items: state.store.deployments_under(&user.actor, id).await?,
        posts: state.store.posts_at(&user.actor, id).await?,
        node,
        can_add,
        form,
        errors,
    })
}

async fn deployments_page(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<DeploymentsPage, PageError> {
    deployments_view(&state, &user, id, DeploymentValues::default(), Validation::new()).await
}

async fn create_deployment(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    Form(values): Form<DeploymentValues>,
) -> Result<Response, PageError> {
    let mut errors = Validation::new();
    let person_id = match values.id_number.trim() {
        "" => None,
        idn => state
            .store
            .search_people(&user.actor, idn, None, None, 1)
            .await?
            .items
            .first()
            .map(|p| p.id),
    };
    if person_id.is_none() {
        errors.push("id_number", "未找到此身份证号的居民，请先登记");
    }
    let from_unit_id = match values.from_unit.trim() {
        "" => None,
        u => match state.store.unit_by_name_or_code(&user.actor, u).await? {
            Some(unit) => Some(unit.id),
            None => {
                errors.push(
                    "from_unit",
                    format!("未找到单位“{u}”，请填写单位全称或统一社会信用代码"),
                );
                None
            }
        },
    };
    let result = if errors.is_empty() {
        let input = DeploymentInput {
            person_id,
            kind: values.kind.clone(),
            from_unit_id,
            node_id: Some(id),
            post_id: values.post_id,
            started_on: values.started_on.clone(),
            ended_on: values.ended_on.clone(),
            note: values.note.clone(),
        };
        state.store.create_deployment(&user.actor, &input, &user.client).await
    } else {
        Err(StoreError::Invalid(errors))
    };
    match result {
        Ok(_) => Ok(Redirect::to(&format!("/tree/{id}/deployments")).into_response()),
        Err(StoreError::Invalid(mut errors)) => {
            // The store names the person by id; the form asks for the ID number.
            for e in &mut errors.0 {
                if e.field == "person_id" {
                    e.field = "id_number".into();
                }
            }
            Ok((
                StatusCode::UNPROCESSABLE_ENTITY,
                deployments_view(&state, &user, id, values, errors).await?,
            )
                .into_response())
        }
        Err(e) => Err(e.into()),
    }
}

/// Pairings of communities under a node, newest first.
#[utoipa::path(get, path = "/api/v1/nodes/{id}/pairings", tag = "registration", params(("id" = i64, Path)),
    responses((status = 200, body = Vec<Pairing>), (status = 404, body = crate::error::Problem)))]
pub async fn api_pairings(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<Vec<Pairing>>> {
    Ok(Json(state.store.pairings_under(&actor, id).await?))
}

/// Pairs a party organisation with a community.
#[utoipa::path(post, path = "/api/v1/pairings", tag = "registration", request_body = PairingInput,
    responses((status = 201, body = Pairing), (status = 422, body = crate::error::Problem)))]
pub async fn api_create_pairing(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Client(client): Client,
    Json(input): Json<PairingInput>,
) -> ApiResult<(StatusCode, Json<Pairing>)> {
    Ok((
        StatusCode::CREATED,
        Json(state.store.create_pairing(&actor, &input, &client).await?),
    ))
}

/// Cadres sent to nodes under a node, newest first.
#[utoipa::path(get, path = "/api/v1/nodes/{id}/deployments", tag = "registration", params(("id" = i64, Path)),
    responses((status = 200, body = Vec<Deployment>), (status = 404, body = crate::error::Problem)))]
pub async fn api_deployments(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<Vec<Deployment>>> {
    Ok(Json(state.store.deployments_under(&actor, id).await?))
}

/// Records a cadre's secondment or deployment.
#[utoipa::path(post, path = "/api/v1/deployments", tag = "registration", request_body = DeploymentInput,
    responses((status = 201, body = Deployment), (status = 422, body = crate::error::Problem)))]
pub async fn api_create_deployment(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Client(client): Client,
    Json(input): Json<DeploymentInput>,
) -> ApiResult<(StatusCode, Json<Deployment>)> {
    Ok((
        StatusCode::CREATED,
        Json(state.store.create_deployment(&actor, &input, &client).await?),
    ))
}
