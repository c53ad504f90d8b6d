//! `kill -9` of `gleaner index` at random moments, then a complete run: no
//! message lost, none duplicated, the index opens.

use std::process::{Command, Stdio};
use std::time::Duration;

use gleaner::index::MailIndex;

use crate::common::{all_keys, index_paths, sample, tempdir, Rng};

#[test]
fn kill_9_during_index_loses_and_duplicates_nothing() {
    let reference = tempdir();
    let (ref_index, _) = index_paths(reference.path(), &[sample()]);
    let want = all_keys(&ref_index);
    assert!(want.len() > 1000);

    let dir = tempdir();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut killed = 0;
    for _ in 0..12 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_gleaner"))
            .arg("--data")
            .arg(dir.path())
            .arg("index")
            .arg(sample())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(20 + rng.below(1500)));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL
            killed += 1;
        }
        child.wait().unwrap();
    }
    assert!(
        killed > 0,
        "no run was interrupted; the test proves nothing"
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
