//! Issue 21: the MCP server driven by the official MCP Python SDK (PyPI
//! `mcp`), over stdio (`gleaner mcp`) and Streamable HTTP (`/mcp` on
//! `gleaner serve`): an editor's token lists tools, finds a known thread of
//! the sample corpus, reads it, drafts a document and cites a message (the
//! citation and its audit entry are then checked through the CLI and the
//! web API); a reader's token granted another list gets the same calls
//! filtered or refused; a read-only token cannot write.
//!
//! The SDK lives in a virtualenv: `GLEANER_MCP_PYTHON`, else
//! `~/.cache/gleaner-venv/bin/python` (.ci/run makes it). Without it the
//! tests say so and pass on a laptop, and fail in CI (`CI=true`).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::common::{self, tempdir};

const OPS: &str = "ops.lists.example.org";
const DEV: &str = "dev.lists.example.org";
const I18N: &str = "i18n.lists.example.org";
/// The conversation `disk usage mx04` finds in the sample corpus.
const MX04_SUBJECT: &str = "[ops] Disk usage on mx04 at 92%";

/// The Python with the MCP SDK, or `None` (a loud notice) on a laptop without it.
fn python() -> Option<PathBuf> {
    let path = std::env::var_os("GLEANER_MCP_PYTHON")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .map(|h| PathBuf::from(h).join(".cache/gleaner-venv/bin/python"))
        });
    let usable = path.as_ref().is_some_and(|p| {
        Command::new(p)
            .args(["-c", "import mcp, httpx2"])
            .status()
            .is_ok_and(|s| s.success())
    });
    if usable {
        return path;
    }
    let why = format!(
        "the MCP Python SDK is missing ({}); install it: python3 -m venv ~/.cache/gleaner-venv && ~/.cache/gleaner-venv/bin/pip install mcp",
        path.map_or("no HOME".into(), |p| p.display().to_string())
    );
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{why}");
    }
    eprintln!("NOTICE: MCP SDK tests SKIPPED: {why}");
    None
}

/// Tokens made for the test users.
struct Tokens {
    editor: String,
    reader: String,
    read_only: String,
}

/// The sample corpus indexed into `dir`, users and their tokens: alice an
/// editor of dev and ops, bob a reader of i18n only, root an admin.
fn archive(dir: &Path) -> Tokens {
    common::index_paths(dir, &[common::sample()]);
    let users = gleaner::access::Users::open(dir).expect("users");
    use gleaner::access::Role;
    users
        .add_user("root", Role::Admin, "root-pw")
        .expect("root");
    users
        .add_user("alice", Role::Editor, "alice-pw")
        .expect("alice");
    users
        .grant("alice", &[DEV.into(), OPS.into()])
        .expect("grant");
    users.add_user("bob", Role::Reader, "bob-pw").expect("bob");
    users.grant("bob", &[I18N.into()]).expect("grant");
    // Through the CLI, as an operator would.
    let token = |args: &[&str]| common::gleaner_ok(dir, args).trim().to_string();
    Tokens {
        editor: token(&["token", "create", "alice-laptop", "--user", "alice"]),
        reader: token(&["token", "create", "bob-laptop", "--user", "bob"]),
        read_only: token(&[
            "token",
            "create",
            "alice-ro",
            "--user",
            "alice",
            "--read-only",
        ]),
    }
}

/// Runs tests/mcp/client.py with `args` and `token`; its JSON.
fn client(py: &Path, args: &[&str], token: &str, env: &[(&str, &str)]) -> Value {
    let script = common::root().join("tests/mcp/client.py");
    let out = Command::new(py)
        .arg(script)
        .args(args)
        .env("GLEANER_TOKEN", token)
        .envs(env.iter().copied())
        .output()
        .expect("run the MCP client");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "client {args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
}

/// What an editor's session must have done; returns (thread, message, doc id).
fn check_editor(out: &Value) -> (String, String, i64) {
    assert_eq!(out["server"], "gleaner");
    assert!(gleaner::mcp::protocol::VERSIONS.contains(&out["protocol_version"].as_str().unwrap()));
    let tools = out["tools"].as_array().unwrap();
    for t in [
        "search",
        "read_message",
        "read_thread",
        "draft_document",
        "cite",
        "review_queue",
    ] {
        assert!(
            tools.iter().any(|x| x == t),
            "{t} listed for an editor: {tools:?}"
        );
    }
    assert_eq!(out["schemas_ok"], true);
    let search = &out["search"]["json"];
    assert_eq!(
        out["search"]["is_error"], false,
        "{}",
        out["search"]["text"]
    );
    assert!(out["search"]["text"]
        .as_str()
        .unwrap()
        .contains("untrusted mail content"));
    let first = &search["conversations"][0];
    assert_eq!(first["subject"], MX04_SUBJECT, "{search}");
    assert_eq!(first["list"], OPS);
    assert!(search["total"].as_u64().unwrap() >= 1);
    assert!(
        search["total_messages"].as_u64().unwrap() >= first["matching_messages"].as_u64().unwrap()
    );
    let messages = &out["search_messages"]["json"];
    assert_eq!(
        messages["total"], search["total_messages"],
        "exact totals agree"
    );
    assert!(messages["facets"]["list"]
        .as_array()
        .is_some_and(|l| l.iter().all(|f| f["value"] == OPS || f["value"] == DEV)));
    let thread = &out["thread"]["json"];
    assert_eq!(
        out["thread"]["is_error"], false,
        "{}",
        out["thread"]["text"]
    );
    assert_eq!(thread["subject"], MX04_SUBJECT);
    assert!(thread["messages"].as_array().unwrap().len() > 1);
    assert!(thread["messages"][0]["own_words"].as_str().is_some());
    let message = &out["message"]["json"];
    assert!(message["own_words"]["text"]
        .as_str()
        .unwrap()
        .contains(out["passage"].as_str().unwrap()));
    let draft = &out["draft"]["json"]["document"];
    assert_eq!(draft["status"], "draft");
    assert_eq!(out["cite"]["is_error"], false, "{}", out["cite"]["text"]);
    let citation = &out["cite"]["json"]["citation"];
    assert_eq!(citation["message_id"], message["message_id"]);
    assert_eq!(citation["excerpt"], out["passage"]);
    assert!(citation["created_by"]
        .as_str()
        .unwrap()
        .starts_with("alice (mcp token alice-laptop)"));
    assert_eq!(out["bad_cite"]["is_error"], true);
    assert!(out["bad_cite"]["text"]
        .as_str()
        .unwrap()
        .contains("does not occur"));
    assert!(out["read_document"]["json"]["body"]["markdown"]
        .as_str()
        .unwrap()
        .contains("[^c"));
    assert_eq!(out["resource_templates"].as_array().unwrap().len(), 3);
    assert!(out["resource"].as_str().unwrap().starts_with("[gleaner]"));
    assert!(out["prompt_text"].as_str().unwrap().contains("untrusted"));
    (
        thread["thread_id"].as_str().unwrap().to_string(),
        message["message_id"].as_str().unwrap().to_string(),
        draft["id"].as_i64().unwrap(),
    )
}

/// A reader of another list: nothing of ops, no writing tools.
fn check_reader(out: &Value) {
    let tools = out["tools"].as_array().unwrap();
    for t in ["draft_document", "cite", "decide", "review_queue"] {
        assert!(!tools.iter().any(|x| x == t), "{t} not listed for a reader");
    }
    assert_eq!(
        out["search"]["json"]["total"], 0,
        "{}",
        out["search"]["text"]
    );
    assert_eq!(out["search_messages"]["json"]["total"], 0);
    assert!(out["search_messages"]["json"]["facets"]["list"]
        .as_array()
        .unwrap()
        .is_empty());
    for call in ["thread", "message", "read_document"] {
        assert_eq!(out[call]["is_error"], true, "{call}: {}", out[call]["text"]);
        assert!(
            !out[call]["text"].as_str().unwrap().contains("mx04"),
            "{call} says nothing of it"
        );
    }
    assert_eq!(out["draft"]["is_error"], true);
    assert!(out["draft"]["text"].as_str().unwrap().contains("editors"));
    assert_eq!(out["cite"]["is_error"], true);
    assert!(out["resource"].as_str().unwrap().starts_with("error"));
}

/// The citation and its audit entry, seen through the CLI.
fn check_cli(dir: &Path, doc: i64, message_id: &str) {
    let shown: Value = serde_json::from_str(&common::gleaner_ok(
        dir,
        &["doc", "show", &doc.to_string(), "--json"],
    ))
    .expect("doc json");
    let text = shown.to_string();
    assert!(
        text.contains(message_id),
        "the CLI shows the citation: {text}"
    );
    let audit = common::gleaner_ok(dir, &["audit", "log", "--json", "--limit", "20"]);
    let cite = audit
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|e| e["action"] == "doc.cite" && e["subject"] == format!("doc:{doc}"))
        .unwrap_or_else(|| panic!("a doc.cite entry: {audit}"));
    assert_eq!(cite["actor"], "alice (mcp token alice-laptop)");
    assert!(audit.contains("token.create"));
    common::gleaner_ok(dir, &["audit", "verify"]);
}

#[test]
fn the_python_sdk_over_stdio_drafts_and_cites_as_an_editor_and_is_refused_as_a_reader() {
    let Some(py) = python() else { return };
    let dir = tempdir();
    let tokens = archive(dir.path());
    let bin = env!("CARGO_BIN_EXE_gleaner");
    let data = dir.path().to_str().unwrap();
    let editor = client(&py, &["stdio", bin, data], &tokens.editor, &[]);
    let (thread, message, doc) = check_editor(&editor);
    check_cli(dir.path(), doc, &message);
    let env = [
        ("GLEANER_THREAD", thread.as_str()),
        ("GLEANER_MESSAGE", message.as_str()),
        ("GLEANER_DOC", &doc.to_string()),
    ];
    check_reader(&client(&py, &["stdio", bin, data], &tokens.reader, &env));
    // The initialize handshake alone (no server/discover probe) works too.
    let legacy = client(
        &py,
        &["stdio", bin, data],
        &tokens.read_only,
        &[("GLEANER_MCP_MODE", "legacy")],
    );
    assert_eq!(
        legacy["search"]["json"]["conversations"][0]["subject"],
        MX04_SUBJECT
    );
    assert!(legacy["draft"]["text"]
        .as_str()
        .unwrap()
        .contains("read-only"));
    assert!(!legacy["tools"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t == "cite"));
}

#[test]
fn the_python_sdk_over_streamable_http_drafts_and_cites_and_the_web_api_shows_it() {
    let Some(py) = python() else { return };
    let dir = tempdir();
    let tokens = archive(dir.path());
    let served = common::Served::start(&["--data", dir.path().to_str().unwrap(), "serve"]);
    let url = format!("http://{}/mcp", served.addr);
    let editor = client(&py, &["http", &url], &tokens.editor, &[]);
    let (thread, message, doc) = check_editor(&editor);
    let env = [
        ("GLEANER_THREAD", thread.as_str()),
        ("GLEANER_MESSAGE", message.as_str()),
        ("GLEANER_DOC", &doc.to_string()),
    ];
    check_reader(&client(&py, &["http", &url], &tokens.reader, &env));
    let ro = client(&py, &["http", &url], &tokens.read_only, &[]);
    assert_eq!(ro["draft"]["is_error"], true);
    assert!(ro["draft"]["text"].as_str().unwrap().contains("read-only"));

    // The web API shows the citation and the audit entry to an admin.
    let login = serde_json::json!({"username": "root", "password": "root-pw"}).to_string();
    let res = common::http(
        served.addr,
        "POST",
        "/api/login",
        &[("Content-Type", "application/json")],
        login.as_bytes(),
    );
    assert_eq!(res.status, 200, "{}", res.text());
    let cookie = res
        .header("set-cookie")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let d = common::get(
        served.addr,
        &format!("/api/docs/{doc}"),
        &[("Cookie", &cookie)],
    )
    .json();
    assert_eq!(d["citations"][0]["message_id"], message.as_str());
    assert_eq!(
        d["citations"][0]["created_by"],
        "alice (mcp token alice-laptop)"
    );
    let audit = common::get(
        served.addr,
        &format!("/api/audit?subject=doc:{doc}"),
        &[("Cookie", &cookie)],
    )
    .json();
    assert!(
        audit["entries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "doc.cite" && e["actor"] == "alice (mcp token alice-laptop)"),
        "{audit}"
    );
    assert!(audit["verification"]["first_bad"].is_null());
    check_cli(dir.path(), doc, &message);

    // Without a token, with a bad one, or from a web page: refused.
    let init = br#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;
    let json = ("Content-Type", "application/json");
    assert_eq!(
        common::http(served.addr, "POST", "/mcp", &[json], init).status,
        401
    );
    let bad = ("Authorization", "Bearer glt_0000");
    assert_eq!(
        common::http(served.addr, "POST", "/mcp", &[json, bad], init).status,
        401
    );
    let auth = format!("Bearer {}", tokens.editor);
    let ok = ("Authorization", auth.as_str());
    assert_eq!(
        common::http(served.addr, "POST", "/mcp", &[json, ok], init).status,
        200
    );
    let origin = ("Origin", "http://evil.example");
    assert_eq!(
        common::http(served.addr, "POST", "/mcp", &[json, ok, origin], init).status,
        403
    );
    // A revoked token stops working at once.
    common::gleaner_ok(dir.path(), &["token", "revoke", "alice-laptop"]);
    assert_eq!(
        common::http(served.addr, "POST", "/mcp", &[json, ok], init).status,
        401
    );
}

/// A tool's answer is an error whose text says `words`.
fn assert_tool_error(result: &Value, words: &str) {
    assert_eq!(result["isError"], true, "{result}");
    let text = result["content"][0]["text"].as_str().unwrap_or_default();
    assert!(text.contains(words), "{words:?} in {text:?}");
}

/// The sample archive with its tokens, opened for an in-process server.
fn in_process(dir: &Path) -> (Tokens, gleaner::index::MailIndex, gleaner::access::Users) {
    let tokens = archive(dir);
    let index = gleaner::index::MailIndex::open(&dir.join("index"), false).unwrap();
    let users = gleaner::access::Users::open(dir).unwrap();
    (tokens, index, users)
}

/// A `tools/call` through the protocol layer, in process.
fn call(mcp: &gleaner::mcp::Mcp, token: &str, name: &str, args: Value) -> Value {
    use gleaner::mcp::protocol::{handle, Session};
    let caller = mcp.caller(&gleaner::mcp::Credential::Token(token.to_string()));
    let msg = serde_json::json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call",
        "params": {"name": name, "arguments": args}});
    let answer = handle(mcp, &caller, &mut Session::default(), &msg).expect("an answer");
    assert_eq!(answer["id"], 7);
    answer["result"].clone()
}

#[test]
fn review_and_decide_as_a_token_budgets_and_the_rate_limit_in_process() {
    use serde_json::json;
    let dir = tempdir();
    let (tokens, index, users) = in_process(dir.path());
    let curation = gleaner::curate::Curation::open(dir.path(), "http://gleaner.test").unwrap();
    let policy =
        serde_json::from_value(json!({"name": "old", "lists": [OPS, DEV], "older_than": "6y"}))
            .unwrap();
    curation.put_policy(&policy, "test").unwrap();
    let mcp = gleaner::mcp::Mcp::new(index, users)
        .with_curation(curation.clone())
        .with_rate(0, 0);

    // A reviewer's queue through a token, then a decision recorded as the token.
    let q = call(
        &mcp,
        &tokens.editor,
        "review_queue",
        json!({"policy": "old", "limit": 3}),
    );
    assert_eq!(q["isError"], false, "{q}");
    let items = q["structuredContent"]["items"].as_array().unwrap();
    assert!(!items.is_empty());
    let thread = items[0]["thread_id"].as_str().unwrap().to_string();
    let d = call(
        &mcp,
        &tokens.editor,
        "decide",
        json!({"policy": "old", "threads": [thread], "decision": "promote"}),
    );
    assert_eq!(d["isError"], false, "{d}");
    let entry = curation
        .audit(Some(&format!("thread:{thread}")), 5)
        .unwrap()
        .into_iter()
        .find(|e| e.action.starts_with("review."))
        .expect("an audit entry for the decision");
    assert_eq!(entry.actor, "alice (mcp token alice-laptop)");
    // A reader may not see queues; a read-only token may not decide.
    let r = call(&mcp, &tokens.reader, "review_queue", json!({}));
    assert_tool_error(&r, "reviewers");
    let ro = call(
        &mcp,
        &tokens.read_only,
        "decide",
        json!({"policy": "old", "threads": ["x"], "decision": "keep"}),
    );
    assert_tool_error(&ro, "read-only");
    // A bad query is a tool error naming the position.
    let bad = call(
        &mcp,
        &tokens.editor,
        "search",
        json!({"query": "disk (list:ops"}),
    );
    assert_tool_error(&bad, "position");

    // The budget: a thread cut to 1,000 characters says so.
    let t = call(
        &mcp,
        &tokens.editor,
        "read_thread",
        json!({"thread_id": thread, "max_chars": 1000}),
    );
    let t = &t["structuredContent"];
    if t["total_messages"].as_u64().unwrap() > t["messages"].as_array().unwrap().len() as u64 {
        assert!(t["truncated"].as_str().unwrap().contains("left out"));
    }
    let m = call(
        &mcp,
        &tokens.editor,
        "read_message",
        json!({"message_id": t["messages"][0]["message_id"], "max_chars": 1000}),
    );
    let own = &m["structuredContent"]["own_words"];
    if let Some(next) = own["next_offset"].as_u64() {
        assert!(own["text"]
            .as_str()
            .unwrap()
            .contains(&format!("offset={next} to read on")));
    }

    // The rate limit: a burst of 3, then "retry".
    let limited = mcp.clone().with_rate(60, 3);
    for _ in 0..3 {
        assert_eq!(
            call(&limited, &tokens.editor, "list_lists", json!({}))["isError"],
            false
        );
    }
    let over = gleaner::mcp::protocol::handle(
        &limited,
        &limited.caller(&gleaner::mcp::Credential::Token(tokens.editor.clone())),
        &mut Default::default(),
        &json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "list_lists", "arguments": {}}}),
    )
    .unwrap();
    assert!(
        over["error"]["message"]
            .as_str()
            .unwrap()
            .contains("retry in"),
        "{over}"
    );
    // Another token is not limited by this one.
    assert_eq!(
        call(&limited, &tokens.reader, "list_lists", json!({}))["isError"],
        false
    );
}

/// Answers sized for a model's context say where they were cut and how to read
/// on, on the longest message and the largest conversation of the sample;
/// `read_raw` gives the stored bytes, and nothing to a reader of another list.
#[test]
fn long_answers_are_cut_with_a_way_on_and_read_raw_gives_the_bytes() {
    use serde_json::json;
    use std::collections::HashMap;
    let dir = tempdir();
    let (tokens, index, users) = in_process(dir.path());
    // The longest text and the largest conversation on the editor's lists.
    let (mut longest, mut sizes) = (None::<(usize, String)>, HashMap::<String, usize>::new());
    gleaner::query::search::for_each_message(&index, |m| {
        if m.list == OPS || m.list == DEV {
            *sizes.entry(m.thread_id.clone()).or_default() += 1;
            if !m.message_id.is_empty() && longest.as_ref().is_none_or(|(n, _)| m.text.len() > *n) {
                longest = Some((m.text.len(), m.message_id.clone()));
            }
        }
        true
    })
    .unwrap();
    let (length, message_id) = longest.expect("a message");
    assert!(length > 1_000, "the sample has a long message ({length})");
    let (thread, size) = sizes.into_iter().max_by_key(|(_, n)| *n).expect("a thread");
    assert!(size >= 8, "the sample has a long conversation ({size})");
    let mcp = gleaner::mcp::Mcp::new(index.clone(), users).with_rate(0, 0);

    let m = call(
        &mcp,
        &tokens.editor,
        "read_message",
        json!({"message_id": message_id, "max_chars": 1000}),
    );
    let own = &m["structuredContent"]["own_words"];
    let next = own["next_offset"]
        .as_u64()
        .expect("cut, with an offset to read on");
    assert!(own["text"]
        .as_str()
        .unwrap()
        .contains(&format!("offset={next} to read on")));
    let on = call(
        &mcp,
        &tokens.editor,
        "read_message",
        json!({"message_id": message_id, "offset": next}),
    );
    assert_eq!(on["structuredContent"]["own_words"]["offset"], next);

    let t = call(
        &mcp,
        &tokens.editor,
        "read_thread",
        json!({"thread_id": thread, "max_chars": 1000}),
    );
    let t = &t["structuredContent"];
    assert_eq!(t["total_messages"].as_u64(), Some(size as u64), "{t}");
    assert!(t["messages"].as_array().unwrap().len() < size, "{t}");
    assert!(t["truncated"].as_str().unwrap().contains("left out"), "{t}");

    // read_raw: the bytes as stored, counted exactly; a reader of i18n gets none.
    let stored = gleaner::query::find_message(&index, &message_id)
        .unwrap()
        .expect("the message");
    let bytes = gleaner::store::read_first(&stored.locations).unwrap();
    let raw = call(
        &mcp,
        &tokens.editor,
        "read_raw",
        json!({"message_id": message_id, "max_chars": 100000}),
    );
    let raw = &raw["structuredContent"];
    assert_eq!(raw["bytes"].as_u64(), Some(bytes.len() as u64));
    assert_eq!(
        raw["raw"]["text"].as_str().unwrap(),
        String::from_utf8_lossy(&bytes)
    );
    let refused = call(
        &mcp,
        &tokens.reader,
        "read_raw",
        json!({"message_id": message_id}),
    );
    assert_eq!(refused["isError"], true, "{refused}");
}
