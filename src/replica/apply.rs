//! Applying what was shipped on the standby, so that a `kill -9` of either
//! side at any moment leaves an older consistent state, never a torn one.
//!
//! The database snapshot is written to a temporary file, fsynced, checked
//! (its SHA-256 against the primary's ETag, `PRAGMA quick_check`), given the
//! standby's own login sessions, and then copied into the live `gleaner.db`
//! with SQLite's backup API in one step: one write transaction in the live
//! file's WAL, atomic and durable, which the server's open connections see at
//! their next read. (A rename over `gleaner.db` would be atomic too, but the
//! open connections would go on reading the old, unlinked file.) Files
//! (segments, volumes) are written under a temporary name, fsynced and renamed.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use rusqlite::backup::{Backup, StepResult};
use rusqlite::Connection;
use sha2::{Digest, Sha256};

use super::{At, ReplicaError, TMP_PREFIX};

/// Applies a shipped database snapshot whose SHA-256 is `etag`.
pub fn apply_db(data: &Path, bytes: &[u8], etag: &str) -> Result<(), ReplicaError> {
    let got = hex::encode(Sha256::digest(bytes));
    if !got.eq_ignore_ascii_case(etag) {
        return Err(ReplicaError::Protocol(format!(
            "database snapshot hashes to {got}, the primary said {etag}"
        )));
    }
    let tmp = data.join(format!("{TMP_PREFIX}incoming.db"));
    {
        let mut f = std::fs::File::create(&tmp).at(&tmp)?;
        f.write_all(bytes).at(&tmp)?;
        f.sync_all().at(&tmp)?;
    }
    let result = apply_file(data, &tmp);
    let _ = std::fs::remove_file(&tmp);
    result
}

fn apply_file(data: &Path, tmp: &Path) -> Result<(), ReplicaError> {
    let live = data.join(crate::db::DB_FILE);
    let src = Connection::open(tmp)?;
    let check: String = src.query_row("PRAGMA quick_check", [], |r| r.get(0))?;
    if check != "ok" {
        return Err(ReplicaError::Protocol(format!(
            "database snapshot fails its check: {check}"
        )));
    }
    let existed = live.exists();
    let mut dst = crate::db::open(data).map_err(|e| ReplicaError::Protocol(e.to_string()))?;
    // Right before the copy takes the write lock: a login in between (microseconds) is
    // the only one that can be lost, and its user logs in again.
    if existed {
        keep_sessions(&src, &live)?;
    }
    let backup = Backup::new(&src, &mut dst)?;
    for _ in 0..200 {
        match backup.step(-1)? {
            StepResult::Done => return Ok(()),
            // Another connection (a login on this standby) is writing: try again.
            _ => std::thread::sleep(Duration::from_millis(50)),
        }
    }
    Err(ReplicaError::Protocol(
        "the standby's database stayed busy".into(),
    ))
}

/// Copies the login sessions made on this standby into the snapshot, so
/// that applying it does not log its users out.
fn keep_sessions(snapshot: &Connection, live: &Path) -> Result<(), ReplicaError> {
    let has = |conn: &Connection, schema: &str| -> Result<bool, rusqlite::Error> {
        conn.query_row(
            &format!("SELECT count(*) FROM {schema}.sqlite_schema WHERE name = 'sessions'"),
            [],
            |r| r.get::<_, i64>(0),
        )
        .map(|n| n > 0)
    };
    let live_text = live.to_string_lossy();
    snapshot.execute("ATTACH DATABASE ?1 AS live", [live_text.as_ref()])?;
    let copied = (|| {
        if has(snapshot, "main")? && has(snapshot, "live")? {
            snapshot.execute(
                "INSERT OR IGNORE INTO main.sessions SELECT * FROM live.sessions
                 WHERE user_id IN (SELECT id FROM main.users) AND expires > ?1",
                [crate::db::now()],
            )?;
        }
        Ok::<_, rusqlite::Error>(())
    })();
    snapshot.execute("DETACH DATABASE live", [])?;
    copied?;
    Ok(())
}

/// Keeps a copy of a database this directory had before it became a standby
/// (it may hold changes the new primary never saw); returns the copy's name.
pub fn keep_diverged(data: &Path) -> Result<Option<String>, ReplicaError> {
    let live = data.join(crate::db::DB_FILE);
    if !live.exists() {
        return Ok(None);
    }
    let src = Connection::open(&live)?;
    let entries: i64 = src
        .query_row("SELECT count(*) FROM audit_log", [], |r| r.get(0))
        .unwrap_or(0);
    if entries == 0 {
        return Ok(None); // A new, empty database: nothing to keep.
    }
    let name = format!("gleaner.db.before-standby-{}", crate::db::now());
    src.backup(
        rusqlite::MAIN_DB,
        data.join(&name),
        None::<fn(rusqlite::backup::Progress)>,
    )?;
    Ok(Some(name))
}

/// Writes what `fetch` produces to `dir/name` under a temporary name,
/// fsyncs it and renames it into place.
pub fn install(
    dir: &Path,
    name: &str,
    fetch: impl FnOnce(&mut std::fs::File) -> Result<(), ReplicaError>,
) -> Result<(), ReplicaError> {
    let tmp = dir.join(format!("{TMP_PREFIX}{name}"));
    let mut f = std::fs::File::create(&tmp).at(&tmp)?;
    if let Err(e) = fetch(&mut f).and_then(|()| f.sync_all().at(&tmp)) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    drop(f);
    std::fs::rename(&tmp, dir.join(name)).at(&tmp)
}

/// Removes temporary files a killed standby left in `dir`.
pub fn clean_temporaries(dir: &Path) {
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.file_name().to_string_lossy().starts_with(TMP_PREFIX) {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}
