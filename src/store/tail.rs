//! Following mail stores as they change: file-system notifications, cheap
//! listings for reconciliation, and reading what was appended to an mbox.
//!
//! Knows nothing of the index: it reports which paths changed, lists what a
//! Maildir holds without reading it, and reads an mbox from a checkpoint,
//! holding back a last message that may still be being written.

use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crossbeam_channel::{unbounded, Receiver};
use notify::{RecursiveMode, Watcher as _};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::mbox::{unquote, Frame, MboxSplitter};
use super::{compress, dotlock, maildir, sorted_files, Location, RawMessage, Skipped, StoreError};

/// Something changed on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// This path was created, written, renamed or removed.
    Path(PathBuf),
    /// Events were lost (queue overflow): everything must be rescanned.
    Rescan,
}

/// Watches paths with inotify; changes arrive on [`Watcher::changes`].
pub struct Watcher {
    _inner: notify::RecommendedWatcher,
    /// The stream of changes.
    pub changes: Receiver<Change>,
    /// Paths that could not be watched, with the reason.
    pub failed: Vec<(PathBuf, String)>,
}

/// Starts watching: directories recursively, files through their parent directory.
pub fn watch(paths: &[PathBuf]) -> Result<Watcher, StoreError> {
    let (tx, rx) = unbounded();
    let mut inner = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        let _ = match res {
            Ok(ev) if ev.need_rescan() => tx.send(Change::Rescan),
            // Reading a file or listing a directory (our own reconciliation
            // does both) and metadata changes are not changes to the mail.
            Ok(notify::Event {
                kind:
                    notify::EventKind::Access(_)
                    | notify::EventKind::Modify(notify::event::ModifyKind::Metadata(_)),
                ..
            }) => Ok(()),
            Ok(ev) => {
                for p in ev.paths {
                    let _ = tx.send(Change::Path(p));
                }
                Ok(())
            }
            Err(_) => tx.send(Change::Rescan),
        };
    })
    .map_err(|e| StoreError::io(Path::new("inotify"), std::io::Error::other(e)))?;
    let mut failed = Vec::new();
    for p in paths {
        let (target, mode) = if p.is_dir() {
            (p.clone(), RecursiveMode::Recursive)
        } else {
            let parent = p
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_else(|| ".".into());
            (parent, RecursiveMode::NonRecursive)
        };
        if let Err(e) = inner.watch(&target, mode) {
            failed.push((p.clone(), e.to_string()));
        }
    }
    Ok(Watcher {
        _inner: inner,
        changes: rx,
        failed,
    })
}

/// Every message file of a Maildir tree (cur/ and new/ of each maildir), without reading them.
pub fn list_maildir(root: &Path) -> Result<Vec<PathBuf>, StoreError> {
    if !root.is_dir() {
        return Err(StoreError::NotFound {
            path: root.to_path_buf(),
        });
    }
    let mut out = Vec::new();
    for (dir, _) in maildir::find_maildirs(root) {
        for sub in ["cur", "new"] {
            if let Ok(entries) = sorted_files(&dir.join(sub)) {
                out.extend(entries.into_iter().filter(|p| {
                    !p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with('.'))
                }));
            }
        }
    }
    Ok(out)
}

/// Where reading an mbox stopped, and how to recognise the same file again.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MboxCheckpoint {
    /// Offset of the first byte not yet indexed (the start of a `From ` line, or the end).
    pub offset: u64,
    /// Inode of the file.
    pub inode: u64,
    /// SHA-256 of up to 256 bytes before `offset`: a rewrite changes it.
    pub tail_hash: String,
}

/// What changed in an mbox since its checkpoint.
#[derive(Debug)]
pub enum MboxChange {
    /// Nothing new.
    Unchanged,
    /// Complete messages appended after the checkpoint, and the new checkpoint.
    Appended {
        /// The new messages.
        messages: Vec<RawMessage>,
        /// Junk found between them.
        skipped: Vec<Skipped>,
        /// Where the next read starts.
        checkpoint: MboxCheckpoint,
    },
    /// The file was truncated, replaced or edited before the checkpoint: read it all again.
    Rewritten,
}

const TAIL_HASH_BYTES: u64 = 256;

fn tail_hash(file: &mut std::fs::File, offset: u64) -> std::io::Result<String> {
    let start = offset.saturating_sub(TAIL_HASH_BYTES);
    file.seek(SeekFrom::Start(start))?;
    let mut buf = vec![0u8; (offset - start) as usize];
    file.read_exact(&mut buf)?;
    Ok(hex::encode(Sha256::digest(&buf)))
}

/// Reads what was appended to a plain mbox since `prev` (from the start when `None`).
///
/// The last message is returned only once it is complete: the file ends with a
/// blank line and no other program holds `<path>.lock` (see [`dotlock`]);
/// otherwise it stays for the next call.
/// Compressed mboxes are archives: any change to them reads as [`MboxChange::Rewritten`].
pub fn mbox_changes(
    path: &Path,
    prev: Option<&MboxCheckpoint>,
    max_message_bytes: u64,
) -> Result<MboxChange, StoreError> {
    let err = |e| StoreError::io(path, e);
    let mut file = std::fs::File::open(path).map_err(err)?;
    let meta = file.metadata().map_err(err)?;
    let size = meta.len();
    let mut head = [0u8; 8];
    let n = compress::read_up_to(&mut file, &mut head).map_err(err)?;
    let compressed = compress::sniff_bytes(&head[..n]) != compress::Compression::None;
    let start = match prev {
        None => 0,
        Some(cp) => {
            if cp.inode != meta.ino() || size < cp.offset {
                return Ok(MboxChange::Rewritten);
            }
            if tail_hash(&mut file, cp.offset).map_err(err)? != cp.tail_hash {
                return Ok(MboxChange::Rewritten);
            }
            if size == cp.offset {
                return Ok(MboxChange::Unchanged);
            }
            if compressed {
                return Ok(MboxChange::Rewritten);
            }
            cp.offset
        }
    };
    if compressed {
        // Only the first read of a compressed archive comes here: read all of it.
        let reader = compress::open(path).map_err(err)?;
        return read_frames(path, reader, 0, u64::MAX, true, max_message_bytes, &meta);
    }
    file.seek(SeekFrom::Start(start)).map_err(err)?;
    let complete = ends_with_blank_line(&mut file, size).map_err(err)? && !dotlock::is_held(path);
    read_frames(
        path,
        Box::new(file),
        start,
        size,
        complete,
        max_message_bytes,
        &meta,
    )
}

fn ends_with_blank_line(file: &mut std::fs::File, size: u64) -> std::io::Result<bool> {
    if size < 2 {
        return Ok(false);
    }
    let pos = file.stream_position()?;
    let n = size.min(4);
    file.seek(SeekFrom::Start(size - n))?;
    let mut buf = vec![0u8; n as usize];
    file.read_exact(&mut buf)?;
    file.seek(SeekFrom::Start(pos))?;
    Ok(buf.ends_with(b"\n\n") || buf.ends_with(b"\r\n\r\n"))
}

#[allow(clippy::too_many_arguments)]
fn read_frames(
    path: &Path,
    mut reader: Box<dyn Read + Send>,
    start: u64,
    end: u64,
    last_complete: bool,
    max: u64,
    meta: &std::fs::Metadata,
) -> Result<MboxChange, StoreError> {
    let err = |e| StoreError::io(path, e);
    let mut splitter = MboxSplitter::new(max);
    if super::pipermail::is_archive_file(path) {
        splitter = splitter.pipermail();
    }
    let mut frames = Vec::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = reader.read(&mut buf).map_err(err)?;
        if n == 0 {
            break;
        }
        frames.extend(splitter.push(&buf[..n]));
    }
    frames.extend(splitter.finish());
    // The checkpoint moves to the separator of the first message held back.
    let mut new_offset = if end == u64::MAX { start } else { end };
    if !last_complete {
        if let Some(Frame::Message(m)) = frames.last() {
            new_offset = start + separator_start(&m.envelope, m.offset, path, start)?;
            frames.pop();
        }
    }
    let mtime = super::mtime_of(meta);
    let mut messages = Vec::new();
    let mut skipped = Vec::new();
    for f in frames {
        match f {
            Frame::Message(m) => {
                let location = Location::Mbox {
                    path: path.to_path_buf(),
                    offset: start + m.offset,
                    len: m.len,
                };
                match m.bytes {
                    Some(stored) => messages.push(RawMessage {
                        location,
                        bytes: unquote(&stored),
                        flags: String::new(),
                        folder: None,
                        envelope: Some(m.envelope),
                        mtime,
                    }),
                    None => skipped.push(Skipped {
                        location: location.to_uri(),
                        reason: format!("message larger than {max} bytes"),
                    }),
                }
            }
            Frame::Junk { offset, len } => skipped.push(Skipped {
                location: format!("mbox:{}#{}", path.display(), start + offset),
                reason: format!("{len} bytes of non-mbox data"),
            }),
        }
    }
    let mut file = std::fs::File::open(path).map_err(err)?;
    let checkpoint = MboxCheckpoint {
        offset: new_offset,
        inode: meta.ino(),
        tail_hash: tail_hash(&mut file, new_offset).map_err(err)?,
    };
    Ok(MboxChange::Appended {
        messages,
        skipped,
        checkpoint,
    })
}

/// Offset (relative to the read's start) of the `From ` line before a message.
fn separator_start(
    envelope: &str,
    message_offset: u64,
    path: &Path,
    start: u64,
) -> Result<u64, StoreError> {
    let err = |e| StoreError::io(path, e);
    let line = 5 + envelope.len() as u64; // "From " + envelope, then "\n" or "\r\n"
    let mut ending = [0u8; 2];
    let abs = start + message_offset;
    if abs >= 2 {
        let mut file = std::fs::File::open(path).map_err(err)?;
        file.seek(SeekFrom::Start(abs - 2)).map_err(err)?;
        file.read_exact(&mut ending).map_err(err)?;
    }
    let eol = if &ending == b"\r\n" { 2 } else { 1 };
    Ok(message_offset.saturating_sub(line + eol))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn appended(change: MboxChange) -> Vec<RawMessage> {
        match change {
            MboxChange::Appended { messages, .. } => messages,
            MboxChange::Unchanged => Vec::new(),
            MboxChange::Rewritten => panic!("not rewritten"),
        }
    }

    #[test]
    fn the_last_message_waits_for_a_held_lock_not_for_a_stale_one() {
        let dir = tempfile::tempdir().unwrap();
        let mbox = dir.path().join("list.mbox");
        let lock = dotlock::lock_path(&mbox);
        std::fs::write(
            &mbox,
            "From a@x Mon Jan  1 00:00:00 2001\nSubject: A\n\nbody a\n\n\
             From b@x Mon Jan  1 00:00:00 2001\nSubject: B\n\nbody b\n\n",
        )
        .unwrap();
        let unlocked = appended(mbox_changes(&mbox, None, u64::MAX).unwrap()).len();
        assert_eq!(unlocked, 2);
        // Held by a live process (pid 1): the last message may still be written.
        std::fs::write(&lock, "1\n").unwrap();
        assert_eq!(
            appended(mbox_changes(&mbox, None, u64::MAX).unwrap()).len(),
            1
        );
        // Left behind by a process that is gone: not held.
        let dead = dotlock::tests::dead_pid();
        std::fs::write(&lock, format!("{dead}\n")).unwrap();
        assert_eq!(
            appended(mbox_changes(&mbox, None, u64::MAX).unwrap()).len(),
            2
        );
    }
}
