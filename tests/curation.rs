//! The knowledge-harvest workflow end to end over the JSON API and the CLI,
//! against a real server, a real index of `corpus/sample` and a real SQLite
//! file: policy → queue → decisions (and undo) → a document with citations →
//! exports with the cited Message-IDs and permalinks → `gleaner rebuild`
//! keeps every decision and citation.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use gleaner::access::{Role, Users};
use gleaner::query::{self, Request, Sort};
use serde_json::{json, Value};

use crate::common::{self, enc, get, http, TestServer};

pub(crate) const OPS: &str = "ops.lists.example.org";
pub(crate) const SIX_YEARS: &str = "6y";

pub(crate) struct Client<'a> {
    server: &'a TestServer,
    cookie: String,
    csrf: String,
}

impl Client<'_> {
    pub(crate) fn get(&self, path: &str) -> common::HttpResponse {
        get(self.server.addr, path, &[("Cookie", &self.cookie)])
    }

    pub(crate) fn send(&self, method: &str, path: &str, body: &Value) -> common::HttpResponse {
        http(
            self.server.addr,
            method,
            path,
            &[
                ("Cookie", &self.cookie),
                ("X-CSRF-Token", &self.csrf),
                ("Content-Type", "application/json"),
            ],
            body.to_string().as_bytes(),
        )
    }

    pub(crate) fn ok(&self, method: &str, path: &str, body: &Value) -> Value {
        let res = if method == "GET" {
            self.get(path)
        } else {
            self.send(method, path, body)
        };
        assert_eq!(res.status, 200, "{method} {path}: {}", res.text());
        res.json()
    }
}

pub(crate) fn login<'a>(server: &'a TestServer, user: &str) -> Client<'a> {
    let (cookie, csrf) = server.login(user, "correct horse battery");
    Client {
        server,
        cookie,
        csrf,
    }
}

fn add_users(data: &Path) {
    let users = Users::open(data).expect("users");
    for (name, role) in [
        ("ada", Role::Admin),
        ("rita", Role::Reviewer),
        ("ed", Role::Editor),
        ("rob", Role::Reader),
    ] {
        users
            .add_user(name, role, "correct horse battery")
            .expect("add user");
    }
    for name in ["rob", "rita", "ed"] {
        users.grant(name, &[OPS.to_string()]).expect("grant");
    }
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn all_matches(server: &TestServer, q: &str) -> Vec<gleaner::index::doc::StoredMessage> {
    let req = Request {
        query: q.into(),
        limit: 1,
        offset: 0,
        sort: Sort::Relevance,
        now: now(),
        allowed_lists: None,
        marks: None,
    };
    let mut out = Vec::new();
    query::for_each_match(&server.index, &req, |m| {
        out.push(m);
        true
    })
    .expect("scan");
    out
}

/// Threads of `list` whose newest message is dated before `cutoff`, computed
/// from the stored messages (not through the harvest code).
fn expected_threads(server: &TestServer, cutoff: i64) -> BTreeSet<String> {
    let mut newest: HashMap<String, i64> = HashMap::new();
    for m in all_matches(server, &format!("list:{OPS}")) {
        let e = newest.entry(m.thread_id.clone()).or_insert(0);
        *e = (*e).max(m.date);
    }
    newest
        .into_iter()
        .filter(|(_, d)| *d > 0 && *d < cutoff)
        .map(|(t, _)| t)
        .collect()
}

fn ids(items: &Value) -> Vec<String> {
    items
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["thread_id"].as_str().expect("thread_id").to_string())
        .collect()
}

/// The review policy `ops-old`: ops threads older than six years, by date.
pub(crate) fn put_ops_policy(admin: &Client<'_>) {
    admin.ok(
        "PUT",
        "/api/review/policies/ops-old",
        &json!({"lists": [OPS], "older_than": SIX_YEARS, "age_basis": "date"}),
    );
}

/// The sample indexed into `data`, the test users added, a server with login.
pub(crate) fn sample_server(data: &Path) -> TestServer {
    common::gleaner_ok(
        data,
        &["index", common::sample().to_str().expect("utf-8 path")],
    );
    add_users(data);
    TestServer::start(data, true)
}

#[test]
fn policy_queue_decisions_document_export_and_rebuild() {
    let dir = common::tempdir();
    let data = dir.path();
    let server = sample_server(data);
    let (ada, rita, ed, rob) = (
        login(&server, "ada"),
        login(&server, "rita"),
        login(&server, "ed"),
        login(&server, "rob"),
    );

    // Policies: admins only; a bad age is a clear 400.
    let bad = ada.send(
        "PUT",
        "/api/review/policies/ops-old",
        &json!({"lists": [OPS], "older_than": "six years"}),
    );
    assert_eq!(bad.status, 400);
    assert!(bad.json()["error"].as_str().unwrap().contains("bad age"));
    let by_reviewer = rita.send(
        "PUT",
        "/api/review/policies/ops-old",
        &json!({"lists": [OPS], "older_than": SIX_YEARS}),
    );
    assert_eq!(by_reviewer.status, 403);
    put_ops_policy(&ada);
    assert_eq!(rob.get("/api/review/policies").status, 403);

    // The queue: exactly the ops threads whose newest message is older than 6 years.
    let q = rita.ok("GET", "/api/review/queues/ops-old?limit=1000", &json!({}));
    let cutoff = q["cutoff"].as_i64().unwrap();
    let age = now() - cutoff;
    assert!((6 * 365 * 86_400..=6 * 366 * 86_400 + 86_400).contains(&age));
    let queue = ids(&q["items"]);
    let expected = expected_threads(&server, cutoff);
    assert!(expected.len() > 20, "the sample has old ops threads");
    assert_eq!(
        queue.iter().cloned().collect::<BTreeSet<_>>(),
        expected,
        "queue membership"
    );
    assert_eq!(queue.len(), expected.len(), "no thread twice");
    assert_eq!(
        q["progress"]["total"].as_u64().unwrap() as usize,
        queue.len()
    );
    let scores: Vec<f64> = q["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["score"].as_f64().unwrap())
        .collect();
    assert!(
        scores.windows(2).all(|w| w[0] >= w[1]),
        "best candidates first"
    );

    // Decisions, a bulk batch, and undo of that batch.
    let decide = |threads: &[&String], decision: &str| {
        rita.ok(
            "POST",
            "/api/review/queues/ops-old/decisions",
            &json!({"threads": threads, "decision": decision, "note": "checked"}),
        )
    };
    decide(&[&queue[0]], "dismiss");
    decide(&[&queue[1]], "keep");
    decide(&[&queue[2]], "promote");
    let bulk = decide(&[&queue[3], &queue[4]], "dismiss");
    assert_eq!(bulk["progress"]["done"], 5);
    let undone = rita.ok("POST", "/api/review/queues/ops-old/undo", &json!({}));
    assert_eq!(
        ids_of_strings(&undone["threads"]),
        BTreeSet::from([queue[3].clone(), queue[4].clone()])
    );
    assert_eq!(undone["progress"]["done"], 3);
    assert_eq!(undone["progress"]["promote"], 1);
    let bad_decision = rita.send(
        "POST",
        "/api/review/queues/ops-old/decisions",
        &json!({"threads": [queue[5]], "decision": "maybe"}),
    );
    assert_eq!(bad_decision.status, 400);
    assert_eq!(
        rob.send(
            "POST",
            "/api/review/queues/ops-old/decisions",
            &json!({"threads": [queue[5]], "decision": "keep"})
        )
        .status,
        403
    );
    // The default page shows undecided threads only; all=1 shows decisions.
    let open = ids(&rita.ok("GET", "/api/review/queues/ops-old?limit=1000", &json!({}))["items"]);
    assert_eq!(open.len(), queue.len() - 3);
    assert!(!open.contains(&queue[0]) && open.contains(&queue[3]));
    let decided = decisions_of(&rita);
    assert_eq!(decided.get(&queue[0]).map(String::as_str), Some("dismiss"));
    assert_eq!(decided.get(&queue[1]).map(String::as_str), Some("keep"));
    assert_eq!(decided.get(&queue[2]).map(String::as_str), Some("promote"));
    assert_eq!(decided.len(), 3);

    // A document: editors create, reviewers cite the promoted thread, editors cite a passage.
    assert_eq!(
        rita.send(
            "POST",
            "/api/docs",
            &json!({"kind": "procedure", "title": "x"})
        )
        .status,
        403
    );
    let doc = ed.ok(
        "POST",
        "/api/docs",
        &json!({"kind": "procedure", "title": "Kernel upgrades on web hosts", "body": "Intro.\n"}),
    )["document"]
        .clone();
    let doc_id = doc["id"].as_i64().unwrap();
    let slug = doc["slug"].as_str().unwrap().to_string();
    assert_eq!(slug, "kernel-upgrades-on-web-hosts");
    let c1 = rita.ok(
        "POST",
        &format!("/api/docs/{doc_id}/citations"),
        &json!({"thread_id": queue[2]}),
    );
    let cited_thread_msg = c1["citation"]["message_id"].as_str().unwrap().to_string();
    let other = all_matches(&server, &format!("list:{OPS} \"root cause\""))
        .into_iter()
        .find(|m| m.thread_id != queue[2] && !m.message_id.is_empty())
        .expect("a message mentioning a root cause");
    let passage = other
        .text
        .lines()
        .find(|l| l.len() > 20)
        .unwrap_or("x")
        .to_string();
    let c2 = ed.ok(
        "POST",
        &format!("/api/docs/{slug}/citations"),
        &json!({"message_id": other.message_id, "passage": passage}),
    );
    assert_eq!(c2["document"]["revision"], 3);
    // Words the message does not hold are not a citation of it.
    let forged = ed.send(
        "POST",
        &format!("/api/docs/{slug}/citations"),
        &json!({"message_id": other.message_id, "passage": "we never back up the database"}),
    );
    assert_eq!(forged.status, 400, "{}", forged.text());
    assert!(
        forged.text().contains("does not occur"),
        "{}",
        forged.text()
    );
    let full = ed.ok("GET", &format!("/api/docs/{doc_id}"), &json!({}));
    // The body places each citation by its marker line; the rendering
    // quotes it there, once, with its footnote.
    let body = full["document"]["body"].as_str().unwrap();
    assert!(body.contains(&format!("{{{{cite:{}}}}}", c1["citation"]["id"])));
    let html = full["html"].as_str().unwrap();
    assert!(
        html.contains(&format!("c{}", c1["citation"]["id"])),
        "{html}"
    );
    assert_eq!(html.matches(passage.trim()).count(), 1, "{html}");

    // Readers see published documents only; a stale save is a 409.
    assert!(rob.ok("GET", "/api/docs", &json!({}))["documents"]
        .as_array()
        .unwrap()
        .is_empty());
    let stale = ed.send(
        "PUT",
        &format!("/api/docs/{doc_id}"),
        &json!({"status": "published", "base_revision": 1}),
    );
    assert_eq!(stale.status, 409, "{}", stale.text());
    ed.ok(
        "PUT",
        &format!("/api/docs/{doc_id}"),
        &json!({"status": "published", "base_revision": 3}),
    );
    assert_eq!(
        rob.ok("GET", "/api/docs", &json!({}))["documents"][0]["id"],
        doc_id
    );
    let diff = ed.ok(
        "GET",
        &format!("/api/docs/{doc_id}/diff?from=1&to=2"),
        &json!({}),
    );
    assert!(diff["lines"]
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l["op"] == "+" && l["text"].as_str().unwrap().contains("{{cite:")));

    // Exports carry every cited Message-ID and its permalink; HTML runs nothing.
    let cited = [cited_thread_msg.clone(), other.message_id.clone()];
    let md = ed.get(&format!("/api/docs/{doc_id}/export.md")).text();
    let html = ed.get(&format!("/api/docs/{slug}/export.html")).text();
    for id in &cited {
        assert!(md.contains(&format!("(Message-ID: <{id}>)")), "{md}");
        let link = format!(
            "http://gleaner.test/m/{}",
            gleaner::curate::percent_encode(id)
        );
        assert!(md.contains(&link), "{md}");
        assert!(html.contains(&link));
    }
    assert!(!html.contains("<script"));
    let tar = ed.get("/api/docs/published.tar");
    assert_eq!(tar.status, 200);
    assert!(String::from_utf8_lossy(&tar.body).contains(&format!("{slug}.md")));

    // is:cited and cited:<doc> find exactly the cited messages; messages say where they are cited.
    for q in [
        "is:cited".to_string(),
        format!("cited:{slug}"),
        format!("cited:{doc_id}"),
    ] {
        let found = search_ids(&ada, &q);
        assert_eq!(found, cited.iter().cloned().collect::<BTreeSet<_>>(), "{q}");
    }
    let unknown = ada.get(&format!("/api/search?q={}", enc("cited:no-such-doc")));
    assert_eq!(unknown.status, 400);
    assert!(unknown.text().contains("no document"));
    let m = ada.ok(
        "GET",
        &format!("/api/messages/{}", enc(&other.message_id)),
        &json!({}),
    );
    assert_eq!(m["cited_in"][0]["slug"], slug.as_str());

    // The audit log recorded all of it and its chain is intact.
    let audit = ada.ok("GET", "/api/audit?limit=1000", &json!({}));
    assert_eq!(audit["verification"]["first_bad"], Value::Null);
    let actions: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for a in [
        "user.add",
        "user.grant",
        "review.policy.put",
        "review.decide",
        "review.undo",
        "doc.create",
        "doc.cite",
        "doc.save",
    ] {
        assert!(actions.contains(&a), "{a} in {actions:?}");
    }
    assert_eq!(rita.get("/api/audit").status, 403);
    drop(server);

    // Rebuild the index from the mail: decisions and citations survive.
    common::gleaner_ok(data, &["rebuild"]);
    let server = TestServer::start(data, true);
    let rita = login(&server, "rita");
    let after = decisions_of(&rita);
    assert_eq!(after, decided);
    let ada = login(&server, "ada");
    assert_eq!(
        search_ids(&ada, "is:cited"),
        cited.iter().cloned().collect::<BTreeSet<_>>()
    );
    let cli = common::gleaner_ok(data, &["doc", "export", &slug, "--format", "md"]);
    for id in &cited {
        assert!(cli.contains(&format!("<{id}>")));
    }
    let lines = common::gleaner_ok(
        data,
        &[
            "review", "queue", "ops-old", "--json", "--all", "--limit", "0",
        ],
    );
    let from_cli: BTreeMap<String, Value> = lines
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("json line"))
        .map(|v| (v["thread_id"].as_str().unwrap().to_string(), v))
        .collect();
    assert_eq!(from_cli.len(), queue.len());
    assert_eq!(from_cli[&queue[2]]["decision"]["decision"], "promote");
    assert!(from_cli[&queue[0]]["explain"].is_array());
    let verify = common::gleaner_ok(data, &["audit", "verify"]);
    assert!(verify.contains("intact"), "{verify}");
}

fn ids_of_strings(v: &Value) -> BTreeSet<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

fn decisions_of(c: &Client<'_>) -> BTreeMap<String, String> {
    c.ok(
        "GET",
        "/api/review/queues/ops-old?limit=1000&all=1",
        &json!({}),
    )["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| !i["decision"].is_null())
        .map(|i| {
            (
                i["thread_id"].as_str().unwrap().to_string(),
                i["decision"]["decision"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn search_ids(c: &Client<'_>, q: &str) -> BTreeSet<String> {
    let v = c.ok(
        "GET",
        &format!("/api/search?q={}&limit=100", enc(q)),
        &json!({}),
    );
    v["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["message_id"].as_str().unwrap().to_string())
        .collect()
}

/// Every queue item's explanation adds up to its score, and its signals are
/// what the thread's messages, extracted again from the mail files, contain.
#[test]
fn queue_explanations_match_the_threads_signals() {
    let dir = common::tempdir();
    let data = dir.path();
    common::index_paths(data, &[common::sample()]);
    let server = TestServer::start(data, false);
    let open = Client {
        server: &server,
        cookie: String::new(),
        csrf: get(server.addr, "/api/me", &[]).json()["csrf_token"]
            .as_str()
            .unwrap()
            .to_string(),
    };
    open.ok(
        "PUT",
        "/api/review/policies/all-old",
        &json!({"older_than": "6y"}),
    );
    let q = open.ok("GET", "/api/review/queues/all-old?limit=1000", &json!({}));
    let items = q["items"].as_array().unwrap();
    assert!(items.len() > 100);
    for item in items {
        let parts = item["explain"].as_array().unwrap();
        let sum: f64 = parts.iter().map(|p| p["points"].as_f64().unwrap()).sum();
        assert!((sum - item["score"].as_f64().unwrap()).abs() < 1e-9);
        let num = |k: &str| item[k].as_f64().unwrap();
        let yes = |b: bool| if b { 1.0 } else { 0.0 };
        let flag = |k: &str| yes(item[k].as_bool().unwrap());
        for p in parts {
            let signal = p["signal"].as_str().unwrap();
            assert!(!p["unit"].as_str().unwrap().is_empty(), "{signal}");
            let expected = match signal {
                "code" => num("reply_code"),
                "machine_output" => num("machine"),
                "links" => num("links") - num("doc_links"),
                "long" => num("messages"),
                "confirmed" | "answered" | "bot" => flag(signal),
                "announcement" => flag("announce"),
                "unanswered" => yes(flag("question") == 1.0 && flag("answered") == 0.0),
                "frequent_answerer" => yes(num("expert_replies") > 0.0),
                other => num(other),
            };
            assert_eq!(p["value"].as_f64().unwrap(), expected, "{signal}");
        }
    }
    // Recompute the signals of the best 15 threads from the raw mail.
    for item in items.iter().take(15) {
        let thread = item["thread_id"].as_str().unwrap();
        let msgs = all_matches(&server, &format!("thread:\"{thread}\""));
        let (mut confirm, mut steps, mut code, mut links) = (0, 0, 0, 0);
        let mut senders = BTreeSet::new();
        for m in &msgs {
            let raw = gleaner::store::read_first(&m.locations).expect("readable");
            let doc = gleaner::extract::extract(&raw, &Default::default()).expect("mail");
            let s = gleaner::extract::signals::signals(&doc.body);
            confirm += s.confirm;
            steps += s.steps;
            code += s.code;
            links += s.links;
            if let Some(a) = doc.from.iter().find_map(|a| a.addr.clone()) {
                senders.insert(a.to_lowercase());
            }
        }
        assert_eq!(
            item["messages"].as_u64().unwrap() as usize,
            msgs.len(),
            "{thread}"
        );
        assert_eq!(
            item["participants"].as_u64().unwrap() as usize,
            senders.len(),
            "{thread}"
        );
        assert_eq!(
            item["confirm"].as_u64().unwrap() as u32,
            confirm,
            "{thread}"
        );
        assert_eq!(item["steps"].as_u64().unwrap() as u32, steps, "{thread}");
        assert_eq!(item["code"].as_u64().unwrap() as u32, code, "{thread}");
        assert_eq!(item["links"].as_u64().unwrap() as u32, links, "{thread}");
    }
    // Promoting a thread makes threads like it score higher through `similarity`.
    let top = items[0]["thread_id"].as_str().unwrap();
    open.ok(
        "POST",
        "/api/review/queues/all-old/decisions",
        &json!({"threads": [top], "decision": "promote"}),
    );
    let again = open.ok("GET", "/api/review/queues/all-old?limit=1000", &json!({}));
    let similar: Vec<&Value> = again["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["similar_to"] == top)
        .collect();
    assert!(!similar.is_empty(), "threads like the promoted one");
    for i in similar {
        assert!(i["explain"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["signal"] == "similarity" && p["points"].as_f64().unwrap() > 0.0));
    }
}

/// A reviewer's note shows on the thread page (issue 18 item 6): the thread
/// API gives reviewers every queue's decision with its note, and readers none.
#[test]
fn review_notes_show_on_the_thread_to_reviewers_only() {
    let dir = common::tempdir();
    let data = dir.path();
    let server = sample_server(data);
    let (ada, rita, rob) = (
        login(&server, "ada"),
        login(&server, "rita"),
        login(&server, "rob"),
    );
    put_ops_policy(&ada);
    let q = rita.ok("GET", "/api/review/queues/ops-old?limit=2", &json!({}));
    let threads = ids(&q["items"]);
    let (noted, plain) = (&threads[0], &threads[1]);
    let note = "Still true: the runbook step 3 covers it.";
    rita.ok(
        "POST",
        "/api/review/queues/ops-old/decisions",
        &json!({"threads": [noted], "decision": "promote", "note": note}),
    );
    let reviews = |c: &Client<'_>, t: &str| {
        c.ok("GET", &format!("/api/threads/{}", enc(t)), &json!({}))["reviews"].clone()
    };
    let seen = reviews(&rita, noted);
    assert_eq!(seen.as_array().map(Vec::len), Some(1), "{seen}");
    assert_eq!(seen[0]["policy"], "ops-old");
    assert_eq!(seen[0]["decision"], "promote");
    assert_eq!(seen[0]["note"], note);
    assert_eq!(seen[0]["by"], "rita");
    // The queue item carries the note too (a decided item, with all=1).
    let all = rita.ok(
        "GET",
        "/api/review/queues/ops-old?limit=1000&all=1",
        &json!({}),
    );
    let item = all["items"]
        .as_array()
        .and_then(|items| items.iter().find(|i| i["thread_id"] == noted.as_str()))
        .expect("the decided item");
    assert_eq!(item["reviews"][0]["note"], note);
    // Undecided: an empty list; a reader: no reviews at all.
    assert_eq!(reviews(&rita, plain), json!([]));
    assert_eq!(reviews(&rob, noted), Value::Null);

    // The document the thread is cited into shows the note beside it.
    let ed = login(&server, "ed");
    let doc = ed.ok(
        "POST",
        "/api/docs",
        &json!({"kind": "procedure", "title": "Disk alerts", "body": "Intro.\n"}),
    )["document"]["id"]
        .as_i64()
        .expect("doc id");
    rita.ok(
        "POST",
        &format!("/api/docs/{doc}/citations"),
        &json!({"thread_id": noted}),
    );
    let read = ed.ok("GET", &format!("/api/docs/{doc}"), &json!({}));
    let cited_thread = read["citations"][0]["thread_id"]
        .as_str()
        .expect("thread id");
    assert_eq!(cited_thread, noted.as_str());
    let notes = &read["reviews"][cited_thread];
    assert_eq!(notes[0]["note"], note, "{read}");
    assert_eq!(notes[0]["decision"], "promote");
}

/// The editor's preview (issue 19 item 8): a draft renders as the saved
/// document would — a citation quoted where its marker stands, once, however
/// often it is placed; markup as text — saves nothing, and is for editors.
#[test]
fn the_preview_renders_a_draft_as_saved_and_only_for_editors() {
    let dir = common::tempdir();
    let server = sample_server(dir.path());
    let ed = login(&server, "ed");
    let doc = ed.ok(
        "POST",
        "/api/docs",
        &json!({"kind": "guideline", "title": "Previewed"}),
    );
    let id = doc["document"]["id"].as_i64().expect("id");
    let m = common::only_on(&server.index, OPS);
    let cited = ed.ok(
        "POST",
        &format!("/api/docs/{id}/citations"),
        &json!({"message_id": m.message_id}),
    );
    let n = cited["citation"]["id"].as_i64().expect("citation");
    let words = cited["citation"]["excerpt"]
        .as_str()
        .expect("excerpt")
        .lines()
        .map(str::trim)
        .find(|l| l.len() > 20 && l.chars().all(|c| c.is_alphanumeric() || " .,:".contains(c)))
        .expect("a plain line of the excerpt")
        .to_string();
    let draft = format!(
        "## Before\n\n{{{{cite:{n}}}}}\n\n## After\n\n<script>alert(1)</script>\n\n{{{{cite:{n}}}}}\n"
    );
    let html = ed.ok(
        "POST",
        &format!("/api/docs/{id}/preview"),
        &json!({ "body": draft }),
    )["html"]
        .as_str()
        .expect("html")
        .to_string();
    assert_eq!(html.matches(&words).count(), 1, "{html}");
    let at = html.find(&words);
    assert!(
        html.find("Before") < at && at < html.find("After"),
        "{html}"
    );
    assert!(
        !html.contains("<script") && html.contains("&lt;script&gt;"),
        "{html}"
    );
    assert!(html.contains(&format!("c{n}")), "the footnote: {html}");
    let saved = ed.ok("GET", &format!("/api/docs/{id}"), &json!({}));
    assert_eq!(
        saved["document"]["revision"], 2,
        "the preview saved nothing"
    );
    assert_eq!(
        saved["document"]["body"].as_str(),
        Some(format!("{{{{cite:{n}}}}}\n").as_str())
    );
    let rita = login(&server, "rita");
    let refused = rita.send(
        "POST",
        &format!("/api/docs/{id}/preview"),
        &json!({"body": "x"}),
    );
    assert_eq!(refused.status, 403, "{}", refused.text());
}
