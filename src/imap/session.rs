//! One IMAP connection: reads commands through [`super::parser`], keeps the
//! state (not authenticated, authenticated, selected), answers, and closes on
//! LOGOUT, idle timeout, a command over the size limits, or EOF. Generic over
//! the stream so tests can drive it in memory. The commands themselves live
//! in one file per group; the small ones (CAPABILITY, NOOP, ID, ENABLE,
//! NAMESPACE, the refused writes) are here.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::parser::{self, Command, Parsed, Token};
use super::{Imap, ImapError};
use crate::access::UserInfo;
use crate::query::mailbox::Scope;

/// Unauthenticated connections are closed after this long without a command.
pub const LOGIN_TIMEOUT: Duration = Duration::from_secs(60);
/// Authenticated ones after this long (RFC 3501: at least 30 minutes).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// The selected mailbox: its scope and its messages' UIDs, ascending (4
/// bytes a message, shared by the connections that have the same mailbox
/// open: see `Uids::mailbox`).
pub struct Selected {
    /// Its name.
    pub name: String,
    /// Which messages it holds.
    pub scope: Scope,
    /// The list it is named after, when it is one list's mailbox.
    pub list: Option<String>,
    /// UIDs; message sequence number n is `uids[n - 1]`.
    pub uids: std::sync::Arc<Vec<u32>>,
    /// The search result variable (SEARCHRES, `$`): UIDs, ascending.
    pub saved: Vec<u32>,
}

/// What to do after a command.
pub enum Flow {
    /// Read the next command.
    Continue,
    /// Close the connection.
    Close,
    /// Hand the stream back for the TLS handshake (STARTTLS).
    StartTls,
}

/// One connection.
pub struct Session<S> {
    pub(super) stream: S,
    pub(super) imap: Imap,
    pub(super) peer: SocketAddr,
    pub(super) user: Option<UserInfo>,
    pub(super) selected: Option<Selected>,
    pub(super) buf: Vec<u8>,
    pub(super) out: Vec<u8>,
    /// The connection is encrypted (implicit TLS or after STARTTLS).
    pub(super) tls: bool,
    /// Send the greeting (not after STARTTLS).
    greet: bool,
    /// The client enabled IMAP4rev2 (RFC 9051 answers).
    pub(super) rev2: bool,
    /// The client enabled UTF8=ACCEPT (RFC 6855): mailbox names go out as
    /// UTF-8 quoted strings.
    pub(super) utf8: bool,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Session<S> {
    /// A session on `stream` from `peer`.
    pub fn new(stream: S, imap: Imap, peer: SocketAddr) -> Session<S> {
        Session {
            stream,
            imap,
            peer,
            user: None,
            selected: None,
            buf: Vec::new(),
            out: Vec::new(),
            tls: false,
            greet: true,
            rev2: false,
            utf8: false,
        }
    }

    /// Marks the stream as encrypted; `greet`: false after STARTTLS (the
    /// client had its greeting on the plain connection).
    pub fn encrypted(mut self, greet: bool) -> Session<S> {
        self.tls = true;
        self.greet = greet;
        self
    }

    /// May this connection log in? Over TLS always; without it as
    /// `[imap] plain_login` says (loopback clients only, by default):
    /// passwords never cross a network in clear.
    pub(super) fn login_allowed(&self) -> bool {
        self.tls
            || match self.imap.plain_login {
                super::PlainLogin::Loopback => self.peer.ip().is_loopback(),
                super::PlainLogin::Never => false,
            }
    }

    /// Is STARTTLS on offer (TLS configured, not yet encrypted, not logged in)?
    fn starttls_offered(&self) -> bool {
        self.imap.tls.is_some() && !self.tls && self.user.is_none()
    }

    /// A mailbox name as a response value: after UTF8=ACCEPT or IMAP4rev2
    /// (whose quoted strings are UTF-8) a quoted string even when it is
    /// UTF-8; else a literal for a non-ASCII name.
    pub(super) fn quote_name(&self, name: &str) -> String {
        if self.utf8 || self.rev2 {
            super::response::quote_utf8(name)
        } else {
            super::response::quote(name)
        }
    }

    /// The capability list for the current state.
    pub(super) fn capabilities(&self) -> String {
        let mut caps = String::from("IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UNSELECT CHILDREN LIST-EXTENDED LIST-STATUS STATUS=SIZE BINARY ESEARCH PARTIAL SORT THREAD=REFERENCES X-GM-EXT-1 SEARCHRES UTF8=ACCEPT");
        if self.starttls_offered() {
            caps.push_str(" STARTTLS");
        }
        if self.user.is_none() {
            if self.login_allowed() {
                caps.push_str(" AUTH=PLAIN");
            } else {
                caps.push_str(" LOGINDISABLED");
            }
        }
        caps
    }

    /// Queues one response line (CRLF added).
    pub(super) fn line(&mut self, text: &str) {
        self.out.extend_from_slice(text.as_bytes());
        self.out.extend_from_slice(b"\r\n");
    }

    /// Sends what is queued.
    pub(super) async fn flush(&mut self) -> Result<(), ImapError> {
        if !self.out.is_empty() {
            self.stream.write_all(&self.out).await?;
            self.out.clear();
        }
        self.stream.flush().await?;
        Ok(())
    }

    /// Reads more bytes into the buffer; `false` at EOF or timeout.
    pub(super) async fn fill(&mut self) -> Result<bool, ImapError> {
        let timeout = if self.user.is_some() {
            IDLE_TIMEOUT
        } else {
            LOGIN_TIMEOUT
        };
        let mut chunk = [0u8; 16 * 1024];
        match tokio::time::timeout(timeout, self.stream.read(&mut chunk)).await {
            Err(_) => {
                self.line("* BYE idle for too long");
                let _ = self.flush().await;
                Ok(false)
            }
            Ok(Ok(0)) => Ok(false),
            Ok(Ok(n)) => {
                self.buf.extend_from_slice(&chunk[..n]);
                Ok(true)
            }
            Ok(Err(e)) => Err(e.into()),
        }
    }

    /// Reads one line (for AUTHENTICATE's continuation and IDLE's DONE),
    /// without its line end; `None` at EOF or when longer than the limit.
    pub(super) async fn read_line(&mut self) -> Result<Option<Vec<u8>>, ImapError> {
        loop {
            if let Some(nl) = memchr::memchr(b'\n', &self.buf) {
                let mut line: Vec<u8> = self.buf.drain(..=nl).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(Some(line));
            }
            if self.buf.len() > parser::MAX_LINE || !self.fill().await? {
                return Ok(None);
            }
        }
    }

    /// Serves the connection until it ends: `Some(stream)` when the client
    /// asked for STARTTLS (the caller does the handshake and goes on with an
    /// encrypted session), `None` when it is over.
    pub async fn run(mut self) -> Result<Option<S>, ImapError> {
        if self.greet {
            let greeting = format!(
                "* OK [CAPABILITY {}] gleaner IMAP ready (read-only)",
                self.capabilities()
            );
            self.line(&greeting);
            self.flush().await?;
        }
        let mut answered: Vec<usize> = Vec::new();
        loop {
            match parser::parse(&self.buf) {
                Parsed::Command { command, used } => {
                    self.buf.drain(..used);
                    answered.clear();
                    let flow = self.dispatch(command).await?;
                    self.flush().await?;
                    match flow {
                        Flow::Continue => {}
                        Flow::Close => return Ok(None),
                        // Bytes sent after STARTTLS in clear are dropped, not
                        // run as if they came encrypted (CVE-2011-0411).
                        Flow::StartTls => return Ok(Some(self.stream)),
                    }
                }
                Parsed::NeedMore { literal_at } => {
                    if let Some(at) = literal_at {
                        if !answered.contains(&at) {
                            answered.push(at);
                            self.line("+ go ahead");
                            self.flush().await?;
                        }
                    }
                    if !self.fill().await? {
                        return Ok(None);
                    }
                }
                Parsed::Bad { tag, message, used } => {
                    self.buf.drain(..used);
                    answered.clear();
                    let tag = tag.unwrap_or_else(|| "*".into());
                    self.line(&format!("{tag} BAD {message}"));
                    self.flush().await?;
                }
                Parsed::TooBig => {
                    self.line("* BYE command too long");
                    self.flush().await?;
                    return Ok(None);
                }
            }
        }
    }

    async fn dispatch(&mut self, c: Command) -> Result<Flow, ImapError> {
        let tag = c.tag.clone();
        let authed = self.user.is_some();
        let selected = self.selected.is_some();
        let name = c.name.as_str();
        let result = match name {
            "CAPABILITY" => {
                let caps = format!("* CAPABILITY {}", self.capabilities());
                self.line(&caps);
                Ok(format!("{tag} OK CAPABILITY completed"))
            }
            "NOOP" | "CHECK" => {
                if selected {
                    self.refresh().await?;
                }
                Ok(format!("{tag} OK {name} completed"))
            }
            "LOGOUT" => {
                self.line("* BYE gleaner logging out");
                self.line(&format!("{tag} OK LOGOUT completed"));
                return Ok(Flow::Close);
            }
            "ID" => {
                self.line("* ID (\"name\" \"gleaner\" \"version\" \"0.1.0\")");
                Ok(format!("{tag} OK ID completed"))
            }
            "LOGIN" | "AUTHENTICATE" if authed => Ok(format!("{tag} BAD already logged in")),
            "LOGIN" => self.login(&tag, &c.args).await,
            "AUTHENTICATE" => self.authenticate(&tag, &c.args).await,
            "STARTTLS" if self.starttls_offered() => {
                self.line(&format!("{tag} OK begin TLS negotiation now"));
                return Ok(Flow::StartTls);
            }
            "STARTTLS" if self.tls => Ok(format!("{tag} BAD the connection is already encrypted")),
            "STARTTLS" if authed => Ok(format!("{tag} BAD STARTTLS only before logging in")),
            "STARTTLS" => Ok(format!("{tag} NO [CANNOT] TLS is not configured")),
            _ if !authed => Ok(format!("{tag} BAD log in first (LOGIN or AUTHENTICATE)")),
            "ENABLE" => {
                // IMAP4rev2 (RFC 9051 answers) and UTF8=ACCEPT (RFC 6855);
                // the rest is answered as not enabled (RFC 5161).
                let mut line = String::from("* ENABLED");
                for a in &c.args {
                    let (flag, name) = match a.keyword().as_deref() {
                        Some("IMAP4REV2") => (&mut self.rev2, " IMAP4rev2"),
                        Some("UTF8=ACCEPT") => (&mut self.utf8, " UTF8=ACCEPT"),
                        _ => continue,
                    };
                    if !*flag {
                        line.push_str(name);
                    }
                    *flag = true;
                }
                self.line(&line);
                Ok(format!("{tag} OK ENABLE completed"))
            }
            "NAMESPACE" => {
                self.line("* NAMESPACE ((\"\" \"/\")) NIL NIL");
                Ok(format!("{tag} OK NAMESPACE completed"))
            }
            "LIST" | "LSUB" | "XLIST" => self.list(&tag, name, &c.args).await,
            "STATUS" => self.status(&tag, &c.args).await,
            "SELECT" | "EXAMINE" => self.select(&tag, name, &c.args).await,
            "SUBSCRIBE" | "UNSUBSCRIBE" => Ok(format!(
                "{tag} OK {name} completed (every mailbox is subscribed)"
            )),
            "CREATE" | "DELETE" | "RENAME" | "APPEND" => {
                Ok(format!("{tag} NO [CANNOT] the archive is read-only"))
            }
            "IDLE" if selected => self.idle(&tag).await,
            "IDLE" => Ok(format!("{tag} OK IDLE needs a selected mailbox")),
            _ if !selected => Ok(format!("{tag} BAD select a mailbox first")),
            "UNSELECT" | "CLOSE" => {
                self.selected = None;
                Ok(format!("{tag} OK {name} completed"))
            }
            "FETCH" => self.fetch(&tag, &c.args, false).await,
            "SEARCH" => self.search(&tag, &c.args, false).await,
            "SORT" => self.sort(&tag, &c.args, false).await,
            "THREAD" => self.thread(&tag, &c.args, false).await,
            "STORE" | "COPY" | "MOVE" | "EXPUNGE" => Ok(format!(
                "{tag} NO [READ-ONLY] the archive is read-only: {name} is refused"
            )),
            "UID" => self.uid(&tag, &c.args).await,
            _ => Ok(format!("{tag} BAD unknown command {name}")),
        };
        match result {
            Ok(line) => {
                self.line(&line);
                Ok(Flow::Continue)
            }
            Err(e @ ImapError::Io(_)) => Err(e),
            Err(ImapError::Refused(why)) => {
                self.line(&format!("{tag} NO {why}"));
                Ok(Flow::Continue)
            }
            Err(ImapError::Query(q)) if q.is_user_error() => {
                self.line(&format!("{tag} BAD {q}"));
                Ok(Flow::Continue)
            }
            Err(e) => {
                tracing::error!("imap {name}: {e}");
                self.line(&format!("{tag} NO [SERVERBUG] the server failed (logged)"));
                Ok(Flow::Continue)
            }
        }
    }

    async fn uid(&mut self, tag: &str, args: &[Token]) -> Result<String, ImapError> {
        let Some((sub, rest)) = args.split_first() else {
            return Ok(format!("{tag} BAD UID needs a command"));
        };
        match sub.keyword().as_deref() {
            Some("FETCH") => self.fetch(tag, rest, true).await,
            Some("SEARCH") => self.search(tag, rest, true).await,
            Some("SORT") => self.sort(tag, rest, true).await,
            Some("THREAD") => self.thread(tag, rest, true).await,
            Some(other @ ("STORE" | "COPY" | "MOVE" | "EXPUNGE")) => Ok(format!(
                "{tag} NO [READ-ONLY] the archive is read-only: UID {other} is refused"
            )),
            _ => Ok(format!("{tag} BAD unknown UID command")),
        }
    }

    /// IDLE: reports new mail (EXISTS) within a second of its commit, until
    /// the client sends DONE.
    async fn idle(&mut self, tag: &str) -> Result<String, ImapError> {
        self.line("+ idling");
        self.flush().await?;
        let started = tokio::time::Instant::now();
        loop {
            if let Some(nl) = memchr::memchr(b'\n', &self.buf) {
                let line: Vec<u8> = self.buf.drain(..=nl).collect();
                let text = String::from_utf8_lossy(&line);
                if text.trim().eq_ignore_ascii_case("DONE") {
                    return Ok(format!("{tag} OK IDLE terminated"));
                }
                return Ok(format!("{tag} BAD expected DONE"));
            }
            if self.buf.len() > parser::MAX_LINE {
                self.line("* BYE line too long");
                self.flush().await?;
                return Err(ImapError::Io(std::io::ErrorKind::InvalidData.into()));
            }
            if started.elapsed() > IDLE_TIMEOUT {
                self.line("* BYE idle for too long");
                self.flush().await?;
                return Err(ImapError::Io(std::io::ErrorKind::TimedOut.into()));
            }
            let mut chunk = [0u8; 1024];
            match tokio::time::timeout(Duration::from_millis(250), self.stream.read(&mut chunk))
                .await
            {
                Ok(Ok(0)) => return Err(ImapError::Io(std::io::ErrorKind::UnexpectedEof.into())),
                Ok(Ok(n)) => self.buf.extend_from_slice(&chunk[..n]),
                Ok(Err(e)) => return Err(e.into()),
                Err(_) => {
                    self.refresh().await?;
                    self.flush().await?;
                }
            }
        }
    }
}
