#!/usr/bin/env python3
"""Benchmark gleaner as Dovecot's IMAP full-text search backend (issue "IMAP SEARCH backend").

One run, on one Maildir corpus (a single maildir or a directory of maildirs, as for
bench/run.py), side by side:

  nofts    Dovecot 2.3 without any FTS plugin (its own search reads every message)
  xapian   Dovecot + fts_xapian (Debian's dovecot-fts-xapian, `partial=3 full=20`)
  gleaner  Dovecot + fts_solr pointed at `gleaner serve` with a [solr] section

Every configuration is its own throwaway Dovecot instance (127.0.0.1 only, rootless,
everything in the work dir) holding the same mailbox: one INBOX with every message
of the corpus, hard-linked into Maildir/cur/. UIDs are assigned once (by the nofts
instance, `doveadm force-resync`) and the uidlist is copied to the other instances,
so all three number the messages alike and their answers can be compared UID by UID.

Measured:
  1. `doveadm index -u USER INBOX`: wall time (for gleaner until its index answers
     with every message), CPU time of doveadm and of gleaner, peak RSS, messages/s;
  2. the size of each FTS index against the mail (apparent bytes and disk usage);
  3. `UID SEARCH BODY|TEXT|FROM ...` over one persistent IMAP connection per
     instance (LOGIN, SELECT INBOX): one warm-up and N timed runs per search,
     interleaved across the instances; p50/p95; the UID sets are compared.

Writes a JSON file with every raw number and a Markdown report. Python 3.9+ standard
library only; helpers come from bench/run.py.
"""

from __future__ import annotations

import argparse
import datetime as dt
import email
import email.policy
import imaplib
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import Corpus, disk_usage, dpkg_version, log, machine_info, pct, run  # noqa: E402

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
CONFIGS = ("nofts", "xapian", "gleaner")
LABELS = {"nofts": "Dovecot, no FTS", "xapian": "Dovecot + fts-xapian",
          "gleaner": "Dovecot + gleaner (fts_solr)"}
USER, PASS = "benchuser", "benchpass"
CORE = "dovecot"

DOVECOT_CONF = """\
# Throwaway Dovecot 2.3 for bench/imap.py ({name}); everything under {d}.
base_dir = {d}/run
state_dir = {d}/state
instance_name = gleaner-bench-{name}
log_path = {d}/log/dovecot.log
info_log_path = {d}/log/dovecot.log
log_timestamp = "%Y-%m-%d %H:%M:%S "
default_internal_user = {run_user}
default_internal_group = {run_group}
default_login_user = {run_user}
first_valid_uid = 1
first_valid_gid = 1
listen = 127.0.0.1
protocols = imap
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
login_trusted_networks = 127.0.0.0/8
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
service doveadm {{
  inet_listener {{
    port = 0
  }}
}}
# the same limits for every configuration (fts-xapian asks for >= 2G)
service imap {{
  vsz_limit = 2G
}}
service indexer-worker {{
  vsz_limit = 2G
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/passwd
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {d}/passwd
}}
mail_location = maildir:{d}/mail/%u/Maildir
namespace inbox {{
  inbox = yes
  separator = /
}}
{fts}"""

FTS_CONF = {
    "nofts": "",
    "xapian": """\
mail_plugins = $mail_plugins fts fts_xapian
plugin {{
  fts = xapian
  fts_xapian = partial=3 full=20 verbose=0
  fts_autoindex = no
}}
""",
    "gleaner": """\
mail_plugins = $mail_plugins fts fts_solr
plugin {{
  fts = solr
  fts_solr = url=http://127.0.0.1:{solr_port}/solr/{core}/
  fts_autoindex = no
}}
""",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, seconds: float) -> bool:
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            time.sleep(0.1)
    return False


def apparent_size(path: Path) -> int:
    """Sum of file sizes (hard links counted once)."""
    seen, total = set(), 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            st = os.lstat(os.path.join(root, name))
            if (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                total += st.st_size
    return total


def proc_cpu(pid: int) -> float:
    """User + system CPU seconds of a live process (and its reaped children)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return sum(int(x) for x in fields[11:15]) / ticks


def proc_hwm_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


# ---------------------------------------------------------------- one Dovecot instance


class Instance:
    """A throwaway Dovecot in WORK/NAME, run as one unprivileged account."""

    def __init__(self, name: str, work: Path, solr_port: int = 0):
        self.name = name
        self.dir = work / name
        self.port = free_port()
        self.solr_port = solr_port
        root = os.geteuid() == 0
        self.run_user = "nobody" if root else _id("-un")
        self.uid, self.gid = int(_id("-u", self.run_user)), int(_id("-g", self.run_user))
        self.run_group = _id("-gn", self.run_user)
        self.root = root
        self.maildir = self.dir / "mail" / USER / "Maildir"
        self.home = self.dir / "home" / USER
        self.conf = self.dir / "dovecot.conf"
        for sub in ("run", "state", "log"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        self.home.mkdir(parents=True, exist_ok=True)
        for sub in ("cur", "new", "tmp"):
            (self.maildir / sub).mkdir(parents=True, exist_ok=True)
        fts = FTS_CONF[name].format(solr_port=solr_port, core=CORE)
        self.conf.write_text(DOVECOT_CONF.format(
            name=name, d=self.dir, port=self.port, run_user=self.run_user,
            run_group=self.run_group, fts=fts))
        (self.dir / "passwd").write_text(
            f"{USER}:{{PLAIN}}{PASS}:{self.uid}:{self.gid}::{self.home}::\n")

    def give_away(self):
        """chown everything Dovecot writes, but never the (hard-linked) message files."""
        if not self.root:
            return
        for root, dirs, files in os.walk(self.dir):
            os.chown(root, self.uid, self.gid)
            if Path(root).name not in ("cur", "new"):
                for f in files:
                    os.lchown(os.path.join(root, f), self.uid, self.gid)

    def argv(self, *args) -> list:
        if self.root:
            return ["setpriv", f"--reuid={self.uid}", f"--regid={self.gid}", "--clear-groups",
                    "--", "env", f"HOME={self.dir}", *args]
        return list(args)

    def start(self):
        self.give_away()
        r = run(self.argv("/usr/sbin/dovecot", "-c", self.conf), None, 60)
        if r.rc != 0 or not wait_port(self.port, 15):
            raise SystemExit(f"dovecot {self.name} did not start: {r.err_line()}\n{self.log_tail()}")

    def doveadm(self, *args, timeout=7200, check=True):
        r = run(self.argv("doveadm", "-c", self.conf, *args), None, timeout)
        if check and r.rc != 0:
            raise SystemExit(f"doveadm {' '.join(args)} ({self.name}) failed: {r.err_line()}\n"
                             f"{self.log_tail()}")
        return r

    def status(self) -> dict:
        r = self.doveadm("mailbox", "status", "-u", USER, "messages uidnext uidvalidity guid",
                         "INBOX")
        # "INBOX messages=N uidnext=N ..."
        return dict(kv.split("=", 1) for kv in r.out.decode().split() if "=" in kv)

    def stop(self):
        pid_file = self.dir / "run" / "master.pid"
        try:
            pid = int(pid_file.read_text().strip())
        except (OSError, ValueError):
            return
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        for _ in range(100):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)
        os.kill(pid, signal.SIGKILL)

    def log_text(self) -> str:
        try:
            return (self.dir / "log" / "dovecot.log").read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, n=30) -> str:
        return "\n".join(self.log_text().splitlines()[-n:])

    def log_problems(self) -> dict:
        text = self.log_text()
        lines = [ln for ln in text.splitlines()
                 if re.search(r"Error|Panic|Fatal|Warning|Lookup failed", ln)]
        return {"count": len(lines), "sample": lines[:10]}


def _id(flag: str, user: str = "") -> str:
    argv = ["id", flag] + ([user] if user else [])
    return subprocess.run(argv, capture_output=True, text=True, check=True).stdout.strip()


# ---------------------------------------------------------------- gleaner serve


class Gleaner:
    """`gleaner serve` with a [solr] section, its data dir in WORK/gleaner-data."""

    def __init__(self, binary: Path, work: Path):
        self.binary = binary
        self.data = work / "gleaner-data"
        self.port = free_port()
        self.http_port = free_port()
        self.conf = work / "gleaner.toml"
        self.conf.write_text(
            f'data = "{self.data}"\n\n[http]\nlisten = "127.0.0.1:{self.http_port}"\nauth = false\n\n'
            f'[solr]\nlisten = "127.0.0.1:{self.port}"\ncore = "{CORE}"\nallow_no_auth = true\n')
        self.log_path = work / "gleaner.log"
        self.proc = None

    def start(self):
        self.logf = open(self.log_path, "ab")
        env = {k: v for k, v in os.environ.items() if k not in ("GLEANER_DATA", "GLEANER_CONFIG")}
        self.proc = subprocess.Popen([str(self.binary), "--config", str(self.conf), "serve"],
                                     stdin=subprocess.DEVNULL, stdout=self.logf, stderr=self.logf,
                                     env=env)
        if not wait_port(self.port, 30):
            self.stop()
            raise SystemExit(f"gleaner serve did not listen on {self.port}:\n"
                             + self.log_path.read_text(errors="replace")[-3000:])

    def indexed(self) -> int:
        """How many of the user's documents gleaner answers for (committed ones only)."""
        url = (f"http://127.0.0.1:{self.port}/solr/{CORE}/select?q=user:{USER}"
               f"&rows=0&fl=uid&wt=xml")
        with urllib.request.urlopen(url, timeout=30) as r:
            body = r.read().decode()
        m = re.search(r'numFound="(\d+)"', body)
        return int(m.group(1)) if m else -1

    def cpu(self) -> float:
        return proc_cpu(self.proc.pid)

    def hwm_kib(self) -> int:
        return proc_hwm_kib(self.proc.pid)

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def version(self) -> str:
        r = subprocess.run([str(self.binary), "--version"], capture_output=True, text=True)
        return r.stdout.strip().removeprefix("gleaner ")


# ---------------------------------------------------------------- the mailbox


def link_messages(files, cur: Path) -> int:
    """Hard-link (copy across file systems) every message into cur/; returns the count."""
    n = 0
    for fp in files:
        name = os.path.basename(fp)
        if ":2," not in name:  # from new/: give it the info suffix cur/ names carry
            name += ":2,"
        dest = cur / name
        if dest.exists():
            raise SystemExit(f"two messages are called {name}")
        try:
            os.link(fp, dest)
        except OSError:
            shutil.copy2(fp, dest)
        n += 1
    return n


def clone_mailbox(src: Path, dest: Path):
    """Hard-link the message files, copy Dovecot's own files (uidlist, indexes)."""
    for sub in ("cur", "new"):
        for name in os.listdir(src / sub):
            os.link(src / sub / name, dest / sub / name)
    for name in os.listdir(src):
        if (src / name).is_file():
            shutil.copy2(src / name, dest / name)


# ---------------------------------------------------------------- phases


def index_phase(inst: Instance, gleaner, messages: int, timeout: float) -> dict:
    cpu0 = gleaner.cpu() if gleaner else 0.0
    t0 = time.perf_counter()
    r = inst.doveadm("index", "-u", USER, "INBOX", timeout=timeout, check=False)
    doveadm_wall = time.perf_counter() - t0
    out = {"rc": r.rc, "doveadm_wall_s": doveadm_wall, "doveadm_cpu_s": r.cpu,
           "doveadm_maxrss_kib": r.maxrss_kb, "stderr": r.err.decode(errors="replace")[-2000:]}
    wall = doveadm_wall
    if gleaner:
        # Dovecot ends with a synchronous <commit/>; poll anyway until every message answers.
        deadline = time.perf_counter() + 120
        found = gleaner.indexed()
        while found < messages and time.perf_counter() < deadline:
            time.sleep(0.05)
            found = gleaner.indexed()
        wall = time.perf_counter() - t0
        out.update(searchable_docs=found, backend_cpu_s=gleaner.cpu() - cpu0,
                   backend_hwm_kib=gleaner.hwm_kib())
    out["wall_s"] = wall
    out["msgs_per_s"] = messages / wall if wall > 0 else None
    if r.rc != 0:
        log(f"  doveadm index failed: {r.err_line()}")
    return out


class ImapClient:
    def __init__(self, port: int, timeout: float):
        imaplib._MAXLINE = max(imaplib._MAXLINE, 64 << 20)  # a SEARCH answer is one line
        self.m = imaplib.IMAP4("127.0.0.1", port, timeout=timeout)
        self.m.login(USER, PASS)
        typ, data = self.m.select("INBOX", readonly=True)
        if typ != "OK":
            raise SystemExit(f"SELECT INBOX: {typ} {data}")
        self.exists = int(data[0])

    def search(self, criteria):
        t0 = time.perf_counter()
        typ, data = self.m.uid("SEARCH", *criteria)
        dt_s = time.perf_counter() - t0
        if typ != "OK":
            return dt_s, None, f"{typ} {data!r}"
        uids = [int(x) for x in b" ".join(d for d in data if d).split()]
        return dt_s, uids, None

    def close(self):
        try:
            self.m.logout()
        except (OSError, imaplib.IMAP4.error):
            pass


def search_phase(insts, searches, args) -> dict:
    clients = {name: ImapClient(inst.port, args.search_timeout) for name, inst in insts.items()}
    runs = {name: (args.nofts_runs if name == "nofts" else args.runs) for name in insts}
    res = {name: {s: {"warmup_s": [], "runs_s": [], "uids": None, "hits": None,
                      "varying": False, "errors": []} for s in searches}
           for name in insts}
    rounds = args.warmup + max(runs.values())
    for r in range(rounds):
        # Search by search, the instances in turn: a slow spell of the machine
        # hits each configuration's run of that search alike.
        for s in searches:
            for name, client in clients.items():
                if r >= args.warmup + runs[name]:
                    continue
                secs, uids, err = client.search(s.split())
                slot = res[name][s]
                (slot["warmup_s"] if r < args.warmup else slot["runs_s"]).append(secs)
                if err:
                    slot["errors"].append(err)
                    continue
                if slot["uids"] is None:
                    slot["uids"], slot["hits"] = uids, len(uids)
                elif uids != slot["uids"]:
                    slot["varying"] = True
                if r == args.warmup and name == "nofts" or r == 0:
                    log(f"  round {r}: {name:8} UID SEARCH {s}: {len(uids)} hits, "
                        f"{secs * 1000:.1f} ms")
        log(f"search round {r + 1}/{rounds} done")
    for name, client in clients.items():
        res[name]["_exists"] = client.exists
        client.close()
    for name in res:
        for s in searches:
            slot = res[name][s]
            xs = slot["runs_s"]
            slot["p50_s"] = pct(xs, 50) if xs else None
            slot["p95_s"] = pct(xs, 95) if xs else None
    return res


def compare(res, searches, reference="nofts") -> dict:
    out = {}
    names = [n for n in res if n != reference]
    for s in searches:
        ref = res.get(reference, {}).get(s, {}).get("uids")
        row = {}
        for n in names:
            got = res[n][s]["uids"]
            if ref is None or got is None:
                row[n] = None
                continue
            a, b = set(ref), set(got)
            row[n] = {"same": a == b, "only_reference": sorted(a - b),
                      "only_reference_count": len(a - b), "only_this": sorted(b - a),
                      "only_this_count": len(b - a)}
        out[s] = row
    return out


def word_kinds(text: str, word: str) -> tuple:
    """(occurs as a whole word, occurs only inside longer words), case-insensitive.

    A whole word is a match not touching another letter or digit on either side
    (gleaner's tokens are runs of letters and digits).
    """
    hay, needle = text.casefold(), word.casefold()
    whole = inside = False
    i = hay.find(needle)
    while i >= 0:
        j = i + len(needle)
        if (i == 0 or not hay[i - 1].isalnum()) and (j == len(hay) or not hay[j].isalnum()):
            whole = True
        else:
            inside = True
        i = hay.find(needle, i + 1)
    return whole, inside and not whole


def decoded_text(raw: bytes, part: str) -> str:
    """The decoded text Dovecot searches: `header`, `body` or both (`text`)."""
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    out = []
    if part in ("header", "text"):
        out += [f"{k}: {v}" for k, v in msg.items()]
    if part in ("body", "text"):
        for p in msg.walk():
            if p.get_content_maintype() == "text":
                try:
                    out.append(p.get_content())
                except (LookupError, ValueError):
                    out.append(p.get_payload(decode=True).decode("latin-1"))
    return "\n".join(out)


def explain_differences(inst: Instance, compared: dict, timeout: float, limit=2000) -> dict:
    """Reads messages that only some configurations found and says why they differ."""
    client = ImapClient(inst.port, timeout)
    out = {}
    try:
        for search, per in compared.items():
            kind, word = search.split(None, 1)
            part = {"BODY": "body", "TEXT": "text"}.get(kind, "header")
            for config, cmp_ in per.items():
                if not cmp_ or cmp_["same"]:
                    continue
                tally = {"whole_word": 0, "only_inside_longer_words": 0, "not_in_decoded_text": 0}
                examples = []
                for uid in (cmp_["only_reference"] + cmp_["only_this"])[:limit]:
                    typ, data = client.m.uid("FETCH", str(uid), "(BODY.PEEK[])")
                    raw = next((d[1] for d in data if isinstance(d, tuple)), b"")
                    text = decoded_text(raw, part)
                    if kind == "FROM":
                        text = " ".join(ln for ln in text.splitlines() if ln.startswith("From:"))
                    whole, inside = word_kinds(text, word)
                    key = ("whole_word" if whole else "only_inside_longer_words" if inside
                           else "not_in_decoded_text")
                    tally[key] += 1
                    if len(examples) < 5:
                        hay = text.casefold()
                        i = hay.find(word.casefold())
                        examples.append({"uid": uid, "kind": key,
                                         "context": text[max(0, i - 30):i + len(word) + 30]
                                         if i >= 0 else ""})
                out.setdefault(search, {})[config] = {"checked": sum(tally.values()),
                                                      **tally, "examples": examples}
    finally:
        client.close()
    return out


# ---------------------------------------------------------------- main


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", required=True, type=Path,
                    help="a maildir, or a directory of maildirs (<list>/{cur,new})")
    ap.add_argument("--gleaner", type=Path, default=REPO / "target/release/gleaner")
    ap.add_argument("--configs", default=",".join(CONFIGS),
                    help="which of nofts,xapian,gleaner to run (default: all)")
    ap.add_argument("--rare", default="mirror", help="the rare word (default: mirror)")
    ap.add_argument("--common", default="error", help="the common word (default: error)")
    ap.add_argument("--from", dest="from_", default="priya",
                    help="the From substring (default: priya)")
    ap.add_argument("--absent", default="xyzzyplugh",
                    help="a word in no message: BODY of it shows Dovecot's own cost per "
                         "SEARCH (default: xyzzyplugh; empty: leave out)")
    ap.add_argument("--runs", type=int, default=20, help="timed runs per search with FTS")
    ap.add_argument("--nofts-runs", type=int, default=3, help="timed runs per search without FTS")
    ap.add_argument("--warmup", type=int, default=1, help="untimed runs first (per search)")
    ap.add_argument("--index-timeout", type=float, default=4 * 3600)
    ap.add_argument("--search-timeout", type=float, default=1800)
    ap.add_argument("--report", type=Path, default=HERE / "out/imap.md")
    ap.add_argument("--json", type=Path, default=None, help="default: --report with .json")
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--keep", action="store_true", help="keep the work dir")
    ap.add_argument("--no-warm", action="store_true", help="don't pre-read the corpus")
    args = ap.parse_args(argv)
    configs = [c for c in args.configs.split(",") if c]
    for c in configs:
        if c not in CONFIGS:
            ap.error(f"unknown configuration {c}")
    if "nofts" not in configs:
        ap.error("nofts is needed: it assigns the UIDs and is the reference")
    json_path = args.json or args.report.with_suffix(".json")
    searches = [f"BODY {args.rare}", f"BODY {args.common}", f"TEXT {args.rare}",
                f"TEXT {args.common}", f"FROM {args.from_}"]
    if args.absent:
        searches.append(f"BODY {args.absent}")

    corpus = Corpus(args.corpus)
    log(f"corpus {corpus.path}: {corpus.messages} messages, {corpus.raw_bytes / 2**20:.1f} MiB")
    if "gleaner" in configs and not args.gleaner.is_file():
        raise SystemExit(f"no gleaner binary at {args.gleaner} (cargo build --release)")

    made = args.workdir is None
    work = Path(tempfile.mkdtemp(prefix="gleaner-imap-bench.")) if made else args.workdir.resolve()
    work.mkdir(parents=True, exist_ok=True)
    os.chmod(work, 0o755)  # the Dovecot account must reach its instance dirs
    insts, gleaner = {}, None
    data = {"started": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "command": " ".join(shlex.quote(a) for a in [sys.executable] + sys.argv),
            "machine": machine_info(), "configs": configs, "searches": searches,
            "user": USER, "workdir": str(work)}
    try:
        data["versions"] = {
            "dovecot": subprocess.run(["/usr/sbin/dovecot", "--version"], capture_output=True,
                                      text=True).stdout.strip(),
            "dovecot-core": dpkg_version("dovecot-core"),
            "dovecot-fts-xapian": dpkg_version("dovecot-fts-xapian"),
            "libxapian30": dpkg_version("libxapian30"),
            "dovecot-solr": dpkg_version("dovecot-solr"),
        }
        if "gleaner" in configs:
            gleaner = Gleaner(args.gleaner, work)
            data["versions"]["gleaner"] = gleaner.version()
            gleaner.start()
            log(f"gleaner serve: solr on 127.0.0.1:{gleaner.port}, pid {gleaner.proc.pid}")
        for c in configs:
            insts[c] = Instance(c, work, gleaner.port if c == "gleaner" else 0)

        # The mailbox: linked once into nofts, UIDs assigned there, cloned to the others.
        base = insts["nofts"]
        t0 = time.perf_counter()
        n = link_messages(corpus.files, base.maildir / "cur")
        mail_files = base.maildir / "cur"
        mail = {"messages": n, "apparent_bytes": apparent_size(mail_files),
                "disk_bytes": disk_usage(mail_files), "link_s": time.perf_counter() - t0}
        log(f"linked {n} messages into {base.maildir}")
        base.start()
        t0 = time.perf_counter()
        base.doveadm("force-resync", "-u", USER, "INBOX")
        mail["uid_assign_s"] = time.perf_counter() - t0
        mail["status"] = {"nofts": base.status()}
        log(f"UIDs assigned in {mail['uid_assign_s']:.1f} s: {mail['status']['nofts']}")
        for c in configs:
            if c == "nofts":
                continue
            clone_mailbox(base.maildir, insts[c].maildir)
            insts[c].start()
            insts[c].doveadm("force-resync", "-u", USER, "INBOX")
            mail["status"][c] = insts[c].status()
            if mail["status"][c]["messages"] != str(n):
                raise SystemExit(f"{c} sees {mail['status'][c]} instead of {n} messages")
        data["mail"] = mail

        if not args.no_warm:
            log(f"pre-reading the corpus: {corpus.warm():.1f} s")

        # Indexing, one configuration at a time.
        data["index"] = {}
        for c in configs:
            if c == "nofts":
                continue
            log(f"doveadm index ({c}) ...")
            data["index"][c] = index_phase(insts[c], gleaner if c == "gleaner" else None, n,
                                           args.index_timeout)
            log(f"  {c}: {data['index'][c]['wall_s']:.1f} s, "
                f"{data['index'][c]['msgs_per_s']:.0f} msgs/s")
            data["index"][c]["size_after_index"] = index_size(c, insts[c], gleaner)

        # Searches, once gleaner's index has stopped changing: segment merges
        # after a bulk load would otherwise run beside the first rounds.
        if gleaner:
            log(f"waiting for gleaner's index to settle: {settle(gleaner.data / 'imap'):.1f} s")
        data["search"] = search_phase(insts, searches, args)
        data["compare"] = compare(data["search"], searches)
        data["differences"] = explain_differences(insts["nofts"], data["compare"],
                                                  args.search_timeout)

        # Sizes again at the end (tantivy may have merged segments meanwhile).
        for c in data["index"]:
            data["index"][c]["size_end"] = index_size(c, insts[c], gleaner)
        data["dovecot_log"] = {c: insts[c].log_problems() for c in insts}
        if gleaner:
            data["gleaner_log_tail"] = gleaner.log_path.read_text(errors="replace")[-3000:]
    finally:
        for inst in insts.values():
            inst.stop()
        if gleaner:
            gleaner.stop()
        if made and not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            log(f"work dir kept: {work}")
    data["finished"] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    json_path.parent.mkdir(parents=True, exist_ok=True)
    slim = json.loads(json.dumps(data))
    for c, per in slim["search"].items():
        for s, slot in per.items():
            if isinstance(slot, dict) and slot.get("uids") is not None:
                slot["uids"] = compress_uids(slot["uids"])
    for per in slim["compare"].values():
        for cmp_ in per.values():
            if cmp_:
                cmp_["only_reference"] = compress_uids(cmp_["only_reference"])
                cmp_["only_this"] = compress_uids(cmp_["only_this"])
    json_path.write_text(json.dumps(slim, indent=1) + "\n")
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(render(data))
    log(f"wrote {args.report} and {json_path}")
    return 0


def settle(path: Path, quiet_s: float = 5.0, timeout_s: float = 300.0) -> float:
    """Waits until the files under `path` (names and sizes) stay the same for
    `quiet_s` seconds, or `timeout_s` passes; returns the seconds waited."""
    def listing():
        return sorted((str(f), f.stat().st_size) for f in path.rglob("*") if f.is_file())
    started = time.monotonic()
    last, since = None, started
    while time.monotonic() - started < timeout_s:
        try:
            now = listing()
        except OSError:  # a file vanished while listed: still changing
            now = None
        if now is None or now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            break
        time.sleep(0.5)
    return time.monotonic() - started


def index_size(config: str, inst: Instance, gleaner) -> dict:
    if config == "gleaner":
        path = gleaner.data / "imap"
    else:
        found = [Path(r) for r, dirs, _ in os.walk(inst.dir) if Path(r).name == "xapian-indexes"]
        if not found:
            return {"path": None, "apparent_bytes": 0, "disk_bytes": 0}
        path = found[0]
    return {"path": str(path), "apparent_bytes": apparent_size(path),
            "disk_bytes": disk_usage(path)}


def compress_uids(uids):
    """UID list as ranges [[first, last], ...] to keep the JSON small."""
    out = []
    for u in uids:
        if out and out[-1][1] == u - 1:
            out[-1][1] = u
        else:
            out.append([u, u])
    return out


# ---------------------------------------------------------------- report


def fmt_ms(s):
    if s is None:
        return "—"
    ms = s * 1000
    return f"{ms:,.0f} ms" if ms >= 100 else f"{ms:.2f} ms" if ms < 10 else f"{ms:.1f} ms"


def mib(b):
    return f"{b / 2**20:,.1f} MiB"


def table(header, rows):
    L = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    L += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return L


def render(d) -> str:
    m, mail = d["machine"], d["mail"]
    L = ["# IMAP SEARCH backend: Dovecot + gleaner vs fts-xapian vs no FTS", ""]
    L.append(f"Run {d['started']} – {d['finished']} on {m.get('cpu', '?')} "
             f"({m.get('nproc')} cores), {m.get('mem_gib')} GiB, {m.get('os', '')}, "
             f"kernel {m.get('kernel')}.")
    L.append("")
    L.append("```sh\n" + d["command"] + "\n```")
    L.append("")
    v = d["versions"]
    L.append("Versions: " + ", ".join(f"{k} {val}" for k, val in v.items()) + ".")
    L.append("")
    L.append(f"Mailbox: one INBOX of **{mail['messages']:,} messages**, "
             f"{mib(mail['apparent_bytes'])} of mail ({mib(mail['disk_bytes'])} on disk, "
             f"one file per message); UIDs assigned by `doveadm force-resync` in "
             f"{mail['uid_assign_s']:.1f} s.")
    L.append("")
    L.append("## Indexing (`doveadm index -u USER INBOX`)")
    L.append("")
    rows = []
    for c, r in d["index"].items():
        size = r["size_end"]
        rows.append([
            LABELS[c], f"{r['wall_s']:.1f}", f"{r['msgs_per_s']:,.0f}",
            f"{r['doveadm_cpu_s']:.1f}",
            f"{r['backend_cpu_s']:.1f}" if "backend_cpu_s" in r else "—",
            f"{r['doveadm_maxrss_kib'] / 1024:.0f} MiB"
            + (f" / {r['backend_hwm_kib'] / 1024:.0f} MiB" if "backend_hwm_kib" in r else ""),
            mib(size["apparent_bytes"]),
            f"{size['apparent_bytes'] / mail['apparent_bytes']:.2f}",
            f"{size['disk_bytes'] / mail['disk_bytes']:.2f}",
            "ok" if r["rc"] == 0 else f"**exit {r['rc']}**"])
    L += table(["configuration", "wall s", "msgs/s", "doveadm CPU s", "gleaner CPU s",
                "peak RSS doveadm / gleaner", "FTS index", "index ÷ mail bytes",
                "index ÷ mail on disk", "status"], rows)
    L.append("")
    if "gleaner" in d["index"]:
        g = d["index"]["gleaner"]
        L.append(f"gleaner: `doveadm index` returned after {g['doveadm_wall_s']:.1f} s; "
                 f"all {g.get('searchable_docs')} documents answered by gleaner after "
                 f"{g['wall_s']:.1f} s. Index right after indexing "
                 f"{mib(g['size_after_index']['apparent_bytes'])}, at the end of the run "
                 f"{mib(g['size_end']['apparent_bytes'])}.")
        L.append("")
    L.append("## SEARCH latency (one IMAP connection per instance, `UID SEARCH`)")
    L.append("")
    runs = {c: len(next(iter(d['search'][c].values()))["runs_s"]) for c in d["search"]}
    L.append("Runs per search after "
             + f"{len(next(iter(d['search']['nofts'].values()))['warmup_s'])} warm-up: "
             + ", ".join(f"{c} {n}" for c, n in runs.items())
             + " (no FTS reads every message for each search, hence fewer runs).")
    L.append("")
    names = list(d["search"])
    header = ["search"] + [f"{c} hits" for c in names] + [f"{c} p50 / p95" for c in names]
    header += ["no FTS ÷ gleaner", "gleaner ÷ xapian"]
    rows = []
    for s in d["searches"]:
        row = [f"`{s}`"]
        row += [str(d["search"][c][s]["hits"]) for c in names]
        row += [f"{fmt_ms(d['search'][c][s]['p50_s'])} / {fmt_ms(d['search'][c][s]['p95_s'])}"
                for c in names]
        g = d["search"].get("gleaner", {}).get(s, {}).get("p50_s")
        x = d["search"].get("xapian", {}).get(s, {}).get("p50_s")
        nf = d["search"]["nofts"][s]["p50_s"]
        row.append(f"{nf / g:,.0f}×" if g and nf else "—")
        row.append(f"{g / x:.2f}" if g and x else "—")
        rows.append(row)
    L += table(header, rows)
    L.append("")
    L.append("First (warm-up) run of each search: " + "; ".join(
        f"{c}: " + ", ".join(f"{s.split()[0]} {s.split()[1]} {fmt_ms(d['search'][c][s]['warmup_s'][0])}"
                             for s in d["searches"] if d["search"][c][s]["warmup_s"])
        for c in names) + ".")
    L.append("")
    L.append("## Do the answers agree? (UID sets against no FTS)")
    L.append("")
    rows = []
    for s, per in d["compare"].items():
        for c, cmp_ in per.items():
            if cmp_ is None:
                rows.append([f"`{s}`", c, "no answer", "", ""])
                continue
            rows.append([f"`{s}`", c, "same" if cmp_["same"] else "**differs**",
                         f"{cmp_['only_reference_count']} "
                         + (str(cmp_["only_reference"][:8]) if cmp_["only_reference"] else ""),
                         f"{cmp_['only_this_count']} "
                         + (str(cmp_["only_this"][:8]) if cmp_["only_this"] else "")])
    L += table(["search", "configuration", "UID set", "only no FTS has (first UIDs)",
                "only this one has (first UIDs)"], rows)
    L.append("")
    if d.get("differences"):
        L.append("Messages in only one of the two answers (up to 2,000 per row), read back from "
                 "the nofts instance and decoded: does the search string occur there as a whole "
                 "word, only inside longer words, or not at all in the decoded text?")
        L.append("")
        rows = []
        for s, per in d["differences"].items():
            for c, t in per.items():
                ex = t["examples"][0]["context"].replace("|", "/").replace("\n", " ") \
                    if t["examples"] else ""
                rows.append([f"`{s}`", c, t["checked"], t["whole_word"],
                             t["only_inside_longer_words"], t["not_in_decoded_text"],
                             f"`{ex}`" if ex else ""])
        L += table(["search", "configuration", "checked", "whole word", "only inside longer words",
                    "not in decoded text", "example"], rows)
        L.append("")
    varying = [f"{c} `{s}`" for c in d["search"] for s in d["searches"]
               if d["search"][c][s]["varying"] or d["search"][c][s]["errors"]]
    if varying:
        L.append("**Answers that changed between runs or failed:** " + ", ".join(varying))
        L.append("")
    L.append("## Dovecot log problems (lines with Error/Warning/Panic/Lookup failed)")
    L.append("")
    for c, p in d["dovecot_log"].items():
        L.append(f"- {c}: {p['count']}" + (": `" + p["sample"][0][:200] + "`" if p["sample"] else ""))
    L.append("")
    L += goals(d)
    return "\n".join(L) + "\n"


def goals(d) -> list:
    L = ["## Goals", ""]
    rows = []
    s, idx, mail = d["search"], d["index"], d["mail"]
    if "gleaner" in s:
        for q in d["searches"]:
            g, nf = s["gleaner"][q]["p50_s"], s["nofts"][q]["p50_s"]
            if g and nf:
                ok = nf / g >= 100
                rows.append([f"`{q}` vs no FTS", f"{nf / g:,.0f}× faster (p50)", "≥ 100×",
                             "met" if ok else "**not met**"])
            x = s.get("xapian", {}).get(q, {}).get("p50_s")
            if g and x:
                rows.append([f"`{q}` vs fts-xapian", f"{fmt_ms(g)} vs {fmt_ms(x)} (p50)",
                             "no slower", "met" if g <= x else "**not met**"])
    if "gleaner" in idx and "xapian" in idx:
        g, x = idx["gleaner"]["wall_s"], idx["xapian"]["wall_s"]
        rows.append(["`doveadm index` vs fts-xapian", f"{g:.1f} s vs {x:.1f} s ({x / g:.2f}×)",
                     "faster", "met" if g < x else "**not met**"])
    if "gleaner" in idx:
        size = idx["gleaner"]["size_end"]
        r1 = size["apparent_bytes"] / mail["apparent_bytes"]
        r2 = size["disk_bytes"] / mail["disk_bytes"]
        rows.append(["gleaner index ÷ mail", f"{r1:.2f} of the mail's bytes ({r2:.2f} of its du)",
                     "≤ 0.30", "met" if r1 <= 0.30 else "**not met**"])
    return L + table(["measure", "result", "target", ""], rows) + [""]


if __name__ == "__main__":
    sys.exit(main())
