//! The final report: a table for people, JSON for machines.

use std::fmt::Write as _;

use crate::args::{Distribution, StopAt};
use crate::info::{InfoDelta, sum_over_cores};
use crate::runner::{Report, ThreadReport};
use crate::stats::{LatencySummary, Op, ThreadStats};

/// One row of the table.
struct Row {
    label: String,
    ops: u64,
    seconds: f64,
    payload_bytes: u64,
    latency: LatencySummary,
    errors: u64,
}

impl Row {
    fn ops_per_sec(&self) -> f64 {
        self.ops as f64 / self.seconds.max(1e-9)
    }

    fn mb_per_sec(&self) -> f64 {
        self.payload_bytes as f64 / 1e6 / self.seconds.max(1e-9)
    }
}

fn thread_row(thread: &ThreadReport) -> Row {
    Row {
        label: match thread.cpu {
            Some(cpu) => format!("thread {} (cpu {cpu})", thread.thread_id),
            None => format!("thread {}", thread.thread_id),
        },
        ops: thread.stats.total_ops(),
        seconds: thread.elapsed.as_secs_f64(),
        payload_bytes: thread.stats.payload_bytes(),
        latency: LatencySummary::of(&thread.stats.all_latency()),
        errors: thread.stats.total_errors(),
    }
}

fn rows(report: &Report) -> (Vec<Row>, Vec<Row>, Row, ThreadStats) {
    let seconds = report.elapsed.as_secs_f64();
    let total = report.total();
    let threads = report.threads.iter().map(thread_row).collect();
    let per_op = Op::ALL
        .iter()
        .filter(|op| total.per_op[op.index()].ops > 0)
        .map(|op| {
            let stats = &total.per_op[op.index()];
            Row {
                label: op.name().to_string(),
                ops: stats.ops,
                seconds,
                payload_bytes: stats.payload_bytes,
                latency: LatencySummary::of(&stats.latency),
                errors: stats.errors,
            }
        })
        .collect();
    let all = Row {
        label: "total".to_string(),
        ops: total.total_ops(),
        seconds,
        payload_bytes: total.payload_bytes(),
        latency: LatencySummary::of(&total.all_latency()),
        errors: total.total_errors(),
    };
    (threads, per_op, all, total)
}

fn describe_workload(report: &Report) -> String {
    let config = &report.config;
    let stop = match config.stop_at {
        StopAt::Duration(duration) => format!("{:.1} s", duration.as_secs_f64()),
        StopAt::Requests(requests) => format!("{requests} requests"),
    };
    let distribution = match config.distribution {
        Distribution::Uniform => "uniform".to_string(),
        Distribution::Sequential => "sequential".to_string(),
        Distribution::Zipf(s) => format!("zipf:{s}"),
    };
    let sizes = config.value_size;
    let values = if sizes.min == sizes.max {
        format!("{} B", sizes.min)
    } else {
        format!("{}-{} B", sizes.min, sizes.max)
    };
    let mut text = format!(
        "{} | {} conns, {} threads, pipeline {} | {stop} | SET:GET {}:{}, DEL {}% | {} keys {distribution} | values {values}",
        config.addr,
        config.nr_connections,
        config.nr_threads,
        config.pipeline,
        config.ratio.set,
        config.ratio.get,
        config.del_percent,
        config.nr_keys,
    );
    if let Some(rate) = config.rate {
        let _ = write!(text, " | rate {rate:.0} ops/s");
        if config.burst > 1 {
            let _ = write!(text, " in bursts of {}", config.burst);
        }
    }
    if config.verify {
        text.push_str(" | verify");
    }
    text
}

/// The human-readable report.
pub fn format_table(report: &Report) -> String {
    let (threads, per_op, all, total) = rows(report);
    let mut out = String::new();
    let _ = writeln!(out, "shardcask-bench: {}", describe_workload(report));
    if let Some((preload, elapsed)) = report.preload_total() {
        let seconds = elapsed.as_secs_f64().max(1e-9);
        let _ = writeln!(
            out,
            "preload: {} keys in {:.2} s ({:.0} SET/s), {} errors",
            preload.total_ops(),
            seconds,
            preload.total_ops() as f64 / seconds,
            preload.total_errors()
        );
    }
    let _ = writeln!(out, "measured: {:.3} s", report.elapsed.as_secs_f64());
    if let Some(sched) = report.sched() {
        // Waiting on a run queue: the client was ready to send or read and
        // another process had its CPU. Time it charges to the server.
        let seconds = report.elapsed.as_secs_f64().max(1e-9);
        let _ = writeln!(
            out,
            "client threads: on CPU {:.1}%, waiting for a CPU {:.1} ms per second",
            100.0 * sched.on_cpu.as_secs_f64() / seconds,
            sched.waiting.as_secs_f64() * 1e3 / seconds
        );
    }
    if let Some(rate) = report.config.rate {
        // Whether the run kept up is a speed figure: reported, not asserted.
        let achieved = all.ops_per_sec();
        let _ = writeln!(
            out,
            "fixed rate: asked {rate:.0} ops/s, achieved {achieved:.0} ops/s ({:.1}%)",
            100.0 * achieved / rate
        );
        let lag = LatencySummary::of(&total.send_lag);
        let _ = writeln!(
            out,
            "client send lag (sent minus intended, us): p50 {:.1} p99 {:.1} p99.9 {:.1} max {:.1}",
            lag.p50, lag.p99, lag.p999, lag.max
        );
    }
    let _ = writeln!(
        out,
        "\n{:<20} {:>11} {:>11} {:>9} {:>9} {:>9} {:>9} {:>9} {:>10} {:>8}",
        "", "ops", "ops/s", "MB/s", "p50 us", "p90 us", "p99 us", "p99.9 us", "max us", "errors"
    );
    let mut line = |row: &Row| {
        let _ = writeln!(
            out,
            "{:<20} {:>11} {:>11.0} {:>9.2} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>10.1} {:>8}",
            row.label,
            row.ops,
            row.ops_per_sec(),
            row.mb_per_sec(),
            row.latency.p50,
            row.latency.p90,
            row.latency.p99,
            row.latency.p999,
            row.latency.max,
            row.errors
        );
    };
    for row in threads.iter().chain(&per_op) {
        line(row);
    }
    line(&all);
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "GET hits {} misses {} | wire out {:.2} MB/s in {:.2} MB/s",
        total.get_hits,
        total.get_misses,
        total.bytes_out as f64 / 1e6 / all.seconds.max(1e-9),
        total.bytes_in as f64 / 1e6 / all.seconds.max(1e-9),
    );
    let _ = writeln!(
        out,
        "errors: {} error replies, {} unexpected replies, {} lost requests ({} timed out), \
         {} connect failures, {} disconnects",
        total.error_replies,
        total.unexpected_replies,
        total.lost_requests,
        total.timed_out,
        total.connect_failures,
        total.disconnects
    );
    if report.config.cluster.is_some() {
        let _ = writeln!(out, "cluster: {} MOVED replies followed", total.moved);
    }
    if let Some(error) = &total.first_error {
        let _ = writeln!(out, "first error: {error}");
    }
    if report.config.verify {
        let _ = writeln!(
            out,
            "verify: {} values checked, {} mismatches{}",
            total.verified,
            total.mismatches,
            if report.config.expect_presence() {
                " (nil counts as a mismatch: preloaded, no DELs)"
            } else {
                ""
            }
        );
        if let Some(mismatch) = &total.first_mismatch {
            let _ = writeln!(out, "first mismatch: {mismatch}");
        }
    }
    for failure in &report.failed_threads {
        let _ = writeln!(out, "FAILED {failure}");
    }
    if let Some(server) = &report.server {
        out.push('\n');
        out.push_str(&format_server(
            &server.deltas,
            server.error.as_deref(),
            &all,
        ));
    }
    out
}

fn format_number(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{value:.0}")
    } else {
        format!("{value:.3}")
    }
}

fn format_server(deltas: &[InfoDelta], error: Option<&str>, client: &Row) -> String {
    let mut out = String::new();
    let seconds = client.seconds.max(1e-9);
    let _ = writeln!(
        out,
        "server INFO deltas over the run (client saw {} ops, {:.0} ops/s):",
        client.ops,
        client.ops_per_sec()
    );
    if let Some(error) = error {
        let _ = writeln!(out, "  unavailable: {error}");
        return out;
    }
    if let Some(ops) = sum_over_cores(deltas, "ops") {
        let _ = writeln!(
            out,
            "  {:<28} ops={} ({:.0}/s)",
            "cores (sum)",
            format_number(ops),
            ops / seconds
        );
    }
    // Group k=v fields by line name, in order of appearance.
    let mut index = 0;
    while index < deltas.len() {
        let name = &deltas[index].name;
        let group_end = deltas[index..]
            .iter()
            .position(|d| &d.name != name)
            .map_or(deltas.len(), |p| index + p);
        let group = &deltas[index..group_end];
        index = group_end;
        if group[0].key.is_empty() {
            for delta in group.iter().filter(|d| d.delta() != 0.0 || d.gauge) {
                if delta.gauge {
                    let _ = writeln!(
                        out,
                        "  {:<28} {:>14} (now)",
                        delta.name,
                        format_number(delta.after)
                    );
                    continue;
                }
                let _ = writeln!(
                    out,
                    "  {:<28} {:>14} ({:.1}/s)",
                    delta.name,
                    format_number(delta.delta()),
                    delta.delta() / seconds
                );
            }
        } else if group.iter().any(|d| d.delta() != 0.0 || d.gauge) || name.starts_with("core") {
            // Counters as their change over the run; levels (gauges) as
            // they stand at its end.
            let counters: Vec<String> = group
                .iter()
                .filter(|d| !d.gauge)
                .map(|d| format!("{}={}", d.key, format_number(d.delta())))
                .collect();
            let levels: Vec<String> = group
                .iter()
                .filter(|d| d.gauge)
                .map(|d| format!("{}={}", d.key, format_number(d.after)))
                .collect();
            let mut line = counters.join(" ");
            if !levels.is_empty() {
                if !line.is_empty() {
                    line.push_str(" | now: ");
                } else {
                    line.push_str("now: ");
                }
                line.push_str(&levels.join(" "));
            }
            let _ = writeln!(out, "  {:<28} {}", name, line);
        }
    }
    out
}

/// Minimal JSON string escaping.
fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// JSON numbers: finite floats only.
fn json_number(value: f64) -> String {
    if value.is_finite() {
        format_number(value)
    } else {
        "null".to_string()
    }
}

fn json_row(row: &Row) -> String {
    let l = &row.latency;
    format!(
        "{{\"name\":{},\"ops\":{},\"seconds\":{},\"ops_per_sec\":{},\"mb_per_sec\":{},\
\"latency_us\":{{\"p50\":{},\"p90\":{},\"p99\":{},\"p99_9\":{},\"max\":{},\"mean\":{}}},\"errors\":{}}}",
        json_string(&row.label),
        row.ops,
        json_number(row.seconds),
        json_number(row.ops_per_sec()),
        json_number(row.mb_per_sec()),
        json_number(l.p50),
        json_number(l.p90),
        json_number(l.p99),
        json_number(l.p999),
        json_number(l.max),
        json_number(l.mean),
        row.errors
    )
}

fn json_option(text: &Option<String>) -> String {
    text.as_deref().map_or("null".to_string(), json_string)
}

/// The machine-readable report (one JSON object).
pub fn format_json(report: &Report) -> String {
    let (threads, per_op, all, total) = rows(report);
    let join = |rows: &[Row]| rows.iter().map(json_row).collect::<Vec<_>>().join(",");
    let mut out = String::new();
    let _ = write!(
        out,
        "{{\"workload\":{},\"elapsed_s\":{},\"threads\":[{}],\"ops\":[{}],\"total\":{},",
        json_string(&describe_workload(report)),
        json_number(report.elapsed.as_secs_f64()),
        join(&threads),
        join(&per_op),
        json_row(&all)
    );
    let _ = write!(
        out,
        "\"get_hits\":{},\"get_misses\":{},\"verified\":{},\"mismatches\":{},\
\"error_replies\":{},\"unexpected_replies\":{},\"lost_requests\":{},\"timed_out\":{},\
\"connect_failures\":{},\"disconnects\":{},\"moved\":{},\"bytes_out\":{},\"bytes_in\":{},\
\"first_error\":{},\"first_mismatch\":{},\"failed_threads\":[{}]",
        total.get_hits,
        total.get_misses,
        total.verified,
        total.mismatches,
        total.error_replies,
        total.unexpected_replies,
        total.lost_requests,
        total.timed_out,
        total.connect_failures,
        total.disconnects,
        total.moved,
        total.bytes_out,
        total.bytes_in,
        json_option(&total.first_error),
        json_option(&total.first_mismatch),
        report
            .failed_threads
            .iter()
            .map(|f| json_string(f))
            .collect::<Vec<_>>()
            .join(",")
    );
    if let Some(sched) = report.sched() {
        let _ = write!(
            out,
            ",\"client_sched\":{{\"on_cpu_s\":{},\"runqueue_wait_s\":{}}}",
            json_number(sched.on_cpu.as_secs_f64()),
            json_number(sched.waiting.as_secs_f64())
        );
    }
    if report.config.rate.is_some() {
        let lag = LatencySummary::of(&total.send_lag);
        let _ = write!(
            out,
            ",\"send_lag_us\":{{\"p50\":{},\"p99\":{},\"p99_9\":{},\"max\":{}}}",
            json_number(lag.p50),
            json_number(lag.p99),
            json_number(lag.p999),
            json_number(lag.max)
        );
    }
    if let Some((preload, elapsed)) = report.preload_total() {
        let _ = write!(
            out,
            ",\"preload\":{{\"ops\":{},\"seconds\":{},\"errors\":{},\"mismatches\":{}}}",
            preload.total_ops(),
            json_number(elapsed.as_secs_f64()),
            preload.total_errors(),
            preload.mismatches
        );
    }
    if let Some(server) = &report.server {
        let fields: Vec<String> = server
            .deltas
            .iter()
            .map(|d| {
                format!(
                    "{{\"name\":{},\"key\":{},\"gauge\":{},\"before\":{},\"after\":{},\"delta\":{}}}",
                    json_string(&d.name),
                    json_string(&d.key),
                    d.gauge,
                    json_number(d.before),
                    json_number(d.after),
                    json_number(d.delta())
                )
            })
            .collect();
        let cores_ops = sum_over_cores(&server.deltas, "ops").map_or("null".into(), json_number);
        let _ = write!(
            out,
            ",\"server_stats\":{{\"error\":{},\"cores_ops\":{},\"fields\":[{}]}}",
            json_option(&server.error),
            cores_ops,
            fields.join(",")
        );
    }
    out.push('}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_strings_are_escaped() {
        assert_eq!(json_string("a\"b\\c\nd"), "\"a\\\"b\\\\c\\u000ad\"");
        assert_eq!(json_number(f64::NAN), "null");
        assert_eq!(json_number(2.0), "2");
        assert_eq!(json_number(2.5), "2.500");
    }
}
