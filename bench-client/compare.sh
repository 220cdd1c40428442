#!/usr/bin/env bash
# shardcask vs Redis vs the disk (fio), on one machine, rerunnable.
#
#   bench-client/compare.sh --quick      # ~2 minutes: 1 s runs, 3 rounds, small data sets
#   bench-client/compare.sh --full       # ~15 minutes: 5 s runs, 5 rounds, 1 GiB data sets
#
# Servers (shardcask, redis-server, fio) run pinned to --server-cpus, the
# client (shardcask-bench) to --client-cpus. shardcask and Redis alternate
# A B A B for every workload; medians are reported, with requests per
# second AND requests per server CPU-second (utime+stime from
# /proc/PID/stat around each run), so the ratios survive a noisy machine.
# Durability is matched: shardcask --sync always vs Redis appendfsync
# always, --sync batch vs everysec. Next to req/s, the hot-key table gives
# the server's syscalls per request (perf stat -e raw_syscalls:sys_enter -p
# PID) and reschedule IPIs per request on the server CPUs (perf stat -e
# irq_vectors:reschedule_entry -C CPUS), `n/a` without perf; the disk
# table gives the server's CPU and the device bytes read and written per
# request (/proc/PID/io, O_DIRECT included). The results
# table (markdown) goes to stdout and to --out, with two SVG charts beside
# it (by shardcask-chart): req/s against Redis, and each disk workload as a
# percentage of fio next to its target.
#
# Options:
#   --quick | --full        preset (default --quick)
#   --rounds N              A/B rounds per workload (>= 3 recommended)
#   --duration S            seconds per measured run
#   --dir PATH              data directory on the disk to measure (not tmpfs)
#                           [default /var/tmp/shardcask-compare]
#   --server-cpus LIST      CPUs of the servers and fio [default 0]
#   --client-cpus LIST      CPUs of the client [default 1]
#   --out FILE              markdown results [default bench-client/results-<time>.md]
#   --only LIST             comma list of sections: hot,batch,p99,disk4k,disk1m,scaling
#   --skip-build            use the binaries already built
#   --port-base N           first server port (each start takes the next)
#
# Needs: redis-server, redis-cli (redis-tools), fio, taskset, python3, cargo;
# perf (linux-tools) for the syscall and IPI columns.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"

orig_args="$*"
mode=quick
rounds=""
duration=""
data_dir=/var/tmp/shardcask-compare
server_cpus=0
client_cpus=1
out=""
only="hot,batch,p99,disk4k,disk1m,scaling"
skip_build=0
port_base=""

while [[ $# -gt 0 ]]; do
    case "$1" in
    --quick) mode=quick ;;
    --full) mode=full ;;
    --rounds) rounds="$2"; shift ;;
    --duration) duration="$2"; shift ;;
    --dir) data_dir="$2"; shift ;;
    --server-cpus) server_cpus="$2"; shift ;;
    --client-cpus) client_cpus="$2"; shift ;;
    --out) out="$2"; shift ;;
    --only) only="$2"; shift ;;
    --skip-build) skip_build=1 ;;
    --port-base) port_base="$2"; shift ;;
    -h | --help) sed -n '2,37p' "$0"; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done

missing=()
for tool in redis-server redis-cli fio taskset python3; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [[ ${#missing[@]} -gt 0 ]]; then
    echo "missing: ${missing[*]}" >&2
    echo "install them with: apt-get install redis-server redis-tools fio util-linux python3" >&2
    exit 1
fi

mkdir -p "$data_dir"
fs_type="$(stat -f -c %T "$data_dir")"
if [[ "$fs_type" == tmpfs || "$fs_type" == ramfs ]]; then
    echo "--dir $data_dir is on $fs_type: pick a directory on the disk to measure" >&2
    exit 1
fi

target_dir="${CARGO_TARGET_DIR:-$repo/target}"
if [[ $skip_build -eq 0 ]]; then
    echo "building release binaries (cargo build --release --workspace)..." >&2
    (cd "$repo" && cargo build --release --workspace --quiet)
fi
server_bin="$target_dir/release/shardcask"
client_bin="$target_dir/release/shardcask-bench"
for bin in "$server_bin" "$client_bin"; do
    [[ -x "$bin" ]] || { echo "$bin is missing: build first (or drop --skip-build)" >&2; exit 1; }
done

[[ -n "$out" ]] || out="$here/results-$(date +%Y%m%d-%H%M%S).md"

# glommio locks memory for its rings.
ulimit -l unlimited 2>/dev/null || true

export COMPARE_MODE="$mode" COMPARE_ROUNDS="$rounds" COMPARE_DURATION="$duration" \
    COMPARE_DIR="$data_dir" COMPARE_SERVER_CPUS="$server_cpus" \
    COMPARE_CLIENT_CPUS="$client_cpus" COMPARE_OUT="$out" COMPARE_ONLY="$only" \
    COMPARE_SERVER_BIN="$server_bin" COMPARE_CLIENT_BIN="$client_bin" \
    COMPARE_FS="$fs_type" COMPARE_PORT_BASE="$port_base" COMPARE_CMDLINE="bench-client/compare.sh $orig_args"
exec python3 "$here/compare.py"
