//! Metrics from records: the `/api/v1/stats` API and a node's figures page.

use askama::Template;
use askama_web::WebTemplate;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use gongjian_domain::Validation;
use gongjian_store::stats::{METRICS, MetricInfo, MetricValue, Period, metric_list};
use gongjian_store::tree::Node;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::auth::{ApiUser, CurrentUser};
use crate::dashboards::PeriodQuery;
use crate::error::{ApiError, ApiResult, PageError};
use crate::ui::Chrome;
use crate::{AppState, Route, get};

pub fn routes() -> Vec<Route> {
    vec![
        get("/api/v1/stats", api_list),
        get("/api/v1/stats/{metric}", api_metric),
        get("/tree/{id}/stats", page),
    ]
}

/// Every metric of the seed reports, with whether it is computed from records yet.
#[utoipa::path(get, path = "/api/v1/stats", tag = "stats", responses((status = 200, body = Vec<MetricInfo>)))]
pub async fn api_list(_user: ApiUser) -> Json<Vec<MetricInfo>> {
    Json(metric_list())
}

#[derive(Deserialize, IntoParams)]
pub struct MetricQuery {
    /// Code of the node (division or grid code).
    node: String,
    /// Start of the period (`YYYY-MM-DD`), for flows (e.g. workers hired in the period).
    from: Option<String>,
    /// End of the period (`YYYY-MM-DD`, default today): stocks are read as of this day.
    to: Option<String>,
}

/// One metric for a node's subtree and a period: the value, numerator and denominator for
/// ratios, minimum, mean and the nodes below target for per-node figures, and the same for each
/// child node (`breakdown`) — or `available: false`. Invalid dates answer 422 naming the field.
#[utoipa::path(get, path = "/api/v1/stats/{metric}", tag = "stats", params(("metric" = String, Path), MetricQuery),
    responses((status = 200, body = MetricValue), (status = 404, body = crate::error::Problem)))]
pub async fn api_metric(
    State(state): State<AppState>,
    ApiUser(actor): ApiUser,
    Path(metric): Path<String>,
    Query(q): Query<MetricQuery>,
) -> ApiResult<Json<MetricValue>> {
    if q.node.trim().is_empty() {
        return Err(ApiError::BadRequest("请用 node 参数给出节点代码".into()));
    }
    let period = Period::parse(q.from.as_deref(), q.to.as_deref()).map_err(gongjian_store::StoreError::Invalid)?;
    Ok(Json(state.store.metric(&actor, &metric, &q.node, &period).await?))
}

#[derive(Template, WebTemplate)]
#[template(path = "stats/node.html")]
struct NodeStats {
    chrome: Chrome,
    node: Node,
    values: Vec<MetricValue>,
    unavailable: Vec<MetricInfo>,
    from: String,
    to: String,
    errors: Validation,
}

/// Every available metric for a node and a period (`?from=&to=`, default: everything up to
/// today); a malformed period is shown beside its field and today's figures are shown.
async fn page(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    Query(q): Query<PeriodQuery>,
) -> Result<(StatusCode, NodeStats), PageError> {
    let node = state.store.node(&user.actor, id).await?;
    let (period, errors) = q.period();
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let unavailable: Vec<MetricInfo> = metric_list().into_iter().filter(|m| !m.available).collect();
    let mut values = Vec::new();
    for def in METRICS.iter().filter(|d| d.basis.is_some()) {
        // A figure the viewer may not see (residents, for an auditor) is left out, not zero.
        if let Ok(v) = state.store.metric_at(&user.actor, def, &node, &period, false).await {
            values.push(v);
        }
    }
    Ok((
        status,
        NodeStats {
            chrome: user.chrome("tree"),
            node,
            values,
            unavailable,
            from: q.from.trim().to_string(),
            to: q.to.trim().to_string(),
            errors,
        },
    ))
}
