//! The IMAP command parser: bytes from a client → one command at a time, as a
//! pure function with no I/O. [`parse`] looks at the start of a buffer and
//! says whether it holds a whole command (and how many bytes it took), needs
//! more bytes (and whether a synchronising literal waits for a `+`), or is
//! malformed (and how many bytes to drop to resynchronise).
//!
//! Tokens are kept untyped ([`Token`]); each command's module reads its own
//! arguments. Limits: a command line (without literals) of [`MAX_LINE`]
//! bytes and literals of [`MAX_LITERAL`] bytes; the read-only command set
//! never needs more. Knows nothing of sessions, mailboxes or the index.

/// Longest command text outside literals.
pub const MAX_LINE: usize = 64 * 1024;
/// Longest literal (`{n}`), and total of literals in one command.
pub const MAX_LITERAL: usize = 64 * 1024;
/// Deepest nesting of parenthesised lists.
const MAX_DEPTH: usize = 16;

/// One argument of a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    /// An atom (also `NIL`, numbers, sequence sets, flags and fetch items
    /// with their `[section]<partial>`), as written.
    Atom(String),
    /// A quoted string or a literal.
    Str(Vec<u8>),
    /// A parenthesised list.
    List(Vec<Token>),
}

impl Token {
    /// The atom's text, or a string's when it is UTF-8 (an "astring").
    pub fn as_astring(&self) -> Option<String> {
        match self {
            Token::Atom(a) => Some(a.clone()),
            Token::Str(s) => String::from_utf8(s.clone()).ok(),
            Token::List(_) => None,
        }
    }

    /// The atom uppercased (`None` for strings and lists).
    pub fn keyword(&self) -> Option<String> {
        match self {
            Token::Atom(a) => Some(a.to_ascii_uppercase()),
            _ => None,
        }
    }
}

/// A whole command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// The client's tag.
    pub tag: String,
    /// The command name, uppercased (`UID FETCH` is `UID` with `FETCH` as
    /// its first argument).
    pub name: String,
    /// The arguments.
    pub args: Vec<Token>,
}

/// What [`parse`] found at the start of the buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// A whole command, `used` bytes long.
    Command {
        /// The command.
        command: Command,
        /// Bytes it took, with its line end.
        used: usize,
    },
    /// Not yet a whole command. `literal_at`: the buffer offset of a
    /// synchronising literal's `{` whose bytes have not come yet (the
    /// client waits for a continuation request).
    NeedMore {
        /// Where the waiting literal starts.
        literal_at: Option<usize>,
    },
    /// Malformed: answer `BAD` (with `tag` when one was read) and drop `used` bytes.
    Bad {
        /// The tag, when the line had one.
        tag: Option<String>,
        /// Why.
        message: String,
        /// Bytes to drop.
        used: usize,
    },
    /// Over a size limit: answer `BYE` and close (the rest of the stream
    /// cannot be trusted to resynchronise).
    TooBig,
}

struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
    literal_bytes: usize,
}

enum Fail {
    More(Option<usize>),
    Bad(String),
    TooBig,
}

fn is_atom_char(b: u8) -> bool {
    !matches!(
        b,
        b'(' | b')' | b'{' | b' ' | b'"' | b'\\' | b']' | b'%' | b'*'
    ) && b > 0x20
        && b < 0x7f
}

impl Cursor<'_> {
    fn peek(&self) -> Result<u8, Fail> {
        self.buf.get(self.pos).copied().ok_or(Fail::More(None))
    }

    fn line_end(&self) -> bool {
        matches!(self.buf.get(self.pos), Some(b'\r') | Some(b'\n'))
    }

    /// An atom; `[...]` (with spaces) and `<...>` inside fetch items, and
    /// the list wildcards `%` `*` and `\` of flags are allowed.
    fn atom(&mut self) -> Result<String, Fail> {
        let start = self.pos;
        let mut bracket = false;
        loop {
            let b = self.peek()?;
            let ok = if bracket {
                b != b'\r' && b != b'\n' && b != 0
            } else {
                is_atom_char(b) || matches!(b, b'%' | b'*' | b'\\') || (b == b']')
            };
            if !ok {
                break;
            }
            if b == b'[' {
                bracket = true;
            } else if b == b']' {
                bracket = false;
            }
            self.pos += 1;
        }
        if bracket {
            return Err(Fail::Bad("unclosed [".into()));
        }
        if self.pos == start {
            return Err(Fail::Bad(format!(
                "unexpected {:?}",
                char::from(self.buf[start])
            )));
        }
        // Atoms are ASCII by construction.
        Ok(String::from_utf8_lossy(&self.buf[start..self.pos]).into_owned())
    }

    fn quoted(&mut self) -> Result<Vec<u8>, Fail> {
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            let b = self.peek()?;
            self.pos += 1;
            match b {
                b'"' => return Ok(out),
                b'\\' => {
                    let c = self.peek()?;
                    self.pos += 1;
                    out.push(c);
                }
                b'\r' | b'\n' => return Err(Fail::Bad("line end in quoted string".into())),
                _ => out.push(b),
            }
        }
    }

    fn literal(&mut self) -> Result<Vec<u8>, Fail> {
        let open = self.pos;
        self.pos += 1;
        let start = self.pos;
        while self.peek()?.is_ascii_digit() {
            self.pos += 1;
            if self.pos - start > 10 {
                return Err(Fail::TooBig);
            }
        }
        let digits = &self.buf[start..self.pos];
        let n: usize = std::str::from_utf8(digits)
            .ok()
            .and_then(|d| d.parse().ok())
            .ok_or_else(|| Fail::Bad("bad literal length".into()))?;
        let sync = if self.peek()? == b'+' {
            self.pos += 1;
            false
        } else {
            true
        };
        if self.peek()? != b'}' {
            return Err(Fail::Bad("bad literal".into()));
        }
        self.pos += 1;
        self.literal_bytes = self.literal_bytes.saturating_add(n);
        if n > MAX_LITERAL || self.literal_bytes > MAX_LITERAL {
            return Err(Fail::TooBig);
        }
        match self.peek().map_err(|_| Fail::More(sync.then_some(open)))? {
            b'\r' => {
                self.pos += 1;
                if self.peek().map_err(|_| Fail::More(sync.then_some(open)))? != b'\n' {
                    return Err(Fail::Bad("literal not followed by CRLF".into()));
                }
                self.pos += 1;
            }
            b'\n' => self.pos += 1,
            _ => return Err(Fail::Bad("literal not followed by CRLF".into())),
        }
        if self.buf.len() < self.pos + n {
            return Err(Fail::More(sync.then_some(open)));
        }
        let out = self.buf[self.pos..self.pos + n].to_vec();
        self.pos += n;
        Ok(out)
    }

    fn token(&mut self, depth: usize) -> Result<Token, Fail> {
        match self.peek()? {
            b'(' => {
                if depth >= MAX_DEPTH {
                    return Err(Fail::Bad("lists nested too deep".into()));
                }
                self.pos += 1;
                let mut items = Vec::new();
                loop {
                    match self.peek()? {
                        b')' => {
                            self.pos += 1;
                            return Ok(Token::List(items));
                        }
                        b' ' if !items.is_empty() => self.pos += 1,
                        _ => {}
                    }
                    if self.peek()? == b')' {
                        continue;
                    }
                    items.push(self.token(depth + 1)?);
                }
            }
            b'"' => Ok(Token::Str(self.quoted()?)),
            b'{' => Ok(Token::Str(self.literal()?)),
            _ => Ok(Token::Atom(self.atom()?)),
        }
    }

    fn end_of_line(&mut self) -> Result<(), Fail> {
        match self.peek()? {
            b'\r' => {
                self.pos += 1;
                if self.peek()? != b'\n' {
                    return Err(Fail::Bad("CR without LF".into()));
                }
                self.pos += 1;
                Ok(())
            }
            b'\n' => {
                self.pos += 1;
                Ok(())
            }
            _ => Err(Fail::Bad("junk at end of line".into())),
        }
    }
}

/// Looks for one command at the start of `buf`.
pub fn parse(buf: &[u8]) -> Parsed {
    let mut c = Cursor {
        buf,
        pos: 0,
        literal_bytes: 0,
    };
    let mut tag = None;
    let result = (|| -> Result<Command, Fail> {
        let t = c.atom()?;
        if t.contains('+') || t.contains('*') || t.contains('%') || t.contains('[') {
            return Err(Fail::Bad("bad tag".into()));
        }
        tag = Some(t.clone());
        if c.peek()? != b' ' {
            return Err(Fail::Bad("missing command".into()));
        }
        c.pos += 1;
        let name = c.atom()?.to_ascii_uppercase();
        let mut args = Vec::new();
        while !c.line_end() {
            if c.peek()? != b' ' {
                return Err(Fail::Bad("missing space".into()));
            }
            c.pos += 1;
            args.push(c.token(0)?);
        }
        c.end_of_line()?;
        Ok(Command { tag: t, name, args })
    })();
    let line_len = c.pos.saturating_sub(c.literal_bytes);
    match result {
        Ok(command) => Parsed::Command {
            command,
            used: c.pos,
        },
        Err(Fail::TooBig) => Parsed::TooBig,
        Err(Fail::More(_)) | Err(Fail::Bad(_)) if line_len > MAX_LINE => Parsed::TooBig,
        Err(Fail::More(literal_at)) => {
            if buf.len().saturating_sub(c.literal_bytes) > MAX_LINE + MAX_LITERAL {
                Parsed::TooBig
            } else {
                Parsed::NeedMore { literal_at }
            }
        }
        Err(Fail::Bad(message)) => match memchr::memchr(b'\n', &buf[c.pos.min(buf.len())..]) {
            Some(nl) => Parsed::Bad {
                tag,
                message,
                used: c.pos + nl + 1,
            },
            None if buf.len() > MAX_LINE => Parsed::TooBig,
            None => Parsed::NeedMore { literal_at: None },
        },
    }
}

/// One range of a sequence set; `u32::MAX` stands for `*`.
pub type Range = (u32, u32);

/// Parses a sequence set (`1:4,7,9:*`); each range low ≤ high.
pub fn sequence_set(s: &str) -> Option<Vec<Range>> {
    let num = |p: &str| -> Option<u32> {
        if p == "*" {
            Some(u32::MAX)
        } else if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) {
            p.parse().ok().filter(|n| *n > 0)
        } else {
            None
        }
    };
    let mut out = Vec::new();
    for part in s.split(',') {
        let (a, b) = match part.split_once(':') {
            Some((a, b)) => (num(a)?, num(b)?),
            None => {
                let n = num(part)?;
                (n, n)
            }
        };
        out.push((a.min(b), a.max(b)));
        if out.len() > 10_000 {
            return None;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(s: &str) -> Command {
        match parse(s.as_bytes()) {
            Parsed::Command { command, used } => {
                assert_eq!(used, s.len());
                command
            }
            other => panic!("{s:?}: {other:?}"),
        }
    }

    #[test]
    fn fetch_items_with_sections_are_atoms() {
        let c = cmd("a1 UID FETCH 1:* (UID BODY.PEEK[HEADER.FIELDS (FROM TO)]<0.100>)\r\n");
        assert_eq!(c.name, "UID");
        assert_eq!(
            c.args[2],
            Token::List(vec![
                Token::Atom("UID".into()),
                Token::Atom("BODY.PEEK[HEADER.FIELDS (FROM TO)]<0.100>".into())
            ])
        );
    }

    #[test]
    fn literals_synchronising_and_not() {
        assert_eq!(
            parse(b"a LOGIN {5}\r\n"),
            Parsed::NeedMore {
                literal_at: Some(8)
            }
        );
        let c = cmd("a LOGIN {5}\r\nalice {3+}\r\npw!\r\n");
        assert_eq!(
            c.args,
            vec![Token::Str(b"alice".to_vec()), Token::Str(b"pw!".to_vec())]
        );
        assert_eq!(
            parse(b"a LOGIN {5+}\r\nal"),
            Parsed::NeedMore { literal_at: None }
        );
    }

    #[test]
    fn quoted_strings_and_bad_lines() {
        let c = cmd("t SELECT \"a \\\"b\\\\\"\r\n");
        assert_eq!(c.args, vec![Token::Str(b"a \"b\\".to_vec())]);
        match parse(b"t (x\r\nnext") {
            Parsed::Bad { used, .. } => assert_eq!(used, 6),
            other => panic!("{other:?}"),
        }
        assert_eq!(parse(b"a LOGIN {999999999}\r\n"), Parsed::TooBig);
    }

    #[test]
    fn sequence_sets() {
        assert_eq!(
            sequence_set("1:3,7,*:5"),
            Some(vec![(1, 3), (7, 7), (5, u32::MAX)])
        );
        assert_eq!(sequence_set("0"), None);
        assert_eq!(sequence_set("1,,2"), None);
    }

    proptest::proptest! {
        /// No byte sequence panics the parser, and what it consumes is
        /// never more than it was given.
        #[test]
        fn never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            match parse(&bytes) {
                Parsed::Command { used, .. } | Parsed::Bad { used, .. } => {
                    proptest::prop_assert!(used <= bytes.len() && used > 0)
                }
                Parsed::NeedMore { literal_at } => {
                    proptest::prop_assert!(literal_at.is_none_or(|l| l < bytes.len()))
                }
                Parsed::TooBig => {}
            }
        }

        /// Command-shaped input (tags, atoms, strings, literals, lists) too.
        #[test]
        fn never_panics_on_command_shapes(parts in proptest::collection::vec(
            proptest::prop_oneof![
                proptest::strategy::Just("a1 ".to_string()),
                proptest::strategy::Just("FETCH ".to_string()),
                proptest::strategy::Just("(".to_string()),
                proptest::strategy::Just(")".to_string()),
                proptest::strategy::Just("{3}\r\n".to_string()),
                proptest::strategy::Just("{2+}\r\n".to_string()),
                proptest::strategy::Just("\"q\\\"".to_string()),
                proptest::strategy::Just("BODY[1.2]<0.9>".to_string()),
                proptest::strategy::Just("[".to_string()),
                proptest::strategy::Just("\r\n".to_string()),
                proptest::strategy::Just(" ".to_string()),
                "[ -~]{0,5}",
            ], 0..20)) {
            let text = parts.concat();
            let mut buf = text.as_bytes();
            // Consume command after command as a session would.
            for _ in 0..40 {
                match parse(buf) {
                    Parsed::Command { used, .. } | Parsed::Bad { used, .. } => buf = &buf[used..],
                    _ => break,
                }
            }
        }
    }
}
