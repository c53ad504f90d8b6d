//! A policy's review queue: its threads scored and ordered, joined with the
//! decisions made so far, with progress per list and per year.
//!
//! Harvesting and scoring are cached per policy and viewer until the index
//! changes (a new searcher generation), a day passes (the cutoff moves) or a
//! thread is promoted (likeness changes); decisions are joined on every call.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;

use super::decisions::{Decision, Recorded};
use super::score::{score, Contribution};
use super::{CurateError, Curation, ReviewPolicy};
use crate::index::MailIndex;
use crate::query::answer::Basis;
use crate::query::facets::year_month;
use crate::query::harvest::{describe, harvest, HarvestRequest, ThreadFacts};
use crate::query::limits::Budget;

type Scored = (
    Arc<Vec<(ThreadFacts, f64, Vec<Contribution>)>>,
    tantivy::Searcher,
    i64,
    bool,
);

/// One thread in a queue.
#[derive(Debug, Clone, Serialize)]
pub struct QueueItem {
    /// The thread and its signals.
    #[serde(flatten)]
    pub facts: ThreadFacts,
    /// The harvest score (the sum of `explain`'s points).
    pub score: f64,
    /// Why it scored so.
    pub explain: Vec<Contribution>,
    /// The decision made, if any.
    pub decision: Option<Recorded>,
    /// The Message-ID of the message a promotion cites ([`QueueOptions::answers`]).
    pub answer_message_id: Option<String>,
    /// That message and why it was proposed.
    pub answer: Option<ProposedAnswer>,
}

/// The message a promotion of a thread cites, as a reviewer checks it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ProposedAnswer {
    /// Message-ID.
    pub message_id: String,
    /// Subject.
    pub subject: String,
    /// Author (`Name <addr>`).
    pub from: String,
    /// Date (unix seconds).
    pub date: i64,
    /// Why this one ("confirmed by the asker on 2019-06-03", "best-scored reply", …).
    pub why: String,
    /// The same reason as data: for a confirmation, the confirming message,
    /// its author, date and the confirming sentence verbatim.
    pub basis: Basis,
}

impl ProposedAnswer {
    /// The proposal for thread `thread_id` among the messages `allowed` lists show.
    pub fn of(
        index: &MailIndex,
        thread_id: &str,
        allowed: Option<&[String]>,
    ) -> Result<Option<ProposedAnswer>, CurateError> {
        let found = crate::query::answer::answer(index, thread_id, allowed)?;
        Ok(found.map(|a| ProposedAnswer {
            why: a.basis.why(),
            basis: a.basis,
            message_id: a.message.message_id,
            subject: a.message.subject,
            from: a.message.from.into_iter().next().unwrap_or_default(),
            date: a.message.date,
        }))
    }
}

/// Done and total for one list or year.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Bar {
    /// The list id or the year.
    pub key: String,
    /// Threads decided.
    pub done: usize,
    /// Threads in the queue.
    pub total: usize,
}

/// How far a queue has been triaged.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, Default)]
pub struct Progress {
    /// Threads in the queue.
    pub total: usize,
    /// Threads decided.
    pub done: usize,
    /// Promoted.
    pub promote: usize,
    /// Kept.
    pub keep: usize,
    /// Dismissed.
    pub dismiss: usize,
    /// Per list, largest first.
    pub by_list: Vec<Bar>,
    /// Per year of the thread's last message, oldest first.
    pub by_year: Vec<Bar>,
}

/// Which part of a queue to return.
#[derive(Debug, Clone, Default)]
pub struct QueueOptions {
    /// Items to skip.
    pub offset: usize,
    /// Items to return (0: all).
    pub limit: usize,
    /// Also return decided threads (default: only undecided ones).
    pub include_decided: bool,
    /// Only threads of this list.
    pub list: Option<String>,
    /// Only threads whose last message is in this year.
    pub year: Option<i32>,
    /// Propose each item's answering message ([`QueueItem::answer`]): a
    /// read of each thread shown, so pages for people, not whole queues.
    pub answers: bool,
}

/// A page of a queue.
#[derive(Debug, Clone, Serialize)]
pub struct Queue {
    /// The policy.
    pub policy: ReviewPolicy,
    /// Threads whose newest message is before this are in the queue (unix seconds).
    pub cutoff: i64,
    /// Items matching the options (before paging).
    pub matching: usize,
    /// The page.
    pub items: Vec<QueueItem>,
    /// Progress of the whole queue.
    pub progress: Progress,
    /// Milliseconds spent (harvest and scoring when not cached).
    pub took_ms: u64,
    /// Whether harvesting was answered from the cache.
    pub cached: bool,
    /// What the score means ([`super::score::SCALE`]).
    pub scale: &'static str,
}

/// Who asks for a queue, when, and what it may cost.
#[derive(Clone, Copy)]
pub struct Asked<'a> {
    /// The lists the viewer may see (`None`: all).
    pub allowed: Option<&'a [String]>,
    /// "Now" (unix seconds): the cutoff and relative dates.
    pub now: i64,
    /// The budget harvesting runs within: [`Budget::interactive`] for a
    /// request, [`Budget::job`] for the CLI and retention.
    pub budget: &'a Arc<Budget>,
}

/// What the cache keeps per policy and viewer.
pub(crate) struct Cached {
    promoted: Vec<String>,
    searcher: tantivy::Searcher,
    generation: u64,
    cutoff_day: i64,
    items: Arc<Vec<(ThreadFacts, f64, Vec<Contribution>)>>,
}

/// The lists of `policy` as the index names them: each name resolved as
/// `list:` reads it (see [`crate::query::lists`]); a name of several lists
/// fails the queue, naming them.
fn policy_lists(index: &MailIndex, policy: &ReviewPolicy) -> Result<Vec<String>, CurateError> {
    Ok(crate::query::lists::resolve_names(index, &policy.lists)?.lists)
}

fn year_of(secs: i64) -> i32 {
    year_month(secs).0
}

impl Curation {
    pub(crate) fn forget_queue(&self, policy: &str) {
        let prefix = format!("{policy}\0");
        lock(&self.cache).retain(|k, _| !k.starts_with(&prefix));
    }

    /// The scored threads of `policy`, from the cache when the index and the
    /// day are the same — and the promoted threads too, unless `stale_likeness_ok`
    /// (progress does not depend on likeness, so a promotion need not wait
    /// for the queue to be re-scored). Harvesting runs within `budget`.
    fn scored(
        &self,
        index: &MailIndex,
        policy: &ReviewPolicy,
        asked: &Asked<'_>,
        stale_likeness_ok: bool,
    ) -> Result<Scored, CurateError> {
        let Asked {
            allowed,
            now,
            budget,
        } = *asked;
        let cutoff = policy.cutoff(now)?;
        let searcher = index.reader.searcher();
        let generation = searcher.generation().generation_id();
        let key = format!("{}\0{:?}", policy.name, allowed);
        // Only promoted threads the viewer can see: one they cannot see must
        // change nothing they can observe (not the items, their explanations,
        // nor whether the answer came from the cache).
        let mut promoted = Vec::new();
        for t in self.promoted_threads()? {
            let t = crate::query::thread::resolve(index, &t)?;
            if promoted.contains(&t) {
                continue;
            }
            if allowed.is_none()
                || crate::query::thread::first_message(index, &t, allowed)?.is_some()
            {
                promoted.push(t);
            }
        }
        if let Some(c) = lock(&self.cache).get(&key) {
            if c.generation == generation
                && c.cutoff_day == cutoff.div_euclid(86_400)
                && (stale_likeness_ok || c.promoted == promoted)
            {
                return Ok((c.items.clone(), c.searcher.clone(), cutoff, true));
            }
        }
        let lists = policy_lists(index, policy)?;
        let facts = harvest(
            index,
            &searcher,
            &HarvestRequest {
                lists: &lists,
                filter: policy.query.as_deref(),
                cutoff,
                basis: policy.age_basis,
                promoted: &promoted,
                now,
                allowed_lists: allowed,
                marks: Some(self),
                budget,
            },
        )?;
        let mut items: Vec<(ThreadFacts, f64, Vec<Contribution>)> = facts
            .into_iter()
            .map(|f| {
                let (s, parts) = score(&f);
                (f, s, parts)
            })
            .collect();
        items.sort_by(|a, b| {
            b.1.total_cmp(&a.1)
                .then(a.0.last_date.cmp(&b.0.last_date))
                .then_with(|| a.0.thread_id.cmp(&b.0.thread_id))
        });
        let items = Arc::new(items);
        lock(&self.cache).insert(
            key,
            Cached {
                promoted,
                searcher: searcher.clone(),
                generation,
                cutoff_day: cutoff.div_euclid(86_400),
                items: items.clone(),
            },
        );
        Ok((items, searcher, cutoff, false))
    }

    /// The queue of `policy` as `allowed` (the viewer's lists) may see it,
    /// harvested within `budget` (a request's, or a long job's).
    pub fn queue(
        &self,
        index: &MailIndex,
        policy: &str,
        opts: &QueueOptions,
        asked: &Asked<'_>,
    ) -> Result<Queue, CurateError> {
        let started = Instant::now();
        let policy = self.policy(policy)?;
        let (scored, searcher, cutoff, cached) = self.scored(index, &policy, asked, false)?;
        let decisions = self.current_decisions(index, &policy.name, &scored)?;
        let progress = progress_of(&scored, &decisions);
        let mut matching = 0;
        let mut items = Vec::new();
        for (facts, s, explain) in scored.iter() {
            let decision = decisions.get(&facts.thread_id);
            if decision.is_some() && !opts.include_decided {
                continue;
            }
            if opts.list.as_deref().is_some_and(|l| l != facts.list) {
                continue;
            }
            if opts.year.is_some_and(|y| y != year_of(facts.last_date)) {
                continue;
            }
            matching += 1;
            if matching <= opts.offset || (opts.limit > 0 && items.len() >= opts.limit) {
                continue;
            }
            items.push(QueueItem {
                facts: facts.clone(),
                score: *s,
                explain: explain.clone(),
                decision: decision.cloned(),
                answer_message_id: None,
                answer: None,
            });
        }
        let mut facts: Vec<ThreadFacts> = items.iter().map(|i| i.facts.clone()).collect();
        describe(index, &searcher, &mut facts)?;
        for (item, f) in items.iter_mut().zip(facts) {
            item.facts = f;
            if opts.answers {
                item.answer = ProposedAnswer::of(index, &item.facts.thread_id, asked.allowed)?;
                item.answer_message_id = item.answer.as_ref().map(|a| a.message_id.clone());
                if let Some(a) = &item.answer {
                    add_evidence(&mut item.explain, a);
                }
            }
        }
        Ok(Queue {
            policy,
            cutoff,
            matching,
            items,
            progress,
            took_ms: started.elapsed().as_millis() as u64,
            cached,
            scale: super::score::SCALE,
        })
    }

    /// Progress of a queue (cheap when the queue is cached).
    pub fn progress(
        &self,
        index: &MailIndex,
        policy: &str,
        asked: &Asked<'_>,
    ) -> Result<Progress, CurateError> {
        let policy = self.policy(policy)?;
        let (scored, _, _, _) = self.scored(index, &policy, asked, true)?;
        let decisions = self.current_decisions(index, &policy.name, &scored)?;
        Ok(progress_of(&scored, &decisions))
    }

    /// The decisions of `policy` keyed by today's conversation ids. A decision
    /// recorded under an id that is no longer a conversation (merged into
    /// another when a message bridging them arrived) follows its messages into
    /// the conversation they are in now; when two merged conversations were
    /// both decided, the newer decision counts. Nothing decided is orphaned.
    fn current_decisions(
        &self,
        index: &MailIndex,
        policy: &str,
        scored: &[(ThreadFacts, f64, Vec<Contribution>)],
    ) -> Result<HashMap<String, Recorded>, CurateError> {
        let known: std::collections::HashSet<&str> = scored
            .iter()
            .map(|(f, _, _)| f.thread_id.as_str())
            .collect();
        let mut out: HashMap<String, Recorded> = HashMap::new();
        for (id, r) in self.decisions(policy)? {
            let id = if known.contains(id.as_str()) {
                id
            } else {
                crate::query::thread::resolve(index, &id)?
            };
            match out.get(&id) {
                Some(have) if have.at >= r.at => {}
                _ => {
                    out.insert(id, r);
                }
            }
        }
        Ok(out)
    }

    /// Refuses a decision on any thread with no message the viewer may read
    /// (`allowed`) on the policy's lists: a reviewer decides only on threads
    /// of the queue they can see, never on made-up ids or other lists' threads.
    pub fn check_threads(
        &self,
        index: &MailIndex,
        policy: &str,
        threads: &[String],
        allowed: Option<&[String]>,
    ) -> Result<(), CurateError> {
        let policy = self.policy(policy)?;
        let policy_lists = policy_lists(index, &policy)?;
        let lists: Option<Vec<String>> = match (policy_lists.is_empty(), allowed) {
            (true, None) => None,
            (true, Some(a)) => Some(a.to_vec()),
            (false, None) => Some(policy_lists),
            (false, Some(a)) => Some(
                policy_lists
                    .iter()
                    .filter(|l| a.iter().any(|x| x.eq_ignore_ascii_case(l)))
                    .cloned()
                    .collect(),
            ),
        };
        for t in threads {
            if crate::query::thread::first_message(index, t, lists.as_deref())?.is_none() {
                return Err(CurateError::NotFound(format!(
                    "no thread {t:?} in the lists of queue {:?} that you may read",
                    policy.name
                )));
            }
        }
        Ok(())
    }

    /// Threads of the queue still undecided (used by retention's `after_review`).
    /// Only a decision that lands on a thread of the queue — a thread with a
    /// message on the policy's lists, by its id today or one merged into it —
    /// decides it: a decision recorded under a made-up id, or under a thread or
    /// Message-ID of another list, lets no mail through
    /// (`tests/curation_access.rs`).
    pub fn undecided(
        &self,
        index: &MailIndex,
        policy: &str,
        now: i64,
        budget: &Arc<Budget>,
    ) -> Result<Vec<String>, CurateError> {
        let asked = Asked {
            allowed: None,
            now,
            budget,
        };
        let q = self.queue(index, policy, &QueueOptions::default(), &asked)?;
        Ok(q.items.into_iter().map(|i| i.facts.thread_id).collect())
    }
}

/// The day of `secs`, `YYYY-MM-DD`.
fn day(secs: i64) -> String {
    let d = crate::query::search::rfc3339(secs);
    d.get(..10).unwrap_or(&d).to_string()
}

/// Names the evidence behind the `confirmed` and `answered` lines: the
/// confirming sentence verbatim with its author and date, and the answering
/// message. Both come from the proposed answer, which reads only messages
/// the viewer may see.
fn add_evidence(explain: &mut [Contribution], a: &ProposedAnswer) {
    for c in explain.iter_mut() {
        match (c.signal, &a.basis) {
            (
                "confirmed",
                Basis::Confirmed {
                    by_message,
                    at,
                    by,
                    quote,
                },
            ) => {
                let said = quote
                    .as_deref()
                    .map(|q| format!(": “{q}”"))
                    .unwrap_or_default();
                c.why = format!(
                    "the asker confirmed a fix after someone else's answer{said} — {by}, {} (message <{by_message}>)",
                    day(*at)
                );
            }
            ("answered", Basis::Confirmed { .. } | Basis::BestScored) => {
                c.why = format!(
                    "someone other than the asker replied; the answer: {} on {} (message <{}>)",
                    if a.from.is_empty() { "?" } else { &a.from },
                    day(a.date),
                    a.message_id
                );
            }
            _ => {}
        }
    }
}

fn lock(
    c: &std::sync::Mutex<HashMap<String, Cached>>,
) -> std::sync::MutexGuard<'_, HashMap<String, Cached>> {
    match c.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

fn progress_of(
    scored: &[(ThreadFacts, f64, Vec<Contribution>)],
    decisions: &HashMap<String, Recorded>,
) -> Progress {
    let mut p = Progress {
        total: scored.len(),
        ..Progress::default()
    };
    let mut lists: HashMap<&str, (usize, usize)> = HashMap::new();
    let mut years: BTreeMap<i32, (usize, usize)> = BTreeMap::new();
    for (f, _, _) in scored {
        let d = decisions.get(&f.thread_id).map(|r| r.decision);
        let done = usize::from(d.is_some());
        match d {
            Some(Decision::Promote) => p.promote += 1,
            Some(Decision::Keep) => p.keep += 1,
            Some(Decision::Dismiss) => p.dismiss += 1,
            None => {}
        }
        p.done += done;
        let l = lists.entry(&f.list).or_default();
        l.0 += done;
        l.1 += 1;
        let y = years.entry(year_of(f.last_date)).or_default();
        y.0 += done;
        y.1 += 1;
    }
    let mut by_list: Vec<Bar> = lists
        .into_iter()
        .map(|(k, (done, total))| Bar {
            key: k.to_string(),
            done,
            total,
        })
        .collect();
    by_list.sort_by(|a, b| b.total.cmp(&a.total).then_with(|| a.key.cmp(&b.key)));
    p.by_list = by_list;
    p.by_year = years
        .into_iter()
        .map(|(y, (done, total))| Bar {
            key: format!("{y:04}"),
            done,
            total,
        })
        .collect();
    p
}
