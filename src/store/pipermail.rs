//! Mailman 2 ("pipermail") text archives: recognising them and naming their list.
//!
//! Mailman 2 keeps each archive period of a list as an mbox-like text file,
//! `2005-March.txt` (gzipped nightly to `2005-March.txt.gz`), whose separators
//! and `From:` headers carry the sender obfuscated: `From jane at example.com
//! Mon Jun 21 18:31:56 2004`, `From: jane at example.com (Jane Doe)`. The files
//! are read as mbox (the splitter takes those separators as envelopes); this
//! module tells which files and messages come from such an archive, so
//! extraction can undo the obfuscation, and finds the list's name: the
//! archive's `[Listname]` subject tag, else the archive directory's name.
//!
//! It knows nothing of parsing mail beyond Subject lines, nor of the index.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use super::{compress, mbox, Location, RawMessage};

/// English month names as Mailman writes them (`time.strftime("%B")`).
const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// Subject tags that mark a kind of message, not a list.
const NOT_LIST_TAGS: &[&str] = &[
    "patch", "rfc", "ann", "announce", "solved", "ot", "spam", "resend", "wip", "bug", "fix",
    "git", "svn", "pull",
];

/// Whether `name` is the file name of a Mailman 2 text archive: the volume name
/// of one archive period followed by `.txt` or `.txt.gz`. Volume names are
/// `2005` (yearly), `2005q1` or `2005-q1` (quarterly), `2005-March` (monthly),
/// `Week-of-Mon-20050307` or `2005-Week-of-Mon-20050307` (weekly) and
/// `20050307` (daily).
pub fn is_archive_name(name: &str) -> bool {
    let Some(volume) = name
        .strip_suffix(".txt.gz")
        .or_else(|| name.strip_suffix(".txt"))
    else {
        return false;
    };
    is_volume_name(volume)
}

/// Whether `volume` is one archive period's name (see [`is_archive_name`]).
pub fn is_volume_name(volume: &str) -> bool {
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    let week = |s: &str| s.strip_prefix("Week-of-Mon-").is_some_and(|d| digits(d, 8));
    if digits(volume, 4) || digits(volume, 8) || week(volume) {
        return true;
    }
    let Some((year, period)) = volume.split_at_checked(4) else {
        return false;
    };
    if !digits(year, 4) {
        return false;
    }
    let quarter = |q: &str| matches!(q, "q1" | "q2" | "q3" | "q4");
    match period.strip_prefix('-') {
        Some(rest) => MONTHS.contains(&rest) || quarter(rest) || week(rest),
        None => quarter(period),
    }
}

/// Whether an envelope line (without `From `) is a pipermail separator's:
/// `jane at example.com  Mon Jun 21 18:31:56 2004`, the sender written
/// `local at domain` and an asctime date after it.
pub fn is_separator_envelope(envelope: &str) -> bool {
    let mut words = envelope.split_ascii_whitespace();
    let (Some(local), Some("at"), Some(domain)) = (words.next(), words.next(), words.next()) else {
        return false;
    };
    !local.contains('@')
        && !domain.contains('@')
        && domain.bytes().any(|b| b.is_ascii_alphanumeric())
        && mbox::looks_like_envelope(format!("From {envelope}").as_bytes())
}

/// Whether a whole line (without line ending) is a separator as Mailman 2
/// writes it: `From <sender>  <asctime>`, two spaces between (`From jane at
/// example.com  Mon Jun  1 18:31:56 2004`, or `bogus@does.not.exist.com` for a
/// sender it could not read). A git patch's `From <sha> Mon Sep 17 00:00:00
/// 2001` in a body has one space and is not one.
pub fn is_mailman_separator(line: &[u8]) -> bool {
    let Some(rest) = line.strip_prefix(b"From ") else {
        return false;
    };
    let Some((sender, date)) = std::str::from_utf8(rest)
        .ok()
        .and_then(|r| r.split_once("  "))
    else {
        return false;
    };
    !sender.trim().is_empty()
        && !sender.starts_with(char::is_whitespace)
        && date.split_ascii_whitespace().count() == 5
        && mbox::looks_like_envelope(line)
}

/// Whether `path` is a Mailman 2 text archive: by its file name, else by its
/// first line being a pipermail separator (reads the file's head).
pub fn is_archive_file(path: &Path) -> bool {
    if path
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(is_archive_name)
    {
        return true;
    }
    let Ok(head) = compress::head(path, 1024) else {
        return false;
    };
    let first = head.split(|&b| b == b'\n').next().unwrap_or_default();
    let first = first.strip_suffix(b"\r").unwrap_or(first);
    first
        .strip_prefix(b"From ")
        .and_then(|e| std::str::from_utf8(e).ok())
        .is_some_and(is_separator_envelope)
}

/// Whether a scanned message comes from a pipermail archive: an mbox whose
/// file name is an archive's, or whose separator is pipermail's. No I/O.
pub fn is_pipermail_message(raw: &RawMessage) -> bool {
    let named = match &raw.location {
        Location::Mbox { path, .. } => path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(is_archive_name),
        _ => false,
    };
    named || raw.envelope.as_deref().is_some_and(is_separator_envelope)
}

/// Whether a stored location is in a pipermail archive (for re-reading a
/// message outside a scan, where the envelope is gone): see [`is_archive_file`].
pub fn is_archive_location(location: &Location) -> bool {
    match location {
        Location::Mbox { path, .. } => is_archive_file(path),
        _ => false,
    }
}

/// Whether the first of a message's location URIs (the copy
/// [`super::read_first`] reads when it can) is in a pipermail archive.
pub fn is_archive_uri(uris: &[String]) -> bool {
    uris.first()
        .and_then(|u| Location::from_uri(u).ok())
        .is_some_and(|l| is_archive_location(&l))
}

/// The archive files of a directory, sorted. Where Mailman kept both
/// `X.txt` and its nightly copy `X.txt.gz`, only `X.txt` (never older) is read.
pub fn archive_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = super::sorted_files(dir) else {
        return Vec::new();
    };
    let names: Vec<(PathBuf, String)> = entries
        .into_iter()
        .filter_map(|p| {
            let name = p.file_name()?.to_str()?.to_string();
            is_archive_name(&name).then_some((p, name))
        })
        .collect();
    names
        .iter()
        .filter(|(_, name)| {
            let plain = name.strip_suffix(".gz");
            !plain.is_some_and(|plain| names.iter().any(|(_, n)| n == plain))
        })
        .map(|(p, _)| p.clone())
        .collect()
}

/// The list tag of a subject: the first `[...]` holding a plausible list name
/// (letters, digits, `.`, `_`, `-`), lowercased; `None` for tags such as
/// `[PATCH]` that mark a kind of message.
pub fn subject_tag(subject: &str) -> Option<String> {
    let mut rest = subject;
    while let Some(open) = rest.find('[') {
        let after = &rest[open + 1..];
        let close = after.find(']')?;
        let tag = after[..close].trim();
        let plausible = !tag.is_empty()
            && tag.len() <= 64
            && tag
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
            && tag.bytes().any(|b| b.is_ascii_alphabetic());
        if plausible {
            let tag = tag.to_ascii_lowercase();
            return (!NOT_LIST_TAGS.contains(&tag.as_str())).then_some(tag);
        }
        rest = &after[close + 1..];
    }
    None
}

/// Counts of subject tags over the messages of some archive files.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TagCount {
    /// Messages seen (separators).
    pub messages: u64,
    /// Messages per subject tag.
    pub tags: HashMap<String, u64>,
}

impl TagCount {
    /// Counts the tags of one archive file's messages (unreadable files count nothing).
    pub fn add_file(&mut self, path: &Path) {
        let Ok(reader) = compress::open(path) else {
            return;
        };
        let mut in_headers = false;
        let mut after_blank = true;
        let mut line = Vec::new();
        let mut reader = BufReader::new(reader);
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            let text = line.strip_suffix(b"\n").unwrap_or(&line);
            let text = text.strip_suffix(b"\r").unwrap_or(text);
            if after_blank && mbox::looks_like_envelope(text) {
                self.messages += 1;
                in_headers = true;
            } else if in_headers && text.is_empty() {
                in_headers = false;
            } else if in_headers && text.len() > 8 && text[..8].eq_ignore_ascii_case(b"subject:") {
                let subject = String::from_utf8_lossy(&text[8..]);
                if let Some(tag) = subject_tag(&subject) {
                    *self.tags.entry(tag).or_default() += 1;
                }
            }
            after_blank = text.is_empty();
        }
    }

    /// The list's tag: the most common one, if at least 30% of the messages
    /// carry it (a list that got its subject prefix late still counts; a stray
    /// tag on a list without one does not). Ties go to the smaller name.
    pub fn list(&self) -> Option<String> {
        let (tag, n) = self
            .tags
            .iter()
            .max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0)))?;
        (*n * 10 >= self.messages * 3).then(|| tag.clone())
    }
}

/// The list of the archive in `dir`: the subject tag of its archive files (see
/// [`TagCount::list`]), else the directory's name, lowercased.
pub fn archive_list(dir: &Path) -> Option<String> {
    let mut count = TagCount::default();
    for file in archive_files(dir) {
        count.add_file(&file);
    }
    count.list().or_else(|| {
        dir.file_name()
            .and_then(|n| n.to_str())
            .map(|n| n.trim().to_lowercase())
            .filter(|n| !n.is_empty())
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn archive_names_of_every_period() {
        for name in [
            "2005-March.txt.gz",
            "2005-March.txt",
            "2004-December.txt",
            "2005.txt",
            "2005q2.txt.gz",
            "2005-q2.txt",
            "Week-of-Mon-20050307.txt.gz",
            "2005-Week-of-Mon-20050307.txt",
            "20050307.txt",
        ] {
            assert!(is_archive_name(name), "{name}");
        }
        for name in [
            "2005-march.txt",
            "2005-Mar.txt",
            "2005-March.mbox",
            "2005-March",
            "notes.txt",
            "205-March.txt",
            "2005q5.txt",
            "Week-of-Mon-2005037.txt",
            "2005-March.txt.zst",
            "README.txt",
            "2005-Marchx.txt",
            "",
        ] {
            assert!(!is_archive_name(name), "{name}");
        }
    }

    #[test]
    fn separator_envelopes() {
        assert!(is_separator_envelope(
            "jane.doe at example.com  Mon Jun 21 18:31:56 2004"
        ));
        assert!(is_separator_envelope(
            "root at localhost  Fri Dec 31 15:32:22 2004"
        ));
        for not in [
            "jane@example.com  Mon Jun 21 18:31:56 2004",
            "bogus@does.not.exist.com  Wed Mar 14 13:38:28 2012",
            "jane at example.com",
            "my experience at work, Mon Jun 21",
            "at example.com  Mon Jun 21 18:31:56 2004",
        ] {
            assert!(!is_separator_envelope(not), "{not}");
        }
    }

    /// Regression (gpsd-dev 2010-August): a git patch in a body, after a blank
    /// line, split its message in two.
    #[test]
    fn only_mailman_separators_split_an_archive() {
        assert!(is_mailman_separator(
            b"From jane at example.com  Mon Jun  1 18:31:56 2004"
        ));
        assert!(is_mailman_separator(
            b"From bogus@does.not.exist.com  Wed Mar 14 13:38:28 2012"
        ));
        let patch = b"From c63dff18c923565e7da3bbdcc0100972276f7c48 Mon Sep 17 00:00:00 2001";
        assert!(!is_mailman_separator(patch));
        assert!(mbox::looks_like_envelope(patch));
        let text = format!(
            "From a at b.org  Mon Jun 21 18:31:56 2004\nFrom: a at b.org (A)\nSubject: p\n\nhere:\n\n{}\nFrom: A <a@b.org>\n\nFrom c at d.org  Tue Jun 22 18:31:56 2004\nFrom: c at d.org (C)\n\nok\n",
            String::from_utf8_lossy(patch)
        );
        let count = |mut s: mbox::MboxSplitter| {
            let mut frames = s.push(text.as_bytes());
            frames.extend(s.finish());
            frames.len()
        };
        assert_eq!(count(mbox::MboxSplitter::new(1 << 20).pipermail()), 2);
        assert_eq!(
            count(mbox::MboxSplitter::new(1 << 20)),
            3,
            "a plain mbox takes the patch line"
        );
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("2010-August.txt");
        std::fs::write(&file, &text).unwrap();
        let scan = crate::store::scan(&file, crate::store::SourceKind::Mbox, &Default::default());
        assert_eq!(scan.unwrap().count(), 2);
    }

    #[test]
    fn subject_tags() {
        let tag = |s: &str| subject_tag(s);
        assert_eq!(
            tag("[fetchmail-users] x").as_deref(),
            Some("fetchmail-users")
        );
        assert_eq!(tag("Re: [Gpsd-dev] x").as_deref(), Some("gpsd-dev"));
        assert_eq!(
            tag("[esr at BerliOS] [Gpsd-dev] x").as_deref(),
            Some("gpsd-dev")
        );
        assert_eq!(tag("[PATCH] fix"), None);
        assert_eq!(tag("no tag"), None);
        assert_eq!(tag("[2] unclosed [x"), None);
    }

    #[test]
    fn archive_list_from_tags_else_directory() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("Ops-Archive");
        std::fs::create_dir(&dir).unwrap();
        let msg = |subject: &str| {
            format!("From a at b.org  Mon Jun 21 18:31:56 2004\nFrom: a at b.org (A)\nSubject: {subject}\n\nSubject: [decoy] x\n\n")
        };
        std::fs::write(dir.join("2004-June.txt"), msg("[PATCH] x") + &msg("no tag")).unwrap();
        assert_eq!(archive_list(&dir).as_deref(), Some("ops-archive"));
        let tagged: String = (0..3).map(|_| msg("Re: [Ops] y")).collect();
        std::fs::write(dir.join("2004-July.txt"), tagged).unwrap();
        assert_eq!(archive_list(&dir).as_deref(), Some("ops"), "3 of 5 tagged");
        // The nightly .gz copy of a .txt is not read (it would count twice).
        let dup: String = (0..9).map(|_| msg("[other] z")).collect();
        std::fs::write(dir.join("2004-July.txt.gz"), dup).unwrap();
        assert_eq!(archive_files(&dir).len(), 2);
        assert_eq!(archive_list(&dir).as_deref(), Some("ops"));
    }

    #[test]
    fn files_and_messages_are_recognised() {
        let dir = tempfile::tempdir().unwrap();
        let odd = dir.path().join("export.mbox");
        std::fs::write(
            &odd,
            "From a at b.org  Mon Jun 21 18:31:56 2004\nFrom: a at b.org\n\nx\n",
        )
        .unwrap();
        let plain = dir.path().join("plain.mbox");
        std::fs::write(
            &plain,
            "From a@b.org  Mon Jun 21 18:31:56 2004\nFrom: a@b.org\n\nx\n",
        )
        .unwrap();
        assert!(is_archive_file(&odd));
        assert!(!is_archive_file(&plain));
        let raw = |path: &Path, envelope: &str| RawMessage {
            location: Location::Mbox {
                path: path.to_path_buf(),
                offset: 0,
                len: 1,
            },
            bytes: Vec::new(),
            flags: String::new(),
            folder: None,
            envelope: Some(envelope.to_string()),
            mtime: None,
        };
        let bogus = "bogus@does.not.exist.com  Wed Mar 14 13:38:28 2012";
        assert!(is_pipermail_message(&raw(
            Path::new("/a/2012-March.txt"),
            bogus
        )));
        assert!(!is_pipermail_message(&raw(&plain, bogus)));
        assert!(is_pipermail_message(&raw(
            &plain,
            "a at b.org  Mon Jun 21 18:31:56 2004"
        )));
        assert!(is_archive_location(&raw(&odd, "").location));
        assert!(!is_archive_location(&raw(&plain, "").location));
    }
}
