//! Views generated from the metric list: the periodic per-core table and
//! the INFO sections (`Stats`, `Persistence`, `Cores`, `Commandstats`,
//! `Errorstats`, `Latencystats`).

use std::fmt::Write as _;
use std::time::Duration;

use super::commands::command_name;
use super::snapshot::ShardSnapshot;
use super::table::{Kind, METRICS, MetricId, Section};

/// What one column of the periodic table shows.
#[derive(Debug, Clone, Copy)]
enum Figure {
    /// A declared metric: per second for a counter (MB/s for bytes), as is
    /// for a gauge.
    Metric(MetricId),
    /// Commands executed per second (get + set + other).
    Ops,
    /// Latency quantile, µs.
    Latency(f64),
    /// Disk I/Os per second (reads, writes and fdatasyncs).
    Iops,
    /// Records per log write.
    Batch,
    /// Cache hit rate, %.
    HitPercent,
}

/// The table's columns: header and figure.
const COLUMNS: &[(&str, Figure)] = &[
    ("ops/s", Figure::Ops),
    ("get/s", Figure::Metric(MetricId::CmdGet)),
    ("set/s", Figure::Metric(MetricId::CmdSet)),
    ("other/s", Figure::Metric(MetricId::CmdOther)),
    ("fwd_in/s", Figure::Metric(MetricId::ForwardedIn)),
    ("fwd_out/s", Figure::Metric(MetricId::ForwardedOut)),
    ("p50us", Figure::Latency(0.5)),
    ("p99us", Figure::Latency(0.99)),
    ("readMB/s", Figure::Metric(MetricId::DiskReadBytes)),
    ("writeMB/s", Figure::Metric(MetricId::DiskWrittenBytes)),
    ("iops", Figure::Iops),
    ("sync/s", Figure::Metric(MetricId::LogSyncs)),
    ("batch", Figure::Batch),
    ("hit%", Figure::HitPercent),
    ("conns", Figure::Metric(MetricId::ConnectedClients)),
    ("keys", Figure::Metric(MetricId::Keys)),
];

fn figure_text(figure: Figure, s: &ShardSnapshot, secs: f64) -> String {
    let per_sec = |n: u64| format!("{}", (n as f64 / secs).round() as u64);
    match figure {
        Figure::Metric(id) => {
            let def = id.def();
            let value = s.get(id);
            match (def.kind, def.unit) {
                (Kind::Counter, "bytes") => {
                    format!("{:.1}", value as f64 / (1024.0 * 1024.0) / secs)
                }
                (Kind::Counter, _) => per_sec(value),
                (Kind::Gauge, _) => value.to_string(),
            }
        }
        Figure::Ops => per_sec(s.ops()),
        Figure::Latency(q) => s.latency_quantile(q).to_string(),
        Figure::Iops => per_sec(
            s.get(MetricId::DiskReads) + s.get(MetricId::LogWrites) + s.get(MetricId::LogSyncs),
        ),
        Figure::Batch => format!("{:.1}", s.avg_batch()),
        Figure::HitPercent => format!("{:.1}", s.cache_hit_percent()),
    }
}

/// Formats the per-core table for one interval: one row per shard and a
/// total row. `deltas` are what happened during `interval` (see
/// [`ShardSnapshot::since`]: gauges are current levels).
pub fn format_table(deltas: &[ShardSnapshot], interval: Duration) -> String {
    let secs = interval.as_secs_f64().max(1e-9);
    let width = |header: &str| header.len().max(7);
    let mut out = format!("{:>5} {:>4}", "core", "cpu");
    for (header, _) in COLUMNS {
        let _ = write!(out, " {header:>w$}", w = width(header));
    }
    out.push('\n');
    let mut row = |label: String, s: &ShardSnapshot| {
        let cpu = s.cpu.map_or("-".to_string(), |c| c.to_string());
        let _ = write!(out, "{label:>5} {cpu:>4}");
        for (header, figure) in COLUMNS {
            let _ = write!(
                out,
                " {:>w$}",
                figure_text(*figure, s, secs),
                w = width(header)
            );
        }
        out.push('\n');
    };
    for shard in deltas {
        row(shard.shard_id.to_string(), shard);
    }
    if let Some(mut total) = ShardSnapshot::total(deltas) {
        total.cpu = None;
        row("total".into(), &total);
    }
    out
}

/// The `name:value` lines of the metrics INFO shows in `section`, from the
/// server-wide `total`.
pub fn info_section_lines(section: Section, total: &ShardSnapshot, out: &mut String) {
    for def in METRICS {
        if let Some((place, name)) = def.info
            && place == section
        {
            let _ = write!(out, "{name}:{}\r\n", total.get(def.id));
        }
    }
}

/// Derived per-core figures INFO adds after the declared ones (levels or
/// ratios, never counters).
const DERIVED: &[&str] = &["cpu", "p50_us", "p99_us", "avg_batch", "cache_hit_rate"];

/// Plain INFO lines (outside `# Cores`) that are levels, not counters.
const PLAIN_LEVELS: &[&str] = &["latency_p50_us", "latency_p99_us", "process_cpu_percent"];

/// The `# Cores` section: a `gauges:` line naming the fields that are
/// levels (not counters, so not to be subtracted or shown as rates): the
/// per-core ones and the plain INFO lines; then one line per core with
/// every declared metric, `ops`, and the derived figures.
pub fn info_cores(snapshots: &[ShardSnapshot], out: &mut String) {
    out.push_str("# Cores\r\n");
    let gauges: Vec<&str> = METRICS
        .iter()
        .filter(|def| def.kind == Kind::Gauge)
        .flat_map(|def| std::iter::once(def.name).chain(def.info.map(|(_, name)| name)))
        .chain(DERIVED.iter().copied())
        .chain(PLAIN_LEVELS.iter().copied())
        .collect();
    let _ = write!(out, "gauges:{}\r\n", gauges.join(","));
    for s in snapshots {
        let _ = write!(out, "core{}:ops={}", s.shard_id, s.ops());
        for def in METRICS {
            let _ = write!(out, ",{}={}", def.name, s.get(def.id));
        }
        let _ = write!(
            out,
            ",cpu={},p50_us={},p99_us={},avg_batch={:.2},cache_hit_rate={:.4}\r\n",
            s.cpu.map_or(-1, |c| c as i64),
            s.latency_quantile(0.5),
            s.latency_quantile(0.99),
            s.avg_batch(),
            s.cache_hit_percent() / 100.0,
        );
    }
    out.push_str("\r\n");
}

/// `# Commandstats` in Redis's format: `cmdstat_<name>:calls=..,usec=..,
/// usec_per_call=..,rejected_calls=..,failed_calls=..` for every command
/// called or refused at least once. Time is from parse to reply ready (queueing and
/// the group commit's wait included), as the latency histograms measure.
pub fn info_commandstats(total: &ShardSnapshot, out: &mut String) {
    out.push_str("# Commandstats\r\n");
    for (index, figures) in total.commands.commands.iter().enumerate() {
        // Redis lists a command once it was called or refused.
        if figures.calls == 0 && figures.failed == 0 && figures.rejected == 0 {
            continue;
        }
        let per_call = if figures.calls == 0 {
            0.0
        } else {
            figures.usec as f64 / figures.calls as f64
        };
        let _ = write!(
            out,
            "cmdstat_{}:calls={},usec={},usec_per_call={per_call:.2},rejected_calls={},failed_calls={}\r\n",
            command_name(index),
            figures.calls,
            figures.usec,
            figures.rejected,
            figures.failed
        );
    }
    out.push_str("\r\n");
}

/// `# Errorstats` in Redis's format: `errorstat_<PREFIX>:count=N`.
pub fn info_errorstats(total: &ShardSnapshot, out: &mut String) {
    out.push_str("# Errorstats\r\n");
    let mut errors = total.commands.errors.clone();
    errors.sort();
    for (prefix, count) in errors {
        let _ = write!(out, "errorstat_{prefix}:count={count}\r\n");
    }
    out.push_str("\r\n");
}

/// `# Latencystats` in Redis's format:
/// `latency_percentiles_usec_<name>:p50=..,p99=..,p99.9=..`.
pub fn info_latencystats(total: &ShardSnapshot, out: &mut String) {
    out.push_str("# Latencystats\r\n");
    for (index, figures) in total.commands.commands.iter().enumerate() {
        let Some(histogram) = figures.latency_us.as_ref().filter(|h| !h.is_empty()) else {
            continue;
        };
        let _ = write!(
            out,
            "latency_percentiles_usec_{}:p50={:.3},p99={:.3},p99.9={:.3}\r\n",
            command_name(index),
            histogram.value_at_quantile(0.5) as f64,
            histogram.value_at_quantile(0.99) as f64,
            histogram.value_at_quantile(0.999) as f64,
        );
    }
    out.push_str("\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::snapshot::tests::snapshot;

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
        // keys and connections are levels: the total row shows 20 keys and
        // 6 connections, not 10 and 3 per 2 s.
        let total: Vec<&str> = lines[3].split_whitespace().collect();
        assert_eq!(total.last(), Some(&"20"));
        assert_eq!(total[total.len() - 2], "6");
    }

    #[test]
    fn cores_section_names_every_metric_and_its_gauges() {
        let mut out = String::new();
        info_cores(&[snapshot(0, 5)], &mut out);
        let gauges = out.lines().find_map(|l| l.strip_prefix("gauges:")).unwrap();
        assert!(gauges.split(',').any(|g| g == "keys"));
        assert!(!gauges.split(',').any(|g| g == "cmd_get"));
        let core = out.lines().find_map(|l| l.strip_prefix("core0:")).unwrap();
        for def in METRICS {
            assert!(core.contains(&format!("{}=", def.name)), "{}", def.name);
        }
        assert!(core.contains("keys=10,"));
    }
}
