//! Redis's SLOWLOG and LATENCY monitor, per shard.
//!
//! What is timed is a connection's batch: the commands of one pipeline read
//! that ran together, from parse to every reply ready (commands are not
//! timed one by one on the hot path). A batch at or over
//! `--slowlog-log-slower-than` µs becomes one slow-log entry naming its
//! commands; one at or over `--latency-monitor-threshold` ms becomes a
//! sample of the `command` latency event.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;

use bytes::Bytes;

/// Samples each latency event keeps (Redis keeps 160).
pub const LATENCY_HISTORY_LEN: usize = 160;

/// One slow-log entry, as SLOWLOG GET shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlowlogEntry {
    /// Unique across shards, increasing within a shard.
    pub id: u64,
    /// Unix time (s) the batch finished.
    pub time: u64,
    /// Its duration, µs.
    pub duration_us: u64,
    /// The command and a summary of the batch it ran in.
    pub args: Vec<Bytes>,
    /// Client address.
    pub addr: String,
    /// Client name.
    pub name: Bytes,
}

/// One latency event's record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LatencyEvent {
    /// Event name (`command`).
    pub name: String,
    /// (Unix time s, ms) samples, oldest first.
    pub history: VecDeque<(u64, u64)>,
    /// Highest sample since start or reset, ms.
    pub max_ms: u64,
}

/// A shard's slow log and latency events.
#[derive(Debug)]
pub struct Introspection {
    /// Batches at least this slow are logged, µs; negative: never. (The
    /// three thresholds are `Cell`s: CONFIG SET changes them.)
    slower_than_us: Cell<i64>,
    /// Entries kept.
    max_len: Cell<usize>,
    /// Latency events at least this slow are sampled, ms; 0: off.
    latency_threshold_ms: Cell<u64>,
    /// This shard and the shard count, for ids unique across shards.
    shard_id: u64,
    nr_shards: u64,
    next: Cell<u64>,
    entries: RefCell<VecDeque<SlowlogEntry>>,
    events: RefCell<Vec<LatencyEvent>>,
}

impl Introspection {
    /// A shard's: thresholds from the flags.
    pub fn new(
        shard_id: usize,
        nr_shards: usize,
        slower_than_us: i64,
        max_len: usize,
        latency_threshold_ms: u64,
    ) -> Introspection {
        Introspection {
            slower_than_us: Cell::new(slower_than_us),
            max_len: Cell::new(max_len),
            latency_threshold_ms: Cell::new(latency_threshold_ms),
            shard_id: shard_id as u64,
            nr_shards: nr_shards.max(1) as u64,
            next: Cell::new(0),
            entries: RefCell::new(VecDeque::new()),
            events: RefCell::new(Vec::new()),
        }
    }

    /// Changes the thresholds (CONFIG SET slowlog-log-slower-than,
    /// slowlog-max-len, latency-monitor-threshold). As in Redis, a shorter
    /// max length trims the log at its next entry.
    pub fn set_thresholds(&self, slower_than_us: i64, max_len: usize, latency_threshold_ms: u64) {
        self.slower_than_us.set(slower_than_us);
        self.max_len.set(max_len);
        self.latency_threshold_ms.set(latency_threshold_ms);
    }

    /// True when a batch of `duration_us` is to be noted (the hot path's
    /// only cost: two compares).
    #[inline]
    pub fn is_slow(&self, duration_us: u64) -> bool {
        let slower_than_us = self.slower_than_us.get();
        let latency_threshold_ms = self.latency_threshold_ms.get();
        (slower_than_us >= 0 && duration_us >= slower_than_us as u64)
            || (latency_threshold_ms > 0
                && duration_us >= latency_threshold_ms.saturating_mul(1000))
    }

    /// Notes a slow batch; `describe` builds the entry's arguments and
    /// client (called only when it is logged).
    pub fn note(
        &self,
        duration_us: u64,
        now_s: u64,
        describe: impl FnOnce() -> (Vec<Bytes>, String, Bytes),
    ) {
        let (slower_than_us, max_len) = (self.slower_than_us.get(), self.max_len.get());
        if slower_than_us >= 0 && duration_us >= slower_than_us as u64 && max_len > 0 {
            let (args, addr, name) = describe();
            let sequence = self.next.get();
            self.next.set(sequence + 1);
            let mut entries = self.entries.borrow_mut();
            entries.push_front(SlowlogEntry {
                id: sequence * self.nr_shards + self.shard_id,
                time: now_s,
                duration_us,
                args,
                addr,
                name,
            });
            entries.truncate(max_len);
        }
        let latency_threshold_ms = self.latency_threshold_ms.get();
        if latency_threshold_ms > 0 && duration_us >= latency_threshold_ms.saturating_mul(1000) {
            self.sample("command", now_s, duration_us / 1000);
        }
    }

    fn sample(&self, event: &str, now_s: u64, ms: u64) {
        let mut events = self.events.borrow_mut();
        let index = match events.iter().position(|e| e.name == event) {
            Some(index) => index,
            None => {
                events.push(LatencyEvent {
                    name: event.to_string(),
                    ..Default::default()
                });
                events.len() - 1
            }
        };
        let record = &mut events[index];
        // One sample per second, the largest (as Redis does).
        match record.history.back_mut() {
            Some((time, worst)) if *time == now_s => *worst = (*worst).max(ms),
            _ => record.history.push_back((now_s, ms)),
        }
        if record.history.len() > LATENCY_HISTORY_LEN {
            record.history.pop_front();
        }
        record.max_ms = record.max_ms.max(ms);
    }

    /// The newest entries, newest first (`None`: all).
    pub fn entries(&self, count: Option<usize>) -> Vec<SlowlogEntry> {
        let entries = self.entries.borrow();
        entries
            .iter()
            .take(count.unwrap_or(usize::MAX))
            .cloned()
            .collect()
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.entries.borrow().len()
    }

    /// True when no entry is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops every entry.
    pub fn reset(&self) {
        self.entries.borrow_mut().clear();
    }

    /// Every latency event's record.
    pub fn events(&self) -> Vec<LatencyEvent> {
        self.events.borrow().clone()
    }

    /// Drops the named events' records (all when `names` is empty); returns
    /// how many there were.
    pub fn reset_events(&self, names: &[Bytes]) -> u64 {
        let mut events = self.events.borrow_mut();
        let before = events.len();
        events.retain(|e| !names.is_empty() && !names.iter().any(|n| n[..] == *e.name.as_bytes()));
        (before - events.len()) as u64
    }
}

/// Merges shards' latency events into one record per event name.
pub fn merge_events(per_shard: Vec<Vec<LatencyEvent>>) -> Vec<LatencyEvent> {
    let mut merged: Vec<LatencyEvent> = Vec::new();
    for event in per_shard.into_iter().flatten() {
        match merged.iter_mut().find(|m| m.name == event.name) {
            Some(into) => {
                into.max_ms = into.max_ms.max(event.max_ms);
                let mut samples: Vec<(u64, u64)> = into.history.drain(..).collect();
                samples.extend(event.history);
                samples.sort_unstable();
                // One sample per second: the worst of the shards'.
                samples.dedup_by(|later, earlier| {
                    if later.0 == earlier.0 {
                        earlier.1 = earlier.1.max(later.1);
                        true
                    } else {
                        false
                    }
                });
                let skip = samples.len().saturating_sub(LATENCY_HISTORY_LEN);
                into.history = samples.into_iter().skip(skip).collect();
            }
            None => merged.push(event),
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    fn describe() -> (Vec<Bytes>, String, Bytes) {
        (vec![Bytes::from("GET")], "127.0.0.1:1".into(), Bytes::new())
    }

    #[test]
    fn logs_slow_batches_newest_first_and_bounded() {
        let log = Introspection::new(1, 2, 1000, 2, 5);
        assert!(!log.is_slow(999));
        assert!(log.is_slow(1000));
        log.note(1500, 10, describe);
        log.note(6000, 11, describe);
        log.note(2000, 11, describe);
        let entries = log.entries(None);
        assert_eq!(entries.len(), 2, "max len");
        assert_eq!(entries[0].duration_us, 2000);
        assert_eq!(entries[0].id, 2 * 2 + 1, "ids unique across shards");
        let events = log.events();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].history, VecDeque::from(vec![(11, 6)]));
        assert_eq!(events[0].max_ms, 6);
        log.reset();
        assert!(log.is_empty());
        assert_eq!(log.reset_events(&[]), 1);
    }

    #[test]
    fn off_when_negative() {
        let log = Introspection::new(0, 1, -1, 128, 0);
        assert!(!log.is_slow(u64::MAX));
        log.note(1_000_000, 1, || panic!("not described"));
        assert!(log.is_empty());
    }

    #[test]
    fn merging_events_keeps_the_worst_per_second() {
        let a = LatencyEvent {
            name: "command".into(),
            history: VecDeque::from(vec![(1, 5), (2, 7)]),
            max_ms: 7,
        };
        let b = LatencyEvent {
            name: "command".into(),
            history: VecDeque::from(vec![(2, 9)]),
            max_ms: 9,
        };
        let merged = merge_events(vec![vec![a], vec![b]]);
        assert_eq!(merged[0].history, VecDeque::from(vec![(1, 5), (2, 9)]));
        assert_eq!(merged[0].max_ms, 9);
    }
}
