//! Threads: every message of a thread key the caller may see, as a tree.
//!
//! Children hang under the message their In-Reply-To names; a message whose
//! parent is missing (not indexed, or not visible) is a root. Roots and each
//! level of children are in date order. Reply cycles (A answers B answers A)
//! are broken by making the oldest message of the cycle a root.

use std::collections::HashMap;

use tantivy::collector::TopDocs;
use tantivy::query::TermQuery;
use tantivy::schema::IndexRecordOption;
use tantivy::{Order, Term};

use super::{visible, QueryError};
use crate::index::doc::StoredMessage;
use crate::index::MailIndex;

/// The thread id of documents by address, from the `thread` fast field
/// (or another string fast field, [`ThreadColumns::of`]), each segment's
/// column opened once.
pub struct ThreadColumns<'a> {
    searcher: &'a tantivy::Searcher,
    field: &'static str,
    columns: HashMap<u32, Option<tantivy::columnar::StrColumn>>,
}

impl<'a> ThreadColumns<'a> {
    /// No column opened yet.
    pub fn new(searcher: &'a tantivy::Searcher) -> ThreadColumns<'a> {
        ThreadColumns::of(searcher, "thread")
    }

    /// The values of the string fast field `field` instead (`key`: the
    /// document key as written).
    pub fn of(searcher: &'a tantivy::Searcher, field: &'static str) -> ThreadColumns<'a> {
        ThreadColumns {
            searcher,
            field,
            columns: HashMap::new(),
        }
    }

    /// Writes the thread id of `addr` into `buf` (cleared first); `false`
    /// when it has none.
    pub fn read(
        &mut self,
        addr: tantivy::DocAddress,
        buf: &mut String,
    ) -> Result<bool, QueryError> {
        buf.clear();
        let (searcher, field) = (self.searcher, self.field);
        let col = self.columns.entry(addr.segment_ord).or_insert_with(|| {
            searcher
                .segment_reader(addr.segment_ord)
                .fast_fields()
                .str(field)
                .ok()
                .flatten()
        });
        let Some(col) = col else {
            return Ok(false);
        };
        let Some(ord) = col.term_ords(addr.doc_id).next() else {
            return Ok(false);
        };
        col.ord_to_str(ord, buf)
            .map_err(|e| QueryError::from(tantivy::TantivyError::from(e)))
    }
}

/// Messages returned for one thread at most.
pub const MAX_THREAD_MESSAGES: usize = 10_000;

/// One message in a thread with its replies.
#[derive(Debug, Clone, PartialEq)]
pub struct ThreadNode {
    /// The message.
    pub message: StoredMessage,
    /// Direct replies, oldest first.
    pub children: Vec<ThreadNode>,
}

/// A thread as a forest of reply trees.
#[derive(Debug, Clone, PartialEq)]
pub struct Thread {
    /// The thread key.
    pub thread_id: String,
    /// The subject of the oldest root.
    pub subject: String,
    /// Messages without a (visible) parent, oldest first.
    pub roots: Vec<ThreadNode>,
    /// Messages in the thread (visible ones).
    pub len: usize,
}

/// The conversation `id` names today (an id merged into another conversation,
/// or any Message-ID of a message in one, resolves to it); `id` itself when no
/// message knows it.
pub fn resolve(index: &MailIndex, id: &str) -> Result<String, QueryError> {
    let searcher = index.reader.searcher();
    Ok(
        crate::index::threading::resolve(&searcher, &index.fields, id)?
            .unwrap_or_else(|| id.to_string()),
    )
}

/// The oldest `limit` visible messages of thread `thread_id`, oldest first.
fn oldest(
    index: &MailIndex,
    thread_id: &str,
    allowed: Option<&[String]>,
    limit: usize,
) -> Result<Vec<StoredMessage>, QueryError> {
    let searcher = index.reader.searcher();
    Ok(oldest_in(index, &searcher, thread_id, allowed, limit)?
        .into_iter()
        .map(|(_, m)| m)
        .collect())
}

/// [`oldest`] through `searcher`, each message with its address there.
pub(super) fn oldest_in(
    index: &MailIndex,
    searcher: &tantivy::Searcher,
    thread_id: &str,
    allowed: Option<&[String]>,
    limit: usize,
) -> Result<Vec<(tantivy::DocAddress, StoredMessage)>, QueryError> {
    let thread_id = &crate::index::threading::resolve(searcher, &index.fields, thread_id)?
        .unwrap_or_else(|| thread_id.to_string());
    let term = Term::from_field_text(index.fields.thread, thread_id);
    let query = visible::restrict(
        &index.fields,
        Box::new(TermQuery::new(term, IndexRecordOption::Basic)),
        allowed,
    );
    let top = TopDocs::with_limit(limit).order_by_fast_field::<i64>("date", Order::Asc);
    let found = searcher.search(query.as_ref(), &top)?;
    let mut messages = Vec::with_capacity(found.len());
    let mut loader = crate::index::doc::Loader::new(searcher, &index.fields);
    for (_, addr) in found {
        messages.push((addr, loader.load(addr)?.visible_to(allowed)));
    }
    Ok(messages)
}

/// The oldest visible message of thread `thread_id`.
pub fn first_message(
    index: &MailIndex,
    thread_id: &str,
    allowed: Option<&[String]>,
) -> Result<Option<StoredMessage>, QueryError> {
    Ok(oldest(index, thread_id, allowed, 1)?.into_iter().next())
}

/// The thread `thread_id` restricted to `allowed` lists; `None` when it has no
/// visible message.
pub fn thread(
    index: &MailIndex,
    thread_id: &str,
    allowed: Option<&[String]>,
) -> Result<Option<Thread>, QueryError> {
    let messages = oldest(index, thread_id, allowed, MAX_THREAD_MESSAGES)?;
    if messages.is_empty() {
        return Ok(None);
    }
    let len = messages.len();
    let thread_id = messages
        .first()
        .map_or_else(|| thread_id.to_string(), |m| m.thread_id.clone());
    let parents = parents(&messages);
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); len];
    let mut roots = Vec::new();
    for (i, p) in parents.iter().enumerate() {
        match p {
            Some(p) => children[*p].push(i),
            None => roots.push(i),
        }
    }
    let mut slots: Vec<Option<StoredMessage>> = messages.into_iter().map(Some).collect();
    let roots: Vec<ThreadNode> = roots
        .into_iter()
        .filter_map(|r| build(r, &children, &mut slots))
        .collect();
    let subject = roots
        .first()
        .map(|r| r.message.subject.clone())
        .unwrap_or_default();
    Ok(Some(Thread {
        thread_id,
        subject,
        roots,
        len,
    }))
}

/// The parent of each message (by In-Reply-To), with cycles broken.
fn parents(messages: &[StoredMessage]) -> Vec<Option<usize>> {
    let mut by_id: HashMap<String, usize> = HashMap::new();
    for (i, m) in messages.iter().enumerate() {
        if !m.message_id.is_empty() {
            by_id.entry(m.message_id.to_lowercase()).or_insert(i);
        }
    }
    let mut parents: Vec<Option<usize>> = messages
        .iter()
        .enumerate()
        .map(|(i, m)| {
            by_id
                .get(&m.in_reply_to.to_lowercase())
                .copied()
                .filter(|&p| p != i && !m.in_reply_to.is_empty())
        })
        .collect();
    // Break cycles: walk up from each message; a walk that comes back to where
    // it started is a cycle, cut above its oldest member (lowest index).
    for start in 0..parents.len() {
        let mut seen = vec![start];
        let mut at = start;
        while let Some(p) = parents[at] {
            if p == start {
                if let Some(&oldest) = seen.iter().min() {
                    parents[oldest] = None;
                }
                break;
            }
            if seen.len() > parents.len() {
                break;
            }
            seen.push(p);
            at = p;
        }
    }
    parents
}

fn build(
    i: usize,
    children: &[Vec<usize>],
    slots: &mut [Option<StoredMessage>],
) -> Option<ThreadNode> {
    let message = slots.get_mut(i)?.take()?;
    let kids = children
        .get(i)
        .map(|c| {
            c.iter()
                .filter_map(|&c| build(c, children, slots))
                .collect()
        })
        .unwrap_or_default();
    Some(ThreadNode {
        message,
        children: kids,
    })
}
