//! Issue 23, what a signed-in user may not learn, against real servers on
//! 127.0.0.1: H1 (a public copy never serves a secret copy's bytes), M3 (no
//! decision on a thread the reviewer cannot see), and the low findings about
//! legal holds (`held_by`, `is:held` for admins only), `cited:N` (a reader
//! cannot tell a draft from no document) and users changed on the server
//! while their sessions are live.

use std::collections::BTreeSet;
use std::path::Path;

use gleaner::access::{Role, Users};
use gleaner::curate::{Curation, DocKind, DocStatus, NewCitation};
use gleaner::http::AppState;
use gleaner::index::doc::StoredMessage;
use gleaner::index::MailIndex;
use serde_json::{json, Value};

use crate::common::{self, enc, get, http, tempdir, TestServer};

const DEV: &str = "dev.lists.example.org";
const OPS: &str = "ops.lists.example.org";

/// A server over `data` (indexed) with login, curation and retention.
fn full_server(data: &Path) -> TestServer {
    let index = MailIndex::open(&data.join("index"), false).expect("open index");
    let users = Users::open(data).expect("users db");
    let curation = Curation::open(data, "http://gleaner.test").expect("curation db");
    let retention = gleaner::retention::Retention::open(data).expect("retention db");
    TestServer::serve(index.clone(), |_| {
        AppState::new(index, Some(users), Default::default(), true)
            .expect("state")
            .with_curation(curation)
            .with_retention(retention)
    })
}

/// Adds users `(name, role, lists)`, each with password `pw`.
fn add_users(data: &Path, users: &[(&str, Role, &[&str])]) {
    let db = Users::open(data).expect("users db");
    for (name, role, lists) in users {
        db.add_user(name, *role, "pw").expect("add user");
        if !lists.is_empty() {
            let lists: Vec<String> = lists.iter().map(|l| l.to_string()).collect();
            db.grant(name, &lists).expect("grant");
        }
    }
}

/// `GET path` with `cookie`.
fn as_user(server: &TestServer, cookie: &str, path: &str) -> common::HttpResponse {
    get(server.addr, path, &[("Cookie", cookie)])
}

/// The Message-IDs a search by `cookie` finds (status 200 asserted).
fn found(server: &TestServer, cookie: &str, q: &str) -> BTreeSet<String> {
    let res = as_user(
        server,
        cookie,
        &format!("/api/search?q={}&limit=100", enc(q)),
    );
    assert_eq!(res.status, 200, "{q}: {}", res.text());
    res.json()["hits"]
        .as_array()
        .expect("hits")
        .iter()
        .map(|h| h["message_id"].as_str().expect("id").to_string())
        .collect()
}

// ---------------------------------------------------------------------------
// H1: the red-team case over HTTP.

const SECRET: &str = "secret.lists.example";
const PUBLIC: &str = "public.lists.example";

/// One copy of `<m1@example.org>` on `list` (with the secret attachment or
/// without), written as Maildir message `n` of that list.
fn deliver(root: &Path, list: &str, n: usize, attachment: bool) {
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(root.join(list).join(sub)).expect("maildir");
    }
    let mut m = format!(
        "From: Ann <ann@example.org>\nTo: team@example.org\nList-Id: <{list}>\n\
         Subject: zebra quarterly numbers\nDate: Mon, 2 Mar 2015 10:00:00 +0000\n\
         Message-ID: <m1@example.org>\nReceived: by mx{n}.example.org\n"
    );
    let body = "The zebra numbers for the quarter are in.\n";
    if attachment {
        m.push_str(&format!(
            "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"b\"\n\n\
             --b\nContent-Type: text/plain\n\n{body}\n--b\n\
             Content-Type: application/octet-stream; name=\"plan.bin\"\n\
             Content-Disposition: attachment; filename=\"plan.bin\"\n\nTOPSECRET\n--b--\n"
        ));
    } else {
        m.push_str(&format!("\n{body}"));
    }
    let path = root.join(list).join("cur").join(format!("{n:03}:2,S"));
    std::fs::write(path, m).expect("write mail");
}

#[test]
fn h1_a_public_copy_never_serves_the_secret_copys_bytes() {
    let dir = tempdir();
    let mail = dir.path().join("mail");
    // The secret copy (with its attachment) arrives first, then the same
    // Message-ID and text on the public list.
    deliver(&mail, SECRET, 0, true);
    deliver(&mail, PUBLIC, 1, false);
    common::index_paths(dir.path(), &[mail.join(SECRET), mail.join(PUBLIC)]);
    add_users(
        dir.path(),
        &[
            ("pub", Role::Reader, &[PUBLIC]),
            ("sec", Role::Reader, &[SECRET]),
            ("none", Role::Reader, &["other.lists.example"]),
        ],
    );
    let server = full_server(dir.path());
    let id = enc("m1@example.org");
    let (public, _) = server.login("pub", "pw");
    for path in [
        format!("/api/messages/{id}/raw"),
        format!("/api/messages/{id}"),
        "/api/export.mbox?q=zebra".to_string(),
        "/api/search?q=zebra".to_string(),
        "/api/stats".to_string(),
    ] {
        let res = as_user(&server, &public, &path);
        assert_eq!(res.status, 200, "{path}: {}", res.text());
        let text = res.text();
        for secret in ["TOPSECRET", "plan.bin", SECRET] {
            assert!(!text.contains(secret), "{path} shows {secret}: {text}");
        }
        assert!(text.contains("zebra") || path == "/api/stats", "{path}");
    }
    // The secret list's reader keeps the message, attachment and all.
    let (secret, _) = server.login("sec", "pw");
    let raw = as_user(&server, &secret, &format!("/api/messages/{id}/raw"));
    assert_eq!(raw.status, 200);
    assert!(raw.text().contains("TOPSECRET"), "{}", raw.text());
    assert_eq!(found(&server, &secret, "zebra").len(), 1);
    // A reader of neither list learns nothing.
    let (neither, _) = server.login("none", "pw");
    for path in [
        format!("/api/messages/{id}/raw"),
        format!("/api/messages/{id}"),
    ] {
        assert_eq!(as_user(&server, &neither, &path).status, 404, "{path}");
    }
    assert!(found(&server, &neither, "zebra").is_empty());
}

// ---------------------------------------------------------------------------
// M3: decisions only on threads the reviewer may read.

#[test]
fn m3_a_decision_on_a_thread_the_reviewer_cannot_read_is_a_404() {
    let dir = tempdir();
    let (index, _) = common::index_paths(dir.path(), &[common::sample()]);
    add_users(
        dir.path(),
        &[
            ("owner", Role::Admin, &[]),
            ("devrev", Role::Reviewer, &[DEV]),
        ],
    );
    let server = full_server(dir.path());
    let (owner, owner_csrf) = server.login("owner", "pw");
    let (rev, rev_csrf) = server.login("devrev", "pw");
    let send = |cookie: &str, csrf: &str, method: &str, path: &str, body: Value| {
        http(
            server.addr,
            method,
            path,
            &[
                ("Cookie", cookie),
                ("X-CSRF-Token", csrf),
                ("Content-Type", "application/json"),
            ],
            body.to_string().as_bytes(),
        )
    };
    let put = send(
        &owner,
        &owner_csrf,
        "PUT",
        "/api/review/policies/old",
        json!({"lists": [DEV, OPS], "older_than": "6y"}),
    );
    assert_eq!(put.status, 200, "{}", put.text());
    let ops = common::only_on(&index, OPS);
    assert_eq!(
        as_user(
            &server,
            &rev,
            &format!("/api/threads/{}", enc(&ops.thread_id))
        )
        .status,
        404,
        "the reviewer cannot read the ops thread"
    );
    let decide = |cookie: &str, csrf: &str, thread: &str| {
        send(
            cookie,
            csrf,
            "POST",
            "/api/review/queues/old/decisions",
            json!({"threads": [thread], "decision": "dismiss"}),
        )
    };
    for thread in [ops.thread_id.as_str(), "made-up@nowhere.example"] {
        let res = decide(&rev, &rev_csrf, thread);
        assert_eq!(res.status, 404, "{thread}: {}", res.text());
        assert!(!res.text().contains(&ops.subject), "{}", res.text());
    }
    // Nothing was recorded; the admin, who can read it, may decide on it.
    let all = as_user(&server, &owner, "/api/review/queues/old?all=1&limit=1").json();
    assert_eq!(
        all["progress"]["done"], 0,
        "a refused decision was recorded: {}",
        all["progress"]
    );
    let res = decide(&owner, &owner_csrf, &ops.thread_id);
    assert_eq!(res.status, 200, "{}", res.text());
}

// ---------------------------------------------------------------------------
// Low: legal holds and `is:held` are for admins.

#[test]
fn legal_hold_names_and_is_held_are_for_admins_only() {
    let dir = tempdir();
    let (index, _) = common::index_paths(dir.path(), &[common::sample()]);
    add_users(
        dir.path(),
        &[
            ("owner", Role::Admin, &[]),
            ("rob", Role::Reader, &[DEV, OPS]),
            ("rita", Role::Reviewer, &[DEV, OPS]),
            ("ed", Role::Editor, &[DEV, OPS]),
        ],
    );
    gleaner::retention::Retention::open(dir.path())
        .expect("retention")
        .add_hold("case-42", &format!("list:{DEV}"), "litigation", "test")
        .expect("hold");
    let held = common::only_on(&index, DEV);
    let server = full_server(dir.path());
    let message = format!("/api/messages/{}", enc(&held.message_id));
    let (owner, _) = server.login("owner", "pw");
    assert_eq!(
        as_user(&server, &owner, &message).json()["held_by"],
        json!(["case-42"])
    );
    assert!(found(&server, &owner, "is:held").contains(&held.message_id));
    for user in ["rob", "rita", "ed"] {
        let (cookie, _) = server.login(user, "pw");
        let res = as_user(&server, &cookie, &message);
        assert_eq!(res.status, 200, "{user}");
        assert!(!res.text().contains("case-42"), "{user}: {}", res.text());
        let held_by = &res.json()["held_by"];
        assert!(
            held_by.is_null() || held_by == &json!([]),
            "{user}: {held_by}"
        );
        for q in ["is:held", "is:held zebra", "-is:held"] {
            let res = as_user(&server, &cookie, &format!("/api/search?q={}", enc(q)));
            assert_eq!(res.status, 400, "{user} {q}: {}", res.text());
            assert!(res.json()["error"]
                .as_str()
                .is_some_and(|e| e.contains("admins")));
            assert!(!res.text().contains("case-42"));
        }
        let export = as_user(
            &server,
            &cookie,
            &format!("/api/export.mbox?q={}", enc("is:held")),
        );
        assert_eq!(export.status, 400, "{user}: export by is:held");
        // Archive state is not a secret.
        assert_eq!(
            as_user(&server, &cookie, "/api/search?q=is:archived").status,
            200
        );
    }
}

// ---------------------------------------------------------------------------
// Low: `cited:N` does not tell a reader whether draft N exists.

#[test]
fn cited_n_does_not_tell_a_reader_a_draft_from_no_document() {
    let dir = tempdir();
    let (index, _) = common::index_paths(dir.path(), &[common::sample()]);
    add_users(
        dir.path(),
        &[
            ("rob", Role::Reader, &[DEV, OPS]),
            ("rita", Role::Reviewer, &[DEV, OPS]),
        ],
    );
    let c = Curation::open(dir.path(), "http://gleaner.test").expect("curation");
    let in_draft = common::only_on(&index, DEV);
    let in_published = common::only_on(&index, OPS);
    let make = |title: &str, m: &StoredMessage, publish: bool| {
        let doc = c
            .create_document(DocKind::Procedure, title, "ed", "Body.", "ed")
            .expect("doc");
        let id = doc.id.to_string();
        let new = NewCitation::from_message(m, None, None).expect("citation");
        c.cite(&id, &new, "ed").expect("cite");
        if publish {
            let update = gleaner::curate::documents::DocUpdate {
                status: Some(DocStatus::Published),
                ..Default::default()
            };
            c.save_document(&id, &update, None, "ed").expect("publish");
        }
        (id, doc.slug)
    };
    let (draft, draft_slug) = make("Secret plans for the merger", &in_draft, false);
    let (published, _) = make("Disk replacement", &in_published, true);
    let server = full_server(dir.path());
    let (rob, _) = server.login("rob", "pw");
    // A draft, by id or slug, is answered exactly as a document that does not exist.
    let error = |q: &str| {
        let res = as_user(&server, &rob, &format!("/api/search?q={}", enc(q)));
        assert_eq!(res.status, 400, "{q}: {}", res.text());
        res.json()
    };
    let missing = (draft.parse::<i64>().expect("id") + 1000).to_string();
    for (asked, absent) in [
        (draft.as_str(), missing.as_str()),
        (draft_slug.as_str(), "no-such-plans-for-anything"),
    ] {
        let a = error(&format!("cited:{asked}")).to_string();
        let b = error(&format!("cited:{absent}")).to_string();
        assert_eq!(
            a.replace(asked, "N"),
            b.replace(absent, "N"),
            "cited:{asked}"
        );
    }
    // is:cited and cited:<published> count published documents only.
    let published_only = BTreeSet::from([in_published.message_id.clone()]);
    assert_eq!(found(&server, &rob, "is:cited"), published_only);
    assert_eq!(
        found(&server, &rob, &format!("cited:{published}")),
        published_only
    );
    let m = as_user(
        &server,
        &rob,
        &format!("/api/messages/{}", enc(&in_draft.message_id)),
    );
    assert!(!m.text().contains("merger"), "{}", m.text());
    // Reviewers, who may read drafts, find what a draft cites.
    let (rita, _) = server.login("rita", "pw");
    assert_eq!(
        found(&server, &rita, &format!("cited:{draft}")),
        BTreeSet::from([in_draft.message_id.clone()])
    );
    assert_eq!(found(&server, &rita, "is:cited").len(), 2);
}

// ---------------------------------------------------------------------------
// Low: users changed on the server, while their sessions are live.

#[test]
fn user_commands_take_effect_on_live_sessions() {
    let dir = tempdir();
    common::index_paths(dir.path(), &[common::sample()]);
    add_users(
        dir.path(),
        &[
            ("ann", Role::Editor, &[DEV, OPS]),
            ("bob", Role::Reader, &[DEV]),
        ],
    );
    let server = full_server(dir.path());
    let me = |cookie: &str| as_user(&server, cookie, "/api/me").status;
    let lists = |cookie: &str| {
        as_user(&server, cookie, "/api/search?q=the").json()["facets"]["list"]
            .as_array()
            .expect("lists")
            .iter()
            .map(|f| f["value"].as_str().expect("list").to_string())
            .collect::<BTreeSet<_>>()
    };
    let login_status = |user: &str| {
        let body = json!({"username": user, "password": "pw"}).to_string();
        let headers = [("Content-Type", "application/json")];
        http(server.addr, "POST", "/api/login", &headers, body.as_bytes()).status
    };
    let data = dir.path();
    let (ann, _) = server.login("ann", "pw");
    assert_eq!(
        lists(&ann),
        BTreeSet::from([DEV.to_string(), OPS.to_string()])
    );
    // A revoked grant is gone on the next request.
    common::gleaner_ok(data, &["user", "revoke", "ann", OPS]);
    assert_eq!(lists(&ann), BTreeSet::from([DEV.to_string()]));
    // A new role ends the sessions.
    common::gleaner_ok(data, &["user", "role", "ann", "reader"]);
    assert_eq!(me(&ann), 401);
    let (ann, _) = server.login("ann", "pw");
    assert_eq!(as_user(&server, &ann, "/api/me").json()["role"], "reader");
    // A new password ends them too, and the old password no longer works.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gleaner"))
        .arg("--data")
        .arg(data)
        .args(["user", "passwd", "ann", "--password-stdin"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write as _;
            child.stdin.take().expect("stdin").write_all(b"new pw\n")?;
            child.wait_with_output()
        })
        .expect("passwd");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(me(&ann), 401);
    assert_eq!(login_status("ann"), 401, "the old password");
    let (ann, _) = server.login("ann", "new pw");
    // Ending every session of a user ends this one; others are untouched.
    let (bob, _) = server.login("bob", "pw");
    common::gleaner_ok(data, &["user", "sessions", "ann", "--end-all"]);
    assert_eq!(me(&ann), 401);
    assert_eq!(me(&bob), 200);
    // A removed user's session ends and they cannot log in again.
    common::gleaner_ok(data, &["user", "remove", "bob"]);
    assert_eq!(me(&bob), 401);
    assert_eq!(login_status("bob"), 401, "a removed user");
    let audit = common::gleaner_ok(data, &["audit", "log", "--json"]);
    for action in [
        "user.revoke",
        "user.role",
        "user.password",
        "user.sessions.end",
        "user.remove",
    ] {
        assert!(audit.contains(action), "{action} not audited");
    }
}
