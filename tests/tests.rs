//! gleaner's integration tests, compiled into one test binary.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod bruteforce;
mod cli;
mod common;
mod corpora;
mod dedup;
mod kill9;
mod writer_model;
