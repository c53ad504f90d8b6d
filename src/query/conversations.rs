//! Search results grouped by conversation: every message a query matches,
//! counted per thread, the conversations ordered by their best message (by
//! relevance or date) and paged, each shown by that message with the
//! conversation's size, participants, first and last dates and title.
//! Totals are exact, of messages and of conversations. Like
//! [`super::search`], only within the caller's lists and the limits in force:
//! sizes, participants and dates count only messages the caller may read.
//!
//! The grouping reads no stored document: one collector pass takes each
//! match's thread ordinal from the `thread` fast column, per segment, keeping
//! a count and the best match per ordinal; ordinals become thread ids once per
//! segment, in dictionary order. Stored fields are read only for the page's
//! rows, and each row's thread is looked up (bounded) for its size,
//! participants and dates. It knows nothing of HTTP or the CLI.

use std::cmp::Ordering;
use std::time::Instant;

use rustc_hash::FxHashMap;
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::{Column, StrColumn};
use tantivy::query::TermQuery;
use tantivy::schema::IndexRecordOption;
use tantivy::{DocAddress, DocId, Score, Searcher, SegmentOrdinal, SegmentReader, Term};

use super::limits::{self, Budget};
use super::search::{Hit, Snippets};
use super::{visible, QueryError, Request, Sort};
use crate::index::doc::Loader;
use crate::index::MailIndex;

/// Participants named per conversation at most (the rest are counted).
pub const MAX_PARTICIPANTS: usize = 4;

/// One conversation with messages matching.
#[derive(Debug, Clone)]
pub struct Conversation {
    /// Its thread id.
    pub thread_id: String,
    /// Its messages that match.
    pub matching: usize,
    /// The best of them (first in the requested order), with a snippet.
    pub best: Hit,
    /// Its messages the caller may read.
    pub size: usize,
    /// Who wrote them (`Name <addr>`, the person behind a list's rewriting):
    /// who started it first, then by messages written; at most
    /// [`MAX_PARTICIPANTS`].
    pub participants: Vec<String>,
    /// How many people wrote in it.
    pub participants_total: usize,
    /// Date of its oldest readable message (unix seconds, 0 unknown).
    pub first_date: i64,
    /// Date of its newest readable message.
    pub last_date: i64,
    /// Its title: the oldest readable message's subject without list tags
    /// and reply prefixes.
    pub subject: String,
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
    /// Milliseconds taken.
    pub took_ms: f64,
}

/// Runs `req`, grouping its matches by conversation.
pub fn conversations(index: &MailIndex, req: &Request) -> Result<Conversations, QueryError> {
    let limits = limits::current();
    limits::check_page(req.offset, req.limit, &limits)?;
    let budget = std::sync::Arc::new(Budget::new(limits));
    let query = budget.wrap(req.plan_within(index, &budget)?);
    page_of(index, &query, &budget, req)
}

/// The `limit` conversations with the newest messages among the lists in
/// `allowed` (`None`: all), newest first: what the home page leads with.
pub fn recent(
    index: &MailIndex,
    allowed: Option<&[String]>,
    limit: usize,
) -> Result<Conversations, QueryError> {
    let budget = std::sync::Arc::new(Budget::new(limits::current()));
    let all = visible::restrict(&index.fields, Box::new(tantivy::query::AllQuery), allowed);
    let query = budget.wrap(all);
    let req = Request {
        limit,
        sort: Sort::Date,
        ..Request::new("").within(allowed)
    };
    page_of(index, &query, &budget, &req)
}

/// The page `req` asks for of `query`'s matches grouped by conversation.
fn page_of(
    index: &MailIndex,
    query: &limits::Deadline,
    budget: &Budget,
    req: &Request,
) -> Result<Conversations, QueryError> {
    let started = Instant::now();
    let searcher = index.reader.searcher();
    let groups = searcher.search(query, &Grouper { sort: req.sort })?;
    query.check()?;
    let total_messages = groups.iter().map(|(_, g)| g.count as usize).sum();
    let total = groups.len();
    let page = best_first(groups, req.offset, req.limit.max(1));
    let mut snippets = Snippets::new(index, &searcher, query);
    let mut loader = Loader::new(&searcher, &index.fields);
    let allowed = req.allowed_lists.as_deref();
    let mut out = Vec::with_capacity(page.len());
    for (thread, group) in page {
        budget.check_time()?;
        let addr = DocAddress::new(group.best.seg, group.best.doc);
        let message = loader.load(addr)?.visible_to(allowed);
        let snippet = snippets.make(&message);
        let score = match req.sort {
            Sort::Relevance => group.best.rank as f32,
            Sort::Date | Sort::Oldest => 0.0,
        };
        let best = Hit {
            message,
            score,
            snippet,
        };
        let about = match thread {
            Some(id) => about(index, &searcher, &mut loader, &id, allowed)?,
            None => None,
        };
        out.push(conversation(best, group.count as usize, about));
    }
    Ok(Conversations {
        total_messages,
        total,
        page: out,
        took_ms: started.elapsed().as_secs_f64() * 1000.0,
    })
}

/// A row from its best hit and what its thread lookup found (`None`: a
/// message without a thread, a conversation of its own).
fn conversation(best: Hit, matching: usize, about: Option<About>) -> Conversation {
    let m = &best.message;
    let about = about.unwrap_or_else(|| About {
        size: 1,
        participants: m.from.iter().take(1).cloned().collect(),
        participants_total: m.from.len().min(1),
        first_date: m.date,
        last_date: m.date,
        subject: m.subject.clone(),
    });
    Conversation {
        thread_id: m.thread_id.clone(),
        matching,
        size: about.size.max(matching),
        participants: about.participants,
        participants_total: about.participants_total,
        first_date: about.first_date,
        last_date: about.last_date,
        subject: crate::extract::bare_subject(&about.subject),
        best,
    }
}

/// The best match of a conversation so far.
#[derive(Debug, Clone, Copy)]
struct Best {
    /// Higher is better: the score, the date, or minus the date.
    rank: f64,
    seg: SegmentOrdinal,
    doc: DocId,
}

impl Best {
    /// Better rank first; the earlier address breaks ties (stable pages).
    fn cmp_rank(&self, other: &Best) -> Ordering {
        other
            .rank
            .total_cmp(&self.rank)
            .then((self.seg, self.doc).cmp(&(other.seg, other.doc)))
    }
}

/// A conversation's matches so far.
#[derive(Debug, Clone, Copy)]
struct Group {
    count: u32,
    best: Best,
}

impl Group {
    fn absorb(&mut self, other: Group) {
        self.count += other.count;
        if other.best.cmp_rank(&self.best) == Ordering::Less {
            self.best = other.best;
        }
    }
}

/// Conversations by thread id (`None`: a message without one).
type Groups = Vec<(Option<String>, Group)>;

/// Groups matches by the `thread` fast column.
struct Grouper {
    sort: Sort,
}

struct GroupSegment {
    seg: SegmentOrdinal,
    sort: Sort,
    threads: Option<StrColumn>,
    dates: Column<i64>,
    by_ord: FxHashMap<u64, Group>,
    loose: Vec<Group>,
}

impl Collector for Grouper {
    type Fruit = Groups;
    type Child = GroupSegment;

    fn for_segment(
        &self,
        seg: SegmentOrdinal,
        segment: &SegmentReader,
    ) -> tantivy::Result<GroupSegment> {
        let ff = segment.fast_fields();
        Ok(GroupSegment {
            seg,
            sort: self.sort,
            threads: ff.str("thread")?,
            dates: ff.i64("date")?,
            by_ord: FxHashMap::default(),
            loose: Vec::new(),
        })
    }

    fn requires_scoring(&self) -> bool {
        self.sort == Sort::Relevance
    }

    fn merge_fruits(&self, fruits: Vec<Result<Groups, String>>) -> tantivy::Result<Groups> {
        let mut merged: FxHashMap<String, Group> = FxHashMap::default();
        let mut out = Vec::new();
        for fruit in fruits {
            for (thread, group) in fruit.map_err(tantivy::TantivyError::InternalError)? {
                match thread {
                    Some(t) => match merged.entry(t) {
                        std::collections::hash_map::Entry::Occupied(mut e) => {
                            e.get_mut().absorb(group);
                        }
                        std::collections::hash_map::Entry::Vacant(e) => {
                            e.insert(group);
                        }
                    },
                    None => out.push((None, group)),
                }
            }
        }
        out.extend(merged.into_iter().map(|(t, g)| (Some(t), g)));
        Ok(out)
    }
}

impl SegmentCollector for GroupSegment {
    type Fruit = Result<Groups, String>;

    fn collect(&mut self, doc: DocId, score: Score) {
        let rank = match self.sort {
            Sort::Relevance => f64::from(score),
            Sort::Date => self.dates.first(doc).unwrap_or(0) as f64,
            Sort::Oldest => -(self.dates.first(doc).unwrap_or(0) as f64),
        };
        let group = Group {
            count: 1,
            best: Best {
                rank,
                seg: self.seg,
                doc,
            },
        };
        match self.threads.as_ref().and_then(|c| c.term_ords(doc).next()) {
            Some(ord) => {
                self.by_ord
                    .entry(ord)
                    .and_modify(|g| g.absorb(group))
                    .or_insert(group);
            }
            None => self.loose.push(group),
        }
    }

    fn harvest(self) -> Self::Fruit {
        let mut out: Groups = self.loose.into_iter().map(|g| (None, g)).collect();
        let Some(column) = self.threads else {
            return Ok(out);
        };
        // Ordinals to thread ids in dictionary order: each compressed block
        // of the dictionary is read once.
        let mut groups: Vec<(u64, Group)> = self.by_ord.into_iter().collect();
        groups.sort_unstable_by_key(|(ord, _)| *ord);
        let ords: Vec<u64> = groups.iter().map(|(ord, _)| *ord).collect();
        let mut ids = Vec::with_capacity(ords.len());
        column
            .dictionary()
            .sorted_ords_to_term_cb(&ords, |bytes| {
                ids.push(String::from_utf8_lossy(bytes).into_owned());
            })
            .map_err(|e| e.to_string())?;
        out.extend(
            ids.into_iter()
                .map(Some)
                .zip(groups.into_iter().map(|(_, g)| g)),
        );
        Ok(out)
    }
}

/// The `limit` conversations after `offset` in rank order.
fn best_first(mut groups: Groups, offset: usize, limit: usize) -> Groups {
    let cmp =
        |a: &(Option<String>, Group), b: &(Option<String>, Group)| a.1.best.cmp_rank(&b.1.best);
    let wanted = offset.saturating_add(limit);
    if wanted < groups.len() {
        groups.select_nth_unstable_by(wanted, cmp);
        groups.truncate(wanted);
    }
    groups.sort_unstable_by(cmp);
    groups.into_iter().skip(offset).collect()
}

/// What a conversation's readable messages say about it.
struct About {
    size: usize,
    participants: Vec<String>,
    participants_total: usize,
    first_date: i64,
    last_date: i64,
    subject: String,
}

/// One message of a thread, from the fast columns only.
struct Member {
    date: i64,
    addr: DocAddress,
    author: Option<String>,
}

/// Looks thread `id` up among the messages `allowed` lets the caller read:
/// its size and dates from the fast columns, and stored fields for its
/// oldest message and each named participant's first message only.
fn about(
    index: &MailIndex,
    searcher: &Searcher,
    loader: &mut Loader<'_>,
    id: &str,
    allowed: Option<&[String]>,
) -> Result<Option<About>, QueryError> {
    let term = Term::from_field_text(index.fields.thread, id);
    let query = visible::restrict(
        &index.fields,
        Box::new(TermQuery::new(term, IndexRecordOption::Basic)),
        allowed,
    );
    let mut members = searcher.search(query.as_ref(), &Members)?;
    if members.is_empty() {
        return Ok(None);
    }
    members.sort_by_key(|m| (m.date, m.addr.segment_ord, m.addr.doc_id));
    let dated = members.iter().filter(|m| m.date > 0);
    let first_date = dated.clone().map(|m| m.date).min().unwrap_or(0);
    let last_date = dated.map(|m| m.date).max().unwrap_or(0);
    // Authors: (messages written, first message), in order of appearance.
    let mut authors: Vec<(&str, usize, DocAddress)> = Vec::new();
    let mut seen: FxHashMap<&str, usize> = FxHashMap::default();
    for m in &members {
        let Some(a) = m.author.as_deref() else {
            continue;
        };
        match seen.get(a) {
            Some(&i) => authors[i].1 += 1,
            None => {
                seen.insert(a, authors.len());
                authors.push((a, 1, m.addr));
            }
        }
    }
    let participants_total = authors.len();
    // Whoever started it, then the most prolific (earlier first on ties).
    if authors.len() > 1 {
        authors[1..].sort_by_key(|a| std::cmp::Reverse(a.1));
    }
    let oldest = loader.load(members[0].addr)?;
    // One person writing from two addresses is named once (and counted once).
    let mut participants: Vec<String> = Vec::new();
    let mut names: Vec<String> = Vec::new();
    let mut same_person = 0;
    for (_, _, addr) in authors.iter().take(MAX_PARTICIPANTS * 2) {
        if participants.len() == MAX_PARTICIPANTS {
            break;
        }
        let author = if *addr == members[0].addr {
            oldest.from.first().cloned()
        } else {
            loader.load(*addr)?.from.into_iter().next()
        };
        let Some(author) = author else { continue };
        let name = person(&author);
        if names.contains(&name) {
            same_person += 1;
        } else {
            names.push(name);
            participants.push(author);
        }
    }
    Ok(Some(About {
        size: members.len(),
        participants,
        participants_total: participants_total - same_person,
        first_date,
        last_date,
        subject: oldest.subject,
    }))
}

/// Who `Name <addr>` is, for telling people apart: the name folded to
/// lowercase, or the address when there is no name.
fn person(author: &str) -> String {
    name_of(author).to_lowercase()
}

/// `Jane Doe` of `Jane Doe <jane@example.org>`; the address when there is
/// no name.
pub fn name_of(author: &str) -> &str {
    match author.split_once(" <") {
        Some((name, _)) if !name.trim().is_empty() => name.trim().trim_matches('"'),
        _ => author.trim_matches(['<', '>']),
    }
}

/// Every document of a query with its date and author address.
struct Members;

struct MembersSegment {
    seg: SegmentOrdinal,
    dates: Column<i64>,
    authors: Option<StrColumn>,
    found: Vec<(DocId, i64, Option<u64>)>,
}

impl Collector for Members {
    type Fruit = Vec<Member>;
    type Child = MembersSegment;

    fn for_segment(
        &self,
        seg: SegmentOrdinal,
        segment: &SegmentReader,
    ) -> tantivy::Result<MembersSegment> {
        let ff = segment.fast_fields();
        Ok(MembersSegment {
            seg,
            dates: ff.i64("date")?,
            authors: ff.str("from_addr")?,
            found: Vec::new(),
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<Vec<Member>>) -> tantivy::Result<Vec<Member>> {
        Ok(fruits.into_iter().flatten().collect())
    }
}

impl SegmentCollector for MembersSegment {
    type Fruit = Vec<Member>;

    fn collect(&mut self, doc: DocId, _score: Score) {
        let author = self.authors.as_ref().and_then(|c| c.term_ords(doc).next());
        self.found
            .push((doc, self.dates.first(doc).unwrap_or(0), author));
    }

    fn harvest(self) -> Vec<Member> {
        let mut buf = String::new();
        let mut names: FxHashMap<u64, Option<String>> = FxHashMap::default();
        let authors = self.authors;
        self.found
            .into_iter()
            .map(|(doc, date, ord)| Member {
                date,
                addr: DocAddress::new(self.seg, doc),
                author: ord.and_then(|ord| {
                    let col = authors.as_ref()?;
                    names
                        .entry(ord)
                        .or_insert_with(|| {
                            buf.clear();
                            matches!(col.ord_to_str(ord, &mut buf), Ok(true)).then(|| buf.clone())
                        })
                        .clone()
                }),
            })
            .collect()
    }
}
