//! SORT and UID SORT (RFC 5256): the messages a search matches, ordered by
//! ARRIVAL, DATE, SIZE, SUBJECT (the base subject), FROM, TO or CC (the
//! first address's mailbox), each optionally REVERSE; ties keep mailbox
//! order. Values come from the index, one message at a time (a large
//! result is slow: see docs/IMAP.md).

use std::cmp::Ordering;

use tokio::io::{AsyncRead, AsyncWrite};

use super::parser::Token;
use super::search::{charset_refusal, eval, Criteria};
use super::session::Session;
use super::{blocking, ImapError};
use crate::query::mailbox;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum By {
    Arrival,
    Date,
    Size,
    Subject,
    From,
    To,
    Cc,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Value {
    Int(i64),
    Text(String),
}

/// The base subject (RFC 5256, simplified): lower case, without leading
/// `Re:`/`Fw:`/`Fwd:` and `[list]` tags, nor a trailing `(fwd)`.
pub fn base_subject(s: &str) -> String {
    let mut t = s.trim().to_lowercase();
    loop {
        let before = t.clone();
        for p in ["re:", "fw:", "fwd:"] {
            if let Some(rest) = t.strip_prefix(p) {
                t = rest.trim_start().to_string();
            }
        }
        if t.starts_with('[') {
            if let Some(end) = t.find(']') {
                let rest = t[end + 1..].trim_start();
                if !rest.is_empty() {
                    t = rest.to_string();
                }
            }
        }
        if let Some(rest) = t.strip_suffix("(fwd)") {
            t = rest.trim_end().to_string();
        }
        if t == before {
            return t;
        }
    }
}

/// The mailbox (local part) of the first of `Name <addr>` display forms.
fn first_mailbox(addrs: &[String]) -> String {
    let Some(a) = addrs.first() else {
        return String::new();
    };
    let addr = match (a.rfind('<'), a.rfind('>')) {
        (Some(l), Some(r)) if l < r => &a[l + 1..r],
        _ => a.as_str(),
    };
    addr.split('@').next().unwrap_or("").to_lowercase()
}

fn parse_criteria(t: Option<&Token>) -> Option<Vec<(By, bool)>> {
    let Some(Token::List(items)) = t else {
        return None;
    };
    let mut out = Vec::new();
    let mut reverse = false;
    for i in items {
        let by = match i.keyword()?.as_str() {
            "REVERSE" => {
                reverse = true;
                continue;
            }
            "ARRIVAL" => By::Arrival,
            "DATE" => By::Date,
            "SIZE" => By::Size,
            "SUBJECT" => By::Subject,
            "FROM" => By::From,
            "TO" => By::To,
            "CC" => By::Cc,
            _ => return None,
        };
        out.push((by, reverse));
        reverse = false;
    }
    (!out.is_empty() && !reverse).then_some(out)
}

impl<S: AsyncRead + AsyncWrite + Unpin> Session<S> {
    pub(super) async fn sort(
        &mut self,
        tag: &str,
        args: &[Token],
        by_uid: bool,
    ) -> Result<String, ImapError> {
        let cmd = if by_uid { "UID SORT" } else { "SORT" };
        let Some(criteria) = parse_criteria(args.first()) else {
            return Ok(format!("{tag} BAD {cmd} needs sort criteria"));
        };
        if let Some(refusal) = charset_refusal(tag, args.get(1)) {
            return Ok(refusal);
        }
        let Criteria {
            imap,
            key,
            scope,
            uids,
        } = match self.criteria(tag, cmd, args.get(2..).unwrap_or(&[])) {
            Ok(c) => c,
            Err(refusal) => return Ok(refusal),
        };
        let numbers = blocking(move || {
            let found = eval(&imap, &scope, &uids, &key)?;
            let mut rows: Vec<(Vec<Value>, u32)> = Vec::with_capacity(found.len());
            for uid in found {
                let Some(key) = imap.uids.key_of(uid) else {
                    continue;
                };
                let Some(m) = mailbox::by_key(&imap.index, &key, scope.allowed.as_deref())? else {
                    continue;
                };
                let values = criteria
                    .iter()
                    .map(|(by, _)| match by {
                        By::Arrival => Value::Int(m.arrived),
                        By::Date if m.message.date > 0 => Value::Int(m.message.date),
                        By::Date => Value::Int(m.arrived),
                        By::Size => Value::Int(i64::try_from(m.message.size).unwrap_or(i64::MAX)),
                        By::Subject => Value::Text(base_subject(&m.message.subject)),
                        By::From => Value::Text(first_mailbox(&m.message.from_header)),
                        By::To => Value::Text(first_mailbox(&m.message.to)),
                        By::Cc => Value::Text(first_mailbox(&m.message.cc)),
                    })
                    .collect();
                rows.push((values, uid));
            }
            rows.sort_by(|(a, ua), (b, ub)| {
                for (i, (_, reverse)) in criteria.iter().enumerate() {
                    let o = a[i].cmp(&b[i]);
                    let o = if *reverse { o.reverse() } else { o };
                    if o != Ordering::Equal {
                        return o;
                    }
                }
                ua.cmp(ub)
            });
            let numbers: Vec<u32> = if by_uid {
                rows.into_iter().map(|(_, u)| u).collect()
            } else {
                rows.into_iter()
                    .filter_map(|(_, u)| uids.binary_search(&u).ok())
                    .map(|p| u32::try_from(p + 1).unwrap_or(u32::MAX))
                    .collect()
            };
            Ok(numbers)
        })
        .await?;
        let mut line = String::from("* SORT");
        for n in numbers {
            line.push(' ');
            line.push_str(&n.to_string());
        }
        self.line(&line);
        Ok(format!("{tag} OK {cmd} completed"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_subjects_and_mailboxes() {
        assert_eq!(base_subject("Re: [dev] Fwd: Disk full (fwd)"), "disk full");
        assert_eq!(base_subject("[dev]"), "[dev]");
        assert_eq!(
            first_mailbox(&["Ann <Ann.Lee@example.org>".into()]),
            "ann.lee"
        );
        assert_eq!(
            parse_criteria(Some(&Token::List(vec![
                Token::Atom("REVERSE".into()),
                Token::Atom("date".into())
            ]))),
            Some(vec![(By::Date, true)])
        );
        assert!(parse_criteria(Some(&Token::List(vec![Token::Atom("REVERSE".into())]))).is_none());
    }
}

/// One message of a THREAD answer: its number and its parent's Message-ID.
struct Node {
    number: u32,
    id: String,
    parent: String,
    date: i64,
}

/// Writes `node` and its replies the RFC 5256 way: a single reply follows
/// on, several each go in parentheses.
fn write_tree(out: &mut String, i: usize, nodes: &[Node], children: &[Vec<usize>], depth: usize) {
    out.push_str(&nodes[i].number.to_string());
    let kids = &children[i];
    if depth > 500 {
        return;
    }
    match kids.len() {
        0 => {}
        1 => {
            out.push(' ');
            write_tree(out, kids[0], nodes, children, depth + 1);
        }
        _ => {
            out.push(' ');
            for &k in kids {
                out.push('(');
                write_tree(out, k, nodes, children, depth + 1);
                out.push(')');
            }
        }
    }
}

/// The THREAD answer for messages grouped by conversation: each group a
/// tree by In-Reply-To (a message whose parent is not in the group is a
/// root; several roots hang under an empty parent), groups and siblings
/// in date order.
fn threads(mut groups: Vec<Vec<Node>>) -> String {
    for g in &mut groups {
        g.sort_by_key(|n| (n.date, n.number));
    }
    groups.sort_by_key(|g| g.first().map(|n| (n.date, n.number)));
    let mut out = String::new();
    for nodes in groups {
        let mut children: Vec<Vec<usize>> = vec![Vec::new(); nodes.len()];
        let mut roots = Vec::new();
        for (i, n) in nodes.iter().enumerate() {
            let parent = nodes
                .iter()
                .position(|p| !n.parent.is_empty() && p.id.eq_ignore_ascii_case(&n.parent));
            match parent {
                Some(p) if p != i => children[p].push(i),
                _ => roots.push(i),
            }
        }
        // Messages in a cycle of In-Reply-To (each the other's parent) are
        // reached from no root: the first of each becomes one.
        let mut seen = vec![false; nodes.len()];
        let mut stack: Vec<usize> = roots.clone();
        loop {
            while let Some(i) = stack.pop() {
                if !std::mem::replace(&mut seen[i], true) {
                    stack.extend(children[i].iter().copied());
                }
            }
            let Some(lost) = seen.iter().position(|s| !s) else {
                break;
            };
            for c in &mut children {
                c.retain(|&k| k != lost);
            }
            roots.push(lost);
            stack.push(lost);
        }
        out.push('(');
        if roots.len() == 1 {
            write_tree(&mut out, roots[0], &nodes, &children, 0);
        } else {
            for r in roots {
                out.push('(');
                write_tree(&mut out, r, &nodes, &children, 0);
                out.push(')');
            }
        }
        out.push(')');
    }
    out
}

impl<S: AsyncRead + AsyncWrite + Unpin> Session<S> {
    /// THREAD=REFERENCES and UID THREAD: conversations as gleaner decided
    /// them at index time, each a reply tree.
    pub(super) async fn thread(
        &mut self,
        tag: &str,
        args: &[Token],
        by_uid: bool,
    ) -> Result<String, ImapError> {
        let cmd = if by_uid { "UID THREAD" } else { "THREAD" };
        if args.first().and_then(Token::keyword).as_deref() != Some("REFERENCES") {
            return Ok(format!("{tag} BAD {cmd} supports REFERENCES"));
        }
        if let Some(refusal) = charset_refusal(tag, args.get(1)) {
            return Ok(refusal);
        }
        let Criteria {
            imap,
            key,
            scope,
            uids,
        } = match self.criteria(tag, cmd, args.get(2..).unwrap_or(&[])) {
            Ok(c) => c,
            Err(refusal) => return Ok(refusal),
        };
        let answer = blocking(move || {
            let found = eval(&imap, &scope, &uids, &key)?;
            let mut groups: std::collections::HashMap<String, Vec<Node>> = Default::default();
            for uid in found {
                let Some(key) = imap.uids.key_of(uid) else {
                    continue;
                };
                let Some(m) = mailbox::by_key(&imap.index, &key, scope.allowed.as_deref())? else {
                    continue;
                };
                let number = if by_uid {
                    uid
                } else {
                    match uids.binary_search(&uid) {
                        Ok(p) => u32::try_from(p + 1).unwrap_or(u32::MAX),
                        Err(_) => continue,
                    }
                };
                let thread = if m.message.thread_id.is_empty() {
                    m.message.key.clone()
                } else {
                    m.message.thread_id.clone()
                };
                groups.entry(thread).or_default().push(Node {
                    number,
                    id: m.message.message_id.clone(),
                    parent: m.message.in_reply_to.clone(),
                    date: if m.message.date > 0 {
                        m.message.date
                    } else {
                        m.arrived
                    },
                });
            }
            Ok(threads(groups.into_values().collect()))
        })
        .await?;
        let line = format!("* THREAD {answer}");
        self.line(line.trim_end());
        Ok(format!("{tag} OK {cmd} completed"))
    }
}

#[cfg(test)]
mod thread_tests {
    use super::*;

    fn node(number: u32, id: &str, parent: &str, date: i64) -> Node {
        Node {
            number,
            id: id.into(),
            parent: parent.into(),
            date,
        }
    }

    #[test]
    fn reply_trees() {
        let t = threads(vec![
            vec![
                node(1, "<a>", "", 1),
                node(2, "<b>", "<a>", 2),
                node(3, "<c>", "<a>", 3),
                node(5, "<e>", "<c>", 5),
            ],
            vec![node(4, "<d>", "", 4)],
            vec![node(6, "<f>", "<x>", 6), node(7, "<g>", "<y>", 7)],
        ]);
        assert_eq!(t, "(1 (2)(3 5))(4)((6)(7))");
        // A cycle still answers.
        assert_eq!(
            threads(vec![vec![
                node(1, "<a>", "<b>", 1),
                node(2, "<b>", "<a>", 2)
            ]]),
            "(1 2)"
        );
    }
}
