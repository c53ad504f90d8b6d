//! Header reading: message ids, addresses, dates with their fallbacks, the list
//! id and subject normalisation for threading. Also the cheap checks done on the
//! raw bytes before parsing (is this mail at all; undeclared 8-bit headers).

use mail_parser::{Addr, DateTime, HeaderName, HeaderValue, Message};
use std::borrow::Cow;

use super::text::{clean, collapse_ws, decode_mixed};
use super::{Address, DateSource};

/// The header fields `extract` copies into the document.
pub(crate) struct Headers {
    pub message_id: Option<String>,
    pub subject: String,
    pub from: Vec<Address>,
    pub to: Vec<Address>,
    pub cc: Vec<Address>,
    pub reply_to: Vec<Address>,
    pub list: Option<String>,
    pub in_reply_to: Option<String>,
    pub references: Vec<String>,
}

/// Splits off a leading mbox envelope line (`From sender date`), returning its
/// text after `From `.
pub(crate) fn split_envelope(raw: &[u8]) -> (Option<String>, &[u8]) {
    if !raw.starts_with(b"From ") {
        return (None, raw);
    }
    let end = raw.iter().position(|&b| b == b'\n').unwrap_or(raw.len());
    let line = String::from_utf8_lossy(&raw[5..end]).trim().to_string();
    (Some(line), raw.get(end + 1..).unwrap_or_default())
}

/// Header names that only mail has; one of them makes a lone header line enough.
const CORE_HEADERS: &[&str] = &[
    "from",
    "to",
    "cc",
    "subject",
    "date",
    "message-id",
    "received",
    "return-path",
    "mime-version",
    "content-type",
    "delivered-to",
    "references",
    "in-reply-to",
    "sender",
    "reply-to",
];

/// The name of a header line (`Name: value`), if the line is one.
fn header_name(line: &[u8]) -> Option<&[u8]> {
    let colon = line.iter().position(|&b| b == b':')?;
    let name = &line[..colon];
    // Some mailers write "Name : value".
    let name = name.strip_suffix(b" ").unwrap_or(name);
    let ok =
        !name.is_empty() && name.len() <= 76 && name.iter().all(|&b| (0x21..=0x7e).contains(&b));
    ok.then_some(name)
}

/// True when the bytes start with a plausible header block.
pub(crate) fn looks_like_mail(bytes: &[u8]) -> bool {
    let mut count = 0;
    let mut core = false;
    for line in bytes.split(|&b| b == b'\n').take(500) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break;
        }
        if line[0] == b' ' || line[0] == b'\t' {
            if count == 0 {
                return false;
            }
            continue;
        }
        match header_name(line) {
            Some(name) => {
                count += 1;
                if count >= 2 {
                    // Nothing after two header lines can make it false.
                    return true;
                }
                core |= CORE_HEADERS
                    .iter()
                    .any(|h| h.as_bytes().eq_ignore_ascii_case(name));
            }
            None if count == 0 => return false,
            None => break,
        }
    }
    count >= 2 || core
}

/// If the header block holds bytes that are not UTF-8, returns a copy of the
/// message whose header block was decoded as UTF-8-or-windows-1252.
pub(crate) fn transcode_8bit_headers(bytes: &[u8]) -> Option<Vec<u8>> {
    let end = header_end(bytes);
    let head = &bytes[..end];
    if std::str::from_utf8(head).is_ok() {
        return None;
    }
    let (text, _) = decode_mixed(head);
    let mut out = Vec::with_capacity(bytes.len() + text.len() - head.len());
    out.extend_from_slice(text.as_bytes());
    out.extend_from_slice(&bytes[end..]);
    Some(out)
}

/// Offset of the blank line that ends the header block (or the length).
fn header_end(bytes: &[u8]) -> usize {
    // A line that is "\n" or "\r\n": at the start, or right after a "\n".
    let blank_at = |at: usize| matches!(bytes.get(at..), Some([b'\n', ..] | [b'\r', b'\n', ..]));
    if blank_at(0) {
        return 0;
    }
    memchr::memchr_iter(b'\n', bytes)
        .map(|nl| nl + 1)
        .find(|&at| blank_at(at))
        .unwrap_or(bytes.len())
}

/// The raw value of the first root header called `name`, unfolded.
pub(crate) fn raw_header(message: &Message<'_>, name: &str) -> Option<String> {
    raw_header_texts(message, name)
        .next()
        .map(|text| collapse_ws(&text))
}

/// The decoded raw values of the root headers called `name`, folding and all.
fn raw_header_texts<'m>(
    message: &'m Message<'_>,
    name: &'m str,
) -> impl Iterator<Item = String> + 'm {
    raw_header_bytes(message, name).map(|bytes| decode_mixed(bytes).0)
}

/// The raw bytes of the values of the root headers called `name`.
fn raw_header_bytes<'m>(
    message: &'m Message<'_>,
    name: &'m str,
) -> impl Iterator<Item = &'m [u8]> + 'm {
    message.headers().iter().filter_map(move |h| {
        if !h.name.as_str().eq_ignore_ascii_case(name) {
            return None;
        }
        message
            .raw_message
            .get(h.offset_start as usize..h.offset_end as usize)
    })
}

fn has_header(message: &Message<'_>, name: &str) -> bool {
    message
        .headers()
        .iter()
        .any(|h| h.name.as_str().eq_ignore_ascii_case(name))
}

/// Reads ids, subject, addresses and list from the root headers.
pub(crate) fn read(message: &Message<'_>, defects: &mut Vec<String>) -> Headers {
    let message_id = raw_header(message, "Message-ID")
        .and_then(|raw| {
            let ids = parse_ids(&raw);
            match ids.len() {
                0 => raw
                    .split_whitespace()
                    .next()
                    .map(str::to_string)
                    .filter(|_| !raw.contains('<')),
                _ => ids.into_iter().next(),
            }
        })
        .or_else(|| message.message_id().and_then(normalise_id));
    // parse_ids drops whitespace itself: the long References of deep threads
    // are not collapsed first.
    let references = dedup(parse_ids(
        &raw_header_texts(message, "References")
            .collect::<Vec<_>>()
            .join(" "),
    ));
    let in_reply_to =
        raw_header(message, "In-Reply-To").and_then(|r| parse_ids(&r).into_iter().next());
    let subject = message
        .subject()
        .map(|s| collapse_ws(&clean(s)))
        .unwrap_or_default();
    let from = addresses(message, HeaderName::From);
    if from.is_empty() {
        defects.push("no from".to_string());
    }
    Headers {
        message_id,
        subject,
        from,
        to: addresses(message, HeaderName::To),
        cc: addresses(message, HeaderName::Cc),
        reply_to: addresses(message, HeaderName::ReplyTo),
        list: list_id(message),
        in_reply_to,
        references,
    }
}

fn dedup(ids: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(ids.len());
    for id in ids {
        if !out.contains(&id) {
            out.push(id);
        }
    }
    out
}

/// Removes `(comments)`, honouring nesting and backslash escapes.
fn strip_comments(s: &str) -> Cow<'_, str> {
    // Almost no id header has a comment: then there is nothing to strip.
    if !s.contains('(') {
        return Cow::Borrowed(s);
    }
    Cow::Owned(strip_comment_chars(s))
}

/// [`strip_comments`] character by character.
fn strip_comment_chars(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut depth = 0usize;
    let mut in_angle = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '<' if depth == 0 => {
                in_angle = true;
                out.push(c);
            }
            '>' if depth == 0 => {
                in_angle = false;
                out.push(c);
            }
            '(' if !in_angle => depth += 1,
            ')' if depth > 0 => depth -= 1,
            '\\' if depth > 0 => {
                chars.next();
            }
            _ if depth > 0 => {}
            _ => out.push(c),
        }
    }
    out
}

/// Normalises one id: no angle brackets, whitespace or comments.
pub(crate) fn normalise_id(s: &str) -> Option<String> {
    let s = strip_comments(s);
    // The usual id is plain ASCII with nothing to drop: copied as it is.
    let plain = s.is_ascii()
        && !s
            .bytes()
            .any(|b| matches!(b, b'<' | b'>' | b' ' | b'\t'..=b'\r'));
    let id: String = if plain {
        s.into_owned()
    } else {
        s.chars()
            .filter(|c| !c.is_whitespace() && *c != '<' && *c != '>')
            .collect()
    };
    (!id.is_empty()).then_some(id)
}

/// The ids in a Message-ID / In-Reply-To / References value, normalised, in order.
/// Without angle brackets, only tokens that look like `x@y` count.
pub(crate) fn parse_ids(raw: &str) -> Vec<String> {
    let s = strip_comments(raw);
    if s.contains('<') {
        s.split('<')
            .skip(1)
            .filter_map(|seg| seg.split('>').next())
            .filter_map(normalise_id)
            .collect()
    } else {
        s.split(|c: char| c.is_whitespace() || c == ',')
            .filter(|t| t.contains('@'))
            .filter_map(normalise_id)
            .collect()
    }
}

/// Every mailbox in every instance of an address header, groups flattened.
pub(crate) fn addresses(message: &Message<'_>, name: HeaderName<'static>) -> Vec<Address> {
    let mut out = Vec::new();
    for value in message.header_values(name) {
        match value {
            HeaderValue::Address(list) => out.extend(list.iter().filter_map(address)),
            HeaderValue::Text(t) => out.extend(name_only(t)),
            HeaderValue::TextList(ts) => out.extend(ts.iter().filter_map(|t| name_only(t))),
            _ => {}
        }
    }
    out
}

fn name_only(text: &str) -> Option<Address> {
    let name = collapse_ws(&clean(text));
    (!name.is_empty()).then_some(Address {
        name: Some(name),
        addr: None,
    })
}

fn address(a: &Addr<'_>) -> Option<Address> {
    let name = a
        .name()
        .map(|n| collapse_ws(&clean(n)))
        .map(|n| n.trim_matches(|c| c == '"' || c == '\'').trim().to_string())
        .filter(|n| !n.is_empty());
    let addr = a.address().and_then(normalise_addr);
    if name.is_none() && addr.is_none() {
        return None;
    }
    Some(Address { name, addr })
}

/// Trims, drops angle brackets and lowercases the domain.
pub(crate) fn normalise_addr(addr: &str) -> Option<String> {
    let addr = clean(addr);
    let mut addr = addr
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim();
    // Garbage around an address: keep the last token that looks like one.
    if addr.contains(|c: char| c.is_whitespace() || c == ',' || c == '<' || c == '>') {
        addr = addr
            .split(|c: char| c.is_whitespace() || c == ',')
            .map(|t| t.trim_matches(|c| c == '<' || c == '>'))
            .rfind(|t| t.contains('@'))
            .unwrap_or(addr);
    }
    if addr.is_empty() {
        return None;
    }
    Some(match addr.rsplit_once('@') {
        Some((local, domain)) => format!("{local}@{}", domain.to_lowercase()),
        None => addr.to_string(),
    })
}

/// List-Id's `<id>`, else X-Mailing-List / Mailing-List, lowercased.
fn list_id(message: &Message<'_>) -> Option<String> {
    if let Some(raw) = raw_header(message, "List-Id") {
        let inner = match (raw.rfind('<'), raw.rfind('>')) {
            (Some(a), Some(b)) if a < b => raw[a + 1..b].to_string(),
            // No brackets: the whole value is the id when it is one token.
            _ => raw.split_whitespace().last().unwrap_or("").to_string(),
        };
        if let Some(id) = tidy_list(&inner) {
            return Some(id);
        }
    }
    for name in ["X-Mailing-List", "Mailing-List"] {
        let Some(raw) = raw_header(message, name) else {
            continue;
        };
        let raw = raw.split(';').next().unwrap_or("");
        let inner = match (raw.find('<'), raw.find('>')) {
            (Some(a), Some(b)) if a < b => raw[a + 1..b].to_string(),
            _ => {
                let raw = raw.trim();
                let raw = raw.strip_prefix("list ").unwrap_or(raw);
                raw.split_whitespace().next().unwrap_or("").to_string()
            }
        };
        if let Some(id) = tidy_list(&inner) {
            return Some(id);
        }
    }
    None
}

fn tidy_list(s: &str) -> Option<String> {
    let id: String = s.trim().trim_matches('"').trim().to_lowercase();
    (!id.is_empty() && !id.contains(char::is_whitespace)).then_some(id)
}

/// Accepts a parsed date only when every field is in range and the year is
/// plausible for mail.
fn valid_timestamp(dt: &DateTime) -> Option<i64> {
    (dt.is_valid() && (1971..=2100).contains(&dt.year)).then(|| dt.to_timestamp())
}

/// How far a `Date:` may be ahead of the message's arrival before it is taken
/// for a wrong clock (a sender's, or spam's) rather than a date: a day covers
/// any time-zone mistake.
const DATE_AHEAD_OF_ARRIVAL: i64 = 86_400;

/// A message's dates.
pub(crate) struct Dates {
    /// The date the message is filed under.
    pub date: Option<i64>,
    /// Where `date` came from.
    pub source: DateSource,
    /// The `Date:` header as written, whether or not it is `date`.
    pub header: Option<i64>,
    /// When it reached the mail system: newest `Received:`, else mbox envelope.
    pub arrived: Option<i64>,
}

/// The message date: the Date header, unless it is more than a day after the
/// message arrived (no mail is written after it is received: 2028-dated spam
/// would head every newest-first list for years); else the newest Received,
/// else the mbox envelope.
pub(crate) fn dates(
    message: &Message<'_>,
    envelope: Option<&str>,
    defects: &mut Vec<String>,
) -> Dates {
    let header = if has_header(message, "Date") {
        let parsed = message
            .date()
            .and_then(|dt| valid_timestamp(&y2k_fix(*dt)))
            .or_else(|| raw_header(message, "Date").and_then(|raw| lenient_date(&raw)));
        if parsed.is_none() {
            defects.push("bad date".to_string());
        }
        parsed
    } else {
        defects.push("no date".to_string());
        None
    };
    let arrival = newest_received(message)
        .map(|t| (t, DateSource::Received))
        .or_else(|| {
            envelope
                .and_then(envelope_date)
                .map(|t| (t, DateSource::Envelope))
        });
    let (date, source) = match (header, arrival) {
        (Some(h), Some((a, from))) if h > a.saturating_add(DATE_AHEAD_OF_ARRIVAL) => {
            defects.push("date after arrival".to_string());
            (Some(a), from)
        }
        (Some(h), _) => (Some(h), DateSource::Header),
        (None, Some((a, from))) => (Some(a), from),
        (None, None) => (None, DateSource::None),
    };
    Dates {
        date,
        source,
        header,
        arrived: arrival.map(|(t, _)| t),
    }
}

fn newest_received(message: &Message<'_>) -> Option<i64> {
    // Only the date after the last `;` is decoded: `Received` lines are a
    // large share of the header bytes. (`;` is one byte in UTF-8 and in the
    // windows-1252 fallback, so it is found in the raw bytes.)
    raw_header_bytes(message, "Received")
        .filter_map(|raw| {
            let at = raw.iter().rposition(|&b| b == b';')?;
            let tail = collapse_ws(&decode_mixed(&raw[at + 1..]).0);
            DateTime::parse_rfc822(&tail)
                .as_ref()
                .and_then(valid_timestamp)
        })
        .max()
}

/// Years written as `year - 1900` by Y2K-buggy mailers ("0102" for 2002).
fn y2k_fix(mut dt: DateTime) -> DateTime {
    if (100..=199).contains(&dt.year) {
        dt.year += 1900;
    }
    dt
}

/// Dates mail-parser rejects that are still unambiguous: no zone (taken as
/// UTC) and asctime format.
fn lenient_date(raw: &str) -> Option<i64> {
    let raw = raw.trim();
    DateTime::parse_rfc822(&format!("{raw} +0000"))
        .map(y2k_fix)
        .as_ref()
        .and_then(valid_timestamp)
        .or_else(|| envelope_date(&format!("- {raw}")))
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];

/// Parses the date of an mbox envelope, `sender Www Mmm dd hh:mm:ss [zone] yyyy [zone]`.
pub(crate) fn envelope_date(envelope: &str) -> Option<i64> {
    let mut tokens = envelope.split_whitespace();
    tokens.next()?; // sender
    let rest: Vec<&str> = tokens.collect();
    let (mut month, mut day, mut time, mut year, mut zone) = (None, None, None, None, 0i64);
    for t in &rest {
        let lower = t.trim_end_matches(',').to_ascii_lowercase();
        if month.is_none() && lower.len() >= 3 {
            if let Some(m) = MONTHS.iter().position(|m| lower.starts_with(m)) {
                month = Some(m as u32 + 1);
                continue;
            }
        }
        if t.contains(':') && time.is_none() {
            let mut parts = t.split(':').map(|p| p.parse::<u32>().ok());
            let h = parts.next().flatten()?;
            let m = parts.next().flatten()?;
            let s = parts.next().flatten().unwrap_or(0);
            time = Some((h, m, s));
        } else if (t.starts_with('+') || t.starts_with('-')) && t.len() == 5 {
            let n: i64 = t[1..].parse().ok()?;
            let secs = (n / 100) * 3600 + (n % 100) * 60;
            zone = if t.starts_with('-') { -secs } else { secs };
        } else if let Ok(n) = lower.parse::<u32>() {
            if t.len() == 4 && year.is_none() {
                year = Some(n);
            } else if day.is_none() && (1..=31).contains(&n) {
                day = Some(n);
            }
        }
    }
    let (h, mi, s) = time?;
    let dt = DateTime {
        year: u16::try_from(year?).ok()?,
        month: u8::try_from(month?).ok()?,
        day: u8::try_from(day?).ok()?,
        hour: u8::try_from(h).ok()?,
        minute: u8::try_from(mi).ok()?,
        second: u8::try_from(s).ok()?,
        tz_before_gmt: false,
        tz_hour: 0,
        tz_minute: 0,
    };
    valid_timestamp(&dt).map(|ts| ts - zone)
}

/// Reply and forward prefixes, lowercased, without the colon.
const PREFIXES: &[&str] = &[
    "re", "fwd", "fw", "aw", "wg", "sv", "vs", "antw", "réf", "ref", "tr", "回复", "答复", "回覆",
    "转发", "轉寄",
];

/// Lowercased subject without `[list-tag]`s and reply/forward prefixes (repeated,
/// any order, also `Re[2]:`), whitespace collapsed.
pub(crate) fn thread_subject(subject: &str) -> String {
    let mut s = collapse_ws(&subject.to_lowercase());
    loop {
        let before = s.len();
        let t = s.trim_start();
        let t = if t.starts_with('[') {
            match t.find(']') {
                // Keep a subject that is only a bracketed text.
                Some(end) if !t[end + 1..].trim().is_empty() => &t[end + 1..],
                _ => t,
            }
        } else {
            strip_prefix_word(t).unwrap_or(t)
        };
        s = t.trim_start().to_string();
        if s.len() == before {
            break;
        }
    }
    collapse_ws(&s)
}

/// The subject as a conversation's title: `[list-tag]`s and reply/forward
/// prefixes (repeated, any order) removed, case kept, whitespace collapsed.
/// A subject that is nothing but those stays as it is.
pub(crate) fn bare_subject(subject: &str) -> String {
    let original = collapse_ws(subject);
    let mut s = original.as_str();
    loop {
        let t = s.trim_start();
        let next = if t.starts_with('[') {
            match t.find(']') {
                Some(end) if !t[end + 1..].trim().is_empty() => &t[end + 1..],
                _ => t,
            }
        } else {
            // Prefixes are matched lowercased; what they consumed is counted
            // in characters, the same in both cases for every prefix we know.
            let lower = t.to_lowercase();
            match strip_prefix_word(&lower) {
                Some(rest) if !rest.trim().is_empty() => {
                    let used = lower[..lower.len() - rest.len()].chars().count();
                    t.char_indices().nth(used).map_or("", |(i, _)| &t[i..])
                }
                _ => t,
            }
        };
        if next.len() == s.len() {
            break;
        }
        s = next;
    }
    match s.trim() {
        "" => original,
        t => t.to_string(),
    }
}

/// Does the subject begin (after `[list-tag]`s) with a reply or forward prefix?
pub(crate) fn is_reply_subject(subject: &str) -> bool {
    let s = collapse_ws(&subject.to_lowercase());
    let mut t = s.trim_start();
    while t.starts_with('[') {
        match t.find(']') {
            Some(end) => t = t[end + 1..].trim_start(),
            None => break,
        }
    }
    strip_prefix_word(t).is_some()
}

/// `re:`, `re[2]:`, `re(2):`, `re :`, `回复：` and the like.
fn strip_prefix_word(s: &str) -> Option<&str> {
    for p in PREFIXES {
        let Some(rest) = s.strip_prefix(p) else {
            continue;
        };
        let mut rest = rest;
        if let Some(r) = rest.strip_prefix('[').or_else(|| rest.strip_prefix('(')) {
            let digits = r.find(|c: char| !c.is_ascii_digit()).unwrap_or(r.len());
            let after = &r[digits..];
            if digits > 0 {
                if let Some(a) = after.strip_prefix(']').or_else(|| after.strip_prefix(')')) {
                    rest = a;
                }
            }
        }
        let rest = rest.trim_start_matches(' ');
        if let Some(r) = rest.strip_prefix(':').or_else(|| rest.strip_prefix('：')) {
            return Some(r);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The definition: comments out (outside angle brackets, character by
    /// character, never taking the shortcuts), then every whitespace
    /// character and angle bracket dropped.
    fn reference(s: &str) -> Option<String> {
        let id: String = strip_comment_chars(s)
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '<' && *c != '>')
            .collect();
        (!id.is_empty()).then_some(id)
    }

    #[test]
    fn bare_subjects_keep_case_and_drop_tags_and_prefixes() {
        for (s, want) in [
            ("[Ops] Re: RE: Disk full on DB01", "Disk full on DB01"),
            ("Re: [Ops] Fwd: Timeout", "Timeout"),
            ("AW: Re[2]: Über alles", "Über alles"),
            ("[Ops]", "[Ops]"),
            ("Re:", "Re:"),
            ("Plain subject", "Plain subject"),
            ("  spaced   out  ", "spaced out"),
        ] {
            assert_eq!(bare_subject(s), want, "{s:?}");
        }
    }

    #[test]
    fn ids_normalise_as_defined() {
        for s in [
            "<a.b@example.org>",
            " <a@b> ",
            "a@b (comment) ",
            "<a(b)@c>",
            "x\u{0b}y@z",
            "x\u{a0}y@z",
            "(only a comment)",
            "",
            "\\(x",
        ] {
            assert_eq!(normalise_id(s), reference(s), "{s:?}");
        }
    }

    /// Where the header block ends, line by line as first written.
    fn header_end_by_lines(bytes: &[u8]) -> usize {
        let mut pos = 0;
        for line in bytes.split_inclusive(|&b| b == b'\n') {
            if line == b"\n" || line == b"\r\n" {
                return pos;
            }
            pos += line.len();
        }
        bytes.len()
    }

    #[test]
    fn header_ends_at_the_first_blank_line() {
        for s in [
            "",
            "\n",
            "\r\n",
            "A: b\n\nbody",
            "A: b\r\n\r\nbody\n\n",
            "A: b\n \nc\n",
            "A: b\r\r\n\n",
            "A: b",
            "A: b\n",
            "\n\n",
        ] {
            assert_eq!(
                header_end(s.as_bytes()),
                header_end_by_lines(s.as_bytes()),
                "{s:?}"
            );
        }
        assert_eq!(header_end(b"A: b\r\n\r\nbody"), 6);
    }

    proptest! {
        #[test]
        fn header_end_equals_the_line_by_line_definition(s in proptest::collection::vec(proptest::sample::select(vec![b'a', b':', b' ', b'\r', b'\n']), 0..40)) {
            prop_assert_eq!(header_end(&s), header_end_by_lines(&s));
        }

        #[test]
        fn normalise_id_equals_the_definition(s in "[a-z@.<>() \\\\\t\r\n\x0b\x0c\x1c\u{85}\u{a0}é]{0,40}") {
            prop_assert_eq!(normalise_id(&s), reference(&s));
        }
    }
}

#[cfg(test)]
mod received_tests {
    use crate::extract::{extract, ExtractContext};

    #[test]
    fn arrival_is_the_newest_received_date_whatever_the_folding() {
        let raw = b"Received: from a.example (a [192.0.2.1])\r\n\tby b.example; Tue, 02 Mar 2010\r\n  14:00:00 +0100\r\n\
Received: from c (c \xe9t\xe9; semicolons; inside)\r\n by d; Tue, 02 Mar 2010 12:30:00 +0000 (UTC)\r\n\
Received: by e; not a date\r\n\
Received: by f without any date\r\n\
Message-ID: <r@x>\r\nFrom: a@x\r\nSubject: s\r\n\r\nbody\r\n";
        let doc = extract(raw, &ExtractContext::default()).expect("extracts");
        // 2010-03-02 13:00:00 UTC: the folded first line, newer than the second.
        assert_eq!(doc.arrived, Some(1_267_534_800));
    }

    fn with_dates(
        date: &str,
        received: Option<&str>,
        envelope: Option<&str>,
    ) -> crate::extract::MailDoc {
        let received = received
            .map(|r| format!("Received: by mx.example; {r}\n"))
            .unwrap_or_default();
        let raw = format!(
            "{received}Message-ID: <d@x>\nFrom: a@x\nSubject: s\nDate: {date}\n\nbody words\n"
        );
        let ctx = ExtractContext {
            list: None,
            envelope,
            ..ExtractContext::default()
        };
        extract(raw.as_bytes(), &ctx).expect("extracts")
    }

    #[test]
    fn a_date_written_after_arrival_gives_way_to_the_arrival() {
        use crate::extract::DateSource;
        // Spam of 2002 dated 2028: filed under its Received date.
        let spam = with_dates(
            "Wed, 04 Oct 2028 10:00:00 +0000",
            Some("Sun, 15 Sep 2002 12:00:00 +0000"),
            None,
        );
        assert_eq!(spam.date, Some(1_032_091_200));
        assert_eq!(spam.date_source, DateSource::Received);
        assert!(spam.defects.contains(&"date after arrival".to_string()));
        // The same message arriving after its Date keeps it; the content hash
        // (which covers the Date header as written) is the same for both.
        let sane = with_dates(
            "Wed, 04 Oct 2028 10:00:00 +0000",
            Some("Wed, 04 Oct 2028 10:05:00 +0000"),
            None,
        );
        assert_eq!(sane.date, Some(1_854_266_400));
        assert_eq!(sane.date_source, DateSource::Header);
        assert!(!sane.defects.contains(&"date after arrival".to_string()));
        assert_eq!(spam.content_hash, sane.content_hash);
        // Only the mbox envelope tells when it arrived: the same rule.
        let mboxed = with_dates(
            "Wed, 04 Oct 2028 10:00:00 +0000",
            None,
            Some("a@x Sun Sep 15 12:00:00 2002"),
        );
        assert_eq!(mboxed.date, Some(1_032_091_200));
        assert_eq!(mboxed.date_source, DateSource::Envelope);
    }

    #[test]
    fn dates_a_little_ahead_or_long_before_arrival_are_kept() {
        use crate::extract::DateSource;
        // A wrong time zone puts Date hours after the relay's clock: kept.
        let skewed = with_dates(
            "Sun, 15 Sep 2002 23:00:00 -0900",
            Some("Sun, 15 Sep 2002 12:00:00 +0000"),
            None,
        );
        assert_eq!(skewed.date_source, DateSource::Header);
        assert_eq!(skewed.date, Some(1_032_091_200 + 20 * 3600));
        // Old mail delivered again years later (a migration) keeps its Date.
        let redelivered = with_dates(
            "Sun, 15 Sep 2002 12:00:00 +0000",
            Some("Wed, 02 Dec 2026 12:00:00 +0000"),
            None,
        );
        assert_eq!(redelivered.date_source, DateSource::Header);
        assert_eq!(redelivered.date, Some(1_032_091_200));
        assert_eq!(redelivered.arrived, Some(1_796_212_800));
    }
}
