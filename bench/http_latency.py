#!/usr/bin/env python3
"""End-to-end latency of the JSON API, one client, no answer cache.

    python3 bench/http_latency.py --data DATA_DIR [--rounds 10] [--gleaner BIN]

Starts `gleaner serve --no-auth --search-cache 0` on 127.0.0.1 (a free port)
over an existing data directory, asks `/api/search?limit=20&q=Q` for every
gleaner query of bench/queries.tsv once to warm up, then `--rounds` times over
one keep-alive connection, and prints p50, p95 and p99 of the request time
(send to last byte of the JSON answer). Stops the server when done.
"""

from __future__ import annotations

import argparse
import http.client
import socket
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from run import load_queries  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ask(conn: http.client.HTTPConnection, query: str) -> float:
    started = time.perf_counter()
    conn.request("GET", "/api/search?limit=20&q=" + urllib.parse.quote(query))
    answer = conn.getresponse()
    body = answer.read()
    if answer.status != 200:
        raise SystemExit(f"{query!r}: HTTP {answer.status}: {body[:200]!r}")
    return (time.perf_counter() - started) * 1000


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="gleaner data directory to serve")
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--gleaner", default=str(Path(__file__).parent.parent / "target/release/gleaner"))
    ap.add_argument("--queries", type=Path, default=Path(__file__).with_name("queries.tsv"))
    args = ap.parse_args()
    queries = [q["gleaner"] for q in load_queries(args.queries)]
    port = free_port()
    server = subprocess.Popen([args.gleaner, "--data", args.data, "serve", "--no-auth", "--search-cache", "0",
                               "--listen", f"127.0.0.1:{port}"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(300):
            try:
                probe = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                probe.request("GET", "/api/stats")
                probe.getresponse().read()
                break
            except OSError:
                if server.poll() is not None:
                    raise SystemExit(f"gleaner serve exited {server.returncode}")
                time.sleep(0.1)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        for q in queries:
            ask(conn, q)
        times = sorted(ask(conn, q) for _ in range(args.rounds) for q in queries)
    finally:
        server.terminate()
        server.wait()
    pick = lambda p: times[min(len(times) - 1, int(len(times) * p))]  # noqa: E731
    print(f"/api/search, {len(times)} requests ({len(queries)} queries x {args.rounds}): "
          f"p50 {pick(0.5):.2f} ms, p95 {pick(0.95):.2f} ms, p99 {pick(0.99):.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
