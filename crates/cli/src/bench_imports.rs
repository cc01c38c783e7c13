//! `gongjian bench --imports`: the same resident rows as a CSV file and as an .xlsx workbook,
//! read as an import reads them (the file checked, the header found, the data rows gathered),
//! imported as a preview (every row validated and looked up, nothing written) and committed, at
//! 100,000 rows; then 300,000 rows, the most one file may hold, read, previewed and committed,
//! for the import's memory bound. Each row gives the time, the rows per second and the peak
//! memory: the process's resident set at its highest during the step (VmHWM, reset before each
//! step through /proc/self/clear_refs, the allocator's free memory handed back first) and how
//! far that is above where the step began, with SQLite's own share of it (its page caches,
//! which SQLite counts itself: 64 MiB per connection, see `db.rs`). The
//! baselines of the same run: the .xlsx read (each CSV figure as a ratio to it) and the CSV
//! line numbering as it was before (counting the newlines from the start of the text again for
//! every record), timed on 10,000 to 40,000 rows to show how it grew.

use std::time::Instant;

use anyhow::{Result, bail};
use gongjian_domain::access::{Actor, Grant, Reach, Role};
use gongjian_store::Store;
use gongjian_store::demo::{DemoCity, Scale};
use gongjian_store::imports::{ImportKind, ImportOptions, read_file};

/// One measured step.
pub struct Figure {
    pub name: String,
    pub rows: usize,
    pub seconds: f64,
    /// The resident set at its highest during the step, and that less the resident set when
    /// the step began, in MiB (`None` where /proc does not tell).
    pub peak_mib: Option<f64>,
    pub above_start_mib: Option<f64>,
    /// Of that, SQLite's own heap (its page caches): its highest during the step less what it
    /// held when the step began.
    pub sqlite_above_start_mib: f64,
    /// The step's time over the baseline's for as many rows.
    pub ratio: Option<(f64, &'static str)>,
}

impl Figure {
    pub fn per_second(&self) -> f64 {
        self.rows as f64 / self.seconds.max(1e-9)
    }
}

/// VmRSS and VmHWM of this process in MiB.
fn memory() -> Option<(f64, f64)> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let field = |name: &str| -> Option<f64> {
        let line = status.lines().find(|l| l.starts_with(name))?;
        let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib / 1024.0)
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// SQLite's own heap — page caches, statements — in use now and at its highest since the last
/// reset, in MiB (SQLite counts it itself; zero on PostgreSQL, which runs elsewhere).
fn sqlite_memory(reset: bool) -> (f64, f64) {
    unsafe extern "C" {
        fn sqlite3_status64(op: i32, current: *mut i64, highwater: *mut i64, reset: i32) -> i32;
    }
    const SQLITE_STATUS_MEMORY_USED: i32 = 0;
    let (mut current, mut highest) = (0i64, 0i64);
    // SAFETY: sqlite3_status64 writes the two counters it is given and nothing else.
    let rc = unsafe { sqlite3_status64(SQLITE_STATUS_MEMORY_USED, &mut current, &mut highest, i32::from(reset)) };
    if rc != 0 {
        return (0.0, 0.0);
    }
    (current as f64 / 1_048_576.0, highest as f64 / 1_048_576.0)
}

/// Hands the memory the allocator keeps free back to the system, so that the resident set is
/// what is in use (glibc keeps freed pages otherwise, and a step would reuse them unseen).
fn give_back() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        unsafe extern "C" {
            fn malloc_trim(pad: usize) -> i32;
        }
        // SAFETY: glibc's malloc_trim takes a byte count and only returns free memory.
        unsafe {
            malloc_trim(0);
        }
    }
}

/// Runs `step` and measures it: the memory the allocator holds free is handed back and the
/// high-water mark reset to the resident set first.
async fn measure<T, Fut>(name: &str, rows: usize, step: impl FnOnce() -> Fut) -> Result<(Figure, T)>
where
    Fut: std::future::Future<Output = Result<T>>,
{
    give_back();
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let (sqlite_start, _) = sqlite_memory(true);
    let start = memory();
    let t = Instant::now();
    let out = step().await?;
    let seconds = t.elapsed().as_secs_f64();
    let end = memory();
    let (_, sqlite_peak) = sqlite_memory(false);
    let peak = end.filter(|_| reset).map(|(_, hwm)| hwm);
    let above = peak.zip(start).map(|(p, (rss, _))| p - rss);
    crate::say(&format!(
        "{name}: {rows} rows in {seconds:.2} s{}",
        peak.map(|p| format!(", peak {p:.0} MiB")).unwrap_or_default()
    ));
    Ok((
        Figure {
            name: name.to_string(),
            rows,
            seconds,
            peak_mib: peak,
            above_start_mib: above,
            sqlite_above_start_mib: (sqlite_peak - sqlite_start).max(0.0),
            ratio: None,
        },
        out,
    ))
}

/// Resident rows: name, ID number (of the area `area`), mobile, grid code, 户籍 — all valid.
fn resident_rows(area: &str, count: usize, grids: &[String]) -> Vec<[String; 5]> {
    (0..count)
        .map(|i| {
            [
                format!("居民{i}"),
                crate::bench::id_number_in(area, i),
                format!("139{i:08}"),
                grids[i % grids.len()].clone(),
                if i % 2 == 0 { "外地" } else { "本地" }.to_string(),
            ]
        })
        .collect()
}

const HEADER: [&str; 5] = ["姓名", "身份证号码", "手机号码", "网格编码", "户籍"];

fn as_csv(rows: &[[String; 5]]) -> Vec<u8> {
    let mut out = format!("{}\r\n", HEADER.join(","));
    for r in rows {
        out.push_str(&r.join(","));
        out.push_str("\r\n");
    }
    out.into_bytes()
}

fn as_xlsx(rows: &[[String; 5]]) -> Result<Vec<u8>> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    for (c, h) in HEADER.iter().enumerate() {
        sheet.write(0, c as u16, *h)?;
    }
    for (i, r) in rows.iter().enumerate() {
        for (c, cell) in r.iter().enumerate() {
            sheet.write(i as u32 + 1, c as u16, cell.as_str())?;
        }
    }
    Ok(book.save_to_buffer()?)
}

/// The CSV line numbering before this change: for each record, the newlines before its first
/// byte counted from the start of the text. Returns the sum of the line numbers (so that the
/// work is not optimised away).
fn old_line_numbers(text: &[u8], starts: &[usize]) -> usize {
    starts
        .iter()
        .map(|at| text[..*at].iter().filter(|b| **b == b'\n').count() + 1)
        .sum()
}

fn line_starts(text: &[u8]) -> Vec<usize> {
    std::iter::once(0)
        .chain(
            text.iter()
                .enumerate()
                .filter(|(_, b)| **b == b'\n')
                .map(|(i, _)| i + 1),
        )
        .filter(|i| *i < text.len())
        .collect()
}

/// Runs the import benchmark on `store`, loading the Foshan demo (small) when it is not there.
pub async fn run(store: &Store) -> Result<Vec<Figure>> {
    let dept = Actor {
        user_id: 0,
        username: "bench".into(),
        grants: vec![Grant {
            role: Role::OrgDepartment,
            reach: Reach::All,
        }],
    };
    if store.node_by_code(&dept, "440600000000").await.is_err() {
        crate::say("building the Foshan demo (small scale)");
        store.load_demo(DemoCity::Foshan, Scale::Small, &|_, _, _| {}).await?;
    }
    let grids: Vec<String> = sqlx::query_scalar("SELECT code FROM nodes WHERE level = 6 ORDER BY id LIMIT 2000")
        .fetch_all(store.pool())
        .await?;
    if grids.is_empty() {
        bail!("the demo has no level-3 grids");
    }
    let none = |_: &str, _: u64, _: u64| {};
    let preview = ImportOptions {
        kind: ImportKind::Residents,
        ..Default::default()
    };
    let mut figures = Vec::new();

    // The old CSV line numbering, on growing files: quadratic.
    for n in [10_000, 20_000, 40_000] {
        let csv = as_csv(&resident_rows("440604", n, &grids));
        let starts = line_starts(&csv);
        let (f, _) = measure(
            &format!("baseline: the old CSV line numbering alone, {n} rows"),
            n,
            || async {
                Ok(std::hint::black_box(old_line_numbers(
                    std::hint::black_box(&csv),
                    &starts,
                )))
            },
        )
        .await?;
        figures.push(f);
    }

    for n in [100_000, 300_000] {
        let rows = resident_rows("440604", n, &grids);
        let csv = as_csv(&rows);
        let xlsx = as_xlsx(&rows)?;
        drop(rows);
        crate::say(&format!(
            "{n} rows: CSV {:.1} MiB, xlsx {:.1} MiB",
            csv.len() as f64 / 1_048_576.0,
            xlsx.len() as f64 / 1_048_576.0
        ));
        let (xlsx_read, found) = measure(&format!("read .xlsx, {n} rows (baseline)"), n, || async {
            read_file(ImportKind::Residents, "bench.xlsx", &xlsx).map_err(anyhow::Error::msg)
        })
        .await?;
        if found != n {
            bail!("the .xlsx file gave {found} data rows, not {n}");
        }
        let (mut csv_read, found) = measure(&format!("read CSV, {n} rows"), n, || async {
            read_file(ImportKind::Residents, "bench.csv", &csv).map_err(anyhow::Error::msg)
        })
        .await?;
        if found != n {
            bail!("the CSV file gave {found} data rows, not {n}");
        }
        csv_read.ratio = Some((csv_read.seconds / xlsx_read.seconds, "of the .xlsx read"));
        let base = xlsx_read.seconds;
        figures.push(xlsx_read);
        figures.push(csv_read);
        for (label, name, bytes) in [(".xlsx", "bench.xlsx", &xlsx), ("CSV", "bench.csv", &csv)] {
            let (mut f, report) = measure(&format!("import preview {label}, {n} rows"), n, || async {
                Ok(store.import(&dept, name, bytes, preview, "bench", &none).await?)
            })
            .await?;
            if report.data_rows != n {
                bail!("the preview of {label} saw {} data rows, not {n}", report.data_rows);
            }
            f.ratio = Some((f.seconds / base, "of the .xlsx read"));
            figures.push(f);
        }
        let commit = ImportOptions {
            commit: true,
            ..preview
        };
        if n == 100_000 {
            // Written: the same rows with ID numbers of other areas, so that each file inserts
            // all its rows (and the 300,000 below are new as well).
            let csv = as_csv(&resident_rows("440605", n, &grids));
            let xlsx = as_xlsx(&resident_rows("440606", n, &grids))?;
            let mut xlsx_time = None;
            for (label, name, bytes) in [(".xlsx", "bench.xlsx", &xlsx), ("CSV", "bench.csv", &csv)] {
                let (mut f, report) = measure(&format!("import committed {label}, {n} rows"), n, || async {
                    Ok(store.import(&dept, name, bytes, commit, "bench", &none).await?)
                })
                .await?;
                if report.inserted != n {
                    bail!("the {label} import inserted {} rows, not {n}", report.inserted);
                }
                match xlsx_time {
                    None => xlsx_time = Some(f.seconds),
                    Some(t) => f.ratio = Some((f.seconds / t, "of the .xlsx import")),
                }
                figures.push(f);
            }
        }
        if n == 300_000 {
            let (f, report) = measure(&format!("import committed .xlsx, {n} rows"), n, || async {
                Ok(store.import(&dept, "bench.xlsx", &xlsx, commit, "bench", &none).await?)
            })
            .await?;
            crate::say(&format!(
                "committed: {} inserted, {} unchanged, {} refused",
                report.inserted,
                report.unchanged,
                report.rejected_rows()
            ));
            figures.push(f);
        }
    }
    Ok(figures)
}

pub fn print(engine: &str, figures: &[Figure]) {
    let mib = |v: Option<f64>| v.map(|v| format!("{v:.0}")).unwrap_or_else(|| "—".into());
    crate::say(&format!("engine: {engine}"));
    crate::say(
        "| step | rows | seconds | rows/s | peak RSS MiB | peak above start MiB | of which SQLite MiB | ratio |",
    );
    crate::say("|---|---:|---:|---:|---:|---:|---:|---|");
    for f in figures {
        crate::say(&format!(
            "| {} | {} | {:.3} | {:.0} | {} | {} | {:.0} | {} |",
            f.name,
            f.rows,
            f.seconds,
            f.per_second(),
            mib(f.peak_mib),
            mib(f.above_start_mib),
            f.sqlite_above_start_mib,
            f.ratio.map(|(r, of)| format!("{r:.2}× {of}")).unwrap_or_default()
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_old_numbering_counts_lines_from_the_start() {
        let text = b"a,b\r\nc,d\r\n\r\ne,f\r\n";
        let starts = line_starts(text);
        assert_eq!(starts, vec![0, 5, 10, 12]);
        assert_eq!(old_line_numbers(text, &starts), 1 + 2 + 3 + 4);
        let csv = as_csv(&resident_rows("440604", 3, &["440604012001001".to_string()]));
        assert_eq!(line_starts(&csv).len(), 4);
        assert_eq!(read_file(ImportKind::Residents, "a.csv", &csv), Ok(3));
    }
}
