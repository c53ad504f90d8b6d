//! The curation tools: `review_queue` and `decide` (reviewers),
//! `list_documents` and `read_document` (everyone, within what their role
//! may read), `draft_document` (editors) and `cite` (reviewers and up, as
//! in the web UI). Writes go through `curate` exactly as the JSON API's
//! routes do: revisions, the citation check (the passage must occur in the
//! message) and the audit log, recorded as `user (mcp token NAME)`.

use std::sync::Arc;

use serde_json::{json, Value};

use super::{flag, number, opt_string, string};
use crate::access::Role;
use crate::curate::queue::QueueOptions;
use crate::curate::redact::Reader;
use crate::curate::{Asked, Curation, Decision, DocKind, DocStatus, Document, NewCitation};
use crate::mcp::output::{self, DEFAULT_BUDGET};
use crate::mcp::{Caller, Mcp, McpError};
use crate::query::limits::Budget;
use crate::query::{self};

fn curation(mcp: &Mcp) -> Result<&Curation, McpError> {
    mcp.curation
        .as_ref()
        .ok_or_else(|| McpError::NotFound("this server has no curation database".into()))
}

fn asked<'a>(caller: &'a Caller, budget: &'a Arc<Budget>) -> Asked<'a> {
    Asked {
        allowed: caller.allowed_lists.as_deref(),
        now: crate::db::now(),
        budget,
    }
}

/// `review_queue`
pub fn review_queue(mcp: &Mcp, caller: &Caller, args: &Value) -> Result<Value, McpError> {
    let c = curation(mcp)?;
    let budget = output::budget(args, DEFAULT_BUDGET);
    let deadline = Budget::interactive();
    let Some(policy) = opt_string(args, "policy") else {
        let mut out = Vec::new();
        for mut p in c.policies()? {
            if let Some(allowed) = &caller.allowed_lists {
                p.lists
                    .retain(|l| allowed.iter().any(|a| a.eq_ignore_ascii_case(l)));
            }
            let progress = c.progress(&mcp.index, &p.name, &asked(caller, &deadline))?;
            out.push(json!({"policy": p, "progress": progress}));
        }
        return Ok(json!({"policies": out}));
    };
    let year = match args.get("year").and_then(Value::as_i64) {
        Some(y) => {
            Some(i32::try_from(y).map_err(|_| McpError::Invalid("year is out of range".into()))?)
        }
        None => None,
    };
    let opts = QueueOptions {
        offset: number(args, "offset", 0, usize::MAX)?,
        limit: number(args, "limit", 10, 100)?.max(1),
        include_decided: flag(args, "include_decided"),
        list: opt_string(args, "list").map(str::to_string),
        year,
        answers: true,
    };
    let q = c.queue(&mcp.index, policy, &opts, &asked(caller, &deadline))?;
    let items: Vec<Value> = q
        .items
        .iter()
        .map(|i| serde_json::to_value(i).unwrap_or(Value::Null))
        .collect();
    let shown = items.len();
    let (items, left) = output::fit(items, budget);
    Ok(json!({
        "policy": q.policy, "matching": q.matching, "offset": opts.offset,
        "progress": q.progress, "items": items,
        "truncated": output::truncated(left, shown, "ask for a smaller limit or a larger max_chars"),
    }))
}

/// `decide`
pub fn decide(mcp: &Mcp, caller: &Caller, args: &Value) -> Result<Value, McpError> {
    let c = curation(mcp)?;
    let policy = string(args, "policy")?;
    let decision: Decision = string(args, "decision")?.parse()?;
    let threads: Vec<String> = args
        .get("threads")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    if threads.is_empty() || threads.len() > 100 {
        return Err(McpError::Invalid(
            "give threads: 1 to 100 thread ids".into(),
        ));
    }
    let note = opt_string(args, "note").unwrap_or("");
    let allowed = caller.allowed_lists.as_deref();
    c.check_threads(&mcp.index, policy, &threads, allowed)?;
    let batch = c.decide(policy, &threads, decision, note, &caller.actor())?;
    let progress = c.progress(&mcp.index, policy, &asked(caller, &Budget::interactive()))?;
    Ok(json!({"batch": batch, "decided": threads.len(), "progress": progress}))
}

/// Readers see published documents only.
fn visible(caller: &Caller, d: &Document) -> bool {
    caller.role >= Role::Reviewer || d.status == DocStatus::Published
}

fn reader<'a>(mcp: &'a Mcp, caller: &'a Caller) -> Reader<'a> {
    Reader {
        index: &mcp.index,
        allowed: caller.allowed_lists.as_deref(),
    }
}

/// `list_documents`
pub fn list_documents(mcp: &Mcp, caller: &Caller, args: &Value) -> Result<Value, McpError> {
    let c = curation(mcp)?;
    let docs: Vec<Value> = c
        .documents()?
        .into_iter()
        .filter(|d| visible(caller, d))
        .map(|d| {
            json!({"id": d.id, "slug": d.slug, "kind": d.kind, "title": d.title, "owner": d.owner,
                "status": d.status, "revision": d.revision, "updated": crate::query::search::rfc3339(d.updated),
                "uri": format!("gleaner://document/{}", d.id)})
        })
        .collect();
    let total = docs.len();
    let (documents, left) = output::fit(docs, output::budget(args, DEFAULT_BUDGET));
    Ok(json!({"documents": documents,
        "truncated": output::truncated(left, total, "ask with a larger max_chars")}))
}

/// `read_document`
pub fn read_document(mcp: &Mcp, caller: &Caller, args: &Value) -> Result<Value, McpError> {
    let id = string(args, "document")?;
    let offset = number(args, "offset", 0, usize::MAX)?;
    document_json(
        mcp,
        caller,
        id,
        offset,
        output::budget(args, DEFAULT_BUDGET),
    )
}

/// A document as `read_document` and `gleaner://document/…` give it.
pub fn document_json(
    mcp: &Mcp,
    caller: &Caller,
    id: &str,
    offset: usize,
    budget: usize,
) -> Result<Value, McpError> {
    let c = curation(mcp)?;
    let not_found = || McpError::NotFound(format!("no document {id:?}"));
    let doc = c.document(id).map_err(|_| not_found())?;
    if !visible(caller, &doc) {
        return Err(not_found());
    }
    let read = c.read_document(id, Some(&reader(mcp, caller)))?;
    let citations: Vec<Value> = read
        .citations
        .iter()
        .map(|v| serde_json::to_value(v).unwrap_or(Value::Null))
        .collect();
    let total = citations.len();
    let (citations, left) = output::fit(citations, budget / 3);
    // Citations quoted where their markers place them, as the web shows it.
    let expanded = crate::curate::placed::expand(&read.document.body, &read.citations);
    let body = output::piece(&expanded, offset, budget / 2, "read_document with offset=");
    let d = &read.document;
    Ok(json!({
        "id": d.id, "slug": d.slug, "kind": d.kind, "title": d.title, "owner": d.owner,
        "status": d.status, "revision": d.revision, "uri": format!("gleaner://document/{}", d.id),
        "body": {"markdown": body.text, "offset": offset, "total_chars": body.total, "next_offset": body.next_offset},
        "citations": citations,
        "citations_truncated": output::truncated(left, total, "ask with a larger max_chars"),
    }))
}

/// `draft_document`
pub fn draft_document(mcp: &Mcp, caller: &Caller, args: &Value) -> Result<Value, McpError> {
    let c = curation(mcp)?;
    let kind: DocKind = string(args, "kind")?.parse()?;
    let title = string(args, "title")?;
    let body = args.get("body").and_then(Value::as_str).unwrap_or("");
    let owner = opt_string(args, "owner").unwrap_or(&caller.user);
    let doc = c.create_document(kind, title, owner, body, &caller.actor())?;
    Ok(
        json!({"document": {"id": doc.id, "slug": doc.slug, "kind": doc.kind, "title": doc.title,
        "owner": doc.owner, "status": doc.status, "revision": doc.revision,
        "uri": format!("gleaner://document/{}", doc.id)}}),
    )
}

/// `cite`
pub fn cite(mcp: &Mcp, caller: &Caller, args: &Value) -> Result<Value, McpError> {
    let c = curation(mcp)?;
    let id = string(args, "document")?;
    let mid = string(args, "message_id")?;
    let doc = c
        .document(id)
        .map_err(|_| McpError::NotFound(format!("no document {id:?}")))?;
    if !visible(caller, &doc) {
        return Err(McpError::NotFound(format!("no document {id:?}")));
    }
    let m = query::find_visible_message(&mcp.index, mid, caller.allowed_lists.as_deref())?
        .ok_or_else(|| {
            McpError::NotFound(format!(
                "no message {mid:?} (or not on a list you may read)"
            ))
        })?;
    let text = query::text::full_text(&m);
    let new = NewCitation::from_message(&m, opt_string(args, "passage"), text.as_deref())?;
    let (doc, citation) = c.cite(id, &new, &caller.actor())?;
    Ok(json!({
        "document": {"id": doc.id, "slug": doc.slug, "revision": doc.revision},
        "citation": citation,
        "footnote": format!("[^c{}]", citation.id),
    }))
}
