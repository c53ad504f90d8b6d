#!/usr/bin/env python3
"""What a `search` tool call over MCP costs beyond the JSON API's own search.

    python3 bench/mcp_overhead.py --data DATA_DIR [--rounds 10] [--gleaner BIN]

Starts `gleaner serve --no-auth --search-cache 0` on 127.0.0.1 (a free port)
over an indexed data directory, makes an admin user and an API token, then
for every query of bench/queries.tsv asks, in turn over two keep-alive
connections, `GET /api/search?limit=20&q=Q` (hits, facets, timeline) and
`POST /mcp` tools/call `search` with the same query, results=messages,
limit 20, facets on. Prints p50/p95 of both and p50 of the difference per
query (send to last byte of the answer). Stops the server when done.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from http_latency import free_port  # noqa: E402
from run import load_queries  # noqa: E402


def timed(conn, method, path, body=None, headers=None) -> float:
    started = time.perf_counter()
    conn.request(method, path, body=body, headers=headers or {})
    answer = conn.getresponse()
    data = answer.read()
    took = (time.perf_counter() - started) * 1000
    if answer.status != 200 or b'"isError":true' in data:
        raise SystemExit(f"{method} {path}: HTTP {answer.status}: {data[:300]!r}")
    return took


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--gleaner", default="target/release/gleaner")
    args = ap.parse_args()
    g = [args.gleaner, "--data", args.data]
    subprocess.run(g + ["user", "add", "mcp-bench", "--role", "admin", "--password-stdin"],
                   input=b"bench\n", capture_output=True)
    subprocess.run(g + ["token", "revoke", "mcp-bench"], capture_output=True)
    token = subprocess.run(g + ["token", "create", "mcp-bench", "--user", "mcp-bench"],
                           capture_output=True, check=True).stdout.decode().strip()
    port = free_port()
    with tempfile.NamedTemporaryFile("w", suffix=".toml") as cfg:
        # No rate limit while measuring.
        cfg.write("[mcp]\nrate_per_minute = 0\n")
        cfg.flush()
        server = subprocess.Popen(g + ["--config", cfg.name, "serve", "--no-auth", "--search-cache", "0",
                                       "--listen", f"127.0.0.1:{port}"],
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        try:
            server.stdout.readline()
            api = http.client.HTTPConnection("127.0.0.1", port)
            mcp = http.client.HTTPConnection("127.0.0.1", port)
            headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
            queries = [q["gleaner"] for q in load_queries(Path(__file__).parent / "queries.tsv")]
            api_ms, mcp_ms, diff = [], [], []
            for rnd in range(args.rounds + 1):
                for i, q in enumerate(queries):
                    a = timed(api, "GET", "/api/search?limit=20&q=" + urllib.parse.quote(q))
                    body = json.dumps({"jsonrpc": "2.0", "id": i, "method": "tools/call", "params": {
                        "name": "search", "arguments": {"query": q, "results": "messages", "limit": 20,
                                                        "facets": True, "max_chars": 100000}}})
                    m = timed(mcp, "POST", "/mcp", body, headers)
                    if rnd:  # round 0 warms up
                        api_ms.append(a)
                        mcp_ms.append(m)
                        diff.append(m - a)
            print(f"{len(queries)} queries x {args.rounds} rounds")
            print(f"/api/search     p50 {statistics.median(api_ms):.2f} ms  p95 {pct(api_ms, 0.95):.2f} ms")
            print(f"/mcp search     p50 {statistics.median(mcp_ms):.2f} ms  p95 {pct(mcp_ms, 0.95):.2f} ms")
            print(f"mcp - api       p50 {statistics.median(diff):.2f} ms")
        finally:
            server.terminate()
            server.wait()


if __name__ == "__main__":
    main()
