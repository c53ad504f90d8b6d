//! A standby that follows a primary over HTTP (`[replica]` on the primary,
//! `gleaner serve --standby` on the other machine), and its promotion.
//!
//! What is shipped, and how each part stays consistent on the standby:
//!
//! * the database (`gleaner.db`: decisions, documents, users, audit) as a
//!   whole snapshot made with SQLite's online backup API, taken again only
//!   when `PRAGMA data_version` moved ([`source`]), applied on the standby by
//!   the backup API into the live file in one transaction ([`apply`]);
//! * index commits: immutable segment files first, `.managed.json`, then
//!   `meta.json` by rename, so the standby's index is always one commit;
//! * sealed volumes: the `.mbox.zst`, then its manifest (which marks it sealed).
//!
//! The primary side ([`source`]) answers the routes in `http/`; the standby
//! side ([`follow`]) pulls with a small HTTP/1.1 client ([`client`]). A data
//! directory is a standby while it holds [`STANDBY_FILE`]; [`promote`]
//! removes it. This module knows nothing of HTTP servers, the web UI or
//! the query language.

pub mod apply;
pub mod client;
pub mod follow;
pub mod promote;
pub mod settings;
pub mod source;

use std::path::{Path, PathBuf};

pub use follow::{Follower, StandbyStatus};
pub use promote::{check_not_demoted, promote, promoted_at, PromoteReport};
pub use settings::{ReplicaSection, StandbySection};
pub use source::Source;

/// The marker of a standby data directory (JSON: the primary's URL, since when).
pub const STANDBY_FILE: &str = "standby.json";
/// The record a promotion leaves in the data directory (JSON).
pub const PROMOTED_FILE: &str = "promoted.json";
/// Taken (exclusive `flock`) while a shipped part is applied, and by `promote`.
pub const LOCK_FILE: &str = "replica.lock";
/// Prefix of the temporary files the standby writes before renaming them.
pub const TMP_PREFIX: &str = ".replica-";

/// Why replication failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReplicaError {
    /// A bad URL, token file or setting (the user's mistake).
    #[error("{0}")]
    Invalid(String),
    /// This data directory is not a standby (for `promote`).
    #[error("{0} is not a standby (no {STANDBY_FILE}): nothing to promote")]
    NotStandby(PathBuf),
    /// Another machine was promoted after this one: it must not take writes.
    #[error("{url} was promoted to primary at {at} (Unix time), after this data directory was last one: this one is demoted and must not take writes; make it a standby of the new primary (docs/OPERATIONS.md, \"When the old primary comes back\")")]
    Demoted {
        /// The promoted standby.
        url: String,
        /// When it was promoted.
        at: i64,
    },
    /// The old primary still answers (for `promote` without `--force`).
    #[error("the primary at {0} still answers: stop it first (it must not go on taking writes), or promote with --force if it is cut off for good")]
    PrimaryAnswers(String),
    /// The primary answered with an error status.
    #[error("the primary answered {status} to {path}: {body}")]
    Status {
        /// The HTTP status.
        status: u16,
        /// What was asked.
        path: String,
        /// The start of the answer.
        body: String,
    },
    /// The primary's answer was not what replication expects.
    #[error("bad answer from the primary: {0}")]
    Protocol(String),
    /// A file operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Reaching the primary failed.
    #[error("cannot reach the primary at {url}: {source}")]
    Net {
        /// Where.
        url: String,
        /// Why.
        source: std::io::Error,
    },
    /// The user database failed.
    #[error(transparent)]
    Access(#[from] crate::access::AccessError),
    /// SQLite failed.
    #[error("database: {0}")]
    Db(#[from] rusqlite::Error),
    /// The index could not be reloaded.
    #[error("index: {0}")]
    Index(String),
}

impl ReplicaError {
    /// Is this the user's mistake (as opposed to a failure)?
    pub fn is_user_error(&self) -> bool {
        matches!(
            self,
            ReplicaError::Invalid(_)
                | ReplicaError::NotStandby(_)
                | ReplicaError::PrimaryAnswers(_)
        )
    }
}

/// Attaches the path to an I/O error.
pub(crate) trait At<T> {
    fn at(self, path: &Path) -> Result<T, ReplicaError>;
}

impl<T> At<T> for std::io::Result<T> {
    fn at(self, path: &Path) -> Result<T, ReplicaError> {
        self.map_err(|source| ReplicaError::Io {
            path: path.to_path_buf(),
            source,
        })
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Whether `data` is a standby's data directory.
pub fn is_standby(data: &Path) -> bool {
    data.join(STANDBY_FILE).exists()
}

/// The primary a standby data directory follows, from its marker.
pub fn standby_primary(data: &Path) -> Option<String> {
    let text = std::fs::read(data.join(STANDBY_FILE)).ok()?;
    let v: serde_json::Value = serde_json::from_slice(&text).ok()?;
    v.get("primary")?.as_str().map(str::to_string)
}

/// Takes the replication lock of `data` (blocking); released when dropped.
pub(crate) fn lock(data: &Path) -> Result<std::fs::File, ReplicaError> {
    let path = data.join(LOCK_FILE);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .at(&path)?;
    file.lock().at(&path)?;
    Ok(file)
}

/// Writes `bytes` to `dir/name` atomically: a temporary file, fsync, rename, fsync of `dir`.
pub(crate) fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), ReplicaError> {
    use std::io::Write;
    let tmp = dir.join(format!("{TMP_PREFIX}{name}"));
    let mut f = std::fs::File::create(&tmp).at(&tmp)?;
    f.write_all(bytes).at(&tmp)?;
    f.sync_all().at(&tmp)?;
    drop(f);
    let to = dir.join(name);
    std::fs::rename(&tmp, &to).at(&to)?;
    sync_dir(dir)
}

/// fsyncs a directory (so a rename in it is durable).
pub(crate) fn sync_dir(dir: &Path) -> Result<(), ReplicaError> {
    std::fs::File::open(dir).and_then(|f| f.sync_all()).at(dir)
}

/// A plain file name (no directory part, not hidden): what the file routes serve.
pub fn plain_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && !name.starts_with('.')
        && !name.contains(['/', '\\', '\0'])
}
