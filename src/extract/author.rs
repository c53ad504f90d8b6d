//! Who wrote a message whose From a mailing list rewrote for DMARC.
//!
//! Mailman 2.1.18+ and Mailman 3 write `Jane Doe via Foo-users
//! <foo-users@lists.example.org>` and move the real address to Reply-To (or
//! Cc); Google Groups writes `'Jane Doe' via kasan-dev
//! <kasan-dev@googlegroups.com>` with `X-Original-From:`; groups.io writes
//! `Jane Doe via groups.io <noreply@groups.io>`. The author is recovered only
//! when the evidence agrees: the display name has the `X via List` form, the
//! address is the list's, and a header names the original address. A
//! rewritten From without that evidence stays the author and is marked
//! [`Rewrite::NotRecovered`]; a lookalike `X via Y` from an address that is
//! not the list's is left alone.
//!
//! Pure, like the rest of `extract`: it reads headers only. The From header as
//! written stays in [`super::MailDoc::from`] (and in the raw message).

use mail_parser::{HeaderName, Message};

use super::headers;
use super::text::fold;
use super::Address;

/// Whether a list rewrote a message's From, and whether its author was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rewrite {
    /// From is not a list's rewriting: it is the author.
    #[default]
    Original,
    /// From was `X via List <list address>`; the author came from
    /// X-Original-From, Reply-To or Cc.
    Recovered,
    /// From was `X via List <list address>` but no header named the author,
    /// so From (the list) stays the author.
    NotRecovered,
}

impl Rewrite {
    /// True for the default, so documents of unrewritten mail do not carry it.
    pub fn is_original(&self) -> bool {
        *self == Rewrite::Original
    }
}

/// The defect recorded for [`Rewrite::NotRecovered`].
pub const NOT_RECOVERED: &str = "author not recovered";

/// The header fields recovery looks at (besides the ones it reads itself).
pub(crate) struct Seen<'a> {
    /// From: mailboxes.
    pub from: &'a [Address],
    /// Reply-To: mailboxes.
    pub reply_to: &'a [Address],
    /// Cc: mailboxes.
    pub cc: &'a [Address],
    /// The List-Id (lowercased), if any.
    pub list_id: Option<&'a str>,
}

/// What recovery found.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Authorship {
    /// The author, when From was rewritten and recovered.
    pub author: Option<Address>,
    /// What happened.
    pub rewrite: Rewrite,
}

const UNREWRITTEN: Authorship = Authorship {
    author: None,
    rewrite: Rewrite::Original,
};

/// Recovers the author of `message` from list rewriting (see the module docs).
pub(crate) fn recover(message: &Message<'_>, seen: &Seen<'_>) -> Authorship {
    // Only a single From mailbox with the `X via Y` form is looked at further:
    // the other headers are read for rewritten mail only.
    let [from] = seen.from else {
        return UNREWRITTEN;
    };
    let (Some(name), Some(from_addr)) = (from.name.as_deref(), from.addr.as_deref()) else {
        return UNREWRITTEN;
    };
    let Some((x, list_name)) = via(name) else {
        return UNREWRITTEN;
    };
    let lists = ListAddresses::new(
        from_addr,
        headers::raw_header(message, "List-Post").as_deref(),
        seen.list_id,
    );
    if !lists.is_the_list(from_addr, list_name) {
        return UNREWRITTEN;
    }
    let original = headers::addresses(message, HeaderName::Other(X_ORIGINAL_FROM.into()));
    let found = original
        .iter()
        .find(|a| a.addr.as_deref().is_some_and(|ad| !lists.contains(ad)))
        .or_else(|| pick(x, seen.reply_to, &lists))
        .or_else(|| pick(x, seen.cc, &lists));
    match found {
        Some(a) => Authorship {
            author: Some(Address {
                name: a
                    .name
                    .clone()
                    .or_else(|| (!addressish(x)).then(|| x.to_string())),
                addr: a.addr.clone(),
            }),
            rewrite: Rewrite::Recovered,
        },
        None => Authorship {
            author: None,
            rewrite: Rewrite::NotRecovered,
        },
    }
}

/// The header Google Groups and groups.io keep the original From in.
pub(crate) const X_ORIGINAL_FROM: &str = "X-Original-From";

/// Splits a rewritten display name `X via Y` (quoted or not: `'X' via Y`,
/// `"X via Y"`) into the writer's name and the list's.
fn via(name: &str) -> Option<(&str, &str)> {
    const QUOTES: [char; 2] = ['\'', '"'];
    let (x, y) = name.rsplit_once(" via ")?;
    let x = x.trim().trim_matches(QUOTES).trim();
    let y = y.trim().trim_matches(QUOTES).trim();
    (!x.is_empty() && !y.is_empty()).then_some((x, y))
}

/// The addresses that are the list's, not a person's.
struct ListAddresses {
    /// The rewritten From, lowercased.
    from: String,
    /// Lowercased: List-Post's mailto, List-Id's address.
    known: Vec<String>,
}

impl ListAddresses {
    fn new(from: &str, list_post: Option<&str>, list_id: Option<&str>) -> ListAddresses {
        let mut known = Vec::new();
        known.extend(list_post.and_then(mailto));
        // `foo-users.lists.example.org` posts to `foo-users@lists.example.org`.
        known.extend(
            list_id
                .and_then(|id| id.split_once('.'))
                .map(|(local, domain)| format!("{local}@{domain}").to_lowercase()),
        );
        ListAddresses {
            from: from.to_lowercase(),
            known,
        }
    }

    /// Is `addr` a list address: a known one, or at a list host?
    fn contains(&self, addr: &str) -> bool {
        let addr = addr.to_lowercase();
        addr == self.from || self.known.contains(&addr) || list_host(&addr)
    }

    /// Is `from`, written as `X via list_name`, the list's own address? Known
    /// (List-Post, List-Id), at a list host, or at least its local part is
    /// the list's name.
    fn is_the_list(&self, from: &str, list_name: &str) -> bool {
        let from = from.to_lowercase();
        self.known.contains(&from)
            || list_host(&from)
            || from
                .split_once('@')
                .is_some_and(|(local, _)| comparable(local) == comparable(list_name))
    }
}

/// Hosts whose addresses are all lists (or their no-reply senders).
fn list_host(addr: &str) -> bool {
    let Some((_, domain)) = addr.rsplit_once('@') else {
        return false;
    };
    ["googlegroups.com", "groups.io"]
        .iter()
        .any(|h| domain == *h || domain.strip_suffix(h).is_some_and(|d| d.ends_with('.')))
}

/// The first `mailto:` address of a List-Post value, lowercased.
fn mailto(list_post: &str) -> Option<String> {
    let lower = list_post.to_lowercase();
    let at = lower.find("mailto:")? + "mailto:".len();
    let addr: String = lower[at..]
        .chars()
        .take_while(|c| !matches!(c, '>' | '?' | ',' | '<') && !c.is_whitespace())
        .collect();
    addr.contains('@').then_some(addr)
}

/// Names compared case- and accent-blind, punctuation and spacing ignored.
fn comparable(s: &str) -> String {
    fold(s)
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Mailman writes the address (domain replaced by `---`) when the sender
/// gave no name: such an `X` is no name to match.
fn addressish(x: &str) -> bool {
    x.contains('@') || x.ends_with("---")
}

/// Does mailbox `a` belong to the person `x` names (by display name, or by
/// the local part Google Groups shows for a sender without a name)?
fn names(x: &str, a: &Address) -> bool {
    let x = comparable(x);
    !x.is_empty()
        && (a.name.as_deref().is_some_and(|n| comparable(n) == x)
            || a.addr
                .as_deref()
                .and_then(|ad| ad.split_once('@'))
                .is_some_and(|(local, _)| comparable(local) == x))
}

/// The mailbox of `candidates` (Reply-To or Cc) that is `x`'s: the one whose
/// name matches, else the only one that is not a list's, when its name (if it
/// has one) does not say it is somebody else.
fn pick<'a>(x: &str, candidates: &'a [Address], lists: &ListAddresses) -> Option<&'a Address> {
    let people: Vec<&Address> = candidates
        .iter()
        .filter(|a| a.addr.as_deref().is_some_and(|ad| !lists.contains(ad)))
        .collect();
    if let Some(a) = people.iter().find(|a| names(x, a)) {
        return Some(a);
    }
    match people.as_slice() {
        [only] if only.name.is_none() || addressish(x) => Some(only),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use crate::extract::{extract, Address, ExtractContext, MailDoc, Rewrite, NOT_RECOVERED};

    fn doc(headers: &str) -> MailDoc {
        let raw = format!("{headers}Message-ID: <m@x>\nSubject: s\nDate: Mon, 1 Mar 2021 10:00:00 +0000\n\nHello.\n");
        extract(raw.as_bytes(), &ExtractContext::default()).expect("extracts")
    }

    fn addr(d: &MailDoc) -> Option<&str> {
        d.author.as_ref().and_then(|a| a.addr.as_deref())
    }

    fn name(d: &MailDoc) -> Option<&str> {
        d.author.as_ref().and_then(|a| a.name.as_deref())
    }

    fn recovered(d: &MailDoc) {
        assert_eq!(d.rewrite, Rewrite::Recovered, "{:?}", d.from);
        assert!(!d.defects.iter().any(|x| x == NOT_RECOVERED));
    }

    #[test]
    fn mailman_2_reply_to_names_the_author() {
        let d = doc(
            "From: Chao Yu via Linux-erofs <linux-erofs@lists.ozlabs.org>\n\
Reply-To: Chao Yu <chao@kernel.org>\nCc: LKML <linux-kernel@vger.kernel.org>\n\
List-Id: Development of Linux EROFS file system <linux-erofs.lists.ozlabs.org>\n\
List-Post: <mailto:linux-erofs@lists.ozlabs.org>\n",
        );
        recovered(&d);
        assert_eq!(addr(&d), Some("chao@kernel.org"));
        assert_eq!(name(&d), Some("Chao Yu"));
        // The header as written stays in `from`; `authors` is the author.
        assert_eq!(
            d.from[0].addr.as_deref(),
            Some("linux-erofs@lists.ozlabs.org")
        );
        assert_eq!(d.authors().len(), 1);
        assert_eq!(d.authors().first(), d.author.as_ref());
    }

    #[test]
    fn mailman_3_original_in_cc_found_by_name_folded() {
        // reply_goes_to_list: Reply-To is the list, the author moves to Cc
        // (here beside another person, and with accents the name lost).
        let d = doc("From: =?utf-8?q?Ren=C3=A9e_M=C3=BCller?= via Foo-users <foo-users@lists.example.org>\n\
Reply-To: foo-users@lists.example.org\n\
Cc: Bob Smith <bob@example.com>, Renee MULLER <renee@example.de>\n\
List-Id: Foo users <foo-users.lists.example.org>\n\
List-Post: <mailto:foo-users@lists.example.org>\n");
        recovered(&d);
        assert_eq!(addr(&d), Some("renee@example.de"));
    }

    #[test]
    fn google_groups_x_original_from_wins() {
        let d = doc(
            "From: \"'Dmitry Vyukov' via kasan-dev\" <kasan-dev@googlegroups.com>\n\
Reply-To: Someone Else <else@example.org>\n\
X-Original-From: Dmitry Vyukov <dvyukov@google.com>\n\
List-Id: <kasan-dev.googlegroups.com>\n\
List-Post: <https://groups.google.com/group/kasan-dev/post>, <mailto:kasan-dev@googlegroups.com>\n",
        );
        recovered(&d);
        assert_eq!(addr(&d), Some("dvyukov@google.com"));
        assert_eq!(name(&d), Some("Dmitry Vyukov"));
    }

    #[test]
    fn google_groups_sender_without_a_name() {
        // Google shows the local part; the author gets it as a name.
        let d = doc(
            "From: bugzilla-daemon via kasan-dev <kasan-dev@googlegroups.com>\n\
Reply-To: bugzilla-daemon@kernel.org\n",
        );
        recovered(&d);
        assert_eq!(addr(&d), Some("bugzilla-daemon@kernel.org"));
        assert_eq!(name(&d), Some("bugzilla-daemon"));
    }

    #[test]
    fn groups_io_noreply() {
        let d = doc("From: \"Jane Doe via groups.io\" <noreply@groups.io>\n\
Reply-To: main@beta.groups.io, Jane Doe <jane@example.com>\n\
X-Original-From: Jane Doe <jane@example.com>\n\
List-Id: <main.beta.groups.io>\n");
        recovered(&d);
        assert_eq!(addr(&d), Some("jane@example.com"));
        // Without X-Original-From, Reply-To's person (not the list) is taken.
        let d = doc("From: Jane Doe via groups.io <noreply@groups.io>\n\
Reply-To: main@beta.groups.io, Jane Doe <jane@example.com>\n");
        recovered(&d);
        assert_eq!(addr(&d), Some("jane@example.com"));
    }

    #[test]
    fn mailman_sender_without_a_name_has_the_only_other_address() {
        let d = doc("From: jane--- via Foo <foo@lists.example.org>\n\
Cc: jane@example.com, foo@lists.example.org\n");
        recovered(&d);
        assert_eq!(addr(&d), Some("jane@example.com"));
        assert_eq!(name(&d), None);
    }

    #[test]
    fn unrewritten_mail_is_left_alone() {
        let d = doc("From: Gao Xiang <hsiangkao@linux.alibaba.com>\n\
Reply-To: Other <other@example.com>\nList-Id: <linux-erofs.lists.ozlabs.org>\n");
        assert_eq!(d.rewrite, Rewrite::Original);
        assert_eq!(d.author, None);
        assert_eq!(
            d.authors()[0].addr.as_deref(),
            Some("hsiangkao@linux.alibaba.com")
        );
        // A list address without the `via` form (spam sent as the list) too.
        let d = doc(
            "From: Zix.lists.ozlabs.org <linux-erofs@lists.ozlabs.org>\n\
Reply-To: kim@example.com\nList-Post: <mailto:linux-erofs@lists.ozlabs.org>\n",
        );
        assert_eq!(d.rewrite, Rewrite::Original);
    }

    #[test]
    fn rewritten_without_evidence_is_counted_not_recovered() {
        // Only the list in Reply-To, and a Cc naming somebody else.
        let d = doc(
            "From: Jane Doe via Foo-users <foo-users@lists.example.org>\n\
Reply-To: foo-users@lists.example.org\nCc: Bob Smith <bob@example.com>\n\
List-Post: <mailto:foo-users@lists.example.org>\n",
        );
        assert_eq!(d.rewrite, Rewrite::NotRecovered);
        assert_eq!(d.author, None);
        assert!(d.defects.iter().any(|x| x == NOT_RECOVERED));
        // From stays the author.
        assert_eq!(
            d.authors()[0].addr.as_deref(),
            Some("foo-users@lists.example.org")
        );
    }

    #[test]
    fn lookalike_via_from_a_personal_address_is_left_alone() {
        let d = doc("From: Jane Doe via Phone <jane@example.com>\n\
Reply-To: Jane Doe <jane.doe@work.example>\n\
X-Original-From: Someone <someone@example.net>\n");
        assert_eq!(d.rewrite, Rewrite::Original);
        assert_eq!(d.author, None);
        assert!(!d.defects.iter().any(|x| x == NOT_RECOVERED));
        // A relay (b4) that is not the list: also left alone.
        let d = doc(
            "From: Julian Stecklina via B4 Relay <devnull+julian.example.org@kernel.org>\n\
X-Original-From: Julian Stecklina <julian@example.org>\nList-Id: <linux-erofs.lists.ozlabs.org>\n",
        );
        assert_eq!(d.rewrite, Rewrite::Original);
    }

    #[test]
    fn list_address_is_recognised_by_list_id_or_name_alone() {
        // No List-Post: List-Id's address.
        let d = doc("From: Jane via The Foo List <foo@lists.example.org>\n\
Reply-To: Jane <jane@example.com>\nList-Id: <foo.lists.example.org>\n");
        recovered(&d);
        // No list headers at all: the local part is the list's name.
        let d = doc("From: Jane via Foo-Users <foo-users@example.org>\n\
Reply-To: Jane <jane@example.com>\n");
        recovered(&d);
        assert_eq!(
            d.author,
            Some(Address {
                name: Some("Jane".into()),
                addr: Some("jane@example.com".into())
            })
        );
    }
}
