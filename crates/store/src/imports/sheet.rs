//! Reading a spreadsheet as people make them: the first sheet of a workbook or a CSV file in
//! UTF-8 or GB18030; the header row found wherever it is (also under a merged title cell, or
//! as two rows under merged group cells); cells normalised (full-width characters, stray
//! spaces, numbers Excel made of digit strings, date cells).

use std::io::Cursor;

use calamine::{Data, Reader};
use gongjian_domain::Validation;
use gongjian_domain::ids::normalize_cell;

use super::{MAX_BYTES, MAX_ROWS, RowIssue};

/// A column an import knows, whatever its header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Col {
    Name,
    IdNumber,
    Mobile,
    Grid,
    Household,
    Elsewhere,
    Org,
    MemberStatus,
    JoinedOn,
    FullOn,
    CreditCode,
    UnitKind,
    Place,
    Address,
    Contact,
    Title,
    Post,
    Grade,
    StartedOn,
}

/// A column of one kind of import: the names its header may carry (the first is shown when
/// the column is missing), and whether the header row must have it.
pub(crate) struct Spec {
    pub col: Col,
    pub names: &'static [&'static str],
    pub required: bool,
}

/// The names an ID-number column goes by.
pub(crate) const ID_NAMES: &[&str] = &["身份证号", "身份证号码", "公民身份号码", "证件号码", "身份证"];

/// A recognised column: which, where, and its header as given.
struct Found {
    col: Col,
    index: usize,
    head: String,
}

/// A cell as text, or the reason it cannot be read as text safely.
pub(crate) fn cell_text(cell: &Data) -> Result<String, &'static str> {
    Ok(match cell {
        Data::Empty => String::new(),
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => normalize_cell(s),
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
    gongjian_domain::dates::from_excel_serial(serial)
        .map(gongjian_domain::dates::day_text)
        .unwrap_or_default()
}

/// Reads the first sheet of a workbook, or a CSV file, as rows of cells; rows keep the numbers
/// the user sees.
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
        return read_csv(bytes);
    }
    let mut book = calamine::open_workbook_auto_from_rs(Cursor::new(bytes.to_vec()))
        .map_err(|_| "无法识别的文件：请上传 .xlsx、.xls、.ods 或 .csv 文件".to_string())?;
    let range = book
        .worksheet_range_at(0)
        .ok_or_else(|| "工作簿中没有工作表".to_string())?
        .map_err(|e| format!("无法读取第一个工作表：{e}"))?;
    let (start_row, start_col) = range.start().unwrap_or((0, 0));
    let mut rows: Vec<Vec<Data>> = vec![Vec::new(); start_row as usize];
    for r in range.rows() {
        let mut row = vec![Data::Empty; start_col as usize];
        row.extend(r.iter().cloned());
        rows.push(row);
    }
    Ok(rows)
}

fn read_csv(bytes: &[u8]) -> Result<Vec<Vec<Data>>, String> {
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
    Ok(rows)
}

/// The column a header cell names, if any: spaces, `*` marks and a bracketed remark
/// (`入党日期（年/月/日）`) do not count.
fn header_col(specs: &[Spec], text: &str) -> Option<Col> {
    let t: String = normalize_cell(text)
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '*' && *c != ':')
        .collect();
    let bare = t.split(['(', '[']).next().unwrap_or("");
    [t.as_str(), bare]
        .into_iter()
        .find_map(|t| specs.iter().find(|s| s.names.contains(&t)).map(|s| s.col))
}

/// The recognised columns of a row, and whether every non-empty cell of it is a header name.
fn recognise(specs: &[Spec], row: &[Data]) -> (Vec<Found>, bool) {
    let mut found = Vec::new();
    let mut all = true;
    for (index, cell) in row.iter().enumerate() {
        let Ok(head) = cell_text(cell) else {
            all = false;
            continue;
        };
        match header_col(specs, &head) {
            Some(col) => found.push(Found { col, index, head }),
            None if !head.is_empty() => all = false,
            None => {}
        }
    }
    (found, all)
}

/// A spreadsheet with its header found and its data rows collected.
pub(crate) struct Sheet {
    specs: &'static [Spec],
    /// The first header row (1-based).
    pub header_row: usize,
    cols: Vec<Found>,
    /// Data rows with their 1-based numbers; blank rows left out.
    rows: Vec<(usize, Vec<Data>)>,
}

impl Sheet {
    /// Reads `bytes` and finds the header among the first 20 rows: the first row that, alone
    /// or with the row below when that row holds only header names (a header under merged
    /// group cells), names every required column.
    pub fn read(filename: &str, bytes: &[u8], specs: &'static [Spec]) -> Result<Sheet, String> {
        let mut rows = read_rows(filename, bytes)?;
        let mut header = None;
        for i in 0..rows.len().min(20) {
            let (mut cols, _) = recognise(specs, &rows[i]);
            if cols.is_empty() {
                continue;
            }
            let mut last = i;
            if let Some(next) = rows.get(i + 1) {
                let (below, only_names) = recognise(specs, next);
                if only_names && !below.is_empty() {
                    last = i + 1;
                    for f in below {
                        if !cols.iter().any(|c| c.col == f.col || c.index == f.index) {
                            cols.push(f);
                        }
                    }
                }
            }
            let mut unique: Vec<Found> = Vec::new();
            for c in cols {
                if !unique.iter().any(|u| u.col == c.col) {
                    unique.push(c);
                }
            }
            if specs
                .iter()
                .filter(|s| s.required)
                .all(|s| unique.iter().any(|u| u.col == s.col))
            {
                header = Some((i, last, unique));
                break;
            }
        }
        let Some((first, last, cols)) = header else {
            let required: Vec<String> = specs
                .iter()
                .filter(|s| s.required)
                .map(|s| format!("“{}”", s.names[0]))
                .collect();
            let optional: Vec<&str> = specs.iter().filter(|s| !s.required).map(|s| s.names[0]).collect();
            return Err(format!(
                "在前 20 行中没有找到表头：表头须包含{}（可选：{}）",
                required.join("、"),
                optional.join("、")
            ));
        };
        let data: Vec<(usize, Vec<Data>)> = rows
            .drain(..)
            .enumerate()
            .skip(last + 1)
            .filter(|(_, r)| r.iter().any(|c| cell_text(c).map(|t| !t.is_empty()).unwrap_or(true)))
            .map(|(i, r)| (i + 1, r))
            .collect();
        if data.len() > MAX_ROWS {
            return Err(format!("一次最多导入 {MAX_ROWS} 行，文件有 {} 行", data.len()));
        }
        Ok(Sheet {
            specs,
            header_row: first + 1,
            cols,
            rows: data,
        })
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// The data rows, each ready to be read column by column.
    pub fn rows(&self) -> impl Iterator<Item = Row<'_>> {
        self.rows.iter().map(|(no, cells)| Row {
            no: *no,
            cells,
            sheet: self,
            issues: Vec::new(),
        })
    }

    /// The column's header as given, or its usual name when the file has no such column.
    pub fn head(&self, col: Col) -> String {
        self.index(col)
            .map(|c| c.head.clone())
            .or_else(|| self.specs.iter().find(|s| s.col == col).map(|s| s.names[0].to_string()))
            .unwrap_or_default()
    }

    fn index(&self, col: Col) -> Option<&Found> {
        self.cols.iter().find(|c| c.col == col)
    }
}

/// One data row being checked; what is wrong with it collects in `issues`.
pub(crate) struct Row<'a> {
    pub no: usize,
    cells: &'a [Data],
    sheet: &'a Sheet,
    pub issues: Vec<RowIssue>,
}

impl Row<'_> {
    /// The column's text, normalised; empty when the file has no such column. An unreadable
    /// cell is an issue and reads as empty.
    pub fn text(&mut self, col: Col) -> String {
        let Some(found) = self.sheet.index(col) else {
            return String::new();
        };
        let cell = self.cells.get(found.index).unwrap_or(&Data::Empty);
        match cell_text(cell) {
            Ok(t) => t,
            Err(reason) => {
                self.issues.push(RowIssue {
                    row: self.no,
                    column: found.head.clone(),
                    value: format!("{cell}"),
                    reason: reason.into(),
                });
                String::new()
            }
        }
    }

    /// The column's header as given (or the column's usual name).
    pub fn head(&self, col: Col) -> String {
        self.sheet.head(col)
    }

    /// The column's text as given, for a report.
    fn value(&self, col: Col) -> String {
        self.sheet
            .index(col)
            .and_then(|f| self.cells.get(f.index))
            .map(|c| cell_text(c).unwrap_or_else(|_| format!("{c}")))
            .unwrap_or_default()
    }

    /// What is doubtful or wrong about the column's cell.
    pub fn issue(&self, col: Col, reason: impl Into<String>) -> RowIssue {
        RowIssue {
            row: self.no,
            column: self.head(col),
            value: self.value(col),
            reason: reason.into(),
        }
    }

    /// Records an issue with the column's cell.
    pub fn reject(&mut self, col: Col, reason: impl Into<String>) {
        let issue = self.issue(col, reason);
        self.issues.push(issue);
    }

    /// The domain's per-field refusals as issues of the columns the fields came from.
    pub fn reject_fields(&mut self, v: &Validation, fields: &[(&str, Col)]) {
        for e in &v.0 {
            match fields.iter().find(|(f, _)| *f == e.field) {
                Some((_, col)) => self.reject(*col, e.message.clone()),
                None => self.issues.push(RowIssue {
                    row: self.no,
                    column: e.field.clone(),
                    value: String::new(),
                    reason: e.message.clone(),
                }),
            }
        }
    }

    /// The value of a domain conversion, its refusals recorded as issues.
    pub fn convert<T>(&mut self, converted: Result<T, Validation>, fields: &[(&str, Col)]) -> Option<T> {
        match converted {
            Ok(v) => Some(v),
            Err(v) => {
                self.reject_fields(&v, fields);
                None
            }
        }
    }

    /// Whether the column's cell has an issue already (an unreadable cell reads as empty).
    pub fn refused(&self, col: Col) -> bool {
        let head = self.head(col);
        self.issues.iter().any(|i| i.column == head)
    }

    /// Whether nothing is wrong with the row so far.
    pub fn ok(&self) -> bool {
        self.issues.is_empty()
    }
}
