//! The documents the writer wrote last, kept in memory up to a byte budget.
//!
//! Moving a conversation (a reply indexed before the message it answers)
//! writes each of its documents again, and tantivy keeps no document it
//! could rewrite from: the message must be extracted again. Read back from a
//! compressed mbox that means decompressing the file from its start up to
//! the message — about half a second in the middle of a 700 MB `.mbox.zst`,
//! which made indexing a compressed archive ~7× slower than the same mail
//! uncompressed. Most members of a moved conversation were written moments
//! before, so they are found here instead.
//!
//! Knows `MailDoc`s and keys; nothing of stores or tantivy.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use crate::extract::MailDoc;

/// Bytes of mail (as the messages' sizes say) kept by default.
pub const DEFAULT_BUDGET: usize = 64 << 20;

/// Recently written documents by key, oldest forgotten first.
pub struct Recent {
    docs: HashMap<String, Arc<MailDoc>>,
    order: VecDeque<(String, Arc<MailDoc>)>,
    bytes: usize,
    budget: usize,
}

fn weight(doc: &MailDoc) -> usize {
    usize::try_from(doc.size)
        .unwrap_or(usize::MAX)
        .max(doc.body.len() + doc.quoted.len())
}

impl Recent {
    /// Keeps up to `budget` bytes of mail.
    pub fn new(budget: usize) -> Recent {
        Recent {
            docs: HashMap::new(),
            order: VecDeque::new(),
            bytes: 0,
            budget,
        }
    }

    /// Remembers `doc` as the document written under `key`.
    pub fn put(&mut self, key: &str, doc: Arc<MailDoc>) {
        let w = weight(&doc);
        if w > self.budget {
            self.docs.remove(key);
            return;
        }
        self.docs.insert(key.to_string(), doc.clone());
        self.order.push_back((key.to_string(), doc));
        self.bytes += w;
        while self.bytes > self.budget {
            let Some((old_key, old)) = self.order.pop_front() else {
                break;
            };
            self.bytes = self.bytes.saturating_sub(weight(&old));
            // Only if not written again since (a newer entry is further back).
            if self
                .docs
                .get(&old_key)
                .is_some_and(|d| Arc::ptr_eq(d, &old))
            {
                self.docs.remove(&old_key);
            }
        }
    }

    /// The document last written under `key`, if still kept.
    pub fn get(&self, key: &str) -> Option<Arc<MailDoc>> {
        self.docs.get(key).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(body: &str, size: u64) -> Arc<MailDoc> {
        let mut d = crate::extract::extract(
            format!("From: a@x\nSubject: s\n\n{body}\n").as_bytes(),
            &Default::default(),
        )
        .expect("doc");
        d.size = size;
        Arc::new(d)
    }

    #[test]
    fn keeps_the_newest_within_the_budget_and_the_last_version_of_a_key() {
        let mut r = Recent::new(1000);
        r.put("a", doc("first a", 400));
        r.put("b", doc("b", 400));
        r.put("a", doc("second a", 400)); // 1,200 bytes: the first "a" goes
        assert_eq!(r.get("a").expect("a kept").body.trim(), "second a");
        assert!(r.get("b").is_some());
        r.put("c", doc("c", 400)); // "b" is now the oldest
        assert!(r.get("b").is_none(), "the oldest is forgotten");
        assert_eq!(r.get("a").expect("a").body.trim(), "second a");
        assert!(r.get("c").is_some());
        r.put("huge", doc("x", 5000));
        assert!(
            r.get("huge").is_none(),
            "a message over the budget is not kept"
        );
        assert!(r.get("c").is_some(), "and forgets nothing else");
    }
}
