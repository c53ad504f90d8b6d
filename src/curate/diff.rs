//! Line diff between two revisions of a document.
//!
//! Common leading and trailing lines are peeled off, the middle is diffed by
//! longest common subsequence; a middle too large for that (over 4 million
//! line pairs) is shown as removed and added wholesale.

use serde::Serialize;

/// One line of a diff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DiffLine {
    /// `" "` unchanged, `"-"` removed, `"+"` added.
    pub op: &'static str,
    /// The line, without its newline.
    pub text: String,
}

const MAX_CELLS: usize = 4_000_000;

/// The lines of `a` and `b` as unchanged, removed and added lines.
pub fn diff(a: &str, b: &str) -> Vec<DiffLine> {
    let a: Vec<&str> = a.lines().collect();
    let b: Vec<&str> = b.lines().collect();
    let prefix = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let suffix = a[prefix..]
        .iter()
        .rev()
        .zip(b[prefix..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let (am, bm) = (&a[prefix..a.len() - suffix], &b[prefix..b.len() - suffix]);
    let line = |op, t: &str| DiffLine {
        op,
        text: t.to_string(),
    };
    let mut out: Vec<DiffLine> = a[..prefix].iter().map(|t| line(" ", t)).collect();
    if am.len().saturating_mul(bm.len()) > MAX_CELLS {
        out.extend(am.iter().map(|t| line("-", t)));
        out.extend(bm.iter().map(|t| line("+", t)));
    } else {
        out.extend(lcs_diff(am, bm));
    }
    out.extend(a[a.len() - suffix..].iter().map(|t| line(" ", t)));
    out
}

fn lcs_diff(a: &[&str], b: &[&str]) -> Vec<DiffLine> {
    let (n, m) = (a.len(), b.len());
    // len[i][j] = LCS length of a[i..] and b[j..].
    let w = m + 1;
    let mut len = vec![0u32; (n + 1) * w];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            len[i * w + j] = if a[i] == b[j] {
                len[(i + 1) * w + j + 1] + 1
            } else {
                len[(i + 1) * w + j].max(len[i * w + j + 1])
            };
        }
    }
    let mut out = Vec::with_capacity(n + m);
    let (mut i, mut j) = (0, 0);
    while i < n || j < m {
        if i < n && j < m && a[i] == b[j] {
            out.push(DiffLine {
                op: " ",
                text: a[i].to_string(),
            });
            i += 1;
            j += 1;
        } else if j < m && (i == n || len[i * w + j + 1] > len[(i + 1) * w + j]) {
            out.push(DiffLine {
                op: "+",
                text: b[j].to_string(),
            });
            j += 1;
        } else {
            out.push(DiffLine {
                op: "-",
                text: a[i].to_string(),
            });
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(d: &[DiffLine]) -> String {
        d.iter().map(|l| format!("{}{}\n", l.op, l.text)).collect()
    }

    #[test]
    fn a_changed_line_is_removed_and_added() {
        let d = diff("a\nb\nc\n", "a\nB\nc\n");
        assert_eq!(render(&d), " a\n-b\n+B\n c\n");
    }

    #[test]
    fn insertions_and_deletions_keep_common_lines() {
        let d = diff("one\ntwo\nthree\nfour", "zero\none\nthree\nfour\nfive");
        assert_eq!(render(&d), "+zero\n one\n-two\n three\n four\n+five\n");
    }

    #[test]
    fn applying_the_diff_gives_both_sides_back() {
        let a = "x\ny\nz\nx\ny\n";
        let b = "y\nx\nz\nq\ny\nx\n";
        let d = diff(a, b);
        let old: Vec<_> = d
            .iter()
            .filter(|l| l.op != "+")
            .map(|l| l.text.as_str())
            .collect();
        let new: Vec<_> = d
            .iter()
            .filter(|l| l.op != "-")
            .map(|l| l.text.as_str())
            .collect();
        assert_eq!(old, a.lines().collect::<Vec<_>>());
        assert_eq!(new, b.lines().collect::<Vec<_>>());
    }
}
