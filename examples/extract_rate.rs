//! Extraction and analysis rate on one core, without the index: where a
//! bulk `gleaner index` spends the CPU that is gleaner's own (MIME parsing,
//! quoting, signals, language, content hash; then the tokenizer and stemmer
//! tantivy calls), measured without tantivy's threads and the scheduler
//! in between, so a change of a few percent shows above the noise.
//!
//! cargo run --release --example extract_rate -- DIR [ROUNDS]
//!
//! DIR is read recursively (every file is one message, as in a Maildir);
//! the files are read into memory once, then each phase runs ROUNDS times
//! (default 5) and its fastest round is reported.

use std::path::Path;
use std::time::Instant;

use gleaner::extract::{self, ExtractContext, MailDoc};
use gleaner::index::analysis;
use tantivy::tokenizer::{TextAnalyzer, TokenStream};

fn files(dir: &Path, out: &mut Vec<Vec<u8>>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            files(&path, out)?;
        } else {
            out.push(std::fs::read(&path)?);
        }
    }
    Ok(())
}

fn best_of<T>(rounds: usize, mut f: impl FnMut() -> T) -> (f64, T) {
    let mut best = f64::MAX;
    let mut last = None;
    for _ in 0..rounds {
        let t = Instant::now();
        let v = f();
        best = best.min(t.elapsed().as_secs_f64());
        last = Some(v);
    }
    (best, last.expect("at least one round"))
}

fn count_tokens(analyzer: &mut TextAnalyzer, text: &str) -> u64 {
    let mut stream = analyzer.token_stream(text);
    let mut n = 0;
    while stream.advance() {
        n += 1;
    }
    n
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = args
        .next()
        .ok_or_else(|| anyhow::anyhow!("usage: extract_rate DIR [ROUNDS]"))?;
    let rounds: usize = args.next().map_or(Ok(5), |r| r.parse())?;
    let mut raw = Vec::new();
    files(Path::new(&dir), &mut raw)?;
    let bytes: usize = raw.iter().map(Vec::len).sum();
    let ctx = ExtractContext::default();
    let (secs, docs) = best_of(rounds, || {
        raw.iter()
            .filter_map(|m| extract::extract(m, &ctx).ok())
            .collect::<Vec<MailDoc>>()
    });
    println!(
        "extract  {:>8.3} s  {} messages ({} extracted), {:.1} MiB: {:.0} msgs/s, {:.1} µs/msg",
        secs,
        raw.len(),
        docs.len(),
        bytes as f64 / (1 << 20) as f64,
        raw.len() as f64 / secs,
        secs * 1e6 / raw.len().max(1) as f64
    );
    let mut stemmed = TextAnalyzer::builder(analysis::MailTokenizer::folding())
        .filter(analysis::CachedStemmer::new(frostem::Algorithm::English))
        .build();
    let mut folded = analysis::fold_analyzer();
    let (secs, tokens) = best_of(rounds, || {
        docs.iter()
            .map(|d| {
                count_tokens(&mut stemmed, &d.body)
                    + count_tokens(&mut folded, &d.quoted)
                    + count_tokens(&mut folded, &d.footer)
                    + count_tokens(&mut folded, &d.attachment_text)
            })
            .sum::<u64>()
    });
    println!(
        "analyse  {:>8.3} s  {} tokens: {:.1} ns/token",
        secs,
        tokens,
        secs * 1e9 / tokens.max(1) as f64
    );
    Ok(())
}
