#!/usr/bin/env bash
# Issue 21 closing note, in one sitting: `collab-load files-latency` (it starts its own
# redis-server and two gateways with --files dir), then edit-storm against two gateways
# with write-back on (--files dir on a fresh folder) vs off (--files none), interleaved x3,
# each storm on fresh gateways and a flushed Redis; gateway and Redis CPU per edit. Starts
# its own redis-server on a free loopback port (never 6379). Run from the repository root
# after `cargo build --release -p collab-server -p collab-load`; CARGO_TARGET_DIR is
# honoured. Raw outputs and summary.txt under $OUT (default bench/results/files).
set -euo pipefail
OUT=${OUT:-bench/results/files}
. "$(dirname "$0")/lib.sh"
OUT=$(cd "$OUT" && pwd)

if [ "${PART:-all}" != storm ]; then
  COLLAB_GATEWAY_BIN=$GW $LOAD files-latency ${PROBE_ARGS:-} --json "$OUT/latency.json" \
      > "$OUT/latency.txt" 2> "$OUT/latency.stderr" || echo "files-latency exit $?"
  cat "$OUT/latency.txt"
fi

if [ "${PART:-all}" != latency ]; then
  REDIS_PORT=$(free_ports 1)
  redis_up "$REDIS_PORT"
  REDIS_PID=$(cat "$OUT/redis-$REDIS_PORT.pid")
  FILES_ROOT=$(mktemp -d)
  trap 'kill $REDIS_PID 2>/dev/null || true; rm -rf "$FILES_ROOT"' EXIT
  REDIS=redis://127.0.0.1:$REDIS_PORT
  for round in 1 2 3; do
    for mode in dir none; do
      name=storm-$mode-$round
      if [ $mode = dir ]; then
        mkdir -p "$FILES_ROOT/$round"
        flags=(--files dir --files-dir "$FILES_ROOT/$round")
      else
        flags=(--files none)
      fi
      start_gw $name-a --redis-url "$REDIS" "${flags[@]}"
      start_gw $name-b --redis-url "$REDIS" "${flags[@]}"
      $LOAD edit-storm --target "ws://$(addr $name-a)/doc" --target "ws://$(addr $name-b)/doc" \
          --editors "${EDITORS:-200}" --files "${FILES:-20}" --duration "${DURATION:-30}" \
          --pid "$(cat "$OUT/$name-a.pid")" --pid "$(cat "$OUT/$name-b.pid")" --pid "$REDIS_PID" \
          --json "$OUT/$name.json" > "$OUT/$name.txt" 2> "$OUT/$name.stderr" || echo "exit $? ($mode $round)"
      for gw in a b; do
        curl -s "http://$(addr $name-$gw)/metrics" | grep -E '^collab_file_writes_total' \
            > "$OUT/$name-$gw.metrics" || true
      done
      stop_gw $name-a; stop_gw $name-b
      redis-cli -p "$REDIS_PORT" flushall > /dev/null
      echo "done storm $mode $round"
    done
  done
  python3 - "$OUT" <<'PY' | tee "$OUT/summary.txt"
import json, pathlib, statistics, sys
out = pathlib.Path(sys.argv[1])
rows = {}
for mode in ("dir", "none"):
    runs = [json.load(open(p)) for p in sorted(out.glob(f"storm-{mode}-*.json"))]
    if not runs:
        continue
    def per_edit(r, idx):
        return sum(r["servers"][i]["cpu_seconds"] for i in idx) / max(r["edits"], 1) * 1e6
    writes = []
    for p in sorted(out.glob(f"storm-{mode}-*-?.metrics")):
        writes.append(sum(float(l.split()[-1]) for l in open(p) if 'outcome="written"' in l))
    rows[mode] = dict(
        runs=len(runs),
        edits=statistics.median(r["edits"] for r in runs),
        gw=statistics.median(per_edit(r, (0, 1)) for r in runs),
        redis=statistics.median(per_edit(r, (2,)) for r in runs),
        gw_each=[round(per_edit(r, (0, 1)), 1) for r in runs],
        redis_each=[round(per_edit(r, (2,)), 1) for r in runs],
        p99=statistics.median(r["propagation_ms"]["p99"] for r in runs),
        missing=max(r["missing_deliveries"] for r in runs),
        writes=sum(writes) / max(len(runs), 1),
    )
print("edit-storm, write-back on (--files dir) vs off (--files none), medians of interleaved runs")
print(f"{'':34} {'off (none)':>14} {'on (dir)':>14}")
for key, label in [("runs", "runs"), ("edits", "edits"), ("gw", "gateways CPU us/edit"),
                   ("redis", "Redis CPU us/edit"), ("p99", "propagation p99 ms"),
                   ("missing", "missing deliveries (max)"), ("writes", "file writes per run")]:
    vals = [rows.get(m, {}).get(key, float("nan")) for m in ("none", "dir")]
    print(f"{label:34} " + " ".join(f"{v:>14.1f}" if isinstance(v, float) else f"{v:>14}" for v in vals))
for m in ("none", "dir"):
    if m in rows:
        print(f"{m}: gateways us/edit each run {rows[m]['gw_each']}, Redis {rows[m]['redis_each']}")
PY
fi
