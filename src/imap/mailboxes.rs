//! Which mailboxes a user has and what they hold, and the commands on them:
//! LIST/LSUB (with `RETURN (STATUS ...)`), STATUS, SELECT/EXAMINE (always
//! read-only), and the refresh behind NOOP and IDLE (EXPUNGE for messages
//! gone, EXISTS for new ones).
//!
//! Mailboxes: `INBOX` (every list the user may read), one per readable list
//! named by its List-Id, the configured saved searches, the user's own
//! saved searches from the web UI (`Saved/<name>`, theirs only), and each
//! published document's citations. Grants hold in
//! every one: the scope of each carries the user's allowed lists, applied by
//! the query layer to every count, search and fetch.

use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite};

use super::parser::Token;
use super::session::{Selected, Session};
use super::{blocking, Imap, ImapError};
use crate::access::UserInfo;
use crate::query::mailbox::Scope;

/// The level under which a user's own saved searches (web UI) are listed.
pub const SAVED: &str = "Saved";

/// A mailbox a user may open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    /// Its name.
    pub name: String,
    /// Only this list (`None`: every readable list).
    pub list: Option<String>,
    /// Only messages this gleaner query matches.
    pub query: Option<String>,
}

/// The mailboxes `user` has, INBOX first.
pub fn mailboxes(imap: &Imap, user: &UserInfo) -> Result<Vec<Mailbox>, ImapError> {
    let allowed = user.allowed_lists();
    let mut out = vec![Mailbox {
        name: "INBOX".into(),
        list: None,
        query: None,
    }];
    for list in crate::query::lists::indexed_lists(&imap.index)? {
        if crate::query::visible::is_visible(&list, allowed.as_deref())
            && !list.eq_ignore_ascii_case("inbox")
        {
            out.push(Mailbox {
                name: list.clone(),
                list: Some(list),
                query: None,
            });
        }
    }
    for f in imap.folders.iter() {
        if !out.iter().any(|m| m.name.eq_ignore_ascii_case(&f.name)) {
            out.push(Mailbox {
                name: f.name.clone(),
                list: None,
                query: Some(f.query.clone()),
            });
        }
    }
    // The user's own saved searches from the web UI (theirs only).
    for saved in imap.users.saved_searches(&user.name)? {
        let name = format!("{SAVED}/{}", saved.name);
        if !out.iter().any(|m| m.name.eq_ignore_ascii_case(&name)) {
            out.push(Mailbox {
                name,
                list: None,
                query: Some(saved.query),
            });
        }
    }
    // Each published document's cited messages (those the user may read).
    if let Some(curation) = &imap.curation {
        let docs = curation
            .documents()
            .map_err(|e| ImapError::Db(e.to_string()))?;
        for d in docs {
            if d.status == crate::curate::DocStatus::Published {
                out.push(Mailbox {
                    name: format!("Documents/{}/{}", d.kind.as_str(), d.slug),
                    list: None,
                    query: Some(format!("cited:{}", d.slug)),
                });
            }
        }
    }
    Ok(out)
}

/// The scope of `mailbox` for `user`.
pub fn scope(imap: &Imap, user: &UserInfo, mailbox: &Mailbox) -> Scope {
    Scope {
        lists: mailbox.list.clone().map(|l| vec![l]),
        query: mailbox.query.clone(),
        allowed: user.allowed_lists(),
        marks: crate::marks::for_role(imap.curation.as_ref(), imap.retention.as_ref(), user.role),
        now: crate::db::now(),
    }
}

/// The UIDs of `scope`'s messages, ascending (UIDs brought up to date
/// first), shared between connections ([`super::Uids::mailbox`]).
pub fn uids(imap: &Imap, scope: &Scope) -> Result<Arc<Vec<u32>>, ImapError> {
    imap.uids.sync(&imap.index)?;
    imap.uids.mailbox(&imap.index, scope)
}

/// One LIST line: a mailbox, or a level of the hierarchy above some
/// (`Saved` above `Saved/Outages`), which cannot be selected.
struct Entry {
    name: String,
    mailbox: Option<Mailbox>,
    children: bool,
}

/// The mailboxes with the levels above them, in order.
fn hierarchy(all: &[Mailbox]) -> Vec<Entry> {
    let mut out: Vec<Entry> = Vec::new();
    for m in all {
        let mut prefix = String::new();
        for level in m
            .name
            .split('/')
            .collect::<Vec<_>>()
            .split_last()
            .map_or(&[][..], |(_, up)| up)
        {
            if !prefix.is_empty() {
                prefix.push('/');
            }
            prefix.push_str(level);
            if !out.iter().any(|e| e.name == prefix) && !all.iter().any(|a| a.name == prefix) {
                out.push(Entry {
                    name: prefix.clone(),
                    mailbox: None,
                    children: true,
                });
            }
        }
        let children = all
            .iter()
            .any(|a| a.name.starts_with(&format!("{}/", m.name)));
        out.push(Entry {
            name: m.name.clone(),
            mailbox: Some(m.clone()),
            children,
        });
    }
    out
}

fn find(all: &[Mailbox], name: &str) -> Option<Mailbox> {
    all.iter()
        .find(|m| {
            if m.name == "INBOX" {
                name.eq_ignore_ascii_case("INBOX")
            } else {
                m.name == name || m.name.eq_ignore_ascii_case(name)
            }
        })
        .cloned()
}

/// Does `name` match LIST pattern `pat` (`*` anything, `%` anything but `/`)?
fn matches(pat: &[u8], name: &[u8]) -> bool {
    match pat.split_first() {
        None => name.is_empty(),
        Some((b'*', rest)) => (0..=name.len()).any(|i| matches(rest, &name[i..])),
        Some((b'%', rest)) => (0..=name.len())
            .take_while(|&i| i == 0 || name[i - 1] != b'/')
            .any(|i| matches(rest, &name[i..])),
        Some((c, rest)) => name
            .split_first()
            .is_some_and(|(n, nrest)| n.eq_ignore_ascii_case(c) && matches(rest, nrest)),
    }
}

/// What a STATUS answer is made of.
struct Counts {
    messages: usize,
    /// Sum of the messages' RFC822.SIZE (only when SIZE is asked for).
    size: u64,
}

/// STATUS items asked for, answered (`rev2`: RFC 9051's items, no RECENT).
fn status_items(items: &[String], counts: &Counts, imap: &Imap, rev2: bool) -> String {
    let parts: Vec<String> = items
        .iter()
        .filter_map(|i| {
            let v = match i.as_str() {
                "MESSAGES" => counts.messages as u64,
                // Nothing is ever \Seen or \Recent in a read-only archive.
                "UNSEEN" => counts.messages as u64,
                "RECENT" if rev2 => return None,
                "RECENT" | "DELETED" => 0,
                "SIZE" => counts.size,
                "UIDNEXT" => u64::from(imap.uids.next()),
                "UIDVALIDITY" => u64::from(imap.uids.uidvalidity),
                _ => return None,
            };
            Some(format!("{i} {v}"))
        })
        .collect();
    parts.join(" ")
}

/// LIST's selection options (before the reference), and its return
/// options (after `RETURN`): what the answer adds.
#[derive(Default)]
struct ListOptions {
    /// `\Subscribed` on every mailbox (SUBSCRIBED asked for either way; all are).
    subscribed: bool,
    /// `RETURN (STATUS (...))`.
    status: Option<Vec<String>>,
}

/// Reads LIST-EXTENDED options; `Err`: the option that is not known.
fn list_options(selection: Option<&Token>, ret: Option<&Token>) -> Result<ListOptions, String> {
    let mut o = ListOptions::default();
    if let Some(Token::List(sel)) = selection {
        for t in sel {
            match t.keyword().as_deref() {
                Some("SUBSCRIBED") => o.subscribed = true,
                Some("REMOTE" | "RECURSIVEMATCH" | "SPECIAL-USE") => {}
                other => return Err(format!("unknown selection option {other:?}")),
            }
        }
    }
    if let Some(Token::List(opts)) = ret {
        let mut it = opts.iter();
        while let Some(t) = it.next() {
            match t.keyword().as_deref() {
                Some("SUBSCRIBED") => o.subscribed = true,
                Some("CHILDREN" | "SPECIAL-USE") => {}
                Some("STATUS") => match it.next() {
                    Some(Token::List(items)) => {
                        o.status = Some(items.iter().filter_map(Token::keyword).collect())
                    }
                    _ => return Err("STATUS needs a list of items".into()),
                },
                other => return Err(format!("unknown return option {other:?}")),
            }
        }
    }
    Ok(o)
}

fn mailbox_arg(t: Option<&Token>) -> Option<String> {
    t.and_then(Token::as_astring)
}

impl<S: AsyncRead + AsyncWrite + Unpin> Session<S> {
    fn me(&self) -> Result<UserInfo, ImapError> {
        self.user
            .clone()
            .ok_or_else(|| ImapError::Task("no user".into()))
    }

    async fn all_mailboxes(&self) -> Result<Vec<Mailbox>, ImapError> {
        let (imap, user) = (self.imap.clone(), self.me()?);
        blocking(move || mailboxes(&imap, &user)).await
    }

    pub(super) async fn list(
        &mut self,
        tag: &str,
        cmd: &str,
        args: &[Token],
    ) -> Result<String, ImapError> {
        // LIST [(selection options)] reference pattern(s) [RETURN (options)]
        let mut args = args;
        let mut selection = None;
        if let Some(t @ Token::List(_)) = args.first() {
            selection = Some(t);
            args = &args[1..];
        }
        let (Some(reference), Some(patterns)) = (mailbox_arg(args.first()), args.get(1)) else {
            return Ok(format!("{tag} BAD {cmd} needs a reference and a pattern"));
        };
        let patterns: Vec<String> = match patterns {
            Token::List(items) => items.iter().filter_map(Token::as_astring).collect(),
            t => t.as_astring().into_iter().collect(),
        };
        let ret = match args.get(2).and_then(Token::keyword).as_deref() {
            Some("RETURN") => args.get(3),
            _ => None,
        };
        let options = match list_options(selection, ret) {
            Ok(o) => o,
            Err(e) => return Ok(format!("{tag} BAD {cmd}: {e}")),
        };
        let resp = if cmd == "LSUB" { "LSUB" } else { "LIST" };
        if patterns.len() == 1 && patterns[0].is_empty() {
            self.line(&format!("* {resp} (\\Noselect) \"/\" \"\""));
            return Ok(format!("{tag} OK {cmd} completed"));
        }
        let all = self.all_mailboxes().await?;
        for entry in hierarchy(&all) {
            let hit = patterns.iter().any(|p| {
                let pat = format!("{reference}{p}");
                matches(pat.as_bytes(), entry.name.as_bytes())
            });
            if !hit {
                continue;
            }
            let mut attrs = vec![if entry.children {
                "\\HasChildren"
            } else {
                "\\HasNoChildren"
            }];
            match (&entry.mailbox, self.rev2) {
                // A level above some mailboxes is not one itself.
                (None, true) => attrs.insert(0, "\\NonExistent"),
                (None, false) => attrs.insert(0, "\\Noselect"),
                (Some(_), _) if options.subscribed => attrs.push("\\Subscribed"),
                (Some(_), _) => {}
            }
            self.line(&format!(
                "* {resp} ({}) \"/\" {}",
                attrs.join(" "),
                self.quote_name(&entry.name)
            ));
            if let (Some(items), Some(m)) = (&options.status, &entry.mailbox) {
                let line = self.status_line(m, items).await?;
                self.line(&line);
            }
        }
        Ok(format!("{tag} OK {cmd} completed"))
    }

    async fn status_line(&self, m: &Mailbox, items: &[String]) -> Result<String, ImapError> {
        let (imap, user, m2) = (self.imap.clone(), self.me()?, m.clone());
        let want_size = items.iter().any(|i| i == "SIZE");
        let counts = blocking(move || {
            let sc = scope(&imap, &user, &m2);
            let arr = uids(&imap, &sc)?;
            let messages = arr.len();
            let size = if want_size {
                super::sizes::total(&imap, &arr, sc.allowed.as_deref(), m2.list.as_deref())?
            } else {
                0
            };
            Ok(Counts { messages, size })
        })
        .await?;
        Ok(format!(
            "* STATUS {} ({})",
            self.quote_name(&m.name),
            status_items(items, &counts, &self.imap, self.rev2)
        ))
    }

    pub(super) async fn status(&mut self, tag: &str, args: &[Token]) -> Result<String, ImapError> {
        let (Some(name), Some(Token::List(items))) = (mailbox_arg(args.first()), args.get(1))
        else {
            return Ok(format!(
                "{tag} BAD STATUS needs a mailbox and a list of items"
            ));
        };
        let items: Vec<String> = items.iter().filter_map(Token::keyword).collect();
        let all = self.all_mailboxes().await?;
        let Some(m) = find(&all, &name) else {
            return Ok(format!("{tag} NO [NONEXISTENT] no such mailbox"));
        };
        let line = self.status_line(&m, &items).await?;
        self.line(&line);
        Ok(format!("{tag} OK STATUS completed"))
    }

    pub(super) async fn select(
        &mut self,
        tag: &str,
        cmd: &str,
        args: &[Token],
    ) -> Result<String, ImapError> {
        if self.selected.take().is_some() && self.rev2 {
            self.line("* OK [CLOSED] the previous mailbox is closed");
        }
        let Some(name) = mailbox_arg(args.first()) else {
            return Ok(format!("{tag} BAD {cmd} needs a mailbox"));
        };
        let all = self.all_mailboxes().await?;
        let Some(m) = find(&all, &name) else {
            return Ok(format!("{tag} NO [NONEXISTENT] no such mailbox"));
        };
        let sc = scope(&self.imap, &self.me()?, &m);
        let (imap, sc2) = (self.imap.clone(), sc.clone());
        let list = blocking(move || uids(&imap, &sc2)).await?;
        self.line("* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)");
        self.line("* OK [PERMANENTFLAGS ()] the archive is read-only");
        self.line(&format!("* {} EXISTS", list.len()));
        if self.rev2 {
            let children = all
                .iter()
                .any(|a| a.name.starts_with(&format!("{}/", m.name)));
            let attr = if children {
                "\\HasChildren"
            } else {
                "\\HasNoChildren"
            };
            self.line(&format!(
                "* LIST ({attr}) \"/\" {}",
                self.quote_name(&m.name)
            ));
        } else {
            self.line("* 0 RECENT");
        }
        self.line(&format!(
            "* OK [UIDVALIDITY {}] UIDs valid",
            self.imap.uids.uidvalidity
        ));
        self.line(&format!(
            "* OK [UIDNEXT {}] predicted next UID",
            self.imap.uids.next()
        ));
        self.selected = Some(Selected {
            name: m.name.clone(),
            scope: sc,
            list: m.list.clone(),
            uids: list,
            saved: Vec::new(),
        });
        Ok(format!("{tag} OK [READ-ONLY] {cmd} completed"))
    }

    /// Brings the selected mailbox up to date with the index: `EXPUNGE` for
    /// messages no longer there (highest first), `EXISTS` when the count changed.
    pub(super) async fn refresh(&mut self) -> Result<(), ImapError> {
        let Some(sel) = &self.selected else {
            return Ok(());
        };
        let imap = self.imap.clone();
        let sc = sel.scope.clone();
        let fresh = blocking(move || uids(&imap, &sc)).await?;
        let Some(sel) = &mut self.selected else {
            return Ok(());
        };
        if Arc::ptr_eq(&fresh, &sel.uids) || fresh == sel.uids {
            sel.uids = fresh;
            return Ok(());
        }
        let mut gone: Vec<usize> = Vec::new();
        for (i, uid) in sel.uids.iter().enumerate() {
            if fresh.binary_search(uid).is_err() {
                gone.push(i + 1);
            }
        }
        let old_len = sel.uids.len();
        let mut lines = Vec::new();
        for seq in gone.iter().rev() {
            lines.push(format!("* {seq} EXPUNGE"));
        }
        let kept = old_len - gone.len();
        sel.uids = fresh;
        if sel.uids.len() != kept || !gone.is_empty() {
            lines.push(format!("* {} EXISTS", sel.uids.len()));
        }
        for l in lines {
            self.line(&l);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn list_patterns() {
        assert!(matches(b"*", b"Documents/howto/x"));
        assert!(matches(b"%", b"dev.lists.example.org"));
        assert!(!matches(b"%", b"Documents/howto"));
        assert!(matches(b"Documents/%", b"Documents/howto"));
        assert!(matches(b"inbox", b"INBOX"));
    }
}
