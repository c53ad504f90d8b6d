//! Wires the parts together for `gleaner serve` and `gleaner demo`: opens the
//! index and the user database, starts the live indexer (see the marked place
//! below), serves HTTP, and shuts down gracefully on SIGINT/SIGTERM.
//!
//! The CLI creates the tokio runtime and calls [`serve`]; nothing below this
//! module knows about the others.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::access::{AccessError, Users};
use crate::config::Config;
use crate::curate::Curation;
use crate::http::{self, AppState, SetupError};
use crate::index::ingest::Source;
use crate::index::live::{self, LiveOptions};
use crate::index::watermark::SharedWatermark;
use crate::index::{IndexError, MailIndex};
use crate::metrics::{DiskPaths, IndexerMetrics, Metrics, Phase};
use crate::solr::{self, SolrConfig, SolrState};

/// Why the server could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// Auth is off but the listen address is not loopback (the user's mistake).
    #[error("refusing to serve {0} without authentication: auth may be off only on a loopback address (127.0.0.1 or ::1); turn auth on or listen on loopback")]
    InsecureListen(SocketAddr),
    /// The index could not be opened.
    #[error(transparent)]
    Index(#[from] IndexError),
    /// The user database could not be opened.
    #[error(transparent)]
    Access(#[from] AccessError),
    /// The HTTP state could not be set up.
    #[error(transparent)]
    Setup(#[from] SetupError),
    /// The retention tables failed.
    #[error(transparent)]
    Retention(#[from] crate::retention::RetentionError),
    /// The curation database failed.
    #[error(transparent)]
    Curate(#[from] crate::curate::CurateError),
    /// Replication failed to start.
    #[error(transparent)]
    Replica(#[from] crate::replica::ReplicaError),
    /// The Solr endpoint could not be set up.
    #[error("solr endpoint: {0}")]
    Solr(String),
    /// Binding or serving failed.
    #[error("cannot serve on {addr}: {source}")]
    Io {
        /// The listen address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

impl RunError {
    /// Is this the user's mistake (bad configuration)?
    pub fn is_user_error(&self) -> bool {
        matches!(self, RunError::InsecureListen(_))
            || matches!(self, RunError::Replica(e) if e.is_user_error())
    }
}

/// Refuses auth off on anything but a loopback address.
pub fn check_listen(addr: SocketAddr, auth: bool) -> Result<(), RunError> {
    if !auth && !addr.ip().is_loopback() {
        return Err(RunError::InsecureListen(addr));
    }
    Ok(())
}

/// Opens what the server needs from `config` (the index is created empty if
/// there is none yet).
pub fn state(config: &Config, watermark: SharedWatermark) -> Result<AppState, RunError> {
    check_listen(config.http.listen, config.http.auth)?;
    crate::query::limits::set(config.limits.clone());
    let mut index = MailIndex::open(&config.data.join("index"), true)?;
    index.set_search_threads(config.limits.search_threads)?;
    if let Ok(mut w) = watermark.write() {
        *w = crate::index::live::start_watermark(&index);
    }
    let users = if config.http.auth {
        Some(Users::open(&config.data)?)
    } else {
        None
    };
    let curation = Curation::open(&config.data, &config.http.public_url())?;
    // A standby's policies are the primary's, shipped with its database.
    if config.standby.is_none() {
        curation.sync_config_policies(&config.review)?;
    }
    let retention = crate::retention::Retention::open(&config.data)?;
    let disk = DiskPaths::new(&config.data, config.archive.dir_for(&config.data));
    let replica = replica_source(config, users.as_ref())?;
    let standby = config.standby.as_ref().map(|s| {
        Arc::new(crate::replica::StandbyStatus::new(
            &config.data,
            &s.primary,
            std::time::Duration::from_secs_f64(s.interval_secs.max(0.1)),
        ))
    });
    let mut state = AppState::new(index, users, watermark, config.http.auth)?;
    if let Some(r) = replica {
        state = state.with_replica(r);
    }
    if let Some(s) = standby {
        state = state.with_standby(s);
    }
    Ok(state
        .with_metrics(Arc::new(Metrics::default().with_disk(disk)))
        .with_search_cache(config.http.search_cache)
        .with_http(&config.http)
        .with_curation(curation)
        .with_retention(retention))
}

/// `[replica]`: what standbys may pull (needs the user database for tokens).
fn replica_source(
    config: &Config,
    users: Option<&Users>,
) -> Result<Option<Arc<crate::replica::Source>>, RunError> {
    let Some(section) = &config.replica else {
        return Ok(None);
    };
    let users = match users {
        Some(u) => u.clone(),
        None => Users::open(&config.data)?,
    };
    let archive = config.archive.dir_for(&config.data);
    let source =
        crate::replica::Source::open(&config.data, &archive, users, section.tokens.clone())?;
    Ok(Some(Arc::new(source)))
}

/// With `[standby]`, starts following the primary (two threads, see
/// [`crate::replica::follow`]) instead of indexing.
fn start_standby(
    config: &Config,
    state: &AppState,
    stop: Arc<AtomicBool>,
) -> Result<Vec<std::thread::JoinHandle<()>>, RunError> {
    let (Some(section), Some(status)) = (&config.standby, &state.standby) else {
        return Ok(Vec::new());
    };
    let token = std::fs::read_to_string(&section.token_file).map_err(|e| {
        crate::replica::ReplicaError::Invalid(format!(
            "cannot read the replication token file {}: {e}",
            section.token_file.display()
        ))
    })?;
    let follower = crate::replica::Follower::new(
        &config.data,
        &config.archive.dir_for(&config.data),
        state.index.clone(),
        &section.primary,
        &token,
        status.clone(),
    )?;
    tracing::info!(primary = %section.primary, "standby: following the primary; writes are refused");
    Ok(follower.start(stop))
}

/// Lists named in review and retention policies and in user grants that no
/// indexed list answers to, or that several do (see [`crate::query::lists`]).
fn list_name_warnings(state: &AppState, config: &Config) -> Vec<String> {
    use crate::query::lists::{indexed_lists, warnings};
    let Ok(indexed) = indexed_lists(&state.index) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if let Some(Ok(policies)) = state.curation.as_ref().map(|c| c.policies()) {
        for p in policies {
            out.extend(warnings(
                &format!("review policy {:?}", p.name),
                &p.lists,
                &indexed,
            ));
        }
    }
    for p in &config.retention {
        out.extend(warnings(
            &format!("retention policy {:?}", p.name),
            &p.lists,
            &indexed,
        ));
    }
    if let Some(Ok(users)) = state.users.as_ref().map(|u| u.list()) {
        for u in users {
            out.extend(warnings(&format!("user {:?}", u.name), &u.lists, &indexed));
        }
    }
    out
}

/// The MCP server of `serve` (`[mcp] http`), sharing the API's index and
/// databases; it answers API tokens only, whether or not web logins are on.
pub fn mcp_state(config: &Config, state: &AppState) -> Result<Option<crate::mcp::Mcp>, RunError> {
    if !config.mcp.http {
        return Ok(None);
    }
    let users = match &state.users {
        Some(u) => u.clone(),
        None => Users::open(&config.data)?,
    };
    let mut mcp = crate::mcp::Mcp::new(state.index.clone(), users)
        .with_rate(config.mcp.rate_per_minute, config.mcp.rate_burst);
    if let Some(c) = &state.curation {
        mcp = mcp.with_curation(c.clone());
    }
    if let Some(r) = &state.retention {
        mcp = mcp.with_retention(r.clone());
    }
    Ok(Some(mcp))
}

/// The addresses `serve` listens on (ports may have been 0).
#[derive(Debug, Clone, Copy)]
pub struct Bound {
    /// The API and web UI.
    pub http: SocketAddr,
    /// The IMAP server, when `[imap]` is configured.
    pub imap: Option<SocketAddr>,
    /// Its implicit-TLS port, when `[imap] listen_tls` is configured.
    pub imaps: Option<SocketAddr>,
}

/// Serves the API and web UI (and IMAP, with `[imap]`) as `config` says
/// until `shutdown` completes. `on_listening` is called with the bound
/// addresses.
pub async fn serve(
    config: &Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
    on_listening: impl FnOnce(Bound),
) -> Result<(), RunError> {
    // A server answers many searches: keep small column dictionaries read.
    crate::index::column_terms::keep();
    let watermark = SharedWatermark::default();
    let cfg = config.clone();
    let wm = watermark.clone();
    let (state, no_users, mcp) = tokio::task::spawn_blocking(move || {
        // A primary whose standby was promoted while it was away must not take writes.
        if let (Some(replica), None) = (&cfg.replica, &cfg.standby) {
            crate::replica::check_not_demoted(&cfg.data, &replica.standbys)?;
        }
        let state = state(&cfg, wm)?;
        let no_users = match &state.users {
            Some(users) => users.list()?.is_empty(),
            None => false,
        };
        for warning in list_name_warnings(&state, &cfg) {
            tracing::warn!("{warning}");
            eprintln!("gleaner: warning: {warning}");
        }
        let mcp = mcp_state(&cfg, &state)?;
        Ok::<_, RunError>((state, no_users, mcp))
    })
    .await
    .map_err(|e| RunError::Io {
        addr: config.http.listen,
        source: std::io::Error::other(e),
    })??;
    if no_users {
        tracing::warn!("no users yet: add one with `gleaner user add NAME --role admin`");
        eprintln!("gleaner: no users yet: add one with `gleaner user add NAME --role admin`");
    }

    // One shutdown signal for every part.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        while !*rx.borrow() {
            if rx.changed().await.is_err() {
                break;
            }
        }
    };

    // The live indexer: its own thread (tantivy work is blocking), sharing the
    // HTTP server's index so its commits are visible at once.
    let live_stop = Arc::new(AtomicBool::new(false));
    // A standby follows its primary instead: no indexing, backups or Solr writes of its own.
    let standby = config.standby.is_some();
    let followers = start_standby(config, &state, live_stop.clone())?;
    let backups = match standby {
        true => None,
        false => start_backups(config, state.index.clone(), live_stop.clone())?,
    };
    let live = match standby {
        true => None,
        false => start_live(
            config,
            state.index.clone(),
            watermark,
            live_stop.clone(),
            state.metrics.indexer.clone(),
        ),
    };
    // Facet columns decoded ahead of the searches that count them.
    let warmer = crate::index::facet_rows::spawn_warmer(
        state.index.reader.clone(),
        live_stop.clone(),
        std::time::Duration::from_secs(2),
    )
    .ok();
    let metrics = state.metrics.clone();
    // Review rounds on schedule and the weekly digest (`[[round]]`, `[mail]`);
    // a standby leaves both to its primary (its database is the primary's).
    let reminders = match &state.curation {
        Some(c) if !standby => {
            let users = match &state.users {
                Some(u) => Some(u.clone()),
                None => Users::open(&config.data).ok(),
            };
            let (index, c) = (state.index.clone(), c.clone());
            let indexer = state.metrics.indexer.clone();
            Some(crate::reminders::spawn(
                config,
                index,
                c,
                users,
                indexer,
                stop_rx.clone(),
            ))
        }
        _ => None,
    };

    // The Solr-compatible endpoint for Dovecot, when configured.
    let solr_task = match &config.solr {
        Some(section) if !standby => {
            let cfg = SolrConfig {
                listen: section.listen,
                user: section.user.clone(),
                password: section.password.clone(),
                core: section.core.clone(),
                allow_no_auth: section.allow_no_auth,
                max_body_bytes: section
                    .max_body_bytes
                    .unwrap_or(solr::DEFAULT_MAX_BODY_BYTES),
            };
            let data = config.data.clone();
            let cfg2 = cfg.clone();
            let solr_state = tokio::task::spawn_blocking(move || SolrState::open(&data, &cfg2))
                .await
                .map_err(|e| RunError::Io {
                    addr: section.listen,
                    source: std::io::Error::other(e),
                })?
                .map_err(|e| RunError::Solr(e.to_string()))?
                .with_metrics(metrics.requests.clone());
            let rx = stop_rx.clone();
            Some(tokio::spawn(async move {
                if let Err(e) = solr::serve(solr_state, &cfg, stopped(rx)).await {
                    tracing::error!("solr endpoint: {e}");
                }
            }))
        }
        _ => None,
    };

    // The IMAP server, when configured: same index, users and databases. Not
    // on a standby: it records UIDs in gleaner.db, which the primary's
    // snapshots replace (UIDs must never change under a client).
    let (imap_task, imap_bound, imaps_bound) = match &config.imap {
        Some(section) if !standby => {
            let addr = section.listen;
            let io = |source| RunError::Io { addr, source };
            let (data, index, folders) = (
                config.data.clone(),
                state.index.clone(),
                section.folder.clone(),
            );
            let tls = match section
                .tls_files()
                .map_err(|e| io(std::io::Error::other(e)))?
            {
                Some((cert, key)) => Some(
                    crate::imap::tls::acceptor(cert, key)
                        .map_err(|e| io(std::io::Error::other(e)))?,
                ),
                None => None,
            };
            let plain_login = section.plain_login;
            let (curation, retention) = (state.curation.clone(), state.retention.clone());
            let imap = tokio::task::spawn_blocking(move || {
                crate::imap::Imap::open(&data, index, folders).map(|i| {
                    i.with_curation(curation)
                        .with_retention(retention)
                        .with_tls(tls, plain_login)
                })
            })
            .await
            .map_err(|e| io(std::io::Error::other(e)))?
            .map_err(|e| io(std::io::Error::other(e)))?;
            let listener = crate::imap::bind(addr).await.map_err(io)?;
            let bound = listener.local_addr().map_err(io)?;
            let mut tasks = Vec::new();
            let imaps_bound = match section.listen_tls {
                Some(addr_tls) => {
                    let io = |source| RunError::Io {
                        addr: addr_tls,
                        source,
                    };
                    let listener = crate::imap::bind(addr_tls).await.map_err(io)?;
                    let bound = listener.local_addr().map_err(io)?;
                    let (imap, rx) = (imap.clone(), stop_rx.clone());
                    tasks.push(tokio::spawn(async move {
                        if let Err(e) = crate::imap::serve_tls(listener, imap, stopped(rx)).await {
                            tracing::error!("imaps server: {e}");
                        }
                    }));
                    Some(bound)
                }
                None => None,
            };
            let rx = stop_rx.clone();
            tasks.push(tokio::spawn(async move {
                if let Err(e) = crate::imap::serve(listener, imap, stopped(rx)).await {
                    tracing::error!("imap server: {e}");
                }
            }));
            (tasks, Some(bound), imaps_bound)
        }
        _ => (Vec::new(), None, None),
    };

    let addr = config.http.listen;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| RunError::Io { addr, source })?;
    let bound = listener
        .local_addr()
        .map_err(|source| RunError::Io { addr, source })?;
    on_listening(Bound {
        http: bound,
        imap: imap_bound,
        imaps: imaps_bound,
    });
    let extra = match mcp {
        Some(mcp) => crate::mcp::http::router(mcp),
        None => axum::Router::new(),
    };
    let served = http::serve_with(listener, state, extra, stopped(stop_rx)).await;
    live_stop.store(true, Ordering::SeqCst);
    if let Some(handle) = live {
        let _ = tokio::task::spawn_blocking(move || handle.join()).await;
    }
    if let Some(handle) = backups {
        let _ = tokio::task::spawn_blocking(move || handle.join()).await;
    }
    if let Some(handle) = warmer {
        let _ = tokio::task::spawn_blocking(move || handle.join()).await;
    }
    for handle in followers {
        let _ = tokio::task::spawn_blocking(move || handle.join()).await;
    }
    if let Some(task) = solr_task {
        let _ = task.await;
    }
    for task in imap_task {
        let _ = task.await;
    }
    if let Some(task) = reminders {
        let _ = task.await;
    }
    served.map_err(|source| RunError::Io {
        addr: bound,
        source,
    })
}

/// Starts the live indexer on the configured sources (none: no thread).
/// `metrics` is in its catching-up phase before this returns, so `/readyz`
/// cannot answer ready before the indexer has started.
fn start_live(
    config: &Config,
    index: MailIndex,
    watermark: SharedWatermark,
    stop: Arc<AtomicBool>,
    metrics: Arc<IndexerMetrics>,
) -> Option<std::thread::JoinHandle<()>> {
    if config.sources.is_empty() {
        return None;
    }
    metrics.set_phase(Phase::CatchingUp);
    let sources: Vec<Source> = config.sources.iter().map(Source::from).collect();
    Some(std::thread::spawn(move || {
        let result = live::run(
            &index,
            sources,
            LiveOptions {
                metrics,
                ..LiveOptions::default()
            },
            watermark,
            &stop,
            |r| {
                tracing::info!(
                    indexed = r.indexed,
                    duplicates = r.duplicates,
                    unchanged = r.unchanged,
                    "ready: start-up reconciliation committed"
                );
            },
        );
        if let Err(e) = result {
            tracing::error!("live indexer stopped: {e}");
        }
    }))
}

/// With `[backup] dest`, backs up whenever the last backup is older than
/// `every`, or `after_new_mail` bytes of mail were indexed since (checked each
/// minute; the backup is online, so serving goes on).
fn start_backups(
    config: &Config,
    index: MailIndex,
    stop: Arc<AtomicBool>,
) -> Result<Option<std::thread::JoinHandle<()>>, RunError> {
    let b = &config.backup;
    let Some(dest) = b
        .dest
        .clone()
        .filter(|_| b.every.is_some() || b.after_new_mail.is_some())
    else {
        return Ok(None);
    };
    let bad = |what: &str, e: String| {
        RunError::Retention(crate::retention::RetentionError::Invalid(format!(
            "[backup] {what}: {e}"
        )))
    };
    let period = match &b.every {
        Some(every) => {
            let (amount, unit) =
                crate::curate::policy::parse_age(every).map_err(|e| bad("every", e.to_string()))?;
            Some(crate::db::now() - crate::query::plan::age_cutoff(crate::db::now(), amount, unit))
        }
        None => None,
    };
    let new_mail = match &b.after_new_mail {
        Some(s) => Some(
            crate::retention::parse_size(s).map_err(|e| bad("after_new_mail", e.to_string()))?,
        ),
        None => None,
    };
    let data = config.data.clone();
    let retention = crate::retention::Retention::open(&data)?;
    Ok(Some(std::thread::spawn(move || {
        while !stop.load(Ordering::SeqCst) {
            let mail_bytes = crate::query::stats::total_bytes(&index).unwrap_or(0);
            let by_time = period.is_some_and(|p| {
                retention
                    .last_backup_at()
                    .map(|last| last.is_none_or(|t| crate::db::now() - t >= p))
                    .unwrap_or(false)
            });
            let by_mail = new_mail.is_some_and(|n| {
                retention
                    .mail_bytes_at_backup()
                    .map(|at| mail_bytes.saturating_sub(at.unwrap_or(0).max(0) as u64) >= n)
                    .unwrap_or(false)
            });
            let due = by_time || by_mail;
            if due {
                let opts = crate::retention::backup::BackupOptions::default();
                match crate::retention::backup::backup(&data, &dest, &opts, &mut |_| {}) {
                    Ok(report) => {
                        tracing::info!(snapshot = %report.snapshot, copied = report.files_copied, "backup taken");
                        if let Err(e) =
                            retention.record_backup(&report, &dest, mail_bytes, "system")
                        {
                            tracing::error!("recording the backup: {e}");
                        }
                    }
                    Err(e) => tracing::error!("periodic backup to {} failed: {e}", dest.display()),
                }
            }
            for _ in 0..60 {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_secs(1));
            }
        }
    })))
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!("cannot listen for Ctrl-C: {e}");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!("cannot listen for SIGTERM: {e}");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
