//! gleaner's integration tests, compiled into one test binary.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod a11y;
mod access_copies;
mod authors;
mod browser;
mod bruteforce;
mod cli;
mod common;
mod conversations;
mod corpora;
mod curation;
mod curation_access;
mod dedup;
mod departure;
mod documents_ui;
#[path = "dovecot/e2e.rs"]
mod dovecot;
mod facets;
mod http_api;
mod imap;
mod kill9;
mod list_names;
mod live;
mod login_next;
mod mcp;
mod media;
mod metrics;
mod pipermail;
mod promote;
mod queue_robust;
mod ranking;
mod reading;
mod reading_ui;
mod retention;
mod review_ui;
mod rounds;
mod security;
mod security_reader;
mod semantics;
mod standby;
mod threads;
mod wd;
mod webdriver;
mod writer_model;
