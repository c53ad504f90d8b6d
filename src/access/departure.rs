//! Departed people's mailboxes: from the day someone leaves, the list of
//! their mailbox (`extract::mailbox_list`) is readable only by the readers
//! their `[[departure]]` policy names — users by name, or everyone of a role
//! or above (`role:editor`) — whatever grants said before. Admins, who see
//! every list and manage grants, still see it.
//!
//! The rule lives here, in the lists a user is granted
//! ([`effective_lists`]), so every surface that asks `access` for a user's
//! lists (web and JSON API, MCP, IMAP, exports) enforces it without knowing
//! it. Knows nothing of archiving, holds or purges (`retention::departure`).

use rusqlite::{params, Connection, OptionalExtension};

use super::{AccessError, Role, Users};

const COMPONENT: &str = "departure";

const MIGRATIONS: &[&str] = &["CREATE TABLE departed_mailboxes (
        list TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        effective INTEGER NOT NULL,
        readers TEXT NOT NULL,
        recorded_at INTEGER NOT NULL,
        recorded_by TEXT NOT NULL
     );"];

/// Creates or upgrades the departure table (every opener of `gleaner.db`
/// that reads it calls this).
pub fn migrate(conn: &mut Connection) -> Result<(), rusqlite::Error> {
    crate::db::migrate(conn, COMPONENT, MIGRATIONS)
}

/// A reader named by a departure policy: `role:NAME` or a user name.
fn reader_matches(reader: &str, name: &str, role: Role) -> bool {
    match reader.strip_prefix("role:") {
        Some(r) => r.parse::<Role>().is_ok_and(|r| role >= r),
        None => reader == name,
    }
}

/// Checks a departure policy's reader names.
pub fn check_readers(readers: &[String]) -> Result<(), AccessError> {
    for r in readers {
        if let Some(role) = r.strip_prefix("role:") {
            role.parse::<Role>()?;
        } else if r.trim().is_empty() {
            return Err(AccessError::Invalid("an empty reader name".into()));
        }
    }
    Ok(())
}

/// The lists user `id` may read: their grants, less the mailboxes of
/// people who left, plus those whose departure policy names them.
pub(super) fn effective_lists(
    conn: &Connection,
    id: i64,
    granted: Vec<String>,
) -> Result<Vec<String>, AccessError> {
    let mut stmt =
        conn.prepare_cached("SELECT list, readers FROM departed_mailboxes WHERE effective <= ?1")?;
    let departed = stmt
        .query_map([crate::db::now()], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    if departed.is_empty() {
        return Ok(granted);
    }
    let user: Option<(String, String)> = conn
        .query_row("SELECT name, role FROM users WHERE id = ?1", [id], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?;
    let Some((name, role)) = user else {
        return Ok(granted);
    };
    let role: Role = role.parse()?;
    let mut lists: Vec<String> = granted
        .into_iter()
        .filter(|l| !departed.iter().any(|(d, _)| d.eq_ignore_ascii_case(l)))
        .collect();
    for (list, readers) in departed {
        let readers: Vec<String> = serde_json::from_str(&readers).unwrap_or_default();
        if readers.iter().any(|r| reader_matches(r, &name, role)) {
            lists.push(list);
        }
    }
    lists.sort();
    lists.dedup();
    Ok(lists)
}

impl Users {
    /// Records that `owner` leaves on `effective` (unix seconds): from then
    /// on, `list` is readable only by `readers`. Audited as `actor`.
    pub fn record_departure(
        &self,
        list: &str,
        owner: &str,
        effective: i64,
        readers: &[String],
        actor: &str,
    ) -> Result<(), AccessError> {
        check_readers(readers)?;
        let readers_json =
            serde_json::to_string(readers).map_err(|e| AccessError::Invalid(e.to_string()))?;
        crate::db::write(&mut self.conn(), |tx| {
            tx.execute(
                "INSERT INTO departed_mailboxes (list, owner, effective, readers, recorded_at, recorded_by)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT(list) DO UPDATE SET effective = excluded.effective,
                   readers = excluded.readers, recorded_at = excluded.recorded_at,
                   recorded_by = excluded.recorded_by",
                params![list.to_lowercase(), owner, effective, readers_json, crate::db::now(), actor],
            )?;
            crate::audit::append(
                tx,
                actor,
                "mailbox.restrict",
                &format!("mailbox:{owner}"),
                &serde_json::json!({"list": list, "effective": effective, "readers": readers}),
            )?;
            Ok(())
        })
    }
}
