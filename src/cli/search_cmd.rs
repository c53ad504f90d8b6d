//! `gleaner search` and `gleaner stats`.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use gleaner::curate::Curation;
use gleaner::index::MailIndex;
use gleaner::query::marks::{Combined, Lazy};
use gleaner::query::{self, Marks, Request, Sort};
use gleaner::retention::Retention;
use serde_json::json;

use super::SortArg;

pub use gleaner::query::search::rfc3339;

fn day(secs: i64) -> String {
    rfc3339(secs).get(..10).unwrap_or("????-??-??").to_string()
}

pub(super) fn open(data: &Path) -> anyhow::Result<MailIndex> {
    Ok(MailIndex::open(&data.join("index"), false)?)
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// `gleaner search QUERY`
/// The curation and retention marks (`is:`, `cited:`), opened only when a
/// query asks for them.
fn lazy_marks(config: &gleaner::config::Config, data: &Path) -> Arc<dyn Marks> {
    let (dir, public_url) = (data.to_path_buf(), config.http.public_url());
    Arc::new(Lazy::new(move || {
        let curation = Curation::open(&dir, &public_url).map_err(|e| e.to_string())?;
        let retention = Retention::open(&dir).map_err(|e| e.to_string())?;
        Ok(Arc::new(Combined(vec![Arc::new(curation), Arc::new(retention)])) as Arc<dyn Marks>)
    }))
}

/// `search --output ids|files|threads`: every hit (or `limit` of them after
/// `offset`), oldest first, one line each, no snippets: what scripts and
/// mail clients want from a whole result set.
pub fn list_hits(
    config: &gleaner::config::Config,
    data: &Path,
    text: &str,
    output: super::OutputArg,
    limit: Option<usize>,
    offset: usize,
) -> anyhow::Result<ExitCode> {
    use super::OutputArg;
    use gleaner::store::Location;
    let index = open(data)?;
    let req = Request {
        query: text.to_string(),
        limit: 0,
        offset: 0,
        sort: Sort::Oldest,
        now: now(),
        allowed_lists: None,
        marks: Some(lazy_marks(config, data)),
    };
    let budget = Arc::new(gleaner::query::limits::Budget::job());
    let found = query::search::matching(&index, &req, &budget)?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    // Read from the fast columns, never the document store: a message's key
    // (`<Message-ID>`, or the content key of one without), its locations, its
    // conversation.
    let field = match output {
        OutputArg::Ids | OutputArg::Summary => "key",
        OutputArg::Files => "location",
        OutputArg::Threads => "thread",
    };
    let mut threads = std::collections::HashSet::new();
    // Items are what --offset and --limit count: a message (ids, files: all
    // its copies are one item) or a conversation (threads).
    let (first, end) = (offset, offset.saturating_add(limit.unwrap_or(usize::MAX)));
    let (mut items, mut last) = (0usize, None);
    let mut failed: Option<std::io::Error> = None;
    found.each_fast_value(field, &budget, |n, value| {
        let line = match output {
            OutputArg::Ids | OutputArg::Summary => {
                let id = value.strip_prefix('<').and_then(|v| v.strip_suffix('>'));
                format!("id:{}", id.unwrap_or(value))
            }
            OutputArg::Files => match Location::from_uri(value) {
                Ok(Location::File { path }) => path.display().to_string(),
                _ => value.to_string(),
            },
            OutputArg::Threads => {
                if !threads.insert(value.to_string()) {
                    return true;
                }
                format!("thread:{value}")
            }
        };
        let new_item = output == OutputArg::Threads || last != Some(n);
        last = Some(n);
        if new_item {
            items += 1;
        }
        if items > end {
            return false;
        }
        if items <= first {
            return true;
        }
        if let Err(e) = writeln!(out, "{line}") {
            failed = Some(e);
            return false;
        }
        true
    })?;
    match failed {
        // The reader went away (`| head`): not an error.
        Some(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(ExitCode::SUCCESS),
        Some(e) => return Err(e.into()),
        None => {}
    }
    let flushed = out.flush();
    // The process ends next: its exit unmaps the index's files in one go,
    // where dropping the reader unmapped each segment file by itself
    // (~0.2 ms of a whole-result listing).
    std::mem::forget(found);
    std::mem::forget(index);
    match flushed {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(ExitCode::SUCCESS),
    }
}

/// How `gleaner search` lays out its summary.
pub struct Shape {
    /// Results to show (messages, or conversations with `threads`).
    pub limit: usize,
    /// Results to skip.
    pub offset: usize,
    /// Their order.
    pub sort: SortArg,
    /// One JSON object per result instead of text.
    pub json: bool,
    /// Conversations instead of messages.
    pub threads: bool,
    /// Columns to wrap at.
    pub width: usize,
}

pub use super::layout::width;
use super::layout::{fill, wrap};

/// `gleaner search QUERY` (the summary).
pub fn search(
    config: &gleaner::config::Config,
    data: &Path,
    text: &str,
    shape: &Shape,
) -> anyhow::Result<ExitCode> {
    let index = open(data)?;
    let req = Request {
        query: text.to_string(),
        limit: shape.limit,
        offset: shape.offset,
        sort: match shape.sort {
            SortArg::Relevance => Sort::Relevance,
            SortArg::Date => Sort::Date,
            SortArg::Oldest => Sort::Oldest,
        },
        now: now(),
        allowed_lists: None,
        marks: Some(lazy_marks(config, data)),
    };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let result = if shape.threads {
        let found = query::conversations::conversations(&index, &req)?;
        print_conversations(&mut out, &index, &req, &found, shape)
    } else {
        let found = query::search(&index, &req)?;
        print_hits(&mut out, &index, &req, &found, shape)
    };
    match result.and_then(|()| out.flush()) {
        // The reader went away (`| head`): not an error.
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(ExitCode::SUCCESS),
    }
}

/// Highlight marks: colour on a terminal, brackets elsewhere.
fn marks() -> (&'static str, &'static str) {
    if std::io::stdout().is_terminal() {
        ("\x1b[1;33m", "\x1b[0m")
    } else {
        ("[", "]")
    }
}

fn hit_json(hit: &query::Hit) -> serde_json::Value {
    let m = &hit.message;
    json!({
        "message_id": m.message_id,
        "key": m.key,
        "thread_id": m.thread_id,
        "date": rfc3339(m.date),
        "from": m.from.first().cloned().unwrap_or_default(),
        "subject": m.subject,
        "list": m.list,
        "score": hit.score,
        "snippet": hit.snippet.text,
    })
}

fn print_hits(
    out: &mut impl Write,
    index: &MailIndex,
    req: &Request,
    results: &query::Results,
    shape: &Shape,
) -> std::io::Result<()> {
    if shape.json {
        // Unchanged since 0.1: one object per hit, each with the total.
        for hit in &results.hits {
            let mut line = hit_json(hit);
            line["total"] = json!(results.total);
            writeln!(out, "{line}")?;
        }
        return Ok(());
    }
    let (open_mark, close_mark) = marks();
    for hit in &results.hits {
        let m = &hit.message;
        let from = m
            .from
            .first()
            .map(String::as_str)
            .unwrap_or("(unknown sender)");
        let head = [day(m.date), m.list.clone(), from.to_string()];
        for line in fill(&head, "  ", "", "            ", shape.width) {
            writeln!(out, "{line}")?;
        }
        for line in wrap(or_no_subject(&m.subject), "    ", shape.width) {
            writeln!(out, "{line}")?;
        }
        snippet_lines(out, &hit.snippet.marked(open_mark, close_mark), shape.width)?;
        writeln!(out, "    id:{}", message_ref(m))?;
        writeln!(out)?;
    }
    let total = results.total;
    let shown = span(shape.offset, results.hits.len());
    let summary = match (total, shown) {
        (0, _) => "No messages match".to_string(),
        (_, None) => format!(
            "{} match; none past {}",
            plural(total, "message"),
            shape.offset
        ),
        (_, Some((a, b))) => format!("{} match, {a}–{b} shown", plural(total, "message")),
    };
    writeln!(out, "{summary} ({:.1} ms).", results.took_ms)?;
    did_you_mean(out, index, req, total)
}

fn print_conversations(
    out: &mut impl Write,
    index: &MailIndex,
    req: &Request,
    found: &query::conversations::Conversations,
    shape: &Shape,
) -> std::io::Result<()> {
    if shape.json {
        // One object per conversation (`"kind": "conversation"`), its best
        // hit inside as `--json` prints a hit.
        for c in &found.page {
            let line = json!({
                "kind": "conversation",
                "thread_id": c.thread_id,
                "subject": c.subject,
                "matching": c.matching,
                "size": c.size,
                "participants": c.participants,
                "participants_total": c.participants_total,
                "first_date": rfc3339(c.first_date),
                "last_date": rfc3339(c.last_date),
                "hit": hit_json(&c.best),
                "total": found.total,
                "total_messages": found.total_messages,
            });
            writeln!(out, "{line}")?;
        }
        return Ok(());
    }
    let (open_mark, close_mark) = marks();
    for c in &found.page {
        let m = &c.best.message;
        let count = format!("[{} of {}]", c.matching, plural(c.size, "message"));
        for line in wrap(
            &format!("{count} {}", or_no_subject(&c.subject)),
            "",
            shape.width,
        ) {
            writeln!(out, "{line}")?;
        }
        let dates = if day(c.first_date) == day(c.last_date) {
            day(c.first_date)
        } else {
            format!("{} – {}", day(c.first_date), day(c.last_date))
        };
        let mut people: Vec<String> = c
            .participants
            .iter()
            .map(|p| query::conversations::name_of(p).to_string())
            .collect();
        let more = c.participants_total.saturating_sub(people.len());
        if more > 0 {
            people.push(format!("+{more} more"));
        }
        let mut about = vec![dates, m.list.clone()];
        about.push(format!("by {}", people.join(", ")));
        for line in fill(&about, " · ", "    ", "    ", shape.width) {
            writeln!(out, "{line}")?;
        }
        snippet_lines(
            out,
            &c.best.snippet.marked(open_mark, close_mark),
            shape.width,
        )?;
        let refs = [
            format!("best: id:{}", message_ref(m)),
            format!("all: thread:{}", c.thread_id),
        ];
        for line in fill(&refs, "   ", "    ", "    ", shape.width) {
            writeln!(out, "{line}")?;
        }
        writeln!(out)?;
    }
    let shown = span(shape.offset, found.page.len());
    let summary = match (found.total, shown) {
        (0, _) => "No messages match".to_string(),
        (n, None) => format!(
            "{} in {} match; none past {}",
            plural(found.total_messages, "message"),
            plural(n, "conversation"),
            shape.offset
        ),
        (n, Some((a, b))) => format!(
            "{} in {} match, conversations {a}–{b} shown",
            plural(found.total_messages, "message"),
            plural(n, "conversation"),
        ),
    };
    writeln!(out, "{summary} ({:.1} ms).", found.took_ms)?;
    did_you_mean(out, index, req, found.total_messages)
}

/// "Did you mean …?" for a query that found almost nothing.
fn did_you_mean(
    out: &mut impl Write,
    index: &MailIndex,
    req: &Request,
    total: usize,
) -> std::io::Result<()> {
    // A failed suggestion is no reason to fail the search.
    if let Ok(Some(s)) = query::suggest::did_you_mean(index, req, total) {
        writeln!(
            out,
            "Did you mean: {} ({})?",
            s.query,
            plural(s.total, "message")
        )?;
    }
    Ok(())
}

/// The snippet, wrapped, at most three lines (the rest marked `…`).
fn snippet_lines(out: &mut impl Write, snippet: &str, width: usize) -> std::io::Result<()> {
    let lines = wrap(snippet, "    ", width);
    let n = lines.len();
    for (i, line) in lines.into_iter().take(3).enumerate() {
        if i == 2 && n > 3 {
            writeln!(out, "{line} …")?;
        } else {
            writeln!(out, "{line}")?;
        }
    }
    Ok(())
}

/// The 1-based first and last shown, `None` when nothing is shown.
fn span(offset: usize, shown: usize) -> Option<(usize, usize)> {
    (shown > 0).then(|| (offset.saturating_add(1), offset.saturating_add(shown)))
}

fn plural(n: usize, one: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {one}s")
    }
}

fn or_no_subject(s: &str) -> &str {
    if s.trim().is_empty() {
        "(no subject)"
    } else {
        s
    }
}

fn message_ref(m: &gleaner::index::doc::StoredMessage) -> &str {
    if m.message_id.is_empty() {
        &m.key
    } else {
        &m.message_id
    }
}

/// `gleaner stats`
pub fn stats(data: &Path, as_json: bool) -> anyhow::Result<ExitCode> {
    let index = open(data)?;
    let s = query::stats::stats(&index)?;
    // The watermark as of the last commit (`gleaner serve`'s last pass, or
    // else the time of the last commit, whoever made it).
    let watermark = gleaner::index::live::start_watermark(&index);
    if as_json {
        let mut v = serde_json::to_value(&s)?;
        v["watermark"] = serde_json::to_value(&watermark)?;
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!("messages:   {}", s.messages);
    match (s.first_date, s.last_date) {
        (Some(a), Some(b)) => println!(
            "dates:      {} .. {} ({} undated)",
            day(a),
            day(b),
            s.undated
        ),
        _ => println!("dates:      none ({} undated)", s.undated),
    }
    println!("index size: {:.1} MB", s.index_bytes as f64 / 1e6);
    println!(
        "authors:    {} recovered from list rewriting, {} not recovered",
        s.authors_recovered, s.authors_not_recovered
    );
    println!("lists ({}):", s.lists.len());
    for (list, n) in &s.lists {
        println!("  {n:>8}  {list}");
    }
    let langs: Vec<String> = s
        .languages
        .iter()
        .map(|(l, n)| format!("{l} {n}"))
        .collect();
    println!("languages:  {}", langs.join(", "));
    match watermark.indexed_through {
        Some(t) => println!(
            "indexed through: {} (everything delivered before it is searchable)",
            rfc3339(t)
        ),
        None => println!("indexed through: - (nothing committed yet)"),
    }
    for src in &watermark.sources {
        if let Some(e) = &src.last_error {
            println!("  source {}: last error: {e}", src.path);
        }
    }
    Ok(ExitCode::SUCCESS)
}
