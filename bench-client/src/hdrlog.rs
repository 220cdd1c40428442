//! `--hdr`: the measured phase as an HdrHistogram interval log (the format
//! of HdrHistogram's `HistogramLogWriter`: one V2-compressed histogram per
//! interval, here one per timeline slot, values in µs), through the
//! hdrhistogram crate's serializer.

use std::io::Write;
use std::time::{Duration, SystemTime};

use hdrhistogram::serialization::V2DeflateSerializer;
use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};

use crate::timeline::Timeline;

/// Writes `timeline` as an interval log to `out`.
pub fn write(timeline: &Timeline, out: &mut impl Write) -> Result<(), String> {
    let start = SystemTime::UNIX_EPOCH + Duration::from_secs_f64(timeline.start_unix().max(0.0));
    let mut serializer = V2DeflateSerializer::new();
    let mut writer = IntervalLogWriterBuilder::new()
        .add_comment("shardcask-bench --hdr: request latencies in microseconds")
        .with_start_time(start)
        .with_base_time(start)
        .begin_log_with(out, &mut serializer)
        .map_err(|e| e.to_string())?;
    let slot = timeline.slot();
    let tag = Tag::new("latency_us");
    for index in 0..timeline.len() {
        let Some(histogram) = timeline.histogram(index) else {
            continue;
        };
        writer
            .write_histogram(histogram, slot * index as u32, slot, tag)
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use hdrhistogram::serialization::Deserializer;
    use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
    use std::time::Instant;

    #[test]
    fn the_log_reads_back_slot_by_slot() {
        let start = Instant::now();
        let mut timeline = Timeline::new(start, 1_700_000_000.0, Duration::from_secs(1));
        for second in 0..3u64 {
            for _ in 0..(10 * (second + 1)) {
                timeline.record(start + Duration::from_secs(second), 250_000);
            }
        }
        let mut log = Vec::new();
        write(&timeline, &mut log).unwrap();
        let text = String::from_utf8(log.clone()).unwrap();
        assert!(text.contains("#[StartTime: 1700000000.000"), "{text}");
        let mut counts = Vec::new();
        let mut deserializer = Deserializer::new();
        for entry in IntervalLogIterator::new(&log) {
            if let Ok(LogEntry::Interval(interval)) = entry {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(interval.encoded_histogram())
                    .unwrap();
                let histogram: hdrhistogram::Histogram<u64> =
                    deserializer.deserialize(&mut &bytes[..]).unwrap();
                assert_eq!(interval.tag().map(|t| t.as_str()), Some("latency_us"));
                counts.push((interval.start_timestamp().as_secs(), histogram.len()));
                assert!(histogram.equivalent(histogram.value_at_quantile(0.5), 250));
            }
        }
        assert_eq!(counts, vec![(0, 10), (1, 20), (2, 30)]);
    }
}
