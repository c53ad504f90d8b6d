//! Mailman 2 text archives (`2005-March.txt.gz`) from the shared corpora:
//! senders searchable by their real address, one list per archive, stable
//! keys across rebuilds. What is expected is counted here from the raw files
//! with a reader of its own, not with gleaner's code.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};

use gleaner::index::doc::StoredMessage;
use gleaner::index::MailIndex;
use gleaner::query::{self, Request};

use crate::common::{index_paths, shared_corpora, tempdir};

/// One message of a raw archive, as this test reads it.
struct RawMessage {
    /// The `From:` header's address, restored from `x at y` (domain lowercased).
    from: Option<String>,
    message_id: Option<String>,
}

/// The archives, or `None` (with a notice; a failure under CI) when absent.
fn archives() -> Option<(PathBuf, PathBuf)> {
    let root = shared_corpora()?.join("pipermail");
    let (fetchmail, gpsd) = (root.join("fetchmail-users"), root.join("gpsd-dev"));
    if fetchmail.is_dir() && gpsd.is_dir() {
        // Canonical, as the index records locations.
        let canonical = |p: PathBuf| std::fs::canonicalize(p).unwrap();
        return Some((canonical(fetchmail), canonical(gpsd)));
    }
    assert!(
        std::env::var("CI").map_or(true, |v| v != "true"),
        "{} is missing under CI",
        root.display()
    );
    eprintln!(
        "NOTICE: {} is absent; pipermail tests skipped",
        root.display()
    );
    None
}

/// `From sender  Www Mmm dd hh:mm:ss yyyy`, at the start or after a blank line.
fn is_separator(line: &str) -> bool {
    let Some(rest) = line.strip_prefix("From ") else {
        return false;
    };
    let Some((_, date)) = rest.split_once("  ") else {
        return false;
    };
    let words: Vec<&str> = date.split_whitespace().collect();
    words.len() == 5
        && words[3].len() == 8
        && words[3].matches(':').count() == 2
        && words[4].len() == 4
        && words[4].bytes().all(|b| b.is_ascii_digit())
}

/// Every message of every `.txt.gz` in `dir`.
fn read_archive(dir: &Path) -> Vec<RawMessage> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".txt.gz"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let mut bytes = Vec::new();
        flate2::read::GzDecoder::new(std::fs::File::open(&f).unwrap())
            .read_to_end(&mut bytes)
            .unwrap();
        let text = String::from_utf8_lossy(&bytes);
        let (mut after_blank, mut in_headers) = (true, false);
        for line in text.split('\n') {
            if after_blank && is_separator(line) {
                out.push(RawMessage {
                    from: None,
                    message_id: None,
                });
                in_headers = true;
            } else if in_headers && line.is_empty() {
                in_headers = false;
            } else if let (true, Some(m)) = (in_headers, out.last_mut()) {
                if let Some(v) = line.strip_prefix("From: ") {
                    let mut words = v.split(' ');
                    if let (Some(local), Some("at"), Some(domain)) =
                        (words.next(), words.next(), words.next())
                    {
                        m.from = Some(format!("{local}@{}", domain.to_lowercase()));
                    }
                } else if let Some(v) = line.strip_prefix("Message-ID: ") {
                    m.message_id = Some(v.trim().to_string());
                }
            }
            after_blank = line.is_empty();
        }
    }
    out
}

fn request(q: &str, limit: usize) -> Request {
    Request {
        limit,
        ..Request::new(q)
    }
}

fn total(index: &MailIndex, q: &str) -> usize {
    query::search(index, &request(q, 0))
        .unwrap_or_else(|e| panic!("{q}: {e}"))
        .total
}

/// Every stored document.
fn all_docs(index: &MailIndex) -> Vec<StoredMessage> {
    use tantivy::collector::DocSetCollector;
    use tantivy::query::AllQuery;
    let searcher = index.reader.searcher();
    let addrs = searcher.search(&AllQuery, &DocSetCollector).unwrap();
    addrs
        .into_iter()
        .map(|a| StoredMessage::load(&searcher, &index.fields, a).unwrap())
        .collect()
}

/// Distinct messages (by Message-ID; one without counts alone) of `raw`.
fn distinct<'a>(raw: impl Iterator<Item = &'a RawMessage>) -> usize {
    let mut ids = BTreeSet::new();
    let mut without = 0;
    for m in raw {
        match &m.message_id {
            Some(id) => {
                ids.insert(id.to_lowercase());
            }
            None => without += 1,
        }
    }
    ids.len() + without
}

#[test]
fn pipermail_archives_are_searchable_by_real_address_under_one_list() {
    let Some((fetchmail, gpsd)) = archives() else {
        return;
    };
    let raw_fetchmail = read_archive(&fetchmail);
    let raw_gpsd = read_archive(&gpsd);
    assert!(raw_fetchmail.len() > 3000 && raw_gpsd.len() > 9000);

    let dir = tempdir();
    let (index, report) = index_paths(dir.path(), &[fetchmail.clone(), gpsd.clone()]);
    assert_eq!(
        report.seen as usize,
        raw_fetchmail.len() + raw_gpsd.len(),
        "every separator starts a message, body `From ` lines do not"
    );
    assert_eq!(report.skipped_total(), 0, "{:?}", report.skipped);

    assert_eq!(report.indexed + report.duplicates, report.seen);

    // Every message has its archive's list, tagged or not. fetchmail-users has
    // one document per Message-ID; gpsd-dev has 12 Message-IDs that two
    // different messages share (each then gets a `sha256:` key of its own).
    let docs = all_docs(&index);
    let in_dir = |d: &StoredMessage, dir: &Path| {
        d.locations
            .iter()
            .any(|l| l.contains(&format!("{}/", dir.display())))
    };
    for (name, dir, raw) in [
        ("fetchmail-users", &fetchmail, &raw_fetchmail),
        ("gpsd-dev", &gpsd, &raw_gpsd),
    ] {
        let located = docs.iter().filter(|d| in_dir(d, dir)).count();
        if name == "fetchmail-users" {
            assert_eq!(
                located,
                distinct(raw.iter()),
                "{name}: one document per message"
            );
        }
        assert!(
            located >= distinct(raw.iter()) && located <= raw.len(),
            "{name}: {located}"
        );
        assert_eq!(total(&index, &format!("list:{name}")), located, "{name}");
        assert!(docs
            .iter()
            .filter(|d| in_dir(d, dir))
            .all(|d| d.list == name));
    }

    // `from:` finds exactly the messages whose raw From: had that address:
    // the two most frequent senders of fetchmail-users, one whose name has
    // parentheses, one from the middle of the table.
    let mut by_sender: BTreeMap<&str, Vec<&RawMessage>> = BTreeMap::new();
    for m in &raw_fetchmail {
        if let Some(from) = &m.from {
            by_sender.entry(from).or_default().push(m);
        }
    }
    let mut senders: Vec<(&str, usize)> = by_sender.iter().map(|(s, v)| (*s, v.len())).collect();
    senders.sort_by_key(|(s, n)| (std::cmp::Reverse(*n), *s));
    let mut checked: Vec<&str> = senders.iter().take(2).map(|(s, _)| *s).collect();
    checked.push(senders[senders.len() / 2].0);
    checked.extend(by_sender.keys().copied().find(|f| f.starts_with("otto@")));
    assert_eq!(checked.len(), 4);
    for sender in checked {
        let want = distinct(by_sender[sender].iter().copied());
        let q = format!("from:{sender} list:fetchmail-users");
        assert_eq!(total(&index, &q), want, "{q}");
    }
    let esr = raw_gpsd
        .iter()
        .filter(|m| m.from.as_deref() == Some("esr@thyrsus.com"));
    let (n, unique) = (esr.clone().count(), distinct(esr));
    let found = total(&index, "from:esr@thyrsus.com list:gpsd-dev");
    assert!(found >= unique && found <= n && unique > 1000, "{found}");

    // No obfuscated address is left: not in the sender facet, not in any document.
    let facets = query::facets::facets(
        &index,
        &request("list:fetchmail-users OR list:gpsd-dev", 10),
    )
    .unwrap();
    assert!(facets.from.len() >= 10);
    for f in &facets.from {
        assert!(
            f.value.contains('@') && !f.value.contains(" at "),
            "{}",
            f.value
        );
    }
    let obfuscated: Vec<&String> = docs
        .iter()
        .flat_map(|d| &d.from)
        .filter(|f| f.contains(" at ") && !f.contains('@'))
        .collect();
    assert!(obfuscated.is_empty(), "{obfuscated:?}");
}

/// The same archives indexed into two data directories give the same keys,
/// also the `sha256:` keys of messages whose Message-ID another message took.
#[test]
fn pipermail_keys_are_stable_across_rebuilds() {
    let Some((_, gpsd)) = archives() else {
        return;
    };
    let keys = |data: &Path| -> BTreeSet<String> {
        let (index, _) = index_paths(data, std::slice::from_ref(&gpsd));
        all_docs(&index).into_iter().map(|d| d.key).collect()
    };
    let (a, b) = (tempdir(), tempdir());
    let first = keys(a.path());
    assert_eq!(first, keys(b.path()));
    assert!(
        first.iter().any(|k| k.starts_with("sha256:")),
        "gpsd-dev reuses Message-IDs for different messages"
    );
}

/// A pipermail message without a Message-ID is keyed by its content: the same
/// key and thread id on every rebuild.
#[test]
fn pipermail_message_without_id_keeps_its_key() {
    let root = tempdir();
    let archive = root.path().join("ops");
    std::fs::create_dir(&archive).unwrap();
    let mut text = String::new();
    for (i, day) in [21, 22].iter().enumerate() {
        text.push_str(&format!(
            "From jane at example.com  Mon Jun {day} 18:31:56 2004\n\
             From: jane at example.com (Jane Doe)\n\
             Date: Mon, {day} Jun 2004 18:31:56 +0200\n\
             Subject: [Ops] disk {i}\n\n\
             The disk {i} is full.\n\n"
        ));
    }
    std::fs::write(archive.join("2004-June.txt"), text).unwrap();
    let keys = |data: &Path| -> Vec<(String, String, String)> {
        let (index, _) = index_paths(data, std::slice::from_ref(&archive));
        let mut docs: Vec<_> = all_docs(&index)
            .into_iter()
            .map(|d| (d.key, d.thread_id, d.list))
            .collect();
        docs.sort();
        docs
    };
    let (a, b) = (tempdir(), tempdir());
    let first = keys(a.path());
    assert_eq!(first.len(), 2);
    assert_eq!(first, keys(b.path()));
    for (key, thread, list) in &first {
        assert!(key.starts_with("sha256:"), "{key}");
        assert_eq!(list, "ops");
        assert!(
            !thread.is_empty(),
            "{key} has a thread id (equal across rebuilds above)"
        );
    }
}
