//! Command line: the clap definition, the small value parsers it uses (sizes
//! with suffixes, CPU lists, distributions, ratios), and [`Config`], the
//! validated form every other module reads.

use std::time::Duration;

use clap::Parser;

pub use crate::keys::Distribution;

/// Command line of `shardcask-bench`.
#[derive(Parser, Debug, Clone)]
#[command(
    name = "shardcask-bench",
    version,
    about = "Pipelined RESP load generator for shardcask, Redis or any RESP server"
)]
pub struct Args {
    /// Server address (host:port).
    #[arg(long, default_value = "127.0.0.1:6379")]
    pub addr: String,
    /// Total number of connections, spread evenly over the threads.
    #[arg(long, default_value_t = 50)]
    pub connections: usize,
    /// Number of client threads, each running one epoll event loop.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// CPUs to pin the threads to, e.g. `1` or `0,2-3`; thread i gets the
    /// i-th CPU of the list (wrapping). Without it threads are not pinned.
    #[arg(long, value_parser = parse_cpu_list)]
    pub cpus: Option<CpuList>,
    /// Requests in flight per connection.
    #[arg(long, default_value_t = 1)]
    pub pipeline: usize,
    /// Run for this many seconds (default 10 unless --requests is given).
    #[arg(long, conflicts_with = "requests")]
    pub duration: Option<f64>,
    /// Run until this many requests (in total) have been answered.
    #[arg(long)]
    pub requests: Option<u64>,
    /// Fixed total request rate (ops/s). Latency is measured from the
    /// intended send time, so stalls are not hidden (coordinated omission).
    #[arg(long)]
    pub rate: Option<f64>,
    /// With --rate: requests each connection sends together at one intended
    /// time (one write), like a pipelining client. Needs --pipeline >= N.
    /// Use the pipeline depth of the peak that the rate is a share of.
    #[arg(long, default_value_t = 1)]
    pub burst: usize,
    /// Size of the key space.
    #[arg(long, default_value_t = 100_000)]
    pub keys: u64,
    /// Prefix of every key; the key index follows in decimal.
    #[arg(long, default_value = "key:")]
    pub key_prefix: String,
    /// Key distribution: uniform, zipf:S (e.g. zipf:0.99) or sequential.
    #[arg(long, default_value = "uniform", value_parser = parse_distribution)]
    pub distribution: Distribution,
    /// Value size: N or MIN-MAX, with optional suffix (B, K/KiB, KB, M/MiB, MB, G/GiB, GB).
    #[arg(long, default_value = "100", value_parser = parse_size_range)]
    pub value_size: SizeRange,
    /// Share of SETs to GETs, SET:GET (e.g. 1:10).
    #[arg(long, default_value = "1:1", value_parser = parse_ratio)]
    pub ratio: Ratio,
    /// Percentage (0-100) of requests that are DELs; the rest follow --ratio.
    #[arg(long, default_value_t = 0.0)]
    pub del: f64,
    /// Fill the whole key space with pipelined SETs before the run.
    #[arg(long)]
    pub preload: bool,
    /// Write self-checking values (key, version, CRC32C) and check every GET.
    #[arg(long)]
    pub verify: bool,
    /// Read the slot map (CLUSTER SLOTS) from --addr and send each key
    /// straight to its owner: connections are spread over the primaries and
    /// each sends only keys of its primary's slots; -MOVED is followed.
    #[arg(long)]
    pub cluster: bool,
    /// Print the final report as JSON on stdout instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Fetch INFO before and after the run and print the server's deltas.
    #[arg(long)]
    pub server_stats: bool,
    /// Seconds without any reply (while requests are outstanding) after which
    /// the outstanding requests count as timed out and the connection is
    /// re-established.
    #[arg(long, default_value_t = 10.0)]
    pub timeout: f64,
    /// Busy-poll this many microseconds before an idle client thread
    /// sleeps. Makes `--rate` sends punctual (a sleeping thread wakes up
    /// late for timers, ~0.2 ms here) at the price of client CPU.
    #[arg(long, default_value_t = 0)]
    pub spin_us: u64,
    /// Wake at most once per this many microseconds: sleep a tick, then
    /// take every reply that came and every send that fell due. Cuts the
    /// client's wake-ups at a fixed rate (one per send and one per reply
    /// otherwise) at the price of up to a tick on each latency.
    #[arg(long, default_value_t = 0)]
    pub tick_us: u64,
    /// Do not print the per-second progress line.
    #[arg(long)]
    pub quiet: bool,
    /// Seed of the request generators (0 picks one from the clock).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Write the measured phase's latencies per slot of intended send time
    /// to this file as JSON (see `--timeline-slot-ms`).
    #[arg(long)]
    pub timeline: Option<std::path::PathBuf>,
    /// Slot length of `--timeline`, in milliseconds.
    #[arg(long, default_value_t = 500)]
    pub timeline_slot_ms: u64,
    /// Draw the measured phase as an SVG chart in this file: throughput and
    /// p50/p99/p99.9 latency per second (per `--timeline-slot-ms` slot with
    /// `--timeline`), and the latency percentile curve of the whole run.
    #[arg(long)]
    pub plot: Option<std::path::PathBuf>,
    /// Write the measured phase's latencies as an HdrHistogram interval log
    /// (one interval per second, µs, V2 compressed) to this file, for
    /// HdrHistogram's standard tools (HistogramLogAnalyzer, hdr-plot).
    #[arg(long)]
    pub hdr: Option<std::path::PathBuf>,
}

/// A list of CPU ids, parsed from `0,2-3`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuList(pub Vec<usize>);

/// Inclusive range of value sizes in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SizeRange {
    /// Smallest value size.
    pub min: usize,
    /// Largest value size.
    pub max: usize,
}

/// Relative weights of SET and GET.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ratio {
    /// Weight of SET.
    pub set: u32,
    /// Weight of GET.
    pub get: u32,
}

/// Parses a byte size such as `100`, `4KiB`, `4k`, `1MiB`, `1MB`.
///
/// `K`, `KiB`, `M`, `MiB`, `G`, `GiB` (any case) are powers of 1024;
/// `KB`, `MB`, `GB` are powers of 1000; `B` or nothing means bytes.
pub fn parse_size(text: &str) -> Result<usize, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, suffix) = text.split_at(split);
    if digits.is_empty() {
        return Err(format!("size `{text}` must start with a number"));
    }
    let number: usize = digits
        .parse()
        .map_err(|_| format!("size `{text}` is too large"))?;
    let multiplier: usize = match suffix.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "kb" => 1_000,
        "m" | "mib" => 1 << 20,
        "mb" => 1_000_000,
        "g" | "gib" => 1 << 30,
        "gb" => 1_000_000_000,
        other => return Err(format!("unknown size suffix `{other}` in `{text}`")),
    };
    number
        .checked_mul(multiplier)
        .ok_or_else(|| format!("size `{text}` is too large"))
}

/// Parses `N` or `MIN-MAX` (each a [`parse_size`] size).
pub fn parse_size_range(text: &str) -> Result<SizeRange, String> {
    match text.split_once('-') {
        None => {
            let size = parse_size(text)?;
            Ok(SizeRange {
                min: size,
                max: size,
            })
        }
        Some((min, max)) => {
            let (min, max) = (parse_size(min)?, parse_size(max)?);
            if min > max {
                return Err(format!("value size range `{text}`: MIN is above MAX"));
            }
            Ok(SizeRange { min, max })
        }
    }
}

/// Parses a CPU list such as `1` or `0,2-3`.
pub fn parse_cpu_list(text: &str) -> Result<CpuList, String> {
    let mut cpus = Vec::new();
    for part in text.split(',').map(str::trim) {
        if part.is_empty() {
            return Err(format!("empty entry in CPU list `{text}`"));
        }
        let parse = |s: &str| {
            s.trim()
                .parse::<usize>()
                .map_err(|_| format!("bad CPU id `{s}` in `{text}`"))
        };
        match part.split_once('-') {
            None => cpus.push(parse(part)?),
            Some((first, last)) => {
                let (first, last) = (parse(first)?, parse(last)?);
                if first > last {
                    return Err(format!("CPU range `{part}` runs backwards"));
                }
                if last - first > 4096 {
                    return Err(format!("CPU range `{part}` is too long"));
                }
                cpus.extend(first..=last);
            }
        }
    }
    Ok(CpuList(cpus))
}

/// Parses `uniform`, `sequential` or `zipf:S` with S > 0.
pub fn parse_distribution(text: &str) -> Result<Distribution, String> {
    match text.trim() {
        "uniform" => Ok(Distribution::Uniform),
        "sequential" => Ok(Distribution::Sequential),
        other => {
            let exponent = other.strip_prefix("zipf:").ok_or_else(|| {
                format!("unknown distribution `{other}` (uniform, zipf:S, sequential)")
            })?;
            let exponent: f64 = exponent
                .parse()
                .map_err(|_| format!("bad zipf exponent `{exponent}`"))?;
            if !(exponent.is_finite() && exponent > 0.0 && exponent <= 100.0) {
                return Err(format!("zipf exponent must be in (0, 100], got {exponent}"));
            }
            Ok(Distribution::Zipf(exponent))
        }
    }
}

/// Parses `SET:GET` weights such as `1:10`.
pub fn parse_ratio(text: &str) -> Result<Ratio, String> {
    let (set, get) = text
        .split_once(':')
        .ok_or_else(|| format!("ratio `{text}` must look like SET:GET, e.g. 1:10"))?;
    let parse = |s: &str| {
        s.trim()
            .parse::<u32>()
            .map_err(|_| format!("bad ratio weight `{s}`"))
    };
    let ratio = Ratio {
        set: parse(set)?,
        get: parse(get)?,
    };
    if ratio.set == 0 && ratio.get == 0 {
        return Err("ratio 0:0 sends nothing".to_string());
    }
    Ok(ratio)
}

/// When the measured phase stops.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StopAt {
    /// After this long.
    Duration(Duration),
    /// After this many requests in total.
    Requests(u64),
}

/// Validated settings shared (read-only) by all threads.
#[derive(Debug, Clone)]
pub struct Config {
    /// Server address.
    pub addr: String,
    /// Total connections.
    pub nr_connections: usize,
    /// Client threads.
    pub nr_threads: usize,
    /// CPU of each thread (`None`: unpinned).
    pub cpus: Option<Vec<usize>>,
    /// Requests in flight per connection.
    pub pipeline: usize,
    /// End of the measured phase.
    pub stop_at: StopAt,
    /// Fixed total rate, if any.
    pub rate: Option<f64>,
    /// Requests per intended send time with `--rate`.
    pub burst: usize,
    /// Key space size.
    pub nr_keys: u64,
    /// Key prefix bytes.
    pub key_prefix: Vec<u8>,
    /// Key distribution.
    pub distribution: Distribution,
    /// Value sizes.
    pub value_size: SizeRange,
    /// SET:GET weights.
    pub ratio: Ratio,
    /// DEL share in percent.
    pub del_percent: f64,
    /// Fill the key space first.
    pub preload: bool,
    /// Self-checking values.
    pub verify: bool,
    /// JSON output.
    pub json: bool,
    /// Fetch INFO deltas.
    pub server_stats: bool,
    /// Reply timeout.
    pub timeout: Duration,
    /// Busy-poll time before an idle thread sleeps.
    pub spin_before_park: Duration,
    /// `--tick-us`: the event loop's tick (zero: wake on every event).
    pub tick: Duration,
    /// No progress lines.
    pub quiet: bool,
    /// Generator seed.
    pub seed: u64,
    /// `--cluster`: the slot map, read by [`crate::runner::run`] before
    /// the threads start (`Some` of an empty map until then).
    pub cluster: Option<std::sync::Arc<crate::cluster::SlotMap>>,
    /// `--timeline` output file and slot length.
    pub timeline: Option<(std::path::PathBuf, Duration)>,
    /// `--plot` output file.
    pub plot: Option<std::path::PathBuf>,
    /// `--hdr` output file.
    pub hdr: Option<std::path::PathBuf>,
}

impl Config {
    /// Checks the arguments against each other.
    pub fn from_args(args: &Args) -> Result<Config, String> {
        if args.threads == 0 {
            return Err("--threads must be at least 1".into());
        }
        if args.connections < args.threads {
            return Err(format!(
                "--connections ({}) must be at least --threads ({})",
                args.connections, args.threads
            ));
        }
        if args.pipeline == 0 {
            return Err("--pipeline must be at least 1".into());
        }
        if args.keys == 0 {
            return Err("--keys must be at least 1".into());
        }
        if args.timeline_slot_ms == 0 {
            return Err("--timeline-slot-ms must be at least 1".into());
        }
        if !(0.0..=100.0).contains(&args.del) {
            return Err("--del is a percentage between 0 and 100".into());
        }
        if args.ratio.set == 0 && args.ratio.get == 0 && args.del < 100.0 {
            return Err("--ratio 0:0 leaves nothing to send".into());
        }
        if let Some(rate) = args.rate
            && !(rate.is_finite() && rate > 0.0)
        {
            return Err("--rate must be a positive number".into());
        }
        if args.burst == 0 {
            return Err("--burst must be at least 1".into());
        }
        if args.burst > 1 && args.rate.is_none() {
            return Err("--burst needs --rate".into());
        }
        if args.burst > args.pipeline {
            return Err(format!(
                "--burst ({}) cannot exceed --pipeline ({})",
                args.burst, args.pipeline
            ));
        }
        if !(args.timeout.is_finite() && args.timeout > 0.0) {
            return Err("--timeout must be a positive number of seconds".into());
        }
        if let Some(cpus) = &args.cpus
            && cpus.0.is_empty()
        {
            return Err("--cpus is empty".into());
        }
        let stop_at = match (args.duration, args.requests) {
            (_, Some(0)) => return Err("--requests must be at least 1".into()),
            (_, Some(requests)) => StopAt::Requests(requests),
            (Some(secs), None) if secs.is_finite() && secs > 0.0 => {
                StopAt::Duration(Duration::from_secs_f64(secs))
            }
            (Some(_), None) => return Err("--duration must be a positive number".into()),
            (None, None) => StopAt::Duration(Duration::from_secs(10)),
        };
        let key_prefix = args.key_prefix.as_bytes().to_vec();
        if args.verify {
            // The longest key is the prefix plus the digits of the top index.
            let longest_key = key_prefix.len() + (args.keys - 1).to_string().len();
            let needed = crate::value::min_verified_len(longest_key);
            if args.value_size.min < needed {
                return Err(format!(
                    "--verify needs values of at least {needed} bytes for these keys \
                     (header, key and checksum); --value-size min is {}",
                    args.value_size.min
                ));
            }
        }
        Ok(Config {
            addr: args.addr.clone(),
            nr_connections: args.connections,
            nr_threads: args.threads,
            cpus: args.cpus.as_ref().map(|list| list.0.clone()),
            pipeline: args.pipeline,
            stop_at,
            rate: args.rate,
            burst: args.burst,
            nr_keys: args.keys,
            key_prefix,
            distribution: args.distribution,
            value_size: args.value_size,
            ratio: args.ratio,
            del_percent: args.del,
            preload: args.preload,
            verify: args.verify,
            json: args.json,
            server_stats: args.server_stats,
            timeout: Duration::from_secs_f64(args.timeout),
            spin_before_park: Duration::from_micros(args.spin_us),
            tick: Duration::from_micros(args.tick_us),
            quiet: args.quiet,
            seed: args.seed,
            cluster: args.cluster.then(|| {
                std::sync::Arc::new(crate::cluster::SlotMap {
                    primaries: Vec::new(),
                    slot_owner: Vec::new(),
                    keys_of: Vec::new(),
                })
            }),
            timeline: args
                .timeline
                .clone()
                .map(|path| (path, Duration::from_millis(args.timeline_slot_ms))),
            plot: args.plot.clone(),
            hdr: args.hdr.clone(),
        })
    }

    /// The slot length latencies are recorded by, if anything needs them:
    /// `--timeline`'s, else one second for `--plot` and `--hdr`.
    pub fn slot(&self) -> Option<Duration> {
        match &self.timeline {
            Some((_, slot)) => Some(*slot),
            None => (self.plot.is_some() || self.hdr.is_some()).then_some(Duration::from_secs(1)),
        }
    }

    /// Connections run by thread `thread_id` (the remainder goes to the
    /// first threads).
    pub fn connections_of_thread(&self, thread_id: usize) -> std::ops::Range<usize> {
        let base = self.nr_connections / self.nr_threads;
        let extra = self.nr_connections % self.nr_threads;
        let start = thread_id * base + thread_id.min(extra);
        let len = base + usize::from(thread_id < extra);
        start..start + len
    }

    /// CPU of thread `thread_id`, if pinned.
    pub fn cpu_of_thread(&self, thread_id: usize) -> Option<usize> {
        self.cpus.as_ref().map(|cpus| cpus[thread_id % cpus.len()])
    }

    /// Whether every GET must find its key: the key space was preloaded and
    /// nothing in this run deletes keys.
    pub fn expect_presence(&self) -> bool {
        self.preload && self.del_percent == 0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_take_suffixes() {
        assert_eq!(parse_size("100").unwrap(), 100);
        assert_eq!(parse_size("100B").unwrap(), 100);
        assert_eq!(parse_size("4KiB").unwrap(), 4096);
        assert_eq!(parse_size("4k").unwrap(), 4096);
        assert_eq!(parse_size("4KB").unwrap(), 4000);
        assert_eq!(parse_size("1MiB").unwrap(), 1 << 20);
        assert_eq!(parse_size("1mb").unwrap(), 1_000_000);
        assert_eq!(parse_size("2GiB").unwrap(), 2 << 30);
        assert!(parse_size("KiB").is_err());
        assert!(parse_size("4XB").is_err());
        assert!(parse_size("99999999999999999999999").is_err());
    }

    #[test]
    fn size_ranges() {
        assert_eq!(
            parse_size_range("1024-4096").unwrap(),
            SizeRange {
                min: 1024,
                max: 4096
            }
        );
        assert_eq!(
            parse_size_range("1KiB-4KiB").unwrap(),
            SizeRange {
                min: 1024,
                max: 4096
            }
        );
        assert_eq!(
            parse_size_range("1MiB").unwrap(),
            SizeRange {
                min: 1 << 20,
                max: 1 << 20
            }
        );
        assert!(parse_size_range("4096-1024").is_err());
        assert!(parse_size_range("1-").is_err());
    }

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpu_list("1").unwrap().0, vec![1]);
        assert_eq!(parse_cpu_list("0,2-3").unwrap().0, vec![0, 2, 3]);
        assert_eq!(parse_cpu_list(" 4-4 , 1").unwrap().0, vec![4, 1]);
        assert!(parse_cpu_list("3-1").is_err());
        assert!(parse_cpu_list("a").is_err());
        assert!(parse_cpu_list("1,,2").is_err());
    }

    #[test]
    fn distributions_and_ratios() {
        assert_eq!(
            parse_distribution("uniform").unwrap(),
            Distribution::Uniform
        );
        assert_eq!(
            parse_distribution("sequential").unwrap(),
            Distribution::Sequential
        );
        assert_eq!(
            parse_distribution("zipf:0.99").unwrap(),
            Distribution::Zipf(0.99)
        );
        assert!(parse_distribution("zipf:0").is_err());
        assert!(parse_distribution("zipf:x").is_err());
        assert!(parse_distribution("gauss").is_err());
        assert_eq!(parse_ratio("1:10").unwrap(), Ratio { set: 1, get: 10 });
        assert!(parse_ratio("0:0").is_err());
        assert!(parse_ratio("1").is_err());
    }

    fn config(cmdline: &[&str]) -> Result<Config, String> {
        let mut argv = vec!["shardcask-bench"];
        argv.extend_from_slice(cmdline);
        let args = Args::try_parse_from(argv).map_err(|e| e.to_string())?;
        Config::from_args(&args)
    }

    #[test]
    fn full_command_lines() {
        let config = config(&[
            "--addr",
            "127.0.0.1:7000",
            "--connections",
            "5",
            "--threads",
            "2",
            "--cpus",
            "0,2-3",
            "--pipeline",
            "16",
            "--requests",
            "1000",
            "--value-size",
            "1KiB-4KiB",
            "--ratio",
            "1:10",
            "--distribution",
            "zipf:1.1",
            "--del",
            "5",
        ])
        .unwrap();
        assert_eq!(config.stop_at, StopAt::Requests(1000));
        assert_eq!(config.connections_of_thread(0), 0..3);
        assert_eq!(config.connections_of_thread(1), 3..5);
        assert_eq!(config.cpu_of_thread(1), Some(2));
        assert_eq!(
            config.value_size,
            SizeRange {
                min: 1024,
                max: 4096
            }
        );
        assert_eq!(config.del_percent, 5.0);

        let defaults = super::tests::config(&[]).unwrap();
        assert_eq!(defaults.stop_at, StopAt::Duration(Duration::from_secs(10)));
        assert_eq!(defaults.nr_connections, 50);
        assert_eq!(defaults.addr, "127.0.0.1:6379");
        assert!(!defaults.expect_presence());

        assert!(super::tests::config(&["--duration", "1", "--requests", "5"]).is_err());
        assert!(super::tests::config(&["--threads", "4", "--connections", "2"]).is_err());
        assert!(super::tests::config(&["--verify", "--value-size", "8"]).is_err());
        assert!(super::tests::config(&["--verify", "--value-size", "64"]).is_ok());
        assert!(super::tests::config(&["--del", "120"]).is_err());
    }
}
