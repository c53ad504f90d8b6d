//! Bulk ingestion: mail store → extraction (on every core) → the writer.
//!
//! One thread scans the sources and drops locations the index already holds
//! (nothing is re-extracted on a re-run); worker threads extract; the calling
//! thread owns the writer, deduplicates and commits every
//! [`IngestOptions::commit_every`] documents so memory stays bounded and a crash
//! loses at most one batch of work (re-done on the next run, never duplicated).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crossbeam_channel::bounded;
use serde::Serialize;

use super::writer::{Outcome, Writer};
use super::IndexError;
use crate::extract::{self, ExtractContext, MailDoc};
use crate::store::{self, Location, RawMessage, ScanOptions, SourceKind};

/// One source to read.
#[derive(Debug, Clone)]
pub struct Source {
    /// File or directory.
    pub path: PathBuf,
    /// Its format.
    pub kind: SourceKind,
    /// List name to use when a message has no List-Id.
    pub list: Option<String>,
    /// Glob patterns (relative to `path`) of files to read; empty: all.
    pub include: Vec<String>,
    /// Glob patterns of files to skip.
    pub exclude: Vec<String>,
}

impl From<&crate::config::SourceConfig> for Source {
    /// A configured `[[source]]`, its path made absolute so location keys are stable.
    fn from(c: &crate::config::SourceConfig) -> Source {
        Source {
            path: std::fs::canonicalize(&c.path).unwrap_or_else(|_| c.path.clone()),
            kind: c.kind,
            // A person's mailbox is filed under its own list whatever
            // List-Id its messages carry (`extract::mailbox_list`).
            list: c
                .owner
                .as_deref()
                .map(crate::extract::mailbox_list)
                .or_else(|| c.list.clone()),
            include: c.include.clone(),
            exclude: c.exclude.clone(),
        }
    }
}

impl Source {
    /// A source reading every file of `path`.
    pub fn new(path: PathBuf, kind: SourceKind, list: Option<String>) -> Source {
        Source {
            path,
            kind,
            list,
            include: Vec::new(),
            exclude: Vec::new(),
        }
    }

    /// Whether the file at `file` is selected by the include/exclude patterns.
    pub fn selects(&self, file: &std::path::Path) -> bool {
        if self.include.is_empty() && self.exclude.is_empty() {
            return true;
        }
        let relative = file.strip_prefix(&self.path).unwrap_or(file);
        store::glob::selected(relative, &self.include, &self.exclude)
    }

    /// Whether a message at `location` is selected (only file locations are filtered).
    pub fn selects_location(&self, location: &Location) -> bool {
        match location {
            Location::File { path } => self.selects(path),
            _ => true,
        }
    }
}

/// Tuning for a run.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// Extraction threads.
    pub workers: usize,
    /// Commit after this many new documents.
    pub commit_every: usize,
    /// Largest message read, in bytes.
    pub max_message_bytes: u64,
}

impl Default for IngestOptions {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        IngestOptions {
            workers: cores.max(1),
            commit_every: 50_000,
            max_message_bytes: 64 * 1024 * 1024,
        }
    }
}

/// What a run did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct IngestReport {
    /// Messages read from the sources (including ones already indexed).
    pub seen: u64,
    /// New documents.
    pub indexed: u64,
    /// Messages that were already indexed from another location.
    pub duplicates: u64,
    /// Locations already indexed by an earlier run.
    pub unchanged: u64,
    /// Messages that could not be indexed, by reason.
    pub skipped: BTreeMap<String, u64>,
    /// A few examples of skipped locations with their reasons.
    pub skipped_examples: Vec<(String, String)>,
    /// Defects noticed in messages that were indexed, by kind.
    pub defects: BTreeMap<String, u64>,
    /// Seconds taken.
    pub seconds: f64,
}

impl IngestReport {
    /// Total skipped messages.
    pub fn skipped_total(&self) -> u64 {
        self.skipped.values().sum()
    }

    /// Adds the counts of `other` (a later run) to these.
    pub fn absorb(&mut self, other: IngestReport) {
        self.seen += other.seen;
        self.indexed += other.indexed;
        self.duplicates += other.duplicates;
        self.unchanged += other.unchanged;
        for (k, v) in other.skipped {
            *self.skipped.entry(k).or_default() += v;
        }
    }

    fn skip(&mut self, location: String, reason: String) {
        if self.skipped_examples.len() < 20 {
            self.skipped_examples.push((location, reason.clone()));
        }
        *self.skipped.entry(reason).or_default() += 1;
    }
}

/// Progress so far, for a progress bar.
#[derive(Debug, Clone, Copy, Default)]
pub struct Progress {
    /// Messages handled.
    pub done: u64,
    /// New documents.
    pub indexed: u64,
}

enum Work {
    Extracted(Location, String, std::sync::Arc<MailDoc>),
    Skipped(String, String),
    Unchanged,
}

/// A message to ingest, with the list name of its source.
pub type Item = (Result<RawMessage, store::Skipped>, Option<String>);

/// Reads every source into the index and commits.
pub fn ingest(
    writer: &mut Writer,
    sources: &[Source],
    opts: &IngestOptions,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<IngestReport, IndexError> {
    let scan_opts = ScanOptions {
        max_message_bytes: opts.max_message_bytes,
    };
    // Open every source first so a bad path fails before any work.
    let mut scans = Vec::new();
    for s in sources {
        scans.push((store::scan(&s.path, s.kind, &scan_opts)?, s.clone()));
    }
    let items = scans.into_iter().flat_map(|(scan, source)| {
        let list = source.list.clone();
        scan.filter(move |item| match item {
            Ok(raw) => source.selects_location(&raw.location),
            Err(_) => true,
        })
        .map(move |item| (item, list.clone()))
    });
    let report = ingest_items(writer, items, opts, progress)?;
    writer.commit()?;
    Ok(report)
}

/// Extracts and upserts `items` on every core; commits every
/// [`IngestOptions::commit_every`] new documents but leaves the last batch
/// pending for the caller to commit (with its checkpoints).
///
/// Documents reach the writer in the order of `items`, whatever order the
/// workers finish in: which of two different messages sharing a Message-ID
/// keeps it as key (the other gets a `sha256:` key) is then the same on every
/// rebuild of the same sources.
pub fn ingest_items(
    writer: &mut Writer,
    items: impl Iterator<Item = Item> + Send,
    opts: &IngestOptions,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<IngestReport, IndexError> {
    let started = Instant::now();
    let mut report = IngestReport::default();
    let lookup = writer.location_lookup();
    let (raw_tx, raw_rx) = bounded::<(u64, RawMessage, Option<String>)>(512);
    let (work_tx, work_rx) = bounded::<(u64, Work)>(512);
    let mut result = Ok(());
    std::thread::scope(|scope| {
        let scan_tx = work_tx.clone();
        scope.spawn(move || {
            for (seq, (item, list)) in (0u64..).zip(items) {
                let sent = match item {
                    Ok(raw) if lookup.contains(&raw.location.stable_key()) => {
                        scan_tx.send((seq, Work::Unchanged)).is_ok()
                    }
                    Ok(raw) => raw_tx.send((seq, raw, list)).is_ok(),
                    Err(skip) => scan_tx
                        .send((seq, Work::Skipped(skip.location, skip.reason)))
                        .is_ok(),
                };
                if !sent {
                    return;
                }
            }
        });
        for _ in 0..opts.workers.max(1) {
            let rx = raw_rx.clone();
            let tx = work_tx.clone();
            scope.spawn(move || {
                for (seq, raw, list) in rx {
                    // A sealed volume records each message's list (the list
                    // of the copy it sealed), which its headers may not name.
                    let sealed_list = match &raw.location {
                        store::Location::Volume { entry, .. } if !entry.list.is_empty() => {
                            Some(entry.list.as_str())
                        }
                        _ => None,
                    };
                    let ctx = ExtractContext {
                        list: list.as_deref().or(sealed_list),
                        envelope: raw.envelope.as_deref(),
                        pipermail: store::pipermail::is_pipermail_message(&raw),
                    };
                    let work = match extract::extract(&raw.bytes, &ctx) {
                        Ok(doc) => {
                            Work::Extracted(raw.location, raw.flags, std::sync::Arc::new(doc))
                        }
                        Err(e) => Work::Skipped(raw.location.to_uri(), e.to_string()),
                    };
                    if tx.send((seq, work)).is_err() {
                        return;
                    }
                }
            });
        }
        drop(work_tx);
        drop(raw_rx);
        let mut since_commit = 0usize;
        let mut last_tick = Instant::now();
        // Results that arrived before an earlier item's, by sequence number.
        let mut early: BTreeMap<u64, Work> = BTreeMap::new();
        let mut next = 0u64;
        'receive: for (seq, work) in work_rx.iter() {
            early.insert(seq, work);
            while let Some(work) = early.remove(&next) {
                next += 1;
                if let Err(e) = apply(writer, work, &mut report, &mut since_commit, opts) {
                    result = Err(e);
                    break 'receive;
                }
                if last_tick.elapsed() > Duration::from_millis(100) {
                    last_tick = Instant::now();
                    progress(Progress {
                        done: report.seen,
                        indexed: report.indexed,
                    });
                }
            }
        }
        // Dropping the receiver stops the scanner and workers early on error.
        drop(work_rx);
    });
    result?;
    progress(Progress {
        done: report.seen,
        indexed: report.indexed,
    });
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// Hands one result to the writer and counts it; commits every
/// [`IngestOptions::commit_every`] new documents.
fn apply(
    writer: &mut Writer,
    work: Work,
    report: &mut IngestReport,
    since_commit: &mut usize,
    opts: &IngestOptions,
) -> Result<(), IndexError> {
    report.seen += 1;
    match work {
        Work::Unchanged => report.unchanged += 1,
        Work::Skipped(loc, reason) => report.skip(loc, reason),
        Work::Extracted(loc, flags, doc) => {
            for d in &doc.defects {
                *report.defects.entry(d.clone()).or_default() += 1;
            }
            match writer.upsert(&doc, &loc, &flags)? {
                Outcome::Added => {
                    report.indexed += 1;
                    *since_commit += 1;
                }
                Outcome::Duplicate => report.duplicates += 1,
                Outcome::Unchanged => report.unchanged += 1,
            }
            if *since_commit >= opts.commit_every {
                writer.commit()?;
                *since_commit = 0;
            }
        }
    }
    Ok(())
}

/// Expands a path given by the user into sources: a Maildir (or Maildir++
/// tree), a public-inbox, an mbox file or a `.eml` file is one source; any
/// other directory is searched for them, so `gleaner index archive/` finds
/// every Maildir and mbox below `archive/`. Mailman 2 text archives
/// (`2005-March.txt.gz`) are mbox sources whose list is the archive's (see
/// `discover_pipermail`).
pub fn discover(path: &std::path::Path, list: Option<&str>) -> Result<Vec<Source>, IndexError> {
    // Absolute paths, so the same file always has the same location key.
    let path = std::fs::canonicalize(path).map_err(|e| store::StoreError::Io {
        path: path.to_path_buf(),
        source: e,
    })?;
    let mut out = Vec::new();
    discover_into(&path, list, &mut out, 0)?;
    Ok(out)
}

fn is_store_root(dir: &std::path::Path) -> bool {
    dir.join("cur").is_dir() || dir.join("new").is_dir() || dir.join("git").is_dir()
}

fn discover_into(
    path: &std::path::Path,
    list: Option<&str>,
    out: &mut Vec<Source>,
    depth: usize,
) -> Result<(), IndexError> {
    let source = |kind| Source::new(path.to_path_buf(), kind, list.map(str::to_string));
    if path.is_file() && std::fs::metadata(path).is_ok_and(|m| m.len() == 0) {
        // An empty file is an mbox that has not received mail yet.
        out.push(source(SourceKind::Mbox));
        return Ok(());
    }
    if path.is_file() && store::pipermail::is_archive_file(path) {
        let list = pipermail_list(path.parent(), list);
        out.push(Source::new(path.to_path_buf(), SourceKind::Mbox, list));
        return Ok(());
    }
    if !path.is_dir() || is_store_root(path) || depth > 8 {
        out.push(source(store::detect(path)?));
        return Ok(());
    }
    if discover_pipermail(path, list, out, depth)? {
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(|e| store::StoreError::Io {
            path: path.to_path_buf(),
            source: e,
        })?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            !p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with('.') && !p.is_dir())
        })
        .collect();
    entries.sort();
    let has_subdirs = entries.iter().any(|p| p.is_dir());
    if !has_subdirs {
        // A plain directory of files: one source of its own kind (an .eml tree,
        // or mbox files each on their own).
        let mut any_eml = false;
        for p in &entries {
            match store::detect(p) {
                Ok(SourceKind::Mbox) => discover_into(p, list, out, depth + 1)?,
                Ok(_) => any_eml = true,
                Err(_) => {}
            }
        }
        if any_eml {
            out.push(source(SourceKind::Eml));
        }
        return Ok(());
    }
    for p in entries {
        if p.is_dir() {
            discover_into(&p, list, out, depth + 1)?;
        } else if let Ok(kind) = store::detect(&p) {
            out.push(Source::new(p, kind, list.map(str::to_string)));
        }
    }
    Ok(())
}

/// The list of a Mailman 2 archive's messages: the one given (`--list`, a
/// source's `list`), else the archive's subject tag or directory name
/// (`store::pipermail::archive_list`), so every message of one archive has the
/// same list, tagged or not.
fn pipermail_list(dir: Option<&std::path::Path>, list: Option<&str>) -> Option<String> {
    list.map(str::to_string)
        .or_else(|| dir.and_then(store::pipermail::archive_list))
}

/// A directory holding Mailman 2 text archives (`2005-March.txt.gz`) is one
/// list's archive: each archive file is an mbox source with the archive's
/// list. Its other files (Mailman's `index.html`) are not mail; of its
/// subdirectories, the HTML rendering of each period (`2005-March/`) and
/// `attachments/` are skipped, others are searched as usual. False when `dir`
/// holds no archive file.
fn discover_pipermail(
    dir: &std::path::Path,
    list: Option<&str>,
    out: &mut Vec<Source>,
    depth: usize,
) -> Result<bool, IndexError> {
    let files = store::pipermail::archive_files(dir);
    if files.is_empty() {
        return Ok(false);
    }
    let archive_list = pipermail_list(Some(dir), list);
    for file in files {
        out.push(Source::new(file, SourceKind::Mbox, archive_list.clone()));
    }
    let subdirs = store::sorted_entries(dir)
        .map_err(|e| store::StoreError::io(dir, e))?
        .into_iter()
        .filter(|p| p.is_dir())
        .filter(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                !n.starts_with('.') && n != "attachments" && !store::pipermail::is_volume_name(n)
            })
        });
    for sub in subdirs {
        discover_into(&sub, list, out, depth + 1)?;
    }
    Ok(true)
}
