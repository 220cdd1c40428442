//! `--server-stats`: fetch `INFO` before and after the run and compute the
//! numeric deltas.
//!
//! Parsing is generic so it works against Redis and shardcask alike:
//! - any line `name:k=v,k=v` (shardcask's `# Cores` lines, Redis's `db0`,
//!   `errorstat_*`) gives one field per numeric `k`;
//! - plain `name:number` lines count in the `# Stats` and `# CPU` sections
//!   (`total_commands_processed`, `used_cpu_sys`, ...).
//!
//! Levels are not counters: their change over a run means nothing (a shard
//! holding 10,000 keys before and after a GET run did not hold 0). Fields
//! named by shardcask's `gauges:` line (in `# Cores`) and Redis's
//! `# Keyspace` lines are marked [`InfoField::gauge`] and reported with their
//! value after the run.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use crate::resp::{self, Reply, ReplyParser};

/// Largest INFO reply accepted.
const MAX_INFO_LEN: usize = 16 << 20;

/// One numeric INFO field.
#[derive(Debug, Clone, PartialEq)]
pub struct InfoField {
    /// Line name (`core0`, `total_commands_processed`).
    pub name: String,
    /// Key inside a `k=v` line; empty for a plain line.
    pub key: String,
    /// Value.
    pub value: f64,
    /// A level (keys, connections, ratios), not a counter.
    pub gauge: bool,
}

/// The numeric fields of one INFO reply, in reply order.
pub type InfoSnapshot = Vec<InfoField>;

/// Change of one field across the run.
#[derive(Debug, Clone, PartialEq)]
pub struct InfoDelta {
    /// Line name.
    pub name: String,
    /// Key inside a `k=v` line; empty for a plain line.
    pub key: String,
    /// Value before the run.
    pub before: f64,
    /// Value after the run.
    pub after: f64,
    /// A level: show `after`, never the delta.
    pub gauge: bool,
}

impl InfoDelta {
    /// after - before.
    pub fn delta(&self) -> f64 {
        self.after - self.before
    }
}

/// Sends `INFO` and returns the reply text.
pub fn fetch_info(addr: &str, timeout: Duration) -> Result<String, String> {
    let socket_addr = addr
        .to_socket_addrs()
        .map_err(|e| format!("resolve {addr}: {e}"))?
        .next()
        .ok_or_else(|| format!("{addr} resolves to nothing"))?;
    let mut stream = TcpStream::connect_timeout(&socket_addr, timeout)
        .map_err(|e| format!("connect to {addr}: {e}"))?;
    stream
        .set_read_timeout(Some(timeout))
        .and_then(|_| stream.set_write_timeout(Some(timeout)))
        .map_err(|e| format!("socket options: {e}"))?;
    let mut request = Vec::new();
    resp::encode_command(&mut request, &[b"INFO"]);
    stream
        .write_all(&request)
        .map_err(|e| format!("send INFO: {e}"))?;
    let mut parser = ReplyParser::new(MAX_INFO_LEN);
    let mut buf = vec![0u8; 64 * 1024];
    let mut answer: Option<Result<String, String>> = None;
    while answer.is_none() {
        let read = stream
            .read(&mut buf)
            .map_err(|e| format!("read INFO reply: {e}"))?;
        if read == 0 {
            return Err("server closed the connection during INFO".into());
        }
        parser
            .feed(&buf[..read], |reply| {
                answer.get_or_insert_with(|| match reply {
                    Reply::Bulk {
                        data: Some(text), ..
                    } => Ok(String::from_utf8_lossy(text).into_owned()),
                    Reply::Error(text) => Err(format!("INFO: -{}", String::from_utf8_lossy(text))),
                    other => Err(format!("INFO: unexpected reply {other:?}")),
                });
            })
            .map_err(|e| e.to_string())?;
    }
    answer.expect("loop ends with an answer")
}

/// Extracts the numeric fields of an INFO text.
pub fn parse_info(text: &str) -> InfoSnapshot {
    let gauges: Vec<&str> = text
        .lines()
        .find_map(|line| line.trim().strip_prefix("gauges:"))
        .map(|list| list.split(',').map(str::trim).collect())
        .unwrap_or_default();
    let mut fields = Vec::new();
    let mut section = String::new();
    for line in text.lines().map(str::trim) {
        if let Some(name) = line.strip_prefix('#') {
            section = name.trim().to_ascii_lowercase();
            continue;
        }
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        // Gauges such as Redis's `instantaneous_ops_per_sec` have no
        // meaningful delta.
        if name.starts_with("instantaneous_") {
            continue;
        }
        if value.contains('=') {
            for pair in value.split(',') {
                if let Some((key, number)) = pair.split_once('=')
                    && let Ok(number) = number.trim().parse::<f64>()
                {
                    let key = key.trim();
                    fields.push(InfoField {
                        name: name.to_string(),
                        key: key.to_string(),
                        value: number,
                        gauge: section == "keyspace" || gauges.contains(&key),
                    });
                }
            }
        } else if (section == "stats" || section == "cpu")
            && let Ok(number) = value.trim().parse::<f64>()
        {
            fields.push(InfoField {
                name: name.to_string(),
                key: String::new(),
                value: number,
                gauge: gauges.contains(&name),
            });
        }
    }
    fields
}

/// Pairs up the fields present in both snapshots, in `after`'s order.
pub fn diff(before: &InfoSnapshot, after: &InfoSnapshot) -> Vec<InfoDelta> {
    after
        .iter()
        .filter_map(|field| {
            let old = before
                .iter()
                .find(|old| old.name == field.name && old.key == field.key)
                .map_or(0.0, |old| old.value);
            let existed = before
                .iter()
                .any(|old| old.name == field.name && old.key == field.key);
            // A per-core line may appear during the run (first use): count
            // from zero, as its counters did.
            (existed || !field.key.is_empty()).then(|| InfoDelta {
                name: field.name.clone(),
                key: field.key.clone(),
                before: old,
                after: field.value,
                gauge: field.gauge,
            })
        })
        .collect()
}

/// Sum of `key` over lines named `core<N>`; None if there are none.
pub fn sum_over_cores(deltas: &[InfoDelta], key: &str) -> Option<f64> {
    let mut found = false;
    let mut sum = 0.0;
    for delta in deltas {
        let is_core = delta
            .name
            .strip_prefix("core")
            .is_some_and(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()));
        if is_core && delta.key == key && !delta.gauge {
            found = true;
            sum += delta.delta();
        }
    }
    found.then_some(sum)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BEFORE: &str = "# Server\r\nredis_version:7.0.15\r\nuptime_in_seconds:10\r\n\
# Stats\r\ntotal_commands_processed:100\r\ninstantaneous_ops_per_sec:5\r\nrejected_calls:x\r\nlatency_p99_us:900\r\n\
# CPU\r\nused_cpu_sys:1.50\r\n\
# Cores\r\ngauges:keys,avg_batch,latency_p99_us\r\ncore0:ops=10,get=4,set=6,fwd_in=0,bytes_read=100,note=abc,keys=500,avg_batch=3.5\r\ncore1:ops=5,get=5\r\n\
# Keyspace\r\ndb0:keys=3,expires=0,avg_ttl=0\r\n";
    const AFTER: &str = "# Stats\r\ntotal_commands_processed:350\r\ninstantaneous_ops_per_sec:9\r\nlatency_p99_us:700\r\n\
# CPU\r\nused_cpu_sys:2.00\r\n\
# Cores\r\ngauges:keys,avg_batch,latency_p99_us\r\ncore0:ops=110,get=44,set=66,fwd_in=7,bytes_read=1100,keys=500,avg_batch=2.5\r\ncore1:ops=55,get=55\r\n\
core2:ops=1\r\n# Keyspace\r\ndb0:keys=13,expires=0,avg_ttl=0\r\n";

    #[test]
    fn parses_plain_and_key_value_lines() {
        let fields = parse_info(BEFORE);
        let find = |name: &str, key: &str| {
            fields
                .iter()
                .find(|f| f.name == name && f.key == key)
                .map(|f| f.value)
        };
        assert_eq!(find("total_commands_processed", ""), Some(100.0));
        assert_eq!(find("used_cpu_sys", ""), Some(1.5));
        assert_eq!(find("uptime_in_seconds", ""), None, "not in Stats/CPU");
        assert_eq!(find("rejected_calls", ""), None, "not a number");
        assert_eq!(find("core0", "fwd_in"), Some(0.0));
        assert_eq!(find("core0", "note"), None);
        assert_eq!(find("db0", "keys"), Some(3.0));
    }

    #[test]
    fn deltas_per_core_and_stat() {
        let deltas = diff(&parse_info(BEFORE), &parse_info(AFTER));
        let delta = |name: &str, key: &str| {
            deltas
                .iter()
                .find(|d| d.name == name && d.key == key)
                .map(InfoDelta::delta)
        };
        assert_eq!(delta("total_commands_processed", ""), Some(250.0));
        assert_eq!(delta("used_cpu_sys", ""), Some(0.5));
        assert_eq!(delta("core0", "ops"), Some(100.0));
        assert_eq!(delta("core0", "fwd_in"), Some(7.0));
        assert_eq!(
            delta("core2", "ops"),
            Some(1.0),
            "new core counts from zero"
        );
        assert_eq!(delta("db0", "keys"), Some(10.0));
        assert_eq!(sum_over_cores(&deltas, "ops"), Some(151.0));
        let keys = deltas
            .iter()
            .find(|d| d.name == "core0" && d.key == "keys")
            .unwrap();
        assert!(keys.gauge, "named by the gauges: line");
        assert_eq!(keys.after, 500.0);
        assert!(
            deltas
                .iter()
                .any(|d| d.name == "db0" && d.key == "keys" && d.gauge)
        );
        assert!(!deltas.iter().any(|d| d.name == "gauges"));
        assert_eq!(
            sum_over_cores(&deltas, "keys"),
            None,
            "levels do not sum as deltas"
        );
        let p99 = deltas.iter().find(|d| d.name == "latency_p99_us").unwrap();
        assert!(p99.gauge, "plain lines named by gauges: are levels too");
        assert_eq!(p99.after, 700.0);
        assert_eq!(sum_over_cores(&deltas, "nothing"), None);
    }
}
