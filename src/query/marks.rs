//! Marks kept outside the index (citations in curated documents, archive and
//! hold state) that queries can test: `is:cited`, `cited:<doc>`, ...
//!
//! The query layer defines what it needs; the surfaces that own the state
//! (the curation database) implement it. Marks resolve to sets of
//! Message-IDs, which the planner turns into exact `id:` matches.

/// A source of marks for `is:` and `cited:`.
pub trait Marks: Send + Sync {
    /// Lowercased Message-IDs carrying `is:<name>`; `Ok(None)` when this
    /// source does not know the name.
    fn is(&self, name: &str) -> Result<Option<Vec<String>>, String>;
    /// Lowercased Message-IDs cited by document `doc` (its id or slug);
    /// `Err` names what is wrong (e.g. no such document).
    fn cited(&self, doc: &str) -> Result<Vec<String>, String>;
}
