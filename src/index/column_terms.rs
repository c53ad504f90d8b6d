//! The term dictionaries of small fast text columns (`list`, `from_addr`,
//! `thread`), read whole once per segment and kept for later searches.
//!
//! A fast text column stores term ordinals; turning an ordinal back into its
//! text decompresses a dictionary block. A search answer needs a few dozen
//! such texts (each hit's thread, every list and sender of the facets), so
//! without this cache one search decompresses dozens of blocks. Segments are
//! immutable and their ids unique, so an entry never goes stale; the cache is
//! bounded in bytes and forgets its oldest entries first. Columns of more
//! than [`MAX_TERMS`] terms are never cached (the callers fall back to the
//! dictionary).
//!
//! Reading a whole dictionary costs more than the few lookups of one search,
//! so only long-running processes (`serve`, `mcp`) turn the cache on with
//! [`keep`]; a one-shot command reads the dictionary as it needs.
//!
//! Knows nothing of queries or of what the texts mean.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use tantivy::columnar::StrColumn;
use tantivy::SegmentReader;

use super::kept::Kept;

/// Columns with more terms than this are not cached.
pub const MAX_TERMS: usize = 1 << 16;

/// Bytes of term text the cache holds at most (all indexes of the process).
const MAX_BYTES: usize = 64 << 20;

/// One segment column's terms, by ordinal.
pub type Terms = Arc<[Box<str>]>;

type Key = (tantivy::index::SegmentId, &'static str);

static KEEP: AtomicBool = AtomicBool::new(false);

/// Turns the cache on for the rest of the process (a server answering many
/// searches).
pub fn keep() {
    KEEP.store(true, Ordering::Relaxed);
}

/// Did this process turn the caches on ([`keep`])?
pub fn kept() -> bool {
    KEEP.load(Ordering::Relaxed)
}

fn cache() -> &'static Kept<Key, Terms> {
    static CACHE: OnceLock<Kept<Key, Terms>> = OnceLock::new();
    CACHE.get_or_init(|| Kept::new(MAX_BYTES))
}

/// The terms of `segment`'s column `field` (already opened as `column`), by
/// ordinal; `None` for a column too large to keep or a dictionary that cannot
/// be read, or when the cache is off (the caller then reads the dictionary
/// itself).
pub fn terms(segment: &SegmentReader, field: &'static str, column: &StrColumn) -> Option<Terms> {
    if !KEEP.load(Ordering::Relaxed) || column.num_terms() > MAX_TERMS {
        return None;
    }
    let key = (segment.segment_id(), field);
    if let Some(terms) = cache().get(&key) {
        return Some(terms);
    }
    let mut all = Vec::with_capacity(column.num_terms());
    let mut bytes = 0;
    let mut stream = column.dictionary().stream().ok()?;
    while stream.advance() {
        let text: Box<str> = String::from_utf8_lossy(stream.key()).into();
        bytes += text.len() + std::mem::size_of::<Box<str>>();
        all.push(text);
    }
    if all.len() != column.num_terms() {
        return None;
    }
    let terms: Terms = all.into();
    cache().insert(key, terms.clone(), bytes);
    Some(terms)
}
