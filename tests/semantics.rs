//! Query semantics on small hand-made mail: stemming across languages, accent
//! and case folding, CJK, prefixes on stemmed text, ranking of the author's
//! words above quoted text.

use std::path::Path;

use gleaner::index::MailIndex;
use gleaner::query::{self, Request, Sort};

use crate::common::{index_paths, tempdir};

fn mail(dir: &Path, name: &str, id: &str, subject: &str, body: &str) {
    let text = format!(
        "From: Tester <t@example.org>\nTo: l@lists.example.org\nSubject: {subject}\nMessage-ID: <{id}@sem>\nDate: Mon, 1 Jan 2018 00:00:00 +0000\nContent-Type: text/plain; charset=utf-8\n\n{body}\n"
    );
    std::fs::write(dir.join("cur").join(name), text).unwrap();
}

/// A temporary directory with an empty Maildir `md` in it.
fn maildir() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempdir();
    let md = dir.path().join("md");
    for d in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(md.join(d)).unwrap();
    }
    (dir, md)
}

fn ids(index: &MailIndex, q: &str) -> Vec<String> {
    let req = Request {
        query: q.into(),
        limit: 100,
        offset: 0,
        sort: Sort::Relevance,
        now: 0,
        allowed_lists: None,
        marks: None,
    };
    query::search(index, &req)
        .unwrap_or_else(|e| panic!("{q}: {e}"))
        .hits
        .into_iter()
        .map(|h| h.message.message_id.trim_end_matches("@sem").to_string())
        .collect()
}

#[test]
fn stemming_folding_cjk_prefix_and_ranking() {
    let (dir, md) = maildir();
    mail(&md, "1", "en", "Database notes", "The replication of the primary database was lagging behind for hours, and we upgraded the servers.");
    mail(
        &md,
        "2",
        "en2",
        "More notes",
        "We replicated the data to the new cluster yesterday and it worked fine afterwards.",
    );
    mail(
        &md,
        "3",
        "de",
        "Festplatte",
        "Die Häuser haben keine Festplatten mehr, wir müssen die Speicher erweitern und prüfen.",
    );
    mail(
        &md,
        "4",
        "ja",
        "検索について",
        "日本語の全文検索エンジンを使っています。検索が遅いです。",
    );
    mail(&md, "5", "quoted", "Re: outage", "I agree.\n\nOn Mon, 1 Jan 2018, Someone wrote:\n> the zeppelin outage was caused by the zeppelin config\n");
    mail(
        &md,
        "6",
        "own",
        "outage report",
        "The zeppelin outage was caused by a bad config push.",
    );
    let (index, report) = index_paths(dir.path(), &[md]);
    assert_eq!(report.indexed, 6);

    // Stemming: "upgrade" finds "upgraded"; a prefix finds stemmed forms
    // (regression: `replicat*` missed "replication", indexed as `replic`).
    assert_eq!(ids(&index, "upgrade"), vec!["en"]);
    let mut r = ids(&index, "replicat*");
    r.sort();
    assert_eq!(r, vec!["en", "en2"]);
    // Prefixes are folded like words and match the terms they begin.
    assert_eq!(ids(&index, "PRÜF*"), vec!["de"]);
    assert_eq!(ids(&index, "festplatt*"), vec!["de"]);
    assert!(ids(&index, "festplattez*").is_empty());
    // German stemming and accent folding: Häuser / hauser / HAUS.
    assert_eq!(ids(&index, "Häuser"), vec!["de"]);
    assert_eq!(ids(&index, "hauser"), vec!["de"]);
    assert_eq!(ids(&index, "festplatte"), vec!["de"]);
    assert_eq!(ids(&index, "lang:de"), vec!["de"]);
    // CJK: a word inside an unspaced run.
    assert_eq!(ids(&index, "検索"), vec!["ja"]);
    assert_eq!(ids(&index, "全文検索"), vec!["ja"]);
    // Phrases respect order.
    assert_eq!(ids(&index, "\"primary database\""), vec!["en"]);
    assert!(ids(&index, "\"database primary\"").is_empty());
    // The author's own words rank above quoted text.
    assert_eq!(ids(&index, "zeppelin"), vec!["own", "quoted"]);
    // Quoted text keeps positions (issue 17): a phrase matches there too,
    // ranked below the author's words; word order still counts.
    assert_eq!(ids(&index, "zeppelin config"), vec!["own", "quoted"]);
    assert_eq!(ids(&index, "\"zeppelin outage\""), vec!["own", "quoted"]);
    assert_eq!(ids(&index, "\"zeppelin config\""), vec!["quoted"]);
    assert!(ids(&index, "\"config zeppelin\"").is_empty());
    // The attribution line is the author's text, with positions.
    assert_eq!(ids(&index, "\"Someone wrote\""), vec!["quoted"]);

    // Snippets highlight the words the query found, through the same
    // stemming and folding: "upgrading" marks "upgraded", "HAUS" marks
    // "Häuser", a CJK word its run.
    for (q, want) in [
        ("upgrading replication", vec!["replication", "upgraded"]),
        ("HAUS prüfe", vec!["Häuser", "prüfen"]),
        ("検索", vec!["検索", "検索"]),
    ] {
        assert_eq!(marked(&index, q), want, "{q}");
    }
}

/// The highlighted words of the best hit's snippet for `q`.
fn marked(index: &MailIndex, q: &str) -> Vec<String> {
    let req = Request {
        query: q.into(),
        limit: 1,
        offset: 0,
        sort: Sort::Relevance,
        now: 0,
        allowed_lists: None,
        marks: None,
    };
    let hit = query::search(index, &req).unwrap().hits.remove(0);
    hit.snippet
        .highlights
        .iter()
        .map(|&(a, b)| hit.snippet.text[a..b].to_string())
        .collect()
}

#[test]
fn message_ids_match_whatever_their_case() {
    let (dir, md) = maildir();
    mail(&md, "1", "MixedCase.Abc", "first", "one body");
    // The same Message-ID with other content: a different message reusing it.
    mail(&md, "2", "MixedCase.Abc", "second", "another body entirely");
    mail(&md, "3", "other", "third", "third body");
    let (index, report) = index_paths(dir.path(), &[md]);
    assert_eq!(report.indexed, 3);
    let sorted = |q: &str| {
        let mut v = ids(&index, q);
        v.sort();
        v
    };
    let both = vec!["MixedCase.Abc", "MixedCase.Abc"];
    assert_eq!(sorted("id:MixedCase.Abc@sem"), both);
    assert_eq!(sorted("id:<mixedcase.abc@SEM>"), both);
    assert_eq!(sorted("id:mixedCASE*"), both);
    assert_eq!(sorted("id:other@sem"), vec!["other"]);
    assert!(ids(&index, "id:mixedcase").is_empty());
    let found = query::find_message(&index, "MIXEDCASE.ABC@SEM")
        .unwrap()
        .expect("found whatever the case");
    assert_eq!(found.message_id, "MixedCase.Abc@sem");
}

/// The planner searches the body fields the `lang` terms name: exactly the
/// body fields that hold words, on the multilingual sample.
#[test]
fn body_fields_in_use_are_the_body_fields_holding_words() {
    let dir = tempdir();
    let (index, report) = index_paths(dir.path(), &[crate::common::sample()]);
    assert!(report.indexed > 1000);
    let searcher = index.reader.searcher();
    let holding_words: Vec<_> = index
        .fields
        .body_fields()
        .into_iter()
        .filter(|field| {
            searcher.segment_readers().iter().any(|r| {
                r.inverted_index(*field)
                    .map(|ii| ii.terms().num_terms() > 0)
                    .unwrap()
            })
        })
        .collect();
    assert!(
        holding_words.len() >= 5,
        "the sample has mail in several stemmed languages: {holding_words:?}"
    );
    assert_eq!(
        gleaner::query::plan::body_fields_in_use(&index),
        holding_words
    );
}
