//! Single message files and directory trees of them.
//!
//! A tree is walked recursively in sorted order (hidden files and directories
//! are left out). Files ending `.eml`, `.msg`, `.txt` or with no extension are
//! taken if their first bytes are mail header lines; other files are passed
//! over silently, except a `.eml` that does not look like mail, which becomes a
//! [`Skipped`] item.

use std::collections::VecDeque;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::{read_small_file, sorted_entries, Location, RawMessage, ScanItem, ScanOptions};
use super::{Skipped, StoreError};

/// How many bytes of a file are looked at to decide whether it is a mail.
const SNIFF_BYTES: usize = 8192;
/// How deep the walk goes.
const MAX_DEPTH: usize = 32;

const KNOWN_HEADERS: [&str; 15] = [
    "from",
    "to",
    "cc",
    "subject",
    "date",
    "message-id",
    "received",
    "return-path",
    "mime-version",
    "content-type",
    "delivered-to",
    "sender",
    "references",
    "in-reply-to",
    "x-mailer",
];

/// Whether `head` starts like a mail: header lines (`Name: value`, folded lines allowed)
/// that include a common mail header or at least three fields. A leading mbox `From `
/// envelope line is allowed.
pub fn looks_like_mail(head: &[u8]) -> bool {
    let mut lines = head.split(|&b| b == b'\n').peekable();
    if lines.peek().is_some_and(|l| l.starts_with(b"From ")) {
        lines.next();
    }
    let mut fields = 0usize;
    let mut known = false;
    for (i, line) in lines.enumerate().take(64) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break;
        }
        if line[0] == b' ' || line[0] == b'\t' {
            if i == 0 {
                return false;
            }
            continue;
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            // Malformed mail sometimes lacks the blank line: the header block ends here.
            break;
        };
        let name = &line[..colon];
        if name.is_empty() || !name.iter().all(|&b| (33..=126).contains(&b)) {
            return false;
        }
        fields += 1;
        known |= KNOWN_HEADERS
            .iter()
            .any(|k| name.eq_ignore_ascii_case(k.as_bytes()));
    }
    fields > 0 && (known || fields >= 3)
}

fn head_of(path: &Path) -> std::io::Result<Vec<u8>> {
    let file = std::fs::File::open(path)?;
    let mut buf = Vec::with_capacity(SNIFF_BYTES);
    file.take(SNIFF_BYTES as u64).read_to_end(&mut buf)?;
    Ok(buf)
}

fn extension(path: &Path) -> Option<String> {
    path.extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
}

fn is_candidate(path: &Path) -> bool {
    matches!(
        extension(path).as_deref(),
        None | Some("eml" | "msg" | "txt")
    )
}

fn is_hidden(path: &Path) -> bool {
    path.file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with('.'))
}

fn collect(dir: &Path, depth: usize, files: &mut Vec<PathBuf>, errors: &mut Vec<Skipped>) {
    let entries = match sorted_entries(dir) {
        Ok(e) => e,
        Err(e) => {
            errors.push(Skipped::new(dir.display().to_string(), e.to_string()));
            return;
        }
    };
    for path in entries.into_iter().filter(|p| !is_hidden(p)) {
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            if depth < MAX_DEPTH {
                collect(&path, depth + 1, files, errors);
            }
        } else if path.is_file() && is_candidate(&path) {
            files.push(path);
        }
    }
}

/// Streams the messages of one file or of a directory tree.
pub struct EmlScan {
    files: VecDeque<PathBuf>,
    pending: VecDeque<ScanItem>,
    /// A single file given directly is reported even if it does not look like mail.
    single: bool,
    max: u64,
}

impl EmlScan {
    /// Lists the candidate files under `root` (or `root` itself if it is a file).
    pub fn new(root: &Path, opts: &ScanOptions) -> Result<EmlScan, StoreError> {
        let meta = std::fs::metadata(root).map_err(|e| StoreError::io(root, e))?;
        let mut files = Vec::new();
        let mut errors = Vec::new();
        if meta.is_dir() {
            collect(root, 0, &mut files, &mut errors);
        } else {
            files.push(root.to_path_buf());
        }
        Ok(EmlScan {
            files: files.into(),
            pending: errors.into_iter().map(Err).collect(),
            single: !meta.is_dir(),
            max: opts.max_message_bytes,
        })
    }

    /// Reads one candidate; `None` means "not a mail, pass over it silently".
    fn read(&self, path: PathBuf) -> Option<ScanItem> {
        let uri = |p: &Path| {
            Location::File {
                path: p.to_path_buf(),
            }
            .to_uri()
        };
        let head = match head_of(&path) {
            Ok(h) => h,
            Err(e) => return Some(Err(Skipped::new(uri(&path), e.to_string()))),
        };
        if !looks_like_mail(&head) {
            let loud = self.single || extension(&path).as_deref() == Some("eml");
            return loud.then(|| {
                Err(Skipped::new(
                    uri(&path),
                    "does not look like a mail message",
                ))
            });
        }
        let result = read_small_file(&path, self.max);
        let location = Location::File { path };
        Some(match result {
            Ok((bytes, mtime)) => Ok(RawMessage {
                location,
                bytes,
                flags: String::new(),
                folder: None,
                envelope: None,
                mtime,
            }),
            Err(reason) => Err(Skipped::new(location.to_uri(), reason)),
        })
    }
}

impl Iterator for EmlScan {
    type Item = ScanItem;

    fn next(&mut self) -> Option<ScanItem> {
        if let Some(item) = self.pending.pop_front() {
            return Some(item);
        }
        while let Some(path) = self.files.pop_front() {
            if let Some(item) = self.read(path) {
                return Some(item);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mail_heads() {
        assert!(looks_like_mail(b"From: a@b\r\nSubject: x\r\n\r\nbody"));
        assert!(looks_like_mail(b"Received: from x\n\tby y\nTo: z\n\nhi"));
        assert!(looks_like_mail(b"X-A: 1\nX-B: 2\nX-C: 3\n"));
        assert!(looks_like_mail(
            b"From a Mon Jan  1 00:00:00 2001\nSubject: x\n\n"
        ));
        assert!(!looks_like_mail(b"Note: buy milk\nand eggs\n"));
        assert!(!looks_like_mail(b"\x89PNG\r\n\x1a\n"));
        assert!(!looks_like_mail(b""));
        assert!(!looks_like_mail(b" Subject: folded first\n"));
        assert!(!looks_like_mail(b"Hello world: this is text\n"));
    }
}
