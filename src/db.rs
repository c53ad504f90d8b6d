//! The SQLite file `<data>/gleaner.db`: opening it the same way everywhere
//! (WAL, foreign keys, a busy timeout) and per-component migrations in code.
//!
//! Each component (`access`, `audit`, `curate`, ...) owns a list of SQL
//! migrations and records how many it has applied in `schema_versions`; a
//! shipped migration is never edited, a new one is appended.

use std::path::Path;
use std::time::Duration;

use rusqlite::Connection;

/// The database's file name inside the data directory.
pub const DB_FILE: &str = "gleaner.db";

/// Opens (creating) `<data>/gleaner.db` with gleaner's settings.
pub fn open(data: &Path) -> Result<Connection, OpenError> {
    std::fs::create_dir_all(data).map_err(|source| OpenError::Dir {
        path: data.to_path_buf(),
        source,
    })?;
    let conn = Connection::open(data.join(DB_FILE))?;
    configure(&conn)?;
    Ok(conn)
}

/// Applies gleaner's connection settings (also to in-memory test databases).
pub fn configure(conn: &Connection) -> Result<(), rusqlite::Error> {
    // First: even switching to WAL waits for a lock another process may hold.
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // Decisions, documents and the audit log are the truth: every commit reaches the disk.
    conn.pragma_update(None, "synchronous", "FULL")?;
    Ok(())
}

/// Why the database could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// The data directory could not be created.
    #[error("cannot create data directory {path}: {source}")]
    Dir {
        /// The directory.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// SQLite refused.
    #[error("cannot open the database: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

/// Applies the migrations of `component` that have not run yet, in one transaction.
///
/// The transaction takes the write lock at once (`BEGIN IMMEDIATE`): a deferred
/// one that read the version and then wrote would fail at once with
/// `SQLITE_BUSY` whenever another connection (a second process starting, the
/// server's reminder thread) committed in between, which made `serve`'s start
/// fail now and then under load.
pub fn migrate(
    conn: &mut Connection,
    component: &str,
    migrations: &[&str],
) -> Result<(), rusqlite::Error> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    tx.execute(
        "CREATE TABLE IF NOT EXISTS schema_versions (component TEXT PRIMARY KEY, version INTEGER NOT NULL)",
        [],
    )?;
    let done: usize = tx
        .query_row(
            "SELECT version FROM schema_versions WHERE component = ?1",
            [component],
            |r| r.get::<_, i64>(0),
        )
        .map(|v| usize::try_from(v).unwrap_or(0))
        .or_else(|e| match e {
            rusqlite::Error::QueryReturnedNoRows => Ok(0),
            e => Err(e),
        })?;
    if done >= migrations.len() {
        return tx.commit();
    }
    for sql in migrations.iter().skip(done) {
        tx.execute_batch(sql)?;
    }
    tx.execute(
        "INSERT INTO schema_versions (component, version) VALUES (?1, ?2)
         ON CONFLICT(component) DO UPDATE SET version = excluded.version",
        rusqlite::params![component, migrations.len() as i64],
    )?;
    tx.commit()
}

/// Unix seconds now.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Runs `f` in one write transaction taken at once (`BEGIN IMMEDIATE`), so
/// audit-log appends from several connections are serialised; commits when
/// `f` succeeds.
pub fn write<T, E: From<rusqlite::Error>>(
    conn: &mut Connection,
    f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T, E>,
) -> Result<T, E> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let out = f(&tx)?;
    tx.commit()?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Connections opening and migrating while another keeps writing (a
    /// server's reminder thread, a second process starting) wait their turn:
    /// no `database is locked`.
    #[test]
    fn opening_and_migrating_beside_a_writer_waits_instead_of_failing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().to_path_buf();
        let mut first = open(&data).expect("open");
        let steps = ["CREATE TABLE t (n INTEGER)"];
        migrate(&mut first, "t", &steps).expect("migrate");
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let writer = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut n = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let tx = first.transaction().expect("tx");
                    tx.execute("INSERT INTO t (n) VALUES (?1)", [n])
                        .expect("insert");
                    tx.commit().expect("commit");
                    n += 1;
                    std::thread::sleep(std::time::Duration::from_micros(200));
                }
                n
            })
        };
        let openers: Vec<_> = (0..4)
            .map(|_| {
                let data = data.clone();
                std::thread::spawn(move || {
                    for _ in 0..200 {
                        let mut c = open(&data)?;
                        migrate(&mut c, "t", &steps)?;
                        migrate(
                            &mut c,
                            "other",
                            &["CREATE TABLE IF NOT EXISTS u (n INTEGER)"],
                        )?;
                    }
                    Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
                })
            })
            .collect();
        for o in openers {
            o.join().expect("opener thread").expect("open and migrate");
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        assert!(writer.join().expect("writer") > 0, "the writer wrote");
    }
}
