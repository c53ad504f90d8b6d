//! The one writer of the index: idempotent upserts keyed by document key.
//!
//! Decides, for every extracted message, whether it is new, a duplicate of a
//! message already indexed (same key and content: one document, one more
//! location), or a different message that reuses a Message-ID (then it is keyed
//! `sha256:` and its content hash). Commits carry a payload (the tail
//! checkpoints) so both become durable together.

use std::collections::HashMap;

use tantivy::collector::TopDocs;
use tantivy::query::TermQuery;
use tantivy::schema::IndexRecordOption;
use tantivy::{DocAddress, DocSet, IndexWriter, Searcher, TantivyDocument, Term, TERMINATED};

use super::analysis::lowercase_key;
use super::doc::{key_term, same_content, to_document, Place, StoredMessage};
use super::{IndexError, MailIndex};
use crate::extract::MailDoc;
use crate::store::Location;

/// Writer memory budget (split across its threads).
const WRITER_HEAP: usize = 256 * 1024 * 1024;

/// How long a new writer waits for the lock a finishing one may still hold.
/// The lock is an `flock` on an open file, and a child process forked by any
/// thread keeps a copy of that file until it execs. That is the likely cause
/// of a rare failure of the writer model test in the full suite (a writer
/// dropped and made again at once, while other tests start programs); a
/// `gleaner index` started as another finishes waits the same way.
pub const LOCK_WAIT: std::time::Duration = std::time::Duration::from_millis(500);

/// What an upsert did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A new document.
    Added,
    /// The message was already indexed from elsewhere; a location was added.
    Duplicate,
    /// The message was already indexed from this very location.
    Unchanged,
}

/// A document written since the last commit (not yet visible to searchers).
struct Pending {
    content_hash: String,
    places: Vec<Place>,
}

/// The single index writer.
pub struct Writer {
    index: MailIndex,
    writer: IndexWriter<TantivyDocument>,
    /// Committed state, refreshed at every commit.
    searcher: Searcher,
    /// By key as indexed ([`lowercase_key`]).
    pending: HashMap<String, Pending>,
    pending_locs: HashMap<String, String>,
    payload: Option<String>,
    dirty: bool,
}

/// Looks up committed locations without holding the writer.
#[derive(Clone)]
pub struct LocationLookup {
    searcher: Searcher,
    field: tantivy::schema::Field,
}

impl LocationLookup {
    /// Is a message with this stable location key in the committed index?
    pub fn contains(&self, stable_key: &str) -> bool {
        let term = Term::from_field_text(self.field, stable_key);
        matches!(first_live(&self.searcher, &term), Ok(Some(_)))
    }
}

/// The first live document holding `term`, read from the postings directly:
/// asked once or twice per message while indexing, where a full search (a
/// weight, a scorer and a collector per call) cost several times as much.
fn first_live(searcher: &Searcher, term: &Term) -> tantivy::Result<Option<DocAddress>> {
    for (ord, segment) in searcher.segment_readers().iter().enumerate() {
        let inverted = segment.inverted_index(term.field())?;
        let Some(mut postings) = inverted.read_postings(term, IndexRecordOption::Basic)? else {
            continue;
        };
        let mut doc = postings.doc();
        while doc != TERMINATED {
            if !segment.is_deleted(doc) {
                return Ok(Some(DocAddress::new(ord as u32, doc)));
            }
            doc = postings.advance();
        }
    }
    Ok(None)
}

impl Writer {
    /// Takes the index's writer lock (fails if another writer still holds it
    /// after [`LOCK_WAIT`]).
    pub fn new(index: &MailIndex, threads: usize) -> Result<Writer, IndexError> {
        let threads = threads.clamp(1, 8);
        let heap = WRITER_HEAP.max(threads * 20_000_000);
        let started = std::time::Instant::now();
        let writer = loop {
            match index.index.writer_with_num_threads(threads, heap) {
                Ok(w) => break w,
                Err(tantivy::TantivyError::LockFailure(..)) if started.elapsed() < LOCK_WAIT => {
                    std::thread::sleep(LOCK_WAIT / 20);
                }
                Err(tantivy::TantivyError::LockFailure(..)) => {
                    return Err(IndexError::Locked(index.dir.clone()))
                }
                Err(e) => return Err(e.into()),
            }
        };
        // Files a killed writer left behind (say a half-written delete file)
        // would collide with the ones this writer is about to create.
        writer.garbage_collect_files().wait()?;
        let reader = index.index.reader()?;
        let payload = index.payload()?;
        Ok(Writer {
            payload,
            dirty: false,
            index: index.clone(),
            writer,
            searcher: reader.searcher(),
            pending: HashMap::new(),
            pending_locs: HashMap::new(),
        })
    }

    /// A lookup of committed locations, for scanners running beside the writer.
    pub fn location_lookup(&self) -> LocationLookup {
        LocationLookup {
            searcher: self.searcher.clone(),
            field: self.index.fields.loc,
        }
    }

    /// Is this location already indexed (committed or pending)?
    pub fn has_location(&self, stable_key: &str) -> bool {
        self.pending_locs.contains_key(stable_key) || self.location_lookup().contains(stable_key)
    }

    /// Whether anything was written or deleted since the last commit.
    pub fn has_uncommitted(&self) -> bool {
        self.dirty
    }

    fn committed(&self, key: &str) -> Result<Option<StoredMessage>, IndexError> {
        let f = &self.index.fields;
        match first_live(&self.searcher, &key_term(f, key))? {
            Some(addr) => Ok(Some(StoredMessage::load(&self.searcher, f, addr)?)),
            None => Ok(None),
        }
    }

    /// The content hash and places of `key`, pending or committed.
    fn existing(&self, key: &str) -> Result<Option<(String, Vec<Place>)>, IndexError> {
        if let Some(p) = self.pending.get(&lowercase_key(key)) {
            return Ok(Some((p.content_hash.clone(), p.places.clone())));
        }
        Ok(self.committed(key)?.map(|m| {
            let places = m
                .locations
                .iter()
                .map(|uri| Place {
                    stable_key: Location::from_uri(uri)
                        .map(|l| l.stable_key())
                        .unwrap_or_else(|_| uri.clone()),
                    uri: uri.clone(),
                })
                .collect();
            (m.content_hash, places)
        }))
    }

    /// Adds or merges `doc`, found at `location` with Maildir `flags`.
    pub fn upsert(
        &mut self,
        doc: &MailDoc,
        location: &Location,
        flags: &str,
    ) -> Result<Outcome, IndexError> {
        let place = Place {
            stable_key: location.stable_key(),
            uri: location.to_uri(),
        };
        let mut doc_key = doc.key.clone();
        for attempt in 0..2 {
            match self.existing(&doc_key)? {
                None => {
                    self.write(doc, &doc_key, vec![place], flags)?;
                    return Ok(Outcome::Added);
                }
                Some((hash, mut places)) if same_content(&hash, &doc.content_hash) => {
                    if places.iter().any(|p| p.stable_key == place.stable_key) {
                        return Ok(Outcome::Unchanged);
                    }
                    places.push(place);
                    self.writer
                        .delete_term(key_term(&self.index.fields, &doc_key));
                    self.write(doc, &doc_key, places, flags)?;
                    return Ok(Outcome::Duplicate);
                }
                Some(_) if attempt == 0 => {
                    // Same Message-ID, different content: key by the content hash.
                    doc_key = format!("sha256:{}", doc.content_hash);
                }
                Some(_) => {
                    // The content-hash key always holds this content hash.
                    return Ok(Outcome::Duplicate);
                }
            }
        }
        Ok(Outcome::Duplicate)
    }

    fn write(
        &mut self,
        doc: &MailDoc,
        key: &str,
        places: Vec<Place>,
        flags: &str,
    ) -> Result<(), IndexError> {
        let tdoc = to_document(&self.index.fields, doc, key, &places, flags);
        self.writer.add_document(tdoc)?;
        self.dirty = true;
        for p in &places {
            self.pending_locs
                .insert(p.stable_key.clone(), key.to_string());
        }
        self.pending.insert(
            lowercase_key(key),
            Pending {
                content_hash: doc.content_hash.clone(),
                places,
            },
        );
        Ok(())
    }

    /// The stable location keys in the committed index that start with `prefix`
    /// (e.g. every location of one mbox file), only of live documents.
    pub fn locations_with_prefix(&self, prefix: &str) -> Result<Vec<String>, IndexError> {
        let field = self.index.fields.loc;
        let mut upper = prefix.as_bytes().to_vec();
        upper.push(0xff);
        let mut out = std::collections::BTreeSet::new();
        for segment in self.searcher.segment_readers() {
            let inverted = segment.inverted_index(field)?;
            let mut stream = inverted
                .terms()
                .range()
                .ge(prefix.as_bytes())
                .lt(&upper)
                .into_stream()
                .map_err(tantivy::TantivyError::from)?;
            while stream.advance() {
                if let Ok(k) = std::str::from_utf8(stream.key()) {
                    out.insert(k.to_string());
                }
            }
        }
        let lookup = self.location_lookup();
        Ok(out
            .into_iter()
            .filter(|k| lookup.contains(k) || self.pending_locs.contains_key(k))
            .collect())
    }

    /// Removes one location (by stable key). A document left without locations is
    /// deleted; one that still has some is re-read from one of them and rewritten.
    /// Returns whether a document was deleted.
    pub fn remove_location(&mut self, stable_key: &str) -> Result<bool, IndexError> {
        let f = self.index.fields.clone();
        let q = TermQuery::new(
            Term::from_field_text(f.loc, stable_key),
            IndexRecordOption::Basic,
        );
        let hits = self
            .searcher
            .search(&q, &TopDocs::with_limit(16).order_by_score())?;
        let mut deleted = false;
        for (_, addr) in hits {
            let m = StoredMessage::load(&self.searcher, &f, addr)?;
            let remaining: Vec<Place> = m
                .locations
                .iter()
                .filter_map(|uri| {
                    let key = Location::from_uri(uri).map(|l| l.stable_key()).ok()?;
                    (key != stable_key).then(|| Place {
                        stable_key: key,
                        uri: uri.clone(),
                    })
                })
                .collect();
            self.writer.delete_term(key_term(&f, &m.key));
            self.dirty = true;
            self.pending.remove(&lowercase_key(&m.key));
            self.pending_locs.remove(stable_key);
            let reread = remaining.iter().find_map(|p| {
                let loc = Location::from_uri(&p.uri).ok()?;
                let bytes = crate::store::read_location(&loc).ok()?;
                let ctx = crate::extract::ExtractContext {
                    list: (!m.list.is_empty()).then_some(m.list.as_str()),
                    envelope: None,
                    pipermail: crate::store::pipermail::is_archive_location(&loc),
                };
                crate::extract::extract(&bytes, &ctx).ok()
            });
            match reread {
                Some(doc) => self.write(&doc, &m.key, remaining, &m.flags)?,
                None => deleted = true,
            }
        }
        Ok(deleted)
    }

    /// Sets the payload (tail checkpoints) that every following commit carries.
    pub fn set_payload(&mut self, payload: String) {
        self.payload = Some(payload);
    }

    /// Commits everything written so far, with the payload attached, so
    /// documents and checkpoints become durable together.
    pub fn commit(&mut self) -> Result<(), IndexError> {
        let mut prepared = self.writer.prepare_commit()?;
        if let Some(p) = &self.payload {
            prepared.set_payload(p);
        }
        prepared.commit()?;
        self.dirty = false;
        let reader = self.index.index.reader()?;
        self.searcher = reader.searcher();
        self.pending.clear();
        self.pending_locs.clear();
        Ok(())
    }

    /// Waits for background merges and releases the lock.
    pub fn finish(self) -> Result<(), IndexError> {
        self.writer.wait_merging_threads()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_writer_waits_briefly_for_the_lock_and_no_longer() {
        let dir = tempfile::tempdir().expect("tempdir");
        let index = MailIndex::open(&dir.path().join("index"), true).expect("index");
        // Held for longer than the wait: Locked, after about the wait.
        let holder = Writer::new(&index, 1).expect("first writer");
        let started = std::time::Instant::now();
        assert!(matches!(Writer::new(&index, 1), Err(IndexError::Locked(_))));
        assert!(started.elapsed() >= LOCK_WAIT);
        // Released within the wait: the second writer gets it.
        let releaser = std::thread::spawn(move || {
            std::thread::sleep(LOCK_WAIT / 4);
            drop(holder);
        });
        let second = Writer::new(&index, 1);
        releaser.join().expect("releasing thread");
        assert!(second.is_ok(), "{:?}", second.err());
    }
}
