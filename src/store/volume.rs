//! Sealed archive volumes: write-once, open-format files that mail moves into before it
//! leaves the live mail store, kept for decades.
//!
//! A volume `vol-<6-digit sequence>-<policy slug>` (e.g. `vol-000007-old-lists`) is two files:
//!
//! * `<name>.mbox.zst`: an mboxrd file, zstd level 3, as independent frames (a new one at the
//!   first message boundary after 1 MiB of input, each with zstd's checksum). Frames
//!   concatenate, so `zstd -dc <name>.mbox.zst > out.mbox` gives the whole mailbox. A message
//!   is a line `From <envelope sender or MAILER-DAEMON> <UTC asctime: Thu Jan  4 12:00:00 2018>`,
//!   then the message with one more `>` before every line matching `^>*From ` (line endings
//!   kept), a `\n` if it did not end with one, and a blank line.
//! * `<name>.manifest.json`: a pretty-printed [`Manifest`] (`"format": "gleaner-volume/1"`)
//!   with the volume's size and SHA-256 and, per message, its ids, size, the SHA-256 of its
//!   exact original bytes and its place: `frame_offset` (of its frame in the `.zst`; that frame
//!   alone: `tail -c +$((frame_offset+1)) <name>.mbox.zst | zstd -dc`), `offset_in_frame`
//!   (after its `From ` line), `stored_len` (quoted, with any added newline), `added_newline`.
//!
//! Sealing: [`VolumeWriter`] writes `<name>.mbox.zst.partial`, hashing as it goes;
//! [`VolumeWriter::seal`] fsyncs it, writes `<name>.manifest.json.partial`, makes both
//! read-only, renames the `.zst` then the manifest into place (a manifest is what marks a
//! volume sealed) and fsyncs the directory. Mail may leave the live store only once `seal` returned
//! `Ok`; [`cleanup_partial`] removes a crash's leftovers. A `.mbox.zst` without a manifest is
//! never deleted here: [`verify_all`] reports it ([`ProblemKind::ManifestMissing`]).
//!
//! Frames are compressed on one thread per core ([`FramePool`]) while the caller appends
//! the next messages; `frame_offset`s are filled in as the compressed frames are written, in
//! order. Verification decompresses frames on one thread per core too, beside the whole-file
//! hash. Throughput single-threaded (before the pool), release build, 200 MB of ~20 KB
//! synthetic text messages (`cargo test --release -- --ignored --nocapture throughput`):
//! append + seal 96 MB/s at a compression ratio of 2.8; zstd level 3 itself was the bound
//! (`zstd -b3` on such data: 120 MB/s). Figures with the pool: `docs/BENCHMARKS.md`.

use std::collections::{BTreeSet, VecDeque};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::{fmt, mem};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::{format_description::well_known::Rfc3339, OffsetDateTime};

/// The `format` of every manifest this module writes and reads.
pub const FORMAT: &str = "gleaner-volume/1";
/// A frame is closed at the first message boundary after it took this much input.
pub const FRAME_INPUT_BYTES: usize = 1 << 20;
const ZST: &str = ".mbox.zst";
const MANIFEST: &str = ".manifest.json";
const PARTIAL: &str = ".partial";

/// What can go wrong writing or reading a volume.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VolumeError {
    /// I/O (including zstd compression or decompression) on a file or directory failed.
    #[error("{}: {}", .0.display(), .1)]
    Io(PathBuf, #[source] io::Error),
    /// The policy name has no ASCII letter or digit to name a volume after.
    #[error("policy {0:?} has no letter or digit to name a volume after")]
    BadPolicy(String),
    /// A manifest file is not a manifest of this format for its own volume.
    #[error("{}: unreadable manifest: {}", .0.display(), .1)]
    Manifest(PathBuf, String),
    /// A message could not be taken out of its volume (volume, Message-ID, reason).
    #[error("volume {0}, message {1}: {2}")]
    Corrupt(String, String, String),
    /// An earlier write to this volume failed; the writer can only be dropped.
    #[error("volume {0}: an earlier write failed")]
    Broken(String),
    /// The current time could not be formatted as RFC 3339.
    #[error("cannot format the time: {0}")]
    Time(String),
}

/// This module's result type.
pub type Result<T> = std::result::Result<T, VolumeError>;

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> VolumeError + '_ {
    move |e| VolumeError::Io(path.to_path_buf(), e)
}

/// One message handed to [`VolumeWriter::append`].
#[derive(Debug, Clone, Copy)]
pub struct ArchivedMessage<'a> {
    /// The Message-ID.
    pub message_id: &'a str,
    /// The caller's key for the message.
    pub key: &'a str,
    /// The message date, unix seconds (for the `From ` line, in UTC).
    pub date: i64,
    /// The mailing list.
    pub list: &'a str,
    /// Where it came from (e.g. a location URI).
    pub source: &'a str,
    /// The envelope sender for the `From ` line; `MAILER-DAEMON` when absent.
    pub envelope_from: Option<&'a str>,
    /// The exact original bytes.
    pub raw: &'a [u8],
}

/// One message in a [`Manifest`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ManifestEntry {
    /// The Message-ID.
    pub message_id: String,
    /// The caller's key.
    pub key: String,
    /// The message date, unix seconds.
    pub date: i64,
    /// The mailing list.
    pub list: String,
    /// Length of the original bytes.
    pub size: u64,
    /// Hex SHA-256 of the original bytes.
    pub sha256: String,
    /// Where the message came from.
    pub source: String,
    /// Byte offset in the `.mbox.zst` of the zstd frame holding the message.
    pub frame_offset: u64,
    /// Offset of its first byte (after its `From ` line) in the frame's decompressed data.
    pub offset_in_frame: u64,
    /// Its quoted length in the mbox, including an added newline.
    pub stored_len: u64,
    /// Whether a `\n` was added because it did not end with one.
    pub added_newline: bool,
}

/// The `<name>.manifest.json` of a sealed volume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Always [`FORMAT`].
    pub format: String,
    /// The volume name, e.g. `vol-000007-old-lists`.
    pub name: String,
    /// The retention policy that filled it.
    pub policy: String,
    /// When the volume was opened (RFC 3339, UTC).
    pub created: String,
    /// When it was sealed (RFC 3339, UTC).
    pub sealed: String,
    /// Number of messages.
    pub message_count: u64,
    /// Uncompressed size of the mbox.
    pub mbox_bytes: u64,
    /// Size of the `.mbox.zst` file.
    pub volume_bytes: u64,
    /// Hex SHA-256 of the `.mbox.zst` file.
    pub volume_sha256: String,
    /// The messages, in mbox order.
    pub messages: Vec<ManifestEntry>,
}

impl Manifest {
    /// This volume's `.mbox.zst` in `dir`.
    pub fn mbox_path(&self, dir: &Path) -> PathBuf {
        dir.join(format!("{}{ZST}", self.name))
    }

    /// This manifest's file in `dir`.
    pub fn manifest_path(&self, dir: &Path) -> PathBuf {
        dir.join(format!("{}{MANIFEST}", self.name))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Open,
    Broken,
    ZstInPlace,
    Sealed,
}

/// Writes one volume. [`VolumeWriter::seal`] consumes it, so a sealed volume cannot be
/// appended to; dropping an unsealed writer removes its `.partial` file.
pub struct VolumeWriter {
    dir: PathBuf,
    name: String,
    policy: String,
    created: String,
    file: File,
    hasher: Sha256,
    volume_bytes: u64,
    mbox_bytes: u64,
    frame: Vec<u8>,
    frame_limit: usize,
    pool: FramePool,
    /// For each frame in flight, oldest first, the end of its messages in `entries`; their
    /// `frame_offset` is set when the frame comes back compressed and its place in the file
    /// is known.
    in_flight: VecDeque<usize>,
    /// Messages whose frame is written (`entries[..placed]`).
    placed: usize,
    spare: Vec<Vec<u8>>,
    entries: Vec<ManifestEntry>,
    state: State,
}

impl fmt::Debug for VolumeWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "VolumeWriter({}, {} messages)",
            self.name,
            self.entries.len()
        )
    }
}

impl VolumeWriter {
    /// Opens the next volume for `policy` in `dir` as `<dir>/<name>.mbox.zst.partial`.
    pub fn create(dir: &Path, policy: &str) -> Result<VolumeWriter> {
        Self::with_frame_limit(dir, policy, FRAME_INPUT_BYTES)
    }

    fn with_frame_limit(dir: &Path, policy: &str, frame_limit: usize) -> Result<Self> {
        let slug = slug(policy).ok_or_else(|| VolumeError::BadPolicy(policy.to_string()))?;
        let pool = FramePool::new(compression_workers()).map_err(io_err(dir))?;
        let created = now()?;
        let (name, file) = open_next(dir, &slug)?;
        Ok(VolumeWriter {
            dir: dir.to_path_buf(),
            name,
            policy: policy.to_string(),
            created,
            file,
            hasher: Sha256::new(),
            volume_bytes: 0,
            mbox_bytes: 0,
            frame: Vec::with_capacity(frame_limit + (64 << 10)),
            frame_limit,
            pool,
            in_flight: VecDeque::new(),
            placed: 0,
            spare: Vec::new(),
            entries: Vec::new(),
            state: State::Open,
        })
    }

    /// The volume name, e.g. `vol-000007-old-lists`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Messages appended so far.
    pub fn message_count(&self) -> usize {
        self.entries.len()
    }

    /// Uncompressed mbox bytes so far, so the caller can close a volume at a size limit.
    pub fn mbox_bytes(&self) -> u64 {
        self.mbox_bytes
    }

    /// Appends one message. After an error the writer is unusable and should be dropped.
    pub fn append(&mut self, msg: &ArchivedMessage<'_>) -> Result<()> {
        self.check_open()?;
        let before = self.frame.len();
        push_from_line(&mut self.frame, msg.envelope_from, msg.date);
        let start = self.frame.len();
        escape_into(&mut self.frame, msg.raw);
        let added_newline = msg.raw.last() != Some(&b'\n');
        if added_newline {
            self.frame.push(b'\n');
        }
        let stored_len = (self.frame.len() - start) as u64;
        self.frame.push(b'\n');
        self.mbox_bytes += (self.frame.len() - before) as u64;
        self.entries.push(ManifestEntry {
            message_id: msg.message_id.to_string(),
            key: msg.key.to_string(),
            date: msg.date,
            list: msg.list.to_string(),
            size: msg.raw.len() as u64,
            sha256: hex::encode(Sha256::digest(msg.raw)),
            source: msg.source.to_string(),
            frame_offset: 0, // set when the frame is written
            offset_in_frame: start as u64,
            stored_len,
            added_newline,
        });
        if self.frame.len() >= self.frame_limit {
            self.flush_frame()?;
        }
        Ok(())
    }

    /// Finishes the volume, makes it durable, sealed and read-only, and returns its manifest.
    pub fn seal(mut self) -> Result<Manifest> {
        self.check_open()?;
        if !self.frame.is_empty() || self.pool.sent() == 0 {
            self.flush_frame()?; // an empty volume still gets one (empty) frame: valid zstd
        }
        while !self.in_flight.is_empty() {
            self.write_next_frame()?;
        }
        let (zst_part, manifest_part) = (self.path(ZST, PARTIAL), self.path(MANIFEST, PARTIAL));
        self.file.sync_all().map_err(io_err(&zst_part))?;
        let manifest = Manifest {
            format: FORMAT.to_string(),
            name: self.name.clone(),
            policy: self.policy.clone(),
            created: self.created.clone(),
            sealed: now()?,
            message_count: self.entries.len() as u64,
            mbox_bytes: self.mbox_bytes,
            volume_bytes: self.volume_bytes,
            volume_sha256: hex::encode(mem::take(&mut self.hasher).finalize()),
            messages: mem::take(&mut self.entries),
        };
        let manifest_file = write_manifest(&manifest_part, &manifest)?;
        // Read-only before the renames: a kill -9 between a rename and a chmod
        // would leave a sealed volume writable (and `verify` would report it).
        make_read_only(&self.file, &zst_part)?;
        make_read_only(&manifest_file, &manifest_part)?;
        let (zst, manifest_path) = (self.path(ZST, ""), self.path(MANIFEST, ""));
        fs::rename(&zst_part, &zst).map_err(io_err(&zst))?;
        self.state = State::ZstInPlace;
        fs::rename(&manifest_part, &manifest_path).map_err(io_err(&manifest_path))?;
        self.state = State::Sealed;
        sync_dir(&self.dir)?;
        Ok(manifest)
    }

    fn check_open(&self) -> Result<()> {
        match self.state {
            State::Open => Ok(()),
            _ => Err(VolumeError::Broken(self.name.clone())),
        }
    }

    fn path(&self, ext: &str, partial: &str) -> PathBuf {
        self.dir.join(format!("{}{ext}{partial}", self.name))
    }

    /// Hands the current frame to the compression threads; writes finished frames while
    /// too many are in flight.
    fn flush_frame(&mut self) -> Result<()> {
        self.state = State::Broken; // until the frame is handed over
        let path = self.path(ZST, PARTIAL);
        let mut next = self.spare.pop().unwrap_or_default();
        if next.capacity() > 4 * self.frame_limit.max(FRAME_INPUT_BYTES) {
            next = Vec::new(); // after a huge message
        }
        next.reserve(self.frame_limit + (64 << 10));
        let frame = mem::replace(&mut self.frame, next);
        self.pool.send(frame).map_err(io_err(&path))?;
        self.in_flight.push_back(self.entries.len());
        while self.in_flight.len() >= self.pool.capacity() {
            self.write_next_frame()?;
        }
        self.state = State::Open;
        Ok(())
    }

    /// Writes the oldest frame in flight once it is compressed and places its messages.
    fn write_next_frame(&mut self) -> Result<()> {
        self.state = State::Broken; // until the frame is fully written
        let path = self.path(ZST, PARTIAL);
        let (out, buffer) = self.pool.collect().map_err(io_err(&path))?;
        self.file.write_all(&out).map_err(io_err(&path))?;
        self.hasher.update(&out);
        let end = self.in_flight.pop_front().unwrap_or(self.placed);
        for e in self.entries.get_mut(self.placed..end).into_iter().flatten() {
            e.frame_offset = self.volume_bytes;
        }
        self.placed = end;
        self.volume_bytes += out.len() as u64;
        self.spare.push(buffer);
        self.state = State::Open;
        Ok(())
    }
}

impl Drop for VolumeWriter {
    fn drop(&mut self) {
        // Best effort: the mail of an unsealed volume is still in the live store.
        if self.state != State::Sealed {
            let _ = fs::remove_file(self.path(ZST, PARTIAL));
            let _ = fs::remove_file(self.path(MANIFEST, PARTIAL));
        }
        if self.state == State::ZstInPlace {
            let _ = fs::remove_file(self.path(ZST, ""));
        }
    }
}

/// Compresses frames on worker threads (one zstd context each) and hands them back in the
/// order they were sent: frame `k` goes to worker `k % n`, which works through its frames in
/// order, so results are collected round-robin too.
struct FramePool {
    jobs: Vec<crossbeam_channel::Sender<Vec<u8>>>,
    done: Vec<crossbeam_channel::Receiver<FrameResult>>,
    sent: usize,
    received: usize,
}

/// A compressed frame and the emptied input buffer, for reuse.
type FrameResult = io::Result<(Vec<u8>, Vec<u8>)>;

impl FramePool {
    fn new(workers: usize) -> io::Result<FramePool> {
        let mut pool = FramePool {
            jobs: Vec::new(),
            done: Vec::new(),
            sent: 0,
            received: 0,
        };
        for _ in 0..workers.max(1) {
            let mut compressor = zstd::bulk::Compressor::new(3)?;
            compressor.set_parameter(zstd::zstd_safe::CParameter::ChecksumFlag(true))?;
            let (job_tx, job_rx) = crossbeam_channel::unbounded::<Vec<u8>>();
            let (done_tx, done_rx) = crossbeam_channel::unbounded();
            std::thread::Builder::new()
                .name("volume-zstd".into())
                .spawn(move || {
                    for mut input in job_rx {
                        let mut out = Vec::with_capacity(zstd::compress_bound(input.len()));
                        let result = compressor.compress_to_buffer(&input, &mut out);
                        input.clear();
                        if done_tx.send(result.map(|_| (out, input))).is_err() {
                            break;
                        }
                    }
                })?;
            pool.jobs.push(job_tx);
            pool.done.push(done_rx);
        }
        Ok(pool)
    }

    /// Frames sent so far.
    fn sent(&self) -> usize {
        self.sent
    }

    /// How many frames may be in flight before [`FramePool::send`] should wait for one.
    fn capacity(&self) -> usize {
        2 * self.jobs.len()
    }

    fn send(&mut self, frame: Vec<u8>) -> io::Result<()> {
        let worker = &self.jobs[self.sent % self.jobs.len()];
        worker.send(frame).map_err(|_| worker_gone())?;
        self.sent += 1;
        Ok(())
    }

    /// The oldest frame in flight, compressed; waits for it.
    fn collect(&mut self) -> FrameResult {
        let worker = &self.done[self.received % self.done.len()];
        let result = worker.recv().map_err(|_| worker_gone())?;
        self.received += 1;
        result
    }
}

fn worker_gone() -> io::Error {
    io::Error::other("a volume compression thread stopped")
}

/// Compression threads per volume: one per core, at most 4.
fn compression_workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(4))
}

/// `Old Lists!` → `old-lists`; `None` if no letter or digit is left.
fn slug(policy: &str) -> Option<String> {
    let mut s = String::new();
    for c in policy.chars() {
        if c.is_ascii_alphanumeric() {
            s.push(c.to_ascii_lowercase());
        } else if !s.is_empty() && !s.ends_with('-') {
            s.push('-');
        }
    }
    let s = s.trim_end_matches('-');
    (!s.is_empty()).then(|| s.to_string())
}

/// Creates `<name>.mbox.zst.partial` for 1 + the highest sequence number in `dir`.
fn open_next(dir: &Path, slug: &str) -> Result<(String, File)> {
    let sequence = |n: &String| {
        n.strip_prefix("vol-")?
            .split('-')
            .next()?
            .parse::<u64>()
            .ok()
    };
    let last = dir_names(dir)?
        .iter()
        .filter_map(sequence)
        .max()
        .unwrap_or(0);
    for seq in last.saturating_add(1)..last.saturating_add(65) {
        let name = format!("vol-{seq:06}-{slug}");
        let path = dir.join(format!("{name}{ZST}{PARTIAL}"));
        match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(file) => return Ok((name, file)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue, // a racing writer
            Err(e) => return Err(VolumeError::Io(path, e)),
        }
    }
    let e = io::Error::new(io::ErrorKind::AlreadyExists, "no free volume name");
    Err(VolumeError::Io(dir.to_path_buf(), e))
}

/// The UTF-8 file names in `dir`, sorted.
fn dir_names(dir: &Path) -> Result<BTreeSet<String>> {
    let mut names = BTreeSet::new();
    for entry in fs::read_dir(dir).map_err(io_err(dir))? {
        let name = entry.map_err(io_err(dir))?.file_name();
        names.extend(name.into_string().ok());
    }
    Ok(names)
}

fn now() -> Result<String> {
    let now = OffsetDateTime::now_utc().format(&Rfc3339);
    now.map_err(|e| VolumeError::Time(e.to_string()))
}

fn push_from_line(out: &mut Vec<u8>, sender: Option<&str>, date: i64) {
    let sender = sender.filter(|s| !s.is_empty()).unwrap_or("MAILER-DAEMON");
    let clean = |b: u8| match b.is_ascii_whitespace() || b.is_ascii_control() {
        true => b'_',
        false => b,
    };
    let fmt = time::macros::format_description!(
        "[weekday repr:short] [month repr:short] [day padding:space] [hour]:[minute]:[second] [year]"
    );
    let date = OffsetDateTime::from_unix_timestamp(date).ok();
    let date = date.and_then(|d| d.format(&fmt).ok());
    out.extend_from_slice(b"From ");
    out.extend(sender.bytes().map(clean));
    out.push(b' ');
    out.extend_from_slice(
        date.as_deref()
            .unwrap_or("Thu Jan  1 00:00:00 1970")
            .as_bytes(),
    );
    out.push(b'\n');
}

/// Whether a line matches `^>*From `.
fn is_from_line(line: &[u8]) -> bool {
    let rest = line.iter().skip_while(|&&b| b == b'>');
    rest.take(5).eq(b"From ".iter())
}

fn escape_into(out: &mut Vec<u8>, raw: &[u8]) {
    out.reserve(raw.len() + 2);
    for line in raw.split_inclusive(|&b| b == b'\n') {
        if is_from_line(line) {
            out.push(b'>');
        }
        out.extend_from_slice(line);
    }
}

fn unescape(stored: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(stored.len());
    for line in stored.split_inclusive(|&b| b == b'\n') {
        let quoted = line.first() == Some(&b'>') && is_from_line(line);
        out.extend_from_slice(line.get(usize::from(quoted)..).unwrap_or(line));
    }
    out
}

fn write_manifest(path: &Path, manifest: &Manifest) -> Result<File> {
    let json = serde_json::to_string_pretty(manifest);
    let json = json.map_err(|e| VolumeError::Manifest(path.to_path_buf(), e.to_string()))?;
    let mut file = File::create(path).map_err(io_err(path))?;
    file.write_all(format!("{json}\n").as_bytes())
        .map_err(io_err(path))?;
    file.sync_all().map_err(io_err(path))?;
    Ok(file)
}

fn make_read_only(file: &File, path: &Path) -> Result<()> {
    let mut perms = file.metadata().map_err(io_err(path))?.permissions();
    #[cfg(unix)]
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o444);
    #[cfg(not(unix))]
    perms.set_readonly(true);
    file.set_permissions(perms).map_err(io_err(path))?;
    file.sync_all().map_err(io_err(path))
}

fn sync_dir(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir))?;
    let _ = dir;
    Ok(())
}

/// Removes the `*.mbox.zst.partial` and `*.manifest.json.partial` leftovers of a crash in
/// `dir` and returns them. Call it only while no [`VolumeWriter`] is open on `dir`.
pub fn cleanup_partial(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut removed = Vec::new();
    for name in dir_names(dir)? {
        let base = name.strip_suffix(PARTIAL).unwrap_or_default();
        if base.ends_with(ZST) || base.ends_with(MANIFEST) {
            let path = dir.join(&name);
            fs::remove_file(&path).map_err(io_err(&path))?;
            removed.push(path);
        }
    }
    Ok(removed)
}

/// Reads one manifest file, checking its format and that it names its own volume.
pub fn load_manifest(path: &Path) -> Result<Manifest> {
    let bad = |reason: String| VolumeError::Manifest(path.to_path_buf(), reason);
    let bytes = fs::read(path).map_err(io_err(path))?;
    let manifest: Manifest = serde_json::from_slice(&bytes).map_err(|e| bad(e.to_string()))?;
    if manifest.format != FORMAT {
        return Err(bad(format!("unknown format {:?}", manifest.format)));
    }
    let file_name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    if file_name.strip_suffix(MANIFEST) != Some(&manifest.name) {
        return Err(bad(format!("it names volume {:?}", manifest.name)));
    }
    Ok(manifest)
}

/// The manifests of the sealed volumes in `dir`, sorted by name. A manifest that cannot be
/// read is an error naming its file.
pub fn list_volumes(dir: &Path) -> Result<Vec<Manifest>> {
    let names = dir_names(dir)?;
    let manifests = names.iter().filter(|n| n.ends_with(MANIFEST));
    manifests.map(|n| load_manifest(&dir.join(n))).collect()
}

/// Decompresses at most `limit` bytes of the single frame at `offset` of `path`.
pub(crate) fn read_frame(path: &Path, offset: u64, limit: u64) -> io::Result<Vec<u8>> {
    let mut file = File::open(path)?;
    file.seek(SeekFrom::Start(offset))?;
    let decoder = zstd::stream::read::Decoder::new(file)?.single_frame();
    let mut data = Vec::new();
    decoder.take(limit).read_to_end(&mut data)?;
    Ok(data)
}

/// The whole decompressed frame at `offset`, from a one-frame cache per thread: reading the
/// messages of a volume in order (re-indexing, removal from the live store) then
/// decompresses each frame once instead of once per message. The cache is keyed by the
/// file's size and modification time too, so a changed file is read again.
fn cached_frame(path: &Path, offset: u64) -> io::Result<std::rc::Rc<Vec<u8>>> {
    type Key = (PathBuf, u64, u64, Option<std::time::SystemTime>);
    thread_local! {
        static LAST: std::cell::RefCell<Option<(Key, std::rc::Rc<Vec<u8>>)>> =
            const { std::cell::RefCell::new(None) };
    }
    let meta = fs::metadata(path)?;
    let key: Key = (path.to_path_buf(), offset, meta.len(), meta.modified().ok());
    if let Some(frame) = LAST.with_borrow(|last| {
        last.as_ref()
            .filter(|(k, _)| *k == key)
            .map(|(_, f)| f.clone())
    }) {
        return Ok(frame);
    }
    let frame = std::rc::Rc::new(read_frame(path, offset, u64::MAX)?);
    LAST.set(Some((key, frame.clone())));
    Ok(frame)
}

pub(crate) fn entry_end(entry: &ManifestEntry) -> Option<u64> {
    entry.offset_in_frame.checked_add(entry.stored_len)
}

/// Takes the original bytes of `entry` out of its frame's data.
pub(crate) fn extract(frame: &[u8], entry: &ManifestEntry) -> std::result::Result<Vec<u8>, String> {
    let start = usize::try_from(entry.offset_in_frame).ok();
    let end = entry_end(entry).and_then(|e| usize::try_from(e).ok());
    let stored = start.zip(end).and_then(|(s, e)| frame.get(s..e));
    let stored = stored.ok_or("the message lies beyond the end of its frame")?;
    let stored = match entry.added_newline {
        true => stored
            .strip_suffix(b"\n")
            .ok_or("the added newline is missing")?,
        false => stored,
    };
    Ok(unescape(stored))
}

/// The exact original bytes of `entry`, checked against its SHA-256.
pub fn read_message(dir: &Path, manifest: &Manifest, entry: &ManifestEntry) -> Result<Vec<u8>> {
    read_at(&manifest.mbox_path(dir), entry)
}

/// The exact original bytes of a message at `path` (a `.mbox.zst`) described
/// by the fields of a location (see `store::Location::Volume`), hash-checked.
pub fn read_at(path: &Path, entry: &ManifestEntry) -> Result<Vec<u8>> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .trim_end_matches(ZST)
        .to_string();
    let corrupt = |reason: &str| {
        VolumeError::Corrupt(name.clone(), entry.message_id.clone(), reason.to_string())
    };
    let frame = cached_frame(path, entry.frame_offset).map_err(io_err(path))?;
    let bytes = extract(&frame, entry).map_err(|r| corrupt(&r))?;
    if hex::encode(Sha256::digest(&bytes)) != entry.sha256 {
        return Err(corrupt("its SHA-256 differs from the manifest"));
    }
    Ok(bytes)
}

/// Is `dir` a directory of sealed volumes (has a `*.manifest.json`)?
pub fn is_volume_dir(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|rd| {
        rd.flatten().any(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.ends_with(MANIFEST))
        })
    })
}

/// Every message of every sealed volume in a directory, in order, with
/// locations pointing into the volumes. Each frame is decompressed once.
pub struct VolumeScan {
    dir: PathBuf,
    manifests: std::collections::VecDeque<Manifest>,
    current: Option<(Manifest, usize)>,
    frame: Option<(u64, Vec<u8>)>,
}

impl VolumeScan {
    /// The messages of one sealed volume of `dir`.
    pub fn single(dir: &Path, manifest: Manifest) -> VolumeScan {
        VolumeScan {
            dir: dir.to_path_buf(),
            manifests: std::collections::VecDeque::from([manifest]),
            current: None,
            frame: None,
        }
    }

    /// Lists the sealed volumes of `dir`.
    pub fn new(dir: &Path) -> Result<VolumeScan> {
        Ok(VolumeScan {
            dir: dir.to_path_buf(),
            manifests: list_volumes(dir)?.into(),
            current: None,
            frame: None,
        })
    }

    fn read(
        &mut self,
        manifest: &Manifest,
        entry: &ManifestEntry,
    ) -> std::result::Result<Vec<u8>, String> {
        let path = manifest.mbox_path(&self.dir);
        if self.frame.as_ref().map(|f| f.0) != Some(entry.frame_offset) {
            let frame = read_frame(&path, entry.frame_offset, u64::MAX)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            self.frame = Some((entry.frame_offset, frame));
        }
        let frame = self
            .frame
            .as_ref()
            .map(|f| f.1.as_slice())
            .unwrap_or_default();
        let bytes = extract(frame, entry)?;
        if hex::encode(Sha256::digest(&bytes)) != entry.sha256 {
            return Err("its SHA-256 differs from the manifest".into());
        }
        Ok(bytes)
    }
}

impl Iterator for VolumeScan {
    type Item = super::ScanItem;

    fn next(&mut self) -> Option<super::ScanItem> {
        loop {
            let (manifest, i) = match self.current.take() {
                Some(c) => c,
                None => (self.manifests.pop_front()?, 0),
            };
            let Some(entry) = manifest.messages.get(i).cloned() else {
                self.frame = None;
                continue;
            };
            let location = super::Location::Volume {
                path: manifest.mbox_path(&self.dir),
                entry: Box::new(entry.clone()),
            };
            let item = match self.read(&manifest, &entry) {
                Ok(bytes) => Ok(super::RawMessage {
                    location,
                    bytes,
                    flags: String::new(),
                    folder: None,
                    envelope: None,
                    mtime: None,
                }),
                Err(reason) => Err(super::Skipped::new(location.to_uri(), reason)),
            };
            self.current = Some((manifest, i + 1));
            return Some(item);
        }
    }
}

/// The first sealed message in `dir` whose Message-ID or key is `id_or_key` (a linear scan).
pub fn find(dir: &Path, id_or_key: &str) -> Result<Option<(Manifest, ManifestEntry)>> {
    for manifest in list_volumes(dir)? {
        let mut entries = manifest.messages.iter();
        if let Some(e) = entries.find(|e| e.message_id == id_or_key || e.key == id_or_key) {
            let entry = e.clone();
            return Ok(Some((manifest, entry)));
        }
    }
    Ok(None)
}

mod verify;
pub use verify::{verify_all, verify_volume, Problem, ProblemKind, VerifyReport, VolumeCheck};

#[cfg(test)]
mod tests;
