//! `GET /api/search`: hits with snippets, exact totals, facets and a timeline;
//! with `group=thread`, conversations instead of messages (each with its best
//! hit, matching count, size, participants and dates); a "did you mean" when a
//! query finds almost nothing.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use crate::http::cache::{Key, Watched};
use crate::http::{blocking, rfc3339, AppError, Shared, Viewer};
use crate::query::conversations::{self, Conversation};
use crate::query::facets::{FacetCount, MonthCount};
use crate::query::marks::Marks;
use crate::query::search::{Hit, Snippet};
use crate::query::suggest::{self, Suggestion};
use crate::query::{self, Request, Sort};

/// Hits per page at most.
pub const MAX_LIMIT: usize = 100;

#[derive(Serialize)]
struct SnippetJson {
    text: String,
    highlights: Vec<[usize; 2]>,
}

#[derive(Serialize)]
struct HitJson {
    message_id: String,
    key: String,
    thread_id: String,
    date: String,
    from: String,
    subject: String,
    list: String,
    score: f32,
    snippet: SnippetJson,
    snippet_html: String,
}

#[derive(Serialize)]
struct FacetsJson {
    list: Vec<FacetCount>,
    year: Vec<FacetCount>,
    from: Vec<FacetCount>,
}

/// A conversation as the API gives it.
#[derive(Serialize)]
pub struct ConversationJson {
    thread_id: String,
    subject: String,
    matching: usize,
    size: usize,
    participants: Vec<String>,
    participants_total: usize,
    first_date: String,
    last_date: String,
    hit: HitJson,
}

/// `c` as the API gives it.
pub fn conversation_json(c: Conversation) -> ConversationJson {
    ConversationJson {
        thread_id: c.thread_id,
        subject: c.subject,
        matching: c.matching,
        size: c.size,
        participants: c.participants,
        participants_total: c.participants_total,
        first_date: rfc3339(c.first_date),
        last_date: rfc3339(c.last_date),
        hit: hit_json(c.best),
    }
}

/// One computed answer, as the cache keeps it.
pub struct Answer {
    total: usize,
    hits: Option<Vec<HitJson>>,
    conversations: Option<(usize, Vec<ConversationJson>)>,
    did_you_mean: Option<Suggestion>,
    facets: FacetsJson,
    timeline: Vec<MonthCount>,
}

#[derive(Serialize)]
struct SearchJson<'a> {
    total: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    total_conversations: Option<usize>,
    took_ms: f64,
    cached: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    hits: Option<&'a [HitJson]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    conversations: Option<&'a [ConversationJson]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    did_you_mean: Option<&'a Suggestion>,
    facets: &'a FacetsJson,
    timeline: &'a [MonthCount],
}

/// Reads `group`: `message` (the default) or `thread`.
fn grouped(params: &HashMap<String, String>) -> Result<bool, AppError> {
    match params.get("group").map(String::as_str).unwrap_or("") {
        "" | "message" | "messages" => Ok(false),
        "thread" | "threads" | "conversation" | "conversations" => Ok(true),
        other => Err(AppError::BadRequest(format!(
            "group must be message or thread, not {other:?}"
        ))),
    }
}

/// The library's byte ranges as character ranges (the API's offsets).
pub fn char_highlights(s: &Snippet) -> Vec<[usize; 2]> {
    let mut out = Vec::with_capacity(s.highlights.len());
    let mut last_end = 0;
    for &(a, b) in &s.highlights {
        let (Some(before), Some(inside)) = (s.text.get(..a), s.text.get(a..b)) else {
            continue;
        };
        if a < last_end {
            continue;
        }
        let start = before.chars().count();
        out.push([start, start + inside.chars().count()]);
        last_end = b;
    }
    out
}

fn hit_json(h: Hit) -> HitJson {
    let m = h.message;
    HitJson {
        snippet: SnippetJson {
            highlights: char_highlights(&h.snippet),
            text: h.snippet.text.clone(),
        },
        snippet_html: h.snippet.to_html(),
        date: rfc3339(m.date),
        from: m.from.first().cloned().unwrap_or_default(),
        message_id: m.message_id,
        key: m.key,
        thread_id: m.thread_id,
        subject: m.subject,
        list: m.list,
        score: h.score,
    }
}

/// Reads `q`, `limit`, `offset` and `sort` into a request for `viewer`.
pub fn request(
    state: &Shared,
    params: &HashMap<String, String>,
    viewer: &Viewer,
) -> Result<Request, AppError> {
    let q = params.get("q").map(String::as_str).unwrap_or("");
    if q.trim().is_empty() {
        return Err(AppError::BadQuery {
            message: "empty query".into(),
            position: 0,
        });
    }
    let number = |name: &str, default: usize| -> Result<usize, AppError> {
        match params.get(name).map(|v| v.trim()).filter(|v| !v.is_empty()) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|_| {
                AppError::BadRequest(format!("{name} must be a whole number, not {v:?}"))
            }),
        }
    };
    let sort = match params
        .get("sort")
        .map(String::as_str)
        .unwrap_or("relevance")
    {
        "" | "relevance" => Sort::Relevance,
        "date" => Sort::Date,
        "oldest" => Sort::Oldest,
        other => {
            return Err(AppError::BadRequest(format!(
                "sort must be relevance, date or oldest, not {other:?}"
            )))
        }
    };
    Ok(Request {
        query: q.to_string(),
        limit: number("limit", 20)?.clamp(1, MAX_LIMIT),
        offset: number("offset", 0)?,
        sort,
        now: time::OffsetDateTime::now_utc().unix_timestamp(),
        allowed_lists: viewer.allowed_lists.clone(),
        marks: state.marks_for(viewer),
    })
}

/// `GET /api/search?q=&limit=&offset=&sort=&group=`
pub async fn search(
    State(state): State<Shared>,
    viewer: Viewer,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, AppError> {
    let started = Instant::now();
    let mut req = request(&state, &params, &viewer)?;
    let by_thread = grouped(&params)?;
    let generation = state.index.reader.searcher().generation().generation_id();
    let key = Key::new(&req, generation);
    let key = if by_thread { key.grouped() } else { key };
    let (answer, cached) = match state.search_cache.get(&key) {
        Some(answer) => (answer, true),
        None => {
            let watched = req.marks.take().map(Watched::new);
            req.marks = watched.clone().map(|w| w as Arc<dyn Marks>);
            let state = state.clone();
            let answer = blocking(move || {
                // Hits (or conversations) and facets from one pass (issue 22).
                let (total, hits, conversations, facets) = if by_thread {
                    let (c, facets) = conversations::conversations_with_facets(&state.index, &req)?;
                    let rows = c.page.into_iter().map(conversation_json).collect();
                    (c.total_messages, None, Some((c.total, rows)), facets)
                } else {
                    let (results, facets) = query::search::search_with_facets(&state.index, &req)?;
                    let hits = results.hits.into_iter().map(hit_json).collect();
                    (results.total, Some(hits), None, facets)
                };
                let did_you_mean = suggest::did_you_mean(&state.index, &req, total)?;
                let answer = Arc::new(Answer {
                    total,
                    hits,
                    conversations,
                    did_you_mean,
                    facets: FacetsJson {
                        list: facets.list,
                        year: facets.year,
                        from: facets.from,
                    },
                    timeline: facets.timeline,
                });
                if !watched.is_some_and(|w| w.asked()) {
                    state.search_cache.put(key, answer.clone());
                }
                Ok(answer)
            })
            .await?;
            (answer, false)
        }
    };
    let took = started.elapsed();
    let body = SearchJson {
        total: answer.total,
        total_conversations: answer.conversations.as_ref().map(|(n, _)| *n),
        took_ms: (took.as_secs_f64() * 100_000.0).round() / 100.0,
        cached,
        hits: answer.hits.as_deref(),
        conversations: answer.conversations.as_ref().map(|(_, c)| c.as_slice()),
        did_you_mean: answer.did_you_mean.as_ref(),
        facets: &answer.facets,
        timeline: &answer.timeline,
    };
    Ok(Json(body).into_response())
}
