//! Where a client's quoted history sits in an HTML body, found before the
//! HTML becomes text (after html2text the markers are gone, and what Gmail or
//! Outlook quote carries no `>` prefix):
//!
//! - Gmail: `<div class="gmail_quote">` (and `blockquote class="gmail_quote"`):
//!   the element is quoted; text after it (an interleaved reply) is not;
//! - Yahoo: `<div class="yahoo_quoted">`: the element;
//! - Outlook: `<div id="appendonsend">`, `<div id="divRplyFwdMsg">`, OWA's
//!   `<div id="mail-editor-reference-message-container">`: from there (or the
//!   `<hr>` just above) to the end — the original follows as siblings.
//!
//! Thunderbird (`moz-cite-prefix` + `<blockquote type="cite">`) and Apple Mail
//! quote in blockquotes, which html2text renders with `>` prefixes that
//! [`super::quoting`] reads.

use std::ops::Range;

/// How far a quote marker reaches.
#[derive(Clone, Copy, PartialEq)]
enum Reach {
    /// The marked element.
    Element,
    /// The rest of the document.
    End,
}

/// Substrings one of which any marked HTML holds (a cheap test first).
const NEEDLES: &[&str] = &[
    "gmail_quote",
    "yahoo_quoted",
    "appendonsend",
    "divRplyFwdMsg",
    "mail-editor-reference-message-container",
];

/// How far back from Outlook's reply header an `<hr>` is looked for, in bytes.
const HR_LOOKBACK: usize = 400;

/// The byte range of `html` that is quoted history, if a client marked one.
pub(crate) fn quoted_range(html: &str) -> Option<Range<usize>> {
    if !NEEDLES.iter().any(|n| html.contains(n)) {
        return None;
    }
    let mut at = 0;
    while let Some(tag) = next_tag(html, at) {
        at = tag.end;
        if tag.closing {
            continue;
        }
        let Some(reach) = marker(&tag.name, tag.attrs(html)) else {
            continue;
        };
        return Some(match reach {
            Reach::Element => tag.start..element_end(html, &tag.name, tag.end),
            Reach::End => hr_above(html, tag.start)..html.len(),
        });
    }
    None
}

/// One tag: `<name attrs>` or `</name>`.
struct Tag {
    start: usize,
    /// Just after the `>`.
    end: usize,
    name: String,
    closing: bool,
    attrs_start: usize,
}

impl Tag {
    fn attrs<'a>(&self, html: &'a str) -> &'a str {
        html.get(self.attrs_start..self.end.saturating_sub(1))
            .unwrap_or("")
    }
}

/// The next tag at or after `from` (comments, doctypes and stray `<` skipped).
fn next_tag(html: &str, from: usize) -> Option<Tag> {
    let bytes = html.as_bytes();
    let mut i = from;
    loop {
        let start = i + bytes.get(i..)?.iter().position(|&b| b == b'<')?;
        let rest = html.get(start..)?;
        if rest.starts_with("<!--") {
            i = start + rest.find("-->").map_or(rest.len(), |e| e + 3);
            continue;
        }
        let closing = rest.as_bytes().get(1) == Some(&b'/');
        let name_start = start + 1 + usize::from(closing);
        let name_len = bytes
            .get(name_start..)?
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric())
            .count();
        if name_len == 0 {
            i = start + 1;
            continue;
        }
        let attrs_start = name_start + name_len;
        let end = tag_end(bytes, attrs_start);
        let name = html.get(name_start..attrs_start)?.to_ascii_lowercase();
        return Some(Tag {
            start,
            end,
            name,
            closing,
            attrs_start,
        });
    }
}

/// Just after the `>` closing a tag whose attributes start at `from`
/// (quoted attribute values may hold `>`), or the end of the text.
fn tag_end(bytes: &[u8], from: usize) -> usize {
    let mut quote = None;
    for (k, &b) in bytes.iter().enumerate().skip(from) {
        match (quote, b) {
            (None, b'"' | b'\'') => quote = Some(b),
            (Some(q), _) if q == b => quote = None,
            (None, b'>') => return k + 1,
            _ => {}
        }
    }
    bytes.len()
}

/// Whether a start tag marks quoted history, and how far it reaches.
fn marker(name: &str, attrs: &str) -> Option<Reach> {
    let id = attr(attrs, "id").unwrap_or("");
    let class = attr(attrs, "class").unwrap_or("");
    let has_class = |c: &str| class.split_ascii_whitespace().any(|t| t == c);
    match name {
        "div" | "blockquote" if has_class("gmail_quote") || has_class("gmail_quote_container") => {
            Some(Reach::Element)
        }
        "div" if has_class("yahoo_quoted") => Some(Reach::Element),
        "div"
            if matches!(
                id,
                "appendonsend" | "divRplyFwdMsg" | "mail-editor-reference-message-container"
            ) =>
        {
            Some(Reach::End)
        }
        _ => None,
    }
}

/// The value of attribute `name` in a tag's attribute text.
fn attr<'a>(attrs: &'a str, name: &str) -> Option<&'a str> {
    let mut rest = attrs;
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_ascii_whitespace() || c == '/');
        if rest.is_empty() {
            return None;
        }
        let key_len = rest
            .find(|c: char| c == '=' || c.is_ascii_whitespace() || c == '>')
            .unwrap_or(rest.len());
        if key_len == 0 {
            // A stray `=` or `>`.
            rest = &rest[1..];
            continue;
        }
        let key = &rest[..key_len];
        rest = rest[key_len..].trim_start();
        let Some(after_eq) = rest.strip_prefix('=') else {
            continue;
        };
        let after_eq = after_eq.trim_start();
        let (value, next) = match after_eq.chars().next() {
            Some(q @ ('"' | '\'')) => {
                let body = &after_eq[1..];
                let close = body.find(q).unwrap_or(body.len());
                (&body[..close], body.get(close + 1..).unwrap_or(""))
            }
            _ => {
                let end = after_eq
                    .find(|c: char| c.is_ascii_whitespace())
                    .unwrap_or(after_eq.len());
                (&after_eq[..end], &after_eq[end..])
            }
        };
        if key.eq_ignore_ascii_case(name) {
            return Some(value);
        }
        rest = next;
    }
}

/// Just after the tag closing the element `name` opened before `from`
/// (counting nested elements of the same name), or the end of the text.
fn element_end(html: &str, name: &str, from: usize) -> usize {
    let mut depth = 1usize;
    let mut at = from;
    while let Some(tag) = next_tag(html, at) {
        at = tag.end;
        if tag.name != name {
            continue;
        }
        if tag.closing {
            depth -= 1;
            if depth == 0 {
                return tag.end;
            }
        } else {
            depth += 1;
        }
    }
    html.len()
}

/// Outlook puts an `<hr>` right above its reply header: start there, so the
/// rule does not stay in the author's text.
fn hr_above(html: &str, start: usize) -> usize {
    let from = start.saturating_sub(HR_LOOKBACK);
    let Some(window) = (from..=start).find_map(|f| html.get(f..start)) else {
        return start;
    };
    let window_start = start - window.len();
    let Some(hr) = window.to_ascii_lowercase().rfind("<hr") else {
        return start;
    };
    // Only tags and white space between the rule and the header.
    let between = &window[hr..];
    let mut in_tag = false;
    let text_between = between.chars().any(|c| {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag && !c.is_whitespace() => return true,
            _ => {}
        }
        false
    });
    if text_between {
        start
    } else {
        window_start + hr
    }
}
