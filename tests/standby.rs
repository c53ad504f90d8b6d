//! The failover drill (issue 24, item 1): two real `gleaner serve` processes
//! on loopback with real data directories, a standby pulling the primary's
//! database, index commits and sealed volumes over HTTP with a replication
//! token; reviewers decide (and an editor edits a document) continuously
//! through the API; the primary is `kill -9`ed; `gleaner promote` (refused
//! while the primary answered) makes the standby the primary; we count the
//! acknowledged decisions it lacks and their age at the kill (the RPO), verify
//! the audit chain with the real command, and compare searches.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::{self, enc, get, http, Served};

const PRIMARY: &str = r#"
data = "primary"
[archive]
volume_size = "300KB"
[replica]
tokens = ["standby-1"]
[[retention]]
name = "old-ops"
lists = ["ops.lists.example.org"]
archive_after = "7y"
remove_from_live = false
[[review]]
name = "ops-review"
lists = ["ops.lists.example.org"]
older_than = "6y"
"#;

const PASSWORD: &str = "correct horse battery";
/// Seconds between two pulls of the standby in the drill (`STANDBY_DRILL_INTERVAL`
/// measures another, e.g. the default 5 for docs/BENCHMARKS.md).
fn interval() -> String {
    std::env::var("STANDBY_DRILL_INTERVAL").unwrap_or_else(|_| "1".into())
}

fn gleaner(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_gleaner"))
        .args(args)
        .env_remove("GLEANER_DATA")
        .env_remove("GLEANER_CONFIG")
        .output()
        .expect("run gleaner")
}

fn ok(args: &[&str]) -> String {
    let out = gleaner(args);
    assert!(
        out.status.success(),
        "gleaner {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

struct Client {
    addr: SocketAddr,
    cookie: String,
    csrf: String,
}

impl Client {
    fn login(addr: SocketAddr, user: &str) -> Client {
        let body = json!({"username": user, "password": PASSWORD}).to_string();
        let res = http(
            addr,
            "POST",
            "/api/login",
            &[("Content-Type", "application/json")],
            body.as_bytes(),
        );
        assert_eq!(res.status, 200, "login {user}: {}", res.text());
        let cookie = res
            .header("set-cookie")
            .expect("cookie")
            .split(';')
            .next()
            .expect("cookie")
            .to_string();
        let me = get(addr, "/api/me", &[("Cookie", &cookie)]);
        let csrf = me.json()["csrf_token"].as_str().expect("csrf").to_string();
        Client { addr, cookie, csrf }
    }

    fn get(&self, path: &str) -> common::HttpResponse {
        get(self.addr, path, &[("Cookie", &self.cookie)])
    }

    fn send(&self, method: &str, path: &str, body: &Value) -> common::HttpResponse {
        http(
            self.addr,
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

    /// Every thread of the `ops-review` queue, decided or not.
    fn queue_threads(&self) -> Vec<String> {
        let queue = self
            .get("/api/review/queues/ops-review?limit=1000&all=1")
            .json();
        let items = queue["items"].as_array().expect("items");
        items
            .iter()
            .map(|i| i["thread_id"].as_str().unwrap().to_string())
            .collect()
    }

    fn search(&self, q: &str) -> Vec<String> {
        let path = format!("/api/search?q={}&limit=100&view=messages", enc(q));
        let mut res = self.get(&path);
        // A loaded machine may pass a search's deadline (503): ask again.
        for _ in 0..5 {
            if res.status != 503 {
                break;
            }
            std::thread::sleep(Duration::from_millis(500));
            res = self.get(&path);
        }
        assert_eq!(
            res.status,
            200,
            "search {q} on {}: {}",
            self.addr,
            res.text()
        );
        let v = res.json();
        let mut out = vec![format!("total={}", v["total"])];
        for h in v["hits"].as_array().expect("hits") {
            out.push(
                h["message_id"]
                    .as_str()
                    .or(h["id"].as_str())
                    .unwrap_or("")
                    .to_string(),
            );
        }
        out
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64
}

/// Waits until `f` holds, up to `secs` seconds.
fn wait_for(secs: u64, what: &str, mut f: impl FnMut() -> bool) {
    let until = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn files_of(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| {
                    (
                        e.file_name().to_string_lossy().into_owned(),
                        std::fs::read(e.path()).unwrap_or_default(),
                    )
                })
                .filter(|(n, _)| !n.starts_with('.'))
                .collect()
        })
        .unwrap_or_default()
}

/// `review.decide` notes present in a data directory's audit log.
fn decided_notes(config: &str, data: &Path) -> BTreeSet<String> {
    ok(&[
        "--config",
        config,
        "--data",
        data.to_str().expect("utf-8"),
        "audit",
        "log",
        "--json",
        "--limit",
        "1000000",
    ])
    .lines()
    .filter_map(|l| serde_json::from_str::<Value>(l).ok())
    .filter(|e| e["action"] == "review.decide")
    .filter_map(|e| {
        let d = &e["detail"];
        let d: Value = match d {
            Value::String(s) => serde_json::from_str(s).ok()?,
            d => d.clone(),
        };
        d["note"].as_str().map(str::to_string)
    })
    .collect()
}

/// A primary's data directory made from the sample, and where the standby goes.
struct Site {
    _dir: tempfile::TempDir,
    root: PathBuf,
    config: String,
    pdata: PathBuf,
    sdata: PathBuf,
    token_file: PathBuf,
    /// Replication tokens: allowed by `[replica] tokens`, and not.
    token: String,
    other: String,
    /// An ordinary API token of the same admin.
    api: String,
}

impl Site {
    /// The sample indexed, old ops mail sealed into volumes, users, tokens.
    fn new() -> Site {
        let dir = common::tempdir();
        let root = dir.path().to_path_buf();
        common::copy_dir(&common::sample(), &root.join("mail"));
        std::fs::write(root.join("primary.toml"), PRIMARY).unwrap();
        let config = root.join("primary.toml").to_str().unwrap().to_string();
        let c = config.as_str();
        let pdata = root.join("primary");
        ok(&["--config", c, "index", root.join("mail").to_str().unwrap()]);
        ok(&["--config", c, "archive", "run", "--by", "test"]);
        let users = gleaner::access::Users::open(&pdata).unwrap();
        use gleaner::access::Role;
        for (name, role) in [
            ("ada", Role::Admin),
            ("rita", Role::Reviewer),
            ("ed", Role::Editor),
        ] {
            users.add_user(name, role, PASSWORD).unwrap();
        }
        for u in ["rita", "ed"] {
            users
                .grant(u, &["ops.lists.example.org".to_string()])
                .unwrap();
        }
        drop(users);
        // Only an admin's replication-scoped token may pull; it is not an API token.
        let create = |name: &str, user: &str, replication: bool| {
            let mut args = vec!["--config", c, "token", "create", name, "--user", user];
            if replication {
                args.push("--replication");
            }
            gleaner(&args)
        };
        assert!(
            !create("standby-1", "rita", true).status.success(),
            "a reviewer's replication token"
        );
        let made = |o: std::process::Output| {
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            String::from_utf8_lossy(&o.stdout).trim().to_string()
        };
        let token = made(create("standby-1", "ada", true));
        let other = made(create("standby-2", "ada", true));
        let api = made(create("laptop", "ada", false));
        let list = ok(&["--config", c, "token", "list"]);
        assert!(
            list.lines()
                .any(|l| l.starts_with("standby-1\tada\treplication")),
            "{list}"
        );
        let token_file = root.join("token");
        std::fs::write(&token_file, &token).unwrap();
        Site {
            _dir: dir,
            config,
            sdata: root.join("standby"),
            pdata,
            root,
            token_file,
            token,
            other,
            api,
        }
    }

    /// `serve` of the primary, following the mail directory.
    fn primary(&self) -> Served {
        Served::start(&[
            "--config",
            &self.config,
            "serve",
            self.root.join("mail").to_str().unwrap(),
        ])
    }

    /// `serve --standby` of the primary at `primary` (the same gleaner.toml on both machines).
    fn standby(&self, primary: SocketAddr) -> Served {
        Served::start(&[
            "--config",
            &self.config,
            "--data",
            self.sdata.to_str().unwrap(),
            "serve",
            "--standby",
            "--primary",
            &format!("http://{primary}"),
            "--token-file",
            self.token_file.to_str().unwrap(),
            "--interval",
            &interval(),
        ])
    }
}

/// Waits until the standby at `sa` has applied a database, an index commit and the volumes.
fn wait_synced(sa: SocketAddr) {
    wait_for(
        120,
        "the database, index and volumes on the standby",
        || {
            let st = get(sa, "/api/replica/status", &[]).json();
            ["db_synced_ms", "index_synced_ms", "archive_synced_ms"]
                .iter()
                .all(|k| st["progress"][k].as_i64().is_some())
        },
    );
}

#[test]
fn failover_drill_loses_at_most_a_few_seconds_of_decisions() {
    let site = Site::new();
    let config = site.config.as_str();
    let (pdata, sdata) = (&site.pdata, &site.sdata);
    let s = sdata.to_str().unwrap();
    let (token, other, api) = (&site.token, &site.other, &site.api);
    let volumes = files_of(&pdata.join("archive"));
    assert!(
        volumes.keys().any(|n| n.ends_with(".mbox.zst")),
        "volumes: {:?}",
        volumes.keys()
    );

    let mut primary = site.primary();
    let pa = primary.addr;
    // Replication routes: a replication token allowed by [replica] tokens only.
    let bearer = |t: &str| format!("Bearer {}", t.trim());
    assert_eq!(get(pa, "/api/replica/index", &[]).status, 401);
    assert_eq!(
        get(pa, "/api/replica/index", &[("Authorization", &bearer(api))]).status,
        403
    );
    assert_eq!(
        get(
            pa,
            "/api/replica/index",
            &[("Authorization", &bearer(other))]
        )
        .status,
        403
    );
    assert_eq!(
        get(
            pa,
            "/api/replica/index",
            &[("Authorization", &bearer(token))]
        )
        .status,
        200
    );
    assert_eq!(
        get(
            pa,
            "/api/replica/index/..%2Fgleaner.db",
            &[("Authorization", &bearer(token))]
        )
        .status,
        404
    );

    // The standby starts from an empty data directory.
    let mut standby = site.standby(pa);
    let sa = standby.addr;
    let status = || get(sa, "/api/replica/status", &[]).json();
    wait_synced(sa);
    assert_eq!(status()["role"], "standby");
    // Sealed volumes arrive byte for byte.
    assert_eq!(files_of(&sdata.join("archive")), volumes);

    let rita = Client::login(pa, "rita");
    let ed = Client::login(pa, "ed");
    let queries = [
        "kernel",
        "list:ops is:archived",
        "from:alice",
        "subject:outage OR upgrade",
        "list:ops",
        "zebrafailover",
    ];
    let primary_answers: Vec<Vec<String>> = queries.iter().map(|q| rita.search(q)).collect();
    assert!(
        primary_answers[0].len() > 1,
        "the sample has kernel mail: {:?}",
        primary_answers[0]
    );

    // Read-only: searches answer, writes are refused with a clear error, also on the CLI.
    let srita = Client::login(sa, "rita");
    wait_for(30, "the same answers on the standby", || {
        queries.iter().map(|q| srita.search(q)).collect::<Vec<_>>() == primary_answers
    });
    let threads = rita.queue_threads();
    assert!(threads.len() >= 3, "threads to decide: {threads:?}");
    let refused = srita.send(
        "POST",
        "/api/review/queues/ops-review/decisions",
        &json!({"threads": [threads[0]], "decision": "keep"}),
    );
    assert_eq!(refused.status, 503, "{}", refused.text());
    assert!(refused.text().contains("standby"), "{}", refused.text());
    let cli = gleaner(&[
        "--config",
        config,
        "--data",
        s,
        "review",
        "decide",
        "ops-review",
        "keep",
        &threads[0],
    ]);
    assert!(!cli.status.success());
    assert!(
        String::from_utf8_lossy(&cli.stderr).contains("read-only standby"),
        "{}",
        String::from_utf8_lossy(&cli.stderr)
    );
    // The web UI's status line says it is a read-only standby and how far behind.
    if let Some(bin) = crate::wd::browser() {
        let ui = crate::wd::Session::new(&bin, "standby", Duration::from_secs(15));
        ui.submit_login(&format!("http://{sa}/login"), "rita", PASSWORD);
        let line = ui.wait("document.querySelector('#status-standby') && document.querySelector('#status-standby').textContent");
        let line = line.as_str().unwrap_or_default();
        assert!(
            line.contains("read-only standby") && line.contains("behind its primary"),
            "{line}"
        );
        ui.shot("standby-status");
    }
    // A standby's data directory is not served as a primary by mistake.
    let plain = gleaner(&[
        "--config",
        config,
        "--data",
        s,
        "serve",
        "--listen",
        "127.0.0.1:0",
    ]);
    assert!(!plain.status.success());
    assert!(String::from_utf8_lossy(&plain.stderr).contains("read-only standby"));
    // Promotion is refused while the primary answers.
    let early = gleaner(&["--config", config, "--data", s, "promote"]);
    assert!(!early.status.success());
    assert!(
        String::from_utf8_lossy(&early.stderr).contains("still answers"),
        "{}",
        String::from_utf8_lossy(&early.stderr)
    );

    // The drill: decisions and document edits, acknowledged by the primary, for a while.
    let doc = ed.send(
        "POST",
        "/api/docs",
        &json!({"kind": "procedure", "title": "Failover drill", "body": "v0\n"}),
    );
    assert_eq!(doc.status, 200, "{}", doc.text());
    let doc_id = doc.json()["document"]["id"].as_i64().unwrap();
    let mut acked: Vec<(String, i64)> = Vec::new();
    let mut edits: Vec<(String, i64)> = Vec::new();
    let decisions = ["keep", "dismiss", "promote"];
    let drill = Instant::now();
    let mut i = 0usize;
    while drill.elapsed() < Duration::from_secs(12) {
        let note = format!("drill-{i}");
        let res = rita.send(
            "POST",
            "/api/review/queues/ops-review/decisions",
            &json!({"threads": [threads[i % threads.len()]], "decision": decisions[i % 3], "note": note}),
        );
        assert_eq!(res.status, 200, "{}", res.text());
        acked.push((note, now_ms()));
        if i.is_multiple_of(5) {
            let body = format!("edit {i}\n");
            let res = ed.send(
                "PUT",
                &format!("/api/docs/{doc_id}"),
                &json!({"body": body}),
            );
            assert_eq!(res.status, 200, "{}", res.text());
            edits.push((body, now_ms()));
        }
        if i == 20 {
            // New mail reaches the primary: its next index commit is shipped too.
            let msg = format!(
                "From: Nia <nia@example.org>\r\nTo: ops@lists.example.org\r\nList-Id: <ops.lists.example.org>\r\n\
                 Subject: zebrafailover test\r\nMessage-ID: <drill-{}@example.org>\r\n\
                 Date: Mon, 07 Dec 2026 05:00:00 +0000\r\n\r\nThe zebrafailover body.\r\n",
                now_ms()
            );
            let new = site.root.join("mail/ops/new/9999999999.1.drill");
            std::fs::write(site.root.join("drill.eml"), msg).unwrap();
            std::fs::rename(site.root.join("drill.eml"), new).unwrap();
        }
        i += 1;
        std::thread::sleep(Duration::from_millis(50));
    }
    // What the primary answers just before the kill (with the new message).
    let primary_answers: Vec<Vec<String>> = queries.iter().map(|q| rita.search(q)).collect();
    assert_eq!(
        primary_answers[5].len(),
        2,
        "the new message on the primary: {:?}",
        primary_answers[5]
    );
    let lag_before_kill = status()["lag_seconds"].as_f64().unwrap_or(f64::NAN);
    primary.kill9();
    let killed = now_ms();

    // Promote: the primary no longer answers.
    let promoted = ok(&[
        "--config",
        config,
        "--data",
        s,
        "promote",
        "--by",
        "ops-on-call",
    ]);
    assert!(promoted.contains("promoted"), "{promoted}");
    wait_for(10, "the promoted standby to say so", || {
        status()["role"] == "promoted"
    });

    // What was lost: acknowledged decisions missing on the standby, and their age at the kill.
    let present = decided_notes(config, sdata);
    let lost: Vec<&(String, i64)> = acked.iter().filter(|(n, _)| !present.contains(n)).collect();
    let worst = lost.iter().map(|(_, at)| killed - at).max().unwrap_or(0);
    // Nothing newer than a lost decision is there (the standby holds a prefix).
    if let Some((first_lost, _)) = lost.first() {
        let from = acked.iter().position(|(n, _)| n == first_lost).unwrap();
        assert!(
            acked[from..].iter().all(|(n, _)| !present.contains(n)),
            "a torn state: a gap in what was shipped"
        );
    }
    let st = status();
    eprintln!(
        "standby drill: {} decisions and {} document edits acknowledged in 12 s; interval {} s; \
         lost {} decisions, the oldest {:.1} s old at the kill; lag before the kill {lag_before_kill:.1} s; \
         database {} bytes, {} snapshots applied, primary snapshot {} ms",
        acked.len(), edits.len(), interval(), lost.len(), worst as f64 / 1000.0,
        st["progress"]["db_bytes"], st["progress"]["db_applied"], st["progress"]["db_snapshot_ms"]
    );
    assert!(acked.len() > 20, "the drill decided continuously");
    assert!(
        worst <= 60_000,
        "RPO: a decision {worst} ms old at the kill was lost"
    );
    assert!(
        lost.len() < acked.len() / 2,
        "most decisions reached the standby: lost {}",
        lost.len()
    );

    // The document on the standby is one of the bodies the primary acknowledged, and recent.
    let sed = Client::login(sa, "ed");
    let d = sed.get(&format!("/api/docs/{doc_id}")).json();
    let body = d["document"]["body"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let at = edits
        .iter()
        .position(|(b, _)| *b == body)
        .unwrap_or_else(|| panic!("body {body:?} acknowledged"));
    let newer_lost = edits[at + 1..]
        .iter()
        .map(|(_, t)| killed - t)
        .max()
        .unwrap_or(0);
    assert!(
        newer_lost <= 60_000,
        "an edit {newer_lost} ms old at the kill was lost"
    );

    // The old primary comes back: told where its standby is, it refuses to take writes.
    let demoted = site.root.join("demoted.toml");
    let listed = format!("tokens = [\"standby-1\"]\nstandbys = [\"http://{sa}\"]");
    std::fs::write(
        &demoted,
        PRIMARY.replace("tokens = [\"standby-1\"]", &listed),
    )
    .unwrap();
    let mut back = Command::new(env!("CARGO_BIN_EXE_gleaner"))
        .args([
            "--config",
            demoted.to_str().unwrap(),
            "serve",
            "--listen",
            "127.0.0.1:0",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let until = Instant::now() + Duration::from_secs(60);
    let exit = loop {
        if let Some(st) = back.try_wait().unwrap() {
            break st;
        }
        if Instant::now() > until {
            let _ = back.kill();
            panic!("the demoted primary started serving");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut back.stderr.take().unwrap(), &mut err).unwrap();
    assert!(!exit.success() && err.contains("demoted"), "{err}");

    // The audit chain verifies on the promoted standby, with the real command, and records the promotion.
    ok(&["--config", config, "--data", s, "audit", "verify"]);
    let newest = ok(&[
        "--config", config, "--data", s, "audit", "log", "--json", "--limit", "3",
    ]);
    assert!(
        newest
            .lines()
            .next()
            .is_some_and(|l| l.contains("replica.promote")),
        "{newest}"
    );

    // Searches answer as they did on the primary; the promoted standby takes writes.
    let answers: Vec<Vec<String>> = queries.iter().map(|q| srita.search(q)).collect();
    assert_eq!(answers, primary_answers);
    let res = srita.send(
        "POST",
        "/api/review/queues/ops-review/decisions",
        &json!({"threads": [threads[0]], "decision": "keep", "note": "after failover"}),
    );
    assert_eq!(res.status, 200, "{}", res.text());
    standby.kill9();
}

/// `kill -9` of the standby at random moments while the primary changes:
/// after each, its database passes SQLite's integrity check and the audit
/// chain verifies, its index opens; restarted, it catches up with everything.
#[test]
fn a_standby_killed_at_any_moment_keeps_a_consistent_older_state() {
    let site = Site::new();
    let config = site.config.as_str();
    let s = site.sdata.to_str().unwrap();
    let primary = site.primary();
    let rita = Client::login(primary.addr, "rita");
    let threads = rita.queue_threads();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (stop2, addr) = (stop.clone(), primary.addr);
    let writer = std::thread::spawn(move || {
        let rita = Client::login(addr, "rita");
        let mut n = 0usize;
        while !stop2.load(std::sync::atomic::Ordering::SeqCst) {
            let body = json!({"threads": [threads[n % threads.len()]], "decision": if n.is_multiple_of(2) { "keep" } else { "dismiss" }, "note": format!("k-{n}")});
            assert_eq!(
                rita.send("POST", "/api/review/queues/ops-review/decisions", &body)
                    .status,
                200
            );
            n += 1;
            std::thread::sleep(Duration::from_millis(20));
        }
        n
    });
    let mut rng = common::Rng(0x5eed_57a1d);
    for round in 0..6 {
        let mut standby = site.standby(primary.addr);
        std::thread::sleep(Duration::from_millis(300 + rng.below(2500)));
        standby.kill9();
        let conn = rusqlite::Connection::open(site.sdata.join("gleaner.db")).unwrap();
        let check: String = conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(check, "ok", "round {round}");
        drop(conn);
        ok(&["--config", config, "--data", s, "audit", "verify"]);
        ok(&["--config", config, "--data", s, "stats"]);
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let decided = writer.join().unwrap();
    assert!(decided > 10);
    // Restarted, the standby catches up with everything the primary has.
    let standby = site.standby(primary.addr);
    wait_synced(standby.addr);
    let want = decided_notes(config, &site.pdata);
    wait_for(30, "every decision on the standby", || {
        decided_notes(config, &site.sdata) == want
    });
    ok(&["--config", config, "--data", s, "audit", "verify"]);
}
