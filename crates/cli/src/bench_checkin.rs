//! `gongjian bench --checkins`: QR check-ins per second over HTTP. The server runs in this
//! process on 127.0.0.1; N clients (64 by default), each a resident with a token of their own
//! and a connection of their own, scan for a bounded time: each request is
//! `POST /api/v1/activities/{id}/check` with the code the organiser's screen shows at that
//! moment, one activity after another (every resident is signed up to all of them, set up
//! beforehand). The same run measures the engine's bare single-row insert rate with as many
//! concurrent writers (`bench_baseline`), and checks afterwards that exactly the accepted
//! check-ins were written.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use chrono::TimeDelta;
use gongjian_domain::access::{Actor, Grant, Reach, Role};
use gongjian_domain::people::ResidentForm;
use gongjian_domain::volunteers::activities::ActivityForm;
use gongjian_domain::volunteers::attendance::Purpose;
use gongjian_store::Store;
use gongjian_store::tokens::NewToken;
use gongjian_store::tree::NodeInput;
use serde_json::json;

pub struct CheckinFigures {
    pub clients: usize,
    pub activities: usize,
    pub seconds: f64,
    pub checkins: u64,
    pub refused: u64,
    pub baseline: crate::bench_baseline::InsertBaseline,
}

impl CheckinFigures {
    pub fn per_second(&self) -> f64 {
        self.checkins as f64 / self.seconds
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

/// A community, an organiser, `activities` activities under way and `clients` residents with
/// tokens, each signed up to every activity. Returns the activities and the residents' tokens.
async fn setup(store: &Store, clients: usize, activities: usize, run: &str) -> Result<(Vec<i64>, Vec<String>)> {
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
    let find_or = async |code: &str, parent: Option<i64>, name: &str| match store.node_by_code(&o, code).await {
        Ok(n) => Ok(n),
        Err(_) => node(parent, Some(code), name, None).await,
    };
    let city = find_or("440600000000", None, "佛山市").await?;
    let district = find_or("440604000000", Some(city.id), "禅城区").await?;
    let street = find_or("440604001000", Some(district.id), "祖庙街道").await?;
    let community = find_or("440604001001", Some(street.id), "岭南社区").await?;
    let grid = node(Some(community.id), None, &format!("签到基准小区{run}"), Some("estate")).await?;

    let organiser = format!("bench.org.{run}");
    let user = store
        .add_user(
            &organiser,
            "签到基准组织者",
            "Bench-checkin-2026",
            false,
            Role::CommunityStaff,
            Some(community.id),
        )
        .await?;
    let staff = store.actor(user.id).await?;
    let now = store.now();
    let mut ids = Vec::with_capacity(activities);
    for i in 0..activities {
        let form = ActivityForm {
            title: format!("签到基准活动{i}"),
            kind: "volunteer".into(),
            place: "基准广场".into(),
            starts_at: (now - TimeDelta::hours(1)).to_rfc3339(),
            ends_at: (now + TimeDelta::hours(2)).to_rfc3339(),
            capacity: clients.to_string(),
            signup_opens_at: (now - TimeDelta::hours(2)).to_rfc3339(),
            signup_closes_at: (now + TimeDelta::hours(2)).to_rfc3339(),
            ..ActivityForm::default()
        };
        ids.push(store.create_activity(&staff, community.id, &form, "bench").await?.id);
    }
    let mut tokens = Vec::with_capacity(clients);
    let mut people = Vec::with_capacity(clients);
    for i in 0..clients {
        let form = ResidentForm {
            name: format!("签到基准居民{i}"),
            home_node_id: Some(grid.id),
            household: format!("{i}号"),
            ..ResidentForm::default()
        };
        let person = store.create_person(&o, &form, "bench").await?.id;
        let username = format!("bench.res.{run}.{i}");
        let u = store
            .add_user(
                &username,
                "签到基准居民",
                "Bench-checkin-2026",
                false,
                Role::Resident,
                Some(community.id),
            )
            .await?;
        store.link_person(&staff, u.id, person, "bench").await?;
        let token = NewToken {
            name: "bench".into(),
            scope: "write".into(),
            expires_in_days: 1,
        };
        tokens.push(store.create_token_for(&username, &token).await?);
        people.push(person);
    }
    // Every resident signed up to every activity: set-up, written in one transaction.
    let mut tx = store.pool().begin().await?;
    let at = store.now_text();
    for a in &ids {
        for p in &people {
            sqlx::query(
                "INSERT INTO activity_signups (activity_id, person_id, status, signed_up_at, updated_at) \
                 VALUES ($1, $2, 'confirmed', $3, $3)",
            )
            .bind(a)
            .bind(p)
            .bind(&at)
            .execute(&mut *tx)
            .await?;
        }
    }
    tx.commit().await?;
    Ok((ids, tokens))
}

/// Runs the check-in benchmark on `store` for `seconds` with `clients` concurrent clients.
pub async fn run(store: &Store, clients: usize, seconds: u64) -> Result<CheckinFigures> {
    let run = uuid::Uuid::new_v4().simple().to_string()[..8].to_string();
    // Enough activities that no client runs out at 8,000 check-ins per second.
    let activities = ((seconds as usize * 8_000) / clients).clamp(20, 50_000);
    let (ids, tokens) = setup(store, clients, activities, &run)
        .await
        .context("benchmark set-up")?;
    let ids = Arc::new(ids);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let state = gongjian_web::AppState::new(store.clone(), gongjian_web::WebConfig::default());
    let server = tokio::spawn(gongjian_web::serve(listener, state, async move {
        let _ = stop_rx.await;
    }));

    let done = Arc::new(AtomicBool::new(false));
    let ok = Arc::new(AtomicU64::new(0));
    let refused = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    let started = Instant::now();
    for token in tokens {
        let (ids, store) = (ids.clone(), store.clone());
        let (done, ok, refused) = (done.clone(), ok.clone(), refused.clone());
        let mut client = crate::bench_http::Client::connect(addr, &token).await?;
        tasks.push(tokio::spawn(async move {
            for id in ids.iter() {
                if done.load(Ordering::Relaxed) {
                    break;
                }
                // What the organiser's screen shows now, as the phone scans it.
                let code = store.code_at(*id, Purpose::In, store.now()).code;
                let body = bytes::Bytes::from(json!({"purpose": "in", "code": code}).to_string());
                let path = format!("/api/v1/activities/{id}/check");
                match client.post(&path, None, body).await {
                    Ok(200) => ok.fetch_add(1, Ordering::Relaxed),
                    Ok(_) => refused.fetch_add(1, Ordering::Relaxed),
                    // The connection is gone: this client stops.
                    Err(_) => {
                        refused.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                };
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    done.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await?;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let _ = stop_tx.send(());
    server.await??;

    let checkins = ok.load(Ordering::Relaxed);
    let first = ids.first().copied().unwrap_or(0);
    let last = ids.last().copied().unwrap_or(0);
    let written: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM activity_signups WHERE activity_id >= $1 AND activity_id <= $2 \
         AND checked_in_at IS NOT NULL",
    )
    .bind(first)
    .bind(last)
    .fetch_one(store.pool())
    .await?;
    if written != checkins as i64 {
        bail!("{checkins} check-ins were accepted but {written} were written");
    }
    let baseline = crate::bench_baseline::bare_inserts(store, clients, seconds).await?;
    Ok(CheckinFigures {
        clients,
        activities,
        seconds: elapsed,
        checkins,
        refused: refused.load(Ordering::Relaxed),
        baseline,
    })
}

pub fn print(engine: &str, f: &CheckinFigures) {
    crate::say(&format!("engine: {engine}"));
    crate::say("| measure | clients | seconds | count | per second |");
    crate::say("|---|---:|---:|---:|---:|");
    crate::say(&format!(
        "| QR check-ins over HTTP (signed code verified, sign-up updated, audited) | {} | {:.1} | {} | {:.0} |",
        f.clients,
        f.seconds,
        f.checkins,
        f.per_second()
    ));
    crate::say(&f.baseline.row(0));
    crate::say(&format!(
        "activities: {}; refused or failed requests: {}; check-ins/s ÷ insert/s = {:.2}; every accepted check-in written: yes",
        f.activities,
        f.refused,
        f.per_second() / f.inserts_per_second().max(1e-9)
    ));
}
