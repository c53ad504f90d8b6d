//! `gleaner archive`, `hold`, `backup`, `restore`, `verify`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use gleaner::config::Config;
use gleaner::index::ingest::IngestOptions;
use gleaner::index::writer::Writer;
use gleaner::retention::archive::{self, Context as ArchiveContext};
use gleaner::retention::{backup, Retention};
use gleaner::store::volume;
use indicatif::{ProgressBar, ProgressStyle};

use super::review_cmd::{actor, curation};
use super::search_cmd::open;
use super::{ArchiveCommand, HoldCommand};

fn bar(len: u64, template: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

/// `gleaner archive ...`
pub fn archive_cmd(
    config: &Config,
    data: &Path,
    command: ArchiveCommand,
) -> anyhow::Result<ExitCode> {
    let dir = config.archive.dir_for(data);
    match command {
        ArchiveCommand::Run { dry_run, json, by } => {
            anyhow::ensure!(
                !config.retention.is_empty(),
                "no [[retention]] policy in the configuration (give --config FILE)"
            );
            let index = open(data)?;
            let indexed = gleaner::query::lists::indexed_lists(&index)?;
            for p in &config.retention {
                let what = format!("retention policy {:?}", p.name);
                for warning in gleaner::query::lists::warnings(&what, &p.lists, &indexed) {
                    eprintln!("warning: {warning}");
                }
            }
            let retention = Retention::open(data)?;
            let cur = curation(config, data)?;
            let who = actor(by.as_deref());
            // Volume locations in the index must not depend on the working directory.
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            let dir = std::fs::canonicalize(&dir)?;
            let ctx = ArchiveContext {
                index: &index,
                retention: &retention,
                curation: Some(&cur),
                dir: dir.clone(),
                volume_size: gleaner::retention::parse_size(&config.archive.volume_size)?,
                actor: &who,
                now: gleaner::db::now(),
            };
            let mut out = std::io::stdout().lock();
            if dry_run {
                let plan = archive::plan(&ctx, &config.retention)?;
                if json {
                    for row in &plan.rows {
                        writeln!(out, "{}", serde_json::to_string(row)?)?;
                    }
                    return Ok(ExitCode::SUCCESS);
                }
                writeln!(
                    out,
                    "{:<20} {:<34} {:>5} {:>9} {:>12} {:>10}",
                    "policy", "list", "year", "messages", "bytes", "to remove"
                )?;
                let (mut m, mut b, mut r) = (0, 0, 0);
                for row in &plan.rows {
                    writeln!(
                        out,
                        "{:<20} {:<34} {:>5} {:>9} {:>12} {:>10}",
                        row.policy, row.list, row.year, row.messages, row.bytes, row.to_remove
                    )?;
                    m += row.messages;
                    b += row.bytes;
                    r += row.to_remove;
                }
                writeln!(
                    out,
                    "{:<20} {:<34} {:>5} {:>9} {:>12} {:>10}",
                    "total", "", "", m, b, r
                )?;
                writeln!(
                    out,
                    "(waiting for review: {}; archived already: {}; nothing was changed)",
                    plan.waiting_for_review, plan.already_archived
                )?;
                return Ok(ExitCode::SUCCESS);
            }
            let mut writer = Writer::new(&index, 1).context(
                "cannot archive while the index is being written (stop `gleaner serve` first)",
            )?;
            let progress = bar(
                0,
                "{bar:40} {bytes}/{total_bytes} archived ({bytes_per_sec}) {elapsed}",
            );
            let report = archive::run(&ctx, &config.retention, &mut writer, &mut |done, total| {
                progress.set_length(total);
                progress.set_position(done);
            })?;
            progress.finish_and_clear();
            writer.finish()?;
            if json {
                writeln!(out, "{}", serde_json::to_string(&report)?)?;
            } else {
                writeln!(
                    out,
                    "archived {} messages ({} bytes) into {} volume(s) in {}; removed {} from the live store; {} kept by legal holds",
                    report.archived, report.bytes, report.volumes.len(), dir.display(), report.removed, report.held
                )?;
                for v in &report.recovered_volumes {
                    writeln!(out, "recovered volume {v} of an interrupted run")?;
                }
                for u in &report.unreadable {
                    writeln!(out, "unreadable (left live): {u}")?;
                }
                for k in &report.kept {
                    writeln!(out, "kept live: {k}")?;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        ArchiveCommand::List { json } => {
            let mut out = std::io::stdout().lock();
            for m in volume::list_volumes(&dir)? {
                if json {
                    let mut v = serde_json::to_value(&m)?;
                    if let Some(o) = v.as_object_mut() {
                        o.remove("messages");
                    }
                    writeln!(out, "{v}")?;
                } else {
                    writeln!(
                        out,
                        "{}  {:>7} messages  {:>12} bytes  policy {}  sealed {}",
                        m.name, m.message_count, m.volume_bytes, m.policy, m.sealed
                    )?;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        ArchiveCommand::Attach { dir: other } => {
            anyhow::ensure!(
                volume::is_volume_dir(&other),
                "{} holds no sealed gleaner volumes (*.manifest.json)",
                other.display()
            );
            let report = volume::verify_all(&other)?;
            for p in &report.problems {
                eprintln!("gleaner: {p}");
            }
            anyhow::ensure!(
                report.problems.is_empty(),
                "the volumes in {} do not verify; not attached",
                other.display()
            );
            super::index_cmd::index(data, &[], &[other], None, &IngestOptions::default(), false)
        }
    }
}

/// `gleaner hold ...`
pub fn hold_cmd(data: &Path, command: HoldCommand) -> anyhow::Result<ExitCode> {
    let r = Retention::open(data)?;
    let mut out = std::io::stdout().lock();
    match command {
        HoldCommand::Add {
            name,
            query,
            reason,
            by,
        } => {
            r.add_hold(&name, &query, &reason, &actor(by.as_deref()))?;
            if let Ok(index) = open(data) {
                let req = gleaner::query::Request {
                    query: query.clone(),
                    limit: 1,
                    offset: 0,
                    sort: gleaner::query::Sort::Relevance,
                    now: gleaner::db::now(),
                    allowed_lists: None,
                    marks: None,
                };
                let n = gleaner::query::search(&index, &req)?.total;
                eprintln!(
                    "hold {name:?} placed: {n} message(s) match now, and any that match later"
                );
            }
        }
        HoldCommand::Release { name, by } => {
            r.release_hold(&name, &actor(by.as_deref()))?;
            eprintln!("hold {name:?} released");
        }
        HoldCommand::List { json, all } => {
            for h in r.holds()? {
                if h.released_at.is_some() && !all {
                    continue;
                }
                if json {
                    writeln!(out, "{}", serde_json::to_string(&h)?)?;
                } else {
                    let state = if h.released_at.is_some() {
                        "released"
                    } else {
                        "ACTIVE"
                    };
                    writeln!(
                        out,
                        "{:<20} {:<8} {:<40} {}  (by {})",
                        h.name, state, h.query, h.reason, h.created_by
                    )?;
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `gleaner backup [DEST]`
pub fn backup_cmd(
    config: &Config,
    data: &Path,
    dest: Option<PathBuf>,
    config_path: Option<&Path>,
    by: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let dest = dest
        .or_else(|| config.backup.dest.clone())
        .context("give a destination (gleaner backup DEST) or set [backup] dest")?;
    let progress = bar(
        0,
        "{msg:10} {bar:40} {bytes}/{total_bytes} ({bytes_per_sec})",
    );
    let report = backup::backup(
        data,
        &dest,
        &backup::BackupOptions {
            config: config_path,
            ..Default::default()
        },
        &mut |p| {
            progress.set_message(p.stage);
            progress.set_length(p.total_bytes);
            progress.set_position(p.done_bytes);
        },
    )?;
    progress.finish_and_clear();
    let r = Retention::open(data)?;
    let mail_bytes = open(data)
        .ok()
        .and_then(|index| gleaner::query::stats::total_bytes(&index).ok())
        .unwrap_or(0);
    r.record_backup(&report, &dest, mail_bytes, &actor(by))?;
    println!(
        "snapshot {} in {}: {} files copied ({} bytes), {} already there",
        report.snapshot,
        dest.display(),
        report.files_copied,
        report.bytes_copied,
        report.files_reused
    );
    for s in &report.skipped {
        println!("skipped: {s}");
    }
    Ok(ExitCode::SUCCESS)
}

/// `gleaner restore SRC`
pub fn restore_cmd(data: &Path, src: &Path, snapshot: Option<&str>) -> anyhow::Result<ExitCode> {
    let progress = bar(
        0,
        "{msg:10} {bar:40} {bytes}/{total_bytes} ({bytes_per_sec})",
    );
    let report = backup::restore(src, snapshot, data, &mut |p| {
        progress.set_message(p.stage);
        progress.set_length(p.total_bytes);
        progress.set_position(p.done_bytes);
    })?;
    progress.finish_and_clear();
    println!(
        "restored snapshot {} into {}: {} files ({} bytes)",
        report.snapshot,
        data.display(),
        report.files_restored,
        report.bytes_restored
    );
    if let Some(c) = &report.config {
        println!(
            "its configuration is in {} (review the paths in it)",
            c.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `gleaner verify`: every volume against its manifest, every removed live copy
/// restorable byte for byte, every indexed message readable.
pub fn verify_cmd(config: &Config, data: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let dir = config.archive.dir_for(data);
    let mut problems: Vec<String> = Vec::new();
    let mut volumes = 0;
    let mut archived = 0;
    if dir.exists() {
        let report = volume::verify_all(&dir)?;
        volumes = report.volumes;
        archived = report.messages;
        problems.extend(
            report
                .problems
                .iter()
                .map(|p| format!("{}: {p}", dir.display())),
        );
    }
    // Every live copy an archive run removed: its sealed entry re-read and re-hashed.
    let removed = Retention::open(data)?.check_removed_copies()?;
    problems.extend(removed.problems.iter().cloned());
    let index = open(data)?;
    let total = gleaner::query::stats::stats(&index)?.messages;
    let progress = bar(total, "{bar:40} {pos}/{len} messages read back ({per_sec})");
    let mut unreadable = 0;
    // One reader: each mbox is read forward once, not from its start per message.
    let mut reader = gleaner::store::LocationReader::default();
    gleaner::query::search::for_each_message(&index, |m| {
        if let Err(e) = reader.read_first(&m.locations) {
            unreadable += 1;
            problems.push(format!("message {} cannot be read: {e}", m.key));
        }
        progress.inc(1);
        true
    })?;
    progress.finish_and_clear();
    let audit = curation(config, data)?.verify_audit()?;
    if let (Some(seq), Some(why)) = (audit.first_bad, &audit.problem) {
        problems.push(format!("audit log entry {seq}: {why}"));
    }
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(
            out,
            "{}",
            serde_json::json!({"volumes": volumes, "archived_messages": archived, "removed_copies": removed.removed, "indexed_messages": total, "unreadable": unreadable, "audit_entries": audit.entries, "problems": problems})
        )?;
    } else {
        for p in &problems {
            writeln!(out, "PROBLEM: {p}")?;
        }
        writeln!(
            out,
            "{volumes} volume(s) with {archived} messages re-hashed; {} removed live copies restorable from {} sealed entries; {total} indexed messages read back, {unreadable} unreadable; audit log of {} entries {}",
            removed.removed - removed.problems.len().min(removed.removed),
            removed.entries_read,
            audit.entries,
            if audit.ok() { "intact" } else { "BROKEN" }
        )?;
    }
    Ok(if problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
