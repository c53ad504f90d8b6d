//! The standby's side: two threads pull from the primary every interval,
//! one the database (the state whose loss the RPO counts), the other index
//! commits and sealed volumes (large files must not hold the database back).
//! Each applied part is checked and written as [`super::apply`] says; the
//! replication lock is held while applying, and a round finding the data
//! directory promoted (no [`super::STANDBY_FILE`]) stops following.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;

use super::client::{self, PrimaryUrl};
use super::source::{segment_file, ArchiveManifest, IndexManifest};
use super::{apply, now_ms, At, ReplicaError, STANDBY_FILE};
use crate::index::MailIndex;

/// How long one read or write of a request may wait.
const TIMEOUT: Duration = Duration::from_secs(30);

/// What the standby has of the primary, for `/api/replica/status` and the UI.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Progress {
    /// The database here is the primary's as of this time (Unix ms, this machine's clock).
    pub db_synced_ms: Option<i64>,
    /// When a changed database was last applied (Unix ms).
    pub db_applied_ms: Option<i64>,
    /// Size of the last database snapshot applied (bytes).
    pub db_bytes: u64,
    /// Database snapshots applied since start.
    pub db_applied: u64,
    /// How long the primary took to make the last snapshot applied (ms).
    pub db_snapshot_ms: Option<u64>,
    /// The index here is the primary's commit as of this time (Unix ms).
    pub index_synced_ms: Option<i64>,
    /// The opstamp of the index commit here.
    pub index_opstamp: Option<u64>,
    /// Index files fetched since start.
    pub index_files_fetched: u64,
    /// The volumes here are the primary's as of this time (Unix ms).
    pub archive_synced_ms: Option<i64>,
    /// Volume files here.
    pub archive_files: usize,
    /// The last failure, if the last round of its part failed.
    pub last_error: Option<String>,
}

/// A standby's state, shared by the following threads and the HTTP surface.
pub struct StandbyStatus {
    data: PathBuf,
    primary: String,
    interval: Duration,
    promoted: AtomicBool,
    progress: Mutex<Progress>,
}

impl StandbyStatus {
    /// The status of a standby of `primary` in `data`.
    pub fn new(data: &Path, primary: &str, interval: Duration) -> StandbyStatus {
        StandbyStatus {
            data: data.to_path_buf(),
            primary: primary.to_string(),
            interval,
            promoted: AtomicBool::new(false),
            progress: Mutex::new(Progress::default()),
        }
    }

    /// Still a standby (refusing writes)? False from the moment `gleaner
    /// promote` removed the marker.
    pub fn is_standby(&self) -> bool {
        if self.promoted.load(Ordering::SeqCst) {
            return false;
        }
        if self.data.join(STANDBY_FILE).exists() {
            return true;
        }
        self.promoted.store(true, Ordering::SeqCst);
        tracing::warn!("this standby was promoted: it now takes writes");
        false
    }

    /// The primary followed.
    pub fn primary(&self) -> &str {
        &self.primary
    }

    fn update(&self, f: impl FnOnce(&mut Progress)) {
        f(&mut self.progress.lock().unwrap_or_else(|p| p.into_inner()));
    }

    /// What has been shipped so far.
    pub fn progress(&self) -> Progress {
        self.progress
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The status as JSON: role, primary, lag in seconds of each part, progress.
    pub fn json(&self) -> serde_json::Value {
        let p = self.progress();
        let now = now_ms();
        let lag = |t: Option<i64>| t.map(|t| ((now - t).max(0) as f64) / 1000.0);
        serde_json::json!({
            "role": if self.is_standby() { "standby" } else { "promoted" },
            "promoted_at": super::promoted_at(&self.data),
            "primary": self.primary,
            "interval_seconds": self.interval.as_secs_f64(),
            "lag_seconds": lag(p.db_synced_ms),
            "index_lag_seconds": lag(p.index_synced_ms),
            "archive_lag_seconds": lag(p.archive_synced_ms),
            "progress": p,
        })
    }
}

/// Pulls from a primary into a standby data directory.
#[derive(Clone)]
pub struct Follower {
    data: PathBuf,
    archive: PathBuf,
    index: MailIndex,
    url: PrimaryUrl,
    auth: String,
    status: Arc<StandbyStatus>,
}

impl Follower {
    /// A follower of `primary` (authenticated by `token`) into `data`, whose
    /// index is `index` (reloaded after each commit) and volumes go to `archive`.
    /// Marks `data` as a standby, keeping a copy of a database it had
    /// before (see [`apply::keep_diverged`]).
    pub fn new(
        data: &Path,
        archive: &Path,
        index: MailIndex,
        primary: &str,
        token: &str,
        status: Arc<StandbyStatus>,
    ) -> Result<Follower, ReplicaError> {
        let url = PrimaryUrl::parse(primary)?;
        let token = token.trim();
        if token.is_empty() || token.contains(['\r', '\n']) {
            return Err(ReplicaError::Invalid(
                "the replication token is empty or not one line".into(),
            ));
        }
        std::fs::create_dir_all(archive).at(archive)?;
        if !super::is_standby(data) {
            if let Some(kept) = apply::keep_diverged(data)? {
                tracing::warn!(
                    "{} was not a standby: its database is kept as {kept}",
                    data.display()
                );
            }
            let marker = serde_json::json!({"primary": url.display(), "since": crate::db::now()});
            super::write_atomic(data, STANDBY_FILE, marker.to_string().as_bytes())?;
        }
        for dir in [data, &data.join("index"), archive] {
            apply::clean_temporaries(dir);
        }
        Ok(Follower {
            data: data.to_path_buf(),
            archive: archive.to_path_buf(),
            index,
            url,
            auth: format!("Bearer {token}"),
            status,
        })
    }

    /// Starts both threads; they stop when `stop` is set or the directory is promoted.
    pub fn start(self, stop: Arc<AtomicBool>) -> Vec<std::thread::JoinHandle<()>> {
        let db = self.clone();
        let stop2 = stop.clone();
        vec![
            std::thread::spawn(move || db.run(&stop, "database", Follower::db_round)),
            std::thread::spawn(move || {
                self.run(&stop2, "index and volumes", |f| {
                    f.index_round()?;
                    f.archive_round()
                })
            }),
        ]
    }

    fn run(
        &self,
        stop: &AtomicBool,
        what: &str,
        round: impl Fn(&Follower) -> Result<(), ReplicaError>,
    ) {
        while !stop.load(Ordering::SeqCst) && self.status.is_standby() {
            if let Err(e) = round(self) {
                tracing::warn!("standby: shipping the {what} failed: {e}");
                let msg = format!("{what}: {e}");
                self.status.update(|p| p.last_error = Some(msg));
            }
            let mut slept = Duration::ZERO;
            while slept < self.status.interval && !stop.load(Ordering::SeqCst) {
                let step = Duration::from_millis(100).min(self.status.interval - slept);
                std::thread::sleep(step);
                slept += step;
            }
        }
    }

    fn get(
        &self,
        path: &str,
        extra: &[(&str, &str)],
        sink: &mut dyn std::io::Write,
    ) -> Result<client::Head, ReplicaError> {
        let mut headers = vec![("Authorization", self.auth.as_str())];
        headers.extend_from_slice(extra);
        client::get(&self.url, path, &headers, TIMEOUT, sink)
    }

    fn get_json<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<T, ReplicaError> {
        let mut body = Vec::new();
        self.get(path, &[], &mut body)?;
        serde_json::from_slice(&body).map_err(|e| ReplicaError::Protocol(format!("{path}: {e}")))
    }

    /// Takes the lock; `None` if the directory was promoted meanwhile.
    fn lock(&self) -> Result<Option<std::fs::File>, ReplicaError> {
        let lock = super::lock(&self.data)?;
        Ok(self.status.is_standby().then_some(lock))
    }

    /// One database round: fetch the snapshot unless unchanged, apply it.
    pub fn db_round(&self) -> Result<(), ReplicaError> {
        let started = now_ms();
        let known = self.known_etag();
        let mut body = Vec::new();
        let head = self.get("/api/replica/db", &[("If-None-Match", &known)], &mut body)?;
        if head.status == 200 {
            let etag = head
                .header("etag")
                .map(|e| e.trim_matches('"').to_string())
                .ok_or_else(|| ReplicaError::Protocol("no ETag on the database".into()))?;
            let took = head
                .header("x-gleaner-snapshot-ms")
                .and_then(|v| v.parse::<u64>().ok());
            let Some(_lock) = self.lock()? else {
                return Ok(());
            };
            apply::apply_db(&self.data, &body, &etag)?;
            super::write_atomic(&self.data, ETAG_FILE, etag.as_bytes())?;
            self.status.update(|p| {
                p.db_applied_ms = Some(now_ms());
                p.db_bytes = body.len() as u64;
                p.db_applied += 1;
                p.db_snapshot_ms = took;
            });
        } else if head.status != 304 {
            return Err(ReplicaError::Protocol(format!(
                "status {} for the database",
                head.status
            )));
        }
        self.status.update(|p| {
            p.db_synced_ms = Some(started);
            p.last_error = None;
        });
        Ok(())
    }

    fn known_etag(&self) -> String {
        let etag = std::fs::read_to_string(self.data.join(ETAG_FILE)).unwrap_or_default();
        format!("\"{}\"", etag.trim())
    }

    /// One index round: fetch the files of the primary's commit that are
    /// missing here, then install its `meta.json` and reload.
    pub fn index_round(&self) -> Result<(), ReplicaError> {
        let started = now_ms();
        let m: IndexManifest = self.get_json("/api/replica/index")?;
        let dir = self.data.join("index");
        let ours = std::fs::read_to_string(dir.join("gleaner-schema-version")).unwrap_or_default();
        if ours.trim() != m.schema_version {
            return Err(ReplicaError::Invalid(format!(
                "the primary's index schema is version {}, this gleaner's {}: run the same gleaner version on both",
                m.schema_version,
                ours.trim()
            )));
        }
        let meta_path = dir.join("meta.json");
        if std::fs::read_to_string(&meta_path).ok().as_deref() != Some(m.meta.as_str()) {
            let mut fetched = 0;
            for f in &m.files {
                let local = dir.join(&f.name);
                if segment_file(&f.name).is_none() {
                    return Err(ReplicaError::Protocol(format!(
                        "bad index file name {:?}",
                        f.name
                    )));
                }
                if std::fs::metadata(&local).is_ok_and(|md| md.len() == f.size) {
                    continue;
                }
                self.fetch_file(
                    &dir,
                    &format!("/api/replica/index/{}", f.name),
                    &f.name,
                    f.size,
                )?;
                fetched += 1;
            }
            let Some(_lock) = self.lock()? else {
                return Ok(());
            };
            let wanted: BTreeSet<&str> = m.files.iter().map(|f| f.name.as_str()).collect();
            let managed: Vec<&str> = wanted.iter().copied().collect();
            let managed =
                serde_json::to_vec(&managed).map_err(|e| ReplicaError::Protocol(e.to_string()))?;
            super::write_atomic(&dir, ".managed.json", &managed)?;
            super::write_atomic(&dir, "meta.json", m.meta.as_bytes())?;
            self.index
                .reader
                .reload()
                .map_err(|e| ReplicaError::Index(e.to_string()))?;
            // Files of older commits: the searchers still using them keep them open.
            for e in std::fs::read_dir(&dir).at(&dir)?.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if segment_file(&name).is_some() && !wanted.contains(name.as_str()) {
                    let _ = std::fs::remove_file(e.path());
                }
            }
            if let Some(sources) = &m.sources {
                super::write_atomic(&self.data, "sources.json", sources.as_bytes())?;
            }
            self.status.update(|p| p.index_files_fetched += fetched);
        }
        let opstamp = serde_json::from_str::<serde_json::Value>(&m.meta)
            .ok()
            .and_then(|v| v.get("opstamp").and_then(|o| o.as_u64()));
        self.status.update(|p| {
            p.index_opstamp = opstamp;
            p.index_synced_ms = Some(started);
        });
        Ok(())
    }

    /// One volume round: each sealed volume missing here, data before manifest.
    pub fn archive_round(&self) -> Result<(), ReplicaError> {
        let started = now_ms();
        let mut m: ArchiveManifest = self.get_json("/api/replica/archive")?;
        // The manifest marks a volume sealed: fetch it after its data.
        m.files
            .sort_by_key(|f| (f.name.ends_with(".manifest.json"), f.name.clone()));
        for f in &m.files {
            let ok = super::plain_name(&f.name)
                && (f.name.ends_with(".mbox.zst") || f.name.ends_with(".manifest.json"));
            if !ok {
                return Err(ReplicaError::Protocol(format!(
                    "bad volume file name {:?}",
                    f.name
                )));
            }
            let local = self.archive.join(&f.name);
            if local.exists() {
                continue;
            }
            if !self.status.is_standby() {
                return Ok(());
            }
            self.fetch_file(
                &self.archive,
                &format!("/api/replica/archive/{}", f.name),
                &f.name,
                f.size,
            )?;
            let mut perms = std::fs::metadata(&local).at(&local)?.permissions();
            perms.set_readonly(true);
            std::fs::set_permissions(&local, perms).at(&local)?;
        }
        super::sync_dir(&self.archive)?;
        let n = m.files.len();
        self.status.update(|p| {
            p.archive_synced_ms = Some(started);
            p.archive_files = n;
        });
        Ok(())
    }

    fn fetch_file(
        &self,
        dir: &Path,
        path: &str,
        name: &str,
        size: u64,
    ) -> Result<(), ReplicaError> {
        apply::install(dir, name, |file| {
            let mut w = std::io::BufWriter::new(&mut *file);
            self.get(path, &[], &mut w)?;
            std::io::Write::flush(&mut w).at(&dir.join(name))?;
            drop(w);
            let got = file.metadata().at(&dir.join(name))?.len();
            if got != size {
                return Err(ReplicaError::Protocol(format!(
                    "{name}: {got} bytes, the primary listed {size}"
                )));
            }
            Ok(())
        })
    }
}

/// The ETag of the database snapshot last applied (in the data directory).
const ETAG_FILE: &str = "replica-db.etag";
