#!/usr/bin/env bash
# Instructions per request under callgrind: counts that survive a busy
# machine (valgrind slows the server ~50x, so time-driven work such as the
# expiry reaper weighs more; the last column subtracts the reaper).
#
#   cargo build --release --bin shardcask
#   bench-client/instructions-per-request.sh [BIN] [PORT]
#
# One shard (--sync always) under valgrind; redis-benchmark on CPU 1 with
# -c 50 -d 100 -r 100000 runs SET and GET at -P 1 (10,000 requests) and
# -P 16 (50,000). Each workload's counters are zeroed before it and dumped
# after it; inspect a dump with `callgrind_annotate --inclusive=yes FILE`.
# Environment: OUT (dump directory, default a temporary one, kept).
set -u
BIN=${1:-$(dirname "$0")/../target/release/shardcask}
PORT=${2:-7151}
OUT=${OUT:-$(mktemp -d -t callgrind-XXXX)}
for tool in valgrind callgrind_control callgrind_annotate redis-benchmark redis-cli taskset; do
  command -v $tool >/dev/null || { echo "missing $tool: apt-get install valgrind redis-tools util-linux"; exit 1; }
done
mkdir -p "$OUT"
valgrind --tool=callgrind --callgrind-out-file="$OUT/cg.out" "$BIN" --listen 127.0.0.1:$PORT \
  --dir "$OUT/data" --shards 1 --cpus 0 --sync always --stats-interval 0 >"$OUT/log" 2>&1 &
vpid=$!
trap 'kill $vpid 2>/dev/null; wait $vpid 2>/dev/null; rm -rf "$OUT/data"' EXIT
for _ in $(seq 200); do redis-cli -p $PORT ping >/dev/null 2>&1 && break; sleep 0.3; done
for spec in "set 1 10000" "get 1 10000" "set 16 50000" "get 16 50000"; do
  set -- $spec
  callgrind_control --zero $vpid >/dev/null
  taskset -c 1 redis-benchmark -h 127.0.0.1 -p $PORT -t $1 -P $2 -n $3 -r 100000 -d 100 -c 50 -q >/dev/null 2>&1
  callgrind_control --dump="$1-P$2" $vpid >/dev/null
  dump=$(ls -t "$OUT"/cg.out* | head -1)
  total=$(grep -E "^(summary|totals):" "$dump" | head -1 | awk '{print $2}')
  reaper=$(callgrind_annotate --inclusive=yes --threshold=100 "$dump" 2>/dev/null \
    | grep -E "Store::reap_expired \[" | head -1 | awk '{gsub(",","",$1); print $1}')
  echo "$1 P$2 requests=$3 instructions/req=$((total / $3)) without-reaper=$(( (total - ${reaper:-0}) / $3 )) dump=$dump"
done
