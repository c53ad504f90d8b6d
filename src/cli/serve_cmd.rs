//! `gleaner serve`: the JSON API, the web UI, the live indexer and the Solr
//! endpoint, on a tokio runtime made here.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use gleaner::app;
use gleaner::config::{Config, SourceConfig};
use gleaner::index::ingest;

/// Sets up logging: human-readable or one JSON object per line (`GLEANER_LOG` filters).
pub fn init_logging(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("GLEANER_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

/// Adds the mail stores named on the command line to the configured sources.
pub fn add_sources(
    config: &mut Config,
    paths: &[PathBuf],
    list: Option<&str>,
) -> anyhow::Result<()> {
    for p in paths {
        for s in ingest::discover(p, list).with_context(|| format!("reading {}", p.display()))? {
            config.sources.push(SourceConfig {
                kind: s.kind,
                path: s.path,
                list: s.list,
                owner: None,
                include: Vec::new(),
                exclude: Vec::new(),
            });
        }
    }
    Ok(())
}

/// Runs the server until SIGINT/SIGTERM; a second signal exits at once (the
/// index is crash-safe: the last commit stands).
pub fn serve(config: &Config) -> anyhow::Result<ExitCode> {
    app::check_listen(config.http.listen, config.http.auth)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let auth = config.http.auth;
    let shutdown = async {
        app::shutdown_signal().await;
        tracing::info!("signal received: committing and stopping (again to exit at once)");
        tokio::spawn(async {
            app::shutdown_signal().await;
            std::process::exit(130);
        });
    };
    runtime.block_on(app::serve(config, shutdown, |bound| {
        println!("gleaner: serving http://{}/", bound.http);
        if let Some(imap) = bound.imap {
            println!("gleaner: serving imap://{imap}/ (read-only)");
        }
        if let Some(imaps) = bound.imaps {
            println!("gleaner: serving imaps://{imaps}/ (read-only)");
        }
        if !auth {
            println!("gleaner: authentication is off (loopback only)");
        }
    }))?;
    tracing::info!("stopped cleanly");
    Ok(ExitCode::SUCCESS)
}
