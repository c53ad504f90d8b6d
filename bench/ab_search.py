#!/usr/bin/env python3
"""CLI search latency of one or more gleaner binaries, side by side.

    python3 bench/ab_search.py --data DATA_DIR BIN [BIN ...] [--rounds 5]

Runs `BIN search --data DATA_DIR --limit 20 Q` for every gleaner query of
bench/queries.tsv, the binaries interleaved query by query (so that the
machine's speed swings hit all alike), `--rounds` times, and prints p50 and p95
of the wall time of one call (process start to exit) per binary. Used to
compare builds before and after a change to the search path.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path


def queries(path: Path) -> list[str]:
    """The gleaner column of a query set (the same reader as bench/run.py)."""
    sys.path.insert(0, str(Path(__file__).parent))
    from run import load_queries  # noqa: E402

    return [q["gleaner"] for q in load_queries(path)]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="gleaner data directory to search")
    ap.add_argument("--queries", type=Path, default=Path(__file__).with_name("queries.tsv"))
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("binaries", nargs="+")
    args = ap.parse_args()
    qs = queries(args.queries)
    times: dict[str, list[float]] = {b: [] for b in args.binaries}
    for _ in range(args.rounds):
        for q in qs:
            for b in args.binaries:
                started = time.perf_counter()
                r = subprocess.run([b, "search", "--data", args.data, "--limit", "20", q],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                times[b].append((time.perf_counter() - started) * 1000)
                if r.returncode != 0:
                    print(f"{b}: search {q!r} exited {r.returncode}", file=sys.stderr)
                    return 1
    for b, xs in times.items():
        xs.sort()
        print(f"{b}: p50 {xs[len(xs) // 2]:.2f} ms, p95 {xs[int(len(xs) * 0.95)]:.2f} ms, "
              f"{len(xs)} calls ({len(qs)} queries x {args.rounds} rounds)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
