//! The reading tools: `search`, `read_message`, `read_thread`, `read_raw`,
//! `list_lists`, `stats`. Each answers only from the lists the caller may
//! read, through the same query functions as the JSON API; a message or
//! thread the caller cannot see is "not found", as one that does not exist.

use serde_json::{json, Value};

use super::{flag, number, opt_string, string};
use crate::index::doc::{display_address, StoredMessage};
use crate::mcp::output::{self, DEFAULT_BUDGET};
use crate::mcp::{Caller, Mcp, McpError};
use crate::query::search::rfc3339;
use crate::query::{self, facets, thread, Request, Sort};

/// The `gleaner://` URI of a message (the web permalink's id).
pub fn message_uri(m: &StoredMessage) -> String {
    let id = if m.message_id.is_empty() {
        &m.key
    } else {
        &m.message_id
    };
    format!("gleaner://message/{}", crate::curate::percent_encode(id))
}

/// The `gleaner://` URI of a conversation.
pub fn thread_uri(thread_id: &str) -> String {
    format!(
        "gleaner://thread/{}",
        crate::curate::percent_encode(thread_id)
    )
}

fn sort(args: &Value) -> Result<Sort, McpError> {
    match opt_string(args, "sort").unwrap_or("relevance") {
        "relevance" => Ok(Sort::Relevance),
        "date" => Ok(Sort::Date),
        "oldest" => Ok(Sort::Oldest),
        other => Err(McpError::Invalid(format!(
            "sort is relevance, date or oldest, not {other:?}"
        ))),
    }
}

fn request(mcp: &Mcp, caller: &Caller, args: &Value) -> Result<Request, McpError> {
    Ok(Request {
        query: string(args, "query")?.to_string(),
        limit: number(args, "limit", 10, 50)?.max(1),
        offset: number(args, "offset", 0, usize::MAX)?,
        sort: sort(args)?,
        now: crate::db::now(),
        allowed_lists: caller.allowed_lists.clone(),
        marks: crate::marks::for_role(mcp.curation.as_ref(), mcp.retention.as_ref(), caller.role),
    })
}

fn hit_json(m: &StoredMessage, snippet: &str) -> Value {
    json!({
        "message_id": m.message_id,
        "thread_id": m.thread_id,
        "date": rfc3339(m.date),
        "from": m.from.first().cloned().unwrap_or_default(),
        "subject": m.subject,
        "list": m.list,
        "snippet": snippet,
        "uri": message_uri(m),
    })
}

/// `search`
pub fn search(mcp: &Mcp, caller: &Caller, args: &Value) -> Result<Value, McpError> {
    let req = request(mcp, caller, args)?;
    let budget = output::budget(args, DEFAULT_BUDGET);
    let by_message = match opt_string(args, "results").unwrap_or("conversations") {
        "messages" => true,
        "conversations" => false,
        other => {
            return Err(McpError::Invalid(format!(
                "results is conversations or messages, not {other:?}"
            )))
        }
    };
    // Facets, when asked for, come from the same pass as the results.
    let want_facets = flag(args, "facets");
    let mut facets = None;
    let mut out = if by_message {
        let r = if want_facets {
            let (r, f) = query::search::search_with_facets(&mcp.index, &req)?;
            facets = Some(f);
            r
        } else {
            query::search(&mcp.index, &req)?
        };
        let items: Vec<Value> = r
            .hits
            .iter()
            .map(|h| hit_json(&h.message, &h.snippet.text))
            .collect();
        let shown = items.len();
        let (hits, left) = output::fit(items, budget);
        json!({
            "query": req.query, "results": "messages", "total": r.total, "offset": req.offset,
            "next_offset": (req.offset + shown - left < r.total).then_some(req.offset + shown - left),
            "hits": hits,
            "truncated": output::truncated(left, shown, "ask again with that offset or a larger max_chars"),
        })
    } else {
        let r = if want_facets {
            let (r, f) = query::conversations::conversations_with_facets(&mcp.index, &req)?;
            facets = Some(f);
            r
        } else {
            query::conversations::conversations(&mcp.index, &req)?
        };
        let items: Vec<Value> = r
            .page
            .iter()
            .map(|c| {
                let mut v = hit_json(&c.best.message, &c.best.snippet.text);
                v["matching_messages"] = json!(c.matching);
                v["conversation_size"] = json!(c.size);
                v["conversation_subject"] = json!(c.subject);
                v["participants"] = json!(c.participants);
                v["first_date"] = json!(crate::query::search::rfc3339(c.first_date));
                v["last_date"] = json!(crate::query::search::rfc3339(c.last_date));
                v["thread_uri"] = json!(thread_uri(&c.thread_id));
                v
            })
            .collect();
        let shown = items.len();
        let (conversations, left) = output::fit(items, budget);
        let next = req.offset + shown - left;
        json!({
            "query": req.query, "results": "conversations",
            "total": r.total, "total_messages": r.total_messages, "offset": req.offset,
            "next_offset": (next < r.total).then_some(next),
            "conversations": conversations,
            "truncated": output::truncated(left, shown, "ask again with that offset or a larger max_chars"),
        })
    };
    if let Some(f) = facets {
        out["facets"] = json!({"list": f.list, "year": f.year, "from": f.from});
    }
    Ok(out)
}

/// The message `id` names, if the caller may see it.
fn visible_message(mcp: &Mcp, caller: &Caller, id: &str) -> Result<StoredMessage, McpError> {
    query::find_visible_message(&mcp.index, id, caller.allowed_lists.as_deref())?.ok_or_else(|| {
        McpError::NotFound(format!("no message {id:?} (or not on a list you may read)"))
    })
}

/// `read_message`
pub fn read_message(mcp: &Mcp, caller: &Caller, args: &Value) -> Result<Value, McpError> {
    let m = visible_message(mcp, caller, string(args, "message_id")?)?;
    let budget = output::budget(args, DEFAULT_BUDGET);
    let offset = number(args, "offset", 0, usize::MAX)?;
    Ok(message_json(
        mcp,
        &m,
        offset,
        budget,
        flag(args, "include_quoted"),
    ))
}

/// A message as `read_message` and `gleaner://message/…` give it.
pub fn message_json(
    mcp: &Mcp,
    m: &StoredMessage,
    offset: usize,
    budget: usize,
    quoted: bool,
) -> Value {
    let doc = query::text::decode(m);
    let addrs = |v: &[crate::extract::Address]| v.iter().map(display_address).collect::<Vec<_>>();
    let (own, quoted_text, to, cc, attachments, html_only) = match &doc {
        Some(d) => (
            d.body.as_str(),
            d.quoted.as_str(),
            addrs(&d.to),
            addrs(&d.cc),
            json!(d.attachments),
            d.html_only,
        ),
        // Unreadable mail: what the index keeps (the start of the own words).
        None => (
            m.text.as_str(),
            "",
            m.to.clone(),
            m.cc.clone(),
            json!([]),
            false,
        ),
    };
    // The headers and lists take about 1,500 characters; the rest is text.
    let text_budget = budget.saturating_sub(1_500).max(500);
    let (own_budget, quoted_budget) = if quoted {
        (text_budget * 3 / 4, text_budget / 4)
    } else {
        (text_budget, 0)
    };
    let piece = output::piece(own, offset, own_budget, "read_message with offset=");
    let mut out = json!({
        "message_id": m.message_id,
        "key": m.key,
        "thread_id": m.thread_id,
        "uri": message_uri(m),
        "date": rfc3339(m.date),
        "from": m.from,
        "from_header": m.from_header,
        "to": to,
        "cc": cc,
        "subject": m.subject,
        "list": m.list,
        "in_reply_to": m.in_reply_to,
        "lang": m.lang,
        "size": m.size,
        "attachments": attachments,
        "html_only": html_only,
        "own_words": {"text": piece.text, "offset": offset, "total_chars": piece.total,
            "next_offset": piece.next_offset},
        "quoted_chars": quoted_text.chars().count(),
        "unreadable": doc.is_none(),
    });
    if quoted {
        out["quoted"] = json!(output::short(quoted_text, quoted_budget));
    }
    if let Some(c) = &mcp.curation {
        if let Ok(docs) = c.citing_documents(&m.message_id) {
            out["cited_in"] = json!(docs);
        }
    }
    out
}

/// `read_thread`
pub fn read_thread(mcp: &Mcp, caller: &Caller, args: &Value) -> Result<Value, McpError> {
    let id = string(args, "thread_id")?;
    let budget = output::budget(args, DEFAULT_BUDGET);
    let per = number(args, "per_message_chars", 1_500, 8_000)?.max(100);
    thread_json(mcp, caller, id, per, budget)
}

/// A conversation as `read_thread` and `gleaner://thread/…` give it.
pub fn thread_json(
    mcp: &Mcp,
    caller: &Caller,
    id: &str,
    per: usize,
    budget: usize,
) -> Result<Value, McpError> {
    let allowed = caller.allowed_lists.as_deref();
    let mut found = thread::thread(&mcp.index, id, allowed)?;
    if found.is_none() {
        // Any Message-ID of the conversation names it too.
        if let Some(m) = query::find_visible_message(&mcp.index, id, allowed)? {
            found = thread::thread(&mcp.index, &m.thread_id, allowed)?;
        }
    }
    let t = found.ok_or_else(|| {
        McpError::NotFound(format!("no conversation {id:?} (or none you may read)"))
    })?;
    let mut flat = Vec::new();
    let mut stack: Vec<(usize, thread::ThreadNode)> =
        t.roots.into_iter().rev().map(|n| (0, n)).collect();
    while let Some((depth, node)) = stack.pop() {
        let m = node.message;
        flat.push((
            m.date,
            json!({
                "message_id": m.message_id,
                "date": rfc3339(m.date),
                "from": m.from.first().cloned().unwrap_or_default(),
                "depth": depth,
                "in_reply_to": m.in_reply_to,
                "own_words": output::short(&preview_keep_lines(&m.text), per),
            }),
        ));
        stack.extend(node.children.into_iter().rev().map(|n| (depth + 1, n)));
    }
    flat.sort_by_key(|(date, _)| *date);
    let items: Vec<Value> = flat.into_iter().map(|(_, v)| v).collect();
    let total = items.len();
    let (messages, left) = output::fit(items, budget);
    Ok(json!({
        "thread_id": t.thread_id,
        "uri": thread_uri(&t.thread_id),
        "subject": t.subject,
        "total_messages": total,
        "messages": messages,
        "note": "own_words is each author's text without quoted history (the index keeps its first 8 KiB); read_message gives a message whole",
        "truncated": output::truncated(left, total, "read the rest with read_message, or a larger max_chars or smaller per_message_chars"),
    }))
}

/// `text` with runs of blank lines collapsed (line breaks kept: they carry
/// the structure of steps and commands).
fn preview_keep_lines(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank = 0;
    for line in text.lines() {
        let line = line.trim_end();
        if line.is_empty() {
            blank += 1;
            if blank > 1 {
                continue;
            }
        } else {
            blank = 0;
        }
        out.push_str(line);
        out.push('\n');
    }
    out.trim().to_string()
}

/// `read_raw`
pub fn read_raw(mcp: &Mcp, caller: &Caller, args: &Value) -> Result<Value, McpError> {
    let m = visible_message(mcp, caller, string(args, "message_id")?)?;
    let budget = output::budget(args, DEFAULT_BUDGET);
    let offset = number(args, "offset", 0, usize::MAX)?;
    let bytes = crate::store::read_first(&m.locations)
        .map_err(|e| McpError::Internal(format!("reading {}: {e}", m.key)))?;
    let text = String::from_utf8_lossy(&bytes);
    let piece = output::piece(
        &text,
        offset,
        budget.saturating_sub(500),
        "read_raw with offset=",
    );
    Ok(json!({
        "message_id": m.message_id, "uri": message_uri(&m), "bytes": bytes.len(),
        "raw": {"text": piece.text, "offset": offset, "total_chars": piece.total, "next_offset": piece.next_offset},
        "note": "non-UTF-8 bytes are shown as U+FFFD",
    }))
}

/// `list_lists`
pub fn list_lists(mcp: &Mcp, caller: &Caller) -> Result<Value, McpError> {
    let s = query::stats::stats_for(&mcp.index, caller.allowed_lists.as_deref())?;
    let lists: Vec<Value> = s
        .lists
        .iter()
        .map(|(list, n)| json!({"list": list, "messages": n}))
        .collect();
    Ok(json!({"lists": lists, "messages": s.messages}))
}

/// `stats`
pub fn stats(mcp: &Mcp, caller: &Caller, args: &Value) -> Result<Value, McpError> {
    let allowed = caller.allowed_lists.as_deref();
    let s = query::stats::stats_for(&mcp.index, allowed)?;
    let budget = output::budget(args, DEFAULT_BUDGET);
    let mut lists = Vec::new();
    for (list, n) in &s.lists {
        let req = Request {
            query: format!("list:\"{}\"", list.replace('"', "")),
            limit: 1,
            offset: 0,
            sort: Sort::Relevance,
            now: crate::db::now(),
            allowed_lists: caller.allowed_lists.clone(),
            marks: None,
        };
        let years: serde_json::Map<String, Value> = facets::facets(&mcp.index, &req)?
            .year
            .into_iter()
            .map(|y| (y.value, json!(y.count)))
            .collect();
        lists.push(json!({"list": list, "messages": n, "per_year": years}));
    }
    let total = lists.len();
    let (lists, left) = output::fit(lists, budget);
    let date = |d: Option<i64>| d.map(rfc3339);
    Ok(json!({
        "messages": s.messages,
        "first_date": date(s.first_date),
        "last_date": date(s.last_date),
        "undated": s.undated,
        "languages": s.languages.iter().map(|(l, n)| json!({"lang": l, "messages": n})).collect::<Vec<_>>(),
        "lists": lists,
        "truncated": output::truncated(left, total, "use list_lists, or a larger max_chars"),
    }))
}
