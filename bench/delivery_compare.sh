#!/usr/bin/env bash
# Old vs new gateway, interleaved (issue 23, item 4): bench/delivery_compare.sh OLD NEW
# Edit-storm at 1,000 (the issue-5 preset) and 2,600 edits/s offered, fan-out (1 writer,
# 1,500 observers) and idle, ROUNDS (3) times each, old and new in turn, one collab-load.
# Results in $OUT (bench/results/delivery-cut); medians: bench/delivery_summary.py $OUT.
set -euo pipefail
export OUT=${OUT:-bench/results/delivery-cut} SECS=${SECS:-20}
here=$(dirname "$0")
for round in $(seq "${ROUNDS:-3}"); do
  for v in old new; do
    bin=$1; [ "$v" = new ] && bin=$2
    for rate in ${RATES:-1000 2600}; do "$here/delivery.sh" storm "$v" "$bin" "$rate" "$round"; done
    "$here/delivery.sh" fanout "$v" "$bin" "$round"
  done
done
for round in $(seq "${IDLE_ROUNDS:-1}"); do
  for v in old new; do
    bin=$1; [ "$v" = new ] && bin=$2
    CONNS=${CONNS:-2000} "$here/delivery.sh" idle "$v" "$bin" "$round"
  done
done
