//! Verifying sealed volumes: every file hashed, every message decompressed and
//! hashed against its manifest, sealed files still read-only.

use super::*;

/// What is wrong, in a [`Problem`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[non_exhaustive]
pub enum ProblemKind {
    /// The manifest is there but its `.mbox.zst` is not.
    #[error("the .mbox.zst is missing")]
    VolumeMissing,
    /// The `.mbox.zst` cannot be read.
    #[error("the .mbox.zst cannot be read: {0}")]
    VolumeUnreadable(String),
    /// The `.mbox.zst` does not hash to the manifest's `volume_sha256`.
    #[error("the .mbox.zst SHA-256 differs from the manifest")]
    VolumeHashMismatch,
    /// The `.mbox.zst` is not `volume_bytes` long (manifest size, size on disk).
    #[error("the .mbox.zst is {1} bytes, the manifest says {0}")]
    VolumeSizeMismatch(u64, u64),
    /// A `.mbox.zst` has no manifest (an interrupted seal, or a lost manifest).
    #[error("a .mbox.zst without a manifest (not sealed)")]
    ManifestMissing,
    /// The manifest cannot be read or parsed.
    #[error("{0}")]
    ManifestUnreadable(String),
    /// A message cannot be decompressed or taken out of its frame.
    #[error("unreadable: {0}")]
    MessageUnreadable(String),
    /// A message does not hash to its manifest SHA-256.
    #[error("its SHA-256 differs from the manifest")]
    MessageHashMismatch,
    /// A message is not its manifest size (manifest size, size read).
    #[error("it is {1} bytes, the manifest says {0}")]
    MessageSizeMismatch(u64, u64),
    /// A sealed file (named) is no longer read-only.
    #[error("{0} is writable")]
    Writable(String),
}

/// One problem found by [`verify_volume`] or [`verify_all`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// The volume name.
    pub volume: String,
    /// The message concerned, if the problem is one message's.
    pub message_id: Option<String>,
    /// What is wrong.
    pub kind: ProblemKind,
}

impl Problem {
    pub(super) fn new(volume: &str, message_id: Option<&str>, kind: ProblemKind) -> Problem {
        let (volume, message_id) = (volume.to_string(), message_id.map(str::to_string));
        Problem {
            volume,
            message_id,
            kind,
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.message_id {
            Some(id) => write!(f, "{}: message {id}: {}", self.volume, self.kind),
            None => write!(f, "{}: {}", self.volume, self.kind),
        }
    }
}

/// The result of checking one volume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeCheck {
    /// The volume name.
    pub volume: String,
    /// Messages in its manifest.
    pub messages: usize,
    /// What is wrong; empty when the volume is sound.
    pub problems: Vec<Problem>,
}

/// The result of checking every volume in a directory.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyReport {
    /// Volumes seen (manifests, readable or not).
    pub volumes: usize,
    /// Messages in the readable manifests.
    pub messages: usize,
    /// Everything wrong.
    pub problems: Vec<Problem>,
}

/// SHA-256 and length of a file.
fn hash_file(path: &Path) -> io::Result<(String, u64)> {
    let mut hasher = Sha256::new();
    let len = io::copy(
        &mut io::BufReader::with_capacity(1 << 20, File::open(path)?),
        &mut hasher,
    )?;
    Ok((hex::encode(hasher.finalize()), len))
}

/// Re-hashes the whole `.mbox.zst` and reads back every message, checking sizes and hashes.
pub fn verify_volume(dir: &Path, manifest: &Manifest) -> VolumeCheck {
    let (name, path) = (manifest.name.as_str(), manifest.mbox_path(dir));
    let mut problems = Vec::new();
    for file in [&path, &manifest.manifest_path(dir)] {
        if fs::metadata(file).is_ok_and(|m| !m.permissions().readonly()) {
            let file = file.file_name().unwrap_or_default().to_string_lossy();
            problems.push(Problem::new(name, None, ProblemKind::Writable(file.into())));
        }
    }
    let (expected, sha) = (manifest.volume_bytes, &manifest.volume_sha256);
    // The whole-file hash runs beside the per-message checks.
    let (hashed, checked) = std::thread::scope(|scope| {
        let hashing = scope.spawn(|| hash_file(&path));
        let checked = check_messages(&path, manifest);
        let hashed = hashing
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("hashing crashed")));
        (hashed, checked)
    });
    let kinds = match hashed {
        Err(e) if e.kind() == io::ErrorKind::NotFound => vec![ProblemKind::VolumeMissing],
        Err(e) => vec![ProblemKind::VolumeUnreadable(e.to_string())],
        Ok((actual_sha, actual)) => {
            problems.extend(checked);
            let size =
                (actual != expected).then_some(ProblemKind::VolumeSizeMismatch(expected, actual));
            let hash = (&actual_sha != sha).then_some(ProblemKind::VolumeHashMismatch);
            size.into_iter().chain(hash).collect()
        }
    };
    problems.extend(kinds.into_iter().map(|k| Problem::new(name, None, k)));
    let messages = manifest.messages.len();
    VolumeCheck {
        volume: name.to_string(),
        messages,
        problems,
    }
}

/// Decompresses each frame once and checks the messages in it.
fn check_messages(path: &Path, manifest: &Manifest) -> Vec<Problem> {
    let groups: Vec<&[ManifestEntry]> = manifest
        .messages
        .chunk_by(|a, b| a.frame_offset == b.frame_offset)
        .collect();
    let per_thread = groups.len().div_ceil(compression_workers()).max(1);
    let name = manifest.name.as_str();
    std::thread::scope(|scope| {
        let threads: Vec<_> = groups
            .chunks(per_thread)
            .map(|chunk| {
                let task = move || -> Vec<Problem> {
                    chunk
                        .iter()
                        .flat_map(|g| check_frame(path, name, g))
                        .collect()
                };
                (chunk, scope.spawn(task))
            })
            .collect();
        let mut problems = Vec::new();
        for (chunk, thread) in threads {
            match thread.join() {
                Ok(found) => problems.extend(found),
                Err(_) => problems.extend(chunk.iter().flat_map(|g| g.iter()).map(|e| {
                    let kind = ProblemKind::MessageUnreadable("the check crashed".into());
                    Problem::new(name, Some(e.message_id.as_str()), kind)
                })),
            }
        }
        problems
    })
}

/// Decompresses one frame and checks the messages in it.
fn check_frame(path: &Path, volume: &str, group: &[ManifestEntry]) -> Vec<Problem> {
    let offset = group.first().map_or(0, |e| e.frame_offset);
    // Two bytes past the last message's end: its separator, then the frame's checksum.
    let end = group.iter().map(|e| entry_end(e).unwrap_or(u64::MAX)).max();
    let frame = read_frame(path, offset, end.unwrap_or(0).saturating_add(2));
    group
        .iter()
        .filter_map(|entry| {
            let kind = match &frame {
                Err(e) => Some(ProblemKind::MessageUnreadable(e.to_string())),
                Ok(frame) => check_message(frame, entry),
            };
            let id = Some(entry.message_id.as_str());
            kind.map(|k| Problem::new(volume, id, k))
        })
        .collect()
}

fn check_message(frame: &[u8], entry: &ManifestEntry) -> Option<ProblemKind> {
    match extract(frame, entry) {
        Err(reason) => Some(ProblemKind::MessageUnreadable(reason)),
        Ok(b) if b.len() as u64 != entry.size => {
            Some(ProblemKind::MessageSizeMismatch(entry.size, b.len() as u64))
        }
        Ok(b) if hex::encode(Sha256::digest(&b)) != entry.sha256 => {
            Some(ProblemKind::MessageHashMismatch)
        }
        Ok(_) => None,
    }
}

/// Verifies every volume in `dir`. Unreadable manifests and `.mbox.zst` files without a
/// manifest are reported, not skipped; errs only if `dir` cannot be listed.
pub fn verify_all(dir: &Path) -> Result<VerifyReport> {
    let names = dir_names(dir)?;
    let mut report = VerifyReport::default();
    for name in &names {
        if let Some(volume) = name.strip_suffix(MANIFEST) {
            report.volumes += 1;
            match load_manifest(&dir.join(name)) {
                Ok(manifest) => {
                    let check = verify_volume(dir, &manifest);
                    report.messages += check.messages;
                    report.problems.extend(check.problems);
                }
                Err(e) => {
                    let kind = ProblemKind::ManifestUnreadable(e.to_string());
                    report.problems.push(Problem::new(volume, None, kind));
                }
            }
        } else if let Some(volume) = name.strip_suffix(ZST) {
            if !names.contains(&format!("{volume}{MANIFEST}")) {
                let kind = ProblemKind::ManifestMissing;
                report.problems.push(Problem::new(volume, None, kind));
            }
        }
    }
    Ok(report)
}
