//! Access follows the copy: random messages delivered to random lists (the
//! same Message-ID with the same or other text and attachments, on one list
//! or several), indexed, then searched under random grants. What the query
//! layer answers — hits, the lists and locations a hit shows, the bytes read
//! through those locations, list facets, a message looked up by id — equals a
//! brute-force filter over the copies the reader may read.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use gleaner::query::{self, Request, Sort};
use proptest::prelude::*;

use crate::common::{index_paths, tempdir};

const LISTS: [&str; 3] = ["a.lists.example", "b.lists.example", "c.lists.example"];

/// One delivered copy: which message, which text and attachment variant, on
/// which list.
#[derive(Debug, Clone)]
struct Arrival {
    msg: usize,
    text: usize,
    attach: usize,
    list: usize,
}

/// What a reader sees of a copy: (Message-ID, text variant, attachment variant).
type Identity = (String, usize, usize);

fn identity(a: &Arrival) -> Identity {
    (format!("m{}@example.org", a.msg), a.text, a.attach)
}

fn message(a: &Arrival, n: usize) -> String {
    let list = LISTS[a.list];
    let mut m = format!(
        "From: Ann <ann@example.org>\nTo: team@example.org\nList-Id: <{list}>\n\
         Subject: zebra report {}\nDate: Mon, 2 Mar 2015 10:00:00 +0000\n\
         Message-ID: <m{}@example.org>\nReceived: by mx{n}.example.org; Mon, 2 Mar 2015 10:0{}:00 +0000\n",
        a.msg,
        a.msg,
        n % 10
    );
    let body = format!("zebra text variant {} of message {}\n", a.text, a.msg);
    if a.attach == 0 {
        m.push_str(&format!("\n{body}"));
    } else {
        m.push_str(&format!(
            "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"b{n}\"\n\n\
             --b{n}\nContent-Type: text/plain\n\n{body}\n\
             --b{n}\nContent-Type: application/octet-stream; name=\"secret{}.bin\"\n\
             Content-Disposition: attachment; filename=\"secret{}.bin\"\n\n{}\n--b{n}--\n",
            a.attach,
            a.attach,
            "x".repeat(a.attach * 10)
        ));
    }
    m
}

/// The identity of raw bytes read back through a location.
fn identity_of_bytes(raw: &[u8]) -> Identity {
    let text = String::from_utf8_lossy(raw);
    let id = text
        .lines()
        .find_map(|l| l.strip_prefix("Message-ID: <"))
        .and_then(|l| l.strip_suffix('>'))
        .unwrap_or_default()
        .to_string();
    let variant = text
        .lines()
        .find_map(|l| l.strip_prefix("zebra text variant "))
        .and_then(|l| l.split(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(99);
    let attach = (1..4)
        .find(|k| text.contains(&format!("filename=\"secret{k}.bin\"")))
        .unwrap_or(0);
    (id, variant, attach)
}

fn list_of_location(uri: &str) -> usize {
    LISTS
        .iter()
        .position(|l| uri.contains(&format!("/{l}/")))
        .expect("a location under a list's maildir")
}

fn deliver(root: &Path, arrivals: &[Arrival]) {
    for l in LISTS {
        for sub in ["cur", "new", "tmp"] {
            std::fs::create_dir_all(root.join(l).join(sub)).unwrap();
        }
    }
    for (n, a) in arrivals.iter().enumerate() {
        let path = root
            .join(LISTS[a.list])
            .join("cur")
            .join(format!("{n:03}:2,S"));
        std::fs::write(path, message(a, n)).unwrap();
    }
}

fn arrival() -> impl Strategy<Value = Arrival> {
    (0..4usize, 0..2usize, 0..3usize, 0..3usize).prop_map(|(msg, text, attach, list)| Arrival {
        msg,
        text,
        attach,
        list,
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn every_answer_equals_a_filter_over_the_readable_copies(
        arrivals in prop::collection::vec(arrival(), 1..10),
        grants in prop::collection::vec(prop::sample::subsequence(vec![0usize, 1, 2], 0..=3), 1..4),
    ) {
        let dir = tempdir();
        let mail = dir.path().join("mail");
        deliver(&mail, &arrivals);
        let paths: Vec<_> = LISTS.iter().map(|l| mail.join(l)).collect();
        let (index, _) = index_paths(dir.path(), &paths);
        for grant in grants {
            let allowed: Vec<String> = grant.iter().map(|&i| LISTS[i].to_string()).collect();
            // The oracle: identities with a copy on a granted list, and per
            // granted list the identities with a copy there.
            let mut expected: BTreeSet<Identity> = BTreeSet::new();
            let mut per_list: BTreeMap<String, BTreeSet<Identity>> = BTreeMap::new();
            for a in arrivals.iter().filter(|a| grant.contains(&a.list)) {
                expected.insert(identity(a));
                per_list.entry(LISTS[a.list].to_string()).or_default().insert(identity(a));
            }
            let req = Request {
                query: "zebra".into(),
                limit: 100,
                offset: 0,
                sort: Sort::Relevance,
                now: 2_000_000_000,
                allowed_lists: Some(allowed.clone()),
                marks: None,
            };
            let mut seen: BTreeSet<Identity> = BTreeSet::new();
            query::for_each_match(&index, &req, |m| {
                assert!(!m.locations.is_empty(), "a visible hit has a readable copy: {m:?}");
                assert!(allowed.contains(&m.list), "shown list {} under {allowed:?}", m.list);
                for l in &m.lists {
                    assert!(allowed.contains(l), "list {l} leaks under {allowed:?}");
                }
                let mut ids = BTreeSet::new();
                for uri in &m.locations {
                    assert!(grant.contains(&list_of_location(uri)), "{uri} under {allowed:?}");
                    let bytes = gleaner::store::read_first(std::slice::from_ref(uri)).unwrap();
                    ids.insert(identity_of_bytes(&bytes));
                }
                assert_eq!(ids.len(), 1, "the copies of one document look alike: {ids:?}");
                seen.extend(ids);
                true
            }).unwrap();
            prop_assert_eq!(&seen, &expected, "hits under {:?}", allowed);

            let results = query::search(&index, &req).unwrap();
            prop_assert_eq!(results.total, expected.len());
            let facets = query::facets::facets(&index, &req).unwrap();
            let got: BTreeMap<String, u64> =
                facets.list.iter().map(|f| (f.value.clone(), f.count)).collect();
            let want: BTreeMap<String, u64> =
                per_list.iter().map(|(l, s)| (l.clone(), s.len() as u64)).collect();
            prop_assert_eq!(got, want, "list facets under {:?}", allowed);

            for msg in 0..4 {
                let id = format!("m{msg}@example.org");
                let found = query::find_visible_message(&index, &id, Some(&allowed)).unwrap();
                let visible = expected.iter().any(|e| e.0 == id);
                prop_assert_eq!(found.is_some(), visible, "{} under {:?}", id, allowed);
                if let Some(m) = found {
                    for uri in &m.locations {
                        prop_assert!(grant.contains(&list_of_location(uri)));
                    }
                }
            }
        }
    }
}
