//! `gleaner serve` follows mail stores: MDA-style Maildir delivery and mbox
//! appends become searchable, renames keep one document, removals and
//! expunges remove it, a half-written mbox tail waits until complete, changes
//! made while stopped are reconciled, SIGTERM stops cleanly, and `kill -9`
//! during delivery, 20 times over, loses and duplicates nothing.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{gleaner, tempdir, Rng};

struct Serve {
    child: Child,
}

impl Serve {
    /// Starts `gleaner serve` on `stores` and waits until its start-up reconciliation is committed.
    fn start(data: &Path, stores: &[&Path]) -> Serve {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_gleaner"));
        cmd.arg("--data").arg(data);
        Serve::spawn(cmd, stores)
    }

    /// Starts `gleaner --config FILE serve`.
    fn start_with_config(config: &Path) -> Serve {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_gleaner"));
        cmd.arg("--config").arg(config);
        Serve::spawn(cmd, &[])
    }

    fn spawn(mut cmd: Command, stores: &[&Path]) -> Serve {
        let mut child = cmd
            .args([
                "--log-format",
                "json",
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--no-auth",
            ])
            .args(stores)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start serve");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains("ready") {
                    let _ = tx.send(());
                }
            }
        });
        rx.recv_timeout(Duration::from_secs(60))
            .expect("serve became ready");
        Serve { child }
    }

    fn kill9(mut self) {
        self.child.kill().expect("kill");
        self.child.wait().expect("wait");
    }

    fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill -TERM");
        self.child.wait().expect("wait")
    }
}

fn message(id: &str, word: &str) -> Vec<u8> {
    format!(
        "From: Live Tester <live@example.org>\nTo: ops@lists.example.org\nSubject: delivery {id}\nMessage-ID: <{id}@live.example.org>\nDate: Fri, 27 Nov 2026 10:00:00 +0000\nList-Id: <ops.lists.example.org>\n\nThis message talks about {word}.\nFrom the start, it has a From line.\n"
    )
    .into_bytes()
}

fn maildir(dir: &Path) -> PathBuf {
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    dir.to_path_buf()
}

/// Delivers like an MDA: write into tmp/, then rename into new/.
fn deliver_maildir(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let tmp = dir.join("tmp").join(name);
    std::fs::write(&tmp, bytes).unwrap();
    let new = dir.join("new").join(name);
    std::fs::rename(&tmp, &new).unwrap();
    new
}

/// Appends to an mbox under a dot-lock, mboxrd-quoted, ending with a blank line.
fn deliver_mbox(mbox: &Path, bytes: &[u8]) {
    let lock = PathBuf::from(format!("{}.lock", mbox.display()));
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&lock)
        .is_err()
    {
        assert!(Instant::now() < deadline, "lock held too long");
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(mbox)
        .unwrap();
    f.write_all(b"From live@example.org Fri Nov 27 10:00:00 2026\n")
        .unwrap();
    for line in bytes.split_inclusive(|&b| b == b'\n') {
        let stripped = line.iter().position(|&b| b != b'>').unwrap_or(line.len());
        if line[stripped..].starts_with(b"From ") {
            f.write_all(b">").unwrap();
        }
        f.write_all(line).unwrap();
    }
    f.write_all(b"\n").unwrap();
    f.sync_all().unwrap();
    drop(f);
    std::fs::remove_file(&lock).unwrap();
}

fn count(data: &Path, query: &str) -> u64 {
    let out = gleaner(data, &["search", "--json", "--limit", "1", query]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .and_then(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .and_then(|v| v["total"].as_u64())
        .unwrap_or(0)
}

fn wait_for(data: &Path, query: &str, want: u64) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let n = count(data, query);
        if n == want {
            return;
        }
        assert!(Instant::now() < deadline, "{query}: {n} hits, want {want}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn serve_follows_maildir_and_mbox() {
    let dir = tempdir();
    let md = maildir(&dir.path().join("md"));
    let mbox = dir.path().join("list.mbox");
    deliver_mbox(&mbox, &message("first", "zebrafish"));
    let data = dir.path().join("data");
    let serve = Serve::start(&data, &[&md, &mbox]);
    wait_for(&data, "zebrafish", 1);

    // Maildir delivery, then a flag change (new -> cur with :2,S): still one document.
    let new = deliver_maildir(&md, "1700000000.1.host", &message("m1", "aardvark"));
    wait_for(&data, "aardvark", 1);
    let cur = md.join("cur/1700000000.1.host:2,S");
    std::fs::rename(&new, &cur).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(count(&data, "aardvark"), 1);
    let raw = gleaner(&data, &["show", "--raw", "m1@live.example.org"]);
    assert_eq!(
        raw.stdout,
        message("m1", "aardvark"),
        "read through the rename"
    );

    // Removal removes it.
    std::fs::remove_file(&cur).unwrap();
    wait_for(&data, "aardvark", 0);

    // mbox append.
    deliver_mbox(&mbox, &message("b1", "capybara"));
    wait_for(&data, "capybara", 1);

    // A half-written tail (no blank line yet) is not indexed as a truncated message.
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&mbox)
        .unwrap();
    f.write_all(b"From live@example.org Fri Nov 27 10:00:00 2026\nMessage-ID: <half@live.example.org>\nSubject: half\n\nhalfwritten dromedary").unwrap();
    f.sync_all().unwrap();
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(count(&data, "dromedary"), 0, "incomplete message indexed");
    f.write_all(b" and the rest of it.\n\n").unwrap();
    f.sync_all().unwrap();
    drop(f);
    wait_for(&data, "dromedary", 1);
    wait_for(&data, "id:half@live.example.org", 1);

    let status = serve.terminate();
    assert!(status.success(), "SIGTERM exits 0: {status:?}");
}

#[test]
fn reconciles_changes_made_while_stopped() {
    let dir = tempdir();
    let md = maildir(&dir.path().join("md"));
    let mbox = dir.path().join("list.mbox");
    for i in 0..5 {
        deliver_maildir(
            &md,
            &format!("1700000000.{i}.host"),
            &message(&format!("s{i}"), "gnu"),
        );
        deliver_mbox(&mbox, &message(&format!("x{i}"), "okapi"));
    }
    let data = dir.path().join("data");
    let serve = Serve::start(&data, &[&md, &mbox]);
    assert_eq!(count(&data, "gnu"), 5);
    assert_eq!(count(&data, "okapi"), 5);
    assert!(serve.terminate().success());

    // While stopped: two new files, one removed, one renamed; the mbox is
    // compacted (message x2 expunged) and gets a new message.
    deliver_maildir(&md, "1700000001.9.host", &message("s9", "gnu"));
    deliver_maildir(&md, "1700000001.8.host", &message("s8", "gnu"));
    std::fs::remove_file(md.join("new/1700000000.0.host")).unwrap();
    std::fs::rename(
        md.join("new/1700000000.1.host"),
        md.join("cur/1700000000.1.host:2,RS"),
    )
    .unwrap();
    let rewritten = dir.path().join("list.mbox.new");
    for i in [0, 1, 3, 4, 5] {
        deliver_mbox(&rewritten, &message(&format!("x{i}"), "okapi"));
    }
    std::fs::rename(&rewritten, &mbox).unwrap();

    let serve = Serve::start(&data, &[&md, &mbox]);
    assert_eq!(count(&data, "gnu"), 6);
    assert_eq!(count(&data, "id:s0@live.example.org"), 0);
    assert_eq!(count(&data, "id:s1@live.example.org"), 1);
    assert_eq!(count(&data, "okapi"), 5);
    assert_eq!(
        count(&data, "id:x2@live.example.org"),
        0,
        "expunged message removed"
    );
    assert_eq!(count(&data, "id:x5@live.example.org"), 1);
    assert!(serve.terminate().success());
}

#[test]
fn kill_9_during_delivery_loses_and_duplicates_nothing() {
    let dir = tempdir();
    let md = maildir(&dir.path().join("md"));
    let mbox = dir.path().join("list.mbox");
    std::fs::write(&mbox, b"").unwrap();
    let data = dir.path().join("data");
    let mut rng = Rng(0xDEAD_BEEF_1234_5678);
    let mut delivered = Vec::new();
    let mut n = 0;
    for round in 0..20 {
        let serve = Serve::start(&data, &[&md, &mbox]);
        // Deliver a burst while gleaner runs, then kill it at a random moment.
        let burst = 3 + rng.below(6);
        let kill_after = rng.below(burst + 1);
        for i in 0..burst {
            let id = format!("k{n}");
            if rng.below(2) == 0 {
                deliver_maildir(
                    &md,
                    &format!("1700001000.{n}.host"),
                    &message(&id, "wombat"),
                );
            } else {
                deliver_mbox(&mbox, &message(&id, "wombat"));
            }
            delivered.push(id);
            n += 1;
            if i == kill_after {
                std::thread::sleep(Duration::from_millis(rng.below(300)));
                break;
            }
        }
        if round % 5 == 4 {
            std::thread::sleep(Duration::from_millis(600));
        }
        serve.kill9();
    }
    let serve = Serve::start(&data, &[&md, &mbox]);
    assert_eq!(
        count(&data, "wombat"),
        delivered.len() as u64,
        "every delivered message, once"
    );
    for id in &delivered {
        assert_eq!(
            count(&data, &format!("id:{id}@live.example.org")),
            1,
            "{id}"
        );
    }
    assert!(serve.terminate().success());
}

#[test]
fn stats_shows_the_watermark_of_serve() {
    let dir = tempdir();
    let md = maildir(&dir.path().join("md"));
    let data = dir.path().join("data");
    let serve = Serve::start(&data, &[&md]);
    let new = deliver_maildir(&md, "1700000000.1.host", &message("w1", "marmot"));
    wait_for(&data, "marmot", 1);
    assert!(serve.terminate().success());
    let mtime = std::fs::metadata(&new)
        .unwrap()
        .modified()
        .unwrap()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let out = gleaner(&data, &["stats", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["watermark"]["indexed_through"].as_i64(),
        Some(mtime),
        "{v}"
    );
    assert_eq!(
        v["watermark"]["sources"][0]["last_error"],
        serde_json::Value::Null
    );
}

#[test]
fn config_sources_exclude_globs_and_a_missing_source_keeps_its_mail() {
    let dir = tempdir();
    let md = maildir(&dir.path().join("md"));
    let spam = maildir(&md.join(".Spam"));
    let disk = dir.path().join("disk");
    std::fs::create_dir_all(&disk).unwrap();
    let mbox = disk.join("old.mbox");
    deliver_mbox(&mbox, &message("old1", "narwhal"));
    let data = dir.path().join("data");
    let config = dir.path().join("gleaner.toml");
    std::fs::write(
        &config,
        format!(
            "data = \"{}\"\n[[source]]\nkind = \"maildir\"\npath = \"{}\"\nexclude = [\".Spam/**\"]\n[[source]]\nkind = \"mbox\"\npath = \"{}\"\n",
            data.display(),
            md.display(),
            mbox.display()
        ),
    )
    .unwrap();
    let serve = Serve::start_with_config(&config);
    assert_eq!(count(&data, "narwhal"), 1);
    deliver_maildir(&spam, "1700000000.5.host", &message("sp1", "ocelot"));
    deliver_maildir(&md, "1700000000.6.host", &message("ok1", "ocelot"));
    wait_for(&data, "ocelot", 1);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        count(&data, "id:sp1@live.example.org"),
        0,
        "excluded folder indexed"
    );
    assert!(serve.terminate().success());

    // The disk holding the mbox goes away: its mail stays searchable and the
    // source reports the problem.
    std::fs::rename(&disk, dir.path().join("disk-unmounted")).unwrap();
    let serve = Serve::start_with_config(&config);
    assert_eq!(
        count(&data, "narwhal"),
        1,
        "mail of a missing source was dropped"
    );
    assert!(serve.terminate().success());
    let out = gleaner(&data, &["stats", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let sources = v["watermark"]["sources"].as_array().unwrap();
    assert!(
        sources.iter().any(|s| s["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("missing"))),
        "{v}"
    );
}

#[test]
fn rebuild_refuses_while_serve_runs_and_uses_configured_sources() {
    let dir = tempdir();
    let md = maildir(&dir.path().join("md"));
    for i in 0..3 {
        deliver_maildir(
            &md,
            &format!("1700000000.{i}.host"),
            &message(&format!("r{i}"), "quokka"),
        );
    }
    let data = dir.path().join("data");
    let config = dir.path().join("gleaner.toml");
    std::fs::write(
        &config,
        format!(
            "data = \"{}\"\n[[source]]\nkind = \"maildir\"\npath = \"{}\"\n",
            data.display(),
            md.display()
        ),
    )
    .unwrap();
    let cfg = config.to_str().unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_gleaner"))
            .args(["--config", cfg])
            .args(args)
            .output()
            .unwrap()
    };
    // `index --config` reads the configured sources once.
    let once = run(&["index", "--json"]);
    assert!(
        once.status.success(),
        "{}",
        String::from_utf8_lossy(&once.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&once.stdout).unwrap();
    assert_eq!(report["indexed"], 3);
    let serve = Serve::start_with_config(&config);
    let busy = run(&["rebuild"]);
    assert_eq!(busy.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&busy.stderr).contains("stop `gleaner serve`"));
    assert_eq!(count(&data, "quokka"), 3, "the live index is untouched");
    assert!(serve.terminate().success());
    let ok = run(&["rebuild"]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert_eq!(count(&data, "quokka"), 3);
}

fn git(args: &[&str], dir: &Path, input: &[u8]) {
    let mut child = Command::new("git")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("git");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(input).unwrap();
    drop(stdin);
    assert!(child.wait().unwrap().success(), "git {args:?}");
}

/// One public-inbox commit adding blob `m`, on top of the branch when `parent`.
fn inbox_commit(msg: &[u8], parent: bool, n: usize) -> Vec<u8> {
    let mut s = format!(
        "commit refs/heads/master\ncommitter A <a@b> {} +0000\ndata 2\nm\n",
        1000 + n
    )
    .into_bytes();
    if parent {
        s.extend_from_slice(b"from refs/heads/master^0\n");
    }
    s.extend_from_slice(format!("M 100644 inline m\ndata {}\n", msg.len()).as_bytes());
    s.extend_from_slice(msg);
    s.push(b'\n');
    s
}

#[test]
fn serve_indexes_new_public_inbox_commits() {
    let dir = tempdir();
    let inbox = dir.path().join("inbox");
    let epoch = inbox.join("git/0.git");
    std::fs::create_dir_all(&epoch).unwrap();
    git(
        &["init", "-q", "--bare", "--initial-branch=master"],
        &epoch,
        b"",
    );
    git(
        &["fast-import", "--quiet"],
        &epoch,
        &inbox_commit(&message("pi1", "pangolin"), false, 0),
    );
    let data = dir.path().join("data");
    let serve = Serve::start(&data, &[&inbox]);
    assert_eq!(count(&data, "pangolin"), 1);
    git(
        &["fast-import", "--quiet"],
        &epoch,
        &inbox_commit(&message("pi2", "pangolin"), true, 1),
    );
    wait_for(&data, "pangolin", 2);
    assert!(serve.terminate().success());
}

#[test]
fn the_status_is_honest_after_a_restart_with_nothing_new() {
    let dir = tempdir();
    let md = maildir(&dir.path().join("md"));
    deliver_maildir(&md, "1600000000.1.host", &message("s1", "otter"));
    deliver_maildir(&md, "1600000000.2.host", &message("s2", "otter"));
    let data = dir.path().join("data");
    // Indexed by `gleaner index`: no serve commit, no watermark yet.
    crate::common::gleaner_ok(&data, &["index", md.to_str().unwrap()]);
    let before = time::OffsetDateTime::now_utc().unix_timestamp();
    let serve = Serve::start(&data, &[&md]);
    assert!(serve.terminate().success());
    let out = gleaner(&data, &["stats", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let through = v["watermark"]["indexed_through"].as_i64();
    assert!(
        through.is_some_and(|t| t >= before - 1),
        "a start-up pass that found nothing new still says how current the index is: {v}"
    );
    assert_eq!(v["watermark"]["messages"].as_u64(), Some(2), "{v}");
}
