//! Field queries answered by the index must equal an independent brute-force
//! scan of the same messages (exact equality): from:, list:, dates, id:, and
//! combinations with AND, OR and NOT.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use gleaner::extract::{fold, Address, MailDoc};
use gleaner::index::MailIndex;
use gleaner::query::{self, Request};

use crate::common::{extract_all, identity, index_paths, sample, shared_corpora, tempdir};

/// 00:00 UTC on a day, computed without the code under test.
fn day(y: i64, m: i64, d: i64) -> i64 {
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe - 719_468) * 86_400
}

fn tokens(s: &str) -> BTreeSet<String> {
    fold(s)
        .split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}

fn addr_tokens(list: &[Address]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for a in list {
        out.extend(tokens(a.name.as_deref().unwrap_or("")));
        out.extend(tokens(a.addr.as_deref().unwrap_or("")));
    }
    out
}

/// What `from:` matches: the author (the person behind a list's rewriting of
/// From) and the From header as written.
fn sender_tokens(d: &MailDoc) -> BTreeSet<String> {
    let mut out = addr_tokens(d.authors());
    out.extend(addr_tokens(&d.from));
    out
}

fn ident(d: &MailDoc) -> String {
    let key = format!("sha256:{}", d.content_hash);
    identity(d.message_id.as_deref().unwrap_or(""), &key)
}

fn searched(index: &MailIndex, q: &str) -> BTreeSet<String> {
    // Every match, not a page (a page is bounded by the query limits).
    let req = Request::new(q);
    let mut found = Vec::new();
    let total = query::for_each_match(index, &req, |m| {
        found.push(identity(&m.message_id, &m.key));
        true
    })
    .unwrap_or_else(|e| panic!("query {q}: {e}"));
    assert_eq!(total, found.len(), "{q}: exact total");
    let page = query::search(index, &req).unwrap_or_else(|e| panic!("query {q}: {e}"));
    assert_eq!(page.total, total, "{q}: the search's total");
    found.into_iter().collect()
}

fn brute(docs: &[MailDoc], pred: impl Fn(&MailDoc) -> bool) -> BTreeSet<String> {
    docs.iter().filter(|d| pred(d)).map(ident).collect()
}

fn in_range(d: &MailDoc, from: i64, to: i64) -> bool {
    d.date.is_some_and(|t| t > 0 && t >= from && t < to)
}

/// Values that occur in the corpus: frequent sender tokens, lists, a few ids.
fn pick(docs: &[MailDoc]) -> (Vec<String>, Vec<String>, Vec<String>) {
    let mut senders: BTreeMap<String, usize> = BTreeMap::new();
    let mut lists: BTreeMap<String, usize> = BTreeMap::new();
    for d in docs {
        for t in sender_tokens(d) {
            if t.len() > 3 && t.is_ascii() {
                *senders.entry(t).or_default() += 1;
            }
        }
        if let Some(l) = &d.list {
            *lists.entry(l.clone()).or_default() += 1;
        }
    }
    let mut s: Vec<(usize, String)> = senders.into_iter().map(|(k, v)| (v, k)).collect();
    s.sort_by(|a, b| b.cmp(a));
    let mut l: Vec<(usize, String)> = lists.into_iter().map(|(k, v)| (v, k)).collect();
    l.sort_by(|a, b| b.cmp(a));
    let ids = docs
        .iter()
        .filter_map(|d| d.message_id.clone())
        .step_by((docs.len() / 5).max(1))
        .take(5)
        .collect();
    (
        s.into_iter().skip(2).take(4).map(|x| x.1).collect(),
        l.into_iter().take(3).map(|x| x.1).collect(),
        ids,
    )
}

fn check(paths: &[PathBuf]) {
    let dir = tempdir();
    let (index, _) = index_paths(dir.path(), paths);
    let docs = extract_all(paths);
    assert!(!docs.is_empty());
    let (senders, lists, ids) = pick(&docs);
    assert!(
        senders.len() >= 2 && !lists.is_empty(),
        "corpus too small to test"
    );
    let mut checked = 0;
    let mut compare = |q: String, want: BTreeSet<String>| {
        let got = searched(&index, &q);
        let missing: Vec<_> = want.difference(&got).take(5).collect();
        let extra: Vec<_> = got.difference(&want).take(5).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{q}: {} expected, {} found; missing {missing:?}, extra {extra:?}",
            want.len(),
            got.len()
        );
        checked += 1;
    };
    for s in &senders {
        compare(
            format!("from:{s}"),
            brute(&docs, |d| sender_tokens(d).contains(s)),
        );
        compare(
            format!("from:{}", s.to_uppercase()),
            brute(&docs, |d| sender_tokens(d).contains(s)),
        );
    }
    for l in &lists {
        compare(
            format!("list:{l}"),
            brute(&docs, |d| d.list.as_deref() == Some(l)),
        );
        compare(
            format!("list:{l} from:{}", senders[0]),
            brute(&docs, |d| {
                d.list.as_deref() == Some(l) && sender_tokens(d).contains(&senders[0])
            }),
        );
        compare(
            format!("list:{l} -from:{}", senders[1]),
            brute(&docs, |d| {
                d.list.as_deref() == Some(l) && !sender_tokens(d).contains(&senders[1])
            }),
        );
    }
    compare(
        format!("from:{} OR from:{}", senders[0], senders[1]),
        brute(&docs, |d| {
            let t = sender_tokens(d);
            t.contains(&senders[0]) || t.contains(&senders[1])
        }),
    );
    for y in [2002, 2010, 2015, 2019, 2024] {
        compare(
            format!("date:{y}"),
            brute(&docs, |d| in_range(d, day(y, 1, 1), day(y + 1, 1, 1))),
        );
    }
    compare(
        "date:2012-03..2016-06".into(),
        brute(&docs, |d| in_range(d, day(2012, 3, 1), day(2016, 7, 1))),
    );
    compare(
        "after:2018-02-15".into(),
        brute(&docs, |d| in_range(d, day(2018, 2, 15), i64::MAX)),
    );
    compare(
        "before:2011".into(),
        brute(&docs, |d| in_range(d, 1, day(2011, 1, 1))),
    );
    compare(
        format!("after:2014 before:2020-07 list:{}", lists[0]),
        brute(&docs, |d| {
            in_range(d, day(2014, 1, 1), day(2020, 7, 1)) && d.list.as_deref() == Some(&lists[0])
        }),
    );
    for id in &ids {
        compare(
            format!("id:{id}"),
            brute(&docs, |d| {
                d.message_id.as_deref().map(str::to_lowercase) == Some(id.to_lowercase())
            }),
        );
    }
    assert!(checked >= 20, "only {checked} queries compared");
}

#[test]
fn field_queries_equal_brute_force_on_the_sample() {
    check(&[sample()]);
}

#[test]
fn field_queries_equal_brute_force_on_shared_corpora() {
    let Some(c) = shared_corpora() else { return };
    check(&[
        c.join("notmuch-corpora/maildir"),
        c.join("spamassassin-public/maildir"),
    ]);
}
