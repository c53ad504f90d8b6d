//! Media sets end to end (issue 24 item 3): real shared mail archived into
//! real volumes, `gleaner export-media` writing sets of a few hundred KB,
//! each checked by the outside programs someone in 2060 would use —
//! `sha256sum -c SHA256SUMS`, `zstd -t`, `zstd -dc` and Python's `mailbox`
//! parser — then incremental runs: nothing new writes nothing, new mail
//! makes a new set, and `--where` says which set holds a message.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::common;

const SET_SIZE: u64 = 100_000;

const CONFIG: &str = r#"
data = "data"
[archive]
volume_size = "60KB"
[[retention]]
name = "all-mail"
archive_on = "2000-01-01"
"#;

/// The outside programs this test runs, or a loud skip (a failure in CI).
fn tools_present() -> bool {
    let missing: Vec<&str> = ["zstd", "sha256sum", "python3"]
        .into_iter()
        .filter(|t| {
            Command::new(t)
                .arg("--version")
                .output()
                .map_or(true, |o| !o.status.success())
        })
        .collect();
    if missing.is_empty() {
        return true;
    }
    let why = format!("{missing:?} missing (Debian: apt-get install zstd coreutils python3)");
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("CI: {why}");
    }
    eprintln!("NOTICE: media set tests SKIPPED: {why}");
    false
}

struct Site {
    _dir: tempfile::TempDir,
    root: PathBuf,
    corpus: Vec<PathBuf>,
}

impl Site {
    fn cmd(&self, args: &[&str]) -> std::process::Output {
        common::gleaner_config(&self.root.join("gleaner.toml"), args)
    }

    fn ok(&self, args: &[&str]) -> String {
        common::gleaner_config_ok(&self.root.join("gleaner.toml"), args)
    }

    /// Copies shared corpus messages `range` into the Maildir.
    fn deliver(&self, range: std::ops::Range<usize>) {
        let cur = self.root.join("mail/cur");
        for p in &self.corpus[range] {
            std::fs::copy(p, cur.join(p.file_name().unwrap())).unwrap();
        }
    }

    fn export(&self, dest: &Path, due: &[&str]) -> Value {
        let mut args = vec!["export-media", "--size", "100KB", "--json"];
        args.extend_from_slice(due);
        args.push(dest.to_str().unwrap());
        serde_json::from_str(&self.ok(&args)).unwrap()
    }
}

fn run(dir: &Path, program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{program} {args:?} in {}: {}{}",
        dir.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

fn set_dirs(dest: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dest)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Checks one set with outside programs only; returns the Message-IDs its
/// volumes hold, as Python's mbox parser reads them.
fn check_set(set: &Path) -> Vec<String> {
    let files: Vec<PathBuf> = walk(set);
    let bytes: u64 = files.iter().map(|f| f.metadata().unwrap().len()).sum();
    assert!(bytes <= SET_SIZE, "{} holds {bytes} bytes", set.display());
    let sums = std::fs::read_to_string(set.join("SHA256SUMS")).unwrap();
    // Every file but SHA256SUMS itself is listed.
    assert_eq!(sums.lines().count(), files.len() - 1, "{sums}");
    let checked = run(set, "sha256sum", &["-c", "SHA256SUMS"]);
    assert_eq!(
        checked.matches(": OK").count(),
        files.len() - 1,
        "{checked}"
    );
    let readme = std::fs::read_to_string(set.join("README.txt")).unwrap();
    let name = set.file_name().unwrap().to_string_lossy();
    for needle in [
        &format!("This is {name}"),
        "mboxrd",
        "zstd -dc",
        "zstd -t",
        "sha256sum -c SHA256SUMS",
        "mutt -f",
        "manifest.json",
        "frame_offset",
        "documents/SLUG.md",
        "Message dates:",
    ] {
        assert!(
            readme.contains(needle),
            "README.txt lacks {needle:?}:\n{readme}"
        );
    }
    let mut ids = Vec::new();
    let volumes = set.join("volumes");
    for e in std::fs::read_dir(&volumes).unwrap().flatten() {
        let file = e.file_name().to_string_lossy().into_owned();
        let Some(vol) = file.strip_suffix(".mbox.zst") else {
            continue;
        };
        run(&volumes, "zstd", &["-q", "-t", &file]);
        let tmp = common::tempdir();
        let mbox = tmp.path().join(format!("{vol}.mbox"));
        let out = Command::new("zstd")
            .args(["-q", "-d", "-c"])
            .arg(volumes.join(&file))
            .output()
            .unwrap();
        assert!(out.status.success());
        std::fs::write(&mbox, &out.stdout).unwrap();
        let parsed = run(
            tmp.path(),
            "python3",
            &[
                "-c",
                "import mailbox,sys\nfor m in mailbox.mbox(sys.argv[1]): print(m.get('Message-ID', '').strip())",
                mbox.to_str().unwrap(),
            ],
        );
        let manifest: Value = serde_json::from_str(
            &std::fs::read_to_string(volumes.join(format!("{vol}.manifest.json"))).unwrap(),
        )
        .unwrap();
        let listed = manifest["messages"].as_array().unwrap();
        let found: Vec<&str> = parsed.lines().collect();
        assert_eq!(found.len(), listed.len(), "{vol}: mbox parsed back");
        assert_eq!(
            found.len() as u64,
            manifest["message_count"].as_u64().unwrap()
        );
        ids.extend(found.iter().map(|s| s.to_string()));
    }
    ids
}

/// Messages in every manifest of the archive directory.
fn sealed_entries(archive: &Path) -> usize {
    walk(archive)
        .iter()
        .filter(|p| p.to_string_lossy().ends_with(".manifest.json"))
        .map(|p| {
            let m: Value = serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
            m["messages"].as_array().unwrap().len()
        })
        .sum()
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        if e.path().is_dir() {
            out.extend(walk(&e.path()));
        } else {
            out.push(e.path());
        }
    }
    out
}

#[test]
fn export_media_writes_verified_self_describing_sets_and_only_new_material_after() {
    let Some(corpora) = common::shared_corpora() else {
        return;
    };
    if !tools_present() {
        return;
    }
    let dir = common::tempdir();
    let root = dir.path().to_path_buf();
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(root.join("mail").join(sub)).unwrap();
    }
    std::fs::write(root.join("gleaner.toml"), CONFIG).unwrap();
    let corpus = common::shared_maildir_files(&corpora, "notmuch-corpora");
    assert!(corpus.len() >= 200);
    let site = Site {
        _dir: dir,
        root: root.clone(),
        corpus,
    };
    site.deliver(0..150);
    site.ok(&["index", root.join("mail").to_str().unwrap()]);
    site.ok(&["archive", "run"]);

    // A published document goes onto the media too (Markdown and HTML).
    let doc = site.ok(&["doc", "new", "procedure", "Reading old mail", "--by", "ed"]);
    let curation =
        gleaner::curate::Curation::open(&root.join("data"), "http://gleaner.test").unwrap();
    let update = gleaner::curate::documents::DocUpdate {
        body: Some("Decompress a volume with zstd, then open it in mutt.\n".into()),
        status: Some(gleaner::curate::DocStatus::Published),
        ..Default::default()
    };
    curation
        .save_document(doc.trim(), &update, None, "ed")
        .unwrap();

    // A set smaller than one volume is refused before anything is written.
    let tiny = root.join("tiny");
    let out = site.cmd(&[
        "export-media",
        "--size",
        "20KB",
        "--after",
        "1",
        tiny.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("larger than a set") || err.contains("more than a set"),
        "{err}"
    );
    assert!(
        set_dirs(&tiny).iter().all(|d| !d.starts_with("set-")),
        "{err}"
    );

    let dest = root.join("media");
    let first = site.export(&dest, &["--every", "1y"]);
    assert_eq!(first["due"], true);
    let sets = first["sets"].as_array().unwrap();
    assert!(sets.len() >= 2, "several sets of 100 KB: {first}");
    let mut on_media = Vec::new();
    for (n, s) in sets.iter().enumerate() {
        assert_eq!(s["name"].as_str().unwrap(), format!("set-{:04}", n + 1));
        on_media.extend(check_set(&dest.join(s["name"].as_str().unwrap())));
    }
    // Every sealed copy is on exactly one set.
    assert_eq!(on_media.len(), sealed_entries(&root.join("data/archive")));
    let docs: Vec<PathBuf> = walk(&dest)
        .into_iter()
        .filter(|p| p.parent().unwrap().ends_with("documents"))
        .collect();
    assert_eq!(docs.len(), 2, "{docs:?}");
    let md = docs
        .iter()
        .find(|p| p.extension().unwrap() == "md")
        .unwrap();
    assert!(std::fs::read_to_string(md)
        .unwrap()
        .contains("open it in mutt"));

    // Nothing new: a second run writes nothing, whatever says when a set is due.
    let before = set_dirs(&dest);
    for due in [&["--every", "1y"][..], &["--after", "1"][..]] {
        let again = site.export(&dest, due);
        assert_eq!(again["due"], false, "{again}");
        assert_eq!(again["pending_items"], 0, "{again}");
    }
    assert_eq!(set_dirs(&dest), before);

    // New mail, archived: `--every 1y` is not due (the last set is new),
    // `--after` is, and the new set holds only the new volumes.
    site.deliver(150..200);
    site.ok(&["index", root.join("mail").to_str().unwrap()]);
    site.ok(&["archive", "run"]);
    let waiting = site.export(&dest, &["--every", "1y"]);
    assert_eq!(waiting["due"], false, "{waiting}");
    assert!(waiting["pending_items"].as_u64().unwrap() >= 1);
    // A set a crash left half-written is removed; its material is written again.
    let leftover = dest.join("set-0099.partial/volumes");
    std::fs::create_dir_all(&leftover).unwrap();
    std::fs::write(leftover.join("vol-000001-x.mbox.zst"), b"torn").unwrap();
    let next = site.export(&dest, &["--after", "10KB"]);
    assert!(!dest.join("set-0099.partial").exists());
    let new_sets = next["sets"].as_array().unwrap();
    assert!(!new_sets.is_empty(), "{next}");
    let first_new = new_sets[0]["name"].as_str().unwrap().to_string();
    assert_eq!(first_new, format!("set-{:04}", sets.len() + 1));
    let mut new_ids = Vec::new();
    for s in new_sets {
        new_ids.extend(check_set(&dest.join(s["name"].as_str().unwrap())));
        assert!(
            s["documents"].as_array().unwrap().is_empty(),
            "the document did not change"
        );
    }
    assert!(
        new_ids.iter().all(|id| !on_media.contains(id)),
        "only new mail"
    );
    assert_eq!(
        on_media.len() + new_ids.len(),
        sealed_entries(&root.join("data/archive"))
    );

    // Which set holds a message, old and new; and the audit log says so too.
    for (id, set) in [
        (&on_media[0], "set-0001"),
        (&new_ids[0], first_new.as_str()),
    ] {
        let found: Value =
            serde_json::from_str(&site.ok(&["export-media", "--where", id, "--json"])).unwrap();
        let sets: Vec<&str> = found
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|p| p["set"].as_str())
            .collect();
        assert!(sets.contains(&set), "{id}: {found}");
    }
    let nowhere = site.cmd(&["export-media", "--where", "<never-archived@example.org>"]);
    assert!(!nowhere.status.success());
    assert!(String::from_utf8_lossy(&nowhere.stderr).contains("no sealed volume holds"));
    let log = site.ok(&["audit", "log", "--limit", "200", "--json"]);
    let volumes_logged = log
        .lines()
        .filter(|l| l.contains("\"media.volume\""))
        .count();
    let volumes_written: usize = sets
        .iter()
        .chain(new_sets)
        .map(|s| s["volumes"].as_array().unwrap().len())
        .sum();
    assert_eq!(volumes_logged, volumes_written);
    assert_eq!(
        log.lines().filter(|l| l.contains("\"media.set\"")).count(),
        sets.len() + new_sets.len()
    );
    site.ok(&["audit", "verify"]);
}
