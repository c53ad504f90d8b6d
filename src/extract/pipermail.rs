//! Undoing Mailman 2's address obfuscation in header values.
//!
//! Mailman 2's text archives write every sender as `jane.doe at example.com
//! (Jane Doe)`, in the `From:` header and in the mbox separator, and some
//! copies obfuscate ids too (`<1234.5678 at example.com>`). For a message the
//! store says comes from such an archive ([`super::ExtractContext::pipermail`]),
//! [`deobfuscate_headers`] rewrites the header block before it is parsed:
//! `Jane Doe <jane.doe@example.com>`, so `from:jane.doe@example.com` finds it
//! and the address facet holds addresses. Only address-like tokens of address
//! and id headers change: a display name, a comment, a subject ("fetchmail at
//! boot") and the body (where `root at host` may be log output) stay as written.
//! The raw bytes in the store are never touched.
//!
//! Pure string work: no I/O, never panics on input.

use std::borrow::Cow;

/// Headers holding mailboxes (`From: a at b (Name), ...`).
const ADDRESS_HEADERS: &[&str] = &[
    "from",
    "to",
    "cc",
    "bcc",
    "reply-to",
    "sender",
    "mail-followup-to",
    "resent-from",
    "resent-to",
    "resent-cc",
    "resent-sender",
    "x-original-from",
];

/// Headers holding `<id>`s or a `<path>`.
const ID_HEADERS: &[&str] = &["message-id", "in-reply-to", "references", "return-path"];

/// The header block of `message` with obfuscated addresses and ids restored,
/// or `None` when nothing needed restoring. A rewritten field is unfolded onto
/// one line; every other byte is kept.
pub(crate) fn deobfuscate_headers(message: &[u8]) -> Option<Vec<u8>> {
    let mut out: Option<Vec<u8>> = None;
    let mut copied = 0;
    let mut pos = 0;
    while pos < message.len() {
        let end = field_end(message, pos);
        let field = &message[pos..end];
        if field == b"\n" || field == b"\r\n" {
            break; // the blank line: the body follows
        }
        if let Some(new) = rewrite_field(field) {
            let buf = out.get_or_insert_with(|| Vec::with_capacity(message.len()));
            buf.extend_from_slice(&message[copied..pos]);
            buf.extend_from_slice(&new);
            copied = end;
        }
        pos = end;
    }
    let mut buf = out?;
    buf.extend_from_slice(&message[copied..]);
    Some(buf)
}

/// The end of the header field starting at `start`: after its last line
/// ending, continuation lines (starting with a space or tab) included.
fn field_end(bytes: &[u8], start: usize) -> usize {
    let mut pos = start;
    loop {
        pos = bytes[pos..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(bytes.len(), |i| pos + i + 1);
        let blank = bytes[start..pos] == *b"\n" || bytes[start..pos] == *b"\r\n";
        if blank || !matches!(bytes.get(pos), Some(b' ' | b'\t')) {
            return pos;
        }
    }
}

/// One whole field rewritten onto one line, if it is an address or id field
/// with something obfuscated in it.
fn rewrite_field(field: &[u8]) -> Option<Vec<u8>> {
    let colon = field.iter().position(|&b| b == b':')?;
    let name = std::str::from_utf8(&field[..colon]).ok()?;
    let lower = name.trim_end().to_ascii_lowercase();
    let raw = std::str::from_utf8(&field[colon + 1..]).ok()?;
    let eol = if raw.ends_with("\r\n") {
        "\r\n"
    } else if raw.ends_with('\n') {
        "\n"
    } else {
        ""
    };
    let value = raw[..raw.len() - eol.len()]
        .replace("\r\n", "")
        .replace('\n', "");
    let new = if ADDRESS_HEADERS.contains(&lower.as_str()) {
        mailbox_list(&value)
    } else if ID_HEADERS.contains(&lower.as_str()) {
        ids(&value)
    } else {
        return None;
    };
    match new {
        Cow::Borrowed(_) => None,
        Cow::Owned(v) => Some(format!("{name}:{v}{eol}").into_bytes()),
    }
}

/// An mbox envelope (`jane at example.com  Mon Jun 21 18:31:56 2004`) with
/// its sender restored; other envelopes unchanged.
pub(crate) fn deobfuscate_envelope(envelope: &str) -> Cow<'_, str> {
    let trimmed = envelope.trim_start();
    let Some((local, rest)) = trimmed.split_once(char::is_whitespace) else {
        return Cow::Borrowed(envelope);
    };
    let Some(rest) = rest.trim_start().strip_prefix("at") else {
        return Cow::Borrowed(envelope);
    };
    if !rest.starts_with(char::is_whitespace) {
        return Cow::Borrowed(envelope);
    }
    let rest = rest.trim_start();
    let (domain, tail) = rest
        .split_once(char::is_whitespace)
        .map_or((rest, ""), |(d, _)| (d, &rest[d.len()..]));
    match address(&format!("{local} at {domain}")) {
        Some(addr) => Cow::Owned(format!("{addr}{tail}")),
        None => Cow::Borrowed(envelope),
    }
}

/// A mailbox list with each obfuscated mailbox restored:
/// `jane at example.com (Jane Doe)` → `Jane Doe <jane@example.com>`,
/// `"Jane" <jane at example.com>` → `"Jane" <jane@example.com>`.
pub(crate) fn mailbox_list(value: &str) -> Cow<'_, str> {
    let items = split_top_level(value);
    let restored: Vec<Cow<'_, str>> = items.iter().map(|item| mailbox(item)).collect();
    if restored.iter().all(|m| matches!(m, Cow::Borrowed(_))) {
        return Cow::Borrowed(value);
    }
    Cow::Owned(restored.join(","))
}

/// `<a at b>` → `<a@b>` in a list of ids.
fn ids(value: &str) -> Cow<'_, str> {
    let mut out = String::new();
    let mut copied = 0;
    let mut rest = 0;
    while let Some(open) = value[rest..].find('<').map(|i| rest + i) {
        let Some(close) = value[open..].find('>').map(|i| open + i) else {
            break;
        };
        if let Some(addr) = address(&value[open + 1..close]) {
            out.push_str(&value[copied..=open]);
            out.push_str(&addr);
            copied = close;
        }
        rest = close + 1;
    }
    if copied == 0 {
        return Cow::Borrowed(value);
    }
    out.push_str(&value[copied..]);
    Cow::Owned(out)
}

/// Splits at commas outside quotes, comments and angle brackets.
fn split_top_level(value: &str) -> Vec<&str> {
    let mut items = Vec::new();
    let (mut start, mut depth, mut quoted, mut angle, mut escaped) =
        (0, 0usize, false, false, false);
    for (i, c) in value.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' if quoted || depth > 0 => escaped = true,
            '"' if depth == 0 => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted => depth = depth.saturating_sub(1),
            '<' if !quoted && depth == 0 => angle = true,
            '>' if !quoted && depth == 0 => angle = false,
            ',' if !quoted && depth == 0 && !angle => {
                items.push(&value[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&value[start..]);
    items
}

/// The parts of one mailbox.
#[derive(Default)]
struct Parts<'a> {
    /// Text outside quotes, comments and angle brackets.
    bare: String,
    /// The first comment's content, unescaped.
    comment: Option<String>,
    /// The first quoted string's content, unescaped.
    quoted: Option<String>,
    /// Byte range of the first `<...>` content in the mailbox.
    angle: Option<(usize, usize)>,
    item: &'a str,
}

fn parts(item: &str) -> Parts<'_> {
    let mut p = Parts {
        item,
        ..Parts::default()
    };
    let mut chars = item.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => {
                let mut s = String::new();
                while let Some((_, c)) = chars.next() {
                    match c {
                        '\\' => s.extend(chars.next().map(|(_, c)| c)),
                        '"' => break,
                        c => s.push(c),
                    }
                }
                p.quoted.get_or_insert(s);
            }
            '(' => {
                let (mut s, mut depth) = (String::new(), 1usize);
                while let Some((_, c)) = chars.next() {
                    match c {
                        '\\' => s.extend(chars.next().map(|(_, c)| c)),
                        '(' => depth += 1,
                        ')' => depth -= 1,
                        _ => {}
                    }
                    if depth == 0 {
                        break;
                    }
                    if c != '\\' {
                        s.push(c);
                    }
                }
                p.comment.get_or_insert(s);
            }
            '<' => {
                let end = item[i..].find('>').map_or(item.len(), |j| i + j);
                p.angle.get_or_insert((i + 1, end));
                while chars.peek().is_some_and(|&(j, _)| j <= end) {
                    chars.next();
                }
            }
            c => p.bare.push(c),
        }
    }
    p
}

/// One mailbox restored, or borrowed unchanged.
fn mailbox(item: &str) -> Cow<'_, str> {
    let p = parts(item);
    if let Some((start, end)) = p.angle {
        // A display name, if any, stays as written; only `<...>` is an address.
        return match address(&p.item[start..end]) {
            Some(addr) => Cow::Owned(format!("{}{addr}{}", &item[..start], &item[end..])),
            None => Cow::Borrowed(item),
        };
    }
    let Some(addr) = address(&p.bare) else {
        return Cow::Borrowed(item);
    };
    let lead = &item[..item.len() - item.trim_start().len()];
    let name = p
        .comment
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty())
        .or(p.quoted.map(|q| q.trim().to_string()))
        .filter(|n| !n.is_empty());
    Cow::Owned(match name {
        Some(name) => format!("{lead}{} <{addr}>", display_name(&name)),
        None => format!("{lead}{addr}"),
    })
}

/// `local at domain` (exactly these three words) → `local@domain`, when the
/// local part is a dot-atom and the domain a dot-atom or a domain literal.
fn address(text: &str) -> Option<String> {
    let mut words = text.split_whitespace();
    let (Some(local), Some("at"), Some(domain), None) =
        (words.next(), words.next(), words.next(), words.next())
    else {
        return None;
    };
    let atext = |c: char| c.is_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c);
    let local_ok = local.chars().all(atext) && !local.starts_with('.');
    let literal = domain
        .strip_prefix('[')
        .and_then(|d| d.strip_suffix(']'))
        .is_some_and(|d| {
            !d.is_empty()
                && d.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | ':'))
        });
    let dot_atom = domain
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '-' | '.' | '_'))
        && domain.chars().any(char::is_alphanumeric)
        && !domain.starts_with('.');
    (local_ok && (literal || dot_atom)).then(|| format!("{local}@{domain}"))
}

/// A display name as a phrase: as is when it is plain words (encoded words
/// included, so they are still decoded), else a quoted string.
fn display_name(name: &str) -> Cow<'_, str> {
    let plain = name
        .chars()
        .all(|c| c.is_alphanumeric() || " !#$%&'*+-/=?^_`{|}~".contains(c) || !c.is_ascii());
    if plain {
        return Cow::Borrowed(name);
    }
    let mut q = String::with_capacity(name.len() + 2);
    q.push('"');
    for c in name.chars() {
        if matches!(c, '"' | '\\') {
            q.push('\\');
        }
        q.push(c);
    }
    q.push('"');
    Cow::Owned(q)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn mailboxes() {
        let cases = [
            (
                "jane.doe at example.com (Jane Doe)",
                "Jane Doe <jane.doe@example.com>",
            ),
            (
                "otto at applied.com.sg (Otto Rodusek (AP-SGP))",
                "\"Otto Rodusek (AP-SGP)\" <otto@applied.com.sg>",
            ),
            (
                "jane at example.com (Jane \"JD\" Doe)",
                "\"Jane \\\"JD\\\" Doe\" <jane@example.com>",
            ),
            (
                "\"Jane at Home\" <jane at example.com>",
                "\"Jane at Home\" <jane@example.com>",
            ),
            (
                "Jane at Home <jane at example.com>",
                "Jane at Home <jane@example.com>",
            ),
            (
                "jane at example.com (Jane at Home)",
                "Jane at Home <jane@example.com>",
            ),
            ("jane at example.com ()", "jane@example.com"),
            ("jane at [192.0.2.1] (J)", "J <jane@[192.0.2.1]>"),
            ("root at localhost", "root@localhost"),
            (
                " a at x.org (A), \"B, b\" <b at y.org>, c@z.org",
                " A <a@x.org>, \"B, b\" <b@y.org>, c@z.org",
            ),
            (
                "jane at example.com (=?iso-8859-1?q?J=F6rg?=)",
                "=?iso-8859-1?q?J=F6rg?= <jane@example.com>",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(mailbox_list(input), want, "{input}");
        }
        for unchanged in [
            "Jane Doe <jane@example.com>",
            "bogus@does.not.exist.com ()",
            "meet me at noon",
            "jane at",
            "undisclosed-recipients:;",
            "Support at Example <>",
        ] {
            assert!(
                matches!(mailbox_list(unchanged), Cow::Borrowed(_)),
                "{unchanged}"
            );
        }
    }

    #[test]
    fn ids_and_envelopes() {
        assert_eq!(
            ids(" <462DEC42.9070901 at gmx.de> <a@b.c> <x at y.org>"),
            " <462DEC42.9070901@gmx.de> <a@b.c> <x@y.org>"
        );
        assert!(matches!(
            ids(" <a@b.c> (esr at BerliOS's"),
            Cow::Borrowed(_)
        ));
        assert_eq!(
            deobfuscate_envelope("jane at maymay.de  Mon Jun 21 18:31:56 2004"),
            "jane@maymay.de  Mon Jun 21 18:31:56 2004"
        );
        let plain = "jane@maymay.de  Mon Jun 21 18:31:56 2004";
        assert!(matches!(deobfuscate_envelope(plain), Cow::Borrowed(_)));
    }

    #[test]
    fn header_block_rewrite_keeps_the_rest() {
        let msg = "From: jane at example.com (Jane)\r\nSubject: fetchmail at boot\r\nTo: a at x.org,\r\n\tb at y.org\r\nMessage-ID: <1 at x.org>\r\n\r\nFrom: root at host (body)\r\n";
        let out = String::from_utf8(deobfuscate_headers(msg.as_bytes()).unwrap()).unwrap();
        assert_eq!(
            out,
            "From: Jane <jane@example.com>\r\nSubject: fetchmail at boot\r\nTo: a@x.org,\tb@y.org\r\nMessage-ID: <1@x.org>\r\n\r\nFrom: root at host (body)\r\n"
        );
        assert_eq!(
            deobfuscate_headers(b"From: a@b.c\n\nFrom: x at y.z\n"),
            None
        );
    }

    /// Through `extract`: the flag restores addresses, ids and the envelope
    /// (whose obfuscated domain `maymay.de` was read as the month May), keeps
    /// the body, and files the message under the archive's list.
    #[test]
    fn extract_with_the_flag() {
        use crate::extract::{extract, ExtractContext};
        let raw = |envelope: &str| {
            format!(
                "From {envelope}  Mon Jun 21 18:31:56 2004\n\
                 From: jane at maymay.de (=?iso-8859-1?q?J=F6rg?= Doe)\n\
                 Date: Mon, 21 Jun 2004 18:31:00 +0000\n\
                 Subject: [ops] fetchmail at boot\n\
                 List-Id: <other.lists.example.org>\n\
                 In-Reply-To: <1.2 at x.org>\n\
                 Message-ID: <9.9 at maymay.de>\n\n\
                 fetchmail: can't find a password for root at mx.example.com.\n"
            )
        };
        let ctx = ExtractContext {
            list: Some("ops"),
            pipermail: true,
            ..ExtractContext::default()
        };
        let doc = extract(raw("jane at maymay.de").as_bytes(), &ctx).unwrap();
        assert_eq!(doc.from.len(), 1);
        assert_eq!(doc.from[0].addr.as_deref(), Some("jane@maymay.de"));
        assert_eq!(doc.from[0].name.as_deref(), Some("J\u{f6}rg Doe"));
        assert_eq!(doc.message_id.as_deref(), Some("9.9@maymay.de"));
        assert_eq!(doc.in_reply_to.as_deref(), Some("1.2@x.org"));
        assert_eq!(doc.subject, "[ops] fetchmail at boot");
        assert!(doc.body.contains("root at mx.example.com"), "{}", doc.body);
        assert_eq!(doc.list.as_deref(), Some("ops"));
        let plain = extract(raw("jane@maymay.de").as_bytes(), &ctx).unwrap();
        assert!(plain.arrived.is_some());
        assert_eq!(
            doc.arrived, plain.arrived,
            "envelope date as for a plain envelope"
        );
        assert_eq!(doc.date, plain.date);

        let unflagged = ExtractContext {
            list: Some("ops"),
            ..ExtractContext::default()
        };
        let doc = extract(raw("jane at maymay.de").as_bytes(), &unflagged).unwrap();
        assert_ne!(
            doc.from.first().and_then(|a| a.addr.as_deref()),
            Some("jane@maymay.de")
        );
        assert_eq!(doc.list.as_deref(), Some("other.lists.example.org"));
    }
}
