//! When review rounds open and fall due: a policy's schedule (`[[round]]` in
//! gleaner.toml: `every = "1y"`, `starts = "03-01"`, `due = "60d"`,
//! `reviewers`), and the calendar arithmetic behind it (UTC dates).
//!
//! Pure: no SQLite, no index, no clock (callers pass "now").

use serde::{Deserialize, Serialize};
use time::{Date, Month, OffsetDateTime, Time};

use super::CurateError;

/// `[[round]]`: the schedule of one review policy's rounds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoundSchedule {
    /// The review policy (`[[review]] name`, or one made in the UI).
    pub policy: String,
    /// How often a round opens: `1y`, `6mo`, `3mo`, `2w`, `30d`.
    pub every: String,
    /// The first day of a period: `MM-DD` (any year) or `YYYY-MM-DD` (default `01-01`).
    #[serde(default = "first_of_january")]
    pub starts: String,
    /// How long after opening a round is due (default `30d`).
    #[serde(default = "thirty_days")]
    pub due: String,
    /// Who reviews (user names); a round's threads are shared out among them.
    pub reviewers: Vec<String>,
}

fn first_of_january() -> String {
    "01-01".into()
}

fn thirty_days() -> String {
    "30d".into()
}

/// A length of calendar time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    /// Whole months (a year is 12).
    Months(u32),
    /// Whole days (a week is 7).
    Days(u32),
}

/// Parses `1y`, `6mo` (or `6m`), `2w`, `60d`.
pub fn parse_period(s: &str) -> Result<Period, CurateError> {
    let t = s.trim().to_ascii_lowercase();
    let bad = || {
        CurateError::Invalid(format!(
            "bad period {s:?}: use a number and y, mo, w or d, like 1y, 6mo, 2w or 60d"
        ))
    };
    let split = t.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let n: u32 = t[..split].parse().map_err(|_| bad())?;
    if n == 0 || n > 10_000 {
        return Err(bad());
    }
    match &t[split..] {
        "y" => Ok(Period::Months(n * 12)),
        "mo" | "m" => Ok(Period::Months(n)),
        "w" => Ok(Period::Days(n * 7)),
        "d" => Ok(Period::Days(n)),
        _ => Err(bad()),
    }
}

/// The anchor of `starts`: (year if given, month, day).
fn parse_starts(s: &str) -> Result<(Option<i32>, Month, u8), CurateError> {
    let bad = || {
        CurateError::Invalid(format!(
            "bad starts {s:?}: use MM-DD (like 03-01) or YYYY-MM-DD"
        ))
    };
    let parts: Vec<&str> = s.trim().split('-').collect();
    let (year, month, day) = match parts.as_slice() {
        [m, d] => (None, *m, *d),
        [y, m, d] => (Some(y.parse::<i32>().map_err(|_| bad())?), *m, *d),
        _ => return Err(bad()),
    };
    let month: u8 = month.parse().map_err(|_| bad())?;
    let month = Month::try_from(month).map_err(|_| bad())?;
    let day: u8 = day.parse().map_err(|_| bad())?;
    // Checked against a leap year, so 02-29 is allowed (clamped in other years).
    Date::from_calendar_date(year.unwrap_or(2000), month, day).map_err(|_| bad())?;
    Ok((year, month, day))
}

/// `date` plus `months`, the day clamped to the month's length.
fn add_months(date: Date, months: i64, day: u8) -> Option<Date> {
    let index = i64::from(date.year()) * 12 + i64::from(u8::from(date.month())) - 1 + months;
    let year = i32::try_from(index.div_euclid(12)).ok()?;
    let month = Month::try_from(u8::try_from(index.rem_euclid(12) + 1).ok()?).ok()?;
    let last = time::util::days_in_month(month, year);
    Date::from_calendar_date(year, month, day.min(last)).ok()
}

fn date_of(secs: i64) -> Option<Date> {
    OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .map(|t| t.date())
}

fn secs_of(date: Date) -> i64 {
    date.with_time(Time::MIDNIGHT).assume_utc().unix_timestamp()
}

/// `secs` plus `period` (months on the calendar, days as 86,400 s).
pub fn add_period(secs: i64, period: Period) -> i64 {
    match period {
        Period::Days(n) => secs + i64::from(n) * 86_400,
        Period::Months(n) => {
            let Some(date) = date_of(secs) else {
                return secs;
            };
            let into_day = secs - secs_of(date);
            add_months(date, i64::from(n), date.day()).map_or(secs, |d| secs_of(d) + into_day)
        }
    }
}

impl RoundSchedule {
    /// Checks the period, the start and the due period, and that someone reviews.
    pub fn validate(&self) -> Result<(), CurateError> {
        parse_period(&self.every)?;
        parse_period(&self.due)?;
        parse_starts(&self.starts)?;
        if self.reviewers.iter().all(|r| r.trim().is_empty()) {
            return Err(CurateError::Invalid(format!(
                "the rounds of policy {:?} have no reviewers",
                self.policy
            )));
        }
        Ok(())
    }

    /// How long after opening a round is due.
    pub fn due_period(&self) -> Result<Period, CurateError> {
        parse_period(&self.due)
    }

    /// The first day (UTC, `YYYY-MM-DD`) of the period `now` is in: the
    /// newest scheduled start on or before `now`; `None` before the first.
    pub fn current_period(&self, now: i64) -> Result<Option<String>, CurateError> {
        let every = parse_period(&self.every)?;
        let (year, month, day) = parse_starts(&self.starts)?;
        let bad = || CurateError::Invalid(format!("bad starts {:?}", self.starts));
        let anchor = add_months(
            Date::from_calendar_date(year.unwrap_or(1970), month, 1).map_err(|_| bad())?,
            0,
            day,
        )
        .ok_or_else(bad)?;
        let Some(today) = date_of(now) else {
            return Ok(None);
        };
        if today < anchor {
            return Ok(None);
        }
        let start = match every {
            Period::Days(n) => {
                let since = (today - anchor).whole_days();
                let k = since.div_euclid(i64::from(n));
                anchor + time::Duration::days(k * i64::from(n))
            }
            Period::Months(n) => {
                let months = (i64::from(today.year()) * 12 + i64::from(u8::from(today.month())))
                    - (i64::from(anchor.year()) * 12 + i64::from(u8::from(anchor.month())));
                let mut k = months.div_euclid(i64::from(n));
                let mut start = add_months(anchor, k * i64::from(n), day).ok_or_else(bad)?;
                while start > today && k > 0 {
                    k -= 1;
                    start = add_months(anchor, k * i64::from(n), day).ok_or_else(bad)?;
                }
                start
            }
        };
        Ok(Some(start.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(date: &str) -> i64 {
        let d = Date::parse(
            date,
            time::macros::format_description!("[year]-[month]-[day]"),
        )
        .expect("date");
        secs_of(d) + 3600
    }

    fn schedule(every: &str, starts: &str) -> RoundSchedule {
        RoundSchedule {
            policy: "p".into(),
            every: every.into(),
            starts: starts.into(),
            due: "60d".into(),
            reviewers: vec!["alice".into()],
        }
    }

    #[test]
    fn periods_parse_and_bad_ones_are_refused() {
        assert_eq!(parse_period("1y").ok(), Some(Period::Months(12)));
        assert_eq!(parse_period("6mo").ok(), Some(Period::Months(6)));
        assert_eq!(parse_period("3m").ok(), Some(Period::Months(3)));
        assert_eq!(parse_period("2w").ok(), Some(Period::Days(14)));
        assert_eq!(parse_period("60d").ok(), Some(Period::Days(60)));
        for bad in ["", "y", "0d", "1h", "-1y", "1.5y", "12"] {
            assert!(parse_period(bad).is_err(), "{bad}");
        }
        assert!(schedule("1y", "13-01").validate().is_err());
        assert!(schedule("1y", "02-30").validate().is_err());
        assert!(schedule("1y", "02-29").validate().is_ok());
    }

    #[test]
    fn the_current_period_is_the_newest_start_not_after_now() {
        let yearly = schedule("1y", "03-01");
        let p = |s: &RoundSchedule, d: &str| s.current_period(at(d)).ok().flatten();
        assert_eq!(p(&yearly, "2026-12-07").as_deref(), Some("2026-03-01"));
        assert_eq!(p(&yearly, "2026-03-01").as_deref(), Some("2026-03-01"));
        assert_eq!(p(&yearly, "2026-02-28").as_deref(), Some("2025-03-01"));
        let quarterly = schedule("3mo", "03-01");
        assert_eq!(p(&quarterly, "2026-12-07").as_deref(), Some("2026-12-01"));
        assert_eq!(p(&quarterly, "2026-02-07").as_deref(), Some("2025-12-01"));
        let half = schedule("6mo", "2027-01-31");
        assert_eq!(p(&half, "2026-12-07"), None);
        assert_eq!(p(&half, "2027-08-01").as_deref(), Some("2027-07-31"));
        let end_of_month = schedule("1mo", "01-31");
        assert_eq!(
            p(&end_of_month, "2026-02-28").as_deref(),
            Some("2026-02-28")
        );
        assert_eq!(
            p(&end_of_month, "2026-03-30").as_deref(),
            Some("2026-02-28")
        );
        let weekly = schedule("2w", "2026-11-30");
        assert_eq!(p(&weekly, "2026-12-13").as_deref(), Some("2026-11-30"));
        assert_eq!(p(&weekly, "2026-12-14").as_deref(), Some("2026-12-14"));
    }

    #[test]
    fn due_dates_add_calendar_months_or_days() {
        assert_eq!(
            add_period(at("2026-01-31"), Period::Months(1)),
            at("2026-02-28")
        );
        assert_eq!(
            add_period(at("2026-03-01"), Period::Days(60)),
            at("2026-04-30")
        );
        assert_eq!(
            add_period(at("2026-03-01"), Period::Months(12)),
            at("2027-03-01")
        );
    }
}
