//! Review rounds end to end (issue 24 item 2): a round snapshots its queue
//! and shares it out, progress per reviewer, overdue flagged in
//! `review list` and the API, closing with the last decision, every event
//! in the audit log; the iCalendar feed checked by a real parser (PyPI
//! `icalendar`) and opened only by its calendar token; the weekly digest
//! sent by `serve` and by hand through a real SMTP server on loopback
//! (PyPI `aiosmtpd`), parsed by Python's `email` package, never twice in a
//! week.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use gleaner::access::{Role, Users};
use gleaner::curate::round_schedule::Period;
use gleaner::curate::rounds::Opening;
use serde_json::Value;

use crate::common::{self, get, index_paths, sample, tempdir, TestServer};

const OPS: &str = "ops.lists.example.org";
const PASSWORD: &str = "correct horse battery";

/// A config with policy `ops-old` (OPS, older than 6y) and its yearly round
/// reviewed by alice and bob; `extra` is appended.
fn config(dir: &Path, data: &Path, extra: &str) -> PathBuf {
    let path = dir.join("gleaner.toml");
    std::fs::write(
        &path,
        format!(
            "data = {data:?}\n[http]\npublic_url = \"https://gleaner.example.org\"\n\
             [[review]]\nname = \"ops-old\"\nlists = [\"{OPS}\"]\nolder_than = \"6y\"\n\
             [[round]]\npolicy = \"ops-old\"\nevery = \"1y\"\nstarts = \"01-01\"\ndue = \"60d\"\n\
             reviewers = [\"alice\", \"bob\"]\n{extra}"
        ),
    )
    .expect("write config");
    path
}

/// Indexes the sample and adds alice and bob (reviewers of OPS) and carol
/// (a reviewer of nothing in the round).
fn setup(data: &Path) -> Users {
    index_paths(data, &[sample()]);
    let users = Users::open(data).expect("users");
    for name in ["alice", "bob", "carol"] {
        users.add_user(name, Role::Reviewer, PASSWORD).expect("add");
        users.grant(name, &[OPS.to_string()]).expect("grant");
    }
    users
}

/// `gleaner --config CONFIG ARGS...`, whatever its exit status.
fn run_any(config: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_gleaner"))
        .arg("--config")
        .arg(config)
        .args(args)
        .output()
        .expect("run gleaner")
}

/// Stdout of `gleaner --config CONFIG ARGS...`, which must succeed.
fn run(config: &Path, args: &[&str]) -> String {
    let out = run_any(config, args);
    assert!(
        out.status.success(),
        "gleaner {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect()
}

fn audit_actions(config: &Path) -> Vec<(String, String)> {
    json_lines(&run(config, &["audit", "log", "--limit", "500", "--json"]))
        .into_iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap_or("").to_string(),
                e["subject"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// Opens, by hand, a round of `ops-old` for `reviewers` that opened 90 days
/// ago and was due after 30: overdue.
fn open_overdue(
    curation: &gleaner::curate::Curation,
    data: &Path,
    reviewers: &[&str],
) -> gleaner::curate::rounds::Round {
    let users = Users::open(data).expect("users");
    let index = gleaner::index::MailIndex::open(&data.join("index"), false).expect("index");
    let names: Vec<String> = reviewers.iter().map(|r| r.to_string()).collect();
    let reviewers = gleaner::reminders::reviewers(Some(&users), &names).expect("reviewers");
    curation
        .open_round(
            &index,
            &Opening {
                policy: "ops-old",
                period: None,
                reviewers: &reviewers,
                due: Period::Days(30),
                actor: "test",
                now: gleaner::db::now() - 90 * 86_400,
            },
            &gleaner::query::limits::Budget::job(),
        )
        .expect("open")
}

/// An old thread on OPS that arrives after a round opened.
const LATE_MAIL: &str = "From: Late Poster <late@example.org>\r\nTo: ops@lists.example.org\r\n\
List-Id: Ops <ops.lists.example.org>\r\nSubject: a very old thread found late\r\n\
Message-ID: <late-old-thread@example.org>\r\nDate: Mon, 01 Mar 2010 10:00:00 +0000\r\n\r\n\
The disk array failed again; we replaced the controller.\r\n";

#[test]
fn a_round_snapshots_its_queue_shares_it_out_flags_overdue_and_closes_with_the_last_decision() {
    let dir = tempdir();
    let data = dir.path().join("data");
    let users = setup(&data);
    drop(users);
    let cfg = config(dir.path(), &data, "");
    let queue = json_lines(&run(
        &cfg,
        &["review", "queue", "ops-old", "--limit", "0", "--json"],
    ));
    assert!(
        queue.len() >= 4,
        "the sample has old ops threads: {}",
        queue.len()
    );

    // Opened by hand: the undecided threads now, shared out evenly.
    let opened = run(
        &cfg,
        &["review", "round", "open", "ops-old", "--by", "lead"],
    );
    assert!(opened.starts_with("opened round"), "{opened}");
    let rounds = json_lines(&run(&cfg, &["review", "round", "list", "--json"]));
    assert_eq!(rounds.len(), 1);
    let round = &rounds[0];
    assert_eq!(round["total"].as_u64(), Some(queue.len() as u64));
    assert_eq!(round["decided"].as_u64(), Some(0));
    let share = |r: &Value, who: &str| -> (u64, u64) {
        let p = r["reviewers"]
            .as_array()
            .expect("reviewers")
            .iter()
            .find(|p| p["reviewer"] == who)
            .unwrap_or_else(|| panic!("{who} in {r}"));
        (
            p["assigned"].as_u64().expect("n"),
            p["decided"].as_u64().expect("n"),
        )
    };
    let (a, b) = (share(round, "alice").0, share(round, "bob").0);
    assert_eq!(a + b, queue.len() as u64);
    assert!(a.abs_diff(b) <= 1, "shared evenly: alice {a}, bob {b}");
    // A second round of the same policy is refused while this one is open.
    let again = run_any(&cfg, &["review", "round", "open", "ops-old"]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("still open"));

    // Later mail changes the queue, not the round.
    let late = dir.path().join("late");
    std::fs::create_dir_all(&late).expect("dir");
    std::fs::write(late.join("late.eml"), LATE_MAIL).expect("write");
    index_paths(&data, &[late]);
    let queue_after = json_lines(&run(
        &cfg,
        &["review", "queue", "ops-old", "--limit", "0", "--json"],
    ));
    assert_eq!(queue_after.len(), queue.len() + 1, "the late thread is due");
    let round_after = &json_lines(&run(&cfg, &["review", "round", "list", "--json"]))[0];
    assert_eq!(
        round_after["total"], round["total"],
        "the round's scope is its snapshot"
    );

    // Decide every thread of the snapshot: alice's share as alice, bob's as bob.
    let round_threads: Vec<String> = queue
        .iter()
        .map(|q| q["thread_id"].as_str().expect("id").to_string())
        .collect();
    let (first, rest) = round_threads.split_at(1);
    let mut args = vec!["review", "decide", "ops-old", "keep"];
    args.extend(first.iter().map(String::as_str));
    args.extend(["--by", "alice"]);
    run(&cfg, &args);
    let mid = &json_lines(&run(&cfg, &["review", "round", "list", "--json"]))[0];
    assert_eq!(mid["decided"].as_u64(), Some(1));
    assert!(mid["closed_at"].is_null());
    let mut args = vec!["review", "decide", "ops-old", "dismiss"];
    args.extend(rest.iter().map(String::as_str));
    args.extend(["--by", "bob"]);
    run(&cfg, &args);
    let done = &json_lines(&run(&cfg, &["review", "round", "list", "--json"]))[0];
    assert_eq!(done["decided"], done["total"]);
    assert!(
        done["closed_at"].is_i64(),
        "closed with its last decision: {done}"
    );
    assert_eq!(share(done, "alice").0, share(done, "alice").1);
    // The late thread is still in the queue: the next round's work.
    let left = json_lines(&run(
        &cfg,
        &["review", "queue", "ops-old", "--limit", "0", "--json"],
    ));
    assert_eq!(left.len(), 1);

    // A round opened 90 days ago, due after 30: overdue in `review list`.
    let curation =
        gleaner::curate::Curation::open(&data, "https://gleaner.example.org").expect("db");
    let now = gleaner::db::now();
    let late_round = open_overdue(&curation, &data, &["alice", "carol"]);
    assert!(late_round.overdue && late_round.closed_at.is_none());
    let listed = run(&cfg, &["review", "list"]);
    assert!(listed.contains("OVERDUE"), "{listed}");
    let listed = json_lines(&run(&cfg, &["review", "list", "--json"]));
    assert_eq!(listed[0]["rounds"][0]["overdue"], Value::Bool(true));
    assert_eq!(
        curation.note_overdue(now).expect("note"),
        vec![late_round.id]
    );
    assert!(
        curation.note_overdue(now).expect("note").is_empty(),
        "noted once"
    );
    // This year's scheduled round waits while the policy's overdue round is open.
    let due = run(&cfg, &["review", "round", "due"]);
    assert!(due.contains("no round is due to open"), "{due}");

    // Over the API too, for the review page.
    let server = TestServer::start(&data, true);
    let (cookie, _) = server.login("carol", PASSWORD);
    let api = get(
        server.addr,
        "/api/review/rounds?mine=1",
        &[("Cookie", &cookie)],
    );
    assert_eq!(api.status, 200, "{}", api.text());
    let api = api.json();
    let mine = api["rounds"].as_array().expect("rounds");
    assert_eq!(mine.len(), 1, "carol reviews only the late round");
    assert_eq!(mine[0]["overdue"], Value::Bool(true));
    drop(server);

    // Every event in the (intact) audit log.
    let actions = audit_actions(&cfg);
    let count = |a: &str| actions.iter().filter(|(x, _)| x == a).count();
    assert_eq!(count("review.round.open"), 2);
    assert_eq!(count("review.round.close"), 1);
    assert_eq!(count("review.round.overdue"), 1);
    assert!(run(&cfg, &["audit", "verify"]).contains("intact"));
}

/// Parses an iCalendar text with PyPI `icalendar`; JSON of its components.
const PARSE_ICS: &str = r#"
import sys, json
from icalendar import Calendar
cal = Calendar.from_ical(sys.stdin.buffer.read())
out = {"prodid": str(cal["PRODID"]), "version": str(cal["VERSION"]), "errors": [], "items": []}
for c in cal.walk():
    out["errors"] += [str(e) for e in getattr(c, "errors", [])]
    if c.name in ("VTODO", "VEVENT"):
        out["items"].append({
            "kind": c.name, "uid": str(c["UID"]), "summary": str(c["SUMMARY"]),
            "description": str(c["DESCRIPTION"]), "url": str(c.get("URL")),
            "dtstamp": c.decoded("DTSTAMP").isoformat(),
            "dtstart": c.decoded("DTSTART").isoformat(),
            "due": c.decoded("DUE").isoformat() if "DUE" in c else None,
            "status": str(c.get("STATUS", "")),
        })
print(json.dumps(out))
"#;

fn parse_ics(python: &Path, text: &[u8]) -> Value {
    let mut child = Command::new(python)
        .args(["-c", PARSE_ICS])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text)
        .expect("write");
    let out = child.wait_with_output().expect("wait");
    assert!(
        out.status.success(),
        "icalendar refused the feed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("json")
}

#[test]
fn the_calendar_feed_is_rfc_5545_for_a_real_parser_and_its_token_opens_nothing_else() {
    let Some(python) = common::venv_python("icalendar", "icalendar") else {
        return;
    };
    let dir = tempdir();
    let data = dir.path().join("data");
    let users = setup(&data);
    let cfg = config(dir.path(), &data, "");
    run(&cfg, &["review", "round", "open", "ops-old"]);
    let url = run(&cfg, &["user", "calendar-token", "alice"]);
    let url = url.trim();
    assert!(
        url.starts_with("https://gleaner.example.org/api/review/calendar.ics?token=glc_"),
        "{url}"
    );
    let token = url.split("token=").nth(1).expect("token").to_string();
    let path = format!("/api/review/calendar.ics?token={token}");

    let server = TestServer::start(&data, true);
    let res = get(server.addr, &path, &[]);
    assert_eq!(res.status, 200, "{}", res.text());
    assert!(res
        .header("content-type")
        .is_some_and(|c| c.starts_with("text/calendar")));
    let text = res.body.clone();
    // CRLF everywhere, no line over 75 octets.
    let s = String::from_utf8(text.clone()).expect("utf-8");
    assert!(s.ends_with("END:VCALENDAR\r\n"));
    assert!(!s.replace("\r\n", "").contains('\n'), "bare LF in the feed");
    for line in s.split_terminator("\r\n") {
        assert!(line.len() <= 75, "{} octets: {line:?}", line.len());
    }
    assert!(s.contains("\\,"), "commas in TEXT are escaped");
    let cal = parse_ics(&python, &text);
    assert_eq!(cal["version"], "2.0");
    assert!(cal["prodid"]
        .as_str()
        .is_some_and(|p| p.contains("gleaner")));
    assert_eq!(cal["errors"], Value::Array(vec![]), "parser errors: {cal}");
    let items = cal["items"].as_array().expect("items");
    let todo = items
        .iter()
        .find(|i| i["kind"] == "VTODO")
        .expect("a VTODO");
    assert!(items.iter().any(|i| i["kind"] == "VEVENT"));
    assert!(
        todo["summary"]
            .as_str()
            .is_some_and(|s| s.starts_with("Review ops-old")),
        "{todo}"
    );
    let d = todo["description"].as_str().expect("description");
    assert!(
        d.contains("Your share: 0 of") && d.contains("Whole round: 0 of"),
        "{d}"
    );
    assert!(
        d.contains("alice 0/") && d.contains(", bob 0/"),
        "unescaped commas back: {d}"
    );
    // TestServer's public URL is http://gleaner.test.
    assert_eq!(todo["url"], "http://gleaner.test/review/ops-old");
    assert_eq!(todo["status"], "NEEDS-ACTION");
    assert!(todo["due"]
        .as_str()
        .is_some_and(|d| d > todo["dtstart"].as_str().unwrap_or("")));
    // The same UIDs on the next fetch.
    let again = parse_ics(&python, &get(server.addr, &path, &[]).body);
    let uids = |c: &Value| -> Vec<String> {
        c["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|i| i["uid"].as_str().unwrap_or("").to_string())
            .collect()
    };
    assert_eq!(uids(&cal), uids(&again));
    assert!(uids(&cal).iter().all(|u| u.ends_with("@gleaner.test")));

    // The calendar token opens the calendar only.
    for p in ["/api/search?q=disk", "/api/review/rounds", "/api/me"] {
        let with_token = format!(
            "{p}{}token={token}",
            if p.contains('?') { "&" } else { "?" }
        );
        assert_eq!(get(server.addr, &with_token, &[]).status, 401, "{p}");
        let bearer = format!("Bearer {token}");
        assert_eq!(
            get(server.addr, p, &[("Authorization", &bearer)]).status,
            401,
            "{p}"
        );
        let cookie = format!("{}={token}", gleaner::http::SESSION_COOKIE);
        assert_eq!(
            get(server.addr, p, &[("Cookie", &cookie)]).status,
            401,
            "{p}"
        );
    }
    // (MCP takes only `glt_` API tokens: `Users::token` refuses this one;
    // see the unit test in src/access/calendar.rs.)
    // An API token is not a calendar token; a wrong one is refused; carol's feed is hers.
    let api = users
        .create_token("cli", "assistant", "alice", true)
        .expect("token");
    let wrong = format!("/api/review/calendar.ics?token={}", api.secret);
    assert_eq!(get(server.addr, &wrong, &[]).status, 401);
    assert_eq!(
        get(server.addr, "/api/review/calendar.ics?token=glc_0000", &[]).status,
        401
    );
    assert_eq!(
        get(server.addr, "/api/review/calendar.ics", &[]).status,
        401
    );
    let carol = users.create_calendar_token("cli", "carol").expect("token");
    let feed = get(
        server.addr,
        &format!("/api/review/calendar.ics?token={carol}"),
        &[],
    );
    assert_eq!(feed.status, 200);
    assert!(parse_ics(&python, &feed.body)["items"]
        .as_array()
        .expect("items")
        .is_empty());
    // A new token replaces the old.
    users.create_calendar_token("cli", "alice").expect("token");
    assert_eq!(get(server.addr, &path, &[]).status, 401);
}

/// A real SMTP server (aiosmtpd) on loopback writing each message it gets
/// into a directory; stopped when dropped.
struct Smtp {
    child: Child,
    port: u16,
    dir: PathBuf,
}

const SMTP_SERVER: &str = r#"
import sys, os, json
from aiosmtpd.controller import Controller
port, out = int(sys.argv[1]), sys.argv[2]
class Keep:
    async def handle_DATA(self, server, session, envelope):
        n = len([f for f in os.listdir(out) if f.endswith(".eml")])
        base = os.path.join(out, "%04d" % n)
        with open(base + ".json", "w") as f:
            json.dump({"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos}, f)
        with open(base + ".tmp", "wb") as f:
            f.write(envelope.original_content)
        os.rename(base + ".tmp", base + ".eml")
        return "250 Message accepted"
c = Controller(Keep(), hostname="127.0.0.1", port=port)
c.start()
print("ready", flush=True)
sys.stdin.read()
c.stop()
"#;

impl Smtp {
    fn start(python: &Path, dir: PathBuf) -> Smtp {
        std::fs::create_dir_all(&dir).expect("dir");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let mut child = Command::new(python)
            .args(["-c", SMTP_SERVER, &port.to_string()])
            .arg(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("aiosmtpd");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("ready");
        assert_eq!(line.trim(), "ready");
        Smtp { child, port, dir }
    }

    fn messages(&self) -> Vec<PathBuf> {
        let mut m: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .expect("dir")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "eml"))
            .collect();
        m.sort();
        m
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// A received message as Python's `email` package reads it.
const PARSE_MAIL: &str = r#"
import sys, json, email, email.policy
m = email.message_from_bytes(open(sys.argv[1], "rb").read(), policy=email.policy.default)
print(json.dumps({
    "from": str(m["From"]), "to": str(m["To"]), "subject": str(m["Subject"]),
    "date": m["Date"].datetime.isoformat(), "message_id": str(m["Message-ID"]),
    "type": m.get_content_type(), "charset": m.get_content_charset(),
    "cte": str(m["Content-Transfer-Encoding"]), "auto": str(m["Auto-Submitted"]),
    "body": m.get_content(), "defects": [str(d) for d in m.defects],
}))
"#;

fn parse_mail(python: &Path, path: &Path) -> Value {
    let out = Command::new(python)
        .args(["-c", PARSE_MAIL])
        .arg(path)
        .output()
        .expect("python");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("json")
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let until = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !done() {
        assert!(
            std::time::Instant::now() < until,
            "timed out waiting for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

fn serve(cfg: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_gleaner"))
        .args([
            "--config",
            cfg.to_str().expect("path"),
            "serve",
            "--listen",
            "127.0.0.1:0",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve")
}

#[test]
fn serve_opens_the_scheduled_round_and_mails_each_reviewer_a_digest_once_a_week() {
    let Some(python) = common::venv_python("aiosmtpd, email", "aiosmtpd") else {
        return;
    };
    let dir = tempdir();
    let data = dir.path().join("data");
    let users = setup(&data);
    users
        .set_email("alice", Some("alice@example.org"))
        .expect("email");
    let smtp = Smtp::start(&python, dir.path().join("received"));
    let cfg = config(
        dir.path(),
        &data,
        &format!(
            "[mail]\nsmtp = \"127.0.0.1:{}\"\nfrom = \"gleaner@example.org\"\n",
            smtp.port
        ),
    );

    // serve opens this year's round at start-up and mails alice (bob has no address).
    // Sent, then recorded: a kill between the two would send it again
    // (at least once, never lost), so wait for the record.
    let curation = gleaner::curate::Curation::open(&data, "x").expect("db");
    let week = gleaner::curate::digest::iso_week(gleaner::db::now());
    let recorded = |who: &str| curation.digest_sent(who, &week).expect("db");
    let mut server = serve(&cfg);
    wait_for("alice's digest", || recorded("alice"));
    assert_eq!(smtp.messages().len(), 1);
    let year = run(&cfg, &["review", "round", "list", "--json"]);
    let rounds = json_lines(&year);
    assert_eq!(rounds.len(), 1);
    let period = rounds[0]["period"].as_str().expect("period");
    assert!(
        period.ends_with("-01-01") && period.len() == 10,
        "the scheduled period: {period}"
    );
    assert_eq!(rounds[0]["opened_by"], "system");
    let _ = server.kill();
    let _ = server.wait();

    let envelope: Value = serde_json::from_str(
        &std::fs::read_to_string(smtp.messages()[0].with_extension("json")).expect("envelope"),
    )
    .expect("json");
    assert_eq!(envelope["mail_from"], "gleaner@example.org");
    assert_eq!(
        envelope["rcpt_tos"],
        serde_json::json!(["alice@example.org"])
    );
    let m = parse_mail(&python, &smtp.messages()[0]);
    assert_eq!(m["defects"], Value::Array(vec![]), "{m}");
    assert_eq!(m["from"], "gleaner@example.org");
    assert_eq!(m["to"], "alice@example.org");
    assert!(
        m["subject"]
            .as_str()
            .is_some_and(|s| s.contains("1 open round")),
        "{m}"
    );
    assert!(m["message_id"]
        .as_str()
        .is_some_and(|s| s.ends_with("@example.org>")));
    assert_eq!(m["type"], "text/plain");
    assert_eq!(m["charset"], "utf-8");
    assert_eq!(m["cte"], "quoted-printable");
    assert_eq!(m["auto"], "auto-generated");
    let body = m["body"].as_str().expect("body");
    assert!(body.contains("Hello alice"), "{body}");
    assert!(body.contains(&format!("ops-old {period} — due ")), "{body}");
    assert!(body.contains("Your share: 0 of"), "{body}");
    assert!(
        body.contains("https://gleaner.example.org/review/ops-old"),
        "{body}"
    );

    // A restart sends nothing twice; bob, now with an address, gets his.
    users
        .set_email("bob", Some("bob@example.org"))
        .expect("email");
    let mut server = serve(&cfg);
    wait_for("bob's digest", || recorded("bob"));
    std::thread::sleep(std::time::Duration::from_secs(2));
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(smtp.messages().len(), 2, "alice's digest is not sent twice");
    let bob = parse_mail(&python, &smtp.messages()[1]);
    assert_eq!(bob["to"], "bob@example.org");
    assert_eq!(
        json_lines(&run(&cfg, &["review", "round", "list", "--json"])).len(),
        1
    );

    // By hand: --dry-run prints, --send skips what was sent, --force sends again.
    let dry = run(&cfg, &["review", "digest", "--dry-run"]);
    assert!(
        dry.contains("To: alice@example.org") && dry.contains("X-Already-Sent: yes"),
        "{dry}"
    );
    let sent = run(&cfg, &["review", "digest", "--send"]);
    assert!(sent.contains("alice: already sent this week"), "{sent}");
    assert_eq!(smtp.messages().len(), 2);
    let forced = run(&cfg, &["review", "digest", "--send", "--force"]);
    assert!(forced.contains("sent the digest to alice"), "{forced}");
    assert_eq!(smtp.messages().len(), 4);
    let actions = audit_actions(&cfg);
    assert_eq!(
        actions
            .iter()
            .filter(|(a, _)| a == "review.digest.sent")
            .count(),
        4
    );

    // A relay that refuses is reported, not recorded.
    drop(smtp);
    let failed = run_any(&cfg, &["review", "digest", "--send", "--force"]);
    assert!(!failed.status.success());
    assert!(String::from_utf8_lossy(&failed.stdout).contains("FAILED"));
}

#[test]
fn the_review_page_flags_an_overdue_round_and_hands_out_the_calendar_link() {
    use crate::review_ui::ReviewUi;
    let Some(bin) = crate::wd::browser() else {
        return;
    };
    let dir = tempdir();
    let data = dir.path().join("data");
    setup(&data);
    let curation = gleaner::curate::Curation::open(&data, "http://gleaner.test").expect("db");
    let policy: gleaner::curate::ReviewPolicy = serde_json::from_value(
        serde_json::json!({"name": "ops-old", "lists": [OPS], "older_than": "6y"}),
    )
    .expect("policy");
    curation.put_policy(&policy, "test").expect("policy");
    let round = open_overdue(&curation, &data, &["alice", "bob"]);
    assert!(round.overdue);
    let server = TestServer::start(&data, true);
    let base = format!("http://{}", server.addr);
    let s = crate::wd::Session::new(&bin, "review-rounds", std::time::Duration::from_secs(20));
    s.login(&base, "alice", PASSWORD);
    s.go(&format!("{base}/review"));
    s.wait("document.querySelector('.policy-card[data-policy=\"ops-old\"] .policy-round[data-overdue=\"1\"] .round-overdue')");
    assert_eq!(
        s.text("document.querySelector('.policy-round .round-overdue').textContent"),
        "Overdue"
    );
    let head = s.text("document.querySelector('.policy-round .round-head').textContent");
    assert!(
        head.contains(&format!("0 of {} decided", round.total)),
        "{head}"
    );
    let bars = s.js("return document.querySelectorAll('.policy-round .round-reviewer').length;");
    assert_eq!(bars, serde_json::json!(2), "one bar per reviewer");
    s.shot("review-rounds");
    // The round's badge and bars pass axe-core (contrast, names), when it is here.
    if let Some(axe) = crate::a11y::axe_js() {
        let bad = crate::a11y::axe_violations(&s, &axe);
        assert!(bad.is_empty(), "axe-core on /review with a round: {bad:#?}");
    }

    s.click("#calendar-link");
    s.wait("!document.querySelector('#calendar-url').hidden");
    let url = s.text("document.querySelector('#calendar-url').value");
    let path = url
        .strip_prefix("http://gleaner.test")
        .unwrap_or_else(|| panic!("the public URL: {url}"));
    assert!(
        path.starts_with("/api/review/calendar.ics?token=glc_"),
        "{url}"
    );
    let feed = get(server.addr, path, &[]);
    assert_eq!(feed.status, 200);
    assert!(feed.text().contains("OVERDUE since"), "{}", feed.text());
}

/// An old thread on OPS, `id` with `extra` headers.
fn old_mail(id: &str, subject: &str, extra: &str) -> String {
    format!(
        "From: Poster <poster@example.org>\r\nTo: ops@lists.example.org\r\n\
         List-Id: Ops <ops.lists.example.org>\r\nSubject: {subject}\r\n\
         Message-ID: <{id}>\r\n{extra}Date: Mon, 01 Mar 2010 10:00:00 +0000\r\n\r\n\
         Something about {subject}.\r\n"
    )
}

#[test]
fn a_round_follows_two_of_its_conversations_merged_after_it_opened() {
    let dir = tempdir();
    let data = dir.path().join("data");
    setup(&data);
    let cfg = config(dir.path(), &data, "");
    let halves = dir.path().join("halves");
    std::fs::create_dir_all(&halves).expect("dir");
    std::fs::write(
        halves.join("a.eml"),
        old_mail("half-a@example.org", "raid controller firmware", ""),
    )
    .expect("a");
    std::fs::write(
        halves.join("b.eml"),
        old_mail("half-b@example.org", "tape library robot", ""),
    )
    .expect("b");
    index_paths(&data, &[halves]);
    run(&cfg, &["review", "round", "open", "ops-old"]);
    let total = json_lines(&run(&cfg, &["review", "round", "list", "--json"]))[0]["total"]
        .as_u64()
        .expect("total");
    // A message naming both joins them into one conversation.
    let bridge = dir.path().join("bridge");
    std::fs::create_dir_all(&bridge).expect("dir");
    std::fs::write(
        bridge.join("c.eml"),
        old_mail(
            "bridge@example.org",
            "Re: both",
            "In-Reply-To: <half-a@example.org>\r\nReferences: <half-a@example.org> <half-b@example.org>\r\n",
        ),
    )
    .expect("c");
    index_paths(&data, &[bridge]);
    // Every conversation of the queue decided under today's ids closes the round.
    let queue = json_lines(&run(
        &cfg,
        &["review", "queue", "ops-old", "--limit", "0", "--json"],
    ));
    assert_eq!(
        queue.len() as u64,
        total - 1,
        "two conversations are one now"
    );
    let mut args = vec!["review", "decide", "ops-old", "keep"];
    args.extend(queue.iter().map(|q| q["thread_id"].as_str().expect("id")));
    run(&cfg, &args);
    let round = &json_lines(&run(&cfg, &["review", "round", "list", "--json"]))[0];
    assert_eq!(round["total"].as_u64(), Some(total - 1), "{round}");
    assert_eq!(round["decided"], round["total"]);
    assert!(round["closed_at"].is_i64(), "{round}");
    let actions = audit_actions(&cfg);
    assert_eq!(
        actions
            .iter()
            .filter(|(a, _)| a == "review.round.merge")
            .count(),
        1
    );
}
