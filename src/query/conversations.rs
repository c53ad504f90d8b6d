//! Search results grouped by conversation: every message a query matches,
//! counted per thread, the conversations ordered by their best message (by
//! relevance or date) and paged, each shown by that message. Totals are
//! exact, of messages and of conversations. Like [`super::search`], only
//! within the caller's lists and the limits in force.

use std::collections::HashMap;

use tantivy::collector::{Count, TopDocs};
use tantivy::{DocAddress, Order};

use super::limits::{self, Budget};
use super::search::{Hit, Snippets};
use super::{QueryError, Request, Sort};
use crate::index::MailIndex;

/// One conversation with messages matching.
#[derive(Debug, Clone)]
pub struct Conversation {
    /// Its thread id.
    pub thread_id: String,
    /// Its messages that match.
    pub matching: usize,
    /// The best of them (first in the requested order), with a snippet.
    pub best: Hit,
}

/// A page of conversations.
#[derive(Debug, Clone)]
pub struct Conversations {
    /// Messages matching, in all.
    pub total_messages: usize,
    /// Conversations with a message matching, in all.
    pub total: usize,
    /// The page asked for (`offset` and `limit` count conversations).
    pub page: Vec<Conversation>,
}

/// Runs `req`, grouping its matches by conversation.
pub fn conversations(index: &MailIndex, req: &Request) -> Result<Conversations, QueryError> {
    let limits = limits::current();
    limits::check_page(req.offset, req.limit, &limits)?;
    let budget = std::sync::Arc::new(Budget::new(limits));
    let searcher = index.reader.searcher();
    let query = budget.wrap(req.plan_within(index, &budget)?);
    let total_messages = searcher.search(&query, &Count)?;
    query.check()?;
    let ranked: Vec<DocAddress> = if total_messages == 0 {
        Vec::new()
    } else {
        let docs = TopDocs::with_limit(total_messages);
        match req.sort {
            Sort::Relevance => searcher
                .search(&query, &docs.order_by_score())?
                .into_iter()
                .map(|(_, a)| a)
                .collect(),
            Sort::Date | Sort::Oldest => {
                let order = if req.sort == Sort::Date {
                    Order::Desc
                } else {
                    Order::Asc
                };
                searcher
                    .search(&query, &docs.order_by_fast_field::<i64>("date", order))?
                    .into_iter()
                    .map(|(_, a)| a)
                    .collect()
            }
        }
    };
    query.check()?;
    // Thread of each match, in rank order: the first seen is a thread's best.
    let mut columns = super::thread::ThreadColumns::new(&searcher);
    let mut order: Vec<(String, DocAddress)> = Vec::new();
    let mut counts: HashMap<String, usize> = HashMap::new();
    let mut buf = String::new();
    for addr in ranked {
        columns.read(addr, &mut buf)?;
        // A message without a thread id is a conversation of its own.
        let thread = if buf.is_empty() {
            format!("\u{0}{}:{}", addr.segment_ord, addr.doc_id)
        } else {
            buf.clone()
        };
        let n = counts.entry(thread.clone()).or_insert(0);
        if *n == 0 {
            order.push((thread, addr));
        }
        *n += 1;
    }
    let total = order.len();
    let mut snippets = Snippets::new(index, &searcher, &query);
    let mut loader = crate::index::doc::Loader::new(&searcher, &index.fields);
    let mut page = Vec::new();
    for (thread, addr) in order.into_iter().skip(req.offset).take(req.limit.max(1)) {
        let message = loader.load(addr)?.visible_to(req.allowed_lists.as_deref());
        let snippet = snippets.make(&message);
        page.push(Conversation {
            matching: counts.get(&thread).copied().unwrap_or(1),
            thread_id: message.thread_id.clone(),
            best: Hit {
                message,
                score: 0.0,
                snippet,
            },
        });
    }
    Ok(Conversations {
        total_messages,
        total,
        page,
    })
}
