#!/usr/bin/env bash
# Issue 13 closing note: edit-storm at its full (issue-5) preset against one Redis and
# against a Redis Cluster of 3 masters + 3 replicas, two gateways each, interleaved
# $ROUNDS times (default 3), each run on fresh gateways. CPU is read per process, so every
# Redis node's CPU per edit shows how the load spreads over the masters. Starts every
# redis-server itself on free loopback ports (never 6379; cluster ports below 55536, as the
# bus port is port + 10000). Run from the repository root after
# `cargo build --release -p collab-server -p collab-load`; CARGO_TARGET_DIR is honoured.
# Writes raw outputs under $OUT (default bench/results/cluster); summarize with
# `python3 bench/summarize.py --cluster bench/results/cluster`.
set -euo pipefail
OUT=${OUT:-bench/results/cluster}
ROUNDS=${ROUNDS:-3}
STORM_FLAGS=${STORM_FLAGS:-} # e.g. "--duration 20" for a quick look; empty = the full preset
. "$(dirname "$0")/lib.sh"
REDIS_DIR=$(mktemp -d)
rm -f "$OUT"/redis-*.pid # an earlier run's, whose pids may be anybody's now
cleanup() {
  for f in "$OUT"/redis-*.pid; do kill "$(cat "$f")" 2>/dev/null || true; done
  rm -rf "$REDIS_DIR"
}
trap cleanup EXIT

read -r -a PORTS <<< "$(free_ports 7)"
SINGLE_PORT=${PORTS[0]}
NODE_PORTS=("${PORTS[@]:1}")

redis_up "$SINGLE_PORT"
for p in "${NODE_PORTS[@]}"; do
  redis_up "$p" --cluster-enabled yes --cluster-config-file "nodes-$p.conf" --cluster-node-timeout 2000
done
redis-cli --cluster create $(printf '127.0.0.1:%s ' "${NODE_PORTS[@]}") --cluster-replicas 1 --cluster-yes \
    > "$OUT/cluster-create.log"
for _ in $(seq 200); do
  ok=1
  for p in "${NODE_PORTS[@]}"; do
    redis-cli -p "$p" cluster info | grep -q 'cluster_state:ok' || ok=0
  done
  [ $ok = 1 ] && break
  sleep 0.1
done
[ $ok = 1 ] || { echo "cluster did not reach cluster_state:ok" >&2; exit 1; }
# Which node is a master, for the summary: "port role" lines.
for p in "${NODE_PORTS[@]}"; do
  echo "$p $(redis-cli -p "$p" role | head -1) $(cat "$OUT/redis-$p.pid")"
done > "$OUT/nodes.txt"
SEEDS=$(printf 'redis://127.0.0.1:%s,' "${NODE_PORTS[@]}"); SEEDS=${SEEDS%,}

storm() { # mode (single|cluster), round
  local mode=$1 round=$2 flags redis_pids=()
  if [ "$mode" = single ]; then
    flags=(--redis-url "redis://127.0.0.1:$SINGLE_PORT")
    redis_pids=("$(cat "$OUT/redis-$SINGLE_PORT.pid")")
  else
    flags=(--redis-cluster --redis-url "$SEEDS")
    for p in "${NODE_PORTS[@]}"; do redis_pids+=("$(cat "$OUT/redis-$p.pid")"); done
  fi
  start_gw "$mode-$round-a" "${flags[@]}"; start_gw "$mode-$round-b" "${flags[@]}"
  local pid_flags=(--pid "$(cat "$OUT/$mode-$round-a.pid")" --pid "$(cat "$OUT/$mode-$round-b.pid")")
  for p in "${redis_pids[@]}"; do pid_flags+=(--pid "$p"); done
  # shellcheck disable=SC2086
  $LOAD edit-storm --target "ws://$(addr "$mode-$round-a")/doc" --target "ws://$(addr "$mode-$round-b")/doc" \
      "${pid_flags[@]}" $STORM_FLAGS --json "$OUT/storm-$mode-$round.json" \
      > "$OUT/storm-$mode-$round.txt" 2> "$OUT/storm-$mode-$round.stderr" || echo "exit $? ($mode $round)"
  stop_gw "$mode-$round-a"; stop_gw "$mode-$round-b"
  if [ "$mode" = single ]; then
    redis-cli -p "$SINGLE_PORT" flushall > /dev/null
  else
    while read -r port role _; do
      [ "$role" = master ] && redis-cli -p "$port" flushall > /dev/null
    done < "$OUT/nodes.txt"
  fi
  echo "done $mode $round"
}

for round in $(seq "$ROUNDS"); do
  storm single "$round"
  storm cluster "$round"
done
