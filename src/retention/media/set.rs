//! One media set on disk: `set-NNNN/` with `volumes/`, `documents/`,
//! `README.txt` and `SHA256SUMS`. Written under `set-NNNN.partial`, every
//! file fsynced and made read-only, then dropped from the page cache where
//! the OS allows it and re-read: each file hashed again from disk against
//! the hash taken while writing, each volume decompressed and every
//! message's SHA-256 checked against its manifest; only a set that verified
//! is renamed into place.
//!
//! Knows nothing of the database: the caller records what it returns.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::{FileSource, Item, MediaOptions, SetReport};
use crate::retention::RetentionError;
use crate::store::volume;

const PARTIAL: &str = ".partial";
const README: &str = "README.txt";
const SUMS: &str = "SHA256SUMS";

/// `set-0003`.
pub(super) fn set_name(no: i64) -> String {
    format!("set-{no:04}")
}

pub(super) fn store_err(path: &Path, e: io::Error) -> RetentionError {
    RetentionError::Store {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// The `SHA256SUMS` text for `(path, hex sha256)` pairs, in `sha256sum`'s format.
fn sums_text(files: &[(String, String)]) -> String {
    files.iter().map(|(p, h)| format!("{h}  {p}\n")).collect()
}

/// Every byte of set `no` holding `items`: their files, README.txt, SHA256SUMS.
pub(super) fn total_bytes(opts: &MediaOptions<'_>, no: i64, items: &[Item]) -> u64 {
    let readme = super::readme::render(opts, no, (no, no), items).len() as u64;
    let files: u64 = items.iter().map(Item::bytes).sum();
    // A SHA256SUMS line: 64 hex digits, two spaces, the path, a newline.
    let sums: u64 = items
        .iter()
        .flat_map(|i| i.files.iter().map(|f| f.path.len() as u64))
        .chain([README.len() as u64])
        .map(|p| 64 + 2 + p + 1)
        .sum();
    files + readme + sums
}

/// Removes `set-*.partial` directories a crash left in `dest`.
pub(super) fn cleanup_partial(dest: &Path) -> Result<(), RetentionError> {
    for e in fs::read_dir(dest)
        .map_err(|e| store_err(dest, e))?
        .flatten()
    {
        let name = e.file_name().to_string_lossy().to_string();
        if name.starts_with("set-") && name.ends_with(PARTIAL) {
            make_writable(&e.path());
            fs::remove_dir_all(e.path()).map_err(|err| store_err(&e.path(), err))?;
        }
    }
    Ok(())
}

fn make_writable(dir: &Path) {
    for e in walk(dir) {
        if let Ok(meta) = fs::metadata(&e) {
            let mut p = meta.permissions();
            #[allow(clippy::permissions_set_readonly_false)]
            p.set_readonly(false);
            let _ = fs::set_permissions(&e, p);
        }
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![dir.to_path_buf()];
    if let Ok(rd) = fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.path().is_dir() {
                out.extend(walk(&e.path()));
            } else {
                out.push(e.path());
            }
        }
    }
    out
}

/// Writes, verifies and renames set `no` into place.
pub(super) fn write(
    opts: &MediaOptions<'_>,
    no: i64,
    run: (i64, i64),
    items: &[Item],
) -> Result<SetReport, RetentionError> {
    let name = set_name(no);
    let done = opts.dest.join(&name);
    if done.exists() {
        return Err(RetentionError::Invalid(format!(
            "{} exists already but gleaner.db records no such set: move it away or write to \
             another directory (nothing was written)",
            done.display()
        )));
    }
    let dir = opts.dest.join(format!("{name}{PARTIAL}"));
    for sub in ["", "volumes", "documents"] {
        let d = dir.join(sub);
        fs::create_dir_all(&d).map_err(|e| store_err(&d, e))?;
    }
    let mut written: Vec<(String, String)> = Vec::new();
    for item in items {
        for f in &item.files {
            let sha = match &f.source {
                FileSource::Copy(src) => copy_file(src, &dir.join(&f.path))?,
                FileSource::Bytes(b) => write_file(&dir.join(&f.path), b)?,
            };
            written.push((f.path.clone(), sha));
        }
        if let Some(m) = &item.manifest {
            let sha = written
                .iter()
                .rev()
                .find(|(p, _)| *p == format!("volumes/{}.mbox.zst", m.name))
                .map(|(_, h)| h.as_str());
            if sha != Some(m.volume_sha256.as_str()) {
                return Err(RetentionError::Unverified {
                    volume: m.name.clone(),
                    problems: "its .mbox.zst no longer hashes to its manifest's volume_sha256 \
                               (the archive copy is damaged: run `gleaner verify`)"
                        .into(),
                });
            }
        }
    }
    let readme = super::readme::render(opts, no, run, items);
    written.push((
        README.into(),
        write_file(&dir.join(README), readme.as_bytes())?,
    ));
    let sums = sums_text(&written);
    let sums_sha256 = write_file(&dir.join(SUMS), sums.as_bytes())?;
    for sub in ["volumes", "documents", ""] {
        sync_dir(&dir.join(sub))?;
    }
    verify(&dir, &written, items)?;
    let bytes: u64 = walk(&dir)
        .iter()
        .filter(|p| p.is_file())
        .filter_map(|p| fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    if bytes > opts.set_size {
        // Packing computed every byte in advance; this is a bug, not a medium to burn.
        return Err(RetentionError::Invalid(format!(
            "{} holds {bytes} bytes, more than the set size {} (left as written, not recorded)",
            dir.display(),
            opts.set_size
        )));
    }
    fs::rename(&dir, &done).map_err(|e| store_err(&done, e))?;
    sync_dir(opts.dest)?;
    Ok(SetReport {
        name,
        path: done,
        sums_sha256,
        bytes,
        files: written.len() as u64 + 1,
        volumes: items
            .iter()
            .filter(|i| i.kind == "volume")
            .map(|i| i.name.clone())
            .collect(),
        documents: items
            .iter()
            .filter(|i| i.kind == "document")
            .map(|i| i.name.clone())
            .collect(),
        messages: items
            .iter()
            .filter_map(|i| i.manifest.as_ref())
            .map(|m| m.message_count)
            .sum(),
    })
}

/// Re-reads the set from disk: every file's SHA-256 against the one taken
/// while writing, and every volume decompressed and checked message by
/// message against its manifest.
fn verify(dir: &Path, written: &[(String, String)], items: &[Item]) -> Result<(), RetentionError> {
    let mut problems = Vec::new();
    for (path, sha) in written.iter().chain([&(SUMS.to_string(), String::new())]) {
        let p = dir.join(path);
        match hash_from_disk(&p) {
            Ok((h, _)) if sha.is_empty() || h == *sha => {}
            Ok((h, _)) => problems.push(format!("{path}: wrote {sha}, read back {h}")),
            Err(e) => problems.push(format!("{path}: {e}")),
        }
    }
    let volumes = dir.join("volumes");
    for m in items.iter().filter_map(|i| i.manifest.as_ref()) {
        let check = volume::verify_volume(&volumes, m);
        problems.extend(check.problems.iter().map(|p| p.to_string()));
    }
    if problems.is_empty() {
        return Ok(());
    }
    Err(RetentionError::Unverified {
        volume: dir.display().to_string(),
        problems: problems.join("; "),
    })
}

/// Copies `src` to `dst` (fsynced, read-only), returning the SHA-256 of the bytes copied.
fn copy_file(src: &Path, dst: &Path) -> Result<String, RetentionError> {
    let mut from = File::open(src).map_err(|e| store_err(src, e))?;
    let mut to = File::create(dst).map_err(|e| store_err(dst, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = from.read(&mut buf).map_err(|e| store_err(src, e))?;
        if n == 0 {
            break;
        }
        let chunk = buf.get(..n).unwrap_or_default();
        hasher.update(chunk);
        to.write_all(chunk).map_err(|e| store_err(dst, e))?;
    }
    seal_file(to, dst)?;
    Ok(hex::encode(hasher.finalize()))
}

/// Writes `bytes` to `dst` (fsynced, read-only), returning their SHA-256.
fn write_file(dst: &Path, bytes: &[u8]) -> Result<String, RetentionError> {
    let mut to = File::create(dst).map_err(|e| store_err(dst, e))?;
    to.write_all(bytes).map_err(|e| store_err(dst, e))?;
    seal_file(to, dst)?;
    Ok(hex::encode(Sha256::digest(bytes)))
}

fn seal_file(file: File, path: &Path) -> Result<(), RetentionError> {
    file.sync_all().map_err(|e| store_err(path, e))?;
    drop_cache(&file);
    let mut perms = file
        .metadata()
        .map_err(|e| store_err(path, e))?
        .permissions();
    perms.set_readonly(true);
    fs::set_permissions(path, perms).map_err(|e| store_err(path, e))
}

/// Asks the OS to forget a synced file's cached pages, so re-reading it
/// reads the medium (advice only: where it is not taken, the re-read may be
/// served from memory).
fn drop_cache(file: &File) {
    #[cfg(target_os = "linux")]
    {
        let _ = rustix::fs::fadvise(file, 0, None, rustix::fs::Advice::DontNeed);
    }
    #[cfg(not(target_os = "linux"))]
    let _ = file;
}

fn hash_from_disk(path: &Path) -> io::Result<(String, u64)> {
    let file = File::open(path)?;
    drop_cache(&file);
    let mut hasher = Sha256::new();
    let len = io::copy(
        &mut io::BufReader::with_capacity(1 << 20, file),
        &mut hasher,
    )?;
    Ok((hex::encode(hasher.finalize()), len))
}

fn sync_dir(dir: &Path) -> Result<(), RetentionError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| store_err(dir, e))
}
