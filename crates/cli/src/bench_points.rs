//! `gongjian bench --points`: sustained points transactions per second over HTTP. The server
//! runs in this process on 127.0.0.1; N clients (64 by default), each with a keep-alive
//! connection of its own (`bench_http`), send for a bounded time credits and shop redemptions (alternately) for their own
//! holder, each with a fresh idempotency key. The same run measures the engine's bare
//! single-row insert rate with as many concurrent writers, and checks the books afterwards.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use gongjian_domain::access::{Actor, Grant, Reach, Role};
use gongjian_domain::people::ResidentForm;
use gongjian_store::Store;
use gongjian_store::points::{ItemForm, SchemeForm};
use gongjian_store::tokens::NewToken;
use gongjian_store::tree::NodeInput;
use serde_json::json;

use crate::bench_baseline::InsertBaseline;
use crate::bench_http::Client;
use bytes::Bytes;

pub struct PointsFigures {
    pub clients: usize,
    pub seconds: f64,
    pub transactions: u64,
    pub refused: u64,
    /// Each successful request's latency in microseconds, sorted.
    pub latencies: Vec<u64>,
    pub baseline: InsertBaseline,
}

impl PointsFigures {
    pub fn tx_per_second(&self) -> f64 {
        self.transactions as f64 / self.seconds
    }

    /// The latency below which `p` of the successful requests answered, in milliseconds.
    pub fn percentile_ms(&self, p: f64) -> f64 {
        if self.latencies.is_empty() {
            return 0.0;
        }
        let i = ((self.latencies.len() as f64 * p).ceil() as usize).clamp(1, self.latencies.len()) - 1;
        self.latencies[i] as f64 / 1000.0
    }

    pub fn inserts_per_second(&self) -> f64 {
        self.baseline.per_second()
    }
}

fn overseer() -> Actor {
    Actor {
        user_id: 0,
        username: "bench".into(),
        grants: vec![Grant {
            role: Role::OrgDepartment,
            reach: Reach::All,
        }],
    }
}

/// A community with one grid, a scheme, a well-stocked item, `clients` residents and a staff
/// account with a write token. Returns the token, the scheme, the item and the residents.
async fn setup(store: &Store, clients: usize, run: &str) -> Result<(String, i64, i64, Vec<i64>)> {
    let o = overseer();
    let node = async |parent: Option<i64>, code: Option<&str>, name: &str, kind: Option<&str>| {
        let input = NodeInput {
            parent_id: parent,
            code: code.map(str::to_string),
            name: name.to_string(),
            kind: kind.map(str::to_string),
            ..NodeInput::default()
        };
        store.create_node(&o, &input).await
    };
    let city = match store.node_by_code(&o, "440600000000").await {
        Ok(n) => n,
        Err(_) => node(None, Some("440600000000"), "佛山市", None).await?,
    };
    // The demo's nodes when the tree is there, else the same codes created.
    let district = match store.node_by_code(&o, "440604000000").await {
        Ok(d) => d,
        Err(_) => node(Some(city.id), Some("440604000000"), "禅城区", None).await?,
    };
    let street = match store.node_by_code(&o, "440604001000").await {
        Ok(s) => s,
        Err(_) => node(Some(district.id), Some("440604001000"), "祖庙街道", None).await?,
    };
    let community = match store.node_by_code(&o, "440604001001").await {
        Ok(c) => c,
        Err(_) => node(Some(street.id), Some("440604001001"), "岭南社区", None).await?,
    };
    let grid = node(Some(community.id), None, &format!("基准小区{run}"), Some("estate")).await?;
    let scheme = store
        .create_scheme(
            &o,
            &SchemeForm {
                name: format!("基准积分{run}"),
                kind: "volunteer".into(),
                node_id: Some(community.id),
                rules: None,
            },
            "bench",
        )
        .await?;
    let item = store
        .create_item(
            &o,
            community.id,
            &ItemForm {
                name: format!("基准商品{run}"),
                scheme_id: Some(scheme.id),
                price: Some(1),
                stock: Some(1_000_000),
            },
            "bench",
        )
        .await?;
    let mut people = Vec::with_capacity(clients);
    for i in 0..clients {
        let form = ResidentForm {
            name: format!("基准居民{i}"),
            home_node_id: Some(grid.id),
            household: format!("{i}号"),
            ..ResidentForm::default()
        };
        people.push(store.create_person(&o, &form, "bench").await?.id);
    }
    let username = format!("bench.points.{run}");
    store
        .add_user(
            &username,
            "基准测试",
            "Bench-points-2026",
            false,
            Role::StreetStaff,
            Some(street.id),
        )
        .await?;
    let token = store
        .create_token_for(
            &username,
            &NewToken {
                name: "bench".into(),
                scope: "write".into(),
                expires_in_days: 1,
            },
        )
        .await?;
    Ok((token, scheme.id, item.id, people))
}

/// Runs the points benchmark on `store` for `seconds` with `clients` concurrent clients.
pub async fn run(store: &Store, clients: usize, seconds: u64) -> Result<PointsFigures> {
    let run = uuid::Uuid::new_v4().simple().to_string()[..8].to_string();
    let (token, scheme, item, people) = setup(store, clients, &run).await.context("benchmark set-up")?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let listener_addr = listener.local_addr()?;
    let base = format!("http://{listener_addr}");
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let state = gongjian_web::AppState::new(store.clone(), gongjian_web::WebConfig::default());
    let server = tokio::spawn(gongjian_web::serve(listener, state, async move {
        let _ = stop_rx.await;
    }));

    let done = Arc::new(AtomicBool::new(false));
    let ok = Arc::new(AtomicU64::new(0));
    let refused = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    // Every client starts with points to spend, credited before the clock starts.
    let http = reqwest::Client::builder().no_proxy().build()?;
    for (c, person) in people.iter().enumerate() {
        let body = json!({"scheme_id": scheme, "person_id": person, "amount": 100,
            "source": {"kind": "award", "item": "基准"}});
        let r = http
            .post(format!("{base}/api/v1/points/credits"))
            .bearer_auth(&token)
            .header("idempotency-key", format!("bench-{run}-seed-{c}"))
            .json(&body)
            .send()
            .await?;
        if r.status() != 201 {
            bail!(
                "seeding credit answered {}: {}",
                r.status(),
                r.text().await.unwrap_or_default()
            );
        }
    }
    // Every client's two request bodies, serialised once.
    let addr = listener_addr;
    let started = Instant::now();
    for (c, person) in people.iter().copied().enumerate() {
        let (token, run) = (token.clone(), run.clone());
        let (done, ok, refused) = (done.clone(), ok.clone(), refused.clone());
        let credit = Bytes::from(
            json!({"scheme_id": scheme, "person_id": person, "amount": 2,
                "source": {"kind": "award", "item": "基准"}})
            .to_string(),
        );
        let redeem = Bytes::from(json!({"item_id": item, "person_id": person}).to_string());
        let mut client = Client::connect(addr, &token).await?;
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            let mut latencies = Vec::new();
            while !done.load(Ordering::Relaxed) {
                let key = format!("bench-{run}-{c}-{n}");
                let (path, body) = if n.is_multiple_of(2) {
                    ("/api/v1/points/credits", credit.clone())
                } else {
                    ("/api/v1/shop/redemptions", redeem.clone())
                };
                n += 1;
                let asked = Instant::now();
                match client.post(path, Some(&key), body).await {
                    Ok(201) => {
                        latencies.push(asked.elapsed().as_micros() as u64);
                        ok.fetch_add(1, Ordering::Relaxed)
                    }
                    Ok(_) => refused.fetch_add(1, Ordering::Relaxed),
                    // The connection is gone: this client stops.
                    Err(_) => {
                        refused.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                };
            }
            latencies
        }));
    }
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    done.store(true, Ordering::Relaxed);
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await?);
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let _ = stop_tx.send(());
    server.await??;

    let books = store.verify_ledger().await?;
    if !books.is_sound() {
        bail!("the books do not balance after the run: {books:?}");
    }
    let baseline = crate::bench_baseline::bare_inserts(store, clients, seconds).await?;
    Ok(PointsFigures {
        clients,
        seconds: elapsed,
        transactions: ok.load(Ordering::Relaxed),
        refused: refused.load(Ordering::Relaxed),
        latencies,
        baseline,
    })
}

pub fn print(engine: &str, f: &PointsFigures) {
    crate::say(&format!("engine: {engine}"));
    crate::say("| measure | clients | seconds | count | per second | p50 ms | p95 ms |");
    crate::say("|---|---:|---:|---:|---:|---:|---:|");
    crate::say(&format!(
        "| points transactions over HTTP (credit / redeem alternately) | {} | {:.1} | {} | {:.0} | {:.1} | {:.1} |",
        f.clients,
        f.seconds,
        f.transactions,
        f.tx_per_second(),
        f.percentile_ms(0.50),
        f.percentile_ms(0.95)
    ));
    crate::say(&f.baseline.row(2));
    crate::say(&format!(
        "refused or failed requests: {}; points tx/s ÷ insert/s = {:.3}; books balance: yes",
        f.refused,
        f.tx_per_second() / f.inserts_per_second().max(1e-9)
    ));
}
