#!/usr/bin/env bash
# The latency of a peer's request to a saturated shard: a cross-shard GET
# (a connection of shard 1 asking for a key of shard 0) while redis-benchmark
# saturates shard 0 through its own port, against the same GET asked of an
# idle key on shard 1 itself. A shard that never lets glommio poll its own
# rings while busy shows up here as a p99 near glommio's preempt timer
# (100 ms) for the cross-shard GET only.
#
#   cargo build --release --bin shardcask
#   bench-client/cross-shard-under-load.sh [BIN] [PORT] [SECONDS]
#
# Two shards, unpinned (the machine may have only 2 CPUs); needs
# redis-benchmark and redis-py (pip install redis).
set -u
BIN=${1:-$(dirname "$0")/../target/release/shardcask}
PORT=${2:-7579}
SECONDS_EACH=${3:-6}
DIR=$(mktemp -d -t cross-shard-XXXX)
"$BIN" --listen 127.0.0.1:$PORT --dir "$DIR/data" --shards 2 --no-pin \
  --shard-ports $((PORT + 1)) --sync batch --stats-interval 0 >"$DIR/log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$DIR"' EXIT
for _ in $(seq 100); do redis-cli -p $PORT ping >/dev/null 2>&1 && break; sleep 0.1; done
# Slot 3300 ({b}) is shard 0's, slot 15495 ({a}) shard 1's.
redis-benchmark -p $((PORT + 1)) -P 16 -c 50 -n 1000000 -r 100000 -q \
  SET '{b}:__rand_int__' xxxxxxxxxxxxxxxxxxxxxxxxxxx >/dev/null 2>&1
probe() { # key label
  timeout $((SECONDS_EACH + 2)) redis-benchmark -p $((PORT + 1)) -P 16 -c 50 -n 1000000000 \
    -r 100000 -q GET '{b}:__rand_int__' >/dev/null 2>&1 &
  local load=$!
  sleep 1
  python3 - "$PORT" "$1" "$2" "$SECONDS_EACH" <<'PY'
import sys, time, redis
port, key, label, seconds = int(sys.argv[1]), sys.argv[2], sys.argv[3], float(sys.argv[4])
for _ in range(64):  # SO_REUSEPORT picks the shard: keep a connection of shard 1
    c = redis.Redis(port=port)
    info = c.execute_command('CLIENT', 'INFO')
    if b'shard=1' in (info if isinstance(info, bytes) else info.encode()):
        break
else:
    sys.exit("no connection landed on shard 1")
c.set(key, 'v')
lat, end = [], time.time() + seconds
while time.time() < end:
    t = time.perf_counter(); c.get(key); lat.append((time.perf_counter() - t) * 1e3)
    time.sleep(0.002)
lat.sort()
n = len(lat)
print(f"{label}: n={n} p50={lat[n // 2]:.2f} ms p99={lat[int(n * 0.99)]:.2f} ms max={lat[-1]:.2f} ms")
PY
  kill $load 2>/dev/null; wait $load 2>/dev/null
}
probe '{b}x' 'cross-shard GET to the saturated shard 0'
probe '{a}x' 'GET of shard 1 itself (control)'
