//! API tokens: how an assistant (the MCP server, over HTTP or stdio) acts as
//! a user. A token is a random secret from the OS RNG, shown once when it
//! is made; only its SHA-256 is stored. A token acts under its user's role
//! and grants as they are *now* (a revoked grant or a lowered role takes
//! effect at once), and a read-only token cannot change anything whatever
//! the role. Creating and revoking tokens is audited.

use rusqlite::{params, OptionalExtension};

use super::sessions::token_hash;
use super::users::grants;
use super::{now, random_hex, AccessError, Role, UserInfo, Users};

/// Every token starts with this, so a leaked one is recognisable (secret scanners).
pub const TOKEN_PREFIX: &str = "glt_";

/// A token just made: the secret is shown once and never stored.
#[derive(Debug, Clone)]
pub struct NewToken {
    /// The token's name.
    pub name: String,
    /// The secret (`glt_` and 64 hex digits).
    pub secret: String,
}

/// A live token, as a request presenting it acts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    /// The token's name.
    pub name: String,
    /// Its user, with their role and grants now.
    pub user: UserInfo,
    /// It may only read.
    pub read_only: bool,
}

/// A token as `gleaner token list` shows it (never the secret).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TokenSummary {
    /// The token's name.
    pub name: String,
    /// Whose.
    pub user: String,
    /// Read-only?
    pub read_only: bool,
    /// Unix seconds.
    pub created: i64,
    /// Who made it.
    pub created_by: String,
    /// Unix seconds of its last use (to the minute), if any.
    pub last_used: Option<i64>,
    /// A standby's replication token (answers the replication routes only).
    pub replication: bool,
}

/// A token row joined with its user: token id, name, read-only, user id,
/// user name, role, last use.
type TokenRow = (i64, String, bool, i64, String, String, Option<i64>);

fn check_token_name(name: &str) -> Result<(), AccessError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(AccessError::Invalid(format!(
            "bad token name {name:?}: use 1-64 letters, digits, '.', '_' or '-'"
        )))
    }
}

impl Users {
    /// Makes a token `name` for `user` (audited as `actor`).
    pub fn create_token(
        &self,
        actor: &str,
        name: &str,
        user: &str,
        read_only: bool,
    ) -> Result<NewToken, AccessError> {
        self.insert_token(actor, name, user, read_only, false)
    }

    /// Makes a token with or without the replication scope (a replication
    /// token answers only the replication routes, see `replication.rs`).
    pub(super) fn insert_token(
        &self,
        actor: &str,
        name: &str,
        user: &str,
        read_only: bool,
        replication: bool,
    ) -> Result<NewToken, AccessError> {
        check_token_name(name)?;
        let secret = format!("{TOKEN_PREFIX}{}", random_hex(32)?);
        crate::db::write(&mut self.conn(), |tx| {
            let user_id: i64 = tx
                .query_row("SELECT id FROM users WHERE name = ?1", [user], |r| r.get(0))
                .optional()?
                .ok_or_else(|| AccessError::UnknownUser(user.to_string()))?;
            let taken = tx
                .query_row("SELECT 1 FROM api_tokens WHERE name = ?1", [name], |_| {
                    Ok(())
                })
                .optional()?
                .is_some();
            if taken {
                return Err(AccessError::Invalid(format!(
                    "a token named {name:?} exists already (revoke it first, or pick another name)"
                )));
            }
            tx.execute(
                "INSERT INTO api_tokens (name, user_id, token_hash, read_only, created, created_by, replication)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![name, user_id, token_hash(&secret), read_only, now(), actor, replication],
            )?;
            let mut detail = serde_json::json!({"user": user, "read_only": read_only});
            if replication {
                detail["replication"] = true.into();
            }
            crate::audit::append(tx, actor, "token.create", &format!("token:{name}"), &detail)?;
            Ok(())
        })?;
        Ok(NewToken {
            name: name.to_string(),
            secret,
        })
    }

    /// The token a secret names, with its user as they are now; `None` for
    /// an unknown or revoked secret. Notes the use (to the minute).
    pub fn token(&self, secret: &str) -> Result<Option<TokenInfo>, AccessError> {
        if !secret.starts_with(TOKEN_PREFIX) || secret.len() > 128 {
            return Ok(None);
        }
        let conn = self.conn();
        let hash = token_hash(secret);
        let row: Option<TokenRow> = conn
            .query_row(
                "SELECT t.id, t.name, t.read_only, u.id, u.name, u.role, t.last_used
                 FROM api_tokens t JOIN users u ON u.id = t.user_id
                 WHERE t.token_hash = ?1 AND t.replication = 0",
                [&hash],
                |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                        r.get(6)?,
                    ))
                },
            )
            .optional()?;
        let Some((token_id, name, read_only, user_id, user, role, last_used)) = row else {
            return Ok(None);
        };
        let at = now();
        if last_used.is_none_or(|t| at - t >= 60) {
            conn.execute(
                "UPDATE api_tokens SET last_used = ?1 WHERE id = ?2",
                params![at, token_id],
            )?;
        }
        let role: Role = role.parse()?;
        let lists = grants(&conn, user_id)?;
        Ok(Some(TokenInfo {
            name,
            user: UserInfo {
                name: user,
                role,
                lists,
            },
            read_only,
        }))
    }

    /// Every token, by name.
    pub fn tokens(&self) -> Result<Vec<TokenSummary>, AccessError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT t.name, u.name, t.read_only, t.created, t.created_by, t.last_used, t.replication
             FROM api_tokens t JOIN users u ON u.id = t.user_id ORDER BY t.name",
        )?;
        let rows = stmt
            .query_map([], |r| {
                Ok(TokenSummary {
                    name: r.get(0)?,
                    user: r.get(1)?,
                    read_only: r.get(2)?,
                    created: r.get(3)?,
                    created_by: r.get(4)?,
                    last_used: r.get(5)?,
                    replication: r.get(6)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// Revokes (deletes) token `name`: requests presenting it fail from now on.
    pub fn revoke_token(&self, actor: &str, name: &str) -> Result<(), AccessError> {
        crate::db::write(&mut self.conn(), |tx| {
            let user: Option<String> = tx
                .query_row(
                    "SELECT u.name FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.name = ?1",
                    [name],
                    |r| r.get(0),
                )
                .optional()?;
            let Some(user) = user else {
                return Err(AccessError::Invalid(format!("no token named {name:?}")));
            };
            tx.execute("DELETE FROM api_tokens WHERE name = ?1", [name])?;
            crate::audit::append(
                tx,
                actor,
                "token.revoke",
                &format!("token:{name}"),
                &serde_json::json!({"user": user}),
            )?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn users() -> Users {
        let u = Users::with_connection(rusqlite::Connection::open_in_memory().expect("db"))
            .expect("users");
        u.add_user("alice", Role::Editor, "pw").expect("add");
        u.grant("alice", &["dev.lists.example.org".into()])
            .expect("grant");
        u
    }

    #[test]
    fn a_token_is_shown_once_stored_hashed_and_revocable() {
        let u = users();
        let t = u
            .create_token("cli", "laptop", "alice", true)
            .expect("create");
        assert!(t.secret.starts_with(TOKEN_PREFIX) && t.secret.len() == 68);
        let info = u.token(&t.secret).expect("lookup").expect("live");
        assert_eq!(info.user.name, "alice");
        assert_eq!(info.user.role, Role::Editor);
        assert_eq!(info.user.lists, vec!["dev.lists.example.org".to_string()]);
        assert!(info.read_only);
        // Only the hash is in the database.
        let stored: String = u
            .conn()
            .query_row("SELECT token_hash FROM api_tokens", [], |r| r.get(0))
            .expect("row");
        assert_ne!(stored, t.secret);
        assert!(!stored.contains(&t.secret[4..]));
        assert!(u.create_token("cli", "laptop", "alice", false).is_err());
        assert!(u.create_token("cli", "x y", "alice", false).is_err());
        assert!(u.create_token("cli", "other", "bob", false).is_err());
        assert_eq!(u.tokens().expect("list").len(), 1);
        u.revoke_token("cli", "laptop").expect("revoke");
        assert!(u.token(&t.secret).expect("lookup").is_none());
        assert!(u.revoke_token("cli", "laptop").is_err());
        assert!(u.token("glt_nothing").expect("lookup").is_none());
        assert!(u.token("").expect("lookup").is_none());
        let actions: Vec<String> = crate::audit::recent(&u.conn(), None, 10)
            .expect("audit")
            .into_iter()
            .map(|e| e.action)
            .collect();
        assert!(actions.contains(&"token.create".to_string()));
        assert!(actions.contains(&"token.revoke".to_string()));
    }

    #[test]
    fn a_token_follows_its_users_role_and_grants_now() {
        let u = users();
        let t = u.create_token("cli", "t", "alice", false).expect("create");
        u.set_role("alice", Role::Reader).expect("role");
        u.revoke("alice", &["dev.lists.example.org".into()])
            .expect("revoke");
        let info = u.token(&t.secret).expect("lookup").expect("live");
        assert_eq!(info.user.role, Role::Reader);
        assert!(info.user.lists.is_empty());
        u.remove_user("alice").expect("remove");
        assert!(u.token(&t.secret).expect("lookup").is_none());
    }
}
