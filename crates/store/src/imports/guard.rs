//! Checks of a workbook before calamine reads it: what kind of file it is, and whether reading
//! it stays within the import's limits. calamine sizes what it allocates by what a file
//! declares and holds .xls and .ods sheets densely, so a small hostile file could make it ask
//! for gigabytes; here a file is measured from its own structure — the zip directory, the
//! shared-string table, the sheets' declared dimensions and cells — without allocating in
//! proportion to any of it, and refused with a message that names what is wrong.

use std::io::{BufReader, Cursor};

use quick_xml::events::{BytesStart, Event};

use super::cfb::{self, CfbError};
use super::read::{UNRECOGNISED, column_name, too_wide};
use super::{
    MAX_COLS, MAX_DENSE_CELLS, MAX_PART_BYTES, MAX_SHARED_STRINGS, MAX_TEXT_BYTES, MAX_UNZIPPED_BYTES,
    MAX_WHOLE_PART_BYTES, MAX_XLS_STRINGS_BYTES,
};

/// A workbook that passed the checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Package {
    Xlsx,
    Ods,
    Xls,
}

/// Entries a zip file may declare (a workbook has tens, a few thousand with many pictures).
const MAX_ZIP_ENTRIES: u64 = 65_535;

pub(crate) const PASSWORD: &str = "文件设有密码：请取消密码后重新上传";
const BROKEN: &str = "文件已损坏，无法读取：请用电子表格软件打开并另存后重新上传";

fn mb(bytes: u64) -> u64 {
    bytes.div_ceil(1_048_576)
}

/// What kind of workbook `bytes` are, once they are known to stay within the limits.
pub(crate) fn inspect(bytes: &[u8]) -> Result<Package, String> {
    if cfb::is_cfb(bytes) {
        xls(bytes)?;
        return Ok(Package::Xls);
    }
    if zip64_entries(bytes) > MAX_ZIP_ENTRIES {
        return Err(format!("文件声明的压缩项超过 {MAX_ZIP_ENTRIES} 个：文件已损坏"));
    }
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|_| UNRECOGNISED.to_string())?;
    // Names as calamine looks them up: case aside, either slash.
    let mut parts = Vec::with_capacity(zip.len().min(10_000));
    let mut total: u64 = 0;
    for i in 0..zip.len() {
        let part = zip.by_index_raw(i).map_err(|_| UNRECOGNISED.to_string())?;
        let name = part.name().map(|n| n.to_string()).unwrap_or_default();
        let size = part.size();
        if size > MAX_PART_BYTES {
            return Err(format!(
                "文件中的“{name}”解压后有 {} MB，超出导入上限 {} MB（可能是压缩炸弹）",
                mb(size),
                mb(MAX_PART_BYTES)
            ));
        }
        total = total.saturating_add(size);
        if total > MAX_UNZIPPED_BYTES {
            return Err(format!(
                "文件解压后超过 {} MB，超出导入上限（可能是压缩炸弹）",
                mb(MAX_UNZIPPED_BYTES)
            ));
        }
        let lower = name.replace('\\', "/").to_ascii_lowercase();
        // Parts calamine reads whole into memory.
        let whole = [
            "sharedstrings.xml",
            "styles.xml",
            "workbook.xml",
            ".rels",
            "manifest.xml",
        ]
        .iter()
        .any(|s| lower.ends_with(s));
        if whole && size > MAX_WHOLE_PART_BYTES {
            return Err(format!(
                "文件中的“{name}”解压后有 {} MB，超出导入上限 {} MB",
                mb(size),
                mb(MAX_WHOLE_PART_BYTES)
            ));
        }
        parts.push((i, lower, size));
    }
    let has = |n: &str| parts.iter().any(|p| p.1 == n);
    if has("mimetype") && has("content.xml") {
        ods(&mut zip, &parts)?;
        return Ok(Package::Ods);
    }
    if parts.iter().any(|p| p.1.ends_with("workbook.bin")) {
        return Err("不支持 .xlsb 格式：请在 Excel 中另存为 .xlsx 后重新上传".into());
    }
    if !parts.iter().any(|p| p.1.ends_with("workbook.xml")) {
        return Err(UNRECOGNISED.into());
    }
    for (index, name, _) in &parts {
        if name.ends_with("sharedstrings.xml") {
            shared_strings(&mut zip, *index)?;
        } else if name.contains("worksheets/") && name.ends_with(".xml") {
            dimension(&mut zip, *index, name)?;
        }
    }
    Ok(Package::Xlsx)
}

/// The most entries a ZIP64 end record declares: the zip reader makes room for as many (up to
/// the file's size) before it reads one. The record is the one the locator in front of an end
/// record points to, as the zip reader finds it.
fn zip64_entries(bytes: &[u8]) -> u64 {
    let tail = bytes.len().saturating_sub(65_557);
    let u64_at = |at: usize| {
        bytes
            .get(at..at + 8)
            .map_or(0, |b| u64::from_le_bytes(b.try_into().unwrap_or([0; 8])))
    };
    (tail..bytes.len().saturating_sub(3))
        .filter(|e| &bytes[*e..e + 4] == b"PK\x05\x06" && *e >= 20 && &bytes[e - 20..e - 16] == b"PK\x06\x07")
        .filter_map(|e| usize::try_from(u64_at(e - 12)).ok())
        .filter(|at| bytes.get(*at..at + 4) == Some(b"PK\x06\x06".as_slice()))
        .map(|at| u64_at(at + 24).max(u64_at(at + 32)))
        .max()
        .unwrap_or(0)
}

/// A workbook's zip, and an XML reader over one of its parts.
type Zip<'b> = zip::ZipArchive<Cursor<&'b [u8]>>;
type PartXml<'z, 'b> = quick_xml::Reader<BufReader<zip::read::ZipFile<'z, Cursor<&'b [u8]>>>>;

/// An XML reader over one part, configured as calamine configures its own.
fn xml_part<'z, 'b>(zip: &'z mut Zip<'b>, index: usize) -> Result<PartXml<'z, 'b>, String> {
    let part = zip.by_index(index).map_err(|_| BROKEN.to_string())?;
    let mut xml = quick_xml::Reader::from_reader(BufReader::new(part));
    let config = xml.config_mut();
    config.check_end_names = false;
    config.trim_text(false);
    config.check_comments = false;
    Ok(xml)
}

fn attr(e: &BytesStart<'_>, name: &str) -> Option<String> {
    e.try_get_attribute(name).ok().flatten().map(|a| a.value.into_owned())
}

/// A whole number as an attribute gives it; one too long to be a count is taken as huge.
fn count(v: &str) -> u64 {
    let v = v.trim();
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return 0;
    }
    v.parse().unwrap_or(u64::MAX)
}

/// The shared-string table: its declared count (calamine reserves room for it) and the strings
/// it really holds (calamine keeps them all).
fn shared_strings(zip: &mut Zip<'_>, index: usize) -> Result<(), String> {
    let too_many = |n: String| format!("共享字符串表有 {n} 个字符串，超出导入上限 {MAX_SHARED_STRINGS} 个");
    let mut xml = xml_part(zip, index)?;
    let mut buf = Vec::new();
    let mut strings = 0usize;
    loop {
        match xml.read_event_into(&mut buf) {
            Ok(Event::Start(e) | Event::Empty(e)) => match e.local_name().as_ref() {
                "sst" => {
                    for key in ["uniqueCount", "count"] {
                        if let Some(n) = attr(&e, key).map(|v| count(&v))
                            && n > MAX_SHARED_STRINGS as u64
                            && key == "uniqueCount"
                        {
                            return Err(too_many(if n == u64::MAX { "无数".into() } else { n.to_string() }));
                        }
                    }
                }
                "si" => {
                    strings += 1;
                    if strings > MAX_SHARED_STRINGS {
                        return Err(too_many(format!("超过 {MAX_SHARED_STRINGS}")));
                    }
                }
                _ => {}
            },
            Ok(Event::Eof) => return Ok(()),
            // calamine meets the same fault where this stops, and refuses the file.
            Err(_) => return Ok(()),
            Ok(_) => {}
        }
        buf.clear();
    }
}

/// A cell reference (`B7`) as 0-based (row, column), within Excel's bounds.
fn cell_ref(s: &str) -> Option<(u64, u64)> {
    let letters = s.bytes().take_while(u8::is_ascii_alphabetic).count();
    let (col, row) = s.split_at(letters);
    if !(1..=3).contains(&letters) || row.is_empty() || row.len() > 7 || !row.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let col = col
        .bytes()
        .fold(0u64, |n, c| n * 26 + (c.to_ascii_uppercase() - b'A') as u64 + 1);
    let row: u64 = row.parse().ok()?;
    if col > 16_384 || row == 0 || row > 1_048_576 {
        return None;
    }
    Some((row - 1, col - 1))
}

/// A worksheet's declared dimension, read from the head of the sheet: one calamine could not
/// take (reversed, out of Excel's bounds) refuses the file. Whether it is too large for an
/// import is decided on the sheet that is read (see `read::read_xlsx`).
fn dimension(zip: &mut Zip<'_>, index: usize, name: &str) -> Result<(), String> {
    let mut xml = xml_part(zip, index)?;
    let mut buf = Vec::new();
    loop {
        match xml.read_event_into(&mut buf) {
            Ok(Event::Start(e) | Event::Empty(e)) => match e.local_name().as_ref() {
                "dimension" => {
                    let Some(value) = attr(&e, "ref") else { return Ok(()) };
                    let text = value;
                    let corners: Vec<Option<(u64, u64)>> = text.split(':').map(cell_ref).collect();
                    let valid = match corners.as_slice() {
                        [Some(_)] => true,
                        [Some(a), Some(b)] => a.0 <= b.0 && a.1 <= b.1,
                        _ => false,
                    };
                    if !valid {
                        let shown: String = text.chars().take(40).collect();
                        return Err(format!("工作表“{name}”声明的范围“{shown}”无效：文件已损坏"));
                    }
                    return Ok(());
                }
                "sheetData" => return Ok(()),
                _ => {}
            },
            Ok(Event::Eof) | Err(_) => return Ok(()),
            Ok(_) => {}
        }
        buf.clear();
    }
}

/// What calamine will hold of one .ods table, measured from content.xml as calamine reads it:
/// the cells it collects row by row (empty cells before a value included, repeated rows not
/// yet) and the dense area it then builds (repeated rows expanded).
#[derive(Default)]
struct OdsTable {
    name: String,
    /// Row elements read, their repeats expanded, as calamine caps them.
    rows: u64,
    collected: u64,
    /// Expanded row numbers of the first and last rows with a value, and their columns.
    first_row: Option<u64>,
    last_row: u64,
    first_col: u64,
    last_col: u64,
}

/// The tables of an .ods file's content.xml (calamine reads every table when it opens one).
fn ods(zip: &mut Zip<'_>, parts: &[(usize, String, u64)]) -> Result<(), String> {
    const ODS_ROWS: u64 = 1_048_576;
    const ODS_COLS: u64 = 16_384;
    let Some((index, _, _)) = parts.iter().find(|p| p.1 == "content.xml") else {
        return Err(UNRECOGNISED.into());
    };
    let mut xml = xml_part(zip, *index)?;
    let mut buf = Vec::new();
    let mut tables: Vec<OdsTable> = Vec::new();
    let mut table: Option<OdsTable> = None;
    // The row being read: its repeats, the columns passed, the end of its last value.
    let mut row: Option<(u64, u64, u64, Option<u64>)> = None;
    loop {
        let event = match xml.read_event_into(&mut buf) {
            Ok(Event::Eof) | Err(_) => break,
            Ok(e) => e,
        };
        let (start, empty) = match &event {
            Event::Start(e) => (Some(e), false),
            Event::Empty(e) => (Some(e), true),
            _ => (None, false),
        };
        if let Some(e) = start {
            match e.name().as_ref() {
                "table:table" if table.is_none() => {
                    if let Some(name) = attr(e, "table:name") {
                        let t = OdsTable {
                            name: name.chars().take(40).collect(),
                            first_col: u64::MAX,
                            ..OdsTable::default()
                        };
                        if empty {
                            tables.push(t);
                        } else {
                            table = Some(t);
                        }
                    }
                }
                "table:table-row" if table.is_some() => {
                    let t = table.as_mut().map(|t| t.rows).unwrap_or(0);
                    let repeats = attr(e, "table:number-rows-repeated").map_or(1, |v| count(&v));
                    let repeats = repeats.min(ODS_ROWS.saturating_sub(t));
                    row = Some((repeats, 0, 0, None));
                    if empty {
                        end_row(&mut table, &mut row);
                    }
                }
                "table:table-cell" | "table:covered-table-cell" if row.is_some() => {
                    let repeats = attr(e, "table:number-columns-repeated").map_or(1, |v| count(&v));
                    // A value in an attribute, or content (a paragraph of text): calamine keeps
                    // the cell, and the empty cells before it.
                    let valued = !empty
                        || e.attributes().flatten().any(|a| {
                            matches!(
                                a.key.as_ref(),
                                "office:value"
                                    | "office:string-value"
                                    | "office:date-value"
                                    | "office:time-value"
                                    | "office:boolean-value"
                                    | "table:formula"
                            )
                        });
                    if let Some((_, passed, end, first)) = &mut row {
                        let at = (*passed).min(ODS_COLS);
                        *passed = passed.saturating_add(repeats);
                        if valued && repeats > 0 {
                            *end = (*passed).min(ODS_COLS);
                            first.get_or_insert(at);
                        }
                    }
                }
                _ => {}
            }
        }
        match &event {
            Event::End(e) if e.name().as_ref() == "table:table-row" => end_row(&mut table, &mut row),
            Event::End(e) if e.name().as_ref() == "table:table" => {
                if let Some(t) = table.take() {
                    tables.push(t);
                }
            }
            _ => {}
        }
        buf.clear();
    }
    if let Some(t) = table.take() {
        tables.push(t);
    }
    let mut dense_total: u64 = 0;
    for (i, t) in tables.iter().enumerate() {
        let Some(first_row) = t.first_row else { continue };
        if i == 0 && t.last_col >= MAX_COLS as u64 {
            return Err(too_wide(&format!(
                "工作表“{}”第 {} 列有内容",
                t.name,
                column_name(t.last_col)
            )));
        }
        // calamine lays out each table twice: its values and its formulas.
        let dense = (t.last_row - first_row + 1).saturating_mul(t.last_col - t.first_col.min(t.last_col) + 1);
        dense_total = dense_total.saturating_add(dense.saturating_mul(2));
        if dense_total > MAX_DENSE_CELLS as u64 || t.collected > MAX_DENSE_CELLS as u64 {
            return Err(format!(
                "工作表“{}”的使用区域有 {} 行 × {} 列，连同其他工作表超出 .ods 文件的导入上限 {MAX_DENSE_CELLS} 个单元格：请另存为 .xlsx 或 .csv 后上传",
                t.name,
                t.last_row - first_row + 1,
                t.last_col - t.first_col.min(t.last_col) + 1
            ));
        }
    }
    Ok(())
}

/// Closes the row being read: its cells collected, its rows counted.
fn end_row(table: &mut Option<OdsTable>, row: &mut Option<(u64, u64, u64, Option<u64>)>) {
    let (Some(t), Some((repeats, _, end, first))) = (table.as_mut(), row.take()) else {
        return;
    };
    t.collected = t.collected.saturating_add(end);
    if let Some(first) = first
        && repeats > 0
    {
        t.first_row.get_or_insert(t.rows);
        t.last_row = t.rows + repeats - 1;
        t.first_col = t.first_col.min(first);
        t.last_col = t.last_col.max(end - 1);
    }
    t.rows += repeats;
}

/// A BIFF record: its type, its data, and the data of the CONTINUE records after it.
struct Record<'a> {
    typ: u16,
    data: &'a [u8],
    cont: Vec<&'a [u8]>,
}

/// The records of a BIFF stream from `at`, as calamine splits them; `None` past the end or at
/// a record that runs past it (where calamine stops with an error).
fn records(stream: &[u8], mut at: usize) -> impl Iterator<Item = Record<'_>> {
    std::iter::from_fn(move || {
        let head = stream.get(at..at + 4)?;
        let (typ, len) = (
            u16::from_le_bytes([head[0], head[1]]),
            u16::from_le_bytes([head[2], head[3]]) as usize,
        );
        let data = stream.get(at + 4..at + 4 + len)?;
        at += 4 + len;
        let mut cont = Vec::new();
        while let Some(h) = stream.get(at..at + 4)
            && stream.len() > at + 4
            && u16::from_le_bytes([h[0], h[1]]) == 0x003C
        {
            let len = u16::from_le_bytes([h[2], h[3]]) as usize;
            cont.push(stream.get(at + 4..at + 4 + len)?);
            at += 4 + len;
        }
        Some(Record { typ, data, cont })
    })
}

fn le16(b: &[u8], at: usize) -> u64 {
    b.get(at..at + 2).map_or(0, |s| u16::from_le_bytes([s[0], s[1]]) as u64)
}

fn le32(b: &[u8], at: usize) -> u64 {
    b.get(at..at + 4)
        .map_or(0, |s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]) as u64)
}

/// The UTF-8 bytes each string of a BIFF8 shared-string table can take at most, walked as
/// calamine walks it (`None` where calamine would stop or fail on it).
fn sst_lengths(record: &Record<'_>, per_char: u64) -> Result<Vec<u64>, String> {
    let mut data = record.data.get(8..).unwrap_or(&[]);
    let mut cont = record.cont.iter();
    let mut out = Vec::new();
    loop {
        if data.is_empty() {
            match cont.next() {
                Some(next) => data = next,
                None => return Ok(out),
            }
            continue;
        }
        if data.len() < 3 {
            return Ok(out);
        }
        let cch = le16(data, 0);
        let flags = data[2];
        data = &data[3..];
        let mut high = flags & 1 != 0;
        let mut runs = 0u64;
        let mut ext = 0u64;
        if flags & 0x8 != 0 {
            // calamine reads these without looking at the length.
            if data.len() < 2 {
                return Err(BROKEN.into());
            }
            runs = le16(data, 0);
            data = &data[2..];
        }
        if flags & 0x4 != 0 {
            if data.len() < 4 {
                return Err(BROKEN.into());
            }
            ext = le32(data, 0);
            data = &data[4..];
        }
        let mut left = cch;
        while left > 0 {
            let chars = if high {
                (data.len() / 2) as u64
            } else {
                data.len() as u64
            }
            .min(left);
            data = &data[(chars * if high { 2 } else { 1 }) as usize..];
            left -= chars;
            if left > 0 {
                match cont.next() {
                    Some(next) if !next.is_empty() => {
                        high = next[0] & 1 != 0;
                        data = &next[1..];
                    }
                    Some(_) => return Err(BROKEN.into()),
                    None => return Ok(out),
                }
            }
        }
        let mut skip = runs * 4 + ext;
        while skip > 0 {
            if data.is_empty() {
                match cont.next() {
                    Some(next) => data = next,
                    None => return Ok(out),
                }
                continue;
            }
            let n = skip.min(data.len() as u64);
            data = &data[n as usize..];
            skip -= n;
        }
        out.push(cch * per_char);
    }
}

/// An .xls workbook: calamine reads every sheet whole at once and lays each out densely from
/// its first to its last cell (after reserving what the DIMENSIONS record declares), and copies
/// a shared string into every cell that names it.
fn xls(bytes: &[u8]) -> Result<(), String> {
    let stream = cfb::workbook_stream(bytes).map_err(|e| match e {
        CfbError::Encrypted => PASSWORD.to_string(),
        CfbError::Broken => UNRECOGNISED.to_string(),
    })?;
    let mut sheets = Vec::new();
    let mut strings: Vec<u64> = Vec::new();
    let mut per_char = 3;
    for r in records(&stream, 0) {
        match r.typ {
            0x002F if le16(r.data, 0) != 0 => return Err(PASSWORD.into()),
            // A code page other than UTF-16 may turn each byte into a character.
            0x0042 if le16(r.data, 0) != 1200 => per_char = 6,
            0x0085 => {
                // calamine reads the sheet's state, type and name without looking at the length.
                if r.data.len() < 8 {
                    return Err(BROKEN.into());
                }
                sheets.push(le32(r.data, 0) as usize);
            }
            0x00FC => {
                let size = r.data.len() + r.cont.iter().map(|c| c.len()).sum::<usize>();
                if size > MAX_XLS_STRINGS_BYTES {
                    return Err(format!(
                        "共享字符串表有 {} MB，超出 .xls 文件的导入上限 {} MB：请另存为 .xlsx 后上传",
                        mb(size as u64),
                        mb(MAX_XLS_STRINGS_BYTES as u64)
                    ));
                }
                strings = sst_lengths(&r, per_char)?;
            }
            0x000A => break,
            _ => {}
        }
    }
    let mut dense_total: u64 = 0;
    let mut text: u64 = 0;
    for (n, pos) in sheets.iter().enumerate() {
        if *pos > stream.len() {
            return Err(BROKEN.into());
        }
        let mut cells = Extent::default();
        let mut formulas = Extent::default();
        let (mut seen_bof, mut depth) = (false, 0usize);
        for r in records(&stream, *pos) {
            if depth > 0 {
                match r.typ {
                    0x0809 => depth += 1,
                    0x000A => depth -= 1,
                    _ => {}
                }
                continue;
            }
            let d = r.data;
            match r.typ {
                0x0809 if seen_bof => depth += 1,
                0x0809 => seen_bof = true,
                0x0200 => {
                    let (rf, rl, mut cf, cl) = match d.len() {
                        10 => (le16(d, 0), le16(d, 2), le16(d, 4), le16(d, 6)),
                        14 | 16 => (le32(d, 0), le32(d, 4), le16(d, 8), le16(d, 10)),
                        _ => continue,
                    };
                    if cf > 0xFF || cl < cf {
                        cf = 0;
                    }
                    let (end_row, end_col) = if rl >= 1 && cl >= 1 { (rl - 1, cl - 1) } else { (rf, cf) };
                    if end_row < rf || end_col < cf {
                        return Err(format!("第 {} 个工作表声明的范围无效：文件已损坏", n + 1));
                    }
                    let (rows, cols) = (end_row - rf + 1, end_col - cf + 1);
                    if (n == 0 && end_col >= MAX_COLS as u64) || rows.saturating_mul(cols) > MAX_DENSE_CELLS as u64 {
                        return Err(too_wide(&format!(
                            "第 {} 个工作表声明了 {cols} 列 × {rows} 行（{}{}:{}{}）",
                            n + 1,
                            column_name(cf),
                            rf + 1,
                            column_name(end_col),
                            end_row + 1
                        )));
                    }
                }
                0x0203 | 0x0204 | 0x00D6 | 0x0205 | 0x027E if d.len() >= 6 => cells.add(le16(d, 0), le16(d, 2)),
                0x00FD if d.len() >= 10 => {
                    let i = le32(d, 6) as usize;
                    if let Some(len) = strings.get(i) {
                        cells.add(le16(d, 0), le16(d, 2));
                        text = text.saturating_add(*len);
                    }
                }
                0x00BD if d.len() >= 6 => {
                    let (first, last) = (le16(d, 2), le16(d, d.len() - 2));
                    // calamine subtracts before it checks the length.
                    if last < first {
                        return Err(BROKEN.into());
                    }
                    cells.add(le16(d, 0), first);
                    cells.add(le16(d, 0), last);
                }
                0x0006 if d.len() >= 20 => {
                    cells.add(le16(d, 0), le16(d, 2));
                    formulas.add(le16(d, 0), le16(d, 2));
                }
                0x000A => break,
                _ => {}
            }
        }
        if n == 0
            && let Some(col) = cells.last_col()
            && col >= MAX_COLS as u64
        {
            return Err(too_wide(&format!("第 1 个工作表第 {} 列有内容", column_name(col))));
        }
        dense_total = dense_total.saturating_add(cells.area()).saturating_add(formulas.area());
        if dense_total > MAX_DENSE_CELLS as u64 {
            return Err(format!(
                "工作簿的使用区域共超过 {MAX_DENSE_CELLS} 个单元格（第 {} 个工作表为止），超出 .xls 文件的导入上限：请另存为 .xlsx 或 .csv 后上传",
                n + 1
            ));
        }
        if text > MAX_TEXT_BYTES as u64 {
            return Err(format!(
                "工作簿中的文字超过 {} MB，超出导入上限：请分成几个文件导入",
                mb(MAX_TEXT_BYTES as u64)
            ));
        }
    }
    Ok(())
}

/// The rectangle from the first to the last cell calamine collects.
#[derive(Default)]
struct Extent(Option<(u64, u64, u64, u64)>);

impl Extent {
    fn add(&mut self, row: u64, col: u64) {
        self.0 = Some(match self.0 {
            None => (row, row, col, col),
            Some((r0, r1, c0, c1)) => (r0.min(row), r1.max(row), c0.min(col), c1.max(col)),
        });
    }

    fn area(&self) -> u64 {
        self.0.map_or(0, |(r0, r1, c0, c1)| (r1 - r0 + 1) * (c1 - c0 + 1))
    }

    fn last_col(&self) -> Option<u64> {
        self.0.map(|e| e.3)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cell_references() {
        assert_eq!(cell_ref("A1"), Some((0, 0)));
        assert_eq!(cell_ref("XFD1048576"), Some((1_048_575, 16_383)));
        assert_eq!(cell_ref("XFE1"), None);
        assert_eq!(cell_ref("A0"), None);
        assert_eq!(cell_ref("A99999999999"), None);
        assert_eq!(cell_ref("AAAAAAAAAAAAAAAA1"), None);
        assert_eq!(cell_ref("1"), None);
    }
}
