//! The review calendar's jobs, run by `serve` (at start-up and every few
//! minutes) and by the CLI by hand: open the rounds whose scheduled period
//! has come (`[[round]]`), note overdue rounds in the audit log, and send
//! each reviewer their weekly digest mail when `[mail]` is configured —
//! once per ISO week, recorded in `gleaner.db` so a restart sends nothing
//! twice.
//!
//! Sees `curate` (rounds, digests), `access` (reviewers' lists and email
//! addresses) and `smtp`; knows nothing of HTTP.

use std::sync::Arc;

use crate::access::Users;
use crate::curate::digest::Digest;
use crate::curate::round_schedule::RoundSchedule;
use crate::curate::rounds::{Opening, Reviewer, Round};
use crate::curate::{CurateError, Curation};
use crate::index::MailIndex;
use crate::query::limits::Budget;
use crate::smtp::MailSection;

/// What went wrong in a reminders job.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReminderError {
    /// Curation refused or failed.
    #[error(transparent)]
    Curate(#[from] CurateError),
    /// The user database failed.
    #[error(transparent)]
    Access(#[from] crate::access::AccessError),
    /// No `[[round]]` for the policy named.
    #[error("no [[round]] schedule for policy {0:?} in gleaner.toml")]
    NoSchedule(String),
}

impl ReminderError {
    /// Is this the caller's mistake?
    pub fn is_user_error(&self) -> bool {
        match self {
            ReminderError::Curate(e) => e.is_user_error(),
            ReminderError::Access(e) => e.is_user_error(),
            ReminderError::NoSchedule(_) => true,
        }
    }
}

/// The reviewers of `names` with the lists each may read now (an unknown
/// user is kept, reading nothing, so their share shows as unassigned work).
pub fn reviewers(users: Option<&Users>, names: &[String]) -> Result<Vec<Reviewer>, ReminderError> {
    let mut out = Vec::new();
    for n in names {
        let allowed = match users {
            Some(u) => match u.user(n)? {
                Some(info) => info.allowed_lists(),
                None => {
                    tracing::warn!("review round reviewer {n:?} is not a user");
                    Some(Vec::new())
                }
            },
            None => None,
        };
        out.push(Reviewer {
            name: n.clone(),
            allowed,
        });
    }
    Ok(out)
}

/// Opens a round of `schedule`'s policy by hand (`period` `None`), or the
/// round of the period `now` is in.
pub fn open(
    curation: &Curation,
    users: Option<&Users>,
    index: &MailIndex,
    schedule: &RoundSchedule,
    scheduled: bool,
    actor: &str,
    now: i64,
) -> Result<Option<Round>, ReminderError> {
    let period = if scheduled {
        match schedule.current_period(now)? {
            Some(p) => Some(p),
            None => return Ok(None),
        }
    } else {
        None
    };
    let reviewers = reviewers(users, &schedule.reviewers)?;
    let budget = Budget::job();
    Ok(Some(curation.open_round(
        index,
        &Opening {
            policy: &schedule.policy,
            period: period.as_deref(),
            reviewers: &reviewers,
            due: schedule.due_period()?,
            actor,
            now,
        },
        &budget,
    )?))
}

/// Opens every scheduled round whose period has come and that does not
/// exist yet (skipping a policy whose previous round is still open: it
/// opens when that one closes), and notes overdue rounds. Returns the
/// rounds opened.
pub fn open_due(
    curation: &Curation,
    users: Option<&Users>,
    index: &MailIndex,
    schedules: &[RoundSchedule],
    now: i64,
) -> Result<Vec<Round>, ReminderError> {
    let mut opened = Vec::new();
    for s in schedules {
        let Some(period) = s.current_period(now)? else {
            continue;
        };
        if curation.has_round(&s.policy, &period)? || curation.open_round_of(&s.policy)?.is_some() {
            continue;
        }
        match open(curation, users, index, s, true, "system", now) {
            Ok(Some(r)) => opened.push(r),
            Ok(None) => {}
            // One policy's problem (say, a list name of several lists) must
            // not keep the others' rounds from opening.
            Err(e) if e.is_user_error() => {
                tracing::error!("cannot open a round of review policy {:?}: {e}", s.policy)
            }
            Err(e) => return Err(e),
        }
    }
    curation.follow_merges(index, "system")?;
    curation.note_overdue(now)?;
    Ok(opened)
}

/// One reviewer's digest and where it goes.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Addressed {
    /// The digest.
    pub digest: Digest,
    /// The reviewer's address (`None`: none set, nothing is sent).
    pub to: Option<String>,
    /// Already sent this week.
    pub sent: bool,
}

/// The digests of the week of `now`: one per reviewer with rounds.
pub fn digests(
    curation: &Curation,
    users: &Users,
    now: i64,
) -> Result<Vec<Addressed>, ReminderError> {
    let mut out = Vec::new();
    for u in users.list()? {
        let Some(digest) = curation.digest(&u.name, now)? else {
            continue;
        };
        let sent = curation.digest_sent(&u.name, &digest.week)?;
        out.push(Addressed {
            to: users.email(&u.name)?,
            digest,
            sent,
        });
    }
    Ok(out)
}

/// What a digest run did.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct DigestReport {
    /// Reviewers mailed.
    pub sent: Vec<String>,
    /// Reviewers skipped: already mailed this week.
    pub already: Vec<String>,
    /// Reviewers without an address.
    pub no_address: Vec<String>,
    /// Reviewers whose mail failed, with why.
    pub failed: Vec<(String, String)>,
}

/// Sends this week's digests not yet sent (all of them again with `force`).
pub fn send_digests(
    curation: &Curation,
    users: &Users,
    mail: &MailSection,
    now: i64,
    force: bool,
    actor: &str,
) -> Result<DigestReport, ReminderError> {
    let mut report = DigestReport::default();
    for a in digests(curation, users, now)? {
        let who = a.digest.reviewer.clone();
        if a.sent && !force {
            report.already.push(who);
            continue;
        }
        let Some(to) = a.to else {
            report.no_address.push(who);
            continue;
        };
        let id = crate::smtp::message::new_message_id(mail.domain(), now);
        let text = crate::smtp::message::build(&crate::smtp::message::Outgoing {
            from: &mail.from,
            to: &to,
            subject: &a.digest.subject,
            body: &a.digest.body,
            date: now,
            message_id: &id,
        });
        match crate::smtp::send(mail, &to, &text) {
            Ok(()) => {
                curation.record_digest(&a.digest, &to, &id, actor)?;
                report.sent.push(who);
            }
            Err(e) => {
                tracing::error!("review digest to {who} <{to}>: {e}");
                report.failed.push((who, e.to_string()));
            }
        }
    }
    Ok(report)
}

/// One pass of `serve`'s job: rounds due, then (with `[mail]`) digests.
pub fn tick(
    curation: &Curation,
    users: Option<&Users>,
    index: &MailIndex,
    schedules: &[RoundSchedule],
    mail: Option<&MailSection>,
    now: i64,
) -> Result<(), ReminderError> {
    for r in open_due(curation, users, index, schedules, now)? {
        tracing::info!(round = r.id, policy = %r.policy, threads = r.total, "review round opened");
    }
    if let (Some(mail), Some(users)) = (mail.filter(|m| m.digest), users) {
        let report = send_digests(curation, users, mail, now, false, "system")?;
        if !report.sent.is_empty() {
            tracing::info!(sent = report.sent.len(), "review digests sent");
        }
    }
    Ok(())
}

/// How often `serve` looks for rounds to open and digests to send.
pub const INTERVAL: std::time::Duration = std::time::Duration::from_secs(300);

/// `serve`'s job: a [`tick`] once the live indexer has caught up with the
/// mail stores (a round must not snapshot a half-built queue), then every
/// [`INTERVAL`] until `stop` turns true (each under `spawn_blocking`).
pub fn spawn(
    config: &crate::config::Config,
    index: MailIndex,
    curation: Curation,
    users: Option<Users>,
    indexer: Arc<crate::metrics::indexer::IndexerMetrics>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    let schedules = Arc::new(config.round.clone());
    let mail = config.mail.clone();
    tokio::spawn(async move {
        while indexer.phase() == crate::metrics::indexer::Phase::CatchingUp {
            tokio::select! {
                _ = tokio::time::sleep(std::time::Duration::from_millis(500)) => {}
                _ = stop.changed() => {}
            }
            if *stop.borrow() {
                return;
            }
        }
        loop {
            let (c, u, i, s, m) = (
                curation.clone(),
                users.clone(),
                index.clone(),
                schedules.clone(),
                mail.clone(),
            );
            let done = tokio::task::spawn_blocking(move || {
                tick(&c, u.as_ref(), &i, &s, m.as_ref(), crate::db::now())
            })
            .await;
            match done {
                Ok(Err(e)) => tracing::error!("review rounds: {e}"),
                Err(e) => tracing::error!("review rounds job: {e}"),
                Ok(Ok(())) => {}
            }
            tokio::select! {
                _ = tokio::time::sleep(INTERVAL) => {}
                _ = stop.changed() => {}
            }
            if *stop.borrow() {
                break;
            }
        }
    })
}
