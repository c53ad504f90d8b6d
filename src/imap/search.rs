//! SEARCH and UID SEARCH: every RFC 3501 key, answered from the index
//! through `query::mailbox` and combined as sorted UID sets; ESEARCH
//! (RFC 4731: `RETURN (MIN MAX COUNT ALL)`) with PARTIAL (RFC 9394:
//! `RETURN (PARTIAL 1:100)`, `-1:-100` from the end); and `X-GM-RAW`, which takes a
//! gleaner query (what neomutt's `=/` sends when `X-GM-EXT-1` is advertised).
//!
//! Semantics (docs/IMAP.md): FROM/TO/CC/SUBJECT and HEADER of those fields,
//! Message-ID and List-Id are substring matches on the folded text, as in
//! Dovecot; BODY and TEXT are gleaner phrase searches over the indexed words
//! (not substrings of them); dates compare whole UTC days; nothing is ever
//! \Seen, \Flagged, \Deleted, \Answered, \Draft or \Recent in the read-only
//! archive, so those keys match nothing and their UN- forms everything.

use tokio::io::{AsyncRead, AsyncWrite};

use super::fetch::{load, positions};
use super::mime::fields;
use super::parser::{sequence_set, Range, Token};
use super::response::{compact, parse_date, quote};
use super::session::Session;
use super::{blocking, Imap, ImapError};
use crate::query::mailbox::{DateField, Filter, HeaderField, Scope};

/// A parsed search key.
#[cfg(test)]
mod tests {
    use super::{partial_range, pick};

    #[test]
    fn merged_sets() {
        use super::{intersect, merge_filter, union};
        let (a, b) = ([1, 3, 5, 7, 9], [2, 3, 4, 9, 10]);
        assert_eq!(intersect(&a, &b), vec![3, 9]);
        assert_eq!(merge_filter(&a, &b, false), vec![1, 5, 7]);
        assert_eq!(union(&a, &b), vec![1, 2, 3, 4, 5, 7, 9, 10]);
        assert_eq!(intersect(&a, &[]), Vec::<u32>::new());
        assert_eq!(union(&[], &b), b.to_vec());
    }

    #[test]
    fn partial_ranges() {
        let r = [10, 20, 30, 40, 50];
        assert_eq!(pick(&r, partial_range("1:2").expect("range")), vec![10, 20]);
        assert_eq!(
            pick(&r, partial_range("-1:-2").expect("range")),
            vec![40, 50]
        );
        assert_eq!(
            pick(&r, partial_range("4:100").expect("range")),
            vec![40, 50]
        );
        assert_eq!(
            pick(&r, partial_range("-9:-6").expect("range")),
            Vec::<u32>::new()
        );
        assert!(partial_range("0:3").is_none() && partial_range("-1:3").is_none());
    }
}

#[derive(Debug, Clone)]
pub(super) enum Key {
    All,
    Nothing,
    Seq(Vec<Range>),
    Uid(Vec<Range>),
    And(Vec<Key>),
    Or(Box<Key>, Box<Key>),
    Not(Box<Key>),
    Filter(Filter),
    /// `$`: the saved search result (SEARCHRES), replaced by its UIDs
    /// before evaluation (`searchres::substitute`).
    Saved,
    /// `HEADER name text` for a field the index does not keep: read from
    /// each candidate message's header (folded substring; "" = has the field).
    Header {
        name: String,
        needle: String,
    },
}

/// Most messages a `HEADER` search of a field the index does not keep reads
/// (narrow it with other keys, e.g. `SINCE` or `FROM`, beyond that).
pub(super) const MAX_HEADER_SCAN: usize = 20_000;

const DAY: i64 = 86_400;

fn string_arg(it: &mut std::slice::Iter<'_, Token>) -> Result<String, String> {
    it.next()
        .and_then(Token::as_astring)
        .ok_or_else(|| "missing or non-UTF-8 search string".to_string())
}

fn number_arg(it: &mut std::slice::Iter<'_, Token>) -> Result<u64, String> {
    it.next()
        .and_then(Token::as_astring)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| "missing number".to_string())
}

fn date_arg(it: &mut std::slice::Iter<'_, Token>) -> Result<i64, String> {
    let s = it.next().and_then(Token::as_astring).unwrap_or_default();
    parse_date(&s).ok_or_else(|| format!("bad date {s:?}"))
}

/// A gleaner phrase query for `s` (quotes in it dropped).
fn phrase(s: &str) -> Filter {
    let words: String = s.chars().filter(|c| *c != '"' && *c != '\\').collect();
    Filter::Query(format!("\"{}\"", words.trim()))
}

fn contains(field: HeaderField, needle: String) -> Key {
    Key::Filter(Filter::Contains { field, needle })
}

pub(super) fn one(it: &mut std::slice::Iter<'_, Token>, depth: usize) -> Result<Key, String> {
    if depth > 32 {
        return Err("search nested too deep".into());
    }
    let Some(t) = it.next() else {
        return Err("missing search key".into());
    };
    let word = match t {
        Token::List(items) => {
            let mut inner = items.iter();
            let mut keys = Vec::new();
            while inner.len() > 0 {
                keys.push(one(&mut inner, depth + 1)?);
            }
            return Ok(Key::And(keys));
        }
        Token::Str(_) => return Err("unexpected string".into()),
        Token::Atom(a) => a.clone(),
    };
    let upper = word.to_ascii_uppercase();
    let sent = |f: Option<i64>, u: Option<i64>| {
        Key::Filter(Filter::Date {
            field: DateField::Sent,
            from: f,
            until: u,
        })
    };
    let arrived = |f: Option<i64>, u: Option<i64>| {
        Key::Filter(Filter::Date {
            field: DateField::Arrived,
            from: f,
            until: u,
        })
    };
    Ok(match upper.as_str() {
        "ALL" | "UNSEEN" | "UNANSWERED" | "UNDELETED" | "UNDRAFT" | "UNFLAGGED" | "OLD" => Key::All,
        "SEEN" | "ANSWERED" | "DELETED" | "DRAFT" | "FLAGGED" | "RECENT" | "NEW" => Key::Nothing,
        "KEYWORD" => {
            string_arg(it)?;
            Key::Nothing
        }
        "UNKEYWORD" => {
            string_arg(it)?;
            Key::All
        }
        "FROM" => contains(HeaderField::From, string_arg(it)?),
        "TO" => contains(HeaderField::To, string_arg(it)?),
        "CC" => contains(HeaderField::Cc, string_arg(it)?),
        "SUBJECT" => contains(HeaderField::Subject, string_arg(it)?),
        // Bcc never reaches a list archive.
        "BCC" => {
            string_arg(it)?;
            Key::Nothing
        }
        "BODY" | "TEXT" => {
            let s = string_arg(it)?;
            if s.trim().is_empty() {
                Key::All
            } else {
                Key::Filter(phrase(&s))
            }
        }
        "X-GM-RAW" => Key::Filter(Filter::Query(string_arg(it)?)),
        "HEADER" => {
            let name = string_arg(it)?;
            let value = string_arg(it)?;
            let field = match name.to_ascii_lowercase().as_str() {
                "from" => HeaderField::From,
                "to" => HeaderField::To,
                "cc" => HeaderField::Cc,
                "subject" => HeaderField::Subject,
                "message-id" => HeaderField::MessageId,
                "list-id" => HeaderField::ListId,
                _ if name.is_empty()
                    || !name.bytes().all(|b| b.is_ascii_graphic() && b != b':') =>
                {
                    return Err(format!("HEADER {name:?} is not a header field name"))
                }
                _ => {
                    return Ok(Key::Header {
                        name,
                        needle: crate::index::imap::fold(&value),
                    })
                }
            };
            contains(field, value)
        }
        "BEFORE" => arrived(None, Some(date_arg(it)?)),
        "ON" => {
            let d = date_arg(it)?;
            arrived(Some(d), Some(d + DAY))
        }
        "SINCE" => arrived(Some(date_arg(it)?), None),
        "SENTBEFORE" => sent(None, Some(date_arg(it)?)),
        "SENTON" => {
            let d = date_arg(it)?;
            sent(Some(d), Some(d + DAY))
        }
        "SENTSINCE" => sent(Some(date_arg(it)?), None),
        "LARGER" => Key::Filter(Filter::Size {
            min: Some(number_arg(it)?.saturating_add(1)),
            max: None,
        }),
        "SMALLER" => match number_arg(it)?.checked_sub(1) {
            Some(max) => Key::Filter(Filter::Size {
                min: None,
                max: Some(max),
            }),
            None => Key::Nothing,
        },
        "NOT" => Key::Not(Box::new(one(it, depth + 1)?)),
        "OR" => {
            let a = one(it, depth + 1)?;
            let b = one(it, depth + 1)?;
            Key::Or(Box::new(a), Box::new(b))
        }
        "UID" => {
            let s = string_arg(it)?;
            if s == "$" {
                Key::Saved
            } else {
                Key::Uid(sequence_set(&s).ok_or("bad UID set")?)
            }
        }
        "$" => Key::Saved,
        _ => match sequence_set(&word) {
            Some(set) => Key::Seq(set),
            None => return Err(format!("unknown search key {word}")),
        },
    })
}

/// A PARTIAL range (RFC 9394): `a:b` counts from the first result, `-a:-b`
/// from the last; both ends 1-based and nonzero.
pub(super) fn partial_range(s: &str) -> Option<(i64, i64)> {
    let (a, b) = s.split_once(':')?;
    let (a, b): (i64, i64) = (a.parse().ok()?, b.parse().ok()?);
    if a == 0 || b == 0 || (a > 0) != (b > 0) {
        return None;
    }
    Some((a.min(b), a.max(b)))
}

/// The results at the positions of a PARTIAL range.
pub(super) fn pick<T: Copy>(results: &[T], (a, b): (i64, i64)) -> Vec<T> {
    let n = results.len() as i64;
    let (from, to) = if a > 0 {
        (a - 1, b)
    } else {
        (n + a, n + b + 1)
    };
    let (from, to) = (from.clamp(0, n) as usize, to.clamp(0, n) as usize);
    results.get(from..to).map(<[T]>::to_vec).unwrap_or_default()
}

/// The search keys of a command's remaining arguments, as one key (all of
/// them); `Err` names what is malformed.
pub(super) fn keys_of(tokens: &[Token]) -> Result<Key, String> {
    let mut it = tokens.iter();
    let mut keys = Vec::new();
    while it.len() > 0 {
        keys.push(one(&mut it, 0)?);
    }
    if keys.is_empty() {
        return Err("a search key is needed".into());
    }
    Ok(Key::And(keys))
}

/// Both of two ascending, duplicate-free UID lists, merged in one pass.
fn union(a: &[u32], b: &[u32]) -> Vec<u32> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => {
                out.push(a[i]);
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                out.push(b[j]);
                j += 1;
            }
            std::cmp::Ordering::Equal => {
                out.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out.extend_from_slice(&a[i..]);
    out.extend_from_slice(&b[j..]);
    out
}

/// What two ascending UID lists share (`keep`) or what of `a` is not in `b`
/// (`!keep`), in one pass: linear, where a binary search per UID of a
/// million-message mailbox cost tens of milliseconds.
fn merge_filter(a: &[u32], b: &[u32], keep: bool) -> Vec<u32> {
    let mut out = Vec::with_capacity(if keep { a.len().min(b.len()) } else { a.len() });
    let mut j = 0;
    for &x in a {
        while j < b.len() && b[j] < x {
            j += 1;
        }
        if (j < b.len() && b[j] == x) == keep {
            out.push(x);
        }
    }
    out
}

fn intersect(a: &[u32], b: &[u32]) -> Vec<u32> {
    merge_filter(a, b, true)
}

/// The UIDs of `mailbox` (ascending) that `key` matches.
pub(super) fn eval(
    imap: &Imap,
    scope: &Scope,
    mailbox: &[u32],
    key: &Key,
) -> Result<Vec<u32>, ImapError> {
    Ok(match key {
        Key::All => mailbox.to_vec(),
        Key::Nothing | Key::Saved => Vec::new(),
        Key::Seq(set) => positions(set, mailbox, false)
            .into_iter()
            .map(|p| mailbox[p])
            .collect(),
        Key::Uid(set) => positions(set, mailbox, true)
            .into_iter()
            .map(|p| mailbox[p])
            .collect(),
        Key::And(keys) => {
            let mut acc = mailbox.to_vec();
            // Header reads last, over what the indexed keys left.
            let (read, indexed): (Vec<&Key>, Vec<&Key>) =
                keys.iter().partition(|k| matches!(k, Key::Header { .. }));
            for k in indexed {
                if acc.is_empty() {
                    break;
                }
                acc = intersect(&acc, &eval(imap, scope, mailbox, k)?);
            }
            for k in read {
                if acc.is_empty() {
                    break;
                }
                acc = eval(imap, scope, &acc, k)?;
            }
            acc
        }
        Key::Header { name, needle } => headers_matching(imap, scope, mailbox, name, needle)?,
        Key::Or(a, b) => union(
            &eval(imap, scope, mailbox, a)?,
            &eval(imap, scope, mailbox, b)?,
        ),
        Key::Not(k) => merge_filter(mailbox, &eval(imap, scope, mailbox, k)?, false),
        Key::Filter(f) => intersect(&imap.uids.select(&imap.index, scope, f)?, mailbox),
    })
}

/// The UIDs among `candidates` whose header has field `name` with the
/// folded `needle` in its (unfolded, folded) value: each message is read
/// through the store, at most [`MAX_HEADER_SCAN`] of them.
fn headers_matching(
    imap: &Imap,
    scope: &Scope,
    candidates: &[u32],
    name: &str,
    needle: &str,
) -> Result<Vec<u32>, ImapError> {
    if candidates.len() > MAX_HEADER_SCAN {
        return Err(ImapError::Refused(format!(
            "[LIMIT] HEADER {name} reads each message: {} is more than {MAX_HEADER_SCAN}; narrow the search with other keys",
            candidates.len()
        )));
    }
    let mut reader = crate::store::LocationReader::default();
    let allowed = scope.allowed.as_deref();
    let mut out = Vec::new();
    for &uid in candidates {
        let Some((_, Some(bytes))) = load(imap, uid, allowed, None, &mut reader, true)? else {
            continue;
        };
        let end = memchr::memmem::find(&bytes, b"\r\n\r\n").map_or(bytes.len(), |p| p + 2);
        let found = fields(&bytes[..end]).iter().any(|(n, _, raw)| {
            n.eq_ignore_ascii_case(name) && {
                let value = raw.splitn(2, |b| *b == b':').nth(1).unwrap_or_default();
                let text = String::from_utf8_lossy(value).replace(['\r', '\n'], "");
                crate::index::imap::fold(text.trim()).contains(needle)
            }
        });
        if found {
            out.push(uid);
        }
    }
    Ok(out)
}

/// Is `charset` one the search keys may be written in (RFC 3501: the server
/// names those it supports)?
pub(super) fn supported_charset(charset: &str) -> bool {
    charset.eq_ignore_ascii_case("UTF-8") || charset.eq_ignore_ascii_case("US-ASCII")
}

/// The tagged answer refusing a charset [`supported_charset`] does not take.
pub(super) fn bad_charset(tag: &str) -> String {
    format!("{tag} NO [BADCHARSET (UTF-8 US-ASCII)] unsupported charset")
}

/// SORT's and THREAD's charset argument checked: the refusal when it is not
/// one [`supported_charset`] takes.
pub(super) fn charset_refusal(tag: &str, charset: Option<&Token>) -> Option<String> {
    let charset = charset.and_then(Token::as_astring).unwrap_or_default();
    (!supported_charset(&charset)).then(|| bad_charset(tag))
}

/// What SEARCH, SORT and THREAD evaluate: the keys, and the selected
/// mailbox's scope and UIDs (copied for the blocking pool).
pub(super) struct Criteria {
    pub(super) imap: Imap,
    pub(super) key: Key,
    pub(super) scope: Scope,
    pub(super) uids: std::sync::Arc<Vec<u32>>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Session<S> {
    /// The search keys of `tokens` in the selected mailbox, or the tagged
    /// answer refusing command `cmd` (bad keys, no mailbox selected).
    pub(super) fn criteria(
        &self,
        tag: &str,
        cmd: &str,
        tokens: &[Token],
    ) -> Result<Criteria, String> {
        let key = keys_of(tokens).map_err(|e| format!("{tag} BAD {cmd}: {e}"))?;
        let Some(sel) = &self.selected else {
            return Err(format!("{tag} BAD no mailbox selected"));
        };
        Ok(Criteria {
            imap: self.imap.clone(),
            key: super::searchres::substitute(key, &sel.saved),
            scope: sel.scope.clone(),
            uids: sel.uids.clone(),
        })
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Session<S> {
    pub(super) async fn search(
        &mut self,
        tag: &str,
        args: &[Token],
        by_uid: bool,
    ) -> Result<String, ImapError> {
        let cmd = if by_uid { "UID SEARCH" } else { "SEARCH" };
        let mut args = args;
        // RETURN (...): ESEARCH.
        let mut esearch: Option<Vec<String>> = None;
        // RETURN (SAVE ...): keep the result as `$` (RFC 5182).
        let mut save = false;
        if args.first().and_then(Token::keyword).as_deref() == Some("RETURN") {
            let Some(Token::List(opts)) = args.get(1) else {
                return Ok(format!("{tag} BAD RETURN needs a list"));
            };
            // Options, `PARTIAL` with its range kept as "PARTIAL a:b".
            let mut parsed: Vec<String> = Vec::new();
            let mut it = opts.iter();
            while let Some(o) = it.next() {
                match o.keyword().as_deref() {
                    Some(k @ ("MIN" | "MAX" | "COUNT" | "ALL")) => parsed.push(k.to_string()),
                    Some("SAVE") => save = true,
                    Some("PARTIAL") => match it.next().and_then(Token::keyword) {
                        Some(range) if partial_range(&range).is_some() => {
                            parsed.push(format!("PARTIAL {range}"))
                        }
                        _ => return Ok(format!("{tag} BAD PARTIAL needs a range")),
                    },
                    _ => return Ok(format!("{tag} BAD unsupported RETURN option")),
                }
            }
            let opts = parsed;
            esearch = Some(if opts.is_empty() && !save {
                vec!["ALL".into()]
            } else {
                opts
            });
            args = &args[2..];
        }
        if esearch.is_none() && self.rev2 {
            // RFC 9051: after ENABLE IMAP4rev2 every SEARCH answers ESEARCH.
            esearch = Some(vec!["ALL".into()]);
        }
        if args.first().and_then(Token::keyword).as_deref() == Some("CHARSET") {
            let charset = args.get(1).and_then(Token::as_astring).unwrap_or_default();
            if !supported_charset(&charset) {
                return Ok(bad_charset(tag));
            }
            args = args.get(2..).unwrap_or(&[]);
        }
        let Criteria {
            imap,
            key,
            scope,
            uids,
        } = match self.criteria(tag, cmd, args) {
            Ok(c) => c,
            Err(refusal) => {
                // A failed SAVE leaves `$` empty (RFC 5182 §2.1).
                if let (true, Some(sel)) = (save, self.selected.as_mut()) {
                    sel.saved.clear();
                }
                return Ok(refusal);
            }
        };
        let (found, uids) = blocking(move || {
            let found = eval(&imap, &scope, &uids, &key)?;
            Ok((found, uids))
        })
        .await?;
        if save {
            let kept = super::searchres::to_save(&found, esearch.as_deref().unwrap_or(&[]));
            if let Some(sel) = self.selected.as_mut() {
                sel.saved = kept;
            }
        }
        let numbers: Vec<u32> = if by_uid {
            found
        } else {
            found
                .iter()
                .filter_map(|u| uids.binary_search(u).ok())
                .map(|p| u32::try_from(p + 1).unwrap_or(u32::MAX))
                .collect()
        };
        match esearch {
            None => {
                let mut line = String::from("* SEARCH");
                for n in &numbers {
                    line.push(' ');
                    line.push_str(&n.to_string());
                }
                self.line(&line);
            }
            // SAVE alone: no ESEARCH answer at all (RFC 5182 §2.1).
            Some(opts) if opts.is_empty() => {}
            Some(opts) => {
                let mut line = format!("* ESEARCH (TAG {})", quote(tag));
                if by_uid {
                    line.push_str(" UID");
                }
                for o in &opts {
                    match o.as_str() {
                        "MIN" => {
                            if let Some(n) = numbers.first() {
                                line.push_str(&format!(" MIN {n}"))
                            }
                        }
                        "MAX" => {
                            if let Some(n) = numbers.last() {
                                line.push_str(&format!(" MAX {n}"))
                            }
                        }
                        "COUNT" => line.push_str(&format!(" COUNT {}", numbers.len())),
                        p if p.starts_with("PARTIAL ") => {
                            let range = &p["PARTIAL ".len()..];
                            let picked = partial_range(range)
                                .map(|r| pick(&numbers, r))
                                .unwrap_or_default();
                            let set = if picked.is_empty() {
                                "NIL".to_string()
                            } else {
                                compact(&picked)
                            };
                            line.push_str(&format!(" PARTIAL ({range} {set})"));
                        }
                        _ => {
                            if !numbers.is_empty() {
                                line.push_str(&format!(" ALL {}", compact(&numbers)))
                            }
                        }
                    }
                }
                self.line(&line);
            }
        }
        Ok(format!("{tag} OK {cmd} completed"))
    }
}
