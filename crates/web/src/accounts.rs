//! Account management for those who may grant roles: list, create, grant, revoke, disable,
//! reset password. Who may do what is decided by the store (`may_grant`), not here.

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use gongjian_domain::Validation;
use gongjian_domain::access::Role;
use gongjian_store::accounts::{NewAccount, UserSummary};
use gongjian_store::{Page, StoreError};
use serde::Deserialize;

use crate::auth::CurrentUser;
use crate::error::PageError;
use crate::ui::Chrome;
use crate::{AppState, Route, get, post};

pub fn routes() -> Vec<Route> {
    vec![
        get("/admin/users", list),
        get("/admin/users/new", new_page),
        post("/admin/users/new", create),
        get("/admin/users/{id}", detail),
        post("/admin/users/{id}/grants", grant),
        post("/admin/users/{id}/grants/{grant}/revoke", revoke),
        post("/admin/users/{id}/status", status),
        post("/admin/users/{id}/password", reset_password),
    ]
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/users.html")]
struct ListPage {
    chrome: Chrome,
    q: String,
    page: Page<UserSummary>,
    next_href: Option<String>,
}

#[derive(Deserialize, Default)]
struct ListQuery {
    #[serde(default)]
    q: String,
    cursor: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(q): Query<ListQuery>,
) -> Result<ListPage, PageError> {
    let page = state
        .store
        .users_page(&user.actor, &q.q, q.cursor.as_deref(), 50)
        .await?;
    let next_href = page.next_cursor.as_ref().map(|c| {
        let query = serde_urlencoded::to_string([("q", q.q.as_str()), ("cursor", c.as_str())]).unwrap_or_default();
        format!("/admin/users?{query}")
    });
    Ok(ListPage {
        chrome: user.chrome("users"),
        q: q.q,
        page,
        next_href,
    })
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/user_new.html")]
struct NewPage {
    chrome: Chrome,
    form: AccountForm,
    roles: Vec<Role>,
    errors: Validation,
    created: Option<(String, String)>,
}

#[derive(Deserialize, Default, Clone)]
struct AccountForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    node_code: String,
}

fn grantable(user: &CurrentUser) -> Vec<Role> {
    Role::ALL
        .into_iter()
        .filter(|r| user.actor.grants.iter().any(|g| g.role.may_grant(*r)))
        .collect()
}

async fn new_page(user: CurrentUser) -> NewPage {
    let roles = grantable(&user);
    NewPage {
        chrome: user.chrome("users"),
        form: AccountForm::default(),
        roles,
        errors: Validation::new(),
        created: None,
    }
}

async fn create(
    State(state): State<AppState>,
    user: CurrentUser,
    Form(form): Form<AccountForm>,
) -> Result<Response, PageError> {
    let input = NewAccount {
        username: form.username.clone(),
        display_name: form.display_name.clone(),
        role: form.role.clone(),
        node_code: form.node_code.clone(),
    };
    let roles = grantable(&user);
    match state.store.create_account(&user.actor, &input, &user.client).await {
        Ok((summary, password)) => Ok(NewPage {
            chrome: user.chrome("users"),
            form: AccountForm::default(),
            roles,
            errors: Validation::new(),
            created: Some((summary.user.username, password)),
        }
        .into_response()),
        Err(StoreError::Invalid(errors)) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            NewPage {
                chrome: user.chrome("users"),
                form,
                roles,
                errors,
                created: None,
            },
        )
            .into_response()),
        Err(e) => Err(e.into()),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/user.html")]
struct DetailPage {
    chrome: Chrome,
    target: UserSummary,
    roles: Vec<Role>,
    errors: Validation,
    notice: Option<String>,
}

async fn render_detail(
    state: &AppState,
    user: &CurrentUser,
    id: i64,
    errors: Validation,
    notice: Option<String>,
) -> Result<DetailPage, PageError> {
    let target = state.store.user_summary(&user.actor, id).await?;
    Ok(DetailPage {
        chrome: user.chrome("users"),
        target,
        roles: grantable(user),
        errors,
        notice,
    })
}

async fn detail(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<DetailPage, PageError> {
    render_detail(&state, &user, id, Validation::new(), None).await
}

#[derive(Deserialize)]
struct GrantForm {
    #[serde(default)]
    role: String,
    #[serde(default)]
    node_code: String,
}

async fn grant(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    Form(form): Form<GrantForm>,
) -> Result<Response, PageError> {
    match state
        .store
        .grant_role(&user.actor, id, &form.role, &form.node_code, &user.client)
        .await
    {
        Ok(()) => Ok(Redirect::to(&format!("/admin/users/{id}")).into_response()),
        Err(StoreError::Invalid(errors)) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            render_detail(&state, &user, id, errors, None).await?,
        )
            .into_response()),
        Err(e) => Err(e.into()),
    }
}

async fn revoke(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((id, grant)): Path<(i64, i64)>,
) -> Result<Redirect, PageError> {
    state.store.revoke_grant(&user.actor, grant, &user.client).await?;
    Ok(Redirect::to(&format!("/admin/users/{id}")))
}

#[derive(Deserialize)]
struct StatusForm {
    #[serde(default)]
    active: String,
}

async fn status(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    Form(form): Form<StatusForm>,
) -> Result<Redirect, PageError> {
    state
        .store
        .set_user_status(&user.actor, id, form.active == "1", &user.client)
        .await?;
    Ok(Redirect::to(&format!("/admin/users/{id}")))
}

async fn reset_password(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<DetailPage, PageError> {
    let password = state.store.reset_password_for(&user.actor, id, &user.client).await?;
    render_detail(
        &state,
        &user,
        id,
        Validation::new(),
        Some(format!("新的一次性密码：{password}（对方登录后须修改）")),
    )
    .await
}
