#!/usr/bin/env bash
# two.sh GWBIN RATE NAME [gateway flags...]: one fresh redis-server and two gateways on
# loopback, edit-storm of 1,000 editors on 100 files at RATE edits/s for DUR seconds (20),
# then each process's threads' CPU, run-queue wait and time slices (/proc/PID/task/*/schedstat),
# both gateways' /metrics and Redis's INFO commandstats, all under $OUT/NAME.*.
# LOADBIN: the collab-load binary.
set -e
GWB=$1; RATE=$2; NAME=$3; shift 3
OUT=${OUT:-.}; LOAD=${LOADBIN:-target/release/collab-load}
RP=$(python3 -c "import socket;s=socket.socket();s.bind(('127.0.0.1',0));print(s.getsockname()[1])")
redis-server --port $RP --bind 127.0.0.1 --save '' --appendonly no > "$OUT/redis.log" 2>&1 &
RPID=$!
until redis-cli -p $RP ping > /dev/null 2>&1; do sleep 0.1; done
for g in 1 2; do
  $GWB --listen 127.0.0.1:0 --auth none --redis-url redis://127.0.0.1:$RP "$@" > "$OUT/gw$g.out" 2> "$OUT/gw$g.err" &
  echo $! > "$OUT/gw$g.pid"
  until grep -q listening "$OUT/gw$g.out"; do sleep 0.1; done
done
A1=$(awk '/listening/{print $NF}' "$OUT/gw1.out"); A2=$(awk '/listening/{print $NF}' "$OUT/gw2.out")
P1=$(cat "$OUT/gw1.pid"); P2=$(cat "$OUT/gw2.pid")
$LOAD edit-storm --editors 1000 --files 100 --rate "$(python3 -c "print($RATE/1000)")" \
  --duration "${DUR:-20}" --target "ws://$A1/doc" --target "ws://$A2/doc" \
  --pid $P1 --pid $P2 --pid $RPID --json "$OUT/$NAME.json" > "$OUT/$NAME.txt" 2>&1
for p in $P1 $P2 $RPID; do
  for t in /proc/$p/task/*; do
    printf "%s %-16s " $p "$(cat $t/comm)"
    awk '{printf "cpu %.2fs wait %.2fs slices %d\n", $1/1e9, $2/1e9, $3}' $t/schedstat
  done
done > "$OUT/$NAME.sched"
curl -s "http://$A1/metrics" > "$OUT/$NAME.m1"; curl -s "http://$A2/metrics" > "$OUT/$NAME.m2"
redis-cli -p $RP info commandstats > "$OUT/$NAME.redis"
kill $P1 $P2; wait $P1 $P2 2> /dev/null || true
redis-cli -p $RP shutdown nosave > /dev/null 2>&1 || true
