//! The last step of `gleaner archive run`: live copies of archived messages
//! leave the live store, one copy at a time, each only when its own bytes are
//! sealed. Right before a Maildir file is unlinked or an mbox rewritten, the
//! copy is read again and must (a) hash to a sealed copy of its message (see
//! [`super::copies`]) and (b) still be that message (by key), so neither a
//! re-delivery whose bytes were never sealed nor a stale mbox offset can lose
//! mail. A copy that fails (a) stays live and is sealed by the next run.
//! Removals are recorded before they happen (write-ahead), so `gleaner
//! verify` can prove every removed copy restorable.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};

use rusqlite::params;

use super::archive::{held_keys, store_err, Context, RunReport};
use super::copies::{self, Copy};
use super::{RetentionError, RetentionPolicy};
use crate::index::ingest::{self, IngestOptions, Item, Source};
use crate::index::writer::Writer;
use crate::store::{Location, SourceKind};

/// Files removed per write-ahead transaction.
const FILE_BATCH: usize = 256;

/// Fault injection for tests: with `GLEANER_ARCHIVE_PAUSE=1`, the run creates
/// `<archive dir>/.paused` before it reads the holds and removes anything,
/// and waits (up to a minute) until that file is deleted.
fn pause_point(dir: &Path) {
    if std::env::var_os("GLEANER_ARCHIVE_PAUSE").is_none_or(|v| v != "1") {
        return;
    }
    let flag = dir.join(".paused");
    if std::fs::write(&flag, b"").is_err() {
        return;
    }
    let started = std::time::Instant::now();
    while flag.exists() && started.elapsed() < std::time::Duration::from_secs(60) {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Drops locations from the index and commits. `Writer::remove_location`
/// rewrites a document from its committed version, so two locations of one
/// document dropped before a commit would bring the first one back: what is
/// still there after a commit is dropped again, until nothing is left.
fn drop_locations(writer: &mut Writer, stable_keys: &[String]) -> Result<(), RetentionError> {
    let mut left: Vec<&String> = stable_keys.iter().collect();
    for _ in 0..64 {
        if left.is_empty() {
            break;
        }
        for k in &left {
            writer.remove_location(k)?;
        }
        writer.commit()?;
        left.retain(|k| writer.has_location(k));
    }
    Ok(())
}

/// What the re-check of one live copy found.
enum Verdict {
    /// Its bytes are a sealed copy of the message: it may go.
    Sealed(String),
    /// Its bytes (this SHA-256) are not sealed: it stays.
    NotSealed(String),
    /// It is some other message now: it stays.
    OtherMail,
}

/// The live copies of the messages being removed, and what is known of them.
#[derive(Default)]
struct Removal {
    /// Per key, the SHA-256s of its sealed copies.
    sealed: HashMap<String, HashSet<String>>,
    /// Maildir (and `.eml`) files: (key, path as indexed).
    files: Vec<(String, PathBuf)>,
    /// Mbox copies by file: (key, offset, len).
    mboxes: BTreeMap<PathBuf, Vec<(String, u64, u64)>>,
    /// Keys whose every live copy may be gone after this run.
    candidates: Vec<String>,
    /// Keys with a copy that stays live.
    incomplete: HashSet<String>,
    /// Keys with a copy removed by this run.
    removed_keys: BTreeSet<String>,
}

impl Removal {
    fn verdict(&self, key: &str, bytes: &[u8]) -> Verdict {
        let sha = copies::sha256(bytes);
        if !self.sealed.get(key).is_some_and(|s| s.contains(&sha)) {
            return Verdict::NotSealed(sha);
        }
        if crate::index::doc::is_keyed(bytes, key) {
            Verdict::Sealed(sha)
        } else {
            Verdict::OtherMail
        }
    }

    fn keep(&mut self, report: &mut RunReport, key: &str, why: String) {
        self.incomplete.insert(key.to_string());
        report.kept.push(format!("{key}: {why}"));
    }
}

/// Removes the live copies of archived messages whose policy says so, unless held.
pub(super) fn remove_pending(
    ctx: &Context<'_>,
    writer: &mut Writer,
    removing: &HashMap<&str, &RetentionPolicy>,
    report: &mut RunReport,
) -> Result<(), RetentionError> {
    // (key, volume location, policy) of every archived message still live.
    let pending: Vec<(String, String, String)> = {
        let conn = ctx.retention.conn();
        let mut stmt = conn.prepare("SELECT key, location, policy FROM archived WHERE removed_at IS NULL ORDER BY volume, rowid")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        rows.collect::<Result<_, _>>()?
    };
    let pending: Vec<_> = pending
        .into_iter()
        .filter(|(_, _, p)| removing.contains_key(p.as_str()))
        .collect();
    if pending.is_empty() {
        return Ok(());
    }
    pause_point(&ctx.dir);
    // Holds are read now, after archiving: a hold placed during the run counts.
    let held = held_keys(ctx)?;
    let mut r = Removal::default();
    for (key, vol_loc, _) in &pending {
        if held.contains(key) {
            report.held += 1;
            continue;
        }
        let Some(m) = crate::query::find_message(ctx.index, key)? else {
            // Not indexed any more (its live copies are gone): nothing live to remove.
            r.candidates.push(key.clone());
            continue;
        };
        let vol_key = copies::source_key(vol_loc);
        if !m.locations.iter().any(|l| copies::source_key(l) == vol_key) {
            report.kept.push(format!(
                "{key}: its volume location is not indexed yet; removal waits"
            ));
            continue;
        }
        r.sealed
            .insert(key.clone(), ctx.retention.sealed_shas(key)?);
        for uri in &m.locations {
            match Location::from_uri(uri) {
                Ok(Location::File { path }) => r.files.push((key.clone(), path)),
                Ok(Location::Mbox { path, offset, len }) => r
                    .mboxes
                    .entry(path)
                    .or_default()
                    .push((key.clone(), offset, len)),
                Ok(Location::Git { repo, .. }) => r.keep(
                    report,
                    key,
                    format!(
                        "in public-inbox {}: reported, not rewritten",
                        repo.display()
                    ),
                ),
                _ => {}
            }
        }
        r.candidates.push(key.clone());
    }
    let files = std::mem::take(&mut r.files);
    for batch in files.chunks(FILE_BATCH) {
        remove_files(ctx, writer, &mut r, batch, report)?;
    }
    let mboxes = std::mem::take(&mut r.mboxes);
    for (path, msgs) in &mboxes {
        remove_from_mbox(ctx, writer, &mut r, path, msgs, report)?;
    }
    writer.commit()?;
    ctx.index
        .reader
        .reload()
        .map_err(crate::index::IndexError::from)?;
    let finished: Vec<&String> = r
        .candidates
        .iter()
        .filter(|k| !r.incomplete.contains(*k))
        .collect();
    report.removed += r.removed_keys.len() as u64;
    let now = ctx.now;
    let count = finished.len();
    ctx.retention.write(|tx| {
        for k in &finished {
            tx.execute("UPDATE archived SET removed_at = ?2 WHERE key = ?1 AND removed_at IS NULL", params![k, now])?;
        }
        crate::audit::append(
            tx,
            ctx.actor,
            "archive.remove",
            "live-store",
            &serde_json::json!({"removed": r.removed_keys.len(), "removed_copies": report.removed_copies,
                "completed": count, "held": report.held, "kept": report.kept.len()}),
        )?;
        Ok(())
    })?;
    Ok(())
}

/// Re-checks and unlinks a batch of Maildir files; their removal is recorded first.
fn remove_files(
    ctx: &Context<'_>,
    writer: &mut Writer,
    r: &mut Removal,
    batch: &[(String, PathBuf)],
    report: &mut RunReport,
) -> Result<(), RetentionError> {
    let mut go: Vec<(Copy, PathBuf)> = Vec::new();
    let mut stale: Vec<String> = Vec::new();
    let mut dropped: Vec<String> = Vec::new();
    for (key, indexed) in batch {
        let source = Location::File {
            path: indexed.clone(),
        }
        .stable_key();
        let path = if indexed.exists() {
            indexed.clone()
        } else {
            crate::store::maildir::find_renamed(indexed).unwrap_or_else(|| indexed.clone())
        };
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                dropped.push(source);
                continue;
            }
            Err(e) => {
                r.keep(
                    report,
                    key,
                    format!("{}: cannot be read ({e}); left alone", path.display()),
                );
                continue;
            }
        };
        match r.verdict(key, &bytes) {
            Verdict::Sealed(sha256) => go.push((
                Copy {
                    source,
                    key: key.clone(),
                    sha256,
                },
                path,
            )),
            Verdict::NotSealed(sha) => {
                let why = format!(
                    "{}: its bytes (SHA-256 {sha}) are not sealed yet; it stays until a run seals them",
                    path.display()
                );
                r.keep(report, key, why);
                stale.push(source);
            }
            Verdict::OtherMail => {
                r.keep(
                    report,
                    key,
                    format!("{} holds other mail now; left alone", path.display()),
                );
                dropped.push(source);
            }
        }
    }
    // Write-ahead: each copy's removal is recorded before its file goes.
    let now = ctx.now;
    let recorded: Vec<bool> = ctx.retention.write(|tx| {
        copies::forget_live(tx, &stale)?;
        go.iter()
            .map(|(c, _)| copies::record_copy(tx, c, now, Some(now)))
            .collect()
    })?;
    let mut dirs: BTreeSet<PathBuf> = BTreeSet::new();
    for ((copy, path), recorded) in go.iter().zip(recorded) {
        if !recorded {
            r.keep(
                report,
                &copy.key,
                format!(
                    "{}: its sealed copy is not recorded; left alone",
                    path.display()
                ),
            );
            continue;
        }
        match std::fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(store_err(path, e)),
        }
        dirs.extend(path.parent().map(Path::to_path_buf));
        r.removed_keys.insert(copy.key.clone());
        report.removed_copies += 1;
        dropped.push(copy.source.clone());
    }
    for dir in dirs {
        let _ = std::fs::File::open(&dir).and_then(|d| d.sync_all());
    }
    drop_locations(writer, &dropped)
}

/// Rewrites one mbox without the copies whose bytes are sealed, then
/// re-indexes it (offsets moved) and drops its stale locations.
fn remove_from_mbox(
    ctx: &Context<'_>,
    writer: &mut Writer,
    r: &mut Removal,
    path: &Path,
    msgs: &[(String, u64, u64)],
    report: &mut RunReport,
) -> Result<(), RetentionError> {
    let spans: Vec<(u64, u64)> = msgs.iter().map(|(_, o, l)| (*o, *l)).collect();
    let wanted: HashMap<u64, (&str, u64)> = msgs
        .iter()
        .map(|(k, o, l)| (*o, (k.as_str(), *l)))
        .collect();
    let prefix = {
        let uri = Location::Mbox {
            path: path.to_path_buf(),
            offset: 0,
            len: 0,
        }
        .to_uri();
        uri[..uri.rfind('#').map_or(uri.len(), |i| i + 1)].to_string()
    };
    let old: BTreeSet<String> = writer.locations_with_prefix(&prefix)?.into_iter().collect();
    let mut refused: Vec<(String, String)> = Vec::new();
    let now = ctx.now;
    let taken = super::mbox_rewrite::remove_messages(
        path,
        &spans,
        |offset, bytes| {
            let &(key, len) = wanted.get(&offset)?;
            let source = Location::Mbox {
                path: path.to_path_buf(),
                offset,
                len,
            }
            .stable_key();
            match r.verdict(key, bytes) {
                Verdict::Sealed(sha256) => Some(Copy {
                    source,
                    key: key.to_string(),
                    sha256,
                }),
                Verdict::NotSealed(sha) => {
                    refused.push((key.to_string(), format!(
                        "{source}: its bytes (SHA-256 {sha}) are not sealed yet; it stays until a run seals them"
                    )));
                    None
                }
                Verdict::OtherMail => None,
            }
        },
        |taken| {
            ctx.retention.write(|tx| {
                for c in taken {
                    if !copies::record_copy(tx, c, now, Some(now))? {
                        return Err(RetentionError::Invalid(format!(
                            "{}: the sealed copy of {} is not recorded; the mbox is left as it was",
                            c.source, c.key
                        )));
                    }
                }
                Ok(())
            })
        },
    );
    for (key, why) in refused {
        r.keep(report, &key, why);
    }
    let taken = match taken {
        Ok(taken) => taken,
        Err(e) => {
            for (k, _, _) in msgs {
                r.incomplete.insert(k.clone());
            }
            report.kept.push(e.to_string());
            return Ok(());
        }
    };
    // A copy not cut (refused, or not at its indexed offset) may still be in the file.
    let cut: HashSet<&str> = taken.iter().map(|c| c.source.as_str()).collect();
    for (k, o, l) in msgs {
        let source = Location::Mbox {
            path: path.to_path_buf(),
            offset: *o,
            len: *l,
        }
        .stable_key();
        if !cut.contains(source.as_str()) {
            r.incomplete.insert(k.clone());
        }
    }
    report.removed_copies += taken.len() as u64;
    r.removed_keys.extend(taken.iter().map(|c| c.key.clone()));
    // Index the rewritten mbox (offsets moved), then drop every location
    // of it that the rewritten file no longer has.
    let source = Source::new(path.to_path_buf(), SourceKind::Mbox, None);
    let scan = crate::store::scan(path, SourceKind::Mbox, &Default::default())?;
    let items: Vec<Item> = scan
        .map(|it| -> Item { (it, source.list.clone()) })
        .collect();
    let fresh: BTreeSet<String> = items
        .iter()
        .filter_map(|(it, _)| it.as_ref().ok().map(|r| r.location.stable_key()))
        .collect();
    ingest::ingest_items(
        writer,
        items.into_iter(),
        &IngestOptions::default(),
        &|_| {},
    )?;
    writer.commit()?;
    let stale: Vec<String> = old.difference(&fresh).cloned().collect();
    drop_locations(writer, &stale)?;
    // Copies known at offsets the file no longer has are read again where they are now.
    ctx.retention.write(|tx| copies::forget_live(tx, &stale))?;
    ctx.index
        .reader
        .reload()
        .map_err(crate::index::IndexError::from)?;
    Ok(())
}
