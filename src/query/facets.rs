//! Facet counts over a whole result set: lists, years, senders, and a timeline
//! of hits per month.
//!
//! Lists and senders come from tantivy terms aggregations on the `list` and
//! `from_addr` fast fields; years and months from one scan of the `date` fast
//! column. The counts cover exactly the messages the request may see.

use std::collections::BTreeMap;

use serde::Serialize;
use tantivy::aggregation::agg_req::Aggregations;
use tantivy::aggregation::AggregationCollector;
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::Column;
use tantivy::{DocId, Score, SegmentOrdinal, SegmentReader};

use super::{QueryError, Request};
use crate::index::MailIndex;

/// Lists reported, by count.
const MAX_LISTS: u32 = 50;
/// Senders reported, by count.
const MAX_SENDERS: u32 = 20;

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
    let request = serde_json::json!({
        "list": {"terms": {"field": "list", "size": MAX_LISTS}},
        "from": {"terms": {"field": "from_addr", "size": MAX_SENDERS}},
    });
    let aggs: Aggregations = serde_json::from_value(request)
        .map_err(|e| tantivy::TantivyError::InvalidArgument(e.to_string()))?;
    let collector = AggregationCollector::from_aggs(aggs, Default::default());
    let (result, months) = searcher.search(&query, &(collector, MonthCollector))?;
    query.check()?;
    let v = serde_json::to_value(result)
        .map_err(|e| tantivy::TantivyError::InvalidArgument(e.to_string()))?;
    let mut years: BTreeMap<i32, u64> = BTreeMap::new();
    for (&(y, _), &n) in &months {
        *years.entry(y).or_default() += n;
    }
    let mut list = buckets(&v, "list");
    // A message cross-posted to a list the viewer may not read counts only
    // under the lists they may read.
    if let Some(allowed) = req.allowed_lists.as_deref() {
        list.retain(|b| super::visible::is_visible(&b.value, Some(allowed)));
    }
    Ok(Facets {
        list,
        from: buckets(&v, "from"),
        year: years
            .iter()
            .rev()
            .map(|(y, n)| FacetCount {
                value: format!("{y:04}"),
                count: *n,
            })
            .collect(),
        timeline: months
            .iter()
            .map(|(&(y, m), &n)| MonthCount {
                month: format!("{y:04}-{m:02}"),
                count: n,
            })
            .collect(),
    })
}

fn buckets(v: &serde_json::Value, name: &str) -> Vec<FacetCount> {
    v[name]["buckets"]
        .as_array()
        .map(|b| {
            b.iter()
                .filter_map(|x| {
                    Some(FacetCount {
                        value: x["key"].as_str()?.to_string(),
                        count: x["doc_count"].as_u64()?,
                    })
                })
                .filter(|f| !f.value.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

/// The civil (proleptic Gregorian) year and month of unix seconds, UTC.
pub fn year_month(secs: i64) -> (i32, u8) {
    // Howard Hinnant's days-to-civil algorithm.
    let z = secs.div_euclid(86_400) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year as i32, month as u8)
}

/// Counts hits per (year, month) from the `date` fast column; undated
/// messages (date 0) are left out.
struct MonthCollector;

type Months = BTreeMap<(i32, u8), u64>;

struct MonthSegment {
    dates: Column<i64>,
    counts: BTreeMap<i64, u64>,
}

impl Collector for MonthCollector {
    type Fruit = Months;
    type Child = MonthSegment;

    fn for_segment(
        &self,
        _segment_local_id: SegmentOrdinal,
        segment: &SegmentReader,
    ) -> tantivy::Result<MonthSegment> {
        Ok(MonthSegment {
            dates: segment.fast_fields().i64("date")?,
            counts: BTreeMap::new(),
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<BTreeMap<i64, u64>>) -> tantivy::Result<Months> {
        let mut months = Months::new();
        for fruit in fruits {
            for (month_start_day, n) in fruit {
                *months
                    .entry(year_month(month_start_day * 86_400))
                    .or_default() += n;
            }
        }
        Ok(months)
    }
}

impl SegmentCollector for MonthSegment {
    type Fruit = BTreeMap<i64, u64>;

    fn collect(&mut self, doc: DocId, _score: Score) {
        let Some(date) = self.dates.first(doc) else {
            return;
        };
        if date <= 0 {
            return;
        }
        // Bucket by day first (cheap); days become months when merging.
        *self.counts.entry(date.div_euclid(86_400)).or_default() += 1;
    }

    fn harvest(self) -> Self::Fruit {
        self.counts
    }
}

#[cfg(test)]
mod tests {
    use super::year_month;

    #[test]
    fn year_month_matches_known_dates() {
        assert_eq!(year_month(0), (1970, 1));
        assert_eq!(year_month(951_782_400), (2000, 2)); // 2000-02-29
        assert_eq!(year_month(951_868_799), (2000, 2)); // 2000-02-29T23:59:59
        assert_eq!(year_month(951_868_800), (2000, 3));
        assert_eq!(year_month(1_551_434_400), (2019, 3)); // 2019-03-01T10:00
        assert_eq!(year_month(1_546_300_799), (2018, 12));
    }
}
