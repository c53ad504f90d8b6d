//! The index writer against an in-memory model: random sequences of upserts,
//! commits and crashes (dropping the writer without commit), then the index
//! must hold exactly the committed messages, each once, with its locations.

use std::collections::{BTreeMap, BTreeSet};

use gleaner::extract::{extract, ExtractContext, MailDoc};
use gleaner::index::doc::StoredMessage;
use gleaner::index::writer::Writer;
use gleaner::index::MailIndex;
use gleaner::store::Location;
use proptest::prelude::*;
use tantivy::collector::DocSetCollector;
use tantivy::query::AllQuery;

use crate::common::tempdir;

/// Six messages; 4 and 5 reuse the Message-IDs of 0 and 1 with other content.
fn message(i: usize) -> MailDoc {
    let id = i % 4;
    let raw = format!(
        "Message-ID: <m{id}@example.org>\nFrom: a{i}@example.org\nSubject: s{i}\nDate: Mon, 1 Jan 2018 00:00:0{i} +0000\n\nbody {i}\n"
    );
    extract(
        raw.as_bytes(),
        &ExtractContext {
            list: None,
            envelope: None,
            ..ExtractContext::default()
        },
    )
    .unwrap()
}

#[derive(Debug, Clone)]
enum Op {
    Upsert { loc: usize },
    Commit,
    Crash,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0usize..18).prop_map(|loc| Op::Upsert { loc }),
        2 => Just(Op::Commit),
        1 => Just(Op::Crash),
    ]
}

/// Location `l` always holds message `l % 6`, as a real file would: three
/// locations per message, so a third copy meets a document rewritten before.
fn location(l: usize) -> Location {
    Location::File {
        path: format!("/nonexistent/loc{l}").into(),
    }
}

fn index_state(index: &MailIndex) -> BTreeMap<String, BTreeSet<String>> {
    index.reader.reload().unwrap();
    let searcher = index.reader.searcher();
    let mut out = BTreeMap::new();
    for a in searcher.search(&AllQuery, &DocSetCollector).unwrap() {
        let m = StoredMessage::load(&searcher, &index.fields, a).unwrap();
        let locs: BTreeSet<String> = m.locations.into_iter().collect();
        assert!(
            out.insert(m.subject.clone(), locs).is_none(),
            "message {} twice",
            m.subject
        );
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
    #[test]
    fn writer_matches_model(ops in proptest::collection::vec(op(), 1..40)) {
        let dir = tempdir();
        let path = dir.path().join("index");
        let index = MailIndex::open(&path, true).unwrap();
        let mut writer = Some(Writer::new(&index, 1).unwrap());
        // model: subject -> locations, committed and pending
        let mut committed: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let mut pending = committed.clone();
        for op in ops {
            match op {
                Op::Upsert { loc } => {
                    let doc = std::sync::Arc::new(message(loc % 6));
                    let w = writer.get_or_insert_with(|| Writer::new(&index, 1).unwrap());
                    w.upsert(&doc, &location(loc), "").unwrap();
                    pending.entry(doc.subject.clone()).or_default().insert(location(loc).to_uri());
                }
                Op::Commit => {
                    if let Some(w) = writer.as_mut() {
                        w.commit().unwrap();
                    }
                    committed = pending.clone();
                }
                Op::Crash => {
                    drop(writer.take());
                    pending = committed.clone();
                }
            }
        }
        drop(writer);
        let reopened = MailIndex::open(&path, false).unwrap();
        prop_assert_eq!(index_state(&reopened), committed);
    }
}
