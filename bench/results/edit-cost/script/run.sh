#!/usr/bin/env bash
# run.sh SCRIPT.lua [CALLS] [PART BYTES] [RECORD]: Redis's own cost of one append script
# call, with one user typing into one file inside the capture window (every call joins
# the top undo item until it reaches MAXI bytes, 8 KiB by default). Starts a private
# redis-server on a random loopback port, loads the script, drives it with
# redis-benchmark on one connection and prints `usec_per_call` of EVALSHA, Redis's user
# CPU, the top element's size and the list's length. RECORD=0 sends no undo record
# (the log append and the publish alone).
set -e
S=$1; N=${2:-20000}; PB=${3:-100}; REC=${4:-1}; MAXI=${MAXI:-8192}
PORT=$((20000 + RANDOM % 20000))
LOG=$(mktemp)
redis-server --port $PORT --bind 127.0.0.1 --save '' --appendonly no --daemonize yes --logfile "$LOG" > /dev/null
until redis-cli -p $PORT ping > /dev/null 2>&1; do sleep 0.1; done
SHA=$(redis-cli -p $PORT SCRIPT LOAD "$(cat "$S")")
PART=$(head -c "$PB" /dev/zero | tr '\0' 'p')
UPD=$(head -c 40 /dev/zero | tr '\0' 'u')
redis-cli -p $PORT SUBSCRIBE 'collab:{f}' > /dev/null &
SUB=$!
ARGS=(3 'collab:{f}:log' 'collab:{f}:snap' 'collab:{f}')
TAIL=(gw1 "$UPD" 500 100 86400000 "$MAXI" digestdigest)
if [ "$REC" = 1 ]; then
  ARGS=(5 'collab:{f}:log' 'collab:{f}:snap' 'collab:{f}' 'collab:{f}:undo:u1' 'collab:{f}:redo:u1')
  TAIL+=(e u1 "$PART")
fi
redis-benchmark -p $PORT -n "$N" -c 1 -P 1 -q EVALSHA "$SHA" "${ARGS[@]}" "${TAIL[@]}" > /dev/null
redis-cli -p $PORT INFO commandstats | grep -i evalsha | sed 's/,rejected.*//'
redis-cli -p $PORT INFO cpu | grep used_cpu_user:
echo "top element bytes $(redis-cli -p $PORT LINDEX 'collab:{f}:undo:u1' 0 | wc -c), list length $(redis-cli -p $PORT LLEN 'collab:{f}:undo:u1')"
kill $SUB
redis-cli -p $PORT shutdown nosave > /dev/null 2>&1 || true
rm -f "$LOG"
