//! Review rounds: a policy's queue taken as one duty with reviewers and a
//! due date. A round **snapshots** the policy's undecided threads when it
//! opens (later mail changes nothing in it), shares them out among its
//! reviewers (each thread to the reviewer who may read its list and has
//! the fewest so far, in score order), counts progress per reviewer, is
//! overdue after its due date, and closes itself in the transaction of the
//! decision that decides its last thread. Every event is in the audit log.
//!
//! A policy has at most one open round. Knows nothing of users (callers
//! pass reviewers with the lists they may read), mail or HTTP.

use std::collections::BTreeMap;
use std::sync::Arc;

use rusqlite::{params, OptionalExtension, Transaction};
use serde::Serialize;

use super::queue::QueueOptions;
use super::round_schedule::{add_period, Period};
use super::{Asked, CurateError, Curation};
use crate::index::MailIndex;
use crate::query::limits::Budget;

/// The name under which the rounds' schema version is recorded.
pub(crate) const COMPONENT: &str = "review_rounds";

/// The rounds' tables (after the `curate` ones; never edit a shipped one).
pub(crate) const MIGRATIONS: &[&str] = &["CREATE TABLE review_rounds (
        id INTEGER PRIMARY KEY,
        policy TEXT NOT NULL,
        period TEXT NOT NULL,
        opened_at INTEGER NOT NULL,
        opened_by TEXT NOT NULL,
        due_at INTEGER NOT NULL,
        closed_at INTEGER,
        overdue_noted INTEGER NOT NULL DEFAULT 0,
        UNIQUE (policy, period)
     );
     CREATE TABLE round_reviewers (
        round_id INTEGER NOT NULL REFERENCES review_rounds(id),
        reviewer TEXT NOT NULL,
        PRIMARY KEY (round_id, reviewer)
     );
     CREATE TABLE round_items (
        round_id INTEGER NOT NULL REFERENCES review_rounds(id),
        thread_id TEXT NOT NULL,
        list TEXT NOT NULL,
        reviewer TEXT NOT NULL,
        PRIMARY KEY (round_id, thread_id)
     );
     CREATE INDEX round_items_reviewer ON round_items(reviewer);
     CREATE TABLE digests_sent (
        reviewer TEXT NOT NULL,
        week TEXT NOT NULL,
        sent_at INTEGER NOT NULL,
        message_id TEXT NOT NULL,
        PRIMARY KEY (reviewer, week)
     );"];

/// One reviewer of a round, as the caller knows them.
#[derive(Debug, Clone)]
pub struct Reviewer {
    /// User name.
    pub name: String,
    /// The lists they may read (`None`: all).
    pub allowed: Option<Vec<String>>,
}

/// Decided and assigned threads of one reviewer in a round.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ReviewerProgress {
    /// User name (empty: threads no reviewer may read).
    pub reviewer: String,
    /// Threads given to them.
    pub assigned: usize,
    /// Of those, decided (by anyone).
    pub decided: usize,
}

/// A round with its progress.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Round {
    /// Its number.
    pub id: i64,
    /// The policy.
    pub policy: String,
    /// The scheduled period it opens (`YYYY-MM-DD`), or `manual:<unix seconds>`.
    pub period: String,
    /// When it opened (unix seconds).
    pub opened_at: i64,
    /// Who opened it (`system` for the schedule).
    pub opened_by: String,
    /// When it is due.
    pub due_at: i64,
    /// When its last thread was decided.
    pub closed_at: Option<i64>,
    /// Open and past its due date.
    pub overdue: bool,
    /// Threads in its snapshot.
    pub total: usize,
    /// Of those, decided.
    pub decided: usize,
    /// Per reviewer, by name.
    pub reviewers: Vec<ReviewerProgress>,
}

impl Round {
    /// The round's name as people read it: `ops-old 2026-03-01`.
    pub fn title(&self) -> String {
        match self.period.strip_prefix("manual:") {
            Some(_) => format!("{} round {}", self.policy, self.id),
            None => format!("{} {}", self.policy, self.period),
        }
    }

    /// `reviewer`'s share, if they review it.
    pub fn of(&self, reviewer: &str) -> Option<&ReviewerProgress> {
        self.reviewers.iter().find(|r| r.reviewer == reviewer)
    }
}

/// Which rounds to list.
#[derive(Debug, Clone, Default)]
pub struct RoundFilter<'a> {
    /// Only this policy's.
    pub policy: Option<&'a str>,
    /// Only rounds this user reviews.
    pub reviewer: Option<&'a str>,
    /// Only open ones.
    pub open_only: bool,
    /// Closed ones only if closed after this (unix seconds).
    pub closed_since: Option<i64>,
}

/// How a round is opened.
#[derive(Debug, Clone)]
pub struct Opening<'a> {
    /// The policy.
    pub policy: &'a str,
    /// The period (`YYYY-MM-DD`), or `None` for a round opened by hand.
    pub period: Option<&'a str>,
    /// Who reviews.
    pub reviewers: &'a [Reviewer],
    /// How long after opening it is due.
    pub due: Period,
    /// Who opens it.
    pub actor: &'a str,
    /// Now (unix seconds).
    pub now: i64,
}

impl Curation {
    /// Opens a round of `o.policy`: the policy's undecided threads now,
    /// shared out among the reviewers. Refused while a round of the policy is
    /// open or when this period's round exists. A round of no threads is
    /// closed as it opens.
    pub fn open_round(
        &self,
        index: &MailIndex,
        o: &Opening<'_>,
        budget: &Arc<Budget>,
    ) -> Result<Round, CurateError> {
        let names: Vec<&str> = o
            .reviewers
            .iter()
            .map(|r| r.name.trim())
            .filter(|n| !n.is_empty())
            .collect();
        if names.is_empty() {
            return Err(CurateError::Invalid(format!(
                "a round of {:?} needs reviewers",
                o.policy
            )));
        }
        if let Some(open) = self.open_round_of(o.policy)? {
            return Err(CurateError::Invalid(format!(
                "round {open} of policy {:?} is still open: it must be finished first",
                o.policy
            )));
        }
        let asked = Asked {
            allowed: None,
            now: o.now,
            budget,
        };
        let queue = self.queue(index, o.policy, &QueueOptions::default(), &asked)?;
        let mut load: BTreeMap<&str, usize> = names.iter().map(|n| (*n, 0)).collect();
        let mut items = Vec::with_capacity(queue.items.len());
        for item in &queue.items {
            let list = &item.facts.list;
            let eligible = o.reviewers.iter().filter(|r| {
                !r.name.trim().is_empty()
                    && r.allowed
                        .as_ref()
                        .is_none_or(|a| a.iter().any(|l| l.eq_ignore_ascii_case(list)))
            });
            let chosen = eligible
                .map(|r| r.name.trim())
                .min_by_key(|n| load.get(n).copied().unwrap_or(0))
                .unwrap_or("");
            if let Some(n) = load.get_mut(chosen) {
                *n += 1;
            }
            items.push((
                item.facts.thread_id.clone(),
                list.clone(),
                chosen.to_string(),
            ));
        }
        let period = o
            .period
            .map(str::to_string)
            .unwrap_or_else(|| format!("manual:{}", o.now));
        let due_at = add_period(o.now, o.due);
        let id = self.write(|tx| {
            let exists = tx
                .query_row(
                    "SELECT id FROM review_rounds WHERE policy = ?1 AND (period = ?2 OR closed_at IS NULL)",
                    params![o.policy, period],
                    |r| r.get::<_, i64>(0),
                )
                .optional()?;
            if let Some(id) = exists {
                return Err(CurateError::Invalid(format!(
                    "policy {:?} has round {id} for this period or still open",
                    o.policy
                )));
            }
            tx.execute(
                "INSERT INTO review_rounds (policy, period, opened_at, opened_by, due_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![o.policy, period, o.now, o.actor, due_at],
            )?;
            let id = tx.last_insert_rowid();
            for n in &names {
                tx.execute(
                    "INSERT OR IGNORE INTO round_reviewers (round_id, reviewer) VALUES (?1, ?2)",
                    params![id, n],
                )?;
            }
            for (thread, list, reviewer) in &items {
                tx.execute(
                    "INSERT OR IGNORE INTO round_items (round_id, thread_id, list, reviewer) VALUES (?1, ?2, ?3, ?4)",
                    params![id, thread, list, reviewer],
                )?;
            }
            crate::audit::append(
                tx,
                o.actor,
                "review.round.open",
                &format!("round:{id}"),
                &serde_json::json!({"policy": o.policy, "period": period, "threads": items.len(),
                    "due_at": due_at, "assigned": load,
                    "unassigned": items.iter().filter(|i| i.2.is_empty()).count()}),
            )?;
            close_finished(tx, o.policy, o.actor)?;
            Ok(id)
        })?;
        self.round(id)
    }

    /// The open round of `policy`, if any.
    pub fn open_round_of(&self, policy: &str) -> Result<Option<i64>, CurateError> {
        Ok(self
            .conn()
            .query_row(
                "SELECT id FROM review_rounds WHERE policy = ?1 AND closed_at IS NULL",
                [policy],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Whether `policy` has a round for `period` (open or closed).
    pub fn has_round(&self, policy: &str, period: &str) -> Result<bool, CurateError> {
        Ok(self
            .conn()
            .query_row(
                "SELECT 1 FROM review_rounds WHERE policy = ?1 AND period = ?2",
                params![policy, period],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    /// One round with its progress.
    pub fn round(&self, id: i64) -> Result<Round, CurateError> {
        let now = crate::db::now();
        let conn = self.conn();
        let row = conn
            .query_row(&format!("{ROUND_COLUMNS} WHERE id = ?1"), [id], row_round)
            .optional()?
            .ok_or_else(|| CurateError::NotFound(format!("no review round {id}")))?;
        with_progress(&conn, row, now)
    }

    /// Rounds, newest first, with their progress.
    pub fn rounds(&self, f: &RoundFilter<'_>, now: i64) -> Result<Vec<Round>, CurateError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "{ROUND_COLUMNS}
             WHERE (?1 IS NULL OR policy = ?1)
               AND (?2 IS NULL OR id IN (SELECT round_id FROM round_reviewers WHERE reviewer = ?2))
               AND (closed_at IS NULL OR (?3 = 0 AND closed_at >= ?4))
             ORDER BY opened_at DESC, id DESC"
        ))?;
        let rows = stmt
            .query_map(
                params![
                    f.policy,
                    f.reviewer,
                    f.open_only,
                    f.closed_since.unwrap_or(i64::MIN)
                ],
                row_round,
            )?
            .collect::<Result<Vec<_>, _>>()?;
        drop(stmt);
        rows.into_iter()
            .map(|r| with_progress(&conn, r, now))
            .collect()
    }

    /// Follows the conversations of open rounds' undecided items that were
    /// merged into another since the round opened (a message bridging them
    /// arrived): the item takes today's id, which decisions are made under
    /// (one item when both halves were in the round). Closes rounds that are
    /// then all decided. Returns the items re-keyed.
    pub fn follow_merges(&self, index: &MailIndex, actor: &str) -> Result<usize, CurateError> {
        let undecided: Vec<(i64, String, String)> = {
            let conn = self.conn();
            let mut stmt = conn.prepare(
                "SELECT i.round_id, r.policy, i.thread_id FROM round_items i
                 JOIN review_rounds r ON r.id = i.round_id
                 LEFT JOIN decisions d ON d.policy = r.policy AND d.thread_id = i.thread_id
                 WHERE r.closed_at IS NULL AND d.thread_id IS NULL",
            )?;
            let rows = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect::<Result<Vec<_>, _>>()?;
            rows
        };
        let mut moved = Vec::new();
        for (round, policy, id) in undecided {
            let now_id = crate::query::thread::resolve(index, &id)?;
            if now_id != id {
                moved.push((round, policy, id, now_id));
            }
        }
        if moved.is_empty() {
            return Ok(0);
        }
        let n = moved.len();
        self.write(|tx| {
            let mut policies = Vec::new();
            for (round, policy, old, new) in &moved {
                tx.execute(
                    "UPDATE OR IGNORE round_items SET thread_id = ?3 WHERE round_id = ?1 AND thread_id = ?2",
                    params![round, old, new],
                )?;
                // Both halves were in the round: the merged one stays, once.
                tx.execute(
                    "DELETE FROM round_items WHERE round_id = ?1 AND thread_id = ?2",
                    params![round, old],
                )?;
                crate::audit::append(
                    tx,
                    actor,
                    "review.round.merge",
                    &format!("round:{round}"),
                    &serde_json::json!({"from": old, "to": new}),
                )?;
                if !policies.contains(policy) {
                    policies.push(policy.clone());
                }
            }
            for p in &policies {
                close_finished(tx, p, actor)?;
            }
            Ok(())
        })?;
        Ok(n)
    }

    /// Notes in the audit log, once each, the open rounds past their due
    /// date; returns them.
    pub fn note_overdue(&self, now: i64) -> Result<Vec<i64>, CurateError> {
        self.write(|tx| {
            let mut stmt = tx.prepare(
                "SELECT id, policy, due_at FROM review_rounds
                 WHERE closed_at IS NULL AND due_at < ?1 AND overdue_noted = 0",
            )?;
            let late = stmt
                .query_map([now], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, i64>(2)?,
                    ))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            drop(stmt);
            for (id, policy, due_at) in &late {
                tx.execute(
                    "UPDATE review_rounds SET overdue_noted = 1 WHERE id = ?1",
                    [id],
                )?;
                crate::audit::append(
                    tx,
                    "system",
                    "review.round.overdue",
                    &format!("round:{id}"),
                    &serde_json::json!({"policy": policy, "due_at": due_at}),
                )?;
            }
            Ok(late.into_iter().map(|l| l.0).collect())
        })
    }
}

const ROUND_COLUMNS: &str =
    "SELECT id, policy, period, opened_at, opened_by, due_at, closed_at FROM review_rounds";

fn row_round(r: &rusqlite::Row<'_>) -> Result<Round, rusqlite::Error> {
    Ok(Round {
        id: r.get(0)?,
        policy: r.get(1)?,
        period: r.get(2)?,
        opened_at: r.get(3)?,
        opened_by: r.get(4)?,
        due_at: r.get(5)?,
        closed_at: r.get(6)?,
        overdue: false,
        total: 0,
        decided: 0,
        reviewers: Vec::new(),
    })
}

/// Fills in `round`'s counts: an item is decided when its policy has a
/// decision on its thread.
fn with_progress(
    conn: &rusqlite::Connection,
    mut round: Round,
    now: i64,
) -> Result<Round, CurateError> {
    let mut per: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut stmt =
        conn.prepare_cached("SELECT reviewer FROM round_reviewers WHERE round_id = ?1")?;
    for name in stmt.query_map([round.id], |r| r.get::<_, String>(0))? {
        per.entry(name?).or_default();
    }
    let mut stmt = conn.prepare_cached(
        "SELECT i.reviewer, COUNT(*), COUNT(d.thread_id) FROM round_items i
         LEFT JOIN decisions d ON d.policy = ?2 AND d.thread_id = i.thread_id
         WHERE i.round_id = ?1 GROUP BY i.reviewer",
    )?;
    for row in stmt.query_map(params![round.id, round.policy], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, i64>(2)?,
        ))
    })? {
        let (name, assigned, decided) = row?;
        let e = per.entry(name).or_default();
        e.0 = usize::try_from(assigned).unwrap_or(0);
        e.1 = usize::try_from(decided).unwrap_or(0);
    }
    round.reviewers = per
        .into_iter()
        .map(|(reviewer, (assigned, decided))| ReviewerProgress {
            reviewer,
            assigned,
            decided,
        })
        .collect();
    round.total = round.reviewers.iter().map(|r| r.assigned).sum();
    round.decided = round.reviewers.iter().map(|r| r.decided).sum();
    round.overdue = round.closed_at.is_none() && round.due_at < now;
    Ok(round)
}

/// Closes, within `tx`, every open round of `policy` whose threads are all
/// decided (called by each decision, so a round closes with its last one).
pub(crate) fn close_finished(
    tx: &Transaction<'_>,
    policy: &str,
    actor: &str,
) -> Result<(), CurateError> {
    let mut stmt = tx.prepare_cached(
        "SELECT r.id, (SELECT COUNT(*) FROM round_items WHERE round_id = r.id) FROM review_rounds r
         WHERE r.policy = ?1 AND r.closed_at IS NULL AND NOT EXISTS (
           SELECT 1 FROM round_items i LEFT JOIN decisions d ON d.policy = r.policy AND d.thread_id = i.thread_id
           WHERE i.round_id = r.id AND d.thread_id IS NULL)",
    )?;
    let done = stmt
        .query_map([policy], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    drop(stmt);
    let now = crate::db::now();
    for (id, threads) in done {
        tx.execute(
            "UPDATE review_rounds SET closed_at = ?2 WHERE id = ?1",
            params![id, now],
        )?;
        crate::audit::append(
            tx,
            actor,
            "review.round.close",
            &format!("round:{id}"),
            &serde_json::json!({"policy": policy, "threads": threads}),
        )?;
    }
    Ok(())
}
