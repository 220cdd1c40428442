//! Per-thread counters and latency histograms.
//!
//! Each client thread owns one [`ThreadStats`] (behind a `RefCell`, touched
//! once per reply batch with no await in between); nothing is shared across
//! threads until the run ends. Latencies are recorded in nanoseconds.

use hdrhistogram::Histogram;

use crate::timeline::Timeline;

/// Highest latency tracked exactly (one hour, in ns); above it values are
/// clamped.
const MAX_LATENCY_NS: u64 = 3_600_000_000_000;

/// A latency histogram in nanoseconds, 3 significant figures.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_LATENCY_NS, 3).expect("static histogram bounds are valid")
}

/// The request kinds the generator sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// SET key value.
    Set,
    /// GET key.
    Get,
    /// DEL key.
    Del,
}

impl Op {
    /// All kinds, in report order.
    pub const ALL: [Op; 3] = [Op::Set, Op::Get, Op::Del];

    /// Index into per-op arrays.
    pub fn index(self) -> usize {
        match self {
            Op::Set => 0,
            Op::Get => 1,
            Op::Del => 2,
        }
    }

    /// Command name.
    pub fn name(self) -> &'static str {
        match self {
            Op::Set => "SET",
            Op::Get => "GET",
            Op::Del => "DEL",
        }
    }
}

/// Counters of one request kind.
#[derive(Debug, Clone)]
pub struct OpStats {
    /// Replies received (error replies included).
    pub ops: u64,
    /// `-ERR` replies and replies of the wrong type.
    pub errors: u64,
    /// Value bytes moved: sent by SET, received by GET.
    pub payload_bytes: u64,
    /// Reply latency, ns.
    pub latency: Histogram<u64>,
}

impl OpStats {
    fn new() -> OpStats {
        OpStats {
            ops: 0,
            errors: 0,
            payload_bytes: 0,
            latency: new_histogram(),
        }
    }

    /// Adds `other` into `self`.
    pub fn merge(&mut self, other: &OpStats) {
        self.ops += other.ops;
        self.errors += other.errors;
        self.payload_bytes += other.payload_bytes;
        self.latency
            .add(&other.latency)
            .expect("histograms share bounds");
    }
}

/// Everything one thread counted in one phase.
#[derive(Debug, Clone)]
pub struct ThreadStats {
    /// Per request kind, indexed by [`Op::index`].
    pub per_op: [OpStats; 3],
    /// GETs that found a value.
    pub get_hits: u64,
    /// GETs answered with nil.
    pub get_misses: u64,
    /// GET values that passed `--verify`.
    pub verified: u64,
    /// GET values that failed `--verify` (or were missing when presence
    /// was guaranteed).
    pub mismatches: u64,
    /// `-ERR` replies.
    pub error_replies: u64,
    /// Replies of a type the request cannot produce (e.g. a bulk to SET).
    pub unexpected_replies: u64,
    /// Failed connection attempts.
    pub connect_failures: u64,
    /// Connections that broke (EOF, I/O error, protocol error, timeout).
    pub disconnects: u64,
    /// `-MOVED` replies followed (`--cluster`).
    pub moved: u64,
    /// Requests in flight when their connection broke: never answered.
    pub lost_requests: u64,
    /// Of those, the ones lost to `--timeout`.
    pub timed_out: u64,
    /// Bytes written to sockets.
    pub bytes_out: u64,
    /// Bytes read from sockets.
    pub bytes_in: u64,
    /// Text of the first error seen, for the report.
    pub first_error: Option<String>,
    /// Description of the first mismatch seen, for the report.
    pub first_mismatch: Option<String>,
    /// Replies since the last progress snapshot.
    pub interval_ops: u64,
    /// Errors since the last progress snapshot.
    pub interval_errors: u64,
    /// All latencies as of the last progress snapshot: a reply's latency
    /// is recorded once (in its kind's histogram), and a snapshot's is the
    /// difference (see [`ThreadStats::take_interval_latency`]).
    reported_latency: Histogram<u64>,
    /// Latencies by intended send time (`--timeline`, measured phase only).
    pub timeline: Option<Timeline>,
    /// With `--rate`: how late the client itself handed each request to
    /// its socket (now minus intended send time), ns. Large values mean the
    /// client, not the server, made the latency.
    pub send_lag: Histogram<u64>,
}

impl Default for ThreadStats {
    fn default() -> Self {
        ThreadStats::new()
    }
}

impl ThreadStats {
    /// Zeroed counters.
    pub fn new() -> ThreadStats {
        ThreadStats {
            per_op: [OpStats::new(), OpStats::new(), OpStats::new()],
            get_hits: 0,
            get_misses: 0,
            verified: 0,
            mismatches: 0,
            error_replies: 0,
            unexpected_replies: 0,
            connect_failures: 0,
            disconnects: 0,
            moved: 0,
            lost_requests: 0,
            timed_out: 0,
            bytes_out: 0,
            bytes_in: 0,
            first_error: None,
            first_mismatch: None,
            interval_ops: 0,
            interval_errors: 0,
            reported_latency: new_histogram(),
            timeline: None,
            send_lag: new_histogram(),
        }
    }

    /// Records one reply of kind `op`.
    #[inline]
    pub fn record(&mut self, op: Op, latency_ns: u64, payload_bytes: usize, error: bool) {
        let stats = &mut self.per_op[op.index()];
        stats.ops += 1;
        stats.payload_bytes += payload_bytes as u64;
        stats.latency.saturating_record(latency_ns.max(1));
        if error {
            stats.errors += 1;
            self.interval_errors += 1;
        }
        self.interval_ops += 1;
    }

    /// Latencies recorded since the last call (the progress line's).
    pub fn take_interval_latency(&mut self) -> Histogram<u64> {
        let all = self.all_latency();
        let mut interval = all.clone();
        interval
            .subtract(&self.reported_latency)
            .expect("counts only grow between snapshots");
        self.reported_latency = all;
        interval
    }

    /// Keeps the first error text.
    pub fn note_error(&mut self, text: impl FnOnce() -> String) {
        if self.first_error.is_none() {
            self.first_error = Some(text());
        }
    }

    /// Counts a mismatch and keeps the first description.
    pub fn note_mismatch(&mut self, text: impl FnOnce() -> String) {
        self.mismatches += 1;
        if self.first_mismatch.is_none() {
            self.first_mismatch = Some(text());
        }
    }

    /// Counts requests lost with a broken connection.
    pub fn lose_requests(&mut self, nr_requests: usize) {
        self.lost_requests += nr_requests as u64;
        self.interval_errors += nr_requests as u64;
    }

    /// All replies.
    pub fn total_ops(&self) -> u64 {
        self.per_op.iter().map(|op| op.ops).sum()
    }

    /// Every kind of error: bad replies, lost requests and connection
    /// failures.
    pub fn total_errors(&self) -> u64 {
        self.error_replies
            + self.unexpected_replies
            + self.lost_requests
            + self.connect_failures
            + self.disconnects
    }

    /// Latencies of all request kinds together.
    pub fn all_latency(&self) -> Histogram<u64> {
        let mut all = new_histogram();
        for op in &self.per_op {
            all.add(&op.latency).expect("histograms share bounds");
        }
        all
    }

    /// Value bytes moved by all kinds.
    pub fn payload_bytes(&self) -> u64 {
        self.per_op.iter().map(|op| op.payload_bytes).sum()
    }

    /// Adds `other` into `self` (interval fields excluded).
    pub fn merge(&mut self, other: &ThreadStats) {
        for (mine, theirs) in self.per_op.iter_mut().zip(&other.per_op) {
            mine.merge(theirs);
        }
        self.get_hits += other.get_hits;
        self.get_misses += other.get_misses;
        self.verified += other.verified;
        self.mismatches += other.mismatches;
        self.error_replies += other.error_replies;
        self.unexpected_replies += other.unexpected_replies;
        self.connect_failures += other.connect_failures;
        self.disconnects += other.disconnects;
        self.moved += other.moved;
        self.lost_requests += other.lost_requests;
        self.timed_out += other.timed_out;
        self.bytes_out += other.bytes_out;
        self.bytes_in += other.bytes_in;
        if self.first_error.is_none() {
            self.first_error.clone_from(&other.first_error);
        }
        if self.first_mismatch.is_none() {
            self.first_mismatch.clone_from(&other.first_mismatch);
        }
        self.send_lag
            .add(&other.send_lag)
            .expect("histograms share bounds");
        match (&mut self.timeline, &other.timeline) {
            (Some(mine), Some(theirs)) => mine.merge(theirs),
            (None, Some(theirs)) => self.timeline = Some(theirs.clone()),
            _ => {}
        }
    }
}

/// Latency summary in microseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LatencySummary {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Largest.
    pub max: f64,
    /// Mean.
    pub mean: f64,
}

impl LatencySummary {
    /// Summary of a nanosecond histogram (all zero when empty).
    pub fn of(latency: &Histogram<u64>) -> LatencySummary {
        if latency.is_empty() {
            return LatencySummary {
                p50: 0.0,
                p90: 0.0,
                p99: 0.0,
                p999: 0.0,
                max: 0.0,
                mean: 0.0,
            };
        }
        let us = |ns: u64| ns as f64 / 1000.0;
        LatencySummary {
            p50: us(latency.value_at_quantile(0.50)),
            p90: us(latency.value_at_quantile(0.90)),
            p99: us(latency.value_at_quantile(0.99)),
            p999: us(latency.value_at_quantile(0.999)),
            max: us(latency.max()),
            mean: latency.mean() / 1000.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_merge_and_summarise() {
        let mut a = ThreadStats::new();
        for i in 1..=100u64 {
            a.record(Op::Get, i * 1000, 10, false);
        }
        a.record(Op::Set, 5_000, 100, true);
        a.error_replies += 1;
        let mut b = ThreadStats::new();
        b.record(Op::Del, 1_000_000, 0, false);
        b.lose_requests(3);
        a.merge(&b);
        assert_eq!(a.total_ops(), 102);
        assert_eq!(a.per_op[Op::Get.index()].ops, 100);
        assert_eq!(a.payload_bytes(), 1100);
        assert_eq!(a.total_errors(), 4);
        let summary = LatencySummary::of(&a.all_latency());
        assert!((49.0..=52.0).contains(&summary.p50), "{summary:?}");
        assert!((999.0..=1001.0).contains(&summary.max), "{summary:?}");
        assert_eq!(LatencySummary::of(&new_histogram()).p99, 0.0);
    }
}
