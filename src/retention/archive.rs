//! `gleaner archive run`: due mail into sealed volumes, then — only after the
//! volume was re-read and every message's hash checked — out of the live store.
//!
//! The order makes a `kill -9` at any moment safe:
//! 1. leftovers of an interrupted run are cleaned (`*.partial`: their mail is
//!    still in the live store) and sealed volumes the database does not know
//!    yet are recorded (a crash between sealing and recording);
//! 2. due mail is written into a volume, which is sealed (fsync, rename,
//!    read-only) and verified;
//! 3. its messages are recorded as archived (one transaction, with the audit
//!    entry) and the volume is indexed, so each message gains a volume location;
//! 4. only then are live copies removed — each one re-checked to be the
//!    archived message (by its key) right before — a Maildir file unlinked, an
//!    mbox rewritten under its lock; the index drops those locations and keeps
//!    the volume's. A removal cut short is completed by the next run.
//!
//! Mail matching an active legal hold is archived but never removed; the
//! holds are read again before each removal, so a hold placed during a run
//! still protects its mail.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};

use rusqlite::params;
use serde::Serialize;

use super::{Retention, RetentionError, RetentionPolicy};
use crate::curate::Curation;
use crate::index::doc::StoredMessage;
use crate::index::ingest::{self, IngestOptions, Item, Source};
use crate::index::writer::Writer;
use crate::index::MailIndex;
use crate::query::facets::year_month;
use crate::query::retention::{due, DueRequest};
use crate::store::volume::{self, ArchivedMessage, VolumeScan, VolumeWriter};
use crate::store::{Location, SourceKind};

/// What an archive run works with.
pub struct Context<'a> {
    /// The index (its writer is held by the run).
    pub index: &'a MailIndex,
    /// The archive and hold tables.
    pub retention: &'a Retention,
    /// Review queues, for `after_review`.
    pub curation: Option<&'a Curation>,
    /// Directory of the volumes.
    pub dir: PathBuf,
    /// A volume closes when its mbox reaches this many bytes.
    pub volume_size: u64,
    /// Who runs it (for the audit log).
    pub actor: &'a str,
    /// Now (unix seconds).
    pub now: i64,
}

/// One message a policy makes due.
#[derive(Debug, Clone)]
pub struct PlanItem {
    /// The policy.
    pub policy: String,
    /// The message as indexed.
    pub message: StoredMessage,
}

/// Counts for one (policy, list, year).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PlanRow {
    /// Policy.
    pub policy: String,
    /// List (empty: none).
    pub list: String,
    /// Year of the message date.
    pub year: i32,
    /// Messages due.
    pub messages: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Of them, to leave the live store after archiving (not held, policy says so).
    pub to_remove: u64,
}

/// What would move.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// The messages, per policy, oldest first.
    pub items: Vec<PlanItem>,
    /// Per policy, list and year.
    pub rows: Vec<PlanRow>,
    /// Messages waiting for their thread's review.
    pub waiting_for_review: u64,
    /// Messages due but archived already.
    pub already_archived: u64,
}

/// What a run did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RunReport {
    /// Volumes sealed and verified.
    pub volumes: Vec<String>,
    /// Messages archived.
    pub archived: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Messages whose live copies were removed.
    pub removed: u64,
    /// Messages kept in the live store by a legal hold.
    pub held: u64,
    /// Messages that could not be read (stay live, reported).
    pub unreadable: Vec<String>,
    /// Live copies that were not removed, and why (public-inbox, compressed mbox...).
    pub kept: Vec<String>,
    /// Sealed volumes found unrecorded (an interrupted run) and recorded now.
    pub recovered_volumes: Vec<String>,
    /// Seconds spent reading, compressing, sealing and verifying volumes.
    pub seconds_volumes: f64,
    /// Seconds spent indexing the volumes' locations.
    pub seconds_indexing: f64,
    /// Seconds spent removing live copies (and re-indexing what they left).
    pub seconds_removing: f64,
}

fn location_under(uri: &str, sources: &[PathBuf]) -> bool {
    let Ok(loc) = Location::from_uri(uri) else {
        return false;
    };
    let Some((path, _)) = loc.live_place() else {
        return false;
    };
    sources.iter().any(|s| {
        let s = std::fs::canonicalize(s).unwrap_or_else(|_| s.clone());
        path.starts_with(&s)
    })
}

/// Works out what `policies` make due now.
pub fn plan(ctx: &Context<'_>, policies: &[RetentionPolicy]) -> Result<Plan, RetentionError> {
    let archived = ctx.retention.archived_keys()?;
    let held = held_keys(ctx)?;
    let mut seen: HashSet<String> = HashSet::new();
    let mut plan = Plan::default();
    let mut rows: BTreeMap<(String, String, i32), PlanRow> = BTreeMap::new();
    for p in policies {
        let Some(cutoff) = p.cutoff(ctx.now)? else {
            continue;
        };
        let before = (cutoff != i64::MAX).then_some(cutoff);
        let mut msgs = due(
            ctx.index,
            &DueRequest {
                lists: &p.lists,
                filter: p.query.as_deref(),
                before,
                basis: p.age_basis,
                now: ctx.now,
                marks: Some(ctx.retention),
            },
        )?;
        if !p.sources.is_empty() {
            msgs.retain(|m| m.locations.iter().any(|l| location_under(l, &p.sources)));
        }
        if let Some(review) = &p.after_review {
            let curation = ctx.curation.ok_or_else(|| {
                RetentionError::Invalid(format!(
                    "policy {:?} waits for review {review:?}, but there is no curation database",
                    p.name
                ))
            })?;
            let undecided: HashSet<String> = curation
                .undecided(ctx.index, review, ctx.now)?
                .into_iter()
                .collect();
            let before = msgs.len();
            msgs.retain(|m| !undecided.contains(&m.thread_id));
            plan.waiting_for_review += (before - msgs.len()) as u64;
        }
        for m in msgs {
            if m.locations.iter().all(|l| l.starts_with("volume:")) || archived.contains(&m.key) {
                plan.already_archived += 1;
                continue;
            }
            if !seen.insert(m.key.clone()) {
                continue;
            }
            let year = if m.date > 0 { year_month(m.date).0 } else { 0 };
            let row = rows
                .entry((p.name.clone(), m.list.clone(), year))
                .or_insert_with(|| PlanRow {
                    policy: p.name.clone(),
                    list: m.list.clone(),
                    year,
                    messages: 0,
                    bytes: 0,
                    to_remove: 0,
                });
            row.messages += 1;
            row.bytes += m.size;
            if p.remove_from_live && !held.contains(&m.key) {
                row.to_remove += 1;
            }
            plan.items.push(PlanItem {
                policy: p.name.clone(),
                message: m,
            });
        }
    }
    plan.rows = rows.into_values().collect();
    Ok(plan)
}

/// Keys of every message an active hold covers, as of now.
fn held_keys(ctx: &Context<'_>) -> Result<HashSet<String>, RetentionError> {
    let mut out = HashSet::new();
    for q in ctx.retention.active_hold_queries()? {
        let req = crate::query::Request {
            query: q,
            limit: 1,
            offset: 0,
            sort: crate::query::Sort::Oldest,
            now: ctx.now,
            allowed_lists: None,
            marks: None,
        };
        crate::query::for_each_match(ctx.index, &req, |m| {
            out.insert(m.key);
            true
        })?;
    }
    Ok(out)
}

fn envelope_sender(m: &StoredMessage) -> Option<String> {
    m.from.first().map(|f| {
        f.rsplit_once('<')
            .map(|(_, a)| a.trim_end_matches('>').to_string())
            .unwrap_or_else(|| f.clone())
    })
}

/// Runs `policies`: archive what is due, then remove what may leave the live store.
pub fn run(
    ctx: &Context<'_>,
    policies: &[RetentionPolicy],
    writer: &mut Writer,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<RunReport, RetentionError> {
    std::fs::create_dir_all(&ctx.dir).map_err(|e| store_err(&ctx.dir, e))?;
    let mut report = RunReport::default();
    volume::cleanup_partial(&ctx.dir)?;
    report.recovered_volumes = reconcile(ctx, writer)?;
    let plan = plan(ctx, policies)?;
    let total: u64 = plan.items.iter().map(|i| i.message.size).sum();
    let mut done = 0u64;
    let mut indexing = std::time::Duration::ZERO;
    let started = std::time::Instant::now();
    let mut by_policy: BTreeMap<&str, Vec<&PlanItem>> = BTreeMap::new();
    for item in &plan.items {
        by_policy.entry(&item.policy).or_default().push(item);
    }
    for (policy, mut items) in by_policy {
        // In the order of the live store: an mbox is read front to back, a Maildir
        // folder by folder.
        items.sort_by_cached_key(|item| live_order(&item.message.locations));
        let mut open: Option<VolumeWriter> = None;
        // Reading the live copies runs ahead of compressing them.
        let (tx, rx) = crossbeam_channel::bounded::<(usize, Result<Vec<u8>, String>)>(64);
        let to_read: Vec<Vec<String>> = items
            .iter()
            .map(|item| {
                item.message
                    .locations
                    .iter()
                    .filter(|l| !l.starts_with("volume:"))
                    .cloned()
                    .collect()
            })
            .collect();
        let reader = std::thread::Builder::new()
            .name("archive-read".into())
            .spawn(move || {
                let mut reader = crate::store::LocationReader::default();
                for (i, live) in to_read.iter().enumerate() {
                    let raw = reader.read_first(live).map_err(|e| e.to_string());
                    if tx.send((i, raw)).is_err() {
                        break;
                    }
                }
            })
            .map_err(|e| store_err(&ctx.dir, e))?;
        for (i, raw) in rx.iter() {
            let Some(item) = items.get(i) else { continue };
            let m = &item.message;
            let live = m
                .locations
                .iter()
                .find(|l| !l.starts_with("volume:"))
                .cloned()
                .unwrap_or_default();
            let raw = match raw {
                Ok(raw) => raw,
                Err(e) => {
                    report.unreadable.push(format!("{}: {e}", m.key));
                    continue;
                }
            };
            let w = match open.as_mut() {
                Some(w) => w,
                None => open.insert(VolumeWriter::create(&ctx.dir, policy)?),
            };
            let sender = envelope_sender(m);
            w.append(&ArchivedMessage {
                message_id: &m.message_id,
                key: &m.key,
                date: m.date,
                list: &m.list,
                source: &live,
                envelope_from: sender.as_deref(),
                raw: &raw,
            })?;
            report.archived += 1;
            report.bytes += raw.len() as u64;
            done += m.size;
            progress(done, total);
            if w.mbox_bytes() >= ctx.volume_size {
                if let Some(w) = open.take() {
                    report
                        .volumes
                        .push(finish_volume(ctx, writer, w, policy, &mut indexing)?);
                }
            }
        }
        let _ = reader.join();
        if let Some(w) = open.take() {
            report
                .volumes
                .push(finish_volume(ctx, writer, w, policy, &mut indexing)?);
        }
    }
    report.seconds_indexing = indexing.as_secs_f64();
    report.seconds_volumes = (started.elapsed() - indexing).as_secs_f64();
    let removing = std::time::Instant::now();
    let removing_policies: HashMap<&str, &RetentionPolicy> = policies
        .iter()
        .filter(|p| p.remove_from_live)
        .map(|p| (p.name.as_str(), p))
        .collect();
    remove_pending(ctx, writer, &removing_policies, &mut report)?;
    report.seconds_removing = removing.elapsed().as_secs_f64();
    Ok(report)
}

/// Where a message's first live copy lies: (file, offset in it).
fn live_order(locations: &[String]) -> (PathBuf, u64) {
    let live = locations.iter().find(|l| !l.starts_with("volume:"));
    let loc = live.and_then(|l| Location::from_uri(l).ok());
    loc.as_ref()
        .and_then(Location::live_place)
        .map(|(path, offset)| (path.to_path_buf(), offset))
        .unwrap_or_default()
}

fn store_err(path: &Path, e: impl std::fmt::Display) -> RetentionError {
    RetentionError::Store {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// Seals, verifies, records and indexes one volume; returns its name.
fn finish_volume(
    ctx: &Context<'_>,
    writer: &mut Writer,
    w: VolumeWriter,
    policy: &str,
    indexing: &mut std::time::Duration,
) -> Result<String, RetentionError> {
    let manifest = w.seal()?;
    let check = volume::verify_volume(&ctx.dir, &manifest);
    if !check.problems.is_empty() {
        let problems: Vec<String> = check.problems.iter().map(|p| p.to_string()).collect();
        return Err(RetentionError::Unverified {
            volume: manifest.name.clone(),
            problems: problems.join("; "),
        });
    }
    record(ctx, &manifest, policy, "archive.seal")?;
    let t = std::time::Instant::now();
    index_volume(ctx, writer, &manifest)?;
    *indexing += t.elapsed();
    Ok(manifest.name)
}

/// Records a verified volume's messages as archived, with its audit entry.
fn record(
    ctx: &Context<'_>,
    manifest: &volume::Manifest,
    policy: &str,
    action: &str,
) -> Result<(), RetentionError> {
    let path = manifest.mbox_path(&ctx.dir);
    ctx.retention.write(|tx| {
        for e in &manifest.messages {
            let loc = Location::Volume {
                path: path.clone(),
                entry: Box::new(e.clone()),
            };
            tx.prepare_cached(
                "INSERT INTO archived (key, message_id, mid, volume, location, sha256, policy, archived_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT(key) DO NOTHING",
            )?
            .execute(params![e.key, e.message_id, e.message_id.to_lowercase(), manifest.name, loc.to_uri(), e.sha256, policy, ctx.now],
            )?;
        }
        crate::audit::append(
            tx,
            ctx.actor,
            action,
            &format!("volume:{}", manifest.name),
            &serde_json::json!({"policy": policy, "messages": manifest.message_count,
                "mbox_bytes": manifest.mbox_bytes, "volume_bytes": manifest.volume_bytes,
                "volume_sha256": manifest.volume_sha256}),
        )?;
        Ok(())
    })
}

/// Adds a volume's locations to the index (documents keep their live ones).
fn index_volume(
    ctx: &Context<'_>,
    writer: &mut Writer,
    manifest: &volume::Manifest,
) -> Result<(), RetentionError> {
    let scan = VolumeScan::single(&ctx.dir, manifest.clone());
    let items = scan.map(|it| -> Item { (it, None) });
    ingest::ingest_items(writer, items, &IngestOptions::default(), &|_| {})?;
    writer.commit()?;
    ctx.index
        .reader
        .reload()
        .map_err(crate::index::IndexError::from)?;
    Ok(())
}

/// Records sealed volumes the database does not know (a run killed between
/// sealing and recording); returns their names.
fn reconcile(ctx: &Context<'_>, writer: &mut Writer) -> Result<Vec<String>, RetentionError> {
    let known: HashSet<String> = {
        let conn = ctx.retention.conn();
        let mut stmt = conn.prepare("SELECT DISTINCT volume FROM archived")?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        rows.collect::<Result<_, _>>()?
    };
    let mut out = Vec::new();
    for manifest in volume::list_volumes(&ctx.dir)? {
        if known.contains(&manifest.name) {
            // Recorded, but perhaps killed before its locations were indexed.
            let uri = Location::Volume {
                path: manifest.mbox_path(&ctx.dir),
                entry: Box::default(),
            }
            .to_uri();
            let prefix = &uri[..uri.rfind('#').map_or(uri.len(), |i| i + 1)];
            if (writer.locations_with_prefix(prefix)?.len() as u64) < manifest.message_count {
                index_volume(ctx, writer, &manifest)?;
            }
            continue;
        }
        let check = volume::verify_volume(&ctx.dir, &manifest);
        if !check.problems.is_empty() {
            let problems: Vec<String> = check.problems.iter().map(|p| p.to_string()).collect();
            return Err(RetentionError::Unverified {
                volume: manifest.name.clone(),
                problems: problems.join("; "),
            });
        }
        let policy = manifest.policy.clone();
        record(ctx, &manifest, &policy, "archive.recover")?;
        index_volume(ctx, writer, &manifest)?;
        out.push(manifest.name);
    }
    Ok(out)
}

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

/// Removes the live copies of archived messages whose policy says so, unless held.
fn remove_pending(
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
    let mut files: Vec<(String, PathBuf)> = Vec::new();
    let mut mboxes: BTreeMap<PathBuf, Vec<(String, u64, u64)>> = BTreeMap::new();
    let mut done: Vec<String> = Vec::new();
    for (key, vol_loc, _) in &pending {
        if held.contains(key) {
            report.held += 1;
            continue;
        }
        let Some(m) = crate::query::find_message(ctx.index, key)? else {
            // Not indexed any more (its live copies are gone): nothing live to remove.
            done.push(key.clone());
            continue;
        };
        let vol_key = Location::from_uri(vol_loc)
            .map(|l| l.stable_key())
            .unwrap_or_default();
        if !m.locations.iter().any(|l| {
            Location::from_uri(l)
                .map(|l| l.stable_key())
                .ok()
                .as_deref()
                == Some(vol_key.as_str())
        }) {
            report.kept.push(format!(
                "{key}: its volume location is not indexed yet; removal waits"
            ));
            continue;
        }
        let mut complete = true;
        for uri in &m.locations {
            match Location::from_uri(uri) {
                Ok(Location::File { path }) => files.push((key.clone(), path)),
                Ok(Location::Mbox { path, offset, len }) => {
                    mboxes
                        .entry(path)
                        .or_default()
                        .push((key.clone(), offset, len))
                }
                Ok(Location::Git { repo, .. }) => {
                    complete = false;
                    report.kept.push(format!(
                        "{key}: in public-inbox {}: reported, not rewritten",
                        repo.display()
                    ));
                }
                _ => {}
            }
        }
        if complete {
            done.push(key.clone());
        }
    }
    let is_it = |key: &str, bytes: &[u8]| {
        crate::extract::extract(bytes, &Default::default()).is_ok_and(|d| d.key == key)
            || crate::extract::extract(bytes, &Default::default())
                .is_ok_and(|d| format!("sha256:{}", d.content_hash) == key)
    };
    let mut removed_keys: BTreeSet<String> = BTreeSet::new();
    for (key, path) in &files {
        let path = if path.exists() {
            path.clone()
        } else {
            crate::store::maildir::find_renamed(path).unwrap_or_else(|| path.clone())
        };
        match std::fs::read(&path) {
            Ok(bytes) if is_it(key, &bytes) => {
                std::fs::remove_file(&path).map_err(|e| store_err(&path, e))?;
                if let Some(dir) = path.parent() {
                    let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
                }
                removed_keys.insert(key.clone());
            }
            Ok(_) => report.kept.push(format!(
                "{key}: {} holds other mail now; left alone",
                path.display()
            )),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(store_err(&path, e)),
        }
        let loc = Location::File { path: path.clone() };
        writer.remove_location(&loc.stable_key())?;
    }
    for (path, msgs) in &mboxes {
        let spans: Vec<(u64, u64)> = msgs.iter().map(|(_, o, l)| (*o, *l)).collect();
        let wanted: HashMap<u64, &str> = msgs.iter().map(|(k, o, _)| (*o, k.as_str())).collect();
        let prefix = {
            let uri = Location::Mbox {
                path: path.clone(),
                offset: 0,
                len: 0,
            }
            .to_uri();
            uri[..uri.rfind('#').map_or(uri.len(), |i| i + 1)].to_string()
        };
        let old: BTreeSet<String> = writer.locations_with_prefix(&prefix)?.into_iter().collect();
        match super::mbox_rewrite::remove_messages(path, &spans, |o, bytes| {
            wanted.get(&o).is_some_and(|k| is_it(k, bytes))
        }) {
            Ok(_) => {}
            Err(e) => {
                report.kept.push(e.to_string());
                continue;
            }
        }
        // Index the rewritten mbox (offsets moved), then drop every location
        // of it that the rewritten file no longer has.
        let source = Source::new(path.clone(), SourceKind::Mbox, None);
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
        for stale in old.difference(&fresh) {
            writer.remove_location(stale)?;
        }
        writer.commit()?;
        ctx.index
            .reader
            .reload()
            .map_err(crate::index::IndexError::from)?;
        for (k, _, _) in msgs {
            removed_keys.insert(k.clone());
        }
    }
    writer.commit()?;
    ctx.index
        .reader
        .reload()
        .map_err(crate::index::IndexError::from)?;
    let finished: Vec<&String> = done
        .iter()
        .filter(|k| !report.kept.iter().any(|r| r.starts_with(k.as_str())))
        .collect();
    report.removed += removed_keys.len() as u64;
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
            &serde_json::json!({"removed": removed_keys.len(), "completed": count, "held": report.held, "kept": report.kept.len()}),
        )?;
        Ok(())
    })?;
    Ok(())
}
