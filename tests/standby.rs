//! The failover drill (issue 24, item 1): two real `gleaner serve` processes
//! on loopback with real data directories, a standby pulling the primary's
//! database, index commits and sealed volumes over HTTP with a replication
//! token; reviewers decide (and an editor edits a document) continuously
//! through the API; the primary is `kill -9`ed; `gleaner promote` (refused
//! while the primary answered) makes the standby the primary; we count the
//! acknowledged decisions it lacks and their age at the kill (the RPO), verify
//! the audit chain with the real command, and compare searches.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::{self, enc, get, http};

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
/// Seconds between two pulls of the standby in the drill.
const INTERVAL: &str = "1";

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

/// `gleaner serve` on a free loopback port; killed (SIGKILL) when dropped.
struct Served {
    child: Child,
    addr: SocketAddr,
}

impl Served {
    fn start(args: &[&str]) -> Served {
        let mut child = Command::new(env!("CARGO_BIN_EXE_gleaner"))
            .args(args)
            .args(["--listen", "127.0.0.1:0"])
            .env_remove("GLEANER_DATA")
            .env_remove("GLEANER_CONFIG")
            .env("GLEANER_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("serve");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("first line");
        let addr = line
            .trim()
            .trim_start_matches("gleaner: serving http://")
            .trim_end_matches('/')
            .parse()
            .unwrap_or_else(|e| panic!("address in {line:?}: {e}"));
        Served { child, addr }
    }

    fn kill9(&mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("wait");
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
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

    fn search(&self, q: &str) -> Vec<String> {
        let res = self.get(&format!("/api/search?q={}&limit=100&view=messages", enc(q)));
        assert_eq!(res.status, 200, "search {q}: {}", res.text());
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

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            copy_dir(&p, &to.join(e.file_name()));
        } else {
            std::fs::copy(&p, to.join(e.file_name())).unwrap();
        }
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

#[test]
fn failover_drill_loses_at_most_a_few_seconds_of_decisions() {
    let dir = common::tempdir();
    let root = dir.path();
    copy_dir(&common::sample(), &root.join("mail"));
    std::fs::write(root.join("primary.toml"), PRIMARY).unwrap();
    let config = root.join("primary.toml");
    let config = config.to_str().unwrap();
    let pdata: PathBuf = root.join("primary");
    let sdata: PathBuf = root.join("standby");
    let s = sdata.to_str().unwrap();

    // The primary: the sample indexed, old ops mail sealed into volumes, users, a token.
    ok(&[
        "--config",
        config,
        "index",
        root.join("mail").to_str().unwrap(),
    ]);
    ok(&["--config", config, "archive", "run", "--by", "test"]);
    let volumes = files_of(&pdata.join("archive"));
    assert!(
        volumes.keys().any(|n| n.ends_with(".mbox.zst")),
        "volumes: {:?}",
        volumes.keys()
    );
    let users = gleaner::access::Users::open(&pdata).unwrap();
    users
        .add_user("ada", gleaner::access::Role::Admin, PASSWORD)
        .unwrap();
    users
        .add_user("rita", gleaner::access::Role::Reviewer, PASSWORD)
        .unwrap();
    users
        .add_user("ed", gleaner::access::Role::Editor, PASSWORD)
        .unwrap();
    for u in ["rita", "ed"] {
        users
            .grant(u, &["ops.lists.example.org".to_string()])
            .unwrap();
    }
    drop(users);
    // Only an admin's replication-scoped token may pull; it is not an API token.
    let refused = gleaner(&[
        "--config",
        config,
        "token",
        "create",
        "standby-1",
        "--user",
        "rita",
        "--replication",
    ]);
    assert!(!refused.status.success(), "a reviewer's replication token");
    let token = ok(&[
        "--config",
        config,
        "token",
        "create",
        "standby-1",
        "--user",
        "ada",
        "--replication",
    ]);
    let other = ok(&[
        "--config",
        config,
        "token",
        "create",
        "standby-2",
        "--user",
        "ada",
        "--replication",
    ]);
    let api = ok(&[
        "--config", config, "token", "create", "laptop", "--user", "ada",
    ]);
    let token_file = root.join("token");
    std::fs::write(&token_file, token.trim()).unwrap();

    let mut primary = Served::start(&["--config", config, "serve"]);
    let pa = primary.addr;
    // Replication routes: a replication token allowed by [replica] tokens only.
    let bearer = |t: &str| format!("Bearer {}", t.trim());
    assert_eq!(get(pa, "/api/replica/index", &[]).status, 401);
    assert_eq!(
        get(
            pa,
            "/api/replica/index",
            &[("Authorization", &bearer(&api))]
        )
        .status,
        403
    );
    assert_eq!(
        get(
            pa,
            "/api/replica/index",
            &[("Authorization", &bearer(&other))]
        )
        .status,
        403
    );
    assert_eq!(
        get(
            pa,
            "/api/replica/index",
            &[("Authorization", &bearer(&token))]
        )
        .status,
        200
    );
    assert_eq!(
        get(
            pa,
            "/api/replica/index/..%2Fgleaner.db",
            &[("Authorization", &bearer(&token))]
        )
        .status,
        404
    );

    // The standby starts from an empty data directory.
    let primary_url = format!("http://{pa}");
    // The same gleaner.toml on both machines (its policies, archive settings), plus --standby.
    let mut standby = Served::start(&[
        "--config",
        config,
        "--data",
        s,
        "serve",
        "--standby",
        "--primary",
        &primary_url,
        "--token-file",
        token_file.to_str().unwrap(),
        "--interval",
        INTERVAL,
    ]);
    let sa = standby.addr;
    let status = || get(sa, "/api/replica/status", &[]).json();
    wait_for(120, "the first database and index on the standby", || {
        let st = status();
        st["progress"]["db_applied"].as_u64().unwrap_or(0) >= 1
            && st["progress"]["index_opstamp"].as_u64().is_some()
            && st["progress"]["archive_synced_ms"].as_i64().is_some()
    });
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
    let queue = rita
        .get("/api/review/queues/ops-review?limit=1000&all=1")
        .json();
    let threads: Vec<String> = queue["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["thread_id"].as_str().unwrap().to_string())
        .collect();
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
        i += 1;
        std::thread::sleep(Duration::from_millis(50));
    }
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
    let present = decided_notes(config, &sdata);
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
        "standby drill: {} decisions and {} document edits acknowledged in 12 s; interval {INTERVAL} s; \
         lost {} decisions, the oldest {:.1} s old at the kill; lag before the kill {lag_before_kill:.1} s; \
         database {} bytes, {} snapshots applied, primary snapshot {} ms",
        acked.len(), edits.len(), lost.len(), worst as f64 / 1000.0,
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
