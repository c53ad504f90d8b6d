//! The Solr-compatible endpoint Dovecot's `fts_solr` plugin talks to
//! (see docs/DOVECOT.md and docs/dovecot-fts-solr.md).
//!
//! Two routes, exactly what the plugin uses: `POST /solr/{core}/update`
//! ([`update`]) and `GET /solr/{core}/select` ([`select`]), behind optional
//! HTTP Basic auth ([`auth`]). The IMAP index lives in `<data dir>/imap/`;
//! all index and query work runs under `spawn_blocking`. This module maps
//! errors to HTTP statuses; any non-2xx makes Dovecot fall back to its own
//! (slow, exact) search, so everything we cannot answer exactly is refused.
//!
//! It knows nothing of tantivy: it goes through `index::imap` and `query::imap`.

pub mod auth;
pub mod select;
pub mod update;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::serve::ListenerExt;
use axum::Router;

use crate::index::imap::{ImapIndex, ImapIndexError};
use crate::metrics::requests::track;
use crate::metrics::{ErrorKind, Requests, Surface};
use crate::query::imap::ImapQueryError;
use crate::query::lucene::ParseError;

/// The `[solr]` section of the configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SolrConfig {
    /// Where to listen, e.g. `127.0.0.1:8983`.
    pub listen: SocketAddr,
    /// HTTP Basic user; with `password`, required on every request.
    pub user: Option<String>,
    /// HTTP Basic password.
    pub password: Option<String>,
    /// Accept only this core name (`/solr/<core>/…`); `None` accepts any.
    pub core: Option<String>,
    /// Serve without credentials (allowed on loopback only, with a warning).
    pub allow_no_auth: bool,
    /// Largest update body, in bytes.
    pub max_body_bytes: u64,
}

/// The default [`SolrConfig::max_body_bytes`]: 256 MiB (Dovecot sends batches
/// of `batch_size` messages, 1000 by default).
pub const DEFAULT_MAX_BODY_BYTES: u64 = 256 << 20;

impl Default for SolrConfig {
    fn default() -> Self {
        SolrConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8983)),
            user: None,
            password: None,
            core: None,
            allow_no_auth: false,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        }
    }
}

/// Everything that can go wrong in the endpoint.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SolrError {
    /// A listen address without credentials (and no `allow_no_auth` on loopback).
    #[error("refusing to listen on {0} without [solr] user and password (on a loopback address, allow_no_auth = true serves without them: any local process can then change every user's IMAP index)")]
    Unprotected(SocketAddr),
    /// An empty user name or password.
    #[error("[solr] user and password must not be empty")]
    EmptyCredentials,
    /// A request a browser could have sent (an `Origin` header, or a body
    /// that is not XML).
    #[error("refused: {0}")]
    Forbidden(&'static str),
    /// The update body passed [`SolrConfig::max_body_bytes`].
    #[error("the update body is larger than {0} bytes (max_body_bytes)")]
    TooLarge(u64),
    /// Only one of user and password is set.
    #[error("[solr] needs both user and password, or neither")]
    HalfCredentials,
    /// Missing or wrong credentials.
    #[error("authentication required")]
    Unauthorized,
    /// The core in the path is not the configured one.
    #[error("no such core: {0}")]
    NoSuchCore(String),
    /// Bad request parameters.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// Malformed update XML.
    #[error(transparent)]
    Xml(#[from] update::XmlError),
    /// A malformed query.
    #[error("bad query: {0}")]
    Query(#[from] ParseError),
    /// The search failed.
    #[error(transparent)]
    Search(#[from] ImapQueryError),
    /// The index failed.
    #[error(transparent)]
    Index(#[from] ImapIndexError),
    /// Reading the request body failed.
    #[error("reading the request body: {0}")]
    Body(String),
    /// Something else of ours failed.
    #[error("internal error: {0}")]
    Internal(String),
}

impl SolrError {
    /// What kind of error this is, as `/metrics` counts it.
    pub fn kind(&self) -> &'static str {
        match self {
            SolrError::Unprotected(_)
            | SolrError::EmptyCredentials
            | SolrError::HalfCredentials => "config",
            SolrError::Forbidden(_) => "forbidden",
            SolrError::TooLarge(_) => "too_large",
            SolrError::Unauthorized => "unauthorized",
            SolrError::NoSuchCore(_) => "not_found",
            SolrError::BadRequest(_) | SolrError::Body(_) => "bad_request",
            SolrError::Xml(_) => "bad_xml",
            SolrError::Query(_) => "bad_query",
            SolrError::Search(ImapQueryError::Limit(l)) if l.limit.is_deadline() => "deadline",
            SolrError::Search(e) if e.is_user_error() => "bad_query",
            SolrError::Index(ImapIndexError::BadDocument(_)) => "bad_request",
            SolrError::Search(_) | SolrError::Index(_) | SolrError::Internal(_) => "internal",
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            SolrError::Unauthorized => StatusCode::UNAUTHORIZED,
            SolrError::Forbidden(_) => StatusCode::FORBIDDEN,
            SolrError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            SolrError::NoSuchCore(_) => StatusCode::NOT_FOUND,
            SolrError::BadRequest(_)
            | SolrError::Xml(_)
            | SolrError::Query(_)
            | SolrError::Body(_) => StatusCode::BAD_REQUEST,
            // Past the deadline: load, not the client's mistake (Dovecot
            // then searches without the index).
            SolrError::Search(ImapQueryError::Limit(l)) if l.limit.is_deadline() => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            SolrError::Search(e) if e.is_user_error() => StatusCode::BAD_REQUEST,
            SolrError::Index(ImapIndexError::BadDocument(_)) => StatusCode::BAD_REQUEST,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for SolrError {
    fn into_response(self) -> Response {
        let status = self.status();
        let kind = ErrorKind(self.kind());
        let limited = matches!(self, SolrError::Search(ImapQueryError::Limit(_)));
        let msg = if status.is_server_error() && !limited {
            "internal error".to_string()
        } else {
            self.to_string()
        };
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<response>\n<lst name=\"error\"><str name=\"msg\">{}</str><int name=\"code\">{}</int></lst>\n</response>\n",
            select::escape_xml(&msg),
            status.as_u16()
        );
        let mut resp = (status, body).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("application/xml; charset=UTF-8"),
        );
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Basic realm=\"gleaner solr\""),
            );
        }
        resp.extensions_mut().insert(kind);
        resp
    }
}

/// Refuses a configuration that would expose the endpoint unprotected.
/// Credentials are required unless `allow_no_auth` is set on a loopback
/// address, and must not be empty.
pub fn check_listen(cfg: &SolrConfig) -> Result<(), SolrError> {
    match (&cfg.user, &cfg.password) {
        (Some(u), Some(p)) if u.is_empty() || p.is_empty() => Err(SolrError::EmptyCredentials),
        (Some(_), Some(_)) => Ok(()),
        (Some(_), None) | (None, Some(_)) => Err(SolrError::HalfCredentials),
        (None, None) if cfg.listen.ip().is_loopback() && cfg.allow_no_auth => {
            tracing::warn!(
                "the Solr endpoint on {} has no credentials: any local process can change every user's IMAP index",
                cfg.listen
            );
            Ok(())
        }
        (None, None) => Err(SolrError::Unprotected(cfg.listen)),
    }
}

/// Shared state of the endpoint's handlers.
#[derive(Clone)]
pub struct SolrState {
    /// The IMAP index.
    pub index: ImapIndex,
    inner: Arc<StateInner>,
    /// Where requests are counted (`/metrics` of the HTTP surface).
    requests: Arc<Requests>,
}

struct StateInner {
    credentials: Option<(String, String)>,
    core: Option<String>,
    max_body_bytes: u64,
}

impl SolrState {
    /// Opens (or creates) `<data_dir>/imap` and starts its 1-second committer.
    /// Checks the configuration with [`check_listen`] first.
    pub fn open(data_dir: &Path, cfg: &SolrConfig) -> Result<SolrState, SolrError> {
        check_listen(cfg)?;
        let index = ImapIndex::open(&data_dir.join("imap"))?;
        Ok(Self::new(index, cfg))
    }

    /// State over an already open index (tests use [`ImapIndex::in_ram`]).
    /// Starts the 1-second committer.
    pub fn new(index: ImapIndex, cfg: &SolrConfig) -> SolrState {
        index.spawn_committer(Duration::from_secs(1));
        let credentials = match (&cfg.user, &cfg.password) {
            (Some(u), Some(p)) => Some((u.clone(), p.clone())),
            _ => None,
        };
        SolrState {
            index,
            inner: Arc::new(StateInner {
                credentials,
                core: cfg.core.clone(),
                max_body_bytes: cfg.max_body_bytes,
            }),
            requests: Arc::default(),
        }
    }

    /// Counts requests into `requests` (shared with the HTTP surface's `/metrics`).
    pub fn with_metrics(mut self, requests: Arc<Requests>) -> SolrState {
        self.requests = requests;
        self
    }

    /// Checks the core name and the credentials of a request, and refuses
    /// what a web page could send: Dovecot sends no `Origin`.
    fn check(&self, core: &str, headers: &HeaderMap) -> Result<(), SolrError> {
        if headers.contains_key(header::ORIGIN) {
            return Err(SolrError::Forbidden("requests from web pages (Origin)"));
        }
        if let Some((user, pass)) = &self.inner.credentials {
            auth::check_basic(headers, user, pass)?;
        }
        match &self.inner.core {
            Some(c) if c != core => Err(SolrError::NoSuchCore(core.to_string())),
            _ => Ok(()),
        }
    }
}

/// The endpoint's routes: `/solr/{core}/update` and `/solr/{core}/select`.
pub fn router(state: SolrState) -> Router {
    let requests = (state.requests.clone(), Surface::Solr);
    Router::new()
        .route(
            "/solr/{core}/update",
            post(update::handle).layer(DefaultBodyLimit::disable()),
        )
        .route("/solr/{core}/select", get(select::handle))
        .layer(axum::middleware::from_fn_with_state(requests, track))
        .with_state(state)
}

/// Binds `cfg.listen` and serves [`router`] until `shutdown` resolves.
pub async fn serve(
    state: SolrState,
    cfg: &SolrConfig,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // Dovecot waits for each answer before it goes on: no Nagle delay on the
    // last segment of a large one.
    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await?
        .tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}

/// The body of a successful update answer.
pub(crate) const EMPTY_RESPONSE: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<response>\n<lst name=\"responseHeader\"><int name=\"status\">0</int><int name=\"QTime\">0</int></lst>\n</response>\n";

pub(crate) fn xml_response(body: String) -> Response {
    let mut resp = (StatusCode::OK, body).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/xml; charset=UTF-8"),
    );
    resp
}

/// Refuses an update body that is not declared XML (`text/xml`, what Dovecot
/// sends, or `application/xml`): a web form can post `text/plain`.
pub(crate) fn check_xml_body(headers: &HeaderMap) -> Result<(), SolrError> {
    let ty = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase());
    match ty.as_deref() {
        Some("text/xml" | "application/xml") => Ok(()),
        _ => Err(SolrError::Forbidden(
            "an update body must be XML (Content-Type: text/xml)",
        )),
    }
}

impl SolrState {
    /// The largest update body accepted.
    pub(crate) fn max_body_bytes(&self) -> u64 {
        self.inner.max_body_bytes
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::metrics::Exposition;

    /// Requests to the Solr endpoint land in the shared request metrics
    /// under `surface="solr"`, by route template and error kind.
    #[tokio::test]
    async fn solr_requests_are_counted_as_their_own_surface() {
        let requests = Arc::new(Requests::default());
        let cfg = SolrConfig {
            user: Some("dovecot".into()),
            password: Some("secret".into()),
            ..SolrConfig::default()
        };
        let state =
            SolrState::new(ImapIndex::in_ram().unwrap(), &cfg).with_metrics(requests.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router(state)).await });
        let answer = tokio::task::spawn_blocking(move || {
            use std::io::{Read, Write};
            let mut s = std::net::TcpStream::connect(addr).unwrap();
            s.write_all(b"GET /solr/dovecot/select?q=secretword HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .unwrap();
            let mut out = String::new();
            s.read_to_string(&mut out).unwrap();
            out
        })
        .await
        .unwrap();
        assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
        let mut out = Exposition::new();
        requests.write(&mut out);
        let text = out.finish();
        for line in [
            "gleaner_http_request_duration_seconds_count{surface=\"solr\",route=\"/solr/{core}/select\",status=\"4xx\"} 1",
            "gleaner_http_errors_total{surface=\"solr\",kind=\"unauthorized\"} 1",
            "gleaner_http_requests_in_flight{surface=\"solr\"} 0",
        ] {
            assert!(text.contains(line), "{line} in\n{text}");
        }
        assert!(!text.contains("secretword") && !text.contains("dovecot"));
    }
}
