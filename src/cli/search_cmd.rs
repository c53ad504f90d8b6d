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
    let (dir, public_url) = (data.to_path_buf(), config.http.public_url());
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
        // Opened only when the query asks `is:` or `cited:`.
        marks: Some(Arc::new(Lazy::new(move || {
            let curation = Curation::open(&dir, &public_url).map_err(|e| e.to_string())?;
            let retention = Retention::open(&dir).map_err(|e| e.to_string())?;
            Ok(Arc::new(Combined(vec![Arc::new(curation), Arc::new(retention)])) as Arc<dyn Marks>)
        }))),
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
