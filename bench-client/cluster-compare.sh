#!/usr/bin/env bash
# Shard-aware ports against the shared port, on one machine: alternating
# A B C rounds of
#   one     shardcask --shards 1 (CPU 0), plain client on its port;
#   shared  shardcask --shards 2 (CPUs 0,1), plain client on the shared port
#           (half the keys forwarded over the mesh);
#   ports   the same 2-shard server, cluster client (redis-benchmark
#           --cluster / shardcask-bench --cluster) seeded with a shard port:
#           every key sent to the core that owns it.
# For each run: req/s, the server's CPU per request (utime+stime from
# /proc/PID/stat over the commands INFO counted) and the forwarded share
# (INFO forwarded_out over total_commands_processed). The machine is shared:
# compare within a round, take medians over rounds.
#
#   cargo build --release --bin shardcask --bin shardcask-bench
#   bench-client/cluster-compare.sh [rounds, default 3]
#
# Environment: BIN, BENCH (binaries), PORT (first of 4 ports, default 7530),
# TESTS ("get set"), REQUESTS (200000), PIPELINE (16), CLIENTS ("redis-benchmark bench").
set -u
HERE=$(dirname "$0")
BIN=${BIN:-$HERE/../target/release/shardcask}
BENCH=${BENCH:-$HERE/../target/release/shardcask-bench}
ROUNDS=${1:-3}
PORT=${PORT:-7530}
TESTS=${TESTS:-get set}
REQUESTS=${REQUESTS:-200000}
PIPELINE=${PIPELINE:-16}
CLIENTS=${CLIENTS:-redis-benchmark bench}
WORK=$(mktemp -d -p "${BENCH_DIR:-$PWD}" ccmp-XXXX)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
ulimit -l unlimited 2>/dev/null || true
HZ=$(getconf CLK_TCK)

ONE_PORT=$PORT
TWO_PORT=$((PORT + 1))
SHARD_BASE=$((PORT + 2)) # and +3
STARTED=
start() { # port dir shards cpus [extra...]; sets STARTED to the pid
  local port=$1 dir=$2 shards=$3 cpus=$4
  shift 4
  "$BIN" --listen "127.0.0.1:$port" --dir "$dir" --shards "$shards" --cpus "$cpus" \
    --stats-interval 0 "$@" >"$dir.log" 2>&1 &
  local pid=$!
  PIDS+=("$pid")
  for _ in $(seq 200); do
    grep -q "shardcask ready" "$dir.log" 2>/dev/null && break
    sleep 0.05
  done
  grep -q "shardcask ready" "$dir.log" || { echo "server on $port did not start:"; cat "$dir.log"; exit 1; }
  STARTED=$pid
}
info() { # port field -> value
  redis-cli -p "$1" info all | tr -d '\r' | awk -F: -v f="$2" '$1 == f { print $2 }'
}
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

start $ONE_PORT "$WORK/one" 1 0
ONE_PID=$STARTED
start $TWO_PORT "$WORK/two" 2 0,1 --shard-ports $SHARD_BASE
TWO_PID=$STARTED

run_client() { # client test target port -> prints req/s
  local client=$1 test=$2 target=$3 port=$4 cluster=""
  [ "$target" = ports ] && cluster="--cluster"
  if [ "$client" = redis-benchmark ]; then
    redis-benchmark -h 127.0.0.1 -p "$port" $cluster -t "$test" -P "$PIPELINE" -n "$REQUESTS" \
      -r 100000 -d 100 -c 50 -q 2>/dev/null | tr '\r' '\n' \
      | grep -E "^[A-Z]+: [0-9.]+ requests" | tail -1 | sed -E 's/^[A-Z]+: ([0-9.]+) requests.*/\1/'
  else
    local ratio=1:0
    [ "$test" = get ] && ratio=0:1
    "$BENCH" --addr "127.0.0.1:$port" $cluster --connections 50 --pipeline "$PIPELINE" \
      --requests "$REQUESTS" --keys 100000 --ratio $ratio --quiet --json 2>/dev/null \
      | python3 -c 'import json,sys; r=json.load(sys.stdin); print("%.0f" % r["total"]["ops_per_sec"])' 2>/dev/null \
      || echo "?"
  fi
}

printf "%-15s %-4s %-7s %6s %10s %11s %10s\n" client test target round "req/s" "cpu_us/req" "fwd_share"
for round in $(seq "$ROUNDS"); do
  for client in $CLIENTS; do
    for test in $TESTS; do
      for target in one shared ports; do
        case $target in
          one) port=$ONE_PORT pid=$ONE_PID info_port=$ONE_PORT ;;
          shared) port=$TWO_PORT pid=$TWO_PID info_port=$TWO_PORT ;;
          ports) port=$SHARD_BASE pid=$TWO_PID info_port=$TWO_PORT ;;
        esac
        cmds0=$(info $info_port total_commands_processed)
        fwd0=$(info $info_port forwarded_out)
        t0=$(ticks "$pid")
        rps=$(run_client "$client" "$test" "$target" "$port")
        t1=$(ticks "$pid")
        cmds1=$(info $info_port total_commands_processed)
        fwd1=$(info $info_port forwarded_out)
        python3 - "$client" "$test" "$target" "$round" "$rps" "$t0" "$t1" "$cmds0" "$cmds1" "$fwd0" "$fwd1" "$HZ" <<'EOF'
import sys
client, test, target, rnd, rps = sys.argv[1:6]
t0, t1, c0, c1, f0, f1, hz = map(float, sys.argv[6:13])
cmds = max(c1 - c0, 1)
print("%-15s %-4s %-7s %6s %10s %11.2f %9.1f%%" % (
    client, test, target, rnd, rps, (t1 - t0) / hz / cmds * 1e6, 100 * (f1 - f0) / cmds))
EOF
      done
    done
  done
done
