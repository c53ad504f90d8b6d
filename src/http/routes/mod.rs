//! One file per API area.

pub mod auth;
pub mod export;
pub mod messages;
pub mod search;
pub mod stats;
pub mod threads;
