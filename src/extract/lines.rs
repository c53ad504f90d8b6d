//! What each line of an author's own words is: prose, a patch, output a
//! machine printed and someone pasted (logs, protocol traces, backtraces,
//! hex and probe dumps, build output, mail headers), or something else
//! (commands and configuration are told apart from prose by `signals`).
//! Pure text rules, no I/O; knows nothing of the index or of scoring.

/// The kind of one line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Part of a unified diff (headers, hunk markers and hunk lines).
    Patch,
    /// Output of a program, pasted.
    Machine,
    /// Anything else: prose, or commands and configuration a person wrote.
    Other,
}

/// Every line of `text` (as `str::lines` splits it) with its kind, in order,
/// read in one pass. A line right after machine output that is indented (a
/// folded header, a stack frame) is machine output too; lines inside a diff's
/// hunks are patch lines.
pub fn classify(text: &str) -> Classify<'_> {
    Classify {
        lines: text.lines().peekable(),
        in_hunk: false,
        prev: Kind::Other,
    }
}

/// The iterator of [`classify`].
pub struct Classify<'a> {
    lines: std::iter::Peekable<std::str::Lines<'a>>,
    in_hunk: bool,
    prev: Kind,
}

impl<'a> Iterator for Classify<'a> {
    type Item = (&'a str, Kind);

    fn next(&mut self) -> Option<(&'a str, Kind)> {
        let line = self.lines.next()?;
        let next = self.lines.peek().copied().unwrap_or("");
        let kind = if starts_patch(line, next) || line.starts_with("@@ ") {
            self.in_hunk = line.starts_with("@@ ") || self.in_hunk;
            Kind::Patch
        } else if self.in_hunk && (line.starts_with([' ', '+', '-']) || line.is_empty()) {
            Kind::Patch
        } else {
            self.in_hunk = false;
            if is_machine(line)
                || (self.prev == Kind::Machine
                    && line.starts_with([' ', '\t'])
                    && !line.trim().is_empty())
            {
                Kind::Machine
            } else {
                Kind::Other
            }
        };
        self.prev = kind;
        Some((line, kind))
    }
}

/// The first line of a diff: `diff --git`, `Index: file` (svn), or a
/// `--- a` line followed by `+++ b`.
fn starts_patch(line: &str, next: &str) -> bool {
    line.starts_with("diff --git ")
        || line.starts_with("diff -")
        || (line.starts_with("Index: ") && !line.contains("  "))
        || (line.starts_with("--- ") && next.starts_with("+++ "))
        || (line.starts_with("+++ ") && line.len() > 4)
        || line.starts_with("=====")
            && next.starts_with(['-', 'd', 'I', '='])
            && !next.trim().is_empty()
            && line.trim_end_matches('=').is_empty()
}

/// Words that end in `:` at the start of a person's sentence; a line starting
/// `word: ` with any other lowercase word is a program's output (`fetchmail: `,
/// `gcc: `, `kernel: `).
const PROSE_LABELS: &[&str] = &[
    "note",
    "ps",
    "btw",
    "edit",
    "update",
    "re",
    "question",
    "answer",
    "example",
    "result",
    "problem",
    "solution",
    "fix",
    "workaround",
    "reason",
    "summary",
    "tl;dr",
    "p.s",
    "hint",
    "warning",
    "error",
    "see",
    "also",
    "and",
    "but",
    "so",
    "then",
    "here",
    "now",
    "yes",
    "no",
    "ok",
    "well",
    "thanks",
    "hi",
    "hello",
    "dear",
    "quote",
    "cause",
    "step",
    "steps",
    "first",
    "second",
    "finally",
    "option",
    "options",
    "subject",
    "from",
    "to",
    "date",
    "cc",
];

/// Mail header names that, pasted, are raw headers rather than prose.
const HEADER_NAMES: &[&str] = &[
    "received:",
    "return-path:",
    "delivered-to:",
    "x-original-to:",
    "message-id:",
    "content-type:",
    "content-transfer-encoding:",
    "mime-version:",
    "dkim-signature:",
    "authentication-results:",
    "x-spam-status:",
    "x-mailer:",
    "envelope-to:",
    "references:",
    "in-reply-to:",
    "list-id:",
    "x-received:",
    "arc-seal:",
];

/// Whether a line looks like output a program printed.
pub fn is_machine(line: &str) -> bool {
    let t = line.trim_start();
    if t.len() < 4 {
        return false;
    }
    // The first bytes, ASCII-lowercased, without allocating.
    let mut buf = [0u8; 40];
    let n = t.len().min(buf.len());
    buf[..n].copy_from_slice(&t.as_bytes()[..n]);
    buf.make_ascii_lowercase();
    let lower_start = &buf[..n];
    syslog_stamp(t)
        || iso_stamp(t)
        || dmesg_stamp(t)
        || protocol_trace(t)
        || backtrace(t)
        || hex_dump(t)
        || build_output(t, lower_start)
        || HEADER_NAMES
            .iter()
            .any(|h| lower_start.starts_with(h.as_bytes()))
        || program_prefix(t)
}

/// `Jul 14 06:04:52 host prog[123]: ...`
fn syslog_stamp(t: &str) -> bool {
    let b = t.as_bytes();
    b.len() > 16
        && b[0].is_ascii_uppercase()
        && b[1].is_ascii_lowercase()
        && b[2].is_ascii_lowercase()
        && b[3] == b' '
        && (b[4] == b' ' || b[4].is_ascii_digit())
        && b[5].is_ascii_digit()
        && b[6] == b' '
        && clock(&b[7..])
}

/// `hh:mm:ss` at the start of `b`.
fn clock(b: &[u8]) -> bool {
    b.len() >= 8
        && b[0].is_ascii_digit()
        && b[1].is_ascii_digit()
        && b[2] == b':'
        && b[3].is_ascii_digit()
        && b[4].is_ascii_digit()
        && b[5] == b':'
        && b[6].is_ascii_digit()
        && b[7].is_ascii_digit()
}

/// `2024-03-01 12:00:00` or `2024-03-01T12:00`.
fn iso_stamp(t: &str) -> bool {
    let b = t.as_bytes();
    b.len() > 16
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[7] == b'-'
        && (b[10] == b' ' || b[10] == b'T')
        && b[11].is_ascii_digit()
        && b[13] == b':'
}

/// `[   12.345678] ...` (kernel messages).
fn dmesg_stamp(t: &str) -> bool {
    let Some(rest) = t.strip_prefix('[') else {
        return false;
    };
    let Some(end) = rest.find(']') else {
        return false;
    };
    let inner = rest[..end].trim();
    inner.contains('.') && inner.len() >= 3 && inner.chars().all(|c| c.is_ascii_digit() || c == '.')
}

/// `IMAP< A0001 OK`, `POP3> USER x`, `S: +OK`, `C: LOGIN`.
fn protocol_trace(t: &str) -> bool {
    const P: &[&str] = &[
        "IMAP< ", "IMAP> ", "POP3< ", "POP3> ", "SMTP< ", "SMTP> ", "LMTP< ", "LMTP> ", "S: ",
        "C: ", "<<< ", ">>> ",
    ];
    P.iter().any(|p| t.starts_with(p)) || traced_inside(t)
}

/// Whether ` IMAP< ` or ` POP3< ` occurs in `t`: one scan for `<` instead of
/// one per needle (this runs on every line of every message).
fn traced_inside(t: &str) -> bool {
    let b = t.as_bytes();
    memchr::memchr_iter(b'<', b).any(|i| {
        i >= 5
            && b.get(i + 1) == Some(&b' ')
            && b[i - 5] == b' '
            && matches!(&b[i - 4..i], b"IMAP" | b"POP3")
    })
}

/// `#0  0x00007f in main () at x.c:12`, `at foo(File.java:3)`,
/// `Traceback (most recent call last):`, `File "x.py", line 3`.
fn backtrace(t: &str) -> bool {
    if let Some(rest) = t.strip_prefix('#') {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 && rest[digits..].trim_start().starts_with("0x")
            || (digits > 0 && rest.contains(" in ") && rest.contains('('))
        {
            return true;
        }
    }
    t.starts_with("Traceback (most recent call last)")
        || (t.starts_with("File \"") && t.contains("\", line "))
        || (t.starts_with("at ") && t.ends_with(')') && t.contains(".java:"))
        || t.starts_with("thread '") && t.contains("panicked at")
        || t.starts_with("Segmentation fault")
        || t.starts_with("Program received signal")
}

/// `0000: 4a 6f 68 6e ...` or a line of eight or more hex byte pairs.
fn hex_dump(t: &str) -> bool {
    const PAIRS: usize = 8;
    // Eight pairs and the seven spaces between them.
    if t.len() < PAIRS * 3 - 1 {
        return false;
    }
    if t.is_ascii() {
        // ASCII whitespace is what `char::is_whitespace` accepts below 0x80;
        // one pass over the bytes, no decoding of characters, no slices.
        let mut pairs = 0;
        // Length of the current word (capped at 3), and whether it is all hex.
        let (mut len, mut hex) = (0u8, true);
        for &c in t.as_bytes().iter().chain(std::iter::once(&b' ')) {
            if matches!(c, b'\t'..=b'\r' | b' ') {
                if len == 2 && hex {
                    pairs += 1;
                    if pairs == PAIRS {
                        return true;
                    }
                }
                (len, hex) = (0, true);
            } else {
                len = (len + 1).min(3);
                hex &= c.is_ascii_hexdigit();
            }
        }
        false
    } else {
        t.split_whitespace()
            .filter(|w| w.len() == 2 && w.bytes().all(|c| c.is_ascii_hexdigit()))
            .nth(PAIRS - 1)
            .is_some()
    }
}

/// Compiler, linker, make and configure output.
fn build_output(t: &str, lower: &[u8]) -> bool {
    const P: &[&str] = &[
        "gcc ",
        "cc ",
        "g++ ",
        "clang ",
        "ld: ",
        "make[",
        "make: ",
        "libtool: ",
        "checking ",
        "configure: ",
        "in file included from ",
        "collect2: ",
        "/usr/bin/ld",
        "cc1: ",
        "error[e",
        "warning: unused",
        "compiling ",
    ];
    if P.iter().any(|p| lower.starts_with(p.as_bytes())) {
        return true;
    }
    // `file.c:123: error ...` / `src/x.rs:12:5: warning`
    let Some((path, rest)) = t.split_once(':') else {
        return false;
    };
    !path.contains(' ')
        && path.contains('.')
        && rest.bytes().next().is_some_and(|b| b.is_ascii_digit())
        && (rest.contains("error") || rest.contains("warning") || rest.contains("note:"))
}

/// `fetchmail: reading message ...`, `kernel: usb 1-1: ...`, `postfix/smtpd[12]: ...`.
fn program_prefix(t: &str) -> bool {
    // `t.split_once(": ")`, found with memchr.
    let b = t.as_bytes();
    let Some(at) = memchr::memchr_iter(b':', b).find(|&i| b.get(i + 1) == Some(&b' ')) else {
        return false;
    };
    program_label(t, &t[..at], &t[at + 2..])
}

/// Whether `word` (before the first `: ` of the line `t`, `rest` after it)
/// names a program.
fn program_label(t: &str, word: &str, rest: &str) -> bool {
    let name = word.split('[').next().unwrap_or(word);
    !name.is_empty()
        && name.len() <= 24
        && !rest.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"/_-.".contains(&b))
        && name.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
        && !PROSE_LABELS.contains(&name)
        && (word.contains('[') || name.contains('/') || t.len() > 24)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The kind of every line of `text`, in order.
    fn kinds(text: &str) -> Vec<Kind> {
        classify(text).map(|(_, kind)| kind).collect()
    }

    fn count(text: &str, k: Kind) -> usize {
        kinds(text).into_iter().filter(|x| *x == k).count()
    }

    #[test]
    fn pasted_logs_traces_and_dumps_are_machine_output() {
        let text = "Here is the log:\n\
            Jul 14 06:04:52 scorpio fetchmail[1235]: 1 message for me at pop.example.net\n\
            fetchmail: IMAP< A0002 NO [AUTHENTICATIONFAILED] bad\n\
            [    1.234567] usb 1-1: new high-speed USB device number 2\n\
            #0  0x00007ffff7a42428 in raise () from /lib/libc.so.6\n\
            0000: 4a 6f 68 6e 20 53 6d 69 74 68 0a 00\n\
            imap.c:123: error: 'x' undeclared\n\
            Received: from mail.example.org (mail [10.0.0.1])\n\
            \tby mx.example.org with ESMTP\n\
            So I think the server is broken.";
        assert_eq!(count(text, Kind::Machine), 8, "{:?}", kinds(text));
    }

    #[test]
    fn a_persons_sentences_and_commands_are_not_machine_output() {
        let text = "Note: this matters.\nRun this:\n$ fetchmail -vvv --nodetach\npoll pop.example.org proto pop3\nI tried it at 10:00 today: it works.";
        assert_eq!(count(text, Kind::Machine), 0, "{:?}", kinds(text));
    }

    /// The definitions the fast scans replaced.
    fn hex_dump_by_words(t: &str) -> bool {
        t.split_whitespace()
            .filter(|w| w.len() == 2 && w.bytes().all(|c| c.is_ascii_hexdigit()))
            .count()
            >= 8
    }

    fn program_prefix_by_split_once(t: &str) -> bool {
        t.split_once(": ")
            .is_some_and(|(word, rest)| program_label(t, word, rest))
    }

    fn traced_by_contains(t: &str) -> bool {
        t.contains(" IMAP< ") || t.contains(" POP3< ")
    }

    proptest::proptest! {
        #[test]
        fn hex_dumps_and_traces_are_found_as_by_their_definitions(t in "([0-9a-fA-FgG]{1,3}|IMAP< |POP3< |[ \t\u{b}\u{c}\r\u{1c}\u{85}\u{a0}\u{2003}é<])*") {
            proptest::prop_assert_eq!(hex_dump(&t), hex_dump_by_words(&t), "{:?}", t);
            proptest::prop_assert_eq!(traced_inside(&t), traced_by_contains(&t), "{:?}", t);
        }

        #[test]
        fn program_prefixes_are_found_as_by_split_once(t in "([a-z]{1,12}|[:\\[\\] /.é]|: ){0,12}") {
            proptest::prop_assert_eq!(program_prefix(&t), program_prefix_by_split_once(&t), "{:?}", t);
        }
    }

    #[test]
    fn unified_diffs_are_patches() {
        let text = "The fix:\nIndex: fetchmail/imap.c\n===================================================================\n--- fetchmail/imap.c\t(revision 1)\n+++ fetchmail/imap.c\t(working copy)\n@@ -1,3 +1,3 @@\n context\n-old\n+new\n\nThanks.";
        assert_eq!(count(text, Kind::Patch), 9, "{:?}", kinds(text));
        assert_eq!(kinds(text).last(), Some(&Kind::Other));
    }
}
