//! `GET /api/threads/{thread_id}`: the visible messages of a thread as a tree;
//! with `?q=` each says whether the query matches it.

use std::collections::{HashMap, HashSet};

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use crate::http::{blocking, rfc3339, AppError, Shared, Viewer};
use crate::index::analysis::lowercase_key;
use crate::query::context;
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
    /// With `?q=`: whether the query matches this message.
    #[serde(skip_serializing_if = "Option::is_none")]
    matched: Option<bool>,
    children: Vec<NodeJson>,
}

#[derive(Serialize)]
struct ThreadJson {
    thread_id: String,
    subject: String,
    messages: Vec<NodeJson>,
    /// Review decisions on the conversation with their notes (reviewers and
    /// up; absent for readers).
    #[serde(skip_serializing_if = "Option::is_none")]
    reviews: Option<serde_json::Value>,
}

/// Every id the conversation is known by: its own and its messages'.
fn ids_of(nodes: &[NodeJson], out: &mut Vec<String>) {
    for n in nodes {
        if !n.message_id.is_empty() {
            out.push(n.message_id.clone());
        }
        ids_of(&n.children, out);
    }
}

fn node_json(n: ThreadNode, matched: Option<&HashSet<String>>) -> NodeJson {
    let m = n.message;
    NodeJson {
        matched: matched.map(|keys| keys.contains(&lowercase_key(&m.key))),
        snippet: preview(&m.text, SNIPPET_CHARS),
        date: rfc3339(m.date),
        from: m.from.first().cloned().unwrap_or_default(),
        message_id: m.message_id,
        key: m.key,
        subject: m.subject,
        list: m.list,
        children: n
            .children
            .into_iter()
            .map(|c| node_json(c, matched))
            .collect(),
    }
}

/// `GET /api/threads/{thread_id}?q=`
pub async fn thread(
    State(state): State<Shared>,
    viewer: Viewer,
    Path(id): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, AppError> {
    let allowed = viewer.allowed_lists.clone();
    let index = state.index.clone();
    let request = match params.get("q").filter(|q| !q.trim().is_empty()) {
        Some(_) => Some(super::search::request(&state, &params, &viewer)?),
        None => None,
    };
    let (found, matched) = blocking(move || {
        let Some(found) = thread::thread(&index, &id, allowed.as_deref())? else {
            return Ok((None, None));
        };
        // A query that does not parse marks nothing (the page still shows).
        let matched =
            match request.map(|r| context::matches_in_thread(&index, &r, &found.thread_id)) {
                Some(Ok(keys)) => Some(keys),
                Some(Err(e)) if e.is_user_error() => None,
                Some(Err(e)) => return Err(e.into()),
                None => None,
            };
        Ok((Some(found), matched))
    })
    .await?;
    let found = found.ok_or(AppError::NotFound("no such thread"))?;
    let mut body = ThreadJson {
        thread_id: found.thread_id,
        subject: found.subject,
        messages: found
            .roots
            .into_iter()
            .map(|n| node_json(n, matched.as_ref()))
            .collect(),
        reviews: None,
    };
    // Reviewers see the queues' decisions on a conversation they can see,
    // notes included.
    if viewer.role >= crate::access::Role::Reviewer {
        if let Ok(c) = state.curation() {
            let mut ids = vec![body.thread_id.clone()];
            ids_of(&body.messages, &mut ids);
            body.reviews = Some(blocking(move || super::review::reviews_json(&c, &ids)).await?);
        }
    }
    Ok(Json(body).into_response())
}
