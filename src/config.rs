//! Command-line settings.
//!
//! Every flag shows its default in `--help`. Sizes accept binary suffixes
//! (`64MiB`, `1GiB`, also `k`/`m`/`g` and `KB`/`MB`/`GB` as powers of 1024, as
//! Redis reads them); CPU lists look like `0,2-3`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};

use crate::storage::SyncMode;

/// When acknowledged writes reach stable storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SyncPolicy {
    /// Acknowledge after fdatasync (group-committed).
    Always,
    /// fdatasync every `--sync-interval-ms`.
    Batch,
    /// Never fdatasync; the OS and device decide.
    Never,
}

impl SyncPolicy {
    /// The policy as the flag spells it (`always`, `batch`, `never`), as
    /// Redis spells `appendfsync`'s values.
    pub fn as_str(self) -> &'static str {
        match self {
            SyncPolicy::Always => "always",
            SyncPolicy::Batch => "batch",
            SyncPolicy::Never => "never",
        }
    }
}

impl std::fmt::Display for SyncPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line (for log shippers).
    Json,
}

/// Why the settings could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The command line or an environment variable (clap's own message,
    /// `--help` and `--version` included).
    #[error("{0}")]
    Args(#[from] clap::Error),
    /// The `--config` file.
    #[error("config file {path}: {reason}")]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}

/// shardcask: a thread-per-core Bitcask key-value server speaking the Redis protocol.
#[derive(Debug, Clone, Parser)]
#[command(version, about, long_about = None, args_override_self = true)]
pub struct Config {
    /// Address every shard listens on (SO_REUSEPORT spreads connections).
    #[arg(long, env = "SHARDCASK_LISTEN", default_value = "127.0.0.1:6379")]
    pub listen: SocketAddr,

    /// Data directory; each shard keeps its logs in `<dir>/shard-<id>/`.
    #[arg(long, env = "SHARDCASK_DIR", default_value = "./shardcask-data")]
    pub dir: PathBuf,

    /// Number of shards (one executor each) [default: the CPUs in --cpus, or in the process's affinity mask].
    #[arg(long, env = "SHARDCASK_SHARDS")]
    pub shards: Option<usize>,

    /// CPUs to pin shard executors to, e.g. `0,2-3` [default: the process's affinity mask].
    #[arg(long, env = "SHARDCASK_CPUS", value_parser = parse_cpu_list)]
    pub cpus: Option<CpuList>,

    /// Do not pin executors to CPUs (let the OS schedule them).
    #[arg(long, env = "SHARDCASK_NO_PIN")]
    pub no_pin: bool,

    /// Durability of acknowledged writes.
    #[arg(long, env = "SHARDCASK_SYNC", value_enum, default_value = "always")]
    pub sync: SyncPolicy,

    /// fdatasync interval for `--sync batch`, in milliseconds.
    #[arg(long, env = "SHARDCASK_SYNC_INTERVAL_MS", default_value_t = 1000)]
    pub sync_interval_ms: u64,

    /// Roll a shard's active log file over at this size.
    #[arg(long, env = "SHARDCASK_MAX_FILE_SIZE", default_value = "256MiB", value_parser = parse_size)]
    pub max_file_size: u64,

    /// Longest key accepted.
    #[arg(long, env = "SHARDCASK_MAX_KEY_SIZE", default_value = "64KiB", value_parser = parse_size)]
    pub max_key_size: u64,

    /// Largest value accepted (also the largest bulk string in a request).
    #[arg(long, env = "SHARDCASK_MAX_VALUE_SIZE", default_value = "512MiB", value_parser = parse_size)]
    pub max_value_size: u64,

    /// Most client connections open at once (per server); past it new ones get an error.
    #[arg(long, env = "SHARDCASK_MAX_CONNECTIONS", default_value_t = 10000)]
    pub max_connections: usize,

    /// Most reply bytes a connection gathers before writing them: pipelined
    /// requests are run in batches cut to stay near this (a single reply may
    /// be larger), and a client is not read from while its replies wait.
    #[arg(long, env = "SHARDCASK_CLIENT_OUTPUT_LIMIT", default_value = "16MiB", value_parser = parse_size)]
    pub client_output_limit: u64,

    /// Seconds a client may leave its pending replies unread (the socket
    /// accepting no byte of them) before it is disconnected; 0 = wait forever.
    #[arg(long, env = "SHARDCASK_CLIENT_OUTPUT_TIMEOUT", default_value_t = 60)]
    pub client_output_timeout: u64,

    /// Value cache budget for the whole server, split evenly across shards
    /// [default: a quarter of the machine's RAM].
    #[arg(long, env = "SHARDCASK_CACHE_SIZE", value_parser = parse_size)]
    pub cache_size: Option<u64>,

    /// Most bytes the log files of all shards may hold (split evenly across
    /// shards); past it writes get an OOM-style error while reads and DEL go
    /// on, and merges can bring it back under [default: no limit].
    #[arg(long, env = "SHARDCASK_MAX_DISK", value_parser = parse_size)]
    pub max_disk: Option<u64>,

    /// Seconds between checks of the merge thresholds (Bitcask's defaults:
    /// start at 60% dead or 512 MiB dead in a file; include files 40% or
    /// 128 MiB dead and files under 10 MiB); 0 = merge only on MERGE/BGREWRITEAOF.
    #[arg(long, env = "SHARDCASK_MERGE_INTERVAL", default_value_t = 60)]
    pub merge_interval: u64,

    /// A merge starts when a sealed log file is at least this % dead
    /// (Bitcask's frag_merge_trigger).
    #[arg(
        long,
        env = "SHARDCASK_MERGE_TRIGGER_FRAGMENTATION",
        default_value_t = 60
    )]
    pub merge_trigger_fragmentation: u64,

    /// A merge starts when a sealed log file holds at least this many dead
    /// bytes (Bitcask's dead_bytes_merge_trigger).
    #[arg(long, env = "SHARDCASK_MERGE_TRIGGER_DEAD_BYTES", default_value = "512MiB", value_parser = parse_size)]
    pub merge_trigger_dead_bytes: u64,

    /// A merge includes the sealed files at least this % dead (Bitcask's
    /// frag_threshold).
    #[arg(
        long,
        env = "SHARDCASK_MERGE_THRESHOLD_FRAGMENTATION",
        default_value_t = 40
    )]
    pub merge_threshold_fragmentation: u64,

    /// A merge includes the sealed files with at least this many dead bytes
    /// (Bitcask's dead_bytes_threshold).
    #[arg(long, env = "SHARDCASK_MERGE_THRESHOLD_DEAD_BYTES", default_value = "128MiB", value_parser = parse_size)]
    pub merge_threshold_dead_bytes: u64,

    /// A merge includes the sealed files smaller than this (Bitcask's
    /// small_file_threshold).
    #[arg(long, env = "SHARDCASK_MERGE_SMALL_FILE", default_value = "10MiB", value_parser = parse_size)]
    pub merge_small_file: u64,

    /// Seconds between per-core stats tables on stdout; 0 turns them off.
    #[arg(long, env = "SHARDCASK_STATS_INTERVAL", default_value_t = 10)]
    pub stats_interval: u64,

    /// Log a batch of commands (one pipeline read, parse to replies ready)
    /// that took at least this many microseconds to SLOWLOG; -1 = never.
    #[arg(
        long,
        env = "SHARDCASK_SLOWLOG_LOG_SLOWER_THAN",
        default_value_t = 10000,
        allow_negative_numbers = true
    )]
    pub slowlog_log_slower_than: i64,

    /// Entries SLOWLOG keeps per shard.
    #[arg(long, env = "SHARDCASK_SLOWLOG_MAX_LEN", default_value_t = 128)]
    pub slowlog_max_len: usize,

    /// Sample batches that took at least this many milliseconds as the
    /// `command` event of LATENCY LATEST/HISTORY; 0 = off.
    #[arg(long, env = "SHARDCASK_LATENCY_MONITOR_THRESHOLD", default_value_t = 0)]
    pub latency_monitor_threshold: u64,

    /// Serve Prometheus metrics (`GET /metrics`, text format) on this
    /// address, e.g. `127.0.0.1:9121`; port 0 picks one [default: off].
    #[arg(long, env = "SHARDCASK_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,

    /// Shard i also listens alone on port BASE+i, and CLUSTER SLOTS/NODES
    /// show each shard as a primary of its own, so cluster-aware clients
    /// send every key straight to its core [default: off].
    #[arg(long, env = "SHARDCASK_SHARD_PORTS", value_name = "BASE")]
    pub shard_ports: Option<u16>,

    /// Cluster configuration file (TOML, the same on every node: each
    /// node's 40-hex id, address and slots; see the README). Reloaded on
    /// CLUSTER RELOAD and SIGHUP [default: this node owns every slot].
    #[arg(long, env = "SHARDCASK_CLUSTER_CONFIG", value_name = "FILE")]
    pub cluster_config: Option<PathBuf>,

    /// Read settings from this TOML file: keys are the flags' long names
    /// (`listen = "0.0.0.0:6379"`, `max-file-size = "1GiB"`, `no-pin =
    /// true`); a flag on the command line or a `SHARDCASK_*` variable wins
    /// over the file.
    #[arg(long, env = "SHARDCASK_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Log filter: a level (`error`, `warn`, `info`, `debug`, `trace`) or
    /// tracing directives (`shardcask=debug,glommio=warn`) [default:
    /// RUST_LOG, else info].
    #[arg(long, env = "SHARDCASK_LOG_LEVEL", value_name = "FILTER")]
    pub log_level: Option<String>,

    /// Log line format on stderr.
    #[arg(long, env = "SHARDCASK_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,
}

/// A parsed `--cpus` list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuList(pub Vec<usize>);

impl Config {
    /// Reads the settings from the command line `args` (program name
    /// first), `SHARDCASK_*` environment variables and the `--config` file,
    /// in that order of precedence, over the defaults.
    pub fn load<I, T>(args: I) -> Result<Config, ConfigError>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        use clap::{CommandFactory, FromArgMatches};
        let args: Vec<std::ffi::OsString> = args.into_iter().map(Into::into).collect();
        let command = Config::command();
        let matches = command.clone().try_get_matches_from(&args)?;
        let first = Config::from_arg_matches(&matches)?;
        let Some(path) = first.config.clone() else {
            return Ok(first);
        };
        let file_error = |reason: String| ConfigError::File {
            path: path.clone(),
            reason,
        };
        let text = std::fs::read_to_string(&path).map_err(|e| file_error(e.to_string()))?;
        let document: toml_edit::DocumentMut = text
            .parse()
            .map_err(|e: toml_edit::TomlError| file_error(e.to_string()))?;
        // The file's settings become arguments placed before the real ones,
        // and only for flags neither the command line nor the environment set.
        let mut file_args: Vec<std::ffi::OsString> = Vec::new();
        for (key, item) in document.iter() {
            let long = key.replace('_', "-");
            let arg = command
                .get_arguments()
                .find(|arg| arg.get_long() == Some(long.as_str()) && long != "config")
                .ok_or_else(|| file_error(format!("unknown setting '{key}'")))?;
            let from_default = matches!(
                matches.value_source(arg.get_id().as_str()),
                None | Some(clap::parser::ValueSource::DefaultValue)
            );
            if !from_default {
                continue;
            }
            let value = item
                .as_value()
                .ok_or_else(|| file_error(format!("'{key}' is a table, not a setting")))?;
            let is_flag = !arg.get_action().takes_values();
            let text = match value {
                toml_edit::Value::String(s) => s.value().clone(),
                toml_edit::Value::Integer(i) => i.value().to_string(),
                toml_edit::Value::Float(f) => f.value().to_string(),
                toml_edit::Value::Boolean(b) if is_flag => {
                    if *b.value() {
                        file_args.push(format!("--{long}").into());
                    }
                    continue;
                }
                toml_edit::Value::Boolean(b) => b.value().to_string(),
                _ => {
                    return Err(file_error(format!(
                        "'{key}' needs a string, number or boolean"
                    )));
                }
            };
            if is_flag {
                return Err(file_error(format!("'{key}' is a switch: true or false")));
            }
            file_args.push(format!("--{long}").into());
            file_args.push(text.into());
        }
        let mut combined = vec![args.first().cloned().unwrap_or_else(|| "shardcask".into())];
        combined.extend(file_args);
        combined.extend(args.iter().skip(1).cloned());
        Config::try_parse_from(combined).map_err(|e| file_error(e.to_string()))
    }

    /// The CPUs executors may run on: `--cpus`, else the affinity mask.
    pub fn cpu_set(&self) -> Vec<usize> {
        match &self.cpus {
            Some(list) => list.0.clone(),
            None => affinity_cpus(),
        }
    }

    /// How many shards to run.
    pub fn nr_shards(&self) -> usize {
        self.shards.unwrap_or_else(|| self.cpu_set().len()).max(1)
    }

    /// The CPU shard `shard_id` is pinned to, or `None` when not pinning.
    pub fn cpu_for_shard(&self, shard_id: usize) -> Option<usize> {
        if self.no_pin {
            return None;
        }
        let cpus = self.cpu_set();
        (!cpus.is_empty()).then(|| cpus[shard_id % cpus.len()])
    }

    /// The storage layer's sync mode.
    pub fn sync_mode(&self) -> SyncMode {
        match self.sync {
            SyncPolicy::Always => SyncMode::Always,
            SyncPolicy::Batch => SyncMode::Batch {
                interval: Duration::from_millis(self.sync_interval_ms.max(1)),
            },
            SyncPolicy::Never => SyncMode::Never,
        }
    }

    /// Each shard's value cache budget in bytes.
    pub fn cache_bytes_per_shard(&self) -> u64 {
        let total = self.cache_size.unwrap_or_else(|| {
            sysinfo::System::new_with_specifics(
                sysinfo::RefreshKind::nothing()
                    .with_memory(sysinfo::MemoryRefreshKind::nothing().with_ram()),
            )
            .map_or(1 << 30, |system| system.total_memory() / 4)
        });
        total / self.nr_shards() as u64
    }

    /// When shards merge by themselves.
    pub fn merge_policy(&self) -> crate::storage::MergePolicy {
        crate::storage::MergePolicy {
            check_interval: (self.merge_interval > 0)
                .then(|| Duration::from_secs(self.merge_interval)),
            frag_trigger_percent: self.merge_trigger_fragmentation,
            dead_bytes_trigger: self.merge_trigger_dead_bytes,
            frag_threshold_percent: self.merge_threshold_fragmentation,
            dead_bytes_threshold: self.merge_threshold_dead_bytes,
            small_file_threshold: self.merge_small_file,
        }
    }

    /// The config value Redis's `CONFIG GET` would show for our settings.
    pub fn config_pairs(&self) -> Vec<(&'static str, String)> {
        let sync = match self.sync {
            SyncPolicy::Always => "always",
            SyncPolicy::Batch => "everysec",
            SyncPolicy::Never => "no",
        };
        vec![
            ("bind", self.listen.ip().to_string()),
            ("port", self.listen.port().to_string()),
            ("dir", self.dir.display().to_string()),
            ("databases", "1".into()),
            ("maxclients", self.max_connections.to_string()),
            ("proto-max-bulk-len", self.max_value_size.to_string()),
            ("appendonly", "yes".into()),
            ("appendfsync", sync.into()),
            ("save", String::new()),
            ("maxmemory", "0".into()),
            ("shards", self.nr_shards().to_string()),
            ("cluster-enabled", "yes".into()),
            ("sync", self.sync.as_str().to_string()),
            ("sync-interval-ms", self.sync_interval_ms.to_string()),
            ("max-file-size", self.max_file_size.to_string()),
            ("max-key-size", self.max_key_size.to_string()),
            ("max-value-size", self.max_value_size.to_string()),
            ("max-connections", self.max_connections.to_string()),
            ("client-output-limit", self.client_output_limit.to_string()),
            (
                "client-output-timeout",
                self.client_output_timeout.to_string(),
            ),
            ("stats-interval", self.stats_interval.to_string()),
            (
                "cache-size",
                self.cache_bytes_per_shard()
                    .saturating_mul(self.nr_shards() as u64)
                    .to_string(),
            ),
            ("max-disk", self.max_disk.unwrap_or(0).to_string()),
            ("merge-interval", self.merge_interval.to_string()),
            (
                "merge-trigger-fragmentation",
                self.merge_trigger_fragmentation.to_string(),
            ),
            (
                "merge-trigger-dead-bytes",
                self.merge_trigger_dead_bytes.to_string(),
            ),
            (
                "merge-threshold-fragmentation",
                self.merge_threshold_fragmentation.to_string(),
            ),
            (
                "merge-threshold-dead-bytes",
                self.merge_threshold_dead_bytes.to_string(),
            ),
            ("merge-small-file", self.merge_small_file.to_string()),
            (
                "slowlog-log-slower-than",
                self.slowlog_log_slower_than.to_string(),
            ),
            ("slowlog-max-len", self.slowlog_max_len.to_string()),
            (
                "latency-monitor-threshold",
                self.latency_monitor_threshold.to_string(),
            ),
        ]
    }
}

/// The CPUs in this process's affinity mask.
pub fn affinity_cpus() -> Vec<usize> {
    // SAFETY: cpu_set_t is plain data; sched_getaffinity fills it for pid 0 (us).
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) == 0 {
            let cpus: Vec<usize> = (0..libc::CPU_SETSIZE as usize)
                .filter(|&cpu| libc::CPU_ISSET(cpu, &set))
                .collect();
            if !cpus.is_empty() {
                return cpus;
            }
        }
    }
    let n = std::thread::available_parallelism().map_or(1, |n| n.get());
    (0..n).collect()
}

/// Parses `0,2-3` into `[0, 2, 3]`.
pub fn parse_cpu_list(text: &str) -> Result<CpuList, String> {
    let mut cpus = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let bad = || format!("invalid CPU list element '{part}' (expected e.g. 0,2-3)");
        match part.split_once('-') {
            Some((lo, hi)) => {
                let lo: usize = lo.trim().parse().map_err(|_| bad())?;
                let hi: usize = hi.trim().parse().map_err(|_| bad())?;
                if lo > hi || hi >= 4096 {
                    return Err(bad());
                }
                cpus.extend(lo..=hi);
            }
            None => cpus.push(part.parse().map_err(|_| bad())?),
        }
    }
    if cpus.is_empty() {
        return Err("the CPU list is empty".into());
    }
    cpus.dedup();
    Ok(CpuList(cpus))
}

/// Parses `4096`, `64KiB`, `1GiB`, `512mb`, `1g` into bytes.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, suffix) = text.split_at(split);
    let number: u64 = digits
        .parse()
        .map_err(|_| format!("invalid size '{text}' (expected e.g. 4096, 64KiB, 1GiB)"))?;
    let multiplier: u64 = match suffix.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        "t" | "tb" | "tib" => 1 << 40,
        other => return Err(format!("unknown size suffix '{other}' in '{text}'")),
    };
    number
        .checked_mul(multiplier)
        .ok_or_else(|| format!("size '{text}' is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> tempfile::NamedTempFile {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut file, text.as_bytes()).unwrap();
        file
    }

    #[test]
    fn a_config_file_under_the_command_line() {
        let settings = file(
            "max-file-size = \"1GiB\"\nmerge_interval = 7\nno-pin = true\nsync = \"batch\"\nmax-connections = 55\n",
        );
        let path = settings.path().to_str().unwrap();
        let config =
            Config::load(["shardcask", "--config", path, "--max-connections", "9"]).unwrap();
        assert_eq!(config.max_file_size, 1 << 30);
        assert_eq!(config.merge_interval, 7, "underscores name the flag too");
        assert!(config.no_pin);
        assert_eq!(config.sync, SyncPolicy::Batch);
        assert_eq!(config.max_connections, 9, "the command line wins");
        // Without --config: the defaults.
        let plain = Config::load(["shardcask"]).unwrap();
        assert_eq!(plain.merge_interval, 60);
        let policy = plain.merge_policy();
        assert_eq!(
            policy,
            crate::storage::MergePolicy {
                check_interval: Some(Duration::from_secs(60)),
                ..Default::default()
            },
            "the merge flags' defaults are Bitcask's"
        );
    }

    #[test]
    fn a_bad_config_file_says_what_is_wrong() {
        let error = |text: &str| {
            let settings = file(text);
            let path = settings.path().to_str().unwrap().to_string();
            Config::load(["shardcask", "--config", &path])
                .unwrap_err()
                .to_string()
        };
        assert!(error("bogus = 1\n").contains("unknown setting 'bogus'"));
        assert!(error("max-file-size = \"lots\"\n").contains("max-file-size"));
        assert!(error("no-pin = \"yes\"\n").contains("switch"));
        assert!(error("[listen]\nx = 1\n").contains("table"));
        assert!(error("listen = \n").contains("config file"));
    }

    #[test]
    fn sizes_with_suffixes() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("64KiB"), Ok(64 << 10));
        assert_eq!(parse_size("512mb"), Ok(512 << 20));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert!(parse_size("12XB").is_err());
        assert!(parse_size("abc").is_err());
        assert!(parse_size("99999999999999TiB").is_err());
    }

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpu_list("0,2-3"), Ok(CpuList(vec![0, 2, 3])));
        assert_eq!(parse_cpu_list("1"), Ok(CpuList(vec![1])));
        assert!(parse_cpu_list("3-1").is_err());
        assert!(parse_cpu_list("x").is_err());
        assert!(parse_cpu_list("").is_err());
    }

    #[test]
    fn defaults_are_sensible() {
        let config = Config::parse_from(["shardcask"]);
        assert_eq!(config.listen.port(), 6379);
        assert_eq!(config.sync, SyncPolicy::Always);
        assert_eq!(config.max_value_size, 512 << 20);
        assert!(config.nr_shards() >= 1);
        let config = Config::parse_from(["shardcask", "--cpus", "0-1", "--no-pin"]);
        assert_eq!(config.nr_shards(), 2);
        assert_eq!(config.cpu_for_shard(1), None);
    }
}
