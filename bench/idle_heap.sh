#!/usr/bin/env bash
# Issue 23: what one idle connection costs a gateway, heap and RSS, read from the gateway
# itself (`collab_allocator_bytes{kind="allocated"}` on /metrics: glibc's mallinfo2) while
# the connections are open, not after they closed.
#
#   bench/idle_heap.sh LABEL GWBIN [CONNS [FILES]]
#
# One Redis (no persistence), one gateway (--auth none), `collab-load idle` with CONNS
# connections (1000) over FILES files (1: one room, so the figure is the connection's own;
# the delivery.sh `idle` preset uses 100 files, 10 connections a room). Prints heap and RSS
# before and after, per connection, into $OUT/heap-LABEL.txt. With a `--features
# dhat-heap` gateway and DHAT=1, the gateway gets SIGUSR2 while the connections are open
# and its heap profile lands in $OUT/dhat-LABEL.json (live blocks by allocation site).
set -euo pipefail
OUT=${OUT:-bench/results/idle-memory}
source "$(dirname "$0")/lib.sh"
OUT=$(realpath "$OUT")
LABEL=$1; GWB=$(realpath "$2"); CONNS=${3:-1000}; FILES=${4:-1}
LOAD=${LOADBIN:-$LOAD}
trap 'for p in "$OUT"/*.pid; do [ -e "$p" ] && kill "$(cat "$p")" 2>/dev/null; rm -f "$p"; done' EXIT

read -r R <<< "$(free_ports 1)"
redis_up "$R"
# From $OUT: a dhat build writes its profile into its working directory.
(cd "$OUT" && GW=$GWB start_gw gw1 --redis-url "redis://127.0.0.1:$R")
A=$(addr gw1); P=$(cat "$OUT/gw1.pid")
metric() { curl -s "http://$A/metrics" | awk -v k="$1" 'index($0, k " ") == 1 {print $2}'; }
allocated() { metric 'collab_allocator_bytes{kind="allocated"}'; }
rss() { awk '/VmRSS/{print $2 * 1024}' "/proc/$P/status"; }
sleep 1
heap0=$(allocated); rss0=$(rss)
$LOAD idle --connections "$CONNS" --files "$FILES" --settle 8 --target "ws://$A/doc" \
  --pid "$P" > "$OUT/heap-$LABEL.load.txt" 2>&1 &
load=$!
# Read while every connection is open (the load holds them for --settle seconds).
for _ in $(seq 600); do
  [ "$(metric 'collab_table_entries{table="sessions"}')" = "$CONNS" ] && break
  sleep 0.1
done
sleep 2
heap1=$(allocated); rss1=$(rss)
if [ -n "${DHAT:-}" ]; then
  kill -USR2 "$P"
  for _ in $(seq 300); do [ -s "$OUT/dhat-heap-$P.json" ] && break; sleep 0.2; done
  sleep 2; mv "$OUT/dhat-heap-$P.json" "$OUT/dhat-$LABEL.json"
fi
wait "$load"
python3 - "$LABEL" "$CONNS" "$FILES" "${heap0:-}" "${heap1:-}" "$rss0" "$rss1" <<'PY' | tee "$OUT/heap-$LABEL.txt"
import sys
label, n, files, r0, r1 = sys.argv[1], *map(int, sys.argv[2:4]), *map(int, sys.argv[6:8])
h0, h1 = sys.argv[4:6]
print(f"{label}: {n} idle connections on {files} file(s), one gateway")
if h0 and h1:  # a dhat build reports no allocator figures
    h0, h1 = int(h0), int(h1)
    print(f"  heap allocated {h0} -> {h1} B: {(h1 - h0) / n:.0f} B per connection")
print(f"  RSS            {r0} -> {r1} B: {(r1 - r0) / n:.0f} B per connection")
PY
stop_gw gw1
redis-cli -p "$R" shutdown nosave > /dev/null 2>&1 || true
rm -f "$OUT/redis-$R.pid" "$OUT/redis-$R.log" "$OUT/gw1.out" "$OUT/gw1.err"
