//! Queries: gleaner's query language, planned onto the index, and run.
//!
//! `grammar` turns text into an AST and knows nothing of the schema; `plan`
//! turns the AST into a tantivy query using the schema and analysers;
//! `search` runs it (totals, hits, snippets), `facets` counts lists, years,
//! senders and months over a result set, `thread` builds reply trees, and
//! `stats` summarises the index. `visible` restricts every one of them to the
//! lists a caller may see.
//! Surfaces (CLI, HTTP, Solr, curation) go through this module and never build
//! tantivy queries themselves.

pub mod addr_set;
pub mod answer;
pub mod context;
pub mod conversations;
pub mod exclusion;
pub mod facets;
pub mod grammar;
pub mod harvest;
pub mod highlight;
pub mod imap;
pub mod limits;
pub mod lists;
pub mod lucene;
pub mod mailbox;
pub mod marks;
pub mod overview;
pub mod plan;
pub mod present;
pub mod resolution;
pub mod retention;
pub mod search;
pub mod stats;
pub mod suggest;
pub mod text;
pub mod thread;
pub mod visible;

pub use marks::Marks;
pub use search::{
    find_message, find_visible_message, for_each_match, search, Hit, Request, Results, Sort,
};

/// Why a query failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    /// The query text is malformed (the user's mistake).
    #[error("bad query: {0}")]
    Parse(#[from] grammar::ParseError),
    /// The query is well formed but asks for something gleaner cannot do.
    #[error("bad query: at position {position}: {message}")]
    Unsupported {
        /// Character offset in the query.
        position: usize,
        /// What is wrong.
        message: String,
    },
    /// The query asks for more work than [`limits`] allow (the user's
    /// mistake, except [`limits::Limit::Deadline`], which may be load).
    #[error("query refused: {0}")]
    Limit(#[from] limits::LimitExceeded),
    /// The index failed (our failure).
    #[error("index error: {0}")]
    Index(#[from] tantivy::TantivyError),
}

impl From<limits::Bounded> for QueryError {
    fn from(e: limits::Bounded) -> QueryError {
        match e {
            limits::Bounded::Limit(l) => QueryError::Limit(l),
            limits::Bounded::Index(i) => QueryError::Index(i),
        }
    }
}

impl QueryError {
    /// Is this the user's mistake (as opposed to a failure of ours)?
    pub fn is_user_error(&self) -> bool {
        matches!(
            self,
            QueryError::Parse(_) | QueryError::Unsupported { .. } | QueryError::Limit(_)
        )
    }

    /// The character position the error refers to, for user errors.
    pub fn position(&self) -> Option<usize> {
        match self {
            QueryError::Parse(e) => Some(e.position),
            QueryError::Unsupported { position, .. } => Some(*position),
            QueryError::Limit(_) | QueryError::Index(_) => None,
        }
    }
}

#[cfg(test)]
mod pipeline_tests;
