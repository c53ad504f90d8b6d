#!/usr/bin/env python3
"""Archiving and backup figures for issue "Longevity".

archive: copies an indexed data directory, then `gleaner archive run` with one
policy that makes every message due (remove_from_live = false, so the mail
store is not touched). Reports MB/s of mail through volume writing (read,
mboxrd, zstd, SHA-256, seal, re-verify) and end to end (with indexing the
volume locations), next to `zstd -3 -T2` over the same bytes as the ceiling.

backup: serves the data directory, runs searches back to back over HTTP for
--baseline seconds, then runs `gleaner backup DEST` while the searches go on;
reports search latency p50/p99/max before and during the backup.

Usage:
  python3 bench/archive.py archive --data /work/bench-corpus/data100k --mail /work/bench-corpus/maildir100k
  python3 bench/archive.py backup --data /work/bench-corpus/data100k
"""

import argparse
import http.client
import json
import os
import shutil
import socket
import statistics
import subprocess
import tempfile
import threading
import time
import urllib.parse


def pct(xs, p):
    xs = sorted(xs)
    if not xs:
        return float("nan")
    k = (len(xs) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def archive(args):
    work = tempfile.mkdtemp(prefix="gleaner-archive-bench-")
    data = os.path.join(work, "data")
    shutil.copytree(args.data, data)
    cfg = os.path.join(work, "g.toml")
    with open(cfg, "w") as f:
        f.write(f'data = "{data}"\n[archive]\nvolume_size = "4.7GB"\n'
                '[[retention]]\nname = "everything"\narchive_after = "1d"\nremove_from_live = false\n')
    t = time.perf_counter()
    out = subprocess.run([args.bin, "--config", cfg, "archive", "run", "--json"], check=True,
                         capture_output=True).stdout
    wall = time.perf_counter() - t
    r = json.loads(out)
    mb = r["bytes"] / 1e6
    vol = sum(os.path.getsize(os.path.join(data, "archive", v + ".mbox.zst")) for v in r["volumes"])
    # Ceiling: zstd -3 on two threads over the same bytes.
    files = []
    for root, _, names in os.walk(args.mail):
        files += [os.path.join(root, n) for n in names]
    t = time.perf_counter()
    cat = subprocess.Popen(["xargs", "-0", "cat"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    z = subprocess.Popen(["zstd", "-3", "-T2", "-c"], stdin=cat.stdout, stdout=subprocess.DEVNULL)
    cat.stdin.write("\0".join(files).encode())
    cat.stdin.close()
    z.wait()
    zwall = time.perf_counter() - t
    res = {
        "messages": r["archived"], "mail_mb": mb, "volumes": len(r["volumes"]),
        "volume_mb": vol / 1e6, "ratio": r["bytes"] / max(vol, 1),
        "seconds_volumes": r["seconds_volumes"], "seconds_indexing": r["seconds_indexing"],
        "wall_s": wall, "volume_mb_per_s": mb / r["seconds_volumes"], "end_to_end_mb_per_s": mb / wall,
        "zstd_T2_mb_per_s": mb / zwall,
    }
    shutil.rmtree(work)
    os.makedirs("bench/out", exist_ok=True)
    with open(f"bench/out/archive-{args.name}.json", "w") as f:
        json.dump(res, f, indent=2)
    print(f"| {res['messages']} messages, {mb:.0f} MB of mail → {res['volumes']} volume(s) of {res['volume_mb']:.0f} MB (ratio {res['ratio']:.1f}) | |")
    print(f"| into sealed, re-verified volumes | {res['volume_mb_per_s']:.0f} MB/s ({r['seconds_volumes']:.1f} s) |")
    print(f"| end to end, with indexing the volume locations | {res['end_to_end_mb_per_s']:.0f} MB/s ({wall:.1f} s) |")
    print(f"| `cat \\| zstd -3 -T2` over the same files (ceiling) | {res['zstd_T2_mb_per_s']:.0f} MB/s |")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def backup(args):
    port = free_port()
    work = tempfile.mkdtemp(prefix="gleaner-backup-bench-")
    queries = []
    with open("bench/queries.tsv") as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            parts = line.rstrip("\n").split("\t")
            if len(parts) > 1 and parts[0] != "name":
                queries.append(parts[1])
    server = subprocess.Popen([args.bin, "--data", args.data, "serve", "--no-auth", "--listen",
                               f"127.0.0.1:{port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        lat = []  # (phase, seconds)
        phase = ["baseline"]
        stop = threading.Event()

        def loop():
            conn = http.client.HTTPConnection("127.0.0.1", port)
            i = 0
            while not stop.is_set():
                q = queries[i % len(queries)]
                i += 1
                t = time.perf_counter()
                conn.request("GET", "/api/search?limit=20&q=" + urllib.parse.quote(q))
                conn.getresponse().read()
                lat.append((phase[0], time.perf_counter() - t))

        th = threading.Thread(target=loop)
        th.start()
        time.sleep(args.baseline)
        phase[0] = "backup"
        t = time.perf_counter()
        subprocess.run([args.bin, "--data", args.data, "backup", os.path.join(work, "dest")], check=True,
                       capture_output=True)
        took = time.perf_counter() - t
        phase[0] = "after"
        time.sleep(1)
        stop.set()
        th.join()
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(work)
    res = {"backup_s": took}
    for ph in ("baseline", "backup"):
        xs = [s for p, s in lat if p == ph]
        res[ph] = {"n": len(xs), "p50_ms": pct(xs, 50) * 1000, "p99_ms": pct(xs, 99) * 1000, "max_ms": max(xs) * 1000}
    os.makedirs("bench/out", exist_ok=True)
    with open(f"bench/out/backup-{args.name}.json", "w") as f:
        json.dump(res, f, indent=2)
    b, d = res["baseline"], res["backup"]
    print(f"| searches before the backup (n={b['n']}) | p50 {b['p50_ms']:.1f} ms, p99 {b['p99_ms']:.1f} ms, max {b['max_ms']:.1f} ms |")
    print(f"| searches during `gleaner backup` ({took:.1f} s, n={d['n']}) | p50 {d['p50_ms']:.1f} ms, p99 {d['p99_ms']:.1f} ms, max {d['max_ms']:.1f} ms |")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["archive", "backup"])
    ap.add_argument("--data", required=True)
    ap.add_argument("--mail")
    ap.add_argument("--bin", default="target/release/gleaner")
    ap.add_argument("--baseline", type=float, default=10)
    ap.add_argument("--name", default="100k")
    args = ap.parse_args()
    archive(args) if args.what == "archive" else backup(args)


if __name__ == "__main__":
    main()
