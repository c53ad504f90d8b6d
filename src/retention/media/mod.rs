//! `gleaner export-media`: the archive as sets sized for a medium (DVD, BD,
//! LTO), each readable without gleaner — sealed volumes (zstd mboxrd), their
//! manifests, the published documents (Markdown + HTML), a plain-text
//! `README.txt` saying what the set holds and how to read every format with
//! standard tools, and a `SHA256SUMS` in `sha256sum`'s format.
//!
//! Runs are incremental: `media_items` in `gleaner.db` records which volume
//! (by name and SHA-256) and which document revision went onto which set, so
//! a run writes only what no set holds yet, and only when a new set is due
//! (`--every 1y`: the last set is that old; `--after 20G`: that much is
//! waiting). Every set is written to `set-NNNN.partial`, fsynced, re-read
//! and verified from disk ([`set`]), renamed into place, and only then
//! recorded, with one audit entry per set and per volume (the volume's
//! manifest lists its messages; [`Media::locate`] answers "which set holds
//! message X").
//!
//! Volumes holding only personal mailboxes (sources with an `owner`) are
//! left out: a departed person's mailbox is purged after its hold, which a
//! disc on a shelf could not follow.
//!
//! This module must not know the index or HTTP: volumes are read through
//! `store::volume`, documents through `curate`.

mod readme;
mod set;

use std::path::{Path, PathBuf};

use rusqlite::{params, OptionalExtension};
use serde::Serialize;

use super::{Retention, RetentionError};
use crate::curate::{Curation, DocStatus};
use crate::store::volume::{self, Manifest};

const COMPONENT: &str = "media";

const MIGRATIONS: &[&str] = &["CREATE TABLE media_sets (
        set_no INTEGER PRIMARY KEY,
        written_at INTEGER NOT NULL,
        dest TEXT NOT NULL,
        bytes INTEGER NOT NULL,
        files INTEGER NOT NULL,
        messages INTEGER NOT NULL,
        sums_sha256 TEXT NOT NULL
     );
     CREATE TABLE media_items (
        kind TEXT NOT NULL,
        name TEXT NOT NULL,
        version TEXT NOT NULL,
        set_no INTEGER NOT NULL REFERENCES media_sets(set_no),
        PRIMARY KEY (kind, name, version)
     );"];

/// When a new set is due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Due {
    /// When the last set is older than this age (`1y`, `6m`), or there is none.
    Every(String),
    /// When at least this many bytes wait for a set.
    After(u64),
}

/// What one run is asked to do.
#[derive(Debug, Clone)]
pub struct MediaOptions<'a> {
    /// Where the sets go (the mounted medium, or a staging directory).
    pub dest: &'a Path,
    /// The sealed volumes (`[archive] dir`).
    pub archive_dir: &'a Path,
    /// The largest a set may be, in bytes, every file counted.
    pub set_size: u64,
    /// When a new set is due.
    pub due: Due,
    /// Who runs it (audit log).
    pub actor: &'a str,
    /// Now (unix seconds).
    pub now: i64,
}

/// One set written.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SetReport {
    /// Its directory name, `set-0003`.
    pub name: String,
    /// Its directory.
    pub path: PathBuf,
    /// Every file's bytes.
    pub bytes: u64,
    /// Files (SHA256SUMS included).
    pub files: u64,
    /// Volumes on it.
    pub volumes: Vec<String>,
    /// Documents on it (slugs).
    pub documents: Vec<String>,
    /// Messages in its volumes.
    pub messages: u64,
    /// SHA-256 of its `SHA256SUMS` (recorded: it vouches for every file).
    pub sums_sha256: String,
}

/// What a run did.
#[derive(Debug, Clone, Serialize, Default)]
pub struct MediaReport {
    /// Whether a new set was due.
    pub due: bool,
    /// Why (or why not).
    pub reason: String,
    /// Volumes and document revisions no set held before this run.
    pub pending_items: u64,
    /// Their bytes.
    pub pending_bytes: u64,
    /// The sets written, in order.
    pub sets: Vec<SetReport>,
}

/// Where a message was written to media.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Placement {
    /// The volume holding (a copy of) it.
    pub volume: String,
    /// The set holding that volume (`None`: not on any set yet).
    pub set: Option<String>,
    /// Where the set was written.
    pub dest: Option<String>,
    /// When (unix seconds).
    pub written_at: Option<i64>,
}

/// A file to put on a set: its path in the set and where its bytes are.
#[derive(Debug, Clone)]
enum FileSource {
    /// Copied from this file.
    Copy(PathBuf),
    /// These bytes.
    Bytes(Vec<u8>),
}

#[derive(Debug, Clone)]
struct SetFile {
    path: String,
    source: FileSource,
    len: u64,
}

/// A volume or a document revision: what goes onto a set whole.
#[derive(Debug, Clone)]
struct Item {
    kind: &'static str,
    name: String,
    version: String,
    files: Vec<SetFile>,
    manifest: Option<Manifest>,
    title: String,
}

impl Item {
    fn bytes(&self) -> u64 {
        self.files.iter().map(|f| f.len).sum()
    }
}

/// The media tables of `gleaner.db`, beside the retention tables.
pub struct Media {
    retention: Retention,
}

impl Media {
    /// Opens (creating and migrating) the media tables.
    pub fn open(data: &Path) -> Result<Media, RetentionError> {
        let retention = Retention::open(data)?;
        crate::db::migrate(&mut retention.conn(), COMPONENT, MIGRATIONS)?;
        Ok(Media { retention })
    }

    fn on_media(&self, kind: &str, name: &str, version: &str) -> Result<bool, RetentionError> {
        Ok(self
            .retention
            .conn()
            .query_row(
                "SELECT 1 FROM media_items WHERE kind = ?1 AND name = ?2 AND version = ?3",
                params![kind, name, version],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    /// What no set holds yet: sealed volumes in name order, then published
    /// document revisions.
    fn pending(
        &self,
        archive_dir: &Path,
        curation: Option<&Curation>,
    ) -> Result<Vec<Item>, RetentionError> {
        let mut items = Vec::new();
        let volumes = if archive_dir.is_dir() {
            volume::list_volumes(archive_dir)?
        } else {
            Vec::new()
        };
        for m in volumes {
            if self.on_media("volume", &m.name, &m.volume_sha256)? || is_personal(&m) {
                continue;
            }
            let mut files = Vec::new();
            for src in [m.mbox_path(archive_dir), m.manifest_path(archive_dir)] {
                let len = std::fs::metadata(&src)
                    .map_err(|e| set::store_err(&src, e))?
                    .len();
                let file = src.file_name().unwrap_or_default().to_string_lossy();
                files.push(SetFile {
                    path: format!("volumes/{file}"),
                    source: FileSource::Copy(src.clone()),
                    len,
                });
            }
            items.push(Item {
                kind: "volume",
                name: m.name.clone(),
                version: m.volume_sha256.clone(),
                files,
                title: String::new(),
                manifest: Some(m),
            });
        }
        let Some(curation) = curation else {
            return Ok(items);
        };
        for d in curation.documents()? {
            let version = d.revision.to_string();
            if d.status != DocStatus::Published || self.on_media("document", &d.slug, &version)? {
                continue;
            }
            let id = d.id.to_string();
            let md = curation.export_markdown(&id, None)?.into_bytes();
            let html = curation.export_html(&id, None)?.into_bytes();
            let files = [("md", md), ("html", html)]
                .into_iter()
                .map(|(ext, bytes)| SetFile {
                    path: format!("documents/{}.{ext}", d.slug),
                    len: bytes.len() as u64,
                    source: FileSource::Bytes(bytes),
                })
                .collect();
            items.push(Item {
                kind: "document",
                name: d.slug.clone(),
                version,
                files,
                manifest: None,
                title: d.title.clone(),
            });
        }
        Ok(items)
    }

    fn last_set(&self) -> Result<Option<(i64, i64)>, RetentionError> {
        Ok(self
            .retention
            .conn()
            .query_row(
                "SELECT set_no, written_at FROM media_sets ORDER BY set_no DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
    }

    /// Writes the sets that are due: everything no set holds yet, packed in
    /// order into sets of at most `set_size` bytes.
    pub fn export(
        &self,
        opts: &MediaOptions<'_>,
        curation: Option<&Curation>,
    ) -> Result<MediaReport, RetentionError> {
        let pending = self.pending(opts.archive_dir, curation)?;
        let last = self.last_set()?;
        let mut report = MediaReport {
            pending_items: pending.len() as u64,
            pending_bytes: pending.iter().map(Item::bytes).sum(),
            ..MediaReport::default()
        };
        (report.due, report.reason) = is_due(&opts.due, last, &report, opts.now)?;
        if !report.due {
            return Ok(report);
        }
        let first = last.map_or(1, |(n, _)| n + 1);
        let sets = pack(pending, first, opts)?;
        let last_no = first + sets.len() as i64 - 1;
        std::fs::create_dir_all(opts.dest).map_err(|e| set::store_err(opts.dest, e))?;
        set::cleanup_partial(opts.dest)?;
        for (i, items) in sets.into_iter().enumerate() {
            let no = first + i as i64;
            let written = set::write(opts, no, (first, last_no), &items)?;
            self.record(opts, no, &items, &written)?;
            report.sets.push(written);
        }
        Ok(report)
    }

    fn record(
        &self,
        opts: &MediaOptions<'_>,
        no: i64,
        items: &[Item],
        written: &SetReport,
    ) -> Result<(), RetentionError> {
        let dest = opts.dest.display().to_string();
        self.retention.write(|tx| {
            tx.execute(
                "INSERT INTO media_sets (set_no, written_at, dest, bytes, files, messages, sums_sha256)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    no,
                    opts.now,
                    dest,
                    written.bytes as i64,
                    written.files as i64,
                    written.messages as i64,
                    written.sums_sha256
                ],
            )?;
            for item in items {
                tx.execute(
                    "INSERT INTO media_items (kind, name, version, set_no) VALUES (?1, ?2, ?3, ?4)",
                    params![item.kind, item.name, item.version, no],
                )?;
                if let Some(m) = &item.manifest {
                    crate::audit::append(
                        tx,
                        opts.actor,
                        "media.volume",
                        &format!("volume:{}", m.name),
                        &serde_json::json!({"set": written.name, "dest": dest,
                            "messages": m.message_count, "volume_sha256": m.volume_sha256}),
                    )?;
                }
            }
            crate::audit::append(
                tx,
                opts.actor,
                "media.set",
                &format!("media:{}", written.name),
                &serde_json::json!({"dest": dest, "bytes": written.bytes, "files": written.files,
                    "messages": written.messages, "sha256sums": written.sums_sha256,
                    "volumes": written.volumes,
                    "documents": written.documents}),
            )?;
            Ok(())
        })
    }

    /// Which sets hold message `key_or_id` (by key or Message-ID): every
    /// volume with a sealed copy of it, and the set each volume went onto.
    pub fn locate(&self, key_or_id: &str) -> Result<Vec<Placement>, RetentionError> {
        let id = key_or_id
            .trim()
            .trim_start_matches('<')
            .trim_end_matches('>');
        let conn = self.retention.conn();
        let mut stmt = conn.prepare(
            "SELECT DISTINCT s.volume, i.set_no, m.dest, m.written_at
               FROM sealed_copies s
               LEFT JOIN media_items i ON i.kind = 'volume' AND i.name = s.volume
               LEFT JOIN media_sets m ON m.set_no = i.set_no
              WHERE s.key IN (SELECT key FROM archived WHERE key = ?1 OR key = ?2 OR mid = ?3)
              ORDER BY s.volume, i.set_no",
        )?;
        let rows = stmt.query_map(
            params![key_or_id, format!("<{id}>"), id.to_lowercase()],
            |r| {
                Ok(Placement {
                    volume: r.get(0)?,
                    set: r.get::<_, Option<i64>>(1)?.map(set::set_name),
                    dest: r.get(2)?,
                    written_at: r.get(3)?,
                })
            },
        )?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

/// A volume of personal mailboxes only (`extract::mailbox_list`): it never
/// goes onto media, which nobody could purge after a departure's hold.
fn is_personal(m: &Manifest) -> bool {
    !m.messages.is_empty()
        && m.messages
            .iter()
            .all(|e| crate::extract::is_mailbox_list(&e.list))
}

fn is_due(
    due: &Due,
    last: Option<(i64, i64)>,
    report: &MediaReport,
    now: i64,
) -> Result<(bool, String), RetentionError> {
    if report.pending_items == 0 {
        return Ok((
            false,
            "nothing new: every volume and published document is on a set".into(),
        ));
    }
    match due {
        Due::After(bytes) if report.pending_bytes >= *bytes => Ok((
            true,
            format!(
                "{} bytes wait for a set (--after {bytes})",
                report.pending_bytes
            ),
        )),
        Due::After(bytes) => Ok((
            false,
            format!(
                "{} bytes wait for a set, less than --after {bytes}",
                report.pending_bytes
            ),
        )),
        Due::Every(age) => {
            let (amount, unit) = crate::curate::policy::parse_age(age)
                .map_err(|e| RetentionError::Invalid(e.to_string()))?;
            match last {
                None => Ok((true, "no set written yet".into())),
                Some((n, at)) if at <= crate::query::plan::age_cutoff(now, amount, unit) => Ok((
                    true,
                    format!("{} is older than --every {age}", set::set_name(n)),
                )),
                Some((n, _)) => Ok((
                    false,
                    format!("{} is younger than --every {age}", set::set_name(n)),
                )),
            }
        }
    }
}

/// Packs `items` in order into sets, each at most `opts.set_size` bytes with
/// its README.txt and SHA256SUMS. An item larger than a set is refused
/// before anything is written.
fn pack(
    items: Vec<Item>,
    first: i64,
    opts: &MediaOptions<'_>,
) -> Result<Vec<Vec<Item>>, RetentionError> {
    let mut sets: Vec<Vec<Item>> = Vec::new();
    let mut current: Vec<Item> = Vec::new();
    for item in items {
        let no = first + sets.len() as i64;
        current.push(item);
        if set::total_bytes(opts, no, &current) <= opts.set_size {
            continue;
        }
        let item = current
            .pop()
            .ok_or_else(|| RetentionError::Invalid("empty set".into()))?;
        if current.is_empty() {
            return Err(RetentionError::Invalid(format!(
                "{} {} needs {} bytes with its README.txt and SHA256SUMS, more than a set of {} bytes: \
                 choose a larger --size or a smaller [archive] volume_size (nothing was written)",
                item.kind,
                item.name,
                set::total_bytes(opts, no, std::slice::from_ref(&item)),
                opts.set_size
            )));
        }
        sets.push(std::mem::take(&mut current));
        current.push(item);
        let no = first + sets.len() as i64;
        if set::total_bytes(opts, no, &current) > opts.set_size {
            let item = &current[0];
            return Err(RetentionError::Invalid(format!(
                "{} {} is larger than a set of {} bytes: choose a larger --size or a smaller \
                 [archive] volume_size (nothing was written)",
                item.kind, item.name, opts.set_size
            )));
        }
    }
    if !current.is_empty() {
        sets.push(current);
    }
    Ok(sets)
}
