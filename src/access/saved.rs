//! Each user's saved searches (a name and a gleaner query), kept in
//! `gleaner.db` beside the user and removed with them. The web UI saves
//! them; the IMAP server shows them as that user's mailboxes. Knows nothing
//! of HTTP, IMAP or the query language: the caller checks the query parses.

use rusqlite::{params, OptionalExtension};
use serde::Serialize;

use super::{now, AccessError, Users};

/// The migrations of the saved-search table (its own component in
/// `schema_versions`, so that it never collides with `access`'s own list).
pub(super) const MIGRATIONS: &[&str] = &["CREATE TABLE saved_searches (
        id INTEGER PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        query TEXT NOT NULL,
        created INTEGER NOT NULL,
        UNIQUE (user_id, name)
     );"];

/// The component name of [`MIGRATIONS`].
pub(super) const COMPONENT: &str = "saved_searches";

/// Most saved searches one user may keep.
pub const MAX_SAVED: usize = 200;
/// Longest name, in characters.
pub const MAX_NAME: usize = 100;
/// Longest query, in bytes.
pub const MAX_QUERY: usize = 2_000;

/// One saved search.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SavedSearch {
    /// Its id (for deleting it).
    pub id: i64,
    /// Its name, unique per user; `/` makes levels (as in IMAP).
    pub name: String,
    /// The gleaner query.
    pub query: String,
    /// When it was saved (unix seconds).
    pub created: i64,
}

/// Is `name` usable as a saved search's name (and so as a mailbox name)?
fn check_name(name: &str) -> Result<(), AccessError> {
    let bad = |why: &str| Err(AccessError::Invalid(format!("saved search name: {why}")));
    if name.trim().is_empty() {
        return bad("empty");
    }
    if name.chars().count() > MAX_NAME {
        return bad("longer than 100 characters");
    }
    if name
        .chars()
        .any(|c| c.is_control() || matches!(c, '*' | '%' | '"' | '\\'))
    {
        return bad("control characters, * % \" and \\ are not allowed");
    }
    if name.trim() != name || name.split('/').any(|level| level.trim().is_empty()) {
        return bad("no empty levels or spaces around the name");
    }
    Ok(())
}

impl Users {
    /// `user`'s saved searches, by name.
    pub fn saved_searches(&self, user: &str) -> Result<Vec<SavedSearch>, AccessError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT s.id, s.name, s.query, s.created FROM saved_searches s
             JOIN users u ON u.id = s.user_id WHERE u.name = ?1 ORDER BY s.name",
        )?;
        let rows = stmt.query_map(params![user], |r| {
            Ok(SavedSearch {
                id: r.get(0)?,
                name: r.get(1)?,
                query: r.get(2)?,
                created: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Saves `query` as `name` for `user` (replacing the query of a search
    /// of that name).
    pub fn save_search(
        &self,
        user: &str,
        name: &str,
        query: &str,
    ) -> Result<SavedSearch, AccessError> {
        check_name(name)?;
        if query.trim().is_empty() || query.len() > MAX_QUERY {
            return Err(AccessError::Invalid(
                "saved search query: empty or longer than 2,000 bytes".into(),
            ));
        }
        let conn = self.conn();
        let user_id: i64 = conn
            .query_row("SELECT id FROM users WHERE name = ?1", params![user], |r| {
                r.get(0)
            })
            .optional()?
            .ok_or_else(|| AccessError::UnknownUser(user.to_string()))?;
        let count: i64 = conn.query_row(
            "SELECT count(*) FROM saved_searches WHERE user_id = ?1 AND name <> ?2",
            params![user_id, name],
            |r| r.get(0),
        )?;
        if count >= MAX_SAVED as i64 {
            return Err(AccessError::Invalid(format!(
                "at most {MAX_SAVED} saved searches per user"
            )));
        }
        let (id, created): (i64, i64) = conn.query_row(
            "INSERT INTO saved_searches (user_id, name, query, created) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (user_id, name) DO UPDATE SET query = excluded.query
             RETURNING id, created",
            params![user_id, name, query, now()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok(SavedSearch {
            id,
            name: name.to_string(),
            query: query.to_string(),
            created,
        })
    }

    /// Deletes `user`'s saved search `id`; false when they have none of that id.
    pub fn delete_saved_search(&self, user: &str, id: i64) -> Result<bool, AccessError> {
        let n = self.conn().execute(
            "DELETE FROM saved_searches WHERE id = ?1
             AND user_id = (SELECT id FROM users WHERE name = ?2)",
            params![id, user],
        )?;
        Ok(n > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::check_name;

    #[test]
    fn names() {
        assert!(check_name("Outages").is_ok());
        assert!(check_name("Ops/Outages 2026").is_ok());
        for bad in [
            "",
            " x",
            "a//b",
            "a/",
            "x*",
            "50%",
            "a\nb",
            "q\"",
            &"x".repeat(101),
        ] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }
}
