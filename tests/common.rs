//! Shared helpers: temp dirs, the binary, the sample corpus, the shared corpora.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use gleaner::extract::{self, ExtractContext, MailDoc};
use gleaner::index::ingest::{self, IngestOptions, IngestReport};
use gleaner::index::writer::Writer;
use gleaner::index::MailIndex;
use gleaner::store::{self, ScanOptions};

/// A fresh temporary directory, removed when dropped.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("gleaner-test-")
        .tempdir()
        .expect("temp dir")
}

/// The project directory.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The committed sample corpus.
pub fn sample() -> PathBuf {
    root().join("corpus/sample")
}

/// `../shared/corpora`, when present (tests that use it print a notice and return otherwise).
pub fn shared_corpora() -> Option<PathBuf> {
    let p = std::env::var_os("GLEANER_CORPORA")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("../shared/corpora"));
    if p.is_dir() {
        Some(p)
    } else {
        eprintln!(
            "NOTICE: {} is absent; tests on the shared corpora are skipped",
            p.display()
        );
        None
    }
}

/// Runs the gleaner binary with `--data data` and `args`.
pub fn gleaner(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gleaner"))
        .arg("--data")
        .arg(data)
        .args(args)
        .output()
        .expect("run gleaner")
}

/// Stdout of a successful run (panics with stderr otherwise).
pub fn gleaner_ok(data: &Path, args: &[&str]) -> String {
    let out = gleaner(data, args);
    assert!(
        out.status.success(),
        "gleaner {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// Indexes `paths` in-process into `data/index`.
pub fn index_paths(data: &Path, paths: &[PathBuf]) -> (MailIndex, IngestReport) {
    let index = MailIndex::open(&data.join("index"), true).expect("open index");
    let mut sources = Vec::new();
    for p in paths {
        sources.extend(ingest::discover(p, None).expect("discover"));
    }
    let mut writer = Writer::new(&index, 1).expect("writer");
    let report =
        ingest::ingest(&mut writer, &sources, &IngestOptions::default(), &|_| {}).expect("ingest");
    writer.finish().expect("finish");
    index.reader.reload().expect("reload");
    (index, report)
}

/// Every message of `paths`, extracted independently of the index.
pub fn extract_all(paths: &[PathBuf]) -> Vec<MailDoc> {
    let mut docs = Vec::new();
    for p in paths {
        for source in ingest::discover(p, None).expect("discover") {
            let scan =
                store::scan(&source.path, source.kind, &ScanOptions::default()).expect("scan");
            for raw in scan.flatten() {
                let ctx = ExtractContext {
                    list: source.list.as_deref(),
                    envelope: raw.envelope.as_deref(),
                };
                if let Ok(doc) = extract::extract(&raw.bytes, &ctx) {
                    docs.push(doc);
                }
            }
        }
    }
    docs
}

/// Every document in the index as "message-id content-hash", sorted, with
/// repeats if a message were indexed twice. (Keys are not compared: which of two
/// different messages sharing a Message-ID keeps it as key depends on order.)
pub fn all_keys(index: &MailIndex) -> Vec<String> {
    use tantivy::collector::DocSetCollector;
    use tantivy::query::AllQuery;
    use tantivy::schema::Value;
    let searcher = index.reader.searcher();
    let addrs = searcher
        .search(&AllQuery, &DocSetCollector)
        .expect("all docs");
    let mut keys = Vec::new();
    for a in addrs {
        let d: tantivy::TantivyDocument = searcher.doc(a).expect("doc");
        let field = |f| {
            d.get_first(f)
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default()
        };
        keys.push(format!(
            "{} {}",
            field(index.fields.message_id),
            field(index.fields.content_hash)
        ));
    }
    keys.sort();
    keys
}

/// The identity of a message across index and brute force: its Message-ID, else its raw hash.
pub fn identity(message_id: &str, key: &str) -> String {
    if message_id.is_empty() {
        key.to_string()
    } else {
        message_id.to_string()
    }
}

/// A tiny deterministic PRNG (xorshift) for randomised tests.
pub struct Rng(pub u64);

impl Rng {
    /// Next value.
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A value in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}
