//! Tests of backups: snapshots, incremental copies, restore and verify.

#![allow(clippy::unwrap_used)]

use super::*;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use tantivy::collector::Count;
use tantivy::merge_policy::{LogMergePolicy, NoMergePolicy};
use tantivy::query::TermQuery;
use tantivy::schema::{Field, IndexRecordOption, Schema, STORED, TEXT};
use tantivy::{doc, Index, IndexWriter, Term};

struct Fix {
    dir: tempfile::TempDir,
    data: PathBuf,
    dest: PathBuf,
    index: Index,
    w: IndexWriter,
    body: Field,
}

fn add(w: &IndexWriter, body: Field, word: &str, n: usize) {
    for i in 0..n {
        w.add_document(doc!(body => format!("{word} mail doc{i}")))
            .unwrap();
    }
}

fn volume(data: &Path, name: &str) {
    fs::create_dir_all(data.join("archive")).unwrap();
    for ext in ["mbox.zst", "manifest.json"] {
        let p = data.join(format!("archive/{name}.{ext}"));
        fs::write(&p, format!("{name}.{ext} ").repeat(500)).unwrap();
        set_readonly(&p).unwrap();
    }
}

/// A data dir: 2 segments (one with deletes, 5 live docs), a WAL database with 50 rows,
/// sources.json, two volume pairs and a partial volume.
fn fixture() -> Fix {
    let dir = tempfile::tempdir().unwrap();
    let (data, dest) = (dir.path().join("data"), dir.path().join("dest"));
    fs::create_dir_all(data.join("index")).unwrap();
    let mut schema = Schema::builder();
    let body = schema.add_text_field("body", TEXT | STORED);
    let index = Index::create_in_dir(data.join("index"), schema.build()).unwrap();
    let mut w: IndexWriter = index.writer_with_num_threads(1, 20_000_000).unwrap();
    w.set_merge_policy(Box::new(NoMergePolicy));
    add(&w, body, "apple", 3);
    w.commit().unwrap();
    add(&w, body, "banana", 4);
    w.delete_term(Term::from_field_text(body, "doc0"));
    w.commit().unwrap();
    let db = Connection::open(data.join("gleaner.db")).unwrap();
    db.execute_batch("PRAGMA journal_mode=WAL; CREATE TABLE t(id INTEGER PRIMARY KEY, v)")
        .unwrap();
    for i in 0..50 {
        db.execute("INSERT INTO t(v) VALUES (?1)", [i]).unwrap();
    }
    fs::write(data.join("sources.json"), r#"{"sources":[]}"#).unwrap();
    volume(&data, "v1");
    volume(&data, "v2");
    fs::write(data.join("archive/v3.mbox.zst.partial"), "x").unwrap();
    Fix {
        dir,
        data,
        dest,
        index,
        w,
        body,
    }
}

/// A data directory only `index` has written (no database yet) backs up
/// and restores: the snapshot carries an empty database.
#[test]
fn a_data_directory_without_a_database_backs_up_and_restores() {
    let f = fixture();
    fs::remove_file(f.data.join("gleaner.db")).unwrap();
    let _ = fs::remove_file(f.data.join("gleaner.db-wal"));
    let _ = fs::remove_file(f.data.join("gleaner.db-shm"));
    run(&f);
    assert!(
        !f.data.join("gleaner.db").exists(),
        "the data directory is not written"
    );
    let (out, _) = restore_to(&f, None, "restored-nodb");
    assert_eq!(docs(&out, "banana"), docs(&f.data, "banana"));
    let db = Connection::open(out.join("gleaner.db")).unwrap();
    let tables: i64 = db
        .query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))
        .unwrap();
    assert_eq!(tables, 0, "an empty database");
}

fn run(f: &Fix) -> BackupReport {
    backup(&f.data, &f.dest, &BackupOptions::default(), &mut |_| {}).unwrap()
}

fn restore_to(f: &Fix, snapshot: Option<&str>, to: &str) -> (PathBuf, RestoreReport) {
    let out = f.dir.path().join(to);
    let r = restore(&f.dest, snapshot, &out, &mut |_| {}).unwrap();
    (out, r)
}

/// Live documents of a restored index, and how many hold `word`.
fn docs(data: &Path, word: &str) -> (u64, usize) {
    let index = Index::open_in_dir(data.join("index")).unwrap();
    let searcher = index.reader().unwrap().searcher();
    let field = index.schema().get_field("body").unwrap();
    let q = TermQuery::new(Term::from_field_text(field, word), IndexRecordOption::Basic);
    (searcher.num_docs(), searcher.search(&q, &Count).unwrap())
}

fn rows(data: &Path) -> i64 {
    let db = Connection::open(data.join("gleaner.db")).unwrap();
    db.query_row("SELECT count(*) FROM t", [], |r| r.get(0))
        .unwrap()
}

fn segment_files(data: &Path) -> BTreeSet<String> {
    let names = list(&data.join("index"))
        .unwrap()
        .into_iter()
        .map(|(n, _)| n);
    names
        .filter(|n| n.split('.').next().unwrap().len() == 32)
        .collect()
}

#[test]
fn backup_then_restore_gives_back_every_part() {
    let f = fixture();
    let cfg = f.dir.path().join("gleaner.toml");
    fs::write(&cfg, "listen = \"127.0.0.1:8080\"\n").unwrap();
    let opts = BackupOptions {
        config: Some(&cfg),
        ..BackupOptions::default()
    };
    let mut stages = BTreeSet::new();
    let rep = backup(&f.data, &f.dest, &opts, &mut |p| {
        stages.insert(p.stage);
    })
    .unwrap();
    assert_eq!(rep.files_reused, 0);
    assert!(rep.skipped.is_empty(), "{:?}", rep.skipped);
    assert_eq!(stages, BTreeSet::from(["archive", "database", "index"]));
    assert!(list(&f.data)
        .unwrap()
        .iter()
        .all(|(n, _)| !n.starts_with(PIN)));
    let own = list(&f.dest.join("snapshots").join(&rep.snapshot)).unwrap();
    let own: Vec<_> = own.into_iter().map(|(n, _)| n).collect();
    let want = [
        "gleaner.db",
        "gleaner.toml",
        "index-meta.json",
        "manifest.json",
        "sources.json",
    ];
    assert_eq!(own, want);

    let (out, r) = restore_to(&f, None, "restored");
    assert_eq!(r.snapshot, rep.snapshot);
    assert_eq!(docs(&out, "apple"), (5, 2));
    assert_eq!(docs(&out, "banana").1, 3);
    assert_eq!(rows(&out), 50);
    for v in [
        "v1.mbox.zst",
        "v1.manifest.json",
        "v2.mbox.zst",
        "v2.manifest.json",
    ] {
        let p = out.join("archive").join(v);
        assert_eq!(
            fs::read(&p).unwrap(),
            fs::read(f.data.join("archive").join(v)).unwrap()
        );
        assert!(fs::metadata(&p).unwrap().permissions().readonly());
    }
    assert!(!out.join("archive/v3.mbox.zst.partial").exists());
    let same = |a: &Path, b: &Path| fs::read(a).unwrap() == fs::read(b).unwrap();
    assert!(same(
        &out.join("sources.json"),
        &f.data.join("sources.json")
    ));
    assert_eq!(r.config, Some(out.join("restored-gleaner.toml")));
    assert!(same(&out.join("restored-gleaner.toml"), &cfg));
    assert!(verify_backup(&f.dest).unwrap().is_empty());
    // The restored index takes new commits.
    let index = Index::open_in_dir(out.join("index")).unwrap();
    let mut w: IndexWriter = index.writer_with_num_threads(1, 20_000_000).unwrap();
    add(&w, f.body, "plum", 1);
    w.commit().unwrap();
    assert_eq!(docs(&out, "plum"), (6, 1));
}

#[test]
fn second_backup_copies_only_new_segments_and_volumes() {
    let mut f = fixture();
    let first = run(&f);
    let before = segment_files(&f.data);
    add(&f.w, f.body, "cherry", 2);
    f.w.commit().unwrap();
    volume(&f.data, "v4");
    let new_segment_files = segment_files(&f.data).difference(&before).count() as u64;
    assert!(new_segment_files > 0);

    let second = run(&f);
    // Snapshot's own files: gleaner.db, sources.json, index-meta.json.
    assert_eq!(second.files_copied, 3 + new_segment_files + 2);
    assert_eq!(second.files_reused, first.files_copied - 3);
    assert_ne!(first.snapshot, second.snapshot);
    assert_eq!(list_snapshots(&f.dest).unwrap().len(), 2);

    let (a, _) = restore_to(&f, Some(&first.snapshot), "a");
    assert_eq!(docs(&a, "cherry"), (5, 0));
    assert!(!a.join("archive/v4.mbox.zst").exists());
    let (b, r) = restore_to(&f, None, "b");
    assert_eq!(r.snapshot, second.snapshot);
    assert_eq!(docs(&b, "cherry"), (7, 2));
    assert!(b.join("archive/v4.manifest.json").exists());
}

#[test]
fn snapshots_under_concurrent_commits_merges_and_gc_are_whole() {
    let Fix {
        dir,
        data,
        dest,
        index,
        mut w,
        body,
    } = fixture();
    w.set_merge_policy(Box::new(LogMergePolicy::default()));
    let committed = Arc::new(Mutex::new(vec![5u64]));
    let stop = Arc::new(AtomicBool::new(false));
    let (c, s) = (committed.clone(), stop.clone());
    let writer = std::thread::spawn(move || {
        let (mut total, mut k) = (5u64, 0u64);
        while !s.load(Ordering::Relaxed) {
            for i in 0..5 {
                w.add_document(doc!(body => format!("mail b{k} n{i}")))
                    .unwrap();
            }
            total += 5;
            if k % 3 == 2 {
                w.delete_term(Term::from_field_text(body, &format!("b{}", k - 1)));
                total -= 5;
            }
            c.lock().unwrap().push(total);
            w.commit().unwrap();
            if k % 4 == 3 {
                let ids = index.searchable_segment_ids().unwrap();
                if ids.len() > 1 {
                    let _ = w.merge(&ids).wait(); // may race the merge policy's merges
                }
                w.garbage_collect_files().wait().unwrap();
            }
            k += 1;
        }
        k
    });
    let mut names = Vec::new();
    while names.len() < 4 || committed.lock().unwrap().len() < 16 {
        let rep = backup(&data, &dest, &BackupOptions::default(), &mut |_| {}).unwrap();
        names.push(rep.snapshot);
        sleep(Duration::from_millis(10));
    }
    stop.store(true, Ordering::Relaxed);
    let commits = writer.join().unwrap();
    eprintln!("{} backups during {commits} commits", names.len());
    let committed = committed.lock().unwrap();
    for (i, name) in names.iter().enumerate() {
        let out = dir.path().join(format!("r{i}"));
        restore(&dest, Some(name), &out, &mut |_| {}).unwrap();
        let (live, hits) = docs(&out, "mail");
        assert!(
            committed.contains(&live),
            "{name}: {live} docs were never committed"
        );
        assert_eq!(hits as u64, live, "{name}: postings disagree with deletes");
    }
}

#[test]
fn database_written_during_backup_restores_to_a_committed_state() {
    let f = fixture();
    let db = Connection::open(f.data.join("gleaner.db")).unwrap();
    db.execute_batch(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)
             INSERT INTO t(v) SELECT hex(randomblob(60)) FROM n",
    )
    .unwrap();
    drop(db);
    let written = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let (n, s, path) = (written.clone(), stop.clone(), f.data.join("gleaner.db"));
    let writer = std::thread::spawn(move || {
        let db = Connection::open(path).unwrap();
        db.busy_timeout(Duration::from_secs(10)).unwrap();
        while !s.load(Ordering::Relaxed) {
            db.execute("INSERT INTO t(v) VALUES ('w')", []).unwrap();
            n.fetch_add(1, Ordering::Relaxed);
        }
    });
    while written.load(Ordering::Relaxed) == 0 {
        sleep(Duration::from_millis(1));
    }
    let before = written.load(Ordering::Relaxed);
    let opts = BackupOptions {
        sqlite_pages_per_step: 8,
        sqlite_pause: Duration::from_millis(1),
        ..BackupOptions::default()
    };
    backup(&f.data, &f.dest, &opts, &mut |_| {}).unwrap();
    let during = written.load(Ordering::Relaxed) - before;
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    assert!(during > 0, "no write happened during the backup");

    let (out, _) = restore_to(&f, None, "r");
    let db = Connection::open(out.join("gleaner.db")).unwrap();
    let ok: String = db
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok");
    let (count, max): (i64, i64) = db
        .query_row("SELECT count(*), max(id) FROM t", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(count, max, "rows are a committed prefix");
    let all = 20_050 + i64::try_from(written.load(Ordering::Relaxed)).unwrap();
    assert!((20_050..=all).contains(&count), "{count}");
}

#[test]
fn restore_refuses_a_non_empty_target_and_names_a_corrupt_object() {
    let f = fixture();
    run(&f);
    let busy = f.dir.path().join("busy");
    fs::create_dir(&busy).unwrap();
    fs::write(busy.join("keep"), "x").unwrap();
    let e = restore(&f.dest, None, &busy, &mut |_| {}).unwrap_err();
    assert!(matches!(e, BackupError::NotEmpty(_)), "{e}");
    assert!(e.to_string().contains("not empty") && busy.join("keep").exists());
    let e = restore(&f.dest, Some("nope"), &f.dir.path().join("x"), &mut |_| {}).unwrap_err();
    assert!(matches!(e, BackupError::NoSnapshot(..)), "{e}");

    let objects = list(&f.dest.join("objects/index")).unwrap();
    let (name, _) = objects
        .iter()
        .max_by_key(|(n, _)| n.ends_with(".store"))
        .unwrap();
    let victim = f.dest.join("objects/index").join(name);
    let mut bytes = fs::read(&victim).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x40;
    fs::remove_file(&victim).unwrap();
    fs::write(&victim, bytes).unwrap();

    let problems = verify_backup(&f.dest).unwrap();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].contains(name.as_str()), "{problems:?}");
    let out = f.dir.path().join("fresh");
    let e = restore(&f.dest, None, &out, &mut |_| {}).unwrap_err();
    assert!(
        matches!(&e, BackupError::Corrupt(p, _) if *p == victim),
        "{e}"
    );
    assert!(e.to_string().contains(name.as_str()));
    assert_eq!(
        fs::read_dir(&out).unwrap().count(),
        0,
        "a failed restore leaves it empty"
    );
}

#[test]
fn leftovers_of_dead_runs_are_ignored_then_cleaned() {
    let f = fixture();
    let first = run(&f);
    let partial = f
        .dest
        .join("snapshots/.partial-999999999-0-29990101T000000Z");
    fs::create_dir(&partial).unwrap();
    let manifest = f
        .dest
        .join("snapshots")
        .join(&first.snapshot)
        .join("manifest.json");
    fs::copy(manifest, partial.join("manifest.json")).unwrap();
    let dead_pin = f.data.join(".backup-pin-999999999-0-");
    fs::create_dir(&dead_pin).unwrap();
    let dead_tmp = f.dest.join("objects/archive/.tmp-999999999-0-v1.mbox.zst");
    fs::write(&dead_tmp, "x").unwrap();
    let live_pin = f
        .data
        .join(format!(".backup-pin-{}-999999-", std::process::id()));
    fs::create_dir(&live_pin).unwrap();

    assert_eq!(list_snapshots(&f.dest).unwrap().len(), 1);
    let (_, r) = restore_to(&f, None, "r");
    assert_eq!(r.snapshot, first.snapshot);
    run(&f);
    assert!(!partial.exists() && !dead_pin.exists() && !dead_tmp.exists());
    assert!(live_pin.exists(), "a running backup's pins are left alone");
    assert_eq!(list_snapshots(&f.dest).unwrap().len(), 2);
}

/// Merges every segment and collects garbage: the files of the commit read so far vanish.
fn merge_all(w: &mut IndexWriter, index: &Index) {
    let ids = index.searchable_segment_ids().unwrap();
    w.merge(&ids).wait().unwrap();
    w.garbage_collect_files().wait().unwrap();
}

#[test]
fn pinning_retries_when_a_merge_removes_the_commit_it_read() {
    for point in ["read", "listed"] {
        let mut f = fixture();
        let old = segment_files(&f.data);
        let (index, pin) = (f.data.join("index"), f.dir.path().join("pin"));
        let mut calls = Vec::new();
        let (meta, files) = pin_index(&index, &pin, true, &mut |at, attempt| {
            if at == point && attempt == 0 {
                merge_all(&mut f.w, &f.index);
            }
            calls.push(attempt);
        })
        .unwrap();
        assert!(calls.contains(&1), "{point}: no second attempt");
        assert_eq!(meta, fs::read(index.join("meta.json")).unwrap(), "{point}");
        assert!(files.iter().all(|n| !old.contains(n)), "{point}: {files:?}");
        assert_eq!(
            files,
            segment_files(&f.data).into_iter().collect::<Vec<_>>()
        );
        assert_eq!(parse_meta(&meta, &pin).unwrap().len(), 1);
    }
}

#[test]
fn pins_take_exactly_the_commit_with_or_without_hard_links() {
    let f = fixture();
    let index = f.data.join("index");
    let del = segment_files(&f.data)
        .into_iter()
        .find(|n| n.ends_with(".del"))
        .unwrap();
    let (id, _) = del.split_once('.').unwrap();
    let junk = [
        format!("{id}.999.del"),
        format!("{id}.store.temp"),
        "0".repeat(32) + ".idx",
    ];
    for name in &junk {
        fs::write(index.join(name), "junk").unwrap();
    }
    let (a, b) = (f.dir.path().join("pa"), f.dir.path().join("pb"));
    let (meta, linked) = pin_index(&index, &a, true, &mut |_, _| {}).unwrap();
    let (meta2, copied) = pin_index(&index, &b, false, &mut |_, _| {}).unwrap();
    assert_eq!((&meta, &linked), (&meta2, &copied));
    assert_eq!(meta, fs::read(index.join("meta.json")).unwrap());
    // (Not `contains("999")`: a segment's random id may hold those digits.)
    assert!(
        linked.contains(&del)
            && linked
                .iter()
                .all(|n| !junk.contains(n) && !n.ends_with(".temp"))
    );
    assert!(linked.iter().all(|n| !n.starts_with("00000000")));
    for n in &linked {
        assert_eq!(fs::read(a.join(n)).unwrap(), fs::read(b.join(n)).unwrap());
    }
    assert_eq!(linked.len(), list(&b).unwrap().len());
}
