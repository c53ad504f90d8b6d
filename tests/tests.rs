//! gleaner's integration tests, compiled into one test binary.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod browser;
mod bruteforce;
mod cli;
mod common;
mod corpora;
mod dedup;
mod http_api;
mod kill9;
mod writer_model;
