//! Replication tokens: how a standby authenticates to its primary. They are
//! API tokens (same secret format, only the SHA-256 stored, audited) with the
//! replication scope: such a token answers the replication routes only (never
//! the API, MCP or IMAP), and only while its user is an admin, since a
//! standby receives the whole database (every list's curation, users,
//! password hashes).

use rusqlite::{params, OptionalExtension};

use super::sessions::token_hash;
use super::{AccessError, NewToken, Role, Users, TOKEN_PREFIX};

impl Users {
    /// Makes a replication token `name` acting as admin `user`.
    pub fn create_replication_token(
        &self,
        actor: &str,
        name: &str,
        user: &str,
    ) -> Result<NewToken, AccessError> {
        let role = self
            .list()?
            .into_iter()
            .find(|u| u.name == user)
            .map(|u| u.role)
            .ok_or_else(|| AccessError::UnknownUser(user.to_string()))?;
        if role != Role::Admin {
            return Err(AccessError::Invalid(format!(
                "a replication token ships the whole database: its user must be an admin ({user} is a {role})"
            )));
        }
        self.insert_token(actor, name, user, true, true)
    }

    /// The name of the live replication token `secret` names, if its user
    /// is (still) an admin; `None` otherwise. Notes the use (to the minute).
    pub fn replication_token(&self, secret: &str) -> Result<Option<String>, AccessError> {
        if !secret.starts_with(TOKEN_PREFIX) || secret.len() > 128 {
            return Ok(None);
        }
        let conn = self.conn();
        let row: Option<(i64, String, Option<i64>)> = conn
            .query_row(
                "SELECT t.id, t.name, t.last_used FROM api_tokens t JOIN users u ON u.id = t.user_id
                 WHERE t.token_hash = ?1 AND t.replication = 1 AND u.role = 'admin'",
                [token_hash(secret)],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        let Some((id, name, last_used)) = row else {
            return Ok(None);
        };
        let at = super::now();
        if last_used.is_none_or(|t| at - t >= 60) {
            conn.execute(
                "UPDATE api_tokens SET last_used = ?1 WHERE id = ?2",
                params![at, id],
            )?;
        }
        Ok(Some(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replication_token_answers_replication_only_and_needs_an_admin() {
        let u = Users::with_connection(rusqlite::Connection::open_in_memory().expect("db"))
            .expect("users");
        u.add_user("root", Role::Admin, "pw").expect("add");
        u.add_user("rita", Role::Reviewer, "pw").expect("add");
        assert!(u.create_replication_token("cli", "r", "rita").is_err());
        let t = u
            .create_replication_token("cli", "standby", "root")
            .expect("create");
        assert_eq!(
            u.replication_token(&t.secret).expect("lookup").as_deref(),
            Some("standby")
        );
        // Not an API token: MCP and the API refuse it.
        assert!(u.token(&t.secret).expect("lookup").is_none());
        // An ordinary token is no replication token.
        let api = u.create_token("cli", "laptop", "root", false).expect("api");
        assert!(u.replication_token(&api.secret).expect("lookup").is_none());
        // Its user stops being an admin: it stops working.
        u.set_role("root", Role::Editor).expect("role");
        assert!(u.replication_token(&t.secret).expect("lookup").is_none());
    }
}
