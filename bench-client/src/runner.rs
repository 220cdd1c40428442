//! The run: one pinned thread per client thread, each running the event
//! loop of its connections ([`crate::driver`]); the main thread only
//! coordinates (start gate, INFO snapshots) and prints the per-second
//! progress line from snapshots the threads send it.

use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime};

use hdrhistogram::Histogram;

use crate::args::{Config, Distribution, StopAt};
use crate::conn::{Conn, OpMix, Phase};
use crate::ctx::ThreadCtx;
use crate::driver;
use crate::info::{self, InfoDelta};
use crate::poll::Poller;
use crate::schedule::RatePlan;
use crate::stats::{LatencySummary, ThreadStats, new_histogram};
use crate::timeline::Timeline;
use crate::value::Pattern;

/// Bytes in flight per connection during preload (caps the window for
/// large values).
const PRELOAD_BYTES_IN_FLIGHT: usize = 4 << 20;
/// Deepest preload window.
const PRELOAD_MAX_PIPELINE: usize = 64;
/// With `--rate`: how far ahead of the gate's opening the schedule starts.
const RATE_LEAD: Duration = Duration::from_millis(20);
/// Time allowed for each INFO request.
const INFO_TIMEOUT: Duration = Duration::from_secs(5);
/// The threads snapshot every whole second of their phase; the main thread
/// prints half a second later, so each line holds one snapshot per thread.
const PRINT_OFFSET: Duration = Duration::from_millis(1500);

/// What one client thread measured.
#[derive(Debug, Clone)]
pub struct ThreadReport {
    /// Thread index.
    pub thread_id: usize,
    /// CPU it was pinned to.
    pub cpu: Option<usize>,
    /// Its connections.
    pub nr_connections: usize,
    /// From its start of the measured phase to its last reply.
    pub elapsed: Duration,
    /// Counters of the measured phase.
    pub stats: ThreadStats,
    /// Counters and duration of the preload phase.
    pub preload: Option<(ThreadStats, Duration)>,
    /// The thread's own scheduling over the measured phase, where the
    /// kernel tells it.
    pub sched: Option<SchedTimes>,
}

/// Time a thread spent on a CPU and waiting for one (runnable but not
/// running: other work on its CPU), from `/proc/thread-self/schedstat`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SchedTimes {
    /// On a CPU.
    pub on_cpu: Duration,
    /// Runnable, waiting on a run queue.
    pub waiting: Duration,
}

impl SchedTimes {
    /// The calling thread's times so far; `None` where the kernel does not
    /// provide them.
    pub fn of_this_thread() -> Option<SchedTimes> {
        let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
        let mut fields = text.split_whitespace().map(|f| f.parse::<u64>().ok());
        let on_cpu = fields.next()??;
        let waiting = fields.next()??;
        Some(SchedTimes {
            on_cpu: Duration::from_nanos(on_cpu),
            waiting: Duration::from_nanos(waiting),
        })
    }

    /// `self` minus an earlier reading.
    pub fn since(self, earlier: SchedTimes) -> SchedTimes {
        SchedTimes {
            on_cpu: self.on_cpu.saturating_sub(earlier.on_cpu),
            waiting: self.waiting.saturating_sub(earlier.waiting),
        }
    }

    /// Adds another thread's times.
    pub fn plus(self, other: SchedTimes) -> SchedTimes {
        SchedTimes {
            on_cpu: self.on_cpu + other.on_cpu,
            waiting: self.waiting + other.waiting,
        }
    }
}

/// INFO deltas of `--server-stats`.
#[derive(Debug, Clone)]
pub struct ServerStats {
    /// Fields present before and after.
    pub deltas: Vec<InfoDelta>,
    /// Why there are none, if INFO failed.
    pub error: Option<String>,
}

/// The whole run.
#[derive(Debug, Clone)]
pub struct Report {
    /// Settings.
    pub config: Arc<Config>,
    /// One entry per thread that finished.
    pub threads: Vec<ThreadReport>,
    /// Longest thread's measured phase.
    pub elapsed: Duration,
    /// Threads that died, with what is known.
    pub failed_threads: Vec<String>,
    /// Server-side deltas, with `--server-stats`.
    pub server: Option<ServerStats>,
}

impl Report {
    /// The client threads' scheduling summed over the threads that report it.
    pub fn sched(&self) -> Option<SchedTimes> {
        self.threads
            .iter()
            .filter_map(|t| t.sched)
            .reduce(SchedTimes::plus)
    }

    /// All threads' measured counters.
    pub fn total(&self) -> ThreadStats {
        let mut total = ThreadStats::new();
        for thread in &self.threads {
            total.merge(&thread.stats);
        }
        total
    }

    /// All threads' preload counters and the longest preload time.
    pub fn preload_total(&self) -> Option<(ThreadStats, Duration)> {
        let mut total: Option<(ThreadStats, Duration)> = None;
        for (stats, elapsed) in self.threads.iter().filter_map(|t| t.preload.as_ref()) {
            let entry = total.get_or_insert_with(|| (ThreadStats::new(), Duration::ZERO));
            entry.0.merge(stats);
            entry.1 = entry.1.max(*elapsed);
        }
        total
    }

    /// Whether the run should fail: verify mismatches, dead threads, or not
    /// a single reply.
    pub fn failed(&self) -> bool {
        let total = self.total();
        total.mismatches > 0
            || self
                .preload_total()
                .is_some_and(|(preload, _)| preload.mismatches > 0)
            || !self.failed_threads.is_empty()
            || total.total_ops() == 0
    }
}

/// Messages from the client threads to the main thread.
enum Msg {
    /// Progress since the last snapshot.
    Interval {
        ops: u64,
        errors: u64,
        latency: Box<Histogram<u64>>,
        /// Length of the interval.
        seconds: f64,
    },
    /// Connected (and preloaded); waiting at the gate.
    Ready(usize),
    /// The thread could not start (pinning, epoll); the run is off.
    StartFailed(String),
    /// Measured phase done.
    Final(Box<ThreadReport>),
    /// The thread's future ended (also sent while unwinding).
    Exit(usize),
}

/// Sends [`Msg::Exit`] when dropped, so the main thread never waits for a
/// thread that died.
struct ExitGuard {
    tx: Sender<Msg>,
    thread_id: usize,
}

impl Drop for ExitGuard {
    fn drop(&mut self) {
        let _ = self.tx.send(Msg::Exit(self.thread_id));
    }
}

/// The start line: threads block on it until the main thread opens it.
struct Gate {
    /// None: closed; Some(true): go; Some(false): abort.
    state: Mutex<Option<bool>>,
    opened: Condvar,
}

impl Gate {
    fn new() -> Gate {
        Gate {
            state: Mutex::new(None),
            opened: Condvar::new(),
        }
    }

    fn open(&self, go: bool) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.get_or_insert(go);
        self.opened.notify_all();
    }

    fn wait(&self) -> bool {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(go) = *state {
                return go;
            }
            state = self.opened.wait(state).unwrap_or_else(|e| e.into_inner());
        }
    }
}

/// Runs the benchmark described by `config`.
pub fn run(mut config: Config) -> Result<Report, String> {
    if config.cluster.is_some() {
        let map = crate::cluster::SlotMap::fetch(&config.addr, &config.key_prefix, config.nr_keys)?;
        if config.nr_connections < map.primaries.len() {
            return Err(format!(
                "--cluster: {} primaries need at least as many --connections",
                map.primaries.len()
            ));
        }
        if !config.quiet {
            eprintln!(
                "cluster: {} primaries ({}); keys per primary {:?}",
                map.primaries.len(),
                map.primaries.join(" "),
                map.keys_of.iter().map(Vec::len).collect::<Vec<_>>()
            );
        }
        config.cluster = Some(Arc::new(map));
    }
    let config = Arc::new(config);
    let (tx, rx) = mpsc::channel();
    let gate = Arc::new(Gate::new());
    let mut handles = Vec::new();
    for thread_id in 0..config.nr_threads {
        let (config_, tx_, gate_) = (config.clone(), tx.clone(), gate.clone());
        let spawned = std::thread::Builder::new()
            .name(format!("bench{thread_id}"))
            .spawn(move || client_thread(config_, thread_id, tx_, gate_));
        match spawned {
            Ok(handle) => handles.push(handle),
            Err(error) => {
                gate.open(false);
                for handle in handles {
                    let _ = handle.join();
                }
                return Err(format!("cannot start client thread {thread_id}: {error}"));
            }
        }
    }
    drop(tx);

    let mut progress = Progress::new(&config);
    // Phase 1: connect (and preload) until every thread waits at the gate.
    let mut exited = vec![false; config.nr_threads];
    let mut ready = vec![false; config.nr_threads];
    let mut reports = Vec::new();
    while (0..config.nr_threads).any(|t| !ready[t] && !exited[t]) {
        match progress.next(&rx, true) {
            Some(Msg::Ready(t)) => ready[t] = true,
            Some(Msg::StartFailed(error)) => {
                gate.open(false);
                for handle in handles {
                    let _ = handle.join();
                }
                return Err(error);
            }
            Some(Msg::Exit(t)) => exited[t] = true,
            Some(Msg::Final(report)) => reports.push(*report),
            Some(Msg::Interval { .. }) => {}
            None => break,
        }
    }
    progress.finish_preload();

    let before = config
        .server_stats
        .then(|| info::fetch_info(&config.addr, INFO_TIMEOUT));
    if let Some(Err(error)) = &before {
        eprintln!("warning: INFO before the run failed: {error}");
    }

    // Phase 2: the measured run.
    gate.open(true);
    progress.start_run();
    while exited.iter().any(|done| !done) {
        match progress.next(&rx, false) {
            Some(Msg::Exit(t)) => exited[t] = true,
            Some(Msg::Final(report)) => reports.push(*report),
            Some(_) => {}
            None => break,
        }
    }
    let mut failed_threads = Vec::new();
    for (thread_id, handle) in handles.into_iter().enumerate() {
        if let Err(panic) = handle.join() {
            let text = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "panicked".into());
            failed_threads.push(format!("thread {thread_id}: {text}"));
        }
    }
    for thread_id in 0..config.nr_threads {
        if !reports.iter().any(|r| r.thread_id == thread_id)
            && !failed_threads
                .iter()
                .any(|f| f.starts_with(&format!("thread {thread_id}:")))
        {
            failed_threads.push(format!("thread {thread_id}: ended without a report"));
        }
    }
    reports.sort_by_key(|r| r.thread_id);

    let server = before.map(|before| {
        let after = info::fetch_info(&config.addr, INFO_TIMEOUT);
        match (before, after) {
            (Ok(before), Ok(after)) => ServerStats {
                deltas: info::diff(&info::parse_info(&before), &info::parse_info(&after)),
                error: None,
            },
            (Err(error), _) => ServerStats {
                deltas: Vec::new(),
                error: Some(format!("INFO before the run: {error}")),
            },
            (_, Err(error)) => ServerStats {
                deltas: Vec::new(),
                error: Some(format!("INFO after the run: {error}")),
            },
        }
    });
    let elapsed = reports.iter().map(|r| r.elapsed).max().unwrap_or_default();
    Ok(Report {
        config,
        threads: reports,
        elapsed,
        failed_threads,
        server,
    })
}

/// Splits `total` over `parts` weighted by connection ranges (exact sum).
fn share_of(total: u64, range: std::ops::Range<usize>, nr_connections: usize) -> u64 {
    let upto = |end: usize| (u128::from(total) * end as u128 / nr_connections as u128) as u64;
    upto(range.end) - upto(range.start)
}

/// Number of keys `conn_index` owns in preload: `conn_index`,
/// `conn_index + nr_conns`, ... below `nr_keys`.
fn preload_keys_of(conn_index: usize, nr_conns: usize, nr_keys: u64) -> u64 {
    let (index, stride) = (conn_index as u64, nr_conns as u64);
    if index >= nr_keys {
        0
    } else {
        (nr_keys - 1 - index) / stride + 1
    }
}

/// Pins the calling thread to `cpu`.
fn pin_to(cpu: usize) -> std::io::Result<()> {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; CPU_SET bounds-checks
    // nothing, so `cpu` is checked against the set's size first.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if cpu >= 8 * std::mem::size_of::<libc::cpu_set_t>() {
            return Err(std::io::Error::from_raw_os_error(libc::EINVAL));
        }
        libc::CPU_SET(cpu, &mut set);
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// One client thread: pinned, with an epoll set for its connections;
/// connect, preload, wait at the gate, then the measured phase.
fn client_thread(config: Arc<Config>, thread_id: usize, tx: Sender<Msg>, gate: Arc<Gate>) {
    let _exit = ExitGuard {
        tx: tx.clone(),
        thread_id,
    };
    let range = config.connections_of_thread(thread_id);
    let started = config
        .cpu_of_thread(thread_id)
        .map_or(Ok(()), pin_to)
        .map_err(|error| format!("cannot pin client thread {thread_id}: {error}"))
        .and_then(|()| {
            Poller::new(range.len())
                .map_err(|error| format!("cannot start client thread {thread_id}: {error}"))
        });
    let mut poller = match started {
        Ok(poller) => poller,
        Err(error) => {
            let _ = tx.send(Msg::StartFailed(error));
            return;
        }
    };
    let seed = match config.seed {
        0 => SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64),
        seed => seed,
    };
    let mut ctx = ThreadCtx {
        config: config.clone(),
        thread_id,
        stats: ThreadStats::new(),
        pattern: Pattern::new(config.value_size.max, seed),
        next_version: 0,
    };
    let mut conns: Vec<Conn> = range
        .clone()
        .enumerate()
        .map(|(token, index)| {
            Conn::new(
                &config,
                index,
                token,
                seed ^ (index as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15),
            )
        })
        .collect();
    for conn in &mut conns {
        conn.connect(&mut ctx.stats, &poller);
    }
    let connect_stats = std::mem::take(&mut ctx.stats);
    let mut on_second = |stats: &mut ThreadStats, seconds: f64| {
        let latency = Box::new(stats.take_interval_latency());
        let _ = tx.send(Msg::Interval {
            ops: std::mem::take(&mut stats.interval_ops),
            errors: std::mem::take(&mut stats.interval_errors),
            latency,
            seconds,
        });
    };

    let mut preload = None;
    if config.preload {
        let pipeline =
            (PRELOAD_BYTES_IN_FLIGHT / (config.value_size.max + 64)).clamp(1, PRELOAD_MAX_PIPELINE);
        let start = Instant::now();
        let phase = Phase {
            start,
            deadline: None,
            pipeline,
            rate: None,
            mix: OpMix::only_sets(),
            distribution: Distribution::Sequential,
        };
        // Each connection writes its own stripe of the keys.
        let mut budgets = conns
            .iter()
            .map(|conn| {
                let (nr_keys, index, nr_conns) = conn.key_space(&config);
                preload_keys_of(index, nr_conns, nr_keys)
            })
            .collect::<Vec<_>>();
        driver::run_phase(
            &mut ctx,
            &mut poller,
            &mut conns,
            &phase,
            &mut budgets,
            |token| token,
            &mut on_second,
        );
        preload = Some((std::mem::take(&mut ctx.stats), start.elapsed()));
    }

    let _ = tx.send(Msg::Ready(thread_id));
    if !gate.wait() {
        return;
    }

    // At a fixed rate the first intended sends lie RATE_LEAD ahead, so a
    // slow start does not make the first sends late.
    let lead = if config.rate.is_some() {
        RATE_LEAD
    } else {
        Duration::ZERO
    };
    let start = Instant::now() + lead;
    if let Some(slot) = config.slot() {
        let start_unix = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64())
            + lead.as_secs_f64();
        ctx.stats.timeline = Some(Timeline::new(start, start_unix, slot));
    }
    let (deadline, budget) = match config.stop_at {
        StopAt::Duration(duration) => (Some(start + duration), u64::MAX),
        StopAt::Requests(total) => (None, share_of(total, range.clone(), config.nr_connections)),
    };
    let phase = Phase {
        start,
        deadline,
        pipeline: config.pipeline,
        rate: config
            .rate
            .map(|rate| RatePlan::with_burst(rate, config.nr_connections, config.burst)),
        mix: OpMix::of_config(&config),
        distribution: config.distribution,
    };
    let sched_before = SchedTimes::of_this_thread();
    // One budget shared by the thread's connections: fast ones do more.
    driver::run_phase(
        &mut ctx,
        &mut poller,
        &mut conns,
        &phase,
        &mut [budget],
        |_| 0,
        &mut on_second,
    );
    let elapsed = start.elapsed();
    let sched = sched_before
        .zip(SchedTimes::of_this_thread())
        .map(|(before, after)| after.since(before));

    let mut stats = std::mem::take(&mut ctx.stats);
    stats.connect_failures += connect_stats.connect_failures;
    if stats.first_error.is_none() {
        stats.first_error = connect_stats.first_error;
    }
    let _ = tx.send(Msg::Final(Box::new(ThreadReport {
        thread_id,
        cpu: config.cpu_of_thread(thread_id),
        nr_connections: range.len(),
        elapsed,
        stats,
        preload,
        sched,
    })));
}

/// The per-second progress line on stderr.
struct Progress {
    quiet: bool,
    preload: bool,
    nr_keys: u64,
    phase_start: Instant,
    next_tick: Instant,
    /// Sum over the snapshots since the last line of ops / their length.
    rate: f64,
    ops: u64,
    errors: u64,
    total_ops: u64,
    total_errors: u64,
    latency: Histogram<u64>,
}

impl Progress {
    fn new(config: &Config) -> Progress {
        let now = Instant::now();
        Progress {
            quiet: config.quiet,
            preload: config.preload,
            nr_keys: config.nr_keys,
            phase_start: now,
            next_tick: now + PRINT_OFFSET,
            rate: 0.0,
            ops: 0,
            errors: 0,
            total_ops: 0,
            total_errors: 0,
            latency: new_histogram(),
        }
    }

    /// Next message, printing the progress line when a second has passed.
    /// `None` when every thread is gone.
    fn next(&mut self, rx: &Receiver<Msg>, preloading: bool) -> Option<Msg> {
        loop {
            let now = Instant::now();
            if now >= self.next_tick {
                self.print(now, preloading);
                self.next_tick += Duration::from_secs(1);
                if self.next_tick < now {
                    self.next_tick = now + Duration::from_secs(1);
                }
                continue;
            }
            match rx.recv_timeout(self.next_tick - now) {
                Ok(Msg::Interval {
                    ops,
                    errors,
                    latency,
                    seconds,
                }) => {
                    self.rate += ops as f64 / seconds.max(1e-9);
                    self.ops += ops;
                    self.errors += errors;
                    self.total_ops += ops;
                    self.total_errors += errors;
                    let _ = self.latency.add(&*latency);
                }
                Ok(other) => return Some(other),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return None,
            }
        }
    }

    fn print(&mut self, now: Instant, preloading: bool) {
        let rate = self.rate;
        let p99 = LatencySummary::of(&self.latency).p99;
        if !self.quiet && (!preloading || self.preload) {
            let at = now.duration_since(self.phase_start).as_secs_f64().floor();
            if preloading {
                let share = 100.0 * self.total_ops as f64 / self.nr_keys as f64;
                eprintln!(
                    "preload [{at:6.1}s] {}/{} keys ({share:.1}%)  {rate:.0} SET/s  p99 {p99:.1} us  errors {}",
                    self.total_ops, self.nr_keys, self.total_errors
                );
            } else {
                eprintln!(
                    "[{at:6.1}s] {rate:>10.0} ops/s  p99 {p99:>9.1} us  errors {}  (total {} ops)",
                    self.errors, self.total_ops
                );
            }
        }
        self.ops = 0;
        self.rate = 0.0;
        self.errors = 0;
        self.latency.reset();
    }

    fn finish_preload(&mut self) {
        if self.preload && !self.quiet {
            eprintln!(
                "preload done: {} keys written, {} errors",
                self.total_ops, self.total_errors
            );
        }
    }

    fn start_run(&mut self) {
        let now = Instant::now();
        *self = Progress {
            phase_start: now,
            next_tick: now + PRINT_OFFSET,
            latency: new_histogram(),
            ..*self
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_shares_add_up() {
        for (total, conns, threads) in [(1000u64, 50usize, 3usize), (7, 5, 2), (1, 4, 4)] {
            let config = Config::from_args(&<crate::args::Args as clap::Parser>::parse_from([
                "x",
                "--connections",
                &conns.to_string(),
                "--threads",
                &threads.to_string(),
            ]))
            .unwrap();
            let sum: u64 = (0..threads)
                .map(|t| share_of(total, config.connections_of_thread(t), conns))
                .sum();
            assert_eq!(sum, total);
        }
    }

    #[test]
    fn preload_stripes_cover_every_key_once() {
        for (nr_keys, nr_conns) in [(10u64, 3usize), (2, 5), (100_000, 50), (1, 1)] {
            let sum: u64 = (0..nr_conns)
                .map(|c| preload_keys_of(c, nr_conns, nr_keys))
                .sum();
            assert_eq!(sum, nr_keys);
        }
    }
}
