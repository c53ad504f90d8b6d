//! Live-archive benchmark: freshness under load, idle CPU, restart time.
//!
//! Starts `gleaner serve` on a Maildir (optionally pre-filled, e.g. a copy of
//! a 100k corpus), delivers RATE messages/s for SECS seconds the way an MDA does
//! (write into tmp/, rename into new/), and polls the index in this process
//! (reloading the reader every few ms) until each message is found, reporting
//! p50/p95/p99 of rename→searchable. Then it measures serve's CPU use over
//! 20 idle seconds, stops it with SIGTERM, and times a restart until "ready".
//!
//! cargo build --release && cargo run --release --example freshness -- \
//!     target/release/gleaner WORKDIR [MAILDIR_TO_FOLLOW] [RATE] [SECS]

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use gleaner::index::MailIndex;
use gleaner::query::{self, Request, Sort};

fn start(bin: &Path, data: &Path, maildir: &Path) -> anyhow::Result<(Child, Duration)> {
    let t = Instant::now();
    let mut child = Command::new(bin)
        .arg("--data")
        .arg(data)
        .args([
            "--log-format",
            "json",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--no-auth",
        ])
        .arg(maildir)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()?;
    let stderr = child
        .stderr
        .take()
        .ok_or_else(|| anyhow::anyhow!("no stderr"))?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("ready") {
                let _ = tx.send(());
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(3600))?;
    Ok((child, t.elapsed()))
}

fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or_default();
    let f: Vec<&str> = after.split_whitespace().collect();
    // utime and stime are fields 14 and 15; after the ")" they are at 11 and 12.
    f.get(11).and_then(|x| x.parse::<u64>().ok()).unwrap_or(0)
        + f.get(12).and_then(|x| x.parse::<u64>().ok()).unwrap_or(0)
}

fn pct(v: &[f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    anyhow::ensure!(
        args.len() >= 3,
        "usage: freshness GLEANER WORKDIR [MAILDIR] [RATE] [SECS]"
    );
    let bin = PathBuf::from(&args[1]);
    let work = PathBuf::from(&args[2]);
    let maildir = args
        .get(3)
        .map(PathBuf::from)
        .unwrap_or_else(|| work.join("maildir"));
    let rate: u64 = args.get(4).and_then(|x| x.parse().ok()).unwrap_or(200);
    let secs: u64 = args.get(5).and_then(|x| x.parse().ok()).unwrap_or(60);
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(maildir.join(sub))?;
    }
    let data = work.join("data");
    let (child, first_start) = start(&bin, &data, &maildir)?;
    println!(
        "first start (indexes what is there): {:.2} s",
        first_start.as_secs_f64()
    );
    let index = MailIndex::open(&data.join("index"), false)?;
    let reader = index
        .index
        .reader_builder()
        .reload_policy(tantivy::ReloadPolicy::Manual)
        .try_into()?;
    let index = MailIndex { reader, ..index };

    // Deliver at `rate` per second while polling.
    let mut delivered: HashMap<String, Instant> = HashMap::new();
    let mut latencies = Vec::new();
    let started = Instant::now();
    let total = rate * secs;
    let mut sent = 0u64;
    while latencies.len() < total as usize && started.elapsed() < Duration::from_secs(secs + 30) {
        let due = (started.elapsed().as_secs_f64() * rate as f64) as u64;
        while sent < due.min(total) {
            let token = format!("fresh{sent}x{}", std::process::id());
            let body = format!(
                "From: bench@example.org\nTo: ops@lists.example.org\nSubject: freshness {sent}\nMessage-ID: <{token}@bench>\nDate: Fri, 27 Nov 2026 10:00:00 +0000\n\nbody {token}\n"
            );
            let name = format!("{}.{sent}.bench", 1_800_000_000 + sent);
            std::fs::write(maildir.join("tmp").join(&name), body)?;
            std::fs::rename(
                maildir.join("tmp").join(&name),
                maildir.join("new").join(&name),
            )?;
            delivered.insert(token, Instant::now());
            sent += 1;
        }
        index.reader.reload()?;
        let found: Vec<String> = delivered
            .keys()
            .filter(|t| {
                let req = Request {
                    query: format!("id:{t}@bench"),
                    limit: 1,
                    offset: 0,
                    sort: Sort::Relevance,
                    now: 0,
                    allowed_lists: None,
                    marks: None,
                };
                query::search(&index, &req)
                    .map(|r| r.total > 0)
                    .unwrap_or(false)
            })
            .cloned()
            .collect();
        for t in found {
            if let Some(at) = delivered.remove(&t) {
                latencies.push(at.elapsed().as_secs_f64() * 1000.0);
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    latencies.sort_by(f64::total_cmp);
    println!(
        "freshness at {rate}/s for {secs}s: {} of {total} found; rename->searchable p50 {:.0} ms, p95 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        latencies.len(),
        pct(&latencies, 0.5),
        pct(&latencies, 0.95),
        pct(&latencies, 0.99),
        latencies.last().copied().unwrap_or(f64::NAN)
    );

    // Idle CPU.
    std::thread::sleep(Duration::from_secs(2));
    let before = cpu_ticks(child.id());
    std::thread::sleep(Duration::from_secs(20));
    let after = cpu_ticks(child.id());
    println!(
        "idle: {} CPU ticks (1/100 s) in 20 s",
        after.saturating_sub(before)
    );

    // Restart on the unchanged store.
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()?;
    let mut child = child;
    child.wait()?;
    let (mut again, restart) = start(&bin, &data, &maildir)?;
    println!(
        "restart on the unchanged store: ready in {:.2} s",
        restart.as_secs_f64()
    );
    Command::new("kill")
        .args(["-TERM", &again.id().to_string()])
        .status()?;
    again.wait()?;
    Ok(())
}
