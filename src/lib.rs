//! gleaner: makes years of mailing-list mail searchable in milliseconds.
//!
//! Data flows down this list of modules; each uses only the ones above it
//! (`config` is used by all; `app` wires the others together).

#![warn(missing_docs)]

/// Configuration (`gleaner.toml`).
pub mod config;

/// The SQLite database `gleaner.db`: opening and migrations.
pub mod db;

/// The hash-chained audit log (in `gleaner.db`).
pub mod audit;

/// Review queues, decisions, curated documents (SQLite).
pub mod curate;

/// Raw messages and their locations.
pub mod store;

/// Bytes → `MailDoc`.
pub mod extract;

/// Operating figures for Prometheus (`/metrics`).
pub mod metrics;

/// The tantivy index.
pub mod index;

/// The query language, search, facets, threads, per-list visibility.
pub mod query;

/// Retention: archive volumes, legal holds, backups.
pub mod retention;

/// Users, roles, grants, sessions, API tokens (SQLite).
pub mod access;

/// A standby following a primary over HTTP, and its promotion.
pub mod replica;

/// The marks kept outside the index as each role may search by them.
pub mod marks;

/// The Solr-compatible endpoint Dovecot's fts_solr plugin talks to.
pub mod solr;

/// The JSON API and the embedded web UI.
pub mod http;

/// The MCP server (Model Context Protocol) for assistants: stdio and Streamable HTTP.
pub mod mcp;

/// The read-only IMAP server over the archive (`[imap]`).
pub mod imap;

/// Sending mail: `[mail]`, RFC 5322 messages, a minimal SMTP client.
pub mod smtp;

/// Review rounds on schedule and the weekly digest mail (`[[round]]`, `[mail]`).
pub mod reminders;

/// Wires the parts together: index, users, live indexer, HTTP server.
pub mod app;
