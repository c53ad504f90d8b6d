//! SEARCHRES (RFC 5182, part of IMAP4rev2): `SEARCH RETURN (SAVE)` keeps its
//! result in the selected mailbox's search result variable, as UIDs, and `$`
//! stands for it wherever a sequence set or `UID` set may be written (FETCH,
//! UID FETCH, SEARCH, SORT, THREAD). The variable lives in the session's
//! [`super::session::Selected`], so SELECT, EXAMINE, UNSELECT and CLOSE reset
//! it to the empty set, which is also what `$` means before any save.
//! Knows nothing of the index or the store.

use super::parser::Range;
use super::search::Key;

/// `key` with every `$` replaced by the saved UIDs `saved` (ascending).
pub(super) fn substitute(key: Key, saved: &[u32]) -> Key {
    match key {
        Key::Saved if saved.is_empty() => Key::Nothing,
        Key::Saved => Key::Uid(runs(saved)),
        Key::And(keys) => Key::And(keys.into_iter().map(|k| substitute(k, saved)).collect()),
        Key::Or(a, b) => Key::Or(
            Box::new(substitute(*a, saved)),
            Box::new(substitute(*b, saved)),
        ),
        Key::Not(k) => Key::Not(Box::new(substitute(*k, saved))),
        other => other,
    }
}

/// Ascending UIDs as ranges of consecutive UIDs.
fn runs(uids: &[u32]) -> Vec<Range> {
    let mut out: Vec<Range> = Vec::new();
    for &u in uids {
        match out.last_mut() {
            Some((_, hi)) if hi.checked_add(1) == Some(u) => *hi = u,
            _ => out.push((u, u)),
        }
    }
    out
}

/// The 0-based positions in `mailbox` of the saved UIDs still in it.
pub(super) fn positions(mailbox: &[u32], saved: &[u32]) -> Vec<usize> {
    saved
        .iter()
        .filter_map(|u| mailbox.binary_search(u).ok())
        .collect()
}

/// What `RETURN (SAVE ...)` keeps of `found` (ascending UIDs): with MIN
/// and/or MAX but neither ALL nor COUNT, only those messages (RFC 5182 §2.4);
/// otherwise all of them.
pub(super) fn to_save(found: &[u32], opts: &[String]) -> Vec<u32> {
    let has = |o: &str| opts.iter().any(|x| x == o);
    if (has("MIN") || has("MAX")) && !has("ALL") && !has("COUNT") {
        let mut out = Vec::new();
        if has("MIN") {
            out.extend(found.first());
        }
        if has("MAX") {
            out.extend(found.last());
        }
        out.dedup();
        return out;
    }
    found.to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_and_saved_min_max() {
        assert_eq!(runs(&[1, 2, 3, 7, 9, 10]), vec![(1, 3), (7, 7), (9, 10)]);
        assert_eq!(to_save(&[4, 5, 6], &["MIN".into()]), vec![4]);
        assert_eq!(
            to_save(&[4, 5, 6], &["MIN".into(), "MAX".into()]),
            vec![4, 6]
        );
        assert_eq!(to_save(&[4], &["MIN".into(), "MAX".into()]), vec![4]);
        assert_eq!(
            to_save(&[4, 5], &["MAX".into(), "COUNT".into()]),
            vec![4, 5]
        );
        assert!(matches!(substitute(Key::Saved, &[]), Key::Nothing));
        assert_eq!(positions(&[2, 4, 6], &[4, 5, 6]), vec![1, 2]);
    }
}
