//! Volunteer star levels by cumulative hours (a setting).
//!
//! The setting `volunteer_settings.star_hours` lists the cumulative hours at which a volunteer
//! reaches one star, two stars and so on: `100,300,600,1000,1500` by default (DOMAIN_RULES.md,
//! "Volunteer service"). The thresholds must be positive whole hours, strictly increasing.

use crate::Validation;

/// The default thresholds, in hours.
pub const DEFAULT_STAR_HOURS: [i64; 5] = [100, 300, 600, 1000, 1500];

/// The thresholds of the star levels, in hours, strictly increasing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StarLevels(Vec<i64>);

impl Default for StarLevels {
    fn default() -> Self {
        StarLevels(DEFAULT_STAR_HOURS.to_vec())
    }
}

/// Where a volunteer stands: stars reached and what the next one needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing {
    /// 0 (none yet) up to the number of thresholds.
    pub stars: usize,
    /// The hours the next star needs, when there is one.
    pub next_hours: Option<i64>,
    /// Minutes still missing to the next star.
    pub minutes_to_next: Option<i64>,
}

impl Standing {
    /// e.g. `三星志愿者`, or `未评星` before the first threshold.
    pub fn label_zh(&self) -> String {
        const DIGITS: [&str; 10] = ["", "一", "二", "三", "四", "五", "六", "七", "八", "九"];
        match self.stars {
            0 => "未评星".into(),
            n if n < DIGITS.len() => format!("{}星志愿者", DIGITS[n]),
            n => format!("{n}星志愿者"),
        }
    }
}

impl StarLevels {
    /// Parses the setting: hours separated by commas (`,` or `，`), spaces allowed.
    pub fn parse(raw: &str) -> Result<StarLevels, Validation> {
        let field = "star_hours";
        let parts: Vec<&str> = raw
            .split([',', '，'])
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        if parts.is_empty() {
            return Err(Validation::single(
                field,
                "请填写各星级所需的累计服务时长，如 100,300,600,1000,1500",
            ));
        }
        if parts.len() > 9 {
            return Err(Validation::single(field, "星级最多 9 级"));
        }
        let mut hours = Vec::new();
        for p in parts {
            let shown: String = p.chars().filter(|c| !c.is_control()).take(12).collect();
            match p.parse::<i64>() {
                Ok(h) if h > 0 && h <= 100_000 => hours.push(h),
                Ok(_) => {
                    return Err(Validation::single(
                        field,
                        format!("“{shown}”应为 1 到 100000 之间的小时数"),
                    ));
                }
                Err(_) => return Err(Validation::single(field, format!("“{shown}”不是整数小时"))),
            }
        }
        if hours.windows(2).any(|w| w[1] <= w[0]) {
            return Err(Validation::single(field, "各星级的时长必须逐级递增"));
        }
        Ok(StarLevels(hours))
    }

    /// The thresholds in hours.
    pub fn hours(&self) -> &[i64] {
        &self.0
    }

    /// The setting's text form, `100,300,600,1000,1500`.
    pub fn to_setting(&self) -> String {
        self.0.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
    }

    /// The standing of a volunteer with `minutes` of cumulative service.
    pub fn standing(&self, minutes: i64) -> Standing {
        let stars = self.0.iter().take_while(|h| minutes >= **h * 60).count();
        let next_hours = self.0.get(stars).copied();
        Standing {
            stars,
            next_hours,
            minutes_to_next: next_hours.map(|h| h * 60 - minutes.max(0)),
        }
    }
}

/// Minutes shown as hours with up to two decimals, e.g. `90` → `1.5`.
pub fn hours_text(minutes: i64) -> String {
    let h = minutes as f64 / 60.0;
    let s = format!("{h:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_setting_parses() {
        let l = StarLevels::parse("100,300,600,1000,1500").expect("default");
        assert_eq!(l, StarLevels::default());
        assert_eq!(l.to_setting(), "100,300,600,1000,1500");
        assert_eq!(
            StarLevels::parse(" 50， 120 ,200 ").expect("spaces").hours(),
            &[50, 120, 200]
        );
    }

    #[test]
    fn thresholds_must_be_positive_and_increasing() {
        let msg = |raw: &str| {
            StarLevels::parse(raw)
                .expect_err(raw)
                .message_for("star_hours")
                .map(str::to_string)
        };
        assert_eq!(msg("100,300,300").as_deref(), Some("各星级的时长必须逐级递增"));
        assert_eq!(msg("300,100").as_deref(), Some("各星级的时长必须逐级递增"));
        assert_eq!(msg("0,100").as_deref(), Some("“0”应为 1 到 100000 之间的小时数"));
        assert_eq!(msg("-5").as_deref(), Some("“-5”应为 1 到 100000 之间的小时数"));
        assert_eq!(msg("1.5,3").as_deref(), Some("“1.5”不是整数小时"));
        assert!(msg("").is_some());
        assert!(msg("1,2,3,4,5,6,7,8,9,10").is_some());
    }

    #[test]
    fn standing_by_cumulative_minutes() {
        let l = StarLevels::default();
        let s = l.standing(0);
        assert_eq!((s.stars, s.next_hours, s.minutes_to_next), (0, Some(100), Some(6000)));
        assert_eq!(s.label_zh(), "未评星");
        let s = l.standing(100 * 60 - 1);
        assert_eq!((s.stars, s.minutes_to_next), (0, Some(1)));
        let s = l.standing(100 * 60);
        assert_eq!((s.stars, s.next_hours, s.minutes_to_next), (1, Some(300), Some(12000)));
        assert_eq!(l.standing(650 * 60).label_zh(), "三星志愿者");
        let s = l.standing(2000 * 60);
        assert_eq!((s.stars, s.next_hours, s.minutes_to_next), (5, None, None));
        assert_eq!(s.label_zh(), "五星志愿者");
    }

    #[test]
    fn hours_are_shown_without_trailing_zeros() {
        assert_eq!(hours_text(90), "1.5");
        assert_eq!(hours_text(120), "2");
        assert_eq!(hours_text(100), "1.67");
        assert_eq!(hours_text(0), "0");
    }
}
