//! Review queues: policies (admins edit), queues and progress (reviewers),
//! decisions and undo (reviewers). Queues show only the lists the viewer may see.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::access::Role;
use crate::curate::queue::QueueOptions;
use crate::curate::{Asked, Decision, ReviewPolicy};
use crate::http::{blocking, json_body, AppError, Shared, Viewer};
use crate::query::limits::Budget;

/// Refuses viewers below `role`.
pub fn require(viewer: &Viewer, role: Role, what: &'static str) -> Result<(), AppError> {
    if viewer.role >= role {
        Ok(())
    } else {
        Err(AppError::Forbidden(what))
    }
}

/// The name recorded as the actor of a change.
pub fn actor(viewer: &Viewer) -> String {
    viewer.user.clone().unwrap_or_else(|| "local".to_string())
}

fn now() -> i64 {
    crate::db::now()
}

/// `GET /api/review/policies`
pub async fn policies(
    State(state): State<Shared>,
    viewer: Viewer,
) -> Result<Json<Value>, AppError> {
    require(&viewer, Role::Reviewer, "review queues are for reviewers")?;
    let c = state.curation()?;
    let index = state.index.clone();
    let (policies, indexed) =
        blocking(move || Ok((c.policies()?, crate::query::lists::indexed_lists(&index)?))).await?;
    let mut list = Vec::with_capacity(policies.len());
    for p in policies {
        // Names as written resolve to the lists they stand for (`list:`'s
        // rule); admins are told of names that stand for none or several.
        let warnings = crate::query::lists::warnings(
            &format!("review policy {:?}", p.name),
            &p.lists,
            &indexed,
        );
        let resolved = crate::query::lists::resolve_against(&p.lists, &indexed)
            .map(|r| r.lists)
            .unwrap_or_else(|_| p.lists.clone());
        let mut v = serde_json::to_value(&p).map_err(|e| AppError::internal("policies", e))?;
        match &viewer.allowed_lists {
            // Everything to admins, the names' problems included.
            None => v["warnings"] = json!(warnings),
            // Others see a policy's lists only as far as they may see them.
            Some(allowed) => {
                v["lists"] = json!(resolved
                    .iter()
                    .filter(|l| allowed.iter().any(|a| a.eq_ignore_ascii_case(l)))
                    .collect::<Vec<_>>());
            }
        }
        list.push(v);
    }
    Ok(Json(json!({ "policies": list })))
}

/// `PUT /api/review/policies/{name}` (admins)
pub async fn put_policy(
    State(state): State<Shared>,
    viewer: Viewer,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, AppError> {
    require(&viewer, Role::Admin, "only admins edit review policies")?;
    let mut v: Value = json_body(
        &headers,
        &body,
        "a policy {lists, older_than, age_basis, query}",
    )?;
    if let Some(obj) = v.as_object_mut() {
        obj.insert("name".into(), json!(name.clone()));
    }
    let mut p: ReviewPolicy = serde_json::from_value(v).map_err(|e| {
        AppError::BadRequest(format!(
            "send a policy {{lists, older_than, age_basis, query}}: {e}"
        ))
    })?;
    p.name = name;
    p.origin = "ui".into();
    let c = state.curation()?;
    let who = actor(&viewer);
    let saved = blocking(move || {
        c.put_policy(&p, &who)?;
        Ok(c.policy(&p.name)?)
    })
    .await?;
    Ok(Json(json!({ "policy": saved })))
}

/// `DELETE /api/review/policies/{name}` (admins)
pub async fn delete_policy(
    State(state): State<Shared>,
    viewer: Viewer,
    Path(name): Path<String>,
) -> Result<Json<Value>, AppError> {
    require(&viewer, Role::Admin, "only admins edit review policies")?;
    let c = state.curation()?;
    let who = actor(&viewer);
    blocking(move || Ok(c.delete_policy(&name, &who)?)).await?;
    Ok(Json(json!({})))
}

fn options(params: &HashMap<String, String>) -> Result<QueueOptions, AppError> {
    let num = |k: &str| -> Result<Option<usize>, AppError> {
        params
            .get(k)
            .filter(|v| !v.trim().is_empty())
            .map(|v| {
                v.trim().parse().map_err(|_| {
                    AppError::BadRequest(format!("{k} must be a whole number, not {v:?}"))
                })
            })
            .transpose()
    };
    Ok(QueueOptions {
        offset: num("offset")?.unwrap_or(0),
        limit: num("limit")?.unwrap_or(50).clamp(1, 1000),
        include_decided: params.get("all").is_some_and(|v| v == "1" || v == "true"),
        list: params.get("list").filter(|v| !v.is_empty()).cloned(),
        year: num("year")?
            .map(|y| {
                i32::try_from(y)
                    .map_err(|_| AppError::BadRequest(format!("year {y} is out of range")))
            })
            .transpose()?,
        answers: true,
    })
}

/// A viewer's request for a queue, now, within the request deadline (a
/// queue past it is a `503` naming `deadline_ms`).
fn asked<'a>(allowed: Option<&'a [String]>, budget: &'a Arc<Budget>) -> Asked<'a> {
    Asked {
        allowed,
        now: now(),
        budget,
    }
}

/// One queue's decision on a conversation, note included, as the API shows it.
pub(crate) fn review_json(policy: &str, r: &crate::curate::decisions::Recorded) -> Value {
    json!({"policy": policy, "decision": r.decision.as_str(), "note": r.note,
           "by": r.by, "at": crate::http::rfc3339(r.at)})
}

/// Every queue's decisions on conversation `thread` (known by any of `ids`).
pub(crate) fn reviews_json(c: &crate::curate::Curation, ids: &[String]) -> Result<Value, AppError> {
    Ok(Value::Array(
        c.decisions_on(ids)?
            .iter()
            .map(|(policy, r)| review_json(policy, r))
            .collect(),
    ))
}

/// `GET /api/review/queues/{name}?offset=&limit=&all=1&list=&year=`
pub async fn queue(
    State(state): State<Shared>,
    viewer: Viewer,
    Path(name): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<Value>, AppError> {
    require(&viewer, Role::Reviewer, "review queues are for reviewers")?;
    let opts = options(&params)?;
    let c = state.curation()?;
    let allowed = viewer.allowed_lists.clone();
    let q = blocking(move || {
        let budget = Budget::interactive();
        let q = c.queue(
            &state.index,
            &name,
            &opts,
            &asked(allowed.as_deref(), &budget),
        )?;
        let mut v = serde_json::to_value(&q).map_err(|e| AppError::internal("queue json", e))?;
        // Each item carries every queue's decisions and notes on its
        // conversation (another queue's reviewer may have said why already).
        if let Some(items) = v.get_mut("items").and_then(Value::as_array_mut) {
            for item in items {
                let thread = item["thread_id"].as_str().unwrap_or_default().to_string();
                item["reviews"] = reviews_json(&c, &[thread])?;
            }
        }
        Ok(v)
    })
    .await?;
    Ok(Json(q))
}

#[derive(Deserialize)]
struct DecideBody {
    threads: Vec<String>,
    decision: String,
    #[serde(default)]
    note: String,
    /// Promote one thread and cite into this document (number or slug):
    /// its answer, or `message_id` (and `passage`) of it.
    cite_into: Option<String>,
    message_id: Option<String>,
    passage: Option<String>,
}

/// `POST /api/review/queues/{name}/decisions` with `{threads, decision, note}`
/// (and, promoting, `cite_into`: each thread cites its proposed answer in
/// one batch that one undo takes back; with one thread also `message_id`,
/// `passage`)
pub async fn decide(
    State(state): State<Shared>,
    viewer: Viewer,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, AppError> {
    require(&viewer, Role::Reviewer, "only reviewers decide")?;
    let b: DecideBody = json_body(&headers, &body, "{threads: [...], decision, note}")?;
    let decision: Decision = b.decision.parse()?;
    let c = state.curation()?;
    let who = actor(&viewer);
    let allowed = viewer.allowed_lists.clone();
    let out = blocking(move || {
        c.check_threads(&state.index, &name, &b.threads, allowed.as_deref())?;
        let mut out = json!({});
        let batch = match (&b.cite_into, b.threads.as_slice()) {
            (None, _) => c.decide(&name, &b.threads, decision, &b.note, &who)?,
            (Some(doc), [thread]) if decision == Decision::Promote => {
                let asked_for = super::docs::CiteBody {
                    message_id: b.message_id.clone(),
                    thread_id: Some(thread.clone()),
                    passage: b.passage.clone(),
                };
                let new = asked_for.citation(&state, allowed.as_deref())?;
                let (batch, mut document, citation) =
                    c.promote_citing(&name, thread, &b.note, doc, &new, &who)?;
                document.body =
                    super::docs::redaction(&c, &state, &viewer, doc)?.body(&document.body);
                out["document"] = json!(document);
                out["citation"] = json!(citation);
                batch
            }
            // Several threads: each cites its proposed answer, one batch.
            (Some(doc), threads)
                if decision == Decision::Promote
                    && !threads.is_empty()
                    && b.message_id.is_none()
                    && b.passage.is_none() =>
            {
                let mut items = Vec::with_capacity(threads.len());
                for thread in threads {
                    let asked_for = super::docs::CiteBody {
                        message_id: None,
                        thread_id: Some(thread.clone()),
                        passage: None,
                    };
                    items.push((
                        thread.clone(),
                        asked_for.citation(&state, allowed.as_deref())?,
                    ));
                }
                let (batch, mut document, citations) =
                    c.promote_citing_all(&name, &items, &b.note, doc, &who)?;
                document.body =
                    super::docs::redaction(&c, &state, &viewer, doc)?.body(&document.body);
                out["document"] = json!(document);
                out["citations"] = json!(citations);
                batch
            }
            (Some(_), _) => return Err(AppError::BadRequest(
                "cite_into goes with decision \"promote\"; message_id and passage with one thread"
                    .into(),
            )),
        };
        out["batch"] = json!(batch);
        out["progress"] = json!(c.progress(
            &state.index,
            &name,
            &asked(allowed.as_deref(), &Budget::interactive()),
        )?);
        Ok(out)
    })
    .await?;
    Ok(Json(out))
}

/// `POST /api/review/queues/{name}/undo`: undoes the viewer's last batch.
pub async fn undo(
    State(state): State<Shared>,
    viewer: Viewer,
    Path(name): Path<String>,
) -> Result<Json<Value>, AppError> {
    require(&viewer, Role::Reviewer, "only reviewers decide")?;
    let c = state.curation()?;
    let who = actor(&viewer);
    let allowed = viewer.allowed_lists.clone();
    let (threads, uncited, progress) = blocking(move || {
        let (threads, uncited) = c.undo_citations(&name, &who)?;
        Ok((
            threads,
            uncited,
            c.progress(
                &state.index,
                &name,
                &asked(allowed.as_deref(), &Budget::interactive()),
            )?,
        ))
    })
    .await?;
    Ok(Json(
        json!({ "threads": threads, "uncited": uncited, "progress": progress }),
    ))
}

/// `GET /api/audit?subject=&limit=` (admins)
pub async fn audit(
    State(state): State<Shared>,
    viewer: Viewer,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<Value>, AppError> {
    require(&viewer, Role::Admin, "the audit log is for admins")?;
    let c = state.curation()?;
    let subject = params.get("subject").filter(|s| !s.is_empty()).cloned();
    let limit = params
        .get("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(100usize)
        .min(1000);
    let (entries, verification) =
        blocking(move || Ok((c.audit(subject.as_deref(), limit)?, c.verify_audit()?))).await?;
    Ok(Json(
        json!({ "entries": entries, "verification": verification }),
    ))
}
