//! The mbox splitter: hand-written cases and property tests over random chunking.

#![allow(clippy::unwrap_used)]

use proptest::prelude::*;

use crate::store::mbox::{looks_like_envelope, quote, unquote, Frame, MboxSplitter};

const BIG: u64 = 1 << 40;

/// Feeds `data` split at `cuts` (positions, any order, clamped) and collects all frames.
fn split_at(data: &[u8], cuts: &[usize], max: u64) -> Vec<Frame> {
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (data.len() + 1)).collect();
    cuts.push(data.len());
    cuts.sort_unstable();
    let mut splitter = MboxSplitter::new(max);
    let mut frames = Vec::new();
    let mut at = 0;
    for cut in cuts {
        frames.extend(splitter.push(&data[at..cut]));
        at = cut;
    }
    frames.extend(splitter.finish());
    frames
}

fn split(data: &[u8]) -> Vec<Frame> {
    split_at(data, &[], BIG)
}

/// The unquoted messages, checking on the way that offsets point at the stored bytes.
fn messages(data: &[u8], frames: &[Frame]) -> Vec<Vec<u8>> {
    frames
        .iter()
        .filter_map(|f| match f {
            Frame::Message(m) => {
                let stored = m.bytes.clone().unwrap();
                let (o, l) = (m.offset as usize, m.len as usize);
                assert_eq!(&data[o..o + l], &stored[..], "offset/len of {m:?}");
                Some(unquote(&stored))
            }
            Frame::Junk { .. } => None,
        })
        .collect()
}

#[test]
fn envelopes() {
    for yes in [
        "From MAILER-DAEMON Fri Jul  8 12:08:34 2011",
        "From foo@bar Mon Jan 01 00:00:00 2001",
        "From foo@bar Mon Jan 1 00:00 2001",
        "From foo@bar Mon Jan  1 00:00:00 +0000 2001",
        "From foo@bar Mon Jan  1 00:00:00 2001 +0000",
        "From foo@bar Mon Jan  1 00:00:00 PST 2001",
        "From fc88cba7f1f37b9cf3b296eace2422dd0e173502 Mon Sep 17 00:00:00 2001",
        "From foo@bar Sat, 1 Jan 2000 10:00:00 +0000",
        "From  Thu Jan  1 00:00:00 1970",
    ] {
        assert!(looks_like_envelope(yes.as_bytes()), "{yes}");
    }
    for no in [
        "From here on, we talk",
        "From the eyes of a stranger",
        "From: someone",
        "From Jan",
        "From me to you on Monday at 10:00",
    ] {
        assert!(!looks_like_envelope(no.as_bytes()), "{no}");
    }
}

#[test]
fn mboxrd_unquoting() {
    let data = b"From a Mon Jan  1 00:00:00 2001\nSubject: q\n\n>From x\n>>From y\n>Fromage\n";
    let msgs = messages(data, &split(data));
    assert_eq!(
        msgs,
        vec![b"Subject: q\n\nFrom x\n>From y\n>Fromage\n".to_vec()]
    );
    assert_eq!(
        quote(b"From x\n>From y\nFromage\n"),
        b">From x\n>>From y\nFromage\n"
    );
}

#[test]
fn unescaped_from_in_body_is_body() {
    let data = b"From a Mon Jan  1 00:00:00 2001\nSubject: 1\n\nFrom here on, body.\n\n\
From me to you\nFrom b Mon Jan  1 00:00:00 2001\nnot a separator: no blank line\n\n\
From c Tue Jan  2 00:00:00 2001\nSubject: 2\n\nbye\n";
    let frames = split(data);
    let msgs = messages(data, &frames);
    assert_eq!(msgs.len(), 2, "{frames:?}");
    assert_eq!(
        msgs[0],
        b"Subject: 1\n\nFrom here on, body.\n\nFrom me to you\nFrom b Mon Jan  1 00:00:00 2001\nnot a separator: no blank line\n"
    );
    assert_eq!(msgs[1], b"Subject: 2\n\nbye\n");
    match &frames[1] {
        Frame::Message(m) => assert_eq!(m.envelope, "c Tue Jan  2 00:00:00 2001"),
        f => panic!("{f:?}"),
    }
}

#[test]
fn crlf_is_framed_and_kept() {
    let data = b"From a Mon Jan  1 00:00:00 2001\r\nSubject: 1\r\n\r\nhi\r\n\r\n\
From b Mon Jan  1 00:00:00 2001\r\nSubject: 2\r\n\r\n>From x\r\n\r\n";
    let frames = split(data);
    let msgs = messages(data, &frames);
    assert_eq!(
        msgs,
        vec![
            b"Subject: 1\r\n\r\nhi\r\n".to_vec(),
            b"Subject: 2\r\n\r\nFrom x\r\n".to_vec()
        ]
    );
    match &frames[0] {
        Frame::Message(m) => assert_eq!(m.envelope, "a Mon Jan  1 00:00:00 2001"),
        f => panic!("{f:?}"),
    }
}

#[test]
fn missing_final_newline() {
    let data = b"From a Mon Jan  1 00:00:00 2001\nSubject: 1\n\nlast line";
    assert_eq!(
        messages(data, &split(data)),
        vec![b"Subject: 1\n\nlast line".to_vec()]
    );
}

#[test]
fn only_one_blank_line_before_a_separator_is_dropped() {
    let data = b"From a Mon Jan  1 00:00:00 2001\nS: 1\n\nx\n\n\n\nFrom b Mon Jan  1 00:00:00 2001\nS: 2\n\n";
    let msgs = messages(data, &split(data));
    assert_eq!(msgs, vec![b"S: 1\n\nx\n\n\n".to_vec(), b"S: 2\n".to_vec()]);
}

#[test]
fn junk_before_first_message() {
    let data = b"\x00\x01garbage\xff\nmore junk\nFrom a Mon Jan  1 00:00:00 2001\nS: 1\n\nhi\n";
    let frames = split(data);
    assert_eq!(frames[0], Frame::Junk { offset: 0, len: 21 });
    assert_eq!(messages(data, &frames), vec![b"S: 1\n\nhi\n".to_vec()]);
}

#[test]
fn whitespace_before_first_message_is_not_junk() {
    let data = b"\n\nFrom a Mon Jan  1 00:00:00 2001\nS: 1\n\nhi\n";
    let frames = split(data);
    assert_eq!(frames.len(), 1, "{frames:?}");
}

#[test]
fn nul_block_between_messages_is_junk() {
    let mut data = b"From a Mon Jan  1 00:00:00 2001\nS: 1\n\nhi\n".to_vec();
    let junk_at = data.len() as u64;
    data.extend(vec![0u8; 10_000]);
    data.extend(b"\nFrom b Mon Jan  1 00:00:00 2001\nS: 2\n\nho\n");
    let frames = split_at(&data, &[100, 5000], BIG);
    assert_eq!(frames.len(), 3, "{frames:?}");
    assert_eq!(
        frames[1],
        Frame::Junk {
            offset: junk_at,
            len: 10_001
        }
    );
    assert_eq!(
        messages(&data, &frames),
        vec![b"S: 1\n\nhi\n".to_vec(), b"S: 2\n\nho\n".to_vec()]
    );
}

#[test]
fn short_nul_lines_are_text() {
    // Regression: a UTF-16LE body has lines like "\0\n"; they must not end the message.
    let data = b"From a Mon Jan  1 00:00:00 2001\nS: 1\n\nT\0e\0\n\0\n--1--\n";
    let frames = split(data);
    assert_eq!(
        messages(data, &frames),
        vec![b"S: 1\n\nT\0e\0\n\0\n--1--\n".to_vec()]
    );
}

#[test]
fn oversized_message_is_dropped_but_framed() {
    let mut data = b"From a Mon Jan  1 00:00:00 2001\nS: 1\n\n".to_vec();
    data.extend(b"0123456789\n".repeat(1000));
    data.extend(b"\nFrom b Mon Jan  1 00:00:00 2001\nS: 2\n\nsmall\n");
    let frames = split_at(&data, &[3, 777, 5000], 1000);
    match &frames[..] {
        [Frame::Message(big), Frame::Message(small)] => {
            assert_eq!(big.bytes, None);
            assert_eq!(big.len, 6 + 11_000);
            assert_eq!(small.bytes.as_deref(), Some(&b"S: 2\n\nsmall\n"[..]));
        }
        f => panic!("{f:?}"),
    }
}

#[test]
fn long_lines_pass_through() {
    let mut data = b"From a Mon Jan  1 00:00:00 2001\nS: 1\n\n".to_vec();
    let body = vec![b'x'; 20_000];
    data.extend(&body);
    data.extend(b"\n\nFrom b Mon Jan  1 00:00:00 2001\nS: 2\n\n");
    data.extend(&body);
    let frames = split_at(&data, &[50, 4000, 4100, 30_000], BIG);
    let msgs = messages(&data, &frames);
    assert_eq!(msgs.len(), 2);
    assert_eq!(msgs[1].len(), 6 + 20_000);
}

#[test]
fn from_at_file_start_needs_no_date() {
    let data = b"From someone\nS: 1\n\nhi\n";
    assert_eq!(messages(data, &split(data)), vec![b"S: 1\n\nhi\n".to_vec()]);
}

fn line_strategy() -> impl Strategy<Value = Vec<u8>> {
    let content = prop_oneof![
        Just(b"".to_vec()),
        Just(b"From here on".to_vec()),
        Just(b"From x Mon Jan  1 00:00:00 2001".to_vec()),
        Just(b">From y Mon Jan  1 00:00:00 2001".to_vec()),
        Just(b">>From z".to_vec()),
        Just(b"From ".to_vec()),
        Just(b">".to_vec()),
        Just(b"\r".to_vec()),
        "[a-zA-Z0-9 :>]{0,20}".prop_map(String::into_bytes),
        proptest::collection::vec(
            any::<u8>().prop_filter("no newline", |b| *b != b'\n'),
            0..30
        ),
    ];
    (content, prop_oneof![Just(&b"\n"[..]), Just(&b"\r\n"[..])]).prop_map(|(mut c, eol)| {
        c.extend_from_slice(eol);
        c
    })
}

fn message_strategy() -> impl Strategy<Value = (String, Vec<u8>)> {
    let headers = proptest::collection::vec("X-[A-Z]{1,5}: [a-z ]{0,10}\n", 1..4);
    let body = proptest::collection::vec(line_strategy(), 0..12);
    ("[a-z@.]{1,12}", headers, body).prop_map(|(sender, headers, body)| {
        let mut msg = headers.concat().into_bytes();
        msg.push(b'\n');
        msg.extend(body.concat());
        (format!("{sender} Mon Jan  1 00:00:00 2001"), msg)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn mboxrd_round_trip(
        msgs in proptest::collection::vec(message_strategy(), 0..8),
        cuts in proptest::collection::vec(any::<usize>(), 0..20),
        crlf_gap in any::<bool>(),
    ) {
        let mut data = Vec::new();
        for (envelope, msg) in &msgs {
            data.extend(format!("From {envelope}\n").into_bytes());
            data.extend(quote(msg));
            data.extend_from_slice(if crlf_gap { b"\r\n" } else { b"\n" });
        }
        let frames = split_at(&data, &cuts, BIG);
        let got: Vec<(String, Vec<u8>)> = frames
            .iter()
            .map(|f| match f {
                Frame::Message(m) => (m.envelope.clone(), unquote(m.bytes.as_deref().unwrap_or_default())),
                Frame::Junk { offset, len } => (format!("junk {offset}+{len}"), Vec::new()),
            })
            .collect();
        prop_assert_eq!(&got, &msgs);
        messages(&data, &frames);
    }

    #[test]
    fn chunking_never_changes_frames(
        tokens in proptest::collection::vec(prop_oneof![
            Just(&b"From a Mon Jan  1 00:00:00 2001"[..]),
            Just(&b"From b"[..]), Just(&b"\n"[..]), Just(&b"\r\n"[..]), Just(&b"\r"[..]),
            Just(&b"\0\0\0"[..]), Just(&[0u8; 70][..]), Just(&b">From "[..]), Just(&b"x: y"[..]), Just(&b" "[..]),
        ], 0..60),
        noise in proptest::collection::vec(any::<u8>(), 0..40),
        cuts in proptest::collection::vec(any::<usize>(), 0..20),
        max in 0u64..200,
    ) {
        let mut data = tokens.concat();
        let at = data.len() / 2;
        data.splice(at..at, noise);
        let whole = split_at(&data, &[], max);
        let chunked = split_at(&data, &cuts, max);
        prop_assert_eq!(&whole, &chunked);
        let mut byte_at_a_time = MboxSplitter::new(max);
        let mut frames = Vec::new();
        for b in &data {
            frames.extend(byte_at_a_time.push(std::slice::from_ref(b)));
        }
        frames.extend(byte_at_a_time.finish());
        prop_assert_eq!(&whole, &frames);
        for f in &whole {
            if let Frame::Message(m) = f {
                let (o, l) = (m.offset as usize, m.len as usize);
                prop_assert!(o + l <= data.len());
                if let Some(b) = &m.bytes {
                    prop_assert_eq!(&data[o..o + l], &b[..]);
                }
            }
        }
    }
}

/// Every byte of `data` is in a frame, in the separator line (`From ...`)
/// just before a message, or in whitespace between frames; frames are in
/// order and never overlap.
fn every_byte_accounted_for(data: &[u8], frames: &[Frame]) -> Result<(), TestCaseError> {
    let blank = |b: &[u8]| b.iter().all(|c| c.is_ascii_whitespace());
    let mut pos = 0usize;
    for f in frames {
        let (o, l, message) = match f {
            Frame::Message(m) => (m.offset as usize, m.len as usize, true),
            Frame::Junk { offset, len } => (*offset as usize, *len as usize, false),
        };
        prop_assert!(o >= pos && o + l <= data.len(), "{f:?} after {pos}");
        let gap = &data[pos..o];
        if message {
            let body = gap.strip_suffix(b"\n").unwrap_or(gap);
            let line = body.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
            prop_assert!(
                gap[line..].starts_with(b"From "),
                "no separator before {f:?}: {gap:?}"
            );
            prop_assert!(
                blank(&gap[..line]),
                "unaccounted bytes before {f:?}: {gap:?}"
            );
        } else {
            prop_assert!(blank(gap), "unaccounted bytes before {f:?}: {gap:?}");
        }
        pos = o + l;
    }
    prop_assert!(blank(&data[pos..]), "unaccounted tail: {:?}", &data[pos..]);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn every_byte_is_a_frame_a_separator_or_a_gap(
        tokens in proptest::collection::vec(prop_oneof![
            Just(&b"From a Mon Jan  1 00:00:00 2001\n"[..]),
            Just(&b"From b"[..]), Just(&b"\n"[..]), Just(&b"\r\n"[..]), Just(&b"\r"[..]),
            Just(&b"\0\0\0"[..]), Just(&[0u8; 70][..]), Just(&b">From "[..]), Just(&b"x: y"[..]), Just(&b" "[..]),
        ], 0..60),
        noise in proptest::collection::vec(any::<u8>(), 0..40),
        cuts in proptest::collection::vec(any::<usize>(), 0..20),
    ) {
        let mut data = tokens.concat();
        let at = data.len() / 2;
        data.splice(at..at, noise);
        let frames = split_at(&data, &cuts, BIG);
        every_byte_accounted_for(&data, &frames)?;
    }
}
