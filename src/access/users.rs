//! Users, their roles and password hashes (argon2id), and per-list grants.

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::Argon2;
use rusqlite::{params, OptionalExtension};

use super::{now, AccessError, Role, Users};

/// A user as the rest of gleaner sees them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct UserInfo {
    /// Login name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// Lists granted (admins see every list whatever this says).
    pub lists: Vec<String>,
}

impl UserInfo {
    /// The lists this user may see: `None` for all (admins).
    pub fn allowed_lists(&self) -> Option<Vec<String>> {
        if self.role == Role::Admin {
            None
        } else {
            Some(self.lists.clone())
        }
    }
}

fn check_name(name: &str) -> Result<(), AccessError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    if ok {
        Ok(())
    } else {
        Err(AccessError::Invalid(format!(
            "bad user name {name:?}: use 1-64 letters, digits, '.', '_', '-' or '@'"
        )))
    }
}

fn hash_password(password: &str) -> Result<String, AccessError> {
    if password.is_empty() {
        return Err(AccessError::Invalid("the password is empty".into()));
    }
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| AccessError::Crypto(e.to_string()))
}

/// User administration happens on the command line (`gleaner user ...`).
const AUDIT_ACTOR: &str = "cli";

impl Users {
    /// Adds a user.
    pub fn add_user(&self, name: &str, role: Role, password: &str) -> Result<(), AccessError> {
        check_name(name)?;
        let hash = hash_password(password)?;
        crate::db::write(&mut self.conn(), |tx| {
            let done = tx.execute(
                "INSERT INTO users (name, role, password_hash, created) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(name) DO NOTHING",
                params![name, role.as_str(), hash, now()],
            )?;
            if done == 0 {
                return Err(AccessError::UserExists(name.to_string()));
            }
            crate::audit::append(
                tx,
                AUDIT_ACTOR,
                "user.add",
                &format!("user:{name}"),
                &serde_json::json!({"role": role.as_str()}),
            )?;
            Ok(())
        })
    }

    /// Replaces a user's password and ends their sessions.
    pub fn set_password(&self, name: &str, password: &str) -> Result<(), AccessError> {
        let hash = hash_password(password)?;
        crate::db::write(&mut self.conn(), |tx| {
            let n = tx.execute(
                "UPDATE users SET password_hash = ?2 WHERE name = ?1",
                params![name, hash],
            )?;
            if n == 0 {
                return Err(AccessError::UnknownUser(name.to_string()));
            }
            tx.execute(
                "DELETE FROM sessions WHERE user_id = (SELECT id FROM users WHERE name = ?1)",
                [name],
            )?;
            crate::audit::append(
                tx,
                AUDIT_ACTOR,
                "user.password",
                &format!("user:{name}"),
                &serde_json::json!({}),
            )?;
            Ok(())
        })
    }

    /// Grants `lists` (list ids, matched case-insensitively) to a user.
    pub fn grant(&self, name: &str, lists: &[String]) -> Result<(), AccessError> {
        crate::db::write(&mut self.conn(), |tx| {
            let id: i64 = tx
                .query_row("SELECT id FROM users WHERE name = ?1", [name], |r| r.get(0))
                .optional()?
                .ok_or_else(|| AccessError::UnknownUser(name.to_string()))?;
            for list in lists {
                let list = list.trim().to_lowercase();
                if list.is_empty() {
                    continue;
                }
                tx.execute(
                    "INSERT OR IGNORE INTO grants (user_id, list) VALUES (?1, ?2)",
                    params![id, list],
                )?;
            }
            crate::audit::append(
                tx,
                AUDIT_ACTOR,
                "user.grant",
                &format!("user:{name}"),
                &serde_json::json!({"lists": lists}),
            )?;
            Ok(())
        })
    }

    /// Removes a user with their grants and sessions.
    pub fn remove_user(&self, name: &str) -> Result<(), AccessError> {
        self.change(name, "user.remove", &serde_json::json!({}), |tx, id| {
            tx.execute("DELETE FROM sessions WHERE user_id = ?1", [id])?;
            tx.execute("DELETE FROM grants WHERE user_id = ?1", [id])?;
            tx.execute("DELETE FROM users WHERE id = ?1", [id])?;
            Ok(())
        })
    }

    /// Takes `lists` away from a user (the lists they keep are returned by
    /// [`Users::user`]).
    pub fn revoke(&self, name: &str, lists: &[String]) -> Result<(), AccessError> {
        let detail = serde_json::json!({ "lists": lists });
        self.change(name, "user.revoke", &detail, |tx, id| {
            for list in lists {
                tx.execute(
                    "DELETE FROM grants WHERE user_id = ?1 AND list = ?2",
                    params![id, list.trim().to_lowercase()],
                )?;
            }
            Ok(())
        })
    }

    /// Changes a user's role; their sessions end (the role is read at login
    /// and on every request, but a demoted user should log in again).
    pub fn set_role(&self, name: &str, role: Role) -> Result<(), AccessError> {
        let detail = serde_json::json!({ "role": role.as_str() });
        self.change(name, "user.role", &detail, |tx, id| {
            tx.execute(
                "UPDATE users SET role = ?2 WHERE id = ?1",
                params![id, role.as_str()],
            )?;
            tx.execute("DELETE FROM sessions WHERE user_id = ?1", [id])?;
            Ok(())
        })
    }

    /// Appends an audit entry that is not a change of users (login back-offs).
    pub fn audit(
        &self,
        actor: &str,
        action: &str,
        subject: &str,
        detail: &serde_json::Value,
    ) -> Result<(), AccessError> {
        crate::db::write(&mut self.conn(), |tx| {
            crate::audit::append(tx, actor, action, subject, detail)?;
            Ok(())
        })
    }

    /// Runs `f` on user `name`'s id and audits it, in one transaction.
    fn change(
        &self,
        name: &str,
        action: &str,
        detail: &serde_json::Value,
        f: impl FnOnce(&rusqlite::Transaction<'_>, i64) -> Result<(), AccessError>,
    ) -> Result<(), AccessError> {
        crate::db::write(&mut self.conn(), |tx| {
            let id: i64 = tx
                .query_row("SELECT id FROM users WHERE name = ?1", [name], |r| r.get(0))
                .optional()?
                .ok_or_else(|| AccessError::UnknownUser(name.to_string()))?;
            f(tx, id)?;
            crate::audit::append(tx, AUDIT_ACTOR, action, &format!("user:{name}"), detail)?;
            Ok(())
        })
    }

    /// Every user, by name.
    pub fn list(&self) -> Result<Vec<UserInfo>, AccessError> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT name FROM users ORDER BY name")?;
        let names = stmt
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        drop(stmt);
        drop(conn);
        names
            .iter()
            .map(|n| {
                self.user(n)?
                    .ok_or_else(|| AccessError::UnknownUser(n.clone()))
            })
            .collect()
    }

    /// One user, if they exist.
    pub fn user(&self, name: &str) -> Result<Option<UserInfo>, AccessError> {
        let conn = self.conn();
        let row: Option<(i64, String)> = conn
            .query_row("SELECT id, role FROM users WHERE name = ?1", [name], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        let Some((id, role)) = row else {
            return Ok(None);
        };
        let lists = grants(&conn, id)?;
        Ok(Some(UserInfo {
            name: name.to_string(),
            role: role.parse()?,
            lists,
        }))
    }

    /// The user when `password` is theirs; `None` for a wrong name or password
    /// alike (both take about the same time).
    pub fn verify(&self, name: &str, password: &str) -> Result<Option<UserInfo>, AccessError> {
        let hash: Option<String> = self
            .conn()
            .query_row(
                "SELECT password_hash FROM users WHERE name = ?1",
                [name],
                |r| r.get(0),
            )
            .optional()?;
        let argon = Argon2::default();
        let Some(hash) = hash else {
            // Hash anyway, so a wrong name takes as long as a wrong password.
            let _ = argon.hash_password(password.as_bytes());
            return Ok(None);
        };
        if argon
            .verify_password(password.as_bytes(), hash.as_str())
            .is_err()
        {
            return Ok(None);
        }
        self.user(name)
    }
}

/// The lists user `id` may read, sorted: their grants, as departures of
/// mailbox owners change them ([`super::departure::effective_lists`]).
pub(super) fn grants(conn: &rusqlite::Connection, id: i64) -> Result<Vec<String>, AccessError> {
    let mut stmt = conn.prepare("SELECT list FROM grants WHERE user_id = ?1 ORDER BY list")?;
    let lists = stmt
        .query_map([id], |r| r.get::<_, String>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    super::departure::effective_lists(conn, id, lists)
}
