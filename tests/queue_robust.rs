//! A review queue over an archive with re-delivered duplicates (deleted
//! documents still counted in term statistics) keeps working after a
//! promotion, in the web API and the CLI; `review undo` says whose batches
//! exist when the caller has none.

use std::path::Path;

use gleaner::access::{Role, Users};
use gleaner::index::MailIndex;
use serde_json::json;

use crate::common::{self, gleaner, gleaner_ok, http, TestServer};

const LIST: &str = "ops.lists.example.org";

fn write_mail(maildir: &Path) {
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(maildir.join(sub)).unwrap();
    }
    for (i, subject) in [
        "disk quota",
        "filesystem full",
        "quota warnings",
        "backup disk",
    ]
    .iter()
    .enumerate()
    {
        let m = format!(
            "From: Ann <ann{i}@example.org>\nTo: {LIST}\nList-Id: <{LIST}>\nSubject: {subject}\n\
             Date: Mon, 2 Mar 2015 1{i}:00:00 +0000\nMessage-ID: <m{i}@example.org>\n\n\
             The disk quota on the filesystem ran out; raise the disk quota and run\n\
             quotacheck -avug to fix the filesystem quota files.\n"
        );
        // The list delivered each message twice.
        std::fs::write(maildir.join(format!("cur/{i}a:2,S")), &m).unwrap();
        std::fs::write(maildir.join(format!("cur/{i}b:2,S")), &m).unwrap();
    }
}

#[test]
fn a_promotion_in_an_archive_with_duplicates_keeps_the_queue_working() {
    let dir = common::tempdir();
    let data = dir.path();
    let maildir = data.join("mail");
    write_mail(&maildir);
    gleaner_ok(data, &["index", maildir.to_str().unwrap()]);
    {
        // The situation that broke the queue: term statistics count deleted
        // documents (the rewritten first copies), the document count does not.
        let index = MailIndex::open(&data.join("index"), false).unwrap();
        let searcher = index.reader.searcher();
        let max_doc: u32 = searcher.segment_readers().iter().map(|s| s.max_doc()).sum();
        assert_eq!(searcher.num_docs(), 4);
        assert!(max_doc > 4, "deleted documents remain: {max_doc}");
    }
    let users = Users::open(data).unwrap();
    users
        .add_user("ada", Role::Admin, "correct horse battery")
        .unwrap();
    drop(users);
    let server = TestServer::start(data, true);
    let (cookie, csrf) = server.login("ada", "correct horse battery");
    let send = |method: &str, path: &str, body: serde_json::Value| {
        http(
            server.addr,
            method,
            path,
            &[
                ("Cookie", &cookie),
                ("X-CSRF-Token", &csrf),
                ("Content-Type", "application/json"),
            ],
            body.to_string().as_bytes(),
        )
    };
    let put = send(
        "PUT",
        "/api/review/policies/old",
        json!({"lists": [LIST], "older_than": "1y"}),
    );
    assert_eq!(put.status, 200, "{}", put.text());
    let queue = send("GET", "/api/review/queues/old?limit=100", json!({}));
    assert_eq!(queue.status, 200, "{}", queue.text());
    let items = queue.json()["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 4);
    let thread = items[0]["thread_id"].as_str().unwrap().to_string();
    let decided = send(
        "POST",
        "/api/review/queues/old/decisions",
        json!({"threads": [thread], "decision": "promote"}),
    );
    assert_eq!(decided.status, 200, "{}", decided.text());
    // No decision on a thread the queue does not hold.
    let made_up = send(
        "POST",
        "/api/review/queues/old/decisions",
        json!({"threads": ["no-such-thread@example.org"], "decision": "dismiss"}),
    );
    assert_eq!(made_up.status, 404, "{}", made_up.text());
    // After a promotion, likeness to it is computed for every item.
    let after = send("GET", "/api/review/queues/old?limit=100", json!({}));
    assert_eq!(after.status, 200, "{}", after.text());
    let rest = after.json()["items"].as_array().unwrap().clone();
    assert_eq!(rest.len(), 3, "{rest:?}");
    assert!(
        rest.iter().any(|i| i.to_string().contains(&thread)),
        "the others are like the promoted thread: {rest:?}"
    );
    drop(server);

    let out = gleaner(data, &["review", "queue", "old"]);
    assert!(
        out.status.success(),
        "CLI queue: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let undo = gleaner(data, &["review", "undo", "old", "--by", "cli:nobody"]);
    assert!(!undo.status.success());
    let why = String::from_utf8_lossy(&undo.stderr);
    assert!(
        why.contains("ada") && why.contains("--by"),
        "undo names whose batches exist: {why}"
    );
    let undone = gleaner(data, &["review", "undo", "old", "--by", "ada"]);
    assert!(
        undone.status.success(),
        "{}",
        String::from_utf8_lossy(&undone.stderr)
    );
}
