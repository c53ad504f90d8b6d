//! What `GET /api/messages/{id}` adds around a message: the message it
//! answers (by author and subject), its conversation's outline with the
//! messages before and after it, and with `?q=` its neighbours in those
//! results and the query's words highlighted in its text.
//!
//! Everything is computed by the query layer among the messages the viewer
//! may read; this file only shapes the JSON.

use std::collections::HashMap;

use serde::Serialize;

use crate::http::{rfc3339, AppError, Shared, Viewer};
use crate::index::doc::StoredMessage;
use crate::index::MailIndex;
use crate::query::context::{self, Entry, Place};
use crate::query::highlight::{Highlighter, Highlights, Parts};
use crate::query::{self, QueryError, Request};

/// Another message, as a link to it.
#[derive(Serialize)]
pub struct Brief {
    message_id: String,
    key: String,
    from: String,
    subject: String,
    date: String,
}

impl Brief {
    fn of(m: &StoredMessage) -> Brief {
        Brief {
            message_id: m.message_id.clone(),
            key: m.key.clone(),
            from: m.from.first().cloned().unwrap_or_default(),
            subject: m.subject.clone(),
            date: rfc3339(m.date),
        }
    }
}

#[derive(Serialize)]
struct OutlineRow {
    message_id: String,
    key: String,
    from: String,
    date: String,
    first_line: String,
    depth: usize,
    current: bool,
}

/// The message's conversation around it.
#[derive(Serialize)]
pub struct ThreadPlace {
    len: usize,
    position: usize,
    outline_from: usize,
    outline: Vec<OutlineRow>,
    prev: Option<Brief>,
    next: Option<Brief>,
}

impl ThreadPlace {
    fn of(place: Place) -> ThreadPlace {
        let brief = |e: Option<&Entry>| e.map(|e| Brief::of(&e.message));
        let (prev, next) = (brief(place.prev()), brief(place.next()));
        let current = place.position;
        ThreadPlace {
            len: place.len,
            position: place.position,
            outline_from: place.outline_from,
            prev,
            next,
            outline: place
                .outline
                .into_iter()
                .enumerate()
                .map(|(i, e)| OutlineRow {
                    current: place.outline_from + i == current,
                    message_id: e.message.message_id,
                    key: e.message.key,
                    from: e.message.from.into_iter().next().unwrap_or_default(),
                    date: rfc3339(e.message.date),
                    first_line: e.first_line,
                    depth: e.depth,
                })
                .collect(),
        }
    }
}

/// The message's place in the results of `?q=`.
#[derive(Serialize)]
pub struct ResultsPlace {
    q: String,
    sort: query::Sort,
    rank: usize,
    total: usize,
    prev: Option<Brief>,
    next: Option<Brief>,
}

/// All the surroundings of one message.
#[derive(Serialize, Default)]
pub struct Context {
    /// The readable message its In-Reply-To names.
    pub parent: Option<Brief>,
    /// Its place in its conversation (absent with `?outline=0`).
    pub thread: Option<ThreadPlace>,
    /// Its place in the results of `?q=` (absent without one, with
    /// `?rank=0`, or when it is not among the first hits).
    pub results: Option<ResultsPlace>,
    /// `?q=`'s words in its text.
    pub highlights: Option<Highlights>,
    /// Why `?q=` could not be used (the message is shown all the same).
    pub query_error: Option<String>,
}

/// What the caller asked for besides the message.
pub struct Wanted {
    request: Option<Request>,
    outline: bool,
    rank: bool,
    hint: Option<usize>,
}

impl Wanted {
    /// From the query string: `q`, `sort` (as for a search), `at` (the rank
    /// the message had on the result page it was opened from), `outline`
    /// (`0` leaves the conversation out), `rank` (`0` leaves the place in the
    /// results out: highlights only).
    pub fn from_params(
        state: &Shared,
        params: &HashMap<String, String>,
        viewer: &Viewer,
    ) -> Result<Wanted, AppError> {
        let has_q = params.get("q").is_some_and(|q| !q.trim().is_empty());
        let request = if has_q {
            Some(super::search::request(state, params, viewer)?)
        } else {
            None
        };
        Ok(Wanted {
            request,
            outline: params.get("outline").map(String::as_str) != Some("0"),
            rank: params.get("rank").map(String::as_str) != Some("0"),
            hint: params.get("at").and_then(|a| a.trim().parse().ok()),
        })
    }
}

/// The context of `m` (read by `viewer`: `allowed` lists), with the texts
/// shown for it.
pub fn context(
    index: &MailIndex,
    m: &StoredMessage,
    allowed: Option<&[String]>,
    wanted: &Wanted,
    parts: &Parts<'_>,
) -> Result<Context, AppError> {
    let mut ctx = Context::default();
    if !m.in_reply_to.is_empty() {
        ctx.parent =
            query::find_visible_message(index, &m.in_reply_to, allowed)?.map(|p| Brief::of(&p));
    }
    if wanted.outline && !m.thread_id.is_empty() {
        ctx.thread = context::place(index, &m.thread_id, &m.key, allowed)?.map(ThreadPlace::of);
    }
    if let Some(req) = &wanted.request {
        let hint = wanted.rank.then_some(wanted.hint);
        match with_query(index, req, m, hint, parts) {
            Ok((results, highlights)) => {
                ctx.results = results;
                ctx.highlights = Some(highlights);
            }
            Err(e) if e.is_user_error() => ctx.query_error = Some(e.to_string()),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(ctx)
}

/// Highlights, and unless `rank` is `None` the place in the results (`rank`
/// holds the caller's hint).
fn with_query(
    index: &MailIndex,
    req: &Request,
    m: &StoredMessage,
    rank: Option<Option<usize>>,
    parts: &Parts<'_>,
) -> Result<(Option<ResultsPlace>, Highlights), QueryError> {
    let highlights = Highlighter::new(index, req)?.message(parts);
    let Some(hint) = rank else {
        return Ok((None, highlights));
    };
    let results = context::rank(index, req, &m.key, hint)?.map(|r| ResultsPlace {
        q: req.query.clone(),
        sort: req.sort,
        rank: r.rank,
        total: r.total,
        prev: r.prev.as_ref().map(Brief::of),
        next: r.next.as_ref().map(Brief::of),
    });
    Ok((results, highlights))
}
