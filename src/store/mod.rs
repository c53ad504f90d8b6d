//! Raw messages and where they live.
//!
//! `store` finds every message in a Maildir (also Maildir++ and trees of
//! maildirs), an mbox (plain, `.gz` or `.zst`; also Mailman 2's `2005-March.txt.gz`
//! text archives, see [`pipermail`]), a tree of `.eml` files or a
//! public-inbox v2 archive, and hands out each message's exact original bytes
//! with a [`Location`] that can read them again later. It knows nothing of
//! parsing mail, of the search index or of HTTP: bytes in, bytes out.
//!
//! Scanning is streaming and never stops on one bad item: what cannot be read
//! becomes a [`Skipped`] value in the iterator and the scan goes on.

pub mod compress;
pub mod dotlock;
pub mod eml;
pub mod glob;
pub mod maildir;
pub mod mbox;
pub mod pipermail;
pub mod public_inbox;
pub mod tail;
pub mod volume;

#[cfg(test)]
mod tests;

use std::io;
use std::path::{Path, PathBuf};

/// Where a message's exact original bytes live.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Location {
    /// One file per message (Maildir or .eml). For Maildir, `path` is the full current path.
    File {
        /// The message file.
        path: PathBuf,
    },
    /// A message inside an mbox (possibly .gz/.zst): `offset` is the byte offset of the
    /// message's first header line (just after its `From ` separator line) in the
    /// DECOMPRESSED stream, `len` the number of stored (still >From-quoted) bytes up to,
    /// not including, the blank line/separator before the next `From ` line.
    Mbox {
        /// The mbox file.
        path: PathBuf,
        /// Offset of the first header byte in the decompressed stream.
        offset: u64,
        /// Number of stored bytes.
        len: u64,
    },
    /// A public-inbox v2 message: the blob `m` of a commit in an epoch repository.
    Git {
        /// The epoch repository, e.g. `inbox/git/0.git`.
        repo: PathBuf,
        /// The commit that added the message (hex).
        commit: String,
        /// The blob holding the raw message (hex).
        blob: String,
    },
    /// A message in a sealed archive volume (see [`volume`]): the `.mbox.zst`
    /// and the manifest entry that locates and checks it.
    Volume {
        /// The volume's `.mbox.zst`.
        path: PathBuf,
        /// Where in it, its size and SHA-256.
        entry: Box<volume::ManifestEntry>,
    },
}

impl Location {
    /// A stable string form: `file:/a/b`, `mbox:/a/b.mbox#1234+567`,
    /// `git:/a/0.git#<commit>:<blob>`. Paths are written as UTF-8 with `%` and
    /// bytes that are not UTF-8 percent-encoded, so every path round-trips.
    pub fn to_uri(&self) -> String {
        match self {
            Location::File { path } => format!("file:{}", encode_path(path)),
            Location::Mbox { path, offset, len } => {
                format!("mbox:{}#{offset}+{len}", encode_path(path))
            }
            Location::Volume { path, entry } => format!(
                "volume:{}#{}+{}+{}{}:{}",
                encode_path(path),
                entry.frame_offset,
                entry.offset_in_frame,
                entry.stored_len,
                if entry.added_newline { "n" } else { "" },
                entry.sha256
            ),
            Location::Git { repo, commit, blob } => {
                format!("git:{}#{commit}:{blob}", encode_path(repo))
            }
        }
    }

    /// Parses the form written by [`Location::to_uri`].
    pub fn from_uri(s: &str) -> Result<Location, StoreError> {
        let bad = || StoreError::BadLocation(s.to_string());
        let (scheme, rest) = s.split_once(':').ok_or_else(bad)?;
        match scheme {
            "file" if !rest.is_empty() => Ok(Location::File {
                path: decode_path(rest).ok_or_else(bad)?,
            }),
            "mbox" => {
                let (path, frag) = rest.rsplit_once('#').ok_or_else(bad)?;
                let (offset, len) = frag.split_once('+').ok_or_else(bad)?;
                let number = |t: &str| {
                    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
                        return None;
                    }
                    t.parse::<u64>().ok()
                };
                if path.is_empty() {
                    return Err(bad());
                }
                Ok(Location::Mbox {
                    path: decode_path(path).ok_or_else(bad)?,
                    offset: number(offset).ok_or_else(bad)?,
                    len: number(len).ok_or_else(bad)?,
                })
            }
            "git" => {
                let (repo, frag) = rest.rsplit_once('#').ok_or_else(bad)?;
                let (commit, blob) = frag.split_once(':').ok_or_else(bad)?;
                if repo.is_empty() || !public_inbox::is_oid(commit) || !public_inbox::is_oid(blob) {
                    return Err(bad());
                }
                Ok(Location::Git {
                    repo: decode_path(repo).ok_or_else(bad)?,
                    commit: commit.to_string(),
                    blob: blob.to_string(),
                })
            }
            "volume" => {
                let (path, frag) = rest.rsplit_once('#').ok_or_else(bad)?;
                let (place, sha256) = frag.split_once(':').ok_or_else(bad)?;
                let (place, added_newline) = match place.strip_suffix('n') {
                    Some(p) => (p, true),
                    None => (place, false),
                };
                let mut nums = place.split('+').map(|t| t.parse::<u64>().ok());
                let (
                    Some(Some(frame_offset)),
                    Some(Some(offset_in_frame)),
                    Some(Some(stored_len)),
                    None,
                ) = (nums.next(), nums.next(), nums.next(), nums.next())
                else {
                    return Err(bad());
                };
                if path.is_empty()
                    || sha256.len() != 64
                    || !sha256.bytes().all(|b| b.is_ascii_hexdigit())
                {
                    return Err(bad());
                }
                Ok(Location::Volume {
                    path: decode_path(path).ok_or_else(bad)?,
                    entry: Box::new(volume::ManifestEntry {
                        message_id: String::new(),
                        key: String::new(),
                        date: 0,
                        list: String::new(),
                        size: stored_len,
                        sha256: sha256.to_string(),
                        source: String::new(),
                        frame_offset,
                        offset_in_frame,
                        stored_len,
                        added_newline,
                    }),
                })
            }
            _ => Err(bad()),
        }
    }

    /// The live-store file (for public-inbox the epoch repository) holding this copy and
    /// the copy's offset in it; `None` for a copy in an archive volume.
    pub fn live_place(&self) -> Option<(&Path, u64)> {
        match self {
            Location::File { path } => Some((path, 0)),
            Location::Mbox { path, offset, .. } => Some((path, *offset)),
            Location::Git { repo, .. } => Some((repo, 0)),
            Location::Volume { .. } => None,
        }
    }

    /// The identity used to decide "already indexed": for a Maildir file the path with
    /// the `:2,...` info suffix removed and `new/` folded into `cur/` (so a flag change or
    /// a new→cur rename keeps the same key); otherwise [`Location::to_uri`].
    pub fn stable_key(&self) -> String {
        match self {
            Location::File { path } => match maildir::stable_path(path) {
                Some(p) => format!("file:{}", encode_path(&p)),
                None => self.to_uri(),
            },
            _ => self.to_uri(),
        }
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_uri())
    }
}

/// The kinds of sources `store` can read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SourceKind {
    /// A Maildir, a Maildir++ tree or a directory of maildirs.
    Maildir,
    /// One mbox file (mboxo or mboxrd), plain, gzip or zstd.
    Mbox,
    /// One message file, or a directory tree of them.
    Eml,
    /// A public-inbox v2 archive (or one of its epoch repositories).
    PublicInbox,
    /// A directory of gleaner's sealed archive volumes (read-only).
    Volumes,
}

/// One message as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawMessage {
    /// Where the bytes can be read again.
    pub location: Location,
    /// The message as it was sent: for mbox with >From unquoting applied and the
    /// `From ` line removed; line endings untouched.
    pub bytes: Vec<u8>,
    /// Maildir flags from `:2,FLAGS` (e.g. `RS`), empty otherwise.
    pub flags: String,
    /// Maildir++ folder name (`INBOX` for the top, `Lists.dev` for `.Lists.dev`).
    pub folder: Option<String>,
    /// mbox: the `From ` separator line without `From ` and without line ending.
    pub envelope: Option<String>,
    /// File modification time (unix seconds) when known.
    pub mtime: Option<i64>,
}

/// Something that could not be read, as data (the scan goes on).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// A location URI or path naming what was skipped.
    pub location: String,
    /// Why it was skipped.
    pub reason: String,
}

impl Skipped {
    pub(crate) fn new(location: impl Into<String>, reason: impl Into<String>) -> Skipped {
        Skipped {
            location: location.into(),
            reason: reason.into(),
        }
    }
}

/// What one scan yields: a message or the reason one could not be read.
pub type ScanItem = Result<RawMessage, Skipped>;

/// The iterator [`scan`] returns.
pub type Scan = Box<dyn Iterator<Item = ScanItem> + Send>;

/// Knobs for [`scan`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanOptions {
    /// Messages larger than this are skipped with a reason instead of loaded.
    pub max_message_bytes: u64,
}

/// The default message size limit: 64 MiB.
pub const DEFAULT_MAX_MESSAGE_BYTES: u64 = 64 * 1024 * 1024;

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
        }
    }
}

/// Errors of the store. Per-message problems during a scan are [`Skipped`] items instead.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// Reading or listing failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The path does not exist.
    #[error("{path}: no such file or directory")]
    NotFound {
        /// The missing path.
        path: PathBuf,
    },
    /// The path is none of the formats `store` reads.
    #[error("{path}: not a maildir, mbox, mail file or public-inbox archive")]
    UnknownFormat {
        /// The path.
        path: PathBuf,
    },
    /// A location string that does not parse, or points nowhere sensible.
    #[error("bad location: {0}")]
    BadLocation(String),
    /// A `git` command failed.
    #[error("git in {repo}: {message}")]
    Git {
        /// The repository.
        repo: PathBuf,
        /// What went wrong (git's stderr or the spawn error).
        message: String,
    },
    /// A stored message is larger than the caller is willing to load.
    #[error("{location}: message of {size} bytes is over the {limit} byte limit")]
    TooLarge {
        /// The location URI.
        location: String,
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
}

impl StoreError {
    /// True for the user's mistakes (wrong path, wrong format, bad location string),
    /// false for failures of the machine or the data underneath.
    pub fn is_user_error(&self) -> bool {
        matches!(
            self,
            StoreError::NotFound { .. }
                | StoreError::UnknownFormat { .. }
                | StoreError::BadLocation(_)
        )
    }

    pub(crate) fn io(path: &Path, source: io::Error) -> StoreError {
        if source.kind() == io::ErrorKind::NotFound {
            StoreError::NotFound {
                path: path.to_path_buf(),
            }
        } else {
            StoreError::Io {
                path: path.to_path_buf(),
                source,
            }
        }
    }
}

/// Detects the format of `path`.
///
/// A directory with `cur/` or `new/` (or Maildir++ `.Folder` children, or maildirs
/// further down) is a Maildir; one with `git/N.git` epochs, or an `N.git` bare
/// repository itself, is PublicInbox; any other directory is an Eml tree. A file
/// starting with `From ` (after optional decompression), a compressed file, or a
/// `.mbox`/`.mbx` file is an Mbox; any other single file is Eml.
pub fn detect(path: &Path) -> Result<SourceKind, StoreError> {
    let meta = std::fs::metadata(path).map_err(|e| StoreError::io(path, e))?;
    if meta.is_dir() {
        if volume::is_volume_dir(path) {
            return Ok(SourceKind::Volumes);
        }
        if maildir::is_maildir(path) || maildir::has_folders(path) {
            return Ok(SourceKind::Maildir);
        }
        if !public_inbox::epochs(path).is_empty() {
            return Ok(SourceKind::PublicInbox);
        }
        if maildir::contains_maildirs(path, 3) {
            return Ok(SourceKind::Maildir);
        }
        return Ok(SourceKind::Eml);
    }
    if !meta.is_file() {
        return Err(StoreError::UnknownFormat {
            path: path.to_path_buf(),
        });
    }
    let (_, compression) = compress::open_raw(path).map_err(|e| StoreError::io(path, e))?;
    if compression != compress::Compression::None {
        return Ok(SourceKind::Mbox);
    }
    let head = compress::head(path, 64 * 1024).map_err(|e| StoreError::io(path, e))?;
    if head.starts_with(b"From ") {
        return Ok(SourceKind::Mbox);
    }
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    if matches!(ext.as_deref(), Some("mbox" | "mbx"))
        || mbox::has_envelope_line(&head) && !eml::looks_like_mail(&head)
    {
        return Ok(SourceKind::Mbox);
    }
    Ok(SourceKind::Eml)
}

/// Iterates every message of a source.
///
/// Streaming (an mbox is never loaded whole), never panics and never stops on one
/// bad item: unreadable files and junk become `Err(Skipped)` items. Messages larger
/// than `opts.max_message_bytes` are skipped with a reason.
pub fn scan(path: &Path, kind: SourceKind, opts: &ScanOptions) -> Result<Scan, StoreError> {
    if !path.exists() {
        return Err(StoreError::NotFound {
            path: path.to_path_buf(),
        });
    }
    match kind {
        SourceKind::Maildir => Ok(Box::new(maildir::MaildirScan::new(path, opts)?)),
        SourceKind::Mbox => Ok(Box::new(mbox::MboxScan::new(path, opts)?)),
        SourceKind::Eml => Ok(Box::new(eml::EmlScan::new(path, opts)?)),
        SourceKind::PublicInbox => Ok(Box::new(public_inbox::PublicInboxScan::new(path, opts)?)),
        SourceKind::Volumes => Ok(Box::new(
            volume::VolumeScan::new(path).map_err(|e| StoreError::BadLocation(e.to_string()))?,
        )),
    }
}

/// Reads a location's exact original bytes again (the bytes [`scan`] yielded).
pub fn read_location(loc: &Location) -> Result<Vec<u8>, StoreError> {
    match loc {
        Location::File { path } => maildir::read_file_or_renamed(path),
        Location::Mbox { path, offset, len } => mbox::read_message(path, *offset, *len),
        Location::Git { repo, blob, .. } => public_inbox::read_blob(repo, blob),
        Location::Volume { path, entry } => {
            volume::read_at(path, entry).map_err(|e| StoreError::BadLocation(e.to_string()))
        }
    }
}

/// Reads the first of several location URIs (one message found in several
/// places) that can be read; the last error when none can.
pub fn read_first(uris: &[String]) -> Result<Vec<u8>, StoreError> {
    LocationReader::default().read_first(uris)
}

/// Reads many locations in a row, keeping the last few mboxes open: messages read in
/// the order of their offsets within each file cost one seek each, or for a compressed
/// mbox one decompression of the whole file rather than one per message — also when
/// the reads alternate between files, as index order does for lists delivered side by
/// side (`verify` over five interleaved `.mbox.zst` files had decompressed a file from
/// its start for nearly every message).
#[derive(Default)]
pub struct LocationReader {
    /// Most recently used last.
    mbox: Vec<mbox::MboxCursor>,
}

/// Mbox files a [`LocationReader`] keeps open at once.
const OPEN_MBOXES: usize = 16;

impl LocationReader {
    /// Like [`read_first`].
    pub fn read_first(&mut self, uris: &[String]) -> Result<Vec<u8>, StoreError> {
        let mut last = None;
        for uri in uris {
            match Location::from_uri(uri).and_then(|l| self.read(&l)) {
                Ok(bytes) => return Ok(bytes),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| StoreError::BadLocation("no recorded location".into())))
    }

    /// How many times the open compressed mboxes were decompressed from their start.
    pub fn starts(&self) -> u32 {
        self.mbox.iter().map(mbox::MboxCursor::starts).sum()
    }

    /// Like [`read_location`].
    pub fn read(&mut self, loc: &Location) -> Result<Vec<u8>, StoreError> {
        let Location::Mbox { path, offset, len } = loc else {
            return read_location(loc);
        };
        let mut cursor = match self.mbox.iter().position(|c| c.path() == path) {
            Some(i) => self.mbox.remove(i),
            None => mbox::MboxCursor::open(path)?,
        };
        let read = cursor.read(*offset, *len);
        if self.mbox.len() >= OPEN_MBOXES {
            self.mbox.remove(0);
        }
        self.mbox.push(cursor);
        read
    }
}

/// File modification time in unix seconds.
pub(crate) fn mtime_of(meta: &std::fs::Metadata) -> Option<i64> {
    let modified = meta.modified().ok()?;
    match modified.duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).ok(),
        Err(e) => i64::try_from(e.duration().as_secs()).ok().map(|s| -s),
    }
}

/// Reads a whole file unless it is larger than `max`; errors are reasons for a [`Skipped`].
pub(crate) fn read_small_file(path: &Path, max: u64) -> Result<(Vec<u8>, Option<i64>), String> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let meta = file.metadata().map_err(|e| e.to_string())?;
    if meta.len() > max {
        return Err(format!(
            "message of {} bytes is over the {max} byte limit",
            meta.len()
        ));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.take(max.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    if bytes.len() as u64 > max {
        return Err(format!(
            "message grew over the {max} byte limit while reading"
        ));
    }
    Ok((bytes, mtime_of(&meta)))
}

/// Sorted entries of a directory (names starting with `.` included).
pub(crate) fn sorted_entries(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        out.push(entry?.path());
    }
    sort_siblings(&mut out);
    Ok(out)
}

/// Sorted regular files of a directory (symlinks to files included; names
/// starting with `.` included). The type comes from the directory entry, so a
/// Maildir's `cur/` of 100k messages is listed without a `stat` per file.
pub(crate) fn sorted_files(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let is_file = match entry.file_type() {
            Ok(t) if t.is_symlink() => entry.path().is_file(),
            Ok(t) => t.is_file(),
            Err(_) => false,
        };
        if is_file {
            out.push(entry.path());
        }
    }
    sort_siblings(&mut out);
    Ok(out)
}

/// Sorts paths of one directory by name. Siblings share everything up to the
/// name, so comparing the whole paths' bytes orders them as `Path`'s
/// component-wise comparison does, without splitting each into components.
fn sort_siblings(paths: &mut [PathBuf]) {
    paths.sort_unstable_by(|a, b| a.as_os_str().cmp(b.as_os_str()));
}

#[cfg(unix)]
fn encode_path(path: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let bytes = path.as_os_str().as_bytes();
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        // Every message's location is encoded a few times: whole runs at once.
        let valid = chunk.valid();
        if valid.contains('%') {
            out.push_str(&valid.replace('%', "%25"));
        } else {
            out.push_str(valid);
        }
        for b in chunk.invalid() {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(not(unix))]
fn encode_path(path: &Path) -> String {
    path.to_string_lossy().replace('%', "%25")
}

fn decode_path(s: &str) -> Option<PathBuf> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStringExt;
        Some(PathBuf::from(std::ffi::OsString::from_vec(out)))
    }
    #[cfg(not(unix))]
    {
        String::from_utf8(out).ok().map(PathBuf::from)
    }
}
