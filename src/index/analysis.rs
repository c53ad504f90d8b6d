//! Text analysis: how mail text becomes index terms.
//!
//! One tokenizer serves every text field: it splits on anything that is not a
//! letter or digit, and turns runs of CJK characters (which are written without
//! spaces) into overlapping bigrams, so `検索` is findable inside `全文検索`.
//! Tokens are lowercased and accent-folded; the per-language body fields add the
//! stemmer of their language. Custom analysers are not stored in the index, so
//! [`register`] must run every time an index is opened.
//!
//! This module knows nothing of mail or files.

use tantivy::tokenizer::{
    AsciiFoldingFilter, Language, LowerCaser, RemoveLongFilter, Stemmer, TextAnalyzer, Token,
    TokenStream, Tokenizer,
};
use tantivy::Index;

/// Name of the folded, unstemmed analyser (addresses, subjects, quoted text, CJK).
pub const FOLD: &str = "gl_fold";

/// Longest token kept, in bytes; longer runs are base64 or junk.
const MAX_TOKEN_BYTES: usize = 48;

/// The languages with a stemmer, as (whatlang code, field suffix, tantivy language).
pub const STEMMED: [(&str, &str, Language); 18] = [
    ("eng", "en", Language::English),
    ("deu", "de", Language::German),
    ("fra", "fr", Language::French),
    ("spa", "es", Language::Spanish),
    ("ita", "it", Language::Italian),
    ("por", "pt", Language::Portuguese),
    ("nld", "nl", Language::Dutch),
    ("swe", "sv", Language::Swedish),
    ("dan", "da", Language::Danish),
    ("nob", "no", Language::Norwegian),
    ("fin", "fi", Language::Finnish),
    ("hun", "hu", Language::Hungarian),
    ("ron", "ro", Language::Romanian),
    ("rus", "ru", Language::Russian),
    ("tur", "tr", Language::Turkish),
    ("ell", "el", Language::Greek),
    ("ara", "ar", Language::Arabic),
    ("tam", "ta", Language::Tamil),
];

/// The analyser name used for the body field of a stemmed language suffix.
pub fn stem_analyzer_name(suffix: &str) -> String {
    format!("gl_stem_{suffix}")
}

/// Registers every analyser gleaner uses on `index`.
pub fn register(index: &Index) {
    let manager = index.tokenizers();
    manager.register(FOLD, fold_analyzer());
    for (_, suffix, lang) in STEMMED {
        let analyzer = TextAnalyzer::builder(MailTokenizer::default())
            .filter(RemoveLongFilter::limit(MAX_TOKEN_BYTES))
            .filter(LowerCaser)
            .filter(AsciiFoldingFilter)
            .filter(Stemmer::new(lang))
            .build();
        manager.register(&stem_analyzer_name(suffix), analyzer);
    }
}

/// The folded, unstemmed analyser on its own (for tests and the brute-force checks).
pub fn fold_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(MailTokenizer::default())
        .filter(RemoveLongFilter::limit(MAX_TOKEN_BYTES))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .build()
}

/// Runs `analyzer` over `text` and returns the terms it produces.
pub fn terms(analyzer: &mut TextAnalyzer, text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut stream = analyzer.token_stream(text);
    while let Some(token) = stream.next() {
        out.push(token.text.clone());
    }
    out
}

/// Is `c` written without spaces between words (Han, kana, Hangul)?
pub fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF      // Hiragana, Katakana
        | 0x3400..=0x4DBF    // CJK Extension A
        | 0x4E00..=0x9FFF    // CJK Unified Ideographs
        | 0xAC00..=0xD7AF    // Hangul syllables
        | 0xF900..=0xFAFF    // CJK compatibility ideographs
        | 0x20000..=0x2FA1F  // CJK Extensions B-F, supplement
        | 0x31F0..=0x31FF    // Katakana extension
        | 0xFF66..=0xFF9D) // half-width Katakana
}

/// Splits on non-alphanumerics; CJK runs become overlapping bigrams.
#[derive(Clone, Default)]
pub struct MailTokenizer {
    tokens: Vec<Token>,
}

/// The token stream of [`MailTokenizer`].
pub struct MailTokenStream<'a> {
    tokens: &'a mut Vec<Token>,
    /// Index of the current token plus one (0 before the first advance).
    next: usize,
}

impl Tokenizer for MailTokenizer {
    type TokenStream<'a> = MailTokenStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> MailTokenStream<'a> {
        self.tokens.clear();
        tokenize_into(text, &mut self.tokens);
        // A trailing default token makes `token()` total even before `advance()`.
        self.tokens.push(Token::default());
        MailTokenStream {
            tokens: &mut self.tokens,
            next: 0,
        }
    }
}

impl MailTokenStream<'_> {
    fn current(&self) -> usize {
        self.next
            .saturating_sub(1)
            .min(self.tokens.len().saturating_sub(1))
    }
}

impl TokenStream for MailTokenStream<'_> {
    fn advance(&mut self) -> bool {
        // The last token is the sentinel and is never yielded.
        if self.next + 1 < self.tokens.len() {
            self.next += 1;
            true
        } else {
            false
        }
    }

    fn token(&self) -> &Token {
        &self.tokens[self.current()]
    }

    fn token_mut(&mut self) -> &mut Token {
        let i = self.current();
        &mut self.tokens[i]
    }
}

fn push(out: &mut Vec<Token>, text: &str, from: usize, to: usize) {
    let position = out.len();
    out.push(Token {
        offset_from: from,
        offset_to: to,
        position,
        text: text[from..to].to_string(),
        position_length: 1,
    });
}

fn tokenize_into(text: &str, out: &mut Vec<Token>) {
    // A run is a maximal sequence of alphanumerics of one kind (CJK or not).
    let mut run_start: Option<(usize, bool)> = None;
    let mut cjk_run: Vec<usize> = Vec::new(); // char start offsets of the CJK run
    let flush =
        |out: &mut Vec<Token>, start: Option<(usize, bool)>, end: usize, cjk: &mut Vec<usize>| {
            match start {
                Some((s, false)) => push(out, text, s, end),
                Some((_, true)) => {
                    if cjk.len() == 1 {
                        push(out, text, cjk[0], end);
                    } else {
                        for i in 0..cjk.len().saturating_sub(1) {
                            let to = cjk.get(i + 2).copied().unwrap_or(end);
                            push(out, text, cjk[i], to);
                        }
                    }
                    cjk.clear();
                }
                None => {}
            }
        };
    for (offset, c) in text.char_indices() {
        if c.is_alphanumeric() {
            let cjk = is_cjk(c);
            match run_start {
                Some((_, kind)) if kind == cjk => {}
                _ => {
                    flush(out, run_start, offset, &mut cjk_run);
                    run_start = Some((offset, cjk));
                }
            }
            if cjk {
                cjk_run.push(offset);
            }
        } else {
            flush(out, run_start, offset, &mut cjk_run);
            run_start = None;
        }
    }
    flush(out, run_start, text.len(), &mut cjk_run);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fold(text: &str) -> Vec<String> {
        terms(&mut fold_analyzer(), text)
    }

    #[test]
    fn splits_addresses_into_parts() {
        assert_eq!(
            fold("J.Smith@Example.ORG"),
            vec!["j", "smith", "example", "org"]
        );
    }

    #[test]
    fn folds_case_and_accents() {
        assert_eq!(fold("Häuser CAFÉ naïve"), vec!["hauser", "cafe", "naive"]);
    }

    #[test]
    fn cjk_runs_become_bigrams() {
        assert_eq!(
            fold("全文検索です"),
            vec!["全文", "文検", "検索", "索で", "です"]
        );
        assert_eq!(fold("検"), vec!["検"]);
        assert_eq!(fold("abc検索def"), vec!["abc", "検索", "def"]);
    }

    #[test]
    fn stemmed_analyzer_stems() {
        let index = Index::create_in_ram(tantivy::schema::Schema::builder().build());
        register(&index);
        let mut en = index
            .tokenizers()
            .get(&stem_analyzer_name("en"))
            .expect("registered");
        assert_eq!(terms(&mut en, "Running upgrades"), vec!["run", "upgrad"]);
    }

    #[test]
    fn long_junk_is_dropped() {
        let junk = "A".repeat(200);
        assert!(fold(&junk).is_empty());
    }
}
