//! The IMAP mail index: a tantivy index of the documents Dovecot's `fts_solr`
//! plugin pushes, kept apart from the archive index (in the data directory's
//! `imap/` folder).
//!
//! Documents are keyed by the Solr `id` (`uid/box-guid/user`). `uid` is a fast
//! u64, `box` and `user` are exact strings, and the text fields `hdr`, `body`,
//! `subject`, `from`, `to`, `cc` and `bcc` are folded (NFKD, combining marks
//! stripped, lowercased) but never stemmed: what IMAP sees must not be widened.
//!
//! Matching rules (the query side relies on them, see `query::imap`):
//! * `hdr` and `body` index positions, so a search string becomes a phrase of
//!   whole folded tokens. Tokens are runs of letters and digits; every CJK
//!   ideograph or kana is a token of its own, so a phrase of them is a
//!   substring match.
//! * `subject`, `from`, `to`, `cc` and `bcc` also keep their whole folded value
//!   in a fast (columnar) field: a substring search (`FROM smith`) tests each
//!   distinct value once. Their tokens serve FUZZY only.
//! * Nothing is ranked, so no field keeps norms; the store holds only `box` and
//!   `user` (zstd).
//!
//! This module owns the one writer of this index. It knows nothing of Solr,
//! HTTP or query syntax.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tantivy::directory::MmapDirectory;
use tantivy::schema::{
    Field, IndexRecordOption, NumericOptions, Schema, TextFieldIndexing, TextOptions, STORED,
};
use tantivy::store::{Compressor, ZstdCompressor};
use tantivy::tokenizer::{TextAnalyzer, Token, TokenStream, Tokenizer};
use tantivy::{
    Index, IndexReader, IndexSettings, IndexWriter, ReloadPolicy, TantivyDocument, Term,
};
use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// Name under which the folding tokenizer is registered.
pub const IMAP_FOLD: &str = "imap_fold";

/// Tokens are cut to this many bytes (at a char boundary), in text and queries alike.
pub const MAX_TOKEN_BYTES: usize = 64;

/// Bumped when the schema or the tokenizer changes.
pub const IMAP_SCHEMA_VERSION: u32 = 4;

const VERSION_FILE: &str = "gleaner-imap-schema-version";
const WRITER_HEAP: usize = 50_000_000;

/// The header fields that keep their folded value in a column for substring checks.
pub const HEADER_FIELDS: [&str; 5] = ["subject", "from", "to", "cc", "bcc"];

/// Every text field, in the order of [`ImapFields::text`].
pub const TEXT_FIELDS: [&str; 7] = ["hdr", "body", "subject", "from", "to", "cc", "bcc"];

/// What went wrong with the IMAP index.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImapIndexError {
    /// tantivy failed.
    #[error("imap index error: {0}")]
    Tantivy(#[from] tantivy::TantivyError),
    /// The directory could not be used.
    #[error("cannot open imap index directory {path}: {source}")]
    Dir {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The index on disk was built by another schema version.
    #[error(
        "the imap index in {0} has another schema version: delete it and run `doveadm fts rescan`"
    )]
    SchemaMismatch(PathBuf),
    /// A document lacks a field it needs (the client's mistake).
    #[error("document rejected: {0}")]
    BadDocument(String),
}

/// Field handles of the IMAP index.
#[derive(Clone, Copy, Debug)]
pub struct ImapFields {
    /// The Solr id, exact and unique.
    pub id: Field,
    /// The IMAP UID (a column only).
    pub uid: Field,
    /// The mailbox GUID, exact, stored.
    pub mailbox: Field,
    /// The user, exact, stored.
    pub user: Field,
    /// Text fields in the order of [`TEXT_FIELDS`].
    pub text: [Field; 7],
}

impl ImapFields {
    /// The text field called `name` (one of [`TEXT_FIELDS`]).
    pub fn text_field(&self, name: &str) -> Option<Field> {
        TEXT_FIELDS
            .iter()
            .position(|f| *f == name)
            .map(|i| self.text[i])
    }
}

fn build_schema() -> (Schema, ImapFields) {
    let mut b = Schema::builder();
    // Nothing here is ranked (answers are UID sets), so no field keeps norms:
    // they would cost a byte per document per field.
    let indexing = |tokenizer: &str, record| {
        TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(tokenizer)
                .set_index_option(record)
                .set_fieldnorms(false),
        )
    };
    let exact = indexing("raw", IndexRecordOption::Basic);
    let id = b.add_text_field("id", exact.clone());
    // A column only: answers read UIDs from it, and a `uid:N` clause is a range
    // over it (postings for 100k distinct numbers would cost 0.4 MB).
    let uid = b.add_u64_field("uid", NumericOptions::default().set_fast());
    let mailbox = b.add_text_field("box", exact.clone() | STORED);
    let user = b.add_text_field("user", exact | STORED);
    let positions = indexing(IMAP_FOLD, IndexRecordOption::WithFreqsAndPositions);
    // Header values are also kept whole, folded, in a column: a substring search
    // tests each distinct value once (see `query::imap`); the tokens serve FUZZY.
    let headers = indexing(IMAP_FOLD, IndexRecordOption::Basic).set_fast("raw");
    let text = TEXT_FIELDS.map(|name| {
        if HEADER_FIELDS.contains(&name) {
            b.add_text_field(name, headers.clone())
        } else {
            b.add_text_field(name, positions.clone())
        }
    });
    (
        b.build(),
        ImapFields {
            id,
            uid,
            mailbox,
            user,
            text,
        },
    )
}

/// Case and accent folding: NFKD, combining marks removed, lowercased.
pub fn fold(text: &str) -> String {
    text.nfkd()
        .filter(|c| !is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .collect()
}

/// Is `c` written without spaces between words (each one is its own token)?
fn is_unspaced_script(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF      // hiragana, katakana
        | 0x3400..=0x4DBF    // CJK extension A
        | 0x4E00..=0x9FFF    // CJK unified ideographs
        | 0xF900..=0xFAFF    // compatibility ideographs
        | 0x20000..=0x3134F) // extensions B..G
}

/// Splits already-folded text into tokens: (byte offset, token text).
fn split_folded(folded: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    for (i, c) in folded.char_indices() {
        let unspaced = is_unspaced_script(c);
        if c.is_alphanumeric() && !unspaced {
            if start.is_none() {
                start = Some(i);
            }
            continue;
        }
        if let Some(s) = start.take() {
            out.push((s, i));
        }
        if unspaced {
            out.push((i, i + c.len_utf8()));
        }
    }
    if let Some(s) = start {
        out.push((s, folded.len()));
    }
    out
}

fn truncate_token(t: &str) -> &str {
    if t.len() <= MAX_TOKEN_BYTES {
        return t;
    }
    let mut end = MAX_TOKEN_BYTES;
    while !t.is_char_boundary(end) {
        end -= 1;
    }
    &t[..end]
}

/// The folded tokens of `text`, exactly as the index sees them.
pub fn tokens(text: &str) -> Vec<String> {
    let folded = fold(text);
    split_folded(&folded)
        .into_iter()
        .map(|(s, e)| truncate_token(&folded[s..e]).to_string())
        .collect()
}

/// The tokenizer registered as [`IMAP_FOLD`].
#[derive(Clone, Default)]
pub struct FoldTokenizer;

/// Token stream of [`FoldTokenizer`].
pub struct FoldTokenStream {
    tokens: Vec<Token>,
    next: usize,
    current: Token,
}

impl Tokenizer for FoldTokenizer {
    type TokenStream<'a> = FoldTokenStream;
    fn token_stream<'a>(&'a mut self, text: &'a str) -> FoldTokenStream {
        // Offsets refer to the folded text; nothing here uses them for highlighting.
        let folded = fold(text);
        let tokens = split_folded(&folded)
            .into_iter()
            .enumerate()
            .map(|(position, (s, e))| Token {
                offset_from: s,
                offset_to: e,
                position,
                text: truncate_token(&folded[s..e]).to_string(),
                position_length: 1,
            })
            .collect();
        FoldTokenStream {
            tokens,
            next: 0,
            current: Token::default(),
        }
    }
}

impl TokenStream for FoldTokenStream {
    fn advance(&mut self) -> bool {
        match self.tokens.get_mut(self.next) {
            Some(t) => {
                self.current = std::mem::take(t);
                self.next += 1;
                true
            }
            None => false,
        }
    }
    fn token(&self) -> &Token {
        &self.current
    }
    fn token_mut(&mut self) -> &mut Token {
        &mut self.current
    }
}

/// One document as Dovecot sends it: field name and value pairs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImapDoc {
    /// The fields in wire order; unknown names are ignored when indexing.
    pub fields: Vec<(String, String)>,
}

impl ImapDoc {
    /// The first value of field `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The open IMAP index: schema, reader and the single writer.
#[derive(Clone)]
pub struct ImapIndex {
    /// The tantivy index.
    pub index: Index,
    /// Field handles.
    pub fields: ImapFields,
    /// A reader; reloaded after every commit.
    pub reader: IndexReader,
    /// Flat term lists of `hdr` and `body`, per segment, for substring searches.
    pub terms: crate::index::imap_terms::TermTexts,
    writer: Arc<Mutex<IndexWriter>>,
    dirty: Arc<AtomicBool>,
}

impl ImapIndex {
    /// Opens (creating if needed) the index in `dir` (normally `<data dir>/imap`).
    pub fn open(dir: &Path) -> Result<ImapIndex, ImapIndexError> {
        let dir_err = |source| ImapIndexError::Dir {
            path: dir.to_path_buf(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(dir_err)?;
        let (schema, _) = build_schema();
        let version_path = dir.join(VERSION_FILE);
        let exists = dir.join("meta.json").exists();
        if exists {
            let found = std::fs::read_to_string(&version_path).unwrap_or_default();
            if found.trim() != IMAP_SCHEMA_VERSION.to_string() {
                return Err(ImapIndexError::SchemaMismatch(dir.to_path_buf()));
            }
        }
        let mmap = MmapDirectory::open(dir).map_err(|e| dir_err(std::io::Error::other(e)))?;
        let settings = IndexSettings {
            // zstd, as in the archive index (only `box` and `user` are stored).
            docstore_compression: Compressor::Zstd(ZstdCompressor::default()),
            ..IndexSettings::default()
        };
        let index = match Index::builder()
            .schema(schema)
            .settings(settings)
            .open_or_create(mmap)
        {
            Err(tantivy::TantivyError::SchemaError(_)) => {
                return Err(ImapIndexError::SchemaMismatch(dir.to_path_buf()))
            }
            other => other?,
        };
        if !exists {
            std::fs::write(&version_path, IMAP_SCHEMA_VERSION.to_string()).map_err(dir_err)?;
        }
        let ix = Self::from_index(index)?;
        // The first substring search must not pay for reading the term lists.
        ix.warm_terms();
        Ok(ix)
    }

    /// An index in memory (tests).
    pub fn in_ram() -> Result<ImapIndex, ImapIndexError> {
        let (schema, _) = build_schema();
        Self::from_index(Index::create_in_ram(schema))
    }

    fn from_index(index: Index) -> Result<ImapIndex, ImapIndexError> {
        let (_, fields) = build_schema();
        index
            .tokenizers()
            .register(IMAP_FOLD, TextAnalyzer::builder(FoldTokenizer).build());
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        let writer = index.writer_with_num_threads(1, WRITER_HEAP)?;
        Ok(ImapIndex {
            index,
            fields,
            reader,
            terms: Default::default(),
            writer: Arc::new(Mutex::new(writer)),
            dirty: Arc::new(AtomicBool::new(false)),
        })
    }

    fn writer(&self) -> MutexGuard<'_, IndexWriter> {
        // A panic while holding the lock leaves the writer usable: recover it.
        self.writer.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds (or replaces, by `id`) documents. They become searchable at the next commit.
    pub fn add(&self, docs: &[ImapDoc]) -> Result<(), ImapIndexError> {
        let f = self.fields;
        let writer = self.writer();
        for d in docs {
            let id = d
                .get("id")
                .filter(|s| !s.is_empty())
                .ok_or_else(|| ImapIndexError::BadDocument("missing id".into()))?;
            let uid: u64 = d
                .get("uid")
                .and_then(|s| s.trim().parse().ok())
                .ok_or_else(|| ImapIndexError::BadDocument(format!("{id}: missing or bad uid")))?;
            let mut doc = TantivyDocument::default();
            doc.add_text(f.id, id);
            doc.add_u64(f.uid, uid);
            doc.add_text(f.mailbox, d.get("box").unwrap_or(""));
            doc.add_text(f.user, d.get("user").unwrap_or(""));
            for (name, value) in &d.fields {
                let Some(field) = f.text_field(name) else {
                    continue;
                };
                if HEADER_FIELDS.contains(&name.as_str()) {
                    // An empty value is Dovecot's stale placeholder (no such header).
                    if !value.is_empty() {
                        doc.add_text(field, fold(value));
                    }
                } else if !value.is_empty() {
                    doc.add_text(field, value);
                }
            }
            writer.delete_term(Term::from_field_text(f.id, id));
            writer.add_document(doc)?;
        }
        self.dirty.store(true, Ordering::SeqCst);
        Ok(())
    }

    /// Deletes documents by Solr id. Visible after the next commit.
    pub fn delete_ids(&self, ids: &[String]) {
        let writer = self.writer();
        for id in ids {
            writer.delete_term(Term::from_field_text(self.fields.id, id));
        }
        self.dirty.store(true, Ordering::SeqCst);
    }

    /// Deletes every document matching `query`. Visible after the next commit.
    pub fn delete_query(
        &self,
        query: Box<dyn tantivy::query::Query>,
    ) -> Result<(), ImapIndexError> {
        self.writer().delete_query(query)?;
        self.dirty.store(true, Ordering::SeqCst);
        Ok(())
    }

    /// Commits pending changes (if any) and reloads the reader, so that they are searchable.
    pub fn commit(&self) -> Result<(), ImapIndexError> {
        let mut writer = self.writer();
        if self.dirty.swap(false, Ordering::SeqCst) {
            if let Err(e) = writer.commit() {
                self.dirty.store(true, Ordering::SeqCst);
                return Err(e.into());
            }
        }
        drop(writer);
        self.reader.reload()?;
        self.warm_terms();
        Ok(())
    }

    /// Reads, on a thread of its own, the term lists substring searches need
    /// for the segments the reader now sees.
    fn warm_terms(&self) {
        let (terms, searcher) = (self.terms.clone(), self.reader.searcher());
        let fields = self.substring_fields();
        std::thread::spawn(move || terms.warm(&searcher, &fields));
    }

    /// The fields whose term lists substring searches read (`hdr`, `body`).
    pub fn substring_fields(&self) -> [Field; 2] {
        [self.fields.text[0], self.fields.text[1]]
    }

    /// Are there changes not yet committed?
    pub fn is_dirty(&self) -> bool {
        self.dirty.load(Ordering::SeqCst)
    }

    /// Starts a thread that commits pending changes at most every `every`
    /// (1 s in production). It stops when the last clone of the index is dropped.
    pub fn spawn_committer(&self, every: Duration) -> std::thread::JoinHandle<()> {
        let weak_writer = Arc::downgrade(&self.writer);
        let dirty = Arc::clone(&self.dirty);
        let reader = self.reader.clone();
        let terms = self.terms.clone();
        let fields = self.substring_fields();
        std::thread::spawn(move || loop {
            std::thread::sleep(every);
            let Some(writer) = weak_writer.upgrade() else {
                return;
            };
            if dirty.swap(false, Ordering::SeqCst) {
                let mut w = writer.lock().unwrap_or_else(|p| p.into_inner());
                if w.commit().is_err() {
                    dirty.store(true, Ordering::SeqCst);
                }
                drop(w);
                if reader.reload().is_ok() {
                    terms.warm(&reader.searcher(), &fields);
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_strips_case_and_accents() {
        assert_eq!(fold("Grüße aus MÜNCHEN, Café"), "gruße aus munchen, cafe");
        assert_eq!(
            tokens("J.Smith@Example.ORG"),
            ["j", "smith", "example", "org"]
        );
        assert_eq!(tokens("Ｆｕｌｌ width"), ["full", "width"]);
        assert_eq!(tokens("全文検索 ok"), ["全", "文", "検", "索", "ok"]);
        assert_eq!(tokens("a+b:c (x)"), ["a", "b", "c", "x"]);
        assert_eq!(tokens(&"x".repeat(100))[0].len(), MAX_TOKEN_BYTES);
    }

    #[test]
    fn add_replace_delete_commit() -> Result<(), ImapIndexError> {
        let ix = ImapIndex::in_ram()?;
        let doc = |uid: u32, body: &str| ImapDoc {
            fields: vec![
                ("uid".into(), uid.to_string()),
                ("box".into(), "b1".into()),
                ("user".into(), "u".into()),
                ("id".into(), format!("{uid}/b1/u")),
                ("body".into(), body.into()),
            ],
        };
        ix.add(&[doc(1, "one"), doc(2, "two")])?;
        ix.commit()?;
        assert_eq!(ix.reader.searcher().num_docs(), 2);
        ix.add(&[doc(1, "uno")])?;
        ix.commit()?;
        assert_eq!(ix.reader.searcher().num_docs(), 2);
        ix.delete_ids(&["2/b1/u".to_string()]);
        ix.commit()?;
        assert_eq!(ix.reader.searcher().num_docs(), 1);
        assert!(ix.add(&[ImapDoc::default()]).is_err());
        Ok(())
    }
}
