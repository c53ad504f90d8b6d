//! `GET /api/messages/{id}` (decoded) and `/api/messages/{id}/raw` (the
//! original bytes). A message the viewer may not see is a plain 404. The
//! decoded message carries its surroundings (`message_context`).

use axum::body::Body;
use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use super::message_context::{context, Context, Wanted};
use crate::extract::{self, Attachment, ExtractContext};
use crate::http::{blocking, rfc3339, AppError, Shared, Viewer};
use crate::index::doc::{display_address, StoredMessage};
use crate::query;
use crate::query::highlight::Parts;
use crate::store;

#[derive(Serialize)]
struct MessageJson {
    message_id: String,
    key: String,
    thread_id: String,
    date: String,
    /// Who wrote it: the person behind a list's rewriting of From.
    from: Vec<String>,
    /// The From header as written.
    from_header: Vec<String>,
    to: Vec<String>,
    cc: Vec<String>,
    subject: String,
    list: String,
    lang: String,
    size: u64,
    locations: Vec<String>,
    attachments: Vec<Attachment>,
    body: String,
    quoted: String,
    footer: String,
    html_only: bool,
    in_reply_to: String,
    references: Vec<String>,
    /// Curated documents citing this message.
    cited_in: Vec<crate::curate::documents::DocRef>,
    /// The sealed volume holding a copy, if archived.
    archived: Option<String>,
    /// Active legal holds covering it.
    held_by: Vec<String>,
    /// The message it answers, its conversation, and with `?q=` its place in
    /// the results and the words found.
    #[serde(flatten)]
    context: Context,
}

/// The original bytes of a message from its first readable location.
pub fn read_raw(m: &StoredMessage) -> Result<Vec<u8>, store::StoreError> {
    if m.locations.is_empty() {
        return Err(store::StoreError::BadLocation(format!(
            "{}: no recorded location",
            m.key
        )));
    }
    store::read_first(&m.locations)
}

async fn find(state: &Shared, viewer: &Viewer, id: String) -> Result<StoredMessage, AppError> {
    let state = state.clone();
    let allowed = viewer.allowed_lists.clone();
    blocking(move || {
        Ok(query::find_visible_message(
            &state.index,
            &id,
            allowed.as_deref(),
        )?)
    })
    .await?
    .ok_or(AppError::NotFound("no such message"))
}

fn decoded(stored: StoredMessage) -> MessageJson {
    let bytes = match read_raw(&stored) {
        Ok(b) => Some(b),
        Err(e) => {
            tracing::warn!("message {} is indexed but unreadable: {e}", stored.key);
            None
        }
    };
    let ctx = ExtractContext {
        list: Some(stored.list.as_str()).filter(|l| !l.is_empty()),
        envelope: None,
        pipermail: store::pipermail::is_archive_uri(&stored.locations),
    };
    let doc = bytes.and_then(|b| extract::extract(&b, &ctx).ok());
    let addrs = |v: &[extract::Address]| v.iter().map(display_address).collect::<Vec<_>>();
    // What the index stored; the decoded file, when readable, replaces the
    // parts the index keeps only in part (body) or not at all.
    let mut json = MessageJson {
        from: stored.from,
        from_header: stored.from_header,
        to: stored.to,
        cc: stored.cc,
        attachments: Vec::new(),
        body: stored.text,
        quoted: String::new(),
        footer: String::new(),
        html_only: false,
        references: Vec::new(),
        cited_in: Vec::new(),
        archived: None,
        held_by: Vec::new(),
        context: Context::default(),
        message_id: stored.message_id,
        key: stored.key,
        thread_id: stored.thread_id,
        date: rfc3339(stored.date),
        subject: stored.subject,
        list: stored.list,
        lang: stored.lang,
        size: stored.size,
        locations: stored.locations,
        in_reply_to: stored.in_reply_to,
    };
    if let Some(d) = doc {
        json.from = addrs(d.authors());
        json.from_header = addrs(&d.from);
        json.to = addrs(&d.to);
        json.cc = addrs(&d.cc);
        json.attachments = d.attachments;
        json.body = d.body;
        json.quoted = d.quoted;
        json.footer = d.footer;
        json.html_only = d.html_only;
        json.references = d.references;
    }
    json
}

/// The volume an archived message is in, and (with `holds`) the active
/// holds covering it.
fn retention_state(
    index: &crate::index::MailIndex,
    r: &crate::retention::Retention,
    key: &str,
    holds: bool,
) -> Result<(Option<String>, Vec<String>), crate::retention::RetentionError> {
    let archived = r.archived(key)?.map(|(volume, _)| volume);
    let mut held_by = Vec::new();
    let active = if holds { r.holds()? } else { Vec::new() };
    for hold in active.into_iter().filter(|h| h.released_at.is_none()) {
        let found = query::search::key_matches(index, &hold.query, key, crate::db::now())?;
        if found {
            held_by.push(hold.name);
        }
    }
    Ok((archived, held_by))
}

/// `GET /api/messages/{id}?q=&sort=&at=&outline=`
pub async fn message(
    State(state): State<Shared>,
    viewer: Viewer,
    Path(id): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, AppError> {
    let wanted = Wanted::from_params(&state, &params, &viewer)?;
    let stored = find(&state, &viewer, id).await?;
    let allowed = viewer.allowed_lists.clone();
    let curation = state.curation.clone();
    let retention = state.retention.clone();
    let index = state.index.clone();
    let readers_only = viewer.role < crate::access::Role::Reviewer;
    // Legal holds (their names, whether one covers a message) are for admins.
    let holds_shown = viewer.role >= crate::access::Role::Admin;
    let json = blocking(move || {
        let mut json = decoded(stored.clone());
        let parts = Parts {
            lang: &json.lang,
            body: &json.body,
            quoted: &json.quoted,
            footer: &json.footer,
            subject: &json.subject,
        };
        json.context = context(&index, &stored, allowed.as_deref(), &wanted, &parts)?;
        if let Some(c) = curation.filter(|_| !json.message_id.is_empty()) {
            json.cited_in = c.citing_documents(&json.message_id)?;
            if readers_only {
                json.cited_in
                    .retain(|d| d.status == crate::curate::DocStatus::Published);
            }
        }
        if let Some(r) = retention {
            let (archived, held_by) = retention_state(&index, &r, &json.key, holds_shown)
                .map_err(|e| AppError::internal("retention state", e))?;
            json.archived = archived;
            json.held_by = held_by;
        }
        Ok(json)
    })
    .await?;
    Ok(Json(json).into_response())
}

/// A file name made only of safe characters.
pub fn safe_filename(s: &str) -> String {
    let name: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@') {
                c
            } else {
                '_'
            }
        })
        .take(100)
        .collect();
    if name.is_empty() {
        "message".into()
    } else {
        name
    }
}

/// `GET /api/messages/{id}/raw`
pub async fn raw(
    State(state): State<Shared>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let stored = find(&state, &viewer, id).await?;
    let filename = safe_filename(&stored.key);
    let bytes = blocking(move || {
        read_raw(&stored).map_err(|e| AppError::internal("reading a raw message", e))
    })
    .await?;
    let mut res = Body::from(bytes).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("message/rfc822"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}.eml\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(res)
}
