#!/usr/bin/env python3
"""Review-queue figures for issue "Knowledge harvest".

Measures, on an already indexed data directory:
  * computing a whole review queue from scratch (`gleaner review queue POLICY
    --limit 0 --json` in a new process: opens the index and the database,
    harvests every thread, scores, prints), median of --runs;
  * the same through the API: the first GET (harvest) and a cached GET;
  * the triage round trip: POST a decision over HTTP/1.1 keep-alive, one
    thread after another, p50/p95/p99 over --decisions decisions, and undo.

Usage:
  python3 bench/harvest.py --data /work/bench-corpus/data100k \
      --bin target/release/gleaner --older-than 2y --runs 5 --decisions 300

Writes bench/out/harvest-<name>.json and prints a Markdown table.
"""

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time


def percentile(xs, p):
    xs = sorted(xs)
    if not xs:
        return float("nan")
    k = (len(xs) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--bin", default="target/release/gleaner")
    ap.add_argument("--older-than", default="2y")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--decisions", type=int, default=300)
    ap.add_argument("--name", default=None)
    args = ap.parse_args()
    name = args.name or os.path.basename(os.path.normpath(args.data))

    cfg = tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False)
    port = free_port()
    cfg.write(
        f'data = "{os.path.abspath(args.data)}"\n[http]\nlisten = "127.0.0.1:{port}"\nauth = false\n'
        f'[[review]]\nname = "bench"\nolder_than = "{args.older_than}"\n'
    )
    cfg.close()
    base = [args.bin, "--config", cfg.name]

    # 1. Whole queue from scratch, new process each time.
    walls, threads = [], 0
    for _ in range(args.runs):
        t = time.perf_counter()
        out = subprocess.run(base + ["review", "queue", "bench", "--limit", "0", "--json", "--all"],
                             check=True, capture_output=True)
        walls.append(time.perf_counter() - t)
        threads = out.stdout.count(b"\n")
    first_line = json.loads(out.stdout.split(b"\n", 1)[0]) if threads else {}

    # 2. The API: first (harvest) and cached GETs; triage round trips.
    server = subprocess.Popen(base + ["serve"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        conn = http.client.HTTPConnection("127.0.0.1", port)

        def req(method, path, body=None, csrf=None):
            headers = {"Content-Type": "application/json"} if body is not None else {}
            if csrf:
                headers["X-CSRF-Token"] = csrf
            t = time.perf_counter()
            conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
            res = conn.getresponse()
            data = res.read()
            dt = time.perf_counter() - t
            if res.status != 200:
                sys.exit(f"{method} {path}: {res.status} {data[:200]!r}")
            return json.loads(data), dt

        csrf = req("GET", "/api/me")[0]["csrf_token"]
        q, first_get = req("GET", "/api/review/queues/bench?limit=50")
        q = req("GET", "/api/review/queues/bench?limit=1000")[0]
        _, cached_get = req("GET", "/api/review/queues/bench?limit=50")
        todo = [i["thread_id"] for i in q["items"]][: args.decisions]
        rtts = []
        for n, t in enumerate(todo):
            decision = ["keep", "dismiss"][n % 2]  # promotions would invalidate the cache by design
            _, dt = req("POST", "/api/review/queues/bench/decisions",
                        {"threads": [t], "decision": decision}, csrf)
            rtts.append(dt)
        undo = []
        for _ in range(min(20, len(todo))):
            _, dt = req("POST", "/api/review/queues/bench/undo", {}, csrf)
            undo.append(dt)
        _, promote_dt = req("POST", "/api/review/queues/bench/decisions",
                            {"threads": [todo[-1]], "decision": "promote"}, csrf)
        _, after_promote = req("GET", "/api/review/queues/bench?limit=50")
    finally:
        server.terminate()
        server.wait()
        os.unlink(cfg.name)

    result = {
        "data": args.data,
        "older_than": args.older_than,
        "threads_in_queue": threads,
        "queue_cli_median_s": statistics.median(walls),
        "queue_cli_runs_s": walls,
        "api_first_get_ms": first_get * 1000,
        "api_cached_get_ms": cached_get * 1000,
        "api_get_after_promote_ms": after_promote * 1000,
        "decide_ms": {"p50": percentile(rtts, 50) * 1000, "p95": percentile(rtts, 95) * 1000,
                      "p99": percentile(rtts, 99) * 1000, "max": max(rtts) * 1000, "n": len(rtts)},
        "undo_ms_p50": percentile(undo, 50) * 1000,
        "promote_ms": promote_dt * 1000,
        "top_item": {k: first_line.get(k) for k in ("thread_id", "score", "messages")},
    }
    os.makedirs("bench/out", exist_ok=True)
    with open(f"bench/out/harvest-{name}.json", "w") as f:
        json.dump(result, f, indent=2)
    d = result["decide_ms"]
    print(f"| queue of {threads} threads, new process (`review queue --limit 0`) | "
          f"{result['queue_cli_median_s']:.2f} s median of {args.runs} |")
    print(f"| same through the API: first GET / cached GET / GET after a promotion | "
          f"{result['api_first_get_ms']:.0f} / {result['api_cached_get_ms']:.1f} / {result['api_get_after_promote_ms']:.0f} ms |")
    print(f"| triage round trip (POST decision, keep-alive), n={d['n']} | "
          f"p50 {d['p50']:.1f} ms, p95 {d['p95']:.1f} ms, p99 {d['p99']:.1f} ms, max {d['max']:.1f} ms |")
    print(f"| undo round trip | p50 {result['undo_ms_p50']:.1f} ms |")


if __name__ == "__main__":
    main()
