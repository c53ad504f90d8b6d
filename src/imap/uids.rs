//! Stable IMAP UIDs, kept in `gleaner.db`: one UID space for the whole
//! archive, handed out in arrival order (oldest `arrived` first, ties by key)
//! and never reused (`AUTOINCREMENT`), with one UIDVALIDITY chosen when the
//! table is made. A message's UID is the same in every mailbox that holds it,
//! so each mailbox's UIDs ascend in arrival order without a table per mailbox.
//!
//! Keys are content-derived (`index::doc`), so `gleaner rebuild` finds the
//! same keys and the same UIDs; `backup`/`restore` copy the database; an
//! archived message keeps its key, so it keeps its UID. The map key ↔ UID is
//! also kept in memory, shared by every connection, and each index segment's
//! documents are numbered once (`query::mailbox::Numbering`), so a mailbox's
//! UIDs are found without reading keys. Knows nothing of the protocol.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock, Weak};

use rusqlite::Connection;

use crate::index::MailIndex;
use crate::query::mailbox::{Filter, Numbering, Scope};

use super::ImapError;

const MIGRATIONS: &[&str] = &["CREATE TABLE imap_uids (
        uid INTEGER PRIMARY KEY AUTOINCREMENT,
        key TEXT NOT NULL UNIQUE
     );
     CREATE TABLE imap_meta (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        uidvalidity INTEGER NOT NULL
     );"];

#[derive(Default)]
struct Map {
    by_key: HashMap<Arc<str>, u32>,
    by_uid: HashMap<u32, Arc<str>>,
}

/// A mailbox's UID array while someone holds it, and the index generation
/// it was made at.
type SharedArray = (u64, Weak<Vec<u32>>);

/// The UID table and its in-memory copy; cheap to clone.
#[derive(Clone)]
pub struct Uids {
    conn: Arc<Mutex<Connection>>,
    map: Arc<RwLock<Map>>,
    /// Each index segment's documents' UIDs, for mailboxes and searches.
    numbering: Arc<Numbering>,
    /// Mailboxes' UID arrays while some connection holds them, by scope,
    /// with the index generation they were made at (see [`Uids::mailbox`]).
    shared: Arc<Mutex<HashMap<String, SharedArray>>>,
    /// The archive's UIDVALIDITY.
    pub uidvalidity: u32,
    /// Messages' CRLF sizes as measured for STATUS SIZE (`sizes.rs`).
    pub(super) sizes: Arc<super::sizes::Sizes>,
}

impl Uids {
    /// Opens (or makes) the table in `data/gleaner.db` and reads it.
    pub fn open(data: &Path) -> Result<Uids, ImapError> {
        let conn = crate::db::open(data).map_err(|e| ImapError::Db(e.to_string()))?;
        Uids::with_connection(conn)
    }

    /// Uses an open connection.
    pub fn with_connection(mut conn: Connection) -> Result<Uids, ImapError> {
        crate::db::migrate(&mut conn, "imap", MIGRATIONS)?;
        // A UIDVALIDITY a client cannot have seen before (the time, in seconds).
        let now = u32::try_from(crate::db::now()).unwrap_or(1).max(1);
        conn.execute(
            "INSERT OR IGNORE INTO imap_meta (id, uidvalidity) VALUES (1, ?1)",
            [now],
        )?;
        let uidvalidity: u32 =
            conn.query_row("SELECT uidvalidity FROM imap_meta WHERE id = 1", [], |r| {
                r.get(0)
            })?;
        let mut map = Map::default();
        {
            let mut stmt = conn.prepare("SELECT uid, key FROM imap_uids")?;
            let rows = stmt.query_map([], |r| Ok((r.get::<_, u32>(0)?, r.get::<_, String>(1)?)))?;
            for row in rows {
                let (uid, key) = row?;
                let key: Arc<str> = key.into();
                map.by_key.insert(key.clone(), uid);
                map.by_uid.insert(uid, key);
            }
        }
        Ok(Uids {
            conn: Arc::new(Mutex::new(conn)),
            map: Arc::new(RwLock::new(map)),
            numbering: Arc::new(Numbering::default()),
            shared: Arc::default(),
            uidvalidity,
            sizes: Arc::default(),
        })
    }

    /// Gives every indexed message without a UID one, in arrival order, and
    /// numbers the index segments not numbered yet (cheap when none is new).
    pub fn sync(&self, index: &MailIndex) -> Result<(), ImapError> {
        // One writer at a time: two connections must not both hand out UIDs.
        let mut conn = match self.conn.lock() {
            Ok(c) => c,
            Err(p) => p.into_inner(),
        };
        let number = |key: &str| self.read().by_key.get(key).copied();
        self.numbering
            .refresh(index, &number, |fresh: Vec<(i64, String)>| {
                let mut added = Vec::with_capacity(fresh.len());
                let tx =
                    conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                {
                    let mut stmt = tx.prepare("INSERT INTO imap_uids (key) VALUES (?1)")?;
                    for (_, key) in fresh {
                        stmt.execute([&key])?;
                        let uid = u32::try_from(tx.last_insert_rowid())
                            .map_err(|_| ImapError::Db("UIDs exhausted".into()))?;
                        added.push((uid, key));
                    }
                }
                tx.commit()?;
                let mut map = match self.map.write() {
                    Ok(m) => m,
                    Err(p) => p.into_inner(),
                };
                for (uid, key) in added {
                    let key: Arc<str> = key.into();
                    map.by_key.insert(key.clone(), uid);
                    map.by_uid.insert(uid, key);
                }
                Ok::<(), ImapError>(())
            })
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Map> {
        match self.map.read() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        }
    }

    /// The UIDs of the messages of `scope` that `filter` keeps, ascending.
    pub fn select(
        &self,
        index: &MailIndex,
        scope: &Scope,
        filter: &Filter,
    ) -> Result<Vec<u32>, ImapError> {
        Ok(self.numbering.numbers(index, scope, filter)?)
    }

    /// The UIDs of `scope`'s messages, ascending, shared: connections that
    /// select the same mailbox (same lists, same grants) while the index has
    /// not changed get one array, so a connection costs the same for a
    /// mailbox of a million messages as of ten, and NOOP/IDLE re-check it
    /// for free until the index changes. A saved search's scope (a query,
    /// which may depend on the time or on curation marks) is not shared.
    pub fn mailbox(&self, index: &MailIndex, scope: &Scope) -> Result<Arc<Vec<u32>>, ImapError> {
        if scope.query.is_some() {
            return Ok(Arc::new(self.select(index, scope, &Filter::All)?));
        }
        let key = format!("{:?}|{:?}", scope.lists, scope.allowed);
        // The generation first: a reload in between makes a newer array under
        // an older generation, which the next call simply replaces.
        let generation = crate::query::mailbox::generation(index);
        let lock = || match self.shared.lock() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        };
        if let Some((g, weak)) = lock().get(&key) {
            if *g == generation {
                if let Some(arr) = weak.upgrade() {
                    return Ok(arr);
                }
            }
        }
        let arr = Arc::new(self.select(index, scope, &Filter::All)?);
        let mut map = lock();
        map.retain(|_, (_, w)| w.strong_count() > 0);
        map.insert(key, (generation, Arc::downgrade(&arr)));
        Ok(arr)
    }

    /// The key of `uid`.
    pub fn key_of(&self, uid: u32) -> Option<Arc<str>> {
        self.read().by_uid.get(&uid).cloned()
    }

    /// The next UID to be handed out (UIDNEXT of every mailbox).
    pub fn next(&self) -> u32 {
        let conn = match self.conn.lock() {
            Ok(c) => c,
            Err(p) => p.into_inner(),
        };
        let seq: Option<i64> = conn
            .query_row(
                "SELECT seq FROM sqlite_sequence WHERE name = 'imap_uids'",
                [],
                |r| r.get(0),
            )
            .ok();
        u32::try_from(seq.unwrap_or(0) + 1).unwrap_or(u32::MAX)
    }
}
