//! Typed field values: the text after `larger:`, `after:`, `date:`, `older:`,
//! `has:` and friends → sizes, [`DateSpec`]s and ages.
//!
//! Errors point at the value (or, in a date range, at the offending end).

use super::ast::{AgeUnit, DateSpec, Query};
use super::lexer::Typed;
use super::{ParseError, ParseErrorKind};

/// Turns the plain word `text`, found at char offset `at`, into the query
/// for the typed field `key`.
pub(super) fn typed(key: Typed, text: &str, at: usize) -> Result<Query, ParseError> {
    match key {
        Typed::Has => match text.to_ascii_lowercase().as_str() {
            "attachment" | "attachments" | "attach" => Ok(Query::HasAttachment),
            _ => Err(ParseError::new(
                at,
                ParseErrorKind::BadHasValue {
                    value: text.to_owned(),
                },
            )),
        },
        Typed::Larger | Typed::Smaller => {
            let bytes = size(text).ok_or_else(|| {
                ParseError::new(
                    at,
                    ParseErrorKind::BadSize {
                        text: text.to_owned(),
                    },
                )
            })?;
            Ok(Query::Size {
                larger: key == Typed::Larger,
                bytes,
            })
        }
        Typed::Older | Typed::Newer => {
            let (amount, unit) = age(text).ok_or_else(|| {
                ParseError::new(
                    at,
                    ParseErrorKind::BadAge {
                        text: text.to_owned(),
                    },
                )
            })?;
            Ok(Query::Age {
                older: key == Typed::Older,
                amount,
                unit,
            })
        }
        Typed::After => Ok(Query::After(date_at(text, at)?)),
        Typed::Before => Ok(Query::Before(date_at(text, at)?)),
        Typed::Date => date_range(text, at),
    }
}

/// `123`, `100k`, `1M`, `2g`, `10kb`: bytes, with k/M/G powers of 1024.
fn size(text: &str) -> Option<u64> {
    let lower = text.to_ascii_lowercase();
    let unsuffixed = lower.strip_suffix('b').unwrap_or(&lower);
    let (digits, unit) = match unsuffixed.as_bytes().last() {
        Some(b'k') => (&unsuffixed[..unsuffixed.len() - 1], 1 << 10),
        Some(b'm') => (&unsuffixed[..unsuffixed.len() - 1], 1 << 20),
        Some(b'g') => (&unsuffixed[..unsuffixed.len() - 1], 1 << 30),
        _ => (unsuffixed, 1),
    };
    number::<u64>(digits)?.checked_mul(unit)
}

/// `6y`, `3m`, `2w`, `30d`, `12h`.
fn age(text: &str) -> Option<(u32, AgeUnit)> {
    let unit_char = text.chars().last()?;
    let unit = AgeUnit::from_letter(unit_char)?;
    let amount = number::<u32>(&text[..text.len() - unit_char.len_utf8()])?;
    Some((amount, unit))
}

/// A non-empty run of ASCII digits (no sign) that fits in `T`.
fn number<T: std::str::FromStr>(digits: &str) -> Option<T> {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// `YYYY`, `YYYY-MM` or `YYYY-MM-DD` (month and day may have one digit).
pub(super) fn date(text: &str) -> Option<DateSpec> {
    let mut parts = text.split('-');
    let year_text = parts.next()?;
    if year_text.len() != 4 {
        return None;
    }
    let year = number::<i32>(year_text)?;
    let mut small = || -> Option<Option<u8>> {
        match parts.next() {
            None => Some(None),
            Some(p) if (1..=2).contains(&p.len()) => number::<u8>(p).map(Some),
            Some(_) => None,
        }
    };
    let month = small()?;
    let day = small()?;
    if parts.next().is_some() {
        return None;
    }
    DateSpec::new(year, month, day)
}

fn date_at(text: &str, at: usize) -> Result<DateSpec, ParseError> {
    date(text).ok_or_else(|| {
        ParseError::new(
            at,
            ParseErrorKind::BadDate {
                text: text.to_owned(),
            },
        )
    })
}

/// `A..B`, `A..`, `..B` or a single period `A` (which means `A..A`).
fn date_range(text: &str, at: usize) -> Result<Query, ParseError> {
    let Some((left, right)) = text.split_once("..") else {
        let d = date_at(text, at)?;
        return Ok(Query::DateRange {
            from: Some(d),
            to: Some(d),
        });
    };
    if left.is_empty() && right.is_empty() {
        return Err(ParseError::new(
            at,
            ParseErrorKind::BadDate {
                text: text.to_owned(),
            },
        ));
    }
    let right_at = at + left.chars().count() + 2;
    let from = (!left.is_empty()).then(|| date_at(left, at)).transpose()?;
    let to = (!right.is_empty())
        .then(|| date_at(right, right_at))
        .transpose()?;
    if let (Some(a), Some(b)) = (from, to) {
        if a.start_of() >= b.end_exclusive() {
            let kind = ParseErrorKind::EmptyDateRange {
                text: text.to_owned(),
            };
            return Err(ParseError::new(at, kind));
        }
    }
    Ok(Query::DateRange { from, to })
}
