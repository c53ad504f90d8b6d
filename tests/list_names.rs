//! List names people use (issue 18, item 5): review and retention policies and
//! user grants accept what `list:` accepts — the full List-Id or any
//! dot-separated part of it, in any case — on the real pipermail archives and
//! the sample lists together; a name of several lists is an error naming them;
//! a name of none is a loud warning in `user grant`, `review list`,
//! `archive run --dry-run` and at `serve` start.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common;

const CONFIG: &str = r#"
data = "data"
[[review]]
name = "short"
lists = ["DEV"]
older_than = "1d"
[[review]]
name = "full"
lists = ["dev.lists.example.org"]
older_than = "1d"
[[review]]
name = "pipermail"
lists = ["Fetchmail-Users"]
older_than = "1y"
[[review]]
name = "several"
lists = ["lists"]
older_than = "1d"
[[review]]
name = "nowhere"
lists = ["nosuch-review"]
older_than = "1d"
[[retention]]
name = "old-dev"
lists = ["dev", "nosuch-retention"]
archive_after = "1y"
"#;

struct Site {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

impl Site {
    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_gleaner"));
        c.arg("--config")
            .arg(self.root.join("gleaner.toml"))
            .args(args)
            .env_remove("GLEANER_DATA")
            .env_remove("GLEANER_CONFIG");
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("run gleaner")
    }

    fn ok(&self, args: &[&str]) -> (String, String) {
        let out = self.run(args);
        let (stdout, stderr) = texts(&out);
        assert!(out.status.success(), "gleaner {args:?}: {stdout}{stderr}");
        (stdout, stderr)
    }
}

fn texts(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The sample lists and two months of the real fetchmail-users pipermail
/// archive, indexed; `None` when the shared corpora are absent (off CI).
fn site() -> Option<Site> {
    let shared = common::shared_corpora();
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        assert!(shared.is_some(), "the shared corpora are missing under CI");
    }
    let months = shared?.join("pipermail/fetchmail-users");
    let dir = common::tempdir();
    let root = dir.path().to_path_buf();
    std::fs::write(root.join("gleaner.toml"), CONFIG).expect("config");
    let site = Site { _dir: dir, root };
    let march = months.join("2005-March.txt.gz");
    let july = months.join("2005-July.txt.gz");
    let sample = common::sample();
    site.ok(&["index", path(&sample), path(&march), path(&july)]);
    Some(site)
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

#[test]
fn policies_and_grants_take_the_names_list_takes() {
    let Some(site) = site() else { return };

    // `review list`: a short name covers what the full id covers; a real
    // pipermail list by its name in another case; warnings and an error for
    // the bad names, the other policies still listed.
    let out = site.run(&["review", "list", "--json"]);
    let (stdout, stderr) = texts(&out);
    assert!(!out.status.success(), "a policy failed: {stdout}{stderr}");
    let total = |name: &str| -> u64 {
        stdout
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).expect("json line"))
            .find(|v| v["policy"]["name"] == name)
            .and_then(|v| v["progress"]["total"].as_u64())
            .unwrap_or_else(|| panic!("policy {name} listed: {stdout}"))
    };
    assert!(total("full") > 10, "{stdout}");
    assert_eq!(total("short"), total("full"));
    assert!(total("pipermail") > 0, "{stdout}");
    assert!(
        stderr.contains("review policy \"nowhere\": no indexed list is named \"nosuch-review\""),
        "{stderr}"
    );
    assert!(
        stderr.contains("review policy \"several\": list name \"lists\" matches several lists")
            && stderr.contains("dev.lists.example.org")
            && stderr.contains("ops.lists.example.org"),
        "{stderr}"
    );
    assert!(
        stderr.contains("error: review policy \"several\""),
        "{stderr}"
    );

    // The queue of a short-named policy is the full-named one's.
    let queue = |name: &str| site.ok(&["review", "queue", name, "--json", "--all"]).0;
    assert_eq!(queue("short"), queue("full"));
    let out = site.run(&["review", "queue", "several"]);
    let (_, stderr) = texts(&out);
    assert!(!out.status.success());
    assert!(
        stderr.contains("\"lists\" matches several lists")
            && stderr.contains("users.lists.example.org"),
        "{stderr}"
    );

    // Grants store the full id; an unknown name warns; a name of several lists
    // is refused, naming them, and grants nothing.
    let mut add = site
        .cmd(&[
            "user",
            "add",
            "alice",
            "--role",
            "reader",
            "--password-stdin",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("user add");
    if let Some(mut stdin) = add.stdin.take() {
        stdin.write_all(b"correct horse\n").expect("password");
    }
    assert!(add.wait().expect("user add").success());
    let (_, stderr) = site.ok(&["user", "grant", "alice", "Dev", "fetchmail-users"]);
    assert!(!stderr.contains("warning"), "{stderr}");
    let (_, stderr) = site.ok(&["user", "grant", "alice", "nosuch-list"]);
    assert!(
        stderr.contains("warning: no indexed list is named \"nosuch-list\""),
        "{stderr}"
    );
    let out = site.run(&["user", "grant", "alice", "example"]);
    let (_, stderr) = texts(&out);
    assert!(!out.status.success());
    assert!(
        stderr.contains("\"example\" matches several lists"),
        "{stderr}"
    );
    let (users, _) = site.ok(&["user", "list", "--json"]);
    let alice: Value = users
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("json line"))
        .find(|u| u["name"] == "alice")
        .expect("alice listed");
    let mut granted: Vec<&str> = alice["lists"]
        .as_array()
        .expect("lists")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    granted.sort_unstable();
    assert_eq!(
        granted,
        ["dev.lists.example.org", "fetchmail-users", "nosuch-list"]
    );

    // `archive run --dry-run`: the short name plans the full list's years and
    // the unknown one is warned about.
    let (plan, stderr) = site.ok(&["archive", "run", "--dry-run", "--json"]);
    let rows: Vec<Value> = plan
        .lines()
        .map(|l| serde_json::from_str(l).expect("json row"))
        .collect();
    assert!(!rows.is_empty(), "{plan}");
    assert!(
        rows.iter().all(|r| r["list"] == "dev.lists.example.org"),
        "{plan}"
    );
    assert!(
        stderr.contains(
            "retention policy \"old-dev\": no indexed list is named \"nosuch-retention\""
        ),
        "{stderr}"
    );

    // The admin's policy page is told the same; the warning names the name.
    let server = common::TestServer::start(&site.root.join("data"), false);
    let policies = common::get(server.addr, "/api/review/policies", &[]).json();
    let policy = |name: &str| -> Value {
        policies["policies"]
            .as_array()
            .and_then(|ps| ps.iter().find(|p| p["name"] == name).cloned())
            .unwrap_or_else(|| panic!("policy {name}: {policies}"))
    };
    assert_eq!(policy("short")["warnings"], serde_json::json!([]));
    let nowhere = policy("nowhere")["warnings"].to_string();
    assert!(
        nowhere.contains("no indexed list is named \\\"nosuch-review\\\""),
        "{nowhere}"
    );
    drop(server);

    // `serve` says the same at start-up.
    let config = format!("{CONFIG}\n[http]\nlisten = \"127.0.0.1:0\"\nauth = true\n");
    std::fs::write(site.root.join("gleaner.toml"), config).expect("config");
    let mut server = site
        .cmd(&["serve"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("serve");
    let stderr = server.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let started = Instant::now();
    let mut seen = Vec::new();
    let expected = [
        "retention policy \"old-dev\": no indexed list is named \"nosuch-retention\"",
        "review policy \"several\": list name \"lists\" matches several lists",
        "user \"alice\": no indexed list is named \"nosuch-list\"",
    ];
    let warned =
        |seen: &[String], e: &str| seen.iter().any(|l| l.contains("warning") && l.contains(e));
    while !expected.iter().all(|e| warned(&seen, e)) && started.elapsed() < Duration::from_secs(60)
    {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
            seen.push(line);
        }
    }
    let _ = server.kill();
    let _ = server.wait();
    for e in expected {
        assert!(
            warned(&seen, e),
            "serve warned at start-up of {e}: {seen:?}"
        );
    }
}
