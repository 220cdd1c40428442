#!/usr/bin/env bash
# Kernel events per request on the server, from tracepoint counts (perf
# stat -p): socket reads and sends, io_uring submissions, completions, poll
# arms and task-work adds, hrtimer starts (link timeouts) and syscalls. Counts, unlike
# timings, hold on a busy machine.
#
#   cargo build --release --bin shardcask
#   bench-client/kernel-events-per-request.sh [BIN] [PORT]
#
# One shard on CPU 0 (--sync always); redis-benchmark on CPU 1, -c 50 -d 100
# -r 100000, SET and GET at -P 1 and -P 16.
set -u
BIN=${1:-$(dirname "$0")/../target/release/shardcask}
PORT=${2:-7152}
DIR=$(mktemp -d -t kevents-XXXX)
"$BIN" --listen 127.0.0.1:$PORT --dir "$DIR" --shards 1 --cpus 0 --sync always --stats-interval 0 >/dev/null 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$DIR"' EXIT
for _ in $(seq 50); do redis-cli -p $PORT ping >/dev/null 2>&1 && break; sleep 0.1; done
events=sock:sock_recv_length,sock:sock_send_length,io_uring:io_uring_submit_req,io_uring:io_uring_complete,io_uring:io_uring_poll_arm,io_uring:io_uring_task_add,timer:hrtimer_start,raw_syscalls:sys_enter
for spec in "set 1 50000" "get 1 50000" "set 16 200000" "get 16 200000"; do
  set -- $spec
  perf stat -x, -e $events -p $pid -o "$DIR/perf" &
  perf_pid=$!
  sleep 0.2
  taskset -c 1 redis-benchmark -p $PORT -t $1 -P $2 -n $3 -r 100000 -d 100 -c 50 -q >/dev/null 2>&1
  kill -INT $perf_pid; wait $perf_pid 2>/dev/null
  awk -F, -v n=$3 -v t="$1 P$2" 'BEGIN { printf "%-7s", t }
    /^[0-9]/ && $3 ~ /:/ { split($3, name, ":"); printf " %s=%.3f", name[2], $1 / n } END { print "" }' "$DIR/perf"
done
