//! Shared helpers: temp dirs, the binary, the sample corpus, the shared corpora.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use gleaner::extract::{self, ExtractContext, MailDoc};
use gleaner::index::ingest::{self, IngestOptions, IngestReport};
use gleaner::index::writer::Writer;
use gleaner::index::MailIndex;
use gleaner::store::{self, ScanOptions};

/// A fresh temporary directory, removed when dropped.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("gleaner-test-")
        .tempdir()
        .expect("temp dir")
}

/// The project directory.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The committed sample corpus.
pub fn sample() -> PathBuf {
    root().join("corpus/sample")
}

/// `../shared/corpora`, when present (tests that use it print a notice and return otherwise).
pub fn shared_corpora() -> Option<PathBuf> {
    let p = std::env::var_os("GLEANER_CORPORA")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("../shared/corpora"));
    if p.is_dir() {
        Some(p)
    } else {
        eprintln!(
            "NOTICE: {} is absent; tests on the shared corpora are skipped",
            p.display()
        );
        None
    }
}

/// A real list archive of the shared corpora (`lists/<name>`), or a loud
/// skip (a failure under `CI=true`).
pub fn shared_list(name: &str) -> Option<PathBuf> {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    let path = shared_corpora().map(|c| c.join("lists").join(name));
    match path {
        Some(p) if p.is_file() => Some(p),
        _ if ci => panic!("CI: the shared list archive {name} is missing"),
        _ => {
            eprintln!("NOTICE: shared list archive {name} is absent; test skipped");
            None
        }
    }
}

/// The message files of a shared corpus's Maildir (`<name>/maildir/cur`), sorted.
pub fn shared_maildir_files(corpora: &Path, name: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpora.join(name).join("maildir/cur"))
        .expect("shared Maildir")
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    files
}

/// Runs the gleaner binary with `--config config` and `args` (the
/// environment's `GLEANER_DATA` left out).
pub fn gleaner_config(config: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gleaner"))
        .arg("--config")
        .arg(config)
        .args(args)
        .env_remove("GLEANER_DATA")
        .output()
        .expect("run gleaner")
}

/// Stdout of a successful [`gleaner_config`] (panics with its output otherwise).
pub fn gleaner_config_ok(config: &Path, args: &[&str]) -> String {
    let out = gleaner_config(config, args);
    assert!(
        out.status.success(),
        "gleaner {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// Runs the gleaner binary with `--data data` and `args`.
pub fn gleaner(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gleaner"))
        .arg("--data")
        .arg(data)
        .args(args)
        .output()
        .expect("run gleaner")
}

/// Stdout of a successful run (panics with stderr otherwise).
pub fn gleaner_ok(data: &Path, args: &[&str]) -> String {
    let out = gleaner(data, args);
    assert!(
        out.status.success(),
        "gleaner {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// Indexes `paths` in-process into `data/index`.
pub fn index_paths(data: &Path, paths: &[PathBuf]) -> (MailIndex, IngestReport) {
    let index = MailIndex::open(&data.join("index"), true).expect("open index");
    let mut sources = Vec::new();
    for p in paths {
        sources.extend(ingest::discover(p, None).expect("discover"));
    }
    let mut writer = Writer::new(&index, 1).expect("writer");
    let report =
        ingest::ingest(&mut writer, &sources, &IngestOptions::default(), &|_| {}).expect("ingest");
    writer.finish().expect("finish");
    index.reader.reload().expect("reload");
    (index, report)
}

/// Every message of `paths`, extracted independently of the index.
pub fn extract_all(paths: &[PathBuf]) -> Vec<MailDoc> {
    let mut docs = Vec::new();
    for p in paths {
        for source in ingest::discover(p, None).expect("discover") {
            let scan =
                store::scan(&source.path, source.kind, &ScanOptions::default()).expect("scan");
            for raw in scan.flatten() {
                let ctx = ExtractContext {
                    list: source.list.as_deref(),
                    envelope: raw.envelope.as_deref(),
                    pipermail: store::pipermail::is_pipermail_message(&raw),
                };
                if let Ok(doc) = extract::extract(&raw.bytes, &ctx) {
                    docs.push(doc);
                }
            }
        }
    }
    docs
}

/// Every document in the index as "message-id content-hash", sorted, with
/// repeats if a message were indexed twice. (Keys are not compared: which of two
/// different messages sharing a Message-ID keeps it as key depends on order.)
pub fn all_keys(index: &MailIndex) -> Vec<String> {
    use tantivy::collector::DocSetCollector;
    use tantivy::query::AllQuery;
    use tantivy::schema::Value;
    let searcher = index.reader.searcher();
    let addrs = searcher
        .search(&AllQuery, &DocSetCollector)
        .expect("all docs");
    let mut keys = Vec::new();
    for a in addrs {
        let d: tantivy::TantivyDocument = searcher.doc(a).expect("doc");
        let field = |f| {
            d.get_first(f)
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default()
        };
        // The Message-ID is the key (`<id>`), or stored beside a `sha256:` key when
        // another message holds it as key; which of two messages sharing an ID
        // holds it depends on indexing order (docs/ARCHITECTURE.md), so the
        // identity is (Message-ID, content hash) whichever way it is stored.
        let id = gleaner::index::doc::message_id_of(&index.fields, &d);
        keys.push(format!("{id} {}", field(index.fields.content_hash)));
    }
    keys.sort();
    keys
}

/// The identity of a message across index and brute force: its Message-ID, else its raw hash.
pub fn identity(message_id: &str, key: &str) -> String {
    if message_id.is_empty() {
        key.to_string()
    } else {
        message_id.to_string()
    }
}

/// A tiny deterministic PRNG (xorshift) for randomised tests.
pub struct Rng(pub u64);

impl Rng {
    /// Next value.
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A value in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

// ---------------------------------------------------------------------------
// A real gleaner HTTP server on 127.0.0.1:0, and a minimal HTTP/1.1 client.

/// An HTTP answer.
#[derive(Debug)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// Headers in order, names lowercased.
    pub headers: Vec<(String, String)>,
    /// The body (de-chunked).
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON (panics if it is not).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = data.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size_text = String::from_utf8_lossy(&data[..eol]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .expect("chunk size");
        data = &data[eol + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

/// Sends one request (`Connection: close`) and reads the whole answer.
pub fn http(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> HttpResponse {
    let stream = std::net::TcpStream::connect(addr).expect("connect");
    http_on(stream, addr, method, path, headers, body)
}

/// Like [`http`], on a connection the caller made (say, from a chosen source
/// address). A `Host` among `headers` replaces the default (`addr`).
pub fn http_on(
    mut stream: std::net::TcpStream,
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> HttpResponse {
    use std::io::{Read, Write};
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(60)))
        .expect("timeout");
    let mut req = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        req.push_str(&format!("Host: {addr}\r\n"));
    }
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() || method != "GET" {
        req.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    req.push_str("\r\n");
    stream.write_all(req.as_bytes()).expect("send");
    stream.write_all(body).expect("send body");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of headers");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().expect("status line");
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status code");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let rest = &raw[split + 4..];
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
    let body = if chunked {
        dechunk(rest)
    } else {
        rest.to_vec()
    };
    HttpResponse {
        status,
        headers,
        body,
    }
}

/// `GET path` with optional extra headers.
pub fn get(addr: std::net::SocketAddr, path: &str, headers: &[(&str, &str)]) -> HttpResponse {
    http(addr, "GET", path, headers, b"")
}

/// Percent-encodes a query-string value or path segment (like `encodeURIComponent`).
pub fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A gleaner server running in a background thread; stopped when dropped.
pub struct TestServer {
    /// Where it listens.
    pub addr: std::net::SocketAddr,
    /// The index it serves.
    pub index: MailIndex,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TestServer {
    /// Serves `data` (already indexed) with or without auth.
    pub fn start(data: &Path, auth: bool) -> TestServer {
        let index = MailIndex::open(&data.join("index"), false).expect("open index");
        let users = auth.then(|| gleaner::access::Users::open(data).expect("users db"));
        let curation =
            gleaner::curate::Curation::open(data, "http://gleaner.test").expect("curation db");
        let state = gleaner::http::AppState::new(index.clone(), users, Default::default(), auth)
            .expect("state")
            .with_curation(curation);
        TestServer::serve(index, |_| state)
    }

    /// Serves the state `build` makes for the address it is given (127.0.0.1 and
    /// a free port); `index` is what the state serves.
    pub fn serve(
        index: MailIndex,
        build: impl FnOnce(std::net::SocketAddr) -> gleaner::http::AppState,
    ) -> TestServer {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("addr");
        let state = build(addr);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                gleaner::http::serve(listener, state, async {
                    let _ = stopped.await;
                })
                .await
                .expect("serve");
            });
        });
        TestServer {
            addr,
            index,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// Logs `user` in; returns (cookie header value, csrf token).
    pub fn login(&self, user: &str, password: &str) -> (String, String) {
        let cookie = login_cookie(self.addr, user, password);
        let me = get(self.addr, "/api/me", &[("Cookie", &cookie)]);
        assert_eq!(me.status, 200);
        let csrf = me.json()["csrf_token"].as_str().expect("csrf").to_string();
        (cookie, csrf)
    }
}

/// Logs `user` in at the server on `addr`; the session cookie (`name=value`).
pub fn login_cookie(addr: std::net::SocketAddr, user: &str, password: &str) -> String {
    let body = serde_json::json!({"username": user, "password": password}).to_string();
    let res = http(
        addr,
        "POST",
        "/api/login",
        &[("Content-Type", "application/json")],
        body.as_bytes(),
    );
    assert_eq!(res.status, 200, "login {user}: {}", res.text());
    let set = res.header("set-cookie").expect("set-cookie");
    set.split(';').next().expect("cookie").to_string()
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// One message's header block, unfolded: (lowercased name, value).
pub fn header_fields(head: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in head.lines() {
        let line = line.trim_end_matches('\r');
        if line.starts_with([' ', '\t']) {
            if let Some(last) = out.last_mut() {
                last.1.push(' ');
                last.1.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            out.push((name.trim().to_lowercase(), value.trim().to_string()));
        }
    }
    out
}

/// The oldest message of `list` that is on no other list.
pub fn only_on(index: &MailIndex, list: &str) -> gleaner::index::doc::StoredMessage {
    let req = gleaner::query::Request {
        query: format!("list:{list}"),
        limit: 50,
        offset: 0,
        sort: gleaner::query::Sort::Oldest,
        now: gleaner::db::now(),
        allowed_lists: None,
        marks: None,
    };
    gleaner::query::search(index, &req)
        .expect("search")
        .hits
        .into_iter()
        .map(|h| h.message)
        .find(|m| m.lists == [list] && !m.message_id.is_empty() && !m.subject.is_empty())
        .expect("a message of one list")
}

/// The test venv's interpreter (`$GLEANER_VENV_PYTHON`, else
/// `~/.cache/gleaner-venv/bin/python`, which .ci/run makes) if it can
/// `import {modules}`; else `None` with a loud notice — or a panic under
/// `CI=true`, where a missing peer must fail the test. `package` is what to
/// `pip install`.
pub fn venv_python(modules: &str, package: &str) -> Option<PathBuf> {
    let python = std::env::var_os("GLEANER_VENV_PYTHON")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .map(|h| PathBuf::from(h).join(".cache/gleaner-venv/bin/python"))
        })?;
    let works = Command::new(&python)
        .args(["-c", &format!("import {modules}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if works {
        return Some(python);
    }
    let why = format!(
        "{} cannot import {modules}: create the venv with `python3 -m venv ~/.cache/gleaner-venv && ~/.cache/gleaner-venv/bin/pip install {package}` (or set GLEANER_VENV_PYTHON)",
        python.display()
    );
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{why}");
    }
    eprintln!("NOTICE: SKIPPING a test that needs {package}: {why}");
    None
}

/// A request for a review queue by a viewer of `allowed` (`None`: every
/// list), now, within a long job's budget.
pub fn asked(allowed: Option<&[String]>) -> gleaner::curate::Asked<'_> {
    use gleaner::query::limits::{Budget, Limits};
    static BUDGET: std::sync::LazyLock<std::sync::Arc<Budget>> =
        std::sync::LazyLock::new(|| std::sync::Arc::new(Budget::for_job(Limits::default())));
    gleaner::curate::Asked {
        allowed,
        now: gleaner::db::now(),
        budget: &BUDGET,
    }
}

/// Copies the directory tree `from` to `to`.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            copy_dir(&p, &to.join(e.file_name()));
        } else {
            std::fs::copy(&p, to.join(e.file_name())).unwrap();
        }
    }
}

/// `gleaner ARGS --listen 127.0.0.1:0` (a `serve`) as a process, at the
/// address it prints; killed (SIGKILL) when dropped.
pub struct Served {
    /// The process.
    pub child: std::process::Child,
    /// Where it serves HTTP.
    pub addr: std::net::SocketAddr,
}

impl Served {
    /// Starts it and reads the address from its first line.
    pub fn start(args: &[&str]) -> Served {
        use std::io::BufRead;
        let mut child = Command::new(env!("CARGO_BIN_EXE_gleaner"))
            .args(args)
            .args(["--listen", "127.0.0.1:0"])
            .env_remove("GLEANER_DATA")
            .env_remove("GLEANER_CONFIG")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("serve");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .expect("first line");
        let addr = line
            .trim()
            .trim_start_matches("gleaner: serving http://")
            .trim_end_matches('/')
            .parse()
            .unwrap_or_else(|e| panic!("address in {line:?}: {e}"));
        Served { child, addr }
    }

    /// `kill -9`, and waits for it.
    pub fn kill9(&mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("wait");
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
