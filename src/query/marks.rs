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

/// A source opened on its first use, so that a search asking no `is:` or
/// `cited:` does not pay for opening it (the CLI's curation and retention
/// tables: ~0.6 ms of a ~7 ms `gleaner search`). An error opening it is
/// the answer to every question asked of it.
pub struct Lazy<F> {
    open: F,
    opened: std::sync::OnceLock<Result<Arc<dyn Marks>, String>>,
}

impl<F> Lazy<F>
where
    F: Fn() -> Result<Arc<dyn Marks>, String> + Send + Sync,
{
    /// A source that `open` makes when first asked.
    pub fn new(open: F) -> Lazy<F> {
        Lazy {
            open,
            opened: std::sync::OnceLock::new(),
        }
    }

    fn source(&self) -> Result<&Arc<dyn Marks>, String> {
        self.opened
            .get_or_init(|| (self.open)())
            .as_ref()
            .map_err(Clone::clone)
    }
}

impl<F> Marks for Lazy<F>
where
    F: Fn() -> Result<Arc<dyn Marks>, String> + Send + Sync,
{
    fn is(&self, name: &str) -> Result<Option<Mark>, String> {
        self.source()?.is(name)
    }

    fn cited(&self, doc: &str) -> Result<Option<Vec<String>>, String> {
        self.source()?.cited(doc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    struct Held;

    impl Marks for Held {
        fn is(&self, name: &str) -> Result<Option<Mark>, String> {
            Ok((name == "held").then(|| Mark::Ids(vec!["a@b".into()])))
        }
        fn cited(&self, _doc: &str) -> Result<Option<Vec<String>>, String> {
            Ok(None)
        }
    }

    #[test]
    fn lazy_source_opens_once_and_only_when_asked() {
        let opened = AtomicUsize::new(0);
        let lazy = Lazy::new(|| {
            opened.fetch_add(1, Ordering::SeqCst);
            Ok(Arc::new(Held) as Arc<dyn Marks>)
        });
        assert_eq!(opened.load(Ordering::SeqCst), 0);
        assert_eq!(lazy.is("held"), Ok(Some(Mark::Ids(vec!["a@b".into()]))));
        assert_eq!(lazy.is("archived"), Ok(None));
        assert_eq!(lazy.cited("doc"), Ok(None));
        assert_eq!(opened.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn lazy_source_that_fails_to_open_says_why_each_time() {
        let lazy = Lazy::new(|| Err("gleaner.db: database is locked".to_string()));
        for _ in 0..2 {
            assert_eq!(
                lazy.is("held"),
                Err("gleaner.db: database is locked".to_string())
            );
        }
        assert_eq!(
            lazy.cited("doc"),
            Err("gleaner.db: database is locked".to_string())
        );
    }
}
