//! Every message of the shared corpora (including malformed and adversarial
//! collections), as Maildir and as mbox, is indexed or counted as skipped with
//! a reason: no panic, no hang.

use crate::common::{index_paths, shared_corpora, tempdir};

#[test]
fn every_shared_corpus_message_is_indexed_or_counted() {
    let Some(root) = shared_corpora() else { return };
    let mut names: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .flatten()
        // The folders holding a Maildir + mbox pair (lists/ and pipermail/
        // hold archives as published: tests/threads.rs and others read them).
        .filter(|e| e.path().join("maildir").is_dir())
        .map(|e| e.file_name().to_string_lossy().to_string())
        .collect();
    names.sort();
    assert!(names.len() >= 5);
    for name in names {
        let maildir = root.join(&name).join("maildir");
        let mbox = root.join(&name).join(format!("{name}.mbox"));
        let files = std::fs::read_dir(maildir.join("cur")).unwrap().count() as u64;
        let dir = tempdir();
        let (index, report) = index_paths(dir.path(), &[maildir, mbox]);
        let docs = index.reader.searcher().num_docs();
        assert_eq!(
            report.seen,
            2 * files,
            "{name}: every message of the maildir and the mbox is read"
        );
        assert_eq!(
            report.indexed + report.duplicates + report.skipped_total() + report.unchanged,
            report.seen,
            "{name}: every message accounted for"
        );
        assert_eq!(docs, report.indexed, "{name}");
        // The mbox holds the same messages as the maildir: nothing new from it.
        assert!(
            report.duplicates >= files - report.skipped_total(),
            "{name}: {report:?}"
        );
        eprintln!(
            "{name}: {files} files, {} documents, {} skipped {:?}",
            docs,
            report.skipped_total(),
            report.skipped
        );
    }
}
