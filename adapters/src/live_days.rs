//! [`DayMarks`]: how a market on a real platform counts the swarm's days.
//!
//! A real platform keeps its own time; the swarm counts in days. On a live market a day
//! is the time between two cycles: [`Marketplace::advance`](crate::Marketplace::advance)
//! marks the moment the next day begins, and a report reads what the platform recorded
//! between two marks. The marks are part of the market's saved state, so a restarted
//! process goes on counting.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{AdapterError, Platform};

/// Most days one [`DayMarks::advance`] marks: a bound on a caller's mistake, far above
/// anything a cycle asks for.
const MAX_DAYS_AT_ONCE: u32 = 10_000;

/// A span of time: from its start, up to (not including) its end.
pub(crate) type Span = (DateTime<Utc>, DateTime<Utc>);

/// When each day began: day `d` is `[starts[d], starts[d + 1])`; the last entry is
/// today's start. Never empty. Saved as the plain list of times.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub(crate) struct DayMarks(Vec<DateTime<Utc>>);

impl DayMarks {
    /// Day 0, beginning at `now`.
    pub(crate) fn starting(now: DateTime<Utc>) -> Self {
        Self(vec![now])
    }

    /// Whether restored marks are usable (a saved state with no day is not).
    pub(crate) fn is_valid(&self) -> bool {
        !self.0.is_empty()
    }

    /// Today's number.
    pub(crate) fn today(&self) -> u32 {
        u32::try_from(self.0.len().saturating_sub(1)).unwrap_or(u32::MAX)
    }

    /// Lets `days` days pass: they all begin `now` (the ones but the last are empty).
    pub(crate) fn advance(&mut self, days: u32, now: DateTime<Utc>) {
        for _ in 0..days.min(MAX_DAYS_AT_ONCE) {
            self.0.push(now);
        }
    }

    /// The span of time days `from_day..to_day` covered, cut at today (which has not
    /// ended); `None` when no finished day is in the range. A range that ends before it
    /// starts is refused on `platform`'s behalf.
    pub(crate) fn window(&self, platform: Platform, from_day: u32, to_day: u32) -> Result<Option<Span>, AdapterError> {
        if from_day > to_day {
            return Err(AdapterError::rejected(
                platform,
                format!("report range is empty: from_day {from_day} is after to_day {to_day}"),
            ));
        }
        let end = to_day.min(self.today());
        let bound = |day: u32| self.0.get(day as usize).copied();
        Ok(if from_day < end { bound(from_day).zip(bound(end)) } else { None })
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 2, hour, 0, 0).single().expect("a time")
    }

    #[test]
    fn a_window_covers_finished_days_only() {
        let mut days = DayMarks::starting(at(1));
        assert_eq!(days.window(Platform::Gumroad, 0, 1).expect("a range"), None, "day 0 has not ended");
        days.advance(1, at(5));
        days.advance(2, at(9));
        assert_eq!(days.today(), 3);
        assert_eq!(days.window(Platform::Gumroad, 0, 1).expect("a range"), Some((at(1), at(5))));
        assert_eq!(days.window(Platform::Gumroad, 1, 30).expect("a range"), Some((at(5), at(9))), "cut at today");
        days.window(Platform::Gumroad, 2, 1).expect_err("backwards");
        assert_eq!(serde_json::to_value(&days).expect("json").as_array().map(Vec::len), Some(4), "a plain list");
    }
}
