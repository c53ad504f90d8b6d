//! Index statistics: message counts, lists, date range, languages, size.

use serde::Serialize;
use tantivy::aggregation::agg_req::Aggregations;
use tantivy::aggregation::AggregationCollector;
use tantivy::collector::Count;
use tantivy::query::{AllQuery, Query, TermQuery};
use tantivy::schema::IndexRecordOption;
use tantivy::Term;

use super::QueryError;
use crate::index::doc::{REWRITE_NOT_RECOVERED, REWRITE_RECOVERED};
use crate::index::MailIndex;

/// A summary of the index.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Stats {
    /// Messages (documents).
    pub messages: u64,
    /// Lists with their message counts, largest first.
    pub lists: Vec<(String, u64)>,
    /// Languages with their message counts.
    pub languages: Vec<(String, u64)>,
    /// Oldest dated message (unix seconds), if any.
    pub first_date: Option<i64>,
    /// Newest dated message.
    pub last_date: Option<i64>,
    /// Messages without a usable date.
    pub undated: u64,
    /// Index size on disk, bytes.
    pub index_bytes: u64,
    /// Messages whose From a list rewrote (`X via List`) and whose author
    /// was recovered from X-Original-From, Reply-To or Cc.
    pub authors_recovered: u64,
    /// Messages whose From a list rewrote but whose author could not be
    /// recovered (the list stays their sender).
    pub authors_not_recovered: u64,
}

fn buckets(v: &serde_json::Value, name: &str) -> Vec<(String, u64)> {
    v[name]["buckets"]
        .as_array()
        .map(|b| {
            b.iter()
                .filter_map(|x| Some((x["key"].as_str()?.to_string(), x["doc_count"].as_u64()?)))
                .collect()
        })
        .unwrap_or_default()
}

/// Computes [`Stats`] for `index`.
pub fn stats(index: &MailIndex) -> Result<Stats, QueryError> {
    stats_for(index, None)
}

/// Computes [`Stats`] over the lists in `allowed` (`None`: all); only
/// `index_bytes` describes the whole index.
pub fn stats_for(index: &MailIndex, allowed: Option<&[String]>) -> Result<Stats, QueryError> {
    let query = super::visible::restrict(&index.fields, Box::new(AllQuery), allowed);
    let searcher = index.reader.searcher();
    let request = serde_json::json!({
        "lists": {"terms": {"field": "list", "size": 1000}},
        "langs": {"terms": {"field": "lang", "size": 100}},
        "dated": {"range": {"field": "date", "ranges": [{"to": 1}, {"from": 1}]},
                  "aggs": {"span": {"stats": {"field": "date"}}}}
    });
    let aggs: Aggregations = serde_json::from_value(request)
        .map_err(|e| tantivy::TantivyError::InvalidArgument(e.to_string()))?;
    let collector = AggregationCollector::from_aggs(aggs, Default::default());
    let (messages, result) = searcher.search(query.as_ref(), &(Count, collector))?;
    let v = serde_json::to_value(result)
        .map_err(|e| tantivy::TantivyError::InvalidArgument(e.to_string()))?;
    let ranges = v["dated"]["buckets"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let undated = ranges
        .first()
        .and_then(|b| b["doc_count"].as_u64())
        .unwrap_or(0);
    let span = ranges.get(1).map(|b| b["span"].clone()).unwrap_or_default();
    let rewritten = |value: u64| -> Result<u64, QueryError> {
        let term = Term::from_field_u64(index.fields.from_rewrite, value);
        let q: Box<dyn Query> = Box::new(TermQuery::new(term, IndexRecordOption::Basic));
        let q = super::visible::restrict(&index.fields, q, allowed);
        Ok(searcher.search(q.as_ref(), &Count)? as u64)
    };
    Ok(Stats {
        messages: messages as u64,
        authors_recovered: rewritten(REWRITE_RECOVERED)?,
        authors_not_recovered: rewritten(REWRITE_NOT_RECOVERED)?,
        lists: buckets(&v, "lists"),
        languages: buckets(&v, "langs"),
        first_date: span["min"].as_f64().map(|x| x as i64),
        last_date: span["max"].as_f64().map(|x| x as i64),
        undated,
        index_bytes: index.disk_size(),
    })
}

/// The raw size of every indexed message, summed (bytes).
pub fn total_bytes(index: &MailIndex) -> Result<u64, QueryError> {
    let searcher = index.reader.searcher();
    let mut total = 0u64;
    for seg in searcher.segment_readers() {
        let sizes = seg.fast_fields().u64("size")?;
        for doc in seg.doc_ids_alive() {
            total += sizes.first(doc).unwrap_or(0);
        }
    }
    Ok(total)
}
