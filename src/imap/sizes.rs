//! STATUS SIZE (RFC 8438): the sum of the RFC822.SIZE values FETCH reports
//! for a mailbox's messages, i.e. their sizes with bare LF made CRLF. The
//! index stores sizes as received (before that conversion), so each
//! message's CRLF size is measured once, by reading it as FETCH does (the
//! mailbox's own list's copy first), and kept in memory per (list, grants),
//! shared by every connection and every mailbox that reads copies the same
//! way: a later STATUS reads only messages it has not measured yet.
//! Knows nothing of the protocol's syntax.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::{Imap, ImapError};

/// UID-sorted `(uid, CRLF size)` pairs (8 bytes a message).
type Measured = Arc<Vec<(u32, u32)>>;

/// Measured CRLF sizes by (list, grants).
#[derive(Default)]
pub struct Sizes {
    by_reading: Mutex<HashMap<String, Measured>>,
}

impl Sizes {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Measured>> {
        match self.by_reading.lock() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        }
    }
}

/// The sum of the RFC822.SIZE values of `uids` (ascending) as FETCH in a
/// mailbox of `list` reports them to a user allowed `allowed`: a message
/// that cannot be read counts 0, as its RFC822.SIZE is 0.
pub fn total(
    imap: &Imap,
    uids: &[u32],
    allowed: Option<&[String]>,
    list: Option<&str>,
) -> Result<u64, ImapError> {
    let key = format!("{list:?}|{allowed:?}");
    let known = imap
        .uids
        .sizes
        .lock()
        .get(&key)
        .cloned()
        .unwrap_or_default();
    let mut total = 0u64;
    let mut fresh: Vec<(u32, u32)> = Vec::new();
    let mut reader = crate::store::LocationReader::default();
    let mut k = 0;
    for &uid in uids {
        while known.get(k).is_some_and(|&(u, _)| u < uid) {
            k += 1;
        }
        if let Some(&(u, size)) = known.get(k) {
            if u == uid {
                total += u64::from(size);
                continue;
            }
        }
        // A message that cannot be read is FETCHed with RFC822.SIZE 0: kept
        // as 0 too, so that STATUS does not retry it every time.
        if let Some((_, bytes)) = super::fetch::load(imap, uid, allowed, list, &mut reader, true)? {
            let size = bytes.map_or(0, |b| u32::try_from(b.len()).unwrap_or(u32::MAX));
            total += u64::from(size);
            fresh.push((uid, size));
        }
    }
    if !fresh.is_empty() {
        let mut map = imap.uids.sizes.lock();
        let now = map.get(&key).cloned().unwrap_or_default();
        let mut merged: Vec<(u32, u32)> = Vec::with_capacity(now.len() + fresh.len());
        merged.extend(now.iter().copied());
        merged.extend(fresh);
        merged.sort_unstable_by_key(|&(u, _)| u);
        merged.dedup_by_key(|&mut (u, _)| u);
        map.insert(key, Arc::new(merged));
    }
    Ok(total)
}
