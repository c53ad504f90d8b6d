//! `POST <core>/update`: Solr's XML update commands, parsed as a stream.
//!
//! [`UpdateParser`] is a push parser with no I/O: feed it the body in chunks
//! of any size, split anywhere (inside a tag, an entity or a UTF-8 sequence),
//! and take the finished commands as they complete. It understands what
//! Dovecot sends (`<add><doc><field name="…">…</field></doc></add>`,
//! `<delete><id>…</id></delete>`, `<commit …/>`) plus `<delete><query>`,
//! `<optimize/>`, comments, CDATA, an XML declaration and the five named and
//! all numeric character references. Memory is bounded by one document.
//!
//! The handler feeds the request body to the parser as it arrives and hands
//! each batch of documents to the index, so bodies of any size and chunked
//! bodies work without buffering the whole request.

use std::pin::Pin;

use axum::body::{Body, HttpBody};
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;

use super::{xml_response, SolrError, SolrState};
use crate::index::imap::ImapDoc;

/// One update command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UpdateOp {
    /// Add or replace (by `id`) one document.
    Add(ImapDoc),
    /// Delete the document with this id.
    DeleteId(String),
    /// Delete every document matching this query.
    DeleteQuery(String),
    /// Make everything so far searchable (hard or soft commit alike).
    Commit,
    /// `<optimize/>`: treated as a commit.
    Optimize,
}

/// Malformed update XML (the client's mistake).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("bad update XML at byte {offset}: {message}")]
pub struct XmlError {
    /// Byte offset in the body.
    pub offset: u64,
    /// What is wrong.
    pub message: String,
}

/// Longest tag (with attributes) accepted.
const MAX_TAG: usize = 64 * 1024;
/// Deepest element nesting accepted (Dovecot's deepest is 4:
/// `add/doc/field`); every open element is kept until it closes.
pub const MAX_DEPTH: usize = 16;
/// Largest single document accepted (all its field values together).
pub const MAX_DOC_BYTES: usize = 1 << 30;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    Markup,
    Comment,
    Cdata,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Capture {
    Field,
    Id,
    Query,
}

/// The streaming parser; see the module docs.
#[derive(Debug)]
pub struct UpdateParser {
    buf: Vec<u8>,
    /// Bytes consumed before `buf[0]`.
    offset: u64,
    mode: Mode,
    stack: Vec<String>,
    doc: Option<ImapDoc>,
    doc_bytes: usize,
    capture: Option<(Capture, String, Vec<u8>)>,
    ops: Vec<UpdateOp>,
}

impl Default for UpdateParser {
    fn default() -> Self {
        Self::new()
    }
}

impl UpdateParser {
    /// A parser at the start of a body.
    pub fn new() -> UpdateParser {
        UpdateParser {
            buf: Vec::new(),
            offset: 0,
            mode: Mode::Markup,
            stack: Vec::new(),
            doc: None,
            doc_bytes: 0,
            capture: None,
            ops: Vec::new(),
        }
    }

    /// Feeds the next chunk of the body.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), XmlError> {
        self.buf.extend_from_slice(chunk);
        let consumed = self.run()?;
        self.buf.drain(..consumed);
        self.offset += consumed as u64;
        Ok(())
    }

    /// The commands completed so far (removes them).
    pub fn take_ops(&mut self) -> Vec<UpdateOp> {
        std::mem::take(&mut self.ops)
    }

    /// How many completed commands are waiting.
    pub fn pending(&self) -> usize {
        self.ops.len()
    }

    /// Ends the body: the remaining commands, or an error if it was cut short.
    pub fn finish(mut self) -> Result<Vec<UpdateOp>, XmlError> {
        if self.mode != Mode::Markup
            || !self.stack.is_empty()
            || self.buf.iter().any(|b| !b.is_ascii_whitespace())
        {
            return Err(self.err(0, "the body ends inside an element"));
        }
        Ok(self.take_ops())
    }

    fn err(&self, at: usize, message: impl Into<String>) -> XmlError {
        XmlError {
            offset: self.offset + at as u64,
            message: message.into(),
        }
    }

    /// Processes as much of `buf` as is complete; returns the bytes consumed.
    fn run(&mut self) -> Result<usize, XmlError> {
        let mut pos = 0;
        let buf = std::mem::take(&mut self.buf);
        let result = self.run_on(&buf, &mut pos);
        self.buf = buf;
        result.map(|()| pos)
    }

    fn run_on(&mut self, buf: &[u8], pos: &mut usize) -> Result<(), XmlError> {
        while *pos < buf.len() {
            let rest = &buf[*pos..];
            match self.mode {
                Mode::Comment => match find(rest, b"-->") {
                    Some(i) => {
                        *pos += i + 3;
                        self.mode = Mode::Markup;
                    }
                    None => {
                        *pos += rest.len().saturating_sub(2);
                        return Ok(());
                    }
                },
                Mode::Cdata => {
                    let (take, end) = match find(rest, b"]]>") {
                        Some(i) => (i, Some(i + 3)),
                        None => (rest.len().saturating_sub(2), None),
                    };
                    self.append_raw(&rest[..take], *pos)?;
                    match end {
                        Some(e) => {
                            *pos += e;
                            self.mode = Mode::Markup;
                        }
                        None => {
                            *pos += take;
                            return Ok(());
                        }
                    }
                }
                Mode::Markup if rest[0] == b'<' => {
                    if rest.starts_with(b"<!--") {
                        self.mode = Mode::Comment;
                        *pos += 4;
                    } else if rest.starts_with(b"<![CDATA[") {
                        self.mode = Mode::Cdata;
                        *pos += 9;
                    } else if rest.len() < 9
                        && (b"<![CDATA[".starts_with(rest) || b"<!--".starts_with(rest))
                    {
                        return Ok(()); // undecided: wait for more
                    } else {
                        let Some(end) = tag_end(rest) else {
                            if rest.len() > MAX_TAG {
                                return Err(self.err(*pos, "tag too long"));
                            }
                            return Ok(());
                        };
                        self.tag(&rest[1..end], *pos)?;
                        *pos += end + 1;
                    }
                }
                Mode::Markup => {
                    let (text, complete) = match rest.iter().position(|&b| b == b'<') {
                        Some(i) => (&rest[..i], true),
                        None => (&rest[..safe_text_end(rest)], false),
                    };
                    self.text(text, *pos)?;
                    *pos += text.len();
                    if !complete {
                        return Ok(());
                    }
                }
            }
        }
        Ok(())
    }

    fn append_raw(&mut self, bytes: &[u8], at: usize) -> Result<(), XmlError> {
        if let Some((_, _, value)) = &mut self.capture {
            self.doc_bytes += bytes.len();
            value.extend_from_slice(bytes);
            if self.doc_bytes > MAX_DOC_BYTES {
                return Err(self.err(at, "document too large"));
            }
        }
        Ok(())
    }

    fn text(&mut self, text: &[u8], at: usize) -> Result<(), XmlError> {
        if self.capture.is_none() || text.is_empty() {
            return Ok(());
        }
        let mut decoded = Vec::with_capacity(text.len());
        decode_entities(text, &mut decoded);
        self.append_raw(&decoded, at)
    }

    fn tag(&mut self, inner: &[u8], at: usize) -> Result<(), XmlError> {
        let inner = String::from_utf8_lossy(inner);
        let inner = inner.as_ref();
        if inner.starts_with('?') || inner.starts_with('!') {
            return Ok(()); // declaration, processing instruction, DOCTYPE
        }
        if let Some(name) = inner.strip_prefix('/') {
            let name = name.trim();
            return match self.stack.pop() {
                Some(open) if open == name => {
                    self.close(name, at);
                    Ok(())
                }
                Some(open) => Err(self.err(at, format!("</{name}> closes <{open}>"))),
                None => Err(self.err(at, format!("</{name}> without an open element"))),
            };
        }
        let (body, self_closing) = match inner.strip_suffix('/') {
            Some(b) => (b, true),
            None => (inner, false),
        };
        let name_end = body.find(|c: char| c.is_whitespace()).unwrap_or(body.len());
        let name = &body[..name_end];
        if name.is_empty() {
            return Err(self.err(at, "empty tag name"));
        }
        let attrs = parse_attrs(&body[name_end..]).map_err(|m| self.err(at, m))?;
        if !self_closing && self.stack.len() >= MAX_DEPTH {
            return Err(self.err(at, format!("elements nested deeper than {MAX_DEPTH}")));
        }
        self.open(name, &attrs, at)?;
        if self_closing {
            self.close(name, at);
        } else {
            self.stack.push(name.to_string());
        }
        Ok(())
    }

    fn open(&mut self, name: &str, attrs: &[(String, String)], at: usize) -> Result<(), XmlError> {
        if self.capture.is_some() {
            return Err(self.err(at, format!("<{name}> inside a value")));
        }
        let parent = self.stack.last().map(String::as_str);
        let depth = self.stack.len();
        match (depth, parent, name) {
            (0, _, "add" | "delete") => {}
            (0, _, "commit") => self.ops.push(UpdateOp::Commit),
            (0, _, "optimize") => self.ops.push(UpdateOp::Optimize),
            (0, _, "rollback") => return Err(self.err(at, "rollback is not supported")),
            (0, _, other) => return Err(self.err(at, format!("unknown update command <{other}>"))),
            (1, Some("add"), "doc") => {
                self.doc = Some(ImapDoc::default());
                self.doc_bytes = 0;
            }
            (2, Some("doc"), "field") => {
                let fname = attrs
                    .iter()
                    .find(|(k, _)| k == "name")
                    .map(|(_, v)| v.clone())
                    .ok_or_else(|| self.err(at, "<field> without a name"))?;
                self.capture = Some((Capture::Field, fname, Vec::new()));
            }
            (1, Some("delete"), "id") => {
                self.capture = Some((Capture::Id, String::new(), Vec::new()))
            }
            (1, Some("delete"), "query") => {
                self.capture = Some((Capture::Query, String::new(), Vec::new()))
            }
            _ => {} // anything else (boosts, unknown children) is ignored
        }
        Ok(())
    }

    fn close(&mut self, name: &str, _at: usize) {
        match name {
            "field" | "id" | "query" => {
                let Some((kind, fname, value)) = self.capture.take() else {
                    return;
                };
                let value = match String::from_utf8(value) {
                    Ok(s) => s,
                    Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
                };
                match kind {
                    Capture::Field => {
                        if let Some(doc) = &mut self.doc {
                            doc.fields.push((fname, value));
                        }
                    }
                    Capture::Id => self.ops.push(UpdateOp::DeleteId(value.trim().to_string())),
                    Capture::Query => self.ops.push(UpdateOp::DeleteQuery(value)),
                }
            }
            "doc" => {
                if let Some(doc) = self.doc.take() {
                    self.ops.push(UpdateOp::Add(doc));
                }
            }
            _ => {}
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The index of the `>` ending the tag that starts `rest`, skipping quoted attribute values.
fn tag_end(rest: &[u8]) -> Option<usize> {
    let mut quote = None;
    for (i, &b) in rest.iter().enumerate().skip(1) {
        match (quote, b) {
            (None, b'"' | b'\'') => quote = Some(b),
            (Some(q), b) if b == q => quote = None,
            (None, b'>') => return Some(i),
            _ => {}
        }
    }
    None
}

/// How much of an unterminated text run can be decoded now: everything but a
/// trailing `&…` that may be the start of an entity.
fn safe_text_end(text: &[u8]) -> usize {
    match text.iter().rposition(|&b| b == b'&') {
        Some(i) if text.len() - i <= 12 && !text[i..].contains(&b';') => i,
        _ => text.len(),
    }
}

/// Appends `text` with entities decoded; unknown or broken entities stay literal.
fn decode_entities(text: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    while i < text.len() {
        let b = text[i];
        if b != b'&' {
            let next = text[i..]
                .iter()
                .position(|&c| c == b'&')
                .map_or(text.len(), |p| i + p);
            out.extend_from_slice(&text[i..next]);
            i = next;
            continue;
        }
        let semi = text[i..]
            .iter()
            .take(12)
            .position(|&c| c == b';')
            .map(|p| i + p);
        let decoded = semi.and_then(|s| entity(&text[i + 1..s]).map(|c| (c, s)));
        match decoded {
            Some((c, s)) => {
                let mut tmp = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut tmp).as_bytes());
                i = s + 1;
            }
            None => {
                out.push(b'&');
                i += 1;
            }
        }
    }
}

fn entity(name: &[u8]) -> Option<char> {
    Some(match name {
        b"lt" => '<',
        b"gt" => '>',
        b"amp" => '&',
        b"quot" => '"',
        b"apos" => '\'',
        [b'#', b'x' | b'X', hex @ ..] => char_ref(std::str::from_utf8(hex).ok()?, 16)?,
        [b'#', dec @ ..] => char_ref(std::str::from_utf8(dec).ok()?, 10)?,
        _ => return None,
    })
}

fn char_ref(digits: &str, radix: u32) -> Option<char> {
    if digits.is_empty() {
        return None;
    }
    let n = u32::from_str_radix(digits, radix).ok()?;
    Some(match char::from_u32(n) {
        Some('\0') | None => char::REPLACEMENT_CHARACTER,
        Some(c) => c,
    })
}

fn parse_attrs(s: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    let mut rest = s.trim_start();
    while !rest.is_empty() {
        let eq = rest.find('=').ok_or("attribute without a value")?;
        let key = rest[..eq].trim().to_string();
        let after = rest[eq + 1..].trim_start();
        let q = after.chars().next().ok_or("attribute without a value")?;
        if q != '"' && q != '\'' {
            return Err("unquoted attribute value".into());
        }
        let close = after[1..].find(q).ok_or("unterminated attribute value")?;
        let mut value = Vec::new();
        decode_entities(&after.as_bytes()[1..1 + close], &mut value);
        out.push((key, String::from_utf8_lossy(&value).into_owned()));
        rest = after[close + 2..].trim_start();
    }
    Ok(out)
}

/// Documents handed to the index at a time while a body streams in.
const BATCH: usize = 200;

/// `POST /solr/{core}/update`.
pub async fn handle(
    State(state): State<SolrState>,
    Path(core): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, SolrError> {
    state.check(&core, &headers)?;
    super::check_xml_body(&headers)?;
    let max = state.max_body_bytes();
    let mut seen: u64 = 0;
    let mut body = body;
    let mut parser = UpdateParser::new();
    loop {
        let frame = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await;
        match frame {
            None => break,
            Some(Err(e)) => return Err(SolrError::Body(e.to_string())),
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    seen = seen.saturating_add(data.len() as u64);
                    if seen > max {
                        return Err(SolrError::TooLarge(max));
                    }
                    parser.feed(&data)?;
                    if parser.pending() >= BATCH {
                        apply(&state, parser.take_ops()).await?;
                    }
                }
            }
        }
    }
    apply(&state, parser.finish()?).await?;
    Ok(xml_response(super::EMPTY_RESPONSE.to_string()))
}

/// Applies commands in order: consecutive adds go to the writer together.
async fn apply(state: &SolrState, ops: Vec<UpdateOp>) -> Result<(), SolrError> {
    if ops.is_empty() {
        return Ok(());
    }
    let ix = state.index.clone();
    tokio::task::spawn_blocking(move || -> Result<(), SolrError> {
        let mut adds = Vec::new();
        for op in ops {
            if !matches!(op, UpdateOp::Add(_)) && !adds.is_empty() {
                ix.add(&std::mem::take(&mut adds))?;
            }
            match op {
                UpdateOp::Add(doc) => adds.push(doc),
                UpdateOp::DeleteId(id) => ix.delete_ids(&[id]),
                UpdateOp::DeleteQuery(q) => {
                    let node = crate::query::lucene::parse(&q)?;
                    let query = crate::query::imap::exact_query(ix.fields, &node)?;
                    ix.delete_query(query)?;
                }
                UpdateOp::Commit | UpdateOp::Optimize => ix.commit()?,
            }
        }
        if !adds.is_empty() {
            ix.add(&adds)?;
        }
        Ok(())
    })
    .await
    .map_err(|e| SolrError::Internal(e.to_string()))?
}

#[cfg(test)]
#[path = "update_tests.rs"]
mod tests;
