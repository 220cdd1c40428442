//! A latency histogram cheap to record into on the request path: small
//! values (most requests' µs) bump a counter in a plain array, folded into
//! the HdrHistogram when it is read. Recording the same values in another
//! order gives the same histogram, so readers see exactly what recording
//! each value directly would have given.

use hdrhistogram::Histogram;

/// Values below this go to the array first (µs: requests served from
/// memory take a few, well below it).
const SMALL: usize = 512;

/// An HdrHistogram with an array of pending counts for small values.
#[derive(Debug)]
pub struct LatencyHistogram {
    histogram: Histogram<u64>,
    /// Count of each small value not yet folded in.
    pending: Box<[u64; SMALL]>,
    /// Whether any count is pending.
    dirty: bool,
}

impl LatencyHistogram {
    /// An empty histogram around `histogram` (its bounds and precision).
    pub fn new(histogram: Histogram<u64>) -> LatencyHistogram {
        LatencyHistogram {
            histogram,
            pending: Box::new([0; SMALL]),
            dirty: false,
        }
    }

    /// Records `count` occurrences of `value` (within the histogram's
    /// bounds; the callers clamp).
    #[inline]
    pub fn record_n(&mut self, value: u64, count: u64) {
        match self.pending.get_mut(value as usize) {
            Some(pending) => {
                *pending += count;
                self.dirty = true;
            }
            None => {
                let _ = self.histogram.record_n(value, count);
            }
        }
    }

    /// The histogram, with every pending count folded in.
    pub fn histogram(&mut self) -> &Histogram<u64> {
        if self.dirty {
            for (value, count) in self.pending.iter_mut().enumerate() {
                if *count > 0 {
                    let _ = self.histogram.record_n(value as u64, *count);
                    *count = 0;
                }
            }
            self.dirty = false;
        }
        &self.histogram
    }

    /// Forgets every value.
    pub fn reset(&mut self) {
        self.histogram.reset();
        self.pending.fill(0);
        self.dirty = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_direct_recording_gives() {
        let new = || Histogram::<u64>::new_with_bounds(1, 60_000_000, 2).unwrap();
        let mut direct = new();
        let mut buffered = LatencyHistogram::new(new());
        for (i, value) in [1u64, 3, 3, 511, 512, 513, 90_000, 7, 1].iter().enumerate() {
            direct.record_n(*value, i as u64 + 1).unwrap();
            buffered.record_n(*value, i as u64 + 1);
        }
        assert_eq!(buffered.histogram(), &direct);
        assert_eq!(buffered.histogram().len(), direct.len());
        assert_eq!(buffered.histogram().max(), direct.max());
        assert_eq!(
            buffered.histogram().value_at_quantile(0.5),
            direct.value_at_quantile(0.5)
        );
        buffered.record_n(2, 5);
        direct.record_n(2, 5).unwrap();
        assert_eq!(buffered.histogram(), &direct);
        buffered.reset();
        assert!(buffered.histogram().is_empty());
    }
}
