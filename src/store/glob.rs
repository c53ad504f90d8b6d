//! Include/exclude patterns for the files of a source: `*` and `?` match
//! within one path component, `**` matches across components.

use std::path::Path;

/// Whether `path` (relative to its source) passes `include` (empty: everything)
/// and is not matched by `exclude`.
pub fn selected(relative: &Path, include: &[String], exclude: &[String]) -> bool {
    let text = relative.to_string_lossy();
    let any = |pats: &[String]| pats.iter().any(|p| matches(p, &text));
    (include.is_empty() || any(include)) && !any(exclude)
}

/// Whether the glob `pattern` matches all of `text`.
pub fn matches(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    match_from(&p, &t)
}

fn match_from(p: &[char], t: &[char]) -> bool {
    match p.first() {
        None => t.is_empty(),
        Some('*') if p.get(1) == Some(&'*') => {
            let rest = p[2..].strip_prefix(&['/']).unwrap_or(&p[2..]);
            (0..=t.len()).any(|i| match_from(rest, &t[i..]))
        }
        Some('*') => {
            let rest = &p[1..];
            for i in 0..=t.len() {
                if match_from(rest, &t[i..]) {
                    return true;
                }
                if t.get(i) == Some(&'/') {
                    break;
                }
            }
            false
        }
        Some('?') => t.first().is_some_and(|c| *c != '/') && match_from(&p[1..], &t[1..]),
        Some(c) => t.first() == Some(c) && match_from(&p[1..], &t[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(matches("*.mbox", "dev.mbox"));
        assert!(!matches("*.mbox", "old/dev.mbox"));
        assert!(matches("**/*.mbox", "old/dev.mbox"));
        assert!(matches("**/*.mbox", "dev.mbox"));
        assert!(matches(".Spam/**", ".Spam/cur/123:2,S"));
        assert!(matches("cur/?23*", "cur/123:2,S"));
        assert!(!matches("cur/?23", "cur/1234"));
    }

    #[test]
    fn include_and_exclude() {
        let inc = vec!["**/cur/*".to_string()];
        let exc = vec![".Trash/**".to_string()];
        assert!(selected(Path::new("cur/1"), &inc, &exc));
        assert!(selected(Path::new(".Lists/cur/1"), &inc, &exc));
        assert!(!selected(Path::new(".Trash/cur/1"), &inc, &exc));
        assert!(!selected(Path::new("new/1"), &inc, &exc));
        assert!(selected(Path::new("new/1"), &[], &[]));
    }
}
