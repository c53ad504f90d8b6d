//! Curated documents: list, read (readers see published ones), create and
//! edit (editors), revisions and diffs, citations (reviewers and up cite
//! messages and promoted threads), exports.
//!
//! Every body, revision, diff, citation and export is shown through the
//! viewer's [`Reader`]: a citation of a message they cannot see is a
//! placeholder ([`crate::curate::redact`]).

use std::collections::HashMap;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::review::{actor, require};
use crate::access::Role;
use crate::curate::documents::DocUpdate;
use crate::curate::redact::{CitationView, Reader, Redaction};
use crate::curate::{Curation, DocKind, DocStatus, Document, NewCitation};
use crate::http::{blocking, json_body, AppError, Shared, Viewer};
use crate::query;

/// Readers see published documents only.
fn visible(viewer: &Viewer, doc: &Document) -> bool {
    viewer.role >= Role::Reviewer || doc.status == DocStatus::Published
}

/// The viewer as a reader of citations: by their lists, never their role.
fn reader<'a>(state: &'a Shared, viewer: &'a Viewer) -> Reader<'a> {
    Reader {
        index: &state.index,
        allowed: viewer.allowed_lists.as_deref(),
    }
}

/// What `viewer` may not see of document `id`'s citations.
pub(super) fn redaction(
    c: &Curation,
    state: &Shared,
    viewer: &Viewer,
    id: &str,
) -> Result<Redaction, AppError> {
    Ok(Redaction::for_reader(
        Some(&reader(state, viewer)),
        &c.citations(id)?,
    )?)
}

fn readable(c: &Curation, viewer: &Viewer, id: &str) -> Result<Document, AppError> {
    let doc = c.document(id)?;
    if visible(viewer, &doc) {
        Ok(doc)
    } else {
        Err(AppError::NotFound("no such document"))
    }
}

/// `GET /api/docs`
pub async fn list(State(state): State<Shared>, viewer: Viewer) -> Result<Json<Value>, AppError> {
    let c = state.curation()?;
    let docs = blocking(move || Ok(c.documents()?)).await?;
    let docs: Vec<Document> = docs.into_iter().filter(|d| visible(&viewer, d)).collect();
    Ok(Json(json!({ "documents": docs })))
}

#[derive(Deserialize)]
struct NewDoc {
    kind: DocKind,
    title: String,
    #[serde(default)]
    owner: String,
    #[serde(default)]
    body: String,
}

/// `POST /api/docs` with `{kind, title, owner, body}` (editors)
pub async fn create(
    State(state): State<Shared>,
    viewer: Viewer,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, AppError> {
    require(&viewer, Role::Editor, "only editors create documents")?;
    let n: NewDoc = json_body(&headers, &body, "{kind, title, owner, body}")?;
    let c = state.curation()?;
    let who = actor(&viewer);
    let doc =
        blocking(move || Ok(c.create_document(n.kind, &n.title, &n.owner, &n.body, &who)?)).await?;
    Ok(Json(json!({ "document": doc })))
}

/// The queues' decisions, notes included, on the conversations of the
/// citations shown (hidden ones name nothing), by thread id.
fn review_notes(c: &Curation, citations: &[CitationView]) -> Result<Value, AppError> {
    let mut out = serde_json::Map::new();
    for view in citations {
        let CitationView::Shown(cited) = view else {
            continue;
        };
        if out.contains_key(&cited.cited.thread_id) {
            continue;
        }
        let notes = super::review::reviews_json(c, std::slice::from_ref(&cited.cited.thread_id))?;
        out.insert(cited.cited.thread_id.clone(), notes);
    }
    Ok(Value::Object(out))
}

/// `GET /api/docs/{id}`: the document, its HTML, its citations (and, for
/// reviewers and up, the review notes of the cited conversations).
pub async fn get(
    State(state): State<Shared>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<Json<Value>, AppError> {
    let c = state.curation()?;
    let out = blocking(move || {
        readable(&c, &viewer, &id)?;
        let read = c.read_document(&id, Some(&reader(&state, &viewer)))?;
        let html = crate::curate::export::render_html(&read.markdown);
        let mut out =
            json!({ "document": read.document, "citations": read.citations, "html": html });
        if viewer.role >= Role::Reviewer {
            out["reviews"] = review_notes(&c, &read.citations)?;
        }
        Ok(out)
    })
    .await?;
    Ok(Json(out))
}

#[derive(Deserialize)]
struct SaveBody {
    #[serde(flatten)]
    update: DocUpdate,
    base_revision: Option<i64>,
}

/// `PUT /api/docs/{id}` with any of `{title, body, status, owner, kind}` and
/// `base_revision` (409 when someone saved since).
pub async fn save(
    State(state): State<Shared>,
    viewer: Viewer,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, AppError> {
    require(&viewer, Role::Editor, "only editors edit documents")?;
    let b: SaveBody = json_body(
        &headers,
        &body,
        "{title, body, status, owner, kind, base_revision}",
    )?;
    let c = state.curation()?;
    let who = actor(&viewer);
    let doc = blocking(move || {
        let mut update = b.update;
        let mut base = b.base_revision;
        let hidden = redaction(&c, &state, &viewer, &id)?;
        if let Some(edited) = &update.body {
            // The editor saw (and sent back) the body redacted: what they
            // could not see goes back in, and only onto the revision they saw.
            let current = c.document(&id)?;
            update.body = Some(hidden.restore(edited, &current.body));
            base = base.or(Some(current.revision));
        }
        let mut doc = c.save_document(&id, &update, base, &who)?;
        doc.body = hidden.body(&doc.body);
        Ok(doc)
    })
    .await?;
    Ok(Json(json!({ "document": doc })))
}

#[derive(Deserialize)]
struct PreviewBody {
    body: String,
}

/// `POST /api/docs/{id}/preview` with `{body}` (editors): the HTML the text
/// would have once saved, as the viewer sees it — citations expanded where
/// their markers stand, rendered and sanitised exactly as the document is.
pub async fn preview(
    State(state): State<Shared>,
    viewer: Viewer,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, AppError> {
    require(&viewer, Role::Editor, "only editors edit documents")?;
    let b: PreviewBody = json_body(&headers, &body, "{body}")?;
    let c = state.curation()?;
    let html =
        blocking(move || Ok(c.preview(&id, &b.body, Some(&reader(&state, &viewer)))?)).await?;
    Ok(Json(json!({ "html": html })))
}

/// `GET /api/docs/{id}/revisions`
pub async fn revisions(
    State(state): State<Shared>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<Json<Value>, AppError> {
    let c = state.curation()?;
    let revs = blocking(move || {
        readable(&c, &viewer, &id)?;
        Ok(c.revisions(&id)?)
    })
    .await?;
    Ok(Json(json!({ "revisions": revs })))
}

/// `GET /api/docs/{id}/revisions/{n}`
pub async fn revision(
    State(state): State<Shared>,
    viewer: Viewer,
    Path((id, n)): Path<(String, i64)>,
) -> Result<Json<Value>, AppError> {
    let c = state.curation()?;
    let rev = blocking(move || {
        readable(&c, &viewer, &id)?;
        let mut rev = c.revision(&id, n)?;
        rev.body = redaction(&c, &state, &viewer, &id)?.body(&rev.body);
        Ok(rev)
    })
    .await?;
    Ok(Json(json!({ "revision": rev })))
}

/// `GET /api/docs/{id}/diff?from=N&to=M` (default: the two newest revisions)
pub async fn diff(
    State(state): State<Shared>,
    viewer: Viewer,
    Path(id): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<Value>, AppError> {
    let c = state.curation()?;
    let out = blocking(move || {
        let doc = readable(&c, &viewer, &id)?;
        let num = |k: &str, d: i64| -> Result<i64, AppError> {
            match params.get(k).filter(|v| !v.is_empty()) {
                None => Ok(d),
                Some(v) => v
                    .parse()
                    .map_err(|_| AppError::BadRequest(format!("{k} must be a revision number"))),
            }
        };
        let to = num("to", doc.revision)?;
        let from = num("from", to.saturating_sub(1).max(1))?;
        let (mut a, mut b) = (c.revision(&id, from)?, c.revision(&id, to)?);
        let hidden = redaction(&c, &state, &viewer, &id)?;
        a.body = hidden.body(&a.body);
        b.body = hidden.body(&b.body);
        let lines = crate::curate::diff::diff(&a.body, &b.body);
        Ok(json!({ "from": a, "to": b, "lines": lines }))
    })
    .await?;
    Ok(Json(out))
}

/// What to cite: a message (and a passage of it), or a thread's answer.
#[derive(Deserialize, Default)]
pub(super) struct CiteBody {
    /// Cite this message...
    pub message_id: Option<String>,
    /// ...or the proposed answer of this thread ([`crate::query::answer`]).
    pub thread_id: Option<String>,
    /// The passage selected (default: the start of the message's text).
    pub passage: Option<String>,
}

impl CiteBody {
    /// The citation this asks for, of a message `allowed` lists show; a
    /// message named with a thread must be in that thread.
    pub(super) fn citation(
        &self,
        state: &Shared,
        allowed: Option<&[String]>,
    ) -> Result<NewCitation, AppError> {
        let index = &state.index;
        let message = match (&self.message_id, &self.thread_id) {
            (Some(mid), thread) => {
                let m = query::find_visible_message(index, mid, allowed)?;
                if let (Some(m), Some(t)) = (&m, thread) {
                    if query::thread::resolve(index, &m.thread_id)?
                        != query::thread::resolve(index, t)?
                    {
                        return Err(AppError::BadRequest(format!(
                            "<{}> is not a message of thread {t:?}",
                            m.message_id
                        )));
                    }
                }
                m
            }
            (None, Some(t)) => query::answer::answer(index, t, allowed)?.map(|a| a.message),
            (None, None) => {
                return Err(AppError::BadRequest("send message_id or thread_id".into()))
            }
        };
        let m = message.ok_or(AppError::NotFound("no such message"))?;
        let text = query::text::full_text(&m);
        Ok(NewCitation::from_message(
            &m,
            self.passage.as_deref(),
            text.as_deref(),
        )?)
    }
}

/// `POST /api/docs/{id}/citations` with `{message_id | thread_id, passage}` (reviewers and up)
pub async fn cite(
    State(state): State<Shared>,
    viewer: Viewer,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, AppError> {
    require(
        &viewer,
        Role::Reviewer,
        "only reviewers and editors cite messages",
    )?;
    let b: CiteBody = json_body(&headers, &body, "{message_id or thread_id, passage}")?;
    let c = state.curation()?;
    let who = actor(&viewer);
    let out = blocking(move || {
        let new = b.citation(&state, viewer.allowed_lists.as_deref())?;
        let (mut doc, citation) = c.cite(&id, &new, &who)?;
        doc.body = redaction(&c, &state, &viewer, &id)?.body(&doc.body);
        Ok(json!({ "document": doc, "citation": citation }))
    })
    .await?;
    Ok(Json(out))
}

fn download(
    body: Vec<u8>,
    content_type: &'static str,
    filename: &str,
) -> Result<Response, AppError> {
    let mut res = Body::from(body).into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    let disp = format!(
        "attachment; filename=\"{}\"",
        filename.replace(['"', '\\', '\r', '\n'], "_")
    );
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_str(&disp).map_err(|e| AppError::internal("header", e))?,
    );
    Ok(res)
}

/// `GET /api/docs/{id}/export.md` and `/export.html`
pub async fn export(
    State(state): State<Shared>,
    viewer: Viewer,
    Path((id, format)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let c = state.curation()?;
    blocking(move || {
        let doc = readable(&c, &viewer, &id)?;
        match format.as_str() {
            "export.md" => download(
                c.export_markdown(&id, Some(&reader(&state, &viewer)))?
                    .into_bytes(),
                "text/markdown; charset=utf-8",
                &format!("{}.md", doc.slug),
            ),
            "export.html" => download(
                c.export_html(&id, Some(&reader(&state, &viewer)))?
                    .into_bytes(),
                "text/html; charset=utf-8",
                &format!("{}.html", doc.slug),
            ),
            _ => Err(AppError::NotFound("no such API endpoint")),
        }
    })
    .await
}

/// `GET /api/docs/published.tar`: every published document as Markdown and
/// HTML, as the viewer may see them.
pub async fn export_published(
    State(state): State<Shared>,
    viewer: Viewer,
) -> Result<Response, AppError> {
    let c = state.curation()?;
    blocking(move || {
        let (tar, _) = c.export_published(Some(&reader(&state, &viewer)))?;
        download(tar, "application/x-tar", "gleaner-published.tar")
    })
    .await
}
