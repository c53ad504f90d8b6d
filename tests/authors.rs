//! Authors behind list rewriting (DMARC): the sender facet, `from:`, stored
//! messages and `stats` name the person, not the list; the header as written
//! stays searchable. On the two shared list archives, per-author counts equal
//! a count made here from the raw mbox with plain header reading.

use std::collections::{BTreeMap, HashSet};
use std::io::Read;
use std::path::Path;

use base64::Engine;
use gleaner::index::MailIndex;
use gleaner::query::{self, facets::facets, Request, Sort};

use crate::common::{header_fields, index_paths, shared_list, tempdir};

fn request(q: &str) -> Request {
    Request {
        query: q.to_string(),
        limit: 10_000,
        offset: 0,
        sort: Sort::Date,
        now: 0,
        allowed_lists: None,
        marks: None,
    }
}

fn total(index: &MailIndex, q: &str) -> usize {
    query::search(index, &request(q))
        .unwrap_or_else(|e| panic!("{q}: {e}"))
        .total
}

/// A query every message matches (an empty query is an error).
const ALL: &str = "-id:none@nowhere.invalid";

/// Sender facet over every message: address → count.
fn senders(index: &MailIndex) -> Vec<(String, u64)> {
    facets(index, &request(ALL))
        .expect("facets")
        .from
        .into_iter()
        .map(|f| (f.value, f.count))
        .collect()
}

const LIST: &str = "foo-users@lists.example.org";

fn message(n: usize, headers: &str) -> String {
    format!(
        "From MAILER-DAEMON Mon Mar  1 10:00:00 2021\n{headers}\
List-Id: Foo users <foo-users.lists.example.org>\nList-Post: <mailto:{LIST}>\n\
Message-ID: <m{n}@example.org>\nSubject: note {n}\nDate: Mon, 1 Mar 2021 10:00:0{n} +0000\n\n\
Words of message {n}.\n\n"
    )
}

#[test]
fn rewritten_senders_are_their_authors_in_facet_search_messages_and_stats() {
    let dir = tempdir();
    let mbox = dir.path().join("foo.mbox");
    let mut text = String::new();
    // Jane three times through the list's rewriting (Mailman: Reply-To;
    // Mailman with replies to the list: Cc; Google-style X-Original-From),
    // once directly.
    let jane = "From: Jane Doe via Foo-users <foo-users@lists.example.org>\n";
    text += &message(1, &format!("{jane}Reply-To: Jane Doe <jane@example.com>\n"));
    text += &message(
        2,
        &format!(
            "{jane}Reply-To: {LIST}\nCc: Bob <bob@example.com>, JANE DOE <jane@example.com>\n"
        ),
    );
    text += &message(
        3,
        &format!("{jane}X-Original-From: Jane Doe <jane@example.com>\n"),
    );
    text += &message(4, "From: Jane Doe <jane@example.com>\n");
    // Rewritten, nobody named: the list stays the sender, counted.
    text += &message(
        5,
        &format!(
            "{}Reply-To: {LIST}\n",
            jane.replace("Jane Doe", "Ann Other")
        ),
    );
    // A lookalike from a personal address.
    text += &message(6, "From: Bob via Phone <bob@example.com>\n");
    std::fs::write(&mbox, text).unwrap();
    let (index, report) = index_paths(&dir.path().join("data"), &[mbox]);
    assert_eq!(report.indexed, 6, "{report:?}");

    let facet: BTreeMap<String, u64> = senders(&index).into_iter().collect();
    assert_eq!(facet.get("jane@example.com"), Some(&4), "{facet:?}");
    assert_eq!(facet.get("bob@example.com"), Some(&1), "{facet:?}");
    assert_eq!(facet.get(LIST), Some(&1), "{facet:?}");

    // from: finds the author by address and name; the header as written
    // (the list, its `via` name) still finds the rewritten messages.
    assert_eq!(total(&index, "from:jane@example.com"), 4);
    assert_eq!(total(&index, "from:\"jane doe\""), 4);
    assert_eq!(total(&index, &format!("from:{LIST}")), 4);
    assert_eq!(total(&index, "from:foo-users"), 4);
    // Bare words match the sender as the author: `via` is only in the
    // lookalike's and the unrecovered message's senders.
    assert_eq!(total(&index, "via"), 2);

    let m = query::find_message(&index, "m1@example.org")
        .unwrap()
        .expect("m1");
    assert_eq!(m.from, vec!["Jane Doe <jane@example.com>".to_string()]);
    assert_eq!(
        m.from_header,
        vec![format!("Jane Doe via Foo-users <{LIST}>")]
    );
    let m = query::find_message(&index, "m4@example.org")
        .unwrap()
        .expect("m4");
    assert_eq!(m.from, m.from_header);

    let s = query::stats::stats(&index).unwrap();
    assert_eq!(s.authors_recovered, 3);
    assert_eq!(s.authors_not_recovered, 1);
}

/// The address of a one-mailbox header value: inside the last `<>`, else
/// the word with an `@`.
fn address_of(value: &str) -> Option<String> {
    let addr = match (value.rfind('<'), value.rfind('>')) {
        (Some(a), Some(b)) if a < b => value[a + 1..b].to_string(),
        _ => value
            .split([' ', ','])
            .find(|w| w.contains('@'))?
            .to_string(),
    };
    Some(addr.trim().to_lowercase())
}

/// RFC 2047 words (UTF-8, B or Q) decoded: enough to read a display name.
fn decode_words(value: &str) -> String {
    let mut out = String::new();
    let mut rest = value;
    while let Some(start) = rest.find("=?") {
        out.push_str(&rest[..start]);
        let word = &rest[start + 2..];
        let parts: Vec<&str> = word.splitn(3, '?').collect();
        let Some(end) = parts.get(2).and_then(|p| p.find("?=")) else {
            out.push_str(&rest[start..]);
            return out;
        };
        let text = &parts[2][..end];
        let bytes = if parts[1].eq_ignore_ascii_case("b") {
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .unwrap_or_default()
        } else {
            let mut b = Vec::new();
            let raw = text.as_bytes();
            let mut i = 0;
            while i < raw.len() {
                let hex = raw
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match (raw[i], hex) {
                    (b'_', _) => b.push(b' '),
                    (b'=', Some(x)) => {
                        b.push(x);
                        i += 2;
                    }
                    (c, _) => b.push(c),
                }
                i += 1;
            }
            b
        };
        out.push_str(&String::from_utf8_lossy(&bytes));
        rest = &parts[2][end + 2..];
        // Whitespace between two encoded words is not text.
        if rest.trim_start().starts_with("=?") {
            rest = rest.trim_start();
        }
    }
    out.push_str(rest);
    out
}

/// The oracle: per-author message counts of an mbox, read here with plain
/// header reading. A message whose From is the list's address with an
/// `X via List` name was written by its X-Original-From, else its Reply-To.
/// Messages are counted once per Message-ID. Also returns how many were
/// rewritten.
fn count_authors(mbox: &[u8], list_address: &str) -> (BTreeMap<String, u64>, u64, u64) {
    let text = String::from_utf8_lossy(mbox);
    let mut counts = BTreeMap::new();
    let mut seen = HashSet::new();
    let (mut messages, mut rewritten) = (0, 0);
    let mut prev_blank = true;
    let mut starts = Vec::new();
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        if prev_blank && line.starts_with("From ") {
            starts.push(at);
        }
        prev_blank = line.trim_end().is_empty();
        at += line.len();
    }
    starts.push(text.len());
    for w in starts.windows(2) {
        let msg = &text[w[0]..w[1]];
        let head = msg.split("\n\n").next().unwrap_or("");
        let head = head.split_once('\n').map_or("", |(_, h)| h);
        let fields = header_fields(head);
        let get = |name: &str| {
            fields
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        };
        let id = get("message-id").unwrap_or("").to_string();
        if !seen.insert(id) {
            continue;
        }
        messages += 1;
        let Some(from) = get("from") else { continue };
        let mut author = address_of(from);
        let name = decode_words(from);
        if author.as_deref() == Some(list_address) && name.contains(" via ") {
            rewritten += 1;
            author = get("x-original-from")
                .or(get("reply-to"))
                .and_then(address_of)
                .or(author);
        }
        if let Some(a) = author {
            *counts.entry(a).or_insert(0) += 1;
        }
    }
    (counts, messages, rewritten)
}

fn check_list(path: &Path, list_address: &str) {
    let mut raw = Vec::new();
    zstd::stream::Decoder::new(std::fs::File::open(path).unwrap())
        .unwrap()
        .read_to_end(&mut raw)
        .unwrap();
    let (oracle, messages, rewritten) = count_authors(&raw, list_address);
    drop(raw);
    let dir = tempdir();
    let (index, _) = index_paths(dir.path(), &[path.to_path_buf()]);
    assert_eq!(
        index.reader.searcher().num_docs(),
        messages,
        "{}: one document per Message-ID",
        path.display()
    );
    let facet = senders(&index);
    assert!(facet.len() >= 10, "{facet:?}");
    for (addr, count) in &facet {
        assert_eq!(
            oracle.get(addr),
            Some(count),
            "{}: messages by {addr}",
            path.display()
        );
    }
    // The facet's top is the oracle's top (counts in order: ties may swap).
    let mut top: Vec<u64> = oracle.values().copied().collect();
    top.sort_unstable_by(|a, b| b.cmp(a));
    let got: Vec<u64> = facet.iter().map(|(_, n)| *n).collect();
    assert_eq!(got, top[..got.len()], "{}", path.display());
    assert!(
        facet.iter().all(|(a, _)| a != list_address),
        "{}: the list address is no longer a top sender: {facet:?}",
        path.display()
    );
    // from: by address agrees for the biggest author.
    let (first, n) = &facet[0];
    assert_eq!(total(&index, &format!("from:{first}")) as u64, *n);
    let s = query::stats::stats(&index).unwrap();
    assert_eq!(
        s.authors_recovered + s.authors_not_recovered,
        rewritten,
        "{}: every rewritten From is counted",
        path.display()
    );
    assert!(rewritten > 200, "{}: {rewritten}", path.display());
    eprintln!(
        "{}: {messages} messages, {rewritten} rewritten, {} recovered, {} not; top {first} {n}",
        path.display(),
        s.authors_recovered,
        s.authors_not_recovered
    );
}

#[test]
fn list_authors_equal_an_independent_count_on_kasan_dev() {
    let Some(p) = shared_list("kasan-dev.mbox.zst") else {
        return;
    };
    check_list(&p, "kasan-dev@googlegroups.com");
}

#[test]
fn list_authors_equal_an_independent_count_on_linux_erofs() {
    let Some(p) = shared_list("linux-erofs.mbox.zst") else {
        return;
    };
    check_list(&p, "linux-erofs@lists.ozlabs.org");
}
