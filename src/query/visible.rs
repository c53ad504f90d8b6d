//! Per-list visibility: the filter that keeps a user's queries inside the lists
//! they are granted.
//!
//! Every query the query layer runs on behalf of a surface goes through
//! [`restrict`], so a hit, count, facet value, timeline bar, message, thread or
//! export line from another list can never leave this module's callers. It
//! knows nothing of users or roles: the caller says which lists are allowed.

use tantivy::query::{BooleanQuery, EmptyQuery, Occur, Query, TermQuery};
use tantivy::schema::IndexRecordOption;
use tantivy::Term;

use crate::index::Fields;

/// `query`, restricted to messages whose list is one of `allowed` (`None`: all
/// lists; an empty slice: nothing at all). Messages without a list are only
/// visible when `allowed` is `None`.
pub fn restrict(
    fields: &Fields,
    query: Box<dyn Query>,
    allowed: Option<&[String]>,
) -> Box<dyn Query> {
    let Some(allowed) = allowed else {
        return query;
    };
    if allowed.is_empty() {
        return Box::new(EmptyQuery);
    }
    let lists: Vec<(Occur, Box<dyn Query>)> = allowed
        .iter()
        .map(|l| {
            let term = Term::from_field_text(fields.list, &l.to_lowercase());
            let q: Box<dyn Query> = Box::new(TermQuery::new(term, IndexRecordOption::Basic));
            (Occur::Should, q)
        })
        .collect();
    // The list filter must not change scores: boost 0 keeps BM25 of `query` only.
    let filter: Box<dyn Query> = Box::new(tantivy::query::BoostQuery::new(
        Box::new(BooleanQuery::new(lists)),
        0.0,
    ));
    Box::new(BooleanQuery::new(vec![
        (Occur::Must, query),
        (Occur::Must, filter),
    ]))
}

/// Whether a message of `list` is visible under `allowed`.
pub fn is_visible(list: &str, allowed: Option<&[String]>) -> bool {
    match allowed {
        None => true,
        Some(allowed) => !list.is_empty() && allowed.iter().any(|l| l.eq_ignore_ascii_case(list)),
    }
}
