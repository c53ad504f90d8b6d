//! The read-only IMAP server (issue 20) with real clients: Python's imaplib
//! (every implemented command), `curl imap://`, `mbsync` (Debian `isync`)
//! and `neomutt` in batch (`tests/imap/neomutt_batch.py`), and Dovecot 2.3
//! as the reference for FETCH answers (`tests/imap/fetch_answers.py`), against `gleaner serve` with `[imap] listen` on 127.0.0.1 port
//! 0 over the sample corpus. Answers are checked against facts taken
//! elsewhere: the Maildir files themselves, `gleaner show --raw`, and the
//! query layer's own search totals.
//!
//! A missing client is a loud skip on a laptop and a failure in CI
//! (`CI=true`).

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common;

mod header;
mod rev2;
mod saved;
mod searchres;
mod shared_uids;
mod status_size;
mod tls;
mod utf8;

const PW: &str = "pw";
const DEV: &str = "dev.lists.example.org";
const OPS: &str = "ops.lists.example.org";

/// A program the test needs, or `None` (skip) — failing in CI.
fn program(name: &str) -> Option<PathBuf> {
    for dir in std::env::var("PATH").unwrap_or_default().split(':') {
        let p = Path::new(dir).join(name);
        if p.is_file() {
            return Some(p);
        }
    }
    let why = format!("{name} is not installed (Debian: see .ci/run PKGS)");
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{why}");
    }
    eprintln!("NOTICE: IMAP client test SKIPPED: {why}");
    None
}

/// A data dir with the sample indexed and users `admin` and `rd` (a
/// reader granted the dev list only).
struct Site {
    dir: tempfile::TempDir,
    /// `[imap] listen_tls` is configured: `serve` prints an imaps address.
    tls: bool,
}

impl Site {
    fn new(extra_config: &str) -> Site {
        Site::with(true, extra_config)
    }

    /// `index_sample`: index the sample first (else `serve` indexes the
    /// configured sources itself).
    fn with(index_sample: bool, extra_config: &str) -> Site {
        Site::build(index_sample, "listen = \"127.0.0.1:0\"\n", extra_config)
    }

    /// `imap`: the `[imap]` section's keys (its `listen` among them).
    fn build(index_sample: bool, imap: &str, extra_config: &str) -> Site {
        let dir = common::tempdir();
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).expect("data dir");
        if index_sample {
            common::gleaner_ok(&data, &["index", common::sample().to_str().expect("utf-8")]);
        }
        add_user(&data, "admin", "admin");
        add_user(&data, "rd", "reader");
        common::gleaner_ok(&data, &["user", "grant", "rd", DEV]);
        let config = format!(
            "data = {data:?}\n[http]\nlisten = \"127.0.0.1:0\"\n[imap]\n{imap}[[imap.folder]]\nname = \"Saved/Deprecations\"\nquery = \"subject:deprecating\"\n{extra_config}"
        );
        std::fs::write(dir.path().join("gleaner.toml"), config).expect("config");
        let tls = imap.contains("listen_tls");
        Site { dir, tls }
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn serve(&self) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_gleaner"))
            .arg("--config")
            .arg(self.dir.path().join("gleaner.toml"))
            .arg("serve")
            .env_remove("GLEANER_DATA")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(self.dir.path().join("serve.log")).expect("serve.log"))
            .spawn()
            .expect("serve");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let mut http_port = 0;
        let port = loop {
            let Some(Ok(line)) = lines.next() else {
                let status = child.wait();
                panic!(
                    "serve ended ({status:?}) before printing its addresses: {}",
                    std::fs::read_to_string(self.dir.path().join("serve.log")).unwrap_or_default()
                );
            };
            if let Some((_, rest)) = line.split_once("gleaner: serving http://") {
                http_port = port_of(rest);
            }
            if let Some((_, rest)) = line.split_once("gleaner: serving imap://") {
                break port_of(rest);
            }
        };
        let tls_port = self.tls.then(|| {
            let line = lines.next().expect("imaps address").expect("line");
            let rest = line.split_once("serving imaps://").expect("imaps line").1;
            port_of(rest)
        });
        std::thread::spawn(move || for _ in lines {});
        Server {
            child,
            port,
            tls_port,
            http_port,
        }
    }
}

fn add_user(data: &Path, name: &str, role: &str) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gleaner"))
        .arg("--data")
        .arg(data)
        .args(["user", "add", name, "--role", role, "--password-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("user add");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(format!("{PW}\n").as_bytes())
        .expect("password");
    assert!(child.wait().expect("wait").success());
}

/// The port of `HOST:PORT/...`.
fn port_of(addr: &str) -> u16 {
    addr.split('/')
        .next()
        .and_then(|a| a.rsplit_once(':'))
        .and_then(|(_, p)| p.parse::<u16>().ok())
        .expect("port")
}

/// `gleaner serve`, killed when dropped.
struct Server {
    child: Child,
    port: u16,
    /// The implicit-TLS port, when configured.
    tls_port: Option<u16>,
    /// The web UI and API.
    http_port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const PRELUDE: &str = r#"
import imaplib, json, sys, base64
port = int(sys.argv[1])
out = {}
def s(x):
    if isinstance(x, bytes): return x.decode('latin-1')
    if isinstance(x, (list, tuple)): return [s(i) for i in x]
    return x
def conn(user='admin', pw='pw'):
    M = imaplib.IMAP4('127.0.0.1', port)
    M.login(user, pw)
    return M
def raw_on(M, enc='latin-1'):
    # raw(text): one command sent as is; its untagged lines and the tagged one.
    n = [0]
    def raw(text):
        n[0] += 1
        tag = 'R%d' % n[0]
        M.send(('%s %s\r\n' % (tag, text)).encode('utf-8'))
        lines = []
        while True:
            line = M._get_line().decode(enc)
            lines.append(line)
            if line.startswith(tag + ' '):
                return lines
    return raw
def bodies(data):
    # FETCH answers as [(b'1 (UID 5 BODY[] {n}', bytes), b')', ...] -> {uid: bytes}
    got, uid = {}, None
    for item in data:
        if isinstance(item, tuple):
            head = item[0].decode('latin-1')
            if 'UID ' in head:
                uid = int(head.split('UID ')[1].split()[0])
            elif head[:1].isdigit():
                uid = int(head.split()[0])
            got.setdefault(uid, []).append(item[1].decode('latin-1'))
    return got
"#;

/// Runs `script` under python3 against `port`; its JSON `out`.
fn python(python: &Path, port: u16, script: &str) -> Value {
    let code = format!("{PRELUDE}\n{script}\nprint(json.dumps(out))\n");
    let res = Command::new(python)
        .arg("-c")
        .arg(code)
        .arg(port.to_string())
        .output()
        .expect("python3");
    assert!(
        res.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&res.stderr)
    );
    serde_json::from_slice(&res.stdout).unwrap_or_else(|e| {
        panic!(
            "python output: {e}: {}",
            String::from_utf8_lossy(&res.stdout)
        )
    })
}

/// The lines a script's `raw()` got for command `k` (`out[k]`).
fn answer(out: &Value, k: &str) -> Vec<String> {
    out[k]
        .as_array()
        .unwrap_or_else(|| panic!("{k}: {out}"))
        .iter()
        .map(|l| l.as_str().unwrap_or("").to_string())
        .collect()
}

fn latin1(v: &Value) -> Vec<u8> {
    v.as_str()
        .expect("string")
        .chars()
        .map(|c| u8::try_from(u32::from(c)).expect("latin-1"))
        .collect()
}

fn crlf(b: &[u8]) -> Vec<u8> {
    gleaner::imap::mime::to_crlf(b)
}

/// The files of one list's Maildir in the sample, CRLF'd: what its
/// mailbox must hold, byte for byte.
fn sample_files(list: &str) -> BTreeSet<Vec<u8>> {
    let short = list.split('.').next().expect("short name");
    let mut out = BTreeSet::new();
    for sub in ["cur", "new"] {
        for e in std::fs::read_dir(common::sample().join(short).join(sub)).expect("maildir") {
            out.insert(crlf(
                &std::fs::read(e.expect("entry").path()).expect("read"),
            ));
        }
    }
    out
}

/// How many messages a query matches as `allowed` sees them (the query
/// layer's own count, independent of the IMAP code).
fn total(data: &Path, query: &str, allowed: Option<Vec<String>>) -> usize {
    let index = gleaner::index::MailIndex::open(&data.join("index"), false).expect("index");
    let req = gleaner::query::Request {
        query: query.into(),
        limit: 1,
        offset: 0,
        sort: gleaner::query::Sort::Date,
        now: 0,
        allowed_lists: allowed,
        marks: None,
    };
    gleaner::query::search(&index, &req).expect("search").total
}

/// The UIDs of `SUBJECT deprecat` in the imaplib test, from its ESEARCH ALL.
fn uids_subject_all(out: &Value) -> BTreeSet<u32> {
    let es = out["esearch"][0].as_str().unwrap_or("");
    let set = es.split(" ALL ").nth(1).unwrap_or("").trim();
    let mut all = BTreeSet::new();
    for part in set.split(',').filter(|p| !p.is_empty()) {
        match part.split_once(':') {
            Some((a, b)) => all.extend(a.parse::<u32>().unwrap()..=b.parse::<u32>().unwrap()),
            None => {
                all.insert(part.parse::<u32>().unwrap());
            }
        }
    }
    all
}

fn numbers(line: &Value) -> BTreeSet<u32> {
    line.as_str()
        .unwrap_or("")
        .split_whitespace()
        .filter_map(|n| n.parse().ok())
        .collect()
}

/// `script` under python3 against `serve` over the indexed sample: its
/// `out` (`None`: python3 missing).
fn on_sample(script: &str) -> Option<Value> {
    let (py, _site, server) = sample_served()?;
    Some(python(&py, server.port, script))
}

/// python3, and `serve` over the indexed sample (`None`: python3 missing).
fn sample_served() -> Option<(PathBuf, Site, Server)> {
    let py = program("python3")?;
    let site = Site::new("");
    let server = site.serve();
    Some((py, site, server))
}

#[test]
fn imaplib_reads_a_list_mailbox_with_every_command() {
    let Some((py, site, server)) = sample_served() else {
        return;
    };
    let out = python(
        &py,
        server.port,
        r#"
M = imaplib.IMAP4('127.0.0.1', port)
out['caps'] = s(list(M.capabilities))
try:
    M.login('admin', 'nope'); out['bad_login'] = 'OK'
except imaplib.IMAP4.error as e:
    out['bad_login'] = str(e)
M.login('admin', 'pw')
typ, dat = M.xatom('ID', 'NIL'); out['id'] = s(M.untagged_responses.pop('ID', None))
typ, dat = M.xatom('ENABLE', 'UTF8=ACCEPT'); out['enable'] = typ
out['namespace'] = s(M.namespace()[1])
out['list'] = s(M.list()[1])
out['lsub'] = s(M.lsub()[1])
typ, dat = M.list('""', '"%" RETURN (STATUS (MESSAGES UIDVALIDITY))')
out['list_status'] = s(M.untagged_responses.pop('STATUS', None))
out['status'] = s(M.status('dev.lists.example.org', '(MESSAGES UIDNEXT UIDVALIDITY UNSEEN)')[1])
typ, dat = M.select('dev.lists.example.org', readonly=True)
out['exists'] = s(dat)
out['examine_ok'] = typ
out['store'] = s(M.store('1', '+FLAGS', '(\\Seen)'))
typ, dat = M.fetch('1:*', '(UID BODY.PEEK[])')
out['bodies'] = bodies(dat)
typ, dat = M.fetch('1:*', '(UID RFC822.SIZE)')
out['sizes'] = s(dat)
typ, dat = M.uid('fetch', '1:*', '(BODY.PEEK[HEADER] BODY.PEEK[TEXT] BODY.PEEK[]<10.20>)')
out['parts'] = bodies(dat)
typ, dat = M.fetch('1:5', '(ENVELOPE BODYSTRUCTURE BODY INTERNALDATE FLAGS)')
out['structure'] = s(dat)
typ, dat = M.fetch('1', '(BINARY.PEEK[1] BINARY.SIZE[1] RFC822.HEADER)')
out['binary'] = s(dat)
def search(*a): return s(M.search(None, *a)[1][0])
def usearch(*a): return s(M.uid('search', None, *a)[1][0])
out['all'] = search('ALL')
out['uid_all'] = usearch('ALL')
out['from'] = search('FROM', 'nathalie')
out['subject'] = search('SUBJECT', 'DEPRECAT')
out['not_subject'] = search('NOT', 'SUBJECT', 'deprecat')
out['or'] = search('OR', 'SUBJECT', 'deprecat', 'FROM', 'nathalie')
out['since'] = search('SINCE', '1-Jul-2010')
out['before'] = search('BEFORE', '1-Jul-2010')
out['sentsince'] = search('SENTSINCE', '1-Jul-2010')
out['sentbefore'] = search('SENTBEFORE', '1-Jul-2010')
out['larger'] = search('LARGER', '3000')
out['smaller'] = search('SMALLER', '3001')
out['seen'] = search('SEEN')
out['unseen'] = search('UNSEEN')
out['seqset'] = search('2:4,7')
out['uidset_subject'] = usearch('UID', '1:400', 'SUBJECT', 'deprecat')
out['body'] = search('BODY', 'relay')
out['gm'] = search('X-GM-RAW', '"subject:deprecating"')
M.uid('search', None, 'RETURN', '(MIN MAX COUNT ALL)', 'SUBJECT', 'deprecat')
out['esearch'] = s(M.untagged_responses.pop('ESEARCH', None))
M.uid('search', None, 'RETURN', '(PARTIAL -1:-3 COUNT)', 'ALL')
out['partial'] = s(M.untagged_responses.pop('ESEARCH', None))
typ, dat = M.uid('fetch', '1:*', '(UID) (PARTIAL 1:2)')
out['fetch_partial'] = s(dat)
out['sort_arrival'] = s(M.sort('(ARRIVAL)', 'UTF-8', 'ALL')[1][0])
out['sort_rev_date'] = s(M.uid('sort', '(REVERSE DATE)', 'UTF-8', 'SUBJECT', 'deprecat')[1][0])
out['sort_subject'] = s(M.sort('(SUBJECT)', 'UTF-8', 'ALL')[1][0])
out['thread'] = s(M.thread('REFERENCES', 'UTF-8', 'ALL')[1][0])
out['uid_thread'] = s(M.uid('thread', 'REFERENCES', 'UTF-8', 'SUBJECT', 'deprecat')[1][0])
out['noop'] = M.noop()[0]
out['unselect'] = M.unselect()[0]
M.select('INBOX', readonly=True)
out['close'] = M.close()[0]
out['logout'] = M.logout()[0]
A = imaplib.IMAP4('127.0.0.1', port)
out['plain'] = s(A.authenticate('PLAIN', lambda _: b'\0admin\0pw')[0])
A.logout()
"#,
    );
    let dev_total = total(&site.data(), &format!("list:{DEV}"), None);
    assert!(dev_total > 100, "{dev_total}");

    let caps: Vec<&str> = out["caps"]
        .as_array()
        .expect("caps")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for c in [
        "IMAP4REV1",
        "IDLE",
        "ESEARCH",
        "X-GM-EXT-1",
        "AUTH=PLAIN",
        "ID",
        "ENABLE",
        "NAMESPACE",
        "UNSELECT",
    ] {
        assert!(caps.contains(&c), "{c} in {caps:?}");
    }
    assert!(
        out["bad_login"]
            .as_str()
            .expect("err")
            .contains("AUTHENTICATIONFAILED"),
        "{}",
        out["bad_login"]
    );
    assert!(out["id"].to_string().contains("gleaner"), "{}", out["id"]);
    assert_eq!(out["enable"], "OK");
    assert!(
        out["namespace"]
            .to_string()
            .contains("((\\\"\\\" \\\"/\\\"))"),
        "{}",
        out["namespace"]
    );

    // One mailbox per list, INBOX, the saved search: nothing else.
    let listed: BTreeSet<String> = out["list"]
        .as_array()
        .expect("list")
        .iter()
        .filter(|l| !l.as_str().unwrap_or("").contains("\\Noselect"))
        .map(|l| {
            l.as_str()
                .expect("line")
                .rsplit(" \"/\" ")
                .next()
                .expect("name")
                .trim_matches('"')
                .to_string()
        })
        .collect();
    let mut expected: BTreeSet<String> = ["INBOX", "Saved/Deprecations"].map(String::from).into();
    for l in ["announce", "dev", "i18n", "ops", "users"] {
        expected.insert(format!("{l}.lists.example.org"));
    }
    assert_eq!(listed, expected);
    // `Saved` is a level above the saved search, not a mailbox.
    assert!(
        out["list"]
            .to_string()
            .contains("(\\\\Noselect \\\\HasChildren) \\\"/\\\" \\\"Saved\\\""),
        "{}",
        out["list"]
    );
    assert_eq!(
        out["lsub"].as_array().map(Vec::len),
        Some(expected.len() + 1)
    );
    // LIST-STATUS: a STATUS line after each selectable mailbox `%` matches.
    let ls = out["list_status"].to_string();
    assert!(
        ls.contains(&format!("\\\"{DEV}\\\" (MESSAGES {dev_total} UIDVALIDITY ")),
        "{ls}"
    );
    assert!(ls.contains("\\\"INBOX\\\" (MESSAGES "), "{ls}");
    assert!(!ls.contains("Saved"), "{ls}");
    let status = out["status"][0].as_str().expect("status");
    assert!(
        status.contains(&format!("MESSAGES {dev_total} ")),
        "{status}"
    );
    assert_eq!(
        out["exists"][0].as_str(),
        Some(dev_total.to_string().as_str())
    );
    assert_eq!(out["examine_ok"], "OK");
    assert!(
        out["store"].to_string().contains("READ-ONLY"),
        "{}",
        out["store"]
    );

    // Every message of the list, byte for byte as its Maildir file (CRLF).
    let bodies = out["bodies"].as_object().expect("bodies");
    assert_eq!(bodies.len(), dev_total);
    let served: BTreeSet<Vec<u8>> = bodies.values().map(|v| latin1(&v[0])).collect();
    assert_eq!(
        served,
        sample_files(DEV),
        "BODY[] of every message = its file"
    );
    // RFC822.SIZE is the size of BODY[].
    let by_uid: BTreeMap<u32, Vec<u8>> = bodies
        .iter()
        .map(|(k, v)| (k.parse().expect("uid"), latin1(&v[0])))
        .collect();
    for line in out["sizes"].as_array().expect("sizes") {
        let l = line.as_str().expect("line");
        let uid: u32 = l
            .split("UID ")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .expect("uid");
        let size: usize = l
            .split("RFC822.SIZE ")
            .nth(1)
            .and_then(|r| r.trim_end_matches(')').parse().ok())
            .expect("size");
        assert_eq!(size, by_uid[&uid].len(), "{l}");
    }
    // HEADER + TEXT = the message; a partial is that slice.
    for (uid, parts) in out["parts"].as_object().expect("parts") {
        let whole = &by_uid[&uid.parse::<u32>().expect("uid")];
        let (h, t, p) = (latin1(&parts[0]), latin1(&parts[1]), latin1(&parts[2]));
        assert_eq!([h, t].concat(), *whole, "uid {uid}");
        assert_eq!(p, whole[10..30.min(whole.len())].to_vec(), "uid {uid}");
    }
    let structure = out["structure"].to_string();
    assert!(
        structure.contains("ENVELOPE (")
            && structure.contains("BODYSTRUCTURE (")
            && structure.contains("INTERNALDATE \\\""),
        "{structure}"
    );
    assert!(
        out["binary"].to_string().contains("BINARY.SIZE[1] "),
        "{}",
        out["binary"]
    );

    // SEARCH: sets that must partition, agree, or match independent counts.
    let all = numbers(&out["all"]);
    assert_eq!(all, (1..=dev_total as u32).collect());
    assert_eq!(numbers(&out["uid_all"]).len(), dev_total);
    let subject = numbers(&out["subject"]);
    let subject_count = bodies
        .values()
        .filter(|b| {
            let text = String::from_utf8_lossy(&latin1(&b[0])).to_string();
            let head = text
                .split("\r\n\r\n")
                .next()
                .unwrap_or("")
                .replace("\r\n ", " ")
                .replace("\r\n\t", " ");
            head.lines().any(|l| {
                l.to_ascii_lowercase().starts_with("subject:")
                    && l.to_ascii_lowercase().contains("deprecat")
            })
        })
        .count();
    assert!(!subject.is_empty());
    assert_eq!(subject.len(), subject_count, "SUBJECT is a substring match");
    let not_subject = numbers(&out["not_subject"]);
    assert!(subject.is_disjoint(&not_subject) && subject.len() + not_subject.len() == dev_total);
    let from = numbers(&out["from"]);
    assert!(!from.is_empty());
    let or: BTreeSet<u32> = subject.union(&from).copied().collect();
    assert_eq!(numbers(&out["or"]), or);
    for (a, b) in [
        ("since", "before"),
        ("sentsince", "sentbefore"),
        ("larger", "smaller"),
    ] {
        let (a, b) = (numbers(&out[a]), numbers(&out[b]));
        assert!(
            a.is_disjoint(&b) && a.len() + b.len() == dev_total && !a.is_empty() && !b.is_empty(),
            "{a:?} {b:?}"
        );
    }
    assert!(numbers(&out["seen"]).is_empty());
    assert_eq!(numbers(&out["unseen"]), all);
    assert_eq!(numbers(&out["seqset"]), [2, 3, 4, 7].into());
    assert!(!numbers(&out["body"]).is_empty());
    assert_eq!(
        numbers(&out["gm"]).len(),
        total(
            &site.data(),
            &format!("list:{DEV} subject:deprecating"),
            None
        ),
        "X-GM-RAW takes a gleaner query"
    );
    // UID SEARCH of a UID range: within it; ESEARCH agrees with SEARCH.
    let uids_subject = numbers(&out["uidset_subject"]);
    assert!(uids_subject.iter().all(|u| *u <= 400));
    let es = out["esearch"][0].as_str().expect("esearch");
    assert!(es.contains(&format!("COUNT {}", subject.len())), "{es}");
    assert!(es.starts_with("(TAG ") && es.contains(" UID MIN "), "{es}");
    // PARTIAL: the last three results of the search, the first two of a fetch.
    let uids_all: Vec<u32> = numbers(&out["uid_all"]).into_iter().collect();
    let last3 = &uids_all[uids_all.len() - 3..];
    let p = out["partial"][0].as_str().expect("partial");
    assert!(
        p.contains(&format!(
            "PARTIAL (-1:-3 {})",
            gleaner::imap::response::compact(last3)
        )) && p.contains(&format!("COUNT {dev_total}")),
        "{p}"
    );
    let fp = out["fetch_partial"].to_string();
    assert!(
        fp.contains(&format!("UID {})", uids_all[0]))
            && fp.contains(&format!("UID {})", uids_all[1])),
        "{fp}"
    );
    assert_eq!(
        out["fetch_partial"].as_array().map(Vec::len),
        Some(2),
        "{fp}"
    );
    // SORT: arrival order is mailbox order (UIDs follow arrival); a
    // permutation for SUBJECT; REVERSE DATE of a search is its hits.
    let seq = |v: &Value| -> Vec<u32> {
        v.as_str()
            .unwrap_or("")
            .split_whitespace()
            .filter_map(|n| n.parse().ok())
            .collect()
    };
    assert_eq!(
        seq(&out["sort_arrival"]),
        (1..=dev_total as u32).collect::<Vec<_>>()
    );
    let mut by_subject = seq(&out["sort_subject"]);
    by_subject.sort_unstable();
    assert_eq!(by_subject, (1..=dev_total as u32).collect::<Vec<_>>());
    let rev: Vec<u32> = seq(&out["sort_rev_date"]);
    assert_eq!(
        rev.iter().copied().collect::<BTreeSet<u32>>(),
        uids_subject_all(&out)
    );
    // THREAD=REFERENCES: every message once; conversations of several
    // messages exist in the sample.
    let thread = out["thread"].as_str().expect("thread");
    let mut in_threads: Vec<u32> = thread
        .replace(['(', ')'], " ")
        .split_whitespace()
        .map(|n| n.parse().expect("number"))
        .collect();
    in_threads.sort_unstable();
    assert_eq!(in_threads, (1..=dev_total as u32).collect::<Vec<_>>());
    assert!(
        thread
            .split(")(")
            .any(|g| g.trim_matches(['(', ')']).contains(' ')),
        "a conversation of several messages: {thread}"
    );
    assert!(thread.matches(")(").count() > 10, "many threads: {thread}");
    let uid_thread: BTreeSet<u32> = out["uid_thread"]
        .as_str()
        .expect("uid thread")
        .replace(['(', ')'], " ")
        .split_whitespace()
        .map(|n| n.parse().expect("uid"))
        .collect();
    assert_eq!(uid_thread, uids_subject_all(&out));
    for k in ["noop", "unselect", "close", "logout", "plain"] {
        assert_eq!(out[k], if k == "logout" { "BYE" } else { "OK" }, "{k}");
    }
}

#[test]
fn a_reader_sees_only_the_lists_granted() {
    let Some((py, site, server)) = sample_served() else {
        return;
    };
    // What the admin sees: the UIDs of dev and of ops (a cross-posted
    // message is in both).
    let admin = python(
        &py,
        server.port,
        r#"
M = conn()
M.select('ops.lists.example.org', readonly=True)
out['ops'] = s(M.uid('search', None, 'ALL')[1][0])
M.select('dev.lists.example.org', readonly=True)
out['dev'] = s(M.uid('search', None, 'ALL')[1][0])
"#,
    );
    let (ops, dev) = (numbers(&admin["ops"]), numbers(&admin["dev"]));
    let ops_only: BTreeSet<u32> = ops.difference(&dev).copied().collect();
    let ops_uid = *ops_only.iter().next().expect("an ops-only message");
    let script = format!(
        r#"
M = conn('rd')
out['list'] = s(M.list()[1])
out['status'] = s(M.status('INBOX', '(MESSAGES)')[1])
out['select_ops'] = s(M.select('ops.lists.example.org', readonly=True))
out['status_ops'] = s(M.status('ops.lists.example.org', '(MESSAGES)'))
M.select('INBOX', readonly=True)
out['inbox'] = s(M.uid('search', None, 'ALL')[1][0])
out['fetch_ops'] = s(M.uid('fetch', '{ops_uid}', '(BODY.PEEK[])')[1])
out['to_ops'] = s(M.uid('search', None, 'TO', 'ops@')[1][0])
out['gm'] = s(M.uid('search', None, 'X-GM-RAW', 'list:ops')[1][0])
M.select('Saved/Deprecations', readonly=True)
out['saved'] = s(M.fetch('1:*', '(BODY.PEEK[HEADER.FIELDS (LIST-ID)])')[1])
"#
    );
    let out = python(&py, server.port, &script);
    let listed = out["list"].to_string();
    assert!(listed.contains(DEV) && listed.contains("INBOX"), "{listed}");
    for other in [
        OPS,
        "users.lists.example.org",
        "announce.lists.example.org",
        "i18n.lists.example.org",
    ] {
        assert!(
            !listed.contains(other),
            "{other} listed for a reader of dev: {listed}"
        );
    }
    let dev_total = total(&site.data(), &format!("list:{DEV}"), Some(vec![DEV.into()]));
    assert_eq!(dev.len(), dev_total);
    assert!(
        out["status"][0]
            .as_str()
            .expect("status")
            .contains(&format!("MESSAGES {dev_total})")),
        "{}",
        out["status"]
    );
    assert!(
        out["select_ops"].to_string().contains("NONEXISTENT"),
        "{}",
        out["select_ops"]
    );
    assert!(
        out["status_ops"].to_string().contains("NONEXISTENT"),
        "{}",
        out["status_ops"]
    );
    // The reader's INBOX is exactly the dev list; no search reaches further.
    assert_eq!(numbers(&out["inbox"]), dev);
    assert_eq!(
        out["fetch_ops"],
        serde_json::json!([null]),
        "an ops message by UID"
    );
    assert!(numbers(&out["to_ops"]).is_subset(&dev), "{out}");
    assert!(numbers(&out["gm"]).is_subset(&dev), "{out}");
    let saved = out["saved"].to_string();
    assert!(saved.contains(DEV), "{saved}");
    assert!(
        !saved.contains(OPS) && !saved.contains("users.lists"),
        "{saved}"
    );
}

#[test]
fn curl_fetches_a_message_byte_for_byte() {
    let Some(curl) = program("curl") else { return };
    let site = Site::new("");
    let server = site.serve();
    let url = format!("imap://admin:{PW}@127.0.0.1:{}/{DEV}", server.port);
    // curl's own custom command lists the UIDs.
    let res = Command::new(&curl)
        .args(["-s", &url, "-X", "UID SEARCH ALL"])
        .output()
        .expect("curl");
    let listed = String::from_utf8_lossy(&res.stdout).to_string();
    let uids: Vec<u32> = listed
        .split_whitespace()
        .filter_map(|n| n.parse().ok())
        .collect();
    assert_eq!(uids.len(), sample_files(DEV).len(), "{listed}");
    let url = format!("{url};UID=");
    let mut seen = 0;
    for uid in uids.iter().step_by(50) {
        let res = Command::new(&curl)
            .arg("-s")
            .arg(format!("{url}{uid}"))
            .output()
            .expect("curl");
        if !res.status.success() || res.stdout.is_empty() {
            continue;
        }
        assert!(
            sample_files(DEV).contains(&res.stdout),
            "UID {uid}: not a dev message byte for byte"
        );
        seen += 1;
    }
    assert_eq!(
        seen,
        uids.iter().step_by(50).count(),
        "curl fetched every one"
    );
    // A wrong password gets nothing.
    let res = Command::new(&curl)
        .arg("-s")
        .arg(format!(
            "imap://admin:bad@127.0.0.1:{}/{DEV};UID=1",
            server.port
        ))
        .output()
        .expect("curl");
    assert!(!res.status.success());
}

#[test]
fn mbsync_pulls_a_list_into_a_maildir_byte_for_byte() {
    let Some(mbsync) = program("mbsync") else {
        return;
    };
    let site = Site::new("");
    let server = site.serve();
    let account = format!("Host 127.0.0.1\nPort {}\nSSLType None\n", server.port);
    mbsync_pulls_dev(&mbsync, &site, &account, "plain");
}

/// Syncs the dev list with mbsync through an `IMAPAccount` with `account`
/// lines (host, port, TLS) into `<site>/<name>`, and checks the Maildir holds the
/// list's files byte for byte.
fn mbsync_pulls_dev(mbsync: &Path, site: &Site, account: &str, name: &str) {
    let local = site.dir.path().join(name);
    std::fs::create_dir_all(&local).expect("dir");
    let rc = site.dir.path().join(format!("mbsyncrc-{name}"));
    std::fs::write(
        &rc,
        format!(
            "IMAPAccount gl\n{account}User admin\nPass {PW}\nAuthMechs LOGIN\n\nIMAPStore gl-far\nAccount gl\n\nMaildirStore gl-near\nPath {}/\nInbox {}/INBOX\n\nChannel gl\nFar :gl-far:{DEV}\nNear :gl-near:dev\nSync Pull\nCreate Near\nSyncState *\n",
            local.display(),
            local.display()
        ),
    )
    .expect("rc");
    let res = Command::new(mbsync)
        .arg("-c")
        .arg(&rc)
        .arg("gl")
        .output()
        .expect("mbsync");
    assert!(
        res.status.success(),
        "mbsync ({name}): {}",
        String::from_utf8_lossy(&res.stderr)
    );
    let mut got = BTreeSet::new();
    for sub in ["cur", "new"] {
        for e in std::fs::read_dir(local.join("dev").join(sub)).expect("maildir") {
            let bytes = std::fs::read(e.expect("entry").path()).expect("read");
            // mbsync adds its own X-TUID header line; and stores LF.
            let text = bytes
                .split_inclusive(|b| *b == b'\n')
                .filter(|l| !l.starts_with(b"X-TUID: "))
                .flatten()
                .copied()
                .collect::<Vec<u8>>();
            got.insert(text);
        }
    }
    let short = common::sample().join("dev");
    let mut want = BTreeSet::new();
    for sub in ["cur", "new"] {
        for e in std::fs::read_dir(short.join(sub)).expect("maildir") {
            want.insert(std::fs::read(e.expect("entry").path()).expect("read"));
        }
    }
    assert_eq!(got.len(), want.len(), "{name}");
    assert!(
        got == want,
        "the synced Maildir ({name}) holds the list's files byte for byte"
    );
}

/// Reads lines until one starts with `prefix` (or the deadline).
fn read_until(r: &mut BufReader<TcpStream>, prefix: &str, deadline: Instant) -> Vec<String> {
    let mut lines = Vec::new();
    while Instant::now() < deadline {
        let mut line = String::new();
        match r.read_line(&mut line) {
            Ok(0) => break,
            Ok(_) => {
                let done = line.starts_with(prefix);
                lines.push(line);
                if done {
                    break;
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => panic!("{e}"),
        }
    }
    lines
}

fn connect(port: u16) -> (TcpStream, BufReader<TcpStream>) {
    let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    let mut r = BufReader::new(s.try_clone().expect("clone"));
    let greeting = read_until(&mut r, "* OK", Instant::now() + Duration::from_secs(10));
    assert!(greeting.concat().contains("gleaner"), "{greeting:?}");
    (s, r)
}

#[test]
fn malformed_input_gets_bad_and_big_input_bye_never_a_crash() {
    let site = Site::new("");
    let server = site.serve();
    let (mut s, mut r) = connect(server.port);
    let soon = || Instant::now() + Duration::from_secs(10);
    s.write_all(b"\x00\xff\xfe garbage ((( \"unterminated\r\n")
        .expect("write");
    let l = read_until(&mut r, "* BAD", soon());
    assert!(l.concat().contains("BAD"), "{l:?}");
    s.write_all(b"a1 LOGIN {2}\r\n").expect("write");
    let l = read_until(&mut r, "+", soon());
    assert!(l.concat().starts_with('+'), "{l:?}");
    s.write_all(b"rd {2+}\r\npw\r\n").expect("write");
    let l = read_until(&mut r, "a1 ", soon());
    assert!(l.concat().contains("a1 OK"), "a literal login: {l:?}");
    s.write_all(b"a2 SELECT INBOX\r\na3 FETCH 1:* (BODY[1.2.3.4.5.6.7.8.9.10.11.12.13.14.15.16.17.18.19.20.21.22.MIME])\r\na4 SEARCH OR OR OR NOT\r\na5 FETCH 1 (BODY[999])\r\n").expect("write");
    let l = read_until(&mut r, "a5 ", soon());
    let text = l.concat();
    assert!(
        text.contains("a3 OK") && text.contains("a4 BAD") && text.contains("a5 OK"),
        "{text}"
    );
    // Too big: BYE and the connection closes; the server lives on.
    s.write_all(format!("a6 LOGIN {{{}}}\r\n", 10_000_000).as_bytes())
        .expect("write");
    let l = read_until(&mut r, "* BYE", soon());
    assert!(l.concat().contains("BYE"), "{l:?}");
    let (mut s2, mut r2) = connect(server.port);
    s2.write_all(b"b1 CAPABILITY\r\n").expect("write");
    assert!(read_until(&mut r2, "b1 ", soon())
        .concat()
        .contains("b1 OK"));
    // Failed logins back off: the sixth wrong password in a row is refused
    // without being checked.
    let mut last = String::new();
    for i in 0..6 {
        s2.write_all(format!("c{i} LOGIN admin wrong\r\n").as_bytes())
            .expect("write");
        last = read_until(&mut r2, &format!("c{i} "), soon()).concat();
    }
    assert!(last.contains("[UNAVAILABLE]"), "{last}");
}

#[test]
fn uids_survive_rebuild_and_idle_reports_new_mail() {
    let Some(py) = program("python3") else { return };
    // The dev list as a live Maildir source that serve tails.
    let tmp = common::tempdir();
    let maildir = tmp.path().join("dev");
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(maildir.join(sub)).expect("dir");
    }
    let mut files: Vec<PathBuf> = ["cur", "new"]
        .iter()
        .flat_map(|s| std::fs::read_dir(common::sample().join("dev").join(s)).expect("dir"))
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    let (held_back, first) = files.split_last().expect("files");
    for f in first {
        std::fs::copy(f, maildir.join("cur").join(f.file_name().expect("name"))).expect("copy");
    }
    let site = Site::with(
        false,
        &format!("[[source]]\nkind = \"maildir\"\npath = {:?}\n", maildir),
    );
    // serve's live indexer indexes the source at start-up.
    let server = site.serve();
    let started = Instant::now();
    loop {
        let n = python(
            &py,
            server.port,
            "M = conn(); out['n'] = s(M.status('INBOX', '(MESSAGES)')[1])",
        );
        if n.to_string()
            .contains(&format!("MESSAGES {})", first.len()))
        {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "start-up indexing: {n}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    let snapshot = r#"
M = conn()
typ, dat = M.select('dev.lists.example.org', readonly=True)
out['uidvalidity'] = s(M.response('UIDVALIDITY')[1])
typ, dat = M.fetch('1:*', '(UID BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])')
out['ids'] = {u: v[0].strip() for u, v in bodies(dat).items()}
"#;
    let before = python(&py, server.port, snapshot);
    let ids = before["ids"].as_object().expect("ids").clone();
    assert_eq!(ids.len(), first.len(), "{before}");

    // IDLE; a new message lands in the Maildir; EXISTS follows.
    let (mut s, mut r) = connect(server.port);
    s.write_all(b"a LOGIN admin pw\r\nb SELECT dev.lists.example.org\r\nc IDLE\r\n")
        .expect("write");
    let l = read_until(&mut r, "+ ", Instant::now() + Duration::from_secs(10));
    assert!(
        l.concat().contains(&format!("* {} EXISTS", first.len())),
        "{l:?}"
    );
    std::fs::copy(
        held_back,
        maildir
            .join("new")
            .join(held_back.file_name().expect("name")),
    )
    .expect("deliver");
    let delivered = Instant::now();
    let l = read_until(
        &mut r,
        &format!("* {} EXISTS", first.len() + 1),
        delivered + Duration::from_secs(30),
    );
    assert!(
        l.concat()
            .contains(&format!("* {} EXISTS", first.len() + 1)),
        "IDLE reported new mail: {l:?}"
    );
    eprintln!(
        "IDLE: EXISTS {:?} after delivery (includes indexing)",
        delivered.elapsed()
    );
    s.write_all(b"DONE\r\nd UID FETCH * (UID)\r\n")
        .expect("write");
    let l = read_until(&mut r, "d ", Instant::now() + Duration::from_secs(10)).concat();
    let max_old: u32 = ids
        .keys()
        .map(|k| k.parse::<u32>().expect("uid"))
        .max()
        .expect("max");
    let new_uid: u32 = l
        .split("UID ")
        .nth(1)
        .and_then(|x| x.split(')').next())
        .and_then(|n| n.trim().parse().ok())
        .expect("uid");
    assert!(new_uid > max_old, "new mail gets a new UID: {l}");
    drop(s);
    drop(server);

    // Rebuild the index from scratch: every message keeps its UID.
    let out = Command::new(env!("CARGO_BIN_EXE_gleaner"))
        .arg("--config")
        .arg(site.dir.path().join("gleaner.toml"))
        .args(["rebuild"])
        .output()
        .expect("rebuild");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let server = site.serve();
    let after = python(&py, server.port, snapshot);
    assert_eq!(after["uidvalidity"], before["uidvalidity"]);
    let after_ids = after["ids"].as_object().expect("ids");
    for (uid, id) in &ids {
        assert_eq!(after_ids.get(uid), Some(id), "UID {uid} after rebuild");
    }
}

/// The literals of a FETCH answer, by item name (`BODY[1] {3}\r\nabc ...`).
fn literals(answer: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut rest = answer;
    while let Some(open) = rest.find(" {").or_else(|| rest.find('{')) {
        let label = rest[..open]
            .trim()
            .trim_start_matches(')')
            .trim()
            .to_string();
        let after = &rest[open..];
        let Some(close) = after.find("}\r\n") else {
            break;
        };
        let n: usize = after[after.find('{').expect("{") + 1..close]
            .parse()
            .expect("length");
        let start = close + 3;
        let text: String = after[start..].chars().take(n).collect();
        let used: usize = after[start..].chars().take(n).map(char::len_utf8).sum();
        out.insert(label, text);
        rest = &after[start + used..];
    }
    out
}

#[test]
fn fetch_answers_equal_dovecots() {
    if !Path::new(crate::dovecot::DOVECOT).exists() {
        let why = "dovecot is not installed (apt-get install dovecot-imapd)";
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{why}: required when CI=true");
        }
        eprintln!("NOTICE: IMAP FETCH comparison with Dovecot SKIPPED: {why}");
        return;
    }
    let Some(py) = program("python3") else { return };
    // The same messages in both: 150 of the sample's dev list, and the
    // MIME torture tests of mail-parser's resources when the shared corpora
    // are here.
    let mut files: Vec<PathBuf> = ["cur", "new"]
        .iter()
        .flat_map(|s| std::fs::read_dir(common::sample().join("dev").join(s)).expect("dir"))
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    files.truncate(150);
    if let Some(shared) = common::shared_corpora() {
        let dir = shared.join("mail-parser-resources/maildir/cur");
        let mut more: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map(|d| d.map(|e| e.expect("entry").path()).collect())
            .unwrap_or_default();
        more.sort();
        assert!(!more.is_empty(), "{} has messages", dir.display());
        files.extend(more);
    }
    let script = common::root().join("tests/imap/fetch_answers.py");
    let answers = |port: u16, user: &str, pass: &str, append: &[PathBuf]| -> Vec<Value> {
        let res = Command::new(&py)
            .arg(&script)
            .args([port.to_string().as_str(), user, pass, "INBOX"])
            .args(append)
            .output()
            .expect("python3");
        assert!(
            res.status.success(),
            "{}",
            String::from_utf8_lossy(&res.stderr)
        );
        serde_json::from_slice::<Value>(&res.stdout)
            .expect("json")
            .as_array()
            .expect("list")
            .clone()
    };
    let dovecot = crate::dovecot::Dovecot::start("http://127.0.0.1:9/solr/none/");
    let theirs = answers(
        dovecot.imap_port,
        crate::dovecot::PLAIN_USER,
        crate::dovecot::PASS,
        &files,
    );
    assert_eq!(theirs.len(), files.len());

    // gleaner serves the same files from a Maildir.
    let tmp = common::tempdir();
    let maildir = tmp.path().join("mail");
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(maildir.join(sub)).expect("dir");
    }
    for (i, f) in files.iter().enumerate() {
        std::fs::copy(f, maildir.join("cur").join(format!("{i}.eml:2,"))).expect("copy");
    }
    let site = Site::with(false, "");
    common::gleaner_ok(&site.data(), &["index", maildir.to_str().expect("utf-8")]);
    let server = site.serve();
    let ours = answers(server.port, "admin", PW, &[]);
    let by_body: BTreeMap<&str, &Value> = ours
        .iter()
        .map(|a| (a["body"].as_str().expect("body"), a))
        .collect();

    let (mut compared, mut differ) = (0, Vec::new());
    for d in &theirs {
        // gleaner keeps one copy of identical messages, and skips what is
        // not mail: compare what both serve (the bytes are the key).
        let Some(g) = by_body.get(d["body"].as_str().expect("body")) else {
            continue;
        };
        compared += 1;
        for item in ["envelope", "bodystructure"] {
            if d[item] != g[item] {
                differ.push(format!(
                    "{item}:\n  dovecot {}\n  gleaner {}",
                    d[item], g[item]
                ));
            }
        }
        let (ds, gs) = (
            literals(d["sections"].as_str().expect("sections")),
            literals(g["sections"].as_str().expect("sections")),
        );
        assert_eq!(ds.keys().collect::<Vec<_>>(), gs.keys().collect::<Vec<_>>());
        for (label, dv) in &ds {
            let gv = &gs[label];
            // Documented Dovecot quirk (docs/IMAP.md): a multipart part ended
            // by its parent's closing delimiter keeps the CRLF before it in
            // BODY[n], though a leaf part's does not.
            let quirk =
                dv.len() == gv.len() + 2 && dv.starts_with(gv.as_str()) && dv.ends_with("\r\n");
            if dv != gv && !quirk {
                differ.push(format!("{label}:\n  dovecot {dv:?}\n  gleaner {gv:?}"));
            }
        }
    }
    assert!(compared >= 150, "compared {compared} messages");
    assert!(
        differ.is_empty(),
        "{} differences:\n{}",
        differ.len(),
        differ.join("\n")
    );
    eprintln!("FETCH answers equal Dovecot's for {compared} messages");
}

#[test]
fn neomutt_searches_with_the_query_language_and_body_patterns() {
    // The driver runs `neomutt` from PATH on a pseudo-terminal.
    if program("neomutt").is_none() {
        return;
    }
    let Some((py, site, server)) = sample_served() else {
        return;
    };
    let dir = site.dir.path();
    let rc = dir.join("muttrc");
    std::fs::write(
        &rc,
        format!(
            "set imap_user = \"admin\"\nset imap_pass = \"{PW}\"\nset folder = \"imap://admin@127.0.0.1:{}/\"\nset spoolfile = \"+{DEV}\"\nset ssl_starttls = no\nset ssl_force_tls = no\nset confirmcreate = no\nset confirmappend = no\nset quit = yes\nset mbox_type = mbox\nset header_cache = \"\"\nset message_cachedir = \"\"\nset move = no\nset mark_old = no\n",
            server.port
        ),
    )
    .expect("muttrc");
    let saved = |pattern: &str, name: &str| -> Vec<String> {
        let out = dir.join(name);
        let res = Command::new(&py)
            .arg(common::root().join("tests/imap/neomutt_batch.py"))
            .arg(&rc)
            .arg(&out)
            .arg(pattern)
            .output()
            .expect("neomutt");
        assert!(
            res.status.success(),
            "{}",
            String::from_utf8_lossy(&res.stderr)
        );
        let mbox = std::fs::read(&out).unwrap_or_default();
        let text = String::from_utf8_lossy(&mbox).to_string();
        let mut messages: Vec<String> = Vec::new();
        // A separator is `From <sender> <asctime>` (a body line may start
        // with "From " too: neomutt does not quote it).
        let separator = |l: &str| {
            l.starts_with("From ")
                && l.split_whitespace().count() >= 7
                && l.trim_end()
                    .rsplit(' ')
                    .next()
                    .is_some_and(|y| y.len() == 4 && y.bytes().all(|b| b.is_ascii_digit()))
        };
        for line in text.split_inclusive('\n') {
            if separator(line) || messages.is_empty() {
                messages.push(String::new());
            }
            if let Some(m) = messages.last_mut() {
                m.push_str(line);
            }
        }
        messages.retain(|m| !m.trim().is_empty());
        messages
    };
    // `=/` is sent as X-GM-RAW: gleaner's query language from the client.
    let by_query = saved("=/ subject:deprecating", "query.mbox");
    assert_eq!(
        by_query.len(),
        total(
            &site.data(),
            &format!("list:{DEV} subject:deprecating"),
            None
        )
    );
    assert!(by_query
        .iter()
        .all(|m| m.to_lowercase().contains("\nsubject:") && m.to_lowercase().contains("deprecat")));
    // `~B` searches whole messages (decoded: a base64 body counts).
    let by_body = saved("~B relay", "body.mbox");
    assert!(!by_body.is_empty());
    for m in &by_body {
        let parsed = mail_parser::MessageParser::default()
            .parse(m.as_bytes())
            .expect("a message");
        let text = (0..parsed.text_body_count())
            .filter_map(|i| parsed.body_text(i))
            .collect::<String>();
        let all = format!("{} {text} {m}", parsed.subject().unwrap_or(""));
        assert!(all.to_lowercase().contains("relay"), "{m}");
    }
}

#[test]
fn a_published_documents_citations_are_a_mailbox_within_grants() {
    let Some(py) = program("python3") else { return };
    let site = Site::new("");
    let data = site.data();
    {
        // A published procedure citing one dev message and one ops message.
        let index = gleaner::index::MailIndex::open(&data.join("index"), false).expect("index");
        let c = gleaner::curate::Curation::open(&data, "http://gleaner.test").expect("curation");
        let doc = c
            .create_document(
                gleaner::curate::DocKind::Procedure,
                "Disk replacement",
                "admin",
                "How we replace disks.",
                "admin",
            )
            .expect("doc");
        let id = doc.id.to_string();
        for m in [common::only_on(&index, DEV), common::only_on(&index, OPS)] {
            let new = gleaner::curate::NewCitation::from_message(&m, None, None).expect("citation");
            c.cite(&id, &new, "admin").expect("cite");
        }
        let update = gleaner::curate::documents::DocUpdate {
            status: Some(gleaner::curate::DocStatus::Published),
            ..Default::default()
        };
        c.save_document(&id, &update, None, "admin")
            .expect("publish");
    }
    let server = site.serve();
    let script = r#"
for user in ['admin', 'rd']:
    M = conn(user)
    out[user + '_list'] = s(M.list('""', 'Documents/*')[1])
    typ, dat = M.select('Documents/procedure/disk-replacement', readonly=True)
    out[user + '_exists'] = s(dat)
    out[user + '_lists'] = s(M.fetch('1:*', '(BODY.PEEK[HEADER.FIELDS (LIST-ID)])')[1])
"#;
    let out = python(&py, server.port, script);
    assert!(
        out["admin_list"]
            .to_string()
            .contains("Documents/procedure/disk-replacement"),
        "{out}"
    );
    assert_eq!(out["admin_exists"], serde_json::json!(["2"]), "{out}");
    assert!(out["admin_lists"].to_string().contains(OPS), "{out}");
    // The reader of dev sees the mailbox with the dev citation only.
    assert_eq!(out["rd_exists"], serde_json::json!(["1"]), "{out}");
    let rd = out["rd_lists"].to_string();
    assert!(rd.contains(DEV) && !rd.contains(OPS), "{rd}");
}
