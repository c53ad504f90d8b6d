//! The answering message of a conversation: the one a promotion cites.
//!
//! A reply the asker (the author of the oldest message) confirmed in their
//! own words afterwards — a later message of theirs with a confirm phrase
//! (the `sig_confirm` signal) — is the answer: the message that confirmation
//! replies to when someone else wrote it, else the newest reply by someone
//! else before it. Without a confirmation, the reply by someone else with
//! the most steps and code lines (`sig_steps`, `sig_code`; the earliest on a
//! tie); without any reply by someone else, the first message.
//!
//! Only the messages the caller may see count. Knows nothing of curation.

use serde::Serialize;
use tantivy::DocAddress;

use super::QueryError;
use crate::index::doc::StoredMessage;
use crate::index::MailIndex;

/// Messages of a thread weighed at most (the oldest ones): each queue item
/// shown reads its thread, so a page stays cheap whatever the thread sizes.
pub const MAX_WEIGHED: usize = 500;

/// Why a message is the proposed answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Basis {
    /// The asker confirmed it: in message `by_message`, dated `at`.
    Confirmed {
        /// The confirming message's Message-ID.
        by_message: String,
        /// Its date (unix seconds).
        at: i64,
        /// Its author (`Name <addr>`).
        by: String,
        /// The confirming sentence, verbatim from the author's own words.
        quote: Option<String>,
    },
    /// No confirmation: the reply by someone else with the most steps and code.
    BestScored,
    /// Nobody else replied: the opening message.
    First,
}

impl Basis {
    /// The reason in words a reviewer can check.
    pub fn why(&self) -> String {
        match self {
            Basis::Confirmed { at, by, quote, .. } => {
                let date = super::search::rfc3339(*at);
                let day = date.get(..10).unwrap_or(&date);
                match quote {
                    Some(q) => format!("confirmed by the asker ({by}) on {day}: “{q}”"),
                    None => format!("confirmed by the asker ({by}) on {day}"),
                }
            }
            Basis::BestScored => "best-scored reply (most steps and code lines by someone other than the asker; no confirmation by the asker)".into(),
            Basis::First => "the first message (nobody else replied)".into(),
        }
    }
}

/// The proposed answer of a thread.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// The message.
    pub message: StoredMessage,
    /// Why.
    pub basis: Basis,
}

/// What [`propose`] weighs of one message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Weighed {
    /// Message-ID (lowercase is not required).
    pub message_id: String,
    /// In-Reply-To.
    pub in_reply_to: String,
    /// The author's address, lowercase.
    pub author: String,
    /// Date (unix seconds).
    pub date: i64,
    /// Confirm phrases in the author's words.
    pub confirm: u64,
    /// Procedural language.
    pub steps: u64,
    /// Lines of commands, code or configuration.
    pub code: u64,
    /// The author as shown (`Name <addr>`).
    pub from: String,
    /// The confirming sentence of a message with a confirm phrase.
    pub quote: Option<String>,
}

/// The address of `Name <addr>` (or the whole of it), lowercase.
pub fn address(from: &str) -> String {
    let a = match (from.rfind('<'), from.rfind('>')) {
        (Some(l), Some(r)) if l < r => &from[l + 1..r],
        _ => from,
    };
    a.trim().to_lowercase()
}

/// The index of the answer among `messages` (oldest first) and why; `None`
/// for no messages.
pub fn propose(messages: &[Weighed]) -> Option<(usize, Basis)> {
    let asker = &messages.first()?.author;
    let by_other = |i: usize| messages.get(i).is_some_and(|m| &m.author != asker);
    for (i, m) in messages.iter().enumerate().skip(1) {
        if &m.author != asker || m.confirm == 0 {
            continue;
        }
        let parent = messages[..i].iter().rposition(|p| {
            !m.in_reply_to.is_empty() && p.message_id.eq_ignore_ascii_case(&m.in_reply_to)
        });
        let answered = parent
            .filter(|&p| by_other(p))
            .or_else(|| (1..i).rev().find(|&p| by_other(p)));
        if let Some(a) = answered {
            let basis = Basis::Confirmed {
                by_message: m.message_id.clone(),
                at: m.date,
                by: m.from.clone(),
                quote: m.quote.clone(),
            };
            return Some((a, basis));
        }
    }
    let best = (1..messages.len())
        .filter(|&i| by_other(i))
        .max_by_key(|&i| (messages[i].steps + messages[i].code, std::cmp::Reverse(i)));
    Some(match best {
        Some(i) => (i, Basis::BestScored),
        None => (0, Basis::First),
    })
}

/// The proposed answer of thread `thread_id` among the messages `allowed`
/// lists show; `None` when none is visible.
pub fn answer(
    index: &MailIndex,
    thread_id: &str,
    allowed: Option<&[String]>,
) -> Result<Option<Answer>, QueryError> {
    let searcher = index.reader.searcher();
    let messages = super::thread::oldest_in(index, &searcher, thread_id, allowed, MAX_WEIGHED)?;
    let weighed = messages
        .iter()
        .map(|(addr, m)| weigh(&searcher, *addr, m))
        .collect::<Result<Vec<_>, _>>()?;
    let Some((i, basis)) = propose(&weighed) else {
        return Ok(None);
    };
    Ok(messages
        .into_iter()
        .nth(i)
        .map(|(_, message)| Answer { message, basis }))
}

fn weigh(
    searcher: &tantivy::Searcher,
    addr: DocAddress,
    m: &StoredMessage,
) -> Result<Weighed, QueryError> {
    let ff = searcher.segment_reader(addr.segment_ord).fast_fields();
    let read = |name: &str| -> Result<u64, QueryError> {
        Ok(ff.u64(name)?.first(addr.doc_id).unwrap_or(0))
    };
    let confirm = read("sig_confirm")?;
    Ok(Weighed {
        from: m.from.first().cloned().unwrap_or_default(),
        quote: (confirm > 0)
            .then(|| crate::extract::signals::confirming_sentence(&m.text))
            .flatten(),
        message_id: m.message_id.clone(),
        in_reply_to: m.in_reply_to.clone(),
        author: address(m.from.first().map_or("", String::as_str)),
        date: m.date,
        confirm,
        steps: read("sig_steps")?,
        code: read("sig_code")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(id: &str, parent: &str, author: &str, confirm: u64, steps: u64) -> Weighed {
        Weighed {
            message_id: id.into(),
            in_reply_to: parent.into(),
            author: author.into(),
            date: 0,
            confirm,
            steps,
            code: 0,
            from: author.into(),
            quote: None,
        }
    }

    #[test]
    fn the_reply_the_asker_confirmed_wins_over_a_longer_one() {
        let t = [
            msg("q", "", "ann", 0, 0),
            msg("a1", "q", "bob", 0, 1),
            msg("a2", "q", "cat", 0, 9),
            msg("ok", "a1", "ann", 1, 0),
        ];
        assert_eq!(propose(&t).map(|(i, _)| i), Some(1));
        // Confirming one's own message (or with no parent) names the newest other reply.
        let t = [
            msg("q", "", "ann", 0, 0),
            msg("a1", "q", "bob", 0, 1),
            msg("a2", "q", "cat", 0, 0),
            msg("ok", "q", "ann", 2, 0),
        ];
        assert_eq!(propose(&t).map(|(i, _)| i), Some(2));
    }

    #[test]
    fn without_confirmation_the_best_reply_by_another_then_the_first() {
        let t = [
            msg("q", "", "ann", 3, 5),
            msg("a1", "q", "bob", 0, 2),
            msg("a2", "q", "cat", 0, 2),
            msg("self", "q", "ann", 0, 9),
        ];
        assert_eq!(propose(&t), Some((1, Basis::BestScored)));
        let t = [msg("q", "", "ann", 0, 0), msg("more", "q", "ann", 1, 0)];
        assert_eq!(propose(&t), Some((0, Basis::First)));
        assert_eq!(propose(&[]), None);
    }

    #[test]
    fn addresses_are_compared_bare_and_lowercase() {
        assert_eq!(address("Ann Lee <Ann@Example.org>"), "ann@example.org");
        assert_eq!(address("ann@example.org"), "ann@example.org");
    }
}
