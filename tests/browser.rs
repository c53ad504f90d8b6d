//! The web UI in a real headless Chromium: search results render, and a
//! hostile message (script in subject, body, sender; an HTML-only part with
//! script and `javascript:` links) renders as inert, escaped text.
//!
//! Without Chromium the tests print a loud notice and pass, except when
//! `CI=true`, where they fail.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{self, enc, TestServer};

fn chromium() -> Option<PathBuf> {
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        if let Some(p) = std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join(name))
                .find(|p| p.is_file())
        }) {
            return Some(p);
        }
    }
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    assert!(
        !ci,
        "CI=true but chromium is not installed (apt-get install chromium)"
    );
    eprintln!("\n************************************************************");
    eprintln!("NOTICE: chromium not found: the browser tests are SKIPPED");
    eprintln!("        (apt-get install chromium chromium-driver fonts-noto-cjk)");
    eprintln!("************************************************************\n");
    None
}

/// Runs headless Chromium on `url` with `mode` (`--dump-dom` or
/// `--screenshot=...`), returning its stdout.
fn run_chromium(bin: &Path, url: &str, mode: &str) -> String {
    let profile = common::tempdir();
    let mut child = Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-dev-shm-usage",
            "--window-size=1280,900",
            "--virtual-time-budget=10000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(mode)
        .arg(url)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromium");
    let mut stdout = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut s).ok();
        s
    });
    let started = Instant::now();
    loop {
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        if started.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish on {url}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    reader.join().expect("reader")
}

fn dump_dom(bin: &Path, url: &str) -> String {
    run_chromium(bin, url, "--dump-dom")
}

/// Saves a screenshot under `target/screenshots/` (kept for people to look at).
fn screenshot(bin: &Path, url: &str, name: &str) {
    let dir = common::root().join("target/screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    let file = dir.join(format!("{name}.png"));
    run_chromium(bin, url, &format!("--screenshot={}", file.display()));
    if !file.exists() {
        eprintln!("NOTICE: chromium wrote no screenshot for {url}");
    }
}

fn title(dom: &str) -> String {
    dom.split_once("<title>")
        .and_then(|(_, rest)| rest.split_once("</title>"))
        .map(|(t, _)| t.to_string())
        .unwrap_or_default()
}

#[test]
fn search_page_renders_hits_total_and_facets() {
    let Some(bin) = chromium() else { return };
    let dir = common::tempdir();
    common::index_paths(dir.path(), &[common::sample()]);
    let server = TestServer::start(dir.path(), false);
    let url = format!("http://{}/search?q={}", server.addr, enc("root cause"));
    let dom = dump_dom(&bin, &url);
    assert!(
        dom.matches("class=\"hit").count() >= 5,
        "no hits rendered:\n{dom}"
    );
    let total = dom
        .split_once("id=\"total\"")
        .and_then(|(_, rest)| rest.split_once('>'))
        .and_then(|(_, rest)| rest.split_once('<'))
        .map(|(t, _)| t.to_string())
        .unwrap_or_default();
    assert!(total.contains("message"), "#total is {total:?}");
    assert!(dom.contains("class=\"facet\""), "no facets rendered");
    assert!(dom.contains("<mark>"), "no highlighted snippet");
    screenshot(&bin, &url, "search");
    screenshot(&bin, &format!("http://{}/", server.addr), "home");
}

const HOSTILE_TEXT: &str = "From: \"<img src=x onerror=\\\"document.body.setAttribute('data-pwned','1')\\\">\" <evil@example.org>\r
To: hostile@lists.example.org\r
Subject: zebrafinch <script>document.title='pwned'</script>\r
Date: Mon, 01 Mar 2021 10:00:00 +0000\r
Message-ID: <hostile-1@example.org>\r
List-Id: Hostile <hostile.lists.example.org>\r
MIME-Version: 1.0\r
Content-Type: text/plain; charset=utf-8\r
\r
zebrafinch <script>document.title='pwned'</script>\r
<img src=x onerror=\"document.body.setAttribute('data-pwned','1')\">\r
<a href=\"javascript:document.body.setAttribute('data-pwned','2')\">click me</a>\r
";

const HOSTILE_HTML: &str = "From: Mallory <mallory@example.org>\r
To: hostile@lists.example.org\r
Subject: Re: zebrafinch html\r
Date: Mon, 01 Mar 2021 11:00:00 +0000\r
Message-ID: <hostile-2@example.org>\r
In-Reply-To: <hostile-1@example.org>\r
References: <hostile-1@example.org>\r
List-Id: Hostile <hostile.lists.example.org>\r
MIME-Version: 1.0\r
Content-Type: text/html; charset=utf-8\r
\r
<html><head><script>document.title='pwned'</script></head><body>\r
<p>zebrafinch in html</p>\r
<img src=\"http://192.0.2.1/track.png\" onerror=\"document.body.setAttribute('data-pwned','3')\">\r
<a href=\"javascript:document.body.setAttribute('data-pwned','4')\">javascript link</a>\r
<iframe src=\"http://192.0.2.1/\"></iframe>\r
<script>document.body.setAttribute('data-pwned','5')</script>\r
</body></html>\r
";

/// Where a position of serialized HTML is.
#[derive(Debug, PartialEq)]
enum Place {
    /// Text content (where mail text belongs; `<` is `&lt;` there).
    Text,
    /// Inside a tag, outside any quoted value: an element or attribute name.
    Markup,
    /// Inside the quoted value of this attribute.
    Value(String),
}

fn place(dom: &str, pos: usize) -> Place {
    let before = &dom[..pos];
    let Some(lt) = before
        .rfind('<')
        .filter(|&lt| before.rfind('>').is_none_or(|gt| gt < lt))
    else {
        return Place::Text;
    };
    let tag = &before[lt..];
    if tag.matches('"').count().is_multiple_of(2) {
        return Place::Markup;
    }
    let eq = tag.rfind("=\"").unwrap_or(0);
    let name = tag[..eq].rsplit(char::is_whitespace).next().unwrap_or("");
    Place::Value(name.to_ascii_lowercase())
}

/// Every place where `needle` occurs.
fn places(dom: &str, needle: &str) -> Vec<Place> {
    dom.match_indices(needle)
        .map(|(pos, _)| place(dom, pos))
        .collect()
}

fn assert_inert(dom: &str, page: &str) {
    assert_ne!(title(dom), "pwned", "{page}: a script ran");
    for tag in [
        "<img",
        "<script>document",
        "<iframe",
        "<a href=\"javascript",
    ] {
        assert!(
            !places(dom, tag).contains(&Place::Text),
            "{page}: {tag} became an element:\n{dom}"
        );
    }
    for attr in ["data-pwned=", "onerror="] {
        assert!(
            !places(dom, attr).contains(&Place::Markup),
            "{page}: {attr} became an attribute:\n{dom}"
        );
    }
    for p in places(dom, "javascript:") {
        assert!(
            !matches!(&p, Place::Markup)
                && !matches!(&p, Place::Value(a) if ["href", "src", "action", "formaction"].contains(&a.as_str())),
            "{page}: a javascript: URL in {p:?}:\n{dom}"
        );
    }
}

#[test]
fn the_inertness_check_catches_live_markup() {
    let live = r#"<p><img src="x" onerror="p()"><a href="javascript:p()">x</a></p>"#;
    assert!(places(live, "<img").contains(&Place::Text));
    assert!(places(live, "onerror=").contains(&Place::Markup));
    assert_eq!(
        places(live, "javascript:"),
        vec![Place::Value("href".into())]
    );
    let dead =
        r#"<p title="&lt;img onerror=&quot;p()&quot;&gt;">&lt;img src=x onerror="p()"&gt;</p>"#;
    assert!(!places(dead, "<img").contains(&Place::Text));
    assert!(!places(dead, "onerror=").contains(&Place::Markup));
}

#[test]
fn hostile_mail_is_shown_as_inert_text() {
    let Some(bin) = chromium() else { return };
    let dir = common::tempdir();
    let maildir = dir.path().join("hostile");
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(maildir.join(sub)).expect("maildir");
    }
    std::fs::write(maildir.join("cur/1614592800.1.test:2,S"), HOSTILE_TEXT).expect("write");
    std::fs::write(maildir.join("cur/1614596400.2.test:2,S"), HOSTILE_HTML).expect("write");
    common::index_paths(dir.path(), &[maildir]);
    let server = TestServer::start(dir.path(), false);
    let base = format!("http://{}", server.addr);

    // Conversations (the default): one row for the two, inert too.
    let conversations = dump_dom(&bin, &format!("{base}/search?q=zebrafinch"));
    assert!(
        conversations.contains("class=\"hit conv"),
        "{conversations}"
    );
    assert_inert(&conversations, "search (conversations)");
    // One row per message: every hostile subject is on the page.
    let search = dump_dom(&bin, &format!("{base}/search?q=zebrafinch&view=messages"));
    assert!(
        search.matches("class=\"hit").count() >= 2,
        "hostile hits missing:\n{search}"
    );
    assert_inert(&search, "search");
    assert!(
        search.contains("&lt;script&gt;document.title='pwned'&lt;/script&gt;"),
        "the subject is not shown as escaped text:\n{search}"
    );

    let message = dump_dom(&bin, &format!("{base}/m/{}", enc("hostile-1@example.org")));
    assert_inert(&message, "message");
    assert!(
        message.contains("&lt;img src=x onerror="),
        "the body is not shown as text:\n{message}"
    );

    let html = dump_dom(&bin, &format!("{base}/m/{}", enc("hostile-2@example.org")));
    assert_inert(&html, "html message");
    assert!(
        html.contains("zebrafinch in html"),
        "the HTML part's text is missing:\n{html}"
    );

    let thread_url = format!("{base}/t/{}", enc("hostile-1@example.org"));
    let thread = dump_dom(&bin, &thread_url);
    assert_inert(&thread, "thread");
    assert!(
        thread.contains("zebrafinch"),
        "thread not rendered:\n{thread}"
    );
    screenshot(&bin, &thread_url, "thread-hostile");
    screenshot(
        &bin,
        &format!("{base}/m/{}", enc("hostile-2@example.org")),
        "message-hostile-html",
    );
}
