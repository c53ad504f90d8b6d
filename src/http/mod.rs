//! The HTTP surface: the JSON API under `/api` and the embedded web UI.
//!
//! Handlers live in `routes/<area>.rs` (`routes/ops.rs`: `/metrics`,
//! `/healthz`, `/readyz`); `error.rs` is the only place that maps
//! errors to status codes; `viewer.rs` turns a request's session cookie into
//! who is asking and which lists they may see; `assets.rs` serves `web/`.
//! Every tantivy and SQLite call runs under `spawn_blocking`. This module
//! never builds tantivy queries: it goes through [`crate::query`].

mod assets;
pub mod cache;
mod error;
mod routes;
mod viewer;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post, put};
use axum::Router;

use crate::access::{Throttle, Users};
use crate::index::watermark::SharedWatermark;
use crate::index::MailIndex;

pub use error::AppError;
pub use viewer::{ClientAddr, Viewer, SESSION_COOKIE};

/// Everything the handlers share.
pub struct AppState {
    /// The search index.
    pub index: MailIndex,
    /// The user database; `None` when auth is off.
    pub users: Option<Users>,
    /// How current the index is (updated by the live indexer).
    pub watermark: SharedWatermark,
    /// Whether requests need a session.
    pub auth_enabled: bool,
    /// Review queues and curated documents (`None`: those endpoints answer 404).
    pub curation: Option<crate::curate::Curation>,
    /// Archive and hold state (`is:archived`, `is:held`, where a message is archived).
    pub retention: Option<crate::retention::Retention>,
    /// Whole `/api/search` answers (see [`cache`]).
    pub search_cache: cache::SearchCache<routes::search::Answer>,
    /// The CSRF token of every request when auth is off.
    open_csrf: String,
    /// Failed logins and their back-off (see [`crate::access::throttle`]).
    pub throttle: Throttle,
    /// Password hashes allowed at once (each argon2 hash takes ~19 MiB).
    pub login_slots: Arc<tokio::sync::Semaphore>,
    /// Session cookies carry `Secure` (`[http] secure_cookies`).
    pub secure_cookies: bool,
    /// Trust `X-Forwarded-For` / `X-Forwarded-Proto` from a reverse proxy.
    pub trust_proxy_headers: bool,
    /// The listen address, whose port a `Host` header must name when auth is
    /// off ([`serve`] sets the port actually bound).
    pub listen: Option<SocketAddr>,
    /// Request, indexer and disk figures for `/metrics`.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Who may read `/metrics` (`[http] metrics`).
    pub metrics_access: crate::metrics::MetricsAccess,
    /// What standbys may pull (`[replica]`; `None`: the replication routes answer 404).
    pub replica: Option<Arc<crate::replica::Source>>,
    /// This server is a standby: writes are refused until it is promoted.
    pub standby: Option<Arc<crate::replica::StandbyStatus>>,
}

/// Why the server could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SetupError {
    /// Auth is on but there is no user database.
    #[error("authentication is on but no user database was given")]
    NoUsers,
    /// The OS random number generator failed.
    #[error("cannot get random bytes from the OS: {0}")]
    Random(String),
}

impl AppState {
    /// Shared state for the router. With `auth_enabled`, `users` is required.
    pub fn new(
        index: MailIndex,
        users: Option<Users>,
        watermark: SharedWatermark,
        auth_enabled: bool,
    ) -> Result<AppState, SetupError> {
        if auth_enabled && users.is_none() {
            return Err(SetupError::NoUsers);
        }
        let mut buf = [0u8; 16];
        getrandom::fill(&mut buf).map_err(|e| SetupError::Random(e.to_string()))?;
        Ok(AppState {
            index,
            users,
            watermark,
            auth_enabled,
            curation: None,
            retention: None,
            search_cache: cache::SearchCache::new(cache::DEFAULT_ENTRIES),
            open_csrf: hex::encode(buf),
            throttle: Throttle::default(),
            login_slots: Arc::new(tokio::sync::Semaphore::new(default_login_slots())),
            secure_cookies: false,
            trust_proxy_headers: false,
            listen: None,
            metrics: Arc::default(),
            metrics_access: crate::metrics::MetricsAccess::default(),
            replica: None,
            standby: None,
        })
    }

    /// Applies `[http]`: secure cookies, proxy headers, login slots, and the
    /// listen address (checked against `Host` when auth is off).
    pub fn with_http(mut self, http: &crate::config::HttpConfig) -> AppState {
        self.secure_cookies = http.secure_cookies;
        self.trust_proxy_headers = http.trust_proxy_headers;
        self.listen = Some(http.listen);
        self.metrics_access = http.metrics;
        let slots = match http.login_concurrency {
            0 => default_login_slots(),
            n => n,
        };
        self.login_slots = Arc::new(tokio::sync::Semaphore::new(slots));
        self
    }

    /// Counts into `metrics` (shared with the live indexer and the Solr endpoint).
    pub fn with_metrics(mut self, metrics: Arc<crate::metrics::Metrics>) -> AppState {
        self.metrics = metrics;
        self
    }

    /// Keeps at most `entries` whole search answers (0: none).
    pub fn with_search_cache(mut self, entries: usize) -> AppState {
        self.search_cache = cache::SearchCache::new(entries);
        self
    }

    /// Adds the curation database (review queues, documents, `is:cited`).
    pub fn with_curation(mut self, curation: crate::curate::Curation) -> AppState {
        self.curation = Some(curation);
        self
    }

    /// The curation database, or 404 when this server has none.
    pub(crate) fn curation(&self) -> Result<crate::curate::Curation, AppError> {
        self.curation
            .clone()
            .ok_or(AppError::NotFound("this server has no curation database"))
    }

    /// Adds the archive and hold tables.
    pub fn with_retention(mut self, retention: crate::retention::Retention) -> AppState {
        self.retention = Some(retention);
        self
    }

    /// Lets standbys pull from this server (`[replica]`).
    pub fn with_replica(mut self, source: Arc<crate::replica::Source>) -> AppState {
        self.replica = Some(source);
        self
    }

    /// Makes this server a standby (writes refused until promoted).
    pub fn with_standby(mut self, status: Arc<crate::replica::StandbyStatus>) -> AppState {
        self.standby = Some(status);
        self
    }

    /// Marks for `is:cited`, `cited:`, `is:archived`, `is:held` in `viewer`'s
    /// searches (see [`crate::marks`]).
    pub(crate) fn marks_for(&self, viewer: &Viewer) -> Option<Arc<dyn crate::query::Marks>> {
        crate::marks::for_role(self.curation.as_ref(), self.retention.as_ref(), viewer.role)
    }
}

/// One password hash at a time per core.
fn default_login_slots() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// Shared state as handlers receive it.
pub type Shared = Arc<AppState>;

/// The Content-Security-Policy sent with every response.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// The whole application: API, UI, health and metrics, security headers.
pub fn router(state: AppState) -> Router {
    router_with(state, Router::new())
}

/// The application with `extra` routes beside it (another surface, such as
/// the MCP endpoint, mounted by `app.rs`: this module does not know it),
/// under the same security headers, JSON errors, `Host` check and request
/// metrics.
pub fn router_with(state: AppState, extra: Router) -> Router {
    use crate::metrics::{requests::track, Surface};
    let state = Arc::new(state);
    let requests = (state.metrics.requests.clone(), Surface::Http);
    let api = Router::new()
        .route("/me", get(routes::auth::me))
        .route("/login", post(routes::auth::login))
        .route("/logout", post(routes::auth::logout))
        .route("/search", get(routes::search::search))
        .route("/export.mbox", get(routes::export::export))
        .route("/messages/{id}", get(routes::messages::message))
        .route("/messages/{id}/raw", get(routes::messages::raw))
        .route("/threads/{id}", get(routes::threads::thread))
        .route("/stats", get(routes::stats::stats))
        .route("/home", get(routes::home::home))
        .route("/complete", get(routes::home::complete))
        .route("/review/policies", get(routes::review::policies))
        .route(
            "/review/policies/{name}",
            put(routes::review::put_policy).delete(routes::review::delete_policy),
        )
        .route("/review/queues/{name}", get(routes::review::queue))
        .route(
            "/review/queues/{name}/decisions",
            post(routes::review::decide),
        )
        .route("/review/queues/{name}/undo", post(routes::review::undo))
        .route("/review/rounds", get(routes::rounds::rounds))
        .route("/review/calendar.ics", get(routes::rounds::calendar))
        .route(
            "/review/calendar-token",
            post(routes::rounds::calendar_token),
        )
        .route("/audit", get(routes::review::audit))
        .route("/docs", get(routes::docs::list).post(routes::docs::create))
        .route("/docs/published.tar", get(routes::docs::export_published))
        .route("/docs/{id}", get(routes::docs::get).put(routes::docs::save))
        .route("/docs/{id}/revisions", get(routes::docs::revisions))
        .route("/docs/{id}/revisions/{n}", get(routes::docs::revision))
        .route("/docs/{id}/diff", get(routes::docs::diff))
        .route("/docs/{id}/citations", post(routes::docs::cite))
        .route("/docs/{id}/preview", post(routes::docs::preview))
        .route("/docs/{id}/{format}", get(routes::docs::export))
        .route("/replica/status", get(routes::replica::status))
        .route("/replica/db", get(routes::replica::db))
        .route("/replica/index", get(routes::replica::index))
        .route("/replica/index/{name}", get(routes::replica::index_file))
        .route("/replica/archive", get(routes::replica::archive))
        .route(
            "/replica/archive/{name}",
            get(routes::replica::archive_file),
        )
        .route(
            "/saved-searches",
            get(routes::saved::list).post(routes::saved::save),
        )
        .route(
            "/saved-searches/{id}",
            axum::routing::delete(routes::saved::delete),
        )
        .fallback(|| async { AppError::NotFound("no such API endpoint") });
    Router::new()
        .nest("/api", api)
        .route("/metrics", get(routes::ops::metrics))
        .route("/healthz", get(routes::ops::healthz))
        .route("/readyz", get(routes::ops::readyz))
        .merge(assets::routes())
        .with_state(state.clone())
        .merge(extra)
        .layer(middleware::from_fn(json_errors))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            routes::replica::refuse_writes_on_standby,
        ))
        .layer(middleware::from_fn_with_state(state, check_host))
        .layer(middleware::from_fn(security_headers))
        .layer(middleware::from_fn_with_state(requests, track))
}

/// With auth off, answers only requests whose `Host` is a loopback name or
/// address (and the listen port, when known): a web page whose name was made
/// to resolve to 127.0.0.1 (DNS rebinding) sends its own name, and is refused.
async fn check_host(
    axum::extract::State(state): axum::extract::State<Shared>,
    req: Request,
    next: Next,
) -> Response {
    if state.auth_enabled {
        return next.run(req).await;
    }
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()))
        .unwrap_or("");
    if !viewer::loopback_host(host, state.listen.map(|a| a.port())) {
        return axum::response::IntoResponse::into_response(AppError::WrongHost);
    }
    next.run(req).await
}

/// Longest error text kept when a plain-text error becomes JSON.
const MAX_ERROR_TEXT: usize = 200;

/// Makes every error answer JSON (`{error}`), including axum's own plain-text
/// rejections (a malformed query string or path, a wrong method).
async fn json_errors(req: Request, next: Next) -> Response {
    let res = next.run(req).await;
    let status = res.status();
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return res;
    }
    let (parts, body) = res.into_parts();
    let text = match axum::body::to_bytes(body, 64 * 1024).await {
        Ok(b) if status.is_client_error() && !b.is_empty() => String::from_utf8_lossy(&b)
            .trim()
            .chars()
            .take(MAX_ERROR_TEXT)
            .collect(),
        _ => status
            .canonical_reason()
            .unwrap_or("error")
            .to_ascii_lowercase(),
    };
    let mut res = axum::response::IntoResponse::into_response((
        status,
        axum::Json(serde_json::json!({ "error": text })),
    ));
    for (name, value) in parts.headers.iter() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            res.headers_mut().append(name.clone(), value.clone());
        }
    }
    if status == StatusCode::INTERNAL_SERVER_ERROR {
        tracing::error!("a plain-text 500 was answered");
    }
    res
}

/// Adds the security headers to every response, and `no-store` to the API's.
async fn security_headers(req: Request, next: Next) -> Response {
    let is_api = req.uri().path().starts_with("/api/");
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if is_api {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    res
}

/// Serves `state` on `listener` until `shutdown` completes, then finishes the
/// requests in flight.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, state, Router::new(), shutdown).await
}

/// [`serve`] with `extra` routes (see [`router_with`]).
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    state: AppState,
    extra: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let mut state = state;
    // The port actually bound (the configured one may be 0), for the Host check.
    if let Ok(addr) = listener.local_addr() {
        state.listen = Some(addr);
    }
    axum::serve(
        listener,
        router_with(state, extra).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

/// Parses a JSON request body; anything but `application/json` is a 415.
pub(crate) fn json_body<T: serde::de::DeserializeOwned>(
    headers: &axum::http::HeaderMap,
    body: &[u8],
    expected: &str,
) -> Result<T, AppError> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return Err(AppError::UnsupportedMediaType);
    }
    serde_json::from_slice(body).map_err(|e| AppError::BadRequest(format!("send {expected}: {e}")))
}

/// Runs blocking index or database work off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, AppError> + Send + 'static,
) -> Result<T, AppError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| AppError::internal("blocking task", e))?
}

pub use crate::query::search::rfc3339;
