//! Appointing people to posts at a node or in its party organisations, and ending terms.

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use gongjian_domain::Validation;
use gongjian_domain::posts::PostKind;
use gongjian_store::StoreError;
use gongjian_store::party::PartyOrg;
use gongjian_store::people::Person;
use gongjian_store::posts::PostInput;
use gongjian_store::tree::Node;
use serde::Deserialize;

use crate::auth::CurrentUser;
use crate::error::PageError;
use crate::ui::Chrome;
use crate::{AppState, Route, export, get, post};

pub fn routes() -> Vec<Route> {
    vec![
        get("/tree/{id}/posts/new", new_page),
        get("/tree/{id}/posts/export", export_posts),
        post("/tree/{id}/posts/new", create),
        post("/posts/{id}/end", end),
    ]
}

#[derive(Template, WebTemplate)]
#[template(path = "posts/form.html")]
struct FormPage {
    chrome: Chrome,
    node: Node,
    kinds: Vec<PostKind>,
    orgs: Vec<PartyOrg>,
    people: Vec<Person>,
    form: PostForm,
    errors: Validation,
}

#[derive(Deserialize, Default, Clone)]
struct PostForm {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    person_id: String,
    #[serde(default)]
    org_id: String,
    #[serde(default)]
    grade: String,
    #[serde(default)]
    started_on: String,
}

async fn render(
    state: &AppState,
    user: &CurrentUser,
    id: i64,
    form: PostForm,
    errors: Validation,
) -> Result<FormPage, PageError> {
    let node = state.store.node(&user.actor, id).await?;
    let orgs = state.store.party_orgs_at(&user.actor, id).await?;
    let kinds = PostKind::ALL
        .into_iter()
        .filter(|k| {
            if k.in_party_org() {
                !orgs.is_empty()
            } else {
                k.node_levels().contains(&node.level)
            }
        })
        .collect();
    let people = state
        .store
        .people_under(&user.actor, id, "", None, 500)
        .await
        .map(|p| p.items)
        .unwrap_or_default();
    Ok(FormPage {
        chrome: user.chrome("tree"),
        node,
        kinds,
        orgs,
        people,
        form,
        errors,
    })
}

async fn new_page(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<FormPage, PageError> {
    render(&state, &user, id, PostForm::default(), Validation::new()).await
}

async fn create(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    Form(form): Form<PostForm>,
) -> Result<Response, PageError> {
    let kind = PostKind::from_key(form.kind.trim());
    let input = PostInput {
        person_id: form.person_id.trim().parse().ok(),
        kind: form.kind.clone(),
        node_id: kind.filter(|k| !k.in_party_org()).map(|_| id),
        org_id: form.org_id.trim().parse().ok(),
        grade: Some(form.grade.clone()),
        started_on: Some(form.started_on.clone()),
    };
    match state.store.assign_post(&user.actor, &input, &user.client).await {
        Ok(_) => Ok(Redirect::to(&format!("/tree/{id}?notice=saved")).into_response()),
        Err(StoreError::Invalid(errors)) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            render(&state, &user, id, form, errors).await?,
        )
            .into_response()),
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
struct EndForm {
    #[serde(default)]
    ended_on: String,
    #[serde(default)]
    back: i64,
}

async fn end(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    Form(form): Form<EndForm>,
) -> Result<Response, PageError> {
    let ended = Some(form.ended_on.as_str()).filter(|s| !s.trim().is_empty());
    match state.store.end_post(&user.actor, id, ended, &user.client).await {
        Ok(_) => Ok(Redirect::to(&format!("/tree/{}?notice=saved", form.back)).into_response()),
        Err(StoreError::Invalid(v)) => Err(PageError::BadRequest(v.to_string())),
        Err(e) => Err(e.into()),
    }
}

/// The current posts at a node and in its party organisations, as on the node's page.
async fn export_posts(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let node = state.store.node(&user.actor, id).await?;
    let cells: Vec<Vec<String>> = state
        .store
        .posts_at(&user.actor, id)
        .await?
        .iter()
        .map(|p| {
            vec![
                p.kind_label().to_string(),
                p.person_name.clone(),
                p.place.clone(),
                p.grade.clone().unwrap_or_default(),
                p.started_on.clone(),
            ]
        })
        .collect();
    let bytes = export::workbook("任职", &["职务", "姓名", "所在", "等级", "任职日期"], &[], &cells)?;
    Ok(export::download(&format!("posts-{}.xlsx", node.code), bytes))
}
