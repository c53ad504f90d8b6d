//! Running a query: exact totals, the top hits with snippets, in relevance or
//! date order.
//!
//! Snippets come from the stored start of the author's text, highlighted with
//! the analyser of the message's language, so `upgrading` highlights
//! `upgrade` in English mail.

use std::collections::HashMap;
use std::time::Instant;

use serde::Serialize;
use tantivy::collector::{Count, TopDocs};
use tantivy::query::{Query, TermQuery};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::snippet::SnippetGenerator;
use tantivy::{DocAddress, Order, Searcher};

use super::facets::{FacetCollector, FacetCounts, Facets};
use super::limits::{self, Budget};
use super::{plan, visible, QueryError};
use crate::index::analysis;
use crate::index::doc::StoredMessage;
use crate::index::MailIndex;

/// Result order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Sort {
    /// Best match first (BM25, subject above body above quoted text).
    #[default]
    Relevance,
    /// Newest first.
    Date,
    /// Oldest first.
    Oldest,
}

/// A search to run.
#[derive(Debug, Clone)]
pub struct Request {
    /// Query text in gleaner's query language.
    pub query: String,
    /// Hits to return.
    pub limit: usize,
    /// Hits to skip.
    pub offset: usize,
    /// Order.
    pub sort: Sort,
    /// "Now" for `older:`/`newer:`, unix seconds.
    pub now: i64,
    /// The lists the caller may see (`None`: all). Enforced here, in the query
    /// layer, for totals and hits alike.
    pub allowed_lists: Option<Vec<String>>,
    /// Where `is:cited`, `cited:` and other marks kept outside the index are
    /// looked up (`None`: such terms are an error).
    pub marks: Option<std::sync::Arc<dyn crate::query::Marks>>,
}

impl std::fmt::Debug for dyn crate::query::Marks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Marks")
    }
}

impl Request {
    /// `query` for a viewer of every list: the first 20 by relevance, no
    /// marks, `now` 0 (set it for `older:`/`newer:`).
    pub fn new(query: impl Into<String>) -> Request {
        Request {
            query: query.into(),
            limit: 20,
            offset: 0,
            sort: Sort::Relevance,
            now: 0,
            allowed_lists: None,
            marks: None,
        }
    }

    /// The same request, only within the lists in `allowed` (`None`: all).
    pub fn within(self, allowed: Option<&[String]>) -> Request {
        Request {
            allowed_lists: allowed.map(<[String]>::to_vec),
            ..self
        }
    }

    /// The planned query, restricted to the lists the caller may see.
    /// The limits in force ([`limits::current`]) bound its length, clauses
    /// and prefix expansions.
    pub fn plan(&self, index: &MailIndex) -> Result<Box<dyn Query>, QueryError> {
        self.plan_within(index, &std::sync::Arc::new(Budget::new(limits::current())))
    }

    /// The planned query of one page of results, with the budget it runs
    /// within: a page beyond the limits in force is refused, and the query
    /// stops at their deadline.
    pub(crate) fn plan_page(
        &self,
        index: &MailIndex,
    ) -> Result<(std::sync::Arc<Budget>, limits::Deadline), QueryError> {
        let limits = limits::current();
        limits::check_page(self.offset, self.limit, &limits)?;
        let budget = std::sync::Arc::new(Budget::new(limits));
        let query = budget.wrap(self.plan_within(index, &budget)?);
        Ok((budget, query))
    }

    /// Like [`Request::plan`], charging `budget`.
    pub fn plan_within(
        &self,
        index: &MailIndex,
        budget: &std::sync::Arc<Budget>,
    ) -> Result<Box<dyn Query>, QueryError> {
        let ast = plan::parse_limited(&self.query, budget.limits())?;
        let query = plan::Planner::new(index, self.now)
            .with_marks(self.marks.as_deref())
            .with_budget(budget.clone())
            .plan(&ast)?;
        Ok(visible::restrict(
            &index.fields,
            query,
            self.allowed_lists.as_deref(),
        ))
    }
}

/// A highlighted extract of a message.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Snippet {
    /// Plain text of the extract.
    pub text: String,
    /// Byte ranges of `text` to highlight.
    pub highlights: Vec<(usize, usize)>,
}

impl Snippet {
    /// The extract as HTML: everything escaped, matches in `<mark>`.
    pub fn to_html(&self) -> String {
        let mut out = String::new();
        let mut pos = 0;
        for &(a, b) in &self.highlights {
            if a < pos || b > self.text.len() || a > b {
                continue;
            }
            out.push_str(&escape_html(&self.text[pos..a]));
            out.push_str("<mark>");
            out.push_str(&escape_html(&self.text[a..b]));
            out.push_str("</mark>");
            pos = b;
        }
        out.push_str(&escape_html(&self.text[pos.min(self.text.len())..]));
        out
    }

    /// The extract for a terminal: matches wrapped in `open` and `close`.
    pub fn marked(&self, open: &str, close: &str) -> String {
        let mut out = String::new();
        let mut pos = 0;
        for &(a, b) in &self.highlights {
            if a < pos || b > self.text.len() || a > b {
                continue;
            }
            out.push_str(&self.text[pos..a]);
            out.push_str(open);
            out.push_str(&self.text[a..b]);
            out.push_str(close);
            pos = b;
        }
        out.push_str(&self.text[pos.min(self.text.len())..]);
        out
    }
}

/// Unix seconds as RFC 3339 UTC (`2019-03-01T10:00:00Z`); `""` when unknown (≤ 0).
pub fn rfc3339(secs: i64) -> String {
    if secs <= 0 {
        return String::new();
    }
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// Escapes text for HTML element content and attribute values.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// One search result.
#[derive(Debug, Clone, Serialize)]
pub struct Hit {
    /// The stored message.
    #[serde(flatten)]
    pub message: StoredMessage,
    /// BM25 score (0 when sorted by date).
    pub score: f32,
    /// Highlighted extract.
    pub snippet: Snippet,
}

/// The answer to a [`Request`].
#[derive(Debug, Clone, Serialize)]
pub struct Results {
    /// Exact number of matching messages.
    pub total: usize,
    /// The requested page of hits.
    pub hits: Vec<Hit>,
    /// Milliseconds taken.
    pub took_ms: f64,
}

/// Runs `req` against `index`, within the limits in force ([`limits::current`]):
/// a page beyond them is refused, and a search past the deadline fails.
pub fn search(index: &MailIndex, req: &Request) -> Result<Results, QueryError> {
    Ok(run(index, req, None)?.0)
}

/// [`search`] and the [`Facets`] of the whole result set from one plan and
/// one collector pass (hits, exact total, lists, senders, years and months
/// together), as `/api/search` answers.
pub fn search_with_facets(
    index: &MailIndex,
    req: &Request,
) -> Result<(Results, Facets), QueryError> {
    let (results, counts) = run(index, req, Some(FacetCollector))?;
    Ok((results, counts.unwrap_or_default().into_facets(req)))
}

fn run(
    index: &MailIndex,
    req: &Request,
    facets: Option<FacetCollector>,
) -> Result<(Results, Option<FacetCounts>), QueryError> {
    let started = Instant::now();
    let searcher = index.reader.searcher();
    let (query, total, hits, counts) = ranked_with(index, &searcher, req, facets)?;
    let mut snippets = Snippets::new(index, &searcher, &query);
    let mut out = Vec::with_capacity(hits.len());
    let mut loader = crate::index::doc::Loader::new(&searcher, &index.fields);
    for (score, addr) in hits {
        let message = loader.load(addr)?.visible_to(req.allowed_lists.as_deref());
        let snippet = snippets.make(&message);
        out.push(Hit {
            message,
            score,
            snippet,
        });
    }
    let results = Results {
        total,
        hits: out,
        took_ms: started.elapsed().as_secs_f64() * 1000.0,
    };
    Ok((results, counts))
}

type Top = (usize, Vec<(f32, DocAddress)>, Option<FacetCounts>);

/// What [`ranked`] returns: the query, the total, the page's (score, address).
pub(crate) type Ranked = (limits::Deadline, usize, Vec<(f32, DocAddress)>);

/// The planned query, the total and the addresses of the hits of `req`'s
/// page, in order, within the limits in force (what [`search`] runs before it
/// loads the hits).
pub(crate) fn ranked(
    index: &MailIndex,
    searcher: &Searcher,
    req: &Request,
) -> Result<Ranked, QueryError> {
    let (query, total, hits, _) = ranked_with(index, searcher, req, None)?;
    Ok((query, total, hits))
}

/// [`Ranked`] and the facet counts of the same pass.
type RankedWith = (
    limits::Deadline,
    usize,
    Vec<(f32, DocAddress)>,
    Option<FacetCounts>,
);

/// [`ranked`], and the facet counts of the same pass when `facets` is given.
fn ranked_with(
    index: &MailIndex,
    searcher: &Searcher,
    req: &Request,
    facets: Option<FacetCollector>,
) -> Result<RankedWith, QueryError> {
    let (_, query) = req.plan_page(index)?;
    let (total, hits, counts) = top(searcher, &query, req, facets)?;
    query.check()?;
    Ok((query, total, hits, counts))
}

fn top(
    searcher: &Searcher,
    query: &dyn Query,
    req: &Request,
    facets: Option<FacetCollector>,
) -> Result<Top, QueryError> {
    let limit = req.limit.max(1);
    let docs = TopDocs::with_limit(limit).and_offset(req.offset);
    Ok(match req.sort {
        Sort::Relevance => searcher.search(query, &(Count, docs.order_by_score(), facets))?,
        Sort::Date | Sort::Oldest => {
            let order = if req.sort == Sort::Date {
                Order::Desc
            } else {
                Order::Asc
            };
            let (n, d, f) = searcher.search(
                query,
                &(
                    Count,
                    docs.order_by_fast_field::<i64>("date", order),
                    facets,
                ),
            )?;
            (n, d.into_iter().map(|(_, a)| (0.0, a)).collect(), f)
        }
    })
}

/// Snippet generators per body field, made on first use.
pub(crate) struct Snippets<'a> {
    index: &'a MailIndex,
    searcher: &'a Searcher,
    query: &'a dyn Query,
    by_field: HashMap<Field, Option<SnippetGenerator>>,
}

const SNIPPET_CHARS: usize = 200;

impl<'a> Snippets<'a> {
    pub(crate) fn new(index: &'a MailIndex, searcher: &'a Searcher, query: &'a dyn Query) -> Self {
        Snippets {
            index,
            searcher,
            query,
            by_field: HashMap::new(),
        }
    }

    pub(crate) fn make(&mut self, m: &StoredMessage) -> Snippet {
        let field = self.index.fields.body_field_for(&m.lang);
        let (searcher, query) = (self.searcher, self.query);
        let generator = self
            .by_field
            .entry(field)
            .or_insert_with(|| generator(searcher, query, field, &m.lang));
        if let Some(g) = generator {
            let s = g.snippet(&m.text);
            if !s.is_empty() && !s.highlighted().is_empty() {
                return Snippet {
                    // Same-length replacement keeps the highlight offsets valid.
                    text: s.fragment().replace(['\n', '\r', '\t'], " "),
                    highlights: s.highlighted().iter().map(|r| (r.start, r.end)).collect(),
                };
            }
        }
        Snippet {
            text: preview(&m.text, SNIPPET_CHARS),
            highlights: Vec::new(),
        }
    }
}

/// The snippet generator of body `field` (language `lang`): tantivy's, with
/// the query's terms weighted as tantivy weighs them, but highlighting
/// through [`analysis::highlight_analyzer`], which stems only the words that
/// could be the query's.
fn generator(
    searcher: &Searcher,
    query: &dyn Query,
    field: Field,
    lang: &str,
) -> Option<SnippetGenerator> {
    let Some((_, _, algorithm)) = analysis::STEMMED.iter().find(|(code, _, _)| *code == lang)
    else {
        // Unstemmed text: the field's own analyser is cheap.
        let mut g = SnippetGenerator::create(searcher, query, field).ok()?;
        g.set_max_num_chars(SNIPPET_CHARS);
        return Some(g);
    };
    let mut terms = std::collections::BTreeSet::new();
    query.query_terms(&mut |term, _| {
        if term.field() == field {
            terms.insert(term.clone());
        }
    });
    let mut weighted = std::collections::BTreeMap::new();
    for term in terms {
        let value = term.value();
        let Some(text) = value.as_str() else {
            continue;
        };
        let doc_freq = searcher.doc_freq(&term).ok()?;
        if doc_freq > 0 {
            weighted.insert(text.to_string(), 1.0 / (1.0 + doc_freq as f32));
        }
    }
    let mut initials: Vec<char> = weighted.keys().filter_map(|t| t.chars().next()).collect();
    initials.sort_unstable();
    initials.dedup();
    let analyzer = analysis::highlight_analyzer(*algorithm, &initials);
    Some(SnippetGenerator::new(
        weighted,
        analyzer,
        field,
        SNIPPET_CHARS,
    ))
}

/// The first `max` characters of `text`, whitespace collapsed.
pub fn preview(text: &str, max: usize) -> String {
    let mut out = String::new();
    for word in text.split_whitespace() {
        if out.chars().count() + word.chars().count() > max {
            if out.is_empty() {
                out.extend(word.chars().take(max));
            }
            break;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// Finds a message by Message-ID (with or without angle brackets) or by key.
pub fn find_message(index: &MailIndex, id: &str) -> Result<Option<StoredMessage>, QueryError> {
    find_visible_message(index, id, None)
}

/// Like [`find_message`], but only among the lists in `allowed` (`None`: all).
pub fn find_visible_message(
    index: &MailIndex,
    id: &str,
    allowed: Option<&[String]>,
) -> Result<Option<StoredMessage>, QueryError> {
    let f = &index.fields;
    let searcher = index.reader.searcher();
    // A document key (`sha256:…` for mail without a usable Message-ID), or a
    // Message-ID in any case.
    let key = crate::index::doc::key_term(f, id.trim());
    for term in std::iter::once(key).chain(crate::index::doc::id_terms(f, id)) {
        let q = visible::restrict(
            f,
            Box::new(TermQuery::new(term, IndexRecordOption::Basic)),
            allowed,
        );
        let top = searcher.search(q.as_ref(), &TopDocs::with_limit(1).order_by_score())?;
        if let Some((_, addr)) = top.first() {
            return Ok(Some(
                StoredMessage::load(&searcher, f, *addr)?.visible_to(allowed),
            ));
        }
    }
    Ok(None)
}

/// Every message a request matches, found within a budget and not yet read.
#[derive(Clone)]
pub struct Matches {
    searcher: Searcher,
    addrs: Vec<DocAddress>,
    allowed: Option<Vec<String>>,
}

impl Matches {
    /// How many.
    pub fn len(&self) -> usize {
        self.addrs.len()
    }

    /// None at all?
    pub fn is_empty(&self) -> bool {
        self.addrs.is_empty()
    }

    /// Calls `each` with every message, oldest first, until it returns
    /// `false`; fails once `budget`'s deadline has passed.
    pub fn for_each(
        &self,
        index: &MailIndex,
        budget: &Budget,
        mut each: impl FnMut(StoredMessage) -> bool,
    ) -> Result<(), QueryError> {
        let mut loader = crate::index::doc::Loader::new(&self.searcher, &index.fields);
        for addr in &self.addrs {
            budget.check_time()?;
            if !each(loader.load(*addr)?.visible_to(self.allowed.as_deref())) {
                break;
            }
        }
        Ok(())
    }
}

impl Matches {
    /// Calls `each` with the values of fast text field `field` (`key`,
    /// `location`, `thread`) of every message, oldest first, as
    /// `(message number, value)`, without reading the document store: what
    /// listing every hit's id or file needs. Only for a viewer of every list
    /// (a list-restricted viewer must see only their copies: use
    /// [`Matches::for_each`]); `None` otherwise.
    pub fn each_fast_value(
        &self,
        field: &str,
        budget: &Budget,
        mut each: impl FnMut(usize, &str) -> bool,
    ) -> Result<Option<()>, QueryError> {
        if self.allowed.is_some() {
            return Ok(None);
        }
        // Each segment's (term ordinal, message number) pairs, then the
        // terms resolved in ordinal order: the dictionary's compressed blocks
        // are each read once, not once per message.
        let mut by_segment: std::collections::HashMap<
            u32,
            (tantivy::columnar::StrColumn, Vec<(u64, usize)>),
        > = std::collections::HashMap::new();
        for (n, addr) in self.addrs.iter().enumerate() {
            if n % 4096 == 0 {
                budget.check_time()?;
            }
            let entry = match by_segment.entry(addr.segment_ord) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => {
                    let reader = self.searcher.segment_reader(addr.segment_ord);
                    match reader.fast_fields().str(field)? {
                        Some(column) => e.insert((column, Vec::new())),
                        None => continue,
                    }
                }
            };
            entry
                .1
                .extend(entry.0.term_ords(addr.doc_id).map(|ord| (ord, n)));
        }
        let mut values: Vec<(usize, std::sync::Arc<str>)> = Vec::new();
        for (column, mut pairs) in by_segment.into_values() {
            budget.check_time()?;
            pairs.sort_unstable();
            let mut ords: Vec<u64> = pairs.iter().map(|(ord, _)| *ord).collect();
            ords.dedup();
            let mut terms: Vec<std::sync::Arc<str>> = Vec::with_capacity(ords.len());
            column
                .dictionary()
                .sorted_ords_to_term_cb(&ords, |bytes| {
                    terms.push(String::from_utf8_lossy(bytes).into());
                })
                .map_err(|e| QueryError::Index(e.into()))?;
            // `terms` follows the distinct ordinals of the sorted pairs.
            let mut distinct = terms.iter();
            let (mut current, mut term) = (None, None);
            for (ord, n) in &pairs {
                if current != Some(*ord) {
                    current = Some(*ord);
                    term = distinct.next();
                }
                if let Some(term) = term {
                    values.push((*n, term.clone()));
                }
            }
        }
        values.sort_by_key(|(n, _)| *n);
        for (n, value) in &values {
            if !each(*n, value) {
                break;
            }
        }
        Ok(Some(()))
    }
}

/// The messages `req` matches (its limit, offset and sort are ignored),
/// oldest first, found within `budget` (planning and matching).
pub fn matching(
    index: &MailIndex,
    req: &Request,
    budget: &std::sync::Arc<Budget>,
) -> Result<Matches, QueryError> {
    let searcher = index.reader.searcher();
    let query = req.plan_within(index, budget)?;
    let total = budget.search(&searcher, query.as_ref(), &Count)?;
    let addrs = if total == 0 {
        Vec::new()
    } else {
        let docs = TopDocs::with_limit(total).order_by_fast_field::<i64>("date", Order::Asc);
        budget
            .search(&searcher, query.as_ref(), &docs)?
            .into_iter()
            .map(|(_, a)| a)
            .collect()
    };
    Ok(Matches {
        searcher,
        addrs,
        allowed: req.allowed_lists.clone(),
    })
}

/// Calls `each` with every message `req` matches (its limit, offset and sort
/// are ignored), oldest first, until it returns `false`. Returns the total.
/// A whole result set is a long job: it runs within [`Budget::job`].
pub fn for_each_match(
    index: &MailIndex,
    req: &Request,
    each: impl FnMut(StoredMessage) -> bool,
) -> Result<usize, QueryError> {
    let budget = Budget::job();
    let found = matching(index, req, &budget)?;
    found.for_each(index, &budget, each)?;
    Ok(found.len())
}

/// Calls `each` with every indexed message (in index order) until it returns
/// `false`. Returns how many were visited.
pub fn for_each_message(
    index: &MailIndex,
    mut each: impl FnMut(StoredMessage) -> bool,
) -> Result<usize, QueryError> {
    let searcher = index.reader.searcher();
    let mut n = 0;
    let mut loader = crate::index::doc::Loader::new(&searcher, &index.fields);
    for (ord, seg) in searcher.segment_readers().iter().enumerate() {
        for doc in seg.doc_ids_alive() {
            let addr = tantivy::DocAddress::new(ord as u32, doc);
            n += 1;
            if !each(loader.load(addr)?) {
                return Ok(n);
            }
        }
    }
    Ok(n)
}

/// Does the message with document key `key` match `query` (no marks)?
pub fn key_matches(
    index: &MailIndex,
    query: &str,
    key: &str,
    now: i64,
) -> Result<bool, QueryError> {
    let planned = plan::plan_text(index, query, now)?;
    let q = tantivy::query::BooleanQuery::new(vec![
        (tantivy::query::Occur::Must, planned),
        (
            tantivy::query::Occur::Must,
            Box::new(TermQuery::new(
                crate::index::doc::key_term(&index.fields, key),
                IndexRecordOption::Basic,
            )),
        ),
    ]);
    Ok(index.reader.searcher().search(&q, &Count)? > 0)
}
