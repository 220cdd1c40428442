#!/usr/bin/env bash
# Foreground latency while a merge runs, rerunnable (issue 4's measurement).
#
#   bench-client/merge-latency.sh                  # ~5 minutes: one 240 s run
#   bench-client/merge-latency.sh --total 600 --phase 15
#   bench-client/merge-latency.sh --method runs --rounds 5   # the older method
#
# One shardcask shard pinned to --server-cpus (--merge-interval 0, so only
# this script starts merges; small --max-file-size, so there are many files),
# the client (shardcask-bench) pinned to --client-cpus. Steps:
#
# 1. Preload: every key once, then --passes - 1 more rounds of random SETs
#    over the key space, so about (passes-1)/passes of the log is dead.
# 2. Peak: a 5 s closed-loop run of the mixed workload with the same
#    connections and pipeline; the measured load is a fixed rate of --load
#    (default 0.5) x peak.
# 3. The measurement, by --method:
#    - interleaved (default): ONE fixed-rate client run of --total seconds
#      that writes its latencies per 0.5 s slot of intended send time
#      (shardcask-bench --timeline). Meanwhile merges are switched on and off
#      in turns: for --phase seconds `MERGE` is sent back to back (a full
#      merge of every sealed file; the last one runs to its end), then
#      --phase seconds without one. Every merge's start and end are logged.
#      A slot counts as "with" when a merge was in progress for all of it,
#      as "without" when none was and the last merge ended at least 1 s
#      before it began (its backlog has drained); slots of the first 5 s and
#      mixed slots count as neither. Each condition's slots are pooled into
#      one histogram. Both conditions share one connection set, one warm
#      cache and the slow drift of a shared machine, which separate runs do
#      not: on this VM a run's p99 moves by 2x from one 20 s run to the next.
#    - runs: --rounds rounds of one --duration run WITHOUT a merge, then one
#      WITH merges looped back to back for the whole run.
#
# Latency is the client's: measured from each request's intended send time
# (--rate), so a stalled server shows in the percentiles. Reported: p50,
# p99, p99.9 (µs) of each condition and the ratio p99(with)/p99(without);
# for interleaved also each on/off cycle's own ratio, for runs each round's.
# INFO persistence (merges, merge_total_ms) is read as a cross-check. The
# markdown table goes to stdout and to --out.
#
# Options:
#   --method M              interleaved or runs [default interleaved]
#   --total S               interleaved: length of the client run [default 240]
#   --phase S               interleaved: seconds of merging, then of quiet [default 10]
#   --rounds N              runs: without/with rounds [default 3]
#   --duration S            runs: seconds per measured run [default 20]
#   --keys N                key space [default 100000]
#   --value-size SPEC       shardcask-bench --value-size [default 100-4KiB]
#   --ratio SET:GET         [default 1:1]
#   --passes N              preload writes every key about N times [default 3]
#   --max-file-size SIZE    server log file size [default 16MiB]
#   --cache-size SIZE       server value cache [default 64MiB]
#   --sync MODE             server --sync [default always]
#   --load F                fixed rate = F x peak [default 0.5]
#   --rate OPS              fixed rate (skips the peak run)
#   --connections N         client connections [default 50]
#   --pipeline N            requests in flight per connection [default 4]
#   --dir PATH              data directory, on the disk to measure (not tmpfs)
#                           [default /var/tmp/shardcask-merge-latency]
#   --server-cpus LIST      [default 0]
#   --client-cpus LIST      [default 1]
#   --out FILE              markdown results [default bench-client/merge-latency-<time>.md]
#   --skip-build            use the binaries already built
#   --server-bin PATH       run this shardcask binary (e.g. an older build, to
#                           compare) instead of the one just built
#
# Needs: redis-cli (redis-tools), taskset, python3, cargo.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"

orig_args="$*"
method=interleaved
total=240
phase=10
rounds=3
duration=20
keys=100000
value_size=100-4KiB
ratio=1:1
passes=3
max_file_size=16MiB
cache_size=64MiB
sync=always
load=0.5
rate=""
connections=50
pipeline=4
data_dir=/var/tmp/shardcask-merge-latency
server_cpus=0
client_cpus=1
out=""
skip_build=0
server_bin=""

while [[ $# -gt 0 ]]; do
    case "$1" in
    --method) method="$2"; shift ;;
    --total) total="$2"; shift ;;
    --phase) phase="$2"; shift ;;
    --rounds) rounds="$2"; shift ;;
    --duration) duration="$2"; shift ;;
    --keys) keys="$2"; shift ;;
    --value-size) value_size="$2"; shift ;;
    --ratio) ratio="$2"; shift ;;
    --passes) passes="$2"; shift ;;
    --max-file-size) max_file_size="$2"; shift ;;
    --cache-size) cache_size="$2"; shift ;;
    --sync) sync="$2"; shift ;;
    --load) load="$2"; shift ;;
    --rate) rate="$2"; shift ;;
    --connections) connections="$2"; shift ;;
    --pipeline) pipeline="$2"; shift ;;
    --dir) data_dir="$2"; shift ;;
    --server-cpus) server_cpus="$2"; shift ;;
    --client-cpus) client_cpus="$2"; shift ;;
    --out) out="$2"; shift ;;
    --skip-build) skip_build=1 ;;
    --server-bin) server_bin="$2"; shift ;;
    -h | --help) sed -n '2,67p' "$0"; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done
[[ "$method" == interleaved || "$method" == runs ]] ||
    { echo "--method is interleaved or runs" >&2; exit 2; }

missing=()
for tool in redis-cli taskset python3; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [[ ${#missing[@]} -gt 0 ]]; then
    echo "missing: ${missing[*]} (apt-get install redis-tools util-linux python3)" >&2
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
[[ -n "$server_bin" ]] || server_bin="$target_dir/release/shardcask"
client_bin="$target_dir/release/shardcask-bench"
for bin in "$server_bin" "$client_bin"; do
    [[ -x "$bin" ]] || { echo "$bin is missing: build first (or drop --skip-build)" >&2; exit 1; }
done

[[ -n "$out" ]] || out="$here/merge-latency-$(date +%Y%m%d-%H%M%S).md"

# glommio locks memory for its rings (the server says so when it is too low).
ulimit -l unlimited 2>/dev/null || true

# The driver writes the server's pid here; whatever happens to it, the
# server does not outlive this script.
pid_file="$(mktemp)"
cleanup() {
    local pid
    pid="$(cat "$pid_file" 2>/dev/null || true)"
    if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        sleep 2
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$pid_file"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

export ML_METHOD="$method" ML_TOTAL="$total" ML_PHASE="$phase" ML_ROUNDS="$rounds" ML_DURATION="$duration" ML_KEYS="$keys" ML_VALUE_SIZE="$value_size" \
    ML_RATIO="$ratio" ML_PASSES="$passes" ML_MAX_FILE_SIZE="$max_file_size" \
    ML_CACHE_SIZE="$cache_size" ML_SYNC="$sync" ML_LOAD="$load" ML_RATE="$rate" \
    ML_CONNECTIONS="$connections" ML_PIPELINE="$pipeline" ML_DIR="$data_dir" \
    ML_SERVER_CPUS="$server_cpus" ML_CLIENT_CPUS="$client_cpus" ML_OUT="$out" \
    ML_SERVER_BIN="$server_bin" ML_CLIENT_BIN="$client_bin" ML_PID_FILE="$pid_file" \
    ML_FS="$fs_type" ML_CMDLINE="bench-client/merge-latency.sh $orig_args"

python3 - <<'PY'
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time

E = os.environ
METHOD = E["ML_METHOD"]
TOTAL = float(E["ML_TOTAL"])
PHASE = float(E["ML_PHASE"])
ROUNDS = int(E["ML_ROUNDS"])
DURATION = float(E["ML_DURATION"])
KEYS = int(E["ML_KEYS"])
VALUE_SIZE = E["ML_VALUE_SIZE"]
RATIO = E["ML_RATIO"]
PASSES = int(E["ML_PASSES"])
LOAD = float(E["ML_LOAD"])
RATE = E["ML_RATE"]
CONNECTIONS = E["ML_CONNECTIONS"]
PIPELINE = E["ML_PIPELINE"]
DATA = os.path.join(E["ML_DIR"], "data")
CLIENT_CPUS = E["ML_CLIENT_CPUS"]
SERVER_CPUS = E["ML_SERVER_CPUS"]
PORT = 7811 + os.getpid() % 500


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def redis_cli(*args, timeout=30):
    done = subprocess.run(["redis-cli", "-p", str(PORT), *args], capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    return done.stdout.strip()


def info(section="persistence"):
    stats = {}
    for line in redis_cli("INFO", section).splitlines():
        key, _, value = line.partition(":")
        try:
            stats[key] = float(value)
        except ValueError:
            pass
    return stats


def start_server():
    shutil.rmtree(DATA, ignore_errors=True)
    argv = [
        "taskset", "-c", SERVER_CPUS, E["ML_SERVER_BIN"], "--listen", f"127.0.0.1:{PORT}",
        "--dir", DATA, "--shards", "1", "--cpus", SERVER_CPUS, "--sync", E["ML_SYNC"],
        "--max-file-size", E["ML_MAX_FILE_SIZE"], "--cache-size", E["ML_CACHE_SIZE"],
        "--merge-interval", "0", "--stats-interval", "0",
    ]
    log_file = open(os.path.join(E["ML_DIR"], "server.log"), "w")
    proc = subprocess.Popen(argv, stdout=log_file, stderr=subprocess.STDOUT)
    with open(E["ML_PID_FILE"], "w") as f:
        f.write(str(proc.pid))  # taskset execs the server: same pid
    deadline = time.time() + 60
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"shardcask exited during start-up, see {log_file.name}")
        if redis_cli("PING") == "PONG":
            log(f"shardcask up on port {PORT}: {' '.join(argv[3:])}")
            return proc
        time.sleep(0.1)
    raise SystemExit("shardcask did not answer PING")


def stop_server(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def bench_argv(*args):
    return [E["ML_CLIENT_BIN"], "--addr", f"127.0.0.1:{PORT}", "--cpus", CLIENT_CPUS,
            "--json", "--quiet", "--keys", str(KEYS), "--value-size", VALUE_SIZE, *args]


def bench(*args):
    done = subprocess.run(bench_argv(*args), capture_output=True, text=True, timeout=7200)
    try:
        return json.loads(done.stdout)
    except json.JSONDecodeError:
        raise SystemExit(f"client failed (status {done.returncode}): {done.stderr[-2000:]}")


class MergeLoop:
    """Sends MERGE back to back in a thread; logs (start, end, reply)."""

    def __init__(self):
        self.stop = threading.Event()
        self.merges = []
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        while not self.stop.is_set():
            start = time.monotonic()
            reply = redis_cli("MERGE", timeout=600)
            self.merges.append((start, time.monotonic(), reply))

    def coverage(self, begin, end):
        covered = sum(max(0.0, min(e, end) - max(s, begin)) for s, e, _ in self.merges)
        return covered / (end - begin)


def measured_run(rate, with_merge):
    before = info()
    argv = bench_argv("--ratio", RATIO, "--rate", str(int(rate)),
                      "--connections", CONNECTIONS, "--pipeline", PIPELINE,
                      "--duration", f"{DURATION:g}")
    merges = MergeLoop()
    begin = time.monotonic()
    client = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if with_merge:
        time.sleep(0.05)  # the client has connected and started sending
        merges.thread.start()
    stdout, stderr = client.communicate(timeout=DURATION + 600)
    end = time.monotonic()
    if with_merge:
        merges.stop.set()
        merges.thread.join()  # the merge in progress finishes before the next run
    after = info()
    try:
        report = json.loads(stdout)
    except json.JSONDecodeError:
        raise SystemExit(f"client failed (status {client.returncode}): {stderr[-2000:]}")
    total = report["total"]
    lat = total["latency_us"]
    merges_seen = after.get("merges", 0) - before.get("merges", 0)
    merge_ms = after.get("merge_total_ms", 0) - before.get("merge_total_ms", 0)
    failed = [reply for _, _, reply in merges.merges if not reply.isdigit()]
    return {
        "ops_s": total["ops_per_sec"],
        "p50": lat["p50"], "p99": lat["p99"], "p999": lat["p99_9"], "max": lat["max"],
        "errors": total.get("errors", 0),
        "coverage": merges.coverage(begin, end) if with_merge else 0.0,
        "merges": merges_seen,
        "merge_ms": merge_ms,
        "merge_durations": [e - s for s, e, _ in merges.merges],
        "merge_failures": failed,
        "window": end - begin,
    }


def median(runs, key):
    return statistics.median(r[key] for r in runs)


def fmt(value):
    return f"{value:,.0f}"


def table(rows):
    """rows: (name, ops/s or None, p50, p99, p999, note); the ratio row last."""
    lines = [
        "| condition | achieved ops/s | p50 µs | p99 µs | p99.9 µs | merge running |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, ops, p50, p99, p999, note in rows:
        ops_text = fmt(ops) if ops is not None else ""
        lines.append(f"| {name} | {ops_text} | {fmt(p50)} | {fmt(p99)} | {fmt(p999)} | {note} |")
    (_, _, p50_o, p99_o, p999_o, _), (_, _, p50_w, p99_w, p999_w, _) = rows[0], rows[1]
    lines.append(f"| **ratio with/without** | | {p50_w / p50_o:.2f}x "
                 f"| **{p99_w / p99_o:.2f}x** | {p999_w / p999_o:.2f}x | |")
    return lines


def runs_method(rate):
    """Separate runs without and with merges; returns (notes, table lines)."""
    runs = {"without": [], "with": []}
    first_merge = None
    for round_id in range(ROUNDS):
        for name in ("without", "with"):
            run = measured_run(rate, name == "with")
            runs[name].append(run)
            if name == "with" and first_merge is None and run["merge_durations"]:
                first_merge = run["merge_durations"][0]
            extra = ""
            if name == "with":
                durations = ", ".join(f"{d:.1f}" for d in run["merge_durations"])
                extra = (f", {run['merges']:.0f} merges ({durations} s), "
                         f"coverage {100 * run['coverage']:.0f}%")
            log(f"  round {round_id + 1} {name:7}: {fmt(run['ops_s'])} ops/s, "
                f"p50 {fmt(run['p50'])} p99 {fmt(run['p99'])} "
                f"p99.9 {fmt(run['p999'])} us{extra}")
            if name == "without" and run["merges"]:
                log("  ! a merge ran during a run without merges")
            if run["errors"] or run["merge_failures"]:
                log(f"  ! errors {run['errors']}, merge replies {run['merge_failures']}")
    wo, wi = runs["without"], runs["with"]
    per_round = " ".join(f"{w['p99'] / o['p99']:.2f}x" for o, w in zip(wo, wi))
    coverage = [100 * r["coverage"] for r in wi]
    notes = [
        f"- method: runs: {DURATION:g} s per run, {ROUNDS} rounds alternating without / with; "
        "medians over the rounds",
        f"- with merge: MERGE looped back to back from 0.05 s after the client starts; "
        f"merges per run {', '.join(str(round(r['merges'])) for r in wi)}; "
        f"share of the window with a merge in progress {', '.join(f'{c:.0f}%' for c in coverage)}"
        + (f"; the first merge (all the preload's garbage) took {first_merge:.1f} s"
           if first_merge else ""),
        f"- p99 ratio per round: {per_round}",
    ]
    rows = [
        ("without merge", median(wo, "ops_s"), median(wo, "p50"), median(wo, "p99"),
         median(wo, "p999"), "never"),
        ("with merge", median(wi, "ops_s"), median(wi, "p50"), median(wi, "p99"),
         median(wi, "p999"), f"{statistics.median(coverage):.0f}% of the window"),
    ]
    return notes, table(rows)


# Interleaved method: slots of the client's timeline.
SLOT_S = 0.5
WARMUP_S = 5.0
DRAIN_S = 1.0


def pool(histograms):
    total = {}
    for histogram in histograms:
        for value, count in histogram:
            total[value] = total.get(value, 0) + count
    return total


def quantile(histogram, q):
    n = sum(histogram.values())
    if n == 0:
        return float("nan")
    rank = q * n
    seen = 0
    for value in sorted(histogram):
        seen += histogram[value]
        if seen >= rank:
            return float(value)
    return float(max(histogram))


def classify_slots(timeline, merges, client_end):
    """Returns per slot 'with', 'without' or None, by merge coverage."""
    kinds = []
    start, slot_s = timeline["start_unix"], timeline["slot_s"]
    for index in range(len(timeline["slots"])):
        begin, end = start + index * slot_s, start + (index + 1) * slot_s
        kind = None
        if begin >= start + WARMUP_S and end <= client_end:
            covered = sum(max(0.0, min(e, end) - max(s, begin)) for s, e, _ in merges)
            last_end = max((e for s, e, _ in merges if e <= begin), default=None)
            if covered >= 0.999 * slot_s:
                kind = "with"
            elif covered == 0.0 and (last_end is None or begin - last_end >= DRAIN_S):
                kind = "without"
        kinds.append(kind)
    return kinds


def interleaved_method(rate):
    """One long run with merges switched on and off; returns (notes, table lines)."""
    timeline_path = os.path.join(E["ML_DIR"], "timeline.json")
    argv = bench_argv("--ratio", RATIO, "--rate", str(int(rate)),
                      "--connections", CONNECTIONS, "--pipeline", PIPELINE,
                      "--duration", f"{TOTAL:g}", "--timeline", timeline_path,
                      "--timeline-slot-ms", str(int(SLOT_S * 1000)))
    before = info()
    client = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    client_start = time.time()
    deadline = client_start + TOTAL
    merges, cycles = [], []
    time.sleep(WARMUP_S)
    while time.time() + PHASE < deadline:
        on = time.time()
        while time.time() - on < PHASE and time.time() < deadline:
            begin = time.time()
            reply = redis_cli("MERGE", timeout=600)
            merges.append((begin, time.time(), reply))
        off = time.time()
        time.sleep(max(0.0, min(PHASE, deadline - off)))
        cycles.append((on, off, time.time()))
        log(f"  cycle {len(cycles)}: merging {off - on:.1f} s "
            f"({sum(1 for s, _, _ in merges if s >= on)} merges), quiet {time.time() - off:.1f} s")
    stdout, stderr = client.communicate(timeout=TOTAL + 600)
    client_end = time.time()
    after = info()
    try:
        report = json.loads(stdout)
        with open(timeline_path) as f:
            timeline = json.load(f)
    except (json.JSONDecodeError, OSError):
        raise SystemExit(f"client failed (status {client.returncode}): {stderr[-2000:]}")
    kinds = classify_slots(timeline, merges, client_end)
    slots = timeline["slots"]
    pooled = {kind: pool(h for h, k in zip(slots, kinds) if k == kind)
              for kind in ("with", "without")}
    counts = {kind: sum(1 for k in kinds if k == kind) for kind in ("with", "without")}
    if not counts["with"] or not counts["without"]:
        raise SystemExit(f"no slots for one condition ({counts}): make --total longer")

    # Each cycle: its merge phase's "with" slots against its quiet phase's
    # "without" slots.
    start = timeline["start_unix"]
    per_cycle = []
    for on, off, quiet_end in cycles:
        def in_cycle(index, lo, hi):
            begin = start + index * SLOT_S
            return lo <= begin < hi
        w = pool(h for i, (h, k) in enumerate(zip(slots, kinds)) if k == "with"
                 and in_cycle(i, on, quiet_end))
        o = pool(h for i, (h, k) in enumerate(zip(slots, kinds)) if k == "without"
                 and in_cycle(i, on, quiet_end))
        if w and o:
            per_cycle.append(quantile(w, 0.99) / quantile(o, 0.99))

    def summary(kind):
        h = pooled[kind]
        return [quantile(h, 0.50), quantile(h, 0.99), quantile(h, 0.999)]

    failed = [reply for _, _, reply in merges if not reply.isdigit()]
    if report["total"].get("errors", 0) or failed:
        log(f"  ! errors {report['total'].get('errors', 0)}, merge replies {failed}")
    seconds = {kind: counts[kind] * SLOT_S for kind in counts}
    ops = {kind: sum(pooled[kind].values()) / seconds[kind] for kind in counts}
    durations = [e - s for s, e, _ in merges]
    merges_seen = after.get("merges", 0) - before.get("merges", 0)
    notes = [
        f"- method: interleaved: one {TOTAL:g} s client run, {len(cycles)} cycles of "
        f"{PHASE:g} s merging then {PHASE:g} s quiet; {SLOT_S:g} s slots of intended send "
        f"time, pooled: {counts['with']} slots with a merge in progress throughout "
        f"({seconds['with']:.0f} s), {counts['without']} slots without one "
        f"({seconds['without']:.0f} s); first {WARMUP_S:g} s, mixed slots and "
        f"{DRAIN_S:g} s after each merge left out",
        f"- merges: {len(merges)} ({merges_seen:.0f} by INFO), "
        f"{statistics.median(durations):.1f} s median"
        + (f", the first (all the preload's garbage) {durations[0]:.1f} s" if durations else ""),
        f"- client: {fmt(report['total']['ops_per_sec'])} ops/s over the whole run",
        "- p99 ratio per cycle: " + " ".join(f"{r:.2f}x" for r in per_cycle)
        + (f" (median {statistics.median(per_cycle):.2f}x)" if per_cycle else ""),
    ]
    rows = [
        ("without merge", ops["without"], *summary("without"), "never"),
        ("with merge", ops["with"], *summary("with"), "throughout the slot"),
    ]
    return notes, table(rows)


def main():
    started = time.time()
    load_before = " ".join(open("/proc/loadavg").read().split()[:3])
    server = start_server()
    try:
        log(f"preload: {KEYS} keys, then {PASSES - 1} x {KEYS} random SETs")
        bench("--preload", "--ratio", "1:0", "--requests", str(max(1, (PASSES - 1) * KEYS)),
              "--connections", "16", "--pipeline", "16")
        shape = info()
        log(f"  log: {shape.get('log_files', 0):.0f} files, "
            f"{shape.get('disk_bytes', 0) / 2**20:.0f} MiB on disk, "
            f"{shape.get('dead_bytes', 0) / 2**20:.0f} MiB dead")
        if RATE:
            peak, rate = float("nan"), float(RATE)
        else:
            # Same connections and pipeline as the measured runs: with
            # --sync always a request waits for a group commit, so the
            # requests in flight cap the throughput.
            peak = bench("--ratio", RATIO, "--connections", CONNECTIONS, "--pipeline", PIPELINE,
                         "--duration", "5")["total"]["ops_per_sec"]
            rate = peak * LOAD
            log(f"peak {fmt(peak)} ops/s ({CONNECTIONS} connections x pipeline {PIPELINE}); "
                f"fixed rate {fmt(rate)}")
        if METHOD == "runs":
            notes, lines = runs_method(rate)
        else:
            notes, lines = interleaved_method(rate)
        shape_after = info()
    finally:
        stop_server(server)

    out = [
        "- command: `" + E["ML_CMDLINE"].strip() + "`",
        f"- one shard on CPU {SERVER_CPUS}, client on CPU {CLIENT_CPUS}; "
        f"`--sync {E['ML_SYNC']} --max-file-size {E['ML_MAX_FILE_SIZE']} "
        f"--cache-size {E['ML_CACHE_SIZE']} --merge-interval 0`; data in {E['ML_DIR']} "
        f"({E['ML_FS']})",
        f"- data: {KEYS:,} keys of {VALUE_SIZE}, each written ~{PASSES} times: "
        f"{shape.get('disk_bytes', 0) / 2**20:.0f} MiB of log in "
        f"{shape.get('log_files', 0):.0f} files, {shape.get('dead_bytes', 0) / 2**20:.0f} MiB "
        f"dead; live {shape_after.get('live_bytes', 0) / 2**20:.0f} MiB at the end",
        f"- workload: SET:GET {RATIO}, {CONNECTIONS} connections x pipeline {PIPELINE}, "
        f"fixed rate {fmt(rate)} ops/s"
        + (f" ({LOAD:g} x peak {fmt(peak)})" if peak == peak else ""),
        *notes,
        f"- load average before: {load_before}; after: "
        + " ".join(open("/proc/loadavg").read().split()[:3])
        + f"; wall time {time.time() - started:.0f} s",
        "",
        *lines,
    ]
    text = "\n".join(out) + "\n"
    print(text)
    with open(E["ML_OUT"], "w") as f:
        f.write(text)
    log(f"results written to {E['ML_OUT']}")


main()
PY
