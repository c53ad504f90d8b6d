//! The primary's side of replication: what a standby may fetch.
//!
//! The database is shipped as a whole snapshot made with SQLite's online
//! backup API (one read transaction: writers are not blocked in WAL mode),
//! kept in memory with its SHA-256, and taken again only when
//! `PRAGMA data_version` on a connection of its own moved (any commit by any
//! other connection moves it), so a standby polling an idle primary costs a
//! pragma. Index files and volumes are named by a manifest and served as
//! they are (they never change once written). This module does not know
//! HTTP: the routes in `http/` call it.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use rusqlite::{Connection, OpenFlags};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{At, ReplicaError};
use crate::access::Users;

/// One database snapshot as shipped.
#[derive(Debug, Clone)]
pub struct DbSnapshot {
    /// SHA-256 of `bytes` (hex), the ETag.
    pub etag: String,
    /// The SQLite file.
    pub bytes: Arc<Vec<u8>>,
    /// When it was taken (Unix ms).
    pub taken_ms: i64,
    /// How long taking it took (ms).
    pub took_ms: u64,
}

/// A file as a manifest names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// File name (in `index/` or the archive directory).
    pub name: String,
    /// Size in bytes.
    pub size: u64,
}

/// One index commit: its `meta.json` and the files it needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexManifest {
    /// gleaner's index schema version (primary and standby must agree).
    pub schema_version: String,
    /// The exact `meta.json`.
    pub meta: String,
    /// Every segment file that commit lists.
    pub files: Vec<FileEntry>,
    /// `sources.json` of the data directory (what `rebuild` re-reads), if any.
    pub sources: Option<String>,
}

/// The sealed volumes (complete pairs: `.mbox.zst` and `.manifest.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchiveManifest {
    /// Every file of a sealed volume.
    pub files: Vec<FileEntry>,
}

/// The primary's replication source (`[replica]`).
pub struct Source {
    data: PathBuf,
    archive: PathBuf,
    users: Users,
    allowed: Vec<String>,
    watch: Mutex<Connection>,
    snapshot: Mutex<Option<(i64, DbSnapshot)>>,
}

/// Tries to read one index commit consistently.
const MANIFEST_ATTEMPTS: u32 = 20;

impl Source {
    /// Serves `data` (its archive in `archive`) to replication tokens named in
    /// `allowed` (empty: any replication token).
    pub fn open(
        data: &Path,
        archive: &Path,
        users: Users,
        allowed: Vec<String>,
    ) -> Result<Source, ReplicaError> {
        let db = data.join(crate::db::DB_FILE);
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let watch = Connection::open_with_flags(&db, flags)?;
        watch.busy_timeout(std::time::Duration::from_secs(10))?;
        Ok(Source {
            data: data.to_path_buf(),
            archive: archive.to_path_buf(),
            users,
            allowed,
            watch: Mutex::new(watch),
            snapshot: Mutex::new(None),
        })
    }

    /// Whether `bearer` is a live replication token allowed here; its name.
    pub fn authorize(&self, bearer: &str) -> Result<Option<String>, ReplicaError> {
        let name = self.users.replication_token(bearer)?;
        Ok(name.filter(|n| self.allowed.is_empty() || self.allowed.contains(n)))
    }

    /// The database as of now: the cached snapshot while nothing committed
    /// since it was taken, else a new one.
    pub fn db_snapshot(&self) -> Result<DbSnapshot, ReplicaError> {
        let mut cached = self.snapshot.lock().unwrap_or_else(|p| p.into_inner());
        // Read before copying: a commit during the copy moves it, so the next call copies again.
        let version: i64 = {
            let watch = self.watch.lock().unwrap_or_else(|p| p.into_inner());
            watch.query_row("PRAGMA data_version", [], |r| r.get(0))?
        };
        if let Some((v, snap)) = cached.as_ref() {
            if *v == version {
                return Ok(snap.clone());
            }
        }
        let started = Instant::now();
        let taken_ms = super::now_ms();
        let bytes = snapshot_bytes(&self.data.join(crate::db::DB_FILE))?;
        let snap = DbSnapshot {
            etag: hex::encode(Sha256::digest(&bytes)),
            bytes: Arc::new(bytes),
            taken_ms,
            took_ms: started.elapsed().as_millis() as u64,
        };
        tracing::debug!(
            bytes = snap.bytes.len(),
            took_ms = snap.took_ms,
            "replica: database snapshot"
        );
        *cached = Some((version, snap.clone()));
        Ok(snap)
    }

    /// The index's current commit and its files, read consistently
    /// (`meta.json` read again after listing; retried if it changed).
    pub fn index_manifest(&self) -> Result<IndexManifest, ReplicaError> {
        let dir = self.data.join("index");
        let meta_path = dir.join("meta.json");
        let schema_version = std::fs::read_to_string(dir.join("gleaner-schema-version"))
            .at(&dir)?
            .trim()
            .to_string();
        for _ in 0..MANIFEST_ATTEMPTS {
            let meta = std::fs::read_to_string(&meta_path).at(&meta_path)?;
            let files = commit_files(&dir, &meta)?;
            if std::fs::read_to_string(&meta_path).at(&meta_path)? != meta {
                continue;
            }
            let sources = std::fs::read_to_string(self.data.join("sources.json")).ok();
            return Ok(IndexManifest {
                schema_version,
                meta,
                files,
                sources,
            });
        }
        Err(ReplicaError::Protocol(
            "the index committed too often to read one commit".into(),
        ))
    }

    /// The sealed volumes.
    pub fn archive_manifest(&self) -> Result<ArchiveManifest, ReplicaError> {
        let mut names = std::collections::BTreeSet::new();
        if let Ok(rd) = std::fs::read_dir(&self.archive) {
            for e in rd.flatten() {
                if let Some(n) = e.file_name().to_str() {
                    if super::plain_name(n) {
                        names.insert(n.to_string());
                    }
                }
            }
        }
        let mut files = Vec::new();
        for n in &names {
            let pair = match (
                n.strip_suffix(".mbox.zst"),
                n.strip_suffix(".manifest.json"),
            ) {
                (Some(stem), _) => format!("{stem}.manifest.json"),
                (_, Some(stem)) => format!("{stem}.mbox.zst"),
                _ => continue,
            };
            if names.contains(&pair) {
                let p = self.archive.join(n);
                let size = std::fs::metadata(&p).at(&p)?.len();
                files.push(FileEntry {
                    name: n.clone(),
                    size,
                });
            }
        }
        Ok(ArchiveManifest { files })
    }

    /// When this data directory was last promoted from a standby, if ever.
    pub fn promoted_at(&self) -> Option<i64> {
        super::promoted_at(&self.data)
    }

    /// The path of an index file a standby may fetch (segment files only).
    pub fn index_file(&self, name: &str) -> Option<PathBuf> {
        segment_file(name)
            .is_some()
            .then(|| self.data.join("index").join(name))
    }

    /// The path of a volume file a standby may fetch.
    pub fn archive_file(&self, name: &str) -> Option<PathBuf> {
        let ok = super::plain_name(name)
            && (name.ends_with(".mbox.zst") || name.ends_with(".manifest.json"));
        ok.then(|| self.archive.join(name))
    }
}

/// Copies the database at `path` with the online backup API into memory.
fn snapshot_bytes(path: &Path) -> Result<Vec<u8>, ReplicaError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let src = Connection::open_with_flags(path, flags)?;
    src.busy_timeout(std::time::Duration::from_secs(10))?;
    let tmp = tempfile::Builder::new()
        .prefix(".replica-snapshot-")
        .tempfile_in(path.parent().unwrap_or(Path::new(".")))
        .at(path)?;
    src.backup(
        rusqlite::MAIN_DB,
        tmp.path(),
        None::<fn(rusqlite::backup::Progress)>,
    )?;
    std::fs::read(tmp.path()).at(tmp.path())
}

/// The segment id of an index file name (`<32 hex>.<ext>`), if it is one.
pub(crate) fn segment_file(name: &str) -> Option<&str> {
    let (id, ext) = name.split_once('.')?;
    let ok = id.len() == 32
        && id.bytes().all(|b| b.is_ascii_hexdigit())
        && !ext.is_empty()
        && !ext.ends_with("temp")
        && super::plain_name(name);
    ok.then_some(id)
}

/// The files of the commit `meta` describes that are in `dir`.
fn commit_files(dir: &Path, meta: &str) -> Result<Vec<FileEntry>, ReplicaError> {
    let segments = meta_segments(meta)?;
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).at(dir)?.flatten() {
        let Some(name) = e.file_name().to_str().map(str::to_string) else {
            continue;
        };
        let Some(id) = segment_file(&name) else {
            continue;
        };
        let Some(del) = segments.get(&id.to_ascii_lowercase()) else {
            continue;
        };
        // A delete file belongs to the commit only for the opstamp it lists.
        if let Some(op) = name[33..].strip_suffix(".del") {
            if op.parse::<u64>().ok() != *del {
                continue;
            }
        }
        let size = match e.metadata() {
            Ok(m) => m.len(),
            Err(_) => continue,
        };
        out.push(FileEntry { name, size });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Segment ids (32 lowercase hex digits) of a `meta.json`, with their delete opstamp.
pub(crate) fn meta_segments(
    meta: &str,
) -> Result<std::collections::HashMap<String, Option<u64>>, ReplicaError> {
    use serde_json::Value;
    let bad = |why: &str| ReplicaError::Protocol(format!("index meta.json: {why}"));
    let v: Value = serde_json::from_str(meta).map_err(|e| bad(&e.to_string()))?;
    let mut out = std::collections::HashMap::new();
    for s in v
        .get("segments")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("no segments"))?
    {
        let id = s
            .get("segment_id")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("a segment without id"))?
            .replace('-', "")
            .to_ascii_lowercase();
        let del = s
            .get("deletes")
            .and_then(|d| d.get("opstamp"))
            .and_then(Value::as_u64);
        out.insert(id, del);
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// The cost of one shipment by database size (docs/BENCHMARKS.md, "Standby"):
    /// `cargo test --lib replica::source::tests::shipping_cost -- --ignored --nocapture`
    #[test]
    #[ignore]
    fn shipping_cost() {
        for mb in [1usize, 10, 100] {
            let dir = tempfile::tempdir().unwrap();
            let (primary, standby) = (dir.path().join("p"), dir.path().join("s"));
            let mut conn = crate::db::open(&primary).unwrap();
            crate::audit::migrate(&mut conn).unwrap();
            conn.execute_batch("CREATE TABLE filler (id INTEGER PRIMARY KEY, text TEXT)")
                .unwrap();
            let tx = conn.transaction().unwrap();
            // Text like documents and notes: words drawn at random from 4096 made-up ones.
            let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
            let mut next = move || {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x
            };
            for _ in 0..mb * 256 {
                let mut text = String::with_capacity(4100);
                while text.len() < 4000 {
                    let w = next() % 4096;
                    for k in 0..(3 + w % 7) {
                        text.push(char::from(b'a' + ((w * 31 + k * 7) % 26) as u8));
                    }
                    text.push(' ');
                }
                tx.execute("INSERT INTO filler (text) VALUES (?1)", [text])
                    .unwrap();
            }
            tx.commit().unwrap();
            let started = Instant::now();
            let bytes = snapshot_bytes(&primary.join(crate::db::DB_FILE)).unwrap();
            let etag = hex::encode(Sha256::digest(&bytes));
            let snap = started.elapsed();
            std::fs::create_dir_all(&standby).unwrap();
            crate::db::open(&standby).unwrap();
            let started = Instant::now();
            super::super::apply::apply_db(&standby, &bytes, &etag).unwrap();
            let apply = started.elapsed();
            let started = Instant::now();
            let packed = zstd::encode_all(&bytes[..], 1).unwrap();
            let zstd = started.elapsed();
            eprintln!(
                "{mb:>4} MB database ({} bytes): snapshot + SHA-256 {:.0} ms, apply on the standby {:.0} ms, zstd -1 {:.0} ms to {} bytes",
                bytes.len(),
                snap.as_secs_f64() * 1000.0,
                apply.as_secs_f64() * 1000.0,
                zstd.as_secs_f64() * 1000.0,
                packed.len()
            );
        }
    }
}
