//! Importing residents, party members, units and posts from real spreadsheets (`.xlsx`,
//! `.xls`, `.ods`, `.csv` in UTF-8 or GB18030). Every kind takes the same path: the header row
//! is found wherever it is ([`sheet`]), every row is validated through the same domain
//! conversion as the kind's form, a row that cannot be taken is reported with its row number,
//! column, the value as given and the reason, and the valid rows are written in one
//! transaction with its audit entry. Rows that are already recorded are left as they are or
//! updated, as the user chooses; a second import of the same file changes nothing.

mod cfb;
#[cfg(test)]
mod fuzz;
mod guard;
mod lookup;
mod members;
mod posts;
mod read;
mod residents;
mod sheet;
mod units;

use std::collections::HashMap;

use gongjian_domain::access::Actor;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::audit::AuditEvent;
use crate::db::{Store, Tx};
use crate::demo::Progress;
use crate::error::{StoreError, StoreResult};

pub use read::read_rows;
pub use sheet::excel_date;

// What one import may hold. A file is checked against these before anything is allocated in
// proportion to what it declares, and refused with a message naming what is wrong; nothing is
// written. Together they keep an import of 300,000 rows under 256 MB (see docs/PERFORMANCE.md).

/// Largest file accepted.
pub const MAX_BYTES: usize = 40 * 1024 * 1024;
/// Largest number of data rows accepted in one file.
pub const MAX_ROWS: usize = 300_000;
/// Columns a sheet may use (A to GR): a cell with content, or a declared dimension, further
/// right refuses the file.
pub const MAX_COLS: usize = 200;
/// Characters in one cell (Excel's own limit).
pub const MAX_CELL_CHARS: usize = 32_767;
/// Bytes of text the import keeps in all (the header rows and the cells of the columns it reads).
pub const MAX_TEXT_BYTES: usize = 128 * 1024 * 1024;
/// Strings in an xlsx file's shared-string table (declared or counted).
pub const MAX_SHARED_STRINGS: usize = 3_000_000;
/// Uncompressed size of the parts that are read whole: the shared strings, styles, workbook.
pub const MAX_WHOLE_PART_BYTES: u64 = 128 * 1024 * 1024;
/// Uncompressed size of any one part of an xlsx or ods package (a worksheet is streamed).
pub const MAX_PART_BYTES: u64 = 512 * 1024 * 1024;
/// Uncompressed size of a whole xlsx or ods package.
pub const MAX_UNZIPPED_BYTES: u64 = 1024 * 1024 * 1024;
/// Cells of the used area of every sheet of an .xls or .ods file together, which calamine
/// holds densely (300,000 rows × 13 columns; an .xls sheet has at most 65,536 rows).
pub const MAX_DENSE_CELLS: usize = 4_000_000;
/// Bytes of an .xls file's shared-string table.
pub const MAX_XLS_STRINGS_BYTES: usize = 16 * 1024 * 1024;

/// Reads a file as an import of `kind` reads it — checked against the limits, the header found,
/// the data rows gathered — without validating a row or touching the database: how many data
/// rows it has, or why it is refused.
pub fn read_file(kind: ImportKind, filename: &str, bytes: &[u8]) -> Result<usize, String> {
    sheet::Sheet::read(filename, bytes, kind.specs()).map(|s| s.len())
}

/// One refused row (or, among warnings, one doubtful cell of a row that was taken).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RowIssue {
    /// Row number as the spreadsheet shows it (1-based).
    pub row: usize,
    /// The column's header as given.
    pub column: String,
    /// The cell as given.
    pub value: String,
    pub reason: String,
}

/// What an import did or would do.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct ImportReport {
    /// The kind's key: `residents`, `members`, `units` or `posts`.
    #[serde(default)]
    pub kind: String,
    pub data_rows: usize,
    /// Rows that are valid (new, or already recorded).
    pub valid: usize,
    pub inserted: usize,
    pub updated: usize,
    /// Valid rows already recorded that were (or would be) left as they are.
    pub unchanged: usize,
    pub rejected: Vec<RowIssue>,
    /// Doubts about rows that are taken all the same (a credit code whose check character
    /// fails is stored with its warning).
    #[serde(default)]
    pub warnings: Vec<RowIssue>,
    /// The header row found (1-based).
    pub header_row: usize,
    pub committed: bool,
}

impl ImportReport {
    /// How many rows were refused (a row may have several issues).
    pub fn rejected_rows(&self) -> usize {
        let mut rows: Vec<usize> = self.rejected.iter().map(|i| i.row).collect();
        rows.sort_unstable();
        rows.dedup();
        rows.len()
    }
}

/// What is imported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ImportKind {
    Residents,
    Members,
    Units,
    Posts,
}

impl ImportKind {
    pub const ALL: [ImportKind; 4] = [
        ImportKind::Residents,
        ImportKind::Members,
        ImportKind::Units,
        ImportKind::Posts,
    ];

    pub fn key(self) -> &'static str {
        match self {
            ImportKind::Residents => "residents",
            ImportKind::Members => "members",
            ImportKind::Units => "units",
            ImportKind::Posts => "posts",
        }
    }

    pub fn from_key(s: &str) -> Option<ImportKind> {
        ImportKind::ALL.into_iter().find(|k| k.key() == s)
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            ImportKind::Residents => "居民",
            ImportKind::Members => "党员",
            ImportKind::Units => "驻区单位",
            ImportKind::Posts => "任职",
        }
    }

    /// The columns, as the upload page and the header search name them.
    pub fn columns_zh(self) -> String {
        let specs = self.specs();
        let names = |required: bool| -> Vec<&str> {
            specs
                .iter()
                .filter(|s| s.required == required)
                .map(|s| s.names[0])
                .collect()
        };
        format!("须有：{}；可选：{}", names(true).join("、"), names(false).join("、"))
    }

    fn specs(self) -> &'static [sheet::Spec] {
        match self {
            ImportKind::Residents => residents::SPECS,
            ImportKind::Members => members::SPECS,
            ImportKind::Units => units::SPECS,
            ImportKind::Posts => posts::SPECS,
        }
    }

    fn audit_action(self) -> &'static str {
        match self {
            ImportKind::Residents => "person.import",
            ImportKind::Members => "member.import",
            ImportKind::Units => "unit.import",
            ImportKind::Posts => "post.import",
        }
    }
}

/// What to do with a row that is already recorded (same ID number, same credit code).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnDuplicate {
    /// Leave the recorded one as it is.
    Skip,
    /// Update the recorded one from the row.
    Update,
}

/// How to run an import.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImportOptions {
    pub kind: ImportKind,
    pub on_duplicate: OnDuplicate,
    /// Write the valid rows; when false, only validate (the preview).
    pub commit: bool,
    /// The node the import is done at: every row must lie in its subtree (and in the actor's
    /// scope). `None`: anywhere in the actor's scope.
    pub at: Option<i64>,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            kind: ImportKind::Residents,
            on_duplicate: OnDuplicate::Skip,
            commit: false,
            at: None,
        }
    }
}

/// One import under way: its options, the report it builds and whom it tells how far it is.
pub(crate) struct Job<'a> {
    pub options: ImportOptions,
    pub report: ImportReport,
    progress: Progress<'a>,
    filename: &'a str,
    client: &'a str,
    /// The first row of each key seen (an ID number's hash, a credit code), for duplicates
    /// inside the file.
    seen: HashMap<String, usize>,
}

impl Job<'_> {
    /// Called for the `n`-th data row as it is checked.
    pub fn checking(&self, n: usize) {
        if n.is_multiple_of(5000) {
            (self.progress)("校验", n as u64, self.report.data_rows as u64);
        }
    }

    /// Tells how many of `total` rows are written.
    pub fn writing(&self, done: u64, total: u64) {
        (self.progress)("写入", done, total);
    }

    /// The row where `key` was first seen, or `None` (and remembers `row`) when it is new.
    pub fn seen_before(&mut self, key: String, row: usize) -> Option<usize> {
        match self.seen.get(&key) {
            Some(first) => Some(*first),
            None => {
                self.seen.insert(key, row);
                None
            }
        }
    }

    /// `value` when the row has no issue; otherwise the row's issues go to the report.
    pub fn accept<T>(&mut self, row: &mut sheet::Row<'_>, value: Option<T>) -> Option<T> {
        match value {
            Some(v) if row.ok() => Some(v),
            _ => {
                self.report.rejected.append(&mut row.issues);
                None
            }
        }
    }

    /// Whether the valid rows are to be written.
    pub fn commit(&self) -> bool {
        self.options.commit
    }

    pub fn update(&self) -> bool {
        self.options.on_duplicate == OnDuplicate::Update
    }

    /// Audits the import in the writing transaction and commits it.
    pub async fn seal(&mut self, store: &Store, mut tx: Tx, actor: &Actor) -> StoreResult<()> {
        let r = &self.report;
        let detail = format!(
            "{} rows: {} inserted, {} updated, {} unchanged, {} rejected, {} warnings",
            r.data_rows,
            r.inserted,
            r.updated,
            r.unchanged,
            r.rejected_rows(),
            r.warnings.len()
        );
        let object = format!("file:{}", self.filename.chars().take(100).collect::<String>());
        let action = self.options.kind.audit_action();
        store
            .append_audit(
                &mut tx,
                &AuditEvent::by(actor, action, object, self.client).with_detail(detail),
            )
            .await?;
        tx.commit().await?;
        self.report.committed = true;
        Ok(())
    }
}

impl Store {
    /// Validates every row of a workbook of `options.kind` and, when `options.commit`, writes
    /// the valid rows in one transaction. `progress` is told (stage, rows done, rows in all).
    pub async fn import(
        &self,
        actor: &Actor,
        filename: &str,
        bytes: &[u8],
        options: ImportOptions,
        client: &str,
        progress: Progress<'_>,
    ) -> StoreResult<ImportReport> {
        let actor = match options.at {
            Some(id) => {
                let node = self.node(actor, id).await?;
                actor.within(node.id, &node.path)
            }
            None => actor.clone(),
        };
        let kind = options.kind;
        // A file that cannot be read, or that goes past the limits, is refused before anything
        // is written, with the file named (an upload page or a log may hold several).
        let sheet = sheet::Sheet::read(filename, bytes, kind.specs()).map_err(|m| {
            let name: String = filename.chars().take(60).collect();
            StoreError::field("file", format!("“{name}”：{m}"))
        })?;
        let mut job = Job {
            options,
            report: ImportReport {
                kind: kind.key().to_string(),
                data_rows: sheet.len(),
                header_row: sheet.header_row,
                ..ImportReport::default()
            },
            progress,
            filename,
            client,
            seen: HashMap::new(),
        };
        match kind {
            ImportKind::Residents => self.import_residents(&actor, &sheet, &mut job).await?,
            ImportKind::Members => self.import_members(&actor, &sheet, &mut job).await?,
            ImportKind::Units => self.import_units(&actor, &sheet, &mut job).await?,
            ImportKind::Posts => self.import_posts(&actor, &sheet, &mut job).await?,
        }
        let mut report = job.report;
        report.rejected.sort_by_key(|i| i.row);
        report.warnings.sort_by_key(|i| i.row);
        let rows = report.data_rows as u64;
        progress(if report.committed { "完成" } else { "校验" }, rows, rows);
        Ok(report)
    }

    /// Keeps an upload with its preview until it is committed (any node can then finish it).
    /// The file and the preview (whose refused rows carry cells as given) are stored encrypted
    /// with the data key; uploads left uncommitted for [`UPLOAD_TTL`] are purged first.
    pub async fn stash_import(
        &self,
        actor: &Actor,
        filename: &str,
        bytes: &[u8],
        preview: &ImportReport,
    ) -> StoreResult<i64> {
        self.purge_stale_imports().await?;
        let payload = self.keys.encrypt_bytes(PAYLOAD_FIELD, bytes)?;
        Ok(sqlx::query_scalar(
            "INSERT INTO imports (user_id, kind, filename, payload, created_at, report) VALUES ($1, $2, $3, $4, $5, $6) \
             RETURNING id",
        )
        .bind(actor.user_id)
        .bind(preview.kind.clone())
        .bind(filename)
        .bind(payload)
        .bind(self.now_text())
        .bind(self.seal_report(preview)?)
        .fetch_one(&self.pool)
        .await?)
    }

    /// The actor's own stashed upload, its file decrypted. An upload left uncommitted for
    /// [`UPLOAD_TTL`] (or kept in plain text before uploads were encrypted) is deleted here and
    /// answered as [`Stashed::expired`], with neither file nor preview.
    pub async fn stashed_import(&self, actor: &Actor, id: i64) -> StoreResult<Stashed> {
        type Row = (String, String, Option<Vec<u8>>, String, Option<String>, Option<String>);
        let (kind, filename, payload, created_at, committed_at, report): Row = sqlx::query_as(
            "SELECT kind, filename, payload, created_at, committed_at, report FROM imports WHERE id = $1 AND user_id = $2",
        )
        .bind(id)
        .bind(actor.user_id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?;
        let kind = ImportKind::from_key(&kind).unwrap_or(ImportKind::Residents);
        let legacy = payload
            .as_deref()
            .is_some_and(|p| !crate::crypto::Keyring::is_encrypted_bytes(p));
        if committed_at.is_none() && (created_at < self.stale_before() || legacy) {
            sqlx::query("DELETE FROM imports WHERE id = $1 AND committed_at IS NULL")
                .bind(id)
                .execute(&self.pool)
                .await?;
            return Ok(Stashed {
                kind,
                filename,
                payload: None,
                report: None,
                expired: true,
            });
        }
        let payload = payload
            .map(|p| self.keys.decrypt_bytes(PAYLOAD_FIELD, &p))
            .transpose()?;
        let report = report.map(|r| self.open_report(id, &r)).transpose()?;
        Ok(Stashed {
            kind,
            filename,
            payload,
            report,
            expired: false,
        })
    }

    /// Records the outcome of a committed upload and drops its bytes.
    pub async fn finish_import(&self, actor: &Actor, id: i64, report: &ImportReport) -> StoreResult<()> {
        sqlx::query("UPDATE imports SET payload = NULL, committed_at = $1, report = $2 WHERE id = $3 AND user_id = $4")
            .bind(self.now_text())
            .bind(self.seal_report(report)?)
            .bind(id)
            .bind(actor.user_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Deletes the uploads left uncommitted for [`UPLOAD_TTL`] by [`Store::now`]; returns how
    /// many. The server runs it periodically, and every new upload runs it first.
    pub async fn purge_stale_imports(&self) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM imports WHERE committed_at IS NULL AND created_at < $1")
            .bind(self.stale_before())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    /// Uploads stored before this instant (as stored text) are stale when still uncommitted.
    fn stale_before(&self) -> String {
        crate::time_text(self.now() - UPLOAD_TTL)
    }

    fn seal_report(&self, report: &ImportReport) -> StoreResult<String> {
        let json = serde_json::to_string(report).map_err(|e| StoreError::Config(format!("import report: {e}")))?;
        self.keys.encrypt(REPORT_FIELD, &json)
    }

    /// A stored report: encrypted, or JSON as stored before reports were encrypted.
    fn open_report(&self, id: i64, stored: &str) -> StoreResult<ImportReport> {
        let json = if stored.starts_with('{') {
            stored.to_string()
        } else {
            self.keys.decrypt(REPORT_FIELD, stored)?
        };
        serde_json::from_str(&json).map_err(|e| {
            tracing::error!("stored import report {id} unreadable: {e}");
            StoreError::Config(format!("import report {id} unreadable"))
        })
    }
}

/// How long an uncommitted upload is kept.
pub const UPLOAD_TTL: chrono::TimeDelta = chrono::TimeDelta::hours(24);

/// The associated data the stored file and preview are encrypted with.
pub(crate) const PAYLOAD_FIELD: &str = "imports.payload";
pub(crate) const REPORT_FIELD: &str = "imports.report";

/// An upload kept between preview and commit.
#[derive(Debug, Clone, Serialize)]
pub struct Stashed {
    pub kind: ImportKind,
    pub filename: String,
    /// The file, until it is committed.
    #[serde(skip)]
    pub payload: Option<Vec<u8>>,
    /// The preview, and once committed the outcome.
    pub report: Option<ImportReport>,
    /// Left uncommitted for [`UPLOAD_TTL`]: deleted, to be uploaded again.
    pub expired: bool,
}

/// The refused rows as an xlsx workbook (row, column, value as given, reason), with the
/// warnings about rows that were taken on a second sheet when there are any.
pub fn rejected_workbook(report: &ImportReport) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let bold = rust_xlsxwriter::Format::new().set_bold();
    let text = rust_xlsxwriter::Format::new().set_num_format("@");
    let sheets = [("未导入的行", &report.rejected), ("提示（已导入）", &report.warnings)];
    for (name, issues) in sheets {
        if name != sheets[0].0 && issues.is_empty() {
            continue;
        }
        let sheet = book.add_worksheet();
        sheet.set_name(name)?;
        for (c, h) in ["行号", "列", "原值", "原因"].iter().enumerate() {
            sheet.write_with_format(0, c as u16, *h, &bold)?;
        }
        for (i, issue) in issues.iter().enumerate() {
            let r = (i + 1) as u32;
            sheet.write(r, 0, issue.row as f64)?;
            sheet.write(r, 1, issue.column.as_str())?;
            sheet.write_with_format(r, 2, issue.value.as_str(), &text)?;
            sheet.write(r, 3, issue.reason.as_str())?;
        }
        sheet.autofit();
    }
    book.save_to_buffer()
}
