//! The HTTP face of Gongjian: server-rendered pages (askama + htmx), the JSON API under
//! `/api/v1` with its OpenAPI document, embedded assets and health checks.
//!
//! Each capability owns a module with its `router()`; [`app`] merges them in one place.
//! Handlers are thin: they parse input, call one use-case function of the store with the
//! request's [`Actor`](gongjian_domain::access::Actor), and render.

pub mod account;
pub mod accounts;
pub mod api;
pub mod assets;
pub mod audit;
pub mod auth;
pub mod dashboards;
pub mod error;
pub mod export;
pub mod health;
pub mod imports;
pub mod members;
pub mod party;
pub mod people;
pub mod points;
pub mod posts;
pub mod registrations;
pub mod stats;
pub mod tree;
pub mod ui;
pub mod units;
pub mod volunteers;

use std::sync::Arc;

use axum::Router;
use axum::handler::Handler;
use axum::http::Method;
use axum::http::{HeaderName, HeaderValue, header};
use axum::routing::MethodRouter;
use gongjian_store::Store;
use gongjian_store::accounts::SessionPolicy;
use tower_http::set_header::SetResponseHeaderLayer;

/// Settings of the web layer.
#[derive(Debug, Clone, Default)]
pub struct WebConfig {
    /// Mark cookies `Secure` (set when served behind TLS).
    pub secure_cookies: bool,
    pub session: SessionPolicy,
}

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub config: Arc<WebConfig>,
}

impl AppState {
    pub fn new(store: Store, config: WebConfig) -> AppState {
        AppState {
            store,
            config: Arc::new(config),
        }
    }
}

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; \
                   connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'";

/// One route: method, path template and handler. Every capability module lists its routes in
/// `routes()`; the router and [`route_table`] are built from the same lists, so a route cannot
/// exist without appearing in the table that the scope tests walk.
pub struct Route {
    pub method: Method,
    pub path: &'static str,
    service: MethodRouter<AppState>,
}

pub fn get<H: Handler<T, AppState>, T: 'static>(path: &'static str, handler: H) -> Route {
    Route {
        method: Method::GET,
        path,
        service: axum::routing::get(handler),
    }
}

pub fn post<H: Handler<T, AppState>, T: 'static>(path: &'static str, handler: H) -> Route {
    Route {
        method: Method::POST,
        path,
        service: axum::routing::post(handler),
    }
}

pub fn patch<H: Handler<T, AppState>, T: 'static>(path: &'static str, handler: H) -> Route {
    Route {
        method: Method::PATCH,
        path,
        service: axum::routing::patch(handler),
    }
}

/// Every capability's routes, in one place.
fn all_routes() -> Vec<Route> {
    [
        health::routes(),
        assets::routes(),
        auth::routes(),
        ui::routes(),
        tree::routes(),
        party::routes(),
        people::routes(),
        members::routes(),
        units::routes(),
        registrations::routes(),
        imports::routes(),
        posts::routes(),
        points::routes(),
        volunteers::routes(),
        stats::routes(),
        dashboards::routes(),
        account::routes(),
        accounts::routes(),
        audit::routes(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// The method and path template of every route the application serves (besides the static
/// API docs under `/api/docs/` and `/api/openapi.json`).
pub fn route_table() -> Vec<(Method, &'static str)> {
    all_routes().into_iter().map(|r| (r.method, r.path)).collect()
}

/// The whole application: every capability's routes, the API docs, then the cross-cutting
/// layers (session, CSRF, audit, security headers, compression, tracing).
pub fn app(state: AppState) -> Router {
    let mut routes = Router::new();
    for r in all_routes() {
        routes = routes.route(r.path, r.service);
    }
    let routes = routes.merge(api::router());
    routes
        // Layers run outside-in in the reverse of this order: session, then audit (so refused
        // CSRF attempts are recorded too), then CSRF, then the handler.
        .layer(axum::middleware::from_fn_with_state(state.clone(), auth::csrf_layer))
        .layer(axum::middleware::from_fn_with_state(state.clone(), audit::audit_layer))
        .layer(axum::middleware::from_fn_with_state(state.clone(), auth::session_layer))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            HeaderName::from_static("cross-origin-opener-policy"),
            HeaderValue::from_static("same-origin"),
        ))
        .layer(tower_http::compression::CompressionLayer::new())
        // Uploads (spreadsheet imports) may be up to 40 MiB; nothing else comes close.
        .layer(axum::extract::DefaultBodyLimit::max(41 * 1024 * 1024))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(41 * 1024 * 1024))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

/// Serves the application on a bound listener until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        app(state).into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
