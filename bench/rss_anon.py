#!/usr/bin/env python3
# Used beside bench/scale.py (issue 22): python3 bench/rss_anon.py & ; writes /work/scale/rss-anon.json.
"""Samples RssAnon/RssFile of every running `gleaner ... index` once a second; keeps the peak per pid."""
import os, time, json
peak = {}
out = "/work/scale/rss-anon.json"
while True:
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmd = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")
            if not cmd or not cmd[0].endswith(b"gleaner") or b"index" not in cmd:
                continue
            st = dict(l.split(":", 1) for l in open(f"/proc/{pid}/status").read().splitlines() if ":" in l)
            anon = int(st["RssAnon"].split()[0]); f = int(st["RssFile"].split()[0])
        except (OSError, KeyError, ValueError):
            continue
        p = peak.setdefault(pid, {"cmd": b" ".join(cmd).decode(errors="replace"), "anon_kb": 0, "file_kb": 0, "total_kb": 0, "first": time.time()})
        p["anon_kb"] = max(p["anon_kb"], anon); p["file_kb"] = max(p["file_kb"], f); p["total_kb"] = max(p["total_kb"], anon + f); p["last"] = time.time()
    json.dump(peak, open(out + ".tmp", "w"), indent=1); os.replace(out + ".tmp", out)
    time.sleep(1)
