//! `gleaner index`, `rebuild` and `demo`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use gleaner::config::SourceConfig;
use gleaner::index::ingest::{self, IngestOptions, IngestReport, Progress, Source};
use gleaner::index::writer::Writer;
use gleaner::index::MailIndex;
use gleaner::store::SourceKind;
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};

/// The sources indexed into a data directory, remembered for `rebuild`.
#[derive(Serialize, Deserialize, Default)]
struct SourceList {
    sources: Vec<SourceEntry>,
}

#[derive(Serialize, Deserialize, PartialEq, Clone)]
struct SourceEntry {
    path: PathBuf,
    /// Serialised as "maildir", "mbox", "eml" or "public-inbox".
    kind: SourceKind,
    list: Option<String>,
    #[serde(default)]
    include: Vec<String>,
    #[serde(default)]
    exclude: Vec<String>,
}

const SOURCES_FILE: &str = "sources.json";

fn load_sources(data: &Path) -> anyhow::Result<SourceList> {
    match std::fs::read(data.join(SOURCES_FILE)) {
        Ok(bytes) => Ok(serde_json::from_slice(&bytes)
            .with_context(|| format!("reading {}", data.join(SOURCES_FILE).display()))?),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(SourceList::default()),
        Err(e) => Err(e).context("reading the source list"),
    }
}

fn remember_sources(data: &Path, sources: &[Source]) -> anyhow::Result<()> {
    let mut known = load_sources(data)?;
    for s in sources {
        let entry = SourceEntry {
            path: std::fs::canonicalize(&s.path).unwrap_or_else(|_| s.path.clone()),
            kind: s.kind,
            list: s.list.clone(),
            include: s.include.clone(),
            exclude: s.exclude.clone(),
        };
        if !known.sources.contains(&entry) {
            known.sources.push(entry);
        }
    }
    let tmp = data.join(format!("{SOURCES_FILE}.tmp"));
    std::fs::write(&tmp, serde_json::to_vec_pretty(&known)?)?;
    std::fs::rename(&tmp, data.join(SOURCES_FILE))?;
    Ok(())
}

fn progress_bar() -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {elapsed} {pos} messages ({per_sec}) {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar
}

/// Ingest options from the command line: extraction threads and commit interval.
pub fn ingest_options(threads: Option<usize>, commit_every: Option<usize>) -> IngestOptions {
    let mut opts = IngestOptions::default();
    if let Some(t) = threads {
        opts.workers = t.max(1);
    }
    if let Some(n) = commit_every {
        opts.commit_every = n.max(1);
    }
    opts
}

fn run_ingest(
    index: &MailIndex,
    sources: &[Source],
    opts: &IngestOptions,
) -> anyhow::Result<IngestReport> {
    // Two tantivy indexing threads (one on a single core). One thread uses
    // ~5% less CPU, but each commit and the final flush then serialise a
    // whole segment on one core while the other waits: on 2 cores, 100k
    // maildir, two threads finish 7-10% sooner (interleaved runs, docs/BENCHMARKS.md).
    let mut writer = Writer::new(index, opts.workers.clamp(1, 2))?;
    let bar = progress_bar();
    let report = ingest::ingest(&mut writer, sources, opts, &|p: Progress| {
        bar.set_position(p.done);
        bar.set_message(format!("{} new", p.indexed));
    })?;
    bar.finish_and_clear();
    writer.finish()?;
    Ok(report)
}

fn print_report(report: &IngestReport, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string(report)?);
        return Ok(());
    }
    let rate = report.seen as f64 / report.seconds.max(0.001);
    println!(
        "{} messages read in {:.1}s ({:.0}/s): {} indexed, {} duplicates, {} already indexed, {} skipped",
        report.seen,
        report.seconds,
        rate,
        report.indexed,
        report.duplicates,
        report.unchanged,
        report.skipped_total()
    );
    for (reason, n) in &report.skipped {
        println!("  skipped {n}: {reason}");
    }
    for (loc, reason) in report.skipped_examples.iter().take(5) {
        println!("    e.g. {loc}: {reason}");
    }
    if !report.defects.is_empty() {
        let defects: Vec<String> = report
            .defects
            .iter()
            .map(|(d, n)| format!("{d} ({n})"))
            .collect();
        println!("  indexed despite defects: {}", defects.join(", "));
    }
    Ok(())
}

/// `gleaner index PATH...`
pub fn index(
    data: &Path,
    configured: &[SourceConfig],
    paths: &[PathBuf],
    list: Option<&str>,
    opts: &IngestOptions,
    json: bool,
) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        !configured.is_empty() || !paths.is_empty(),
        "nothing to index: give mail store paths, or a --config with [[source]]s"
    );
    let mut sources: Vec<Source> = configured.iter().map(Source::from).collect();
    for p in paths {
        sources
            .extend(ingest::discover(p, list).with_context(|| format!("reading {}", p.display()))?);
    }
    std::fs::create_dir_all(data).with_context(|| format!("creating {}", data.display()))?;
    let index = MailIndex::open(&data.join("index"), true)?;
    remember_sources(data, &sources)?;
    let report = run_ingest(&index, &sources, opts)?;
    print_report(&report, json)?;
    Ok(ExitCode::SUCCESS)
}

/// `gleaner rebuild`: a fresh index from the remembered sources, swapped in when complete.
pub fn rebuild(
    data: &Path,
    configured: &[SourceConfig],
    archive_dir: &Path,
    opts: &IngestOptions,
) -> anyhow::Result<ExitCode> {
    let known = load_sources(data)?;
    anyhow::ensure!(
        !known.sources.is_empty() || !configured.is_empty(),
        "no sources are recorded in {} and none is configured: index something first",
        data.display()
    );
    let mut sources: Vec<Source> = configured.iter().map(Source::from).collect();
    sources.extend(known.sources.iter().map(|e| Source {
        path: e.path.clone(),
        kind: e.kind,
        list: e.list.clone(),
        include: e.include.clone(),
        exclude: e.exclude.clone(),
    }));
    // Sealed volumes are mail too: archived mail stays searchable after a rebuild.
    if gleaner::store::volume::is_volume_dir(archive_dir) {
        sources.push(Source::new(
            std::fs::canonicalize(archive_dir).unwrap_or_else(|_| archive_dir.to_path_buf()),
            gleaner::store::SourceKind::Volumes,
            None,
        ));
    }
    let mut seen = std::collections::HashSet::new();
    sources.retain(|s| seen.insert(s.path.clone()));
    // Hold the live index's writer lock for the whole rebuild: a running
    // `serve` (or `index`) must not have the directory swapped under it.
    let live_guard = match MailIndex::open(&data.join("index"), false) {
        Ok(live) => Some(Writer::new(&live, 1).context(
            "cannot rebuild while the index is being written (stop `gleaner serve` first)",
        )?),
        Err(_) => None,
    };
    let fresh = data.join("index.rebuild");
    if fresh.exists() {
        std::fs::remove_dir_all(&fresh)?;
    }
    let index = MailIndex::open(&fresh, true)?;
    let report = run_ingest(&index, &sources, opts)?;
    drop(index);
    drop(live_guard);
    let live = data.join("index");
    let old = data.join("index.old");
    if old.exists() {
        std::fs::remove_dir_all(&old)?;
    }
    if live.exists() {
        std::fs::rename(&live, &old)?;
    }
    std::fs::rename(&fresh, &live)?;
    if old.exists() {
        std::fs::remove_dir_all(&old)?;
    }
    print_report(&report, false)?;
    Ok(ExitCode::SUCCESS)
}

/// `gleaner demo`: index the sample corpus into a temporary directory and
/// serve the web UI on a loopback address without a login.
pub fn demo(corpus: &Path, listen: std::net::SocketAddr) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        corpus.exists(),
        "the sample corpus {} is missing: run gleaner demo from the project directory, or pass --corpus DIR",
        corpus.display()
    );
    gleaner::app::check_listen(listen, false)?;
    let dir = tempfile::Builder::new().prefix("gleaner-demo-").tempdir()?;
    let data = dir.keep();
    println!("Indexing {} into {} ...", corpus.display(), data.display());
    index(
        &data,
        &[],
        &[corpus.to_path_buf()],
        None,
        &IngestOptions::default(),
        false,
    )?;
    println!();
    println!("Try, for example:");
    let exe = std::env::args().next().unwrap_or_else(|| "gleaner".into());
    let d = data.display();
    for q in [
        "certificate expired",
        "\"root cause\" list:ops",
        "from:smith after:2019",
        "subject:replication date:2019",
        "lang:de festplatte",
        "検索",
        "has:attachment larger:10k",
    ] {
        println!("  {exe} --data {d} search '{q}'");
    }
    println!("  {exe} --data {d} stats");
    println!();
    let config = gleaner::config::Config {
        data: data.clone(),
        http: gleaner::config::HttpConfig {
            listen,
            auth: false,
            ..Default::default()
        },
        sources: Vec::new(),
        solr: None,
        // A review queue to try the curation workflow on.
        review: vec![gleaner::config::ReviewPolicy {
            name: "older-than-6-years".into(),
            lists: Vec::new(),
            older_than: "6y".into(),
            age_basis: Default::default(),
            query: None,
            origin: "config".into(),
        }],
        ..Default::default()
    };
    super::serve_cmd::serve(&config)
}
