//! Departing staff's mailboxes end to end (issue 24 item 4), with the real
//! binary, real Maildirs made from shared corpus messages and a real `serve`
//! on loopback: before the departure the mailbox's list follows its grants;
//! after `mailbox depart` only the policy's readers (a user, a role) see it
//! — through the JSON API's search, message, thread and mbox export, MCP over
//! HTTP with API tokens, and IMAP (Python's imaplib) — `is:departed` finds it
//! for them, personal volumes stay off media sets, a hold
//! keeps it, and a purge needs two different admins once the hold is over.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

use crate::common::{self, enc, get};

const PW: &str = "departure-pw-1";
const ALICE: &str = "alice.mailbox.invalid";
const CAROL: &str = "carol.mailbox.invalid";

struct Site {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

impl Site {
    fn config(&self) -> PathBuf {
        self.root.join("gleaner.toml")
    }

    fn ok(&self, args: &[&str]) -> String {
        common::gleaner_config_ok(&self.config(), args)
    }

    fn refused(&self, args: &[&str]) -> String {
        let out = common::gleaner_config(&self.config(), args);
        assert!(!out.status.success(), "gleaner {args:?} must be refused");
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    fn add_user(&self, name: &str, role: &str) {
        let mut child = Command::new(env!("CARGO_BIN_EXE_gleaner"))
            .arg("--config")
            .arg(self.config())
            .args(["user", "add", name, "--role", role, "--password-stdin"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(format!("{PW}\n").as_bytes())
            .unwrap();
        assert!(child.wait().unwrap().success());
    }

    fn serve(&self) -> Served {
        let mut child = Command::new(env!("CARGO_BIN_EXE_gleaner"))
            .arg("--config")
            .arg(self.config())
            .arg("serve")
            .env_remove("GLEANER_DATA")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let (mut http, mut imap) = (None, None);
        while http.is_none() || imap.is_none() {
            let line = lines.next().expect("serve printed its addresses").unwrap();
            if let Some(a) = line.strip_prefix("gleaner: serving http://") {
                http = Some(a.trim_end_matches('/').parse().unwrap());
            }
            if let Some(a) = line.strip_prefix("gleaner: serving imap://127.0.0.1:") {
                imap = Some(a.split('/').next().unwrap().parse().unwrap());
            }
        }
        std::thread::spawn(move || for _ in lines {});
        Served {
            child,
            addr: http.unwrap(),
            imap: imap.unwrap(),
        }
    }
}

/// `gleaner serve`, killed when dropped.
struct Served {
    child: Child,
    addr: std::net::SocketAddr,
    imap: u16,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Served {
    fn login(&self, user: &str) -> String {
        common::login_cookie(self.addr, user, PW)
    }

    fn get(&self, cookie: &str, path: &str) -> common::HttpResponse {
        get(self.addr, path, &[("Cookie", cookie)])
    }

    /// Message-IDs a search finds for `cookie`.
    fn found(&self, cookie: &str, q: &str) -> Vec<String> {
        let res = self.get(
            cookie,
            &format!("/api/search?q={}&view=messages&limit=100", enc(q)),
        );
        assert_eq!(res.status, 200, "{q}: {}", res.text());
        res.json()["hits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["message_id"].as_str().unwrap().to_string())
            .collect()
    }

    /// (mailboxes LISTed, messages in INBOX) for `user` over IMAP.
    fn imap(&self, user: &str) -> (Vec<String>, usize) {
        let script = r#"
import imaplib, json, sys
M = imaplib.IMAP4('127.0.0.1', int(sys.argv[1]))
M.login(sys.argv[2], sys.argv[3])
typ, boxes = M.list()
names = [b.decode().rsplit(' ', 1)[-1].strip('"') for b in boxes]
M.select('INBOX', readonly=True)
typ, data = M.search(None, 'ALL')
print(json.dumps({"boxes": names, "inbox": len(data[0].split())}))
M.logout()
"#;
        let out = Command::new("python3")
            .args(["-c", script, &self.imap.to_string(), user, PW])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "imaplib as {user}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        let boxes = v["boxes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b.as_str().unwrap().to_string())
            .collect();
        (boxes, v["inbox"].as_u64().unwrap() as usize)
    }
}

fn python_present() -> bool {
    if Command::new("python3")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        return true;
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("CI: python3 is missing (the IMAP checks use its imaplib)");
    }
    eprintln!("NOTICE: departure test SKIPPED: python3 is missing");
    false
}

fn fill(dir: &Path, files: &[PathBuf]) {
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    for f in files {
        std::fs::copy(f, dir.join("cur").join(f.file_name().unwrap())).unwrap();
    }
}

fn day_before_today() -> String {
    let t = time::OffsetDateTime::now_utc() - time::Duration::days(1);
    format!("{:04}-{:02}-{:02}", t.year(), u8::from(t.month()), t.day())
}

#[test]
fn a_departed_mailbox_is_read_only_by_its_readers_held_then_purged_by_two_admins() {
    let Some(corpora) = common::shared_corpora() else {
        return;
    };
    if !python_present() {
        return;
    }
    let dir = common::tempdir();
    let root = dir.path().to_path_buf();
    let corpus = common::shared_maildir_files(&corpora, "notmuch-corpora");
    fill(&root.join("alice"), &corpus[100..140]);
    fill(&root.join("carol"), &corpus[140..160]);
    std::fs::write(
        root.join("gleaner.toml"),
        r#"
data = "data"
[http]
listen = "127.0.0.1:0"
[imap]
listen = "127.0.0.1:0"
[archive]
volume_size = "100KB"
[[source]]
kind = "maildir"
path = "alice"
owner = "alice"
[[source]]
kind = "maildir"
path = "carol"
owner = "carol"
[[departure]]
name = "legal"
owners = ["alice"]
readers = ["role:editor", "bob"]
hold = "7y"
[[departure]]
name = "short"
readers = ["bob"]
hold = "1y"
"#,
    )
    .unwrap();
    let site = Site { _dir: dir, root };
    site.ok(&["index"]);
    for (user, role) in [
        ("admin1", "admin"),
        ("admin2", "admin"),
        ("alice", "reader"),
        ("eve", "reader"),
        ("bob", "reader"),
        ("ed", "editor"),
    ] {
        site.add_user(user, role);
    }
    site.ok(&["user", "grant", "alice", ALICE]);
    site.ok(&["user", "grant", "eve", ALICE]);

    // Before: the mailbox follows its grants, whatever List-Ids its mail carries.
    let alice_mail = {
        let served = site.serve();
        let admin = served.login("admin1");
        let all = served.found(&admin, &format!("list:{ALICE}"));
        assert!(all.len() >= 30, "{all:?}");
        let eve = served.login("eve");
        assert_eq!(
            served.found(&eve, &format!("list:{ALICE}")).len(),
            all.len()
        );
        let bob = served.login("bob");
        assert!(served.found(&bob, &format!("list:{ALICE}")).is_empty());
        assert!(served.found(&admin, "is:departed").is_empty());
        all
    };
    let one = enc(&alice_mail[0]);
    let depart_alice = || -> Value {
        let day = day_before_today();
        let args = [
            "mailbox", "depart", "alice", "--on", &day, "--by", "admin1", "--json",
        ];
        serde_json::from_str(&site.ok(&args)).unwrap()
    };

    // Departure: restrict, hold, archive — every step in the audit log.
    let report = depart_alice();
    assert_eq!(
        report["archive"]["archived"].as_u64().unwrap() as usize,
        alice_mail.len()
    );
    assert!(!report["archive"]["volumes"].as_array().unwrap().is_empty());
    let log = site.ok(&["audit", "log", "--json", "--limit", "100"]);
    for action in [
        "mailbox.restrict",
        "hold.add",
        "archive.seal",
        "mailbox.depart",
    ] {
        assert!(log.contains(&format!("\"{action}\"")), "{action}: {log}");
    }
    assert_eq!(
        site.ok(&["search", "--json", "--limit", "500", "is:held"])
            .lines()
            .count(),
        alice_mail.len()
    );

    let token = |user: &str| {
        site.ok(&["token", "create", &format!("{user}-mcp"), "--user", user])
            .trim()
            .to_string()
    };
    let (bob_token, eve_token) = (token("bob"), token("eve"));
    {
        let served = site.serve();
        // MCP over HTTP: the assistant answers as its token's user.
        let mcp_search = |token: &str| {
            let call = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                "params": {"name": "search", "arguments":
                    {"query": format!("list:{ALICE}"), "results": "messages"}}});
            let auth = format!("Bearer {token}");
            let res = common::http(
                served.addr,
                "POST",
                "/mcp",
                &[
                    ("Content-Type", "application/json"),
                    ("Authorization", &auth),
                ],
                call.to_string().as_bytes(),
            );
            assert_eq!(res.status, 200, "{}", res.text());
            res.text()
        };
        let bob_answer = mcp_search(&bob_token);
        // The first page holds some of the mailbox (its order is MCP's own),
        // and the total counts all of it.
        assert!(
            alice_mail.iter().any(|m| bob_answer.contains(m.as_str()))
                && bob_answer.contains(&format!("\"total\":{}", alice_mail.len())),
            "bob over MCP: {bob_answer}"
        );
        let eve_answer = mcp_search(&eve_token);
        assert!(
            alice_mail
                .iter()
                .all(|id| !eve_answer.contains(id.as_str())),
            "eve over MCP: {eve_answer}"
        );
        for reader in ["bob", "ed", "admin1"] {
            let c = served.login(reader);
            let mut found = served.found(&c, &format!("list:{ALICE}"));
            found.sort();
            let mut expected = alice_mail.clone();
            expected.sort();
            assert_eq!(found, expected, "{reader} reads the departed mailbox");
            assert_eq!(
                served.found(&c, "is:departed").len(),
                alice_mail.len(),
                "{reader}"
            );
            let msg = served.get(&c, &format!("/api/messages/{one}"));
            assert_eq!(msg.status, 200, "{reader}: {}", msg.text());
            let thread = msg.json()["thread_id"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let t = served.get(&c, &format!("/api/threads/{}", enc(&thread)));
            assert_eq!(t.status, 200, "{reader} thread");
            let mbox = served.get(
                &c,
                &format!("/api/export.mbox?q={}", enc(&format!("list:{ALICE}"))),
            );
            assert_eq!(mbox.status, 200);
            assert_eq!(
                mbox.text()
                    .lines()
                    .filter(|l| l.starts_with("From "))
                    .count(),
                alice_mail.len(),
                "{reader} export"
            );
        }
        // Grants from before the departure no longer count: not even hers.
        for gone in ["eve", "alice"] {
            let c = served.login(gone);
            assert!(
                served.found(&c, &format!("list:{ALICE}")).is_empty(),
                "{gone}"
            );
            assert!(served.found(&c, "is:departed").is_empty(), "{gone}");
            assert_eq!(
                served.get(&c, &format!("/api/messages/{one}")).status,
                404,
                "{gone}"
            );
            let mbox = served.get(
                &c,
                &format!("/api/export.mbox?q={}", enc(&format!("list:{ALICE}"))),
            );
            assert!(
                !mbox.text().lines().any(|l| l.starts_with("From ")),
                "{gone} export"
            );
        }
        // IMAP: the same rule, through the same access model.
        let (boxes, inbox) = served.imap("bob");
        assert!(boxes.iter().any(|b| b == ALICE), "{boxes:?}");
        assert_eq!(inbox, alice_mail.len());
        let (boxes, inbox) = served.imap("eve");
        assert!(
            !boxes.iter().any(|b| b.contains("mailbox.invalid")),
            "{boxes:?}"
        );
        assert_eq!(inbox, 0);
    }

    // Departing again (new mail, new readers) archives nothing twice and keeps one hold.
    let again = depart_alice();
    assert_eq!(again["archive"]["archived"], 0, "{again}");
    let holds = site.ok(&["hold", "list"]);
    assert_eq!(holds.matches("departure-alice").count(), 1, "{holds}");

    // A personal mailbox never goes onto media sets (no purge could reach them).
    let media = site.root.join("media");
    let sets: Value = serde_json::from_str(&site.ok(&[
        "export-media",
        "--size",
        "4.7G",
        "--every",
        "1y",
        "--json",
        media.to_str().unwrap(),
    ]))
    .unwrap();
    assert_eq!(sets["pending_items"], 0, "{sets}");
    assert!(
        sets["sets"].as_array().is_none_or(|s| s.is_empty()),
        "{sets}"
    );

    // The purge: never while held, only admins, two different ones.
    let err = site.refused(&["mailbox", "purge", "alice", "--approve", "--by", "admin1"]);
    assert!(err.contains("no purge before the hold ends"), "{err}");
    site.ok(&[
        "mailbox",
        "depart",
        "carol",
        "--on",
        "2019-01-01",
        "--by",
        "admin1",
    ]);
    let carol_files = std::fs::read_dir(site.root.join("carol/cur"))
        .unwrap()
        .count();
    assert_eq!(carol_files, 20);
    let err = site.refused(&["mailbox", "purge", "carol", "--approve", "--by", "bob"]);
    assert!(err.contains("not an admin"), "{err}");
    let first: Value = serde_json::from_str(&site.ok(&[
        "mailbox",
        "purge",
        "carol",
        "--approve",
        "--by",
        "admin1",
        "--json",
    ]))
    .unwrap();
    assert_eq!(first["purged"], false);
    let err = site.refused(&["mailbox", "purge", "carol", "--approve", "--by", "admin1"]);
    assert!(err.contains("approved this purge already"), "{err}");
    assert_eq!(
        std::fs::read_dir(site.root.join("carol/cur"))
            .unwrap()
            .count(),
        20
    );
    let done: Value = serde_json::from_str(&site.ok(&[
        "mailbox",
        "purge",
        "carol",
        "--approve",
        "--by",
        "admin2",
        "--json",
    ]))
    .unwrap();
    assert_eq!(done["purged"], true, "{done}");
    assert_eq!(done["approvals"], serde_json::json!(["admin1", "admin2"]));
    assert_eq!(
        std::fs::read_dir(site.root.join("carol/cur"))
            .unwrap()
            .count(),
        0
    );
    let volumes: Vec<String> = std::fs::read_dir(site.root.join("data/archive"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(volumes.iter().all(|v| !v.contains("carol")), "{volumes:?}");
    assert!(
        volumes.iter().any(|v| v.contains("departed-alice")),
        "{volumes:?}"
    );
    assert!(site
        .ok(&["search", "--json", &format!("list:{CAROL}")])
        .trim()
        .is_empty());
    assert!(!site
        .ok(&["search", "--json", &format!("list:{ALICE}")])
        .trim()
        .is_empty());
    let log = site.ok(&["audit", "log", "--json", "--limit", "100"]);
    let purges: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("mailbox:carol") && l.contains("purge"))
        .collect();
    assert_eq!(purges.len(), 3, "two approvals and the purge: {log}");
    site.ok(&["audit", "verify"]);
    site.ok(&["verify"]);
}
