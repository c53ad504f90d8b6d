//! A process-wide cache of per-segment values, bounded in bytes, that forgets
//! its oldest entries first: what [`super::column_terms`] and
//! [`super::facet_rows`] keep for a long-running server. Segments are
//! immutable and their ids unique, so an entry never goes stale.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::sync::Mutex;

/// Values by key, at most `max` bytes of them (as their inserters count).
pub struct Kept<K, V> {
    max: usize,
    inner: Mutex<Inner<K, V>>,
}

struct Inner<K, V> {
    entries: HashMap<K, (V, usize)>,
    order: VecDeque<K>,
    bytes: usize,
}

impl<K: Hash + Eq + Copy, V: Clone> Kept<K, V> {
    /// An empty cache of at most `max` bytes.
    pub fn new(max: usize) -> Self {
        Kept {
            max,
            inner: Mutex::new(Inner {
                entries: HashMap::new(),
                order: VecDeque::new(),
                bytes: 0,
            }),
        }
    }

    /// The value kept for `key`.
    pub fn get(&self, key: &K) -> Option<V> {
        let inner = self.inner.lock().ok()?;
        inner.entries.get(key).map(|(v, _)| v.clone())
    }

    /// Keeps `value` (of `bytes` bytes) for `key` unless one is kept already,
    /// forgetting the oldest entries to stay within the bound.
    pub fn insert(&self, key: K, value: V, bytes: usize) {
        let Ok(mut c) = self.inner.lock() else {
            return;
        };
        if c.entries.contains_key(&key) {
            return;
        }
        while c.bytes + bytes > self.max {
            let Some(old) = c.order.pop_front() else {
                break;
            };
            if let Some((_, n)) = c.entries.remove(&old) {
                c.bytes -= n;
            }
        }
        c.entries.insert(key, (value, bytes));
        c.order.push_back(key);
        c.bytes += bytes;
    }
}

#[cfg(test)]
mod tests {
    use super::Kept;

    #[test]
    fn the_oldest_entries_go_first_to_stay_within_the_bound() {
        let k: Kept<u32, &str> = Kept::new(10);
        k.insert(1, "a", 4);
        k.insert(2, "b", 4);
        k.insert(2, "c", 4);
        assert_eq!(k.get(&2), Some("b"), "the first value stays");
        k.insert(3, "d", 4);
        assert_eq!(k.get(&1), None);
        assert_eq!((k.get(&2), k.get(&3)), (Some("b"), Some("d")));
    }
}
