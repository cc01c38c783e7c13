//! The governance tree: console pages and the `/api/v1/nodes` API.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Form, Json};
use gongjian_domain::Validation;
use gongjian_domain::tree::{GridKind, Level};
use gongjian_store::party::PartyOrg;
use gongjian_store::tree::{HistoryEntry, LevelCounts, MoveInput, Node, NodeEdit, NodeInput, NodeWithCounts};
use gongjian_store::{Page, StoreError};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::auth::{ApiUser, CurrentUser};
use crate::error::{ApiError, ApiResult, PageError};
use crate::ui::Chrome;
use crate::{AppState, Route, get, patch, post};

pub fn routes() -> Vec<Route> {
    vec![
        get("/tree", roots_page),
        get("/tree/new", new_city_page),
        post("/tree/new", create_city),
        get("/tree/{id}", node_page),
        get("/tree/{id}/children", children_rows),
        get("/tree/{id}/new", new_child_page),
        post("/tree/{id}/new", create_child),
        get("/tree/{id}/edit", edit_page),
        post("/tree/{id}/edit", edit),
        get("/tree/{id}/move", move_page),
        post("/tree/{id}/move", move_node),
        post("/tree/{id}/archive", archive),
        post("/tree/{id}/restore", restore),
        get("/tree/{id}/history", history_page),
        get("/api/v1/roots", api_roots),
        get("/api/v1/nodes", api_search),
        post("/api/v1/nodes", api_create),
        get("/api/v1/nodes/by-code/{code}", api_by_code),
        get("/api/v1/nodes/{id}", api_get),
        patch("/api/v1/nodes/{id}", api_edit),
        get("/api/v1/nodes/{id}/children", api_children),
        get("/api/v1/nodes/{id}/counts", api_counts),
        post("/api/v1/nodes/{id}/move", api_move),
        post("/api/v1/nodes/{id}/archive", api_archive),
        post("/api/v1/nodes/{id}/restore", api_restore),
        get("/api/v1/nodes/{id}/history", api_history),
    ]
}

const PAGE_SIZE: i64 = 50;

// ---------------------------------------------------------------- pages

#[derive(Template, WebTemplate)]
#[template(path = "tree/roots.html")]
struct RootsPage {
    chrome: Chrome,
    roots: Vec<Node>,
    can_add_city: bool,
}

async fn roots_page(State(state): State<AppState>, user: CurrentUser) -> Result<RootsPage, PageError> {
    let roots = state.store.roots(&user.actor).await?;
    let can_add_city =
        user.actor.scope(gongjian_domain::access::Right::ManageTree) == gongjian_domain::access::Scope::Everything;
    Ok(RootsPage {
        chrome: user.chrome("tree"),
        roots,
        can_add_city,
    })
}

#[derive(Template, WebTemplate)]
#[template(path = "tree/node.html")]
struct NodePage {
    chrome: Chrome,
    node: Node,
    ancestors: Vec<Node>,
    counts: LevelCounts,
    children: Page<NodeWithCounts>,
    orgs: Vec<PartyOrg>,
    people: i64,
    posts: Vec<gongjian_store::posts::Post>,
    can_appoint: bool,
    can_manage: bool,
    child_level: Option<Level>,
    notice: Option<String>,
    errors: Validation,
}

#[derive(Deserialize, Default)]
struct NodeQuery {
    #[serde(default)]
    notice: Option<String>,
}

fn notice_text(key: Option<&str>) -> Option<String> {
    Some(
        match key? {
            "created" => "已创建。",
            "saved" => "已保存。",
            "moved" => "已迁移，下级代码已同步调整。",
            "archived" => "已撤销。可在下方恢复。",
            "restored" => "已恢复。",
            _ => return None,
        }
        .to_string(),
    )
}

async fn render_node(
    state: &AppState,
    user: &CurrentUser,
    id: i64,
    notice: Option<String>,
    errors: Validation,
) -> Result<NodePage, PageError> {
    let store = &state.store;
    let node = store.node(&user.actor, id).await?;
    let ancestors = store.ancestors(&user.actor, &node).await?;
    let counts = store.subtree_counts(&user.actor, id).await?;
    let children = store.children(&user.actor, id, true, None, PAGE_SIZE).await?;
    let orgs = store.party_orgs_at(&user.actor, id).await?;
    let people = store.count_people_under(&user.actor, id).await?;
    let posts = store.posts_at(&user.actor, id).await?;
    let can_appoint = store.may_manage_people_at(&user.actor, &node);
    let can_manage = store.can_manage(&user.actor, &node);
    let child_level = node.level.child_level();
    Ok(NodePage {
        chrome: user.chrome("tree"),
        node,
        ancestors,
        counts,
        children,
        orgs,
        people,
        posts,
        can_appoint,
        can_manage,
        child_level,
        notice,
        errors,
    })
}

async fn node_page(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    Query(q): Query<NodeQuery>,
) -> Result<NodePage, PageError> {
    render_node(&state, &user, id, notice_text(q.notice.as_deref()), Validation::new()).await
}

#[derive(Template, WebTemplate)]
#[template(path = "tree/children_rows.html")]
struct ChildrenRows {
    node: Node,
    children: Page<NodeWithCounts>,
}

#[derive(Deserialize, IntoParams)]
pub struct ChildrenQuery {
    /// Cursor from the previous page's `next_cursor`.
    cursor: Option<String>,
    /// Page size, 1–500 (default 50).
    limit: Option<i64>,
    /// Include archived children.
    #[serde(default)]
    include_archived: bool,
}

/// The next page of a node's children, for the "load more" row.
async fn children_rows(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    Query(q): Query<ChildrenQuery>,
) -> Result<ChildrenRows, PageError> {
    let node = state.store.node(&user.actor, id).await?;
    let children = state
        .store
        .children(&user.actor, id, true, q.cursor.as_deref(), PAGE_SIZE)
        .await?;
    Ok(ChildrenRows { node, children })
}

/// Form values as typed, to show back after an error.
#[derive(Debug, Default, Clone)]
struct NodeFormValues {
    name: String,
    code: String,
    kind: String,
    households: String,
    population: String,
}

impl NodeFormValues {
    fn from_node(n: &Node) -> Self {
        NodeFormValues {
            name: n.name.clone(),
            code: n.code.clone(),
            kind: n.kind.clone().unwrap_or_default(),
            households: n.households.map(|h| h.to_string()).unwrap_or_default(),
            population: n.population.map(|h| h.to_string()).unwrap_or_default(),
        }
    }
}

#[derive(Deserialize, Default)]
struct NodeForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    households: String,
    #[serde(default)]
    population: String,
}

impl NodeForm {
    fn values(&self) -> NodeFormValues {
        NodeFormValues {
            name: self.name.clone(),
            code: self.code.clone(),
            kind: self.kind.clone(),
            households: self.households.clone(),
            population: self.population.clone(),
        }
    }

    fn input(&self, parent_id: Option<i64>) -> NodeInput {
        let opt = |s: &str| Some(s.to_string()).filter(|s| !s.trim().is_empty());
        NodeInput {
            parent_id,
            level: None,
            code: opt(&self.code),
            name: self.name.clone(),
            kind: opt(&self.kind),
            households: opt(&self.households),
            population: opt(&self.population),
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "tree/form.html")]
struct NodeFormPage {
    chrome: Chrome,
    /// The parent when creating, the node itself when editing.
    anchor: Option<Node>,
    editing: bool,
    level: Level,
    action: String,
    values: NodeFormValues,
    errors: Validation,
    kinds: Vec<GridKind>,
    code_prefix: String,
}

impl NodeFormPage {
    fn new(
        chrome: Chrome,
        anchor: Option<Node>,
        editing: bool,
        level: Level,
        values: NodeFormValues,
        errors: Validation,
    ) -> Self {
        let action = match (&anchor, editing) {
            (Some(n), true) => format!("/tree/{}/edit", n.id),
            (Some(n), false) => format!("/tree/{}/new", n.id),
            (None, _) => "/tree/new".to_string(),
        };
        let code_prefix = match (&anchor, editing) {
            (Some(p), false) => p.code[..level
                .parent_level()
                .map(|l| l.prefix_len())
                .unwrap_or(0)
                .min(p.code.len())]
                .to_string(),
            _ => String::new(),
        };
        NodeFormPage {
            chrome,
            anchor,
            editing,
            level,
            action,
            values,
            errors,
            kinds: GridKind::for_level(level),
            code_prefix,
        }
    }
}

async fn new_city_page(user: CurrentUser) -> NodeFormPage {
    NodeFormPage::new(
        user.chrome("tree"),
        None,
        false,
        Level::City,
        NodeFormValues::default(),
        Validation::new(),
    )
}

async fn create_city(
    State(state): State<AppState>,
    user: CurrentUser,
    Form(form): Form<NodeForm>,
) -> Result<Response, PageError> {
    match state.store.create_node(&user.actor, &form.input(None)).await {
        Ok(node) => Ok(Redirect::to(&format!("/tree/{}?notice=created", node.id)).into_response()),
        Err(StoreError::Invalid(errors)) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            NodeFormPage::new(user.chrome("tree"), None, false, Level::City, form.values(), errors),
        )
            .into_response()),
        Err(e) => Err(e.into()),
    }
}

async fn new_child_page(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<NodeFormPage, PageError> {
    let parent = state.store.node(&user.actor, id).await?;
    let level = parent
        .level
        .child_level()
        .ok_or_else(|| PageError::BadRequest("三级网格下不能再建下级".into()))?;
    Ok(NodeFormPage::new(
        user.chrome("tree"),
        Some(parent),
        false,
        level,
        NodeFormValues::default(),
        Validation::new(),
    ))
}

async fn create_child(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    Form(form): Form<NodeForm>,
) -> Result<Response, PageError> {
    match state.store.create_node(&user.actor, &form.input(Some(id))).await {
        Ok(node) => Ok(Redirect::to(&format!("/tree/{}?notice=created", node.id)).into_response()),
        Err(StoreError::Invalid(errors)) => {
            let parent = state.store.node(&user.actor, id).await?;
            let level = parent.level.child_level().unwrap_or(Level::GridL3);
            Ok((
                StatusCode::UNPROCESSABLE_ENTITY,
                NodeFormPage::new(user.chrome("tree"), Some(parent), false, level, form.values(), errors),
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
) -> Result<NodeFormPage, PageError> {
    let node = state.store.node(&user.actor, id).await?;
    let values = NodeFormValues::from_node(&node);
    let level = node.level;
    Ok(NodeFormPage::new(
        user.chrome("tree"),
        Some(node),
        true,
        level,
        values,
        Validation::new(),
    ))
}

async fn edit(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    Form(form): Form<NodeForm>,
) -> Result<Response, PageError> {
    let input = form.input(None);
    let edit = NodeEdit {
        name: input.name,
        kind: input.kind,
        households: input.households,
        population: input.population,
    };
    match state.store.edit_node(&user.actor, id, &edit).await {
        Ok(node) => Ok(Redirect::to(&format!("/tree/{}?notice=saved", node.id)).into_response()),
        Err(StoreError::Invalid(errors)) => {
            let node = state.store.node(&user.actor, id).await?;
            let level = node.level;
            let mut values = form.values();
            values.code = node.code.clone();
            Ok((
                StatusCode::UNPROCESSABLE_ENTITY,
                NodeFormPage::new(user.chrome("tree"), Some(node), true, level, values, errors),
            )
                .into_response())
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "tree/move.html")]
struct MovePage {
    chrome: Chrome,
    node: Node,
    candidates: Vec<Node>,
    new_parent_id: String,
    new_code: String,
    note: String,
    errors: Validation,
}

impl MovePage {
    fn selected(&self, id: &i64) -> bool {
        self.new_parent_id == id.to_string()
    }
}

#[derive(Deserialize)]
struct MoveForm {
    #[serde(default)]
    new_parent_id: String,
    #[serde(default)]
    new_code: String,
    #[serde(default)]
    note: String,
}

async fn move_page(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<MovePage, PageError> {
    let node = state.store.node(&user.actor, id).await?;
    let candidates = state.store.move_candidates(&user.actor, &node).await?;
    Ok(MovePage {
        chrome: user.chrome("tree"),
        node,
        candidates,
        new_parent_id: String::new(),
        new_code: String::new(),
        note: String::new(),
        errors: Validation::new(),
    })
}

async fn move_node(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    Form(form): Form<MoveForm>,
) -> Result<Response, PageError> {
    let input = MoveInput {
        new_parent_id: form.new_parent_id.trim().parse().ok(),
        new_code: Some(form.new_code.clone()),
        note: Some(form.note.clone()),
    };
    match state.store.move_node(&user.actor, id, &input).await {
        Ok(node) => Ok(Redirect::to(&format!("/tree/{}?notice=moved", node.id)).into_response()),
        Err(StoreError::Invalid(errors)) => {
            let node = state.store.node(&user.actor, id).await?;
            let candidates = state.store.move_candidates(&user.actor, &node).await?;
            Ok((
                StatusCode::UNPROCESSABLE_ENTITY,
                MovePage {
                    chrome: user.chrome("tree"),
                    node,
                    candidates,
                    new_parent_id: form.new_parent_id,
                    new_code: form.new_code,
                    note: form.note,
                    errors,
                },
            )
                .into_response())
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize, Default, ToSchema)]
pub struct NoteForm {
    /// Why (optional, kept in the history).
    #[serde(default)]
    pub note: Option<String>,
}

async fn archive(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    Form(form): Form<NoteForm>,
) -> Result<Response, PageError> {
    match state.store.archive_node(&user.actor, id, form.note.as_deref()).await {
        Ok(node) => Ok(Redirect::to(&format!("/tree/{}?notice=archived", node.id)).into_response()),
        Err(StoreError::Invalid(errors)) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            render_node(&state, &user, id, None, errors).await?,
        )
            .into_response()),
        Err(e) => Err(e.into()),
    }
}

async fn restore(State(state): State<AppState>, user: CurrentUser, Path(id): Path<i64>) -> Result<Response, PageError> {
    match state.store.restore_node(&user.actor, id).await {
        Ok(node) => Ok(Redirect::to(&format!("/tree/{}?notice=restored", node.id)).into_response()),
        Err(StoreError::Invalid(errors)) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            render_node(&state, &user, id, None, errors).await?,
        )
            .into_response()),
        Err(e) => Err(e.into()),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "tree/history.html")]
struct HistoryPage {
    chrome: Chrome,
    node: Node,
    entries: Vec<HistoryEntry>,
}

async fn history_page(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<HistoryPage, PageError> {
    let node = state.store.node(&user.actor, id).await?;
    let entries = state.store.node_history(&user.actor, id).await?;
    Ok(HistoryPage {
        chrome: user.chrome("tree"),
        node,
        entries,
    })
}

pub fn action_label(action: &str) -> &'static str {
    match action {
        "created" => "新建",
        "renamed" => "更名",
        "edited" => "修改",
        "moved" => "迁移（区划调整）",
        "recoded" => "代码随上级调整",
        "archived" => "撤销",
        "restored" => "恢复",
        _ => "其他",
    }
}

// ---------------------------------------------------------------- API

#[derive(Deserialize, IntoParams)]
pub struct SearchQuery {
    /// Part of a name, or the start of a code.
    #[serde(default)]
    q: String,
    /// Level key: city, district, street, community, grid_l2, grid_l3.
    level: Option<String>,
    cursor: Option<String>,
    limit: Option<i64>,
}

/// The top nodes of the caller's scope.
#[utoipa::path(get, path = "/api/v1/roots", tag = "tree",
    responses((status = 200, body = Vec<Node>), (status = 401, body = crate::error::Problem)))]
pub async fn api_roots(State(state): State<AppState>, ApiUser(actor): ApiUser) -> ApiResult<Json<Vec<Node>>> {
    Ok(Json(state.store.roots(&actor).await?))
}

/// Nodes by name or code prefix, within the caller's scope, in code order.
#[utoipa::path(get, path = "/api/v1/nodes", tag = "tree", params(SearchQuery),
    responses((status = 200, body = NodeListPage), (status = 401, body = crate::error::Problem)))]
pub async fn api_search(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Query(q): Query<SearchQuery>,
) -> ApiResult<Json<Page<Node>>> {
    let level = match q.level.as_deref() {
        None | Some("") => None,
        Some(k) => Some(Level::from_key(k).ok_or_else(|| ApiError::BadRequest(format!("未知的层级“{k}”")))?),
    };
    Ok(Json(
        state
            .store
            .search_nodes(&actor, &q.q, level, q.cursor.as_deref(), q.limit.unwrap_or(50))
            .await?,
    ))
}

/// A page of nodes (OpenAPI schema of `Page<Node>`).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct NodeListPage {
    items: Vec<Node>,
    next_cursor: Option<String>,
}

/// A page of children with counts (OpenAPI schema of `Page<NodeWithCounts>`).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ChildrenPage {
    items: Vec<NodeWithCounts>,
    next_cursor: Option<String>,
}

/// Creates a node. Administrative levels need their 12-digit division code; grid codes are
/// derived from the parent when not given.
#[utoipa::path(post, path = "/api/v1/nodes", tag = "tree", request_body = NodeInput,
    responses((status = 201, body = Node), (status = 422, body = crate::error::Problem)))]
pub async fn api_create(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Json(input): Json<NodeInput>,
) -> ApiResult<(StatusCode, Json<Node>)> {
    Ok((
        StatusCode::CREATED,
        Json(state.store.create_node(&actor, &input).await?),
    ))
}

#[utoipa::path(get, path = "/api/v1/nodes/{id}", tag = "tree", params(("id" = i64, Path)),
    responses((status = 200, body = Node), (status = 404, body = crate::error::Problem)))]
pub async fn api_get(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<Node>> {
    Ok(Json(state.store.node(&actor, id).await?))
}

/// A node by its current code, or by a former code kept in its history.
#[utoipa::path(get, path = "/api/v1/nodes/by-code/{code}", tag = "tree", params(("code" = String, Path)),
    responses((status = 200, body = Node), (status = 404, body = crate::error::Problem)))]
pub async fn api_by_code(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Path(code): Path<String>,
) -> ApiResult<Json<Node>> {
    Ok(Json(state.store.node_by_code(&actor, &code).await?))
}

#[utoipa::path(patch, path = "/api/v1/nodes/{id}", tag = "tree", params(("id" = i64, Path)), request_body = NodeEdit,
    responses((status = 200, body = Node), (status = 422, body = crate::error::Problem)))]
pub async fn api_edit(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Path(id): Path<i64>,
    Json(input): Json<NodeEdit>,
) -> ApiResult<Json<Node>> {
    Ok(Json(state.store.edit_node(&actor, id, &input).await?))
}

/// A node's children in code order with their subtree counts; cursor pagination.
#[utoipa::path(get, path = "/api/v1/nodes/{id}/children", tag = "tree", params(("id" = i64, Path), ChildrenQuery),
    responses((status = 200, body = ChildrenPage), (status = 404, body = crate::error::Problem)))]
pub async fn api_children(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Path(id): Path<i64>,
    Query(q): Query<ChildrenQuery>,
) -> ApiResult<Json<Page<NodeWithCounts>>> {
    Ok(Json(
        state
            .store
            .children(
                &actor,
                id,
                q.include_archived,
                q.cursor.as_deref(),
                q.limit.unwrap_or(PAGE_SIZE),
            )
            .await?,
    ))
}

/// Active nodes per level in the node's subtree.
#[utoipa::path(get, path = "/api/v1/nodes/{id}/counts", tag = "tree", params(("id" = i64, Path)),
    responses((status = 200, body = LevelCounts), (status = 404, body = crate::error::Problem)))]
pub async fn api_counts(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<LevelCounts>> {
    Ok(Json(state.store.subtree_counts(&actor, id).await?))
}

/// Moves a node with its subtree (区划调整): new code, re-derived descendant codes, history.
#[utoipa::path(post, path = "/api/v1/nodes/{id}/move", tag = "tree", params(("id" = i64, Path)), request_body = MoveInput,
    responses((status = 200, body = Node), (status = 422, body = crate::error::Problem)))]
pub async fn api_move(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Path(id): Path<i64>,
    Json(input): Json<MoveInput>,
) -> ApiResult<Json<Node>> {
    Ok(Json(state.store.move_node(&actor, id, &input).await?))
}

#[utoipa::path(post, path = "/api/v1/nodes/{id}/archive", tag = "tree", params(("id" = i64, Path)), request_body = NoteForm,
    responses((status = 200, body = Node), (status = 422, body = crate::error::Problem)))]
pub async fn api_archive(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Path(id): Path<i64>,
    body: Option<Json<NoteForm>>,
) -> ApiResult<Json<Node>> {
    let note = body.and_then(|b| b.0.note);
    Ok(Json(state.store.archive_node(&actor, id, note.as_deref()).await?))
}

#[utoipa::path(post, path = "/api/v1/nodes/{id}/restore", tag = "tree", params(("id" = i64, Path)),
    responses((status = 200, body = Node), (status = 422, body = crate::error::Problem)))]
pub async fn api_restore(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<Node>> {
    Ok(Json(state.store.restore_node(&actor, id).await?))
}

#[utoipa::path(get, path = "/api/v1/nodes/{id}/history", tag = "tree", params(("id" = i64, Path)),
    responses((status = 200, body = Vec<HistoryEntry>), (status = 404, body = crate::error::Problem)))]
pub async fn api_history(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<Vec<HistoryEntry>>> {
    Ok(Json(state.store.node_history(&actor, id).await?))
}
