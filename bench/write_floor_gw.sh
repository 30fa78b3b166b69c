#!/usr/bin/env bash
# collab-load's write-floor with a gateway's calling convention, so that bench/delivery.sh
# can measure it like a gateway: bench/delivery.sh fanout writefloor bench/write_floor_gw.sh 1
# (start_gw passes --listen ADDR --auth none --redis-url URL; the write-floor has no --auth).
# The collab-load binary: $LOADBIN, else this build's release binary.
set -euo pipefail
args=()
while [ $# -gt 0 ]; do
  case $1 in
    --auth) shift 2 ;;
    *) args+=("$1"); shift ;;
  esac
done
exec "${LOADBIN:-${CARGO_TARGET_DIR:-target}/release/collab-load}" write-floor "${args[@]}"
