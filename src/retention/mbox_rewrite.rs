//! Removing messages from an mbox file safely: under the usual locks (a
//! `<file>.lock` dot-lock and an exclusive `flock`), the kept bytes are copied
//! to a temporary file beside it, which is fsynced and renamed over the
//! original (then the directory is fsynced). A crash leaves either the old
//! file or the new one, never a mix. Compressed mboxes are not rewritten.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::time::Duration;

use crate::store::dotlock::DotLock;

use super::RetentionError;

fn err(path: &Path, e: impl std::fmt::Display) -> RetentionError {
    RetentionError::Store {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// Where the message whose first header byte is at `offset` begins (its
/// `From ` line) and where the next message's `From ` line begins.
fn span(data: &[u8], offset: u64, len: u64) -> Option<(usize, usize)> {
    let offset = usize::try_from(offset).ok()?;
    let end = offset.checked_add(usize::try_from(len).ok()?)?;
    if offset == 0 || end > data.len() || data.get(offset - 1) != Some(&b'\n') {
        return None;
    }
    let start = data[..offset - 1]
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |p| p + 1);
    if !data[start..].starts_with(b"From ") {
        return None;
    }
    let next = data[end..]
        .windows(6)
        .position(|w| w == b"\nFrom ")
        .map_or(data.len(), |p| end + p + 1);
    Some((start, next))
}

/// Removes the messages at `(offset, len)` (as in `store::Location::Mbox`)
/// for which `take(offset, bytes)` confirms the bytes there are the message
/// meant (by returning `Some`). `before_rename` gets what `take` returned for
/// the messages cut, once the rewritten file is durable and before it
/// replaces the original (a write-ahead record of the removal); its error
/// leaves the original in place. Returns what `take` returned for them.
pub fn remove_messages<T>(
    path: &Path,
    messages: &[(u64, u64)],
    mut take: impl FnMut(u64, &[u8]) -> Option<T>,
    before_rename: impl FnOnce(&[T]) -> Result<(), RetentionError>,
) -> Result<Vec<T>, RetentionError> {
    let (_, compression) = crate::store::compress::open_raw(path).map_err(|e| err(path, e))?;
    if compression != crate::store::compress::Compression::None {
        return Err(err(
            path,
            "a compressed mbox is not rewritten; its archived messages stay in it",
        ));
    }
    let _dot = DotLock::take(path, Duration::from_secs(30))?;
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| err(path, e))?;
    file.lock().map_err(|e| err(path, e))?;
    let mut data = Vec::new();
    file.read_to_end(&mut data).map_err(|e| err(path, e))?;
    let mut cut: Vec<(usize, usize)> = Vec::new();
    let mut taken = Vec::new();
    for &(offset, len) in messages {
        let Some((start, end)) = span(&data, offset, len) else {
            continue;
        };
        let bytes =
            crate::store::mbox::read_message(path, offset, len).map_err(|e| err(path, e))?;
        if let Some(t) = take(offset, &bytes) {
            cut.push((start, end));
            taken.push(t);
        }
    }
    if cut.is_empty() {
        return Ok(taken);
    }
    cut.sort_unstable();
    cut.dedup();
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".gleaner-rewrite-")
        .tempfile_in(dir)
        .map_err(|e| err(dir, e))?;
    {
        let mut w = BufWriter::new(tmp.as_file_mut());
        let mut pos = 0;
        for &(start, end) in &cut {
            if start > pos {
                w.write_all(&data[pos..start]).map_err(|e| err(path, e))?;
            }
            pos = pos.max(end);
        }
        w.write_all(&data[pos.min(data.len())..])
            .map_err(|e| err(path, e))?;
        w.flush().map_err(|e| err(path, e))?;
    }
    let perms = file.metadata().map_err(|e| err(path, e))?.permissions();
    tmp.as_file()
        .set_permissions(perms)
        .map_err(|e| err(path, e))?;
    tmp.as_file().sync_all().map_err(|e| err(path, e))?;
    before_rename(&taken)?;
    tmp.persist(path).map_err(|e| err(path, e.error))?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| err(dir, e))?;
    // The old file (still locked by us) is now unlinked; the lock goes with it.
    let _ = file.seek(SeekFrom::Start(0));
    Ok(taken)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn removes_only_the_confirmed_messages_and_keeps_the_rest_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("list.mbox");
        let a = "From a@x Mon Jan  1 00:00:00 2001\nSubject: A\n\nbody a\n>From quoted\n\n";
        let b = "From b@x Mon Jan  1 00:00:00 2001\nSubject: B\n\nbody b\n\n";
        let c = "From c@x Mon Jan  1 00:00:00 2001\nSubject: C\n\nbody c\n";
        std::fs::write(&path, format!("{a}{b}{c}")).unwrap();
        let off = |m: &str, pre: &str| (pre.len() + m.find('\n').unwrap() + 1) as u64;
        let a_off = off(a, "");
        let b_off = off(b, a);
        let b_len = (b.len() - (b_off as usize - a.len()) - 1) as u64;
        let a_len = (a.len() - a_off as usize - 1) as u64;
        // B confirmed, A refused by the check.
        let mut recorded = Vec::new();
        let taken = remove_messages(
            &path,
            &[(a_off, a_len), (b_off, b_len)],
            |o, bytes| (o == b_off && bytes.starts_with(b"Subject: B")).then_some(o),
            |t| {
                recorded.extend_from_slice(t);
                Ok(())
            },
        )
        .unwrap();
        assert_eq!((taken, recorded), (vec![b_off], vec![b_off]));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), format!("{a}{c}"));
        assert!(!dir.path().join("list.mbox.lock").exists());
    }

    #[test]
    fn a_stale_offset_removes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l.mbox");
        let text = "From a@x Mon Jan  1 00:00:00 2001\nSubject: A\n\nbody\n";
        std::fs::write(&path, text).unwrap();
        let taken = remove_messages(&path, &[(5, 10), (9999, 3)], |o, _| Some(o), |_| Ok(()));
        assert!(taken.unwrap().is_empty());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
    }

    #[test]
    fn a_failed_record_leaves_the_original_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l.mbox");
        let text = "From a@x Mon Jan  1 00:00:00 2001\nSubject: A\n\nbody\n";
        std::fs::write(&path, text).unwrap();
        let offset = text.find('\n').unwrap() as u64 + 1;
        let len = text.len() as u64 - offset;
        let refused = remove_messages(
            &path,
            &[(offset, len)],
            |o, _| Some(o),
            |_| Err(RetentionError::Invalid("not recorded".into())),
        );
        assert!(refused.is_err());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
        let leftovers = std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(leftovers, 1, "no temp file or lock left behind");
    }
}
