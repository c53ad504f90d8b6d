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

use frostem::Algorithm;
use std::sync::OnceLock;

use std::hash::BuildHasher;
use tantivy::tokenizer::{
    AsciiFoldingFilter, LowerCaser, RawTokenizer, RemoveLongFilter, TextAnalyzer, Token,
    TokenFilter, TokenStream, Tokenizer,
};
use tantivy::Index;

/// Name of the folded, unstemmed analyser (addresses, subjects, quoted text, CJK).
pub const FOLD: &str = "gl_fold";

/// Name of the analyser of document keys: the whole value as one lowercased
/// term (Message-IDs are looked up without regard to case).
pub const KEY: &str = "gl_key";

/// Longest token kept, in bytes; longer runs are base64 or junk.
const MAX_TOKEN_BYTES: usize = 48;

/// The languages with a stemmer, as (whatlang code, field suffix, snowball
/// algorithm: the one tantivy's `Stemmer` uses for that language).
pub const STEMMED: [(&str, &str, Algorithm); 18] = [
    ("eng", "en", Algorithm::English),
    ("deu", "de", Algorithm::German),
    ("fra", "fr", Algorithm::French),
    ("spa", "es", Algorithm::Spanish),
    ("ita", "it", Algorithm::Italian),
    ("por", "pt", Algorithm::Portuguese),
    ("nld", "nl", Algorithm::Dutch),
    ("swe", "sv", Algorithm::Swedish),
    ("dan", "da", Algorithm::Danish),
    ("nob", "no", Algorithm::Norwegian),
    ("fin", "fi", Algorithm::Finnish),
    ("hun", "hu", Algorithm::Hungarian),
    ("ron", "ro", Algorithm::Romanian),
    ("rus", "ru", Algorithm::Russian),
    ("tur", "tr", Algorithm::Turkish),
    ("ell", "el", Algorithm::Greek),
    ("ara", "ar", Algorithm::Arabic),
    ("tam", "ta", Algorithm::Tamil),
];

/// Most slots of one analyser's stem cache (a power of two; 64 bytes each,
/// 1 MiB). tantivy clones an analyser per segment writer and per query; a
/// clone's table starts small and grows with use (see [`StemCache::place`]).
const STEM_SLOTS: usize = 16 * 1024;

/// Slots of a new stem cache (16 KiB), before use makes it grow.
const STEM_FIRST_SLOTS: usize = 256;

/// Longest word (and stem) a slot holds, in bytes; longer ones are stemmed
/// every time.
const STEM_SLOT_BYTES: usize = 31;

/// The analyser name used for the body field of a stemmed language suffix.
pub fn stem_analyzer_name(suffix: &str) -> String {
    format!("gl_stem_{suffix}")
}

/// Registers every analyser gleaner uses on `index`.
pub fn register(index: &Index) {
    let manager = index.tokenizers();
    manager.register(FOLD, fold_analyzer());
    manager.register(
        KEY,
        TextAnalyzer::builder(RawTokenizer::default())
            .filter(LowerCaser)
            .build(),
    );
    for (_, suffix, lang) in STEMMED {
        let analyzer = TextAnalyzer::builder(MailTokenizer::folding())
            .filter(CachedStemmer::new(lang))
            .build();
        manager.register(&stem_analyzer_name(suffix), analyzer);
    }
}

/// The folded, unstemmed analyser on its own (for tests and the brute-force checks).
pub fn fold_analyzer() -> TextAnalyzer {
    TextAnalyzer::from(MailTokenizer::folding())
}

/// What [`MailTokenizer::folding`] does in one pass, as tantivy's filters:
/// tokens of [`MAX_TOKEN_BYTES`] or more dropped (their positions kept),
/// lowercased, accents folded. The folding tokenizer sends the tokens it
/// cannot copy as they are through this chain, and the tests hold the two equal.
fn fold_chain<T: Tokenizer>(tokenizer: T) -> TextAnalyzer {
    TextAnalyzer::builder(tokenizer)
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

/// The stemmed analyser of `algorithm` for highlighting words of a query
/// whose terms start with one of `initials`: it gives every word the index's
/// term wherever that term could be one of the query's, and stems no other
/// word (a snippet's few hundred words, most of them not the query's, cost a
/// snowball run each otherwise). Snowball stemmers of the languages in
/// [`keeps_initial`] only strip and rewrite endings (Dutch strips `ge-`), so a word whose first
/// folded letter starts no query term cannot stem to one; for the others
/// every word is stemmed.
pub fn highlight_analyzer(algorithm: Algorithm, initials: &[char]) -> TextAnalyzer {
    let initials = keeps_initial(algorithm).then(|| initials.to_vec());
    TextAnalyzer::builder(MailTokenizer::folding())
        .filter(InitialStemmer {
            stemmer: frostem::Stemmer::new(algorithm),
            initials,
        })
        .build()
}

/// Does `algorithm` keep a word's first letter (no prefix stripping)?
pub fn keeps_initial(algorithm: Algorithm) -> bool {
    !matches!(
        algorithm,
        Algorithm::Greek | Algorithm::Arabic | Algorithm::Tamil | Algorithm::Dutch
    )
}

/// The stemming of [`highlight_analyzer`]: only words starting with one of
/// `initials` (all words when `None`).
#[derive(Clone)]
struct InitialStemmer {
    stemmer: frostem::Stemmer,
    initials: Option<Vec<char>>,
}

impl TokenFilter for InitialStemmer {
    type Tokenizer<T: Tokenizer> = InitialStemmerFilter<T>;

    fn transform<T: Tokenizer>(self, tokenizer: T) -> InitialStemmerFilter<T> {
        InitialStemmerFilter {
            inner: tokenizer,
            rule: self,
        }
    }
}

#[derive(Clone)]
struct InitialStemmerFilter<T> {
    inner: T,
    rule: InitialStemmer,
}

impl<T: Tokenizer> Tokenizer for InitialStemmerFilter<T> {
    type TokenStream<'a> = InitialStemmerStream<'a, T::TokenStream<'a>>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> Self::TokenStream<'a> {
        InitialStemmerStream {
            tail: self.inner.token_stream(text),
            rule: &self.rule,
        }
    }
}

struct InitialStemmerStream<'a, T> {
    tail: T,
    rule: &'a InitialStemmer,
}

impl<T: TokenStream> TokenStream for InitialStemmerStream<'_, T> {
    fn advance(&mut self) -> bool {
        if !self.tail.advance() {
            return false;
        }
        let token = self.tail.token_mut();
        let wanted = match (&self.rule.initials, token.text.chars().next()) {
            (None, _) => true,
            (Some(initials), Some(c)) => initials.contains(&c),
            (Some(_), None) => false,
        };
        if wanted {
            if let Some(stem) = changed_stem(&self.rule.stemmer, &token.text) {
                token.text = stem;
            }
        }
        true
    }

    fn token(&self) -> &Token {
        self.tail.token()
    }

    fn token_mut(&mut self) -> &mut Token {
        self.tail.token_mut()
    }
}

/// The snowball stemmer of one language (what tantivy's `Stemmer` filter does),
/// remembering the stems of the words it has seen: a list repeats its words, and
/// a cache hit costs one hash and one 64-byte slot instead of a snowball run.
#[derive(Clone, Copy)]
pub struct CachedStemmer {
    stemmer: frostem::Stemmer,
}

impl CachedStemmer {
    /// The stemmer of `algorithm`.
    pub fn new(algorithm: Algorithm) -> CachedStemmer {
        CachedStemmer {
            stemmer: frostem::Stemmer::new(algorithm),
        }
    }
}

impl TokenFilter for CachedStemmer {
    type Tokenizer<T: Tokenizer> = CachedStemmerFilter<T>;

    fn transform<T: Tokenizer>(self, tokenizer: T) -> CachedStemmerFilter<T> {
        CachedStemmerFilter {
            stemmer: self.stemmer,
            inner: tokenizer,
            cache: StemCache::default(),
        }
    }
}

/// [`CachedStemmer`] applied to a tokenizer; owns the cache (one per clone).
#[derive(Clone)]
pub struct CachedStemmerFilter<T> {
    stemmer: frostem::Stemmer,
    inner: T,
    cache: StemCache,
}

impl<T: Tokenizer> Tokenizer for CachedStemmerFilter<T> {
    type TokenStream<'a> = CachedStemmerStream<'a, T::TokenStream<'a>>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> Self::TokenStream<'a> {
        CachedStemmerStream {
            tail: self.inner.token_stream(text),
            stemmer: self.stemmer,
            cache: &mut self.cache,
        }
    }
}

/// One remembered word: its bytes and its stem's, zero-padded, in one cache
/// line (comparing two padded arrays needs no call and no pointer chase).
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct StemSlot {
    word_len: u8,
    word: [u8; STEM_SLOT_BYTES],
    /// Length of the stem; `SAME` when the stem is the word itself.
    stem_len: u8,
    stem: [u8; STEM_SLOT_BYTES],
}

/// `stem_len` of a word that stems to itself.
const SAME: u8 = u8::MAX;

/// A direct-mapped table of words and their stems: a word's hash picks its
/// slot, a new word takes the slot over. Empty until the first word.
#[derive(Clone, Default)]
struct StemCache {
    slots: Vec<StemSlot>,
    /// Words looked up since the table was last made larger.
    used: usize,
}

impl StemCache {
    /// The word padded to a slot's width, and the slot it belongs in; `None`
    /// for words too long to keep.
    fn place(&mut self, word: &str) -> Option<([u8; STEM_SLOT_BYTES], &mut StemSlot)> {
        let bytes = word.as_bytes();
        if bytes.len() > STEM_SLOT_BYTES {
            return None;
        }
        // A query stems a few words: its table starts at 16 KiB and grows
        // (forgetting what it held) as an indexing thread keeps using it.
        self.used += 1;
        let size = self.slots.len();
        if size < STEM_SLOTS && self.used > size * 4 {
            let empty = StemSlot {
                word_len: u8::MAX,
                word: [0; STEM_SLOT_BYTES],
                stem_len: 0,
                stem: [0; STEM_SLOT_BYTES],
            };
            self.slots = vec![empty; (size * 8).clamp(STEM_FIRST_SLOTS, STEM_SLOTS)];
            self.used = 0;
        }
        let mut padded = [0u8; STEM_SLOT_BYTES];
        padded[..bytes.len()].copy_from_slice(bytes);
        let hash = rustc_hash::FxBuildHasher.hash_one(bytes);
        let slots = self.slots.len().max(1);
        let slot = self.slots.get_mut((hash >> 40) as usize % slots)?;
        Some((padded, slot))
    }
}

/// The token stream of [`CachedStemmerFilter`].
pub struct CachedStemmerStream<'a, T> {
    tail: T,
    stemmer: frostem::Stemmer,
    cache: &'a mut StemCache,
}

impl<T: TokenStream> TokenStream for CachedStemmerStream<'_, T> {
    fn advance(&mut self) -> bool {
        if !self.tail.advance() {
            return false;
        }
        let token = self.tail.token_mut();
        let Some((padded, slot)) = self.cache.place(&token.text) else {
            if let Some(stem) = changed_stem(&self.stemmer, &token.text) {
                token.text = stem;
            }
            return true;
        };
        let len = token.text.len();
        if usize::from(slot.word_len) != len || slot.word != padded {
            slot.word_len = len as u8;
            slot.word = padded;
            match changed_stem(&self.stemmer, &token.text) {
                None => slot.stem_len = SAME,
                Some(stem) => {
                    match slot.stem.get_mut(..stem.len()) {
                        Some(room) => {
                            room.copy_from_slice(stem.as_bytes());
                            slot.stem_len = stem.len() as u8;
                        }
                        // A stem too long to keep: the word is forgotten again.
                        None => slot.word_len = u8::MAX,
                    }
                    token.text = stem;
                }
            }
            return true;
        }
        if slot.stem_len != SAME {
            let stem = slot
                .stem
                .get(..usize::from(slot.stem_len))
                .unwrap_or_default();
            // The bytes were copied from a `str`, so they are UTF-8.
            if let Ok(stem) = std::str::from_utf8(stem) {
                token.text.clear();
                token.text.push_str(stem);
            }
        }
        true
    }

    fn token(&self) -> &Token {
        self.tail.token()
    }

    fn token_mut(&mut self) -> &mut Token {
        self.tail.token_mut()
    }
}

/// The stem of `word`, or `None` when it is the word itself.
fn changed_stem(stemmer: &frostem::Stemmer, word: &str) -> Option<String> {
    match stemmer.stem(word) {
        std::borrow::Cow::Borrowed(stem) if stem == word => None,
        stem => Some(stem.into_owned()),
    }
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

/// A document key as the [`KEY`] analyser indexes it: lowercased char by char,
/// as tantivy's `LowerCaser` does (lookups must lowercase the same way).
pub fn lowercase_key(key: &str) -> String {
    key.chars().flat_map(char::to_lowercase).collect()
}

/// Splits on non-alphanumerics; CJK runs become overlapping bigrams.
///
/// [`MailTokenizer::folding`] also drops overlong tokens, lowercases and folds
/// accents as it copies each token (what `RemoveLongFilter`, `LowerCaser` and
/// `AsciiFoldingFilter` do, without three more passes over every token): ASCII
/// tokens and tokens whose every character lowercases and folds to itself are
/// copied with their ASCII letters lowercased; the rest go through tantivy's
/// own filters.
#[derive(Clone, Default)]
pub struct MailTokenizer {
    token: Token,
    /// Lowercases and folds tokens the slow way (see [`fold_chain`]); `None`:
    /// tokens are copied as written.
    fold: Option<TextAnalyzer>,
}

impl MailTokenizer {
    /// The tokenizer of every folded field: tokens dropped when overlong,
    /// lowercased and accent-folded.
    pub fn folding() -> MailTokenizer {
        MailTokenizer {
            token: Token::default(),
            fold: Some(fold_chain(RawTokenizer::default())),
        }
    }
}

/// The token stream of [`MailTokenizer`]: one reused token, no allocation per token.
pub struct MailTokenStream<'a> {
    text: &'a str,
    /// Byte offset of the next character to look at.
    pos: usize,
    token: &'a mut Token,
    fold: Option<&'a mut TextAnalyzer>,
    /// Inside a CJK run: the start of the previous CJK character, and whether
    /// a bigram was already emitted in this run.
    cjk: Option<(usize, bool)>,
}

impl Tokenizer for MailTokenizer {
    type TokenStream<'a> = MailTokenStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> MailTokenStream<'a> {
        self.token.reset();
        MailTokenStream {
            text,
            pos: 0,
            token: &mut self.token,
            fold: self.fold.as_mut(),
            cjk: None,
        }
    }
}

impl MailTokenStream<'_> {
    /// Makes `text[from..to]` the current token; false when a folding
    /// tokenizer drops it as overlong (its position is used all the same).
    fn emit(&mut self, from: usize, to: usize) -> bool {
        self.token.position = self.token.position.wrapping_add(1);
        let word = &self.text[from..to];
        self.token.text.clear();
        match self.fold.as_deref_mut() {
            None => self.token.text.push_str(word),
            Some(_) if word.len() >= MAX_TOKEN_BYTES => return false,
            Some(_) if word.is_ascii() || word.chars().all(folds_to_itself) => {
                self.token.text.push_str(word);
                self.token.text.make_ascii_lowercase();
            }
            Some(chain) => {
                let mut stream = chain.token_stream(word);
                if stream.advance() {
                    std::mem::swap(&mut self.token.text, &mut stream.token_mut().text);
                }
            }
        }
        self.token.offset_from = from;
        self.token.offset_to = to;
        self.token.position_length = 1;
        true
    }

    fn end_of(&self, start: usize) -> usize {
        self.text[start..]
            .chars()
            .next()
            .map_or(start, |c| start + c.len_utf8())
    }
}

impl TokenStream for MailTokenStream<'_> {
    fn advance(&mut self) -> bool {
        loop {
            match self.next_word() {
                Some((from, to)) => {
                    if self.emit(from, to) {
                        return true;
                    }
                }
                None => return false,
            }
        }
    }

    fn token(&self) -> &Token {
        self.token
    }

    fn token_mut(&mut self) -> &mut Token {
        self.token
    }
}

impl MailTokenStream<'_> {
    /// The byte range of the next token (a word or a CJK bigram).
    fn next_word(&mut self) -> Option<(usize, usize)> {
        let bytes = self.text.as_bytes();
        loop {
            if let Some((prev, emitted)) = self.cjk {
                match char_at(self.text, self.pos) {
                    Some((c, after)) if is_word_char(c) && is_cjk(c) => {
                        let next = self.pos;
                        self.pos = after;
                        self.cjk = Some((next, true));
                        return Some((prev, after));
                    }
                    _ => {
                        self.cjk = None;
                        if !emitted {
                            let to = self.end_of(prev);
                            return Some((prev, to));
                        }
                    }
                }
                continue;
            }
            // Up to the next alphanumeric: ASCII separators byte by byte.
            let (start, c) = loop {
                while bytes
                    .get(self.pos)
                    .is_some_and(|&b| b < 0x80 && !b.is_ascii_alphanumeric())
                {
                    self.pos += 1;
                }
                let (c, after) = char_at(self.text, self.pos)?;
                let at = self.pos;
                self.pos = after;
                if is_word_char(c) {
                    break (at, c);
                }
            };
            if is_cjk(c) {
                self.cjk = Some((start, false));
                continue;
            }
            // The rest of the word: ASCII letters and digits byte by byte.
            loop {
                while bytes.get(self.pos).is_some_and(u8::is_ascii_alphanumeric) {
                    self.pos += 1;
                }
                match char_at(self.text, self.pos) {
                    Some((c, after)) if is_word_char(c) && !is_cjk(c) => self.pos = after,
                    _ => break,
                }
            }
            return Some((start, self.pos));
        }
    }
}

/// Letters and digits of one 256-character block of the Basic Multilingual
/// Plane, and the characters of it that lowercase and fold to themselves.
struct Block {
    word: [u64; 4],
    plain: [u64; 4],
}

/// The blocks, each worked out the first time a character of it is seen:
/// `char::is_alphanumeric` and `to_lowercase` search tables on every call,
/// and real mail has long runs of non-ASCII text (Arabic spam on a kernel
/// list cost 7% of indexing in those lookups).
static BLOCKS: [OnceLock<Block>; 256] = [const { OnceLock::new() }; 256];

fn block(c: char) -> Option<(&'static Block, usize)> {
    let code = c as usize;
    let hi = code >> 8;
    let cell = BLOCKS.get(hi)?;
    Some((cell.get_or_init(|| Block::of(hi)), code & 0xff))
}

impl Block {
    fn of(hi: usize) -> Block {
        let mut chain = fold_chain(RawTokenizer::default());
        let mut word = [0u64; 4];
        let mut plain = [0u64; 4];
        for lo in 0..256usize {
            let Some(c) = char::from_u32(((hi << 8) | lo) as u32) else {
                continue;
            };
            let bit = 1u64 << (lo & 63);
            if c.is_alphanumeric() {
                word[lo >> 6] |= bit;
            }
            let mut one = [0u8; 4];
            let written: &str = c.encode_utf8(&mut one);
            let mut folded = String::new();
            let mut stream = chain.token_stream(written);
            while stream.advance() {
                folded.push_str(&stream.token().text);
            }
            if folded == written {
                plain[lo >> 6] |= bit;
            }
        }
        Block { word, plain }
    }

    fn has(bits: &[u64; 4], lo: usize) -> bool {
        bits[lo >> 6] & (1u64 << (lo & 63)) != 0
    }
}

/// `c.is_alphanumeric()`, from the block tables where it can.
#[inline]
fn is_word_char(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphanumeric();
    }
    match block(c) {
        Some((b, lo)) => Block::has(&b.word, lo),
        None => c.is_alphanumeric(),
    }
}

/// Whether lowercasing and accent folding leave `c` as it is, but for ASCII
/// letters (which the caller lowercases).
#[inline]
fn folds_to_itself(c: char) -> bool {
    if c.is_ascii() {
        return true;
    }
    block(c).is_some_and(|(b, lo)| Block::has(&b.plain, lo))
}

/// The character at byte `pos` of `text` and the byte after it.
#[inline]
fn char_at(text: &str, pos: usize) -> Option<(char, usize)> {
    let b = *text.as_bytes().get(pos)?;
    if b < 0x80 {
        return Some((char::from(b), pos + 1));
    }
    let c = text.get(pos..)?.chars().next()?;
    Some((c, pos + c.len_utf8()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fold(text: &str) -> Vec<String> {
        terms(&mut fold_analyzer(), text)
    }

    /// Every distinct folded word of the bundled sample's mail (several
    /// languages), and a few words of each stemmed language.
    fn sample_words() -> Vec<String> {
        let mut text = String::from(
            "Zebrastreifen schön Übergänge développement réseaux conexión \
             configurações sviluppatori ontwikkelaars utvecklare udviklere \
             utviklere kehittäjät fejlesztők dezvoltatorilor разработчики \
             geliştiriciler dying lying tying skies yourselves",
        );
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/sample");
        let mut stack = vec![root];
        while let Some(p) = stack.pop() {
            if p.is_dir() {
                for e in std::fs::read_dir(&p).expect("read_dir").flatten() {
                    stack.push(e.path());
                }
            } else if let Ok(bytes) = std::fs::read(&p) {
                text.push_str(&String::from_utf8_lossy(&bytes));
                text.push(' ');
            }
        }
        let mut words = fold(&text);
        words.sort();
        words.dedup();
        words
    }

    #[test]
    fn stemmers_that_keep_the_initial_keep_it_for_every_sample_word() {
        let words = sample_words();
        assert!(words.len() > 5_000, "{}", words.len());
        for (_, _, algorithm) in STEMMED {
            if !keeps_initial(algorithm) {
                continue;
            }
            let stemmer = frostem::Stemmer::new(algorithm);
            for w in &words {
                let stem = stemmer.stem(w);
                assert_eq!(
                    stem.chars().next(),
                    w.chars().next(),
                    "{algorithm:?} stems {w:?} to {stem:?}"
                );
            }
        }
    }

    #[test]
    fn highlighting_finds_the_query_terms_where_the_index_analyser_does() {
        let words = sample_words();
        let text = words.join(" ");
        for (_, suffix, algorithm) in STEMMED {
            let mut index_analyzer = TextAnalyzer::builder(MailTokenizer::folding())
                .filter(CachedStemmer::new(algorithm))
                .build();
            let all = terms(&mut index_analyzer, &text);
            // Query terms: every 97th word's term, and words the stemmer changes.
            let wanted: std::collections::HashSet<&String> = all
                .iter()
                .enumerate()
                .filter(|(i, t)| i % 97 == 0 || !words.contains(t))
                .map(|(_, t)| t)
                .take(200)
                .collect();
            let mut initials: Vec<char> = wanted.iter().filter_map(|t| t.chars().next()).collect();
            initials.sort_unstable();
            initials.dedup();
            let highlighted = terms(&mut highlight_analyzer(algorithm, &initials), &text);
            assert_eq!(highlighted.len(), all.len(), "{suffix}");
            let mut found = 0;
            for (h, a) in highlighted.iter().zip(&all) {
                assert_eq!(
                    wanted.contains(h),
                    wanted.contains(a),
                    "{suffix}: {h} / {a}"
                );
                if wanted.contains(a) {
                    assert_eq!(h, a, "{suffix}");
                    found += 1;
                }
            }
            assert!(found >= wanted.len(), "{suffix}");
        }
    }

    /// The tokenizer as it was, character by character: the byte-wise fast
    /// paths must split every text exactly as it did.
    fn reference_tokens(text: &str) -> Vec<(String, usize, usize)> {
        let mut out = Vec::new();
        let mut chars = text.char_indices().peekable();
        let end_of = |start: usize| {
            text[start..]
                .chars()
                .next()
                .map_or(start, |c| start + c.len_utf8())
        };
        let mut cjk: Option<(usize, bool)> = None;
        loop {
            if let Some((prev, emitted)) = cjk {
                match chars.peek().copied() {
                    Some((next, c)) if c.is_alphanumeric() && is_cjk(c) => {
                        chars.next();
                        cjk = Some((next, true));
                        out.push((prev, next + c.len_utf8()));
                    }
                    _ => {
                        cjk = None;
                        if !emitted {
                            out.push((prev, end_of(prev)));
                        }
                    }
                }
                continue;
            }
            let (start, c) = loop {
                match chars.next() {
                    Some((i, c)) if c.is_alphanumeric() => break (i, c),
                    Some(_) => {}
                    None => {
                        return out
                            .into_iter()
                            .map(|(a, b)| (text[a..b].to_string(), a, b))
                            .collect()
                    }
                }
            };
            if is_cjk(c) {
                cjk = Some((start, false));
                continue;
            }
            let mut end = start + c.len_utf8();
            while let Some(&(i, c)) = chars.peek() {
                if !c.is_alphanumeric() || is_cjk(c) {
                    break;
                }
                end = i + c.len_utf8();
                chars.next();
            }
            out.push((start, end));
        }
    }

    fn our_tokens(text: &str) -> Vec<(String, usize, usize)> {
        let mut tokenizer = MailTokenizer::default();
        let mut stream = tokenizer.token_stream(text);
        let mut out = Vec::new();
        let mut position = 0;
        while stream.advance() {
            let t = stream.token();
            assert_eq!(t.position, position, "positions count up by one");
            position += 1;
            out.push((t.text.clone(), t.offset_from, t.offset_to));
        }
        out
    }

    #[test]
    fn tokens_equal_the_char_by_char_definition() {
        for text in [
            "",
            "a",
            "Hello, wörld! foo_bar x@y.org 42nd",
            "日本語のテキスト and ascii",
            "検索",
            "検",
            "Ünïcödé—dash…ellipsis ½ ² Ⅻ",
            "tail 検",
            "😀 emoji 😀x",
        ] {
            assert_eq!(our_tokens(text), reference_tokens(text), "{text:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn tokens_equal_the_definition_on_any_text(text in "[a-zA-Z0-9 .,@_\\-\\n\\t\\u{0}\\u{7f}\\u{80}-\\u{ff}é²½Ⅻ日本語のテ한국😀\\u{200b}\\u{3000}]{0,48}") {
            proptest::prop_assert_eq!(our_tokens(&text), reference_tokens(&text));
        }
    }

    /// (text, from, to, position) of every token of `analyzer` on `text`.
    fn analysed(analyzer: &mut TextAnalyzer, text: &str) -> Vec<(String, usize, usize, usize)> {
        let mut stream = analyzer.token_stream(text);
        let mut out = Vec::new();
        while let Some(t) = stream.next() {
            out.push((t.text.clone(), t.offset_from, t.offset_to, t.position));
        }
        out
    }

    /// The folding tokenizer against tantivy's filters on the plain one.
    fn assert_folds_like_the_filters(text: &str) {
        let ours = analysed(&mut fold_analyzer(), text);
        let theirs = analysed(&mut fold_chain(MailTokenizer::default()), text);
        assert_eq!(ours, theirs, "{text:?}");
    }

    #[test]
    fn folding_in_one_pass_equals_tantivys_filters() {
        for text in [
            "",
            "Hello, WÖRLD! Straße İstanbul ΣΊΣΥΦΟΣ Ǆemal ﬁne ＡＢＣ ½ Ⅻ",
            "مرحبا بالعالم العربي وهذا نص طويل",
            "Привет МИР, Ελληνικά ΚΕΊΜΕΝΟ",
            "全文検索です and 한국어 텍스트",
            &format!("short {} after {}x", "A".repeat(48), "é".repeat(30)),
            &"b".repeat(47),
        ] {
            assert_folds_like_the_filters(text);
        }
        // Every character of the Basic Multilingual Plane, in words of one
        // to three characters.
        let every: String = (0x80u32..0x1_0000)
            .filter_map(char::from_u32)
            .enumerate()
            .flat_map(|(i, c)| [c, if i % 3 == 2 { ' ' } else { 'q' }])
            .collect();
        assert_folds_like_the_filters(&every);
    }

    proptest::proptest! {
        #[test]
        fn folding_equals_the_filters_on_any_text(text in "[a-zA-Z0-9 .,@_\\-\\u{80}-\\u{24f}\\u{370}-\\u{4ff}\\u{600}-\\u{6ff}\\u{1e00}-\\u{1eff}\\u{2000}-\\u{2bff}\\u{ff00}-\\u{ffef}日本한😀]{0,80}") {
            let ours = analysed(&mut fold_analyzer(), &text);
            let theirs = analysed(&mut fold_chain(MailTokenizer::default()), &text);
            proptest::prop_assert_eq!(ours, theirs);
        }
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
    fn cached_stems_equal_tantivys_stemmer_in_every_language() {
        use tantivy::tokenizer::{Language, Stemmer};
        let languages = [
            Language::English,
            Language::German,
            Language::French,
            Language::Spanish,
            Language::Italian,
            Language::Portuguese,
            Language::Dutch,
            Language::Swedish,
            Language::Danish,
            Language::Norwegian,
            Language::Finnish,
            Language::Hungarian,
            Language::Romanian,
            Language::Russian,
            Language::Turkish,
            Language::Greek,
            Language::Arabic,
            Language::Tamil,
        ];
        // Every word twice (the second time from the cache), in several texts
        // through one analyser, as a segment writer uses it.
        let texts = [
            "Running upgrades relating connections replicated replication runs",
            "Häuser häuser Verbindungen verbindungen connexions connexions",
            "соединения соединения συνδέσεις συνδέσεις bağlantılar bağlantılar",
            "upgrades Running 検索 検索 naïve NAÏVE café cafés",
            "Straße STRASSE internationalisationsbureaucratically internationalisationsbureaucratically",
        ];
        // More distinct words than the cache has slots, each twice: slots are
        // taken over and words come back.
        let many: String = (0..STEM_SLOTS + 4096)
            .map(|i| format!("connecting{i}s running{}ies ", i % 977))
            .collect();
        for (lang, (_, _, algorithm)) in languages.into_iter().zip(STEMMED) {
            let mut ours = TextAnalyzer::builder(MailTokenizer::folding())
                .filter(CachedStemmer::new(algorithm))
                .build();
            let mut theirs = TextAnalyzer::builder(MailTokenizer::default())
                .filter(LowerCaser)
                .filter(AsciiFoldingFilter)
                .filter(Stemmer::new(lang))
                .build();
            for text in texts.into_iter().chain([many.as_str(), many.as_str()]) {
                assert_eq!(terms(&mut ours, text), terms(&mut theirs, text), "{lang:?}");
            }
        }
    }

    #[test]
    fn long_junk_is_dropped() {
        let junk = "A".repeat(200);
        assert!(fold(&junk).is_empty());
    }
}
