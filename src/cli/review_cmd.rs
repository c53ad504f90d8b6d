//! `gleaner review list|queue|decide|undo` and `gleaner audit verify`.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use gleaner::config::Config;
use gleaner::curate::queue::QueueOptions;
use gleaner::curate::{Curation, Decision};
use serde_json::json;

use super::search_cmd::{open, rfc3339};
use super::ReviewCommand;

/// Who the CLI records as the actor: `--by`, else `cli:$USER`.
pub fn actor(by: Option<&str>) -> String {
    by.map(str::to_string).unwrap_or_else(|| {
        format!(
            "cli:{}",
            std::env::var("USER").unwrap_or_else(|_| "unknown".into())
        )
    })
}

/// Opens the curation database and applies the config's policies.
pub fn curation(config: &Config, data: &Path) -> anyhow::Result<Curation> {
    let c = Curation::open(data, &config.http.public_url())?;
    // A standby's policies are the primary's, shipped with its database.
    if !gleaner::replica::is_standby(data) {
        c.sync_config_policies(&config.review)?;
    }
    Ok(c)
}

fn day(secs: i64) -> String {
    rfc3339(secs).get(..10).unwrap_or("????-??-??").to_string()
}

/// `gleaner review ...`
pub fn review(config: &Config, data: &Path, command: ReviewCommand) -> anyhow::Result<ExitCode> {
    let c = curation(config, data)?;
    // A whole queue from the CLI is a long job: `[limits] job_deadline_ms`.
    let budget = gleaner::query::limits::Budget::job();
    let asked = gleaner::curate::Asked {
        allowed: None,
        now: gleaner::db::now(),
        budget: &budget,
    };
    match command {
        ReviewCommand::List { json } => {
            let index = open(data)?;
            let indexed = gleaner::query::lists::indexed_lists(&index)?;
            let mut failed = false;
            for p in c.policies()? {
                for warning in gleaner::query::lists::warnings(
                    &format!("review policy {:?}", p.name),
                    &p.lists,
                    &indexed,
                ) {
                    eprintln!("warning: {warning}");
                }
                // A policy that cannot be computed (say, a list name of
                // several lists) is reported; the others are still listed.
                let progress = match c.progress(&index, &p.name, &asked) {
                    Ok(progress) => progress,
                    Err(e) if e.is_user_error() => {
                        eprintln!("error: review policy {:?}: {e}", p.name);
                        failed = true;
                        continue;
                    }
                    Err(e) => return Err(e.into()),
                };
                // Its rounds still open (an overdue one is flagged).
                let rounds = c.rounds(
                    &gleaner::curate::rounds::RoundFilter {
                        policy: Some(&p.name),
                        open_only: true,
                        ..Default::default()
                    },
                    asked.now,
                )?;
                if json {
                    writeln!(
                        std::io::stdout(),
                        "{}",
                        json!({"policy": p, "progress": progress, "rounds": rounds})
                    )?;
                } else {
                    let lists = if p.lists.is_empty() {
                        "all lists".to_string()
                    } else {
                        p.lists.join(", ")
                    };
                    writeln!(
                        std::io::stdout(),
                        "{:<24} older than {:<4} ({}) on {}{}  — {}/{} decided",
                        p.name,
                        p.older_than,
                        serde_json::to_value(p.age_basis)?.as_str().unwrap_or(""),
                        lists,
                        p.query
                            .as_deref()
                            .map(|q| format!(", matching {q:?}"))
                            .unwrap_or_default(),
                        progress.done,
                        progress.total
                    )?;
                    for r in &rounds {
                        writeln!(std::io::stdout(), "    {}", super::round_cmd::round_line(r))?;
                    }
                }
            }
            Ok(if failed {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            })
        }
        ReviewCommand::Queue {
            policy,
            limit,
            offset,
            all,
            list,
            year,
            json,
        } => {
            let index = open(data)?;
            let opts = QueueOptions {
                offset,
                limit,
                include_decided: all,
                list,
                year,
                answers: limit > 0,
            };
            let q = c.queue(&index, &policy, &opts, &asked)?;
            if json {
                for item in &q.items {
                    writeln!(std::io::stdout(), "{}", serde_json::to_string(item)?)?;
                }
            } else {
                print_queue(&q)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        ReviewCommand::Decide {
            policy,
            decision,
            threads,
            note,
            by,
        } => {
            let decision: Decision = decision.parse()?;
            let batch = c.decide(
                &policy,
                &threads,
                decision,
                note.as_deref().unwrap_or(""),
                &actor(by.as_deref()),
            )?;
            eprintln!(
                "recorded {} {} decision(s) (batch {batch})",
                threads.len(),
                decision.as_str()
            );
            Ok(ExitCode::SUCCESS)
        }
        ReviewCommand::Round { command } => super::round_cmd::round(config, data, &c, command),
        ReviewCommand::Digest {
            send, force, by, ..
        } => super::round_cmd::digest(config, data, &c, send, force, by.as_deref()),
        ReviewCommand::Undo { policy, by } => {
            let threads = c.undo(&policy, &actor(by.as_deref()))?;
            eprintln!(
                "undid the decisions on {} thread(s): {}",
                threads.len(),
                threads.join(", ")
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `gleaner audit verify|log`
pub fn audit(
    config: &Config,
    data: &Path,
    verify: bool,
    limit: usize,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let c = curation(config, data)?;
    if verify {
        let v = c.verify_audit()?;
        if json {
            writeln!(std::io::stdout(), "{}", serde_json::to_string(&v)?)?;
        } else if let (Some(seq), Some(why)) = (v.first_bad, &v.problem) {
            writeln!(
                std::io::stdout(),
                "audit log BROKEN at entry {seq}: {why} ({} entries before it are intact)",
                v.entries
            )?;
        } else {
            writeln!(
                std::io::stdout(),
                "audit log intact: {} entries, hash chain verified",
                v.entries
            )?;
        }
        return Ok(if v.ok() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        });
    }
    for e in c.audit(None, limit)? {
        if json {
            writeln!(std::io::stdout(), "{}", serde_json::to_string(&e)?)?;
        } else {
            writeln!(
                std::io::stdout(),
                "{:>6}  {}  {:<12} {:<20} {}  {}",
                e.seq,
                rfc3339(e.at),
                e.actor,
                e.action,
                e.subject,
                e.detail
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A queue as text for an 80–120 column terminal: a wrapped summary, then
/// under one header of labelled columns each thread's score, newest date,
/// decision, size and list, and beneath them its subject, id and the
/// signals behind the score, wrapped.
fn print_queue(q: &gleaner::curate::queue::Queue) -> std::io::Result<()> {
    use super::layout::{fill, width, wrap};
    let width = width(None);
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let summary = format!(
        "{}: {} threads with the newest message before {}; {} decided; showing {} of {}.",
        q.policy.name,
        q.progress.total,
        day(q.cutoff),
        q.progress.done,
        q.items.len(),
        q.matching
    );
    for line in wrap(&summary, "", width) {
        writeln!(out, "{line}")?;
    }
    if q.items.is_empty() {
        return out.flush();
    }
    for line in wrap(&format!("Scale: {}", q.scale), "", width) {
        writeln!(out, "{line}")?;
    }
    writeln!(out)?;
    writeln!(out, " score  newest      decision  messages  list")?;
    for item in &q.items {
        let f = &item.facts;
        let decision = item
            .decision
            .as_ref()
            .map(|d| d.decision.as_str())
            .unwrap_or("-");
        writeln!(
            out,
            "{:>6.2}  {}  {:<8}  {:>8}  {}",
            item.score,
            day(f.last_date),
            decision,
            f.messages,
            f.list
        )?;
        let indent = "        ";
        for line in wrap(&f.subject, indent, width) {
            writeln!(out, "{line}")?;
        }
        for line in fill(
            &[format!("thread: {}", f.thread_id)],
            "",
            indent,
            indent,
            width,
        ) {
            writeln!(out, "{line}")?;
        }
        let why: Vec<String> = item
            .explain
            .iter()
            .map(|c| format!("{} {:+.2}", c.why, c.points))
            .collect();
        for line in wrap(&format!("why: {}", why.join("; ")), indent, width) {
            writeln!(out, "{line}")?;
        }
        if let Some(a) = &item.answer {
            let cites = format!("cites: <{}> by {} — {}", a.message_id, a.from, a.why);
            for line in wrap(&cites, indent, width) {
                writeln!(out, "{line}")?;
            }
        }
    }
    out.flush()
}
