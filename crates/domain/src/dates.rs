//! Calendar days as people type them and as spreadsheets store them.
//!
//! Accepted: `2024-07-01`, `2024/7/1`, `2024.7.1`, `2024年7月1日`, `20240701`, and an Excel date
//! serial (`45474`, days since 1899-12-30 in the 1900 date system, as a cell formatted as a
//! number shows a date). Full-width digits are normalised first.

use chrono::{Datelike, NaiveDate};

use crate::ids::normalize_cell;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DateError {
    #[error("日期不能为空")]
    Empty,
    #[error("“{0}”不是有效日期，格式为 2024-07-01")]
    Invalid(String),
    #[error("日期 {0} 晚于今天")]
    Future(NaiveDate),
    #[error("日期 {0} 早于 1900 年")]
    TooEarly(NaiveDate),
}

/// The first Excel serial that is a date in our range (1900-01-01 is serial 1; serials are
/// counted from 1899-12-30 to absorb Excel's phantom 1900-02-29).
const EXCEL_EPOCH: (i32, u32, u32) = (1899, 12, 30);

/// A day from an Excel serial number (whole days; a time fraction is dropped).
pub fn from_excel_serial(serial: f64) -> Option<NaiveDate> {
    if !serial.is_finite() || !(1.0..2_958_466.0).contains(&serial) {
        return None;
    }
    let epoch = NaiveDate::from_ymd_opt(EXCEL_EPOCH.0, EXCEL_EPOCH.1, EXCEL_EPOCH.2)?;
    epoch.checked_add_days(chrono::Days::new(serial.trunc() as u64))
}

/// Parses a day as typed or as a spreadsheet cell gives it.
pub fn parse_day(raw: &str) -> Result<NaiveDate, DateError> {
    let s = normalize_cell(raw);
    if s.is_empty() {
        return Err(DateError::Empty);
    }
    let invalid = || DateError::Invalid(s.clone());
    let day = if s.chars().all(|c| c.is_ascii_digit() || c == '.') && !s.contains('-') {
        match s.len() {
            8 if !s.contains('.') => NaiveDate::parse_from_str(&s, "%Y%m%d").map_err(|_| invalid())?,
            // A serial: up to five digits, possibly with a time fraction (`45474.5`).
            _ if s.split('.').next().is_some_and(|w| (1..=5).contains(&w.len())) && s.matches('.').count() <= 1 => {
                let n: f64 = s.parse().map_err(|_| invalid())?;
                from_excel_serial(n).ok_or_else(invalid)?
            }
            _ => ymd(&s).ok_or_else(invalid)?,
        }
    } else {
        ymd(&s).ok_or_else(invalid)?
    };
    if day.year() < 1900 {
        return Err(DateError::TooEarly(day));
    }
    Ok(day)
}

/// A day that is not in the future (in Shanghai time).
pub fn parse_past_day(raw: &str) -> Result<NaiveDate, DateError> {
    let d = parse_day(raw)?;
    if d > crate::ids::today_shanghai() {
        return Err(DateError::Future(d));
    }
    Ok(d)
}

/// `Y-M-D` with any of `-`, `/`, `.`, `年月日` as separators; a time part is ignored.
fn ymd(s: &str) -> Option<NaiveDate> {
    let date_part = s.split([' ', 'T']).next()?;
    let parts: Vec<&str> = date_part
        .split(['-', '/', '.', '年', '月', '日'])
        .filter(|p| !p.is_empty())
        .collect();
    let [y, m, d] = parts.as_slice() else { return None };
    if y.len() != 4 {
        return None;
    }
    NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?)
}

/// A span as a form gives it: a start that has come (field `started_on`) and an optional end
/// (`ended_on`) not before it. Problems go into `v`; `None` where a field was refused.
pub fn parse_span(
    v: &mut crate::Validation,
    started: &str,
    ended: &str,
) -> (Option<NaiveDate>, Option<Option<NaiveDate>>) {
    let start = v.check("started_on", parse_past_day(started));
    let end = match ended.trim() {
        "" => Some(None),
        raw => v.check("ended_on", parse_day(raw)).map(Some),
    };
    if let (Some(s), Some(Some(e))) = (start, end)
        && e < s
    {
        v.push("ended_on", "结束日期不能早于开始日期");
    }
    (start, end)
}

/// The stored form, `YYYY-MM-DD`.
pub fn day_text(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn typed_forms() {
        assert_eq!(parse_day("2024-07-01"), Ok(d(2024, 7, 1)));
        assert_eq!(parse_day(" 2024/7/1 "), Ok(d(2024, 7, 1)));
        assert_eq!(parse_day("2024.7.1"), Ok(d(2024, 7, 1)));
        assert_eq!(parse_day("2024年7月1日"), Ok(d(2024, 7, 1)));
        assert_eq!(parse_day("２０２４－０７－０１"), Ok(d(2024, 7, 1)));
        assert_eq!(parse_day("20240701"), Ok(d(2024, 7, 1)));
        assert_eq!(parse_day("2024-07-01 00:00:00"), Ok(d(2024, 7, 1)));
    }

    #[test]
    fn excel_serials() {
        assert_eq!(parse_day("45474"), Ok(d(2024, 7, 1)));
        assert_eq!(parse_day("45474.75"), Ok(d(2024, 7, 1)));
        assert_eq!(parse_day("1"), Err(DateError::TooEarly(d(1899, 12, 31))));
        assert_eq!(from_excel_serial(61.0), Some(d(1900, 3, 1)));
        assert_eq!(from_excel_serial(0.0), None);
    }

    #[test]
    fn refusals_say_what() {
        assert_eq!(parse_day(""), Err(DateError::Empty));
        assert!(matches!(parse_day("2024-02-30"), Err(DateError::Invalid(_))));
        assert!(matches!(parse_day("七月一日"), Err(DateError::Invalid(_))));
        assert!(parse_day("24-7-1").is_err());
        assert!(matches!(parse_past_day("2999-01-01"), Err(DateError::Future(_))));
    }
}
