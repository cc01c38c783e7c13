//! The phone page where an in-service member registers at the residence community (扫码报到),
//! the member's own registrations, and the community's poster with the page's QR code.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Form, Json};
use gongjian_domain::Validation;
use gongjian_domain::members::MemberStatus;
use gongjian_domain::registration::Duty;
use gongjian_store::StoreError;
use gongjian_store::registrations::{Registration, RegistrationPlace, SelfRegistrationForm};
use gongjian_store::tree::Node;
use serde::Deserialize;

use crate::auth::{ApiUser, Client, CurrentUser};
use crate::error::{ApiResult, PageError};
use crate::ui::Chrome;
use crate::{AppState, Route, get, post};

pub fn routes() -> Vec<Route> {
    vec![
        get("/m/register", page),
        post("/m/register", submit),
        get("/m/registrations", mine),
        get("/tree/{id}/registration-poster", poster),
        post("/api/v1/registrations/self", api_self_register),
    ]
}

#[derive(Deserialize, Default)]
struct PlaceQuery {
    #[serde(default)]
    community: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "registrations/mobile.html")]
struct MobilePage {
    chrome: Chrome,
    code: String,
    place: Option<RegistrationPlace>,
    /// Why the place cannot be shown, when a code was given.
    problem: Option<&'static str>,
    duties: [Duty; 8],
    statuses: [MemberStatus; 2],
    form: SelfRegistrationForm,
    errors: Validation,
}

impl MobilePage {
    fn checked(&self, d: &Duty) -> bool {
        self.form.duties.iter().any(|x| x == d.key())
    }
}

async fn mobile_page(
    state: &AppState,
    user: &CurrentUser,
    form: SelfRegistrationForm,
    errors: Validation,
) -> Result<MobilePage, PageError> {
    let code = form.community.trim().to_string();
    let (place, problem) = if code.is_empty() {
        (None, None)
    } else {
        match state.store.registration_place(&user.actor, &code).await {
            Ok(p) => (Some(p), None),
            Err(StoreError::NotFound | StoreError::Forbidden) => {
                (None, Some("没有找到这个社区，或您的账户不能在此报到（需为党员账户）。"))
            }
            Err(e) => return Err(e.into()),
        }
    };
    Ok(MobilePage {
        chrome: user.chrome("mine"),
        code,
        place,
        problem,
        duties: Duty::ALL,
        statuses: MemberStatus::ALL,
        form,
        errors,
    })
}

async fn page(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(q): Query<PlaceQuery>,
) -> Result<MobilePage, PageError> {
    let form = SelfRegistrationForm {
        community: q.community,
        member_status: "full".into(),
        ..Default::default()
    };
    mobile_page(&state, &user, form, Validation::new()).await
}

fn form_from_pairs(pairs: Vec<(String, String)>) -> SelfRegistrationForm {
    let mut f = SelfRegistrationForm::default();
    for (k, v) in pairs {
        match k.as_str() {
            "name" => f.name = v,
            "id_number" => f.id_number = v,
            "mobile" => f.mobile = v,
            "community" => f.community = v,
            "grid_id" => f.grid_id = v.trim().parse().ok(),
            "employer" => f.employer = v,
            "member_status" => f.member_status = v,
            "joined_on" => f.joined_on = v,
            "skills" => f.skills = v,
            "duties" => f.duties.push(v),
            _ => {}
        }
    }
    f
}

async fn submit(
    State(state): State<AppState>,
    user: CurrentUser,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let form = form_from_pairs(pairs);
    match state.store.self_register(&user.actor, &form, &user.client).await {
        Ok(_) => Ok(Redirect::to("/m/registrations?notice=submitted").into_response()),
        Err(StoreError::Invalid(errors)) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            mobile_page(&state, &user, form, errors).await?,
        )
            .into_response()),
        Err(e) => Err(e.into()),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "registrations/mine.html")]
struct MinePage {
    chrome: Chrome,
    items: Vec<Registration>,
    notice: bool,
}

#[derive(Deserialize, Default)]
struct NoticeQuery {
    notice: Option<String>,
}

async fn mine(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(q): Query<NoticeQuery>,
) -> Result<MinePage, PageError> {
    Ok(MinePage {
        chrome: user.chrome("mine"),
        items: state.store.my_registrations(&user.actor).await?,
        notice: q.notice.is_some(),
    })
}

#[derive(Template, WebTemplate)]
#[template(path = "registrations/poster.html")]
struct PosterPage {
    chrome: Chrome,
    node: Node,
    url: String,
    qr: String,
}

/// A printable poster with the QR code of the community's registration page.
async fn poster(
    State(state): State<AppState>,
    user: CurrentUser,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<PosterPage, PageError> {
    let node = state.store.node(&user.actor, id).await?;
    if node.level != gongjian_domain::tree::Level::Community {
        return Err(PageError::NotFound);
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| h.chars().all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c)))
        .unwrap_or("127.0.0.1");
    let scheme = if state.config.secure_cookies { "https" } else { "http" };
    let url = format!("{scheme}://{host}/m/register?community={}", node.code);
    let qr = crate::ui::qr_svg(&url);
    Ok(PosterPage {
        chrome: user.chrome("tree"),
        node,
        url,
        qr,
    })
}

/// Registers the signed-in party member at a community, pending the community's confirmation.
#[utoipa::path(post, path = "/api/v1/registrations/self", tag = "registration", request_body = SelfRegistrationForm,
    responses((status = 201, body = Registration), (status = 422, body = crate::error::Problem)))]
pub async fn api_self_register(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Client(client): Client,
    Json(form): Json<SelfRegistrationForm>,
) -> ApiResult<(StatusCode, Json<Registration>)> {
    Ok((
        StatusCode::CREATED,
        Json(state.store.self_register(&actor, &form, &client).await?),
    ))
}
