//! Longevity: retention policies that move old mail into sealed archive
//! volumes (and, after verification, out of the live store), legal holds
//! that keep mail from being removed, and consistent backups of the data
//! directory.
//!
//! State lives in `gleaner.db` (`archived`, `holds`) next to the audit log;
//! every archive run, removal and hold appends to the audit log. Volumes
//! themselves are `store::volume` (an open format any tool can read).

pub mod archive;
pub mod backup;
pub mod copies;
pub mod departure;
pub mod mbox_rewrite;
pub mod media;
mod removal;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

use crate::query::harvest::AgeBasis;
use crate::query::marks::Mark;

/// What went wrong in retention.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RetentionError {
    /// The caller's request is malformed or names nothing.
    #[error("{0}")]
    Invalid(String),
    /// SQLite failed.
    #[error("database error: {0}")]
    Db(#[from] rusqlite::Error),
    /// The database could not be opened.
    #[error(transparent)]
    Open(#[from] crate::db::OpenError),
    /// The index failed.
    #[error(transparent)]
    Index(#[from] crate::index::IndexError),
    /// A query failed.
    #[error(transparent)]
    Query(#[from] crate::query::QueryError),
    /// A volume could not be written or read.
    #[error(transparent)]
    Volume(#[from] crate::store::volume::VolumeError),
    /// A sealed volume did not verify: nothing was removed from the live store.
    #[error("volume {volume} did not verify, nothing was removed: {problems}")]
    Unverified {
        /// The volume.
        volume: String,
        /// What is wrong.
        problems: String,
    },
    /// A mail store could not be changed.
    #[error("{path}: {message}")]
    Store {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// A mail store could not be read.
    #[error(transparent)]
    Read(#[from] crate::store::StoreError),
    /// The review queue a policy waits for failed.
    #[error(transparent)]
    Curate(#[from] crate::curate::CurateError),
}

impl From<crate::query::lists::ListNameError> for RetentionError {
    fn from(e: crate::query::lists::ListNameError) -> RetentionError {
        match e {
            crate::query::lists::ListNameError::Query(q) => RetentionError::Query(q),
            ambiguous => RetentionError::Invalid(ambiguous.to_string()),
        }
    }
}

impl RetentionError {
    /// Is this the caller's mistake?
    pub fn is_user_error(&self) -> bool {
        matches!(self, RetentionError::Invalid(_))
            || matches!(self, RetentionError::Query(q) if q.is_user_error())
    }
}

/// `[[retention]]`: which mail goes into archive volumes, when, and whether
/// it then leaves the live store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionPolicy {
    /// Unique name (letters, digits, `-`, `_`, `.`); volumes are named after it.
    pub name: String,
    /// Lists it covers (empty: every list, or only `sources`).
    #[serde(default)]
    pub lists: Vec<String>,
    /// Mail stores it covers (paths); mail found only elsewhere is not touched.
    #[serde(default)]
    pub sources: Vec<PathBuf>,
    /// Only mail matching this query.
    #[serde(default)]
    pub query: Option<String>,
    /// Which date ages a message.
    #[serde(default)]
    pub age_basis: AgeBasis,
    /// Mail older than this is due (`7y`, `18m`, `90d`).
    #[serde(default)]
    pub archive_after: Option<String>,
    /// Or: everything it covers is due from this day on (`2027-01-31`).
    #[serde(default)]
    pub archive_on: Option<String>,
    /// Remove archived mail from the live store once its volume verified.
    #[serde(default)]
    pub remove_from_live: bool,
    /// Threads still undecided in this review policy's queue wait.
    #[serde(default)]
    pub after_review: Option<String>,
}

impl RetentionPolicy {
    /// Checks the name, the age or date, and the query.
    pub fn validate(&self) -> Result<(), RetentionError> {
        if self.name.is_empty()
            || self.name.len() > 40
            || !self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            return Err(RetentionError::Invalid(format!(
                "bad retention policy name {:?}: use 1-40 letters, digits, '-', '_' or '.'",
                self.name
            )));
        }
        match (&self.archive_after, &self.archive_on) {
            (Some(a), None) => {
                crate::curate::policy::parse_age(a).map_err(|e| RetentionError::Invalid(e.to_string()))?;
            }
            (None, Some(d)) => {
                parse_day(d)?;
            }
            _ => {
                return Err(RetentionError::Invalid(format!(
                    "retention policy {:?}: give exactly one of archive_after (like \"7y\") or archive_on (like \"2027-01-31\")",
                    self.name
                )))
            }
        }
        if let Some(q) = self.query.as_deref().filter(|q| !q.trim().is_empty()) {
            crate::query::grammar::parse(q).map_err(|e| {
                RetentionError::Invalid(format!("retention policy {:?}: bad query: {e}", self.name))
            })?;
        }
        Ok(())
    }

    /// Mail older than this is due (unix seconds); `None`: none is due yet.
    /// With `archive_on`, everything is due once that day has begun.
    pub fn cutoff(&self, now: i64) -> Result<Option<i64>, RetentionError> {
        if let Some(a) = &self.archive_after {
            let (amount, unit) = crate::curate::policy::parse_age(a)
                .map_err(|e| RetentionError::Invalid(e.to_string()))?;
            return Ok(Some(crate::query::plan::age_cutoff(now, amount, unit)));
        }
        match &self.archive_on {
            Some(d) if now >= parse_day(d)? => Ok(Some(i64::MAX)),
            _ => Ok(None),
        }
    }
}

/// `YYYY-MM-DD` → unix seconds at its start (UTC).
pub fn parse_day(s: &str) -> Result<i64, RetentionError> {
    let bad = || RetentionError::Invalid(format!("bad date {s:?}: use YYYY-MM-DD"));
    let mut parts = s.trim().split('-').map(|p| p.parse::<i32>().ok());
    let (Some(Some(y)), Some(Some(m)), Some(Some(d)), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    let month = time::Month::try_from(u8::try_from(m).map_err(|_| bad())?).map_err(|_| bad())?;
    let date = time::Date::from_calendar_date(y, month, u8::try_from(d).map_err(|_| bad())?)
        .map_err(|_| bad())?;
    Ok(date.midnight().assume_utc().unix_timestamp())
}

/// `4.7GB`, `500MB`, `1G`, `12345` (bytes) → bytes.
pub fn parse_size(s: &str) -> Result<u64, RetentionError> {
    let t = s.trim().to_ascii_uppercase();
    let bad = || {
        RetentionError::Invalid(format!(
            "bad size {s:?}: use a number and KB, MB, GB or TB, like 4.7GB"
        ))
    };
    let t = t.strip_suffix('B').unwrap_or(&t);
    let (num, mult) = match t.chars().last() {
        Some('K') => (&t[..t.len() - 1], 1e3),
        Some('M') => (&t[..t.len() - 1], 1e6),
        Some('G') => (&t[..t.len() - 1], 1e9),
        Some('T') => (&t[..t.len() - 1], 1e12),
        _ => (t, 1.0),
    };
    let v: f64 = num.trim().parse().map_err(|_| bad())?;
    if v.is_nan() || v <= 0.0 || !v.is_finite() {
        return Err(bad());
    }
    Ok((v * mult) as u64)
}

/// `[archive]`: where volumes go and when they close.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ArchiveSection {
    /// Directory of the sealed volumes (default: `<data>/archive`).
    pub dir: Option<PathBuf>,
    /// A volume closes when its mbox reaches this size (default 4.7GB, one DVD).
    pub volume_size: String,
}

impl Default for ArchiveSection {
    fn default() -> Self {
        ArchiveSection {
            dir: None,
            volume_size: "4.7GB".into(),
        }
    }
}

impl ArchiveSection {
    /// The volume directory for data directory `data`.
    pub fn dir_for(&self, data: &Path) -> PathBuf {
        self.dir.clone().unwrap_or_else(|| data.join("archive"))
    }
}

/// `[backup]`: where `gleaner backup` writes, and when `serve` runs one by itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct BackupSection {
    /// Destination directory (a mounted disk).
    pub dest: Option<PathBuf>,
    /// `serve` backs up when the last backup is older than this (`7d`, `1d`).
    pub every: Option<String>,
    /// ... or when this much new mail was indexed since the last backup (`5GB`).
    pub after_new_mail: Option<String>,
}

/// A legal hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hold {
    /// Unique name.
    pub name: String,
    /// The mail it protects.
    pub query: String,
    /// Why.
    pub reason: String,
    /// Who placed it.
    pub created_by: String,
    /// When (unix seconds).
    pub created_at: i64,
    /// Who released it.
    pub released_by: Option<String>,
    /// When (unix seconds); `None` while active.
    pub released_at: Option<i64>,
}

const COMPONENT: &str = "retention";

const MIGRATIONS: &[&str] = &[
    "CREATE TABLE archived (
        key TEXT PRIMARY KEY,
        message_id TEXT NOT NULL,
        mid TEXT NOT NULL,
        volume TEXT NOT NULL,
        location TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        policy TEXT NOT NULL,
        archived_at INTEGER NOT NULL,
        removed_at INTEGER
     );
     CREATE INDEX archived_volume ON archived(volume);
     CREATE INDEX archived_mid ON archived(mid);
     CREATE TABLE holds (
        name TEXT PRIMARY KEY,
        query TEXT NOT NULL,
        reason TEXT NOT NULL,
        created_by TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        released_by TEXT,
        released_at INTEGER
     );",
    "CREATE TABLE retention_state (key TEXT PRIMARY KEY, value TEXT NOT NULL);",
    copies::MIGRATION,
];

/// The retention tables of `gleaner.db`.
#[derive(Clone)]
pub struct Retention {
    conn: Arc<Mutex<Connection>>,
}

impl Retention {
    /// Opens (creating and migrating) the retention tables of `<data>/gleaner.db`.
    pub fn open(data: &Path) -> Result<Retention, RetentionError> {
        let mut conn = crate::db::open(data)?;
        crate::db::migrate(&mut conn, COMPONENT, MIGRATIONS)?;
        crate::audit::migrate(&mut conn)?;
        let retention = Retention {
            conn: Arc::new(Mutex::new(conn)),
        };
        retention.migrate_mailboxes()?;
        Ok(retention)
    }

    pub(crate) fn conn(&self) -> MutexGuard<'_, Connection> {
        match self.conn.lock() {
            Ok(c) => c,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Runs `f` in one immediate write transaction.
    pub(crate) fn write<T>(
        &self,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T, RetentionError>,
    ) -> Result<T, RetentionError> {
        crate::db::write(&mut self.conn(), f)
    }

    /// Places a legal hold: mail matching `query` is never removed from the live store.
    pub fn add_hold(
        &self,
        name: &str,
        query: &str,
        reason: &str,
        actor: &str,
    ) -> Result<(), RetentionError> {
        if name.trim().is_empty() || reason.trim().is_empty() {
            return Err(RetentionError::Invalid(
                "a hold needs a name and a reason".into(),
            ));
        }
        crate::query::grammar::parse(query)
            .map_err(|e| RetentionError::Invalid(format!("bad hold query: {e}")))?;
        self.write(|tx| {
            let active: Option<Option<i64>> = tx
                .query_row("SELECT released_at FROM holds WHERE name = ?1", [name], |r| r.get(0))
                .optional()?;
            if matches!(active, Some(None)) {
                return Err(RetentionError::Invalid(format!("a hold named {name:?} is already active")));
            }
            tx.execute(
                "INSERT INTO holds (name, query, reason, created_by, created_at) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT(name) DO UPDATE SET query = excluded.query, reason = excluded.reason,
                   created_by = excluded.created_by, created_at = excluded.created_at,
                   released_by = NULL, released_at = NULL",
                params![name, query, reason, actor, crate::db::now()],
            )?;
            crate::audit::append(tx, actor, "hold.add", &format!("hold:{name}"), &serde_json::json!({"query": query, "reason": reason}))?;
            Ok(())
        })
    }

    /// Releases an active hold.
    pub fn release_hold(&self, name: &str, actor: &str) -> Result<(), RetentionError> {
        self.write(|tx| {
            let n = tx.execute(
                "UPDATE holds SET released_by = ?2, released_at = ?3 WHERE name = ?1 AND released_at IS NULL",
                params![name, actor, crate::db::now()],
            )?;
            if n == 0 {
                return Err(RetentionError::Invalid(format!("no active hold named {name:?}")));
            }
            crate::audit::append(tx, actor, "hold.release", &format!("hold:{name}"), &serde_json::json!({}))?;
            Ok(())
        })
    }

    /// Every hold, active ones first.
    pub fn holds(&self) -> Result<Vec<Hold>, RetentionError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT name, query, reason, created_by, created_at, released_by, released_at FROM holds
             ORDER BY released_at IS NOT NULL, name",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(Hold {
                name: r.get(0)?,
                query: r.get(1)?,
                reason: r.get(2)?,
                created_by: r.get(3)?,
                created_at: r.get(4)?,
                released_by: r.get(5)?,
                released_at: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The queries of the active holds.
    pub fn active_hold_queries(&self) -> Result<Vec<String>, RetentionError> {
        Ok(self
            .holds()?
            .into_iter()
            .filter(|h| h.released_at.is_none())
            .map(|h| h.query)
            .collect())
    }

    /// Records a finished backup (audit entry, and the state periodic backups use).
    pub fn record_backup(
        &self,
        report: &backup::BackupReport,
        dest: &Path,
        mail_bytes: u64,
        actor: &str,
    ) -> Result<(), RetentionError> {
        self.write(|tx| {
            for (key, value) in [
                ("last_backup_at", crate::db::now().to_string()),
                ("mail_bytes_at_backup", mail_bytes.to_string()),
            ] {
                tx.execute(
                    "INSERT INTO retention_state (key, value) VALUES (?1, ?2)
                     ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    [key, value.as_str()],
                )?;
            }
            crate::audit::append(
                tx,
                actor,
                "backup.run",
                &format!("backup:{}", dest.display()),
                &serde_json::json!({"snapshot": report.snapshot, "files_copied": report.files_copied,
                    "files_reused": report.files_reused, "bytes_copied": report.bytes_copied}),
            )?;
            Ok(())
        })
    }

    /// When the last backup finished (unix seconds).
    pub fn last_backup_at(&self) -> Result<Option<i64>, RetentionError> {
        self.state("last_backup_at")
    }

    /// How many bytes of mail the index held at the last backup.
    pub fn mail_bytes_at_backup(&self) -> Result<Option<i64>, RetentionError> {
        self.state("mail_bytes_at_backup")
    }

    fn state(&self, key: &str) -> Result<Option<i64>, RetentionError> {
        let v: Option<String> = self
            .conn()
            .query_row(
                "SELECT value FROM retention_state WHERE key = ?1",
                [key],
                |r| r.get(0),
            )
            .optional()?;
        Ok(v.and_then(|v| v.parse().ok()))
    }

    /// Keys already in a sealed volume.
    pub fn archived_keys(&self) -> Result<std::collections::HashSet<String>, RetentionError> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT key FROM archived")?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Where an archived message is: (volume, location URI), by key or Message-ID.
    pub fn archived(&self, key_or_id: &str) -> Result<Option<(String, String)>, RetentionError> {
        let id = key_or_id
            .trim()
            .trim_start_matches('<')
            .trim_end_matches('>');
        Ok(self
            .conn()
            .query_row(
                "SELECT volume, location FROM archived WHERE key = ?1 OR key = ?2 OR mid = ?3 LIMIT 1",
                params![key_or_id, format!("<{id}>"), id.to_lowercase()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
    }
}

impl crate::query::Marks for Retention {
    fn is(&self, name: &str) -> Result<Option<Mark>, String> {
        match name {
            "archived" => {
                let conn = self.conn();
                let mut stmt = conn
                    .prepare("SELECT key FROM archived")
                    .map_err(|e| e.to_string())?;
                let rows = stmt
                    .query_map([], |r| r.get::<_, String>(0))
                    .map_err(|e| e.to_string())?;
                Ok(Some(Mark::Keys(
                    rows.collect::<Result<_, _>>().map_err(|e| e.to_string())?,
                )))
            }
            "held" => Ok(Some(Mark::Queries(
                self.active_hold_queries().map_err(|e| e.to_string())?,
            ))),
            // The mailboxes of people who left; the viewer's lists decide
            // which of them a search may show.
            "departed" => Ok(Some(Mark::Queries(
                self.departed_lists(crate::db::now())
                    .map_err(|e| e.to_string())?
                    .iter()
                    .map(|l| format!("list:\"{l}\""))
                    .collect(),
            ))),
            _ => Ok(None),
        }
    }

    fn cited(&self, _doc: &str) -> Result<Option<Vec<String>>, String> {
        Ok(None)
    }
}
