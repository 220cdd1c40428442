#!/usr/bin/env bash
# Is shardcask-bench ever the bottleneck? redis-benchmark and shardcask-bench
# alternating against one redis-server (no persistence, CPU 0), same shape:
# 50 connections, 100 B values, 10k keys (all set first), GET and SET at
# pipeline 16 and 1, clients on CPU 1; every process in an autogroup of its
# own at nice -20 (root), so other sessions' work takes little of the CPUs.
# One line per run:
#   round workload client req/s client-CPU-s client-us/req server-us/req cmds/read
# then the medians. The server's CPU per request (INFO used_cpu_*) says
# whether the server was the limit (1 / server-us/req = its ceiling).
#
#   cargo build --release -p shardcask-bench
#   bench-client/client-vs-redis-benchmark.sh [rounds, default 5]
#
# Environment: BENCH (binary), PORT (default 7390), SECONDS_PER_RUN (3).
set -eu
HERE=$(dirname "$0")
BENCH=${BENCH:-${CARGO_TARGET_DIR:-$HERE/../target}/release/shardcask-bench}
ROUNDS=${1:-5}
PORT=${PORT:-7390}
SECS=${SECONDS_PER_RUN:-3}
WORK=$(mktemp -d)
PRIO=(setsid sh -c 'echo -20 > /proc/self/autogroup && exec nice -n -20 "$@"' prio)
"${PRIO[@]}" taskset -c 0 redis-server --port "$PORT" --bind 127.0.0.1 --save "" \
  --appendonly no --dir "$WORK" >"$WORK/redis.log" 2>&1 &
SERVER=$!
trap 'redis-cli -p "$PORT" shutdown nosave >/dev/null 2>&1; wait; rm -rf "$WORK"' EXIT
for _ in $(seq 100); do redis-cli -p "$PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
# Both clients' key spaces exist, so every GET is a hit of 100 B.
redis-benchmark -p "$PORT" -t set -d 100 -r 10000 -n 200000 -q >/dev/null 2>&1
"$BENCH" --addr "127.0.0.1:$PORT" --keys 10000 --value-size 100 --preload --requests 1 --quiet >/dev/null
server_counts() { # CPU seconds, commands, reads
  redis-cli -p "$PORT" info all | tr -d '\r' | awk -F: '
    $1 == "used_cpu_user" || $1 == "used_cpu_sys" { cpu += $2 }
    $1 == "total_commands_processed" { n = $2 } $1 == "total_reads_processed" { r = $2 }
    END { print cpu, n, r }'
}
for round in $(seq "$ROUNDS"); do
  for w in get16 set16 get1 set1; do
    t=${w%%[0-9]*}; p=${w#get}; p=${p#set}
    case $w in get16) n=5000000 ;; set16) n=3000000 ;; *) n=400000 ;; esac
    ratio=$([ "$t" = get ] && echo 0:1 || echo 1:0)
    for client in redis-benchmark shardcask-bench; do
      before=$(server_counts)
      if [ $client = redis-benchmark ]; then
        out=$( { "${PRIO[@]}" /usr/bin/time -f "CPU %U %S" taskset -c 1 redis-benchmark -p "$PORT" \
          -t "$t" -P "$p" -c 50 -d 100 -r 10000 -n $n -q; } 2>&1 | tr '\r' '\n')
        rps=$(echo "$out" | grep "requests per second" | tail -1 | sed 's/.*: \([0-9.]*\) requests.*/\1/')
        nreq=$n
      else
        out=$( { "${PRIO[@]}" /usr/bin/time -f "CPU %U %S" "$BENCH" --addr "127.0.0.1:$PORT" --cpus 1 \
          --connections 50 --pipeline "$p" --ratio "$ratio" --keys 10000 --value-size 100 \
          --duration "$SECS" --quiet; } 2>&1)
        rps=$(echo "$out" | awk '$1 == "total" { print $3 }')
        nreq=$(echo "$out" | awk '$1 == "total" { print $2 }')
      fi
      after=$(server_counts)
      cpu=$(echo "$out" | awk '$1 == "CPU" { print $2 + $3 }')
      echo "$round $w $client $rps $cpu $(echo "$cpu $nreq $before $after" | awk '{
        n = $7 - $4; printf "%.3f %.3f %.1f", $1 * 1e6 / $2, ($6 - $3) * 1e6 / n, n / ($8 - $5) }')"
    done
  done
done | tee "$WORK/runs"
echo
echo "medians of $ROUNDS rounds: req/s, client us/req, server us/req"
python3 - "$WORK/runs" <<'EOF'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1])]
for w in ("get16", "set16", "get1", "set1"):
    m = {}
    for c in ("redis-benchmark", "shardcask-bench"):
        runs = [r for r in rows if r[1] == w and r[2] == c]
        m[c] = [statistics.median(float(r[i]) for r in runs) for i in (3, 5, 6)]
    rb, sb = m["redis-benchmark"], m["shardcask-bench"]
    print(f"{w:6} redis-benchmark {rb[0]:>11,.0f}/s {rb[1]:.3f} {rb[2]:.3f} | "
          f"shardcask-bench {sb[0]:>11,.0f}/s {sb[1]:.3f} {sb[2]:.3f} | "
          f"req/s {sb[0] / rb[0]:.2f}x, client CPU per request {rb[1] / sb[1]:.2f}x less")
EOF
