//! Language detection of a body: whatlang on a bounded sample, restricted to the
//! languages the index has analysers for, with "und" when unsure.

use std::sync::OnceLock;

use whatlang::{Detector, Lang};

use super::text::prefix_at_most;

/// Bytes of text looked at (whatlang's cost grows with the sample).
const SAMPLE_BYTES: usize = 600;

/// Bytes of the sample whatlang looks at when the function words did not
/// already say English: its trigram scoring over every allowed language was
/// the largest single cost of extraction, and a few sentences tell the
/// languages allowed here apart.
const WHATLANG_BYTES: usize = 320;

/// Minimum confidence for a detection whatlang does not itself call reliable.
const MIN_CONFIDENCE: f64 = 0.5;

/// The 18 languages with tantivy stemmers, then those with their own unstemmed
/// handling (CJK bigrams) or that are common on lists.
const ALLOWED: [Lang; 24] = [
    Lang::Eng,
    Lang::Deu,
    Lang::Fra,
    Lang::Spa,
    Lang::Ita,
    Lang::Por,
    Lang::Nld,
    Lang::Swe,
    Lang::Dan,
    Lang::Nob,
    Lang::Fin,
    Lang::Hun,
    Lang::Ron,
    Lang::Rus,
    Lang::Tur,
    Lang::Ell,
    Lang::Ara,
    Lang::Tam,
    Lang::Cmn,
    Lang::Jpn,
    Lang::Kor,
    Lang::Ukr,
    Lang::Pol,
    Lang::Ces,
];

fn detector() -> &'static Detector {
    static DETECTOR: OnceLock<Detector> = OnceLock::new();
    DETECTOR.get_or_init(|| Detector::with_allowlist(ALLOWED.to_vec()))
}

/// The whatlang 3-letter code of `text` ("eng", "deu", "jpn", "cmn", ...) among
/// the allowed languages, or "und" when the text is too short or the guess weak.
///
/// Only the first ~1,500 bytes are looked at, and lines that are mostly not
/// letters (URLs, numbers, code) are skipped, so the cost is bounded.
pub fn detect_lang(text: &str) -> &'static str {
    let sample = sample(text);
    // Fast path: most list mail is English, and a text where a third of the words
    // are English function words is English; whatlang was the indexer's largest cost.
    if clearly_english(&sample) {
        return "eng";
    }
    match detector().detect(prefix_at_most(&sample, WHATLANG_BYTES)) {
        Some(info) if info.is_reliable() || info.confidence() >= MIN_CONFIDENCE => {
            info.lang().code()
        }
        // whatlang is unsure on short texts; short English replies are common
        // on lists and easy to recognise by their function words.
        _ if looks_english(&sample) => "eng",
        _ => "und",
    }
}

/// English function words that other Latin-script languages rarely use.
const ENGLISH_WORDS: &[&str] = &[
    "the", "and", "of", "to", "for", "with", "that", "this", "it", "it's", "i", "i'm", "i've",
    "you", "we", "they", "he", "she", "me", "my", "your", "our", "is", "are", "be", "been", "have",
    "has", "had", "do", "does", "did", "not", "don't", "can", "could", "would", "should", "what",
    "which", "who", "when", "where", "why", "how", "if", "or", "but", "at", "on", "from", "by",
    "about", "there", "their", "some", "any", "all", "just", "thanks", "thank", "please", "yes",
    "no", "works", "here", "now", "then", "than", "too", "very",
];

/// Is `w` (any case) one of [`ENGLISH_WORDS`]? Without allocating: longer
/// words are rejected by length, shorter ones lowercased on the stack.
fn is_english_word(w: &str) -> bool {
    const LONGEST: usize = 6;
    if w.len() > LONGEST {
        return false;
    }
    let mut buf = [0u8; LONGEST];
    for (b, c) in buf.iter_mut().zip(w.bytes()) {
        *b = c.to_ascii_lowercase();
    }
    let lower = &buf[..w.len()];
    ENGLISH_WORDS.iter().any(|e| e.as_bytes() == lower)
}

/// At least two English function words making up a quarter of the words.
fn english_hits(sample: &str) -> (usize, usize) {
    let mut words = 0usize;
    let mut hits = 0usize;
    for w in sample.split_whitespace().take(200) {
        let w = w.trim_matches(|c: char| !c.is_alphanumeric() && c != '\'');
        if w.is_empty() {
            continue;
        }
        words += 1;
        if is_english_word(w) {
            hits += 1;
        }
    }
    (hits, words)
}

fn looks_english(sample: &str) -> bool {
    let (hits, words) = english_hits(sample);
    hits >= 2 && hits * 4 >= words
}

fn clearly_english(sample: &str) -> bool {
    let (hits, words) = english_hits(sample);
    hits >= 6 && hits * 3 >= words
}

/// The first words of `text`, without URLs and e-mail addresses.
fn sample(text: &str) -> String {
    let mut out = String::with_capacity(SAMPLE_BYTES + 64);
    // Bound the scan too: an unspaced CJK text is one long "word".
    for word in prefix_at_most(text, 8 * SAMPLE_BYTES).split_whitespace() {
        if out.len() >= SAMPLE_BYTES {
            break;
        }
        if word.contains("://") || word.contains('@') || word.starts_with("www.") {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        let room = SAMPLE_BYTES + 64 - out.len();
        out.push_str(prefix_at_most(word, room));
    }
    out
}
