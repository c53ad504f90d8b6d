//! The "indexed through" watermark: how current the index is, per source.
//!
//! The live indexer updates it; `gleaner stats`, the web UI and the API read it.

use std::sync::{Arc, RwLock};

use serde::{Deserialize, Serialize};

/// The state of one source as the indexer last saw it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct SourceStatus {
    /// The source path.
    pub path: String,
    /// The newest delivery (file mtime or arrival, unix seconds) indexed from it.
    pub indexed_through: Option<i64>,
    /// The last error reading it, if the last attempt failed.
    pub last_error: Option<String>,
}

/// How current the index is.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Watermark {
    /// The newest delivery indexed, over all sources (unix seconds).
    pub indexed_through: Option<i64>,
    /// Messages seen but not yet committed.
    pub pending: u64,
    /// Messages searchable as of the last commit.
    #[serde(default)]
    pub messages: Option<u64>,
    /// Per-source state.
    pub sources: Vec<SourceStatus>,
}

/// A watermark shared between the indexer and its readers.
pub type SharedWatermark = Arc<RwLock<Watermark>>;

/// A snapshot of a shared watermark (a poisoned lock still yields its value).
pub fn snapshot(shared: &SharedWatermark) -> Watermark {
    match shared.read() {
        Ok(w) => w.clone(),
        Err(poisoned) => poisoned.into_inner().clone(),
    }
}
