#!/usr/bin/env python3
"""Re-packs big .mbox.zst files into pieces of about --piece-mib MiB each (.mbox.zst).

Why: `gleaner index` re-reads a message from its store when a conversation merge moves
it (src/index/writer.rs, `reread`), and `gleaner verify` reads back every message; for
a compressed mbox each such read decompresses the file from its start up to the
message. With one 700 MB mbox per list that made indexing a generated million from
`.mbox.zst` go at ~670 msgs/s (bench/scale.py, docs/BENCHMARKS.md "Twenty million
messages"). Pieces of a few MiB bound each read, as a list archive in monthly files
(Mailman's `2019-March.txt.gz`) does.

Splits only at lines starting with "From " (the generator quotes such body lines),
so every message is kept whole and in order.

  python3 bench/split_mbox.py --src /work/scale/mail --dst /work/scale/mail4m --seeds 101-120 --wait
"""

import argparse
import os
import shutil
import subprocess
import sys
import time

BLOCK = 8 << 20


def pieces(path, size):
    """Yields byte strings of about `size` bytes, each starting at a From_ line."""
    p = subprocess.Popen(["zstd", "-q", "-dc", path], stdout=subprocess.PIPE)
    buf = b""
    while True:
        chunk = p.stdout.read(BLOCK)
        buf += chunk
        while len(buf) > size:
            cut = buf.find(b"\nFrom ", size)
            if cut < 0:
                break
            yield buf[: cut + 1]
            buf = buf[cut + 1:]
        if not chunk:
            if buf:
                yield buf
            break
    if p.wait() != 0:
        raise SystemExit(f"zstd -dc {path} failed")


def split_shard(src, dst, size):
    tmp = dst + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    n = 0
    for f in sorted(os.listdir(src)):
        if not f.endswith(".mbox.zst"):
            continue
        stem = f[: -len(".mbox.zst")]
        for i, piece in enumerate(pieces(os.path.join(src, f), size)):
            out = os.path.join(tmp, f"{stem}-{i:04d}.mbox.zst")
            subprocess.run(["zstd", "-q", "-3", "-o", out], input=piece, check=True)
            n += 1
    os.rename(tmp, dst)
    return n


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--src", default="/work/scale/mail")
    ap.add_argument("--dst", default="/work/scale/mail4m")
    ap.add_argument("--seeds", default="101-120")
    ap.add_argument("--piece-mib", type=float, default=4)
    ap.add_argument("--wait", action="store_true", help="wait for shards that are not there yet")
    a = ap.parse_args()
    lo, hi = (int(x) for x in a.seeds.split("-"))
    os.makedirs(a.dst, exist_ok=True)
    for seed in range(lo, hi + 1):
        src, dst = os.path.join(a.src, f"s{seed}"), os.path.join(a.dst, f"s{seed}")
        if os.path.isdir(dst):
            continue
        while not os.path.isdir(src):
            if not a.wait:
                sys.exit(f"{src} missing")
            time.sleep(15)
        t = time.time()
        n = split_shard(src, dst, int(a.piece_mib * (1 << 20)))
        print(f"s{seed}: {n} pieces in {time.time() - t:.0f} s", flush=True)


if __name__ == "__main__":
    main()
