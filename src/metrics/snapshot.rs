//! `Send` snapshots of a shard's counters.
//!
//! A [`ShardSnapshot`] is the copy of a shard's [`ShardStats`] that travels
//! over the mesh to whoever prints the table, answers INFO or serves
//! `/metrics`; its values are read through the metric list
//! ([`super::METRICS`]), so adding a metric is one line there.

use hdrhistogram::Histogram;

use super::commands::CommandSnapshot;
use super::shard::ShardStats;
use super::table::{Combine, Kind, METRICS, MetricId, NR_METRICS};
use crate::storage::StoreStats;

impl ShardStats {
    /// A `Send` copy of the counters, with the store's.
    pub fn snapshot(
        &self,
        shard_id: usize,
        cpu: Option<usize>,
        store: &StoreStats,
    ) -> ShardSnapshot {
        ShardSnapshot {
            shard_id,
            cpu,
            values: METRICS.iter().map(|def| (def.read)(self, store)).collect(),
            latency_us: self.latency_us.borrow_mut().histogram().clone(),
            commands: self.commands.snapshot(),
        }
    }
}

/// A point-in-time copy of one shard's metrics (or the sum of several).
#[derive(Clone, Debug)]
pub struct ShardSnapshot {
    /// The shard (meaningless in a combined total).
    pub shard_id: usize,
    /// The CPU it is pinned to, if any.
    pub cpu: Option<usize>,
    /// Every declared metric's value, by [`MetricId`].
    pub values: Vec<u64>,
    /// See [`ShardStats::latency_us`].
    pub latency_us: Histogram<u64>,
    /// See [`ShardStats::commands`].
    pub commands: CommandSnapshot,
}

impl ShardSnapshot {
    /// The value of metric `id`.
    pub fn get(&self, id: MetricId) -> u64 {
        self.values.get(id as usize).copied().unwrap_or(0)
    }

    /// Commands executed (as owner).
    pub fn ops(&self) -> u64 {
        self.get(MetricId::CmdGet) + self.get(MetricId::CmdSet) + self.get(MetricId::CmdOther)
    }

    /// Adds `other` into `self` (for the total row): counters and most
    /// gauges add up, worst-case gauges take the larger.
    pub fn combine(&mut self, other: &ShardSnapshot) {
        self.values.resize(NR_METRICS, 0);
        for (def, (mine, theirs)) in METRICS
            .iter()
            .zip(self.values.iter_mut().zip(&other.values))
        {
            *mine = match def.combine {
                Combine::Sum => mine.wrapping_add(*theirs),
                Combine::Max => (*mine).max(*theirs),
            };
        }
        let _ = self.latency_us.add(&other.latency_us);
        self.commands.combine(&other.commands);
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

    /// What happened between `earlier` and `self`: counters subtracted and
    /// the histogram of just that interval; gauges keep their current value.
    pub fn since(&self, earlier: &ShardSnapshot) -> ShardSnapshot {
        let mut delta = self.clone();
        for (def, (value, before)) in METRICS
            .iter()
            .zip(delta.values.iter_mut().zip(&earlier.values))
        {
            if def.kind == Kind::Counter {
                *value -= (*before).min(*value);
            }
        }
        if delta.latency_us.subtract(&earlier.latency_us).is_err() {
            delta.latency_us.reset();
        }
        delta
    }

    /// Average records per log write (the group-commit batch size).
    pub fn avg_batch(&self) -> f64 {
        let writes = self.get(MetricId::LogWrites);
        if writes == 0 {
            0.0
        } else {
            self.get(MetricId::RecordsFlushed) as f64 / writes as f64
        }
    }

    /// Share of reads served by the value cache, in percent (0 without reads).
    pub fn cache_hit_percent(&self) -> f64 {
        let hits = self.get(MetricId::CacheHits);
        let lookups = hits + self.get(MetricId::CacheMisses);
        if lookups == 0 {
            0.0
        } else {
            hits as f64 * 100.0 / lookups as f64
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

#[cfg(test)]
pub(crate) mod tests {
    use std::time::Duration;

    use super::*;

    /// A shard with `gets` GETs, 10 keys and a batch of 4 records per write.
    pub(crate) fn snapshot(id: usize, gets: u64) -> ShardSnapshot {
        let stats = ShardStats::default();
        stats.gets.set(gets);
        stats.connections.set(3);
        stats.record_latency(Duration::from_micros(100), gets);
        stats.snapshot(
            id,
            Some(id),
            &StoreStats {
                keys: 10,
                writes: 2,
                records_flushed: 8,
                max_file_frag_percent: 10 * id as u64,
                ..Default::default()
            },
        )
    }

    #[test]
    fn reset_zeroes_every_counter_and_keeps_the_gauges() {
        let stats = ShardStats::default();
        for cell in [
            &stats.gets,
            &stats.sets,
            &stats.others,
            &stats.fwd_in,
            &stats.fwd_out,
            &stats.connections,
            &stats.connections_total,
            &stats.connections_rejected,
            &stats.net_in,
            &stats.net_out,
            &stats.protocol_errors,
        ] {
            cell.set(7);
        }
        stats.record_latency(Duration::from_micros(100), 5);
        stats.commands.record(0, 3, 100);
        stats
            .commands
            .record_error(crate::metrics::commands::Counted::Call(0), b"ERR boom");
        stats.commands.record_error(
            crate::metrics::commands::Counted::Unknown,
            b"ERR unknown command",
        );
        let store = StoreStats::default();
        let before = stats.snapshot(0, None, &store);
        assert_eq!(before.get(MetricId::CmdGet), 7);
        stats.reset_counters();
        let after = stats.snapshot(0, None, &store);
        for def in METRICS {
            if def.kind == Kind::Counter {
                assert_eq!(after.get(def.id), 0, "{} survived the reset", def.name);
            }
        }
        assert_eq!(after.get(MetricId::ConnectedClients), 7, "a gauge stays");
        assert_eq!(after.latency_us.len(), 0);
        assert_eq!(after.commands.total_errors(), 0);
        assert!(after.commands.errors.is_empty());
        assert!(
            after
                .commands
                .commands
                .iter()
                .all(|c| c.calls == 0 && c.failed == 0 && c.usec == 0 && c.latency_us.is_none())
        );
    }

    #[test]
    fn combine_and_delta() {
        let a = snapshot(0, 100);
        let b = snapshot(1, 50);
        let total = ShardSnapshot::total(&[a.clone(), b]).unwrap();
        assert_eq!(total.get(MetricId::CmdGet), 150);
        assert_eq!(total.get(MetricId::Keys), 20);
        assert_eq!(
            total.get(MetricId::MaxFileFragmentation),
            10,
            "max, not sum"
        );
        assert_eq!(total.latency_us.len(), 150);
        assert_eq!(total.avg_batch(), 4.0);
        let later = snapshot(0, 300);
        let delta = later.since(&a);
        assert_eq!(delta.get(MetricId::CmdGet), 200);
        assert_eq!(delta.latency_us.len(), 200);
        // Gauges are levels: the interval shows the current value.
        assert_eq!(delta.get(MetricId::Keys), 10);
        assert_eq!(delta.get(MetricId::ConnectedClients), 3);
    }
}
