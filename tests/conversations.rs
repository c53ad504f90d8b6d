//! Issue 19 items 1, 4, 5 and 7: conversation results, an honest status
//! line, a home page that knows the archive, and CLI output — on a real
//! Mailman list (linux-erofs, from the shared corpora) in real headless
//! Chromium at 1400 and 400 px, through the API with a restricted reader,
//! and through the binary. Screenshots go to `target/screenshots/conv-*.png`.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use gleaner::access::{Role, Users};
use gleaner::index::MailIndex;
use gleaner::query::{self, Request};
use serde_json::{json, Value};

use crate::common::{self, get, TestServer};
use crate::wd::{self, Session};

const EROFS: &str = "linux-erofs.mbox.zst";

/// The linux-erofs archive indexed once for every test here that only
/// reads it (a data directory under cargo's test tmpdir).
fn erofs_data() -> Option<&'static Path> {
    static DATA: OnceLock<Option<PathBuf>> = OnceLock::new();
    DATA.get_or_init(|| {
        let list = common::shared_list(EROFS)?;
        let data = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("conv-erofs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&data);
        common::index_paths(&data, &[list]);
        Some(data)
    })
    .as_deref()
}

fn req(q: &str, limit: usize) -> Request {
    Request {
        limit,
        ..Request::new(q)
    }
}

/// Conversation rows agree with an independent reading of the index: each
/// row's size is its thread's length, its matching count is what a message
/// search restricted to the thread finds, its participants are real authors
/// of the thread, its title has no list tag or reply prefix; the totals are
/// the message search's total and the number of distinct threads.
#[test]
fn conversations_on_a_real_list_match_their_threads() {
    let Some(data) = erofs_data() else { return };
    let index = MailIndex::open(&data.join("index"), false).expect("index");
    let q = "overflow";
    let found = query::conversations::conversations(&index, &req(q, 20)).expect("grouped");
    let messages = query::search(&index, &req(q, 1)).expect("search");
    assert_eq!(found.total_messages, messages.total);
    let mut threads = BTreeSet::new();
    query::for_each_match(&index, &req(q, 0), |m| {
        threads.insert(m.thread_id);
        true
    })
    .expect("all matches");
    assert_eq!(found.total, threads.len(), "one conversation per thread");
    assert!(
        found.total < found.total_messages,
        "some threads hold several hits"
    );
    let mut several = 0;
    for c in &found.page {
        let t = query::thread::thread(&index, &c.thread_id, None)
            .expect("thread")
            .expect("exists");
        assert_eq!(c.size, t.len, "{}", c.thread_id);
        let within = query::search(&index, &req(&format!("{q} thread:{}", c.thread_id), 1))
            .expect("within thread");
        assert_eq!(c.matching, within.total, "{}", c.thread_id);
        let mut authors = BTreeSet::new();
        collect_authors(&t.roots, &mut authors);
        for p in &c.participants {
            assert!(authors.contains(p), "{p} did not write in {}", c.thread_id);
        }
        assert!(!c.participants.is_empty());
        assert!(
            !c.subject.to_lowercase().starts_with("re:") && !c.subject.starts_with('['),
            "{:?}",
            c.subject
        );
        assert!(c.first_date <= c.best.message.date && c.best.message.date <= c.last_date);
        several += usize::from(c.size > 1);
    }
    assert!(several > 3, "real threads of several messages are rows");
}

fn collect_authors(nodes: &[query::thread::ThreadNode], out: &mut BTreeSet<String>) {
    for n in nodes {
        out.extend(n.message.from.iter().cloned());
        collect_authors(&n.children, out);
    }
}

/// Three messages of one conversation, the middle one on a list the reader
/// may not read.
fn cross_list_corpus(dir: &Path) -> PathBuf {
    let md = dir.join("md");
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(md.join(sub)).expect("maildir");
    }
    let mail = [
        (
            "a1",
            "ops",
            "Ann Ops <ann@example.org>",
            "[ops] Disk full on db01",
            "",
            "the zanzibar volume filled up",
        ),
        (
            "b1",
            "secret",
            "Bob Hidden <bob@example.org>",
            "Re: [ops] Disk full on db01",
            "<a1@x.example>",
            "zanzibar root cause is classified",
        ),
        (
            "a2",
            "ops",
            "Carl Ops <carl@example.org>",
            "Re: [ops] Disk full on db01",
            "<b1@x.example>",
            "zanzibar cleaned, all fine",
        ),
    ];
    for (i, (id, list, from, subject, parent, body)) in mail.iter().enumerate() {
        let refs = if parent.is_empty() {
            String::new()
        } else {
            format!("In-Reply-To: {parent}\nReferences: <a1@x.example> {parent}\n")
        };
        let text = format!(
            "From: {from}\nTo: {list}@lists.example.org\nSubject: {subject}\nMessage-ID: <{id}@x.example>\n{refs}Date: Mon, 0{} Mar 2021 10:00:00 +0000\nList-Id: <{list}.lists.example.org>\n\n{body}\n",
            i + 1
        );
        std::fs::write(md.join("cur").join(format!("16000000{i}.{id}:2,S")), text).expect("write");
    }
    md
}

/// Sizes, participants, matching counts, recent conversations, lists and
/// from: completion count only what the viewer may read.
#[test]
fn a_restricted_reader_sees_only_their_lists_in_conversations() {
    let dir = common::tempdir();
    let md = cross_list_corpus(dir.path());
    let data = dir.path().join("data");
    common::index_paths(&data, &[md]);
    let users = Users::open(&data).expect("users");
    users.add_user("ada", Role::Admin, "pw").expect("add");
    users.add_user("rob", Role::Reader, "pw").expect("add");
    users
        .grant("rob", &["ops.lists.example.org".to_string()])
        .expect("grant");
    let server = TestServer::start(&data, true);
    let as_ = |user: &str, path: &str| -> Value {
        let (cookie, _) = server.login(user, "pw");
        let res = get(server.addr, path, &[("Cookie", &cookie)]);
        assert_eq!(res.status, 200, "{path}: {}", res.text());
        res.json()
    };
    let search = "/api/search?q=zanzibar&group=thread";
    let admin = as_("ada", search);
    assert_eq!(admin["total"], 3, "{admin}");
    assert_eq!(admin["total_conversations"], 1);
    let c = &admin["conversations"][0];
    assert_eq!(
        (c["matching"].as_u64(), c["size"].as_u64()),
        (Some(3), Some(3))
    );
    assert_eq!(c["subject"], "Disk full on db01");
    assert!(c.to_string().contains("Bob Hidden"), "{c}");

    let reader = as_("rob", search);
    assert_eq!(reader["total"], 2, "{reader}");
    assert_eq!(reader["total_conversations"], 1);
    let c = &reader["conversations"][0];
    assert_eq!(
        (c["matching"].as_u64(), c["size"].as_u64()),
        (Some(2), Some(2)),
        "{c}"
    );
    assert_eq!(c["participants_total"], 2, "{c}");
    let text = reader.to_string();
    for hidden in ["Bob", "bob@", "classified", "secret.lists"] {
        assert!(!text.contains(hidden), "{hidden} leaked: {text}");
    }
    // A message-view row of the same search agrees.
    let hits = as_("rob", "/api/search?q=zanzibar");
    assert_eq!(hits["hits"].as_array().map(Vec::len), Some(2));

    let home = as_("rob", "/api/home").to_string();
    assert!(
        home.contains("Disk full on db01") && home.contains("Carl Ops"),
        "{home}"
    );
    for hidden in ["Bob", "bob@", "secret.lists"] {
        assert!(
            !home.contains(hidden),
            "{hidden} leaked on the home page: {home}"
        );
    }
    let admin_home = as_("ada", "/api/home");
    assert_eq!(admin_home["lists"].as_array().map(Vec::len), Some(2));
    assert_eq!(admin_home["recent"][0]["size"], 3);

    assert!(as_("ada", "/api/complete?field=from&prefix=bo")
        .to_string()
        .contains("bob@example.org"));
    let none = as_("rob", "/api/complete?field=from&prefix=bo");
    assert_eq!(none["values"], json!([]), "{none}");
    let all = as_("rob", "/api/complete?field=from&prefix=").to_string();
    assert!(
        all.contains("ann@example.org") && !all.contains("bob@"),
        "{all}"
    );
}

/// `gleaner serve` without sources, on a data directory `gleaner index`
/// made (nothing new to commit), read from its stdout.
struct Served {
    child: Child,
    base: String,
}

impl Served {
    fn start(data: &Path) -> Served {
        let mut child = Command::new(env!("CARGO_BIN_EXE_gleaner"))
            .arg("--data")
            .arg(data)
            .args(["serve", "--listen", "127.0.0.1:0", "--no-auth"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start serve");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let base = loop {
            let line = lines
                .next()
                .expect("serve printed its address")
                .expect("line");
            if let Some(rest) = line.strip_prefix("gleaner: serving ") {
                break rest.trim_end_matches('/').to_string();
            }
        };
        std::thread::spawn(move || for _ in lines {});
        Served { child, base }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The footer says "indexed through <time>, N messages" from start-up on,
/// also when start-up found nothing new (no sources: the commit `gleaner
/// index` made) — and again after a restart; `gleaner stats` agrees.
#[test]
fn the_status_line_is_honest_after_restarts_with_nothing_new() {
    let Some(bin) = wd::browser() else { return };
    let dir = common::tempdir();
    let data = dir.path().join("data");
    common::gleaner_ok(&data, &["index", common::sample().to_str().expect("path")]);
    let messages = MailIndex::open(&data.join("index"), false)
        .expect("index")
        .reader
        .searcher()
        .num_docs();
    let stats = common::gleaner_ok(&data, &["stats"]);
    assert!(stats.contains("indexed through: 20"), "{stats}");
    for round in 0..2 {
        let served = Served::start(&data);
        let s = Session::new(
            &bin,
            &format!("conv-status-{round}"),
            Duration::from_secs(15),
        );
        s.go(&format!("{}/", served.base));
        let status = s.wait(
            "document.querySelector('#status-watermark') && document.querySelector('#status-watermark').textContent",
        );
        let status = status.as_str().unwrap_or_default().to_string();
        assert!(
            status.starts_with("indexed through "),
            "round {round}: {status:?}"
        );
        assert!(
            status.ends_with(&format!(", {} messages", thousands(messages))),
            "round {round}: {status:?}"
        );
        s.shot(&format!("conv-status-{round}"));
    }
}

/// `12345` as `12,345`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Width of the browser window: the layouts are checked at both.
fn resize(s: &Session, width: u32) {
    s.c(
        "POST",
        "/window/rect",
        json!({"width": width, "height": 900}),
    );
}

/// Nothing sticks out sideways (no horizontal scrolling) at this width.
fn assert_fits(s: &Session, page: &str) {
    let over =
        s.js("return document.documentElement.scrollWidth - document.documentElement.clientWidth;");
    assert!(
        over.as_i64().unwrap_or(1) <= 0,
        "{page} scrolls sideways by {over} px"
    );
}

/// In Chromium on the real list: conversation rows (default), the switch to
/// message rows, a conversation's matching messages one click away, "did
/// you mean" for a misspelt word, from: completion, and the home page with
/// lists, recent conversations and examples that find something — at 1400
/// and 400 px, with screenshots.
#[test]
fn conversations_home_did_you_mean_and_completion_in_chromium() {
    let Some(data) = erofs_data() else { return };
    let Some(bin) = wd::browser() else { return };
    let server = TestServer::start(data, false);
    let base = format!("http://{}", server.addr);
    let expected =
        query::conversations::conversations(&server.index, &req("overflow", 20)).expect("grouped");
    for width in [1400, 400] {
        let s = Session::new(&bin, &format!("conv-{width}"), Duration::from_secs(20));
        resize(&s, width);

        // Home: lists with counts and dates, recent conversations, examples.
        s.go(&format!("{base}/"));
        s.wait("document.querySelectorAll('#home-recent li.recent-conv').length >= 5");
        let lists = s.text("document.querySelector('.home-lists').textContent");
        assert!(
            lists.contains("linux-erofs.lists.ozlabs.org") && lists.contains("4,999"),
            "{lists}"
        );
        assert!(
            lists.contains("2024") && lists.contains("2026"),
            "list dates: {lists}"
        );
        let examples = s.js("return Array.from(document.querySelectorAll('#home-examples li a')).map((a) => a.textContent);");
        let examples = examples.as_array().cloned().unwrap_or_default();
        assert!(examples.len() >= 4, "{examples:?}");
        assert!(
            !examples
                .iter()
                .any(|e| e.as_str().unwrap_or("").contains("list:ops")),
            "{examples:?}"
        );
        assert_fits(&s, &format!("home at {width}"));
        s.shot(&format!("conv-home-{width}"));

        // Conversation rows by default.
        s.go(&format!("{base}/search?q=overflow"));
        s.wait("document.querySelectorAll('#results .hit.conv').length > 0");
        let total = s.text("document.querySelector('#total').textContent");
        assert_eq!(
            total,
            format!(
                "{} messages in {} conversations",
                expected.total_messages, expected.total
            )
        );
        let rows = s.js("return document.querySelectorAll('#results .hit.conv').length;");
        assert_eq!(rows.as_u64(), Some(expected.page.len() as u64));
        let first = &expected.page[0];
        let count = s.text("document.querySelector('#results .hit.conv .conv-count').textContent");
        assert_eq!(count, format!("{} of {}", first.matching, first.size));
        let subject = s.text("document.querySelector('#results .hit.conv .hit-link').textContent");
        assert_eq!(subject, first.subject);
        let people =
            s.text("document.querySelector('#results .hit.conv .conv-people').textContent");
        let name = query::conversations::name_of(&first.participants[0]);
        assert!(
            people.starts_with(name),
            "{people:?} should start with {name}"
        );
        assert_fits(&s, &format!("conversations at {width}"));
        s.shot(&format!("conv-search-{width}"));

        // A conversation's matching messages, one click away, as message rows.
        let several = expected
            .page
            .iter()
            .position(|c| c.matching > 1)
            .expect("a row with several hits");
        s.js(&format!(
            "document.querySelectorAll('#results .hit.conv')[{several}].querySelector('a.conv-messages').click(); return 0;"
        ));
        s.wait("location.search.includes('view=messages') && document.querySelectorAll('#results .hit:not(.conv)').length > 0");
        let n = s.js("return document.querySelectorAll('#results .hit').length;");
        assert_eq!(n.as_u64(), Some(expected.page[several].matching as u64));
        // And the switch back and forth.
        s.click("#view-conversations");
        s.wait("document.querySelectorAll('#results .hit.conv').length === 1");
        s.go(&format!("{base}/search?q=overflow"));
        s.wait("document.querySelector('#view-messages')");
        s.click("#view-messages");
        s.wait("document.querySelectorAll('#results .hit:not(.conv)').length === 20");
        let msgs = s.text("document.querySelector('#total').textContent");
        assert_eq!(msgs, format!("{} messages", expected.total_messages));
        s.shot(&format!("conv-messages-{width}"));

        // Did you mean, from the index's own words.
        s.go(&format!("{base}/search?q=overflw"));
        let dym = s.wait("!document.querySelector('#did-you-mean').hidden && document.querySelector('#did-you-mean').textContent");
        assert!(
            dym.as_str()
                .unwrap_or("")
                .starts_with("Did you mean overflow ("),
            "{dym}"
        );
        s.shot(&format!("conv-did-you-mean-{width}"));
        s.click("#did-you-mean-link");
        s.wait("document.querySelectorAll('#results .hit.conv').length > 0");
        assert_eq!(s.text("document.querySelector('#q').value"), "overflow");

        // from: completion: people by messages written, by name.
        s.go(&format!("{base}/"));
        s.wait("document.querySelector('#home-recent li')");
        s.type_into("#q", "from:gao");
        let first = s.wait("!document.querySelector('#complete').hidden && document.querySelector('#complete li .c-value').textContent");
        assert!(
            first.as_str().unwrap_or("").contains("Gao Xiang"),
            "{first}"
        );
        s.shot(&format!("conv-complete-{width}"));
        s.keys("\u{E004}"); // Tab accepts the first.
        let value = s.wait("document.querySelector('#q').value.includes('@') && document.querySelector('#q').value");
        assert_eq!(value, json!("from:hsiangkao@linux.alibaba.com "));
    }
}

/// `gleaner search --threads` reads well at 80 columns: nothing cut, lines
/// wrapped within the width, labelled, totals of messages and
/// conversations; an empty result says so and offers a correction; the
/// help names `review` and `user` for what they do.
#[test]
fn cli_conversations_wrap_and_never_truncate() {
    let Some(data) = erofs_data() else { return };
    let out = common::gleaner_ok(data, &["search", "--threads", "--width", "80", "overflow"]);
    let index = MailIndex::open(&data.join("index"), false).expect("index");
    let expected =
        query::conversations::conversations(&index, &req("overflow", 20)).expect("grouped");
    for line in out.lines() {
        let unbreakable = line.split_whitespace().any(|w| w.chars().count() > 60);
        assert!(
            line.chars().count() <= 80 || unbreakable,
            "too wide: {line:?}"
        );
        assert!(!line.contains('…') || line.ends_with(" …"), "cut: {line:?}");
    }
    assert!(
        out.contains("linux-erofs.lists.ozlabs.org"),
        "the list name is whole:\n{out}"
    );
    assert!(
        out.contains(&format!(
            "{} messages in {} conversations match, conversations 1–20 shown",
            expected.total_messages, expected.total
        )),
        "{out}"
    );
    let first = &expected.page[0];
    assert!(
        out.starts_with(&format!("[{} of {} messages] ", first.matching, first.size)),
        "{out}"
    );
    assert!(out.contains(&format!("all: thread:{}", first.thread_id)));

    let messages = common::gleaner_ok(data, &["search", "--width", "100", "overflow"]);
    assert!(
        messages.contains("linux-erofs.lists.ozlabs.org  "),
        "{messages}"
    );
    assert!(!messages.contains("ozlabs.o…"), "{messages}");

    let empty = common::gleaner_ok(data, &["search", "overflw"]);
    assert!(empty.starts_with("No messages match ("), "{empty}");
    assert!(!empty.contains("0–0"), "{empty}");
    assert!(empty.contains("Did you mean: overflow ("), "{empty}");

    let help = common::gleaner_ok(data, &["--help"]);
    let line = |name: &str| {
        help.lines()
            .find(|l| l.trim_start().starts_with(name))
            .unwrap_or_default()
            .to_string()
    };
    assert!(line("review ").contains("Review queues"), "{help}");
    assert!(!line("review ").contains("users"), "{help}");
    assert!(line("user ").contains("Web users"), "{help}");
    let json = common::gleaner_ok(data, &["search", "--json", "--limit", "1", "overflow"]);
    let v: Value = serde_json::from_str(json.trim()).expect("one object");
    assert_eq!(
        v["total"].as_u64(),
        Some(expected.total_messages as u64),
        "--json is unchanged"
    );
    assert!(v.get("kind").is_none());
}

/// `gleaner review queue` as text: a labelled header over the columns, every
/// line within 100 columns (the width off a terminal) unless one value is
/// longer, the subject and signals wrapped beneath each thread.
#[test]
fn cli_review_queue_has_labelled_columns_and_wraps() {
    const OPS: &str = "ops.lists.example.org";
    let dir = common::tempdir();
    let data = dir.path();
    common::gleaner_ok(data, &["index", common::sample().to_str().expect("path")]);
    let curation = gleaner::curate::Curation::open(data, "http://gleaner.test").expect("curation");
    let policy =
        serde_json::from_value(json!({"name": "ops-old", "lists": [OPS], "older_than": "6y"}))
            .expect("policy");
    curation.put_policy(&policy, "test").expect("policy saved");
    let out = common::gleaner_ok(data, &["review", "queue", "ops-old", "--limit", "5"]);
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines.contains(&" score  newest      decision  messages  list"),
        "{out}"
    );
    let rows = lines.iter().filter(|l| l.ends_with(OPS)).count();
    assert!(
        rows >= 1,
        "each thread names its list in the list column:\n{out}"
    );
    assert_eq!(
        rows,
        lines
            .iter()
            .filter(|l| l.trim_start().starts_with("thread: "))
            .count()
    );
    assert!(
        lines.iter().any(|l| l.trim_start().starts_with("why: ")),
        "{out}"
    );
    for l in &lines {
        let unbreakable = l.split_whitespace().any(|w| w.chars().count() > 60);
        assert!(l.chars().count() <= 100 || unbreakable, "too wide: {l:?}");
    }
}
