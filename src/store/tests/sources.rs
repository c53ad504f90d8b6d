//! Every source kind through `detect`, `scan` and `read_location`.

#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::store::{
    detect, read_location, scan, Location, RawMessage, ScanOptions, SourceKind, StoreError,
};

fn write(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

fn scan_all(path: &Path, kind: SourceKind, max: u64) -> (Vec<RawMessage>, Vec<String>) {
    let opts = ScanOptions {
        max_message_bytes: max,
    };
    let (mut ok, mut skipped) = (Vec::new(), Vec::new());
    for item in scan(path, kind, &opts).unwrap() {
        match item {
            Ok(m) => ok.push(m),
            Err(s) => skipped.push(format!("{} {}", s.location, s.reason)),
        }
    }
    (ok, skipped)
}

fn assert_round_trip(msgs: &[RawMessage]) {
    for m in msgs {
        assert_eq!(
            read_location(&m.location).unwrap(),
            m.bytes,
            "{}",
            m.location
        );
        let uri = m.location.to_uri();
        assert_eq!(Location::from_uri(&uri).unwrap(), m.location, "{uri}");
    }
}

#[test]
fn maildir_with_flags_and_subfolder() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("Mail");
    write(&root.join("cur/1.a.host:2,RS"), b"Subject: one\n\n1\n");
    write(&root.join("new/2.b.host"), b"Subject: two\r\n\r\n2\r\n");
    write(&root.join("tmp/3.c.host"), b"Subject: partial\n");
    write(&root.join("cur/.hidden"), b"x");
    write(&root.join("dovecot-uidlist"), b"3 V1 N4\n");
    write(
        &root.join(".Lists.dev/cur/4.d.host!2,S"),
        b"Subject: four\n\n4\n",
    );
    write(&root.join(".Lists.dev/maildirfolder"), b"");
    std::fs::create_dir_all(root.join(".Lists.dev/new")).unwrap();
    assert_eq!(detect(&root).unwrap(), SourceKind::Maildir);

    let (msgs, skipped) = scan_all(&root, SourceKind::Maildir, 1 << 20);
    assert!(skipped.is_empty(), "{skipped:?}");
    let summary: Vec<(&str, &str, &[u8])> = msgs
        .iter()
        .map(|m| {
            (
                m.folder.as_deref().unwrap(),
                m.flags.as_str(),
                &m.bytes[..10],
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            ("INBOX", "RS", &b"Subject: o"[..]),
            ("INBOX", "", &b"Subject: t"[..]),
            ("Lists.dev", "S", &b"Subject: f"[..]),
        ]
    );
    assert!(msgs
        .iter()
        .all(|m| m.mtime.is_some() && m.envelope.is_none()));
    assert_round_trip(&msgs);

    // new -> cur with a flag change: the old location still reads, the key is the same.
    let old = msgs[1].location.clone();
    std::fs::rename(root.join("new/2.b.host"), root.join("cur/2.b.host:2,S")).unwrap();
    assert_eq!(read_location(&old).unwrap(), msgs[1].bytes);
    let (again, _) = scan_all(&root, SourceKind::Maildir, 1 << 20);
    assert_eq!(again[1].flags, "S");
    assert_ne!(again[1].location, old);
    assert_eq!(again[1].location.stable_key(), old.stable_key());
    // A flag change in cur keeps the key too.
    std::fs::rename(
        root.join("cur/1.a.host:2,RS"),
        root.join("cur/1.a.host:2,RST"),
    )
    .unwrap();
    assert_eq!(read_location(&msgs[0].location).unwrap(), msgs[0].bytes);
    // Gone for good is NotFound.
    std::fs::remove_file(root.join("cur/1.a.host:2,RST")).unwrap();
    assert!(matches!(
        read_location(&msgs[0].location),
        Err(StoreError::NotFound { .. })
    ));
}

#[test]
fn directory_of_plain_maildirs() {
    let dir = tempfile::tempdir().unwrap();
    let lists = dir.path().join("lists");
    write(&lists.join("foo/cur/1:2,S"), b"Subject: foo\n\n");
    write(&lists.join("bar/new/2"), b"Subject: bar\n\n");
    write(&lists.join("deep/er/baz/cur/3"), b"Subject: baz\n\n");
    assert_eq!(detect(&lists).unwrap(), SourceKind::Maildir);
    let (msgs, skipped) = scan_all(&lists, SourceKind::Maildir, 1 << 20);
    assert!(skipped.is_empty());
    let folders: Vec<&str> = msgs.iter().map(|m| m.folder.as_deref().unwrap()).collect();
    assert_eq!(folders, vec!["bar", "deep/er/baz", "foo"]);
}

#[test]
fn oversized_file_is_skipped() {
    let dir = tempfile::tempdir().unwrap();
    write(&dir.path().join("cur/big"), &vec![b'x'; 5000]);
    write(&dir.path().join("cur/small"), b"Subject: s\n\n");
    let (msgs, skipped) = scan_all(dir.path(), SourceKind::Maildir, 1000);
    assert_eq!(msgs.len(), 1);
    assert_eq!(skipped.len(), 1);
    assert!(skipped[0].contains("5000 bytes"), "{skipped:?}");
}

const MBOX: &[u8] = b"junk before\n\
From alice@example.org Mon Jan  1 00:00:00 2001\n\
Subject: one\n\n>From the start\nFrom here, body\n\n\
From bob@example.org Tue Jan  2 00:00:00 2001\r\n\
Subject: two\r\n\r\nbye\r\n\r\n\
From carol Wed Jan  3 00:00:00 2001\nSubject: three\n\n";

#[test]
fn mbox_plain_gz_zst() {
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("list.mbox");
    write(&plain, MBOX);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(MBOX).unwrap();
    let gz_path = dir.path().join("list.mbox.gz");
    write(&gz_path, &gz.finish().unwrap());
    let zst_path = dir.path().join("no-extension");
    write(&zst_path, &zstd::encode_all(MBOX, 3).unwrap());

    let mut results = Vec::new();
    for path in [&plain, &gz_path, &zst_path] {
        assert_eq!(
            detect(path).unwrap(),
            SourceKind::Mbox,
            "{}",
            path.display()
        );
        let (msgs, skipped) = scan_all(path, SourceKind::Mbox, 1 << 20);
        assert_eq!(skipped.len(), 1, "{skipped:?}");
        assert!(skipped[0].contains("#0+12 "), "{skipped:?}");
        assert_round_trip(&msgs);
        let bodies: Vec<Vec<u8>> = msgs.iter().map(|m| m.bytes.clone()).collect();
        results.push(bodies);
        assert_eq!(
            msgs[1].envelope.as_deref(),
            Some("bob@example.org Tue Jan  2 00:00:00 2001")
        );
    }
    assert_eq!(results[0], results[1]);
    assert_eq!(results[0], results[2]);
    assert_eq!(
        results[0],
        vec![
            b"Subject: one\n\nFrom the start\nFrom here, body\n".to_vec(),
            b"Subject: two\r\n\r\nbye\r\n".to_vec(),
            b"Subject: three\n".to_vec(),
        ]
    );
}

#[test]
fn mbox_oversized_message_skipped_and_scan_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let mut data = b"From a Mon Jan  1 00:00:00 2001\nSubject: big\n\n".to_vec();
    data.extend(b"line\n".repeat(10_000));
    data.extend(b"\nFrom b Mon Jan  1 00:00:00 2001\nSubject: small\n\nok\n");
    let path = dir.path().join("m");
    write(&path, &data);
    let (msgs, skipped) = scan_all(&path, SourceKind::Mbox, 4096);
    assert_eq!(msgs.len(), 1);
    assert_eq!(skipped.len(), 1);
    assert!(skipped[0].contains("over the 4096 byte limit"));
}

#[test]
fn eml_tree() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(&root.join("a.eml"), b"From: a@b\nSubject: a\n\nA\n");
    write(&root.join("sub/b"), b"Received: x\nSubject: b\n\nB\n");
    write(&root.join("sub/c.txt"), b"Message-ID: <c@x>\r\n\r\nC\r\n");
    write(&root.join("bad.eml"), b"\x89PNG\r\n\x1a\n");
    write(&root.join("notes.txt"), b"just some text\n");
    write(
        &root.join("image.png"),
        b"From: looks like mail but wrong extension\n",
    );
    write(&root.join(".hidden.eml"), b"From: a@b\n\n");
    assert_eq!(detect(root).unwrap(), SourceKind::Eml);
    let (msgs, skipped) = scan_all(root, SourceKind::Eml, 1 << 20);
    let names: Vec<PathBuf> = msgs
        .iter()
        .map(|m| match &m.location {
            Location::File { path } => path.strip_prefix(root).unwrap().to_path_buf(),
            l => panic!("{l:?}"),
        })
        .collect();
    assert_eq!(
        names,
        vec![PathBuf::from("a.eml"), "sub/b".into(), "sub/c.txt".into()]
    );
    assert_eq!(skipped.len(), 1);
    assert!(skipped[0].contains("bad.eml"), "{skipped:?}");
    assert_round_trip(&msgs);

    assert_eq!(detect(&root.join("a.eml")).unwrap(), SourceKind::Eml);
    let (one, _) = scan_all(&root.join("a.eml"), SourceKind::Eml, 1 << 20);
    assert_eq!(one.len(), 1);
}

fn git(args: &[&str], dir: &Path, input: Option<&[u8]>) {
    let mut child = Command::new("git")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    if let Some(input) = input {
        stdin.write_all(input).unwrap();
    }
    drop(stdin);
    assert!(child.wait().unwrap().success(), "git {args:?}");
}

/// A fast-import stream: one commit per message (`Some`) or a removal (`None` + blob).
fn fast_import(steps: &[(&str, &[u8])]) -> Vec<u8> {
    let mut s = Vec::new();
    for (i, (path, data)) in steps.iter().enumerate() {
        write!(
            s,
            "commit refs/heads/master\ncommitter A <a@b> {} +0000\ndata 2\nm\n",
            1000 + i
        )
        .unwrap();
        if *path == "m" {
            write!(s, "M 100644 inline m\ndata {}\n", data.len()).unwrap();
        } else {
            write!(s, "D m\nM 100644 inline d\ndata {}\n", data.len()).unwrap();
        }
        s.extend_from_slice(data);
        s.push(b'\n');
    }
    s
}

#[test]
fn public_inbox_v2_with_removed_message() {
    let dir = tempfile::tempdir().unwrap();
    let inbox = dir.path().join("inbox");
    let e0 = inbox.join("git/0.git");
    let e1 = inbox.join("git/1.git");
    for e in [&e0, &e1] {
        std::fs::create_dir_all(e).unwrap();
        git(
            &["init", "-q", "--bare", "--initial-branch=master"],
            e,
            None,
        );
    }
    let (m1, spam, m3, m4): (&[u8], &[u8], &[u8], &[u8]) = (
        b"Subject: one\n\n1\n",
        b"Subject: spam\n\nbuy\n",
        b"Subject: three\r\n\r\n3\r\n",
        b"Subject: four\n\nno newline",
    );
    git(
        &["fast-import", "--quiet"],
        &e0,
        Some(&fast_import(&[("m", m1), ("m", spam), ("m", m3)])),
    );
    // The spam is removed in the next epoch, as public-inbox does.
    git(
        &["fast-import", "--quiet"],
        &e1,
        Some(&fast_import(&[("m", m4), ("d", spam)])),
    );
    std::fs::create_dir_all(inbox.join("git/2.git")).unwrap(); // not a repository: ignored

    assert_eq!(detect(&inbox).unwrap(), SourceKind::PublicInbox);
    assert_eq!(detect(&e1).unwrap(), SourceKind::PublicInbox);
    let (msgs, skipped) = scan_all(&inbox, SourceKind::PublicInbox, 1 << 20);
    assert!(skipped.is_empty(), "{skipped:?}");
    let bodies: Vec<&[u8]> = msgs.iter().map(|m| &m.bytes[..]).collect();
    assert_eq!(bodies, vec![m1, m3, m4]);
    assert_round_trip(&msgs);
    assert!(msgs[0].location.to_uri().starts_with("git:"));

    // An epoch alone does not know about removals recorded elsewhere.
    let (alone, _) = scan_all(&e0, SourceKind::PublicInbox, 1 << 20);
    assert_eq!(alone.len(), 3);
    let (small, skipped) = scan_all(&inbox, SourceKind::PublicInbox, 16);
    assert_eq!((small.len(), skipped.len()), (1, 2), "{skipped:?}");
}

#[test]
fn uris_round_trip_and_reject_junk() {
    let locs = [
        Location::File {
            path: "/a/b c/#1%x".into(),
        },
        Location::Mbox {
            path: "/a/b#c.mbox".into(),
            offset: 1234,
            len: 567,
        },
        Location::Git {
            repo: "/a/git/0.git".into(),
            commit: "a".repeat(40),
            blob: "b".repeat(40),
        },
    ];
    for loc in &locs {
        assert_eq!(&Location::from_uri(&loc.to_uri()).unwrap(), loc);
    }
    assert_eq!(locs[1].to_uri(), "mbox:/a/b#c.mbox#1234+567");
    assert_eq!(locs[0].to_uri(), "file:/a/b c/#1%25x");
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let odd = Location::File {
            path: Path::new(std::ffi::OsStr::from_bytes(b"/x/\xff\xfe.eml")).into(),
        };
        assert_eq!(odd.to_uri(), "file:/x/%FF%FE.eml");
        assert_eq!(Location::from_uri(&odd.to_uri()).unwrap(), odd);
    }
    for bad in [
        "",
        "file:",
        "mbox:/a",
        "mbox:/a#1",
        "mbox:/a#x+1",
        "mbox:/a#1+-2",
        "mbox:#1+2",
        "git:/a#abc:def",
        "git:/a#--upload-pack=x:",
        "http://x",
        "file:/a%zz",
        "file:/a%4",
    ] {
        assert!(
            matches!(Location::from_uri(bad), Err(StoreError::BadLocation(_))),
            "{bad}"
        );
    }
    let maildir = Location::File {
        path: "/m/new/1.x".into(),
    };
    assert_eq!(maildir.stable_key(), "file:/m/cur/1.x");
    assert_eq!(locs[1].stable_key(), locs[1].to_uri());
}

#[test]
fn detect_errors() {
    let err = detect(Path::new("/no/such/path/anywhere")).unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }));
    assert!(err.is_user_error());
    let bad = Location::Mbox {
        path: "/no/such.mbox".into(),
        offset: 0,
        len: 1,
    };
    assert!(matches!(
        read_location(&bad),
        Err(StoreError::NotFound { .. })
    ));
}

#[test]
fn read_location_past_end_fails() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.mbox");
    write(&path, MBOX);
    let loc = Location::Mbox {
        path,
        offset: 10,
        len: 10_000,
    };
    assert!(matches!(read_location(&loc), Err(StoreError::Io { .. })));
}

#[test]
fn a_maildir_scan_takes_files_and_links_to_files_in_name_order_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let md = dir.path().join("md");
    let mail = |id: &str| format!("Message-ID: <{id}@x>\r\nSubject: s\r\n\r\nbody\r\n");
    // Names whose byte order differs from their creation order.
    for name in ["b:2,S", "a10:2,", "a9:2,", "B:2,"] {
        write(&md.join("cur").join(name), mail(name).as_bytes());
    }
    write(&dir.path().join("elsewhere"), mail("linked").as_bytes());
    std::os::unix::fs::symlink(dir.path().join("elsewhere"), md.join("cur/c:2,")).unwrap();
    std::os::unix::fs::symlink(dir.path().join("missing"), md.join("cur/d:2,")).unwrap();
    std::fs::create_dir_all(md.join("cur/e-is-a-dir")).unwrap();
    std::os::unix::fs::symlink(md.join("cur/e-is-a-dir"), md.join("cur/f:2,")).unwrap();
    let (ok, skipped) = scan_all(&md, SourceKind::Maildir, 1 << 20);
    let names: Vec<String> = ok
        .iter()
        .map(|m| match &m.location {
            Location::File { path } => path.file_name().unwrap().to_string_lossy().into_owned(),
            other => panic!("not a file location: {other:?}"),
        })
        .collect();
    assert_eq!(names, ["B:2,", "a10:2,", "a9:2,", "b:2,S", "c:2,"]);
    assert!(skipped.is_empty(), "{skipped:?}");
}
