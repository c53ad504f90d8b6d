//! `gleaner review round open|list|due`, `gleaner review digest` and
//! `gleaner user set-email|calendar-token`: review rounds, their digest
//! mail and what reviewers need for them.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use gleaner::access::Users;
use gleaner::config::Config;
use gleaner::curate::round_schedule::RoundSchedule;
use gleaner::curate::rounds::{Round, RoundFilter};
use gleaner::curate::Curation;

use super::review_cmd::actor;
use super::search_cmd::{open, rfc3339};
use super::{RoundCommand, UserCommand};

fn day(secs: i64) -> String {
    rfc3339(secs).get(..10).unwrap_or("????-??-??").to_string()
}

fn users(data: &Path) -> anyhow::Result<Users> {
    Users::open(data).context("opening the user database")
}

/// One line of a round: `round 3  ops-old 2026-03-01  5/12 decided, due 2026-05-01 OVERDUE`.
pub fn round_line(r: &Round) -> String {
    let state = if let Some(c) = r.closed_at {
        format!("closed {}", day(c))
    } else if r.overdue {
        format!("due {} OVERDUE", day(r.due_at))
    } else {
        format!("due {}", day(r.due_at))
    };
    let per: Vec<String> = r
        .reviewers
        .iter()
        .map(|p| {
            let name = if p.reviewer.is_empty() {
                "(nobody may read)"
            } else {
                &p.reviewer
            };
            format!("{name} {}/{}", p.decided, p.assigned)
        })
        .collect();
    format!(
        "round {:<4} {:<28} {}/{} decided, {state}; {}",
        r.id,
        r.title(),
        r.decided,
        r.total,
        per.join(", ")
    )
}

/// `gleaner review round ...`
pub fn round(
    config: &Config,
    data: &Path,
    c: &Curation,
    command: RoundCommand,
) -> anyhow::Result<ExitCode> {
    let now = gleaner::db::now();
    let mut out = std::io::stdout().lock();
    match command {
        RoundCommand::Open {
            policy,
            reviewers,
            due,
            by,
        } => {
            c.policy(&policy)?;
            let configured = config.round.iter().find(|s| s.policy == policy);
            let schedule = RoundSchedule {
                policy: policy.clone(),
                every: "1y".into(),
                starts: "01-01".into(),
                due: due
                    .or_else(|| configured.map(|s| s.due.clone()))
                    .unwrap_or_else(|| "30d".into()),
                reviewers: if reviewers.is_empty() {
                    configured.map(|s| s.reviewers.clone()).unwrap_or_default()
                } else {
                    reviewers
                },
            };
            schedule.validate().context(
                "name the reviewers with --reviewer, or in the policy's [[round]] in gleaner.toml",
            )?;
            let index = open(data)?;
            let users = users(data)?;
            let opened = gleaner::reminders::open(
                c,
                Some(&users),
                &index,
                &schedule,
                false,
                &actor(by.as_deref()),
                now,
            )?;
            if let Some(r) = opened {
                writeln!(out, "opened {}", round_line(&r))?;
            }
            Ok(ExitCode::SUCCESS)
        }
        RoundCommand::List { policy, json } => {
            // Items whose conversation merged into another count under today's id.
            if let Ok(index) = open(data) {
                c.follow_merges(&index, &actor(None))?;
            }
            let rounds = c.rounds(
                &RoundFilter {
                    policy: policy.as_deref(),
                    closed_since: Some(now - 365 * 86_400),
                    ..RoundFilter::default()
                },
                now,
            )?;
            for r in &rounds {
                if json {
                    writeln!(out, "{}", serde_json::to_string(r)?)?;
                } else {
                    writeln!(out, "{}", round_line(r))?;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        RoundCommand::Due => {
            let index = open(data)?;
            let users = users(data)?;
            let opened = gleaner::reminders::open_due(c, Some(&users), &index, &config.round, now)?;
            for r in &opened {
                writeln!(out, "opened {}", round_line(r))?;
            }
            if opened.is_empty() {
                writeln!(out, "no round is due to open")?;
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `gleaner review digest [--send|--dry-run]`
pub fn digest(
    config: &Config,
    data: &Path,
    c: &Curation,
    send: bool,
    force: bool,
    by: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let users = users(data)?;
    let now = gleaner::db::now();
    let mut out = std::io::stdout().lock();
    if !send {
        for a in gleaner::reminders::digests(c, &users, now)? {
            writeln!(
                out,
                "To: {}\nSubject: {}\nX-Already-Sent: {}\n\n{}\n",
                a.to.as_deref()
                    .unwrap_or("(no address: gleaner user set-email)"),
                a.digest.subject,
                if a.sent { "yes" } else { "no" },
                a.digest.body
            )?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let mail = config
        .mail
        .as_ref()
        .context("no [mail] in gleaner.toml: set smtp = \"host:port\" and from = ...")?;
    let report = gleaner::reminders::send_digests(c, &users, mail, now, force, &actor(by))?;
    for who in &report.sent {
        writeln!(out, "sent the digest to {who}")?;
    }
    for who in &report.already {
        writeln!(out, "{who}: already sent this week (--force sends again)")?;
    }
    for who in &report.no_address {
        writeln!(
            out,
            "{who}: no email address (gleaner user set-email {who} ADDRESS)"
        )?;
    }
    for (who, why) in &report.failed {
        writeln!(out, "{who}: FAILED: {why}")?;
    }
    Ok(if report.failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `gleaner user set-email|calendar-token`
pub fn user(config: &Config, data: &Path, command: UserCommand) -> anyhow::Result<ExitCode> {
    let users = users(data)?;
    let mut out = std::io::stdout().lock();
    match command {
        UserCommand::SetEmail { name, email, .. } => {
            users.set_email(&name, email.as_deref())?;
            match email {
                Some(e) => writeln!(out, "{name}'s email address is {e}")?,
                None => writeln!(out, "{name} has no email address now")?,
            }
        }
        UserCommand::CalendarToken { name, revoke } => {
            let who = actor(None);
            if revoke {
                if users.revoke_calendar_token(&who, &name)? {
                    writeln!(out, "revoked {name}'s calendar token")?;
                } else {
                    writeln!(out, "{name} had no calendar token")?;
                }
            } else {
                let secret = users.create_calendar_token(&who, &name)?;
                writeln!(
                    out,
                    "{}/api/review/calendar.ics?token={secret}",
                    config.http.public_url().trim_end_matches('/')
                )?;
                eprintln!(
                    "this URL is shown once; it opens {name}'s review calendar and nothing else \
                     (a new token replaces it; --revoke ends it)"
                );
            }
        }
        other => anyhow::bail!("not a calendar command: {other:?}"),
    }
    Ok(ExitCode::SUCCESS)
}
