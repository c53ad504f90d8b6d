//! A cache of whole `/api/search` answers, like Elasticsearch's shard request cache or
//! Solr's query result cache: the same query from the same kind of reader against the same
//! index commit gets the answer computed the first time.
//!
//! An entry is only ever found again while nothing it depends on can have changed:
//!
//! * the index: the key holds the searcher generation, which changes with every commit the
//!   reader picks up (new mail, a rebuild, archiving), so older entries simply stop matching
//!   (and are the first to go when the cache is full);
//! * who asks: the key holds the lists the viewer may see (`None` = every list), so an
//!   answer is never shared between viewers with different grants;
//! * the clock: the key holds the minute, so `older:6y` and `newer:30d` move on;
//! * review and archive state: an answer whose query used `is:` or `cited:` is not cached
//!   at all (see [`Watched`]).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::query::marks::{Mark, Marks};
use crate::query::{Request, Sort};

/// Entries kept by default (`[http] search_cache` in the config).
pub const DEFAULT_ENTRIES: usize = 256;

/// What identifies one answer.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    generation: u64,
    minute: i64,
    query: String,
    limit: usize,
    offset: usize,
    sort: u8,
    lists: Option<Vec<String>>,
    grouped: bool,
}

impl Key {
    /// The key of `req` against the index commit `generation`.
    pub fn new(req: &Request, generation: u64) -> Key {
        let lists = req.allowed_lists.as_ref().map(|set| {
            let mut v: Vec<String> = set.to_vec();
            v.sort();
            v
        });
        Key {
            generation,
            minute: req.now.div_euclid(60),
            query: req.query.clone(),
            limit: req.limit,
            offset: req.offset,
            sort: match req.sort {
                Sort::Relevance => 0,
                Sort::Date => 1,
                Sort::Oldest => 2,
            },
            lists,
            grouped: false,
        }
    }

    /// The same key for the answer grouped by conversation.
    pub fn grouped(mut self) -> Key {
        self.grouped = true;
        self
    }
}

/// A bounded map of answers; the oldest entry goes first when it is full.
pub struct SearchCache<V> {
    capacity: usize,
    inner: Mutex<Inner<V>>,
    hits: AtomicU64,
    misses: AtomicU64,
}

struct Inner<V> {
    map: HashMap<Key, Arc<V>>,
    order: VecDeque<Key>,
}

impl<V> SearchCache<V> {
    /// A cache of at most `capacity` answers; 0 turns it off.
    pub fn new(capacity: usize) -> SearchCache<V> {
        SearchCache {
            capacity,
            inner: Mutex::new(Inner {
                map: HashMap::new(),
                order: VecDeque::new(),
            }),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner<V>> {
        match self.inner.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// The answer stored under `key` (counted as a hit or a miss; with the
    /// cache off every lookup is a miss).
    pub fn get(&self, key: &Key) -> Option<Arc<V>> {
        let found = if self.capacity == 0 {
            None
        } else {
            self.lock().map.get(key).cloned()
        };
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// Lookups so far: (hits, misses).
    pub fn lookups(&self) -> (u64, u64) {
        (
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
        )
    }

    /// Stores an answer; entries of older index generations go first, then the oldest.
    pub fn put(&self, key: Key, value: Arc<V>) {
        if self.capacity == 0 {
            return;
        }
        let mut inner = self.lock();
        if inner.map.len() >= self.capacity {
            let current = key.generation;
            let Inner { map, order } = &mut *inner;
            order.retain(|k| k.generation == current || map.remove(k).is_none());
        }
        while inner.map.len() >= self.capacity {
            let Some(oldest) = inner.order.pop_front() else {
                break;
            };
            inner.map.remove(&oldest);
        }
        if inner.map.insert(key.clone(), value).is_none() {
            inner.order.push_back(key);
        }
    }

    /// How many answers are stored.
    pub fn len(&self) -> usize {
        self.lock().map.len()
    }

    /// Whether no answer is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Passes `is:` and `cited:` through to the real marks and remembers that it was asked:
/// such an answer depends on review and archive state, which the cache key does not hold.
pub struct Watched {
    inner: Arc<dyn Marks>,
    asked: AtomicBool,
}

impl Watched {
    /// Watches `inner`.
    pub fn new(inner: Arc<dyn Marks>) -> Arc<Watched> {
        Arc::new(Watched {
            inner,
            asked: AtomicBool::new(false),
        })
    }

    /// Whether the query asked for any mark.
    pub fn asked(&self) -> bool {
        self.asked.load(Ordering::Relaxed)
    }
}

impl Marks for Watched {
    fn is(&self, name: &str) -> Result<Option<Mark>, String> {
        self.asked.store(true, Ordering::Relaxed);
        self.inner.is(name)
    }

    fn cited(&self, doc: &str) -> Result<Option<Vec<String>>, String> {
        self.asked.store(true, Ordering::Relaxed);
        self.inner.cited(doc)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn req(q: &str, lists: Option<&[&str]>) -> Request {
        Request {
            query: q.into(),
            limit: 20,
            offset: 0,
            sort: Sort::Relevance,
            now: 1_700_000_000,
            allowed_lists: lists.map(|l| l.iter().map(|s| s.to_string()).collect()),
            marks: None,
        }
    }

    #[test]
    fn keys_differ_by_generation_grants_sort_page_and_minute() {
        let base = Key::new(&req("a", Some(&["x", "y"])), 1);
        assert_eq!(base, Key::new(&req("a", Some(&["y", "x"])), 1));
        assert_ne!(base, Key::new(&req("a", Some(&["x", "y"])), 2));
        assert_ne!(base, Key::new(&req("a", Some(&["x"])), 1));
        assert_ne!(base, Key::new(&req("a", None), 1));
        assert_ne!(base, Key::new(&req("b", Some(&["x", "y"])), 1));
        let mut r = req("a", Some(&["x", "y"]));
        r.sort = Sort::Date;
        assert_ne!(base, Key::new(&r, 1));
        let mut r = req("a", Some(&["x", "y"]));
        r.offset = 20;
        assert_ne!(base, Key::new(&r, 1));
        let mut r = req("a", Some(&["x", "y"]));
        r.now += 60;
        assert_ne!(base, Key::new(&r, 1));
    }

    #[test]
    fn bounded_and_older_generations_go_first() {
        let cache = SearchCache::new(3);
        for (i, q) in ["a", "b", "c"].iter().enumerate() {
            cache.put(Key::new(&req(q, None), 1), Arc::new(i));
        }
        cache.put(Key::new(&req("a", None), 2), Arc::new(10));
        assert_eq!(cache.len(), 1, "entries of generation 1 were dropped");
        assert_eq!(*cache.get(&Key::new(&req("a", None), 2)).unwrap(), 10);
        assert!(cache.get(&Key::new(&req("a", None), 1)).is_none());
        for q in ["b", "c", "d"] {
            cache.put(Key::new(&req(q, None), 2), Arc::new(0));
        }
        assert_eq!(cache.len(), 3);
        assert!(
            cache.get(&Key::new(&req("a", None), 2)).is_none(),
            "oldest out"
        );
        assert_eq!(cache.lookups(), (1, 2));
        let off = SearchCache::new(0);
        off.put(Key::new(&req("a", None), 1), Arc::new(1));
        assert!(off.get(&Key::new(&req("a", None), 1)).is_none());
        assert_eq!(off.lookups(), (0, 1));
    }
}
