//! Exporting documents: Markdown with footnote citations and permalinks, a
//! standalone HTML page, and a tar archive of every published document.
//!
//! HTML never carries anything from mail or from a body that could run:
//! raw HTML in Markdown is shown as text, links other than http(s), mailto
//! and relative ones are dropped, and images become links (no remote content).

use pulldown_cmark::{html, CowStr, Event, Options, Parser, Tag};

use super::documents::{Citation, Document};
use super::redact::{CitationView, Reader, Redaction, HIDDEN};
use super::{CurateError, Curation};
use crate::query::search::{escape_html, rfc3339};

/// Export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Markdown with footnotes.
    Markdown,
    /// A standalone HTML page.
    Html,
}

fn day(secs: i64) -> String {
    let s = rfc3339(secs);
    s.get(..10).unwrap_or(&s).to_string()
}

/// The footnote of a citation as a reader sees it.
fn footnote_as(c: &CitationView, curation: &Curation) -> String {
    match c {
        CitationView::Shown(c) => footnote(c, &curation.permalink(&c.cited.message_id)),
        CitationView::Hidden { id, .. } => format!("[^c{id}]: {HIDDEN}"),
    }
}

/// The footnote of a citation.
pub fn footnote(c: &Citation, permalink: &str) -> String {
    let m = &c.cited;
    format!(
        "[^c{}]: {}, \"{}\", {}, {}. <{}> (Message-ID: <{}>)",
        c.id,
        if m.author.is_empty() {
            "unknown author"
        } else {
            &m.author
        },
        m.subject.replace('"', "'"),
        if m.list.is_empty() {
            "no list"
        } else {
            &m.list
        },
        day(m.date),
        permalink,
        m.message_id
    )
}

impl Curation {
    /// The document as Markdown: title, a status line, the body, and a
    /// footnote for every citation — as `reader` may see them (`None`: all).
    pub fn export_markdown(
        &self,
        id_or_slug: &str,
        reader: Option<&Reader<'_>>,
    ) -> Result<String, CurateError> {
        Ok(self.read_document(id_or_slug, reader)?.markdown)
    }

    /// The document as a standalone HTML page, as `reader` may see it.
    pub fn export_html(
        &self,
        id_or_slug: &str,
        reader: Option<&Reader<'_>>,
    ) -> Result<String, CurateError> {
        let read = self.read_document(id_or_slug, reader)?;
        Ok(page(&read.document.title, &render_html(&read.markdown)))
    }

    /// A document, its citations and its Markdown export, as `reader` may
    /// see them (`None`: all): the body and citations go through
    /// [`Redaction::for_reader`].
    pub fn read_document(
        &self,
        id_or_slug: &str,
        reader: Option<&Reader<'_>>,
    ) -> Result<ReadDocument, CurateError> {
        let mut document = self.document(id_or_slug)?;
        let citations = self.citations(&document.id.to_string())?;
        let redaction = Redaction::for_reader(reader, &citations)?;
        document.body = redaction.body(&document.body);
        let citations = redaction.citations(citations);
        let markdown = markdown(self, &document, &citations);
        Ok(ReadDocument {
            document,
            citations,
            markdown,
            redaction,
        })
    }

    /// The HTML of `body`, a draft of document `id_or_slug`'s text, as
    /// `reader` would see it once saved: citations expanded where their
    /// markers stand, footnotes, the same sanitising renderer as exports.
    pub fn preview(
        &self,
        id_or_slug: &str,
        body: &str,
        reader: Option<&Reader<'_>>,
    ) -> Result<String, CurateError> {
        let document = self.document(id_or_slug)?;
        let citations = self.citations(&document.id.to_string())?;
        let redaction = Redaction::for_reader(reader, &citations)?;
        let body = redaction.body(body);
        let citations = redaction.citations(citations);
        Ok(render_html(&body_markdown(self, &body, &citations)))
    }

    /// A tar archive of every published document, as `<slug>.md` and
    /// `<slug>.html`, as `reader` may see them (`None`: all).
    pub fn export_published(
        &self,
        reader: Option<&Reader<'_>>,
    ) -> Result<(Vec<u8>, usize), CurateError> {
        let mut out = Vec::new();
        let mut n = 0;
        for d in self.documents()? {
            if d.status != super::DocStatus::Published {
                continue;
            }
            let md = self.export_markdown(&d.id.to_string(), reader)?;
            let html = page(&d.title, &render_html(&md));
            super::tar::append(
                &mut out,
                &format!("{}.md", d.slug),
                md.as_bytes(),
                d.updated,
            );
            super::tar::append(
                &mut out,
                &format!("{}.html", d.slug),
                html.as_bytes(),
                d.updated,
            );
            n += 1;
        }
        super::tar::finish(&mut out);
        Ok((out, n))
    }
}

/// A document as one reader sees it.
#[derive(Debug, Clone)]
pub struct ReadDocument {
    /// The document, its body redacted.
    pub document: Document,
    /// Its citations, hidden ones as placeholders.
    pub citations: Vec<CitationView>,
    /// The Markdown export.
    pub markdown: String,
    /// What was hidden (to redact revisions, or restore a saved body).
    pub redaction: Redaction,
}

/// `doc`'s body must already be redacted for whoever sees `citations`.
fn markdown(c: &Curation, doc: &Document, citations: &[CitationView]) -> String {
    let mut out = format!(
        "# {}\n\n*{} · {} · owner {} · revision {} · {}*\n\n",
        doc.title.replace('\n', " "),
        capitalise(doc.kind.as_str()),
        doc.status.as_str().replace('_', " "),
        doc.owner,
        doc.revision,
        day(doc.updated)
    );
    out.push_str(&body_markdown(c, &doc.body, citations));
    out
}

/// A body (redacted for whoever sees `citations`) as Markdown: its citation
/// markers expanded where they stand ([`super::placed`]), then a footnote
/// for every citation.
fn body_markdown(c: &Curation, body: &str, citations: &[CitationView]) -> String {
    let mut out = super::placed::expand(body, citations)
        .trim_end()
        .to_string();
    out.push('\n');
    if !citations.is_empty() {
        out.push('\n');
        for cit in citations {
            out.push_str(&footnote_as(cit, c));
            out.push('\n');
        }
    }
    out
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

fn safe_url(url: &str) -> bool {
    let u = url.trim().to_ascii_lowercase();
    match u.split_once(':') {
        Some((scheme, _))
            if !scheme.contains('/') && !scheme.contains('?') && !scheme.contains('#') =>
        {
            matches!(scheme, "http" | "https" | "mailto")
        }
        _ => true,
    }
}

/// Markdown → HTML with raw HTML escaped, unsafe links dropped, images as links.
pub fn render_html(md: &str) -> String {
    let mut opts = Options::empty();
    opts.insert(Options::ENABLE_FOOTNOTES);
    opts.insert(Options::ENABLE_TABLES);
    opts.insert(Options::ENABLE_STRIKETHROUGH);
    let events = Parser::new_ext(md, opts).map(|e| match e {
        Event::Html(h) | Event::InlineHtml(h) => Event::Text(h),
        Event::Start(Tag::Link {
            link_type,
            dest_url,
            title,
            id,
        })
        | Event::Start(Tag::Image {
            link_type,
            dest_url,
            title,
            id,
        }) => {
            // Images become links: a page never loads remote content.
            let dest_url = if safe_url(&dest_url) {
                dest_url
            } else {
                CowStr::from("#")
            };
            Event::Start(Tag::Link {
                link_type,
                dest_url,
                title,
                id,
            })
        }
        Event::End(pulldown_cmark::TagEnd::Image) => Event::End(pulldown_cmark::TagEnd::Link),
        other => other,
    });
    let mut out = String::new();
    html::push_html(&mut out, events);
    out
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n\
<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n\
<title>{}</title>\n<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:46em;margin:2em auto;padding:0 1em;color:#222}}\
blockquote{{border-left:3px solid #ccc;margin-left:0;padding-left:1em;color:#444}}pre,code{{background:#f4f4f4}}\
.footnote-definition{{font-size:90%}}</style></head>\n<body>\n{}</body></html>\n",
        escape_html(title),
        body
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_html_and_script_links_never_render() {
        let h = render_html("<script>alert(1)</script>\n\n[x](javascript:alert(1)) [y](https://ok.example) ![i](http://remote/img.png) <b onclick=x>b</b>");
        assert!(!h.contains("<script"), "{h}");
        assert!(!h.contains("<b "), "{h}");
        assert!(!h.contains("javascript:"), "{h}");
        assert!(!h.contains("<img"), "{h}");
        assert!(h.contains("href=\"https://ok.example\""), "{h}");
    }

    #[test]
    fn footnotes_render() {
        let h = render_html("Text [^c1]\n\n[^c1]: Source <https://x.example/m/a%40b>\n");
        assert!(h.contains("footnote"), "{h}");
        assert!(h.contains("https://x.example/m/a%40b"), "{h}");
    }
}
