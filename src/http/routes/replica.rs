//! Replication over HTTP (`[replica]`, docs/OPERATIONS.md): what a standby
//! pulls from its primary, the standby's status, and the refusal of writes
//! on a standby. Replication routes answer only a replication token
//! (`Authorization: Bearer glt_…`); the work is [`crate::replica`]'s.

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::http::{blocking, AppError, Shared};
use crate::replica::{ReplicaError, Source};

fn replica_error(e: ReplicaError) -> AppError {
    AppError::internal("replication", e)
}

/// The source, if the bearer token may pull from it.
async fn authorized(
    state: &Shared,
    headers: &HeaderMap,
) -> Result<std::sync::Arc<Source>, AppError> {
    let Some(source) = state.replica.clone() else {
        return Err(AppError::NotFound(
            "replication is off on this server ([replica])",
        ));
    };
    if state.standby.as_ref().is_some_and(|s| s.is_standby()) {
        return Err(AppError::Standby(
            "this server is itself a standby: pull from its primary".into(),
        ));
    }
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .ok_or(AppError::Unauthorized)?
        .to_string();
    let s = source.clone();
    let name = blocking(move || s.authorize(&bearer).map_err(replica_error)).await?;
    match name {
        Some(_) => Ok(source),
        None => Err(AppError::Forbidden("not a replication token allowed here")),
    }
}

/// `GET /api/replica/db`: the database snapshot (`ETag`: its SHA-256; 304
/// when `If-None-Match` names the current one).
pub async fn db(State(state): State<Shared>, headers: HeaderMap) -> Result<Response, AppError> {
    let source = authorized(&state, &headers).await?;
    let snap = blocking(move || source.db_snapshot().map_err(replica_error)).await?;
    let quoted = format!("\"{}\"", snap.etag);
    let known = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok());
    if known == Some(quoted.as_str()) {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, quoted)]).into_response());
    }
    // The kept snapshot itself, not a copy of it per answer.
    let bytes = Body::from(axum::body::Bytes::from_owner(Snapshot(snap.bytes)));
    Ok((
        [
            (header::ETAG, quoted),
            (header::CONTENT_TYPE, "application/vnd.sqlite3".to_string()),
            (
                header::HeaderName::from_static("x-gleaner-snapshot-ms"),
                snap.took_ms.to_string(),
            ),
        ],
        bytes,
    )
        .into_response())
}

/// A shared snapshot as a response body.
struct Snapshot(std::sync::Arc<Vec<u8>>);

impl AsRef<[u8]> for Snapshot {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

/// `GET /api/replica/index`: the current commit's `meta.json` and files.
pub async fn index(State(state): State<Shared>, headers: HeaderMap) -> Result<Response, AppError> {
    let source = authorized(&state, &headers).await?;
    let m = blocking(move || source.index_manifest().map_err(replica_error)).await?;
    Ok(Json(m).into_response())
}

/// `GET /api/replica/archive`: the sealed volumes.
pub async fn archive(
    State(state): State<Shared>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let source = authorized(&state, &headers).await?;
    let m = blocking(move || source.archive_manifest().map_err(replica_error)).await?;
    Ok(Json(m).into_response())
}

/// `GET /api/replica/index/{name}`: one segment file.
pub async fn index_file(
    State(state): State<Shared>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let source = authorized(&state, &headers).await?;
    file(source.index_file(&name)).await
}

/// `GET /api/replica/archive/{name}`: one volume file.
pub async fn archive_file(
    State(state): State<Shared>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let source = authorized(&state, &headers).await?;
    file(source.archive_file(&name)).await
}

/// Streams a file with its length (gone: 404, the standby asks again next round).
async fn file(path: Option<std::path::PathBuf>) -> Result<Response, AppError> {
    let path = path.ok_or(AppError::NotFound("no such file"))?;
    let f = match tokio::fs::File::open(&path).await {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(AppError::NotFound("no such file (merged away?)"))
        }
        Err(e) => return Err(AppError::internal("replica file", e)),
    };
    let len = f
        .metadata()
        .await
        .map_err(|e| AppError::internal("replica file", e))?
        .len();
    let stream = file_chunks(f);
    Ok((
        [
            (header::CONTENT_LENGTH, len.to_string()),
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

/// A file as a stream of 64 KiB chunks.
fn file_chunks(f: tokio::fs::File) -> impl futures_util::Stream<Item = std::io::Result<Vec<u8>>> {
    use tokio::io::AsyncReadExt;
    futures_util::stream::unfold(Some(f), |f| async move {
        let mut f = f?;
        let mut buf = vec![0u8; 64 * 1024];
        match f.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(buf), Some(f)))
            }
            Err(e) => Some((Err(e), None)),
        }
    })
}

/// `GET /api/replica/status`: this server's role and, on a standby, how far
/// behind its primary it is (no login needed, like `/readyz`).
pub async fn status(State(state): State<Shared>) -> Json<serde_json::Value> {
    Json(match &state.standby {
        Some(s) => s.json(),
        None => serde_json::json!({
            "role": "primary",
            "replica": state.replica.is_some(),
            "promoted_at": state.replica.as_ref().and_then(|r| r.promoted_at()),
        }),
    })
}

/// Refuses every write on a standby (anything but GET/HEAD, except logging
/// in and out) with a 503 saying where writes go.
pub async fn refuse_writes_on_standby(
    State(state): State<Shared>,
    req: Request,
    next: Next,
) -> Response {
    let read = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let session = matches!(req.uri().path(), "/api/login" | "/api/logout");
    match &state.standby {
        Some(s) if !read && !session && s.is_standby() => AppError::Standby(format!(
            "this server is a read-only standby of {}: make changes on the primary (or promote this standby with `gleaner promote`)",
            s.primary()
        ))
        .into_response(),
        _ => next.run(req).await,
    }
}
