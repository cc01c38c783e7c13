//! Importing residents from real spreadsheets (`.xlsx`, `.xls`, `.ods`, `.csv` in UTF-8 or
//! GB18030): the header row is found wherever it is, columns are matched by their usual
//! Chinese names, cells are normalised (full-width characters, stray spaces, numbers that
//! Excel made of long digit strings), every row is validated, and the valid rows are written in
//! one transaction. A row that cannot be taken is reported with its row number, column, the
//! value as given and the reason; a second import of the same file changes nothing.

use std::collections::HashMap;
use std::io::Cursor;

use calamine::{Data, Reader};
use gongjian_domain::access::{Actor, Right};
use gongjian_domain::people::{ResidentDraft, ResidentForm};
use gongjian_domain::tree::Level;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::audit::{AuditEvent, append};
use crate::db::Store;
use crate::error::{StoreError, StoreResult};
use crate::people::{ID_FIELD, MOBILE_FIELD};
use crate::sql::Sql;
use crate::{now_text, scope};

/// Largest file accepted.
pub const MAX_BYTES: usize = 40 * 1024 * 1024;
/// Largest number of data rows accepted in one file.
pub const MAX_ROWS: usize = 300_000;

/// One refused row.
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
    pub data_rows: usize,
    /// Rows that are valid (new, or already registered).
    pub valid: usize,
    pub inserted: usize,
    pub updated: usize,
    /// Valid rows whose ID number is already registered and that were left as they were.
    pub unchanged: usize,
    pub rejected: Vec<RowIssue>,
    /// The header row found (1-based).
    pub header_row: usize,
    pub committed: bool,
}

/// What to do with a row whose ID number is already registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnDuplicate {
    /// Leave the registered resident as it is.
    Skip,
    /// Update name, mobile, grid, household and registration of the registered resident.
    Update,
}

/// How to run an import.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImportOptions {
    pub on_duplicate: OnDuplicate,
    /// Write the valid rows; when false, only validate (the preview).
    pub commit: bool,
}

/// A cell as text, or the reason it cannot be read as text safely.
fn cell_text(cell: &Data) -> Result<String, &'static str> {
    Ok(match cell {
        Data::Empty => String::new(),
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => gongjian_domain::ids::normalize_cell(s),
        Data::Int(i) => i.to_string(),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => format!("{}", *f as i64),
        Data::Float(f) if f.fract() == 0.0 => {
            return Err("该单元格被电子表格存成了数字，长号码的后几位已丢失，请把这一列设为文本后重新导出");
        }
        Data::Float(f) => f.to_string(),
        Data::Bool(b) => if *b { "是" } else { "否" }.to_string(),
        Data::DateTime(d) => excel_date(d.as_f64()),
        Data::Error(_) => return Err("单元格有公式错误"),
    })
}

/// An Excel date serial (days since 1899-12-30) as `YYYY-MM-DD`.
pub fn excel_date(serial: f64) -> String {
    chrono::NaiveDate::from_ymd_opt(1899, 12, 30)
        .and_then(|base| base.checked_add_days(chrono::Days::new(serial.max(0.0).floor() as u64)))
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

/// Reads the first sheet of a workbook, or a CSV file, as rows of cells.
pub fn read_rows(filename: &str, bytes: &[u8]) -> Result<Vec<Vec<Data>>, String> {
    if bytes.len() > MAX_BYTES {
        return Err(format!(
            "文件过大（{} MB），最大 {} MB",
            bytes.len() / 1_048_576,
            MAX_BYTES / 1_048_576
        ));
    }
    let lower = filename.to_lowercase();
    if lower.ends_with(".csv") || lower.ends_with(".txt") {
        let text = match std::str::from_utf8(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)) {
            Ok(t) => t.to_string(),
            Err(_) => encoding_rs::GB18030.decode(bytes).0.into_owned(),
        };
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(text.as_bytes());
        let mut rows = Vec::new();
        for (i, rec) in reader.records().enumerate() {
            let rec = rec.map_err(|e| format!("第 {} 行无法读取：{e}", i + 1))?;
            // Blank lines are skipped by the reader; pad so row numbers stay the file's lines.
            // The reader's position is where it began looking, before any blank lines.
            let line = rec
                .position()
                .map(|p| {
                    let bytes = text.as_bytes();
                    let mut at = (p.byte() as usize).min(bytes.len());
                    while matches!(bytes.get(at), Some(b'\n' | b'\r')) {
                        at += 1;
                    }
                    bytes[..at].iter().filter(|b| **b == b'\n').count() + 1
                })
                .unwrap_or(rows.len() + 1);
            while rows.len() + 1 < line {
                rows.push(Vec::new());
            }
            rows.push(rec.iter().map(|s| Data::String(s.to_string())).collect());
        }
        return Ok(rows);
    }
    let mut book = calamine::open_workbook_auto_from_rs(Cursor::new(bytes.to_vec()))
        .map_err(|_| "无法识别的文件：请上传 .xlsx、.xls、.ods 或 .csv 文件".to_string())?;
    let range = book
        .worksheet_range_at(0)
        .ok_or_else(|| "工作簿中没有工作表".to_string())?
        .map_err(|e| format!("无法读取第一个工作表：{e}"))?;
    // Rows keep their sheet positions, so row numbers match what the user sees.
    let (start_row, start_col) = range.start().unwrap_or((0, 0));
    let mut rows: Vec<Vec<Data>> = vec![Vec::new(); start_row as usize];
    for r in range.rows() {
        let mut row = vec![Data::Empty; start_col as usize];
        row.extend(r.iter().cloned());
        rows.push(row);
    }
    Ok(rows)
}

/// The recognised columns: which, where, and the header as given.
type Header = Vec<(Col, usize, String)>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Col {
    Name,
    IdNumber,
    Mobile,
    Grid,
    Household,
    Elsewhere,
}

const SYNONYMS: [(Col, &[&str]); 6] = [
    (Col::Name, &["姓名", "名字", "居民姓名"]),
    (
        Col::IdNumber,
        &["身份证号", "身份证号码", "公民身份号码", "证件号码", "身份证"],
    ),
    (
        Col::Mobile,
        &["手机", "手机号", "手机号码", "联系电话", "电话", "联系方式"],
    ),
    (Col::Grid, &["网格编码", "网格代码", "所属网格编码", "网格"]),
    (Col::Household, &["门牌", "房号", "住址", "门牌号", "楼栋房号"]),
    (Col::Elsewhere, &["户籍", "是否外来人口", "外来人口", "户籍地"]),
];

fn header_col(text: &str) -> Option<Col> {
    let t: String = text.chars().filter(|c| !c.is_whitespace() && *c != '*').collect();
    SYNONYMS
        .iter()
        .find(|(_, names)| names.contains(&t.as_str()))
        .map(|(c, _)| *c)
}

/// Finds the header row among the first 20 rows: the first one naming 姓名 and 网格.
fn find_header(rows: &[Vec<Data>]) -> Result<(usize, Header), String> {
    for (i, row) in rows.iter().take(20).enumerate() {
        let cols: Vec<(Col, usize, String)> = row
            .iter()
            .enumerate()
            .filter_map(|(j, c)| {
                let text = cell_text(c).ok()?;
                header_col(&text).map(|col| (col, j, text))
            })
            .collect();
        let has = |c: Col| cols.iter().any(|(x, _, _)| *x == c);
        if has(Col::Name) && has(Col::Grid) {
            let mut seen = Vec::new();
            let mut unique = Vec::new();
            for c in cols {
                if !seen.contains(&c.0) {
                    seen.push(c.0);
                    unique.push(c);
                }
            }
            return Ok((i, unique));
        }
    }
    Err("在前 20 行中没有找到表头：表头须包含“姓名”和“网格编码”两列（可选：身份证号、手机号码、门牌、户籍）".into())
}

/// A valid row, ready to write.
struct Candidate {
    draft: ResidentDraft,
    id_hash: Option<String>,
}

fn elsewhere(text: &str) -> Option<bool> {
    match text.trim() {
        "" | "否" | "本地" | "本市" | "N" | "n" | "0" | "户籍" => Some(false),
        "是" | "外地" | "外来" | "外来人口" | "Y" | "y" | "1" | "流动人口" => Some(true),
        _ => None,
    }
}

impl Store {
    /// Validates every row of a resident workbook and, when `commit`, writes the valid rows in
    /// one transaction. `progress` is told (rows done, rows in all).
    pub async fn import_residents(
        &self,
        actor: &Actor,
        filename: &str,
        bytes: &[u8],
        options: ImportOptions,
        client: &str,
        progress: crate::demo::Progress<'_>,
    ) -> StoreResult<ImportReport> {
        let ImportOptions { on_duplicate, commit } = options;
        let rows = read_rows(filename, bytes).map_err(|m| StoreError::field("file", m))?;
        let (header, cols) = find_header(&rows).map_err(|m| StoreError::field("file", m))?;
        let data: Vec<(usize, &Vec<Data>)> = rows
            .iter()
            .enumerate()
            .skip(header + 1)
            .filter(|(_, r)| {
                r.iter()
                    .any(|c| !matches!(c, Data::Empty) && cell_text(c).map(|t| !t.is_empty()).unwrap_or(true))
            })
            .map(|(i, r)| (i + 1, r))
            .collect();
        if data.len() > MAX_ROWS {
            return Err(StoreError::field(
                "file",
                format!("一次最多导入 {MAX_ROWS} 行，文件有 {} 行", data.len()),
            ));
        }
        let mut report = ImportReport {
            data_rows: data.len(),
            header_row: header + 1,
            ..ImportReport::default()
        };
        let grids = self.grids_for_people(actor).await?;
        let mut candidates: Vec<Candidate> = Vec::with_capacity(data.len());
        let mut first_row_of: HashMap<String, usize> = HashMap::new();
        for (n, (row_no, row)) in data.iter().enumerate() {
            if n % 5000 == 0 {
                progress("校验", n as u64, data.len() as u64);
            }
            let mut issues = Vec::new();
            let mut get = |col: Col| -> (String, String) {
                let Some((_, j, head)) = cols.iter().find(|(c, _, _)| *c == col) else {
                    return (String::new(), String::new());
                };
                let cell = row.get(*j).unwrap_or(&Data::Empty);
                match cell_text(cell) {
                    Ok(t) => (t, head.clone()),
                    Err(reason) => {
                        issues.push(RowIssue {
                            row: *row_no,
                            column: head.clone(),
                            value: format!("{cell}"),
                            reason: reason.into(),
                        });
                        (String::new(), head.clone())
                    }
                }
            };
            let (name, _) = get(Col::Name);
            let (id_number, _) = get(Col::IdNumber);
            let (mobile, _) = get(Col::Mobile);
            let (grid, grid_head) = get(Col::Grid);
            let (household, _) = get(Col::Household);
            let (origin, origin_head) = get(Col::Elsewhere);
            if !issues.is_empty() {
                report.rejected.extend(issues);
                continue;
            }
            let home = grids.get(grid.as_str()).copied();
            let registered_elsewhere = elsewhere(&origin);
            let form = ResidentForm {
                name,
                id_number: id_number.clone(),
                mobile,
                home_node_id: home,
                household,
                registered_elsewhere: registered_elsewhere.unwrap_or(false),
            };
            let mut row_issues: Vec<RowIssue> = Vec::new();
            let draft = match ResidentDraft::try_from(&form) {
                Ok(d) => Some(d),
                Err(v) => {
                    for e in v.0 {
                        let (column, value) = match e.field.as_str() {
                            "home_node_id" => (grid_head.clone(), grid.clone()),
                            f => (
                                cols.iter()
                                    .find(|(c, _, _)| {
                                        matches!(
                                            (c, f),
                                            (Col::Name, "name")
                                                | (Col::IdNumber, "id_number")
                                                | (Col::Mobile, "mobile")
                                                | (Col::Household, "household")
                                        )
                                    })
                                    .map(|(_, _, h)| h.clone())
                                    .unwrap_or_else(|| f.to_string()),
                                match f {
                                    "name" => form.name.clone(),
                                    "id_number" => form.id_number.clone(),
                                    "mobile" => form.mobile.clone(),
                                    _ => form.household.clone(),
                                },
                            ),
                        };
                        let reason = if e.field == "home_node_id" {
                            if grid.is_empty() {
                                "网格编码不能为空".to_string()
                            } else {
                                "网格编码不存在，或不是您管理范围内的二、三级网格".to_string()
                            }
                        } else {
                            e.message
                        };
                        row_issues.push(RowIssue {
                            row: *row_no,
                            column,
                            value,
                            reason,
                        });
                    }
                    None
                }
            };
            if registered_elsewhere.is_none() {
                row_issues.push(RowIssue {
                    row: *row_no,
                    column: origin_head,
                    value: origin.clone(),
                    reason: "应填“本地”或“外地”（或 是/否）".into(),
                });
            }
            let Some(draft) = draft.filter(|_| row_issues.is_empty()) else {
                report.rejected.extend(row_issues);
                continue;
            };
            let id_hash = draft
                .id_number
                .as_ref()
                .map(|n| self.keys.lookup_hash(ID_FIELD, n.as_str()));
            if let Some(h) = &id_hash {
                if let Some(first) = first_row_of.get(h) {
                    report.rejected.push(RowIssue {
                        row: *row_no,
                        column: cols
                            .iter()
                            .find(|(c, _, _)| *c == Col::IdNumber)
                            .map(|c| c.2.clone())
                            .unwrap_or_default(),
                        value: id_number,
                        reason: format!("与第 {first} 行的身份证号重复"),
                    });
                    continue;
                }
                first_row_of.insert(h.clone(), *row_no);
            }
            candidates.push(Candidate { draft, id_hash });
        }
        report.valid = candidates.len();
        // Which ID numbers are registered already (by keyed hash).
        let hashes: Vec<String> = candidates.iter().filter_map(|c| c.id_hash.clone()).collect();
        let mut existing: HashMap<String, i64> = HashMap::new();
        for chunk in hashes.chunks(500) {
            let mut sql = Sql::new("SELECT id_number_hash, id FROM persons WHERE id_number_hash IN ");
            sql.bind_list(chunk);
            for (h, id) in sql.query_as::<(String, i64)>().fetch_all(&self.pool).await? {
                existing.insert(h, id);
            }
        }
        let (new, old): (Vec<&Candidate>, Vec<&Candidate>) = candidates
            .iter()
            .partition(|c| c.id_hash.as_ref().is_none_or(|h| !existing.contains_key(h)));
        match on_duplicate {
            OnDuplicate::Skip => report.unchanged = old.len(),
            OnDuplicate::Update => report.updated = old.len(),
        }
        report.inserted = new.len();
        report.rejected.sort_by_key(|i| i.row);
        if !commit {
            progress("校验", data.len() as u64, data.len() as u64);
            return Ok(report);
        }
        let now = now_text();
        let mut tx = self.begin_write().await?;
        let total = (new.len()
            + if on_duplicate == OnDuplicate::Update {
                old.len()
            } else {
                0
            }) as u64;
        let mut done = 0u64;
        for chunk in new.chunks(crate::sql::ROWS_PER_INSERT) {
            let mut sql = Sql::new(
                "INSERT INTO persons (name, id_number_enc, id_number_hash, id_number_masked, birth_date, sex, mobile_enc, \
                 mobile_hash, mobile_masked, home_node_id, household, registered_elsewhere, status, created_at, updated_at) VALUES ",
            );
            for (i, c) in chunk.iter().enumerate() {
                let d = &c.draft;
                if i > 0 {
                    sql.push(", ");
                }
                sql.push("(")
                    .bind(d.name.as_str().to_string())
                    .push(", ")
                    .bind(
                        d.id_number
                            .as_ref()
                            .map(|n| self.keys.encrypt(ID_FIELD, n.as_str()))
                            .transpose()?,
                    )
                    .push(", ")
                    .bind(c.id_hash.clone())
                    .push(", ")
                    .bind(d.id_number.as_ref().map(|n| n.masked()))
                    .push(", ")
                    .bind(
                        d.id_number
                            .as_ref()
                            .map(|n| n.birth_date().format("%Y-%m-%d").to_string()),
                    )
                    .push(", ")
                    .bind(d.id_number.as_ref().map(|n| sex_key(n).to_string()))
                    .push(", ")
                    .bind(
                        d.mobile
                            .as_ref()
                            .map(|m| self.keys.encrypt(MOBILE_FIELD, m.as_str()))
                            .transpose()?,
                    )
                    .push(", ")
                    .bind(
                        d.mobile
                            .as_ref()
                            .map(|m| self.keys.lookup_hash(MOBILE_FIELD, m.as_str())),
                    )
                    .push(", ")
                    .bind(d.mobile.as_ref().map(|m| m.masked()))
                    .push(", ")
                    .bind(d.home_node_id)
                    .push(", ")
                    .bind(d.household.clone())
                    .push(", ")
                    .bind(i64::from(d.registered_elsewhere))
                    .push(", 'active', ")
                    .bind(&now)
                    .push(", ")
                    .bind(&now)
                    .push(")");
            }
            sql.query().execute(&mut *tx).await?;
            done += chunk.len() as u64;
            progress("写入", done, total);
        }
        if on_duplicate == OnDuplicate::Update {
            for c in &old {
                let d = &c.draft;
                let id = c
                    .id_hash
                    .as_ref()
                    .and_then(|h| existing.get(h))
                    .copied()
                    .unwrap_or_default();
                sqlx::query(
                    "UPDATE persons SET name = $1, mobile_enc = $2, mobile_hash = $3, mobile_masked = $4, home_node_id = $5, \
                     household = $6, registered_elsewhere = $7, updated_at = $8 WHERE id = $9",
                )
                .bind(d.name.as_str().to_string())
                .bind(d.mobile.as_ref().map(|m| self.keys.encrypt(MOBILE_FIELD, m.as_str())).transpose()?)
                .bind(d.mobile.as_ref().map(|m| self.keys.lookup_hash(MOBILE_FIELD, m.as_str())))
                .bind(d.mobile.as_ref().map(|m| m.masked()))
                .bind(d.home_node_id)
                .bind(d.household.clone())
                .bind(i64::from(d.registered_elsewhere))
                .bind(&now)
                .bind(id)
                .execute(&mut *tx)
                .await?;
                done += 1;
                if done.is_multiple_of(1000) {
                    progress("写入", done, total);
                }
            }
        }
        append(
            &mut tx,
            &AuditEvent::by(
                actor,
                "person.import",
                format!("file:{}", filename.chars().take(100).collect::<String>()),
                client,
            )
            .with_detail(format!(
                "{} rows: {} inserted, {} updated, {} unchanged, {} rejected",
                report.data_rows,
                report.inserted,
                report.updated,
                report.unchanged,
                report.rejected.len()
            )),
        )
        .await?;
        tx.commit().await?;
        // A bulk load changes the table's shape at once: fresh statistics keep the planner on
        // the hash index for the next import's look-ups (PostgreSQL would otherwise scan).
        if report.inserted > 1000 {
            sqlx::query("ANALYZE persons").execute(&self.pool).await?;
        }
        report.committed = true;
        progress("完成", total, total);
        Ok(report)
    }

    /// Grid codes where the actor may register residents, with their ids.
    async fn grids_for_people(&self, actor: &Actor) -> StoreResult<HashMap<String, i64>> {
        let mut sql = Sql::new("SELECT code, id FROM nodes n WHERE n.status = 'active' AND n.level IN ");
        sql.bind_list(&[Level::GridL2.as_i64(), Level::GridL3.as_i64()])
            .push(" AND ");
        scope::push_filter(&mut sql, actor, Right::ManagePeople, "n.path");
        Ok(sql
            .query_as::<(String, i64)>()
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .collect())
    }

    /// Keeps an upload until it is committed (any node can then finish it).
    pub async fn stash_import(&self, actor: &Actor, kind: &str, filename: &str, bytes: &[u8]) -> StoreResult<i64> {
        Ok(sqlx::query_scalar(
            "INSERT INTO imports (user_id, kind, filename, payload, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(actor.user_id)
        .bind(kind)
        .bind(filename)
        .bind(bytes.to_vec())
        .bind(now_text())
        .fetch_one(&self.pool)
        .await?)
    }

    /// The actor's own stashed upload: file name, bytes (until committed) and the report.
    pub async fn stashed_import(
        &self,
        actor: &Actor,
        id: i64,
    ) -> StoreResult<(String, Option<Vec<u8>>, Option<String>)> {
        sqlx::query_as("SELECT filename, payload, report FROM imports WHERE id = $1 AND user_id = $2")
            .bind(id)
            .bind(actor.user_id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)
    }

    /// Records the outcome of a committed upload and drops its bytes.
    pub async fn finish_import(&self, actor: &Actor, id: i64, report: &ImportReport) -> StoreResult<()> {
        sqlx::query("UPDATE imports SET payload = NULL, committed_at = $1, report = $2 WHERE id = $3 AND user_id = $4")
            .bind(now_text())
            .bind(serde_json::to_string(report).unwrap_or_default())
            .bind(id)
            .bind(actor.user_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

fn sex_key(n: &gongjian_domain::ids::IdNumber) -> &'static str {
    match n.sex() {
        gongjian_domain::ids::Sex::Male => "male",
        gongjian_domain::ids::Sex::Female => "female",
    }
}

/// The refused rows as an xlsx workbook (row, column, value as given, reason).
pub fn rejected_workbook(issues: &[RowIssue]) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("未导入的行")?;
    let bold = rust_xlsxwriter::Format::new().set_bold();
    let text = rust_xlsxwriter::Format::new().set_num_format("@");
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
    book.save_to_buffer()
}
