//! "Did you mean": for a query with few hits, its bare words that the index
//! hardly knows, replaced by the most frequent word of the index's own term
//! dictionary within a small edit distance (a Levenshtein automaton over the
//! dictionaries of the folded, unstemmed fields: subject, quoted text and
//! bodies in languages without a stemmer). The work is bounded: a few words,
//! a capped number of dictionary terms.
//!
//! The suggestion is checked by running it for the caller (within their
//! lists): one that would not find more is not offered, so a word known only
//! on a list the caller may not read is never revealed. It knows nothing of
//! HTTP or the CLI.

use std::sync::OnceLock;

use levenshtein_automata::{Distance, LevenshteinAutomatonBuilder, DFA};
use rustc_hash::FxHashMap;
use tantivy::collector::Count;
use tantivy::tokenizer::TokenStream;
use tantivy_fst::Automaton;

use super::{QueryError, Request};
use crate::index::MailIndex;

/// Queries with at most this many hits get suggestions.
pub const FEW_HITS: usize = 5;
/// Words of a query looked at, at most.
const MAX_WORDS: usize = 4;
/// Dictionary terms read per word and field, at most.
const MAX_TERMS: usize = 5_000;

/// A better query.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Suggestion {
    /// The query with its words replaced.
    pub query: String,
    /// How many messages it finds for the caller.
    pub total: usize,
}

/// A suggestion for `req` (which found `total` messages), or `None`.
pub fn did_you_mean(
    index: &MailIndex,
    req: &Request,
    total: usize,
) -> Result<Option<Suggestion>, QueryError> {
    if total > FEW_HITS {
        return Ok(None);
    }
    let searcher = index.reader.searcher();
    let fields = [
        index.fields.subject,
        index.fields.quoted,
        index.fields.body_und,
    ];
    let mut changed = false;
    let mut words: Vec<String> = Vec::new();
    let mut looked = 0;
    for token in req.query.split_whitespace() {
        let Some(term) = plain_word(token).filter(|_| looked < MAX_WORDS) else {
            words.push(token.to_string());
            continue;
        };
        looked += 1;
        match better_word(&searcher, &fields, &term)? {
            Some(w) => {
                changed = true;
                words.push(w);
            }
            None => words.push(token.to_string()),
        }
    }
    if !changed {
        return Ok(None);
    }
    let query = words.join(" ");
    let better = Request {
        query: query.clone(),
        ..req.clone()
    };
    let planned = better.plan(index)?;
    let found = searcher.search(planned.as_ref(), &Count)?;
    Ok((found > total).then_some(Suggestion {
        query,
        total: found,
    }))
}

/// A bare word of the query (no field, quote, operator, wildcard or
/// negation), folded as the index folds it; `None` otherwise.
fn plain_word(token: &str) -> Option<String> {
    let letters = token.chars().all(char::is_alphabetic);
    if !letters || token.chars().count() < 4 || ["AND", "OR", "NOT"].contains(&token) {
        return None;
    }
    let mut analyzer = crate::index::analysis::fold_analyzer();
    let mut stream = analyzer.token_stream(token);
    let mut out = None;
    while let Some(t) = stream.next() {
        if out.is_some() {
            return None;
        }
        out = Some(t.text.clone());
    }
    out
}

/// The most frequent term within edit distance 1 (2 for words of 7
/// letters or more) of `word` in `fields`, when it is far more frequent.
fn better_word(
    searcher: &tantivy::Searcher,
    fields: &[tantivy::schema::Field],
    word: &str,
) -> Result<Option<String>, QueryError> {
    let own = doc_freq(searcher, fields, word)?;
    let max = if word.chars().count() >= 7 { 2 } else { 1 };
    for distance in 1..=max {
        let dfa = builder(distance).build_dfa(word);
        let mut freq: FxHashMap<String, u64> = FxHashMap::default();
        for segment in searcher.segment_readers() {
            for &field in fields {
                let inverted = segment.inverted_index(field)?;
                let mut stream = inverted
                    .terms()
                    .search(Dfa(&dfa))
                    .into_stream()
                    .map_err(|e| QueryError::Index(e.into()))?;
                let mut read = 0;
                while stream.advance() && read < MAX_TERMS {
                    read += 1;
                    if stream.key() == word.as_bytes() {
                        continue;
                    }
                    let key = String::from_utf8_lossy(stream.key()).into_owned();
                    *freq.entry(key).or_default() += u64::from(stream.value().doc_freq);
                }
            }
        }
        let best = freq
            .into_iter()
            .filter(|(t, _)| t.chars().all(char::is_alphabetic))
            .max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(&a.0)));
        if let Some((term, n)) = best {
            if n >= 5 && n >= own.saturating_mul(10) {
                return Ok(Some(term));
            }
        }
    }
    Ok(None)
}

/// Documents holding `term` in any of `fields` (summed; an upper bound).
fn doc_freq(
    searcher: &tantivy::Searcher,
    fields: &[tantivy::schema::Field],
    term: &str,
) -> Result<u64, QueryError> {
    let mut n = 0;
    for &field in fields {
        n += searcher.doc_freq(&tantivy::Term::from_field_text(field, term))?;
    }
    Ok(n)
}

fn builder(distance: u8) -> &'static LevenshteinAutomatonBuilder {
    static ONE: OnceLock<LevenshteinAutomatonBuilder> = OnceLock::new();
    static TWO: OnceLock<LevenshteinAutomatonBuilder> = OnceLock::new();
    let cell = if distance <= 1 { &ONE } else { &TWO };
    cell.get_or_init(|| LevenshteinAutomatonBuilder::new(distance.max(1), true))
}

/// A Levenshtein DFA as the term dictionary's automaton.
struct Dfa<'a>(&'a DFA);

impl Automaton for Dfa<'_> {
    type State = u32;

    fn start(&self) -> u32 {
        self.0.initial_state()
    }

    fn is_match(&self, state: &u32) -> bool {
        matches!(self.0.distance(*state), Distance::Exact(_))
    }

    fn can_match(&self, state: &u32) -> bool {
        *state != levenshtein_automata::SINK_STATE
    }

    fn accept(&self, state: &u32, byte: u8) -> u32 {
        self.0.transition(*state, byte)
    }
}
