//! Messages as a mailbox-shaped surface (IMAP) needs them: the keys of the
//! messages in a scope (some lists and/or a saved query, always within the
//! lists the viewer may read), narrowed by one filter (a gleaner query, a
//! date or size range, a substring of a header), every key of the index in
//! arrival order (for assigning UIDs), and one message by key with its
//! arrival time.
//!
//! Answers are sets of keys, never tantivy documents: the caller maps keys to
//! its own numbers. Knows nothing of IMAP's syntax, UIDs or SQLite.

use std::collections::HashMap;
use std::ops::Bound;
use std::sync::{Arc, Mutex};

use tantivy::collector::DocSetCollector;
use tantivy::index::SegmentId;
use tantivy::query::{AllQuery, BooleanQuery, Occur, Query, RangeQuery, TermQuery};
use tantivy::schema::IndexRecordOption;
use tantivy::{DocAddress, Term};

use super::addr_set::AddrSetCollector;
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
        Filter::All => {}
        Filter::Contains { field, needle } => {
            if let Some(q) = candidates(index, *field, needle) {
                must.push((Occur::Must, q));
            }
        }
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

/// Most distinct terms a substring search looks up before it gives up
/// pruning and reads every message in scope.
const MAX_CANDIDATE_TERMS: usize = 20_000;

/// The documents that can hold `needle` in `field`: those with an indexed
/// word containing the needle's longest word (each word of a substring is
/// within one of the text's words). A superset, checked afterwards on the
/// stored text; `None` when it would not narrow much.
fn candidates(index: &MailIndex, field: HeaderField, needle: &str) -> Option<Box<dyn Query>> {
    let f = &index.fields;
    let fields = match field {
        HeaderField::From => vec![f.from, f.from_header],
        HeaderField::To => vec![f.to],
        HeaderField::Cc => vec![f.cc],
        HeaderField::Subject => vec![f.subject],
        HeaderField::MessageId | HeaderField::ListId => return None,
    };
    let searcher = index.reader.searcher();
    let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    let mut total = 0;
    for field in fields {
        let mut analyzer = index.index.tokenizer_for_field(field).ok()?;
        let mut stream = analyzer.token_stream(needle);
        let mut longest = String::new();
        while let Some(t) = stream.next() {
            if t.text.len() > longest.len() {
                longest = t.text.clone();
            }
        }
        if longest.len() < 2 {
            return None;
        }
        let mut terms = std::collections::BTreeSet::new();
        for reader in searcher.segment_readers() {
            let inverted = reader.inverted_index(field).ok()?;
            let mut words = inverted.terms().stream().ok()?;
            while words.advance() {
                if memchr::memmem::find(words.key(), longest.as_bytes()).is_some() {
                    if let Ok(w) = std::str::from_utf8(words.key()) {
                        terms.insert(w.to_string());
                        total += 1;
                    }
                }
                if total > MAX_CANDIDATE_TERMS {
                    return None;
                }
            }
        }
        let terms: Vec<Term> = terms
            .iter()
            .map(|w| Term::from_field_text(field, w))
            .collect();
        clauses.push((
            Occur::Should,
            Box::new(tantivy::query::TermSetQuery::new(terms)),
        ));
    }
    Some(Box::new(BooleanQuery::new(clauses)))
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

/// A number that changes whenever the searchable documents may have: a
/// hash of the current searcher's segments and their deletions (for caches
/// of per-mailbox answers).
pub fn generation(index: &MailIndex) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for r in index.reader.searcher().segment_readers() {
        r.segment_id().uuid_string().hash(&mut h);
        r.num_deleted_docs().hash(&mut h);
    }
    h.finish()
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

/// A caller's numbers for messages (IMAP's UIDs), looked up per document
/// without reading keys: each segment's documents are numbered once (a
/// segment never changes; a merge makes a new one), as one `u32` per
/// document, 0 for none. What the numbers mean is the caller's business.
#[derive(Default)]
pub struct Numbering {
    segments: Mutex<HashMap<SegmentId, Arc<Vec<u32>>>>,
}

impl Numbering {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<SegmentId, Arc<Vec<u32>>>> {
        match self.segments.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// Numbers the segments of the current searcher not numbered yet.
    /// First `assign` gets the (arrival, key) of their documents whose key
    /// `number` does not know, oldest arrival first (ties by key), to give
    /// them numbers; then every document is numbered with `number`.
    pub fn refresh<E: From<QueryError>>(
        &self,
        index: &MailIndex,
        number: &dyn Fn(&str) -> Option<u32>,
        assign: impl FnOnce(Vec<(i64, String)>) -> Result<(), E>,
    ) -> Result<(), E> {
        let searcher = index.reader.searcher();
        let known: Vec<SegmentId> = self.lock().keys().copied().collect();
        let fresh: Vec<&tantivy::SegmentReader> = searcher
            .segment_readers()
            .iter()
            .filter(|r| !known.contains(&r.segment_id()))
            .collect();
        if fresh.is_empty() {
            return Ok(());
        }
        // Each new segment's keys, once.
        let mut per_segment = Vec::with_capacity(fresh.len());
        let mut unknown = Vec::new();
        for reader in &fresh {
            let keys = segment_keys(reader).map_err(E::from)?;
            let arrived = reader
                .fast_fields()
                .i64("arrived")
                .map_err(|e| E::from(QueryError::Index(e)))?;
            for (doc, key) in keys.iter().enumerate() {
                if let Some(key) = key {
                    if number(key).is_none() {
                        let doc = u32::try_from(doc).unwrap_or(u32::MAX);
                        unknown.push((arrived.first(doc).unwrap_or(0), key.clone()));
                    }
                }
            }
            per_segment.push((reader.segment_id(), keys));
        }
        unknown.sort_unstable();
        unknown.dedup();
        if !unknown.is_empty() {
            assign(unknown)?;
        }
        let mut cache = self.lock();
        for (id, keys) in per_segment {
            let numbers: Vec<u32> = keys
                .iter()
                .map(|k| k.as_deref().and_then(number).unwrap_or(0))
                .collect();
            cache.insert(id, Arc::new(numbers));
        }
        // Forget segments merged away.
        let live: Vec<SegmentId> = searcher
            .segment_readers()
            .iter()
            .map(|r| r.segment_id())
            .collect();
        cache.retain(|id, _| live.contains(id));
        Ok(())
    }

    /// The numbers of the messages in `scope` that `filter` keeps, ascending
    /// (documents of a segment not yet refreshed, or without a number, are
    /// left out).
    pub fn numbers(
        &self,
        index: &MailIndex,
        scope: &Scope,
        filter: &Filter,
    ) -> Result<Vec<u32>, QueryError> {
        let searcher = index.reader.searcher();
        let query = planned(index, scope, filter)?;
        let found = searcher.search(query.as_ref(), &AddrSetCollector)?;
        let cache = self.lock().clone();
        let tables: Vec<Option<Arc<Vec<u32>>>> = searcher
            .segment_readers()
            .iter()
            .map(|r| cache.get(&r.segment_id()).cloned())
            .collect();
        let number = |addr: &DocAddress| -> u32 {
            tables
                .get(addr.segment_ord as usize)
                .and_then(Option::as_ref)
                .and_then(|t| t.get(addr.doc_id as usize).copied())
                .unwrap_or(0)
        };
        let mut out: Vec<u32> = if let Filter::Contains { field, needle } = filter {
            let needle = crate::index::imap::fold(needle);
            let mut loader = Loader::new(&searcher, &index.fields);
            let mut kept = Vec::new();
            for addr in found.iter() {
                let m = loader.load(addr)?.visible_to(scope.allowed.as_deref());
                if header_matches(&m, *field, &needle) {
                    kept.push(number(&addr));
                }
            }
            kept
        } else {
            found.iter().map(|a| number(&a)).collect()
        };
        out.retain(|n| *n != 0);
        sort_numbers(&mut out);
        out.dedup();
        Ok(out)
    }
}

/// Sorts numbers ascending: nothing to do when they already are (documents
/// indexed in arrival order), a two-pass radix sort (16 bits a pass) for
/// large arrays — a million numbers in a few milliseconds where a comparison
/// sort took tens — else the standard sort.
fn sort_numbers(v: &mut Vec<u32>) {
    if v.windows(2).all(|w| w[0] <= w[1]) {
        return;
    }
    if v.len() < 1 << 16 {
        v.sort_unstable();
        return;
    }
    let mut tmp = vec![0u32; v.len()];
    for shift in [0u32, 16] {
        let mut counts = vec![0usize; 1 << 16];
        for &x in v.iter() {
            counts[((x >> shift) & 0xffff) as usize] += 1;
        }
        let mut at = 0;
        for c in counts.iter_mut() {
            let n = *c;
            *c = at;
            at += n;
        }
        for &x in v.iter() {
            let slot = &mut counts[((x >> shift) & 0xffff) as usize];
            tmp[*slot] = x;
            *slot += 1;
        }
        std::mem::swap(v, &mut tmp);
    }
}

/// The key of every document of a segment (deleted ones too), by doc id.
fn segment_keys(reader: &tantivy::SegmentReader) -> Result<Vec<Option<String>>, QueryError> {
    let Some(column) = reader.fast_fields().str("key")? else {
        return Ok(vec![None; reader.max_doc() as usize]);
    };
    // Ordinals first, then each distinct term resolved once, in order.
    let ords: Vec<Option<u64>> = (0..reader.max_doc())
        .map(|doc| column.term_ords(doc).next())
        .collect();
    let mut sorted: Vec<u64> = ords.iter().flatten().copied().collect();
    sorted.sort_unstable();
    sorted.dedup();
    let mut terms: Vec<String> = Vec::with_capacity(sorted.len());
    column
        .dictionary()
        .sorted_ords_to_term_cb(&sorted, |bytes| {
            terms.push(String::from_utf8_lossy(bytes).into_owned());
        })
        .map_err(|e| QueryError::Index(e.into()))?;
    Ok(ords
        .into_iter()
        .map(|o| {
            o.and_then(|o| sorted.binary_search(&o).ok())
                .and_then(|i| terms.get(i).cloned())
        })
        .collect())
}

#[cfg(test)]
mod sort_tests {
    #[test]
    fn radix_sort_equals_the_standard_sort() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut v: Vec<u32> = (0..200_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 20) as u32
            })
            .collect();
        let mut want = v.clone();
        want.sort_unstable();
        super::sort_numbers(&mut v);
        assert_eq!(v, want);
        let mut small = vec![5, 1, 4];
        super::sort_numbers(&mut small);
        assert_eq!(small, vec![1, 4, 5]);
    }
}
