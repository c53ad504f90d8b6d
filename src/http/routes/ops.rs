//! Operating endpoints: `GET /metrics` (Prometheus text format), `GET
//! /healthz` (the process answers) and `GET /readyz` (the index is open and
//! the live indexer has caught up with the mail stores).
//!
//! `/metrics` is for admins and loopback clients unless `[http] metrics =
//! "public"`; it names no list, message, user or query (see
//! [`crate::metrics`]). The health endpoints say nothing about the data and
//! need no login.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::access::Role;
use crate::http::{blocking, AppError, ClientAddr, Shared, Viewer};
use crate::index::watermark;
use crate::metrics::{text, ErrorKind, Exposition, MetricsAccess, Phase};

/// `GET /metrics`
pub async fn metrics(
    State(state): State<Shared>,
    client: ClientAddr,
    viewer: Result<Viewer, AppError>,
) -> Result<Response, AppError> {
    may_read_metrics(&state, &client, viewer)?;
    let st = state.clone();
    let body = blocking(move || Ok(exposition(&st))).await?;
    Ok(([(header::CONTENT_TYPE, text::CONTENT_TYPE)], body).into_response())
}

/// Public, or an admin, or a client on a loopback address (after a trusted
/// proxy's `X-Forwarded-For`).
fn may_read_metrics(
    state: &Shared,
    client: &ClientAddr,
    viewer: Result<Viewer, AppError>,
) -> Result<(), AppError> {
    if state.metrics_access == MetricsAccess::Public || client.ip.is_loopback() {
        return Ok(());
    }
    match viewer? {
        v if v.role >= Role::Admin => Ok(()),
        _ => Err(AppError::Forbidden("metrics are for admins")),
    }
}

/// Everything `/metrics` answers: the kept counters, then what is read now.
fn exposition(state: &Shared) -> String {
    let mut out = Exposition::new();
    state.metrics.write(&mut out);
    let (hits, misses) = state.search_cache.lookups();
    out.counter(
        "gleaner_search_cache_lookups_total",
        "Lookups in the /api/search answer cache, by result.",
        &[
            (&[("result", "hit")], hits as f64),
            (&[("result", "miss")], misses as f64),
        ],
    );
    out.gauge(
        "gleaner_search_cache_entries",
        "Answers held in the /api/search answer cache.",
        &[(&[], state.search_cache.len() as f64)],
    );
    let searcher = state.index.reader.searcher();
    out.gauge(
        "gleaner_index_documents",
        "Messages searchable in the index as of the last commit.",
        &[(&[], searcher.num_docs() as f64)],
    );
    out.gauge(
        "gleaner_index_segments",
        "Segments of the index (merges lower it).",
        &[(&[], searcher.segment_readers().len() as f64)],
    );
    let w = watermark::snapshot(&state.watermark);
    out.gauge(
        "gleaner_indexer_pending_messages",
        "Messages the live indexer has read but not yet committed.",
        &[(&[], w.pending as f64)],
    );
    out.gauge(
        "gleaner_indexer_failing_sources",
        "Mail stores whose last read by the live indexer failed (see /api/stats or the log).",
        &[(
            &[],
            w.sources.iter().filter(|s| s.last_error.is_some()).count() as f64,
        )],
    );
    if let Some(t) = w.indexed_through {
        out.gauge(
            "gleaner_indexer_indexed_through_timestamp_seconds",
            "The newest delivery indexed (unix time): everything delivered before it is searchable.",
            &[(&[], t as f64)],
        );
    }
    out.finish()
}

/// `GET /healthz`: 200 while the process serves.
pub async fn healthz() -> Json<serde_json::Value> {
    Json(json!({"status": "alive"}))
}

/// `GET /readyz`: 200 once the live indexer has committed its start-up pass
/// (at once without sources), else 503 with the reason.
pub async fn readyz(State(state): State<Shared>) -> Response {
    let reason = match state.metrics.indexer.phase() {
        Phase::Absent | Phase::Following => {
            return Json(json!({"status": "ready"})).into_response();
        }
        Phase::CatchingUp => "the live indexer is catching up with the mail stores",
        Phase::Stopped => "the live indexer has stopped; see the log",
    };
    let mut res = (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({"status": "not ready", "reason": reason})),
    )
        .into_response();
    res.extensions_mut().insert(ErrorKind("not_ready"));
    res
}
