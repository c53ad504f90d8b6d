//! The red-team findings of issue 23 (items 2, 3, 5 and the low ones) as
//! regression tests against real servers on 127.0.0.1: hostile searches are
//! refused fast and in bounded memory, login floods cannot take the server's
//! memory or lock the owner out, the small doors (Solr, Host, cookies, error
//! bodies, numbers from input) are shut. Memory is the server's peak RSS
//! (`VmHWM`): the tests that measure it run `gleaner serve` as a child process,
//! so other tests running beside them in this process do not count.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use gleaner::access::{Role, Users};
use gleaner::config::HttpConfig;
use gleaner::http::AppState;
use gleaner::index::watermark::{SourceStatus, Watermark};
use gleaner::index::MailIndex;

use crate::common::{self, enc, get, http, http_on, tempdir, HttpResponse, TestServer};

const DEV: &str = "dev.lists.example.org";
const OPS: &str = "ops.lists.example.org";

/// Process `pid`'s peak resident memory, in bytes.
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc/PID/status");
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM");
    kb * 1024
}

/// Peak memory may grow by at most this much during a hostile burst (the
/// findings: +5 GB for one search, +3.4 GB for a login flood).
const MEMORY_BOUND: u64 = 300 << 20;

/// `gleaner serve` in a child process, killed when dropped.
struct Served {
    child: std::process::Child,
    http: SocketAddr,
    solr: SocketAddr,
}

impl Served {
    /// Serves `data` (already indexed) with login on or off and a Solr
    /// endpoint (user `dovecot`, password `s3cret`, bodies up to 1 MiB);
    /// returns once both answer.
    fn start(data: &Path, auth: bool) -> Served {
        Served::start_with(data, auth, "")
    }

    /// Like [`Served::start`], with `extra` appended to the configuration.
    fn start_with(data: &Path, auth: bool, extra: &str) -> Served {
        let free = || {
            std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("free port")
        };
        let (http, solr) = (free(), free());
        let config = data.join("gleaner.toml");
        std::fs::write(
            &config,
            format!(
                "data = {data:?}\n[http]\nlisten = \"{http}\"\nauth = {auth}\n\
                 [solr]\nlisten = \"{solr}\"\nuser = \"dovecot\"\npassword = \"s3cret\"\n\
                 max_body_bytes = 1048576\n{extra}"
            ),
        )
        .expect("config");
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_gleaner"))
            .arg("--config")
            .arg(&config)
            .arg("serve")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start serve");
        let started = Instant::now();
        while [http, solr]
            .iter()
            .any(|a| std::net::TcpStream::connect(a).is_err())
        {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "serve did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Served { child, http, solr }
    }

    fn peak_rss(&self) -> u64 {
        peak_rss(self.child.id())
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A server over `data` with `[http]` settings and a watermark; stopped on drop.
fn start_server(data: &Path, auth: bool, config: &HttpConfig, watermark: Watermark) -> TestServer {
    let index = MailIndex::open(&data.join("index"), true).expect("open index");
    let users = auth.then(|| Users::open(data).expect("users db"));
    let curation =
        gleaner::curate::Curation::open(data, "http://gleaner.test").expect("curation db");
    TestServer::serve(index.clone(), |addr| {
        let config = HttpConfig {
            listen: addr,
            auth,
            ..config.clone()
        };
        AppState::new(
            index,
            users,
            Arc::new(std::sync::RwLock::new(watermark)),
            auth,
        )
        .expect("state")
        .with_http(&config)
        .with_curation(curation)
    })
}

/// A server with login on and one admin, `owner`.
fn owner_server(data: &Path, config: &HttpConfig) -> TestServer {
    users_with_owner(data);
    start_server(data, true, config, Watermark::default())
}

/// One request from source address `from` (any 127.x.y.z works on Linux
/// loopback), so the server sees distinct clients.
fn request_from(
    from: Ipv4Addr,
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> HttpResponse {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let stream = rt.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket
            .bind(SocketAddr::new(IpAddr::V4(from), 0))
            .expect("bind source");
        socket.connect(addr).await.expect("connect")
    });
    let stream = stream.into_std().expect("std stream");
    stream.set_nonblocking(false).expect("blocking");
    http_on(stream, addr, method, path, headers, body)
}

fn login_from(from: Ipv4Addr, addr: SocketAddr, user: &str, password: &str) -> HttpResponse {
    let body = serde_json::json!({"username": user, "password": password}).to_string();
    request_from(
        from,
        addr,
        "POST",
        "/api/login",
        &[("Content-Type", "application/json")],
        body.as_bytes(),
    )
}

fn sample_server(dir: &Path, auth: bool) -> TestServer {
    common::index_paths(dir, &[common::sample()]);
    TestServer::start(dir, auth)
}

// ---------------------------------------------------------------------------
// H2: one search may not take gigabytes or minutes.

#[test]
fn hostile_searches_are_refused_fast_in_bounded_memory() {
    let dir = tempdir();
    common::index_paths(dir.path(), &[common::sample()]);
    let served = Served::start(dir.path(), false);
    let addr = served.http;
    assert_eq!(get(addr, "/api/search?q=the", &[]).status, 200);
    let before = served.peak_rss();
    let started = Instant::now();
    // 5,000 prefixes ORed (30 KB), 12,000 repeated common words, a URL of
    // almost 64 KB (hyper itself answers 414 to longer ones).
    let prefixes = vec!["a*"; 5000].join(" OR ");
    let common_words = vec!["the"; 12_000].join(" ");
    let long = "x".repeat(65_000);
    let url = |q: &str| format!("/api/search?q={}", enc(q).replace("%20", "+"));
    for (q, limit) in [
        (prefixes.as_str(), "max_query_bytes"),
        (common_words.as_str(), "max_query_bytes"),
        (long.as_str(), "max_query_bytes"),
    ] {
        let res = get(addr, &url(q), &[]);
        assert_eq!(res.status, 400, "{}", res.text());
        assert_eq!(res.json()["limit"], limit, "{}", res.text());
        assert!(res.json()["error"]
            .as_str()
            .is_some_and(|e| e.contains(limit)));
    }
    // Under the length limit, the clause limit refuses them just as fast.
    let prefixes = vec!["a*"; 600].join(" OR ");
    let common_words = vec!["the"; 1000].join(" ");
    for q in [&prefixes, &common_words] {
        let res = get(addr, &url(q), &[]);
        assert_eq!(res.status, 400, "{}", res.text());
        assert_eq!(res.json()["limit"], "max_clauses", "{}", res.text());
    }
    let took = started.elapsed();
    let grew = served.peak_rss().saturating_sub(before);
    assert!(took < Duration::from_secs(5), "took {took:?}");
    assert!(grew < MEMORY_BOUND, "peak RSS grew by {grew} bytes");
    // An ordinary search still works.
    let res = get(addr, "/api/search?q=the", &[]);
    assert_eq!(res.status, 200, "{}", res.text());
}

/// The limits are read from `[limits]` and reach the CLI: prefix expansions
/// and the deadline (the server is another process here, so the limits of
/// this test process are not touched).
#[test]
fn limits_from_the_config_bound_prefix_expansions_and_time() {
    let dir = tempdir();
    common::index_paths(dir.path(), &[common::sample()]);
    let config = dir.path().join("gleaner.toml");
    let run = |limits: &str, query: &str| {
        std::fs::write(
            &config,
            format!("data = {:?}\n[limits]\n{limits}\n", dir.path()),
        )
        .expect("config");
        std::process::Command::new(env!("CARGO_BIN_EXE_gleaner"))
            .arg("--config")
            .arg(&config)
            .args(["search", query])
            .output()
            .expect("run gleaner")
    };
    let ok = run("max_expansions = 100000", "a*");
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let refused = run("max_expansions = 3", "a*");
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success());
    assert_ne!(refused.status.code(), Some(101), "a panic: {err}");
    assert!(err.contains("max_expansions"), "{err}");
    let refused = run("max_expansion_postings = 2", "a*");
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("max_expansion_postings"), "{err}");
    let late = run("deadline_ms = 0", "the");
    let err = String::from_utf8_lossy(&late.stderr);
    assert!(!late.status.success());
    assert!(err.contains("deadline_ms"), "{err}");
}

/// Every query path stops at a deadline: with `deadline_ms = 0` the mbox
/// export, a review queue and a Solr search answer `503` naming it (before
/// any mail is sent); with `job_deadline_ms = 0` the long jobs — the CLI's
/// whole queue, an archive run's plan — fail naming theirs, and do not panic.
#[test]
fn every_query_path_stops_at_its_deadline() {
    let dir = tempdir();
    common::index_paths(dir.path(), &[common::sample()]);
    let review = format!("[[review]]\nname = \"old\"\nlists = [\"{OPS}\"]\nolder_than = \"6y\"\n");
    let served = Served::start_with(
        dir.path(),
        false,
        &format!("[limits]\ndeadline_ms = 0\n{review}"),
    );
    for path in ["/api/export.mbox?q=the", "/api/review/queues/old"] {
        let res = get(served.http, path, &[]);
        assert_eq!(res.status, 503, "{path}: {}", res.text());
        assert_eq!(res.json()["limit"], "deadline_ms", "{path}");
    }
    use base64::Engine as _;
    let auth = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("dovecot:s3cret")
    );
    let res = get(
        served.solr,
        "/solr/dovecot/select?q=body:hello&fq=user:u&wt=xml",
        &[("Authorization", &auth)],
    );
    assert_eq!(res.status, 503, "{}", res.text());
    assert!(res.text().contains("deadline_ms"), "{}", res.text());
    drop(served);
    let config = dir.path().join("jobs.toml");
    std::fs::write(
        &config,
        format!(
            "data = {:?}\n[limits]\njob_deadline_ms = 0\n{review}\
             [[retention]]\nname = \"old\"\nlists = [\"{OPS}\"]\narchive_after = \"6y\"\n\
             after_review = \"old\"\n",
            dir.path()
        ),
    )
    .expect("config");
    for args in [
        &["review", "queue", "old"][..],
        &["archive", "run", "--dry-run"][..],
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_gleaner"))
            .arg("--config")
            .arg(&config)
            .args(args)
            .output()
            .expect("run gleaner");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} ran unbounded");
        assert_ne!(out.status.code(), Some(101), "a panic: {err}");
        assert!(err.contains("job_deadline_ms"), "{args:?}: {err}");
    }
}

// Low: numbers from input never panic.
#[test]
fn huge_pages_are_400s_not_panics() {
    let dir = tempdir();
    let server = sample_server(dir.path(), false);
    let res = get(
        server.addr,
        "/api/search?q=the&offset=9223372036854775807",
        &[],
    );
    assert_eq!(res.status, 400, "{}", res.text());
    assert_eq!(res.json()["limit"], "max_offset");
    let res = get(server.addr, "/api/review/queues/none?year=99999999999", &[]);
    assert!(res.status == 400 || res.status == 404, "{}", res.text());
    res.json();
    // Revision numbers at the ends of i64 on a document that exists (the
    // default `from` was `to - 1`, which overflowed).
    let doc = gleaner::curate::Curation::open(dir.path(), "http://gleaner.test")
        .expect("curation")
        .create_document(
            gleaner::curate::DocKind::Procedure,
            "Numbers",
            "owner",
            "Body.",
            "owner",
        )
        .expect("doc");
    for query in [
        "to=-9223372036854775808",
        "from=-9223372036854775808&to=9223372036854775807",
        "to=9223372036854775808",
    ] {
        let path = format!("/api/docs/{}/diff?{query}", doc.id);
        let res = get(server.addr, &path, &[]);
        assert!(
            res.status == 400 || res.status == 404,
            "{path}: {}",
            res.text()
        );
        assert!(res.json()["error"].is_string(), "{path}");
    }
    let path = format!("/api/docs/{}/revisions/-9223372036854775808", doc.id);
    let res = get(server.addr, &path, &[]);
    assert!(
        res.status == 400 || res.status == 404,
        "{path}: {}",
        res.text()
    );
    let out = common::gleaner(
        dir.path(),
        &["search", "--limit", "18446744073709551615", "the"],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert_ne!(out.status.code(), Some(101), "a panic: {err}");
    assert!(err.contains("max_hits"), "{err}");
}

// ---------------------------------------------------------------------------
// H3, M1, M2, M10: logins.

fn users_with_owner(dir: &Path) -> Users {
    common::index_paths(dir, &[common::sample()]);
    let users = Users::open(dir).expect("users");
    users
        .add_user("owner", Role::Admin, "owner pw")
        .expect("owner");
    users
}

#[test]
fn a_login_flood_keeps_memory_bounded_and_the_owner_gets_in() {
    let dir = tempdir();
    users_with_owner(dir.path());
    let served = Served::start(dir.path(), true);
    let addr = served.http;
    assert_eq!(
        login_from(Ipv4Addr::new(127, 0, 3, 2), addr, "owner", "owner pw").status,
        200
    );
    let before = served.peak_rss();
    // 200 parallel logins for a user who does not exist, from 200 addresses.
    let flood: Vec<_> = (0..200u8)
        .map(|i| {
            std::thread::spawn(move || {
                login_from(Ipv4Addr::new(127, 0, 2, i), addr, "ghost", "guess").status
            })
        })
        .collect();
    // The owner, meanwhile, from elsewhere.
    let owner_started = Instant::now();
    let mut owner = login_from(Ipv4Addr::new(127, 0, 3, 1), addr, "owner", "owner pw");
    while owner.status == 503 && owner_started.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(50));
        owner = login_from(Ipv4Addr::new(127, 0, 3, 1), addr, "owner", "owner pw");
    }
    let owner_took = owner_started.elapsed();
    let statuses: Vec<u16> = flood
        .into_iter()
        .map(|t| t.join().expect("thread"))
        .collect();
    let grew = served.peak_rss().saturating_sub(before);
    assert_eq!(owner.status, 200, "owner: {}", owner.text());
    assert!(
        owner_took < Duration::from_secs(10),
        "owner took {owner_took:?}"
    );
    assert!(
        statuses.iter().all(|s| [401, 429, 503].contains(s)),
        "{statuses:?}"
    );
    assert!(
        statuses.iter().any(|s| *s == 503 || *s == 429),
        "every flood request was hashed: {statuses:?}"
    );
    assert!(grew < MEMORY_BOUND, "peak RSS grew by {grew} bytes");
}

#[test]
fn parallel_guesses_get_429s_and_the_owner_elsewhere_still_logs_in() {
    let dir = tempdir();
    let server = owner_server(dir.path(), &HttpConfig::default());
    let addr = server.addr;
    let attacker = Ipv4Addr::new(127, 0, 4, 1);
    let guesses: Vec<_> = (0..40)
        .map(|i| {
            std::thread::spawn(move || {
                let a = login_from(attacker, addr, "owner", &format!("guess {i}"));
                (a.status, a.header("retry-after").map(str::to_string))
            })
        })
        .collect();
    let answers: Vec<(u16, Option<String>)> = guesses
        .into_iter()
        .map(|t| t.join().expect("thread"))
        .collect();
    let wrong = answers.iter().filter(|(s, _)| *s == 401).count();
    let backed_off: Vec<_> = answers.iter().filter(|(s, _)| *s == 429).collect();
    assert!(wrong <= 5, "{wrong} guesses were checked: {answers:?}");
    assert!(!backed_off.is_empty(), "{answers:?}");
    assert!(
        backed_off.iter().all(|(_, r)| r
            .as_deref()
            .and_then(|r| r.parse::<u64>().ok())
            .is_some_and(|r| r >= 1)),
        "{backed_off:?}"
    );
    // Guessing on from that address soon meets the back-off...
    let mut checked = wrong;
    loop {
        let status = login_from(attacker, addr, "owner", "another guess").status;
        if status == 429 {
            break;
        }
        assert_eq!(status, 401);
        checked += 1;
        assert!(checked <= 5, "{checked} guesses checked without a back-off");
    }
    // ...which holds even for the right password from there...
    assert_eq!(login_from(attacker, addr, "owner", "owner pw").status, 429);
    // ...but the owner on another address is not locked out.
    let owner = login_from(Ipv4Addr::new(127, 0, 4, 2), addr, "owner", "owner pw");
    assert_eq!(owner.status, 200, "{}", owner.text());
    // The back-off is in the audit log.
    let set = owner.header("set-cookie").expect("cookie");
    let cookie = set.split(';').next().expect("cookie").to_string();
    let audit = request_from(
        Ipv4Addr::new(127, 0, 4, 2),
        addr,
        "GET",
        "/api/audit?subject=user:owner",
        &[("Cookie", &cookie)],
        b"",
    );
    assert_eq!(audit.status, 200);
    let entries = audit.json()["entries"].clone();
    assert!(
        entries
            .as_array()
            .is_some_and(|e| e.iter().any(|e| e["action"] == "login.backoff")),
        "{entries}"
    );
}

// ---------------------------------------------------------------------------
// Small doors.

#[test]
fn without_login_only_loopback_hosts_are_answered() {
    let dir = tempdir();
    common::index_paths(dir.path(), &[common::sample()]);
    let server = start_server(
        dir.path(),
        false,
        &HttpConfig::default(),
        Watermark::default(),
    );
    let port = server.addr.port();
    for (host, want) in [
        (format!("127.0.0.1:{port}"), 200),
        (format!("localhost:{port}"), 200),
        (format!("[::1]:{port}"), 200),
        (format!("rebound.example:{port}"), 421),
        ("127.0.0.1:1".to_string(), 421),
    ] {
        let res = get(server.addr, "/api/stats", &[("Host", &host)]);
        assert_eq!(res.status, want, "Host: {host}: {}", res.text());
        res.json();
    }
}

#[test]
fn secure_cookies_when_configured_or_behind_an_https_proxy() {
    let dir = tempdir();
    users_with_owner(dir.path());
    let plain = start_server(
        dir.path(),
        true,
        &HttpConfig::default(),
        Watermark::default(),
    );
    let res = login_from(Ipv4Addr::LOCALHOST, plain.addr, "owner", "owner pw");
    assert!(!res.header("set-cookie").expect("cookie").contains("Secure"));
    drop(plain);
    let secure = HttpConfig {
        secure_cookies: true,
        ..HttpConfig::default()
    };
    let server = start_server(dir.path(), true, &secure, Watermark::default());
    let res = login_from(Ipv4Addr::LOCALHOST, server.addr, "owner", "owner pw");
    assert!(res
        .header("set-cookie")
        .expect("cookie")
        .contains("; Secure"));
    drop(server);
    let proxied = HttpConfig {
        trust_proxy_headers: true,
        ..HttpConfig::default()
    };
    let server = start_server(dir.path(), true, &proxied, Watermark::default());
    let body = serde_json::json!({"username": "owner", "password": "owner pw"}).to_string();
    let res = request_from(
        Ipv4Addr::LOCALHOST,
        server.addr,
        "POST",
        "/api/login",
        &[
            ("Content-Type", "application/json"),
            ("X-Forwarded-Proto", "https"),
            ("X-Forwarded-For", "198.51.100.9"),
        ],
        body.as_bytes(),
    );
    assert!(res
        .header("set-cookie")
        .expect("cookie")
        .contains("; Secure"));
}

/// Only the first of two session cookies was read: a browser holding a stale
/// one (another path's, or a session since ended) before the live one was
/// logged out. Now the first that names a live session is used, whether the
/// two come in one `Cookie` header or two; none live is a 401.
#[test]
fn a_stale_session_cookie_before_the_live_one_is_skipped() {
    let dir = tempdir();
    let server = owner_server(dir.path(), &HttpConfig::default());
    let login = || {
        let res = login_from(Ipv4Addr::LOCALHOST, server.addr, "owner", "owner pw");
        res.header("set-cookie")
            .and_then(|c| c.split(';').next())
            .expect("cookie")
            .to_string()
    };
    let (ended, live) = (login(), login());
    let me = |headers: &[(&str, &str)]| get(server.addr, "/api/me", headers);
    // End the first session; its token keeps the real form.
    let logout = http(
        server.addr,
        "POST",
        "/api/logout",
        &[
            ("Cookie", &ended),
            (
                "X-CSRF-Token",
                me(&[("Cookie", &ended)]).json()["csrf_token"]
                    .as_str()
                    .expect("csrf"),
            ),
        ],
        b"",
    );
    assert!(logout.status < 300, "{}", logout.text());
    assert_eq!(me(&[("Cookie", &ended)]).status, 401);
    for headers in [
        vec![("Cookie", format!("gleaner_session=stale0000; {live}"))],
        vec![("Cookie", format!("{ended}; {live}"))],
        vec![("Cookie", format!("{live}; {ended}"))],
        vec![("Cookie", format!("theme=dark; {ended}; other=1; {live}"))],
        vec![("Cookie", ended.clone()), ("Cookie", live.clone())],
    ] {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let res = me(&headers);
        assert_eq!(res.status, 200, "{headers:?}: {}", res.text());
        assert_eq!(res.json()["user"], "owner");
    }
    let none = format!("gleaner_session=stale0000; {ended}");
    assert_eq!(me(&[("Cookie", &none)]).status, 401);
}

#[test]
fn source_paths_and_policy_lists_only_for_whom_they_concern() {
    let dir = tempdir();
    let users = users_with_owner(dir.path());
    users
        .add_user("devrev", Role::Reviewer, "rev pw")
        .expect("reviewer");
    users.grant("devrev", &[DEV.to_string()]).expect("grant");
    let curation =
        gleaner::curate::Curation::open(dir.path(), "http://gleaner.test").expect("curation");
    let policy: gleaner::curate::ReviewPolicy = serde_json::from_value(serde_json::json!({
        "name": "old", "lists": [DEV, OPS], "older_than": "6y"
    }))
    .expect("policy");
    curation.put_policy(&policy, "test").expect("policy");
    let watermark = Watermark {
        sources: vec![SourceStatus {
            path: "/srv/mail/secret-list".into(),
            ..SourceStatus::default()
        }],
        ..Watermark::default()
    };
    let server = start_server(dir.path(), true, &HttpConfig::default(), watermark);
    let cookie = |user: &str, pw: &str| {
        let res = login_from(Ipv4Addr::LOCALHOST, server.addr, user, pw);
        assert_eq!(res.status, 200);
        res.header("set-cookie")
            .and_then(|c| c.split(';').next())
            .expect("cookie")
            .to_string()
    };
    let (admin, reviewer) = (cookie("owner", "owner pw"), cookie("devrev", "rev pw"));
    let stats = |c: &str| get(server.addr, "/api/stats", &[("Cookie", c)]).text();
    assert!(stats(&admin).contains("secret-list"));
    assert!(!stats(&reviewer).contains("secret-list"));
    let policies = |c: &str| get(server.addr, "/api/review/policies", &[("Cookie", c)]).json();
    assert_eq!(
        policies(&admin)["policies"][0]["lists"],
        serde_json::json!([DEV, OPS])
    );
    assert_eq!(
        policies(&reviewer)["policies"][0]["lists"],
        serde_json::json!([DEV])
    );
}

#[test]
fn every_error_body_is_json() {
    let dir = tempdir();
    let server = sample_server(dir.path(), false);
    for (method, path) in [
        ("GET", "/api/search?q=%ZZ&limit=x"),
        ("DELETE", "/api/search?q=a"),
        ("GET", "/no/such/page.js"),
        ("GET", "/api/nothing"),
        ("GET", "/api/docs/none/diff?to=-9223372036854775808"),
    ] {
        let res = http(server.addr, method, path, &[], b"");
        assert!(res.status >= 400, "{method} {path}: {}", res.status);
        assert!(
            res.header("content-type")
                .is_some_and(|t| t.starts_with("application/json")),
            "{method} {path}: {:?} {}",
            res.header("content-type"),
            res.text()
        );
        assert!(res.json()["error"].is_string(), "{method} {path}");
    }
}

// ---------------------------------------------------------------------------
// M7, M8 and the empty credentials: the Solr endpoint.

#[test]
fn the_solr_endpoint_refuses_browsers_and_bounds_bodies() {
    use base64::Engine as _;
    let dir = tempdir();
    let served = Served::start(dir.path(), false);
    let auth = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("dovecot:s3cret")
    );
    let post = |headers: &[(&str, &str)], body: &[u8]| {
        http(served.solr, "POST", "/solr/dovecot/update", headers, body).status
    };
    let add = b"<add><doc><field name=\"uid\">3</field><field name=\"box\">de82</field><field name=\"user\">u</field><field name=\"id\">3/de82/u</field><field name=\"body\">hello</field></doc></add>";
    let xml = [
        ("Authorization", auth.as_str()),
        ("Content-Type", "text/xml"),
    ];
    assert_eq!(post(&[("Content-Type", "text/xml")], add), 401);
    let plain = [
        ("Authorization", auth.as_str()),
        ("Content-Type", "text/plain"),
    ];
    assert_eq!(post(&plain, add), 403);
    let origin = [
        ("Authorization", auth.as_str()),
        ("Content-Type", "text/xml"),
        ("Origin", "https://evil.example"),
    ];
    assert_eq!(post(&origin, add), 403);
    // Nested tags: refused at the depth limit, in bounded memory.
    let before = served.peak_rss();
    let started = Instant::now();
    let mut deep = b"<add>".to_vec();
    deep.extend(b"<a>".repeat(300_000));
    assert_eq!(post(&xml, &deep), 400);
    // A body over max_body_bytes.
    let mut big = b"<add><doc><field name=\"body\">".to_vec();
    big.extend(vec![b'x'; 2 << 20]);
    big.extend(b"</field></doc></add>");
    assert_eq!(post(&xml, &big), 413);
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(served.peak_rss().saturating_sub(before) < MEMORY_BOUND);
    // What Dovecot sends still works.
    assert_eq!(post(&xml, add), 200);
    // Credentials: required unless explicitly off on loopback, never empty.
    let none = gleaner::solr::SolrConfig::default();
    assert!(gleaner::solr::check_listen(&none).is_err());
    let open = gleaner::solr::SolrConfig {
        allow_no_auth: true,
        ..none.clone()
    };
    assert!(gleaner::solr::check_listen(&open).is_ok());
    let public = gleaner::solr::SolrConfig {
        listen: "0.0.0.0:8983".parse().expect("addr"),
        ..open
    };
    assert!(gleaner::solr::check_listen(&public).is_err());
    let empty = gleaner::solr::SolrConfig {
        user: Some(String::new()),
        password: Some(String::new()),
        ..none
    };
    assert!(gleaner::solr::check_listen(&empty).is_err());
}

// ---------------------------------------------------------------------------
// Users: remove, revoke, role, passwd, sessions.

#[test]
fn users_can_be_removed_revoked_demoted_and_their_sessions_ended() {
    let dir = tempdir();
    let users = users_with_owner(dir.path());
    users.add_user("ann", Role::Editor, "ann pw").expect("ann");
    users
        .grant("ann", &[DEV.to_string(), OPS.to_string()])
        .expect("grant");
    let first = users.create_session("ann").expect("session");
    let _second = users.create_session("ann").expect("session");
    assert_eq!(users.sessions_of("ann").expect("list").len(), 2);
    users.revoke("ann", &[OPS.to_string()]).expect("revoke");
    assert_eq!(
        users.user("ann").expect("ann").expect("ann").lists,
        vec![DEV]
    );
    let listed = common::gleaner_ok(dir.path(), &["user", "sessions", "ann", "--json"]);
    let ids: Vec<String> = listed
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("json")["id"].to_string())
        .collect();
    assert_eq!(ids.len(), 2, "{listed}");
    let id = ids[0].trim_matches('"').to_string();
    let out = common::gleaner_ok(dir.path(), &["user", "sessions", "ann", "--end", &id]);
    assert!(out.contains("ended 1"), "{out}");
    assert_eq!(users.sessions_of("ann").expect("list").len(), 1);
    common::gleaner_ok(dir.path(), &["user", "role", "ann", "reader"]);
    assert_eq!(
        users.user("ann").expect("ann").expect("ann").role,
        Role::Reader
    );
    assert!(users.session(&first.token).expect("lookup").is_none());
    assert!(users.sessions_of("ann").expect("list").is_empty());
    users.create_session("ann").expect("session");
    common::gleaner_ok(dir.path(), &["user", "remove", "ann"]);
    assert!(users.user("ann").expect("lookup").is_none());
    assert!(!common::gleaner(dir.path(), &["user", "remove", "ann"])
        .status
        .success());
    let audit = common::gleaner_ok(dir.path(), &["audit", "log", "--json"]);
    for action in [
        "user.revoke",
        "user.sessions.end",
        "user.role",
        "user.remove",
    ] {
        assert!(audit.contains(action), "{action} not audited: {audit}");
    }
}
