//! Tokens → [`Query`], by recursive descent.
//!
//! ```text
//! query   = or
//! or      = and ( "OR" and )*
//! and     = unary ( "AND"? unary )*
//! unary   = ( "NOT" | "-" ) primary | primary
//! primary = word | prefix | phrase | "(" or ")" | field-term
//! ```
//!
//! Inside `field:( ... )` the grammar is the same, with `field` given to every
//! term and no other field allowed.

use super::ast::{Field, Query, Term, Value};
use super::lexer::{lex, FieldKey, Token, TokenKind};
use super::values;
use super::{ParseError, ParseErrorKind};

/// Parses a whole query.
pub(super) fn parse(input: &str) -> Result<Query, ParseError> {
    let lexed = lex(input);
    let mut parser = Parser {
        depth: 0,
        tokens: lexed.tokens,
        pos: 0,
        lex_error: lexed.error,
        len: lexed.len,
    };
    if parser.peek()?.is_none() {
        return Err(ParseError::new(0, ParseErrorKind::EmptyQuery));
    }
    let query = parser.or(None)?;
    match parser.peek()? {
        None => Ok(query),
        Some(token) => Err(unexpected(&token.kind, token.start)),
    }
}

/// The field a `field:(...)` group gives its terms: the field and its name as typed.
type Context<'a> = Option<(Field, &'a str)>;

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    /// The lexer's error, met when the tokens run out.
    lex_error: Option<ParseError>,
    /// The input's length in chars.
    len: usize,
    /// How many groups are open.
    depth: usize,
}

/// The deepest nesting of parentheses accepted: keeps the recursion, here and
/// in the planner, far from the end of the stack.
pub(super) const MAX_DEPTH: usize = 100;

impl Parser {
    /// The next token; at the end, the lexer's error if it had one.
    fn peek(&self) -> Result<Option<&Token>, ParseError> {
        match (self.tokens.get(self.pos), &self.lex_error) {
            (Some(token), _) => Ok(Some(token)),
            (None, Some(error)) => Err(error.clone()),
            (None, None) => Ok(None),
        }
    }

    /// Where the next token (or the lexer's error, or the end) is.
    fn next_start(&self) -> usize {
        match (self.tokens.get(self.pos), &self.lex_error) {
            (Some(token), _) => token.start,
            (None, Some(error)) => error.position,
            (None, None) => self.len,
        }
    }

    /// Takes the next token; call only after `peek` returned one.
    fn bump(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        token
    }

    /// Whether the next token can start a term.
    fn at_term(&self) -> Result<bool, ParseError> {
        Ok(self.peek()?.is_some_and(|t| starts_term(&t.kind)))
    }

    fn or(&mut self, ctx: Context) -> Result<Query, ParseError> {
        let mut items = vec![self.and(ctx)?];
        while let Some(token) = self.peek()? {
            if token.kind != TokenKind::Or {
                break;
            }
            let at = token.start;
            self.pos += 1;
            if !self.at_term()? {
                return Err(ParseError::new(at, ParseErrorKind::OrNeedsTerms));
            }
            items.push(self.and(ctx)?);
        }
        Ok(collapse(items, Query::Or))
    }

    fn and(&mut self, ctx: Context) -> Result<Query, ParseError> {
        match self.peek()? {
            Some(token) if starts_term(&token.kind) => {}
            Some(token) => return Err(unexpected(&token.kind, token.start)),
            None => {
                return Err(ParseError::new(
                    self.len,
                    ParseErrorKind::ExpectedCloseParen,
                ))
            }
        }
        let mut items = vec![self.unary(ctx)?];
        while let Some(token) = self.peek()? {
            if token.kind == TokenKind::And {
                let at = token.start;
                self.pos += 1;
                if !self.at_term()? {
                    return Err(ParseError::new(at, ParseErrorKind::AndNeedsTerms));
                }
            } else if !starts_term(&token.kind) {
                break;
            }
            items.push(self.unary(ctx)?);
        }
        Ok(collapse(items, Query::And))
    }

    fn unary(&mut self, ctx: Context) -> Result<Query, ParseError> {
        let Some(token) = self.peek()?.cloned() else {
            return Err(ParseError::new(
                self.len,
                ParseErrorKind::ExpectedCloseParen,
            ));
        };
        let dangling = match token.kind {
            TokenKind::Not => ParseErrorKind::DanglingNot,
            TokenKind::Minus => ParseErrorKind::DanglingMinus,
            _ => return self.primary(ctx),
        };
        self.pos += 1;
        if token.kind == TokenKind::Minus && self.next_start() != token.end {
            return Err(ParseError::new(token.start, dangling));
        }
        match self.peek()? {
            Some(next) if matches!(next.kind, TokenKind::Not | TokenKind::Minus) => {
                Err(ParseError::new(next.start, ParseErrorKind::DoubleNegation))
            }
            Some(next) if starts_term(&next.kind) => Ok(Query::Not(Box::new(self.primary(ctx)?))),
            _ => Err(ParseError::new(token.start, dangling)),
        }
    }

    fn primary(&mut self, ctx: Context) -> Result<Query, ParseError> {
        self.peek()?;
        let Some(token) = self.bump() else {
            return Err(ParseError::new(
                self.len,
                ParseErrorKind::ExpectedCloseParen,
            ));
        };
        let span = (token.start, token.end);
        let field = ctx.map(|(field, _)| field);
        match token.kind {
            TokenKind::Word(w) => Ok(term(field, Value::Word(w), span)),
            TokenKind::Prefix(p) => Ok(term(field, Value::Prefix(p), span)),
            TokenKind::Phrase(p) => Ok(term(field, Value::Phrase(p), span)),
            TokenKind::LParen => self.group(ctx, token.start),
            TokenKind::Field(key, name) => match ctx {
                Some((_, outer)) => {
                    let kind = ParseErrorKind::NestedField {
                        inner: name,
                        outer: outer.to_owned(),
                    };
                    Err(ParseError::new(token.start, kind))
                }
                None => self.field_value(key, &name, span),
            },
            other => Err(unexpected(&other, token.start)),
        }
    }

    /// The rest of a group whose `(` was at `open`.
    fn group(&mut self, ctx: Context, open: usize) -> Result<Query, ParseError> {
        if self.peek()?.is_some_and(|t| t.kind == TokenKind::RParen) {
            return Err(ParseError::new(open, ParseErrorKind::EmptyGroup));
        }
        if self.depth >= MAX_DEPTH {
            return Err(ParseError::new(open, ParseErrorKind::TooDeep));
        }
        self.depth += 1;
        let query = self.or(ctx)?;
        self.depth -= 1;
        match self.peek()? {
            Some(t) if t.kind == TokenKind::RParen => {
                self.pos += 1;
                Ok(query)
            }
            Some(t) => Err(ParseError::new(t.start, ParseErrorKind::ExpectedCloseParen)),
            None => Err(ParseError::new(
                self.len,
                ParseErrorKind::ExpectedCloseParen,
            )),
        }
    }

    /// The value after the `field:` token at `prefix`, which must touch it.
    fn field_value(
        &mut self,
        key: FieldKey,
        name: &str,
        prefix: (usize, usize),
    ) -> Result<Query, ParseError> {
        let expected_value = || {
            ParseError::new(
                prefix.1,
                ParseErrorKind::ExpectedValue {
                    field: name.to_owned(),
                },
            )
        };
        if self.next_start() != prefix.1 {
            return Err(expected_value());
        }
        self.peek()?;
        let Some(token) = self.bump() else {
            return Err(expected_value());
        };
        let span = (prefix.0, token.end);
        match (key, token.kind) {
            (FieldKey::Text(field), TokenKind::Word(w)) => {
                Ok(term(Some(field), Value::Word(w), span))
            }
            (FieldKey::Text(field), TokenKind::Prefix(p)) => {
                Ok(term(Some(field), Value::Prefix(p), span))
            }
            (FieldKey::Text(field), TokenKind::Phrase(p)) => {
                Ok(term(Some(field), Value::Phrase(p), span))
            }
            (FieldKey::Text(field), TokenKind::LParen) => {
                self.group(Some((field, name)), token.start)
            }
            (FieldKey::Typed(typed), TokenKind::Word(w)) => values::typed(typed, &w, token.start),
            (
                FieldKey::Typed(_),
                TokenKind::Prefix(_) | TokenKind::Phrase(_) | TokenKind::LParen,
            ) => {
                let kind = ParseErrorKind::NeedsPlainValue {
                    field: name.to_owned(),
                };
                Err(ParseError::new(token.start, kind))
            }
            _ => Err(expected_value()),
        }
    }
}

fn term(field: Option<Field>, value: Value, span: (usize, usize)) -> Query {
    Query::Term(Term { field, value, span })
}

/// One item stands alone; more are joined by `join`.
fn collapse(mut items: Vec<Query>, join: fn(Vec<Query>) -> Query) -> Query {
    match items.pop() {
        Some(only) if items.is_empty() => only,
        Some(last) => {
            items.push(last);
            join(items)
        }
        None => join(items),
    }
}

fn starts_term(kind: &TokenKind) -> bool {
    matches!(
        kind,
        TokenKind::Word(_)
            | TokenKind::Prefix(_)
            | TokenKind::Phrase(_)
            | TokenKind::Field(..)
            | TokenKind::Not
            | TokenKind::Minus
            | TokenKind::LParen
    )
}

/// The error for a token, found at `start`, where a term should start.
fn unexpected(kind: &TokenKind, start: usize) -> ParseError {
    let kind = match kind {
        TokenKind::Or => ParseErrorKind::OrNeedsTerms,
        TokenKind::And => ParseErrorKind::AndNeedsTerms,
        // Only `)` is left: every other token starts a term.
        _ => ParseErrorKind::UnexpectedCloseParen,
    };
    ParseError::new(start, kind)
}
