//! The web UI: the files of `web/`, embedded into the binary at build time, so
//! one binary serves everything and no build step is needed.
//!
//! `/`, `/search`, `/m/*`, `/t/*`, `/review`, `/review/*`, `/docs` and
//! `/docs/*` are the single-page app (`index.html`), `/login` the login page;
//! other paths are the files themselves.

use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::{AppError, Shared};

/// One embedded file.
pub struct Asset {
    /// URL path (`/app.js`).
    pub path: &'static str,
    /// Content-Type.
    pub mime: &'static str,
    /// The bytes.
    pub body: &'static [u8],
}

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

macro_rules! asset {
    ($file:literal, $mime:expr) => {
        Asset {
            path: concat!("/", $file),
            mime: $mime,
            body: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/web/", $file)),
        }
    };
}

/// Every file of `web/` (a test checks that none is missing).
pub const ASSETS: &[Asset] = &[
    asset!("index.html", HTML),
    asset!("login.html", HTML),
    asset!("app.js", JS),
    asset!("login.js", JS),
    asset!("style.css", CSS),
    asset!("js/api.js", JS),
    asset!("js/complete.js", JS),
    asset!("js/doc-editor.js", JS),
    asset!("js/doc-templates.js", JS),
    asset!("js/docs.js", JS),
    asset!("js/dom.js", JS),
    asset!("js/help.js", JS),
    asset!("js/home.js", JS),
    asset!("js/keys.js", JS),
    asset!("js/message.js", JS),
    asset!("js/query.js", JS),
    asset!("js/review.js", JS),
    asset!("js/router.js", JS),
    asset!("js/saved.js", JS),
    asset!("js/search.js", JS),
    asset!("js/stats.js", JS),
    asset!("js/thread.js", JS),
];

fn respond(path: &str) -> Response {
    let Some(a) = ASSETS.iter().find(|a| a.path == path) else {
        return (
            StatusCode::NOT_FOUND,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            )],
            "not found\n",
        )
            .into_response();
    };
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(a.mime)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        a.body,
    )
        .into_response()
}

async fn app() -> Response {
    respond("/index.html")
}

async fn login_page() -> Response {
    respond("/login.html")
}

async fn file(Path(path): Path<String>) -> Response {
    if path == "api" || path.starts_with("api/") {
        return AppError::NotFound("no such API endpoint").into_response();
    }
    respond(&format!("/{path}"))
}

/// The routes of the UI.
pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/", get(app))
        .route("/search", get(app))
        .route("/m/{*id}", get(app))
        .route("/t/{*id}", get(app))
        .route("/review", get(app))
        .route("/review/{*name}", get(app))
        .route("/docs", get(app))
        .route("/docs/{*id}", get(app))
        .route("/login", get(login_page))
        .route("/{*path}", get(file))
}
