//! The tools an assistant may call: their names, JSON schemas, who may call
//! them, and the dispatch. Reading tools (`archive.rs`) answer within the
//! caller's lists; curation tools (`curation.rs`) go through `curate`, as
//! the web UI's routes do, recording the caller as `user (mcp token NAME)`.

pub(super) mod archive;
pub(super) mod curation;

use serde_json::{json, Value};

use super::{output, Caller, Mcp, McpError};
use crate::access::Role;

/// One tool as `tools/list` shows it.
struct ToolDef {
    name: &'static str,
    title: &'static str,
    description: &'static str,
    /// The lowest role that may call it.
    role: Role,
    /// It changes something (refused to read-only tokens).
    writes: bool,
    /// Its `inputSchema` properties and required ones.
    properties: Value,
    required: &'static [&'static str],
}

fn max_chars() -> Value {
    json!({"type": "integer", "minimum": output::BUDGET_RANGE.0, "maximum": output::BUDGET_RANGE.1,
        "description": "Characters of JSON this answer may take (default 20000); longer answers are cut, and say so."})
}

fn defs() -> Vec<ToolDef> {
    vec![
        ToolDef {
            name: "search",
            title: "Search the archive",
            description: "Searches the mail the caller may read, in gleaner's query language: words are ANDed; \"exact phrase\"; OR; -word or NOT; ( ); fields from: to: cc: subject: body: list: id: thread: filename: lang:; has:attachment; dates after:2019-03-01 before:2020 date:2018..2019-06 older:6y newer:30d; prefix*. Totals are exact. results=conversations (default) groups matches by thread; results=messages lists messages.",
            role: Role::Reader,
            writes: false,
            properties: json!({
                "query": {"type": "string", "description": "The query, e.g. 'disk full list:ops.lists.example.org after:2019'"},
                "results": {"type": "string", "enum": ["conversations", "messages"], "default": "conversations"},
                "sort": {"type": "string", "enum": ["relevance", "date", "oldest"], "default": "relevance"},
                "limit": {"type": "integer", "minimum": 1, "maximum": 50, "default": 10},
                "offset": {"type": "integer", "minimum": 0, "default": 0},
                "facets": {"type": "boolean", "default": false, "description": "Also count matches per list, year and sender."},
                "max_chars": max_chars(),
            }),
            required: &["query"],
        },
        ToolDef {
            name: "read_message",
            title: "Read one message",
            description: "One message, decoded: key headers, the author's own words separate from the quoted text they replied to, attachments listed (names, types, sizes). Long text is cut with a marker giving the offset to read on from.",
            role: Role::Reader,
            writes: false,
            properties: json!({
                "message_id": {"type": "string", "description": "The Message-ID (angle brackets optional) or a key from search."},
                "offset": {"type": "integer", "minimum": 0, "default": 0, "description": "Character of the own words to start at (from a cut's marker)."},
                "include_quoted": {"type": "boolean", "default": false, "description": "Also give the quoted text (cut to a quarter of the budget)."},
                "max_chars": max_chars(),
            }),
            required: &["message_id"],
        },
        ToolDef {
            name: "read_thread",
            title: "Read a conversation",
            description: "A whole conversation, compact: each message's Message-ID, date, author and own words (quoted history left out), oldest first, with its depth in the reply tree.",
            role: Role::Reader,
            writes: false,
            properties: json!({
                "thread_id": {"type": "string", "description": "A thread id from search, or any Message-ID in the conversation."},
                "per_message_chars": {"type": "integer", "minimum": 100, "maximum": 8000, "default": 1500},
                "max_chars": max_chars(),
            }),
            required: &["thread_id"],
        },
        ToolDef {
            name: "read_raw",
            title: "Read a message's raw MIME",
            description: "The message exactly as stored (headers and MIME parts), cut to the budget. Only when the decoded view of read_message is not enough.",
            role: Role::Reader,
            writes: false,
            properties: json!({
                "message_id": {"type": "string"},
                "offset": {"type": "integer", "minimum": 0, "default": 0},
                "max_chars": max_chars(),
            }),
            required: &["message_id"],
        },
        ToolDef {
            name: "list_lists",
            title: "The lists",
            description: "The mailing lists the caller may read, with their message counts.",
            role: Role::Reader,
            writes: false,
            properties: json!({}),
            required: &[],
        },
        ToolDef {
            name: "stats",
            title: "What the archive holds",
            description: "Messages, date range and languages of what the caller may read, and per list its messages per year.",
            role: Role::Reader,
            writes: false,
            properties: json!({"max_chars": max_chars()}),
            required: &[],
        },
        ToolDef {
            name: "review_queue",
            title: "Review queues",
            description: "Without policy: the review policies and their progress. With policy: its queue of old threads, best candidates first, each with its score explained.",
            role: Role::Reviewer,
            writes: false,
            properties: json!({
                "policy": {"type": "string"},
                "limit": {"type": "integer", "minimum": 1, "maximum": 100, "default": 10},
                "offset": {"type": "integer", "minimum": 0, "default": 0},
                "list": {"type": "string"},
                "year": {"type": "integer"},
                "include_decided": {"type": "boolean", "default": false},
                "max_chars": max_chars(),
            }),
            required: &[],
        },
        ToolDef {
            name: "decide",
            title: "Decide on threads",
            description: "Records a decision (promote, keep or dismiss) on threads of a review queue, as one undoable batch.",
            role: Role::Reviewer,
            writes: true,
            properties: json!({
                "policy": {"type": "string"},
                "threads": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 100},
                "decision": {"type": "string", "enum": ["promote", "keep", "dismiss"]},
                "note": {"type": "string", "default": ""},
            }),
            required: &["policy", "threads", "decision"],
        },
        ToolDef {
            name: "list_documents",
            title: "Curated documents",
            description: "The curated documents (procedures, policies, guidelines) the caller may read: readers see published ones, reviewers and editors drafts too.",
            role: Role::Reader,
            writes: false,
            properties: json!({"max_chars": max_chars()}),
            required: &[],
        },
        ToolDef {
            name: "read_document",
            title: "Read a document",
            description: "A document's Markdown body and its citations (a citation of a message the caller cannot read is a placeholder).",
            role: Role::Reader,
            writes: false,
            properties: json!({
                "document": {"type": "string", "description": "Number or slug."},
                "offset": {"type": "integer", "minimum": 0, "default": 0},
                "max_chars": max_chars(),
            }),
            required: &["document"],
        },
        ToolDef {
            name: "draft_document",
            title: "Draft a document",
            description: "Creates a draft document (revision 1), owned by the caller unless owner is given. Add evidence with cite.",
            role: Role::Editor,
            writes: true,
            properties: json!({
                "kind": {"type": "string", "enum": ["procedure", "policy", "guideline"]},
                "title": {"type": "string", "minLength": 1, "maxLength": 300},
                "body": {"type": "string", "default": "", "description": "Markdown."},
                "owner": {"type": "string"},
            }),
            required: &["kind", "title"],
        },
        ToolDef {
            name: "cite",
            title: "Cite a message",
            description: "Cites a quoted passage of a message in a document as a new revision: a marker line {{cite:N}} at the end of the body, which reads as the quotation with a footnote naming its author, date, list and Message-ID (editors move the marker where it belongs). The passage must occur in the message as written (whitespace aside); without one, the start of the message is quoted.",
            role: Role::Reviewer,
            writes: true,
            properties: json!({
                "document": {"type": "string", "description": "Number or slug."},
                "message_id": {"type": "string"},
                "passage": {"type": "string"},
            }),
            required: &["document", "message_id"],
        },
    ]
}

/// Is there a tool called `name`?
pub fn exists(name: &str) -> bool {
    defs().iter().any(|d| d.name == name)
}

/// The tools `caller` may use, as `tools/list` gives them.
pub fn list(caller: &Caller) -> Vec<Value> {
    defs()
        .into_iter()
        .filter(|d| caller.role >= d.role && !(d.writes && caller.read_only))
        .map(|d| {
            json!({
                "name": d.name,
                "title": d.title,
                "description": d.description,
                "inputSchema": {"type": "object", "properties": d.properties,
                    "required": d.required, "additionalProperties": false},
                "annotations": {"title": d.title, "readOnlyHint": !d.writes,
                    "destructiveHint": false, "idempotentHint": !d.writes, "openWorldHint": false},
            })
        })
        .collect()
}

/// Calls tool `name` for `caller`: its answer, or why it failed.
pub fn call(mcp: &Mcp, caller: &Caller, name: &str, args: &Value) -> Result<Value, McpError> {
    let def = defs()
        .into_iter()
        .find(|d| d.name == name)
        .ok_or_else(|| McpError::Invalid(format!("no tool named {name:?}")))?;
    caller.require(def.role, def.writes, name)?;
    if !args.is_object() {
        return Err(McpError::Invalid("arguments must be an object".into()));
    }
    let value = match name {
        "search" => archive::search(mcp, caller, args)?,
        "read_message" => archive::read_message(mcp, caller, args)?,
        "read_thread" => archive::read_thread(mcp, caller, args)?,
        "read_raw" => archive::read_raw(mcp, caller, args)?,
        "list_lists" => archive::list_lists(mcp, caller)?,
        "stats" => archive::stats(mcp, caller, args)?,
        "review_queue" => curation::review_queue(mcp, caller, args)?,
        "decide" => curation::decide(mcp, caller, args)?,
        "list_documents" => curation::list_documents(mcp, caller, args)?,
        "read_document" => curation::read_document(mcp, caller, args)?,
        "draft_document" => curation::draft_document(mcp, caller, args)?,
        "cite" => curation::cite(mcp, caller, args)?,
        _ => return Err(McpError::Invalid(format!("no tool named {name:?}"))),
    };
    Ok(output::tool_result(value))
}

/// A required string argument.
fn string<'a>(args: &'a Value, name: &str) -> Result<&'a str, McpError> {
    args.get(name)
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| McpError::Invalid(format!("give {name} (a non-empty string)")))
}

/// An optional string argument.
fn opt_string<'a>(args: &'a Value, name: &str) -> Option<&'a str> {
    args.get(name)
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
}

/// An optional whole number, at most `max`.
fn number(args: &Value, name: &str, default: usize, max: usize) -> Result<usize, McpError> {
    match args.get(name) {
        None | Some(Value::Null) => Ok(default),
        Some(v) => v
            .as_u64()
            .and_then(|n| usize::try_from(n).ok())
            .filter(|n| *n <= max)
            .ok_or_else(|| {
                McpError::Invalid(format!("{name} must be a whole number from 0 to {max}"))
            }),
    }
}

/// An optional boolean.
fn flag(args: &Value, name: &str) -> bool {
    args.get(name).and_then(Value::as_bool).unwrap_or(false)
}
