//! Issue 19 items 2 and 3, reading mail in context: the message API's
//! surroundings (the message answered, the thread outline with previous and
//! next, the neighbours in a search's results, the search's words highlighted
//! with the index's own analysis), and what a restricted reader may see of
//! them. The pages themselves are tested in `reading_ui.rs`.

use gleaner::access::{Role, Users};
use serde_json::{json, Value};
use std::path::Path;

use crate::common::{self, enc, get, TestServer};

/// The highlighted texts of `part` of a message answer (UTF-16 ranges).
fn marked(msg: &Value, part: &str) -> Vec<String> {
    let text: Vec<u16> = msg[part].as_str().unwrap_or("").encode_utf16().collect();
    msg["highlights"][part]
        .as_array()
        .unwrap_or(&Vec::new())
        .iter()
        .map(|r| {
            let (a, b) = (
                r[0].as_u64().unwrap() as usize,
                r[1].as_u64().unwrap() as usize,
            );
            String::from_utf16(&text[a..b]).unwrap()
        })
        .collect()
}

fn api(server: &TestServer, cookie: &str, path: &str) -> Value {
    let res = get(server.addr, path, &[("Cookie", cookie)]);
    assert_eq!(res.status, 200, "{path}: {}", res.text());
    res.json()
}

/// The first hit's Message-ID for `q` through the API.
fn first_hit(server: &TestServer, cookie: &str, q: &str) -> String {
    let found = api(server, cookie, &format!("/api/search?q={}&limit=3", enc(q)));
    found["hits"][0]["message_id"].as_str().unwrap().to_string()
}

/// A server over `data` (indexed) with login and one admin, `ada` (password `pw`).
pub fn admin_server(data: &Path) -> TestServer {
    Users::open(data)
        .unwrap()
        .add_user("ada", Role::Admin, "pw")
        .unwrap();
    TestServer::start(data, true)
}

/// [`admin_server`] over the sample corpus.
pub fn sample_server() -> (tempfile::TempDir, TestServer) {
    let dir = common::tempdir();
    common::index_paths(dir.path(), &[common::sample()]);
    let server = admin_server(dir.path());
    (dir, server)
}

#[test]
fn message_highlights_follow_the_index_analysis_stems_folding_and_cjk() {
    let (_dir, server) = sample_server();
    let (cookie, _) = server.login("ada", "pw");
    // Stemmed: "restarting" finds and marks "restarted".
    let id = first_hit(&server, &cookie, "restarting");
    let msg = api(
        &server,
        &cookie,
        &format!("/api/messages/{}?q=restarting", enc(&id)),
    );
    let body = marked(&msg, "body");
    assert!(!body.is_empty(), "{msg}");
    assert!(
        body.iter().all(|w| w.to_lowercase().starts_with("restart")),
        "{body:?}"
    );
    assert!(body.iter().any(|w| w == "restarted"), "{body:?}");
    // Case and accents folded: "DEJA" marks "déjà" (in the quoted text: the
    // quote is indexed folded, not stemmed).
    let id = first_hit(&server, &cookie, "DEJA");
    let msg = api(
        &server,
        &cookie,
        &format!("/api/messages/{}?q=DEJA", enc(&id)),
    );
    let all: Vec<String> = ["body", "quoted"]
        .iter()
        .flat_map(|p| marked(&msg, p))
        .collect();
    assert!(all.iter().any(|w| w == "déjà"), "{all:?}");
    // CJK: the bigram inside a longer run of Han characters.
    let id = first_hit(&server, &cookie, "検索");
    let msg = api(
        &server,
        &cookie,
        &format!("/api/messages/{}?q={}", enc(&id), enc("検索")),
    );
    let body = marked(&msg, "body");
    assert!(
        !body.is_empty() && body.iter().all(|w| w == "検索"),
        "{body:?}"
    );
    assert!(
        msg["body"].as_str().unwrap().contains("で検索"),
        "inside a run: {msg}"
    );
    // rank=0 and outline=0 (the thread page's bodies): highlights only.
    let bare = api(
        &server,
        &cookie,
        &format!(
            "/api/messages/{}?q={}&outline=0&rank=0",
            enc(&id),
            enc("検索")
        ),
    );
    assert_eq!(bare["highlights"], msg["highlights"]);
    assert!(
        bare["results"].is_null() && bare["thread"].is_null(),
        "{bare}"
    );
    assert!(msg["results"].is_object() && msg["thread"].is_object());
    // Without q nothing is highlighted; a broken q still shows the message.
    let plain = api(&server, &cookie, &format!("/api/messages/{}", enc(&id)));
    assert!(plain["highlights"].is_null() && plain["results"].is_null());
    let broken = api(
        &server,
        &cookie,
        &format!("/api/messages/{}?q={}", enc(&id), enc("(oops")),
    );
    assert!(broken["query_error"].is_string(), "{broken}");
    assert_eq!(broken["message_id"], json!(id));
}

#[test]
fn message_knows_its_thread_outline_parent_and_result_neighbours() {
    let (_dir, server) = sample_server();
    let (cookie, _) = server.login("ada", "pw");
    let q = "restarting";
    let hits = api(
        &server,
        &cookie,
        &format!("/api/search?q={q}&limit=5&sort=date"),
    );
    let ids: Vec<String> = hits["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["message_id"].as_str().unwrap().to_string())
        .collect();
    // Rank 1 (the second hit): its neighbours are hits 0 and 2, with the
    // right rank hint, without (looked up), a wrong one, one off by one (the
    // page checked starts at the message: its previous hit is fetched), and
    // one past the deepest page a search may ask for.
    for hint in ["&at=1", "", "&at=7", "&at=2", "&at=99999999"] {
        let msg = api(
            &server,
            &cookie,
            &format!("/api/messages/{}?q={q}&sort=date{hint}", enc(&ids[1])),
        );
        let r = &msg["results"];
        assert_eq!(r["rank"], json!(1), "{hint}: {r}");
        assert_eq!(r["total"], hits["total"]);
        assert_eq!(r["prev"]["message_id"], json!(ids[0]), "{hint}");
        assert_eq!(r["next"]["message_id"], json!(ids[2]), "{hint}");
    }
    // The outline: every message of the thread once, in the thread page's
    // reading order, the current one marked, prev/next its neighbours there.
    let msg = api(&server, &cookie, &format!("/api/messages/{}", enc(&ids[1])));
    let t = &msg["thread"];
    let rows = t["outline"].as_array().unwrap();
    let thread = api(
        &server,
        &cookie,
        &format!("/api/threads/{}", enc(msg["thread_id"].as_str().unwrap())),
    );
    let mut order = Vec::new();
    fn walk(nodes: &Value, depth: u64, out: &mut Vec<(String, u64)>) {
        for n in nodes.as_array().unwrap() {
            out.push((n["key"].as_str().unwrap().to_string(), depth));
            walk(&n["children"], depth + 1, out);
        }
    }
    walk(&thread["messages"], 0, &mut order);
    // With ?q= each message says whether the query matches it: exactly the
    // hits of the same search within the thread.
    let tid = msg["thread_id"].as_str().unwrap();
    let with_q = api(
        &server,
        &cookie,
        &format!("/api/threads/{}?q={q}", enc(tid)),
    );
    let mut flagged = Vec::new();
    fn flags(nodes: &Value, out: &mut Vec<String>) {
        for n in nodes.as_array().unwrap() {
            assert!(n["matched"].is_boolean(), "{n}");
            if n["matched"] == json!(true) {
                out.push(n["key"].as_str().unwrap().to_string());
            }
            flags(&n["children"], out);
        }
    }
    flags(&with_q["messages"], &mut flagged);
    let within = api(
        &server,
        &cookie,
        &format!(
            "/api/search?q={}&limit=100",
            enc(&format!("thread:\"{tid}\" {q}"))
        ),
    );
    let mut expected: Vec<String> = within["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["key"].as_str().unwrap().to_string())
        .collect();
    flagged.sort();
    expected.sort();
    assert!(!expected.is_empty());
    assert_eq!(flagged, expected);
    assert!(thread["messages"][0]["matched"].is_null(), "no q, no flag");
    assert!(order.len() > 2, "a real conversation: {order:?}");
    assert_eq!(t["len"], json!(order.len()));
    let outline: Vec<(String, u64)> = rows
        .iter()
        .map(|r| {
            (
                r["key"].as_str().unwrap().to_string(),
                r["depth"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(outline, order);
    let pos = t["position"].as_u64().unwrap() as usize;
    assert_eq!(order[pos].0, msg["key"].as_str().unwrap());
    let current: Vec<&Value> = rows
        .iter()
        .filter(|r| r["current"] == json!(true))
        .collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["key"], msg["key"]);
    let key_of = |v: &Value| v["key"].as_str().map(str::to_string);
    assert_eq!(
        key_of(&t["prev"]),
        pos.checked_sub(1).map(|p| order[p].0.clone())
    );
    assert_eq!(key_of(&t["next"]), order.get(pos + 1).map(|n| n.0.clone()));
    assert!(rows.iter().all(|r| r["first_line"].is_string()));
    // "In reply to" by author and subject: the message its In-Reply-To names.
    let irt = msg["in_reply_to"].as_str().unwrap();
    if !irt.is_empty() {
        let parent = api(&server, &cookie, &format!("/api/messages/{}", enc(irt)));
        assert_eq!(msg["parent"]["key"], parent["key"]);
        assert_eq!(msg["parent"]["subject"], parent["subject"]);
        assert_eq!(msg["parent"]["from"], parent["from"][0]);
    }
}

const PUB: &str = "pub.lists.example.org";
const SECRET: &str = "secret.lists.example.org";

/// Writes a three-message conversation: a question on the public list, an
/// answer on the secret one, a follow-up on the public one answering it.
fn write_split_thread(root: &Path) {
    let msgs = [
        (
            PUB,
            "q1",
            "",
            "Mon, 2 Mar 2015 10:00:00 +0000",
            "Which walrus config do we use?",
        ),
        (
            SECRET,
            "a1",
            "q1",
            "Mon, 2 Mar 2015 11:00:00 +0000",
            "The walrus secret is hunter2.",
        ),
        (
            PUB,
            "f1",
            "a1",
            "Mon, 2 Mar 2015 12:00:00 +0000",
            "Thanks, the walrus works now.",
        ),
    ];
    for (i, (list, id, parent, date, body)) in msgs.iter().enumerate() {
        let dir = root.join(list);
        for sub in ["cur", "new", "tmp"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        let reply = if parent.is_empty() {
            String::new()
        } else {
            format!("In-Reply-To: <{parent}@example.org>\nReferences: <q1@example.org>\n")
        };
        let mail = format!(
            "From: Person {i} <p{i}@example.org>\nTo: {list}\nList-Id: <{list}>\n\
             Subject: walrus config\nDate: {date}\nMessage-ID: <{id}@example.org>\n{reply}\n{body}\n"
        );
        std::fs::write(dir.join("cur").join(format!("{i}:2,S")), mail).unwrap();
    }
}

/// A reader of the public list only learns nothing of the secret answer from
/// the follow-up's page: no parent, no outline row, no neighbour — while an
/// admin sees all three.
#[test]
fn a_restricted_reader_sees_no_unreadable_message_around_a_message() {
    let dir = common::tempdir();
    let mail = dir.path().join("mail");
    write_split_thread(&mail);
    common::index_paths(dir.path(), &[mail.join(PUB), mail.join(SECRET)]);
    let users = Users::open(dir.path()).unwrap();
    users.add_user("rita", Role::Reader, "pw").unwrap();
    users.grant("rita", &[PUB.to_string()]).unwrap();
    users.add_user("ada", Role::Admin, "pw").unwrap();
    let server = TestServer::start(dir.path(), true);
    let path = "/api/messages/f1%40example.org?q=walrus&sort=oldest&at=1";

    let (admin, _) = server.login("ada", "pw");
    let all = api(&server, &admin, path);
    assert_eq!(all["parent"]["message_id"], json!("a1@example.org"));
    assert_eq!(all["thread"]["len"], json!(3));
    assert_eq!(all["results"]["rank"], json!(2));
    assert_eq!(
        all["results"]["prev"]["message_id"],
        json!("a1@example.org")
    );

    let (reader, _) = server.login("rita", "pw");
    let seen = api(&server, &reader, path);
    // Her message's own In-Reply-To header names the answer; nothing else may.
    assert_eq!(seen["in_reply_to"], json!("a1@example.org"));
    let mut rest = seen.clone();
    rest["in_reply_to"] = json!("");
    let text = rest.to_string();
    assert!(
        !text.contains("a1@example.org") && !text.contains("hunter2") && !text.contains("Person 1"),
        "{text}"
    );
    assert!(seen["parent"].is_null(), "{seen}");
    assert_eq!(seen["thread"]["len"], json!(2));
    let keys: Vec<&str> = seen["thread"]["outline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["message_id"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["q1@example.org", "f1@example.org"]);
    assert_eq!(
        seen["thread"]["prev"]["message_id"],
        json!("q1@example.org")
    );
    assert_eq!(
        seen["results"]["rank"],
        json!(1),
        "her ranks skip the secret answer"
    );
    assert_eq!(seen["results"]["total"], json!(2));
    assert_eq!(
        seen["results"]["prev"]["message_id"],
        json!("q1@example.org")
    );
    assert!(seen["results"]["next"].is_null());

    // The thread with ?q=: the admin's secret answer matches; the reader's
    // thread has no such message and nothing matches.
    let matched = |cookie: &str| -> Vec<(String, bool)> {
        let t = api(&server, cookie, "/api/threads/q1%40example.org?q=hunter2");
        let mut out = Vec::new();
        fn walk(nodes: &Value, out: &mut Vec<(String, bool)>) {
            for n in nodes.as_array().unwrap() {
                out.push((
                    n["message_id"].as_str().unwrap().into(),
                    n["matched"] == json!(true),
                ));
                walk(&n["children"], out);
            }
        }
        walk(&t["messages"], &mut out);
        out
    };
    let all = matched(&admin);
    assert_eq!(all.iter().filter(|(_, m)| *m).count(), 1, "{all:?}");
    assert!(all.contains(&("a1@example.org".into(), true)), "{all:?}");
    let hers = matched(&reader);
    assert_eq!(
        hers,
        [
            ("q1@example.org".into(), false),
            ("f1@example.org".into(), false)
        ]
    );
}
