//! Lists as xlsx workbooks. Every export is built from the same store functions as the page it
//! belongs to, so it holds what the viewer may see, with numbers masked as on screen.

use std::future::Future;

use axum::http::header;
use axum::response::{IntoResponse, Response};
use gongjian_store::{Page, StoreError, StoreResult};

use crate::error::PageError;

/// Most rows one export holds.
pub const MAX_ROWS: usize = 200_000;

/// A workbook of one sheet: bold headers, one row per item, text cells (numbers stay numbers
/// when `numeric` marks their column).
pub fn workbook(sheet: &str, headers: &[&str], numeric: &[usize], rows: &[Vec<String>]) -> Result<Vec<u8>, PageError> {
    build(sheet, headers, numeric, rows).map_err(|e| PageError::Store(StoreError::Config(format!("xlsx: {e}"))))
}

fn build(
    sheet_name: &str,
    headers: &[&str],
    numeric: &[usize],
    rows: &[Vec<String>],
) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name(sheet_name)?;
    let bold = rust_xlsxwriter::Format::new().set_bold();
    for (c, h) in headers.iter().enumerate() {
        sheet.write_with_format(0, c as u16, *h, &bold)?;
    }
    for (i, row) in rows.iter().enumerate() {
        let r = (i + 1) as u32;
        for (c, v) in row.iter().enumerate() {
            match v.parse::<f64>() {
                Ok(n) if numeric.contains(&c) => sheet.write(r, c as u16, n)?,
                _ => sheet.write(r, c as u16, v.as_str())?,
            };
        }
    }
    sheet.autofit();
    book.save_to_buffer()
}

/// The workbook as a download.
pub fn download(filename: &str, bytes: Vec<u8>) -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet".to_string(),
            ),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        bytes,
    )
        .into_response()
}

/// Every page of a cursor-paged list, up to [`MAX_ROWS`] items.
pub async fn all_pages<T, F, Fut>(mut fetch: F) -> StoreResult<Vec<T>>
where
    F: FnMut(Option<i64>) -> Fut,
    Fut: Future<Output = StoreResult<Page<T>>>,
{
    let mut rows = Vec::new();
    let mut cursor = None;
    loop {
        let page = fetch(cursor).await?;
        rows.extend(page.items);
        match page.next_cursor.and_then(|c| c.parse().ok()) {
            Some(c) if rows.len() < MAX_ROWS => cursor = Some(c),
            _ => break,
        }
    }
    rows.truncate(MAX_ROWS);
    Ok(rows)
}

/// The link to the next page of a list, keeping its filters.
pub fn next_href(base: &str, filters: &[(&str, &str)], cursor: Option<&String>) -> Option<String> {
    cursor.map(|c| {
        let mut pairs: Vec<(&str, &str)> = filters.iter().copied().filter(|(_, v)| !v.is_empty()).collect();
        pairs.push(("cursor", c.as_str()));
        format!("{base}?{}", serde_urlencoded::to_string(&pairs).unwrap_or_default())
    })
}
