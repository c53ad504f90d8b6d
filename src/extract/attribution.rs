//! Attribution lines: "On Wed, 3 Mar 2021 at 10:00, Jane Doe <jane@example.com>
//! wrote:" and what mail clients write instead in other languages. They are
//! the replying author's words about what follows (a name, a date), so
//! [`super::quoting`] keeps them with the author's text, apart from the words
//! that harvest signals count.

/// Longest line (in bytes) taken for an attribution.
const MAX_LEN: usize = 300;

/// Endings of attribution lines, after [`normalise`] (no-break spaces are
/// spaces, full-width colons are colons).
const WROTE: &[&str] = &[
    "wrote:",
    "writes:",
    "said:",
    "schrieb:",
    "écrit :",
    "écrit:",
    "escribió:",
    "escreveu:",
    "ha scritto:",
    "skrev:",
    "kirjoitti:",
    "schreef:",
    "napisał:",
    "napisała:",
    "napisał(a):",
    "napsal:",
    "napsala:",
    "napsal(a):",
    "написал:",
    "написала:",
    "написал(а):",
    "пишет:",
    "写道:",
    "寫道:",
    "のメール:",
    "は書きました:",
    "yazdı:",
    "írta:",
    "a scris:",
    "έγραψε:",
];

/// How attribution lines start in the languages whose clients put the date
/// first ("On ...", "Am ...", "Le ...", "El ...", "Il ...", "Em ...", "Op ...").
const STARTS: &[&str] = &[
    "On ", "Am ", "Le ", "El ", "Il ", "Em ", "Op ", "W dniu ", "Den ", "Dne ", "På ",
];

/// The line with no-break spaces as spaces and full-width colons as colons,
/// trimmed; borrowed when there is nothing to replace.
fn normalise(line: &str) -> std::borrow::Cow<'_, str> {
    let t = line.trim();
    if t.is_ascii() {
        return t.into();
    }
    t.chars()
        .map(|c| match c {
            '\u{a0}' | '\u{202f}' | '\u{2007}' => ' ',
            '：' => ':',
            c => c,
        })
        .collect::<String>()
        .into()
}

fn ends_like(t: &str) -> bool {
    WROTE.iter().any(|w| t.ends_with(w))
}

fn starts_like(t: &str) -> bool {
    STARTS.iter().any(|p| t.starts_with(p))
}

/// Whether the first non-blank line after `i` is a `>` quote.
fn quote_follows(lines: &[&str], i: usize) -> bool {
    lines
        .get(i + 1..)
        .unwrap_or_default()
        .iter()
        .find(|l| !l.trim().is_empty())
        .is_some_and(|l| l.trim_start().starts_with('>'))
}

/// Whether `t` ends the way an attribution ends: with a word of [`WROTE`],
/// or the name-after-verb forms of German and Dutch ("Am ... schrieb Hans:",
/// "Op ... schreef Jan <jan@...>:").
pub(crate) fn ends_attribution(t: &str) -> bool {
    let t = normalise(t);
    ends_like(&t)
        || (t.ends_with(':')
            && ((t.starts_with("Am ") && t.contains(" schrieb"))
                || (t.starts_with("Op ") && t.contains(" schreef"))))
}

/// If an attribution starts at line `i`, how many lines it takes (1 or 2).
pub(crate) fn attribution(lines: &[&str], i: usize) -> Option<usize> {
    let raw = lines.get(i)?.trim();
    if raw.is_empty() || raw.len() > MAX_LEN {
        return None;
    }
    // Cheap test first: every form ends with a colon or starts with a date word.
    let colon = raw.ends_with(':') || raw.ends_with('：');
    if !colon && !starts_like(raw) {
        return None;
    }
    let t = normalise(raw);
    if colon {
        if ends_attribution(&t) && (starts_like(&t) || quote_follows(lines, i)) {
            return Some(1);
        }
        // Gmail in Russian, Japanese, Korean, ...: "<date>, Name <addr>:".
        if t.ends_with(">:")
            && t.contains('@')
            && t.bytes().any(|b| b.is_ascii_digit())
            && quote_follows(lines, i)
        {
            return Some(1);
        }
    }
    if starts_like(&t) {
        let next = normalise(lines.get(i + 1).copied().unwrap_or(""));
        if !next.is_empty()
            && !next.starts_with('>')
            && t.len() + next.len() <= MAX_LEN
            && (ends_like(&next)
                || (t.starts_with("Am ") && next.ends_with(':') && next.contains("schrieb"))
                || (t.contains(" schrieb") && next.ends_with(':'))
                || (t.starts_with("Op ") && next.ends_with(':') && next.contains("schreef")))
        {
            return Some(2);
        }
    }
    None
}
