#!/usr/bin/env python3
"""Benchmark gleaner against notmuch, mu (maildir-utils) and mairix.

One run does, on one Maildir corpus (a single maildir, or a directory holding one
maildir per list: CORPUS/<list>/{cur,new}):

  1. bulk indexing by each tool into a fresh temporary directory: wall time,
     messages/s, peak RSS, index size on disk and its ratio to the raw corpus;
  2. a fixed query set (bench/queries.tsv) through each tool's CLI, N timed runs
     per query and tool (interleaved), p50/p95 wall time; plus one counting run
     per query and tool so that the match counts can be compared;
  3. a Markdown report (--report) and a JSON file with every raw number.

Standard library only (Python >= 3.9). Nothing is interactive; a tool that is not
installed, or fails, is reported and the run goes on without it.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import math
import os
import platform
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
TOOLS = ("gleaner", "notmuch", "mu", "mairix")
DEBIAN_PACKAGES = {"notmuch": "notmuch", "mu": "maildir-utils", "mairix": "mairix"}


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- running commands


class Result:
    """Outcome of one child process."""

    def __init__(self, argv, rc, wall, maxrss_kb, out, err, timed_out=False, cpu=0.0):
        self.argv = argv
        self.cpu = cpu
        self.rc = rc
        self.wall = wall
        self.maxrss_kb = maxrss_kb
        self.out = out
        self.err = err
        self.timed_out = timed_out

    def err_line(self) -> str:
        if self.timed_out:
            return "timed out"
        text = (self.err or b"").decode("utf-8", "replace").strip()
        if not text:
            text = (self.out or b"").decode("utf-8", "replace").strip()
        first = text.splitlines()[-1] if text else ""
        return f"exit {self.rc}: {first[:200]}"


def run(argv, env, timeout, cwd=None) -> Result:
    """Run argv; wall time from spawn to exit, peak RSS from wait4's rusage.

    Output goes to temp files (not pipes) so that blocking in wait4 cannot deadlock.
    """
    argv = [str(a) for a in argv]
    with tempfile.TemporaryFile() as fout, tempfile.TemporaryFile() as ferr:
        t0 = time.perf_counter()
        try:
            p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=fout, stderr=ferr,
                                 env=env, cwd=cwd, start_new_session=True)
        except OSError as e:
            return Result(argv, 127, 0.0, 0, b"", str(e).encode())
        timed_out = threading.Event()

        def kill():
            timed_out.set()
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

        timer = threading.Timer(timeout, kill)
        timer.daemon = True
        timer.start()
        try:
            while True:
                try:
                    _, status, ru = os.wait4(p.pid, 0)
                    break
                except InterruptedError:
                    continue
        finally:
            timer.cancel()
        wall = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        fout.seek(0)
        ferr.seek(0)
        return Result(argv, p.returncode, wall, ru.ru_maxrss, fout.read(), ferr.read(),
                      timed_out.is_set(), ru.ru_utime + ru.ru_stime)


def tool_env(work: Path, extra=None) -> dict:
    """A clean environment: private HOME/XDG dirs, C.UTF-8, UTC (for date ranges)."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("MAILDIR", "NOTMUCH_CONFIG", "NOTMUCH_PROFILE", "MU_HOME",
                        "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME")}
    home = work / "home"
    home.mkdir(parents=True, exist_ok=True)
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"),
               XDG_DATA_HOME=str(home / ".local/share"), XDG_CACHE_HOME=str(home / ".cache"),
               LC_ALL="C.UTF-8", LANG="C.UTF-8", TZ="UTC")
    env.update(extra or {})
    return env


def first_line(argv, env) -> str:
    r = run(argv, env, 30)
    text = (r.out + r.err).decode("utf-8", "replace").strip()
    return text.splitlines()[0].strip() if text else ""


def dpkg_version(pkg: str) -> str:
    try:
        return subprocess.run(["dpkg-query", "-W", "-f", "${Version}", pkg], capture_output=True,
                              text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


# ---------------------------------------------------------------- corpus


class Corpus:
    def __init__(self, path: Path):
        self.path = path.resolve()
        if not self.path.is_dir():
            raise SystemExit(f"corpus {path} is not a directory")
        if is_maildir(self.path):
            self.single = True
            self.lists = [self.path.name]
        else:
            self.single = False
            self.lists = sorted(d.name for d in self.path.iterdir()
                                if d.is_dir() and not d.name.startswith(".") and is_maildir(d))
            if not self.lists:
                raise SystemExit(f"corpus {path}: neither a maildir (cur/, new/) nor a directory "
                                 "of maildirs (<list>/cur, <list>/new)")
        self.messages = 0
        self.raw_bytes = 0
        self.files = []
        for root, dirs, files in os.walk(self.path):
            dirs.sort()
            if os.path.basename(root) in ("cur", "new"):
                for f in files:
                    if f.startswith("."):
                        continue
                    fp = os.path.join(root, f)
                    self.files.append(fp)
                    self.messages += 1
                    self.raw_bytes += os.path.getsize(fp)
        self.disk_bytes = disk_usage(self.path)

    def warm(self) -> float:
        """Read every message once so that every tool starts with the same warm page cache."""
        t0 = time.perf_counter()
        for fp in self.files:
            with open(fp, "rb") as f:
                while f.read(1 << 20):
                    pass
        return time.perf_counter() - t0


def make_sample(src: Path, n: int, dest: Path) -> Path:
    """Copy (hard-link where possible) n messages spread evenly over src into dest.

    Files are taken in path order (list, cur/new, name: the generator's names start with
    the date), every k-th one, so every list and every period keeps its share.
    """
    src = src.resolve()
    files = []
    for root, dirs, names in os.walk(src):
        dirs.sort()
        if os.path.basename(root) in ("cur", "new"):
            files += [os.path.join(root, f) for f in sorted(names) if not f.startswith(".")]
    if n >= len(files):
        return src
    picked = [files[i * len(files) // n] for i in range(n)]
    base = src.parent if is_maildir(src) else src
    for fp in picked:
        rel = os.path.relpath(fp, base)
        out = dest / rel
        if not out.parent.is_dir():
            out.parent.mkdir(parents=True)
            for sub in ("cur", "new", "tmp"):
                (out.parent.parent / sub).mkdir(exist_ok=True)
        try:
            os.link(fp, out)
        except OSError:
            shutil.copy2(fp, out)
    return dest / os.path.relpath(src, base) if is_maildir(src) else dest


def split_mbox(data: bytes):
    """Messages of an mboxrd/pipermail text archive: split at `From ` lines that
    follow a blank line (or start the file), with one `>` taken off `>From ` lines."""
    import re
    envelope = re.compile(rb"^From \S.* \d{4}\r?$")
    out, cur, blank = [], [], True
    for line in data.split(b"\n"):
        if line.startswith(b"From ") and blank and envelope.match(line):
            if cur:
                out.append(b"\n".join(cur).rstrip(b"\n") + b"\n")
            cur = []
        else:
            if line.startswith(b">") and line.lstrip(b">").startswith(b"From "):
                line = line[1:]
            cur.append(line)
        blank = line.strip() == b""
    if cur and any(c.strip() for c in cur):
        out.append(b"\n".join(cur).rstrip(b"\n") + b"\n")
    return out


def make_real_lists(shared: Path, n: int, dest: Path) -> Path:
    """A Maildir per list from the shared real archives (lists/*.mbox.zst, then
    pipermail/<list>/*.txt.gz in month order), n messages in all, in archive order."""
    import gzip
    month = {m: i for i, m in enumerate(["January", "February", "March", "April", "May", "June", "July",
                                         "August", "September", "October", "November", "December"])}
    sources = []
    for f in sorted((shared / "lists").glob("*.mbox.zst")):
        sources.append((f.name.split(".mbox")[0], [f]))
    for d in sorted((shared / "pipermail").iterdir()) if (shared / "pipermail").is_dir() else []:
        def key(p):
            y, _, m = p.name.split(".")[0].partition("-")
            return (y, month.get(m, 99))
        sources.append((d.name, sorted(d.glob("*.txt.gz"), key=key)))
    left = n
    for name, files in sources:
        if left <= 0:
            break
        box = dest / name
        for sub in ("cur", "new", "tmp"):
            (box / sub).mkdir(parents=True, exist_ok=True)
        i = 0
        for f in files:
            if left <= 0:
                break
            if f.suffix == ".zst":
                data = subprocess.run(["zstd", "-dc", str(f)], capture_output=True, check=True).stdout
            else:
                data = gzip.decompress(f.read_bytes())
            for m in split_mbox(data)[:left]:
                (box / "cur" / f"{i:06d}.real:2,S").write_bytes(m)
                i += 1
                left -= 1
    return dest


def is_maildir(d: Path) -> bool:
    return (d / "cur").is_dir() or (d / "new").is_dir()


def disk_usage(path: Path) -> int:
    """Like `du -s --block-size=1`: allocated bytes, hard links counted once."""
    if not path.exists():
        return 0
    if path.is_file():
        return path.stat().st_blocks * 512
    seen = set()
    total = 0
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            try:
                st = os.lstat(os.path.join(root, name))
            except OSError:
                continue
            if (st.st_dev, st.st_ino) in seen:
                continue
            seen.add((st.st_dev, st.st_ino))
            total += st.st_blocks * 512
    return total


# ---------------------------------------------------------------- tools


class Tool:
    """One search tool: how to find it, index a corpus, search and count."""

    name = ""
    binary = ""
    all_query = None  # a query that matches every indexed message, if the tool has one

    def __init__(self, args, corpus: Corpus, work: Path):
        self.args = args
        self.corpus = corpus
        self.work = work / self.name
        self.path = shutil.which(self.binary)
        self.env = None
        self.notes = []

    def available(self):
        return self.path is not None

    def version(self) -> str:
        return first_line([self.path, "--version"], self.env or tool_env(self.work))

    def prepare(self):
        """Create config files; return the list of indexing commands."""
        raise NotImplementedError

    def db_dir(self) -> Path:
        raise NotImplementedError

    def search_argv(self, q: str) -> list:
        raise NotImplementedError

    def count_argv(self, q: str) -> list:
        raise NotImplementedError

    def ok(self, r: Result) -> bool:
        return r.rc == 0 and not r.timed_out

    def parse_count(self, r: Result):
        return len([ln for ln in r.out.splitlines() if ln.strip()])

    def indexed_count(self, timeout):
        """How many messages the index holds, by a match-everything query."""
        if self.all_query is None:
            return None
        r = run(self.count_argv(self.all_query), self.env, timeout)
        try:
            return self.parse_count(r) if self.ok(r) else None
        except ValueError:
            return None


class Gleaner(Tool):
    name = "gleaner"
    binary = "gleaner"

    def __init__(self, args, corpus, work):
        super().__init__(args, corpus, work)
        p = Path(args.gleaner)
        self.path = str(p.resolve()) if p.is_file() and os.access(p, os.X_OK) else None

    def prepare(self):
        self.data = self.work / "data"
        self.work.mkdir(parents=True, exist_ok=True)
        self.env = tool_env(self.work)
        return [[self.path, "index", "--data", self.data, self.corpus.path]]

    def db_dir(self):
        return self.data

    def search_argv(self, q):
        if self.args.paths:
            return [self.path, "search", "--data", self.data, "--output", "files", q]
        return [self.path, "search", "--data", self.data, "--limit", str(self.args.limit), q]

    def count_argv(self, q):
        # Every hit, one line each, no snippets (a top-k --json listing is capped
        # by the server's max_hits, 10,000 by default, and refused above it).
        return [self.path, "search", "--data", self.data, "--output", "ids", q]

    def indexed_count(self, timeout):
        r = run([self.path, "stats", "--data", self.data, "--json"], self.env, timeout)
        try:
            n = json.loads(r.out).get("messages") if r.rc == 0 else None
        except (ValueError, AttributeError):
            return None
        return n if isinstance(n, int) else None

    def parse_count(self, r):
        text = r.out.decode("utf-8", "replace").strip()
        if not text:
            return 0
        keys = ("total", "total_hits", "count", "hits_total", "num_hits")
        try:
            doc = json.loads(text)
        except ValueError:
            doc = None
        if isinstance(doc, list):
            return len(doc)
        if isinstance(doc, dict):
            for k in keys:
                if isinstance(doc.get(k), int):
                    return doc[k]
            for k in ("hits", "results", "messages"):
                if isinstance(doc.get(k), list):
                    return len(doc[k])
        lines = [ln for ln in text.splitlines() if ln.strip()]
        try:  # JSON lines, one hit per line; each hit (or a header/footer line) may carry the total
            for ln in (lines[0], lines[-1]):
                obj = json.loads(ln)
                if isinstance(obj, dict):
                    for k in keys:
                        if isinstance(obj.get(k), int):
                            return obj[k]
        except ValueError:
            pass
        return len(lines)


class Notmuch(Tool):
    name = "notmuch"
    binary = "notmuch"
    all_query = "*"

    def prepare(self):
        self.db = self.work / "db"
        self.db.mkdir(parents=True, exist_ok=True)
        cfg = self.work / "notmuch-config"
        cfg.write_text(
            "# generated by bench/run.py\n"
            "[database]\n"
            f"path={self.db}\n"
            f"mail_root={self.corpus.path}\n"
            "[user]\nname=Bench\nprimary_email=bench@example.invalid\n"
            "[new]\ntags=\nignore=\n"
            "[search]\nexclude_tags=\n"
            "[maildir]\nsynchronize_flags=false\n"
            "[index]\nheader.List=List-Id\n")
        self.env = tool_env(self.work, {"NOTMUCH_CONFIG": str(cfg)})
        return [[self.path, "new", "--quiet"]]

    def db_dir(self):
        return self.db

    def search_argv(self, q):
        if self.args.paths:
            return [self.path, "search", "--output=files", q]
        return [self.path, "search", f"--limit={self.args.limit}", "--output=summary", q]

    def count_argv(self, q):
        return [self.path, "count", q]

    def parse_count(self, r):
        return int(r.out.strip() or 0)


class Mu(Tool):
    name = "mu"
    binary = "mu"
    all_query = ""

    def prepare(self):
        self.home = self.work / "muhome"
        self.work.mkdir(parents=True, exist_ok=True)
        self.env = tool_env(self.work)
        return [[self.path, "init", f"--maildir={self.corpus.path}", f"--muhome={self.home}", "--quiet"],
                [self.path, "index", f"--muhome={self.home}", "--quiet"]]

    def db_dir(self):
        return self.home

    def search_argv(self, q):
        if self.args.paths:
            return [self.path, "find", f"--muhome={self.home}", "--fields=l", q]
        return [self.path, "find", f"--muhome={self.home}", f"--maxnum={self.args.limit}", q]

    def count_argv(self, q):
        return [self.path, "find", f"--muhome={self.home}", "--fields=l", q]

    def ok(self, r):  # mu exits 4 when nothing matches
        return r.rc in (0, 4) and not r.timed_out

    def parse_count(self, r):
        return 0 if r.rc == 4 else super().parse_count(r)


class Mairix(Tool):
    name = "mairix"
    binary = "mairix"
    all_query = "~xyzzyplugh"  # "does not contain a word that does not occur"

    def version(self):
        v = first_line([self.path, "-V"], tool_env(self.work))
        return v

    def prepare(self):
        self.db = self.work / "db"
        self.db.mkdir(parents=True, exist_ok=True)
        self.rc = self.work / "mairixrc"
        c = self.corpus
        if c.single:
            base, folders = c.path.parent, [c.path.name]
        else:
            base, folders = c.path, c.lists
        leaves = [Path(root) for root, dirs, _ in os.walk(c.path)
                  if "cur" in dirs or "new" in dirs]
        if any(not all((d / s).is_dir() for s in ("cur", "new", "tmp")) for d in leaves):
            # mairix skips a maildir that lacks any of cur/, new/, tmp/ (and the corpus may be
            # read-only): index a shadow tree whose cur/ and new/ are symlinks to the real ones.
            shadow = self.work / "shadow"
            for d in leaves:
                rel = d.relative_to(c.path.parent if c.single else c.path)
                sd = shadow / rel
                sd.mkdir(parents=True, exist_ok=True)
                for s in ("cur", "new", "tmp"):
                    if (d / s).is_dir():
                        (sd / s).symlink_to(d / s)
                    else:
                        (sd / s).mkdir()
            base = shadow
            note = ("some maildirs lack cur/, new/ or tmp/, which mairix needs: it indexed "
                    "a shadow tree of symlinks to them")
            if note not in self.notes:
                self.notes.append(note)
        lines = ["# generated by bench/run.py", f"base={base}"]
        lines += [f"maildir={f}..." for f in folders]
        lines += [f"mfolder={self.work / 'mfolder'}", "mformat=maildir",
                  f"database={self.db / 'mairix.db'}"]
        self.rc.write_text("\n".join(lines) + "\n")
        self.env = tool_env(self.work)
        return [[self.path, "-f", self.rc]]

    def db_dir(self):
        return self.db

    def search_argv(self, q):
        return [self.path, "-f", self.rc, "-r", *shlex.split(q)]

    count_argv = search_argv

    def ok(self, r):  # mairix exits 1 when nothing matches
        return not r.timed_out and (r.rc == 0 or (r.rc == 1 and not r.err.strip()))


TOOL_CLASSES = {"gleaner": Gleaner, "notmuch": Notmuch, "mu": Mu, "mairix": Mairix}


# ---------------------------------------------------------------- queries


def load_queries(path: Path) -> list:
    """TSV: name, gleaner, notmuch, mu, mairix (may be empty). '#' lines are comments."""
    out = []
    with open(path, newline="", encoding="utf-8") as f:
        for lineno, row in enumerate(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE), 1):
            if not row or row[0].startswith("#") or not "".join(row).strip():
                continue
            if row[0] == "name":
                continue  # header
            row = (row + [""] * 5)[:5]
            name, *syn = (c.strip() for c in row)
            if not all(syn[:3]):
                raise SystemExit(f"{path}:{lineno}: gleaner, notmuch and mu syntax are required")
            out.append({"name": name, **dict(zip(TOOLS, syn))})
    return out


def pct(values, p):
    """Nearest-rank percentile."""
    s = sorted(values)
    return s[max(0, math.ceil(p / 100 * len(s)) - 1)]


def geomean(xs):
    xs = [x for x in xs if x and x > 0]
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else None


# ---------------------------------------------------------------- machine


def machine_info() -> dict:
    info = {"nproc": os.cpu_count(), "affinity": len(os.sched_getaffinity(0)),
            "kernel": platform.release(), "python": platform.python_version()}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                info["mem_gib"] = round(int(line.split()[1]) / 1024 / 1024, 1)
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                info["os"] = line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    return info


# ---------------------------------------------------------------- main phases


def index_once(t, args, corpus) -> dict:
    """One indexing run of tool t into an empty database directory."""
    # Every run starts from an empty tool directory, the first one included: a
    # kept --workdir of an earlier run must not be taken for a fast index.
    shutil.rmtree(t.work, ignore_errors=True)
    steps = t.prepare()
    res = {"commands": [shlex.join(str(a) for a in s) for s in steps], "steps": []}
    wall, cpu, rss, ok = 0.0, 0.0, 0, True
    for argv in steps:
        r = run(argv, t.env, args.timeout)
        res["steps"].append({"argv": r.argv, "rc": r.rc, "wall_s": r.wall, "cpu_s": r.cpu,
                             "maxrss_kb": r.maxrss_kb, "timed_out": r.timed_out})
        wall += r.wall
        cpu += r.cpu
        rss = max(rss, r.maxrss_kb)
        if r.rc != 0 or r.timed_out:
            ok = False
            res["error"] = r.err_line()
            log(f"  {t.name} FAILED: {res['error']}")
            break
    size = disk_usage(t.db_dir())
    if ok and size == 0:
        ok = False
        res["error"] = f"exited 0 but left no index in {t.db_dir()}"
        log(f"  {t.name} FAILED: {res['error']}")
    res.update(ok=ok, wall_s=wall, cpu_s=cpu, maxrss_kb=rss, index_bytes=size,
               msgs_per_s=corpus.messages / wall if ok and wall else None,
               index_ratio=size / corpus.raw_bytes if corpus.raw_bytes else None)
    return res


def do_index(tools, args, corpus):
    """Indexes with every tool; then, for --index-runs N, N-1 more rounds of the tools
    whose first run took under --repeat-under seconds (interleaved), keeping the median
    run by wall time: one run of a few seconds is at the mercy of the machine's moods."""
    results = {}
    for t in tools:
        log(f"indexing with {t.name} ...")
        results[t.name] = index_once(t, args, corpus)
    fast = [t for t in tools if results[t.name]["ok"]
            and results[t.name]["wall_s"] < args.repeat_under]
    runs = {t.name: [results[t.name]] for t in fast}
    for rnd in range(1, args.index_runs):
        for t in fast:
            log(f"indexing with {t.name} again (run {rnd + 1} of {args.index_runs}) ...")
            runs[t.name].append(index_once(t, args, corpus))
    for t in fast:
        done = [r for r in runs[t.name] if r["ok"]]
        if len(runs[t.name]) > 1 and len(done) == len(runs[t.name]):
            by_wall = sorted(done, key=lambda r: r["wall_s"])
            median = by_wall[(len(done) - 1) // 2]
            median["runs_wall_s"] = [r["wall_s"] for r in done]
            median["runs_cpu_s"] = [r["cpu_s"] for r in done]
            t.notes.append(f"median of {len(done)} indexing runs by wall time; walls "
                           + ", ".join(f"{r['wall_s']:.2f}" for r in by_wall) + " s")
            results[t.name] = median
        elif len(done) != len(runs[t.name]):
            results[t.name] = next(r for r in runs[t.name] if not r["ok"])
    for t in tools:
        res = results[t.name]
        res["indexed"] = t.indexed_count(args.timeout) if res["ok"] else None
        if res["ok"]:
            log(f"  {t.name}: {res['wall_s']:.2f}s (cpu {res['cpu_s']:.2f}s), "
                f"{res['msgs_per_s']:.0f} msg/s, RSS {res['maxrss_kb'] / 1024:.0f} MiB, "
                f"index {res['index_bytes'] / 2**20:.1f} MiB, "
                f"{'?' if res['indexed'] is None else res['indexed']} messages searchable")
        res["notes"] = list(dict.fromkeys(t.notes))
    return results


def do_queries(tools, queries, args):
    timings = {q["name"]: {} for q in queries}
    counts = {q["name"]: {} for q in queries}
    errors = []
    total = len(queries)
    for i, q in enumerate(queries, 1):
        log(f"query {i}/{total} {q['name']}")
        active = [t for t in tools if q.get(t.name)]
        for t in active:
            timings[q["name"]][t.name] = []
        for rep in range(args.warmup + args.runs):
            for t in active:  # interleaved, so drift hits every tool alike
                r = run(t.search_argv(q[t.name]), t.env, args.query_timeout)
                if not t.ok(r):
                    errors.append({"query": q["name"], "tool": t.name, "argv": r.argv,
                                   "error": r.err_line()})
                    timings[q["name"]][t.name] = None
                    active = [a for a in active if a is not t]
                    continue
                if rep >= args.warmup:
                    timings[q["name"]][t.name].append(r.wall)
        for t in tools:
            if not q.get(t.name) or timings[q["name"]].get(t.name) is None:
                continue
            r = run(t.count_argv(q[t.name]), t.env, args.query_timeout)
            try:
                counts[q["name"]][t.name] = t.parse_count(r) if t.ok(r) else None
            except ValueError:
                counts[q["name"]][t.name] = None
    return timings, counts, errors


def main(argv=None):
    ap = argparse.ArgumentParser(
        description="Benchmark gleaner against notmuch, mu and mairix on a Maildir corpus.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=None,
                    help="a maildir (cur/, new/) or a directory of maildirs, one per list")
    ap.add_argument("--real-lists", type=int, default=0, metavar="N",
                    help="instead of --corpus: N messages of the shared real archives "
                         "(../shared/corpora/lists/*.mbox.zst, then pipermail/*), one Maildir per list, "
                         "with bench/queries-real.tsv")
    ap.add_argument("--gleaner", default=str(REPO / "target/release/gleaner"),
                    help="path of the gleaner binary")
    ap.add_argument("--queries", type=Path, default=None,
                    help="query set TSV (default: bench/queries.tsv; bench/queries-spamassassin.tsv "
                         "when the corpus path contains 'spamassassin')")
    ap.add_argument("--skip", default="", help="comma-separated tools to leave out, e.g. notmuch,mu")
    ap.add_argument("--only", default="", help="comma-separated tools to run (default: all)")
    ap.add_argument("--runs", type=int, default=20, help="timed runs per query and tool")
    ap.add_argument("--warmup", type=int, default=1, help="untimed runs per query and tool first")
    ap.add_argument("--limit", type=int, default=20, help="hits asked for per search")
    ap.add_argument("--paths", action="store_true",
                    help="time every hit's file path instead of the top --limit: gleaner "
                         "search --output files, notmuch search --output=files, mu find "
                         "--fields=l (mairix always prints every path)")
    ap.add_argument("--timeout", type=float, default=3600, help="seconds allowed per indexing command")
    ap.add_argument("--index-runs", type=int, default=1, metavar="N",
                    help="index N times with each tool whose first run took under --repeat-under "
                         "seconds (rounds interleaved) and report the median run by wall time")
    ap.add_argument("--repeat-under", type=float, default=60.0, metavar="SECONDS",
                    help="which tools --index-runs repeats (default: those under 60 s)")
    ap.add_argument("--query-timeout", type=float, default=120, help="seconds allowed per query command")
    ap.add_argument("--report", type=Path, default=HERE / "out/report.md", help="Markdown report")
    ap.add_argument("--json", type=Path, default=None, help="raw numbers (default: report with .json)")
    ap.add_argument("--workdir", type=Path, default=None,
                    help="where the indexes go (default: a fresh temp dir, removed afterwards)")
    ap.add_argument("--keep", action="store_true", help="keep the indexes afterwards")
    ap.add_argument("--sample", type=int, default=0, metavar="N",
                    help="benchmark N messages spread evenly over the corpus (hard-linked into the "
                         "work dir), not the whole corpus")
    ap.add_argument("--no-warm", action="store_true", help="don't pre-read the corpus into the page cache")
    args = ap.parse_args(argv)

    wanted = [s.strip() for s in (args.only or ",".join(TOOLS)).split(",") if s.strip()]
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    for name in set(wanted) | skip:
        if name not in TOOLS:
            ap.error(f"unknown tool {name!r}; tools are {', '.join(TOOLS)}")
    if args.corpus is None and not args.real_lists:
        ap.error("give --corpus DIR or --real-lists N")
    if args.queries is None:
        args.queries = HERE / ("queries-real.tsv" if args.real_lists
                               else "queries-spamassassin.tsv" if "spamassassin" in str(args.corpus)
                               else "queries.tsv")
    queries = load_queries(args.queries)

    started = dt.datetime.now(dt.timezone.utc)
    own_work = args.workdir is None
    work = Path(tempfile.mkdtemp(prefix="gleaner-bench-")) if own_work else args.workdir.resolve()
    work.mkdir(parents=True, exist_ok=True)
    corpus_path = args.corpus
    if args.real_lists:
        real = work / "real-lists"
        if real.exists():
            shutil.rmtree(real)
        shared = Path(os.environ.get("GLEANER_CORPORA", REPO.parent / "shared" / "corpora"))
        corpus_path = make_real_lists(shared, args.real_lists, real)
        args.corpus = corpus_path
        log(f"{args.real_lists} messages of the real archives in {shared} written to {real}")
    if args.sample:
        sample_dir = work / "sample"
        if sample_dir.exists():
            shutil.rmtree(sample_dir)
        corpus_path = make_sample(args.corpus, args.sample, sample_dir)
        log(f"sample of {args.sample} messages from {args.corpus} in {corpus_path}")
    corpus = Corpus(corpus_path)
    log(f"corpus {corpus.path}: {len(corpus.lists)} maildir(s), {corpus.messages} messages, "
        f"{corpus.raw_bytes / 2**20:.1f} MiB")
    if not args.no_warm:
        log(f"pre-read corpus in {corpus.warm():.1f}s")

    status, tools = {}, []
    for name in TOOLS:
        t = TOOL_CLASSES[name](args, corpus, work)
        entry = {"path": t.path, "package": dpkg_version(DEBIAN_PACKAGES.get(name, "")) if name in DEBIAN_PACKAGES else ""}
        if name in skip or name not in wanted:
            entry["status"] = "skipped"
        elif not t.available():
            entry["status"] = "missing"
            where = args.gleaner if name == "gleaner" else f"'{t.binary}' on PATH"
            log(f"{name}: not found ({where}); continuing without it")
        else:
            entry["status"] = "ok"
            entry["version"] = t.version()
            if name == "gleaner":
                try:
                    head = subprocess.run(["git", "-C", str(Path(t.path).parent), "describe", "--always",
                                           "--dirty"], capture_output=True, text=True, timeout=10)
                    if head.returncode == 0:
                        entry["version"] = f"{entry['version']} (git {head.stdout.strip()})".strip()
                except (OSError, subprocess.SubprocessError):
                    pass
            tools.append(t)
        status[name] = entry

    load = {"start": os.getloadavg()[0]}
    try:
        index = do_index(tools, args, corpus)
        load["before_queries"] = os.getloadavg()[0]
        for t in tools:
            if not index[t.name]["ok"]:
                status[t.name]["status"] = "index failed"
        qtools = [t for t in tools if index[t.name]["ok"]]
        timings, counts, errors = do_queries(qtools, queries, args)
        load["end"] = os.getloadavg()[0]
    finally:
        if own_work and not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            log(f"indexes kept in {work}")

    data = {
        "started": started.isoformat(timespec="seconds"),
        "finished": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "command": shlex.join(["python3", *sys.argv]) if argv is None else shlex.join(argv),
        "cwd": os.getcwd(),
        "machine": machine_info(),
        "loadavg_1min": load,
        "corpus": {"path": str(corpus.path), "sampled_from": str(args.corpus.resolve()) if args.sample else None,
                   "single_maildir": corpus.single, "lists": corpus.lists,
                   "messages": corpus.messages, "raw_bytes": corpus.raw_bytes,
                   "disk_bytes": corpus.disk_bytes},
        "settings": {"runs": args.runs, "warmup": args.warmup, "limit": args.limit,
                     "queries_file": str(args.queries), "warm_cache": not args.no_warm},
        "tools": status,
        "index": index,
        "queries": queries,
        "timings_s": timings,
        "counts": counts,
        "errors": errors,
    }
    args.report.parent.mkdir(parents=True, exist_ok=True)
    jpath = args.json or args.report.with_suffix(".json")
    jpath.parent.mkdir(parents=True, exist_ok=True)
    jpath.write_text(json.dumps(data, indent=1, default=str) + "\n")
    args.report.write_text(render(data))
    log(f"wrote {args.report} and {jpath}")
    return 0 if tools else 1


# ---------------------------------------------------------------- report


def fmt_ms(s):
    if s is None:
        return "–"
    ms = s * 1000
    return f"{ms:.1f}" if ms < 100 else f"{ms:.0f}"


def fmt_ratio(x):
    return "–" if x is None else (f"{x:.2f}×" if x < 10 else f"{x:.0f}×")


def table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def render(d) -> str:
    m, c, st = d["machine"], d["corpus"], d["tools"]
    ran = [n for n in TOOLS if n in d["index"] and d["index"][n]["ok"]]
    others = [n for n in ran if n != "gleaner"]
    L = [f"# gleaner benchmark: {Path(c.get('sampled_from') or c['path']).name}" + (f" (sample of {c['messages']:,})" if c.get("sampled_from") else ""), ""]
    L += [f"Run {d['started']} → {d['finished']} (UTC).", "", "Command:", "",
          "```", f"cd {d['cwd']} && {d['command']}", "```", ""]
    L += ["## Setup", "",
          f"- Machine: {m.get('cpu', '?')}, nproc {m['nproc']} (affinity {m['affinity']}), "
          f"{m.get('mem_gib', '?')} GiB RAM, kernel {m['kernel']}, {m.get('os', '')}, Python {m['python']}",
          f"- Corpus: `{c['path']}`{' (sample of `' + c['sampled_from'] + '`)' if c.get('sampled_from') else ''}: {'one maildir' if c['single_maildir'] else str(len(c['lists'])) + ' maildirs (' + ', '.join(c['lists'][:12]) + (' …' if len(c['lists']) > 12 else '') + ')'}, "
          f"{c['messages']:,} messages, {c['raw_bytes'] / 2**20:.1f} MiB raw ({c['disk_bytes'] / 2**20:.1f} MiB on disk)",
          f"- Load average (1 min) at start / before queries / end: "
          + " / ".join(f"{v:.2f}" for v in d["loadavg_1min"].values()),
          f"- Queries: `{d['settings']['queries_file']}`, {len(d['queries'])} queries, "
          f"{d['settings']['warmup']} warm-up + {d['settings']['runs']} timed runs each, interleaved across tools; "
          f"limit {d['settings']['limit']} hits; page cache {'pre-warmed with the corpus' if d['settings']['warm_cache'] else 'not pre-warmed'}",
          ""]
    if max(d["loadavg_1min"].values()) > 0.5 * (m["affinity"] or 1):
        L += ["**Warning: the machine was busy with other work during this run (load average above "
              "half the CPUs); the timings are noisier and slower than on an idle machine.**", ""]
    rows = []
    for n in TOOLS:
        s = st[n]
        rows.append([n, s["status"], s.get("version", ""), s.get("package", ""), f"`{s['path']}`" if s["path"] else ""])
    L += [table(["tool", "status", "version (--version)", "Debian package", "binary"], rows), ""]

    # indexing
    L += ["## Bulk indexing", "",
          "Each tool indexes the whole corpus into an empty directory. Wall and CPU (user + system) "
          "time cover all of the tool's commands; msgs/s is corpus messages / wall time; peak RSS is "
          "the largest `ru_maxrss` of them (from `wait4`); index size is the allocated size (`du`) "
          "of the tool's database directory; 'searchable' is what a match-everything query returns "
          "afterwards (gleaner `stats --json` messages, notmuch `*`, mu `\"\"`, mairix `~xyzzyplugh`).", ""]
    rows = []
    for n in TOOLS:
        r = d["index"].get(n)
        if not r:
            rows.append([n, st[n]["status"]] + [""] * 7)
            continue
        if not r["ok"]:
            rows.append([n, "failed: " + r.get("error", "")[:100].replace("|", "\\|")] + [""] * 7)
            continue
        rows.append([n, f"{r['wall_s']:.2f}", f"{r.get('cpu_s', 0):.2f}", f"{r['msgs_per_s']:,.0f}",
                     "?" if r.get("indexed") is None else f"{r['indexed']:,}", f"{r['maxrss_kb'] / 1024:.0f}",
                     f"{r['index_bytes'] / 2**20:.1f}", f"{r['index_ratio']:.2f}",
                     "<br>".join(f"`{x}`" for x in r["commands"])])
    L += [table(["tool", "wall s", "CPU s", "msgs/s", "searchable", "peak RSS MiB", "index MiB",
                 "index / raw", "commands"], rows), ""]
    notes = [f"- {n}: {x}" for n in TOOLS if n in d["index"] for x in d["index"][n].get("notes", [])]
    if notes:
        L += ["Notes:", "", *notes, ""]
    if "gleaner" in ran and others:
        g = d["index"]["gleaner"]
        rows = []
        for n in others:
            o = d["index"][n]
            rows.append([f"gleaner / {n}", fmt_ratio(g["wall_s"] / o["wall_s"]),
                         fmt_ratio(g["maxrss_kb"] / o["maxrss_kb"]) if o["maxrss_kb"] else "–",
                         fmt_ratio(g["index_bytes"] / o["index_bytes"]) if o["index_bytes"] else "–"])
        L += ["Ratios (below 1 means gleaner is faster / smaller):", "",
              table(["", "index wall time", "peak RSS", "index size"], rows), ""]

    # queries
    L += ["## Query latency", "",
          "Wall time of one CLI call (process start to exit), in milliseconds, p50 / p95 over the timed runs. "
          "Commands: `gleaner search --data D --limit N Q`, `notmuch search --limit=N --output=summary Q`, "
          "`mu find --muhome=H --maxnum=N Q`, `mairix -f RC -r Q` (mairix has no limit: it prints every match).", ""]
    rows = []
    per_tool_p50 = {n: [] for n in ran}
    for q in d["queries"]:
        row = [q["name"]]
        for n in ran:
            ts = d["timings_s"][q["name"]].get(n)
            if not q.get(n):
                row.append("n/a")
            elif not ts:
                row.append("error")
            else:
                p50, p95 = statistics.median(ts), pct(ts, 95)
                per_tool_p50[n].append(p50)
                row.append(f"{fmt_ms(p50)} / {fmt_ms(p95)}")
        rows.append(row)
    L += [table(["query"] + [f"{n} p50 / p95" for n in ran], rows), ""]
    rows = []
    for n in ran:
        v = per_tool_p50[n]
        rows.append([n, len(v), fmt_ms(statistics.median(v)) if v else "–",
                     fmt_ms(max(v)) if v else "–", fmt_ms(geomean(v))])
    L += ["Summary over the queries each tool ran:", "",
          table(["tool", "queries", "median of p50 ms", "worst p50 ms", "geomean of p50 ms"], rows), ""]
    if "gleaner" in ran and others:
        rows = []
        for n in others:
            ratios = []
            for q in d["queries"]:
                a, b = d["timings_s"][q["name"]].get("gleaner"), d["timings_s"][q["name"]].get(n)
                if a and b:
                    ratios.append(statistics.median(a) / statistics.median(b))
            rows.append([f"gleaner / {n}", len(ratios), fmt_ratio(geomean(ratios)),
                         fmt_ratio(min(ratios)) if ratios else "–", fmt_ratio(max(ratios)) if ratios else "–"])
        L += ["Per-query p50 ratios (below 1 means gleaner is faster):", "",
              table(["", "queries in common", "geomean", "best", "worst"], rows), ""]

    # counts
    L += ["## Match counts", "",
          "Messages matched, to show that the tools answer roughly the same question "
          "(`gleaner search --json`, `notmuch count`, `mu find --fields=l` lines, `mairix -r` lines). "
          "They differ by design: notmuch stems English and searches headers with bare words, "
          "mu does not stem, mairix matches whole words in headers and body.", ""]
    rows = []
    for q in d["queries"]:
        row = [q["name"]]
        for n in ran:
            v = d["counts"][q["name"]].get(n)
            row.append("n/a" if not q.get(n) else ("error" if v is None else f"{v:,}"))
        rows.append(row)
    L += [table(["query"] + ran, rows), ""]

    L += ["## Query set", "", table(["name"] + list(TOOLS),
          [[q["name"]] + [f"`{q[n]}`" if q[n] else "" for n in TOOLS] for q in d["queries"]]), ""]
    if d["errors"]:
        L += ["## Errors", "", table(["query", "tool", "error"],
              [[e["query"], e["tool"], e["error"].replace("|", "\\|")] for e in d["errors"]]), ""]
    return "\n".join(L)


if __name__ == "__main__":
    sys.exit(main())
