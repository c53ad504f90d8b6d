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
mod searchres;
pub mod session;
mod sizes;
mod sort;
pub mod tls;
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
    /// The command asks for more than the server does (answered `NO`,
    /// with the response code in the text).
    #[error("{0}")]
    Refused(String),
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
    /// The TLS configuration (`cert`/`key`): STARTTLS and `listen_tls`.
    pub tls: Option<tokio_rustls::TlsAcceptor>,
    /// Who may log in over a connection without TLS.
    pub plain_login: PlainLogin,
}

/// Who may send a password over a connection without TLS
/// (`[imap] plain_login`). Anyone else is told `LOGINDISABLED` and must
/// STARTTLS (or use `listen_tls`) first.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PlainLogin {
    /// Clients on a loopback address (the default): the password never
    /// leaves the machine.
    #[default]
    Loopback,
    /// Nobody: every login needs TLS.
    Never,
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
            tls: None,
            plain_login: PlainLogin::default(),
        })
    }

    /// Adds the curation database (marks in queries).
    pub fn with_curation(mut self, c: Option<Curation>) -> Imap {
        self.curation = c;
        self
    }

    /// Adds TLS (STARTTLS on the plain port, and [`serve_tls`]) and the
    /// plain-login rule.
    pub fn with_tls(mut self, tls: Option<tokio_rustls::TlsAcceptor>, plain: PlainLogin) -> Imap {
        self.tls = tls;
        self.plain_login = plain;
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
/// its own [`session::Session`] (upgraded in place on STARTTLS).
pub async fn serve(
    listener: tokio::net::TcpListener,
    imap: Imap,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    accept_loop(listener, imap, false, shutdown).await
}

/// Like [`serve`] with implicit TLS (`listen_tls`, the imaps port): the
/// handshake comes first, then the greeting. Needs `imap.tls`.
pub async fn serve_tls(
    listener: tokio::net::TcpListener,
    imap: Imap,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    if imap.tls.is_none() {
        return Err(std::io::Error::other("imap: listen_tls needs cert and key"));
    }
    accept_loop(listener, imap, true, shutdown).await
}

async fn accept_loop(
    listener: tokio::net::TcpListener,
    imap: Imap,
    implicit_tls: bool,
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
                    if let Err(e) = connection(stream, imap, peer, implicit_tls).await {
                        tracing::debug!(%peer, "imap session ended: {e}");
                    }
                });
            }
        }
    }
}

/// One connection from accept to close: the TLS handshake first when
/// `implicit_tls`, else a plain session that STARTTLS may hand back for the
/// handshake, after which the session goes on encrypted (without a second
/// greeting).
async fn connection(
    stream: tokio::net::TcpStream,
    imap: Imap,
    peer: SocketAddr,
    implicit_tls: bool,
) -> Result<(), ImapError> {
    let acceptor = imap.tls.clone();
    if implicit_tls {
        let Some(acceptor) = acceptor else {
            return Ok(());
        };
        let tls = tls::accept(&acceptor, stream).await?;
        session::Session::new(tls, imap, peer)
            .encrypted(true)
            .run()
            .await?;
        return Ok(());
    }
    let plain = session::Session::new(stream, imap.clone(), peer);
    if let (Some(stream), Some(acceptor)) = (plain.run().await?, acceptor) {
        let tls = tls::accept(&acceptor, stream).await?;
        session::Session::new(tls, imap, peer)
            .encrypted(false)
            .run()
            .await?;
    }
    Ok(())
}

/// Binds `addr` (port 0: any free port).
pub async fn bind(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await
}
