#!/usr/bin/env python3
"""bench/imap_server.py: gleaner's read-only IMAP server on one big mailbox.

Starts `gleaner serve` with `[imap] listen = "127.0.0.1:0"` on an indexed data
directory, logs in as an admin, and measures with a raw socket (no client
library in the way), each operation `--runs` times (median and best):

  select        SELECT of the mailbox (EXISTS = its messages)
  search_common UID SEARCH RETURN (COUNT) BODY <common word>
  search_rare   UID SEARCH RETURN (COUNT) BODY <rare word>
  search_from   UID SEARCH RETURN (COUNT) FROM <substring>
  fetch_flags   UID FETCH 1:* (UID FLAGS): messages/s streamed
  fetch_body    UID FETCH of the first 2,000 messages' BODY.PEEK[]: messages/s
                (left out with --skip-body, e.g. when the mail files are gone)
and the server's resident memory before the first SELECT and after all runs,
and (with --connections N, gleaner only) the growth of its resident memory per
connection when N more connections, logged in, each EXAMINE the mailbox.

With --dovecot HOST:PORT:USER:PASS:MAILBOX the same commands run against
that server too, in the same run (set it up with the same messages, e.g. the
harness in ../shared/dovecot-harness with the Maildir copied into the user's
mail directory; its first SELECT builds Dovecot's index and is reported as
such).

With --dovecot-corpus MAILDIR (a Maildir, or a directory of Maildirs, holding
the messages gleaner's --data indexed) the run sets up two throwaway Dovecots
itself with bench/imap.py's harness, one INBOX of every message each: Dovecot
with its own index and no FTS plugin ("dovecot"), and Dovecot with fts_solr
pointed at a second `gleaner serve` with [solr] ("dovecot+gleaner-fts",
indexed by `doveadm index` first) — all three servers measured in one run.

usage: bench/imap_server.py --gleaner target/release/gleaner --data DATA
         --user admin --password pw [--mailbox INBOX] [--runs 5]
         [--skip-body] [--connections 20]
         [--common error] [--rare mirror] [--from priya] [--json OUT]
Python 3.9+ standard library only.
"""
import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time


class Conn:
    """A minimal IMAP client: send a tagged command, read to its answer."""

    def __init__(self, host, port):
        self.s = socket.create_connection((host, port))
        self.f = self.s.makefile('rb')
        self.n = 0
        self.f.readline()  # greeting

    def run(self, cmd):
        """(tagged line, untagged line count, bytes read) of one command."""
        self.n += 1
        tag = f"b{self.n}"
        self.s.sendall(f"{tag} {cmd}\r\n".encode())
        lines, size = 0, 0
        while True:
            line = self.f.readline()
            if not line:
                raise RuntimeError(f"connection closed during {cmd}")
            size += len(line)
            m = re.search(rb"\{(\d+)\}\r\n$", line)
            if m:
                n = int(m.group(1))
                size += n
                self.f.read(n)
                continue
            if line.startswith(tag.encode() + b" "):
                text = line.decode('latin-1').strip()
                if " OK" not in text[:len(tag) + 4]:
                    raise RuntimeError(f"{cmd}: {text}")
                return text, lines, size
            if line.startswith(b"* "):
                lines += 1
                self.last = line.decode('latin-1').strip()


def timed(fn, runs):
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return times, out


def rss_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def measure(name, host, port, user, password, mailbox, args, pid=None):
    c = Conn(host, port)
    c.run(f'LOGIN "{user}" "{password}"')
    res = {"server": name}
    if pid:
        res["rss_kb_logged_in"] = rss_kb(pid)
    # The first SELECT (Dovecot may build its index here).
    t = time.perf_counter()
    c.run(f'EXAMINE "{mailbox}"')
    res["first_select_s"] = time.perf_counter() - t
    times, _ = timed(lambda: c.run(f'EXAMINE "{mailbox}"'), args.runs)
    exists = None
    c.s.sendall(b"x0 EXAMINE \"" + mailbox.encode() + b"\"\r\n")
    while True:
        line = c.f.readline().decode('latin-1')
        m = re.match(r"\* (\d+) EXISTS", line)
        if m:
            exists = int(m.group(1))
        if line.startswith("x0 "):
            break
    res["messages"] = exists
    res["select_ms"] = {"median": 1000 * statistics.median(times), "best": 1000 * min(times)}
    for key, cmd in [
        ("search_common", f"UID SEARCH RETURN (COUNT) BODY {args.common}"),
        ("search_rare", f"UID SEARCH RETURN (COUNT) BODY {args.rare}"),
        ("search_from", f"UID SEARCH RETURN (COUNT) FROM {args.from_}"),
    ]:
        times, _ = timed(lambda: c.run(cmd), args.runs)
        count = re.search(r"COUNT (\d+)", getattr(c, "last", "") or "")
        res[key] = {
            "median_ms": 1000 * statistics.median(times),
            "best_ms": 1000 * min(times),
            "count": int(count.group(1)) if count else 0,
        }
    times, out = timed(lambda: c.run("UID FETCH 1:* (UID FLAGS)"), args.runs)
    lines = out[1]
    res["fetch_flags"] = {
        "messages": lines,
        "median_s": statistics.median(times),
        "msgs_per_s": lines / statistics.median(times) if lines else 0,
    }
    n = 0 if args.skip_body else min(2000, exists or 0)
    if n:
        times, out = timed(lambda: c.run(f"FETCH 1:{n} (BODY.PEEK[])"), 1)
        res["fetch_body"] = {"messages": n, "s": times[0], "msgs_per_s": n / times[0], "bytes": out[2]}
    if pid:
        res["rss_kb_after"] = rss_kb(pid)
    if pid and args.connections:
        # Logged in first (argon2 churns ~19 MiB per login, which the
        # allocator may keep), then the growth from opening the mailbox.
        extra = []
        for _ in range(args.connections):
            e = Conn(host, port)
            e.run(f'LOGIN "{user}" "{password}"')
            extra.append(e)
        time.sleep(0.5)
        logged_in = rss_kb(pid)
        for e in extra:
            e.run(f'EXAMINE "{mailbox}"')
        time.sleep(0.5)
        grown = rss_kb(pid) - logged_in
        res["connections"] = {"n": args.connections, "rss_kb_all_logged_in": logged_in,
                              "rss_growth_kb_examine": grown,
                              "kb_per_connection_examine": grown / args.connections}
        for e in extra:
            e.run("LOGOUT")
    return res


def dovecots(args):
    """Dovecot alone and Dovecot + fts_solr -> gleaner on --dovecot-corpus,
    set up with bench/imap.py's harness and measured like gleaner's server."""
    from pathlib import Path
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import imap as harness  # bench/imap.py

    corpus = harness.Corpus(Path(args.dovecot_corpus))
    work = Path(tempfile.mkdtemp(prefix="imap-server-dovecots-"))
    os.chmod(work, 0o755)  # the Dovecot account must reach its instance dirs
    fts = harness.Gleaner(Path(args.gleaner).resolve(), work)
    insts, out = {}, []
    try:
        fts.start()
        insts["nofts"] = harness.Instance("nofts", work)
        insts["gleaner"] = harness.Instance("gleaner", work, fts.port)
        n = harness.link_messages(corpus.files, insts["nofts"].maildir / "cur")
        insts["nofts"].start()
        insts["nofts"].doveadm("force-resync", "-u", harness.USER, "INBOX")
        harness.clone_mailbox(insts["nofts"].maildir, insts["gleaner"].maildir)
        insts["gleaner"].start()
        insts["gleaner"].doveadm("force-resync", "-u", harness.USER, "INBOX")
        indexed = harness.index_phase(insts["gleaner"], fts, n, 7200)
        print(f"doveadm index with fts_solr -> gleaner: {n} messages in "
              f"{indexed['wall_s']:.1f} s", file=sys.stderr)
        harness.settle(fts.data / "imap")
        for name, inst in (("dovecot", insts["nofts"]), ("dovecot+gleaner-fts", insts["gleaner"])):
            res = measure(name, "127.0.0.1", inst.port, harness.USER, harness.PASS, "INBOX", args)
            res["fts_index"] = indexed if name != "dovecot" else None
            out.append(res)
    finally:
        for inst in insts.values():
            inst.stop()
        fts.stop()
        shutil.rmtree(work, ignore_errors=True)
    return out
def start_server(gleaner, data):
    """`gleaner serve` on DATA with IMAP on a free port: (process, port)."""
    work = tempfile.mkdtemp(prefix="imap-bench-")
    conf = os.path.join(work, "gleaner.toml")
    with open(conf, "w") as f:
        f.write(f'data = {json.dumps(os.path.abspath(data))}\n[http]\nlisten = "127.0.0.1:0"\n'
                '[imap]\nlisten = "127.0.0.1:0"\n')
    proc = subprocess.Popen([gleaner, "--config", conf, "serve"], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    port = None
    for line in proc.stdout:
        m = re.search(r"serving imap://127\.0\.0\.1:(\d+)/", line)
        if m:
            port = int(m.group(1))
            break
    return proc, port


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--gleaner", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--user", default="admin")
    p.add_argument("--password", default="pw")
    p.add_argument("--mailbox", default="INBOX")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--common", default="error")
    p.add_argument("--rare", default="mirror")
    p.add_argument("--from", dest="from_", default="priya")
    p.add_argument("--dovecot", help="HOST:PORT:USER:PASS:MAILBOX")
    p.add_argument("--dovecot-corpus", help="MAILDIR: set up Dovecot and Dovecot+fts_solr here")
    p.add_argument("--json")
    p.add_argument("--skip-body", action="store_true")
    p.add_argument("--connections", type=int, default=0)
    args = p.parse_args()

    proc, port = start_server(args.gleaner, args.data)
    results = []
    try:
        results.append(measure("gleaner", "127.0.0.1", port, args.user, args.password,
                               args.mailbox, args, pid=proc.pid))
        if args.dovecot:
            host, dport, duser, dpass, dbox = args.dovecot.split(":", 4)
            results.append(measure("dovecot", host, int(dport), duser, dpass, dbox, args))
        if args.dovecot_corpus:
            results.extend(dovecots(args))
    finally:
        proc.terminate()
        proc.wait()
    g = results[0]
    for d in results[1:]:
        results.append({f"ratios_{d['server']}_over_gleaner": {
            "select": d["select_ms"]["median"] / g["select_ms"]["median"],
            "search_common": d["search_common"]["median_ms"] / g["search_common"]["median_ms"],
            "search_rare": d["search_rare"]["median_ms"] / g["search_rare"]["median_ms"],
            "search_from": d["search_from"]["median_ms"] / g["search_from"]["median_ms"],
            "fetch_flags": g["fetch_flags"]["median_s"] and d["fetch_flags"]["median_s"] / g["fetch_flags"]["median_s"],
        }})
    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        with open(args.json, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    sys.exit(main())
