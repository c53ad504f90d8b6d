//! The MIME walk: picks the body text (text/plain preferred, HTML through
//! html2text otherwise), lists attachments with their decoded sizes, collects
//! the text of text attachments and attached messages, repairs undeclared 8-bit
//! text, and splits the body with [`super::quoting`] (an HTML body at the
//! quote container its client marked, [`super::html_quote`], first).

use mail_parser::decoders::{base64::base64_decode, quoted_printable::quoted_printable_decode};
use mail_parser::{Encoding, Message, MessagePart, MimeHeaders, PartType};

use super::html_quote::quoted_range;
use super::quoting::{split, split_history};
use super::text::{clean, decode_mixed, find_bytes, prefix_at_most};
use super::{Attachment, TEXT_CAP};

/// Nesting of attached messages followed at most.
const MAX_DEPTH: usize = 8;
/// HTML fed to html2text at most (its cost grows faster than linearly).
const HTML_CAP: usize = 2 * TEXT_CAP;
/// html2text line width: wide enough that lines are never wrapped.
const HTML_WIDTH: usize = 10_000;

/// What the walk found.
#[derive(Debug, Default)]
pub(crate) struct Body {
    /// The author's own words, then the attribution lines of what they quote.
    pub body: String,
    /// Bytes of `body` that are the author's own words (without attributions).
    pub own_len: usize,
    pub quoted: String,
    pub footer: String,
    pub attachments: Vec<Attachment>,
    pub attachment_text: String,
    pub html_only: bool,
}

#[derive(Default)]
struct Walk {
    plain: Vec<String>,
    html: Vec<String>,
    attachments: Vec<Attachment>,
    attachment_text: String,
    defects: Vec<&'static str>,
}

/// Reads the body of a parsed message.
pub(crate) fn read(message: &Message<'_>, defects: &mut Vec<String>) -> Body {
    let mut w = Walk::default();
    walk(message, 0, 0, &mut w);
    let html_only = w.plain.is_empty() && !w.html.is_empty();
    let (text, history) = if html_only {
        html_texts(&w.html)
    } else {
        (w.plain.join("\n"), String::new())
    };
    let mut text = clean(&text);
    let mut history = clean(&history);
    if text.len() + history.len() > TEXT_CAP {
        text.truncate(prefix_at_most(&text, TEXT_CAP).len());
        let room = TEXT_CAP - text.len();
        history.truncate(prefix_at_most(&history, room).len());
        w.defects.push("body truncated");
    }
    let mut parts = split(&text);
    parts.append(split_history(&history));
    defects.extend(w.defects.iter().map(|d| d.to_string()));
    let own_len = parts.own.len();
    let mut body = parts.own;
    if !body.is_empty() && !parts.attribution.is_empty() {
        body.push_str("\n\n");
    }
    body.push_str(&parts.attribution);
    Body {
        body,
        own_len,
        quoted: parts.quoted,
        footer: parts.footer,
        attachments: w.attachments,
        attachment_text: w.attachment_text.trim().to_string(),
        html_only,
    }
}

impl Body {
    /// The author's own words, without the attribution lines (what harvest
    /// signals and the language guess read).
    pub(crate) fn own_words(&self) -> &str {
        self.body.get(..self.own_len).unwrap_or(&self.body)
    }
}

/// The text of HTML bodies, and apart from it the text of what their clients
/// marked as quoted history.
fn html_texts(parts: &[String]) -> (String, String) {
    let mut text = Vec::new();
    let mut history = Vec::new();
    for html in parts {
        let html = prefix_at_most(html, HTML_CAP);
        match quoted_range(html) {
            Some(r) => {
                text.push(html_to_text(html.get(..r.start).unwrap_or("")));
                history.push(html_to_text(html.get(r.clone()).unwrap_or("")));
                if let Some(after) = html.get(r.end..).filter(|a| !a.trim().is_empty()) {
                    text.push(html_to_text(after));
                }
            }
            None => text.push(html_to_text(html)),
        }
    }
    (text.join("\n"), history.join("\n"))
}

fn html_to_text(html: &str) -> String {
    let html = prefix_at_most(html, HTML_CAP);
    // The rich decorator marks links and emphasis with annotations rather than
    // brackets and stars, and still prefixes quotes with "> ". Raw mode lays
    // tables out as one cell per line: layout at this width is very slow.
    let Ok(lines) = html2text::config::rich()
        .raw_mode(true)
        .lines_from_read(html.as_bytes(), HTML_WIDTH)
    else {
        return String::new();
    };
    let mut out = String::with_capacity(html.len() / 2);
    for line in lines {
        out.extend(line.chars());
        out.push('\n');
    }
    out
}

/// `type/subtype` of a part, lowercased; text/plain when absent.
fn mime_of(part: &MessagePart<'_>) -> String {
    match part.content_type() {
        Some(ct) => format!(
            "{}/{}",
            ct.ctype().to_ascii_lowercase(),
            ct.subtype().unwrap_or("").to_ascii_lowercase()
        ),
        None => "text/plain".to_string(),
    }
}

fn is_attachment(part: &MessagePart<'_>) -> bool {
    part.content_disposition()
        .is_some_and(|d| d.is_attachment())
        || part.attachment_name().is_some()
}

fn filename(part: &MessagePart<'_>) -> Option<String> {
    part.attachment_name()
        .map(|n| clean(n).trim().to_string())
        .filter(|n| !n.is_empty())
}

/// Subtypes of inline text that are the author's own words.
fn is_body_text(mime: &str) -> bool {
    matches!(
        mime,
        "text/plain" | "text/" | "text/x-patch" | "text/x-diff" | "text/diff" | "text/patch"
    )
}

fn walk(msg: &Message<'_>, id: usize, depth: usize, w: &mut Walk) {
    let Some(part) = msg.parts.get(id) else {
        return;
    };
    let is_root = id == 0;
    match &part.body {
        PartType::Multipart(children) => {
            check_closed(msg, part, w);
            let alternative = part
                .content_type()
                .and_then(|ct| ct.subtype())
                .is_some_and(|s| s.eq_ignore_ascii_case("alternative"));
            if alternative {
                if let Some(best) = pick_alternative(msg, children) {
                    walk(msg, best, depth, w);
                }
            } else {
                for &child in children {
                    walk(msg, child as usize, depth, w);
                }
            }
        }
        PartType::Text(text) => {
            let mime = mime_of(part);
            let text = repair_8bit(msg, part, text, w);
            if is_root || (!is_attachment(part) && is_body_text(&mime)) {
                w.plain.push(text);
            } else {
                let is_text = mime.starts_with("text/");
                attach(w, part, mime, text.len() as u64);
                // A part recovered as text from broken MIME is not text.
                if is_text {
                    add_attachment_text(w, &text);
                }
            }
        }
        PartType::Html(html) => {
            let html = repair_8bit(msg, part, html, w);
            if is_root || !is_attachment(part) {
                w.html.push(html);
            } else {
                let size = html.len() as u64;
                attach(w, part, mime_of(part), size);
                add_attachment_text(w, &html_to_text(&html));
            }
        }
        PartType::Binary(bytes) | PartType::InlineBinary(bytes) => {
            attach(w, part, mime_of(part), bytes.len() as u64);
        }
        PartType::Message(inner) => {
            attach(
                w,
                part,
                "message/rfc822".to_string(),
                inner.raw_message.len() as u64,
            );
            if depth < MAX_DEPTH {
                attached_message(inner, depth + 1, w);
            }
        }
    }
}

/// Adds an attached message's subject and text to the attachment text, and its
/// own attachments to the list.
fn attached_message(inner: &Message<'_>, depth: usize, w: &mut Walk) {
    let mut sub = Walk::default();
    walk(inner, 0, depth, &mut sub);
    if let Some(subject) = inner.subject() {
        add_attachment_text(w, subject);
    }
    let text = if sub.plain.is_empty() {
        sub.html
            .iter()
            .map(|h| html_to_text(h))
            .collect::<Vec<_>>()
            .join("\n")
    } else {
        sub.plain.join("\n")
    };
    add_attachment_text(w, &text);
    add_attachment_text(w, &sub.attachment_text);
    w.attachments.append(&mut sub.attachments);
    w.defects.append(&mut sub.defects);
}

/// In multipart/alternative, the child to read: one holding text/plain, else
/// one holding HTML, else the last.
fn pick_alternative(msg: &Message<'_>, children: &[u32]) -> Option<usize> {
    let ids = children.iter().map(|&c| c as usize);
    ids.clone()
        .find(|&c| holds(msg, c, false, 0))
        .or_else(|| ids.clone().find(|&c| holds(msg, c, true, 0)))
        .or_else(|| children.last().map(|&c| c as usize))
}

/// Whether the subtree at `id` holds an inline text/plain (or HTML) part.
fn holds(msg: &Message<'_>, id: usize, html: bool, depth: usize) -> bool {
    let Some(part) = msg.parts.get(id) else {
        return false;
    };
    match &part.body {
        PartType::Multipart(children) if depth < 32 => children
            .iter()
            .any(|&c| holds(msg, c as usize, html, depth + 1)),
        PartType::Text(_) => !html && !is_attachment(part) && is_body_text(&mime_of(part)),
        PartType::Html(_) => html && !is_attachment(part),
        _ => false,
    }
}

fn attach(w: &mut Walk, part: &MessagePart<'_>, mime: String, size: u64) {
    w.attachments.push(Attachment {
        filename: filename(part),
        mime,
        size,
    });
}

fn add_attachment_text(w: &mut Walk, text: &str) {
    let text = clean(text);
    let text = text.trim();
    if text.is_empty() {
        return;
    }
    let room = TEXT_CAP.saturating_sub(w.attachment_text.len());
    if room == 0 {
        return;
    }
    if !w.attachment_text.is_empty() {
        w.attachment_text.push_str("\n\n");
    }
    let cut = prefix_at_most(text, room);
    if cut.len() < text.len() {
        w.defects.push("attachment text truncated");
    }
    w.attachment_text.push_str(cut);
}

/// A multipart whose closing boundary never comes was cut short.
fn check_closed(msg: &Message<'_>, part: &MessagePart<'_>, w: &mut Walk) {
    let Some(boundary) = part.content_type().and_then(|ct| ct.attribute("boundary")) else {
        return;
    };
    let closing = format!("--{boundary}--");
    let start = part.offset_body as usize;
    let body = msg.raw_message.get(start..).unwrap_or_default();
    if find_bytes(body, closing.as_bytes()).is_none() {
        w.defects.push("truncated mime");
    }
}

/// mail-parser decodes text without a (known) charset lossily; where that lost
/// bytes, decode the part again as UTF-8 with a windows-1252 fallback.
fn repair_8bit(msg: &Message<'_>, part: &MessagePart<'_>, text: &str, w: &mut Walk) -> String {
    if !text.contains('\u{fffd}') {
        return text.to_string();
    }
    let charset = part
        .content_type()
        .and_then(|ct| ct.attribute("charset"))
        .map(|c| c.to_ascii_lowercase());
    let lossy_charset = match charset.as_deref() {
        None => true,
        Some(c) => c.starts_with("utf") || c.contains("ascii") || c.is_empty(),
    };
    if !lossy_charset {
        return text.to_string();
    }
    let raw = msg
        .raw_message
        .get(part.offset_body as usize..part.offset_end as usize)
        .unwrap_or_default();
    let decoded = match part.encoding {
        Encoding::None => Some(raw.to_vec()),
        Encoding::QuotedPrintable => quoted_printable_decode(raw),
        Encoding::Base64 => base64_decode(raw),
    };
    match decoded.map(|d| decode_mixed(&d)) {
        Some((fixed, true)) => {
            w.defects.push("undeclared 8-bit");
            fixed
        }
        _ => text.to_string(),
    }
}
