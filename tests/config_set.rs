//! CONFIG SET: the settings that change at run time take effect on every
//! shard (the connection limit on the next accept, the cache budget, the
//! disk limit, the merge, sync and stats intervals, the slow log's
//! threshold), CONFIG GET shows them, and the others are refused as Redis
//! refuses an immutable config.

mod common;

use std::time::{Duration, Instant};

use common::{Server, read_to_close};
use redis::Value;

fn config(con: &mut redis::Connection, args: &[&str]) -> redis::RedisResult<Value> {
    let mut command = redis::cmd("CONFIG");
    for arg in args {
        command.arg(*arg);
    }
    command.query(con)
}

#[test]
fn run_time_settings_change_and_the_others_name_their_flag() {
    let server = Server::start(2, &[]);
    let mut con = server.client();
    assert_eq!(
        config(&mut con, &["SET", "maxclients", "2"]).unwrap(),
        Value::Okay
    );
    let got: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("maxclients")
        .query(&mut con)
        .unwrap();
    assert_eq!(got, ["maxclients", "2"]);
    let _second = server.client();
    let mut third = server.raw();
    let refused = String::from_utf8_lossy(&read_to_close(&mut third)).to_string();
    assert_eq!(refused, "-ERR max number of clients reached\r\n");
    assert_eq!(
        config(
            &mut con,
            &[
                "SET",
                "max-connections",
                "100",
                "client-output-limit",
                "1MiB"
            ]
        )
        .unwrap(),
        Value::Okay
    );
    let _fourth = server.client();

    let error = config(&mut con, &["SET", "max-file-size", "1GiB"]).unwrap_err();
    assert!(
        error.to_string().contains(
            "CONFIG SET failed (possibly related to argument 'max-file-size') - can't set immutable config"
        ),
        "{error}"
    );
    let error = config(&mut con, &["SET", "port", "7"]).unwrap_err();
    assert!(error.to_string().contains("--listen"), "{error}");
    let error = config(&mut con, &["SET", "maxclients", "-5"]).unwrap_err();
    assert!(error.to_string().contains("maxclients"), "{error}");
    let error = config(&mut con, &["SET", "nosuch", "1"]).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("Unknown option or number of arguments for CONFIG SET - 'nosuch'"),
        "{error}"
    );
    // A failed CONFIG SET changes nothing, even its valid pairs.
    let _ = config(&mut con, &["SET", "maxclients", "7", "port", "1"]).unwrap_err();
    let got: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("maxclients")
        .query(&mut con)
        .unwrap();
    assert_eq!(got, ["maxclients", "100"]);
}

/// The value of `field` in INFO's text (all sections).
fn info_field(con: &mut redis::Connection, field: &str) -> u64 {
    let text: String = redis::cmd("INFO").arg("everything").query(con).unwrap();
    let prefix = format!("{field}:");
    text.lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no {field} in INFO"))
        .trim()
        .parse()
        .unwrap()
}

fn config_get(con: &mut redis::Connection, name: &str) -> String {
    let got: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg(name)
        .query(con)
        .unwrap();
    assert_eq!(got.len(), 2, "{got:?}");
    got[1].clone()
}

/// Polls `check` until it holds, for at most `limit`.
fn eventually(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    check()
}

#[test]
fn a_smaller_cache_and_a_disk_limit_apply_on_every_shard() {
    let server = Server::start(2, &["--cache-size", "64MiB"]);
    let mut con = server.client();
    let value = vec![b'v'; 4000];
    for i in 0..200 {
        let _: () = redis::cmd("SET")
            .arg(format!("key:{i}"))
            .arg(&value)
            .query(&mut con)
            .unwrap();
    }
    // Written values up to 4 KiB are cached: 200 of them on two shards.
    assert!(info_field(&mut con, "cache_bytes") >= 200 * 4000);
    assert_eq!(
        config(&mut con, &["SET", "cache-size", "100kb"]).unwrap(),
        Value::Okay
    );
    assert_eq!(config_get(&mut con, "cache-size"), "102400");
    let held = info_field(&mut con, "cache_bytes");
    assert!(held <= 102_400, "the cache still holds {held} bytes");
    // Reads still answer from disk.
    let got: Vec<u8> = redis::cmd("GET").arg("key:7").query(&mut con).unwrap();
    assert_eq!(got, value);

    // A disk limit below what the logs hold refuses writes on every shard
    // (keys spread over both), reads go on; lifting it lets writes back in.
    assert_eq!(
        config(&mut con, &["SET", "max-disk", "64kb"]).unwrap(),
        Value::Okay
    );
    assert_eq!(info_field(&mut con, "max_disk"), 65_536);
    for i in 0..20 {
        let error = redis::cmd("SET")
            .arg(format!("new:{i}"))
            .arg("x")
            .query::<()>(&mut con)
            .unwrap_err();
        assert!(error.to_string().contains("OOM"), "{error}");
    }
    let got: Vec<u8> = redis::cmd("GET").arg("key:9").query(&mut con).unwrap();
    assert_eq!(got, value);
    assert_eq!(
        config(&mut con, &["SET", "max-disk", "0"]).unwrap(),
        Value::Okay
    );
    for i in 0..20 {
        let _: () = redis::cmd("SET")
            .arg(format!("new:{i}"))
            .arg("x")
            .query(&mut con)
            .unwrap();
    }
    assert_eq!(info_field(&mut con, "max_disk"), 0);
}

#[test]
fn merge_sync_and_stats_intervals_change_while_running() {
    let server = Server::start(
        2,
        &[
            "--merge-interval",
            "0",
            "--max-file-size",
            "64KiB",
            "--sync",
            "batch",
            "--sync-interval-ms",
            "3600000",
        ],
    );
    let mut con = server.client();
    // Every key written twice: the first files end up wholly dead.
    let value = vec![b'm'; 1000];
    for round in 0..2 {
        for i in 0..300 {
            let _: () = redis::cmd("SET")
                .arg(format!("k{i}"))
                .arg(&value[..value.len() - round])
                .query(&mut con)
                .unwrap();
        }
    }
    let syncs_before = info_field(&mut con, "log_syncs");
    assert_eq!(
        info_field(&mut con, "merges"),
        0,
        "merge-interval 0 merges nothing"
    );
    assert_eq!(
        config(
            &mut con,
            &["SET", "merge-interval", "1", "sync-interval-ms", "100"]
        )
        .unwrap(),
        Value::Okay
    );
    assert_eq!(config_get(&mut con, "merge-interval"), "1");
    assert_eq!(config_get(&mut con, "sync-interval-ms"), "100");
    assert!(
        eventually(Duration::from_secs(30), || info_field(&mut con, "merges")
            >= 2),
        "both shards merge once their check runs every second"
    );
    // The hour-long sync interval became 100 ms: a write is synced soon.
    let _: () = redis::cmd("SET")
        .arg("synced")
        .arg("1")
        .query(&mut con)
        .unwrap();
    assert!(
        eventually(Duration::from_secs(10), || {
            info_field(&mut con, "log_syncs") > syncs_before
        }),
        "no periodic sync after the interval shrank"
    );

    // The stats table (off in tests) starts printing once set.
    // Seconds into the run with stats-interval 0: no table header yet.
    let is_header = |line: &str| line.trim_start().starts_with("core");
    assert!(!server.stdout_text().lines().any(is_header));
    assert_eq!(
        config(&mut con, &["SET", "stats-interval", "1"]).unwrap(),
        Value::Okay
    );
    assert!(
        eventually(Duration::from_secs(10), || server
            .stdout_text()
            .lines()
            .any(is_header)),
        "no stats table: {}",
        server.stdout_text()
    );
}

#[test]
fn the_slow_log_threshold_changes_on_every_shard() {
    let server = Server::start(2, &["--slowlog-log-slower-than", "-1"]);
    // One connection on each shard (CLIENT INFO names the shard).
    let mut by_shard: Vec<Option<redis::Connection>> = vec![None, None];
    for _ in 0..200 {
        let mut con = server.client();
        let line: String = redis::cmd("CLIENT").arg("INFO").query(&mut con).unwrap();
        let shard: usize = line
            .split_whitespace()
            .find_map(|field| field.strip_prefix("shard="))
            .unwrap()
            .parse()
            .unwrap();
        if by_shard[shard].is_none() {
            by_shard[shard] = Some(con);
        }
        if by_shard.iter().all(Option::is_some) {
            break;
        }
    }
    let mut cons: Vec<redis::Connection> = by_shard
        .into_iter()
        .map(|con| con.expect("no connection landed on one of the shards"))
        .collect();
    let slowlog_len = |con: &mut redis::Connection| -> i64 {
        redis::cmd("SLOWLOG").arg("LEN").query(con).unwrap()
    };
    for con in &mut cons {
        let _: () = redis::cmd("SET").arg("a").arg("1").query(con).unwrap();
    }
    assert_eq!(slowlog_len(&mut cons[0]), 0);
    assert_eq!(
        config(&mut cons[0], &["SET", "slowlog-log-slower-than", "0"]).unwrap(),
        Value::Okay
    );
    for con in &mut cons {
        let _: () = redis::cmd("SET").arg("b").arg("1").query(con).unwrap();
    }
    // Entry ids are sequence * shards + shard: both shards logged.
    let entries: Vec<Value> = redis::cmd("SLOWLOG")
        .arg("GET")
        .arg(-1)
        .query(&mut cons[1])
        .unwrap();
    let mut shards_seen: Vec<i64> = entries
        .iter()
        .filter_map(|entry| match entry {
            Value::Array(fields) => match fields.first() {
                Some(Value::Int(id)) => Some(id % 2),
                _ => None,
            },
            _ => None,
        })
        .collect();
    shards_seen.sort_unstable();
    shards_seen.dedup();
    assert_eq!(shards_seen, [0, 1], "{entries:?}");
    assert_eq!(
        config(
            &mut cons[1],
            &[
                "SET",
                "slowlog-log-slower-than",
                "-1",
                "slowlog-max-len",
                "3"
            ]
        )
        .unwrap(),
        Value::Okay
    );
    let before = slowlog_len(&mut cons[0]);
    for con in &mut cons {
        let _: () = redis::cmd("SET").arg("c").arg("1").query(con).unwrap();
    }
    assert_eq!(slowlog_len(&mut cons[0]), before, "-1 logs nothing");
    assert_eq!(config_get(&mut cons[0], "slowlog-max-len"), "3");

    // The latency monitor, off by default, samples a batch that took at
    // least its threshold: WAIT 1 30 holds its batch for 30 ms.
    let latest = |con: &mut redis::Connection| -> Vec<Value> {
        redis::cmd("LATENCY").arg("LATEST").query(con).unwrap()
    };
    let wait_30ms = |con: &mut redis::Connection| {
        let _: i64 = redis::cmd("WAIT").arg(1).arg(30).query(con).unwrap();
    };
    wait_30ms(&mut cons[0]);
    assert!(
        latest(&mut cons[0]).is_empty(),
        "threshold 0 samples nothing"
    );
    assert_eq!(
        config(&mut cons[0], &["SET", "latency-monitor-threshold", "10"]).unwrap(),
        Value::Okay
    );
    for index in 0..2 {
        let _: i64 = redis::cmd("LATENCY")
            .arg("RESET")
            .query(&mut cons[0])
            .unwrap();
        wait_30ms(&mut cons[index]);
        assert_eq!(
            latest(&mut cons[0]).len(),
            1,
            "shard {index} sampled nothing"
        );
    }
}

#[test]
fn resetstat_zeroes_the_counters_of_every_shard_but_not_the_slow_log() {
    let server = Server::start(2, &["--slowlog-log-slower-than", "0"]);
    let mut con = server.client();
    for i in 0..100 {
        let key = format!("key:{i}");
        let _: () = redis::cmd("SET")
            .arg(&key)
            .arg("v")
            .query(&mut con)
            .unwrap();
        let _: String = redis::cmd("GET").arg(&key).query(&mut con).unwrap();
        let _ = redis::cmd("INCR")
            .arg(&key)
            .query::<i64>(&mut con)
            .unwrap_err();
    }
    let _ = redis::cmd("NOSUCH").query::<()>(&mut con).unwrap_err();
    let info = |con: &mut redis::Connection| -> String {
        redis::cmd("INFO").arg("everything").query(con).unwrap()
    };
    let before = info(&mut con);
    for line in [
        "cmdstat_set:",
        "errorstat_ERR:",
        "latency_percentiles_usec_get:",
    ] {
        assert!(before.contains(line), "{line} missing before: {before}");
    }
    assert!(info_field(&mut con, "cmd_set") >= 100, "the SETs and INCRs");
    assert!(info_field(&mut con, "cache_hits") >= 100);
    let slowlog_before: i64 = redis::cmd("SLOWLOG").arg("LEN").query(&mut con).unwrap();
    assert!(slowlog_before > 0);

    assert_eq!(config(&mut con, &["RESETSTAT"]).unwrap(), Value::Okay);
    let after = info(&mut con);
    for line in [
        "cmdstat_set:",
        "cmdstat_get:",
        "cmdstat_incr",
        "errorstat_",
        "latency_percentiles_usec_set:",
    ] {
        assert!(!after.contains(line), "{line} survived RESETSTAT: {after}");
    }
    for field in [
        "cmd_set",
        "cmd_get",
        "cache_hits",
        "cache_misses",
        "total_error_replies",
        "total_connections_received",
        "rejected_connections",
    ] {
        assert_eq!(info_field(&mut con, field), 0, "{field} after RESETSTAT");
    }
    assert!(info_field(&mut con, "total_net_input_bytes") < 1000);
    assert_eq!(
        info_field(&mut con, "connected_clients"),
        1,
        "a gauge stays"
    );
    let slowlog_after: i64 = redis::cmd("SLOWLOG").arg("LEN").query(&mut con).unwrap();
    assert!(
        slowlog_after >= slowlog_before,
        "RESETSTAT leaves the slow log"
    );
    // The keys are still there, and counting starts again.
    let got: String = redis::cmd("GET").arg("key:3").query(&mut con).unwrap();
    assert_eq!(got, "v");
    assert_eq!(info_field(&mut con, "cmd_get"), 1);
}

#[test]
fn a_lower_merge_trigger_starts_merges_on_every_shard() {
    let server = Server::start(2, &["--merge-interval", "1", "--max-file-size", "64KiB"]);
    let mut con = server.client();
    // Every other key overwritten: the first files end up about half dead,
    // under the default trigger (60%) and over the default threshold (40%).
    let value = vec![b'h'; 1000];
    for i in 0..600 {
        let _: () = redis::cmd("SET")
            .arg(format!("k{i}"))
            .arg(&value)
            .query(&mut con)
            .unwrap();
    }
    for i in (0..600).step_by(2) {
        let _: () = redis::cmd("SET")
            .arg(format!("k{i}"))
            .arg(&value[1..])
            .query(&mut con)
            .unwrap();
    }
    let fragmentation = info_field(&mut con, "max_file_fragmentation_percent");
    assert!(
        (40..60).contains(&fragmentation),
        "the data should sit between threshold and trigger: {fragmentation}%"
    );
    // Two merge checks pass (a second each) without a merge.
    let checks_done = Instant::now() + Duration::from_millis(2500);
    while Instant::now() < checks_done {
        assert_eq!(
            info_field(&mut con, "merges"),
            0,
            "merged under the trigger"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        config(&mut con, &["SET", "merge-trigger-fragmentation", "45"]).unwrap(),
        Value::Okay
    );
    assert_eq!(config_get(&mut con, "merge-trigger-fragmentation"), "45");
    assert!(
        eventually(Duration::from_secs(30), || info_field(&mut con, "merges")
            >= 2),
        "both shards merge once the trigger is under their files' fragmentation"
    );
    let error = config(&mut con, &["SET", "merge-trigger-fragmentation", "101"]).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("argument must be between 0 and 100 inclusive"),
        "{error}"
    );
}
