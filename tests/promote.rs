//! Promoting a thread cites its answer (issue 18 item 4), over the JSON API
//! of a real server on `corpus/sample`: the queue proposes the answering
//! message and says why, one request promotes and cites it, the quoted mail
//! renders as the text it is, and undoing the promotion takes the citation
//! out of the document again.

use std::time::Duration;

use gleaner::curate::{Curation, DocKind, ReviewPolicy};
use serde_json::{json, Value};

use crate::common::{self, enc, TestServer};
use crate::curation::{login, put_ops_policy, sample_server, Client, OPS, SIX_YEARS};
use crate::review_ui::{ReviewUi, DOWN, ENTER};
use crate::wd::Session;

/// The question, Olga's procedure (which Priya confirmed: "That worked"),
/// in the sample's ops list.
const QUESTION: &str = "20190603130500.GA1227@corp.example.com";
const ANSWER: &str = "5cf526b4.1228.c783002@example.ru";
/// A postmortem with a bulleted and a numbered list.
const POSTMORTEM: &str = "56e6dcf4.851.9b3b8bc@example.net";

fn ops_queue_item(rita: &Client<'_>, subject: &str) -> Value {
    let q = rita.ok(
        "GET",
        "/api/review/queues/ops-old?limit=1000&all=1",
        &json!({}),
    );
    q["items"]
        .as_array()
        .and_then(|items| {
            items
                .iter()
                .find(|i| i["subject"].as_str().is_some_and(|s| s.contains(subject)))
        })
        .cloned()
        .unwrap_or_else(|| panic!("no queue item about {subject:?}"))
}

fn new_doc(ed: &Client<'_>, title: &str) -> i64 {
    ed.ok(
        "POST",
        "/api/docs",
        &json!({"kind": "procedure", "title": title, "body": "Intro.\n"}),
    )["document"]["id"]
        .as_i64()
        .expect("doc id")
}

/// The text of `html` as a browser shows it (tags dropped, the entities
/// the renderer writes decoded), whitespace runs as one space.
fn shown_text(html: &str) -> String {
    let mut text = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                text.push(' ');
            }
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    let text = text
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&");
    squash(&text)
}

fn squash(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Each line of `passage` shows in the quoted block of `html` as written,
/// and the mail made no Markdown structure: no heading, list, code,
/// emphasis, link or rule.
fn assert_verbatim(html: &str, passage: &str) {
    assert_eq!(html.matches("<blockquote>").count(), 1, "{html}");
    let html = html
        .split("<blockquote>")
        .nth(1)
        .and_then(|q| q.split("</blockquote>").next())
        .and_then(|q| q.split('\u{2014}').next())
        .unwrap_or_default();
    for tag in [
        "<h1", "<h2", "<h3", "<li", "<ul", "<ol", "<pre", "<code", "<em", "<strong", "<a ", "<hr",
        "<table", "<del",
    ] {
        assert!(!html.contains(tag), "{tag} made of mail in {html}");
    }
    let shown = shown_text(html);
    for line in passage.lines().map(squash).filter(|l| !l.is_empty()) {
        assert!(
            shown.contains(&line),
            "{line:?} not shown as written in {shown}"
        );
    }
}

#[test]
fn promotion_cites_the_confirmed_answer_verbatim_and_undo_takes_it_back() {
    let dir = common::tempdir();
    let server = sample_server(dir.path());
    let (ada, rita, ed) = (
        login(&server, "ada"),
        login(&server, "rita"),
        login(&server, "ed"),
    );
    put_ops_policy(&ada);

    // The queue proposes Olga's procedure, because Priya confirmed it.
    let item = ops_queue_item(&rita, "Database replication lag");
    assert_eq!(item["first_message_id"], QUESTION, "{item}");
    assert_eq!(item["answer_message_id"], ANSWER, "{item}");
    // The reason names the asker, the day and the confirming sentence verbatim.
    let why = item["answer"]["why"].as_str().unwrap();
    assert!(
        why.starts_with("confirmed by the asker (") && why.contains(") on 2019-06-03: “"),
        "{why}"
    );
    assert_eq!(item["answer"]["basis"]["kind"], "confirmed", "{item}");
    assert!(
        item["answer"]["basis"]["quote"].as_str().is_some(),
        "{item}"
    );
    assert!(
        item["answer"]["from"]
            .as_str()
            .is_some_and(|f| f.contains("example.ru")),
        "{item}"
    );
    let thread = item["thread_id"].as_str().expect("thread").to_string();

    // One request promotes and cites the answer.
    let doc = new_doc(&ed, "Replica rebuild");
    let promoted = rita.ok(
        "POST",
        "/api/review/queues/ops-old/decisions",
        &json!({"threads": [thread], "decision": "promote", "cite_into": doc.to_string()}),
    );
    assert_eq!(promoted["citation"]["message_id"], ANSWER, "{promoted}");
    let cid = promoted["citation"]["id"].as_i64().expect("citation id");
    let read = ed.ok("GET", &format!("/api/docs/{doc}"), &json!({}));
    assert_eq!(read["document"]["revision"], 2);
    let excerpt = read["citations"][0]["excerpt"].as_str().expect("excerpt");
    assert!(excerpt.starts_with("The migration rewrote"), "{excerpt}");
    assert_verbatim(read["html"].as_str().expect("html"), excerpt);
    let decided = ops_queue_item(&rita, "Database replication lag");
    assert_eq!(decided["decision"]["decision"], "promote");

    // Undo: the decision and the citation go, as a new revision, audited.
    let undone = rita.ok("POST", "/api/review/queues/ops-old/undo", &json!({}));
    assert_eq!(undone["uncited"], json!([cid]), "{undone}");
    let read = ed.ok("GET", &format!("/api/docs/{doc}"), &json!({}));
    assert_eq!(read["document"]["body"], "Intro.\n", "{read}");
    assert_eq!(read["document"]["revision"], 3);
    assert_eq!(read["citations"], json!([]));
    let msg = ed.ok("GET", &format!("/api/messages/{}", enc(ANSWER)), &json!({}));
    assert_eq!(msg["cited_in"], json!([]), "{msg}");
    let audit = ada.ok("GET", &format!("/api/audit?subject=doc:{doc}"), &json!({}));
    assert!(
        audit["entries"]
            .as_array()
            .is_some_and(|e| e.iter().any(|e| e["action"] == "doc.uncite")),
        "{audit}"
    );
    assert_eq!(
        ops_queue_item(&rita, "Database replication lag")["decision"],
        Value::Null
    );

    // The two-step path cites the answer too; its commands (indented, a
    // line ending in a backslash, underscores, quotes) render as written.
    let passage = r#"Step 3: run the following on db02 to clone the primary:

    pg_basebackup -h db01 -U replicator -D /var/lib/postgresql/11/main \
        -X stream -P -R

Step 4: start PostgreSQL again and watch the replication lag:

    systemctl start postgresql@11-main
    psql -c "SELECT now() - pg_last_xact_replay_timestamp();""#;
    let cited = rita.ok(
        "POST",
        &format!("/api/docs/{doc}/citations"),
        &json!({"thread_id": thread, "passage": passage}),
    );
    assert_eq!(cited["citation"]["message_id"], ANSWER);
    let read = ed.ok("GET", &format!("/api/docs/{doc}"), &json!({}));
    assert_verbatim(read["html"].as_str().expect("html"), passage);
}

#[test]
fn the_reviewer_picks_another_message_and_passage_of_the_thread() {
    let dir = common::tempdir();
    let server = sample_server(dir.path());
    let (ada, rita, ed) = (
        login(&server, "ada"),
        login(&server, "rita"),
        login(&server, "ed"),
    );
    put_ops_policy(&ada);
    let item = ops_queue_item(&rita, "TLS certificate expired on mail relay");
    let thread = item["thread_id"].as_str().expect("thread").to_string();
    let doc = new_doc(&ed, "Certificate renewal");
    let passage = "- 05:37 UTC the TLS certificate of relay02 expired, remote MTAs refused
  STARTTLS and mail queued up (peak 14,000 messages).
- 06:55 UTC certificate renewed manually, postfix reloaded.
- 08:10 UTC queue empty, no mail lost.

Root cause was the renewal cron job: since the January migration the
cron entry had no PATH, certbot was not found, and the failure mails to
root were discarded.

Action items:
1. fix the cron template (done, PATH added);
2. add a Nagios check that alerts 21 days before any certificate expires;
3. forward root mail on all relays to the ops list.";
    // A message of another thread is refused; so are words the message lacks.
    let other = rita.send(
        "POST",
        "/api/review/queues/ops-old/decisions",
        &json!({"threads": [thread], "decision": "promote", "cite_into": doc.to_string(),
                "message_id": ANSWER}),
    );
    assert_eq!(other.status, 400, "{}", other.text());
    assert!(other.text().contains("is not a message of thread"));
    let forged = rita.send(
        "POST",
        "/api/review/queues/ops-old/decisions",
        &json!({"threads": [thread], "decision": "promote", "cite_into": doc.to_string(),
                "message_id": POSTMORTEM, "passage": "no mail was ever lost"}),
    );
    assert_eq!(forged.status, 400, "{}", forged.text());
    // Nothing was decided by the refused requests.
    assert_eq!(
        ops_queue_item(&rita, "TLS certificate expired")["decision"],
        Value::Null
    );
    let promoted = rita.ok(
        "POST",
        "/api/review/queues/ops-old/decisions",
        &json!({"threads": [thread], "decision": "promote", "cite_into": doc.to_string(),
                "message_id": POSTMORTEM, "passage": passage}),
    );
    assert_eq!(promoted["citation"]["message_id"], POSTMORTEM, "{promoted}");
    let read = ed.ok("GET", &format!("/api/docs/{doc}"), &json!({}));
    assert_verbatim(read["html"].as_str().expect("html"), passage);
    let export = ed.get(&format!("/api/docs/{doc}/export.html"));
    assert_eq!(export.status, 200);
    assert_verbatim(&export.text(), passage);
}

/// The review UI in headless Chromium: the detail pane says what a
/// promotion cites and why, the reviewer picks another message of the
/// thread, `p` promotes and cites it in one request, `u` takes the citation
/// out of the document again.
#[test]
fn the_review_ui_shows_the_answer_and_cites_the_reviewers_choice() {
    let Some(bin) = crate::wd::browser() else {
        return;
    };
    let (dir, users) = crate::review_ui::sample_with_editor();
    users.grant("rita", &[OPS.to_string()]).expect("grant");
    let curation = Curation::open(dir.path(), "http://gleaner.test").expect("curation");
    let policy = ReviewPolicy {
        name: "ops-old".into(),
        lists: vec![OPS.into()],
        older_than: SIX_YEARS.into(),
        age_basis: Default::default(),
        query: None,
        origin: "ui".into(),
    };
    curation.put_policy(&policy, "test").expect("policy");
    let doc = curation
        .create_document(
            DocKind::Procedure,
            "Replica rebuild",
            "rita",
            "Intro.\n",
            "rita",
        )
        .expect("document")
        .id
        .to_string();
    let server = TestServer::start(dir.path(), true);
    let base = format!("http://{}", server.addr);
    let s = Session::new(&bin, "promote-ui", Duration::from_secs(20));
    s.login(&base, "rita", "rita pw");
    s.go(&format!("{base}/review/ops-old?year=2019"));
    s.wait("document.querySelectorAll('li.queue-item').length >= 1");
    s.js("Array.from(document.querySelectorAll('li.queue-item')).find(li => li.textContent.includes('Database replication lag')).click();");
    s.wait("(document.querySelector('#qd-subject') || {}).textContent?.includes('Database replication lag')");
    let why = s.text("document.querySelector('#qd-answer-why').textContent");
    assert!(
        why.contains("confirmed by the asker (") && why.contains(") on 2019-06-03: “"),
        "{why}"
    );
    assert_eq!(s.text("document.querySelector('#qd-cite').value"), ANSWER);
    // The explanation quotes the confirmation; the score's scale is explained.
    let explain = s.text("document.querySelector('#qd-explain').textContent");
    assert!(
        explain.contains("the asker confirmed a fix after someone else's answer: “"),
        "{explain}"
    );
    let scale = s.text("document.querySelector('#qd-scale').textContent");
    assert!(
        scale.contains("sum of the points") && scale.contains("Below 0: sinks"),
        "{scale}"
    );
    s.shot("promote-answer");

    // The reviewer cites the question instead.
    s.click("#qd-cite");
    s.wait("document.querySelectorAll('#qd-cite option').length >= 3");
    s.js(&format!(
        "const sel = document.querySelector('#qd-cite'); sel.value = {}; sel.dispatchEvent(new Event('change'));",
        json!(QUESTION)
    ));
    s.js("document.querySelector('#queue-list').focus();");
    s.keys("p");
    s.wait("document.querySelector('#promote-dialog').open");
    s.keys(DOWN); // "no document" -> the document
    s.keys(ENTER);
    s.wait("document.querySelector('#review-status').textContent.includes('cited in')");
    let cites = curation.citations(&doc).expect("citations");
    assert_eq!(cites.len(), 1, "{cites:?}");
    assert_eq!(cites[0].cited.message_id, QUESTION);

    // Undo in the UI removes the citation with the decision.
    s.js("document.querySelector('#queue-list').focus();");
    s.keys("u");
    s.wait("document.querySelector('#queue-progress').dataset.done === '0'");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !curation.citations(&doc).expect("citations").is_empty() {
        assert!(std::time::Instant::now() < deadline, "the citation stayed");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(curation.document(&doc).expect("doc").body, "Intro.\n");
}

/// Several selected threads promoted into a document in one request: each
/// cites its proposed answer, and one undo takes every citation back.
#[test]
fn several_threads_promoted_at_once_are_cited_and_undone_together() {
    let dir = common::tempdir();
    let server = sample_server(dir.path());
    let (ada, rita, ed) = (
        login(&server, "ada"),
        login(&server, "rita"),
        login(&server, "ed"),
    );
    put_ops_policy(&ada);
    let q = rita.ok("GET", "/api/review/queues/ops-old?limit=3", &json!({}));
    let items = q["items"].as_array().expect("items");
    let threads: Vec<&str> = items
        .iter()
        .map(|i| i["thread_id"].as_str().expect("thread"))
        .collect();
    let answers: Vec<&str> = items
        .iter()
        .map(|i| i["answer_message_id"].as_str().expect("answer"))
        .collect();
    assert_eq!(threads.len(), 3);
    let doc = new_doc(&ed, "Three answers");
    let promoted = rita.ok(
        "POST",
        "/api/review/queues/ops-old/decisions",
        &json!({"threads": threads, "decision": "promote", "cite_into": doc.to_string()}),
    );
    let cited: Vec<&str> = promoted["citations"]
        .as_array()
        .expect("citations")
        .iter()
        .map(|c| c["message_id"].as_str().expect("message id"))
        .collect();
    assert_eq!(cited, answers, "{promoted}");
    let read = ed.ok("GET", &format!("/api/docs/{doc}"), &json!({}));
    assert_eq!(read["citations"].as_array().map(Vec::len), Some(3));
    // A message or passage goes with one thread only.
    let mixed = rita.send(
        "POST",
        "/api/review/queues/ops-old/decisions",
        &json!({"threads": threads, "decision": "promote", "cite_into": doc.to_string(),
                "message_id": answers[0]}),
    );
    assert_eq!(mixed.status, 400);

    let undone = rita.ok("POST", "/api/review/queues/ops-old/undo", &json!({}));
    assert_eq!(
        undone["uncited"].as_array().map(Vec::len),
        Some(3),
        "{undone}"
    );
    let read = ed.ok("GET", &format!("/api/docs/{doc}"), &json!({}));
    assert_eq!(read["citations"], json!([]));
    assert_eq!(read["document"]["body"], "Intro.\n", "{read}");
}
