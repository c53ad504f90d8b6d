//! Table tests: Dovecot-style queries against a small in-memory IMAP index.

use super::*;
use crate::index::imap::{ImapDoc, ImapIndex};

const BOX: &str = "de827117da0c0a6b337e000083ecc375";
const OTHER_BOX: &str = "106f401d080d0a6b337e000083ecc375";

fn doc(uid: u32, mailbox: &str, user: &str, fields: &[(&str, &str)]) -> ImapDoc {
    let mut f = vec![
        ("uid".to_string(), uid.to_string()),
        ("box".to_string(), mailbox.to_string()),
        ("user".to_string(), user.to_string()),
        ("id".to_string(), format!("{uid}/{mailbox}/{user}")),
    ];
    f.extend(fields.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    ImapDoc { fields: f }
}

fn fixture() -> ImapIndex {
    let ix = ImapIndex::in_ram().expect("index");
    ix.add(&[
        doc(1, BOX, "testuser", &[
            ("body", "Please review the spreadsheet before the budget meeting.\n"),
            ("from", "\"Alice Example\" <alice@example.org>\n"),
            ("to", "<bob@example.net>\n"),
            ("subject", "Budget Update\n"),
            ("hdr", "From: \"Alice Example\" <alice@example.org>\nTo: <bob@example.net>\nSubject: Budget Update\nX-Custom: zebra-42\n"),
        ]),
        doc(2, BOX, "testuser", &[
            ("body", "Lunch on friday? The noodle place is relating to nothing.\n"),
            ("from", "<j.smith@example.org>\n"),
            ("to", "<alice@example.org>\n"),
            ("cc", "\"Dave\" <dave@example.com>\n"),
            ("subject", "Re: lunch\n"),
            ("hdr", "From: <j.smith@example.org>\nSubject: Re: lunch\n"),
            ("bcc", ""),
        ]),
        doc(3, BOX, "testuser", &[
            ("body", "Grüße aus München, a+b:c (x) related work. 全文検索です\n"),
            ("from", "Jürgen <juergen@example.de>\n"),
            ("bcc", "<eve@example.com>\n"),
            ("subject", "Café réunion\n"),
            ("hdr", "From: Jürgen <juergen@example.de>\nSubject: Café réunion\n"),
        ]),
        doc(4, BOX, "testuser", &[
            ("body", "budget numbers attached, see the spreadsheet\n"),
            ("from", "<bob@example.net>\n"),
            ("subject", "numbers\n"),
            ("hdr", "From: <bob@example.net>\nSubject: numbers\n"),
        ]),
        // Same uids elsewhere: must never leak.
        doc(1, OTHER_BOX, "testuser", &[("body", "budget noodle spreadsheet"), ("from", "smith"), ("subject", "update")]),
        doc(5, BOX, "mallory", &[("body", "budget noodle spreadsheet"), ("from", "smith"), ("subject", "update")]),
    ])
    .expect("add");
    ix.commit().expect("commit");
    ix
}

fn run(ix: &ImapIndex, q: &str) -> Result<Vec<u64>, ImapQueryError> {
    let req = Select {
        q: format!("{{!lucene q.op=AND}}{q}"),
        fq: vec![format!("+box:{BOX} +user:testuser")],
        rows: Some(100),
        ..Default::default()
    };
    Ok(select(ix, &req)?.hits.into_iter().map(|h| h.uid).collect())
}

#[test]
fn dovecot_queries_give_imap_answers() {
    let ix = fixture();
    let table: &[(&str, &[u64])] = &[
        ("body:budget", &[1, 4]),
        ("body:BUDGET", &[1, 4]),
        ("(hdr:noodle OR body:noodle)", &[2]),
        ("(hdr:budget OR body:budget)", &[1, 4]),
        ("body:related", &[3]),  // not "relating" (no stemming)
        ("body:relat", &[2, 3]), // a substring, as IMAP says: "relating", "related"
        ("body:elate", &[3]),
        ("body:ing\\ to\\ noth", &[2]), // "relating to nothing", cut at both ends
        ("body:ing\\ to\\ nothx", &[]),
        ("body:relating\\ nothing", &[]), // the inner words must all be there
        ("body:oodle\\ pla", &[2]),
        ("body:review\\ the\\ spreadsheet", &[1]),
        ("body:the\\ review", &[]),
        ("body:a\\+b\\:c", &[3]),
        ("body:München", &[3]),
        ("body:munchen", &[3]),
        ("body:grusse", &[]),
        ("body:Grüße", &[3]),
        ("body:検索", &[3]),
        ("body:文検", &[3]),
        ("body:budgte~", &[1, 4]),
        ("subject:upd", &[1]),
        ("subject:update", &[1]),
        ("subject:Re", &[2, 3]), // substring: "Re: lunch" and "réunion"
        ("subject:cafe\\ reu", &[3]),
        ("subject:\"\"", &[1, 2, 3, 4]),
        ("from:smith", &[2]),
        ("from:alice", &[1]),
        ("from:alice\\ example", &[1]),
        ("from:example.org", &[1, 2]),
        ("to:example.org", &[2]),
        ("to:bob", &[1]),
        ("cc:dave", &[2]),
        ("bcc:eve", &[3]),
        ("bcc:\"\"", &[3]),
        ("from:xample.or", &[1, 2]),
        ("hdr:zebra\\-42", &[1]),
        ("hdr:x\\-custom", &[1]),
        ("body:spreadsheet OR subject:lunch", &[1, 2, 4]),
        ("-body:budget", &[2, 3]),
        ("body:budget AND -subject:Re", &[1, 4]),
        ("body:spreadsheet OR -body:budget", &[1, 2, 3, 4]),
        ("body:noodle OR -body:budget", &[2, 3]),
        ("-body:budget OR body:noodle", &[2, 3]),
        ("-(hdr:budget OR body:budget)", &[2, 3]),
        ("(body:budget OR body:noodle) AND -from:bob", &[1, 2]),
        ("body:nosuchword", &[]),
        ("-body:nosuchword", &[1, 2, 3, 4]),
    ];
    for (q, want) in table {
        assert_eq!(run(&ix, q).expect(q), want.to_vec(), "{q}");
    }
}

#[test]
fn refusals() {
    let ix = fixture();
    // Only punctuation: cannot be answered from tokens, so Dovecot must search itself.
    assert!(run(&ix, "body:\\+\\+").is_err());
    assert!(run(&ix, "nofield:x").is_err());
    // No user restriction: refused rather than leaking other users' mail.
    let req = Select {
        q: "body:budget".into(),
        ..Default::default()
    };
    assert!(matches!(
        select(&ix, &req),
        Err(ImapQueryError::Unsupported(_))
    ));
}

#[test]
fn last_uid_rows_sort_and_multi_mailbox() {
    let ix = fixture();
    let req = Select {
        q: format!("box:{BOX} AND user:testuser"),
        rows: Some(1),
        sort: vec![(SortKey::Uid, false)],
        ..Default::default()
    };
    let r = select(&ix, &req).expect("select");
    assert_eq!(r.num_found, 4);
    assert_eq!(r.hits.iter().map(|h| h.uid).collect::<Vec<_>>(), [4]);

    let req = Select {
        q: "{!lucene q.op=AND}body:budget".into(),
        fq: vec!["+user:testuser".into()],
        rows: Some(100_000),
        sort: vec![(SortKey::Mailbox, true), (SortKey::Uid, true)],
        with_stored: true,
    };
    let r = select(&ix, &req).expect("select");
    let got: Vec<(String, u64)> = r
        .hits
        .iter()
        .map(|h| (h.mailbox.clone().unwrap_or_default(), h.uid))
        .collect();
    assert_eq!(
        got,
        [(OTHER_BOX.to_string(), 1), (BOX.into(), 1), (BOX.into(), 4)]
    );

    // Another user sees only their own mail.
    let req = Select {
        q: "{!lucene q.op=AND}-body:nosuchword".into(),
        fq: vec![format!("+box:{BOX} +user:mallory")],
        rows: Some(10),
        ..Default::default()
    };
    assert_eq!(
        select(&ix, &req)
            .expect("select")
            .hits
            .iter()
            .map(|h| h.uid)
            .collect::<Vec<_>>(),
        [5]
    );
}

#[test]
fn ordinal_runs_cover_exactly_the_passing_ordinals() {
    assert!(super::ordinal_runs(&[]).is_empty());
    assert!(super::ordinal_runs(&[false, false]).is_empty());
    assert_eq!(
        super::ordinal_runs(&[true, true, false, true, false, false, true]),
        vec![0..=1, 3..=3, 6..=6]
    );
    assert_eq!(super::ordinal_runs(&[true; 3]), vec![0..=2]);
}

#[test]
fn uid_clauses_use_the_column() {
    let ix = fixture();
    assert_eq!(run(&ix, "uid:2").expect("uid"), vec![2]);
    assert_eq!(
        run(&ix, "(uid:1 OR uid:4) AND body:budget").expect("uid"),
        vec![1, 4]
    );
    assert_eq!(run(&ix, "uid:99").expect("uid"), Vec::<u64>::new());
    // A delete by query on uid removes exactly that message of that mailbox.
    let q = exact_query(
        ix.fields,
        &lucene::parse(&format!("uid:1 AND box:{BOX}")).expect("q"),
    )
    .expect("exact");
    ix.delete_query(q).expect("delete");
    ix.commit().expect("commit");
    assert_eq!(run(&ix, "body:budget").expect("after"), vec![4]);
    let other = Select {
        q: "{!lucene q.op=AND}body:budget".into(),
        fq: vec![format!("+box:{OTHER_BOX} +user:testuser")],
        rows: Some(10),
        ..Default::default()
    };
    assert_eq!(select(&ix, &other).expect("other").hits.len(), 1);
}
