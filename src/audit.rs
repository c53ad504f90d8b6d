//! The audit log: append-only and hash-chained, in `gleaner.db`.
//!
//! Every review decision, document edit, policy change, user change, archive
//! run, removal and hold is one entry: who, when, what, on which subject,
//! with details as JSON. Each entry carries the SHA-256 of the one before
//! (`prev`) and its own (`hash`, over `prev` and all its fields), and entries
//! are numbered without gaps from 1, so [`verify`] finds the first entry that
//! was altered, inserted or removed. The newest entry's number and hash are
//! also kept in `audit_head`, so removing entries from the end is found too.
//!
//! Callers append inside the same SQLite transaction as the change they
//! record (see [`append`]), so a change and its entry commit together or not
//! at all. Open that transaction with `TransactionBehavior::Immediate`: the
//! chain needs appends to be serialised.

use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// The component name of this module's migrations.
const COMPONENT: &str = "audit";

const MIGRATIONS: &[&str] = &["CREATE TABLE audit_log (
        seq INTEGER PRIMARY KEY,
        at INTEGER NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        subject TEXT NOT NULL,
        detail TEXT NOT NULL,
        prev TEXT NOT NULL,
        hash TEXT NOT NULL
     );
     CREATE TABLE audit_head (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        seq INTEGER NOT NULL,
        hash TEXT NOT NULL
     );
     CREATE INDEX audit_subject ON audit_log(subject);"];

/// The `prev` of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Creates or upgrades the audit tables.
pub fn migrate(conn: &mut Connection) -> Result<(), rusqlite::Error> {
    crate::db::migrate(conn, COMPONENT, MIGRATIONS)
}

/// One entry of the log.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Entry {
    /// Position in the log, from 1, without gaps.
    pub seq: i64,
    /// Unix seconds.
    pub at: i64,
    /// Who (a user name, or `system`/`cli:<unix user>`).
    pub actor: String,
    /// What kind of change (`review.decide`, `doc.save`, `user.add`, ...).
    pub action: String,
    /// What it was done to (`thread:<id>`, `doc:<id>`, `user:<name>`, ...).
    pub subject: String,
    /// Details, as JSON text.
    pub detail: String,
    /// The previous entry's hash.
    pub prev: String,
    /// This entry's hash.
    pub hash: String,
}

fn entry_hash(
    prev: &str,
    seq: i64,
    at: i64,
    actor: &str,
    action: &str,
    subject: &str,
    detail: &str,
) -> String {
    let mut h = Sha256::new();
    for part in [
        prev,
        &seq.to_string(),
        &at.to_string(),
        actor,
        action,
        subject,
        detail,
    ] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    hex::encode(h.finalize())
}

/// Appends an entry inside `tx` (the transaction of the change it records).
pub fn append(
    tx: &Transaction<'_>,
    actor: &str,
    action: &str,
    subject: &str,
    detail: &serde_json::Value,
) -> Result<i64, rusqlite::Error> {
    let (seq, prev) = tx
        .query_row("SELECT seq, hash FROM audit_head WHERE id = 1", [], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
        })
        .optional()?
        .unwrap_or((0, GENESIS.to_string()));
    let seq = seq + 1;
    let at = crate::db::now();
    let detail = detail.to_string();
    let hash = entry_hash(&prev, seq, at, actor, action, subject, &detail);
    tx.execute(
        "INSERT INTO audit_log (seq, at, actor, action, subject, detail, prev, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![seq, at, actor, action, subject, detail, prev, hash],
    )?;
    tx.execute(
        "INSERT INTO audit_head (id, seq, hash) VALUES (1, ?1, ?2)
         ON CONFLICT(id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
        params![seq, hash],
    )?;
    Ok(seq)
}

/// Entries, newest first, optionally only those about `subject`.
pub fn recent(
    conn: &Connection,
    subject: Option<&str>,
    limit: usize,
) -> Result<Vec<Entry>, rusqlite::Error> {
    let mut stmt = conn.prepare(
        "SELECT seq, at, actor, action, subject, detail, prev, hash FROM audit_log
         WHERE ?1 IS NULL OR subject = ?1 ORDER BY seq DESC LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![subject, limit as i64], row_entry)?;
    rows.collect()
}

fn row_entry(r: &rusqlite::Row<'_>) -> Result<Entry, rusqlite::Error> {
    Ok(Entry {
        seq: r.get(0)?,
        at: r.get(1)?,
        actor: r.get(2)?,
        action: r.get(3)?,
        subject: r.get(4)?,
        detail: r.get(5)?,
        prev: r.get(6)?,
        hash: r.get(7)?,
    })
}

/// What [`verify`] found.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Verification {
    /// Entries checked.
    pub entries: i64,
    /// The first entry that was altered, inserted or removed, if any.
    pub first_bad: Option<i64>,
    /// Why it is bad.
    pub problem: Option<String>,
}

impl Verification {
    /// True when the chain is intact.
    pub fn ok(&self) -> bool {
        self.first_bad.is_none()
    }
}

/// Walks the whole chain and reports the first entry that does not fit.
pub fn verify(conn: &Connection) -> Result<Verification, rusqlite::Error> {
    let mut stmt = conn.prepare(
        "SELECT seq, at, actor, action, subject, detail, prev, hash FROM audit_log ORDER BY seq",
    )?;
    let mut rows = stmt.query([])?;
    let mut expected_seq = 1;
    let mut prev = GENESIS.to_string();
    let bad = |seq: i64, why: String, n: i64| Verification {
        entries: n,
        first_bad: Some(seq),
        problem: Some(why),
    };
    while let Some(row) = rows.next()? {
        let e = row_entry(row)?;
        if e.seq != expected_seq {
            return Ok(bad(
                expected_seq,
                format!("entry {expected_seq} is missing (next is {})", e.seq),
                expected_seq - 1,
            ));
        }
        if e.prev != prev {
            return Ok(bad(
                e.seq,
                "does not follow the entry before it (entry before was altered or removed)".into(),
                e.seq - 1,
            ));
        }
        let want = entry_hash(
            &e.prev, e.seq, e.at, &e.actor, &e.action, &e.subject, &e.detail,
        );
        if e.hash != want {
            return Ok(bad(e.seq, "its content was altered".into(), e.seq - 1));
        }
        prev = e.hash;
        expected_seq += 1;
    }
    let count = expected_seq - 1;
    let head: Option<(i64, String)> = conn
        .query_row("SELECT seq, hash FROM audit_head WHERE id = 1", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?;
    match head {
        Some((seq, _)) if seq > count => Ok(bad(
            count + 1,
            format!("entries {}..={seq} were removed from the end", count + 1),
            count,
        )),
        Some((seq, hash_head)) if seq == count && hash_head != prev => {
            Ok(bad(seq, "the newest entry was replaced".into(), count))
        }
        None if count > 0 => Ok(bad(count, "the log's head record is missing".into(), count)),
        _ => Ok(Verification {
            entries: count,
            first_bad: None,
            problem: None,
        }),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use rusqlite::TransactionBehavior;

    fn db() -> Connection {
        let mut c = Connection::open_in_memory().unwrap();
        migrate(&mut c).unwrap();
        c
    }

    fn add(c: &mut Connection, n: usize) {
        for i in 0..n {
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .unwrap();
            append(
                &tx,
                "alice",
                "test.act",
                &format!("thing:{i}"),
                &serde_json::json!({"i": i}),
            )
            .unwrap();
            tx.commit().unwrap();
        }
    }

    #[test]
    fn an_untouched_chain_verifies() {
        let mut c = db();
        add(&mut c, 5);
        let v = verify(&c).unwrap();
        assert_eq!(
            v,
            Verification {
                entries: 5,
                first_bad: None,
                problem: None
            }
        );
        assert_eq!(recent(&c, None, 10).unwrap().len(), 5);
        assert_eq!(recent(&c, Some("thing:3"), 10).unwrap()[0].seq, 4);
    }

    #[test]
    fn an_altered_entry_is_found() {
        let mut c = db();
        add(&mut c, 5);
        c.execute("UPDATE audit_log SET actor = 'mallory' WHERE seq = 3", [])
            .unwrap();
        assert_eq!(verify(&c).unwrap().first_bad, Some(3));
    }

    #[test]
    fn a_removed_entry_is_found() {
        let mut c = db();
        add(&mut c, 5);
        c.execute("DELETE FROM audit_log WHERE seq = 2", [])
            .unwrap();
        assert_eq!(verify(&c).unwrap().first_bad, Some(2));
    }

    #[test]
    fn entries_removed_from_the_end_are_found() {
        let mut c = db();
        add(&mut c, 5);
        c.execute("DELETE FROM audit_log WHERE seq >= 4", [])
            .unwrap();
        assert_eq!(verify(&c).unwrap().first_bad, Some(4));
    }

    #[test]
    fn a_rewritten_chain_tail_is_found() {
        let mut c = db();
        add(&mut c, 3);
        // Recompute a consistent-looking replacement of entry 3 without the head.
        let prev: String = c
            .query_row("SELECT hash FROM audit_log WHERE seq = 2", [], |r| r.get(0))
            .unwrap();
        let forged = entry_hash(&prev, 3, 1, "mallory", "x", "y", "{}");
        c.execute(
            "UPDATE audit_log SET at = 1, actor = 'mallory', action = 'x', subject = 'y', detail = '{}', hash = ?1 WHERE seq = 3",
            [forged],
        )
        .unwrap();
        assert_eq!(verify(&c).unwrap().first_bad, Some(3));
    }
}
