#!/usr/bin/env python3
"""The 1M -> 5M -> 20M scale curve of gleaner (issue 22 item 1). A benchmark, not a test.

Grows ONE data directory shard by shard: each shard is a directory of 1M generated
messages (`corpus/generate.py --messages 1000000 --seed S --format mbox`, every mbox
zstd-compressed: MAIL_ROOT/s<seed>/{announce,dev,i18n,ops,users}.mbox.zst) and is
indexed by one command,

    /usr/bin/time -f ... gleaner --data D index --json MAIL_ROOT/s<seed>

so the rate, wall time, CPU and peak RSS of every million are recorded. At each
checkpoint (in millions, default 1,5,20) it measures:

  * index size (du of D/index) and its ratio to the uncompressed mail so far
    (MAIL_ROOT/../gen-<seed>.log: the `ls -la` of the uncompressed mbox files);
  * in-process query latency over bench/queries.tsv (examples/query_latency, top 20
    with snippets), without and with FACETS=1 (facets + timeline as /api/search);
  * a query matching >= 30% of the archive (the first of --big-queries that does),
    with facets and timeline, exact total, --big-runs runs;
  * examples/freshness: `gleaner serve` on D following an empty Maildir, delivery at
    --fresh-rate/s for --fresh-secs s, rename -> searchable p50/p95/p99; idle CPU; serve
    start and restart until "ready";
  * `gleaner backup` (first, then incremental after the freshness mail), `gleaner
    restore` of the newest snapshot into an empty directory, `gleaner verify` on the
    restored directory (with a time limit), sizes; one backup copy at a time, skipped
    when it would leave less than --min-free GB.

Writes OUT/scale.json (everything) and OUT/scale.md (tables), rewritten after every
shard and every measurement, so a crash loses nothing. Resumable: the shards indexed
into D are recorded in D.state.json; a new run continues with the next shard (it
waits for a shard directory that is not there yet).

  python3 bench/scale.py --bin /work/scale/gleaner --examples /work/scale/bin \\
      --data /work/scale/data --mail /work/scale/mail --seeds 101-120 --checkpoints 1,5,20
"""

import argparse
import datetime
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time


def now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def log(*a):
    print(f"[{now()}]", *a, flush=True)


def du_bytes(path):
    if not os.path.exists(path):
        return 0
    out = subprocess.run(["du", "-sb", path], capture_output=True, text=True).stdout
    return int(out.split()[0]) if out else 0


def free_bytes(path):
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def timed(cmd, env=None, timeout=None, cwd=None):
    """Runs cmd under /usr/bin/time; returns dict with wall, user, sys, rss_kb, rc, stdout, stderr."""
    fmt = "TIME %e %U %S %M"
    full = ["/usr/bin/time", "-f", fmt] + cmd
    t = time.time()
    p = subprocess.Popen(full, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=cwd,
                         start_new_session=True)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGTERM)  # the whole group: /usr/bin/time and the command
        try:
            out, err = p.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            out, err = p.communicate()
        return {"cmd": cmd, "timeout": True, "wall_s": time.time() - t, "stdout": out[-4000:], "stderr": err[-4000:]}
    res = {"cmd": cmd, "rc": p.returncode, "wall_s": time.time() - t,
           "stdout": out, "stderr": err[-4000:]}
    for line in reversed(err.splitlines()):
        if line.startswith("TIME "):
            _, e, u, s, m = line.split()
            res.update(wall_s=float(e), user_s=float(u), sys_s=float(s), rss_kb=int(m))
            break
    return res


def mail_bytes(mail_root, seed):
    """Uncompressed mbox bytes of shard `seed`, from the gen log's ls listing."""
    logf = os.path.join(os.path.dirname(mail_root.rstrip("/")), f"gen-{seed}.log")
    total = 0
    total_line = None
    with open(logf) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 9 and parts[-1].endswith(".mbox") and parts[0].startswith("-"):
                total += int(parts[4])
            if parts[:1] == ["total"] and len(parts) == 3:
                total_line = (int(parts[1]), int(parts[2]))
    return total, total_line


def compressed_bytes(shard_dir):
    return sum(os.path.getsize(os.path.join(shard_dir, f)) for f in os.listdir(shard_dir))


def segments(data):
    try:
        with open(os.path.join(data, "index", "meta.json")) as f:
            meta = json.load(f)
        segs = meta.get("segments", [])
        return len(segs), sum(s.get("max_doc", 0) for s in segs)
    except Exception:
        return None, None


class Bench:
    def __init__(self, a):
        self.a = a
        self.state_path = a.data.rstrip("/") + ".state.json"
        self.json_path = os.path.join(a.out, "scale.json")
        self.md_path = os.path.join(a.out, "scale.md")
        os.makedirs(a.out, exist_ok=True)
        if os.path.exists(self.json_path):
            with open(self.json_path) as f:
                self.res = json.load(f)
        else:
            self.res = {"started": now(), "shards": [], "checkpoints": {}}
        self.res["config"] = {k: v for k, v in vars(a).items()}
        self.res["binary_sha256"] = hashlib.sha256(open(a.bin, "rb").read()).hexdigest()
        self.state = {"shards": []}
        if os.path.exists(self.state_path):
            with open(self.state_path) as f:
                self.state = json.load(f)

    # ---------------------------------------------------------------- output
    def save(self):
        self.res["updated"] = now()
        tmp = self.json_path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.res, f, indent=1)
        os.replace(tmp, self.json_path)
        with open(self.state_path + ".tmp", "w") as f:
            json.dump(self.state, f)
        os.replace(self.state_path + ".tmp", self.state_path)
        with open(self.md_path + ".tmp", "w") as f:
            f.write(self.markdown())
        os.replace(self.md_path + ".tmp", self.md_path)

    def markdown(self):
        r = self.res
        L = ["# gleaner at 1M -> 5M -> 20M (bench/scale.py)", "",
             f"Started {r.get('started')}, updated {r.get('updated')}; binary sha256 {r.get('binary_sha256', '')[:16]}.",
             "", "## Indexing, one `gleaner index` per million", "",
             "| shard | seed | messages after | wall s | msgs/s | CPU s | peak RSS MiB | indexed | index after GB | index / mail | segments |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
        for s in r["shards"]:
            L.append(f"| {s['n']} | {s['seed']} | {s.get('docs_after', '')} | {s['wall_s']:.1f} | {s['rate']:,.0f} | "
                     f"{s['user_s'] + s['sys_s']:.1f} | {s['rss_kb'] / 1024:.0f} | {s.get('indexed', '')} | "
                     f"{s['index_bytes_after'] / 1e9:.2f} | {s['ratio_after']:.3f} | {s.get('segments_after', '')} |")
        for n, c in sorted(r["checkpoints"].items(), key=lambda kv: int(kv[0])):
            L += ["", f"## Checkpoint {n}M", "", "```json", json.dumps(summarise(c), indent=1), "```"]
        return "\n".join(L) + "\n"

    # ---------------------------------------------------------------- indexing
    def wait_for(self, d):
        while not os.path.isdir(d):
            log("waiting for", d)
            time.sleep(20)

    def index_shard(self, n, seed):
        d = os.path.join(self.a.mail, f"s{seed}")
        self.wait_for(d)
        log(f"indexing shard {n} ({d})")
        t = timed([self.a.bin, "--data", self.a.data, "index", "--json"] + self.a.index_args.split() + [d])
        if t.get("rc") != 0:
            raise SystemExit(f"index failed: {t}")
        summary = {}
        try:
            summary = json.loads(t["stdout"].strip().splitlines()[-1])
        except Exception:
            pass
        raw, total_line = mail_bytes(self.a.mail, seed)
        prev = self.res["shards"][-1] if self.res["shards"] else None
        mail_total = (prev["mail_bytes_total"] if prev else 0) + raw
        ib = du_bytes(os.path.join(self.a.data, "index"))
        nseg, ndocs = segments(self.a.data)
        msgs = total_line[0] if total_line else 1_000_000
        if summary.get("seen") is not None:
            msgs = summary["seen"] - summary.get("unchanged", 0)  # messages read anew by this run
        row = {"n": n, "seed": seed, "finished": now(), "index_args": self.a.index_args, "loadavg_after": open("/proc/loadavg").read().split()[:3], "wall_s": t["wall_s"], "user_s": t["user_s"],
               "sys_s": t["sys_s"], "rss_kb": t["rss_kb"], "rate": msgs / t["wall_s"], "generated": msgs,
               "indexed": summary.get("indexed"), "summary": summary, "mail_bytes": raw,
               "mail_bytes_total": mail_total, "mail_zst_bytes": compressed_bytes(d),
               "index_bytes_after": ib, "ratio_after": ib / mail_total,
               "segments_after": nseg, "docs_after": ndocs, "stderr_tail": t["stderr"][-1500:]}
        log(f"shard {n}: {t['wall_s']:.1f}s {row['rate']:.0f}/s rss {t['rss_kb'] / 1024:.0f} MiB index {ib / 1e9:.2f} GB ratio {row['ratio_after']:.3f}")
        self.res["shards"].append(row)
        self.state["shards"].append(seed)
        self.save()

    # ---------------------------------------------------------------- checkpoint
    def cp(self, n):
        return self.res["checkpoints"].setdefault(str(n), {"at": now()})

    def step(self, n, name, fn):
        c = self.cp(n)
        if name in c and not self.a.redo:
            log(f"checkpoint {n}: {name} already measured")
            return
        log(f"checkpoint {n}: {name}")
        t = time.time()
        try:
            c[name] = fn(n)
        except Exception as e:  # record and go on: one failed measure must not lose the others
            c[name] = {"error": repr(e)}
        c[name + "_took_s"] = round(time.time() - t, 1)
        log(f"checkpoint {n}: {name} -> {json.dumps(summarise({name: c[name]}))[:600]}")
        self.save()

    def checkpoint(self, n):
        self.step(n, "size", self.m_size)
        self.step(n, "queries", lambda n: self.m_queries(n, facets=False))
        self.step(n, "queries_facets", lambda n: self.m_queries(n, facets=True))
        self.step(n, "big_query", self.m_big)
        # freshness first: `gleaner backup` needs D/gleaner.db, which `serve` creates
        # (`index` alone does not; a backup of such a directory fails).
        self.step(n, "freshness", self.m_fresh)
        self.step(n, "restart_http", self.m_restart_http)
        self.step(n, "backup_first", self.m_backup_first)
        self.step(n, "index_new_mail", self.m_index_new)
        self.step(n, "backup_incremental", self.m_backup_incr)
        self.step(n, "restore_verify", self.m_restore_verify)

    def m_size(self, n):
        rows = self.res["shards"][:n]
        mail = rows[-1]["mail_bytes_total"]
        ib = du_bytes(os.path.join(self.a.data, "index"))
        nseg, ndocs = segments(self.a.data)
        return {"index_bytes": ib, "data_dir_bytes": du_bytes(self.a.data), "mail_bytes": mail,
                "mail_zst_bytes": sum(r["mail_zst_bytes"] for r in rows), "ratio": ib / mail,
                "segments": nseg, "docs": ndocs,
                "stats": subprocess.run([self.a.bin, "--data", self.a.data, "stats"],
                                        capture_output=True, text=True).stdout[-3000:]}

    def run_latency(self, tsv, runs, facets):
        env = dict(os.environ)
        if facets:
            env["FACETS"] = "1"
        else:
            env.pop("FACETS", None)
        t = timed([os.path.join(self.a.examples, "query_latency"), self.a.data, tsv, str(runs)], env=env)
        per = {}
        overall = {}
        for line in t["stdout"].splitlines():
            m = re.match(r"ALL (\d+) searches: mean ([\d.]+) ms, p50 ([\d.]+) ms, p95 ([\d.]+) ms, p99 ([\d.]+) ms", line)
            if m:
                overall = dict(zip(["n", "mean_ms", "p50_ms", "p95_ms", "p99_ms"], [int(m[1])] + [float(x) for x in m.groups()[1:]]))
                continue
            parts = line.split()
            if len(parts) == 5 and parts[1].isdigit():
                per[parts[0]] = {"hits": int(parts[1]), "p50_ms": float(parts[2]), "p95_ms": float(parts[3]), "p99_ms": float(parts[4])}
        return {"overall": overall, "per_query": per, "wall_s": t["wall_s"], "cpu_s": t.get("user_s", 0) + t.get("sys_s", 0),
                "rss_kb": t.get("rss_kb"), "rc": t.get("rc"), "stderr": t["stderr"][-500:] if t.get("rc") else ""}

    def m_queries(self, n, facets):
        return self.run_latency(self.a.queries, self.a.runs, facets)

    def m_big(self, n):
        size = self.res["checkpoints"][str(n)].get("size", {})
        m = re.search(r"messages:\s+(\d+)", size.get("stats", ""))
        # live messages (`gleaner stats`); max_doc also counts deleted documents
        docs = int(m[1]) if m else size.get("docs") or n * 1_000_000
        tried = []
        for q in self.a.big_queries:
            with tempfile.NamedTemporaryFile("w", suffix=".tsv", delete=False) as f:
                f.write(f"name\tgleaner\nbig\t{q}\n")
                tsv = f.name
            probe = self.run_latency(tsv, 1, True)
            hits = probe["per_query"].get("big", {}).get("hits", 0)
            tried.append({"query": q, "hits": hits, "share": hits / docs})
            if hits >= 0.30 * docs:
                r = self.run_latency(tsv, self.a.big_runs, True)
                r.update(query=q, total=hits, share=hits / docs, docs=docs, tried=tried)
                # and without facets, to split the cost
                r["no_facets"] = self.run_latency(tsv, self.a.big_runs, False)["overall"]
                os.unlink(tsv)
                return r
            os.unlink(tsv)
        return {"error": "no candidate matched >= 30%", "tried": tried}

    def m_fresh(self, n):
        md = os.path.join(self.a.work, f"live-{n}m", "maildir")
        os.makedirs(md, exist_ok=True)
        # freshness wants WORKDIR/data to be the data directory
        work = os.path.dirname(self.a.data.rstrip("/"))
        assert os.path.basename(self.a.data.rstrip("/")) == "data", "--data must end in /data for examples/freshness"
        t = timed([os.path.join(self.a.examples, "freshness"), self.a.bin, work, md,
                   str(self.a.fresh_rate), str(self.a.fresh_secs)], timeout=3600)
        out = t.get("stdout", "")
        r = {"raw": out, "wall_s": t["wall_s"], "rc": t.get("rc"), "rate": self.a.fresh_rate, "secs": self.a.fresh_secs}
        m = re.search(r"first start \(indexes what is there\): ([\d.]+) s", out)
        if m:
            r["first_start_s"] = float(m[1])
        m = re.search(r"(\d+) of (\d+) found; rename->searchable p50 (\d+) ms, p95 (\d+) ms, p99 (\d+) ms, max (\d+) ms", out)
        if m:
            r.update(found=int(m[1]), sent=int(m[2]), p50_ms=int(m[3]), p95_ms=int(m[4]), p99_ms=int(m[5]), max_ms=int(m[6]))
        m = re.search(r"idle: (\d+) CPU ticks", out)
        if m:
            r["idle_ticks_20s"] = int(m[1])
        m = re.search(r"restart on the unchanged store: ready in ([\d.]+) s", out)
        if m:
            r["restart_s"] = float(m[1])
        if t.get("rc"):
            r["stderr"] = t["stderr"][-2000:]
        # The Maildir is kept: its messages are in the index, and `verify` reads them back.
        return r

    def m_index_new(self, n):
        """Indexes --new-mail/n<N> (a few thousand messages generated with another seed) into D."""
        d = os.path.join(self.a.new_mail, f"n{n}")
        if not os.path.isdir(d):
            return {"skipped": f"{d} missing"}
        t = timed([self.a.bin, "--data", self.a.data, "index", "--json", d])
        summary = {}
        try:
            summary = json.loads(t["stdout"].strip().splitlines()[-1])
        except Exception:
            pass
        return {"dir": d, "wall_s": t["wall_s"], "cpu_s": t.get("user_s", 0) + t.get("sys_s", 0),
                "rss_kb": t.get("rss_kb"), "rc": t.get("rc"), "indexed": summary.get("indexed"),
                "mail_bytes": du_bytes(d), "out": t["stderr"][-800:]}

    def m_restart_http(self, n):
        """`gleaner serve` on D (no sources) until /readyz answers 200, then the first
        /api/search (facets, timeline) of the big query; three starts."""
        import socket
        import urllib.request
        import urllib.parse
        runs = []
        q = self.res["checkpoints"][str(n)].get("big_query", {}).get("query", "message")
        for _ in range(3):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
            s.close()
            t0 = time.time()
            p = subprocess.Popen([self.a.bin, "--data", self.a.data, "serve", "--listen", f"127.0.0.1:{port}", "--no-auth",
                                  "--search-cache", "0"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            r = {}
            try:
                while time.time() - t0 < 300:
                    try:
                        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as resp:
                            if resp.status == 200:
                                r["readyz_s"] = time.time() - t0
                                break
                    except Exception:
                        time.sleep(0.02)
                t1 = time.time()
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/search?limit=20&q=" + urllib.parse.quote(q), timeout=60) as resp:
                    body = json.loads(resp.read())
                r["first_search_ms"] = (time.time() - t1) * 1000
                r["first_search_total"] = body.get("total")
                t2 = time.time()
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/search?limit=20&q=" + urllib.parse.quote(q), timeout=60) as resp:
                    resp.read()
                r["second_search_ms"] = (time.time() - t2) * 1000
            finally:
                p.send_signal(signal.SIGTERM)
                p.wait()
            runs.append(r)
        return {"runs": runs, "query": q, "readyz_max_s": max(x.get("readyz_s", 1e9) for x in runs)}

    def backup_dest(self):
        return os.path.join(self.a.work, "backup")

    def enough_disk(self, need):
        free = free_bytes(self.a.work)
        return free - need >= self.a.min_free * 1e9, free

    def m_backup_first(self, n):
        dest = self.backup_dest()
        if os.path.exists(dest):
            shutil.rmtree(dest)
        need = du_bytes(self.a.data)
        ok, free = self.enough_disk(need)
        if not ok:
            return {"skipped": f"a backup of {need / 1e9:.1f} GB would leave {(free - need) / 1e9:.1f} GB free (< {self.a.min_free} GB)"}
        t = timed([self.a.bin, "--data", self.a.data, "backup", "--by", "bench", dest])
        return {"wall_s": t["wall_s"], "cpu_s": t.get("user_s", 0) + t.get("sys_s", 0), "rss_kb": t.get("rss_kb"),
                "rc": t.get("rc"), "bytes": du_bytes(dest), "data_bytes": need, "free_before": free,
                "out": (t["stdout"] + t["stderr"])[-1500:]}

    def m_backup_incr(self, n):
        dest = self.backup_dest()
        if not os.path.exists(dest):
            return {"skipped": "no first backup"}
        before = du_bytes(dest)
        t = timed([self.a.bin, "--data", self.a.data, "backup", "--by", "bench", dest])
        after = du_bytes(dest)
        return {"wall_s": t["wall_s"], "cpu_s": t.get("user_s", 0) + t.get("sys_s", 0), "rss_kb": t.get("rss_kb"),
                "rc": t.get("rc"), "bytes_before": before, "bytes_after": after, "added_bytes": after - before,
                "out": (t["stdout"] + t["stderr"])[-1500:]}

    def m_restore_verify(self, n):
        dest = self.backup_dest()
        target = os.path.join(self.a.work, "restored")
        if os.path.exists(target):
            shutil.rmtree(target)
        r = {}
        try:
            if not os.path.exists(dest):
                return {"skipped": "no backup"}
            need = du_bytes(dest)
            ok, free = self.enough_disk(need)
            if not ok:
                return {"skipped": f"a restore of {need / 1e9:.1f} GB would leave {(free - need) / 1e9:.1f} GB free"}
            t = timed([self.a.bin, "--data", target, "restore", dest])
            r["restore"] = {"wall_s": t["wall_s"], "cpu_s": t.get("user_s", 0) + t.get("sys_s", 0), "rc": t.get("rc"),
                            "rss_kb": t.get("rss_kb"), "bytes": du_bytes(target), "out": (t["stdout"] + t["stderr"])[-1500:]}
            shutil.rmtree(dest)  # one copy at a time: the backup goes once restored
            r["backup_deleted"] = True
            self.save()
            if self.a.verify_timeout > 0:
                t = timed([self.a.bin, "--data", target, "verify", "--json"], timeout=self.a.verify_timeout)
                r["verify"] = {"wall_s": t["wall_s"], "timeout": t.get("timeout", False), "limit_s": self.a.verify_timeout,
                               "rc": t.get("rc"), "cpu_s": t.get("user_s", 0) + t.get("sys_s", 0),
                               "out": (t.get("stdout", "") + t.get("stderr", ""))[-1500:]}
            else:
                r["verify"] = {"skipped": "--verify-timeout 0"}
            return r
        finally:
            shutil.rmtree(target, ignore_errors=True)
            shutil.rmtree(dest, ignore_errors=True)

    # ---------------------------------------------------------------- main
    def run(self):
        seeds = self.a.seeds
        cps = sorted(self.a.checkpoints)
        done = list(self.state["shards"])
        for seed in done:
            if seed not in seeds:
                raise SystemExit(f"state {self.state_path} holds shard {seed} outside --seeds")
        for i, seed in enumerate(seeds, start=1):
            if i > max(cps):
                break
            if seed not in done:
                if i <= len(done):
                    raise SystemExit(f"shard order differs from the state file: {done}")
                self.index_shard(i, seed)
            if i in cps:
                self.checkpoint(i)
            elif self.a.stop_file and os.path.exists(self.a.stop_file) and i >= len(done):
                log(f"{self.a.stop_file} exists: last checkpoint at {i}M, then stop")
                self.checkpoint(i)
                break
        log("done")


def tables(res):
    """Markdown tables, one column per checkpoint, for docs/BENCHMARKS.md."""
    cps = sorted(res["checkpoints"], key=int)
    C = {n: res["checkpoints"][n] for n in cps}

    def g(c, *path, fmt="{}", default="—"):
        v = c
        for k in path:
            if not isinstance(v, dict) or k not in v:
                return default
            v = v[k]
        if v is None:
            return default
        try:
            return fmt.format(v)
        except (ValueError, TypeError):
            return str(v)

    head = "| measure | " + " | ".join(f"{n}M" for n in cps) + " |\n|---|" + "---|" * len(cps)
    rows = [
        ("messages in the index (max_doc, incl. deleted)", ("size", "docs"), "{:,}"),
        ("index GB (du of D/index)", ("size", "index_bytes"), None),
        ("uncompressed mail GB so far", ("size", "mail_bytes"), None),
        ("index ÷ mail", ("size", "ratio"), "{:.3f}"),
        ("segments", ("size", "segments"), "{}"),
        ("queries.tsv, top 20 + snippets: p50 ms", ("queries", "overall", "p50_ms"), "{:.2f}"),
        ("… p95 ms", ("queries", "overall", "p95_ms"), "{:.2f}"),
        ("… p99 ms", ("queries", "overall", "p99_ms"), "{:.2f}"),
        ("queries.tsv with facets + timeline (FACETS=1): p50 ms", ("queries_facets", "overall", "p50_ms"), "{:.2f}"),
        ("… p95 ms", ("queries_facets", "overall", "p95_ms"), "{:.2f}"),
        ("… p99 ms", ("queries_facets", "overall", "p99_ms"), "{:.2f}"),
        ("≥ 30% query: text", ("big_query", "query"), "`{}`"),
        ("… exact total", ("big_query", "total"), "{:,}"),
        ("… share of the index", ("big_query", "share"), "{:.1%}"),
        ("… with facets + timeline: p50 ms", ("big_query", "overall", "p50_ms"), "{:.1f}"),
        ("… p99 ms", ("big_query", "overall", "p99_ms"), "{:.1f}"),
        ("… hits only (no facets): p50 ms", ("big_query", "no_facets", "p50_ms"), "{:.1f}"),
        ("… p99 ms", ("big_query", "no_facets", "p99_ms"), "{:.1f}"),
        ("freshness: delivered / found", ("freshness", "sent"), "{:,}"),
        ("… rename → searchable p50 ms", ("freshness", "p50_ms"), "{}"),
        ("… p95 ms", ("freshness", "p95_ms"), "{}"),
        ("… p99 ms", ("freshness", "p99_ms"), "{}"),
        ("… max ms", ("freshness", "max_ms"), "{}"),
        ("serve start until \"ready\" (examples/freshness), s", ("freshness", "first_start_s"), "{:.2f}"),
        ("serve restart until \"ready\", s", ("freshness", "restart_s"), "{:.2f}"),
        ("serve restart until /readyz 200, worst of 3, s", ("restart_http", "readyz_max_s"), "{:.3f}"),
        ("idle CPU ticks over 20 s", ("freshness", "idle_ticks_20s"), "{}"),
        ("`backup` first: s", ("backup_first", "wall_s"), "{:.1f}"),
        ("… GB written", ("backup_first", "bytes"), None),
        ("new mail indexed before the incremental backup", ("index_new_mail", "indexed"), "{:,}"),
        ("`backup` incremental: s", ("backup_incremental", "wall_s"), "{:.1f}"),
        ("… MB added", ("backup_incremental", "added_bytes"), "MB"),
        ("`restore` into an empty directory: s", ("restore_verify", "restore", "wall_s"), "{:.1f}"),
        ("… GB", ("restore_verify", "restore", "bytes"), None),
    ]
    out = [head]
    for label, path, fmt in rows:
        vals = []
        for n in cps:
            if fmt is None:
                v = g(C[n], *path, fmt="{}")
                vals.append(f"{int(v) / 1e9:.2f}" if v not in ("—",) and v.isdigit() else v)
            elif fmt == "MB":
                v = g(C[n], *path, fmt="{}")
                vals.append(f"{int(v) / 1e6:.1f}" if v.lstrip("-").isdigit() else v)
            else:
                vals.append(g(C[n], *path, fmt=fmt))
        if label.startswith("freshness: delivered"):
            vals = [f"{g(C[n], 'freshness', 'sent', fmt='{:,}')} / {g(C[n], 'freshness', 'found', fmt='{:,}')}" for n in cps]
        out.append(f"| {label} | " + " | ".join(vals) + " |")
    for n in cps:
        for k in ("backup_first", "backup_incremental", "restore_verify"):
            if isinstance(C[n].get(k), dict) and "skipped" in C[n][k]:
                out.append(f"\n{n}M `{k}` skipped: {C[n][k]['skipped']}")
    sh = ["| million | seed | wall s | msgs/s | CPU s | peak RSS MiB | index GB after | index ÷ mail | segments | `index` flags |",
          "|---|---|---|---|---|---|---|---|---|---|"]
    for r in res["shards"]:
        sh.append(f"| {r['n']} | {r['seed']} | {r['wall_s']:.0f} | {r['rate']:,.0f} | {r['user_s'] + r['sys_s']:.0f} | "
                  f"{r['rss_kb'] / 1024:,.0f} | {r['index_bytes_after'] / 1e9:.2f} | {r['ratio_after']:.3f} | "
                  f"{r.get('segments_after', '')} | {r.get('index_args') or 'default'} |")
    return "\n".join(out) + "\n\n" + "\n".join(sh) + "\n"


def summarise(c):
    """Compact view of a checkpoint (drops raw outputs)."""
    out = {}
    for k, v in c.items():
        if isinstance(v, dict):
            out[k] = {kk: (vv if not isinstance(vv, dict) else {a: b for a, b in vv.items() if a not in ("out", "raw", "stderr", "per_query", "tried")})
                      for kk, vv in v.items() if kk not in ("out", "raw", "stderr", "stats", "per_query", "tried")}
        else:
            out[k] = v
    return out


def seed_range(s):
    out = []
    for part in s.split(","):
        if "-" in part:
            a, b = part.split("-")
            out += list(range(int(a), int(b) + 1))
        else:
            out.append(int(part))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default="/work/scale/gleaner")
    ap.add_argument("--examples", default="/work/scale/bin", help="directory with query_latency and freshness")
    ap.add_argument("--data", default="/work/scale/data")
    ap.add_argument("--mail", default="/work/scale/mail")
    ap.add_argument("--work", default="/work/scale", help="where backups, restores and Maildirs go")
    ap.add_argument("--seeds", type=seed_range, default=seed_range("101-120"))
    ap.add_argument("--checkpoints", type=lambda s: [int(x) for x in s.split(",")], default=[1, 5, 20])
    ap.add_argument("--queries", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "queries.tsv"))
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--big-queries", type=lambda s: s.split("|"), default=["message", "list:users OR list:dev", "*"],
                    help="candidates, |-separated; the first matching >= 30%% is timed")
    ap.add_argument("--big-runs", type=int, default=30)
    ap.add_argument("--fresh-rate", type=int, default=200)
    ap.add_argument("--fresh-secs", type=int, default=60)
    ap.add_argument("--new-mail", default="/work/scale/extra",
                    help="NEW_MAIL/n<checkpoint>: mail indexed between the first and the incremental backup")
    ap.add_argument("--index-args", default="", help="extra arguments of `gleaner index` (e.g. --commit-every N)")
    ap.add_argument("--stop-file", default="/work/scale/STOP", help="if it exists after a shard: checkpoint there and stop")
    ap.add_argument("--min-free", type=float, default=8.0, help="GB that must stay free after a backup/restore")
    ap.add_argument("--verify-timeout", type=int, default=300)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "out"))
    ap.add_argument("--redo", action="store_true", help="re-measure checkpoint steps already recorded")
    ap.add_argument("--tables", action="store_true", help="print Markdown tables from OUT/scale.json and exit")
    a = ap.parse_args()
    if a.tables:
        with open(os.path.join(a.out, "scale.json")) as f:
            print(tables(json.load(f)))
        return
    Bench(a).run()


if __name__ == "__main__":
    main()
