//! The facts behind a review queue: every thread of some lists whose newest
//! message is older than a cutoff, with the signals that hint at lasting
//! value (length, participants, confirmed fixes, procedures, code, links,
//! later mail citing it, likeness to threads already promoted).
//!
//! One scan of fast fields over the lists' messages groups them by thread;
//! the same scan counts every author's replies per list, so answers by
//! people who answer often are known without configuration (see
//! [`super::resolution`], which also decides whether a question was answered
//! and confirmed); citations come from the `cites` postings; likeness from
//! tantivy's MoreLikeThis. Scoring the facts is the curation layer's business. Every
//! search and scan runs within the request's [`Budget`]: a queue someone
//! waits for gets the request deadline, the CLI's and retention's the job's.

use std::collections::{HashMap, HashSet};

use serde::Serialize;
use tantivy::collector::{Collector, DocSetCollector, SegmentCollector, TopDocs};
use tantivy::columnar::{Column, StrColumn};
use tantivy::query::{BooleanQuery, MoreLikeThisQuery, Occur, Query, TermQuery};
use tantivy::schema::{IndexRecordOption, OwnedValue, Value};
use tantivy::{
    DocAddress, DocId, DocSet, Score, SegmentOrdinal, SegmentReader, TantivyDocument, Term,
    TERMINATED,
};

use super::limits::Budget;
use super::resolution::{self, Course, Msg};
use super::{plan, visible, QueryError};
use crate::index::MailIndex;

/// Which date ages a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum AgeBasis {
    /// The message's Date (with its fallbacks).
    #[default]
    Date,
    /// When it reached the mail system (newest Received, else the mbox envelope).
    Arrival,
}

/// What to gather.
#[derive(Clone, Copy)]
pub struct HarvestRequest<'a> {
    /// Lists (exact ids, lowercase); empty: every list.
    pub lists: &'a [String],
    /// Only threads with at least one message matching this query.
    pub filter: Option<&'a str>,
    /// Threads whose newest message (by `basis`) is before this (unix seconds).
    pub cutoff: i64,
    /// Which date ages a message.
    pub basis: AgeBasis,
    /// Thread ids already promoted: other threads like them score higher.
    /// Only those with a message in `allowed_lists` count (the newest
    /// [`MAX_PROMOTED`] of them): a reviewer's queue never names, nor is
    /// scored by, a promoted thread the reviewer cannot see.
    pub promoted: &'a [String],
    /// "Now" for `older:`/`newer:` in `filter`.
    pub now: i64,
    /// Lists the caller may see (`None`: all). Every fact comes from these
    /// lists only: messages, the list shown, citing messages, promoted threads.
    pub allowed_lists: Option<&'a [String]>,
    /// Marks for `is:`/`cited:` in `filter`.
    pub marks: Option<&'a dyn super::Marks>,
    /// What the harvest may cost (its time above all).
    pub budget: &'a std::sync::Arc<Budget>,
}

/// One thread and its signals.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ThreadFacts {
    /// Thread key.
    pub thread_id: String,
    /// Subject of its first message (filled by [`describe`]).
    pub subject: String,
    /// Message-ID of its first message (filled by [`describe`]).
    pub first_message_id: String,
    /// Where its first message is, in the searcher the facts came from.
    #[serde(skip)]
    pub first_doc: Option<DocAddress>,
    /// The list most of its messages are on (of the requested lists the
    /// caller may see: a cross-posted message's other lists do not count).
    pub list: String,
    /// Date of its first message (unix seconds).
    pub first_date: i64,
    /// Its newest message's age date (by the basis).
    pub last_date: i64,
    /// Messages.
    pub messages: u32,
    /// Distinct senders.
    pub participants: u32,
    /// Phrases confirming a fix or a cause.
    pub confirm: u32,
    /// Procedural language.
    pub steps: u32,
    /// Lines of commands, code or configuration.
    pub code: u32,
    /// Links.
    pub links: u32,
    /// Messages in other threads citing one of its messages.
    pub cited_by: u32,
    /// Likeness (0..=1) to the most similar promoted thread.
    pub similarity: f32,
    /// That promoted thread.
    pub similar_to: Option<String>,
    /// How the conversation went: question, answer, confirmation, who
    /// answered, commands, pasted output, patches, documentation links.
    #[serde(flatten)]
    pub course: Course,
}

#[derive(Default, Clone)]
struct Agg {
    messages: u32,
    first_date: i64,
    first_doc: Option<DocAddress>,
    last_date: i64,
    senders: HashSet<String>,
    lists: HashMap<String, u32>,
    confirm: u32,
    steps: u32,
    code: u32,
    links: u32,
    msgs: Vec<Msg>,
}

impl Agg {
    fn absorb(&mut self, o: Agg) {
        if self.messages == 0 || (o.messages > 0 && o.first_date < self.first_date) {
            self.first_date = o.first_date;
            self.first_doc = o.first_doc;
        }
        self.messages += o.messages;
        self.last_date = self.last_date.max(o.last_date);
        self.senders.extend(o.senders);
        for (l, n) in o.lists {
            *self.lists.entry(l).or_default() += n;
        }
        self.confirm += o.confirm;
        self.steps += o.steps;
        self.code += o.code;
        self.links += o.links;
        self.msgs.extend(o.msgs);
    }
}

/// Fills in the subject and Message-ID of each thread's first message, read
/// through `searcher` (the one [`harvest`] used: document addresses belong to it).
pub fn describe(
    index: &MailIndex,
    searcher: &tantivy::Searcher,
    facts: &mut [ThreadFacts],
) -> Result<(), QueryError> {
    let f = &index.fields;
    for t in facts {
        let Some(addr) = t.first_doc else { continue };
        if !t.first_message_id.is_empty() || !t.subject.is_empty() {
            continue;
        }
        let doc: TantivyDocument = searcher.doc(addr)?;
        t.subject = doc
            .get_first(f.subject)
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_string();
        t.first_message_id = crate::index::doc::message_id_of(f, &doc);
    }
    Ok(())
}

/// Gathers the threads `req` describes, in no particular order, through
/// `searcher`. Subjects are left empty: [`describe`] the ones shown.
pub fn harvest(
    index: &MailIndex,
    searcher: &tantivy::Searcher,
    req: &HarvestRequest<'_>,
) -> Result<Vec<ThreadFacts>, QueryError> {
    let f = &index.fields;
    let lists_query = visible::restrict(f, lists_query(index, req.lists), req.allowed_lists);
    let collector = ThreadCollector {
        basis: req.basis,
        lists: shown_lists(req.lists, req.allowed_lists),
    };
    let budget = req.budget;
    let mut threads = budget.search(searcher, lists_query.as_ref(), &collector)?;
    // Replies per author and list over every thread scanned (due or not):
    // who answers often on a list is a fact of its archive.
    let mut answerers = resolution::Answerers::new();
    for a in threads.values_mut() {
        let list = main_list(a);
        resolution::count_replies(&list, &mut a.msgs, &mut answerers);
    }
    let totals = resolution::totals(&answerers);
    threads.retain(|_, a| a.last_date > 0 && a.last_date < req.cutoff);
    if let Some(filter) = req.filter.filter(|q| !q.trim().is_empty()) {
        let ast = plan::parse_limited(filter, budget.limits())?;
        let planned = plan::Planner::new(index, req.now)
            .with_marks(req.marks)
            .with_budget(budget.clone())
            .plan(&ast)?;
        let q = BooleanQuery::new(vec![
            (Occur::Must, planned),
            (Occur::Must, lists_query.box_clone()),
        ]);
        let matching = thread_ids_of(searcher, &budget.search(searcher, &q, &DocSetCollector)?)?;
        threads.retain(|t, _| matching.contains(t));
    }
    let cited = cited_by(index, searcher, req.allowed_lists, budget)?;
    // Likeness is an optional signal: if it fails (an error, or a panic
    // inside tantivy's scoring) the queue goes on without it.
    let likeness = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        likeness(index, searcher, req, lists_query.as_ref())
    })) {
        Ok(Ok(l)) => l,
        // Out of time is the harvest's failure, not a missing signal.
        Ok(Err(QueryError::Limit(l))) => return Err(l.into()),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "likeness to promoted threads failed; queue scored without it");
            HashMap::new()
        }
        Err(_) => {
            tracing::warn!("likeness to promoted threads panicked; queue scored without it");
            HashMap::new()
        }
    };
    let mut out = Vec::with_capacity(threads.len());
    for (thread_id, a) in threads {
        let list = main_list(&a);
        let course = resolution::course(&list, &a.msgs, &answerers, &totals);
        let (similarity, similar_to) = likeness
            .get(&thread_id)
            .map(|(s, t)| (*s, Some(t.clone())))
            .unwrap_or((0.0, None));
        out.push(ThreadFacts {
            cited_by: cited.get(&thread_id).copied().unwrap_or(0),
            subject: String::new(),
            first_message_id: String::new(),
            first_doc: a.first_doc,
            list,
            first_date: a.first_date,
            last_date: a.last_date,
            messages: a.messages,
            participants: a.senders.len() as u32,
            confirm: a.confirm,
            steps: a.steps,
            code: a.code,
            links: a.links,
            similarity,
            similar_to,
            thread_id,
            course,
        });
    }
    Ok(out)
}

/// The list most of a thread's messages are on.
fn main_list(a: &Agg) -> String {
    a.lists
        .iter()
        .max_by(|x, y| x.1.cmp(y.1).then_with(|| y.0.cmp(x.0)))
        .map(|(l, _)| l.clone())
        .unwrap_or_default()
}

/// The lists a thread may be shown under: the requested ones (all when
/// empty) that `allowed` grants; `None`: any.
fn shown_lists(lists: &[String], allowed: Option<&[String]>) -> Option<HashSet<String>> {
    let norm = |l: &String| l.trim().to_lowercase();
    match (lists.is_empty(), allowed) {
        (true, None) => None,
        (false, None) => Some(lists.iter().map(norm).collect()),
        (true, Some(a)) => Some(a.iter().map(norm).collect()),
        (false, Some(a)) => Some(
            lists
                .iter()
                .filter(|l| visible::is_visible(l.trim(), Some(a)))
                .map(norm)
                .collect(),
        ),
    }
}

fn lists_query(index: &MailIndex, lists: &[String]) -> Box<dyn Query> {
    if lists.is_empty() {
        return Box::new(tantivy::query::AllQuery);
    }
    Box::new(BooleanQuery::new(
        lists
            .iter()
            .map(|l| {
                let q: Box<dyn Query> = Box::new(TermQuery::new(
                    Term::from_field_text(index.fields.list, &l.trim().to_lowercase()),
                    IndexRecordOption::Basic,
                ));
                (Occur::Should, q)
            })
            .collect(),
    ))
}

fn thread_ids_of(
    searcher: &tantivy::Searcher,
    docs: &HashSet<DocAddress>,
) -> Result<HashSet<String>, QueryError> {
    let mut columns = super::thread::ThreadColumns::new(searcher);
    let mut out = HashSet::new();
    let mut buf = String::new();
    for addr in docs {
        if columns.read(*addr, &mut buf)? {
            out.insert(buf.clone());
        }
    }
    Ok(out)
}

/// For every thread: messages in *other* threads citing one of its messages
/// (only citing messages on a list of `allowed`: a count must not reveal mail
/// the caller cannot see).
fn cited_by(
    index: &MailIndex,
    searcher: &tantivy::Searcher,
    allowed: Option<&[String]>,
    budget: &Budget,
) -> Result<HashMap<String, u32>, QueryError> {
    let f = &index.fields;
    // cited Message-ID → threads of the messages citing it.
    let mut citing: HashMap<String, Vec<String>> = HashMap::new();
    for seg in searcher.segment_readers() {
        let inv = seg.inverted_index(f.cites)?;
        let Some(threads) = seg.fast_fields().str("thread")? else {
            continue;
        };
        let visible = SegmentLists::new(seg, allowed)?;
        let mut stream = inv.terms().stream().map_err(io)?;
        let mut buf = String::new();
        while stream.advance() {
            budget.check_time()?;
            let mid = String::from_utf8_lossy(stream.key()).into_owned();
            let mut postings = inv
                .read_postings_from_terminfo(stream.value(), IndexRecordOption::Basic)
                .map_err(io)?;
            let mut doc = postings.doc();
            while doc != TERMINATED {
                if !seg.is_deleted(doc) && visible.admits(doc) {
                    if let Some(ord) = threads.term_ords(doc).next() {
                        buf.clear();
                        if threads.ord_to_str(ord, &mut buf).map_err(io)? {
                            citing.entry(mid.clone()).or_default().push(buf.clone());
                        }
                    }
                }
                doc = postings.advance();
            }
        }
    }
    let mut out: HashMap<String, u32> = HashMap::new();
    for (mid, from_threads) in citing {
        budget.check_time()?;
        let Some(target) = thread_of_mid(index, searcher, &mid)? else {
            continue;
        };
        let n = from_threads.iter().filter(|t| **t != target).count() as u32;
        if n > 0 {
            *out.entry(target).or_default() += n;
        }
    }
    Ok(out)
}

/// Which documents of one segment are on a list of `allowed`, by the
/// ordinals of the `list` column.
enum SegmentLists {
    /// No restriction.
    All,
    /// Those with one of these ordinals.
    Ords(StrColumn, HashSet<u64>),
    /// None (the segment has no list column).
    Nothing,
}

impl SegmentLists {
    fn new(seg: &SegmentReader, allowed: Option<&[String]>) -> Result<Self, QueryError> {
        let Some(allowed) = allowed else {
            return Ok(SegmentLists::All);
        };
        let Some(col) = seg.fast_fields().str("list")? else {
            return Ok(SegmentLists::Nothing);
        };
        let mut ords = HashSet::new();
        for l in allowed {
            if let Some(o) = col
                .dictionary()
                .term_ord(l.trim().to_lowercase())
                .map_err(io)?
            {
                ords.insert(o);
            }
        }
        Ok(SegmentLists::Ords(col, ords))
    }

    fn admits(&self, doc: DocId) -> bool {
        match self {
            SegmentLists::All => true,
            SegmentLists::Ords(col, ords) => col.term_ords(doc).any(|o| ords.contains(&o)),
            SegmentLists::Nothing => false,
        }
    }
}

fn thread_of_mid(
    index: &MailIndex,
    searcher: &tantivy::Searcher,
    mid: &str,
) -> Result<Option<String>, QueryError> {
    for term in crate::index::doc::id_terms(&index.fields, mid) {
        for seg in searcher.segment_readers() {
            let Some(mut postings) = seg
                .inverted_index(term.field())?
                .read_postings(&term, IndexRecordOption::Basic)
                .map_err(io)?
            else {
                continue;
            };
            let Some(threads) = seg.fast_fields().str("thread")? else {
                continue;
            };
            let mut doc = postings.doc();
            while doc != TERMINATED {
                if !seg.is_deleted(doc) {
                    if let Some(ord) = threads.term_ords(doc).next() {
                        let mut buf = String::new();
                        if threads.ord_to_str(ord, &mut buf).map_err(io)? {
                            return Ok(Some(buf));
                        }
                    }
                }
                doc = postings.advance();
            }
        }
    }
    Ok(None)
}

/// Promoted threads compared with at most this many (the newest promotions).
const MAX_PROMOTED: usize = 25;
/// Candidates scored per promoted thread.
const LIKENESS_TOP: usize = 200;

/// For each thread like a promoted one: (likeness 0..=1, that promoted thread).
/// A promoted thread stands for itself by its oldest message the caller may
/// see; one without such a message is skipped as if it were not promoted, so
/// neither its id nor its words reach the caller's queue.
fn likeness(
    index: &MailIndex,
    searcher: &tantivy::Searcher,
    req: &HarvestRequest<'_>,
    within: &dyn Query,
) -> Result<HashMap<String, (f32, String)>, QueryError> {
    let f = &index.fields;
    let mut out: HashMap<String, (f32, String)> = HashMap::new();
    let mut compared = 0;
    for promoted in req.promoted.iter().rev() {
        if compared >= MAX_PROMOTED {
            break;
        }
        // The promoted thread's first visible message stands for it.
        let q = visible::restrict(
            f,
            Box::new(TermQuery::new(
                Term::from_field_text(f.thread, promoted),
                IndexRecordOption::Basic,
            )),
            req.allowed_lists,
        );
        let top = req.budget.search(
            searcher,
            q.as_ref(),
            &TopDocs::with_limit(1).order_by_fast_field::<i64>("date", tantivy::Order::Asc),
        )?;
        let Some((_, addr)) = top.first() else {
            continue;
        };
        compared += 1;
        let doc: TantivyDocument = searcher.doc(*addr)?;
        let get = |field| {
            doc.get_first(field)
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string()
        };
        let lang = get(f.lang);
        let mlt = MoreLikeThisQuery::builder()
            .with_min_doc_frequency(1)
            // Document frequencies count deleted documents (a duplicate
            // rewritten, a location removed) until segments merge, the
            // document count does not: a term found in more documents than
            // are live would make tantivy's idf assert. Such a term says
            // nothing about likeness anyway.
            .with_max_doc_frequency(searcher.num_docs())
            .with_min_term_frequency(1)
            .with_max_query_terms(30)
            .with_min_word_length(3)
            .with_document_fields(vec![
                (f.body_field_for(&lang), vec![OwnedValue::Str(get(f.text))]),
                (f.subject, vec![OwnedValue::Str(get(f.subject))]),
            ]);
        let q = BooleanQuery::new(vec![
            (Occur::Must, Box::new(mlt) as Box<dyn Query>),
            (Occur::Must, within.box_clone()),
            (
                Occur::MustNot,
                Box::new(TermQuery::new(
                    Term::from_field_text(f.thread, promoted),
                    IndexRecordOption::Basic,
                )),
            ),
        ]);
        let hits = req.budget.search(
            searcher,
            &q,
            &TopDocs::with_limit(LIKENESS_TOP).order_by_score(),
        )?;
        let Some(best) = hits.first().map(|(s, _)| *s).filter(|s| *s > 0.0) else {
            continue;
        };
        let addrs: Vec<DocAddress> = hits.iter().map(|(_, a)| *a).collect();
        for ((score, _), addr) in hits.iter().zip(addrs) {
            let set: HashSet<DocAddress> = [addr].into_iter().collect();
            for t in thread_ids_of(searcher, &set)? {
                let s = (score / best).clamp(0.0, 1.0);
                let e = out.entry(t).or_insert((0.0, promoted.clone()));
                if s > e.0 {
                    *e = (s, promoted.clone());
                }
            }
        }
    }
    Ok(out)
}

fn io(e: std::io::Error) -> QueryError {
    QueryError::from(tantivy::TantivyError::from(e))
}

/// A thread's aggregate in one segment, with sender and list ordinals, and
/// each message's signals with its sender's ordinal.
type ThreadOrds = (
    Agg,
    HashSet<u64>,
    HashMap<u64, u32>,
    Vec<(Option<u64>, Msg)>,
);

/// The per-message signal columns the scan reads, in the order `collect` uses them.
const SIGNAL_COLUMNS: [&str; 9] = [
    "sig_confirm",
    "sig_steps",
    "sig_code",
    "sig_links",
    "sig_question",
    "sig_machine",
    "sig_patch",
    "sig_doclinks",
    "sig_kind",
];

/// Groups the scanned messages by thread.
struct ThreadCollector {
    basis: AgeBasis,
    /// The lists a thread may be shown under (`None`: any).
    lists: Option<HashSet<String>>,
}

struct ThreadSegment {
    ord: SegmentOrdinal,
    threads: Option<StrColumn>,
    senders: Option<StrColumn>,
    lists: Option<StrColumn>,
    date: Column<i64>,
    age: Column<i64>,
    sig: Vec<Column<u64>>,
    shown: Option<HashSet<String>>,
    by_ord: HashMap<u64, ThreadOrds>,
}

impl Collector for ThreadCollector {
    type Fruit = HashMap<String, Agg>;
    type Child = ThreadSegment;

    fn for_segment(
        &self,
        ord: SegmentOrdinal,
        seg: &SegmentReader,
    ) -> tantivy::Result<ThreadSegment> {
        let ff = seg.fast_fields();
        let age_field = match self.basis {
            AgeBasis::Date => "date",
            AgeBasis::Arrival => "arrived",
        };
        Ok(ThreadSegment {
            ord,
            threads: ff.str("thread")?,
            senders: ff.str("from_addr")?,
            lists: ff.str("list")?,
            date: ff.i64("date")?,
            age: ff.i64(age_field)?,
            sig: SIGNAL_COLUMNS
                .iter()
                .map(|c| ff.u64(c))
                .collect::<tantivy::Result<_>>()?,
            shown: self.lists.clone(),
            by_ord: HashMap::new(),
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(
        &self,
        fruits: Vec<HashMap<String, Agg>>,
    ) -> tantivy::Result<HashMap<String, Agg>> {
        let mut all: HashMap<String, Agg> = HashMap::new();
        for fruit in fruits {
            for (t, a) in fruit {
                all.entry(t).or_default().absorb(a);
            }
        }
        Ok(all)
    }
}

fn first_ord(col: &Option<StrColumn>, doc: DocId) -> Option<u64> {
    col.as_ref().and_then(|c| c.term_ords(doc).next())
}

/// The strings of `ords` (any order, repeats allowed) in one sequential pass
/// over the column's dictionary: one lookup per ordinal would decompress a
/// dictionary block each time.
fn resolve(col: &Option<StrColumn>, mut ords: Vec<u64>) -> HashMap<u64, String> {
    let Some(col) = col else {
        return HashMap::new();
    };
    ords.sort_unstable();
    ords.dedup();
    let mut strings = Vec::with_capacity(ords.len());
    let found = col.dictionary().sorted_ords_to_term_cb(&ords, |bytes| {
        strings.push(String::from_utf8_lossy(bytes).into_owned());
    });
    if !matches!(found, Ok(true)) || strings.len() != ords.len() {
        return HashMap::new();
    }
    ords.into_iter().zip(strings).collect()
}

impl SegmentCollector for ThreadSegment {
    type Fruit = HashMap<String, Agg>;

    fn collect(&mut self, doc: DocId, _score: Score) {
        let Some(t) = first_ord(&self.threads, doc) else {
            return;
        };
        let date = self.date.first(doc).unwrap_or(0);
        let age = self.age.first(doc).filter(|a| *a > 0).unwrap_or(date);
        let sig = |i: usize| {
            self.sig
                .get(i)
                .and_then(|c| c.first(doc))
                .map_or(0, |v| u32::try_from(v).unwrap_or(u32::MAX))
        };
        let (confirm, steps, code, links) = (sig(0), sig(1), sig(2), sig(3));
        let msg = Msg {
            date,
            sender: String::new(),
            confirm,
            steps,
            code,
            question: sig(4),
            machine: sig(5),
            patch: sig(6),
            doc_links: sig(7),
            kind: sig(8),
        };
        let sender = first_ord(&self.senders, doc);
        // Every list of the message: which of them may be shown is decided
        // once the ordinals are names.
        let doc_lists: Vec<u64> = self
            .lists
            .as_ref()
            .map(|c| c.term_ords(doc).collect())
            .unwrap_or_default();
        let (a, senders, lists, msgs) = self.by_ord.entry(t).or_default();
        msgs.push((sender, msg));
        if a.messages == 0 || date < a.first_date {
            a.first_date = date;
            a.first_doc = Some(DocAddress::new(self.ord, doc));
        }
        a.messages += 1;
        a.last_date = a.last_date.max(age);
        a.confirm += confirm;
        a.steps += steps;
        a.code += code;
        a.links += links;
        if let Some(s) = sender {
            senders.insert(s);
        }
        for l in doc_lists {
            *lists.entry(l).or_default() += 1;
        }
    }

    fn harvest(self) -> HashMap<String, Agg> {
        let threads = resolve(&self.threads, self.by_ord.keys().copied().collect());
        let senders = resolve(
            &self.senders,
            self.by_ord
                .values()
                .flat_map(|(_, s, _, _)| s.iter().copied())
                .collect(),
        );
        let lists = resolve(
            &self.lists,
            self.by_ord
                .values()
                .flat_map(|(_, _, l, _)| l.keys().copied())
                .collect(),
        );
        let mut out = HashMap::with_capacity(self.by_ord.len());
        for (t, (mut a, s, l, msgs)) in self.by_ord {
            let Some(thread) = threads.get(&t) else {
                continue;
            };
            a.msgs = msgs
                .into_iter()
                .map(|(o, mut m)| {
                    if let Some(name) = o.and_then(|o| senders.get(&o)) {
                        m.sender = name.clone();
                    }
                    m
                })
                .collect();
            a.senders = s
                .into_iter()
                .filter_map(|o| senders.get(&o).cloned())
                .collect();
            a.lists = l
                .into_iter()
                .filter_map(|(o, n)| Some((lists.get(&o)?.clone(), n)))
                .filter(|(name, _)| self.shown.as_ref().is_none_or(|s| s.contains(name)))
                .collect();
            out.insert(thread.clone(), a);
        }
        out
    }
}
