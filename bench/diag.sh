#!/usr/bin/env bash
# Issue 12 closing note: keystroke-to-markers latency at another client (diag-latency,
# 1,000- and 10,000-line TypeScript, 1 and 2 gateways) and edit-storm with diagnostics on vs
# off (--diagnostics-workers 0), interleaved x3, each storm on a fresh gateway. Starts its own
# redis-server on a free loopback port (never 6379). Run from the repository root after
# `cargo build --release -p collab-server -p collab-load`; CARGO_TARGET_DIR is honoured.
# Writes raw outputs under $OUT (default bench/results/diag) and summary.txt there.
# PARSE_COST_DIR: a tree whose collab-syntax has the parse_cost example (default: this one;
# "" skips it).
set -euo pipefail
OUT=${OUT:-bench/results/diag}
PROBES=${PROBES:-200}
. "$(dirname "$0")/lib.sh"

REDIS_PORT=$(free_ports 1)
redis_up "$REDIS_PORT"
REDIS_PID=$(cat "$OUT/redis-$REDIS_PORT.pid")
trap 'kill $REDIS_PID 2>/dev/null || true' EXIT
REDIS=redis://127.0.0.1:$REDIS_PORT

# Every gateway of this script uses the one Redis.
gw() { local name=$1; shift; start_gw "$name" --redis-url "$REDIS" "$@"; }
metrics() { # name: the gateway's diagnostics metrics now
  curl -s "http://$(addr "$1")/metrics" | grep -E '^collab_diagnostics_(parses_total|cache_total|parse_seconds_(sum|count))' > "$OUT/$1.metrics" || true
}

if [ "${PART:-all}" != storm ]; then
  gw diag-a; gw diag-b
  A=$(addr diag-a); B=$(addr diag-b)
  for lines in 1000 10000; do
    $LOAD diag-latency --target "ws://$A/doc" --lines $lines --probes "$PROBES" \
        --pid "$(cat "$OUT/diag-a.pid")" --pid "$REDIS_PID" \
        --json "$OUT/latency-1gw-$lines.json" > "$OUT/latency-1gw-$lines.txt" 2> "$OUT/latency-1gw-$lines.stderr" \
        || echo "exit $? (1gw $lines)"
    $LOAD diag-latency --target "ws://$A/doc" --target "ws://$B/doc" --lines $lines --probes "$PROBES" \
        --pid "$(cat "$OUT/diag-a.pid")" --pid "$(cat "$OUT/diag-b.pid")" --pid "$REDIS_PID" \
        --json "$OUT/latency-2gw-$lines.json" > "$OUT/latency-2gw-$lines.txt" 2> "$OUT/latency-2gw-$lines.stderr" \
        || echo "exit $? (2gw $lines)"
    echo "done diag-latency $lines"
  done
  stop_gw diag-a; stop_gw diag-b
  redis-cli -p "$REDIS_PORT" flushall > /dev/null
fi

if [ "${PART:-all}" != latency ]; then
  for round in 1 2 3; do
    for mode in on off; do
      name=storm-$mode-$round
      if [ $mode = on ]; then gw $name; else gw $name --diagnostics-workers 0; fi
      A=$(addr $name)
      $LOAD edit-storm --target "ws://$A/doc" --editors "${EDITORS:-500}" --files "${FILES:-50}" \
          --duration "${DURATION:-30}" --user-per-editor --ext diagnostics --file-suffix .ts \
          --pid "$(cat "$OUT/$name.pid")" --pid "$REDIS_PID" \
          --json "$OUT/$name.json" > "$OUT/$name.txt" 2> "$OUT/$name.stderr" || echo "exit $? ($mode $round)"
      metrics $name
      stop_gw $name
      redis-cli -p "$REDIS_PORT" flushall > /dev/null
      echo "done storm $mode $round"
    done
  done
fi

if [ -n "${PARSE_COST_DIR-.}" ] && [ "${PART:-all}" = all ]; then
  (cd "${PARSE_COST_DIR:-.}" && nice -n 10 cargo run -q --release -p collab-syntax --example parse_cost) \
      > "$OUT/parse_cost.txt" 2> "$OUT/parse_cost.stderr" || echo "parse_cost failed (see parse_cost.stderr)"
fi

python3 bench/summarize.py --diag "$OUT" | tee "$OUT/summary.txt"
