//! The command line end to end on the committed sample: index, search (human
//! and JSON), show (decoded and raw), stats, re-index, rebuild, exit codes.

use std::path::Path;

use gleaner::extract::{extract, ExtractContext};

use crate::common::{gleaner, gleaner_ok, sample, tempdir};

fn json_lines(out: &str) -> Vec<serde_json::Value> {
    out.lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect()
}

fn first_maildir_file(dir: &Path) -> std::path::PathBuf {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(&d)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                stack.push(p);
            } else if p
                .parent()
                .and_then(|x| x.file_name())
                .is_some_and(|n| n == "cur")
            {
                return p;
            }
        }
    }
    panic!("no maildir file under {}", dir.display());
}

#[test]
fn index_search_show_stats() {
    let dir = tempdir();
    let data = dir.path();
    let out = gleaner_ok(data, &["index", sample().to_str().unwrap()]);
    assert!(out.contains("indexed"), "summary: {out}");

    // JSON search: required fields on every line, exact total.
    let out = gleaner_ok(data, &["search", "--json", "--limit", "5", "the"]);
    let hits = json_lines(&out);
    assert_eq!(hits.len(), 5);
    for h in &hits {
        for field in [
            "message_id",
            "thread_id",
            "date",
            "from",
            "subject",
            "list",
            "score",
            "snippet",
        ] {
            assert!(h.get(field).is_some(), "missing {field} in {h}");
        }
        let date = h["date"].as_str().unwrap();
        assert!(
            date.is_empty() || date.ends_with('Z') || date.contains('+'),
            "RFC 3339: {date}"
        );
    }
    let total = hits[0]["total"].as_u64().unwrap();
    assert!(total > 5);

    // Offsets page through the same result list.
    let page2 = json_lines(&gleaner_ok(
        data,
        &["search", "--json", "--limit", "5", "--offset", "5", "the"],
    ));
    assert!(page2
        .iter()
        .all(|h| !hits.iter().any(|g| g["message_id"] == h["message_id"])));

    // Date sort is newest first.
    let by_date = json_lines(&gleaner_ok(
        data,
        &["search", "--json", "--sort", "date", "--limit", "30", "the"],
    ));
    let dates: Vec<&str> = by_date
        .iter()
        .map(|h| h["date"].as_str().unwrap())
        .collect();
    let mut sorted = dates.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(dates, sorted);

    // Human output shows the exact total.
    let human = gleaner_ok(data, &["search", "the"]);
    assert!(
        human.contains(&format!("{total} messages match")),
        "{human}"
    );

    // show --raw gives the exact original bytes of a Maildir file.
    let file = first_maildir_file(&sample());
    let bytes = std::fs::read(&file).unwrap();
    let doc = extract(
        &bytes,
        &ExtractContext {
            list: None,
            envelope: None,
            ..ExtractContext::default()
        },
    )
    .unwrap();
    let id = doc.message_id.clone().expect("sample message has an id");
    let raw = gleaner(data, &["show", "--raw", &id]);
    assert!(raw.status.success());
    // The same Message-ID may exist with other content; then the raw bytes are those of the first copy.
    let shown = extract(
        &raw.stdout,
        &ExtractContext {
            list: None,
            envelope: None,
            ..ExtractContext::default()
        },
    )
    .unwrap();
    assert_eq!(shown.message_id, doc.message_id);
    if raw.stdout != bytes {
        // Only another message sharing the Message-ID may come back instead.
        assert_ne!(
            shown.content_hash, doc.content_hash,
            "same message, other bytes"
        );
    }
    let decoded = gleaner_ok(data, &["show", &format!("<{id}>")]);
    assert!(decoded.contains(&format!("Message-ID: {id}")), "{decoded}");

    // stats
    let stats: serde_json::Value =
        serde_json::from_str(&gleaner_ok(data, &["stats", "--json"])).unwrap();
    let messages = stats["messages"].as_u64().unwrap();
    assert!(messages > 1000, "sample has ~2000 messages, got {messages}");
    assert!(stats["lists"].as_array().unwrap().len() >= 5);

    // Re-indexing reads nothing new.
    let again: serde_json::Value = serde_json::from_str(&gleaner_ok(
        data,
        &["index", "--json", sample().to_str().unwrap()],
    ))
    .unwrap();
    assert_eq!(again["indexed"], 0);
    assert_eq!(again["duplicates"], 0);

    // Rebuild recreates the same index from the mail store.
    gleaner_ok(data, &["rebuild"]);
    let after: serde_json::Value =
        serde_json::from_str(&gleaner_ok(data, &["stats", "--json"])).unwrap();
    assert_eq!(after["messages"].as_u64().unwrap(), messages);
}

#[test]
fn malformed_queries_exit_2_with_position() {
    let dir = tempdir();
    let data = dir.path();
    gleaner_ok(
        data,
        &["index", sample().join("announce.mbox").to_str().unwrap()],
    );
    for (q, pos) in [
        ("(disk full", "position 10"),
        ("from:", "position 5"),
        ("foo:bar", "position 0"),
        ("date:2019-13", ""),
    ] {
        let out = gleaner(data, &["search", q]);
        assert_eq!(out.status.code(), Some(2), "{q}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("bad query"), "{q}: {err}");
        assert!(err.contains(pos), "{q}: {err}");
    }
    // Usage errors also exit 2.
    let out = gleaner(data, &["search"]);
    assert_eq!(out.status.code(), Some(2));
    // A missing message exits 1.
    let out = gleaner(data, &["show", "no-such-id@example.org"]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn search_without_index_explains() {
    let dir = tempdir();
    let out = gleaner(dir.path(), &["search", "x"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("gleaner index"));
}

/// `search --output ids|files|threads` streams every hit, oldest first, as
/// `search --json` finds them (the summary's hits are the same messages).
#[test]
fn output_modes_list_every_hit() {
    use std::collections::BTreeSet;
    let dir = tempdir();
    let d = dir.path();
    gleaner_ok(d, &["index", sample().to_str().unwrap()]);
    let query = "certificate OR ssl";
    let all = json_lines(&gleaner_ok(
        d,
        &["search", "--json", "--limit", "10000", query],
    ));
    assert!(all.len() > 50, "{} hits", all.len());
    // A message is named by its key: `<Message-ID>`, or the content key of
    // one whose Message-ID another message holds too (or that has none).
    let mut by_date: Vec<(String, String, String)> = all
        .iter()
        .map(|h| {
            let key = h["key"].as_str().unwrap();
            let id = key
                .strip_prefix('<')
                .and_then(|k| k.strip_suffix('>'))
                .unwrap_or(key);
            (
                h["date"].as_str().unwrap().to_string(),
                id.to_string(),
                h["thread_id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    by_date.sort();

    let ids = gleaner_ok(d, &["search", "--output", "ids", query]);
    let ids: Vec<&str> = ids.lines().collect();
    assert_eq!(ids.len(), all.len(), "every hit, not the top 20");
    let expected: BTreeSet<String> = by_date
        .iter()
        .map(|(_, id, _)| format!("id:{id}"))
        .collect();
    assert_eq!(
        ids.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>(),
        expected
    );
    // Each id finds its message again.
    for id in &ids {
        let again = json_lines(&gleaner_ok(d, &["search", "--json", id]));
        assert!(
            again.iter().any(|h| {
                let key = h["key"].as_str().unwrap();
                format!("id:{}", key.trim_start_matches('<').trim_end_matches('>')) == *id
            }),
            "{id} finds its message"
        );
    }

    // Oldest first, and --limit/--offset cut that order.
    let dates: Vec<String> = ids
        .iter()
        .map(|id| {
            let hit = &json_lines(&gleaner_ok(d, &["search", "--json", id]))[0];
            hit["date"].as_str().unwrap().to_string()
        })
        .take(5)
        .collect();
    assert!(dates.windows(2).all(|w| w[0] <= w[1]), "{dates:?}");
    let page = gleaner_ok(
        d,
        &[
            "search", "--output", "ids", "--limit", "3", "--offset", "2", query,
        ],
    );
    assert_eq!(page.lines().collect::<Vec<_>>(), ids[2..5].to_vec());

    // Files: a stored place per copy; Maildir files are plain paths that exist.
    let files = gleaner_ok(d, &["search", "--output", "files", query]);
    let files: Vec<&str> = files.lines().collect();
    assert!(
        files.len() >= all.len(),
        "{} files for {} hits",
        files.len(),
        all.len()
    );
    for f in &files {
        assert!(
            Path::new(f).is_file() || f.starts_with("mbox:"),
            "{f} is a file or an mbox location"
        );
    }

    // Threads: each conversation once.
    let threads = gleaner_ok(d, &["search", "--output", "threads", query]);
    let threads: Vec<&str> = threads.lines().collect();
    let unique: BTreeSet<&str> = threads.iter().copied().collect();
    assert_eq!(unique.len(), threads.len(), "no conversation twice");
    let expected: BTreeSet<String> = by_date
        .iter()
        .map(|(_, _, t)| format!("thread:{t}"))
        .collect();
    assert_eq!(
        unique
            .iter()
            .map(|s| s.to_string())
            .collect::<BTreeSet<_>>(),
        expected
    );
}
