//! In-process query latency: runs every query of a TSV file (column 2 is the
//! gleaner query) N times against an index, top 20 with snippets, and prints
//! p50/p95/p99 per query and overall.
//!
//! cargo run --release --example query_latency -- DATA_DIR bench/queries.tsv [RUNS]
//!
//! With `EXECUTOR=N` the segments are searched on N threads.
//! With `FACETS=1` each run also computes the facets and timeline, as `/api/search` does.
//! With `GROUP=thread` each query also runs grouped by conversation
//! (`/api/search?group=thread`, `gleaner search --threads`), the two
//! interleaved run by run so load on the machine hits both alike; the
//! report gives both percentiles and their ratio.

use std::time::Instant;

use gleaner::index::MailIndex;
use gleaner::query::{self, Request, Sort};

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    anyhow::ensure!(
        args.len() >= 3,
        "usage: query_latency DATA_DIR QUERIES.tsv [RUNS]"
    );
    let runs: usize = args.get(3).and_then(|r| r.parse().ok()).unwrap_or(50);
    let mut index = MailIndex::open(&std::path::Path::new(&args[1]).join("index"), false)?;
    // EXECUTOR=N: search the segments on N threads (tantivy's multi-thread
    // executor), as `[limits] search_threads = N` makes serve do: what more
    // cores do for one query's latency (docs/SCALING.md, "More cores").
    if let Some(n) = std::env::var("EXECUTOR")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| *n > 1)
    {
        index.set_search_threads(n)?;
        eprintln!("searching segments on {n} threads");
    }
    let tsv = std::fs::read_to_string(&args[2])?;
    let with_facets = std::env::var("FACETS").is_ok_and(|v| v == "1");
    // As in `serve`, which this models: its dictionaries kept, its facet
    // columns decoded by its warmer thread from the start.
    gleaner::index::column_terms::keep();
    gleaner::index::facet_rows::warm(&index.reader.searcher());
    let grouped = std::env::var("GROUP").is_ok_and(|v| v == "thread");
    let mut all = Vec::new();
    let mut all_grouped = Vec::new();
    println!(
        "{:<28} {:>8} {:>9} {:>9} {:>9}{}",
        "query",
        "hits",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        if grouped {
            "   convs  conv p50  conv p95  conv p99  p50 ratio"
        } else {
            ""
        }
    );
    for line in tsv
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let cols: Vec<&str> = line.split('\t').collect();
        let (Some(name), Some(q)) = (cols.first(), cols.get(1)) else {
            continue;
        };
        if *name == "name" {
            continue;
        }
        let req = Request {
            query: q.to_string(),
            limit: 20,
            offset: 0,
            sort: Sort::Relevance,
            now: time::OffsetDateTime::now_utc().unix_timestamp(),
            allowed_lists: None,
            marks: None,
        };
        let mut times = Vec::with_capacity(runs);
        let mut group_times = Vec::with_capacity(runs);
        let (mut total, mut conversations) = (0, 0);
        for _ in 0..runs {
            let t = Instant::now();
            let res = if with_facets {
                query::search::search_with_facets(&index, &req)?.0
            } else {
                query::search(&index, &req)?
            };
            times.push(t.elapsed().as_secs_f64() * 1000.0);
            total = res.total;
            if grouped {
                let t = Instant::now();
                let res = query::conversations::conversations(&index, &req)?;
                if with_facets {
                    gleaner::query::facets::facets(&index, &req)?;
                }
                group_times.push(t.elapsed().as_secs_f64() * 1000.0);
                conversations = res.total;
            }
        }
        times.sort_by(f64::total_cmp);
        group_times.sort_by(f64::total_cmp);
        let extra = if grouped {
            format!(
                " {:>7} {:>9.3} {:>9.3} {:>9.3} {:>9.2}x",
                conversations,
                pct(&group_times, 0.5),
                pct(&group_times, 0.95),
                pct(&group_times, 0.99),
                pct(&group_times, 0.5) / pct(&times, 0.5).max(1e-9)
            )
        } else {
            String::new()
        };
        println!(
            "{:<28} {:>8} {:>9.3} {:>9.3} {:>9.3}{extra}",
            name,
            total,
            pct(&times, 0.5),
            pct(&times, 0.95),
            pct(&times, 0.99)
        );
        all.extend(times);
        all_grouped.extend(group_times);
    }
    all.sort_by(f64::total_cmp);
    println!(
        "ALL {} searches: mean {:.3} ms, p50 {:.3} ms, p95 {:.3} ms, p99 {:.3} ms",
        all.len(),
        all.iter().sum::<f64>() / all.len().max(1) as f64,
        pct(&all, 0.5),
        pct(&all, 0.95),
        pct(&all, 0.99)
    );
    if grouped {
        all_grouped.sort_by(f64::total_cmp);
        println!(
            "ALL {} grouped: p50 {:.3} ms, p95 {:.3} ms, p99 {:.3} ms; p50 ratio {:.2}x",
            all_grouped.len(),
            pct(&all_grouped, 0.5),
            pct(&all_grouped, 0.95),
            pct(&all_grouped, 0.99),
            pct(&all_grouped, 0.5) / pct(&all, 0.5).max(1e-9)
        );
    }
    Ok(())
}
