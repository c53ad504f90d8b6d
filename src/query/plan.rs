//! The planner: query AST → tantivy query, using the schema and analysers.
//!
//! A bare word is looked for in the subject (weighted highest), the body field
//! of every language (each with its own stemmer, so the query need not know the
//! mail's language), the sender, attachments, and — weighted lowest — quoted
//! reply text and signatures/footers. Each term goes through the analyser of
//! the field it is matched against, so case, accents and CJK segmentation match
//! what indexing did.

use std::collections::HashSet;
use std::ops::Bound;
use std::sync::Arc;

use tantivy::query::{
    AllQuery, BooleanQuery, BoostQuery, EmptyQuery, InvertedIndexRangeQuery, Occur,
    PhrasePrefixQuery, PhraseQuery, Query, RangeQuery, TermQuery, TermSetQuery,
};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::tokenizer::TextAnalyzer;
use tantivy::Term;
use time::{Date, Month, OffsetDateTime};

use super::grammar::{self, AgeUnit, DateSpec, Query as Ast, Value};
use super::limits::{self, Budget};
use super::marks::Mark;
use super::present::{has_field, Present};
use super::{Marks, QueryError};
use crate::index::analysis::{fold_analyzer, terms};
use crate::index::doc::{id_terms, key_term};
use crate::index::{Fields, MailIndex};

/// Weights of the default fields for bare words.
const SUBJECT_BOOST: f32 = 3.0;
const BODY_BOOST: f32 = 1.0;
const FROM_BOOST: f32 = 1.0;
const ATTACH_BOOST: f32 = 0.5;
const QUOTED_BOOST: f32 = 0.3;
const FOOTER_BOOST: f32 = 0.1;

/// Parses and plans `text`; `now` (unix seconds) anchors `older:`/`newer:`.
pub fn plan_text(index: &MailIndex, text: &str, now: i64) -> Result<Box<dyn Query>, QueryError> {
    let ast = parse_limited(text, &limits::current())?;
    Planner::new(index, now).plan(&ast)
}

/// Parses `text` after checking its length against `limits` (the parser
/// never sees a query longer than the limit).
pub fn parse_limited(text: &str, limits: &limits::Limits) -> Result<Ast, QueryError> {
    limits::check_text(text, limits)?;
    Ok(grammar::parse(text)?)
}

/// Turns ASTs into tantivy queries for one index.
pub struct Planner<'a> {
    index: &'a MailIndex,
    f: &'a Fields,
    now: i64,
    /// The body fields that hold any term: a language no message is in is not searched.
    body: Vec<Field>,
    /// Marks kept outside the index (`is:cited`, `cited:`).
    marks: Option<&'a dyn Marks>,
    /// What prefix expansions have used, and the deadline (see [`limits`]).
    budget: Arc<Budget>,
}

/// The body fields (one per stemming language, and `body_und`) that hold
/// text in some segment, read off the `lang` terms: a message's subject and
/// words go to the body field of its language. Asking each of the 19 body
/// fields of every segment instead cost each `gleaner search` ~0.5 ms, most
/// of it tantivy building an empty term dictionary for a field a segment lacks.
pub fn body_fields_in_use(index: &MailIndex) -> Vec<Field> {
    let f = &index.fields;
    let mut used = HashSet::new();
    for segment in index.reader.searcher().segment_readers() {
        let Ok(inverted) = segment.inverted_index(f.lang) else {
            return f.body_fields();
        };
        let Ok(mut langs) = inverted.terms().stream() else {
            return f.body_fields();
        };
        while langs.advance() {
            let Ok(code) = std::str::from_utf8(langs.key()) else {
                return f.body_fields();
            };
            used.insert(f.body_field_for(code));
        }
    }
    f.body_fields()
        .into_iter()
        .filter(|b| used.contains(b))
        .collect()
}

impl<'a> Planner<'a> {
    /// A planner for `index`, with `now` for relative dates.
    pub fn new(index: &'a MailIndex, now: i64) -> Self {
        let body = body_fields_in_use(index);
        Planner {
            index,
            f: &index.fields,
            now,
            body,
            marks: None,
            budget: Arc::new(Budget::new(limits::current())),
        }
    }

    /// Charges prefix expansions to `budget` (and stops at its deadline).
    pub fn with_budget(mut self, budget: Arc<Budget>) -> Self {
        self.budget = budget;
        self
    }

    /// Resolves `is:` and `cited:` through `marks`.
    pub fn with_marks(mut self, marks: Option<&'a dyn Marks>) -> Self {
        self.marks = marks;
        self
    }

    /// Plans one AST, refusing one with more clauses than the limits allow.
    pub fn plan(&self, ast: &Ast) -> Result<Box<dyn Query>, QueryError> {
        limits::check_clauses(ast, self.budget.limits())?;
        self.node(ast)
    }

    /// `ast` planned as a clause to exclude (see [`super::exclusion`]).
    fn excluded(&self, ast: &Ast) -> Result<Box<dyn Query>, QueryError> {
        Ok(Box::new(super::exclusion::Excluded::new(self.node(ast)?)))
    }

    fn node(&self, ast: &Ast) -> Result<Box<dyn Query>, QueryError> {
        Ok(match ast {
            Ast::And(items) => {
                let mut clauses = Vec::new();
                for item in items {
                    match item {
                        Ast::Not(inner) => clauses.push((Occur::MustNot, self.excluded(inner)?)),
                        _ => clauses.push((Occur::Must, self.node(item)?)),
                    }
                }
                if clauses.iter().all(|(o, _)| *o == Occur::MustNot) {
                    clauses.push((Occur::Must, Box::new(AllQuery)));
                }
                Box::new(BooleanQuery::new(clauses))
            }
            Ast::Or(items) => {
                let clauses = items
                    .iter()
                    .map(|q| Ok((Occur::Should, self.node(q)?)))
                    .collect::<Result<Vec<_>, QueryError>>()?;
                Box::new(BooleanQuery::new(clauses))
            }
            Ast::Not(inner) => Box::new(BooleanQuery::new(vec![
                (Occur::Must, Box::new(AllQuery)),
                (Occur::MustNot, self.excluded(inner)?),
            ])),
            Ast::Term(term) => self.term(term)?,
            Ast::HasAttachment => {
                let one = Term::from_field_u64(self.f.has_attach, 1);
                range(Bound::Included(one.clone()), Bound::Included(one))
            }
            Ast::Size { larger, bytes } => {
                let t = |v| Term::from_field_u64(self.f.size, v);
                if *larger {
                    range(Bound::Included(t(*bytes)), Bound::Unbounded)
                } else {
                    range(Bound::Included(t(0)), Bound::Excluded(t(*bytes)))
                }
            }
            Ast::DateRange { from, to } => self.dates(
                from.map(|d| day_start(d.start_of())),
                to.map(|d| day_start(d.end_exclusive())),
            ),
            Ast::After(d) => self.dates(Some(day_start(d.start_of())), None),
            Ast::Before(d) => self.dates(None, Some(day_start(d.start_of()))),
            Ast::Age {
                older,
                amount,
                unit,
            } => {
                let cutoff = age_cutoff(self.now, *amount, *unit);
                if *older {
                    self.dates(None, Some(cutoff))
                } else {
                    self.dates(Some(cutoff), None)
                }
            }
        })
    }

    /// `from <= date < to` (unix seconds); undated mail (stored as 0) never matches.
    fn dates(&self, from: Option<i64>, to: Option<i64>) -> Box<dyn Query> {
        let t = |v| Term::from_field_i64(self.f.date, v);
        let lower = Bound::Included(t(from.unwrap_or(1).max(1)));
        let upper = to.map_or(Bound::Unbounded, |v| Bound::Excluded(t(v)));
        range(lower, upper)
    }

    /// `is:NAME` (`is == true`) or `cited:DOC`: the Message-IDs the marks name.
    fn mark(&self, term: &grammar::Term, is: bool) -> Result<Box<dyn Query>, QueryError> {
        let position = term.span.0;
        let unsupported = |message: String| QueryError::Unsupported { position, message };
        let value = match &term.value {
            grammar::Value::Word(w) => w.to_lowercase(),
            grammar::Value::Phrase(p) => p.to_lowercase(),
            grammar::Value::Prefix(_) => {
                return Err(unsupported("a prefix* cannot name a mark".into()))
            }
        };
        let field = if is { "is" } else { "cited" };
        let marks = self.marks.ok_or_else(|| {
            unsupported(format!(
                "'{field}:' needs the curation database, which this search has no access to"
            ))
        })?;
        let mark = if is {
            marks.is(&value).map_err(unsupported)?.ok_or_else(|| {
                unsupported(format!(
                    "unknown 'is:{value}' (known: is:cited, is:archived, is:held)"
                ))
            })?
        } else {
            Mark::Ids(
                marks
                    .cited(&value)
                    .map_err(unsupported)?
                    .ok_or_else(|| unsupported(format!("no document {value:?}")))?,
            )
        };
        match mark {
            Mark::Ids(ids) => {
                let terms: Vec<Term> = ids.iter().flat_map(|id| id_terms(self.f, id)).collect();
                Ok(Box::new(TermSetQuery::new(terms)))
            }
            Mark::Keys(keys) => {
                let terms: Vec<Term> = keys.iter().map(|k| key_term(self.f, k)).collect();
                Ok(Box::new(TermSetQuery::new(terms)))
            }
            Mark::Queries(queries) => {
                // A mark's own queries are planned without marks (no recursion).
                let inner = Planner {
                    index: self.index,
                    f: self.f,
                    now: self.now,
                    body: self.body.clone(),
                    marks: None,
                    budget: self.budget.clone(),
                };
                let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
                for q in &queries {
                    let ast = grammar::parse(q).map_err(|e| {
                        unsupported(format!("the query of 'is:{value}' is bad: {e}"))
                    })?;
                    clauses.push((Occur::Should, inner.node(&ast)?));
                }
                if clauses.is_empty() {
                    return Ok(Box::new(EmptyQuery));
                }
                Ok(Box::new(BooleanQuery::new(clauses)))
            }
        }
    }

    fn term(&self, term: &grammar::Term) -> Result<Box<dyn Query>, QueryError> {
        use grammar::Field as G;
        let f = self.f;
        let fields: Vec<(Field, f32)> = match term.field {
            None => {
                let mut v = vec![(f.subject, SUBJECT_BOOST), (f.from, FROM_BOOST)];
                v.extend(self.body.iter().map(|b| (*b, BODY_BOOST)));
                v.extend([
                    (f.attach, ATTACH_BOOST),
                    (f.filename, ATTACH_BOOST),
                    (f.quoted, QUOTED_BOOST),
                    (f.footer, FOOTER_BOOST),
                ]);
                v
            }
            Some(G::Body) => {
                let mut v: Vec<_> = self.body.iter().map(|b| (*b, 1.0)).collect();
                v.extend([
                    (f.attach, ATTACH_BOOST),
                    (f.quoted, QUOTED_BOOST),
                    (f.footer, FOOTER_BOOST),
                ]);
                v
            }
            // The author, and the From header as written when a list rewrote it.
            Some(G::From) => vec![(f.from, 1.0), (f.from_header, 1.0)],
            Some(G::To) => vec![(f.to, 1.0)],
            Some(G::Cc) => vec![(f.cc, 1.0)],
            Some(G::Subject) => vec![(f.subject, 1.0)],
            Some(G::Filename) => vec![(f.filename, 1.0)],
            Some(G::List) => return self.list(&term.value),
            Some(G::Id) => return self.id(&term.value),
            Some(G::Thread) => return self.exact(f.thread, &term.value, false),
            Some(G::Lang) => return Ok(self.lang(&term.value)),
            Some(G::Is) => return self.mark(term, true),
            Some(G::Cited) => return self.mark(term, false),
        };
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for (field, boost) in fields {
            if let Some(q) = self.text(field, &term.value)? {
                let q: Box<dyn Query> = if (boost - 1.0).abs() > f32::EPSILON {
                    Box::new(BoostQuery::new(q, boost))
                } else {
                    q
                };
                clauses.push((Occur::Should, q));
            }
        }
        if clauses.is_empty() {
            return Err(QueryError::Unsupported {
                position: term.span.0,
                message: "this term has no letters or digits to search for".into(),
            });
        }
        Ok(Box::new(BooleanQuery::new(clauses)))
    }

    fn analyzer(&self, field: Field) -> Result<TextAnalyzer, QueryError> {
        Ok(self.index.index.tokenizer_for_field(field)?)
    }

    /// A word, phrase or prefix in one tokenised field; None if it has no tokens there.
    /// Segments without the field are skipped ([`Present`]).
    fn text(&self, field: Field, value: &Value) -> Result<Option<Box<dyn Query>>, QueryError> {
        Ok(self
            .text_in(field, value)?
            .map(|q| Box::new(Present::new(field, q)) as Box<dyn Query>))
    }

    fn text_in(&self, field: Field, value: &Value) -> Result<Option<Box<dyn Query>>, QueryError> {
        let (text, prefix) = match value {
            Value::Word(w) | Value::Phrase(w) => (w.as_str(), false),
            Value::Prefix(p) => (p.as_str(), true),
        };
        let stemmed = self.f.body_lang.iter().any(|(_, f)| *f == field);
        let tokens = if prefix {
            terms(&mut fold_analyzer(), text)
        } else {
            terms(&mut self.analyzer(field)?, text)
        };
        if prefix && tokens.len() == 1 {
            self.expansions(field, &tokens[0])?;
        }
        if prefix && stemmed && tokens.len() == 1 {
            return Ok(Some(stemmed_prefix(
                field,
                &tokens[0],
                &mut self.analyzer(field)?,
            )?));
        }
        if tokens.len() > 1 && field == self.f.footer {
            // Footers keep no positions (see `index::schema`): phrases are
            // not looked for there. Quoted text keeps them (issue 17).
            return Ok(None);
        }
        let mut ts: Vec<Term> = tokens
            .iter()
            .map(|t| Term::from_field_text(field, t))
            .collect();
        Ok(match (ts.len(), prefix) {
            (0, _) => None,
            (1, false) => Some(Box::new(TermQuery::new(
                ts.remove(0),
                IndexRecordOption::WithFreqs,
            ))),
            (1, true) => Some(prefix_query(field, &tokens[0])?),
            (_, false) => Some(Box::new(PhraseQuery::new(ts))),
            (_, true) => Some(Box::new(PhrasePrefixQuery::new(ts))),
        })
    }

    /// Charges the terms `prefix` expands to in `field` (every segment) to
    /// the budget; fails when the query's expansions pass the limits.
    fn expansions(&self, field: Field, prefix: &str) -> Result<(), QueryError> {
        self.budget.check_time()?;
        for segment in self.index.reader.searcher().segment_readers() {
            if !has_field(segment, field) {
                continue;
            }
            let inverted = segment.inverted_index(field)?;
            let mut stream = inverted
                .terms()
                .range()
                .ge(prefix.as_bytes())
                .into_stream()
                .map_err(tantivy::TantivyError::from)?;
            while stream.advance() {
                if !stream.key().starts_with(prefix.as_bytes()) {
                    break;
                }
                self.budget
                    .charge(u64::from(stream.value().doc_freq), prefix)?;
            }
        }
        Ok(())
    }

    /// `list:dev` matches the exact list id or any of its dot-separated parts.
    fn list(&self, value: &Value) -> Result<Box<dyn Query>, QueryError> {
        let exact = self.exact(self.f.list, value, true)?;
        Ok(match self.text(self.f.list_text, value) {
            Ok(Some(parts)) => Box::new(BooleanQuery::new(vec![
                (Occur::Should, exact),
                (Occur::Should, parts),
            ])),
            Err(e @ QueryError::Limit(_)) => return Err(e),
            _ => exact,
        })
    }

    /// `id:` finds a message by its key or, for a different message reusing the
    /// Message-ID, by `mid`; either way without regard to case.
    fn id(&self, value: &Value) -> Result<Box<dyn Query>, QueryError> {
        let p = match value {
            Value::Word(w) | Value::Phrase(w) => {
                return Ok(Box::new(TermSetQuery::new(id_terms(self.f, w))))
            }
            Value::Prefix(p) => p,
        };
        let p = p.trim().trim_start_matches('<').to_lowercase();
        let mut clauses = Vec::new();
        for (field, prefix) in [(self.f.key, format!("<{p}")), (self.f.mid, p)] {
            self.expansions(field, &prefix)?;
            if let Ok(q) = prefix_query(field, &prefix) {
                clauses.push((Occur::Should, q));
            }
        }
        Ok(Box::new(BooleanQuery::new(clauses)))
    }

    /// An untokenised field: exact value (angle brackets stripped), or a prefix.
    fn exact(
        &self,
        field: Field,
        value: &Value,
        lowercase: bool,
    ) -> Result<Box<dyn Query>, QueryError> {
        let (raw, prefix) = match value {
            Value::Word(w) | Value::Phrase(w) => (w, false),
            Value::Prefix(p) => (p, true),
        };
        let mut v = raw
            .trim()
            .trim_start_matches('<')
            .trim_end_matches('>')
            .to_string();
        if lowercase {
            v = v.to_lowercase();
        }
        if prefix {
            self.expansions(field, &v)?;
            return Ok(prefix_query(field, &v).unwrap_or_else(|_| Box::new(EmptyQuery)));
        }
        Ok(Box::new(TermQuery::new(
            Term::from_field_text(field, &v),
            IndexRecordOption::Basic,
        )))
    }

    fn lang(&self, value: &Value) -> Box<dyn Query> {
        let v = match value {
            Value::Word(w) | Value::Phrase(w) | Value::Prefix(w) => w.to_lowercase(),
        };
        let code = lang_code(&v).unwrap_or(&v);
        Box::new(TermQuery::new(
            Term::from_field_text(self.f.lang, code),
            IndexRecordOption::Basic,
        ))
    }
}

/// Endings tried on a prefix to find the stems of the words it begins.
const ENDINGS: [&str; 30] = [
    "", "e", "s", "es", "ed", "ing", "ion", "ions", "ive", "al", "ally", "ly", "y", "ies", "er",
    "ers", "ity", "ation", "ations", "ment", "ments", "en", "ung", "ungen", "ent", "ement", "o",
    "a", "os", "as",
];

/// A prefix in a stemmed field. A word that starts with `p` is indexed either
/// as a term starting with `p`, or as a stem shorter than `p` (`replicat*`
/// must find "replication", indexed as `replic`). The stems come from running
/// the field's stemmer over `p` plus common endings; a stem that is not a
/// prefix of the word it came from is left out.
fn stemmed_prefix(
    field: Field,
    p: &str,
    analyzer: &mut TextAnalyzer,
) -> Result<Box<dyn Query>, QueryError> {
    let mut clauses: Vec<(Occur, Box<dyn Query>)> = vec![(Occur::Should, prefix_query(field, p)?)];
    let mut stems = std::collections::BTreeSet::new();
    for ending in ENDINGS {
        let word = format!("{p}{ending}");
        if let [stem] = terms(analyzer, &word).as_slice() {
            if stem.len() < p.len() && stem.chars().count() >= 3 && word.starts_with(stem.as_str())
            {
                stems.insert(stem.clone());
            }
        }
    }
    for stem in stems {
        clauses.push((
            Occur::Should,
            Box::new(TermQuery::new(
                Term::from_field_text(field, &stem),
                IndexRecordOption::WithFreqs,
            )),
        ));
    }
    Ok(Box::new(BooleanQuery::new(clauses)))
}

fn range(lower: Bound<Term>, upper: Bound<Term>) -> Box<dyn Query> {
    Box::new(RangeQuery::new(lower, upper))
}

/// Every term of `field` that starts with `prefix`: the dictionary's range
/// from `prefix` up to `prefix` followed by the largest character (no
/// automaton to build, one seek per segment), always on the inverted index.
fn prefix_query(field: Field, prefix: &str) -> Result<Box<dyn Query>, QueryError> {
    let mut upper = String::with_capacity(prefix.len() + 4);
    upper.push_str(prefix);
    upper.push(char::MAX);
    Ok(Box::new(InvertedIndexRangeQuery::new(
        Bound::Included(Term::from_field_text(field, prefix)),
        Bound::Excluded(Term::from_field_text(field, &upper)),
    )))
}

/// Two-letter codes and English names for the languages gleaner detects.
const LANG_NAMES: [(&str, &str, &str); 24] = [
    ("en", "english", "eng"),
    ("de", "german", "deu"),
    ("fr", "french", "fra"),
    ("es", "spanish", "spa"),
    ("it", "italian", "ita"),
    ("pt", "portuguese", "por"),
    ("nl", "dutch", "nld"),
    ("sv", "swedish", "swe"),
    ("da", "danish", "dan"),
    ("no", "norwegian", "nob"),
    ("fi", "finnish", "fin"),
    ("hu", "hungarian", "hun"),
    ("ro", "romanian", "ron"),
    ("ru", "russian", "rus"),
    ("tr", "turkish", "tur"),
    ("el", "greek", "ell"),
    ("ar", "arabic", "ara"),
    ("ta", "tamil", "tam"),
    ("zh", "chinese", "cmn"),
    ("ja", "japanese", "jpn"),
    ("ko", "korean", "kor"),
    ("uk", "ukrainian", "ukr"),
    ("pl", "polish", "pol"),
    ("cs", "czech", "ces"),
];

/// Maps `de`, `german` or `deu` to `deu`.
pub fn lang_code(v: &str) -> Option<&'static str> {
    LANG_NAMES
        .iter()
        .find(|(two, name, three)| v == *two || v == *name || v == *three)
        .map(|(_, _, three)| *three)
}

/// Unix seconds of 00:00 UTC on a calendar day (clamped to the supported range).
pub fn day_start((y, m, d): (i32, u8, u8)) -> i64 {
    let month = Month::try_from(m).unwrap_or(Month::January);
    match Date::from_calendar_date(y.clamp(-9999, 9999), month, d) {
        Ok(date) => date.midnight().assume_utc().unix_timestamp(),
        Err(_) if y > 1970 => i64::MAX / 2,
        Err(_) => 0,
    }
}

/// `now` minus `amount` units; years and months move on the calendar.
pub fn age_cutoff(now: i64, amount: u32, unit: AgeUnit) -> i64 {
    let amount = i64::from(amount);
    let months = match unit {
        AgeUnit::Hours => return now - amount * 3600,
        AgeUnit::Days => return now - amount * 86_400,
        AgeUnit::Weeks => return now - amount * 7 * 86_400,
        AgeUnit::Months => amount,
        AgeUnit::Years => amount * 12,
    };
    let Ok(t) = OffsetDateTime::from_unix_timestamp(now) else {
        return now;
    };
    let total = i64::from(t.year()) * 12 + i64::from(u8::from(t.month())) - 1 - months;
    let year = total.div_euclid(12) as i32;
    let month = (total.rem_euclid(12) + 1) as u8;
    let max_day = time::util::days_in_month(Month::try_from(month).unwrap_or(Month::January), year);
    let spec = DateSpec {
        year,
        month: Some(month),
        day: Some(t.day().min(max_day)),
    };
    day_start(spec.start_of())
        + i64::from(t.time().hour()) * 3600
        + i64::from(t.time().minute()) * 60
        + i64::from(t.time().second())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_ages() {
        let now = day_start((2026, 3, 31)) + 3600;
        assert_eq!(
            age_cutoff(now, 1, AgeUnit::Months),
            day_start((2026, 2, 28)) + 3600
        );
        assert_eq!(
            age_cutoff(now, 6, AgeUnit::Years),
            day_start((2020, 3, 31)) + 3600
        );
        assert_eq!(age_cutoff(now, 2, AgeUnit::Days), now - 2 * 86_400);
    }

    #[test]
    fn lang_names() {
        assert_eq!(lang_code("de"), Some("deu"));
        assert_eq!(lang_code("japanese"), Some("jpn"));
        assert_eq!(lang_code("xx"), None);
    }
}
