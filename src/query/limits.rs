//! Bounds on the work one search may cause, so no query — from the CLI, the
//! JSON API or the Solr endpoint — can take the server's memory or time:
//! the query's length, its clauses, how many index terms its prefixes expand
//! to (and their postings), the page it asks for, and a deadline.
//!
//! The limits come from `[limits]` in the configuration ([`set`] at start-up;
//! [`current`] otherwise gives the defaults). The planner charges prefix
//! expansions to a [`Budget`]; a search runs its query inside [`Deadline`],
//! which stops scoring when time is up and reports it ([`Budget::search`]).
//! A request someone waits for gets [`Budget::new`] (`deadline_ms`); a long
//! job — an archive run, a whole review queue or export from the CLI, the
//! streaming of an export — gets [`Budget::for_job`] (`job_deadline_ms`):
//! longer, never unbounded. Knows nothing of HTTP.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use tantivy::collector::Collector;
use tantivy::query::{EnableScoring, Explanation, Query, Scorer, Weight};
use tantivy::{DocId, DocSet, Score, Searcher, SegmentReader, Term, TERMINATED};

use super::grammar::Query as Ast;

/// `[limits]`: what one search may cost. Every limit has a default.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Longest query text, in bytes (default 4096).
    pub max_query_bytes: usize,
    /// Most clauses (terms, operators, filters: nodes of the parsed query) (default 256).
    pub max_clauses: usize,
    /// Most index terms all the query's prefixes (`word*`) may expand to,
    /// counted per segment and field (default 20000).
    pub max_expansions: u64,
    /// Most postings (documents) of those expanded terms together (default 20000000).
    pub max_expansion_postings: u64,
    /// Most hits skipped by a page (`offset`) (default 10000).
    pub max_offset: usize,
    /// Most hits in one page (`limit`) (default 10000).
    pub max_hits: usize,
    /// Time one search may take, in milliseconds (default 10000).
    pub deadline_ms: u64,
    /// Time a long job's queries may take together, in milliseconds: an
    /// archive run's plan, a review queue built for the CLI or for
    /// retention, an export's reading of the mail (default 3600000).
    pub job_deadline_ms: u64,
    /// Threads one search may use to visit the index's segments (tantivy's
    /// multi-thread executor; default 1: every search on the thread that
    /// asked). More divides a broad query's latency on an idle server by up
    /// to the number of cores (docs/SCALING.md, "More cores").
    pub search_threads: usize,
}

impl Limits {
    /// The defaults.
    pub const DEFAULT: Limits = Limits {
        max_query_bytes: 4096,
        max_clauses: 256,
        max_expansions: 20_000,
        max_expansion_postings: 20_000_000,
        max_offset: 10_000,
        max_hits: 10_000,
        deadline_ms: 10_000,
        job_deadline_ms: 3_600_000,
        search_threads: 1,
    };

    /// The deadline as a duration.
    pub fn deadline(&self) -> Duration {
        Duration::from_millis(self.deadline_ms)
    }

    /// The long jobs' deadline as a duration.
    pub fn job_deadline(&self) -> Duration {
        Duration::from_millis(self.job_deadline_ms)
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}

static CURRENT: RwLock<Limits> = RwLock::new(Limits::DEFAULT);

/// Sets the limits every later search uses (from `[limits]`, at start-up).
pub fn set(limits: Limits) {
    match CURRENT.write() {
        Ok(mut g) => *g = limits,
        Err(poisoned) => *poisoned.into_inner() = limits,
    }
}

/// The limits in force.
pub fn current() -> Limits {
    match CURRENT.read() {
        Ok(g) => g.clone(),
        Err(poisoned) => poisoned.into_inner().clone(),
    }
}

/// Which limit a query ran into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Limit {
    /// [`Limits::max_query_bytes`].
    QueryBytes,
    /// [`Limits::max_clauses`].
    Clauses,
    /// [`Limits::max_expansions`].
    Expansions,
    /// [`Limits::max_expansion_postings`].
    ExpansionPostings,
    /// [`Limits::max_offset`].
    Offset,
    /// [`Limits::max_hits`].
    Hits,
    /// [`Limits::deadline_ms`].
    Deadline,
    /// [`Limits::job_deadline_ms`].
    JobDeadline,
}

impl Limit {
    /// The setting's name in `[limits]`.
    pub fn name(self) -> &'static str {
        match self {
            Limit::QueryBytes => "max_query_bytes",
            Limit::Clauses => "max_clauses",
            Limit::Expansions => "max_expansions",
            Limit::ExpansionPostings => "max_expansion_postings",
            Limit::Offset => "max_offset",
            Limit::Hits => "max_hits",
            Limit::Deadline => "deadline_ms",
            Limit::JobDeadline => "job_deadline_ms",
        }
    }

    /// Is this a deadline (time ran out: load, not the query's fault alone)?
    pub fn is_deadline(self) -> bool {
        matches!(self, Limit::Deadline | Limit::JobDeadline)
    }
}

/// A query refused (or stopped) by a limit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (limit {} = {value})", limit.name())]
pub struct LimitExceeded {
    /// Which limit.
    pub limit: Limit,
    /// The limit's value.
    pub value: u64,
    /// What was too much, in the user's terms.
    pub message: String,
}

impl LimitExceeded {
    fn new(limit: Limit, value: impl TryInto<u64>, message: impl Into<String>) -> Self {
        LimitExceeded {
            limit,
            value: value.try_into().unwrap_or(u64::MAX),
            message: message.into(),
        }
    }
}

/// Refuses query text longer than the limit, before it is parsed.
pub fn check_text(text: &str, limits: &Limits) -> Result<(), LimitExceeded> {
    if text.len() > limits.max_query_bytes {
        return Err(LimitExceeded::new(
            Limit::QueryBytes,
            limits.max_query_bytes,
            format!("the query is {} bytes long", text.len()),
        ));
    }
    Ok(())
}

/// The number of nodes of a parsed query.
pub fn clauses(ast: &Ast) -> usize {
    match ast {
        Ast::And(items) | Ast::Or(items) => {
            1usize.saturating_add(items.iter().map(clauses).fold(0, usize::saturating_add))
        }
        Ast::Not(inner) => clauses(inner).saturating_add(1),
        _ => 1,
    }
}

/// Refuses a parsed query with more clauses than the limit.
pub fn check_clauses(ast: &Ast, limits: &Limits) -> Result<(), LimitExceeded> {
    check_count(clauses(ast), limits)
}

/// Refuses `n` clauses when that is more than the limit.
pub fn check_count(n: usize, limits: &Limits) -> Result<(), LimitExceeded> {
    if n > limits.max_clauses {
        return Err(LimitExceeded::new(
            Limit::Clauses,
            limits.max_clauses,
            format!("the query has {n} clauses"),
        ));
    }
    Ok(())
}

/// Refuses a page beyond the limits (and one whose end overflows).
pub fn check_page(offset: usize, limit: usize, limits: &Limits) -> Result<(), LimitExceeded> {
    if offset > limits.max_offset {
        return Err(LimitExceeded::new(
            Limit::Offset,
            limits.max_offset,
            format!("offset {offset} is too large"),
        ));
    }
    if limit > limits.max_hits || offset.checked_add(limit).is_none() {
        return Err(LimitExceeded::new(
            Limit::Hits,
            limits.max_hits,
            format!("limit {limit} is too large"),
        ));
    }
    Ok(())
}

/// What the prefixes of one query have used so far, and when time is up.
#[derive(Debug)]
pub struct Budget {
    limits: Limits,
    deadline: Instant,
    /// Which deadline it is ([`Limit::Deadline`] or [`Limit::JobDeadline`]).
    clock: Limit,
    terms: AtomicU64,
    postings: AtomicU64,
}

/// A bounded search failed: a limit, or the index.
#[derive(Debug, thiserror::Error)]
pub enum Bounded {
    /// A limit stopped it.
    #[error(transparent)]
    Limit(#[from] LimitExceeded),
    /// The index failed.
    #[error(transparent)]
    Index(#[from] tantivy::TantivyError),
}

impl Budget {
    /// A fresh budget for a request someone waits for: `deadline_ms` from now.
    pub fn new(limits: Limits) -> Budget {
        let deadline = Instant::now() + limits.deadline();
        Budget::until(limits, deadline, Limit::Deadline)
    }

    /// A fresh budget for a long job: `job_deadline_ms` from now.
    pub fn for_job(limits: Limits) -> Budget {
        let deadline = Instant::now() + limits.job_deadline();
        Budget::until(limits, deadline, Limit::JobDeadline)
    }

    /// A request's budget with the limits in force, shared.
    pub fn interactive() -> Arc<Budget> {
        Arc::new(Budget::new(current()))
    }

    /// A long job's budget with the limits in force, shared.
    pub fn job() -> Arc<Budget> {
        Arc::new(Budget::for_job(current()))
    }

    fn until(limits: Limits, deadline: Instant, clock: Limit) -> Budget {
        Budget {
            limits,
            deadline,
            clock,
            terms: AtomicU64::new(0),
            postings: AtomicU64::new(0),
        }
    }

    /// `query` stopped at this budget's deadline.
    pub fn wrap(&self, query: Box<dyn Query>) -> Deadline {
        Deadline {
            inner: Arc::new(query),
            at: self.deadline,
            expired: Arc::new(AtomicBool::new(false)),
            error: self.deadline_error(),
        }
    }

    /// Runs `query` with `collector` until the deadline: fails (never a
    /// partial answer) when time was up before, during or after it.
    pub fn search<C: Collector>(
        &self,
        searcher: &Searcher,
        query: &dyn Query,
        collector: &C,
    ) -> Result<C::Fruit, Bounded> {
        self.check_time()?;
        let bounded = self.wrap(query.box_clone());
        let fruit = searcher.search(&bounded, collector)?;
        bounded.check()?;
        self.check_time()?;
        Ok(fruit)
    }

    fn deadline_error(&self) -> LimitExceeded {
        match self.clock {
            Limit::JobDeadline => LimitExceeded::new(
                Limit::JobDeadline,
                self.limits.job_deadline_ms,
                "the job took too long",
            ),
            _ => deadline_error(&self.limits),
        }
    }

    /// The limits it charges against.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// When the search must stop.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Fails once the deadline has passed.
    pub fn check_time(&self) -> Result<(), LimitExceeded> {
        if Instant::now() >= self.deadline {
            return Err(self.deadline_error());
        }
        Ok(())
    }

    /// Charges one expanded term with `doc_freq` postings.
    pub fn charge(&self, doc_freq: u64, prefix: &str) -> Result<(), LimitExceeded> {
        let terms = self.terms.fetch_add(1, Ordering::Relaxed).saturating_add(1);
        if terms > self.limits.max_expansions {
            return Err(LimitExceeded::new(
                Limit::Expansions,
                self.limits.max_expansions,
                format!("'{prefix}*' matches too many words; type more of the word"),
            ));
        }
        let postings = self
            .postings
            .fetch_add(doc_freq, Ordering::Relaxed)
            .saturating_add(doc_freq);
        if postings > self.limits.max_expansion_postings {
            return Err(LimitExceeded::new(
                Limit::ExpansionPostings,
                self.limits.max_expansion_postings,
                format!("'{prefix}*' matches words in too many messages; type more of the word"),
            ));
        }
        Ok(())
    }
}

fn deadline_error(limits: &Limits) -> LimitExceeded {
    LimitExceeded::new(
        Limit::Deadline,
        limits.deadline_ms,
        "the search took too long; make it narrower",
    )
}

/// A query that stops matching when the deadline passes, and remembers that
/// it did ([`Deadline::expired`]): a search that finds it expired must fail,
/// never answer with the partial counts.
/// Made by [`Budget::wrap`].
#[derive(Clone, Debug)]
pub struct Deadline {
    inner: Arc<Box<dyn Query>>,
    at: Instant,
    expired: Arc<AtomicBool>,
    error: LimitExceeded,
}

impl Deadline {
    /// Did the deadline pass while the query ran?
    pub fn expired(&self) -> bool {
        self.expired.load(Ordering::Relaxed)
    }

    /// `Err` (naming the budget's deadline) if it passed while the query ran.
    pub fn check(&self) -> Result<(), LimitExceeded> {
        if self.expired() {
            return Err(self.error.clone());
        }
        Ok(())
    }
}

impl Query for Deadline {
    fn weight(&self, enable_scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        Ok(Box::new(DeadlineWeight {
            inner: self.inner.weight(enable_scoring)?,
            at: self.at,
            expired: self.expired.clone(),
        }))
    }

    fn query_terms<'a>(&'a self, visitor: &mut dyn FnMut(&'a Term, bool)) {
        self.inner.query_terms(visitor)
    }
}

struct DeadlineWeight {
    inner: Box<dyn Weight>,
    at: Instant,
    expired: Arc<AtomicBool>,
}

impl DeadlineWeight {
    fn late(&self) -> bool {
        if Instant::now() >= self.at {
            self.expired.store(true, Ordering::Relaxed);
        }
        self.expired.load(Ordering::Relaxed)
    }
}

impl Weight for DeadlineWeight {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        if self.late() {
            return Ok(Box::new(tantivy::query::EmptyScorer));
        }
        Ok(Box::new(DeadlineScorer {
            inner: self.inner.scorer(reader, boost)?,
            at: self.at,
            expired: self.expired.clone(),
            steps: 0,
            stopped: false,
        }))
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        self.inner.explain(reader, doc)
    }
}

/// Documents between two looks at the clock.
const CLOCK_EVERY: u32 = 4096;

struct DeadlineScorer {
    inner: Box<dyn Scorer>,
    at: Instant,
    expired: Arc<AtomicBool>,
    steps: u32,
    stopped: bool,
}

impl DeadlineScorer {
    fn tick(&mut self) -> bool {
        self.steps = self.steps.wrapping_add(1);
        if self.steps.is_multiple_of(CLOCK_EVERY)
            && (self.expired.load(Ordering::Relaxed) || Instant::now() >= self.at)
        {
            self.expired.store(true, Ordering::Relaxed);
            self.stopped = true;
        }
        self.stopped
    }
}

impl DocSet for DeadlineScorer {
    fn advance(&mut self) -> DocId {
        if self.tick() {
            return TERMINATED;
        }
        self.inner.advance()
    }

    fn seek(&mut self, target: DocId) -> DocId {
        if self.tick() {
            return TERMINATED;
        }
        self.inner.seek(target)
    }

    fn doc(&self) -> DocId {
        if self.stopped {
            TERMINATED
        } else {
            self.inner.doc()
        }
    }

    fn size_hint(&self) -> u32 {
        self.inner.size_hint()
    }
}

impl Scorer for DeadlineScorer {
    fn score(&mut self) -> Score {
        self.inner.score()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::grammar;

    #[test]
    fn text_and_clauses_are_bounded() {
        let limits = Limits {
            max_query_bytes: 10,
            max_clauses: 3,
            ..Limits::default()
        };
        assert!(check_text("0123456789", &limits).is_ok());
        let e = check_text("0123456789a", &limits).expect_err("too long");
        assert_eq!(e.limit, Limit::QueryBytes);
        let ast = grammar::parse("a b").expect("parses");
        assert_eq!(clauses(&ast), 3);
        assert!(check_clauses(&ast, &limits).is_ok());
        let ast = grammar::parse("a OR b OR -c").expect("parses");
        assert_eq!(clauses(&ast), 5);
        let e = check_clauses(&ast, &limits).expect_err("too many");
        assert_eq!(e.limit, Limit::Clauses);
        assert!(e.to_string().contains("max_clauses"), "{e}");
    }

    #[test]
    fn pages_are_bounded_and_never_overflow() {
        let l = Limits::default();
        assert!(check_page(0, 20, &l).is_ok());
        assert_eq!(
            check_page(usize::MAX, 20, &l).map_err(|e| e.limit),
            Err(Limit::Offset)
        );
        assert_eq!(
            check_page(0, usize::MAX, &l).map_err(|e| e.limit),
            Err(Limit::Hits)
        );
    }

    #[test]
    fn the_budget_counts_terms_and_postings() {
        let b = Budget::new(Limits {
            max_expansions: 2,
            max_expansion_postings: 100,
            ..Limits::default()
        });
        assert!(b.charge(10, "a").is_ok());
        assert!(b.charge(10, "a").is_ok());
        assert_eq!(
            b.charge(1, "a").map_err(|e| e.limit),
            Err(Limit::Expansions)
        );
        let b = Budget::new(Limits {
            max_expansion_postings: 100,
            ..Limits::default()
        });
        assert!(b.charge(60, "a").is_ok());
        assert_eq!(
            b.charge(60, "a").map_err(|e| e.limit),
            Err(Limit::ExpansionPostings)
        );
        let late = Budget::new(Limits {
            deadline_ms: 0,
            ..Limits::default()
        });
        assert_eq!(late.check_time().map_err(|e| e.limit), Err(Limit::Deadline));
        let job = Budget::for_job(Limits {
            deadline_ms: 0,
            job_deadline_ms: 0,
            ..Limits::default()
        });
        let e = job.check_time().expect_err("late");
        assert_eq!(e.limit, Limit::JobDeadline);
        assert!(e.to_string().contains("job_deadline_ms"), "{e}");
        assert!(Budget::for_job(Limits {
            deadline_ms: 0,
            ..Limits::default()
        })
        .check_time()
        .is_ok());
    }
}
