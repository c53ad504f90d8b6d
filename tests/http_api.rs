//! The JSON API and UI serving, against a real server on 127.0.0.1:0 over an
//! index of `corpus/sample`, talked to over TCP.

use std::collections::HashSet;
use std::path::Path;

use gleaner::access::{Role, Users};
use gleaner::query::{self, Request, Sort};
use serde_json::Value;

use crate::common::{self, enc, get, http, TestServer};

const DEV: &str = "dev.lists.example.org";
const OPS: &str = "ops.lists.example.org";

fn sample_server(dir: &Path, auth: bool) -> TestServer {
    common::index_paths(dir, &[common::sample()]);
    TestServer::start(dir, auth)
}

fn total(server: &TestServer, q: &str, allowed: Option<Vec<String>>) -> usize {
    let req = Request {
        query: q.into(),
        limit: 1,
        offset: 0,
        sort: Sort::Relevance,
        now: time::OffsetDateTime::now_utc().unix_timestamp(),
        allowed_lists: allowed,
        marks: None,
    };
    query::search(&server.index, &req).expect("search").total
}

fn sum(v: &Value) -> u64 {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x["count"].as_u64().expect("count"))
        .sum()
}

#[test]
fn search_json_shape_and_total_equal_the_cli() {
    let dir = common::tempdir();
    let server = sample_server(dir.path(), false);
    let res = get(
        server.addr,
        &format!("/api/search?q={}&limit=5", enc("root cause")),
        &[],
    );
    assert_eq!(res.status, 200, "{}", res.text());
    assert!(res
        .header("content-type")
        .expect("type")
        .starts_with("application/json"));
    assert_eq!(res.header("cache-control"), Some("no-store"));
    let v = res.json();
    let cli = common::gleaner_ok(
        dir.path(),
        &["search", "--json", "--limit", "1", "root cause"],
    );
    let cli_total = serde_json::from_str::<Value>(cli.lines().next().expect("a hit"))
        .expect("json")["total"]
        .as_u64()
        .expect("total");
    assert_eq!(v["total"].as_u64(), Some(cli_total));
    assert!(cli_total > 5);
    let hits = v["hits"].as_array().expect("hits");
    assert_eq!(hits.len(), 5);
    for h in hits {
        for key in [
            "message_id",
            "key",
            "thread_id",
            "date",
            "from",
            "subject",
            "list",
            "snippet_html",
        ] {
            assert!(h[key].is_string(), "{key} in {h}");
        }
        assert!(h["score"].is_number());
        // Highlights are character ranges into snippet.text and mark the words.
        let text: Vec<char> = h["snippet"]["text"]
            .as_str()
            .expect("text")
            .chars()
            .collect();
        for r in h["snippet"]["highlights"].as_array().expect("highlights") {
            let (a, b) = (
                r[0].as_u64().expect("a") as usize,
                r[1].as_u64().expect("b") as usize,
            );
            assert!(a < b && b <= text.len(), "{r} in {}", text.len());
            let word: String = text[a..b].iter().collect::<String>().to_lowercase();
            assert!(
                word.starts_with("root") || word.starts_with("caus"),
                "{word}"
            );
        }
    }
    // Facets and timeline cover the whole result set, not the page.
    let f = &v["facets"];
    assert_eq!(sum(&f["list"]), cli_total);
    assert_eq!(sum(&v["timeline"]), sum(&f["year"]));
    assert!(sum(&f["year"]) <= cli_total);
    let months: Vec<&str> = v["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .map(|m| m["month"].as_str().expect("month"))
        .collect();
    assert!(months.windows(2).all(|w| w[0] < w[1]), "ascending months");
    assert!(months.iter().all(|m| m.len() == 7 && &m[4..5] == "-"));
    assert!(!f["from"].as_array().expect("from").is_empty());
}

#[test]
fn snippet_highlights_are_characters_not_bytes() {
    let dir = common::tempdir();
    let server = sample_server(dir.path(), false);
    let res = get(
        server.addr,
        &format!("/api/search?q={}", enc("Festplatte")),
        &[],
    );
    let v = res.json();
    let mut checked = 0;
    for h in v["hits"].as_array().expect("hits") {
        let text: Vec<char> = h["snippet"]["text"]
            .as_str()
            .expect("text")
            .chars()
            .collect();
        for r in h["snippet"]["highlights"].as_array().expect("ranges") {
            let (a, b) = (
                r[0].as_u64().expect("a") as usize,
                r[1].as_u64().expect("b") as usize,
            );
            let word: String = text[a..b].iter().collect();
            assert!(word.to_lowercase().starts_with("festplatte"), "{word:?}");
            checked += 1;
        }
    }
    assert!(checked > 0, "no highlight to check");
}

#[test]
fn bad_query_is_400_with_character_position() {
    let dir = common::tempdir();
    let server = sample_server(dir.path(), false);
    let q = "Größe (list:ops OR";
    let res = get(server.addr, &format!("/api/search?q={}", enc(q)), &[]);
    assert_eq!(res.status, 400);
    let v = res.json();
    let expected = gleaner::query::grammar::parse(q).expect_err("bad").position;
    assert_eq!(v["position"].as_u64(), Some(expected as u64));
    assert!(expected <= q.chars().count());
    assert!(v["error"].as_str().expect("error").contains("position"));
    let empty = get(server.addr, "/api/search?q=%20%20", &[]);
    assert_eq!(empty.status, 400);
    assert_eq!(
        empty.json(),
        serde_json::json!({"error": "empty query", "position": 0})
    );
    let export = get(server.addr, &format!("/api/export.mbox?q={}", enc(q)), &[]);
    assert_eq!(export.status, 400);
    assert_eq!(export.json()["position"].as_u64(), Some(expected as u64));
}

/// The first maildir file of `list` with a Message-ID, and that id.
fn a_maildir_message(list: &str) -> (std::path::PathBuf, String) {
    let dir = common::sample().join(list).join("cur");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("dir")
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    for f in files {
        let bytes = std::fs::read(&f).expect("read");
        let text = String::from_utf8_lossy(&bytes);
        if text.contains("X-Corpus-Defect") {
            continue;
        }
        if let Some(line) = text
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("message-id:"))
        {
            let id = line[11..]
                .trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_string();
            return (f, id);
        }
    }
    panic!("no message with an id in {list}");
}

#[test]
fn message_json_and_raw_bytes_equal_the_file() {
    let dir = common::tempdir();
    let server = sample_server(dir.path(), false);
    let (file, id) = a_maildir_message("dev");
    let res = get(server.addr, &format!("/api/messages/{}", enc(&id)), &[]);
    assert_eq!(res.status, 200, "{}", res.text());
    let v = res.json();
    assert_eq!(v["message_id"], id.as_str());
    assert_eq!(v["list"], DEV);
    assert!(v["from"].as_array().expect("from").len() == 1);
    assert!(v["body"].is_string() && v["quoted"].is_string() && v["footer"].is_string());
    assert!(v["attachments"].is_array() && v["references"].is_array());
    let raw = get(server.addr, &format!("/api/messages/{}/raw", enc(&id)), &[]);
    assert_eq!(raw.status, 200);
    assert_eq!(raw.header("content-type"), Some("message/rfc822"));
    assert!(raw
        .header("content-disposition")
        .expect("disposition")
        .starts_with("attachment;"));
    assert_eq!(raw.body, std::fs::read(&file).expect("file"));
    let missing = get(server.addr, "/api/messages/no-such-id%40example.org", &[]);
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json()["error"], "no such message");
}

fn collect_tree(nodes: &Value, seen: &mut Vec<String>, lists: &mut HashSet<String>) {
    for n in nodes.as_array().expect("nodes") {
        seen.push(n["key"].as_str().expect("key").to_string());
        lists.insert(n["list"].as_str().expect("list").to_string());
        assert!(n["snippet"].is_string());
        collect_tree(&n["children"], seen, lists);
    }
}

#[test]
fn thread_is_a_tree_with_every_message_once() {
    let dir = common::tempdir();
    let server = sample_server(dir.path(), false);
    let q = enc("TLS certificate expired on mail relay");
    let v = get(server.addr, &format!("/api/search?q={q}&limit=1"), &[]).json();
    let thread_id = v["hits"][0]["thread_id"]
        .as_str()
        .expect("thread")
        .to_string();
    let res = get(
        server.addr,
        &format!("/api/threads/{}", enc(&thread_id)),
        &[],
    );
    assert_eq!(res.status, 200, "{}", res.text());
    let t = res.json();
    assert_eq!(t["thread_id"], thread_id.as_str());
    let mut seen = Vec::new();
    collect_tree(&t["messages"], &mut seen, &mut HashSet::new());
    let unique: HashSet<_> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "a message appears twice");
    let in_thread = total(&server, &format!("thread:\"{thread_id}\""), None);
    assert_eq!(seen.len(), in_thread);
    assert!(seen.len() >= 5, "the story thread has 5 messages");
    // A reply nests under its parent.
    assert!(t["messages"][0]["children"]
        .as_array()
        .is_some_and(|c| !c.is_empty()));
    assert_eq!(
        get(server.addr, "/api/threads/nothing%40here", &[]).status,
        404
    );
}

fn mbox_messages(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut splitter = gleaner::store::mbox::MboxSplitter::new(u64::MAX);
    let mut frames = splitter.push(bytes);
    frames.extend(splitter.finish());
    frames
        .into_iter()
        .filter_map(|f| match f {
            gleaner::store::mbox::Frame::Message(m) => {
                Some(gleaner::store::mbox::unquote(&m.bytes.expect("bytes")))
            }
            gleaner::store::mbox::Frame::Junk { .. } => None,
        })
        .collect()
}

#[test]
fn export_is_mboxrd_with_every_hit() {
    let dir = common::tempdir();
    let server = sample_server(dir.path(), false);
    let q = "list:announce";
    let res = get(server.addr, &format!("/api/export.mbox?q={}", enc(q)), &[]);
    assert_eq!(res.status, 200);
    assert_eq!(res.header("content-type"), Some("application/mbox"));
    assert!(res
        .header("content-disposition")
        .expect("cd")
        .contains("gleaner-export.mbox"));
    let expected = total(&server, q, None);
    assert_eq!(expected, 43);
    let messages = mbox_messages(&res.body);
    assert_eq!(messages.len(), expected);
    // `From here on…` body lines were quoted and come back unquoted.
    let text = String::from_utf8_lossy(&res.body);
    assert!(
        text.lines().any(|l| l.starts_with(">From ")),
        "mboxrd quoting"
    );
}

#[test]
fn stats_and_security_headers() {
    let dir = common::tempdir();
    let server = sample_server(dir.path(), false);
    let v = get(server.addr, "/api/stats", &[]).json();
    assert_eq!(v["messages"].as_u64(), Some(2000));
    assert_eq!(sum(&v["lists"]), v["messages"].as_u64().expect("messages"));
    assert!(v["first_date"]
        .as_str()
        .expect("first")
        .starts_with("2009-"));
    assert!(v["watermark"].is_object());
    for path in [
        "/",
        "/search?q=x",
        "/m/abc",
        "/t/abc",
        "/login",
        "/app.js",
        "/style.css",
        "/api/stats",
        "/nope",
        "/api/nope",
    ] {
        let res = get(server.addr, path, &[]);
        assert_eq!(
            res.header("content-security-policy"),
            Some(gleaner::http::CSP),
            "{path}"
        );
        assert_eq!(
            res.header("x-content-type-options"),
            Some("nosniff"),
            "{path}"
        );
        assert_eq!(res.header("referrer-policy"), Some("no-referrer"), "{path}");
    }
    assert_eq!(get(server.addr, "/nope", &[]).status, 404);
    assert_eq!(
        get(server.addr, "/api/nope", &[]).json()["error"],
        "no such API endpoint"
    );
}

#[test]
fn every_web_file_is_served_with_its_type() {
    let dir = common::tempdir();
    let server = sample_server(dir.path(), false);
    let web = common::root().join("web");
    let mut files = Vec::new();
    let mut stack = vec![web.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(d).expect("dir").flatten() {
            if e.path().is_dir() {
                stack.push(e.path());
            } else {
                files.push(e.path());
            }
        }
    }
    assert!(files.len() > 10);
    for f in files {
        let rel = f
            .strip_prefix(&web)
            .expect("rel")
            .to_string_lossy()
            .replace('\\', "/");
        let res = get(server.addr, &format!("/{rel}"), &[]);
        assert_eq!(
            res.status, 200,
            "{rel} is not embedded (add it to http/assets.rs)"
        );
        assert_eq!(res.body, std::fs::read(&f).expect("read"), "{rel}");
        let ty = res.header("content-type").expect("type");
        let want = match f.extension().and_then(|e| e.to_str()) {
            Some("js") => "text/javascript",
            Some("css") => "text/css",
            Some("html") => "text/html",
            _ => "",
        };
        assert!(ty.starts_with(want), "{rel}: {ty}");
    }
    let index = get(server.addr, "/t/some%40thread?focus=x", &[]);
    assert!(index.text().contains("/app.js"));
    assert!(get(server.addr, "/login?next=/", &[])
        .text()
        .contains("login"));
}

fn auth_server(dir: &Path) -> TestServer {
    common::index_paths(dir, &[common::sample()]);
    let users = Users::open(dir).expect("users");
    users
        .add_user("root", Role::Admin, "admin pw")
        .expect("admin");
    users
        .add_user("devreader", Role::Reader, "reader pw")
        .expect("reader");
    users.grant("devreader", &[DEV.to_string()]).expect("grant");
    TestServer::start(dir, true)
}

#[test]
fn a_reader_granted_dev_never_sees_ops() {
    let dir = common::tempdir();
    let server = auth_server(dir.path());
    let (cookie, _) = server.login("devreader", "reader pw");
    let c = [("Cookie", cookie.as_str())];
    let dev_only = Some(vec![DEV.to_string()]);
    // An ops message, its thread, and a word that is on both lists.
    let ops_hit = query::search(
        &server.index,
        &Request {
            query: "list:ops certificate".into(),
            limit: 1,
            offset: 0,
            sort: Sort::Relevance,
            now: 0,
            allowed_lists: None,
            marks: None,
        },
    )
    .expect("search")
    .hits
    .remove(0)
    .message;
    for q in [
        "the",
        "certificate",
        "list:ops",
        "list:ops certificate",
        "root cause",
    ] {
        let v = get(
            server.addr,
            &format!("/api/search?q={}&limit=100", enc(q)),
            &c,
        )
        .json();
        let expect = total(&server, q, dev_only.clone());
        assert_eq!(v["total"].as_u64(), Some(expect as u64), "{q}");
        for h in v["hits"].as_array().expect("hits") {
            assert_eq!(h["list"], DEV, "{q}");
        }
        for f in v["facets"]["list"].as_array().expect("lists") {
            assert_eq!(f["value"], DEV, "{q}");
        }
        assert_eq!(sum(&v["facets"]["list"]), expect as u64);
        assert!(sum(&v["timeline"]) <= expect as u64);
        let body = String::from_utf8_lossy(
            &get(server.addr, &format!("/api/search?q={}", enc(q)), &c).body,
        )
        .into_owned();
        assert!(!body.contains(OPS), "{q}: ops leaks in {body}");
        let export = get(server.addr, &format!("/api/export.mbox?q={}", enc(q)), &c);
        assert_eq!(mbox_messages(&export.body).len(), expect, "{q}");
        assert!(
            !String::from_utf8_lossy(&export.body).contains(OPS),
            "{q}: export leaks ops"
        );
    }
    assert_eq!(total(&server, "list:ops", dev_only.clone()), 0);
    let id = enc(if ops_hit.message_id.is_empty() {
        &ops_hit.key
    } else {
        &ops_hit.message_id
    });
    assert_eq!(
        get(server.addr, &format!("/api/messages/{id}"), &c).status,
        404
    );
    assert_eq!(
        get(server.addr, &format!("/api/messages/{id}/raw"), &c).status,
        404
    );
    assert_eq!(
        get(
            server.addr,
            &format!("/api/threads/{}", enc(&ops_hit.thread_id)),
            &c
        )
        .status,
        404
    );
    let stats = get(server.addr, "/api/stats", &c).json();
    assert_eq!(stats["lists"].as_array().expect("lists").len(), 1);
    assert_eq!(stats["lists"][0]["value"], DEV);
    assert!(!stats.to_string().contains(OPS));
    // The admin sees ops.
    let (admin, _) = server.login("root", "admin pw");
    let a = [("Cookie", admin.as_str())];
    assert_eq!(
        get(server.addr, &format!("/api/messages/{id}"), &a).status,
        200
    );
    let v = get(
        server.addr,
        &format!("/api/search?q={}", enc("list:ops")),
        &a,
    )
    .json();
    assert_eq!(
        v["total"].as_u64(),
        Some(total(&server, "list:ops", None) as u64)
    );
}

#[test]
fn login_logout_cookie_flags_and_csrf() {
    let dir = common::tempdir();
    let server = auth_server(dir.path());
    // Not logged in: the API says 401, the pages are still served.
    let res = get(server.addr, "/api/search?q=x", &[]);
    assert_eq!(res.status, 401);
    assert_eq!(res.json()["error"], "login required");
    assert_eq!(get(server.addr, "/api/me", &[]).status, 401);
    assert_eq!(get(server.addr, "/login", &[]).status, 200);
    // Wrong password and unknown user get the same answer.
    let login = |user: &str, pw: &str, ty: &str| {
        let body = serde_json::json!({"username": user, "password": pw}).to_string();
        http(
            server.addr,
            "POST",
            "/api/login",
            &[("Content-Type", ty)],
            body.as_bytes(),
        )
    };
    let wrong = login("devreader", "nope", "application/json");
    let unknown = login("nobody", "nope", "application/json");
    assert_eq!((wrong.status, unknown.status), (401, 401));
    assert_eq!(wrong.json(), unknown.json());
    assert_eq!(login("devreader", "reader pw", "text/plain").status, 415);
    // A good login sets a strict, HttpOnly session cookie.
    let ok = login("devreader", "reader pw", "application/json");
    assert_eq!(ok.status, 200);
    assert_eq!(
        ok.json(),
        serde_json::json!({"user": "devreader", "role": "reader"})
    );
    let set = ok.header("set-cookie").expect("cookie");
    assert!(set.starts_with("gleaner_session="));
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(set.contains(flag), "{flag} in {set}");
    }
    let (cookie, csrf) = server.login("devreader", "reader pw");
    let me = get(server.addr, "/api/me", &[("Cookie", &cookie)]).json();
    assert_eq!(me["user"], "devreader");
    assert_eq!(me["role"], "reader");
    // State-changing requests need the CSRF token.
    let no_token = http(
        server.addr,
        "POST",
        "/api/logout",
        &[("Cookie", &cookie)],
        b"{}",
    );
    assert_eq!(no_token.status, 403);
    assert_eq!(no_token.json()["error"], "missing or wrong CSRF token");
    let bad_token = http(
        server.addr,
        "POST",
        "/api/logout",
        &[("Cookie", &cookie), ("X-CSRF-Token", "0000")],
        b"{}",
    );
    assert_eq!(bad_token.status, 403);
    assert_eq!(
        get(server.addr, "/api/me", &[("Cookie", &cookie)]).status,
        200
    );
    let out = http(
        server.addr,
        "POST",
        "/api/logout",
        &[("Cookie", &cookie), ("X-CSRF-Token", &csrf)],
        b"{}",
    );
    assert_eq!(out.status, 200);
    assert!(out
        .header("set-cookie")
        .expect("cleared")
        .contains("Max-Age=0"));
    assert_eq!(
        get(server.addr, "/api/me", &[("Cookie", &cookie)]).status,
        401
    );
}

#[test]
fn serve_refuses_a_public_address_without_auth() {
    let dir = common::tempdir();
    let out = common::gleaner(dir.path(), &["serve", "--listen", "0.0.0.0:0", "--no-auth"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("loopback"), "{err}");
    let toml = dir.path().join("gleaner.toml");
    std::fs::write(&toml, "[http]\nlisten = \"192.0.2.1:8080\"\nauth = false\n").expect("write");
    let out = common::gleaner(
        dir.path(),
        &["--config", toml.to_str().expect("utf-8"), "serve"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(gleaner::app::check_listen("127.0.0.1:80".parse().expect("addr"), false).is_ok());
    assert!(gleaner::app::check_listen("[::1]:80".parse().expect("addr"), false).is_ok());
    assert!(gleaner::app::check_listen("0.0.0.0:80".parse().expect("addr"), true).is_ok());
}

#[test]
fn user_commands_add_grant_list() {
    let dir = common::tempdir();
    let d = dir.path();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_gleaner"))
        .arg("--data")
        .arg(d)
        .args([
            "user",
            "add",
            "alice",
            "--role",
            "reader",
            "--password-stdin",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(b"s3cret\n").expect("write");
    }
    let out = child.wait_with_output().expect("wait");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    common::gleaner_ok(d, &["user", "grant", "alice", DEV]);
    let list = common::gleaner_ok(d, &["user", "list"]);
    assert!(
        list.contains("alice") && list.contains("reader") && list.contains(DEV),
        "{list}"
    );
    let bad = common::gleaner(
        d,
        &["user", "add", "bob", "--role", "wizard", "--password-stdin"],
    );
    assert_eq!(bad.status.code(), Some(2));
    let users = Users::open(d).expect("db");
    assert!(users.verify("alice", "s3cret").expect("verify").is_some());
}

/// `/api/search` answers the same query again from its cache, but never across list
/// grants, index commits, or for queries that depend on review state.
#[test]
fn search_cache_reuses_only_what_cannot_have_changed() {
    let dir = common::tempdir();
    let server = auth_server(dir.path());
    let (root, _) = server.login("root", "admin pw");
    let (dev, _) = server.login("devreader", "reader pw");
    let ask = |cookie: &str, q: &str| -> Value {
        let res = get(
            server.addr,
            &format!("/api/search?q={}&limit=100", enc(q)),
            &[("Cookie", cookie)],
        );
        assert_eq!(res.status, 200, "{q}: {}", res.text());
        res.json()
    };
    let first = ask(&root, "certificate");
    assert_eq!(first["cached"], false);
    let again = ask(&root, "certificate");
    assert_eq!(again["cached"], true);
    for field in ["total", "hits", "facets", "timeline"] {
        assert_eq!(first[field], again[field], "{field}");
    }
    // Another viewer with other grants computes its own answer.
    let all = first["total"].as_u64().expect("total");
    let dev_total = total(&server, "certificate", Some(vec![DEV.to_string()])) as u64;
    assert!(dev_total < all, "the word must be on both lists");
    for expect_cached in [false, true] {
        let v = ask(&dev, "certificate");
        assert_eq!(v["cached"], expect_cached);
        assert_eq!(v["total"].as_u64(), Some(dev_total));
        assert!(!v.to_string().contains(OPS), "ops leaks into dev's answer");
    }
    // A query that depends on review state is never kept.
    for _ in 0..2 {
        assert_eq!(ask(&root, "is:cited OR certificate")["cached"], false);
    }
    // New mail: the next answer comes from the new commit, not the cache.
    let mail = common::tempdir();
    let cur = mail.path().join("extra").join("cur");
    std::fs::create_dir_all(&cur).expect("mkdir");
    std::fs::create_dir_all(mail.path().join("extra/new")).expect("mkdir");
    std::fs::create_dir_all(mail.path().join("extra/tmp")).expect("mkdir");
    std::fs::write(
        cur.join("1.host:2,S"),
        format!(
            "From: a@example.org\r\nTo: {OPS}\r\nList-Id: <{OPS}>\r\nMessage-ID: <cache-test@example.org>\r\n\
             Date: Mon, 2 Jan 2023 10:00:00 +0000\r\nSubject: certificate expired again\r\n\r\nThe certificate expired.\r\n"
        ),
    )
    .expect("write");
    common::index_paths(dir.path(), &[mail.path().to_path_buf()]);
    server.index.reader.reload().expect("reload");
    let after = ask(&root, "certificate");
    assert_eq!(after["cached"], false);
    assert_eq!(after["total"].as_u64(), Some(all + 1));
    assert_eq!(ask(&root, "certificate")["cached"], true);
}
