//! An RFC 5322 message of plain UTF-8 text: Date, Message-ID, From, To,
//! Subject (RFC 2047 encoded-words when not ASCII), MIME 1.0 with a
//! quoted-printable body (7-bit clean, lines under 78 octets), and
//! `Auto-Submitted: auto-generated` (RFC 3834) so nobody auto-replies.

use std::fmt::Write as _;

use base64::Engine as _;

/// A message to build.
pub struct Outgoing<'a> {
    /// From address.
    pub from: &'a str,
    /// To address.
    pub to: &'a str,
    /// Subject (any UTF-8).
    pub subject: &'a str,
    /// Body (any UTF-8; `\n` line ends).
    pub body: &'a str,
    /// Date (unix seconds).
    pub date: i64,
    /// The Message-ID without brackets.
    pub message_id: &'a str,
}

/// A new Message-ID (`<random>@domain`, without brackets).
pub fn new_message_id(domain: &str, now: i64) -> String {
    let mut buf = [0u8; 12];
    // A failed RNG still gives a unique-enough id with the time in it.
    let _ = getrandom::fill(&mut buf);
    format!("gleaner.{now}.{}@{domain}", hex::encode(buf))
}

/// The RFC 5322 date of `secs` (UTC).
pub fn rfc5322_date(secs: i64) -> String {
    let t =
        time::OffsetDateTime::from_unix_timestamp(secs).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let wd = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    let mo = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{}, {:02} {} {:04} {:02}:{:02}:{:02} +0000",
        wd[usize::from(t.weekday().number_days_from_monday())],
        t.day(),
        mo[usize::from(u8::from(t.month()) - 1)],
        t.year(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// A header value: as is when printable ASCII, else RFC 2047 `B` words of
/// whole characters, each within 75 octets.
pub fn encode_header(value: &str) -> String {
    let clean: String = value.chars().filter(|c| !c.is_control()).collect();
    if clean.is_ascii() {
        return clean;
    }
    let mut words = Vec::new();
    let mut chunk = String::new();
    for c in clean.chars() {
        // 45 octets of UTF-8 become 60 of base64: with `=?UTF-8?B?` and `?=`, 72.
        if chunk.len() + c.len_utf8() > 45 {
            words.push(std::mem::take(&mut chunk));
        }
        chunk.push(c);
    }
    words.push(chunk);
    words
        .iter()
        .map(|w| {
            format!(
                "=?UTF-8?B?{}?=",
                base64::engine::general_purpose::STANDARD.encode(w)
            )
        })
        .collect::<Vec<_>>()
        .join("\r\n ")
}

/// Quoted-printable (RFC 2045 §6.7) of UTF-8 text with `\n` line ends:
/// CRLF line ends, soft breaks keeping lines within 76 octets.
pub fn quoted_printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for line in text.split('\n') {
        let line = line.trim_end_matches('\r');
        let bytes = line.as_bytes();
        let mut width = 0;
        for (i, &b) in bytes.iter().enumerate() {
            let last = i + 1 == bytes.len();
            let literal =
                (b == b' ' || b == b'\t') && !last || (b'!'..=b'~').contains(&b) && b != b'=';
            let piece = if literal {
                (b as char).to_string()
            } else {
                format!("={b:02X}")
            };
            if width + piece.len() > 75 {
                out.push_str("=\r\n");
                width = 0;
            }
            out.push_str(&piece);
            width += piece.len();
        }
        out.push_str("\r\n");
    }
    // `split` gives one line more than the text has line ends.
    if text.ends_with('\n') {
        out.truncate(out.len() - 2);
    }
    out
}

/// The whole message text, CRLF line ends.
pub fn build(m: &Outgoing<'_>) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "Date: {}\r\nFrom: {}\r\nTo: {}\r\nSubject: {}\r\nMessage-ID: <{}>\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\
         Content-Transfer-Encoding: quoted-printable\r\nAuto-Submitted: auto-generated\r\n\
         X-Mailer: gleaner\r\n\r\n",
        rfc5322_date(m.date),
        m.from,
        m.to,
        encode_header(m.subject),
        m.message_id
    );
    out.push_str(&quoted_printable(m.body));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_printable_is_seven_bit_with_short_lines_and_decodes_back() {
        let text = format!("Grüße — {}\n.leading dot = sign \nend", "x".repeat(200));
        let qp = quoted_printable(&text);
        assert!(qp.is_ascii());
        for l in qp.split("\r\n") {
            assert!(l.len() <= 76, "{l}");
        }
        assert!(qp.contains("Gr=C3=BC=C3=9Fe"));
        assert!(qp.contains("sign=20\r\n"), "trailing space encoded: {qp}");
        // Decode: soft breaks away, =XX back to bytes.
        let joined = qp.replace("=\r\n", "");
        let mut bytes = Vec::new();
        let mut it = joined.bytes();
        while let Some(b) = it.next() {
            if b == b'=' {
                let hi = it.next().expect("hi");
                let lo = it.next().expect("lo");
                let s = [hi, lo];
                bytes.push(
                    u8::from_str_radix(std::str::from_utf8(&s).expect("hex"), 16).expect("hex"),
                );
            } else {
                bytes.push(b);
            }
        }
        assert_eq!(
            String::from_utf8(bytes)
                .expect("utf8")
                .replace("\r\n", "\n"),
            format!("{text}\n"),
            "every line, the last too, ends in CRLF"
        );
    }

    #[test]
    fn headers_are_encoded_words_when_not_ascii() {
        assert_eq!(encode_header("plain"), "plain");
        let e = encode_header("Überprüfung");
        assert!(e.starts_with("=?UTF-8?B?") && e.ends_with("?="));
        assert_eq!(rfc5322_date(0), "Thu, 01 Jan 1970 00:00:00 +0000");
    }
}
