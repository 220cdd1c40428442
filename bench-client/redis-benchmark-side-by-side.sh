#!/usr/bin/env bash
# redis-benchmark against shardcask (--shards 1, --sync always) and
# redis-server (appendonly, appendfsync always), both on CPU 0, the client on
# CPU 1; 100 B values over 100k random keys, 50 connections, -P 1 and -P 16,
# SET then GET, alternating A B A B. Prints one line per run; take medians of
# the rounds.
#
# Next to req/s each line gives the server's CPU per request (utime+stime
# from /proc/PID/stat: `kreq/cpu-s` is thousands of requests per server
# CPU-second; `user-us` and `sys-us` split it into microseconds of user and
# system time per request), its syscalls per request (`perf stat -p`, every
# thread of the server) and reschedule IPIs per request on the server's CPU (`perf stat -C`;
# that CPU is shared with whatever else runs there, so this one is an upper
# bound on a busy machine). Without perf the last two columns are `-`.
#
#   cargo build --release --bin shardcask
#   bench-client/redis-benchmark-side-by-side.sh [rounds, default 3]
#
# Environment: BIN (shardcask binary), PORT (first port, default 7400),
# SERVER_CPU (0), CLIENT_CPU (1), TESTS ("set get"), PIPELINES ("1 16"),
# REQUESTS_P1 (50000), REQUESTS_P16 (400000), TARGETS ("shardcask redis").
set -u
BIN=${BIN:-$(dirname "$0")/../target/release/shardcask}
ROUNDS=${1:-3}
PORT=${PORT:-7400}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
TESTS=${TESTS:-set get}
PIPELINES=${PIPELINES:-1 16}
TARGETS=${TARGETS:-shardcask redis}
WORK=$(mktemp -d -p "${BENCH_DIR:-$PWD}" sbs-XXXX)
trap 'rm -rf "$WORK"' EXIT
for tool in redis-server redis-benchmark taskset; do
  command -v $tool >/dev/null || { echo "missing $tool: apt-get install redis-server redis-tools util-linux"; exit 1; }
done
have_perf=0
perf stat -e raw_syscalls:sys_enter -- true >/dev/null 2>&1 && have_perf=1
cpu_ticks() { # pid -> "utime stime" in clock ticks
  awk '{ print $14, $15 }' "/proc/$1/stat"
}
run_bench() { # port pipeline requests test pid -> "req/s kreq/cpu-s syscalls/req ipis/req"
  local before after perf_p perf_c rps
  before=$(cpu_ticks "$5")
  if [ $have_perf = 1 ]; then
    perf stat -x, -e raw_syscalls:sys_enter -p "$5" -o "$WORK/perf-p" &
    perf_p=$!
    perf stat -x, -e irq_vectors:reschedule_entry -C "$SERVER_CPU" -o "$WORK/perf-c" &
    perf_c=$!
    sleep 0.2
  fi
  rps=$(taskset -c "$CLIENT_CPU" redis-benchmark -h 127.0.0.1 -p "$1" -t "$4" -P "$2" -n "$3" -r 100000 -d 100 -c 50 -q 2>/dev/null \
    | tr '\r' '\n' | grep -E "^[A-Z]+: [0-9.]+ requests" | tail -1 | sed -E 's/^[A-Z]+: ([0-9.]+) requests.*/\1/')
  after=$(cpu_ticks "$5")
  local syscalls=- ipis=-
  if [ $have_perf = 1 ]; then
    kill -INT $perf_p $perf_c
    wait $perf_p $perf_c 2>/dev/null
    syscalls=$(awk -F, -v n="$3" '/raw_syscalls/ { printf "%.3f", $1 / n }' "$WORK/perf-p")
    ipis=$(awk -F, -v n="$3" '/reschedule/ { printf "%.4f", $1 / n }' "$WORK/perf-c")
  fi
  local hz cpu
  hz=$(getconf CLK_TCK)
  cpu=$(echo "$before $after" | awk -v hz="$hz" -v n="$3" '{
    user = ($3 - $1) / hz; sys = ($4 - $2) / hz
    if (user + sys > 0) printf "kreq/cpu-s=%.1f user-us=%.2f sys-us=%.2f", n / (user + sys) / 1000, user * 1e6 / n, sys * 1e6 / n
    else printf "kreq/cpu-s=- user-us=- sys-us=-" }')
  echo "req/s=${rps:-?} $cpu syscalls/req=$syscalls ipis/req=$ipis"
}
for round in $(seq 1 "$ROUNDS"); do
  for target in $TARGETS; do
    rm -rf "$WORK/$target"; mkdir -p "$WORK/$target"
    offset=0; [ $target = redis ] && offset=1
    port=$((PORT + round * 2 + offset))
    if [ $target = shardcask ]; then
      "$BIN" --listen 127.0.0.1:$port --dir "$WORK/$target" --shards 1 --cpus "$SERVER_CPU" --sync always --stats-interval 0 >/dev/null 2>&1 &
    else
      taskset -c "$SERVER_CPU" redis-server --port $port --dir "$WORK/$target" --appendonly yes --appendfsync always --save '' >/dev/null 2>&1 &
    fi
    pid=$!
    for _ in $(seq 50); do redis-cli -p $port ping >/dev/null 2>&1 && break; sleep 0.1; done
    for pipeline in $PIPELINES; do
      requests=$([ "$pipeline" = 1 ] && echo "${REQUESTS_P1:-50000}" || echo "${REQUESTS_P16:-400000}")
      for test in $TESTS; do
        echo "round=$round server=$target P=$pipeline test=$test load=$(cut -d' ' -f1 /proc/loadavg) $(run_bench $port "$pipeline" "$requests" "$test" $pid)"
      done
    done
    kill $pid; wait $pid 2>/dev/null
  done
done
