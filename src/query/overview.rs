//! What the archive holds, for a home page and completion: each list with
//! its message count and date range, the people who write (by messages
//! written, with a name), and example queries made from the archive's own
//! lists, people and words, each run for the caller and kept only when it
//! finds something. Everything is within the caller's lists. It knows nothing
//! of HTTP.

use std::collections::BTreeMap;

use serde::Serialize;
use tantivy::aggregation::agg_req::Aggregations;
use tantivy::aggregation::AggregationCollector;
use tantivy::collector::{Count, TopDocs};
use tantivy::query::{AllQuery, Query, RangeQuery, TermQuery};
use tantivy::schema::IndexRecordOption;
use tantivy::Term;

use super::conversations::Conversation;
use super::{visible, QueryError, Request};
use crate::index::doc::Loader;
use crate::index::MailIndex;

/// Lists reported at most.
const MAX_LISTS: u32 = 500;
/// Example queries offered at most.
pub const MAX_EXAMPLES: usize = 6;

/// One list and what it holds.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ListSummary {
    /// The list id.
    pub list: String,
    /// Its messages.
    pub count: u64,
    /// Its oldest dated message (unix seconds; 0 when none is dated).
    pub first_date: i64,
    /// Its newest dated message.
    pub last_date: i64,
}

/// Someone who writes to the lists.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Author {
    /// Bare address, lowercased (what `from:` takes).
    pub addr: String,
    /// As they sign: `Name <addr>`.
    pub name: String,
    /// Messages they wrote.
    pub count: u64,
}

/// A query to try, with what it shows and how much it finds.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Example {
    /// The query.
    pub query: String,
    /// What it demonstrates.
    pub what: String,
    /// Messages it finds for the caller.
    pub total: usize,
}

/// The caller's view of the archive.
#[derive(Debug, Clone)]
pub struct Overview {
    /// Lists, largest first.
    pub lists: Vec<ListSummary>,
    /// The conversations with the newest messages, newest first.
    pub recent: Vec<Conversation>,
    /// Queries to try, each finding something.
    pub examples: Vec<Example>,
}

/// Everything the caller may read with a usable date.
fn dated(index: &MailIndex, allowed: Option<&[String]>) -> Box<dyn Query> {
    let range: Box<dyn Query> = Box::new(RangeQuery::new(
        std::ops::Bound::Included(Term::from_field_i64(index.fields.date, 1)),
        std::ops::Bound::Unbounded,
    ));
    visible::restrict(&index.fields, range, allowed)
}

fn aggregate(
    index: &MailIndex,
    query: &dyn Query,
    request: serde_json::Value,
) -> Result<serde_json::Value, QueryError> {
    let aggs: Aggregations = serde_json::from_value(request)
        .map_err(|e| tantivy::TantivyError::InvalidArgument(e.to_string()))?;
    let collector = AggregationCollector::from_aggs(aggs, Default::default());
    let result = index.reader.searcher().search(query, &collector)?;
    serde_json::to_value(result)
        .map_err(|e| QueryError::Index(tantivy::TantivyError::InvalidArgument(e.to_string())))
}

/// The lists the caller may read, largest first, with their date ranges.
pub fn lists(
    index: &MailIndex,
    allowed: Option<&[String]>,
) -> Result<Vec<ListSummary>, QueryError> {
    let all = visible::restrict(&index.fields, Box::new(AllQuery), allowed);
    let counts = aggregate(
        index,
        all.as_ref(),
        serde_json::json!({"l": {"terms": {"field": "list", "size": MAX_LISTS}}}),
    )?;
    let ranges = aggregate(
        index,
        dated(index, allowed).as_ref(),
        serde_json::json!({"l": {"terms": {"field": "list", "size": MAX_LISTS},
            "aggs": {"first": {"min": {"field": "date"}}, "last": {"max": {"field": "date"}}}}}),
    )?;
    let mut range_of: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for b in ranges["l"]["buckets"].as_array().into_iter().flatten() {
        if let Some(key) = b["key"].as_str() {
            let at = |k: &str| b[k]["value"].as_f64().map_or(0, |v| v as i64);
            range_of.insert(key.to_string(), (at("first"), at("last")));
        }
    }
    Ok(counts["l"]["buckets"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|b| {
            let list = b["key"].as_str()?.to_string();
            if list.is_empty() || !visible::is_visible(&list, allowed) {
                return None;
            }
            let (first_date, last_date) = range_of.get(&list).copied().unwrap_or((0, 0));
            Some(ListSummary {
                count: b["doc_count"].as_u64()?,
                list,
                first_date,
                last_date,
            })
        })
        .collect())
}

/// The people whose name or address has a word starting with `prefix`
/// (all when empty), by messages written, at most `limit`, within the
/// caller's lists.
pub fn authors(
    index: &MailIndex,
    prefix: &str,
    allowed: Option<&[String]>,
    limit: usize,
) -> Result<Vec<Author>, QueryError> {
    let word: String = prefix
        .chars()
        .take_while(|c| c.is_alphanumeric())
        .take(40)
        .collect();
    let query = if word.is_empty() {
        visible::restrict(&index.fields, Box::new(AllQuery), allowed)
    } else {
        Request::new(format!("from:{word}*"))
            .within(allowed)
            .plan(index)?
    };
    let v = aggregate(
        index,
        query.as_ref(),
        serde_json::json!({"a": {"terms": {"field": "from_addr", "size": limit.clamp(1, 100)}}}),
    )?;
    let searcher = index.reader.searcher();
    let mut loader = Loader::new(&searcher, &index.fields);
    let mut out = Vec::new();
    for b in v["a"]["buckets"].as_array().into_iter().flatten() {
        let (Some(addr), Some(count)) = (b["key"].as_str(), b["doc_count"].as_u64()) else {
            continue;
        };
        if addr.is_empty() {
            continue;
        }
        // The name they write under, from one of their messages.
        let one = visible::restrict(
            &index.fields,
            Box::new(TermQuery::new(
                Term::from_field_text(index.fields.from_addr, addr),
                IndexRecordOption::Basic,
            )),
            allowed,
        );
        let name = match searcher
            .search(one.as_ref(), &TopDocs::with_limit(1).order_by_score())?
            .first()
        {
            Some((_, at)) => {
                let m = loader.load(*at)?;
                m.from
                    .iter()
                    .find(|a| a.to_lowercase().contains(addr))
                    .or(m.from.first())
                    .cloned()
                    .unwrap_or_else(|| addr.to_string())
            }
            None => addr.to_string(),
        };
        out.push(Author {
            addr: addr.to_string(),
            name,
            count,
        });
    }
    Ok(out)
}

/// Words too common to make an example.
const STOPWORDS: &[&str] = &[
    "about", "after", "again", "also", "because", "been", "before", "being", "between", "could",
    "does", "from", "have", "into", "more", "most", "only", "other", "over", "should", "some",
    "such", "than", "that", "their", "them", "then", "there", "these", "they", "this", "those",
    "under", "what", "when", "where", "which", "while", "with", "would", "your", "question",
    "problem", "issue", "help", "please", "thanks",
];

/// Words of `subjects` worth searching for, most frequent first.
fn words_of(subjects: &[String]) -> Vec<String> {
    let mut freq: BTreeMap<String, usize> = BTreeMap::new();
    for s in subjects {
        let mut seen = Vec::new();
        for w in s.split(|c: char| !c.is_alphabetic()) {
            let w = w.to_lowercase();
            if w.chars().count() >= 5 && !STOPWORDS.contains(&w.as_str()) && !seen.contains(&w) {
                seen.push(w.clone());
                *freq.entry(w).or_default() += 1;
            }
        }
    }
    let mut words: Vec<(String, usize)> = freq.into_iter().collect();
    words.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    words.into_iter().map(|(w, _)| w).collect()
}

/// Two adjacent words of a subject, as an exact phrase.
fn phrase_of(subjects: &[String]) -> Option<String> {
    subjects.iter().find_map(|s| {
        let words: Vec<&str> = s.split_whitespace().collect();
        words.windows(2).find_map(|w| {
            let ok = |x: &str| x.chars().count() >= 4 && x.chars().all(char::is_alphabetic);
            (ok(w[0]) && ok(w[1]) && !STOPWORDS.contains(&w[0].to_lowercase().as_str()))
                .then(|| format!("\"{} {}\"", w[0].to_lowercase(), w[1].to_lowercase()))
        })
    })
}

/// The caller's overview: lists, the `recent` newest conversations and
/// examples that find something (`now`: for relative dates).
pub fn overview(
    index: &MailIndex,
    allowed: Option<&[String]>,
    recent: usize,
    now: i64,
) -> Result<Overview, QueryError> {
    let lists = lists(index, allowed)?;
    let conversations = super::conversations::recent(index, allowed, recent.max(1))?.page;
    let subjects: Vec<String> = conversations.iter().map(|c| c.subject.clone()).collect();
    let words = words_of(&subjects);
    let people = authors(index, "", allowed, 3)?;
    let mut candidates: Vec<(String, String)> = Vec::new();
    if let Some(w) = words.first() {
        candidates.push((w.clone(), "a word, anywhere in the mail".into()));
    }
    if let Some(p) = phrase_of(&subjects) {
        candidates.push((p, "an exact phrase".into()));
    }
    if let (Some(a), Some(w)) = (people.first(), words.get(1)) {
        candidates.push((
            format!("from:{} {w}", a.addr),
            format!(
                "by {} and about {w}",
                super::conversations::name_of(&a.name)
            ),
        ));
    }
    if let Some(a) = people.first() {
        candidates.push((
            format!("from:{}", a.addr),
            format!(
                "everything {} wrote",
                super::conversations::name_of(&a.name)
            ),
        ));
    }
    if let (Some(a), Some(b), Some(c)) = (words.first(), words.get(1), words.get(2)) {
        candidates.push((
            format!("{a} OR {b} -{c}"),
            "alternatives, minus a word".into(),
        ));
    }
    if let Some(l) = lists.first() {
        let year = super::facets::year_month(l.last_date).0;
        candidates.push((
            format!("list:{} after:{year}-01-01", l.list),
            format!("one list since {year}"),
        ));
    }
    if let Some(l) = lists
        .iter()
        .find(|l| l.first_date > 0 && now - l.first_date > 6 * 365 * 86_400)
    {
        candidates.push((
            format!("older:6y list:{}", l.list),
            "old mail of one list".into(),
        ));
    }
    if let Some(w) = words.get(3).or(words.first()) {
        candidates.push((format!("subject:{w}"), "a word in the subject".into()));
    }
    candidates.push(("has:attachment".into(), "mail with attachments".into()));
    let mut examples = Vec::new();
    let searcher = index.reader.searcher();
    for (query, what) in candidates {
        if examples.len() == MAX_EXAMPLES {
            break;
        }
        let req = Request {
            now,
            ..Request::new(query.clone()).within(allowed)
        };
        let Ok(planned) = req.plan(index) else {
            continue;
        };
        let total = searcher.search(planned.as_ref(), &Count)?;
        if total > 0 {
            examples.push(Example { query, what, total });
        }
    }
    Ok(Overview {
        lists,
        recent: conversations,
        examples,
    })
}
