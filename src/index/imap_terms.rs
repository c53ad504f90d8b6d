//! The term dictionaries of the IMAP index's `hdr` and `body` fields as flat
//! text, for substring searches.
//!
//! IMAP's BODY and TEXT are substring searches: `BODY mirror` must find
//! "portmirror". tantivy's term dictionary (an FST) answers prefixes quickly but a
//! substring only by walking every term (a `.*mirror.*` automaton: 30–200 ms on
//! a 100k-message mailbox). Here each segment's terms of a field are kept once in
//! memory as one byte string, every term followed by `\n` (tokens are runs of
//! letters and digits, so they never contain one), and searched with a SIMD
//! substring finder. Segments never change, so an entry stays valid for the
//! segment's life; entries of merged-away segments are dropped.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use memchr::memmem;
use tantivy::index::SegmentId;
use tantivy::schema::Field;
use tantivy::SegmentReader;

/// The terms of one field of one segment: `\n` + each term + `\n`.
pub struct SegmentTerms {
    bytes: Vec<u8>,
}

impl SegmentTerms {
    fn read(seg: &SegmentReader, field: Field) -> tantivy::Result<SegmentTerms> {
        let inverted = seg.inverted_index(field)?;
        let mut stream = inverted.terms().stream()?;
        let mut bytes = vec![b'\n'];
        while stream.advance() {
            bytes.extend_from_slice(stream.key());
            bytes.push(b'\n');
        }
        Ok(SegmentTerms { bytes })
    }

    /// The term around byte `at` (which lies inside one).
    fn term_at(&self, at: usize) -> (usize, usize) {
        let start = memchr::memrchr(b'\n', &self.bytes[..at]).map_or(0, |i| i + 1);
        let end = memchr::memchr(b'\n', &self.bytes[at..]).map_or(self.bytes.len(), |i| at + i);
        (start, end)
    }

    /// Every term containing `needle` (not empty), each once, in dictionary order.
    pub fn containing(&self, needle: &[u8]) -> Vec<&[u8]> {
        let mut out = Vec::new();
        let mut next_term = 0;
        for at in memmem::find_iter(&self.bytes, needle) {
            if at < next_term {
                continue; // another match inside a term already taken
            }
            let (start, end) = self.term_at(at);
            out.push(&self.bytes[start..end]);
            next_term = end;
        }
        out
    }

    /// Every term ending in `suffix` (not empty), in dictionary order.
    pub fn ending_with(&self, suffix: &[u8]) -> Vec<&[u8]> {
        let mut pattern = suffix.to_vec();
        pattern.push(b'\n');
        memmem::find_iter(&self.bytes, &pattern)
            .map(|at| {
                let (start, _) = self.term_at(at);
                &self.bytes[start..at + suffix.len()]
            })
            .collect()
    }

    /// How many terms begin with `prefix`.
    pub fn count_starting_with(&self, prefix: &[u8]) -> usize {
        let mut pattern = vec![b'\n'];
        pattern.extend_from_slice(prefix);
        memmem::find_iter(&self.bytes, &pattern).count()
    }
}

/// Term lists by segment and field.
type Entries = HashMap<(SegmentId, Field), Arc<SegmentTerms>>;

/// The flat term lists of the segments searched so far, by segment and field.
#[derive(Clone, Default)]
pub struct TermTexts {
    cache: Arc<Mutex<Entries>>,
}

impl TermTexts {
    /// The terms of `field` in `seg`, read on first use.
    pub fn get(&self, seg: &SegmentReader, field: Field) -> tantivy::Result<Arc<SegmentTerms>> {
        let key = (seg.segment_id(), field);
        if let Some(found) = self.lock().get(&key) {
            return Ok(found.clone());
        }
        // Read without the lock: another search may read the same one meanwhile.
        let terms = Arc::new(SegmentTerms::read(seg, field)?);
        self.lock().insert(key, terms.clone());
        Ok(terms)
    }

    /// Reads the term lists of `fields` for every segment of `searcher` not yet
    /// read, and drops those of segments gone: run after each reload, so the
    /// first search after a commit or a merge does not pay for it.
    pub fn warm(&self, searcher: &tantivy::Searcher, fields: &[Field]) {
        let live: Vec<SegmentId> = searcher
            .segment_readers()
            .iter()
            .map(|s| s.segment_id())
            .collect();
        self.retain(&live);
        for seg in searcher.segment_readers() {
            for f in fields {
                // A failure here only means the first search reads it itself.
                let _ = self.get(seg, *f);
            }
        }
    }

    /// Drops the entries of segments not in `live` (merged away or deleted).
    pub fn retain(&self, live: &[SegmentId]) {
        self.lock().retain(|(id, _), _| live.contains(id));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms(list: &[&str]) -> SegmentTerms {
        let mut bytes = vec![b'\n'];
        for t in list {
            bytes.extend_from_slice(t.as_bytes());
            bytes.push(b'\n');
        }
        SegmentTerms { bytes }
    }

    fn strs(v: Vec<&[u8]>) -> Vec<&str> {
        v.into_iter()
            .map(|b| std::str::from_utf8(b).expect("test terms are UTF-8"))
            .collect()
    }

    #[test]
    fn substrings_suffixes_and_prefixes() {
        let t = terms(&[
            "error",
            "errors",
            "mirror",
            "mirrormirror",
            "portmirror",
            "rror",
        ]);
        assert_eq!(
            strs(t.containing(b"rror")),
            vec![
                "error",
                "errors",
                "mirror",
                "mirrormirror",
                "portmirror",
                "rror"
            ]
        );
        assert_eq!(
            strs(t.containing(b"mirror")),
            vec!["mirror", "mirrormirror", "portmirror"]
        );
        assert!(t.containing(b"xyz").is_empty());
        assert_eq!(
            strs(t.ending_with(b"mirror")),
            vec!["mirror", "mirrormirror", "portmirror"]
        );
        assert_eq!(strs(t.ending_with(b"error")), vec!["error"]);
        assert_eq!(t.count_starting_with(b"err"), 2);
        assert_eq!(t.count_starting_with(b"mirror"), 2);
        assert_eq!(t.count_starting_with(b"rror"), 1);
        // The first and last terms are found like any other.
        assert_eq!(strs(t.containing(b"rr")).len(), 6);
        assert_eq!(t.count_starting_with(b"e"), 2);
    }
}
