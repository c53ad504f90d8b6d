//! The `README.txt` of a media set: plain ASCII text for someone who finds
//! the medium decades from now without gleaner — what the set holds (dates,
//! lists, counts, which set of which run), every file format, and exactly
//! how to check and read each one with standard tools.
//!
//! Pure text: no I/O, nothing of the database.

use std::collections::BTreeSet;
use std::fmt::Write;

use super::{set::set_name, Item, MediaOptions};
use crate::query::search::rfc3339;

fn day(secs: i64) -> String {
    let s = rfc3339(secs);
    s.get(..10).unwrap_or(&s).to_string()
}

/// The README of set `no`, written by a run that wrote sets `run.0..=run.1`.
pub(super) fn render(opts: &MediaOptions<'_>, no: i64, run: (i64, i64), items: &[Item]) -> String {
    let manifests: Vec<_> = items.iter().filter_map(|i| i.manifest.as_ref()).collect();
    let messages: u64 = manifests.iter().map(|m| m.message_count).sum();
    let dates = manifests
        .iter()
        .flat_map(|m| m.messages.iter().map(|e| e.date));
    let (first, last) = dates.fold((i64::MAX, i64::MIN), |(a, b), d| (a.min(d), b.max(d)));
    let lists: BTreeSet<&str> = manifests
        .iter()
        .flat_map(|m| m.messages.iter().map(|e| e.list.as_str()))
        .map(|l| if l.is_empty() { "(no list)" } else { l })
        .collect();
    let docs: Vec<&Item> = items.iter().filter(|i| i.kind == "document").collect();
    let mut t = String::new();
    let _ = writeln!(t, "MAIL ARCHIVE MEDIA SET {}", set_name(no));
    let _ = writeln!(t, "==============================\n");
    let _ = writeln!(
        t,
        "This is {}, written on {} by `gleaner export-media`, which wrote\n\
         {} to {} in that run; other sets hold other mail. Every file here is\n\
         in an open format that standard tools read: you do not need gleaner.\n",
        set_name(no),
        day(opts.now),
        set_name(run.0),
        set_name(run.1)
    );
    let _ = writeln!(t, "WHAT THIS SET HOLDS\n-------------------\n");
    let _ = writeln!(t, "Mail volumes:        {}", manifests.len());
    let _ = writeln!(t, "Messages:            {messages}");
    if messages > 0 {
        let _ = writeln!(
            t,
            "Message dates:       {} to {} (UTC)",
            day(first),
            day(last)
        );
    }
    let _ = writeln!(t, "Mailing lists:       {}", lists.len());
    for l in &lists {
        let _ = writeln!(t, "    {l}");
    }
    let _ = writeln!(t, "Published documents: {}\n", docs.len());
    for m in &manifests {
        let (a, b) = m.messages.iter().fold((i64::MAX, i64::MIN), |(a, b), e| {
            (a.min(e.date), b.max(e.date))
        });
        let span = if m.messages.is_empty() {
            "no messages".to_string()
        } else {
            format!("{} messages, {} to {}", m.message_count, day(a), day(b))
        };
        let _ = writeln!(t, "  volumes/{}.mbox.zst: {span}", m.name);
    }
    for d in &docs {
        let _ = writeln!(
            t,
            "  documents/{}.md and .html: \"{}\" (revision {})",
            d.name, d.title, d.version
        );
    }
    t.push_str(FORMATS);
    t
}

const FORMATS: &str = r#"
FILES AND FORMATS
-----------------

SHA256SUMS
    One line per file of this set: its SHA-256 (64 hex digits), two spaces,
    its path. Check the whole set (GNU coreutils, or `shasum -a 256 -c`):
        cd set-NNNN && sha256sum -c SHA256SUMS
    Every line must say OK. A file that fails was damaged after writing.

volumes/NAME.mbox.zst
    A mailbox in the "mboxrd" format, compressed with Zstandard (zstd,
    RFC 8878) as a series of independent frames (so one message can be
    read without the rest; the whole file also decompresses in one go).
    Test and decompress it:
        zstd -t volumes/NAME.mbox.zst
        zstd -dc volumes/NAME.mbox.zst > NAME.mbox
    Read the mailbox with any mbox reader, for example:
        mutt -f NAME.mbox          (or neomutt -f, or Thunderbird's
                                    ImportExportTools, or Python's
                                    `mailbox.mbox("NAME.mbox")`)
    mboxrd: each message starts with a line
        From <envelope sender> <date, like: Thu Jan  4 12:00:00 2018>
    followed by the message exactly as it was received (RFC 5322, with its
    original line endings), then an empty line. Inside a message, every line
    that began with "From " or with ">"s and then "From " has one more ">"
    in front; remove one ">" from such lines to get the original bytes back.

volumes/NAME.manifest.json
    JSON (RFC 8259, UTF-8) describing the volume: "format"
    ("gleaner-volume/1"), "name", "policy" (why it was archived), "created"
    and "sealed" (RFC 3339 times), "message_count", "mbox_bytes"
    (decompressed size), "volume_bytes" and "volume_sha256" (of the
    .mbox.zst file), and "messages", one entry per message in mailbox order:
      message_id       the Message-ID header
      key              gleaner's key of the message
      date             its date, seconds since 1970-01-01 UTC
      list             the mailing list it came from
      size, sha256     length and SHA-256 of the original message bytes
      source           where it was read from before archiving
      frame_offset     byte offset of its zstd frame in the .mbox.zst
      offset_in_frame  where the message starts in that frame, decompressed
                       (after its "From " line)
      stored_len       its length there, ">From" quoting included
      added_newline    a newline was added because it did not end in one
    Find a message by Message-ID:
        grep -n 'some-id@example.org' volumes/*.manifest.json
    Read only that message (replace F, O and L by frame_offset,
    offset_in_frame and stored_len):
        tail -c +$((F+1)) volumes/NAME.mbox.zst | zstd -dc 2>/dev/null \
            | tail -c +$((O+1)) | head -c L

documents/SLUG.md
    A published document in Markdown (CommonMark with footnotes), UTF-8
    text: readable as is in any text editor. Citations are footnotes naming
    the message (author, subject, list, date, Message-ID), which the
    volumes hold.

documents/SLUG.html
    The same document as a standalone HTML page (no scripts, no remote
    content): open it in any web browser.

README.txt
    This file (plain text, UTF-8).
"#;
