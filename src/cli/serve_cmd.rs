//! `gleaner serve`: keep the index current as mail arrives.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::Context;
use gleaner::index::ingest::{self, Source};
use gleaner::index::live::{self, LiveOptions};
use gleaner::index::watermark::SharedWatermark;
use gleaner::index::MailIndex;

/// Sets up logging: human-readable or one JSON object per line.
pub fn init_logging(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("GLEANER_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// Runs the live indexer until SIGINT/SIGTERM; a second signal exits at once.
pub fn serve(data: &Path, paths: &[PathBuf], list: Option<&str>) -> anyhow::Result<ExitCode> {
    let mut sources: Vec<Source> = Vec::new();
    for p in paths {
        sources
            .extend(ingest::discover(p, list).with_context(|| format!("reading {}", p.display()))?);
    }
    std::fs::create_dir_all(data).with_context(|| format!("creating {}", data.display()))?;
    let index = MailIndex::open(&data.join("index"), true)?;
    let shutdown = Arc::new(AtomicBool::new(false));
    install_signals(shutdown.clone())?;
    let watermark = SharedWatermark::default();
    tracing::info!(sources = sources.len(), "starting the live indexer");
    live::run(
        &index,
        sources,
        LiveOptions::default(),
        watermark,
        &shutdown,
        |report| {
            tracing::info!(
                indexed = report.indexed,
                duplicates = report.duplicates,
                unchanged = report.unchanged,
                "ready: start-up reconciliation committed"
            );
        },
    )?;
    tracing::info!("stopped cleanly");
    Ok(ExitCode::SUCCESS)
}

/// First SIGINT/SIGTERM sets `flag` (commit and stop); a second exits immediately
/// (the index is crash-safe: the last commit stands).
fn install_signals(flag: Arc<AtomicBool>) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the signal handler")?;
    std::thread::spawn(move || {
        rt.block_on(async move {
            let Ok(mut term) =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            else {
                return;
            };
            let Ok(mut int) =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
            else {
                return;
            };
            for round in 0..2 {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
                if round == 0 {
                    tracing::info!(
                        "signal received: committing and stopping (again to exit at once)"
                    );
                    flag.store(true, Ordering::SeqCst);
                } else {
                    std::process::exit(130);
                }
            }
        });
    });
    Ok(())
}
