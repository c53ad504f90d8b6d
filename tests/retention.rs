//! Longevity end to end with the real binary, real Maildir and mbox files,
//! real volumes and a real SQLite file: archive runs that remove mail from
//! the live store, legal holds, `kill -9` during a run, damaged volumes,
//! and the whole drill — back up, lose the data directory, restore, and
//! find everything as it was.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use gleaner::store::{self, volume, SourceKind};
use serde_json::Value;

use crate::common::{self, Rng};

const CONFIG: &str = r#"
data = "data"
[archive]
volume_size = "300KB"
[[retention]]
name = "old-ops"
lists = ["ops.lists.example.org"]
archive_after = "7y"
remove_from_live = true
[[retention]]
name = "old-announce"
lists = ["announce.lists.example.org"]
archive_after = "8y"
remove_from_live = true
[[review]]
name = "ops-review"
lists = ["ops.lists.example.org"]
older_than = "6y"
"#;

/// A working copy of the sample (Maildirs and an mbox) with a config.
struct Site {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

impl Site {
    fn new() -> Site {
        let dir = common::tempdir();
        let root = dir.path().to_path_buf();
        common::copy_dir(&common::sample(), &root.join("mail"));
        std::fs::write(root.join("gleaner.toml"), CONFIG).unwrap();
        Site { _dir: dir, root }
    }

    fn config(&self) -> PathBuf {
        self.root.join("gleaner.toml")
    }

    fn data(&self) -> PathBuf {
        self.root.join("data")
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_gleaner"));
        c.arg("--config").arg(self.config()).args(args);
        c.env_remove("GLEANER_DATA").env_remove("GLEANER_CONFIG");
        c
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.cmd(args).output().unwrap();
        assert!(
            out.status.success(),
            "gleaner {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn ids(&self, query: &str) -> BTreeSet<String> {
        self.ok(&["search", "--json", "--limit", "5000", query])
            .lines()
            .map(|l| {
                serde_json::from_str::<Value>(l).unwrap()["key"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect()
    }
}

fn sha(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// Every message now in the live mail store, by the SHA-256 of its bytes.
fn live_keys(mail: &Path) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for source in gleaner::index::ingest::discover(mail, None).unwrap() {
        for item in store::scan(&source.path, source.kind, &Default::default()).unwrap() {
            let Ok(raw) = item else { continue };
            *out.entry(sha(&raw.bytes)).or_insert(0) += 1;
        }
    }
    out
}

/// One indexed document: key, Message-ID, locations.
type Indexed = (String, String, Vec<String>);

/// Every indexed document.
fn indexed_docs(site: &Site) -> Vec<Indexed> {
    let index = gleaner::index::MailIndex::open(&site.data().join("index"), false).unwrap();
    let mut out = Vec::new();
    gleaner::query::search::for_each_message(&index, |m| {
        out.push((m.key, m.message_id, m.locations));
        true
    })
    .unwrap();
    out
}

/// The first document whose key `before` did not have, with every document
/// of its Message-ID then and now; else the keys indexed twice.
fn new_docs(site: &Site, before: &[Indexed]) -> String {
    let known: BTreeSet<&str> = before.iter().map(|d| d.0.as_str()).collect();
    let now = indexed_docs(site);
    let same_id = |docs: &[Indexed], id: &str| -> Vec<Indexed> {
        docs.iter().filter(|d| d.1 == id).cloned().collect()
    };
    if let Some(new) = now.iter().find(|d| !known.contains(d.0.as_str())) {
        return format!(
            "new document {new:?}\nnow: {:#?}\nbefore: {:#?}",
            same_id(&now, &new.1),
            same_id(before, &new.1)
        );
    }
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for d in &now {
        *seen.entry(d.0.as_str()).or_insert(0) += 1;
    }
    seen.retain(|_, n| *n > 1);
    format!("keys indexed twice: {seen:?}")
}

/// The SHA-256 of the bytes of each indexed message with one of `keys`.
fn hashes_of(site: &Site, keys: &BTreeSet<String>) -> BTreeSet<String> {
    let index = gleaner::index::MailIndex::open(&site.data().join("index"), false).unwrap();
    keys.iter()
        .map(|k| {
            let m = gleaner::query::find_message(&index, k).unwrap().unwrap();
            sha(&store::read_first(&m.locations).unwrap())
        })
        .collect()
}

/// Messages in sealed volumes that verify (by SHA-256), with how many entries each has.
fn archived_keys(dir: &Path) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    if !dir.exists() {
        return out;
    }
    let report = volume::verify_all(dir).unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    for m in volume::list_volumes(dir).unwrap() {
        for e in m.messages {
            *out.entry(e.sha256).or_insert(0) += 1;
        }
    }
    out
}

/// The Message-ID of the message [`plant_redeliveries`] writes.
const REDELIVERED: &str = "<redelivered-2012@ops.example.org>";

/// One delivery of the same old ops message: `hop` names its `Received`
/// relay, `boundary` its MIME boundary. Every delivery indexes as one message.
fn delivery(hop: &str, boundary: &str) -> Vec<u8> {
    format!(
        "Received: from {hop}.lists.example.org (localhost [127.0.0.1])\n\
         \tby lists.example.org (Postfix) with ESMTP id {hop}\n\
         \tfor <ops@lists.example.org>; Tue, 3 Apr 2012 09:15:02 +0000 (UTC)\n\
         From: Ola Nordmann <ola@example.no>\n\
         To: ops@lists.example.org\n\
         Subject: [ops] Re-delivered: the NFS mount hangs again\n\
         Date: Tue, 3 Apr 2012 09:14:58 +0000\n\
         Message-ID: {REDELIVERED}\n\
         List-Id: Kestrel infrastructure and operations <ops.lists.example.org>\n\
         MIME-Version: 1.0\n\
         Content-Type: multipart/alternative; boundary=\"{boundary}\"\n\
         \n\
         --{boundary}\n\
         Content-Type: text/plain; charset=utf-8\n\
         \n\
         The NFS mount on build-7 hangs again; remounting with -o soft fixed it.\n\
         \n\
         --{boundary}\n\
         Content-Type: text/html; charset=utf-8\n\
         \n\
         <p>The NFS mount on build-7 hangs again; remounting with -o soft fixed it.</p>\n\
         \n\
         --{boundary}--\n"
    )
    .into_bytes()
}

/// Writes into the ops Maildir two re-deliveries of one old message that differ
/// in their `Received` headers and MIME boundaries, and a byte-identical
/// duplicate of the first; returns each file and its bytes.
fn plant_redeliveries(mail: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let cur = mail.join("ops/cur");
    let first = delivery("mx1", "=_first_1f2e");
    let copies = [
        ("1333444498.R1.mx1:2,S", first.clone()),
        ("1333444501.R2.mx2:2,S", delivery("mx2", "=_second_9c8b")),
        ("1333444507.R3.mx1:2,S", first),
    ];
    copies
        .into_iter()
        .map(|(name, bytes)| {
            let path = cur.join(name);
            std::fs::write(&path, &bytes).unwrap();
            (path, bytes)
        })
        .collect()
}

/// The SHA-256s of the sealed entries of the re-delivered message, in volume order.
fn sealed_redeliveries(dir: &Path) -> Vec<String> {
    let volumes = volume::list_volumes(dir).unwrap();
    let entries = volumes.into_iter().flat_map(|m| m.messages);
    let bare = |id: &str| id.trim_matches(['<', '>']).to_string();
    let ours = entries.filter(|e| bare(&e.message_id) == bare(REDELIVERED));
    ours.map(|e| e.sha256).collect()
}

/// `show --all-copies --json`: (copy number, SHA-256) of each readable copy.
fn copies_shown(site: &Site, id: &str) -> Vec<(u64, String)> {
    let listed = site.ok(&["show", "--all-copies", "--json", id]);
    let rows = listed
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap());
    let sha = |v: &Value| v["sha256"].as_str().map(str::to_string);
    let rows = rows.map(|v| (v["copy"].as_u64().unwrap(), sha(&v).expect(&listed)));
    rows.collect()
}

/// Starts `archive run --json` that stops before removing anything; returns
/// it once it waits, with the file whose deletion lets it go on.
fn paused_run(site: &Site) -> (std::process::Child, PathBuf) {
    let child = site
        .cmd(&["archive", "run", "--json"])
        .env("GLEANER_ARCHIVE_PAUSE", "1")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let flag = site.data().join("archive/.paused");
    let started = Instant::now();
    while !flag.exists() {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "run never reached removal"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    (child, flag)
}

#[test]
fn archive_run_moves_due_mail_into_verified_volumes_and_keeps_it_searchable() {
    let site = Site::new();
    let mail = site.root.join("mail");
    site.ok(&["index", mail.to_str().unwrap()]);
    let before_live = live_keys(&mail);
    let all = site.ids("list:ops OR list:announce OR list:dev OR list:users OR list:i18n");
    let old_ops = site.ids("list:ops.lists.example.org older:7y");
    assert!(old_ops.len() > 100);
    // A hold on part of the old ops mail, placed while the run is under way.
    let held_query = "list:ops.lists.example.org older:7y root";
    let held = site.ids(held_query);
    assert!(!held.is_empty() && held.len() < old_ops.len());

    let old_ops_sha = hashes_of(&site, &old_ops);
    let held_sha = hashes_of(&site, &held);
    let dry = site.ok(&["archive", "run", "--dry-run", "--json"]);
    let planned: u64 = dry
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["messages"]
                .as_u64()
                .unwrap()
        })
        .sum();
    assert!(planned as usize >= old_ops.len());
    assert_eq!(live_keys(&mail), before_live, "a dry run changes nothing");

    let (child, flag) = paused_run(&site);
    site.ok(&[
        "hold",
        "add",
        "case-42",
        held_query,
        "--reason",
        "litigation",
    ]);
    std::fs::remove_file(&flag).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["held"].as_u64().unwrap() as usize, held.len());

    // Every due message is in exactly one verified volume; nothing else is.
    let archive = site.data().join("archive");
    let in_volumes = archived_keys(&archive);
    assert!(in_volumes.values().all(|n| *n == 1));
    assert!(old_ops_sha.iter().all(|k| in_volumes.contains_key(k)));
    let live = live_keys(&mail);
    for k in &old_ops_sha {
        assert_eq!(
            live.contains_key(k),
            held_sha.contains(k),
            "{k}: live iff held"
        );
    }
    // The announce mbox was rewritten without its archived messages.
    let froms = |b: Vec<u8>| b.windows(6).filter(|w| w == b"\nFrom ").count();
    let announce = froms(std::fs::read(mail.join("announce.mbox")).unwrap());
    let original = froms(std::fs::read(common::sample().join("announce.mbox")).unwrap());
    assert!(announce < original, "{announce} < {original}");
    // Nothing lost, nothing duplicated: each message is live or archived.
    for k in before_live.keys() {
        assert!(
            live.contains_key(k) || in_volumes.contains_key(k),
            "{k} lost"
        );
    }
    // Still searchable, marked archived, readable from the volume.
    assert_eq!(
        site.ids("list:ops OR list:announce OR list:dev OR list:users OR list:i18n"),
        all
    );
    let archived_now = site.ids("is:archived");
    let marked = hashes_of(&site, &archived_now);

    let volumes: BTreeSet<String> = in_volumes.keys().cloned().collect();
    assert_eq!(
        (
            marked.difference(&volumes).count(),
            volumes.difference(&marked).count(),
            archived_now.len()
        ),
        (0, 0, volumes.len())
    );
    assert_eq!(site.ids("is:held"), held);
    let gone = old_ops.iter().find(|k| !held.contains(*k)).unwrap();
    let raw = site.cmd(&["show", "--raw", gone]).output().unwrap();
    assert!(raw.status.success());
    let doc = gleaner::extract::extract(&raw.stdout, &Default::default()).unwrap();
    assert_eq!(&doc.key, gone);
    assert!(site.ok(&["show", gone]).contains("volume:"));
    // A second run finds nothing new; verify is clean; the audit chain holds.
    let again: Value = serde_json::from_str(&site.ok(&["archive", "run", "--json"])).unwrap();
    assert_eq!(again["archived"], 0);
    assert!(site.ok(&["verify"]).contains("0 unreadable"));
    let log = site.ok(&["audit", "log", "--json", "--limit", "100"]);
    for action in ["archive.seal", "archive.remove", "hold.add"] {
        assert!(log.contains(action), "{action}");
    }
    // Rebuilding the index from the live store and the volumes loses nothing.
    // (Which of two different messages sharing a Message-ID keeps it as its
    // key depends on indexing order, so keys of the `sha256:` kind may move.)
    site.ok(&["rebuild"]);
    let stable = |ids: BTreeSet<String>| -> (usize, BTreeSet<String>) {
        (
            ids.len(),
            ids.into_iter()
                .filter(|k| !k.starts_with("sha256:"))
                .collect(),
        )
    };
    assert_eq!(
        stable(site.ids("list:ops OR list:announce OR list:dev OR list:users OR list:i18n")),
        stable(all)
    );
    assert_eq!(stable(site.ids("is:archived")), stable(archived_now));
}

/// Issue 17 item 6: a list re-delivered messages (same Message-ID, other
/// `Received` headers and MIME boundaries); the archive run sealed one copy's
/// bytes and removed every file. Each distinct byte-copy must be sealed before
/// its file goes, and a copy whose bytes are not sealed must stay.
#[test]
fn every_redelivered_copy_is_sealed_before_it_leaves_the_live_store() {
    let site = Site::new();
    let mail = site.root.join("mail");
    let planted = plant_redeliveries(&mail);
    site.ok(&["index", mail.to_str().unwrap()]);
    let key = site.ids(&format!("id:{REDELIVERED}"));
    assert_eq!(key.len(), 1, "three deliveries, one message: {key:?}");
    let key = key.into_iter().next().unwrap();
    let before = copies_shown(&site, &key);
    let planted_sha: Vec<String> = planted.iter().map(|(_, b)| sha(b)).collect();
    let mut listed: Vec<String> = before.iter().map(|(_, s)| s.clone()).collect();
    listed.sort();
    let mut expected = planted_sha.clone();
    expected.sort();
    assert_eq!(listed, expected, "every live copy is listed with its hash");

    // The run stops before removing; meanwhile the second delivery's file is
    // replaced by yet another delivery (bytes that were never sealed).
    let (child, flag) = paused_run(&site);
    let archive = site.data().join("archive");
    let mut sealed = sealed_redeliveries(&archive);
    sealed.sort();
    let mut distinct = vec![planted_sha[0].clone(), planted_sha[1].clone()];
    distinct.sort();
    assert_eq!(
        sealed, distinct,
        "each distinct byte-copy sealed once, before any removal"
    );
    assert!(
        planted.iter().all(|(p, _)| p.exists()),
        "nothing removed before the pause"
    );
    let third = delivery("mx3", "=_third_77aa");
    std::fs::write(&planted[1].0, &third).unwrap();
    std::fs::remove_file(&flag).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    // One message, two distinct byte-copies: one more entry than messages.
    let copies = report["sealed_copies"].as_u64().unwrap();
    assert!(copies > report["archived"].as_u64().unwrap(), "{report}");
    // The sealed copies are gone; the copy whose bytes are not sealed stayed.
    assert!(!planted[0].0.exists() && !planted[2].0.exists());
    assert_eq!(
        std::fs::read(&planted[1].0).unwrap(),
        third,
        "unsealed bytes stay live"
    );
    let kept = report["kept"].to_string();
    assert!(
        kept.contains(&sha(&third)) && kept.contains("not sealed"),
        "{kept}"
    );
    let verify: Value = serde_json::from_str(&site.ok(&["verify", "--json"])).unwrap();
    assert_eq!(verify["problems"], serde_json::json!([]));

    // The next run seals the new bytes, then removes that copy too.
    site.ok(&["archive", "run"]);
    assert!(!planted[1].0.exists());
    let mut sealed = sealed_redeliveries(&archive);
    sealed.sort();
    let mut all_bytes = vec![planted[0].1.clone(), planted[1].1.clone(), third.clone()];
    all_bytes.sort_by_key(|b| sha(b));
    assert_eq!(sealed, all_bytes.iter().map(|b| sha(b)).collect::<Vec<_>>());
    let verify: Value = serde_json::from_str(&site.ok(&["verify", "--json"])).unwrap();
    assert_eq!(verify["problems"], serde_json::json!([]));
    assert!(verify["removed_copies"].as_u64().unwrap() >= 3);
    assert_eq!(
        site.ids(&format!("id:{REDELIVERED}")),
        BTreeSet::from([key.clone()])
    );

    // Each original comes back byte for byte, by copy number.
    let shown = copies_shown(&site, &key);
    assert_eq!(shown.len(), all_bytes.len(), "{shown:?}");
    let mut restored: Vec<Vec<u8>> = Vec::new();
    for (n, listed_sha) in &shown {
        let out = site
            .cmd(&["show", "--raw", "--copy", &n.to_string(), &key])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(&sha(&out.stdout), listed_sha);
        restored.push(out.stdout);
    }
    restored.sort_by_key(|b| sha(b));
    assert_eq!(restored, all_bytes);
    let beyond = site
        .cmd(&["show", "--raw", "--copy", "4", &key])
        .output()
        .unwrap();
    assert!(!beyond.status.success());
    // By default, show --raw still prints one copy.
    let default = site.ok(&["show", "--raw", &key]);
    assert!(all_bytes.contains(&default.into_bytes()));

    // A removed copy whose recorded bytes no sealed entry holds is an error.
    let db = rusqlite::Connection::open(site.data().join("gleaner.db")).unwrap();
    let changed = db
        .execute(
            "UPDATE copies SET sha256 = ?1 WHERE key = ?2 AND sha256 = ?3 AND removed_at IS NOT NULL",
            rusqlite::params!["0".repeat(64), key, sha(&third)],
        )
        .unwrap();
    assert_eq!(changed, 1);
    drop(db);
    let out = site.cmd(&["verify", "--json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let problems = v["problems"].to_string();
    assert!(
        problems.contains(&key) && problems.contains("no sealed entry"),
        "{problems}"
    );
}

#[test]
fn verify_reports_a_flipped_byte_and_a_missing_volume() {
    let site = Site::new();
    site.ok(&["index", site.root.join("mail").to_str().unwrap()]);
    site.ok(&["archive", "run"]);
    let dir = site.data().join("archive");
    let vols = volume::list_volumes(&dir).unwrap();
    assert!(vols.len() >= 2, "several volumes");
    assert!(site.ok(&["verify"]).contains("0 unreadable"));
    // Flip one byte in the middle of the first volume.
    let zst = vols[0].mbox_path(&dir);
    let mut perms = std::fs::metadata(&zst).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    std::fs::set_permissions(&zst, perms).unwrap();
    let mut bytes = std::fs::read(&zst).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x40;
    std::fs::write(&zst, &bytes).unwrap();
    let out = site.cmd(&["verify"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&vols[0].name), "{text}");
    assert!(text.contains("PROBLEM"), "{text}");
    // A missing volume is reported, not skipped.
    std::fs::remove_file(vols[1].mbox_path(&dir)).unwrap();
    let out = site.cmd(&["verify", "--json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let problems = v["problems"].to_string();
    assert!(problems.contains(&vols[1].name), "{problems}");
    assert!(problems.to_lowercase().contains("missing"), "{problems}");
}

#[test]
fn kill_9_during_archive_runs_loses_nothing_and_duplicates_nothing() {
    let site = Site::new();
    let mail = site.root.join("mail");
    // Re-deliveries of one message (other Received headers and MIME
    // boundaries, and a byte-identical duplicate) are part of every round.
    let planted = plant_redeliveries(&mail);
    site.ok(&["index", mail.to_str().unwrap()]);
    let everything = live_keys(&mail);
    assert!(planted
        .iter()
        .all(|(_, b)| everything.contains_key(&sha(b))));
    let redelivered = site.ids(&format!("id:{REDELIVERED}"));
    assert_eq!(redelivered.len(), 1);
    let stats: Value = serde_json::from_str(&site.ok(&["stats", "--json"])).unwrap();
    let indexed = stats["messages"].as_u64().unwrap();
    let before_docs = indexed_docs(&site);
    // Keep pristine copies to start each round from the same state.
    let pristine = common::tempdir();
    common::copy_dir(&mail, &pristine.path().join("mail"));
    common::copy_dir(&site.data(), &pristine.path().join("data"));
    // How long does an undisturbed run take?
    let t = Instant::now();
    site.ok(&["archive", "run"]);
    let full = t.elapsed();
    let mut rng = Rng(0x5eed_1234);
    for round in 0..20 {
        std::fs::remove_dir_all(&mail).unwrap();
        make_writable(&site.data());
        std::fs::remove_dir_all(site.data()).unwrap();
        common::copy_dir(&pristine.path().join("mail"), &mail);
        common::copy_dir(&pristine.path().join("data"), &site.data());
        let mut child = site
            .cmd(&["archive", "run"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let delay = full.as_micros() as u64 * rng.below(110) / 100;
        std::thread::sleep(Duration::from_micros(delay));
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        // Never neither: each message is live or in a verified sealed volume.
        let live = live_keys(&mail);
        let archived = archived_keys(&site.data().join("archive"));
        for k in everything.keys() {
            assert!(
                live.contains_key(k) || archived.contains_key(k),
                "round {round}: {k} lost"
            );
        }
        // Running again completes the job without duplicates.
        let rerun = site.ok(&["archive", "run", "--json"]);
        let archived = archived_keys(&site.data().join("archive"));
        assert!(
            archived.values().all(|n| *n == 1),
            "round {round}: a message archived twice"
        );
        let live = live_keys(&mail);
        for k in everything.keys() {
            assert!(
                live.contains_key(k) ^ archived.contains_key(k),
                "round {round}: {k} live and archived, or neither; {rerun} {:?}",
                planted.iter().map(|(p, _)| p.exists()).collect::<Vec<_>>()
            );
        }
        let stats = site.ok(&["stats", "--json"]);
        let v: Value = serde_json::from_str(&stats).unwrap();
        assert_eq!(
            v["messages"].as_u64().unwrap(),
            indexed,
            "round {round}: {}",
            new_docs(&site, &before_docs)
        );
        // The re-delivered message: one document, each byte-copy sealed once,
        // every file gone, and every removed copy proven restorable.
        let ids = site.ids(&format!("id:{REDELIVERED}"));
        assert_eq!(ids, redelivered, "round {round}");
        assert!(planted.iter().all(|(p, _)| !p.exists()), "round {round}");
        let mut sealed = sealed_redeliveries(&site.data().join("archive"));
        sealed.sort();
        let mut distinct: Vec<String> = planted.iter().map(|(_, b)| sha(b)).collect();
        distinct.sort();
        distinct.dedup();
        assert_eq!(sealed, distinct, "round {round}");
        let verify: Value = serde_json::from_str(&site.ok(&["verify", "--json"])).unwrap();
        assert_eq!(verify["problems"], serde_json::json!([]), "round {round}");
    }
}

fn make_writable(dir: &Path) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            make_writable(&p);
        } else {
            let mut perms = std::fs::metadata(&p).unwrap().permissions();
            #[allow(clippy::permissions_set_readonly_false)]
            perms.set_readonly(false);
            let _ = std::fs::set_permissions(&p, perms);
        }
    }
}

#[test]
fn the_drill_backup_lose_everything_restore_and_find_it_all_again() {
    let site = Site::new();
    let mail = site.root.join("mail");
    site.ok(&["index", mail.to_str().unwrap()]);
    // Review decisions and a document with a citation.
    let queue = site.ok(&["review", "queue", "ops-review", "--json", "--limit", "3"]);
    let threads: Vec<String> = queue
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["thread_id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    site.ok(&[
        "review",
        "decide",
        "ops-review",
        "promote",
        &threads[0],
        "--by",
        "rita",
    ]);
    site.ok(&[
        "review",
        "decide",
        "ops-review",
        "dismiss",
        &threads[1],
        &threads[2],
        "--by",
        "rita",
    ]);
    let doc = site.ok(&["doc", "new", "procedure", "Kernel upgrades", "--by", "ed"]);
    let doc = doc.trim();
    let cited = site.ids(&format!("thread:\"{}\"", threads[0]));
    let first = cited.iter().next().unwrap().clone();
    site.ok(&["doc", "cite", doc, &first, "--by", "ed"]);
    site.ok(&[
        "hold",
        "add",
        "audit-2019",
        "list:ops.lists.example.org date:2019",
        "--reason",
        "external audit",
    ]);
    site.ok(&["archive", "run"]);
    assert!(!site.ids("is:archived").is_empty());

    let snapshot = |site: &Site| -> Vec<String> {
        let mut s = Vec::new();
        for q in [
            "list:ops",
            "is:archived",
            "is:held",
            "is:cited",
            "root cause",
            "list:announce older:8y",
        ] {
            s.push(format!("{q}: {:?}", site.ids(q)));
        }
        s.push(site.ok(&[
            "review",
            "queue",
            "ops-review",
            "--json",
            "--all",
            "--limit",
            "0",
        ]));
        s.push(site.ok(&["doc", "show", doc]));
        s.push(site.ok(&["hold", "list", "--all", "--json"]));
        s.push(site.ok(&["audit", "log", "--json", "--limit", "1000"]));
        s.push(site.ok(&["archive", "list", "--json"]));
        s
    };
    let before = snapshot(&site);
    let dest = site.root.join("backup");
    site.ok(&["backup", dest.to_str().unwrap()]);
    // The backup's own audit entry came after the snapshot; compare without it.
    let backed_up_audit = before.clone();

    make_writable(&site.data());
    std::fs::remove_dir_all(site.data()).unwrap();
    site.ok(&["restore", dest.to_str().unwrap()]);
    let after = snapshot(&site);
    assert_eq!(after, backed_up_audit);
    assert!(site.ok(&["verify"]).contains("0 unreadable"));
    assert!(site.ok(&["audit", "verify"]).contains("intact"));
    let _ = SourceKind::Volumes;
}

#[test]
fn serve_takes_a_backup_when_the_last_one_is_older_than_every() {
    let site = Site::new();
    site.ok(&["index", site.root.join("mail").to_str().unwrap()]);
    let dest = site.root.join("periodic");
    let config = format!(
        "{CONFIG}\n[http]\nlisten = \"127.0.0.1:0\"\nauth = false\n[backup]\ndest = \"{}\"\nevery = \"1d\"\n",
        dest.display()
    );
    std::fs::write(site.config(), config).unwrap();
    let mut server = site
        .cmd(&["serve"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let snapshots = dest.join("snapshots");
    let found = loop {
        let n = std::fs::read_dir(&snapshots)
            .map(|d| {
                d.flatten()
                    .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
                    .count()
            })
            .unwrap_or(0);
        if n > 0 || started.elapsed() > Duration::from_secs(60) {
            break n;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(
        found, 1,
        "one snapshot, taken at start-up because there was none"
    );
    let log = site.ok(&["audit", "log", "--json"]);
    assert!(log.contains("backup.run"), "{log}");
}

#[test]
fn after_review_keeps_undecided_threads_out_of_the_archive() {
    let site = Site::new();
    std::fs::write(
        site.config(),
        r#"
data = "data"
[[review]]
name = "ops-review"
lists = ["ops.lists.example.org"]
older_than = "6y"
[[retention]]
name = "reviewed"
lists = ["ops.lists.example.org"]
archive_after = "6y"
after_review = "ops-review"
"#,
    )
    .unwrap();
    site.ok(&["index", site.root.join("mail").to_str().unwrap()]);
    let queue = site.ok(&["review", "queue", "ops-review", "--json", "--limit", "0"]);
    let threads: Vec<String> = queue
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["thread_id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert!(threads.len() > 10);
    let decided = &threads[..3];
    let mut args = vec!["review", "decide", "ops-review", "keep"];
    args.extend(decided.iter().map(String::as_str));
    site.ok(&args);
    // Only the decided threads' old messages are due; the rest wait.
    let mut expected = BTreeSet::new();
    for t in decided {
        expected.extend(site.ids(&format!("thread:\"{t}\" older:6y")));
    }
    let dry = site.ok(&["archive", "run", "--dry-run"]);
    assert!(dry.contains("waiting for review:"), "{dry}");
    site.ok(&["archive", "run"]);
    assert_eq!(site.ids("is:archived"), expected);
    // Deciding the rest lets them through on the next run.
    let mut args = vec!["review", "decide", "ops-review", "dismiss"];
    args.extend(threads[3..].iter().map(String::as_str));
    site.ok(&args);
    site.ok(&["archive", "run"]);
    assert_eq!(
        site.ids("is:archived"),
        site.ids("list:ops.lists.example.org older:6y")
    );
}

#[test]
fn volumes_attached_from_another_disk_are_searchable_and_readable() {
    let site = Site::new();
    site.ok(&["index", site.root.join("mail").to_str().unwrap()]);
    site.ok(&["archive", "run"]);
    let offsite = site.root.join("offsite");
    common::copy_dir(&site.data().join("archive"), &offsite);
    let archived = archived_keys(&offsite);
    let other = site.root.join("other-data");
    let out = common::gleaner(&other, &["archive", "attach", offsite.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stats: Value =
        serde_json::from_str(&common::gleaner_ok(&other, &["stats", "--json"])).unwrap();
    assert_eq!(stats["messages"].as_u64().unwrap() as usize, archived.len());
    let hits = common::gleaner_ok(
        &other,
        &["search", "--json", "--limit", "5", "list:announce"],
    );
    let key = serde_json::from_str::<Value>(hits.lines().next().unwrap()).unwrap()["key"]
        .as_str()
        .unwrap()
        .to_string();
    let raw = common::gleaner(&other, &["show", "--raw", &key]);
    assert!(raw.status.success());
    assert!(
        archived.contains_key(&sha(&raw.stdout)),
        "read back from the attached volume"
    );
    // A directory without volumes is refused.
    let refused = common::gleaner(
        &other,
        &[
            "archive",
            "attach",
            site.root.join("mail").to_str().unwrap(),
        ],
    );
    assert!(!refused.status.success());
}
