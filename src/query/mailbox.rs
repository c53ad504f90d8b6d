//! Messages as a mailbox-shaped surface (IMAP) needs them: the keys of the
//! messages in a scope (some lists and/or a saved query, always within the
//! lists the viewer may read), narrowed by one filter (a gleaner query, a
//! date or size range, a substring of a header), every key of the index in
//! arrival order (for assigning UIDs), and one message by key with its
//! arrival time.
//!
//! Answers are sets of keys, never tantivy documents: the caller maps keys to
//! its own numbers. Knows nothing of IMAP's syntax, UIDs or SQLite.

use std::ops::Bound;
use std::sync::Arc;

use tantivy::collector::DocSetCollector;
use tantivy::query::{AllQuery, BooleanQuery, Occur, Query, RangeQuery, TermQuery};
use tantivy::schema::IndexRecordOption;
use tantivy::{DocAddress, Searcher, Term};

use super::limits::Budget;
use super::{plan, visible, Marks, QueryError};
use crate::index::doc::{key_term, Loader, StoredMessage};
use crate::index::MailIndex;

/// Which messages a mailbox holds.
#[derive(Clone, Default)]
pub struct Scope {
    /// Only these lists (`None`: every list).
    pub lists: Option<Vec<String>>,
    /// Only messages this gleaner query matches (a saved search).
    pub query: Option<String>,
    /// The lists the viewer may read (`None`: all). Always applied.
    pub allowed: Option<Vec<String>>,
    /// Where `is:cited` and other marks are looked up.
    pub marks: Option<Arc<dyn Marks>>,
    /// "Now" for relative dates in queries.
    pub now: i64,
}

/// A header whose text a [`Filter::Contains`] searches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderField {
    /// From (as written and the recovered author).
    From,
    /// To.
    To,
    /// Cc.
    Cc,
    /// Subject.
    Subject,
    /// Message-ID.
    MessageId,
    /// List-Id (the lists of the copies).
    ListId,
}

/// Which date a [`Filter::Date`] compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateField {
    /// The Date header.
    Sent,
    /// Arrival (IMAP's internal date).
    Arrived,
}

/// One narrowing of a scope.
#[derive(Debug, Clone)]
pub enum Filter {
    /// Everything in scope.
    All,
    /// A gleaner query.
    Query(String),
    /// `from <= date < until` (unix seconds).
    Date {
        /// Which date.
        field: DateField,
        /// Inclusive lower bound.
        from: Option<i64>,
        /// Exclusive upper bound.
        until: Option<i64>,
    },
    /// `min <= size <= max` (raw bytes as indexed).
    Size {
        /// Inclusive lower bound.
        min: Option<u64>,
        /// Inclusive upper bound.
        max: Option<u64>,
    },
    /// The folded needle is a substring of the folded header text (Dovecot's
    /// semantics for address and subject searches).
    Contains {
        /// Which header.
        field: HeaderField,
        /// What to look for.
        needle: String,
    },
}

fn lists_query(index: &MailIndex, lists: &[String]) -> Box<dyn Query> {
    let clauses = lists
        .iter()
        .map(|l| {
            let term = Term::from_field_text(index.fields.list, &l.to_lowercase());
            let q: Box<dyn Query> = Box::new(TermQuery::new(term, IndexRecordOption::Basic));
            (Occur::Should, q)
        })
        .collect();
    Box::new(BooleanQuery::new(clauses))
}

fn gleaner_query(
    index: &MailIndex,
    scope: &Scope,
    text: &str,
) -> Result<Box<dyn Query>, QueryError> {
    let budget = Arc::new(Budget::new(super::limits::current()));
    let ast = plan::parse_limited(text, budget.limits())?;
    plan::Planner::new(index, scope.now)
        .with_marks(scope.marks.as_deref())
        .with_budget(budget)
        .plan(&ast)
}

fn range<T: Copy>(
    from: Option<T>,
    until: Option<T>,
    inclusive_upper: bool,
) -> (Bound<T>, Bound<T>) {
    let lo = from.map_or(Bound::Unbounded, Bound::Included);
    let hi = match until {
        None => Bound::Unbounded,
        Some(u) if inclusive_upper => Bound::Included(u),
        Some(u) => Bound::Excluded(u),
    };
    (lo, hi)
}

/// The tantivy query for `scope` narrowed by `filter` (a `Contains` filter
/// is checked afterwards, on the stored fields).
fn planned(
    index: &MailIndex,
    scope: &Scope,
    filter: &Filter,
) -> Result<Box<dyn Query>, QueryError> {
    let f = &index.fields;
    let mut must: Vec<(Occur, Box<dyn Query>)> = vec![(Occur::Must, Box::new(AllQuery))];
    if let Some(lists) = &scope.lists {
        must.push((Occur::Must, lists_query(index, lists)));
    }
    if let Some(q) = &scope.query {
        must.push((Occur::Must, gleaner_query(index, scope, q)?));
    }
    match filter {
        Filter::All | Filter::Contains { .. } => {}
        Filter::Query(q) => must.push((Occur::Must, gleaner_query(index, scope, q)?)),
        Filter::Date { field, from, until } => {
            let field = match field {
                DateField::Sent => f.date,
                DateField::Arrived => f.arrived,
            };
            let (lo, hi) = range(*from, *until, false);
            let lo = lo.map(|v| Term::from_field_i64(field, v));
            let hi = hi.map(|v| Term::from_field_i64(field, v));
            must.push((Occur::Must, Box::new(RangeQuery::new(lo, hi))));
        }
        Filter::Size { min, max } => {
            let (lo, hi) = range(*min, *max, true);
            let lo = lo.map(|v| Term::from_field_u64(f.size, v));
            let hi = hi.map(|v| Term::from_field_u64(f.size, v));
            must.push((Occur::Must, Box::new(RangeQuery::new(lo, hi))));
        }
    }
    Ok(visible::restrict(
        f,
        Box::new(BooleanQuery::new(must)),
        scope.allowed.as_deref(),
    ))
}

/// The key of each document, read from the `key` column.
fn keys_of(searcher: &Searcher, addrs: &[DocAddress]) -> Result<Vec<String>, QueryError> {
    let mut out = Vec::with_capacity(addrs.len());
    let mut column: Option<(u32, Option<tantivy::columnar::StrColumn>)> = None;
    let mut text = String::new();
    for addr in addrs {
        if column.as_ref().map(|(s, _)| *s) != Some(addr.segment_ord) {
            let ff = searcher.segment_reader(addr.segment_ord).fast_fields();
            column = Some((addr.segment_ord, ff.str("key")?));
        }
        if let Some((_, Some(col))) = &column {
            if let Some(ord) = col.term_ords(addr.doc_id).next() {
                text.clear();
                col.ord_to_str(ord, &mut text)
                    .map_err(|e| QueryError::Index(e.into()))?;
                out.push(text.clone());
            }
        }
    }
    Ok(out)
}

fn folded_contains(hay: &str, needle: &str) -> bool {
    crate::index::imap::fold(hay).contains(needle)
}

fn header_matches(m: &StoredMessage, field: HeaderField, needle: &str) -> bool {
    let any = |values: &[String]| values.iter().any(|v| folded_contains(v, needle));
    match field {
        HeaderField::From => any(&m.from) || any(&m.from_header),
        HeaderField::To => any(&m.to),
        HeaderField::Cc => any(&m.cc),
        HeaderField::Subject => folded_contains(&m.subject, needle),
        HeaderField::MessageId => {
            folded_contains(&m.message_id, needle) || folded_contains(&m.key, needle)
        }
        HeaderField::ListId => any(&m.lists),
    }
}

/// Keys of the messages in `scope` that `filter` keeps (in no set order).
pub fn keys(index: &MailIndex, scope: &Scope, filter: &Filter) -> Result<Vec<String>, QueryError> {
    let searcher = index.reader.searcher();
    let query = planned(index, scope, filter)?;
    let mut addrs: Vec<DocAddress> = searcher
        .search(query.as_ref(), &DocSetCollector)?
        .into_iter()
        .collect();
    addrs.sort_unstable();
    if let Filter::Contains { field, needle } = filter {
        let needle = crate::index::imap::fold(needle);
        let mut loader = Loader::new(&searcher, &index.fields);
        let mut kept = Vec::new();
        for addr in addrs {
            let m = loader.load(addr)?.visible_to(scope.allowed.as_deref());
            if header_matches(&m, *field, &needle) {
                kept.push(m.key);
            }
        }
        return Ok(kept);
    }
    keys_of(&searcher, &addrs)
}

/// Every key of the index with its arrival time, oldest arrival first (ties
/// by key): the order UIDs are handed out in.
pub fn all_by_arrival(index: &MailIndex) -> Result<Vec<(i64, String)>, QueryError> {
    let searcher = index.reader.searcher();
    let mut out = Vec::new();
    let mut text = String::new();
    for reader in searcher.segment_readers() {
        let ff = reader.fast_fields();
        let Some(keys) = ff.str("key")? else { continue };
        let arrived = ff.i64("arrived")?;
        for doc in reader.doc_ids_alive() {
            if let Some(ord) = keys.term_ords(doc).next() {
                text.clear();
                keys.ord_to_str(ord, &mut text)
                    .map_err(|e| QueryError::Index(e.into()))?;
                out.push((arrived.first(doc).unwrap_or(0), text.clone()));
            }
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// A message as a mailbox shows it.
#[derive(Debug, Clone)]
pub struct MailboxMessage {
    /// What the index stores, cut to the copies the viewer may read.
    pub message: StoredMessage,
    /// Arrival time, unix seconds.
    pub arrived: i64,
}

/// The message with key `key` as a viewer allowed `allowed` sees it (`None`
/// when there is none, or none of its copies is on a list they may read).
pub fn by_key(
    index: &MailIndex,
    key: &str,
    allowed: Option<&[String]>,
) -> Result<Option<MailboxMessage>, QueryError> {
    let searcher = index.reader.searcher();
    let q = visible::restrict(
        &index.fields,
        Box::new(TermQuery::new(
            key_term(&index.fields, key),
            IndexRecordOption::Basic,
        )),
        allowed,
    );
    let found = searcher.search(q.as_ref(), &DocSetCollector)?;
    let Some(addr) = found.into_iter().min() else {
        return Ok(None);
    };
    let message = Loader::new(&searcher, &index.fields)
        .load(addr)?
        .visible_to(allowed);
    let arrived = searcher
        .segment_reader(addr.segment_ord)
        .fast_fields()
        .i64("arrived")?
        .first(addr.doc_id)
        .unwrap_or(0);
    Ok(Some(MailboxMessage { message, arrived }))
}

/// The index's generation: changes whenever a commit becomes visible.
pub fn generation(index: &MailIndex) -> u64 {
    index.reader.searcher().generation().generation_id()
}
