//! The console's frame (menu, scope search, user) and the pages that belong to no single
//! capability: the home redirect and the node search used by the scope switcher.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use gongjian_domain::access::{Right, Scope};
use gongjian_store::tree::Node;
use serde::Deserialize;

use crate::auth::CurrentUser;
use crate::error::PageError;
use crate::{AppState, Route, get};

/// What the frame of every console page shows.
#[derive(Debug, Clone)]
pub struct Chrome {
    pub display_name: String,
    pub username: String,
    pub csrf_token: String,
    /// The menu entry to highlight.
    pub active: &'static str,
    /// Effective rights for showing menu entries (the store enforces them again).
    pub manages_accounts: bool,
    pub reads_audit: bool,
    /// Holds the party-member role: may register at a residence community (双报到).
    pub registers_self: bool,
    /// Reads residents somewhere: may search people.
    pub reads_people: bool,
}

impl Chrome {
    pub fn new(user: &CurrentUser, active: &'static str) -> Chrome {
        Chrome {
            display_name: user.display_name.clone(),
            username: user.actor.username.clone(),
            csrf_token: user.csrf_token.clone(),
            active,
            manages_accounts: user.actor.grants.iter().any(|g| g.role.manages_accounts()),
            reads_audit: user.actor.scope(Right::ReadAudit) != Scope::Paths(Vec::new()),
            registers_self: !user.actor.scope(Right::RegisterSelf).is_none(),
            reads_people: !user.actor.scope(Right::ReadPeople).is_none(),
        }
    }

    pub fn is(&self, key: &str) -> bool {
        self.active == key
    }
}

/// `text` as an inline SVG QR code (empty when it cannot be encoded).
pub fn qr_svg(text: &str) -> String {
    match qrcode::QrCode::new(text.as_bytes()) {
        Ok(code) => code
            .render::<qrcode::render::svg::Color>()
            .min_dimensions(200, 200)
            .build(),
        Err(_) => String::new(),
    }
}

/// The CSS class of a form field: marked invalid when `errors` has a message for it.
pub fn field_class(errors: &gongjian_domain::Validation, field: &str) -> &'static str {
    if errors.message_for(field).is_some() {
        "field invalid"
    } else {
        "field"
    }
}

pub fn routes() -> Vec<Route> {
    vec![get("/", home), get("/search", search)]
}

/// The console starts at the top of the viewer's scope.
async fn home(State(state): State<AppState>, user: CurrentUser) -> Result<Response, PageError> {
    let roots = state.store.roots(&user.actor).await?;
    Ok(match roots.as_slice() {
        [only] => Redirect::to(&format!("/tree/{}", only.id)).into_response(),
        _ => Redirect::to("/tree").into_response(),
    })
}

#[derive(Deserialize)]
struct SearchQuery {
    #[serde(default)]
    q: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "search_results.html")]
struct SearchResults {
    q: String,
    items: Vec<Node>,
}

/// Suggestions for the scope search box: nodes by name or code prefix, within scope.
async fn search(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(q): Query<SearchQuery>,
) -> Result<SearchResults, PageError> {
    let q = q.q.trim().to_string();
    if q.is_empty() {
        return Ok(SearchResults { q, items: Vec::new() });
    }
    let page = state.store.search_nodes(&user.actor, &q, None, None, 12).await?;
    Ok(SearchResults { q, items: page.items })
}
