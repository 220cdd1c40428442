#!/usr/bin/env python3
"""Driver of bench-client/compare.sh (run that, not this: it checks the
tools, builds, and passes the settings in COMPARE_* variables).

Every measured run is one `shardcask-bench --json` invocation pinned to the
client CPUs against a server pinned to the server CPUs; the server's CPU time
(utime + stime of the whole process, all threads) is read from /proc/PID/stat
right before and right after the client runs. Preloads are separate client
runs, outside the measurement.
"""

import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time

ENV = os.environ
MODE = ENV.get("COMPARE_MODE", "quick")
FULL = MODE == "full"
ROUNDS = int(ENV.get("COMPARE_ROUNDS") or (5 if FULL else 3))
DURATION = float(ENV.get("COMPARE_DURATION") or (5 if FULL else 1))
DATA = ENV["COMPARE_DIR"]
SERVER_CPUS = ENV.get("COMPARE_SERVER_CPUS", "0")
CLIENT_CPUS = ENV.get("COMPARE_CLIENT_CPUS", "1")
OUT = ENV["COMPARE_OUT"]
ONLY = set(ENV.get("COMPARE_ONLY", "").split(","))
SERVER_BIN = ENV["COMPARE_SERVER_BIN"]
CLIENT_BIN = ENV["COMPARE_CLIENT_BIN"]
CMDLINE = ENV.get("COMPARE_CMDLINE", "bench-client/compare.sh")

# Every server start takes a fresh port: a restarted shardcask cannot bind a
# port that still has TIME_WAIT connections (glommio's listener sets
# SO_REUSEPORT but not SO_REUSEADDR).
# COMPARE_PORT_BASE (--port-base) keeps a run inside a given port range.
NEXT_PORT = [int(ENV.get("COMPARE_PORT_BASE") or 7411 + (os.getpid() % 200) * 50)]


def fresh_port():
    NEXT_PORT[0] += 1
    return NEXT_PORT[0]


CLK_TCK = os.sysconf("SC_CLK_TCK")

# Hot workloads: 10k keys of 100 B (1 MB: any cache holds it).
HOT_KEYS = 10_000
# 4 KiB random reads: data set and value cache (data >= 4x cache; the reads
# are O_DIRECT, so the page cache plays no part for shardcask or fio).
DISK4K_KEYS = 262_144 if FULL else 65_536  # 1 GiB / 256 MiB
DISK4K_CACHE = "64MiB" if FULL else "16MiB"
DISK4K_QD = 32
# 1 MiB values.
DISK1M_KEYS = 1024 if FULL else 256  # 1 GiB / 256 MiB
DISK1M_QD = 4
DISK1M_CACHE = "16MiB"


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as stat:
        # The command name may hold spaces; fields resume after the ')'.
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def io_bytes(pid):
    """(read, written) bytes the process had the block layer move, O_DIRECT
    included (/proc/PID/io; NaN when unreadable)."""
    fields = {}
    try:
        with open(f"/proc/{pid}/io") as f:
            for line in f:
                key, _, value = line.partition(":")
                fields[key] = float(value)
    except OSError:
        pass
    return fields.get("read_bytes", float("nan")), fields.get("write_bytes", float("nan"))


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def redis_cli(port, *args):
    return subprocess.run(
        ["redis-cli", "-p", str(port), *args],
        capture_output=True, text=True, timeout=30,
    ).stdout


def wait_ready(port, proc, what):
    deadline = time.time() + 60
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited during start-up (status {proc.returncode})")
        if redis_cli(port, "PING").strip() == "PONG":
            return
        time.sleep(0.1)
    raise SystemExit(f"{what} did not answer PING on port {port}")


class Server:
    """A server process pinned to SERVER_CPUS."""

    def __init__(self, name, port, argv, log_path, cpus=None):
        self.name = name
        self.port = port
        self.log = open(log_path, "w")
        self.proc = subprocess.Popen(
            ["taskset", "-c", cpus or SERVER_CPUS, *argv],
            stdout=self.log, stderr=subprocess.STDOUT,
        )
        wait_ready(port, self.proc, name)

    @property
    def pid(self):
        return self.proc.pid  # taskset execs the server: same pid

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def start_shardcask(sync, shards=1, cpus=None, cache="64MiB", tag="sc"):
    """shardcask with `shards` executors pinned to `cpus` (default: the
    server CPUs); the whole process is confined to those CPUs."""
    data = os.path.join(DATA, f"shardcask-{tag}")
    shutil.rmtree(data, ignore_errors=True)
    cpus = cpus or SERVER_CPUS
    port = fresh_port()
    argv = [
        SERVER_BIN, "--listen", f"127.0.0.1:{port}", "--dir", data,
        "--shards", str(shards), "--cpus", cpus, "--sync", sync,
        "--stats-interval", "0", "--cache-size", cache, "--merge-interval", "0",
    ]
    return Server(f"shardcask --sync {sync}", port, argv, data + ".log", cpus)


def start_redis(appendfsync, tag="redis"):
    data = os.path.join(DATA, f"redis-{tag}")
    shutil.rmtree(data, ignore_errors=True)
    os.makedirs(data)
    port = fresh_port()
    argv = [
        "redis-server", "--port", str(port), "--bind", "127.0.0.1",
        "--dir", data, "--save", "", "--appendonly", "yes",
        "--appendfsync", appendfsync, "--auto-aof-rewrite-percentage", "0",
        "--protected-mode", "no", "--daemonize", "no", "--io-threads", "1",
    ]
    return Server(f"redis appendfsync {appendfsync}", port, argv, data + ".log")


def bench(port, *args, duration=None, requests=None, rate=None):
    """One client run; returns the parsed JSON report."""
    argv = [
        CLIENT_BIN, "--addr", f"127.0.0.1:{port}", "--cpus", CLIENT_CPUS,
        "--json", "--quiet", *args,
    ]
    if requests is not None:
        argv += ["--requests", str(requests)]
    else:
        argv += ["--duration", str(duration or DURATION)]
    if rate is not None:
        # No --spin-us: a spinning client on a shared CPU starves itself at high rates.
        argv += ["--rate", str(int(rate))]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=3600)
    try:
        return json.loads(done.stdout)
    except json.JSONDecodeError:
        raise SystemExit(
            f"client failed (status {done.returncode}): {' '.join(argv)}\n{done.stderr[-2000:]}"
        )


def have_perf():
    """True when perf can count tracepoints here (root or a low
    perf_event_paranoid, and tracefs mounted)."""
    if shutil.which("perf") is None:
        return False
    done = subprocess.run(["perf", "stat", "-e", "raw_syscalls:sys_enter", "--", "true"],
                          capture_output=True, text=True)
    return done.returncode == 0


PERF = have_perf()


class KernelCounts:
    """Syscalls of the server process (every thread: `perf stat -p`) and
    reschedule IPIs on the server CPUs (`perf stat -C`: whatever else runs
    there counts too, so on a busy machine that one is an upper bound),
    counted around one client run."""

    def __init__(self, pid):
        self.procs = []
        if not PERF:
            return
        base = os.path.join(DATA, f"perf-{pid}")
        self.files = (base + "-p.csv", base + "-c.csv")
        self.procs = [
            subprocess.Popen(["perf", "stat", "-x,", "-e", "raw_syscalls:sys_enter", "-p",
                              str(pid), "-o", self.files[0]],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
            subprocess.Popen(["perf", "stat", "-x,", "-e", "irq_vectors:reschedule_entry", "-C",
                              SERVER_CPUS, "-o", self.files[1]],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
        ]
        time.sleep(0.3)  # perf attaches before the run starts

    def stop(self):
        """Returns (syscalls, reschedule IPIs), NaN for each one not counted."""
        if not self.procs:
            return float("nan"), float("nan")
        counts = []
        for proc, path in zip(self.procs, self.files):
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=30)
            value = float("nan")
            try:
                with open(path) as f:
                    for line in f:
                        fields = line.split(",")
                        if len(fields) > 2 and fields[0].strip().isdigit():
                            value = float(fields[0])
                os.remove(path)
            except OSError:
                pass
            counts.append(value)
        return counts[0], counts[1]


def measure(server, *args, kernel_counts=False, **kwargs):
    """A measured run: client report plus the server's CPU seconds and,
    with `kernel_counts`, its syscalls and reschedule IPIs per request."""
    info_before = redis_cli(server.port, "INFO", "stats")
    counters = KernelCounts(server.pid) if kernel_counts else None
    cpu_before = cpu_seconds(server.pid)
    io_before = io_bytes(server.pid)
    report = bench(server.port, *args, **kwargs)
    cpu = cpu_seconds(server.pid) - cpu_before
    io_after = io_bytes(server.pid)
    syscalls, ipis = counters.stop() if counters else (float("nan"), float("nan"))
    info_after = redis_cli(server.port, "INFO", "stats")
    total = report["total"]
    errors = total.get("errors", 0)
    if errors:
        log(f"  ! {errors} errors: {report.get('first_error')}")
    return {
        "ops": total["ops"],
        "ops_s": total["ops_per_sec"],
        "mb_s": total["mb_per_sec"],
        "p50": total["latency_us"]["p50"],
        "p99": total["latency_us"]["p99"],
        "cpu": cpu,
        # Device bytes per request: what the disk really moved for each one.
        "read_op": (io_after[0] - io_before[0]) / total["ops"] if total["ops"] else float("nan"),
        "written_op": (io_after[1] - io_before[1]) / total["ops"] if total["ops"] else float("nan"),
        "ops_cpu_s": total["ops"] / cpu if cpu > 0 else float("nan"),
        "errors": errors,
        "syscalls_req": syscalls / total["ops"] if total["ops"] else float("nan"),
        "ipis_req": ipis / total["ops"] if total["ops"] else float("nan"),
        "info": (info_stats(info_before), info_stats(info_after)),
    }


def info_stats(text):
    stats = {}
    for line in text.splitlines():
        if ":" in line and not line.startswith("#"):
            key, _, value = line.partition(":")
            try:
                stats[key] = float(value)
            except ValueError:
                pass
    return stats


def median(runs, key):
    values = [r[key] for r in runs if r[key] == r[key]]
    return statistics.median(values) if values else float("nan")


def preload(port, *args):
    bench(port, "--preload", *args, requests=1)


def settle(server, timeout=120.0):
    """Waits until shardcask has written the hint file of every sealed log
    file, so a measured run does not share the disk with the hint builds a
    preload or an earlier run left behind (each reads its whole log file
    back). Returns the seconds waited."""
    start = time.time()
    while time.time() - start < timeout:
        fields = info_stats(redis_cli(server.port, "INFO", "persistence"))
        files, hints = fields.get("log_files"), fields.get("hint_files_written")
        if files is None or hints is None or hints >= files - 1:
            break
        time.sleep(0.1)
    waited = time.time() - start
    if waited > 0.5:
        log(f"  (waited {waited:.1f} s for background hint builds)")
    return waited


def fmt(value, digits=0):
    if value != value:  # NaN
        return "n/a"
    if digits == 0:
        return f"{value:,.0f}"
    return f"{value:,.{digits}f}"


def ratio(a, b):
    return f"{a / b:.2f}x" if b and b == b and a == a else "n/a"


def hot_workloads():
    value = ["--keys", str(HOT_KEYS), "--value-size", "100", "--connections", "50"]
    return [
        ("GET", 1, [*value, "--ratio", "0:1", "--pipeline", "1"]),
        ("GET", 16, [*value, "--ratio", "0:1", "--pipeline", "16"]),
        ("SET", 1, [*value, "--ratio", "1:0", "--pipeline", "1"]),
        ("SET", 16, [*value, "--ratio", "1:0", "--pipeline", "16"]),
    ]


def ab_rounds(servers, args, label):
    """Alternates the servers for ROUNDS rounds; returns runs per server."""
    runs = {name: [] for name in servers}
    for round_id in range(ROUNDS):
        for name, server in servers.items():
            result = measure(server, *args, kernel_counts=True)
            runs[name].append(result)
            log(f"  {label} round {round_id + 1} {name}: {fmt(result['ops_s'])} ops/s, "
                f"{fmt(result['ops_cpu_s'])} ops/CPU-s, p99 {fmt(result['p99'])} us, "
                f"{fmt(result['syscalls_req'], 3)} syscalls/req, "
                f"{fmt(result['ipis_req'], 4)} IPIs/req")
    return runs


def section_hot(sc_sync, redis_fsync, workloads, lines, peaks):
    log(f"== hot 100 B: shardcask --sync {sc_sync} vs redis appendfsync {redis_fsync}")
    sc = start_shardcask(sc_sync)
    rd = start_redis(redis_fsync)
    try:
        for server in (sc, rd):
            preload(server.port, "--keys", str(HOT_KEYS), "--value-size", "100",
                    "--connections", "50", "--pipeline", "16")
        for op, pipeline, args in workloads:
            runs = ab_rounds({"shardcask": sc, "redis": rd}, args, f"{op} P{pipeline}")
            s, r = runs["shardcask"], runs["redis"]
            peaks[(sc_sync, op, pipeline)] = (median(s, "ops_s"), median(r, "ops_s"), args)
            lines.append(
                f"| {op} P{pipeline} | {sc_sync} / {redis_fsync} "
                f"| {fmt(median(s, 'ops_s'))} | {fmt(median(r, 'ops_s'))} "
                f"| **{ratio(median(s, 'ops_s'), median(r, 'ops_s'))}** "
                f"| {fmt(median(s, 'ops_cpu_s'))} | {fmt(median(r, 'ops_cpu_s'))} "
                f"| **{ratio(median(s, 'ops_cpu_s'), median(r, 'ops_cpu_s'))}** "
                f"| {fmt(median(s, 'p99'))} | {fmt(median(r, 'p99'))} "
                f"| {fmt(median(s, 'syscalls_req'), 3)} / {fmt(median(r, 'syscalls_req'), 3)} "
                f"| {fmt(median(s, 'ipis_req'), 4)} / {fmt(median(r, 'ipis_req'), 4)} |"
            )
    finally:
        sc.stop()
        rd.stop()


def section_p99(peaks, lines):
    log("== p99 at half of peak (--rate), sync always / appendfsync always")
    sc = start_shardcask("always")
    rd = start_redis("always")
    try:
        for server in (sc, rd):
            preload(server.port, "--keys", str(HOT_KEYS), "--value-size", "100",
                    "--connections", "50", "--pipeline", "16")
        for op in ("GET", "SET"):
            peak = peaks.get(("always", op, 16))
            if not peak:
                continue
            sc_peak, rd_peak, args = peak
            for name, server, top in (("shardcask", sc, sc_peak), ("redis", rd, rd_peak)):
                runs = [measure(server, *args, rate=top / 2) for _ in range(max(1, ROUNDS // 2))]
                lines.append(
                    f"| {op} P16, 50 conns | {name} | {fmt(top)} | {fmt(top / 2)} "
                    f"| {fmt(median(runs, 'ops_s'))} | {fmt(median(runs, 'p50'))} "
                    f"| **{fmt(median(runs, 'p99'))}** |"
                )
                log(f"  {op} {name} at {fmt(top / 2)}/s: p99 {fmt(median(runs, 'p99'))} us")
    finally:
        sc.stop()
        rd.stop()


def fio(name, filename, size, rw, bs, iodepth, extra=("--time_based",)):
    """One fio run (O_DIRECT, io_uring) pinned to the server CPUs."""
    argv = [
        "fio", f"--name={name}", f"--filename={filename}", f"--size={size}",
        f"--rw={rw}", f"--bs={bs}", "--direct=1", "--ioengine=io_uring",
        f"--iodepth={iodepth}", f"--runtime={max(1, int(DURATION))}",
        f"--cpus_allowed={SERVER_CPUS}", "--output-format=json", "--randrepeat=0", *extra,
    ]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=3600)
    job = json.loads(done.stdout)["jobs"][0]
    side = job["read"] if "read" in rw else job["write"]
    return {"iops": side["iops"], "mb_s": side["bw_bytes"] / 1e6,
            "p99": side.get("clat_ns", {}).get("percentile", {}).get("99.000000", 0) / 1000}


def fio_append(name, filename, bs, iodepth):
    """Sequential O_DIRECT writes that extend a fresh file, as a log's
    appends do: on ext4 they take the inode lock exclusively, so unlike
    overwrites of a laid-out file they gain little from queue depth. The
    file is bigger than the run can fill, so fio never wraps around."""
    if os.path.exists(filename):
        os.remove(filename)
    try:
        return fio(name, filename, "64G", "write", bs, iodepth, extra=("--fallocate=none",))
    finally:
        if os.path.exists(filename):
            os.remove(filename)


def share(a, b):
    """a / b, NaN when either is missing."""
    return a / b if b and b == b and a == a else float("nan")


def cpu_us(runs):
    """Median server CPU microseconds per request of `runs`, and the
    device bytes read and written per request, for the table."""
    read, written = median(runs, "read_op"), median(runs, "written_op")
    return (f"{fmt(1e6 / median(runs, 'ops_cpu_s'), 1)} CPU-µs, "
            f"{fmt(read / 1024, 1)} KiB read, {fmt(written / 1024, 1)} KiB written each")


def section_disk4k(lines, ratios):
    size = DISK4K_KEYS * 4096
    log(f"== 4 KiB uniform random GET over {size >> 20} MiB (cache {DISK4K_CACHE}) vs fio randread QD {DISK4K_QD}")
    fio_file = os.path.join(DATA, "fio-4k.dat")
    fio("layout", fio_file, size, "write", "1M", 4)  # lay the file out once
    sc = start_shardcask("batch", cache=DISK4K_CACHE, tag="4k")
    try:
        common = ["--keys", str(DISK4K_KEYS), "--value-size", "4KiB"]
        bench(sc.port, *common, "--preload", "--connections", "8", "--pipeline", "16",
              requests=1)
        sc_runs, sc_piped_runs, fio_runs, fio8k_runs = [], [], [], []
        piped_conns = 4
        settle(sc)
        for round_id in range(ROUNDS):
            sc_runs.append(measure(sc, *common, "--ratio", "0:1", "--distribution", "uniform",
                                   "--connections", str(DISK4K_QD), "--pipeline", "1"))
            # The same queue depth from fewer connections: the disk sees the
            # same reads in flight, the server far fewer wake-ups per read.
            sc_piped_runs.append(measure(sc, *common, "--ratio", "0:1", "--distribution",
                                         "uniform", "--connections", str(piped_conns),
                                         "--pipeline", str(DISK4K_QD // piped_conns)))
            fio_runs.append(fio("randread", fio_file, size, "randread", "4k", DISK4K_QD))
            # A 4 KiB value's record (32 B header + key + value) straddles a
            # 4 KiB block; reads are aligned to the device's 512 B sectors, so
            # a GET reads 4.5-5 KiB (`block:block_rq_issue`): 8 KiB reads are
            # a lower bound for the disk, not the one a GET meets.
            fio8k_runs.append(fio("randread8k", fio_file, size, "randread", "8k", DISK4K_QD))
            log(f"  round {round_id + 1}: shardcask {fmt(sc_runs[-1]['ops_s'])} GET/s "
                f"(p99 {fmt(sc_runs[-1]['p99'])} us), pipelined {fmt(sc_piped_runs[-1]['ops_s'])} "
                f"GET/s, fio {fmt(fio_runs[-1]['iops'])} IOPS "
                f"(p99 {fmt(fio_runs[-1]['p99'])} us)")
        lines.append(
            f"| 4 KiB random GET, {size >> 20} MiB data, cache {DISK4K_CACHE}, QD {DISK4K_QD} "
            f"| {fmt(median(sc_runs, 'ops_s'))} GET/s ({cpu_us(sc_runs)}) "
            f"| fio randread {fmt(median(fio_runs, 'iops'))} IOPS "
            f"| **{ratio(median(sc_runs, 'ops_s'), median(fio_runs, 'iops'))}** (target 0.85x) "
            f"| {fmt(median(sc_runs, 'p99'))} / {fmt(median(fio_runs, 'p99'))} |"
        )
        lines.append(
            f"| same QD {DISK4K_QD} as {piped_conns} connections x pipeline {DISK4K_QD // piped_conns} "
            f"| {fmt(median(sc_piped_runs, 'ops_s'))} GET/s ({cpu_us(sc_piped_runs)}) "
            f"| fio randread {fmt(median(fio_runs, 'iops'))} IOPS "
            f"| **{ratio(median(sc_piped_runs, 'ops_s'), median(fio_runs, 'iops'))}** (target 0.85x) "
            f"| {fmt(median(sc_piped_runs, 'p99'))} / {fmt(median(fio_runs, 'p99'))} |"
        )
        fio_iops = median(fio_runs, "iops")
        ratios.append((f"4 KiB GET, {DISK4K_QD} x P1",
                       (share(median(sc_runs, "ops_s"), fio_iops), 0.85)))
        ratios.append((f"4 KiB GET, {piped_conns} x P{DISK4K_QD // piped_conns}",
                       (share(median(sc_piped_runs, "ops_s"), fio_iops), 0.85)))
        lines.append(
            f"| same, against 8 KiB reads (a GET reads 4.5-5 KiB: a lower bound of the disk) "
            f"| {fmt(median(sc_runs, 'ops_s'))} GET/s | fio randread 8k {fmt(median(fio8k_runs, 'iops'))} IOPS "
            f"| **{ratio(median(sc_runs, 'ops_s'), median(fio8k_runs, 'iops'))}** "
            f"| {fmt(median(sc_runs, 'p99'))} / {fmt(median(fio8k_runs, 'p99'))} |"
        )
        lines.append(
            f"| pipelined ({piped_conns} x {DISK4K_QD // piped_conns}), against 8 KiB reads "
            f"| {fmt(median(sc_piped_runs, 'ops_s'))} GET/s | fio randread 8k {fmt(median(fio8k_runs, 'iops'))} IOPS "
            f"| **{ratio(median(sc_piped_runs, 'ops_s'), median(fio8k_runs, 'iops'))}** "
            f"| {fmt(median(sc_piped_runs, 'p99'))} / {fmt(median(fio8k_runs, 'p99'))} |"
        )
    finally:
        sc.stop()
        os.remove(fio_file)


def section_disk1m(lines, ratios):
    size = DISK1M_KEYS << 20
    log(f"== 1 MiB SET and GET over {size >> 20} MiB vs fio sequential write/read, QD {DISK1M_QD}")
    fio_file = os.path.join(DATA, "fio-1m.dat")
    sc = start_shardcask("batch", cache=DISK1M_CACHE, tag="1m")
    try:
        common = ["--keys", str(DISK1M_KEYS), "--value-size", "1MiB",
                  "--connections", str(DISK1M_QD), "--pipeline", "1"]
        bench(sc.port, *common, "--preload", requests=1)
        set_runs, get_runs, fw, fa, fr = [], [], [], [], []
        for round_id in range(ROUNDS):
            settle(sc)
            set_runs.append(measure(sc, *common, "--ratio", "1:0", "--distribution", "sequential"))
            fw.append(fio("seqwrite", fio_file, size, "write", "1M", DISK1M_QD))
            fa.append(fio_append("append", fio_file + ".append", "1M", DISK1M_QD))
            settle(sc)
            get_runs.append(measure(sc, *common, "--ratio", "0:1", "--distribution", "uniform"))
            fr.append(fio("seqread", fio_file, size, "read", "1M", DISK1M_QD))
            log(f"  round {round_id + 1}: SET {fmt(set_runs[-1]['mb_s'])} MB/s vs fio write "
                f"{fmt(fw[-1]['mb_s'])} MB/s (append {fmt(fa[-1]['mb_s'])}); GET {fmt(get_runs[-1]['mb_s'])} MB/s vs fio read "
                f"{fmt(fr[-1]['mb_s'])} MB/s")
        ratios.append((f"1 MiB SET, QD {DISK1M_QD}",
                       (share(median(set_runs, "mb_s"), median(fw, "mb_s")), 0.8)))
        ratios.append((f"1 MiB GET, QD {DISK1M_QD}",
                       (share(median(get_runs, "mb_s"), median(fr, "mb_s")), 0.8)))
        lines.append(
            f"| 1 MiB SET (--sync batch), QD {DISK1M_QD} | {fmt(median(set_runs, 'mb_s'))} MB/s "
            f"({cpu_us(set_runs)}) "
            f"| fio seq write {fmt(median(fw, 'mb_s'))} MB/s "
            f"| **{ratio(median(set_runs, 'mb_s'), median(fw, 'mb_s'))}** (target 0.80x) "
            f"| {fmt(median(set_runs, 'p99'))} / {fmt(median(fw, 'p99'))} |"
        )
        lines.append(
            f"| same, against appends to a fresh file (what a log does) "
            f"| {fmt(median(set_runs, 'mb_s'))} MB/s "
            f"| fio append {fmt(median(fa, 'mb_s'))} MB/s "
            f"| **{ratio(median(set_runs, 'mb_s'), median(fa, 'mb_s'))}** "
            f"| {fmt(median(set_runs, 'p99'))} / {fmt(median(fa, 'p99'))} |"
        )
        lines.append(
            f"| 1 MiB GET, uniform over {size >> 20} MiB, QD {DISK1M_QD} "
            f"| {fmt(median(get_runs, 'mb_s'))} MB/s ({cpu_us(get_runs)}) "
            f"| fio seq read {fmt(median(fr, 'mb_s'))} MB/s "
            f"| **{ratio(median(get_runs, 'mb_s'), median(fr, 'mb_s'))}** (target 0.80x) "
            f"| {fmt(median(get_runs, 'p99'))} / {fmt(median(fr, 'p99'))} |"
        )
    finally:
        sc.stop()
        if os.path.exists(fio_file):
            os.remove(fio_file)


def section_scaling(lines):
    log("== scaling: 1 vs 2 shards (hot 100 B, P16, 50 conns)")
    first = SERVER_CPUS.split(",")[0].split("-")[0]
    all_cpus = sorted({first, *CLIENT_CPUS.split(",")})
    layouts = [
        ("1 shard", 1, first),
        (f"2 shards on CPU {first}", 2, first),
        (f"2 shards on CPUs {','.join(all_cpus)} (client shares)", 2, ",".join(all_cpus)),
    ]
    workloads = [
        ("GET", "always", ["--ratio", "0:1"]),
        ("SET", "always", ["--ratio", "1:0"]),
    ]
    common = ["--keys", str(HOT_KEYS), "--value-size", "100", "--connections", "50",
              "--pipeline", "16"]
    for label, shards, cpus in layouts:
        global_cpus = cpus
        for op, sync, extra in workloads:
            sc = start_shardcask(sync, shards=shards, cpus=global_cpus, tag=f"scale-{shards}")
            try:
                preload(sc.port, *common)
                runs = [measure(sc, *common, *extra) for _ in range(ROUNDS)]
            finally:
                sc.stop()
            fwd = []
            for run in runs:
                before, after = run["info"]
                commands = after.get("total_commands_processed", 0) - before.get(
                    "total_commands_processed", 0)
                forwarded = after.get("forwarded_out", 0) - before.get("forwarded_out", 0)
                fwd.append(forwarded / commands if commands else float("nan"))
            share = statistics.median(fwd) if fwd else float("nan")
            cpu_us = 1e6 / median(runs, "ops_cpu_s")
            lines.append(
                f"| {label} | {op} P16 ({sync}) | {fmt(median(runs, 'ops_s'))} "
                f"| {fmt(cpu_us, 2)} | {fmt(100 * share, 1)}% | {fmt(median(runs, 'p99'))} |"
            )
            log(f"  {label} {op}: {fmt(median(runs, 'ops_s'))} ops/s, {fmt(cpu_us, 2)} CPU-us/op, "
                f"forwarded {fmt(100 * share, 1)}%")


def machine():
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} CPUs ({model}), kernel {os.uname().release}"


def chart(suffix, title, unit, series, rows):
    """Draws a table as a grouped bar chart (SVG next to --out, by
    shardcask-chart): `rows` are (label, one number per series); returns
    the SVG's path, or None."""
    chart_bin = os.path.join(os.path.dirname(CLIENT_BIN), "shardcask-chart")
    if not os.path.exists(chart_bin):
        log(f"no {chart_bin}: no chart")
        return None
    base = os.path.splitext(OUT)[0]
    tsv, svg = f"{base}-{suffix}.tsv", f"{base}-{suffix}.svg"
    lines = ["\t".join([label, *(f"{v:.3g}" if v == v else "-" for v in values)])
             for label, values in rows]
    with open(tsv, "w") as f:
        f.write(f"{title}\n{unit}\n" + "\t".join(series) + "\n" + "\n".join(lines) + "\n")
    result = subprocess.run([chart_bin, tsv, svg], capture_output=True, text=True)
    if result.returncode != 0:
        log(f"chart failed: {result.stderr.strip()}")
        return None
    log(f"chart written to {svg}")
    return svg


def main():
    started = time.time()
    load_before = loadavg()
    redis_version = subprocess.run(["redis-server", "--version"], capture_output=True,
                                   text=True).stdout.split()[2]
    out = [
        f"## shardcask vs Redis vs fio ({MODE} mode)",
        "",
        f"- command: `{CMDLINE}`",
        f"- machine: {machine()}; servers and fio on CPU(s) {SERVER_CPUS}, "
        f"client on CPU(s) {CLIENT_CPUS}; data in {DATA} ({ENV.get('COMPARE_FS', '?')})",
        f"- {ROUNDS} rounds of {DURATION:g} s per workload, servers alternating A B; "
        f"medians; Redis {redis_version}",
        f"- load average before: {load_before}",
        "",
    ]
    hot_lines, batch_lines, p99_lines = [], [], []
    disk_lines, scale_lines = [], []
    disk_ratios = []
    peaks = {}
    if "hot" in ONLY:
        section_hot("always", "always", hot_workloads(), hot_lines, peaks)
    if "batch" in ONLY:
        section_hot("batch", "everysec", hot_workloads(), batch_lines, peaks)
    if "p99" in ONLY:
        section_p99(peaks, p99_lines)
    if "disk4k" in ONLY:
        section_disk4k(disk_lines, disk_ratios)
    if "disk1m" in ONLY:
        section_disk1m(disk_lines, disk_ratios)
    if "scaling" in ONLY:
        section_scaling(scale_lines)

    if hot_lines or batch_lines:
        out += [
            "### 100 B values, 10k hot keys, 50 connections, one shard vs Redis on the same core",
            "",
            "| workload | sync (shardcask / Redis) | shardcask ops/s | Redis ops/s | ratio "
            "| shardcask ops/CPU-s | Redis ops/CPU-s | ratio | p99 µs shardcask | p99 µs Redis "
            "| syscalls/req shardcask / Redis | reschedule IPIs/req shardcask / Redis |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
            *hot_lines, *batch_lines, "",
            "Syscalls: every thread of the server process (`perf stat -e raw_syscalls:sys_enter "
            "-p PID`); IPIs: `perf stat -e irq_vectors:reschedule_entry -C` on the server CPUs, "
            "which counts whatever else runs there (an upper bound on a busy machine); `n/a` "
            "without perf.",
            "",
        ]
    if p99_lines:
        out += [
            "### p99 at half of peak throughput (fixed rate, latency from the intended send time)",
            "",
            "| workload | server | peak ops/s | rate | achieved ops/s | p50 µs | p99 µs (target ≤ 1000) |",
            "|---|---|---:|---:|---:|---:|---:|",
            *p99_lines, "",
        ]
    if disk_lines:
        out += [
            "### Against the disk (fio, O_DIRECT, io_uring, same directory, same queue depth)",
            "",
            "| workload | shardcask | fio | ratio | p99 µs shardcask / fio |",
            "|---|---:|---:|---:|---:|",
            *disk_lines, "",
        ]
    if scale_lines:
        out += [
            "### Scaling: 1 vs 2 shards (shardcask only)",
            "",
            "| layout | workload | ops/s | server CPU-µs per request | forwarded | p99 µs |",
            "|---|---|---:|---:|---:|---:|",
            *scale_lines, "",
        ]
    if peaks:
        rows = [(f"{op} P{pipeline} {sync}", (sc, rd))
                for (sync, op, pipeline), (sc, rd, _) in sorted(peaks.items())]
        svg = chart("ops", f"shardcask vs Redis, 100 B values ({MODE} mode, medians)",
                    "requests/s", ["shardcask", "Redis"], rows)
        if svg:
            out += [f"![requests per second, shardcask vs Redis]({os.path.basename(svg)})", ""]
    if disk_ratios:
        rows = [(label, (100 * ratio, 100 * target)) for label, (ratio, target) in disk_ratios]
        svg = chart("disk", f"shardcask against fio at the same queue depth ({MODE} mode, medians)",
                    "% of fio", ["shardcask", "target"], rows)
        if svg:
            out += [f"![shardcask as a fraction of fio]({os.path.basename(svg)})", ""]
    out.append(f"- load average after: {loadavg()}; wall time {time.time() - started:.0f} s")
    text = "\n".join(out) + "\n"
    print(text)
    with open(OUT, "w") as f:
        f.write(text)
    log(f"results written to {OUT}")


if __name__ == "__main__":
    main()
