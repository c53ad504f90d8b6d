//! `GET /api/threads/{thread_id}`: the visible messages of a thread as a tree.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use crate::http::{blocking, rfc3339, AppError, Shared, Viewer};
use crate::query::search::preview;
use crate::query::thread::{self, ThreadNode};

/// Characters of body text in each thread member's snippet.
const SNIPPET_CHARS: usize = 200;

#[derive(Serialize)]
struct NodeJson {
    message_id: String,
    key: String,
    date: String,
    from: String,
    subject: String,
    list: String,
    snippet: String,
    children: Vec<NodeJson>,
}

#[derive(Serialize)]
struct ThreadJson {
    thread_id: String,
    subject: String,
    messages: Vec<NodeJson>,
}

fn node_json(n: ThreadNode) -> NodeJson {
    let m = n.message;
    NodeJson {
        snippet: preview(&m.text, SNIPPET_CHARS),
        date: rfc3339(m.date),
        from: m.from.first().cloned().unwrap_or_default(),
        message_id: m.message_id,
        key: m.key,
        subject: m.subject,
        list: m.list,
        children: n.children.into_iter().map(node_json).collect(),
    }
}

/// `GET /api/threads/{thread_id}`
pub async fn thread(
    State(state): State<Shared>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let allowed = viewer.allowed_lists;
    let found = blocking(move || Ok(thread::thread(&state.index, &id, allowed.as_deref())?))
        .await?
        .ok_or(AppError::NotFound("no such thread"))?;
    let body = ThreadJson {
        thread_id: found.thread_id,
        subject: found.subject,
        messages: found.roots.into_iter().map(node_json).collect(),
    };
    Ok(Json(body).into_response())
}
