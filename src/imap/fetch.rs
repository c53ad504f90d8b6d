//! FETCH and UID FETCH (with RFC 9394's `(PARTIAL range)` modifier): UID, FLAGS, INTERNALDATE, RFC822.SIZE, ENVELOPE,
//! BODY, BODYSTRUCTURE, BODY[section]<partial> and BODY.PEEK, BINARY[...]
//! and BINARY.SIZE, RFC822, RFC822.HEADER, RFC822.TEXT, and the macros ALL,
//! FAST, FULL.
//!
//! A message's bytes are read through the store (`store::LocationReader`,
//! the `show --raw` path), from a copy on a list the user may read (the
//! mailbox's own list first), with bare LF made CRLF as IMAP requires.
//! Answers stream in batches, so memory does not grow with the range asked
//! for; `FETCH 1:* (UID FLAGS)` reads nothing but the UID array.

use base64::Engine;
use tokio::io::{AsyncRead, AsyncWrite};

use super::mime::{self, Entity, Kind};
use super::parser::{sequence_set, Range, Token};
use super::response::{date_time, nstring};
use super::session::Session;
use super::{blocking, Imap, ImapError};
use crate::query::mailbox;

/// Messages answered per batch.
const BATCH: usize = 200;

/// Which part of a section.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Full,
    Header,
    Fields(Vec<String>, bool),
    Text,
    Mime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Section {
    path: Vec<u32>,
    part: Part,
    /// How the response names it (`BODY[1.HEADER.FIELDS (FROM)]`).
    label: String,
    partial: Option<(usize, usize)>,
    binary: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    Uid,
    Flags,
    InternalDate,
    Size,
    Envelope,
    Body(bool),
    Section(Section),
    BinarySize(Vec<u32>),
    Rfc822,
    Rfc822Header,
    Rfc822Text,
}

impl Item {
    fn needs_bytes(&self) -> bool {
        !matches!(self, Item::Uid | Item::Flags | Item::InternalDate)
    }
}

fn parse_section(spec: &str, binary: bool, label_name: &str, after: &str) -> Option<Section> {
    let mut path = Vec::new();
    let mut rest = spec.trim();
    while let Some(first) = rest.split('.').next() {
        if let Ok(n) = first.parse::<u32>() {
            if n == 0 {
                return None;
            }
            path.push(n);
            rest = rest
                .get(first.len()..)
                .unwrap_or("")
                .trim_start_matches('.');
            if rest.is_empty() {
                break;
            }
        } else {
            break;
        }
    }
    let upper = rest.to_ascii_uppercase();
    let part = if upper.is_empty() {
        Part::Full
    } else if upper == "HEADER" {
        Part::Header
    } else if upper == "TEXT" {
        Part::Text
    } else if upper == "MIME" && !path.is_empty() {
        Part::Mime
    } else if let Some(list) = upper
        .strip_prefix("HEADER.FIELDS.NOT")
        .map(|l| (l, true))
        .or_else(|| upper.strip_prefix("HEADER.FIELDS").map(|l| (l, false)))
    {
        let (l, not) = list;
        let l = l.trim();
        let inner = l.strip_prefix('(')?.strip_suffix(')')?;
        let names: Vec<String> = inner
            .split_whitespace()
            .map(|n| n.trim_matches('"').to_string())
            .collect();
        if names.is_empty() {
            return None;
        }
        Part::Fields(names, not)
    } else {
        return None;
    };
    if binary && part != Part::Full {
        return None;
    }
    let partial = if after.is_empty() {
        None
    } else {
        let inner = after.strip_prefix('<')?.strip_suffix('>')?;
        let (a, b) = inner.split_once('.')?;
        Some((a.parse().ok()?, b.parse().ok()?))
    };
    Some(Section {
        path,
        part,
        label: format!("{label_name}[{}]", spec.to_ascii_uppercase()),
        partial,
        binary,
    })
}

fn parse_item(atom: &str) -> Option<Item> {
    let upper = atom.to_ascii_uppercase();
    if let Some(open) = atom.find('[') {
        let close = atom.rfind(']')?;
        let name = upper.get(..open)?;
        let spec = atom.get(open + 1..close)?;
        let after = atom.get(close + 1..)?;
        return match name {
            "BODY" | "BODY.PEEK" => parse_section(spec, false, "BODY", after).map(Item::Section),
            "BINARY" | "BINARY.PEEK" => {
                parse_section(spec, true, "BINARY", after).map(Item::Section)
            }
            "BINARY.SIZE" if after.is_empty() => {
                let s = parse_section(spec, true, "BINARY.SIZE", "")?;
                Some(Item::BinarySize(s.path))
            }
            _ => None,
        };
    }
    Some(match upper.as_str() {
        "UID" => Item::Uid,
        "FLAGS" => Item::Flags,
        "INTERNALDATE" => Item::InternalDate,
        "RFC822.SIZE" => Item::Size,
        "ENVELOPE" => Item::Envelope,
        "BODY" => Item::Body(false),
        "BODYSTRUCTURE" => Item::Body(true),
        "RFC822" => Item::Rfc822,
        "RFC822.HEADER" => Item::Rfc822Header,
        "RFC822.TEXT" => Item::Rfc822Text,
        _ => return None,
    })
}

fn parse_items(t: &Token) -> Option<Vec<Item>> {
    match t {
        Token::Atom(a) => match a.to_ascii_uppercase().as_str() {
            "ALL" => Some(vec![
                Item::Flags,
                Item::InternalDate,
                Item::Size,
                Item::Envelope,
            ]),
            "FAST" => Some(vec![Item::Flags, Item::InternalDate, Item::Size]),
            "FULL" => Some(vec![
                Item::Flags,
                Item::InternalDate,
                Item::Size,
                Item::Envelope,
                Item::Body(false),
            ]),
            _ => parse_item(a).map(|i| vec![i]),
        },
        Token::List(items) => items
            .iter()
            .map(|i| match i {
                Token::Atom(a) => parse_item(a),
                _ => None,
            })
            .collect(),
        Token::Str(_) => None,
    }
}

/// Positions (0-based) into `uids` that a sequence set (or UID set) names.
pub fn positions(set: &[Range], uids: &[u32], by_uid: bool) -> Vec<usize> {
    let mut out = Vec::new();
    if uids.is_empty() {
        return out;
    }
    let last_seq = u32::try_from(uids.len()).unwrap_or(u32::MAX);
    let max_uid = uids[uids.len() - 1];
    for &(a, b) in set {
        if by_uid {
            let star = |v: u32| if v == u32::MAX { max_uid } else { v };
            let (lo, hi) = (star(a).min(star(b)), star(a).max(star(b)));
            let from = uids.partition_point(|u| *u < lo);
            let to = uids.partition_point(|u| *u <= hi);
            out.extend(from..to);
        } else {
            let star = |v: u32| if v == u32::MAX { last_seq } else { v };
            let (lo, hi) = (star(a).min(star(b)), star(a).max(star(b)).min(last_seq));
            if lo >= 1 && lo <= hi {
                out.extend((lo as usize - 1)..(hi as usize));
            }
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

fn slice(bytes: &[u8], partial: Option<(usize, usize)>) -> &[u8] {
    match partial {
        None => bytes,
        Some((start, len)) => {
            let s = start.min(bytes.len());
            &bytes[s..(s.saturating_add(len)).min(bytes.len())]
        }
    }
}

fn literal(out: &mut Vec<u8>, bytes: &[u8], binary: bool) {
    let prefix = if binary && bytes.contains(&0) {
        "~"
    } else {
        ""
    };
    out.extend_from_slice(format!("{prefix}{{{}}}\r\n", bytes.len()).as_bytes());
    out.extend_from_slice(bytes);
}

fn decode(entity_bytes: &[u8], encoding: &str) -> Option<Vec<u8>> {
    match encoding {
        "BASE64" => {
            let clean: Vec<u8> = entity_bytes
                .iter()
                .copied()
                .filter(|b| !b.is_ascii_whitespace())
                .collect();
            base64::engine::general_purpose::STANDARD
                .decode(&clean)
                .or_else(|_| {
                    base64::engine::general_purpose::STANDARD_NO_PAD
                        .decode(clean.strip_suffix(b"=").unwrap_or(&clean))
                })
                .ok()
        }
        "QUOTED-PRINTABLE" => Some(quoted_printable(entity_bytes)),
        _ => Some(entity_bytes.to_vec()),
    }
}

fn quoted_printable(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    while i < b.len() {
        if b[i] == b'=' {
            if b.get(i + 1) == Some(&b'\r') && b.get(i + 2) == Some(&b'\n') {
                i += 3;
                continue;
            }
            if b.get(i + 1) == Some(&b'\n') {
                i += 2;
                continue;
            }
            if let (Some(h), Some(l)) = (
                b.get(i + 1).and_then(|c| hex(*c)),
                b.get(i + 2).and_then(|c| hex(*c)),
            ) {
                out.push(h * 16 + l);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

fn transfer_encoding(msg: &[u8], e: &Entity) -> String {
    mime::fields(&msg[e.start..e.body])
        .into_iter()
        .find(|(n, _, _)| n.eq_ignore_ascii_case("content-transfer-encoding"))
        .map(|(_, v, _)| v.trim().to_ascii_uppercase())
        .unwrap_or_default()
}

/// The bytes a section names, or `None` when the message has no such part
/// (`root`: the structure, needed for anything but the whole message).
fn section_bytes(msg: &[u8], root: Option<&Entity>, s: &Section) -> Option<Vec<u8>> {
    if s.path.is_empty() && s.part == Part::Full {
        return Some(msg.to_vec());
    }
    let root = root?;
    let bytes = match &s.part {
        Part::Full if s.path.is_empty() => msg.to_vec(),
        Part::Full => {
            let e = root.find(&s.path)?;
            if matches!(e.kind, Kind::Multipart(_)) && !s.binary {
                msg[e.body..e.end].to_vec()
            } else if s.binary {
                decode(&msg[e.body..e.end], &transfer_encoding(msg, e))?
            } else {
                msg[e.body..e.end].to_vec()
            }
        }
        Part::Header => {
            let m = root.message_at(&s.path)?;
            msg[m.start..m.body].to_vec()
        }
        Part::Text => {
            let m = root.message_at(&s.path)?;
            msg[m.body..m.end].to_vec()
        }
        Part::Fields(names, not) => {
            let m = root.message_at(&s.path)?;
            mime::header_fields(&msg[m.start..m.body], names, *not)
        }
        Part::Mime => {
            let e = root.find(&s.path)?;
            msg[e.start..e.body].to_vec()
        }
    };
    Some(bytes)
}

/// One message's FETCH response into `out`.
fn render(
    out: &mut Vec<u8>,
    seq: usize,
    uid: u32,
    arrived: i64,
    msg: Option<&[u8]>,
    items: &[Item],
) {
    out.extend_from_slice(format!("* {seq} FETCH (").as_bytes());
    // The MIME structure only when an item needs it (not for BODY[] alone).
    let needs_structure = |i: &Item| match i {
        Item::Uid | Item::Flags | Item::InternalDate | Item::Size | Item::Rfc822 => false,
        Item::Section(s) => !(s.path.is_empty() && s.part == Part::Full),
        _ => true,
    };
    let root = if items.iter().any(needs_structure) {
        msg.map(mime::parse)
    } else {
        None
    };
    let mut first = true;
    for item in items {
        if !first {
            out.push(b' ');
        }
        first = false;
        match (item, msg, &root) {
            (Item::Uid, _, _) => out.extend_from_slice(format!("UID {uid}").as_bytes()),
            (Item::Flags, _, _) => out.extend_from_slice(b"FLAGS ()"),
            (Item::InternalDate, _, _) => {
                out.extend_from_slice(format!("INTERNALDATE {}", date_time(arrived)).as_bytes())
            }
            (Item::Size, Some(m), _) => {
                out.extend_from_slice(format!("RFC822.SIZE {}", m.len()).as_bytes())
            }
            (Item::Envelope, Some(m), Some(r)) => {
                out.extend_from_slice(b"ENVELOPE ");
                out.extend_from_slice(&mime::latin1_bytes(&mime::envelope(&m[r.start..r.body])));
            }
            (Item::Body(ext), Some(m), Some(r)) => {
                out.extend_from_slice(if *ext { b"BODYSTRUCTURE " } else { b"BODY " });
                out.extend_from_slice(&mime::latin1_bytes(&mime::structure(m, r, *ext)));
            }
            (Item::Rfc822, Some(m), _) => {
                out.extend_from_slice(b"RFC822 ");
                literal(out, m, false);
            }
            (Item::Rfc822Header, Some(m), Some(r)) => {
                out.extend_from_slice(b"RFC822.HEADER ");
                literal(out, &m[r.start..r.body], false);
            }
            (Item::Rfc822Text, Some(m), Some(r)) => {
                out.extend_from_slice(b"RFC822.TEXT ");
                literal(out, &m[r.body..r.end], false);
            }
            (Item::Section(s), Some(m), r) => {
                out.extend_from_slice(s.label.as_bytes());
                if let Some((origin, _)) = s.partial {
                    out.extend_from_slice(format!("<{origin}>").as_bytes());
                }
                out.push(b' ');
                match section_bytes(m, r.as_ref(), s) {
                    Some(b) => literal(out, slice(&b, s.partial), s.binary),
                    None if s.binary => out.extend_from_slice(b"NIL"),
                    None => literal(out, b"", false),
                }
            }
            (Item::BinarySize(path), Some(m), Some(r)) => {
                let s = Section {
                    path: path.clone(),
                    part: Part::Full,
                    label: String::new(),
                    partial: None,
                    binary: true,
                };
                let n = section_bytes(m, Some(r), &s).map_or(0, |b| b.len());
                let label = path
                    .iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(".");
                out.extend_from_slice(format!("BINARY.SIZE[{label}] {n}").as_bytes());
            }
            // The message's bytes could not be read: say so without lying.
            (Item::Size, None, _) => out.extend_from_slice(b"RFC822.SIZE 0"),
            (Item::Envelope, _, _) => out.extend_from_slice(
                format!("ENVELOPE {}", "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)").as_bytes(),
            ),
            (other, _, _) => {
                let name = match other {
                    Item::Body(true) => "BODYSTRUCTURE",
                    Item::Body(false) => "BODY",
                    _ => "BODY[]",
                };
                out.extend_from_slice(format!("{name} {}", nstring(None)).as_bytes());
            }
        }
    }
    out.extend_from_slice(b")\r\n");
}

/// A message's arrival time and, when asked for, its CRLF bytes (`None`
/// when they could not be read).
type Loaded = (i64, Option<Vec<u8>>);

/// Reads message `uid` as the user sees it: (arrival, CRLF bytes). `None`
/// when it is no longer there or not readable.
pub(super) fn load(
    imap: &Imap,
    uid: u32,
    allowed: Option<&[String]>,
    list: Option<&str>,
    reader: &mut crate::store::LocationReader,
    bytes: bool,
) -> Result<Option<Loaded>, ImapError> {
    let Some(key) = imap.uids.key_of(uid) else {
        return Ok(None);
    };
    let Some(found) = mailbox::by_key(&imap.index, &key, allowed)? else {
        return Ok(None);
    };
    if !bytes {
        return Ok(Some((found.arrived, None)));
    }
    let m = &found.message;
    // The mailbox's own list's copy first, then any readable copy.
    let mut order: Vec<String> = Vec::new();
    if let Some(l) = list {
        for (loc, ll) in m.locations.iter().zip(m.location_lists.iter()) {
            if ll.eq_ignore_ascii_case(l) {
                order.push(loc.clone());
            }
        }
    }
    let rest: Vec<String> = m
        .locations
        .iter()
        .filter(|l| !order.contains(l))
        .cloned()
        .collect();
    order.extend(rest);
    match reader.read_first(&order) {
        Ok(raw) => Ok(Some((found.arrived, Some(mime::to_crlf(&raw))))),
        Err(e) => {
            tracing::warn!(key = %key, "imap fetch: cannot read the message: {e}");
            Ok(Some((found.arrived, None)))
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Session<S> {
    pub(super) async fn fetch(
        &mut self,
        tag: &str,
        args: &[Token],
        by_uid: bool,
    ) -> Result<String, ImapError> {
        let cmd = if by_uid { "UID FETCH" } else { "FETCH" };
        let (Some(Token::Atom(set)), Some(items)) = (args.first(), args.get(1)) else {
            return Ok(format!("{tag} BAD {cmd} needs a sequence set and items"));
        };
        // `$`: the saved search result (SEARCHRES), resolved below.
        let dollar = set == "$";
        let set = match sequence_set(set) {
            Some(s) => s,
            None if dollar => Vec::new(),
            None => return Ok(format!("{tag} BAD bad sequence set")),
        };
        let Some(mut items) = parse_items(items) else {
            return Ok(format!("{tag} BAD unknown or malformed FETCH item"));
        };
        if by_uid && !items.contains(&Item::Uid) {
            items.insert(0, Item::Uid);
        }
        let Some(sel) = &self.selected else {
            return Ok(format!("{tag} BAD no mailbox selected"));
        };
        let at = if dollar {
            super::searchres::positions(&sel.uids, &sel.saved)
        } else {
            positions(&set, &sel.uids, by_uid)
        };
        let mut wanted: Vec<(usize, u32)> = at.into_iter().map(|p| (p + 1, sel.uids[p])).collect();
        // The PARTIAL modifier (RFC 9394): only those positions of the set.
        if let Some(Token::List(modifiers)) = args.get(2) {
            match (
                modifiers.first().and_then(Token::keyword).as_deref(),
                modifiers.get(1).and_then(Token::keyword),
            ) {
                (Some("PARTIAL"), Some(range)) => match super::search::partial_range(&range) {
                    Some(r) => wanted = super::search::pick(&wanted, r),
                    None => return Ok(format!("{tag} BAD bad PARTIAL range")),
                },
                _ => return Ok(format!("{tag} BAD unsupported FETCH modifier")),
            }
        }
        let allowed = sel.scope.allowed.clone();
        let list = sel.list.clone();
        let bytes = items.iter().any(Item::needs_bytes);
        let only_flags = items.iter().all(|i| matches!(i, Item::Uid | Item::Flags));
        for chunk in wanted.chunks(if only_flags { 8192 } else { BATCH }) {
            if only_flags {
                for &(seq, uid) in chunk {
                    render(&mut self.out, seq, uid, 0, None, &items);
                }
            } else {
                let (imap, allowed, list, items, chunk) = (
                    self.imap.clone(),
                    allowed.clone(),
                    list.clone(),
                    items.clone(),
                    chunk.to_vec(),
                );
                let rendered = blocking(move || {
                    let mut out = Vec::new();
                    let mut reader = crate::store::LocationReader::default();
                    for (seq, uid) in chunk {
                        if let Some((arrived, msg)) = load(
                            &imap,
                            uid,
                            allowed.as_deref(),
                            list.as_deref(),
                            &mut reader,
                            bytes,
                        )? {
                            render(&mut out, seq, uid, arrived, msg.as_deref(), &items);
                        }
                    }
                    Ok(out)
                })
                .await?;
                self.out.extend_from_slice(&rendered);
            }
            self.flush().await?;
        }
        Ok(format!("{tag} OK {cmd} completed"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_and_sections() {
        assert_eq!(
            parse_item("BODY.PEEK[1.2.HEADER.FIELDS (From \"To\")]<0.10>"),
            Some(Item::Section(Section {
                path: vec![1, 2],
                part: Part::Fields(vec!["FROM".into(), "TO".into()], false),
                label: "BODY[1.2.HEADER.FIELDS (FROM \"TO\")]".into(),
                partial: Some((0, 10)),
                binary: false,
            }))
        );
        assert!(parse_item("BODY[0]").is_none());
        assert!(parse_item("BINARY[HEADER]").is_none());
        assert!(parse_item("X-UNKNOWN").is_none());
    }

    #[test]
    fn sequence_and_uid_positions() {
        let uids = [3, 5, 9, 10];
        assert_eq!(positions(&[(2, u32::MAX)], &uids, false), vec![1, 2, 3]);
        assert_eq!(positions(&[(4, 9)], &uids, true), vec![1, 2]);
        assert_eq!(positions(&[(20, u32::MAX)], &uids, true), vec![3]);
        assert_eq!(positions(&[(7, 8)], &uids, false), Vec::<usize>::new());
    }

    #[test]
    fn binary_decodes_base64_and_qp() {
        assert_eq!(decode(b"aGVs\r\nbG8=", "BASE64"), Some(b"hello".to_vec()));
        assert_eq!(quoted_printable(b"a=3Db=\r\nc"), b"a=bc");
    }
}
