//! Accessibility and small screens in real headless Chromium over WebDriver
//! (issue 19 item 6): axe-core, injected into every page, finds no serious
//! or critical violation at 1400×900 and at 400 px; at 400 px no page
//! scrolls sideways and its key controls are on screen. Each page is saved
//! as `target/screenshots/<page>-1400.png` and `<page>-400.png`.
//!
//! axe-core comes from npm (`.ci/run` installs it into
//! `~/.cache/gleaner-npm`; `GLEANER_AXE_JS` names another `axe.min.js`).
//! Without it, or without chromedriver/Chromium, the tests print a loud
//! notice and pass, except when `CI=true`, where they fail.

use std::path::PathBuf;
use std::time::Duration;

use gleaner::access::{Role, Users};
use gleaner::curate::{Curation, DocKind, NewCitation, ReviewPolicy};
use serde_json::{json, Value};

use crate::common::{self, TestServer};
use crate::wd::{self, Session};

/// axe-core's `axe.min.js`, or a loud skip (a failure under `CI=true`).
pub(crate) fn axe_js() -> Option<String> {
    let path = std::env::var_os("GLEANER_AXE_JS")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| {
                PathBuf::from(h).join(".cache/gleaner-npm/node_modules/axe-core/axe.min.js")
            })
        });
    let found = path.as_ref().and_then(|p| std::fs::read_to_string(p).ok());
    if found.is_none() {
        assert!(
            std::env::var("CI").map_or(true, |v| v != "true"),
            "CI=true but axe-core is missing at {path:?} (npm install --prefix ~/.cache/gleaner-npm axe-core@4)"
        );
        eprintln!("\n************************************************************");
        eprintln!("NOTICE: axe-core not found at {path:?}: the accessibility test is SKIPPED");
        eprintln!("        (npm install --prefix ~/.cache/gleaner-npm axe-core@4)");
        eprintln!("************************************************************\n");
    }
    found
}

/// A page of the UI: its name (for screenshots), path, the expression that
/// is truthy once it has rendered, and the controls that must be on screen
/// at 400 px.
struct Page {
    name: &'static str,
    path: String,
    ready: &'static str,
    key_controls: &'static [&'static str],
}

/// The sample corpus served with auth, an admin `ada`, a review queue `old`
/// and a published document citing a message in the middle of its text.
struct Fixture {
    /// Serves `base` until dropped (before the directory goes).
    _server: TestServer,
    _dir: tempfile::TempDir,
    /// `http://` and the server's address.
    base: String,
    pages: Vec<Page>,
}

impl Fixture {
    fn page(&self, name: &str) -> &Page {
        self.pages.iter().find(|p| p.name == name).expect("page")
    }
}

fn fixture() -> Fixture {
    let dir = common::tempdir();
    common::index_paths(dir.path(), &[common::sample()]);
    Users::open(dir.path())
        .expect("users")
        .add_user("ada", Role::Admin, "ada pw")
        .expect("admin");
    let server = TestServer::start(dir.path(), true);
    let curation = Curation::open(dir.path(), "http://gleaner.test").expect("curation");
    curation
        .put_policy(
            &ReviewPolicy {
                name: "old".into(),
                lists: vec![],
                older_than: "6y".into(),
                age_basis: Default::default(),
                query: None,
                origin: "ui".into(),
            },
            "test",
        )
        .expect("policy");
    let cited = common::only_on(&server.index, "ops.lists.example.org");
    let doc = curation
        .create_document(
            DocKind::Procedure,
            "Recovering a full WAL disk",
            "ada",
            "",
            "ada",
        )
        .expect("document");
    let citation = NewCitation::from_message(&cited, None, None).expect("citation");
    let (_, cited_as) = curation
        .cite(&doc.id.to_string(), &citation, "ada")
        .expect("cite");
    let doc_id = doc.id.to_string();
    let body = format!(
        "## Steps\n\n1. Check `df -h` on the primary.\n\n{{{{cite:{}}}}}\n\n2. Archive old WAL segments.\n",
        cited_as.id
    );
    curation
        .save_document(
            &doc_id,
            &gleaner::curate::documents::DocUpdate {
                status: Some(gleaner::curate::DocStatus::Published),
                body: Some(body),
                ..Default::default()
            },
            None,
            "ada",
        )
        .expect("publish");
    let thread = cited.thread_id.clone();
    let pages = vec![
        // First: the tests visit the pages in order, logging in after it.
        Page {
            name: "login",
            path: "/login".into(),
            ready: "document.querySelector('#login-form')",
            key_controls: &["#username", "#password", "#login-submit"],
        },
        Page {
            name: "home",
            path: "/".into(),
            ready: "document.querySelector('main h1')",
            key_controls: &["#q", "#search-btn"],
        },
        Page {
            name: "search",
            path: "/search?q=replication".into(),
            ready: "document.querySelectorAll('#results .hit').length >= 3",
            key_controls: &["#q", "#search-btn", "#results .hit a"],
        },
        Page {
            name: "message",
            path: format!("/m/{}", common::enc(&cited.message_id)),
            ready: "document.querySelector('#message .msg-body')",
            key_controls: &["#search-btn", "#thread-link"],
        },
        Page {
            name: "thread",
            path: format!("/t/{}", common::enc(&thread)),
            ready: "document.querySelectorAll('#thread article.tmsg').length",
            key_controls: &["#search-btn"],
        },
        Page {
            name: "review",
            path: "/review".into(),
            ready: "document.querySelector('.policy-card[data-policy=old] .bar-row')",
            key_controls: &[".policy-card[data-policy=old] a.policy-link"],
        },
        Page {
            name: "queue",
            path: "/review/old".into(),
            ready: "document.querySelectorAll('li.queue-item').length >= 3 && document.querySelector('#queue-preview .msg-body')",
            key_controls: &[
                "li.queue-item.current .qi-subject",
                ".queue-actions .act-promote",
                ".queue-actions .act-keep",
                ".queue-actions .act-dismiss",
            ],
        },
        Page {
            name: "docs",
            path: "/docs".into(),
            ready: "document.querySelector('#docs-table')",
            key_controls: &["#new-doc-title", "#new-doc-submit"],
        },
        Page {
            name: "document",
            path: format!("/docs/{doc_id}"),
            ready: "document.querySelector('#doc-html blockquote')",
            key_controls: &["#doc-edit-btn"],
        },
        Page {
            name: "editor",
            path: format!("/docs/{doc_id}?edit=1"),
            ready: "document.querySelector('#doc-edit-body') && document.querySelector('#doc-preview blockquote')",
            key_controls: &["#doc-edit-body", "#doc-save"],
        },
    ];
    Fixture {
        _dir: dir,
        base: format!("http://{}", server.addr),
        _server: server,
        pages,
    }
}

/// A session (not logged in yet), its window `width` × 900, in the light or
/// dark colour `scheme`.
fn session(bin: &std::path::Path, name: &str, width: u32, scheme: &str) -> Session {
    let s = Session::new(bin, name, Duration::from_secs(20));
    s.c(
        "POST",
        "/window/rect",
        json!({"width": width, "height": 900}),
    );
    s.c("POST", "/timeouts", json!({"script": 120_000}));
    s.c(
        "POST",
        "/goog/cdp/execute",
        json!({"cmd": "Emulation.setEmulatedMedia", "params": {"features": [{"name": "prefers-color-scheme", "value": scheme}]}}),
    );
    s
}

/// Opens `page`, logging in as `ada` first unless it is the login page or
/// the session is logged in already.
fn open(s: &Session, base: &str, page: &Page) {
    let at = s.url();
    if page.name != "login" && (at.contains("/login") || !at.starts_with("http")) {
        s.submit_login(&format!("{base}/login"), "ada", "ada pw");
        s.wait("document.querySelector('#user-name') && document.querySelector('#user-name').textContent.includes('ada')");
    }
    s.go(&format!("{base}{}", page.path));
    s.wait(page.ready);
    // Let fonts and late layout settle before measuring.
    s.js("return document.fonts ? document.fonts.ready.then(() => 1) : 1;");
}

/// axe-core's serious and critical violations on the current page, one line each.
pub(crate) fn axe_violations(s: &Session, axe: &str) -> Vec<String> {
    // The page's CSP forbids injected <script> elements; WebDriver runs
    // the source itself.
    s.js(&format!("{axe}\n;return typeof axe;"));
    let v = s.c(
        "POST",
        "/execute/async",
        json!({"script": "const done = arguments[arguments.length - 1];
            axe.run(document, {resultTypes: ['violations']})
              .then((r) => done(r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
                .map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.slice(0, 6).map((n) => n.target.join(' ') + (n.failureSummary ? ' [' + n.failureSummary.replace(/\\s+/g, ' ') + ']' : '')).join('; ')}`)))
              .catch((e) => done(['axe failed: ' + e]));",
            "args": []}),
    );
    v.as_array()
        .expect("violations")
        .iter()
        .map(|x| x.as_str().unwrap_or_default().to_string())
        .collect()
}

/// Serious or critical axe-core violations on no page, at either width (and
/// in the dark colour scheme), and one h1 on each.
#[test]
fn axe_core_finds_no_serious_or_critical_violations_at_either_width() {
    let Some(bin) = wd::browser() else { return };
    let Some(axe) = axe_js() else { return };
    let f = fixture();
    let base = f.base.as_str();
    let mut failures = Vec::new();
    // Light at both widths, and the dark colour scheme at 1400.
    for (width, scheme) in [(1400, "light"), (400, "light"), (1400, "dark")] {
        let s = session(&bin, &format!("a11y-{width}-{scheme}"), width, scheme);
        let width = if scheme == "dark" {
            format!("{width}-dark")
        } else {
            width.to_string()
        };
        for page in &f.pages {
            open(&s, base, page);
            s.shot(&format!("{}-{width}", page.name));
            let h1 = s.js("return Array.from(document.querySelectorAll('h1')).filter((e) => !e.closest('[hidden]')).map((e) => e.textContent);");
            if h1.as_array().map_or(0, Vec::len) != 1 {
                failures.push(format!(
                    "{} at {width}: one h1 wanted, found {h1}",
                    page.name
                ));
            }
            for v in axe_violations(&s, &axe) {
                failures.push(format!("{} at {width}: {v}", page.name));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "axe-core found {} serious/critical violations:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// At 400 px no page scrolls sideways and its key controls (the search
/// button, the first review item and its actions, the editor) are visible.
#[test]
fn every_page_fits_400px_without_sideways_scroll() {
    let Some(bin) = wd::browser() else { return };
    let f = fixture();
    let base = f.base.as_str();
    let s = session(&bin, "mobile", 400, "light");
    let inner = s.js("return window.innerWidth;");
    assert!(
        inner.as_u64().is_some_and(|w| w <= 400),
        "the window is 400 px wide: {inner}"
    );
    let mut failures = Vec::new();
    for page in &f.pages {
        open(&s, base, page);
        let fit = s.js("const d = document.documentElement;
            return {scroll: d.scrollWidth, inner: window.innerWidth,
              wide: Array.from(document.querySelectorAll('body *')).filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1 && e.getClientRects().length)
                .slice(0, 5).map((e) => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (e.className && typeof e.className === 'string' ? '.' + e.className.split(' ').join('.') : ''))};");
        if fit["scroll"].as_u64() > fit["inner"].as_u64() {
            failures.push(format!("{}: scrolls sideways: {fit}", page.name));
        }
        for css in page.key_controls {
            let seen = visible(&s, css);
            if seen != json!(true) {
                failures.push(format!("{}: {css} is not on screen: {seen}", page.name));
            }
        }
        if page.name == "queue" {
            // Subjects were cut to ~20 characters: now they get most of the
            // width and two lines.
            let subject = s.js(
                "const e = document.querySelector('li.queue-item.current .qi-subject');
                return {width: e.clientWidth, wraps: getComputedStyle(e).whiteSpace !== 'nowrap'};",
            );
            if subject["width"].as_u64() < Some(240) || subject["wraps"] != json!(true) {
                failures.push(format!("queue: the subject is cramped: {subject}"));
            }
        }
        // The page's pop-over fits too, its close button in reach.
        let popover = match page.name {
            "search" => Some(("#help-btn", "#help", "#help-close")),
            "queue" => Some(("#keys-btn", "#review-keys", "#review-keys button")),
            _ => None,
        };
        if let Some((open_btn, panel, close)) = popover {
            s.click(open_btn);
            s.wait(&format!("!document.querySelector('{panel}').hidden"));
            s.shot(&format!("{}-popover-400", page.name));
            for css in [panel, close] {
                let seen = visible(&s, css);
                if seen != json!(true) {
                    failures.push(format!("{}: {css} does not fit: {seen}", page.name));
                }
            }
            s.click(close);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Whether the element `css` is shown, as wide as the viewport at most and
/// (at least partly) within it: not off to the side, not below the fold.
fn visible(s: &Session, css: &str) -> Value {
    s.js(&format!(
        "const e = document.querySelector({});
         if (!e) return 'missing';
         const r = e.getBoundingClientRect();
         const shown = getComputedStyle(e).visibility !== 'hidden' && r.width > 0 && r.height > 0;
         const inside = r.left >= 0 && r.right <= window.innerWidth && r.top < window.innerHeight && r.bottom > 0;
         return shown && inside ? true : JSON.stringify({{left: r.left, top: r.top, right: r.right, bottom: r.bottom, w: window.innerWidth, h: window.innerHeight}});",
        json!(css)
    ))
}

/// The keyboard path to the results (issue 19: 108 tab stops before the
/// first result, 75 of them timeline bars): results come before the facets,
/// the timeline is one tab stop whose arrow keys move between months, the
/// "thread" links are named after their subjects, and Dismiss looks as
/// enabled as Keep.
#[test]
fn few_tab_stops_before_the_first_result_and_named_thread_links() {
    let Some(bin) = wd::browser() else { return };
    let f = fixture();
    let base = f.base.as_str();
    let s = session(&bin, "keyboard", 1400, "light");
    open(&s, base, f.page("search"));
    const TABBABLE: &str = "Array.from(document.querySelectorAll('a[href], button, input, select, textarea, [tabindex]'))
        .filter((e) => e.tabIndex >= 0 && !e.disabled && e.getClientRects().length && getComputedStyle(e).visibility !== 'hidden')";
    let before = s.js(&format!(
        "return {TABBABLE}.indexOf(document.querySelector('#results .hit-link'));"
    ));
    eprintln!("tab stops before the first result: {before}");
    assert!(
        before.as_i64().is_some_and(|n| (0..=15).contains(&n)),
        "{before}"
    );
    let bars = s.js("return document.querySelectorAll('.tl-chart a').length;");
    assert!(bars.as_u64().unwrap_or(0) > 5, "{bars}");
    let in_chart = format!("return {TABBABLE}.filter((e) => e.closest('.tl-chart')).length;");
    assert_eq!(s.js(&in_chart), json!(1), "one tab stop for the timeline");
    s.js("document.querySelector('.tl-chart a[tabindex=\"0\"]').focus(); return 0;");
    let first = s.text("document.activeElement.dataset.month");
    s.keys("\u{E014}"); // ArrowRight
    let next = s.wait("document.activeElement.closest('.tl-chart') && document.activeElement.textContent + document.activeElement.getAttribute('aria-label')");
    assert_ne!(
        s.text("document.activeElement.dataset.month || document.activeElement.textContent"),
        first,
        "{next}"
    );
    assert_eq!(s.js(&in_chart), json!(1), "still one tab stop: {next}");
    // Conversation rows (the default view): each row's links are named
    // after its conversation, never the same name for two targets.
    let conv_names = s.js("return Array.from(document.querySelectorAll('#results .hit.conv a.conv-best, #results .hit.conv a.conv-messages')).map((a) => [a.getAttribute('aria-label') || a.textContent, a.getAttribute('href')]);");
    let mut by_name: std::collections::BTreeMap<String, std::collections::BTreeSet<String>> =
        Default::default();
    for pair in conv_names.as_array().expect("conversation links") {
        by_name
            .entry(pair[0].as_str().unwrap_or("").to_string())
            .or_default()
            .insert(pair[1].as_str().unwrap_or("").to_string());
    }
    assert!(by_name.len() >= 3, "{by_name:?}");
    for (name, targets) in &by_name {
        assert!(
            targets.len() == 1 && name.contains('“'),
            "a link not named after its conversation: {name} -> {targets:?}"
        );
    }
    // Message rows: the "thread" links are named after their subjects.
    let messages_view = Page {
        name: "search-messages",
        path: format!("{}&view=messages", f.page("search").path),
        ready: "document.querySelector('#results a.hit-thread')",
        key_controls: &[],
    };
    open(&s, base, &messages_view);
    let names = s.js("return Array.from(document.querySelectorAll('#results a.hit-thread')).map((a) => a.textContent);");
    let names: Vec<&str> = names
        .as_array()
        .expect("names")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(names.len() >= 3, "{names:?}");
    assert!(
        names
            .iter()
            .all(|n| n.starts_with("thread of “") && n.len() > 15),
        "{names:?}"
    );
    let distinct: std::collections::BTreeSet<_> = names.iter().collect();
    assert!(distinct.len() > 1, "{names:?}");

    open(&s, base, f.page("queue"));
    let look = "(() => { const st = getComputedStyle(document.querySelector(SEL)); return st.color + ' ' + st.opacity + ' ' + st.borderColor; })()";
    assert_eq!(
        s.text(&look.replace("SEL", "'.queue-actions .act-dismiss'")),
        s.text(&look.replace("SEL", "'.queue-actions .act-keep'")),
        "Dismiss looks like Keep, not disabled"
    );
}
