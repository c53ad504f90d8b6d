//! One reviewer's review rounds as an iCalendar feed (RFC 5545): for each
//! round a VTODO (start, due, progress, done when the round closes) and an
//! all-day VEVENT on the due date, for calendar apps that show no tasks.
//!
//! Pure text: CRLF line endings, lines folded at 75 octets (never inside a
//! UTF-8 character), TEXT values escaped (`\\`, `\;`, `\,`, `\n`). UIDs are
//! made of the round's number and the server's host, so they stay the same
//! from one fetch to the next. Knows nothing of HTTP or tokens.

use std::fmt::Write as _;

use super::rounds::Round;

/// Escapes a TEXT value (RFC 5545 §3.3.11); other control characters are dropped.
pub fn escape_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Appends one content line, folded at 75 octets, ending in CRLF.
fn line(out: &mut String, content: &str) {
    let mut width = 0;
    for c in content.chars() {
        let n = c.len_utf8();
        if width + n > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += n;
    }
    out.push_str("\r\n");
}

fn stamp(secs: i64) -> String {
    let t =
        time::OffsetDateTime::from_unix_timestamp(secs).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

fn date(secs: i64) -> String {
    stamp(secs).get(..8).unwrap_or("19700101").to_string()
}

/// What a feed is made for.
pub struct Feed<'a> {
    /// The reviewer.
    pub user: &'a str,
    /// Their rounds (open, and recently closed).
    pub rounds: &'a [Round],
    /// The base URL of links (`https://gleaner.example.org`).
    pub public_url: &'a str,
    /// Now (DTSTAMP).
    pub now: i64,
}

/// The host part of UIDs: the public URL's host.
fn uid_host(public_url: &str) -> String {
    let rest = public_url.split("://").nth(1).unwrap_or(public_url);
    let host = rest.split(['/', ':']).next().unwrap_or("");
    if host.is_empty() {
        "gleaner".into()
    } else {
        host.to_string()
    }
}

/// What a round means to `user`, in words (the DESCRIPTION and the digest).
pub fn progress_text(round: &Round, user: &str) -> String {
    let mut s = String::new();
    if let Some(me) = round.of(user) {
        let _ = write!(
            s,
            "Your share: {} of {} threads decided, {} left.",
            me.decided,
            me.assigned,
            me.assigned.saturating_sub(me.decided)
        );
    }
    let _ = write!(
        s,
        "{}Whole round: {} of {} decided; reviewers: {}.",
        if s.is_empty() { "" } else { "\n" },
        round.decided,
        round.total,
        round
            .reviewers
            .iter()
            .filter(|r| !r.reviewer.is_empty())
            .map(|r| format!("{} {}/{}", r.reviewer, r.decided, r.assigned))
            .collect::<Vec<_>>()
            .join(", ")
    );
    if round.overdue {
        let _ = write!(
            s,
            "\nOVERDUE since {}.",
            crate::query::search::rfc3339(round.due_at)
        );
    } else if let Some(closed) = round.closed_at {
        let _ = write!(s, "\nFinished {}.", crate::query::search::rfc3339(closed));
    }
    s
}

/// The link to a round's queue.
pub fn round_url(public_url: &str, round: &Round) -> String {
    format!(
        "{}/review/{}",
        public_url.trim_end_matches('/'),
        super::percent_encode(&round.policy)
    )
}

/// The whole VCALENDAR.
pub fn render(feed: &Feed<'_>) -> String {
    let mut out = String::new();
    let host = uid_host(feed.public_url);
    line(&mut out, "BEGIN:VCALENDAR");
    line(&mut out, "VERSION:2.0");
    line(&mut out, "PRODID:-//gleaner//review rounds//EN");
    line(&mut out, "CALSCALE:GREGORIAN");
    line(&mut out, "METHOD:PUBLISH");
    line(
        &mut out,
        &format!(
            "X-WR-CALNAME:{}",
            escape_text(&format!("gleaner review rounds of {}", feed.user))
        ),
    );
    let dtstamp = stamp(feed.now);
    for r in feed.rounds {
        let url = round_url(feed.public_url, r);
        let description = escape_text(&format!("{}\n{url}", progress_text(r, feed.user)));
        let (done, of) = r
            .of(feed.user)
            .map_or((r.decided, r.total), |me| (me.decided, me.assigned));
        let percent = (done * 100).checked_div(of).unwrap_or(100);
        let title = r.title();
        line(&mut out, "BEGIN:VTODO");
        line(&mut out, &format!("UID:gleaner-round-{}@{host}", r.id));
        line(&mut out, &format!("DTSTAMP:{dtstamp}"));
        line(&mut out, &format!("DTSTART:{}", stamp(r.opened_at)));
        line(&mut out, &format!("DUE:{}", stamp(r.due_at)));
        line(
            &mut out,
            &format!(
                "SUMMARY:{}",
                escape_text(&format!("Review {title}: {done}/{of} decided"))
            ),
        );
        line(&mut out, &format!("DESCRIPTION:{description}"));
        line(&mut out, &format!("URL:{url}"));
        line(&mut out, &format!("PERCENT-COMPLETE:{}", percent.min(100)));
        match r.closed_at {
            Some(closed) => {
                line(&mut out, "STATUS:COMPLETED");
                line(&mut out, &format!("COMPLETED:{}", stamp(closed)));
            }
            None => line(&mut out, "STATUS:NEEDS-ACTION"),
        }
        line(&mut out, "END:VTODO");
        line(&mut out, "BEGIN:VEVENT");
        line(&mut out, &format!("UID:gleaner-round-{}-due@{host}", r.id));
        line(&mut out, &format!("DTSTAMP:{dtstamp}"));
        line(&mut out, &format!("DTSTART;VALUE=DATE:{}", date(r.due_at)));
        line(
            &mut out,
            &format!("DTEND;VALUE=DATE:{}", date(r.due_at + 86_400)),
        );
        line(
            &mut out,
            &format!("SUMMARY:{}", escape_text(&format!("Review {title} due"))),
        );
        line(&mut out, &format!("DESCRIPTION:{description}"));
        line(&mut out, &format!("URL:{url}"));
        line(&mut out, "TRANSP:TRANSPARENT");
        line(&mut out, "END:VEVENT");
    }
    line(&mut out, "END:VCALENDAR");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_lines_are_folded_at_75_octets_between_characters() {
        assert_eq!(escape_text("a,b;c\\d\ne\r"), "a\\,b\\;c\\\\d\\ne");
        let mut out = String::new();
        let long = format!("DESCRIPTION:{}", "é".repeat(100));
        line(&mut out, &long);
        for l in out.split_terminator("\r\n") {
            assert!(l.len() <= 75, "{} octets: {l}", l.len());
        }
        let unfolded = out.trim_end_matches("\r\n").replace("\r\n ", "");
        assert_eq!(unfolded, long);
    }
}
