//! Leaf queries that skip a segment lacking their field.
//!
//! A segment with no term in a field (no message in German, no attachment
//! text) has no term dictionary for it, and tantivy answers a look into it by
//! building an empty dictionary the first time in a process: an FST builder's
//! ~1 MiB registry allocated, zeroed and freed, ~0.5 ms — a tenth of a whole
//! `gleaner search` process. [`Present`] asks, once per segment, which fields
//! hold postings (read off the segment's composite files, no dictionary
//! opened) and gives an empty scorer where its field is absent; its BM25
//! statistics skip those segments too. Matches and scores are unchanged: an
//! absent field has no documents and no tokens.
//!
//! Knows tantivy's segments and queries; nothing of mail or of the grammar.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use tantivy::index::SegmentId;
use tantivy::query::{
    Bm25StatisticsProvider, EmptyScorer, EnableScoring, Explanation, Query, Scorer, Weight,
};
use tantivy::schema::Field;
use tantivy::{DocId, Score, Searcher, SeekDangerResult, SegmentReader, Term, TERMINATED};

/// Segments remembered at most (segments are immutable, their ids unique;
/// a long-running server forgets all and starts over past this).
const REMEMBERED: usize = 4096;

fn cache() -> &'static Mutex<HashMap<SegmentId, Arc<[bool]>>> {
    static CACHE: OnceLock<Mutex<HashMap<SegmentId, Arc<[bool]>>>> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// Which fields of `reader`'s segment hold postings, by field id.
fn fields_of(reader: &SegmentReader) -> Option<Arc<[bool]>> {
    let id = reader.segment_id();
    if let Some(found) = cache().lock().ok()?.get(&id) {
        return Some(found.clone());
    }
    let schema = reader.schema();
    let mut present = vec![false; schema.num_fields()];
    for meta in reader.fields_metadata().ok()? {
        let has_postings = meta.postings_size.is_some_and(|s| s.get_bytes() > 0);
        if let (true, Ok(field)) = (has_postings, schema.get_field(&meta.field_name)) {
            if let Some(slot) = present.get_mut(field.field_id() as usize) {
                *slot = true;
            }
        }
    }
    let present: Arc<[bool]> = present.into();
    let mut cache = cache().lock().ok()?;
    if cache.len() >= REMEMBERED {
        cache.clear();
    }
    cache.insert(id, present.clone());
    Some(present)
}

/// Whether `reader`'s segment has any postings in `field` (true when unknown:
/// looking is then left to tantivy).
pub fn has_field(reader: &SegmentReader, field: Field) -> bool {
    fields_of(reader).is_none_or(|p| p.get(field.field_id() as usize).copied().unwrap_or(true))
}

/// `inner`, a query on `field` alone, skipping segments without `field`.
#[derive(Debug)]
pub struct Present {
    field: Field,
    inner: Box<dyn Query>,
}

impl Present {
    /// Wraps `inner`, whose terms are all in `field`.
    pub fn new(field: Field, inner: Box<dyn Query>) -> Present {
        Present { field, inner }
    }
}

impl Clone for Present {
    fn clone(&self) -> Present {
        Present {
            field: self.field,
            inner: self.inner.box_clone(),
        }
    }
}

impl Query for Present {
    fn weight(&self, scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        let inner = match scoring {
            EnableScoring::Enabled { searcher, .. } => {
                let stats = PresentStats { searcher };
                self.inner
                    .weight(EnableScoring::enabled_from_statistics_provider(
                        &stats, searcher,
                    ))?
            }
            disabled => self.inner.weight(disabled)?,
        };
        Ok(Box::new(PresentWeight {
            field: self.field,
            inner,
        }))
    }

    fn query_terms<'a>(&'a self, visitor: &mut dyn FnMut(&'a Term, bool)) {
        self.inner.query_terms(visitor);
    }
}

/// BM25's statistics summed over the segments that hold the field asked.
struct PresentStats<'a> {
    searcher: &'a Searcher,
}

impl PresentStats<'_> {
    fn sum(
        &self,
        field: Field,
        each: impl Fn(&tantivy::InvertedIndexReader) -> tantivy::Result<u64>,
    ) -> tantivy::Result<u64> {
        let mut total = 0u64;
        for reader in self.searcher.segment_readers() {
            if has_field(reader, field) {
                total += each(&*reader.inverted_index(field)?)?;
            }
        }
        Ok(total)
    }
}

impl Bm25StatisticsProvider for PresentStats<'_> {
    fn total_num_tokens(&self, field: Field) -> tantivy::Result<u64> {
        self.sum(field, |inv| Ok(inv.total_num_tokens()))
    }

    fn total_num_docs(&self) -> tantivy::Result<u64> {
        self.searcher.total_num_docs()
    }

    fn doc_freq(&self, term: &Term) -> tantivy::Result<u64> {
        self.sum(term.field(), |inv| Ok(u64::from(inv.doc_freq(term)?)))
    }
}

struct PresentWeight {
    field: Field,
    inner: Box<dyn Weight>,
}

impl Weight for PresentWeight {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        if has_field(reader, self.field) {
            self.inner.scorer(reader, boost)
        } else {
            Ok(Box::new(EmptyScorer))
        }
    }

    fn scorer_danger(
        &self,
        reader: &SegmentReader,
        target: DocId,
        boost: Score,
    ) -> tantivy::Result<(SeekDangerResult, Box<dyn Scorer>)> {
        match has_field(reader, self.field) {
            true => self.inner.scorer_danger(reader, target, boost),
            false => Ok((
                SeekDangerResult::SeekLowerBound(TERMINATED),
                Box::new(EmptyScorer),
            )),
        }
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        self.inner.explain(reader, doc)
    }

    fn count(&self, reader: &SegmentReader) -> tantivy::Result<u32> {
        match has_field(reader, self.field) {
            true => self.inner.count(reader),
            false => Ok(0),
        }
    }

    fn for_each(
        &self,
        reader: &SegmentReader,
        callback: &mut dyn FnMut(DocId, Score),
    ) -> tantivy::Result<()> {
        match has_field(reader, self.field) {
            true => self.inner.for_each(reader, callback),
            false => Ok(()),
        }
    }

    fn for_each_no_score(
        &self,
        reader: &SegmentReader,
        callback: &mut dyn FnMut(&[DocId]),
    ) -> tantivy::Result<()> {
        match has_field(reader, self.field) {
            true => self.inner.for_each_no_score(reader, callback),
            false => Ok(()),
        }
    }

    fn for_each_pruning(
        &self,
        threshold: Score,
        reader: &SegmentReader,
        callback: &mut dyn FnMut(DocId, Score) -> Score,
    ) -> tantivy::Result<()> {
        match has_field(reader, self.field) {
            true => self.inner.for_each_pruning(threshold, reader, callback),
            false => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tantivy::collector::{Count, TopDocs};
    use tantivy::query::{BooleanQuery, Occur, PhraseQuery, TermQuery};
    use tantivy::schema::{IndexRecordOption, Schema, TEXT};
    use tantivy::{doc, Index, IndexWriter};

    /// Two segments; only the second has anything in `b`.
    fn two_segments() -> (Index, Field, Field) {
        let mut sb = Schema::builder();
        let a = sb.add_text_field("a", TEXT);
        let b = sb.add_text_field("b", TEXT);
        let index = Index::create_in_ram(sb.build());
        let mut w: IndexWriter = index
            .writer_with_num_threads(1, 15_000_000)
            .expect("writer");
        for n in 0..20 {
            w.add_document(doc!(a => format!("apple pear {n}")))
                .expect("add");
        }
        w.commit().expect("commit");
        for n in 0..10 {
            w.add_document(doc!(a => "apple", b => format!("pear plum tree {n}")))
                .expect("add");
        }
        w.commit().expect("commit");
        (index, a, b)
    }

    fn word(f: Field, w: &str) -> Box<dyn Query> {
        Box::new(TermQuery::new(
            Term::from_field_text(f, w),
            IndexRecordOption::WithFreqs,
        ))
    }

    #[test]
    fn a_segment_without_the_field_is_skipped_and_answers_are_unchanged() {
        let (index, a, b) = two_segments();
        let searcher = index.reader().expect("reader").searcher();
        let segs = searcher.segment_readers();
        assert_eq!(segs.len(), 2);
        let lacking: Vec<bool> = segs.iter().map(|s| has_field(s, b)).collect();
        assert_eq!(
            lacking.iter().filter(|p| !**p).count(),
            1,
            "one segment lacks b"
        );
        assert!(segs.iter().all(|s| has_field(s, a)));

        let phrase = || -> Box<dyn Query> {
            Box::new(PhraseQuery::new(vec![
                Term::from_field_text(b, "plum"),
                Term::from_field_text(b, "tree"),
            ]))
        };
        let plain: Vec<Box<dyn Query>> = vec![
            word(b, "pear"),
            phrase(),
            Box::new(BooleanQuery::new(vec![
                (Occur::Should, word(a, "pear")),
                (Occur::Should, word(b, "pear")),
            ])),
            Box::new(BooleanQuery::new(vec![
                (Occur::Must, word(a, "apple")),
                (Occur::Must, phrase()),
            ])),
        ];
        let wrapped: Vec<Box<dyn Query>> = vec![
            Box::new(Present::new(b, word(b, "pear"))),
            Box::new(Present::new(b, phrase())),
            Box::new(BooleanQuery::new(vec![
                (
                    Occur::Should,
                    Box::new(Present::new(a, word(a, "pear"))) as Box<dyn Query>,
                ),
                (Occur::Should, Box::new(Present::new(b, word(b, "pear")))),
            ])),
            Box::new(BooleanQuery::new(vec![
                (
                    Occur::Must,
                    Box::new(Present::new(a, word(a, "apple"))) as Box<dyn Query>,
                ),
                (Occur::Must, Box::new(Present::new(b, phrase()))),
            ])),
        ];
        for (p, w) in plain.iter().zip(&wrapped) {
            let top = TopDocs::with_limit(50).order_by_score();
            let (want_n, want) = searcher.search(p, &(Count, top)).expect("plain");
            let top = TopDocs::with_limit(50).order_by_score();
            let (got_n, got) = searcher.search(w, &(Count, top)).expect("wrapped");
            assert!(want_n > 0, "{p:?} finds something");
            assert_eq!(got_n, want_n, "{p:?}: same total");
            assert_eq!(got, want, "{p:?}: same documents, same scores");
            assert_eq!(w.count(&searcher).expect("count"), want_n);
        }
        let mut terms = Vec::new();
        wrapped[1].query_terms(&mut |t, _| terms.push(t.clone()));
        assert_eq!(
            terms.len(),
            2,
            "terms are seen through the wrapper (snippets)"
        );
    }
}
