//! What the live indexer of `serve` reports about itself: messages indexed,
//! commit durations, how far it is behind the stores, and whether its
//! start-up catch-up is done (what `/readyz` waits for). The indexer calls
//! these; it never sees how they are exposed.

use std::sync::atomic::{AtomicI64, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::histogram::{Histogram, COMMIT_BUCKETS};
use super::text::Exposition;

/// Where the live indexer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// There is none (no sources configured).
    Absent,
    /// Reading the stores at start-up.
    CatchingUp,
    /// The start-up pass is committed; following changes.
    Following,
    /// It stopped (shutdown, or an error that is in the log).
    Stopped,
}

/// The live indexer's counters and gauges.
#[derive(Debug)]
pub struct IndexerMetrics {
    indexed: AtomicU64,
    duplicates: AtomicU64,
    skipped: AtomicU64,
    commits: Histogram,
    merges: Arc<AtomicU64>,
    /// Unix milliseconds of the oldest change seen and not yet committed (0: none).
    oldest_unindexed_ms: AtomicI64,
    phase: AtomicU8,
}

impl Default for IndexerMetrics {
    fn default() -> Self {
        IndexerMetrics {
            indexed: AtomicU64::new(0),
            duplicates: AtomicU64::new(0),
            skipped: AtomicU64::new(0),
            commits: Histogram::new(COMMIT_BUCKETS),
            merges: Arc::default(),
            oldest_unindexed_ms: AtomicI64::new(0),
            phase: AtomicU8::new(0),
        }
    }
}

fn now_ms() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp_nanos() as i64 / 1_000_000
}

impl IndexerMetrics {
    /// Where the indexer is.
    pub fn phase(&self) -> Phase {
        match self.phase.load(Ordering::SeqCst) {
            1 => Phase::CatchingUp,
            2 => Phase::Following,
            3 => Phase::Stopped,
            _ => Phase::Absent,
        }
    }

    /// Moves to `phase`.
    pub fn set_phase(&self, phase: Phase) {
        let n = match phase {
            Phase::Absent => 0,
            Phase::CatchingUp => 1,
            Phase::Following => 2,
            Phase::Stopped => 3,
        };
        self.phase.store(n, Ordering::SeqCst);
    }

    /// Counts the outcome of one batch of messages.
    pub fn add_messages(&self, indexed: u64, duplicates: u64, skipped: u64) {
        self.indexed.fetch_add(indexed, Ordering::Relaxed);
        self.duplicates.fetch_add(duplicates, Ordering::Relaxed);
        self.skipped.fetch_add(skipped, Ordering::Relaxed);
    }

    /// The counter of segment merges started, for the index writer to count into.
    pub fn merges_started(&self) -> Arc<AtomicU64> {
        self.merges.clone()
    }

    /// A change in a store was noticed (the lag starts here unless an older
    /// one still waits).
    pub fn change_seen(&self) {
        let _ = self.oldest_unindexed_ms.compare_exchange(
            0,
            now_ms(),
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
    }

    /// Nothing waits any more (a commit, or changes that needed none).
    pub fn caught_up_with_changes(&self) {
        self.oldest_unindexed_ms.store(0, Ordering::Relaxed);
    }

    /// A commit took `took`; everything seen before it is now searchable.
    pub fn committed(&self, took: Duration) {
        self.commits.observe(took);
        self.caught_up_with_changes();
    }

    /// Seconds since the oldest change not yet committed (0 when none waits).
    pub fn lag_seconds(&self) -> f64 {
        match self.oldest_unindexed_ms.load(Ordering::Relaxed) {
            0 => 0.0,
            t => (now_ms() - t).max(0) as f64 / 1000.0,
        }
    }

    /// Writes the indexer families.
    pub fn write(&self, out: &mut Exposition) {
        let n = |c: &AtomicU64| c.load(Ordering::Relaxed) as f64;
        out.counter(
            "gleaner_indexer_messages_indexed_total",
            "Messages the live indexer added to the index.",
            &[(&[], n(&self.indexed))],
        );
        out.counter(
            "gleaner_indexer_messages_duplicate_total",
            "Messages the live indexer found already indexed from another location.",
            &[(&[], n(&self.duplicates))],
        );
        out.counter(
            "gleaner_indexer_messages_skipped_total",
            "Messages the live indexer could not index (see the log).",
            &[(&[], n(&self.skipped))],
        );
        out.histogram(
            "gleaner_indexer_commit_duration_seconds",
            "Time of each commit of the live indexer (including the reader reload).",
            &[(&[], &self.commits.snapshot())],
        );
        out.counter(
            "gleaner_indexer_merges_started_total",
            "Segment merges the live indexer's writer started (their duration is not observable).",
            &[(&[], n(&self.merges))],
        );
        out.gauge(
            "gleaner_indexer_lag_seconds",
            "Seconds since the oldest change in the mail stores that is not yet searchable (0 when none waits).",
            &[(&[], self.lag_seconds())],
        );
        let phase = self.phase();
        out.gauge(
            "gleaner_indexer_caught_up",
            "1 once the live indexer's start-up pass is committed and it is following changes (also 1 without sources).",
            &[(
                &[],
                f64::from(u8::from(matches!(phase, Phase::Following | Phase::Absent))),
            )],
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lag_starts_at_the_oldest_change_and_ends_at_a_commit() {
        let m = IndexerMetrics::default();
        assert_eq!(m.lag_seconds(), 0.0);
        m.oldest_unindexed_ms
            .store(now_ms() - 2_000, Ordering::Relaxed);
        m.change_seen();
        assert!(
            m.lag_seconds() >= 2.0,
            "a newer change keeps the older start"
        );
        m.committed(Duration::from_millis(7));
        assert_eq!(m.lag_seconds(), 0.0);
        assert_eq!(m.commits.snapshot().count, 1);
        assert_eq!(m.phase(), Phase::Absent);
        m.set_phase(Phase::Following);
        assert_eq!(m.phase(), Phase::Following);
    }
}
