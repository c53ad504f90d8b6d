//! Tests of sealed volumes: writing, reading, scanning and verifying.

#![allow(clippy::unwrap_used)]

use super::*;
use proptest::prelude::*;

fn tricky() -> Vec<Vec<u8>> {
    let msgs: [&[u8]; 9] = [
        b"From: a@b\n\nFrom the start\n>From quoted\n>>From twice\nFromage\n",
        b"From someone at the very top\n\nbody\n",
        b"Subject: crlf\r\n\r\nFrom here\r\nline\r\n",
        b"Subject: no final newline\n\nlast line From x",
        b"Subject: ends on a quote\n\n>From x",
        b"Subject: bin\n\n\x00\xff\xfe\r\x80From \n\x1b\n",
        b"",
        b"\n",
        b"\n\n\nFrom \n",
    ];
    msgs.iter().map(|m| m.to_vec()).collect()
}

fn sample<'a>(message_id: &'a str, key: &'a str, raw: &'a [u8]) -> ArchivedMessage<'a> {
    let (list, source, date) = ("dev", "test", 1_515_067_200); // Thu Jan  4 12:00:00 2018
    let from = Some("alice@example.org").filter(|_| key != "k0");
    ArchivedMessage {
        message_id,
        key,
        date,
        list,
        source,
        envelope_from: from,
        raw,
    }
}

fn write_volume(dir: &Path, msgs: &[Vec<u8>], frame_limit: usize) -> Manifest {
    let mut w = VolumeWriter::with_frame_limit(dir, "Old Lists", frame_limit).unwrap();
    for (i, raw) in msgs.iter().enumerate() {
        let (id, key) = (format!("<{i}@x>"), format!("k{i}"));
        w.append(&sample(&id, &key, raw)).unwrap();
    }
    w.seal().unwrap()
}

fn decompress_all(dir: &Path, manifest: &Manifest) -> Vec<u8> {
    zstd::stream::decode_all(File::open(manifest.mbox_path(dir)).unwrap()).unwrap()
}

/// What `zstd -dc` gives, split at `\nFrom ` and unquoted.
fn split_mbox(dir: &Path, manifest: &Manifest) -> Vec<Vec<u8>> {
    let all = decompress_all(dir, manifest);
    assert_eq!(all.len() as u64, manifest.mbox_bytes);
    let is_start = |&i: &usize| i == 0 || all[i - 1] == b'\n';
    let starts = (0..all.len()).filter(|i| is_start(i) && all[*i..].starts_with(b"From "));
    let mut starts: Vec<usize> = starts.collect();
    starts.push(all.len());
    let chunks = starts.windows(2).map(|w| &all[w[0]..w[1]]);
    let split = chunks.zip(&manifest.messages).map(|(chunk, entry)| {
        let body = &chunk[chunk.iter().position(|&b| b == b'\n').unwrap() + 1..];
        let stored = body.strip_suffix(b"\n").unwrap(); // the separator
        unescape(&stored[..stored.len() - usize::from(entry.added_newline)])
    });
    split.collect()
}

fn read_all(dir: &Path, manifest: &Manifest) -> Vec<Vec<u8>> {
    let read = manifest.messages.iter();
    read.map(|e| read_message(dir, manifest, e).unwrap())
        .collect()
}

#[test]
fn round_trip_exact_bytes_and_plain_mboxrd() {
    let (dir, msgs) = (tempfile::tempdir().unwrap(), tricky());
    let (d, manifest) = (
        dir.path(),
        write_volume(dir.path(), &msgs, FRAME_INPUT_BYTES),
    );
    assert_eq!(list_volumes(d).unwrap(), vec![manifest.clone()]);
    assert_eq!(read_all(d, &manifest), msgs);
    assert_eq!(split_mbox(d, &manifest), msgs);
    let all = String::from_utf8_lossy(&decompress_all(d, &manifest)).into_owned();
    let first = "From MAILER-DAEMON Thu Jan  4 12:00:00 2018\nFrom: a@b\n\n>From the";
    assert!(all.starts_with(first), "{all}");
    let second = "\n>>>From twice\nFromage\n\nFrom alice@example.org Thu Jan  4 12:00:00 2018\n";
    assert!(all.contains(&format!("{second}>From someone")), "{all}");
    for (entry, raw) in manifest.messages.iter().zip(&msgs) {
        assert_eq!(entry.size, raw.len() as u64);
        assert_eq!(entry.added_newline, !raw.ends_with(b"\n"));
    }
    let (m, e) = find(d, "k3").unwrap().unwrap();
    assert_eq!(read_message(d, &m, &e).unwrap(), msgs[3]);
    assert_eq!(find(d, "<3@x>").unwrap().unwrap().1, e);
    assert!(find(d, "<nope>").unwrap().is_none());
    let mut out = Vec::new();
    push_from_line(&mut out, Some("a b\n"), i64::MAX);
    assert_eq!(out, b"From a_b_ Thu Jan  1 00:00:00 1970\n");
}

#[test]
fn many_messages_span_several_frames() {
    let dir = tempfile::tempdir().unwrap();
    let body = |i: usize| {
        format!(
            "Subject: {i}\n\nFrom {i}\n{}\n",
            "word ".repeat(600 + i % 7)
        )
    };
    let msgs: Vec<Vec<u8>> = (0..1300).map(|i| body(i).into_bytes()).collect();
    let manifest = write_volume(dir.path(), &msgs, FRAME_INPUT_BYTES);
    let frames: BTreeSet<u64> = manifest.messages.iter().map(|e| e.frame_offset).collect();
    assert!(manifest.mbox_bytes > 3 << 20);
    assert!(frames.len() >= 3, "{} frames", frames.len());
    assert_eq!(read_all(dir.path(), &manifest), msgs);
    assert_eq!(split_mbox(dir.path(), &manifest), msgs);
}

#[test]
fn seal_writes_read_only_files_and_a_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let (d, manifest) = (dir.path(), write_volume(dir.path(), &tricky(), 64));
    assert_eq!(manifest.name, "vol-000001-old-lists");
    assert_eq!(manifest.policy, "Old Lists");
    let zst = fs::read(manifest.mbox_path(d)).unwrap();
    assert_eq!(manifest.volume_bytes, zst.len() as u64);
    assert_eq!(manifest.volume_sha256, hex::encode(Sha256::digest(&zst)));
    let json = fs::read(manifest.manifest_path(d)).unwrap();
    let json: serde_json::Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(json["format"], FORMAT);
    assert_eq!(json["messages"][1]["key"], "k1");
    OffsetDateTime::parse(json["sealed"].as_str().unwrap(), &Rfc3339).unwrap();
    assert_eq!(dir_names(d).unwrap().len(), 2);
    for path in [manifest.mbox_path(d), manifest.manifest_path(d)] {
        let perms = fs::metadata(&path).unwrap().permissions();
        #[cfg(unix)]
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&perms) & 0o777,
            0o444
        );
        assert!(perms.readonly());
    }
    let empty = VolumeWriter::create(d, "p").unwrap().seal().unwrap();
    assert_eq!(empty.message_count, 0);
    assert!(split_mbox(d, &empty).is_empty());
    let report = verify_all(d).unwrap();
    assert_eq!((report.volumes, report.messages), (2, 9));
    assert_eq!(report.problems, vec![]);
}

#[test]
fn sequence_numbers_and_names() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    assert!(matches!(
        VolumeWriter::create(d, "!!"),
        Err(VolumeError::BadPolicy(_))
    ));
    let first = VolumeWriter::create(d, "Old Lists!")
        .unwrap()
        .seal()
        .unwrap();
    assert_eq!(first.name, "vol-000001-old-lists");
    fs::write(d.join("vol-000007-x.mbox.zst.partial"), b"").unwrap();
    let w = VolumeWriter::create(d, "-a  b").unwrap();
    assert_eq!(w.name(), "vol-000008-a-b");
    let second = w.seal().unwrap();
    assert_eq!(list_volumes(d).unwrap(), vec![first, second]);
}

#[test]
fn cleanup_removes_only_partials_and_drop_cleans_up() {
    let dir = tempfile::tempdir().unwrap();
    let (d, sealed) = (dir.path(), write_volume(dir.path(), &tricky(), 64));
    let mut crashed = VolumeWriter::create(d, "p").unwrap();
    crashed.append(&sample("<a>", "a", b"hi")).unwrap();
    let crashed_path = d.join(format!("{}.mbox.zst.partial", crashed.name()));
    mem::forget(crashed); // as if the process died
    let stray = d.join("vol-000009-p.manifest.json.partial");
    fs::write(&stray, b"{").unwrap();
    fs::write(d.join("notes.partial"), b"").unwrap();
    assert_eq!(cleanup_partial(d).unwrap(), vec![crashed_path, stray]);
    assert_eq!(list_volumes(d).unwrap(), vec![sealed]);
    let mut dropped = VolumeWriter::create(d, "p").unwrap();
    dropped.append(&sample("<b>", "b", b"x")).unwrap();
    assert!(d
        .join(format!("{}.mbox.zst.partial", dropped.name()))
        .exists());
    drop(dropped);
    assert!(cleanup_partial(d).unwrap().is_empty());
}

fn corrupt_file(path: &Path, change: impl FnOnce(&mut Vec<u8>)) {
    let mut bytes = fs::read(path).unwrap();
    change(&mut bytes);
    set_readonly(path, false);
    fs::write(path, bytes).unwrap();
    set_readonly(path, true);
}

fn set_readonly(path: &Path, readonly: bool) {
    let mut perms = fs::metadata(path).unwrap().permissions();
    perms.set_readonly(readonly);
    fs::set_permissions(path, perms).unwrap();
}

#[test]
fn verify_names_the_volume_and_messages_of_a_flipped_byte() {
    let msgs: Vec<Vec<u8>> = (0..60)
        .map(|i| format!("S: {i}\n\nbody {i}\n").into())
        .collect();
    let len = write_volume(tempfile::tempdir().unwrap().path(), &msgs, 300).volume_bytes;
    for pos in [0, 5, len / 3, len / 2, len - 5, len - 1] {
        let dir = tempfile::tempdir().unwrap();
        let (d, manifest) = (dir.path(), write_volume(dir.path(), &msgs, 300));
        corrupt_file(&manifest.mbox_path(d), |b| b[pos as usize] ^= 0x20);
        let problems = verify_all(d).unwrap().problems;
        let hash = Problem::new(&manifest.name, None, ProblemKind::VolumeHashMismatch);
        assert!(problems.contains(&hash), "pos {pos}");
        assert!(problems.iter().all(|p| p.volume == manifest.name));
        let frame = manifest
            .messages
            .iter()
            .map(|e| e.frame_offset)
            .filter(|&o| o <= pos);
        let frame = frame.max();
        let in_frame = manifest
            .messages
            .iter()
            .filter(|e| Some(e.frame_offset) == frame);
        let in_frame: BTreeSet<&str> = in_frame.map(|e| e.message_id.as_str()).collect();
        let named = problems.iter().filter_map(|p| p.message_id.as_deref());
        let named: BTreeSet<&str> = named.collect();
        assert!(
            !named.is_empty() && named.is_subset(&in_frame),
            "pos {pos}: {named:?}"
        );
        for (entry, raw) in manifest.messages.iter().zip(&msgs) {
            let read = read_message(d, &manifest, entry); // never wrong bytes
            assert!(read.is_err() || read.unwrap() == *raw, "pos {pos}");
        }
    }
}

#[test]
fn verify_reports_missing_truncated_writable_unsealed_and_unreadable() {
    let (dir, msgs) = (tempfile::tempdir().unwrap(), tricky());
    let d = dir.path();
    let [missing, truncated, writable] = [(); 3].map(|_| write_volume(d, &msgs, 64));
    fs::remove_file(missing.mbox_path(d)).unwrap();
    corrupt_file(&truncated.mbox_path(d), |b| b.truncate(b.len() - 10));
    set_readonly(&writable.manifest_path(d), false);
    fs::write(d.join("vol-000010-x.mbox.zst"), b"").unwrap();
    fs::write(d.join("vol-000011-x.manifest.json"), b"{\"format\":").unwrap();
    let err = list_volumes(d).unwrap_err().to_string();
    assert!(err.contains("vol-000011-x.manifest.json"), "{err}");
    let report = verify_all(d).unwrap();
    assert_eq!((report.volumes, report.messages), (4, 3 * msgs.len()));
    let (t, size) = (&truncated.name, truncated.volume_bytes);
    let writable_file = format!("{}.manifest.json", writable.name);
    let expected = [
        Problem::new(&missing.name, None, ProblemKind::VolumeMissing),
        Problem::new(t, None, ProblemKind::VolumeSizeMismatch(size, size - 10)),
        Problem::new(t, None, ProblemKind::VolumeHashMismatch),
        Problem::new(&writable.name, None, ProblemKind::Writable(writable_file)),
        Problem::new("vol-000010-x", None, ProblemKind::ManifestMissing),
    ];
    let problems = &report.problems;
    assert!(
        expected.iter().all(|p| problems.contains(p)),
        "{problems:#?}"
    );
    let unreadable = |p: &&Problem| matches!(p.kind, ProblemKind::ManifestUnreadable(_));
    assert_eq!(problems.iter().filter(unreadable).count(), 1);
    let lost = problems.iter().find(|p| p.message_id.is_some()).unwrap();
    let last = &truncated.messages.last().unwrap().message_id;
    assert!(
        lost.to_string()
            .starts_with(&format!("{t}: message {last}: ")),
        "{lost}"
    );
    assert_eq!(problems.len(), expected.len() + 2, "{problems:#?}");
}

#[test]
fn bad_manifest_offsets_are_errors_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    let (d, manifest) = (dir.path(), write_volume(dir.path(), &tricky(), 64));
    let mut entry = manifest.messages[0].clone();
    let bad = [
        (0, u64::MAX, 1),
        (0, 0, u64::MAX),
        (0, 1 << 40, 5),
        (3, 0, 5),
    ];
    for (frame, offset, len) in bad {
        (entry.frame_offset, entry.offset_in_frame, entry.stored_len) = (frame, offset, len);
        assert!(read_message(d, &manifest, &entry).is_err());
    }
}

fn message_bytes() -> impl Strategy<Value = Vec<u8>> {
    let (from, quote, lf, crlf) = (b"From ", b">", b"\n", b"\r\n");
    let fixed = prop::sample::select(vec![&from[..], quote, lf, crlf]).prop_map(<[u8]>::to_vec);
    let piece = prop_oneof![fixed, prop::collection::vec(any::<u8>(), 0..40)];
    prop::collection::vec(piece, 0..30).prop_map(|p| p.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn arbitrary_messages_round_trip(msgs in prop::collection::vec(message_bytes(), 0..8)) {
        let dir = tempfile::tempdir().unwrap();
        let manifest = write_volume(dir.path(), &msgs, 200);
        prop_assert_eq!(read_all(dir.path(), &manifest), msgs.clone());
        prop_assert_eq!(split_mbox(dir.path(), &manifest), msgs);
    }
}

/// `cargo test --release -- --ignored --nocapture throughput`: prints MB/s.
#[test]
#[ignore]
fn throughput() {
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed as usize
    };
    let mut words = Vec::new();
    for _ in 0..4096 {
        let len = 2 + next() % 9;
        let word = (0..len).map(|_| char::from(b'a' + (next() % 26) as u8));
        words.push(word.collect::<String>());
    }
    let mut message = |i: usize| {
        let mut m = format!(
            "From: d{}@example.org\nMessage-ID: <{i}@x>\n\n",
            next() % 500
        );
        while m.len() < 20_000 {
            m.push_str(&words[next() % (1 + next() % words.len())]); // roughly Zipf
            m.push(if next() % 12 == 0 { '\n' } else { ' ' });
        }
        m.into_bytes()
    };
    let msgs: Vec<Vec<u8>> = (0..10_000).map(&mut message).collect();
    let mb = msgs.iter().map(Vec::len).sum::<usize>() as f64 / 1e6;
    let dir = tempfile::tempdir().unwrap();
    let start = std::time::Instant::now();
    let manifest = write_volume(dir.path(), &msgs, FRAME_INPUT_BYTES);
    let archive = mb / start.elapsed().as_secs_f64();
    let start = std::time::Instant::now();
    assert!(verify_all(dir.path()).unwrap().problems.is_empty());
    let verify = mb / start.elapsed().as_secs_f64();
    let ratio = mb * 1e6 / manifest.volume_bytes as f64;
    println!("{mb:.0} MB: archive {archive:.0} MB/s, verify {verify:.0} MB/s, ratio {ratio:.2}");
}
