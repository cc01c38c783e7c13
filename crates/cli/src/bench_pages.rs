//! The statistics part of `gongjian bench`: every available metric at four levels of the tree
//! (as the API computes it, with its breakdown by child nodes), and pages rendered through the
//! application's router in-process with a real session, as a browser would ask for them.

use anyhow::{Context, Result, bail};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use gongjian_domain::access::{Actor, Role};
use gongjian_store::Store;
use gongjian_store::sessions::LoginOutcome;
use gongjian_store::stats::{METRICS, Period};
use gongjian_store::tree::Node;
use gongjian_web::{AppState, WebConfig};
use tower::ServiceExt;

use crate::bench::{Sample, summary, timed};

/// For each node: the slowest metric's figures, then one row per metric and level.
pub async fn metrics(store: &Store, admin: &Actor, nodes: &[(&str, &Node)], runs: usize) -> Result<Vec<Sample>> {
    let period = Period::default();
    let mut worst: Vec<Sample> = Vec::new();
    let mut each: Vec<Sample> = Vec::new();
    for (label, node) in nodes {
        let mut slowest: Option<Sample> = None;
        for def in METRICS.iter().filter(|d| d.basis.is_some()) {
            let times = timed(runs, || async {
                Ok(store.metric_at(admin, def, node, &period, true).await?)
            })
            .await?;
            let s = summary(&format!("metric {} at the {label} {}", def.id, node.name), times);
            if slowest.as_ref().is_none_or(|w| s.p95 > w.p95) {
                slowest = Some(Sample {
                    name: format!("slowest metric at the {label} {} ({})", node.name, def.id),
                    median: s.median,
                    p95: s.p95,
                    runs: s.runs,
                });
            }
            each.push(s);
        }
        worst.extend(slowest);
    }
    worst.extend(each);
    Ok(worst)
}

/// The overview dashboards of the city, a street and a community, the city's trends, the
/// city's node page and a street's residents list, each a full request through the router.
pub async fn pages(store: &Store, city: &Node, street: &Node, community: &Node, runs: usize) -> Result<Vec<Sample>> {
    let (user, password) = ("benchdash", "Bench-dashboards-2026");
    if store
        .add_user(user, "基准测试看板", password, false, Role::OrgDepartment, None)
        .await
        .is_err()
    {
        // Present from an earlier run on the same database.
    }
    let token = match store.login(user, password, "127.0.0.1").await? {
        LoginOutcome::Success(s) => s.token,
        other => bail!("bench login failed: {other:?}"),
    };
    let app = gongjian_web::app(AppState::new(store.clone(), WebConfig::default()));
    let cookie = format!("{}={token}", gongjian_web::auth::SESSION_COOKIE);
    let get = |path: String| {
        let (app, cookie) = (app.clone(), cookie.clone());
        async move {
            let req = Request::get(&path).header("cookie", cookie).body(Body::empty())?;
            let resp = app.oneshot(req).await?;
            if resp.status() != StatusCode::OK {
                bail!("GET {path}: {}", resp.status());
            }
            let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
                .await
                .with_context(|| format!("GET {path}: body"))?;
            Ok(body.len())
        }
    };
    let mut out = Vec::new();
    for (name, path) in [
        ("page: city overview dashboard", format!("/tree/{}/dashboard", city.id)),
        (
            "page: street overview dashboard",
            format!("/tree/{}/dashboard", street.id),
        ),
        (
            "page: community overview dashboard",
            format!("/tree/{}/dashboard", community.id),
        ),
        (
            "page: city trends (12 months, 6 metrics)",
            format!("/tree/{}/dashboard/trends", city.id),
        ),
        ("page: city big screen panel", format!("/tree/{}/screen/panel", city.id)),
        ("page: city node with its districts", format!("/tree/{}", city.id)),
        (
            "page: street residents list (first 50)",
            format!("/tree/{}/residents", street.id),
        ),
    ] {
        let times = timed(runs, || get(path.clone())).await?;
        out.push(summary(name, times));
    }
    Ok(out)
}
