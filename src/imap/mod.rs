//! The read-only IMAP server (`[imap] listen`): the archive as mailboxes any
//! mail client can open — one per list the user may read (named by its
//! List-Id), `INBOX` for all of them, and saved searches from the
//! configuration (docs/IMAP.md).
//!
//! `parser.rs` turns bytes into commands with no I/O; `session.rs` is one
//! connection's state machine, generic over the stream so tests drive it in
//! memory; one file per command group (`auth.rs`, `mailboxes.rs`,
//! `fetch.rs`, `search.rs`, `sort.rs`); `mime.rs` the MIME structure, ENVELOPE and
//! BODYSTRUCTURE; `uids.rs` the stable UIDs in `gleaner.db`. Everything goes
//! through `query` (`query::mailbox`), `access` and `store`; this module
//! never imports another surface (`http`, `solr`, `mcp`), and the archive is
//! never changed through it.

mod auth;
mod fetch;
pub mod mailboxes;
pub mod mime;
pub mod parser;
pub mod response;
mod search;
pub mod session;
mod sort;
pub mod uids;

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use crate::access::{AccessError, Throttle, Users};
use crate::curate::Curation;
use crate::index::MailIndex;
use crate::query::QueryError;
use crate::retention::Retention;

pub use uids::Uids;

/// A saved search shown as a mailbox (`[[imap.folder]]`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Folder {
    /// The mailbox name (`/` separates levels).
    pub name: String,
    /// A gleaner query.
    pub query: String,
}

/// Why the IMAP server failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImapError {
    /// The UID table failed.
    #[error("imap uid table: {0}")]
    Db(String),
    /// The user database failed.
    #[error(transparent)]
    Access(#[from] AccessError),
    /// A query failed.
    #[error(transparent)]
    Query(#[from] QueryError),
    /// Reading or writing the connection failed.
    #[error("connection: {0}")]
    Io(#[from] std::io::Error),
    /// A blocking task died.
    #[error("task failed: {0}")]
    Task(String),
}

impl From<rusqlite::Error> for ImapError {
    fn from(e: rusqlite::Error) -> ImapError {
        ImapError::Db(e.to_string())
    }
}

/// What every connection shares; cheap to clone.
#[derive(Clone)]
pub struct Imap {
    /// The search index.
    pub index: MailIndex,
    /// Users and grants.
    pub users: Users,
    /// Stable UIDs.
    pub uids: Uids,
    /// Failed logins and their back-off.
    pub throttle: Throttle,
    /// Saved searches shown as mailboxes.
    pub folders: Arc<Vec<Folder>>,
    /// For `is:cited` and `cited:` in saved searches and X-GM-RAW.
    pub curation: Option<Curation>,
    /// For `is:archived` and `is:held`.
    pub retention: Option<Retention>,
}

impl Imap {
    /// The server over `index` with users and UIDs from `data/gleaner.db`.
    pub fn open(data: &Path, index: MailIndex, folders: Vec<Folder>) -> Result<Imap, ImapError> {
        Ok(Imap {
            index,
            users: Users::open(data)?,
            uids: Uids::open(data)?,
            throttle: Throttle::default(),
            folders: Arc::new(folders),
            curation: None,
            retention: None,
        })
    }

    /// Adds the curation database (marks in queries).
    pub fn with_curation(mut self, c: Option<Curation>) -> Imap {
        self.curation = c;
        self
    }

    /// Adds the archive tables (marks in queries).
    pub fn with_retention(mut self, r: Option<Retention>) -> Imap {
        self.retention = r;
        self
    }
}

/// Runs `f` on the blocking pool.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ImapError> + Send + 'static,
) -> Result<T, ImapError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ImapError::Task(e.to_string()))?
}

/// Accepts connections on `listener` until `shutdown` completes; each runs
/// its own [`session::Session`].
pub async fn serve(
    listener: tokio::net::TcpListener,
    imap: Imap,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => return Ok(()),
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!("imap accept: {e}");
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let imap = imap.clone();
                tokio::spawn(async move {
                    let session = session::Session::new(stream, imap, peer);
                    if let Err(e) = session.run().await {
                        tracing::debug!(%peer, "imap session ended: {e}");
                    }
                });
            }
        }
    }
}

/// Binds `addr` (port 0: any free port).
pub async fn bind(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await
}
