//! Reading a spreadsheet as people make them: the first sheet of a workbook or a CSV file in
//! UTF-8 or GB18030 ([`super::read`]); the header row found wherever it is (also under a merged
//! title cell, or as two rows under merged group cells); cells normalised (full-width
//! characters, stray spaces, numbers Excel made of digit strings, date cells). Rows arrive one
//! at a time and a data row keeps only the cells of the columns the header names, so memory
//! follows the rows and columns an import uses, not the width of the sheet.

use std::borrow::Cow;

use calamine::Data;
use gongjian_domain::Validation;
use gongjian_domain::ids::normalize_cell;

use super::read::{TextBudget, each_row};
use super::{MAX_ROWS, RowIssue};

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
    /// The recognised columns; a data row holds their cells in this order.
    cols: Vec<Found>,
    /// The data rows' 1-based numbers, blank rows left out.
    numbers: Vec<usize>,
    /// Their cells, `cols.len()` a row, row after row.
    cells: Vec<Kept>,
    /// The text of every text cell, one after another.
    text: String,
}

/// A cell a data row keeps: its text in the sheet's text (no allocation of its own), or another
/// value — a number, a date — boxed. Sixteen bytes, where a `Data` takes 32 and its text
/// another allocation: 300,000 rows of five columns take some 45 MB rather than 110.
#[derive(Debug, Clone)]
enum Kept {
    Empty,
    Text { start: u32, len: u32 },
    Value(Box<Data>),
}

/// The rows that may hold the header: it is looked for in the first 20, the row below the last
/// of them included (a two-row header).
const HEAD_ROWS: usize = 21;

/// Whether any cell of the row holds something (an unreadable cell does).
fn is_data(row: &[Data]) -> bool {
    row.iter().any(|c| cell_text(c).map(|t| !t.is_empty()).unwrap_or(true))
}

/// The header among the first rows: the first row that, alone or with the row below when that
/// row holds only header names (a header under merged group cells), names every required
/// column. Its first and last rows (0-based) and its columns.
fn find_header(specs: &[Spec], rows: &[Vec<Data>]) -> Option<(usize, usize, Vec<Found>)> {
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
            return Some((i, last, unique));
        }
    }
    None
}

fn no_header(specs: &[Spec]) -> String {
    let required: Vec<String> = specs
        .iter()
        .filter(|s| s.required)
        .map(|s| format!("“{}”", s.names[0]))
        .collect();
    let optional: Vec<&str> = specs.iter().filter(|s| !s.required).map(|s| s.names[0]).collect();
    format!(
        "在前 20 行中没有找到表头：表头须包含{}（可选：{}）",
        required.join("、"),
        optional.join("、")
    )
}

/// A sheet being read: the first rows until the header is found, then the data rows.
struct Gather {
    specs: &'static [Spec],
    head: Vec<Vec<Data>>,
    header: Option<(usize, usize, Vec<Found>)>,
    numbers: Vec<usize>,
    cells: Vec<Kept>,
    text: String,
    budget: TextBudget,
}

impl Gather {
    /// Takes the row at `index` (0-based; rows not given are blank).
    fn row(&mut self, index: usize, cells: Vec<Data>) -> Result<(), String> {
        if self.header.is_none() {
            if index < HEAD_ROWS {
                self.budget.take(&cells)?;
                self.head.resize_with(index, Vec::new);
                self.head.push(cells);
                return Ok(());
            }
            self.find()?;
        }
        self.data(index, cells)
    }

    /// Finds the header among the first rows; the rows below it are data.
    fn find(&mut self) -> Result<(), String> {
        let (first, last, cols) = find_header(self.specs, &self.head).ok_or_else(|| no_header(self.specs))?;
        self.header = Some((first, last, cols));
        let head = std::mem::take(&mut self.head);
        for (index, cells) in head.into_iter().enumerate().skip(last + 1) {
            self.data(index, cells)?;
        }
        Ok(())
    }

    /// Keeps a data row's cells of the recognised columns, unless the row is blank.
    fn data(&mut self, index: usize, mut cells: Vec<Data>) -> Result<(), String> {
        if !is_data(&cells) {
            return Ok(());
        }
        if self.numbers.len() >= MAX_ROWS {
            return Err(format!(
                "一次最多导入 {MAX_ROWS} 行数据，文件超过了这个数目：请分成几个文件导入"
            ));
        }
        let cols = self.header.as_ref().map(|h| h.2.as_slice()).unwrap_or_default();
        let kept: Vec<Data> = cols
            .iter()
            .map(|f| cells.get_mut(f.index).map(std::mem::take).unwrap_or(Data::Empty))
            .collect();
        // The budget keeps the text under MAX_TEXT_BYTES, well within a u32 offset.
        self.budget.take(&kept)?;
        for cell in kept {
            self.cells.push(match cell {
                Data::Empty => Kept::Empty,
                Data::String(s) if s.is_empty() => Kept::Empty,
                Data::String(s) => {
                    let start = self.text.len() as u32;
                    self.text.push_str(&s);
                    Kept::Text {
                        start,
                        len: s.len() as u32,
                    }
                }
                other => Kept::Value(Box::new(other)),
            });
        }
        self.numbers.push(index + 1);
        Ok(())
    }
}

impl Sheet {
    /// Reads `bytes` and finds the header among the first 20 rows: the first row that, alone
    /// or with the row below when that row holds only header names (a header under merged
    /// group cells), names every required column.
    pub fn read(filename: &str, bytes: &[u8], specs: &'static [Spec]) -> Result<Sheet, String> {
        let mut gather = Gather {
            specs,
            head: Vec::new(),
            header: None,
            numbers: Vec::new(),
            cells: Vec::new(),
            text: String::new(),
            budget: TextBudget::default(),
        };
        each_row(filename, bytes, &mut |index, cells| gather.row(index, cells))?;
        if gather.header.is_none() {
            gather.find()?;
        }
        let Some((first, _, cols)) = gather.header else {
            return Err(no_header(specs));
        };
        gather.text.shrink_to_fit();
        gather.cells.shrink_to_fit();
        Ok(Sheet {
            specs,
            header_row: first + 1,
            cols,
            numbers: gather.numbers,
            cells: gather.cells,
            text: gather.text,
        })
    }

    pub fn len(&self) -> usize {
        self.numbers.len()
    }

    /// The data rows, each ready to be read column by column.
    pub fn rows(&self) -> impl Iterator<Item = Row<'_>> {
        let width = self.cols.len().max(1);
        self.numbers
            .iter()
            .zip(self.cells.chunks(width))
            .map(|(no, cells)| Row {
                no: *no,
                cells,
                sheet: self,
                issues: Vec::new(),
            })
    }

    /// A kept cell as the value it was read as (a text cell's text owned again).
    fn data<'a>(&'a self, cell: &'a Kept) -> Cow<'a, Data> {
        match cell {
            Kept::Empty => Cow::Owned(Data::Empty),
            Kept::Text { start, len } => {
                let (start, len) = (*start as usize, *len as usize);
                Cow::Owned(Data::String(self.text[start..start + len].to_string()))
            }
            Kept::Value(v) => Cow::Borrowed(v),
        }
    }

    /// The column's header as given, or its usual name when the file has no such column.
    pub fn head(&self, col: Col) -> String {
        self.index(col)
            .map(|(_, c)| c.head.clone())
            .or_else(|| self.specs.iter().find(|s| s.col == col).map(|s| s.names[0].to_string()))
            .unwrap_or_default()
    }

    /// Where a data row holds the column's cell, and the column as found.
    fn index(&self, col: Col) -> Option<(usize, &Found)> {
        self.cols.iter().enumerate().find(|(_, c)| c.col == col)
    }
}

/// One data row being checked; what is wrong with it collects in `issues`.
pub(crate) struct Row<'a> {
    pub no: usize,
    cells: &'a [Kept],
    sheet: &'a Sheet,
    pub issues: Vec<RowIssue>,
}

impl Row<'_> {
    /// The column's text, normalised; empty when the file has no such column. An unreadable
    /// cell is an issue and reads as empty.
    pub fn text(&mut self, col: Col) -> String {
        let Some((slot, found)) = self.sheet.index(col) else {
            return String::new();
        };
        let cell = self.cells.get(slot).unwrap_or(&Kept::Empty);
        if let Kept::Text { start, len } = cell {
            let (start, len) = (*start as usize, *len as usize);
            return normalize_cell(&self.sheet.text[start..start + len]);
        }
        let cell = self.sheet.data(cell);
        match cell_text(&cell) {
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
            .and_then(|(slot, _)| self.cells.get(slot))
            .map(|c| self.sheet.data(c))
            .map(|c| cell_text(&c).unwrap_or_else(|_| format!("{c}")))
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
