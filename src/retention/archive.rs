//! `gleaner archive run`: due mail into sealed volumes, then — only after the
//! volume was re-read and every message's hash checked — out of the live store.
//!
//! The order makes a `kill -9` at any moment safe:
//! 1. leftovers of an interrupted run are cleaned (`*.partial`: their mail is
//!    still in the live store) and sealed volumes the database does not know
//!    yet are recorded (a crash between sealing and recording);
//! 2. due mail is written into a volume, which is sealed (fsync, rename,
//!    read-only) and verified. Every live copy of a message whose bytes are
//!    not sealed yet is read and each distinct byte-copy (by SHA-256) gets its
//!    own entry: a list's re-delivery with other `Received` headers or MIME
//!    boundaries is one indexed message but two sealed copies;
//! 3. its messages and copies are recorded as archived (one transaction, with
//!    the audit entry; see [`super::copies`]) and the volume is indexed, so
//!    each message gains a volume location per sealed copy;
//! 4. only then are live copies removed ([`super::removal`]) — each one
//!    re-checked right before: its current bytes must hash to a sealed copy of
//!    the message, else it stays (and is sealed by the next run) — a Maildir
//!    file unlinked, an mbox rewritten under its lock; the index drops those
//!    locations and keeps the volume's. A removal cut short is completed by
//!    the next run.
//!
//! Mail matching an active legal hold is archived but never removed; the
//! holds are read again before each removal, so a hold placed during a run
//! still protects its mail.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use rusqlite::params;
use serde::Serialize;

use super::copies::{self, Copy};
use super::{Retention, RetentionError, RetentionPolicy};
use crate::curate::Curation;
use crate::index::doc::StoredMessage;
use crate::index::ingest::{self, IngestOptions, Item};
use crate::index::writer::Writer;
use crate::index::MailIndex;
use crate::query::facets::year_month;
use crate::query::retention::{due, DueRequest};
use crate::store::volume::{self, ArchivedMessage, VolumeScan, VolumeWriter};
use crate::store::Location;

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
    /// Its live copies (location URIs) not yet known to be sealed: each is
    /// read, and its bytes sealed unless a sealed copy has them already.
    pub copies: Vec<String>,
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
    /// Messages archived (some copy of theirs sealed by this run).
    pub archived: u64,
    /// Distinct byte-copies sealed (one more entry each in a volume).
    pub sealed_copies: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Messages whose live copies were removed.
    pub removed: u64,
    /// Live copies removed (each one's bytes were sealed).
    pub removed_copies: u64,
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

/// Works out what `policies` make due now, within one long job's budget
/// (`[limits] job_deadline_ms`) for all its queries.
pub fn plan(ctx: &Context<'_>, policies: &[RetentionPolicy]) -> Result<Plan, RetentionError> {
    let budget = crate::query::limits::Budget::job();
    let known = ctx.retention.known_live_copies()?;
    let held = held_keys(ctx)?;
    let mut seen: HashSet<String> = HashSet::new();
    let mut plan = Plan::default();
    let mut rows: BTreeMap<(String, String, i32), PlanRow> = BTreeMap::new();
    for p in policies {
        let Some(cutoff) = p.cutoff(ctx.now)? else {
            continue;
        };
        let before = (cutoff != i64::MAX).then_some(cutoff);
        // Named as `list:` reads them; a name of several lists is refused.
        let lists = crate::query::lists::resolve_names(ctx.index, &p.lists)?.lists;
        let mut msgs = due(
            ctx.index,
            &DueRequest {
                lists: &lists,
                filter: p.query.as_deref(),
                before,
                basis: p.age_basis,
                now: ctx.now,
                marks: Some(ctx.retention),
            },
            &budget,
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
                .undecided(ctx.index, review, ctx.now, &budget)?
                .into_iter()
                .collect();
            let before = msgs.len();
            msgs.retain(|m| !undecided.contains(&m.thread_id));
            plan.waiting_for_review += (before - msgs.len()) as u64;
        }
        for m in msgs {
            let copies: Vec<String> = m
                .locations
                .iter()
                .filter(|l| !l.starts_with("volume:"))
                .filter(|l| !known.contains(&(copies::source_key(l), m.key.clone())))
                .cloned()
                .collect();
            if copies.is_empty() {
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
                copies,
            });
        }
    }
    plan.rows = rows.into_values().collect();
    Ok(plan)
}

/// Keys of every message an active hold covers, as of now.
pub(super) fn held_keys(ctx: &Context<'_>) -> Result<HashSet<String>, RetentionError> {
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
    let total: u64 = plan
        .items
        .iter()
        .map(|i| i.message.size * i.copies.len() as u64)
        .sum();
    let mut done = 0u64;
    let mut indexing = std::time::Duration::ZERO;
    let started = std::time::Instant::now();
    let mut by_policy: BTreeMap<&str, Vec<&PlanItem>> = BTreeMap::new();
    for item in &plan.items {
        by_policy.entry(&item.policy).or_default().push(item);
    }
    // Per key, the SHA-256s sealed so far (before this run, or by it).
    let mut sealed: HashMap<String, HashSet<String>> = HashMap::new();
    // Live copies whose bytes a sealed copy has already: recorded at the end.
    let mut identical: Vec<Copy> = Vec::new();
    for (policy, mut items) in by_policy {
        // In the order of the live store: an mbox is read front to back, a Maildir
        // folder by folder.
        items.sort_by_cached_key(|item| live_order(&item.copies));
        let mut open: Option<VolumeWriter> = None;
        let mut last_archived: Option<usize> = None;
        // Reading and hashing the live copies runs ahead of compressing them.
        let (tx, rx) = crossbeam_channel::bounded::<(usize, String, ReadCopy)>(64);
        let to_read: Vec<(usize, String)> = items
            .iter()
            .enumerate()
            .flat_map(|(i, item)| item.copies.iter().map(move |c| (i, c.clone())))
            .collect();
        let reader = std::thread::Builder::new()
            .name("archive-read".into())
            .spawn(move || {
                let mut reader = crate::store::LocationReader::default();
                for (i, uri) in to_read {
                    let raw = Location::from_uri(&uri)
                        .and_then(|l| reader.read(&l))
                        .map(|bytes| (copies::sha256(&bytes), bytes))
                        .map_err(|e| e.to_string());
                    if tx.send((i, uri, raw)).is_err() {
                        break;
                    }
                }
            })
            .map_err(|e| store_err(&ctx.dir, e))?;
        for (i, uri, raw) in rx.iter() {
            let Some(item) = items.get(i) else { continue };
            let m = &item.message;
            done += m.size;
            progress(done, total);
            let (sha, raw) = match raw {
                Ok(read) => read,
                Err(e) => {
                    report.unreadable.push(format!("{}: {uri}: {e}", m.key));
                    continue;
                }
            };
            // A location gone stale (an mbox rewritten by a run that was
            // killed before it re-indexed the file) can hold part of another
            // message: only bytes that are this message are sealed.
            if !crate::index::doc::is_keyed(&raw, &m.key) {
                report.kept.push(format!(
                    "{}: {uri} no longer holds this message; not sealed",
                    m.key
                ));
                continue;
            }
            let shas = match sealed.entry(m.key.clone()) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => {
                    e.insert(ctx.retention.sealed_shas(&m.key)?)
                }
            };
            if shas.contains(&sha) {
                identical.push(Copy {
                    source: copies::source_key(&uri),
                    key: m.key.clone(),
                    sha256: sha,
                });
                continue;
            }
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
                source: &uri,
                envelope_from: sender.as_deref(),
                raw: &raw,
            })?;
            shas.insert(sha);
            report.sealed_copies += 1;
            if last_archived.replace(i) != Some(i) {
                report.archived += 1;
            }
            report.bytes += raw.len() as u64;
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
    // Every volume is sealed and recorded now: copies identical to a sealed one
    // are recorded as known (only where that sealed copy is recorded).
    if !identical.is_empty() {
        ctx.retention.write(|tx| {
            for c in &identical {
                copies::record_copy(tx, c, ctx.now, None)?;
            }
            Ok(())
        })?;
    }
    report.seconds_indexing = indexing.as_secs_f64();
    report.seconds_volumes = (started.elapsed() - indexing).as_secs_f64();
    let removing = std::time::Instant::now();
    let removing_policies: HashMap<&str, &RetentionPolicy> = policies
        .iter()
        .filter(|p| p.remove_from_live)
        .map(|p| (p.name.as_str(), p))
        .collect();
    super::removal::remove_pending(ctx, writer, &removing_policies, &mut report)?;
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

/// A live copy read for sealing: (its SHA-256, its bytes), or why it could not be read.
type ReadCopy = Result<(String, Vec<u8>), String>;

pub(super) fn store_err(path: &Path, e: impl std::fmt::Display) -> RetentionError {
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

/// Records a verified volume's messages as archived, each entry as a sealed
/// copy and the live copy it was read from as known, with its audit entry.
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
            copies::record_sealed(tx, &e.key, &e.sha256, &manifest.name, &loc.to_uri(), ctx.now)?;
            let copy = Copy {
                source: copies::source_key(&e.source),
                key: e.key.clone(),
                sha256: e.sha256.clone(),
            };
            copies::record_copy(tx, &copy, ctx.now, None)?;
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
