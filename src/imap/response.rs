//! How values are written in IMAP responses: quoted strings, literals,
//! `NIL`, dates, sequence sets. Pure.

/// `s` as a quoted string when it can be one, else as a literal.
pub fn quote(s: &str) -> String {
    astring_bytes(s.as_bytes())
}

/// `s` as a quoted string, UTF-8 allowed (RFC 6855, after ENABLE
/// UTF8=ACCEPT); a literal when it holds control characters or is long.
pub fn quote_utf8(s: &str) -> String {
    if s.len() < 1024 && !s.chars().any(char::is_control) {
        quoted(s)
    } else {
        astring_bytes(s.as_bytes())
    }
}

/// `s` between double quotes, `"` and `\\` escaped (the caller checked that
/// it may be a quoted string).
pub fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

fn astring_bytes(b: &[u8]) -> String {
    let quotable = b.len() < 1024 && b.iter().all(|c| (0x20..0x7f).contains(c));
    if quotable {
        let mut out = String::with_capacity(b.len() + 2);
        out.push('"');
        for &c in b {
            if c == b'"' || c == b'\\' {
                out.push('\\');
            }
            out.push(char::from(c));
        }
        out.push('"');
        out
    } else {
        // 8-bit header text: a literal (UTF-8 or not, sent as is).
        format!("{{{}}}\r\n{}", b.len(), String::from_utf8_lossy(b))
    }
}

/// A string or `NIL`. Non-UTF-8 bytes are replaced (U+FFFD), which keeps
/// the literal's length honest because it is measured after replacement.
pub fn nstring(b: Option<&[u8]>) -> String {
    match b {
        None => "NIL".into(),
        Some(b) => {
            let text = String::from_utf8_lossy(b);
            astring_bytes(text.as_bytes())
        }
    }
}

/// Unix seconds as an IMAP date-time (`"07-Dec-2026 02:33:40 +0000"`).
pub fn date_time(secs: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(secs.max(0))
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = MONTHS[usize::from(u8::from(t.month())) - 1];
    format!(
        "\"{:02}-{}-{:04} {:02}:{:02}:{:02} +0000\"",
        t.day(),
        month,
        t.year(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Parses an IMAP date (`1-Feb-1994`) to the unix seconds of its midnight UTC.
pub fn parse_date(s: &str) -> Option<i64> {
    let mut it = s.split('-');
    let day: u8 = it.next()?.parse().ok()?;
    let month = match it.next()?.to_ascii_lowercase().as_str() {
        "jan" => 1,
        "feb" => 2,
        "mar" => 3,
        "apr" => 4,
        "may" => 5,
        "jun" => 6,
        "jul" => 7,
        "aug" => 8,
        "sep" => 9,
        "oct" => 10,
        "nov" => 11,
        "dec" => 12,
        _ => return None,
    };
    let year: i32 = it.next()?.parse().ok()?;
    if it.next().is_some() {
        return None;
    }
    let date =
        time::Date::from_calendar_date(year, time::Month::try_from(month).ok()?, day).ok()?;
    Some(date.midnight().assume_utc().unix_timestamp())
}

/// Ascending numbers as a compact sequence set (`1:3,7`).
pub fn compact(nums: &[u32]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < nums.len() {
        let start = nums[i];
        let mut end = start;
        while i + 1 < nums.len() && nums[i + 1] == end.saturating_add(1) {
            i += 1;
            end = nums[i];
        }
        if !out.is_empty() {
            out.push(',');
        }
        if start == end {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}:{end}"));
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values() {
        assert_eq!(quote("a\"b"), "\"a\\\"b\"");
        assert_eq!(nstring(Some("é".as_bytes())), "{2}\r\né");
        assert_eq!(nstring(None), "NIL");
        assert_eq!(date_time(0), "\"01-Jan-1970 00:00:00 +0000\"");
        assert_eq!(parse_date("2-Jan-1970"), Some(86400));
        assert_eq!(parse_date("32-Jan-1970"), None);
        assert_eq!(compact(&[1, 2, 3, 7, 9, 10]), "1:3,7,9:10");
    }
}
