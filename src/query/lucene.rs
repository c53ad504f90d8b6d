//! The subset of Lucene's classic query syntax that Dovecot's `fts_solr`
//! plugin sends, parsed into a boolean AST. Pure: no schema, no index, no I/O.
//!
//! Accepted: an optional `{!lucene q.op=AND|OR}` prefix, `field:term` with
//! backslash escapes, `field:"quoted text"`, `field:""`, `term~` and `term~N`
//! (fuzzy), `+`, `-`, `!` and `NOT` prefixes, `AND`/`&&`, `OR`/`||`, nested
//! parentheses and `*:*`. Anything else (wildcards, ranges, boosts on groups,
//! bare terms without a field) is an error, so that Dovecot falls back to its
//! own search instead of trusting a guess.
//!
//! Occurrence rules follow Lucene's classic parser (`+`, `-`, `AND`, the
//! default operator), with one deliberate change: a negated clause joined by
//! an explicit `OR` means "or not", as IMAP's `OR x NOT y` does, and not
//! Lucene's "and not" (see docs/dovecot-fts-solr.md, Surprise 2).

use std::fmt;

/// A parsed query.
#[derive(Clone, Debug, PartialEq)]
pub enum Node {
    /// Every document (`*:*`).
    All,
    /// One field condition.
    Term(TermQuery),
    /// All of these.
    And(Vec<Node>),
    /// Any of these.
    Or(Vec<Node>),
    /// Not this (relative to the set of documents searched).
    Not(Box<Node>),
}

/// `field:text`, unescaped.
#[derive(Clone, Debug, PartialEq)]
pub struct TermQuery {
    /// The field name as written.
    pub field: String,
    /// The text with escapes removed.
    pub text: String,
    /// Edit distance for `~` (Lucene's default 2 when no number follows).
    pub fuzzy: Option<u8>,
}

/// A malformed or unsupported query (the client's mistake).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("at position {position}: {message}")]
pub struct ParseError {
    /// Byte offset in the query text.
    pub position: usize,
    /// What is wrong.
    pub message: String,
}

fn err<T>(position: usize, message: impl Into<String>) -> Result<T, ParseError> {
    Err(ParseError {
        position,
        message: message.into(),
    })
}

/// Characters Dovecot (and Lucene) escape with a backslash.
pub const SPECIAL: &str = "+-&|!(){}[]^\"~*?:\\/ ";

/// Escapes `text` the way Dovecot's `solr_quote_http` does (before URL
/// encoding), and also escapes every other whitespace character (Dovecot
/// escapes only the space; an unescaped tab then ends the term, which the
/// parser refuses).
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if SPECIAL.contains(c) || c.is_whitespace() {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Parses a `q` or `fq` value. Without local params the default operator is OR, as in Solr.
pub fn parse(query: &str) -> Result<Node, ParseError> {
    let mut p = Parser {
        s: query,
        pos: 0,
        default_and: false,
    };
    p.local_params()?;
    let node = p.clauses(0)?;
    p.skip_ws();
    if p.pos < p.s.len() {
        return err(p.pos, "unexpected ')'");
    }
    Ok(node)
}

#[derive(Clone, Copy, PartialEq)]
enum Conj {
    None,
    And,
    Or,
}

#[derive(Clone, Copy, PartialEq)]
enum Occur {
    Must,
    Should,
    MustNot,
}

struct Clause {
    occur: Occur,
    node: Node,
}

struct Parser<'a> {
    s: &'a str,
    pos: usize,
    default_and: bool,
}

const MAX_DEPTH: usize = 64;

impl Parser<'_> {
    fn rest(&self) -> &str {
        &self.s[self.pos..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn skip_ws(&mut self) {
        while let Some(c) = self.peek() {
            if !c.is_whitespace() {
                break;
            }
            self.pos += c.len_utf8();
        }
    }

    fn local_params(&mut self) -> Result<(), ParseError> {
        self.skip_ws();
        if !self.rest().starts_with("{!") {
            return Ok(());
        }
        let start = self.pos;
        let Some(end) = self.rest().find('}') else {
            return err(start, "unterminated local parameters");
        };
        let inner = &self.s[self.pos + 2..self.pos + end];
        for (i, word) in inner.split_whitespace().enumerate() {
            match word.split_once('=') {
                Some(("q.op", "AND")) => self.default_and = true,
                Some(("q.op", "OR")) => self.default_and = false,
                Some(("q.op", other)) => return err(start, format!("unknown q.op {other:?}")),
                Some(_) => {}
                None if i == 0 && word == "lucene" => {}
                None => return err(start, format!("unsupported query parser {word:?}")),
            }
        }
        self.pos += end + 1;
        Ok(())
    }

    /// Is the keyword `kw` at the cursor, followed by a separator?
    fn keyword(&self, kw: &str) -> bool {
        let r = self.rest();
        r.starts_with(kw)
            && r[kw.len()..]
                .chars()
                .next()
                .is_none_or(|c| c.is_whitespace() || c == '(')
    }

    fn clauses(&mut self, depth: usize) -> Result<Node, ParseError> {
        if depth > MAX_DEPTH {
            return err(self.pos, "too deeply nested");
        }
        let mut out: Vec<Clause> = Vec::new();
        loop {
            self.skip_ws();
            if self.pos >= self.s.len() || self.peek() == Some(')') {
                break;
            }
            let mut conj = Conj::None;
            if !out.is_empty() {
                if self.keyword("AND") || self.rest().starts_with("&&") {
                    conj = Conj::And;
                    self.pos += if self.rest().starts_with("&&") { 2 } else { 3 };
                } else if self.keyword("OR") || self.rest().starts_with("||") {
                    conj = Conj::Or;
                    self.pos += 2;
                }
                self.skip_ws();
            }
            let mut negate = false;
            let mut require = false;
            let at = self.pos;
            if self.keyword("NOT") {
                negate = true;
                self.pos += 3;
            } else if let Some(c @ ('+' | '-' | '!')) = self.peek() {
                self.pos += 1;
                if c == '+' {
                    require = true;
                } else {
                    negate = true;
                }
            }
            self.skip_ws();
            if self.pos >= self.s.len() || self.peek() == Some(')') {
                return err(at, "operator without an operand");
            }
            let node = self.primary(depth)?;
            self.add_clause(&mut out, conj, require, negate, node);
        }
        Ok(combine(out))
    }

    /// Lucene's `addClause`, except that `OR -x` (or `-x OR y`) means "or not x".
    fn add_clause(
        &self,
        out: &mut Vec<Clause>,
        conj: Conj,
        require: bool,
        negate: bool,
        node: Node,
    ) {
        if let Some(prev) = out.last_mut() {
            match conj {
                Conj::And if prev.occur == Occur::Should => prev.occur = Occur::Must,
                Conj::Or if prev.occur == Occur::MustNot => {
                    let inner = std::mem::replace(&mut prev.node, Node::All);
                    prev.node = Node::Not(Box::new(inner));
                    prev.occur = Occur::Should;
                }
                Conj::Or if self.default_and && prev.occur == Occur::Must => {
                    prev.occur = Occur::Should
                }
                _ => {}
            }
        }
        let (occur, node) = if negate && conj == Conj::Or {
            (Occur::Should, Node::Not(Box::new(node)))
        } else if negate {
            (Occur::MustNot, node)
        } else if self.default_and {
            (
                if conj == Conj::Or {
                    Occur::Should
                } else {
                    Occur::Must
                },
                node,
            )
        } else if require || conj == Conj::And {
            (Occur::Must, node)
        } else {
            (Occur::Should, node)
        };
        out.push(Clause { occur, node });
    }

    fn primary(&mut self, depth: usize) -> Result<Node, ParseError> {
        if self.peek() == Some('(') {
            let open = self.pos;
            self.pos += 1;
            let node = self.clauses(depth + 1)?;
            self.skip_ws();
            if self.peek() != Some(')') {
                return err(open, "unclosed '('");
            }
            self.pos += 1;
            return Ok(node);
        }
        let start = self.pos;
        if self.rest().starts_with("*:*") {
            self.pos += 3;
            return Ok(Node::All);
        }
        // field name
        let field_len = self
            .rest()
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
            .unwrap_or(self.rest().len());
        if field_len == 0 || !self.rest()[field_len..].starts_with(':') {
            return err(start, "expected field:term (there is no default field)");
        }
        let field = self.rest()[..field_len].to_string();
        self.pos += field_len + 1;
        match self.peek() {
            Some('"') => {
                let text = self.quoted()?;
                self.suffix(false)?;
                Ok(Node::Term(TermQuery {
                    field,
                    text,
                    fuzzy: None,
                }))
            }
            Some('(') => err(self.pos, "field:(...) groups are not supported"),
            Some('[' | '{') => err(self.pos, "ranges are not supported"),
            None => err(self.pos, "missing term after ':'"),
            Some(c) if c.is_whitespace() || c == ')' => err(self.pos, "missing term after ':'"),
            Some(_) => {
                let text = self.bare()?;
                let fuzzy = self.suffix(true)?;
                Ok(Node::Term(TermQuery { field, text, fuzzy }))
            }
        }
    }

    fn quoted(&mut self) -> Result<String, ParseError> {
        let open = self.pos;
        self.pos += 1;
        let mut text = String::new();
        let mut chars = self.rest().char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    self.pos += i + 1;
                    return Ok(text);
                }
                '\\' => match chars.next() {
                    Some((_, e)) => text.push(e),
                    None => break,
                },
                c => text.push(c),
            }
        }
        err(open, "unterminated quote")
    }

    fn bare(&mut self) -> Result<String, ParseError> {
        let mut text = String::new();
        let mut chars = self.rest().char_indices();
        let mut consumed = self.rest().len();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some((_, e)) => text.push(e),
                    None => return err(self.pos + i, "dangling backslash"),
                },
                '*' | '?' => return err(self.pos + i, "wildcards are not supported"),
                '~' | '^' => {
                    consumed = i;
                    break;
                }
                c if c.is_whitespace() || c == ')' || c == '(' => {
                    consumed = i;
                    break;
                }
                '"' | ':' | '[' | ']' | '{' | '}' => {
                    return err(self.pos + i, format!("unescaped {c:?} in a term"))
                }
                c => text.push(c),
            }
        }
        self.pos += consumed;
        Ok(text)
    }

    /// `~N` (fuzzy, or proximity after a quote, ignored) and `^boost` (ignored).
    fn suffix(&mut self, bare: bool) -> Result<Option<u8>, ParseError> {
        let mut fuzzy = None;
        if self.peek() == Some('~') {
            let at = self.pos;
            self.pos += 1;
            let n = self.number();
            if bare {
                let d = if n.is_empty() {
                    2.0
                } else {
                    n.parse::<f32>().map_err(|_| ParseError {
                        position: at,
                        message: "bad fuzzy distance".into(),
                    })?
                };
                // Lucene: a fraction below 1 is an old-style similarity (taken as 2 edits).
                fuzzy = Some(if d < 1.0 && n.contains('.') {
                    2
                } else {
                    d.min(2.0) as u8
                });
            }
        }
        if self.peek() == Some('^') {
            self.pos += 1;
            self.number();
        }
        Ok(fuzzy)
    }

    fn number(&mut self) -> String {
        let len = self
            .rest()
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(self.rest().len());
        let n = self.rest()[..len].to_string();
        self.pos += len;
        n
    }
}

/// Builds the node for one clause list from the occurrences.
fn combine(clauses: Vec<Clause>) -> Node {
    let mut must = Vec::new();
    let mut should = Vec::new();
    let mut must_not = Vec::new();
    for c in clauses {
        match c.occur {
            Occur::Must => must.push(c.node),
            Occur::Should => should.push(c.node),
            Occur::MustNot => must_not.push(c.node),
        }
    }
    if must.is_empty() && must_not.is_empty() {
        return match should.len() {
            0 => Node::Or(Vec::new()),
            1 => should.remove(0),
            _ => Node::Or(should),
        };
    }
    // With required clauses, SHOULD clauses only affect scores (Lucene).
    if must.is_empty() && !should.is_empty() {
        must.push(if should.len() == 1 {
            should.remove(0)
        } else {
            Node::Or(should)
        });
    }
    must.extend(must_not.into_iter().map(|n| Node::Not(Box::new(n))));
    if must.len() == 1 {
        must.remove(0)
    } else {
        Node::And(must)
    }
}

impl fmt::Display for Node {
    /// Renders the node back into the syntax [`parse`] accepts (with `q.op=AND` semantics
    /// not assumed: every connector is explicit).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Node::All => f.write_str("*:*"),
            Node::Term(t) => {
                write!(f, "{}:", t.field)?;
                if t.text.is_empty() {
                    f.write_str("\"\"")?;
                } else {
                    f.write_str(&escape(&t.text))?;
                }
                if let (Some(d), false) = (t.fuzzy, t.text.is_empty()) {
                    write!(f, "~{d}")?;
                }
                Ok(())
            }
            Node::And(v) | Node::Or(v) => {
                let sep = if matches!(self, Node::And(_)) {
                    " AND "
                } else {
                    " OR "
                };
                f.write_str("(")?;
                for (i, n) in v.iter().enumerate() {
                    if i > 0 {
                        f.write_str(sep)?;
                    }
                    write!(f, "{n}")?;
                }
                f.write_str(")")
            }
            Node::Not(n) => write!(f, "(-{n})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn t(field: &str, text: &str) -> Node {
        Node::Term(TermQuery {
            field: field.into(),
            text: text.into(),
            fuzzy: None,
        })
    }

    fn not(n: Node) -> Node {
        Node::Not(Box::new(n))
    }

    const AND: &str = "{!lucene q.op=AND}";

    #[test]
    fn dovecot_queries() {
        let cases: Vec<(String, Node)> = vec![
            (format!("{AND}body:budget"), t("body", "budget")),
            (
                format!("{AND}(hdr:noodle OR body:noodle)"),
                Node::Or(vec![t("hdr", "noodle"), t("body", "noodle")]),
            ),
            (
                format!("{AND}body:spreadsheet OR subject:lunch"),
                Node::Or(vec![t("body", "spreadsheet"), t("subject", "lunch")]),
            ),
            (format!("{AND}-body:budget"), not(t("body", "budget"))),
            (
                format!("{AND}body:budget AND -subject:Re"),
                Node::And(vec![t("body", "budget"), not(t("subject", "Re"))]),
            ),
            // IMAP's OR x NOT y: "x, or not y" (not Lucene's "x and not y").
            (
                format!("{AND}body:spreadsheet OR -body:budget"),
                Node::Or(vec![t("body", "spreadsheet"), not(t("body", "budget"))]),
            ),
            (
                format!("{AND}-body:budget OR body:spreadsheet"),
                Node::Or(vec![not(t("body", "budget")), t("body", "spreadsheet")]),
            ),
            (
                format!("{AND}body:review\\ the\\ spreadsheet"),
                t("body", "review the spreadsheet"),
            ),
            (format!("{AND}body:a\\+b\\:c"), t("body", "a+b:c")),
            (format!("{AND}hdr:zebra\\-42"), t("hdr", "zebra-42")),
            (format!("{AND}body:München"), t("body", "München")),
            (format!("{AND}subject:\"\""), t("subject", "")),
            (
                format!("{AND}-(hdr:x OR body:x) AND (subject:a OR -from:b)"),
                Node::And(vec![
                    Node::Or(vec![t("subject", "a"), not(t("from", "b"))]),
                    not(Node::Or(vec![t("hdr", "x"), t("body", "x")])),
                ]),
            ),
            (
                "box:de82 AND user:testuser".into(),
                Node::And(vec![t("box", "de82"), t("user", "testuser")]),
            ),
            (
                "+box:de82 +user:testuser".into(),
                Node::And(vec![t("box", "de82"), t("user", "testuser")]),
            ),
            (
                "+user:alice +(box:g1 OR box:g2)".into(),
                Node::And(vec![
                    t("user", "alice"),
                    Node::Or(vec![t("box", "g1"), t("box", "g2")]),
                ]),
            ),
            (
                "+box:g +user:\"\"".into(),
                Node::And(vec![t("box", "g"), t("user", "")]),
            ),
            ("*:*".into(), Node::All),
        ];
        for (q, want) in cases {
            assert_eq!(parse(&q).as_ref(), Ok(&want), "{q}");
        }
        assert_eq!(
            parse(&format!("{AND}body:budgte~")),
            Ok(Node::Term(TermQuery {
                field: "body".into(),
                text: "budgte".into(),
                fuzzy: Some(2)
            }))
        );
        assert_eq!(
            parse("body:x~1"),
            Ok(Node::Term(TermQuery {
                field: "body".into(),
                text: "x".into(),
                fuzzy: Some(1)
            }))
        );
    }

    #[test]
    fn errors_name_a_position() {
        for (q, pos) in [
            ("budget", 0),
            ("body:bud*", 8),
            ("(body:x", 0),
            ("body:x)", 6),
            ("body:", 5),
            ("body:\"open", 5),
            ("body:x AND", 10),
            ("{!lucene q.op=XOR}body:x", 0),
            ("{!func}x", 0),
            ("uid:[1 TO 5]", 4),
        ] {
            match parse(q) {
                Err(e) => assert_eq!(e.position, pos, "{q}: {e}"),
                Ok(n) => panic!("{q} parsed as {n:?}"),
            }
        }
    }

    fn node() -> impl Strategy<Value = Node> {
        let leaf = prop_oneof![
            (
                prop_oneof![Just("body"), Just("hdr"), Just("from"), Just("user")],
                any::<String>(),
                prop::option::of(0u8..=2)
            )
                .prop_map(|(f, text, fuzzy)| Node::Term(TermQuery {
                    field: f.into(),
                    text,
                    fuzzy
                })),
            Just(Node::All),
        ];
        leaf.prop_recursive(4, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 2..4).prop_map(Node::And),
                prop::collection::vec(inner.clone(), 2..4).prop_map(Node::Or),
                inner.prop_map(|n| Node::Not(Box::new(n))),
            ]
        })
    }

    /// An empty term cannot carry `~` (a quoted term has no fuzziness).
    fn normalize(n: Node) -> Node {
        match n {
            Node::And(v) => Node::And(v.into_iter().map(normalize).collect()),
            Node::Term(mut t) if t.text.is_empty() => {
                t.fuzzy = None;
                Node::Term(t)
            }
            Node::Or(v) => Node::Or(v.into_iter().map(normalize).collect()),
            Node::Not(x) => Node::Not(Box::new(normalize(*x))),
            n => n,
        }
    }

    proptest! {
        #[test]
        fn escaped_text_roundtrips(field in "[a-z]{1,8}", text in any::<String>()) {
            prop_assume!(!text.is_empty());
            let q = format!("{AND}{field}:{}", escape(&text));
            prop_assert_eq!(parse(&q), Ok(t(&field, &text)));
        }

        #[test]
        fn rendered_ast_roundtrips(n in node()) {
            let q = n.to_string();
            prop_assert_eq!(parse(&q).map(normalize), Ok(normalize(n)), "{}", q);
        }

        #[test]
        fn never_panics(q in any::<String>()) {
            let _ = parse(&q);
        }

        #[test]
        fn never_panics_on_syntax(q in "[a-z:()\"\\\\ +!~*-]{0,40}|(AND|OR|NOT| |body:x|\\(|\\)|-){0,12}") {
            let _ = parse(&q);
        }
    }
}
