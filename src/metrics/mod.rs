//! Operating figures of `gleaner serve` in the Prometheus text format:
//! request latency and errors of the HTTP surfaces ([`requests`]), the live
//! indexer ([`indexer`]) and disk use ([`disk`]), written by [`text`].
//!
//! Counters are kept here and fed by the parts that do the work; figures
//! that are cheap to read when scraped (documents, segments, cache entries)
//! are added by the `/metrics` handler. No metric carries a list name, a
//! Message-ID, a user or query text as a label: labels are surfaces, route
//! templates, status classes, error kinds and fixed component names only.
//! This module knows nothing of tantivy, SQLite or the HTTP handlers.

pub mod disk;
pub mod histogram;
pub mod indexer;
pub mod requests;
pub mod text;

use std::sync::Arc;

use serde::Deserialize;

pub use disk::{DiskPaths, DiskUsage};
pub use indexer::{IndexerMetrics, Phase};
pub use requests::{ErrorKind, Requests, Surface};
pub use text::Exposition;

/// Who may read `/metrics` (`[http] metrics`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MetricsAccess {
    /// Admins and clients on a loopback address (the default).
    #[default]
    Admin,
    /// Anyone who can reach the listen address.
    Public,
}

/// The metrics one `serve` process keeps.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Requests of the HTTP surfaces.
    pub requests: Arc<Requests>,
    /// The live indexer.
    pub indexer: Arc<IndexerMetrics>,
    disk: Option<DiskUsage>,
}

impl Metrics {
    /// Also reports the disk use of `paths`.
    pub fn with_disk(mut self, paths: DiskPaths) -> Metrics {
        self.disk = Some(DiskUsage::new(paths));
        self
    }

    /// Writes every family kept here. Reads the disk: call it off the async
    /// threads.
    pub fn write(&self, out: &mut Exposition) {
        self.requests.write(out);
        self.indexer.write(out);
        if let Some(disk) = &self.disk {
            disk.write(out);
        }
    }
}
