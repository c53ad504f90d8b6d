//! Harvest signals: cheap counts over the author's own words that hint a
//! message holds lasting knowledge (a confirmed fix, a procedure, commands or
//! configuration, links) and the Message-IDs it cites. Computed once at index
//! time so a review queue over years of mail is a scan of fast fields.

use std::sync::OnceLock;

use aho_corasick::AhoCorasick;
use serde::{Deserialize, Serialize};

/// Counts found in one message's own text (quoted text is not counted: a
/// reply quoting a fix did not confirm it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signals {
    /// Phrases confirming a fix or a cause ("that worked", "fixed by", "root cause").
    pub confirm: u32,
    /// Procedural language ("step 1", "how to", "run the following", numbered steps).
    pub steps: u32,
    /// Lines that look like commands, code or configuration.
    pub code: u32,
    /// http(s) links.
    pub links: u32,
    /// Message-IDs cited in the text (`<id@host>` or archive links `/r/<id>`), lowercased.
    pub cites: Vec<String>,
}

/// Phrases that confirm a fix or name a cause.
pub const CONFIRM_PHRASES: &[&str] = &[
    "that worked",
    "this worked",
    "it worked",
    "works now",
    "working now",
    "that fixed",
    "this fixed",
    "fixed it",
    "fixed by",
    "fixed in",
    "root cause",
    "the fix is",
    "the fix was",
    "solved it",
    "problem solved",
    "resolved by",
    "confirmed fixed",
];

/// Phrases of procedural language.
pub const STEP_PHRASES: &[&str] = &[
    "step 1",
    "step 2",
    "step one",
    "how to",
    "howto",
    "run the following",
    "do the following",
    "follow these",
    "the procedure",
    "instructions",
];

/// Counts the signals of `text` (the author's own words).
pub fn signals(text: &str) -> Signals {
    // One pass over the text for every phrase and link prefix, ASCII letters in
    // either case (the phrases are ASCII); every occurrence of every phrase counts.
    let mut s = Signals::default();
    let matches = phrase_matcher()
        .into_iter()
        .flat_map(|m| m.find_overlapping_iter(text));
    for m in matches {
        let i = m.pattern().as_usize();
        if i < CONFIRM_PHRASES.len() {
            s.confirm += 1;
        } else if i < CONFIRM_PHRASES.len() + STEP_PHRASES.len() {
            s.steps += 1;
        } else {
            s.links += 1;
        }
    }
    let mut numbered = 0;
    for line in text.lines() {
        if is_numbered_step(line) {
            numbered += 1;
        }
        if looks_like_code(line) {
            s.code += 1;
        }
    }
    // A numbered list of two or more items reads as steps.
    if numbered >= 2 {
        s.steps += numbered;
    }
    s.cites = cited_ids(text);
    s
}

/// Link prefixes, counted as links.
const LINK_PREFIXES: &[&str] = &["http://", "https://"];

/// The confirm phrases, then the step phrases, then the link prefixes.
/// (Building it from these few fixed phrases cannot fail; `None` is unreachable.)
fn phrase_matcher() -> Option<&'static AhoCorasick> {
    static MATCHER: OnceLock<Option<AhoCorasick>> = OnceLock::new();
    MATCHER
        .get_or_init(|| {
            let patterns = CONFIRM_PHRASES
                .iter()
                .chain(STEP_PHRASES)
                .chain(LINK_PREFIXES);
            AhoCorasick::builder()
                .ascii_case_insensitive(true)
                .build(patterns)
                .ok()
        })
        .as_ref()
}

fn is_numbered_step(line: &str) -> bool {
    let t = line.trim_start();
    let digits = t.bytes().take_while(u8::is_ascii_digit).count();
    (1..=2).contains(&digits)
        && matches!(t.as_bytes().get(digits), Some(b'.' | b')'))
        && t.as_bytes().get(digits + 1) == Some(&b' ')
}

/// Commands, code and configuration, as they appear in mail.
fn looks_like_code(line: &str) -> bool {
    let t = line.trim();
    if t.len() < 3 {
        return false;
    }
    const PREFIXES: &[&str] = &[
        "$ ",
        "# ",
        "sudo ",
        "```",
        "apt ",
        "apt-get ",
        "systemctl ",
        "git ",
        "cd /",
        "./",
        "export ",
        "echo ",
        "grep ",
        "cat ",
        "ls ",
        "make ",
        "cargo ",
        "pip ",
        "docker ",
        "kubectl ",
        "mount ",
        "chmod ",
        "chown ",
    ];
    if PREFIXES.iter().any(|p| t.starts_with(p)) {
        return true;
    }
    // Indented lines with code punctuation.
    let indented = line.starts_with("    ") || line.starts_with('\t');
    let punct = t.ends_with(';')
        || t.ends_with('{')
        || t == "}"
        || t.contains("::")
        || t.contains("->")
        || t.contains("=>");
    if indented && (punct || t.contains('=') || t.contains('/')) {
        return true;
    }
    if punct {
        return true;
    }
    // `key = value` or `Key: value` configuration with a one-word key.
    if let Some((k, v)) = t.split_once('=') {
        let k = k.trim();
        return !k.is_empty()
            && !v.trim().is_empty()
            && k.chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.-[]".contains(c));
    }
    t.starts_with('/') && t.len() > 4 && !t.contains(' ')
}

/// Message-IDs mentioned in the text.
fn cited_ids(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    // `<local@domain>`: what lies between a `<` and the next `>` with no `<`
    // between them (an id has none), so the text is read once.
    let mut rest = text;
    while let Some(open) = memchr::memchr(b'<', rest.as_bytes()) {
        rest = &rest[open + 1..];
        let Some(end) = memchr::memchr2(b'<', b'>', rest.as_bytes()) else {
            break;
        };
        if rest.as_bytes().get(end) == Some(&b'<') {
            rest = &rest[end..];
            continue;
        }
        let inner = &rest[..end];
        if is_message_id(inner) {
            out.push(inner.to_lowercase());
        }
        rest = &rest[end + 1..];
    }
    // Archive links: `.../r/<id>` (public-inbox), `.../message-id/<id>`.
    for marker in ["/r/", "/message-id/", "msgid="] {
        let mut rest = text;
        while let Some(at) = rest.find(marker) {
            rest = &rest[at + marker.len()..];
            let end = rest
                .find(|c: char| c.is_whitespace() || matches!(c, '>' | '"' | ')' | '/' | '&' | '#'))
                .unwrap_or(rest.len());
            let id = percent_decode(&rest[..end]);
            if is_message_id(&id) {
                out.push(id.to_lowercase());
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

fn is_message_id(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && s.len() <= 250
        && !s
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, '<' | '>' | '"' | ','))
        && !domain.contains('@')
        && !domain.ends_with('.')
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Some(v) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confirmations_and_steps_are_counted() {
        let s = signals(
            "Thanks, that worked! The root cause was a full disk.\nStep 1: stop the service.",
        );
        assert_eq!(s.confirm, 2);
        assert_eq!(s.steps, 1);
    }

    /// The one-pass matcher counts what counting each phrase in the lowercased
    /// text counts, in any case, overlapping phrases included.
    #[test]
    fn one_pass_counts_equal_per_phrase_counts() {
        let text = "HOW TO fix it: That Fixed It. that fixed it, Root Cause; step 1 STEP 2 \
                    see HTTPS://a.example/x and http://b.example, howto, The Procedure. \
                    It worked, it WORKED. Problem solved by the fix is the fix was.";
        let lower = text.to_lowercase();
        let count = |list: &[&str]| {
            list.iter()
                .map(|p| lower.matches(p).count() as u32)
                .sum::<u32>()
        };
        let s = signals(text);
        assert_eq!(s.confirm, count(CONFIRM_PHRASES));
        assert_eq!(s.steps, count(STEP_PHRASES));
        assert_eq!(s.links, count(LINK_PREFIXES));
        assert!(s.confirm >= 8 && s.steps >= 5 && s.links == 2, "{s:?}");
    }

    #[test]
    fn numbered_lists_count_as_steps_only_from_two_items() {
        assert_eq!(signals("1. stop it\n2. start it\n3) check").steps, 3);
        assert_eq!(signals("1. just one").steps, 0);
    }

    #[test]
    fn commands_and_config_are_code_prose_is_not() {
        let s = signals("Run this:\n$ sudo systemctl restart nginx\nmax_connections = 200\n    fn main() {\nI think we should meet on Monday.\nThe plan is fine.");
        assert_eq!(s.code, 3, "{s:?}");
    }

    #[test]
    fn links_and_cited_ids_are_found() {
        let s = signals("See https://lore.kernel.org/r/20190101.1234@host.example.org and <Abc.1@Mail.Example.com>, or http://x.org/message-id/a%40b.org here.");
        assert_eq!(s.links, 2);
        assert_eq!(
            s.cites,
            vec![
                "20190101.1234@host.example.org",
                "a@b.org",
                "abc.1@mail.example.com"
            ]
        );
    }

    /// The bracketed ids as first found: from each `<` to the next `>`.
    fn bracketed_ids_by_rescanning(text: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find('<') {
            rest = &rest[open + 1..];
            let Some(close) = rest.find('>') else { break };
            let inner = &rest[..close];
            if is_message_id(inner) {
                out.push(inner.to_lowercase());
                rest = &rest[close + 1..];
            }
        }
        out.sort();
        out.dedup();
        out
    }

    proptest::proptest! {
        #[test]
        fn bracketed_ids_are_found_as_by_rescanning(text in "[ab@.<> ]{0,40}") {
            proptest::prop_assert_eq!(cited_ids(&text), bracketed_ids_by_rescanning(&text));
        }
    }

    #[test]
    fn ids_behind_code_comparisons_are_found_in_one_pass() {
        let text = format!("{}<a@b.org> <c@d.org<e@f.org>", "if (a < b) ".repeat(5000));
        assert_eq!(cited_ids(&text), vec!["a@b.org", "e@f.org"]);
    }

    #[test]
    fn addresses_in_angle_brackets_without_a_dot_are_not_ids() {
        assert!(signals("mail <root@localhost> now").cites.is_empty());
    }
}
