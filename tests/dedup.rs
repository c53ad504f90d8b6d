//! The same messages in a Maildir and in an mbox (with CRLF line endings and
//! mboxrd quoting) are one document each, with two locations; duplicates are counted.

use std::io::Write;
use std::path::Path;

use gleaner::query::{self, Request, Sort};

use crate::common::{index_paths, sample, tempdir};

/// Writes every message of a maildir (cur/ and new/) into an mboxrd file with CRLF line endings.
fn maildir_to_crlf_mbox(maildir: &Path, mbox: &Path) -> usize {
    let mut files: Vec<_> = ["cur", "new"]
        .iter()
        .flat_map(|d| std::fs::read_dir(maildir.join(d)).unwrap().flatten())
        .map(|e| e.path())
        .collect();
    files.sort();
    let mut out = std::fs::File::create(mbox).unwrap();
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        out.write_all(b"From gleaner-test Mon Jan  1 00:00:00 2001\r\n")
            .unwrap();
        let text = bytes.split(|&b| b == b'\n');
        for line in text {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let unquoted = line.iter().position(|&b| b != b'>').unwrap_or(line.len());
            if line[unquoted..].starts_with(b"From ") {
                out.write_all(b">").unwrap();
            }
            out.write_all(line).unwrap();
            out.write_all(b"\r\n").unwrap();
        }
        out.write_all(b"\r\n").unwrap();
    }
    files.len()
}

#[test]
fn maildir_and_mbox_of_the_same_messages_dedup() {
    let dir = tempdir();
    let maildir = sample().join("dev");
    let mbox = dir.path().join("dev-copy.mbox");
    let n = maildir_to_crlf_mbox(&maildir, &mbox);
    assert!(n > 100);

    let only = tempdir();
    let (alone, first) = index_paths(only.path(), std::slice::from_ref(&maildir));
    let docs_alone = alone.reader.searcher().num_docs();

    let both = tempdir();
    let (index, report) = index_paths(both.path(), &[maildir, mbox]);
    assert_eq!(
        index.reader.searcher().num_docs(),
        docs_alone,
        "no extra documents"
    );
    assert_eq!(
        report.duplicates,
        first.duplicates + n as u64,
        "every mbox message counted as a duplicate"
    );

    // A message found in both places lists both locations.
    let res = query::search(
        &index,
        &Request {
            query: "list:dev".into(),
            limit: 50,
            offset: 0,
            sort: Sort::Date,
            now: 0,
            allowed_lists: None,
            marks: None,
        },
    )
    .unwrap();
    assert!(!res.hits.is_empty());
    for hit in &res.hits {
        let locs = &hit.message.locations;
        assert!(locs.iter().any(|l| l.starts_with("file:")), "{locs:?}");
        assert!(locs.iter().any(|l| l.starts_with("mbox:")), "{locs:?}");
    }
}
