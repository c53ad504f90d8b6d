//! One file per API area.

pub mod auth;
pub mod docs;
pub mod export;
pub mod home;
pub mod message_context;
pub mod messages;
pub mod ops;
pub mod replica;
pub mod review;
pub mod rounds;
pub mod saved;
pub mod search;
pub mod stats;
pub mod threads;
