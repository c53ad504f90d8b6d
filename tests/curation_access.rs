//! Issue 23 item 4, curation under the per-list rule: a review queue's
//! explanations name only threads the reviewer can see, a published
//! document shows a citation only to readers who can see the cited message,
//! and `after_review` retention counts only decisions on threads of the
//! review policy's lists.

use gleaner::curate::{Curation, Decision, ReviewPolicy};
use gleaner::index::MailIndex;
use serde_json::json;

use crate::common::{self, tempdir};

const DEV: &str = "dev.lists.example.org";
const OPS: &str = "ops.lists.example.org";

fn policy(name: &str, lists: &[&str]) -> ReviewPolicy {
    serde_json::from_value(json!({"name": name, "lists": lists, "older_than": "6y"}))
        .expect("policy")
}

/// The sample corpus indexed into `dir`, its index and curation database.
fn sample(dir: &std::path::Path) -> (MailIndex, Curation) {
    let (index, _) = common::index_paths(dir, &[common::sample()]);
    let curation = Curation::open(dir, "http://gleaner.test").expect("curation");
    (index, curation)
}

fn queue(c: &Curation, index: &MailIndex, allowed: Option<&[String]>) -> gleaner::curate::Queue {
    c.queue(
        index,
        "old",
        &Default::default(),
        allowed,
        gleaner::db::now(),
    )
    .expect("queue")
}

// ---------------------------------------------------------------------------
// Explanations never show what the reviewer cannot see.

#[test]
fn likeness_to_a_promoted_thread_the_reviewer_cannot_see_is_neither_named_nor_scored() {
    let dir = tempdir();
    let (index, c) = sample(dir.path());
    c.put_policy(&policy("old", &[DEV, OPS]), "test")
        .expect("policy");
    let dev = [DEV.to_string()];
    let before = queue(&c, &index, Some(&dev));
    assert!(!before.items.is_empty());
    let admin = queue(&c, &index, None);
    let ops_thread = admin
        .items
        .iter()
        .find(|i| i.facts.list == OPS)
        .map(|i| i.facts.thread_id.clone())
        .expect("an ops thread");
    c.decide(
        "old",
        std::slice::from_ref(&ops_thread),
        Decision::Promote,
        "",
        "owner",
    )
    .expect("promote");
    // Whoever can see it gets threads scored and explained by likeness to it...
    let admin = queue(&c, &index, None);
    assert!(
        admin
            .items
            .iter()
            .any(|i| i.facts.list == DEV && i.facts.similar_to.as_deref() == Some(&ops_thread)),
        "dev threads are like the promoted ops thread"
    );
    // ...the dev reviewer gets the same queue as before, from the cache, and
    // nothing in it names the ops thread or any ops list.
    let after = queue(&c, &index, Some(&dev));
    assert!(
        after.cached,
        "an invisible promotion does not even re-score"
    );
    let scores = |q: &gleaner::curate::Queue| -> Vec<(String, String)> {
        q.items
            .iter()
            .map(|i| (i.facts.thread_id.clone(), format!("{:.9}", i.score)))
            .collect()
    };
    assert_eq!(scores(&before), scores(&after));
    let text = serde_json::to_string(&after.items).expect("json");
    assert!(!text.contains(&ops_thread), "{text}");
    assert!(!text.contains(OPS), "{text}");
    assert!(after.items.iter().all(|i| i.facts.similar_to.is_none()));
    assert!(after.progress.by_list.iter().all(|b| b.key == DEV));
}
