//! Text laid out for an 80–120 column terminal: the width to use, and
//! paragraphs wrapped at word boundaries under an indent. Values are never
//! cut: a word longer than the line goes on a line of its own.

use std::io::IsTerminal;

/// The narrowest and widest lines we lay out.
const MIN_WIDTH: usize = 60;
const MAX_WIDTH: usize = 120;
/// Width when neither asked for nor a terminal.
const DEFAULT_WIDTH: usize = 100;

/// The width to lay out at: `asked` (`--width`, `$COLUMNS`), else the
/// terminal's, else 100; within 60..=120.
pub fn width(asked: Option<usize>) -> usize {
    let terminal = || {
        std::io::stdout()
            .is_terminal()
            .then(terminal_size::terminal_size)
            .flatten()
            .map(|(w, _)| usize::from(w.0))
    };
    asked
        .or_else(terminal)
        .unwrap_or(DEFAULT_WIDTH)
        .clamp(MIN_WIDTH, MAX_WIDTH)
}

/// `text` wrapped into lines of at most `width` characters (escape sequences
/// counted as nothing), each starting with `indent`.
pub fn wrap(text: &str, indent: &str, width: usize) -> Vec<String> {
    let room = width.saturating_sub(indent.chars().count()).max(20);
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut used = 0;
    for word in text.split_whitespace() {
        let n = visible_len(word);
        if used > 0 && used + 1 + n > room {
            lines.push(format!("{indent}{line}"));
            line.clear();
            used = 0;
        }
        if used > 0 {
            line.push(' ');
            used += 1;
        }
        line.push_str(word);
        used += n;
    }
    if used > 0 {
        lines.push(format!("{indent}{line}"));
    }
    lines
}

/// Characters a terminal shows of `s` (ANSI colour sequences left out).
pub fn visible_len(s: &str) -> usize {
    let mut n = 0;
    let mut in_escape = false;
    for c in s.chars() {
        match (in_escape, c) {
            (false, '\x1b') => in_escape = true,
            (true, 'm') => in_escape = false,
            (true, _) => {}
            (false, _) => n += 1,
        }
    }
    n
}

/// `parts` joined by `sep` on as few lines as fit `width`, continuation
/// lines indented by `indent`; no part is ever cut.
pub fn fill(
    parts: &[String],
    sep: &str,
    first_indent: &str,
    indent: &str,
    width: usize,
) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = first_indent.to_string();
    let mut fresh = true;
    for p in parts.iter().filter(|p| !p.is_empty()) {
        let extra = if fresh { 0 } else { sep.chars().count() };
        if !fresh && visible_len(&line) + extra + visible_len(p) > width {
            lines.push(std::mem::replace(&mut line, indent.to_string()));
            fresh = true;
        }
        if !fresh {
            line.push_str(sep);
        }
        line.push_str(p);
        fresh = false;
    }
    if !fresh {
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_keeps_every_word_and_the_width() {
        let text = "one two three four five six seven eight nine ten eleven twelve";
        let lines = wrap(text, "    ", 30);
        assert!(lines.iter().all(|l| l.chars().count() <= 30), "{lines:?}");
        assert!(lines.iter().all(|l| l.starts_with("    ")));
        let joined: Vec<&str> = lines.iter().flat_map(|l| l.split_whitespace()).collect();
        assert_eq!(joined.join(" "), text);
    }

    #[test]
    fn a_long_value_is_never_cut() {
        let long = "kasan-dev.googlegroups.com.very.long.list.identifier.example.org";
        let lines = fill(
            &["2024-01-01".into(), long.into(), "Jane <j@x>".into()],
            "  ",
            "",
            "    ",
            60,
        );
        assert!(lines.iter().any(|l| l.contains(long)), "{lines:?}");
    }
}
