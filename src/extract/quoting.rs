//! Splits body text into the author's own words, quoted text (`>` lines,
//! attribution lines, forwarded "Original Message" blocks) and the footer
//! (signature after `-- `, mailing-list footer at the end).

/// The three parts of a body.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Split {
    pub own: String,
    pub quoted: String,
    pub footer: String,
}

/// How far from the end a list footer may start, in lines.
const FOOTER_WINDOW: usize = 40;
/// A `--` line (without the space) starts a signature only if this short.
const BARE_SIG_MAX_LINES: usize = 12;

/// Splits cleaned text (LF line ends).
pub(crate) fn split(text: &str) -> Split {
    let lines: Vec<&str> = text.split('\n').collect();
    let footer_start = list_footer_start(&lines);
    let mut own = Vec::new();
    let mut quoted = Vec::new();
    let mut sig = Vec::new();
    let mut in_sig = false;
    let mut forwarded = false;
    // Inside a run of quoted lines (blank lines do not end it).
    let mut in_quote = false;
    let mut i = 0;
    while i < footer_start {
        let line = lines[i];
        if forwarded {
            quoted.push(unquote(line));
        } else if is_separator(&lines, i) {
            forwarded = true;
            in_sig = false;
            quoted.push(line.to_string());
        } else if is_quoted(line) {
            in_sig = false;
            if !in_quote && !quoted.is_empty() {
                quoted.push(String::new());
            }
            in_quote = true;
            quoted.push(unquote(line));
        } else if let Some(n) = attribution(&lines[..footer_start], i) {
            in_sig = false;
            if !in_quote && !quoted.is_empty() {
                quoted.push(String::new());
            }
            in_quote = true;
            quoted.extend(lines[i..i + n].iter().map(|l| l.trim().to_string()));
            i += n;
            continue;
        } else if in_sig {
            sig.push(line.to_string());
        } else if is_sig_start(&lines[..footer_start], i) {
            in_sig = true;
        } else {
            in_quote &= line.trim().is_empty();
            own.push(line.to_string());
        }
        i += 1;
    }
    let mut footer = tidy(&sig);
    let list_footer = tidy(
        &lines[footer_start..]
            .iter()
            .map(|l| l.to_string())
            .collect::<Vec<_>>(),
    );
    if !list_footer.is_empty() {
        if !footer.is_empty() {
            footer.push_str("\n\n");
        }
        footer.push_str(&list_footer);
    }
    Split {
        own: tidy(&own),
        quoted: tidy(&quoted),
        footer,
    }
}

fn is_quoted(line: &str) -> bool {
    line.trim_start().starts_with('>')
}

/// Removes every level of `>` quoting and the space after each.
fn unquote(line: &str) -> String {
    let mut s = line.trim_start();
    while let Some(rest) = s.strip_prefix('>') {
        s = rest
            .strip_prefix(' ')
            .unwrap_or(rest)
            .trim_start_matches(' ');
    }
    s.to_string()
}

/// Trims trailing spaces, squeezes blank-line runs to one, and drops leading
/// and trailing blank lines.
fn tidy(lines: &[String]) -> String {
    let mut out = String::new();
    let mut blank = false;
    for line in lines {
        let line = line.trim_end();
        if line.is_empty() {
            blank = !out.is_empty();
            continue;
        }
        if blank {
            out.push('\n');
            blank = false;
        }
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(line);
    }
    out
}

/// The line where a mailing-list footer starts (a `____` line near the end
/// followed by list boilerplate), or `lines.len()`.
fn list_footer_start(lines: &[&str]) -> usize {
    let from = lines.len().saturating_sub(FOOTER_WINDOW);
    for i in from..lines.len() {
        let t = lines[i].trim();
        if t.len() < 10 || !t.bytes().all(|b| b == b'_') {
            continue;
        }
        let tail = lines[i + 1..].join("\n").to_lowercase();
        if ["mailing list", "listinfo", "unsubscribe", "mailman"]
            .iter()
            .any(|k| tail.contains(k))
        {
            return i;
        }
    }
    lines.len()
}

/// Markers of a forwarded or Outlook-quoted message, lowercased, without dashes.
const SEPARATORS: &[&str] = &[
    "original message",
    "forwarded message",
    "ursprüngliche nachricht",
    "weitergeleitete nachricht",
    "message d'origine",
    "message transféré",
    "mensaje original",
    "messaggio originale",
    "oorspronkelijk bericht",
    "originalmeddelande",
    "oprindelig meddelelse",
    "opprinnelig melding",
    "alkuperäinen viesti",
];

/// `-----Original Message-----` and friends, or Outlook's underscore rule
/// followed by a `From:` line.
fn is_separator(lines: &[&str], i: usize) -> bool {
    let t = lines[i].trim();
    if t.starts_with("--") {
        let inner = t.trim_matches(|c| c == '-' || c == ' ').to_lowercase();
        return SEPARATORS.contains(&inner.as_str());
    }
    if t.len() >= 10 && t.bytes().all(|b| b == b'_') {
        let next = lines.get(i + 1).map(|l| l.trim_start()).unwrap_or("");
        return [
            "From:", "Von:", "De :", "De:", "Fra:", "Från:", "Van:", "Da:",
        ]
        .iter()
        .any(|p| next.starts_with(p));
    }
    false
}

/// Endings of attribution lines.
const WROTE: &[&str] = &[
    "wrote:",
    "writes:",
    "said:",
    "schrieb:",
    "écrit :",
    "écrit:",
    "escribió:",
    "ha scritto:",
    "skrev:",
    "kirjoitti:",
    "schreef:",
    "napisał:",
    "написал:",
    "написал(а):",
];

fn ends_like_attribution(t: &str) -> bool {
    WROTE.iter().any(|w| t.ends_with(w))
}

fn starts_like_attribution(t: &str) -> bool {
    ["On ", "Am ", "Le ", "El ", "Il ", "Op ", "W dniu ", "Den "]
        .iter()
        .any(|p| t.starts_with(p))
}

/// If an attribution ("On ... wrote:", "Am ... schrieb ...:") starts at line
/// `i`, how many lines it takes (1 or 2).
fn attribution(lines: &[&str], i: usize) -> Option<usize> {
    let t = lines[i].trim();
    if t.is_empty() || t.len() > 300 {
        return None;
    }
    let next_is_quote = lines[i + 1..]
        .iter()
        .find(|l| !l.trim().is_empty())
        .is_some_and(|l| is_quoted(l));
    // German clients put the name after "schrieb": "Am ... schrieb Hans:".
    let german = t.starts_with("Am ") && t.contains(" schrieb") && t.ends_with(':');
    if german || (ends_like_attribution(t) && (starts_like_attribution(t) || next_is_quote)) {
        return Some(1);
    }
    if starts_like_attribution(t) {
        let next = lines.get(i + 1).map(|l| l.trim()).unwrap_or("");
        if !next.is_empty()
            && !is_quoted(next)
            && t.len() + next.len() <= 300
            && (ends_like_attribution(next)
                || (t.starts_with("Am ") && next.ends_with(':') && next.contains("schrieb"))
                || (t.contains(" schrieb") && next.ends_with(':')))
        {
            return Some(2);
        }
    }
    None
}

/// A `-- ` line, or a bare `--` line followed by a short block.
fn is_sig_start(lines: &[&str], i: usize) -> bool {
    match lines[i] {
        "-- " => true,
        "--" => {
            let rest = &lines[i + 1..];
            let end = rest.iter().position(|l| is_quoted(l)).unwrap_or(rest.len());
            rest[..end].iter().filter(|l| !l.trim().is_empty()).count() <= BARE_SIG_MAX_LINES
        }
        _ => false,
    }
}
