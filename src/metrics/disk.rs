//! Disk space used by the index, the archive volumes and the SQLite
//! database, measured when scraped: a walk of at most [`MAX_ENTRIES`]
//! directory entries, remembered for [`FRESH_FOR`] so frequent scrapes cost
//! nothing. Symbolic links are not followed. Blocking file-system work: call
//! it off the async threads.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::text::Exposition;

/// Directory entries one measurement reads at most (then it stops and
/// reports what it counted, flagged as partial).
pub const MAX_ENTRIES: usize = 100_000;

/// How long a measurement is reused.
pub const FRESH_FOR: Duration = Duration::from_secs(15);

/// The paths measured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskPaths {
    /// `<data>/index`.
    pub index: PathBuf,
    /// The archive volume directory.
    pub volumes: PathBuf,
    /// `<data>/gleaner.db` (its `-wal` and `-shm` files are counted with it).
    pub database: PathBuf,
}

impl DiskPaths {
    /// The usual places under data directory `data`, volumes in `volumes`.
    pub fn new(data: &Path, volumes: PathBuf) -> DiskPaths {
        DiskPaths {
            index: data.join("index"),
            volumes,
            database: data.join("gleaner.db"),
        }
    }
}

/// One measurement, in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sizes {
    /// The search index.
    pub index: u64,
    /// Sealed archive volumes.
    pub volumes: u64,
    /// The SQLite database with its WAL.
    pub database: u64,
    /// The walk stopped at [`MAX_ENTRIES`]: the figures are lower bounds.
    pub partial: bool,
}

/// Measures [`DiskPaths`], reusing a fresh measurement.
#[derive(Debug)]
pub struct DiskUsage {
    paths: DiskPaths,
    last: Mutex<Option<(Instant, Sizes)>>,
}

impl DiskUsage {
    /// Measures `paths`.
    pub fn new(paths: DiskPaths) -> DiskUsage {
        DiskUsage {
            paths,
            last: Mutex::new(None),
        }
    }

    /// The sizes now (or as of at most [`FRESH_FOR`] ago).
    pub fn sizes(&self) -> Sizes {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((at, sizes)) = *last {
            if at.elapsed() < FRESH_FOR {
                return sizes;
            }
        }
        let mut budget = MAX_ENTRIES;
        let index = tree_bytes(&self.paths.index, &mut budget);
        let volumes = tree_bytes(&self.paths.volumes, &mut budget);
        let database = ["", "-wal", "-shm"]
            .iter()
            .map(|suffix| {
                let mut p = self.paths.database.clone().into_os_string();
                p.push(suffix);
                file_bytes(Path::new(&p))
            })
            .sum();
        let sizes = Sizes {
            index,
            volumes,
            database,
            partial: budget == 0,
        };
        *last = Some((Instant::now(), sizes));
        sizes
    }

    /// Writes `gleaner_disk_used_bytes`.
    pub fn write(&self, out: &mut Exposition) {
        let s = self.sizes();
        out.gauge(
            "gleaner_disk_used_bytes",
            "Bytes used on disk by the index, the archive volumes and the SQLite database (with its WAL).",
            &[
                (&[("component", "index")], s.index as f64),
                (&[("component", "volumes")], s.volumes as f64),
                (&[("component", "database")], s.database as f64),
            ],
        );
        out.gauge(
            "gleaner_disk_measurement_partial",
            "1 when the disk measurement stopped at its entry limit (the figures are lower bounds).",
            &[(&[], f64::from(u8::from(s.partial)))],
        );
    }
}

fn file_bytes(p: &Path) -> u64 {
    std::fs::symlink_metadata(p)
        .ok()
        .filter(|m| m.is_file())
        .map_or(0, |m| m.len())
}

/// Bytes of the regular files under `root`, reading at most `budget` entries.
fn tree_bytes(root: &Path, budget: &mut usize) -> u64 {
    let mut total = 0;
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            total += file_bytes(&dir);
            continue;
        };
        for entry in entries.flatten() {
            if *budget == 0 {
                return total;
            }
            *budget -= 1;
            let Ok(ty) = entry.file_type() else { continue };
            if ty.is_dir() {
                stack.push(entry.path());
            } else if ty.is_file() {
                total += entry.metadata().map_or(0, |m| m.len());
            }
        }
    }
    total
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn counts_files_in_trees_and_the_wal_and_stops_at_the_budget() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path();
        std::fs::create_dir_all(data.join("index/sub")).unwrap();
        std::fs::write(data.join("index/a"), [0u8; 10]).unwrap();
        std::fs::write(data.join("index/sub/b"), [0u8; 5]).unwrap();
        std::fs::write(data.join("gleaner.db"), [0u8; 7]).unwrap();
        std::fs::write(data.join("gleaner.db-wal"), [0u8; 3]).unwrap();
        let usage = DiskUsage::new(DiskPaths::new(data, data.join("archive")));
        let s = usage.sizes();
        assert_eq!(
            (s.index, s.volumes, s.database, s.partial),
            (15, 0, 10, false)
        );
        let mut budget = 1;
        assert!(tree_bytes(&data.join("index"), &mut budget) <= 10);
        assert_eq!(budget, 0);
    }
}
