//! `kill -9` of `gleaner index` at random moments, then a complete run: no
//! message lost, none duplicated, the index opens.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use gleaner::index::MailIndex;

use crate::common::{all_keys, sample, tempdir, Rng};

fn index_command(data: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gleaner"));
    cmd.arg("--data")
        .arg(data)
        .arg("index")
        // Commits every 150 messages: kills land before, during and between
        // commits, and later runs resume from what the killed ones made durable.
        .arg("--commit-every")
        .arg("150")
        .arg(sample())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd
}

#[test]
fn kill_9_during_index_loses_and_duplicates_nothing() {
    // The reference is an uninterrupted run of the same command; its length
    // sets the kill moments, so they fall inside a run on a fast machine as
    // well as on a slow one.
    let reference = tempdir();
    let started = Instant::now();
    let status = index_command(reference.path()).status().unwrap();
    assert!(status.success());
    let full_run_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let ref_index = MailIndex::open(&reference.path().join("index"), false).expect("index opens");
    let want = all_keys(&ref_index);
    assert!(want.len() > 1000);

    let dir = tempdir();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut killed = 0;
    for round in 0..12 {
        let mut child = index_command(dir.path()).spawn().unwrap();
        // The first round kills a third of the way into a whole run; the
        // others at random moments in the first half of a whole run.
        let after = if round == 0 {
            full_run_ms / 3
        } else {
            20 + rng.below(full_run_ms / 2)
        };
        std::thread::sleep(Duration::from_millis(after));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL
            killed += 1;
        }
        child.wait().unwrap();
    }
    assert!(
        killed > 0,
        "no run was interrupted (a whole run took {full_run_ms} ms); the test proves nothing"
    );
    let status = Command::new(env!("CARGO_BIN_EXE_gleaner"))
        .arg("--data")
        .arg(dir.path())
        .arg("index")
        .arg(sample())
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let index = MailIndex::open(&dir.path().join("index"), false).expect("index opens");
    let got = all_keys(&index);
    let mut unique = got.clone();
    unique.dedup();
    assert_eq!(unique.len(), got.len(), "duplicated documents");
    assert_eq!(got, want, "lost or extra documents");
}
