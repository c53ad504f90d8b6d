//! Mail quoted into a Markdown body verbatim: a block quote whose every line
//! Markdown reads as text — no headings, lists, code, links, HTML, tables,
//! emphasis, breaks or indentation made of the author's characters — and
//! the removal of a citation's block when the promotion that added it is
//! undone.
//!
//! Knows Markdown (CommonMark with tables, footnotes and strikethrough, as
//! [`super::export::render_html`] reads it), nothing of the database.

use super::redact::{blocks, is_quote, markers};

/// Characters escaped wherever they are: inline structure (emphasis, code,
/// links, footnotes, autolinks and HTML, entities, tables, strikethrough,
/// nested quotes, escapes themselves).
const ALWAYS: &[char] = &['\\', '`', '*', '_', '[', ']', '<', '>', '&', '|', '~', '!'];

/// Characters escaped first on a line: list items, headings, thematic
/// breaks and setext underlines.
const LEADING: &[char] = &['#', '-', '+', '=', '*'];

/// `text` (a message's words) as a block quote: each line behind `> `,
/// structure characters escaped, lines kept apart by hard breaks and blank
/// lines kept as paragraph breaks.
pub fn quote(text: &str) -> String {
    let lines: Vec<&str> = text.lines().map(str::trim_end).collect();
    let mut out = String::new();
    for (i, line) in lines.iter().enumerate() {
        if line.is_empty() {
            out.push_str(">\n");
            continue;
        }
        out.push_str("> ");
        out.push_str(&escape_line(line));
        let next_is_text = lines.get(i + 1).is_some_and(|l| !l.is_empty());
        if next_is_text {
            out.push('\\');
        }
        out.push('\n');
    }
    out
}

/// One line as inline text: leading blanks as character references (never
/// indentation, so never a code block), a leading marker escaped, the rest
/// escaped where Markdown would see structure.
pub fn escape_line(line: &str) -> String {
    let mut out = String::with_capacity(line.len() + 8);
    let body = line.trim_start_matches([' ', '\t']);
    for c in line[..line.len() - body.len()].chars() {
        out.push_str(if c == '\t' { "&#9;" } else { "&#32;" });
    }
    // A numbered list item: `12.` or `12)`.
    let digits = body.chars().take_while(char::is_ascii_digit).count();
    for (i, c) in body.chars().enumerate() {
        let list_number = i == digits && digits > 0 && (c == '.' || c == ')');
        if ALWAYS.contains(&c) || (i == 0 && LEADING.contains(&c)) || list_number {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `body` without citation `id`: its marker lines `{{cite:N}}`, the quoted
/// block carrying its marker `[^cN]` (or, in a block quoting several
/// citations, the lines carrying it), every other marker of it and its
/// footnote definition.
pub fn remove_citation(body: &str, id: i64) -> String {
    let marker = format!("[^c{id}]");
    let mut out = String::with_capacity(body.len());
    let mut dropped = false;
    for block in blocks(body) {
        let found = markers(block);
        if is_quote(block) && found.contains(&id) {
            if found.len() > 1 {
                for line in block.split_inclusive('\n') {
                    if !line.contains(&marker) {
                        out.push_str(line);
                    }
                }
            }
            dropped = true;
            continue;
        }
        // The blank lines that set a dropped block apart go with it.
        let block = if std::mem::take(&mut dropped) && (out.is_empty() || out.ends_with("\n\n")) {
            block.trim_start_matches('\n')
        } else {
            block
        };
        for line in block.split_inclusive('\n') {
            if line.trim_start().starts_with(&format!("{marker}:"))
                || super::placed::marker_id(line) == Some(id)
            {
                continue;
            }
            out.push_str(&line.replace(&format!(" {marker}"), "").replace(&marker, ""));
        }
    }
    let kept = out.trim_end();
    if kept.is_empty() {
        String::new()
    } else {
        format!("{kept}\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::curate::export::render_html;

    const MAIL: &str =
        "# not a heading\n- not a list\n* nor this\n+ nor this\n1. not numbered\n2) nor this\n\
        Run `make` <b>bold</b> [link](http://x.example) *em* _em_ ~~del~~ &amp; a|b\n\
        ---\n    indented, not code\n> not nested\n\nSecond paragraph \\ kept.";

    #[test]
    fn quoted_mail_renders_as_the_text_it_is() {
        let html = render_html(&quote(MAIL));
        for tag in [
            "<h", "<li", "<ol", "<ul", "<code", "<a ", "<b>", "<em", "<del", "<hr", "<table",
            "<pre",
        ] {
            assert!(!html.contains(tag), "{tag} in {html}");
        }
        assert_eq!(html.matches("<blockquote>").count(), 1, "{html}");
        for line in MAIL.lines().filter(|l| !l.is_empty()) {
            let shown = line
                .trim()
                .replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;");
            assert!(html.contains(&shown), "{shown:?} not in {html}");
        }
        assert_eq!(html.matches("<br />").count(), 9, "{html}");
    }

    #[test]
    fn removing_a_citation_takes_its_block_markers_and_footnote() {
        let body = format!(
            "Intro [^c2] text.\n\n{}>\n> — Ann, 2019-01-02, ops [^c2]\n\n> kept [^c3]\n\n[^c2]: note\n",
            quote("words\nmore")
        );
        assert_eq!(remove_citation(&body, 2), "Intro text.\n\n> kept [^c3]\n");
        assert_eq!(
            remove_citation("Intro.\n\n> a\n> — x [^c1]\n\n", 1),
            "Intro.\n"
        );
        assert_eq!(
            remove_citation("Intro.\n\n{{cite:2}}\n{{cite:3}}\n{{cite:2}}\n", 2),
            "Intro.\n\n{{cite:3}}\n"
        );
    }
}
