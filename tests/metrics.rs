//! `/metrics`, `/healthz` and `/readyz` of a real `gleaner serve`: the
//! exposition is parsed by the Prometheus text-format parser of PyPI's
//! `prometheus-client` (run through python3), counters move by the requests
//! made, histograms are cumulative with `+Inf` equal to `_count`, a bad query
//! is counted as an error, disk gauges are positive, and neither a list name
//! nor query text appears anywhere. Who may read `/metrics` is tested on an
//! in-process server with login on.

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::Duration;

use gleaner::access::{Role, Users};
use gleaner::config::HttpConfig;
use gleaner::http::AppState;
use gleaner::index::MailIndex;
use gleaner::metrics::MetricsAccess;
use serde_json::Value;

use crate::common::{enc, get, index_paths, sample, tempdir, TestServer};

/// The venv interpreter with `prometheus_client`, or `None` (a loud skip) on
/// a machine without it; under `CI=true` its absence fails the test.
fn prometheus_python() -> Option<PathBuf> {
    crate::common::venv_python("prometheus_client.parser", "prometheus-client")
}

const PARSE: &str = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = []
for f in text_string_to_metric_families(sys.stdin.read()):
    out.append({"name": f.name, "type": f.type, "samples": [
        {"name": s.name, "labels": s.labels, "value": s.value} for s in f.samples]})
print(json.dumps(out))
"#;

/// One parsed sample.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: Vec<(String, String)>,
    value: f64,
}

impl Sample {
    fn label(&self, k: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    }
}

/// The exposition parsed by prometheus_client: (family name, type, samples).
fn parse(python: &Path, text: &str) -> Vec<(String, String, Vec<Sample>)> {
    let mut child = Command::new(python)
        .args(["-c", PARSE])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run python");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("python");
    assert!(
        out.status.success(),
        "the Prometheus parser refused the exposition: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    let families: Value = serde_json::from_slice(&out.stdout).expect("parser JSON");
    families
        .as_array()
        .expect("families")
        .iter()
        .map(|f| {
            let samples = f["samples"]
                .as_array()
                .expect("samples")
                .iter()
                .map(|s| Sample {
                    name: s["name"].as_str().expect("name").to_string(),
                    labels: s["labels"]
                        .as_object()
                        .expect("labels")
                        .iter()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                        .collect(),
                    value: s["value"].as_f64().expect("value"),
                })
                .collect();
            (
                f["name"].as_str().expect("name").to_string(),
                f["type"].as_str().expect("type").to_string(),
                samples,
            )
        })
        .collect()
}

/// The sum of the samples called `name` whose labels include `with`.
fn total(families: &[(String, String, Vec<Sample>)], name: &str, with: &[(&str, &str)]) -> f64 {
    families
        .iter()
        .flat_map(|(_, _, s)| s)
        .filter(|s| s.name == name && with.iter().all(|(k, v)| s.label(k) == Some(v)))
        .map(|s| s.value)
        .sum()
}

/// Every histogram: buckets never decrease and `+Inf` equals `_count`.
fn check_histograms(families: &[(String, String, Vec<Sample>)]) -> usize {
    let mut checked = 0;
    for (name, kind, samples) in families.iter().filter(|(_, k, _)| k == "histogram") {
        let bucket = format!("{name}_bucket");
        let count = format!("{name}_count");
        for c in samples.iter().filter(|s| s.name == count) {
            let same = |s: &Sample| {
                s.labels
                    .iter()
                    .filter(|(k, _)| k != "le")
                    .eq(c.labels.iter())
            };
            let buckets: Vec<&Sample> = samples
                .iter()
                .filter(|s| s.name == bucket && same(s))
                .collect();
            assert!(!buckets.is_empty(), "{name} {:?} has no buckets", c.labels);
            for pair in buckets.windows(2) {
                assert!(
                    pair[0].value <= pair[1].value,
                    "{kind} {name} is not cumulative: {pair:?}"
                );
            }
            let inf = buckets.last().expect("a bucket");
            assert_eq!(inf.label("le"), Some("+Inf"), "{name}: last bucket");
            assert_eq!(inf.value, c.value, "{name} {:?}: +Inf != _count", c.labels);
            checked += 1;
        }
    }
    checked
}

/// `gleaner serve --no-auth` on a copy of the sample corpus.
struct Served {
    child: Child,
    addr: SocketAddr,
    ready: Receiver<()>,
}

impl Served {
    fn start(data: &Path, mail: &Path) -> Served {
        let mut child = Command::new(env!("CARGO_BIN_EXE_gleaner"))
            .arg("--data")
            .arg(data)
            .args(["--log-format", "json", "serve", "--listen", "127.0.0.1:0"])
            .args(["--no-auth"])
            .arg(mail)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start serve");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, ready) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains("ready: start-up reconciliation committed") {
                    let _ = tx.send(());
                }
            }
        });
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let addr = loop {
            let line = lines.next().expect("serve exited").expect("stdout");
            if let Some(rest) = line.strip_prefix("gleaner: serving http://") {
                break rest.trim_end_matches('/').parse().expect("address");
            }
        };
        std::thread::spawn(move || for _ in lines {});
        Served { child, addr, ready }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read dir").flatten() {
        let target = to.join(e.file_name());
        if e.file_type().expect("type").is_dir() {
            copy_tree(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).expect("copy");
        }
    }
}

#[test]
fn metrics_of_a_real_server_parse_and_count_what_happened() {
    let Some(python) = prometheus_python() else {
        return;
    };
    let dir = tempdir();
    let mail = dir.path().join("mail");
    copy_tree(&sample(), &mail);
    let serve = Served::start(&dir.path().join("data"), &mail);
    let addr = serve.addr;

    let health = get(addr, "/healthz", &[]);
    assert_eq!(
        (health.status, health.json()["status"].clone()),
        (200, "alive".into())
    );
    // Right after start the live indexer is still reading the corpus.
    let early = get(addr, "/readyz", &[]);
    if early.status == 503 {
        let reason = early.json()["reason"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(reason.contains("catching up"), "{reason}");
    } else {
        eprintln!("NOTICE: the start-up pass finished before the first /readyz");
        assert_eq!(early.status, 200);
    }
    serve
        .ready
        .recv_timeout(Duration::from_secs(120))
        .expect("the live indexer caught up");
    let ready = get(addr, "/readyz", &[]);
    assert_eq!(ready.status, 200, "{}", ready.text());

    let scrape = || {
        let res = get(addr, "/metrics", &[]);
        assert_eq!(res.status, 200, "{}", res.text());
        assert_eq!(
            res.header("content-type"),
            Some("text/plain; version=0.0.4; charset=utf-8")
        );
        res.text()
    };
    let before = parse(&python, &scrape());

    let stats = get(addr, "/api/stats", &[]).json();
    let lists: Vec<String> = stats["lists"]
        .as_array()
        .expect("lists")
        .iter()
        .filter_map(|l| l["value"].as_str().map(str::to_string))
        .collect();
    assert!(!lists.is_empty(), "{stats}");
    let queries = [
        "zanzibarquokka".to_string(),
        format!("list:{}", lists[0]),
        "zanzibarquokka".to_string(),
        "\"unterminated phrase wombatquill".to_string(),
    ];
    let mut statuses = Vec::new();
    for q in &queries {
        statuses.push(get(addr, &format!("/api/search?q={}", enc(q)), &[]).status);
    }
    assert_eq!(
        statuses,
        [200, 200, 200, 400],
        "the last query is malformed"
    );

    let text = scrape();
    let after = parse(&python, &text);
    let search = [("surface", "http"), ("route", "/api/search")];
    let count = "gleaner_http_request_duration_seconds_count";
    assert_eq!(
        total(&after, count, &search) - total(&before, count, &search),
        queries.len() as f64,
        "every search counted once"
    );
    let bad = [("route", "/api/search"), ("status", "4xx")];
    assert_eq!(
        total(&after, count, &bad) - total(&before, count, &bad),
        1.0
    );
    let errors = "gleaner_http_errors_total";
    let bad_query = [("surface", "http"), ("kind", "bad_query")];
    assert_eq!(
        total(&after, errors, &bad_query) - total(&before, errors, &bad_query),
        1.0,
        "the 400 is an error of kind bad_query"
    );
    let lookups = "gleaner_search_cache_lookups_total";
    let moved = |r: &str| {
        total(&after, lookups, &[("result", r)]) - total(&before, lookups, &[("result", r)])
    };
    // The malformed query is looked up (and missed) before it is parsed.
    assert_eq!(
        (moved("hit"), moved("miss")),
        (1.0, 3.0),
        "the repeated query was a hit"
    );
    assert!(
        check_histograms(&after) >= 3,
        "request and commit histograms"
    );
    for component in ["index", "database"] {
        let bytes = total(
            &after,
            "gleaner_disk_used_bytes",
            &[("component", component)],
        );
        assert!(bytes > 0.0, "{component}: {bytes} bytes");
    }
    assert!(total(&after, "gleaner_index_documents", &[]) > 0.0);
    assert!(total(&after, "gleaner_indexer_messages_indexed_total", &[]) > 0.0);
    assert!(total(&after, "gleaner_indexer_commit_duration_seconds_count", &[]) >= 1.0);
    assert_eq!(total(&after, "gleaner_indexer_caught_up", &[]), 1.0);
    let merges = "gleaner_indexer_merges_started_total";
    assert!(after
        .iter()
        .flat_map(|(_, _, s)| s)
        .any(|s| s.name == merges));
    assert_eq!(
        total(
            &after,
            "gleaner_http_requests_in_flight",
            &[("surface", "http")]
        ),
        1.0,
        "the scrape itself is in flight"
    );
    for (name, _, _) in &after {
        assert!(name.starts_with("gleaner_"), "{name}");
    }
    // One delivery: indexed once, committed, and the lag back to 0.
    let indexed = |f: &[(String, String, Vec<Sample>)]| {
        total(f, "gleaner_indexer_messages_indexed_total", &[])
    };
    let commits = |f: &[(String, String, Vec<Sample>)]| {
        total(f, "gleaner_indexer_commit_duration_seconds_count", &[])
    };
    let tmp = dir.path().join("delivery");
    std::fs::write(
        &tmp,
        "From: M <m@example.org>\nSubject: metered\nMessage-ID: <metered@example.org>\n\
         Date: Fri, 27 Nov 2026 10:00:00 +0000\n\nOne more.\n",
    )
    .expect("write");
    std::fs::rename(&tmp, mail.join("ops/new/1800000000.9.metrics")).expect("deliver");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let delivered = loop {
        let now = parse(&python, &scrape());
        if indexed(&now) == indexed(&after) + 1.0
            && total(&now, "gleaner_indexer_lag_seconds", &[]) == 0.0
        {
            break now;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the delivery was not indexed"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(commits(&delivered) > commits(&after), "a commit was timed");
    assert_eq!(
        total(&delivered, "gleaner_index_documents", &[]),
        total(&after, "gleaner_index_documents", &[]) + 1.0
    );

    let mut secret: Vec<String> = lists.clone();
    secret.extend(["zanzibarquokka", "wombatquill"].map(String::from));
    for s in &secret {
        assert!(
            !text.contains(s.as_str()),
            "{s:?} leaked into /metrics:\n{text}"
        );
    }
}

/// An in-process server with login on, seen through a trusted proxy so a
/// client can come from outside loopback.
fn login_server(data: &Path, metrics: MetricsAccess) -> TestServer {
    let index = MailIndex::open(&data.join("index"), true).expect("index");
    let users = Users::open(data).expect("users");
    let _ = users.add_user("root", Role::Admin, "correct horse battery");
    let _ = users.add_user("rita", Role::Reader, "correct horse battery");
    TestServer::serve(index.clone(), move |addr| {
        let http = HttpConfig {
            listen: addr,
            trust_proxy_headers: true,
            metrics,
            ..HttpConfig::default()
        };
        AppState::new(index, Some(users), Default::default(), true)
            .expect("state")
            .with_http(&http)
    })
}

#[test]
fn metrics_are_for_admins_and_loopback_unless_public() {
    let dir = tempdir();
    index_paths(dir.path(), &[sample()]);
    let outside = [("X-Forwarded-For", "203.0.113.7")];
    let server = login_server(dir.path(), MetricsAccess::Admin);
    assert_eq!(get(server.addr, "/metrics", &[]).status, 200, "loopback");
    assert_eq!(get(server.addr, "/metrics", &outside).status, 401);
    let (reader, _) = server.login("rita", "correct horse battery");
    let as_reader = [outside[0], ("Cookie", reader.as_str())];
    assert_eq!(get(server.addr, "/metrics", &as_reader).status, 403);
    let (admin, _) = server.login("root", "correct horse battery");
    let as_admin = [outside[0], ("Cookie", admin.as_str())];
    assert_eq!(get(server.addr, "/metrics", &as_admin).status, 200);
    // Health says nothing about the data and needs no login.
    assert_eq!(get(server.addr, "/healthz", &outside).status, 200);
    assert_eq!(
        get(server.addr, "/readyz", &outside).status,
        200,
        "no live indexer"
    );
    drop(server);
    let public = login_server(dir.path(), MetricsAccess::Public);
    assert_eq!(get(public.addr, "/metrics", &outside).status, 200);
}
