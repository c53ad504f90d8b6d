//! The shared real-mail corpora: every folder holds the same messages as a Maildir and
//! as an mboxrd file, so both scans must agree. Skipped (with a notice) when absent.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::store::{detect, read_location, scan, ScanOptions, SourceKind};

fn corpora_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("GLEANER_CORPORA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/work/shared/corpora"));
    dir.is_dir().then_some(dir)
}

/// Message bytes → how often they occur. A message without a final newline gets one,
/// because an mbox writer must add it before the separator and a reader cannot tell.
fn census(path: &std::path::Path, kind: SourceKind) -> (BTreeMap<Vec<u8>, usize>, usize) {
    let mut seen = BTreeMap::new();
    let mut count = 0;
    for (i, item) in scan(path, kind, &ScanOptions::default())
        .unwrap()
        .enumerate()
    {
        let msg = item.unwrap_or_else(|s| panic!("{}: skipped {s:?}", path.display()));
        if i % 97 == 0 {
            assert_eq!(
                read_location(&msg.location).unwrap(),
                msg.bytes,
                "{}",
                msg.location
            );
        }
        let mut bytes = msg.bytes;
        if !bytes.ends_with(b"\n") {
            bytes.push(b'\n');
        }
        *seen.entry(bytes).or_insert(0) += 1;
        count += 1;
    }
    (seen, count)
}

#[test]
fn mbox_and_maildir_agree_on_every_corpus() {
    let Some(root) = corpora_dir() else {
        eprintln!("NOTICE: no corpora directory (set GLEANER_CORPORA); test skipped");
        return;
    };
    let mut checked = 0;
    for entry in std::fs::read_dir(&root).unwrap() {
        let dir = entry.unwrap().path();
        let Some(name) = dir.file_name().and_then(|n| n.to_str()).map(str::to_owned) else {
            continue;
        };
        let mbox = dir.join(format!("{name}.mbox"));
        let maildir = dir.join("maildir");
        if !mbox.is_file() || !maildir.is_dir() {
            continue;
        }
        assert_eq!(detect(&mbox).unwrap(), SourceKind::Mbox, "{name}");
        assert_eq!(detect(&maildir).unwrap(), SourceKind::Maildir, "{name}");
        let files = std::fs::read_dir(maildir.join("cur")).unwrap().count();
        let (from_mbox, mbox_count) = census(&mbox, SourceKind::Mbox);
        let (from_maildir, maildir_count) = census(&maildir, SourceKind::Maildir);
        assert_eq!(maildir_count, files, "{name}: maildir scan");
        assert_eq!(mbox_count, files, "{name}: mbox message count");
        let differing = from_mbox
            .iter()
            .filter(|(k, v)| from_maildir.get(*k) != Some(v))
            .count();
        assert_eq!(
            differing, 0,
            "{name}: {differing} mbox messages differ from the maildir copies"
        );
        checked += 1;
    }
    assert!(checked > 0, "no corpus folders in {}", root.display());
}
