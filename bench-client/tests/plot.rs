//! `--plot` and `--hdr` against a real shardcask started in-process: the
//! SVG has a point per second of the run and the HdrHistogram log reads
//! back to as many requests as the run reports.

use std::ffi::OsStr;

mod common;

use base64::Engine as _;
use hdrhistogram::serialization::Deserializer;
use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
use shardcask::server::ServerBuilder;

#[test]
fn plot_and_hdr_log_of_a_run() {
    let base = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    std::fs::create_dir_all(base).unwrap();
    let dir = tempfile::Builder::new()
        .prefix("bench-plot-")
        .tempdir_in(base)
        .unwrap();
    let server = ServerBuilder::new()
        .listen("127.0.0.1:0".parse().unwrap())
        .dir(dir.path().join("data"))
        .shards(1)
        .pin(false)
        .configure(|c| c.stats_interval = 0)
        .start()
        .expect("server starts");
    let svg_path = dir.path().join("run.svg");
    let hdr_path = dir.path().join("run.hlog");
    let addr = server.addr().to_string();
    let output = common::run_binary(&[
        OsStr::new("--addr"),
        OsStr::new(&addr),
        OsStr::new("--connections"),
        OsStr::new("4"),
        OsStr::new("--pipeline"),
        OsStr::new("4"),
        OsStr::new("--duration"),
        OsStr::new("3"),
        OsStr::new("--keys"),
        OsStr::new("1000"),
        OsStr::new("--quiet"),
        OsStr::new("--json"),
        OsStr::new("--plot"),
        svg_path.as_os_str(),
        OsStr::new("--hdr"),
        hdr_path.as_os_str(),
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report = String::from_utf8_lossy(&output.stdout);
    // The total ops of the report's "total" row.
    let total_ops: u64 = report
        .split("\"name\":\"total\",\"ops\":")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no total in {report}"));
    assert!(total_ops > 0);

    let svg = std::fs::read_to_string(&svg_path).unwrap();
    assert!(svg.starts_with("<svg ") && svg.ends_with("</svg>\n"));
    assert_eq!(svg.matches("<polyline").count(), 5, "{svg}");
    let throughput_points = svg
        .split("<polyline")
        .nth(1)
        .and_then(|p| p.split("points=\"").nth(1))
        .and_then(|p| p.split('"').next())
        .unwrap();
    let nr_points = throughput_points.split(' ').count();
    assert!(
        (3..=4).contains(&nr_points),
        "a point a second: {nr_points}"
    );

    let log = std::fs::read(&hdr_path).unwrap();
    let mut deserializer = Deserializer::new();
    let mut logged = 0;
    let mut intervals = 0;
    for entry in IntervalLogIterator::new(&log) {
        if let Ok(LogEntry::Interval(interval)) = entry {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(interval.encoded_histogram())
                .unwrap();
            let histogram: hdrhistogram::Histogram<u64> =
                deserializer.deserialize(&mut &bytes[..]).unwrap();
            logged += histogram.len();
            intervals += 1;
        }
    }
    assert_eq!(intervals, nr_points);
    assert_eq!(logged, total_ops, "every request of the run is in the log");
    if let Ok(keep) = std::env::var("SHARDCASK_PLOT_OUT") {
        std::fs::copy(&svg_path, keep).unwrap();
    }
    server.shutdown();
    server.wait();
}
