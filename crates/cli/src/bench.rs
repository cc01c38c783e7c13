//! `gongjian bench`: times the platform's hot paths on the Foshan demo city (small or full
//! scale) and prints medians and 95th percentiles next to the engine's own baseline measured in
//! the same run: subtree counts, every available metric at four levels, the dashboards and list
//! pages rendered through the application's router, login, import and search.

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

/// What to run.
pub struct Options {
    pub runs: usize,
    /// The demo scale built when the database holds no Foshan yet.
    pub scale: Scale,
    /// Leave out the 100,000-row import (which adds residents to a database that is kept).
    pub skip_import: bool,
}

/// Runs the benchmark on `store`, loading the Foshan demo when it is not there.
pub async fn run(store: &Store, options: &Options) -> Result<Vec<Sample>> {
    let runs = options.runs;
    let admin = Actor {
        user_id: 0,
        username: "bench".into(),
        grants: vec![Grant {
            role: Role::SystemAdmin,
            reach: Reach::All,
        }],
    };
    if store.node_by_code(&admin, "440600000000").await.is_err() {
        let scale = if options.scale == Scale::Full { "full" } else { "small" };
        crate::say(&format!("building the Foshan demo ({scale} scale)"));
        store.load_demo(DemoCity::Foshan, options.scale, &|_, _, _| {}).await?;
    } else {
        crate::say("reusing the Foshan demo already in the database");
    }
    let residents: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM persons WHERE status = 'active'")
        .fetch_one(store.pool())
        .await?;
    crate::say(&format!("scale: {residents} residents"));
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
    let t = Instant::now();
    store.refresh_rollups().await?;
    samples.push(once("residents roll-up refreshed", t.elapsed()));
    let district = store.node_by_code(&admin, "440604000000").await.context("禅城区")?;
    let nodes = [
        ("city", &city),
        ("district", &district),
        ("street", &street),
        ("community", &community),
    ];
    samples.extend(crate::bench_pages::metrics(store, &admin, &nodes, runs.min(100)).await?);
    samples.extend(crate::bench_pages::pages(store, &city, &street, &community, runs.min(100)).await?);
    if !options.skip_import {
        samples.extend(import_residents(store).await?);
    }
    samples.push(summarise(
        "search nodes by name (\"社区\", first 50)",
        time(runs, || async {
            Ok(store.search_nodes(&admin, "社区", None, None, 50).await?)
        })
        .await?,
    ));
    Ok(samples)
}

fn once(name: &str, d: Duration) -> Sample {
    Sample {
        name: format!("{name} (once)"),
        median: d,
        p95: d,
        runs: 1,
    }
}

pub(crate) fn summary(name: &str, times: Vec<Duration>) -> Sample {
    summarise(name, times)
}

pub(crate) async fn timed<F, Fut, T>(runs: usize, f: F) -> Result<Vec<Duration>>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    time(runs, f).await
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

/// A valid 身份证号 for a serial number (check character computed).
fn id_number(n: usize) -> String {
    id_number_in("440604", n)
}

/// A valid 身份证号 of the area with code `area` for a serial number; distinct for serial
/// numbers below 336,000.
pub(crate) fn id_number_in(area: &str, n: usize) -> String {
    const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let first17 = format!(
        "{area}{}{:03}",
        19_600_101 + (n / 1000 % 28) as u32 + (n / 28_000 % 12) as u32 * 100,
        n % 1000
    );
    let s: u32 = first17
        .chars()
        .zip(W)
        .map(|(c, w)| c.to_digit(10).unwrap_or(0) * w)
        .sum();
    format!("{first17}{}", b"10X98765432"[(s % 11) as usize] as char)
}

/// Imports a 100,000-row resident workbook with 2 % bad rows, then the same file again.
async fn import_residents(store: &Store) -> Result<Vec<Sample>> {
    const ROWS: usize = 100_000;
    let dept = Actor {
        user_id: 0,
        username: "bench".into(),
        grants: vec![Grant {
            role: Role::OrgDepartment,
            reach: Reach::All,
        }],
    };
    let grids: Vec<String> = sqlx::query_scalar("SELECT code FROM nodes WHERE level = 6 ORDER BY id LIMIT 2000")
        .fetch_all(store.pool())
        .await?;
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    for (c, h) in ["姓名", "身份证号码", "手机号码", "网格编码", "户籍"]
        .iter()
        .enumerate()
    {
        sheet.write(0, c as u16, *h)?;
    }
    let mut used = std::collections::HashSet::new();
    let mut row = 1u32;
    let mut n = 0usize;
    while (row as usize) <= ROWS {
        let id = id_number(n);
        n += 1;
        if !used.insert(id.clone()) {
            continue;
        }
        let bad = row.is_multiple_of(50); // 2 %
        // A bad row carries a wrong check character.
        let id_cell = if bad {
            format!("{}{}", &id[..17], if id.ends_with('0') { '1' } else { '0' })
        } else {
            id
        };
        sheet.write(row, 0, format!("居民{row}"))?;
        sheet.write(row, 1, id_cell)?;
        sheet.write(row, 2, format!("139{:08}", row))?;
        sheet.write(row, 3, grids[row as usize % grids.len()].as_str())?;
        sheet.write(row, 4, if row.is_multiple_of(2) { "外地" } else { "本地" })?;
        row += 1;
    }
    let bytes = book.save_to_buffer()?;
    let none = |_: &str, _: u64, _: u64| {};
    let options = gongjian_store::imports::ImportOptions {
        commit: true,
        ..Default::default()
    };
    let t = Instant::now();
    let first = store
        .import(&dept, "bench.xlsx", &bytes, options, "bench", &none)
        .await?;
    let first_time = t.elapsed();
    let t = Instant::now();
    let second = store
        .import(&dept, "bench.xlsx", &bytes, options, "bench", &none)
        .await?;
    let second_time = t.elapsed();
    crate::say(&format!(
        "import of {} rows: {} inserted, {} refused; again: {} inserted, {} unchanged",
        first.data_rows,
        first.inserted,
        first.rejected.len(),
        second.inserted,
        second.unchanged
    ));
    Ok(vec![
        Sample {
            name: format!(
                "import 100,000-row workbook, {} refused rows (once)",
                first.rejected.len()
            ),
            median: first_time,
            p95: first_time,
            runs: 1,
        },
        Sample {
            name: "the same workbook again: changes nothing (once)".into(),
            median: second_time,
            p95: second_time,
            runs: 1,
        },
    ])
}
