//! `GET /api/search`: hits with snippets, exact totals, facets and a timeline.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use crate::http::cache::{Key, Watched};
use crate::http::{blocking, rfc3339, AppError, Shared, Viewer};
use crate::query::facets::{FacetCount, MonthCount};
use crate::query::marks::Marks;
use crate::query::search::{Hit, Snippet};
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

/// One computed answer, as the cache keeps it.
pub struct Answer {
    total: usize,
    hits: Vec<HitJson>,
    facets: FacetsJson,
    timeline: Vec<MonthCount>,
}

#[derive(Serialize)]
struct SearchJson<'a> {
    total: usize,
    took_ms: f64,
    cached: bool,
    hits: &'a [HitJson],
    facets: &'a FacetsJson,
    timeline: &'a [MonthCount],
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

/// `GET /api/search?q=&limit=&offset=&sort=`
pub async fn search(
    State(state): State<Shared>,
    viewer: Viewer,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, AppError> {
    let started = Instant::now();
    let mut req = request(&state, &params, &viewer)?;
    let generation = state.index.reader.searcher().generation().generation_id();
    let key = Key::new(&req, generation);
    let (answer, cached) = match state.search_cache.get(&key) {
        Some(answer) => (answer, true),
        None => {
            let watched = req.marks.take().map(Watched::new);
            req.marks = watched.clone().map(|w| w as Arc<dyn Marks>);
            let state = state.clone();
            let answer = blocking(move || {
                let (results, facets) = query::search::search_with_facets(&state.index, &req)?;
                let answer = Arc::new(Answer {
                    total: results.total,
                    hits: results.hits.into_iter().map(hit_json).collect(),
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
        took_ms: (took.as_secs_f64() * 100_000.0).round() / 100.0,
        cached,
        hits: &answer.hits,
        facets: &answer.facets,
        timeline: &answer.timeline,
    };
    Ok(Json(body).into_response())
}
