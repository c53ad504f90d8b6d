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

use std::time::Duration;

use gleaner::access::{Role, Users};
use gleaner::curate::{Curation, Decision, ReviewPolicy};
use serde_json::json;

use crate::common::{self, TestServer};
use crate::wd::{self, Session};

/// The review UI's own steps, over the shared WebDriver [`Session`].
pub(crate) trait ReviewUi {
    fn login(&self, base: &str, user: &str, password: &str);
    fn current(&self) -> String;
    fn queue_ids(&self) -> Vec<String>;
    fn wait_current(&self, id: &str);
    fn wait_done(&self, n: usize);
}

impl ReviewUi for Session {
    fn login(&self, base: &str, user: &str, password: &str) {
        self.submit_login(&format!("{base}/login"), user, password);
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

/// `corpus/sample` indexed into a new directory with the editor `rita`
/// (password `rita pw`), and the users to add more.
pub(crate) fn sample_with_editor() -> (tempfile::TempDir, Users) {
    let dir = common::tempdir();
    common::index_paths(dir.path(), &[common::sample()]);
    let users = Users::open(dir.path()).expect("users");
    users
        .add_user("rita", Role::Editor, "rita pw")
        .expect("editor");
    (dir, users)
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

pub(crate) const DOWN: &str = "\u{E015}";
pub(crate) const ENTER: &str = "\u{E007}";

#[test]
fn review_queue_by_keyboard_documents_and_cited_in() {
    let Some(bin) = wd::browser() else { return };
    let (dir, users) = sample_with_editor();
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
    let s = Session::new(&bin, "review-ui", Duration::from_secs(20));

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
