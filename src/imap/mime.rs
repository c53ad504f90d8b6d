//! A message's MIME structure as IMAP shows it: the entity tree (header and
//! body byte ranges, nested multiparts and message/rfc822), section lookup
//! (`1.2.HEADER`, `TEXT`, `MIME`, `HEADER.FIELDS (...)`), ENVELOPE and
//! BODYSTRUCTURE. Works on the message with CRLF line ends (what IMAP sends),
//! on raw header text: encoded words are passed on as written, as Dovecot
//! does. Pure; knows nothing of the index or the session.

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
    /// Type and subtype, as written (compare without case).
    pub ctype: (String, String),
    /// Content-Type parameters, as written.
    pub params: Vec<(String, String)>,
    /// What it holds.
    pub kind: Kind,
}

const MAX_DEPTH: usize = 20;

/// Header bytes as text, one char per byte (Latin-1), so 8-bit header
/// text goes back out byte for byte (see [`latin1_bytes`]).
fn latin1(b: &[u8]) -> String {
    b.iter().map(|&c| char::from(c)).collect()
}

/// Text made by [`latin1`] (and ASCII) back to its bytes.
pub fn latin1_bytes(s: &str) -> Vec<u8> {
    s.chars()
        .map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?'))
        .collect()
}

/// A quoted string, or a literal for 8-bit or control characters (of a
/// Latin-1 string: its length is its char count).
fn quote(s: &str) -> String {
    let n = s.chars().count();
    if n < 1024 && s.chars().all(|c| (' '..'\u{7f}').contains(&c)) {
        super::response::quoted(s)
    } else {
        format!("{{{n}}}\r\n{s}")
    }
}

fn nstring(s: Option<&str>) -> String {
    s.map_or_else(|| "NIL".to_string(), quote)
}

/// The header's fields: (name, unfolded value as Latin-1 text, raw bytes
/// with line end).
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
            let name = latin1(&raw[..colon]).trim().to_string();
            let value: String = latin1(&raw[colon + 1..])
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

/// The value of MIME header `name`: its first occurrence, as in Dovecot.
fn field<'a>(fields: &'a [(String, String, &[u8])], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(n, _, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v, _)| v.as_str())
}

/// Splits `value; a=b; c="d"` into the value and its parameters.
fn params(value: &str) -> (String, Vec<(String, String)>) {
    // Each part: its text with quotes removed, and whether any of it was
    // quoted. An unquoted value is one token: a space ends it.
    let mut parts: Vec<(String, bool)> = Vec::new();
    let (mut cur, mut quoted, mut escaped, mut cut) = (String::new(), false, false, false);
    let mut any_quoted = false;
    for c in value.chars() {
        if escaped {
            cur.push(c);
            escaped = false;
        } else if c == '\\' && quoted {
            escaped = true;
        } else if c == '"' {
            quoted = !quoted;
            any_quoted = true;
        } else if c == ';' && !quoted {
            parts.push((std::mem::take(&mut cur), any_quoted));
            (cut, any_quoted) = (false, false);
        } else if cut {
        } else if c.is_whitespace()
            && !quoted
            && cur.contains('=')
            && (any_quoted || !cur.trim_end().ends_with('='))
        {
            cut = true;
        } else {
            cur.push(c);
        }
    }
    parts.push((cur, any_quoted));
    let mut it = parts.into_iter();
    let head = it.next().unwrap_or_default().0.trim().to_string();
    let ps = it
        .filter_map(|(p, was_quoted)| {
            let (k, v) = p.split_once('=')?;
            let v = v.trim();
            // An unquoted value with 8-bit characters is no token: Dovecot
            // shows it empty.
            let v = if !was_quoted && !v.is_ascii() { "" } else { v };
            Some((k.trim().to_string(), v.to_string()))
        })
        .filter(|(k, _)| !k.is_empty())
        .collect();
    (head, ps)
}

/// A delimiter line that ended an entity: which boundary of the stack
/// (its index) and whether it closes (`--b--`); its line starts at `at`.
#[derive(Clone, Copy)]
struct Delim {
    level: usize,
    close: bool,
    at: usize,
    next: usize,
}

/// The parser's walk over the message: a stack of the open multiparts'
/// boundaries. As in Dovecot, a line `--X` ends the innermost entity whose
/// boundary `X` starts with, innermost boundaries first, so a child that
/// lacks its closing delimiter is ended by an ancestor's.
struct Walk<'a> {
    msg: &'a [u8],
    stack: Vec<Vec<u8>>,
}

impl Walk<'_> {
    fn line_end(&self, at: usize) -> usize {
        memchr::memchr(b'\n', &self.msg[at..]).map_or(self.msg.len(), |p| at + p + 1)
    }

    /// Is the line `[at, next)` a delimiter? As Dovecot decides: the
    /// longest boundary the line starts with, innermost first, stopping at
    /// one the line is exactly (with or without the closing `--`).
    fn delimiter(&self, at: usize, next: usize) -> Option<Delim> {
        let mut line = self.msg[at..next].strip_prefix(b"--")?;
        while let Some((b'\n' | b'\r', rest)) = line.split_last() {
            line = rest;
        }
        let dashes = line.ends_with(b"--");
        let mut best: Option<(usize, usize)> = None;
        for (level, b) in self.stack.iter().enumerate().rev() {
            if line.starts_with(b) && best.is_none_or(|(_, len)| len < b.len()) {
                best = Some((level, b.len()));
                if b.len() == line.len() || (dashes && b.len() + 2 == line.len()) {
                    break;
                }
            }
        }
        let (level, len) = best?;
        Some(Delim {
            level,
            close: line[len..].starts_with(b"--"),
            at,
            next,
        })
    }

    /// Lines from `at` up to the next delimiter of any open multipart.
    fn until_delimiter(&self, mut at: usize) -> (usize, Option<Delim>) {
        while at < self.msg.len() {
            let next = self.line_end(at);
            if let Some(d) = self.delimiter(at, next) {
                return (at, Some(d));
            }
            at = next;
        }
        (self.msg.len(), None)
    }

    /// The end of content that stops at `at` (where a delimiter line
    /// begins): the CRLF before a delimiter belongs to it.
    fn content_end(&self, start: usize, at: usize) -> usize {
        if at >= start + 2 && &self.msg[at - 2..at] == b"\r\n" {
            at - 2
        } else if at > start && self.msg[at - 1] == b'\n' {
            at - 1
        } else {
            at
        }
    }

    fn entity(
        &mut self,
        start: usize,
        default: (&str, &str),
        depth: usize,
    ) -> (Entity, Option<Delim>) {
        let msg = self.msg;
        // The header ends at its blank line, or at a delimiter line.
        let mut body = start;
        let mut cut = None;
        while body < msg.len() {
            let next = self.line_end(body);
            if matches!(&msg[body..next], b"\r\n" | b"\n") {
                body = next;
                break;
            }
            if let Some(d) = self.delimiter(body, next) {
                cut = Some(d);
                break;
            }
            body = next;
        }
        let fs = fields(&msg[start..body]);
        let (ct, params) = field(&fs, "content-type").map(params).unwrap_or_default();
        let token =
            |t: &str| !t.is_empty() && !t.chars().any(|c| c.is_whitespace() || c.is_control());
        let (ctype, mut params) = match ct.split_once('/') {
            Some((t, s)) if token(t.trim()) && token(s.trim()) => {
                ((t.trim().to_string(), s.trim().to_string()), params)
            }
            // Not a type/subtype: Dovecot shows empty strings.
            Some(_) => ((String::new(), String::new()), Vec::new()),
            None => ((default.0.to_string(), default.1.to_string()), Vec::new()),
        };
        let is = |t: &str, s: Option<&str>| {
            ctype.0.eq_ignore_ascii_case(t) && s.is_none_or(|s| ctype.1.eq_ignore_ascii_case(s))
        };
        if is("text", None)
            && !params
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case("charset"))
        {
            params.push(("charset".to_string(), "us-ascii".to_string()));
        }
        let boundary = params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("boundary"))
            // Dovecot uses at most 70 characters of a boundary (RFC 2046's limit).
            .map(|(_, v)| latin1_bytes(v).into_iter().take(70).collect::<Vec<u8>>())
            .filter(|b| !b.is_empty());
        let entity = |end: usize, kind: Kind, ctype, params| Entity {
            start,
            body,
            end,
            ctype,
            params,
            kind,
        };
        if let Some(d) = cut {
            // A delimiter inside the header: an empty body (a multipart
            // without parts).
            let kind = if is("multipart", None) {
                Kind::Multipart(Vec::new())
            } else {
                Kind::Leaf
            };
            return (entity(body, kind, ctype, params), Some(d));
        }
        if depth < MAX_DEPTH && is("multipart", None) {
            if let Some(b) = boundary {
                let child_default = if is("multipart", Some("digest")) {
                    ("message", "rfc822")
                } else {
                    ("text", "plain")
                };
                self.stack.push(b);
                let level = self.stack.len() - 1;
                let mut children = Vec::new();
                // The preamble, up to the first delimiter.
                let (_, mut found) = self.until_delimiter(body);
                // Where the content that may lose its last CRLF starts: after
                // the close delimiter, its line (and CRLF) is the part's.
                let mut tail = body;
                let ended = loop {
                    match found {
                        Some(d) if d.level == level && !d.close => {
                            let (child, after) = self.entity(d.next, child_default, depth + 1);
                            children.push(child);
                            found = after;
                        }
                        Some(d) if d.level == level => {
                            // The epilogue, up to an ancestor's delimiter.
                            tail = d.next;
                            let (_, after) = {
                                self.stack.pop();
                                let r = self.until_delimiter(d.next);
                                self.stack.push(Vec::new());
                                r
                            };
                            break after;
                        }
                        other => break other,
                    }
                };
                self.stack.pop();
                let end = match ended {
                    Some(d) => self.content_end(tail, d.at),
                    None => msg.len(),
                };
                return (entity(end, Kind::Multipart(children), ctype, params), ended);
            }
        }
        if depth < MAX_DEPTH && is("message", Some("rfc822")) {
            let (inner, ended) = self.entity(body, ("text", "plain"), depth + 1);
            let end = inner.end;
            return (
                entity(end, Kind::Message(Box::new(inner)), ctype, params),
                ended,
            );
        }
        let (at, ended) = self.until_delimiter(body);
        if ended.is_some() && at == body && body >= start + 2 && &msg[body - 2..body] == b"\r\n" {
            // An empty body right before a delimiter: the blank line's CRLF
            // is the delimiter's, so the header ends before it (Dovecot).
            let body = body - 2;
            return (
                Entity {
                    start,
                    body,
                    end: body,
                    ctype,
                    params,
                    kind: Kind::Leaf,
                },
                ended,
            );
        }
        let end = if ended.is_some() {
            self.content_end(body, at)
        } else {
            msg.len()
        };
        (entity(end, Kind::Leaf, ctype, params), ended)
    }
}

/// The entity tree of a (CRLF) message.
pub fn parse(msg: &[u8]) -> Entity {
    Walk {
        msg,
        stack: Vec::new(),
    }
    .entity(0, ("text", "plain"), 0)
    .0
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
        let Some((&first, rest)) = path.split_first() else {
            return Some(self);
        };
        // The message's own part 1 is its body when it is not multipart
        // (also when it is a message/rfc822: its parts start at 1.1).
        let mut e = match &self.kind {
            Kind::Multipart(_) => self.nav(first)?,
            _ if first == 1 => self,
            _ => return None,
        };
        for &n in rest {
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

fn param_list(ps: &[(String, String)], top: bool) -> String {
    if ps.is_empty() {
        return "NIL".into();
    }
    let items: Vec<String> = ps
        .iter()
        .map(|(k, v)| {
            // Dovecot writes a whole message's US-ASCII charset in lower case.
            let v =
                if top && k.eq_ignore_ascii_case("charset") && v.eq_ignore_ascii_case("us-ascii") {
                    "us-ascii"
                } else {
                    v
                };
            format!("{} {}", quote(k), quote(v))
        })
        .collect();
    format!("({})", items.join(" "))
}

fn disposition(fs: &[(String, String, &[u8])]) -> String {
    match field(fs, "content-disposition") {
        Some(v) => {
            let (d, ps) = params(v);
            format!("({} {})", quote(&d), param_list(&ps, false))
        }
        None => "NIL".into(),
    }
}

/// Content-Language as IMAP writes it: a list of its tags.
fn language(fs: &[(String, String, &[u8])]) -> String {
    let Some(v) = field(fs, "content-language") else {
        return "NIL".into();
    };
    let tags: Vec<String> = v
        .split(',')
        .map(|t| strip_comments(t).trim().to_string())
        .filter(|t| !t.is_empty())
        .map(|t| quote(&t))
        .collect();
    if tags.is_empty() {
        "NIL".into()
    } else {
        format!("({})", tags.join(" "))
    }
}

fn opt_field(fs: &[(String, String, &[u8])], name: &str) -> String {
    nstring(field(fs, name))
}

/// BODYSTRUCTURE (`extended`) or BODY of `e` in message `msg`.
pub fn structure(msg: &[u8], e: &Entity, extended: bool) -> String {
    structure_at(msg, e, extended, true)
}

fn structure_at(msg: &[u8], e: &Entity, extended: bool, top: bool) -> String {
    let fs = fields(&msg[e.start..e.body]);
    let ext_tail = |out: &mut String| {
        out.push(' ');
        out.push_str(&disposition(&fs));
        out.push(' ');
        out.push_str(&language(&fs));
        out.push(' ');
        out.push_str(&opt_field(&fs, "content-location"));
    };
    match &e.kind {
        Kind::Multipart(children) => {
            let mut out = String::from("(");
            if children.is_empty() {
                // No parts found: one empty text part, as Dovecot shows it.
                out.push_str("(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0");
                out.push_str(if extended { " NIL NIL NIL NIL)" } else { ")" });
            }
            for c in children {
                out.push_str(&structure_at(msg, c, extended, false));
            }
            out.push(' ');
            out.push_str(&quote(&e.ctype.1));
            if extended {
                out.push(' ');
                out.push_str(&param_list(&e.params, top));
                ext_tail(&mut out);
            }
            out.push(')');
            out
        }
        kind => {
            let (t, s) = e.ctype.clone();
            // One token, else Dovecot's default.
            let enc = field(&fs, "content-transfer-encoding")
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty() && !v.contains(char::is_whitespace))
                .unwrap_or_else(|| "7bit".into());
            let body = &msg[e.body..e.end];
            let mut out = format!(
                "({} {} {} {} {} {} {}",
                quote(&t),
                quote(&s),
                param_list(&e.params, top),
                opt_field(&fs, "content-id"),
                opt_field(&fs, "content-description"),
                quote(&enc),
                body.len()
            );
            if let Kind::Message(inner) = kind {
                out.push(' ');
                out.push_str(&envelope(&msg[inner.start..inner.body]));
                out.push(' ');
                out.push_str(&structure_at(msg, inner, extended, false));
                out.push_str(&format!(" {}", count_lines(body)));
            } else if t.eq_ignore_ascii_case("text") {
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
            out.extend(mailbox(text));
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

/// The last comment's text (`(Name)`), if any.
fn comment(s: &str) -> Option<String> {
    let open = s.rfind('(')?;
    let close = s[open..].find(')')? + open;
    let inner = s[open + 1..close].trim();
    (!inner.is_empty()).then(|| inner.to_string())
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

/// Runs of whitespace as one space (a display name's phrase).
fn collapse(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// One mailbox, as Dovecot shows it: a missing local part or domain is
/// `MISSING_MAILBOX` / `MISSING_DOMAIN`; nothing but a comment is no address.
fn mailbox(text: &str) -> Option<Addr> {
    let (name, spec) = match (text.rfind('<'), text.rfind('>')) {
        (Some(l), Some(r)) if l < r => {
            let name = collapse(&unquote(&strip_comments(&text[..l])));
            (
                Some(name).filter(|n| !n.is_empty()),
                text[l + 1..r].trim().to_string(),
            )
        }
        // `addr (Name)`: the comment is the name.
        _ => (comment(text), strip_comments(text)),
    };
    let spec = spec
        .rsplit_once(':')
        .map_or(spec.as_str(), |(_, s)| s)
        .trim();
    if spec.is_empty() {
        return None;
    }
    let missing = |s: &str| Some(s.to_string());
    Some(match spec.rsplit_once('@') {
        Some((local, host)) => (name, Some(unquote(local)), Some(host.to_string())),
        // A phrase without an address: the phrase is the name.
        None if spec.contains(char::is_whitespace) && name.is_none() => (
            Some(collapse(&unquote(spec))),
            missing("MISSING_MAILBOX"),
            missing("MISSING_DOMAIN"),
        ),
        None => (name, Some(spec.to_string()), missing("MISSING_DOMAIN")),
    })
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
                nstring(name.as_deref()),
                nstring(mbox.as_deref()),
                nstring(host.as_deref()),
            )
        })
        .collect();
    format!("({})", items.concat())
}

/// ENVELOPE of a message whose header is `header`.
pub fn envelope(header: &[u8]) -> String {
    // For the envelope the last occurrence of a header wins, as in Dovecot.
    let mut fs = fields(header);
    fs.reverse();
    let from = field(&fs, "from");
    // A folded value goes out as a literal (without its line breaks), as
    // Dovecot sends it.
    let text = |n: &str| {
        let found = fs.iter().find(|(k, _, _)| k.eq_ignore_ascii_case(n));
        match found {
            Some((_, v, raw)) if raw.trim_ascii_end().contains(&b'\n') => {
                format!("{{{}}}\r\n{v}", v.chars().count())
            }
            Some((_, v, _)) => quote(v),
            None => "NIL".into(),
        }
    };
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
            "((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 12 1)(\"application\" \"octet-stream\" NIL NIL NIL \"base64\" 4) \"mixed\")"
        );
        assert!(structure(msg, &root, true).contains("(\"attachment\" (\"filename\" \"a.bin\"))"));
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

    fn sections_of(root: &Entity, path: &mut Vec<u32>, out: &mut Vec<Vec<u32>>) {
        out.push(path.clone());
        if path.len() > 6 {
            return;
        }
        for n in 1..4 {
            path.push(n);
            if root.find(path).is_some() {
                sections_of(root, path, out);
            }
            path.pop();
        }
    }

    proptest::proptest! {
        /// No message panics the MIME walk, ENVELOPE, BODYSTRUCTURE or a
        /// section lookup, and every range stays inside the message.
        #[test]
        fn any_message_is_walked_without_panic(parts in proptest::collection::vec(
            proptest::prop_oneof![
                proptest::strategy::Just("Content-Type: multipart/mixed; boundary=b\r\n".to_string()),
                proptest::strategy::Just("Content-Type: multipart/mixed; boundary=\"b\"\r\n".to_string()),
                proptest::strategy::Just("Content-Type: message/rfc822\r\n".to_string()),
                proptest::strategy::Just("Content-Type: multipart/digest; boundary=bb\r\n".to_string()),
                proptest::strategy::Just("--b\r\n".to_string()),
                proptest::strategy::Just("--b--\r\n".to_string()),
                proptest::strategy::Just("--bb\r\n".to_string()),
                proptest::strategy::Just("\r\n".to_string()),
                proptest::strategy::Just("From: \"a\" <b@c>, (x) d, g: e@f;\r\n".to_string()),
                proptest::strategy::Just("Subject: =?utf-8?q?x?=\r\n \tmore\r\n".to_string()),
                proptest::strategy::Just("Content-Language: en, (c) fr\r\n".to_string()),
                "[ -~\u{e9}]{0,12}\r\n",
            ], 0..30)) {
            let msg = parts.concat().into_bytes();
            let root = parse(&msg);
            let _ = envelope(&msg[root.start..root.body]);
            let _ = structure(&msg, &root, true);
            let _ = structure(&msg, &root, false);
            let mut all = Vec::new();
            sections_of(&root, &mut Vec::new(), &mut all);
            for path in all {
                let e = root.find(&path).expect("found before");
                proptest::prop_assert!(e.start <= e.body && e.body <= e.end && e.end <= msg.len());
                if let Some(m) = root.message_at(&path) {
                    proptest::prop_assert!(m.start <= m.body && m.body <= m.end && m.end <= msg.len());
                    let _ = header_fields(&msg[m.start..m.body], &["FROM".to_string()], true);
                }
            }
        }
    }
}
