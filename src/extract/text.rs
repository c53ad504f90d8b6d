//! Small text transformations shared by the header and body readers: folding for
//! matching, control-character cleanup, byte decoding with a windows-1252
//! fallback, and cutting text at a byte budget on a character boundary.

use unicode_normalization::{char::is_combining_mark, UnicodeNormalization};

/// Fold for matching: NFKD, strip combining marks, lowercase.
///
/// Used by the index analysers and brute-force tests so that `Häuser`,
/// `HAUSER` and `hauser` compare equal.
pub fn fold(s: &str) -> String {
    s.nfkd()
        .filter(|c| !is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .collect()
}

/// Removes NUL and other control characters except `\n` and `\t`, and turns
/// CRLF and lone CR into LF.
pub(crate) fn clean(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        // A run of bytes kept as they are (printable ASCII, `\n`, `\t`, and
        // characters whose UTF-8 lead byte is neither 0xC2, which starts the
        // C1 controls, nor 0xEF, which starts the BOM) is copied at once; it
        // ends on an ASCII byte or a lead byte, so on a char boundary.
        let run = bytes
            .get(i..)
            .and_then(|rest| {
                rest.iter().position(|&b| {
                    !matches!(b, 0x20..=0x7e | b'\n' | b'\t' | 0x80..=0xc1 | 0xc3..=0xee | 0xf0..)
                })
            })
            .map_or(bytes.len(), |p| i + p);
        out.push_str(s.get(i..run).unwrap_or_default());
        let Some(c) = s.get(run..).and_then(|rest| rest.chars().next()) else {
            break;
        };
        let next = run + c.len_utf8();
        match c {
            '\r' => {
                if bytes.get(next) != Some(&b'\n') {
                    out.push('\n');
                }
            }
            c if c.is_control() => {}
            // Zero-width no-break space (BOM) and the like carry no text.
            '\u{feff}' => {}
            c => out.push(c),
        }
        i = next;
    }
    out
}

/// Collapses every run of whitespace to one space and trims.
pub(crate) fn collapse_ws(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for word in s.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// windows-1252 code points for bytes 0x80..=0x9F (undefined ones map to the
/// C1 control of the same value, as browsers do).
const CP1252_HIGH: [char; 32] = [
    '€', '\u{81}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{8d}', 'Ž', '\u{8f}',
    '\u{90}', '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\u{9d}', 'ž', 'Ÿ',
];

fn cp1252_char(b: u8) -> char {
    match b {
        0x80..=0x9f => CP1252_HIGH[(b - 0x80) as usize],
        _ => char::from(b),
    }
}

/// Decodes bytes as UTF-8 where they are valid and as windows-1252 where they
/// are not. Returns the text and whether any byte needed the fallback.
pub(crate) fn decode_mixed(bytes: &[u8]) -> (String, bool) {
    let mut out = String::with_capacity(bytes.len());
    let mut fell_back = false;
    for chunk in bytes.utf8_chunks() {
        out.push_str(chunk.valid());
        for &b in chunk.invalid() {
            fell_back = true;
            out.push(cp1252_char(b));
        }
    }
    (out, fell_back)
}

/// The longest prefix of `s` of at most `max` bytes that ends on a character
/// boundary.
pub(crate) fn prefix_at_most(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while end > 0 && !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Finds `needle` in `haystack`.
pub(crate) fn find_bytes(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    let (&first, rest) = needle.split_first()?;
    let mut start = 0;
    while let Some(off) = haystack.get(start..)?.iter().position(|&b| b == first) {
        let at = start + off;
        if haystack.get(at + 1..at + 1 + rest.len()) == Some(rest) {
            return Some(at);
        }
        start = at + 1;
    }
    None
}

#[cfg(test)]
mod clean_tests {
    use proptest::prelude::*;

    use super::{clean, collapse_ws};

    /// The char-by-char definition `clean` must keep to.
    fn reference(s: &str) -> String {
        let mut out = String::with_capacity(s.len());
        let mut chars = s.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\r' => {
                    if chars.peek() != Some(&'\n') {
                        out.push('\n');
                    }
                }
                '\n' | '\t' => out.push(c),
                c if c.is_control() => {}
                '\u{feff}' => {}
                c => out.push(c),
            }
        }
        out
    }

    #[test]
    fn tricky_inputs_equal_the_definition() {
        for s in [
            "",
            "plain text\n",
            "a\r\nb\rc\r",
            "\r\r\n\n",
            "nul\0x\x07\x1b[0m\x7f",
            "\u{feff}bom \u{85}nel \u{9f} é 検索 \u{200b}",
            "مرحبا\u{feff}\u{85}بالعالم\u{a0}\u{fe0f}\u{fffd}😀\u{9f}",
            "tab\tend\r",
        ] {
            assert_eq!(clean(s), reference(s), "{s:?}");
        }
    }

    proptest! {
        #[test]
        fn collapse_ws_equals_split_and_join(s in "[a-z \\t\\r\\n\\x0b\\u{85}\\u{a0}\\u{3000}é]{0,40}") {
            prop_assert_eq!(collapse_ws(&s), s.split_whitespace().collect::<Vec<_>>().join(" "));
        }

        #[test]
        fn equals_the_definition(s in "[a-z \\r\\n\\t\\x00-\\x1f\\x7f\\u{80}-\\u{ff}\\u{feff}é検\\u{600}-\\u{6ff}\\u{fe00}-\\u{fffd}😀]{0,64}") {
            prop_assert_eq!(clean(&s), reference(&s));
        }
    }
}
