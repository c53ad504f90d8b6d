//! The `[replica]` (primary) and `[standby]` sections of `gleaner.toml`.

use std::path::PathBuf;

use serde::Deserialize;

/// `[replica]` on the primary: standbys may pull (with a replication token).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ReplicaSection {
    /// Names of the replication tokens allowed to pull (default: any
    /// replication token, `gleaner token create NAME --user ADMIN --replication`).
    pub tokens: Vec<String>,
    /// The standbys' URLs: at start, `serve` refuses to run as a primary when
    /// one of them was promoted after this data directory was (it was replaced).
    pub standbys: Vec<String>,
}

/// `[standby]` on the standby: whom to follow and how often.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StandbySection {
    /// The primary's URL, `http://host:port` (over a VPN or a TLS tunnel).
    pub primary: String,
    /// A file holding the replication token (one line).
    pub token_file: PathBuf,
    /// Seconds between two pulls (default 5; the database is at most this
    /// plus one snapshot's transfer behind).
    #[serde(default = "default_interval")]
    pub interval_secs: f64,
}

fn default_interval() -> f64 {
    DEFAULT_INTERVAL_SECS
}

/// The default pull interval, seconds.
pub const DEFAULT_INTERVAL_SECS: f64 = 5.0;
