//! Maildir, Maildir++ and directories of maildirs.
//!
//! A maildir is a directory with `cur/` and/or `new/` (`tmp/` is ignored). A
//! Maildir++ tree keeps its folders beside them as `.Folder` and `.Folder.Sub`
//! directories. A directory that merely contains maildirs further down (e.g.
//! `lists/foo/{cur,new}`) is walked recursively. Iteration is sorted, so it is
//! deterministic. Flags come from the `:2,FLAGS` suffix (or `!2,` where `:` is
//! not allowed in file names).

use std::collections::VecDeque;
use std::path::{Path, PathBuf};

use super::{
    read_small_file, sorted_entries, sorted_files, Location, RawMessage, ScanItem, ScanOptions,
};
use super::{Skipped, StoreError};

/// How deep [`MaildirScan`] looks for maildirs below the given directory.
const MAX_DEPTH: usize = 16;

/// Whether `dir` itself is a maildir (has `cur/` or `new/`).
pub fn is_maildir(dir: &Path) -> bool {
    dir.join("cur").is_dir() || dir.join("new").is_dir()
}

/// Whether `dir` has Maildir++ folder children (`.Name` directories that are maildirs).
pub fn has_folders(dir: &Path) -> bool {
    sorted_entries(dir)
        .map(|entries| entries.iter().any(|p| is_folder_dir(p)))
        .unwrap_or(false)
}

fn is_folder_dir(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    name.len() > 1 && name.starts_with('.') && name != ".." && is_maildir(path)
}

/// Whether a maildir exists anywhere up to `depth` levels below `dir`.
pub fn contains_maildirs(dir: &Path, depth: usize) -> bool {
    if is_maildir(dir) {
        return true;
    }
    if depth == 0 {
        return false;
    }
    subdirs(dir)
        .iter()
        .any(|child| contains_maildirs(child, depth - 1))
}

/// Real (not symlinked), non-hidden subdirectories other than `cur`, `new`, `tmp`, sorted.
fn subdirs(dir: &Path) -> Vec<PathBuf> {
    let Ok(read) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = read
        .filter_map(Result::ok)
        .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or(".");
            !name.starts_with('.') && !matches!(name, "cur" | "new" | "tmp")
        })
        .collect();
    out.sort();
    out
}

/// Every maildir under `root` with its folder name: `INBOX` for `root` itself, the
/// Maildir++ name (`Lists.dev` for `.Lists.dev`) for folders, and the relative path
/// (`foo`, `foo/Lists.dev`) for maildirs found further down.
pub fn find_maildirs(root: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    walk(root, None, 0, &mut out);
    out
}

fn walk(dir: &Path, rel: Option<&str>, depth: usize, out: &mut Vec<(PathBuf, String)>) {
    if is_maildir(dir) {
        out.push((dir.to_path_buf(), rel.unwrap_or("INBOX").to_string()));
    }
    if let Ok(entries) = sorted_entries(dir) {
        for child in entries.iter().filter(|p| is_folder_dir(p)) {
            let name = child.file_name().and_then(|n| n.to_str()).unwrap_or(".");
            let folder = &name[1..];
            let full = match rel {
                Some(r) => format!("{r}/{folder}"),
                None => folder.to_string(),
            };
            out.push((child.clone(), full));
        }
    }
    if depth >= MAX_DEPTH {
        return;
    }
    for child in subdirs(dir) {
        let name = child.file_name().map(|n| n.to_string_lossy().into_owned());
        let name = name.unwrap_or_default();
        let sub = match rel {
            Some(r) => format!("{r}/{name}"),
            None => name,
        };
        walk(&child, Some(&sub), depth + 1, out);
    }
}

/// Splits a maildir file name into its base and its flags (`"123.host:2,RS"` → `("123.host", "RS")`).
pub fn split_info(name: &str) -> (&str, &str) {
    for sep in [":2,", "!2,"] {
        if let Some(i) = name.rfind(sep) {
            return (&name[..i], &name[i + sep.len()..]);
        }
    }
    (name, "")
}

/// Files the mail servers keep inside maildirs that are not messages.
fn is_bookkeeping(name: &str) -> bool {
    name.starts_with('.')
        || name.starts_with("dovecot")
        || name.starts_with("courierimap")
        || name == "maildirfolder"
}

/// For a file in a maildir's `cur/` or `new/`: the same path with `new` folded into `cur`
/// and the info suffix removed. `None` for anything else.
pub fn stable_path(path: &Path) -> Option<PathBuf> {
    let name = path.file_name()?.to_str()?;
    let parent = path.parent()?;
    let sub = parent.file_name()?.to_str()?;
    if sub != "cur" && sub != "new" {
        return None;
    }
    let maildir = parent.parent()?;
    Some(maildir.join("cur").join(split_info(name).0))
}

/// Where a maildir message moved to after a flag change or a new→cur rename.
pub fn find_renamed(path: &Path) -> Option<PathBuf> {
    let name = path.file_name()?.to_str()?;
    let parent = path.parent()?;
    let sub = parent.file_name()?.to_str()?;
    if sub != "cur" && sub != "new" {
        return None;
    }
    let base = split_info(name).0;
    let maildir = parent.parent()?;
    for dir in ["cur", "new"] {
        let Ok(entries) = sorted_entries(&maildir.join(dir)) else {
            continue;
        };
        let found = entries.into_iter().find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| split_info(n).0 == base)
        });
        if found.is_some() {
            return found;
        }
    }
    None
}

/// Reads a message file; a maildir file that was renamed is found by its base name.
pub fn read_file_or_renamed(path: &Path) -> Result<Vec<u8>, StoreError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => match find_renamed(path) {
            Some(moved) => std::fs::read(&moved).map_err(|e| StoreError::io(&moved, e)),
            None => Err(StoreError::io(path, e)),
        },
        Err(e) => Err(StoreError::io(path, e)),
    }
}

/// Streams the messages of a maildir tree, folder by folder, file by file, sorted.
pub struct MaildirScan {
    maildirs: VecDeque<(PathBuf, String)>,
    files: VecDeque<PathBuf>,
    folder: String,
    pending: VecDeque<ScanItem>,
    max: u64,
}

impl MaildirScan {
    /// Finds the maildirs under `root` (listing their files happens lazily).
    pub fn new(root: &Path, opts: &ScanOptions) -> Result<MaildirScan, StoreError> {
        if !root.is_dir() {
            return Err(StoreError::UnknownFormat {
                path: root.to_path_buf(),
            });
        }
        Ok(MaildirScan {
            maildirs: find_maildirs(root).into(),
            files: VecDeque::new(),
            folder: String::new(),
            pending: VecDeque::new(),
            max: opts.max_message_bytes,
        })
    }

    fn open_next_maildir(&mut self) -> bool {
        let Some((dir, folder)) = self.maildirs.pop_front() else {
            return false;
        };
        self.folder = folder;
        for sub in ["cur", "new"] {
            let subdir = dir.join(sub);
            if !subdir.is_dir() {
                continue;
            }
            match sorted_files(&subdir) {
                Ok(entries) => self.files.extend(entries.into_iter().filter(|p| {
                    let name = p.file_name().map(|n| n.to_string_lossy());
                    !name.is_some_and(|n| is_bookkeeping(&n))
                })),
                Err(e) => self.pending.push_back(Err(Skipped::new(
                    subdir.display().to_string(),
                    e.to_string(),
                ))),
            }
        }
        true
    }

    fn read(&self, path: PathBuf) -> ScanItem {
        let flags = path
            .file_name()
            .map(|n| split_info(&n.to_string_lossy()).1.to_string())
            .unwrap_or_default();
        let result = read_small_file(&path, self.max);
        let location = Location::File { path };
        match result {
            Ok((bytes, mtime)) => Ok(RawMessage {
                location,
                bytes,
                flags,
                folder: Some(self.folder.clone()),
                envelope: None,
                mtime,
            }),
            Err(reason) => Err(Skipped::new(location.to_uri(), reason)),
        }
    }
}

impl Iterator for MaildirScan {
    type Item = ScanItem;

    fn next(&mut self) -> Option<ScanItem> {
        loop {
            if let Some(item) = self.pending.pop_front() {
                return Some(item);
            }
            if let Some(path) = self.files.pop_front() {
                return Some(self.read(path));
            }
            if !self.open_next_maildir() {
                return None;
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn info_suffixes() {
        assert_eq!(split_info("1.a.host:2,RS"), ("1.a.host", "RS"));
        assert_eq!(split_info("special!2,Sabc"), ("special", "Sabc"));
        assert_eq!(split_info("1.a.host"), ("1.a.host", ""));
        assert_eq!(split_info("x:2,"), ("x", ""));
    }

    #[test]
    fn stable_path_folds_new_into_cur() {
        let a = stable_path(Path::new("/m/INBOX/new/123.h")).unwrap();
        let b = stable_path(Path::new("/m/INBOX/cur/123.h:2,RS")).unwrap();
        assert_eq!(a, b);
        assert_eq!(stable_path(Path::new("/m/x/123.eml")), None);
    }

    #[test]
    fn bookkeeping_files() {
        for n in [
            ".dovecot.lda-dupes",
            "dovecot-uidlist",
            "maildirfolder",
            "courierimapkeywords",
        ] {
            assert!(is_bookkeeping(n), "{n}");
        }
        assert!(!is_bookkeeping("1234.host:2,S"));
    }
}
