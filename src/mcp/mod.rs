//! The MCP server (Model Context Protocol): how an assistant reads the
//! archive and drafts curated documents with citations, as a user, under
//! that user's role and list grants, with every change in the audit log.
//!
//! `protocol.rs` is JSON-RPC 2.0 and the MCP lifecycle without I/O (one
//! message in, at most one out); `tools/` are the tools, `catalog.rs` the
//! resources (`gleaner://` URIs) and prompts, `output.rs` the size budget
//! and the marking of mail text as untrusted. The transports are
//! `stdio.rs` (`gleaner mcp`) and `http.rs` (Streamable HTTP at `/mcp`,
//! mounted by `app.rs` beside the JSON API; this module never imports
//! `crate::http`, nor it this one). Everything goes through `query`,
//! `curate` and `access`, the same functions the JSON API uses, so a tool
//! sees exactly what its user would see in the web UI.
//!
//! Hand-written rather than on the `rmcp` SDK: see docs/ARCHITECTURE.md
//! (the measured cost) and docs/MCP.md (the protocol surface).

mod catalog;
pub mod http;
mod output;
pub mod protocol;
pub mod stdio;
mod tools;

use std::time::Duration;

use crate::access::{AccessError, RateLimit, Role, Users};
use crate::curate::{CurateError, Curation};
use crate::index::MailIndex;
use crate::query::QueryError;
use crate::retention::Retention;

/// Tool calls and resource reads per minute per caller, on average.
pub const DEFAULT_RATE_PER_MINUTE: u32 = 120;
/// ... and at once.
pub const DEFAULT_RATE_BURST: u32 = 30;

/// Everything the tools share; cheap to clone.
#[derive(Clone)]
pub struct Mcp {
    /// The search index.
    pub index: MailIndex,
    /// Users, grants and API tokens.
    pub users: Users,
    /// Review queues and documents (`None`: those tools say so).
    pub curation: Option<Curation>,
    /// Archive state, for `is:archived` and `is:held`.
    pub retention: Option<Retention>,
    /// Tool calls per caller.
    pub rate: RateLimit,
}

impl Mcp {
    /// The server over `index` and `users` with the default rate limit.
    pub fn new(index: MailIndex, users: Users) -> Mcp {
        Mcp {
            index,
            users,
            curation: None,
            retention: None,
            rate: RateLimit::new(DEFAULT_RATE_PER_MINUTE, DEFAULT_RATE_BURST),
        }
    }

    /// Adds the curation database (review, documents, citations, `is:cited`).
    pub fn with_curation(mut self, c: Curation) -> Mcp {
        self.curation = Some(c);
        self
    }

    /// Adds the archive tables (`is:archived`, `is:held`).
    pub fn with_retention(mut self, r: Retention) -> Mcp {
        self.retention = Some(r);
        self
    }

    /// Uses another rate limit (0 per minute: none).
    pub fn with_rate(mut self, per_minute: u32, burst: u32) -> Mcp {
        self.rate = RateLimit::new(per_minute, burst);
        self
    }

    /// Who a credential is now: a token follows its user's current role and
    /// grants, and a removed user or revoked token is refused.
    pub fn caller(&self, credential: &Credential) -> Result<Caller, McpError> {
        match credential {
            Credential::Token(secret) => {
                let t = self.users.token(secret)?.ok_or(McpError::Unauthorized)?;
                Ok(Caller {
                    allowed_lists: t.user.allowed_lists(),
                    user: t.user.name,
                    role: t.user.role,
                    read_only: t.read_only,
                    token: Some(t.name),
                })
            }
            Credential::User(name) => {
                let u = self
                    .users
                    .user(name)?
                    .ok_or_else(|| McpError::UnknownUser(name.clone()))?;
                Ok(Caller {
                    allowed_lists: u.allowed_lists(),
                    user: u.name,
                    role: u.role,
                    read_only: false,
                    token: None,
                })
            }
        }
    }
}

/// How a caller proves who they are.
#[derive(Clone)]
pub enum Credential {
    /// An API token's secret (`gleaner token create`).
    Token(String),
    /// A user named on the command line of `gleaner mcp --user` (stdio: the
    /// operator of the machine chose them).
    User(String),
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credential::Token(_) => f.write_str("Token(…)"),
            Credential::User(u) => write!(f, "User({u:?})"),
        }
    }
}

/// Who is calling, as of this request.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The user.
    pub user: String,
    /// Their role.
    pub role: Role,
    /// Lists they may see (`None`: all).
    pub allowed_lists: Option<Vec<String>>,
    /// A read-only token: no tool may change anything.
    pub read_only: bool,
    /// The token's name (`None`: stdio as `--user`).
    pub token: Option<String>,
}

impl Caller {
    /// The name changes are recorded under: the user and how they came.
    pub fn actor(&self) -> String {
        match &self.token {
            Some(t) => format!("{} (mcp token {t})", self.user),
            None => format!("{} (mcp stdio)", self.user),
        }
    }

    /// The rate-limit key.
    fn rate_key(&self) -> String {
        match &self.token {
            Some(t) => format!("token:{t}"),
            None => format!("user:{}", self.user),
        }
    }

    /// Refuses callers below `role`, and writes by read-only tokens.
    fn require(&self, role: Role, writes: bool, what: &str) -> Result<(), McpError> {
        if self.role < role {
            return Err(McpError::Forbidden(format!(
                "{what} is for {}s and up; {} is a {}",
                role.as_str(),
                self.user,
                self.role
            )));
        }
        if writes && self.read_only {
            return Err(McpError::Forbidden(format!(
                "{what} changes the archive's curation, and this token is read-only"
            )));
        }
        Ok(())
    }
}

/// What went wrong answering an assistant.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum McpError {
    /// No valid token (or user) was presented.
    #[error("a valid API token is required (gleaner token create NAME --user USER)")]
    Unauthorized,
    /// `--user` names nobody.
    #[error("no user named {0:?} (gleaner user add)")]
    UnknownUser(String),
    /// The caller's role or token does not allow this.
    #[error("{0}")]
    Forbidden(String),
    /// Not there, or not visible to the caller (the same answer for both).
    #[error("{0}")]
    NotFound(String),
    /// Bad arguments.
    #[error("{0}")]
    Invalid(String),
    /// Too many calls: wait this long.
    #[error("too many calls from this token: retry in {} s", .0.as_secs().max(1))]
    RateLimited(Duration),
    /// The query is bad or over a limit, or the index failed.
    #[error(transparent)]
    Query(#[from] QueryError),
    /// Curation refused or failed.
    #[error(transparent)]
    Curate(#[from] CurateError),
    /// The user database failed.
    #[error(transparent)]
    Access(#[from] AccessError),
    /// Something of ours failed (details are logged, not sent).
    #[error("internal error: {0}")]
    Internal(String),
}

impl McpError {
    /// Is this the caller's mistake (as opposed to a failure of ours)?
    pub fn is_user_error(&self) -> bool {
        match self {
            McpError::Query(q) => q.is_user_error(),
            McpError::Curate(c) => c.is_user_error(),
            McpError::Access(a) => a.is_user_error(),
            McpError::Internal(_) => false,
            _ => true,
        }
    }

    /// The text an assistant gets: ours are logged and answered generically.
    fn public_message(&self) -> String {
        if self.is_user_error() {
            self.to_string()
        } else {
            tracing::error!("mcp: {self}");
            "the server failed to answer (logged); try again later".to_string()
        }
    }
}
