//! Marks kept outside the index (citations in curated documents, archive and
//! hold state) that queries can test: `is:cited`, `cited:<doc>`,
//! `is:archived`, `is:held`.
//!
//! The query layer defines what it needs; the surfaces that own the state
//! (the curation and retention tables of `gleaner.db`) implement it. A mark
//! is a set of Message-IDs (planned as exact `id:` matches) or a query of its
//! own (a legal hold is one).

use std::sync::Arc;

/// What a mark stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mark {
    /// These lowercased Message-IDs.
    Ids(Vec<String>),
    /// These document keys (`<Message-ID>` or `sha256:...`).
    Keys(Vec<String>),
    /// Whatever these queries match (any of them); they may not use marks.
    Queries(Vec<String>),
}

/// A source of marks for `is:` and `cited:`.
pub trait Marks: Send + Sync {
    /// What `is:<name>` means; `Ok(None)` when this source does not know the name.
    fn is(&self, name: &str) -> Result<Option<Mark>, String>;
    /// Lowercased Message-IDs cited by document `doc` (its id or slug);
    /// `Ok(None)` when this source knows no documents, `Err` names what is
    /// wrong (e.g. no such document).
    fn cited(&self, doc: &str) -> Result<Option<Vec<String>>, String>;
}

/// Several sources asked in turn: the first that knows a name answers.
pub struct Combined(pub Vec<Arc<dyn Marks>>);

impl Marks for Combined {
    fn is(&self, name: &str) -> Result<Option<Mark>, String> {
        for m in &self.0 {
            if let Some(mark) = m.is(name)? {
                return Ok(Some(mark));
            }
        }
        Ok(None)
    }

    fn cited(&self, doc: &str) -> Result<Option<Vec<String>>, String> {
        for m in &self.0 {
            if let Some(ids) = m.cited(doc)? {
                return Ok(Some(ids));
            }
        }
        Ok(None)
    }
}
