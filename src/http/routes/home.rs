//! `GET /api/home`: the viewer's lists with counts and date ranges, the
//! newest conversations and example queries that find something;
//! `GET /api/complete?field=from&prefix=`: people by messages written, for
//! the search box. Both only within the viewer's lists.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::Json;
use serde_json::{json, Value};

use super::search::conversation_json;
use crate::http::{blocking, rfc3339, AppError, Shared, Viewer};
use crate::query::overview;

/// Conversations the home page leads with.
const RECENT: usize = 10;
/// Completions offered at most.
const MAX_COMPLETIONS: usize = 8;

/// `GET /api/home`
pub async fn home(State(state): State<Shared>, viewer: Viewer) -> Result<Json<Value>, AppError> {
    let allowed = viewer.allowed_lists;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let o = blocking(move || {
        Ok(overview::overview(
            &state.index,
            allowed.as_deref(),
            RECENT,
            now,
        )?)
    })
    .await?;
    let lists: Vec<Value> = o
        .lists
        .iter()
        .map(|l| {
            json!({
                "list": l.list,
                "count": l.count,
                "first_date": rfc3339(l.first_date),
                "last_date": rfc3339(l.last_date),
            })
        })
        .collect();
    let recent: Vec<_> = o.recent.into_iter().map(conversation_json).collect();
    Ok(Json(json!({
        "lists": lists,
        "recent": recent,
        "examples": o.examples,
    })))
}

/// `GET /api/complete?field=from&prefix=`
pub async fn complete(
    State(state): State<Shared>,
    viewer: Viewer,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<Value>, AppError> {
    let field = params.get("field").map(String::as_str).unwrap_or("from");
    if field != "from" {
        return Err(AppError::BadRequest(format!(
            "field must be from (list: and lang: come from /api/stats), not {field:?}"
        )));
    }
    let prefix = params.get("prefix").cloned().unwrap_or_default();
    let allowed = viewer.allowed_lists;
    let people = blocking(move || {
        Ok(overview::authors(
            &state.index,
            &prefix,
            allowed.as_deref(),
            MAX_COMPLETIONS,
        )?)
    })
    .await?;
    Ok(Json(json!({ "field": "from", "values": people })))
}
