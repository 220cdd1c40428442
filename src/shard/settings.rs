//! CONFIG SET: the settings that can change while the server runs.
//!
//! Their values live here, shared by every shard (atomics: CONFIG SET
//! arrives on any core). A setting never set keeps the command line's
//! value. After a CONFIG SET stores its values, every shard is asked to
//! [`apply`] them to what it owns (its store's cache budget, disk limit,
//! merge and sync intervals; its slow log's thresholds); the others are read
//! where they take effect (a new connection reads the output limit and
//! timeout, the accept loop the connection limit, shard 0's stats printer
//! the stats interval). The remaining settings are read once at start:
//! CONFIG SET refuses them with Redis's "can't set immutable config".

use std::sync::atomic::{AtomicI64, Ordering};

use bytes::Bytes;

use super::Shard;
use crate::config::{Config, parse_size};
use crate::protocol::Reply;

/// A setting CONFIG SET changes while the server runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Knob {
    /// `maxclients` / `max-connections`: checked at each accept.
    MaxConnections,
    /// `client-output-limit` (bytes), for connections accepted after the change.
    ClientOutputLimit,
    /// `client-output-timeout` (seconds, 0: never), for connections accepted after the change.
    ClientOutputTimeout,
    /// `cache-size` (bytes, the whole server's; each shard gets its share).
    CacheSize,
    /// `max-disk` (bytes, the whole server's; 0: no limit).
    MaxDisk,
    /// `merge-interval` (seconds, 0: only on MERGE/BGREWRITEAOF).
    MergeInterval,
    /// `merge-trigger-fragmentation` (% dead of a file that starts a merge).
    MergeTriggerFragmentation,
    /// `merge-trigger-dead-bytes` (dead bytes of a file that start a merge).
    MergeTriggerDeadBytes,
    /// `merge-threshold-fragmentation` (% dead of a file a merge includes).
    MergeThresholdFragmentation,
    /// `merge-threshold-dead-bytes` (dead bytes of a file a merge includes).
    MergeThresholdDeadBytes,
    /// `merge-small-file` (files under this size a merge includes).
    MergeSmallFile,
    /// `sync-interval-ms`: the periodic fdatasync of `--sync batch`.
    SyncIntervalMs,
    /// `stats-interval` (seconds, 0: off): the per-core table on stdout.
    StatsInterval,
    /// `slowlog-log-slower-than` (µs, -1: never).
    SlowlogLogSlowerThan,
    /// `slowlog-max-len`.
    SlowlogMaxLen,
    /// `latency-monitor-threshold` (ms, 0: off).
    LatencyMonitorThreshold,
}

/// How a knob's value is written.
#[derive(Debug, Clone, Copy)]
enum Unit {
    /// An integer as Redis's `string2ll` reads it.
    Integer,
    /// A size with an optional suffix (`64mb`, `1GiB`), Redis's "memory value".
    Bytes,
}

/// One knob: its CONFIG names (the first, Redis's where it has one, names
/// it in value errors), unit, bounds, and
/// the command line's value.
struct KnobDef {
    knob: Knob,
    names: &'static [&'static str],
    unit: Unit,
    min: i64,
    max: i64,
    configured: fn(&Config) -> i64,
}

fn clamp(value: u64) -> i64 {
    value.min(i64::MAX as u64) as i64
}

/// Every run-time setting, in [`Knob`] order.
const KNOBS: &[KnobDef] = &[
    KnobDef {
        knob: Knob::MaxConnections,
        names: &["maxclients", "max-connections"],
        unit: Unit::Integer,
        min: 1,
        max: u32::MAX as i64,
        configured: |c| clamp(c.max_connections as u64),
    },
    KnobDef {
        knob: Knob::ClientOutputLimit,
        names: &["client-output-limit"],
        unit: Unit::Bytes,
        min: 1,
        max: i64::MAX,
        configured: |c| clamp(c.client_output_limit),
    },
    KnobDef {
        knob: Knob::ClientOutputTimeout,
        names: &["client-output-timeout"],
        unit: Unit::Integer,
        min: 0,
        max: i64::MAX,
        configured: |c| clamp(c.client_output_timeout),
    },
    KnobDef {
        knob: Knob::CacheSize,
        names: &["cache-size"],
        unit: Unit::Bytes,
        min: 0,
        max: i64::MAX,
        configured: |c| {
            clamp(
                c.cache_bytes_per_shard()
                    .saturating_mul(c.nr_shards() as u64),
            )
        },
    },
    KnobDef {
        knob: Knob::MaxDisk,
        names: &["max-disk"],
        unit: Unit::Bytes,
        min: 0,
        max: i64::MAX,
        configured: |c| clamp(c.max_disk.unwrap_or(0)),
    },
    KnobDef {
        knob: Knob::MergeInterval,
        names: &["merge-interval"],
        unit: Unit::Integer,
        min: 0,
        max: u32::MAX as i64,
        configured: |c| clamp(c.merge_interval),
    },
    KnobDef {
        knob: Knob::MergeTriggerFragmentation,
        names: &["merge-trigger-fragmentation"],
        unit: Unit::Integer,
        min: 0,
        max: 100,
        configured: |c| clamp(c.merge_trigger_fragmentation),
    },
    KnobDef {
        knob: Knob::MergeTriggerDeadBytes,
        names: &["merge-trigger-dead-bytes"],
        unit: Unit::Bytes,
        min: 0,
        max: i64::MAX,
        configured: |c| clamp(c.merge_trigger_dead_bytes),
    },
    KnobDef {
        knob: Knob::MergeThresholdFragmentation,
        names: &["merge-threshold-fragmentation"],
        unit: Unit::Integer,
        min: 0,
        max: 100,
        configured: |c| clamp(c.merge_threshold_fragmentation),
    },
    KnobDef {
        knob: Knob::MergeThresholdDeadBytes,
        names: &["merge-threshold-dead-bytes"],
        unit: Unit::Bytes,
        min: 0,
        max: i64::MAX,
        configured: |c| clamp(c.merge_threshold_dead_bytes),
    },
    KnobDef {
        knob: Knob::MergeSmallFile,
        names: &["merge-small-file"],
        unit: Unit::Bytes,
        min: 0,
        max: i64::MAX,
        configured: |c| clamp(c.merge_small_file),
    },
    KnobDef {
        knob: Knob::SyncIntervalMs,
        names: &["sync-interval-ms"],
        unit: Unit::Integer,
        min: 1,
        max: u32::MAX as i64,
        configured: |c| clamp(c.sync_interval_ms),
    },
    KnobDef {
        knob: Knob::StatsInterval,
        names: &["stats-interval"],
        unit: Unit::Integer,
        min: 0,
        max: u32::MAX as i64,
        configured: |c| clamp(c.stats_interval),
    },
    KnobDef {
        knob: Knob::SlowlogLogSlowerThan,
        names: &["slowlog-log-slower-than"],
        unit: Unit::Integer,
        min: -1,
        max: i64::MAX,
        configured: |c| c.slowlog_log_slower_than,
    },
    KnobDef {
        knob: Knob::SlowlogMaxLen,
        names: &["slowlog-max-len"],
        unit: Unit::Integer,
        min: 0,
        max: i64::MAX,
        configured: |c| clamp(c.slowlog_max_len as u64),
    },
    KnobDef {
        knob: Knob::LatencyMonitorThreshold,
        names: &["latency-monitor-threshold"],
        unit: Unit::Integer,
        min: 0,
        max: i64::MAX,
        configured: |c| clamp(c.latency_monitor_threshold),
    },
];

const NR_KNOBS: usize = KNOBS.len();

/// Not set at run time: the command line's value holds. (No knob's
/// bounds reach it.)
const UNSET: i64 = i64::MIN;

fn def_of(name: &str) -> Option<&'static KnobDef> {
    KNOBS.iter().find(|def| def.names.contains(&name))
}

/// Which flag a CONFIG name of Redis's stands for, when it has another name.
fn flag_of(name: &str) -> Option<&'static str> {
    match name {
        "proto-max-bulk-len" => Some("max-value-size"),
        "appendfsync" => Some("sync"),
        "bind" | "port" => Some("listen"),
        _ => None,
    }
}

/// The run-time values of the settings CONFIG SET changes.
#[derive(Debug)]
pub struct RuntimeSettings {
    /// By [`Knob`] (`as usize`); [`UNSET`] until set.
    values: [AtomicI64; NR_KNOBS],
}

impl Default for RuntimeSettings {
    fn default() -> Self {
        RuntimeSettings {
            values: std::array::from_fn(|_| AtomicI64::new(UNSET)),
        }
    }
}

impl RuntimeSettings {
    /// A knob's value now: the last CONFIG SET's, else the command line's.
    pub fn get(&self, knob: Knob, config: &Config) -> i64 {
        match self.values[knob as usize].load(Ordering::Relaxed) {
            UNSET => (KNOBS[knob as usize].configured)(config),
            value => value,
        }
    }

    /// [`RuntimeSettings::get`] of a knob whose bounds exclude negatives.
    pub fn get_u64(&self, knob: Knob, config: &Config) -> u64 {
        self.get(knob, config).max(0) as u64
    }

    /// The connection limit now.
    pub fn max_connections(&self, config: &Config) -> usize {
        self.get_u64(Knob::MaxConnections, config) as usize
    }

    /// The output limit a new connection gets.
    pub fn client_output_limit(&self, config: &Config) -> u64 {
        self.get_u64(Knob::ClientOutputLimit, config)
    }

    /// The output timeout (seconds, 0: none) a new connection gets.
    pub fn client_output_timeout(&self, config: &Config) -> u64 {
        self.get_u64(Knob::ClientOutputTimeout, config)
    }

    /// CONFIG GET's pairs with the run-time values in place.
    pub fn pairs(&self, config: &Config) -> Vec<(&'static str, String)> {
        let mut pairs = config.config_pairs();
        for (name, value) in &mut pairs {
            if let Some(def) = def_of(name) {
                *value = self.get(def.knob, config).to_string();
            }
        }
        pairs
    }

    /// CONFIG SET name value [name value ...]: every name is checked and
    /// every value parsed before any is stored, so a failure changes
    /// nothing. Errors are Redis 7's, word for word; a setting read only at
    /// start gets Redis's "can't set immutable config" (naming our flag
    /// when Redis's name for it differs). On success the shards still have
    /// to [`apply`] the values.
    pub fn set(&self, config: &Config, pairs: &[(Bytes, Bytes)]) -> Result<(), Reply> {
        let failed = |name: &str, reason: &str| {
            Reply::error(format!(
                "ERR CONFIG SET failed (possibly related to argument '{name}') - {reason}"
            ))
        };
        // First the names, in order, as typed in the errors (Redis's
        // configSetCommand): unknown, immutable, given twice.
        let known = config.config_pairs();
        let mut defs: Vec<&KnobDef> = Vec::with_capacity(pairs.len());
        for (name, _) in pairs {
            let typed = String::from_utf8_lossy(name);
            let lower = typed.to_ascii_lowercase();
            if !known.iter().any(|(known, _)| *known == lower) {
                return Err(Reply::error(format!(
                    "ERR Unknown option or number of arguments for CONFIG SET - '{typed}'"
                )));
            }
            let Some(def) = def_of(&lower) else {
                return Err(failed(
                    &typed,
                    &match flag_of(&lower) {
                        Some(flag) => format!("can't set immutable config (shardcask's --{flag})"),
                        None => "can't set immutable config".to_string(),
                    },
                ));
            };
            if defs.iter().any(|seen| seen.knob == def.knob) {
                return Err(failed(&typed, "duplicate parameter"));
            }
            defs.push(def);
        }
        // Then the values, in order, under each setting's own name.
        let mut changes: Vec<(Knob, i64)> = Vec::with_capacity(pairs.len());
        for (def, (_, value)) in defs.into_iter().zip(pairs) {
            let failed = |reason: &str| failed(def.names[0], reason);
            let parsed = match def.unit {
                Unit::Integer => crate::commands::parse_i64(value)
                    .ok_or_else(|| failed("argument couldn't be parsed into an integer"))?,
                Unit::Bytes => std::str::from_utf8(value)
                    .ok()
                    .and_then(|text| parse_size(text).ok())
                    .filter(|&bytes| bytes <= i64::MAX as u64)
                    .ok_or_else(|| failed("argument must be a memory value"))?
                    as i64,
            };
            if parsed < def.min || parsed > def.max {
                return Err(failed(&format!(
                    "argument must be between {} and {} inclusive",
                    def.min, def.max
                )));
            }
            changes.push((def.knob, parsed));
        }
        for (knob, value) in changes {
            self.values[knob as usize].store(value, Ordering::Relaxed);
        }
        Ok(())
    }
}

/// Brings what shard `shard` owns up to the current settings (after a
/// CONFIG SET on any shard): its store's share of the cache and disk
/// limits, its merge and batch-sync intervals, its slow log's thresholds.
/// Applies every knob, so it is idempotent and two concurrent CONFIG SETs
/// end with the later values everywhere.
pub fn apply(shard: &Shard) {
    let settings = &shard.shared.settings;
    let config = &shard.config;
    let nr_shards = shard.nr_shards.max(1) as u64;
    let value = |knob| settings.get_u64(knob, config);
    shard
        .store
        .set_cache_budget(value(Knob::CacheSize) / nr_shards);
    let max_disk = value(Knob::MaxDisk);
    shard
        .store
        .set_max_disk((max_disk > 0).then(|| max_disk / nr_shards));
    let merge_interval = value(Knob::MergeInterval);
    shard.store.set_merge_policy(crate::storage::MergePolicy {
        check_interval: (merge_interval > 0)
            .then(|| std::time::Duration::from_secs(merge_interval)),
        frag_trigger_percent: value(Knob::MergeTriggerFragmentation),
        dead_bytes_trigger: value(Knob::MergeTriggerDeadBytes),
        frag_threshold_percent: value(Knob::MergeThresholdFragmentation),
        dead_bytes_threshold: value(Knob::MergeThresholdDeadBytes),
        small_file_threshold: value(Knob::MergeSmallFile),
    });
    shard
        .store
        .set_batch_interval(std::time::Duration::from_millis(value(
            Knob::SyncIntervalMs,
        )));
    shard.introspection.set_thresholds(
        settings.get(Knob::SlowlogLogSlowerThan, config),
        value(Knob::SlowlogMaxLen).min(usize::MAX as u64) as usize,
        value(Knob::LatencyMonitorThreshold),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(settings: &RuntimeSettings, config: &Config, args: &[&str]) -> Result<(), String> {
        let pairs: Vec<(Bytes, Bytes)> = args
            .chunks(2)
            .map(|pair| {
                (
                    Bytes::copy_from_slice(pair[0].as_bytes()),
                    Bytes::copy_from_slice(pair[1].as_bytes()),
                )
            })
            .collect();
        settings.set(config, &pairs).map_err(|reply| match reply {
            Reply::Error(text) => text.into_owned(),
            other => panic!("{other:?}"),
        })
    }

    #[test]
    fn knobs_are_in_order_and_named_in_config_get() {
        let config = Config::load(["shardcask"]).unwrap();
        let names: Vec<&str> = config.config_pairs().iter().map(|(n, _)| *n).collect();
        for (index, def) in KNOBS.iter().enumerate() {
            assert_eq!(def.knob as usize, index);
            for name in def.names {
                assert!(names.contains(name), "{name} is not in CONFIG GET");
            }
            assert!(def.min > UNSET);
        }
    }

    #[test]
    fn values_errors_and_all_or_nothing() {
        let config = Config::load(["shardcask", "--slowlog-log-slower-than", "-1"]).unwrap();
        let settings = RuntimeSettings::default();
        assert_eq!(settings.get(Knob::SlowlogLogSlowerThan, &config), -1);
        set(
            &settings,
            &config,
            &["cache-size", "64mb", "slowlog-log-slower-than", "5"],
        )
        .unwrap();
        assert_eq!(settings.get(Knob::CacheSize, &config), 64 << 20);
        assert_eq!(settings.get(Knob::SlowlogLogSlowerThan, &config), 5);
        set(&settings, &config, &["slowlog-log-slower-than", "-1"]).unwrap();
        assert_eq!(settings.get(Knob::SlowlogLogSlowerThan, &config), -1);
        let pairs = settings.pairs(&config);
        assert!(pairs.contains(&("cache-size", (64u64 << 20).to_string())));

        let failed = |name: &str, reason: &str| {
            format!("ERR CONFIG SET failed (possibly related to argument '{name}') - {reason}")
        };
        assert_eq!(
            set(&settings, &config, &["maxclients", "abc"]),
            Err(failed(
                "maxclients",
                "argument couldn't be parsed into an integer"
            ))
        );
        assert_eq!(
            set(&settings, &config, &["maxclients", "0"]),
            Err(failed(
                "maxclients",
                "argument must be between 1 and 4294967295 inclusive"
            ))
        );
        assert_eq!(
            set(&settings, &config, &["slowlog-log-slower-than", "-2"]),
            Err(failed(
                "slowlog-log-slower-than",
                "argument must be between -1 and 9223372036854775807 inclusive"
            ))
        );
        assert_eq!(
            set(&settings, &config, &["max-disk", "1x"]),
            Err(failed("max-disk", "argument must be a memory value"))
        );
        assert_eq!(
            set(
                &settings,
                &config,
                &["maxclients", "5", "max-connections", "6"]
            ),
            Err(failed("max-connections", "duplicate parameter"))
        );
        assert_eq!(
            set(&settings, &config, &["databases", "2"]),
            Err(failed("databases", "can't set immutable config"))
        );
        assert_eq!(
            set(&settings, &config, &["port", "2"]),
            Err(failed(
                "port",
                "can't set immutable config (shardcask's --listen)"
            ))
        );
        // The valid pair before a failing one is not stored either.
        assert!(
            set(
                &settings,
                &config,
                &["max-disk", "1gb", "max-file-size", "1"]
            )
            .is_err()
        );
        assert_eq!(settings.get(Knob::MaxDisk, &config), 0);
    }
}
