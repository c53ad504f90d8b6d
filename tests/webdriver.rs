//! The web UI driven in real headless Chromium over WebDriver (Debian's
//! chromium-driver): log in, search, refine by a facet, keyboard navigation
//! (`/`, `j`, `k`, Enter), open a thread, follow a permalink, log out.
//! Screenshots of the main pages go to `target/screenshots/`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use gleaner::access::{Role, Users};
use serde_json::{json, Value};

use crate::common::{self, TestServer};

fn chromedriver() -> Option<PathBuf> {
    let found = ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists());
    if found.is_none() {
        assert!(
            std::env::var("CI").map_or(true, |v| v != "true"),
            "CI=true but chromedriver is not installed (apt-get install chromium-driver)"
        );
        eprintln!("NOTICE: chromedriver not found: the WebDriver test is SKIPPED");
    }
    found
}

struct Driver {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_driver(bin: &PathBuf) -> Driver {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let child = Command::new(bin)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "chromedriver did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    Driver { child, addr }
}

struct Session {
    drv: SocketAddr,
    id: String,
}

/// One WebDriver call. chromedriver keeps connections open, so the answer is
/// read by its Content-Length rather than to the end of the stream.
fn call(drv: SocketAddr, method: &str, path: &str, body: Value) -> Value {
    use std::io::{BufRead, BufReader, Read, Write};
    let text = if body.is_null() {
        String::new()
    } else {
        body.to_string()
    };
    let mut stream = std::net::TcpStream::connect(drv).expect("connect chromedriver");
    stream
        .set_read_timeout(Some(Duration::from_secs(120)))
        .expect("timeout");
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {drv}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
        text.len()
    );
    stream.write_all(req.as_bytes()).expect("send");
    let mut reader = BufReader::new(stream);
    let mut status_line = String::new();
    reader.read_line(&mut status_line).expect("status");
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).expect("header");
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                length = v.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut buf = vec![0u8; length];
    reader.read_exact(&mut buf).expect("body");
    let v: Value = serde_json::from_slice(&buf).unwrap_or(Value::Null);
    assert!(status < 300, "{method} {path}: {status} {v}");
    v["value"].clone()
}

impl Session {
    fn new(drv: SocketAddr, profile: &std::path::Path) -> Session {
        let caps = json!({"capabilities": {"alwaysMatch": {"browserName": "chrome",
            "goog:chromeOptions": {"binary": "/usr/bin/chromium", "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--window-size=1280,900",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run",
                format!("--user-data-dir={}", profile.display())]}}}});
        let v = call(drv, "POST", "/session", caps);
        Session {
            drv,
            id: v["sessionId"].as_str().expect("session id").to_string(),
        }
    }

    fn c(&self, method: &str, path: &str, body: Value) -> Value {
        call(
            self.drv,
            method,
            &format!("/session/{}{path}", self.id),
            body,
        )
    }

    fn go(&self, url: &str) {
        self.c("POST", "/url", json!({"url": url}));
    }

    fn js(&self, script: &str) -> Value {
        self.c(
            "POST",
            "/execute/sync",
            json!({"script": script, "args": []}),
        )
    }

    fn element(&self, css: &str) -> String {
        let v = self.c(
            "POST",
            "/element",
            json!({"using": "css selector", "value": css}),
        );
        v.as_object()
            .and_then(|o| o.values().next())
            .and_then(Value::as_str)
            .expect("element id")
            .to_string()
    }

    fn click(&self, css: &str) {
        let id = self.element(css);
        self.c("POST", &format!("/element/{id}/click"), json!({}));
    }

    fn type_into(&self, css: &str, text: &str) {
        let id = self.element(css);
        self.c(
            "POST",
            &format!("/element/{id}/value"),
            json!({"text": text}),
        );
    }

    fn keys(&self, text: &str) {
        let mut actions = Vec::new();
        for ch in text.chars() {
            actions.push(json!({"type": "keyDown", "value": ch.to_string()}));
            actions.push(json!({"type": "keyUp", "value": ch.to_string()}));
        }
        self.c(
            "POST",
            "/actions",
            json!({"actions": [{"type": "key", "id": "kb", "actions": actions}]}),
        );
    }

    /// Waits until `script` (a JS expression) is truthy; returns its value.
    fn wait(&self, script: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let v = self.js(&format!("return ({script});"));
            if v.as_bool() != Some(false) && !v.is_null() && v != json!(0) && v != json!("") {
                return v;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {script}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn shot(&self, name: &str) {
        let b64 = self.c("GET", "/screenshot", json!(null));
        let dir = common::root().join("target/screenshots");
        let _ = std::fs::create_dir_all(&dir);
        if let Some(s) = b64.as_str() {
            use base64::Engine;
            if let Ok(png) = base64::engine::general_purpose::STANDARD.decode(s) {
                let _ = std::fs::write(dir.join(format!("{name}.png")), png);
            }
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = std::panic::catch_unwind(|| {
            call(
                self.drv,
                "DELETE",
                &format!("/session/{}", self.id),
                Value::Null,
            )
        });
    }
}

#[test]
fn login_search_facet_keyboard_thread_permalink_logout() {
    let Some(bin) = chromedriver() else { return };
    let dir = common::tempdir();
    common::index_paths(dir.path(), &[common::sample()]);
    Users::open(dir.path())
        .expect("users")
        .add_user("alice", Role::Admin, "correct horse")
        .expect("add");
    let server = TestServer::start(dir.path(), true);
    let base = format!("http://{}", server.addr);
    let driver = start_driver(&bin);
    let profile = common::tempdir();
    let s = Session::new(driver.addr, profile.path());

    // Log in.
    s.go(&format!("{base}/login"));
    s.wait("document.querySelector('#login-form')");
    s.type_into("#username", "alice");
    s.type_into("#password", "correct horse");
    s.click("#login-submit");
    s.wait("document.querySelector('#user-name') && document.querySelector('#user-name').textContent.includes('alice')");

    // Search from the box.
    s.type_into("#q", "replication\u{E007}");
    let hits = s.wait("document.querySelectorAll('#results .hit').length");
    assert!(hits.as_u64().unwrap_or(0) >= 3, "{hits}");
    let total = s.wait("document.querySelector('#total').textContent");
    assert!(
        location(&s).contains("q=replication"),
        "the URL reflects the query"
    );
    s.shot("search");

    // Refine by the first list facet: the query gains list:..., the total shrinks or stays.
    s.click("#facets section.facet[data-facet=list] a.facet-value");
    s.wait("document.querySelector('#q').value.includes('list:')");
    let refined = s.wait(&format!(
        "document.querySelector('#total').textContent !== {} && document.querySelector('#total').textContent",
        json!(total)
    ));
    assert_ne!(refined, total);
    assert!(location(&s).contains("list"), "{}", location(&s));
    // Back goes to the unrefined search.
    s.js("history.back(); return 0;");
    s.wait("!document.querySelector('#q').value.includes('list:')");

    // Keyboard: "/" focuses the box, Escape leaves it, j selects, Enter opens.
    s.wait("document.querySelectorAll('#results .hit').length");
    s.keys("/");
    s.wait("document.activeElement && document.activeElement.id === 'q'");
    s.keys("\u{E00C}");
    s.wait("document.activeElement.id !== 'q'");
    s.keys("jj");
    s.wait("document.querySelector('#results .hit.selected')");
    s.keys("k");
    let first_selected = s
        .js("return document.querySelectorAll('#results .hit')[0].classList.contains('selected');");
    assert_eq!(first_selected, json!(true), "k moves the selection back up");
    s.keys("\u{E007}");
    s.wait("location.pathname.startsWith('/m/') && document.querySelector('#message .msg-body')");
    s.shot("message");

    // Its thread.
    s.click("#thread-link");
    s.wait("location.pathname.startsWith('/t/') && document.querySelectorAll('#thread article.tmsg').length");
    s.shot("thread");

    // A permalink opened directly.
    let id = server_first_id(&server);
    s.go(&format!("{base}/m/{}", common::enc(&id)));
    let subject = s.wait(
        "document.querySelector('#message') && document.querySelector('#message').textContent",
    );
    assert!(subject.as_str().is_some_and(|t| !t.is_empty()));

    // Log out: back to the login page, and the API refuses us.
    s.click("#logout-btn");
    s.wait("location.pathname === '/login'");
    let me = s.js("return fetch('/api/me').then(r => r.status);");
    assert_eq!(me, json!(401));
}

fn location(s: &Session) -> String {
    s.js("return decodeURIComponent(location.href);")
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn server_first_id(server: &TestServer) -> String {
    let req = gleaner::query::Request {
        query: "festplatte".into(),
        limit: 1,
        offset: 0,
        sort: gleaner::query::Sort::Relevance,
        now: 0,
        allowed_lists: None,
        marks: None,
    };
    let res = gleaner::query::search(&server.index, &req).expect("search");
    res.hits[0].message.message_id.clone()
}
