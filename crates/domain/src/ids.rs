//! Chinese identifiers as "parse, don't validate" newtypes.
//!
//! * [`IdNumber`] — 居民身份证号码 (GB 11643-1999), optionally the 15-digit legacy form.
//! * [`CreditCode`] — 统一社会信用代码 (GB 32100-2015); a wrong check character is a
//!   warning, not an error, because some genuine early codes fail the check.
//! * [`Mobile`] — 11-digit mainland mobile number.
//! * [`normalize_cell`] / [`normalize_identifier`] — clean up spreadsheet text
//!   (full-width characters, odd spaces) before parsing.
//!
//! Every parser normalises its input with [`normalize_identifier`] first, and every
//! error message is a Simplified Chinese sentence meant to be shown to the user.

use std::fmt;

use chrono::{NaiveDate, TimeDelta, Utc};
use serde::{Serialize, Serializer};

const ID_LABEL: &str = "身份证号码";
const CREDIT_LABEL: &str = "统一社会信用代码";
const MOBILE_LABEL: &str = "手机号码";

/// Why a raw value could not be parsed into an identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("{what}为空")]
    Empty { what: &'static str },
    #[error("{what}长度错误：应为 {required} 位，实际为 {given} 位")]
    WrongLength {
        what: &'static str,
        required: usize,
        given: usize,
    },
    #[error("不接受 15 位的旧版身份证号码，请提供 18 位身份证号码")]
    LegacyNotAccepted,
    #[error("{what}第 {position} 位“{found}”不是数字")]
    NotDigit {
        what: &'static str,
        position: usize,
        found: char,
    },
    #[error("身份证号码最后一位（校验位）只能是数字或 X，实际为“{found}”")]
    InvalidCheckChar { found: char },
    #[error("身份证号码中的出生日期“{raw}”不是有效日期")]
    InvalidBirthDate { raw: String },
    #[error("身份证号码中的出生日期 {date} 晚于今天（{today}）")]
    FutureBirthDate { date: NaiveDate, today: NaiveDate },
    #[error("身份证号码校验位错误：最后一位应为 {expected}，实际为 {found}")]
    CheckMismatch { expected: char, found: char },
    #[error("统一社会信用代码第 {position} 位“{found}”不是允许的字符（只能是数字或除 I、O、S、V、Z 以外的大写字母）")]
    InvalidCreditChar { position: usize, found: char },
    #[error("手机号码号段错误：应以 13～19 开头，实际以“{prefix}”开头")]
    MobilePrefix { prefix: String },
    #[error("该值（{raw}）被电子表格转成了科学计数法，后几位已丢失，请将该列设为文本后重新导出")]
    ScientificNotation { raw: String },
    #[error("该值（{raw}）疑似被电子表格当作数字处理，末尾几位已变成 0 而丢失，请将该列设为文本后重新导出")]
    SpreadsheetPrecisionLost { raw: String },
}

/// Characters that count as blank at the edges of a cell: Unicode white space
/// (which includes U+00A0 and U+3000) plus the invisible BOM and zero-width space.
fn is_blank(c: char) -> bool {
    c.is_whitespace() || matches!(c, '\u{FEFF}' | '\u{200B}')
}

fn is_dash(c: char) -> bool {
    matches!(c, '-' | '\u{2010}'..='\u{2015}' | '\u{2212}')
}

fn to_half_width(c: char) -> char {
    match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        '\u{3000}' => ' ',
        _ => c,
    }
}

/// Converts full-width ASCII (U+FF01..U+FF5E) and the ideographic space to
/// half-width and trims surrounding white space. Internal spaces are kept.
pub fn normalize_cell(raw: &str) -> String {
    let half: String = raw.chars().map(to_half_width).collect();
    half.trim_matches(is_blank).to_string()
}

/// Free text as typed (a note, an agreement): [`normalize_cell`], at most `max` characters,
/// no control characters but line breaks and tabs where `multiline`. Blank is `None`.
pub fn free_text(raw: &str, max: usize, multiline: bool) -> Result<Option<String>, String> {
    let s = normalize_cell(raw);
    if s.chars().count() > max {
        return Err(format!("最多 {max} 个字符，现有 {} 个", s.chars().count()));
    }
    if s.chars()
        .any(|c| c.is_control() && !(multiline && matches!(c, '\n' | '\r' | '\t')))
    {
        return Err("不能包含控制字符（如空字符）".into());
    }
    Ok(Some(s).filter(|s| !s.is_empty()))
}

/// [`normalize_cell`], then removes every white-space character and dash, as
/// people write identifiers like `138-1234 5678`.
pub fn normalize_identifier(raw: &str) -> String {
    normalize_cell(raw)
        .chars()
        .filter(|&c| !is_blank(c) && !is_dash(c))
        .collect()
}

/// True for what a spreadsheet writes for a long number in scientific notation,
/// e.g. `4.40604E+17`, `4.40604e17`, `4E+17`.
pub fn looks_like_scientific_notation(s: &str) -> bool {
    let Some((mantissa, exponent)) = s.split_once(['e', 'E']) else {
        return false;
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, "0"));
    let exponent = exponent.strip_prefix('+').unwrap_or(exponent);
    [int, frac, exponent]
        .iter()
        .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

/// A decimal such as `440604199001011000.0`: a float rendering of a number with
/// more than 15 significant digits, whose tail can no longer be trusted.
fn looks_like_lossy_float(s: &str) -> bool {
    s.split_once('.').is_some_and(|(int, frac)| {
        int.len() >= 16
            && int.bytes().all(|b| b.is_ascii_digit())
            && !frac.is_empty()
            && frac.bytes().all(|b| b.is_ascii_digit())
    })
}

fn check_len(s: &str, what: &'static str, required: usize) -> Result<(), IdError> {
    match s.chars().count() {
        given if given == required => Ok(()),
        given => Err(IdError::WrongLength { what, required, given }),
    }
}

fn first_non_digit(s: &str, what: &'static str) -> Result<(), IdError> {
    match s.chars().enumerate().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, found)) => Err(IdError::NotDigit {
            what,
            position: i + 1,
            found,
        }),
        None => Ok(()),
    }
}

const ID_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const ID_CHECK_CHARS: &[u8; 11] = b"10X98765432";

/// ISO 7064 MOD 11-2 check character over 17 ASCII digits.
fn id_check_char(first17: &[u8]) -> char {
    let sum: u32 = first17
        .iter()
        .zip(ID_WEIGHTS)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    char::from(ID_CHECK_CHARS[(sum % 11) as usize])
}

/// Today's date in Asia/Shanghai (UTC+8, no daylight saving).
pub fn today_shanghai() -> NaiveDate {
    (Utc::now().naive_utc() + TimeDelta::hours(8)).date()
}

/// Sex encoded in the sequence code of an [`IdNumber`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Sex {
    Male,
    Female,
}

impl Sex {
    pub fn label_zh(self) -> &'static str {
        match self {
            Sex::Male => "男",
            Sex::Female => "女",
        }
    }
}

/// A 居民身份证号码 that has passed every structural check.
///
/// `Debug` shows only the masked form so that numbers do not leak into logs;
/// `Display` and `Serialize` give the full number.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IdNumber {
    value: String,
    birth: NaiveDate,
    legacy: bool,
}

impl IdNumber {
    /// Parses an 18-character number; 15-digit legacy numbers are refused.
    /// `today` bounds the birth date (pass [`today_shanghai`] in production).
    pub fn parse(raw: &str, today: NaiveDate) -> Result<Self, IdError> {
        Self::parse_with(raw, today, false)
    }

    /// Parses with today's date in Asia/Shanghai.
    pub fn parse_today(raw: &str, allow_legacy: bool) -> Result<Self, IdError> {
        Self::parse_with(raw, today_shanghai(), allow_legacy)
    }

    /// Parses an 18-character number, or a 15-digit legacy number when
    /// `allow_legacy` is true (then [`IdNumber::is_legacy`] is true).
    pub fn parse_with(raw: &str, today: NaiveDate, allow_legacy: bool) -> Result<Self, IdError> {
        let s = normalize_identifier(raw);
        if s.is_empty() {
            return Err(IdError::Empty { what: ID_LABEL });
        }
        if looks_like_scientific_notation(&s) {
            return Err(IdError::ScientificNotation { raw: s });
        }
        if looks_like_lossy_float(&s) {
            return Err(IdError::SpreadsheetPrecisionLost { raw: s });
        }
        let legacy = s.chars().count() == 15;
        if legacy && !allow_legacy {
            return Err(IdError::LegacyNotAccepted);
        }
        let (value, birth) = if legacy {
            Self::parse15(s, today)?
        } else {
            check_len(&s, ID_LABEL, 18)?;
            Self::parse18(s, today)?
        };
        Ok(Self { value, birth, legacy })
    }

    fn parse18(s: String, today: NaiveDate) -> Result<(String, NaiveDate), IdError> {
        // After this check the first 17 characters are ASCII digits, so byte
        // indexing below is safe.
        let Some((last_at, last)) = s.char_indices().last() else {
            return Err(IdError::Empty { what: ID_LABEL });
        };
        first_non_digit(&s[..last_at], ID_LABEL)?;
        let found = match last {
            '0'..='9' | 'X' => last,
            'x' => 'X',
            _ => return Err(IdError::InvalidCheckChar { found: last }),
        };
        let birth = birth_date(&s[6..14], today)?;
        let expected = id_check_char(&s.as_bytes()[..17]);
        if expected != found {
            if s.ends_with("000") {
                return Err(IdError::SpreadsheetPrecisionLost { raw: s });
            }
            return Err(IdError::CheckMismatch { expected, found });
        }
        Ok((format!("{}{found}", &s[..17]), birth))
    }

    fn parse15(s: String, today: NaiveDate) -> Result<(String, NaiveDate), IdError> {
        first_non_digit(&s, ID_LABEL)?;
        let birth = birth_date(&format!("19{}", &s[6..12]), today)?;
        Ok((s, birth))
    }

    pub fn as_str(&self) -> &str {
        &self.value
    }

    pub fn birth_date(&self) -> NaiveDate {
        self.birth
    }

    /// Odd sequence code = male, even = female.
    pub fn sex(&self) -> Sex {
        let pos = if self.legacy { 14 } else { 16 };
        match self.value.as_bytes().get(pos) {
            Some(d) if (d - b'0') % 2 == 1 => Sex::Male,
            _ => Sex::Female,
        }
    }

    /// The 6-digit administrative division code of the issuing place.
    pub fn address_code(&self) -> &str {
        &self.value[..6]
    }

    pub fn is_legacy(&self) -> bool {
        self.legacy
    }

    /// First 6 and last 4 characters visible, e.g. `440604********1234`.
    pub fn masked(&self) -> String {
        mask(&self.value, 6, 4)
    }
}

/// Parses `YYYYMMDD` (8 ASCII digits) and checks it is not after `today`.
fn birth_date(ymd: &str, today: NaiveDate) -> Result<NaiveDate, IdError> {
    let invalid = |_| IdError::InvalidBirthDate { raw: ymd.to_string() };
    match NaiveDate::parse_from_str(ymd, "%Y%m%d").map_err(invalid)? {
        date if date > today => Err(IdError::FutureBirthDate { date, today }),
        date => Ok(date),
    }
}

/// Keeps `head` leading and `tail` trailing characters, stars in between.
fn mask(s: &str, head: usize, tail: usize) -> String {
    let n = s.chars().count();
    s.chars()
        .enumerate()
        .map(|(i, c)| if i < head || i + tail >= n { c } else { '*' })
        .collect()
}

const CREDIT_ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
const CREDIT_WEIGHTS: [usize; 17] = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];

fn credit_value(c: char) -> Option<usize> {
    CREDIT_ALPHABET.iter().position(|&a| char::from(a) == c)
}

/// GB 32100-2015 check character over 17 characters of the alphabet.
fn credit_check_char(first17: &str) -> Option<char> {
    let mut sum = 0;
    for (c, w) in first17.chars().zip(CREDIT_WEIGHTS) {
        sum += credit_value(c)? * w;
    }
    let c = (31 - sum % 31) % 31;
    Some(char::from(CREDIT_ALPHABET[c]))
}

/// A structurally valid 统一社会信用代码 (upper case).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CreditCode(String);

/// The code was accepted but its check character does not match the standard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "统一社会信用代码校验位不符：按国家标准最后一位应为 {expected}，实际为 {found}。部分早期赋码的代码存在这种情况，已按原值保存，请人工核实"
)]
pub struct CreditCodeWarning {
    pub expected: char,
    pub found: char,
}

impl CreditCode {
    /// Rejects only a wrong length or characters outside the alphabet; a wrong
    /// check character yields a warning alongside the code.
    pub fn parse(raw: &str) -> Result<(Self, Option<CreditCodeWarning>), IdError> {
        let s = normalize_identifier(raw);
        if s.is_empty() {
            return Err(IdError::Empty { what: CREDIT_LABEL });
        }
        // `E` is a legal code character, so only flag forms with `.` or `+`.
        if s.contains(['.', '+']) && looks_like_scientific_notation(&s) {
            return Err(IdError::ScientificNotation { raw: s });
        }
        check_len(&s, CREDIT_LABEL, 18)?;
        if let Some((i, found)) = s
            .chars()
            .enumerate()
            .find(|(_, c)| credit_value(c.to_ascii_uppercase()).is_none())
        {
            return Err(IdError::InvalidCreditChar { position: i + 1, found });
        }
        let code = s.to_ascii_uppercase();
        let found = code.chars().last().unwrap_or(' ');
        let warning = credit_check_char(&code[..17])
            .filter(|&expected| expected != found)
            .map(|expected| CreditCodeWarning { expected, found });
        Ok((Self(code), warning))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The code made of 17 characters of the alphabet and their check character.
    pub fn with_check(first17: &str) -> Option<CreditCode> {
        let upper = first17.to_ascii_uppercase();
        if upper.chars().count() != 17 {
            return None;
        }
        credit_check_char(&upper).map(|c| CreditCode(format!("{upper}{c}")))
    }

    /// 登记管理部门 from character 1; "未知" for codes outside the domain rules.
    pub fn authority_zh(&self) -> &'static str {
        match self.0.as_bytes()[0] {
            b'1' => "机构编制",
            b'5' => "民政",
            b'9' => "市场监管",
            b'Y' => "其他",
            _ => "未知",
        }
    }

    /// 机构类别 from character 2, where the domain rules define it.
    pub fn entity_class_zh(&self) -> Option<&'static str> {
        match (self.0.as_bytes()[0], self.0.as_bytes()[1]) {
            (b'9', b'1') => Some("企业"),
            (b'9', b'2') => Some("个体工商户"),
            (b'9', b'3') => Some("农民专业合作社"),
            (b'5', b'1') => Some("社团"),
            (b'5', b'2') => Some("民非"),
            (b'5', b'3') => Some("基金会"),
            _ => None,
        }
    }

    /// Characters 3–8: the administrative division code of the registering authority.
    pub fn division_code(&self) -> &str {
        &self.0[2..8]
    }
}

/// An 11-digit mainland mobile number (`^1[3-9]\d{9}$`).
///
/// `Debug` shows only the masked form; `Display` and `Serialize` give the full number.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Mobile(String);

impl Mobile {
    /// Accepts `+86`/`86`/`0086` prefixes, spaces and dashes.
    pub fn parse(raw: &str) -> Result<Self, IdError> {
        let s = normalize_identifier(raw);
        if s.is_empty() {
            return Err(IdError::Empty { what: MOBILE_LABEL });
        }
        if looks_like_scientific_notation(&s) {
            return Err(IdError::ScientificNotation { raw: s });
        }
        let s = match s.strip_prefix("+86") {
            Some(rest) => rest,
            None if s.len() == 15 && s.starts_with("0086") => &s[4..],
            None if s.len() == 13 && s.starts_with("86") => &s[2..],
            None => &s,
        };
        check_len(s, MOBILE_LABEL, 11)?;
        first_non_digit(s, MOBILE_LABEL)?;
        if !s.starts_with('1') || !matches!(s.as_bytes()[1], b'3'..=b'9') {
            return Err(IdError::MobilePrefix {
                prefix: s[..2].to_string(),
            });
        }
        Ok(Self(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `138****5678`.
    pub fn masked(&self) -> String {
        mask(&self.0, 3, 4)
    }
}

impl std::str::FromStr for Mobile {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        Self::parse(s)
    }
}

macro_rules! string_like {
    ($($t:ty),*) => {$(
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }
    )*};
}
string_like!(IdNumber, CreditCode, Mobile);

/// `Debug` prints only the masked form so personal numbers do not leak into logs.
macro_rules! masked_debug {
    ($($t:ident),*) => {$(
        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_tuple(stringify!($t)).field(&self.masked()).finish()
            }
        }
    )*};
}
masked_debug!(IdNumber, Mobile);

#[cfg(test)]
mod tests {
    use super::*;
    use IdError::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn today() -> NaiveDate {
        day(2025, 6, 15)
    }

    fn id(raw: &str) -> IdNumber {
        IdNumber::parse(raw, today()).unwrap()
    }

    fn legacy(raw: &str) -> Result<IdNumber, IdError> {
        IdNumber::parse_with(raw, today(), true)
    }

    /// Independent MOD 11-2 implementation: appends the check character.
    fn id_with_check(first17: &str) -> String {
        let w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
        let digits = first17.chars().map(|c| c.to_digit(10).unwrap());
        let s: u32 = digits.zip(w).map(|(d, w)| d * w).sum();
        format!("{first17}{}", &"10X98765432"[(s % 11) as usize..][..1])
    }

    /// Independent GB 32100 implementation: appends the check character.
    fn credit_with_check(first17: &str) -> String {
        let a = "0123456789ABCDEFGHJKLMNPQRTUWXY";
        let w = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];
        let values = first17.chars().map(|c| a.find(c).unwrap());
        let c = (31 - values.zip(w).map(|(v, w)| v * w).sum::<usize>() % 31) % 31;
        format!("{first17}{}", &a[c..=c])
    }

    #[rustfmt::skip]
    const ID_MESSAGES: &[(&str, &str)] = &[
        (" \u{3000}", "身份证号码为空"),
        ("4406041990010112", "身份证号码长度错误：应为 18 位，实际为 16 位"),
        ("440604900101123", "不接受 15 位的旧版身份证号码，请提供 18 位身份证号码"),
        ("4406A4199001011234", "身份证号码第 5 位“A”不是数字"),
        ("44060419900101123Y", "身份证号码最后一位（校验位）只能是数字或 X，实际为“Y”"),
        ("44060419900101123中", "身份证号码最后一位（校验位）只能是数字或 X，实际为“中”"),
        ("110105194912310021", "身份证号码校验位错误：最后一位应为 X，实际为 1"),
        ("440604190002290022", "身份证号码中的出生日期“19000229”不是有效日期"),
        ("440604199013010023", "身份证号码中的出生日期“19901301”不是有效日期"),
        ("440604202506160024", "身份证号码中的出生日期 2025-06-16 晚于今天（2025-06-15）"),
        ("4.40604E+17", "该值（4.40604E+17）被电子表格转成了科学计数法，后几位已丢失，请将该列设为文本后重新导出"),
        ("440604199001011000", "该值（440604199001011000）疑似被电子表格当作数字处理，末尾几位已变成 0 而丢失，请将该列设为文本后重新导出"),
    ];

    #[test]
    fn id_error_messages_are_exact() {
        for (raw, msg) in ID_MESSAGES {
            let e = IdNumber::parse(raw, today()).unwrap_err();
            assert_eq!(e.to_string(), *msg, "{raw}");
        }
    }

    #[test]
    fn id_error_variants_carry_the_detail() {
        #[rustfmt::skip]
        let cases = [
            ("", Empty { what: "身份证号码" }),
            ("4406041990010112", WrongLength { what: "身份证号码", required: 18, given: 16 }),
            ("440604900101123", LegacyNotAccepted),
            ("4406A4199001011234", NotDigit { what: "身份证号码", position: 5, found: 'A' }),
            ("44060419900101123Y", InvalidCheckChar { found: 'Y' }),
            ("110105194912310021", CheckMismatch { expected: 'X', found: '1' }),
            ("440604199001011235", CheckMismatch { expected: 'X', found: '5' }),
            ("440604190002290022", InvalidBirthDate { raw: "19000229".into() }),
            ("440604202506160024", FutureBirthDate { date: day(2025, 6, 16), today: today() }),
            (" 4.40604e17 ", ScientificNotation { raw: "4.40604e17".into() }),
            ("440604199001011000", SpreadsheetPrecisionLost { raw: "440604199001011000".into() }),
            ("440604199001011000.0", SpreadsheetPrecisionLost { raw: "440604199001011000.0".into() }),
        ];
        for (raw, expected) in cases {
            assert_eq!(IdNumber::parse(raw, today()), Err(expected), "{raw}");
        }
    }

    #[test]
    fn known_real_format_id_with_x() {
        assert_eq!(id_with_check("11010519491231002"), "11010519491231002X");
        let id = id("11010519491231002X");
        assert_eq!(id.as_str(), "11010519491231002X");
        assert_eq!(id.birth_date(), day(1949, 12, 31));
        assert_eq!((id.sex(), id.sex().label_zh()), (Sex::Female, "女"));
        assert_eq!(id.address_code(), "110105");
        assert!(!id.is_legacy());
        assert_eq!(id.masked(), "110105********002X");
        // Lower-case x is accepted and stored upper-case.
        assert_eq!(self::id("11010519491231002x").to_string(), "11010519491231002X");
    }

    #[test]
    fn computed_ids_sex_masking_and_normalisation() {
        let raw = id_with_check("44060419900101123");
        assert_eq!(raw, "44060419900101123X");
        let id = id(&raw);
        assert_eq!((id.sex(), id.sex().label_zh()), (Sex::Male, "男"));
        assert_eq!(id.birth_date(), day(1990, 1, 1));
        assert_eq!(id.masked(), "440604********123X");
        assert_eq!(format!("{id:?}"), "IdNumber(\"440604********123X\")");
        assert_eq!(self::id("\u{3000} 440604 19900101-123x\u{a0}"), id);
        assert_eq!(self::id("４４０６０４１９９００１０１１２３Ｘ"), id);
        // Unknown address codes are not rejected.
        let unknown = self::id(&id_with_check("99999920000101002"));
        assert_eq!(unknown.address_code(), "999999");
        // A genuine number ending in 000 with a correct check is not taken for Excel damage.
        let zeros = id_with_check("44060419900111000");
        assert_eq!(self::id(&zeros).as_str(), "440604199001110000");
    }

    #[test]
    fn birth_date_edges() {
        let leap = id(&id_with_check("44060420000229002"));
        assert_eq!(leap.birth_date(), day(2000, 2, 29));
        // 1900 is not a leap year; the table cases above use this computed number.
        assert_eq!(id_with_check("44060419000229002"), "440604190002290022");
        let born_today = id_with_check("44060420250615002");
        assert_eq!(id(&born_today).birth_date(), today());
        let yesterday = today().pred_opt().unwrap();
        let e = IdNumber::parse(&born_today, yesterday).unwrap_err();
        assert_eq!(
            e,
            FutureBirthDate {
                date: today(),
                today: yesterday
            }
        );
        let id = IdNumber::parse_today("11010519491231002X", false).unwrap();
        assert_eq!(id.birth_date(), day(1949, 12, 31));
        assert!(today_shanghai() >= day(2025, 1, 1));
    }

    #[test]
    fn legacy_15_digit() {
        let strict = IdNumber::parse_with("440604900101124", today(), false);
        assert_eq!(strict, Err(LegacyNotAccepted));
        let id = legacy("440604900101124").unwrap();
        assert!(id.is_legacy());
        assert_eq!(id.as_str(), "440604900101124");
        assert_eq!(id.birth_date(), day(1990, 1, 1));
        assert_eq!(id.sex(), Sex::Female);
        assert_eq!(legacy("440604900101123").unwrap().sex(), Sex::Male);
        assert_eq!(id.masked(), "440604*****1124");
        #[rustfmt::skip]
        let cases = [
            ("440604000229123", InvalidBirthDate { raw: "19000229".into() }),
            ("44060490010112A", NotDigit { what: ID_LABEL, position: 15, found: 'A' }),
            ("4406049001011", WrongLength { what: ID_LABEL, required: 18, given: 13 }),
        ];
        for (raw, expected) in cases {
            assert_eq!(legacy(raw), Err(expected), "{raw}");
        }
        // 18-digit numbers are still fully checked when legacy is allowed.
        assert!(!legacy("11010519491231002X").unwrap().is_legacy());
    }

    #[test]
    fn credit_code_valid_and_classes() {
        assert_eq!(credit_with_check("91350100M000100Y4"), "91350100M000100Y43");
        let (code, warning) = CreditCode::parse("91350100M000100Y43").unwrap();
        assert_eq!(warning, None);
        assert_eq!(code.as_str(), "91350100M000100Y43");
        assert_eq!(code.division_code(), "350100");
        let (code, warning) = CreditCode::parse(" 91440604ma4uj5xx71 ").unwrap();
        assert_eq!(warning, None);
        assert_eq!(code.to_string(), "91440604MA4UJ5XX71");
        let class = |p: &str| {
            let (c, w) = CreditCode::parse(&credit_with_check(p)).unwrap();
            assert_eq!(w, None, "{p}");
            (c.authority_zh(), c.entity_class_zh())
        };
        assert_eq!(class("91350100M000100Y4"), ("市场监管", Some("企业")));
        assert_eq!(class("92440604MA4UJ5XX7"), ("市场监管", Some("个体工商户")));
        assert_eq!(class("93440604MA4UJ5XX7"), ("市场监管", Some("农民专业合作社")));
        assert_eq!(class("51440000MJL172123"), ("民政", Some("社团")));
        assert_eq!(class("52440000MJL172123"), ("民政", Some("民非")));
        assert_eq!(class("53440000MJL172123"), ("民政", Some("基金会")));
        assert_eq!(class("11100000000013127"), ("机构编制", None));
        assert_eq!(class("Y1440604MA4UJ5XX7"), ("其他", None));
        assert_eq!(class("31440604MA4UJ5XX7"), ("未知", None));
    }

    #[test]
    fn credit_code_wrong_check_warns_not_rejects() {
        // The brief's example fails the check (it should end in 1): kept, with a warning.
        let (code, warning) = CreditCode::parse("91440604MA4UJ5XX7C").unwrap();
        assert_eq!(code.as_str(), "91440604MA4UJ5XX7C");
        let w = warning.unwrap();
        assert_eq!((w.expected, w.found), ('1', 'C'));
        let msg = "统一社会信用代码校验位不符：按国家标准最后一位应为 1，实际为 C。\
                   部分早期赋码的代码存在这种情况，已按原值保存，请人工核实";
        assert_eq!(w.to_string(), msg);
    }

    #[test]
    fn credit_code_rejections() {
        #[rustfmt::skip]
        let cases = [
            ("91350100MI00100Y43", InvalidCreditChar { position: 10, found: 'I' }),
            ("91350100MO00100Y43", InvalidCreditChar { position: 10, found: 'O' }),
            ("91350100MS00100Y43", InvalidCreditChar { position: 10, found: 'S' }),
            ("91350100MV00100Y43", InvalidCreditChar { position: 10, found: 'V' }),
            ("91350100MZ00100Y43", InvalidCreditChar { position: 10, found: 'Z' }),
            ("91350100mo00100y43", InvalidCreditChar { position: 10, found: 'o' }),
            ("91350100M000100Y4", WrongLength { what: CREDIT_LABEL, required: 18, given: 17 }),
            ("", Empty { what: CREDIT_LABEL }),
            ("9.14406E+17", ScientificNotation { raw: "9.14406E+17".into() }),
        ];
        for (raw, expected) in cases {
            assert_eq!(CreditCode::parse(raw), Err(expected), "{raw}");
        }
        let err = |raw: &str| CreditCode::parse(raw).unwrap_err().to_string();
        let msg = "统一社会信用代码第 12 位“I”不是允许的字符（只能是数字或除 I、O、S、V、Z 以外的大写字母）";
        assert_eq!(err("91350100M00I100Y43"), msg);
        let msg = "统一社会信用代码长度错误：应为 18 位，实际为 17 位";
        assert_eq!(err("91350100M000100Y4"), msg);
        assert_eq!(err(" "), "统一社会信用代码为空");
    }

    #[test]
    fn mobile_normalisation() {
        let m = Mobile::parse("+86 138-1234-5678").unwrap();
        assert_eq!(m.as_str(), "13812345678");
        assert_eq!(m.masked(), "138****5678");
        assert_eq!(format!("{m:?}"), "Mobile(\"138****5678\")");
        for raw in ["8613812345678", "0086 13812345678", "１３８１２３４５６７８"] {
            assert_eq!(Mobile::parse(raw), Ok(m.clone()), "{raw}");
        }
        assert_eq!("199 0000 1111".parse::<Mobile>().unwrap().to_string(), "19900001111");
    }

    #[rustfmt::skip]
    const MOBILE_MESSAGES: &[(&str, &str)] = &[
        ("12812345678", "手机号码号段错误：应以 13～19 开头，实际以“12”开头"),
        ("23812345678", "手机号码号段错误：应以 13～19 开头，实际以“23”开头"),
        ("1381234567", "手机号码长度错误：应为 11 位，实际为 10 位"),
        ("+86138123456789", "手机号码长度错误：应为 11 位，实际为 12 位"),
        ("1381234567a", "手机号码第 11 位“a”不是数字"),
        ("", "手机号码为空"),
        ("1.38123E+10", "该值（1.38123E+10）被电子表格转成了科学计数法，后几位已丢失，请将该列设为文本后重新导出"),
    ];

    #[test]
    fn mobile_rejections() {
        for (raw, msg) in MOBILE_MESSAGES {
            assert_eq!(Mobile::parse(raw).unwrap_err().to_string(), *msg, "{raw}");
        }
        let prefix = "12".to_string();
        assert_eq!(Mobile::parse("12812345678"), Err(MobilePrefix { prefix }));
        let e = Mobile::parse("1381234567").unwrap_err();
        assert_eq!(
            format!("{e:?}"),
            "WrongLength { what: \"手机号码\", required: 11, given: 10 }"
        );
    }

    #[test]
    fn cell_normalisation_and_excel_detection() {
        assert_eq!(normalize_cell("４４０６０４"), "440604");
        assert_eq!(normalize_cell("\u{a0}\u{3000} 张　三 \u{feff}"), "张 三");
        assert_eq!(normalize_cell("ＡＢＣ！～（１）"), "ABC!~(1)");
        assert_eq!(normalize_identifier(" 138 1234\u{3000}－5678 "), "13812345678");
        assert_eq!(normalize_identifier("4406\u{a0}04—1990"), "4406041990");
        assert!(looks_like_scientific_notation("4.40604E+17"));
        assert!(looks_like_scientific_notation("4e17"));
        assert!(!looks_like_scientific_notation("4.4E"));
        assert!(!looks_like_scientific_notation("E17"));
        assert!(!looks_like_scientific_notation("4.4E+1X"));
    }
}
