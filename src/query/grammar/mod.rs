//! Query text → AST: the query language shared by the CLI, the web UI and the API.
//!
//! This module knows nothing of tantivy, the index schema or the clock; it does
//! no I/O. The planner (`query::plan`) turns the [`Query`] it returns into an
//! index query. Written as if it were its own crate, so it can move out later.
//!
//! # The language
//!
//! | input | meaning |
//! |---|---|
//! | `foo bar`, `foo AND bar` | both |
//! | `a b OR c` | `(a AND b) OR c`: `OR` binds looser than `AND` |
//! | `-x`, `NOT x` | not `x` |
//! | `(a OR b) c` | grouping |
//! | `"exact phrase"` | phrase; `\"` and `\\` are escapes, any other `\` is literal |
//! | `wo*` | prefix (a `*` is allowed only at the end of a word) |
//! | `from:alice`, `subject:"a b"`, `to:ali*` | a word, phrase or prefix in one field |
//! | `from:(alice OR bob)` | the field distributes over the group: `from:alice OR from:bob` |
//! | `has:attachment` | also `has:attachments`, `has:attach` |
//! | `larger:100k`, `smaller:1M` | size >= / < bytes; k, M, G are powers of 1024, any case, optional `b` |
//! | `after:2019-03-01` | date >= the start of the period (inclusive) |
//! | `before:2020` | date < the start of the period (exclusive): before 2020-01-01 |
//! | `date:2019`, `date:2019-03` | within the period |
//! | `date:2018..2019-06` | from the start of 2018 to the end of June 2019, both ends whole periods |
//! | `date:..2019`, `date:2018..` | open ranges |
//! | `older:6y`, `newer:30d` | age in y, m (months), w, d, h, any case |
//!
//! Dates are `YYYY`, `YYYY-MM` or `YYYY-MM-DD` (month and day may have one
//! digit), UTC, year 1..=9999, checked against the calendar (leap years
//! included). The planner turns a [`DateSpec`] into timestamps with
//! [`DateSpec::start_of`] and [`DateSpec::end_exclusive`].
//!
//! Fields: `from to cc subject s body list id thread filename lang has larger
//! smaller after before date older newer is cited`. `is:` and `cited:` are
//! kept as plain [`Field`] terms for later features.
//!
//! # Details
//!
//! - Keywords `AND`, `OR`, `NOT` are uppercase only; `or` is a word. Field
//!   names are case-insensitive (`From:`). Values keep their case: the
//!   planner folds case and accents.
//! - A word ends at whitespace, `(`, `)` or `"`; so `a(b)` is `a (b)` and
//!   `a"b c"` is `a "b c"`. A `-` starts a negation only at the start of a
//!   token and must touch its term: `a-b` is one word, `- b` is an error.
//! - `name:` where `name` is ASCII letters is a field prefix. An unknown name
//!   is an error (`foo:bar` → unknown field 'foo'), except when the colon is
//!   followed by `/`, so that URLs such as `http://x` are bare words. Anything
//!   else with a colon (`10:30`, `é:x`, `:x`) is a bare word. Quote to search
//!   for `foo:bar` literally.
//! - The value must touch its `field:`. Inside a value, `-`, `:` and the
//!   keywords are plain text: `from:-x`, `id:<a@b>`, `from:OR` are words.
//! - `larger`, `smaller`, `has` and the date fields take one plain word, not a
//!   phrase, prefix or group. A `field:(...)` group may not name other fields.
//! - Double negation (`--x`, `NOT -x`, `NOT NOT x`) is an error; parentheses
//!   make it explicit (`-(-x)`).
//! - Parentheses nest at most 100 deep.
//! - An empty or whitespace-only query is [`ParseErrorKind::EmptyQuery`], so
//!   callers can choose to show, say, the latest mail instead.
//!
//! Positions in errors and spans are 0-based offsets in `char`s (not bytes),
//! and never exceed the input's length in chars.

mod ast;
mod lexer;
mod parser;
#[cfg(test)]
mod tests;
mod values;

pub use ast::{AgeUnit, DateSpec, Field, Query, Term, Value};

/// A query the grammar rejects: where, and what is wrong. Always the user's mistake.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at position {position}: {kind}")]
pub struct ParseError {
    /// 0-based offset in chars (not bytes) into the input; at most its length.
    pub position: usize,
    /// What is wrong.
    pub kind: ParseErrorKind,
}

impl ParseError {
    fn new(position: usize, kind: ParseErrorKind) -> ParseError {
        ParseError { position, kind }
    }
}

/// What is wrong with a query. Names in the variants are as the user typed them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseErrorKind {
    /// The input is empty or only whitespace.
    #[error("empty query")]
    EmptyQuery,
    /// A `)` with no `(` to close.
    #[error("unexpected ')'")]
    UnexpectedCloseParen,
    /// A `(` whose `)` is missing.
    #[error("expected a closing ')'")]
    ExpectedCloseParen,
    /// `()`.
    #[error("empty parentheses")]
    EmptyGroup,
    /// A `"` with no closing `"`.
    #[error("unterminated phrase")]
    UnterminatedPhrase,
    /// `""` or a phrase of only whitespace.
    #[error("empty phrase")]
    EmptyPhrase,
    /// Nothing (or whitespace) right after `field:`.
    #[error("expected a value after '{field}:'")]
    ExpectedValue {
        /// The field name.
        field: String,
    },
    /// `name:` where `name` is not a field.
    #[error("unknown field '{name}'")]
    UnknownField {
        /// The name.
        name: String,
    },
    /// A field inside a `field:(...)` group.
    #[error("'{inner}:' cannot be used inside '{outer}:(...)'")]
    NestedField {
        /// The field inside the group.
        inner: String,
        /// The field of the group.
        outer: String,
    },
    /// A phrase, prefix or group given to a field that takes one plain word.
    #[error("'{field}:' takes a single plain value, not a phrase, prefix or group")]
    NeedsPlainValue {
        /// The field name.
        field: String,
    },
    /// `OR` at the start or end of a group, or next to another operator.
    #[error("OR needs a term on both sides")]
    OrNeedsTerms,
    /// `AND` at the start or end of a group, or next to another operator.
    #[error("AND needs a term on both sides")]
    AndNeedsTerms,
    /// `NOT` with no term after it.
    #[error("expected a term after 'NOT'")]
    DanglingNot,
    /// `-` with no term right after it.
    #[error("expected a term right after '-'")]
    DanglingMinus,
    /// More than 100 levels of parentheses.
    #[error("parentheses nested too deeply")]
    TooDeep,
    /// `--x`, `NOT -x` and the like.
    #[error("double negation")]
    DoubleNegation,
    /// A `*` with no word before it.
    #[error("'*' needs a word before it")]
    LoneStar,
    /// A `*` that is not at the end of its word.
    #[error("'*' is only allowed at the end of a word")]
    MisplacedStar,
    /// A date that is malformed or not in the calendar.
    #[error("bad date '{text}'")]
    BadDate {
        /// The offending text.
        text: String,
    },
    /// `date:A..B` where B ends before A starts.
    #[error("empty date range '{text}'")]
    EmptyDateRange {
        /// The range as typed.
        text: String,
    },
    /// A malformed or too large size.
    #[error("bad size '{text}'")]
    BadSize {
        /// The offending text.
        text: String,
    },
    /// A malformed or too large age.
    #[error("bad age '{text}' (expected a number and one of y, m, w, d, h)")]
    BadAge {
        /// The offending text.
        text: String,
    },
    /// `has:` with something other than `attachment`.
    #[error("unknown value '{value}' for 'has:' (expected 'attachment')")]
    BadHasValue {
        /// The offending value.
        value: String,
    },
}

/// Parses a query. Never panics, whatever the input.
///
/// `parse("from:(alice OR bob) s:report -draft")` gives an `And` of an `Or`
/// of two `from:` terms, a `subject:` term and a `Not`; its `to_string()` is
/// the canonical `(from:alice OR from:bob) subject:report -draft`.
pub fn parse(input: &str) -> Result<Query, ParseError> {
    parser::parse(input)
}
