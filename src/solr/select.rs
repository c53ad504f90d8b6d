//! `GET <core>/select`: Dovecot's searches, answered in the XML form its
//! `solr-response.c` parses.
//!
//! Parameters (form-encoded, `+` is a space, hex of either case): `q`, `fq`
//! (repeatable), `rows` (Solr's default 10 when absent), `start`, `sort`
//! (`uid asc|desc`, `box asc|desc`, comma-separated), `fl` (`uid`, `score`,
//! `box`, `user`, `id` is ignored) and `wt` (always answered as XML: the
//! plugin parses nothing else). The parameter decoding and the XML writer are
//! pure.

use std::fmt::Write as _;
use std::time::Instant;

use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;

use super::{xml_response, SolrError, SolrState};
use crate::query::imap::{self as search, ImapResults, Select, SortKey};

/// Decodes an `application/x-www-form-urlencoded` query string into pairs.
pub fn parse_form(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (form_decode(k), form_decode(v))
        })
        .collect()
}

fn form_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// What to put in each `<doc>`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FieldList {
    /// `uid`
    pub uid: bool,
    /// `score`
    pub score: bool,
    /// `box`
    pub mailbox: bool,
    /// `user`
    pub user: bool,
}

/// A decoded request: the search plus what to print.
#[derive(Clone, Debug)]
pub struct SelectParams {
    /// The search.
    pub select: Select,
    /// Hits skipped at the start (`start`).
    pub start: usize,
    /// Fields per doc.
    pub fl: FieldList,
}

/// Turns decoded parameters into a search.
pub fn params(pairs: &[(String, String)]) -> Result<SelectParams, SolrError> {
    let mut select = Select::default();
    let mut q = None;
    let mut start = 0usize;
    let mut rows = 10usize;
    let mut fl = FieldList {
        uid: true,
        score: false,
        mailbox: false,
        user: false,
    };
    for (k, v) in pairs {
        match k.as_str() {
            "q" => q = Some(v.clone()),
            "fq" => select.fq.push(v.clone()),
            "rows" => {
                rows = v
                    .trim()
                    .parse()
                    .map_err(|_| SolrError::BadRequest(format!("bad rows {v:?}")))?
            }
            "start" => {
                start = v
                    .trim()
                    .parse()
                    .map_err(|_| SolrError::BadRequest(format!("bad start {v:?}")))?
            }
            "sort" => select.sort = parse_sort(v)?,
            "fl" => {
                fl = FieldList::default();
                for name in v.split([',', ' ']).filter(|s| !s.is_empty()) {
                    match name {
                        "uid" => fl.uid = true,
                        "score" => fl.score = true,
                        "box" => fl.mailbox = true,
                        "user" => fl.user = true,
                        "*" => {
                            fl.uid = true;
                            fl.mailbox = true;
                            fl.user = true;
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    select.q = q.ok_or_else(|| SolrError::BadRequest("missing q".into()))?;
    select.rows = Some(start.saturating_add(rows));
    select.with_stored =
        fl.mailbox || fl.user || select.sort.iter().any(|(k, _)| *k == SortKey::Mailbox);
    Ok(SelectParams { select, start, fl })
}

fn parse_sort(v: &str) -> Result<Vec<(SortKey, bool)>, SolrError> {
    let mut out = Vec::new();
    for part in v.split(',') {
        let mut words = part.split_whitespace();
        let key = match words.next() {
            Some("uid") => SortKey::Uid,
            Some("box") => SortKey::Mailbox,
            None => continue,
            Some(other) => return Err(SolrError::BadRequest(format!("cannot sort by {other:?}"))),
        };
        let asc = match words.next() {
            Some("asc") | None => true,
            Some("desc") => false,
            Some(other) => return Err(SolrError::BadRequest(format!("bad sort order {other:?}"))),
        };
        out.push((key, asc));
    }
    Ok(out)
}

/// Escapes text for XML content and attribute values.
pub fn escape_xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// Renders the answer the way Solr does (`wt=xml`).
pub fn render(results: &ImapResults, start: usize, fl: FieldList, qtime_ms: u128) -> String {
    let mut out = String::with_capacity(128 + results.hits.len() * 64);
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<response>\n");
    out.push_str(&format!(
        "<lst name=\"responseHeader\"><int name=\"status\">0</int><int name=\"QTime\">{qtime_ms}</int></lst>\n"
    ));
    out.push_str(&format!(
        "<result name=\"response\" numFound=\"{}\" start=\"{start}\"",
        results.num_found
    ));
    if fl.score {
        let max = results.hits.iter().map(|h| h.score).fold(0.0f32, f32::max);
        out.push_str(&format!(" maxScore=\"{max:?}\""));
    }
    out.push('>');
    for hit in results.hits.iter().skip(start) {
        out.push_str("<doc>");
        if fl.uid {
            // `write!` to a String cannot fail.
            let _ = write!(out, "<long name=\"uid\">{}</long>", hit.uid);
        }
        // An IMAP answer is a set: every score is 1.0, and Dovecot reads a missing
        // score as "no score" (it only uses scores for RELEVANCY). Leaving the
        // constant out makes a 25k-hit answer 40% smaller for Dovecot to parse.
        if fl.score && hit.score != 1.0 {
            let _ = write!(out, "<float name=\"score\">{:?}</float>", hit.score);
        }
        if fl.mailbox {
            if let Some(b) = &hit.mailbox {
                let _ = write!(out, "<str name=\"box\">{}</str>", escape_xml(b));
            }
        }
        if fl.user {
            if let Some(u) = &hit.user {
                let _ = write!(out, "<str name=\"user\">{}</str>", escape_xml(u));
            }
        }
        out.push_str("</doc>");
    }
    out.push_str("</result>\n</response>\n");
    out
}

/// `GET /solr/{core}/select`.
pub async fn handle(
    State(state): State<SolrState>,
    Path(core): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, SolrError> {
    state.check(&core, &headers)?;
    let started = Instant::now();
    let p = params(&parse_form(query.as_deref().unwrap_or("")))?;
    let ix = state.index.clone();
    let select = p.select.clone();
    let results = tokio::task::spawn_blocking(move || search::select(&ix, &select))
        .await
        .map_err(|e| SolrError::Internal(e.to_string()))??;
    Ok(xml_response(render(
        &results,
        p.start,
        p.fl,
        started.elapsed().as_millis(),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::imap::ImapHit;

    #[test]
    fn decodes_dovecot_query_strings() {
        let qs = "wt=xml&fl=uid,score&rows=5&sort=uid+asc&q=%7b!lucene+q.op%3dAND%7dbody:a%5c%2bb%5c:c&fq=%2Bbox:de82+%2Buser:testuser";
        let pairs = parse_form(qs);
        assert_eq!(
            pairs[4],
            ("q".into(), "{!lucene q.op=AND}body:a\\+b\\:c".into())
        );
        assert_eq!(pairs[5], ("fq".into(), "+box:de82 +user:testuser".into()));
        let p = params(&pairs).expect("valid");
        assert_eq!(p.select.rows, Some(5));
        assert_eq!(p.select.sort, vec![(SortKey::Uid, true)]);
        assert!(p.fl.uid && p.fl.score && !p.fl.mailbox);
        assert_eq!(form_decode("M%c3%bcnchen%2B%"), "München+%");
        assert!(params(&parse_form("q=x&sort=score+desc")).is_err());
        assert!(params(&parse_form("q=x&rows=-1")).is_err());
    }

    #[test]
    fn renders_solr_xml() {
        let r = ImapResults {
            num_found: 2,
            hits: vec![
                ImapHit {
                    uid: 1,
                    mailbox: Some("g<1".into()),
                    user: None,
                    score: 1.0,
                },
                ImapHit {
                    uid: 4,
                    mailbox: Some("g2".into()),
                    user: None,
                    score: 1.0,
                },
            ],
        };
        let fl = FieldList {
            uid: true,
            score: true,
            mailbox: true,
            user: false,
        };
        let xml = render(&r, 0, fl, 1);
        assert!(xml.contains("<result name=\"response\" numFound=\"2\" start=\"0\" maxScore=\"1.0\"><doc><long name=\"uid\">1</long><str name=\"box\">g&lt;1</str></doc>"));
        // A score other than the constant 1.0 is sent.
        let mut scored = r.clone();
        scored.hits[0].score = 2.5;
        assert!(render(&scored, 0, fl, 1)
            .contains("<doc><long name=\"uid\">1</long><float name=\"score\">2.5</float>"));
        let xml = render(
            &ImapResults::default(),
            0,
            FieldList {
                uid: true,
                ..Default::default()
            },
            0,
        );
        assert!(xml.ends_with(
            "<result name=\"response\" numFound=\"0\" start=\"0\"></result>\n</response>\n"
        ));
    }
}
