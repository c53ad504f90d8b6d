//! The query AST and its canonical printer.
//!
//! `Display` on [`Query`] prints a canonical query string that parses back to
//! an equal AST (spans aside): one spelling per field (`subject:`, never
//! `s:`), sizes in the largest exact unit, zero-padded dates, and parentheses
//! only where the grouping would otherwise change. Holds no parsing logic and
//! knows nothing of the index schema.

use std::fmt;

/// A parsed query.
///
/// Invariants kept by the parser (and needed for `Display` to round-trip):
/// `And`/`Or` hold at least two items, `DateRange` has at least one bound,
/// and `Term` values are as [`Value`] describes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Query {
    /// Every item must match (`a b`, `a AND b`).
    And(Vec<Query>),
    /// At least one item must match (`a OR b`).
    Or(Vec<Query>),
    /// The item must not match (`-a`, `NOT a`).
    Not(Box<Query>),
    /// A word, phrase or prefix, in one field or in the default fields.
    Term(Term),
    /// `has:attachment` (also `has:attachments`, `has:attach`).
    HasAttachment,
    /// `larger:100k` (`larger: true`) or `smaller:1M` (`larger: false`).
    /// `larger:N` means size >= N bytes, `smaller:N` means size < N bytes.
    Size {
        /// `true` for `larger:`, `false` for `smaller:`.
        larger: bool,
        /// The bound in bytes (k = 1024, M = 1024², G = 1024³).
        bytes: u64,
    },
    /// `date:A..B`, `date:A`, `date:..B`, `date:A..`: from the start of
    /// period `from` to the end of period `to`, both whole periods included.
    /// `date:2019` is `from == to == 2019`.
    DateRange {
        /// First period included, or unbounded.
        from: Option<DateSpec>,
        /// Last period included, or unbounded.
        to: Option<DateSpec>,
    },
    /// `after:D`: date >= the start of D (inclusive).
    After(DateSpec),
    /// `before:D`: date < the start of D (exclusive).
    Before(DateSpec),
    /// `older:6y` (`older: true`) or `newer:30d` (`older: false`), relative to
    /// the moment the planner runs.
    Age {
        /// `true` for `older:`, `false` for `newer:`.
        older: bool,
        /// How many units.
        amount: u32,
        /// The unit.
        unit: AgeUnit,
    },
}

/// A text term: `word`, `"a phrase"` or `prefix*`, with an optional field.
///
/// Equality compares `field` and `value` only: `span` records where the term
/// came from, not what it means.
#[derive(Debug, Clone, Eq)]
pub struct Term {
    /// The field named by `field:`, or `None` for the default fields.
    pub field: Option<Field>,
    /// What to match.
    pub value: Value,
    /// Char offsets `[start, end)` in the input: `from:alice` covers the
    /// whole of it; a term distributed by `from:(alice OR bob)` covers its
    /// value only.
    pub span: (usize, usize),
}

impl PartialEq for Term {
    fn eq(&self, other: &Self) -> bool {
        self.field == other.field && self.value == other.value
    }
}

/// A field that takes text terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    /// `from:`
    From,
    /// `to:`
    To,
    /// `cc:`
    Cc,
    /// `subject:` or `s:`
    Subject,
    /// `body:`
    Body,
    /// `list:`
    List,
    /// `id:` (Message-ID)
    Id,
    /// `thread:`
    Thread,
    /// `filename:`
    Filename,
    /// `lang:`
    Lang,
    /// `is:` (kept generic; meaning decided later)
    Is,
    /// `cited:` (kept generic; meaning decided later)
    Cited,
}

impl Field {
    /// Every field, in canonical order.
    pub const ALL: [Field; 12] = [
        Field::From,
        Field::To,
        Field::Cc,
        Field::Subject,
        Field::Body,
        Field::List,
        Field::Id,
        Field::Thread,
        Field::Filename,
        Field::Lang,
        Field::Is,
        Field::Cited,
    ];

    /// The canonical name, as printed before the `:`.
    pub fn name(self) -> &'static str {
        match self {
            Field::From => "from",
            Field::To => "to",
            Field::Cc => "cc",
            Field::Subject => "subject",
            Field::Body => "body",
            Field::List => "list",
            Field::Id => "id",
            Field::Thread => "thread",
            Field::Filename => "filename",
            Field::Lang => "lang",
            Field::Is => "is",
            Field::Cited => "cited",
        }
    }

    /// Looks a field up by name, ASCII case-insensitively; `s` is `subject`.
    pub fn from_name(name: &str) -> Option<Field> {
        let lower = name.to_ascii_lowercase();
        if lower == "s" {
            return Some(Field::Subject);
        }
        Field::ALL.into_iter().find(|f| f.name() == lower)
    }
}

/// The text of a [`Term`].
///
/// From the parser, a `Word` or `Prefix` has no whitespace, `(`, `)`, `"` or
/// `*`; a bare (field-less) one neither starts with `-` nor is `AND`, `OR` or
/// `NOT`; a `Phrase` is not blank. Values keep their case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// `word`
    Word(String),
    /// `"a phrase"`, unescaped.
    Phrase(String),
    /// `stem*`: the stem, without the `*`.
    Prefix(String),
}

/// A calendar period: a year, a month or a day (proleptic Gregorian, UTC).
///
/// From the parser: `1 <= year <= 9999`, `month` in 1..=12, `day` within the
/// month, and `day` only with `month`. The helpers never panic on other
/// values, but their results are then meaningless.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DateSpec {
    /// The year.
    pub year: i32,
    /// The month, 1..=12, if given.
    pub month: Option<u8>,
    /// The day of the month, if given.
    pub day: Option<u8>,
}

impl DateSpec {
    /// A checked constructor: `None` unless the parser could have produced it.
    pub fn new(year: i32, month: Option<u8>, day: Option<u8>) -> Option<DateSpec> {
        let month_ok = match month {
            None => day.is_none(),
            Some(m) => {
                (1..=12).contains(&m) && day.is_none_or(|d| d >= 1 && d <= days_in_month(year, m))
            }
        };
        ((1..=9999).contains(&year) && month_ok).then_some(DateSpec { year, month, day })
    }

    /// The first day of the period as `(year, month, day)`.
    pub fn start_of(&self) -> (i32, u8, u8) {
        (self.year, self.month.unwrap_or(1), self.day.unwrap_or(1))
    }

    /// The first day after the period as `(year, month, day)`:
    /// `2019-06` → `(2019, 7, 1)`, `2019` → `(2020, 1, 1)`,
    /// `2020-02-28` → `(2020, 2, 29)`.
    pub fn end_exclusive(&self) -> (i32, u8, u8) {
        let next_year = (self.year.saturating_add(1), 1, 1);
        let Some(month) = self.month else {
            return next_year;
        };
        let next_month = if month >= 12 {
            next_year
        } else {
            (self.year, month + 1, 1)
        };
        match self.day {
            Some(day) if day < days_in_month(self.year, month) => (self.year, month, day + 1),
            _ => next_month,
        }
    }
}

/// Whether `year` is a Gregorian leap year.
fn is_leap_year(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

/// Days in `month` of `year`; 0 for a month outside 1..=12.
pub(super) fn days_in_month(year: i32, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// The unit of an `older:`/`newer:` age.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AgeUnit {
    /// `y`
    Years,
    /// `m` (months, not minutes)
    Months,
    /// `w`
    Weeks,
    /// `d`
    Days,
    /// `h`
    Hours,
}

impl AgeUnit {
    /// The unit's letter, as printed after the amount.
    pub fn letter(self) -> char {
        match self {
            AgeUnit::Years => 'y',
            AgeUnit::Months => 'm',
            AgeUnit::Weeks => 'w',
            AgeUnit::Days => 'd',
            AgeUnit::Hours => 'h',
        }
    }

    /// Looks a unit up by letter, case-insensitively.
    pub fn from_letter(letter: char) -> Option<AgeUnit> {
        match letter.to_ascii_lowercase() {
            'y' => Some(AgeUnit::Years),
            'm' => Some(AgeUnit::Months),
            'w' => Some(AgeUnit::Weeks),
            'd' => Some(AgeUnit::Days),
            'h' => Some(AgeUnit::Hours),
            _ => None,
        }
    }
}

impl fmt::Display for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Query::And(items) => {
                write_joined(f, items, " ", |q| matches!(q, Query::And(_) | Query::Or(_)))
            }
            Query::Or(items) => write_joined(f, items, " OR ", |q| matches!(q, Query::Or(_))),
            Query::Not(inner) => match **inner {
                Query::And(_) | Query::Or(_) | Query::Not(_) => write!(f, "-({inner})"),
                _ => write!(f, "-{inner}"),
            },
            Query::Term(term) => term.fmt(f),
            Query::HasAttachment => f.write_str("has:attachment"),
            Query::Size { larger, bytes } => {
                f.write_str(if *larger { "larger:" } else { "smaller:" })?;
                write_size(f, *bytes)
            }
            Query::DateRange { from, to } => match (from, to) {
                (Some(a), Some(b)) if a == b => write!(f, "date:{a}"),
                _ => {
                    f.write_str("date:")?;
                    if let Some(a) = from {
                        write!(f, "{a}")?;
                    }
                    f.write_str("..")?;
                    if let Some(b) = to {
                        write!(f, "{b}")?;
                    }
                    Ok(())
                }
            },
            Query::After(d) => write!(f, "after:{d}"),
            Query::Before(d) => write!(f, "before:{d}"),
            Query::Age {
                older,
                amount,
                unit,
            } => {
                let name = if *older { "older" } else { "newer" };
                write!(f, "{name}:{amount}{}", unit.letter())
            }
        }
    }
}

/// Writes `items` separated by `sep`, parenthesising those `needs_parens` picks.
fn write_joined(
    f: &mut fmt::Formatter<'_>,
    items: &[Query],
    sep: &str,
    needs_parens: impl Fn(&Query) -> bool,
) -> fmt::Result {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(sep)?;
        }
        if needs_parens(item) {
            write!(f, "({item})")?;
        } else {
            write!(f, "{item}")?;
        }
    }
    Ok(())
}

/// Writes a byte count in the largest unit that divides it exactly.
fn write_size(f: &mut fmt::Formatter<'_>, bytes: u64) -> fmt::Result {
    const UNITS: [(u64, &str); 3] = [(1 << 30, "G"), (1 << 20, "M"), (1 << 10, "k")];
    if bytes > 0 {
        for (unit, suffix) in UNITS {
            if bytes.is_multiple_of(unit) {
                return write!(f, "{}{suffix}", bytes / unit);
            }
        }
    }
    write!(f, "{bytes}")
}

impl fmt::Display for Term {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(field) = self.field {
            write!(f, "{}:", field.name())?;
        }
        self.value.fmt(f)
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Word(w) => f.write_str(w),
            Value::Prefix(stem) => write!(f, "{stem}*"),
            Value::Phrase(text) => {
                f.write_str("\"")?;
                for c in text.chars() {
                    if c == '"' || c == '\\' {
                        f.write_str("\\")?;
                    }
                    write!(f, "{c}")?;
                }
                f.write_str("\"")
            }
        }
    }
}

impl fmt::Display for DateSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}", self.year)?;
        if let Some(month) = self.month {
            write!(f, "-{month:02}")?;
        }
        if let Some(day) = self.day {
            write!(f, "-{day:02}")?;
        }
        Ok(())
    }
}

impl fmt::Display for AgeUnit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.letter())
    }
}
