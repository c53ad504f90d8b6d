//! Which messages a retention policy makes due: messages of some lists (or
//! all), optionally matching a query, older than a cutoff by their date or
//! their arrival, oldest first. A long job's query: it runs within the
//! caller's budget (an archive run's [`Budget::for_job`]).

use std::ops::Bound;

use tantivy::collector::TopDocs;
use tantivy::query::{AllQuery, BooleanQuery, Occur, Query, RangeQuery, TermQuery};
use tantivy::schema::IndexRecordOption;
use tantivy::{Order, Term};

use super::harvest::AgeBasis;
use super::limits::Budget;
use super::{plan, QueryError};
use crate::index::doc::StoredMessage;
use crate::index::MailIndex;

/// What is due.
#[derive(Clone, Copy)]
pub struct DueRequest<'a> {
    /// Lists (exact ids); empty: every list.
    pub lists: &'a [String],
    /// Only messages matching this query.
    pub filter: Option<&'a str>,
    /// Messages older than this (unix seconds, by `basis`); `None`: all.
    pub before: Option<i64>,
    /// Which date ages a message.
    pub basis: AgeBasis,
    /// "Now" for `older:`/`newer:` in `filter`.
    pub now: i64,
    /// Marks for `is:`/`cited:` in `filter`.
    pub marks: Option<&'a dyn super::Marks>,
}

/// Every due message, oldest first, found and read within `budget`.
pub fn due(
    index: &MailIndex,
    req: &DueRequest<'_>,
    budget: &std::sync::Arc<Budget>,
) -> Result<Vec<StoredMessage>, QueryError> {
    let f = &index.fields;
    let mut clauses: Vec<(Occur, Box<dyn Query>)> = vec![(Occur::Must, Box::new(AllQuery))];
    if !req.lists.is_empty() {
        let lists = req
            .lists
            .iter()
            .map(|l| {
                let q: Box<dyn Query> = Box::new(TermQuery::new(
                    Term::from_field_text(f.list, &l.trim().to_lowercase()),
                    IndexRecordOption::Basic,
                ));
                (Occur::Should, q)
            })
            .collect();
        clauses.push((Occur::Must, Box::new(BooleanQuery::new(lists))));
    }
    if let Some(q) = req.filter.filter(|q| !q.trim().is_empty()) {
        let ast = plan::parse_limited(q, budget.limits())?;
        clauses.push((
            Occur::Must,
            plan::Planner::new(index, req.now)
                .with_marks(req.marks)
                .with_budget(budget.clone())
                .plan(&ast)?,
        ));
    }
    if let Some(before) = req.before {
        let field = match req.basis {
            AgeBasis::Date => f.date,
            AgeBasis::Arrival => f.arrived,
        };
        // Undated mail (0) is never due by age: nobody can tell how old it is.
        clauses.push((
            Occur::Must,
            Box::new(RangeQuery::new(
                Bound::Included(Term::from_field_i64(field, 1)),
                Bound::Excluded(Term::from_field_i64(field, before)),
            )),
        ));
    }
    let query = BooleanQuery::new(clauses);
    let searcher = index.reader.searcher();
    let total = budget.search(&searcher, &query, &tantivy::collector::Count)?;
    if total == 0 {
        return Ok(Vec::new());
    }
    let top = TopDocs::with_limit(total).order_by_fast_field::<i64>("date", Order::Asc);
    let mut out = Vec::with_capacity(total);
    let mut loader = crate::index::doc::Loader::new(&searcher, f);
    for (_, addr) in budget.search(&searcher, &query, &top)? {
        budget.check_time()?;
        out.push(loader.load(addr)?);
    }
    Ok(out)
}
