//! Facets from the one collector pass (issue 22 item 2): the lists, senders,
//! years and months `/api/search` reports beside its hits equal exact counts
//! made another way — tantivy's own terms aggregation for lists and senders,
//! every matching message's date for years and months — over an index of
//! several segments, for every viewer; and the hits and total equal a search
//! without facets; grouped by conversation, the same.

use std::collections::{BTreeMap, HashMap};

use gleaner::index::MailIndex;
use gleaner::query::search::search_with_facets;
use gleaner::query::{self, Request, Sort};
use tantivy::aggregation::agg_req::Aggregations;
use tantivy::aggregation::AggregationCollector;

use crate::common::{index_paths, sample, tempdir};

fn request(q: &str, allowed: Option<Vec<String>>, sort: Sort) -> Request {
    Request {
        query: q.into(),
        limit: 20,
        offset: 0,
        sort,
        now: 1_900_000_000,
        allowed_lists: allowed,
        marks: None,
    }
}

/// Every value's count by tantivy's terms aggregation (exact: its size is
/// larger than the number of values).
fn aggregated(index: &MailIndex, req: &Request) -> (HashMap<String, u64>, HashMap<String, u64>) {
    let query = req.plan(index).unwrap();
    let aggs: Aggregations = serde_json::from_value(serde_json::json!({
        "list": {"terms": {"field": "list", "size": 100000, "segment_size": 100000}},
        "from": {"terms": {"field": "from_addr", "size": 100000, "segment_size": 100000}},
    }))
    .unwrap();
    let searcher = index.reader.searcher();
    let result = searcher
        .search(
            query.as_ref(),
            &AggregationCollector::from_aggs(aggs, Default::default()),
        )
        .unwrap();
    let v = serde_json::to_value(result).unwrap();
    let counts = |name: &str| -> HashMap<String, u64> {
        v[name]["buckets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| {
                (
                    b["key"].as_str().unwrap().to_string(),
                    b["doc_count"].as_u64().unwrap(),
                )
            })
            .filter(|(k, _)| !k.is_empty())
            .collect()
    };
    (counts("list"), counts("from"))
}

#[test]
fn one_pass_facets_equal_exact_counts_made_another_way() {
    let dir = tempdir();
    let root = sample();
    // Two ingests: the index has at least two segments.
    index_paths(dir.path(), &[root.join("dev"), root.join("ops")]);
    let (index, _) = index_paths(
        dir.path(),
        &[
            root.join("users"),
            root.join("i18n"),
            root.join("announce.mbox"),
        ],
    );
    assert!(index.reader.searcher().segment_readers().len() >= 2);
    let lists: Vec<String> = {
        let all = request("date:1970..2100", None, Sort::Relevance);
        let (list, _) = aggregated(&index, &all);
        list.into_keys().collect()
    };
    assert!(lists.len() >= 4, "{lists:?}");
    let one_list = Some(vec![lists[0].clone()]);
    // Once reading the dictionaries as needed (a one-shot command), once
    // from the dictionaries a server keeps.
    for keep in [false, true] {
        if keep {
            gleaner::index::column_terms::keep();
        }
        check(&index, &one_list);
    }
}

/// `[limits] search_threads`: the segments searched on several threads give
/// the same hits in the same order, the same totals, facets and conversations
/// as on one (tantivy merges the segments' results in segment order).
#[test]
fn searching_segments_on_several_threads_answers_as_on_one() {
    let dir = tempdir();
    let root = sample();
    index_paths(dir.path(), &[root.join("dev")]);
    index_paths(dir.path(), &[root.join("ops"), root.join("i18n")]);
    let (one, _) = index_paths(
        dir.path(),
        &[root.join("users"), root.join("announce.mbox")],
    );
    assert!(one.reader.searcher().segment_readers().len() >= 3);
    let mut many = MailIndex::open(&dir.path().join("index"), false).unwrap();
    many.set_search_threads(3).unwrap();
    for q in [
        "date:1970..2100",
        "certificate",
        "subject:re",
        "certificate OR mirror",
        "nothing0here",
    ] {
        for sort in [Sort::Relevance, Sort::Date, Sort::Oldest] {
            for offset in [0, 7] {
                let req = Request {
                    offset,
                    ..request(q, None, sort)
                };
                let (a, fa) = search_with_facets(&one, &req).unwrap();
                let (b, fb) = search_with_facets(&many, &req).unwrap();
                let keys = |r: &query::Results| -> Vec<(String, String)> {
                    r.hits
                        .iter()
                        .map(|h| (h.message.key.clone(), format!("{:.4}", h.score)))
                        .collect()
                };
                assert_eq!(a.total, b.total, "{q}");
                assert_eq!(keys(&a), keys(&b), "{q} {sort:?} offset {offset}");
                assert_eq!(fa, fb, "facets of {q}");
                let (ga, gfa) =
                    gleaner::query::conversations::conversations_with_facets(&one, &req).unwrap();
                let (gb, gfb) =
                    gleaner::query::conversations::conversations_with_facets(&many, &req).unwrap();
                assert_eq!(ga.total, gb.total, "{q}");
                assert_eq!(ga.total_messages, gb.total_messages, "{q}");
                assert_eq!(gfa, gfb, "grouped facets of {q}");
                if q == "certificate" && offset == 0 {
                    assert!(a.total > 100 && a.hits.len() == 20, "{}", a.total);
                }
            }
        }
    }
    check(&many, &None);
}

fn check(index: &MailIndex, one_list: &Option<Vec<String>>) {
    for q in [
        "date:1970..2100",
        "certificate",
        "subject:re",
        "date:2015..2020",
        "nothing0here",
    ] {
        for allowed in [None, one_list.clone()] {
            for sort in [Sort::Relevance, Sort::Date] {
                let req = request(q, allowed.clone(), sort);
                let (results, facets) = search_with_facets(index, &req).unwrap();
                let plain = query::search(index, &req).unwrap();
                assert_eq!(results.total, plain.total, "{q}");
                let keys = |r: &query::Results| -> Vec<String> {
                    r.hits.iter().map(|h| h.message.key.clone()).collect()
                };
                assert_eq!(keys(&results), keys(&plain), "{q}");
                // Grouped by conversation, the same pass gives the same facets.
                let (grouped, grouped_facets) =
                    gleaner::query::conversations::conversations_with_facets(index, &req).unwrap();
                assert_eq!(grouped.total_messages, results.total, "{q}");
                assert_eq!(grouped_facets, facets, "grouped facets of {q}");

                let (list, from) = aggregated(index, &req);
                let mut want_lists: Vec<(String, u64)> = list
                    .into_iter()
                    .filter(|(l, _)| allowed.as_ref().is_none_or(|a| a.contains(l)))
                    .collect();
                want_lists.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
                let got_lists: Vec<(String, u64)> = facets
                    .list
                    .iter()
                    .map(|f| (f.value.clone(), f.count))
                    .collect();
                assert_eq!(got_lists, want_lists, "lists of {q} for {allowed:?}");

                let mut want_from: Vec<(String, u64)> = from.into_iter().collect();
                want_from.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
                want_from.truncate(20);
                let got_from: Vec<(String, u64)> = facets
                    .from
                    .iter()
                    .map(|f| (f.value.clone(), f.count))
                    .collect();
                assert_eq!(got_from, want_from, "senders of {q}");

                // Months and years from every matching message's date.
                let mut months: BTreeMap<String, u64> = BTreeMap::new();
                let mut n = 0;
                query::for_each_match(index, &req, |m| {
                    n += 1;
                    if m.date > 0 {
                        let t = time::OffsetDateTime::from_unix_timestamp(m.date).unwrap();
                        *months
                            .entry(format!("{:04}-{:02}", t.year(), u8::from(t.month())))
                            .or_default() += 1;
                    }
                    true
                })
                .unwrap();
                assert_eq!(n, results.total);
                let got_months: BTreeMap<String, u64> = facets
                    .timeline
                    .iter()
                    .map(|m| (m.month.clone(), m.count))
                    .collect();
                assert_eq!(got_months, months, "months of {q}");
                let mut years: BTreeMap<String, u64> = BTreeMap::new();
                for (m, c) in &months {
                    *years.entry(m[..4].to_string()).or_default() += c;
                }
                let got_years: BTreeMap<String, u64> = facets
                    .year
                    .iter()
                    .map(|y| (y.value.clone(), y.count))
                    .collect();
                assert_eq!(got_years, years, "years of {q}");
                if q == "certificate" && allowed.is_none() {
                    assert!(results.total > 100 && facets.timeline.len() > 12);
                    assert!(facets.list.len() >= 2 && facets.from.len() == 20);
                }
            }
        }
    }
}
