//! The search index: a tantivy index in the data directory's `index/` folder.
//!
//! This module owns the schema, the analysers and the single writer. It turns
//! [`crate::extract::MailDoc`]s into tantivy documents and knows how to read
//! them back; it knows nothing of query syntax or HTTP.

pub mod analysis;
pub mod column_terms;
pub mod doc;
pub mod facet_rows;
pub mod imap;
pub mod imap_terms;
pub mod ingest;
pub mod kept;
pub mod live;
pub mod merges;
pub mod recent;
pub mod schema;
pub mod threading;
pub mod watermark;
pub mod writer;

use std::path::{Path, PathBuf};

use tantivy::directory::MmapDirectory;
use tantivy::store::{Compressor, ZstdCompressor};
use tantivy::{Index, IndexReader, IndexSettings, ReloadPolicy};

pub use schema::Fields;

/// Bumped whenever the schema or the analysers change; an index built with
/// another version must be rebuilt.
pub const SCHEMA_VERSION: u32 = 8;

/// What went wrong with the index.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IndexError {
    /// tantivy failed.
    #[error("index error: {0}")]
    Tantivy(#[from] tantivy::TantivyError),
    /// The directory could not be opened or created.
    #[error("cannot open index directory {path}: {source}")]
    Dir {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Another process holds the writer lock.
    #[error("the index in {0} is being written by another gleaner process (stop it first)")]
    Locked(PathBuf),
    /// The index on disk was made by another schema version.
    #[error("the index in {path} has schema version {found}, this gleaner needs {SCHEMA_VERSION}: run `gleaner rebuild`")]
    SchemaMismatch {
        /// The index directory.
        path: PathBuf,
        /// The version found.
        found: String,
    },
    /// There is no index yet.
    #[error("no index in {0}: run `gleaner index PATH` first")]
    Missing(PathBuf),
    /// The mail store failed while ingesting.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// An open index with its field handles and a reader.
#[derive(Clone)]
pub struct MailIndex {
    /// The tantivy index.
    pub index: Index,
    /// Field handles.
    pub fields: Fields,
    /// A reader (reloads on commit).
    pub reader: IndexReader,
    /// The index directory.
    pub dir: PathBuf,
}

const VERSION_FILE: &str = "gleaner-schema-version";

fn reader(index: &Index) -> Result<IndexReader, IndexError> {
    Ok(index
        .reader_builder()
        // No polling thread: whoever commits reloads (the live indexer does),
        // and one-shot commands open a fresh reader.
        .reload_policy(ReloadPolicy::Manual)
        .try_into()?)
}

impl MailIndex {
    /// Opens the index in `dir`, creating it when `create` is true and none exists.
    pub fn open(dir: &Path, create: bool) -> Result<MailIndex, IndexError> {
        let dir_err = |source| IndexError::Dir {
            path: dir.to_path_buf(),
            source,
        };
        let exists = dir.join("meta.json").exists();
        if !exists && !create {
            return Err(IndexError::Missing(dir.to_path_buf()));
        }
        let (schema, fields) = schema::build();
        let index = if exists {
            let found = std::fs::read_to_string(dir.join(VERSION_FILE)).unwrap_or_default();
            if found.trim() != SCHEMA_VERSION.to_string() {
                return Err(IndexError::SchemaMismatch {
                    path: dir.to_path_buf(),
                    found: found.trim().to_string(),
                });
            }
            let mmap = MmapDirectory::open(dir).map_err(|e| dir_err(std::io::Error::other(e)))?;
            Index::open(mmap)?
        } else {
            std::fs::create_dir_all(dir).map_err(dir_err)?;
            let mmap = MmapDirectory::open(dir).map_err(|e| dir_err(std::io::Error::other(e)))?;
            let index = Index::create(mmap, schema.clone(), index_settings())?;
            std::fs::write(dir.join(VERSION_FILE), SCHEMA_VERSION.to_string()).map_err(dir_err)?;
            index
        };
        if index.schema() != schema {
            return Err(IndexError::SchemaMismatch {
                path: dir.to_path_buf(),
                found: "unknown (fields differ)".into(),
            });
        }
        analysis::register(&index);
        let reader = reader(&index)?;
        Ok(MailIndex {
            index,
            fields,
            reader,
            dir: dir.to_path_buf(),
        })
    }

    /// Searches visit the segments on `threads` threads (tantivy's
    /// multi-thread executor) when it is above 1; the reader is re-opened so
    /// its searchers use it. For long-running servers: a one-shot command
    /// would pay the threads' start for nothing.
    pub fn set_search_threads(&mut self, threads: usize) -> Result<(), IndexError> {
        if threads > 1 {
            self.index.set_multithread_executor(threads)?;
            self.reader = reader(&self.index)?;
        }
        Ok(())
    }

    /// The commit payload of the last commit (tail checkpoints), if any.
    pub fn payload(&self) -> Result<Option<String>, IndexError> {
        Ok(self.index.load_metas()?.payload)
    }

    /// Total bytes of the index files.
    pub fn disk_size(&self) -> u64 {
        dir_size(&self.dir)
    }
}

/// zstd for the document store: about half the size of the default lz4 on
/// mail text, for a few tens of microseconds per fetched document. Level 1,
/// not zstd's default 3: on the real-list benchmark set the store grew 5%
/// (the index 1.5%) and its compression thread did a third less work.
fn index_settings() -> IndexSettings {
    IndexSettings {
        docstore_compression: Compressor::Zstd(ZstdCompressor {
            compression_level: Some(1),
        }),
        docstore_blocksize: 32 * 1024,
        ..IndexSettings::default()
    }
}

fn dir_size(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}
