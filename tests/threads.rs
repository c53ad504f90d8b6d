//! Conversations: the connected components of the Message-IDs messages name,
//! checked against an independent union of the headers of the shared real
//! lists, and curated state surviving conversations that grow and merge.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use gleaner::curate::queue::QueueOptions;
use gleaner::curate::{Curation, Decision, ReviewPolicy};
use gleaner::index::doc::StoredMessage;
use gleaner::index::MailIndex;
use tantivy::collector::DocSetCollector;
use tantivy::query::AllQuery;

use crate::common::{index_paths, shared_corpora, tempdir};

/// Every indexed message.
fn stored(index: &MailIndex) -> Vec<StoredMessage> {
    let searcher = index.reader.searcher();
    let docs = searcher.search(&AllQuery, &DocSetCollector).unwrap();
    let mut loader = gleaner::index::doc::Loader::new(&searcher, &index.fields);
    docs.into_iter().map(|a| loader.load(a).unwrap()).collect()
}

/// The oracle's view of one message: its id, the ids it names, its subject.
struct Header {
    id: String,
    named: Vec<String>,
    subject: String,
}

/// Unfolded header lines of one raw message, names lowercased.
fn header_lines(raw: &str) -> Vec<(String, String)> {
    let head = raw.split("\n\n").next().unwrap_or_default();
    crate::common::header_fields(head)
}

/// `<...>` ids in a header value, lowercased.
fn bracketed(value: &str) -> Vec<String> {
    value
        .split('<')
        .skip(1)
        .filter_map(|s| s.split_once('>').map(|(id, _)| id.trim().to_lowercase()))
        .filter(|id| !id.is_empty())
        .collect()
}

/// A plain normaliser for subjects: lowercase, no `[tags]`, no `re:`/`fwd:`.
fn plain_subject(s: &str) -> String {
    let mut s = s.to_lowercase();
    loop {
        let t = s.trim_start();
        let next = if t.starts_with('[') {
            t.find(']').map(|e| t[e + 1..].to_string())
        } else {
            ["re:", "fwd:", "fw:", "aw:", "re :"]
                .iter()
                .find_map(|p| t.strip_prefix(p).map(str::to_string))
        };
        match next {
            Some(n) if n.trim() != s.trim() => s = n,
            _ => break,
        }
    }
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The messages of an mboxrd file (zstd-compressed), split at `From ` lines
/// after a blank line, with the headers the oracle needs.
fn read_mbox_zst(path: &Path) -> Vec<Header> {
    let bytes = zstd::stream::decode_all(std::fs::File::open(path).unwrap()).unwrap();
    let text = String::from_utf8_lossy(&bytes);
    let mut messages: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut blank_before = true;
    for line in text.split('\n') {
        if line.starts_with("From ") && blank_before {
            if !current.is_empty() {
                messages.push(std::mem::take(&mut current));
            }
        } else {
            current.push_str(line);
            current.push('\n');
        }
        blank_before = line.trim_end_matches('\r').is_empty();
    }
    if !current.trim().is_empty() {
        messages.push(current);
    }
    messages
        .iter()
        .filter_map(|m| {
            let h = header_lines(m);
            let get = |name: &str| {
                h.iter()
                    .filter(|(n, _)| n == name)
                    .map(|(_, v)| v.as_str())
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            let id = bracketed(&get("message-id")).into_iter().next()?;
            let mut named = bracketed(&get("references"));
            named.extend(bracketed(&get("in-reply-to")));
            Some(Header {
                id,
                named,
                subject: plain_subject(&get("subject")),
            })
        })
        .collect()
}

/// Union-find over strings.
#[derive(Default)]
struct Components {
    parent: HashMap<String, String>,
}

impl Components {
    fn find(&mut self, x: &str) -> String {
        let mut at = x.to_string();
        loop {
            let p = self
                .parent
                .entry(at.clone())
                .or_insert_with(|| at.clone())
                .clone();
            if p == at {
                return at;
            }
            at = p;
        }
    }

    fn union(&mut self, a: &str, b: &str) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            self.parent.insert(ra, rb);
        }
    }
}

fn real_list(name: &str) -> Option<PathBuf> {
    let p = shared_corpora()?.join("lists").join(name);
    if p.is_file() {
        Some(p)
    } else {
        assert!(
            std::env::var("CI").is_err(),
            "{} is missing under CI",
            p.display()
        );
        eprintln!("NOTICE: {} is absent; skipped", p.display());
        None
    }
}

#[test]
fn conversations_on_real_lists_equal_the_union_of_their_headers() {
    for name in ["kasan-dev.mbox.zst", "linux-erofs.mbox.zst"] {
        let Some(path) = real_list(name) else { return };
        let headers = read_mbox_zst(&path);
        assert!(
            headers.len() > 4_000,
            "{name}: {} messages read",
            headers.len()
        );
        let mut oracle = Components::default();
        for h in &headers {
            oracle.find(&h.id);
            for n in &h.named {
                oracle.union(&h.id, n);
            }
        }
        // How many conversations the old rule (first References id, else
        // In-Reply-To) cut into pieces: the data must exercise the fix.
        let mut first_ref_roots: HashMap<String, BTreeSet<String>> = HashMap::new();
        for h in &headers {
            let old = h.named.first().unwrap_or(&h.id).clone();
            first_ref_roots
                .entry(oracle.find(&h.id))
                .or_default()
                .insert(old);
        }
        let split_by_old_rule = first_ref_roots.values().filter(|r| r.len() > 1).count();
        assert!(
            split_by_old_rule > 10,
            "{name}: only {split_by_old_rule} conversations have replies naming only their parent"
        );

        let dir = tempdir();
        let (index, _) = index_paths(dir.path(), std::slice::from_ref(&path));
        let thread_of: HashMap<String, String> = stored(&index)
            .into_iter()
            .map(|m| (m.message_id.to_lowercase(), m.thread_id))
            .collect();
        // No split: one oracle component is one conversation.
        let mut conversation_of_component: HashMap<String, String> = HashMap::new();
        let mut components_of_conversation: HashMap<String, BTreeSet<String>> = HashMap::new();
        let mut subjects_of_component: HashMap<String, BTreeSet<String>> = HashMap::new();
        for h in &headers {
            let component = oracle.find(&h.id);
            let thread = thread_of
                .get(&h.id)
                .unwrap_or_else(|| panic!("{name}: <{}> is indexed", h.id));
            let known = conversation_of_component
                .entry(component.clone())
                .or_insert_with(|| thread.clone());
            assert_eq!(
                known, thread,
                "{name}: <{}> is split from the rest of its conversation",
                h.id
            );
            components_of_conversation
                .entry(thread.clone())
                .or_default()
                .insert(component.clone());
            subjects_of_component
                .entry(component)
                .or_default()
                .insert(h.subject.clone());
        }
        // No merge of header-linked components but by a shared subject.
        let mut joined_by_subject = 0;
        for (thread, components) in &components_of_conversation {
            if components.len() < 2 {
                continue;
            }
            let subjects: Vec<&BTreeSet<String>> = components
                .iter()
                .map(|c| &subjects_of_component[c])
                .collect();
            for s in &subjects[1..] {
                assert!(
                    s.intersection(subjects[0]).next().is_some(),
                    "{name}: conversation {thread} joins components with different subjects: {subjects:?}"
                );
            }
            joined_by_subject += components.len() - 1;
        }
        let conversations = components_of_conversation.len();
        eprintln!(
            "{name}: {} messages, {} header components, {conversations} conversations \
             ({joined_by_subject} joined by subject); the first-References rule split {split_by_old_rule}",
            headers.len(),
            conversation_of_component.len(),
        );
    }
}

const LIST: &str = "ops.lists.example.org";

/// Writes one message into `maildir/cur`.
fn deliver(
    maildir: &Path,
    name: &str,
    id: &str,
    refs: &[&str],
    irt: Option<&str>,
    subject: &str,
    date: &str,
) {
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(maildir.join(sub)).unwrap();
    }
    let mut m = format!(
        "From: Someone {name} <{name}@example.org>\nTo: {LIST}\nList-Id: <{LIST}>\nSubject: {subject}\nDate: {date}\nMessage-ID: <{id}>\n"
    );
    if !refs.is_empty() {
        let refs: Vec<String> = refs.iter().map(|r| format!("<{r}>")).collect();
        m.push_str(&format!("References: {}\n", refs.join(" ")));
    }
    if let Some(p) = irt {
        m.push_str(&format!("In-Reply-To: <{p}>\n"));
    }
    m.push_str(&format!(
        "\nWords of {name} about the disk that filled up.\n"
    ));
    std::fs::write(maildir.join("cur").join(format!("{name}:2,S")), m).unwrap();
}

fn reindex(data: &Path, maildir: &Path) -> MailIndex {
    index_paths(data, &[maildir.to_path_buf()]).0
}

fn queue_decisions(
    curation: &Curation,
    index: &MailIndex,
) -> Vec<(String, usize, Option<Decision>)> {
    let q = curation
        .queue(
            index,
            "old",
            &QueueOptions {
                include_decided: true,
                ..QueueOptions::default()
            },
            &gleaner::curate::Asked {
                allowed: None,
                now: time::OffsetDateTime::now_utc().unix_timestamp(),
                budget: &gleaner::query::limits::Budget::job(),
            },
        )
        .unwrap();
    q.items
        .into_iter()
        .map(|i| {
            (
                i.facts.thread_id,
                i.facts.messages as usize,
                i.decision.map(|d| d.decision),
            )
        })
        .collect()
}

#[test]
fn decisions_survive_a_late_root_and_a_merge_of_conversations() {
    let dir = tempdir();
    let data = dir.path();
    let maildir = data.join("mail");
    let curation = Curation::open(data, "http://gleaner.test").unwrap();
    curation
        .put_policy(
            &ReviewPolicy {
                name: "old".into(),
                lists: vec![LIST.into()],
                older_than: "1y".into(),
                age_basis: Default::default(),
                query: None,
                origin: "ui".into(),
            },
            "test",
        )
        .unwrap();

    // Conversation 1: two replies arrive, their root has not.
    deliver(
        &maildir,
        "r1",
        "r1@x",
        &["root@x"],
        Some("root@x"),
        "Re: disk full",
        "Mon, 2 Mar 2015 10:00:00 +0000",
    );
    deliver(
        &maildir,
        "r2",
        "r2@x",
        &[],
        Some("r1@x"),
        "Re: disk full",
        "Mon, 2 Mar 2015 11:00:00 +0000",
    );
    // Conversation 2: a reply whose parent (b) is not here yet.
    deliver(
        &maildir,
        "c",
        "c@x",
        &[],
        Some("b@x"),
        "Re: backups",
        "Tue, 3 Mar 2015 10:00:00 +0000",
    );
    // Conversation 3: a root.
    deliver(
        &maildir,
        "a",
        "a@x",
        &[],
        None,
        "backups",
        "Tue, 3 Mar 2015 08:00:00 +0000",
    );
    let index = reindex(data, &maildir);
    let before = queue_decisions(&curation, &index);
    assert_eq!(before.len(), 3, "{before:?}");
    let first = before.iter().find(|t| t.1 == 2).unwrap().0.clone();
    let c_thread = gleaner::query::thread::resolve(&index, "c@x").unwrap();
    let a_thread = gleaner::query::thread::resolve(&index, "a@x").unwrap();
    assert_ne!(c_thread, a_thread);
    curation
        .decide(
            "old",
            std::slice::from_ref(&first),
            Decision::Promote,
            "fix",
            "rita",
        )
        .unwrap();
    curation
        .decide(
            "old",
            std::slice::from_ref(&c_thread),
            Decision::Keep,
            "",
            "rita",
        )
        .unwrap();
    drop(index);

    // The root of conversation 1 arrives; b arrives and bridges 2 and 3.
    deliver(
        &maildir,
        "root",
        "root@x",
        &[],
        None,
        "disk full",
        "Mon, 2 Mar 2015 09:00:00 +0000",
    );
    deliver(
        &maildir,
        "b",
        "b@x",
        &["a@x"],
        Some("a@x"),
        "Re: backups",
        "Tue, 3 Mar 2015 09:00:00 +0000",
    );
    let index = reindex(data, &maildir);
    let after = queue_decisions(&curation, &index);
    assert_eq!(
        after.len(),
        2,
        "the bridge joins two conversations: {after:?}"
    );
    let disk = after.iter().find(|t| t.1 == 3).unwrap();
    assert_eq!(
        disk.0, first,
        "a late root does not rename its conversation"
    );
    assert_eq!(disk.2, Some(Decision::Promote));
    let merged = after.iter().find(|t| t.1 == 3 && t.0 != first).unwrap();
    assert_eq!(
        merged.2,
        Some(Decision::Keep),
        "the decision on a merged-away conversation follows its messages"
    );
    // The thread view of either old id shows the whole conversation.
    for old in [&c_thread, &a_thread] {
        let t = gleaner::query::thread::thread(&index, old, None)
            .unwrap()
            .unwrap();
        assert_eq!(t.len, 3, "thread {old}");
        assert_eq!(t.thread_id, merged.0);
    }
}

#[test]
fn replies_that_lost_their_headers_join_by_subject_within_a_list_and_window() {
    let dir = tempdir();
    let data = dir.path();
    let maildir = data.join("mail");
    deliver(
        &maildir,
        "q",
        "q@x",
        &[],
        None,
        "fetchmail dies on 501",
        "Mon, 2 Mar 2015 09:00:00 +0000",
    );
    deliver(
        &maildir,
        "ans",
        "ans@x",
        &[],
        None,
        "Re: fetchmail dies on 501",
        "Tue, 3 Mar 2015 09:00:00 +0000",
    );
    deliver(
        &maildir,
        "late",
        "late@x",
        &[],
        None,
        "Re: fetchmail dies on 501",
        "Tue, 3 Mar 2020 09:00:00 +0000",
    );
    deliver(
        &maildir,
        "h1",
        "h1@x",
        &[],
        None,
        "help",
        "Mon, 2 Mar 2015 09:00:00 +0000",
    );
    deliver(
        &maildir,
        "h2",
        "h2@x",
        &[],
        None,
        "Re: help",
        "Mon, 2 Mar 2015 10:00:00 +0000",
    );
    let index = reindex(data, &maildir);
    let t = |id: &str| gleaner::query::thread::resolve(&index, id).unwrap();
    assert_eq!(
        t("q@x"),
        t("ans@x"),
        "a reply without headers joins by subject"
    );
    assert_ne!(t("q@x"), t("late@x"), "not five years later");
    assert_ne!(t("h1@x"), t("h2@x"), "never by a generic subject alone");
}
