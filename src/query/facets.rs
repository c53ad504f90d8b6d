//! Facet counts over a whole result set: lists, years, senders, and a timeline
//! of hits per month.
//!
//! Lists and senders are counted by term ordinal of the `list` and `from_addr`
//! fast columns, years and months from the `date` fast column, by
//! [`FacetCollector`] in the same collector pass as the hits. The counts are
//! exact and cover exactly the messages the request may see.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use rustc_hash::FxHashMap;
use serde::Serialize;
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::{Column, StrColumn};
use tantivy::{DocId, Score, SegmentOrdinal, SegmentReader};

use super::{QueryError, Request};
pub use crate::index::facet_rows::year_month;
use crate::index::facet_rows::{
    self, days_from_civil, month_index, month_of_index, Rows, FAR, MANY, NONE, UNDATED,
};
use crate::index::{column_terms, MailIndex};

/// Lists reported, by count.
const MAX_LISTS: usize = 50;
/// Senders reported, by count.
const MAX_SENDERS: usize = 20;

/// One facet value and how many messages have it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FacetCount {
    /// The value (`list` id, `"YYYY"`, sender address).
    pub value: String,
    /// Matching messages with that value.
    pub count: u64,
}

/// Hits in one month.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct MonthCount {
    /// `"YYYY-MM"`.
    pub month: String,
    /// Matching messages dated in that month.
    pub count: u64,
}

/// Facets of a result set.
#[derive(Debug, Clone, Serialize, Default, PartialEq, Eq)]
pub struct Facets {
    /// Lists, largest first (at most 50).
    pub list: Vec<FacetCount>,
    /// Years with hits, newest first.
    pub year: Vec<FacetCount>,
    /// Sender addresses, largest first (at most 20).
    pub from: Vec<FacetCount>,
    /// Months with hits, oldest first (months without hits are left out).
    pub timeline: Vec<MonthCount>,
}

/// Computes the facets of everything `req` matches (its limit and offset are ignored).
pub fn facets(index: &MailIndex, req: &Request) -> Result<Facets, QueryError> {
    let budget = std::sync::Arc::new(super::limits::Budget::new(super::limits::current()));
    let query = budget.wrap(req.plan_within(index, &budget)?);
    let searcher = index.reader.searcher();
    let counts = searcher.search(&query, &FacetCollector)?;
    query.check()?;
    Ok(counts.into_facets(req))
}

/// Counts lists, senders, years and months of every hit in the same pass
/// that finds the hits (a member of a tuple collector beside `Count` and
/// `TopDocs`): per segment, term ordinals of the `list` and `from_addr` fast
/// columns and months of the `date` column are counted in flat arrays; the
/// ordinals become text once per segment, in ordinal order. Counts are exact.
pub struct FacetCollector;

/// A whole result set's facet counts, before they are cut and ordered.
#[derive(Debug, Default)]
pub struct FacetCounts {
    list: HashMap<String, u64>,
    from: HashMap<String, u64>,
    months: Months,
}

impl FacetCounts {
    /// The facets as the API reports them: the largest lists and senders,
    /// years newest first, months oldest first; lists the viewer of `req` may
    /// not read are left out (a message cross-posted to one counts only under
    /// the lists they may read).
    pub fn into_facets(self, req: &Request) -> Facets {
        let mut years: BTreeMap<i32, u64> = BTreeMap::new();
        for (&(y, _), &n) in &self.months {
            *years.entry(y).or_default() += n;
        }
        let mut list = largest(self.list, usize::MAX);
        if let Some(allowed) = req.allowed_lists.as_deref() {
            list.retain(|b| super::visible::is_visible(&b.value, Some(allowed)));
        }
        list.truncate(MAX_LISTS);
        Facets {
            list,
            from: largest(self.from, MAX_SENDERS),
            year: years
                .iter()
                .rev()
                .map(|(y, n)| FacetCount {
                    value: format!("{y:04}"),
                    count: *n,
                })
                .collect(),
            timeline: self
                .months
                .iter()
                .map(|(&(y, m), &n)| MonthCount {
                    month: format!("{y:04}-{m:02}"),
                    count: n,
                })
                .collect(),
        }
    }
}

/// The `max` values with the largest counts, largest first (ties by value);
/// the empty value is left out.
fn largest(counts: HashMap<String, u64>, max: usize) -> Vec<FacetCount> {
    let mut all: Vec<FacetCount> = counts
        .into_iter()
        .filter(|(value, _)| !value.is_empty())
        .map(|(value, count)| FacetCount { value, count })
        .collect();
    all.sort_unstable_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
    all.truncate(max);
    all
}

/// Hits per term ordinal of one segment's text column: a flat array for a
/// small dictionary, a map for a large one (a segment of millions of senders)
/// until the hits counted show the result is broad, then a flat array too.
enum OrdCounts {
    Dense(Vec<u32>),
    Sparse {
        map: FxHashMap<u64, u32>,
        /// Hits counted so far.
        adds: u32,
        /// Terms in the column's dictionary.
        terms: usize,
    },
}

/// A map of counts turns into a flat array after this many hits: a hash
/// insertion per hit was a quarter of a query matching 30% of 20M messages,
/// where an array costs 4 bytes a sender once.
const DENSIFY_AFTER: u32 = 1 << 15;

/// Dictionaries larger than this stay in a map (64 MiB of counts).
const MAX_DENSE_TERMS: usize = 1 << 24;

fn add(counts: &mut OrdCounts, ord: u64) {
    match counts {
        OrdCounts::Dense(v) => {
            if let Some(n) = usize::try_from(ord).ok().and_then(|i| v.get_mut(i)) {
                *n += 1;
            }
        }
        OrdCounts::Sparse { map, adds, terms } => {
            *map.entry(ord).or_default() += 1;
            *adds += 1;
            if *adds >= DENSIFY_AFTER && *terms <= MAX_DENSE_TERMS {
                let mut dense = vec![0u32; *terms];
                for (ord, n) in map.drain() {
                    if let Some(slot) = usize::try_from(ord).ok().and_then(|i| dense.get_mut(i)) {
                        *slot += n;
                    }
                }
                *counts = OrdCounts::Dense(dense);
            }
        }
    }
}

/// Dictionaries up to this many terms are counted in a flat array.
const DENSE_TERMS: usize = 1 << 14;

struct TermCounter {
    column: StrColumn,
    counts: OrdCounts,
    /// The column's terms, when a long-running process keeps them.
    terms: Option<column_terms::Terms>,
}

impl TermCounter {
    fn open(segment: &SegmentReader, field: &'static str) -> tantivy::Result<Option<TermCounter>> {
        Ok(segment.fast_fields().str(field)?.map(|column| {
            let terms = column.num_terms();
            let counts = if terms <= DENSE_TERMS {
                OrdCounts::Dense(vec![0; terms])
            } else {
                OrdCounts::Sparse {
                    map: FxHashMap::default(),
                    adds: 0,
                    terms,
                }
            };
            TermCounter {
                terms: column_terms::terms(segment, field, &column),
                column,
                counts,
            }
        }))
    }

    fn count(&mut self, doc: DocId) {
        for ord in self.column.ords().values_for_doc(doc) {
            add(&mut self.counts, ord);
        }
    }

    /// Counts `doc` by its decoded row (`ord`, or [`NONE`] / [`MANY`]).
    fn count_row(&mut self, doc: DocId, ord: u32) {
        match ord {
            NONE => {}
            MANY => self.count(doc),
            ord => add(&mut self.counts, u64::from(ord)),
        }
    }

    /// The counted terms as text, read from the dictionary in ordinal order.
    fn harvest(self) -> Vec<(String, u64)> {
        let mut pairs: Vec<(u64, u64)> = match self.counts {
            OrdCounts::Dense(v) => v
                .iter()
                .enumerate()
                .filter(|(_, &n)| n > 0)
                .map(|(ord, &n)| (ord as u64, u64::from(n)))
                .collect(),
            OrdCounts::Sparse { map, .. } => {
                map.into_iter().map(|(o, n)| (o, u64::from(n))).collect()
            }
        };
        if let Some(terms) = &self.terms {
            return pairs
                .into_iter()
                .filter_map(|(ord, n)| {
                    let text = terms.get(usize::try_from(ord).ok()?)?;
                    Some((text.to_string(), n))
                })
                .collect();
        }
        pairs.sort_unstable();
        let ords: Vec<u64> = pairs.iter().map(|(o, _)| *o).collect();
        let mut terms = Vec::with_capacity(ords.len());
        // A dictionary that cannot be read counts nothing rather than failing
        // the search: the hits are still right.
        let read = self.column.dictionary().sorted_ords_to_term_cb(&ords, |b| {
            terms.push(String::from_utf8_lossy(b).into_owned());
        });
        if read.is_err() || terms.len() != pairs.len() {
            return Vec::new();
        }
        terms
            .into_iter()
            .zip(pairs)
            .map(|(t, (_, n))| (t, n))
            .collect()
    }
}

/// Months since 1970-01 counted in a flat array up to this many; later dates
/// (garbage, but counted as before) go to a map.
const DENSE_MONTHS: usize = 12 * 200;

/// One segment's counts.
pub struct FacetSegment {
    list: Option<TermCounter>,
    from: Option<TermCounter>,
    dates: Column<i64>,
    /// The segment's decoded columns, in a long-running process.
    rows: Option<Arc<Rows>>,
    months: Vec<u32>,
    late_months: Months,
    /// The month of the last date seen: `[start, end)` in unix seconds and its
    /// index (dates of neighbouring documents are mostly in one month).
    current: (i64, i64, usize),
}

impl Collector for FacetCollector {
    type Fruit = FacetCounts;
    type Child = FacetSegment;

    fn for_segment(
        &self,
        _segment_local_id: SegmentOrdinal,
        segment: &SegmentReader,
    ) -> tantivy::Result<FacetSegment> {
        Ok(FacetSegment {
            list: TermCounter::open(segment, "list")?,
            from: TermCounter::open(segment, "from_addr")?,
            dates: segment.fast_fields().i64("date")?,
            rows: facet_rows::rows(segment),
            months: Vec::new(),
            late_months: Months::new(),
            current: (0, 0, 0),
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<SegmentCounts>) -> tantivy::Result<FacetCounts> {
        let mut out = FacetCounts::default();
        let mut months: Vec<u64> = Vec::new();
        for fruit in fruits {
            for (t, n) in fruit.list {
                *out.list.entry(t).or_default() += n;
            }
            for (t, n) in fruit.from {
                *out.from.entry(t).or_default() += n;
            }
            if months.len() < fruit.months.len() {
                months.resize(fruit.months.len(), 0);
            }
            for (i, n) in fruit.months.iter().enumerate() {
                months[i] += u64::from(*n);
            }
            for (k, n) in fruit.late_months {
                *out.months.entry(k).or_default() += n;
            }
        }
        for (i, n) in months.into_iter().enumerate() {
            if n > 0 {
                *out.months.entry(month_of_index(i)).or_default() += n;
            }
        }
        Ok(out)
    }
}

/// What one segment counted.
pub struct SegmentCounts {
    list: Vec<(String, u64)>,
    from: Vec<(String, u64)>,
    months: Vec<u32>,
    late_months: Months,
}

impl FacetSegment {
    fn count_date(&mut self, secs: i64) {
        // Undated messages (date 0) are left out.
        if secs <= 0 {
            return;
        }
        let (start, end, idx) = self.current;
        let idx = if secs >= start && secs < end {
            idx
        } else {
            let (y, m) = year_month(secs);
            let idx = month_index(y, m) as usize;
            let start = days_from_civil(y, m) * 86_400;
            let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
            self.current = (start, days_from_civil(ny, nm) * 86_400, idx);
            idx
        };
        self.count_month(idx);
    }

    /// Counts a hit in the month `idx` months after 1970-01.
    fn count_month(&mut self, idx: usize) {
        if idx < DENSE_MONTHS {
            if self.months.len() <= idx {
                self.months.resize(idx + 1, 0);
            }
            self.months[idx] += 1;
        } else {
            *self.late_months.entry(month_of_index(idx)).or_default() += 1;
        }
    }
}

impl SegmentCollector for FacetSegment {
    type Fruit = SegmentCounts;

    fn collect(&mut self, doc: DocId, _score: Score) {
        let d = doc as usize;
        let row = self
            .rows
            .as_ref()
            .and_then(|r| Some((*r.list.get(d)?, *r.from.get(d)?, *r.month.get(d)?)));
        if let Some((list, from, month)) = row {
            if let Some(c) = &mut self.list {
                c.count_row(doc, list);
            }
            if let Some(c) = &mut self.from {
                c.count_row(doc, from);
            }
            match month {
                UNDATED => {}
                FAR => {
                    if let Some(date) = self.dates.first(doc) {
                        self.count_date(date);
                    }
                }
                m => self.count_month(usize::from(m) - 1),
            }
            return;
        }
        if let Some(c) = &mut self.list {
            c.count(doc);
        }
        if let Some(c) = &mut self.from {
            c.count(doc);
        }
        if let Some(date) = self.dates.first(doc) {
            self.count_date(date);
        }
    }

    fn harvest(self) -> SegmentCounts {
        SegmentCounts {
            list: self.list.map(TermCounter::harvest).unwrap_or_default(),
            from: self.from.map(TermCounter::harvest).unwrap_or_default(),
            months: self.months,
            late_months: self.late_months,
        }
    }
}

type Months = BTreeMap<(i32, u8), u64>;

#[cfg(test)]
mod tests {
    use super::{add, OrdCounts, DENSIFY_AFTER};

    fn counts(c: &OrdCounts) -> Vec<(u64, u32)> {
        let mut v: Vec<(u64, u32)> = match c {
            OrdCounts::Dense(v) => v
                .iter()
                .enumerate()
                .filter(|(_, n)| **n > 0)
                .map(|(o, n)| (o as u64, *n))
                .collect(),
            OrdCounts::Sparse { map, .. } => map.iter().map(|(o, n)| (*o, *n)).collect(),
        };
        v.sort_unstable();
        v
    }

    #[test]
    fn a_map_of_counts_becomes_an_array_after_many_hits_and_keeps_every_count() {
        let terms = 100_000;
        let mut c = OrdCounts::Sparse {
            map: Default::default(),
            adds: 0,
            terms,
        };
        let mut want = std::collections::BTreeMap::new();
        let n = u64::from(DENSIFY_AFTER) + 5_000;
        for i in 0..n {
            let ord = (i * 7919) % terms as u64;
            add(&mut c, ord);
            *want.entry(ord).or_insert(0u32) += 1;
            if i + 1 == u64::from(DENSIFY_AFTER) - 1 {
                assert!(matches!(c, OrdCounts::Sparse { .. }), "still a map");
            }
        }
        assert!(matches!(c, OrdCounts::Dense(_)), "an array after many hits");
        assert_eq!(counts(&c), want.into_iter().collect::<Vec<_>>());
    }
}
