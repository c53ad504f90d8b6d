//! A mailbox's UID array is shared by the connections that have it open
//! while the index is unchanged (per-connection memory independent of the
//! mailbox's size), and made anew when the index changes.

use std::sync::Arc;

use gleaner::imap::Uids;
use gleaner::query::mailbox::Scope;

use super::DEV;
use crate::common;

#[test]
fn mailbox_uid_arrays_are_shared_until_the_index_changes() {
    let dir = common::tempdir();
    let data = dir.path();
    let dev = common::sample().join("dev");
    let (index, _) = common::index_paths(data, &[dev]);
    let uids = Uids::open(data).expect("uids");
    uids.sync(&index).expect("sync");
    let inbox = Scope::default();
    let a = uids.mailbox(&index, &inbox).expect("inbox");
    let b = uids.mailbox(&index, &inbox).expect("inbox");
    assert!(!a.is_empty());
    assert!(Arc::ptr_eq(&a, &b), "one array for both connections");
    let grants = Scope {
        allowed: Some(vec![DEV.into()]),
        ..Scope::default()
    };
    let c = uids.mailbox(&index, &grants).expect("granted");
    assert!(!Arc::ptr_eq(&a, &c), "other grants, another array");
    assert_eq!(*a, *c, "with the same messages");
    let saved = Scope {
        query: Some("subject:deprecating".into()),
        ..Scope::default()
    };
    let s1 = uids.mailbox(&index, &saved).expect("saved");
    let s2 = uids.mailbox(&index, &saved).expect("saved");
    assert!(!Arc::ptr_eq(&s1, &s2), "saved searches are not shared");
    assert!(s1.len() < a.len());
    // More mail indexed: a new array with the new messages.
    drop(index);
    let (index, _) = common::index_paths(data, &[common::sample().join("ops")]);
    uids.sync(&index).expect("sync");
    let d = uids.mailbox(&index, &inbox).expect("inbox");
    assert!(!Arc::ptr_eq(&a, &d));
    assert!(d.len() > a.len(), "{} > {}", d.len(), a.len());
    // Nobody holds the old one any more: it is gone, not kept.
    drop((a, b, c));
    let e = uids.mailbox(&index, &inbox).expect("inbox");
    assert!(Arc::ptr_eq(&d, &e));
}
