//! `GET /api/stats`: counts, lists, languages and date range of what the
//! viewer may see, plus the index size and the "indexed through" watermark.

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

use crate::http::{blocking, rfc3339, AppError, Shared, Viewer};
use crate::index::watermark;
use crate::query::stats::stats_for;

fn counts(v: &[(String, u64)]) -> Value {
    Value::Array(
        v.iter()
            .map(|(value, count)| json!({"value": value, "count": count}))
            .collect(),
    )
}

fn date_or_null(secs: Option<i64>) -> Value {
    match secs.map(rfc3339).filter(|s| !s.is_empty()) {
        Some(s) => Value::String(s),
        None => Value::Null,
    }
}

/// `GET /api/stats`
pub async fn stats(State(state): State<Shared>, viewer: Viewer) -> Result<Json<Value>, AppError> {
    let viewer_is_admin = viewer.role == crate::access::Role::Admin;
    let allowed = viewer.allowed_lists;
    let st = state.clone();
    let s = blocking(move || Ok(stats_for(&st.index, allowed.as_deref())?)).await?;
    let w = watermark::snapshot(&state.watermark);
    let catching_up = state.metrics.indexer.phase() == crate::metrics::indexer::Phase::CatchingUp;
    // Source paths name the server's files: admins only.
    let is_admin = viewer_is_admin;
    let sources: Vec<Value> = w
        .sources
        .iter()
        .filter(|_| is_admin)
        .map(|s| {
            json!({
                "path": s.path,
                "indexed_through": date_or_null(s.indexed_through),
                "last_error": s.last_error,
            })
        })
        .collect();
    Ok(Json(json!({
        "messages": s.messages,
        "lists": counts(&s.lists),
        "first_date": date_or_null(s.first_date),
        "last_date": date_or_null(s.last_date),
        "languages": counts(&s.languages),
        "undated": s.undated,
        "authors": {
            "recovered": s.authors_recovered,
            "not_recovered": s.authors_not_recovered,
        },
        "index_bytes": s.index_bytes,
        "watermark": {
            "indexed_through": date_or_null(w.indexed_through),
            "messages": w.messages,
            "pending": w.pending,
            "catching_up": catching_up,
            "sources": sources,
        },
    })))
}
