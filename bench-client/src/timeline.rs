//! `--timeline`: latencies grouped by when each request was meant to be
//! sent, in slots of fixed length.
//!
//! A script that switches something on and off during one long run (a merge,
//! say) can then pool the slots of each condition and compare them. Both
//! conditions share the connections, the warm caches and the slow drift of a
//! noisy machine, which separate runs do not.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

/// Highest latency kept exactly per slot (one hour, in µs).
const MAX_LATENCY_US: u64 = 3_600_000_000;

/// Latency histograms (µs, 2 significant figures: 1% resolution keeps a
/// slot at ~26 KB) per slot of the measured phase.
#[derive(Debug, Clone)]
pub struct Timeline {
    /// Start of slot 0.
    start: Instant,
    /// The same moment as seconds since the Unix epoch.
    start_unix: f64,
    /// Length of a slot.
    slot: Duration,
    /// One histogram per slot, grown on demand.
    slots: Vec<Histogram<u64>>,
}

impl Timeline {
    /// An empty timeline whose slot 0 starts at `start` (`start_unix` on the
    /// wall clock).
    pub fn new(start: Instant, start_unix: f64, slot: Duration) -> Timeline {
        assert!(!slot.is_zero(), "a timeline slot has a length");
        Timeline {
            start,
            start_unix,
            slot,
            slots: Vec::new(),
        }
    }

    /// Records the latency of a request meant to be sent at `intended`.
    pub fn record(&mut self, intended: Instant, latency_ns: u64) {
        let since = intended.saturating_duration_since(self.start);
        let index = (since.as_nanos() / self.slot.as_nanos()) as usize;
        if index >= self.slots.len() {
            self.slots.resize_with(index + 1, new_slot_histogram);
        }
        self.slots[index].saturating_record((latency_ns / 1000).max(1));
    }

    /// Adds another thread's timeline, slot by slot (threads start their
    /// phase within microseconds of each other; the earlier start is kept).
    pub fn merge(&mut self, other: &Timeline) {
        if other.slots.len() > self.slots.len() {
            self.slots
                .resize_with(other.slots.len(), new_slot_histogram);
        }
        for (mine, theirs) in self.slots.iter_mut().zip(&other.slots) {
            mine.add(theirs).expect("slot histograms share bounds");
        }
        if other.start < self.start {
            self.start = other.start;
            self.start_unix = other.start_unix;
        }
    }

    /// Number of slots, up to the last one a request was recorded in.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// The length of a slot.
    pub fn slot(&self) -> Duration {
        self.slot
    }

    /// Wall-clock start of slot 0, seconds since the Unix epoch.
    pub fn start_unix(&self) -> f64 {
        self.start_unix
    }

    /// The latencies (µs) of slot `index`.
    pub fn histogram(&self, index: usize) -> Option<&Histogram<u64>> {
        self.slots.get(index)
    }

    /// Requests recorded in slot `index`.
    pub fn count(&self, index: usize) -> u64 {
        self.slots.get(index).map_or(0, Histogram::len)
    }

    /// JSON: `{"start_unix": s, "slot_s": s, "slots": [[[µs, count], ...], ...]}`,
    /// each slot's non-empty buckets at their highest equivalent value.
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(64 + self.slots.len() * 256);
        let _ = write!(
            out,
            "{{\"start_unix\":{:.6},\"slot_s\":{},\"slots\":[",
            self.start_unix,
            self.slot.as_secs_f64()
        );
        for (i, slot) in self.slots.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push('[');
            for (j, bucket) in slot.iter_recorded().enumerate() {
                if j > 0 {
                    out.push(',');
                }
                let _ = write!(
                    out,
                    "[{},{}]",
                    slot.highest_equivalent(bucket.value_iterated_to()),
                    bucket.count_at_value()
                );
            }
            out.push(']');
        }
        out.push_str("]}");
        out
    }
}

fn new_slot_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_LATENCY_US, 2).expect("static histogram bounds are valid")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_land_in_the_slot_of_their_intended_send() {
        let start = Instant::now();
        let slot = Duration::from_millis(100);
        let mut a = Timeline::new(start, 1000.0, slot);
        a.record(start, 5_000);
        a.record(start + Duration::from_millis(99), 7_000);
        a.record(start + Duration::from_millis(250), 1_000_000);
        assert_eq!(a.len(), 3);
        assert_eq!((a.count(0), a.count(1), a.count(2)), (2, 0, 1));

        let mut b = Timeline::new(start + Duration::from_micros(3), 1000.000003, slot);
        b.record(start + Duration::from_millis(420), 2_000);
        a.merge(&b);
        assert_eq!(a.len(), 5);
        assert_eq!(a.count(4), 1);

        let json = a.to_json();
        assert!(
            json.starts_with("{\"start_unix\":1000.000000,\"slot_s\":0.1,"),
            "{json}"
        );
        // Slot 0: 5 µs and 7 µs; slot 1 empty; slot 2: 1 ms (to 1%).
        assert!(json.contains("\"slots\":[[[5,1],[7,1]],[],[[10"), "{json}");
        assert!(json.ends_with(",[[2,1]]]}"), "{json}");
    }
}
