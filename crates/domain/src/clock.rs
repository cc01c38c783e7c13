//! The one source of the current time.
//!
//! Every rule that depends on "now" (an activity's check-in window, a session's timeout, a
//! person's age, the month of a statement) reads it from a [`Clock`] handed down from the
//! program's start, never from the system directly. A server runs on [`Clock::system`]; tests
//! run on [`Clock::starting_at`] a chosen instant, so a test gives the same answer at any hour
//! and in any time zone, and may move the clock on ([`Clock::advance`], [`Clock::set`]).

use std::sync::{Arc, Mutex};
use std::time::Instant;

use chrono::{DateTime, FixedOffset, NaiveDate, TimeDelta, Utc};

/// China Standard Time (UTC+8, no daylight saving).
pub fn china() -> FixedOffset {
    // 8 hours is within ±24 hours, so the offset always exists.
    FixedOffset::east_opt(8 * 3600).unwrap_or_else(|| unreachable!("UTC+8 is a valid offset"))
}

/// The calendar date of `t` in China.
pub fn china_date(t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&china()).date_naive()
}

#[derive(Debug)]
enum Source {
    System,
    /// `base` at the moment `since`; the clock runs on from there at the monotonic clock's
    /// pace, so instants stay ordered, yet never depend on the wall clock.
    Manual {
        base: DateTime<Utc>,
        since: Instant,
    },
}

/// A cheap, shareable handle on the current time.
#[derive(Debug, Clone)]
pub struct Clock(Arc<Mutex<Source>>);

impl Clock {
    /// The system's clock.
    pub fn system() -> Clock {
        Clock(Arc::new(Mutex::new(Source::System)))
    }

    /// A clock that reads `at` now and runs on from there.
    pub fn starting_at(at: DateTime<Utc>) -> Clock {
        Clock(Arc::new(Mutex::new(Source::Manual {
            base: at,
            since: Instant::now(),
        })))
    }

    /// Whether this is the system's clock.
    pub fn is_system(&self) -> bool {
        matches!(*self.lock(), Source::System)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Source> {
        // The guarded value is plain data that no panic can leave half-written.
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The current instant.
    pub fn now(&self) -> DateTime<Utc> {
        match *self.lock() {
            Source::System => Utc::now(),
            Source::Manual { base, since } => base + TimeDelta::from_std(since.elapsed()).unwrap_or(TimeDelta::zero()),
        }
    }

    /// Today's date in China.
    pub fn china_today(&self) -> NaiveDate {
        china_date(self.now())
    }

    /// Moves a manual clock to `at` (it runs on from there). The system's clock cannot be set:
    /// it is turned into a manual one, which only a test does.
    pub fn set(&self, at: DateTime<Utc>) {
        *self.lock() = Source::Manual {
            base: at,
            since: Instant::now(),
        };
    }

    /// Moves the clock on by `by` (back when negative).
    pub fn advance(&self, by: TimeDelta) {
        let now = self.now();
        self.set(now + by);
    }
}

impl Default for Clock {
    fn default() -> Clock {
        Clock::system()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_manual_clock_starts_where_it_is_set_and_moves_on() {
        let at = Utc.with_ymd_and_hms(2026, 3, 1, 15, 30, 0).single().unwrap();
        let clock = Clock::starting_at(at);
        let first = clock.now();
        assert!(first >= at && first - at < TimeDelta::seconds(5));
        assert_eq!(clock.china_today(), NaiveDate::from_ymd_opt(2026, 3, 1).unwrap());
        clock.advance(TimeDelta::minutes(40));
        // 16:10 UTC is 00:10 the next day in China.
        assert_eq!(clock.china_today(), NaiveDate::from_ymd_opt(2026, 3, 2).unwrap());
        let shared = clock.clone();
        shared.set(at);
        assert!(clock.now() < at + TimeDelta::seconds(5));
        assert!(!clock.is_system());
        assert!(Clock::system().is_system());
    }
}
