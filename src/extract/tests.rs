//! Tests of `extract`: golden JSON for hand-written messages under
//! `tests/data/extract/`, a no-panic sweep over the shared corpora, and unit
//! tests of the pieces.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::Instant;

use super::*;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/extract");
const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/extract");
const CORPORA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpora");

fn render(path: &Path) -> String {
    let raw = std::fs::read(path).unwrap();
    let envelope = std::fs::read_to_string(path.with_extension("envelope")).ok();
    let ctx = ExtractContext {
        list: None,
        envelope: envelope.as_deref().map(str::trim),
        ..ExtractContext::default()
    };
    let json = match extract(&raw, &ctx) {
        Ok(doc) => serde_json::to_string_pretty(&doc),
        Err(e) => serde_json::to_string_pretty(&serde_json::json!({ "error": e.to_string() })),
    };
    json.unwrap() + "\n"
}

#[test]
fn golden() {
    let bless = std::env::var_os("BLESS").is_some_and(|v| v == "1");
    std::fs::create_dir_all(GOLDEN).unwrap();
    let mut inputs: Vec<PathBuf> = std::fs::read_dir(DATA)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    inputs.sort();
    assert!(inputs.len() >= 25, "only {} inputs", inputs.len());
    let mut failed = Vec::new();
    for input in &inputs {
        let name = input.file_stem().unwrap().to_string_lossy().to_string();
        let golden = Path::new(GOLDEN).join(format!("{name}.json"));
        let failed_path = Path::new(GOLDEN).join(format!("{name}.json.failed"));
        let actual = render(input);
        if bless {
            std::fs::write(&golden, &actual).unwrap();
            let _ = std::fs::remove_file(&failed_path);
            continue;
        }
        match std::fs::read_to_string(&golden) {
            Ok(expected) if expected == actual => {
                let _ = std::fs::remove_file(&failed_path);
            }
            _ => {
                std::fs::write(&failed_path, &actual).unwrap();
                failed.push(name);
            }
        }
    }
    assert!(
        failed.is_empty(),
        "golden mismatch (see .json.failed): {failed:?}"
    );
}

fn corpus_files() -> Option<Vec<PathBuf>> {
    let dirs = std::fs::read_dir(CORPORA).ok()?;
    let mut files = Vec::new();
    for dir in dirs.flatten() {
        if let Ok(cur) = std::fs::read_dir(dir.path().join("maildir/cur")) {
            files.extend(cur.flatten().map(|e| e.path()));
        }
    }
    files.sort();
    Some(files)
}

#[test]
fn corpora_never_panic() {
    let Some(files) = corpus_files() else {
        println!("skipped: no corpora at {CORPORA}");
        return;
    };
    let mut defects = std::collections::BTreeMap::<String, usize>::new();
    let mut langs = std::collections::BTreeMap::<String, usize>::new();
    let (mut ok, mut not_mail) = (0, 0);
    for f in &files {
        let raw = std::fs::read(f).unwrap();
        match extract(&raw, &ExtractContext::default()) {
            Ok(doc) => {
                ok += 1;
                if doc.defects.iter().any(|d| d == "bad date")
                    && defects.get("bad date").copied().unwrap_or(0) < 8
                {
                    let head = String::from_utf8_lossy(&raw[..raw.len().min(20_000)]).to_string();
                    let date = head
                        .lines()
                        .find(|l| l.to_ascii_lowercase().starts_with("date:"));
                    println!("bad date: {date:?}");
                }
                for d in doc.defects {
                    *defects.entry(d).or_default() += 1;
                }
                *langs.entry(doc.lang).or_default() += 1;
            }
            Err(ExtractError::NotMail) => {
                not_mail += 1;
                println!("not mail: {}", f.display());
            }
        }
    }
    println!("{ok} extracted, {not_mail} not mail");
    println!("defects: {defects:?}");
    println!("languages: {langs:?}");
    assert!(ok > 0);
}

/// `cargo test --release -- --ignored --nocapture throughput`
#[test]
#[ignore]
fn throughput() {
    let dir = Path::new(CORPORA).join("spamassassin-public/maildir/cur");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        println!("skipped: no corpus at {}", dir.display());
        return;
    };
    let raws: Vec<Vec<u8>> = entries
        .flatten()
        .map(|e| std::fs::read(e.path()).unwrap())
        .collect();
    let bytes: usize = raws.iter().map(Vec::len).sum();
    let start = Instant::now();
    let mut slowest = Vec::new();
    for (i, raw) in raws.iter().enumerate() {
        let t = Instant::now();
        let _ = extract(raw, &ExtractContext::default());
        slowest.push((t.elapsed(), i));
    }
    let secs = start.elapsed().as_secs_f64();
    slowest.sort();
    for (t, i) in slowest.iter().rev().take(5) {
        println!("slow: {t:?} for {} bytes", raws[*i].len());
    }
    println!(
        "extract: {} messages, {:.1} MB in {secs:.2}s = {:.0} msg/s",
        raws.len(),
        bytes as f64 / 1e6,
        raws.len() as f64 / secs
    );
    let bodies: Vec<String> = raws
        .iter()
        .filter_map(|r| extract(r, &ExtractContext::default()).ok())
        .map(|d| d.body)
        .collect();
    let start = Instant::now();
    for b in &bodies {
        std::hint::black_box(detect_lang(b));
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "detect_lang: {:.0} detections/s",
        bodies.len() as f64 / secs
    );
}

fn doc(raw: &str) -> MailDoc {
    extract(raw.as_bytes(), &ExtractContext::default()).unwrap()
}

#[test]
fn content_hash_ignores_transport_line_ends_and_footer() {
    let plain = std::fs::read(Path::new(DATA).join("01-plain.eml")).unwrap();
    let crlf = std::fs::read(Path::new(DATA).join("22-crlf.eml")).unwrap();
    let a = extract(&plain, &ExtractContext::default()).unwrap();
    let b = extract(&crlf, &ExtractContext::default()).unwrap();
    assert_ne!(plain, crlf);
    assert_eq!(a.content_hash, b.content_hash);
    assert_eq!(a.key, b.key);
}

#[test]
fn content_hash_sees_body_changes() {
    let a = doc("From: a@b.c\nSubject: s\nMessage-ID: <x@y>\n\nhello\n");
    let b = doc("From: a@b.c\nSubject: s\nMessage-ID: <x@y>\n\nhello there\n");
    assert_ne!(a.content_hash, b.content_hash);
}

#[test]
fn mbox_envelope_line_in_raw_is_used_and_skipped() {
    let d =
        doc("From someone@example.org Wed Mar 20 11:22:33 2019\nFrom: a@b.c\nSubject: s\n\nbody\n");
    assert_eq!(d.date_source, DateSource::Envelope);
    assert_eq!(d.date, Some(1_553_080_953));
    assert_eq!(d.from[0].addr.as_deref(), Some("a@b.c"));
}

#[test]
fn envelope_dates() {
    use super::headers::envelope_date;
    assert_eq!(
        envelope_date("x@y Wed Mar 20 11:22:33 2019"),
        Some(1_553_080_953)
    );
    assert_eq!(
        envelope_date("x@y Wed Mar  2 11:22:33 2019"),
        Some(1_551_525_753)
    );
    assert_eq!(
        envelope_date("x@y Wed Mar 20 11:22:33 +0100 2019"),
        Some(1_553_077_353)
    );
    assert_eq!(
        envelope_date("MAILER-DAEMON Thu Jan  1 00:00:00 1970"),
        None
    );
    assert_eq!(envelope_date("x@y garbage"), None);
    assert_eq!(envelope_date(""), None);
}

#[test]
fn thread_subjects() {
    use super::headers::thread_subject;
    let cases = [
        ("Re: Re: hello", "hello"),
        ("[dev] RE: AW: Fwd:  Hello   World", "hello world"),
        ("Re[2]: [list] Fw: x", "x"),
        ("Antw: SV: VS: WG: y", "y"),
        ("Réf. : z", "réf. : z"),
        ("Réf: z", "z"),
        ("回复：数据库", "数据库"),
        ("答复: 问题", "问题"),
        ("[only a tag]", "[only a tag]"),
        ("Re:", ""),
        ("Regarding the rest", "regarding the rest"),
        ("", ""),
    ];
    for (input, want) in cases {
        assert_eq!(thread_subject(input), want, "for {input:?}");
    }
}

#[test]
fn ids() {
    use super::headers::parse_ids;
    assert_eq!(parse_ids("<a@b> <c@d>"), ["a@b", "c@d"]);
    assert_eq!(parse_ids(" < a @b (x) > "), ["a@b"]);
    assert_eq!(parse_ids("(comment <x@y>) <a@b>"), ["a@b"]);
    assert_eq!(parse_ids("a@b c@d"), ["a@b", "c@d"]);
    assert!(parse_ids("John's message of Monday").is_empty());
}

#[test]
fn fold_strips_accents_and_case() {
    assert_eq!(fold("Häuser ÉCOLE ﬁx"), "hauser ecole fix");
    assert_eq!(fold("日本語"), "日本語");
}

#[test]
fn languages() {
    assert_eq!(detect_lang(""), "und");
    assert_eq!(
        detect_lang("Thanks, that fixed it for me. I will update the wiki page tomorrow."),
        "eng"
    );
    assert_eq!(
        detect_lang("Vielen Dank, das hat das Problem gelöst. Ich werde morgen die Dokumentation aktualisieren."),
        "deu"
    );
    assert_eq!(
        detect_lang("来週の月曜日にメールサーバーを新しいデータセンターへ移行します。"),
        "jpn"
    );
    // Decided by function words alone, and by whatlang, alike.
    for (text, lang) in [
        ("Merci pour la réponse. Je pense que le problème est dans la configuration du serveur, mais je ne suis pas sûr. Est-ce que vous avez une idée pour le corriger avec cette version ?", "fra"),
        ("Gracias por la respuesta. Creo que el problema está en la configuración del servidor, pero no estoy seguro. ¿Alguien sabe cómo se puede arreglar con esta versión?", "spa"),
        ("Obrigado pela resposta. Acho que o problema está na configuração do servidor, mas não tenho certeza. Alguém sabe como corrigir isso com a nova versão?", "por"),
        ("Grazie per la risposta. Penso che il problema sia nella configurazione del server, ma non sono sicuro. Qualcuno sa come si può correggere con questa versione?", "ita"),
        ("Bedankt voor het antwoord. Ik denk dat het probleem in de configuratie van de server zit, maar ik weet het niet zeker. Weet iemand hoe je dat met de nieuwe versie kunt oplossen?", "nld"),
        ("Danke für die Antwort. Ich glaube, dass das Problem in der Konfiguration des Servers liegt, aber ich bin nicht sicher. Weiß jemand, wie man es mit der neuen Version beheben kann?", "deu"),
        ("Thanks for the answer. I think the problem is in the configuration of the server, but I am not sure. Does anyone know how to fix it with the new version?", "eng"),
    ] {
        let sample = super::lang::sample_for_tests(text);
        assert_eq!(super::lang::Counts::of(&sample).clear(), Some(lang), "{text}");
        assert_eq!(detect_lang(text), lang, "{text}");
    }
    // Too few function words: left to whatlang.
    assert_eq!(
        super::lang::Counts::of("Serverkonfiguration Datenbankreplikation Festplattenkapazität")
            .clear(),
        None
    );
    // A huge unspaced text is cut to a sample, not scanned whole.
    let big = "数据库服务器的磁盘满了".repeat(200_000);
    let start = Instant::now();
    assert_eq!(detect_lang(&big), "cmn");
    assert!(start.elapsed().as_millis() < 500);
}

#[test]
fn not_mail() {
    let ctx = ExtractContext::default();
    assert_eq!(extract(b"", &ctx), Err(ExtractError::NotMail));
    assert_eq!(
        extract(b"\x00\x01\x02binary", &ctx),
        Err(ExtractError::NotMail)
    );
    assert_eq!(
        extract(b"just some text\nmore\n", &ctx),
        Err(ExtractError::NotMail)
    );
    assert_eq!(
        extract(b"Foo: bar\n\nbody", &ctx),
        Err(ExtractError::NotMail)
    );
    assert!(extract(b"Subject: hi\n\nbody", &ctx).is_ok());
}

#[test]
fn huge_body_is_capped_and_fast() {
    let mut raw = String::from("From: a@b.c\nSubject: big\nMessage-ID: <big@x>\n\n");
    let line = "all work and no play makes jack a dull boy\n";
    while raw.len() < 50 << 20 {
        raw.push_str(line);
    }
    let start = Instant::now();
    let d = doc(&raw);
    assert!(d.body.len() <= TEXT_CAP);
    assert!(d.defects.contains(&"body truncated".to_string()));
    assert!(start.elapsed().as_secs() < 20);
}

#[test]
fn quoting_split() {
    use super::quoting::split;
    let s = split("mine\n\nOn Mon, Jan 1, 2001 at 10:00 AM, Bob <\nbob@x.org> wrote:\n> theirs\n>> older\n\nmore mine\n--\nBob\n");
    assert_eq!(s.own, "mine\n\nmore mine");
    // The attribution is the replying author's words (issue 17), kept apart.
    assert_eq!(
        s.attribution,
        "On Mon, Jan 1, 2001 at 10:00 AM, Bob <\nbob@x.org> wrote:"
    );
    assert_eq!(s.quoted, "theirs\nolder");
    assert_eq!(s.footer, "Bob");
    // A "--" rule in the middle of a long text is not a signature.
    let long = format!("a\n--\n{}", "line\n".repeat(20));
    assert_eq!(split(&long).footer, "");
}

#[test]
fn arbitrary_bytes_never_panic() {
    // A cheap deterministic fuzz: cut and corrupt the golden inputs.
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for e in std::fs::read_dir(DATA).unwrap() {
        let raw = std::fs::read(e.unwrap().path()).unwrap();
        for _ in 0..40 {
            let mut m = raw.clone();
            let cut = (next() as usize) % (m.len() + 1);
            m.truncate(cut);
            for _ in 0..4 {
                if !m.is_empty() {
                    let i = (next() as usize) % m.len();
                    m[i] = next() as u8;
                }
            }
            let _ = extract(&m, &ExtractContext::default());
        }
    }
}

#[test]
fn lenient_header_dates() {
    let date = |d: &str| {
        let doc = doc(&format!("From: a@b.c\nDate: {d}\nSubject: s\n\nx\n"));
        (doc.date, doc.date_source)
    };
    // Y2K-buggy year "0102" means 2002.
    assert_eq!(
        date("Thu, 22 Aug 0102 12:07:35 +0800"),
        (Some(1_029_989_255), DateSource::Header)
    );
    // No zone: taken as UTC.
    assert_eq!(
        date("Fri, 23 Aug 2002 19:27:52"),
        (Some(1_030_130_872), DateSource::Header)
    );
    // asctime.
    assert_eq!(
        date("Fri Aug 23 19:27:52 2002"),
        (Some(1_030_130_872), DateSource::Header)
    );
    // The epoch is a placeholder, not a date.
    assert_eq!(
        date("Thu, 01 Jan 1970 00:00:00 +0000"),
        (None, DateSource::None)
    );
}

#[test]
fn content_hash_bytes_equal_the_word_by_word_definition() {
    // The definition the keys of ID-less messages were made with: each field's
    // words fed to SHA-256 one by one, joined by single spaces, 0x1f after each.
    fn reference(fields: &[&str]) -> String {
        let mut hasher = Sha256::new();
        for s in fields {
            for (i, word) in s.split_whitespace().enumerate() {
                if i > 0 {
                    hasher.update(b" ");
                }
                hasher.update(word.as_bytes());
            }
            hasher.update([0x1f]);
        }
        hex::encode(hasher.finalize())
    }
    let addr = |a: &str| Address {
        name: None,
        addr: Some(a.to_string()),
    };
    let subject = "  Re:\tthe\u{a0}plan \u{3000}";
    let body = "line one\r\n\r\n\x0bline\u{2028}two  \u{85}end\n";
    let quoted = "";
    let from = [addr("a@b.c"), addr(" x y ")];
    let got = content_hash(subject, &from, Some(-42), body, quoted);
    let want = reference(&[subject, "a@b.c", " x y ", "-42", body, quoted]);
    assert_eq!(got, want);
    assert_eq!(
        content_hash("", &[], None, "", ""),
        reference(&["", "", "", ""])
    );
}

/// `push_words` as it was defined: the bytes hashed into content keys must
/// never change.
fn push_words_by_split_whitespace(s: &str) -> Vec<u8> {
    let mut buf = Vec::new();
    for (i, word) in s.split_whitespace().enumerate() {
        if i > 0 {
            buf.push(b' ');
        }
        buf.extend_from_slice(word.as_bytes());
    }
    buf.push(0x1f);
    buf
}

fn pushed_words(s: &str) -> Vec<u8> {
    let mut buf = Vec::new();
    super::push_words(&mut buf, s);
    buf
}

#[test]
fn words_are_pushed_as_split_whitespace_splits_them() {
    for s in [
        "",
        " ",
        "a",
        "  two  words \n",
        "tab\there\r\nand\x0bvt\x0cff",
        "nbsp\u{a0}em\u{2003}ideo\u{3000}nel\u{85}ls\u{2028}end",
        "ünïcödé wörds \u{200b}zero-width\u{200b}is-not-space",
        "\u{1f}\u{0}control\u{7f}bytes",
    ] {
        assert_eq!(pushed_words(s), push_words_by_split_whitespace(s), "{s:?}");
    }
}

proptest::proptest! {
    #[test]
    fn words_are_pushed_as_split_whitespace_splits_any_text(s in "[a-z \\t\\n\\r\\x0b\\x0c\\x00-\\x1f\\x7f\\u{80}-\\u{ff}\\u{1680}\\u{2000}-\\u{200d}\\u{2028}\\u{2029}\\u{202f}\\u{205f}\\u{3000}-\\u{3010}\\u{1600}-\\u{16ff}\\u{600}-\\u{6ff}é😀]{0,40}") {
        proptest::prop_assert_eq!(pushed_words(&s), push_words_by_split_whitespace(&s));
    }
}

#[test]
fn a_persons_mailbox_files_its_mail_under_the_mailbox_whatever_list_id_it_carries() {
    let raw = b"Message-ID: <m1@example.org>\r\nFrom: a@example.org\r\nList-Id: Dev <dev.lists.example.org>\r\nSubject: hi\r\n\r\nbody\r\n";
    let mailbox = mailbox_list("Alice");
    assert_eq!(mailbox, "alice.mailbox.invalid");
    assert!(is_mailbox_list(&mailbox) && !is_mailbox_list(MAILBOX_LIST_SUFFIX));
    let owned = ExtractContext {
        list: Some(&mailbox),
        ..ExtractContext::default()
    };
    assert_eq!(
        extract(raw, &owned).unwrap().list.as_deref(),
        Some("alice.mailbox.invalid")
    );
    // A source's ordinary `list` is only a fallback.
    let fallback = ExtractContext {
        list: Some("other.example.org"),
        ..ExtractContext::default()
    };
    assert_eq!(
        extract(raw, &fallback).unwrap().list.as_deref(),
        Some("dev.lists.example.org")
    );
}
