//! List names as people write them, resolved to the list ids the index holds.
//!
//! Wherever a list is named — review and retention policies, user grants,
//! `archive run` — a name is what `list:` accepts: the full List-Id, or any of
//! its dot-separated parts (`fetchmail-users` for
//! `fetchmail-users.lists.berlios.de`), without regard to case. A name that
//! matches several indexed lists is an error naming them (it must never widen
//! what a grant or a policy covers); a name that matches none is kept as
//! written, so mail of that list arriving later is covered, and reported so
//! the caller can warn loudly.

use std::collections::BTreeSet;

use super::QueryError;
use crate::index::MailIndex;

/// What one name resolves to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// One indexed list (its id as indexed, lowercase).
    List(String),
    /// No indexed list: the name as written, lowercased.
    Unknown(String),
    /// Several indexed lists.
    Ambiguous(Vec<String>),
}

/// Names resolved together: the list ids to use, and the names no indexed
/// list matched (warn about them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resolved {
    /// List ids, in the order named, without repeats.
    pub lists: Vec<String>,
    /// Names that matched no indexed list (kept in `lists` as written).
    pub unknown: Vec<String>,
}

/// Why names could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum ListNameError {
    /// A name matches more than one list.
    #[error("list name {name:?} matches several lists: {}; name one of them in full", lists.join(", "))]
    Ambiguous {
        /// The name as written.
        name: String,
        /// The lists it matches.
        lists: Vec<String>,
    },
    /// The index could not be read.
    #[error(transparent)]
    Query(#[from] QueryError),
}

/// Every list id the index holds (lowercase, sorted).
pub fn indexed_lists(index: &MailIndex) -> Result<Vec<String>, QueryError> {
    let searcher = index.reader.searcher();
    let mut out = BTreeSet::new();
    for segment in searcher.segment_readers() {
        let inverted = segment.inverted_index(index.fields.list)?;
        let mut terms = inverted
            .terms()
            .stream()
            .map_err(|e| QueryError::Index(e.into()))?;
        while terms.advance() {
            if let Ok(list) = std::str::from_utf8(terms.key()) {
                if !list.is_empty() {
                    out.insert(list.to_string());
                }
            }
        }
    }
    Ok(out.into_iter().collect())
}

/// Resolves one name against `indexed` (as [`indexed_lists`] returns them).
pub fn resolve(name: &str, indexed: &[String]) -> Resolution {
    let name = name.trim().to_lowercase();
    if indexed.contains(&name) {
        return Resolution::List(name);
    }
    let matching: Vec<String> = indexed
        .iter()
        .filter(|l| l.split('.').any(|part| part == name))
        .cloned()
        .collect();
    match matching.len() {
        0 => Resolution::Unknown(name),
        1 => Resolution::List(matching.into_iter().next().unwrap_or_default()),
        _ => Resolution::Ambiguous(matching),
    }
}

/// Resolves every name in `names` against the lists `index` holds.
pub fn resolve_names(index: &MailIndex, names: &[String]) -> Result<Resolved, ListNameError> {
    if names.is_empty() {
        return Ok(Resolved::default());
    }
    resolve_against(names, &indexed_lists(index)?)
}

/// Resolves every name in `names` against `indexed`.
pub fn resolve_against(names: &[String], indexed: &[String]) -> Result<Resolved, ListNameError> {
    let mut out = Resolved::default();
    for name in names {
        let list = match resolve(name, indexed) {
            Resolution::List(l) => l,
            Resolution::Unknown(n) => {
                out.unknown.push(name.trim().to_string());
                n
            }
            Resolution::Ambiguous(lists) => {
                return Err(ListNameError::Ambiguous {
                    name: name.trim().to_string(),
                    lists,
                })
            }
        };
        if !out.lists.contains(&list) {
            out.lists.push(list);
        }
    }
    Ok(out)
}

/// What is wrong with `names` (of `what`, e.g. "review policy \"old\"")
/// against `indexed`: one line per name that matches no indexed list or
/// several. Empty when every name names one list.
pub fn warnings(what: &str, names: &[String], indexed: &[String]) -> Vec<String> {
    names
        .iter()
        .filter_map(|name| match resolve(name, indexed) {
            Resolution::List(_) => None,
            Resolution::Unknown(_) => Some(format!(
                "{what}: no indexed list is named {:?} (it covers nothing until mail of a list with that id is indexed)",
                name.trim()
            )),
            Resolution::Ambiguous(lists) => Some(format!(
                "{what}: list name {:?} matches several lists: {}; name one of them in full",
                name.trim(),
                lists.join(", ")
            )),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn indexed() -> Vec<String> {
        [
            "fetchmail-users.lists.berlios.de",
            "gpsd-dev.lists.nongnu.org",
            "kasan-dev.googlegroups.com",
            "linux-erofs.lists.ozlabs.org",
        ]
        .map(String::from)
        .to_vec()
    }

    #[test]
    fn full_ids_short_names_and_parts_resolve_without_regard_to_case() {
        let lists = indexed();
        assert_eq!(
            resolve("Fetchmail-Users.lists.berlios.de", &lists),
            Resolution::List("fetchmail-users.lists.berlios.de".into())
        );
        assert_eq!(
            resolve(" KASAN-dev ", &lists),
            Resolution::List("kasan-dev.googlegroups.com".into())
        );
        assert_eq!(
            resolve("ozlabs", &lists),
            Resolution::List("linux-erofs.lists.ozlabs.org".into())
        );
        assert_eq!(
            resolve("nosuch", &lists),
            Resolution::Unknown("nosuch".into())
        );
        // A part of an id is a whole dot-separated part, not a substring.
        assert_eq!(
            resolve("kasan", &lists),
            Resolution::Unknown("kasan".into())
        );
    }

    #[test]
    fn a_name_of_several_lists_is_an_error_naming_them() {
        let lists = indexed();
        assert_eq!(
            resolve("lists", &lists),
            Resolution::Ambiguous(vec![
                "fetchmail-users.lists.berlios.de".into(),
                "gpsd-dev.lists.nongnu.org".into(),
                "linux-erofs.lists.ozlabs.org".into(),
            ])
        );
        let err =
            resolve_against(&["kasan-dev".into(), "org".into()], &lists).expect_err("ambiguous");
        let text = err.to_string();
        assert!(
            text.contains("\"org\"") && text.contains("gpsd-dev.lists.nongnu.org"),
            "{text}"
        );
    }

    #[test]
    fn warnings_name_the_policy_and_each_bad_name() {
        let w = warnings(
            "review policy \"old\"",
            &["kasan-dev".into(), "nosuch".into(), "lists".into()],
            &indexed(),
        );
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(w[0].starts_with("review policy \"old\": no indexed list is named \"nosuch\""));
        assert!(w[1].contains("\"lists\" matches several lists"));
    }

    #[test]
    fn unknown_names_are_kept_and_reported() {
        let r = resolve_against(
            &["erofs".into(), "linux-erofs".into(), "New-List".into()],
            &indexed(),
        )
        .expect("resolves");
        assert_eq!(
            r.lists,
            vec![
                "erofs".to_string(),
                "linux-erofs.lists.ozlabs.org".into(),
                "new-list".into()
            ]
        );
        assert_eq!(r.unknown, vec!["erofs".to_string(), "New-List".into()]);
    }
}
