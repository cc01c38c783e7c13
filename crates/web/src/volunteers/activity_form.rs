//! The activity form: publishing an activity under a node and editing it. A refused form is
//! shown again with what was typed and each error beside its field (422).

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::TimeDelta;
use gongjian_domain::Validation;
use gongjian_domain::volunteers::activities::{ActivityForm, ActivityKind, local_input};
use gongjian_store::StoreError;
use gongjian_store::points::Scheme;
use gongjian_store::tree::Node;
use gongjian_store::volunteers::{Activity, Team};

use crate::auth::CurrentUser;
use crate::error::PageError;
use crate::ui::{Chrome, field_class};
use crate::{AppState, Route, get, post};

pub(super) fn routes() -> Vec<Route> {
    vec![
        get("/tree/{id}/activities/new", new_page),
        post("/tree/{id}/activities", create),
        get("/activities/{id}/edit", edit_page),
        post("/activities/{id}/edit", edit),
    ]
}

#[derive(Template, WebTemplate)]
#[template(path = "volunteers/activity_form.html")]
struct FormPage {
    chrome: Chrome,
    node: Node,
    kinds: [ActivityKind; 5],
    schemes: Vec<Scheme>,
    teams: Vec<Team>,
    form: ActivityForm,
    errors: Validation,
    /// Where the form is sent.
    action: String,
    editing: bool,
}

impl FormPage {
    fn class(&self, field: &str) -> &'static str {
        field_class(&self.errors, field)
    }
}

async fn page(
    state: &AppState,
    user: &CurrentUser,
    node: Node,
    form: ActivityForm,
    errors: Validation,
    action: String,
    editing: bool,
) -> Result<FormPage, PageError> {
    let schemes = state
        .store
        .schemes(&user.actor)
        .await?
        .into_iter()
        .filter(|s| node.path.starts_with(&s.node_path))
        .collect();
    let teams = state
        .store
        .teams_under(&user.actor, node.id)
        .await?
        .into_iter()
        .filter(|t| t.status == "active")
        .collect();
    Ok(FormPage {
        chrome: user.chrome("tree"),
        node,
        kinds: ActivityKind::ALL,
        schemes,
        teams,
        form,
        errors,
        action,
        editing,
    })
}

async fn new_page(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<FormPage, PageError> {
    let node = state.store.node(&user.actor, id).await?;
    let start = state.store.now() + TimeDelta::days(1);
    let form = ActivityForm {
        kind: ActivityKind::Volunteer.key().into(),
        starts_at: local_input(&start),
        ends_at: local_input(&(start + TimeDelta::hours(2))),
        capacity: "20".into(),
        points_per_hour: "0".into(),
        ..ActivityForm::default()
    };
    let action = format!("/tree/{id}/activities");
    page(&state, &user, node, form, Validation::new(), action, false).await
}

/// The form again with its errors, or the error page for anything else.
async fn refused(
    state: &AppState,
    user: &CurrentUser,
    node: Node,
    form: ActivityForm,
    e: StoreError,
    action: String,
    editing: bool,
) -> Result<Response, PageError> {
    match e {
        StoreError::Invalid(v) => {
            let p = page(state, user, node, form, v, action, editing).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, p).into_response())
        }
        e => Err(e.into()),
    }
}

async fn create(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    Form(f): Form<ActivityForm>,
) -> Result<Response, PageError> {
    match state.store.create_activity(&user.actor, id, &f, &user.client).await {
        Ok(a) => Ok(Redirect::to(&format!("/activities/{}", a.id)).into_response()),
        Err(e) => {
            let node = state.store.node(&user.actor, id).await?;
            refused(&state, &user, node, f, e, format!("/tree/{id}/activities"), false).await
        }
    }
}

fn form_of(a: &Activity) -> ActivityForm {
    let local = |s: &str| local_input(&gongjian_store::volunteers::instant(s));
    ActivityForm {
        title: a.title.clone(),
        kind: a.kind.clone(),
        team_id: a.team_id.map(|t| t.to_string()).unwrap_or_default(),
        campaign_id: a.campaign_id.map(|c| c.to_string()).unwrap_or_default(),
        place: a.place.clone(),
        content: a.content.clone(),
        starts_at: local(&a.starts_at),
        ends_at: local(&a.ends_at),
        capacity: a.capacity.to_string(),
        signup_opens_at: local(&a.signup_opens_at),
        signup_closes_at: local(&a.signup_closes_at),
        organiser_name: a.organiser_name.clone(),
        scheme_id: a.scheme_id.map(|s| s.to_string()).unwrap_or_default(),
        points_per_hour: a.points_per_hour.to_string(),
    }
}

async fn edit_page(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<FormPage, PageError> {
    let a = state.store.activity(&user.actor, id).await?;
    if !state.store.may_manage_activity(&user.actor, &a).await {
        return Err(StoreError::Forbidden.into());
    }
    let node = state.store.node(&user.actor, a.node_id).await?;
    page(
        &state,
        &user,
        node,
        form_of(&a),
        Validation::new(),
        format!("/activities/{id}/edit"),
        true,
    )
    .await
}

async fn edit(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    Form(f): Form<ActivityForm>,
) -> Result<Response, PageError> {
    match state.store.update_activity(&user.actor, id, &f, &user.client).await {
        Ok(a) => Ok(Redirect::to(&format!("/activities/{}", a.id)).into_response()),
        Err(e) => {
            let a = state.store.activity(&user.actor, id).await?;
            let node = state.store.node(&user.actor, a.node_id).await?;
            refused(&state, &user, node, f, e, format!("/activities/{id}/edit"), true).await
        }
    }
}
