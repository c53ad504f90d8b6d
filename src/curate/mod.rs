//! Curation: review policies and their queues of old threads, reviewers'
//! decisions, and the curated documents (Procedures, Policies, Guidelines)
//! with revisions and citations back to the exact messages.
//!
//! All of it lives in `gleaner.db` (never in the index, so it survives
//! `gleaner rebuild`), and every change appends to the audit log in the same
//! transaction. Queues are computed from the index through
//! [`crate::query::harvest`] and scored here ([`score`]); the last queue of
//! each policy is cached until the index or the promoted set changes.
//!
//! Blocking SQLite and index work: async callers use `spawn_blocking`.

pub mod calendar;
pub mod decisions;
pub mod diff;
pub mod digest;
pub mod documents;
pub mod export;
pub mod placed;
pub mod policy;
pub mod queue;
pub mod redact;
pub mod round_schedule;
pub mod rounds;
pub mod score;
mod tar;
pub mod verbatim;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use rusqlite::{Connection, Transaction};

pub use decisions::Decision;
pub use documents::{Citation, DocKind, DocStatus, Document, NewCitation};
pub use policy::ReviewPolicy;
pub use queue::{Asked, Progress, Queue, QueueItem};

/// What went wrong in curation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CurateError {
    /// Something the caller named does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The caller's request is malformed (bad policy, bad decision, ...).
    #[error("{0}")]
    Invalid(String),
    /// The document changed since the caller read it.
    #[error("document {doc} is at revision {current}, not {expected}: reload and merge")]
    Conflict {
        /// The document.
        doc: i64,
        /// Its revision now.
        current: i64,
        /// The revision the caller edited.
        expected: i64,
    },
    /// The query of a policy is bad, or the index failed.
    #[error(transparent)]
    Query(#[from] crate::query::QueryError),
    /// SQLite failed (our failure).
    #[error("curation database error: {0}")]
    Db(#[from] rusqlite::Error),
    /// The database could not be opened.
    #[error(transparent)]
    Open(#[from] crate::db::OpenError),
}

impl From<crate::query::lists::ListNameError> for CurateError {
    fn from(e: crate::query::lists::ListNameError) -> CurateError {
        match e {
            crate::query::lists::ListNameError::Query(q) => CurateError::Query(q),
            ambiguous => CurateError::Invalid(ambiguous.to_string()),
        }
    }
}

impl CurateError {
    /// Is this the caller's mistake (as opposed to a failure of ours)?
    pub fn is_user_error(&self) -> bool {
        match self {
            CurateError::NotFound(_) | CurateError::Invalid(_) | CurateError::Conflict { .. } => {
                true
            }
            CurateError::Query(q) => q.is_user_error(),
            _ => false,
        }
    }
}

const COMPONENT: &str = "curate";

const MIGRATIONS: &[&str] = &[
    "CREATE TABLE review_policies (
        name TEXT PRIMARY KEY,
        lists TEXT NOT NULL,
        older_than TEXT NOT NULL,
        age_basis TEXT NOT NULL,
        query TEXT,
        origin TEXT NOT NULL,
        updated INTEGER NOT NULL,
        updated_by TEXT NOT NULL
     );
     CREATE TABLE decisions (
        policy TEXT NOT NULL,
        thread_id TEXT NOT NULL,
        decision TEXT NOT NULL,
        note TEXT NOT NULL DEFAULT '',
        decided_by TEXT NOT NULL,
        decided_at INTEGER NOT NULL,
        PRIMARY KEY (policy, thread_id)
     );
     CREATE TABLE decision_log (
        id INTEGER PRIMARY KEY,
        batch INTEGER NOT NULL,
        policy TEXT NOT NULL,
        thread_id TEXT NOT NULL,
        before_decision TEXT,
        before_note TEXT,
        before_by TEXT,
        before_at INTEGER,
        after_decision TEXT NOT NULL,
        actor TEXT NOT NULL,
        at INTEGER NOT NULL,
        undone INTEGER NOT NULL DEFAULT 0
     );
     CREATE INDEX decision_log_actor ON decision_log(policy, actor, undone, batch);
     CREATE TABLE documents (
        id INTEGER PRIMARY KEY,
        slug TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL,
        title TEXT NOT NULL,
        owner TEXT NOT NULL,
        status TEXT NOT NULL,
        created INTEGER NOT NULL,
        updated INTEGER NOT NULL,
        revision INTEGER NOT NULL
     );
     CREATE TABLE revisions (
        doc_id INTEGER NOT NULL REFERENCES documents(id),
        n INTEGER NOT NULL,
        title TEXT NOT NULL,
        body TEXT NOT NULL,
        author TEXT NOT NULL,
        at INTEGER NOT NULL,
        PRIMARY KEY (doc_id, n)
     );
     CREATE TABLE citations (
        id INTEGER PRIMARY KEY,
        doc_id INTEGER NOT NULL REFERENCES documents(id),
        message_id TEXT NOT NULL,
        mid TEXT NOT NULL,
        thread_id TEXT NOT NULL,
        list TEXT NOT NULL,
        date INTEGER NOT NULL,
        author TEXT NOT NULL,
        subject TEXT NOT NULL,
        excerpt TEXT NOT NULL,
        created_by TEXT NOT NULL,
        created_at INTEGER NOT NULL
     );
     CREATE INDEX citations_mid ON citations(mid);
     CREATE INDEX citations_doc ON citations(doc_id);",
    // The citation a promotion added (`promote` with `cite_into`): its undo removes it.
    "ALTER TABLE decision_log ADD COLUMN citation_id INTEGER;",
];

/// The curation database: a handle cheap to clone and share between threads.
#[derive(Clone)]
pub struct Curation {
    conn: Arc<Mutex<Connection>>,
    cache: Arc<Mutex<HashMap<String, queue::Cached>>>,
    /// Base URL of permalinks (`https://gleaner.example.org`), without the trailing `/`.
    pub public_url: String,
}

impl Curation {
    /// Opens (creating and migrating) the curation tables of `<data>/gleaner.db`.
    pub fn open(data: &Path, public_url: &str) -> Result<Curation, CurateError> {
        Curation::with_connection(crate::db::open(data)?, public_url)
    }

    /// Uses an open connection (tests use an in-memory one).
    pub fn with_connection(
        mut conn: Connection,
        public_url: &str,
    ) -> Result<Curation, CurateError> {
        crate::db::configure(&conn)?;
        crate::db::migrate(&mut conn, COMPONENT, MIGRATIONS)?;
        crate::audit::migrate(&mut conn)?;
        crate::db::migrate(&mut conn, rounds::COMPONENT, rounds::MIGRATIONS)?;
        Ok(Curation {
            conn: Arc::new(Mutex::new(conn)),
            cache: Arc::new(Mutex::new(HashMap::new())),
            public_url: public_url.trim_end_matches('/').to_string(),
        })
    }

    pub(crate) fn conn(&self) -> MutexGuard<'_, Connection> {
        // Each change is one transaction, so a poisoned lock is still consistent.
        match self.conn.lock() {
            Ok(c) => c,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Runs `f` in one write transaction (taken at once, so audit appends are serialised).
    pub(crate) fn write<T>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> Result<T, CurateError>,
    ) -> Result<T, CurateError> {
        crate::db::write(&mut self.conn(), f)
    }

    /// The permalink of a message.
    pub fn permalink(&self, message_id: &str) -> String {
        format!("{}/m/{}", self.public_url, percent_encode(message_id))
    }

    /// The audit log's newest entries (optionally about one subject).
    pub fn audit(
        &self,
        subject: Option<&str>,
        limit: usize,
    ) -> Result<Vec<crate::audit::Entry>, CurateError> {
        Ok(crate::audit::recent(&self.conn(), subject, limit)?)
    }

    /// Checks the audit log's hash chain.
    pub fn verify_audit(&self) -> Result<crate::audit::Verification, CurateError> {
        Ok(crate::audit::verify(&self.conn())?)
    }
}

/// Percent-encodes everything but unreserved characters and `@`.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~@".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl crate::query::Marks for Curation {
    fn is(&self, name: &str) -> Result<Option<crate::query::marks::Mark>, String> {
        is_mark(self, name, false)
    }

    fn cited(&self, doc: &str) -> Result<Option<Vec<String>>, String> {
        cited_mark(self, doc, false)
    }
}

/// `is:cited` and `cited:` as a reader may use them: over published
/// documents only, so that a search neither finds what a draft cites nor
/// tells a draft from a document that does not exist (reviewers and up,
/// who may read drafts, get the [`Curation`] itself).
#[derive(Clone)]
pub struct PublishedMarks(pub Curation);

impl crate::query::Marks for PublishedMarks {
    fn is(&self, name: &str) -> Result<Option<crate::query::marks::Mark>, String> {
        is_mark(&self.0, name, true)
    }

    fn cited(&self, doc: &str) -> Result<Option<Vec<String>>, String> {
        cited_mark(&self.0, doc, true)
    }
}

fn is_mark(
    c: &Curation,
    name: &str,
    published_only: bool,
) -> Result<Option<crate::query::marks::Mark>, String> {
    match name {
        "cited" => documents::all_cited(c, published_only)
            .map(|ids| Some(crate::query::marks::Mark::Ids(ids)))
            .map_err(|e| e.to_string()),
        _ => Ok(None),
    }
}

fn cited_mark(
    c: &Curation,
    doc: &str,
    published_only: bool,
) -> Result<Option<Vec<String>>, String> {
    documents::cited_by_doc(c, doc, published_only)
        .map(Some)
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests;
