//! Liveness and readiness for load balancers.

use axum::extract::State;
use axum::http::StatusCode;

use crate::{AppState, Route, get};

pub fn routes() -> Vec<Route> {
    vec![get("/healthz", || async { "ok" }), get("/readyz", ready)]
}

/// Ready when the database answers.
async fn ready(State(state): State<AppState>) -> (StatusCode, &'static str) {
    match state.store.ping().await {
        Ok(()) => (StatusCode::OK, "ready"),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
        }
    }
}
