#!/usr/bin/env bash
# Instructions per GET that misses memory and reads its value from disk,
# under callgrind: counts that survive a busy machine (see
# instructions-per-request.sh; the last column subtracts the expiry reaper).
#
#   cargo build --release --bin shardcask --bin shardcask-bench
#   bench-client/disk-get-instructions.sh [BIN] [PORT]
#
# One shard (--sync batch, --cache-size 1MiB) under valgrind, 8,192 keys of
# 4 KiB preloaded (32 MiB: ~97% of the GETs miss the cache); then
# shardcask-bench on CPU 1 runs uniform GETs at 32 connections x pipeline 1
# (6,000 GETs) and 4 x pipeline 8 (12,000), each after a short warm-up
# with the counters zeroed before and dumped after. The cache hits and
# misses of each run are printed beside it (INFO stats).
# Environment: OUT (dump directory, default a temporary one, kept),
# CLIENT (shardcask-bench, default beside BIN).
set -u
BIN=${1:-$(dirname "$0")/../target/release/shardcask}
PORT=${2:-7161}
CLIENT=${CLIENT:-$(dirname "$BIN")/shardcask-bench}
OUT=${OUT:-$(mktemp -d -t callgrind-disk-XXXX)}
for tool in valgrind callgrind_control callgrind_annotate redis-cli; do
  command -v $tool >/dev/null || { echo "missing $tool: apt-get install valgrind redis-tools"; exit 1; }
done
[[ -x "$CLIENT" ]] || { echo "missing $CLIENT: cargo build --release --bin shardcask-bench"; exit 1; }
mkdir -p "$OUT"
valgrind --tool=callgrind --callgrind-out-file="$OUT/cg.out" "$BIN" --listen 127.0.0.1:$PORT \
  --dir "$OUT/data" --shards 1 --cpus 0 --sync batch --stats-interval 0 --cache-size 1MiB \
  --merge-interval 0 >"$OUT/log" 2>&1 &
vpid=$!
trap 'kill $vpid 2>/dev/null; wait $vpid 2>/dev/null; rm -rf "$OUT/data"' EXIT
for _ in $(seq 300); do redis-cli -p $PORT ping >/dev/null 2>&1 && break; sleep 0.3; done
common=(--addr 127.0.0.1:$PORT --cpus 1 --keys 8192 --value-size 4KiB)
"$CLIENT" "${common[@]}" --quiet --preload --connections 8 --pipeline 16 --requests 1 >/dev/null 2>&1
misses() {
  redis-cli -p $PORT info stats | tr -d '\r' | awk -F: '/^cache_(hits|misses):/ {printf "%s=%s ", $1, $2}'
}
for spec in "32 1 6000" "4 8 12000"; do
  set -- $spec
  "$CLIENT" "${common[@]}" --quiet --ratio 0:1 --connections $1 --pipeline $2 --requests 500 >/dev/null 2>&1
  before=$(misses)
  callgrind_control --zero $vpid >/dev/null 2>&1
  "$CLIENT" "${common[@]}" --json --quiet --ratio 0:1 --connections $1 --pipeline $2 \
    --requests $3 >"$OUT/bench.json" 2>/dev/null
  callgrind_control --dump="c$1-p$2" $vpid >/dev/null 2>&1
  after=$(misses)
  gets=$(python3 -c "import json; print(json.load(open('$OUT/bench.json'))['total']['ops'])")
  dump=$(ls -t "$OUT"/cg.out* | head -1)
  total=$(grep -E "^(summary|totals):" "$dump" | head -1 | awk '{print $2}')
  reaper=$(callgrind_annotate --inclusive=yes --threshold=100 "$dump" 2>/dev/null \
    | grep -E "Store::reap_expired \[" | head -1 | awk '{gsub(",","",$1); print $1}')
  echo "${1}xP$2 gets=$gets instructions/get=$((total / gets)) without-reaper=$(( (total - ${reaper:-0}) / gets )) [$before] -> [$after] dump=$dump"
done
