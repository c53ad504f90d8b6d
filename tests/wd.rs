//! A small WebDriver client for the browser tests: a real headless Chromium
//! driven through chromedriver (Debian's chromium-driver).
//!
//! Without chromedriver/Chromium a test prints a loud notice and passes,
//! except when `CI=true`, where it fails.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common;

pub const CHROMIUM: &str = "/usr/bin/chromium";

/// chromedriver (when Chromium is installed too), or a loud skip (a failure
/// under `CI=true`) naming the test that is skipped.
pub fn browser() -> Option<PathBuf> {
    let driver = ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists());
    let found = driver.filter(|_| Path::new(CHROMIUM).exists());
    if found.is_none() {
        assert!(
            std::env::var("CI").map_or(true, |v| v != "true"),
            "CI=true but chromedriver or chromium is missing (apt-get install chromium chromium-driver)"
        );
        // The test harness names each test's thread after the test.
        let thread = std::thread::current();
        let test = thread.name().unwrap_or("browser");
        eprintln!("\n************************************************************");
        eprintln!("NOTICE: chromedriver/chromium not found: the {test} test is SKIPPED");
        eprintln!("        (apt-get install chromium chromium-driver)");
        eprintln!("************************************************************\n");
    }
    found
}

/// A running chromedriver, killed on drop.
pub struct Driver {
    child: Child,
    pub addr: SocketAddr,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts chromedriver on a free port and waits until it listens.
pub fn start_driver(bin: &Path) -> Driver {
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

/// One WebDriver call. chromedriver keeps connections open, so the answer is
/// read by its Content-Length rather than to the end of the stream.
pub fn call(drv: SocketAddr, method: &str, path: &str, body: &Value) -> Value {
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

/// A browser session with its own chromedriver and Chromium profile. On drop
/// the session is deleted first, then chromedriver is stopped and the
/// profile removed (fields drop after `Drop::drop`, in this order).
pub struct Session {
    drv: SocketAddr,
    id: String,
    /// Names the screenshot taken when a [`Session::wait`] times out.
    name: String,
    /// How long [`Session::wait`] waits.
    wait_timeout: Duration,
    _driver: Driver,
    _profile: tempfile::TempDir,
}

impl Session {
    /// Starts chromedriver (`bin`, from [`browser`]) and a headless Chromium
    /// session on a fresh profile. `name` prefixes the screenshot taken when
    /// `wait` gives up after `wait_timeout`.
    pub fn new(bin: &Path, name: &str, wait_timeout: Duration) -> Session {
        let driver = start_driver(bin);
        let drv = driver.addr;
        let profile = common::tempdir();
        let caps = json!({"capabilities": {"alwaysMatch": {"browserName": "chrome",
            "goog:chromeOptions": {"binary": CHROMIUM, "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--window-size=1280,900",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                format!("--user-data-dir={}", profile.path().display())]}}}});
        let v = call(drv, "POST", "/session", &caps);
        Session {
            drv,
            id: v["sessionId"].as_str().expect("session id").to_string(),
            name: name.to_string(),
            wait_timeout,
            _driver: driver,
            _profile: profile,
        }
    }

    /// A call on this session: `path` is relative to `/session/{id}`.
    pub fn c(&self, method: &str, path: &str, body: Value) -> Value {
        call(
            self.drv,
            method,
            &format!("/session/{}{path}", self.id),
            &body,
        )
    }

    pub fn go(&self, url: &str) {
        self.c("POST", "/url", json!({"url": url}));
    }

    /// The current URL, as WebDriver reports it.
    pub fn url(&self) -> String {
        self.c("GET", "/url", Value::Null)
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    pub fn js(&self, script: &str) -> Value {
        self.c(
            "POST",
            "/execute/sync",
            json!({"script": script, "args": []}),
        )
    }

    /// The JS expression's value as a string (`String(...)`).
    pub fn text(&self, script: &str) -> String {
        self.js(&format!("return String({script});"))
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    pub fn element(&self, css: &str) -> String {
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

    pub fn click(&self, css: &str) {
        let id = self.element(css);
        self.c("POST", &format!("/element/{id}/click"), json!({}));
    }

    pub fn type_into(&self, css: &str, text: &str) {
        let id = self.element(css);
        self.c(
            "POST",
            &format!("/element/{id}/value"),
            json!({"text": text}),
        );
    }

    /// Presses keys (WebDriver key codes such as `\u{E007}` for Enter) on whatever has focus.
    pub fn keys(&self, text: &str) {
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

    /// Opens the login page at `url` (`…/login`, perhaps with `?next=`) and
    /// submits `user` and `password`; does not wait for the answer.
    pub fn submit_login(&self, url: &str, user: &str, password: &str) {
        self.go(url);
        self.wait("document.querySelector('#login-form')");
        self.type_into("#username", user);
        self.type_into("#password", password);
        self.click("#login-submit");
    }

    /// Waits until the JS expression is truthy; returns its value. On timeout
    /// it takes a screenshot and panics with the start of the page's text.
    pub fn wait(&self, script: &str) -> Value {
        let deadline = Instant::now() + self.wait_timeout;
        loop {
            // A page still loading may lack the elements the script reads:
            // its error counts as "not yet", like a false answer.
            let v = self.js(&format!(
                "try {{ return ({script}); }} catch (e) {{ return null; }}"
            ));
            if v.as_bool() != Some(false) && !v.is_null() && v != json!(0) && v != json!("") {
                return v;
            }
            if Instant::now() >= deadline {
                let shot = format!("{}-timeout", self.name);
                self.shot(&shot);
                let page = self.text(
                    "(document.querySelector('main') || document.body || {innerText: ''}).innerText.slice(0, 1500)",
                );
                panic!("timed out waiting for {script}\npage (screenshot in target/screenshots/{shot}.png):\n{page}");
            }
            std::thread::sleep(Duration::from_millis(40));
        }
    }

    /// A screenshot to `target/screenshots/{name}.png`, best effort.
    pub fn shot(&self, name: &str) {
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
                &Value::Null,
            )
        });
    }
}
