//! The rows of a spreadsheet, read within bounds: the first sheet of an .xlsx (its cells
//! streamed, never a dense range), .xls or .ods (checked by [`super::guard`] before calamine
//! reads it whole), or a CSV file in UTF-8 or GB18030 (parsed in one pass). Rows are handed
//! over one at a time, in order, with trailing empty cells left off; a file that would go
//! past the limits in [`super`] is refused with a message that names what is wrong.

use std::borrow::Cow;
use std::io::Cursor;
use std::panic::{AssertUnwindSafe, catch_unwind};

use calamine::{Data, Reader};

use super::guard::{self, PASSWORD, Package};
use super::{MAX_BYTES, MAX_CELL_CHARS, MAX_COLS, MAX_ROWS, MAX_TEXT_BYTES};

/// What a file that is no spreadsheet gets.
pub(crate) const UNRECOGNISED: &str = "无法识别的文件：请上传 .xlsx、.xls、.ods 或 .csv 文件";

/// Fields a CSV line may have, empty ones included (Excel's column count); a line with more
/// is refused before its fields are collected.
const MAX_CSV_FIELDS: usize = 16_384;

/// Rows of an Excel sheet.
const EXCEL_ROWS: usize = 1_048_576;

/// Where the rows go: the 0-based row number (increasing; rows not handed over are blank) and
/// the row's cells, trailing empty cells left off.
pub(crate) type Sink<'a> = dyn FnMut(usize, Vec<Data>) -> Result<(), String> + 'a;

/// Reads the first sheet of a workbook, or a CSV file, as rows of cells (blank rows empty);
/// rows keep the numbers the user sees.
pub fn read_rows(filename: &str, bytes: &[u8]) -> Result<Vec<Vec<Data>>, String> {
    let mut rows: Vec<Vec<Data>> = Vec::new();
    let mut text = TextBudget::default();
    each_row(filename, bytes, &mut |index, cells| {
        text.take(&cells)?;
        rows.resize_with(index, Vec::new);
        rows.push(cells);
        Ok(())
    })?;
    Ok(rows)
}

/// Hands the rows of the first sheet of a workbook, or of a CSV file, to `sink` in order.
pub(crate) fn each_row(filename: &str, bytes: &[u8], sink: &mut Sink<'_>) -> Result<(), String> {
    if bytes.len() > MAX_BYTES {
        return Err(format!(
            "文件过大（{} MB），最大 {} MB",
            bytes.len() / 1_048_576,
            MAX_BYTES / 1_048_576
        ));
    }
    let lower = filename.to_lowercase();
    if lower.ends_with(".csv") || lower.ends_with(".txt") {
        return read_csv(bytes, sink);
    }
    let package = guard::inspect(bytes)?;
    // calamine is trusted with checked files only; should it still fail on one in a way the
    // checks did not foresee, the file is refused rather than the request lost.
    let read = catch_unwind(AssertUnwindSafe(|| match package {
        Package::Xlsx => read_xlsx(bytes, sink),
        Package::Ods => {
            let book = calamine::Ods::new(Cursor::new(bytes)).map_err(|e| match e {
                calamine::OdsError::Password => PASSWORD.to_string(),
                e => unreadable(&e),
            })?;
            read_dense(book, sink)
        }
        Package::Xls => {
            let book = calamine::Xls::new(Cursor::new(bytes)).map_err(|e| match e {
                calamine::XlsError::Password => PASSWORD.to_string(),
                e => unreadable(&e),
            })?;
            read_dense(book, sink)
        }
    }));
    read.unwrap_or_else(|_| Err("文件已损坏，无法读取：请用电子表格软件打开并另存后重新上传".into()))
}

fn unreadable(e: &dyn std::fmt::Display) -> String {
    tracing::debug!("workbook refused by calamine: {e}");
    UNRECOGNISED.to_string()
}

/// The column's letters (0 → A, 199 → GR, 16383 → XFD).
pub(crate) fn column_name(mut col: u64) -> String {
    let mut s = Vec::new();
    loop {
        s.push(b'A' + (col % 26) as u8);
        if col < 26 {
            break;
        }
        col = col / 26 - 1;
    }
    s.reverse();
    String::from_utf8(s).unwrap_or_default()
}

/// The refusal of a sheet whose used area reaches past the columns an import reads.
pub(crate) fn too_wide(what: &str) -> String {
    format!(
        "{what}，超出导入上限：最多 {MAX_COLS} 列（A 到 {} 列）、{MAX_ROWS} 行数据。请只保留要导入的列和行，另存后重新上传",
        column_name(MAX_COLS as u64 - 1)
    )
}

fn is_blank(cell: &Data) -> bool {
    match cell {
        Data::Empty => true,
        Data::String(s) => s.is_empty(),
        _ => false,
    }
}

/// The refusal of a cell longer than Excel allows, if `cell` is one.
fn check_cell(cell: &Data, row: usize, col: usize) -> Result<(), String> {
    if let Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) = cell
        && s.len() > MAX_CELL_CHARS
    {
        let chars = s.chars().count();
        if chars > MAX_CELL_CHARS {
            return Err(format!(
                "第 {} 行 {} 列的单元格有 {chars} 个字符，超过单元格上限 {MAX_CELL_CHARS} 个字符",
                row + 1,
                column_name(col as u64)
            ));
        }
    }
    Ok(())
}

/// Leaves off trailing empty cells and checks the rest: no content beyond the last column read,
/// no cell longer than Excel allows.
fn finish_row(mut cells: Vec<Data>, row: usize) -> Result<Vec<Data>, String> {
    while cells.last().is_some_and(is_blank) {
        cells.pop();
    }
    if cells.len() > MAX_COLS {
        return Err(too_wide(&format!(
            "第 {} 行 {} 列有内容",
            row + 1,
            column_name(cells.len() as u64 - 1)
        )));
    }
    for (col, cell) in cells.iter().enumerate() {
        check_cell(cell, row, col)?;
    }
    Ok(cells)
}

/// The text an import keeps, counted against [`MAX_TEXT_BYTES`].
#[derive(Default)]
pub(crate) struct TextBudget {
    used: usize,
}

impl TextBudget {
    /// Counts the text of `cells`, or refuses once the total goes past the limit.
    pub fn take(&mut self, cells: &[Data]) -> Result<(), String> {
        for cell in cells {
            if let Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) = cell {
                self.used = self.used.saturating_add(s.len());
            }
        }
        if self.used > MAX_TEXT_BYTES {
            return Err(format!(
                "文件中要导入的文字超过 {} MB，超出导入上限：请分成几个文件导入",
                MAX_TEXT_BYTES / 1_048_576
            ));
        }
        Ok(())
    }
}

/// The first sheet of an .xlsx file, its cells streamed in file order and gathered a row at a
/// time: memory follows the cells that have content, whatever the sheet declares.
fn read_xlsx(bytes: &[u8], sink: &mut Sink<'_>) -> Result<(), String> {
    let mut book = calamine::Xlsx::new(Cursor::new(bytes)).map_err(|e| match e {
        calamine::XlsxError::Password => PASSWORD.to_string(),
        e => unreadable(&e),
    })?;
    let Some(name) = book.sheet_names().into_iter().next() else {
        return Err("工作簿中没有工作表".into());
    };
    let mut cells = match book.worksheet_cells_reader(&name) {
        Ok(reader) => reader,
        // A chart sheet first: no cells.
        Err(calamine::XlsxError::NotAWorksheet(_)) => return Ok(()),
        Err(e) => return Err(format!("无法读取第一个工作表：{e}")),
    };
    let d = cells.dimensions();
    if d.end.1 as usize >= MAX_COLS {
        let (width, height) = (
            (d.end.1 as u64).saturating_sub(d.start.1 as u64) + 1,
            (d.end.0 as u64).saturating_sub(d.start.0 as u64) + 1,
        );
        return Err(too_wide(&format!(
            "工作表声明了 {width} 列 × {height} 行（{}{}:{}{}）",
            column_name(d.start.1 as u64),
            d.start.0 as u64 + 1,
            column_name(d.end.1 as u64),
            d.end.0 as u64 + 1
        )));
    }
    let mut current: Option<(usize, Vec<Data>)> = None;
    loop {
        let cell = cells.next_cell().map_err(|e| format!("无法读取第一个工作表：{e}"))?;
        let Some(cell) = cell else { break };
        let (row, col) = cell.get_position();
        let (row, col) = (row as usize, col as usize);
        let value: Data = cell.get_value().clone().into();
        if is_blank(&value) {
            continue;
        }
        if col >= MAX_COLS {
            return Err(too_wide(&format!(
                "第 {} 行 {} 列有内容",
                row + 1,
                column_name(col as u64)
            )));
        }
        if row >= EXCEL_ROWS {
            return Err(format!(
                "单元格的行号 {} 超出 Excel 的上限 {EXCEL_ROWS}：文件已损坏",
                row as u64 + 1
            ));
        }
        match &mut current {
            Some((at, cells)) if *at == row => {
                if cells.len() <= col {
                    cells.resize(col + 1, Data::Empty);
                }
                cells[col] = value;
            }
            Some((at, _)) if *at > row => {
                return Err(format!(
                    "工作表中第 {} 行出现在第 {} 行之后，文件结构异常：请用 Excel 打开并另存后重新上传",
                    row + 1,
                    *at + 1
                ));
            }
            _ => {
                if let Some((at, done)) = current.take() {
                    sink(at, finish_row(done, at)?)?;
                }
                let mut row_cells = vec![Data::Empty; col + 1];
                row_cells[col] = value;
                current = Some((row, row_cells));
            }
        }
    }
    if let Some((at, done)) = current {
        sink(at, finish_row(done, at)?)?;
    }
    Ok(())
}

/// The first sheet of a workbook calamine reads whole (.xls, .ods), its size checked before.
fn read_dense<R, B>(mut book: B, sink: &mut Sink<'_>) -> Result<(), String>
where
    R: std::io::Read + std::io::Seek,
    B: Reader<R>,
    B::Error: std::fmt::Display,
{
    let range = book
        .worksheet_range_at(0)
        .ok_or_else(|| "工作簿中没有工作表".to_string())?
        .map_err(|e| format!("无法读取第一个工作表：{e}"))?;
    let Some((start_row, start_col)) = range.start() else {
        return Ok(());
    };
    if range.end().is_some_and(|(_, col)| col as usize >= MAX_COLS) {
        return Err(too_wide(&format!("第一个工作表有 {} 列", range.width())));
    }
    for (i, r) in range.rows().enumerate() {
        let index = start_row as usize + i;
        let mut cells = vec![Data::Empty; start_col as usize];
        cells.extend(r.iter().cloned());
        let cells = finish_row(cells, index)?;
        if !cells.is_empty() {
            sink(index, cells)?;
        }
    }
    Ok(())
}

/// Line numbers of byte offsets asked for in increasing order, counted in one pass over the
/// text: each byte is looked at once, however many records there are. (Counting from the start
/// of the text for every record made reading a CSV file quadratic in its length.)
pub(crate) struct LineCounter<'t> {
    text: &'t [u8],
    /// Bytes counted so far, and the newlines among them.
    at: usize,
    newlines: usize,
    /// Bytes looked at in all (for the tests).
    pub scanned: usize,
}

impl<'t> LineCounter<'t> {
    pub fn new(text: &'t [u8]) -> LineCounter<'t> {
        LineCounter {
            text,
            at: 0,
            newlines: 0,
            scanned: 0,
        }
    }

    /// The 1-based line of the first byte at or after `offset` that is no line break (where a
    /// record that begins after blank lines really starts). `offset` may not go back.
    pub fn line_at(&mut self, offset: usize) -> usize {
        let mut to = offset.min(self.text.len());
        while matches!(self.text.get(to), Some(b'\n' | b'\r')) {
            to += 1;
        }
        if to > self.at {
            let part = &self.text[self.at..to];
            self.newlines += part.iter().filter(|b| **b == b'\n').count();
            self.scanned += part.len();
            self.at = to;
        }
        self.newlines + 1
    }
}

/// A CSV file in UTF-8 (with or without a byte-order mark) or else GB18030, parsed in one pass.
/// Blank lines are skipped; row numbers stay the file's line numbers.
fn read_csv(bytes: &[u8], sink: &mut Sink<'_>) -> Result<(), String> {
    let text: Cow<'_, str> = match std::str::from_utf8(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)) {
        Ok(t) => Cow::Borrowed(t),
        Err(_) => encoding_rs::GB18030.decode(bytes).0,
    };
    let input = text.as_bytes();
    let mut reader = csv_core::Reader::new();
    let mut lines = LineCounter::new(input);
    let (mut out, mut ends) = (vec![0u8; 4096], vec![0usize; 64]);
    let (mut pos, mut out_len, mut ends_len, mut record_start) = (0, 0, 0, 0);
    loop {
        let (result, read, written, ended) =
            reader.read_record(&input[pos..], &mut out[out_len..], &mut ends[ends_len..]);
        pos += read;
        out_len += written;
        ends_len += ended;
        match result {
            csv_core::ReadRecordResult::InputEmpty => {}
            // A field longer than the buffer: a record is never longer than the file.
            csv_core::ReadRecordResult::OutputFull => out.resize(out.len() * 2, 0),
            csv_core::ReadRecordResult::OutputEndsFull => {
                if ends.len() >= MAX_CSV_FIELDS {
                    let line = lines.line_at(record_start);
                    return Err(too_wide(&format!("第 {line} 行有超过 {MAX_CSV_FIELDS} 个字段")));
                }
                ends.resize(ends.len() * 2, 0);
            }
            csv_core::ReadRecordResult::Record => {
                let line = lines.line_at(record_start);
                let mut cells = Vec::with_capacity(ends_len.min(MAX_COLS));
                let mut from = 0;
                for end in &ends[..ends_len] {
                    let field = &out[from..*end];
                    from = *end;
                    if cells.len() >= MAX_COLS {
                        if field.is_empty() {
                            continue;
                        }
                        return Err(too_wide(&format!("第 {line} 行有 {ends_len} 列")));
                    }
                    cells.push(Data::String(String::from_utf8_lossy(field).into_owned()));
                }
                let cells = finish_row(cells, line - 1)?;
                if !cells.is_empty() {
                    sink(line - 1, cells)?;
                }
                record_start = pos;
                out_len = 0;
                ends_len = 0;
            }
            csv_core::ReadRecordResult::End => break,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_numbers_of_a_long_text_look_at_each_byte_once() {
        let rows = 20_000;
        let text: String = (0..rows).map(|i| format!("名字{i},{i}\n\n")).collect();
        let mut lines = LineCounter::new(text.as_bytes());
        let mut start = 0;
        for i in 0..rows {
            // The reader stops before the blank line that follows a record; the next record
            // begins after it.
            assert_eq!(lines.line_at(start.max(1) - 1), 2 * i + 1);
            start += format!("名字{i},{i}\n\n").len();
        }
        assert!(
            lines.scanned <= text.len(),
            "{} bytes looked at for a text of {}",
            lines.scanned,
            text.len()
        );
    }

    #[test]
    fn csv_rows_keep_their_line_numbers_and_leave_off_empty_ends() {
        let rows = read_rows(
            "a.csv",
            "\u{feff}姓名,号码,,\n\n\r\n张三,\"1,2\"\r\n\"多\n行\",x,,\n".as_bytes(),
        )
        .unwrap();
        let texts: Vec<Vec<String>> = rows.iter().map(|r| r.iter().map(|c| c.to_string()).collect()).collect();
        assert_eq!(
            texts,
            vec![
                vec!["姓名".to_string(), "号码".into()],
                vec![],
                vec![],
                vec!["张三".into(), "1,2".into()],
                vec!["多\n行".into(), "x".into()],
            ]
        );
    }

    #[test]
    fn csv_in_gb18030_is_decoded() {
        let (bytes, _, _) = encoding_rs::GB18030.encode("姓名,身份证号\n李四,1\n");
        let rows = read_rows("a.csv", &bytes).unwrap();
        assert_eq!(rows[1][0], Data::String("李四".into()));
    }

    #[test]
    fn a_csv_line_past_the_columns_is_refused_without_collecting_it() {
        let mut wide = "a,".repeat(MAX_COLS);
        wide.push_str("b\n");
        let e = read_rows("a.csv", wide.as_bytes()).unwrap_err();
        assert!(e.contains("第 1 行有 201 列") && e.contains("最多 200 列"), "{e}");
        // Empty fields past the last column are no content.
        let trailing = format!("a{}\n", ",".repeat(5000));
        assert_eq!(
            read_rows("a.csv", trailing.as_bytes()).unwrap(),
            vec![vec![Data::String("a".into())]]
        );
        let endless = format!("a{}\n", ",".repeat(MAX_CSV_FIELDS * 4));
        let e = read_rows("a.csv", endless.as_bytes()).unwrap_err();
        assert!(e.contains("超过 16384 个字段"), "{e}");
    }

    #[test]
    fn column_names() {
        assert_eq!(column_name(0), "A");
        assert_eq!(column_name(25), "Z");
        assert_eq!(column_name(26), "AA");
        assert_eq!(column_name(199), "GR");
        assert_eq!(column_name(16_383), "XFD");
    }
}
