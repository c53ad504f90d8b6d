//! Issue 23 item 4, curation under the per-list rule: a review queue's
//! explanations name only threads the reviewer can see, a published
//! document shows a citation only to readers who can see the cited message,
//! and `after_review` retention counts only decisions on threads of the
//! review policy's lists.

use gleaner::curate::{Curation, Decision, ReviewPolicy};
use gleaner::index::MailIndex;
use gleaner::query::limits::Budget;
use serde_json::{json, Value};

use crate::common::{self, asked, tempdir};

const DEV: &str = "dev.lists.example.org";
const OPS: &str = "ops.lists.example.org";

fn policy(name: &str, lists: &[&str]) -> ReviewPolicy {
    serde_json::from_value(json!({"name": name, "lists": lists, "older_than": "6y"}))
        .expect("policy")
}

/// The sample corpus indexed into `dir`, its index and curation database.
fn sample(dir: &std::path::Path) -> (MailIndex, Curation) {
    let (index, _) = common::index_paths(dir, &[common::sample()]);
    let curation = Curation::open(dir, "http://gleaner.test").expect("curation");
    (index, curation)
}

fn queue(c: &Curation, index: &MailIndex, allowed: Option<&[String]>) -> gleaner::curate::Queue {
    c.queue(index, "old", &Default::default(), &asked(allowed))
        .expect("queue")
}

// ---------------------------------------------------------------------------
// Explanations never show what the reviewer cannot see.

#[test]
fn likeness_to_a_promoted_thread_the_reviewer_cannot_see_is_neither_named_nor_scored() {
    let dir = tempdir();
    let (index, c) = sample(dir.path());
    c.put_policy(&policy("old", &[DEV, OPS]), "test")
        .expect("policy");
    let dev = [DEV.to_string()];
    let before = queue(&c, &index, Some(&dev));
    assert!(!before.items.is_empty());
    let admin = queue(&c, &index, None);
    let ops_thread = admin
        .items
        .iter()
        .find(|i| i.facts.list == OPS)
        .map(|i| i.facts.thread_id.clone())
        .expect("an ops thread");
    c.decide(
        "old",
        std::slice::from_ref(&ops_thread),
        Decision::Promote,
        "",
        "owner",
    )
    .expect("promote");
    // Whoever can see it gets threads scored and explained by likeness to it...
    let admin = queue(&c, &index, None);
    assert!(
        admin
            .items
            .iter()
            .any(|i| i.facts.list == DEV && i.facts.similar_to.as_deref() == Some(&ops_thread)),
        "dev threads are like the promoted ops thread"
    );
    // ...the dev reviewer gets the same queue as before, from the cache, and
    // nothing in it names the ops thread or any ops list.
    let after = queue(&c, &index, Some(&dev));
    assert!(
        after.cached,
        "an invisible promotion does not even re-score"
    );
    let scores = |q: &gleaner::curate::Queue| -> Vec<(String, String)> {
        q.items
            .iter()
            .map(|i| (i.facts.thread_id.clone(), format!("{:.9}", i.score)))
            .collect()
    };
    assert_eq!(scores(&before), scores(&after));
    let text = serde_json::to_string(&after.items).expect("json");
    assert!(!text.contains(&ops_thread), "{text}");
    assert!(!text.contains(OPS), "{text}");
    assert!(after.items.iter().all(|i| i.facts.similar_to.is_none()));
    assert!(after.progress.by_list.iter().all(|b| b.key == DEV));
}

// ---------------------------------------------------------------------------
// A published document shows a citation only to whom the message is visible.

const HIDDEN: &str = "A citation to a message you cannot see is hidden.";

fn user_get(server: &common::TestServer, cookie: &str, path: &str) -> common::HttpResponse {
    let res = common::get(server.addr, path, &[("Cookie", cookie)]);
    assert_eq!(res.status, 200, "{path}: {}", res.text());
    res
}

#[test]
fn a_citation_of_a_message_the_reader_cannot_see_is_a_placeholder_everywhere() {
    let dir = tempdir();
    let (index, c) = sample(dir.path());
    let users = gleaner::access::Users::open(dir.path()).expect("users");
    for (name, role, lists) in [
        ("owner", gleaner::access::Role::Admin, vec![]),
        (
            "devread",
            gleaner::access::Role::Reader,
            vec![DEV.to_string()],
        ),
        (
            "deved",
            gleaner::access::Role::Editor,
            vec![DEV.to_string()],
        ),
    ] {
        users.add_user(name, role, "pw").expect("user");
        if !lists.is_empty() {
            users.grant(name, &lists).expect("grant");
        }
    }
    let secret = common::only_on(&index, OPS);
    let public = common::only_on(&index, DEV);
    let doc = c
        .create_document(
            gleaner::curate::DocKind::Procedure,
            "Disk replacement",
            "owner",
            "How we replace disks.",
            "owner",
        )
        .expect("doc");
    let id = doc.id.to_string();
    for m in [&secret, &public] {
        let new = gleaner::curate::NewCitation::from_message(m, None, None).expect("citation");
        c.cite(&id, &new, "owner").expect("cite");
    }
    let update = gleaner::curate::documents::DocUpdate {
        status: Some(gleaner::curate::DocStatus::Published),
        ..Default::default()
    };
    c.save_document(&id, &update, None, "owner")
        .expect("publish");
    let excerpt = |m: &gleaner::index::doc::StoredMessage| {
        gleaner::curate::NewCitation::from_message(m, None, None)
            .expect("citation")
            .excerpt
            .lines()
            .next()
            .expect("a line")
            .to_string()
    };
    let (secret_words, public_words) = (excerpt(&secret), excerpt(&public));
    // A source body places both citations by marker lines, which name
    // nothing; everything rendered shows the hidden one as a placeholder.
    let names_nothing = |what: &str, text: &str| {
        for s in [
            secret_words.as_str(),
            secret.subject.as_str(),
            secret.message_id.as_str(),
            OPS,
        ] {
            assert!(!text.contains(s), "{what} shows {s:?}: {text}");
        }
    };
    let leaks = |what: &str, text: &str| {
        names_nothing(what, text);
        assert!(text.contains(HIDDEN), "{what} has no placeholder: {text}");
        assert!(text.contains(&public_words), "{what} hides the visible one");
    };
    let server = common::TestServer::start(dir.path(), true);
    let (reader, _) = server.login("devread", "pw");
    let got = user_get(&server, &reader, &format!("/api/docs/{id}")).json();
    leaks("the document", &got.to_string());
    let hidden: Vec<&Value> = got["citations"]
        .as_array()
        .expect("citations")
        .iter()
        .filter(|c| c["hidden"] == true)
        .collect();
    assert_eq!(hidden.len(), 1, "{got}");
    assert!(hidden[0].get("subject").is_none() && hidden[0].get("excerpt").is_none());
    for path in ["export.md", "export.html"] {
        let text = user_get(&server, &reader, &format!("/api/docs/{id}/{path}")).text();
        leaks(path, &text);
    }
    let revision = user_get(&server, &reader, &format!("/api/docs/{id}/revisions/3")).text();
    names_nothing("revision 3", &revision);
    assert!(revision.contains("{{cite:"), "{revision}");
    let diff = user_get(
        &server,
        &reader,
        &format!("/api/docs/{id}/diff?from=1&to=3"),
    )
    .text();
    assert!(!diff.contains(&secret_words), "{diff}");
    let tar = user_get(&server, &reader, "/api/docs/published.tar").text();
    leaks("the tar export", &tar);
    // The admin sees every citation.
    let (admin, _) = server.login("owner", "pw");
    let all = user_get(&server, &admin, &format!("/api/docs/{id}")).text();
    assert!(
        all.contains(&secret_words) && !all.contains(HIDDEN),
        "{all}"
    );
    // An editor who cannot see the citation edits around it without losing it.
    let (editor, csrf) = server.login("deved", "pw");
    let seen = user_get(&server, &editor, &format!("/api/docs/{id}")).json();
    let body = seen["document"]["body"].as_str().expect("body");
    names_nothing("the editor's body", body);
    let markers = ["{{cite:1}}", "{{cite:2}}"];
    assert!(markers.iter().all(|m| body.contains(m)), "{body}");
    // Its preview expands them as the editor may see them.
    let preview = common::http(
        server.addr,
        "POST",
        &format!("/api/docs/{id}/preview"),
        &[
            ("Cookie", &editor),
            ("X-CSRF-Token", &csrf),
            ("Content-Type", "application/json"),
        ],
        json!({ "body": body }).to_string().as_bytes(),
    );
    assert_eq!(preview.status, 200, "{}", preview.text());
    leaks("the editor's preview", &preview.text());
    let res = common::http(
        server.addr,
        "PUT",
        &format!("/api/docs/{id}"),
        &[
            ("Cookie", &editor),
            ("X-CSRF-Token", &csrf),
            ("Content-Type", "application/json"),
        ],
        json!({"body": format!("{body}\nChecked again in 2024.\n")})
            .to_string()
            .as_bytes(),
    );
    assert_eq!(res.status, 200, "{}", res.text());
    names_nothing("the saved answer", &res.text());
    let stored = c.document(&id).expect("doc").body;
    assert!(markers.iter().all(|m| stored.contains(m)), "{stored}");
    assert!(stored.contains("Checked again in 2024."), "{stored}");
    assert!(!stored.contains(HIDDEN), "{stored}");
}

// ---------------------------------------------------------------------------
// `after_review` counts only decisions on threads of the review policy's lists.

#[test]
fn after_review_trusts_only_decisions_on_threads_of_the_policys_lists() {
    let dir = tempdir();
    let (index, c) = sample(dir.path());
    c.put_policy(&policy("old", &[OPS]), "test")
        .expect("policy");
    let now = gleaner::db::now();
    let waiting = |c: &Curation| -> std::collections::BTreeSet<String> {
        c.undecided(&index, "old", now, &Budget::job())
            .expect("undecided")
            .into_iter()
            .collect()
    };
    let all = waiting(&c);
    assert!(all.len() > 3);
    // Decisions the review API would refuse, recorded straight into the
    // database (as an older version or the CLI could): a made-up id, a
    // thread of a list the policy does not cover, and the Message-ID of a
    // message of that list.
    let other = queue_of(&c, &index, DEV);
    let dev_message = common::only_on(&index, DEV);
    let forged = vec![
        "made-up@nowhere".to_string(),
        other.clone(),
        dev_message.message_id.clone(),
        format!("<{}>", dev_message.message_id),
    ];
    c.decide("old", &forged, Decision::Dismiss, "", "intruder")
        .expect("recorded");
    assert_eq!(waiting(&c), all, "no forged decision lets mail through");
    // A decision on a thread of the queue does.
    let decided = all.iter().next().expect("a thread").clone();
    c.decide(
        "old",
        std::slice::from_ref(&decided),
        Decision::Keep,
        "",
        "rev",
    )
    .expect("decide");
    let mut expected = all.clone();
    expected.remove(&decided);
    assert_eq!(waiting(&c), expected);
}

/// A thread of `list`'s own queue (a policy named after it).
fn queue_of(c: &Curation, index: &MailIndex, list: &str) -> String {
    c.put_policy(&policy("probe", &[list]), "test")
        .expect("policy");
    let q = c
        .queue(index, "probe", &Default::default(), &asked(None))
        .expect("queue");
    q.items
        .iter()
        .find(|i| i.facts.list == list)
        .map(|i| i.facts.thread_id.clone())
        .expect("a thread")
}
