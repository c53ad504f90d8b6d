#!/usr/bin/env bash
# Load benchmark of the JSON API: 32 concurrent clients for 60 s against
# `gleaner serve` on an existing data directory (e.g. one indexed from the 100k corpus).
#   bench/api_load.sh DATA_DIR [SECONDS] [CONNECTIONS]
# SEARCH_CACHE=0 turns the server's answer cache off (default: the server's default).
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:?usage: bench/api_load.sh DATA_DIR [SECONDS] [CONNECTIONS]}
secs=${2:-60}
conns=${3:-32}
port=$((20000 + RANDOM % 20000))
bin=${GLEANER:-target/release/gleaner}
"$bin" --data "$data" serve --no-auth --listen "127.0.0.1:$port" ${SEARCH_CACHE:+--search-cache "$SEARCH_CACHE"} > /tmp/gleaner-api-load.log 2>&1 &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$port/api/stats" > /dev/null && break
  sleep 0.1
done
echo "messages: $(curl -s "http://127.0.0.1:$port/api/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["messages"])')"
first_page=0
for f in / /style.css /app.js $(cd web && ls js/*.js | sed 's|^|/|'); do
  n=$(curl -s "http://127.0.0.1:$port$f" | wc -c)
  first_page=$((first_page + n))
done
echo "first page (index.html + style.css + every module): $first_page bytes"
# The server's CPU seconds (user + system) over the run, per answer: a figure
# that other load on the machine disturbs less than the rate.
cpu() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
before=$(cpu)
wrk -t2 -c"$conns" -d"${secs}s" --latency -s bench/api_load.lua "http://127.0.0.1:$port" | tee /tmp/gleaner-api-load.wrk
after=$(cpu)
answers=$(awk '/requests in/ {print $1}' /tmp/gleaner-api-load.wrk)
python3 -c "import os,sys; t=os.sysconf('SC_CLK_TCK'); c=($after-$before)/t; n=int('$answers'); print(f'server CPU: {c:.2f} s for {n} answers = {1000*c/max(n,1):.3f} ms per answer')"
