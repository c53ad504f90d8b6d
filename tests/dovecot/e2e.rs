//! End to end with a real Dovecot 2.3: gleaner's Solr endpoint runs in this
//! process, a throwaway Dovecot (rootless, 127.0.0.1 only, everything in a
//! temp dir) points `fts_solr` at it, mail is APPENDed over IMAP, and every
//! SEARCH on the FTS user's mailbox must equal the same SEARCH on a user with
//! FTS disabled holding the same mail. Then expunge, rename, delete a
//! mailbox, `doveadm fts rescan` + `doveadm index`, and compare again.
//!
//! Needs `dovecot-imapd` and `dovecot-solr` (Debian). Without them the test
//! is skipped with a notice, except when `CI=true`, where it fails.
//!
//! Self-contained: the Dovecot config template is `dovecot.conf.template`
//! beside this file; the mail is `tests/data/imap/*.eml`.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gleaner::solr::{router, SolrConfig, SolrState};

pub(crate) const DOVECOT: &str = "/usr/sbin/dovecot";
const SOLR_USER: &str = "dovecot";
const SOLR_PASS: &str = "s3cret";
pub(crate) const PASS: &str = "testpass";
/// FTS through gleaner.
const FTS_USER: &str = "testuser";
/// FTS through gleaner too, with other mail (isolation).
const OTHER_USER: &str = "otheruser";
/// No FTS plugin: Dovecot's own search, the reference.
pub(crate) const PLAIN_USER: &str = "plainuser";

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A throwaway Dovecot; stopped (by its master pid) and removed on drop.
pub(crate) struct Dovecot {
    dir: tempfile::TempDir,
    conf: PathBuf,
    pub(crate) imap_port: u16,
    run_as: Option<(u32, u32)>,
}

fn id_of(flag: &str, user: &str) -> String {
    let mut cmd = Command::new("id");
    cmd.arg(flag);
    if !user.is_empty() {
        cmd.arg(user);
    }
    let out = cmd.output().expect("id");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

impl Dovecot {
    pub(crate) fn start(solr_url: &str) -> Dovecot {
        let dir = tempfile::Builder::new()
            .prefix("gleaner-dovecot.")
            .tempdir()
            .expect("tempdir");
        let root = id_of("-u", "") == "0";
        // Dovecot refuses mail access as root: the whole instance runs as nobody then.
        let run_user = if root {
            "nobody".to_string()
        } else {
            id_of("-un", "")
        };
        let (uid, gid) = (id_of("-u", &run_user), id_of("-g", &run_user));
        let group = id_of("-gn", &run_user);
        let imap_port = free_port();
        let d = dir.path();
        for sub in ["run", "state", "log", "mail", "home"] {
            std::fs::create_dir_all(d.join(sub)).expect("mkdir");
        }
        let conf = include_str!("dovecot.conf.template")
            .replace("@TMP@", &d.display().to_string())
            .replace("@IMAP_PORT@", &imap_port.to_string())
            .replace("@SOLR_URL@", solr_url)
            .replace("@FTS_SOLR_OPTS@", "soft_commit=yes batch_size=7")
            .replace("@FTS_AUTOINDEX@", "no")
            .replace("@RUN_USER@", &run_user)
            .replace("@RUN_GROUP@", &group);
        std::fs::write(d.join("dovecot.conf"), conf).expect("conf");
        // user:password:uid:gid:gecos:home:shell:extra (userdb fields)
        let mut passwd = String::new();
        for (user, extra) in [
            (FTS_USER, ""),
            (OTHER_USER, ""),
            (PLAIN_USER, "userdb_mail_plugins=notify"),
        ] {
            let home = d.join("home").join(user);
            std::fs::create_dir_all(&home).expect("home");
            passwd.push_str(&format!(
                "{user}:{{PLAIN}}{PASS}:{uid}:{gid}::{}::{extra}\n",
                home.display()
            ));
        }
        std::fs::write(d.join("passwd"), passwd).expect("passwd");
        let run_as = if root {
            let ok = Command::new("chown")
                .args(["-R", &format!("{uid}:{gid}"), &d.display().to_string()])
                .status()
                .expect("chown");
            assert!(ok.success());
            Some((uid.parse().expect("uid"), gid.parse().expect("gid")))
        } else {
            None
        };
        let dc = Dovecot {
            conf: d.join("dovecot.conf"),
            dir,
            imap_port,
            run_as,
        };
        let st = dc
            .command(&[DOVECOT, "-c", &dc.conf.display().to_string()])
            .status()
            .expect("dovecot");
        assert!(st.success(), "dovecot did not start:\n{}", dc.log_tail());
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", imap_port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "dovecot not listening:\n{}",
                dc.log_tail()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        dc
    }

    /// `argv` as the instance's account (setpriv when we are root).
    fn command(&self, argv: &[&str]) -> Command {
        match self.run_as {
            Some((uid, gid)) => {
                let mut c = Command::new("setpriv");
                c.arg(format!("--reuid={uid}"))
                    .arg(format!("--regid={gid}"))
                    .arg("--clear-groups")
                    .arg("--")
                    .arg("env")
                    .arg(format!("HOME={}", self.dir.path().display()))
                    .args(argv);
                c
            }
            None => {
                let mut c = Command::new(argv[0]);
                c.args(&argv[1..]);
                c
            }
        }
    }

    fn doveadm(&self, args: &[&str]) {
        let conf = self.conf.display().to_string();
        let mut argv = vec!["doveadm", "-c", &conf];
        argv.extend_from_slice(args);
        let out = self.command(&argv).output().expect("doveadm");
        assert!(
            out.status.success(),
            "doveadm {args:?} failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            self.log_tail()
        );
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("log/dovecot.log")).unwrap_or_default()
    }

    fn log_tail(&self) -> String {
        let log = self.log();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    fn login(&self, user: &str) -> Imap {
        Imap::login(self.imap_port, user)
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("---- dovecot.log (tail) ----\n{}\n----", self.log_tail());
        }
        let pid_file = self.dir.path().join("run/master.pid");
        let Ok(pid) = std::fs::read_to_string(&pid_file) else {
            return;
        };
        let pid = pid.trim().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        for _ in 0..100 {
            let alive = Command::new("kill")
                .args(["-0", &pid])
                .output()
                .map(|o| o.status.success());
            if !matches!(alive, Ok(true)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = Command::new("kill").args(["-KILL", &pid]).status();
    }
}

/// A minimal IMAP4rev1 client: enough for LOGIN, SELECT, APPEND, UID SEARCH.
struct Imap {
    r: BufReader<TcpStream>,
    w: TcpStream,
    tag: u32,
}

/// A search-key argument: an atom, or a string sent quoted or as a literal.
enum Arg<'a> {
    Atom(&'a str),
    Str(&'a str),
}

impl Imap {
    fn login(port: u16, user: &str) -> Imap {
        let s = TcpStream::connect(("127.0.0.1", port)).expect("connect imap");
        s.set_read_timeout(Some(Duration::from_secs(120)))
            .expect("timeout");
        let mut imap = Imap {
            r: BufReader::new(s.try_clone().expect("clone")),
            w: s,
            tag: 0,
        };
        let greeting = imap.line();
        assert!(greeting.starts_with("* OK"), "{greeting}");
        imap.ok(&format!("LOGIN {user} {PASS}"));
        imap
    }

    fn line(&mut self) -> String {
        let mut l = String::new();
        self.r.read_line(&mut l).expect("read imap");
        assert!(!l.is_empty(), "imap connection closed");
        l.trim_end().to_string()
    }

    /// Sends raw bytes that form one command (with its tag) and returns the untagged lines.
    fn run(&mut self, parts: &[Vec<u8>]) -> Vec<String> {
        self.tag += 1;
        let tag = format!("g{}", self.tag);
        let mut cmd = format!("{tag} ").into_bytes();
        for p in parts {
            cmd.extend_from_slice(p);
        }
        cmd.extend_from_slice(b"\r\n");
        self.w.write_all(&cmd).expect("write imap");
        let mut untagged = Vec::new();
        loop {
            let l = self.line();
            if let Some(rest) = l.strip_prefix(&format!("{tag} ")) {
                assert!(
                    rest.starts_with("OK"),
                    "{} -> {l}",
                    String::from_utf8_lossy(&cmd)
                );
                return untagged;
            }
            untagged.push(l);
        }
    }

    fn ok(&mut self, cmd: &str) -> Vec<String> {
        self.run(&[cmd.as_bytes().to_vec()])
    }

    fn append(&mut self, mailbox: &str, msg: &[u8]) {
        let mut parts = vec![format!("APPEND {mailbox} {{{}+}}\r\n", msg.len()).into_bytes()];
        parts.push(msg.to_vec());
        self.run(&parts);
    }

    /// `UID SEARCH [CHARSET UTF-8] keys`: the UIDs, sorted.
    fn search(&mut self, keys: &[Arg<'_>]) -> Vec<u32> {
        let utf8 = keys
            .iter()
            .any(|k| matches!(k, Arg::Str(s) if !s.is_ascii()));
        let mut parts = vec![b"UID SEARCH".to_vec()];
        if utf8 {
            parts.push(b" CHARSET UTF-8".to_vec());
        }
        for k in keys {
            match k {
                Arg::Atom(")") => parts.push(b")".to_vec()),
                Arg::Atom(a) if parts.last().is_some_and(|p| p.ends_with(b"(")) => {
                    parts.push(a.as_bytes().to_vec())
                }
                Arg::Atom(a) => parts.push(format!(" {a}").into_bytes()),
                Arg::Str(s) if s.is_ascii() && !s.contains(['"', '\\']) => {
                    parts.push(format!(" \"{s}\"").into_bytes())
                }
                Arg::Str(s) => {
                    parts.push(format!(" {{{}+}}\r\n", s.len()).into_bytes());
                    parts.push(s.as_bytes().to_vec());
                }
            }
        }
        let lines = self.run(&parts);
        let mut uids: Vec<u32> = lines
            .iter()
            .filter_map(|l| l.strip_prefix("* SEARCH"))
            .flat_map(|rest| {
                rest.split_whitespace()
                    .map(|n| n.parse::<u32>().expect("uid"))
            })
            .collect();
        uids.sort_unstable();
        uids
    }
}

/// Parses a search line written like IMAP (`OR BODY x "y z"`) into args:
/// words and parentheses are atoms, except the string after a key that takes one.
fn keys(spec: &str) -> Vec<Arg<'_>> {
    let mut out = Vec::new();
    let mut rest = spec.trim();
    let mut want_str = 0u8;
    while !rest.is_empty() {
        let (tok, next, quoted) = if let Some(r) = rest.strip_prefix('"') {
            let end = r.find('"').expect("closing quote");
            (&r[..end], &r[end + 1..], true)
        } else if rest.starts_with(['(', ')']) {
            (&rest[..1], &rest[1..], false)
        } else {
            let end = rest.find([' ', '(', ')']).unwrap_or(rest.len());
            (&rest[..end], &rest[end..], false)
        };
        if want_str > 0 || quoted {
            out.push(Arg::Str(tok));
            want_str = want_str.saturating_sub(1);
        } else {
            out.push(Arg::Atom(tok));
            want_str = match tok.to_ascii_uppercase().as_str() {
                "BODY" | "TEXT" | "SUBJECT" | "FROM" | "TO" | "CC" | "BCC" => 1,
                "HEADER" => 2,
                _ => 0,
            };
        }
        rest = next.trim_start();
    }
    out
}

/// The searches compared (FTS user vs Dovecot's own search).
const SEARCHES: &[&str] = &[
    "BODY spreadsheet",
    "BODY budget",
    "BODY noodle",
    "BODY kumquat",
    "BODY approved",
    "BODY maildir",
    "BODY threading",
    "BODY emacs",
    "BODY wrote",
    "BODY Makefile",
    "BODY keithp",
    "BODY \"review the spreadsheet\"",
    "BODY \"budget was approved\"",
    "BODY München",
    "BODY Straße",
    "BODY 全文検索",
    "BODY related",
    "BODY relating",
    "BODY nosuchwordanywhere",
    // Inside longer words, as Dovecot's own substring search finds them.
    "BODY relat",
    "BODY preadshe",
    "BODY udget",
    "BODY \"get was appro\"",
    "TEXT oodle",
    "TEXT \"dle pla\"",
    "TEXT budget",
    "TEXT noodle",
    "TEXT zebra",
    "TEXT cworth",
    "TEXT xapian",
    "TEXT unread",
    "TEXT \"noodle place\"",
    "SUBJECT upd",
    "SUBJECT budget",
    "SUBJECT Re:",
    "SUBJECT notmuch",
    "SUBJECT PATCH",
    "SUBJECT \"[notmuch] [PATCH]\"",
    "SUBJECT Café",
    "SUBJECT réunion",
    "SUBJECT \"budget meeting\"",
    "SUBJECT \"\"",
    "FROM smith",
    "FROM alice",
    "FROM example.org",
    "FROM \"Alice Example\"",
    "FROM cworth",
    "FROM \"Carl Worth\"",
    "FROM keithp.com",
    "FROM Jürgen",
    "FROM juergen",
    "TO example.org",
    "TO bob",
    "TO notmuch",
    "TO notmuchmail.org",
    "CC dave",
    "CC Çelik",
    "CC example.com",
    "BCC eve",
    "HEADER X-Custom zebra",
    "HEADER Subject budget",
    "HEADER From alice",
    "OR BODY spreadsheet SUBJECT lunch",
    "OR FROM alice NOT BODY budget",
    "OR BODY noodle NOT FROM cworth",
    "NOT BODY budget",
    "NOT SUBJECT notmuch",
    "BODY budget NOT SUBJECT Re",
    "OR (BODY spreadsheet BODY budget) (FROM cworth NOT BODY threading)",
    "NOT (OR FROM alice BODY maildir)",
    "OR OR FROM alice FROM smith FROM keithp",
    "UID 1:10 BODY wrote",
    "UID 20:* TEXT emacs",
    "SEEN BODY budget",
    "UNSEEN FROM cworth",
    "FLAGGED OR BODY noodle SUBJECT notmuch",
];

fn load_mail() -> Vec<Vec<u8>> {
    let dir = manifest_dir().join("tests/data/imap");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/data/imap")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|p| {
            let raw = std::fs::read(p).expect("read mail");
            // IMAP wants CRLF line ends.
            let mut out = Vec::with_capacity(raw.len() + 64);
            for (i, &b) in raw.iter().enumerate() {
                if b == b'\n' && (i == 0 || raw[i - 1] != b'\r') {
                    out.push(b'\r');
                }
                out.push(b);
            }
            out
        })
        .collect()
}

/// Runs every search on both users and returns the mismatches.
fn compare(
    fts: &mut Imap,
    plain: &mut Imap,
    mailbox: &str,
    report: &mut Vec<String>,
) -> Vec<String> {
    fts.ok(&format!("SELECT {mailbox}"));
    plain.ok(&format!("SELECT {mailbox}"));
    let mut bad = Vec::new();
    for spec in SEARCHES {
        let a = fts.search(&keys(spec));
        let b = plain.search(&keys(spec));
        report.push(format!("{mailbox}: {spec} -> {a:?}"));
        if a != b {
            bad.push(format!("{mailbox}: {spec}: fts {a:?} != dovecot {b:?}"));
        }
    }
    bad
}

async fn start_endpoint(data: &Path) -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    let cfg = SolrConfig {
        listen: "127.0.0.1:0".parse().expect("addr"),
        user: Some(SOLR_USER.into()),
        password: Some(SOLR_PASS.into()),
        core: Some("dovecot".into()),
        ..SolrConfig::default()
    };
    let state = SolrState::open(data, &cfg).expect("open solr state");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen2 = Arc::clone(&seen);
    let app = router(state).layer(axum::middleware::from_fn(
        move |req: axum::extract::Request, next: axum::middleware::Next| {
            let seen = Arc::clone(&seen2);
            async move {
                let line = format!("{} {}", req.method(), req.uri());
                let resp = next.run(req).await;
                if let Ok(mut s) = seen.lock() {
                    s.push(format!("{line} -> {}", resp.status()));
                }
                resp
            }
        },
    ));
    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (addr, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dovecot_searches_match_dovecot_without_fts() {
    if !Path::new(DOVECOT).exists() {
        let msg = "dovecot is not installed (apt-get install dovecot-imapd dovecot-solr)";
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("{msg}: required when CI=true");
        }
        eprintln!("\n******** SKIPPED dovecot end-to-end test: {msg} ********\n");
        return;
    }
    let data = tempfile::tempdir().expect("data dir");
    let (addr, seen) = start_endpoint(data.path()).await;
    let url = format!("http://{SOLR_USER}:{SOLR_PASS}@{addr}/solr/dovecot/");
    let seen_for_report = Arc::clone(&seen);
    let result = tokio::task::spawn_blocking(move || scenario(&url)).await;
    let requests = seen_for_report
        .lock()
        .map(|s| s.clone())
        .unwrap_or_default();
    let selects = requests.iter().filter(|r| r.starts_with("GET")).count();
    let updates = requests.iter().filter(|r| r.starts_with("POST")).count();
    eprintln!("endpoint saw {selects} selects and {updates} updates");
    if let Ok(path) = std::env::var("GLEANER_E2E_REPORT") {
        let _ = std::fs::write(path, requests.join("\n"));
    }
    match result {
        Ok(()) => {}
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
    assert!(
        selects >= SEARCHES.len(),
        "Dovecot hardly asked us: {selects} selects"
    );
    let failed: Vec<&String> = requests.iter().filter(|r| !r.ends_with("200 OK")).collect();
    assert!(
        failed.is_empty(),
        "requests we refused or failed:\n{failed:#?}"
    );
    let leaked: Vec<&String> = requests.iter().filter(|r| r.contains(PLAIN_USER)).collect();
    assert!(
        leaked.is_empty(),
        "FTS was not disabled for {PLAIN_USER}: {leaked:#?}"
    );
}

fn scenario(url: &str) {
    let mails = load_mail();
    assert!(mails.len() >= 30);
    let dc = Dovecot::start(url);
    let mut report = Vec::new();
    let mut fts = dc.login(FTS_USER);
    let mut plain = dc.login(PLAIN_USER);
    let mut other = dc.login(OTHER_USER);
    for m in &mails {
        fts.append("INBOX", m);
        plain.append("INBOX", m);
    }
    let secret = b"From: Zed <zed@example.com>\r\nTo: otheruser@example.com\r\nSubject: private budget\r\n\r\nxylophonequartz budget spreadsheet\r\n";
    for m in mails.iter().take(5) {
        other.append("INBOX", m);
    }
    other.append("INBOX", secret);
    for c in [&mut fts, &mut plain] {
        c.ok("SELECT INBOX");
        c.ok("UID STORE 1:10 +FLAGS (\\Seen)");
        c.ok("UID STORE 3,31,33 +FLAGS (\\Flagged)");
    }
    dc.doveadm(&["index", "-u", FTS_USER, "INBOX"]);
    dc.doveadm(&["index", "-u", OTHER_USER, "INBOX"]);
    dc.doveadm(&["index", "-u", PLAIN_USER, "INBOX"]);

    let mut bad = compare(&mut fts, &mut plain, "INBOX", &mut report);

    // Isolation: the same uids exist for both FTS users; neither sees the other's mail.
    other.ok("SELECT INBOX");
    assert_eq!(other.search(&keys("BODY xylophonequartz")), vec![6]);
    assert_eq!(other.search(&keys("BODY spreadsheet")), vec![6]);
    fts.ok("SELECT INBOX");
    assert_eq!(fts.search(&keys("BODY xylophonequartz")), Vec::<u32>::new());
    assert_eq!(fts.search(&keys("FROM zed")), Vec::<u32>::new());

    // A second mailbox, then expunge, rename and delete.
    for c in [&mut fts, &mut plain] {
        c.ok("CREATE Archive");
        for m in mails.iter().rev().take(8) {
            c.append("Archive", m);
        }
    }
    dc.doveadm(&["index", "-u", FTS_USER, "Archive"]);
    bad.extend(compare(&mut fts, &mut plain, "Archive", &mut report));
    for c in [&mut fts, &mut plain] {
        c.ok("SELECT INBOX");
        c.ok("UID STORE 2,5,31,35 +FLAGS (\\Deleted)");
        c.ok("EXPUNGE");
    }
    bad.extend(compare(&mut fts, &mut plain, "INBOX", &mut report));
    for c in [&mut fts, &mut plain] {
        c.ok("SELECT INBOX");
        c.ok("RENAME Archive Archive2");
    }
    bad.extend(compare(&mut fts, &mut plain, "Archive2", &mut report));
    for c in [&mut fts, &mut plain] {
        c.ok("SELECT INBOX");
        c.ok("DELETE Archive2");
    }
    dc.doveadm(&["fts", "rescan", "-u", FTS_USER]);
    dc.doveadm(&["index", "-u", FTS_USER, "INBOX"]);
    bad.extend(compare(&mut fts, &mut plain, "INBOX", &mut report));

    if let Ok(path) = std::env::var("GLEANER_E2E_SEARCHES") {
        let _ = std::fs::write(path, report.join("\n"));
    }
    let log = dc.log();
    let failed: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("fts_solr") && l.contains("failed"))
        .collect();
    assert!(
        bad.is_empty(),
        "{} mismatches:\n{}",
        bad.len(),
        bad.join("\n")
    );
    assert!(
        failed.is_empty(),
        "Dovecot reported fts_solr failures:\n{}",
        failed.join("\n")
    );
}
