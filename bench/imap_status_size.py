#!/usr/bin/env python3
"""bench/imap_status_size.py: what STATUS (SIZE) costs on gleaner's IMAP server.

Starts `gleaner serve` with `[imap] listen = "127.0.0.1:0"` on an indexed data
directory, logs in, and times over a raw socket:

  status_messages  STATUS <mailbox> (MESSAGES)        (no sizes needed)
  status_size_1st  the first STATUS <mailbox> (SIZE)  (measures every message)
  status_size_next STATUS <mailbox> (SIZE) again      (median of --runs)
  fetch_sizes      FETCH 1:* (RFC822.SIZE) after SELECT, and whether its sum
                   equals the STATUS SIZE figure

usage: bench/imap_status_size.py --gleaner target/debug/gleaner --data DATA
         --user admin --password pw [--mailbox INBOX] [--runs 5]
Python 3.9+ standard library only.
"""
import argparse
import json
import os
import re
import socket
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from imap_server import start_server  # noqa: E402


def run(s, f, tag, cmd):
    s.sendall(f"{tag} {cmd}\r\n".encode())
    lines = []
    while True:
        line = f.readline().decode("latin-1")
        lines.append(line)
        if line.startswith(tag + " "):
            return lines


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--gleaner", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--user", default="admin")
    p.add_argument("--password", default="pw")
    p.add_argument("--mailbox", default="INBOX")
    p.add_argument("--runs", type=int, default=5)
    args = p.parse_args()
    proc, port = start_server(args.gleaner, args.data)
    try:
        s = socket.create_connection(("127.0.0.1", port))
        f = s.makefile("rb")
        f.readline()
        run(s, f, "l", f"LOGIN {args.user} {args.password}")
        box = json.dumps(args.mailbox)
        out = {}

        def timed(tag, cmd):
            t = time.perf_counter()
            lines = run(s, f, tag, cmd)
            return (time.perf_counter() - t) * 1000, lines

        out["status_messages_ms"], _ = timed("m", f"STATUS {box} (MESSAGES)")
        out["status_size_1st_ms"], lines = timed("a", f"STATUS {box} (MESSAGES SIZE)")
        size = int(re.search(r"SIZE (\d+)", lines[0]).group(1))
        again = [timed(f"b{i}", f"STATUS {box} (SIZE)")[0] for i in range(args.runs)]
        out["status_size_next_ms"] = statistics.median(again)
        run(s, f, "s", f"EXAMINE {box}")
        ms, lines = timed("f", "FETCH 1:* (RFC822.SIZE)")
        sizes = [int(m.group(1)) for m in (re.search(r"RFC822\.SIZE (\d+)", x) for x in lines) if m]
        out.update(messages=len(sizes), status_size=size, fetch_size_sum=sum(sizes),
                   equal=size == sum(sizes), fetch_sizes_ms=ms)
        print(json.dumps(out, indent=1))
    finally:
        proc.terminate()
        proc.wait()


if __name__ == "__main__":
    main()
