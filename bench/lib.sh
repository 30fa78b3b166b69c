# Shell helpers the bench scripts share (sourced, not run). Set $OUT (the results
# directory) before sourcing; $GW and $LOAD are the release binaries (CARGO_TARGET_DIR is
# honoured). Every server listens on loopback only.
BIN=${CARGO_TARGET_DIR:-target}/release
GW=$BIN/collab-gateway
LOAD=$BIN/collab-load
mkdir -p "$OUT"

# free_ports N: N distinct free loopback ports, never 6379, each below 55536 with port +
# 10000 free too (a Redis Cluster node's bus port), on one line.
free_ports() {
  python3 - "$1" <<'PY'
import random, socket, sys
def free(p):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p)); return True
    except OSError:
        return False
    finally:
        s.close()
ports = []
while len(ports) < int(sys.argv[1]):
    p = random.randint(20000, 45000)
    if p != 6379 and p not in ports and free(p) and free(p + 10000):
        ports.append(p)
print(" ".join(map(str, ports)))
PY
}

# redis_up PORT [FLAGS...]: a redis-server without persistence on 127.0.0.1:PORT (its pid
# in $OUT/redis-PORT.pid, its files under $REDIS_DIR or the current directory), awaited.
redis_up() {
  local port=$1; shift
  redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "${REDIS_DIR:-.}" "$@" \
      > "$OUT/redis-$port.log" 2>&1 &
  echo $! > "$OUT/redis-$port.pid"
  for _ in $(seq 100); do redis-cli -p "$port" ping > /dev/null 2>&1 && return; sleep 0.1; done
  echo "redis on $port did not start" >&2; exit 1
}

# start_gw NAME FLAGS...: a gateway on a free loopback port with --auth none and FLAGS
# (which name the Redis), its output in $OUT/NAME.out/.err and pid in $OUT/NAME.pid,
# awaited until it prints its address.
start_gw() {
  local name=$1; shift
  # A previous run's output would pass the wait below before the new process truncates it.
  rm -f "$OUT/$name.out"
  $GW --listen 127.0.0.1:0 --auth none "$@" > "$OUT/$name.out" 2> "$OUT/$name.err" &
  echo $! > "$OUT/$name.pid"
  for _ in $(seq 100); do grep -q listening "$OUT/$name.out" && return; sleep 0.1; done
  echo "gateway $name did not start" >&2; exit 1
}

# addr NAME: the address gateway NAME listens on.
addr() { awk '/listening/{print $NF}' "$OUT/$1.out"; }

# stop_gw NAME: stops gateway NAME and waits for it.
stop_gw() { kill "$(cat "$OUT/$1.pid")"; wait "$(cat "$OUT/$1.pid")" 2>/dev/null || true; rm -f "$OUT/$1.pid"; }
