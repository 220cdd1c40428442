#!/usr/bin/env bash
# redis-benchmark against shardcask (--shards 1, --sync always) and
# redis-server (appendonly, appendfsync always), both on CPU 0, the client on
# CPU 1; 100 B values over 100k random keys, 50 connections, -P 1 and -P 16,
# alternating A B A B. Prints one line per run; take medians of the rounds.
#
#   cargo build --release --bin shardcask
#   bench-client/redis-benchmark-side-by-side.sh [rounds, default 3]
set -u
BIN=${BIN:-$(dirname "$0")/../target/release/shardcask}
ROUNDS=${1:-3}
WORK=$(mktemp -d -p "${BENCH_DIR:-$PWD}" sbs-XXXX)
trap 'rm -rf "$WORK"' EXIT
for tool in redis-server redis-benchmark taskset; do
  command -v $tool >/dev/null || { echo "missing $tool: apt-get install redis-server redis-tools util-linux"; exit 1; }
done
run_bench() { # port pipeline requests
  taskset -c 1 redis-benchmark -h 127.0.0.1 -p "$1" -t set,get -P "$2" -n "$3" -r 100000 -d 100 -c 50 -q 2>/dev/null \
    | tr '\r' '\n' | grep -E "^(SET|GET): [0-9.]+ requests" | sed 's/ requests per second.*//' | tr '\n' ' '
}
for round in $(seq 1 "$ROUNDS"); do
  for target in shardcask redis; do
    rm -rf "$WORK/$target"; mkdir -p "$WORK/$target"
    offset=0; [ $target = redis ] && offset=1
    port=$((7400 + round * 2 + offset))
    if [ $target = shardcask ]; then
      "$BIN" --listen 127.0.0.1:$port --dir "$WORK/$target" --shards 1 --cpus 0 --sync always --stats-interval 0 >/dev/null 2>&1 &
    else
      taskset -c 0 redis-server --port $port --dir "$WORK/$target" --appendonly yes --appendfsync always --save '' >/dev/null 2>&1 &
    fi
    pid=$!
    for _ in $(seq 50); do redis-cli -p $port ping >/dev/null 2>&1 && break; sleep 0.1; done
    for pipeline in 1 16; do
      requests=$([ $pipeline = 1 ] && echo 50000 || echo 400000)
      echo "round=$round server=$target P=$pipeline load=$(cut -d' ' -f1 /proc/loadavg) $(run_bench $port $pipeline $requests)"
    done
    kill $pid; wait $pid 2>/dev/null
  done
done
