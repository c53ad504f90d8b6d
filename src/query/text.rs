//! The whole text of a stored message, re-read from its mail store: what a
//! citation's passage is checked against (the index keeps only the start of
//! the author's words).

use crate::extract::{self, ExtractContext};
use crate::index::doc::StoredMessage;

/// Subject, the author's words, quoted text, footer and text attachments of
/// `m`, read from the first of its locations that can be read (only the
/// locations the caller may see: pass a [`StoredMessage::visible_to`] copy).
/// `None` when no copy can be read or parsed.
pub fn full_text(m: &StoredMessage) -> Option<String> {
    let d = decode(m)?;
    Some(
        [
            d.subject.as_str(),
            &d.body,
            &d.quoted,
            &d.footer,
            &d.attachment_text,
        ]
        .join("\n"),
    )
}

/// `m` re-read from the first of its locations that can be read and
/// decoded (a pipermail archive's copy as such); `None` when none can.
pub fn decode(m: &StoredMessage) -> Option<extract::MailDoc> {
    let bytes = crate::store::read_first(&m.locations).ok()?;
    let ctx = ExtractContext {
        list: Some(m.list.as_str()).filter(|l| !l.is_empty()),
        envelope: None,
        pipermail: crate::store::pipermail::is_archive_uri(&m.locations),
    };
    extract::extract(&bytes, &ctx).ok()
}

/// Does `passage` occur in `text`, whitespace runs counting as one space?
pub fn occurs(passage: &str, text: &str) -> bool {
    let words = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    let p = words(passage);
    !p.is_empty() && words(text).contains(&p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passages_match_across_line_breaks_and_spacing_only() {
        let text = "Run\n  mdadm --add /dev/md0\n/dev/sdb1 and wait.";
        assert!(occurs("mdadm --add /dev/md0 /dev/sdb1", text));
        assert!(occurs("  Run mdadm  ", text));
        assert!(!occurs("mdadm --remove /dev/md0", text));
        assert!(!occurs("   ", text));
    }
}
