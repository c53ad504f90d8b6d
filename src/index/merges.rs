//! Counts the segment merges tantivy starts: a merge policy that asks the
//! writer's own policy for candidates and counts them. tantivy runs merges
//! in its own threads without a hook, so how long they take is not seen.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tantivy::indexer::{MergeCandidate, MergePolicy};
use tantivy::{IndexWriter, SegmentMeta};

/// The writer's merge policy, counting every merge it starts into `started`.
#[derive(Debug)]
struct Counted {
    inner: Arc<dyn MergePolicy>,
    started: Arc<AtomicU64>,
}

impl MergePolicy for Counted {
    fn compute_merge_candidates(&self, segments: &[SegmentMeta]) -> Vec<MergeCandidate> {
        let candidates = self.inner.compute_merge_candidates(segments);
        self.started
            .fetch_add(candidates.len() as u64, Ordering::Relaxed);
        candidates
    }
}

/// Makes `writer` count the merges its policy starts into `started`.
pub fn count_merges(writer: &IndexWriter, started: Arc<AtomicU64>) {
    let inner = writer.get_merge_policy();
    writer.set_merge_policy(Box::new(Counted { inner, started }));
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use tantivy::schema::{Schema, STRING};
    use tantivy::{doc, Index};

    #[test]
    fn merges_of_many_small_segments_are_counted() {
        let mut schema = Schema::builder();
        let f = schema.add_text_field("f", STRING);
        let index = Index::create_in_ram(schema.build());
        let mut writer: IndexWriter = index.writer_with_num_threads(1, 15_000_000).unwrap();
        let started = Arc::new(AtomicU64::new(0));
        count_merges(&writer, started.clone());
        for i in 0..12 {
            writer.add_document(doc!(f => format!("d{i}"))).unwrap();
            writer.commit().unwrap();
        }
        writer.wait_merging_threads().unwrap();
        assert!(
            started.load(Ordering::Relaxed) >= 1,
            "8 segments make a merge"
        );
    }
}
