//! The live counters of one shard.
//!
//! Each shard updates its own [`ShardStats`] (plain `Cell`s, no atomics: one
//! core owns them); [`super::snapshot`] copies them into a `Send` snapshot.

use std::cell::{Cell, RefCell};
use std::time::Duration;

use hdrhistogram::Histogram;

use super::commands::CommandStats;
use super::histogram::LatencyHistogram;

/// Highest latency the histograms track, in microseconds (60 s).
pub const MAX_LATENCY_US: u64 = 60_000_000;

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
    pub latency_us: RefCell<LatencyHistogram>,
    /// Calls, errors and latency by command, for commands arriving on this
    /// shard's connections.
    pub commands: CommandStats,
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
            latency_us: RefCell::new(LatencyHistogram::new(new_histogram())),
            commands: CommandStats::default(),
        }
    }
}

/// Adds `n` to a counter.
pub fn bump(counter: &Cell<u64>, n: u64) {
    counter.set(counter.get().wrapping_add(n));
}

/// The latency to record for `latency`, in µs within the histograms' range.
pub fn latency_us(latency: Duration) -> u64 {
    (latency.as_micros() as u64).clamp(1, MAX_LATENCY_US)
}

impl ShardStats {
    /// Records `count` commands that each took `latency`.
    pub fn record_latency(&self, latency: Duration, count: u64) {
        self.latency_us
            .borrow_mut()
            .record_n(latency_us(latency), count);
    }

    /// Zeroes every counter (not the gauges: open connections), the
    /// latency histogram and the per-command figures: CONFIG RESETSTAT, as
    /// Redis's `resetServerStats` does for its `stat_` counters.
    pub fn reset_counters(&self) {
        for counter in [
            &self.gets,
            &self.sets,
            &self.others,
            &self.fwd_in,
            &self.fwd_out,
            &self.connections_total,
            &self.connections_rejected,
            &self.net_in,
            &self.net_out,
            &self.protocol_errors,
        ] {
            counter.set(0);
        }
        self.latency_us.borrow_mut().reset();
        self.commands.reset();
    }
}
