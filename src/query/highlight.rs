//! Where a query's words are in a message: highlight ranges over its whole
//! text, found with the index's own analysis.
//!
//! The planned query names the terms it looks for per field (after the
//! field's analyser: stems, folding, CJK bigrams). A text is tokenised with the
//! analyser of the field it is indexed in (the body with its language's
//! stemmer, quoted text and footers folded only), and a token whose term the
//! query names is a highlight. So `restarting` marks `restarted` in English
//! mail, `CAFÉ` marks `cafe`, and `検索` marks the middle of `全文検索`, exactly
//! where the index would match them. Prefix and fuzzy words (which name no
//! single term) are not highlighted.
//!
//! This module knows nothing of HTTP or how highlights are drawn.

use std::collections::{HashMap, HashSet};

use tantivy::schema::Field;
use tantivy::tokenizer::TextAnalyzer;

use super::{QueryError, Request};
use crate::index::MailIndex;

/// The terms a query looks for, by field, ready to mark texts.
pub struct Highlighter<'a> {
    index: &'a MailIndex,
    terms: HashMap<Field, HashSet<String>>,
    analyzers: HashMap<Field, Option<TextAnalyzer>>,
}

impl<'a> Highlighter<'a> {
    /// The terms of `req`'s query (planned as a search would plan it; an
    /// invalid query is the same error as for a search).
    pub fn new(index: &'a MailIndex, req: &Request) -> Result<Highlighter<'a>, QueryError> {
        let query = req.plan(index)?;
        let mut terms: HashMap<Field, HashSet<String>> = HashMap::new();
        query.query_terms(&mut |term, _| {
            if let Some(text) = term.value().as_str() {
                terms
                    .entry(term.field())
                    .or_default()
                    .insert(text.to_string());
            }
        });
        Ok(Highlighter {
            index,
            terms,
            analyzers: HashMap::new(),
        })
    }

    /// Byte ranges of `text` (as indexed in `field`) holding a term the query
    /// names: in order, overlaps merged.
    pub fn ranges(&mut self, field: Field, text: &str) -> Vec<(usize, usize)> {
        let Some(wanted) = self.terms.get(&field).filter(|t| !t.is_empty()) else {
            return Vec::new();
        };
        let index = self.index;
        let analyzer = self
            .analyzers
            .entry(field)
            .or_insert_with(|| index.index.tokenizer_for_field(field).ok());
        let Some(analyzer) = analyzer else {
            return Vec::new();
        };
        let mut found: Vec<(usize, usize)> = Vec::new();
        let mut stream = analyzer.token_stream(text);
        while let Some(token) = stream.next() {
            if wanted.contains(&token.text) {
                found.push((token.offset_from, token.offset_to));
            }
        }
        merge(found)
    }

    /// Ranges for a message's parts, each in the field the index keeps it in.
    pub fn message(&mut self, parts: &Parts<'_>) -> Highlights {
        let fields = &self.index.fields;
        let (body, quoted, footer, subject) = (
            fields.body_field_for(parts.lang),
            fields.quoted,
            fields.footer,
            fields.subject,
        );
        Highlights {
            body: utf16_ranges(parts.body, &self.ranges(body, parts.body)),
            quoted: utf16_ranges(parts.quoted, &self.ranges(quoted, parts.quoted)),
            footer: utf16_ranges(parts.footer, &self.ranges(footer, parts.footer)),
            subject: utf16_ranges(parts.subject, &self.ranges(subject, parts.subject)),
        }
    }
}

/// The texts of one message to highlight.
pub struct Parts<'t> {
    /// Language code (chooses the body's stemmer).
    pub lang: &'t str,
    /// The author's own text.
    pub body: &'t str,
    /// Quoted reply text.
    pub quoted: &'t str,
    /// Signature and list footer.
    pub footer: &'t str,
    /// Subject.
    pub subject: &'t str,
}

/// Highlight ranges of each part, in UTF-16 code units (what a browser's
/// string indices count), half-open, in order, not overlapping.
#[derive(Debug, Clone, Default, serde::Serialize, PartialEq)]
pub struct Highlights {
    /// In the author's own text.
    pub body: Vec<(usize, usize)>,
    /// In the quoted text.
    pub quoted: Vec<(usize, usize)>,
    /// In the footer.
    pub footer: Vec<(usize, usize)>,
    /// In the subject.
    pub subject: Vec<(usize, usize)>,
}

/// Sorted ranges with touching or overlapping ones joined.
fn merge(mut ranges: Vec<(usize, usize)>) -> Vec<(usize, usize)> {
    ranges.sort_unstable();
    let mut out: Vec<(usize, usize)> = Vec::with_capacity(ranges.len());
    for (a, b) in ranges {
        match out.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

/// Byte ranges of `text` (sorted, on character boundaries) as UTF-16 ranges.
pub fn utf16_ranges(text: &str, ranges: &[(usize, usize)]) -> Vec<(usize, usize)> {
    let mut out = Vec::with_capacity(ranges.len());
    let (mut byte, mut unit) = (0usize, 0usize);
    let at = |target: usize, byte: &mut usize, unit: &mut usize| -> usize {
        if let Some(part) = text.get(*byte..target) {
            *unit += part.chars().map(char::len_utf16).sum::<usize>();
            *byte = target;
        }
        *unit
    };
    for &(a, b) in ranges {
        if a < byte || b < a || b > text.len() {
            continue;
        }
        let from = at(a, &mut byte, &mut unit);
        let to = at(b, &mut byte, &mut unit);
        out.push((from, to));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf16_ranges_count_code_units() {
        // "é" is 2 bytes and 1 unit; "𝄞" is 4 bytes and 2 units.
        let text = "é𝄞 restart";
        let start = 7;
        assert_eq!(&text[start..start + 7], "restart");
        assert_eq!(
            utf16_ranges(text, &[(0, 2), (start, start + 7)]),
            vec![(0, 1), (4, 11)]
        );
    }

    #[test]
    fn merge_joins_overlapping_bigrams() {
        assert_eq!(
            merge(vec![(6, 12), (0, 3), (3, 9)]),
            vec![(0, 12)],
            "CJK bigrams overlap; touching ranges join"
        );
        assert_eq!(merge(vec![(0, 3), (4, 5)]), vec![(0, 3), (4, 5)]);
    }
}
