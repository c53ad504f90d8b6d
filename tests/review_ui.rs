//! The curation web UI in real headless Chromium over WebDriver: a review
//! queue triaged from the keyboard (j/k, d, r, u, x, n, p with the "cite
//! into" dialog), the "all done" state, a document created and edited through
//! the UI (with a revision diff), a message's "Cited in" after citing a
//! selected passage, and a reader who gets neither the Review link nor the
//! queues. Every decision is checked against the curation database by the
//! thread ids read from the DOM before the keys were pressed.
//!
//! Without chromedriver/Chromium the test prints a loud notice and passes,
//! except when `CI=true`, where it fails.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use gleaner::access::{Role, Users};
use gleaner::curate::{Curation, Decision, ReviewPolicy};
use serde_json::{json, Value};

use crate::common::{self, TestServer};

const CHROMIUM: &str = "/usr/bin/chromium";

/// chromedriver and Chromium, or a loud skip (a failure under `CI=true`).
fn browser() -> Option<PathBuf> {
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
        eprintln!("\n************************************************************");
        eprintln!("NOTICE: chromedriver/chromium not found: the review UI test is SKIPPED");
        eprintln!("        (apt-get install chromium chromium-driver)");
        eprintln!("************************************************************\n");
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

fn start_driver(bin: &Path) -> Driver {
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

/// One WebDriver call, the answer read by its Content-Length.
fn call(drv: SocketAddr, method: &str, path: &str, body: &Value) -> Value {
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

struct Session {
    drv: SocketAddr,
    id: String,
}

impl Session {
    fn new(drv: SocketAddr, profile: &Path) -> Session {
        let caps = json!({"capabilities": {"alwaysMatch": {"browserName": "chrome",
            "goog:chromeOptions": {"binary": CHROMIUM, "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--window-size=1280,900",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                format!("--user-data-dir={}", profile.display())]}}}});
        let v = call(drv, "POST", "/session", &caps);
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
            &body,
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

    /// Presses keys (WebDriver key codes such as `\u{E007}` for Enter) on whatever has focus.
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

    /// Waits until the JS expression is truthy; returns its value.
    fn wait(&self, script: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let v = self.js(&format!("return ({script});"));
            if v.as_bool() != Some(false) && !v.is_null() && v != json!(0) && v != json!("") {
                return v;
            }
            if Instant::now() >= deadline {
                self.shot("review-ui-timeout");
                let page = self.text("document.querySelector('main').innerText.slice(0, 1500)");
                panic!("timed out waiting for {script}\npage (screenshot in target/screenshots/review-ui-timeout.png):\n{page}");
            }
            std::thread::sleep(Duration::from_millis(40));
        }
    }

    fn text(&self, script: &str) -> String {
        self.js(&format!("return String({script});"))
            .as_str()
            .unwrap_or_default()
            .to_string()
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

    fn login(&self, base: &str, user: &str, password: &str) {
        self.go(&format!("{base}/login"));
        self.wait("document.querySelector('#login-form')");
        self.type_into("#username", user);
        self.type_into("#password", password);
        self.click("#login-submit");
        self.wait(&format!(
            "document.querySelector('#user-name') && document.querySelector('#user-name').textContent.includes({})",
            json!(user)
        ));
    }

    // The review queue's state, as a test reads it.

    fn current(&self) -> String {
        self.text("(document.querySelector('li.queue-item.current[aria-current=true]') || {dataset: {}}).dataset.threadId")
    }

    fn queue_ids(&self) -> Vec<String> {
        let v = self.js("return Array.from(document.querySelectorAll('li.queue-item')).map(li => li.dataset.threadId);");
        v.as_array()
            .expect("ids")
            .iter()
            .map(|x| x.as_str().expect("id").to_string())
            .collect()
    }

    fn wait_current(&self, id: &str) {
        self.wait(&format!(
            "(document.querySelector('li.queue-item.current') || {{dataset: {{}}}}).dataset.threadId === {}",
            json!(id)
        ));
    }

    fn wait_done(&self, n: usize) {
        self.wait(&format!(
            "document.querySelector('#queue-progress').dataset.done === '{n}'"
        ));
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

fn policy(name: &str, query: Option<String>) -> ReviewPolicy {
    ReviewPolicy {
        name: name.into(),
        lists: vec![],
        older_than: "6y".into(),
        age_basis: Default::default(),
        query,
        origin: "ui".into(),
    }
}

/// The decisions of a queue as (thread, decision, note, by), sorted.
fn decisions(c: &Curation, queue: &str) -> Vec<(String, Decision, String, String)> {
    let mut v: Vec<_> = c
        .decisions(queue)
        .expect("decisions")
        .into_iter()
        .map(|(t, r)| (t, r.decision, r.note, r.by))
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

const DOWN: &str = "\u{E015}";
const ENTER: &str = "\u{E007}";

#[test]
fn review_queue_by_keyboard_documents_and_cited_in() {
    let Some(bin) = browser() else { return };
    let dir = common::tempdir();
    common::index_paths(dir.path(), &[common::sample()]);
    let users = Users::open(dir.path()).expect("users");
    users
        .add_user("rita", Role::Editor, "rita pw")
        .expect("editor");
    users
        .add_user("rob", Role::Reader, "rob pw")
        .expect("reader");
    // Non-admins see only the lists granted to them: every list of corpus/sample.
    let lists: Vec<String> = ["announce", "dev", "i18n", "ops", "users"]
        .iter()
        .map(|l| format!("{l}.lists.example.org"))
        .collect();
    users.grant("rita", &lists).expect("grant");
    users.grant("rob", &lists).expect("grant");
    let curation = Curation::open(dir.path(), "http://gleaner.test").expect("curation");
    curation
        .put_policy(&policy("old", None), "test")
        .expect("policy");
    let server = TestServer::start(dir.path(), true);
    let base = format!("http://{}", server.addr);
    let driver = start_driver(&bin);
    let profile = common::tempdir();
    let s = Session::new(driver.addr, profile.path());

    // An editor sees all three sections.
    s.login(&base, "rita", "rita pw");
    s.wait("!document.querySelector('#nav-review').hidden");
    assert_eq!(
        s.js("return !document.querySelector('#nav-docs').hidden;"),
        json!(true)
    );

    // A document created and edited through the UI.
    s.click("#nav-docs");
    s.wait("document.querySelector('#new-doc-form')");
    s.type_into("#new-doc-title", "Disk full runbook");
    s.click("#new-doc-submit");
    s.wait("location.search === '?edit=1' && document.querySelector('#doc-edit-body')");
    let doc_id = s.text("document.querySelector('#doc').dataset.docId");
    s.type_into("#doc-edit-body", "Check df -h first.\n");
    s.click("#doc-save");
    s.wait("document.querySelector('#doc-status').textContent.includes('Saved as revision 2')");
    s.wait("document.querySelector('#doc-html').textContent.includes('Check df -h first.')");
    let doc = curation.document(&doc_id).expect("document");
    assert_eq!(
        (doc.title.as_str(), doc.body.as_str(), doc.revision),
        ("Disk full runbook", "Check df -h first.\n", 2)
    );
    // Its history shows the change as an added line.
    s.click("#doc-history summary");
    s.wait("document.querySelector('#doc-diff-lines .dl.add')");
    assert!(s
        .text("document.querySelector('#doc-diff-lines .dl.add').textContent")
        .contains("Check df -h first."));

    // The queue, keyboard driven. Ids are read before any key is pressed.
    s.click("#nav-review");
    s.wait("document.querySelector('.policy-card[data-policy=old] .bar-row')");
    s.click(".policy-card[data-policy=old] a.policy-link");
    s.wait("document.querySelectorAll('li.queue-item').length >= 10");
    let total: usize = s
        .text("document.querySelector('#queue-progress').dataset.total")
        .parse()
        .expect("total");
    assert!(total >= 10, "{total}");
    let ids = s.queue_ids();
    assert_eq!(s.current(), ids[0], "the best candidate is current");
    s.wait("document.querySelector('#queue-preview .msg-body')");
    assert!(
        s.js("return document.querySelectorAll('#qd-explain tr').length;")
            .as_u64()
            .unwrap_or(0)
            >= 1,
        "the current item's explanation is shown"
    );
    s.shot("review-queue");

    s.keys("jj");
    s.wait_current(&ids[2]);
    s.keys("d");
    s.wait_done(1);
    s.wait_current(&ids[3]);
    assert!(
        !s.queue_ids().contains(&ids[2]),
        "a decided thread leaves the list"
    );
    s.keys("j");
    s.wait_current(&ids[4]);
    s.keys("r");
    s.wait_done(2);
    s.wait_current(&ids[5]);
    s.keys("u");
    s.wait_done(1);
    s.wait_current(&ids[4]); // the undone thread is back, and current
    assert_eq!(
        decisions(&curation, "old"),
        vec![(
            ids[2].clone(),
            Decision::Dismiss,
            String::new(),
            "rita".into()
        )]
    );

    // A note (typed letters are not shortcuts), then promote into the document.
    s.keys("j");
    s.wait_current(&ids[5]);
    s.keys("n");
    s.wait("document.activeElement.id === 'review-note'");
    s.keys("dup report");
    s.keys(ENTER);
    s.wait("document.activeElement.id === 'queue-list'");
    s.keys("p");
    s.wait("document.querySelector('#promote-dialog').open");
    s.shot("review-promote");
    s.keys(DOWN); // "no document" -> the runbook
    s.keys(ENTER);
    s.wait_done(2);
    s.wait("document.querySelector('#review-status').textContent.includes('cited in')");
    s.wait_current(&ids[6]);
    assert_eq!(
        s.text("document.querySelector('#promote-doc').value"),
        doc_id,
        "the choice is remembered beside the queue"
    );

    // A selection of two dismissed as one batch, and undone as one.
    s.keys("xjx");
    s.wait("document.querySelectorAll('li.queue-item.selected').length === 2");
    s.keys("d");
    s.wait_done(4);
    s.keys("u");
    s.wait_done(2);
    s.wait_current(&ids[6]);
    assert_eq!(s.queue_ids().len(), ids.len() - 2);

    assert_eq!(
        decisions(&curation, "old"),
        {
            let mut want = vec![
                (
                    ids[2].clone(),
                    Decision::Dismiss,
                    String::new(),
                    "rita".into(),
                ),
                (
                    ids[5].clone(),
                    Decision::Promote,
                    "dup report".into(),
                    "rita".into(),
                ),
            ];
            want.sort_by(|a, b| a.0.cmp(&b.0));
            want
        },
        "exactly the dismissed and the promoted thread are decided; the undone ones are not"
    );
    assert_eq!(
        s.text("document.querySelector('#queue-progress').dataset.done"),
        "2"
    );
    let cites = curation.citations(&doc_id).expect("citations");
    assert_eq!(cites.len(), 1, "{cites:?}");
    assert_eq!(cites[0].cited.thread_id, ids[5]);

    // The promoted thread's first message now says where it is cited.
    let cited_mid = cites[0].cited.message_id.clone();
    s.go(&format!("{base}/m/{}", common::enc(&cited_mid)));
    s.wait("document.querySelector('#cited-in') && !document.querySelector('#cited-in').hidden");
    assert!(s
        .text("document.querySelector('#cited-in').textContent")
        .contains("Disk full runbook"));

    // Citing a selected passage from another message's page.
    s.go(&format!("{base}/t/{}", common::enc(&ids[0])));
    s.wait("document.querySelector('#thread a.hit-link')");
    s.click("#thread a.hit-link");
    s.wait("document.querySelector('#message .msg-body') && document.querySelector('#cite-btn')");
    assert_eq!(
        s.js("return document.querySelector('#cited-in').hidden;"),
        json!(true)
    );
    let passage = s.text(
        "(() => { const t = document.querySelector('#message .msg-body').firstChild; \
         const r = document.createRange(); r.setStart(t, 0); r.setEnd(t, Math.min(30, t.length)); \
         const sel = getSelection(); sel.removeAllRanges(); sel.addRange(r); return sel.toString().trim(); })()",
    );
    assert!(!passage.is_empty());
    s.click("#cite-btn");
    s.wait("document.querySelector('#cite-doc')");
    assert_eq!(
        s.text("document.querySelector('#cite-passage').textContent"),
        passage
    );
    s.click("#cite-submit");
    s.wait("document.querySelector('#cite-done-link')");
    s.wait("!document.querySelector('#cited-in').hidden && document.querySelector('#cited-in').textContent.includes('Disk full runbook')");
    s.shot("message-cited");
    let cites = curation.citations(&doc_id).expect("citations");
    assert_eq!(cites.len(), 2);
    assert_eq!(cites[1].cited.excerpt, passage);
    assert_eq!(cites[1].cited.thread_id, ids[0]);

    // The document lists both citations, linking to the messages.
    s.go(&format!("{base}/docs/{doc_id}"));
    s.wait("document.querySelectorAll('#doc-citations li.citation').length === 2");
    let href = s.text(
        "document.querySelector('#doc-citations li.citation a.cit-link').getAttribute('href')",
    );
    assert_eq!(href, format!("/m/{}", common::enc(&cited_mid)));
    s.shot("document");

    // A one-thread queue: decide it and the page says so.
    curation
        .put_policy(
            &policy("one", Some(format!("thread:\"{}\"", ids[1]))),
            "test",
        )
        .expect("policy");
    s.go(&format!("{base}/review/one"));
    s.wait("document.querySelectorAll('li.queue-item').length === 1");
    s.keys("r");
    s.wait("document.querySelector('#queue-done')");
    s.wait_done(1);
    assert_eq!(
        s.text("document.querySelector('#queue-progress').dataset.total"),
        "1"
    );
    assert_eq!(decisions(&curation, "one").len(), 1);

    // A reader: no Review link, and the queues say why.
    s.click("#logout-btn");
    s.wait("location.pathname === '/login'");
    s.login(&base, "rob", "rob pw");
    s.wait("document.querySelector('#nav-review').hidden && !document.querySelector('#nav-docs').hidden");
    s.go(&format!("{base}/review/old"));
    s.wait("document.querySelector('#error')");
    assert!(s
        .text("document.querySelector('#error').textContent")
        .contains("reviewers"));
    assert_eq!(
        s.js("return document.querySelectorAll('li.queue-item').length;"),
        json!(0)
    );
}
