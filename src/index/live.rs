//! The live indexer behind `gleaner serve`: follows the mail stores and keeps
//! the index current within about a second, surviving crashes.
//!
//! At start it reconciles every source against the index cheaply (a Maildir is
//! listed, not read; an mbox resumes from its checkpoint), then follows
//! inotify events, with a periodic rescan as a safety net. Commits are
//! near-real-time: a quiet moment or half a second after the first pending
//! change, whichever comes first, and at most every [`LiveOptions::max_batch`]
//! documents under load. Checkpoints travel in the commit payload, so a
//! `kill -9` at any moment loses nothing and, since upserts are idempotent,
//! duplicates nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::RecvTimeoutError;
use serde::{Deserialize, Serialize};

use super::ingest::{ingest_items, IngestOptions, IngestReport, Item, Source};
use super::watermark::{SharedWatermark, SourceStatus, Watermark};
use super::writer::Writer;
use super::{IndexError, MailIndex};
use crate::metrics::{IndexerMetrics, Phase};
use crate::store::tail::{self, Change, MboxChange, MboxCheckpoint};
use crate::store::{self, Location, RawMessage, ScanOptions, SourceKind};

/// Timing of the live indexer.
#[derive(Debug, Clone)]
pub struct LiveOptions {
    /// Commit after this long without new changes.
    pub quiet: Duration,
    /// Commit at the latest this long after the first pending change.
    pub max_delay: Duration,
    /// Full rescan of every source this often (safety net for lost events).
    pub rescan_every: Duration,
    /// Bulk options (threads, largest message).
    pub ingest: IngestOptions,
    /// Where messages indexed, commit times, lag and the start-up phase are counted.
    pub metrics: Arc<IndexerMetrics>,
}

impl Default for LiveOptions {
    fn default() -> Self {
        LiveOptions {
            quiet: Duration::from_millis(30),
            max_delay: Duration::from_millis(150),
            rescan_every: Duration::from_secs(300),
            ingest: IngestOptions::default(),
            metrics: Arc::default(),
        }
    }
}

/// What the commit payload holds: where each source was read up to.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Checkpoints {
    /// Per mbox path.
    #[serde(default)]
    pub mbox: BTreeMap<String, MboxCheckpoint>,
    /// Per public-inbox epoch: the commit indexed through.
    #[serde(default)]
    pub git: BTreeMap<String, String>,
    /// The watermark as of the commit.
    #[serde(default)]
    pub watermark: Watermark,
}

/// The watermark as of the index's last commit, before any indexer runs:
/// the one a serving process starts from, so its status says how current the
/// index is from the first request on (also when no source is configured, or
/// start-up reconciliation finds nothing to commit). `messages` is what is
/// searchable now; `indexed_through` is the last pass's, or else the time of
/// the last commit (everything indexed then is searchable).
pub fn start_watermark(index: &MailIndex) -> Watermark {
    let mut w = Checkpoints::load(index).watermark;
    w.pending = 0;
    w.messages = Some(index.reader.searcher().num_docs());
    if w.indexed_through.is_none() {
        w.indexed_through = std::fs::metadata(index.dir.join("meta.json"))
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .and_then(|d| i64::try_from(d.as_secs()).ok());
    }
    w
}

impl Checkpoints {
    /// Reads the checkpoints from an index's last commit (empty when none).
    pub fn load(index: &MailIndex) -> Checkpoints {
        index
            .payload()
            .ok()
            .flatten()
            .and_then(|p| serde_json::from_str(&p).ok())
            .unwrap_or_default()
    }
}

/// The running state.
struct Live<'a> {
    writer: Writer,
    index: &'a MailIndex,
    sources: Vec<Source>,
    cp: Checkpoints,
    shared: SharedWatermark,
    opts: LiveOptions,
    first_pending: Option<Instant>,
    last_change: Instant,
}

fn path_key(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// Runs until `shutdown` is set, then commits what is pending and returns.
/// `ready` is called once the start-up reconciliation is committed.
/// [`LiveOptions::metrics`] follows the phases: catching up, following, stopped.
pub fn run(
    index: &MailIndex,
    sources: Vec<Source>,
    opts: LiveOptions,
    shared: SharedWatermark,
    shutdown: &AtomicBool,
    ready: impl FnOnce(&IngestReport),
) -> Result<(), IndexError> {
    let metrics = opts.metrics.clone();
    metrics.set_phase(Phase::CatchingUp);
    let result = follow(index, sources, opts, shared, shutdown, ready);
    metrics.set_phase(Phase::Stopped);
    result
}

fn follow(
    index: &MailIndex,
    sources: Vec<Source>,
    opts: LiveOptions,
    shared: SharedWatermark,
    shutdown: &AtomicBool,
    ready: impl FnOnce(&IngestReport),
) -> Result<(), IndexError> {
    let writer = Writer::new(index, 2)?;
    writer.count_merges(opts.metrics.merges_started());
    let mut live = Live {
        writer,
        index,
        cp: Checkpoints::load(index),
        sources,
        shared,
        opts,
        first_pending: None,
        last_change: Instant::now(),
    };
    live.cp.watermark.sources = live
        .sources
        .iter()
        .map(|s| SourceStatus {
            path: path_key(&s.path),
            ..live
                .cp
                .watermark
                .sources
                .iter()
                .find(|x| x.path == path_key(&s.path))
                .cloned()
                .unwrap_or_default()
        })
        .collect();
    let paths: Vec<PathBuf> = live.sources.iter().map(|s| s.path.clone()).collect();
    // Watch before reconciling so nothing delivered in between is missed.
    let watcher = tail::watch(&paths)?;
    for (p, why) in &watcher.failed {
        tracing::warn!(path = %p.display(), error = %why, "cannot watch; relying on rescans");
    }
    let report = live.reconcile_all();
    live.commit()?;
    // Ready before `ready` says so: whoever it tells finds /readyz agreeing.
    live.opts.metrics.set_phase(Phase::Following);
    ready(&report);
    let mut last_rescan = Instant::now();
    while !shutdown.load(Ordering::SeqCst) {
        // Wake often only while something waits to be committed.
        let wait = if live.first_pending.is_some() {
            Duration::from_millis(10)
        } else {
            Duration::from_millis(500)
        };
        match watcher.changes.recv_timeout(wait) {
            Ok(change) => {
                live.opts.metrics.change_seen();
                let mut changes = vec![change];
                changes.extend(watcher.changes.try_iter().take(10_000));
                live.apply(changes);
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        if last_rescan.elapsed() >= live.opts.rescan_every {
            live.reconcile_all();
            last_rescan = Instant::now();
        }
        live.maybe_commit()?;
        if live.first_pending.is_none() {
            // Changes that needed no commit (a file in tmp/, a rename).
            live.opts.metrics.caught_up_with_changes();
        }
    }
    live.commit()?;
    live.writer.finish()
}

impl Live<'_> {
    /// The source a changed path belongs to; an mbox's dot-lock counts as the
    /// mbox (its removal is when a held-back last message becomes complete).
    fn source_of(&self, p: &Path) -> Option<usize> {
        let unlocked = p
            .to_str()
            .and_then(|s| s.strip_suffix(".lock"))
            .map(PathBuf::from);
        self.sources.iter().position(|s| {
            p.starts_with(&s.path) || unlocked.as_deref().is_some_and(|u| u == s.path)
        })
    }

    fn status(&mut self, i: usize) -> Option<&mut SourceStatus> {
        let key = path_key(&self.sources.get(i)?.path);
        self.cp.watermark.sources.iter_mut().find(|s| s.path == key)
    }

    fn note_error(&mut self, i: usize, error: Option<String>) {
        if let Some(e) = &error {
            tracing::warn!(source = %self.sources[i].path.display(), error = %e, "source problem");
        }
        if let Some(s) = self.status(i) {
            s.last_error = error;
        }
    }

    fn pending(&mut self) {
        self.last_change = Instant::now();
        if self.first_pending.is_none() && self.writer.has_uncommitted() {
            self.first_pending = Some(Instant::now());
        }
    }

    fn maybe_commit(&mut self) -> Result<(), IndexError> {
        let Some(first) = self.first_pending else {
            return Ok(());
        };
        if self.last_change.elapsed() >= self.opts.quiet || first.elapsed() >= self.opts.max_delay {
            self.commit()?;
        }
        Ok(())
    }

    fn commit(&mut self) -> Result<(), IndexError> {
        let started = Instant::now();
        self.cp.watermark.pending = 0;
        if let Ok(p) = serde_json::to_string(&self.cp) {
            self.writer.set_payload(p);
        }
        self.writer.commit()?;
        self.index.reader.reload()?;
        self.opts.metrics.committed(started.elapsed());
        self.first_pending = None;
        self.cp.watermark.messages = Some(self.index.reader.searcher().num_docs());
        if let Ok(mut w) = self.shared.write() {
            *w = self.cp.watermark.clone();
        }
        Ok(())
    }

    fn ingest(&mut self, i: usize, items: Vec<Item>) -> IngestReport {
        let mut newest = None;
        for (item, _) in &items {
            if let Ok(raw) = item {
                newest = newest.max(raw.mtime);
            }
        }
        let n = items.len() as u64;
        if let Ok(mut w) = self.shared.write() {
            w.pending += n;
        }
        let opts = self.opts.ingest.clone();
        let report = match ingest_items(&mut self.writer, items.into_iter(), &opts, &|_| {}) {
            Ok(r) => r,
            Err(e) => {
                self.note_error(i, Some(e.to_string()));
                return IngestReport::default();
            }
        };
        // Unreadable or unparseable mail is reported here and, not being
        // indexed, tried again at the next change or rescan.
        self.opts
            .metrics
            .add_messages(report.indexed, report.duplicates, report.skipped_total());
        for (location, reason) in &report.skipped_examples {
            tracing::warn!(%location, %reason, "skipped; will retry at the next rescan");
        }
        if let Some(t) = newest {
            let wm = &mut self.cp.watermark;
            wm.indexed_through = wm.indexed_through.max(Some(t));
            if let Some(s) = self.status(i) {
                s.indexed_through = s.indexed_through.max(Some(t));
            }
        }
        self.pending();
        report
    }

    fn reconcile_all(&mut self) -> IngestReport {
        let started = time::OffsetDateTime::now_utc().unix_timestamp();
        let mut total = IngestReport::default();
        for i in 0..self.sources.len() {
            let r = self.reconcile(i);
            total.absorb(r);
        }
        // A whole pass read every source: everything delivered before it
        // started is indexed, also when nothing new had arrived (the status
        // line must not wait for new mail to say how current the index is).
        let mut all_ok = true;
        for s in &mut self.cp.watermark.sources {
            if s.last_error.is_none() {
                s.indexed_through = s.indexed_through.max(Some(started));
            } else {
                all_ok = false;
            }
        }
        if all_ok {
            let wm = &mut self.cp.watermark;
            wm.indexed_through = wm.indexed_through.max(Some(started));
        }
        total
    }

    /// Brings one source and the index into agreement.
    fn reconcile(&mut self, i: usize) -> IngestReport {
        let source = self.sources[i].clone();
        if !source.path.exists() {
            // An unmounted disk: report it, keep its documents.
            self.note_error(
                i,
                Some(format!(
                    "{} is missing; its mail stays indexed",
                    source.path.display()
                )),
            );
            return IngestReport::default();
        }
        let result = match source.kind {
            SourceKind::Maildir | SourceKind::Eml => self.reconcile_files(i, &source),
            SourceKind::Mbox => self.sync_mbox(i, &source),
            SourceKind::PublicInbox => self.sync_public_inbox(i, &source),
            SourceKind::Volumes => self.sync_volumes(i, &source),
        };
        match result {
            Ok(r) => {
                self.note_error(i, None);
                r
            }
            Err(e) => {
                self.note_error(i, Some(e.to_string()));
                IngestReport::default()
            }
        }
    }

    fn list_files(source: &Source) -> Result<Vec<PathBuf>, IndexError> {
        Ok(match source.kind {
            SourceKind::Maildir => tail::list_maildir(&source.path)?,
            _ => {
                let mut out = Vec::new();
                let mut stack = vec![source.path.clone()];
                while let Some(d) = stack.pop() {
                    if d.is_file() {
                        out.push(d);
                        continue;
                    }
                    if let Ok(entries) = std::fs::read_dir(&d) {
                        stack.extend(entries.flatten().map(|e| e.path()));
                    }
                }
                out
            }
        })
    }

    fn read_items(&self, source: &Source, paths: Vec<PathBuf>) -> Vec<Item> {
        let opts = ScanOptions {
            max_message_bytes: self.opts.ingest.max_message_bytes,
        };
        let mut items = Vec::new();
        for p in paths {
            let kind = if source.kind == SourceKind::Maildir {
                SourceKind::Maildir
            } else {
                SourceKind::Eml
            };
            match read_one(&p, kind, &opts) {
                Ok(Some(raw)) => items.push((Ok(raw), source.list.clone())),
                Ok(None) => {}
                Err(skip) => items.push((Err(skip), source.list.clone())),
            }
        }
        items
    }

    /// Maildir and .eml trees: list the files, index the new, drop the gone.
    fn reconcile_files(&mut self, i: usize, source: &Source) -> Result<IngestReport, IndexError> {
        let on_disk: BTreeMap<String, PathBuf> = Self::list_files(source)?
            .into_iter()
            .filter(|p| source.selects(p))
            .map(|p| (Location::File { path: p.clone() }.stable_key(), p))
            .collect();
        let prefix = format!(
            "{}/",
            Location::File {
                path: source.path.clone()
            }
            .to_uri()
        );
        let indexed: BTreeSet<String> = self
            .writer
            .locations_with_prefix(&prefix)?
            .into_iter()
            .collect();
        let new: Vec<PathBuf> = on_disk
            .iter()
            .filter(|(k, _)| !indexed.contains(*k))
            .map(|(_, p)| p.clone())
            .collect();
        for gone in indexed.iter().filter(|k| !on_disk.contains_key(*k)) {
            self.writer.remove_location(gone)?;
            self.pending();
        }
        let items = self.read_items(source, new);
        Ok(self.ingest(i, items))
    }

    fn sync_mbox(&mut self, i: usize, source: &Source) -> Result<IngestReport, IndexError> {
        let key = path_key(&source.path);
        let max = self.opts.ingest.max_message_bytes;
        let prev = self.cp.mbox.get(&key).cloned();
        match tail::mbox_changes(&source.path, prev.as_ref(), max)? {
            MboxChange::Unchanged => Ok(IngestReport::default()),
            MboxChange::Appended {
                messages,
                skipped,
                checkpoint,
            } => {
                let items = to_items(messages, skipped, &source.list);
                let report = self.ingest(i, items);
                self.cp.mbox.insert(key, checkpoint);
                Ok(report)
            }
            MboxChange::Rewritten => {
                // Offsets moved: drop every old location of this mbox (committed,
                // so the re-read below does not take them for "already indexed"),
                // then read it all again. A crash in between redoes this.
                tracing::info!(mbox = %source.path.display(), "mbox rewritten; reconciling");
                let uri = Location::Mbox {
                    path: source.path.clone(),
                    offset: 0,
                    len: 0,
                }
                .to_uri();
                let prefix = format!("{}#", uri.split('#').next().unwrap_or_default());
                for stale in self.writer.locations_with_prefix(&prefix)? {
                    self.writer.remove_location(&stale)?;
                }
                self.commit()?;
                let report = match tail::mbox_changes(&source.path, None, max)? {
                    MboxChange::Appended {
                        messages,
                        skipped,
                        checkpoint,
                    } => {
                        let report = self.ingest(i, to_items(messages, skipped, &source.list));
                        self.cp.mbox.insert(key, checkpoint);
                        report
                    }
                    _ => IngestReport::default(),
                };
                self.pending();
                Ok(report)
            }
        }
    }

    fn sync_public_inbox(&mut self, i: usize, source: &Source) -> Result<IngestReport, IndexError> {
        let heads: BTreeMap<String, String> = store::public_inbox::epochs(&source.path)
            .into_iter()
            .filter_map(|e| Some((path_key(&e), git_head(&e)?)))
            .collect();
        let unchanged = heads.iter().all(|(k, v)| self.cp.git.get(k) == Some(v));
        if unchanged && !heads.is_empty() {
            return Ok(IngestReport::default());
        }
        let scan = store::scan(
            &source.path,
            SourceKind::PublicInbox,
            &ScanOptions {
                max_message_bytes: self.opts.ingest.max_message_bytes,
            },
        )?;
        let items: Vec<Item> = scan.map(|it| (it, source.list.clone())).collect();
        let report = self.ingest(i, items);
        self.cp.git.extend(heads);
        Ok(report)
    }

    /// Sealed volumes never change: only a new one (a new manifest) is read.
    fn sync_volumes(&mut self, i: usize, source: &Source) -> Result<IngestReport, IndexError> {
        let mut names: Vec<String> = std::fs::read_dir(&source.path)
            .map_err(|e| store::StoreError::io(&source.path, e))?
            .flatten()
            .filter_map(|e| e.file_name().to_str().map(str::to_string))
            .filter(|n| n.ends_with(".manifest.json"))
            .collect();
        names.sort();
        let key = path_key(&source.path);
        let head = names.join(",");
        if self.cp.git.get(&key) == Some(&head) {
            return Ok(IngestReport::default());
        }
        let scan = store::scan(
            &source.path,
            SourceKind::Volumes,
            &ScanOptions {
                max_message_bytes: self.opts.ingest.max_message_bytes,
            },
        )?;
        let items: Vec<Item> = scan.map(|it| (it, source.list.clone())).collect();
        let report = self.ingest(i, items);
        self.cp.git.insert(key, head);
        Ok(report)
    }

    /// Applies a batch of file-system changes.
    fn apply(&mut self, changes: Vec<Change>) {
        let mut files: BTreeMap<usize, BTreeSet<PathBuf>> = BTreeMap::new();
        let mut whole: BTreeSet<usize> = BTreeSet::new();
        for c in changes {
            match c {
                Change::Rescan => whole.extend(0..self.sources.len()),
                Change::Path(p) => {
                    tracing::debug!(path = %p.display(), "change");
                    let Some(i) = self.source_of(&p) else {
                        continue;
                    };
                    match self.sources[i].kind {
                        SourceKind::Mbox | SourceKind::PublicInbox | SourceKind::Volumes => {
                            whole.insert(i);
                        }
                        SourceKind::Maildir | SourceKind::Eml => {
                            if p.is_dir() {
                                whole.insert(i);
                            } else if !in_tmp(&p) && self.sources[i].selects(&p) {
                                files.entry(i).or_default().insert(p);
                            }
                        }
                    }
                }
            }
        }
        for i in whole.iter().copied() {
            self.reconcile(i);
        }
        for (i, paths) in files {
            if whole.contains(&i) {
                continue;
            }
            if let Err(e) = self.apply_files(i, paths) {
                self.note_error(i, Some(e.to_string()));
            }
        }
    }

    fn apply_files(&mut self, i: usize, paths: BTreeSet<PathBuf>) -> Result<(), IndexError> {
        let source = self.sources[i].clone();
        let mut new = Vec::new();
        for p in paths {
            let loc = Location::File { path: p.clone() };
            let key = loc.stable_key();
            tracing::debug!(path = %p.display(), key = %key, exists = p.is_file(), "file change");
            if p.is_file() {
                // A rename (flag change, new→cur) keeps the stable key: nothing to re-extract.
                if !self.writer.has_location(&key) {
                    new.push(p);
                }
            } else if store::maildir::find_renamed(&p).is_none() && self.writer.has_location(&key) {
                let deleted = self.writer.remove_location(&key)?;
                tracing::debug!(key = %key, deleted, "location removed");
                self.pending();
            }
        }
        let items = self.read_items(&source, new);
        if !items.is_empty() {
            self.ingest(i, items);
        }
        Ok(())
    }
}

fn in_tmp(p: &Path) -> bool {
    p.parent()
        .and_then(|d| d.file_name())
        .is_some_and(|n| n == "tmp")
}

fn to_items(
    messages: Vec<RawMessage>,
    skipped: Vec<store::Skipped>,
    list: &Option<String>,
) -> Vec<Item> {
    messages
        .into_iter()
        .map(|m| (Ok(m), list.clone()))
        .chain(skipped.into_iter().map(|s| (Err(s), list.clone())))
        .collect()
}

/// Reads one message file (`None` when it is not mail, e.g. a stray file in an .eml tree).
fn read_one(
    p: &Path,
    kind: SourceKind,
    opts: &ScanOptions,
) -> Result<Option<RawMessage>, store::Skipped> {
    let scan_kind = if kind == SourceKind::Maildir {
        SourceKind::Eml
    } else {
        kind
    };
    let scan = store::scan(p, scan_kind, opts).map_err(|e| store::Skipped {
        location: format!("file:{}", p.display()),
        reason: e.to_string(),
    })?;
    let Some(item) = scan.into_iter().next() else {
        return Ok(None);
    };
    let mut raw = item?;
    if kind == SourceKind::Maildir {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        raw.flags = store::maildir::split_info(name).1.to_string();
    }
    raw.location = Location::File {
        path: p.to_path_buf(),
    };
    Ok(Some(raw))
}

fn git_head(epoch: &Path) -> Option<String> {
    let out = std::process::Command::new("git")
        .arg("--git-dir")
        .arg(epoch)
        .args(["rev-parse", "HEAD"])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}
