//! Quote recognition on real mail: a golden table of messages from the shared
//! corpora (`tests/golden/quotes/corpus.tsv`: where the message is, and how
//! its text splits) and a survey of every message the recogniser marks
//! (`cargo test --lib survey_quote_starts -- --ignored --nocapture`).
//!
//! The corpora's README asks that their mail stays out of the project, so the
//! table names messages and records counts and a hash of the split, never
//! their text; a mismatch writes the split it found to `corpus.tsv.failed`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::quoting::history_start;
use super::text::find_bytes;
use super::*;

const CORPORA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpora");

/// The shared corpora: `$GLEANER_CORPORA`, else `../shared/corpora`.
fn corpora() -> std::path::PathBuf {
    std::env::var_os("GLEANER_CORPORA")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| Path::new(CORPORA).to_path_buf())
}
const TABLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/golden/quotes/corpus.tsv"
);

/// A corpus file: a Maildir message, or an mbox / pipermail archive.
fn read(path: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    crate::store::compress::open(path)
        .unwrap()
        .read_to_end(&mut out)
        .unwrap();
    out
}

/// The messages of an mbox or pipermail archive (split at `From ` lines after
/// a blank line), keyed by Message-ID.
fn mbox_messages(bytes: &[u8]) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut starts = vec![0];
    let mut at = 0;
    while let Some(p) = find_bytes(&bytes[at..], b"\n\nFrom ") {
        starts.push(at + p + 2);
        at += p + 2;
    }
    starts.push(bytes.len());
    for w in starts.windows(2) {
        let msg = &bytes[w[0]..w[1]];
        if let Ok(doc) = extract(msg, &ExtractContext::default()) {
            if let Some(id) = doc.message_id {
                out.entry(id).or_insert_with(|| msg.to_vec());
            }
        }
    }
    out
}

/// The message of an mbox or pipermail archive whose `Message-ID:` header
/// names `id` (empty if none does).
fn find_message<'a>(archive: &'a [u8], id: &str) -> &'a [u8] {
    let needle = format!("<{id}>");
    let mut at = 0;
    while let Some(p) = find_bytes(&archive[at..], needle.as_bytes()) {
        let hit = at + p;
        at = hit + 1;
        // `Message-ID: <id>`, the id perhaps folded onto the next line.
        let before = archive[hit.saturating_sub(40)..hit].to_ascii_lowercase();
        if !before.trim_ascii_end().ends_with(b"message-id:") {
            continue;
        }
        let start = find_last(&archive[..hit], b"\n\nFrom ").map_or(0, |s| s + 2);
        let end = find_bytes(&archive[hit..], b"\n\nFrom ").map_or(archive.len(), |e| hit + e + 1);
        return &archive[start..end];
    }
    &[]
}

fn find_last(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).rposition(|w| w == needle)
}

/// Every corpus source: (name relative to the corpora, path).
fn sources(root: &Path) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    let mut walk = vec![root.to_path_buf()];
    while let Some(dir) = walk.pop() {
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let p = e.path();
            let name = p.strip_prefix(root).unwrap().to_string_lossy().to_string();
            if p.is_dir() {
                walk.push(p);
            } else if name.contains("/cur/")
                || name.ends_with(".mbox.zst")
                || name.ends_with(".txt.gz")
            {
                out.push((name, p));
            }
        }
    }
    out.sort();
    out
}

/// What the table records of one message's split.
fn summary(doc: &MailDoc) -> String {
    let words = |s: &str| s.split_whitespace().count();
    let hash = |s: &str| hex::encode(&Sha256::digest(s.as_bytes())[..6]);
    format!(
        "{}\t{}\t{}\t{}",
        words(&doc.body),
        words(&doc.quoted),
        hash(&doc.body),
        hash(&doc.quoted)
    )
}

#[test]
fn golden_corpus_quotes() {
    let root = &corpora();
    if !root.is_dir() {
        assert!(
            std::env::var_os("CI").is_none_or(|v| v != "true"),
            "the shared corpora are missing at {}",
            root.display()
        );
        eprintln!(
            "NOTICE: {} is absent; golden_corpus_quotes is skipped",
            root.display()
        );
        return;
    }
    let table = std::fs::read_to_string(TABLE).unwrap();
    let mut archives: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let (mut rows, mut actual, mut mismatches) = (0, String::new(), Vec::new());
    for line in table.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            actual.push_str(line);
            actual.push('\n');
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        let (source, id, what) = (cols[0], cols[1], cols[2]);
        let raw = if id == "-" {
            read(&root.join(source))
        } else {
            let archive = archives
                .entry(source.to_string())
                .or_insert_with(|| read(&root.join(source)));
            find_message(archive, id).to_vec()
        };
        assert!(!raw.is_empty(), "{source} {id}: not found");
        let doc = extract(&raw, &ExtractContext::default()).unwrap();
        let got = format!("{source}\t{id}\t{what}\t{}", summary(&doc));
        if got != line {
            mismatches.push(format!(
                "{source} {id} ({what})\nwant {line}\ngot  {got}\n--- body\n{}\n--- quoted\n{}\n",
                doc.body, doc.quoted
            ));
        }
        actual.push_str(&got);
        actual.push('\n');
        rows += 1;
    }
    assert!(rows >= 8, "only {rows} samples");
    let failed = format!("{TABLE}.failed");
    if std::env::var_os("BLESS").is_some_and(|v| v == "1") {
        std::fs::write(TABLE, actual).unwrap();
        return;
    }
    if mismatches.is_empty() {
        let _ = std::fs::remove_file(&failed);
    } else {
        std::fs::write(&failed, mismatches.join("\n")).unwrap();
    }
    assert!(mismatches.is_empty(), "see {failed}");
}

/// Lists every message of the corpora where quoted history is recognised,
/// with the line that starts it.
#[test]
#[ignore]
fn survey_quote_starts() {
    let root = &corpora();
    let mut counts = BTreeMap::<String, (usize, usize)>::new();
    for (name, path) in sources(root) {
        let key = name.split('/').take(2).collect::<Vec<_>>().join("/");
        let messages: Vec<(String, Vec<u8>)> = if name.contains("/cur/") {
            vec![("-".to_string(), read(&path))]
        } else {
            mbox_messages(&read(&path)).into_iter().collect()
        };
        for (id, raw) in messages {
            let Ok(doc) = extract(&raw, &ExtractContext::default()) else {
                continue;
            };
            let entry = counts.entry(key.clone()).or_default();
            entry.0 += 1;
            let lines: Vec<&str> = doc.quoted.split('\n').collect();
            // Only a start that was not itself behind `>` in the message.
            let start = history_start(&lines).filter(|(i, _)| {
                let line = lines[*i].trim();
                find_bytes(&raw, format!("\n{line}").as_bytes()).is_some()
            });
            let html = doc.html_only && !doc.quoted.is_empty();
            if start.is_some() || html {
                entry.1 += 1;
                let at = start.map_or(0, |(i, _)| i);
                println!(
                    "{name}\t{id}\t{}\t{:?}",
                    if html { "html" } else { "text" },
                    lines
                        .get(at)
                        .map(|l| l.chars().take(100).collect::<String>())
                );
            }
        }
    }
    println!("(messages, with quoted history) per source: {counts:?}");
}

/// Prints how one corpus message splits:
/// `QUOTE_SOURCE=lists/x.mbox.zst QUOTE_ID=<id> cargo test --lib show_quote_split -- --ignored --nocapture`.
#[test]
#[ignore]
fn show_quote_split() {
    let root = &corpora();
    let source = std::env::var("QUOTE_SOURCE").unwrap();
    let ids = std::env::var("QUOTE_ID").unwrap_or_else(|_| "-".into());
    let messages = if ids == "-" {
        BTreeMap::from([("-".to_string(), read(&root.join(&source)))])
    } else {
        mbox_messages(&read(&root.join(&source)))
    };
    for id in ids.split(',') {
        let doc = extract(&messages[id], &ExtractContext::default()).unwrap();
        println!(
            "===== {source} {id}\n{}\n===== BODY\n{}\n===== QUOTED\n{}\n===== FOOTER\n{}",
            summary(&doc),
            doc.body,
            doc.quoted,
            doc.footer
        );
    }
}
