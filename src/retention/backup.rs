//! Consistent, incremental backups of gleaner's data directory, and restore.
//!
//! # Layout of a backup destination
//!
//! ```text
//! DEST/objects/index/<file>     tantivy segment files (immutable), shared by all snapshots
//! DEST/objects/archive/<file>   sealed volumes (.mbox.zst + .manifest.json), shared
//! DEST/snapshots/20261128T041500Z/   one snapshot ("-01", "-02"... when several share a second)
//!     manifest.json     format "gleaner-backup/1", creation time, every file's size and SHA-256
//!     gleaner.db        made with SQLite's online backup API
//!     index-meta.json   the exact index/meta.json the snapshot's segment files belong to
//!     sources.json      copy, when the data directory has one
//!     gleaner.toml      the configuration, when one was given
//! DEST/snapshots/.partial-<pid>-<n>-<name>/   a snapshot being written: never listed or restored
//! ```
//!
//! A manifest entry says where a file goes in a data directory (`path`) and where its bytes are
//! (`stored`: relative to DEST for shared objects, else to the snapshot directory). Objects are
//! written under a temporary name, fsynced and renamed. An object already there with the same
//! size and the SHA-256 an earlier manifest records (hashed anew when none does) is reused, so
//! an incremental backup copies only new segments and new volumes; one that differs (damaged)
//! is replaced. [`verify_backup`] re-hashes everything.
//!
//! # Consistency
//!
//! * A snapshot is written under `.partial-…`, fsynced, and renamed into place only when
//!   complete. A later backup removes the leftovers (partial snapshots, temporary objects,
//!   index pins) of processes that are gone (as `/proc` tells).
//! * The database is copied from a read-only connection that holds one read transaction for the
//!   whole copy: in WAL mode this pins one commit without blocking the server's writers, so the
//!   copy is of that commit and never restarts. It goes `sqlite_pages_per_step` pages at a
//!   time, sleeping `sqlite_pause` between steps.
//! * The index is taken as of one commit: read `meta.json`, hard-link exactly the files of the
//!   segments it lists (a delete file only for the listed delete opstamp) into
//!   `data/.backup-pin-<pid>-<n>/`, then read `meta.json` again. tantivy writes a segment's
//!   files before the `meta.json` naming them and garbage-collects only files the current
//!   commit does not list: if `meta.json` did not change meanwhile, every pinned file is whole
//!   and of that commit, and the links keep them even if a merge then deletes them from the
//!   index. Otherwise (or if a file vanished) the pins are dropped and it tries again, a bounded
//!   number of times. Where hard links fail the pins are copies, checked alike.
//! * Order: database and `sources.json`, then the index, then the archive; so the volumes the
//!   index refers to are there, and progress the database records is no newer than the index.
//! * `sources.json` is replaced by rename and volumes never change, so plain reads of them are
//!   consistent; a volume is taken only with its manifest (renamed last, it marks a volume
//!   sealed), `*.partial` files never.
//!
//! # Restore
//!
//! Into an empty or absent data directory only; every file is hashed against the manifest as
//! it is copied, `index/meta.json` last, and `index/.managed.json` lists the restored index
//! files so that tantivy's garbage collection still removes them after merges. On any error the
//! data directory is emptied again.

use std::collections::{BTreeSet, HashMap};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::sleep;
use std::time::Duration;

use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Format tag of every snapshot manifest.
pub const FORMAT: &str = "gleaner-backup/1";
const PARTIAL: &str = ".partial-";
const TMP: &str = ".tmp-";
const PIN: &str = ".backup-pin-";
const PIN_ATTEMPTS: u32 = 50;
static SEQ: AtomicU64 = AtomicU64::new(0);

/// Why a backup, a restore or a listing failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackupError {
    /// A file system operation failed on the path.
    #[error("{0}: {1}")]
    Io(PathBuf, #[source] io::Error),
    /// SQLite failed while copying the database at the path.
    #[error("database {0}: {1}")]
    Sqlite(PathBuf, #[source] rusqlite::Error),
    /// An index `meta.json` or a snapshot manifest (the path) is unusable, and why.
    #[error("{0}: {1}")]
    Malformed(PathBuf, String),
    /// The index (the path) committed during every attempt to capture one commit.
    #[error("index {0} kept changing: no commit could be captured after repeated attempts")]
    IndexBusy(PathBuf),
    /// A file that never changes (segment file, volume) changed while it was copied, or the
    /// database (outside WAL mode) changed so often that its copy restarted again and again.
    #[error("{0} changed while it was being backed up")]
    Changed(PathBuf),
    /// The restore target (the path) is not empty.
    #[error("refusing to restore into {0}: it is not empty (use an empty or absent directory)")]
    NotEmpty(PathBuf),
    /// The backup (the path) holds no snapshot of that name ("(any)": none at all).
    #[error("no snapshot {1} in {0}")]
    NoSnapshot(PathBuf, String),
    /// A backed-up file (the path) does not match its manifest, and how.
    #[error("{0} is corrupt: {1}")]
    Corrupt(PathBuf, String),
}

trait At<T> {
    fn at(self, path: &Path) -> Result<T, BackupError>;
}
impl<T> At<T> for io::Result<T> {
    fn at(self, path: &Path) -> Result<T, BackupError> {
        self.map_err(|e| BackupError::Io(path.into(), e))
    }
}
impl<T> At<T> for rusqlite::Result<T> {
    fn at(self, path: &Path) -> Result<T, BackupError> {
        self.map_err(|e| BackupError::Sqlite(path.into(), e))
    }
}

/// How [`backup`] runs.
#[derive(Debug, Clone)]
pub struct BackupOptions<'a> {
    /// A gleaner.toml to include (restored as `restored-gleaner.toml`).
    pub config: Option<&'a Path>,
    /// SQLite pages copied per online-backup step; below 1 copies all in one step.
    pub sqlite_pages_per_step: i32,
    /// Pause between two steps, so the server's writers are never held up long.
    pub sqlite_pause: Duration,
}

impl Default for BackupOptions<'_> {
    fn default() -> Self {
        let sqlite_pause = Duration::from_millis(5);
        BackupOptions {
            config: None,
            sqlite_pages_per_step: 256,
            sqlite_pause,
        }
    }
}

/// How far a stage is, to draw a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// "database", "index" or "archive" while backing up; "restore" while restoring.
    pub stage: &'static str,
    /// Bytes of this stage done.
    pub done_bytes: u64,
    /// Bytes of this stage in all.
    pub total_bytes: u64,
}

/// What [`backup`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BackupReport {
    /// The new snapshot's name (its directory under `DEST/snapshots/`).
    pub snapshot: String,
    /// Files written to the destination: the snapshot's own and new objects.
    pub files_copied: u64,
    /// Objects the destination already held.
    pub files_reused: u64,
    /// Bytes written to the destination.
    pub bytes_copied: u64,
    /// Archive files left out (`archive/<name>`): unpaired, or removed meanwhile.
    pub skipped: Vec<String>,
}

/// What [`restore`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RestoreReport {
    /// The snapshot restored.
    pub snapshot: String,
    /// Files written into the data directory.
    pub files_restored: u64,
    /// Bytes written into the data directory.
    pub bytes_restored: u64,
    /// Where the snapshot's configuration went (`data/restored-gleaner.toml`), if it had one.
    pub config: Option<PathBuf>,
}

/// A snapshot's `manifest.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotManifest {
    /// Always [`FORMAT`].
    pub format: String,
    /// The snapshot's name (when listed: its directory's name).
    #[serde(default)]
    pub name: String,
    /// When the backup started (RFC 3339, UTC).
    pub created: String,
    /// Every file of the snapshot.
    pub files: Vec<ManifestEntry>,
}

/// One file of a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestEntry {
    /// Where it goes in a data directory: `gleaner.db`, `sources.json`, `index/meta.json`,
    /// `index/<file>`, `archive/<file>`; `gleaner.toml` is the configuration.
    pub path: String,
    /// Where its bytes are: relative to DEST if `shared`, else to the snapshot directory.
    pub stored: String,
    /// Whether it is an object shared by snapshots.
    pub shared: bool,
    /// Its size in bytes.
    pub size: u64,
    /// Its SHA-256, lowercase hex.
    pub sha256: String,
}

fn entry(path: &str, stored: &str, shared: bool, (size, sha256): (u64, String)) -> ManifestEntry {
    let (path, stored) = (path.to_string(), stored.to_string());
    ManifestEntry {
        path,
        stored,
        shared,
        size,
        sha256,
    }
}

struct Bar<'p> {
    stage: &'static str,
    done: u64,
    total: u64,
    f: &'p mut dyn FnMut(Progress),
}

impl<'p> Bar<'p> {
    fn new(stage: &'static str, total: u64, f: &'p mut dyn FnMut(Progress)) -> Self {
        Bar {
            stage,
            done: 0,
            total,
            f,
        }
    }

    fn add(&mut self, n: u64) {
        self.show((self.done + n).min(self.total), self.total);
    }

    fn show(&mut self, done: u64, total: u64) {
        (self.done, self.total) = (done, total);
        let p = Progress {
            stage: self.stage,
            done_bytes: done,
            total_bytes: total,
        };
        (self.f)(p);
    }
}

/// Removes a path when dropped, unless disarmed by taking it out.
struct Cleanup(Option<PathBuf>);
impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = remove_any(&p);
        }
    }
}

fn temp_name(prefix: &str, name: &str) -> String {
    let n = SEQ.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}{}-{n}-{name}", std::process::id())
}

fn remove_any(p: &Path) -> Result<(), BackupError> {
    let r = match fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(p),
        Ok(_) => fs::remove_file(p),
        Err(e) => Err(e),
    };
    match r {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e).at(p),
        _ => Ok(()),
    }
}

fn sync_dir(p: &Path) -> Result<(), BackupError> {
    #[cfg(unix)]
    File::open(p).and_then(|f| f.sync_all()).at(p)?;
    #[cfg(not(unix))]
    let _ = p;
    Ok(())
}

fn set_readonly(p: &Path) -> Result<(), BackupError> {
    let mut perm = fs::metadata(p).at(p)?.permissions();
    perm.set_readonly(true);
    fs::set_permissions(p, perm).at(p)
}

/// UTF-8 names in `dir`, sorted, with their file types (none if `dir` is absent).
fn list(dir: &Path) -> Result<Vec<(String, fs::FileType)>, BackupError> {
    let rd = match fs::read_dir(dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        r => r.at(dir)?,
    };
    let mut out = Vec::new();
    for e in rd {
        let e = e.at(dir)?;
        if let Ok(name) = e.file_name().into_string() {
            out.push((name, e.file_type().at(&e.path())?));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// Removes `<prefix><pid>-…` entries of `dir` whose process is gone.
fn clean_stale(dir: &Path, prefix: &str) -> Result<(), BackupError> {
    for (name, _) in list(dir)? {
        let Some(rest) = name.strip_prefix(prefix) else {
            continue;
        };
        let stale = match rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) {
            Some(pid) if pid == std::process::id() => false,
            Some(pid) => {
                Path::new("/proc/self").exists()
                    && !Path::new("/proc").join(pid.to_string()).exists()
            }
            None => true,
        };
        if stale {
            remove_any(&dir.join(name))?;
        }
    }
    Ok(())
}

/// Reads `src` to its end, hashing it and (when `dst` is given) writing it to the new file
/// `dst`, fsynced. Returns the size and the SHA-256.
fn pump(
    src: &mut dyn Read,
    from: &Path,
    dst: Option<&Path>,
    mut bar: Option<&mut Bar<'_>>,
) -> Result<(u64, String), BackupError> {
    let mut out = match dst {
        Some(d) => Some((
            OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(d)
                .at(d)?,
            d,
        )),
        None => None,
    };
    let (mut hash, mut buf, mut size) = (Sha256::new(), vec![0u8; 1 << 18], 0u64);
    loop {
        let n = match src.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e).at(from),
        };
        let chunk = buf.get(..n).unwrap_or_default();
        hash.update(chunk);
        if let Some((f, d)) = out.as_mut() {
            f.write_all(chunk).at(d)?;
        }
        size += n as u64;
        if let Some(b) = bar.as_deref_mut() {
            b.add(n as u64);
        }
    }
    if let Some((f, d)) = out {
        f.sync_all().at(d)?;
    }
    Ok((size, hex::encode(hash.finalize())))
}

fn hash_path(p: &Path) -> Result<(u64, String), BackupError> {
    pump(&mut File::open(p).at(p)?, p, None, None)
}

/// A relative path of plain components, or None.
fn safe_rel(s: &str) -> Option<PathBuf> {
    let mut p = PathBuf::new();
    for c in s.split('/') {
        if c.is_empty() || c == "." || c == ".." || c.contains(['\\', ':']) {
            return None;
        }
        p.push(c);
    }
    Some(p)
}

/// Copies the database with the online backup API (see the module doc).
fn backup_db(
    src_path: &Path,
    dst_path: &Path,
    opts: &BackupOptions<'_>,
    bar: &mut Bar<'_>,
) -> Result<(), BackupError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let src = Connection::open_with_flags(src_path, flags).at(src_path)?;
    src.busy_timeout(Duration::from_secs(10)).at(src_path)?;
    let mode: String = src
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .at(src_path)?;
    let page: i64 = src
        .query_row("PRAGMA page_size", [], |r| r.get(0))
        .at(src_path)?;
    // Outside WAL mode a held read lock would block writers: let the copy restart instead.
    let hold = mode.eq_ignore_ascii_case("wal");
    if hold {
        src.execute_batch("BEGIN").at(src_path)?;
        src.query_row("SELECT count(*) FROM sqlite_schema", [], |r| {
            r.get::<_, i64>(0)
        })
        .at(src_path)?;
    }
    let mut dst = Connection::open(dst_path).at(dst_path)?;
    {
        let b = Backup::new(&src, &mut dst).at(dst_path)?;
        let pages = if opts.sqlite_pages_per_step < 1 {
            -1
        } else {
            opts.sqlite_pages_per_step
        };
        let bytes = |pages: i32| u64::try_from(i64::from(pages) * page).unwrap_or(0);
        let (mut last, mut restarts) = (i32::MAX, 0);
        loop {
            let step = b.step(pages).at(src_path)?;
            let p = b.progress();
            // Only outside WAL mode can writes restart the copy; don't let that go on forever.
            restarts += u32::from(p.remaining > last);
            if restarts > 1000 {
                return Err(BackupError::Changed(src_path.into()));
            }
            last = p.remaining;
            bar.show(bytes(p.pagecount - p.remaining), bytes(p.pagecount));
            if matches!(step, StepResult::Done) {
                break;
            }
            sleep(opts.sqlite_pause);
        }
    }
    dst.close().map_err(|(_, e)| e).at(dst_path)?;
    if hold {
        src.execute_batch("COMMIT").at(src_path)?;
    }
    File::open(dst_path).and_then(|f| f.sync_all()).at(dst_path)
}

type Segments = Vec<(String, Option<u64>)>;

/// The segments (32-hex id, delete opstamp) an index `meta.json` lists.
fn parse_meta(bytes: &[u8], path: &Path) -> Result<Segments, BackupError> {
    use serde_json::Value;
    let bad = |why: String| BackupError::Malformed(path.into(), why);
    let v: Value = serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
    let segs = v.get("segments").and_then(Value::as_array);
    let segs = segs
        .ok_or_else(|| bad("no \"segments\" list".into()))?
        .iter()
        .map(|s| {
            let raw = s
                .get("segment_id")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let id = raw.replace('-', "").to_ascii_lowercase();
            if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(bad(format!("bad segment id {raw:?}")));
            }
            let del = match s.get("deletes") {
                None | Some(Value::Null) => None,
                Some(d) => Some(
                    d.get("opstamp")
                        .and_then(Value::as_u64)
                        .ok_or_else(|| bad(format!("segment {raw}: no delete opstamp")))?,
                ),
            };
            Ok((id, del))
        });
    segs.collect()
}

/// Pins the files of one index commit into `pin` (see the module doc); returns that commit's
/// `meta.json` and the pinned file names. `links: false` pins by copying; `hook` is a test
/// seam, called with ("read" | "listed", attempt) after reading `meta.json` and after listing.
fn pin_index(
    index: &Path,
    pin: &Path,
    mut links: bool,
    hook: &mut dyn FnMut(&str, u32),
) -> Result<(Vec<u8>, Vec<String>), BackupError> {
    let meta_path = index.join("meta.json");
    for attempt in 0..PIN_ATTEMPTS {
        sleep(Duration::from_millis(5 * u64::from(attempt.min(20))));
        let meta = fs::read(&meta_path).at(&meta_path)?;
        let segs = parse_meta(&meta, &meta_path)?;
        hook("read", attempt);
        let wanted: HashMap<&str, Option<u64>> =
            segs.iter().map(|(id, d)| (id.as_str(), *d)).collect();
        let files = list(index)?.into_iter().map(|(n, _)| n).filter(|name| {
            let Some((id, ext)) = name.split_once('.') else {
                return false;
            };
            match (wanted.get(id), ext.strip_suffix(".del")) {
                (Some(del), Some(op)) => op.parse().ok() == *del,
                (Some(_), None) => ext != "store.temp",
                (None, _) => false,
            }
        });
        let files: Vec<String> = files.collect();
        hook("listed", attempt);
        let whole = segs.iter().all(|(id, del)| {
            files.iter().any(|f| f.starts_with(id.as_str()))
                && del.is_none_or(|op| files.contains(&format!("{id}.{op}.del")))
        });
        remove_any(pin)?;
        fs::create_dir(pin).at(pin)?;
        let mut vanished = false;
        for name in &files {
            let (from, to) = (index.join(name), pin.join(name));
            let mut r = if links {
                fs::hard_link(&from, &to)
            } else {
                Err(io::ErrorKind::Unsupported.into())
            };
            if r.as_ref()
                .is_err_and(|e| e.kind() != io::ErrorKind::NotFound)
            {
                links = false; // Pin by copying (on Unix an open file outlives its deletion).
                r = fs::copy(&from, &to).map(|_| ());
            }
            match r {
                Err(e) if e.kind() == io::ErrorKind::NotFound => vanished = true,
                r => r.at(&from)?,
            }
        }
        if vanished || fs::read(&meta_path).at(&meta_path)? != meta {
            continue;
        }
        if !whole {
            return Err(BackupError::Malformed(
                meta_path,
                "lists segment files that do not exist".into(),
            ));
        }
        return Ok((meta, files));
    }
    Err(BackupError::IndexBusy(index.into()))
}

/// Sealed volume files in `archive/` (complete pairs only), and what was left out.
fn archive_files(dir: &Path) -> Result<(Vec<String>, Vec<String>), BackupError> {
    let names: BTreeSet<String> = list(dir)?
        .into_iter()
        .filter(|(n, t)| t.is_file() && !n.starts_with('.') && !n.ends_with(".partial"))
        .map(|(n, _)| n)
        .collect();
    let (mut keep, mut skipped) = (Vec::new(), Vec::new());
    for n in &names {
        let pair = match (
            n.strip_suffix(".mbox.zst"),
            n.strip_suffix(".manifest.json"),
        ) {
            (Some(stem), _) => format!("{stem}.manifest.json"),
            (_, Some(stem)) => format!("{stem}.mbox.zst"),
            _ => String::new(),
        };
        if names.contains(&pair) {
            keep.push(n.clone())
        } else {
            skipped.push(format!("archive/{n}"))
        }
    }
    Ok((keep, skipped))
}

type Done = Result<(), BackupError>;

/// One backup run's state.
struct Run<'p> {
    dest: PathBuf,
    tmp: PathBuf,
    known: HashMap<String, (u64, String)>,
    report: BackupReport,
    files: Vec<ManifestEntry>,
    bar: Bar<'p>,
}

impl Run<'_> {
    fn copied(&mut self, e: ManifestEntry) {
        self.report.files_copied += 1;
        self.report.bytes_copied += e.size;
        self.files.push(e);
    }

    /// Copies `src` (read from `from`) into the snapshot as `stored`.
    fn local(&mut self, path: &str, stored: &str, src: &mut dyn Read, from: &Path) -> Done {
        let to = self.tmp.join(stored);
        self.copied(entry(
            path,
            stored,
            false,
            pump(src, from, Some(&to), None)?,
        ));
        Ok(())
    }

    /// Stores `src` as object `objects/<kind>/<name>` unless an identical one is there;
    /// false if `src` is gone.
    fn object(&mut self, kind: &str, name: &str, src: &Path) -> Result<bool, BackupError> {
        let mut file = match File::open(src) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            r => r.at(src)?,
        };
        let size = file.metadata().at(src)?.len();
        let (path, stored) = (format!("{kind}/{name}"), format!("objects/{kind}/{name}"));
        let target = self.dest.join(&stored);
        let mut hashed = None;
        if fs::metadata(&target).is_ok_and(|m| m.len() == size) {
            let have = match self.known.get(&stored) {
                Some((s, sha)) if *s == size => sha.clone(),
                _ => hash_path(&target)?.1,
            };
            let sha = pump(&mut file, src, None, Some(&mut self.bar))?.1;
            if sha == have {
                self.report.files_reused += 1;
                self.files.push(entry(&path, &stored, true, (size, sha)));
                return Ok(true);
            }
            file.rewind().at(src)?;
            hashed = Some(sha);
        }
        let tmp = target.with_file_name(temp_name(TMP, name));
        let mut guard = Cleanup(Some(tmp.clone()));
        let (n, sha) = pump(&mut file, src, Some(&tmp), Some(&mut self.bar))?;
        if n != size || hashed.is_some_and(|h| h != sha) {
            return Err(BackupError::Changed(src.into()));
        }
        set_readonly(&tmp)?;
        fs::rename(&tmp, &target).at(&target)?;
        guard.0 = None;
        self.copied(entry(&path, &stored, true, (n, sha)));
        Ok(true)
    }

    fn stage(&mut self, stage: &'static str, dir: &Path, names: &[String]) {
        let size = |n: &String| fs::metadata(dir.join(n)).map_or(0, |m| m.len());
        self.bar.stage = stage;
        self.bar.show(0, names.iter().map(size).sum());
    }

    /// Copies everything but the manifest into the snapshot directory `tmp`.
    fn take(&mut self, data: &Path, opts: &BackupOptions<'_>) -> Done {
        let db = self.tmp.join("gleaner.db");
        let live_db = data.join("gleaner.db");
        if live_db.exists() {
            backup_db(&live_db, &db, opts, &mut self.bar)?;
        } else {
            // Only `index` has run here (the database is made by the first
            // command that needs it): the snapshot holds an empty one.
            let empty = Connection::open(&db).at(&db)?;
            crate::db::configure(&empty).at(&db)?;
        }
        self.copied(entry("gleaner.db", "gleaner.db", false, hash_path(&db)?));
        let sources = data.join("sources.json");
        match File::open(&sources) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            f => self.local(
                "sources.json",
                "sources.json",
                &mut f.at(&sources)?,
                &sources,
            )?,
        }
        if let Some(cfg) = opts.config {
            self.local(
                "gleaner.toml",
                "gleaner.toml",
                &mut File::open(cfg).at(cfg)?,
                cfg,
            )?;
        }

        let (index, pin) = (data.join("index"), data.join(temp_name(PIN, "")));
        let pin_guard = Cleanup(Some(pin.clone()));
        let (meta, files) = pin_index(&index, &pin, true, &mut |_, _| {})?;
        let meta_path = index.join("meta.json");
        self.local(
            "index/meta.json",
            "index-meta.json",
            &mut &meta[..],
            &meta_path,
        )?;
        // gleaner's own marker of the index's schema version.
        let version = index.join("gleaner-schema-version");
        if let Ok(mut f) = File::open(&version) {
            self.local(
                "index/gleaner-schema-version",
                "index-schema-version",
                &mut f,
                &version,
            )?;
        }
        self.stage("index", &pin, &files);
        for f in &files {
            if !self.object("index", f, &pin.join(f))? {
                return Err(BackupError::Changed(pin.join(f)));
            }
        }

        drop(pin_guard);
        let archive = data.join("archive");
        let (vols, skipped) = archive_files(&archive)?;
        self.report.skipped = skipped;
        self.stage("archive", &archive, &vols);
        for v in &vols {
            if !self.object("archive", v, &archive.join(v))? {
                self.report.skipped.push(format!("archive/{v}"));
            }
        }
        Ok(())
    }
}

/// Takes a consistent snapshot of the data directory `data` into the backup destination `dest`
/// (created if needed), copying only the objects it does not hold yet.
pub fn backup(
    data: &Path,
    dest: &Path,
    opts: &BackupOptions<'_>,
    progress: &mut dyn FnMut(Progress),
) -> Result<BackupReport, BackupError> {
    let snaps = dest.join("snapshots");
    for d in ["snapshots", "objects/index", "objects/archive"] {
        let d = dest.join(d);
        fs::create_dir_all(&d).at(&d)?;
        clean_stale(&d, if d == snaps { PARTIAL } else { TMP })?;
    }
    clean_stale(data, PIN)?;
    let known = list_snapshots(dest)?.into_iter().flat_map(|m| m.files);
    let known = known
        .filter(|f| f.shared)
        .map(|f| (f.stored, (f.size, f.sha256)))
        .collect();
    let t = time::OffsetDateTime::now_utc();
    let ((y, mo, d), (h, mi, s)) = (t.to_calendar_date(), t.to_hms());
    let created = format!("{y:04}-{:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z", u8::from(mo));
    let base = created.replace(['-', ':'], "");
    let mut names = (0..100).map(|k| format!("{base}-{k:02}").replace("Z-00", "Z"));
    let name = names.find(|n| !snaps.join(n).exists());
    let name =
        name.ok_or_else(|| BackupError::Io(snaps.clone(), io::ErrorKind::AlreadyExists.into()))?;
    let tmp = snaps.join(temp_name(PARTIAL, &name));
    fs::create_dir(&tmp).at(&tmp)?;
    let mut guard = Cleanup(Some(tmp.clone()));

    let mut run = Run {
        dest: dest.into(),
        tmp: tmp.clone(),
        known,
        report: BackupReport::default(),
        files: Vec::new(),
        bar: Bar::new("database", 0, progress),
    };
    run.take(data, opts)?;
    let files = run.files;
    let manifest = SnapshotManifest {
        format: FORMAT.into(),
        name: name.clone(),
        created,
        files,
    };
    let mpath = tmp.join("manifest.json");
    let json = serde_json::to_vec_pretty(&manifest);
    let json = json.map_err(|e| BackupError::Malformed(mpath.clone(), e.to_string()))?;
    pump(&mut &json[..], &mpath, Some(&mpath), None)?;
    sync_dir(&tmp)?;
    for d in ["objects/index", "objects/archive"] {
        sync_dir(&dest.join(d))?;
    }
    let target = snaps.join(&name);
    fs::rename(&tmp, &target).at(&target)?;
    guard.0 = None;
    sync_dir(&snaps)?;
    run.report.snapshot = name;
    Ok(run.report)
}

type Listed = Result<SnapshotManifest, BackupError>;

/// Snapshot directories of `dest` (dot-names skipped), oldest first, with their manifest or
/// why it is unusable.
fn snapshot_dirs(dest: &Path) -> Result<Vec<(String, Listed)>, BackupError> {
    let dirs = list(&dest.join("snapshots"))?
        .into_iter()
        .filter(|(n, t)| t.is_dir() && !n.starts_with('.'));
    let read = |name: &str| {
        let path = dest.join("snapshots").join(name).join("manifest.json");
        let bytes = fs::read(&path).at(&path)?;
        let m: SnapshotManifest = serde_json::from_slice(&bytes)
            .map_err(|e| BackupError::Malformed(path.clone(), e.to_string()))?;
        let why = format!("unknown format {:?}", m.format);
        let ok = m.format == FORMAT;
        ok.then(|| SnapshotManifest {
            name: name.into(),
            ..m
        })
        .ok_or(BackupError::Malformed(path, why))
    };
    Ok(dirs.map(|(name, _)| (name.clone(), read(&name))).collect())
}

/// The complete snapshots in `dest`, oldest first; partial ones and those with an unusable
/// manifest are left out ([`verify_backup`] reports the latter).
pub fn list_snapshots(dest: &Path) -> Result<Vec<SnapshotManifest>, BackupError> {
    Ok(snapshot_dirs(dest)?
        .into_iter()
        .filter_map(|(_, m)| m.ok())
        .collect())
}

/// Where an entry's bytes are, if its stored path is safe.
fn stored_path(dest: &Path, name: &str, f: &ManifestEntry) -> Option<PathBuf> {
    let rel = safe_rel(&f.stored)?;
    Some(if f.shared {
        dest.join(rel)
    } else {
        dest.join("snapshots").join(name).join(rel)
    })
}

fn mismatch(f: &ManifestEntry, size: u64, sha: &str) -> Option<String> {
    let (want, have) = ((f.size, f.sha256.as_str()), (size, sha));
    let say = |(n, h): (u64, &str)| format!("{n} bytes with sha256 {h}");
    (size != f.size || sha != f.sha256)
        .then(|| format!("expected {}, found {}", say(want), say(have)))
}

/// Re-hashes every file of every snapshot in `dest`; returns the problems found, one line each
/// (none: the backup is sound).
pub fn verify_backup(dest: &Path) -> Result<Vec<String>, BackupError> {
    let (mut problems, mut seen) = (Vec::new(), HashMap::new());
    let dirs = snapshot_dirs(dest)?;
    if dirs.is_empty() {
        problems.push(format!("{}: no snapshots", dest.display()));
    }
    for (name, m) in dirs {
        let files = match m {
            Ok(m) => m.files,
            Err(e) => {
                problems.push(format!("snapshot {name}: {e}"));
                continue;
            }
        };
        for f in &files {
            let Some(p) = stored_path(dest, &name, f) else {
                problems.push(format!(
                    "snapshot {name}: unsafe stored path {:?}",
                    f.stored
                ));
                continue;
            };
            let hashed = seen.entry(p.clone()).or_insert_with(|| hash_path(&p));
            match hashed {
                Ok((size, sha)) => {
                    if let Some(m) = mismatch(f, *size, sha) {
                        problems.push(format!("snapshot {name}: {} is corrupt: {m}", p.display()));
                    }
                }
                Err(e) => problems.push(format!("snapshot {name}: {e}")),
            }
        }
    }
    Ok(problems)
}

/// Restores snapshot `snapshot` (the newest when None) of the backup at `src` into the data
/// directory `data`, which must be empty or absent, checking every file against the manifest.
/// On failure `data` is left empty.
pub fn restore(
    src: &Path,
    snapshot: Option<&str>,
    data: &Path,
    progress: &mut dyn FnMut(Progress),
) -> Result<RestoreReport, BackupError> {
    if data.exists() && fs::read_dir(data).at(data)?.next().is_some() {
        return Err(BackupError::NotEmpty(data.into()));
    }
    let mut snaps = list_snapshots(src)?;
    let m = match snapshot {
        Some(n) => snaps.into_iter().find(|m| m.name == n),
        None => snaps.pop(),
    };
    let m =
        m.ok_or_else(|| BackupError::NoSnapshot(src.into(), snapshot.unwrap_or("(any)").into()))?;
    fs::create_dir_all(data).at(data)?;
    let total = m.files.iter().map(|f| f.size).sum();
    let r = restore_files(src, &m, data, Bar::new("restore", total, progress));
    if r.is_err() {
        for (name, _) in list(data).unwrap_or_default() {
            let _ = remove_any(&data.join(name));
        }
    }
    r
}

fn restore_files(
    src: &Path,
    m: &SnapshotManifest,
    data: &Path,
    mut bar: Bar<'_>,
) -> Result<RestoreReport, BackupError> {
    let mut report = RestoreReport::default();
    let mpath = src.join("snapshots").join(&m.name).join("manifest.json");
    let bad =
        |what: &str, v: &str| BackupError::Corrupt(mpath.clone(), format!("unsafe {what} {v:?}"));
    let mut files: Vec<&ManifestEntry> = m.files.iter().collect();
    files.sort_by_key(|f| f.path == "index/meta.json"); // the commit point last
    let mut managed = Vec::new();
    for f in files {
        let from = stored_path(src, &m.name, f).ok_or_else(|| bad("stored path", &f.stored))?;
        let config = f.path == "gleaner.toml";
        let rel = safe_rel(if config {
            "restored-gleaner.toml"
        } else {
            &f.path
        });
        let to = data.join(rel.ok_or_else(|| bad("path", &f.path))?);
        if let Some(parent) = to.parent() {
            fs::create_dir_all(parent).at(parent)?;
        }
        let mut file = File::open(&from).at(&from)?;
        let (size, sha) = pump(&mut file, &from, Some(&to), Some(&mut bar))?;
        if let Some(problem) = mismatch(f, size, &sha) {
            return Err(BackupError::Corrupt(from, problem));
        }
        if f.path.starts_with("archive/") {
            set_readonly(&to)?;
        }
        if let Some(name) = f.path.strip_prefix("index/") {
            managed.push(name.to_string());
        }
        report.config = report.config.or(config.then_some(to));
        report.files_restored += 1;
        report.bytes_restored += size;
    }
    let index = data.join("index");
    if !managed.is_empty() {
        // So that tantivy garbage-collects these files once merges have replaced them.
        let p = index.join(".managed.json");
        let json = serde_json::to_vec(&managed)
            .map_err(|e| BackupError::Malformed(p.clone(), e.to_string()))?;
        pump(&mut &json[..], &p, Some(&p), None)?;
    }
    for d in [index, data.join("archive"), data.to_path_buf()] {
        if d.is_dir() {
            sync_dir(&d)?;
        }
    }
    report.snapshot = m.name.clone();
    Ok(report)
}

#[cfg(test)]
mod tests;
