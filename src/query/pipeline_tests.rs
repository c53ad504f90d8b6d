//! The whole query path as a user reaches it — text through the limits, the
//! grammar, the planner (fields, dates, sizes, ages, prefixes, marks), the
//! list filter, search and facets — on random text over a small real index
//! (issue 23 item 6): it never panics, never fails as our error, and a
//! refusal that names a position names one within the input.

use std::sync::{Arc, LazyLock};

use proptest::prelude::*;

use super::marks::{Mark, Marks};
use super::{facets, search, QueryError, Request, Sort};
use crate::index::writer::Writer;
use crate::index::MailIndex;
use crate::store::Location;

/// A few messages with every kind of field, indexed once.
static INDEX: LazyLock<(tempfile::TempDir, MailIndex)> = LazyLock::new(|| {
    let dir = tempfile::tempdir().expect("tempdir");
    let index = MailIndex::open(&dir.path().join("index"), true).expect("index");
    let mut w = Writer::new(&index, 1).expect("writer");
    let messages = [
        "From: Ann <ann@example.org>\nTo: dev@example.org\nCc: bob@example.org\n\
         List-Id: <dev.example.org>\nSubject: zebra crossing\nDate: Mon, 2 Mar 2015 10:00:00 +0000\n\
         Message-ID: <a@example.org>\n\nThe zebra crossing is done.\n",
        "From: Bob <bob@example.org>\nTo: ops@example.org\nList-Id: <ops.example.org>\n\
         Subject: Re: zebra crossing\nDate: Tue, 3 Mar 2020 10:00:00 +0000\n\
         Message-ID: <b@example.org>\nIn-Reply-To: <a@example.org>\nMIME-Version: 1.0\n\
         Content-Type: multipart/mixed; boundary=\"b\"\n\n--b\nContent-Type: text/plain\n\n\
         Die Zebrastreifen sind fertig, danke schön.\n--b\n\
         Content-Type: application/pdf; name=\"plan.pdf\"\n\
         Content-Disposition: attachment; filename=\"plan.pdf\"\n\n%PDF-1.4\n--b--\n",
        "From: 日本 <ja@example.jp>\nSubject: 日本語のテスト\nDate: Wed, 1 Jan 2025 00:00:00 +0000\n\
         Message-ID: <c@example.jp>\n\n日本語の本文です。アーカイブ。\n",
    ];
    for (n, raw) in messages.iter().enumerate() {
        let doc = crate::extract::extract(raw.as_bytes(), &Default::default()).expect("extract");
        let path = dir.path().join(n.to_string());
        std::fs::write(&path, raw).expect("write");
        w.upsert(&std::sync::Arc::new(doc), &Location::File { path }, "")
            .expect("upsert");
    }
    w.commit().expect("commit");
    w.finish().expect("finish");
    index.reader.reload().expect("reload");
    (dir, index)
});

/// Marks of every kind, one of them a query of its own.
struct TestMarks;

impl Marks for TestMarks {
    fn is(&self, name: &str) -> Result<Option<Mark>, String> {
        Ok(match name {
            "cited" => Some(Mark::Ids(vec!["a@example.org".into()])),
            "archived" => Some(Mark::Keys(vec!["<b@example.org>".into()])),
            "held" => Some(Mark::Queries(vec![
                "zebra older:1y".into(),
                "list:ops*".into(),
            ])),
            _ => None,
        })
    }

    fn cited(&self, doc: &str) -> Result<Option<Vec<String>>, String> {
        match doc {
            "1" | "plan" => Ok(Some(vec!["b@example.org".into()])),
            _ => Err(format!("no document {doc:?}")),
        }
    }
}

/// A first page of `q` for readers of `allowed` (None: all), in 2027, with [`TestMarks`].
fn request(q: &str, allowed: Option<Vec<String>>) -> Request {
    Request {
        query: q.to_string(),
        limit: 10,
        offset: 0,
        sort: Sort::Relevance,
        now: 1_800_000_000,
        allowed_lists: allowed,
        marks: Some(Arc::new(TestMarks)),
    }
}

/// Runs `q` through search and facets, as readers of `dev` and as an admin.
fn check(q: &str) -> Result<(), TestCaseError> {
    let len = q.chars().count();
    for allowed in [None, Some(vec!["dev.example.org".to_string()])] {
        let req = request(q, allowed);
        let answers = [
            search(&INDEX.1, &req).map(|_| ()),
            facets::facets(&INDEX.1, &req).map(|_| ()),
        ];
        for answer in answers {
            let Err(e) = answer else { continue };
            prop_assert!(e.is_user_error(), "{q:?}: our failure: {e}");
            prop_assert!(
                !matches!(e, QueryError::Limit(_)) || q.len() > 4096,
                "{q:?}: a short query refused: {e}"
            );
            if let Some(p) = e.position() {
                prop_assert!(p <= len, "{q:?} ({len} chars): position {p}: {e}");
            }
        }
    }
    Ok(())
}

/// Text made of pieces that reach every part of the planner, edge values
/// included.
fn query_like() -> impl Strategy<Value = String> {
    let piece = prop::sample::select(vec![
        "zebra",
        "Zebrastreifen",
        "schön",
        "日本語",
        "z*",
        "*",
        "a*",
        "\"zebra crossing\"",
        "\"",
        "(",
        ")",
        "-",
        "OR",
        "AND",
        "NOT",
        ":",
        "\\",
        "..",
        "from:",
        "to:",
        "cc:",
        "s:",
        "subject:",
        "body:",
        "list:",
        "id:",
        "thread:",
        "filename:",
        "lang:",
        "is:",
        "cited:",
        "has:",
        "larger:",
        "smaller:",
        "after:",
        "before:",
        "date:",
        "older:",
        "newer:",
        "nope:",
        "attachment",
        "cited",
        "held",
        "archived",
        "1",
        "plan",
        "de",
        "japanese",
        "10k",
        "5M",
        "1G",
        "0",
        "-1",
        "18446744073709551615k",
        "99999999999999999999",
        "2015",
        "2015-03",
        "2015-3-2",
        "2016-02-29",
        "2015-02-29",
        "0000",
        "9999-12-31",
        "10000",
        "2015..2020",
        "..2019",
        "2019..",
        "6y",
        "30d",
        "1w",
        "12h",
        "2m",
        "9223372036854775807y",
        "999999999d",
        "ann@example.org",
        "<a@example.org>",
        "\u{0}",
        "\t",
        "\u{200b}",
        "é",
        "\u{1F600}",
    ]);
    let sep = prop::sample::select(vec!["", " ", " ", "  "]);
    prop::collection::vec((piece, sep), 0..10)
        .prop_map(|parts| parts.into_iter().flat_map(|(p, s)| [p, s]).collect())
}

/// The index the properties run on answers: they are not all refusals.
#[test]
fn the_index_answers_searches_and_marks() {
    let total = |q: &str| search(&INDEX.1, &request(q, None)).expect(q).total;
    assert_eq!(total("zebra"), 2);
    assert_eq!(total("has:attachment larger:1 date:2020"), 1);
    assert_eq!(total("is:held -list:dev.example.org"), 1);
    assert_eq!(total("cited:plan OR is:cited"), 2);
    assert_eq!(total("日本語"), 1);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn query_like_text_is_answered_or_refused_with_a_position_inside_it(q in query_like()) {
        check(&q)?;
    }

    #[test]
    fn arbitrary_text_is_answered_or_refused_with_a_position_inside_it(q in any::<String>()) {
        check(&q)?;
    }
}

/// Found by the properties: a negated phrase that no later document holds
/// tripped tantivy's phrase scorer's debug assertion (see `query::exclusion`).
#[test]
fn a_negated_phrase_is_excluded_without_a_panic() {
    for (q, want) in [
        ("-ann@example.org", 2),
        ("zebra -ann@example.org", 1),
        ("NOT \"zebra crossing\"", 1),
        ("zebra -(ann@example.org OR 日本語)", 1),
    ] {
        assert_eq!(
            search(&INDEX.1, &request(q, None)).expect(q).total,
            want,
            "{q}"
        );
    }
}
