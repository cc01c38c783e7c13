//! `gongjian bench`: times the platform's hot paths on a full-scale demo city and prints
//! medians and 95th percentiles next to the engine's own baseline measured in the same run.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use gongjian_domain::access::{Actor, Grant, Reach, Role};
use gongjian_store::Store;
use gongjian_store::demo::{DemoCity, Scale};

pub struct Sample {
    pub name: String,
    pub median: Duration,
    pub p95: Duration,
    pub runs: usize,
}

fn summarise(name: &str, mut times: Vec<Duration>) -> Sample {
    times.sort();
    let at = |q: f64| times[((times.len() as f64 - 1.0) * q).round() as usize];
    Sample {
        name: name.to_string(),
        median: at(0.5),
        p95: at(0.95),
        runs: times.len(),
    }
}

async fn time<F, Fut, T>(runs: usize, mut f: F) -> Result<Vec<Duration>>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    // One warm-up run fills caches, as a running server's would be.
    f().await?;
    let mut out = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        f().await?;
        out.push(t.elapsed());
    }
    Ok(out)
}

fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1000.0)
}

/// Runs the benchmark on `store`, loading the full Foshan demo when it is not there.
pub async fn run(store: &Store, runs: usize) -> Result<Vec<Sample>> {
    let admin = Actor {
        user_id: 0,
        username: "bench".into(),
        grants: vec![Grant {
            role: Role::SystemAdmin,
            reach: Reach::All,
        }],
    };
    if store.node_by_code(&admin, "440600000000").await.is_err() {
        store.load_demo(DemoCity::Foshan, Scale::Full, &|_, _, _| {}).await?;
    }
    let city = store
        .node_by_code(&admin, "440600000000")
        .await
        .context("Foshan demo city")?;
    let street = store.node_by_code(&admin, "440604012000").await.context("祖庙街道")?;
    let community = store
        .children(&admin, street.id, false, None, 1)
        .await?
        .items
        .remove(0)
        .node;
    let pool = store.pool().clone();
    let mut samples = Vec::new();

    let p = pool.clone();
    samples.push(summarise(
        "baseline: primary-key read (SELECT name FROM nodes WHERE id = ?)",
        time(runs, || {
            let p = p.clone();
            let id = community.id;
            async move {
                let _: String = sqlx::query_scalar("SELECT name FROM nodes WHERE id = $1")
                    .bind(id)
                    .fetch_one(&p)
                    .await?;
                Ok(())
            }
        })
        .await?,
    ));
    let p = pool.clone();
    samples.push(summarise(
        "baseline: COUNT(*) of the whole nodes table",
        time(runs, || {
            let p = p.clone();
            async move {
                let _: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM nodes").fetch_one(&p).await?;
                Ok(())
            }
        })
        .await?,
    ));
    for (label, node) in [("city 佛山市", &city), ("street 祖庙街道", &street)] {
        samples.push(summarise(
            &format!("subtree counts per level under {label}"),
            time(runs, || async { Ok(store.subtree_counts(&admin, node.id).await?) }).await?,
        ));
    }
    for (label, node) in [
        ("city 佛山市 (5 districts)", &city),
        ("street 祖庙街道", &street),
        ("a community", &community),
    ] {
        samples.push(summarise(
            &format!("children with their counts of {label}"),
            time(runs, || async {
                Ok(store.children(&admin, node.id, true, None, 50).await?)
            })
            .await?,
        ));
    }
    // Login: argon2id verification, the lockout checks, the session and its audit entry.
    let bench_password = "Bench-login-2026";
    if store
        .add_user(
            "benchlogin",
            "基准测试",
            bench_password,
            false,
            Role::Resident,
            Some(community.id),
        )
        .await
        .is_err()
    {
        // Present from an earlier run on the same database.
    }
    let login_runs = runs.clamp(5, 60);
    samples.push(summarise(
        "login (argon2id verify + session + audit)",
        time(login_runs, || async {
            match store.login("benchlogin", bench_password, "127.0.0.1").await? {
                gongjian_store::sessions::LoginOutcome::Success(_) => Ok(()),
                other => anyhow::bail!("bench login failed: {other:?}"),
            }
        })
        .await?,
    ));
    samples.push(summarise(
        "search nodes by name (\"社区\", first 50)",
        time(runs, || async {
            Ok(store.search_nodes(&admin, "社区", None, None, 50).await?)
        })
        .await?,
    ));
    Ok(samples)
}

pub fn print(engine: &str, samples: &[Sample]) {
    let base = samples.first().map(|s| s.median.as_secs_f64()).unwrap_or(1.0).max(1e-9);
    crate::say(&format!("engine: {engine}"));
    crate::say("| operation | runs | median ms | p95 ms | median / PK read |");
    crate::say("|---|---:|---:|---:|---:|");
    for s in samples {
        crate::say(&format!(
            "| {} | {} | {} | {} | {:.1}× |",
            s.name,
            s.runs,
            ms(s.median),
            ms(s.p95),
            s.median.as_secs_f64() / base
        ));
    }
}
