//! `--metrics-listen`: scrapes `/metrics` of a real server during load and
//! checks the series against INFO and against what the clients sent; INFO's
//! Redis-format sections (commandstats, errorstats, latencystats).

mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use common::Server;

/// One sample: series name, labels, value.
#[derive(Debug, Clone)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

fn metrics_addr(server: &Server) -> SocketAddr {
    let stdout = server.stdout_text();
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("shardcask metrics: http://"))
        .unwrap_or_else(|| panic!("no metrics line in {stdout}"));
    line.trim_end_matches("/metrics").parse().unwrap()
}

/// Sends one HTTP request; returns status line and body.
fn http_get(addr: SocketAddr, request: &str) -> (String, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").expect("a head and a body");
    let status = head.lines().next().unwrap().to_string();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(length, body.len(), "Content-Length matches the body");
    (status, body.to_string())
}

fn scrape(addr: SocketAddr) -> Vec<Sample> {
    let (status, body) = http_get(addr, "GET /metrics HTTP/1.1\r\nHost: test\r\n\r\n");
    assert_eq!(status, "HTTP/1.1 200 OK");
    parse_exposition(&body)
}

/// Parses the Prometheus text format (no escaped quotes in our labels).
fn parse_exposition(text: &str) -> Vec<Sample> {
    let mut samples = Vec::new();
    for line in text.lines() {
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("name and value");
        let (name, labels) = match series.split_once('{') {
            Some((name, rest)) => {
                let inner = rest.strip_suffix('}').expect("closed labels");
                let labels = inner
                    .split(',')
                    .filter(|p| !p.is_empty())
                    .map(|pair| {
                        let (k, v) = pair.split_once('=').unwrap();
                        (k.to_string(), v.trim_matches('"').to_string())
                    })
                    .collect();
                (name.to_string(), labels)
            }
            None => (series.to_string(), BTreeMap::new()),
        };
        let value = match value {
            "+Inf" => f64::INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("value of {line}")),
        };
        samples.push(Sample {
            name,
            labels,
            value,
        });
    }
    samples
}

/// Sum of `name` over every label set matching `filter`.
fn sum(samples: &[Sample], name: &str, filter: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|s| s.name == name)
        .filter(|s| {
            filter
                .iter()
                .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.value)
        .sum()
}

fn info_field(info: &str, name: &str) -> f64 {
    info.lines()
        .find_map(|l| l.trim().strip_prefix(&format!("{name}:")))
        .unwrap_or_else(|| panic!("no {name} in INFO"))
        .parse()
        .unwrap()
}

fn core_field(info: &str, core: usize, key: &str) -> f64 {
    let line = info
        .lines()
        .find_map(|l| l.trim().strip_prefix(&format!("core{core}:")))
        .unwrap();
    line.split(',')
        .find_map(|p| p.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("no {key} in core{core}"))
        .parse()
        .unwrap()
}

#[test]
fn scrape_during_load_agrees_with_info() {
    let server = Server::start(2, &["--metrics-listen", "127.0.0.1:0"]);
    let addr = metrics_addr(&server);
    const THREADS: usize = 2;
    const ROUNDS: usize = 40;
    const PIPELINE: usize = 50;
    let workers: Vec<_> = (0..THREADS)
        .map(|thread| {
            let mut con = server.client();
            std::thread::spawn(move || {
                for round in 0..ROUNDS {
                    let mut pipe = redis::pipe();
                    for i in 0..PIPELINE {
                        pipe.cmd("SET")
                            .arg(format!("key:{thread}:{round}:{i}"))
                            .arg("value")
                            .ignore();
                    }
                    let () = pipe.query(&mut con).unwrap();
                    let mut pipe = redis::pipe();
                    for i in 0..PIPELINE {
                        pipe.cmd("GET").arg(format!("key:{thread}:{round}:{i}"));
                    }
                    let values: Vec<String> = pipe.query(&mut con).unwrap();
                    assert!(values.iter().all(|v| v == "value"));
                }
            })
        })
        .collect();
    // Scrape while the load runs: every scrape parses and counters only grow.
    let mut previous: Option<Vec<Sample>> = None;
    let mut scrapes = 0;
    while workers.iter().any(|w| !w.is_finished()) || scrapes == 0 {
        let samples = scrape(addr);
        if let Some(previous) = &previous {
            for before in previous.iter().filter(|s| s.name.ends_with("_total")) {
                let after = sum(
                    &samples,
                    &before.name,
                    &before
                        .labels
                        .iter()
                        .map(|(k, v)| (k.as_str(), v.as_str()))
                        .collect::<Vec<_>>(),
                );
                assert!(after >= before.value, "{} went down", before.name);
            }
        }
        previous = Some(samples);
        scrapes += 1;
    }
    for worker in workers {
        worker.join().unwrap();
    }
    assert!(scrapes >= 1);

    let sent = (THREADS * ROUNDS * PIPELINE) as f64;
    let mut con = server.client();
    let info: String = redis::cmd("INFO")
        .arg("everything")
        .query(&mut con)
        .unwrap();
    let samples = scrape(addr);
    // What the clients sent, seen three ways.
    assert_eq!(sum(&samples, "shardcask_cmd_get_total", &[]), sent);
    assert_eq!(sum(&samples, "shardcask_cmd_set_total", &[]), sent);
    assert_eq!(info_field(&info, "cmd_get"), sent);
    assert_eq!(
        sum(&samples, "shardcask_command_calls_total", &[("cmd", "get")]),
        sent
    );
    assert!(
        info.contains(&format!("cmdstat_get:calls={sent},")),
        "{info}"
    );
    // Per core, the endpoint and INFO agree (no GET or SET ran in between).
    for core in 0..2 {
        let label = core.to_string();
        for (series, key) in [
            ("shardcask_cmd_get_total", "cmd_get"),
            ("shardcask_cmd_set_total", "cmd_set"),
            ("shardcask_keys", "keys"),
            ("shardcask_records_flushed_total", "records_flushed"),
            ("shardcask_log_syncs_total", "log_syncs"),
            ("shardcask_forwarded_in_total", "forwarded_in"),
        ] {
            assert_eq!(
                sum(&samples, series, &[("core", &label)]),
                core_field(&info, core, key),
                "{series} on core {core}"
            );
        }
    }
    // Keys are a level: every key written is there, on one core or the other.
    assert_eq!(sum(&samples, "shardcask_keys", &[]), sent);
    assert_eq!(
        info_field(&info, "log_syncs"),
        sum(&samples, "shardcask_log_syncs_total", &[])
    );
    assert!(sum(&samples, "shardcask_log_syncs_total", &[]) > 0.0);
    // The latency histogram counted every command of the connections, the
    // INFO commands included.
    let counted = sum(&samples, "shardcask_command_latency_seconds_count", &[]);
    assert!(counted >= 2.0 * sent, "{counted}");
    let inf = sum(
        &samples,
        "shardcask_command_latency_seconds_bucket",
        &[("le", "+Inf")],
    );
    assert_eq!(inf, counted);
    assert!(info.contains("latency_percentiles_usec_get:p50="), "{info}");

    // Other paths and methods.
    let (status, _) = http_get(addr, "GET / HTTP/1.1\r\n\r\n");
    assert_eq!(status, "HTTP/1.1 404 Not Found");
    let (status, _) = http_get(addr, "POST /metrics HTTP/1.1\r\n\r\n");
    assert_eq!(status, "HTTP/1.1 405 Method Not Allowed");
    let (status, _) = http_get(addr, "\x01\x02 nonsense\r\n\r\n");
    assert_eq!(status, "HTTP/1.1 400 Bad Request");
}

#[test]
fn info_speaks_redis_formats() {
    let server = Server::start(1, &[]);
    let mut con = server.client();
    let info: String = redis::cmd("INFO").arg("server").query(&mut con).unwrap();
    assert!(info.contains("sync:always\r\n"), "{info}");
    let _: redis::RedisResult<()> = redis::cmd("NOSUCHCOMMAND").query(&mut con);
    let _: redis::RedisResult<()> = redis::cmd("GET").query(&mut con);
    let _: () = redis::cmd("SET").arg("k").arg("v").query(&mut con).unwrap();
    let _: redis::RedisResult<i64> = redis::cmd("INCR").arg("k").query(&mut con);
    let errors: String = redis::cmd("INFO")
        .arg("errorstats")
        .query(&mut con)
        .unwrap();
    assert!(errors.starts_with("# Errorstats\r\n"), "{errors}");
    assert!(errors.contains("errorstat_ERR:count=3"), "{errors}");
    let commands: String = redis::cmd("INFO")
        .arg("commandstats")
        .query(&mut con)
        .unwrap();
    assert!(commands.contains("cmdstat_set:calls=1,"), "{commands}");
    // GET without its key was refused before it ran: a rejected call.
    assert!(
        commands.contains(
            "cmdstat_get:calls=0,usec=0,usec_per_call=0.00,rejected_calls=1,failed_calls=0\r\n"
        ),
        "{commands}"
    );
    assert!(
        commands.contains("cmdstat_incr:calls=1,usec=") && commands.contains("failed_calls=1"),
        "{commands}"
    );
    // Default INFO leaves commandstats and latencystats out, as Redis does.
    let default: String = redis::cmd("INFO").query(&mut con).unwrap();
    assert!(!default.contains("# Commandstats") && default.contains("# Errorstats"));
    // Gauges are declared as such for tools that diff INFO.
    let cores: String = redis::cmd("INFO").arg("cores").query(&mut con).unwrap();
    let gauges = cores
        .lines()
        .find_map(|l| l.strip_prefix("gauges:"))
        .unwrap();
    assert!(gauges.split(',').any(|g| g == "keys"));
}

/// The series a dashboard expression names (`shardcask_...` tokens, with
/// a histogram's `_bucket`/`_sum`/`_count` suffix dropped).
fn series_in(expr: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = expr;
    while let Some(start) = rest.find("shardcask_") {
        let tail = &rest[start..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        let name = &tail[..end];
        let name = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|suffix| name.strip_suffix(suffix))
            .unwrap_or(name);
        names.push(name.to_string());
        rest = &tail[end..];
    }
    names
}

#[test]
fn dashboard_names_only_served_series() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/grafana/shardcask.json");
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).expect("valid JSON");
    let server = Server::start(2, &["--metrics-listen", "127.0.0.1:0"]);
    let (_, body) = http_get(
        metrics_addr(&server),
        "GET /metrics HTTP/1.1\r\nHost: test\r\n\r\n",
    );
    let served: Vec<&str> = body
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    let panels = dashboard["panels"].as_array().expect("panels");
    assert!(panels.len() >= 10);
    let mut named = 0;
    for panel in panels {
        let targets = panel["targets"].as_array().expect("targets");
        assert!(!targets.is_empty(), "{} has no query", panel["title"]);
        for target in targets {
            let expr = target["expr"].as_str().expect("expr");
            let series = series_in(expr);
            assert!(!series.is_empty(), "{expr} names no series");
            for name in series {
                assert!(
                    served.contains(&name.as_str()),
                    "{name} (in {expr}) is not served"
                );
                named += 1;
            }
        }
    }
    // Every declared metric appears somewhere on the dashboard.
    for name in &served {
        assert!(
            panels.iter().any(|p| p.to_string().contains(name)),
            "{name} is not on the dashboard"
        );
    }
    assert!(named > 0);
}
