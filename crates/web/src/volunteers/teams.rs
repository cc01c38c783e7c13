//! Volunteers and teams: `/api/v1/…/volunteers`, `/api/v1/…/teams` and their pages under a
//! node (list with search and xlsx export, registration with consent, teams with members).

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Redirect, Response};
use axum::{Form, Json};
use gongjian_domain::volunteers::activities::{TeamForm, VolunteerForm, ticked};
use gongjian_store::tree::Node;
use gongjian_store::volunteers::{Activity, Team, TeamMember, Volunteer};
use gongjian_store::{Page, StoreError};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::{ApiUser, Client, CurrentUser};
use crate::error::{ApiResult, PageError};
use crate::ui::Chrome;
use crate::{AppState, Route, export, get, post};

pub(super) fn routes() -> Vec<Route> {
    vec![
        get("/api/v1/nodes/{id}/volunteers", api_volunteers),
        post("/api/v1/volunteers", api_register),
        get("/api/v1/volunteers/{id}", api_volunteer),
        post("/api/v1/volunteers/{id}/leave", api_leave),
        get("/api/v1/nodes/{id}/teams", api_teams),
        post("/api/v1/teams", api_create_team),
        get("/api/v1/teams/{id}", api_team),
        post("/api/v1/teams/{id}/members", api_add_member),
        post("/api/v1/teams/{id}/members/{volunteer}/leave", api_remove_member),
        post("/api/v1/teams/{id}/dissolve", api_dissolve),
        get("/tree/{id}/volunteers", volunteers_page),
        post("/tree/{id}/volunteers", register),
        get("/tree/{id}/volunteers.xlsx", volunteers_export),
        post("/volunteers/{id}/leave", leave),
        get("/tree/{id}/teams", teams_page),
        post("/tree/{id}/teams", create_team),
        get("/teams/{id}", team_page),
        post("/teams/{id}/members", add_member),
        post("/teams/{id}/dissolve", dissolve),
    ]
}

/// A volunteer registration (documentation of the body; every field may be text).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct VolunteerBody {
    person_id: i64,
    /// The community or street.
    node_id: i64,
    /// '、'-separated.
    skills: String,
    /// Must be true: the person agreed to volunteer and to their record being kept.
    consent: bool,
    /// The name may be shown on team pages and honour lists.
    public_name: bool,
}

/// A page of volunteers.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct VolunteerPage {
    items: Vec<Volunteer>,
    next_cursor: Option<String>,
}

#[derive(Deserialize, Default, IntoParams)]
pub struct VolunteerQuery {
    /// Part of a name or a volunteer number.
    #[serde(default)]
    q: String,
    /// `active` (default), `left` or `all`.
    #[serde(default)]
    status: String,
    cursor: Option<i64>,
    limit: Option<i64>,
}

#[utoipa::path(get, path = "/api/v1/nodes/{id}/volunteers", tag = "volunteers", params(("id" = i64, Path), VolunteerQuery),
    responses((status = 200, body = VolunteerPage), (status = 404, body = crate::error::Problem)))]
pub async fn api_volunteers(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Path(id): Path<i64>,
    Query(q): Query<VolunteerQuery>,
) -> ApiResult<Json<Page<Volunteer>>> {
    let page = state
        .store
        .volunteers_under(&actor, id, &q.q, &q.status, q.cursor, q.limit.unwrap_or(100))
        .await?;
    Ok(Json(page))
}

#[utoipa::path(post, path = "/api/v1/volunteers", tag = "volunteers", request_body = VolunteerBody,
    responses((status = 201, body = Volunteer), (status = 422, body = crate::error::Problem)))]
pub async fn api_register(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Client(client): Client,
    Json(form): Json<VolunteerForm>,
) -> ApiResult<(StatusCode, Json<Volunteer>)> {
    let v = state.store.register_volunteer(&actor, &form, &client).await?;
    Ok((StatusCode::CREATED, Json(v)))
}

#[utoipa::path(get, path = "/api/v1/volunteers/{id}", tag = "volunteers", params(("id" = i64, Path)),
    responses((status = 200, body = Volunteer), (status = 404, body = crate::error::Problem)))]
pub async fn api_volunteer(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<Volunteer>> {
    Ok(Json(state.store.volunteer(&actor, id).await?))
}

#[utoipa::path(post, path = "/api/v1/volunteers/{id}/leave", tag = "volunteers", params(("id" = i64, Path)),
    responses((status = 200, body = Volunteer), (status = 422, body = crate::error::Problem)))]
pub async fn api_leave(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Client(client): Client,
    Path(id): Path<i64>,
) -> ApiResult<Json<Volunteer>> {
    Ok(Json(state.store.leave_volunteer(&actor, id, &client).await?))
}

#[utoipa::path(get, path = "/api/v1/nodes/{id}/teams", tag = "volunteers", params(("id" = i64, Path)),
    responses((status = 200, body = [Team]), (status = 404, body = crate::error::Problem)))]
pub async fn api_teams(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<Vec<Team>>> {
    Ok(Json(state.store.teams_under(&actor, id).await?))
}

/// A new team (documentation of the body).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct TeamBody {
    name: String,
    focus: String,
    /// The community or street that owns it.
    node_id: i64,
    unit_id: Option<i64>,
}

#[utoipa::path(post, path = "/api/v1/teams", tag = "volunteers", request_body = TeamBody,
    responses((status = 201, body = Team), (status = 422, body = crate::error::Problem)))]
pub async fn api_create_team(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Client(client): Client,
    Json(form): Json<TeamForm>,
) -> ApiResult<(StatusCode, Json<Team>)> {
    Ok((
        StatusCode::CREATED,
        Json(state.store.create_team(&actor, &form, &client).await?),
    ))
}

/// A team with its members.
#[derive(Serialize, ToSchema)]
pub struct TeamDetail {
    pub team: Team,
    pub members: Vec<TeamMember>,
}

#[utoipa::path(get, path = "/api/v1/teams/{id}", tag = "volunteers", params(("id" = i64, Path)),
    responses((status = 200, body = TeamDetail), (status = 404, body = crate::error::Problem)))]
pub async fn api_team(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<TeamDetail>> {
    let team = state.store.team(&actor, id).await?;
    let members = state.store.team_members(&actor, id).await?;
    Ok(Json(TeamDetail { team, members }))
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct MemberInput {
    pub volunteer_id: i64,
    #[serde(default)]
    pub leader: bool,
}

#[utoipa::path(post, path = "/api/v1/teams/{id}/members", tag = "volunteers", params(("id" = i64, Path)),
    request_body = MemberInput,
    responses((status = 200, body = [TeamMember]), (status = 422, body = crate::error::Problem)))]
pub async fn api_add_member(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Client(client): Client,
    Path(id): Path<i64>,
    Json(m): Json<MemberInput>,
) -> ApiResult<Json<Vec<TeamMember>>> {
    Ok(Json(
        state
            .store
            .add_team_member(&actor, id, m.volunteer_id, m.leader, &client)
            .await?,
    ))
}

#[utoipa::path(post, path = "/api/v1/teams/{id}/members/{volunteer}/leave", tag = "volunteers",
    params(("id" = i64, Path), ("volunteer" = i64, Path)),
    responses((status = 200, body = [TeamMember]), (status = 422, body = crate::error::Problem)))]
pub async fn api_remove_member(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Client(client): Client,
    Path((id, volunteer)): Path<(i64, i64)>,
) -> ApiResult<Json<Vec<TeamMember>>> {
    Ok(Json(
        state.store.remove_team_member(&actor, id, volunteer, &client).await?,
    ))
}

#[utoipa::path(post, path = "/api/v1/teams/{id}/dissolve", tag = "volunteers", params(("id" = i64, Path)),
    responses((status = 200, body = Team), (status = 422, body = crate::error::Problem)))]
pub async fn api_dissolve(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Client(client): Client,
    Path(id): Path<i64>,
) -> ApiResult<Json<Team>> {
    Ok(Json(state.store.dissolve_team(&actor, id, &client).await?))
}

// ---------------------------------------------------------------------------------------------
// Pages

#[derive(Template, WebTemplate)]
#[template(path = "volunteers/list.html")]
struct VolunteersPage {
    chrome: Chrome,
    node: Node,
    page: Page<Volunteer>,
    q: String,
    status: String,
    next_href: Option<String>,
}

async fn volunteers_page(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    Query(q): Query<VolunteerQuery>,
) -> Result<VolunteersPage, PageError> {
    let node = state.store.node(&user.actor, id).await?;
    let page = state
        .store
        .volunteers_under(&user.actor, id, &q.q, &q.status, q.cursor, 100)
        .await?;
    let next_href = export::next_href(
        &format!("/tree/{id}/volunteers"),
        &[("q", q.q.as_str()), ("status", q.status.as_str())],
        page.next_cursor.as_ref(),
    );
    Ok(VolunteersPage {
        chrome: user.chrome("tree"),
        node,
        page,
        q: q.q,
        status: q.status,
        next_href,
    })
}

async fn register(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    Form(mut f): Form<VolunteerForm>,
) -> Result<Redirect, PageError> {
    f.node_id = id.to_string();
    state.store.register_volunteer(&user.actor, &f, &user.client).await?;
    Ok(Redirect::to(&format!("/tree/{id}/volunteers")))
}

async fn volunteers_export(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    Query(q): Query<VolunteerQuery>,
) -> Result<Response, PageError> {
    let node = state.store.node(&user.actor, id).await?;
    let rows = export::all_pages(|c| state.store.volunteers_under(&user.actor, id, &q.q, &q.status, c, 500)).await?;
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|v| {
            vec![
                v.volunteer_no.clone(),
                v.person_name.clone(),
                v.node_name.clone(),
                v.skills.clone(),
                v.hours_text(),
                v.status_label().to_string(),
                v.consent_at.chars().take(10).collect(),
            ]
        })
        .collect();
    let headers = [
        "志愿者编号",
        "姓名",
        "登记社区",
        "特长",
        "服务时长（小时）",
        "状态",
        "同意日期",
    ];
    let bytes = export::workbook("志愿者", &headers, &[4], &cells)?;
    Ok(export::download(&format!("volunteers-{}.xlsx", node.code), bytes))
}

async fn leave(State(state): State<AppState>, user: CurrentUser, Path(id): Path<i64>) -> Result<Redirect, PageError> {
    let v = state.store.leave_volunteer(&user.actor, id, &user.client).await?;
    Ok(Redirect::to(&format!("/tree/{}/volunteers", v.node_id)))
}

#[derive(Template, WebTemplate)]
#[template(path = "volunteers/teams.html")]
struct TeamsPage {
    chrome: Chrome,
    node: Node,
    teams: Vec<Team>,
}

async fn teams_page(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<TeamsPage, PageError> {
    let node = state.store.node(&user.actor, id).await?;
    let teams = state.store.teams_under(&user.actor, id).await?;
    Ok(TeamsPage {
        chrome: user.chrome("tree"),
        node,
        teams,
    })
}

async fn create_team(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    Form(mut f): Form<TeamForm>,
) -> Result<Redirect, PageError> {
    f.node_id = id.to_string();
    let t = state.store.create_team(&user.actor, &f, &user.client).await?;
    Ok(Redirect::to(&format!("/teams/{}", t.id)))
}

#[derive(Template, WebTemplate)]
#[template(path = "volunteers/team.html")]
struct TeamPage {
    chrome: Chrome,
    team: Team,
    members: Vec<TeamMember>,
    activities: Vec<Activity>,
}

async fn team_page(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<TeamPage, PageError> {
    let team = state.store.team(&user.actor, id).await?;
    let members = state.store.team_members(&user.actor, id).await?;
    let activities = state
        .store
        .activities_under(&user.actor, team.node_id, "0000", "9999")
        .await?
        .into_iter()
        .filter(|a| a.team_id == Some(id))
        .collect();
    Ok(TeamPage {
        chrome: user.chrome("tree"),
        team,
        members,
        activities,
    })
}

#[derive(Deserialize)]
struct MemberValues {
    #[serde(default)]
    volunteer_id: String,
    #[serde(default)]
    leader: String,
}

async fn add_member(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    Form(f): Form<MemberValues>,
) -> Result<Redirect, PageError> {
    let vid = f
        .volunteer_id
        .trim()
        .parse::<i64>()
        .map_err(|_| StoreError::field("volunteer_id", "请填写志愿者编号（数字 ID）"))?;
    state
        .store
        .add_team_member(&user.actor, id, vid, ticked(&f.leader), &user.client)
        .await?;
    Ok(Redirect::to(&format!("/teams/{id}")))
}

async fn dissolve(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<Redirect, PageError> {
    state.store.dissolve_team(&user.actor, id, &user.client).await?;
    Ok(Redirect::to(&format!("/teams/{id}")))
}
