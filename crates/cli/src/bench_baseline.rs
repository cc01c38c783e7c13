//! The engine's bare write rate, the yardstick every HTTP write benchmark is divided by: one
//! autocommitted single-row `INSERT` per transaction into `bench_rows`, with as many concurrent
//! writers as the benchmark has clients, through the store's own pool.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Result;
use gongjian_store::Store;

/// Inserts for `seconds` with `writers` concurrent writers; answers (rows, elapsed seconds).
pub async fn bare_inserts(store: &Store, writers: usize, seconds: u64) -> Result<(u64, f64)> {
    let done = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..writers {
        let (pool, done, count) = (store.pool().clone(), done.clone(), count.clone());
        tasks.push(tokio::spawn(async move {
            let mut n = 0i64;
            while !done.load(Ordering::Relaxed) {
                n += 1;
                let r = sqlx::query("INSERT INTO bench_rows (n, at) VALUES ($1, $2)")
                    .bind(w as i64 * 1_000_000_000 + n)
                    .bind(gongjian_store::now_text())
                    .execute(&pool)
                    .await;
                if r.is_ok() {
                    count.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    done.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await?;
    }
    Ok((count.load(Ordering::Relaxed), started.elapsed().as_secs_f64()))
}
