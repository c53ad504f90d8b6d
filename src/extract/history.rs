//! Where the quoted history of a top-posted reply starts: mail clients that
//! put the reply above the earlier message do not prefix it with `>` but
//! head it with a separator or a block of header lines, which we recognise:
//!
//! - Outlook/Exchange header blocks (`From:` `Sent:` `To:` `Subject:`) in the
//!   languages of [`labels`], with or without a rule (`_____`) above;
//! - separators: `-----Original Message-----` and its translations, Gmail's
//!   `---------- Forwarded message ---------`, Thunderbird's
//!   `-------- Original Message --------`, Apple Mail's `Begin forwarded
//!   message:`;
//! - Lotus Notes: `-----"Name" <addr> wrote: -----` and a `Name/Org@Domain`
//!   line followed by a date.
//!
//! A lone `From:` line (a patch, a log) is not a start: a header block needs a
//! sender, a date and a recipient.

use super::attribution::ends_attribution;
use super::labels::{label, Role};

/// How the quoted history starts at a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Start {
    /// This line and every line after it are quoted.
    Quoted,
    /// This line is an attribution (the author's words); the lines after it
    /// are quoted.
    Attribution,
}

/// Lines a header block may span (continuation lines and blank lines included).
const MAX_BLOCK: usize = 16;
/// Continuation lines (wrapped recipient lists) allowed after one header line.
const MAX_CONTINUATION: usize = 4;

/// Separator phrases, lowercased, between dashes or underscores.
const SEPARATORS: &[&str] = &[
    "original message",
    "forwarded message",
    "reply message",
    "begin forwarded text",
    "forwarded text",
    "ursprüngliche nachricht",
    "original-nachricht",
    "originalnachricht",
    "weitergeleitete nachricht",
    "message d'origine",
    "message original",
    "message transféré",
    "mensaje original",
    "mensaje reenviado",
    "messaggio originale",
    "messaggio inoltrato",
    "mensagem original",
    "mensagem encaminhada",
    "oorspronkelijk bericht",
    "origineel bericht",
    "doorgestuurd bericht",
    "исходное сообщение",
    "пересылаемое сообщение",
    "пересланное сообщение",
    "原始邮件",
    "原始郵件",
    "转发的邮件",
    "已转发邮件",
    "元のメッセージ",
    "転送されたメッセージ",
    "originalmeddelande",
    "vidarebefordrat meddelande",
    "oprindelig meddelelse",
    "opprinnelig melding",
    "alkuperäinen viesti",
    "oryginalna wiadomość",
    "wiadomość oryginalna",
    "původní zpráva",
    "eredeti üzenet",
    "orijinal mesaj",
    "özgün ileti",
];

/// Apple Mail's line above a forwarded message, lowercased, colon last.
const FORWARD_INTROS: &[&str] = &[
    "begin forwarded message:",
    "début du message réexpédié:",
    "anfang der weitergeleiteten nachricht:",
    "anfang der weitergeleiteten e-mail:",
    "inicio del mensaje reenviado:",
    "inizio messaggio inoltrato:",
    "início da mensagem reencaminhada:",
    "início da mensagem encaminhada:",
    "begin doorgestuurd bericht:",
    "начало переадресованного сообщения:",
    "转发的邮件:",
    "以下为转发的邮件:",
    "転送されたメッセージ:",
];

/// Whether the quoted history starts at line `i` (a line that is not a `>` quote).
pub(crate) fn start(lines: &[&str], i: usize) -> Option<Start> {
    let line = lines.get(i)?;
    let t = line.trim();
    if t.is_empty() {
        return None;
    }
    if let Some(s) = separator(t) {
        return Some(s);
    }
    if is_rule(t) || is_framed(t) {
        let next = next_non_blank(lines, i + 1)?;
        let sender = is_rule(t) && starts_with_sender(lines[next]);
        return (sender || header_block(lines, next)).then_some(Start::Quoted);
    }
    if (opens_block(lines, i) && header_block(lines, i)) || lotus_name(lines, i) {
        return Some(Start::Quoted);
    }
    None
}

/// A header block opens the text or follows a blank line, a rule or a
/// framed line: one inside other header lines is a pasted raw header (a log,
/// a bounce).
fn opens_block(lines: &[&str], i: usize) -> bool {
    i.checked_sub(1)
        .and_then(|p| lines.get(p))
        .is_none_or(|prev| {
            let t = prev.trim();
            t.is_empty()
                || t.chars().all(|c| matches!(c, '-' | '_' | '=' | '─' | '—'))
                || is_framed(t)
        })
}

/// A line between dashes or underscores: a separator we do not know, or one
/// whose letters a charset lost (`-----Urspr?ngliche Nachricht-----`).
fn is_framed(t: &str) -> bool {
    ["---", "___"]
        .iter()
        .any(|d| t.len() > 2 * d.len() && t.starts_with(d) && t.ends_with(d))
}

fn next_non_blank(lines: &[&str], from: usize) -> Option<usize> {
    (from..lines.len().min(from + 3)).find(|&j| !lines[j].trim().is_empty())
}

/// A line of ten or more underscores (Outlook's rule above a header block).
fn is_rule(t: &str) -> bool {
    t.len() >= 10 && t.bytes().all(|b| b == b'_')
}

fn starts_with_sender(line: &str) -> bool {
    label(line).is_some_and(|(role, _)| role == Role::From)
}

/// `-----Original Message-----` and friends, Apple's "Begin forwarded
/// message:", Lotus Notes' `-----"Name" <addr> wrote: -----`.
fn separator(t: &str) -> Option<Start> {
    // PGP clear-signed text escapes lines starting with a dash as `- -`.
    let t = t.strip_prefix("- -").map_or(t, |_| &t[2..]);
    let framed = t.starts_with("--") || t.starts_with("__") || t.starts_with("==");
    if framed {
        let inner =
            t.trim_matches(|c: char| matches!(c, '-' | '_' | '=' | '*') || c.is_whitespace());
        if inner.is_empty() || inner.len() > 200 {
            return None;
        }
        // Lotus Notes: the attribution between dashes.
        if t.starts_with("-----") && t.ends_with("-----") && ends_attribution(inner) {
            return Some(Start::Attribution);
        }
        let lower = inner
            .trim_end_matches(':')
            .trim_end()
            .to_lowercase()
            .replace('’', "'");
        return SEPARATORS
            .contains(&lower.as_str())
            .then_some(Start::Quoted);
    }
    if t.len() <= 80 && (t.ends_with(':') || t.ends_with('：')) {
        let lower: String = t
            .to_lowercase()
            .replace(['\u{a0}', '\u{202f}'], " ")
            .replace(" :", ":")
            .replace('：', ":");
        if FORWARD_INTROS.contains(&lower.as_str()) {
            return Some(Start::Quoted);
        }
    }
    None
}

/// Whether a header block starts at line `i`: consecutive header lines (with
/// wrapped values and single blank lines between them) naming a sender, a
/// date with digits and a recipient. Not a patch's own header: git
/// format-patch writes `From:`, `Date:`, `Subject:` and no recipient, and a
/// patch sent with one has a `From <commit> ...` line above or a `Date:`
/// line and a `[PATCH` subject (Outlook, replying to a patch, writes `Sent:`).
fn header_block(lines: &[&str], i: usize) -> bool {
    let Some((first, _)) = label(lines[i]) else {
        return false;
    };
    if first == Role::Cc {
        return false;
    }
    let (mut from, mut date, mut to) = (false, false, false);
    // git format-patch writes `Date:` and a `[PATCH` subject; Outlook `Sent:`.
    let (mut git_date, mut patch) = (false, false);
    let mut continuation = 0;
    let mut blanks = 0;
    let end = lines.len().min(i + MAX_BLOCK);
    for j in i..end {
        let line = lines[j];
        if line.trim().is_empty() {
            blanks += 1;
            if blanks > 1 {
                break;
            }
            continue;
        }
        match label(line) {
            Some((role, value)) => {
                blanks = 0;
                continuation = 0;
                match role {
                    Role::From => from = true,
                    Role::Date => {
                        git_date |= line.trim_start().starts_with("Date:");
                        let wrapped = lines.get(j + 1).copied().unwrap_or("");
                        date |= has_digit(value) || (value.trim().is_empty() && has_digit(wrapped))
                    }
                    Role::To => to = true,
                    Role::Subject => patch |= is_patch_subject(value),
                    Role::Cc => {}
                }
            }
            None => {
                // A wrapped value continues its header line; text after a
                // blank line ends the block.
                if blanks > 0 || continuation >= MAX_CONTINUATION {
                    break;
                }
                continuation += 1;
            }
        }
    }
    from && date && to && !(git_date && patch) && !after_commit_line(lines, i)
}

fn has_digit(s: &str) -> bool {
    s.chars().any(|c| c.is_numeric())
}

fn is_patch_subject(value: &str) -> bool {
    let v = value.trim_start();
    v.starts_with("[PATCH") || v.starts_with("[RFC")
}

/// Whether the line before `i` is git format-patch's `From <40 hex> Mon Sep 17 ...`.
fn after_commit_line(lines: &[&str], i: usize) -> bool {
    let Some(prev) = i.checked_sub(1).and_then(|p| lines.get(p)) else {
        return false;
    };
    prev.strip_prefix("From ")
        .and_then(|rest| rest.get(..40))
        .is_some_and(|hash| hash.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Lotus Notes heads a quoted message with the sender's Notes name
/// (`Jane Doe/Dept/Org@Domain`) and, within a few lines, a date.
fn lotus_name(lines: &[&str], i: usize) -> bool {
    let t = lines[i].trim();
    let Some((name, domain)) = t.rsplit_once('@') else {
        return false;
    };
    let notes_name = t.len() <= 100
        && name.contains('/')
        && name.split('/').all(|part| {
            let part = part.trim();
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_alphanumeric() || " .'-_&".contains(c))
        })
        && !domain.is_empty()
        && domain
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
    notes_name
        && lines
            .iter()
            .skip(i + 1)
            .take(4)
            .any(|l| starts_with_date(l.trim()))
}

/// `03/03/2010 10:00`, `03.03.2010`, `2010-03-03`: a numeric date first.
fn starts_with_date(t: &str) -> bool {
    let mut parts = 0;
    let mut digits = 0;
    for c in t.chars() {
        match c {
            '0'..='9' => digits += 1,
            '/' | '.' | '-' if digits > 0 && digits <= 4 => {
                parts += 1;
                digits = 0;
            }
            _ => break,
        }
    }
    parts == 2 && (2..=4).contains(&digits)
}
