//! Conversations, decided at index time.
//!
//! A message's conversation is the connected component of every Message-ID it
//! names (References, In-Reply-To) and every message naming it (JWZ threading,
//! as notmuch and public-inbox do it): replies whose References name only their
//! parent, as HyperKitty, iPhone and Outlook write them, still join the
//! conversation of that parent. Mail that lost both headers joins by
//! normalised subject within its list and [`SUBJECT_WINDOW`], and only when one
//! side is a reply (`Re:`) and the subject is not generic.
//!
//! Each document carries its tokens (`tref`: its own id, the ids it names,
//! subject keys) and its conversation id (`thread`). A new message looks its
//! tokens up among the documents written since the last commit (a map here) and
//! the committed ones (postings). Found nothing: a new conversation, named by
//! the message's [`MailDoc::thread_key`]. Found one: it joins it, and the id
//! does not change, also when an earlier root arrives late. Found several: the
//! conversations merge into the largest; the others' documents are rewritten
//! (see `Writer`), and their old ids stay resolvable through the tokens (every
//! conversation id is a token of one of its messages), so anything keyed by
//! an old id ([`resolve`]) finds the conversation it is now part of.

use std::collections::{HashMap, HashSet};

use tantivy::columnar::StrColumn;
use tantivy::schema::IndexRecordOption;
use tantivy::{DocAddress, DocId, DocSet, Searcher, SegmentReader, Term, TERMINATED};

use super::analysis::lowercase_key;
use super::writer::first_live;
use super::Fields;
use crate::extract::MailDoc;

/// How far apart (seconds) a message that lost its threading headers may be
/// from the conversation it joins by subject.
pub const SUBJECT_WINDOW: i64 = 45 * 86_400;

/// Ids a message names, at most (kernel References can run to hundreds).
const MAX_IDS: usize = 64;

/// Candidates looked at for one subject key.
const MAX_SUBJECT_CANDIDATES: usize = 2_000;

/// Longest token indexed (tantivy's term limit is far above; ids beyond this
/// are junk).
const MAX_TOKEN: usize = 512;

/// Subjects that say nothing about what a conversation is about: never a
/// reason on their own to join two messages.
const GENERIC_SUBJECTS: &[&str] = &[
    "",
    "(no subject)",
    "no subject",
    "untitled",
    "help",
    "help!",
    "help needed",
    "need help",
    "question",
    "questions",
    "a question",
    "quick question",
    "hi",
    "hello",
    "hey",
    "test",
    "testing",
    "problem",
    "problems",
    "issue",
    "issues",
    "bug",
    "error",
    "query",
    "thanks",
    "thank you",
    "info",
    "information",
    "update",
    "urgent",
    "request",
    "fyi",
    "ping",
    "patch",
    "important",
    "meeting",
    "hilfe",
    "frage",
    "aide",
    "ayuda",
    "pregunta",
];

/// The threading tokens of one message.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tokens {
    /// Its own id (lowercased Message-ID, else the key), then the ids it names.
    pub ids: Vec<String>,
    /// Whether it names any other message.
    pub has_refs: bool,
    /// `list + subject` key, when it has a list and a subject that is not generic.
    pub subject: Option<String>,
    /// The same key when the message is a reply that names no other message.
    pub lost_reply: Option<String>,
    /// Whether the subject has a reply prefix.
    pub is_reply: bool,
    /// Date (0 unknown).
    pub date: i64,
}

impl Tokens {
    /// Every token to index in `tref`.
    pub fn all(&self) -> impl Iterator<Item = &str> {
        self.ids
            .iter()
            .map(String::as_str)
            .chain(self.subject.as_deref())
            .chain(self.lost_reply.as_deref())
    }
}

fn id_token(id: &str) -> Option<String> {
    let t = lowercase_key(id.trim().trim_start_matches('<').trim_end_matches('>'));
    (!t.is_empty() && t.len() <= MAX_TOKEN).then_some(t)
}

/// Is this normalised subject too generic to join messages by?
pub fn generic_subject(thread_subject: &str) -> bool {
    let s = thread_subject.trim();
    let alnum = s.chars().filter(|c| c.is_alphanumeric()).count();
    alnum < 3 || GENERIC_SUBJECTS.contains(&s)
}

/// The tokens of `doc`, keyed `key`.
pub fn tokens(doc: &MailDoc, key: &str) -> Tokens {
    let mut ids: Vec<String> = Vec::with_capacity(doc.references.len() + 2);
    let own = match &doc.message_id {
        Some(id) => id_token(id),
        None => id_token(key),
    };
    ids.extend(own);
    let named = doc
        .references
        .iter()
        .chain(doc.in_reply_to.iter())
        .filter_map(|r| id_token(r));
    let mut seen: HashSet<String> = ids.iter().cloned().collect();
    let mut has_refs = false;
    for r in named {
        if ids.len() >= MAX_IDS {
            break;
        }
        if seen.insert(r.clone()) {
            ids.push(r);
            has_refs = true;
        }
    }
    let is_reply = crate::extract::is_reply_subject(&doc.subject);
    let subject = match &doc.list {
        Some(list) if !generic_subject(&doc.thread_subject) => {
            let mut t = format!("\u{1}s {list}\u{1f}{}", doc.thread_subject);
            if t.len() > MAX_TOKEN {
                let mut end = MAX_TOKEN;
                while !t.is_char_boundary(end) {
                    end -= 1;
                }
                t.truncate(end);
            }
            Some(t)
        }
        _ => None,
    };
    let lost_reply = match &subject {
        Some(s) if is_reply && !has_refs => Some(s.replacen("\u{1}s ", "\u{1}r ", 1)),
        _ => None,
    };
    Tokens {
        ids,
        has_refs,
        subject,
        lost_reply,
        is_reply,
        date: doc.date.unwrap_or(0),
    }
}

/// What the writer must do to file a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// Join this conversation (existing or new).
    Join(String),
    /// Join `winner`; the documents of every conversation in `losers` move to it.
    Merge {
        /// The conversation kept.
        winner: String,
        /// Conversations merged into it.
        losers: Vec<String>,
    },
}

/// The writer's view of conversations written since the last commit.
#[derive(Debug, Default)]
pub struct Pending {
    /// Id token → conversation.
    tokens: HashMap<String, String>,
    /// Subject key → (date, conversation) of the messages holding it.
    subjects: HashMap<String, Vec<(i64, String)>>,
    /// Conversation → keys of the pending documents in it.
    members: HashMap<String, Vec<String>>,
    /// Conversations merged away since the last commit → where they went.
    renamed: HashMap<String, String>,
    /// Conversation ids read off committed segments (kept across commits).
    names: ThreadNames,
}

/// Conversation ids read off committed segments' `thread` columns, by
/// segment and term ordinal. Each read decompresses a block of the column's
/// dictionary (~20 µs); a message asks once per id it references and once
/// per candidate of its subject, so once an index held committed mail, half
/// of indexing went to decompressing the same few blocks again (1M generated
/// messages indexed onto a committed index ran at ~2,500 msgs/s). Replies
/// name recent conversations, so most asks repeat one. Segments are
/// immutable and their ids unique: an entry never goes stale.
#[derive(Debug, Default)]
struct ThreadNames {
    names: std::sync::Mutex<HashMap<(tantivy::index::SegmentId, u64), std::sync::Arc<str>>>,
    /// Each committed segment's `thread` and `date` columns, opened once:
    /// opening one reads its block table (thousands of blocks in a segment
    /// of a million messages), which had cost more than the lookup itself.
    columns: std::sync::Mutex<HashMap<tantivy::index::SegmentId, SegmentColumns>>,
}

/// A segment's columns the threading reads.
#[derive(Clone)]
struct SegmentColumns {
    thread: Option<StrColumn>,
    date: tantivy::columnar::Column<i64>,
}

impl std::fmt::Debug for SegmentColumns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SegmentColumns")
    }
}

/// Conversation ids kept at most (then all are forgotten and kept anew).
const MAX_THREAD_NAMES: usize = 1 << 18;

impl ThreadNames {
    /// `segment`'s columns, opened on first use.
    fn columns(&self, segment: &SegmentReader) -> tantivy::Result<SegmentColumns> {
        let id = segment.segment_id();
        if let Some(c) = self.columns.lock().ok().and_then(|m| m.get(&id).cloned()) {
            return Ok(c);
        }
        let fast = segment.fast_fields();
        let c = SegmentColumns {
            thread: fast.str("thread")?,
            date: fast.i64("date")?,
        };
        if let Ok(mut columns) = self.columns.lock() {
            // Segments merged away are never asked again: forget them all now and then.
            if columns.len() >= 1024 {
                columns.clear();
            }
            columns.insert(id, c.clone());
        }
        Ok(c)
    }

    /// The conversation stored for `doc` of `segment`.
    fn of(&self, segment: &SegmentReader, doc: DocId) -> tantivy::Result<Option<String>> {
        let columns = self.columns(segment)?;
        self.of_column(segment, columns.thread.as_ref(), doc)
    }

    /// Same, with the segment's `thread` column already opened.
    fn of_column(
        &self,
        segment: &SegmentReader,
        column: Option<&StrColumn>,
        doc: DocId,
    ) -> tantivy::Result<Option<String>> {
        let Some(col) = column else { return Ok(None) };
        let Some(ord) = col.term_ords(doc).next() else {
            return Ok(None);
        };
        let key = (segment.segment_id(), ord);
        if let Some(name) = self.names.lock().ok().and_then(|m| m.get(&key).cloned()) {
            return Ok(Some(name.to_string()));
        }
        let mut s = String::new();
        if !col.ord_to_str(ord, &mut s).map_err(io)? {
            return Ok(None);
        }
        if let Ok(mut names) = self.names.lock() {
            if names.len() >= MAX_THREAD_NAMES {
                names.clear();
            }
            names.insert(key, s.as_str().into());
        }
        Ok(Some(s))
    }
}

impl Pending {
    /// Forgets everything (after a commit, the committed index knows it).
    pub fn clear(&mut self) {
        // `names` stays: it describes committed segments, not pending mail.
        self.tokens.clear();
        self.subjects.clear();
        self.members.clear();
        self.renamed.clear();
    }

    fn current(&self, thread: &str) -> String {
        let mut t = thread;
        let mut hops = 0;
        while let Some(next) = self.renamed.get(t) {
            t = next;
            hops += 1;
            if hops > 64 {
                break;
            }
        }
        t.to_string()
    }

    /// Records a document written into `thread`.
    pub fn record(&mut self, key: &str, tokens: &Tokens, thread: &str) {
        for id in &tokens.ids {
            self.tokens.insert(id.clone(), thread.to_string());
        }
        for s in tokens.subject.iter().chain(tokens.lost_reply.iter()) {
            self.subjects
                .entry(s.clone())
                .or_default()
                .push((tokens.date, thread.to_string()));
        }
        self.members
            .entry(thread.to_string())
            .or_default()
            .push(key.to_string());
    }

    /// Records that `loser` now lives in `winner`; returns the keys of the
    /// pending documents that were in `loser`.
    pub fn rename(&mut self, loser: &str, winner: &str) -> Vec<String> {
        // Tokens and subject keys still naming `loser` are read through
        // `current`, which follows this rename: no need to rewrite them.
        self.renamed.insert(loser.to_string(), winner.to_string());
        self.members.remove(loser).unwrap_or_default()
    }

    fn pending_size(&self, thread: &str) -> usize {
        self.members.get(thread).map_or(0, Vec::len)
    }

    /// Decides where a message with `tokens` goes. `new_id` names a new
    /// conversation.
    pub fn resolve(
        &self,
        searcher: &Searcher,
        f: &Fields,
        tokens: &Tokens,
        new_id: &str,
    ) -> tantivy::Result<Resolution> {
        let mut found: Vec<String> = Vec::new();
        let push = |t: String, found: &mut Vec<String>| {
            let t = self.current(&t);
            if !found.contains(&t) {
                found.push(t);
            }
        };
        for id in &tokens.ids {
            if let Some(t) = self.tokens.get(id) {
                push(t.clone(), &mut found);
            } else if let Some(t) = self.committed_thread(searcher, f, id)? {
                push(t, &mut found);
            }
        }
        if found.is_empty() && !tokens.has_refs {
            // Lost headers: a reply joins the nearest conversation with its
            // subject; a first message joins replies that lost theirs.
            let key = if tokens.is_reply {
                tokens.subject.clone()
            } else {
                tokens
                    .subject
                    .as_ref()
                    .map(|s| s.replacen("\u{1}s ", "\u{1}r ", 1))
            };
            if let Some(key) = key {
                if let Some(t) = self.by_subject(searcher, f, &key, tokens.date)? {
                    push(t, &mut found);
                }
            }
        }
        match found.len() {
            0 => Ok(Resolution::Join(new_id.to_string())),
            1 => Ok(Resolution::Join(found.remove(0))),
            _ => {
                let mut sized: Vec<(usize, String)> = Vec::with_capacity(found.len());
                for t in found {
                    let n = committed_size(searcher, f, &t)? + self.pending_size(&t);
                    sized.push((n, t));
                }
                // Largest first; ties by id so the choice does not depend on
                // the order the tokens were looked up in.
                sized.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
                let winner = sized.remove(0).1;
                Ok(Resolution::Merge {
                    winner,
                    losers: sized.into_iter().map(|(_, t)| t).collect(),
                })
            }
        }
    }

    /// The conversation of the committed messages holding id token `token`.
    fn committed_thread(
        &self,
        searcher: &Searcher,
        f: &Fields,
        token: &str,
    ) -> tantivy::Result<Option<String>> {
        committed_thread_with(&self.names, searcher, f, token)
    }

    /// The conversation holding subject key `key` nearest in time to `date`,
    /// within [`SUBJECT_WINDOW`].
    fn by_subject(
        &self,
        searcher: &Searcher,
        f: &Fields,
        key: &str,
        date: i64,
    ) -> tantivy::Result<Option<String>> {
        let mut best: Option<(i64, String)> = None;
        let mut consider = |d: i64, t: String| {
            if date == 0 || d == 0 {
                return;
            }
            let gap = (d - date).abs();
            if gap <= SUBJECT_WINDOW && best.as_ref().is_none_or(|(g, _)| gap < *g) {
                best = Some((gap, t));
            }
        };
        for (d, t) in self.subjects.get(key).into_iter().flatten() {
            consider(*d, self.current(t));
        }
        let term = Term::from_field_text(f.tref, key);
        let mut looked = 0usize;
        for segment in searcher.segment_readers() {
            let inverted = segment.inverted_index(f.tref)?;
            let Some(mut postings) = inverted.read_postings(&term, IndexRecordOption::Basic)?
            else {
                continue;
            };
            let columns = self.names.columns(segment)?;
            let mut doc = postings.doc();
            while doc != TERMINATED && looked < MAX_SUBJECT_CANDIDATES {
                looked += 1;
                if !segment.is_deleted(doc) {
                    let d = columns.date.first(doc).unwrap_or(0);
                    if let Some(t) = self
                        .names
                        .of_column(segment, columns.thread.as_ref(), doc)?
                    {
                        consider(d, self.current(&t));
                    }
                }
                doc = postings.advance();
            }
        }
        Ok(best.map(|(_, t)| t))
    }
}

fn io(e: std::io::Error) -> tantivy::TantivyError {
    tantivy::TantivyError::from(e)
}

/// The conversation id stored for `doc` in a segment's `thread` column.
pub fn thread_of(column: Option<&StrColumn>, doc: DocId) -> tantivy::Result<Option<String>> {
    let Some(col) = column else { return Ok(None) };
    let Some(ord) = col.term_ords(doc).next() else {
        return Ok(None);
    };
    let mut s = String::new();
    Ok(col.ord_to_str(ord, &mut s).map_err(io)?.then_some(s))
}

/// The conversation of the committed messages holding id token `token`
/// (one ask: nothing kept).
fn committed_thread(
    searcher: &Searcher,
    f: &Fields,
    token: &str,
) -> tantivy::Result<Option<String>> {
    committed_thread_with(&ThreadNames::default(), searcher, f, token)
}

fn committed_thread_with(
    names: &ThreadNames,
    searcher: &Searcher,
    f: &Fields,
    token: &str,
) -> tantivy::Result<Option<String>> {
    let term = Term::from_field_text(f.tref, token);
    match first_live(searcher, &term)? {
        Some(addr) => names.of(searcher.segment_reader(addr.segment_ord), addr.doc_id),
        None => Ok(None),
    }
}

/// Live committed messages in conversation `thread`.
fn committed_size(searcher: &Searcher, f: &Fields, thread: &str) -> tantivy::Result<usize> {
    Ok(committed_members(searcher, f, thread)?.len())
}

/// Addresses of the live committed messages in conversation `thread`.
pub fn committed_members(
    searcher: &Searcher,
    f: &Fields,
    thread: &str,
) -> tantivy::Result<Vec<DocAddress>> {
    let term = Term::from_field_text(f.thread, thread);
    let mut out = Vec::new();
    for (ord, segment) in searcher.segment_readers().iter().enumerate() {
        let inverted = segment.inverted_index(f.thread)?;
        let Some(mut postings) = inverted.read_postings(&term, IndexRecordOption::Basic)? else {
            continue;
        };
        let mut doc = postings.doc();
        while doc != TERMINATED {
            if !segment.is_deleted(doc) {
                out.push(DocAddress::new(ord as u32, doc));
            }
            doc = postings.advance();
        }
    }
    Ok(out)
}

/// The conversation an id names today: `id` itself when some message is
/// filed under it, else the conversation of a message holding `id` as a
/// token (a Message-ID, or the id of a conversation since merged into
/// another). `None` when no message knows it.
pub fn resolve(searcher: &Searcher, f: &Fields, id: &str) -> tantivy::Result<Option<String>> {
    if first_live(searcher, &Term::from_field_text(f.thread, id))?.is_some() {
        return Ok(Some(id.to_string()));
    }
    match id_token(id) {
        Some(token) => committed_thread(searcher, f, &token),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(id: Option<&str>, refs: &[&str], subject: &str, list: Option<&str>) -> MailDoc {
        let mut d = crate::extract::extract(b"Subject: x\n\nbody\n", &Default::default())
            .expect("a message");
        d.message_id = id.map(str::to_string);
        d.references = refs.iter().map(|s| s.to_string()).collect();
        d.in_reply_to = None;
        d.subject = subject.to_string();
        d.thread_subject = subject
            .trim_start_matches("Re: ")
            .to_lowercase()
            .to_string();
        d.list = list.map(str::to_string);
        d
    }

    #[test]
    fn tokens_are_own_id_then_named_ids_lowercased_once() {
        let d = doc(
            Some("A@x"),
            &["R@x", "a@x", "P@x", "r@x"],
            "Re: disk full",
            Some("l"),
        );
        let t = tokens(&d, "<A@x>");
        assert_eq!(t.ids, vec!["a@x", "r@x", "p@x"]);
        assert!(t.has_refs && t.is_reply);
        assert_eq!(t.subject.as_deref(), Some("\u{1}s l\u{1f}disk full"));
        assert_eq!(t.lost_reply, None, "it names its parent");
    }

    #[test]
    fn a_reply_without_headers_gets_a_lost_reply_key_unless_generic() {
        let t = tokens(&doc(Some("b@x"), &[], "Re: disk full", Some("l")), "<b@x>");
        assert_eq!(t.lost_reply.as_deref(), Some("\u{1}r l\u{1f}disk full"));
        let g = tokens(&doc(Some("c@x"), &[], "Re: help", Some("l")), "<c@x>");
        assert_eq!((g.subject, g.lost_reply), (None, None));
        let nolist = tokens(&doc(Some("c@x"), &[], "Re: disk full", None), "<c@x>");
        assert_eq!(
            nolist.subject, None,
            "never joined by subject without a list"
        );
    }

    #[test]
    fn generic_subjects_are_known() {
        assert!(generic_subject("help"));
        assert!(generic_subject("ok"));
        assert!(!generic_subject("fetchmail dies on 501"));
    }
}
