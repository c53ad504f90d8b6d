//! mbox files: framing, >From unquoting and reading messages back by offset.
//!
//! [`MboxSplitter`] is a pure state machine with no I/O: feed it byte chunks of
//! any size and it returns [`Frame`]s with their offsets in the stream. It
//! handles mboxo and mboxrd, unescaped `From ` lines inside bodies (a `From `
//! line separates messages only after a blank line and only if it looks like an
//! envelope), CRLF files, a missing final newline and junk before or between
//! messages. [`MboxScan`] drives it over a (possibly compressed) file.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::compress::{self, Compression};
use super::{Location, RawMessage, ScanItem, ScanOptions, Skipped, StoreError};

/// A line longer than this cannot be a separator; it is passed on without buffering it whole.
const MAX_SEPARATOR_LINE: usize = 4096;
/// A line of at least this many NUL bytes (and nothing else) ends a message: it is the
/// block of zeros a crash leaves behind, not text (UTF-16 text has short NUL-only lines).
const MIN_NUL_RUN: usize = 64;

/// One message found by the splitter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageFrame {
    /// The separator line without `From ` and without its line ending.
    pub envelope: String,
    /// Offset of the first byte after the separator line.
    pub offset: u64,
    /// Number of stored (still quoted) bytes.
    pub len: u64,
    /// The stored bytes, or `None` when `len` is over the splitter's limit.
    pub bytes: Option<Vec<u8>>,
}

/// What the splitter finds in the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A message.
    Message(MessageFrame),
    /// Bytes that belong to no message (before the first separator, or from a line of
    /// 64 or more NUL bytes after a message up to the next separator). Whitespace-only gaps are not reported.
    Junk {
        /// Offset of the first junk byte.
        offset: u64,
        /// Number of junk bytes.
        len: u64,
    },
}

#[derive(Debug)]
enum State {
    Junk {
        offset: u64,
        len: u64,
        meaningful: bool,
    },
    Message {
        envelope: String,
        offset: u64,
        len: u64,
        bytes: Option<Vec<u8>>,
        /// The length of the blank line just seen, kept out of the message until we know
        /// whether a separator follows it.
        held_blank: Option<&'static [u8]>,
    },
}

/// The framing state machine. See the module docs.
#[derive(Debug)]
pub struct MboxSplitter {
    max_message_bytes: u64,
    state: State,
    /// Bytes of the current, incomplete line.
    line: Vec<u8>,
    /// Stream offset of the current line's first byte.
    line_start: u64,
    /// The current line was too long to be a separator and is being passed on as content.
    spilling: bool,
    /// Only Mailman 2's separators separate (see [`MboxSplitter::pipermail`]).
    pipermail: bool,
    out: Vec<Frame>,
}

impl MboxSplitter {
    /// A splitter that keeps the bytes of messages up to `max_message_bytes` long.
    pub fn new(max_message_bytes: u64) -> MboxSplitter {
        MboxSplitter {
            max_message_bytes,
            state: State::Junk {
                offset: 0,
                len: 0,
                meaningful: false,
            },
            line: Vec::new(),
            line_start: 0,
            spilling: false,
            pipermail: false,
            out: Vec::new(),
        }
    }

    /// A splitter for a Mailman 2 text archive: only `From <sender>  <asctime>`
    /// lines (two spaces, as Mailman writes them; see
    /// [`super::pipermail::is_mailman_separator`]) separate messages after the
    /// first. Mailman does not quote `From ` lines in bodies, and a git patch's
    /// `From <sha> Mon Sep 17 00:00:00 2001` looks like an envelope otherwise.
    pub fn pipermail(mut self) -> MboxSplitter {
        self.pipermail = true;
        self
    }

    /// Feeds the next chunk; returns the frames completed by it.
    pub fn push(&mut self, mut chunk: &[u8]) -> Vec<Frame> {
        while !chunk.is_empty() {
            if self.line.is_empty() && !self.spilling {
                let n = self.plain_lines(chunk);
                if n > 0 {
                    self.line_start += n as u64;
                    self.append_message(&chunk[..n]);
                    chunk = &chunk[n..];
                    continue;
                }
            }
            let newline = find_byte(b'\n', chunk);
            if self.spilling {
                let end = newline.map_or(chunk.len(), |i| i + 1);
                self.line_start += end as u64;
                self.append(&chunk[..end]);
                if newline.is_some() {
                    self.spilling = false;
                }
                chunk = &chunk[end..];
                continue;
            }
            match newline {
                Some(i) if self.line.is_empty() => {
                    self.complete_line(&chunk[..=i]);
                    chunk = &chunk[i + 1..];
                }
                Some(i) => {
                    let mut line = std::mem::take(&mut self.line);
                    line.extend_from_slice(&chunk[..=i]);
                    self.complete_line(&line);
                    line.clear();
                    self.line = line;
                    chunk = &chunk[i + 1..];
                }
                None => {
                    self.line.extend_from_slice(chunk);
                    chunk = &[];
                    if self.line.len() > MAX_SEPARATOR_LINE {
                        self.spill();
                    }
                }
            }
        }
        std::mem::take(&mut self.out)
    }

    /// Inside a message not after a blank line, the length of the run of complete lines at
    /// the start of `chunk` that can be appended without looking at them one by one: lines
    /// that are not blank and do not start with NUL (only those can change the state).
    fn plain_lines(&self, chunk: &[u8]) -> usize {
        if !matches!(
            self.state,
            State::Message {
                held_blank: None,
                ..
            }
        ) {
            return 0;
        }
        let mut pos = 0;
        while let Some(&first) = chunk.get(pos) {
            if matches!(first, b'\n' | b'\r' | 0) {
                break;
            }
            match find_byte(b'\n', &chunk[pos..]) {
                Some(i) => pos += i + 1,
                None => break,
            }
        }
        pos
    }

    /// Ends the stream; returns the remaining frames.
    pub fn finish(mut self) -> Vec<Frame> {
        if !self.line.is_empty() {
            let line = std::mem::take(&mut self.line);
            self.complete_line(&line);
        }
        self.close();
        self.out
    }

    /// The current line is too long to be a separator or a blank line: pass it on.
    fn spill(&mut self) {
        let line = std::mem::take(&mut self.line);
        self.line_start += line.len() as u64;
        if is_nul_run(&line) {
            self.start_junk();
        }
        self.append(&line);
        self.spilling = true;
    }

    fn complete_line(&mut self, line: &[u8]) {
        let start = self.line_start;
        self.line_start += line.len() as u64;
        let body = strip_eol(line);
        let may_separate = match &self.state {
            State::Junk { .. } => true,
            State::Message { held_blank, .. } => held_blank.is_some(),
        };
        let separator = |body: &[u8]| match self.pipermail {
            true => super::pipermail::is_mailman_separator(body),
            false => looks_like_envelope(body),
        };
        if may_separate && body.starts_with(b"From ") && (start == 0 || separator(body)) {
            self.close();
            let envelope = String::from_utf8_lossy(&body[5..]).into_owned();
            self.state = State::Message {
                envelope,
                offset: self.line_start,
                len: 0,
                bytes: Some(Vec::new()),
                held_blank: None,
            };
            return;
        }
        if let State::Message { .. } = self.state {
            if body.is_empty() {
                // Flush an earlier blank line, then hold this one back.
                self.append_message(&[]);
                if let State::Message { held_blank, .. } = &mut self.state {
                    *held_blank = Some(blank_line(line));
                }
                return;
            }
            if is_nul_run(body) {
                self.start_junk();
            }
        }
        self.append(line);
    }

    /// Ends the current message (dropping a held blank line); what follows is junk.
    fn start_junk(&mut self) {
        if let State::Message { .. } = self.state {
            self.close();
        }
    }

    fn append(&mut self, bytes: &[u8]) {
        match &mut self.state {
            State::Junk {
                offset,
                len,
                meaningful,
            } => {
                if *len == 0 {
                    // `line_start` is already past these bytes; they fix the junk offset.
                    *offset = self.line_start.saturating_sub(bytes.len() as u64);
                }
                *len += bytes.len() as u64;
                *meaningful |= bytes.iter().any(|b| !b.is_ascii_whitespace());
            }
            State::Message { .. } => self.append_message(bytes),
        }
    }

    fn append_message(&mut self, data: &[u8]) {
        let max = self.max_message_bytes;
        if let State::Message {
            len,
            bytes,
            held_blank,
            ..
        } = &mut self.state
        {
            if let Some(blank) = held_blank.take() {
                *len += blank.len() as u64;
                if let Some(buf) = bytes {
                    buf.extend_from_slice(blank);
                }
            }
            *len += data.len() as u64;
            if *len > max {
                *bytes = None;
            } else if let Some(buf) = bytes {
                buf.extend_from_slice(data);
            }
        }
    }

    fn close(&mut self) {
        let state = std::mem::replace(
            &mut self.state,
            State::Junk {
                offset: self.line_start,
                len: 0,
                meaningful: false,
            },
        );
        match state {
            State::Junk {
                offset,
                len,
                meaningful,
            } => {
                if meaningful {
                    self.out.push(Frame::Junk { offset, len });
                }
            }
            State::Message {
                envelope,
                offset,
                len,
                bytes,
                ..
            } => self.out.push(Frame::Message(MessageFrame {
                envelope,
                offset,
                len,
                bytes,
            })),
        }
    }
}

fn is_nul_run(body: &[u8]) -> bool {
    body.len() >= MIN_NUL_RUN && body.iter().all(|&b| b == 0)
}

/// The bytes of a blank line, as a static slice so holding one back costs nothing.
fn blank_line(line: &[u8]) -> &'static [u8] {
    match line {
        b"\r\n" => b"\r\n",
        b"\r" => b"\r",
        _ => b"\n",
    }
}

fn strip_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Whether a `From ` line (without line ending) looks like an mbox envelope:
/// `From <sender> <date>` where the date is asctime-like (`Mon Jan  1 00:00:00 2001`,
/// optionally with a timezone) or RFC 2822-like (`1 Jan 2001 00:00:00`).
pub fn looks_like_envelope(line: &[u8]) -> bool {
    let Some(rest) = line.strip_prefix(b"From ") else {
        return false;
    };
    let tokens: Vec<&[u8]> = rest
        .split(|b| b.is_ascii_whitespace())
        .filter(|t| !t.is_empty())
        .map(|t| t.strip_suffix(b",").unwrap_or(t))
        .collect();
    let at = |i: usize| tokens.get(i).copied().unwrap_or(b"");
    (1..tokens.len()).any(|i| {
        let asctime = is_month(at(i))
            && is_day(at(i + 1))
            && is_time(at(i + 2))
            && (i + 3..i + 6).any(|j| is_year(at(j)));
        let rfc = is_day(at(i)) && is_month(at(i + 1)) && is_year(at(i + 2)) && is_time(at(i + 3));
        asctime || rfc
    })
}

fn is_month(t: &[u8]) -> bool {
    const MONTHS: [&[u8]; 12] = [
        b"jan", b"feb", b"mar", b"apr", b"may", b"jun", b"jul", b"aug", b"sep", b"oct", b"nov",
        b"dec",
    ];
    t.len() >= 3 && MONTHS.iter().any(|m| t[..3].eq_ignore_ascii_case(m))
}

fn is_day(t: &[u8]) -> bool {
    (1..=2).contains(&t.len()) && t.iter().all(u8::is_ascii_digit)
}

fn is_year(t: &[u8]) -> bool {
    (t.len() == 4 || t.len() == 2) && t.iter().all(u8::is_ascii_digit)
}

fn is_time(t: &[u8]) -> bool {
    let parts: Vec<&[u8]> = t.split(|&b| b == b':').collect();
    (2..=3).contains(&parts.len())
        && parts
            .iter()
            .all(|p| (1..=2).contains(&p.len()) && p.iter().all(u8::is_ascii_digit))
}

/// Whether `head` has an envelope-like `From ` line at its start or after a newline.
pub fn has_envelope_line(head: &[u8]) -> bool {
    head.split(|&b| b == b'\n')
        .any(|l| looks_like_envelope(strip_eol(l)))
}

/// Undoes >From quoting: a line matching `^>+From ` loses one `>` (right for mboxrd,
/// and for mboxo it only touches lines that were quoted anyway).
pub fn unquote(stored: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(stored.len());
    let mut copied = 0;
    let mut line_start = 0;
    while line_start < stored.len() {
        let line_end =
            find_byte(b'\n', &stored[line_start..]).map_or(stored.len(), |i| line_start + i + 1);
        let line = &stored[line_start..line_end];
        let quotes = line.iter().take_while(|&&b| b == b'>').count();
        if quotes > 0 && line[quotes..].starts_with(b"From ") {
            out.extend_from_slice(&stored[copied..line_start]);
            copied = line_start + 1;
        }
        line_start = line_end;
    }
    out.extend_from_slice(&stored[copied..]);
    out
}

/// mboxrd quoting: a line matching `^>*From ` gets one more `>`.
pub fn quote(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 16);
    for line in message.split_inclusive(|&b| b == b'\n') {
        let quotes = line.iter().take_while(|&&b| b == b'>').count();
        if line[quotes..].starts_with(b"From ") {
            out.push(b'>');
        }
        out.extend_from_slice(line);
    }
    out
}

/// The first position of `needle` in `hay`, eight bytes at a time.
fn find_byte(needle: u8, hay: &[u8]) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let pattern = LO * u64::from(needle);
    let words = hay.chunks_exact(8);
    let tail = words.remainder();
    for (k, word) in words.enumerate() {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(word);
        let x = u64::from_le_bytes(bytes) ^ pattern;
        if x.wrapping_sub(LO) & !x & HI != 0 {
            if let Some(i) = word.iter().position(|&b| b == needle) {
                return Some(k * 8 + i);
            }
        }
    }
    let base = hay.len() - tail.len();
    tail.iter().position(|&b| b == needle).map(|i| base + i)
}

/// Reads the message at `offset`/`len` of an mbox (decompressing if needed) and unquotes it.
pub fn read_message(path: &Path, offset: u64, len: u64) -> Result<Vec<u8>, StoreError> {
    MboxCursor::open(path)?.read(offset, len)
}

/// An open mbox for reading many messages: a plain file seeks to each, a compressed one is
/// decompressed once from the start as long as the offsets asked for go forward (reading
/// the messages of a `.mbox.gz` one by one would otherwise decompress it again for each).
pub struct MboxCursor {
    path: PathBuf,
    file: Option<File>,
    stream: Option<(Box<dyn Read + Send>, u64)>,
    /// Times decompression started from the file's beginning.
    starts: u32,
}

impl MboxCursor {
    /// Opens `path`.
    pub fn open(path: &Path) -> Result<MboxCursor, StoreError> {
        let err = |e| StoreError::io(path, e);
        let (file, compression) = compress::open_raw(path).map_err(err)?;
        let mut cursor = MboxCursor {
            path: path.to_path_buf(),
            file: None,
            stream: None,
            starts: 0,
        };
        match compression {
            Compression::None => cursor.file = Some(file),
            c => {
                cursor.stream = Some((compress::wrap(file, c).map_err(err)?, 0));
                cursor.starts = 1;
            }
        }
        Ok(cursor)
    }

    /// The file this cursor reads.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How many times a compressed file was decompressed from its start.
    pub fn starts(&self) -> u32 {
        self.starts
    }

    /// The unquoted message at `offset`/`len`.
    pub fn read(&mut self, offset: u64, len: u64) -> Result<Vec<u8>, StoreError> {
        let path = self.path.clone();
        let err = |e| StoreError::io(&path, e);
        let size = usize::try_from(len).map_err(|_| {
            StoreError::BadLocation(format!("{}: length {len} too large", path.display()))
        })?;
        let mut stored = vec![0u8; size];
        if let Some(file) = self.file.as_mut() {
            file.seek(SeekFrom::Start(offset)).map_err(err)?;
            file.read_exact(&mut stored).map_err(err)?;
            return Ok(unquote(&stored));
        }
        if self.stream.as_ref().is_none_or(|(_, pos)| *pos > offset) {
            // Backwards, or after an error: start decompressing again.
            let (file, c) = compress::open_raw(&path).map_err(err)?;
            self.stream = Some((compress::wrap(file, c).map_err(err)?, 0));
            self.starts += 1;
        }
        let Some((reader, pos)) = self.stream.as_mut() else {
            return Err(StoreError::BadLocation(format!(
                "{}: not open",
                path.display()
            )));
        };
        let result =
            compress::skip(reader, offset - *pos).and_then(|()| reader.read_exact(&mut stored));
        match result {
            Ok(()) => {
                *pos = offset + len;
                Ok(unquote(&stored))
            }
            Err(e) => {
                self.stream = None; // position unknown: never reuse
                Err(err(e))
            }
        }
    }
}

/// Streams the messages of one mbox file.
pub struct MboxScan {
    path: PathBuf,
    reader: Option<Box<dyn Read + Send>>,
    splitter: Option<MboxSplitter>,
    queue: VecDeque<ScanItem>,
    mtime: Option<i64>,
    max: u64,
    buf: Vec<u8>,
}

impl MboxScan {
    /// Opens `path`; fails only if it cannot be opened at all.
    pub fn new(path: &Path, opts: &ScanOptions) -> Result<MboxScan, StoreError> {
        let reader = compress::open(path).map_err(|e| StoreError::io(path, e))?;
        let mtime = std::fs::metadata(path)
            .ok()
            .and_then(|m| super::mtime_of(&m));
        let mut splitter = MboxSplitter::new(opts.max_message_bytes);
        if super::pipermail::is_archive_file(path) {
            splitter = splitter.pipermail();
        }
        Ok(MboxScan {
            path: path.to_path_buf(),
            reader: Some(reader),
            splitter: Some(splitter),
            queue: VecDeque::new(),
            mtime,
            max: opts.max_message_bytes,
            buf: vec![0u8; 256 * 1024],
        })
    }

    fn enqueue(&mut self, frames: Vec<Frame>) {
        for frame in frames {
            let item = match frame {
                Frame::Junk { offset, len } => Err(Skipped::new(
                    format!("{}", self.location(offset, len)),
                    format!("{len} bytes of non-mbox data"),
                )),
                Frame::Message(m) => {
                    let location = self.location(m.offset, m.len);
                    match m.bytes {
                        Some(stored) => Ok(RawMessage {
                            location,
                            bytes: unquote(&stored),
                            flags: String::new(),
                            folder: None,
                            envelope: Some(m.envelope),
                            mtime: self.mtime,
                        }),
                        None => Err(Skipped::new(
                            location.to_uri(),
                            format!(
                                "message of {} bytes is over the {} byte limit",
                                m.len, self.max
                            ),
                        )),
                    }
                }
            };
            self.queue.push_back(item);
        }
    }

    fn location(&self, offset: u64, len: u64) -> Location {
        Location::Mbox {
            path: self.path.clone(),
            offset,
            len,
        }
    }
}

impl Iterator for MboxScan {
    type Item = ScanItem;

    fn next(&mut self) -> Option<ScanItem> {
        loop {
            if let Some(item) = self.queue.pop_front() {
                return Some(item);
            }
            let reader = self.reader.as_mut()?;
            match reader.read(&mut self.buf) {
                Ok(0) => {
                    self.reader = None;
                    let frames = self.splitter.take().map(MboxSplitter::finish);
                    self.enqueue(frames.unwrap_or_default());
                }
                Ok(n) => {
                    let splitter = self.splitter.as_mut()?;
                    let frames = splitter.push(&self.buf[..n]);
                    self.enqueue(frames);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    // A broken (compressed) stream cannot be resynchronised: report what
                    // was framed so far and stop.
                    self.reader = None;
                    let frames = self.splitter.take().map(MboxSplitter::finish);
                    self.enqueue(frames.unwrap_or_default());
                    self.queue.push_back(Err(Skipped::new(
                        format!("mbox:{}", self.path.display()),
                        format!("read error, rest of file skipped: {e}"),
                    )));
                }
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::find_byte;
    use crate::store::{scan, LocationReader, SourceKind};
    use proptest::prelude::*;
    use std::io::Write;

    /// A cursor over a plain, gzip or zstd mbox gives every message's scanned bytes, read
    /// in order, backwards and interleaved with another file.
    #[test]
    fn cursor_reads_every_message_in_any_order() {
        let dir = tempfile::tempdir().unwrap();
        let mut mbox = Vec::new();
        for i in 0..40 {
            write!(mbox, "From a@b Thu Jan  4 12:00:00 2018\nMessage-ID: <m{i}@x>\nSubject: {i}\n\n>From here\nbody {i}\n\n").unwrap();
        }
        let plain = dir.path().join("l.mbox");
        std::fs::write(&plain, &mbox).unwrap();
        let gz = dir.path().join("l.mbox.gz");
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(&mbox).unwrap();
        std::fs::write(&gz, enc.finish().unwrap()).unwrap();
        let zst = dir.path().join("l.mbox.zst");
        std::fs::write(&zst, zstd::encode_all(&mbox[..], 1).unwrap()).unwrap();
        let all: Vec<_> = [&plain, &gz, &zst]
            .iter()
            .flat_map(|p| scan(p, SourceKind::Mbox, &Default::default()).unwrap())
            .map(|item| item.unwrap())
            .collect();
        assert_eq!(all.len(), 120);
        let mut order: Vec<usize> = (0..all.len()).collect();
        let mut reader = LocationReader::default();
        for round in 0..3 {
            match round {
                1 => order.reverse(),
                2 => order.sort_by_key(|i| (i % 7, i % 40)),
                _ => {}
            }
            for &i in &order {
                let got = reader.read_first(&[all[i].location.to_uri()]).unwrap();
                assert_eq!(got, all[i].bytes, "message {i}, round {round}");
            }
        }
        assert!(reader
            .read_first(&[crate::store::Location::Mbox {
                path: gz.clone(),
                offset: 1 << 20,
                len: 5
            }
            .to_uri()])
            .is_err());
        let first = reader.read_first(&[all[40].location.to_uri()]).unwrap();
        assert_eq!(first, all[40].bytes, "usable again after an error");

        // Reads alternating between two compressed files, each going forward,
        // decompress each file once.
        let mut reader = LocationReader::default();
        for i in 0..40 {
            for file in [1, 2] {
                let item = &all[file * 40 + i];
                let got = reader.read_first(&[item.location.to_uri()]).unwrap();
                assert_eq!(got, item.bytes, "file {file} message {i}");
            }
        }
        assert_eq!(reader.starts(), 2, "one decompression per file");
    }

    proptest! {
        #[test]
        fn find_byte_is_position(hay in proptest::collection::vec(0u8..4, 0..100), needle in 0u8..4) {
            prop_assert_eq!(find_byte(needle, &hay), hay.iter().position(|&b| b == needle));
        }
    }
}
