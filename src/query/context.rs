//! A message in its surroundings: its place in its conversation (an outline,
//! the messages before and after it in reading order) and in a result list
//! (the hits before and after it).
//!
//! Everything here comes from the messages the caller may see: a conversation
//! spanning a list they cannot read shows only its readable messages, so
//! neither the outline nor a neighbour reveals the others.
//!
//! This module knows nothing of HTTP.

use std::collections::HashSet;

use tantivy::collector::DocSetCollector;
use tantivy::query::{BooleanQuery, Occur, Query, TermQuery};
use tantivy::schema::IndexRecordOption;
use tantivy::{DocAddress, Term};

use super::search::{self, Request};
use super::thread::{self, ThreadColumns, ThreadNode};
use super::QueryError;
use crate::index::analysis::lowercase_key;
use crate::index::doc::StoredMessage;
use crate::index::MailIndex;

/// Outline entries returned at most; a longer conversation gets the window
/// around the message.
pub const OUTLINE_MAX: usize = 120;

/// Characters of a message's first line in the outline.
const FIRST_LINE_CHARS: usize = 90;

/// One message of a conversation, as an outline row.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The message.
    pub message: StoredMessage,
    /// Replies above it (0: a root).
    pub depth: usize,
    /// The first line of its own text.
    pub first_line: String,
}

/// A message's place in its conversation.
#[derive(Debug, Clone, PartialEq)]
pub struct Place {
    /// Readable messages in the conversation.
    pub len: usize,
    /// The message's index in reading order (the thread page's order: each
    /// message followed by its replies), from 0.
    pub position: usize,
    /// The index of the first outline entry.
    pub outline_from: usize,
    /// Outline rows, at most [`OUTLINE_MAX`], around the message.
    pub outline: Vec<Entry>,
}

impl Place {
    /// The outline row of the message before it in reading order.
    pub fn prev(&self) -> Option<&Entry> {
        let at = self.position.checked_sub(1)?;
        self.outline.get(at.checked_sub(self.outline_from)?)
    }

    /// The outline row of the message after it in reading order.
    pub fn next(&self) -> Option<&Entry> {
        self.outline
            .get((self.position + 1).checked_sub(self.outline_from)?)
    }
}

/// The first line of `text` that says something (not blank, not a greeting
/// such as `Hi all,`, not an attribution left in the author's text such as
/// `Mon, 14 Apr 2025 13:07:05 +0100, Lena:`), whitespace collapsed, cut at
/// [`FIRST_LINE_CHARS`].
pub fn first_line(text: &str) -> String {
    let said = |l: &str| {
        let greeting = l.split_whitespace().count() <= 4 && l.ends_with([',', '!']);
        let attribution = l.ends_with(':') && l.chars().any(|c| c.is_ascii_digit());
        !greeting && !attribution
    };
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let first = lines.next().unwrap_or("");
    let line = if said(first) {
        first
    } else {
        lines.take(2).find(|l| said(l)).unwrap_or(first)
    };
    search::preview(line, FIRST_LINE_CHARS)
}

/// Where the message keyed `key` is in its conversation `thread_id`, among
/// the messages `allowed` lets the caller read; `None` when it is not there.
pub fn place(
    index: &MailIndex,
    thread_id: &str,
    key: &str,
    allowed: Option<&[String]>,
) -> Result<Option<Place>, QueryError> {
    let Some(found) = thread::thread(index, thread_id, allowed)? else {
        return Ok(None);
    };
    let mut rows = Vec::with_capacity(found.len);
    flatten(found.roots, 0, &mut rows);
    let Some(position) = rows.iter().position(|e| e.message.key == key) else {
        return Ok(None);
    };
    let len = rows.len();
    let outline_from = window_start(position, len);
    let outline = rows
        .into_iter()
        .skip(outline_from)
        .take(OUTLINE_MAX)
        .collect();
    Ok(Some(Place {
        len,
        position,
        outline_from,
        outline,
    }))
}

/// The first outline row shown for the message at `position` of `len`: the
/// [`OUTLINE_MAX`] rows around it, kept inside the conversation.
fn window_start(position: usize, len: usize) -> usize {
    position
        .saturating_sub(OUTLINE_MAX / 2)
        .min(len.saturating_sub(OUTLINE_MAX))
}

/// The tree in reading order (each message, then its replies).
fn flatten(nodes: Vec<ThreadNode>, depth: usize, out: &mut Vec<Entry>) {
    for n in nodes {
        out.push(Entry {
            first_line: first_line(&n.message.text),
            message: n.message,
            depth,
        });
        flatten(n.children, depth + 1, out);
    }
}

/// Where a message is in a result list.
#[derive(Debug, Clone, PartialEq)]
pub struct Rank {
    /// Its index in the results, from 0.
    pub rank: usize,
    /// Hits in all.
    pub total: usize,
    /// The hit before it.
    pub prev: Option<StoredMessage>,
    /// The hit after it.
    pub next: Option<StoredMessage>,
}

/// Hits looked through for a message whose rank is not known (or wrong).
pub const RANK_SCAN: usize = 500;

/// Where the message keyed `key` is in the results of `req` (its query,
/// sort and viewer; offset and limit are ignored). `hint` is the rank the
/// caller believes it has (the result page it came from): checked first,
/// else the first [`RANK_SCAN`] hits are looked through. `None` when it is not
/// among them.
pub fn rank(
    index: &MailIndex,
    req: &Request,
    key: &str,
    hint: Option<usize>,
) -> Result<Option<Rank>, QueryError> {
    if let Some(hint) = hint {
        let offset = hint.saturating_sub(1);
        // A hint past the deepest page a search may ask for is just wrong.
        match rank_in(index, req, key, offset, hint - offset + 2) {
            Ok(Some(found)) => return Ok(Some(found)),
            Ok(None) | Err(QueryError::Limit(_)) => {}
            Err(e) => return Err(e),
        }
    }
    rank_in(index, req, key, 0, RANK_SCAN)
}

/// [`rank`] among the hits `offset..offset + limit`: their addresses and
/// keys (a fast field) are read, and only the neighbours are loaded.
fn rank_in(
    index: &MailIndex,
    req: &Request,
    key: &str,
    offset: usize,
    limit: usize,
) -> Result<Option<Rank>, QueryError> {
    let searcher = index.reader.searcher();
    let page = Request {
        offset,
        limit,
        ..req.clone()
    };
    let (_, total, hits) = search::ranked(index, &searcher, &page)?;
    let wanted = lowercase_key(key);
    let mut keys = ThreadColumns::of(&searcher, "key");
    let mut buf = String::new();
    let mut at = None;
    for (i, (_, addr)) in hits.iter().enumerate() {
        if keys.read(*addr, &mut buf)? && lowercase_key(&buf) == wanted {
            at = Some(i);
            break;
        }
    }
    let Some(at) = at else {
        return Ok(None);
    };
    // A neighbour off the page (the hit before the first one) is looked up.
    let addr_at = |rank: usize| -> Result<Option<DocAddress>, QueryError> {
        if let Some(hit) = rank.checked_sub(offset).and_then(|i| hits.get(i)) {
            return Ok(Some(hit.1));
        }
        let one = Request {
            offset: rank,
            limit: 1,
            ..req.clone()
        };
        Ok(search::ranked(index, &searcher, &one)?
            .2
            .first()
            .map(|h| h.1))
    };
    let rank = offset + at;
    let prev = match rank.checked_sub(1) {
        Some(r) => addr_at(r)?,
        None => None,
    };
    let next = if rank + 1 < total {
        addr_at(rank + 1)?
    } else {
        None
    };
    let mut loader = crate::index::doc::Loader::new(&searcher, &index.fields);
    let allowed = req.allowed_lists.as_deref();
    let mut load = |addr: Option<DocAddress>| -> Result<Option<StoredMessage>, QueryError> {
        match addr {
            Some(a) => Ok(Some(loader.load(a)?.visible_to(allowed))),
            None => Ok(None),
        }
    };
    let (prev, next) = (load(prev)?, load(next)?);
    Ok(Some(Rank {
        rank,
        total,
        prev,
        next,
    }))
}

/// The keys (lowercased) of the messages of conversation `thread_id` that
/// `req`'s query matches, among those its viewer may read: a long thread
/// opened from a search unfolds them.
pub fn matches_in_thread(
    index: &MailIndex,
    req: &Request,
    thread_id: &str,
) -> Result<HashSet<String>, QueryError> {
    let searcher = index.reader.searcher();
    let thread_id = thread::resolve(index, thread_id)?;
    let term = Term::from_field_text(index.fields.thread, &thread_id);
    let within: Box<dyn Query> = Box::new(TermQuery::new(term, IndexRecordOption::Basic));
    let query = BooleanQuery::new(vec![(Occur::Must, req.plan(index)?), (Occur::Must, within)]);
    let found = searcher.search(&query, &DocSetCollector)?;
    let mut keys = ThreadColumns::of(&searcher, "key");
    let mut buf = String::new();
    let mut out = HashSet::with_capacity(found.len());
    for addr in found {
        if keys.read(addr, &mut buf)? {
            out.insert(lowercase_key(&buf));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::{first_line, window_start, OUTLINE_MAX};

    #[test]
    fn the_outline_window_holds_the_message_and_stays_inside_the_thread() {
        for len in [1, 5, OUTLINE_MAX, OUTLINE_MAX + 1, 1000] {
            for position in 0..len {
                let from = window_start(position, len);
                let to = (from + OUTLINE_MAX).min(len);
                assert!(from <= position && position < to, "{position} of {len}");
                assert_eq!(to - from, len.min(OUTLINE_MAX), "{position} of {len}");
            }
        }
        assert_eq!(window_start(500, 1000), 500 - OUTLINE_MAX / 2, "centred");
    }

    #[test]
    fn first_line_skips_blank_lines_and_greetings() {
        assert_eq!(
            first_line("\n\nHello,\n\nThe disk is full.\n"),
            "The disk is full."
        );
        assert_eq!(
            first_line("Thanks, that fixed it!\n"),
            "Thanks, that fixed it!"
        );
        assert_eq!(first_line("Hi all,"), "Hi all,");
        assert_eq!(
            first_line("Mon, 14 Apr 2025 13:07:05 +0100, Lena Hoffmann:\n\nI can reproduce it.\n"),
            "I can reproduce it."
        );
        assert_eq!(
            first_line("Hi Bob,\nOn 3 May, Ann wrote:\nIt works."),
            "It works."
        );
        assert_eq!(
            first_line("Steps:\n1. boot"),
            "Steps:",
            "no digit: not an attribution"
        );
        assert_eq!(first_line(""), "");
    }
}
