//! Citations as one reader may see them (issue 23, M4): a document shows a
//! citation — its quoted passage, subject, author, list and link — only to
//! a reader who can see the cited message through a copy on a list granted to
//! them; to anyone else it is a placeholder, in the body, the footnotes, the
//! JSON and every export.
//!
//! Whether a message is visible is asked of the index with the reader's lists
//! (never their role): [`Reader`]. `None` for a reader means the server's
//! operator (the CLI), who sees everything.

use std::collections::{BTreeSet, HashMap};

use serde::Serialize;

use super::documents::Citation;
use super::CurateError;
use crate::index::MailIndex;

/// What a hidden citation shows instead.
pub const HIDDEN: &str = "A citation to a message you cannot see is hidden.";

/// Who is reading: the lists they may see, and the index to look in.
#[derive(Clone, Copy)]
pub struct Reader<'a> {
    /// The index the cited messages are looked up in.
    pub index: &'a MailIndex,
    /// The lists the reader may see (`None`: all).
    pub allowed: Option<&'a [String]>,
}

/// A citation as a reader sees it.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(untagged)]
pub enum CitationView {
    /// The cited message is visible: everything.
    Shown(Citation),
    /// It is not: only the citation's number, nothing of the message.
    Hidden {
        /// Number (the `N` of `[^cN]`).
        id: i64,
        /// The citing document.
        doc_id: i64,
        /// Always `true`.
        hidden: bool,
    },
}

/// Which citations of a document one reader may not see, and which lists
/// to show for the ones they see through another list's copy.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Redaction {
    hidden: BTreeSet<i64>,
    /// Citation → (list recorded, list the reader sees it on).
    relisted: HashMap<i64, (String, String)>,
}

impl Redaction {
    /// Nothing hidden (the operator's view).
    pub fn none() -> Redaction {
        Redaction::default()
    }

    /// What `reader` may not see of `citations` (`None`: nothing hidden).
    /// A citation is shown when a message the reader may see carries its
    /// Message-ID, subject and date (the same Message-ID on another message of
    /// a list they can read does not reveal the one cited).
    pub fn for_reader(
        reader: Option<&Reader<'_>>,
        citations: &[Citation],
    ) -> Result<Redaction, CurateError> {
        let mut out = Redaction::none();
        let Some(reader) = reader.filter(|r| r.allowed.is_some()) else {
            return Ok(out);
        };
        for c in citations {
            let cited = &c.cited;
            let seen = crate::query::find_visible_message(
                reader.index,
                &cited.message_id,
                reader.allowed,
            )?
            .filter(|m| m.subject == cited.subject && m.date == cited.date);
            match seen {
                None => {
                    out.hidden.insert(c.id);
                }
                Some(m) if !crate::query::visible::is_visible(&cited.list, reader.allowed) => {
                    out.relisted.insert(c.id, (cited.list.clone(), m.list));
                }
                Some(_) => {}
            }
        }
        Ok(out)
    }

    /// Does the reader miss any citation?
    pub fn hides_any(&self) -> bool {
        !self.hidden.is_empty()
    }

    /// Is citation `id` hidden?
    pub fn is_hidden(&self, id: i64) -> bool {
        self.hidden.contains(&id)
    }

    /// The citations as the reader sees them.
    pub fn citations(&self, citations: Vec<Citation>) -> Vec<CitationView> {
        citations.into_iter().map(|c| self.citation(c)).collect()
    }

    /// One citation as the reader sees it.
    pub fn citation(&self, mut c: Citation) -> CitationView {
        if self.is_hidden(c.id) {
            return CitationView::Hidden {
                id: c.id,
                doc_id: c.doc_id,
                hidden: true,
            };
        }
        if let Some((_, shown)) = self.relisted.get(&c.id) {
            c.cited.list = shown.clone();
        }
        CitationView::Shown(c)
    }

    /// A Markdown body as the reader sees it: each quoted block carrying the
    /// marker `[^cN]` of a hidden citation becomes one placeholder line (the
    /// markers kept, so footnotes still number); a shown citation's block
    /// names the list the reader sees it on.
    pub fn body(&self, body: &str) -> String {
        if self.hidden.is_empty() && self.relisted.is_empty() {
            return body.to_string();
        }
        let mut out = String::with_capacity(body.len());
        for block in blocks(body) {
            match self.placeholder(block) {
                Some(p) => out.push_str(&p),
                None => out.push_str(&self.relist(block)),
            }
        }
        out
    }

    /// `edited` (a body the reader saw redacted and changed) with each
    /// placeholder (and each block shown under another list) put back to the
    /// block it stands for in `current`, so an editor who cannot see a
    /// citation keeps it by leaving its placeholder.
    pub fn restore(&self, edited: &str, current: &str) -> String {
        if self.hidden.is_empty() && self.relisted.is_empty() {
            return edited.to_string();
        }
        let originals: HashMap<String, &str> = blocks(current)
            .filter_map(|b| {
                let seen = self.placeholder(b).unwrap_or_else(|| self.relist(b));
                let seen = if seen.ends_with('\n') {
                    seen
                } else {
                    format!("{seen}\n")
                };
                (seen.as_str() != b).then_some((seen, b))
            })
            .collect();
        let mut out = String::with_capacity(edited.len());
        for block in blocks(edited) {
            let key = if block.ends_with('\n') {
                block.to_string()
            } else {
                format!("{block}\n")
            };
            match originals.get(&key) {
                Some(original) => out.push_str(original),
                None => out.push_str(block),
            }
        }
        out
    }

    fn placeholder(&self, block: &str) -> Option<String> {
        if !is_quote(block) {
            return None;
        }
        let found = markers(block);
        if !found.iter().any(|n| self.is_hidden(*n)) {
            return None;
        }
        let marks: Vec<String> = found.iter().map(|n| format!(" [^c{n}]")).collect();
        Some(format!("> {HIDDEN}{}\n", marks.concat()))
    }

    /// A shown citation's attribution line (the one carrying its marker)
    /// with the recorded list replaced by the one the reader sees it on; the
    /// quoted words stay as the message has them.
    fn relist(&self, block: &str) -> String {
        if !is_quote(block) || self.relisted.is_empty() {
            return block.to_string();
        }
        let mut out = String::with_capacity(block.len());
        for line in block.split_inclusive('\n') {
            let mut line = line.to_string();
            for n in markers(&line) {
                match self.relisted.get(&n) {
                    Some((recorded, shown)) if !recorded.is_empty() => {
                        line = line.replace(recorded.as_str(), shown);
                    }
                    _ => {}
                }
            }
            out.push_str(&line);
        }
        out
    }
}

fn is_quote_line(line: &str) -> bool {
    line.trim_start().starts_with('>')
}

pub(crate) fn is_quote(block: &str) -> bool {
    block.lines().next().is_some_and(is_quote_line)
}

/// `body` cut into runs of quoted lines and runs of other lines, each with
/// its line ends, so that joining them gives `body` back.
pub(crate) fn blocks(body: &str) -> impl Iterator<Item = &str> {
    let mut rest = body;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let quoted = is_quote_line(rest.split('\n').next().unwrap_or(""));
        let mut end = 0;
        for line in rest.split_inclusive('\n') {
            if is_quote_line(line) != quoted {
                break;
            }
            end += line.len();
        }
        let (block, tail) = rest.split_at(end);
        rest = tail;
        Some(block)
    })
}

/// The citation numbers of the `[^cN]` markers in `text`, in order, once each.
pub(crate) fn markers(text: &str) -> Vec<i64> {
    let mut out = Vec::new();
    for (at, _) in text.match_indices("[^c") {
        let digits: String = text[at + 3..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        let closed = text[at + 3 + digits.len()..].starts_with(']');
        if let (true, Ok(n)) = (closed, digits.parse::<i64>()) {
            if !out.contains(&n) {
                out.push(n);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &str = "Intro [^c2] text.\n\n> secret words\n>\n> — Ann, 2019-01-02, secret.example [^c2]\n\n> public words, see secret.example\n>\n> — Bob, 2019-01-03, secret.example [^c3]\nOutro.\n";

    fn redaction() -> Redaction {
        Redaction {
            hidden: [2].into_iter().collect(),
            relisted: [(3, ("secret.example".into(), "public.example".into()))]
                .into_iter()
                .collect(),
        }
    }

    #[test]
    fn hidden_blocks_become_placeholders_and_shown_ones_name_the_readers_list() {
        let r = redaction();
        let shown = r.body(BODY);
        assert_eq!(
            shown,
            format!("Intro [^c2] text.\n\n> {HIDDEN} [^c2]\n\n> public words, see secret.example\n>\n> — Bob, 2019-01-03, public.example [^c3]\nOutro.\n")
        );
        assert!(!shown.contains("secret words"), "{shown}");
        assert_eq!(Redaction::none().body(BODY), BODY);
    }

    #[test]
    fn an_editor_who_cannot_see_a_citation_keeps_it_by_keeping_its_placeholder() {
        let r = redaction();
        let edited = r.body(BODY).replace("Outro.", "Outro, edited.");
        let saved = r.restore(&edited, BODY);
        assert!(saved.contains("> secret words\n"), "{saved}");
        assert_eq!(r.restore(&r.body(BODY), BODY), BODY);
        assert!(saved.contains("Outro, edited."), "{saved}");
        // Deleting the placeholder deletes the citation's block.
        let dropped = edited.replace(&format!("> {HIDDEN} [^c2]\n"), "");
        assert!(!r.restore(&dropped, BODY).contains("secret words"));
    }

    #[test]
    fn a_citation_recorded_without_a_list_leaves_its_block_alone() {
        let r = Redaction {
            relisted: [(3, (String::new(), "public.example".into()))]
                .into_iter()
                .collect(),
            ..Redaction::none()
        };
        assert_eq!(r.body("> words [^c3]\n"), "> words [^c3]\n");
    }

    #[test]
    fn markers_are_read_once_each() {
        assert_eq!(markers("a [^c1] b [^c12][^c1] [^cx] [^c3"), vec![1, 12]);
        let parts: Vec<&str> = blocks("a\n> b\n> c\nd").collect();
        assert_eq!(parts, ["a\n", "> b\n> c\n", "d"]);
    }
}
