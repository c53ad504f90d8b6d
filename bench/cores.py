#!/usr/bin/env python3
"""Before one machine ends (issue 22 item 5, docs/SCALING.md): what a second core, a
cold page cache and splitting lists across data directories do, measured. A
benchmark, not a test; it needs the machine to itself (pause other work first).

  python3 bench/cores.py --bin target/release/gleaner --examples target/release/examples \\
      --corpus /tmp/g100k --data /work/scale/data-1m-new --split-mail /work/scale/mail4m/s101 \\
      --out bench/out/cores.json

Parts (each can be skipped with --skip NAME):

  index   `gleaner index` of --corpus into an empty data directory on one core
          (`taskset -c 0 ... --threads 1`) and on two (`taskset -c 0,1`, default
          threads), alternated --index-runs times; wall, CPU, msgs/s.
  latency in-process latency over --queries (examples/query_latency, top 20 with
          snippets, facets and timeline as /api/search) on --data, segments
          searched on one thread (serve's executor) and on two (EXECUTOR=2),
          alternated twice.
  load    the JSON API under 32 keep-alive clients with distinct queries
          (bench/api_load.sh, answer cache off) with `serve` pinned to one core
          (`taskset -c 1`, the load generator then has the other) and unpinned.
  cold    each query of --queries once right after `echo 3 > drop_caches` (one
          process per query; the index opened cold), against the same query warm.
  split   the 1M shard --split-mail indexed as two data directories (the `users`
          list alone, the other lists together) beside the whole shard (--data):
          a query on one list against the same query restricted with `list:` on the
          whole; an all-list query on both halves (summed) against the whole.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import scale  # noqa: E402  (its /usr/bin/time runner)


def log(*a):
    print(time.strftime("[%H:%M:%S]"), *a, flush=True)


def timed(argv, env=None):
    """Runs argv under /usr/bin/time (bench/scale.py's runner); wall, CPU, peak RSS
    and output, or exits with its error."""
    r = scale.timed(argv, env=env)
    if r.get("rc") != 0 or "user_s" not in r:
        raise SystemExit(f"{argv} failed ({r.get('rc')}): {r['stderr'][-2000:]}")
    return {"wall_s": r["wall_s"], "cpu_s": round(r["user_s"] + r["sys_s"], 2),
            "rss_mib": round(r["rss_kb"] / 1024), "out": r["stdout"]}


def messages(bin_, data):
    out = subprocess.run([bin_, "--data", data, "stats", "--json"], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)["messages"]


def part_index(a, res):
    rows = []
    for i in range(a.index_runs):
        for cores in (1, 2):
            d = tempfile.mkdtemp(prefix="cores-ix-", dir=a.work)
            cpus = "0" if cores == 1 else "0,1"
            extra = ["--threads", "1"] if cores == 1 else []
            r = timed(["taskset", "-c", cpus, a.bin, "--data", d, "index"] + extra + [a.corpus])
            n = messages(a.bin, d)
            r.pop("out")
            r.update(cores=cores, run=i + 1, messages=n, rate=round(n / r["wall_s"]))
            log("index", r)
            rows.append(r)
            shutil.rmtree(d)
    res["index"] = {"corpus": a.corpus, "runs": rows}
    for cores in (1, 2):
        walls = sorted(r["wall_s"] for r in rows if r["cores"] == cores)
        res["index"][f"median_wall_{cores}"] = walls[len(walls) // 2]
    res["index"]["speedup"] = round(res["index"]["median_wall_1"] / res["index"]["median_wall_2"], 2)


def latency(a, data, queries, executor=None, runs=None, facets=True):
    env = dict(os.environ)
    env.pop("EXECUTOR", None)
    if executor:
        env["EXECUTOR"] = str(executor)
    if facets:
        env["FACETS"] = "1"
    out = subprocess.run([os.path.join(a.examples, "query_latency"), data, queries, str(runs or a.runs)],
                         env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"query_latency failed: {out.stderr[-2000:]}")
    per, overall = {}, {}
    for line in out.stdout.splitlines():
        m = re.match(r"^ALL (\d+) searches: mean ([\d.]+) ms, p50 ([\d.]+) ms, p95 ([\d.]+) ms, p99 ([\d.]+) ms", line)
        if m:
            overall = {"searches": int(m[1]), "mean": float(m[2]), "p50": float(m[3]), "p95": float(m[4]),
                       "p99": float(m[5])}
            continue
        f = line.split()
        if len(f) >= 5 and f[0] != "query":
            try:
                per[f[0]] = {"hits": int(f[1]), "p50": float(f[2]), "p95": float(f[3]), "p99": float(f[4])}
            except ValueError:
                pass
    return {"overall": overall, "queries": per}


def part_latency(a, res):
    rounds = []
    for i in range(2):
        for ex in (1, 2):
            r = latency(a, a.data, a.queries, executor=ex)
            log("latency executor", ex, r["overall"])
            rounds.append({"executor_threads": ex, "round": i + 1, **r})
    res["latency"] = {"data": a.data, "rounds": rounds}


def part_load(a, res):
    rows = []
    wrapper = os.path.join(a.work, "gleaner-core1")
    with open(wrapper, "w") as f:
        f.write(f"#!/bin/sh\nexec taskset -c 1 {a.bin} \"$@\"\n")
    os.chmod(wrapper, 0o755)
    for i in range(2):
        for pinned in (True, False):
            env = dict(os.environ, SEARCH_CACHE="0", GLEANER=wrapper if pinned else a.bin)
            out = subprocess.run([os.path.join(HERE, "api_load.sh"), a.load_data, str(a.load_secs), "32"],
                                 env=env, capture_output=True, text=True, cwd=os.path.dirname(HERE))
            text = out.stdout
            req = re.search(r"Requests/sec:\s+([\d.]+)", text)
            cpu = re.search(r"= ([\d.]+) ms per answer", text)
            lat = {k: v for k, v in re.findall(r"^\s+(50|90|99)%\s+(\S+)", text, re.M)}
            row = {"serve_cores": 1 if pinned else 2, "round": i + 1,
                   "answers_per_s": float(req[1]) if req else None,
                   "cpu_ms_per_answer": float(cpu[1]) if cpu else None, "latency": lat,
                   "rc": out.returncode}
            log("load", row)
            rows.append(row)
    res["load"] = {"data": a.load_data, "secs": a.load_secs, "rows": rows}


def drop_caches():
    subprocess.run(["sync"], check=True)
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3\n")


def part_cold(a, res):
    rows = []
    lines = [l for l in open(a.queries) if l.strip() and not l.startswith("#") and not l.startswith("name\t")]
    with tempfile.TemporaryDirectory(dir=a.work) as t:
        for line in lines:
            one = os.path.join(t, "one.tsv")
            with open(one, "w") as f:
                f.write(line)
            drop_caches()
            t0 = time.monotonic()
            cold = latency(a, a.data, one, runs=1)
            whole = time.monotonic() - t0
            warm = latency(a, a.data, one, runs=5)
            name = line.split("\t")[0]
            row = {"query": name, "cold_ms": cold["overall"].get("p50"), "cold_process_s": round(whole, 3),
                   "warm_p50_ms": warm["overall"].get("p50"), "hits": cold["queries"].get(name, {}).get("hits")}
            log("cold", row)
            rows.append(row)
    res["cold"] = {"data": a.data, "rows": rows}


def part_split(a, res):
    files = sorted(os.listdir(a.split_mail))
    users = [os.path.join(a.split_mail, f) for f in files if f.startswith("users")]
    rest = [os.path.join(a.split_mail, f) for f in files if not f.startswith("users")]
    halves = {}
    for name, paths in (("users", users), ("rest", rest)):
        d = os.path.join(a.work, f"cores-split-{name}")
        if not os.path.exists(os.path.join(d, "index", "meta.json")):
            r = timed([a.bin, "--data", d, "index"] + paths)
            r.pop("out")
            log("split index", name, r)
        halves[name] = d
    qs = [l.rstrip("\n").split("\t") for l in open(a.queries)
          if l.strip() and not l.startswith("#") and not l.startswith("name\t")]
    with tempfile.TemporaryDirectory(dir=a.work) as t:
        plain = os.path.join(t, "plain.tsv")
        restricted = os.path.join(t, "restricted.tsv")
        with open(plain, "w") as f:
            f.writelines(f"{q[0]}\t{q[1]}\n" for q in qs)
        with open(restricted, "w") as f:
            f.writelines(f"{q[0]}\tlist:users ({q[1]})\n" for q in qs)
        rows = {}
        for i in range(2):
            rows.setdefault("whole_all_lists", []).append(latency(a, a.data, plain))
            rows.setdefault("whole_list_users", []).append(latency(a, a.data, restricted))
            rows.setdefault("users_alone", []).append(latency(a, halves["users"], plain))
            rows.setdefault("rest_alone", []).append(latency(a, halves["rest"], plain))
            log("split round", i + 1, {k: v[-1]["overall"] for k, v in rows.items()})
    res["split"] = {"whole": a.data, "halves": halves, "rounds": rows,
                    "messages": {k: messages(a.bin, v) for k, v in halves.items()}}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", required=True)
    ap.add_argument("--examples", required=True, help="directory with query_latency")
    ap.add_argument("--corpus", help="mail to index for the 'index' part (e.g. the 100k corpus)")
    ap.add_argument("--data", required=True, help="an indexed data directory (e.g. 1M) for latency/cold/split")
    ap.add_argument("--load-data", help="data directory for the 'load' part (default --data)")
    ap.add_argument("--load-secs", type=int, default=20)
    ap.add_argument("--split-mail", help="the directory --data was indexed from (for 'split')")
    ap.add_argument("--queries", default=os.path.join(HERE, "queries.tsv"))
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--index-runs", type=int, default=2)
    ap.add_argument("--work", default="/tmp")
    ap.add_argument("--skip", default="", help="comma-separated parts to skip")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    a.load_data = a.load_data or a.data
    os.makedirs(a.work, exist_ok=True)
    skip = set(filter(None, a.skip.split(",")))
    res = json.load(open(a.out)) if os.path.exists(a.out) else {}
    res["machine"] = {"nproc": os.cpu_count(), "loadavg_start": open("/proc/loadavg").read().split()[:3]}
    res["command"] = " ".join(sys.argv)
    for name, fn in (("index", part_index), ("latency", part_latency), ("load", part_load),
                     ("cold", part_cold), ("split", part_split)):
        if name in skip:
            continue
        res[name + "_started"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        fn(a, res)
        with open(a.out, "w") as f:
            json.dump(res, f, indent=1)
    log("wrote", a.out)


if __name__ == "__main__":
    main()
