//! The harvest score: how likely a thread holds resolved, reusable knowledge.
//!
//! Each signal contributes `weight × f(value)` points, where `f` is `ln(1+v)`
//! for counts (the tenth link matters less than the first), `ln(v)` for the
//! number of participants (a lone author scores nothing), `ln(v/8)` for
//! length beyond eight messages (a long back-and-forth is more often a debate
//! than an answer), and the value itself for yes/no facts and likeness. The
//! score is the sum of the points; every queue item carries the table that
//! explains it, each line a sentence with units a reviewer can check.
//!
//! The weights were tuned by hand against the judged threads in
//! `tests/data/judged-fetchmail-users.tsv` (see docs/BENCHMARKS.md); they
//! stay round numbers with the sign the signal's meaning gives them.
//! Knows nothing of the index: it scores [`ThreadFacts`].

use serde::Serialize;

use crate::query::harvest::ThreadFacts;

/// What the score means, for people (shown by the web queue, the CLI and the API).
pub const SCALE: &str = "The score is the sum of the points listed under it. \
    10 or more: a question answered and confirmed by the asker, or answered by someone who \
    answers often, with commands or steps: most worth promoting. 4 to 10: an answered thread \
    with some evidence, worth a look. 0 to 4: little evidence. Below 0: sinks (an announcement, \
    a bot's report, a question nobody answered).";

/// One signal's part in a score.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Contribution {
    /// Signal name (`participants`, `confirmed`, `answered`, `unanswered`,
    /// `frequent_answerer`, `steps`, `code`, `machine_output`, `patch`,
    /// `doc_links`, `links`, `confirm`, `long`, `announcement`, `bot`,
    /// `cited_by`, `similarity`).
    pub signal: &'static str,
    /// The signal's value for this thread.
    pub value: f64,
    /// What the value counts (`lines`, `messages`, `people`, `links`, `yes/no`, …).
    pub unit: &'static str,
    /// Its weight.
    pub weight: f64,
    /// Points it adds (`weight × f(value)`; 0 for what is shown but not scored).
    pub points: f64,
    /// What it means, for people: a sentence with units and, where there is
    /// one, the evidence (who, when, which message).
    pub why: String,
}

/// How a signal's value becomes points.
#[derive(Debug, Clone, Copy)]
enum Shape {
    /// `ln(1 + v)`
    Count,
    /// `ln(v)` for v ≥ 1
    Size,
    /// `ln(v / 8)` for v > 8, else 0
    Long,
    /// `v`
    Linear,
}

/// (signal, weight, shape, unit).
const SIGNALS: &[(&str, f64, Shape, &str)] = &[
    ("confirmed", 4.0, Shape::Linear, "yes/no"),
    ("answered", 1.5, Shape::Linear, "yes/no"),
    ("unanswered", -3.0, Shape::Linear, "yes/no"),
    ("frequent_answerer", 1.5, Shape::Linear, "yes/no"),
    ("participants", 1.0, Shape::Size, "people"),
    ("steps", 1.5, Shape::Count, "phrases or numbered lines"),
    ("code", 1.5, Shape::Count, "lines"),
    ("machine_output", 0.0, Shape::Count, "lines"),
    ("patch", 0.5, Shape::Count, "lines"),
    ("doc_links", 1.0, Shape::Count, "links"),
    ("links", 0.3, Shape::Count, "links"),
    ("confirm", 1.0, Shape::Count, "phrases"),
    ("long", -2.0, Shape::Long, "messages"),
    ("announcement", -4.0, Shape::Linear, "yes/no"),
    ("bot", -4.0, Shape::Linear, "yes/no"),
    ("cited_by", 3.0, Shape::Count, "messages"),
    ("similarity", 4.0, Shape::Linear, "likeness 0–1"),
];

fn shape(s: Shape, v: f64) -> f64 {
    match s {
        Shape::Count => (1.0 + v.max(0.0)).ln(),
        Shape::Size => v.max(1.0).ln(),
        Shape::Long => (v / 8.0).max(1.0).ln(),
        Shape::Linear => v,
    }
}

fn yes(b: bool) -> f64 {
    if b {
        1.0
    } else {
        0.0
    }
}

/// The value of `signal` in `facts`.
pub fn signal_value(facts: &ThreadFacts, signal: &str) -> f64 {
    let c = &facts.course;
    match signal {
        "messages" | "long" => f64::from(facts.messages),
        "participants" => f64::from(facts.participants),
        "confirmed" => yes(c.confirmed),
        "answered" => yes(c.answered),
        "unanswered" => yes(c.question && !c.answered),
        "frequent_answerer" => yes(c.expert_replies > 0),
        "confirm" => f64::from(facts.confirm),
        "steps" => f64::from(facts.steps),
        // Commands and configuration in the replies: the asker's own pasted
        // configuration describes the problem, not the answer.
        "code" => f64::from(c.reply_code),
        "machine_output" => f64::from(c.machine),
        "patch" => f64::from(c.patch),
        "doc_links" => f64::from(c.doc_links),
        "links" => f64::from(facts.links.saturating_sub(c.doc_links)),
        "announcement" => yes(c.announce),
        "bot" => yes(c.bot),
        "cited_by" => f64::from(facts.cited_by),
        "similarity" => f64::from(facts.similarity),
        _ => 0.0,
    }
}

fn plural(n: f64, one: &str, many: &str) -> String {
    if (n - 1.0).abs() < f64::EPSILON {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// The sentence explaining `signal` with `value` (before evidence that
/// needs the thread's text is added by the queue).
fn why(facts: &ThreadFacts, signal: &str, value: f64) -> String {
    let c = &facts.course;
    match signal {
        "confirmed" => "the asker confirmed a fix after someone else's answer".into(),
        "answered" => "someone other than the asker replied".into(),
        "unanswered" => "the opening question got no reply from anyone else".into(),
        "frequent_answerer" => format!(
            "{} by {}, who wrote {} on this list (a frequent answerer, counted from the archive)",
            plural(f64::from(c.expert_replies), "reply", "replies"),
            c.expert.as_deref().unwrap_or("?"),
            plural(f64::from(c.expert_answers), "reply", "replies"),
        ),
        "participants" => format!("{} wrote", plural(value, "person", "people")),
        "steps" => format!(
            "{} of procedure (numbered steps, \"how to\", \"run the following\")",
            plural(value, "phrase or numbered line", "phrases or numbered lines")
        ),
        "code" => {
            let by = c
                .code_author
                .as_deref()
                .map(|a| format!(" (most by {a})"))
                .unwrap_or_default();
            let ignored = if c.machine > 0 {
                format!(
                    "; {} of pasted machine output ignored",
                    plural(f64::from(c.machine), "line", "lines")
                )
            } else {
                String::new()
            };
            format!(
                "{} of commands or configuration written in the replies{by}{ignored}",
                plural(value, "line", "lines")
            )
        }
        "machine_output" => format!(
            "{} of pasted machine output (logs, protocol traces, backtraces, dumps, build output) ignored",
            plural(value, "line", "lines")
        ),
        "patch" => format!("{} of patches (unified diff)", plural(value, "line", "lines")),
        "doc_links" => format!(
            "{} to documentation (manual, FAQ, wiki, RFC)",
            plural(value, "link", "links")
        ),
        "links" => format!("{} to other pages", plural(value, "link", "links")),
        "confirm" => format!(
            "{} confirming a fix or naming a cause (\"that worked\", \"solved\", \"root cause\"; any author)",
            plural(value, "phrase", "phrases")
        ),
        "long" => format!(
            "{} messages: a long back-and-forth is more often a debate than an answer",
            value
        ),
        "announcement" => "opens with an announcement (a release, an advisory): news, not an answer".into(),
        "bot" => "opened by a program (a bot, CI or an auto-reply)".into(),
        "cited_by" => format!(
            "{} in other threads cite it",
            plural(value, "later message", "later messages")
        ),
        "similarity" => match &facts.similar_to {
            Some(t) => format!("{:.0}% like promoted thread {t}", value * 100.0),
            None => format!("{:.0}% like a promoted thread", value * 100.0),
        },
        _ => format!("{value} {signal}"),
    }
}

/// The score of a thread and the contributions that make it up (signals
/// that add nothing are left out of the explanation, except pasted output,
/// which is shown as ignored when it replaces nothing in the code line).
pub fn score(facts: &ThreadFacts) -> (f64, Vec<Contribution>) {
    let mut total = 0.0;
    let mut parts = Vec::new();
    let code_shown = facts.course.reply_code > 0;
    for &(signal, weight, s, unit) in SIGNALS {
        let value = signal_value(facts, signal);
        let points = weight * shape(s, value);
        let shown_anyway = signal == "machine_output" && value > 0.0 && !code_shown;
        if points == 0.0 && !shown_anyway {
            continue;
        }
        total += points;
        parts.push(Contribution {
            signal,
            value,
            unit,
            weight,
            points,
            why: why(facts, signal, value),
        });
    }
    (total, parts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::resolution::Course;

    fn facts() -> ThreadFacts {
        ThreadFacts {
            thread_id: "t@x".into(),
            subject: "s".into(),
            first_message_id: "t@x".into(),
            first_doc: None,
            list: "l".into(),
            first_date: 1,
            last_date: 2,
            messages: 4,
            participants: 3,
            confirm: 2,
            steps: 0,
            code: 5,
            links: 1,
            cited_by: 0,
            similarity: 0.5,
            similar_to: Some("p@x".into()),
            course: Course {
                question: true,
                answered: true,
                reply_code: 12,
                code_author: Some("rob@example.org".into()),
                machine: 400,
                ..Course::default()
            },
        }
    }

    #[test]
    fn the_score_is_the_sum_of_its_explained_parts() {
        let (total, parts) = score(&facts());
        let sum: f64 = parts.iter().map(|p| p.points).sum();
        assert!((total - sum).abs() < 1e-12);
        let names: Vec<_> = parts.iter().map(|p| p.signal).collect();
        assert_eq!(
            names,
            [
                "answered",
                "participants",
                "code",
                "links",
                "confirm",
                "similarity"
            ]
        );
        let code = &parts[2];
        assert_eq!(
            code.why,
            "12 lines of commands or configuration written in the replies (most by rob@example.org); 400 lines of pasted machine output ignored"
        );
        assert!((code.points - 1.5 * 13f64.ln()).abs() < 1e-12);
        assert!(parts[5].why.contains("50% like promoted thread p@x"));
        assert!(parts.iter().all(|p| !p.unit.is_empty()));
    }

    #[test]
    fn pasted_output_alone_scores_nothing_but_is_said_to_be_ignored() {
        let mut f = facts();
        f.course.reply_code = 0;
        let (_, parts) = score(&f);
        let m = parts
            .iter()
            .find(|p| p.signal == "machine_output")
            .expect("shown");
        assert_eq!(m.points, 0.0);
        assert!(m.why.starts_with("400 lines of pasted machine output"));
    }

    #[test]
    fn a_lone_message_without_signals_scores_zero() {
        let mut f = facts();
        f.messages = 1;
        f.participants = 1;
        f.confirm = 0;
        f.code = 0;
        f.links = 0;
        f.similarity = 0.0;
        f.course = Course::default();
        assert_eq!(score(&f), (0.0, vec![]));
    }

    #[test]
    fn resolution_rises_and_announcements_and_unanswered_questions_sink() {
        let base = score(&facts()).0;
        let mut f = facts();
        f.course.confirmed = true;
        assert!(score(&f).0 > base);
        let mut f = facts();
        f.course.expert_replies = 1;
        assert!(score(&f).0 > base);
        let mut f = facts();
        f.course.answered = false;
        assert!(score(&f).0 < base - 3.0);
        let mut f = facts();
        f.course.announce = true;
        assert!(score(&f).0 < base - 3.0);
    }
}
