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
//! a count and the best match per ordinal (a map, then a table by ordinal
//! once many threads match); ordinals become 64-bit hashes of the thread ids
//! through a per-segment table built once and kept (segments never change),
//! so merging segments allocates nothing. Stored fields are read only for the
//! page's rows; their conversations are looked up in one search (fast
//! columns: size, dates, authors), and a participant's name is read from a
//! document only when neither the page nor a cache of names by (address,
//! list) knows it. It knows nothing of HTTP or the CLI.

use std::cmp::Ordering;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use rustc_hash::FxHashMap;
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::{Column, StrColumn};
use tantivy::query::TermSetQuery;
use tantivy::{DocAddress, DocId, Score, Searcher, SegmentOrdinal, SegmentReader, Term};

use super::facets::{FacetCollector, FacetCounts, Facets};
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
    /// Its title: the best message's subject without list tags and reply
    /// prefixes (read with the row anyway; the thread's first subject would
    /// cost a document read per row).
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
    let (budget, query) = req.plan_page(index)?;
    Ok(page_of(index, &query, &budget, req, None)?.0)
}

/// [`conversations`] and the [`Facets`] of every matching message from the
/// same plan and collector pass, as `/api/search?group=thread` answers.
pub fn conversations_with_facets(
    index: &MailIndex,
    req: &Request,
) -> Result<(Conversations, Facets), QueryError> {
    let (budget, query) = req.plan_page(index)?;
    let (page, counts) = page_of(index, &query, &budget, req, Some(FacetCollector))?;
    Ok((page, counts.unwrap_or_default().into_facets(req)))
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
    Ok(page_of(index, &query, &budget, &req, None)?.0)
}

/// The page `req` asks for of `query`'s matches grouped by conversation.
fn page_of(
    index: &MailIndex,
    query: &limits::Deadline,
    budget: &Budget,
    req: &Request,
    facets: Option<FacetCollector>,
) -> Result<(Conversations, Option<FacetCounts>), QueryError> {
    let started = Instant::now();
    let searcher = index.reader.searcher();
    let (groups, counts) = searcher.search(query, &(Grouper { sort: req.sort }, facets))?;
    query.check()?;
    let total_messages = groups.iter().map(|(_, g)| g.count as usize).sum();
    let total = groups.len();
    let page = best_first(groups, req.offset, req.limit.max(1));
    let mut snippets = Snippets::new(index, &searcher, query);
    let mut loader = Loader::new(&searcher, &index.fields);
    let allowed = req.allowed_lists.as_deref();
    let mut rows = Vec::with_capacity(page.len());
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
        rows.push((thread.is_some(), best, group.count as usize));
    }
    // Every row's conversation in one lookup.
    let ids: Vec<&str> = rows
        .iter()
        .filter(|(threaded, best, _)| *threaded && !best.message.thread_id.is_empty())
        .map(|(_, best, _)| best.message.thread_id.as_str())
        .collect();
    // Authors already loaded need no second read for their names.
    let mut known: FxHashMap<u64, String> = FxHashMap::default();
    for (_, best, _) in &rows {
        if let Some(a) = best.message.from.first() {
            known.insert(address_hash(a), a.clone());
        }
    }
    let mut abouts = about_all(index, &searcher, &mut loader, &ids, allowed, &mut known)?;
    let out = rows
        .into_iter()
        .map(|(threaded, best, matching)| {
            let about = if threaded {
                abouts.remove(&thread_hash(best.message.thread_id.as_bytes()))
            } else {
                None
            };
            conversation(best, matching, about)
        })
        .collect();
    let page = Conversations {
        total_messages,
        total,
        page: out,
        took_ms: started.elapsed().as_secs_f64() * 1000.0,
    };
    Ok((page, counts))
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
    });
    Conversation {
        thread_id: m.thread_id.clone(),
        matching,
        size: about.size.max(matching),
        participants: about.participants,
        participants_total: about.participants_total,
        first_date: about.first_date,
        last_date: about.last_date,
        subject: crate::extract::bare_subject(&m.subject),
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
    /// No match yet (a slot of the dense table).
    const EMPTY: Group = Group {
        count: 0,
        best: Best {
            rank: f64::NEG_INFINITY,
            seg: u32::MAX,
            doc: u32::MAX,
        },
    };

    fn absorb(&mut self, other: Group) {
        self.count += other.count;
        if other.best.cmp_rank(&self.best) == Ordering::Less {
            self.best = other.best;
        }
    }
}

/// Conversations by a 64-bit hash of their thread id (`None`: a message
/// without one). Hashes keep the merge of segments free of allocations; the
/// page's rows take their ids from their best message. Two of a million
/// conversations share a hash with odds of about 1 in 30 million.
type Groups = Vec<(Option<u64>, Group)>;

fn thread_hash(id: &[u8]) -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = rustc_hash::FxBuildHasher.build_hasher();
    h.write(id);
    // FxHash alone mixes short inputs weakly: finish with a 64-bit mixer.
    let mut x = h.finish() ^ (id.len() as u64).rotate_left(32);
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^ (x >> 33)
}

/// Groups matches by the `thread` fast column.
struct Grouper {
    sort: Sort,
}

struct GroupSegment {
    seg: SegmentOrdinal,
    sort: Sort,
    threads: Option<StrColumn>,
    /// The hash of each thread ordinal's id.
    hashes: Arc<Vec<u64>>,
    /// The thread column's ordinals (read per match)...
    ords: Option<Column<u64>>,
    /// ...directly when every document has one (the common case).
    full: Option<Arc<dyn tantivy::columnar::ColumnValues<u64>>>,
    dates: Column<i64>,
    /// Groups by ordinal while few of the segment's threads have matches...
    by_ord: FxHashMap<u64, Group>,
    /// ...then a table indexed by ordinal (empty until then).
    dense: Vec<Group>,
    loose: Vec<Group>,
}

impl GroupSegment {
    fn add(&mut self, ord: u64, group: Group) {
        if let Some(g) = self.dense.get_mut(ord as usize) {
            g.absorb(group);
            return;
        }
        self.by_ord
            .entry(ord)
            .and_modify(|g| g.absorb(group))
            .or_insert(group);
        // Past one thread in eight, a table is smaller and faster than a map.
        let terms = self.threads.as_ref().map_or(0, |t| t.num_terms());
        if self.by_ord.len() * 8 > terms && self.dense.is_empty() && terms > 0 {
            self.dense = vec![Group::EMPTY; terms];
            for (o, g) in self.by_ord.drain() {
                if let Some(slot) = self.dense.get_mut(o as usize) {
                    *slot = g;
                }
            }
        }
    }
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
        let threads = ff.str("thread")?;
        let hashes = match &threads {
            Some(t) => term_hashes(segment, "thread", t)?,
            None => Arc::default(),
        };
        Ok(GroupSegment {
            seg,
            sort: self.sort,
            hashes,
            ords: threads.as_ref().map(|t| t.ords().clone()),
            full: threads
                .as_ref()
                .filter(|t| matches!(t.ords().index, tantivy::columnar::ColumnIndex::Full))
                .map(|t| t.ords().values.clone()),
            threads,
            dates: ff.i64("date")?,
            by_ord: FxHashMap::default(),
            dense: Vec::new(),
            loose: Vec::new(),
        })
    }

    fn requires_scoring(&self) -> bool {
        self.sort == Sort::Relevance
    }

    fn merge_fruits(&self, fruits: Vec<Result<Groups, String>>) -> tantivy::Result<Groups> {
        let mut merged: FxHashMap<u64, Group> = FxHashMap::default();
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
        let ord = match &self.full {
            Some(values) => Some(values.get_val(doc)),
            None => self.ords.as_ref().and_then(|c| c.first(doc)),
        };
        match ord {
            Some(ord) => self.add(ord, group),
            None => self.loose.push(group),
        }
    }

    fn harvest(self) -> Self::Fruit {
        let mut out: Groups = self.loose.into_iter().map(|g| (None, g)).collect();
        let groups: Vec<(u64, Group)> = if self.dense.is_empty() {
            self.by_ord.into_iter().collect()
        } else {
            (0u64..)
                .zip(self.dense)
                .filter(|(_, g)| g.count > 0)
                .collect()
        };
        for (ord, g) in groups {
            let hash = self
                .hashes
                .get(ord as usize)
                .ok_or_else(|| format!("thread ordinal {ord} past the dictionary"))?;
            out.push((Some(*hash), g));
        }
        Ok(out)
    }
}

/// Segments whose thread hashes are kept, at most (a searcher has a few
/// dozen; older ones are merged away).
const MAX_CACHED_SEGMENTS: usize = 768;

/// The hash of every value of `segment`'s fast text column `field`
/// (`thread`, `from_addr`, `list`), by ordinal: read once per segment
/// (segments never change) and kept, so grouping never looks a value up in a
/// dictionary per query.
fn term_hashes(
    segment: &SegmentReader,
    field: &'static str,
    column: &StrColumn,
) -> tantivy::Result<Arc<Vec<u64>>> {
    type Cache = Mutex<FxHashMap<(tantivy::index::SegmentId, &'static str), Arc<Vec<u64>>>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let cache = CACHE.get_or_init(Cache::default);
    let key = (segment.segment_id(), field);
    if let Some(h) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
        return Ok(h.clone());
    }
    let mut hashes = Vec::with_capacity(column.num_terms());
    let mut stream = column.dictionary().stream()?;
    while stream.advance() {
        hashes.push(thread_hash(stream.key()));
    }
    let hashes = Arc::new(hashes);
    let mut cached = cache.lock().unwrap_or_else(|e| e.into_inner());
    if cached.len() >= MAX_CACHED_SEGMENTS {
        cached.clear();
    }
    cached.insert(key, hashes.clone());
    Ok(hashes)
}

/// The `limit` conversations after `offset` in rank order.
fn best_first(mut groups: Groups, offset: usize, limit: usize) -> Groups {
    let cmp = |a: &(Option<u64>, Group), b: &(Option<u64>, Group)| a.1.best.cmp_rank(&b.1.best);
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
}

/// One message of a thread, from the fast columns only.
struct Member {
    /// Hashes (see [`thread_hash`]) of its thread id, author address and first list.
    thread: u64,
    author: Option<u64>,
    list: Option<u64>,
    date: i64,
    addr: DocAddress,
}

/// What each of the conversations `ids` holds among the messages `allowed`
/// lets the caller read, in one search for all of them, keyed by the hash of
/// the thread id: sizes, dates and authors from the fast columns; a stored
/// document only for a named participant whose name is not known yet.
fn about_all(
    index: &MailIndex,
    searcher: &Searcher,
    loader: &mut Loader<'_>,
    ids: &[&str],
    allowed: Option<&[String]>,
    known: &mut FxHashMap<u64, String>,
) -> Result<FxHashMap<u64, About>, QueryError> {
    let mut out = FxHashMap::default();
    if ids.is_empty() {
        return Ok(out);
    }
    let terms = ids
        .iter()
        .map(|id| Term::from_field_text(index.fields.thread, id));
    let query = visible::restrict(&index.fields, Box::new(TermSetQuery::new(terms)), allowed);
    let mut by_thread: FxHashMap<u64, Vec<Member>> = FxHashMap::default();
    for m in searcher.search(query.as_ref(), &Members)? {
        by_thread.entry(m.thread).or_default().push(m);
    }
    for (thread, members) in by_thread {
        if let Some(about) = about(loader, members, known, allowed)? {
            out.insert(thread, about);
        }
    }
    Ok(out)
}

/// What one conversation's readable `members` say about it.
fn about(
    loader: &mut Loader<'_>,
    mut members: Vec<Member>,
    known: &mut FxHashMap<u64, String>,
    allowed: Option<&[String]>,
) -> Result<Option<About>, QueryError> {
    if members.is_empty() {
        return Ok(None);
    }
    members.sort_by_key(|m| (m.date, m.addr.segment_ord, m.addr.doc_id));
    let dated = members.iter().filter(|m| m.date > 0);
    let first_date = dated.clone().map(|m| m.date).min().unwrap_or(0);
    let last_date = dated.map(|m| m.date).max().unwrap_or(0);
    // Authors: (messages written, first message), in order of appearance.
    let mut authors: Vec<(u64, usize, &Member)> = Vec::new();
    let mut seen: FxHashMap<u64, usize> = FxHashMap::default();
    for m in &members {
        let Some(a) = m.author else {
            continue;
        };
        match seen.get(&a) {
            Some(&i) => authors[i].1 += 1,
            None => {
                seen.insert(a, authors.len());
                authors.push((a, 1, m));
            }
        }
    }
    let participants_total = authors.len();
    // Whoever started it, then the most prolific (earlier first on ties).
    if authors.len() > 1 {
        authors[1..].sort_by_key(|a| std::cmp::Reverse(a.1));
    }
    // One person writing from two addresses is named once (and counted once).
    let mut participants: Vec<String> = Vec::new();
    let mut names: Vec<String> = Vec::new();
    let mut same_person = 0;
    for (bare, _, m) in authors.iter().take(MAX_PARTICIPANTS * 2) {
        if participants.len() == MAX_PARTICIPANTS {
            break;
        }
        let author = match known.get(bare) {
            Some(a) => Some(a.clone()),
            None => match cached_name(*bare, m.list, allowed) {
                Some(a) => Some(a),
                None => {
                    let a = loader.load(m.addr)?.from.into_iter().next();
                    if let Some(a) = &a {
                        known.insert(address_hash(a), a.clone());
                        remember_name(*bare, m.list, a);
                    }
                    a
                }
            },
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
    }))
}

/// Names people sign with, by (address, list), learnt from the messages
/// conversations load: most participants are named without reading a
/// document. Keyed by list, and used only for a list the caller may read,
/// so no name is learnt from a list they cannot.
type NameCache = Mutex<FxHashMap<(u64, u64), String>>;

/// Names kept at most (cleared when full).
const MAX_CACHED_NAMES: usize = 100_000;

fn names() -> &'static NameCache {
    static NAMES: OnceLock<NameCache> = OnceLock::new();
    NAMES.get_or_init(NameCache::default)
}

fn cached_name(addr: u64, list: Option<u64>, allowed: Option<&[String]>) -> Option<String> {
    let list = list?;
    let readable = match allowed {
        None => true,
        Some(a) => a
            .iter()
            .any(|l| thread_hash(l.to_lowercase().as_bytes()) == list),
    };
    if !readable {
        return None;
    }
    names()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&(addr, list))
        .cloned()
}

fn remember_name(addr: u64, list: Option<u64>, author: &str) {
    let Some(list) = list else { return };
    let mut cache = names().lock().unwrap_or_else(|e| e.into_inner());
    if cache.len() >= MAX_CACHED_NAMES {
        cache.clear();
    }
    cache.insert((addr, list), author.to_string());
}

/// [`thread_hash`] of the bare address of `Name <addr>`, as the `from_addr`
/// column holds it.
fn address_hash(author: &str) -> u64 {
    thread_hash(address_of(author).as_bytes())
}

/// The bare address of `Name <addr>`, lowercased (as the `from_addr` column
/// holds it).
fn address_of(author: &str) -> String {
    let inner = author
        .rsplit_once('<')
        .and_then(|(_, rest)| rest.split_once('>'))
        .map_or(author, |(a, _)| a);
    inner.trim().to_lowercase()
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

/// A fast text column's ordinals and the hash of each ordinal's value.
type Hashed = Option<(Column<u64>, Arc<Vec<u64>>)>;

struct MembersSegment {
    seg: SegmentOrdinal,
    dates: Column<i64>,
    /// (ordinals, hashes by ordinal) of `from_addr`, `thread` and `list`.
    columns: [Hashed; 3],
    found: Vec<Member>,
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
        let column = |field: &'static str| -> tantivy::Result<Hashed> {
            match ff.str(field)? {
                Some(c) => Ok(Some((c.ords().clone(), term_hashes(segment, field, &c)?))),
                None => Ok(None),
            }
        };
        Ok(MembersSegment {
            seg,
            dates: ff.i64("date")?,
            columns: [column("from_addr")?, column("thread")?, column("list")?],
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
        let hash = |c: &Hashed| {
            let (ords, hashes) = c.as_ref()?;
            hashes.get(ords.first(doc)? as usize).copied()
        };
        let [author, thread, list] = &self.columns;
        let Some(thread) = hash(thread) else { return };
        self.found.push(Member {
            thread,
            author: hash(author),
            list: hash(list),
            date: self.dates.first(doc).unwrap_or(0),
            addr: DocAddress::new(self.seg, doc),
        });
    }

    fn harvest(self) -> Vec<Member> {
        self.found
    }
}
