//! Harvest signals: cheap counts over the author's own words that hint a
//! message holds lasting knowledge (a confirmed fix, a procedure, commands or
//! configuration written by a person, a patch, links to documentation) or
//! does not (pasted machine output, an announcement, a bot's report), whether
//! it asks a question, and the Message-IDs it cites. Computed once at index
//! time so a review queue over years of mail is a scan of fast fields.

use std::sync::OnceLock;

use aho_corasick::AhoCorasick;
use serde::{Deserialize, Serialize};

use super::lines::Kind;

/// Counts found in one message's own text (quoted text is not counted: a
/// reply quoting a fix did not confirm it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signals {
    /// Phrases confirming a fix or a cause ("that worked", "fixed by", "root cause").
    pub confirm: u32,
    /// Procedural language ("step 1", "how to", "run the following", numbered steps).
    pub steps: u32,
    /// Lines that look like commands, code or configuration a person wrote
    /// (pasted machine output and patches are not counted here).
    pub code: u32,
    /// http(s) links.
    pub links: u32,
    /// Lines that ask something (a sentence ending in `?`).
    #[serde(default)]
    pub question: u32,
    /// Lines of pasted machine output: logs, protocol traces, backtraces,
    /// hex and probe dumps, build output, raw mail headers.
    #[serde(default)]
    pub machine: u32,
    /// Lines of unified diffs.
    #[serde(default)]
    pub patch: u32,
    /// Links to documentation (manuals, FAQs, wikis, how-tos, RFCs).
    #[serde(default)]
    pub doc_links: u32,
    /// What kind of message it is ([`KIND_ANNOUNCE`], [`KIND_BOT`] bits; set by `extract`).
    #[serde(default)]
    pub kind: u32,
    /// Message-IDs cited in the text (`<id@host>` or archive links `/r/<id>`), lowercased.
    pub cites: Vec<String>,
}

/// [`Signals::kind`] bit: an announcement (a release, a security advisory, a snapshot).
pub const KIND_ANNOUNCE: u32 = 1;
/// [`Signals::kind`] bit: written by a program (a bot, a CI system, an auto-responder).
pub const KIND_BOT: u32 = 2;

/// Phrases that confirm a fix or name a cause, in English, German, French,
/// Spanish, Dutch and Italian (those starting with a non-ASCII letter also
/// capitalised: the matcher folds ASCII case only).
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
    "now it works",
    "it works now",
    "that did it",
    "did the trick",
    "thanks, fixed",
    "is solved",
    "that solved",
    "that's it!",
    "yup, that's it",
    // de
    "hat funktioniert",
    "funktioniert jetzt",
    "funktioniert nun",
    "jetzt funktioniert",
    "jetzt geht es",
    "hat geklappt",
    "ist gelöst",
    "problem gelöst",
    "problem behoben",
    // fr
    "ça marche",
    "Ça marche",
    "ca marche",
    "ça fonctionne",
    "Ça fonctionne",
    "ça a marché",
    "Ça a marché",
    "problème résolu",
    "c'est résolu",
    // es
    "funcionó",
    "ya funciona",
    "ahora funciona",
    "funciona ahora",
    "problema resuelto",
    "está resuelto",
    "solucionado",
    // nl
    "het werkt",
    "werkt nu",
    "is opgelost",
    "probleem opgelost",
    "het is gelukt",
    // it
    "ha funzionato",
    "ora funziona",
    "adesso funziona",
    "funziona ora",
    "problema risolto",
    "ho risolto",
    "è risolto",
];

/// Words in a link that make it a link to documentation.
const DOC_MARKERS: &[&str] = &[
    "/doc",
    "docs.",
    "manual",
    "/man/",
    "-man.",
    "man.html",
    "manpage",
    "faq",
    "wiki",
    "howto",
    "readme",
    "rfc",
    "/guide",
    "handbook",
    "/help/",
    "/support/",
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
    for (line, kind) in super::lines::classify(text) {
        match kind {
            Kind::Patch => s.patch += 1,
            Kind::Machine => s.machine += 1,
            Kind::Other => {
                if is_numbered_step(line) {
                    numbered += 1;
                }
                if looks_like_code(line) {
                    s.code += 1;
                } else if asks(line) {
                    s.question += 1;
                }
                s.doc_links += doc_links(line);
            }
        }
    }
    // A numbered list of two or more items reads as steps.
    if numbered >= 2 {
        s.steps += numbered;
    }
    s.cites = cited_ids(text);
    s
}

/// Whether a line of prose asks something: a sentence in it ends with `?`
/// (not a link's query string).
fn asks(line: &str) -> bool {
    if memchr::memchr(b'?', line.as_bytes()).is_none() {
        return false;
    }
    let t = line.split("http").next().unwrap_or(line).trim_end();
    t.ends_with('?') || t.contains("? ")
}

/// Links to documentation in a line.
fn doc_links(line: &str) -> u32 {
    let mut n = 0;
    let mut rest = line;
    while let Some(at) = memchr::memmem::find(rest.as_bytes(), b"http") {
        let url = &rest[at..];
        let end = url
            .find(|c: char| c.is_whitespace() || matches!(c, '>' | '"' | ')'))
            .unwrap_or(url.len());
        let link = url[..end].to_ascii_lowercase();
        if link.contains("://") && DOC_MARKERS.iter().any(|m| link.contains(m)) {
            n += 1;
        }
        rest = &url[end.max(4)..];
    }
    n
}

/// Whether a subject (not a reply's) asks something.
pub fn subject_asks(subject: &str) -> bool {
    let s = subject.trim();
    let lower = s.to_lowercase();
    !(lower.starts_with("re:") || lower.contains(" re: ")) && s.ends_with('?')
}

/// The sentence of `text` holding its first confirm phrase, trimmed to at
/// most 240 characters, for a reviewer to check; `None` without one.
pub fn confirming_sentence(text: &str) -> Option<String> {
    let m = phrase_matcher()?
        .find_overlapping_iter(text)
        .find(|m| m.pattern().as_usize() < CONFIRM_PHRASES.len())?;
    let is_end = |c: char| matches!(c, '.' | '!' | '?' | '\n');
    let start = text[..m.start()].rfind(is_end).map_or(0, |i| i + 1);
    let end = text[m.end()..]
        .find(is_end)
        .map_or(text.len(), |i| m.end() + i + 1);
    let sentence = text[start..end]
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    Some(if sentence.chars().count() > 240 {
        let cut: String = sentence.chars().take(239).collect();
        format!("{cut}…")
    } else {
        sentence
    })
}

/// Subject words of an announcement.
const ANNOUNCE_SUBJECT: &[&str] = &[
    "[announce",
    "announce:",
    "[ann]",
    "ann:",
    "announcement",
    "released",
    "release candidate",
    "release available",
    "snapshot",
    "security fix",
    "security advisory",
    "now available",
    " available (",
];
/// Opening words of an announcement.
const ANNOUNCE_BODY: &[&str] = &[
    "i am announcing",
    "i'm announcing",
    "i have released",
    "i've released",
    "we are pleased to announce",
    "we're pleased to announce",
    "is pleased to announce",
    "i have uploaded",
    "new release of",
];
/// Sender local parts and names of programs.
const BOT_SENDERS: &[&str] = &[
    "noreply",
    "no-reply",
    "donotreply",
    "do-not-reply",
    "mailer-daemon",
    "bugzilla",
    "jenkins",
    "buildbot",
    "syzbot",
    "patchwork",
    "github-actions",
    "gitlab",
    "lkp@",
    "robot",
    "cron",
    "nagios",
    "monitoring",
    "notifications@",
];

/// [`KIND_ANNOUNCE`] and [`KIND_BOT`] bits of a message: `subject`, the
/// first author's address, its `Auto-Submitted` header, and the author's own words.
pub fn message_kind(subject: &str, from: &str, auto_submitted: Option<&str>, text: &str) -> u32 {
    let mut kind = 0;
    let subject = format!(" {} ", subject.to_lowercase());
    let opening: String = text.chars().take(600).collect::<String>().to_lowercase();
    let is_reply = subject.trim_start().starts_with("re:") || subject.contains(" re: ");
    // Announcing words in the opening, or in a subject of a message that
    // asks nothing ("6.3.9 snapshot crashes, why?" is a question).
    let asks_nothing = || !text.lines().take(40).any(asks);
    if !is_reply
        && !subject.contains('?')
        && (ANNOUNCE_BODY.iter().any(|w| opening.contains(w))
            || (ANNOUNCE_SUBJECT.iter().any(|w| subject.contains(w)) && asks_nothing()))
    {
        kind |= KIND_ANNOUNCE;
    }
    let from = from.to_lowercase();
    let auto = auto_submitted.is_some_and(|v| !v.trim().eq_ignore_ascii_case("no"));
    if auto || BOT_SENDERS.iter().any(|b| from.contains(b)) {
        kind |= KIND_BOT;
    }
    kind
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
            // A DFA: the overlapping search over every message's text ran
            // on the default NFA at twice the cost.
            AhoCorasick::builder()
                .ascii_case_insensitive(true)
                .kind(Some(aho_corasick::AhoCorasickKind::DFA))
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
    let punct = t.ends_with(';') || t.ends_with('{') || t == "}" || has_arrow(t);
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

/// Whether `t` contains `::`, `->` or `=>` (one scan instead of three).
fn has_arrow(t: &str) -> bool {
    let b = t.as_bytes();
    memchr::memchr3_iter(b':', b'-', b'=', b).any(|i| {
        matches!(
            (b[i], b.get(i + 1)),
            (b':', Some(b':')) | (b'-' | b'=', Some(b'>'))
        )
    })
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

    proptest::proptest! {
        #[test]
        fn arrows_are_found_as_by_contains(t in "[:=\\->a é]{0,16}") {
            let by_contains = t.contains("::") || t.contains("->") || t.contains("=>");
            proptest::prop_assert_eq!(has_arrow(&t), by_contains, "{:?}", t);
        }
    }

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
    fn the_confirming_sentence_is_quoted_whole() {
        let t = "I tried again.\nThanks Rob, that worked like a charm! Now on to the next thing.";
        assert_eq!(
            confirming_sentence(t).as_deref(),
            Some("Thanks Rob, that worked like a charm!")
        );
        assert_eq!(confirming_sentence("No luck."), None);
        assert!(subject_asks("How do I keep mail?") && !subject_asks("Re: How do I keep mail?"));
    }

    #[test]
    fn confirmations_are_found_in_six_languages() {
        for t in [
            "Thanks, fixed.",
            "Danke, jetzt funktioniert es.",
            "Merci, ça marche !",
            "Gracias, ya funciona.",
            "Bedankt, het werkt.",
            "Grazie, ora funziona.",
        ] {
            assert!(signals(t).confirm >= 1, "{t}");
        }
        assert_eq!(signals("Das Problem ist ungeklärt.").confirm, 0);
    }

    #[test]
    fn pasted_output_is_not_code_and_patches_are_their_own() {
        let s = signals("Try this:\n$ fetchmail -vvv --nodetach\npoll pop.example.org proto pop3\n\nMy log:\nfetchmail: 6.3.8 querying pop.example.org\nfetchmail: POP3< +OK ready\nJul 14 06:04:52 host fetchmail[1]: timeout\n--- a/x.c\n+++ b/x.c\n@@ -1 +1 @@\n-a;\n+b;\nDoes that help? See http://www.fetchmail.info/fetchmail-FAQ.html#G3 too.");
        assert_eq!((s.code, s.machine, s.patch), (1, 3, 5), "{s:?}");
        assert_eq!((s.question, s.doc_links), (1, 1), "{s:?}");
    }

    #[test]
    fn announcements_and_bots_are_told_apart_from_questions() {
        let ann = message_kind(
            "fetchmail 6.3.10 release available (STABLE)",
            "matthias@example.org",
            None,
            "I am announcing the release of fetchmail 6.3.10.",
        );
        assert_eq!(ann, KIND_ANNOUNCE);
        assert_eq!(
            message_kind(
                "Re: fetchmail 6.3.10 release available",
                "a@example.org",
                None,
                "It crashes."
            ),
            0
        );
        let question = "It crashes on start. Any idea why?";
        assert_eq!(
            message_kind("6.3.9 snapshot", "a@example.org", None, question),
            0
        );
        assert_eq!(
            message_kind("Build failed", "jenkins@ci.example.org", None, ""),
            KIND_BOT
        );
        assert_eq!(
            message_kind("Vacation", "a@example.org", Some("auto-replied"), ""),
            KIND_BOT
        );
        assert_eq!(
            message_kind("How do I keep mail?", "a@example.org", Some("no"), "How?"),
            0
        );
    }

    #[test]
    fn addresses_in_angle_brackets_without_a_dot_are_not_ids() {
        assert!(signals("mail <root@localhost> now").cites.is_empty());
    }
}
