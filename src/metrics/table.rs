//! The metric list: every per-shard figure declared once, with its kind,
//! unit, help text and where INFO shows its server-wide total. The periodic
//! table, INFO and the Prometheus endpoint are all generated from it.

use super::shard::ShardStats;
use crate::storage::StoreStats;

/// How a metric moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Only grows: shown per second in the table, as a delta over a run,
    /// `_total` in Prometheus.
    Counter,
    /// A current level (keys, bytes held, connections open): shown as is,
    /// never as a rate or a delta.
    Gauge,
}

/// How the per-core values of a metric make the server's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Combine {
    /// Added up.
    Sum,
    /// The largest core's value (a worst case, such as fragmentation).
    Max,
}

/// The INFO section that shows a metric's server-wide value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// `# Clients`
    Clients,
    /// `# Persistence`
    Persistence,
    /// `# Stats`
    Stats,
}

/// One declared metric.
#[derive(Debug, Clone, Copy)]
pub struct MetricDef {
    /// Its id (its position in [`METRICS`]).
    pub id: MetricId,
    /// Name in INFO's per-core lines and, prefixed `shardcask_` (and
    /// suffixed `_total` for counters), in Prometheus.
    pub name: &'static str,
    /// Counter or gauge.
    pub kind: Kind,
    /// Unit of the value (`bytes`, `ms`, `commands`, ...), for help texts.
    pub unit: &'static str,
    /// How per-core values combine.
    pub combine: Combine,
    /// One line saying what it counts.
    pub help: &'static str,
    /// Where INFO shows the server-wide value, and under which name there
    /// (Redis's where Redis has one).
    pub info: Option<(Section, &'static str)>,
    /// Reads the current value from a shard's counters and its store's.
    pub read: fn(&ShardStats, &StoreStats) -> u64,
}

macro_rules! declare_metrics {
    ($(
        $id:ident: $name:literal, $kind:ident, $unit:literal, $combine:ident,
        info = $info:expr, $help:literal, |$stats:ident, $store:ident| $read:expr;
    )*) => {
        /// Identifies a declared metric; `as usize` is its index in
        /// [`METRICS`] and in a snapshot's values.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #[repr(usize)]
        pub enum MetricId {
            $(
                #[doc = $help]
                $id,
            )*
        }

        /// Every declared metric, in [`MetricId`] order.
        pub const METRICS: &[MetricDef] = &[
            $(
                MetricDef {
                    id: MetricId::$id,
                    name: $name,
                    kind: Kind::$kind,
                    unit: $unit,
                    combine: Combine::$combine,
                    help: $help,
                    info: $info,
                    read: {
                        #[allow(unused_variables)]
                        fn read($stats: &ShardStats, $store: &StoreStats) -> u64 {
                            $read
                        }
                        read
                    },
                },
            )*
        ];
    };
}

use Section::{Clients, Persistence, Stats};

declare_metrics! {
    CmdGet: "cmd_get", Counter, "commands", Sum, info = Some((Stats, "cmd_get")),
        "GET-family commands executed by this shard as the key's owner",
        |s, _st| s.gets.get();
    CmdSet: "cmd_set", Counter, "commands", Sum, info = Some((Stats, "cmd_set")),
        "Writing commands executed by this shard as the key's owner",
        |s, _st| s.sets.get();
    CmdOther: "cmd_other", Counter, "commands", Sum, info = Some((Stats, "cmd_other")),
        "Other commands answered by this shard",
        |s, _st| s.others.get();
    ForwardedIn: "forwarded_in", Counter, "commands", Sum, info = Some((Stats, "forwarded_in")),
        "Commands received from other shards to execute here",
        |s, _st| s.fwd_in.get();
    ForwardedOut: "forwarded_out", Counter, "commands", Sum, info = Some((Stats, "forwarded_out")),
        "Commands this shard's connections sent to the owning shard",
        |s, _st| s.fwd_out.get();
    ConnectedClients: "connected_clients", Gauge, "connections", Sum,
        info = Some((Clients, "connected_clients")),
        "Client connections open on this shard",
        |s, _st| s.connections.get();
    ConnectionsReceived: "connections_received", Counter, "connections", Sum,
        info = Some((Stats, "total_connections_received")),
        "Client connections accepted",
        |s, _st| s.connections_total.get();
    ConnectionsRejected: "connections_rejected", Counter, "connections", Sum,
        info = Some((Stats, "rejected_connections")),
        "Connections refused by --max-connections",
        |s, _st| s.connections_rejected.get();
    NetInputBytes: "net_input_bytes", Counter, "bytes", Sum,
        info = Some((Stats, "total_net_input_bytes")),
        "Bytes read from clients",
        |s, _st| s.net_in.get();
    NetOutputBytes: "net_output_bytes", Counter, "bytes", Sum,
        info = Some((Stats, "total_net_output_bytes")),
        "Bytes written to clients",
        |s, _st| s.net_out.get();
    ProtocolErrors: "protocol_errors", Counter, "connections", Sum,
        info = Some((Stats, "protocol_errors")),
        "Connections closed for malformed input",
        |s, _st| s.protocol_errors.get();
    Keys: "keys", Gauge, "keys", Sum, info = None,
        "Keys in this shard's keydir (expired ones not yet reaped included)",
        |_s, st| st.keys;
    LiveBytes: "live_bytes", Gauge, "bytes", Sum, info = Some((Persistence, "live_bytes")),
        "Bytes of live records in this shard's logs",
        |_s, st| st.live_bytes;
    DeadBytes: "dead_bytes", Gauge, "bytes", Sum, info = Some((Persistence, "dead_bytes")),
        "Bytes of superseded or deleted records still on disk",
        |_s, st| st.dead_bytes;
    DiskBytes: "disk_bytes", Gauge, "bytes", Sum, info = Some((Persistence, "disk_bytes")),
        "Bytes of this shard's log files",
        |_s, st| st.disk_bytes;
    LogFiles: "log_files", Gauge, "files", Sum, info = Some((Persistence, "log_files")),
        "Log files of this shard",
        |_s, st| st.files;
    UsedDisk: "used_disk_bytes", Gauge, "bytes", Sum, info = Some((Persistence, "used_disk")),
        "Bytes counted against --max-disk (on disk or buffered)",
        |_s, st| st.used_disk;
    MaxDisk: "max_disk_bytes", Gauge, "bytes", Sum, info = Some((Persistence, "max_disk")),
        "This shard's share of --max-disk (0: no limit)",
        |_s, st| st.max_disk;
    DiskFullRefusals: "disk_full_refusals", Counter, "commands", Sum,
        info = Some((Persistence, "disk_full_refusals")),
        "Writes refused because --max-disk was reached",
        |_s, st| st.disk_full_refusals;
    DiskReadBytes: "disk_read_bytes", Counter, "bytes", Sum, info = Some((Stats, "disk_read_bytes")),
        "Bytes read from log files",
        |_s, st| st.bytes_read;
    DiskWrittenBytes: "disk_written_bytes", Counter, "bytes", Sum,
        info = Some((Stats, "disk_written_bytes")),
        "Bytes written to log files",
        |_s, st| st.bytes_written;
    DiskReads: "disk_reads", Counter, "I/Os", Sum, info = Some((Stats, "disk_reads")),
        "DMA reads submitted",
        |_s, st| st.reads;
    LogWrites: "log_writes", Counter, "I/Os", Sum, info = Some((Persistence, "log_writes")),
        "DMA log writes submitted (one per group commit)",
        |_s, st| st.writes;
    LogSyncs: "log_syncs", Counter, "I/Os", Sum, info = Some((Persistence, "log_syncs")),
        "fdatasyncs of log files",
        |_s, st| st.syncs;
    RecordsFlushed: "records_flushed", Counter, "records", Sum,
        info = Some((Persistence, "records_flushed")),
        "Records written by log writes (divided by log_writes: the group-commit batch size)",
        |_s, st| st.records_flushed;
    CacheHits: "cache_hits", Counter, "lookups", Sum, info = Some((Stats, "cache_hits")),
        "Reads answered by the value cache",
        |_s, st| st.cache_hits;
    CacheMisses: "cache_misses", Counter, "lookups", Sum, info = Some((Stats, "cache_misses")),
        "Reads that went to the disk",
        |_s, st| st.cache_misses;
    CacheBytes: "cache_bytes", Gauge, "bytes", Sum, info = Some((Stats, "cache_bytes")),
        "Bytes held by the value cache",
        |_s, st| st.cache_bytes;
    Merges: "merges", Counter, "merges", Sum, info = Some((Persistence, "merges")),
        "Merges completed",
        |_s, st| st.merges;
    MergeReclaimedBytes: "merge_reclaimed_bytes", Counter, "bytes", Sum,
        info = Some((Persistence, "merge_reclaimed_bytes")),
        "Bytes merges gave back",
        |_s, st| st.merge_reclaimed;
    MergeMs: "merge_ms", Counter, "ms", Sum, info = Some((Persistence, "merge_total_ms")),
        "Wall time spent merging",
        |_s, st| st.merge_ms;
    LastMergeMs: "last_merge_ms", Gauge, "ms", Max, info = Some((Persistence, "merge_last_ms")),
        "Wall time of the last merge",
        |_s, st| st.last_merge_ms;
    HintFilesWritten: "hint_files_written", Counter, "files", Sum,
        info = Some((Persistence, "hint_files_written")),
        "Hint files written",
        |_s, st| st.hints_written;
    MaxFileFragmentation: "max_file_fragmentation_percent", Gauge, "percent", Max,
        info = Some((Persistence, "max_file_fragmentation_percent")),
        "Highest share of dead bytes in any sealed log file",
        |_s, st| st.max_file_frag_percent;
}

/// Number of declared metrics.
pub const NR_METRICS: usize = METRICS.len();

impl MetricId {
    /// The metric's declaration.
    pub fn def(self) -> &'static MetricDef {
        &METRICS[self as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_positions_and_names_are_unique() {
        for (index, def) in METRICS.iter().enumerate() {
            assert_eq!(def.id as usize, index, "{}", def.name);
            assert!(
                def.name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                "{} is not a Prometheus-friendly name",
                def.name
            );
        }
        let mut names: Vec<&str> = METRICS.iter().map(|d| d.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), NR_METRICS);
    }
}
