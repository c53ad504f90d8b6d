//! IMAP full-text search: runs the Lucene-subset queries Dovecot's `fts_solr`
//! plugin sends (parsed by [`super::lucene`]) against [`crate::index::imap`]
//! and returns every matching UID.
//!
//! Semantics, chosen for IMAP and not copied from Solr:
//! * The answer is a true boolean set: `x OR -y` is "x, or not y"; a negation
//!   is taken relative to the documents of the user (and mailbox) the query is
//!   restricted to, so pure-negative queries work.
//! * Every query must be restricted by a top-level required `user:` clause (in
//!   `q` or an `fq`); documents of other users can never be returned.
//! * `body` and `hdr`: the folded search string must be a substring of the folded
//!   text, as in Dovecot's own search: one token matches inside any indexed token
//!   (`BODY error` finds "errors"); of several, the first ends a token, the inner
//!   ones are whole tokens and the last begins one, in order. There is no
//!   stemming: `BODY related` never returns mail that only says "relating".
//! * `subject`, `from`, `to`, `cc`, `bcc`: the folded search string must be a
//!   substring of the folded header value (`FROM smith` finds
//!   `j.smith@example.org`, `SUBJECT upd` finds "Update"), tested once per
//!   distinct value of the header's column.
//! * Substrings of `hdr`/`body` tokens are looked up in flat copies of the term
//!   dictionaries ([`crate::index::imap_terms`]), not by walking the FST.
//! * `~` (IMAP FUZZY): each token within the edit distance of an indexed token.
//! * A search string without any letter or digit cannot be answered from
//!   tokens: it is refused (Dovecot then searches the slow, exact way).
//!
//! This module knows nothing of HTTP or of the Solr response format.

use std::collections::BTreeSet;
use std::ops::Bound;

use tantivy::query::{
    AllQuery, BooleanQuery, EmptyQuery, EnableScoring, FuzzyTermQuery, Occur, PhrasePrefixQuery,
    Query, RangeQuery, Scorer, TermQuery, TermSetQuery,
};
use tantivy::schema::{IndexRecordOption, Value};
use tantivy::{DocAddress, Searcher, TantivyDocument, Term};

use super::addr_set::{AddrSet, AddrSetCollector};
use super::limits::Budget;
use super::lucene::{self, Node, TermQuery as LTerm};
use crate::index::imap::{fold, tokens, ImapFields, ImapIndex, HEADER_FIELDS};
use crate::index::imap_terms::TermTexts;

/// Why an IMAP search failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImapQueryError {
    /// The query text is malformed (the client's mistake).
    #[error("bad query: {0}")]
    Parse(#[from] lucene::ParseError),
    /// Well formed, but not something this backend answers (the client's mistake).
    #[error("unsupported query: {0}")]
    Unsupported(String),
    /// Longer or with more clauses than [`super::limits`] allow (Dovecot then
    /// searches without the index).
    #[error("query refused: {0}")]
    Limit(#[from] super::limits::LimitExceeded),
    /// The index failed (our failure).
    #[error("index error: {0}")]
    Index(#[from] tantivy::TantivyError),
}

impl From<super::limits::Bounded> for ImapQueryError {
    fn from(e: super::limits::Bounded) -> ImapQueryError {
        match e {
            super::limits::Bounded::Limit(l) => ImapQueryError::Limit(l),
            super::limits::Bounded::Index(i) => ImapQueryError::Index(i),
        }
    }
}

impl ImapQueryError {
    /// Is this the client's mistake (as opposed to a failure of ours)?
    pub fn is_user_error(&self) -> bool {
        !matches!(self, ImapQueryError::Index(_))
    }
}

/// A sort key of the answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortKey {
    /// By UID.
    Uid,
    /// By mailbox GUID.
    Mailbox,
}

/// One `select` request, already decoded.
#[derive(Clone, Debug, Default)]
pub struct Select {
    /// The `q` parameter.
    pub q: String,
    /// Every `fq` parameter.
    pub fq: Vec<String>,
    /// At most this many hits (`rows`); `None` means all.
    pub rows: Option<usize>,
    /// Sort keys, each ascending (`true`) or descending; empty means `uid asc`.
    pub sort: Vec<(SortKey, bool)>,
    /// Whether hits need their mailbox GUID and user (asked for in `fl` or by the sort).
    pub with_stored: bool,
}

/// One matching document.
#[derive(Clone, Debug, PartialEq)]
pub struct ImapHit {
    /// The IMAP UID.
    pub uid: u64,
    /// The mailbox GUID, when [`Select::with_stored`] was set.
    pub mailbox: Option<String>,
    /// The user, when [`Select::with_stored`] was set.
    pub user: Option<String>,
    /// A relevance score (1.0: all matches are equal).
    pub score: f32,
}

/// The answer: every match, sorted, cut to `rows`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ImapResults {
    /// How many documents matched before `rows` applied.
    pub num_found: usize,
    /// The hits.
    pub hits: Vec<ImapHit>,
}

/// A multi-word BODY/TEXT string whose first word ends more indexed words than this is
/// refused (Dovecot then searches without the index) rather than answered slowly.
const MAX_EDGE_TERMS: usize = 512;

/// Runs `req` against the index, within the request deadline in force.
pub fn select(ix: &ImapIndex, req: &Select) -> Result<ImapResults, ImapQueryError> {
    select_within(ix, req, &Budget::new(super::limits::current()))
}

/// Runs `req` against the index within `budget`: every search, every
/// substring scan of a segment's terms and every hit read looks at its
/// deadline, and a search past it fails (never a partial answer).
pub fn select_within(
    ix: &ImapIndex,
    req: &Select,
    budget: &Budget,
) -> Result<ImapResults, ImapQueryError> {
    let limits = budget.limits();
    let mut conjuncts = Vec::new();
    for text in std::iter::once(&req.q).chain(&req.fq) {
        super::limits::check_text(text, limits)?;
        flatten_and(lucene::parse(text)?, &mut conjuncts);
    }
    let clauses = conjuncts
        .iter()
        .map(lucene_clauses)
        .fold(0, usize::saturating_add);
    super::limits::check_count(clauses, limits)?;
    let (scope, rest): (Vec<Node>, Vec<Node>) = conjuncts.into_iter().partition(is_exact);
    if !scope
        .iter()
        .any(|n| matches!(n, Node::Term(t) if t.field == "user"))
    {
        return Err(ImapQueryError::Unsupported(
            "the query must require a user (user:NAME in q or fq)".into(),
        ));
    }
    let searcher = ix.reader.searcher();
    // (Term lists of merged-away segments are dropped by the warm-up after each reload.)
    let ev = Evaluator {
        fields: ix.fields,
        searcher: &searcher,
        terms: &ix.terms,
        scope: exact_query(ix.fields, &Node::And(scope))?,
        budget,
    };
    // Every set `eval` returns is already restricted to the scope, so the
    // scope's own documents (the whole mailbox) are only collected when all
    // conjuncts are negated: materialising them for `body:x` cost ~13 ms on a
    // 100k-message mailbox, more than the search itself.
    let set = ev.eval(&Node::And(rest))?;
    let mut hits = Vec::with_capacity(set.len());
    let mut columns = Vec::new();
    for seg in searcher.segment_readers() {
        columns.push(seg.fast_fields().u64("uid")?);
    }
    for addr in set.iter() {
        budget.check_time()?;
        let Some(uid) = columns
            .get(addr.segment_ord as usize)
            .and_then(|c| c.first(addr.doc_id))
        else {
            continue;
        };
        let (mailbox, user) = if req.with_stored {
            let d: TantivyDocument = searcher.doc(addr)?;
            (
                Some(first_str(&d, ix.fields.mailbox).unwrap_or_default()),
                Some(first_str(&d, ix.fields.user).unwrap_or_default()),
            )
        } else {
            (None, None)
        };
        hits.push(ImapHit {
            uid,
            mailbox,
            user,
            score: 1.0,
        });
    }
    sort_hits(&mut hits, &req.sort);
    let num_found = hits.len();
    if let Some(rows) = req.rows {
        hits.truncate(rows);
    }
    Ok(ImapResults { num_found, hits })
}

fn sort_hits(hits: &mut [ImapHit], sort: &[(SortKey, bool)]) {
    // Dovecot's own order (`sort=uid asc`, one mailbox): by number alone.
    if matches!(sort, [] | [(SortKey::Uid, true)]) && hits.iter().all(|h| h.mailbox.is_none()) {
        hits.sort_unstable_by_key(|h| h.uid);
        return;
    }
    let default = [(SortKey::Uid, true)];
    let keys = if sort.is_empty() { &default[..] } else { sort };
    hits.sort_by(|a, b| {
        for (key, asc) in keys {
            let o = match key {
                SortKey::Uid => a.uid.cmp(&b.uid),
                SortKey::Mailbox => a.mailbox.cmp(&b.mailbox),
            };
            let o = if *asc { o } else { o.reverse() };
            if o.is_ne() {
                return o;
            }
        }
        a.uid.cmp(&b.uid)
    });
}

fn flatten_and(n: Node, out: &mut Vec<Node>) {
    match n {
        Node::And(v) => v.into_iter().for_each(|c| flatten_and(c, out)),
        n => out.push(n),
    }
}

const EXACT_FIELDS: [&str; 4] = ["id", "uid", "box", "user"];

/// Does `n` only test exact fields (no negation, no text)?
fn is_exact(n: &Node) -> bool {
    match n {
        Node::All => true,
        Node::Term(t) => EXACT_FIELDS.contains(&t.field.as_str()) && t.fuzzy.is_none(),
        Node::And(v) | Node::Or(v) => v.iter().all(is_exact),
        Node::Not(_) => false,
    }
}

/// The tantivy query for a node of exact fields only (`id`, `uid`, `box`,
/// `user`, `*:*`, AND, OR and NOT), e.g. for `<delete><query>`.
pub fn exact_query(f: ImapFields, n: &Node) -> Result<Box<dyn Query>, ImapQueryError> {
    Ok(match n {
        Node::All => Box::new(AllQuery),
        Node::Term(t) => {
            let term = match t.field.as_str() {
                "id" => Term::from_field_text(f.id, &t.text),
                "box" => Term::from_field_text(f.mailbox, &t.text),
                "user" => Term::from_field_text(f.user, &t.text),
                "uid" => {
                    // `uid` is a column only (no postings): one value is a range of one.
                    let Ok(u) = t.text.trim().parse::<u64>() else {
                        return Ok(Box::new(EmptyQuery));
                    };
                    let one = Term::from_field_u64(f.uid, u);
                    return Ok(Box::new(RangeQuery::new(
                        Bound::Included(one.clone()),
                        Bound::Included(one),
                    )));
                }
                other => {
                    return Err(ImapQueryError::Unsupported(format!(
                        "field {other:?} cannot be used here"
                    )))
                }
            };
            Box::new(TermQuery::new(term, IndexRecordOption::Basic))
        }
        Node::And(v) if v.is_empty() => Box::new(AllQuery),
        Node::And(v) => {
            let mut clauses = Vec::new();
            for c in v {
                match c {
                    Node::Not(inner) => clauses.push((Occur::MustNot, exact_query(f, inner)?)),
                    c => clauses.push((Occur::Must, exact_query(f, c)?)),
                }
            }
            if clauses.iter().all(|(o, _)| *o == Occur::MustNot) {
                clauses.push((Occur::Must, Box::new(AllQuery)));
            }
            Box::new(BooleanQuery::new(clauses))
        }
        Node::Or(v) => {
            let mut clauses = Vec::new();
            for c in v {
                clauses.push((Occur::Should, exact_query(f, c)?));
            }
            Box::new(BooleanQuery::new(clauses))
        }
        Node::Not(inner) => Box::new(BooleanQuery::new(vec![
            (Occur::Must, Box::new(AllQuery) as Box<dyn Query>),
            (Occur::MustNot, exact_query(f, inner)?),
        ])),
    })
}

struct Evaluator<'a> {
    fields: ImapFields,
    searcher: &'a Searcher,
    /// Flat term lists for substring searches in `hdr` and `body`.
    terms: &'a TermTexts,
    /// The user/mailbox restriction: every set is a subset of its matches.
    scope: Box<dyn Query>,
    /// The deadline every step looks at.
    budget: &'a Budget,
}

impl Evaluator<'_> {
    fn collect(&self, q: Box<dyn Query>) -> Result<AddrSet, ImapQueryError> {
        let both = BooleanQuery::new(vec![
            (Occur::Must, self.scope.box_clone()),
            (Occur::Must, q),
        ]);
        Ok(self
            .budget
            .search(self.searcher, &both, &AddrSetCollector)?)
    }

    fn all(&self) -> Result<AddrSet, ImapQueryError> {
        self.collect(Box::new(AllQuery))
    }

    fn eval(&self, n: &Node) -> Result<AddrSet, ImapQueryError> {
        self.budget.check_time()?;
        match n {
            Node::All => self.all(),
            Node::Term(t) => self.term(t),
            Node::Or(v) => {
                let mut acc = AddrSet::new();
                for c in v {
                    acc = acc.union(self.eval(c)?);
                }
                Ok(acc)
            }
            Node::And(v) => {
                // Positive parts first, then subtract the negated ones.
                let (neg, pos): (Vec<&Node>, Vec<&Node>) =
                    v.iter().partition(|c| matches!(c, Node::Not(_)));
                let mut acc = match pos.split_first() {
                    None => self.all()?,
                    Some((first, others)) => {
                        let mut acc = self.eval(first)?;
                        for c in others {
                            if acc.is_empty() {
                                break;
                            }
                            acc = acc.intersect(&self.eval(c)?);
                        }
                        acc
                    }
                };
                for c in neg {
                    if let Node::Not(inner) = c {
                        if acc.is_empty() {
                            break;
                        }
                        acc = acc.difference(&self.eval(inner)?);
                    }
                }
                Ok(acc)
            }
            Node::Not(inner) => Ok(self.all()?.difference(&self.eval(inner)?)),
        }
    }

    fn term(&self, t: &LTerm) -> Result<AddrSet, ImapQueryError> {
        let field = t.field.as_str();
        if EXACT_FIELDS.contains(&field) {
            return self.collect(exact_query(self.fields, &Node::Term(t.clone()))?);
        }
        let Some(f) = self.fields.text_field(field) else {
            return Err(ImapQueryError::Unsupported(format!(
                "unknown field {field:?}"
            )));
        };
        let toks = tokens(&t.text);
        let is_header = HEADER_FIELDS.contains(&field);
        if t.text.is_empty() {
            // IMAP: an empty string matches every message (that has the header).
            return if is_header {
                self.header(field, |_| true)
            } else {
                self.all()
            };
        }
        if toks.is_empty() {
            return Err(ImapQueryError::Unsupported(format!(
                "{field}: a string without letters or digits cannot be answered from the index"
            )));
        }
        let terms: Vec<Term> = toks.iter().map(|s| Term::from_field_text(f, s)).collect();
        if let Some(distance) = t.fuzzy {
            let parts = terms
                .into_iter()
                .map(|term| {
                    let q: Box<dyn Query> = Box::new(FuzzyTermQuery::new(term, distance, true));
                    (Occur::Must, q)
                })
                .collect();
            return self.collect(Box::new(BooleanQuery::new(parts)));
        }
        if is_header {
            let needle = fold(&t.text);
            return self.header(field, |v| v.contains(needle.as_str()));
        }
        self.text_substring(f, &toks)
    }

    /// `body` and `hdr`: the folded search string as a substring of the folded text, as
    /// Dovecot's own search does (`BODY error` finds "errors", `BODY mirror` finds
    /// "portmirror"). One token matches every indexed token containing it; for several,
    /// the first must end an indexed token, the inner ones be whole tokens and the last
    /// begin one, in order.
    fn text_substring(
        &self,
        f: tantivy::schema::Field,
        toks: &[String],
    ) -> Result<AddrSet, ImapQueryError> {
        let Some((first, rest)) = toks.split_first() else {
            return Ok(AddrSet::new());
        };
        if rest.is_empty() {
            let mut terms = BTreeSet::new();
            for seg in self.searcher.segment_readers() {
                self.budget.check_time()?;
                let texts = self.terms.get(seg, f)?;
                terms.extend(
                    texts
                        .containing(first.as_bytes())
                        .into_iter()
                        .map(<[u8]>::to_vec),
                );
            }
            if terms.is_empty() {
                return Ok(AddrSet::new());
            }
            let terms = terms.iter().map(|t| Term::from_field_bytes(f, t));
            return self.collect(Box::new(TermSetQuery::new(terms)));
        }
        let last = rest.last().map_or("", String::as_str);
        let (firsts, lasts) = self.edge_terms(f, first, last)?;
        if firsts.len() > MAX_EDGE_TERMS {
            return Err(ImapQueryError::Unsupported(format!(
                "{} indexed words end in {first:?}: too many to search as a phrase",
                firsts.len()
            )));
        }
        if firsts.is_empty() || lasts == 0 {
            return Ok(AddrSet::new());
        }
        // tantivy reserves room for `max_expansions` up front: the exact count, not a cap.
        let expansions = u32::try_from(lasts).unwrap_or(u32::MAX);
        let tail: Vec<Term> = rest.iter().map(|s| Term::from_field_text(f, s)).collect();
        let clauses = firsts
            .iter()
            .map(|t| {
                let mut terms = vec![Term::from_field_text(f, t)];
                terms.extend(tail.iter().cloned());
                // The last token is a prefix; every expansion counts.
                let mut q = PhrasePrefixQuery::new(terms);
                q.set_max_expansions(expansions);
                (Occur::Should, Box::new(q) as Box<dyn Query>)
            })
            .collect();
        self.collect(Box::new(BooleanQuery::new(clauses)))
    }

    /// Every term of `f` ending in `first`, and the most terms beginning with
    /// `last` in any one segment (what a phrase-prefix query there expands to).
    fn edge_terms(
        &self,
        f: tantivy::schema::Field,
        first: &str,
        last: &str,
    ) -> Result<(BTreeSet<String>, usize), ImapQueryError> {
        let (mut firsts, mut lasts) = (BTreeSet::new(), 0);
        for seg in self.searcher.segment_readers() {
            self.budget.check_time()?;
            let texts = self.terms.get(seg, f)?;
            for t in texts.ending_with(first.as_bytes()) {
                if let Ok(t) = std::str::from_utf8(t) {
                    firsts.insert(t.to_string());
                }
            }
            lasts = lasts.max(texts.count_starting_with(last.as_bytes()));
        }
        Ok((firsts, lasts))
    }

    /// Documents whose folded header `name` passes `test` (`subject`, `from`, `to`,
    /// `cc`, `bcc`): each distinct value in a segment's column of that header is
    /// tested once, then the documents holding a value that passed are taken.
    fn header(&self, name: &str, test: impl Fn(&str) -> bool) -> Result<AddrSet, ImapQueryError> {
        let mut found = Vec::new();
        for (ord, seg) in self.searcher.segment_readers().iter().enumerate() {
            self.budget.check_time()?;
            let Some(column) = seg.fast_fields().str(name)? else {
                continue;
            };
            let dictionary = column.dictionary();
            let mut passed = vec![false; dictionary.num_terms()];
            let mut stream = dictionary.stream().map_err(tantivy::TantivyError::from)?;
            while stream.advance() {
                if std::str::from_utf8(stream.key()).is_ok_and(&test) {
                    if let Some(p) = usize::try_from(stream.term_ord())
                        .ok()
                        .and_then(|o| passed.get_mut(o))
                    {
                        *p = true;
                    }
                }
            }
            // The documents holding a passing value: by runs of consecutive passing
            // ordinals (the dictionary is sorted, so one sender's spellings sit
            // together) while there are few, else one pass over every document.
            let runs = ordinal_runs(&passed);
            if runs.is_empty() {
                continue;
            }
            let mut docs = Vec::new();
            if runs.len() <= MAX_ORDINAL_RUNS {
                for run in runs {
                    column
                        .ords()
                        .get_docids_for_value_range(run, 0..seg.max_doc(), &mut docs);
                    found.extend(
                        docs.drain(..)
                            .filter(|d| !seg.is_deleted(*d))
                            .map(|d| DocAddress::new(ord as u32, d)),
                    );
                }
            } else {
                let passes =
                    |o: u64| usize::try_from(o).is_ok_and(|o| passed.get(o) == Some(&true));
                for doc in seg.doc_ids_alive() {
                    if column.term_ords(doc).any(passes) {
                        found.push(DocAddress::new(ord as u32, doc));
                    }
                }
            }
        }
        self.within_scope(found)
    }

    /// Those of `docs` that are in the user/mailbox scope.
    fn within_scope(&self, mut docs: Vec<DocAddress>) -> Result<AddrSet, ImapQueryError> {
        docs.sort_unstable();
        let weight = self
            .scope
            .weight(EnableScoring::disabled_from_searcher(self.searcher))?;
        docs.dedup();
        let mut out = Vec::with_capacity(docs.len());
        let mut current: Option<(u32, Box<dyn Scorer>)> = None;
        for addr in docs {
            let scorer = match &mut current {
                Some((seg, scorer)) if *seg == addr.segment_ord => scorer,
                slot => {
                    let seg = self.searcher.segment_reader(addr.segment_ord);
                    &mut slot.insert((addr.segment_ord, weight.scorer(seg, 1.0)?)).1
                }
            };
            if scorer.doc() < addr.doc_id {
                scorer.seek(addr.doc_id);
            }
            if scorer.doc() == addr.doc_id {
                out.push(addr);
            }
        }
        Ok(AddrSet::from_unsorted(out))
    }
}

/// Header values looked up by ordinal range when they form at most this many runs.
const MAX_ORDINAL_RUNS: usize = 64;

/// The runs of consecutive `true`s in `passed`, as inclusive ordinal ranges.
fn ordinal_runs(passed: &[bool]) -> Vec<std::ops::RangeInclusive<u64>> {
    let mut runs = Vec::new();
    let mut start = None;
    for (i, p) in passed.iter().chain(std::iter::once(&false)).enumerate() {
        match (p, start) {
            (true, None) => start = Some(i as u64),
            (false, Some(s)) => {
                runs.push(s..=(i as u64 - 1));
                start = None;
            }
            _ => {}
        }
    }
    runs
}

fn first_str(d: &TantivyDocument, f: tantivy::schema::Field) -> Option<String> {
    d.get_first(f).and_then(|v| v.as_str().map(str::to_string))
}

#[cfg(test)]
#[path = "imap_tests.rs"]
mod tests;

/// The number of nodes of a Lucene query.
fn lucene_clauses(node: &Node) -> usize {
    match node {
        Node::And(items) | Node::Or(items) => items
            .iter()
            .map(lucene_clauses)
            .fold(1, usize::saturating_add),
        Node::Not(inner) => lucene_clauses(inner).saturating_add(1),
        Node::All | Node::Term(_) => 1,
    }
}
