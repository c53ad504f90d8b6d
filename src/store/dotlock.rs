//! mbox dot-locks (`<mbox>.lock`), as mail delivery agents take them.
//!
//! A lock is *held* while its file exists, unless it is stale: it names a process
//! id that no longer runs (checked in `/proc`), or it is older than
//! [`STALE_AFTER`] (procmail's `LOCKTIMEOUT`), so a lock left behind by a crashed
//! delivery agent neither stalls the live indexer nor blocks a rewrite forever.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use super::StoreError;

/// A lock file older than this is stale whatever it holds (procmail's default
/// `LOCKTIMEOUT`, 1024 s).
pub const STALE_AFTER: Duration = Duration::from_secs(1024);

/// The dot-lock path of `mbox`: `<mbox>.lock`.
pub fn lock_path(mbox: &Path) -> PathBuf {
    let mut name = mbox.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// Whether another program holds `mbox`'s dot-lock (it exists and is not stale).
pub fn is_held(mbox: &Path) -> bool {
    let lock = lock_path(mbox);
    lock.exists() && !is_stale(&lock, SystemTime::now())
}

/// Whether the lock file at `lock` is stale at `now`: its owner's pid is gone, or
/// it was last modified [`STALE_AFTER`] or longer before `now`. A lock that
/// cannot be read, or holds no pid and is young, is not stale.
pub fn is_stale(lock: &Path, now: SystemTime) -> bool {
    let old = std::fs::metadata(lock)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|modified| now.duration_since(modified).ok())
        .is_some_and(|age| age >= STALE_AFTER);
    old || owner_is_gone(lock)
}

/// Whether the lock at `path` names a process id that no longer runs (a lock
/// without a pid, or where `/proc` is missing, never is).
fn owner_is_gone(path: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(path) else {
        return false;
    };
    let Ok(pid) = text.trim().parse::<u32>() else {
        return false;
    };
    let proc = Path::new("/proc");
    pid != std::process::id() && proc.join("self").exists() && !proc.join(pid.to_string()).exists()
}

/// A `<mbox>.lock` dot-lock holding our process id, removed when dropped.
#[derive(Debug)]
pub struct DotLock(PathBuf);

impl DotLock {
    /// Takes `mbox`'s dot-lock, breaking a stale one, waiting up to `wait` for a
    /// held one to go.
    pub fn take(mbox: &Path, wait: Duration) -> Result<DotLock, StoreError> {
        let path = lock_path(mbox);
        let started = Instant::now();
        loop {
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(mut file) => {
                    // The usual content: the owner's pid, so a lock left by a killed
                    // process can be recognised as stale.
                    let _ = writeln!(file, "{}", std::process::id());
                    return Ok(DotLock(path));
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    if is_stale(&path, SystemTime::now()) {
                        let _ = std::fs::remove_file(&path);
                        continue;
                    }
                    if started.elapsed() > wait {
                        return Err(StoreError::io(
                            mbox,
                            std::io::Error::new(
                                std::io::ErrorKind::WouldBlock,
                                format!(
                                    "locked by another program for {} s (a .lock file exists)",
                                    wait.as_secs()
                                ),
                            ),
                        ));
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(e) => return Err(StoreError::io(&path, e)),
            }
        }
    }
}

impl Drop for DotLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod tests {
    use super::*;

    /// The pid of a process that has exited: free (until reused, which only delays).
    pub(crate) fn dead_pid() -> u32 {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        pid
    }

    #[test]
    fn a_lock_left_by_a_dead_process_is_broken_a_live_one_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l.mbox");
        let lock = dir.path().join("l.mbox.lock");
        std::fs::write(&lock, format!("{}\n", dead_pid())).unwrap();
        assert!(!is_held(&path));
        let taken = DotLock::take(&path, Duration::from_secs(5)).unwrap();
        let text = std::fs::read_to_string(&lock).unwrap();
        assert_eq!(text.trim(), std::process::id().to_string());
        drop(taken);
        assert!(!lock.exists());
        // A live owner (pid 1) and a young lock without a pid are respected.
        std::fs::write(&lock, "1\n").unwrap();
        assert!(is_held(&path));
        std::fs::write(&lock, "").unwrap();
        assert!(is_held(&path));
        let err = DotLock::take(&path, Duration::from_millis(200)).unwrap_err();
        assert!(
            err.to_string().contains("locked by another program"),
            "{err}"
        );
        assert!(lock.exists(), "a held lock is left alone");
    }

    #[test]
    fn an_old_lock_is_stale_whatever_it_holds() {
        let dir = tempfile::tempdir().unwrap();
        let lock = dir.path().join("l.mbox.lock");
        std::fs::write(&lock, "1\n").unwrap();
        let now = SystemTime::now();
        assert!(!is_stale(&lock, now));
        assert!(!is_stale(&lock, now + STALE_AFTER - Duration::from_secs(5)));
        assert!(is_stale(&lock, now + STALE_AFTER + Duration::from_secs(5)));
    }
}
