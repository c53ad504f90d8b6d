//! Query text → tokens, each with its char span.
//!
//! The lexer decides what a word is (keyword, field prefix, prefix query or
//! plain word) and reads phrases; the parser decides what the tokens mean
//! together. It stops at its first error and hands it over with the tokens
//! read so far, so that the parser can report an earlier mistake first.

use super::ast::Field;
use super::{ParseError, ParseErrorKind};

/// A field prefix: a text field, or one whose value the parser types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum FieldKey {
    Text(Field),
    Typed(Typed),
}

/// A field whose value is one plain word with a type of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Typed {
    Has,
    Larger,
    Smaller,
    After,
    Before,
    Date,
    Older,
    Newer,
}

impl FieldKey {
    /// Looks a prefix up by name, ASCII case-insensitively.
    fn from_name(name: &str) -> Option<FieldKey> {
        if let Some(field) = Field::from_name(name) {
            return Some(FieldKey::Text(field));
        }
        let typed = match name.to_ascii_lowercase().as_str() {
            "has" => Typed::Has,
            "larger" => Typed::Larger,
            "smaller" => Typed::Smaller,
            "after" => Typed::After,
            "before" => Typed::Before,
            "date" => Typed::Date,
            "older" => Typed::Older,
            "newer" => Typed::Newer,
            _ => return None,
        };
        Some(FieldKey::Typed(typed))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum TokenKind {
    /// A word with no `*`.
    Word(String),
    /// `stem*`, holding the stem.
    Prefix(String),
    /// A phrase, unescaped.
    Phrase(String),
    /// `name:`, holding the name as typed.
    Field(FieldKey, String),
    And,
    Or,
    Not,
    /// A `-` at the start of a token.
    Minus,
    LParen,
    RParen,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Token {
    pub(super) kind: TokenKind,
    /// Char offset of the first char.
    pub(super) start: usize,
    /// Char offset just past the last char.
    pub(super) end: usize,
}

/// The tokens of an input, up to its first lexical error if any.
#[derive(Debug)]
pub(super) struct Lexed {
    pub(super) tokens: Vec<Token>,
    pub(super) error: Option<ParseError>,
    /// The input's length in chars.
    pub(super) len: usize,
}

/// Splits `input` into tokens.
pub(super) fn lex(input: &str) -> Lexed {
    let chars: Vec<char> = input.chars().collect();
    let mut tokens = Vec::new();
    let error = lex_into(&chars, &mut tokens).err();
    Lexed {
        tokens,
        error,
        len: chars.len(),
    }
}

fn lex_into(chars: &[char], tokens: &mut Vec<Token>) -> Result<(), ParseError> {
    let mut i = 0;
    // Set right after a `field:`: the next token, if it touches, is a value.
    let mut in_value = false;
    while let Some(&c) = chars.get(i) {
        if c.is_whitespace() {
            i += 1;
            in_value = false;
            continue;
        }
        let value = std::mem::take(&mut in_value);
        let start = i;
        let kind = match c {
            '(' => {
                i += 1;
                TokenKind::LParen
            }
            ')' => {
                i += 1;
                TokenKind::RParen
            }
            '"' => {
                let (text, end) = phrase(chars, start)?;
                i = end;
                TokenKind::Phrase(text)
            }
            '-' if !value => {
                i += 1;
                TokenKind::Minus
            }
            _ => {
                let end = (start..chars.len())
                    .find(|&j| is_delimiter(chars[j]))
                    .unwrap_or(chars.len());
                let text = &chars[start..end];
                if !value {
                    if let Some((key, name)) = field_prefix(text, start)? {
                        i = start + name.len() + 1; // ASCII letters and ':'
                        in_value = true;
                        tokens.push(Token {
                            kind: TokenKind::Field(key, name),
                            start,
                            end: i,
                        });
                        continue;
                    }
                }
                i = end;
                word(text, start, value)?
            }
        };
        tokens.push(Token {
            kind,
            start,
            end: i,
        });
    }
    Ok(())
}

/// Whether `c` ends a word.
fn is_delimiter(c: char) -> bool {
    c.is_whitespace() || matches!(c, '(' | ')' | '"')
}

/// Reads a phrase whose `"` is at `start`; returns its text and the offset
/// just past the closing `"`.
fn phrase(chars: &[char], start: usize) -> Result<(String, usize), ParseError> {
    let mut text = String::new();
    let mut i = start + 1;
    loop {
        match (chars.get(i), chars.get(i + 1)) {
            (None, _) => return Err(ParseError::new(start, ParseErrorKind::UnterminatedPhrase)),
            (Some('"'), _) => break,
            (Some('\\'), Some(&next @ ('"' | '\\'))) => {
                text.push(next);
                i += 2;
            }
            (Some(&c), _) => {
                text.push(c);
                i += 1;
            }
        }
    }
    if text.chars().all(char::is_whitespace) {
        return Err(ParseError::new(start, ParseErrorKind::EmptyPhrase));
    }
    Ok((text, i + 1))
}

/// If `text` (a word at `start`) begins with `letters:`, the field it names.
///
/// Unknown names are errors, except before `:/` (URLs stay bare words).
fn field_prefix(text: &[char], start: usize) -> Result<Option<(FieldKey, String)>, ParseError> {
    let letters = text.iter().take_while(|c| c.is_ascii_alphabetic()).count();
    if letters == 0 || text.get(letters) != Some(&':') {
        return Ok(None);
    }
    let name: String = text[..letters].iter().collect();
    match FieldKey::from_name(&name) {
        Some(key) => Ok(Some((key, name))),
        None if text.get(letters + 1) == Some(&'/') => Ok(None),
        None => Err(ParseError::new(
            start,
            ParseErrorKind::UnknownField { name },
        )),
    }
}

/// Classifies a word at `start`: keyword (outside values), prefix or plain word.
fn word(text: &[char], start: usize, value: bool) -> Result<TokenKind, ParseError> {
    let s: String = text.iter().collect();
    if !value {
        match s.as_str() {
            "AND" => return Ok(TokenKind::And),
            "OR" => return Ok(TokenKind::Or),
            "NOT" => return Ok(TokenKind::Not),
            _ => {}
        }
    }
    match text.iter().position(|&c| c == '*') {
        None => Ok(TokenKind::Word(s)),
        Some(0) if text.len() == 1 => Err(ParseError::new(start, ParseErrorKind::LoneStar)),
        Some(star) if star + 1 == text.len() => {
            Ok(TokenKind::Prefix(text[..star].iter().collect()))
        }
        Some(star) => Err(ParseError::new(start + star, ParseErrorKind::MisplacedStar)),
    }
}
