//! public-inbox v2 archives, read through the `git` command.
//!
//! An inbox keeps its mail in epoch repositories `INBOX/git/0.git`, `1.git`, …
//! Each commit on the default branch stores one message as the blob `m` at the
//! tree root. public-inbox removes a message (spam) with a commit that deletes
//! `m` and stores the removed message as blob `d`; such messages are left out.
//!
//! Per epoch, one `git log` lists the `m` blobs and a feeder thread passes them
//! to one long-running `git cat-file --batch`, whose output this iterator reads:
//! two processes per epoch, never one per message.

use std::collections::{HashSet, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::thread::JoinHandle;

use super::{compress, Location, RawMessage, ScanItem, ScanOptions, Skipped, StoreError};

/// Whether `s` is a full hex object id (SHA-1 or SHA-256).
pub fn is_oid(s: &str) -> bool {
    (s.len() == 40 || s.len() == 64) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn epoch_number(path: &Path) -> Option<u64> {
    let name = path.file_name()?.to_str()?;
    let n = name.strip_suffix(".git")?;
    if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    n.parse().ok()
}

fn is_bare_repo(path: &Path) -> bool {
    path.join("objects").is_dir() && path.join("refs").is_dir() && path.join("HEAD").is_file()
}

/// The epoch repositories of an inbox directory in epoch order; `dir` itself if it is
/// an `N.git` epoch; empty if it is neither.
pub fn epochs(dir: &Path) -> Vec<PathBuf> {
    if epoch_number(dir).is_some() && is_bare_repo(dir) {
        return vec![dir.to_path_buf()];
    }
    let Ok(read) = std::fs::read_dir(dir.join("git")) else {
        return Vec::new();
    };
    let mut found: Vec<(u64, PathBuf)> = read
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter_map(|p| Some((epoch_number(&p)?, p)))
        .filter(|(_, p)| is_bare_repo(p))
        .collect();
    found.sort();
    found.into_iter().map(|(_, p)| p).collect()
}

fn git(repo: &Path) -> Command {
    let mut cmd = Command::new("git");
    cmd.arg("--git-dir").arg(repo).stdin(Stdio::null());
    cmd
}

fn git_error(repo: &Path, message: impl Into<String>) -> StoreError {
    StoreError::Git {
        repo: repo.to_path_buf(),
        message: message.into(),
    }
}

/// The branch holding the messages: `refs/heads/master` if it exists, else `HEAD`;
/// `None` for an empty repository.
fn default_ref(repo: &Path) -> Result<Option<&'static str>, StoreError> {
    for candidate in ["refs/heads/master", "HEAD"] {
        let status = git(repo)
            .args(["rev-parse", "-q", "--verify"])
            .arg(format!("{candidate}^{{commit}}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map_err(|e| git_error(repo, format!("cannot run git: {e}")))?;
        if status.success() {
            return Ok(Some(candidate));
        }
    }
    Ok(None)
}

/// Starts `git log --raw` over the commits touching `path`, oldest first if `reverse`.
fn spawn_log(repo: &Path, reference: &str, path: &str, reverse: bool) -> std::io::Result<Child> {
    let mut cmd = git(repo);
    cmd.args([
        "-c",
        "log.showRoot=true",
        "log",
        "--raw",
        "--no-abbrev",
        "--no-renames",
    ]);
    if reverse {
        cmd.arg("--reverse");
    }
    cmd.args(["--format=%H", reference, "--", path])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
}

/// One line of `git log --raw`: `:100644 100644 <old> <new> M\tm` → `("M", <new>, "m")`.
fn parse_raw_line(line: &str) -> Option<(&str, &str, &str)> {
    let rest = line.strip_prefix(':')?;
    let (meta, path) = rest.split_once('\t')?;
    let fields: Vec<&str> = meta.split_ascii_whitespace().collect();
    let (new, status) = (*fields.get(3)?, *fields.get(4)?);
    Some((status, new, path))
}

/// Blobs public-inbox stored as `d` (removed messages) in any epoch.
fn deleted_blobs(epochs: &[PathBuf]) -> Result<HashSet<String>, StoreError> {
    let mut deleted = HashSet::new();
    for repo in epochs {
        let Some(reference) = default_ref(repo)? else {
            continue;
        };
        let output = git(repo)
            .args([
                "-c",
                "log.showRoot=true",
                "log",
                "--raw",
                "--no-abbrev",
                "--format=",
            ])
            .args([reference, "--", "d"])
            .output()
            .map_err(|e| git_error(repo, format!("cannot run git: {e}")))?;
        if !output.status.success() {
            return Err(git_error(
                repo,
                String::from_utf8_lossy(&output.stderr).trim(),
            ));
        }
        for line in String::from_utf8_lossy(&output.stdout).lines() {
            if let Some((status, new, "d")) = parse_raw_line(line) {
                if status.starts_with('A') || status.starts_with('M') {
                    deleted.insert(new.to_string());
                }
            }
        }
    }
    Ok(deleted)
}

/// Feeds `<blob> <commit>` lines from `git log` to `cat-file`'s stdin.
fn feed(mut log: Child, mut cat_in: ChildStdin, deleted: &HashSet<String>) -> Result<(), String> {
    let stdout = log.stdout.take().ok_or("git log has no stdout")?;
    let mut stderr = log.stderr.take();
    let mut commit = String::new();
    let mut result = Ok(());
    for line in BufReader::new(stdout).lines() {
        let line = match line {
            Ok(l) => l,
            Err(e) => {
                result = Err(format!("reading git log: {e}"));
                break;
            }
        };
        if is_oid(&line) {
            commit = line;
        } else if let Some((status, blob, "m")) = parse_raw_line(&line) {
            let added = status.starts_with('A') || status.starts_with('M');
            if added && !deleted.contains(blob) && writeln!(cat_in, "{blob} {commit}").is_err() {
                // The reader went away (iterator dropped): stop quietly.
                let _ = log.kill();
                break;
            }
        }
    }
    drop(cat_in);
    let mut err_text = String::new();
    if let Some(e) = stderr.as_mut() {
        let _ = e.read_to_string(&mut err_text);
    }
    match log.wait() {
        Ok(status) if !status.success() && result.is_ok() && !err_text.is_empty() => {
            Err(err_text.trim().to_string())
        }
        Ok(_) => result,
        Err(e) => Err(e.to_string()),
    }
}

/// One epoch being read.
struct Epoch {
    repo: PathBuf,
    cat: Child,
    out: BufReader<ChildStdout>,
    feeder: Option<JoinHandle<Result<(), String>>>,
}

impl Drop for Epoch {
    fn drop(&mut self) {
        let _ = self.cat.kill();
        let _ = self.cat.wait();
        if let Some(feeder) = self.feeder.take() {
            let _ = feeder.join();
        }
    }
}

impl Epoch {
    fn open(repo: &Path, deleted: Arc<HashSet<String>>) -> Result<Option<Epoch>, StoreError> {
        let Some(reference) = default_ref(repo)? else {
            return Ok(None);
        };
        let spawn_err = |e: std::io::Error| git_error(repo, format!("cannot run git: {e}"));
        let mut cat = git(repo)
            .args([
                "cat-file",
                "--batch=%(objectname) %(objecttype) %(objectsize) %(rest)",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(spawn_err)?;
        let (Some(cat_in), Some(cat_out)) = (cat.stdin.take(), cat.stdout.take()) else {
            let _ = cat.kill();
            return Err(git_error(repo, "git cat-file without pipes"));
        };
        let log = match spawn_log(repo, reference, "m", true) {
            Ok(log) => log,
            Err(e) => {
                let _ = cat.kill();
                let _ = cat.wait();
                return Err(spawn_err(e));
            }
        };
        let feeder = std::thread::spawn(move || feed(log, cat_in, &deleted));
        Ok(Some(Epoch {
            repo: repo.to_path_buf(),
            cat,
            out: BufReader::with_capacity(256 * 1024, cat_out),
            feeder: Some(feeder),
        }))
    }

    /// The next message, a skipped one, or `None` when the epoch is done.
    fn next(&mut self, max: u64) -> Option<ScanItem> {
        let mut header = String::new();
        let repo_uri = format!("git:{}", self.repo.display());
        let skip = |reason: String| Some(Err(Skipped::new(repo_uri.clone(), reason)));
        match self.out.read_line(&mut header) {
            Ok(0) => {
                let result = self.feeder.take().map(|f| f.join());
                return match result {
                    Some(Ok(Err(e))) => skip(format!("git log failed: {e}")),
                    Some(Err(_)) => skip("git log reader panicked".to_string()),
                    _ => None,
                };
            }
            Ok(_) => {}
            Err(e) => return skip(format!("reading git cat-file: {e}")),
        }
        let fields: Vec<&str> = header.trim_end().splitn(4, ' ').collect();
        let (blob, kind, size, commit) = match fields[..] {
            [blob, kind, size, commit] => (blob, kind, size, commit),
            _ => return skip(format!("object unreadable: {}", header.trim_end())),
        };
        let Ok(size) = size.parse::<u64>() else {
            return skip(format!("bad cat-file header: {}", header.trim_end()));
        };
        let location = Location::Git {
            repo: self.repo.clone(),
            commit: commit.to_string(),
            blob: blob.to_string(),
        };
        if kind != "blob" || size > max {
            if let Err(e) = compress::skip(&mut self.out, size + 1) {
                return skip(format!("reading git cat-file: {e}"));
            }
            let reason = if kind != "blob" {
                format!("m is a {kind}, not a blob")
            } else {
                format!("message of {size} bytes is over the {max} byte limit")
            };
            return Some(Err(Skipped::new(location.to_uri(), reason)));
        }
        let mut bytes = vec![0u8; usize::try_from(size).unwrap_or(0)];
        let mut newline = [0u8; 1];
        if let Err(e) = self
            .out
            .read_exact(&mut bytes)
            .and_then(|()| self.out.read_exact(&mut newline))
        {
            return skip(format!("reading git cat-file: {e}"));
        }
        Some(Ok(RawMessage {
            location,
            bytes,
            flags: String::new(),
            folder: None,
            envelope: None,
            mtime: None,
        }))
    }
}

/// Streams the messages of a public-inbox v2 archive, epoch by epoch, oldest first.
pub struct PublicInboxScan {
    epochs: VecDeque<PathBuf>,
    deleted: Arc<HashSet<String>>,
    current: Option<Epoch>,
    max: u64,
}

impl PublicInboxScan {
    /// Finds the epochs and the removed messages; fails if `git` cannot run.
    pub fn new(dir: &Path, opts: &ScanOptions) -> Result<PublicInboxScan, StoreError> {
        let epochs = epochs(dir);
        if epochs.is_empty() {
            return Err(StoreError::UnknownFormat {
                path: dir.to_path_buf(),
            });
        }
        let deleted = deleted_blobs(&epochs)?;
        Ok(PublicInboxScan {
            epochs: epochs.into(),
            deleted: Arc::new(deleted),
            current: None,
            max: opts.max_message_bytes,
        })
    }
}

impl Iterator for PublicInboxScan {
    type Item = ScanItem;

    fn next(&mut self) -> Option<ScanItem> {
        loop {
            if let Some(epoch) = self.current.as_mut() {
                match epoch.next(self.max) {
                    Some(item) => return Some(item),
                    None => self.current = None,
                }
            }
            let repo = self.epochs.pop_front()?;
            match Epoch::open(&repo, Arc::clone(&self.deleted)) {
                Ok(epoch) => self.current = epoch,
                Err(e) => {
                    return Some(Err(Skipped::new(
                        format!("git:{}", repo.display()),
                        e.to_string(),
                    )))
                }
            }
        }
    }
}

/// Reads one blob with `git cat-file blob`.
pub fn read_blob(repo: &Path, blob: &str) -> Result<Vec<u8>, StoreError> {
    if !is_oid(blob) {
        return Err(StoreError::BadLocation(format!("bad blob id {blob:?}")));
    }
    if !repo.exists() {
        return Err(StoreError::NotFound {
            path: repo.to_path_buf(),
        });
    }
    let output = git(repo)
        .args(["cat-file", "blob", blob])
        .output()
        .map_err(|e| git_error(repo, format!("cannot run git: {e}")))?;
    if !output.status.success() {
        return Err(git_error(
            repo,
            String::from_utf8_lossy(&output.stderr).trim(),
        ));
    }
    Ok(output.stdout)
}
