//! Per-copy records of the archive. One message can have several live copies
//! whose bytes differ (a list re-delivering it with other `Received` headers
//! and MIME boundaries) yet index as one document; each distinct byte-copy is
//! sealed, and a live copy may leave the store only when its own bytes are.
//!
//! * `sealed_copies`: one row per (key, SHA-256) sealed in a verified volume,
//!   with the volume location (URI) that holds those bytes.
//! * `copies`: every live copy the archive run has read: its location (the
//!   stable key of a `store::Location`), the message key, the SHA-256 of the
//!   bytes found there and, once it was removed from the live store, when.
//!   The removal is recorded (in one transaction per batch) just before the
//!   file is unlinked or the mbox renamed over, so every removed copy has a
//!   row; `gleaner verify` re-reads the sealed entry of each one.
//!
//! Nothing here knows tantivy; volumes are read through `store`.

use std::collections::{BTreeMap, HashSet};

use rusqlite::{params, Transaction};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{Retention, RetentionError};
use crate::store::{self, Location};

/// Migration 3 of the retention tables. Existing `archived` rows become the
/// first sealed copy of their message.
pub(crate) const MIGRATION: &str = "CREATE TABLE sealed_copies (
        key TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        volume TEXT NOT NULL,
        location TEXT NOT NULL,
        archived_at INTEGER NOT NULL,
        PRIMARY KEY (key, sha256)
     );
     INSERT OR IGNORE INTO sealed_copies (key, sha256, volume, location, archived_at)
        SELECT key, sha256, volume, location, archived_at FROM archived;
     CREATE TABLE copies (
        source TEXT NOT NULL,
        key TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        seen_at INTEGER NOT NULL,
        removed_at INTEGER,
        PRIMARY KEY (source, key, sha256)
     );
     CREATE INDEX copies_key ON copies(key);";

/// Hex SHA-256 of `bytes`.
pub fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The stable key of a location URI (the URI itself when it does not parse).
pub(crate) fn source_key(uri: &str) -> String {
    Location::from_uri(uri)
        .map(|l| l.stable_key())
        .unwrap_or_else(|_| uri.to_string())
}

/// One live copy: where, whose, which bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Copy {
    /// Stable key of its live location.
    pub source: String,
    /// The message key.
    pub key: String,
    /// SHA-256 of its bytes.
    pub sha256: String,
}

/// Records a sealed entry of a verified volume.
pub(crate) fn record_sealed(
    tx: &Transaction<'_>,
    key: &str,
    sha: &str,
    volume: &str,
    location: &str,
    now: i64,
) -> Result<(), RetentionError> {
    tx.prepare_cached(
        "INSERT INTO sealed_copies (key, sha256, volume, location, archived_at)
         VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT(key, sha256) DO NOTHING",
    )?
    .execute(params![key, sha, volume, location, now])?;
    Ok(())
}

/// Records a live copy whose bytes are sealed: still live (`removed_at`
/// `None`) or removed now. Only a copy whose (key, SHA-256) is in
/// `sealed_copies` is recorded; returns whether it was.
pub(crate) fn record_copy(
    tx: &Transaction<'_>,
    copy: &Copy,
    now: i64,
    removed_at: Option<i64>,
) -> Result<bool, RetentionError> {
    let n = tx
        .prepare_cached(
            "INSERT INTO copies (source, key, sha256, seen_at, removed_at)
             SELECT ?1, ?2, ?3, ?4, ?5 WHERE EXISTS
               (SELECT 1 FROM sealed_copies WHERE key = ?2 AND sha256 = ?3)
             ON CONFLICT(source, key, sha256) DO UPDATE SET removed_at = excluded.removed_at",
        )?
        .execute(params![copy.source, copy.key, copy.sha256, now, removed_at])?;
    Ok(n > 0)
}

/// Forgets what was known of live copies at `sources` (their bytes changed,
/// or the location is gone): the next run reads them again.
pub(crate) fn forget_live(tx: &Transaction<'_>, sources: &[String]) -> Result<(), RetentionError> {
    for s in sources {
        tx.prepare_cached("DELETE FROM copies WHERE source = ?1 AND removed_at IS NULL")?
            .execute([s])?;
    }
    Ok(())
}

/// A removed copy to check: (source, key, SHA-256).
type RemovedRow<'a> = (&'a str, &'a str, &'a str);

/// A sealed copy of a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SealedCopy {
    /// The message key.
    pub key: String,
    /// SHA-256 of the copy's bytes.
    pub sha256: String,
    /// The volume.
    pub volume: String,
    /// Its location URI in the volume.
    pub location: String,
}

/// What [`Retention::check_removed_copies`] found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RemovedCheck {
    /// Removed live copies checked.
    pub removed: usize,
    /// Sealed entries re-read for them.
    pub entries_read: usize,
    /// Removed copies not restorable byte for byte, and why.
    pub problems: Vec<String>,
}

impl Retention {
    /// The SHA-256s of the sealed copies of the message with `key`.
    pub fn sealed_shas(&self, key: &str) -> Result<HashSet<String>, RetentionError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached("SELECT sha256 FROM sealed_copies WHERE key = ?1")?;
        let rows = stmt.query_map([key], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Live copies whose bytes are known to be sealed: (source, key).
    pub(crate) fn known_live_copies(&self) -> Result<HashSet<(String, String)>, RetentionError> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT source, key FROM copies WHERE removed_at IS NULL")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Every sealed copy of a message, by key or Message-ID, oldest first.
    pub fn sealed_copies(&self, key_or_id: &str) -> Result<Vec<SealedCopy>, RetentionError> {
        let id = key_or_id
            .trim()
            .trim_start_matches('<')
            .trim_end_matches('>');
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT s.key, s.sha256, s.volume, s.location FROM sealed_copies s
             WHERE s.key IN (SELECT key FROM archived WHERE key = ?1 OR key = ?2 OR mid = ?3)
             ORDER BY s.archived_at, s.rowid",
        )?;
        let rows = stmt.query_map(
            params![key_or_id, format!("<{id}>"), id.to_lowercase()],
            |r| {
                Ok(SealedCopy {
                    key: r.get(0)?,
                    sha256: r.get(1)?,
                    volume: r.get(2)?,
                    location: r.get(3)?,
                })
            },
        )?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Proves every removed live copy restorable: re-reads the sealed entry
    /// holding its bytes and checks that entry's SHA-256 against the one
    /// recorded for the copy. A removed copy whose bytes no sealed entry
    /// holds, or whose entry cannot be read back exactly, is a problem.
    pub fn check_removed_copies(&self) -> Result<RemovedCheck, RetentionError> {
        let removed: Vec<(String, String, String, Option<String>)> = {
            let conn = self.conn();
            let mut stmt = conn.prepare(
                "SELECT c.source, c.key, c.sha256, s.location FROM copies c
                 LEFT JOIN sealed_copies s ON s.key = c.key AND s.sha256 = c.sha256
                 WHERE c.removed_at IS NOT NULL",
            )?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
            rows.collect::<Result<_, _>>()?
        };
        let mut check = RemovedCheck {
            removed: removed.len(),
            ..Default::default()
        };
        // Each sealed entry is read once, in volume and frame order.
        let mut entries: BTreeMap<(String, u64, String), Vec<RemovedRow<'_>>> = BTreeMap::new();
        for (source, key, sha, location) in &removed {
            let Some(location) = location else {
                check.problems.push(format!(
                    "removed copy {source} of {key}: no sealed entry holds its bytes (SHA-256 {sha})"
                ));
                continue;
            };
            let order = match Location::from_uri(location) {
                Ok(Location::Volume { path, entry }) => {
                    (path.display().to_string(), entry.frame_offset)
                }
                _ => (String::new(), 0),
            };
            entries
                .entry((order.0, order.1, location.clone()))
                .or_default()
                .push((source, key, sha));
        }
        for ((_, _, location), copies) in &entries {
            let found = Location::from_uri(location)
                .and_then(|l| store::read_location(&l))
                .map(|bytes| sha256(&bytes));
            check.entries_read += 1;
            for (source, key, sha) in copies {
                match &found {
                    Ok(actual) if actual == sha => {}
                    Ok(actual) => check.problems.push(format!(
                        "removed copy {source} of {key}: its sealed entry {location} reads back as SHA-256 {actual}, not {sha}"
                    )),
                    Err(e) => check.problems.push(format!(
                        "removed copy {source} of {key}: its sealed entry {location} cannot be read: {e}"
                    )),
                }
            }
        }
        Ok(check)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::store::volume::{ArchivedMessage, VolumeWriter};

    /// Seals `raw` in a real volume and records it; returns its location URI.
    fn seal(dir: &std::path::Path, r: &Retention, key: &str, raw: &[u8]) -> String {
        let mut w = VolumeWriter::create(dir, "p").unwrap();
        w.append(&ArchivedMessage {
            message_id: key,
            key,
            date: 0,
            list: "l",
            source: "file:/live/a",
            envelope_from: None,
            raw,
        })
        .unwrap();
        let m = w.seal().unwrap();
        let e = m.messages[0].clone();
        let loc = Location::Volume {
            path: m.mbox_path(dir),
            entry: Box::new(e.clone()),
        }
        .to_uri();
        r.write(|tx| record_sealed(tx, key, &e.sha256, &m.name, &loc, 1))
            .unwrap();
        loc
    }

    #[test]
    fn only_sealed_bytes_are_recorded_and_verify_rereads_each_removed_copy() {
        let dir = tempfile::tempdir().unwrap();
        let r = Retention::open(dir.path()).unwrap();
        let vols = dir.path().join("archive");
        std::fs::create_dir_all(&vols).unwrap();
        let (first, second) = (b"Subject: x\n\nfirst\n", b"Subject: x\n\nsecond\n");
        seal(&vols, &r, "<k>", first);
        let copy = |source: &str, bytes: &[u8]| Copy {
            source: source.into(),
            key: "<k>".into(),
            sha256: sha256(bytes),
        };
        let removed = |c: &Copy| r.write(|tx| record_copy(tx, c, 2, Some(2))).unwrap();
        assert!(removed(&copy("file:/live/a", first)));
        assert!(!removed(&copy("file:/live/b", second)), "unsealed bytes");
        assert_eq!(
            r.sealed_shas("<k>").unwrap(),
            HashSet::from([sha256(first)])
        );
        let check = r.check_removed_copies().unwrap();
        assert_eq!((check.removed, check.entries_read), (1, 1));
        assert!(check.problems.is_empty(), "{:?}", check.problems);
        // A removed copy recorded with bytes no sealed entry holds is reported.
        r.write(|tx| {
            tx.execute("UPDATE copies SET sha256 = ?1", [sha256(second)])?;
            Ok(())
        })
        .unwrap();
        let check = r.check_removed_copies().unwrap();
        assert_eq!(check.problems.len(), 1);
        assert!(
            check.problems[0].contains("file:/live/a"),
            "{:?}",
            check.problems
        );
        // The sealed entry itself gone: reported too.
        r.write(|tx| {
            tx.execute("UPDATE copies SET sha256 = ?1", [sha256(first)])?;
            Ok(())
        })
        .unwrap();
        for e in std::fs::read_dir(&vols).unwrap().flatten() {
            std::fs::remove_file(e.path()).unwrap();
        }
        let check = r.check_removed_copies().unwrap();
        assert_eq!(check.problems.len(), 1);
        assert!(
            check.problems[0].contains("cannot be read"),
            "{:?}",
            check.problems
        );
    }
}
