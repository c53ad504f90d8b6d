//! How a conversation went, from its messages' index-time signals: who asked,
//! whether someone else answered, whether the asker confirmed a fix after
//! that answer, who wrote the commands, and which answers came from people
//! who answer often on the list (derived from the archive: replies per
//! author counted over every scanned thread, nothing configured).
//!
//! Pure functions over per-message facts; knows nothing of tantivy, of
//! access rules (the caller passes only messages the viewer may see) or of
//! scoring.

use std::collections::HashMap;

use serde::Serialize;

/// What one message contributes, as read from the index's fast fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Msg {
    /// Date (unix seconds).
    pub date: i64,
    /// The author's address, lowercase (empty when unknown).
    pub sender: String,
    /// Confirm phrases in the author's own words.
    pub confirm: u32,
    /// Procedural language.
    pub steps: u32,
    /// Lines of commands or configuration a person wrote.
    pub code: u32,
    /// Lines asking a question.
    pub question: u32,
    /// Lines of pasted machine output.
    pub machine: u32,
    /// Lines of unified diffs.
    pub patch: u32,
    /// Links to documentation.
    pub doc_links: u32,
    /// Announcement / bot bits (`extract::signals::KIND_*`).
    pub kind: u32,
}

/// A conversation's course.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Course {
    /// The opening message asks something.
    pub question: bool,
    /// Someone other than the asker replied.
    pub answered: bool,
    /// The asker wrote a confirm phrase after someone else's reply.
    pub confirmed: bool,
    /// Replies by people who answer often on the list (not the asker).
    pub expert_replies: u32,
    /// The one of them with the most replies on the list.
    pub expert: Option<String>,
    /// Replies that person wrote on the list (all threads scanned).
    pub expert_answers: u32,
    /// Lines of commands or configuration written in replies by others than the asker.
    pub reply_code: u32,
    /// Who wrote the most command lines in those replies.
    pub code_author: Option<String>,
    /// Lines of pasted machine output in the thread (not counted as code).
    pub machine: u32,
    /// Lines of patches.
    pub patch: u32,
    /// Links to documentation.
    pub doc_links: u32,
    /// The opening message is an announcement.
    pub announce: bool,
    /// The opening message was written by a program.
    pub bot: bool,
}

/// Replies per author, keyed by (list, author): messages in a thread after
/// its first, by someone other than its first author.
pub type Answerers = HashMap<(String, String), u32>;

/// Counts the replies of `msgs` (one thread on `list`, any order) into `into`.
pub fn count_replies(list: &str, msgs: &mut [Msg], into: &mut Answerers) {
    msgs.sort_by_key(|m| m.date);
    let Some(asker) = msgs.first().map(|m| m.sender.clone()) else {
        return;
    };
    for m in msgs.iter().skip(1) {
        if !m.sender.is_empty() && m.sender != asker {
            *into
                .entry((list.to_string(), m.sender.clone()))
                .or_default() += 1;
        }
    }
}

/// The fewest replies that make an author a frequent answerer on a list
/// with `total` replies: 2% of them, at least 5.
pub fn frequent_threshold(total: u32) -> u32 {
    (total / 50).max(5)
}

/// Total replies per list.
pub fn totals(answerers: &Answerers) -> HashMap<String, u32> {
    let mut out: HashMap<String, u32> = HashMap::new();
    for ((list, _), n) in answerers {
        *out.entry(list.clone()).or_default() += n;
    }
    out
}

/// The course of one thread on `list` (`msgs` sorted oldest first, as
/// [`count_replies`] leaves them).
pub fn course(
    list: &str,
    msgs: &[Msg],
    answerers: &Answerers,
    totals: &HashMap<String, u32>,
) -> Course {
    let mut c = Course::default();
    let Some(first) = msgs.first() else {
        return c;
    };
    let asker = &first.sender;
    c.question = first.question > 0;
    c.announce = first.kind & crate::extract::signals::KIND_ANNOUNCE != 0;
    c.bot = first.kind & crate::extract::signals::KIND_BOT != 0;
    let threshold = frequent_threshold(totals.get(list).copied().unwrap_or(0));
    let mut first_answer: Option<i64> = None;
    let mut code_by: HashMap<&str, u32> = HashMap::new();
    for m in msgs {
        c.machine += m.machine;
        c.patch += m.patch;
        c.doc_links += m.doc_links;
        if m.code > 0 && !m.sender.is_empty() && &m.sender != asker {
            *code_by.entry(&m.sender).or_default() += m.code;
        }
    }
    for m in msgs.iter().skip(1) {
        let by_other = !m.sender.is_empty() && &m.sender != asker;
        if by_other {
            c.answered = true;
            first_answer = first_answer.or(Some(m.date));
            c.reply_code += m.code;
            let n = answerers
                .get(&(list.to_string(), m.sender.clone()))
                .copied()
                .unwrap_or(0);
            if n >= threshold {
                c.expert_replies += 1;
                if n > c.expert_answers {
                    c.expert_answers = n;
                    c.expert = Some(m.sender.clone());
                }
            }
        } else if &m.sender == asker && m.confirm > 0 && first_answer.is_some_and(|at| at <= m.date)
        {
            c.confirmed = true;
        }
    }
    c.code_author = code_by
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(a.0)))
        .map(|(who, _)| who.to_string());
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(date: i64, sender: &str) -> Msg {
        Msg {
            date,
            sender: sender.into(),
            ..Msg::default()
        }
    }

    #[test]
    fn a_confirmation_counts_only_from_the_asker_after_someone_elses_reply() {
        let mut q = m(1, "ann");
        q.question = 1;
        let mut early = m(2, "ann");
        early.confirm = 1;
        let mut ok = m(4, "ann");
        ok.confirm = 1;
        let mut other = m(5, "cat");
        other.confirm = 1;
        let answers = Answerers::new();
        let t = HashMap::new();
        let c = course(
            "l",
            &[q.clone(), early.clone(), m(3, "bob"), ok],
            &answers,
            &t,
        );
        assert!(c.question && c.answered && c.confirmed, "{c:?}");
        // Before any reply, or by a third person: no confirmation.
        let c = course("l", &[q.clone(), early, m(3, "bob"), other], &answers, &t);
        assert!(c.answered && !c.confirmed, "{c:?}");
        let c = course("l", &[q], &answers, &t);
        assert!(!c.answered && !c.confirmed);
    }

    #[test]
    fn frequent_answerers_are_counted_from_the_archive() {
        let mut answers = Answerers::new();
        // rob answers ten threads, eve one.
        for i in 0..10 {
            count_replies(
                "l",
                &mut [m(i * 10, &format!("u{i}")), m(i * 10 + 1, "rob")],
                &mut answers,
            );
        }
        count_replies("l", &mut [m(500, "x"), m(501, "eve")], &mut answers);
        let t = totals(&answers);
        assert_eq!(t["l"], 11);
        let c = course("l", &[m(1, "ann"), m(2, "eve"), m(3, "rob")], &answers, &t);
        assert_eq!(c.expert_replies, 1);
        assert_eq!(c.expert.as_deref(), Some("rob"));
        assert_eq!(c.expert_answers, 10);
    }

    #[test]
    fn commands_are_credited_to_their_author_and_output_is_kept_apart() {
        let mut a = m(1, "ann");
        a.code = 3;
        a.machine = 400;
        let mut b = m(2, "rob");
        b.code = 12;
        let c = course("l", &[a, b], &Answerers::new(), &HashMap::new());
        assert_eq!(c.code_author.as_deref(), Some("rob"));
        assert_eq!((c.reply_code, c.machine), (12, 400));
    }
}
