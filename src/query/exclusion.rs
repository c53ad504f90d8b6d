//! The clauses a query excludes (`-word`, `NOT x`), asked only through
//! `seek`. tantivy's `Exclude` asks an excluded clause with `seek_danger`,
//! and its phrase scorer asserts (in debug builds) that the target is not
//! behind the document it stands on — which an earlier `seek_danger` that
//! ran past the target may have left it on: `-ann@example.org` (a phrase
//! of three tokens) panicked a debug build when the phrase was found in
//! none of the later documents. Release builds answered correctly; the
//! default `seek_danger`, which this wrapper falls back to, is correct for
//! every target and never asserts. Knows nothing of the schema.

use std::sync::Arc;

use tantivy::query::{EnableScoring, Explanation, Query, Scorer, Weight};
use tantivy::{DocId, DocSet, Score, SegmentReader, Term};

/// `inner`, as a clause to exclude.
#[derive(Clone, Debug)]
pub struct Excluded(Arc<Box<dyn Query>>);

impl Excluded {
    /// Excludes what `inner` matches.
    pub fn new(inner: Box<dyn Query>) -> Excluded {
        Excluded(Arc::new(inner))
    }
}

impl Query for Excluded {
    fn weight(&self, enable_scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        Ok(Box::new(ExcludedWeight(self.0.weight(enable_scoring)?)))
    }

    fn query_terms<'a>(&'a self, visitor: &mut dyn FnMut(&'a Term, bool)) {
        self.0.query_terms(visitor)
    }
}

struct ExcludedWeight(Box<dyn Weight>);

impl Weight for ExcludedWeight {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        Ok(Box::new(SeekOnly(self.0.scorer(reader, boost)?)))
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        self.0.explain(reader, doc)
    }
}

/// A scorer without its own `seek_danger`.
struct SeekOnly(Box<dyn Scorer>);

impl DocSet for SeekOnly {
    fn advance(&mut self) -> DocId {
        self.0.advance()
    }

    fn seek(&mut self, target: DocId) -> DocId {
        self.0.seek(target)
    }

    fn doc(&self) -> DocId {
        self.0.doc()
    }

    fn size_hint(&self) -> u32 {
        self.0.size_hint()
    }
}

impl Scorer for SeekOnly {
    fn score(&mut self) -> Score {
        self.0.score()
    }
}
