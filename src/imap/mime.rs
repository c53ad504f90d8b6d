//! A message's MIME structure as IMAP shows it: the entity tree (header and
//! body byte ranges, nested multiparts and message/rfc822), section lookup
//! (`1.2.HEADER`, `TEXT`, `MIME`, `HEADER.FIELDS (...)`), ENVELOPE and
//! BODYSTRUCTURE. Works on the message with CRLF line ends (what IMAP sends),
//! on raw header text: encoded words are passed on as written, as Dovecot
//! does. Pure; knows nothing of the index or the session.

use super::response::{nstring, quote};

/// Line ends made CRLF (a bare LF becomes CRLF; CRLF stays).
pub fn to_crlf(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + bytes.len() / 40);
    let mut prev = 0u8;
    for &b in bytes {
        if b == b'\n' && prev != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        prev = b;
    }
    out
}

/// What an entity holds.
#[derive(Debug)]
pub enum Kind {
    /// multipart/*: the parts.
    Multipart(Vec<Entity>),
    /// message/rfc822: the message inside.
    Message(Box<Entity>),
    /// Anything else.
    Leaf,
}

/// One MIME entity: byte ranges into the message.
#[derive(Debug)]
pub struct Entity {
    /// Start of its header.
    pub start: usize,
    /// End of its header (after the blank line) = start of its body.
    pub body: usize,
    /// End of its body.
    pub end: usize,
    /// Type and subtype, lowercased.
    pub ctype: (String, String),
    /// Content-Type parameters (names lowercased).
    pub params: Vec<(String, String)>,
    /// What it holds.
    pub kind: Kind,
}

const MAX_DEPTH: usize = 20;

/// Where the header ends (after the empty line; the whole input when none).
fn header_end(b: &[u8]) -> usize {
    if b.starts_with(b"\r\n") {
        return 2;
    }
    match memchr::memmem::find(b, b"\r\n\r\n") {
        Some(i) => i + 4,
        None => b.len(),
    }
}

/// The header's fields: (name, unfolded value, raw bytes with line end).
pub fn fields(header: &[u8]) -> Vec<(String, String, &[u8])> {
    let mut out: Vec<(String, String, &[u8])> = Vec::new();
    let mut i = 0;
    while i < header.len() {
        let line_end = memchr::memchr(b'\n', &header[i..]).map_or(header.len(), |p| i + p + 1);
        let mut end = line_end;
        while end < header.len() && matches!(header[end], b' ' | b'\t') {
            end = memchr::memchr(b'\n', &header[end..]).map_or(header.len(), |p| end + p + 1);
        }
        let raw = &header[i..end];
        if let Some(colon) = memchr::memchr(b':', raw) {
            let name = String::from_utf8_lossy(&raw[..colon]).trim().to_string();
            let value: String = String::from_utf8_lossy(&raw[colon + 1..])
                .replace("\r\n", "")
                .replace('\n', "");
            if !name.is_empty() && !name.contains(' ') {
                out.push((name, value.trim().to_string(), raw));
            }
        }
        i = end;
    }
    out
}

fn field<'a>(fields: &'a [(String, String, &[u8])], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(n, _, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v, _)| v.as_str())
}

/// Splits `value; a=b; c="d"` into the value and its parameters.
fn params(value: &str) -> (String, Vec<(String, String)>) {
    let mut parts = Vec::new();
    let (mut cur, mut quoted, mut escaped) = (String::new(), false, false);
    for c in value.chars() {
        if escaped {
            cur.push(c);
            escaped = false;
        } else if c == '\\' && quoted {
            escaped = true;
        } else if c == '"' {
            quoted = !quoted;
        } else if c == ';' && !quoted {
            parts.push(std::mem::take(&mut cur));
        } else {
            cur.push(c);
        }
    }
    parts.push(cur);
    let mut it = parts.into_iter();
    let head = it.next().unwrap_or_default().trim().to_string();
    let ps = it
        .filter_map(|p| {
            let (k, v) = p.split_once('=')?;
            Some((k.trim().to_ascii_lowercase(), v.trim().to_string()))
        })
        .filter(|(k, _)| !k.is_empty())
        .collect();
    (head, ps)
}

fn parse_entity(
    msg: &[u8],
    start: usize,
    end: usize,
    default: (&str, &str),
    depth: usize,
) -> Entity {
    let body = start + header_end(&msg[start..end]);
    let fs = fields(&msg[start..body]);
    let (ct, params) = field(&fs, "content-type").map(params).unwrap_or_default();
    let ctype = match ct.split_once('/') {
        Some((t, s)) if !t.trim().is_empty() && !s.trim().is_empty() => {
            (t.trim().to_ascii_lowercase(), s.trim().to_ascii_lowercase())
        }
        _ => (default.0.to_string(), default.1.to_string()),
    };
    let params = if ct.is_empty() && ctype.0 == "text" {
        vec![("charset".to_string(), "us-ascii".to_string())]
    } else {
        params
    };
    let kind = if depth >= MAX_DEPTH {
        Kind::Leaf
    } else if ctype.0 == "multipart" {
        let boundary = params
            .iter()
            .find(|(k, _)| k == "boundary")
            .map(|(_, v)| v.clone());
        match boundary {
            Some(b) if !b.is_empty() => {
                let child_default = if ctype.1 == "digest" {
                    ("message", "rfc822")
                } else {
                    ("text", "plain")
                };
                Kind::Multipart(
                    split_parts(msg, body, end, b.as_bytes())
                        .into_iter()
                        .map(|(s, e)| parse_entity(msg, s, e, child_default, depth + 1))
                        .collect(),
                )
            }
            _ => Kind::Leaf,
        }
    } else if ctype == ("message".to_string(), "rfc822".to_string()) {
        Kind::Message(Box::new(parse_entity(
            msg,
            body,
            end,
            ("text", "plain"),
            depth + 1,
        )))
    } else {
        Kind::Leaf
    };
    Entity {
        start,
        body,
        end,
        ctype,
        params,
        kind,
    }
}

/// The parts between `--boundary` lines of body `[from, to)`: each part's
/// range excludes the CRLF before the next delimiter.
fn split_parts(msg: &[u8], from: usize, to: usize, boundary: &[u8]) -> Vec<(usize, usize)> {
    let mut delim = b"--".to_vec();
    delim.extend_from_slice(boundary);
    let mut out = Vec::new();
    let mut open: Option<usize> = None;
    let mut line = from;
    while line < to {
        let next = memchr::memchr(b'\n', &msg[line..to]).map_or(to, |p| line + p + 1);
        let text = &msg[line..next];
        if text.starts_with(&delim) {
            let rest = &text[delim.len()..];
            let closing = rest.starts_with(b"--");
            let tail = if closing { &rest[2..] } else { rest };
            if tail.iter().all(|b| b.is_ascii_whitespace()) {
                if let Some(s) = open.take() {
                    // The CRLF before the delimiter belongs to it.
                    let mut e = line;
                    if e >= s + 2 && &msg[e - 2..e] == b"\r\n" {
                        e -= 2;
                    }
                    out.push((s, e.max(s)));
                }
                if closing {
                    return out;
                }
                open = Some(next);
            }
        }
        line = next;
    }
    if let Some(s) = open {
        out.push((s, to));
    }
    out
}

/// The entity tree of a (CRLF) message.
pub fn parse(msg: &[u8]) -> Entity {
    parse_entity(msg, 0, msg.len(), ("text", "plain"), 0)
}

impl Entity {
    /// Part `n` (1-based) below this entity, IMAP's way.
    fn nav(&self, n: u32) -> Option<&Entity> {
        match &self.kind {
            Kind::Multipart(children) => children.get(usize::try_from(n).ok()?.checked_sub(1)?),
            Kind::Message(inner) => inner.nav(n),
            Kind::Leaf => (n == 1).then_some(self),
        }
    }

    /// The entity at `path` (empty: the message itself).
    pub fn find(&self, path: &[u32]) -> Option<&Entity> {
        let mut e = self;
        for &n in path {
            e = e.nav(n)?;
        }
        Some(e)
    }

    /// The message whose HEADER/TEXT a section names: the root for an empty
    /// path, else the message inside a message/rfc822 part.
    pub fn message_at(&self, path: &[u32]) -> Option<&Entity> {
        if path.is_empty() {
            return Some(self);
        }
        match &self.find(path)?.kind {
            Kind::Message(inner) => Some(inner),
            _ => None,
        }
    }
}

fn count_lines(b: &[u8]) -> usize {
    memchr::memchr_iter(b'\n', b).count()
}

fn param_list(ps: &[(String, String)]) -> String {
    if ps.is_empty() {
        return "NIL".into();
    }
    let items: Vec<String> = ps
        .iter()
        .map(|(k, v)| format!("{} {}", quote(&k.to_ascii_uppercase()), quote(v)))
        .collect();
    format!("({})", items.join(" "))
}

fn disposition(fs: &[(String, String, &[u8])]) -> String {
    match field(fs, "content-disposition") {
        Some(v) => {
            let (d, ps) = params(v);
            format!("({} {})", quote(&d.to_ascii_uppercase()), param_list(&ps))
        }
        None => "NIL".into(),
    }
}

fn opt_field(fs: &[(String, String, &[u8])], name: &str) -> String {
    nstring(field(fs, name).map(str::as_bytes))
}

/// BODYSTRUCTURE (`extended`) or BODY of `e` in message `msg`.
pub fn structure(msg: &[u8], e: &Entity, extended: bool) -> String {
    let fs = fields(&msg[e.start..e.body]);
    let ext_tail = |out: &mut String| {
        out.push(' ');
        out.push_str(&disposition(&fs));
        out.push(' ');
        out.push_str(&opt_field(&fs, "content-language"));
        out.push(' ');
        out.push_str(&opt_field(&fs, "content-location"));
    };
    match &e.kind {
        Kind::Multipart(children) if !children.is_empty() => {
            let mut out = String::from("(");
            for c in children {
                out.push_str(&structure(msg, c, extended));
            }
            out.push(' ');
            out.push_str(&quote(&e.ctype.1.to_ascii_uppercase()));
            if extended {
                out.push(' ');
                out.push_str(&param_list(&e.params));
                ext_tail(&mut out);
            }
            out.push(')');
            out
        }
        kind => {
            let (t, s) = match kind {
                // A multipart without parts is shown as an empty text part.
                Kind::Multipart(_) => ("text".to_string(), "plain".to_string()),
                _ => e.ctype.clone(),
            };
            let enc = field(&fs, "content-transfer-encoding")
                .map(|v| v.trim().to_ascii_uppercase())
                .unwrap_or_else(|| "7BIT".into());
            let body = &msg[e.body..e.end];
            let mut out = format!(
                "({} {} {} {} {} {} {}",
                quote(&t.to_ascii_uppercase()),
                quote(&s.to_ascii_uppercase()),
                param_list(&e.params),
                opt_field(&fs, "content-id"),
                opt_field(&fs, "content-description"),
                quote(&enc),
                body.len()
            );
            if let Kind::Message(inner) = kind {
                out.push(' ');
                out.push_str(&envelope(&msg[inner.start..inner.body]));
                out.push(' ');
                out.push_str(&structure(msg, inner, extended));
                out.push_str(&format!(" {}", count_lines(body)));
            } else if t == "text" {
                out.push_str(&format!(" {}", count_lines(body)));
            }
            if extended {
                out.push(' ');
                out.push_str(&opt_field(&fs, "content-md5"));
                ext_tail(&mut out);
            }
            out.push(')');
            out
        }
    }
}

/// One address of an address list: (name, mailbox, host), or a group
/// start (`Some(name)`, `None`, `None`... see [`addresses`]).
type Addr = (Option<String>, Option<String>, Option<String>);

/// Splits an address-list header into addresses, with groups as IMAP
/// writes them (a start `(NIL NIL "group" NIL)` and an end `(NIL NIL NIL NIL)`).
fn addresses(value: &str) -> Vec<Addr> {
    let mut out = Vec::new();
    let mut items: Vec<(String, char)> = Vec::new();
    let (mut cur, mut depth_paren, mut quoted, mut angle) = (String::new(), 0u32, false, false);
    let mut escaped = false;
    for c in value.chars() {
        if escaped {
            cur.push(c);
            escaped = false;
            continue;
        }
        match c {
            '\\' if quoted || depth_paren > 0 => {
                cur.push(c);
                escaped = true;
            }
            '"' if depth_paren == 0 => {
                quoted = !quoted;
                cur.push(c);
            }
            '(' if !quoted => {
                depth_paren += 1;
                cur.push(c);
            }
            ')' if !quoted && depth_paren > 0 => {
                depth_paren -= 1;
                cur.push(c);
            }
            '<' if !quoted && depth_paren == 0 => {
                angle = true;
                cur.push(c);
            }
            '>' if !quoted && depth_paren == 0 => {
                angle = false;
                cur.push(c);
            }
            ',' | ':' | ';' if !quoted && depth_paren == 0 && !angle => {
                items.push((std::mem::take(&mut cur), c));
            }
            _ => cur.push(c),
        }
    }
    items.push((cur, ','));
    for (text, sep) in items {
        let text = text.trim();
        if sep == ':' {
            out.push((None, None, Some(unquote(text))));
            continue;
        }
        if !text.is_empty() {
            out.push(mailbox(text));
        }
        if sep == ';' {
            out.push((None, None, None));
        }
    }
    out
}

fn strip_comments(s: &str) -> String {
    let (mut out, mut depth) = (String::new(), 0u32);
    for c in s.chars() {
        match c {
            '(' => depth += 1,
            ')' if depth > 0 => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out.trim().to_string()
}

fn unquote(s: &str) -> String {
    let s = s.trim();
    if s.len() >= 2 && s.starts_with('"') && s.ends_with('"') {
        s[1..s.len() - 1]
            .replace("\\\"", "\"")
            .replace("\\\\", "\\")
    } else {
        s.to_string()
    }
}

fn mailbox(text: &str) -> Addr {
    let (name, spec) = match (text.rfind('<'), text.rfind('>')) {
        (Some(l), Some(r)) if l < r => {
            let name = unquote(&strip_comments(&text[..l]));
            (
                Some(name).filter(|n| !n.is_empty()),
                text[l + 1..r].trim().to_string(),
            )
        }
        _ => (None, strip_comments(text)),
    };
    let spec = spec
        .rsplit_once(':')
        .map_or(spec.as_str(), |(_, s)| s)
        .trim();
    match spec.rsplit_once('@') {
        Some((local, host)) => (name, Some(unquote(local)), Some(host.to_string())),
        None => (name, Some(spec.to_string()), None),
    }
}

fn address_list(value: Option<&str>) -> String {
    let Some(v) = value else {
        return "NIL".into();
    };
    let addrs = addresses(v);
    if addrs.is_empty() {
        return "NIL".into();
    }
    let items: Vec<String> = addrs
        .into_iter()
        .map(|(name, mbox, host)| {
            let (mbox, host) = match (&mbox, &host) {
                // Group start: mailbox is the group name, host NIL.
                (None, Some(g)) => (Some(g.clone()), None),
                _ => (mbox, host),
            };
            format!(
                "({} NIL {} {})",
                nstring(name.as_deref().map(str::as_bytes)),
                nstring(mbox.as_deref().map(str::as_bytes)),
                nstring(host.as_deref().map(str::as_bytes)),
            )
        })
        .collect();
    format!("({})", items.concat())
}

/// ENVELOPE of a message whose header is `header`.
pub fn envelope(header: &[u8]) -> String {
    let fs = fields(header);
    let from = field(&fs, "from");
    let text = |n: &str| nstring(field(&fs, n).map(str::as_bytes));
    format!(
        "({} {} {} {} {} {} {} {} {} {})",
        text("date"),
        text("subject"),
        address_list(from),
        address_list(field(&fs, "sender").or(from)),
        address_list(field(&fs, "reply-to").or(from)),
        address_list(field(&fs, "to")),
        address_list(field(&fs, "cc")),
        address_list(field(&fs, "bcc")),
        text("in-reply-to"),
        text("message-id"),
    )
}

/// The header fields named (or, `not`, not named) in `names`, raw, with the
/// blank line that ends a header.
pub fn header_fields(header: &[u8], names: &[String], not: bool) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, _, raw) in fields(header) {
        let named = names.iter().any(|n| n.eq_ignore_ascii_case(&name));
        if named != not {
            out.extend_from_slice(raw);
        }
    }
    out.extend_from_slice(b"\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const MULTI: &str = "From: \"Ann Lee\" <ann@example.org>\r\nTo: dev@lists.example.org, Bob <bob@example.org>\r\nSubject: hi\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"xx\"\r\n\r\npreamble\r\n--xx\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nhello\r\nworld\r\n--xx\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"a.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\nAAAA\r\n--xx--\r\n";

    #[test]
    fn multipart_structure_and_sections() {
        let msg = MULTI.as_bytes();
        let root = parse(msg);
        let one = root.find(&[1]).expect("part 1");
        assert_eq!(&msg[one.body..one.end], b"hello\r\nworld");
        let two = root.find(&[2]).expect("part 2");
        assert_eq!(&msg[two.body..two.end], b"AAAA");
        assert!(root.find(&[3]).is_none());
        assert_eq!(
            structure(msg, &root, false),
            "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"utf-8\") NIL NIL \"7BIT\" 12 1)(\"APPLICATION\" \"OCTET-STREAM\" NIL NIL NIL \"BASE64\" 4) \"MIXED\")"
        );
        assert!(structure(msg, &root, true).contains("(\"ATTACHMENT\" (\"FILENAME\" \"a.bin\"))"));
    }

    #[test]
    fn envelope_addresses_and_groups() {
        let env = envelope(MULTI.as_bytes());
        assert!(
            env.starts_with("(NIL \"hi\" ((\"Ann Lee\" NIL \"ann\" \"example.org\"))"),
            "{env}"
        );
        assert!(
            env.contains(
                "((NIL NIL \"dev\" \"lists.example.org\")(\"Bob\" NIL \"bob\" \"example.org\"))"
            ),
            "{env}"
        );
        assert_eq!(
            address_list(Some("undisclosed-recipients:;")),
            "((NIL NIL \"undisclosed-recipients\" NIL)(NIL NIL NIL NIL))"
        );
    }

    #[test]
    fn header_fields_keep_folding() {
        let h = b"Subject: a\r\n b\r\nFrom: x@y\r\n\r\n";
        assert_eq!(
            header_fields(h, &["SUBJECT".into()], false),
            b"Subject: a\r\n b\r\n\r\n"
        );
        assert_eq!(
            header_fields(h, &["SUBJECT".into()], true),
            b"From: x@y\r\n\r\n"
        );
    }

    #[test]
    fn crlf() {
        assert_eq!(to_crlf(b"a\nb\r\nc\n"), b"a\r\nb\r\nc\r\n");
    }
}
