//! What review rounds need of users: an email address (for the weekly
//! digest) and a calendar token — a secret for one user's iCalendar feed
//! (`/api/review/calendar.ics?token=…`), usable in a calendar app's URL.
//!
//! A calendar token is not an API token: it has its own prefix (`glc_`) and
//! table, so [`Users::token`] and sessions never accept it, and it opens
//! nothing but that user's feed. One per user; making a new one replaces
//! (revokes) the old. Only its SHA-256 is stored; changes are audited.

use rusqlite::{params, OptionalExtension};

use super::sessions::token_hash;
use super::{now, random_hex, AccessError, UserInfo, Users};

/// Every calendar token starts with this.
pub const CALENDAR_TOKEN_PREFIX: &str = "glc_";

/// The name under which this file's schema version is recorded.
pub(super) const COMPONENT: &str = "access_calendar";

/// Its migrations (after `access`'s; never edit a shipped one).
pub(super) const MIGRATIONS: &[&str] = &["ALTER TABLE users ADD COLUMN email TEXT;
     CREATE TABLE calendar_tokens (
        user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
        token_hash TEXT NOT NULL UNIQUE,
        created INTEGER NOT NULL
     );"];

/// Checks an address enough for an SMTP envelope: one `@`, no spaces,
/// brackets or control characters.
fn check_email(email: &str) -> Result<(), AccessError> {
    let ok = email.len() <= 254
        && email.split('@').count() == 2
        && email.split('@').all(|p| !p.is_empty())
        && !email
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "<>()[],;:\"\\".contains(c));
    if ok {
        Ok(())
    } else {
        Err(AccessError::Invalid(format!(
            "bad email address {email:?}: use one like alice@example.org"
        )))
    }
}

impl Users {
    /// Sets (or with `None` clears) a user's email address.
    pub fn set_email(&self, name: &str, email: Option<&str>) -> Result<(), AccessError> {
        let email = email.map(str::trim).filter(|e| !e.is_empty());
        if let Some(e) = email {
            check_email(e)?;
        }
        crate::db::write(&mut self.conn(), |tx| {
            let n = tx.execute(
                "UPDATE users SET email = ?2 WHERE name = ?1",
                params![name, email],
            )?;
            if n == 0 {
                return Err(AccessError::UnknownUser(name.to_string()));
            }
            crate::audit::append(
                tx,
                "cli",
                "user.email",
                &format!("user:{name}"),
                &serde_json::json!({"email": email}),
            )?;
            Ok(())
        })
    }

    /// A user's email address, if set.
    pub fn email(&self, name: &str) -> Result<Option<String>, AccessError> {
        Ok(self
            .conn()
            .query_row("SELECT email FROM users WHERE name = ?1", [name], |r| {
                r.get::<_, Option<String>>(0)
            })
            .optional()?
            .flatten())
    }

    /// Makes a calendar token for `name`, replacing any they had (audited as `actor`).
    pub fn create_calendar_token(&self, actor: &str, name: &str) -> Result<String, AccessError> {
        let secret = format!("{CALENDAR_TOKEN_PREFIX}{}", random_hex(32)?);
        crate::db::write(&mut self.conn(), |tx| {
            let id: i64 = tx
                .query_row("SELECT id FROM users WHERE name = ?1", [name], |r| r.get(0))
                .optional()?
                .ok_or_else(|| AccessError::UnknownUser(name.to_string()))?;
            let replaced = tx.execute("DELETE FROM calendar_tokens WHERE user_id = ?1", [id])?;
            tx.execute(
                "INSERT INTO calendar_tokens (user_id, token_hash, created) VALUES (?1, ?2, ?3)",
                params![id, token_hash(&secret), now()],
            )?;
            crate::audit::append(
                tx,
                actor,
                "calendar_token.create",
                &format!("user:{name}"),
                &serde_json::json!({"replaced": replaced > 0}),
            )?;
            Ok::<_, AccessError>(())
        })?;
        Ok(secret)
    }

    /// Revokes `name`'s calendar token; false when they had none.
    pub fn revoke_calendar_token(&self, actor: &str, name: &str) -> Result<bool, AccessError> {
        crate::db::write(&mut self.conn(), |tx| {
            let n = tx.execute(
                "DELETE FROM calendar_tokens WHERE user_id = (SELECT id FROM users WHERE name = ?1)",
                [name],
            )?;
            if n > 0 {
                crate::audit::append(
                    tx,
                    actor,
                    "calendar_token.revoke",
                    &format!("user:{name}"),
                    &serde_json::json!({}),
                )?;
            }
            Ok(n > 0)
        })
    }

    /// The user a calendar token belongs to, as they are now; `None` for
    /// anything else (an API token, a session, a revoked secret).
    pub fn calendar_user(&self, secret: &str) -> Result<Option<UserInfo>, AccessError> {
        if !secret.starts_with(CALENDAR_TOKEN_PREFIX) || secret.len() > 128 {
            return Ok(None);
        }
        let name: Option<String> = self
            .conn()
            .query_row(
                "SELECT u.name FROM calendar_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = ?1",
                [token_hash(secret)],
                |r| r.get(0),
            )
            .optional()?;
        match name {
            Some(n) => self.user(&n),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::Role;

    #[test]
    fn a_calendar_token_opens_only_the_calendar_and_is_replaced_by_a_new_one() {
        let u = Users::with_connection(rusqlite::Connection::open_in_memory().expect("db"))
            .expect("users");
        u.add_user("alice", Role::Reviewer, "pw").expect("add");
        let first = u.create_calendar_token("cli", "alice").expect("token");
        assert!(first.starts_with(CALENDAR_TOKEN_PREFIX));
        let who = u.calendar_user(&first).expect("lookup").expect("alice");
        assert_eq!(who.name, "alice");
        // Not an API token, not a session.
        assert!(u.token(&first).expect("lookup").is_none());
        assert!(u.session(&first).expect("lookup").is_none());
        let second = u.create_calendar_token("cli", "alice").expect("token");
        assert!(u.calendar_user(&first).expect("lookup").is_none());
        assert!(u.calendar_user(&second).expect("lookup").is_some());
        assert!(u.revoke_calendar_token("cli", "alice").expect("revoke"));
        assert!(u.calendar_user(&second).expect("lookup").is_none());
        u.set_email("alice", Some("alice@example.org"))
            .expect("email");
        assert_eq!(
            u.email("alice").expect("email").as_deref(),
            Some("alice@example.org")
        );
        assert!(u.set_email("alice", Some("not an address")).is_err());
        assert!(u.set_email("bob", Some("bob@example.org")).is_err());
    }
}
