#!/usr/bin/env bash
# Issue 23: the gateway's delivery path, profiled and measured (old vs new).
#
#   bench/delivery.sh profile RATE...   perf profile of gateway 1 during edit-storm at each
#                                       RATE (edits/s of all editors), folded + SVG
#   bench/delivery.sh storm LABEL GWBIN RATE ROUND   one edit-storm run, JSON + text
#   bench/delivery.sh fanout LABEL GWBIN ROUND       one fan-out run
#   bench/delivery.sh idle LABEL GWBIN ROUND         one idle run
#   bench/delivery.sh fanout-profile LABEL GWBIN     perf profile of gateway 1 during a
#                                       fan-out run's edit phase (folded + SVG); NOPERF=1:
#                                       no profile, both gateways' CPU per delivery over the
#                                       edit phase alone (fanout-LABEL-edit-cpu.txt)
#
# Two gateways on one fresh Redis (no persistence), loopback only, --auth none. Sizes:
# EDITORS (1000), FILES (100), SECS (20); the rate per editor is RATE / EDITORS. The
# edit-storm JSON lists the two gateways' CPU, then Redis's.
# perf uses the software clock (`-e cpu-clock`; this machine has no hardware counters) and
# DWARF unwinding (release builds keep no frame pointers); inferno folds the stacks
# (`cargo install inferno --root target/tools`).
set -euo pipefail
OUT=${OUT:-bench/results/delivery-profile}
source "$(dirname "$0")/lib.sh"
GW=${GWBIN:-$GW}      # the gateway to profile (default: this build's)
LOAD=${LOADBIN:-$LOAD} # one collab-load for old and new
EDITORS=${EDITORS:-1000}
FILES=${FILES:-100}
SECS=${SECS:-20}
TOOLS=${TOOLS:-target/tools/bin}
trap 'for p in "$OUT"/*.pid; do [ -e "$p" ] && kill "$(cat "$p")" 2>/dev/null; rm -f "$p"; done' EXIT

# up GWBIN [GATEWAY FLAGS...]: Redis and two gateways; sets R, A1, A2, P1, P2.
up() {
  local bin=$1; shift
  read -r R <<< "$(free_ports 1)"
  redis_up "$R"
  GW=$bin start_gw gw1 --redis-url "redis://127.0.0.1:$R" "$@"
  GW=$bin start_gw gw2 --redis-url "redis://127.0.0.1:$R" "$@"
  A1=$(addr gw1); A2=$(addr gw2); P1=$(cat "$OUT/gw1.pid"); P2=$(cat "$OUT/gw2.pid")
}
down() {
  stop_gw gw1; stop_gw gw2
  redis-cli -p "$R" shutdown nosave > /dev/null 2>&1 || true
  rm -f "$OUT/redis-$R.pid"
}
# record NAME: perf profile of gateway 1 for SECS - 8 seconds into $OUT/perf-NAME.data.
record() {
  perf record -F 999 -e cpu-clock --call-graph dwarf,32768 -p "$P1" \
    -o "$OUT/perf-$1.data" -- sleep $((SECS - 8)) 2> "$OUT/perf-$1.log"
}
# draw NAME OUTNAME TITLE: perf-NAME.data folded into OUTNAME.folded and OUTNAME.svg.
draw() {
  perf script --no-inline -i "$OUT/perf-$1.data" 2> /dev/null \
    | "$TOOLS/inferno-collapse-perf" > "$OUT/$2.folded"
  "$TOOLS/inferno-flamegraph" --title "$3" < "$OUT/$2.folded" > "$OUT/$2.svg"
  rm -f "$OUT/perf-$1.data"
}
per_editor() { python3 -c "print($1 / $EDITORS)"; }

storm() { # NAME RATE: edit-storm against the gateways that are up
  $LOAD edit-storm --editors "$EDITORS" --files "$FILES" --rate "$(per_editor "$2")" \
    --duration "$SECS" --target "ws://$A1/doc" --target "ws://$A2/doc" \
    --pid "$P1" --pid "$P2" --pid "$(cat "$OUT/redis-$R.pid")" \
    --json "$OUT/$1.json" > "$OUT/$1.txt" 2>&1
}

case ${1:-} in
  profile)
    shift
    for rate in "$@"; do
      up "$GW"
      storm "storm-$rate" "$rate" &
      load=$!
      sleep 6 # connect and sync first; profile the steady typing
      record "$rate"
      wait "$load"
      draw "$rate" "gateway-$rate" "gateway 1, edit-storm $rate edits/s"
      curl -s "http://$A1/metrics" > "$OUT/metrics-$rate.txt" || true
      rm -f "$OUT"/gw?.out "$OUT"/gw?.err "$OUT"/redis-*.log
      down
    done ;;
  storm)
    up "$3"; storm "$2-$4-$5" "$4"; cp "$OUT/gw1.err" "$OUT/$2-$4-$5.gw1.err"; down ;;
  fanout)
    up "$3"
    $LOAD fan-out --target "ws://$A1/doc" --target "ws://$A2/doc" --pid "$P1" --pid "$P2" \
      --duration "${SECS}" --json "$OUT/fanout-$2-$4.json" > "$OUT/fanout-$2-$4.txt" 2>&1
    down ;;
  fanout-profile)
    up "$3"
    log="$OUT/fanout-profile-$2.txt"
    $LOAD fan-out --target "ws://$A1/doc" --target "ws://$A2/doc" --pid "$P1" --pid "$P2" \
      --duration "${SECS}" --json "$OUT/fanout-profile-$2.json" > "$log" 2>&1 &
    load=$!
    cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
    # mark N: waits for the harness's Nth progress line of the edit phase (one per 5 s),
    # prints the deliveries it counts and both gateways' CPU ticks at that moment.
    mark() {
      until [ "$(grep -c ' edit ' "$log" 2> /dev/null)" -ge "$1" ]; do sleep 0.05; done
      local d; d=$(grep ' edit ' "$log" | sed -n "$1p" | sed -E 's/.*deliveries ([0-9]+).*/\1/')
      echo "$d $(( $(cpu "$P1") + $(cpu "$P2") ))"
    }
    if [ -n "${NOPERF:-}" ]; then
      # Observers connect and sync first: the CPU per delivery of the edit phase alone,
      # from its first progress line to its last (15 s of a 20 s phase).
      read -r d1 c1 <<< "$(mark 1)"
      read -r d2 c2 <<< "$(mark $(( SECS / 5 )))"
      python3 -c "print(f'both gateways, edit phase: {$c2 - $c1} ticks of {$(getconf CLK_TCK)}/s for {$d2 - $d1} deliveries: {($c2 - $c1) / $(getconf CLK_TCK) / ($d2 - $d1) * 1e6:.2f} us per delivery')" \
        > "$OUT/fanout-$2-edit-cpu.txt"
      wait "$load"; down; exit 0
    fi
    mark 1 > /dev/null
    record "fanout-$2"
    wait "$load"
    draw "fanout-$2" "fanout-$2" "gateway 1, fan-out 1 -> 1,500 ($2)"
    down ;;
  idle)
    up "$3"
    $LOAD idle --connections "${CONNS:-5000}" --target "ws://$A1/doc" --target "ws://$A2/doc" \
      --pid "$P1" --pid "$P2" --json "$OUT/idle-$2-$4.json" > "$OUT/idle-$2-$4.txt" 2>&1
    down ;;
  *) sed -n 2,13p "$0"; exit 2 ;;
esac
