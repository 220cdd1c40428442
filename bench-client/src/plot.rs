//! `--plot`: the measured phase as one SVG file, written by hand (no
//! drawing crate): throughput per slot, p50/p99/p99.9 latency per slot (log
//! scale), and the latency percentile curve of the whole run (the x axis in
//! "nines": 90%, 99%, 99.9%, ...). Also [`bars`], the grouped bar chart
//! `compare.sh` draws its side-by-side table with.

use std::fmt::Write as _;

use hdrhistogram::Histogram;

use crate::timeline::Timeline;

const WIDTH: f64 = 900.0;
const PANEL_HEIGHT: f64 = 240.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 40.0;
const GAP: f64 = 70.0;

/// Colours of the series, in order.
const COLOURS: &[&str] = &[
    "#1f77b4", "#ff7f0e", "#d62728", "#2ca02c", "#9467bd", "#8c564b",
];

/// Escapes text for SVG.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A round step for about `target` ticks up to `max`.
fn nice_step(max: f64, target: f64) -> f64 {
    let raw = (max / target).max(f64::MIN_POSITIVE);
    let magnitude = 10f64.powf(raw.log10().floor());
    let fraction = raw / magnitude;
    let nice = if fraction <= 1.0 {
        1.0
    } else if fraction <= 2.0 {
        2.0
    } else if fraction <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * magnitude
}

/// Human number: 1234567 -> 1.23M.
fn human(value: f64) -> String {
    let abs = value.abs();
    if abs >= 1e9 {
        format!("{:.3}G", value / 1e9)
    } else if abs >= 1e6 {
        format!("{:.3}M", value / 1e6)
    } else if abs >= 1e3 {
        format!("{:.3}k", value / 1e3)
    } else {
        format!("{value:.0}")
    }
    .replace(".000", "")
}

/// Latency in µs as text with a unit.
fn duration_text(us: f64) -> String {
    if us >= 1e6 {
        format!("{}s", trim(us / 1e6))
    } else if us >= 1e3 {
        format!("{}ms", trim(us / 1e3))
    } else {
        format!("{}µs", trim(us))
    }
}

fn trim(value: f64) -> String {
    let text = format!("{value:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// One panel's frame: axes box, title, y label.
struct Panel {
    top: f64,
    height: f64,
}

impl Panel {
    fn left(&self) -> f64 {
        LEFT
    }
    fn right(&self) -> f64 {
        WIDTH - RIGHT
    }
    fn bottom(&self) -> f64 {
        self.top + self.height
    }
    fn frame(&self, out: &mut String, title: &str, y_label: &str, x_label: &str) {
        let _ = write!(
            out,
            r##"<rect x="{l}" y="{t}" width="{w}" height="{h}" fill="none" stroke="#888"/>
<text x="{l}" y="{ty}" font-size="14" font-weight="bold">{title}</text>
<text x="16" y="{my}" font-size="12" transform="rotate(-90 16 {my})" text-anchor="middle">{y_label}</text>
<text x="{mx}" y="{xy}" font-size="12" text-anchor="middle">{x_label}</text>
"##,
            l = self.left(),
            t = self.top,
            w = self.right() - self.left(),
            h = self.height,
            ty = self.top - 10.0,
            my = self.top + self.height / 2.0,
            mx = (self.left() + self.right()) / 2.0,
            xy = self.bottom() + 36.0,
            title = escape(title),
            y_label = escape(y_label),
            x_label = escape(x_label),
        );
    }
    fn y_tick(&self, out: &mut String, y: f64, label: &str) {
        let _ = writeln!(
            out,
            r##"<line x1="{l}" y1="{y:.1}" x2="{r}" y2="{y:.1}" stroke="#eee"/><text x="{tx}" y="{ty:.1}" font-size="11" text-anchor="end">{label}</text>"##,
            l = self.left(),
            r = self.right(),
            tx = self.left() - 6.0,
            ty = y + 4.0,
            label = escape(label),
        );
    }
    fn x_tick(&self, out: &mut String, x: f64, label: &str) {
        let _ = writeln!(
            out,
            r##"<line x1="{x:.1}" y1="{t}" x2="{x:.1}" y2="{b}" stroke="#eee"/><text x="{x:.1}" y="{ty}" font-size="11" text-anchor="middle">{label}</text>"##,
            t = self.top,
            b = self.bottom(),
            ty = self.bottom() + 16.0,
            label = escape(label),
        );
    }
}

fn polyline(out: &mut String, points: &[(f64, f64)], colour: &str) {
    if points.is_empty() {
        return;
    }
    out.push_str(r#"<polyline fill="none" stroke-width="1.5" stroke=""#);
    out.push_str(colour);
    out.push_str(r#"" points=""#);
    for (i, (x, y)) in points.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let _ = write!(out, "{x:.1},{y:.1}");
    }
    out.push_str("\"/>\n");
}

fn legend(out: &mut String, panel: &Panel, names: &[&str]) {
    for (i, name) in names.iter().enumerate() {
        let x = panel.right() - 110.0 * (names.len() - i) as f64;
        let y = panel.top - 12.0;
        let _ = writeln!(
            out,
            r#"<rect x="{x}" y="{ry}" width="12" height="4" fill="{c}"/><text x="{tx}" y="{y}" font-size="11">{name}</text>"#,
            ry = y - 4.0,
            c = COLOURS[i % COLOURS.len()],
            tx = x + 16.0,
            name = escape(name),
        );
    }
}

/// Log10 bounds (whole decades) around `min..max`, both > 0.
fn decades(min: f64, max: f64) -> (f64, f64) {
    let low = min.max(1.0).log10().floor();
    let high = max.max(min * 10.0).max(10.0).log10().ceil();
    (low, high.max(low + 1.0))
}

/// A histogram of nanoseconds as one of microseconds (as the timeline's).
pub fn micros_of(ns: &Histogram<u64>) -> Histogram<u64> {
    let mut us = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3)
        .expect("static histogram bounds are valid");
    for value in ns.iter_recorded() {
        us.saturating_record_n(
            (value.value_iterated_to() / 1000).max(1),
            value.count_at_value(),
        );
    }
    us
}

/// The SVG of a run: `timeline` holds the latencies (µs) per slot, `all_us`
/// the whole run's (µs).
pub fn render(title: &str, timeline: &Timeline, all_us: &Histogram<u64>) -> String {
    let slot_s = timeline.slot().as_secs_f64().max(1e-9);
    let nr_slots = timeline.len().max(1);
    let panels = [
        Panel {
            top: TOP + 20.0,
            height: PANEL_HEIGHT,
        },
        Panel {
            top: TOP + 20.0 + PANEL_HEIGHT + GAP,
            height: PANEL_HEIGHT,
        },
        Panel {
            top: TOP + 20.0 + 2.0 * (PANEL_HEIGHT + GAP),
            height: PANEL_HEIGHT,
        },
    ];
    let height = panels[2].bottom() + 50.0;
    let mut out = String::with_capacity(16 * 1024);
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif">
<rect width="100%" height="100%" fill="white"/>
<text x="{LEFT}" y="24" font-size="16" font-weight="bold">{}</text>
"#,
        escape(title)
    );
    let time_x = |panel: &Panel, index: usize| {
        let span = (nr_slots as f64 * slot_s).max(slot_s);
        panel.left() + (index as f64 + 0.5) * slot_s / span * (panel.right() - panel.left())
    };
    let time_ticks = |out: &mut String, panel: &Panel| {
        let span = nr_slots as f64 * slot_s;
        let step = nice_step(span, 8.0);
        let mut t = 0.0;
        while t <= span + 1e-9 {
            let x = panel.left() + t / span.max(1e-9) * (panel.right() - panel.left());
            panel.x_tick(out, x, &trim(t));
            t += step;
        }
    };

    // 1: throughput.
    let panel = &panels[0];
    panel.frame(&mut out, "Throughput", "requests/s", "seconds into the run");
    let rates: Vec<f64> = (0..timeline.len())
        .map(|i| timeline.count(i) as f64 / slot_s)
        .collect();
    let max_rate = rates.iter().copied().fold(1.0, f64::max);
    let step = nice_step(max_rate, 5.0);
    let top_rate = (max_rate / step).ceil() * step;
    let rate_y = |rate: f64| panel.bottom() - rate / top_rate * panel.height;
    let mut tick = 0.0;
    while tick <= top_rate + 1e-9 {
        panel.y_tick(&mut out, rate_y(tick), &human(tick));
        tick += step;
    }
    time_ticks(&mut out, panel);
    let points: Vec<(f64, f64)> = rates
        .iter()
        .enumerate()
        .map(|(i, &rate)| (time_x(panel, i), rate_y(rate)))
        .collect();
    polyline(&mut out, &points, COLOURS[0]);

    // 2: latency percentiles per slot, log scale.
    let panel = &panels[1];
    panel.frame(
        &mut out,
        "Latency per second",
        "latency (log scale)",
        "seconds into the run",
    );
    let quantiles = [(0.5, "p50"), (0.99, "p99"), (0.999, "p99.9")];
    let series: Vec<Vec<(usize, f64)>> = quantiles
        .iter()
        .map(|&(q, _)| {
            (0..timeline.len())
                .filter_map(|i| {
                    let h = timeline.histogram(i)?;
                    (!h.is_empty()).then(|| (i, h.value_at_quantile(q) as f64))
                })
                .collect()
        })
        .collect();
    let all_values = series.iter().flatten().map(|&(_, v)| v);
    let (low, high) = decades(
        all_values.clone().fold(f64::MAX, f64::min).min(1e12),
        all_values.fold(1.0, f64::max),
    );
    let log_y = |panel: &Panel, us: f64| {
        panel.bottom() - (us.max(1.0).log10() - low) / (high - low) * panel.height
    };
    for decade in low as i32..=high as i32 {
        let us = 10f64.powi(decade);
        panel.y_tick(&mut out, log_y(panel, us), &duration_text(us));
    }
    time_ticks(&mut out, panel);
    for (k, points) in series.iter().enumerate() {
        let points: Vec<(f64, f64)> = points
            .iter()
            .map(|&(i, us)| (time_x(panel, i), log_y(panel, us)))
            .collect();
        polyline(&mut out, &points, COLOURS[k]);
    }
    legend(
        &mut out,
        panel,
        &quantiles.iter().map(|&(_, name)| name).collect::<Vec<_>>(),
    );

    // 3: the percentile curve of the whole run.
    let panel = &panels[2];
    panel.frame(
        &mut out,
        "Latency by percentile (whole run)",
        "latency (log scale)",
        "percentile",
    );
    let max_nines = if all_us.len() >= 100_000 {
        5.0
    } else if all_us.len() >= 10_000 {
        4.0
    } else {
        3.0
    };
    let (low_c, high_c) = decades(all_us.min().max(1) as f64, all_us.max().max(1) as f64);
    let curve_y =
        |us: f64| panel.bottom() - (us.max(1.0).log10() - low_c) / (high_c - low_c) * panel.height;
    for decade in low_c as i32..=high_c as i32 {
        let us = 10f64.powi(decade);
        panel.y_tick(&mut out, curve_y(us), &duration_text(us));
    }
    let nines_x = |nines: f64| panel.left() + nines / max_nines * (panel.right() - panel.left());
    for n in 0..=max_nines as i32 {
        let label = match n {
            0 => "0%".to_string(),
            // 90%, 99%, 99.9%, ...: as many decimals as nines past two.
            n => format!(
                "{:.*}%",
                (n - 2).max(0) as usize,
                100.0 * (1.0 - 10f64.powi(-n))
            ),
        };
        panel.x_tick(&mut out, nines_x(n as f64), &label);
    }
    if !all_us.is_empty() {
        let steps = 200;
        let points: Vec<(f64, f64)> = (0..=steps)
            .map(|i| {
                let nines = max_nines * i as f64 / steps as f64;
                let q = 1.0 - 10f64.powf(-nines);
                (nines_x(nines), curve_y(all_us.value_at_quantile(q) as f64))
            })
            .collect();
        polyline(&mut out, &points, COLOURS[0]);
    }
    out.push_str("</svg>\n");
    out
}

/// A grouped bar chart: one group per row label, one bar per series
/// (`values[row][series]`, `None` for a missing figure), the value on top.
pub fn bars(
    title: &str,
    unit: &str,
    series: &[&str],
    rows: &[(String, Vec<Option<f64>>)],
) -> String {
    let panel = Panel {
        top: TOP + 30.0,
        height: 300.0,
    };
    let height = panel.bottom() + 90.0;
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif">
<rect width="100%" height="100%" fill="white"/>
<text x="{LEFT}" y="24" font-size="16" font-weight="bold">{}</text>
"#,
        escape(title)
    );
    panel.frame(&mut out, "", unit, "");
    let max = rows
        .iter()
        .flat_map(|(_, values)| values.iter().flatten().copied())
        .fold(1e-9, f64::max);
    let step = nice_step(max, 5.0);
    let top = (max / step).ceil() * step;
    let y = |value: f64| panel.bottom() - value / top * panel.height;
    let mut tick = 0.0;
    while tick <= top + 1e-9 {
        panel.y_tick(&mut out, y(tick), &human(tick));
        tick += step;
    }
    let group_width = (panel.right() - panel.left()) / rows.len().max(1) as f64;
    let bar_width = group_width * 0.8 / series.len().max(1) as f64;
    for (r, (label, values)) in rows.iter().enumerate() {
        let group_left = panel.left() + r as f64 * group_width + group_width * 0.1;
        for (s, value) in values.iter().enumerate() {
            let Some(value) = value else { continue };
            let x = group_left + s as f64 * bar_width;
            let _ = write!(
                out,
                r#"<rect x="{x:.1}" y="{top:.1}" width="{w:.1}" height="{h:.1}" fill="{c}"><title>{name}: {v}</title></rect>
<text x="{tx:.1}" y="{ty:.1}" font-size="10" text-anchor="middle">{v}</text>
"#,
                top = y(*value),
                w = bar_width * 0.9,
                h = panel.bottom() - y(*value),
                c = COLOURS[s % COLOURS.len()],
                name = escape(series[s]),
                v = human(*value),
                tx = x + bar_width * 0.45,
                ty = y(*value) - 3.0,
            );
        }
        let _ = writeln!(
            out,
            r#"<text x="{x:.1}" y="{y}" font-size="11" text-anchor="middle">{label}</text>"#,
            x = panel.left() + (r as f64 + 0.5) * group_width,
            y = panel.bottom() + 16.0,
            label = escape(label),
        );
    }
    legend(&mut out, &panel, series);
    out.push_str("</svg>\n");
    out
}

/// [`bars`] from the text `shardcask-chart` reads: title, unit, the
/// tab-separated series, then `label<TAB>value<TAB>...` rows (`-`: none).
pub fn bars_from_tsv(text: &str) -> Result<String, String> {
    let mut lines = text.lines();
    let title = lines.next().ok_or("no title line")?;
    let unit = lines.next().ok_or("no unit line")?;
    let series: Vec<&str> = lines.next().ok_or("no series line")?.split('\t').collect();
    let mut rows = Vec::new();
    for (number, line) in lines.enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let mut fields = line.split('\t');
        let label = fields.next().unwrap_or_default().to_string();
        let values = fields
            .map(|field| match field.trim() {
                "-" | "" => Ok(None),
                number_text => number_text
                    .parse::<f64>()
                    .map(Some)
                    .map_err(|_| format!("row {}: {number_text:?} is not a number", number + 1)),
            })
            .collect::<Result<Vec<_>, _>>()?;
        if values.len() != series.len() {
            return Err(format!(
                "row {} has {} values for {} series",
                number + 1,
                values.len(),
                series.len()
            ));
        }
        rows.push((label, values));
    }
    Ok(bars(title, unit, &series, &rows))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn a_run_draws_three_panels_with_a_point_per_slot() {
        let start = Instant::now();
        let mut timeline = Timeline::new(start, 0.0, Duration::from_secs(1));
        let mut all = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 2).unwrap();
        for second in 0..5u64 {
            for i in 0..(100 * (second + 1)) {
                let latency_us = 100 + i;
                timeline.record(start + Duration::from_secs(second), latency_us * 1000);
                all.record(latency_us).unwrap();
            }
        }
        let svg = render("t <1>", &timeline, &all);
        assert!(svg.starts_with("<svg ") && svg.ends_with("</svg>\n"));
        assert!(svg.contains("t &lt;1&gt;"), "title escaped");
        // Throughput, three latency series and the curve.
        assert_eq!(svg.matches("<polyline").count(), 5);
        let throughput = svg.split("<polyline").nth(1).unwrap();
        let points = throughput.split("points=\"").nth(1).unwrap();
        let points = points.split('"').next().unwrap();
        assert_eq!(points.split(' ').count(), 5, "one point a second");
        assert!(svg.contains(">p99.9<"));
        assert!(svg.contains(">99.9%<"), "percentile axis in nines");
        assert!(!svg.contains(">100%<"));
    }

    #[test]
    fn bars_have_one_rect_per_figure() {
        let svg = bars(
            "compare",
            "ops/s",
            &["shardcask", "redis"],
            &[
                ("SET P1".into(), vec![Some(1000.0), Some(2000.0)]),
                ("GET P16".into(), vec![Some(5000.0), None]),
            ],
        );
        assert_eq!(
            svg.matches("<rect x=").count(),
            3 + 1 + 2,
            "bars, frame, legend"
        );
        assert!(svg.contains(">2k<"));
    }

    #[test]
    fn bars_from_the_chart_text() {
        let svg = bars_from_tsv("t\nops/s\na\tb\nSET\t10\t20\nGET\t5\t-\n").unwrap();
        assert_eq!(svg.matches("<title>").count(), 3);
        assert!(
            bars_from_tsv("t\nu\na\tb\nSET\t1\n").is_err(),
            "too few values"
        );
        assert!(bars_from_tsv("t\nu\na\nSET\tx\n").is_err(), "not a number");
    }

    #[test]
    fn ticks_and_numbers() {
        assert_eq!(nice_step(95.0, 5.0), 20.0);
        assert_eq!(human(1_500_000.0), "1.500M");
        assert_eq!(duration_text(1500.0), "1.5ms");
        assert_eq!(decades(3.0, 40_000.0), (0.0, 5.0));
    }
}
