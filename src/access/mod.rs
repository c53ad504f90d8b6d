//! Users, roles, per-list grants and login sessions, kept in SQLite
//! (`<data>/gleaner.db`, WAL) with migrations in code.
//!
//! This module decides *who* may see *which lists*; the query layer enforces
//! it (see [`crate::query::visible`]). It knows nothing of HTTP: the web layer
//! turns cookies into [`Users::session`] calls. Every call is blocking SQLite
//! work, so async callers run it under `spawn_blocking`.

pub mod calendar;
pub mod departure;
pub mod rate;
mod replication;
pub mod saved;
mod sessions;
pub mod throttle;
mod tokens;
mod users;

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, Mutex, MutexGuard};

use rusqlite::Connection;

pub use rate::RateLimit;
pub use saved::SavedSearch;
pub use sessions::{NewSession, SessionInfo, SessionSummary, SESSION_LIFETIME_SECS};
pub use throttle::{Throttle, ThrottleConfig};
pub use tokens::{NewToken, TokenInfo, TokenSummary, TOKEN_PREFIX};
pub use users::UserInfo;

/// What a user may do. Each role includes the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Searches and reads the lists they are granted.
    Reader,
    /// Also triages review queues.
    Reviewer,
    /// Also edits curated documents.
    Editor,
    /// Sees every list and manages users.
    Admin,
}

impl Role {
    /// The role's name as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Reader => "reader",
            Role::Reviewer => "reviewer",
            Role::Editor => "editor",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = AccessError;

    fn from_str(s: &str) -> Result<Role, AccessError> {
        match s.to_ascii_lowercase().as_str() {
            "reader" => Ok(Role::Reader),
            "reviewer" => Ok(Role::Reviewer),
            "editor" => Ok(Role::Editor),
            "admin" => Ok(Role::Admin),
            _ => Err(AccessError::BadRole(s.to_string())),
        }
    }
}

/// What went wrong with users or sessions.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AccessError {
    /// No user of that name (the caller's mistake).
    #[error("no user named {0:?}")]
    UnknownUser(String),
    /// The user exists already.
    #[error("a user named {0:?} exists already")]
    UserExists(String),
    /// Not one of reader, reviewer, editor, admin.
    #[error("unknown role {0:?} (use reader, reviewer, editor or admin)")]
    BadRole(String),
    /// A user name or password that cannot be used.
    #[error("{0}")]
    Invalid(String),
    /// SQLite failed (our failure).
    #[error("user database error: {0}")]
    Db(#[from] rusqlite::Error),
    /// The database file could not be created.
    #[error("cannot open user database {path}: {source}")]
    Open {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Hashing or the OS random number generator failed (our failure).
    #[error("cryptography error: {0}")]
    Crypto(String),
}

impl AccessError {
    /// Is this the caller's mistake (as opposed to a failure of ours)?
    pub fn is_user_error(&self) -> bool {
        matches!(
            self,
            AccessError::UnknownUser(_)
                | AccessError::UserExists(_)
                | AccessError::BadRole(_)
                | AccessError::Invalid(_)
        )
    }
}

/// The user database: a handle cheap to clone and share between threads.
#[derive(Clone)]
pub struct Users {
    conn: Arc<Mutex<Connection>>,
}

/// Schema migrations of this module, applied in order; never edit one that
/// has shipped, add a new one.
const MIGRATIONS: &[&str] = &[
    "CREATE TABLE users (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        role TEXT NOT NULL,
        password_hash TEXT NOT NULL,
        created INTEGER NOT NULL
     );
     CREATE TABLE grants (
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        list TEXT NOT NULL,
        PRIMARY KEY (user_id, list)
     );
     CREATE TABLE sessions (
        token_hash TEXT PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        csrf TEXT NOT NULL,
        created INTEGER NOT NULL,
        expires INTEGER NOT NULL
     );
     CREATE INDEX sessions_expires ON sessions(expires);",
    // API tokens for assistants (MCP): only the SHA-256 of the secret is kept.
    "CREATE TABLE api_tokens (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        token_hash TEXT NOT NULL UNIQUE,
        read_only INTEGER NOT NULL,
        created INTEGER NOT NULL,
        created_by TEXT NOT NULL,
        last_used INTEGER
     );",
    // Replication tokens (a standby pulling from this primary): see `replication.rs`.
    "ALTER TABLE api_tokens ADD COLUMN replication INTEGER NOT NULL DEFAULT 0;",
];

/// The name under which this module's schema version is recorded.
const COMPONENT: &str = "access";

impl Users {
    /// Opens (creating and migrating) `<data>/gleaner.db`.
    pub fn open(data: &Path) -> Result<Users, AccessError> {
        std::fs::create_dir_all(data).map_err(|source| AccessError::Open {
            path: data.to_path_buf(),
            source,
        })?;
        let conn = Connection::open(data.join("gleaner.db"))?;
        Users::with_connection(conn)
    }

    /// Uses an open connection (tests use an in-memory one).
    pub fn with_connection(mut conn: Connection) -> Result<Users, AccessError> {
        crate::db::configure(&conn)?;
        crate::db::migrate(&mut conn, COMPONENT, MIGRATIONS)?;
        crate::db::migrate(&mut conn, saved::COMPONENT, saved::MIGRATIONS)?;
        crate::audit::migrate(&mut conn)?;
        crate::db::migrate(&mut conn, calendar::COMPONENT, calendar::MIGRATIONS)?;
        departure::migrate(&mut conn)?;
        Ok(Users {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite consistent (each change
        // is a statement or a transaction), so a poisoned lock is still usable.
        match self.conn.lock() {
            Ok(c) => c,
            Err(poisoned) => poisoned.into_inner(),
        }
    }
}

fn now() -> i64 {
    crate::db::now()
}

/// `n` bytes from the OS random number generator, as hex.
fn random_hex(n: usize) -> Result<String, AccessError> {
    let mut buf = vec![0u8; n];
    getrandom::fill(&mut buf).map_err(|e| AccessError::Crypto(e.to_string()))?;
    Ok(hex::encode(buf))
}

#[cfg(test)]
mod tests;
