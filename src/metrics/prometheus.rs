//! The Prometheus text exposition (format 0.0.4) of a set of shard
//! snapshots, through `prometheus-client`'s encoder: every declared metric
//! as `shardcask_<name>` with a `core` label, plus latency histograms and
//! per-command series.

use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use super::commands::{CommandFigures, command_name};
use super::snapshot::ShardSnapshot;
use super::table::{Kind, METRICS};

/// The `Content-Type` of the exposition.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// One figure of a command's counters (calls, failed calls).
type CommandFigure = fn(&CommandFigures) -> u64;

/// Prefix of every series.
pub const PREFIX: &str = "shardcask";

/// Upper bounds of the latency histogram buckets, in seconds.
pub const LATENCY_BUCKETS: &[f64] = &[
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
    2.5, 5.0, 10.0,
];

/// The series names (without `_bucket`/`_sum`/`_count` suffixes) that
/// [`encode`] writes, for dashboards and tests to check against.
pub fn series_names() -> Vec<String> {
    let mut names: Vec<String> = METRICS
        .iter()
        .map(|def| match def.kind {
            Kind::Counter => format!("{PREFIX}_{}_total", def.name),
            Kind::Gauge => format!("{PREFIX}_{}", def.name),
        })
        .collect();
    for extra in [
        "command_latency_seconds",
        "command_calls_total",
        "command_failed_calls_total",
        "command_rejected_calls_total",
        "command_duration_seconds",
        "error_replies_total",
        "rejected_requests_total",
    ] {
        names.push(format!("{PREFIX}_{extra}"));
    }
    names
}

/// Encodes `snapshots` (one per shard) as Prometheus text.
pub fn encode(snapshots: Vec<ShardSnapshot>) -> String {
    let mut registry = Registry::with_prefix(PREFIX);
    registry.register_collector(Box::new(Snapshots(snapshots)));
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, &registry);
    out
}

#[derive(Debug)]
struct Snapshots(Vec<ShardSnapshot>);

type Labels = Vec<(&'static str, String)>;

fn core_label(shard: &ShardSnapshot) -> Labels {
    vec![("core", shard.shard_id.to_string())]
}

/// Buckets (upper bound in seconds, count in that bucket alone) of a µs
/// histogram, and the sum in seconds.
fn buckets(histogram: &hdrhistogram::Histogram<u64>) -> (Vec<(f64, u64)>, f64) {
    let mut out = Vec::with_capacity(LATENCY_BUCKETS.len());
    let mut below = 0u64;
    for &bound in LATENCY_BUCKETS {
        let upto_us = (bound * 1e6) as u64;
        let cumulative = histogram.count_between(0, upto_us);
        out.push((bound, cumulative.saturating_sub(below)));
        below = cumulative;
    }
    let sum_us: f64 = histogram
        .iter_recorded()
        .map(|v| v.value_iterated_to() as f64 * v.count_at_value() as f64)
        .sum();
    (out, sum_us / 1e6)
}

impl prometheus_client::collector::Collector for Snapshots {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        for def in METRICS {
            let help = format!("{} ({}).", def.help, def.unit);
            let (metric_type, name) = match def.kind {
                Kind::Counter => (MetricType::Counter, def.name),
                Kind::Gauge => (MetricType::Gauge, def.name),
            };
            let mut family = encoder.encode_descriptor(name, &help, None, metric_type)?;
            for shard in &self.0 {
                let labels = core_label(shard);
                let mut metric = family.encode_family(&labels)?;
                let value = shard.get(def.id);
                match def.kind {
                    Kind::Counter => metric.encode_counter::<NoLabelSet, _, u64>(&value, None)?,
                    Kind::Gauge => metric.encode_gauge(&value)?,
                }
            }
        }

        let mut family = encoder.encode_descriptor(
            "command_latency_seconds",
            "Latency of the commands arriving on this core's connections, parse to reply ready.",
            None,
            MetricType::Histogram,
        )?;
        for shard in &self.0 {
            let labels = core_label(shard);
            let (buckets, sum) = buckets(&shard.latency_us);
            family
                .encode_family(&labels)?
                .encode_histogram::<NoLabelSet>(sum, shard.latency_us.len(), &buckets, None)?;
        }

        let per_command = |shard: &ShardSnapshot, index: usize| -> Labels {
            vec![
                ("core", shard.shard_id.to_string()),
                ("cmd", command_name(index).to_string()),
            ]
        };
        // One counter family per figure, a series per command called.
        let counters: [(&str, &str, CommandFigure); 3] = [
            (
                "command_calls",
                "Calls by command, counted on the core whose connection received them.",
                |figures| figures.calls,
            ),
            (
                "command_failed_calls",
                "Calls that replied with an error, by command.",
                |figures| figures.failed,
            ),
            (
                "command_rejected_calls",
                "Requests refused before they ran (arity, cluster redirect, OOM), by command.",
                |figures| figures.rejected,
            ),
        ];
        for (name, help, figure) in counters {
            let mut family = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
            for shard in &self.0 {
                for (index, figures) in shard.commands.commands.iter().enumerate() {
                    if figures.calls > 0 || figures.rejected > 0 {
                        family
                            .encode_family(&per_command(shard, index))?
                            .encode_counter::<NoLabelSet, _, u64>(&figure(figures), None)?;
                    }
                }
            }
        }
        let mut family = encoder.encode_descriptor(
            "command_duration_seconds",
            "Latency by command, parse to reply ready.",
            None,
            MetricType::Histogram,
        )?;
        for shard in &self.0 {
            for (index, figures) in shard.commands.commands.iter().enumerate() {
                if let Some(histogram) = figures.latency_us.as_ref().filter(|h| !h.is_empty()) {
                    let (buckets, sum) = buckets(histogram);
                    family
                        .encode_family(&per_command(shard, index))?
                        .encode_histogram::<NoLabelSet>(sum, histogram.len(), &buckets, None)?;
                }
            }
        }
        let mut family = encoder.encode_descriptor(
            "error_replies",
            "Error replies by their first word (Redis's errorstats).",
            None,
            MetricType::Counter,
        )?;
        for shard in &self.0 {
            for (prefix, count) in &shard.commands.errors {
                let labels: Labels = vec![
                    ("core", shard.shard_id.to_string()),
                    ("error", prefix.clone()),
                ];
                family
                    .encode_family(&labels)?
                    .encode_counter::<NoLabelSet, _, u64>(count, None)?;
            }
        }
        let mut family = encoder.encode_descriptor(
            "rejected_requests",
            "Requests refused before they ran: unknown commands and every command's rejected calls.",
            None,
            MetricType::Counter,
        )?;
        for shard in &self.0 {
            family
                .encode_family(&core_label(shard))?
                .encode_counter::<NoLabelSet, _, u64>(&shard.commands.rejected, None)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::snapshot::tests::snapshot;

    #[test]
    fn every_declared_metric_is_exposed_per_core() {
        let text = encode(vec![snapshot(0, 100), snapshot(1, 50)]);
        for name in series_names() {
            assert!(
                text.contains(&format!("# TYPE {name}")),
                "{name} missing:\n{text}"
            );
        }
        assert!(
            text.contains("shardcask_cmd_get_total{core=\"0\"} 100\n"),
            "{text}"
        );
        assert!(text.contains("shardcask_cmd_get_total{core=\"1\"} 50\n"));
        assert!(text.contains("shardcask_keys{core=\"1\"} 10\n"));
        // 100 commands at 100 µs: all in the 0.0001 s bucket and above.
        assert!(
            text.contains(
                "shardcask_command_latency_seconds_bucket{core=\"0\",le=\"0.0001\"} 100\n"
            )
        );
        assert!(
            text.contains("shardcask_command_latency_seconds_bucket{core=\"0\",le=\"5e-05\"} 0\n"),
            "{text}"
        );
        assert!(text.contains("shardcask_command_latency_seconds_count{core=\"0\"} 100\n"));
    }
}
