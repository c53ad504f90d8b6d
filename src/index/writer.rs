//! The one writer of the index: idempotent upserts keyed by document key.
//!
//! Decides, for every extracted message, whether it is new, a duplicate of a
//! message already indexed (same key and content: one document, one more
//! location), or a different message that reuses a Message-ID (then it is keyed
//! `sha256:` and its content hash). Commits carry a payload (the tail
//! checkpoints) so both become durable together.

use std::collections::HashMap;
use std::sync::Arc;

use tantivy::collector::TopDocs;
use tantivy::query::TermQuery;
use tantivy::schema::IndexRecordOption;
use tantivy::{DocAddress, DocSet, IndexWriter, Searcher, TantivyDocument, Term, TERMINATED};

use super::analysis::lowercase_key;
use super::doc::{key_term, same_content, to_document, Filing, Place, StoredMessage};
use super::threading::{self, Resolution, Tokens};
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
    flags: String,
    list: Option<String>,
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
    /// Conversations of the pending documents.
    threads: threading::Pending,
    /// Documents of a merged conversation that could not be re-read to move
    /// them (their store is gone): they keep their old conversation id.
    unmoved: u64,
    /// The documents written last: a moved conversation's members are
    /// written again from here rather than re-read from their store.
    recent: super::recent::Recent,
    /// Reads what `recent` no longer holds, each mbox forward and kept open.
    store: crate::store::LocationReader,
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
pub(crate) fn first_live(searcher: &Searcher, term: &Term) -> tantivy::Result<Option<DocAddress>> {
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
            threads: threading::Pending::default(),
            unmoved: 0,
            recent: super::recent::Recent::new(super::recent::DEFAULT_BUDGET),
            store: crate::store::LocationReader::default(),
        })
    }

    /// Counts the segment merges this writer starts into `started`.
    pub fn count_merges(&self, started: std::sync::Arc<std::sync::atomic::AtomicU64>) {
        super::merges::count_merges(&self.writer, started);
    }

    /// Documents of merged conversations that could not be moved (their mail
    /// could not be re-read) since this writer started.
    pub fn unmoved(&self) -> u64 {
        self.unmoved
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

    /// The identity and places of `key`, pending or committed.
    fn existing(&self, key: &str) -> Result<Option<(String, Vec<Place>)>, IndexError> {
        if let Some(p) = self.pending.get(&lowercase_key(key)) {
            return Ok(Some((p.content_hash.clone(), p.places.clone())));
        }
        Ok(self.committed(key)?.map(|m| {
            let places = places_of(&m);
            (m.content_hash, places)
        }))
    }

    /// Adds or merges `doc`, found at `location` with Maildir `flags`. The
    /// writer keeps `doc` (shared, not copied) among the documents written last.
    pub fn upsert(
        &mut self,
        doc: &Arc<MailDoc>,
        location: &Location,
        flags: &str,
    ) -> Result<Outcome, IndexError> {
        let place = Place {
            stable_key: location.stable_key(),
            uri: location.to_uri(),
            list: doc.list.clone().unwrap_or_default(),
        };
        // The Message-ID; when another message holds it, the content hash;
        // when a copy with the same text but other recipients or attachments
        // holds that, the content hash with those. Each is a function of the
        // message alone, so a rebuild keys it the same.
        let keys = super::doc::candidate_keys(doc);
        for doc_key in keys.iter() {
            match self.existing(doc_key)? {
                None => {
                    self.write(doc, doc_key, vec![place], flags)?;
                    return Ok(Outcome::Added);
                }
                Some((hash, mut places)) if same_content(&hash, doc) => {
                    if places.iter().any(|p| p.stable_key == place.stable_key) {
                        return Ok(Outcome::Unchanged);
                    }
                    places.push(place);
                    self.writer
                        .delete_term(key_term(&self.index.fields, doc_key));
                    self.write(doc, doc_key, places, flags)?;
                    return Ok(Outcome::Duplicate);
                }
                Some(_) => {}
            }
        }
        // Every key this content may have is taken by other content: cannot
        // happen but by a SHA-256 collision.
        Ok(Outcome::Duplicate)
    }

    fn write(
        &mut self,
        doc: &Arc<MailDoc>,
        key: &str,
        places: Vec<Place>,
        flags: &str,
    ) -> Result<(), IndexError> {
        let tokens = threading::tokens(doc, key);
        let resolution =
            self.threads
                .resolve(&self.searcher, &self.index.fields, &tokens, &doc.thread_key)?;
        let thread = match resolution {
            Resolution::Join(t) => t,
            Resolution::Merge { winner, losers } => {
                for loser in losers {
                    self.move_conversation(&loser, &winner)?;
                }
                winner
            }
        };
        self.write_filed(doc, key, places, flags, &tokens, &thread)
    }

    fn write_filed(
        &mut self,
        doc: &Arc<MailDoc>,
        key: &str,
        places: Vec<Place>,
        flags: &str,
        tokens: &Tokens,
        thread: &str,
    ) -> Result<(), IndexError> {
        let filing = Filing { thread, tokens };
        let tdoc = to_document(&self.index.fields, doc, key, &places, flags, &filing);
        self.writer.add_document(tdoc)?;
        self.dirty = true;
        for p in &places {
            self.pending_locs
                .insert(p.stable_key.clone(), key.to_string());
        }
        self.threads.record(key, tokens, thread);
        let lower = lowercase_key(key);
        self.recent.put(&lower, doc.clone());
        self.pending.insert(
            lower,
            Pending {
                content_hash: super::doc::identity(doc),
                places,
                flags: flags.to_string(),
                list: doc.list.clone(),
            },
        );
        Ok(())
    }

    /// Moves every document of conversation `loser` into `winner`: each is
    /// re-read from its store and written again (tantivy documents cannot be
    /// changed in place). Merges are rare (a message bridging two
    /// conversations, like a reply that arrives before its parent).
    fn move_conversation(&mut self, loser: &str, winner: &str) -> Result<(), IndexError> {
        let f = self.index.fields.clone();
        let mut members: Vec<(String, Vec<Place>, String, Option<String>)> = Vec::new();
        for key in self.threads.rename(loser, winner) {
            if let Some(p) = self.pending.get(&lowercase_key(&key)) {
                members.push((key, p.places.clone(), p.flags.clone(), p.list.clone()));
            }
        }
        for addr in threading::committed_members(&self.searcher, &f, loser)? {
            let m = StoredMessage::load(&self.searcher, &f, addr)?;
            if self.pending.contains_key(&lowercase_key(&m.key)) {
                // Rewritten since the last commit: the pending copy counts.
                continue;
            }
            let places = places_of(&m);
            let list = (!m.list.is_empty()).then(|| m.list.clone());
            members.push((m.key, places, m.flags, list));
        }
        // In store order: a compressed mbox is then read forward once, not
        // decompressed from its start for each member.
        members.sort_by_cached_key(|(_, places, _, _)| store_order(places));
        for (key, places, flags, list) in members {
            let doc = match self.recent.get(&lowercase_key(&key)) {
                Some(doc) => doc,
                None => match reread(&mut self.store, &places, list.as_deref()) {
                    Some(doc) => Arc::new(doc),
                    None => {
                        self.unmoved += 1;
                        continue;
                    }
                },
            };
            self.writer.delete_term(key_term(&f, &key));
            let tokens = threading::tokens(&doc, &key);
            self.write_filed(&doc, &key, places, &flags, &tokens, winner)?;
        }
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
            // A document rewritten since the last commit (another of its
            // locations removed, a copy added) is what it is now, not what
            // was committed: removing two locations before a commit must not
            // bring the first back.
            let current = match self.pending.remove(&lowercase_key(&m.key)) {
                Some(p) => p.places,
                None => places_of(&m),
            };
            let remaining: Vec<Place> = current
                .into_iter()
                .filter(|p| p.stable_key != stable_key)
                .collect();
            self.writer.delete_term(key_term(&f, &m.key));
            self.dirty = true;
            self.pending_locs.remove(stable_key);
            let list = (!m.list.is_empty()).then_some(m.list.as_str());
            match reread(&mut self.store, &remaining, list) {
                Some(doc) => self.write(&Arc::new(doc), &m.key, remaining, &m.flags)?,
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
        self.threads.clear();
        // Files may be rewritten between commits (retention, an MDA): reopen.
        self.store = crate::store::LocationReader::default();
        Ok(())
    }

    /// Waits for background merges and releases the lock.
    pub fn finish(self) -> Result<(), IndexError> {
        self.writer.wait_merging_threads()?;
        Ok(())
    }
}

/// The places of a stored message, each with its copy's list.
fn places_of(m: &StoredMessage) -> Vec<Place> {
    m.locations
        .iter()
        .enumerate()
        .map(|(i, uri)| Place {
            stable_key: Location::from_uri(uri)
                .map(|l| l.stable_key())
                .unwrap_or_else(|_| uri.clone()),
            uri: uri.clone(),
            list: m
                .location_lists
                .get(i)
                .cloned()
                .unwrap_or_else(|| m.list.clone()),
        })
        .collect()
}

/// Where a message's first place is in its store, for reading in file order.
fn store_order(places: &[Place]) -> (String, u64) {
    match places.first().map(|p| Location::from_uri(&p.uri)) {
        Some(Ok(Location::Mbox { path, offset, .. })) => (path.display().to_string(), offset),
        Some(Ok(other)) => (other.to_uri(), 0),
        _ => (String::new(), 0),
    }
}

/// The message at the first readable place, extracted again.
fn reread(
    store: &mut crate::store::LocationReader,
    places: &[Place],
    list: Option<&str>,
) -> Option<MailDoc> {
    places.iter().find_map(|p| {
        let loc = Location::from_uri(&p.uri).ok()?;
        let bytes = store.read(&loc).ok()?;
        let ctx = crate::extract::ExtractContext {
            list: Some(p.list.as_str()).filter(|l| !l.is_empty()).or(list),
            envelope: None,
            pipermail: crate::store::pipermail::is_archive_location(&loc),
        };
        crate::extract::extract(&bytes, &ctx).ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removing_every_location_before_a_commit_removes_the_document() {
        let dir = tempfile::tempdir().expect("tempdir");
        let index = MailIndex::open(&dir.path().join("index"), true).expect("index");
        let mut w = Writer::new(&index, 1).expect("writer");
        let raw = b"From: a@x\nSubject: s\nMessage-ID: <one@x>\n\nbody\n";
        let doc = crate::extract::extract(raw, &Default::default()).expect("doc");
        let mut locs = Vec::new();
        for name in ["1", "2", "3"] {
            let path = dir.path().join(name);
            std::fs::write(&path, raw).expect("write");
            let loc = Location::File { path };
            w.upsert(&Arc::new(doc.clone()), &loc, "").expect("upsert");
            locs.push(loc.stable_key());
        }
        w.commit().expect("commit");
        assert!(!w.remove_location(&locs[0]).expect("remove first"));
        assert!(!w.remove_location(&locs[1]).expect("remove second"));
        w.commit().expect("commit");
        index.reader.reload().expect("reload");
        let searcher = index.reader.searcher();
        assert_eq!(searcher.num_docs(), 1);
        let m = first_live(&searcher, &key_term(&index.fields, "<one@x>"))
            .expect("lookup")
            .map(|a| StoredMessage::load(&searcher, &index.fields, a).expect("load"))
            .expect("the document");
        assert_eq!(
            m.locations.len(),
            1,
            "the first removal stays removed: {:?}",
            m.locations
        );
        assert!(m.locations[0].ends_with("/3"), "{:?}", m.locations);
    }

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
