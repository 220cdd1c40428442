#!/usr/bin/env python3
"""p99 at half of peak: shardcask against Redis, alternating, in one run.

For each workload (GET and SET of 100 B over 10k preloaded keys, 50
connections, each pipeline depth asked for):

1. peak: closed-loop `shardcask-bench --pipeline P`, shardcask and Redis
   alternating, ROUNDS rounds; the median of each server is its peak;
2. half of it at a fixed rate in the same shape (`--rate peak/2 --burst P
   --pipeline 4P`: each connection sends P requests per intended time, as
   the peak run did, with room for 4 such bursts in flight), alternating
   again, ROUNDS rounds; the table holds the medians and every round's p99.
   The client wakes once per `--tick-us` (default 50 us) in these runs:
   woken by every send and every reply it spent ~12 us per request at P1
   and was the limit (up to 50 us added to each latency instead).

Servers: one shard `--sync always` and redis-server `appendfsync always`,
both on the server CPU; the client on the client CPU. Beside the latencies
each run reports what could have made them other than the server:

- the client's send lag p99 (how late the client itself sent; from the
  report), its CPU share and its run-queue wait in ms per second (time
  runnable but not running: other processes had its CPU);
- the server's CPU share (all threads) and the run-queue wait of its
  busiest thread (/proc/PID/task/*/schedstat).

`--prio` runs each server and the client in an autogroup of its own with
nice -20 (root), so other processes on the shared CPUs no longer decide
the tail. (Plain `nice` does not do it here: with
kernel.sched_autogroup_enabled=1 every session is a group and groups
share the CPU equally whatever their members' nice.) `--rt` goes further
for the client: in the fixed-rate runs only it runs SCHED_FIFO 10 (`chrt
-f`), so other work never delays its sends; a process that needs more than
the RT budget (95% of each second) is stopped for the rest of the second,
which a closed-loop peak run would hit, hence not there. The servers stay
at `--prio` (which `--rt` implies): shardcask refuses SCHED_FIFO/RR at
start, because the io_uring workers that run its fdatasyncs inherit the
shard's policy and CPU, and a busy FIFO shard starves them, so a durable
SET would wait on its own server's scheduling rather than on the disk. The client CPU
column tells when the client is the limit. `--fio` measures the disk's floor for a
durable SET: fio's fdatasync latency after 4 KiB writes in the data
directory, and prints SET p99 as a ratio to its p99.

Run from the workspace root after `cargo build --release -p shardcask -p
shardcask-bench`; needs redis-server (and fio with --fio, root for --rt).
"""

import argparse
import glob
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    target = os.environ.get("CARGO_TARGET_DIR", "target")
    p.add_argument("--server-bin", default=f"{target}/release/shardcask")
    p.add_argument("--client-bin", default=f"{target}/release/shardcask-bench")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--duration", type=float, default=5.0, help="seconds per run")
    p.add_argument("--ops", default="GET,SET")
    p.add_argument("--pipelines", default="16,1", help="comma list of pipeline depths")
    p.add_argument("--connections", type=int, default=50)
    p.add_argument("--server-cpu", default="0")
    p.add_argument("--client-cpu", default="1")
    p.add_argument("--port", type=int, default=7311, help="shardcask; Redis gets the next one")
    p.add_argument("--dir", default=None, help="data directory (default: a fresh temporary one)")
    p.add_argument("--prio", action="store_true",
                   help="servers and client each in an autogroup of their own at nice -20")
    p.add_argument("--tick-us", type=int, default=50,
                   help="client --tick-us in the fixed-rate runs (0: wake on every event)")
    p.add_argument("--rt", action="store_true",
                   help="client SCHED_FIFO 10 in fixed-rate runs; implies --prio (root)")
    p.add_argument("--shares", default="0.5",
                   help="comma list of fixed rates as shares of the peak (0.5: half)")
    p.add_argument("--fio", action="store_true", help="fdatasync floor for SET (fio)")
    p.add_argument("--json", default=None, help="also write every run as JSON to this file")
    return p.parse_args()


ARGS = parse_args()
if ARGS.rt:
    ARGS.prio = True
KEYS = 10_000


def log(text):
    print(text, file=sys.stderr, flush=True)


def sched(pid):
    """{thread id: (CPU ns, run-queue wait ns)} of the process's threads."""
    threads = {}
    for path in glob.glob(f"/proc/{pid}/task/*/schedstat"):
        try:
            fields = open(path).read().split()
        except OSError:
            continue
        threads[path.split("/")[4]] = (int(fields[0]), int(fields[1]))
    return threads


def sched_delta(before, after):
    """(CPU ns of the whole process, run-queue wait ns of its busiest
    thread: the event loop, not helper threads queued behind it)."""
    deltas = [(cpu - before.get(tid, (0, 0))[0], wait - before.get(tid, (0, 0))[1])
              for tid, (cpu, wait) in after.items()]
    if not deltas:
        return 0, 0
    return sum(d[0] for d in deltas), max(deltas)[1]


def prio(argv, rt_priority=None):
    """`argv` in a new session (so a new autogroup) whose nice is -20,
    with `--prio`; under SCHED_FIFO `rt_priority` with `--rt`."""
    if ARGS.rt and rt_priority is not None:
        argv = ["chrt", "-f", str(rt_priority), *argv]
    if not ARGS.prio:
        return argv
    return ["setsid", "sh", "-c", 'echo -20 > /proc/self/autogroup && exec nice -n -20 "$@"',
            "prio", *argv]


class Server:
    def __init__(self, name, port, argv, log_path):
        self.name, self.port = name, port
        self.log = open(log_path, "w")
        self.proc = subprocess.Popen(prio(argv), stdout=self.log, stderr=subprocess.STDOUT)
        self.pid = self.proc.pid
        for _ in range(100):
            done = subprocess.run(["redis-cli", "-p", str(port), "PING"],
                                  capture_output=True, text=True)
            if done.stdout.strip() == "PONG":
                break
            time.sleep(0.1)
        else:
            self.stop()
            raise SystemExit(f"{name} did not answer PING on {port}")

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def client(port, *args, rt_priority=None):
    argv = [ARGS.client_bin, "--addr", f"127.0.0.1:{port}", "--cpus", ARGS.client_cpu,
            "--keys", str(KEYS), "--value-size", "100", "--json", "--quiet", *args]
    proc = subprocess.Popen(prio(argv, rt_priority), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    out = proc.stdout.read()
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    try:
        report = json.loads(out)
    except json.JSONDecodeError:
        raise SystemExit(f"client failed ({status}): {' '.join(argv)}\n{err[-2000:]}")
    return report, usage.ru_utime + usage.ru_stime


def measure(server, *args, rt_priority=None):
    before = sched(server.pid)
    t0 = time.monotonic()
    report, client_cpu = client(server.port, *args, rt_priority=rt_priority)
    elapsed = time.monotonic() - t0
    cpu, wait = sched_delta(before, sched(server.pid))
    client_sched = report.get("client_sched", {})
    measured = max(report.get("elapsed_s", elapsed), 1e-9)
    total = report["total"]
    lag = report.get("send_lag_us", {})
    if total.get("errors"):
        log(f"  ! {total['errors']} errors: {report.get('first_error')}")
    return {
        "ops_s": total["ops_per_sec"],
        "p50": total["latency_us"]["p50"],
        "p99": total["latency_us"]["p99"],
        "p999": total["latency_us"]["p99_9"],
        "max": total["latency_us"]["max"],
        "lag_p99": lag.get("p99", float("nan")),
        "server_cpu": cpu / 1e9 / elapsed,
        "rq_wait_ms_s": wait / 1e6 / elapsed,
        "client_cpu": client_cpu / elapsed,
        "client_rq_wait_ms_s": client_sched.get("runqueue_wait_s", float("nan")) * 1e3 / measured,
        "errors": total.get("errors", 0),
    }


def med(runs, key):
    return statistics.median(r[key] for r in runs)


def fio_fdatasync_p99(directory):
    """fio's fdatasync latency (us) after each 4 KiB sequential write into a
    file already written once (as the log writes into zeros written ahead)."""
    out = subprocess.run(
        ["fio", "--name=fdatasync", f"--directory={directory}", "--rw=write", "--bs=4k",
         "--size=64m", "--overwrite=1", "--ioengine=sync", "--fdatasync=1", "--time_based", "--runtime=10",
         "--output-format=json"],
        capture_output=True, text=True, check=True).stdout
    job = json.loads(out[out.index("{"):])["jobs"][0]
    sync = job["sync"]["lat_ns"]
    pct = sync.get("percentile", {})
    return {
        "p50": pct.get("50.000000", 0) / 1000,
        "p99": pct.get("99.000000", 0) / 1000,
        "mean": sync.get("mean", 0) / 1000,
        "iops": job["write"]["iops"],
    }


def main():
    for tool in ("redis-server", "redis-cli") + (("fio",) if ARGS.fio else ()) + (
            ("setsid",) if ARGS.prio else ()) + (("chrt",) if ARGS.rt else ()):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is not installed")
    for binary in (ARGS.server_bin, ARGS.client_bin):
        if not os.access(binary, os.X_OK):
            raise SystemExit(f"{binary} missing: cargo build --release -p shardcask -p shardcask-bench")
    base = ARGS.dir or tempfile.mkdtemp(prefix="half-peak-")
    sc_dir, rd_dir = os.path.join(base, "shardcask"), os.path.join(base, "redis")
    for d in (sc_dir, rd_dir):
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
    sc = Server("shardcask", ARGS.port,
                [ARGS.server_bin, "--listen", f"127.0.0.1:{ARGS.port}", "--dir", sc_dir,
                 "--shards", "1", "--cpus", ARGS.server_cpu, "--sync", "always"],
                os.path.join(base, "shardcask.log"))
    rd = None
    try:
        rd = Server("redis", ARGS.port + 1,
                    ["taskset", "-c", ARGS.server_cpu, "redis-server", "--port",
                     str(ARGS.port + 1), "--bind", "127.0.0.1", "--dir", rd_dir, "--save", "",
                     "--appendonly", "yes", "--appendfsync", "always",
                     "--auto-aof-rewrite-percentage", "0", "--protected-mode", "no",
                     "--io-threads", "1"],
                    os.path.join(base, "redis.log"))
        servers = (sc, rd)
        for server in servers:
            client(server.port, "--preload", "--requests", "1", "--connections", "50",
                   "--pipeline", "16")
        floors = [fio_fdatasync_p99(base)] if ARGS.fio else []
        load = open("/proc/loadavg").read().split()[0]
        results = []
        lines = []
        conns = str(ARGS.connections)
        shares = [float(x) for x in ARGS.shares.split(",")]
        for pipeline in [int(p) for p in ARGS.pipelines.split(",")]:
            for op in ARGS.ops.split(","):
                ratio = "0:1" if op == "GET" else "1:0"
                shape = ["--ratio", ratio, "--connections", conns, "--duration",
                         str(ARGS.duration)]
                peaks = {s.name: [] for s in servers}
                for round_ in range(ARGS.rounds):
                    for server in servers:
                        run = measure(server, *shape, "--pipeline", str(pipeline))
                        peaks[server.name].append(run)
                        log(f"peak {op} P{pipeline} {server.name} round {round_ + 1}: "
                            f"{run['ops_s']:.0f}/s")
                for share in shares:
                    rates = {name: share * med(runs, "ops_s") for name, runs in peaks.items()}
                    fixed = {s.name: [] for s in servers}
                    for round_ in range(ARGS.rounds):
                        for server in servers:
                            # The window is 4 bursts deep: a burst goes out when
                            # it is due even if the previous one is still out,
                            # so the send lag is the client's own lateness.
                            run = measure(server, *shape, "--rate", str(int(rates[server.name])),
                                          "--burst", str(pipeline), "--pipeline",
                                          str(4 * pipeline), "--tick-us", str(ARGS.tick_us),
                                          rt_priority=10)
                            fixed[server.name].append(run)
                            log(f"{share:g} of peak {op} P{pipeline} {server.name} round "
                                f"{round_ + 1}: {run['ops_s']:.0f}/s p50 {run['p50']:.0f} p99 "
                                f"{run['p99']:.0f} us, lag p99 {run['lag_p99']:.0f} us, client "
                                f"CPU {100 * run['client_cpu']:.0f}% rq-wait "
                                f"{run['client_rq_wait_ms_s']:.1f} ms/s, server rq-wait "
                                f"{run['rq_wait_ms_s']:.1f} ms/s")
                    for server in servers:
                        runs = fixed[server.name]
                        results.append({"op": op, "pipeline": pipeline, "share": share,
                                        "server": server.name,
                                        "peak": [r["ops_s"] for r in peaks[server.name]],
                                        "fixed": runs})
                        per_round = " / ".join(f"{r['p99']:,.0f}" for r in runs)
                        lines.append(
                            f"| {op} P{pipeline} | {server.name} "
                            f"| {med(peaks[server.name], 'ops_s'):,.0f} | {share:g} "
                            f"| {rates[server.name]:,.0f} | {med(runs, 'ops_s'):,.0f} "
                            f"| {med(runs, 'p50'):,.0f} | **{med(runs, 'p99'):,.0f}** "
                            f"({per_round}) | {med(runs, 'p999'):,.0f} "
                            f"| {med(runs, 'lag_p99'):,.0f} "
                            f"| {100 * med(runs, 'client_cpu'):.0f}% "
                            f"| {med(runs, 'client_rq_wait_ms_s'):.1f} "
                            f"| {100 * med(runs, 'server_cpu'):.0f}% "
                            f"| {med(runs, 'rq_wait_ms_s'):.1f} |")
        if ARGS.fio:
            floors.append(fio_fdatasync_p99(base))
        print(f"fixed-rate latency at {ARGS.shares} of peak: {ARGS.connections} connections, "
              f"100 B values, {KEYS} keys, {ARGS.rounds} alternating rounds of "
              f"{ARGS.duration:g} s, medians; servers on CPU {ARGS.server_cpu}, client on CPU "
              f"{ARGS.client_cpu}{', --prio' if ARGS.prio else ''}{', --rt' if ARGS.rt else ''}, client "
              f"--tick-us {ARGS.tick_us}; load average before: {load}, "
              f"after: {open('/proc/loadavg').read().split()[0]}")
        for when, floor in zip(("before", "after"), floors):
            print(f"fio fdatasync after each 4 KiB write ({when}): p50 {floor['p50']:,.0f} us, "
                  f"p99 {floor['p99']:,.0f} us ({floor['iops']:,.0f} writes/s)")
        print()
        print("| workload | server | peak ops/s | share | rate | achieved | p50 µs "
              "| p99 µs (rounds) | p99.9 µs | client send lag p99 µs | client CPU "
              "| client run-queue wait ms/s | server CPU | server run-queue wait ms/s |")
        print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for line in lines:
            print(line)
        if ARGS.json:
            with open(ARGS.json, "w") as f:
                json.dump({"fio": floors, "results": results}, f, indent=1)
    finally:
        sc.stop()
        if rd:
            rd.stop()
        if not ARGS.dir:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
