//! Attendance and hours: the staff batch confirmation of who was present, the organiser's
//! confirmation that writes the service records and issues the points, manual records waiting
//! for a second person's confirmation, and corrections — as API and pages.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Redirect;
use axum::{Form, Json};
use gongjian_domain::volunteers::attendance::{CorrectionForm, ManualForm};
use gongjian_store::tree::Node;
use gongjian_store::volunteers::{Activity, AttendanceOutcome, BatchAttendance, ManualRecord, ServiceRecord, Signup};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::{ApiUser, Client, CurrentUser};
use crate::error::{ApiResult, PageError};
use crate::ui::Chrome;
use crate::{AppState, Route, get, post};

pub(super) fn routes() -> Vec<Route> {
    vec![
        post("/api/v1/activities/{id}/presence", api_presence),
        post("/api/v1/activities/{id}/attendance", api_confirm),
        get("/api/v1/activities/{id}/records", api_activity_records),
        get("/api/v1/people/{id}/service-records", api_person_records),
        get("/api/v1/service-records/{id}", api_record),
        post("/api/v1/service-records/{id}/corrections", api_correct),
        post("/api/v1/service-records/{id}/points", api_points),
        post("/api/v1/service-records/manual", api_manual),
        get("/api/v1/nodes/{id}/service-records/manual", api_pending),
        post("/api/v1/service-records/manual/{id}/decision", api_decide),
        get("/activities/{id}/attendance", attendance_page),
        post("/activities/{id}/presence", presence),
        post("/activities/{id}/attendance", confirm),
        post("/service-records/{id}/corrections", correct),
        get("/tree/{id}/service-records/manual", manual_page),
        post("/tree/{id}/service-records/manual", enter_manual),
        post("/service-records/manual/{id}/decision", decide),
    ]
}

#[utoipa::path(post, path = "/api/v1/activities/{id}/presence", tag = "volunteers", params(("id" = i64, Path)),
    request_body = BatchAttendance,
    responses((status = 200, body = [Signup]), (status = 422, body = crate::error::Problem)))]
pub async fn api_presence(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Client(client): Client,
    Path(id): Path<i64>,
    Json(b): Json<BatchAttendance>,
) -> ApiResult<Json<Vec<Signup>>> {
    Ok(Json(state.store.confirm_presence(&actor, id, &b, &client).await?))
}

#[utoipa::path(post, path = "/api/v1/activities/{id}/attendance", tag = "volunteers", params(("id" = i64, Path)),
    responses((status = 200, body = AttendanceOutcome), (status = 403, body = crate::error::Problem),
        (status = 422, body = crate::error::Problem)))]
pub async fn api_confirm(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Client(client): Client,
    Path(id): Path<i64>,
) -> ApiResult<Json<AttendanceOutcome>> {
    Ok(Json(state.store.confirm_attendance(&actor, id, &client).await?))
}

#[utoipa::path(get, path = "/api/v1/activities/{id}/records", tag = "volunteers", params(("id" = i64, Path)),
    responses((status = 200, body = [ServiceRecord]), (status = 404, body = crate::error::Problem)))]
pub async fn api_activity_records(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<Vec<ServiceRecord>>> {
    Ok(Json(state.store.records_of_activity(&actor, id).await?))
}

/// A person's service records and total minutes (corrections applied).
#[derive(Serialize, ToSchema)]
pub struct PersonRecords {
    pub records: Vec<ServiceRecord>,
    pub minutes: i64,
}

#[utoipa::path(get, path = "/api/v1/people/{id}/service-records", tag = "volunteers", params(("id" = i64, Path)),
    responses((status = 200, body = PersonRecords), (status = 404, body = crate::error::Problem)))]
pub async fn api_person_records(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<PersonRecords>> {
    let (records, minutes) = state.store.records_of_person(&actor, id).await?;
    Ok(Json(PersonRecords { records, minutes }))
}

#[utoipa::path(get, path = "/api/v1/service-records/{id}", tag = "volunteers", params(("id" = i64, Path)),
    responses((status = 200, body = ServiceRecord), (status = 404, body = crate::error::Problem)))]
pub async fn api_record(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<ServiceRecord>> {
    Ok(Json(state.store.service_record(&actor, id).await?))
}

/// A correction (documentation of the body).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct CorrectionBody {
    /// The right hours; 0 when the service did not happen.
    hours: String,
    reason: String,
}

#[utoipa::path(post, path = "/api/v1/service-records/{id}/corrections", tag = "volunteers", params(("id" = i64, Path)),
    request_body = CorrectionBody,
    responses((status = 201, body = ServiceRecord), (status = 422, body = crate::error::Problem)))]
pub async fn api_correct(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Client(client): Client,
    Path(id): Path<i64>,
    Json(f): Json<CorrectionForm>,
) -> ApiResult<(StatusCode, Json<ServiceRecord>)> {
    Ok((
        StatusCode::CREATED,
        Json(state.store.correct_record(&actor, id, &f, &client).await?),
    ))
}

/// The points transaction of a record, if its activity gives points.
#[derive(Serialize, ToSchema)]
pub struct RecordPoints {
    pub points_tx_id: Option<i64>,
}

#[utoipa::path(post, path = "/api/v1/service-records/{id}/points", tag = "volunteers", params(("id" = i64, Path)),
    responses((status = 200, body = RecordPoints), (status = 422, body = crate::error::Problem)))]
pub async fn api_points(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Client(client): Client,
    Path(id): Path<i64>,
) -> ApiResult<Json<RecordPoints>> {
    let points_tx_id = state.store.credit_record_points(&actor, id, &client).await?;
    Ok(Json(RecordPoints { points_tx_id }))
}

/// A manual record (documentation of the body).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ManualBody {
    person_id: i64,
    node_id: Option<i64>,
    activity_id: Option<i64>,
    /// `YYYY-MM-DD`.
    served_on: String,
    hours: String,
    content: String,
    place: String,
    organiser_name: String,
    /// Why there was no check-in.
    reason: String,
}

#[utoipa::path(post, path = "/api/v1/service-records/manual", tag = "volunteers", request_body = ManualBody,
    responses((status = 201, body = ManualRecord), (status = 422, body = crate::error::Problem)))]
pub async fn api_manual(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Client(client): Client,
    Json(f): Json<ManualForm>,
) -> ApiResult<(StatusCode, Json<ManualRecord>)> {
    Ok((
        StatusCode::CREATED,
        Json(state.store.enter_manual_record(&actor, &f, &client).await?),
    ))
}

#[utoipa::path(get, path = "/api/v1/nodes/{id}/service-records/manual", tag = "volunteers", params(("id" = i64, Path)),
    responses((status = 200, body = [ManualRecord]), (status = 404, body = crate::error::Problem)))]
pub async fn api_pending(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<Vec<ManualRecord>>> {
    Ok(Json(state.store.pending_manual_records(&actor, id).await?))
}

/// A decision on a manual record.
#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
pub struct DecisionInput {
    /// `confirm` or `reject`.
    #[serde(default)]
    pub decision: String,
    /// Required when rejecting.
    #[serde(default)]
    pub note: String,
}

#[utoipa::path(post, path = "/api/v1/service-records/manual/{id}/decision", tag = "volunteers", params(("id" = i64, Path)),
    request_body = DecisionInput,
    responses((status = 200, body = ManualRecord), (status = 422, body = crate::error::Problem)))]
pub async fn api_decide(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Client(client): Client,
    Path(id): Path<i64>,
    Json(d): Json<DecisionInput>,
) -> ApiResult<Json<ManualRecord>> {
    Ok(Json(decide_with(&state, &actor, id, &d, &client).await?))
}

async fn decide_with(
    state: &AppState,
    actor: &gongjian_domain::access::Actor,
    id: i64,
    d: &DecisionInput,
    client: &str,
) -> Result<ManualRecord, gongjian_store::StoreError> {
    let approve = match d.decision.trim() {
        "confirm" => true,
        "reject" => false,
        _ => {
            return Err(gongjian_store::StoreError::field(
                "decision",
                "应为 confirm（确认）或 reject（不予确认）",
            ));
        }
    };
    state
        .store
        .decide_manual_record(actor, id, approve, &d.note, client)
        .await
}

// ---------------------------------------------------------------------------------------------
// Pages

#[derive(Template, WebTemplate)]
#[template(path = "volunteers/attendance.html")]
struct AttendancePage {
    chrome: Chrome,
    activity: Activity,
    signups: Vec<Signup>,
    organiser: bool,
}

async fn attendance_page(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<AttendancePage, PageError> {
    let activity = state.store.activity(&user.actor, id).await?;
    if !state.store.may_manage_activity(&user.actor, &activity).await {
        return Err(gongjian_store::StoreError::Forbidden.into());
    }
    let signups = state
        .store
        .signups(&user.actor, id)
        .await?
        .into_iter()
        .filter(|s| s.status == "confirmed")
        .collect();
    let organiser = activity.organiser_id == user.actor.user_id;
    Ok(AttendancePage {
        chrome: user.chrome("tree"),
        activity,
        signups,
        organiser,
    })
}

async fn presence(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Redirect, PageError> {
    let present = pairs
        .iter()
        .filter(|(k, _)| k == "present")
        .map(|(_, v)| {
            v.trim()
                .parse::<i64>()
                .map_err(|_| gongjian_store::StoreError::field("present", "请勾选已报名的人员"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    state
        .store
        .confirm_presence(&user.actor, id, &BatchAttendance { present }, &user.client)
        .await?;
    Ok(Redirect::to(&format!("/activities/{id}/attendance")))
}

async fn confirm(State(state): State<AppState>, user: CurrentUser, Path(id): Path<i64>) -> Result<Redirect, PageError> {
    state.store.confirm_attendance(&user.actor, id, &user.client).await?;
    Ok(Redirect::to(&format!("/activities/{id}")))
}

async fn correct(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    Form(f): Form<CorrectionForm>,
) -> Result<Redirect, PageError> {
    let r = state.store.correct_record(&user.actor, id, &f, &user.client).await?;
    Ok(Redirect::to(&match r.activity_id {
        Some(a) => format!("/activities/{a}"),
        None => format!("/tree/{}/service-records/manual", r.node_id),
    }))
}

#[derive(Template, WebTemplate)]
#[template(path = "volunteers/manual.html")]
struct ManualPage {
    chrome: Chrome,
    node: Node,
    pending: Vec<ManualRecord>,
    me: i64,
}

async fn manual_page(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<ManualPage, PageError> {
    let node = state.store.node(&user.actor, id).await?;
    let pending = state.store.pending_manual_records(&user.actor, id).await?;
    Ok(ManualPage {
        chrome: user.chrome("tree"),
        node,
        pending,
        me: user.actor.user_id,
    })
}

async fn enter_manual(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    Form(mut f): Form<ManualForm>,
) -> Result<Redirect, PageError> {
    if f.activity_id.trim().is_empty() {
        f.node_id = id.to_string();
    }
    state.store.enter_manual_record(&user.actor, &f, &user.client).await?;
    Ok(Redirect::to(&format!("/tree/{id}/service-records/manual")))
}

async fn decide(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    Form(d): Form<DecisionInput>,
) -> Result<Redirect, PageError> {
    let m = decide_with(&state, &user.actor, id, &d, &user.client).await?;
    Ok(Redirect::to(&format!("/tree/{}/service-records/manual", m.node_id)))
}
