//! Citations placed in a document body: a line holding only `{{cite:N}}`
//! stands for citation N's quoted excerpt, and is where the editor wants it.
//! Reading a document expands each marker into the citation's quoted block
//! (as the reader may see it) with its footnote marker `[^cN]`; the stored
//! body keeps the one-line marker, so the excerpt is rendered once, where
//! the marker stands, and moving the line moves the quotation.
//!
//! Knows Markdown lines and citations as a reader sees them; nothing of the
//! database or of HTTP.

use super::documents::quote_block;
use super::redact::{blocks, is_quote, markers, CitationView, HIDDEN};

/// The marker line that places citation `id`.
pub fn marker(id: i64) -> String {
    format!("{{{{cite:{id}}}}}")
}

/// The citation a line places: `{{cite:N}}` alone on it, blanks aside (but
/// not indented as code: four spaces or a tab).
pub fn marker_id(line: &str) -> Option<i64> {
    if line.starts_with("    ") || line.starts_with('\t') {
        return None;
    }
    let inner = line.trim().strip_prefix("{{cite:")?.strip_suffix("}}")?;
    inner.trim().parse().ok()
}

/// Is this line a code fence (three backticks or tildes)?
fn fence(line: &str) -> bool {
    let t = line.trim_start();
    t.starts_with("```") || t.starts_with("~~~")
}

/// The citation numbers `body` places with markers, in order, once each
/// (markers inside fenced code are text).
pub fn placed(body: &str) -> Vec<i64> {
    let mut out = Vec::new();
    let mut code = false;
    for line in body.lines() {
        if fence(line) {
            code = !code;
        } else if let Some(n) = marker_id(line).filter(|_| !code) {
            if !out.contains(&n) {
                out.push(n);
            }
        }
    }
    out
}

/// `body` with each marker of a citation in `citations` replaced by that
/// citation's quoted block as the reader sees it — a placeholder for a hidden
/// one — set apart by blank lines. A citation placed twice is quoted once,
/// at its first marker (or in the quoted block an older body carries for it);
/// later markers only refer to its footnote. Markers of
/// unknown citations and markers inside fenced code stay as written.
pub fn expand(body: &str, citations: &[CitationView]) -> String {
    let mut out = String::with_capacity(body.len() + 256);
    // Bodies written before markers quote their citations themselves.
    let mut quoted: Vec<i64> = blocks(body)
        .filter(|b| is_quote(b))
        .flat_map(markers)
        .collect();
    let mut code = false;
    for line in body.split_inclusive('\n') {
        if fence(line) {
            code = !code;
        }
        let found = marker_id(line)
            .filter(|_| !code)
            .and_then(|n| citations.iter().find(|c| view_id(c) == n));
        let Some(view) = found else {
            out.push_str(line);
            continue;
        };
        let id = view_id(view);
        if !out.is_empty() && !out.ends_with("\n\n") {
            out.push_str(if out.ends_with('\n') { "\n" } else { "\n\n" });
        }
        if quoted.contains(&id) {
            out.push_str(&format!("[^c{id}]\n\n"));
            continue;
        }
        quoted.push(id);
        match view {
            CitationView::Shown(c) => out.push_str(&quote_block(&c.cited, c.id)),
            CitationView::Hidden { id, .. } => out.push_str(&format!("> {HIDDEN} [^c{id}]\n")),
        }
        out.push('\n');
    }
    out
}

fn view_id(view: &CitationView) -> i64 {
    match view {
        CitationView::Shown(c) => c.id,
        CitationView::Hidden { id, .. } => *id,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::curate::documents::{Citation, NewCitation};
    use crate::curate::export::render_html;

    fn cited(id: i64, excerpt: &str) -> CitationView {
        CitationView::Shown(Citation {
            id,
            doc_id: 1,
            cited: NewCitation {
                message_id: format!("m{id}@example.org"),
                thread_id: format!("t{id}"),
                list: "ops.example.org".into(),
                date: 1_230_000_000,
                author: "Ann <ann@example.org>".into(),
                subject: "Disk full".into(),
                excerpt: excerpt.into(),
            },
            created_by: "ed".into(),
            created_at: 0,
        })
    }

    #[test]
    fn markers_are_whole_lines() {
        assert_eq!(marker(12), "{{cite:12}}");
        assert_eq!(marker_id("  {{cite:12}} "), Some(12));
        assert_eq!(marker_id("see {{cite:12}}"), None);
        assert_eq!(marker_id("    {{cite:12}}"), None, "indented code");
        assert_eq!(marker_id("{{cite:x}}"), None);
        assert_eq!(
            placed("{{cite:2}}\n```\n{{cite:9}}\n```\n{{cite:3}}\n{{cite:2}}\n"),
            vec![2, 3]
        );
    }

    #[test]
    fn a_marker_becomes_its_quote_where_it_stands_and_only_once() {
        let body = "Intro.\n{{cite:2}}\nMiddle.\n\n{{cite:3}}\nEnd.\n{{cite:2}}\n{{cite:7}}\n";
        let views = [
            cited(2, "first words"),
            CitationView::Hidden {
                id: 3,
                doc_id: 1,
                hidden: true,
            },
        ];
        let md = expand(body, &views);
        let html = render_html(&md);
        assert_eq!(html.matches("first words").count(), 1, "{html}");
        assert!(
            html.find("Intro.") < html.find("first words")
                && html.find("first words") < html.find("Middle."),
            "{html}"
        );
        assert!(html.contains(HIDDEN), "{html}");
        assert!(
            md.contains("{{cite:7}}"),
            "an unknown citation stays as written: {md}"
        );
        assert_eq!(md.matches("[^c2]").count(), 2, "{md}");
        // A body that quotes the citation itself (written before markers).
        let old = "> first words\n>\n> — Ann, 2009-01-01, ops [^c2]\n\n{{cite:2}}\n";
        let html = render_html(&expand(old, &views));
        assert_eq!(html.matches("first words").count(), 1, "{html}");
    }
}
