//! Consistent, incremental backups of gleaner's data directory, and restore.
//!
//! # Layout of a backup destination
//!
//! ```text
//! DEST/objects/index/<segment file>   tantivy segment files (immutable), shared by all snapshots
//! DEST/objects/archive/<volume file>  sealed volumes (`.mbox.zst` + `.manifest.json`), shared
//! DEST/snapshots/<20261128T041500Z>/  one snapshot ("-01", "-02"... when several share a second)
//!     manifest.json     format "gleaner-backup/1", creation time, every file with size and SHA-256
//!     gleaner.db        copy made with SQLite's online backup API
//!     index-meta.json   the exact index/meta.json the snapshot's segment files belong to
//!     sources.json      copy (when the data directory has one)
//!     gleaner.toml      copy of the configuration (when one was given)
//! DEST/snapshots/.partial-<pid>-<n>-<name>/  a snapshot being written: never listed nor restored
//! ```
//!
//! Each manifest entry names where the file goes in a data directory (`path`) and where its
//! bytes are kept (`stored`: relative to DEST for shared objects, else to the snapshot
//! directory). Objects are written once (temporary name, fsync, rename) and never overwritten:
//! a file whose object already exists with the same size and the SHA-256 recorded by an earlier
//! manifest (hashed anew when no manifest records it) is reused, so an incremental backup copies
//! only new segments and new volumes. A same-named file with other content is kept beside it as
//! `<name>~<sha256 prefix>`. [`verify_backup`] re-hashes everything.
//!
//! # Consistency
//!
//! * Snapshots are atomic: written under `.partial-…`, fsynced, then renamed into place; a
//!   later backup removes partial directories (and stale pins) of processes that are gone.
//! * The database is copied from a read-only connection that holds one read transaction for the
//!   whole copy. In WAL mode that pins one commit without blocking the server's writers, so the
//!   copy is that commit and never restarts; it advances `sqlite_pages_per_step` pages at a time
//!   with `sqlite_pause` between steps.
//! * The index is captured as of one commit: read `meta.json`, hard-link exactly the files of
//!   the segments it lists (the delete file of the listed opstamp only) into
//!   `data/.backup-pin-<pid>-<n>/`, then read `meta.json` again. tantivy writes segment files
//!   before the `meta.json` naming them and garbage-collects only files the current commit does
//!   not list, so when `meta.json` did not change meanwhile every pinned file is complete and
//!   of that commit; the links keep them alive while they are copied even if a merge removes
//!   them from the index. Otherwise (or when a file vanished) the pins are dropped and it tries
//!   again, a bounded number of times. Without hard links the pins are copies, rechecked alike.
//! * Order: database and `sources.json` first, then the index, then the archive, so whatever the
//!   index refers to (volumes) is at least as new as the index, and progress recorded in the
//!   database is no newer than the index (a restored server re-reads rather than skips).
//! * `sources.json` is replaced by rename and archive volumes never change, so plain reads are
//!   consistent; a volume is taken only with its pair, `*.partial` files never.

use std::collections::{BTreeSet, HashMap};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::Duration;

use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;

/// Format tag of every snapshot manifest.
pub const FORMAT: &str = "gleaner-backup/1";
const PARTIAL: &str = ".partial-";
const TMP: &str = ".tmp-";
const PIN: &str = ".backup-pin-";
const MAX_PIN_ATTEMPTS: u32 = 50;
static SEQ: AtomicU64 = AtomicU64::new(0);

/// Why a backup, restore or listing failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackupError {
    /// A file system operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// SQLite failed while copying the database.
    #[error("database {path}: {source}")]
    Sqlite {
        /// The database file concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: rusqlite::Error,
    },
    /// An index `meta.json` or a snapshot manifest is not what it should be.
    #[error("{path}: {reason}")]
    Malformed {
        /// The file concerned.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The index committed during every attempt to pin one commit.
    #[error("index {path} changed during each of {attempts} attempts to capture one commit")]
    IndexBusy {
        /// The index directory.
        path: PathBuf,
        /// How many attempts were made.
        attempts: u32,
    },
    /// A file that must never change (segment file, volume) changed while it was copied.
    #[error("{path} changed while it was being backed up")]
    Changed {
        /// The file concerned.
        path: PathBuf,
    },
    /// The restore target already holds something.
    #[error("refusing to restore into {path}: it is not empty (restore into an empty or absent directory)")]
    NotEmpty {
        /// The data directory given.
        path: PathBuf,
    },
    /// The destination holds no (such) snapshot.
    #[error("no snapshot {name} in {dest}")]
    NoSnapshot {
        /// The backup destination.
        dest: PathBuf,
        /// The snapshot asked for, or "(any)".
        name: String,
    },
    /// A backed-up file does not match its manifest.
    #[error("{path} is corrupt: {problem}")]
    Corrupt {
        /// The backed-up file (or manifest) concerned.
        path: PathBuf,
        /// What does not match.
        problem: String,
    },
    /// The current time could not be formatted.
    #[error("formatting the snapshot time: {0}")]
    Time(#[from] time::error::Format),
}

trait At<T> {
    fn at(self, path: &Path) -> Result<T, BackupError>;
}
impl<T> At<T> for io::Result<T> {
    fn at(self, path: &Path) -> Result<T, BackupError> {
        self.map_err(|source| BackupError::Io {
            path: path.to_path_buf(),
            source,
        })
    }
}
impl<T> At<T> for rusqlite::Result<T> {
    fn at(self, path: &Path) -> Result<T, BackupError> {
        self.map_err(|source| BackupError::Sqlite {
            path: path.to_path_buf(),
            source,
        })
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
        BackupOptions {
            config: None,
            sqlite_pages_per_step: 256,
            sqlite_pause: Duration::from_millis(5),
        }
    }
}

/// How far a long stage is, for drawing a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// "database", "index" or "archive" while backing up; "restore" while restoring.
    pub stage: &'static str,
    /// Bytes of this stage done so far.
    pub done_bytes: u64,
    /// Bytes this stage has in all.
    pub total_bytes: u64,
}

/// What [`backup`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BackupReport {
    /// The new snapshot's name (its directory under `DEST/snapshots/`).
    pub snapshot: String,
    /// The new snapshot's directory.
    pub path: PathBuf,
    /// Files written to the destination (snapshot files and new objects).
    pub files_copied: u64,
    /// Objects already in the destination and reused.
    pub files_reused: u64,
    /// Bytes written to the destination.
    pub bytes_copied: u64,
    /// The opstamp of the index commit captured.
    pub index_opstamp: u64,
    /// Archive files left out: unpaired or unknown names, volumes removed meanwhile.
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
    /// The snapshot's name (when listed: its directory name).
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
    /// Where it goes in a data directory: "gleaner.db", "sources.json", "index/meta.json",
    /// "index/<file>", "archive/<file>"; "gleaner.toml" is the configuration.
    pub path: String,
    /// Where its bytes are: relative to DEST when `shared`, else to the snapshot directory.
    pub stored: String,
    /// Whether it is an object shared by snapshots.
    pub shared: bool,
    /// Its size in bytes.
    pub size: u64,
    /// Its SHA-256, lowercase hex.
    pub sha256: String,
}

struct Bar<'p> {
    stage: &'static str,
    done: u64,
    total: u64,
    f: &'p mut dyn FnMut(Progress),
}

impl Bar<'_> {
    fn add(&mut self, n: u64) {
        self.done = (self.done + n).min(self.total);
        (self.f)(Progress {
            stage: self.stage,
            done_bytes: self.done,
            total_bytes: self.total,
        });
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

/// Empties a directory when dropped, unless disarmed.
struct EmptyOnFail(Option<PathBuf>);
impl Drop for EmptyOnFail {
    fn drop(&mut self) {
        if let Some(Ok(rd)) = self.0.take().map(fs::read_dir) {
            for e in rd.flatten() {
                let _ = remove_any(&e.path());
            }
        }
    }
}

fn temp_name(prefix: &str, name: &str) -> String {
    format!(
        "{prefix}{}-{}-{name}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    )
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

/// Whether a leftover `<prefix><pid>-…` belongs to a process that is gone.
fn is_stale(path: &Path, rest: &str) -> bool {
    match rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) {
        None => true,
        Some(pid) if pid == std::process::id() => false,
        Some(pid) if Path::new("/proc/self").exists() => {
            !Path::new("/proc").join(pid.to_string()).exists()
        }
        // No /proc to ask: a day-old leftover is taken as dead.
        Some(_) => fs::symlink_metadata(path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > Duration::from_secs(86_400)),
    }
}

fn clean_stale(dir: &Path, prefix: &str) -> Result<(), BackupError> {
    let rd = match fs::read_dir(dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        r => r.at(dir)?,
    };
    for entry in rd {
        let entry = entry.at(dir)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(rest) = name.strip_prefix(prefix) {
            if is_stale(&entry.path(), rest) {
                remove_any(&entry.path())?;
            }
        }
    }
    Ok(())
}

/// Reads `src` to its end, hashing it and (when `dst` is given) writing it to the new file
/// `dst`, fsynced. Returns the size and the SHA-256.
fn pump(
    src: &mut dyn Read,
    src_path: &Path,
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
            Err(e) => return Err(e).at(src_path),
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

fn stored_path(dest: &Path, snap_dir: &Path, f: &ManifestEntry) -> Option<PathBuf> {
    let rel = safe_rel(&f.stored)?;
    Some(if f.shared {
        dest.join(rel)
    } else {
        snap_dir.join(rel)
    })
}

/// Copies the database with the online backup API (see the module doc).
fn backup_db(
    src_path: &Path,
    dst_path: &Path,
    opts: &BackupOptions<'_>,
    progress: &mut dyn FnMut(Progress),
) -> Result<(), BackupError> {
    let src = Connection::open_with_flags(
        src_path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .at(src_path)?;
    src.busy_timeout(Duration::from_secs(10)).at(src_path)?;
    let mode: String = src
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .at(src_path)?;
    let page_size: i64 = src
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
        loop {
            let step = b.step(pages).at(src_path)?;
            let p = b.progress();
            let bytes = |pages: i32| u64::try_from(i64::from(pages) * page_size).unwrap_or(0);
            progress(Progress {
                stage: "database",
                done_bytes: bytes(p.pagecount - p.remaining),
                total_bytes: bytes(p.pagecount),
            });
            if matches!(step, StepResult::Done) {
                break;
            }
            thread::sleep(opts.sqlite_pause);
        }
    }
    dst.close().map_err(|(_, e)| e).at(dst_path)?;
    if hold {
        src.execute_batch("COMMIT").at(src_path)?;
    }
    File::open(dst_path).and_then(|f| f.sync_all()).at(dst_path)
}

/// The opstamp and the segments (32-hex id, delete opstamp) an index `meta.json` lists.
fn parse_meta(bytes: &[u8], path: &Path) -> Result<(u64, Vec<(String, Option<u64>)>), BackupError> {
    use serde_json::Value;
    let bad = |reason: String| BackupError::Malformed {
        path: path.to_path_buf(),
        reason,
    };
    let v: Value = serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
    let segs = v
        .get("segments")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("no \"segments\" list".into()))?;
    let segs = segs.iter().map(|s| {
        let raw = s
            .get("segment_id")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("a segment without \"segment_id\"".into()))?;
        let id = raw.replace('-', "").to_ascii_lowercase();
        if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad(format!("bad segment id {raw:?}")));
        }
        let del = match s.get("deletes") {
            None | Some(Value::Null) => None,
            Some(d) => Some(
                d.get("opstamp")
                    .and_then(Value::as_u64)
                    .ok_or_else(|| bad(format!("segment {raw}: deletes without opstamp")))?,
            ),
        };
        Ok((id, del))
    });
    Ok((
        v.get("opstamp").and_then(Value::as_u64).unwrap_or(0),
        segs.collect::<Result<_, _>>()?,
    ))
}

struct Pinned {
    meta: Vec<u8>,
    opstamp: u64,
    files: Vec<String>,
}

/// Pins the files of one index commit into `pin` (see the module doc).
fn pin_index(index: &Path, pin: &Path, mut links: bool) -> Result<Pinned, BackupError> {
    let meta_path = index.join("meta.json");
    for attempt in 0..MAX_PIN_ATTEMPTS {
        if attempt > 0 {
            thread::sleep(Duration::from_millis(5 * u64::from(attempt.min(20))));
        }
        let meta = fs::read(&meta_path).at(&meta_path)?;
        let (opstamp, segs) = parse_meta(&meta, &meta_path)?;
        let wanted: HashMap<&str, Option<u64>> =
            segs.iter().map(|(id, d)| (id.as_str(), *d)).collect();
        let mut files = Vec::new();
        for entry in fs::read_dir(index).at(index)? {
            let Ok(name) = entry.at(index)?.file_name().into_string() else {
                continue;
            };
            let Some((id, ext)) = name.split_once('.') else {
                continue;
            };
            let Some(del) = wanted.get(id) else { continue };
            let keep = match ext.strip_suffix(".del") {
                Some(op) => op.parse().ok() == *del,
                None => ext != "store.temp",
            };
            if keep {
                files.push(name);
            }
        }
        files.sort();
        let complete = segs.iter().all(|(id, del)| {
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
                links = false; // No hard links here: pin by copying (on Unix an open file outlives its deletion).
                r = fs::copy(&from, &to).map(|_| ());
            }
            match r {
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    vanished = true;
                    break;
                }
                r => r.at(&from)?,
            }
        }
        if vanished || fs::read(&meta_path).at(&meta_path)? != meta {
            continue;
        }
        if !complete {
            return Err(BackupError::Malformed {
                path: meta_path,
                reason: "lists segment files that do not exist".into(),
            });
        }
        return Ok(Pinned {
            meta,
            opstamp,
            files,
        });
    }
    Err(BackupError::IndexBusy {
        path: index.to_path_buf(),
        attempts: MAX_PIN_ATTEMPTS,
    })
}

/// The SHA-256 of object `objects/<kind>/<name>` if it exists with `size` bytes ("" if it
/// exists with another size), trusting a manifest's record over re-reading it.
fn object_sha(
    dest: &Path,
    known: &HashMap<String, (u64, String)>,
    kind: &str,
    name: &str,
    size: u64,
) -> Result<Option<String>, BackupError> {
    let p = dest.join("objects").join(kind).join(name);
    match fs::metadata(&p) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Ok(m) if m.len() != size => Ok(Some(String::new())),
        r => {
            r.at(&p)?;
            match known.get(&format!("objects/{kind}/{name}")) {
                Some((s, sha)) if *s == size => Ok(Some(sha.clone())),
                _ => Ok(Some(hash_path(&p)?.1)),
            }
        }
    }
}

/// Stores `src` as a shared object unless an identical one is there; None if `src` is gone.
fn store_object(
    dest: &Path,
    known: &HashMap<String, (u64, String)>,
    kind: &str,
    name: &str,
    src: &Path,
    bar: &mut Bar<'_>,
    report: &mut BackupReport,
) -> Result<Option<ManifestEntry>, BackupError> {
    let mut file = match File::open(src) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        r => r.at(src)?,
    };
    let size = file.metadata().at(src)?.len();
    let entry = |stored: &str, sha: String| ManifestEntry {
        path: format!("{kind}/{name}"),
        stored: format!("objects/{kind}/{stored}"),
        shared: true,
        size,
        sha256: sha,
    };
    let mut src_sha = None;
    if let Some(obj) = object_sha(dest, known, kind, name, size)? {
        let sha = pump(&mut file, src, None, Some(bar))?.1;
        if sha == obj {
            report.files_reused += 1;
            return Ok(Some(entry(name, sha)));
        }
        src_sha = Some(sha);
        io::Seek::rewind(&mut file).at(src)?;
    }
    let dir = dest.join("objects").join(kind);
    let tmp = dir.join(temp_name(TMP, name));
    let mut guard = Cleanup(Some(tmp.clone()));
    let (n, sha) = pump(&mut file, src, Some(&tmp), Some(bar))?;
    if n != size || src_sha.as_ref().is_some_and(|s| *s != sha) {
        return Err(BackupError::Changed {
            path: src.to_path_buf(),
        });
    }
    let mut stored = name.to_string();
    if object_sha(dest, known, kind, name, size)?.is_some() {
        stored = format!("{name}~{}", sha.get(..16).unwrap_or_default());
        if object_sha(dest, known, kind, &stored, size)?.as_ref() == Some(&sha) {
            report.files_reused += 1;
            return Ok(Some(entry(&stored, sha)));
        }
    }
    set_readonly(&tmp)?;
    let target = dir.join(&stored);
    fs::rename(&tmp, &target).at(&target)?;
    guard.0 = None;
    report.files_copied += 1;
    report.bytes_copied += n;
    Ok(Some(entry(&stored, sha)))
}

/// Sealed volume files in `archive/` (complete pairs only) and what was left out.
fn archive_files(dir: &Path) -> Result<(Vec<String>, Vec<String>), BackupError> {
    let rd = match fs::read_dir(dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((Vec::new(), Vec::new())),
        r => r.at(dir)?,
    };
    let (mut names, mut skipped) = (BTreeSet::new(), Vec::new());
    for entry in rd {
        let entry = entry.at(dir)?;
        match entry.file_name().into_string() {
            Ok(n) if n.starts_with('.') || n.ends_with(".partial") => {}
            Ok(n) if entry.file_type().at(&entry.path())?.is_file() => {
                names.insert(n);
            }
            Ok(_) => {}
            Err(n) => skipped.push(format!("archive/{}", n.to_string_lossy())),
        }
    }
    let mut keep = Vec::new();
    for n in &names {
        let pair = if let Some(stem) = n.strip_suffix(".mbox.zst") {
            Some(format!("{stem}.manifest.json"))
        } else {
            n.strip_suffix(".manifest.json")
                .map(|stem| format!("{stem}.mbox.zst"))
        };
        match pair {
            Some(p) if names.contains(&p) => keep.push(n.clone()),
            _ => skipped.push(format!("archive/{n}")),
        }
    }
    Ok((keep, skipped))
}

/// Takes a consistent snapshot of the data directory `data` into the backup destination
/// `dest` (created if needed), copying only objects it does not hold yet.
pub fn backup(
    data: &Path,
    dest: &Path,
    opts: &BackupOptions<'_>,
    progress: &mut dyn FnMut(Progress),
) -> Result<BackupReport, BackupError> {
    let (snaps, obj_index, obj_archive) = (
        dest.join("snapshots"),
        dest.join("objects/index"),
        dest.join("objects/archive"),
    );
    for d in [&snaps, &obj_index, &obj_archive] {
        fs::create_dir_all(d).at(d)?;
    }
    clean_stale(&snaps, PARTIAL)?;
    clean_stale(&obj_index, TMP)?;
    clean_stale(&obj_archive, TMP)?;
    clean_stale(data, PIN)?;
    let known: HashMap<String, (u64, String)> = list_snapshots(dest)?
        .into_iter()
        .flat_map(|m| m.files)
        .filter(|f| f.shared)
        .map(|f| (f.stored, (f.size, f.sha256)))
        .collect();
    let now = time::OffsetDateTime::now_utc();
    let base = now.format(format_description!(
        "[year][month][day]T[hour][minute][second]Z"
    ))?;
    let name = (0..100)
        .map(|k| {
            if k == 0 {
                base.clone()
            } else {
                format!("{base}-{k:02}")
            }
        })
        .find(|n| !snaps.join(n).exists())
        .ok_or_else(|| BackupError::Io {
            path: snaps.join(&base),
            source: io::ErrorKind::AlreadyExists.into(),
        })?;
    let tmp = snaps.join(temp_name(PARTIAL, &name));
    fs::create_dir(&tmp).at(&tmp)?;
    let mut tmp_guard = Cleanup(Some(tmp.clone()));
    let mut report = BackupReport {
        snapshot: name.clone(),
        path: snaps.join(&name),
        ..BackupReport::default()
    };
    let mut files = Vec::new();
    let local = |path: &str,
                 stored: &str,
                 src: &mut dyn Read,
                 src_path: &Path,
                 report: &mut BackupReport| {
        let to = tmp.join(stored);
        let (size, sha256) = pump(src, src_path, Some(&to), None)?;
        report.files_copied += 1;
        report.bytes_copied += size;
        Ok::<_, BackupError>(ManifestEntry {
            path: path.into(),
            stored: stored.into(),
            shared: false,
            size,
            sha256,
        })
    };

    let (db_src, db) = (data.join("gleaner.db"), tmp.join("gleaner.db"));
    backup_db(&db_src, &db, opts, progress)?;
    let (size, sha256) = hash_path(&db)?;
    files.push(ManifestEntry {
        path: "gleaner.db".into(),
        stored: "gleaner.db".into(),
        shared: false,
        size,
        sha256,
    });
    report.files_copied += 1;
    report.bytes_copied += size;
    let sources = data.join("sources.json");
    match File::open(&sources) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        f => files.push(local(
            "sources.json",
            "sources.json",
            &mut f.at(&sources)?,
            &sources,
            &mut report,
        )?),
    }
    if let Some(cfg) = opts.config {
        files.push(local(
            "gleaner.toml",
            "gleaner.toml",
            &mut File::open(cfg).at(cfg)?,
            cfg,
            &mut report,
        )?);
    }

    let (index, pin) = (data.join("index"), data.join(temp_name(PIN, "")));
    let pin_guard = Cleanup(Some(pin.clone()));
    let pinned = pin_index(&index, &pin, true)?;
    report.index_opstamp = pinned.opstamp;
    files.push(local(
        "index/meta.json",
        "index-meta.json",
        &mut &pinned.meta[..],
        &index.join("meta.json"),
        &mut report,
    )?);
    let total = pinned
        .files
        .iter()
        .map(|f| fs::metadata(pin.join(f)).map(|m| m.len()).unwrap_or(0))
        .sum();
    let mut bar = Bar {
        stage: "index",
        done: 0,
        total,
        f: &mut *progress,
    };
    for f in &pinned.files {
        let p = pin.join(f);
        files.push(
            store_object(dest, &known, "index", f, &p, &mut bar, &mut report)?
                .ok_or(BackupError::Changed { path: p })?,
        );
    }
    drop(pin_guard);

    let archive = data.join("archive");
    let (vols, skipped) = archive_files(&archive)?;
    report.skipped = skipped;
    let total = vols
        .iter()
        .map(|v| fs::metadata(archive.join(v)).map(|m| m.len()).unwrap_or(0))
        .sum();
    let mut bar = Bar {
        stage: "archive",
        done: 0,
        total,
        f: &mut *progress,
    };
    for v in &vols {
        match store_object(
            dest,
            &known,
            "archive",
            v,
            &archive.join(v),
            &mut bar,
            &mut report,
        )? {
            Some(e) => files.push(e),
            None => report.skipped.push(format!("archive/{v}")),
        }
    }

    let manifest = SnapshotManifest {
        format: FORMAT.into(),
        name: name.clone(),
        created: now.format(&Rfc3339)?,
        files,
    };
    let json = serde_json::to_vec_pretty(&manifest).map_err(|e| BackupError::Malformed {
        path: tmp.join("manifest.json"),
        reason: e.to_string(),
    })?;
    pump(&mut &json[..], &tmp, Some(&tmp.join("manifest.json")), None)?;
    for d in [&tmp, &obj_index, &obj_archive] {
        sync_dir(d)?;
    }
    fs::rename(&tmp, &report.path).at(&report.path)?;
    tmp_guard.0 = None;
    sync_dir(&snaps)?;
    Ok(report)
}

fn read_manifest(snap_dir: &Path) -> Result<SnapshotManifest, BackupError> {
    let path = snap_dir.join("manifest.json");
    let bytes = fs::read(&path).at(&path)?;
    let m: SnapshotManifest =
        serde_json::from_slice(&bytes).map_err(|e| BackupError::Malformed {
            path: path.clone(),
            reason: e.to_string(),
        })?;
    if m.format != FORMAT {
        return Err(BackupError::Malformed {
            path,
            reason: format!("unknown format {:?}", m.format),
        });
    }
    Ok(m)
}

/// Snapshot directories of `dest` (dot-names skipped), with their manifest or why it is unreadable.
fn snapshot_dirs(
    dest: &Path,
) -> Result<Vec<(String, Result<SnapshotManifest, BackupError>)>, BackupError> {
    let dir = dest.join("snapshots");
    let rd = match fs::read_dir(&dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        r => r.at(&dir)?,
    };
    let mut out = Vec::new();
    for entry in rd {
        let entry = entry.at(&dir)?;
        match entry.file_name().into_string() {
            Ok(n) if !n.starts_with('.') && entry.file_type().at(&entry.path())?.is_dir() => {
                let m = read_manifest(&entry.path()).map(|m| SnapshotManifest {
                    name: n.clone(),
                    ..m
                });
                out.push((n, m));
            }
            _ => {}
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// The complete snapshots in `dest`, oldest first; partial or unreadable ones are left out
/// ([`verify_backup`] reports the latter).
pub fn list_snapshots(dest: &Path) -> Result<Vec<SnapshotManifest>, BackupError> {
    Ok(snapshot_dirs(dest)?
        .into_iter()
        .filter_map(|(_, m)| m.ok())
        .collect())
}

/// Re-hashes every file of every snapshot in `dest`; returns the problems found, one line each
/// (none: the backup is sound).
pub fn verify_backup(dest: &Path) -> Result<Vec<String>, BackupError> {
    let mut problems = Vec::new();
    let mut seen: HashMap<PathBuf, Result<(u64, String), String>> = HashMap::new();
    let dirs = snapshot_dirs(dest)?;
    if dirs.is_empty() {
        problems.push(format!("{}: no snapshots", dest.display()));
    }
    for (name, m) in dirs {
        let m = match m {
            Ok(m) => m,
            Err(e) => {
                problems.push(format!("snapshot {name}: {e}"));
                continue;
            }
        };
        let snap_dir = dest.join("snapshots").join(&name);
        for f in &m.files {
            let Some(p) = stored_path(dest, &snap_dir, f) else {
                problems.push(format!(
                    "snapshot {name}: unsafe stored path {:?}",
                    f.stored
                ));
                continue;
            };
            match seen.entry(p.clone()).or_insert_with(|| hash_path(&p).map_err(|e| e.to_string())) {
                Ok((size, sha)) if *size == f.size && *sha == f.sha256 => {}
                Ok((size, sha)) => problems.push(format!(
                    "snapshot {name}: {} is corrupt: expected {} bytes with sha256 {}, found {size} bytes with sha256 {sha}",
                    p.display(),
                    f.size,
                    f.sha256
                )),
                Err(e) => problems.push(format!("snapshot {name}: {e}")),
            }
        }
    }
    Ok(problems)
}

/// Restores snapshot `snapshot` (the newest when None) of the backup at `src` into the data
/// directory `data`, which must be empty or absent; every file is checked against the manifest.
/// On failure `data` is left empty.
pub fn restore(
    src: &Path,
    snapshot: Option<&str>,
    data: &Path,
    progress: &mut dyn FnMut(Progress),
) -> Result<RestoreReport, BackupError> {
    match fs::read_dir(data) {
        Ok(rd) if rd.count() > 0 => {
            return Err(BackupError::NotEmpty {
                path: data.to_path_buf(),
            })
        }
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e).at(data),
        _ => {}
    }
    let mut snaps = list_snapshots(src)?;
    let m = match snapshot {
        Some(n) => snaps.into_iter().find(|m| m.name == n),
        None => snaps.pop(),
    };
    let m = m.ok_or_else(|| BackupError::NoSnapshot {
        dest: src.to_path_buf(),
        name: snapshot.unwrap_or("(any)").to_string(),
    })?;
    let snap_dir = src.join("snapshots").join(&m.name);
    fs::create_dir_all(data).at(data)?;
    let mut guard = EmptyOnFail(Some(data.to_path_buf()));
    let mut files: Vec<&ManifestEntry> = m.files.iter().collect();
    files.sort_by_key(|f| f.path == "index/meta.json"); // the commit point last
    let total = files.iter().map(|f| f.size).sum();
    let mut bar = Bar {
        stage: "restore",
        done: 0,
        total,
        f: progress,
    };
    let mut report = RestoreReport {
        snapshot: m.name.clone(),
        ..RestoreReport::default()
    };
    let mut managed = Vec::new();
    let bad = |what: &str, v: &str| BackupError::Corrupt {
        path: snap_dir.join("manifest.json"),
        problem: format!("unsafe {what} {v:?}"),
    };
    for f in files {
        let from = stored_path(src, &snap_dir, f).ok_or_else(|| bad("stored path", &f.stored))?;
        let rel = if f.path == "gleaner.toml" {
            Some(PathBuf::from("restored-gleaner.toml"))
        } else {
            safe_rel(&f.path)
        };
        let to = data.join(rel.ok_or_else(|| bad("path", &f.path))?);
        if let Some(parent) = to.parent() {
            fs::create_dir_all(parent).at(parent)?;
        }
        let (size, sha) = pump(
            &mut File::open(&from).at(&from)?,
            &from,
            Some(&to),
            Some(&mut bar),
        )?;
        if size != f.size || sha != f.sha256 {
            let problem = format!(
                "expected {} bytes with sha256 {}, found {size} bytes with sha256 {sha}",
                f.size, f.sha256
            );
            return Err(BackupError::Corrupt {
                path: from,
                problem,
            });
        }
        if f.path.starts_with("archive/") {
            set_readonly(&to)?;
        }
        if f.path == "gleaner.toml" {
            report.config = Some(to);
        }
        if let Some(name) = f.path.strip_prefix("index/") {
            managed.push(name.to_string());
        }
        report.files_restored += 1;
        report.bytes_restored += size;
    }
    let index = data.join("index");
    if !managed.is_empty() {
        // So that tantivy garbage-collects these files once merges replace them.
        let p = index.join(".managed.json");
        let json = serde_json::to_vec(&managed).map_err(|e| BackupError::Malformed {
            path: p.clone(),
            reason: e.to_string(),
        })?;
        pump(&mut &json[..], &p, Some(&p), None)?;
    }
    for d in [index, data.join("archive"), data.to_path_buf()] {
        if d.is_dir() {
            sync_dir(&d)?;
        }
    }
    guard.0 = None;
    Ok(report)
}
