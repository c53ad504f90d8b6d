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
    match out.flush() {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(ExitCode::SUCCESS),
    }
}

pub fn search(
    config: &gleaner::config::Config,
    data: &Path,
    text: &str,
    limit: usize,
    offset: usize,
    sort: SortArg,
    as_json: bool,
) -> anyhow::Result<ExitCode> {
    let index = open(data)?;
    let req = Request {
        query: text.to_string(),
        limit,
        offset,
        sort: match sort {
            SortArg::Relevance => Sort::Relevance,
            SortArg::Date => Sort::Date,
            SortArg::Oldest => Sort::Oldest,
        },
        now: now(),
        allowed_lists: None,
        marks: Some(lazy_marks(config, data)),
    };
    let results = query::search(&index, &req)?;
    let mut out = std::io::stdout().lock();
    if as_json {
        for hit in &results.hits {
            let m = &hit.message;
            let line = json!({
                "message_id": m.message_id,
                "key": m.key,
                "thread_id": m.thread_id,
                "date": rfc3339(m.date),
                "from": m.from.first().cloned().unwrap_or_default(),
                "subject": m.subject,
                "list": m.list,
                "score": hit.score,
                "snippet": hit.snippet.text,
                "total": results.total,
            });
            writeln!(out, "{line}")?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let color = std::io::stdout().is_terminal();
    let (open_mark, close_mark) = if color {
        ("\x1b[1;33m", "\x1b[0m")
    } else {
        ("[", "]")
    };
    for hit in &results.hits {
        let m = &hit.message;
        let from = m
            .from
            .first()
            .map(String::as_str)
            .unwrap_or("(unknown sender)");
        let subject = if m.subject.is_empty() {
            "(no subject)"
        } else {
            &m.subject
        };
        writeln!(
            out,
            "{}  {:<20}  {}",
            day(m.date),
            truncate(&m.list, 20),
            truncate(from, 40)
        )?;
        writeln!(out, "    {subject}")?;
        if !hit.snippet.text.is_empty() {
            writeln!(out, "    {}", hit.snippet.marked(open_mark, close_mark))?;
        }
        writeln!(
            out,
            "    id:{}",
            if m.message_id.is_empty() {
                &m.key
            } else {
                &m.message_id
            }
        )?;
        writeln!(out)?;
    }
    let shown_to = offset.saturating_add(results.hits.len());
    writeln!(
        out,
        "{} messages match ({}–{} shown, {:.1} ms)",
        results.total,
        if results.hits.is_empty() {
            0
        } else {
            offset.saturating_add(1)
        },
        shown_to,
        results.took_ms
    )?;
    Ok(ExitCode::SUCCESS)
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// `gleaner stats`
pub fn stats(data: &Path, as_json: bool) -> anyhow::Result<ExitCode> {
    let index = open(data)?;
    let s = query::stats::stats(&index)?;
    // The watermark as of the last commit of `gleaner serve` (its checkpoints).
    let watermark = gleaner::index::live::Checkpoints::load(&index).watermark;
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
            "indexed through: {} (everything delivered before it is searchable, as of `serve`'s last pass)",
            rfc3339(t)
        ),
        None => println!("indexed through: - (no `gleaner serve` commit yet)"),
    }
    for src in &watermark.sources {
        if let Some(e) = &src.last_error {
            println!("  source {}: last error: {e}", src.path);
        }
    }
    Ok(ExitCode::SUCCESS)
}
