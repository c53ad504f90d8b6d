//! The harvest score: how likely a thread holds knowledge worth keeping.
//!
//! Each signal contributes `weight × f(value)` points, where `f` is `ln(1+v)`
//! for counts (the tenth link matters less than the first), `ln(v)` for
//! thread length and participants (a lone message scores nothing), and the
//! value itself for likeness (0..=1). The score is the sum of the points,
//! and every queue item carries the table that explains it.

use serde::Serialize;

use crate::query::harvest::ThreadFacts;

/// One signal's part in a score.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Contribution {
    /// Signal name (`messages`, `participants`, `confirm`, `steps`, `code`,
    /// `links`, `cited_by`, `similarity`).
    pub signal: &'static str,
    /// The signal's value for this thread.
    pub value: f64,
    /// Its weight.
    pub weight: f64,
    /// Points it adds (`weight × f(value)`).
    pub points: f64,
    /// What it means, for people.
    pub why: String,
}

/// How a signal's value becomes points.
#[derive(Debug, Clone, Copy)]
enum Shape {
    /// `ln(1 + v)`
    Count,
    /// `ln(v)` for v ≥ 1
    Size,
    /// `v`
    Linear,
}

/// (signal, weight, shape, description).
const SIGNALS: &[(&str, f64, Shape, &str)] = &[
    ("messages", 1.0, Shape::Size, "messages in the thread"),
    ("participants", 1.5, Shape::Size, "distinct participants"),
    (
        "confirm",
        3.0,
        Shape::Count,
        "phrases confirming a fix or naming a cause",
    ),
    (
        "steps",
        2.0,
        Shape::Count,
        "procedural language (steps, how-to)",
    ),
    (
        "code",
        1.5,
        Shape::Count,
        "lines of commands, code or configuration",
    ),
    ("links", 0.5, Shape::Count, "links"),
    (
        "cited_by",
        3.0,
        Shape::Count,
        "later messages citing the thread",
    ),
    (
        "similarity",
        4.0,
        Shape::Linear,
        "likeness to a promoted thread",
    ),
];

fn shape(s: Shape, v: f64) -> f64 {
    match s {
        Shape::Count => (1.0 + v.max(0.0)).ln(),
        Shape::Size => v.max(1.0).ln(),
        Shape::Linear => v,
    }
}

/// The value of `signal` in `facts`.
pub fn signal_value(facts: &ThreadFacts, signal: &str) -> f64 {
    match signal {
        "messages" => f64::from(facts.messages),
        "participants" => f64::from(facts.participants),
        "confirm" => f64::from(facts.confirm),
        "steps" => f64::from(facts.steps),
        "code" => f64::from(facts.code),
        "links" => f64::from(facts.links),
        "cited_by" => f64::from(facts.cited_by),
        "similarity" => f64::from(facts.similarity),
        _ => 0.0,
    }
}

/// The score of a thread and the contributions that make it up (signals
/// that add nothing are left out of the explanation).
pub fn score(facts: &ThreadFacts) -> (f64, Vec<Contribution>) {
    let mut total = 0.0;
    let mut parts = Vec::new();
    for &(signal, weight, s, what) in SIGNALS {
        let value = signal_value(facts, signal);
        let points = weight * shape(s, value);
        if points <= 0.0 {
            continue;
        }
        total += points;
        let why = match (signal, &facts.similar_to) {
            ("similarity", Some(t)) => format!("{:.0}% like promoted thread {t}", value * 100.0),
            _ => format!("{value} {what}"),
        };
        parts.push(Contribution {
            signal,
            value,
            weight,
            points,
            why,
        });
    }
    (total, parts)
}

#[cfg(test)]
mod tests {
    use super::*;

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
                "messages",
                "participants",
                "confirm",
                "code",
                "links",
                "similarity"
            ]
        );
        let confirm = &parts[2];
        assert_eq!(confirm.value, 2.0);
        assert!((confirm.points - 3.0 * 3f64.ln()).abs() < 1e-12);
        assert!(parts[5].why.contains("50% like promoted thread p@x"));
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
        assert_eq!(score(&f), (0.0, vec![]));
    }

    #[test]
    fn more_evidence_scores_higher() {
        let base = score(&facts()).0;
        let mut f = facts();
        f.confirm += 1;
        assert!(score(&f).0 > base);
        let mut f = facts();
        f.cited_by = 2;
        assert!(score(&f).0 > base);
    }
}
