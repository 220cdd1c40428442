//! Per-shard counters and latency histograms, their snapshots, and the
//! periodic per-core table.
//!
//! Each shard updates its own [`ShardStats`] (plain `Cell`s, no atomics: one
//! core owns them). A [`ShardSnapshot`] is the `Send` copy that travels over
//! the mesh to whoever prints the table or answers INFO; snapshots
//! [`combine`](ShardSnapshot::combine) into the total row.

use std::cell::{Cell, RefCell};
use std::fmt::Write as _;
use std::time::Duration;

use hdrhistogram::Histogram;

use crate::storage::StoreStats;

/// Highest latency the histograms track, in microseconds (60 s).
const MAX_LATENCY_US: u64 = 60_000_000;

fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).expect("valid histogram bounds")
}

/// The live counters of one shard.
pub struct ShardStats {
    /// GET-family commands executed on this shard (as owner).
    pub gets: Cell<u64>,
    /// SET-family (writing) commands executed on this shard.
    pub sets: Cell<u64>,
    /// Every other command answered by this shard.
    pub others: Cell<u64>,
    /// Commands received from peers for execution here.
    pub fwd_in: Cell<u64>,
    /// Commands this shard's connections sent to peers.
    pub fwd_out: Cell<u64>,
    /// Connections open on this shard now.
    pub connections: Cell<u64>,
    /// Connections accepted since start.
    pub connections_total: Cell<u64>,
    /// Connections refused because of `--max-connections`.
    pub connections_rejected: Cell<u64>,
    /// Bytes read from clients.
    pub net_in: Cell<u64>,
    /// Bytes written to clients.
    pub net_out: Cell<u64>,
    /// Protocol errors (connections closed for bad input).
    pub protocol_errors: Cell<u64>,
    /// Per-command latency in µs, from parse to reply ready, for commands
    /// arriving on this shard's connections.
    pub latency_us: RefCell<Histogram<u64>>,
}

impl Default for ShardStats {
    fn default() -> Self {
        ShardStats {
            gets: Cell::new(0),
            sets: Cell::new(0),
            others: Cell::new(0),
            fwd_in: Cell::new(0),
            fwd_out: Cell::new(0),
            connections: Cell::new(0),
            connections_total: Cell::new(0),
            connections_rejected: Cell::new(0),
            net_in: Cell::new(0),
            net_out: Cell::new(0),
            protocol_errors: Cell::new(0),
            latency_us: RefCell::new(new_histogram()),
        }
    }
}

/// Adds `n` to a counter.
pub fn bump(counter: &Cell<u64>, n: u64) {
    counter.set(counter.get().wrapping_add(n));
}

impl ShardStats {
    /// Records `count` commands that each took `latency`.
    pub fn record_latency(&self, latency: Duration, count: u64) {
        let us = (latency.as_micros() as u64).clamp(1, MAX_LATENCY_US);
        let _ = self.latency_us.borrow_mut().record_n(us, count);
    }

    /// A `Send` copy of the counters, with the store's.
    pub fn snapshot(
        &self,
        shard_id: usize,
        cpu: Option<usize>,
        store: StoreStats,
    ) -> ShardSnapshot {
        ShardSnapshot {
            shard_id,
            cpu,
            gets: self.gets.get(),
            sets: self.sets.get(),
            others: self.others.get(),
            fwd_in: self.fwd_in.get(),
            fwd_out: self.fwd_out.get(),
            connections: self.connections.get(),
            connections_total: self.connections_total.get(),
            connections_rejected: self.connections_rejected.get(),
            net_in: self.net_in.get(),
            net_out: self.net_out.get(),
            protocol_errors: self.protocol_errors.get(),
            latency_us: self.latency_us.borrow().clone(),
            store,
        }
    }
}

/// A point-in-time copy of one shard's counters (or the sum of several).
#[derive(Clone, Debug)]
pub struct ShardSnapshot {
    /// The shard (meaningless in a combined total).
    pub shard_id: usize,
    /// The CPU it is pinned to, if any.
    pub cpu: Option<usize>,
    /// See [`ShardStats::gets`].
    pub gets: u64,
    /// See [`ShardStats::sets`].
    pub sets: u64,
    /// See [`ShardStats::others`].
    pub others: u64,
    /// See [`ShardStats::fwd_in`].
    pub fwd_in: u64,
    /// See [`ShardStats::fwd_out`].
    pub fwd_out: u64,
    /// See [`ShardStats::connections`].
    pub connections: u64,
    /// See [`ShardStats::connections_total`].
    pub connections_total: u64,
    /// See [`ShardStats::connections_rejected`].
    pub connections_rejected: u64,
    /// See [`ShardStats::net_in`].
    pub net_in: u64,
    /// See [`ShardStats::net_out`].
    pub net_out: u64,
    /// See [`ShardStats::protocol_errors`].
    pub protocol_errors: u64,
    /// See [`ShardStats::latency_us`].
    pub latency_us: Histogram<u64>,
    /// The store's counters.
    pub store: StoreStats,
}

impl ShardSnapshot {
    /// Commands executed (as owner).
    pub fn ops(&self) -> u64 {
        self.gets + self.sets + self.others
    }

    /// Adds `other` into `self` (for the total row).
    pub fn combine(&mut self, other: &ShardSnapshot) {
        self.gets += other.gets;
        self.sets += other.sets;
        self.others += other.others;
        self.fwd_in += other.fwd_in;
        self.fwd_out += other.fwd_out;
        self.connections += other.connections;
        self.connections_total += other.connections_total;
        self.connections_rejected += other.connections_rejected;
        self.net_in += other.net_in;
        self.net_out += other.net_out;
        self.protocol_errors += other.protocol_errors;
        let _ = self.latency_us.add(&other.latency_us);
        let (a, b) = (&mut self.store, &other.store);
        a.keys += b.keys;
        a.live_bytes += b.live_bytes;
        a.dead_bytes += b.dead_bytes;
        a.bytes_written += b.bytes_written;
        a.bytes_read += b.bytes_read;
        a.reads += b.reads;
        a.writes += b.writes;
        a.syncs += b.syncs;
        a.records_flushed += b.records_flushed;
        a.files += b.files;
        a.disk_bytes += b.disk_bytes;
        a.used_disk += b.used_disk;
        a.max_disk += b.max_disk;
        a.disk_full_refusals += b.disk_full_refusals;
        a.cache_hits += b.cache_hits;
        a.cache_misses += b.cache_misses;
        a.cache_bytes += b.cache_bytes;
        a.merges += b.merges;
        a.merge_reclaimed += b.merge_reclaimed;
        a.merge_ms += b.merge_ms;
        a.last_merge_ms = a.last_merge_ms.max(b.last_merge_ms);
        a.hints_written += b.hints_written;
        a.max_file_frag_percent = a.max_file_frag_percent.max(b.max_file_frag_percent);
    }

    /// The sum of `shards`.
    pub fn total(shards: &[ShardSnapshot]) -> Option<ShardSnapshot> {
        let mut iter = shards.iter();
        let mut total = iter.next()?.clone();
        for shard in iter {
            total.combine(shard);
        }
        Some(total)
    }

    /// What happened between `earlier` and `self` (counters subtracted,
    /// histogram of just that interval; gauges such as keys stay current).
    pub fn since(&self, earlier: &ShardSnapshot) -> ShardSnapshot {
        let mut delta = self.clone();
        delta.gets -= earlier.gets.min(delta.gets);
        delta.sets -= earlier.sets.min(delta.sets);
        delta.others -= earlier.others.min(delta.others);
        delta.fwd_in -= earlier.fwd_in.min(delta.fwd_in);
        delta.fwd_out -= earlier.fwd_out.min(delta.fwd_out);
        delta.net_in -= earlier.net_in.min(delta.net_in);
        delta.net_out -= earlier.net_out.min(delta.net_out);
        let (a, b) = (&mut delta.store, &earlier.store);
        a.bytes_written -= b.bytes_written.min(a.bytes_written);
        a.bytes_read -= b.bytes_read.min(a.bytes_read);
        a.reads -= b.reads.min(a.reads);
        a.writes -= b.writes.min(a.writes);
        a.syncs -= b.syncs.min(a.syncs);
        a.records_flushed -= b.records_flushed.min(a.records_flushed);
        a.cache_hits -= b.cache_hits.min(a.cache_hits);
        a.cache_misses -= b.cache_misses.min(a.cache_misses);
        if delta.latency_us.subtract(&earlier.latency_us).is_err() {
            delta.latency_us.reset();
        }
        delta
    }

    /// Average records per log write (the group-commit batch size).
    pub fn avg_batch(&self) -> f64 {
        if self.store.writes == 0 {
            0.0
        } else {
            self.store.records_flushed as f64 / self.store.writes as f64
        }
    }

    /// Share of `get`s served by the value cache, in percent (0 without gets).
    pub fn cache_hit_percent(&self) -> f64 {
        let lookups = self.store.cache_hits + self.store.cache_misses;
        if lookups == 0 {
            0.0
        } else {
            self.store.cache_hits as f64 * 100.0 / lookups as f64
        }
    }

    /// Latency quantile in µs (0 when nothing was recorded).
    pub fn latency_quantile(&self, q: f64) -> u64 {
        if self.latency_us.is_empty() {
            0
        } else {
            self.latency_us.value_at_quantile(q)
        }
    }
}

/// Formats the per-core table for one interval: one row per shard and a
/// total row. `deltas` are what happened during `interval`.
pub fn format_table(deltas: &[ShardSnapshot], interval: Duration) -> String {
    let secs = interval.as_secs_f64().max(1e-9);
    let per_sec = |n: u64| (n as f64 / secs).round() as u64;
    let mb = |n: u64| n as f64 / (1024.0 * 1024.0);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:>5} {:>4} {:>9} {:>9} {:>9} {:>8} {:>8} {:>8} {:>7} {:>7} {:>8} {:>8} {:>7} {:>6} {:>6} {:>5} {:>10}",
        "core",
        "cpu",
        "ops/s",
        "get/s",
        "set/s",
        "other/s",
        "fwd_in/s",
        "fwd_out/s",
        "p50us",
        "p99us",
        "readMB/s",
        "writeMB/s",
        "iops",
        "sync/s",
        "batch",
        "hit%",
        "keys"
    );
    let mut row = |label: String, s: &ShardSnapshot| {
        let cpu = s.cpu.map_or("-".to_string(), |c| c.to_string());
        let _ = writeln!(
            out,
            "{:>5} {:>4} {:>9} {:>9} {:>9} {:>8} {:>8} {:>9} {:>7} {:>7} {:>8.1} {:>9.1} {:>7} {:>6} {:>6.1} {:>5.1} {:>10}",
            label,
            cpu,
            per_sec(s.ops()),
            per_sec(s.gets),
            per_sec(s.sets),
            per_sec(s.others),
            per_sec(s.fwd_in),
            per_sec(s.fwd_out),
            s.latency_quantile(0.5),
            s.latency_quantile(0.99),
            mb(s.store.bytes_read) / secs,
            mb(s.store.bytes_written) / secs,
            per_sec(s.store.reads + s.store.writes + s.store.syncs),
            per_sec(s.store.syncs),
            s.avg_batch(),
            s.cache_hit_percent(),
            s.store.keys
        );
    };
    for shard in deltas {
        row(shard.shard_id.to_string(), shard);
    }
    if let Some(total) = ShardSnapshot::total(deltas) {
        let mut total = total;
        total.cpu = None;
        row("total".into(), &total);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot(id: usize, gets: u64) -> ShardSnapshot {
        let stats = ShardStats::default();
        stats.gets.set(gets);
        stats.record_latency(Duration::from_micros(100), gets);
        stats.snapshot(
            id,
            Some(id),
            StoreStats {
                keys: 10,
                writes: 2,
                records_flushed: 8,
                ..Default::default()
            },
        )
    }

    #[test]
    fn combine_and_delta() {
        let a = snapshot(0, 100);
        let b = snapshot(1, 50);
        let total = ShardSnapshot::total(&[a.clone(), b]).unwrap();
        assert_eq!(total.gets, 150);
        assert_eq!(total.store.keys, 20);
        assert_eq!(total.latency_us.len(), 150);
        assert_eq!(total.avg_batch(), 4.0);
        let later = snapshot(0, 300);
        let delta = later.since(&a);
        assert_eq!(delta.gets, 200);
        assert_eq!(delta.latency_us.len(), 200);
    }

    #[test]
    fn table_has_a_row_per_core_and_a_total() {
        let table = format_table(
            &[snapshot(0, 1000), snapshot(1, 3000)],
            Duration::from_secs(2),
        );
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 4);
        assert!(lines[3].trim_start().starts_with("total"));
        assert!(lines[3].contains("2000"), "total ops/s: {}", lines[3]);
    }
}
