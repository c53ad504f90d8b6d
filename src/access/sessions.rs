//! Login sessions: a random token from the OS RNG in the user's cookie, only
//! its SHA-256 in the database, a CSRF token per session, and an expiry.

use rusqlite::{params, OptionalExtension};
use sha2::{Digest, Sha256};

use super::users::grants;
use super::{now, random_hex, AccessError, Role, UserInfo, Users};

/// How long a session lasts (seconds).
pub const SESSION_LIFETIME_SECS: i64 = 7 * 24 * 3600;

/// A session just created: the secret token goes into the cookie, once.
#[derive(Debug, Clone)]
pub struct NewSession {
    /// The cookie value (never stored).
    pub token: String,
    /// The CSRF token of the session.
    pub csrf: String,
    /// Unix seconds.
    pub expires: i64,
}

/// A live session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    /// Whose.
    pub user: UserInfo,
    /// The CSRF token state-changing requests must carry.
    pub csrf: String,
}

pub(super) fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

impl Users {
    /// Starts a session for `name`.
    pub fn create_session(&self, name: &str) -> Result<NewSession, AccessError> {
        let token = random_hex(32)?;
        let csrf = random_hex(16)?;
        let created = now();
        let expires = created + SESSION_LIFETIME_SECS;
        let conn = self.conn();
        conn.execute("DELETE FROM sessions WHERE expires <= ?1", [created])?;
        let n = conn.execute(
            "INSERT INTO sessions (token_hash, user_id, csrf, created, expires)
             SELECT ?1, id, ?2, ?3, ?4 FROM users WHERE name = ?5",
            params![token_hash(&token), csrf, created, expires, name],
        )?;
        if n == 0 {
            return Err(AccessError::UnknownUser(name.to_string()));
        }
        Ok(NewSession {
            token,
            csrf,
            expires,
        })
    }

    /// The live session of a cookie token, if any.
    pub fn session(&self, token: &str) -> Result<Option<SessionInfo>, AccessError> {
        let conn = self.conn();
        let row: Option<(i64, String, String, String)> = conn
            .query_row(
                "SELECT u.id, u.name, u.role, s.csrf FROM sessions s JOIN users u ON u.id = s.user_id
                 WHERE s.token_hash = ?1 AND s.expires > ?2",
                params![token_hash(token), now()],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?;
        let Some((id, name, role, csrf)) = row else {
            return Ok(None);
        };
        let role: Role = role.parse()?;
        let lists = grants(&conn, id)?;
        Ok(Some(SessionInfo {
            user: UserInfo { name, role, lists },
            csrf,
        }))
    }

    /// Ends a session (no error if it is gone already).
    pub fn delete_session(&self, token: &str) -> Result<(), AccessError> {
        self.conn().execute(
            "DELETE FROM sessions WHERE token_hash = ?1",
            [token_hash(token)],
        )?;
        Ok(())
    }
}

/// A session as `gleaner user sessions` lists it (never the token).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SessionSummary {
    /// The first 12 hex digits of the token's SHA-256: enough to name it.
    pub id: String,
    /// Unix seconds.
    pub created: i64,
    /// Unix seconds.
    pub expires: i64,
}

/// Digits of the token hash that name a session.
const SESSION_ID_LEN: usize = 12;

impl Users {
    /// The live sessions of `name`, newest first.
    pub fn sessions_of(&self, name: &str) -> Result<Vec<SessionSummary>, AccessError> {
        if self.user(name)?.is_none() {
            return Err(AccessError::UnknownUser(name.to_string()));
        }
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT s.token_hash, s.created, s.expires FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE u.name = ?1 AND s.expires > ?2 ORDER BY s.created DESC",
        )?;
        let rows = stmt
            .query_map(params![name, now()], |r| {
                let hash: String = r.get(0)?;
                Ok(SessionSummary {
                    id: hash.chars().take(SESSION_ID_LEN).collect(),
                    created: r.get(1)?,
                    expires: r.get(2)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// Ends `name`'s sessions: the one `id` names (see [`SessionSummary`]),
    /// or all. Returns how many ended; audited.
    pub fn end_sessions(
        &self,
        actor: &str,
        name: &str,
        id: Option<&str>,
    ) -> Result<usize, AccessError> {
        if id
            .is_some_and(|i| i.len() != SESSION_ID_LEN || !i.bytes().all(|b| b.is_ascii_hexdigit()))
        {
            return Err(AccessError::Invalid(format!(
                "a session id is {SESSION_ID_LEN} hex digits (see `gleaner user sessions NAME`)"
            )));
        }
        let pattern = format!("{}%", id.unwrap_or("").to_ascii_lowercase());
        crate::db::write(&mut self.conn(), |tx| {
            let user: i64 = tx
                .query_row("SELECT id FROM users WHERE name = ?1", [name], |r| r.get(0))
                .optional()?
                .ok_or_else(|| AccessError::UnknownUser(name.to_string()))?;
            let n = tx.execute(
                "DELETE FROM sessions WHERE user_id = ?1 AND token_hash LIKE ?2",
                params![user, pattern],
            )?;
            crate::audit::append(
                tx,
                actor,
                "user.sessions.end",
                &format!("user:{name}"),
                &serde_json::json!({"session": id, "ended": n}),
            )?;
            Ok(n)
        })
    }
}
