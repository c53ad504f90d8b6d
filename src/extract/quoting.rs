//! Splits body text into the author's own words, the attribution lines above
//! what they quote, quoted text (`>` lines, and the whole quoted history of a
//! top-posted reply: see [`super::history`]) and the footer (signature after
//! `-- `, mailing-list footer at the end).

use super::attribution::attribution;
use super::history::{self, Start};

/// The parts of a body.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Split {
    /// The author's own words.
    pub own: String,
    /// Attribution lines ("On ... Jane wrote:"), one per line: the author's
    /// words for search, but not counted as what the author said.
    pub attribution: String,
    /// Quoted text, without the `>` prefixes.
    pub quoted: String,
    /// Signature and list footer.
    pub footer: String,
}

/// How far from the end a list footer may start, in lines.
const FOOTER_WINDOW: usize = 40;
/// A `--` line (without the space) starts a signature only if this short.
const BARE_SIG_MAX_LINES: usize = 12;

/// Splits cleaned text (LF line ends).
pub(crate) fn split(text: &str) -> Split {
    let lines = lines_of(text);
    let footer_start = list_footer_start(&lines);
    let body = &lines[..footer_start];
    let history = history_start(body);
    let reply = &body[..history.map_or(body.len(), |(at, _)| at)];
    let mut own = Vec::new();
    let mut attributions = Vec::new();
    let mut quoted = Vec::new();
    let mut sig = Vec::new();
    let mut in_sig = false;
    // Inside a run of quoted lines (blank lines do not end it).
    let mut in_quote = false;
    let mut i = 0;
    while i < reply.len() {
        let line = reply[i];
        if is_quoted(line) {
            in_sig = false;
            if !in_quote && !quoted.is_empty() {
                quoted.push("");
            }
            in_quote = true;
            quoted.push(unquote(line));
        } else if let Some(n) = attribution(reply, i) {
            in_sig = false;
            if !in_quote && !quoted.is_empty() {
                quoted.push("");
            }
            in_quote = true;
            attributions.extend(reply[i..i + n].iter().map(|l| l.trim()));
            i += n;
            continue;
        } else if in_sig {
            sig.push(line);
        } else if is_sig_start(reply, i) {
            in_sig = true;
        } else {
            in_quote &= line.trim().is_empty();
            own.push(line);
        }
        i += 1;
    }
    if let Some((at, start)) = history {
        let mut rest = &body[at..];
        if start == Start::Attribution {
            attributions.push(rest[0].trim());
            rest = &rest[1..];
        }
        if !quoted.is_empty() {
            quoted.push("");
        }
        quoted.extend(rest.iter().map(|l| unquote(l)));
    }
    let mut footer = tidy(&sig);
    let list_footer = tidy(&lines[footer_start..]);
    if !list_footer.is_empty() {
        if !footer.is_empty() {
            footer.push_str("\n\n");
        }
        footer.push_str(&list_footer);
    }
    Split {
        own: tidy(&own),
        attribution: attributions.join("\n"),
        quoted: tidy(&quoted),
        footer,
    }
}

/// Splits text that is quoted history as a whole (what an HTML client marked
/// as quoted): attribution lines at its top are kept apart, the rest is quoted.
pub(crate) fn split_history(text: &str) -> Split {
    let lines = lines_of(text);
    let mut attributions = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if lines[i].trim().is_empty() {
            i += 1;
        } else if let Some(n) = attribution(&lines, i) {
            attributions.extend(lines[i..i + n].iter().map(|l| l.trim()));
            i += n;
        } else {
            break;
        }
    }
    let quoted: Vec<&str> = lines[i..].iter().map(|l| unquote(l)).collect();
    Split {
        attribution: attributions.join("\n"),
        quoted: tidy(&quoted),
        ..Split::default()
    }
}

impl Split {
    /// Adds the parts of `other` after the parts of `self`.
    pub(crate) fn append(&mut self, other: Split) {
        for (mine, theirs, gap) in [
            (&mut self.own, other.own, "\n\n"),
            (&mut self.attribution, other.attribution, "\n"),
            (&mut self.quoted, other.quoted, "\n\n"),
            (&mut self.footer, other.footer, "\n\n"),
        ] {
            if !mine.is_empty() && !theirs.is_empty() {
                mine.push_str(gap);
            }
            mine.push_str(&theirs);
        }
    }
}

/// The first line (not a `>` quote) where quoted history starts, and how.
pub(crate) fn history_start(lines: &[&str]) -> Option<(usize, Start)> {
    (0..lines.len())
        .filter(|&i| !is_quoted(lines[i]))
        .find_map(|i| history::start(lines, i).map(|s| (i, s)))
}

/// The `\n`-separated lines of `text`, counted first so the vector is
/// allocated once (growing it was 1% of indexing).
fn lines_of(text: &str) -> Vec<&str> {
    let mut lines = Vec::with_capacity(memchr::memchr_iter(b'\n', text.as_bytes()).count() + 1);
    lines.extend(text.split('\n'));
    lines
}

pub(crate) fn is_quoted(line: &str) -> bool {
    line.trim_start().starts_with('>')
}

/// Removes every level of `>` quoting and the space after each.
pub(crate) fn unquote(line: &str) -> &str {
    let mut s = line.trim_start();
    while let Some(rest) = s.strip_prefix('>') {
        s = rest
            .strip_prefix(' ')
            .unwrap_or(rest)
            .trim_start_matches(' ');
    }
    s
}

/// Trims trailing spaces, squeezes blank-line runs to one, and drops leading
/// and trailing blank lines.
fn tidy(lines: &[&str]) -> String {
    let mut out = String::with_capacity(lines.iter().map(|l| l.len() + 1).sum());
    let mut blank = false;
    for line in lines {
        let line = line.trim_end();
        if line.is_empty() {
            blank = !out.is_empty();
            continue;
        }
        if blank {
            out.push('\n');
            blank = false;
        }
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(line);
    }
    out
}

/// The line where a mailing-list footer starts (a `____` line near the end
/// followed by list boilerplate), or `lines.len()`.
fn list_footer_start(lines: &[&str]) -> usize {
    let from = lines.len().saturating_sub(FOOTER_WINDOW);
    for i in from..lines.len() {
        let t = lines[i].trim();
        if t.len() < 10 || !t.bytes().all(|b| b == b'_') {
            continue;
        }
        let tail = lines[i + 1..].join("\n").to_lowercase();
        if ["mailing list", "listinfo", "unsubscribe", "mailman"]
            .iter()
            .any(|k| tail.contains(k))
        {
            return i;
        }
    }
    lines.len()
}

/// A `-- ` line, or a bare `--` line followed by a short block.
fn is_sig_start(lines: &[&str], i: usize) -> bool {
    match lines[i] {
        "-- " => true,
        "--" => {
            let rest = &lines[i + 1..];
            let end = rest.iter().position(|l| is_quoted(l)).unwrap_or(rest.len());
            rest[..end].iter().filter(|l| !l.trim().is_empty()).count() <= BARE_SIG_MAX_LINES
        }
        _ => false,
    }
}
