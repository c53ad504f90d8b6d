//! The weekly digest of a reviewer's rounds: what is open, their progress,
//! what is due or overdue, links — as a subject and a plain-text body —
//! and the record of digests sent (one per reviewer and ISO week, in the
//! audit log), so a restarted server does not send a week's digest twice.
//!
//! Knows nothing of SMTP or users' addresses: the caller sends.

use std::fmt::Write as _;

use rusqlite::{params, OptionalExtension};

use super::calendar::{progress_text, round_url};
use super::rounds::{Round, RoundFilter};
use super::{CurateError, Curation};

/// One reviewer's digest.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Digest {
    /// The reviewer.
    pub reviewer: String,
    /// The ISO week it is for (`2026-W50`).
    pub week: String,
    /// The subject line.
    pub subject: String,
    /// The plain-text body.
    pub body: String,
    /// The rounds it is about.
    pub rounds: Vec<i64>,
}

/// The ISO week of `secs` (`2026-W50`).
pub fn iso_week(secs: i64) -> String {
    let d = time::OffsetDateTime::from_unix_timestamp(secs)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        .date();
    let (year, week, _) = d.to_iso_week_date();
    format!("{year:04}-W{week:02}")
}

fn day(secs: i64) -> String {
    crate::query::search::rfc3339(secs)
        .get(..10)
        .unwrap_or("????-??-??")
        .to_string()
}

impl Curation {
    /// `reviewer`'s digest for the week of `now`: their open rounds and
    /// those closed in the last 7 days; `None` when there are none.
    pub fn digest(&self, reviewer: &str, now: i64) -> Result<Option<Digest>, CurateError> {
        let rounds = self.rounds(
            &RoundFilter {
                reviewer: Some(reviewer),
                closed_since: Some(now - 7 * 86_400),
                ..RoundFilter::default()
            },
            now,
        )?;
        if rounds.is_empty() {
            return Ok(None);
        }
        Ok(Some(compose(reviewer, &rounds, &self.public_url, now)))
    }

    /// Whether `reviewer`'s digest for `week` was sent.
    pub fn digest_sent(&self, reviewer: &str, week: &str) -> Result<bool, CurateError> {
        Ok(self
            .conn()
            .query_row(
                "SELECT 1 FROM digests_sent WHERE reviewer = ?1 AND week = ?2",
                params![reviewer, week],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    /// Records (and audits) that `d` was sent to `to` as `message_id`.
    pub fn record_digest(
        &self,
        d: &Digest,
        to: &str,
        message_id: &str,
        actor: &str,
    ) -> Result<(), CurateError> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO digests_sent (reviewer, week, sent_at, message_id) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(reviewer, week) DO UPDATE SET sent_at = excluded.sent_at, message_id = excluded.message_id",
                params![d.reviewer, d.week, crate::db::now(), message_id],
            )?;
            crate::audit::append(
                tx,
                actor,
                "review.digest.sent",
                &format!("user:{}", d.reviewer),
                &serde_json::json!({"week": d.week, "to": to, "message_id": message_id, "rounds": d.rounds}),
            )?;
            Ok(())
        })
    }
}

/// The digest text of `rounds` for `reviewer`.
pub fn compose(reviewer: &str, rounds: &[Round], public_url: &str, now: i64) -> Digest {
    let open: Vec<&Round> = rounds.iter().filter(|r| r.closed_at.is_none()).collect();
    let overdue = open.iter().filter(|r| r.overdue).count();
    let left: usize = open
        .iter()
        .filter_map(|r| r.of(reviewer))
        .map(|me| me.assigned.saturating_sub(me.decided))
        .sum();
    let week = iso_week(now);
    let mut subject = format!(
        "gleaner review digest {week}: {} open round{}, {left} thread{} left",
        open.len(),
        if open.len() == 1 { "" } else { "s" },
        if left == 1 { "" } else { "s" }
    );
    if overdue > 0 {
        let _ = write!(subject, ", {overdue} overdue");
    }
    let mut body = format!("Hello {reviewer},\n\nyour review rounds this week ({week}):\n");
    for r in rounds {
        let state = if r.overdue {
            format!("OVERDUE since {}", day(r.due_at))
        } else if let Some(c) = r.closed_at {
            format!("finished {}", day(c))
        } else {
            format!("due {}", day(r.due_at))
        };
        let _ = write!(
            body,
            "\n* {} — {state} (opened {})\n",
            r.title(),
            day(r.opened_at)
        );
        for l in progress_text(r, reviewer).lines() {
            let _ = writeln!(body, "  {l}");
        }
        let _ = writeln!(body, "  {}", round_url(public_url, r));
    }
    let _ = write!(
        body,
        "\nAll rounds: {}/review\n\n-- \ngleaner sends this digest once a week while you have review rounds.\n",
        public_url.trim_end_matches('/')
    );
    Digest {
        reviewer: reviewer.to_string(),
        week,
        subject,
        body,
        rounds: rounds.iter().map(|r| r.id).collect(),
    }
}
