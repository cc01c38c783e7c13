//! The engine's bare single-row insert rate, the baseline every write benchmark is set
//! against in the same run (`gongjian bench --points`, and the other write benchmarks).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Result;
use gongjian_store::Store;

/// What the baseline measured: how many rows `writers` concurrent writers inserted in `seconds`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct InsertBaseline {
    pub writers: usize,
    pub inserts: u64,
    pub seconds: f64,
}

impl InsertBaseline {
    pub fn per_second(&self) -> f64 {
        self.inserts as f64 / self.seconds.max(1e-9)
    }

    /// The baseline's row of a benchmark's table (measure, writers, seconds, count, per second),
    /// with `blank` empty cells after it for the table's further columns.
    pub fn row(&self, blank: usize) -> String {
        format!(
            "| baseline: bare single-row INSERT, autocommit | {} | {:.1} | {} | {:.0} |{}",
            self.writers,
            self.seconds,
            self.inserts,
            self.per_second(),
            " |".repeat(blank)
        )
    }
}

/// The engine's bare single-row insert (one autocommitted `INSERT` per transaction into
/// `bench_rows`) with `writers` concurrent writers for `seconds`, through the store's own pool.
pub(crate) async fn bare_inserts(store: &Store, writers: usize, seconds: u64) -> Result<InsertBaseline> {
    let done = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..writers {
        let (pool, done, count, clock) = (store.pool().clone(), done.clone(), count.clone(), store.clock().clone());
        tasks.push(tokio::spawn(async move {
            let mut n = 0i64;
            while !done.load(Ordering::Relaxed) {
                n += 1;
                let r = sqlx::query("INSERT INTO bench_rows (n, at) VALUES ($1, $2)")
                    .bind(w as i64 * 1_000_000_000 + n)
                    .bind(gongjian_store::time_text(clock.now()))
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
    Ok(InsertBaseline {
        writers,
        inserts: count.load(Ordering::Relaxed),
        seconds: started.elapsed().as_secs_f64(),
    })
}
