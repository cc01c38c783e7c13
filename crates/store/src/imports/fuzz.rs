//! The sheet reader against hostile and broken files: the checks one by one (a declared
//! dimension, a shared-string count, a part's unzipped size, a cell past the last column, an
//! .ods row repeated a million times, an .xls whose cells or DIMENSIONS reach the sheet's far
//! corner), then a deterministic fuzz run — valid workbooks and CSV files truncated, with bytes
//! flipped, with random dimensions, counts and repeats, and random bytes — in which every
//! file must read or be refused with a message, never panic and never allocate more than a
//! bounded amount. The run takes a few seconds in a debug build;
//! `GONGJIAN_FUZZ_CASES=20000 GONGJIAN_FUZZ_SEED=7 cargo test -p gongjian-store fuzz` runs
//! longer or elsewhere.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::Write;

use calamine::Data;

use super::read::read_rows;

// ---------------------------------------------------------------------------------------------
// Memory: the bytes allocated by this thread, and the most at any time.

struct Counting;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn track(delta: isize) {
    // `try_with`: nothing to count while the thread is being torn down.
    let _ = LIVE.try_with(|live| {
        let now = live.get() + delta;
        live.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
}

// SAFETY: every call is passed to the system allocator unchanged; only sizes are counted.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        track(layout.size() as isize);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        track(-(layout.size() as isize));
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        track(layout.size() as isize);
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        track(new_size as isize - layout.size() as isize);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// What `f` returns and the most it had allocated at once on this thread, in bytes.
fn peak<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let base = LIVE.with(Cell::get);
    PEAK.with(|p| p.set(base));
    let out = f();
    (out, (PEAK.with(Cell::get) - base).max(0) as usize)
}

// ---------------------------------------------------------------------------------------------
// Files

/// A deterministic generator (SplitMix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const MAIN: &str = "http://schemas.openxmlformats.org/spreadsheetml/2006/main";
const RELS: &str = "http://schemas.openxmlformats.org/package/2006/relationships";
const DOC: &str = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";

/// A zip of `parts`, stored (so that flipped bytes reach the XML) or deflated.
pub(super) fn zip_of(parts: &[(&str, String)], stored: bool) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let method = if stored {
        zip::CompressionMethod::Stored
    } else {
        zip::CompressionMethod::Deflated
    };
    let options = zip::write::SimpleFileOptions::default().compression_method(method);
    for (name, text) in parts {
        zip.start_file(*name, options).expect("a part");
        zip.write_all(text.as_bytes()).expect("the part's bytes");
    }
    zip.finish().expect("the zip").into_inner()
}

/// A minimal xlsx: one sheet with `dimension` (if any) and `rows` (the inside of
/// `<sheetData>`), and a shared-string table of `strings` with `unique` as its declared count.
pub(super) fn xlsx(dimension: Option<&str>, rows: &str, strings: &[&str], unique: &str, stored: bool) -> Vec<u8> {
    let dimension = dimension
        .map(|d| format!("<dimension ref=\"{d}\"/>"))
        .unwrap_or_default();
    let si: String = strings.iter().map(|s| format!("<si><t>{s}</t></si>")).collect();
    let parts = [
        (
            "[Content_Types].xml",
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\">\
             <Default Extension=\"rels\" ContentType=\"application/vnd.openxmlformats-package.relationships+xml\"/>\
             <Default Extension=\"xml\" ContentType=\"application/xml\"/></Types>"
                .to_string(),
        ),
        (
            "_rels/.rels",
            format!("<Relationships xmlns=\"{RELS}\"><Relationship Id=\"rId1\" Type=\"{DOC}/officeDocument\" Target=\"xl/workbook.xml\"/></Relationships>"),
        ),
        (
            "xl/workbook.xml",
            format!("<workbook xmlns=\"{MAIN}\" xmlns:r=\"{DOC}\"><sheets><sheet name=\"名单\" sheetId=\"1\" r:id=\"rId1\"/></sheets></workbook>"),
        ),
        (
            "xl/_rels/workbook.xml.rels",
            format!(
                "<Relationships xmlns=\"{RELS}\"><Relationship Id=\"rId1\" Type=\"{DOC}/worksheet\" Target=\"worksheets/sheet1.xml\"/>\
                 <Relationship Id=\"rId2\" Type=\"{DOC}/sharedStrings\" Target=\"sharedStrings.xml\"/></Relationships>"
            ),
        ),
        (
            "xl/worksheets/sheet1.xml",
            format!("<worksheet xmlns=\"{MAIN}\">{dimension}<sheetData>{rows}</sheetData></worksheet>"),
        ),
        (
            "xl/sharedStrings.xml",
            format!("<sst xmlns=\"{MAIN}\" count=\"{unique}\" uniqueCount=\"{unique}\">{si}</sst>"),
        ),
    ];
    zip_of(&parts, stored)
}

/// A row of shared-string cells: `(column letters, string index)`.
fn xlsx_row(row: usize, cells: &[(&str, usize)]) -> String {
    let cells: String = cells
        .iter()
        .map(|(col, s)| format!("<c r=\"{col}{row}\" t=\"s\"><v>{s}</v></c>"))
        .collect();
    format!("<row r=\"{row}\">{cells}</row>")
}

/// A minimal .ods file whose first table holds `rows` (the inside of `<table:table>`).
pub(super) fn ods(rows: &str, stored: bool) -> Vec<u8> {
    let content = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><office:document-content \
         xmlns:office=\"urn:oasis:names:tc:opendocument:xmlns:office:1.0\" \
         xmlns:table=\"urn:oasis:names:tc:opendocument:xmlns:table:1.0\" \
         xmlns:text=\"urn:oasis:names:tc:opendocument:xmlns:text:1.0\" office:version=\"1.2\">\
         <office:body><office:spreadsheet><table:table table:name=\"名单\">{rows}</table:table>\
         </office:spreadsheet></office:body></office:document-content>"
    );
    zip_of(
        &[
            ("mimetype", "application/vnd.oasis.opendocument.spreadsheet".to_string()),
            (
                "META-INF/manifest.xml",
                "<manifest:manifest xmlns:manifest=\"urn:oasis:names:tc:opendocument:xmlns:manifest:1.0\">\
                 <manifest:file-entry manifest:full-path=\"/\" manifest:media-type=\"application/vnd.oasis.opendocument.spreadsheet\"/>\
                 <manifest:file-entry manifest:full-path=\"content.xml\" manifest:media-type=\"text/xml\"/></manifest:manifest>"
                    .to_string(),
            ),
            ("content.xml", content),
        ],
        stored,
    )
}

fn ods_row(cells: &[&str], repeat: usize) -> String {
    let cells: String = cells
        .iter()
        .map(|c| format!("<table:table-cell office:value-type=\"string\"><text:p>{c}</text:p></table:table-cell>"))
        .collect();
    format!("<table:table-row table:number-rows-repeated=\"{repeat}\">{cells}</table:table-row>")
}

/// A small .xls written by another program (xlwt): a header 姓名, 身份证号码, 手机号码 and two
/// rows.
const XLS: &[u8] = include_bytes!("../../tests/fixtures/residents.xls");

/// The offset of the first BIFF record of `typ` with `len` bytes of data in an .xls file.
fn biff_record(bytes: &[u8], typ: u16, len: u16) -> usize {
    let head = [typ.to_le_bytes(), len.to_le_bytes()].concat();
    bytes
        .windows(4)
        .position(|w| w == head.as_slice())
        .unwrap_or_else(|| panic!("no record {typ:#06x} of {len} bytes"))
}

fn texts(rows: &[Vec<Data>]) -> Vec<Vec<String>> {
    rows.iter().map(|r| r.iter().map(|c| c.to_string()).collect()).collect()
}

#[track_caller]
fn refused(file: &str, bytes: &[u8], fragments: &[&str]) {
    let (result, used) = peak(|| read_rows(file, bytes));
    let e = result.expect_err("the file is refused");
    for f in fragments {
        assert!(e.contains(f), "“{e}” lacks “{f}”");
    }
    assert!(used < 64 << 20, "{used} bytes allocated to refuse {file}");
}

// ---------------------------------------------------------------------------------------------
// The checks one by one

#[test]
fn a_declared_dimension_past_the_columns_is_refused_before_any_cell_is_read() {
    let cells = [xlsx_row(1, &[("A", 0)]), xlsx_row(1_048_576, &[("XFD", 1)])].concat();
    let bytes = xlsx(Some("A1:XFD1048576"), &cells, &["姓名", "x"], "2", false);
    assert!(bytes.len() < 2048, "{} bytes", bytes.len());
    refused(
        "big.xlsx",
        &bytes,
        &["工作表声明了 16384 列 × 1048576 行", "A1:XFD1048576", "最多 200 列"],
    );
}

#[test]
fn a_sheet_keeps_only_its_cells_whatever_rows_it_spans() {
    // No dimension, a cell far down: rows are gathered as they come, none is laid out densely.
    let cells = [xlsx_row(1, &[("A", 0), ("B", 1)]), xlsx_row(1_000_000, &[("GR", 1)])].concat();
    let bytes = xlsx(None, &cells, &["姓名", "x"], "2", true);
    let (rows, used) = peak(|| read_rows("far.xlsx", &bytes).expect("read"));
    assert_eq!(rows.len(), 1_000_000);
    assert_eq!(texts(&rows[..1]), vec![vec!["姓名".to_string(), "x".into()]]);
    assert_eq!(rows[999_999].len(), 200);
    assert!(used < 64 << 20, "{used} bytes");
    // One column further is refused, and so is a reversed or impossible dimension.
    let cells = [xlsx_row(1, &[("A", 0)]), xlsx_row(7, &[("GS", 1)])].concat();
    refused(
        "wide.xlsx",
        &xlsx(None, &cells, &["姓名", "x"], "2", true),
        &["第 7 行 GS 列有内容", "最多 200 列"],
    );
    for d in [
        "B2:A1",
        "A0",
        "A1:XFE1",
        "A99999999999",
        "AAAAAAAAAAAAAAAAAAAAA1",
        "A1:B2:C3",
    ] {
        let bytes = xlsx(Some(d), &xlsx_row(1, &[("A", 0)]), &["姓名"], "1", true);
        refused("dim.xlsx", &bytes, &["声明的范围", "无效"]);
    }
}

#[test]
fn a_shared_string_count_past_the_limit_is_refused_before_room_is_made_for_it() {
    let row = xlsx_row(1, &[("A", 0)]);
    refused(
        "sst.xlsx",
        &xlsx(None, &row, &["姓名"], "4000000000", false),
        &["共享字符串表有 4000000000 个字符串"],
    );
    refused(
        "sst.xlsx",
        &xlsx(None, &row, &["姓名"], "99999999999999999999999", false),
        &["共享字符串表", "超出导入上限"],
    );
}

#[test]
fn a_part_that_unzips_past_the_limit_is_refused_from_the_zip_directory() {
    let mut bytes = xlsx(None, &xlsx_row(1, &[("A", 0)]), &["姓名"], "1", false);
    // Declare 3 GB for the sheet in the central directory (the entry's uncompressed size).
    let name = b"xl/worksheets/sheet1.xml";
    let at = bytes
        .windows(4)
        .enumerate()
        .filter(|(_, w)| *w == b"PK\x01\x02")
        .map(|(i, _)| i)
        .find(|i| bytes[i + 46..].starts_with(name))
        .expect("the sheet's central directory entry");
    bytes[at + 24..at + 28].copy_from_slice(&3_000_000_000u32.to_le_bytes());
    refused(
        "bomb.xlsx",
        &bytes,
        &["xl/worksheets/sheet1.xml", "解压后有 2862 MB", "压缩炸弹"],
    );
}

#[test]
fn a_zip64_end_record_declaring_billions_of_entries_is_refused_before_the_zip_reader_makes_room() {
    let zip = xlsx(None, &xlsx_row(1, &[("A", 0)]), &["姓名"], "1", false);
    let (body, end) = zip.split_at(zip.len() - 22);
    let at = body.len() as u64;
    let mut bytes = body.to_vec();
    bytes.extend_from_slice(b"PK\x06\x06");
    bytes.extend_from_slice(&44u64.to_le_bytes());
    bytes.extend_from_slice(&[45, 0, 45, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    bytes.extend_from_slice(&[u64::MAX / 4; 2].map(u64::to_le_bytes).concat());
    bytes.extend_from_slice(&[0; 16]);
    bytes.extend_from_slice(b"PK\x06\x07\0\0\0\0");
    bytes.extend_from_slice(&at.to_le_bytes());
    bytes.extend_from_slice(&1u32.to_le_bytes());
    bytes.extend_from_slice(end);
    refused("many.xlsx", &bytes, &["压缩项超过 65535 个"]);
}

#[test]
fn xlsb_and_junk_are_refused_by_name() {
    let bytes = zip_of(&[("xl/workbook.bin", "x".into())], false);
    refused("a.xlsb", &bytes, &["不支持 .xlsb"]);
    refused("a.xlsx", b"PK\x03\x04 nothing", &["无法识别"]);
    refused("a.xls", &XLS[..600], &["无法识别"]);
}

#[test]
fn an_ods_table_repeated_past_the_limits_is_refused_before_calamine_lays_it_out() {
    let rows = [ods_row(&["姓名", "身份证号码"], 1), ods_row(&["张三", "1"], 2)].concat();
    let read = read_rows("a.ods", &ods(&rows, false)).expect("a small ods");
    assert_eq!(texts(&read)[2], ["张三", "1"]);
    // One row of three cells repeated a million times: calamine would lay out 3,000,003 cells
    // of values and as many of formulas.
    let rows = [
        ods_row(&["姓名", "身份证号码"], 1),
        ods_row(&["张三", "1", "x"], 1_000_000),
    ]
    .concat();
    refused("big.ods", &ods(&rows, false), &["1000001 行 × 3 列", ".ods"]);
    // A value repeated across 16,384 columns.
    let wide = "<table:table-row><table:table-cell table:number-columns-repeated=\"16384\" \
                office:value-type=\"float\" office:value=\"1\"/></table:table-row>";
    refused("wide.ods", &ods(wide, false), &["XFD 列有内容", "最多 200 列"]);
}

#[test]
fn an_xls_sheet_whose_cells_or_dimensions_reach_far_is_refused() {
    let rows = read_rows("a.xls", XLS).expect("the fixture");
    assert_eq!(texts(&rows)[0], ["姓名", "身份证号码", "手机号码"]);
    assert_eq!(texts(&rows)[1][..2], ["张三".to_string(), "440604197001010012".into()]);

    // The DIMENSIONS record declares the whole sheet (65,536 rows × 256 columns).
    let mut far = XLS.to_vec();
    let at = biff_record(&far, 0x0200, 14) + 4;
    far[at..at + 14].copy_from_slice(&[0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0]);
    refused("far.xls", &far, &["声明了 256 列 × 65536 行", "最多 200 列"]);

    // A label moved to the last row and column: calamine would lay 16.7 million cells out.
    let mut corner = XLS.to_vec();
    let at = biff_record(&corner, 0x00FD, 10) + 4;
    corner[at..at + 4].copy_from_slice(&[0xFF, 0xFF, 0xFF, 0x00]);
    refused("corner.xls", &corner, &["IV 列有内容"]);
    let mut deep = XLS.to_vec();
    let at = biff_record(&deep, 0x00FD, 10) + 4;
    deep[at..at + 4].copy_from_slice(&[0xFF, 0xFF, 0x10, 0x00]);
    let e = read_rows("deep.xls", &deep);
    assert!(
        e.is_ok_and(|r| r.len() == 65_536),
        "a deep cell within the limits is read"
    );
}

// ---------------------------------------------------------------------------------------------
// Fuzzing

/// A workbook as rust_xlsxwriter writes it: a header and 19 rows of text, numbers and dates.
fn written_workbook() -> Vec<u8> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    let date = rust_xlsxwriter::Format::new().set_num_format("yyyy-mm-dd");
    for (c, h) in ["姓名", "身份证号码", "手机号码", "入党日期"].iter().enumerate() {
        sheet.write(0, c as u16, *h).expect("header");
    }
    for r in 1..20u32 {
        sheet.write(r, 0, format!("居民{r}")).expect("name");
        sheet.write(r, 1, format!("44060419700101{:04}", r)).expect("id");
        sheet.write(r, 2, 13_900_000_000.0 + r as f64).expect("mobile");
        sheet.write_with_format(r, 3, 38_000.0 + r as f64, &date).expect("date");
    }
    book.save_to_buffer().expect("workbook")
}

/// Valid files of every kind, the hand-made ones with a random dimension, declared count and
/// repeats.
fn valid_files(rng: &mut Rng, written: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
    let dims = [
        "A1:D20",
        "A1",
        "B2:A1",
        "A1:XFD1048576",
        "A1:GR300000",
        "ZZZ1",
        "A1:A",
        ":",
        "A-1",
        "Ａ1",
    ];
    let cells = [
        xlsx_row(1, &[("A", 0), ("B", 1)]),
        xlsx_row(2, &[("A", 2), ("B", 3)]),
        "<row r=\"3\"><c r=\"A3\" t=\"inlineStr\"><is><t>内联</t></is></c><c r=\"B3\"><v>1.5</v></c>\
         <c r=\"C3\" t=\"b\"><v>1</v></c><c r=\"D3\" t=\"e\"><v>#N/A</v></c><c t=\"str\"><f>1+1</f><v>2</v></c></row>"
            .to_string(),
    ]
    .concat();
    let strings = ["姓名", "身份证号码", "张三", "440604197001010012"];
    let (dimension, unique) = (
        *rng.pick(&dims),
        *rng.pick(&["4", "0", "-1", "abc", "4294967296", "3000001"]),
    );
    let hand = xlsx(Some(dimension), &cells, &strings, unique, rng.below(2) == 0);
    let rows = [
        ods_row(&["姓名", "身份证号码"], 1),
        ods_row(&["张三", "1"], [1, 2, 300][rng.below(3)]),
        "<table:table-row><table:table-cell table:number-columns-repeated=\"3\"/>\
         <table:table-cell office:value-type=\"float\" office:value=\"7\"/></table:table-row>"
            .to_string(),
    ]
    .concat();
    let ods = ods(&rows, rng.below(2) == 0);
    let csv = "名单\n\n姓名,身份证号码,手机号码\r\n张三,\"440604197001010012\",\"139 0000 0001\"\n\"李\"\"四\",1,\n";
    let (gb, _, _) = encoding_rs::GB18030.encode(csv);
    vec![
        ("w.xlsx", written.to_vec()),
        ("h.xlsx", hand),
        ("o.ods", ods),
        ("x.xls", XLS.to_vec()),
        ("u.csv", csv.as_bytes().to_vec()),
        ("g.csv", gb.into_owned()),
    ]
}

/// One file made from a valid one: truncated, with bytes flipped or overwritten, with a run
/// of bytes repeated, or random bytes altogether.
fn mutate(rng: &mut Rng, bytes: &[u8]) -> Vec<u8> {
    let mut b = bytes.to_vec();
    match rng.below(6) {
        0 => b.truncate(rng.below(b.len() + 1)),
        1 => {
            for _ in 0..1 + rng.below(8) {
                let i = rng.below(b.len());
                if let Some(x) = b.get_mut(i) {
                    *x ^= 1 << rng.below(8);
                }
            }
        }
        2 => {
            let interesting = [0x00, 0xFF, 0x7F, 0x80, b'9', b'"', b',', b'\n', b'<', 0xE4];
            for _ in 0..1 + rng.below(16) {
                let i = rng.below(b.len());
                if let Some(x) = b.get_mut(i) {
                    *x = *rng.pick(&interesting);
                }
            }
        }
        3 => {
            let from = rng.below(b.len());
            let to = (from + 1 + rng.below(64)).min(b.len());
            let run = b[from..to].to_vec();
            for _ in 0..rng.below(50) {
                b.splice(from..from, run.iter().copied());
            }
        }
        4 => {
            let len = rng.below(4096);
            b = (0..len).map(|_| rng.next() as u8).collect();
            if rng.below(2) == 0 {
                // A zip or compound-file signature in front of the noise.
                let head: &[u8] = if rng.below(2) == 0 { b"PK\x03\x04" } else { &XLS[..8] };
                b.splice(0..0, head.iter().copied());
            }
        }
        _ => {
            let i = rng.below(b.len());
            let j = rng.below(b.len());
            let (i, j) = (i.min(j), i.max(j));
            b[i..j].reverse();
        }
    }
    b
}

#[test]
fn random_and_broken_files_are_read_or_refused_within_bounds() {
    let seed: u64 = std::env::var("GONGJIAN_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_261_204);
    let cases: usize = std::env::var("GONGJIAN_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1000);
    let mut rng = Rng(seed);
    let (mut read, mut refused) = (0, 0);
    let mut worst = 0;
    let written = written_workbook();
    for case in 0..cases {
        let files = valid_files(&mut rng, &written);
        let (name, original) = rng.pick(&files);
        let bytes = if case % 10 == 0 {
            original.clone()
        } else {
            mutate(&mut rng, original)
        };
        let outcome = std::panic::catch_unwind(|| peak(|| read_rows(name, &bytes)));
        let (result, used) =
            outcome.unwrap_or_else(|_| panic!("seed {seed}, case {case}: {name} of {} bytes panicked", bytes.len()));
        worst = worst.max(used);
        assert!(
            used < 256 << 20,
            "seed {seed}, case {case}: {name} of {} bytes took {used} bytes",
            bytes.len()
        );
        match result {
            Ok(_) => read += 1,
            Err(message) => {
                assert!(!message.trim().is_empty(), "seed {seed}, case {case}: an empty refusal");
                refused += 1;
            }
        }
    }
    eprintln!("{cases} files from seed {seed}: {read} read, {refused} refused, at most {worst} bytes at once");
    assert!(
        read > cases / 10 && refused > cases / 10,
        "{read} read, {refused} refused"
    );
}
