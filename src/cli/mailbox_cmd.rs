//! `gleaner mailbox depart|purge|show`: departing staff's mailboxes.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use gleaner::access::Users;
use gleaner::config::Config;
use gleaner::index::writer::Writer;
use gleaner::index::MailIndex;
use gleaner::retention::departure::{self, DeparturePolicy, MailboxContext};
use gleaner::retention::Retention;

use super::review_cmd::actor;
use super::search_cmd::open;
use super::MailboxCommand;

/// The configured sources whose owner is `owner`, as absolute paths.
fn owned_sources(config: &Config, owner: &str) -> Vec<PathBuf> {
    config
        .sources
        .iter()
        .filter(|s| s.owner.as_deref() == Some(owner))
        .map(|s| std::fs::canonicalize(&s.path).unwrap_or_else(|_| s.path.clone()))
        .collect()
}

/// What `depart` and `purge` work with, for `owner`'s mailbox.
fn context<'a>(
    config: &Config,
    data: &Path,
    owner: &str,
    (index, retention, users): (&'a MailIndex, &'a Retention, &'a Users),
    actor: &'a str,
) -> anyhow::Result<MailboxContext<'a>> {
    let dir = config.archive.dir_for(data);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(MailboxContext {
        index,
        retention,
        users,
        sources: owned_sources(config, owner),
        archive_dir: std::fs::canonicalize(&dir)?,
        volume_size: gleaner::retention::parse_size(&config.archive.volume_size)?,
        actor,
        now: gleaner::db::now(),
    })
}

fn writer(index: &MailIndex) -> anyhow::Result<Writer> {
    Writer::new(index, 1)
        .context("cannot change the index while it is being written (stop `gleaner serve` first)")
}

/// `gleaner mailbox ...`
pub fn mailbox(config: &Config, data: &Path, command: MailboxCommand) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    let retention = Retention::open(data)?;
    match command {
        MailboxCommand::Show { owner } => {
            let d = retention
                .departure(&owner)?
                .with_context(|| format!("{owner:?} has not departed"))?;
            writeln!(out, "{}", serde_json::to_string(&d)?)?;
            Ok(ExitCode::SUCCESS)
        }
        MailboxCommand::Depart {
            owner,
            on,
            by,
            json,
        } => {
            let policy = DeparturePolicy::for_owner(&config.departures, &owner)?;
            let index = open(data)?;
            let users = Users::open(data)?;
            let who = actor(by.as_deref());
            let ctx = context(config, data, &owner, (&index, &retention, &users), &who)?;
            let mut writer = writer(&index)?;
            let report = departure::depart(&ctx, &owner, &on, policy, &mut writer)?;
            writer.finish()?;
            if json {
                writeln!(out, "{}", serde_json::to_string(&report)?)?;
            } else {
                writeln!(
                    out,
                    "{owner} departs on {on} ({} policy): {} readable only by {}; hold {:?} for {}; {} messages archived into {} volume(s)",
                    policy.name,
                    report.departure.list,
                    policy.readers.join(", "),
                    report.hold_name,
                    policy.hold,
                    report.archive.archived,
                    report.archive.volumes.len()
                )?;
            }
            Ok(ExitCode::SUCCESS)
        }
        MailboxCommand::Purge {
            owner,
            approve,
            by,
            json,
        } => {
            anyhow::ensure!(
                approve,
                "a purge is approved by two different admins, each with `gleaner mailbox purge {owner} --approve --by NAME`"
            );
            let users = Users::open(data)?;
            let admin = users
                .user(&by)?
                .with_context(|| format!("no user named {by:?}"))?;
            let (d, ready) =
                departure::approve_purge(&retention, &owner, &admin, gleaner::db::now())?;
            if !ready {
                if json {
                    writeln!(
                        out,
                        "{}",
                        serde_json::json!({"approvals": d.approvals, "purged": false})
                    )?;
                } else {
                    writeln!(
                        out,
                        "approved by {}; the purge needs {} different admins' approval",
                        d.approvals.join(", "),
                        departure::APPROVALS_NEEDED
                    )?;
                }
                return Ok(ExitCode::SUCCESS);
            }
            let index = open(data)?;
            let ctx = context(config, data, &owner, (&index, &retention, &users), &by)?;
            let mut writer = writer(&index)?;
            let report = departure::purge(&ctx, &owner, &mut writer)?;
            writer.finish()?;
            if json {
                writeln!(out, "{}", serde_json::to_string(&report)?)?;
            } else {
                writeln!(
                    out,
                    "purged {owner}'s mailbox (approved by {}): {} messages, {} files, {} volume(s)",
                    report.approvals.join(", "),
                    report.messages,
                    report.files,
                    report.volumes.len()
                )?;
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
