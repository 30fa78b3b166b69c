#!/usr/bin/env bash
# Issue 11 closing note: undo latency (1 and 2 gateways) and edit-storm CPU with undo capture
# on vs off, interleaved. Needs a redis-server on $REDIS_PORT (started with --save ''
# --appendonly no) whose pid is in $REDIS_PID. Run from the repository root after
# `cargo build --release -p collab-server -p collab-load`.
set -euo pipefail
OUT=${OUT:-bench}
REDIS=redis://127.0.0.1:$REDIS_PORT
. "$(dirname "$0")/lib.sh"
# Every gateway of this script uses the one Redis.
gw() { local name=$1; shift; start_gw "$name" --redis-url "$REDIS" "$@"; }

if [ "${PART:-all}" != storm ]; then
  # Undo latency: gateways with --undo-capture-ms 0 so 200 probes need no 600 ms gaps.
  gw u1 --undo-capture-ms 0; gw u2 --undo-capture-ms 0
  A1=$(addr u1); A2=$(addr u2)
  $LOAD undo-latency --target ws://$A1/doc --capture-ms 0 --undos 200 --doc-bytes 1000000 \
      --pid "$(cat $OUT/u1.pid)" --json "$OUT/undo-1gw.json" | tee "$OUT/undo-1gw.txt"
  $LOAD undo-latency --target ws://$A1/doc --target ws://$A2/doc --capture-ms 0 --undos 200 \
      --doc-bytes 1000000 --pid "$(cat $OUT/u1.pid)" --pid "$(cat $OUT/u2.pid)" \
      --json "$OUT/undo-2gw.json" | tee "$OUT/undo-2gw.txt"
  stop_gw u1; stop_gw u2
  # And once with the default 500 ms window (probes 600 ms apart), one gateway.
  gw u3; A3=$(addr u3)
  $LOAD undo-latency --target ws://$A3/doc --undos ${UNDOS_DEFAULT_WINDOW:-50} --doc-bytes 1000000 \
      --pid "$(cat $OUT/u3.pid)" --json "$OUT/undo-1gw-capture500.json" | tee "$OUT/undo-1gw-capture500.txt"
  stop_gw u3
fi

if [ "${PART:-all}" != undo ]; then
  for round in 1 2 3; do
    for mode in on off; do
      if [ $mode = on ]; then gw storm-$mode-$round; else gw storm-$mode-$round --undo-depth 0; fi
      A=$(addr storm-$mode-$round)
      $LOAD edit-storm --target ws://$A/doc --editors ${EDITORS:-500} --files ${FILES:-50} \
          --duration ${DURATION:-30} --user-per-editor \
          --pid "$(cat $OUT/storm-$mode-$round.pid)" --pid "$REDIS_PID" \
          --json "$OUT/storm-$mode-$round.json" > "$OUT/storm-$mode-$round.txt" 2>"$OUT/storm-$mode-$round.stderr" || echo "exit $? ($mode $round)"
      stop_gw storm-$mode-$round
      redis-cli -p "$REDIS_PORT" flushall > /dev/null
      echo "done $mode $round"
    done
  done
fi
